//! Platform adapters. Each platform is one module implementing [`Provider`]; its limits live with
//! it so a post is validated against them before it is accepted. The `sandbox` provider is real
//! code: users' test mode, and the test peer of the pipeline.

mod media_rules;
mod provider;
pub mod sandbox;

pub use media_rules::MediaRules;
pub use provider::{
    Lookup, Provider, ProviderError, PublishRequest, Published, Registry, TargetIssue, TextLimit,
};
