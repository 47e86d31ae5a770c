//! Discord, through an incoming webhook (discord.com/developers/docs/resources/webhook). A
//! channel is a webhook the user made in the channel's settings (Integrations → Webhooks):
//! `POST /v1/channels/connect {provider: "discord", webhook_url}`. Connecting is immediate: the
//! URL must be a webhook of the configured API (`/api/webhooks/{id}/{token}`), and `GET` on it
//! (#get-webhook-with-token) proves it works and names the account (the webhook's name, avatar,
//! guild and channel). The webhook URL is a credential (anyone holding it can post) and is
//! sealed; the clear settings keep only its id, guild and channel.
//!
//! Posts are `POST {webhook}?wait=true` (#execute-webhook) with `content` (2,000 characters:
//! Discord's API counts code points, as its staff answered in discord-api-docs#1315) and up to
//! ten files as multipart `files[n]` beside `payload_json`, each at most 10 MiB (the default
//! upload limit; boosted servers allow more, which Crier does not assume).
//!
//! Not exactly once: webhooks take no idempotency key, and a webhook cannot list its channel's
//! messages, so `lookup` says `Unknowable`. A post of more than ten files is several messages; one failing
//! part way returns the error, and a retry sends them all again. Disconnecting does nothing upstream: the webhook is
//! the user's, made by them in Discord, and deleting it could break their other integrations.

mod execute;

use async_trait::async_trait;
use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};

use crate::platform::Platform;
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::{ConnectError, ConnectRequest, ConnectStart, Connection, Credentials, MediaRules};

/// #execute-webhook `content`: up to 2000 characters (code points).
pub const MAX_CONTENT: usize = 2000;
/// #execute-webhook `files[n]` / `attachments`: at most 10 per message.
pub const MAX_FILES: usize = 10;
/// reference#uploading-files: 10 MiB per file unless the server is boosted.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// #execute-webhook `username`: 1 to 80 characters.
pub const MAX_USERNAME: usize = 80;
/// Forum post titles (`thread_name`): 1 to 100 characters (channel#start-thread-in-forum-or-media-channel).
pub const MAX_THREAD_NAME: usize = 100;
pub const DEFAULT_API_BASE: &str = "https://discord.com/api/v10";

/// Where Discord's API is (a fake in tests).
#[derive(Debug, Clone)]
pub struct DiscordSettings {
    pub api_base: String,
}

impl Default for DiscordSettings {
    fn default() -> Self {
        Self { api_base: DEFAULT_API_BASE.into() }
    }
}

pub struct Discord {
    platform: Platform,
    settings: DiscordSettings,
}

impl Discord {
    pub fn new(platform: Platform, settings: DiscordSettings) -> Self {
        Self { platform, settings }
    }
}

/// The clear settings: which webhook, guild and channel (no token).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscordConfig {
    webhook_id: String,
    #[serde(default)]
    guild_id: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
}

/// What is sealed: the webhook's id and token, the URL without its base.
#[derive(Serialize, Deserialize)]
struct WebhookSecret {
    webhook_id: String,
    webhook_token: String,
}

/// A target's options (#execute-webhook).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct DiscordOptions {
    /// Overrides the webhook's name for this message.
    username: Option<String>,
    /// Overrides the webhook's avatar for this message.
    avatar_url: Option<String>,
    /// In a forum or media channel: the title of the post (thread) the message starts.
    thread_name: Option<String>,
    /// No link previews (`flags` SUPPRESS_EMBEDS, 1 << 2).
    suppress_embeds: bool,
}

fn options(value: &serde_json::Value) -> Result<DiscordOptions, String> {
    if value.is_null() {
        return Ok(DiscordOptions::default());
    }
    serde_json::from_value(value.clone()).map_err(|err| err.to_string())
}

