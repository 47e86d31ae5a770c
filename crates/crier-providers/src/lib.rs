//! Platform adapters. Each platform is one module implementing [`Provider`]; its limits live with
//! it so a post is validated against them before it is accepted. The `sandbox` provider is real
//! code: users' test mode, and the test peer of the pipeline.
//!
//! Providers reach platforms only through `crier-net`'s SSRF-safe client (instance and PDS URLs
//! are user-supplied), open a channel's credentials from the vault at the moment of use
//! ([`CredentialVault`]) and read media bytes through a [`MediaSource`]. E-mail speaks SMTP, not
//! HTTP: it applies the same address rule to the relay's host itself (`email::relay`).

pub mod bluesky;
mod connect;
mod credentials;
pub mod discord;
pub mod email;
pub mod linkedin;
pub mod mastodon;
mod media_rules;
mod media_source;
pub mod meta;
pub mod pinterest;
mod platform;
mod provider;
pub mod reddit;
pub mod sandbox;
mod sandbox_record;
pub mod slack;
pub mod telegram;
pub mod tiktok;
mod validate;
pub mod x;
pub mod youtube;

pub use connect::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection};
pub use credentials::{CredentialVault, Credentials};
pub use media_rules::MediaRules;
pub use media_source::{MediaFile, MediaLink, MediaSource, NEEDS_PUBLIC_URL};
pub use meta::signed_request::CallbackError;
pub use platform::{Platform, PlatformCall};
pub use provider::{
    ConnectField, DeleteRequest, FieldKind, Lookup, Provider, ProviderError, PublishRequest, Published,
    Registry, TargetIssue, TextLimit,
};
