//! The LinkedIn provider against the fake LinkedIn of `crier-testkit`: the 3-legged consent flow
//! with OpenID Connect's userinfo, programmatic refresh, posts in the little text format, images
//! through the Images API, a video through the Videos API (parts, finalize, processing),
//! LinkedIn's errors and daily throttles.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::sync::Arc;

use crier_core::{
    Channel, ChannelId, ChannelStatus, ManualClock, MediaFacts, MediaId, MediaKind, WorkspaceId,
};
use crier_providers::linkedin::{LinkedIn, LinkedInSettings};
use crier_providers::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Lookup, MediaFile, Platform, Provider,
    ProviderError,
};
use crier_testkit::linkedin_fake::{self, LinkedInFake};
use doubles::{CALLBACK, MemoryMedia, MemoryVault, consent, pointers, request};
use serde_json::{Value, json};

const VERSION: &str = "202610";

struct Env {
    fake: LinkedInFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    clock: ManualClock,
    provider: LinkedIn,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = LinkedInFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let clock = ManualClock::starting_now();
    let loopback = doubles::loopback_platform(vault.clone(), media.clone());
    let platform = Platform { clock: Arc::new(clock.clone()), ..loopback };
    let settings = LinkedInSettings {
        client_id: linkedin_fake::CLIENT_ID.into(),
        client_secret: linkedin_fake::CLIENT_SECRET.into(),
        api_version: VERSION.into(),
        api_base: fake.base_url().into(),
        auth_base: fake.base_url().into(),
    };
    Env {
        provider: LinkedIn::new(platform, settings),
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
            panic!("LinkedIn connects through the consent page");
        };
        assert!(authorize_url.starts_with(&format!("{}/oauth/v2/authorization?", self.fake.base_url())));
        let (code, state) = consent(&authorize_url).await;
        assert_eq!(state, "st4te");
        let callback = CallbackRequest { flow: &flow, code: &code, callback_url: CALLBACK };
        let connection = self.provider.finish_connect(&callback).await.unwrap();
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "linkedin".into(),
            name: "LinkedIn".into(),
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
        self.fake.requests().iter().filter(|r| r.path == "/oauth/v2/accessToken").count()
    }

    fn add_image(&self, bytes: &[u8], alt: Option<&str>) -> MediaId {
        self.add_media(bytes, "image/png", MediaKind::Image, alt)
    }

    fn add_video(&self, bytes: &[u8], alt: Option<&str>) -> MediaId {
        self.add_media(bytes, "video/mp4", MediaKind::Video, alt)
    }

    fn add_media(&self, bytes: &[u8], mime: &str, kind: MediaKind, alt: Option<&str>) -> MediaId {
        let id = MediaId::generate();
        let media =
            doubles::ready_media(self.workspace, id, bytes, mime.into(), kind, None, alt.map(str::to_owned));
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes: bytes.to_vec() });
        id
    }

    /// The paths the fake answered for `method`, in order.
    fn paths(&self, method: &str) -> Vec<String> {
        self.fake.requests().into_iter().filter(|r| r.method == method).map(|r| r.path).collect()
    }
}

/// `len` bytes no two parts of which are alike, so a part sent twice or out of order shows.
fn video_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 4096) % 251) as u8).collect()
}

fn facts(kind: MediaKind, mime: &str, size: u64, duration_ms: Option<u64>) -> MediaFacts {
    MediaFacts {
        mime: mime.into(),
        kind,
        width: 1280,
        height: 720,
        duration_ms,
        video_codec: None,
        audio_codec: None,
        size,
        sha256: String::new(),
    }
}

fn now_secs(clock: &ManualClock) -> i64 {
    crier_core::Clock::now(clock).timestamp()
}

#[tokio::test]
async fn connecting_goes_through_the_consent_page_and_names_the_member() {
    let env = env().await;
    let channel = env.connect().await;
    let account = channel.account.as_ref().unwrap();
    assert_eq!(account.id, LinkedInFake::author());
    assert_eq!(account.display_name.as_deref(), Some(linkedin_fake::MEMBER_NAME));
    assert!(account.avatar_url.as_deref().unwrap().ends_with(".jpg"));
    assert!(env.provider.validate_config(&channel.config).is_empty());
    let tokens = env.tokens(&channel);
    assert_eq!(tokens["author"], LinkedInFake::author());
    assert!(tokens["refresh_token"].is_null(), "no programmatic refresh: {tokens}");
    assert_eq!(
        tokens["expires_at"].as_i64().unwrap(),
        now_secs(&env.clock) + linkedin_fake::ACCESS_TOKEN_LIFETIME
    );
    let params = json!({"organization": "1"});
    let request = ConnectRequest {
        workspace_id: env.workspace,
        params: params.as_object().unwrap(),
        callback_url: CALLBACK,
        state: "s",
    };
    assert!(matches!(env.provider.connect(&request).await.unwrap_err(), ConnectError::Invalid { .. }));
}

