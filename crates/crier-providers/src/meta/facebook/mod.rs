//! Facebook Pages. A channel is one Page (`config.page_id`, chosen when connecting) and its Page
//! access token, obtained through Facebook Login with Crier's Meta app
//! (developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow): the code is
//! exchanged for a user token, that for a long-lived one
//! (developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived), and the
//! Page's token is read with it; a Page token got from a long-lived user token does not expire.
//! The long-lived user token (60 days) is kept too, so `refresh` can read the Page token again.
//!
//! The channel's `account.id` is the app-scoped id of the Facebook user who connected it: the id
//! Meta's deauthorization and data-deletion callbacks name. The Page is in `config`.
//!
//! Posts go to `POST /{page-id}/feed` (text, `options.link`;
//! developers.facebook.com/docs/pages-api/posts); one image to `POST /{page-id}/photos` (the bytes
//! as multipart `source`, the text as its caption; developers.facebook.com/docs/graph-api/reference/page/photos/);
//! several images are uploaded unpublished and attached to one feed post (`attached_media`); one
//! video goes up through Meta's Resumable Upload API and is published as a Page video
//! ([`video`]; its id is the post's, `DELETE /{video-id}` deletes it).
//! `options.first_comment` is then posted as the Page under the post
//! (developers.facebook.com/docs/graph-api/reference/object/comments/); a comment that fails is
//! logged, never a reason to post again. Graph has no idempotency
//! key: `lookup` answers `Unknowable`. Errors are read by [`super::failure`].

mod oauth;
mod post;
mod video;

use async_trait::async_trait;
use crier_core::Channel;
use serde::Deserialize;

use super::MetaSettings;
use crate::platform::{Platform, PlatformCall};
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, MediaRules};

/// A Page post's text, in characters (Facebook's documented post length).
pub const MAX_TEXT: usize = 63_206;
/// Images attached to one post (Crier's cap; each is one unpublished photo).
pub const MAX_IMAGES: usize = 10;
/// Photos up to 4 MB (developers.facebook.com/docs/graph-api/reference/page/photos/#requirements).
pub const MAX_IMAGE_BYTES: u64 = 4 * 1024 * 1024;
/// A first comment, in characters.
pub const MAX_COMMENT: usize = 8_000;
/// Videos up to 1 GiB: Crier's own media limit by default (`--media-max-bytes`), and the whole
/// file is held while it goes up; Facebook itself takes up to 10 GB.
pub const MAX_VIDEO_BYTES: u64 = 1024 * 1024 * 1024;
/// Videos up to 240 minutes (Facebook's limit for Page videos).
pub const MAX_VIDEO_DURATION_MS: u64 = 240 * 60 * 1000;
/// Bytes per `POST /upload:{session}` (Meta names no chunk size; small enough for one request
/// to finish well within a timeout).
pub const DEFAULT_VIDEO_CHUNK: usize = 8 * 1024 * 1024;

/// A Facebook channel's settings: the Page it posts to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FacebookConfig {
    page_id: String,
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FacebookOptions {
    /// A link shown with the post (feed posts only).
    link: Option<String>,
    /// Posted as the Page under the post once it is up.
    first_comment: Option<String>,
}

fn options(value: &serde_json::Value) -> Result<FacebookOptions, Vec<TargetIssue>> {
    let parsed: FacebookOptions = if value.is_null() {
        FacebookOptions::default()
    } else {
        serde_json::from_value(value.clone())
            .map_err(|err| vec![TargetIssue::new("/options", err.to_string())])?
    };
    let mut issues = Vec::new();
    if let Some(link) = &parsed.link
        && !url::Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
    {
        issues.push(TargetIssue::new("/options/link", "an http or https address"));
    }
    if let Some(comment) = &parsed.first_comment {
        if comment.trim().is_empty() {
            issues.push(TargetIssue::new("/options/first_comment", "a comment needs a text"));
        } else if comment.chars().count() > MAX_COMMENT {
            issues.push(TargetIssue::new(
                "/options/first_comment",
                format!("at most {MAX_COMMENT} characters"),
            ));
        }
    }
    if issues.is_empty() { Ok(parsed) } else { Err(issues) }
}

/// A Page id is digits.
pub fn page_id(raw: &str) -> Result<String, String> {
    let id = raw.trim();
    if !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(id.to_owned())
    } else {
        Err("a Facebook Page id (digits, from the Page's About section or Meta Business Suite)".into())
    }
}

pub struct Facebook {
    platform: Platform,
    settings: MetaSettings,
    /// Bytes per video upload chunk.
    video_chunk: usize,
}

impl Facebook {
    pub fn new(platform: Platform, settings: MetaSettings) -> Self {
        Self { platform, settings, video_chunk: DEFAULT_VIDEO_CHUNK }
    }

    /// Another chunk size for video uploads (at least one byte; tests use small ones).
    pub fn with_video_chunk(self, bytes: usize) -> Self {
        Self { video_chunk: bytes.max(1), ..self }
    }

    fn failure(&self, call: &PlatformCall) -> ProviderError {
        super::failure(call, self.platform.clock.now())
    }

