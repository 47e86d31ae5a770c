//! The Instagram provider against the fake Instagram API of `crier-testkit`: connecting through
//! Facebook Login and the Page's Instagram account, renewing the long-lived token, publishing an
//! image and a carousel of images and videos (the fake fetches each media link over HTTP), the publishing limit,
//! Graph's errors, and the limits checked before acceptance.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::sync::Arc;

use crier_core::{
    Channel, ChannelId, ChannelStatus, ManualClock, MediaFacts, MediaId, MediaKind, WorkspaceId,
};
use crier_providers::meta::MetaSettings;
use crier_providers::meta::instagram::Instagram;
use crier_providers::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Lookup, MediaFile, Platform, Provider,
    ProviderError,
};
use crier_testkit::instagram_fake::{self, InstagramFake};
use doubles::{CALLBACK, LinkedMedia, MemoryMedia, MemoryVault, consent, pointers, ready_media, request};
use serde_json::{Value, json};

/// A JPEG's first bytes, and something after them.
fn jpeg(tag: u8) -> Vec<u8> {
    vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', tag, tag, tag]
}

struct Env {
    fake: InstagramFake,
    vault: Arc<MemoryVault>,
    files: Arc<MemoryMedia>,
    linked: Arc<LinkedMedia>,
    clock: ManualClock,
    provider: Instagram,
    workspace: WorkspaceId,
}

fn settings(fake: &InstagramFake) -> MetaSettings {
    MetaSettings {
        graph_base: fake.base_url().into(),
        facebook_base: fake.base_url().into(),
        ..MetaSettings::new(instagram_fake::APP_ID, instagram_fake::APP_SECRET, instagram_fake::VERSION)
    }
}

async fn env() -> Env {
    let fake = InstagramFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let files = Arc::new(MemoryMedia::default());
    let linked = Arc::new(LinkedMedia::start(files.clone()).await);
    let clock = ManualClock::starting_now();
    let loopback = doubles::loopback_platform(vault.clone(), files.clone());
    let platform = Platform { clock: Arc::new(clock.clone()), media: linked.clone(), ..loopback };
    let provider = Instagram::new(platform, settings(&fake));
    Env { provider, fake, vault, files, linked, clock, workspace: WorkspaceId::generate() }
}

impl Env {
    async fn try_connect(&self, page_id: &str) -> Result<Channel, ConnectError> {
        let params = json!({"page_id": page_id});
        let request = ConnectRequest {
            workspace_id: self.workspace,
            params: params.as_object().unwrap(),
            callback_url: CALLBACK,
            state: "st4te",
        };
        let ConnectStart::Redirect { authorize_url, flow } = self.provider.connect(&request).await? else {
            panic!("Instagram connects through Facebook Login");
        };
        let dialog = format!("{}/{}/dialog/oauth?", self.fake.base_url(), instagram_fake::VERSION);
        assert!(authorize_url.starts_with(&dialog), "{authorize_url}");
        let (code, state) = consent(&authorize_url).await;
        assert_eq!(state, "st4te");
        let callback = CallbackRequest { flow: &flow, code: &code, callback_url: CALLBACK };
        let connection = self.provider.finish_connect(&callback).await?;
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "instagram".into(),
            name: "Instagram".into(),
            config: connection.config,
            status: ChannelStatus::Active,
            account: Some(connection.account),
            credentials: None,
            paused_until: None,
            created_at: chrono::Utc::now(),
        };
        self.vault.0.lock().unwrap().insert(channel.id, connection.credentials.expose().to_vec());
        Ok(channel)
    }

    async fn connect(&self) -> Channel {
        self.try_connect(instagram_fake::PAGE_ID).await.unwrap()
    }

    fn tokens(&self, channel: &Channel) -> Value {
        serde_json::from_slice(&self.vault.0.lock().unwrap()[&channel.id]).unwrap()
    }

    fn add(&self, bytes: Vec<u8>, mime: &str, alt: Option<&str>) -> MediaId {
        self.add_kind(bytes, mime, MediaKind::Image, alt)
    }

    fn add_video(&self, bytes: &[u8], mime: &str) -> MediaId {
        self.add_kind(bytes.to_vec(), mime, MediaKind::Video, None)
    }

    fn add_kind(&self, bytes: Vec<u8>, mime: &str, kind: MediaKind, alt: Option<&str>) -> MediaId {
        let id = MediaId::generate();
        let media = ready_media(self.workspace, id, &bytes, mime.into(), kind, None, alt.map(str::to_owned));
        self.files.0.lock().unwrap().insert(id, MediaFile { media, bytes });
        id
    }

    fn exchanges(&self) -> usize {
        self.fake.requests().iter().filter(|r| r.path.ends_with("/oauth/access_token")).count()
    }
}

