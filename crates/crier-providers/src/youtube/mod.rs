//! YouTube. A channel is a Google account's OAuth 2 token pair for the deployment's Google app
//! (Google's web-server flow with PKCE, developers.google.com/identity/protocols/oauth2/web-server,
//! `access_type=offline` and `prompt=consent` so that a refresh token is granted; the id and
//! secret are the deployment's [`YouTubeSettings`]) and the YouTube channel of that account.
//! Access tokens last an hour and are refreshed ahead of expiry; Google keeps the refresh token
//! as a rule, but one it answers is stored at once.
//!
//! A post is one video (`videos.insert`, developers.google.com/youtube/v3/docs/videos/insert),
//! sent with the resumable upload protocol
//! (developers.google.com/youtube/v3/guides/using_resumable_upload_protocol): the metadata first,
//! then the bytes in chunks of a multiple of 256 KiB, resumed where YouTube's `308` says. The
//! post's text is the description; `options.title` the title (else the text's first line),
//! `options.privacy_status` `private` (the default), `unlisted` or `public`. Videos uploaded by an
//! API project Google has not audited stay private whatever is asked
//! (developers.google.com/youtube/v3/docs/videos/insert, "Unverified API projects").
//!
//! Google's errors are `{"error": {"code", "message", "errors": [{"reason"}]}}`: 401 an expired
//! or revoked token; `quotaExceeded` the project's daily quota (reset at midnight Pacific time),
//! `uploadLimitExceeded` the channel's daily upload cap, `rateLimitExceeded` and
//! `userRateLimitExceeded` short-term limits: all rate limits. Other reasons (`invalidTitle`,
//! `invalidDescription`…) are refusals, with Google's message kept. YouTube has no idempotency
//! key: `lookup` answers `Unknowable`. Disconnecting revokes the grant
//! (developers.google.com/identity/protocols/oauth2/web-server#tokenrevoke).
//!
//! Deleting a video (`videos.delete`) needs a scope that manages the whole account, so it is the
//! deployment's choice ([`YouTubeSettings::delete_videos`]); see [`scopes`].

mod delete;
mod errors;
mod oauth;
mod scopes;
mod upload;

use async_trait::async_trait;
use crier_core::Channel;
use serde::Deserialize;

use crate::platform::Platform;
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials, MediaRules,
};

/// A video's title, in characters.
pub const MAX_TITLE: usize = 100;
/// A video's description, in UTF-8 bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 5000;
/// YouTube's largest upload: 256 GB.
pub const MAX_VIDEO_BYTES: u64 = 256 * 1024 * 1024 * 1024;
/// Twelve hours; accounts that have not verified a phone number are held to 15 minutes.
pub const MAX_VIDEO_DURATION_MS: u64 = 12 * 3600 * 1000;
/// The resumable protocol's chunk unit: every chunk but the last is a multiple of it.
pub const CHUNK_UNIT: usize = 256 * 1024;
/// Crier's chunk: 32 × 256 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 32 * CHUNK_UNIT;

/// Crier's Google app, from the deployment's settings.
#[derive(Clone)]
pub struct YouTubeSettings {
    pub client_id: String,
    pub client_secret: String,
    /// `https://www.googleapis.com`: the Data API and its upload endpoint (overridable for tests).
    pub api_base: String,
    /// `https://oauth2.googleapis.com`: the token and revoke endpoints.
    pub oauth_base: String,
    /// `https://accounts.google.com`: the consent page.
    pub auth_base: String,
    /// Bytes per upload request, a multiple of [`CHUNK_UNIT`] (rounded down, at least one unit).
    pub chunk_size: usize,
    /// Ask for `youtube.force-ssl` when connecting, so that published videos can be deleted.
    /// Google's consent page then says the app may manage the whole YouTube account. Off by
    /// default; channels are only deletable when they were granted such a scope and this is on.
    pub delete_videos: bool,
}

impl std::fmt::Debug for YouTubeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YouTubeSettings")
            .field("client_id", &self.client_id)
            .field("api_base", &self.api_base)
            .field("oauth_base", &self.oauth_base)
            .field("auth_base", &self.auth_base)
            .field("chunk_size", &self.chunk_size)
            .field("delete_videos", &self.delete_videos)
            .finish_non_exhaustive()
    }
}

impl YouTubeSettings {
    /// Google's own addresses.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            api_base: "https://www.googleapis.com".into(),
            oauth_base: "https://oauth2.googleapis.com".into(),
            auth_base: "https://accounts.google.com".into(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            delete_videos: false,
        }
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_base.trim_end_matches('/'))
    }

    fn oauth(&self, path: &str) -> String {
        format!("{}{path}", self.oauth_base.trim_end_matches('/'))
    }

    fn chunk(&self) -> usize {
        (self.chunk_size / CHUNK_UNIT).max(1) * CHUNK_UNIT
    }
}

pub struct YouTube {
    platform: Platform,
    settings: YouTubeSettings,
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct YouTubeOptions {
    title: Option<String>,
    privacy_status: Option<Privacy>,
    /// `status.selfDeclaredMadeForKids`: the audience setting YouTube requires (COPPA).
    made_for_kids: bool,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Privacy {
    #[default]
    Private,
    Unlisted,
    Public,
}

impl Privacy {
    fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Unlisted => "unlisted",
            Self::Public => "public",
        }
    }
}

fn options(value: &serde_json::Value) -> Result<YouTubeOptions, TargetIssue> {
    if value.is_null() {
        return Ok(YouTubeOptions::default());
    }
    serde_json::from_value(value.clone()).map_err(|err| TargetIssue::new("/options", err.to_string()))
}

