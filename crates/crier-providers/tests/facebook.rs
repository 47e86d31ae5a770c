//! The Facebook Pages provider against the fake Facebook of `crier-testkit`: Facebook Login and
//! the long-lived exchange, the Page token read again on refresh, feed posts, photos (one as a
//! photo post, several attached unpublished), videos (the Resumable Upload API in chunks, then
//! the status read until ready), the first comment, and Graph's errors.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::sync::Arc;

use crier_core::{
    Channel, ChannelId, ChannelStatus, ManualClock, MediaFacts, MediaId, MediaKind, WorkspaceId,
};
use crier_providers::meta::MetaSettings;
use crier_providers::meta::facebook::Facebook;
use crier_providers::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Lookup, MediaFile, Platform, Provider,
    ProviderError,
};
use crier_testkit::facebook_fake::{self, FacebookFake};
use doubles::{CALLBACK, MemoryMedia, MemoryVault, consent, pointers, request};
use serde_json::{Value, json};

/// Bytes per video chunk here: small, so that a test video goes up in several.
const VIDEO_CHUNK: usize = 7;

struct Env {
    fake: FacebookFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    clock: ManualClock,
    provider: Facebook,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = FacebookFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let clock = ManualClock::starting_now();
    let loopback = doubles::loopback_platform(vault.clone(), media.clone());
    let platform = Platform { clock: Arc::new(clock.clone()), ..loopback };
    let settings = MetaSettings {
        graph_base: fake.base_url().into(),
        facebook_base: fake.base_url().into(),
        ..MetaSettings::new(facebook_fake::APP_ID, facebook_fake::APP_SECRET, facebook_fake::VERSION)
    };
    Env {
        provider: Facebook::new(platform, settings).with_video_chunk(VIDEO_CHUNK),
        fake,
        vault,
        media,
        clock,
        workspace: WorkspaceId::generate(),
    }
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
            panic!("Facebook connects through Facebook Login");
        };
        let dialog = format!("{}/{}/dialog/oauth?", self.fake.base_url(), facebook_fake::VERSION);
        assert!(authorize_url.starts_with(&dialog), "{authorize_url}");
        let (code, state) = consent(&authorize_url).await;
        assert_eq!(state, "st4te");
        let callback = CallbackRequest { flow: &flow, code: &code, callback_url: CALLBACK };
        let connection = self.provider.finish_connect(&callback).await?;
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "facebook".into(),
            name: "Facebook".into(),
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
        self.try_connect(facebook_fake::PAGE_ID).await.unwrap()
    }

    fn tokens(&self, channel: &Channel) -> Value {
        serde_json::from_slice(&self.vault.0.lock().unwrap()[&channel.id]).unwrap()
    }

    fn add_image(&self, bytes: &[u8], alt: Option<&str>) -> MediaId {
        let id = MediaId::generate();
        let media = doubles::ready_media(
            self.workspace,
            id,
            bytes,
            "image/jpeg".into(),
            MediaKind::Image,
            None,
            alt.map(str::to_owned),
        );
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes: bytes.to_vec() });
        id
    }

    fn add_video(&self, bytes: &[u8]) -> MediaId {
        let id = MediaId::generate();
        let media = doubles::ready_media(
            self.workspace,
            id,
            bytes,
            "video/mp4".into(),
            MediaKind::Video,
            Some("oven.mp4".into()),
            None,
        );
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes: bytes.to_vec() });
        id
    }
}

/// Bytes no two chunks of which are alike, so a chunk out of place would show.
fn video_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn connecting_exchanges_for_a_long_lived_token_and_keeps_the_pages() {
    let env = env().await;
    let channel = env.connect().await;
    // What the platform withholds until it reviews the app is said on the channel.
    assert_eq!(env.provider.notices(&channel), [crier_providers::meta::facebook::APP_REVIEW]);
    let account = channel.account.as_ref().unwrap();
    assert_eq!(account.id, facebook_fake::USER_ID, "the id Meta's callbacks name");
    assert_eq!(account.handle, facebook_fake::PAGE_NAME);
    assert_eq!(channel.config, json!({"page_id": facebook_fake::PAGE_ID}));
    assert!(env.provider.validate_config(&channel.config).is_empty());
    let tokens = env.tokens(&channel);
    assert!(tokens["page_access_token"].as_str().unwrap().starts_with("EAAP"));
    let now = crier_core::Clock::now(&env.clock).timestamp();
    assert_eq!(tokens["user_expires_at"].as_i64().unwrap(), now + facebook_fake::LONG_LIVED);
    let paths: Vec<String> = env.fake.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths.iter().filter(|p| p.ends_with("/oauth/access_token")).count(),
        2,
        "code, then long-lived"
    );

    // A Page the user does not manage is the request's fault, named at its field.
    let err = env.try_connect("555").await.unwrap_err();
    assert!(
        matches!(&err, ConnectError::Invalid { pointer, message } if pointer == "/page_id" && message.contains("does not exist")),
        "{err:?}"
    );
    let params = json!({"page_id": "not-a-page"});
    let request = ConnectRequest {
        workspace_id: env.workspace,
        params: params.as_object().unwrap(),
        callback_url: CALLBACK,
        state: "s",
    };
    assert!(matches!(env.provider.connect(&request).await.unwrap_err(), ConnectError::Invalid { .. }));
    assert_eq!(pointers(&env.provider.validate_config(&json!({"page_id": "x1"}))), ["/page_id"]);
}