#[tokio::test]
async fn connecting_finds_the_pages_instagram_account_and_keeps_a_long_lived_token() {
    let env = env().await;
    let channel = env.connect().await;
    let account = channel.account.as_ref().unwrap();
    assert_eq!(account.id, instagram_fake::IG_USER_ID);
    assert_eq!(account.handle, instagram_fake::USERNAME);
    assert_eq!(account.display_name.as_deref(), Some("Crier Bakery"));
    assert_eq!(
        channel.config,
        json!({
            "page_id": instagram_fake::PAGE_ID,
            "ig_user_id": instagram_fake::IG_USER_ID,
            "meta_user_id": instagram_fake::META_USER_ID,
        })
    );
    assert!(env.provider.validate_config(&channel.config).is_empty());
    let tokens = env.tokens(&channel);
    assert!(tokens["access_token"].as_str().unwrap().starts_with("EAAL"), "the long-lived token is kept");
    let now = crier_core::Clock::now(&env.clock).timestamp();
    assert_eq!(tokens["expires_at"].as_i64().unwrap(), now + instagram_fake::LONG_LIVED);

    let err = env.try_connect(instagram_fake::BARE_PAGE_ID).await.unwrap_err();
    let ConnectError::Invalid { pointer, message } = err else { panic!("{err:?}") };
    assert_eq!(pointer, "/page_id");
    assert!(message.contains("no Instagram professional account"), "{message}");
    assert!(matches!(env.try_connect("not-a-page").await.unwrap_err(), ConnectError::Invalid { .. }));
}

#[tokio::test]
async fn an_image_is_fetched_from_its_link_and_published_with_a_first_comment() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add(jpeg(1), "image/jpeg", Some("a loaf on a table"));
    let options = json!({"first_comment": "Recipe in bio #bread"});
    let published =
        env.provider.publish(&request(&channel, "Fresh today #bread", &[image], &options)).await.unwrap();
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.media_type, "IMAGE");
    assert_eq!(post.caption, "Fresh today #bread");
    assert_eq!(post.media.len(), 1);
    assert_eq!(post.media[0].bytes, jpeg(1), "Instagram fetched the media's own bytes");
    assert_eq!(post.media[0].content_type, "image/jpeg");
    assert_eq!(post.media[0].alt_text.as_deref(), Some("a loaf on a table"));
    assert_eq!(post.comments, ["Recipe in bio #bread"]);
    assert_eq!(env.linked.server.fetches(), 1);
    assert_eq!(published.provider_post_id, post.id);
    assert_eq!(published.url.unwrap(), format!("https://www.instagram.com/p/C{}/", post.id));
    // The limit was read before any container was made.
    let paths: Vec<String> = env.fake.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.iter().position(|p| p.ends_with("/content_publishing_limit")).unwrap()
            < paths.iter().position(|p| p.ends_with("/media")).unwrap()
    );
    let lookup = env.provider.lookup(&request(&channel, "x", &[image], &Value::Null)).await.unwrap();
    assert_eq!(lookup, Lookup::Unknowable);
}

