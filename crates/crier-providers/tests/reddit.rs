//! The Reddit provider against the fake Reddit of `crier-testkit`: the OAuth2 consent flow,
//! refresh ahead of expiry, self and link posts, Reddit's errors and rate limits, revocation.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::sync::Arc;

use crier_core::{Channel, ChannelId, ChannelStatus, ManualClock, WorkspaceId};
use crier_providers::reddit::{Reddit, RedditSettings};
use crier_providers::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Credentials, Lookup, Platform, Provider,
    ProviderError,
};
use crier_testkit::reddit_fake::{self, RedditFake};
use doubles::{CALLBACK, MemoryMedia, MemoryVault, consent, pointers, request};
use serde_json::{Value, json};

const USER_AGENT: &str = "linux:crier-test:1.0 (by /u/crier_test)";

struct Env {
    fake: RedditFake,
    vault: Arc<MemoryVault>,
    clock: ManualClock,
    provider: Reddit,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = RedditFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let clock = ManualClock::starting_now();
    let loopback = doubles::loopback_platform(vault.clone(), Arc::new(MemoryMedia::default()));
    let platform = Platform { clock: Arc::new(clock.clone()), ..loopback };
    let settings = RedditSettings {
        client_id: reddit_fake::CLIENT_ID.into(),
        client_secret: reddit_fake::CLIENT_SECRET.into(),
        user_agent: USER_AGENT.into(),
        api_base: fake.base_url().into(),
        auth_base: fake.base_url().into(),
    };
    Env { provider: Reddit::new(platform, settings), fake, vault, clock, workspace: WorkspaceId::generate() }
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
        let start = self.provider.connect(&request).await?;
        let ConnectStart::Redirect { authorize_url, flow } = start else {
            panic!("Reddit connects through the consent page");
        };
        Ok((authorize_url, flow))
    }

    async fn connect(&self) -> Channel {
        let (authorize_url, flow) = self.start(&json!({"subreddit": "r/rust"})).await.unwrap();
        assert!(authorize_url.starts_with(&format!("{}/api/v1/authorize?", self.fake.base_url())));
        let (code, state) = consent(&authorize_url).await;
        assert_eq!(state, "st4te");
        let callback = CallbackRequest { flow: &flow, code: &code, callback_url: CALLBACK };
        let connection = self.provider.finish_connect(&callback).await.unwrap();
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "reddit".into(),
            name: "Reddit".into(),
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
        self.fake.requests().iter().filter(|r| r.path == "/api/v1/access_token").count()
    }
}

