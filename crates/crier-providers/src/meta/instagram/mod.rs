//! Instagram. A channel is one Instagram professional (business or creator) account, reached
//! through the Facebook Page it is connected to.
//!
//! Which of Meta's two Instagram APIs: the **Instagram API with Facebook Login for Business**
//! (developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login), at
//! `graph.facebook.com`, rather than the Instagram API with Instagram Login at
//! `graph.instagram.com`. It signs in through the same Facebook Login and the same Meta app as
//! Facebook Pages, so a deployment needs no Instagram app id and secret of its own (one
//! [`MetaSettings`] serves Facebook, Instagram and Threads), and Graph's errors, versions and rate
//! limit headers are read as for Facebook ([`super::failure`]). The price: the account must be
//! connected to a Page the signing-in user manages (`config.page_id` names it).
//!
//! Connecting (developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login/get-started):
//! Facebook Login with `instagram_basic`, `instagram_content_publish`,
//! `instagram_manage_comments` (the first comment), `pages_show_list` and `pages_read_engagement`;
//! the code is exchanged for a user token and that for a long-lived one (about 60 days), and the
//! Page's `instagram_business_account` is read. Publishing takes the user token
//! (developers.facebook.com/docs/instagram-platform/content-publishing: "All requests must
//! include the app user's User access token"), which is exchanged again for a fresh 60-day one
//! when it comes within a week of expiry and after Meta refuses it (`refresh`); an expired one
//! cannot be: the user connects again.
//!
//! Publishing (developers.facebook.com/docs/instagram-platform/content-publishing): a container
//! (`POST /{ig-user-id}/media`) for one image (`image_url`) or one reel (`media_type=REELS`,
//! `video_url`), or for a carousel one per file (`is_carousel_item`: an image by `image_url`, a
//! video as `media_type=VIDEO` + `video_url`, reels cannot be carousel items), each polled
//! until `FINISHED` before a `CAROUSEL` container names them in order; that is polled
//! (`status_code`) until `FINISHED` with a bounded backoff too; then
//! `POST /{ig-user-id}/media_publish`. Instagram fetches media itself, from a public address:
//! each file is given a one-hour link by the [`crate::MediaSource`] (crier-api's media links,
//! under `--public-url`); without a public URL, media (and so any Instagram post) is refused when
//! the post is accepted. Before publishing, `GET /{ig-user-id}/content_publishing_limit` is read
//! and a used-up quota is `RateLimited` for an hour. `options.first_comment` is then posted under
//! the post (`POST /{ig-media-id}/comments`); a comment that fails is logged, never a reason to
//! post again.
//!
//! Limits, checked at accept time (developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media):
//! media is required; a caption of at most 2,200 characters, 30 hashtags and 20 @-mentions;
//! images JPEG, at most 8 MB, aspect ratio 4:5 to 1.91:1; a reel MP4 or MOV, at most 300 MB,
//! 3 seconds to 15 minutes, aspect ratio 0.01:1 to 10:1; a carousel of up to 10 images and videos
//! in any mix, its videos MP4 or MOV, at most 100 MB, 3 to 60 seconds, 4:5 to 16:9
//! ([`MAX_CAROUSEL_VIDEO_BYTES`]). The API has no way to delete a post (nor does Crier offer one), and
//! no idempotency key: `lookup` answers `Unknowable`. Apps need Meta's App Review (Advanced Access
//! for these permissions) before accounts without a role on the app can connect.

mod oauth;
mod publish;

use async_trait::async_trait;
use crier_core::{Channel, MediaFacts, MediaKind};
use serde::Deserialize;

use super::MetaSettings;
use crate::platform::{Platform, PlatformCall};
use crate::provider::{Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit};
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, MediaRules};

/// A caption, in characters.
pub const MAX_CAPTION: usize = 2_200;
pub const MAX_HASHTAGS: usize = 30;
pub const MAX_MENTIONS: usize = 20;
/// Items of a carousel: images, videos or both
/// (developers.facebook.com/docs/instagram-platform/content-publishing#carousel-posts).
pub const MAX_CAROUSEL: usize = 10;
pub const MAX_IMAGE_BYTES: u64 = 8 * 1024 * 1024;
pub const MAX_REEL_BYTES: u64 = 300 * 1024 * 1024;
/// A carousel's video (`media_type=VIDEO`, not a reel): the video specification Meta's reference
/// gives for `VIDEO` containers (developers.facebook.com/docs/instagram-api/reference/ig-user/media#video-specifications,
/// from before single feed videos became reels): at most 100 MB, 3 to 60 seconds, 4:5 to 16:9.
/// The current page has tables only for images, reels and stories; these narrower limits refuse a
/// video when the post is accepted rather than leave it to fail at Meta.
pub const MAX_CAROUSEL_VIDEO_BYTES: u64 = 100 * 1024 * 1024;
pub const MIN_CAROUSEL_VIDEO_MS: u64 = 3_000;
pub const MAX_CAROUSEL_VIDEO_MS: u64 = 60_000;
pub const MIN_CAROUSEL_VIDEO_RATIO: f64 = 0.8;
pub const MAX_CAROUSEL_VIDEO_RATIO: f64 = 16.0 / 9.0;
/// A first comment, in characters (a comment is held to the caption's limits).
pub const MAX_COMMENT: usize = 2_200;