#[tokio::test]
async fn several_images_are_one_carousel_in_their_order() {
    let env = env().await;
    let channel = env.connect().await;
    let media: Vec<MediaId> = (1..=3).map(|i| env.add(jpeg(i), "image/jpeg", None)).collect();
    env.provider.publish(&request(&channel, "Three loaves", &media, &Value::Null)).await.unwrap();
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].media_type, "CAROUSEL");
    assert_eq!(posts[0].caption, "Three loaves");
    let fetched: Vec<Vec<u8>> = posts[0].media.iter().map(|m| m.bytes.clone()).collect();
    assert_eq!(fetched, [jpeg(1), jpeg(2), jpeg(3)]);
    assert_eq!(env.linked.server.fetches(), 3);
}

#[tokio::test]
async fn a_carousel_mixes_images_and_a_video_item_each_finished_first() {
    let env = env().await;
    let channel = env.connect().await;
    let first = env.add(jpeg(1), "image/jpeg", Some("the first loaf"));
    let clip = env.add_video(b"mp4 clip of the oven", "video/mp4");
    let last = env.add(jpeg(3), "image/jpeg", None);
    let media = [first, clip, last];
    env.provider.publish(&request(&channel, "From the oven", &media, &Value::Null)).await.unwrap();
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.media_type, "CAROUSEL");
    assert_eq!(post.caption, "From the oven");
    let kinds: Vec<&str> = post.media.iter().map(|m| m.media_type.as_str()).collect();
    assert_eq!(kinds, ["IMAGE", "VIDEO", "IMAGE"], "the video is a carousel item, not a reel");
    let types: Vec<&str> = post.media.iter().map(|m| m.content_type.as_str()).collect();
    assert_eq!(types, ["image/jpeg", "video/mp4", "image/jpeg"]);
    assert_eq!(post.media[1].bytes, b"mp4 clip of the oven");
    assert_eq!(post.media[0].alt_text.as_deref(), Some("the first loaf"));
    // Three item containers, each read until FINISHED (the video takes a read more), and only then
    // the carousel container (the fake refuses an unfinished child).
    let requests = env.fake.requests();
    let creations: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "POST" && r.path.ends_with("/media"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(creations.len(), 4, "three items and the carousel");
    let reads_before_carousel =
        requests[..creations[3]].iter().filter(|r| r.method == "GET" && r.path.contains("/1791")).count();
    assert_eq!(reads_before_carousel, 2 + 3 + 2, "each item polled until FINISHED first");
}

#[tokio::test]
async fn a_carousel_video_instagram_cannot_read_is_refused_with_metas_code() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add(jpeg(1), "image/jpeg", None);
    let webm = env.add_video(b"webm clip", "video/webm");
    let err = env.provider.publish(&request(&channel, "hi", &[image, webm], &Value::Null)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "meta_352");
    assert!(message.contains("subcode 2207026"), "{message}");
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn a_rate_limit_waits_for_metas_estimate() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add(jpeg(1), "image/jpeg", None);
    env.fake.rate_limit_next(1);
    let err = env.provider.publish(&request(&channel, "hi", &[image], &Value::Null)).await.unwrap_err();
    let now = crier_core::Clock::now(&env.clock);
    assert_eq!(
        err,
        ProviderError::RateLimited { reset: now + chrono::Duration::minutes(instagram_fake::REGAIN_MINUTES) }
    );
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn a_used_up_publishing_limit_is_rate_limited_before_any_container() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add(jpeg(1), "image/jpeg", None);
    env.fake.set_quota_usage(instagram_fake::QUOTA_TOTAL);
    let err = env.provider.publish(&request(&channel, "one more", &[image], &Value::Null)).await.unwrap_err();
    let now = crier_core::Clock::now(&env.clock);
    assert_eq!(err, ProviderError::RateLimited { reset: now + chrono::Duration::hours(1) });
    assert!(!env.fake.requests().iter().any(|r| r.path.ends_with("/media")), "no container made");
    assert_eq!(env.linked.server.fetches(), 0, "no link handed out");
    env.fake.set_quota_usage(instagram_fake::QUOTA_TOTAL - 1);
    env.provider.publish(&request(&channel, "the last one", &[image], &Value::Null)).await.unwrap();
}