fn config(channel: &Channel) -> Result<DiscordConfig, ProviderError> {
    serde_json::from_value(channel.config.clone()).map_err(|err| ProviderError::Rejected {
        code: "invalid_channel_config".into(),
        message: err.to_string(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectParams {
    webhook_url: String,
}

/// The webhook object (#webhook-object), the fields Crier reads.
#[derive(Deserialize)]
struct Webhook {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    avatar: Option<String>,
    #[serde(default)]
    guild_id: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
}

/// The webhook's id and token from a URL on the API's host: `/api/webhooks/{id}/{token}`,
/// optionally versioned (`/api/v10/webhooks/…`). Discord's own hosts are taken for one another
/// (`discordapp.com`, `ptb.`, `canary.`) when the API is Discord's.
fn parse_webhook_url(raw: &str, api_base: &str) -> Result<WebhookSecret, &'static str> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "not a URL")?;
    let base = url::Url::parse(api_base).map_err(|_| "the configured Discord API is not a URL")?;
    let discord_hosts = ["discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"];
    let same_origin = url.scheme() == base.scheme()
        && url.port_or_known_default() == base.port_or_known_default()
        && (url.host_str() == base.host_str()
            || (base.host_str() == Some("discord.com")
                && url.host_str().is_some_and(|h| discord_hosts.contains(&h))));
    if !same_origin {
        return Err("not a Discord webhook URL (https://discord.com/api/webhooks/…)");
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err("the webhook URL must be as Discord gives it, without a query");
    }
    let segments: Vec<&str> =
        url.path_segments().map(|s| s.filter(|p| !p.is_empty()).collect()).unwrap_or_default();
    let rest = match segments.as_slice() {
        ["api", "webhooks", rest @ ..] => rest,
        ["api", version, "webhooks", rest @ ..] if version.starts_with('v') => rest,
        _ => return Err("not a Discord webhook URL (https://discord.com/api/webhooks/{id}/{token})"),
    };
    let [id, token] = rest else {
        return Err("a webhook URL ends with the webhook's id and token");
    };
    let valid_id = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
    let valid_token = (16..=128).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid_id || !valid_token {
        return Err("a webhook URL ends with the webhook's id and token");
    }
    Ok(WebhookSecret { webhook_id: (*id).to_owned(), webhook_token: (*token).to_owned() })
}

impl Discord {
    fn webhook_url(&self, secret: &WebhookSecret) -> String {
        format!(
            "{}/webhooks/{}/{}",
            self.settings.api_base.trim_end_matches('/'),
            secret.webhook_id,
            secret.webhook_token
        )
    }
}

/// The webhook's avatar on Discord's CDN (reference#image-formatting).
fn avatar_url(webhook: &Webhook) -> Option<String> {
    webhook
        .avatar
        .as_ref()
        .map(|hash| format!("https://cdn.discordapp.com/avatars/{}/{hash}.png", webhook.id))
}

#[async_trait]
impl Provider for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn connect_fields(&self) -> &'static [crate::ConnectField] {
        use crate::ConnectField;
        const FIELDS: &[ConnectField] = &[ConnectField::secret(
            "webhook_url",
            "Webhook URL (channel settings → Integrations → Webhooks)",
        )];
        FIELDS
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        crate::validate::config_issues::<DiscordConfig>(config)
    }

    fn validate_target(
        &self,
        _channel: &Channel,
        text: &str,
        options_value: &serde_json::Value,
    ) -> Vec<TargetIssue> {
        let mut issues = Vec::new();
        let count = text.chars().count();
        if count > MAX_CONTENT {
            issues.push(TargetIssue::new(
                "/text",
                format!("{count} characters; Discord allows {MAX_CONTENT} (counted as code points)"),
            ));
        }
        match options(options_value) {
            Err(err) => issues.push(TargetIssue::new("/options", err)),
            Ok(parsed) => {
                if let Some(name) = &parsed.username {
                    let n = name.trim().chars().count();
                    let lower = name.to_lowercase();
                    if n == 0 || n > MAX_USERNAME || lower.contains("discord") || lower.contains("clyde") {
                        issues.push(TargetIssue::new(
                            "/options/username",
                            format!(
                                "1 to {MAX_USERNAME} characters, not containing \"discord\" or \"clyde\""
                            ),
                        ));
                    }
                }
                if let Some(avatar) = &parsed.avatar_url
                    && !url::Url::parse(avatar).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
                {
                    issues.push(TargetIssue::new("/options/avatar_url", "an http(s) URL"));
                }
                if let Some(title) = &parsed.thread_name {
                    let n = title.trim().chars().count();
                    if n == 0 || n > MAX_THREAD_NAME {
                        issues.push(TargetIssue::new(
                            "/options/thread_name",
                            format!("1 to {MAX_THREAD_NAME} characters"),
                        ));
                    }
                }
            }
        }
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_CONTENT, counted_in: "characters" })
    }

    /// Any file type; ten files a message (a post with more is sent as several messages).
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_FILES,
            max_videos: MAX_FILES,
            allow_mixed: true,
            max_image_bytes: Some(MAX_FILE_BYTES),
            max_video_bytes: Some(MAX_FILE_BYTES),
            ..MediaRules::default()
        }
    }

    async fn connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        let params: ConnectParams = serde_json::from_value(serde_json::Value::Object(request.params.clone()))
            .map_err(|err| ConnectError::invalid("", err.to_string()))?;
        let secret = parse_webhook_url(&params.webhook_url, &self.settings.api_base)
            .map_err(|why| ConnectError::invalid("/webhook_url", why))?;
        // discord.com/developers/docs/resources/webhook#get-webhook-with-token
        let url = self.webhook_url(&secret);
        let call = self
            .platform
            .connect_call(reqwest::Method::GET, &url, |b| b)
            .await
            .map_err(|err| execute::scrub_connect(err, &secret.webhook_token))?;
        if !call.ok() {
            return Err(match call.reply.status {
                401 | 403 | 404 => ConnectError::invalid(
                    "/webhook_url",
                    format!(
                        "Discord does not know this webhook (deleted, or its token reset): {}",
                        execute::describe(&call)
                    ),
                ),
                429 | 500..=599 => ConnectError::Unavailable { message: execute::describe(&call) },
                _ => ConnectError::Refused { message: execute::describe(&call) },
            });
        }
        let webhook: Webhook =
            call.json().map_err(|err| ConnectError::Unavailable { message: err.to_string() })?;
        if webhook.id != secret.webhook_id {
            return Err(ConnectError::Refused { message: "Discord answered with another webhook".into() });
        }
        let name = webhook.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "Discord webhook".into());
        let config = DiscordConfig {
            webhook_id: webhook.id.clone(),
            guild_id: webhook.guild_id.clone(),
            channel_id: webhook.channel_id.clone(),
        };
        Ok(ConnectStart::Connected(Connection {
            account: ChannelAccount {
                id: webhook.id.clone(),
                handle: name.clone(),
                display_name: Some(name),
                avatar_url: avatar_url(&webhook),
            },
            config: serde_json::to_value(&config).unwrap_or_default(),
            credentials: Credentials::to_json(&secret),
        }))
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, ProviderError> {
        let config = config(request.channel)?;
        let secret: WebhookSecret = self.platform.vault.open(request.channel).await?.parse()?;
        let parsed = options(request.options)
            .map_err(|message| ProviderError::Rejected { code: "invalid_options".into(), message })?;
        self.execute_post(request, &config, &secret, &parsed).await
    }

    /// A webhook has nothing to refresh: one refused was deleted or had its token reset.
    async fn refresh(&self, _channel: &Channel) -> Result<(), ProviderError> {
        Err(ProviderError::AuthExpired {
            message: "Discord no longer knows the webhook; make a new one and reconnect the channel".into(),
        })
    }

    /// Webhooks take no idempotency key and cannot read their channel's messages.
    async fn lookup(&self, _request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Unknowable)
    }

    fn can_delete(&self, _channel: &Channel) -> bool {
        true
    }

    /// `DELETE /webhooks/{id}/{token}/messages/{message.id}`
    /// (discord.com/developers/docs/resources/webhook#delete-webhook-message) on the post's first
    /// message (a post of more than ten files keeps its later messages). A message in a forum post
    /// needs its thread's id, read from the post's URL. A message already gone (404 Unknown
    /// Message, code 10008) counts as deleted; an unknown webhook still needs a reconnect.
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let config = config(request.channel)?;
        let id = request.provider_post_id;
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{id:?} is not a Discord message id"),
            });
        }
        let secret: WebhookSecret = self.platform.vault.open(request.channel).await?.parse()?;
        self.delete_message(&secret, id, thread_of(request.url, &config)).await
    }
}