#[tokio::test]
async fn programmatic_refresh_ahead_of_expiry() {
    let env = env().await;
    env.fake.programmatic_refresh(true);
    let channel = env.connect().await;
    let before = env.tokens(&channel);
    env.provider.publish(&request(&channel, "one", &[], &Value::Null)).await.unwrap();
    assert_eq!(env.token_calls(), 1);
    env.clock.advance(chrono::Duration::days(59) + chrono::Duration::hours(1));
    env.provider.publish(&request(&channel, "two", &[], &Value::Null)).await.unwrap();
    assert_eq!(env.token_calls(), 2, "refreshed within a day of expiry");
    let after = env.tokens(&channel);
    assert_ne!(before["access_token"], after["access_token"]);
    assert_eq!(before["refresh_token"], after["refresh_token"], "LinkedIn keeps the refresh token");
    assert_eq!(after["author"], LinkedInFake::author());
    assert_eq!(
        after["expires_at"].as_i64().unwrap(),
        now_secs(&env.clock) + linkedin_fake::ACCESS_TOKEN_LIFETIME
    );
}

#[tokio::test]
async fn reserved_characters_are_escaped_so_nothing_is_cut() {
    let env = env().await;
    let channel = env.connect().await;
    let text = "Crier 1.0 (finally) ships: #rust <3 [beta] @team {json} a_b *bold* ~x | c:\\ done.";
    let published = env
        .provider
        .publish(&request(&channel, text, &[], &json!({"visibility": "CONNECTIONS"})))
        .await
        .unwrap();
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.rendered, text, "the whole text shows: {:?}", post.body["commentary"]);
    assert!(post.body["commentary"].as_str().unwrap().contains("\\(finally\\)"));
    assert_eq!(post.body["visibility"], "CONNECTIONS");
    assert_eq!(post.body["author"], LinkedInFake::author());
    assert_eq!(post.version, VERSION, "LinkedIn-Version is sent");
    assert_eq!(published.provider_post_id, post.urn);
    assert_eq!(published.url.unwrap(), format!("https://www.linkedin.com/feed/update/{}/", post.urn));
    let lookup = env.provider.lookup(&request(&channel, text, &[], &Value::Null)).await.unwrap();
    assert_eq!(lookup, Lookup::Unknowable);
}

#[tokio::test]
async fn images_go_through_the_images_api() {
    let env = env().await;
    let channel = env.connect().await;
    let one = env.add_image(b"\x89PNG one", Some("A chart"));
    env.provider.publish(&request(&channel, "One image", &[one], &Value::Null)).await.unwrap();
    let two = env.add_image(b"\x89PNG two", None);
    env.provider.publish(&request(&channel, "Two images", &[one, two], &Value::Null)).await.unwrap();

    let posts = env.fake.posts();
    let media = &posts[0].body["content"]["media"];
    assert_eq!(media["altText"], "A chart");
    assert_eq!(env.fake.image(media["id"].as_str().unwrap()).unwrap(), b"\x89PNG one");
    let images = posts[1].body["content"]["multiImage"]["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(env.fake.image(images[1]["id"].as_str().unwrap()).unwrap(), b"\x89PNG two");
    assert!(images[1].get("altText").is_none());
}

#[tokio::test]
async fn a_daily_throttle_waits_until_midnight_utc() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.rate_limit_next(1);
    let err = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    let now = crier_core::Clock::now(&env.clock);
    assert!(reset > now && reset - now <= chrono::Duration::days(1), "{reset}");
    assert_eq!(reset.format("%H:%M:%S").to_string(), "00:00:00");
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn an_expired_token_is_auth_expired_and_refreshed_when_it_can_be() {
    let env = env().await;
    env.fake.programmatic_refresh(true);
    let channel = env.connect().await;
    env.fake.expire_access_tokens();
    let err = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap_err();
    let ProviderError::AuthExpired { message } = err else { panic!("{err:?}") };
    assert!(message.contains("has expired"), "{message}");
    env.provider.refresh(&channel).await.unwrap();
    env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap();

    // Without programmatic refresh, a revoked token needs reconnecting.
    let env = self::env().await;
    let channel = env.connect().await;
    env.fake.revoke_all();
    let err = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::AuthExpired { ref message } if message.contains("revoked")),
        "{err:?}"
    );
    let err = env.provider.refresh(&channel).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::AuthExpired { ref message } if message.contains("reconnect")),
        "{err:?}"
    );
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
    assert_eq!(env.fake.deleted_posts(), [published.provider_post_id.as_str()]);
    let encoded = published.provider_post_id.replace(':', "%3A");
    assert!(
        env.fake
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.path == format!("/rest/posts/{encoded}"))
    );
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted_posts().len(), 1);
    let sneaky =
        crier_providers::DeleteRequest { provider_post_id: "urn:li:share:1/../../images", ..delete.clone() };
    assert!(matches!(env.provider.delete(&sneaky).await, Err(ProviderError::Rejected { .. })));
    env.fake.revoke_all();
    let revoked = env.provider.delete(&delete).await;
    assert!(matches!(revoked, Err(ProviderError::AuthExpired { .. })), "{revoked:?}");
}

