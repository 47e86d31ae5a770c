//! The Pinterest provider against the fake Pinterest of `crier-testkit`: the OAuth 2 consent flow
//! with continuous refresh, refresh ahead of expiry, image, carousel and video Pins, Pinterest's
//! `{code, message}` errors and its rate limit.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use crier_core::{Channel, ChannelId, ChannelStatus, ManualClock, MediaId, MediaKind, WorkspaceId};
use crier_providers::pinterest::{Pinterest, PinterestSettings};
use crier_providers::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Credentials, Lookup, MediaFile, Platform,
    Provider, ProviderError,
};
use crier_testkit::pinterest_fake::{self, PinterestFake};
use doubles::{CALLBACK, MemoryMedia, MemoryVault, consent, pointers, request};
use serde_json::{Value, json};

struct Env {
    fake: PinterestFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    clock: ManualClock,
    provider: Pinterest,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    let fake = PinterestFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let clock = ManualClock::starting_now();
    let loopback = doubles::loopback_platform(vault.clone(), media.clone());
    let platform = Platform { clock: Arc::new(clock.clone()), ..loopback };
    let settings = PinterestSettings {
        client_id: pinterest_fake::CLIENT_ID.into(),
        client_secret: pinterest_fake::CLIENT_SECRET.into(),
        api_base: fake.base_url().into(),
        auth_base: fake.base_url().into(),
    };
    Env {
        provider: Pinterest::new(platform, settings),
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
            panic!("Pinterest connects through the consent page");
        };
        Ok((authorize_url, flow))
    }

    async fn finish(&self, params: &Value) -> Result<crier_providers::Connection, ConnectError> {
        let (authorize_url, flow) = self.start(params).await?;
        assert!(authorize_url.starts_with(&format!("{}/oauth/?", self.fake.base_url())));
        let (code, state) = consent(&authorize_url).await;
        assert_eq!(state, "st4te");
        let callback = CallbackRequest { flow: &flow, code: &code, callback_url: CALLBACK };
        self.provider.finish_connect(&callback).await
    }

    async fn connect(&self) -> Channel {
        let connection = self.finish(&json!({"board_id": pinterest_fake::BOARD_ID})).await.unwrap();
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "pinterest".into(),
            name: "Pinterest".into(),
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
        self.fake.requests().iter().filter(|r| r.path == "/v5/oauth/token").count()
    }

    fn add(&self, bytes: &[u8], mime: &str, kind: MediaKind, alt: Option<&str>) -> MediaId {
        let id = MediaId::generate();
        let media =
            doubles::ready_media(self.workspace, id, bytes, mime.into(), kind, None, alt.map(str::to_owned));
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes: bytes.to_vec() });
        id
    }
}

fn now_secs(clock: &ManualClock) -> i64 {
    crier_core::Clock::now(clock).timestamp()
}

#[tokio::test]
async fn connecting_goes_through_the_consent_page_and_checks_the_board() {
    let env = env().await;
    let channel = env.connect().await;
    // What the platform withholds until it reviews the app is said on the channel.
    assert_eq!(env.provider.notices(&channel), [crier_providers::pinterest::TRIAL_ACCESS]);
    let account = channel.account.as_ref().unwrap();
    assert_eq!(account.id, pinterest_fake::ACCOUNT_ID);
    assert_eq!(account.handle, pinterest_fake::USERNAME);
    assert!(account.avatar_url.as_deref().unwrap().ends_with(".jpg"));
    assert_eq!(channel.config, json!({"board_id": pinterest_fake::BOARD_ID}));
    assert!(env.provider.validate_config(&channel.config).is_empty());
    assert!(env.fake.continuous_refresh(), "the exchange asks for continuous refresh");
    let tokens = env.tokens(&channel);
    assert!(tokens["access_token"].as_str().unwrap().starts_with("pina_"));
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("pinr_"));
    assert_eq!(
        tokens["expires_at"].as_i64().unwrap(),
        now_secs(&env.clock) + pinterest_fake::ACCESS_TOKEN_LIFETIME
    );

    let err = env.finish(&json!({"board_id": "12345"})).await.unwrap_err();
    assert!(
        matches!(&err, ConnectError::Invalid { pointer, message } if pointer == "/board_id" && message.contains("Board not found")),
        "{err}"
    );
    for params in [json!({}), json!({"board_id": "my-board"}), json!({"board_id": "1", "x": 1})] {
        assert!(matches!(env.start(&params).await.unwrap_err(), ConnectError::Invalid { .. }), "{params}");
    }
}

