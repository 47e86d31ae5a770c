//! The Slack provider against the fake Slack of `crier-testkit`: the OAuth v2 install (joining
//! the channel), rotating tokens refreshed ahead of expiry, messages, threads, files, Slack's
//! `ok: false` errors and HTTP 429, revocation.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::sync::Arc;

use crier_core::{Channel, ChannelId, ChannelStatus, ManualClock, MediaId, MediaKind, WorkspaceId};
use crier_providers::slack::{Slack, SlackSettings};
use crier_providers::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Credentials, Lookup, MediaFile, Platform,
    Provider, ProviderError,
};
use crier_testkit::slack_fake::{self, SlackFake};
use doubles::{CALLBACK, MemoryMedia, MemoryVault, consent, pointers, request};
use serde_json::{Value, json};

struct Env {
    fake: SlackFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    clock: ManualClock,
    provider: Slack,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = SlackFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let clock = ManualClock::starting_now();
    let loopback = doubles::loopback_platform(vault.clone(), media.clone());
    let platform = Platform { clock: Arc::new(clock.clone()), ..loopback };
    let settings = SlackSettings {
        client_id: slack_fake::CLIENT_ID.into(),
        client_secret: slack_fake::CLIENT_SECRET.into(),
        api_base: format!("{}/api", fake.base_url()),
        auth_base: fake.base_url().into(),
    };
    Env {
        provider: Slack::new(platform, settings),
        fake,
        vault,
        media,
        clock,
        workspace: WorkspaceId::generate(),
    }
}

impl Env {
    async fn start(&self, params: &Value) -> Result<(String, Credentials), ConnectError> {
        let params = params.as_object().unwrap().clone();
        let request = ConnectRequest {
            workspace_id: self.workspace,
            params: &params,
            callback_url: CALLBACK,
            state: "st4te",
        };
        let ConnectStart::Redirect { authorize_url, flow } = self.provider.connect(&request).await? else {
            panic!("Slack connects through the consent page");
        };
        Ok((authorize_url, flow))
    }

    async fn connect(&self) -> Channel {
        let (authorize_url, flow) = self.start(&json!({"channel": slack_fake::CHANNEL_ID})).await.unwrap();
        assert!(authorize_url.starts_with(&format!("{}/oauth/v2/authorize?", self.fake.base_url())));
        let (code, state) = consent(&authorize_url).await;
        assert_eq!(state, "st4te");
        let callback = CallbackRequest { flow: &flow, code: &code, callback_url: CALLBACK };
        let connection = self.provider.finish_connect(&callback).await.unwrap();
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "slack".into(),
            name: "Slack".into(),
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

    fn tokens(&self, channel: &Channel) -> Value {
        serde_json::from_slice(&self.vault.0.lock().unwrap()[&channel.id]).unwrap()
    }

    fn token_calls(&self) -> usize {
        self.fake.requests().iter().filter(|r| r.path == "/api/oauth.v2.access").count()
    }

    fn add_image(&self, bytes: &[u8], name: &str, alt: &str) -> MediaId {
        let id = MediaId::generate();
        let media = doubles::ready_media(
            self.workspace,
            id,
            bytes,
            "image/png".into(),
            MediaKind::Image,
            Some(name.into()),
            Some(alt.into()),
        );
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes: bytes.to_vec() });
        id
    }
}

fn now_secs(clock: &ManualClock) -> i64 {
    crier_core::Clock::now(clock).timestamp()
}

#[tokio::test]
async fn connecting_installs_the_app_and_joins_the_channel() {
    let env = env().await;
    assert!(!env.fake.bot_in_channel());
    let channel = env.connect().await;
    let account = channel.account.as_ref().unwrap();
    assert_eq!(account.id, format!("{}/{}", slack_fake::TEAM_ID, slack_fake::CHANNEL_ID));
    assert_eq!(account.handle, format!("#{}", slack_fake::CHANNEL_NAME));
    assert_eq!(account.display_name.as_deref(), Some(slack_fake::TEAM_NAME));
    assert_eq!(channel.config, json!({"channel": slack_fake::CHANNEL_ID}));
    assert!(env.provider.validate_config(&channel.config).is_empty());
    assert!(env.fake.bot_in_channel(), "the bot joined the public channel");
    let tokens = env.tokens(&channel);
    assert!(tokens["access_token"].as_str().unwrap().starts_with("xoxb-"));
    assert!(tokens["refresh_token"].is_null() && tokens["expires_at"].is_null(), "no rotation: {tokens}");
    let exchange = env.fake.requests().into_iter().find(|r| r.path == "/api/oauth.v2.access").unwrap();
    assert_eq!(exchange.outcome, "ok", "Basic auth and the code were accepted");
}

