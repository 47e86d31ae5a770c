//! Bluesky (AT Protocol). A channel is a session on the account's PDS, made with an app password
//! (`POST /v1/channels/connect {provider: "bluesky", identifier, app_password, service?}`); the
//! app password is not kept, only the session's tokens, sealed. Posts are `app.bsky.feed.post`
//! records with rich-text facets (links, mentions, hashtags as UTF-8 byte ranges), up to four
//! images with alt text or one video, and threads (`options.thread`: the replies' texts).
//!
//! Exactly once: Crier chooses each record's key (a TID derived from the target id and the
//! post's place in the thread), so a publish repeated after a crash finds the records already
//! there instead of posting them twice, and resumes a thread where it stopped.

mod facets;
mod record;
mod session;

use async_trait::async_trait;
use crier_core::{Channel, ChannelAccount};
use serde::Deserialize;
use serde_json::json;

use self::session::{Session, SessionReply};
use crate::platform::Platform;
use crate::provider::{Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit};
use crate::{ConnectError, ConnectRequest, ConnectStart, Connection, Credentials, MediaRules};

pub use facets::grapheme_len;

/// Bluesky counts a post's length in grapheme clusters.
pub const MAX_GRAPHEMES: usize = 300;
/// Posts in one thread, the first included.
pub const MAX_THREAD: usize = 25;
const DEFAULT_SERVICE: &str = "https://bsky.social";
const POST: &str = "app.bsky.feed.post";

pub struct Bluesky {
    platform: Platform,
}

/// A channel's settings: the PDS (or entryway) its account lives on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlueskyConfig {
    service: String,
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct BlueskyOptions {
    /// The replies that follow the post, in order, each as its own record.
    thread: Vec<String>,
    /// BCP 47 language tags of the text (at most 3).
    langs: Vec<String>,
}

fn options(value: &serde_json::Value) -> Result<BlueskyOptions, String> {
    if value.is_null() {
        return Ok(BlueskyOptions::default());
    }
    serde_json::from_value(value.clone()).map_err(|err| err.to_string())
}

fn service(channel: &Channel) -> Result<String, ProviderError> {
    let config: BlueskyConfig = serde_json::from_value(channel.config.clone()).map_err(|err| {
        ProviderError::Rejected { code: "invalid_channel_config".into(), message: err.to_string() }
    })?;
    Ok(config.service.trim_end_matches('/').to_owned())
}

fn xrpc(channel: &Channel, method: &str) -> Result<String, ProviderError> {
    Ok(format!("{}/xrpc/{method}", service(channel)?))
}

impl Bluesky {
    pub fn new(platform: Platform) -> Self {
        Self { platform }
    }

    /// The profile's display name and avatar, read from the repo itself (any PDS has it; an
    /// AppView may not be reachable from a self-hosted network).
    async fn profile(&self, service: &str, session: &Session) -> (Option<String>, Option<String>) {
        let url = format!("{service}/xrpc/com.atproto.repo.getRecord");
        let query =
            [("repo", session.did.as_str()), ("collection", "app.bsky.actor.profile"), ("rkey", "self")];
        let Ok(call) = self.platform.connect_call(reqwest::Method::GET, &url, |b| b.query(&query)).await
        else {
            return (None, None);
        };
        if !call.ok() {
            return (None, None);
        }
        let Ok(record) = call.json::<serde_json::Value>() else { return (None, None) };
        let value = &record["value"];
        let name = value["displayName"].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let avatar = value["avatar"]["ref"]["$link"]
            .as_str()
            .map(|cid| format!("{service}/xrpc/com.atproto.sync.getBlob?did={}&cid={cid}", session.did));
        (name, avatar)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectParams {
    identifier: String,
    app_password: String,
    #[serde(default)]
    service: Option<String>,
}

#[async_trait]
impl Provider for Bluesky {
    fn name(&self) -> &'static str {
        "bluesky"
    }

    fn connect_fields(&self) -> &'static [crate::ConnectField] {
        use crate::ConnectField;
        const FIELDS: &[ConnectField] = &[
            ConnectField::text("identifier", "Handle or e-mail address"),
            ConnectField::secret(
                "app_password",
                "App password (Settings → Privacy and security → App passwords)",
            ),
            ConnectField::text("service", "Your PDS, if not bsky.social (https://…)").optional(),
        ];
        FIELDS
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        crate::validate::config_issues::<BlueskyConfig>(config)
    }