#[tokio::test]
async fn tokens_are_refreshed_ahead_of_expiry_and_the_new_refresh_token_stored() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add(b"\x89PNG pixels", "image/png", MediaKind::Image, None);
    let before = env.tokens(&channel);
    env.provider.publish(&request(&channel, "one", &[image], &Value::Null)).await.unwrap();
    assert_eq!(env.token_calls(), 1);

    env.clock.advance(chrono::Duration::days(29) + chrono::Duration::hours(1));
    env.provider.publish(&request(&channel, "two", &[image], &Value::Null)).await.unwrap();
    assert_eq!(env.token_calls(), 2, "refreshed within a day of expiry");
    let after = env.tokens(&channel);
    assert_ne!(before["access_token"], after["access_token"]);
    assert!(!env.fake.refresh_token_valid(before["refresh_token"].as_str().unwrap()), "spent");
    assert!(env.fake.refresh_token_valid(after["refresh_token"].as_str().unwrap()), "stored");
}

#[tokio::test]
async fn an_image_pin_with_its_title_link_and_alt_text() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add(b"\xff\xd8\xff jpeg bytes", "image/jpeg", MediaKind::Image, Some("A red bicycle"));
    let options = json!({"title": "Spring rides", "link": "https://crier.example/rides"});
    let published =
        env.provider.publish(&request(&channel, "Ten routes to try.", &[image], &options)).await.unwrap();
    let pins = env.fake.pins();
    assert_eq!(pins.len(), 1);
    let pin = &pins[0];
    assert_eq!(pin["board_id"], pinterest_fake::BOARD_ID);
    assert_eq!(pin["description"], "Ten routes to try.");
    assert_eq!(pin["title"], "Spring rides");
    assert_eq!(pin["link"], "https://crier.example/rides");
    assert_eq!(pin["alt_text"], "A red bicycle");
    assert_eq!(pin["media_source"]["source_type"], "image_base64");
    assert_eq!(pin["media_source"]["content_type"], "image/jpeg");
    let data = STANDARD.decode(pin["media_source"]["data"].as_str().unwrap()).unwrap();
    assert_eq!(data, b"\xff\xd8\xff jpeg bytes");
    assert_eq!(published.provider_post_id, pin["id"].as_str().unwrap());
    assert_eq!(
        published.url.unwrap(),
        format!("https://www.pinterest.com/pin/{}/", pin["id"].as_str().unwrap())
    );
    assert_eq!(env.provider.lookup(&request(&channel, "", &[], &options)).await.unwrap(), Lookup::Unknowable);
}

