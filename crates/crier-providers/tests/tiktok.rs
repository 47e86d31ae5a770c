//! The TikTok provider against the fake TikTok of `crier-testkit`: Login Kit with PKCE, refresh
//! with rotation, Direct Post with the creator's settings checked, a chunked FILE_UPLOAD and the
//! status polled, TikTok's `{error: {code, message, log_id}}` for rate limits, an expired token, a
//! refused post and a failed one.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::collections::HashMap;
use std::sync::Arc;

use crier_core::{Channel, ChannelId, ChannelStatus, ManualClock, MediaId, MediaKind, WorkspaceId};
use crier_providers::tiktok::{MIN_CHUNK, TikTok, TikTokSettings};
use crier_providers::{
    CallbackRequest, ConnectRequest, ConnectStart, Credentials, MediaFile, Platform, Provider, ProviderError,
};
use crier_testkit::tiktok_fake::{self, TikTokFake};
use doubles::{MemoryMedia, MemoryVault, pointers, request};
use serde_json::{Value, json};

const CALLBACK: &str = "https://crier.example/v1/channels/connect/callback";

struct Env {
    fake: TikTokFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    clock: ManualClock,
    provider: TikTok,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = TikTokFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let clock = ManualClock::starting_now();
    let loopback = doubles::loopback_platform(vault.clone(), media.clone());
    let platform = Platform { clock: Arc::new(clock.clone()), ..loopback };
    let settings = TikTokSettings {
        client_key: tiktok_fake::CLIENT_KEY.into(),
        client_secret: tiktok_fake::CLIENT_SECRET.into(),
        api_base: fake.base_url().into(),
        auth_base: fake.base_url().into(),
        chunk_size: MIN_CHUNK,
    };
    Env {
        provider: TikTok::new(platform, settings),
        fake,
        vault,
        media,
        clock,
        workspace: WorkspaceId::generate(),
    }
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
            panic!("TikTok connects through the consent page");
        };
        assert!(authorize_url.starts_with(&format!("{}/v2/auth/authorize/?", self.fake.base_url())));
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let answer = client.get(&authorize_url).send().await.unwrap();
        assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
        let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
        let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
        assert_eq!(query["state"], "st4te");
        let callback = CallbackRequest { flow: &flow, code: &query["code"], callback_url: CALLBACK };
        let connection = self.provider.finish_connect(&callback).await.unwrap();
        assert!(self.provider.finish_connect(&callback).await.is_err(), "a code is good once");
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "tiktok".into(),
            name: "TikTok".into(),
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

    fn video(&self, bytes: &[u8], duration_ms: u64) -> MediaId {
        let id = MediaId::generate();
        let mut media =
            doubles::ready_media(self.workspace, id, bytes, "video/mp4".into(), MediaKind::Video, None, None);
        media.facts.as_mut().unwrap().duration_ms = Some(duration_ms);
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes: bytes.to_vec() });
        id
    }
}

