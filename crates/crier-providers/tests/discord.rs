//! The Discord provider against the fake webhook API of `crier-testkit`: connecting a webhook,
//! text with its options, files (bytes intact), forum posts, and Discord's errors, with the
//! webhook's token never in an error.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::sync::Arc;

use crier_core::{Channel, ChannelAccount, ChannelId, ChannelStatus, MediaId, MediaKind, WorkspaceId};
use crier_providers::discord::{Discord, DiscordSettings};
use crier_providers::{
    ConnectError, ConnectRequest, ConnectStart, CredentialVault, Lookup, MediaFile, Provider, ProviderError,
};
use crier_testkit::discord_fake::{self, DiscordFake, WEBHOOK_ID, WEBHOOK_TOKEN};
use doubles::{MemoryMedia, MemoryVault, pointers, request};
use serde_json::{Value, json};

struct Env {
    fake: DiscordFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    provider: Discord,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = DiscordFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let platform = doubles::loopback_platform(vault.clone(), media.clone());
    let provider = Discord::new(platform, DiscordSettings { api_base: fake.api_base() });
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
        let started = self.try_connect(json!({"webhook_url": self.fake.webhook_url()})).await;
        let ConnectStart::Connected(connection) = started.unwrap() else {
            panic!("Discord connects at once")
        };
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "discord".into(),
            name: "Discord".into(),
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

    fn add_media(&self, path: &str, mime: &str, kind: MediaKind, alt: Option<&str>) -> MediaId {
        let bytes =
            std::fs::read(format!("{}/../crier-media/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let id = MediaId::generate();
        let media = doubles::ready_media(
            self.workspace,
            id,
            &bytes,
            mime.into(),
            kind,
            Some(path.into()),
            alt.map(str::to_owned),
        );
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes });
        id
    }

    fn bytes(&self, id: MediaId) -> Vec<u8> {
        self.media.0.lock().unwrap()[&id].bytes.clone()
    }
}

fn assert_no_token(err: &ProviderError) {
    assert!(!format!("{err} {err:?}").contains(WEBHOOK_TOKEN), "{err:?}");
}

#[tokio::test]
async fn connecting_reads_the_webhook() {
    let env = env().await;
    let channel = env.connect().await;
    assert_eq!(
        channel.account,
        Some(ChannelAccount {
            id: WEBHOOK_ID.into(),
            handle: discord_fake::WEBHOOK_NAME.into(),
            display_name: Some(discord_fake::WEBHOOK_NAME.into()),
            avatar_url: Some(format!(
                "https://cdn.discordapp.com/avatars/{WEBHOOK_ID}/{}.png",
                discord_fake::WEBHOOK_AVATAR
            )),
        })
    );
    assert_eq!(
        channel.config,
        json!({"webhook_id": WEBHOOK_ID, "guild_id": discord_fake::GUILD_ID, "channel_id": discord_fake::CHANNEL_ID})
    );
    assert!(env.provider.validate_config(&channel.config).is_empty());
    let stored = String::from_utf8(env.vault.0.lock().unwrap()[&channel.id].clone()).unwrap();
    assert!(stored.contains(WEBHOOK_TOKEN), "the webhook is sealed");
    assert!(!channel.config.to_string().contains(WEBHOOK_TOKEN), "and not in the clear settings");
    let requests = env.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!((requests[0].method.as_str(), requests[0].status), ("GET", 200));
    assert_eq!(requests[0].path, format!("/api/v10/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"));
}

#[tokio::test]
async fn connect_refuses_other_urls_and_dead_webhooks() {
    let env = env().await;
    let invalid_at = |result: Result<ConnectStart, ConnectError>| match result {
        Err(ConnectError::Invalid { pointer, message }) => (pointer, message),
        other => panic!("{other:?}"),
    };
    for url in [
        format!("https://evil.example/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"),
        format!("https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"),
        format!("{}?wait=true", env.fake.webhook_url()),
        env.fake.webhook_url().replace("/webhooks/", "/channels/"),
    ] {
        let (pointer, _) = invalid_at(env.try_connect(json!({"webhook_url": url})).await);
        assert_eq!(pointer, "/webhook_url", "{url}");
    }
    let (pointer, _) =
        invalid_at(env.try_connect(json!({"webhook_url": env.fake.webhook_url(), "x": 1})).await);
    assert_eq!(pointer, "");
    assert!(env.fake.requests().is_empty(), "nothing asked of Discord for a foreign or malformed URL");

    let wrong_token = env.fake.webhook_url().replace(WEBHOOK_TOKEN, &"A".repeat(68));
    let (pointer, message) = invalid_at(env.try_connect(json!({"webhook_url": wrong_token})).await);
    assert_eq!(pointer, "/webhook_url");
    assert!(message.contains("Invalid Webhook Token"), "{message}");

    env.fake.delete_webhook();
    let (_, message) = invalid_at(env.try_connect(json!({"webhook_url": env.fake.webhook_url()})).await);
    assert!(message.contains("Unknown Webhook") && !message.contains(WEBHOOK_TOKEN), "{message}");
}