#[tokio::test]
async fn connecting_goes_through_the_consent_page() {
    let env = env().await;
    let channel = env.connect().await;
    let account = channel.account.as_ref().unwrap();
    assert_eq!(account.id, reddit_fake::ACCOUNT_ID);
    assert_eq!(account.handle, format!("u/{}", reddit_fake::USERNAME));
    assert!(account.avatar_url.as_deref().unwrap().ends_with("?width=256&height=256"), "unescaped");
    assert_eq!(channel.config, json!({"subreddit": "rust"}));
    assert!(env.provider.validate_config(&channel.config).is_empty());
    let tokens = env.tokens(&channel);
    for key in ["access_token", "refresh_token"] {
        assert!(tokens[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    let expires_in = tokens["expires_at"].as_i64().unwrap() - env.clock.now_secs();
    assert_eq!(expires_in, reddit_fake::ACCESS_TOKEN_LIFETIME);
    let requests = env.fake.requests();
    let exchange = requests.iter().find(|r| r.path == "/api/v1/access_token").unwrap();
    assert_eq!(exchange.status, 200, "Basic auth was accepted");
    for r in requests.iter().filter(|r| r.path != "/api/v1/authorize") {
        assert_eq!(r.user_agent.as_deref(), Some(USER_AGENT), "{}", r.path);
    }
}

trait NowSecs {
    fn now_secs(&self) -> i64;
}

impl NowSecs for ManualClock {
    fn now_secs(&self) -> i64 {
        crier_core::Clock::now(self).timestamp()
    }
}

#[tokio::test]
async fn connect_params_are_checked() {
    let env = env().await;
    for params in
        [json!({}), json!({"subreddit": "ab"}), json!({"subreddit": "no-dash"}), json!({"subreddit": 3})]
    {
        let err = env.start(&params).await.unwrap_err();
        assert!(
            matches!(&err, ConnectError::Invalid { pointer, .. } if pointer == "/subreddit"),
            "{params}: {err}"
        );
    }
    let err = env.start(&json!({"subreddit": "rust", "flair": "x"})).await.unwrap_err();
    assert!(matches!(err, ConnectError::Invalid { .. }));
    assert!(!env.provider.validate_config(&json!({"subreddit": "r/rust"})).is_empty());
    assert!(!env.provider.validate_config(&json!({})).is_empty());
}

#[tokio::test]
async fn tokens_are_refreshed_ahead_of_expiry_and_a_new_refresh_token_stored() {
    let env = env().await;
    let channel = env.connect().await;
    let before = env.tokens(&channel);
    let options = json!({"title": "Hello"});
    env.provider.publish(&request(&channel, "one", &[], &options)).await.unwrap();
    assert_eq!(env.token_calls(), 1, "a fresh token is used as it is");

    env.fake.rotate_refresh_tokens(true);
    env.clock.advance(chrono::Duration::minutes(57));
    env.provider.publish(&request(&channel, "two", &[], &options)).await.unwrap();
    assert_eq!(env.token_calls(), 2, "refreshed three minutes before expiry");
    let after = env.tokens(&channel);
    assert_ne!(before["access_token"], after["access_token"]);
    assert_ne!(before["refresh_token"], after["refresh_token"], "the new refresh token is stored");
    assert!(env.fake.refresh_token_valid(after["refresh_token"].as_str().unwrap()));
    assert_eq!(
        after["expires_at"].as_i64().unwrap(),
        env.clock.now_secs() + reddit_fake::ACCESS_TOKEN_LIFETIME
    );
}

#[tokio::test]
async fn a_self_post_and_a_link_post() {
    let env = env().await;
    let channel = env.connect().await;
    let options = json!({"title": "Crier 1.0 is out", "nsfw": false, "spoiler": true, "flair_id": "abc-123"});
    let published =
        env.provider.publish(&request(&channel, "All the **news**.", &[], &options)).await.unwrap();
    assert!(published.provider_post_id.starts_with("t3_"));
    assert!(published.url.as_deref().unwrap().starts_with("https://www.reddit.com/r/rust/comments/"));

    let options = json!({"title": "Read this", "kind": "link", "url": "https://crier.example/news"});
    env.provider.publish(&request(&channel, "", &[], &options)).await.unwrap();

    let submissions = env.fake.submissions();
    assert_eq!(submissions.len(), 2);
    let (first, second) = (&submissions[0], &submissions[1]);
    assert_eq!(first["sr"], "rust");
    assert_eq!(first["kind"], "self");
    assert_eq!(first["text"], "All the **news**.");
    assert_eq!(first["title"], "Crier 1.0 is out");
    assert_eq!(first["spoiler"], "true");
    assert_eq!(first["nsfw"], "false");
    assert_eq!(first["flair_id"], "abc-123");
    assert_eq!(first["api_type"], "json");
    assert_eq!(format!("t3_{}", first["id"]), published.provider_post_id);
    assert_eq!(second["kind"], "link");
    assert_eq!(second["url"], "https://crier.example/news");
    assert!(!second.contains_key("text"));
    assert_eq!(env.provider.lookup(&request(&channel, "", &[], &options)).await.unwrap(), Lookup::Unknowable);
}

#[tokio::test]
async fn rate_limits_carry_reddits_wait() {
    let env = env().await;
    let channel = env.connect().await;
    let options = json!({"title": "Hello"});

    env.fake.submit_ratelimit_next(1);
    let err = env.provider.publish(&request(&channel, "", &[], &options)).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    assert_eq!(reset.timestamp(), env.clock.now_secs() + 539, "the answer's `ratelimit` seconds");

    env.fake.rate_limit_next(1);
    let err = env.provider.publish(&request(&channel, "", &[], &options)).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    assert_eq!(reset.timestamp(), env.clock.now_secs() + 300, "x-ratelimit-reset is seconds from now");
    assert!(env.fake.submissions().is_empty());
}

#[tokio::test]
async fn an_expired_token_is_auth_expired_then_refreshed() {
    let env = env().await;
    let channel = env.connect().await;
    let options = json!({"title": "Hello"});
    env.fake.expire_access_tokens();
    let err = env.provider.publish(&request(&channel, "", &[], &options)).await.unwrap_err();
    assert!(matches!(err, ProviderError::AuthExpired { .. }), "{err:?}");
    env.provider.refresh(&channel).await.unwrap();
    env.provider.publish(&request(&channel, "", &[], &options)).await.unwrap();
    assert_eq!(env.fake.submissions().len(), 1);
}

#[tokio::test]
async fn a_published_post_is_deleted_and_a_gone_one_counts_as_deleted() {
    let env = env().await;
    let channel = env.connect().await;
    assert!(env.provider.can_delete(&channel));
    let options = json!({"title": "Regret"});
    let published = env.provider.publish(&request(&channel, "", &[], &options)).await.unwrap();
    let delete = crier_providers::DeleteRequest {
        channel: &channel,
        target_id: crier_core::TargetId::generate(),
        provider_post_id: &published.provider_post_id,
        url: published.url.as_deref(),
    };
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted(), [published.provider_post_id.as_str()]);
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted().len(), 1);
    let sneaky = crier_providers::DeleteRequest { provider_post_id: "t1_abc", ..delete.clone() };
    assert!(matches!(env.provider.delete(&sneaky).await, Err(ProviderError::Rejected { .. })));
    env.fake.rate_limit_next(1);
    let limited = env.provider.delete(&delete).await;
    assert!(matches!(limited, Err(ProviderError::RateLimited { .. })), "{limited:?}");
    env.fake.expire_access_tokens();
    let expired = env.provider.delete(&delete).await;
    assert!(matches!(expired, Err(ProviderError::AuthExpired { .. })), "{expired:?}");
}

#[tokio::test]
async fn a_revoked_refresh_token_needs_reconnecting() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.revoke(env.tokens(&channel)["refresh_token"].as_str().unwrap());
    let err = env.provider.refresh(&channel).await.unwrap_err();
    assert!(matches!(err, ProviderError::AuthExpired { .. }), "{err:?}");
}

