//! TikTok. A channel is a TikTok user's OAuth 2 token pair for the deployment's TikTok app
//! (Login Kit v2 with PKCE, developers.tiktok.com/doc/login-kit-web and
//! developers.tiktok.com/doc/oauth-user-access-token-management; the client key and secret are
//! the deployment's [`TikTokSettings`], scopes `user.info.basic,video.publish`). Access tokens
//! last 24 hours and are refreshed ahead of expiry; each refresh may answer a new refresh token,
//! stored at once.
//!
//! A post is one video, posted with Direct Post
//! (developers.tiktok.com/doc/content-posting-api-reference-direct-post): the creator's settings
//! are queried first (`creator_info/query`: the privacy levels offered, the longest video, whether
//! comments, duets and stitches are off) and the target's options checked against them; then
//! `video/init` with `FILE_UPLOAD`, the bytes PUT in chunks to the address TikTok names
//! (developers.tiktok.com/doc/content-posting-api-media-transfer-guide), and
//! `status/fetch` polled until `PUBLISH_COMPLETE` or `FAILED`. The text is the caption
//! (2,200 UTF-16 units). `options.privacy_level` is required: TikTok's guidelines forbid a default.
//! Apps TikTok has not audited may only post `SELF_ONLY` (private) videos.
//!
//! TikTok's errors are `{"error": {"code", "message", "log_id"}}`: `access_token_invalid` an
//! expired or revoked token; `rate_limit_exceeded` its per-minute limits,
//! `spam_risk_too_many_posts` the creator's daily cap: rate limits; other codes refusals, kept
//! with TikTok's message and log id. TikTok has no idempotency key: `lookup` answers `Unknowable`.

mod creator;
mod errors;
mod oauth;
mod post;

use async_trait::async_trait;
use crier_core::Channel;
use serde::Deserialize;

use crate::platform::Platform;
use crate::provider::{Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit};
use crate::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials, MediaRules,
};

/// A caption, in UTF-16 code units.
pub const MAX_CAPTION: usize = 2200;
/// TikTok takes videos up to 4 GB.
pub const MAX_VIDEO_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// The longest any creator may post; each creator's own limit comes from `creator_info`.
pub const MAX_VIDEO_DURATION_MS: u64 = 10 * 60_000;
/// The smallest chunk TikTok takes (smaller videos go up whole).
pub const MIN_CHUNK: u64 = 5 * 1024 * 1024;
/// The largest chunk TikTok takes (the last may be up to twice that).
pub const MAX_CHUNK: u64 = 64_000_000;
/// Crier's chunk.
pub const DEFAULT_CHUNK: u64 = 10 * 1024 * 1024;

/// The privacy levels TikTok knows (`creator_info` says which the creator may use).
pub const PRIVACY_LEVELS: [&str; 4] =
    ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"];

/// Crier's TikTok app, from the deployment's settings.
#[derive(Clone)]
pub struct TikTokSettings {
    pub client_key: String,
    pub client_secret: String,
    /// `https://open.tiktokapis.com` (overridable for tests).
    pub api_base: String,
    /// `https://www.tiktok.com` (the consent page; overridable for tests).
    pub auth_base: String,
    /// Bytes per upload chunk, held within TikTok's 5 MB to 64 MB.
    pub chunk_size: u64,
}

impl std::fmt::Debug for TikTokSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TikTokSettings")
            .field("client_key", &self.client_key)
            .field("api_base", &self.api_base)
            .field("auth_base", &self.auth_base)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

impl TikTokSettings {
    /// TikTok's own addresses.
    pub fn new(client_key: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_key: client_key.into(),
            client_secret: client_secret.into(),
            api_base: "https://open.tiktokapis.com".into(),
            auth_base: "https://www.tiktok.com".into(),
            chunk_size: DEFAULT_CHUNK,
        }
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_base.trim_end_matches('/'))
    }
}

/// How a video of `size` bytes is cut (the media transfer guide's rules): under 5 MB whole;
/// otherwise `floor(size / chunk)` chunks, the last taking the trailing bytes.
pub fn chunk_plan(size: u64, chunk_size: u64) -> (u64, u64) {
    let chunk = chunk_size.clamp(MIN_CHUNK, MAX_CHUNK);
    if size < MIN_CHUNK || size <= chunk {
        return (size, 1);
    }
    (chunk, size / chunk)
}

pub struct TikTok {
    platform: Platform,
    settings: TikTokSettings,
}

/// A target's options (the Direct Post `post_info`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct TikTokOptions {
    privacy_level: Option<String>,
    disable_comment: bool,
    disable_duet: bool,
    disable_stitch: bool,
    video_cover_timestamp_ms: Option<u64>,
}

