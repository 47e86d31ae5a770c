//! Threads. A channel is a Threads user's long-lived token for Crier's Meta app, connected through
//! the Threads consent page (developers.facebook.com/docs/threads/get-started/get-access-tokens-and-permissions)
//! with `threads_basic`, `threads_content_publish` and `threads_delete`; the short-lived token is exchanged for a
//! 60-day one (`th_exchange_token`), refreshed ahead of expiry (`th_refresh_token`,
//! developers.facebook.com/docs/threads/get-started/long-lived-tokens).
//!
//! Publishing is two steps (developers.facebook.com/docs/threads/posts): a media container
//! (`POST /v1.0/{user-id}/threads`), polled until its `status` is `FINISHED` with a bounded
//! backoff, then `POST /v1.0/{user-id}/threads_publish`. `options.thread` follows with replies,
//! each container naming the previous post as `reply_to_id`
//! (developers.facebook.com/docs/threads/reply-management#respond-to-replies). Before posting,
//! the account's quota (`GET /{user-id}/threads_publishing_limit`: 250 posts and 1,000 replies in
//! a rolling 24 hours, developers.facebook.com/docs/threads/troubleshooting#rate-limiting) is read,
//! and an exhausted one is `RateLimited` without a call that would fail.
//!
//! Text: 500, counted as the issue and Meta's partners describe it: characters, except that an
//! emoji counts its UTF-8 bytes ([`threads_length`]). Media (developers.facebook.com/docs/threads/overview#media-specifications):
//! one image (JPEG or PNG, 8 MB) or video (MP4 or MOV, 1 GB, 5 minutes), or a carousel of 2 to
//! 20 of them, images and videos in any mix (developers.facebook.com/docs/threads/posts#carousel-posts:
//! one item container per file, `is_carousel_item=true`, each polled until `FINISHED` before the
//! `CAROUSEL` container names them in order), on the first post of the thread. Threads takes media only by a public URL
//! (`image_url`, `video_url`): each file gets a one-hour link from the [`crate::MediaSource`]
//! (crier-api's media links, under `--public-url`); without a public URL media is refused when
//! the post is accepted.
//! Errors are Graph's (see [`super::failure`]); Threads has no idempotency key: `lookup` answers
//! `Unknowable`.

mod oauth;
mod publish;

use async_trait::async_trait;
use crier_core::Channel;
use serde::Deserialize;

use super::MetaSettings;
use crate::platform::{Platform, PlatformCall};
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, MediaRules};

/// A post's text, as [`threads_length`] counts it.
pub const MAX_TEXT: usize = 500;
/// Items of one carousel, images, videos or both; a carousel has at least two
/// (developers.facebook.com/docs/threads/posts#carousel-posts).
pub const MAX_CAROUSEL: usize = 20;
/// Replies after the first post of one target (Crier's bound).
pub const MAX_REPLIES: usize = 24;
/// The Threads API version in every path.
pub const API_VERSION: &str = "v1.0";
/// Posts a profile may publish in a rolling 24 hours (developers.facebook.com/docs/threads/troubleshooting#rate-limiting).
pub const DAILY_POSTS: u32 = 250;

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ThreadsOptions {
    /// Replies that follow the post, in order, each to the one before.
    thread: Vec<String>,
    /// An existing Threads post (by id) this post replies to.
    reply_to_id: Option<String>,
}

fn options(value: &serde_json::Value) -> Result<ThreadsOptions, Vec<TargetIssue>> {
    if value.is_null() {
        return Ok(ThreadsOptions::default());
    }
    serde_json::from_value(value.clone()).map_err(|err| vec![TargetIssue::new("/options", err.to_string())])
}

/// Whether a code point is part of an emoji: pictographs, skin tones and regional indicators
/// (U+1F000–U+1FAFF), symbols and dingbats, and the joiner, variation selector, keycap and tags
/// that build emoji sequences.
fn emoji_part(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF
        | 0x200D | 0xFE0F | 0x20E3 | 0xE0020..=0xE007F)
}

/// A text's length as Threads limits it: one per character, but an emoji by its UTF-8 bytes
/// (😀 is 4, 👍🏽 is 8, a ZWJ family more).
pub fn threads_length(text: &str) -> usize {
    text.chars().map(|c| if emoji_part(c) { c.len_utf8() } else { 1 }).sum()
}

fn too_long(text: &str) -> Option<String> {
    let length = threads_length(text);
    (length > MAX_TEXT).then(|| {
        format!("{length} counted as Threads does (emoji by their UTF-8 bytes); Threads allows {MAX_TEXT}")
    })
}

pub struct Threads {
    platform: Platform,
    settings: MetaSettings,
}

impl Threads {
    pub fn new(platform: Platform, settings: MetaSettings) -> Self {
        Self { platform, settings }
    }

    fn failure(&self, call: &PlatformCall) -> ProviderError {
        super::failure(call, self.platform.clock.now())
    }

    fn api(&self, path: &str) -> String {
        format!("{}/{API_VERSION}{path}", self.settings.threads_base.trim_end_matches('/'))
    }
}

