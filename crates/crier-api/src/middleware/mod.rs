mod problem_fallback;
mod security_headers;

pub use problem_fallback::problem_fallback;
pub use security_headers::security_headers;