fn options(value: &serde_json::Value) -> Result<TikTokOptions, Vec<TargetIssue>> {
    let parsed: TikTokOptions = if value.is_null() {
        TikTokOptions::default()
    } else {
        serde_json::from_value(value.clone())
            .map_err(|err| vec![TargetIssue::new("/options", err.to_string())])?
    };
    match parsed.privacy_level.as_deref() {
        Some(level) if PRIVACY_LEVELS.contains(&level) => Ok(parsed),
        Some(level) => Err(vec![TargetIssue::new(
            "/options/privacy_level",
            format!("`{level}` is not one of {}", PRIVACY_LEVELS.join(", ")),
        )]),
        None => Err(vec![TargetIssue::new(
            "/options/privacy_level",
            format!(
                "TikTok needs the privacy chosen for each post (no default): one of {}; apps TikTok \
                 has not audited may only use SELF_ONLY",
                PRIVACY_LEVELS.join(", ")
            ),
        )]),
    }
}

fn caption_length(text: &str) -> usize {
    text.encode_utf16().count()
}

impl TikTok {
    pub fn new(platform: Platform, settings: TikTokSettings) -> Self {
        Self { platform, settings }
    }
}

/// What TikTok does to posts of an app it has not audited
/// (developers.tiktok.com/doc/content-posting-api-get-started).
pub const UNAUDITED: &str = "Until TikTok audits the app, everything it posts is private (SELF_ONLY)";

#[async_trait]
impl Provider for TikTok {
    fn name(&self) -> &'static str {
        "tiktok"
    }

    /// `{}`: the channel is the user's own.
    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        match config.as_object() {
            Some(map) if map.is_empty() => Vec::new(),
            _ => vec![TargetIssue::new("", "TikTok channels have no settings")],
        }
    }

    fn validate_target(&self, _channel: &Channel, text: &str, value: &serde_json::Value) -> Vec<TargetIssue> {
        let mut issues = options(value).err().unwrap_or_default();
        let length = caption_length(text);
        if length > MAX_CAPTION {
            issues.push(TargetIssue::new(
                "/text",
                format!("{length} UTF-16 units; TikTok allows {MAX_CAPTION} in a caption"),
            ));
        }
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_CAPTION, counted_in: "utf16" })
    }

    /// Exactly one video (photo posts are not offered).
    fn notices(&self, _channel: &Channel) -> Vec<String> {
        vec![UNAUDITED.to_owned()]
    }

    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: 0,
            max_videos: 1,
            media_required: true,
            video_types: ["video/mp4", "video/webm", "video/quicktime"].map(String::from).to_vec(),
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

    async fn disconnect(&self, _channel: &Channel, credentials: &Credentials) -> Result<(), ProviderError> {
        self.revoke(credentials).await
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
        let [video] = request.media else {
            return Err(ProviderError::Rejected {
                code: "media_required".into(),
                message: format!("a TikTok post is exactly one video ({} media given)", request.media.len()),
            });
        };
        let tokens = self.usable_tokens(request.channel).await?;
        let creator = self.creator_info(&tokens.access_token).await?;
        let file = self.platform.media.load(request.channel.workspace_id, *video).await?;
        let post_info = creator.post_info(&parsed, request.text, &file)?;
        self.direct_post(file, post_info, &creator, &tokens.access_token).await
    }

    /// Trades the refresh token for a new pair, stored at once.
    async fn refresh(&self, channel: &Channel) -> Result<(), ProviderError> {
        let tokens = self.platform.vault.open(channel).await?.parse()?;
        self.refresh_tokens(channel, &tokens).await.map(|_| ())
    }

    async fn lookup(&self, _request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Unknowable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    #[test]
    fn chunks_follow_the_media_transfer_guide() {
        assert_eq!(chunk_plan(3 * MB, DEFAULT_CHUNK), (3 * MB, 1), "under 5 MB: whole");
        assert_eq!(chunk_plan(8 * MB, DEFAULT_CHUNK), (8 * MB, 1), "one chunk of its own size");
        assert_eq!(chunk_plan(25 * MB, DEFAULT_CHUNK), (10 * MB, 2), "the last takes the trailing 5 MB");
        assert_eq!(chunk_plan(12 * MB, 1), (5 * MB, 2), "held at 5 MB at least");
        let (chunk, count) = chunk_plan(4 * 1024 * MB, DEFAULT_CHUNK);
        assert!(count <= 1000 && chunk <= MAX_CHUNK);
        assert!(4 * 1024 * MB - chunk * (count - 1) <= 128 * MB);
    }
}