/// Shown with every Instagram channel.
pub const APP_REVIEW: &str = "Meta's App Review (Advanced Access to instagram_basic, instagram_content_publish, \
     instagram_manage_comments, pages_show_list and pages_read_engagement) is needed before accounts without a \
     role on the Meta app can be connected";

/// An Instagram channel's settings: the Page the account is connected to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstagramConfig {
    #[expect(dead_code, reason = "checked by validate_config: the Page the account was found through")]
    page_id: String,
    /// The Instagram account's id (`ig-user-id`), read when connecting.
    ig_user_id: String,
    /// The app-scoped id of the Facebook user who connected it: Facebook Login's deauthorize and
    /// data-deletion callbacks name this user, and reach this channel through it.
    #[expect(dead_code, reason = "read by the store's platform account index, not here")]
    #[serde(default)]
    meta_user_id: Option<String>,
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct InstagramOptions {
    /// Posted as the account under the post once it is up.
    first_comment: Option<String>,
}

fn options(value: &serde_json::Value) -> Result<InstagramOptions, Vec<TargetIssue>> {
    let parsed: InstagramOptions = if value.is_null() {
        InstagramOptions::default()
    } else {
        serde_json::from_value(value.clone())
            .map_err(|err| vec![TargetIssue::new("/options", err.to_string())])?
    };
    let mut issues = Vec::new();
    if let Some(comment) = &parsed.first_comment {
        if comment.trim().is_empty() {
            issues.push(TargetIssue::new("/options/first_comment", "a comment needs a text"));
        } else {
            issues.extend(
                text_issues(comment, MAX_COMMENT)
                    .into_iter()
                    .map(|message| TargetIssue::new("/options/first_comment", message)),
            );
        }
    }
    if issues.is_empty() { Ok(parsed) } else { Err(issues) }
}

/// How many `#tags` (or `@names`) a text holds: the mark at the start or after a character that
/// is not part of a word, followed by a word character.
pub fn count_marked(text: &str, mark: char) -> usize {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let chars: Vec<char> = text.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| {
            c == mark
                && (i == 0 || !word(chars[i - 1]))
                && chars.get(i + 1).is_some_and(|&next| word(next) || (mark == '@' && next == '.'))
        })
        .count()
}

/// What is wrong with a caption or comment: its length, hashtags and mentions.
fn text_issues(text: &str, max: usize) -> Vec<String> {
    let mut issues = Vec::new();
    let count = text.chars().count();
    if count > max {
        issues.push(format!("{count} characters; Instagram takes at most {max}"));
    }
    let hashtags = count_marked(text, '#');
    if hashtags > MAX_HASHTAGS {
        issues.push(format!("{hashtags} hashtags; Instagram takes at most {MAX_HASHTAGS}"));
    }
    let mentions = count_marked(text, '@');
    if mentions > MAX_MENTIONS {
        issues.push(format!("{mentions} @-mentions; Instagram takes at most {MAX_MENTIONS}"));
    }
    issues
}

/// What one video of a carousel must be (see [`MAX_CAROUSEL_VIDEO_BYTES`]).
fn carousel_video_rules() -> MediaRules {
    MediaRules {
        // The types are `media_rules`' to check (the same for reels), so said once.
        max_videos: 1,
        max_video_bytes: Some(MAX_CAROUSEL_VIDEO_BYTES),
        min_video_aspect_ratio: Some(MIN_CAROUSEL_VIDEO_RATIO),
        max_video_aspect_ratio: Some(MAX_CAROUSEL_VIDEO_RATIO),
        min_video_duration_ms: Some(MIN_CAROUSEL_VIDEO_MS),
        max_video_duration_ms: Some(MAX_CAROUSEL_VIDEO_MS),
        ..MediaRules::default()
    }
}

pub struct Instagram {
    platform: Platform,
    settings: MetaSettings,
}

impl Instagram {
    pub fn new(platform: Platform, settings: MetaSettings) -> Self {
        Self { platform, settings }
    }

    fn failure(&self, call: &PlatformCall) -> ProviderError {
        publish::failure(call, self.platform.clock.now())
    }

    fn config_of(channel: &Channel) -> Result<InstagramConfig, ProviderError> {
        serde_json::from_value::<InstagramConfig>(channel.config.clone()).map_err(|err| {
            ProviderError::Rejected {
                code: "invalid_config".into(),
                message: format!("the channel's settings are not an Instagram account: {err}"),
            }
        })
    }
}

/// Posts an account may publish through the API in a rolling 24 hours
/// (developers.facebook.com/docs/instagram-platform/content-publishing#rate-limit); the live count
/// is read from `content_publishing_limit` before each publish.
pub const DAILY_POSTS: u32 = 100;

