//! The Reddit provider against the fake Reddit of `crier-testkit`: the OAuth2 consent flow,
//! refresh ahead of expiry, self and link posts, image posts and galleries (upload lease, upload,
//! websocket), Reddit's errors and rate limits, revocation.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::sync::Arc;
use std::time::Duration;

use crier_core::{
    Channel, ChannelId, ChannelStatus, ManualClock, MediaFacts, MediaId, MediaKind, WorkspaceId,
};
use crier_providers::reddit::{Reddit, RedditSettings};
use crier_providers::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Credentials, Lookup, MediaFile, Platform,
    Provider, ProviderError,
};
use crier_testkit::reddit_fake::{self, RedditFake};
use doubles::{CALLBACK, MemoryMedia, MemoryVault, consent, pointers, request};
use serde_json::{Value, json};

const USER_AGENT: &str = "linux:crier-test:1.0 (by /u/crier_test)";

struct Env {
    fake: RedditFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    clock: ManualClock,
    provider: Reddit,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = RedditFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let clock = ManualClock::starting_now();
    let media = Arc::new(MemoryMedia::default());
    let loopback = doubles::loopback_platform(vault.clone(), media.clone());
    let platform = Platform { clock: Arc::new(clock.clone()), ..loopback };
    let settings = RedditSettings {
        client_id: reddit_fake::CLIENT_ID.into(),
        client_secret: reddit_fake::CLIENT_SECRET.into(),
        user_agent: USER_AGENT.into(),
        api_base: fake.base_url().into(),
        auth_base: fake.base_url().into(),
        media_wait: Duration::from_secs(2),
    };
    Env {
        provider: Reddit::new(platform, settings),
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

    fn add_media(&self, bytes: &[u8], mime: &str) -> MediaId {
        let id = MediaId::generate();
        let kind = if mime.starts_with("video/") { MediaKind::Video } else { MediaKind::Image };
        let media = doubles::ready_media(self.workspace, id, bytes, mime.into(), kind, None, None);
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes: bytes.to_vec() });
        id
    }

    fn add_image(&self, bytes: &[u8]) -> MediaId {
        self.add_media(bytes, "image/png")
    }

    fn calls_to(&self, path: &str) -> Vec<u16> {
        self.fake.requests().iter().filter(|r| r.path == path).map(|r| r.status).collect()
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
async fn a_post_accepted_without_its_name_is_of_unknown_outcome_not_resent() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.answer_unnamed_next(1);
    let err =
        env.provider.publish(&request(&channel, "", &[], &json!({"title": "Hello"}))).await.unwrap_err();
    assert!(matches!(err, ProviderError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(env.fake.submissions().len(), 1, "the post was made once, and nothing was resent");
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

    let err = env.provider.publish(&request(&channel, "", &[], &json!({}))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "invalid_options"), "{err:?}");
    assert!(env.fake.submissions().is_empty());
}

#[tokio::test]
async fn one_image_is_an_image_post_reported_on_the_websocket() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add_image(b"\x89PNG one");
    let options = json!({"title": "A chart", "spoiler": true, "flair_id": "f-1"});
    let published =
        env.provider.publish(&request(&channel, "What it shows.", &[image], &options)).await.unwrap();

    let submissions = env.fake.submissions();
    assert_eq!(submissions.len(), 1);
    let post = &submissions[0];
    assert_eq!(post["kind"], "image");
    assert_eq!(post["sr"], "rust");
    assert_eq!(post["title"], "A chart");
    assert_eq!(post["text"], "What it shows.", "the text is the post's body");
    assert_eq!(post["spoiler"], "true");
    assert_eq!(post["flair_id"], "f-1");
    let asset = env.fake.asset_at(&post["url"]).expect("the url names the uploaded asset");
    assert_eq!(env.fake.uploaded(&asset).unwrap(), b"\x89PNG one", "the bytes reached the bucket");
    assert_eq!(published.provider_post_id, format!("t3_{}", post["id"]), "the id from the websocket");
    assert!(published.url.as_deref().unwrap().contains(&format!("/comments/{}/", post["id"])));
    assert_eq!(env.calls_to("/s3"), [201], "uploaded once, without Reddit's token");
    assert_eq!(env.fake.requests().iter().filter(|r| r.path.starts_with("/ws/")).count(), 1);

    // The id is a real one: the post can be deleted with it.
    let delete = crier_providers::DeleteRequest {
        channel: &channel,
        target_id: crier_core::TargetId::generate(),
        provider_post_id: &published.provider_post_id,
        url: published.url.as_deref(),
    };
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted(), [published.provider_post_id.as_str()]);
}

#[tokio::test]
async fn several_images_are_a_gallery() {
    let env = env().await;
    let channel = env.connect().await;
    let images: Vec<MediaId> =
        [&b"GIF89a one"[..], b"\xff\xd8 two", b"\x89PNG three"].iter().map(|b| env.add_image(b)).collect();
    let options = json!({"title": "Three views", "nsfw": true});
    let published = env.provider.publish(&request(&channel, "Body", &images, &options)).await.unwrap();

    let submissions = env.fake.submissions();
    assert_eq!(submissions.len(), 1);
    let post = &submissions[0];
    assert_eq!(post["kind"], "gallery");
    assert_eq!(post["text"], "Body");
    assert_eq!(post["nsfw"], "true");
    assert_eq!(post["api_type"], "json");
    let uploaded: Vec<Vec<u8>> =
        post["media_ids"].split(',').map(|id| env.fake.uploaded(id).unwrap()).collect();
    assert_eq!(uploaded, [&b"GIF89a one"[..], b"\xff\xd8 two", b"\x89PNG three"], "in the post's order");
    assert_eq!(published.provider_post_id, format!("t3_{}", post["id"]));
    assert!(published.url.unwrap().starts_with("https://www.reddit.com/r/rust/comments/"));
    assert_eq!(env.calls_to("/api/submit"), Vec::<u16>::new(), "a gallery has its own endpoint");
    assert!(!env.fake.requests().iter().any(|r| r.path.starts_with("/ws/")), "answered at once");
}

