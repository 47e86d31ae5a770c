//! Pinterest. A channel is a user's OAuth 2 token pair for Crier's Pinterest app and one board
//! (`config.board_id`, chosen when connecting): connected through Pinterest's consent page
//! (authorization code, developers.pinterest.com/docs/getting-started/set-up-authentication-and-authorization/,
//! Crier a confidential client whose id and secret are the deployment's [`PinterestSettings`]).
//! Access tokens last 30 days and are refreshed ahead of expiry; Crier asks for continuous
//! refresh, so each refresh also brings a new refresh token, stored at once.
//!
//! A post is a Pin (`POST /v5/pins`, developers.pinterest.com/docs/api/v5/pins-create): the text
//! is its description, `options.title` and `options.link` its title and destination. A Pin needs
//! media: one image (`image_base64`), two to five (`multiple_image_base64`, a carousel) or one
//! video (registered with `POST /v5/media`, uploaded to the address Pinterest names, polled until
//! processed, then `video_id`).
//!
//! Pinterest's errors are `{"code": <number>, "message": "…"}`; 401 is an expired or revoked
//! token, 429 its rate limit. Pinterest has no idempotency key and no revoke endpoint: `lookup`
//! answers `Unknowable` and disconnecting leaves the grant to the user's settings.

mod oauth;
mod pin;

use async_trait::async_trait;
use crier_core::Channel;
use serde::Deserialize;

use crate::platform::{Platform, PlatformCall};
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, MediaRules};

/// A Pin's description, in characters.
pub const MAX_DESCRIPTION: usize = 500;
/// A Pin's title, in characters.
pub const MAX_TITLE: usize = 100;
/// A Pin's destination link.
pub const MAX_LINK: usize = 2048;
/// Images in a carousel Pin.
pub const MAX_IMAGES: usize = 5;
pub const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;
pub const MAX_VIDEO_BYTES: u64 = 2 * 1024 * 1024 * 1024;
pub const MIN_VIDEO_DURATION_MS: u64 = 4_000;
pub const MAX_VIDEO_DURATION_MS: u64 = 15 * 60_000;
/// Alt text on a Pin, in characters.
const MAX_ALT_TEXT: usize = 500;

/// Crier's Pinterest app, from the deployment's settings.
#[derive(Clone)]
pub struct PinterestSettings {
    pub client_id: String,
    pub client_secret: String,
    /// `https://api.pinterest.com` (overridable for tests).
    pub api_base: String,
    /// `https://www.pinterest.com` (the consent page; overridable for tests).
    pub auth_base: String,
}

impl std::fmt::Debug for PinterestSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinterestSettings")
            .field("client_id", &self.client_id)
            .field("api_base", &self.api_base)
            .field("auth_base", &self.auth_base)
            .finish_non_exhaustive()
    }
}

impl PinterestSettings {
    /// Pinterest's own addresses.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            api_base: "https://api.pinterest.com".into(),
            auth_base: "https://www.pinterest.com".into(),
        }
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_base.trim_end_matches('/'))
    }
}

pub struct Pinterest {
    platform: Platform,
    settings: PinterestSettings,
}

/// A board id: Pinterest's are digits.
pub fn board_id(raw: &str) -> Result<String, String> {
    let id = raw.trim();
    if !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(id.to_owned())
    } else {
        Err(format!("`{raw}` is not a Pinterest board id (digits, from GET /v5/boards)"))
    }
}

/// A channel's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinterestConfig {
    board_id: String,
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PinterestOptions {
    title: Option<String>,
    /// Where the Pin leads.
    link: Option<String>,
    board_section_id: Option<String>,
}

fn options(value: &serde_json::Value) -> Result<PinterestOptions, Vec<TargetIssue>> {
    let parsed: PinterestOptions = if value.is_null() {
        PinterestOptions::default()
    } else {
        serde_json::from_value(value.clone())
            .map_err(|err| vec![TargetIssue::new("/options", err.to_string())])?
    };
    let mut issues = Vec::new();
    if let Some(title) = &parsed.title {
        let chars = title.chars().count();
        if chars > MAX_TITLE {
            issues.push(TargetIssue::new(
                "/options/title",
                format!("{chars} characters; Pinterest allows {MAX_TITLE} in a title"),
            ));
        }
    }
    if let Some(link) = &parsed.link {
        let web = url::Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !web || link.len() > MAX_LINK {
            issues.push(TargetIssue::new(
                "/options/link",
                format!("an http(s) URL of at most {MAX_LINK} bytes"),
            ));
        }
    }
    if parsed.board_section_id.as_deref().is_some_and(|s| board_id(s).is_err()) {
        issues.push(TargetIssue::new("/options/board_section_id", "a board section id is digits"));
    }
    if issues.is_empty() { Ok(parsed) } else { Err(issues) }
}

impl Pinterest {
    pub fn new(platform: Platform, settings: PinterestSettings) -> Self {
        Self { platform, settings }
    }