/// The forum post (thread) a message is in, from its URL
/// (`https://discord.com/channels/{guild}/{channel}/{message}`): its channel when that is not the
/// webhook's own.
fn thread_of<'a>(url: Option<&'a str>, config: &DiscordConfig) -> Option<&'a str> {
    let rest = url?.strip_prefix("https://discord.com/channels/")?;
    let mut parts = rest.split('/');
    let (_guild, channel) = (parts.next()?, parts.next()?);
    let valid = !channel.is_empty() && channel.bytes().all(|b| b.is_ascii_digit());
    (valid && config.channel_id.as_deref() != Some(channel)).then_some(channel)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "ig5AO-wdVWpCBtUUMxmgsWryqgsW3DChbKYOINftJ4DCrUbnkedoYZD0VOH1QLr-S3sV";

    #[test]
    fn webhook_urls_are_recognised() {
        let ok = |url: &str| parse_webhook_url(url, DEFAULT_API_BASE).map(|s| s.webhook_id);
        assert_eq!(
            ok(&format!("https://discord.com/api/webhooks/245037420704169985/{TOKEN}")),
            Ok("245037420704169985".into())
        );
        assert!(ok(&format!("https://discordapp.com/api/v10/webhooks/245037420704169985/{TOKEN}")).is_ok());
        assert!(ok(&format!("https://canary.discord.com/api/webhooks/1/{TOKEN}")).is_ok());
        assert!(ok(&format!("https://evil.example/api/webhooks/1/{TOKEN}")).is_err());
        assert!(ok(&format!("http://discord.com/api/webhooks/1/{TOKEN}")).is_err());
        assert!(ok(&format!("https://discord.com/api/webhooks/1/{TOKEN}?wait=true")).is_err());
        assert!(ok("https://discord.com/api/webhooks/1").is_err());
        assert!(ok(&format!("https://discord.com/api/channels/1/{TOKEN}")).is_err());
        let local = parse_webhook_url(
            &format!("http://127.0.0.1:9/api/webhooks/7/{TOKEN}"),
            "http://127.0.0.1:9/api/v10",
        );
        assert!(local.is_ok());
    }

    #[test]
    fn a_forum_posts_thread_is_read_from_its_url() {
        let config = DiscordConfig {
            webhook_id: "7".into(),
            guild_id: Some("1".into()),
            channel_id: Some("2".into()),
        };
        assert_eq!(thread_of(Some("https://discord.com/channels/1/2/9"), &config), None);
        assert_eq!(thread_of(Some("https://discord.com/channels/1/5/9"), &config), Some("5"));
        assert_eq!(thread_of(Some("https://discord.com/channels/1/5?x/9"), &config), None);
        assert_eq!(thread_of(None, &config), None);
    }
}