/// developers.facebook.com/docs/threads/get-started (App Review of the permissions).
pub const APP_REVIEW: &str = "Meta's App Review of threads_basic, threads_content_publish and threads_delete is \
     needed before people who are not the app's testers can be connected";

#[async_trait]
impl Provider for Threads {
    fn name(&self) -> &'static str {
        "threads"
    }

    /// A Threads channel has no settings of its own (it posts as the user).
    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        match config {
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::Object(map) if map.is_empty() => Vec::new(),
            _ => vec![TargetIssue::new("", "Threads channels have no settings")],
        }
    }

    fn validate_target(&self, _channel: &Channel, text: &str, value: &serde_json::Value) -> Vec<TargetIssue> {
        let mut issues = Vec::new();
        if text.trim().is_empty() {
            issues.push(TargetIssue::new("/text", "a Threads post without media needs a text"));
        } else if let Some(message) = too_long(text) {
            issues.push(TargetIssue::new("/text", message));
        }
        match options(value) {
            Ok(parsed) => {
                issues.extend(crate::validate::thread_issues(&parsed.thread, MAX_REPLIES, too_long));
                if let Some(id) = &parsed.reply_to_id
                    && (id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()))
                {
                    issues.push(TargetIssue::new("/options/reply_to_id", "a Threads post id (digits)"));
                }
            }
            Err(more) => issues.extend(more),
        }
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_TEXT, counted_in: "weighted" })
    }

    /// On the first post: one image or video, or a carousel of up to 20 images and videos in any
    /// mix; only with a public URL.
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_CAROUSEL,
            max_videos: MAX_CAROUSEL,
            max_items: Some(MAX_CAROUSEL),
            allow_mixed: true,
            image_types: vec!["image/jpeg".into(), "image/png".into()],
            video_types: vec!["video/mp4".into(), "video/quicktime".into()],
            max_image_bytes: Some(8 * 1024 * 1024),
            max_video_bytes: Some(1024 * 1024 * 1024),
            max_video_duration_ms: Some(5 * 60 * 1000),
            min_aspect_ratio: Some(0.1),
            max_aspect_ratio: Some(10.0),
            min_video_aspect_ratio: Some(0.01),
            max_video_aspect_ratio: Some(10.0),
            unavailable: (!self.platform.media.links_media()).then(|| crate::NEEDS_PUBLIC_URL.to_owned()),
            ..MediaRules::default()
        }
    }

    fn notices(&self, _channel: &Channel) -> Vec<String> {
        let mut notices = vec![APP_REVIEW.to_owned()];
        if !self.platform.media.links_media() {
            notices.push(format!("Media on Threads: {}", crate::NEEDS_PUBLIC_URL));
        }
        notices
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
        self.publish_thread(request, &tokens, &parsed).await
    }

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

    /// `DELETE /v1.0/{threads-media-id}` (developers.facebook.com/docs/threads/posts/delete-posts,
    /// with the `threads_delete` permission; 100 deletions a day per account) on the post's first
    /// post (a thread's replies stay). A post already gone (404, or Graph's code 100 subcode 33:
    /// "does not exist") counts as deleted. A channel connected before Crier asked for
    /// `threads_delete` is refused (Graph's code 10 or 200) until it is reconnected.
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let id = request.provider_post_id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{id:?} is not a Threads post id"),
            });
        }
        let tokens = self.usable_tokens(request.channel).await?;
        let url = self.api(&format!("/{id}"));
        let call = self
            .platform
            .call(reqwest::Method::DELETE, &url, |b| b.bearer_auth(&tokens.access_token))
            .await?;
        let gone =
            super::GraphError::of(&call).is_some_and(|e| e.code == Some(100) && e.error_subcode == Some(33));
        if call.ok() || call.reply.status == 404 || gone {
            return Ok(());
        }
        Err(self.failure(&call))
    }

    /// 250 posts per profile in a rolling 24 hours
    /// (developers.facebook.com/docs/threads/troubleshooting#rate-limiting); replies have their own
    /// 1,000, checked before publishing (`threads_publishing_limit`).
    fn daily_cap(&self, _channel: &Channel) -> Option<u32> {
        Some(DAILY_POSTS)
    }

    /// The Threads use case's deauthorize and data-deletion callbacks name the Threads user (the
    /// channel's `account.id`).
    fn verify_callback(
        &self,
        signed_request: &str,
        now: crier_core::Timestamp,
    ) -> Result<String, crate::CallbackError> {
        super::signed_request::verify(signed_request, &self.settings.app_secret, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_count_their_utf8_bytes() {
        assert_eq!(threads_length("hello"), 5);
        assert_eq!(threads_length("héllo"), 5, "accented letters are one character");
        assert_eq!(threads_length("日本"), 2);
        assert_eq!(threads_length("😀"), 4);
        assert_eq!(threads_length("👍🏽"), 8);
        assert_eq!(threads_length("❤️"), 6, "U+2764 (3 bytes) and VS16 (3 bytes)");
        assert_eq!(threads_length("🇫🇷"), 8);
    }
}