    /// A failed call: 429 waits `Retry-After` or a minute; 401 and 5xx as `PlatformCall` reads them,
    /// other refusals with
    /// Pinterest's numeric `code` as `pinterest_<code>` and its `message` kept.
    fn failure(&self, call: &PlatformCall) -> ProviderError {
        let now = self.platform.clock.now();
        if call.reply.status == 429 {
            // Pinterest names no reset; its limits are counted per minute (developers.pinterest.com/docs/reference/rate-limits/).
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
        match call.failure(now) {
            ProviderError::Rejected { code, message } => {
                let body: serde_json::Value = serde_json::from_slice(&call.reply.body).unwrap_or_default();
                let code = body["code"].as_i64().map_or(code, |n| format!("pinterest_{n}"));
                ProviderError::Rejected { code, message }
            }
            other => other,
        }
    }
}

/// What an app Pinterest has not reviewed can do (developers.pinterest.com/docs/getting-started/set-up-app).
pub const TRIAL_ACCESS: &str = "Until Pinterest reviews the app and grants it Standard access, its Pins \
     (Trial access) are visible only to their author, with 1,000 calls a day";

#[async_trait]
impl Provider for Pinterest {
    fn name(&self) -> &'static str {
        "pinterest"
    }

    fn connect_fields(&self) -> &'static [crate::ConnectField] {
        use crate::ConnectField;
        const FIELDS: &[ConnectField] = &[ConnectField::text("board_id", "Board id")];
        FIELDS
    }

    /// `{"board_id": "549755885175"}`.
    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        match serde_json::from_value::<PinterestConfig>(config.clone()) {
            Ok(parsed) => match board_id(&parsed.board_id) {
                Ok(id) if id == parsed.board_id => Vec::new(),
                Ok(_) => vec![TargetIssue::new("/board_id", "the board id is stored trimmed")],
                Err(message) => vec![TargetIssue::new("/board_id", message)],
            },
            Err(err) => vec![TargetIssue::new("", err.to_string())],
        }
    }

    fn validate_target(&self, _channel: &Channel, text: &str, value: &serde_json::Value) -> Vec<TargetIssue> {
        let mut issues = options(value).err().unwrap_or_default();
        let chars = text.chars().count();
        if chars > MAX_DESCRIPTION {
            issues.push(TargetIssue::new(
                "/text",
                format!("{chars} characters; Pinterest allows {MAX_DESCRIPTION} in a description"),
            ));
        }
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_DESCRIPTION, counted_in: "characters" })
    }

    /// One image, a carousel of two to five, or one video; a Pin always has media.
    fn notices(&self, _channel: &Channel) -> Vec<String> {
        vec![TRIAL_ACCESS.to_owned()]
    }

    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_IMAGES,
            max_videos: 1,
            allow_mixed: false,
            media_required: true,
            image_types: ["image/jpeg", "image/png"].map(String::from).to_vec(),
            video_types: ["video/mp4", "video/quicktime"].map(String::from).to_vec(),
            max_image_bytes: Some(MAX_IMAGE_BYTES),
            max_video_bytes: Some(MAX_VIDEO_BYTES),
            min_video_duration_ms: Some(MIN_VIDEO_DURATION_MS),
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
        let parsed = options(request.options).map_err(|issues| ProviderError::Rejected {
            code: "invalid_options".into(),
            message: issues
                .iter()
                .map(|i| format!("{}: {}", i.pointer, i.message))
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        if request.media.is_empty() {
            return Err(ProviderError::Rejected {
                code: "media_required".into(),
                message: "a Pin needs an image or a video".into(),
            });
        }
        let config: PinterestConfig =
            serde_json::from_value(request.channel.config.clone()).map_err(|err| {
                ProviderError::Rejected {
                    code: "invalid_config".into(),
                    message: format!("the channel's settings: {err}"),
                }
            })?;
        let tokens = self.usable_tokens(request.channel).await?;
        self.create_pin(request, &config.board_id, &parsed, &tokens.access_token).await
    }

    /// Trades the refresh token for a new access token (and refresh token), stored at once.
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

    /// `DELETE /v5/pins/{pin_id}` (developers.pinterest.com/docs/api/v5/pins-delete) on the Pin.
    /// A Pin already gone (404) counts as deleted.
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let id = request.provider_post_id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{id:?} is not a Pin id"),
            });
        }
        let tokens = self.usable_tokens(request.channel).await?;
        let url = self.settings.api(&format!("/v5/pins/{id}"));
        let call = self
            .platform
            .call(reqwest::Method::DELETE, &url, |b| b.bearer_auth(&tokens.access_token))
            .await?;
        if call.ok() || call.reply.status == 404 {
            return Ok(());
        }
        Err(self.failure(&call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn board_ids() {
        assert_eq!(board_id(" 549755885175 ").unwrap(), "549755885175");
        assert!(board_id("my-board").is_err());
        assert!(board_id("").is_err());
    }
}
