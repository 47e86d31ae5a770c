//! Slack. A channel is a bot token of Crier's Slack app, installed in one Slack workspace, and one
//! Slack channel (`config.channel`, its id, chosen when connecting): connected through Slack's
//! consent page (OAuth v2, docs.slack.dev/authentication/installing-with-oauth, Crier a
//! confidential client whose id and secret are the deployment's [`SlackSettings`]). When the app
//! has token rotation on, the 12-hour bot token is refreshed ahead of expiry and the rotated
//! refresh token stored at once; without rotation a bot token never expires.
//!
//! Posts are `chat.postMessage` (text as Slack's `mrkdwn`), replies (`options.thread`) go in the
//! message's thread (`thread_ts`). Media go through `files.getUploadURLExternal`, an upload to the
//! URL it gives, then one `files.completeUploadExternal` that shares the files in the channel with
//! the text as their message; the message's `ts` is read from `files.info` (Slack shares files
//! asynchronously), so a post with media takes no thread.
//!
//! Slack answers almost every failure with HTTP 200 and `{"ok": false, "error": "<name>"}`
//! (docs.slack.dev/apis/web-api/#responses); rate limits are HTTP 429 with `Retry-After`
//! (docs.slack.dev/apis/web-api/rate-limits). Slack has no idempotency key, so `lookup` answers
//! `Unknowable`.

mod oauth;
mod post;

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

/// Slack truncates a message's text past 40,000 characters
/// (docs.slack.dev/reference/methods/chat.postMessage#truncating): Crier refuses longer texts.
pub const MAX_TEXT: usize = 40_000;
/// Posts in one thread, the first included (Crier's own bound, as for X).
pub const MAX_THREAD: usize = 25;
/// Files shared with one message (Slack's clients take ten at once).
pub const MAX_FILES: usize = 10;
/// Slack's largest file (docs.slack.dev/messaging/working-with-files: 1 GB).
pub const MAX_FILE_BYTES: u64 = 1_000_000_000;
/// `alt_txt` is at most 1,000 characters (files.getUploadURLExternal's `alt_txt_too_large`).
const MAX_ALT_TEXT: usize = 1_000;

/// Crier's Slack app, from the deployment's settings.
#[derive(Clone)]
pub struct SlackSettings {
    pub client_id: String,
    pub client_secret: String,
    /// `https://slack.com/api` (overridable for tests).
    pub api_base: String,
    /// `https://slack.com` (the consent page; overridable for tests).
    pub auth_base: String,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field("client_id", &self.client_id)
            .field("api_base", &self.api_base)
            .field("auth_base", &self.auth_base)
            .finish_non_exhaustive()
    }
}

impl SlackSettings {
    /// Slack's own addresses.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            api_base: "https://slack.com/api".into(),
            auth_base: "https://slack.com".into(),
        }
    }

    /// A Web API method's address (`chat.postMessage` → `{api_base}/chat.postMessage`).
    fn method(&self, name: &str) -> String {
        format!("{}/{name}", self.api_base.trim_end_matches('/'))
    }
}

pub struct Slack {
    platform: Platform,
    settings: SlackSettings,
}

/// A Slack channel id (`C…` public, `G…` private, `D…` a direct message): what
/// `files.completeUploadExternal` needs, where a name would not do.
pub fn channel_id(raw: &str) -> Result<String, String> {
    let id = raw.trim();
    let valid = id.len() >= 9
        && id.len() <= 24
        && id.starts_with(['C', 'G', 'D'])
        && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if valid {
        Ok(id.to_owned())
    } else {
        Err(format!(
            "`{raw}` is not a Slack channel id (like C0123ABCDEF: open the channel's details, its id is at \
             the bottom)"
        ))
    }
}

/// A channel's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlackConfig {
    channel: String,
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct SlackOptions {
    /// The replies that follow the message in its thread, in order.
    thread: Vec<String>,
    /// Slack's `unfurl_links` (default: Slack's own choice).
    unfurl_links: Option<bool>,
}

fn options(value: &serde_json::Value) -> Result<SlackOptions, String> {
    if value.is_null() {
        return Ok(SlackOptions::default());
    }
    serde_json::from_value(value.clone()).map_err(|err| err.to_string())
}

fn too_long(text: &str) -> Option<String> {
    let chars = text.chars().count();
    (chars > MAX_TEXT).then(|| format!("{chars} characters; Slack allows {MAX_TEXT} in a message"))
}