#[tokio::test]
async fn a_carousel_and_a_video_pin() {
    let env = env().await;
    let channel = env.connect().await;
    let images: Vec<MediaId> = (0..3u8)
        .map(|i| env.add(&[0x89, b'P', b'N', b'G', i], "image/png", MediaKind::Image, None))
        .collect();
    env.provider.publish(&request(&channel, "Three", &images, &Value::Null)).await.unwrap();
    let video = env.add(b"....ftypmp42 video", "video/mp4", MediaKind::Video, None);
    env.provider.publish(&request(&channel, "Moving", &[video], &Value::Null)).await.unwrap();

    let pins = env.fake.pins();
    let carousel = &pins[0]["media_source"];
    assert_eq!(carousel["source_type"], "multiple_image_base64");
    let items = carousel["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(STANDARD.decode(items[2]["data"].as_str().unwrap()).unwrap(), [0x89, b'P', b'N', b'G', 2]);

    let source = &pins[1]["media_source"];
    assert_eq!(source["source_type"], "video_id");
    let media_id = source["media_id"].as_str().unwrap();
    let upload = &env.fake.uploads()[media_id];
    assert_eq!(upload.bytes, b"....ftypmp42 video");
    assert_eq!(upload.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(upload.fields["key"], format!("key-{media_id}"), "the signed fields went with the file");
    let polls = env.fake.requests().iter().filter(|r| r.path == format!("/v5/media/{media_id}")).count();
    assert_eq!(polls, 2, "polled until succeeded");
}

#[tokio::test]
async fn a_rate_limit_waits_a_minute() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add(b"\x89PNG", "image/png", MediaKind::Image, None);
    env.fake.rate_limit_next(1);
    let err = env.provider.publish(&request(&channel, "x", &[image], &Value::Null)).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    assert_eq!(reset.timestamp(), now_secs(&env.clock) + 60);
    assert!(env.fake.pins().is_empty());
}

#[tokio::test]
async fn an_expired_token_is_auth_expired_then_refreshed() {
    let env = env().await;
    let channel = env.connect().await;
    let image = env.add(b"\x89PNG", "image/png", MediaKind::Image, None);
    env.fake.expire_access_tokens();
    let err = env.provider.publish(&request(&channel, "x", &[image], &Value::Null)).await.unwrap_err();
    let ProviderError::AuthExpired { message } = err else { panic!("{err:?}") };
    assert!(message.contains("Authentication failed"), "{message}");
    env.provider.refresh(&channel).await.unwrap();
    env.provider.publish(&request(&channel, "x", &[image], &Value::Null)).await.unwrap();
    assert_eq!(env.fake.pins().len(), 1);
}

#[tokio::test]
async fn a_published_pin_is_deleted_and_a_gone_one_counts_as_deleted() {
    let env = env().await;
    let channel = env.connect().await;
    assert!(env.provider.can_delete(&channel));
    let image = env.add(b"\x89PNG", "image/png", MediaKind::Image, None);
    let published = env.provider.publish(&request(&channel, "regret", &[image], &Value::Null)).await.unwrap();
    let delete = crier_providers::DeleteRequest {
        channel: &channel,
        target_id: crier_core::TargetId::generate(),
        provider_post_id: &published.provider_post_id,
        url: published.url.as_deref(),
    };
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted_pins(), [published.provider_post_id.as_str()]);
    env.provider.delete(&delete).await.unwrap();
    assert_eq!(env.fake.deleted_pins().len(), 1);
    let sneaky = crier_providers::DeleteRequest { provider_post_id: "1/../../oauth/token", ..delete.clone() };
    assert!(matches!(env.provider.delete(&sneaky).await, Err(ProviderError::Rejected { .. })));
    env.fake.rate_limit_next(1);
    let limited = env.provider.delete(&delete).await;
    assert!(matches!(limited, Err(ProviderError::RateLimited { .. })), "{limited:?}");
    env.fake.expire_access_tokens();
    let expired = env.provider.delete(&delete).await;
    assert!(matches!(expired, Err(ProviderError::AuthExpired { .. })), "{expired:?}");
}

#[tokio::test]
async fn a_refused_pin_keeps_pinterests_code_and_message() {
    let env = env().await;
    let channel = env.connect().await;
    // A GIF (refused at accept time by the media rules) reaching Pinterest: its refusal is kept.
    let image = env.add(b"GIF89a", "image/gif", MediaKind::Image, None);
    let err = env.provider.publish(&request(&channel, "x", &[image], &Value::Null)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "pinterest_1");
    assert!(message.contains("Invalid image data"), "{message}");
    let err = env.provider.publish(&request(&channel, "x", &[], &Value::Null)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "media_required"), "{err:?}");
}

#[tokio::test]
async fn targets_are_checked() {
    let env = env().await;
    let channel = env.connect().await;
    let check = |text: &str, options: Value| {
        let issues = env.provider.validate_target(&channel, text, &options);
        pointers(&issues).into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    assert!(check(&"é".repeat(500), json!({"title": "t".repeat(100)})).is_empty());
    assert_eq!(check(&"x".repeat(501), Value::Null), ["/text"]);
    assert_eq!(check("", json!({"title": "t".repeat(101)})), ["/options/title"]);
    assert_eq!(check("", json!({"link": "ftp://x.example"})), ["/options/link"]);
    assert_eq!(check("", json!({"board_section_id": "abc"})), ["/options/board_section_id"]);
    assert_eq!(check("", json!({"pinned": true})), ["/options"]);
    let rules = env.provider.media_rules(&channel);
    assert!(rules.media_required);
    assert_eq!((rules.max_images, rules.max_videos, rules.allow_mixed), (5, 1, false));
    assert_eq!(env.provider.text_limit(&channel).unwrap().max, 500);
}