#[tokio::test]
async fn tokens_are_renewed_ahead_of_expiry_and_an_expired_one_needs_reconnecting() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add(jpeg(1), "image/jpeg", None);
    let before = env.tokens(&channel);
    let connecting = env.exchanges();
    env.provider.publish(&request(&channel, "early", &[image], &Value::Null)).await.unwrap();
    assert_eq!(env.exchanges(), connecting, "a fresh token is used as it is");
    env.clock.advance(chrono::Duration::days(55));
    env.provider.publish(&request(&channel, "late", &[image], &Value::Null)).await.unwrap();
    assert_eq!(env.exchanges(), connecting + 1, "renewed within a week of expiry");
    let after = env.tokens(&channel);
    assert_ne!(after["access_token"], before["access_token"]);
    let now = crier_core::Clock::now(&env.clock).timestamp();
    assert_eq!(after["expires_at"].as_i64().unwrap(), now + instagram_fake::LONG_LIVED);

    env.fake.expire_tokens();
    let err = env.provider.publish(&request(&channel, "after", &[image], &Value::Null)).await.unwrap_err();
    let ProviderError::AuthExpired { message } = err else { panic!("{err:?}") };
    assert!(message.contains("code 190") && !message.contains("EAAL"), "{message}");
    let err = env.provider.refresh(&channel).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::AuthExpired { ref message } if message.contains("reconnect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_file_instagram_cannot_take_is_rejected_with_metas_message() {
    let env = env().await;
    let channel = env.connect().await;
    // Called a JPEG, but not one: Instagram's fetch finds out.
    let fake_jpeg = env.add(b"\x89PNG\r\n\x1a\nnot a jpeg".to_vec(), "image/jpeg", None);
    let err = env.provider.publish(&request(&channel, "hi", &[fake_jpeg], &Value::Null)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "meta_9004");
    assert!(message.contains("subcode 2207052"), "{message}");
    assert!(env.fake.posts().is_empty());
}

fn facts(kind: MediaKind, mime: &str, width: u32, height: u32, duration_ms: Option<u64>) -> MediaFacts {
    MediaFacts {
        mime: mime.into(),
        kind,
        width,
        height,
        duration_ms,
        video_codec: None,
        audio_codec: None,
        size: 1000,
        sha256: String::new(),
    }
}

