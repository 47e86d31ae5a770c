//! Telegram (the Bot API, core.telegram.org/bots/api). A channel is a bot and a chat it posts
//! to: `POST /v1/channels/connect {provider: "telegram", bot_token, chat_id}`, with `chat_id` a
//! public `@username` or a numeric id. Connecting is immediate: the token is checked with
//! `getMe`, the chat with `getChat`, and the bot's right to post with `getChatMember` (in a
//! channel it must be an administrator allowed to post messages). The bot token is sealed; the
//! chat's numeric id, type and username are the clear settings.
//!
//! Posts are plain text (no `parse_mode`), so Telegram's length count (UTF-16 code units after
//! entity parsing) is the UTF-16 length of the text: 4,096 for a message, 1,024 for a caption.
//! One image or video goes with `sendPhoto`/`sendVideo`, several with `sendMediaGroup` (albums
//! of 2 to 10), the bytes uploaded as multipart; `options.thread` adds messages sent as replies.
//!
//! Not exactly once: the Bot API has no idempotency key and no way to search the messages a bot
//! sent (a bot reads only the updates sent to it), so `lookup` says `Unknowable`.
//! A post of several messages (an album and its long text, a thread) that fails part way
//! returns the error: a retry sends it again from the start, duplicating what went out.

mod api;
mod send;

use async_trait::async_trait;
use crier_core::{Channel, ChannelAccount};
use serde::{Deserialize, Serialize};
use serde_json::json;

use self::api::{Failure, result};
use crate::platform::Platform;
use crate::provider::{
    DeleteRequest, Lookup, Provider, ProviderError, PublishRequest, Published, TargetIssue, TextLimit,
};
use crate::{ConnectError, ConnectRequest, ConnectStart, Connection, Credentials, MediaRules};

/// `sendMessage`'s `text`: 1-4096 characters after entities parsing (UTF-16 code units).
pub const MAX_TEXT: usize = 4096;
/// `sendPhoto`/`sendVideo`/`InputMedia*`'s `caption`: 0-1024 characters after entities parsing.
pub const MAX_CAPTION: usize = 1024;
/// `sendMediaGroup`'s `media`: 2-10 items.
pub const MAX_ALBUM: usize = 10;
/// Follow-up messages of one post.
pub const MAX_THREAD: usize = 24;
pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";

/// Telegram counts text in UTF-16 code units (core.telegram.org/api/entities#entity-length).
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Where the Bot API is (a local Bot API server, or a fake in tests).
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub api_base: String,
}

impl Default for TelegramSettings {
    fn default() -> Self {
        Self { api_base: DEFAULT_API_BASE.into() }
    }
}

pub struct Telegram {
    platform: Platform,
    settings: TelegramSettings,
}

impl Telegram {
    pub fn new(platform: Platform, settings: TelegramSettings) -> Self {
        Self { platform, settings }
    }
}

/// A channel's clear settings: the chat, resolved to its numeric id at connect time.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TelegramConfig {
    chat_id: i64,
    /// `channel`, `supergroup`, `group` or `private`.
    chat_type: String,
    #[serde(default)]
    username: Option<String>,
}

/// What is sealed: the bot token.
#[derive(Serialize, Deserialize)]
struct BotToken {
    bot_token: String,
}

/// A target's options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct TelegramOptions {
    /// Sends the messages silently (#sendmessage `disable_notification`).
    disable_notification: bool,
    /// Protects the messages from forwarding and saving (#sendmessage `protect_content`).
    protect_content: bool,
    /// Messages that follow the post, each a reply to the one before.
    thread: Vec<String>,
}

fn options(value: &serde_json::Value) -> Result<TelegramOptions, String> {
    if value.is_null() {
        return Ok(TelegramOptions::default());
    }
    serde_json::from_value(value.clone()).map_err(|err| err.to_string())
}