#[tokio::test]
async fn a_text_post_with_its_options() {
    let env = env().await;
    let channel = env.connect().await;
    let options =
        json!({"username": "Crier News", "avatar_url": "https://example.com/a.png", "suppress_embeds": true});
    let published =
        env.provider.publish(&request(&channel, "Hello https://example.com", &[], &options)).await.unwrap();
    let messages = env.fake.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(published.provider_post_id, message.id);
    assert_eq!(
        published.url,
        Some(format!(
            "https://discord.com/channels/{}/{}/{}",
            discord_fake::GUILD_ID,
            discord_fake::CHANNEL_ID,
            message.id
        ))
    );
    assert_eq!(message.content, "Hello https://example.com");
    assert_eq!(message.username.as_deref(), Some("Crier News"));
    assert_eq!(message.avatar_url.as_deref(), Some("https://example.com/a.png"));
    assert_eq!(message.flags, 4, "SUPPRESS_EMBEDS");
    let post = env.fake.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.query.as_deref(), Some("wait=true"));
}

#[tokio::test]
async fn files_are_uploaded_intact() {
    let env = env().await;
    let channel = env.connect().await;
    let photo = env.add_media("photo.jpg", "image/jpeg", MediaKind::Image, Some("A red kite"));
    let video = env.add_media("clip.mp4", "video/mp4", MediaKind::Video, None);
    let options = json!({"thread_name": "Kites of the week"});
    let published =
        env.provider.publish(&request(&channel, "Two files", &[photo, video], &options)).await.unwrap();
    let message = &env.fake.messages()[0];
    assert_eq!(published.provider_post_id, message.id);
    assert_eq!(message.content, "Two files");
    assert_eq!(message.thread_name.as_deref(), Some("Kites of the week"));
    assert_ne!(message.channel_id, discord_fake::CHANNEL_ID, "a forum post is its own thread");
    assert!(published.url.unwrap().contains(&message.channel_id));
    let files = &message.attachments;
    assert_eq!(files.len(), 2);
    assert_eq!((files[0].filename.as_str(), files[0].content_type.as_str()), ("media0.jpg", "image/jpeg"));
    assert_eq!(files[0].description.as_deref(), Some("A red kite"));
    assert_eq!(files[0].bytes, env.bytes(photo));
    assert_eq!((files[1].filename.as_str(), files[1].bytes.clone()), ("media1.mp4", env.bytes(video)));

    // More than ten files: the rest follow in the same forum post.
    let many: Vec<_> = (0..12).map(|_| photo).collect();
    env.provider.publish(&request(&channel, "a dozen", &many, &options)).await.unwrap();
    let messages: Vec<_> = env.fake.messages().into_iter().skip(1).collect();
    assert_eq!(messages.len(), 2);
    assert_eq!((messages[0].attachments.len(), messages[1].attachments.len()), (10, 2));
    assert_eq!(messages[1].channel_id, messages[0].channel_id);
    assert_eq!(messages[1].content, "");
}

#[tokio::test]
async fn a_published_message_is_deleted_and_a_gone_one_counts_as_deleted() {
    let env = env().await;
    let channel = env.connect().await;
    assert!(env.provider.can_delete(&channel));
    let published = env.provider.publish(&request(&channel, "regret", &[], &Value::Null)).await.unwrap();
    let delete = crier_providers::DeleteRequest {
        channel: &channel,
        target_id: crier_core::TargetId::generate(),
        provider_post_id: &published.provider_post_id,
        url: published.url.as_deref(),
    };
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted_messages(), vec![published.provider_post_id.clone()]);
    assert!(env.fake.messages().is_empty());
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted_messages().len(), 1, "already gone: nothing more deleted");

    // A forum post's message is deleted in its thread.
    let options = json!({"thread_name": "Kites of the week"});
    let forum = env.provider.publish(&request(&channel, "in a forum", &[], &options)).await.unwrap();
    let in_forum = crier_providers::DeleteRequest {
        provider_post_id: &forum.provider_post_id,
        url: forum.url.as_deref(),
        ..delete.clone()
    };
    env.provider.delete(&in_forum).await.unwrap();
    assert!(env.fake.messages().is_empty(), "deleted in its thread");

    let sneaky = crier_providers::DeleteRequest { provider_post_id: "1/../..", ..delete.clone() };
    assert!(matches!(env.provider.delete(&sneaky).await, Err(ProviderError::Rejected { .. })));
    env.fake.delete_webhook();
    let gone = env.provider.delete(&delete).await;
    let Err(err @ ProviderError::AuthExpired { .. }) = gone else { panic!("{gone:?}") };
    assert_no_token(&err);
}