#[tokio::test]
async fn connect_params_are_checked() {
    let env = env().await;
    for params in [json!({}), json!({"channel": "#general"}), json!({"channel": 3})] {
        let err = env.start(&params).await.unwrap_err();
        assert!(
            matches!(&err, ConnectError::Invalid { pointer, .. } if pointer == "/channel"),
            "{params}: {err}"
        );
    }
    let err = env.start(&json!({"channel": "C0NF841BK", "team": "x"})).await.unwrap_err();
    assert!(matches!(err, ConnectError::Invalid { .. }));
    // A channel the workspace does not have is refused after consent, with Slack's reason.
    let (authorize_url, flow) = env.start(&json!({"channel": "C0MISSING1"})).await.unwrap();
    let (code, _) = consent(&authorize_url).await;
    let callback = CallbackRequest { flow: &flow, code: &code, callback_url: CALLBACK };
    let err = env.provider.finish_connect(&callback).await.unwrap_err();
    assert!(
        matches!(&err, ConnectError::Refused { message } if message.contains("channel_not_found")),
        "{err}"
    );
    assert!(!env.provider.validate_config(&json!({"channel": "general"})).is_empty());
}

#[tokio::test]
async fn rotating_tokens_are_refreshed_ahead_of_expiry_and_the_new_pair_stored() {
    let env = env().await;
    env.fake.rotate_tokens(true);
    let channel = env.connect().await;
    let before = env.tokens(&channel);
    assert_eq!(
        before["expires_at"].as_i64().unwrap(),
        now_secs(&env.clock) + slack_fake::ACCESS_TOKEN_LIFETIME
    );
    env.provider.publish(&request(&channel, "one", &[], &Value::Null)).await.unwrap();
    assert_eq!(env.token_calls(), 1, "a fresh token is used as it is");

    env.clock.advance(chrono::Duration::hours(12) - chrono::Duration::minutes(3));
    env.provider.publish(&request(&channel, "two", &[], &Value::Null)).await.unwrap();
    assert_eq!(env.token_calls(), 2, "refreshed three minutes before expiry");
    let after = env.tokens(&channel);
    assert_ne!(before["access_token"], after["access_token"]);
    assert!(!env.fake.refresh_token_valid(before["refresh_token"].as_str().unwrap()), "spent");
    assert!(env.fake.refresh_token_valid(after["refresh_token"].as_str().unwrap()), "the new one is stored");
    assert_eq!(env.fake.messages().len(), 2);
}

#[tokio::test]
async fn a_message_and_its_thread() {
    let env = env().await;
    let channel = env.connect().await;
    let options = json!({"thread": ["first reply", "second reply"], "unfurl_links": false});
    let published =
        env.provider.publish(&request(&channel, "*Crier* 1.0 is out", &[], &options)).await.unwrap();
    let messages = env.fake.messages();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0].text, "*Crier* 1.0 is out");
    assert_eq!(messages[0].thread_ts, None);
    assert_eq!(published.provider_post_id, messages[0].ts);
    for (reply, text) in messages[1..].iter().zip(["first reply", "second reply"]) {
        assert_eq!(reply.text, text);
        assert_eq!(
            reply.thread_ts.as_deref(),
            Some(messages[0].ts.as_str()),
            "replies go in the root's thread"
        );
    }
    let url = published.url.unwrap();
    assert!(url.contains(&format!("/archives/{}/p", slack_fake::CHANNEL_ID)), "{url}");
    let lookup = env.provider.lookup(&request(&channel, "x", &[], &Value::Null)).await.unwrap();
    assert_eq!(lookup, Lookup::Unknowable);
}

#[tokio::test]
async fn a_published_message_is_deleted_and_a_gone_one_counts_as_deleted() {
    let env = env().await;
    env.fake.rotate_tokens(true);
    let channel = env.connect().await;
    assert!(env.provider.can_delete(&channel));
    let options = json!({"thread": ["a reply"]});
    let published = env.provider.publish(&request(&channel, "regret", &[], &options)).await.unwrap();
    let delete = crier_providers::DeleteRequest {
        channel: &channel,
        target_id: crier_core::TargetId::generate(),
        provider_post_id: &published.provider_post_id,
        url: published.url.as_deref(),
    };
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted(), vec![published.provider_post_id.clone()]);
    let left = env.fake.messages();
    assert_eq!((left.len(), left[0].text.as_str()), (1, "a reply"), "the thread's replies stay");
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted().len(), 1, "already gone: nothing more deleted");
    let file = crier_providers::DeleteRequest { provider_post_id: "F0000000001", ..delete.clone() };
    assert!(matches!(env.provider.delete(&file).await, Err(ProviderError::Rejected { .. })));
    env.fake.expire_access_tokens();
    let expired = env.provider.delete(&delete).await;
    assert!(matches!(expired, Err(ProviderError::AuthExpired { .. })), "{expired:?}");
}

