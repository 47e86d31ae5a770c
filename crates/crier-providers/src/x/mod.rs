//! X (formerly Twitter). A channel is a user's OAuth 2.0 token pair for Crier's X app: connected
//! through X's consent page (authorization code with PKCE, Crier a confidential client whose id
//! and secret are the deployment's [`XSettings`]), refreshed with X's rotating refresh tokens.
//! Posts are `POST /2/tweets` with up to four images or one video (v2 chunked media upload) and
//! threads (`options.thread`: the replies' texts). Texts are counted as X counts them
//! ([`parse_text`], a port of twitter-text).
//!
//! X offers no idempotency key, so an interrupted publish cannot be told apart from one that
//! went through: `lookup` answers `Unknowable`.

mod oauth;
mod publish;
mod text;

use async_trait::async_trait;
use crier_core::Channel;
use serde::Deserialize;

use crate::platform::{Platform, PlatformCall};
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials, MediaRules,
};

pub use text::{MAX_WEIGHTED_LENGTH, TextCount, parse_text, weighted_length};

/// Posts in one thread, the first included: Crier's own bound on what one target may spend of
/// the account's rate limit.
pub const MAX_THREAD: usize = 25;
pub const MAX_IMAGES: usize = 4;
pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;
pub const MAX_VIDEO_BYTES: u64 = 512 * 1024 * 1024;
pub const MAX_VIDEO_DURATION_MS: u64 = 140_000;

/// Crier's X app, from the deployment's settings.
#[derive(Clone)]
pub struct XSettings {
    pub client_id: String,
    pub client_secret: String,
    /// `https://api.x.com` (overridable for tests).
    pub api_base: String,
    /// `https://x.com` (the consent page's host; overridable for tests).
    pub auth_base: String,
}

impl std::fmt::Debug for XSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XSettings")
            .field("client_id", &self.client_id)
            .field("api_base", &self.api_base)
            .field("auth_base", &self.auth_base)
            .finish_non_exhaustive()
    }
}

impl XSettings {
    /// X's own addresses.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            api_base: "https://api.x.com".into(),
            auth_base: "https://x.com".into(),
        }
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_base.trim_end_matches('/'))
    }
}

pub struct X {
    platform: Platform,
    settings: XSettings,
}

impl X {
    pub fn new(platform: Platform, settings: XSettings) -> Self {
        Self { platform, settings }
    }

    /// A failed call, as X means it: problem details (`{title, detail, type}`), 429 with
    /// `x-rate-limit-reset` in Unix seconds.
    fn failure(&self, call: &PlatformCall) -> ProviderError {
        let status = call.reply.status;
        let body: serde_json::Value = serde_json::from_slice(&call.reply.body).unwrap_or_default();
        let text = |key: &str| body.get(key).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
        let first_error = body["errors"][0]["message"].as_str();
        let message = match text("detail").or(first_error).or_else(|| text("title")) {
            Some(detail) => format!("{detail} ({status})"),
            None => call.error_message(),
        };
        match status {
            401 => ProviderError::AuthExpired { message },
            429 => {
                let now = self.platform.clock.now();
                let reset = call
                    .reply
                    .headers
                    .get("x-rate-limit-reset")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
                    .filter(|reset| *reset > now);
                match reset {
                    Some(reset) => ProviderError::RateLimited { reset },
                    None => call.failure(now),
                }
            }
            408 | 500..=599 => call.failure(self.platform.clock.now()),
            403 if message.to_lowercase().contains("duplicate content") => {
                ProviderError::Rejected { code: "duplicate_content".into(), message }
            }
            _ => {
                // `type` is a URI (`https://api.twitter.com/2/problems/usage-capped`): its last part.
                let kind = text("type")
                    .and_then(|t| t.rsplit('/').next())
                    .filter(|t| !t.is_empty() && *t != "about:blank")
                    .map(|t| t.replace('-', "_"));
                ProviderError::Rejected {
                    code: kind.unwrap_or_else(|| format!("platform_{status}")),
                    message,
                }
            }
        }
    }
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct XOptions {
    /// The replies that follow the post, in order.
    thread: Vec<String>,
}

fn options(value: &serde_json::Value) -> Result<XOptions, String> {
    if value.is_null() {
        return Ok(XOptions::default());
    }
    serde_json::from_value(value.clone()).map_err(|err| err.to_string())
}

fn text_issue(count: TextCount) -> String {
    if count.weighted_length > MAX_WEIGHTED_LENGTH {
        format!(
            "{} characters as X counts them; X allows {MAX_WEIGHTED_LENGTH} (links count 23, emoji and \
             most CJK characters 2)",
            count.weighted_length
        )
    } else {
        "the text contains a character X refuses (U+FEFF, U+FFFE or U+FFFF)".into()
    }
}

#[async_trait]
impl Provider for X {
    fn name(&self) -> &'static str {
        "x"
    }