#[tokio::test]
async fn text_and_link_go_to_the_feed_with_a_first_comment() {
    let env = env().await;
    let channel = env.connect().await;
    let options = json!({"link": "https://crier.example/launch", "first_comment": "Details inside"});
    let published = env.provider.publish(&request(&channel, "We launched", &[], &options)).await.unwrap();
    let posts = env.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].message, "We launched");
    assert_eq!(posts[0].link.as_deref(), Some("https://crier.example/launch"));
    assert_eq!(published.provider_post_id, posts[0].id);
    assert_eq!(published.url.unwrap(), format!("https://www.facebook.com/{}", posts[0].id));
    assert_eq!(env.fake.comments(), [(posts[0].id.clone(), "Details inside".to_owned())]);
    let lookup = env.provider.lookup(&request(&channel, "We launched", &[], &Value::Null)).await.unwrap();
    assert_eq!(lookup, Lookup::Unknowable);
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
    assert_eq!(env.fake.deleted(), vec![published.provider_post_id.clone()]);
    assert!(env.fake.posts().is_empty());
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted().len(), 1, "already gone (100 / 33): nothing more deleted");
    let sneaky = crier_providers::DeleteRequest { provider_post_id: "1/feed", ..delete.clone() };
    assert!(matches!(env.provider.delete(&sneaky).await, Err(ProviderError::Rejected { .. })));
    env.fake.rate_limit_next(1);
    let limited = env.provider.delete(&delete).await;
    assert!(matches!(limited, Err(ProviderError::RateLimited { .. })), "{limited:?}");
    env.fake.expire_page_tokens();
    let expired = env.provider.delete(&delete).await;
    assert!(matches!(expired, Err(ProviderError::AuthExpired { .. })), "{expired:?}");
}

#[tokio::test]
async fn one_image_is_a_photo_post_and_several_are_attached() {
    let env = env().await;
    let channel = env.connect().await;
    let one = env.add_image(b"\xff\xd8 one", Some("A loaf"));
    let published =
        env.provider.publish(&request(&channel, "Fresh bread", &[one], &Value::Null)).await.unwrap();
    let photos = env.fake.photos();
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0].bytes, b"\xff\xd8 one");
    assert_eq!(photos[0].content_type, "image/jpeg");
    assert!(photos[0].published);
    assert_eq!(photos[0].caption.as_deref(), Some("Fresh bread"));
    assert_eq!(photos[0].alt_text.as_deref(), Some("A loaf"));
    assert_eq!(published.provider_post_id, env.fake.posts()[0].id, "the photo's feed post");

    let two = env.add_image(b"\xff\xd8 two", None);
    env.provider.publish(&request(&channel, "Two loaves", &[one, two], &Value::Null)).await.unwrap();
    let photos = env.fake.photos();
    assert_eq!(photos.len(), 3);
    assert!(!photos[1].published && !photos[2].published, "uploaded unpublished");
    let post = env.fake.posts().pop().unwrap();
    assert_eq!(post.message, "Two loaves");
    assert_eq!(post.photos, [photos[1].id.clone(), photos[2].id.clone()]);
}

#[tokio::test]
async fn a_rate_limit_waits_for_metas_estimate() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.rate_limit_next(1);
    let err = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap_err();
    let now = crier_core::Clock::now(&env.clock);
    assert_eq!(
        err,
        ProviderError::RateLimited { reset: now + chrono::Duration::minutes(facebook_fake::REGAIN_MINUTES) }
    );
    assert!(env.fake.posts().is_empty());
}