fn facts(mime: &str, size: u64) -> MediaFacts {
    MediaFacts {
        mime: mime.into(),
        kind: if mime.starts_with("video/") { MediaKind::Video } else { MediaKind::Image },
        width: 800,
        height: 600,
        duration_ms: mime.starts_with("video/").then_some(5000),
        video_codec: None,
        audio_codec: None,
        size,
        sha256: String::new(),
    }
}

#[tokio::test]
async fn media_reddit_cannot_take_is_refused_at_accept_time() {
    let env = env().await;
    let channel = env.connect().await;
    let rules = env.provider.media_rules(&channel);
    assert!(rules.check(&[facts("image/jpeg", 1000), facts("image/gif", 19_000_000)]).is_empty());
    assert!(rules.check(&vec![facts("image/png", 1000); 20]).is_empty());
    let refused = |media: &[MediaFacts]| {
        pointers(&rules.check(media)).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(refused(&[facts("image/webp", 1000)]), ["/media/0"], "not a type Reddit's upload takes");
    assert_eq!(refused(&[facts("image/png", 20_000_001)]), ["/media/0"], "over 20 MB");
    assert_eq!(refused(&vec![facts("image/png", 1000); 21]), ["/media"], "a gallery takes 20");
    let video = rules.check(&[facts("video/mp4", 1000)]);
    assert_eq!(pointers(&video), ["/media"]);
    assert!(video[0].message.contains("no videos"), "{}", video[0].message);

    // A link or self post carries no images: the kind is Crier's to choose from the count.
    let image = [facts("image/png", 1000)];
    let with = |options: Value| {
        let issues = env.provider.validate_with_media(&channel, &options, &image);
        pointers(&issues).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let link = json!({"title": "L", "kind": "link", "url": "https://x.example"});
    assert_eq!(with(link.clone()), ["/options/kind"]);
    assert_eq!(with(json!({"title": "S", "kind": "self"})), ["/options/kind"]);
    assert!(with(json!({"title": "I"})).is_empty());
    assert!(env.provider.validate_with_media(&channel, &link, &[]).is_empty(), "a link post alone is fine");

    // Reaching publish anyway, nothing is uploaded.
    let id = env.add_image(b"\x89PNG");
    let err = env.provider.publish(&request(&channel, "", &[id], &link)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "invalid_options"), "{err:?}");
    let webp = env.add_media(b"RIFF....WEBP", "image/webp");
    let err =
        env.provider.publish(&request(&channel, "", &[webp], &json!({"title": "W"}))).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { ref code, .. } if code == "media_unsupported"),
        "{err:?}"
    );
    assert!(env.calls_to("/api/media/asset.json").is_empty());
    assert!(env.fake.submissions().is_empty());
}

#[tokio::test]
async fn a_rate_limited_upload_lease_waits_for_reddits_reset() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add_image(b"\x89PNG");
    env.fake.rate_limit_next(1);
    let err =
        env.provider.publish(&request(&channel, "", &[image], &json!({"title": "T"}))).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    assert_eq!(reset.timestamp(), env.clock.now_secs() + 300, "x-ratelimit-reset is seconds from now");
    assert_eq!(env.calls_to("/api/media/asset.json"), [429]);
    assert!(env.calls_to("/s3").is_empty());
    assert!(env.fake.submissions().is_empty());
}

#[tokio::test]
async fn an_expired_token_during_an_upload_is_refreshed_once() {
    let env = env().await;
    let channel = env.connect().await;
    let images = [env.add_image(b"\x89PNG a"), env.add_image(b"\x89PNG b")];
    env.fake.expire_access_tokens();
    let options = json!({"title": "Two"});
    let err = env.provider.publish(&request(&channel, "", &images, &options)).await.unwrap_err();
    assert!(matches!(err, ProviderError::AuthExpired { .. }), "{err:?}");
    assert_eq!(env.calls_to("/api/media/asset.json"), [401]);
    env.provider.refresh(&channel).await.unwrap();
    assert_eq!(env.token_calls(), 2, "the code exchange, then one refresh");
    env.provider.publish(&request(&channel, "", &images, &options)).await.unwrap();
    assert_eq!(env.calls_to("/api/media/asset.json"), [401, 200, 200]);
    assert_eq!(env.fake.submissions().len(), 1);
}

#[tokio::test]
async fn a_silent_websocket_leaves_the_outcome_unknown_and_a_failed_one_is_a_refusal() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add_image(b"\x89PNG");
    let options = json!({"title": "Quiet"});
    env.fake.silent_websocket(true);
    let started = std::time::Instant::now();
    let err = env.provider.publish(&request(&channel, "", &[image], &options)).await.unwrap_err();
    let ProviderError::OutcomeUnknown { message } = err else { panic!("{err:?}") };
    assert!(message.contains("said nothing for 2 s"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10), "bounded by media_wait");
    assert_eq!(env.fake.submissions().len(), 1, "the post was made: unknown, never a made-up id");

    env.fake.silent_websocket(false);
    env.fake.fail_media_posts(true);
    let err = env.provider.publish(&request(&channel, "", &[image], &options)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "media_post_failed");
    assert!(message.contains("could not be processed"), "{message}");
    assert_eq!(env.fake.submissions().len(), 1);
}
