//! Mastodon (and servers speaking its API). A channel is an OAuth token on the account's own
//! instance (`POST /v1/channels/connect {provider: "mastodon", instance}`, then the instance's
//! consent page); the token and the app Crier registered for it are sealed, the instance's
//! address and limits kept in the clear. Posts are statuses with up to four images (with alt
//! text) or one video, options for audience, content warning and language, and threads
//! (`options.thread`: the replies' texts).
//!
//! No duplicates, as far as Mastodon allows: each status is sent with an `Idempotency-Key` made
//! of the target id and its place in the thread. Mastodon keeps a key for an hour, so a publish
//! repeated within the hour gets the statuses already made back; after that there is no way to
//! ask Mastodon whether a status was made (see `resend_rule`).

mod instance;
mod oauth;
mod status;
mod text;

use async_trait::async_trait;
use crier_core::{AttemptId, Channel, Timestamp};
use serde::{Deserialize, Serialize};

use self::instance::Limits;
use self::oauth::Tokens;
use crate::platform::Platform;
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials, MediaRules,
};

pub use text::character_count;

/// Posts in one thread, the first included: Crier's own bound, so one target cannot spend a
/// large part of the account's rate limit (Mastodon sets none).
pub const MAX_THREAD: usize = 25;
/// An interrupted attempt younger than this may be re-sent: half the hour for which Mastodon
/// remembers an `Idempotency-Key` (see `resend_rule`).
const RESEND_SAFE_FOR: chrono::Duration = chrono::Duration::minutes(30);
/// How far ahead of this process's clock an attempt's start may seem (another worker's clock).
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(1);

pub struct Mastodon {
    platform: Platform,
}

impl Mastodon {
    pub fn new(platform: Platform) -> Self {
        Self { platform }
    }
}

/// A channel's settings: the instance's address (`https://host[:port]`) and its limits, read
/// when the channel was connected.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MastodonConfig {
    instance: String,
    #[serde(default)]
    limits: Limits,
}

/// Who can see a status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Visibility {
    Public,
    Unlisted,
    Private,
    Direct,
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct MastodonOptions {
    /// The account's default when absent.
    visibility: Option<Visibility>,
    /// A content warning shown in place of the text until opened (counted with the text).
    spoiler_text: Option<String>,
    /// Hides the media behind a warning (Mastodon sets it anyway with a content warning).
    sensitive: Option<bool>,
    /// ISO 639 code of the text (`en`, `pt-BR`); Mastodon guesses when absent.
    language: Option<String>,
    /// The replies that follow the post, in order.
    thread: Vec<String>,
}

fn options(value: &serde_json::Value) -> Result<MastodonOptions, String> {
    if value.is_null() {
        return Ok(MastodonOptions::default());
    }
    serde_json::from_value(value.clone()).map_err(|err| err.to_string())
}

fn config(channel: &Channel) -> Result<MastodonConfig, ProviderError> {
    let config: MastodonConfig = serde_json::from_value(channel.config.clone()).map_err(|err| {
        ProviderError::Rejected { code: "invalid_channel_config".into(), message: err.to_string() }
    })?;
    Ok(MastodonConfig { instance: config.instance.trim_end_matches('/').to_owned(), ..config })
}

/// The channel's limits. Settings are checked when the channel is created; should they not read,
/// Mastodon's defaults judge the post and the publish itself reports the broken settings.
fn limits(channel: &Channel) -> Limits {
    config(channel).map(|c| c.limits).unwrap_or_default()
}

