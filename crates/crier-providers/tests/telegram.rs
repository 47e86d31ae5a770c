//! The Telegram provider against the fake Bot API of `crier-testkit`: connecting a bot to a
//! channel, text, photos, videos and albums (bytes intact), replies, and the Bot API's errors,
//! with the bot token never in an error.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::sync::Arc;

use crier_core::{Channel, ChannelAccount, ChannelId, ChannelStatus, MediaId, MediaKind, WorkspaceId};
use crier_providers::telegram::{Telegram, TelegramSettings};
use crier_providers::{
    ConnectError, ConnectRequest, ConnectStart, Lookup, MediaFile, Provider, ProviderError,
};
use crier_testkit::telegram_fake::{self, BOT_TOKEN, CHANNEL_ID, TelegramFake};
use doubles::{MemoryMedia, MemoryVault, pointers, request};
use serde_json::{Value, json};

struct Env {
    fake: TelegramFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    provider: Telegram,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = TelegramFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let platform = doubles::loopback_platform(vault.clone(), media.clone());
    let provider = Telegram::new(platform, TelegramSettings { api_base: fake.base_url().to_owned() });
    Env { fake, vault, media, provider, workspace: WorkspaceId::generate() }
}

impl Env {
    async fn try_connect(&self, params: Value) -> Result<ConnectStart, ConnectError> {
        let params = params.as_object().unwrap().clone();
        let request = ConnectRequest {
            workspace_id: self.workspace,
            params: &params,
            callback_url: "https://crier.example/v1/channels/connect/callback",
            state: "s",
        };
        self.provider.connect(&request).await
    }

    async fn connect(&self) -> Channel {
        let started = self.try_connect(json!({"bot_token": BOT_TOKEN, "chat_id": "@crier_news"})).await;
        let ConnectStart::Connected(connection) = started.unwrap() else {
            panic!("Telegram connects at once")
        };
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "telegram".into(),
            name: "Telegram".into(),
            config: connection.config,
            status: ChannelStatus::Active,
            account: Some(connection.account),
            credentials: None,
            paused_until: None,
            created_at: chrono::Utc::now(),
        };
        self.vault.0.lock().unwrap().insert(channel.id, connection.credentials.expose().to_vec());
        channel
    }

    fn add_media(&self, path: &str, mime: &str, kind: MediaKind) -> MediaId {
        let bytes =
            std::fs::read(format!("{}/../crier-media/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let id = MediaId::generate();
        let media =
            doubles::ready_media(self.workspace, id, &bytes, mime.into(), kind, Some(path.into()), None);
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes });
        id
    }

    fn bytes(&self, id: MediaId) -> Vec<u8> {
        self.media.0.lock().unwrap()[&id].bytes.clone()
    }
}

/// No error carries the bot token (it is in every URL of the Bot API).
fn assert_no_token(err: &ProviderError) {
    assert!(!format!("{err} {err:?}").contains(BOT_TOKEN.split(':').nth(1).unwrap()), "{err:?}");
}

#[tokio::test]
async fn connecting_checks_the_bot_and_the_chat() {
    let env = env().await;
    let channel = env.connect().await;
    assert_eq!(
        channel.account,
        Some(ChannelAccount {
            id: CHANNEL_ID.to_string(),
            handle: "@crier_news".into(),
            display_name: Some(telegram_fake::CHANNEL_TITLE.into()),
            avatar_url: None,
        })
    );
    assert_eq!(
        channel.config,
        json!({"chat_id": CHANNEL_ID, "chat_type": "channel", "username": "crier_news"})
    );
    assert!(env.provider.validate_config(&channel.config).is_empty());
    assert!(!channel.config.to_string().contains(BOT_TOKEN), "the token is sealed, not in the settings");
    let stored: Value = serde_json::from_slice(&env.vault.0.lock().unwrap()[&channel.id]).unwrap();
    assert_eq!(stored["bot_token"], BOT_TOKEN);
    let methods: Vec<_> = env.fake.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["getMe", "getChat", "getChatMember"]);
}

#[tokio::test]
async fn connect_refuses_what_cannot_post() {
    let env = env().await;
    let invalid_at = |result: Result<ConnectStart, ConnectError>| match result {
        Err(ConnectError::Invalid { pointer, message }) => (pointer, message),
        other => panic!("{other:?}"),
    };
    let (pointer, _) =
        invalid_at(env.try_connect(json!({"bot_token": "nope", "chat_id": "@crier_news"})).await);
    assert_eq!(pointer, "/bot_token");
    let (pointer, _) = invalid_at(env.try_connect(json!({"bot_token": BOT_TOKEN, "chat_id": "@a b"})).await);
    assert_eq!(pointer, "/chat_id");
    assert!(env.fake.requests().is_empty(), "nothing asked of Telegram for malformed input");

    let (pointer, message) =
        invalid_at(env.try_connect(json!({"bot_token": BOT_TOKEN, "chat_id": "@someone_else"})).await);
    assert_eq!(pointer, "/chat_id");
    assert!(message.contains("chat not found"), "{message}");

    env.fake.set_can_post(false);
    let (pointer, message) =
        invalid_at(env.try_connect(json!({"bot_token": BOT_TOKEN, "chat_id": CHANNEL_ID})).await);
    assert_eq!(pointer, "/chat_id");
    assert!(message.contains("administrator"), "{message}");

    env.fake.revoke_token();
    let (pointer, message) =
        invalid_at(env.try_connect(json!({"bot_token": BOT_TOKEN, "chat_id": "@crier_news"})).await);
    assert_eq!(pointer, "/bot_token");
    assert!(message.contains("Unauthorized") && !message.contains(BOT_TOKEN), "{message}");
}