#[async_trait]
impl Provider for Instagram {
    fn name(&self) -> &'static str {
        "instagram"
    }

    fn connect_fields(&self) -> &'static [crate::ConnectField] {
        use crate::ConnectField;
        const FIELDS: &[ConnectField] = &[ConnectField::text(
            "page_id",
            "Facebook Page id (the Page the Instagram account is connected to)",
        )];
        FIELDS
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        let mut issues = crate::validate::config_issues::<InstagramConfig>(config);
        if issues.is_empty() {
            for field in ["page_id", "ig_user_id"] {
                if let Some(Err(message)) =
                    config.get(field).and_then(|v| v.as_str()).map(super::facebook::page_id)
                {
                    issues.push(TargetIssue::new(&format!("/{field}"), message));
                }
            }
        }
        issues
    }

    fn validate_target(&self, _channel: &Channel, text: &str, value: &serde_json::Value) -> Vec<TargetIssue> {
        let mut issues = options(value).err().unwrap_or_default();
        issues.extend(text_issues(text, MAX_CAPTION).into_iter().map(|m| TargetIssue::new("/text", m)));
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_CAPTION, counted_in: "characters" })
    }

    /// One JPEG image (8 MB, 4:5 to 1.91:1), one reel, or a carousel of up to ten images and
    /// videos (a carousel's videos are held to narrower limits: `validate_with_media`); only with
    /// a public URL.
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_CAROUSEL,
            max_videos: MAX_CAROUSEL,
            max_items: Some(MAX_CAROUSEL),
            allow_mixed: true,
            media_required: true,
            image_types: vec!["image/jpeg".into()],
            video_types: vec!["video/mp4".into(), "video/quicktime".into()],
            max_image_bytes: Some(MAX_IMAGE_BYTES),
            max_video_bytes: Some(MAX_REEL_BYTES),
            min_aspect_ratio: Some(0.8),
            max_aspect_ratio: Some(1.91),
            min_video_aspect_ratio: Some(0.01),
            max_video_aspect_ratio: Some(10.0),
            min_video_duration_ms: Some(3_000),
            max_video_duration_ms: Some(15 * 60 * 1000),
            unavailable: (!self.platform.media.links_media()).then(|| crate::NEEDS_PUBLIC_URL.to_owned()),
            ..MediaRules::default()
        }
    }

    /// A video among several files is a carousel item (`media_type=VIDEO`), not a reel: it is
    /// held to [`carousel_video_rules`] on top of `media_rules`.
    fn validate_with_media(
        &self,
        _channel: &Channel,
        _options: &serde_json::Value,
        media: &[MediaFacts],
    ) -> Vec<TargetIssue> {
        if media.len() < 2 {
            return Vec::new();
        }
        let rules = carousel_video_rules();
        media
            .iter()
            .enumerate()
            .filter(|(_, facts)| facts.kind == MediaKind::Video)
            .flat_map(|(i, facts)| {
                rules.check(std::slice::from_ref(facts)).into_iter().map(move |issue| {
                    TargetIssue::new(&format!("/media/{i}"), format!("in a carousel, {}", issue.message))
                })
            })
            .collect()
    }

    fn daily_cap(&self, _channel: &Channel) -> Option<u32> {
        Some(DAILY_POSTS)
    }

    fn notices(&self, _channel: &Channel) -> Vec<String> {
        let mut notices = vec![APP_REVIEW.to_owned()];
        if !self.platform.media.links_media() {
            notices.push(format!("Instagram posts need media, and {}", crate::NEEDS_PUBLIC_URL));
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
        let config = Self::config_of(request.channel)?;
        let tokens = self.usable_tokens(request.channel).await?;
        let published = self.publish_media(request, &config.ig_user_id, &tokens.access_token).await?;
        if let Some(comment) = parsed.first_comment.as_deref() {
            // The post is up: a failed comment must not make the worker post it again.
            if let Err(err) = self.comment(&published.provider_post_id, &tokens.access_token, comment).await {
                tracing::warn!(
                    channel_id = %request.channel.id, target_id = %request.target_id, error = %err,
                    "the Instagram post is up but its first comment failed"
                );
            }
        }
        Ok(published)
    }

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

    #[test]
    fn hashtags_and_mentions_are_counted_as_instagram_links_them() {
        assert_eq!(count_marked("#one #two and #three", '#'), 3);
        assert_eq!(count_marked("a#b c# #_x ##y", '#'), 2, "mid-word and bare marks do not count");
        assert_eq!(count_marked("@crier.bakery and mail@example.com @x", '@'), 2);
        let tags = (0..31).map(|i| format!("#t{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(text_issues(&tags, MAX_CAPTION).len(), 1);
        assert!(text_issues(&"x".repeat(MAX_CAPTION), MAX_CAPTION).is_empty());
        assert_eq!(text_issues(&"x".repeat(MAX_CAPTION + 1), MAX_CAPTION).len(), 1);
    }
}