/// ISO 639-1 or -3, optionally with a region (`en`, `fil`, `pt-BR`), as Mastodon takes them.
fn valid_language(code: &str) -> bool {
    let (language, region) = code.split_once('-').map_or((code, None), |(l, r)| (l, Some(r)));
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// When an attempt started: attempt ids are ULIDs (see `crier_core::id`), made by the worker
/// when it opens the attempt, before any call to the platform.
fn attempt_started(attempt: AttemptId) -> Option<Timestamp> {
    let millis = ulid::Ulid::from(attempt.as_uuid()).timestamp_ms();
    chrono::DateTime::from_timestamp_millis(i64::try_from(millis).ok()?)
}

/// Whether re-sending an interrupted attempt is deduplicated by Mastodon. Every status the
/// attempt may have made was sent after it started, with the target's keys, and Mastodon keeps
/// those keys for an hour from then. The re-send is not immediate (the worker queues it, media
/// are uploaded and processed first, a rate limit can pause the channel), so only half the
/// window is counted on: an attempt younger than 30 minutes may be re-sent; an older one, or one
/// whose start cannot be read, cannot be told apart from a publish that went through.
fn resend_rule(attempt: AttemptId, now: Timestamp) -> Lookup {
    match attempt_started(attempt) {
        Some(started) if started <= now + CLOCK_SKEW && now - started < RESEND_SAFE_FOR => {
            Lookup::ResendIsSafe
        }
        _ => Lookup::Unknowable,
    }
}

#[async_trait]
impl Provider for Mastodon {
    fn name(&self) -> &'static str {
        "mastodon"
    }

    fn connect_fields(&self) -> &'static [crate::ConnectField] {
        use crate::ConnectField;
        const FIELDS: &[ConnectField] =
            &[ConnectField::text("instance", "Your instance (e.g. mastodon.social)")];
        FIELDS
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        let parsed = match serde_json::from_value::<MastodonConfig>(config.clone()) {
            Ok(parsed) => parsed,
            Err(err) => return vec![TargetIssue::new("", err.to_string())],
        };
        let mut issues = Vec::new();
        if instance::normalise_instance(&parsed.instance).is_err() {
            issues.push(TargetIssue::new(
                "/instance",
                "not an instance's address (e.g. https://mastodon.social)",
            ));
        }
        if parsed.limits.max_characters == 0 {
            issues.push(TargetIssue::new("/limits/max_characters", "must be at least 1"));
        }
        issues
    }

    fn validate_target(
        &self,
        channel: &Channel,
        text: &str,
        options_value: &serde_json::Value,
    ) -> Vec<TargetIssue> {
        let limits = limits(channel);
        let max = limits.max_characters;
        let url_weight = limits.characters_reserved_per_url;
        let mut issues = Vec::new();
        let parsed = match options(options_value) {
            Ok(parsed) => Some(parsed),
            Err(err) => {
                issues.push(TargetIssue::new("/options", err));
                None
            }
        };
        let spoiler = parsed.as_ref().and_then(|p| p.spoiler_text.as_deref()).unwrap_or_default();
        let with_warning = if spoiler.is_empty() { "" } else { ", content warning included" };
        let count = character_count(text, spoiler, url_weight);
        if count > max {
            issues.push(TargetIssue::new(
                "/text",
                format!(
                    "{count} characters{with_warning}; this instance allows {max} \
                     (each link counts as {url_weight}, a mention without its @domain)"
                ),
            ));
        }
        let Some(parsed) = &parsed else { return issues };
        issues.extend(crate::validate::thread_issues(&parsed.thread, MAX_THREAD - 1, |reply| {
            let count = character_count(reply, spoiler, url_weight);
            (count > max).then(|| format!("{count} characters{with_warning}; each reply needs 1 to {max}"))
        }));
        if let Some(language) = &parsed.language
            && !valid_language(language)
        {
            issues.push(TargetIssue::new("/options/language", "an ISO 639 language code (e.g. en, pt-BR)"));
        }
        issues
    }

    /// Grapheme clusters, as Mastodon counts them, with links and mentions weighted (see
    /// [`character_count`]).
    fn text_limit(&self, channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: limits(channel).max_characters, counted_in: "graphemes" })
    }

    /// Images or one video (Mastodon refuses a video beside anything else), within the sizes
    /// and types the instance announced.
    fn media_rules(&self, channel: &Channel) -> MediaRules {
        let limits = limits(channel);
        MediaRules {
            max_images: limits.max_media_attachments,
            max_videos: 1,
            allow_mixed: false,
            image_types: limits.image_types,
            video_types: limits.video_types,
            max_image_bytes: Some(limits.image_size_limit),
            max_video_bytes: Some(limits.video_size_limit),
            ..MediaRules::default()
        }
    }

    async fn connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        self.start_connect(request).await
    }

    async fn finish_connect(&self, request: &CallbackRequest<'_>) -> Result<Connection, ConnectError> {
        self.complete_connect(request).await
    }

    /// `POST /oauth/revoke` with the app's credentials.
    async fn disconnect(&self, channel: &Channel, credentials: &Credentials) -> Result<(), ProviderError> {
        let instance = config(channel)?.instance;
        let tokens: Tokens = credentials.parse()?;
        let url = format!("{instance}/oauth/revoke");
        let form = [
            ("client_id", tokens.client_id.as_str()),
            ("client_secret", tokens.client_secret.as_str()),
            ("token", tokens.access_token.as_str()),
        ];
        let call = self.platform.call(reqwest::Method::POST, &url, |b| b.form(&form)).await?;
        // A token already revoked answers 200 (RFC 7009); an app the instance no longer knows
        // (removed by the user, its tokens with it) answers 401 `invalid_client`, and some servers
        // answer 400 for a token that is gone. Either way nothing is left to revoke.
        if call.ok() || matches!(call.reply.status, 400 | 401) {
            return Ok(());
        }
        Err(self.failure(&call))
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, ProviderError> {
        let instance = config(request.channel)?.instance;
        let parsed = options(request.options)
            .map_err(|message| ProviderError::Rejected { code: "invalid_options".into(), message })?;
        let tokens: Tokens = self.platform.vault.open(request.channel).await?.parse()?;
        self.publish_thread(request, &instance, &tokens, &parsed).await
    }

    /// Mastodon's tokens do not expire and come without a refresh token: a refused token was
    /// revoked (by the user, or with the app), and only reconnecting makes a new one.
    async fn refresh(&self, _channel: &Channel) -> Result<(), ProviderError> {
        Err(ProviderError::AuthExpired {
            message: "Mastodon refused the channel's token, which cannot be refreshed; reconnect the channel"
                .into(),
        })
    }

    fn can_delete(&self, _channel: &Channel) -> bool {
        true
    }

    /// `DELETE /api/v1/statuses/:id` (https://docs.joinmastodon.org/methods/statuses/#delete)
    /// on the post's first status (a thread's replies stay). A status already gone (404) counts
    /// as deleted.
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let instance = config(request.channel)?.instance;
        let id = request.provider_post_id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{id:?} is not a Mastodon status id"),
            });
        }
        let tokens: Tokens = self.platform.vault.open(request.channel).await?.parse()?;
        let url = format!("{instance}/api/v1/statuses/{id}");
        let call = self
            .platform
            .call(reqwest::Method::DELETE, &url, |b| b.bearer_auth(&tokens.access_token))
            .await?;
        if call.ok() || call.reply.status == 404 {
            return Ok(());
        }
        Err(self.failure(&call))
    }

    /// Mastodon cannot be asked whether a status was made with a key, so this answers from time
    /// alone: `ResendIsSafe` while the keys of the interrupted attempt are surely still
    /// remembered (see `resend_rule`), `Unknowable` after.
    async fn lookup(&self, request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        Ok(resend_rule(request.attempt_id, self.platform.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt_at(started: Timestamp) -> AttemptId {
        let millis = u64::try_from(started.timestamp_millis()).unwrap();
        AttemptId::from_uuid(ulid::Ulid::from_parts(millis, 42).into())
    }

    #[test]
    fn resending_is_safe_only_well_inside_the_idempotency_window() {
        let now = chrono::Utc::now();
        assert_eq!(
            attempt_started(attempt_at(now)).map(|t| t.timestamp_millis()),
            Some(now.timestamp_millis())
        );
        assert_eq!(resend_rule(AttemptId::generate(), now), Lookup::ResendIsSafe);
        assert_eq!(resend_rule(attempt_at(now - chrono::Duration::minutes(29)), now), Lookup::ResendIsSafe);
        assert_eq!(resend_rule(attempt_at(now - chrono::Duration::minutes(31)), now), Lookup::Unknowable);
        assert_eq!(resend_rule(attempt_at(now - chrono::Duration::hours(3)), now), Lookup::Unknowable);
        assert_eq!(resend_rule(attempt_at(now + chrono::Duration::minutes(10)), now), Lookup::Unknowable);
    }

    #[test]
    fn languages_are_iso_639_codes() {
        for good in ["en", "fil", "pt-BR", "zh-Hant"] {
            assert!(valid_language(good), "{good}");
        }
        for bad in ["", "e", "english", "EN", "en-", "en-toolongregion"] {
            assert!(!valid_language(bad), "{bad}");
        }
    }
}