#[tokio::test]
async fn an_expired_page_token_is_read_again_and_an_expired_login_needs_reconnecting() {
    let env = env().await;
    let channel = env.connect().await;
    let before = env.tokens(&channel);
    env.fake.expire_page_tokens();
    let err = env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap_err();
    let ProviderError::AuthExpired { message } = err else { panic!("{err:?}") };
    assert!(message.contains("Session has expired") && message.contains("code 190"), "{message}");
    assert!(!message.contains("EAA"), "no token in messages: {message}");
    env.provider.refresh(&channel).await.unwrap();
    assert_ne!(env.tokens(&channel)["page_access_token"], before["page_access_token"]);
    env.provider.publish(&request(&channel, "hello", &[], &Value::Null)).await.unwrap();

    env.fake.expire_all_tokens();
    let err = env.provider.refresh(&channel).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::AuthExpired { ref message } if message.contains("reconnect")),
        "{err:?}"
    );
    // A user token past its 60 days is not even tried.
    let env = self::env().await;
    let channel = env.connect().await;
    env.clock.advance(chrono::Duration::days(61));
    let calls = env.fake.requests().len();
    assert!(matches!(env.provider.refresh(&channel).await.unwrap_err(), ProviderError::AuthExpired { .. }));
    assert_eq!(env.fake.requests().len(), calls);
}

#[tokio::test]
async fn a_duplicate_status_is_rejected_with_metas_message() {
    let env = env().await;
    let channel = env.connect().await;
    env.provider.publish(&request(&channel, "Same words", &[], &Value::Null)).await.unwrap();
    let err = env.provider.publish(&request(&channel, "Same words", &[], &Value::Null)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "meta_506");
    assert!(
        message.starts_with("(#506) Duplicate status message") && message.contains("fbtrace_id"),
        "{message}"
    );
}

#[tokio::test]
async fn targets_and_media_are_checked_before_acceptance() {
    let env = env().await;
    let channel = env.connect().await;
    let check = |text: &str, options: Value| {
        let issues = env.provider.validate_target(&channel, text, &options);
        pointers(&issues).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert!(check(&"é".repeat(63_206), Value::Null).is_empty());
    assert_eq!(check(&"a".repeat(63_207), Value::Null), ["/text"]);
    assert_eq!(check("x", json!({"link": "ftp://x"})), ["/options/link"]);
    assert_eq!(check("x", json!({"first_comment": " "})), ["/options/first_comment"]);
    assert_eq!(check("x", json!({"thread": []})), ["/options"]);
    let rules = env.provider.media_rules(&channel);
    assert_eq!((rules.max_images, rules.max_videos), (10, 1));
}

fn facts(mime: &str, kind: MediaKind, duration_ms: Option<u64>) -> MediaFacts {
    MediaFacts {
        mime: mime.into(),
        kind,
        width: 1280,
        height: 720,
        duration_ms,
        video_codec: None,
        audio_codec: None,
        size: 1_000,
        sha256: String::new(),
    }
}

#[tokio::test]
async fn images_or_one_video_never_both_are_taken_at_accept_time() {
    let env = env().await;
    let channel = env.connect().await;
    let rules = env.provider.media_rules(&channel);
    let image = facts("image/jpeg", MediaKind::Image, None);
    let video = facts("video/mp4", MediaKind::Video, Some(60_000));
    assert!(rules.check(std::slice::from_ref(&video)).is_empty());
    assert!(rules.check(&vec![image.clone(); 10]).is_empty());

    let mixed = rules.check(&[image.clone(), video.clone()]);
    assert_eq!(pointers(&mixed), ["/media"]);
    assert!(mixed[0].message.contains("not both"), "{}", mixed[0].message);
    assert_eq!(pointers(&rules.check(&[video.clone(), video.clone()])), ["/media"]);
    let mov = facts("video/quicktime", MediaKind::Video, Some(60_000));
    assert_eq!(pointers(&rules.check(&[mov])), ["/media/0"], "the upload API takes MP4 only");
    let long = facts("video/mp4", MediaKind::Video, Some(240 * 60_000 + 1));
    assert_eq!(pointers(&rules.check(&[long])), ["/media/0"]);
    let big = MediaFacts { size: 1024 * 1024 * 1024 + 1, ..video };
    assert_eq!(pointers(&rules.check(&[big])), ["/media/0"]);
}

#[tokio::test]
async fn a_video_goes_up_in_chunks_and_is_published_with_its_description() {
    let env = env().await;
    let channel = env.connect().await;
    let bytes = video_bytes(50);
    let id = env.add_video(&bytes);
    let options = json!({"first_comment": "Recipe below"});
    let published = env.provider.publish(&request(&channel, "Our new oven", &[id], &options)).await.unwrap();

    let videos = env.fake.videos();
    assert_eq!(videos.len(), 1);
    let video = &videos[0];
    assert_eq!(video.bytes, bytes, "the chunks reassemble the file");
    assert_eq!(video.chunks, 50_usize.div_ceil(VIDEO_CHUNK));
    assert_eq!((video.file_name.as_str(), video.file_type.as_str()), ("oven.mp4", "video/mp4"));
    assert_eq!(video.description.as_deref(), Some("Our new oven"));
    assert_eq!(video.reads, 2, "read while processing, then ready");
    assert_eq!(published.provider_post_id, video.id);
    assert_eq!(
        published.url.as_deref(),
        Some(format!("https://www.facebook.com/{}/videos/{}/", facebook_fake::PAGE_ID, video.id).as_str())
    );
    assert!(env.fake.posts().is_empty() && env.fake.photos().is_empty(), "no feed post besides");
    assert_eq!(env.fake.comments(), [(video.id.clone(), "Recipe below".to_owned())]);

    let delete = crier_providers::DeleteRequest {
        channel: &channel,
        target_id: crier_core::TargetId::generate(),
        provider_post_id: &published.provider_post_id,
        url: published.url.as_deref(),
    };
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted(), std::slice::from_ref(&video.id));
    assert!(env.fake.videos().is_empty());
}