#[tokio::test]
async fn a_duplicate_post_is_rejected_with_linkedins_message() {
    let env = env().await;
    let channel = env.connect().await;
    env.provider.publish(&request(&channel, "Same words", &[], &Value::Null)).await.unwrap();
    let err = env.provider.publish(&request(&channel, "Same words", &[], &Value::Null)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "platform_422");
    assert!(message.contains("duplicate of urn:li:share:"), "{message}");
}

#[tokio::test]
async fn targets_are_checked_after_escaping() {
    let env = env().await;
    let channel = env.connect().await;
    let check = |text: &str, options: Value| {
        let issues = env.provider.validate_target(&channel, text, &options);
        pointers(&issues).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert!(check(&"a".repeat(3000), Value::Null).is_empty());
    assert!(check(&"é".repeat(3000), Value::Null).is_empty(), "counted in characters");
    assert_eq!(check(&"a".repeat(3001), Value::Null), ["/text"]);
    assert_eq!(check(&"(".repeat(1501), Value::Null), ["/text"], "1,501 reserved characters escape to 3,002");
    assert!(check(&"(".repeat(1500), Value::Null).is_empty());
    assert_eq!(check("x", json!({"visibility": "LOGGED_IN"})), ["/options/visibility"]);
    assert_eq!(check("x", json!({"thread": []})), ["/options"]);
    assert_eq!(env.provider.media_rules(&channel).max_videos, 1);
    assert_eq!(env.provider.text_limit(&channel).unwrap().max, 3000);
}

#[tokio::test]
async fn a_video_goes_up_in_parts_is_waited_for_and_the_post_names_it() {
    let env = env().await;
    let channel = env.connect().await;
    let bytes = video_bytes(2 * linkedin_fake::VIDEO_PART_BYTES + 12_345);
    let video = env.add_video(&bytes, Some("Launch day"));
    let published =
        env.provider.publish(&request(&channel, "Our launch (video)", &[video], &Value::Null)).await.unwrap();

    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    let media = &posts[0].body["content"]["media"];
    let urn = media["id"].as_str().unwrap();
    assert!(urn.starts_with("urn:li:video:"), "{media}");
    assert_eq!(media["title"], "Launch day");
    assert!(posts[0].body["content"].get("multiImage").is_none());
    let uploaded = env.fake.video(urn).unwrap();
    assert_eq!(uploaded.len(), bytes.len());
    assert!(uploaded == bytes, "the parts put back together are the file");
    assert_eq!(published.provider_post_id, posts[0].urn);

    // Three parts, each PUT once; the video polled while PROCESSING, and the post only after.
    let puts = env.paths("PUT");
    assert_eq!(puts.len(), 3, "{puts:?}");
    assert!(puts.iter().all(|p| p.starts_with("/video-uploads/")), "{puts:?}");
    let calls: Vec<(String, String)> = env
        .fake
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path))
        .filter(|(_, p)| p.starts_with("/rest/"))
        .collect();
    let status_path = format!("/rest/videos/{}", urn.replace(':', "%3A"));
    let polls = calls.iter().filter(|(m, p)| m == "GET" && *p == status_path).count();
    assert_eq!(polls, 2, "PROCESSING once, then AVAILABLE: {calls:?}");
    let last_poll = calls.iter().rposition(|(m, _)| m == "GET").unwrap();
    let post = calls.iter().position(|(m, p)| m == "POST" && p == "/rest/posts").unwrap();
    assert!(last_poll < post, "{calls:?}");
    assert_eq!(
        calls.iter().filter(|(m, p)| m == "POST" && p == "/rest/videos").count(),
        2,
        "initialize, finalize"
    );

    // A video post is deleted like any other.
    let delete = crier_providers::DeleteRequest {
        channel: &channel,
        target_id: crier_core::TargetId::generate(),
        provider_post_id: &published.provider_post_id,
        url: published.url.as_deref(),
    };
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted_posts(), [published.provider_post_id.as_str()]);
}

