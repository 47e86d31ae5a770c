//! Threads. A channel is a Threads user's long-lived token for Crier's Meta app, connected through
//! the Threads consent page (developers.facebook.com/docs/threads/get-started/get-access-tokens-and-permissions)
//! with `threads_basic` and `threads_content_publish`; the short-lived token is exchanged for a
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
//! emoji counts its UTF-8 bytes ([`threads_length`]). Media: none yet: Threads takes images and
//! videos only by a public URL (`image_url`, `video_url`), which Crier does not give its media.
//! Errors are Graph's (see [`super::failure`]); Threads has no idempotency key: `lookup` answers
//! `Unknowable`.

mod oauth;
mod publish;

use async_trait::async_trait;
use crier_core::Channel;
use serde::Deserialize;

use super::MetaSettings;
use crate::platform::{Platform, PlatformCall};
use crate::provider::{Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit};
use crate::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection};

/// A post's text, as [`threads_length`] counts it.
pub const MAX_TEXT: usize = 500;
/// Replies after the first post of one target (Crier's bound).
pub const MAX_REPLIES: usize = 24;
/// The Threads API version in every path.
pub const API_VERSION: &str = "v1.0";

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
        if !request.media.is_empty() {
            return Err(ProviderError::Rejected {
                code: "media_needs_public_url".into(),
                message: "Threads takes media only from a public URL, and Crier does not serve its media \
                          publicly; post text only"
                    .into(),
            });
        }
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