#[tokio::test]
async fn a_rate_limit_names_its_reset() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.rate_limit_next(1);
    let before = chrono::Utc::now();
    let result = env.provider.publish(&request(&channel, "hi", &[], &Value::Null)).await;
    let Err(ProviderError::RateLimited { reset }) = result else { panic!("{result:?}") };
    // `X-RateLimit-Reset-After: 12.5`, to the millisecond.
    assert!(reset >= before + chrono::Duration::milliseconds(12_500), "{reset}");
    assert!(reset <= chrono::Utc::now() + chrono::Duration::milliseconds(12_500), "{reset}");
    assert!(env.fake.messages().is_empty());
}

#[tokio::test]
async fn a_deleted_webhook_needs_a_reconnect() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.delete_webhook();
    let result = env.provider.publish(&request(&channel, "hi", &[], &Value::Null)).await;
    let Err(err @ ProviderError::AuthExpired { .. }) = result else { panic!("{result:?}") };
    assert!(err.to_string().contains("Unknown Webhook"), "{err}");
    assert_no_token(&err);
    let refreshed = env.provider.refresh(&channel).await;
    assert!(matches!(refreshed, Err(ProviderError::AuthExpired { .. })), "{refreshed:?}");
    // Disconnecting leaves the user's webhook alone (and calls nothing).
    let requests = env.fake.requests().len();
    env.provider.disconnect(&channel, &env.vault.open(&channel).await.unwrap()).await.unwrap();
    assert_eq!(env.fake.requests().len(), requests);
}

/// A webhook's token never expires and Discord offers no renewal, so `refresh` (called by the
/// worker only after Discord refused the webhook) calls nothing, changes nothing and asks for a
/// new webhook.
#[tokio::test]
async fn refresh_has_nothing_to_renew_and_asks_for_a_new_webhook() {
    let env = env().await;
    let channel = env.connect().await;
    let stored = env.vault.0.lock().unwrap()[&channel.id].clone();
    let requests = env.fake.requests().len();
    let refreshed = env.provider.refresh(&channel).await;
    let Err(err @ ProviderError::AuthExpired { .. }) = &refreshed else { panic!("{refreshed:?}") };
    assert!(err.to_string().contains("reconnect"), "{err}");
    assert_eq!(env.fake.requests().len(), requests, "nothing sent to Discord");
    assert_eq!(env.vault.0.lock().unwrap()[&channel.id], stored, "the stored webhook is untouched");
    env.provider.publish(&request(&channel, "still here", &[], &Value::Null)).await.unwrap();
    assert_eq!(env.fake.messages().len(), 1, "the webhook still works");
}

#[tokio::test]
async fn a_refused_message_is_rejected_with_discords_words() {
    let env = env().await;
    let channel = env.connect().await;
    let long = "é".repeat(discord_fake::MAX_CONTENT + 1);
    let result = env.provider.publish(&request(&channel, &long, &[], &Value::Null)).await;
    let Err(err) = result else { panic!("{result:?}") };
    assert_no_token(&err);
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "platform_400");
    assert!(message.contains("50035") && message.contains("content: Must be 2000 or fewer"), "{message}");
}

#[tokio::test]
async fn content_is_counted_in_code_points_and_sends_cannot_be_looked_up() {
    let env = env().await;
    let channel = env.connect().await;
    let full = "👍".repeat(2000);
    assert!(env.provider.validate_target(&channel, &full, &Value::Null).is_empty());
    env.provider.publish(&request(&channel, &full, &[], &Value::Null)).await.unwrap();
    assert_eq!(
        pointers(&env.provider.validate_target(&channel, &format!("{full}x"), &Value::Null)),
        ["/text"]
    );
    let check = |options: Value| env.provider.validate_target(&channel, "hi", &options);
    assert_eq!(pointers(&check(json!({"username": "Discord bot"}))), ["/options/username"]);
    assert_eq!(pointers(&check(json!({"avatar_url": "not a url"}))), ["/options/avatar_url"]);
    assert_eq!(pointers(&check(json!({"thread_name": "x".repeat(101)}))), ["/options/thread_name"]);
    assert_eq!(pointers(&check(json!({"tts": true}))), ["/options"]);
    let limit = env.provider.text_limit(&channel).unwrap();
    assert_eq!((limit.max, limit.counted_in), (2000, "characters"));
    let lookup = env.provider.lookup(&request(&channel, "hi", &[], &Value::Null)).await.unwrap();
    assert_eq!(lookup, Lookup::Unknowable);
}
