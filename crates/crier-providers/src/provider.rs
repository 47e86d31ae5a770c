use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use crier_core::{AttemptId, Channel, MediaFacts, MediaId, TargetId, Timestamp};

use crate::connect::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection};
use crate::meta::signed_request::CallbackError;
use crate::{Credentials, MediaRules};

/// One publish, as the worker asks for it.
#[derive(Debug, Clone, Copy)]
pub struct PublishRequest<'a> {
    pub channel: &'a Channel,
    pub target_id: TargetId,
    /// Stable across retries of the same attempt; a marker platforms can be asked about.
    pub attempt_id: AttemptId,
    pub text: &'a str,
    /// The post's media, in order (ready, and checked against `media_rules` at accept time).
    pub media: &'a [MediaId],
    pub options: &'a serde_json::Value,
}

impl<'a> PublishRequest<'a> {
    /// The publish a claimed job asks for (the target's own text, else the post's).
    pub fn of(claimed: &'a crier_core::ClaimedJob) -> Self {
        Self {
            channel: &claimed.channel,
            target_id: claimed.target.id,
            attempt_id: claimed.attempt_id,
            text: claimed.target.text.as_deref().unwrap_or(&claimed.post_text),
            media: &claimed.post_media,
            options: &claimed.target.options,
        }
    }
}

/// Removing a published post from its platform.
#[derive(Debug, Clone)]
pub struct DeleteRequest<'a> {
    pub channel: &'a Channel,
    pub target_id: TargetId,
    /// What `publish` returned as the platform's id of the post.
    pub provider_post_id: &'a str,
    pub url: Option<&'a str>,
}

impl<'a> DeleteRequest<'a> {
    /// The deletion a leased job asks for; `None` if the target has no platform id.
    pub fn of(job: &'a crier_core::DeletionJob) -> Option<Self> {
        Some(Self {
            channel: &job.channel,
            target_id: job.target.id,
            provider_post_id: job.target.provider_post_id.as_deref()?,
            url: job.target.url.as_deref(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub provider_post_id: String,
    pub url: Option<String>,
}

/// How a provider call failed, classified so the worker knows what to do next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// A transient failure (5xx, timeout): retry with backoff, or after `after` if the platform said.
    #[error("temporary failure: {message}")]
    Retryable { after: Option<Duration>, message: String },
    /// The platform's rate limit: no call for this channel before `reset`.
    #[error("rate limited until {reset}")]
    RateLimited { reset: Timestamp },
    /// The token was refused: refresh once, else the channel needs re-authorisation.
    #[error("authorisation expired: {message}")]
    AuthExpired { message: String },
    /// The platform refused this post for good.
    #[error("rejected ({code}): {message}")]
    Rejected { code: String, message: String },
    /// The platform took the request but never said whether the post was made (Reddit's image
    /// posts report over a websocket that stayed silent): the target is `unknown`, never resent
    /// on its own, as for an interrupted attempt that `lookup` cannot account for.
    #[error("outcome unknown: {message}")]
    OutcomeUnknown { message: String },
}

/// Whether an attempt whose outcome was lost (a crash) actually published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Published(Published),
    NotPublished,
    /// The platform deduplicates a repeated publish of this target (an idempotency key still
    /// inside its window, a record key chosen by Crier): publishing again is safe.
    ResendIsSafe,
    /// The platform offers no way to tell.
    Unknowable,
}

/// How long a text may be, and what unit the platform counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TextLimit {
    pub max: usize,
    /// `graphemes` (user-perceived characters), `characters` (code points), `utf16` (UTF-16 code
    /// units, Telegram), `bytes`, `weighted`.
    pub counted_in: &'static str,
}

/// A problem with a target found before acceptance, at a JSON pointer relative to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetIssue {
    pub pointer: String,
    pub message: String,
}

impl TargetIssue {
    pub fn new(pointer: &str, message: impl Into<String>) -> Self {
        Self { pointer: pointer.to_owned(), message: message.into() }
    }
}

/// One field `connect` takes, for forms that ask a person for it (the dashboard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectField {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// A password or token: never shown back.
    Secret,
    Number,
    /// Comma-separated, sent as a list of strings.
    List,
}

impl ConnectField {
    pub const fn text(name: &'static str, label: &'static str) -> Self {
        Self { name, label, kind: FieldKind::Text, required: true }
    }