    /// An X channel has no settings of its own.
    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        match config {
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::Object(map) if map.is_empty() => Vec::new(),
            _ => vec![TargetIssue::new("", "X channels have no settings")],
        }
    }

    fn validate_target(
        &self,
        _channel: &Channel,
        text: &str,
        options_value: &serde_json::Value,
    ) -> Vec<TargetIssue> {
        let mut issues = Vec::new();
        // An empty text is a media-only post; X refuses it without media when publishing.
        let count = parse_text(text);
        if !text.is_empty() && !count.valid {
            issues.push(TargetIssue::new("/text", text_issue(count)));
        }
        let parsed = match options(options_value) {
            Ok(parsed) => parsed,
            Err(err) => {
                issues.push(TargetIssue::new("/options", err));
                return issues;
            }
        };
        issues.extend(crate::validate::thread_issues(&parsed.thread, MAX_THREAD - 1, |reply| {
            let count = parse_text(reply);
            (!count.valid).then(|| text_issue(count))
        }));
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_WEIGHTED_LENGTH, counted_in: "weighted" })
    }

    /// Up to four images or one video (X takes no mix), within X's sizes.
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_IMAGES,
            max_videos: 1,
            allow_mixed: false,
            image_types: ["image/jpeg", "image/png", "image/gif", "image/webp"].map(String::from).to_vec(),
            video_types: ["video/mp4", "video/quicktime"].map(String::from).to_vec(),
            max_image_bytes: Some(MAX_IMAGE_BYTES),
            max_video_bytes: Some(MAX_VIDEO_BYTES),
            max_video_duration_ms: Some(MAX_VIDEO_DURATION_MS),
            ..MediaRules::default()
        }
    }

    async fn connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        self.start_connect(request)
    }

    async fn finish_connect(&self, request: &CallbackRequest<'_>) -> Result<Connection, ConnectError> {
        self.complete_connect(request).await
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, ProviderError> {
        let parsed = options(request.options)
            .map_err(|message| ProviderError::Rejected { code: "invalid_options".into(), message })?;
        let tokens = self.usable_tokens(request.channel).await?;
        self.publish_thread(request, &tokens.access_token, &parsed).await
    }

    /// Trades the refresh token for a new pair (X rotates refresh tokens: the old one is spent)
    /// and stores the pair at once.
    async fn refresh(&self, channel: &Channel) -> Result<(), ProviderError> {
        let tokens = self.platform.vault.open(channel).await?.parse()?;
        self.refresh_tokens(channel, &tokens).await.map(|_| ())
    }

    async fn lookup(&self, _request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Unknowable)
    }

    fn can_delete(&self, _channel: &Channel) -> bool {
        true
    }

    /// `DELETE /2/tweets/:id` (X API v2 reference, Posts: "Delete Post") on the post's first post
    /// (a thread's replies stay). A post already gone (404) counts as deleted.
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let id = request.provider_post_id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{id:?} is not an X post id"),
            });
        }
        let tokens = self.usable_tokens(request.channel).await?;
        let url = self.settings.api(&format!("/2/tweets/{id}"));
        let call = self
            .platform
            .call(reqwest::Method::DELETE, &url, |b| b.bearer_auth(&tokens.access_token))
            .await?;
        if call.ok() || call.reply.status == 404 {
            return Ok(());
        }
        Err(self.failure(&call))
    }

    /// Revokes the refresh token (and with it the grant) at X.
    async fn disconnect(&self, _channel: &Channel, credentials: &Credentials) -> Result<(), ProviderError> {
        let tokens: oauth::Tokens = credentials.parse()?;
        self.revoke(&tokens).await
    }
}