#[tokio::test]
async fn a_missing_subreddit_is_rejected() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.remove_subreddit("rust");
    let err = env.provider.publish(&request(&channel, "", &[], &json!({"title": "Hi"}))).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "SUBREDDIT_NOEXIST");
    assert!(message.contains("doesn't exist"), "{message}");
}

#[tokio::test]
async fn disconnecting_revokes_the_refresh_token() {
    let env = env().await;
    let channel = env.connect().await;
    let refresh = env.tokens(&channel)["refresh_token"].as_str().unwrap().to_owned();
    let credentials = Credentials::from_bytes(env.vault.0.lock().unwrap()[&channel.id].clone());
    env.provider.disconnect(&channel, &credentials).await.unwrap();
    assert_eq!(env.fake.revoked(), vec![refresh.clone()]);
    assert!(!env.fake.refresh_token_valid(&refresh));
}

#[tokio::test]
async fn targets_are_checked() {
    let env = env().await;
    let channel = env.connect().await;
    let check = |text: &str, options: Value| {
        let issues = env.provider.validate_target(&channel, text, &options);
        pointers(&issues).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert!(check("body", json!({"title": "Fine"})).is_empty());
    assert!(check("", json!({"title": "t".repeat(300)})).is_empty());
    assert_eq!(check("body", json!({})), ["/options/title"]);
    assert_eq!(check("body", Value::Null), ["/options/title"]);
    assert_eq!(check("", json!({"title": "t".repeat(301)})), ["/options/title"]);
    assert_eq!(check(&"x".repeat(40_001), json!({"title": "Long"})), ["/text"]);
    assert!(check(&"é".repeat(40_000), json!({"title": "Long"})).is_empty(), "counted in characters");
    assert_eq!(check("", json!({"title": "L", "kind": "link"})), ["/options/url"]);
    assert_eq!(check("", json!({"title": "L", "kind": "link", "url": "ftp://x.example"})), ["/options/url"]);
    assert_eq!(check("text", json!({"title": "L", "kind": "link", "url": "https://x.example"})), ["/text"]);
    assert_eq!(check("", json!({"title": "L", "url": "https://x.example"})), ["/options/url"]);
    assert_eq!(check("", json!({"title": "L", "kind": "image"})), ["/options/kind"]);
    assert_eq!(check("", json!({"title": "L", "sticky": true})), ["/options"]);
    assert_eq!(env.provider.text_limit(&channel).unwrap().max, 40_000);
    assert_eq!(env.provider.media_rules(&channel), crier_providers::MediaRules::default());

    let err = env.provider.publish(&request(&channel, "", &[], &json!({}))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "invalid_options"), "{err:?}");
    assert!(env.fake.submissions().is_empty());
}