#[tokio::test]
async fn a_text_post_with_its_options_and_replies() {
    let env = env().await;
    let channel = env.connect().await;
    let options =
        json!({"disable_notification": true, "protect_content": true, "thread": ["second", "third"]});
    let text = "Ünïcödé 👍 plain *not markdown*";
    let published = env.provider.publish(&request(&channel, text, &[], &options)).await.unwrap();
    let messages = env.fake.messages();
    assert_eq!(messages.len(), 3);
    assert_eq!(published.provider_post_id, messages[0].message_id.to_string());
    assert_eq!(published.url, Some(format!("https://t.me/crier_news/{}", messages[0].message_id)));
    assert_eq!(messages[0].text.as_deref(), Some(text));
    assert_eq!(messages[0].reply_to, None);
    assert_eq!(messages[1].reply_to, Some(messages[0].message_id));
    assert_eq!(messages[2].reply_to, Some(messages[1].message_id));
    assert_eq!(messages[2].text.as_deref(), Some("third"));
    assert!(
        messages.iter().all(|m| m.disable_notification && m.protect_content && m.method == "sendMessage")
    );
}

#[tokio::test]
async fn a_published_message_is_deleted_and_a_gone_one_counts_as_deleted() {
    let env = env().await;
    let channel = env.connect().await;
    assert!(env.provider.can_delete(&channel));
    let published = env.provider.publish(&request(&channel, "typo", &[], &Value::Null)).await.unwrap();
    let kept = env.provider.publish(&request(&channel, "keep me", &[], &Value::Null)).await.unwrap();
    let delete = crier_providers::DeleteRequest {
        channel: &channel,
        target_id: crier_core::TargetId::generate(),
        provider_post_id: &published.provider_post_id,
        url: published.url.as_deref(),
    };
    env.provider.delete(&delete).await.unwrap();
    let left: Vec<String> = env.fake.messages().iter().map(|m| m.message_id.to_string()).collect();
    assert_eq!(left, vec![kept.provider_post_id]);
    env.provider.delete(&delete).await.unwrap();
    let bad = crier_providers::DeleteRequest { provider_post_id: "../getMe", ..delete.clone() };
    assert!(matches!(env.provider.delete(&bad).await, Err(ProviderError::Rejected { .. })));
    env.fake.revoke_token();
    let refused = env.provider.delete(&delete).await;
    assert!(matches!(refused, Err(ProviderError::AuthExpired { .. })), "{refused:?}");
}

#[tokio::test]
async fn media_is_uploaded_intact_with_the_caption() {
    let env = env().await;
    let channel = env.connect().await;
    let photo = env.add_media("photo.jpg", "image/jpeg", MediaKind::Image);
    env.provider.publish(&request(&channel, "one photo", &[photo], &Value::Null)).await.unwrap();
    let sent = env.fake.messages();
    assert_eq!(sent[0].method, "sendPhoto");
    assert_eq!(sent[0].caption.as_deref(), Some("one photo"));
    let upload = sent[0].media.clone().unwrap();
    assert_eq!((upload.kind.as_str(), upload.content_type.as_str()), ("photo", "image/jpeg"));
    assert_eq!(upload.bytes, env.bytes(photo));

    let video = env.add_media("clip.mp4", "video/mp4", MediaKind::Video);
    let published =
        env.provider.publish(&request(&channel, "an album", &[photo, video], &Value::Null)).await.unwrap();
    let album: Vec<_> = env.fake.messages().into_iter().skip(1).collect();
    assert_eq!(album.len(), 2);
    assert!(
        album.iter().all(|m| m.method == "sendMediaGroup" && m.media_group_id == album[0].media_group_id)
    );
    assert_eq!(published.provider_post_id, album[0].message_id.to_string());
    assert_eq!(album[0].caption.as_deref(), Some("an album"), "the caption is on the first");
    assert_eq!(album[1].caption, None);
    assert_eq!(album[0].media.as_ref().unwrap().bytes, env.bytes(photo));
    let clip = album[1].media.clone().unwrap();
    assert_eq!((clip.kind.as_str(), clip.bytes), ("video", env.bytes(video)));

    // A text too long for a caption follows the media as a reply.
    let long = "x".repeat(2000);
    env.provider.publish(&request(&channel, &long, &[photo], &Value::Null)).await.unwrap();
    let last: Vec<_> = env.fake.messages().into_iter().skip(3).collect();
    assert_eq!((last[0].method.as_str(), last[0].caption.as_deref()), ("sendPhoto", None));
    assert_eq!((last[1].text.as_deref(), last[1].reply_to), (Some(long.as_str()), Some(last[0].message_id)));
}

