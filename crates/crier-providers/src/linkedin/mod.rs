//! LinkedIn. A channel is a member's OAuth 2 token for Crier's LinkedIn app (3-legged,
//! learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow, Crier a
//! confidential client whose id and secret are the deployment's [`LinkedInSettings`]), posting as
//! that member (`urn:li:person:{sub}`, from OpenID Connect's userinfo). Access tokens last 60
//! days; apps LinkedIn has approved for programmatic refresh also get a refresh token
//! (learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens), used
//! ahead of expiry. Without one, an expired token needs the member to connect again.
//!
//! Posts are `POST /rest/posts` (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api)
//! with the `LinkedIn-Version` header; the text is the post's `commentary`, in LinkedIn's "little"
//! text format, so its reserved characters are backslash-escaped ([`escape_little`]) and the
//! 3,000-character limit counts the escaped text. Images go through the Images API
//! (`initializeUpload`, then a `PUT` of the bytes), one as `media`, two to twenty as `multiImage`;
//! one video (never beside images) through the Videos API (`initializeUpload`, a `PUT` per part,
//! `finalizeUpload`, then polls until LinkedIn has processed it; see `video.rs`) as `media`.
//!
//! Errors are `{"status", "serviceErrorCode", "code", "message"}`; 401 is an expired or revoked
//! token, 429 a throttle whose daily limits reset at midnight UTC
//! (learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits). LinkedIn has no
//! idempotency key: `lookup` answers `Unknowable`.

mod oauth;
mod post;
mod upload;
mod video;

use async_trait::async_trait;
use crier_core::{Channel, Timestamp};
use serde::Deserialize;

use crate::platform::{Platform, PlatformCall};
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, MediaRules};

/// A post's commentary, in characters, counted after escaping.
pub const MAX_TEXT: usize = 3_000;
/// Images on one post (`multiImage` takes two to twenty).
pub const MAX_IMAGES: usize = 20;
/// The characters LinkedIn's little text format reserves
/// (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/little-text-format).
pub const RESERVED: [char; 15] = ['\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~'];
/// The Marketing API version Crier speaks unless the deployment says otherwise (LinkedIn supports
/// each monthly version for at least a year).
pub const DEFAULT_API_VERSION: &str = "202610";

/// Crier's LinkedIn app, from the deployment's settings.
#[derive(Clone)]
pub struct LinkedInSettings {
    pub client_id: String,
    pub client_secret: String,
    /// `LinkedIn-Version` (`YYYYMM`).
    pub api_version: String,
    /// `https://api.linkedin.com` (overridable for tests).
    pub api_base: String,
    /// `https://www.linkedin.com` (the consent page and token endpoint; overridable for tests).
    pub auth_base: String,
}

impl std::fmt::Debug for LinkedInSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkedInSettings")
            .field("client_id", &self.client_id)
            .field("api_version", &self.api_version)
            .field("api_base", &self.api_base)
            .field("auth_base", &self.auth_base)
            .finish_non_exhaustive()
    }
}

impl LinkedInSettings {
    /// LinkedIn's own addresses.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        api_version: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            api_version: api_version.into(),
            api_base: "https://api.linkedin.com".into(),
            auth_base: "https://www.linkedin.com".into(),
        }
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_base.trim_end_matches('/'))
    }

    fn auth(&self, path: &str) -> String {
        format!("{}{path}", self.auth_base.trim_end_matches('/'))
    }
}

pub struct LinkedIn {
    platform: Platform,
    settings: LinkedInSettings,
}