    fn page_of(channel: &Channel) -> Result<String, ProviderError> {
        serde_json::from_value::<FacebookConfig>(channel.config.clone()).map(|c| c.page_id).map_err(|err| {
            ProviderError::Rejected {
                code: "invalid_config".into(),
                message: format!("the channel's settings are not a Facebook Page: {err}"),
            }
        })
    }
}

/// developers.facebook.com/docs/pages-api/overview#permissions, and App Review.
pub const APP_REVIEW: &str = "Meta's App Review (Advanced Access to pages_manage_posts and \
     pages_read_engagement) and a verified business are needed before Pages of people without a role on \
     the Meta app can be connected";

#[async_trait]
impl Provider for Facebook {
    fn name(&self) -> &'static str {
        "facebook"
    }
    fn connect_fields(&self) -> &'static [crate::ConnectField] {
        use crate::ConnectField;
        const FIELDS: &[ConnectField] = &[ConnectField::text("page_id", "Facebook Page id")];
        FIELDS
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        let mut issues = crate::validate::config_issues::<FacebookConfig>(config);
        if issues.is_empty()
            && let Some(Err(message)) = config.get("page_id").and_then(|v| v.as_str()).map(page_id)
        {
            issues.push(TargetIssue::new("/page_id", message));
        }
        issues
    }

    fn validate_target(&self, _channel: &Channel, text: &str, value: &serde_json::Value) -> Vec<TargetIssue> {
        let mut issues = options(value).err().unwrap_or_default();
        let count = text.chars().count();
        if count > MAX_TEXT {
            issues.push(TargetIssue::new(
                "/text",
                format!("{count} characters; a Facebook post takes at most {MAX_TEXT}"),
            ));
        }
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_TEXT, counted_in: "characters" })
    }

    /// Up to ten images (JPEG, PNG, GIF, BMP, TIFF; 4 MB each), or one video (MP4, the only video
    /// type Meta's Resumable Upload API names; 1 GiB, 240 minutes), never both.
    fn notices(&self, _channel: &Channel) -> Vec<String> {
        vec![APP_REVIEW.to_owned()]
    }

    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_IMAGES,
            max_videos: 1,
            allow_mixed: false,
            image_types: ["image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff"]
                .map(String::from)
                .to_vec(),
            video_types: vec![video::VIDEO_TYPE.to_owned()],
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
        let parsed = options(request.options).map_err(|issues| ProviderError::Rejected {
            code: "invalid_options".into(),
            message: issues
                .iter()
                .map(|i| format!("{}: {}", i.pointer, i.message))
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        let page = Self::page_of(request.channel)?;
        let tokens: oauth::Tokens = self.platform.vault.open(request.channel).await?.parse()?;
        let published = self.create_post(request, &page, &tokens, &parsed).await?;
        if let Some(comment) = parsed.first_comment.as_deref() {
            // The post is up: a failed comment must not make the worker post it again.
            if let Err(err) =
                self.comment(&published.provider_post_id, &tokens.page_access_token, comment).await
            {
                tracing::warn!(
                    channel_id = %request.channel.id, target_id = %request.target_id, error = %err,
                    "the post is up but its first comment failed"
                );
            }
        }
        Ok(published)
    }

    /// Reads the Page's token again with the stored long-lived user token.
    async fn refresh(&self, channel: &Channel) -> Result<(), ProviderError> {
        let page = Self::page_of(channel)?;
        let tokens: oauth::Tokens = self.platform.vault.open(channel).await?.parse()?;
        self.refresh_page_token(channel, &page, tokens).await
    }

    async fn lookup(&self, _request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Unknowable)
    }

    fn can_delete(&self, _channel: &Channel) -> bool {
        true
    }

    /// `DELETE /{post-id}` with the Page token (developers.facebook.com/docs/pages-api/posts#delete-a-post;
    /// the photos of a post of several stay on the Page); a video post's id is the video's, and
    /// `DELETE /{video-id}` deletes it (developers.facebook.com/docs/graph-api/reference/video/#Deleting).
    /// A post already gone (404, or Graph's
    /// code 100 subcode 33: "does not exist") counts as deleted.
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let id = request.provider_post_id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{id:?} is not a Facebook post id"),
            });
        }
        let tokens: oauth::Tokens = self.platform.vault.open(request.channel).await?.parse()?;
        let url = self.settings.graph(&format!("/{id}"));
        let call = self
            .platform
            .call(reqwest::Method::DELETE, &url, |b| b.bearer_auth(&tokens.page_access_token))
            .await?;
        let gone =
            super::GraphError::of(&call).is_some_and(|e| e.code == Some(100) && e.error_subcode == Some(33));
        if call.ok() || call.reply.status == 404 || gone {
            return Ok(());
        }
        Err(self.failure(&call))
    }

    /// Facebook Login's deauthorize and data-deletion callbacks name the user who connected the Page
    /// (the channel's `account.id`).
    fn verify_callback(
        &self,
        signed_request: &str,
        now: crier_core::Timestamp,
    ) -> Result<String, crate::CallbackError> {
        super::signed_request::verify(signed_request, &self.settings.app_secret, now)
    }
}