#[tokio::test]
async fn targets_and_media_are_checked_before_acceptance() {
    let env = env().await;
    let channel = env.connect().await;
    let check = |text: &str, options: Value| {
        let issues = env.provider.validate_target(&channel, text, &options);
        pointers(&issues).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert!(check(&"é".repeat(2_200), Value::Null).is_empty());
    assert_eq!(check(&"a".repeat(2_201), Value::Null), ["/text"]);
    let tags = |n: usize, mark: char| (0..n).map(|i| format!("{mark}t{i}")).collect::<Vec<_>>().join(" ");
    assert!(check(&tags(30, '#'), Value::Null).is_empty());
    assert_eq!(check(&tags(31, '#'), Value::Null), ["/text"]);
    assert!(check(&tags(20, '@'), Value::Null).is_empty());
    assert_eq!(check(&tags(21, '@'), Value::Null), ["/text"]);
    assert_eq!(check("x", json!({"first_comment": " "})), ["/options/first_comment"]);
    assert_eq!(check("x", json!({"link": "https://example.com"})), ["/options"]);

    let rules = env.provider.media_rules(&channel);
    let image = |w, h| facts(MediaKind::Image, "image/jpeg", w, h, None);
    assert!(rules.check(&[image(1080, 1350), image(1080, 566), image(1080, 1080)]).is_empty());
    let issues = rules.check(&[image(1080, 1920)]);
    assert_eq!(pointers(&issues), ["/media/0"]);
    assert!(issues[0].message.contains("aspect ratio 0.56:1"), "{}", issues[0].message);
    assert_eq!(pointers(&rules.check(&[image(1000, 500)])), ["/media/0"], "2:1 is too wide");
    assert_eq!(pointers(&rules.check(&[])), ["/media"], "media is required");
    assert_eq!(pointers(&rules.check(&vec![image(100, 100); 11])), ["/media"], "ten at most");
    assert_eq!(pointers(&rules.check(&[facts(MediaKind::Image, "image/png", 100, 100, None)])), ["/media/0"]);
    let reel = |w, h, ms| facts(MediaKind::Video, "video/mp4", w, h, Some(ms));
    assert!(rules.check(&[reel(1080, 1920, 30_000)]).is_empty(), "a 9:16 reel is fine");
    assert_eq!(pointers(&rules.check(&[reel(1080, 1920, 2_000)])), ["/media/0"], "three seconds at least");
    let with_media = |media: &[MediaFacts]| {
        let mut issues = rules.check(media);
        issues.extend(env.provider.validate_with_media(&channel, &Value::Null, media));
        pointers(&issues).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    // A carousel mixes images and videos, ten at most in all.
    let mixed = [image(1080, 1080), reel(1080, 1350, 30_000), image(1080, 1350)];
    assert!(with_media(&mixed).is_empty(), "images and a 4:5 video of 30 s");
    let mut eleven = vec![image(1080, 1080); 6];
    eleven.extend(vec![reel(1080, 1080, 10_000); 5]);
    assert_eq!(with_media(&eleven), ["/media"], "ten items at most, images and videos together");
    assert!(with_media(&eleven[1..]).is_empty(), "ten are fine");
    // A carousel's video is held to 60 s, 100 MB and 4:5 to 16:9, narrower than a reel's.
    assert!(with_media(&[reel(1080, 1920, 90_000)]).is_empty(), "alone, a long 9:16 video is a reel");
    let issues = env.provider.validate_with_media(
        &channel,
        &Value::Null,
        &[image(1080, 1080), reel(1080, 1920, 90_000)],
    );
    assert_eq!(pointers(&issues), ["/media/1", "/media/1"], "{issues:?}");
    assert!(issues.iter().any(|i| i.message.contains("90.0 s")), "{issues:?}");
    assert!(issues.iter().any(|i| i.message.contains("aspect ratio 0.56:1")), "{issues:?}");
    assert!(issues.iter().all(|i| i.message.starts_with("in a carousel")), "{issues:?}");
    let big = MediaFacts { size: 150 * 1024 * 1024, ..reel(1080, 1080, 10_000) };
    assert_eq!(with_media(&[image(1080, 1080), big]), ["/media/1"], "100 MB at most in a carousel");
    // A kind Instagram does not take is refused, alone or in a carousel.
    let webm = facts(MediaKind::Video, "video/webm", 1080, 1080, Some(10_000));
    assert_eq!(with_media(std::slice::from_ref(&webm)), ["/media/0"]);
    assert_eq!(with_media(&[image(1080, 1080), webm]), ["/media/1"], "said once");

    // Without a public URL there is no way to hand Instagram the media: refused at the door.
    let bare = doubles::loopback_platform(env.vault.clone(), env.files.clone());
    let without = Instagram::new(bare, settings(&env.fake));
    let issues = without.media_rules(&channel).check(&[image(1080, 1080)]);
    assert_eq!(pointers(&issues), ["/media"]);
    assert!(issues[0].message.contains("--public-url"), "{}", issues[0].message);
    let issues = without.media_rules(&channel).check(&[]);
    assert!(issues[0].message.contains("--public-url"), "{}", issues[0].message);
    // And the channel says so, as it says that Meta's review is needed.
    assert_eq!(env.provider.notices(&channel), [crier_providers::meta::instagram::APP_REVIEW]);
    let notices = without.notices(&channel);
    assert!(notices.iter().any(|n| n.contains("--public-url")), "{notices:?}");
}