/// Slack's `error` names that mean the token no longer works
/// (docs.slack.dev/reference/methods/chat.postMessage#errors).
const AUTH_ERRORS: [&str; 7] = [
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "app_uninstalled",
    "org_login_required",
];
/// Slack's own transient failures.
const TRANSIENT_ERRORS: [&str; 4] =
    ["internal_error", "fatal_error", "service_unavailable", "request_timeout"];

/// What Slack means by an error name, for the messages Crier keeps.
fn explain(error: &str) -> &'static str {
    match error {
        "channel_not_found" => "the channel does not exist, or is private and the app is not in it",
        "not_in_channel" => "the app is not a member of the channel; invite it (/invite @app)",
        "is_archived" => "the channel is archived",
        "msg_too_long" => "the message text is too long",
        "no_text" => "the message has no text",
        "restricted_action" => "the workspace does not let the app post in this channel",
        "missing_scope" => "the app lacks a permission; reconnect the channel to grant it",
        "file_uploads_disabled" => "the workspace has disabled file uploads",
        "file_upload_size_restricted" => "the workspace refuses files this large",
        _ => "Slack refused the request",
    }
}

impl Slack {
    pub fn new(platform: Platform, settings: SlackSettings) -> Self {
        Self { platform, settings }
    }

    /// A failed call: HTTP 429 (with `Retry-After`) and 5xx as `PlatformCall` reads them, else
    /// Slack's `{"ok": false, "error": …}` by its name.
    fn failure(&self, call: &PlatformCall) -> ProviderError {
        let now = self.platform.clock.now();
        if !call.ok() {
            return call.failure(now);
        }
        let body: serde_json::Value = serde_json::from_slice(&call.reply.body).unwrap_or_default();
        let error = body["error"].as_str().unwrap_or("unknown_error").to_owned();
        let mut message = format!("{} ({error})", explain(&error));
        if let Some(needed) = body["needed"].as_str() {
            message.push_str(&format!("; needs {needed}"));
        }
        if error == "ratelimited" || error == "rate_limited" {
            // A 200 carrying the name: the wait Slack names in `Retry-After`, else a minute.
            let wait = call
                .reply
                .headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map_or_else(
                    || chrono::Duration::minutes(1),
                    |s| chrono::Duration::seconds(s.clamp(1, 3600)),
                );
            return ProviderError::RateLimited { reset: now + wait };
        }
        if AUTH_ERRORS.contains(&error.as_str()) {
            return ProviderError::AuthExpired { message };
        }
        if TRANSIENT_ERRORS.contains(&error.as_str()) {
            return ProviderError::Retryable { after: None, message };
        }
        ProviderError::Rejected { code: error, message }
    }