#[tokio::test]
async fn a_small_video_goes_up_in_one_part_without_a_title() {
    let env = env().await;
    let channel = env.connect().await;
    let bytes = video_bytes(80_000);
    let video = env.add_video(&bytes, None);
    env.provider.publish(&request(&channel, "Short one", &[video], &Value::Null)).await.unwrap();
    let posts = env.fake.posts();
    let media = &posts[0].body["content"]["media"];
    assert!(media.get("title").is_none(), "{media}");
    assert_eq!(env.fake.video(media["id"].as_str().unwrap()).unwrap(), bytes);
    assert_eq!(env.paths("PUT").len(), 1);
}

#[tokio::test]
async fn a_video_linkedin_cannot_process_is_rejected_and_nothing_is_posted() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.fail_video_processing();
    let video = env.add_video(&video_bytes(100_000), None);
    let err = env.provider.publish(&request(&channel, "Broken", &[video], &Value::Null)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "video_processing_failed");
    assert!(
        message.contains("could not process the video") && message.contains("PROCESSING_FAILED"),
        "{message}"
    );
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn a_throttle_during_a_part_upload_waits_until_midnight_utc() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.add_video(&video_bytes(linkedin_fake::VIDEO_PART_BYTES + 100_000), None);
    env.fake.rate_limit_part_uploads(1);
    let err =
        env.provider.publish(&request(&channel, "Throttled", &[video], &Value::Null)).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    let now = crier_core::Clock::now(&env.clock);
    assert!(reset > now && reset - now <= chrono::Duration::days(1), "{reset}");
    assert_eq!(reset.format("%H:%M:%S").to_string(), "00:00:00");
    assert!(env.fake.posts().is_empty());
    assert_eq!(env.paths("PUT").len(), 1, "the upload stops at the refused part");
    // The next attempt starts over and goes through.
    env.provider.publish(&request(&channel, "Throttled", &[video], &Value::Null)).await.unwrap();
    assert_eq!(env.fake.posts().len(), 1);
}

#[tokio::test]
async fn an_expired_token_during_a_video_upload_is_auth_expired() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.expire_access_tokens();
    let video = env.add_video(&video_bytes(100_000), None);
    let err = env.provider.publish(&request(&channel, "Late", &[video], &Value::Null)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::AuthExpired { ref message } if message.contains("has expired")),
        "{err:?}"
    );
}

#[tokio::test]
async fn images_with_a_video_are_refused_at_acceptance() {
    let env = env().await;
    let channel = env.connect().await;
    let rules = env.provider.media_rules(&channel);
    let image = facts(MediaKind::Image, "image/jpeg", 100_000, None);
    let video = |mime: &str, size: u64, ms: u64| facts(MediaKind::Video, mime, size, Some(ms));
    let mp4 = video("video/mp4", 5_000_000, 60_000);
    assert!(rules.check(std::slice::from_ref(&mp4)).is_empty());
    assert!(rules.check(&vec![image.clone(); 20]).is_empty());
    let mixed = rules.check(&[image.clone(), mp4.clone()]);
    assert_eq!(pointers(&mixed), ["/media"]);
    assert!(mixed[0].message.contains("images or a video, not both"), "{}", mixed[0].message);
    assert_eq!(pointers(&rules.check(&[mp4.clone(), mp4.clone()])), ["/media"], "one video");
    assert_eq!(pointers(&rules.check(&vec![image.clone(); 21])), ["/media"], "twenty images");
    assert_eq!(pointers(&rules.check(&[video("video/quicktime", 5_000_000, 60_000)])), ["/media/0"]);
    assert_eq!(pointers(&rules.check(&[video("video/mp4", 5_000_000, 2_000)])), ["/media/0"], "3 s at least");
    assert_eq!(pointers(&rules.check(&[video("video/mp4", 5_000_000, 1_800_001)])), ["/media/0"], "30 min");
    assert_eq!(pointers(&rules.check(&[video("video/mp4", 500_000_001, 60_000)])), ["/media/0"], "500 MB");

    // Had it got past acceptance, publishing refuses it before uploading anything.
    let one = env.add_image(b"\x89PNG", None);
    let clip = env.add_video(&video_bytes(100_000), None);
    let err = env.provider.publish(&request(&channel, "Both", &[one, clip], &Value::Null)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "media_mixed"), "{err:?}");
    // And a video under LinkedIn's 75 KB floor, which the rules cannot say.
    let tiny = env.add_video(&video_bytes(1_000), None);
    let err = env.provider.publish(&request(&channel, "Tiny", &[tiny], &Value::Null)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "video_too_small"), "{err:?}");
    assert!(env.paths("PUT").is_empty() && env.fake.posts().is_empty());
}