fn now_secs(clock: &ManualClock) -> i64 {
    crier_core::Clock::now(clock).timestamp()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn private() -> Value {
    json!({"privacy_level": "SELF_ONLY"})
}

#[tokio::test]
async fn connecting_goes_through_login_kit_with_pkce() {
    let env = env().await;
    let channel = env.connect().await;
    // What the platform withholds until it reviews the app is said on the channel.
    assert_eq!(env.provider.notices(&channel), [crier_providers::tiktok::UNAUDITED]);
    let account = channel.account.as_ref().unwrap();
    assert_eq!(account.id, tiktok_fake::OPEN_ID);
    assert_eq!(account.display_name.as_deref(), Some(tiktok_fake::DISPLAY_NAME));
    assert!(account.avatar_url.as_deref().unwrap().ends_with(".jpeg"));
    assert!(env.provider.validate_config(&channel.config).is_empty());
    let tokens = env.tokens(&channel);
    assert!(tokens["access_token"].as_str().unwrap().starts_with("act."));
    assert_eq!(
        tokens["expires_at"].as_i64().unwrap(),
        now_secs(&env.clock) + tiktok_fake::ACCESS_TOKEN_LIFETIME
    );

    let credentials = Credentials::from_bytes(env.vault.0.lock().unwrap()[&channel.id].clone());
    env.provider.disconnect(&channel, &credentials).await.unwrap();
    assert_eq!(env.fake.revoked(), [tokens["access_token"].as_str().unwrap()]);
    env.provider.disconnect(&channel, &credentials).await.unwrap();
}

#[tokio::test]
async fn tokens_are_refreshed_ahead_of_expiry_and_the_rotated_refresh_token_stored() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.video(&pattern(1000), 5000);
    let token_calls = || env.fake.requests().iter().filter(|r| r.path == "/v2/oauth/token/").count();
    let exchanges = token_calls();
    env.provider.publish(&request(&channel, "one", &[video], &private())).await.unwrap();
    assert_eq!(token_calls(), exchanges, "a fresh token is used as it is");
    let before = env.tokens(&channel);
    env.clock.advance(chrono::Duration::hours(23) + chrono::Duration::minutes(30));
    env.provider.publish(&request(&channel, "two", &[video], &private())).await.unwrap();
    assert_eq!(token_calls(), exchanges + 1, "refreshed within an hour of expiry");
    let after = env.tokens(&channel);
    assert_ne!(before["access_token"], after["access_token"]);
    assert!(!env.fake.refresh_token_valid(before["refresh_token"].as_str().unwrap()), "spent");
    assert!(env.fake.refresh_token_valid(after["refresh_token"].as_str().unwrap()), "stored at once");
}

#[tokio::test]
async fn a_video_is_posted_in_chunks_and_arrives_whole() {
    let env = env().await;
    let channel = env.connect().await;
    // 12 MB with 5 MB chunks: two chunks, the second taking the trailing 2 MB (7 MB in all).
    let bytes = pattern(12 * 1024 * 1024 + 3);
    let video = env.video(&bytes, 30_000);
    let options =
        json!({"privacy_level": "SELF_ONLY", "disable_comment": true, "video_cover_timestamp_ms": 1500});
    let caption = "Spring rides #bikes";
    let published = env.provider.publish(&request(&channel, caption, &[video], &options)).await.unwrap();

    let posts = env.fake.posts();
    let (publish_id, post) = posts.iter().next().unwrap();
    assert_eq!(post.bytes, bytes, "the chunks reassemble into the file, byte for byte");
    assert_eq!(post.chunks, 2);
    let info = &post.init["post_info"];
    assert_eq!(info["title"], caption);
    assert_eq!(info["privacy_level"], "SELF_ONLY");
    assert_eq!(info["disable_comment"], true);
    assert_eq!(info["disable_duet"], true, "the creator has duets off");
    assert_eq!(info["disable_stitch"], false);
    assert_eq!(info["video_cover_timestamp_ms"], 1500);
    let source = &post.init["source_info"];
    assert_eq!(source["chunk_size"], MIN_CHUNK);
    assert_eq!(source["total_chunk_count"], 2);
    let total = bytes.len() as u64;
    let ranges: Vec<String> = env.fake.requests().into_iter().filter_map(|r| r.content_range).collect();
    assert_eq!(
        ranges,
        [format!("bytes 0-{}/{total}", MIN_CHUNK - 1), format!("bytes {MIN_CHUNK}-{}/{total}", total - 1)]
    );
    assert!(post.polls >= 2, "polled until complete");
    // A private post has no public id: its publish id stands for it.
    assert_eq!(&published.provider_post_id, publish_id);
    assert_eq!(published.url, None);
    let order: Vec<String> = env.fake.requests().into_iter().map(|r| r.path).collect();
    let at = |path: &str| order.iter().position(|p| p == path).unwrap();
    assert!(at("/v2/post/publish/creator_info/query/") < at("/v2/post/publish/video/init/"), "{order:?}");

    // An audited app posting publicly gets the post's id and address.
    env.fake.set_creator(json!({"privacy_level_options": ["PUBLIC_TO_EVERYONE", "SELF_ONLY"]}));
    let small = env.video(&pattern(1000), 5000);
    let public = json!({"privacy_level": "PUBLIC_TO_EVERYONE"});
    let published = env.provider.publish(&request(&channel, "Public", &[small], &public)).await.unwrap();
    assert_eq!(published.provider_post_id, "7300000000123");
    assert_eq!(
        published.url.as_deref(),
        Some(format!("https://www.tiktok.com/@{}/video/7300000000123", tiktok_fake::USERNAME).as_str())
    );
}

