mod problem_fallback;
mod security_headers;

pub use problem_fallback::{keep_error_bodies, problem_fallback};
pub use security_headers::security_headers;