    /// Calls a Web API method with the bot token; the answer's body when Slack says `ok`.
    async fn api(
        &self,
        method: &str,
        token: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, ProviderError> {
        let url = self.settings.method(method);
        let call = self.platform.call(reqwest::Method::POST, &url, |b| build(b.bearer_auth(token))).await?;
        let body: serde_json::Value = if call.ok() { call.json()? } else { serde_json::Value::Null };
        if body["ok"].as_bool() == Some(true) { Ok(body) } else { Err(self.failure(&call)) }
    }
}

#[async_trait]
impl Provider for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn connect_fields(&self) -> &'static [crate::ConnectField] {
        use crate::ConnectField;
        const FIELDS: &[ConnectField] =
            &[ConnectField::text("channel", "Slack channel id (e.g. C0123456789)")];
        FIELDS
    }

    /// `{"channel": "C0123ABCDEF"}`.
    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        match serde_json::from_value::<SlackConfig>(config.clone()) {
            Ok(parsed) => match channel_id(&parsed.channel) {
                Ok(id) if id == parsed.channel => Vec::new(),
                Ok(_) => vec![TargetIssue::new("/channel", "the channel id is stored trimmed")],
                Err(message) => vec![TargetIssue::new("/channel", message)],
            },
            Err(err) => vec![TargetIssue::new("", err.to_string())],
        }
    }

    /// Within 40,000 characters; replies likewise. An empty text is a files-only post (refused
    /// without files when publishing, as Slack would: `no_text`).
    fn validate_target(&self, _channel: &Channel, text: &str, value: &serde_json::Value) -> Vec<TargetIssue> {
        let mut issues = Vec::new();
        if let Some(problem) = too_long(text) {
            issues.push(TargetIssue::new("/text", problem));
        }
        match options(value) {
            Ok(parsed) => {
                issues.extend(crate::validate::thread_issues(&parsed.thread, MAX_THREAD - 1, too_long));
            }
            Err(err) => issues.push(TargetIssue::new("/options", err)),
        }
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_TEXT, counted_in: "characters" })
    }

    /// Up to ten files of any type Crier accepts, images and videos mixed, 1 GB each.
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_FILES,
            max_videos: MAX_FILES,
            allow_mixed: true,
            max_image_bytes: Some(MAX_FILE_BYTES),
            max_video_bytes: Some(MAX_FILE_BYTES),
            ..MediaRules::default()
        }
    }

    async fn connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        self.start_connect(request)
    }

    async fn finish_connect(&self, request: &CallbackRequest<'_>) -> Result<Connection, ConnectError> {
        self.complete_connect(request).await
    }

    /// Revokes the bot token (docs.slack.dev/reference/methods/auth.revoke). Slack issues one bot
    /// token per installation, so other channels connected to the same Slack workspace lose it too
    /// (they then need reconnecting; `docs/PROVIDERS.md` says so).
    async fn disconnect(&self, _channel: &Channel, credentials: &Credentials) -> Result<(), ProviderError> {
        let tokens: oauth::Tokens = credentials.parse()?;
        match self.api("auth.revoke", &tokens.access_token, |b| b).await {
            // A token already revoked or expired needs nothing more.
            Ok(_) | Err(ProviderError::AuthExpired { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, ProviderError> {
        let invalid = |message: String| ProviderError::Rejected { code: "invalid_options".into(), message };
        let parsed = options(request.options).map_err(invalid)?;
        if !request.media.is_empty() && !parsed.thread.is_empty() {
            return Err(invalid("a Slack post with media takes no thread".into()));
        }
        if request.media.is_empty() && request.text.trim().is_empty() {
            return Err(ProviderError::Rejected {
                code: "no_text".into(),
                message: "a Slack message without files needs a text".into(),
            });
        }
        let config: SlackConfig = serde_json::from_value(request.channel.config.clone()).map_err(|err| {
            ProviderError::Rejected {
                code: "invalid_config".into(),
                message: format!("the channel's settings: {err}"),
            }
        })?;
        let tokens = self.usable_tokens(request.channel).await?;
        self.post(request, &config.channel, &tokens.access_token, &parsed).await
    }

    /// With token rotation, trades the refresh token for a new pair, stored at once; without it
    /// a refused bot token cannot be renewed.
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

    /// `chat.delete` (docs.slack.dev/reference/methods/chat.delete) with the channel and the
    /// post's first message's `ts` (a thread's replies stay; files shared with the message stay in
    /// the workspace). A message already gone (`message_not_found`) counts as deleted. A post whose
    /// message Slack had not named yet (its id is a file id) cannot be deleted this way.
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let ts = request.provider_post_id;
        if !is_ts(ts) {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{ts:?} is not a Slack message ts"),
            });
        }
        let config: SlackConfig = serde_json::from_value(request.channel.config.clone()).map_err(|err| {
            ProviderError::Rejected {
                code: "invalid_config".into(),
                message: format!("the channel's settings: {err}"),
            }
        })?;
        let tokens = self.usable_tokens(request.channel).await?;
        let body = serde_json::json!({"channel": config.channel, "ts": ts});
        match self.api("chat.delete", &tokens.access_token, |b| b.json(&body)).await {
            Ok(_) => Ok(()),
            Err(ProviderError::Rejected { code, .. }) if code == "message_not_found" => Ok(()),
            Err(err) => Err(err),
        }
    }
}

/// A message's `ts` as Slack writes it: digits, a dot, digits (`1700000000.000101`).
fn is_ts(raw: &str) -> bool {
    raw.split_once('.').is_some_and(|(secs, micros)| {
        !secs.is_empty()
            && !micros.is_empty()
            && secs.bytes().all(|b| b.is_ascii_digit())
            && micros.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids() {
        assert_eq!(channel_id(" C0123ABCDEF ").unwrap(), "C0123ABCDEF");
        assert!(channel_id("G01234567").is_ok());
        assert!(channel_id("#general").is_err());
        assert!(channel_id("c0123abcdef").is_err());
        assert!(channel_id("C0123").is_err());
    }

    #[test]
    fn message_ts() {
        assert!(is_ts("1700000000.000101"));
        assert!(!is_ts("F0000000001"));
        assert!(!is_ts("1700000000."));
        assert!(!is_ts("1.2.3"));
    }
}