#[tokio::test]
async fn a_video_that_fails_processing_is_rejected_with_metas_message() {
    let env = env().await;
    let channel = env.connect().await;
    let id = env.add_video(&video_bytes(20));
    env.fake.fail_next_video("The video's codec is not supported.");
    let err = env.provider.publish(&request(&channel, "Broken", &[id], &Value::Null)).await.unwrap_err();
    assert_eq!(
        err,
        ProviderError::Rejected {
            code: "video_failed".into(),
            message: "The video's codec is not supported.".into()
        }
    );

    // The upload session takes the user token: past its 60 days, the channel is reconnected.
    env.clock.advance(chrono::Duration::days(61));
    let calls = env.fake.requests().len();
    let err = env.provider.publish(&request(&channel, "Later", &[id], &Value::Null)).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::AuthExpired { message } if message.contains("reconnect")),
        "{err:?}"
    );
    assert_eq!(env.fake.requests().len(), calls, "nothing sent");
}

#[tokio::test]
async fn a_rate_limit_during_the_transfer_waits_for_metas_estimate() {
    let env = env().await;
    let channel = env.connect().await;
    let bytes = video_bytes(30);
    let id = env.add_video(&bytes);
    env.fake.rate_limit_transfers(1);
    let err = env.provider.publish(&request(&channel, "Oven", &[id], &Value::Null)).await.unwrap_err();
    let now = crier_core::Clock::now(&env.clock);
    assert_eq!(
        err,
        ProviderError::RateLimited { reset: now + chrono::Duration::minutes(facebook_fake::REGAIN_MINUTES) }
    );
    let refused = env.fake.requests().into_iter().filter(|r| r.status == 400).collect::<Vec<_>>();
    assert_eq!(refused.len(), 1);
    assert!(refused[0].method == "POST" && refused[0].path.contains("/upload:"), "{refused:?}");
    assert!(env.fake.videos().is_empty());

    // The next attempt starts a new session and goes through.
    env.provider.publish(&request(&channel, "Oven", &[id], &Value::Null)).await.unwrap();
    assert_eq!(env.fake.videos()[0].bytes, bytes);
}

#[tokio::test]
async fn a_video_is_not_mixed_with_images_at_publish_time_either() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add_image(b"\xff\xd8 one", None);
    let video = env.add_video(&video_bytes(10));
    let err =
        env.provider.publish(&request(&channel, "Both", &[image, video], &Value::Null)).await.unwrap_err();
    assert!(matches!(&err, ProviderError::Rejected { code, .. } if code == "invalid_media"), "{err:?}");
    assert!(env.fake.photos().is_empty() && env.fake.videos().is_empty(), "nothing half published");
}

#[tokio::test]
async fn a_sign_in_near_its_end_is_renewed_before_a_video_upload() {
    let env = env().await;
    let channel = env.connect().await;
    let before = env.tokens(&channel);
    env.clock.advance(chrono::Duration::days(55));
    let id = env.add_video(&video_bytes(12));
    env.provider.publish(&request(&channel, "Still here", &[id], &Value::Null)).await.unwrap();
    let after = env.tokens(&channel);
    assert_ne!(after["user_access_token"], before["user_access_token"]);
    let now = crier_core::Clock::now(&env.clock).timestamp();
    assert_eq!(after["user_expires_at"].as_i64().unwrap(), now + facebook_fake::LONG_LIVED);
    assert_eq!(after["page_access_token"], before["page_access_token"], "the Page token is kept");
    assert_eq!(env.fake.videos().len(), 1);
}
