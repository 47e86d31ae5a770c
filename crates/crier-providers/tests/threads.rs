//! The Threads provider against the fake Threads API of `crier-testkit`: the consent flow and the
//! long-lived exchange, refresh ahead of expiry, two-step publishing with a container polled until
//! FINISHED, replies, media fetched by Threads from their public links, the publishing quota, and
//! Graph's errors.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::collections::HashMap;
use std::sync::Arc;

use crier_core::{
    Channel, ChannelId, ChannelStatus, ManualClock, MediaFacts, MediaId, MediaKind, WorkspaceId,
};
use crier_providers::meta::MetaSettings;
use crier_providers::meta::threads::Threads;
use crier_providers::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Lookup, Platform, Provider, ProviderError,
};
use crier_testkit::threads_fake::{self, ThreadsFake};
use doubles::{MemoryMedia, MemoryVault, pointers, request};
use serde_json::{Value, json};

const CALLBACK: &str = "https://crier.example/v1/channels/connect/callback";

struct Env {
    fake: ThreadsFake,
    vault: Arc<MemoryVault>,
    clock: ManualClock,
    provider: Threads,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = ThreadsFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let clock = ManualClock::starting_now();
    let loopback = doubles::loopback_platform(vault.clone(), media);
    let platform = Platform { clock: Arc::new(clock.clone()), ..loopback };
    let settings = MetaSettings {
        threads_base: fake.base_url().into(),
        threads_auth_base: fake.base_url().into(),
        ..MetaSettings::new(threads_fake::APP_ID, threads_fake::APP_SECRET, "v24.0")
    };
    Env { provider: Threads::new(platform, settings), fake, vault, clock, workspace: WorkspaceId::generate() }
}

async fn consent(authorize_url: &str) -> (String, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = client.get(authorize_url).send().await.unwrap();
    assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
    (query["code"].clone(), query["state"].clone())
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
            panic!("Threads connects through its consent page");
        };
        assert!(authorize_url.starts_with(&format!("{}/oauth/authorize?", self.fake.base_url())));
        let (code, state) = consent(&authorize_url).await;
        assert_eq!(state, "st4te");
        let callback = CallbackRequest { flow: &flow, code: &code, callback_url: CALLBACK };
        let connection = self.provider.finish_connect(&callback).await.unwrap();
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "threads".into(),
            name: "Threads".into(),
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

    fn refreshes(&self) -> usize {
        self.fake.requests().iter().filter(|r| r.path == "/refresh_access_token").count()
    }
}

#[tokio::test]
async fn connecting_exchanges_for_a_long_lived_token() {
    let env = env().await;
    let channel = env.connect().await;
    let account = channel.account.as_ref().unwrap();
    assert_eq!(account.id, threads_fake::USER_ID);
    assert_eq!(account.handle, threads_fake::USERNAME);
    assert!(account.avatar_url.is_some());
    let tokens = env.tokens(&channel);
    assert!(tokens["access_token"].as_str().unwrap().starts_with("THAA"), "the long-lived token is kept");
    let now = crier_core::Clock::now(&env.clock).timestamp();
    assert_eq!(tokens["expires_at"].as_i64().unwrap(), now + threads_fake::LONG_LIVED);
    let params = json!({"page_id": "1"});
    let request = ConnectRequest {
        workspace_id: env.workspace,
        params: params.as_object().unwrap(),
        callback_url: CALLBACK,
        state: "s",
    };
    assert!(matches!(env.provider.connect(&request).await.unwrap_err(), ConnectError::Invalid { .. }));
}

#[tokio::test]
async fn a_post_and_its_replies_are_published_after_their_containers_finish() {
    let env = env().await;
    let channel = env.connect().await;
    let options = json!({"thread": ["second 🧵", "third"]});
    let published = env.provider.publish(&request(&channel, "first", &[], &options)).await.unwrap();
    let posts = env.fake.posts();
    assert_eq!(posts.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(), ["first", "second 🧵", "third"]);
    assert_eq!(posts[0].reply_to_id, None);
    assert_eq!(posts[1].reply_to_id.as_deref(), Some(posts[0].id.as_str()));
    assert_eq!(posts[2].reply_to_id.as_deref(), Some(posts[1].id.as_str()));
    assert_eq!(published.provider_post_id, posts[0].id);
    assert_eq!(
        published.url.unwrap(),
        format!("https://www.threads.net/@{}/post/{}", threads_fake::USERNAME, posts[0].id)
    );
    // Each container was read until FINISHED before threads_publish (the fake refuses otherwise),
    // and the quota was read first.
    let paths: Vec<String> = env.fake.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.iter().position(|p| p.ends_with("/threads_publishing_limit")).unwrap()
            < paths.iter().position(|p| p.ends_with("/threads")).unwrap()
    );
    let replying = json!({"reply_to_id": posts[2].id});
    env.provider.publish(&request(&channel, "a reply to an older post", &[], &replying)).await.unwrap();
    assert_eq!(env.fake.posts()[3].reply_to_id.as_deref(), Some(posts[2].id.as_str()));
    let lookup = env.provider.lookup(&request(&channel, "x", &[], &Value::Null)).await.unwrap();
    assert_eq!(lookup, Lookup::Unknowable);
}