#[tokio::test]
async fn flood_control_names_its_reset() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.rate_limit_next(1, 35);
    let before = chrono::Utc::now();
    let result = env.provider.publish(&request(&channel, "hi", &[], &Value::Null)).await;
    let Err(ProviderError::RateLimited { reset }) = result else { panic!("{result:?}") };
    assert!(reset >= before + chrono::Duration::seconds(35), "{reset}");
    assert!(reset <= chrono::Utc::now() + chrono::Duration::seconds(35), "{reset}");
    assert!(env.fake.messages().is_empty());
}

#[tokio::test]
async fn a_revoked_token_or_a_removed_bot_needs_a_reconnect() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.remove_bot();
    let result = env.provider.publish(&request(&channel, "hi", &[], &Value::Null)).await;
    let Err(err @ ProviderError::AuthExpired { .. }) = result else { panic!("{result:?}") };
    assert!(err.to_string().contains("not a member"), "{err}");

    env.fake.revoke_token();
    let result = env.provider.publish(&request(&channel, "hi", &[], &Value::Null)).await;
    let Err(err @ ProviderError::AuthExpired { .. }) = result else { panic!("{result:?}") };
    assert_no_token(&err);
    let refreshed = env.provider.refresh(&channel).await;
    assert!(matches!(refreshed, Err(ProviderError::AuthExpired { .. })), "{refreshed:?}");
}

/// A bot token never expires and the Bot API has no way to renew one, so `refresh` (called by
/// the worker only after Telegram refused the token) calls nothing, changes nothing and asks for
/// a reconnect with a new token.
#[tokio::test]
async fn refresh_has_nothing_to_renew_and_asks_for_a_reconnect() {
    let env = env().await;
    let channel = env.connect().await;
    let stored = env.vault.0.lock().unwrap()[&channel.id].clone();
    let requests = env.fake.requests().len();
    let refreshed = env.provider.refresh(&channel).await;
    let Err(err @ ProviderError::AuthExpired { .. }) = &refreshed else { panic!("{refreshed:?}") };
    assert!(err.to_string().contains("reconnect"), "{err}");
    assert_eq!(env.fake.requests().len(), requests, "nothing sent to Telegram");
    assert_eq!(env.vault.0.lock().unwrap()[&channel.id], stored, "the stored token is untouched");
    env.provider.publish(&request(&channel, "still here", &[], &Value::Null)).await.unwrap();
    assert_eq!(env.fake.messages().len(), 1, "the token still works");
}

#[tokio::test]
async fn a_refused_message_is_rejected_with_telegrams_words() {
    let env = env().await;
    let channel = env.connect().await;
    // Past the limit the provider checks at the door, to see Telegram's own refusal.
    let long = "é".repeat(telegram_fake::MAX_TEXT + 1);
    let result = env.provider.publish(&request(&channel, &long, &[], &Value::Null)).await;
    let Err(err @ ProviderError::Rejected { .. }) = &result else { panic!("{result:?}") };
    let ProviderError::Rejected { code, message } = err else { unreachable!() };
    assert_eq!(code, "platform_400");
    assert!(message.contains("message is too long"), "{message}");
    assert_no_token(err);
}

#[tokio::test]
async fn an_unreachable_api_is_retried_without_naming_the_token() {
    let env = env().await;
    let channel = env.connect().await;
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let platform = doubles::loopback_platform(env.vault.clone(), env.media.clone());
    let offline = Telegram::new(platform, TelegramSettings { api_base: closed });
    let result = offline.publish(&request(&channel, "hi", &[], &Value::Null)).await;
    let Err(err @ ProviderError::Retryable { .. }) = result else { panic!("{result:?}") };
    assert_no_token(&err);
}

#[tokio::test]
async fn text_is_counted_in_utf16_and_sends_cannot_be_looked_up() {
    let env = env().await;
    let channel = env.connect().await;
    // 2,048 emoji are 4,096 UTF-16 code units: exactly the limit.
    let full = "👍".repeat(2048);
    assert!(env.provider.validate_target(&channel, &full, &Value::Null).is_empty());
    env.provider.publish(&request(&channel, &full, &[], &Value::Null)).await.unwrap();
    let over = format!("{full}x");
    assert_eq!(pointers(&env.provider.validate_target(&channel, &over, &Value::Null)), ["/text"]);
    assert_eq!(
        pointers(&env.provider.validate_target(
            &channel,
            "hi",
            &json!({"thread": ["", "ok"], "silent": true})
        )),
        ["/options"]
    );
    assert_eq!(
        pointers(&env.provider.validate_target(&channel, "hi", &json!({"thread": [" "]}))),
        ["/options/thread/0"]
    );
    let limit = env.provider.text_limit(&channel).unwrap();
    assert_eq!((limit.max, limit.counted_in), (4096, "utf16"));
    let lookup = env.provider.lookup(&request(&channel, "hi", &[], &Value::Null)).await.unwrap();
    assert_eq!(lookup, Lookup::Unknowable);
}