/// The text as LinkedIn's little format takes it as plain text: every reserved character
/// backslash-escaped.
pub fn escape_little(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if RESERVED.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LinkedInOptions {
    /// `PUBLIC` (the default) or `CONNECTIONS`.
    visibility: Option<String>,
}

fn options(value: &serde_json::Value) -> Result<LinkedInOptions, Vec<TargetIssue>> {
    let parsed: LinkedInOptions = if value.is_null() {
        LinkedInOptions::default()
    } else {
        serde_json::from_value(value.clone())
            .map_err(|err| vec![TargetIssue::new("/options", err.to_string())])?
    };
    match parsed.visibility.as_deref() {
        None | Some("PUBLIC" | "CONNECTIONS") => Ok(parsed),
        Some(other) => Err(vec![TargetIssue::new(
            "/options/visibility",
            format!("`{other}` is not PUBLIC or CONNECTIONS"),
        )]),
    }
}

/// The next midnight UTC, when LinkedIn's daily throttles reset.
fn next_midnight(now: Timestamp) -> Timestamp {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    tomorrow.and_hms_opt(0, 0, 0).map_or(now + chrono::Duration::hours(1), |t| t.and_utc())
}

impl LinkedIn {
    pub fn new(platform: Platform, settings: LinkedInSettings) -> Self {
        Self { platform, settings }
    }

    /// The headers every versioned call carries.
    fn rest(&self, builder: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
        builder
            .bearer_auth(token)
            .header("LinkedIn-Version", &self.settings.api_version)
            .header("X-Restli-Protocol-Version", "2.0.0")
    }

    /// A failed call: 429 waits `Retry-After` or the daily reset; 401 and 5xx as `PlatformCall`
    /// reads them; a refusal keeps LinkedIn's `code` (lower-cased) and `message`.
    fn failure(&self, call: &PlatformCall) -> ProviderError {
        let now = self.platform.clock.now();
        let body: serde_json::Value = serde_json::from_slice(&call.reply.body).unwrap_or_default();
        if call.reply.status == 429 {
            let reset = call
                .reply
                .headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map_or_else(|| next_midnight(now), |s| now + chrono::Duration::seconds(s.clamp(1, 86_400)));
            return ProviderError::RateLimited { reset };
        }
        match call.failure(now) {
            ProviderError::Rejected { code, message } => {
                let named = body["code"].as_str().filter(|c| !c.is_empty()).map(str::to_lowercase);
                let service = body["serviceErrorCode"].as_i64().map(|n| format!("linkedin_{n}"));
                ProviderError::Rejected { code: named.or(service).unwrap_or(code), message }
            }
            other => other,
        }
    }
}

#[async_trait]
impl Provider for LinkedIn {
    fn name(&self) -> &'static str {
        "linkedin"
    }

    /// A LinkedIn channel has no settings of its own (it posts as the member).
    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        match config {
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::Object(map) if map.is_empty() => Vec::new(),
            _ => vec![TargetIssue::new("", "LinkedIn channels have no settings")],
        }
    }

    /// 3,000 characters once LinkedIn's reserved characters are escaped.
    fn validate_target(&self, _channel: &Channel, text: &str, value: &serde_json::Value) -> Vec<TargetIssue> {
        let mut issues = options(value).err().unwrap_or_default();
        let escaped = escape_little(text).chars().count();
        if escaped > MAX_TEXT {
            issues.push(TargetIssue::new(
                "/text",
                format!(
                    "{escaped} characters once LinkedIn's reserved characters ( ) [ ] {{ }} < > @ # * _ ~ | \\ are \
                     escaped; LinkedIn allows {MAX_TEXT}"
                ),
            ));
        }
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_TEXT, counted_in: "characters" })
    }

    /// Up to twenty images (JPEG, PNG, GIF), or one MP4 video alone: LinkedIn's "Video File
    /// Size Specifications" (videos-api) give 3 seconds to 30 minutes and 75 KB to 500 MB (under
    /// Crier's own default limit of 1 GiB, so LinkedIn's holds; the 75 KB floor is checked when
    /// publishing, as these rules have no smallest size).
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_IMAGES,
            max_videos: 1,
            allow_mixed: false,
            image_types: ["image/jpeg", "image/png", "image/gif"].map(String::from).to_vec(),
            video_types: vec!["video/mp4".to_owned()],
            max_video_bytes: Some(video::MAX_VIDEO_BYTES),
            min_video_duration_ms: Some(video::MIN_VIDEO_MS),
            max_video_duration_ms: Some(video::MAX_VIDEO_MS),
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
        let tokens = self.usable_tokens(request.channel).await?;
        self.create_post(request, &tokens, parsed.visibility.as_deref().unwrap_or("PUBLIC")).await
    }

    /// With a refresh token (programmatic refresh), a new access token, stored at once.
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

    /// `DELETE /rest/posts/{encoded urn}` with `X-RestLi-Method: DELETE`
    /// (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api#delete-posts-by-urn)
    /// on the post's share or ugcPost URN, its colons percent-encoded. A post already gone (404)
    /// counts as deleted.
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let urn = request.provider_post_id;
        let number = urn.strip_prefix("urn:li:share:").or_else(|| urn.strip_prefix("urn:li:ugcPost:"));
        if !number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{urn:?} is not a LinkedIn post URN"),
            });
        }
        let tokens = self.usable_tokens(request.channel).await?;
        let url = self.settings.api(&format!("/rest/posts/{}", urn.replace(':', "%3A")));
        let call = self
            .platform
            .call(reqwest::Method::DELETE, &url, |b| {
                self.rest(b, &tokens.access_token).header("X-RestLi-Method", "DELETE")
            })
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
    fn reserved_characters_are_escaped() {
        assert_eq!(escape_little("Hello (world) #rust"), "Hello \\(world\\) \\#rust");
        assert_eq!(escape_little("a_b*c~d|e\\f"), "a\\_b\\*c\\~d\\|e\\\\f");
        assert_eq!(escape_little("<@[{}]>"), "\\<\\@\\[\\{\\}\\]\\>");
        assert_eq!(escape_little("plain, text: ok!"), "plain, text: ok!");
    }

    #[test]
    fn daily_limits_reset_at_midnight_utc() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T17:30:00Z").unwrap().to_utc();
        assert_eq!(next_midnight(now).to_rfc3339(), "2026-11-25T00:00:00+00:00");
    }
}