/// The title sent: `options.title`, else the text's first line.
fn title_of<'a>(options: &'a YouTubeOptions, text: &'a str) -> &'a str {
    options.title.as_deref().unwrap_or_else(|| text.lines().next().unwrap_or_default()).trim()
}

fn angle_brackets(text: &str) -> bool {
    text.contains(['<', '>'])
}

impl YouTube {
    pub fn new(platform: Platform, settings: YouTubeSettings) -> Self {
        Self { platform, settings }
    }
}

/// What Google does to uploads of a project it has not audited
/// (developers.google.com/youtube/v3/docs/videos/insert).
pub const UNAUDITED: &str = "Until Google audits the API project (the YouTube API Services audit), the \
     videos it uploads are locked to private, whatever privacy_status asks";

#[async_trait]
impl Provider for YouTube {
    fn name(&self) -> &'static str {
        "youtube"
    }

    /// `{}`, or `{"granted_scopes": [...]}` as connecting records it: the channel is the
    /// account's own.
    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        let Some(map) = config.as_object() else {
            return vec![TargetIssue::new("", "YouTube channels have no settings")];
        };
        let mut issues = Vec::new();
        for (key, value) in map {
            let scopes_listed =
                value.as_array().is_some_and(|list| list.iter().all(serde_json::Value::is_string));
            if key != scopes::GRANTED_KEY {
                issues.push(TargetIssue::new(&format!("/{key}"), "YouTube channels have no settings"));
            } else if !scopes_listed {
                issues.push(TargetIssue::new(&format!("/{key}"), "a list of the scopes Google granted"));
            }
        }
        issues
    }

    fn validate_target(&self, _channel: &Channel, text: &str, value: &serde_json::Value) -> Vec<TargetIssue> {
        let parsed = match options(value) {
            Ok(parsed) => parsed,
            Err(issue) => return vec![issue],
        };
        let mut issues = Vec::new();
        let pointer = if parsed.title.is_some() { "/options/title" } else { "/text" };
        let title = title_of(&parsed, text);
        let chars = title.chars().count();
        if title.is_empty() {
            issues.push(TargetIssue::new(
                "/options/title",
                "a YouTube video needs a title: set `options.title` or start the text with one",
            ));
        } else if chars > MAX_TITLE {
            issues.push(TargetIssue::new(
                pointer,
                format!("a title of {chars} characters; YouTube allows {MAX_TITLE}"),
            ));
        }
        if angle_brackets(title) {
            issues.push(TargetIssue::new(pointer, "YouTube titles cannot contain < or >"));
        }
        if text.len() > MAX_DESCRIPTION_BYTES {
            issues.push(TargetIssue::new(
                "/text",
                format!("{} bytes; YouTube allows {MAX_DESCRIPTION_BYTES} in a description", text.len()),
            ));
        }
        if angle_brackets(text) {
            issues.push(TargetIssue::new("/text", "YouTube descriptions cannot contain < or >"));
        }
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_DESCRIPTION_BYTES, counted_in: "bytes" })
    }

    /// Exactly one video, no images.
    fn notices(&self, _channel: &Channel) -> Vec<String> {
        vec![UNAUDITED.to_owned()]
    }

    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: 0,
            max_videos: 1,
            media_required: true,
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
        let parsed = options(request.options).map_err(|issue| ProviderError::Rejected {
            code: "invalid_options".into(),
            message: issue.message,
        })?;
        let [video] = request.media else {
            return Err(ProviderError::Rejected {
                code: "media_required".into(),
                message: format!("a YouTube post is exactly one video ({} media given)", request.media.len()),
            });
        };
        let title = title_of(&parsed, request.text).to_owned();
        let file = self.platform.media.load(request.channel.workspace_id, *video).await?;
        let tokens = self.usable_tokens(request.channel).await?;
        let metadata = serde_json::json!({
            "snippet": {"title": title, "description": request.text},
            "status": {
                "privacyStatus": parsed.privacy_status.unwrap_or_default().as_str(),
                "selfDeclaredMadeForKids": parsed.made_for_kids,
            },
        });
        let id = self.upload(file, &metadata, &tokens.access_token).await?;
        let url = format!("https://www.youtube.com/watch?v={id}");
        Ok(Published { provider_post_id: id, url: Some(url) })
    }

    /// Trades the refresh token for a new access token, stored at once.
    async fn refresh(&self, channel: &Channel) -> Result<(), ProviderError> {
        let tokens = self.platform.vault.open(channel).await?.parse()?;
        self.refresh_tokens(channel, &tokens).await.map(|_| ())
    }

    async fn lookup(&self, _request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Unknowable)
    }

    /// Only when this deployment opted in and the channel was granted a scope that allows
    /// `videos.delete` (channels connected before either must reconnect).
    fn can_delete(&self, channel: &Channel) -> bool {
        self.settings.delete_videos && scopes::allow_delete(scopes::granted_in(&channel.config))
    }

    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        self.delete_video(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_options_or_the_first_line() {
        let none = YouTubeOptions::default();
        assert_eq!(title_of(&none, "First line\nsecond"), "First line");
        let set = YouTubeOptions { title: Some(" Set ".into()), ..YouTubeOptions::default() };
        assert_eq!(title_of(&set, "First line"), "Set");
        assert_eq!(title_of(&none, ""), "");
    }

    #[test]
    fn chunks_are_whole_units() {
        let mut settings = YouTubeSettings::new("id", "secret");
        assert_eq!(settings.chunk(), DEFAULT_CHUNK_SIZE);
        settings.chunk_size = CHUNK_UNIT + 5;
        assert_eq!(settings.chunk(), CHUNK_UNIT);
        settings.chunk_size = 1;
        assert_eq!(settings.chunk(), CHUNK_UNIT);
    }
}