    pub const fn secret(name: &'static str, label: &'static str) -> Self {
        Self { name, label, kind: FieldKind::Secret, required: true }
    }

    pub const fn optional(self) -> Self {
        Self { required: false, ..self }
    }

    pub const fn of_kind(self, kind: FieldKind) -> Self {
        Self { kind, ..self }
    }
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;

    /// Checks a channel's settings when it is created.
    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue>;

    /// Checks one target against the platform's limits (text as the platform counts it, options).
    fn validate_target(&self, channel: &Channel, text: &str, options: &serde_json::Value)
    -> Vec<TargetIssue>;

    /// Checks a target's options against the post's media, where one depends on the other
    /// (Reddit: a link post carries no images). Called at accept time with the media's facts,
    /// after `validate_target` and `media_rules`. The default: no such dependency.
    fn validate_with_media(
        &self,
        _channel: &Channel,
        _options: &serde_json::Value,
        _media: &[MediaFacts],
    ) -> Vec<TargetIssue> {
        Vec::new()
    }

    /// The text limit, as the platform counts it (for agents and the dashboard's counters).
    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        None
    }

    /// The platform's documented cap on posts per account in a rolling 24 hours, checked when a
    /// post is accepted against the channel's targets accepted in the last 24 hours (cancelled
    /// ones aside). `None` where the platform documents no such number.
    fn daily_cap(&self, _channel: &Channel) -> Option<u32> {
        None
    }

    /// What media this channel takes. The default takes none.
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules::default()
    }

    /// What a channel's owner should know about it now, shown with the channel: a setting this
    /// Crier lacks (a public URL for media), a review the platform's app needs.
    fn notices(&self, _channel: &Channel) -> Vec<String> {
        Vec::new()
    }

    /// What `connect` asks for (none for a platform whose consent page asks everything).
    fn connect_fields(&self) -> &'static [ConnectField] {
        &[]
    }

    /// Whether `POST /v1/channels` may create a channel of this provider from a config alone
    /// (the sandbox); real platforms are connected through `connect`.
    fn created_directly(&self) -> bool {
        false
    }

    /// Starts connecting an account (`POST /v1/channels/connect`).
    async fn connect(&self, _request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        Err(ConnectError::Unsupported(format!("{} channels are created directly", self.name())))
    }

    /// Finishes a flow that went through the platform's consent page.
    async fn finish_connect(&self, _request: &CallbackRequest<'_>) -> Result<Connection, ConnectError> {
        Err(ConnectError::Unsupported(format!("{} has no consent page", self.name())))
    }

    /// Revokes the channel's credentials upstream, where the platform allows it. Called with the
    /// credentials opened just before Crier deleted them with the channel.
    async fn disconnect(&self, _channel: &Channel, _credentials: &Credentials) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, ProviderError>;

    /// Refreshes the channel's credentials after an `AuthExpired`.
    async fn refresh(&self, channel: &Channel) -> Result<(), ProviderError>;

    /// Did this target get published (by any attempt)? Used to reconcile a crashed attempt.
    async fn lookup(&self, request: &PublishRequest<'_>) -> Result<Lookup, ProviderError>;

    /// Checks a deauthorization or data-deletion callback the platform sent (Meta's
    /// `signed_request`, see [`crate::meta::signed_request`]) and returns the platform user id it
    /// is about: the `account.id` of the channels it concerns. The default: none are sent.
    fn verify_callback(&self, _signed_request: &str, _now: Timestamp) -> Result<String, CallbackError> {
        Err(CallbackError::Unsupported)
    }

    /// Whether `delete` is supported for this channel, so the API can refuse at once.
    fn can_delete(&self, _channel: &Channel) -> bool {
        false
    }

    /// Removes a published post from the platform. A post already gone counts as deleted (`Ok`),
    /// so a repeated deletion is harmless. The default: the platform has no deletion.
    async fn delete(&self, _request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        Err(ProviderError::Rejected {
            code: "delete_unsupported".into(),
            message: format!("{} has no way to delete a published post", self.name()),
        })
    }
}

/// The providers a process knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    providers: HashMap<&'static str, Arc<dyn Provider>>,
}

impl Registry {
    pub fn with(mut self, provider: Arc<dyn Provider>) -> Self {
        self.providers.insert(provider.name(), provider);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.providers.keys().copied().collect();
        names.sort_unstable();
        names
    }
}
