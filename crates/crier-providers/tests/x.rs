//! The X provider against the fake X of `crier-testkit`: the OAuth 2.0 consent with PKCE, token
//! refresh with rotation, media, threads, and X's errors.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::sync::Arc;

use crier_core::{Channel, ChannelId, ChannelStatus, MediaId, MediaKind, WorkspaceId};
use crier_providers::x::{X, XSettings};
use crier_providers::{
    CallbackRequest, ConnectRequest, ConnectStart, CredentialVault, MediaFile, Provider, ProviderError,
};
use crier_testkit::x_fake::{self, XFake};
use doubles::{CALLBACK, MemoryMedia, MemoryVault, consent, request};
use serde_json::{Value, json};

struct Env {
    fake: XFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    provider: X,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = XFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let platform = doubles::loopback_platform(vault.clone(), media.clone());
    let settings = XSettings {
        client_id: x_fake::CLIENT_ID.into(),
        client_secret: x_fake::CLIENT_SECRET.into(),
        api_base: fake.base_url().into(),
        auth_base: fake.base_url().into(),
    };
    Env { provider: X::new(platform, settings), fake, vault, media, workspace: WorkspaceId::generate() }
}

impl Env {
    async fn connect(&self) -> Channel {
        let params = serde_json::Map::new();
        let request = ConnectRequest {
            workspace_id: self.workspace,
            params: &params,
            callback_url: CALLBACK,
            state: "st4te",
        };
        let ConnectStart::Redirect { authorize_url, flow } = self.provider.connect(&request).await.unwrap()
        else {
            panic!("X connects through the consent page");
        };
        assert!(authorize_url.starts_with(&format!("{}/i/oauth2/authorize?", self.fake.base_url())));
        let (code, state) = consent(&authorize_url).await;
        assert_eq!(state, "st4te");
        let callback = CallbackRequest { flow: &flow, code: &code, callback_url: CALLBACK };
        let connection = self.provider.finish_connect(&callback).await.unwrap();
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "x".into(),
            name: "X".into(),
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

    fn add_image(&self) -> MediaId {
        let bytes =
            std::fs::read(format!("{}/../crier-media/tests/fixtures/photo.jpg", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        self.add_media(bytes, "image/jpeg", MediaKind::Image)
    }

    fn add_media(&self, bytes: Vec<u8>, mime: &str, kind: MediaKind) -> MediaId {
        let id = MediaId::generate();
        let media = doubles::ready_media(self.workspace, id, &bytes, mime.into(), kind, None, None);
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes });
        id
    }
}

#[tokio::test]
async fn connecting_goes_through_the_consent_page_with_pkce() {
    let env = env().await;
    let channel = env.connect().await;
    let account = channel.account.as_ref().unwrap();
    assert_eq!(account.id, x_fake::ACCOUNT_ID);
    assert_eq!(account.handle, x_fake::USERNAME);
    assert_eq!(account.display_name.as_deref(), Some("Crier Test"));
    assert_eq!(channel.config, json!({}));
    assert!(env.provider.validate_config(&channel.config).is_empty());
    let tokens = env.tokens(&channel);
    for key in ["access_token", "refresh_token"] {
        assert!(tokens[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    let expires_in = tokens["expires_at"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!((7100..=7200).contains(&expires_in), "{expires_in}");
    let exchange = env.fake.requests().into_iter().find(|r| r.path == "/2/oauth2/token").unwrap();
    assert_eq!(exchange.status, 200, "Basic auth and the PKCE verifier were accepted");
}

#[tokio::test]
async fn refreshing_rotates_the_pair_and_stores_it_at_once() {
    let env = env().await;
    let channel = env.connect().await;
    let before = env.tokens(&channel);
    env.provider.refresh(&channel).await.unwrap();
    let after = env.tokens(&channel);
    assert_ne!(before["access_token"], after["access_token"]);
    assert_ne!(before["refresh_token"], after["refresh_token"]);
    assert!(!env.fake.refresh_token_valid(before["refresh_token"].as_str().unwrap()), "the old one is spent");
    assert!(env.fake.refresh_token_valid(after["refresh_token"].as_str().unwrap()));

    // A spent refresh token cannot be used again: the channel needs reconnecting.
    let stale = env.vault.0.lock().unwrap().insert(channel.id, serde_json::to_vec(&before).unwrap());
    assert!(stale.is_some());
    let refused = env.provider.refresh(&channel).await;
    assert!(matches!(refused, Err(ProviderError::AuthExpired { .. })), "{refused:?}");
}

#[tokio::test]
async fn a_pair_rotated_by_another_worker_is_taken_as_it_is() {
    let env = env().await;
    let channel = env.connect().await;
    let mut tokens = env.tokens(&channel);
    tokens["expires_at"] = json!(0);
    env.vault.0.lock().unwrap().insert(channel.id, serde_json::to_vec(&tokens).unwrap());
    // Two publishes at once both see an expired token and both refresh with the same refresh
    // token: X honours one, and the other finds the pair the first stored.
    let (one, two) =
        (request(&channel, "one", &[], &Value::Null), request(&channel, "two", &[], &Value::Null));
    let (first, second) = tokio::join!(env.provider.publish(&one), env.provider.publish(&two));
    first.unwrap();
    second.unwrap();
    assert_eq!(env.fake.tweets().len(), 2);
}

#[tokio::test]
async fn an_expired_token_is_auth_expired_then_refreshed() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.expire_access_tokens();
    let failed = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await;
    assert!(matches!(failed, Err(ProviderError::AuthExpired { .. })), "{failed:?}");
    env.provider.refresh(&channel).await.unwrap();
    env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap();
    assert_eq!(env.fake.tweets().len(), 1);

    // A token known to be past its expiry is refreshed before the call.
    let mut tokens = env.tokens(&channel);
    tokens["expires_at"] = json!(chrono::Utc::now().timestamp() - 1);
    env.vault.0.lock().unwrap().insert(channel.id, serde_json::to_vec(&tokens).unwrap());
    env.provider.publish(&request(&channel, "again", &[], &Value::Null)).await.unwrap();
    assert_ne!(env.tokens(&channel)["refresh_token"], tokens["refresh_token"]);
}

#[tokio::test]
async fn a_published_post_is_deleted_and_a_gone_one_counts_as_deleted() {
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
    assert!(env.fake.tweets().is_empty());
    env.provider.delete(&delete).await.unwrap();
    let sneaky =
        crier_providers::DeleteRequest { provider_post_id: "1/../../oauth2/revoke", ..delete.clone() };
    assert!(matches!(env.provider.delete(&sneaky).await, Err(ProviderError::Rejected { .. })));
    env.fake.expire_access_tokens();
    let expired = env.provider.delete(&delete).await;
    assert!(matches!(expired, Err(ProviderError::AuthExpired { .. })), "{expired:?}");
}

#[tokio::test]
async fn a_post_with_an_image() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add_image();
    let published = env
        .provider
        .publish(&request(&channel, "Look https://example.com/kites", &[image], &Value::Null))
        .await
        .unwrap();
    let tweets = env.fake.tweets();
    assert_eq!(tweets.len(), 1);
    assert_eq!(published.provider_post_id, tweets[0]["id"].as_str().unwrap());
    assert_eq!(
        published.url.as_deref(),
        Some(format!("https://x.com/{}/status/{}", x_fake::USERNAME, published.provider_post_id).as_str())
    );
    let media_id = tweets[0]["media_ids"][0].as_str().unwrap();
    let uploaded = env.fake.media(media_id).unwrap();
    assert_eq!(uploaded.bytes, env.media.0.lock().unwrap()[&image].bytes);
    assert_eq!(
        (uploaded.media_type.as_str(), uploaded.media_category.as_str()),
        ("image/jpeg", "tweet_image")
    );
}

#[tokio::test]
async fn a_video_is_uploaded_in_chunks_and_waited_for() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.set_video_processing_polls(2);
    let bytes: Vec<u8> = (0..9 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let video = env.add_media(bytes.clone(), "video/mp4", MediaKind::Video);
    env.provider.publish(&request(&channel, "", &[video], &Value::Null)).await.unwrap();
    let media_id = env.fake.tweets()[0]["media_ids"][0].as_str().unwrap().to_owned();
    let uploaded = env.fake.media(&media_id).unwrap();
    assert_eq!(uploaded.segments, 3);
    assert_eq!(uploaded.bytes, bytes);
    assert_eq!(uploaded.media_category, "tweet_video");
    let polls =
        env.fake.requests().iter().filter(|r| r.method == "GET" && r.path == "/2/media/upload").count();
    assert_eq!(polls, 2);
}

#[tokio::test]
async fn a_thread_is_a_chain_of_replies() {
    let env = env().await;
    let channel = env.connect().await;
    let options = json!({"thread": ["second", "third"]});
    let published = env.provider.publish(&request(&channel, "first", &[], &options)).await.unwrap();
    let tweets = env.fake.tweets();
    assert_eq!(tweets.len(), 3);
    assert_eq!(published.provider_post_id, tweets[0]["id"].as_str().unwrap());
    assert_eq!(tweets[0]["in_reply_to_tweet_id"], Value::Null);
    assert_eq!(tweets[1]["in_reply_to_tweet_id"], tweets[0]["id"]);
    assert_eq!(tweets[2]["in_reply_to_tweet_id"], tweets[1]["id"]);
    let texts: Vec<_> = tweets.iter().map(|t| t["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["first", "second", "third"]);
}

#[tokio::test]
async fn rate_limits_carry_xs_reset() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.rate_limit_next(1);
    let before = chrono::Utc::now().timestamp();
    let limited = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await;
    let Err(ProviderError::RateLimited { reset }) = limited else { panic!("{limited:?}") };
    assert!((before + 890..=before + 910).contains(&reset.timestamp()), "{reset}");
}

#[tokio::test]
async fn duplicate_content_is_rejected_for_good() {
    let env = env().await;
    let channel = env.connect().await;
    env.provider.publish(&request(&channel, "same words", &[], &Value::Null)).await.unwrap();
    let again = env.provider.publish(&request(&channel, "same words", &[], &Value::Null)).await;
    let Err(ProviderError::Rejected { code, message }) = again else { panic!("{again:?}") };
    assert_eq!(code, "duplicate_content");
    assert!(message.contains("duplicate content"), "{message}");
}

#[tokio::test]
async fn targets_are_checked_as_x_counts() {
    let env = env().await;
    let channel = env.connect().await;
    let url = format!("https://example.com/{}", "a".repeat(300));
    assert!(
        env.provider
            .validate_target(&channel, &format!("{} {url}", "b".repeat(256)), &Value::Null)
            .is_empty()
    );
    let issues = env.provider.validate_target(&channel, &"日本".repeat(71), &Value::Null);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].pointer, "/text");
    assert!(issues[0].message.contains("284"), "{}", issues[0].message);
    let issues =
        env.provider.validate_target(&channel, "ok", &json!({"thread": ["", "fine", "😀".repeat(141)]}));
    let pointers: Vec<_> = issues.iter().map(|i| i.pointer.as_str()).collect();
    assert_eq!(pointers, ["/options/thread/0", "/options/thread/2"]);
    assert_eq!(env.provider.validate_target(&channel, "ok", &json!({"poll": 1}))[0].pointer, "/options");
    assert_eq!(env.provider.text_limit(&channel).unwrap().max, 280);
}

#[tokio::test]
async fn disconnecting_revokes_the_grant_at_x() {
    let env = env().await;
    let channel = env.connect().await;
    let tokens = env.tokens(&channel);
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert!(env.fake.refresh_token_valid(&refresh));
    let credentials = env.vault.open(&channel).await.unwrap();
    env.provider.disconnect(&channel, &credentials).await.unwrap();
    assert!(!env.fake.refresh_token_valid(&refresh), "the refresh token is revoked");
    let revoke = env.fake.requests().into_iter().find(|r| r.path == "/2/oauth2/revoke").unwrap();
    assert_eq!(revoke.status, 200, "sent with the app's Basic auth");
    let refused = env.provider.refresh(&channel).await.unwrap_err();
    assert!(matches!(refused, ProviderError::AuthExpired { .. }), "{refused:?}");
}