#[tokio::test]
async fn a_published_post_is_deleted_and_a_gone_one_counts_as_deleted() {
    let env = env().await;
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
    let left = env.fake.posts();
    assert_eq!((left.len(), left[0].text.as_str()), (1, "a reply"), "the thread's replies stay");
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted().len(), 1, "already gone (100 / 33): nothing more deleted");
    let sneaky = crier_providers::DeleteRequest { provider_post_id: "1/threads_publish", ..delete.clone() };
    assert!(matches!(env.provider.delete(&sneaky).await, Err(ProviderError::Rejected { .. })));
    env.fake.rate_limit_next(1);
    let limited = env.provider.delete(&delete).await;
    assert!(matches!(limited, Err(ProviderError::RateLimited { .. })), "{limited:?}");
    env.fake.expire_tokens();
    let expired = env.provider.delete(&delete).await;
    assert!(matches!(expired, Err(ProviderError::AuthExpired { .. })), "{expired:?}");
}

#[tokio::test]
async fn a_channel_without_the_delete_permission_is_refused_with_metas_code() {
    let env = env().await;
    env.fake.withhold_delete_permission();
    let channel = env.connect().await;
    let published = env.provider.publish(&request(&channel, "kept", &[], &Value::Null)).await.unwrap();
    let delete = crier_providers::DeleteRequest {
        channel: &channel,
        target_id: crier_core::TargetId::generate(),
        provider_post_id: &published.provider_post_id,
        url: published.url.as_deref(),
    };
    let refused = env.provider.delete(&delete).await;
    assert!(
        matches!(refused, Err(ProviderError::Rejected { ref code, .. }) if code == "meta_10"),
        "{refused:?}"
    );
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn an_exhausted_quota_is_rate_limited_before_any_post_and_metas_limit_too() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.set_quota_usage(threads_fake::QUOTA_TOTAL);
    let err = env.provider.publish(&request(&channel, "one more", &[], &Value::Null)).await.unwrap_err();
    let now = crier_core::Clock::now(&env.clock);
    assert_eq!(err, ProviderError::RateLimited { reset: now + chrono::Duration::hours(1) });
    assert!(!env.fake.requests().iter().any(|r| r.path.ends_with("/threads")), "no container made");
    env.fake.set_quota_usage(0);
    env.fake.rate_limit_next(1);
    let err = env.provider.publish(&request(&channel, "one more", &[], &Value::Null)).await.unwrap_err();
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn tokens_are_refreshed_ahead_of_expiry_and_an_expired_one_needs_reconnecting() {
    let env = env().await;
    let channel = env.connect().await;
    let before = env.tokens(&channel);
    env.provider.publish(&request(&channel, "early", &[], &Value::Null)).await.unwrap();
    assert_eq!(env.refreshes(), 0);
    env.fake.age_tokens(54 * 86_400);
    env.clock.advance(chrono::Duration::days(54));
    env.provider.publish(&request(&channel, "late", &[], &Value::Null)).await.unwrap();
    assert_eq!(env.refreshes(), 1, "refreshed within a week of expiry");
    let after = env.tokens(&channel);
    assert_ne!(after["access_token"], before["access_token"]);
    let now = crier_core::Clock::now(&env.clock).timestamp();
    assert_eq!(after["expires_at"].as_i64().unwrap(), now + threads_fake::LONG_LIVED);

    env.fake.expire_tokens();
    let err = env.provider.publish(&request(&channel, "after", &[], &Value::Null)).await.unwrap_err();
    let ProviderError::AuthExpired { message } = err else { panic!("{err:?}") };
    assert!(message.contains("code 190") && !message.contains("THAA"), "{message}");
    let err = env.provider.refresh(&channel).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::AuthExpired { ref message } if message.contains("reconnect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_reply_to_an_unknown_post_is_rejected_with_metas_message() {
    let env = env().await;
    let channel = env.connect().await;
    let options = json!({"reply_to_id": "123"});
    let err = env.provider.publish(&request(&channel, "hello", &[], &options)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "meta_100");
    assert!(message.contains("reply_to_id"), "{message}");
    let media = [MediaId::generate()];
    let err = env.provider.publish(&request(&channel, "hello", &media, &Value::Null)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { ref code, .. } if code == "media_needs_public_url"),
        "{err:?}"
    );
}

#[tokio::test]
async fn texts_are_counted_with_emoji_as_utf8_bytes() {
    let env = env().await;
    let channel = env.connect().await;
    let check = |text: &str, options: Value| {
        let issues = env.provider.validate_target(&channel, text, &options);
        pointers(&issues).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert!(check(&"é".repeat(500), Value::Null).is_empty());
    assert_eq!(check(&"a".repeat(501), Value::Null), ["/text"]);
    assert!(check(&"😀".repeat(125), Value::Null).is_empty(), "125 emoji are 500 bytes");
    assert_eq!(check(&"😀".repeat(126), Value::Null), ["/text"]);
    assert_eq!(check("x", json!({"thread": ["ok", "😀".repeat(126)]})), ["/options/thread/1"]);
    assert_eq!(check("x", json!({"reply_to_id": "abc"})), ["/options/reply_to_id"]);
    assert_eq!(check(" ", Value::Null), ["/text"]);
    // The fake counts the same way: what passes validation is accepted upstream.
    env.provider.publish(&request(&channel, &"😀".repeat(125), &[], &Value::Null)).await.unwrap();
    // Without a public URL Threads cannot be handed media: refused at the door.
    let rules = env.provider.media_rules(&channel);
    assert!(rules.unavailable.as_deref().is_some_and(|why| why.contains("--public-url")), "{rules:?}");
    let notices = env.provider.notices(&channel);
    assert_eq!(notices[0], crier_providers::meta::threads::APP_REVIEW);
    assert!(notices[1].contains("--public-url"), "{notices:?}");
}

/// A Threads provider whose media have public links (a `--public-url` Crier).
struct Linked {
    provider: Threads,
    files: Arc<MemoryMedia>,
    linked: Arc<doubles::LinkedMedia>,
    workspace: WorkspaceId,
}

impl Linked {
    async fn start(env: &Env) -> Self {
        let files = Arc::new(MemoryMedia::default());
        let linked = Arc::new(doubles::LinkedMedia::start(files.clone()).await);
        let platform = Platform {
            media: linked.clone(),
            ..doubles::loopback_platform(env.vault.clone(), files.clone())
        };
        let settings = MetaSettings {
            threads_base: env.fake.base_url().into(),
            threads_auth_base: env.fake.base_url().into(),
            ..MetaSettings::new(threads_fake::APP_ID, threads_fake::APP_SECRET, "v24.0")
        };
        Self { provider: Threads::new(platform, settings), files, linked, workspace: env.workspace }
    }

    fn add(&self, bytes: &[u8], mime: &str, kind: MediaKind) -> MediaId {
        let id = MediaId::generate();
        let media = doubles::ready_media(self.workspace, id, bytes, mime.into(), kind, None, None);
        self.files.0.lock().unwrap().insert(id, crier_providers::MediaFile { media, bytes: bytes.to_vec() });
        id
    }
}

#[tokio::test]
async fn media_go_by_their_public_links_one_or_as_a_carousel() {
    let env = env().await;
    let channel = env.connect().await;
    let with_links = Linked::start(&env).await;
    let add = |bytes: &[u8], mime: &str, kind| with_links.add(bytes, mime, kind);
    let (provider, linked) = (&with_links.provider, &with_links.linked);
    assert!(provider.media_rules(&channel).unavailable.is_none());
    assert_eq!(provider.notices(&channel), [crier_providers::meta::threads::APP_REVIEW], "no media notice");
    let image = add(b"png one", "image/png", crier_core::MediaKind::Image);
    provider.publish(&request(&channel, "with a picture", &[image], &Value::Null)).await.unwrap();
    let video = add(b"mp4 clip", "video/mp4", crier_core::MediaKind::Video);
    provider.publish(&request(&channel, "with a clip", &[video], &Value::Null)).await.unwrap();
    let second = add(b"jpeg two", "image/jpeg", crier_core::MediaKind::Image);
    let options = json!({"thread": ["a text reply"]});
    provider.publish(&request(&channel, "two pictures", &[image, second], &options)).await.unwrap();
    let posts = env.fake.posts();
    let media = |i: usize| posts[i].media.clone();
    assert_eq!(posts[0].text, "with a picture");
    assert_eq!(media(0), [("image/png".to_owned(), b"png one".to_vec())], "Threads fetched the bytes");
    assert_eq!(media(1), [("video/mp4".to_owned(), b"mp4 clip".to_vec())]);
    assert_eq!(posts[2].text, "two pictures");
    assert_eq!(
        media(2),
        [("image/png".to_owned(), b"png one".to_vec()), ("image/jpeg".to_owned(), b"jpeg two".to_vec())]
    );
    assert_eq!(posts[3].text, "a text reply");
    assert!(media(3).is_empty(), "replies carry no media");
    assert_eq!(linked.server.fetches(), 4);
}

/// Meta's own limit (code 4, `threads/rate_limited`) without a usage estimate waits Meta's
/// rolling hour, and no container is published.
#[tokio::test]
async fn metas_rate_limit_without_an_estimate_waits_the_rolling_hour() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.rate_limit_next(1);
    let err = env.provider.publish(&request(&channel, "one more", &[], &Value::Null)).await.unwrap_err();
    let now = crier_core::Clock::now(&env.clock);
    assert_eq!(err, ProviderError::RateLimited { reset: now + chrono::Duration::hours(1) });
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn a_carousel_mixes_images_and_videos_each_item_finished_first() {
    let env = env().await;
    let channel = env.connect().await;
    let with_links = Linked::start(&env).await;
    let clip = with_links.add(b"mp4 clip", "video/mp4", MediaKind::Video);
    let photo = with_links.add(b"png photo", "image/png", MediaKind::Image);
    let film = with_links.add(b"mov film", "video/quicktime", MediaKind::Video);
    let media = [clip, photo, film];
    let published = with_links
        .provider
        .publish(&request(&channel, "a mixed carousel", &media, &Value::Null))
        .await
        .unwrap();
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].id, published.provider_post_id);
    assert_eq!(posts[0].text, "a mixed carousel");
    assert_eq!(posts[0].media_types, ["VIDEO", "IMAGE", "VIDEO"], "in the post's order");
    let types: Vec<&str> = posts[0].media.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["video/mp4", "image/png", "video/quicktime"]);
    assert_eq!(posts[0].media[2].1, b"mov film");
    // Three item containers, each read until FINISHED (a video a read more than an image), then
    // the carousel container (the fake refuses an unfinished child).
    let requests = env.fake.requests();
    let creations: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "POST" && r.path.ends_with("/threads"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(creations.len(), 4, "three items and the carousel");
    let reads =
        requests[..creations[3]].iter().filter(|r| r.method == "GET" && r.path.contains("/1790")).count();
    assert_eq!(reads, 3 + 2 + 3, "each item polled until FINISHED first");
}