    fn validate_target(
        &self,
        _channel: &Channel,
        text: &str,
        options_value: &serde_json::Value,
    ) -> Vec<TargetIssue> {
        let mut issues = Vec::new();
        let count = grapheme_len(text);
        if count > MAX_GRAPHEMES {
            issues.push(TargetIssue::new(
                "/text",
                format!("{count} characters; Bluesky allows {MAX_GRAPHEMES} (counted as graphemes)"),
            ));
        }
        match options(options_value) {
            Err(err) => issues.push(TargetIssue::new("/options", err)),
            Ok(parsed) => {
                issues.extend(crate::validate::thread_issues(&parsed.thread, MAX_THREAD - 1, |reply| {
                    let count = grapheme_len(reply);
                    (count > MAX_GRAPHEMES)
                        .then(|| format!("{count} characters; each reply needs 1 to {MAX_GRAPHEMES}"))
                }));
                if parsed.langs.len() > 3 || parsed.langs.iter().any(|l| l.is_empty() || l.len() > 35) {
                    issues.push(TargetIssue::new("/options/langs", "at most 3 language tags (BCP 47)"));
                }
            }
        }
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_GRAPHEMES, counted_in: "graphemes" })
    }

    /// As `app.bsky.embed.images` and `app.bsky.embed.video` allow.
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: 4,
            max_videos: 1,
            image_types: vec![
                "image/jpeg".into(),
                "image/png".into(),
                "image/webp".into(),
                "image/gif".into(),
            ],
            video_types: vec!["video/mp4".into()],
            max_image_bytes: Some(1_000_000),
            max_video_bytes: Some(100_000_000),
            max_video_duration_ms: Some(180_000),
            ..MediaRules::default()
        }
    }

    async fn connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        let params: ConnectParams = serde_json::from_value(serde_json::Value::Object(request.params.clone()))
            .map_err(|err| ConnectError::invalid("", err.to_string()))?;
        let service = params.service.as_deref().unwrap_or(DEFAULT_SERVICE).trim_end_matches('/').to_owned();
        if url::Url::parse(&service).is_err() {
            return Err(ConnectError::invalid("/service", "not a URL"));
        }
        let url = format!("{service}/xrpc/com.atproto.server.createSession");
        let body = json!({"identifier": params.identifier.trim(), "password": params.app_password});
        let call = self.platform.connect_call(reqwest::Method::POST, &url, |b| b.json(&body)).await?;
        if !call.ok() {
            return Err(match call.reply.status {
                400 | 401 => ConnectError::invalid(
                    "/app_password",
                    format!("Bluesky refused the identifier or app password: {}", call.error_message()),
                ),
                _ => call.connect_failure(),
            });
        }
        let session: Session = call
            .json::<SessionReply>()
            .map_err(|err| ConnectError::Unavailable { message: err.to_string() })?
            .into();
        // A session made with the account's own password can do anything, including delete the
        // account: Crier only holds app-password sessions.
        if session::claims(&session.access_jwt).scope.as_deref() == Some("com.atproto.access") {
            return Err(ConnectError::invalid(
                "/app_password",
                "that is the account's main password; create an app password (Settings → App passwords) and use it",
            ));
        }
        let (display_name, avatar_url) = self.profile(&service, &session).await;
        Ok(ConnectStart::Connected(Connection {
            account: ChannelAccount {
                id: session.did.clone(),
                handle: session.handle.clone(),
                display_name,
                avatar_url,
            },
            config: json!({"service": service}),
            credentials: Credentials::to_json(&session),
        }))
    }

    async fn disconnect(&self, channel: &Channel, credentials: &Credentials) -> Result<(), ProviderError> {
        let session: Session = credentials.parse()?;
        let url = xrpc(channel, "com.atproto.server.deleteSession")?;
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| b.bearer_auth(&session.refresh_jwt)).await?;
        // A session already expired or revoked is as good as deleted.
        if call.ok() || session::is_auth_error(call.reply.status, call.error_name().as_deref()) {
            return Ok(());
        }
        Err(call.failure(self.platform.clock.now()))
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, ProviderError> {
        let session = self.session(request.channel).await?;
        self.publish_thread(request, &session).await
    }

    fn can_delete(&self, _channel: &Channel) -> bool {
        true
    }

    /// `com.atproto.repo.deleteRecord`
    /// (docs.bsky.app/docs/api/com-atproto-repo-delete-record) on the post's first record, at the
    /// key Crier chose for it (a thread's replies stay). Deleting a record that is gone succeeds.
    async fn delete(&self, request: &crate::DeleteRequest<'_>) -> Result<(), ProviderError> {
        let session = self.session(request.channel).await?;
        let expected = format!("at://{}/{POST}/", session.did);
        let rkey = record::record_key(request.target_id, 0);
        if request.provider_post_id != format!("{expected}{rkey}") {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{:?} is not this channel's post", request.provider_post_id),
            });
        }
        let url = xrpc(request.channel, "com.atproto.repo.deleteRecord")?;
        let body = serde_json::json!({"repo": session.did, "collection": POST, "rkey": rkey});
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| b.bearer_auth(&session.access_jwt).json(&body))
            .await?;
        if call.ok() { Ok(()) } else { Err(self.failure(&call)) }
    }

    async fn refresh(&self, channel: &Channel) -> Result<(), ProviderError> {
        let session: Session = self.platform.vault.open(channel).await?.parse()?;
        self.refresh_session(channel, &session).await.map(|_| ())
    }

    async fn lookup(&self, request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        let session = self.session(request.channel).await?;
        let parsed = options(request.options)
            .map_err(|message| ProviderError::Rejected { code: "invalid_options".into(), message })?;
        let mut root = None;
        for index in 0..=parsed.thread.len() {
            match self.existing(request, &session, index).await? {
                Some(found) if index == 0 => root = Some(found),
                Some(_) => {}
                // Some records missing: publishing again creates only those (the keys are Crier's).
                None => return Ok(Lookup::ResendIsSafe),
            }
        }
        Ok(match root {
            Some(root) => Lookup::Published(record::published(&session, &root.uri)),
            None => Lookup::ResendIsSafe,
        })
    }
}
