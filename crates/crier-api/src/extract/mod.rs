//! Request extractors. Handlers never read headers or raw bodies themselves: they take a
//! `Tenant` (authenticated workspace context), `ApiJson<T>` (a validated body) and
//! `ApiPath<T>` (a typed id), each of which turns bad input into a problem+json error.

mod json;
mod path;
mod query;
mod tenant;

pub use json::{ApiJson, OptionalJson, small_json};
pub use path::{ApiPath, PathId};
pub use query::{ApiQuery, page_limit};
pub use tenant::Tenant;