#[tokio::test]
async fn a_carousel_video_threads_cannot_process_is_rejected_with_its_error_message() {
    let env = env().await;
    let channel = env.connect().await;
    let with_links = Linked::start(&env).await;
    let photo = with_links.add(b"png photo", "image/png", MediaKind::Image);
    let webm = with_links.add(b"webm clip", "video/webm", MediaKind::Video);
    let err = with_links
        .provider
        .publish(&request(&channel, "hi", &[photo, webm], &Value::Null))
        .await
        .unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "container_failed");
    assert_eq!(message, "FAILED_PROCESSING_VIDEO");
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn carousels_of_up_to_twenty_images_and_videos_are_checked_before_acceptance() {
    let env = env().await;
    let channel = env.connect().await;
    let with_links = Linked::start(&env).await;
    let rules = with_links.provider.media_rules(&channel);
    let facts = |kind, mime: &str| MediaFacts {
        mime: mime.into(),
        kind,
        width: 1080,
        height: 1350,
        duration_ms: (kind == MediaKind::Video).then_some(30_000),
        video_codec: None,
        audio_codec: None,
        size: 1000,
        sha256: String::new(),
    };
    let image = facts(MediaKind::Image, "image/jpeg");
    let video = facts(MediaKind::Video, "video/mp4");
    let mut twenty = vec![image.clone(); 10];
    twenty.extend(vec![video.clone(); 10]);
    assert!(rules.check(&twenty).is_empty(), "twenty images and videos in any mix");
    twenty.push(video.clone());
    let issues = rules.check(&twenty);
    assert_eq!(pointers(&issues), ["/media"], "{issues:?}");
    assert!(issues[0].message.contains("21 files"), "{}", issues[0].message);
    let webm = facts(MediaKind::Video, "video/webm");
    assert_eq!(pointers(&rules.check(&[image.clone(), webm])), ["/media/1"], "MP4 or MOV only");
    let long = MediaFacts { duration_ms: Some(301_000), ..video };
    assert_eq!(pointers(&rules.check(&[image, long])), ["/media/1"], "five minutes at most");
}