#[tokio::test]
async fn images_are_uploaded_and_shared_with_the_text() {
    let env = env().await;
    let channel = env.connect().await;
    let first = env.add_image(b"\x89PNG first image", "chart.png", "A rising chart");
    let second = env.add_image(&vec![7u8; 300_000], "photo.png", &"long alt ".repeat(200));
    let media = [first, second];
    let published =
        env.provider.publish(&request(&channel, "Two pictures", &media, &Value::Null)).await.unwrap();

    let uploads = env.fake.uploads();
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0].bytes, b"\x89PNG first image");
    assert_eq!(uploads[0].declared_length, uploads[0].bytes.len());
    assert_eq!(uploads[0].filename, "chart.png");
    assert_eq!(uploads[0].alt_txt.as_deref(), Some("A rising chart"));
    assert_eq!(uploads[0].title.as_deref(), Some("chart.png"));
    assert_eq!(uploads[1].bytes.len(), 300_000);
    assert_eq!(uploads[1].alt_txt.as_ref().unwrap().chars().count(), 1000, "alt text cut to Slack's limit");

    let messages = env.fake.messages();
    assert_eq!(messages.len(), 1, "one message carries the text and both files");
    assert_eq!(messages[0].text, "Two pictures");
    assert_eq!(messages[0].files, vec![uploads[0].file_id.clone(), uploads[1].file_id.clone()]);
    assert_eq!(published.provider_post_id, messages[0].ts, "the share's ts, from files.info");
    assert!(published.url.is_some());

    let options = json!({"thread": ["reply"]});
    let err = env.provider.publish(&request(&channel, "x", &media, &options)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "invalid_options"), "{err:?}");

    // Files alone: no initial comment; no text and no files: Slack's `no_text`, before any call.
    env.provider.publish(&request(&channel, "", &[first], &Value::Null)).await.unwrap();
    let messages = env.fake.messages();
    assert_eq!((messages.len(), messages[1].text.as_str(), messages[1].files.len()), (2, "", 1));
    let err = env.provider.publish(&request(&channel, " ", &[], &Value::Null)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "no_text"), "{err:?}");
    assert_eq!(env.fake.messages().len(), 2);
}

#[tokio::test]
async fn a_rate_limit_carries_slacks_retry_after() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.rate_limit_next(1);
    let err = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    assert_eq!(reset.timestamp(), now_secs(&env.clock) + 30, "Retry-After: 30");
    assert!(env.fake.messages().is_empty());
    let limited = env.fake.requests().into_iter().find(|r| r.status == 429).unwrap();
    assert_eq!(limited.path, "/api/chat.postMessage");
}

#[tokio::test]
async fn an_expired_token_is_auth_expired_then_refreshed() {
    let env = env().await;
    env.fake.rotate_tokens(true);
    let channel = env.connect().await;
    env.fake.expire_access_tokens();
    let err = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap_err();
    let ProviderError::AuthExpired { message } = err else { panic!("{err:?}") };
    assert!(message.contains("token_expired"), "{message}");
    env.provider.refresh(&channel).await.unwrap();
    env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap();
    assert_eq!(env.fake.messages().len(), 1);
}

#[tokio::test]
async fn a_token_without_rotation_cannot_be_refreshed() {
    let env = env().await;
    let channel = env.connect().await;
    let err = env.provider.refresh(&channel).await.unwrap_err();
    assert!(matches!(err, ProviderError::AuthExpired { .. }), "{err:?}");
    assert_eq!(env.token_calls(), 1, "only the install's exchange");
}

#[tokio::test]
async fn a_bot_removed_from_the_channel_is_rejected_with_slacks_reason() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.remove_bot();
    let err = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "not_in_channel");
    assert!(message.contains("invite it"), "{message}");
}

#[tokio::test]
async fn disconnecting_revokes_the_token() {
    let env = env().await;
    let channel = env.connect().await;
    let access = env.tokens(&channel)["access_token"].as_str().unwrap().to_owned();
    let credentials = Credentials::from_bytes(env.vault.0.lock().unwrap()[&channel.id].clone());
    env.provider.disconnect(&channel, &credentials).await.unwrap();
    assert_eq!(env.fake.revoked(), vec![access]);
    let err = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap_err();
    let ProviderError::AuthExpired { message } = err else { panic!("{err:?}") };
    assert!(message.contains("token_revoked"), "{message}");
    env.provider.disconnect(&channel, &credentials).await.unwrap();
}

#[tokio::test]
async fn targets_are_checked() {
    let env = env().await;
    let channel = env.connect().await;
    let check = |text: &str, options: Value| {
        let issues = env.provider.validate_target(&channel, text, &options);
        pointers(&issues).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert!(check("hello", Value::Null).is_empty());
    assert!(check(&"é".repeat(40_000), json!({})).is_empty(), "counted in characters");
    assert_eq!(check(&"x".repeat(40_001), json!({})), ["/text"]);
    assert!(check("", json!({})).is_empty(), "a files-only post");
    assert_eq!(
        check("hi", json!({"thread": ["", "x".repeat(40_001)]})),
        ["/options/thread/0", "/options/thread/1"]
    );
    assert_eq!(check("hi", json!({"thread": vec!["r"; 25]})), ["/options/thread"]);
    assert_eq!(check("hi", json!({"blocks": []})), ["/options"]);
    assert_eq!(env.provider.text_limit(&channel).unwrap().max, 40_000);
    assert_eq!(env.provider.media_rules(&channel).max_images, 10);
}