fn config(channel: &Channel) -> Result<TelegramConfig, ProviderError> {
    serde_json::from_value(channel.config.clone()).map_err(|err| ProviderError::Rejected {
        code: "invalid_channel_config".into(),
        message: err.to_string(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectParams {
    bot_token: String,
    chat_id: serde_json::Value,
}

/// `User` (#user), as `getMe` returns the bot.
#[derive(Deserialize)]
struct Bot {
    id: i64,
}

/// `ChatFullInfo` (#chatfullinfo), the fields Crier keeps.
#[derive(Deserialize)]
struct Chat {
    id: i64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
}

/// `ChatMember` (#chatmember): its `status` and the rights that matter here.
#[derive(Deserialize)]
struct Member {
    status: String,
    #[serde(default)]
    can_post_messages: Option<bool>,
    #[serde(default)]
    can_send_messages: Option<bool>,
}

/// `123456789:AA…`: the bot's id, a colon, and the secret (#authorizing-your-bot).
fn valid_token(token: &str) -> bool {
    let Some((id, secret)) = token.split_once(':') else { return false };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && secret.len() >= 30
        && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `@channelusername` or a numeric id; a bare username gets its `@`.
fn chat_ref(value: &serde_json::Value) -> Option<serde_json::Value> {
    match value {
        serde_json::Value::Number(n) => n.as_i64().map(|id| json!(id)),
        serde_json::Value::String(s) => {
            let s = s.trim();
            if let Ok(id) = s.parse::<i64>() {
                return Some(json!(id));
            }
            let name = s.strip_prefix('@').unwrap_or(s);
            let valid = (4..=32).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && name.as_bytes()[0].is_ascii_alphabetic();
            valid.then(|| json!(format!("@{name}")))
        }
        _ => None,
    }
}

fn refused(pointer: &str, what: &str, failure: &Failure) -> ConnectError {
    match failure.code {
        429 | 500..=599 => ConnectError::Unavailable { message: failure.description.clone() },
        _ => ConnectError::invalid(pointer, format!("{what}: {}", failure.description)),
    }
}

impl Telegram {
    async fn check_connection(&self, token: &str, chat: &serde_json::Value) -> Result<Chat, ConnectError> {
        // core.telegram.org/bots/api#getme
        let bot: Bot = match self.connect_call(token, "getMe", json!({})).await? {
            Ok(value) => {
                result(value).map_err(|err| ConnectError::Unavailable { message: err.to_string() })?
            }
            Err(failure) => return Err(refused("/bot_token", "Telegram refused the bot token", &failure)),
        };
        // core.telegram.org/bots/api#getchat
        let found: Chat = match self.connect_call(token, "getChat", json!({"chat_id": chat})).await? {
            Ok(value) => {
                result(value).map_err(|err| ConnectError::Unavailable { message: err.to_string() })?
            }
            Err(failure) => {
                return Err(refused(
                    "/chat_id",
                    "the bot cannot see this chat (add it to the chat first)",
                    &failure,
                ));
            }
        };
        if found.kind == "private" {
            return Ok(found);
        }
        // core.telegram.org/bots/api#getchatmember
        let member: Member = match self
            .connect_call(token, "getChatMember", json!({"chat_id": found.id, "user_id": bot.id}))
            .await?
        {
            Ok(value) => {
                result(value).map_err(|err| ConnectError::Unavailable { message: err.to_string() })?
            }
            Err(failure) => return Err(refused("/chat_id", "the bot's membership cannot be read", &failure)),
        };
        let can_post = match (found.kind.as_str(), member.status.as_str()) {
            ("channel", "administrator" | "creator") => member.can_post_messages != Some(false),
            ("channel", _) => false,
            (_, "administrator" | "creator" | "member") => true,
            (_, "restricted") => member.can_send_messages == Some(true),
            _ => false,
        };
        if !can_post {
            let what = if found.kind == "channel" {
                "the bot must be an administrator of the channel allowed to post messages"
            } else {
                "the bot is not allowed to send messages in this chat"
            };
            return Err(ConnectError::invalid("/chat_id", format!("{what} (it is {})", member.status)));
        }
        Ok(found)
    }
}

#[async_trait]
impl Provider for Telegram {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn connect_fields(&self) -> &'static [crate::ConnectField] {
        use crate::ConnectField;
        const FIELDS: &[ConnectField] = &[
            ConnectField::secret("bot_token", "Bot token (from @BotFather)"),
            ConnectField::text("chat_id", "Chat: @channelname or its numeric id"),
        ];
        FIELDS
    }

    fn validate_config(&self, config: &serde_json::Value) -> Vec<TargetIssue> {
        crate::validate::config_issues::<TelegramConfig>(config)
    }

    fn validate_target(
        &self,
        _channel: &Channel,
        text: &str,
        options_value: &serde_json::Value,
    ) -> Vec<TargetIssue> {
        let mut issues = Vec::new();
        let count = utf16_len(text);
        if count > MAX_TEXT {
            issues.push(TargetIssue::new(
                "/text",
                format!("{count} characters; Telegram allows {MAX_TEXT} (counted in UTF-16 code units)"),
            ));
        }
        match options(options_value) {
            Err(err) => issues.push(TargetIssue::new("/options", err)),
            Ok(parsed) => {
                issues.extend(crate::validate::thread_issues(&parsed.thread, MAX_THREAD, |reply| {
                    let count = utf16_len(reply);
                    (count > MAX_TEXT)
                        .then(|| format!("{count} characters; each message needs 1 to {MAX_TEXT}"))
                }));
            }
        }
        issues
    }

    fn text_limit(&self, _channel: &Channel) -> Option<TextLimit> {
        Some(TextLimit { max: MAX_TEXT, counted_in: "utf16" })
    }

    /// #sendphoto: at most 10 MB, width + height at most 10000, ratio at most 20; #sendvideo:
    /// MPEG-4, bots upload at most 50 MB (#sending-files). Albums mix photos and videos; a post
    /// with more than ten is sent as several albums.
    fn media_rules(&self, _channel: &Channel) -> MediaRules {
        MediaRules {
            max_images: MAX_ALBUM,
            max_videos: MAX_ALBUM,
            allow_mixed: true,
            image_types: vec!["image/jpeg".into(), "image/png".into(), "image/webp".into()],
            video_types: vec!["video/mp4".into()],
            max_image_bytes: Some(10_000_000),
            max_video_bytes: Some(50_000_000),
            max_dimension: Some(9_999),
            min_aspect_ratio: Some(1.0 / 20.0),
            max_aspect_ratio: Some(20.0),
            ..MediaRules::default()
        }
    }

    async fn connect(&self, request: &ConnectRequest<'_>) -> Result<ConnectStart, ConnectError> {
        let params: ConnectParams = serde_json::from_value(serde_json::Value::Object(request.params.clone()))
            .map_err(|err| ConnectError::invalid("", err.to_string()))?;
        let token = params.bot_token.trim().to_owned();
        if !valid_token(&token) {
            return Err(ConnectError::invalid(
                "/bot_token",
                "not a bot token (as @BotFather gives it: 123456:ABC…)",
            ));
        }
        let Some(chat) = chat_ref(&params.chat_id) else {
            return Err(ConnectError::invalid("/chat_id", "a public @username or a numeric chat id"));
        };
        let chat = self.check_connection(&token, &chat).await?;
        let title = chat.title.clone().or_else(|| chat.first_name.clone());
        let handle = match (&chat.username, &title) {
            (Some(username), _) => format!("@{username}"),
            (None, Some(title)) => title.clone(),
            (None, None) => chat.id.to_string(),
        };
        let config = TelegramConfig { chat_id: chat.id, chat_type: chat.kind, username: chat.username };
        Ok(ConnectStart::Connected(Connection {
            account: ChannelAccount {
                id: chat.id.to_string(),
                handle,
                display_name: title,
                avatar_url: None,
            },
            config: serde_json::to_value(&config).unwrap_or_default(),
            credentials: Credentials::to_json(&BotToken { bot_token: token }),
        }))
    }

    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, ProviderError> {
        let config = config(request.channel)?;
        let token: BotToken = self.platform.vault.open(request.channel).await?.parse()?;
        let parsed = options(request.options)
            .map_err(|message| ProviderError::Rejected { code: "invalid_options".into(), message })?;
        self.send_post(request, &config, &token.bot_token, &parsed).await
    }

    fn can_delete(&self, _channel: &Channel) -> bool {
        true
    }

    /// core.telegram.org/bots/api#deletemessage on the post's first message (an album's other
    /// files and a thread's replies stay). Telegram deletes only messages younger than 48 hours;
    /// older ones are refused. A message already gone counts as deleted.
    async fn delete(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let config = config(request.channel)?;
        let Ok(message_id) = request.provider_post_id.parse::<i64>() else {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{:?} is not a Telegram message id", request.provider_post_id),
            });
        };
        let token: BotToken = self.platform.vault.open(request.channel).await?.parse()?;
        let body = serde_json::json!({"chat_id": config.chat_id, "message_id": message_id});
        match self.call(&token.bot_token, "deleteMessage", api::Body::Json(body)).await? {
            Ok(_) => Ok(()),
            Err(failure)
                if failure.code == 400 && failure.description.contains("message to delete not found") =>
            {
                Ok(())
            }
            Err(failure) => Err(failure.into_error(self.platform.clock.now())),
        }
    }

    /// Bot tokens do not expire: one refused is revoked (or the bot was removed from the chat).
    async fn refresh(&self, _channel: &Channel) -> Result<(), ProviderError> {
        Err(ProviderError::AuthExpired {
            message: "Telegram refused the bot; check it is still in the chat, or reconnect with a new token"
                .into(),
        })
    }

    /// The Bot API offers no way to find messages already sent (no search, no history for
    /// bots, no idempotency key), so a lost answer cannot be told from a failed send.
    async fn lookup(&self, _request: &PublishRequest<'_>) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Unknowable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_chats_are_recognised() {
        assert!(valid_token("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"));
        assert!(!valid_token("123456789AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"));
        assert!(!valid_token("12a:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"));
        assert_eq!(chat_ref(&json!("@crier_news")), Some(json!("@crier_news")));
        assert_eq!(chat_ref(&json!("crier_news")), Some(json!("@crier_news")));
        assert_eq!(chat_ref(&json!("-1001234567890")), Some(json!(-1_001_234_567_890_i64)));
        assert_eq!(chat_ref(&json!(-42)), Some(json!(-42)));
        assert_eq!(chat_ref(&json!("@a b")), None);
        assert_eq!(chat_ref(&json!(true)), None);
    }

    #[test]
    fn text_is_counted_in_utf16_code_units() {
        assert_eq!(utf16_len("héllo"), 5);
        assert_eq!(utf16_len("👍"), 2);
        assert_eq!(utf16_len("👨‍👩‍👧"), 8);
    }
}
