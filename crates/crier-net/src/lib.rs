//! The one outbound HTTP client for URLs that users give Crier (media to fetch, webhook
//! endpoints). Every request goes through the same policy:
//!
//! - `https` only (a documented development switch allows `http` and loopback, for tests);
//! - no credentials in the URL;
//! - the host is resolved once, every address must be public (see [`ip::forbidden`]), and the
//!   connection is made to that pinned address, so DNS rebinding cannot move it;
//! - redirects are followed by hand, each target checked the same way, at most 3;
//! - connect and total timeouts, and a byte limit enforced while the body streams.
//!
//! URL parsing is the WHATWG algorithm of the `url` crate, which turns the decimal, octal, hex
//! and short IPv4 spellings (`http://2130706433/`, `http://0x7f.1/`) into the address they mean
//! before the policy looks at them.

mod fetch;
pub mod ip;
mod policy;

pub use fetch::{Answer, Fetched, OutboundClient, Reply};
pub use policy::{CheckedUrl, OutboundPolicy, Refusal, Resolve, SystemResolver, check_url};