#[tokio::test]
async fn the_creators_settings_are_checked_before_posting() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.video(&pattern(1000), 5000);
    let public = json!({"privacy_level": "PUBLIC_TO_EVERYONE"});
    let err = env.provider.publish(&request(&channel, "x", &[video], &public)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "privacy_level_option_mismatch");
    assert!(message.contains("SELF_ONLY"), "{message}");
    let long = env.video(&pattern(1000), 301_000);
    let err = env.provider.publish(&request(&channel, "x", &[long], &private())).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { ref code, .. } if code == "duration_too_long"),
        "{err:?}"
    );
    assert!(env.fake.posts().is_empty(), "nothing was initialised");
}

#[tokio::test]
async fn rate_limits_and_the_daily_cap() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.video(&pattern(1000), 5000);
    env.fake.rate_limit_next();
    let err = env.provider.publish(&request(&channel, "x", &[video], &private())).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    assert_eq!(reset.timestamp(), now_secs(&env.clock) + 60);

    env.fake.post_cap_next();
    let err = env.provider.publish(&request(&channel, "x", &[video], &private())).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    assert_eq!(reset.timestamp(), now_secs(&env.clock) + 86_400);
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn an_expired_token_is_auth_expired_then_refreshed() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.video(&pattern(1000), 5000);
    env.fake.expire_access_tokens();
    let err = env.provider.publish(&request(&channel, "x", &[video], &private())).await.unwrap_err();
    let ProviderError::AuthExpired { message } = err else { panic!("{err:?}") };
    assert!(message.contains("access token is invalid") && message.contains("log_id"), "{message}");
    env.provider.refresh(&channel).await.unwrap();
    env.provider.publish(&request(&channel, "x", &[video], &private())).await.unwrap();
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn refusals_and_failed_posts_keep_tiktoks_words() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.video(&pattern(1000), 5000);
    // Refused at accept time by validate_target; reaching TikTok anyway, its refusal is kept.
    let caption = "é".repeat(2201);
    let err = env.provider.publish(&request(&channel, &caption, &[video], &private())).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "invalid_params");
    assert!(message.contains("title is too long"), "{message}");

    env.fake.fail_publish("duration_check_failed");
    let err = env.provider.publish(&request(&channel, "x", &[video], &private())).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { ref code, .. } if code == "duration_check_failed"),
        "{err:?}"
    );
    env.fake.fail_publish("spam_risk_too_many_posts");
    let err = env.provider.publish(&request(&channel, "x", &[video], &private())).await.unwrap_err();
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
}

#[tokio::test]
async fn targets_are_checked() {
    let env = env().await;
    let channel = env.connect().await;
    let check = |text: &str, options: Value| {
        let issues = env.provider.validate_target(&channel, text, &options);
        pointers(&issues).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert!(check(&"é".repeat(2200), private()).is_empty());
    assert_eq!(check(&"😀".repeat(1101), private()), ["/text"], "UTF-16 units");
    assert_eq!(check("x", Value::Null), ["/options/privacy_level"], "no default privacy");
    assert_eq!(check("x", json!({"privacy_level": "FRIENDS"})), ["/options/privacy_level"]);
    assert_eq!(check("x", json!({"privacy_level": "SELF_ONLY", "duet": true})), ["/options"]);
    let rules = env.provider.media_rules(&channel);
    assert!(rules.media_required);
    assert_eq!((rules.max_images, rules.max_videos), (0, 1));
    let limit = env.provider.text_limit(&channel).unwrap();
    assert_eq!((limit.max, limit.counted_in), (2200, "utf16"));
}
