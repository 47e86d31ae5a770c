//! The Mastodon provider against the fake instance of `crier-testkit`: the OAuth dance, media
//! with alt text, threads, idempotent retries, the platform's errors, and the character count.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::collections::HashMap;
use std::sync::Arc;

use crier_core::{
    AttemptId, Channel, ChannelAccount, ChannelId, ChannelStatus, MediaFacts, MediaId, MediaKind,
    SystemClock, TargetId, WorkspaceId,
};
use crier_net::{OutboundClient, OutboundPolicy, SystemResolver};
use crier_providers::mastodon::{Mastodon, character_count};
use crier_providers::{
    CallbackRequest, ConnectError, ConnectRequest, ConnectStart, CredentialVault, DeleteRequest, Lookup,
    MediaFile, Platform, Provider, ProviderError, PublishRequest,
};
use crier_testkit::mastodon_fake::{self, MastodonFake};
use doubles::{MemoryMedia, MemoryVault, pointers};
use serde_json::{Value, json};

const CALLBACK: &str = "https://crier.example/v1/channels/connect/callback";

struct Env {
    fake: MastodonFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    provider: Mastodon,
    workspace: WorkspaceId,
}

fn platform(policy: OutboundPolicy, vault: Arc<MemoryVault>, media: Arc<MemoryMedia>) -> Platform {
    Platform {
        http: OutboundClient::new(policy, Arc::new(SystemResolver)),
        vault,
        media,
        clock: Arc::new(SystemClock),
    }
}

fn loopback() -> OutboundPolicy {
    OutboundPolicy { allow_insecure_loopback: true, ..OutboundPolicy::default() }
}

async fn env() -> Env {
    let fake = MastodonFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let provider = Mastodon::new(platform(loopback(), vault.clone(), media.clone()));
    Env { fake, vault, media, provider, workspace: WorkspaceId::generate() }
}

fn params(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// Plays the user on the consent page: the fake answers at once with the redirect to Crier.
async fn consent(authorize_url: &str) -> (String, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = client.get(authorize_url).send().await.unwrap();
    assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
    let location = answer.headers()["location"].to_str().unwrap();
    let location = url::Url::parse(location).unwrap();
    assert!(location.as_str().starts_with(CALLBACK), "{location}");
    let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
    (query["code"].clone(), query["state"].clone())
}

impl Env {
    /// Connects the fake's account through the whole flow and stores the channel's credentials.
    async fn connect(&self) -> Channel {
        let request = ConnectRequest {
            workspace_id: self.workspace,
            params: &params(json!({"instance": self.fake.base_url()})),
            callback_url: CALLBACK,
            state: "st4te",
        };
        let ConnectStart::Redirect { authorize_url, flow } = self.provider.connect(&request).await.unwrap()
        else {
            panic!("Mastodon connects through the consent page");
        };
        let (code, state) = consent(&authorize_url).await;
        assert_eq!(state, "st4te");
        let callback = CallbackRequest { flow: &flow, code: &code, callback_url: CALLBACK };
        let connection = self.provider.finish_connect(&callback).await.unwrap();
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "mastodon".into(),
            name: "Mastodon".into(),
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

    fn access_token(&self, channel: &Channel) -> String {
        let stored = self.vault.0.lock().unwrap()[&channel.id].clone();
        let tokens: Value = serde_json::from_slice(&stored).unwrap();
        tokens["access_token"].as_str().unwrap().to_owned()
    }

    fn add_media(&self, path: &str, mime: &str, kind: MediaKind, alt: Option<&str>) -> MediaId {
        let bytes =
            std::fs::read(format!("{}/../crier-media/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let id = MediaId::generate();
        let media = doubles::ready_media(
            self.workspace,
            id,
            &bytes,
            mime.into(),
            kind,
            Some(format!("holiday-{path}")),
            alt.map(str::to_owned),
        );
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes });
        id
    }
}

fn request<'a>(
    channel: &'a Channel,
    target_id: TargetId,
    text: &'a str,
    media: &'a [MediaId],
    options: &'a Value,
) -> PublishRequest<'a> {
    PublishRequest { channel, target_id, attempt_id: AttemptId::generate(), text, media, options }
}

#[tokio::test]
async fn connecting_goes_through_the_consent_page_with_pkce() {
    let env = env().await;
    let channel = env.connect().await;
    let host = env.fake.base_url().trim_start_matches("http://").to_owned();
    assert_eq!(
        channel.account,
        Some(ChannelAccount {
            id: "109000000000000001".into(),
            handle: format!("crier@{host}"),
            display_name: Some("Crier Test".into()),
            avatar_url: Some(format!("{}/avatars/original/missing.png", env.fake.base_url())),
        })
    );
    assert_eq!(channel.config["instance"], env.fake.base_url());
    assert_eq!(channel.config["limits"]["max_characters"], mastodon_fake::MAX_CHARACTERS);
    assert_eq!(channel.config["limits"]["video_size_limit"], mastodon_fake::VIDEO_SIZE_LIMIT);
    assert!(env.provider.validate_config(&channel.config).is_empty());
    let stored: Value = serde_json::from_slice(&env.vault.0.lock().unwrap()[&channel.id]).unwrap();
    for key in ["client_id", "client_secret", "access_token"] {
        assert!(stored[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    let text = serde_json::to_string(&channel.config).unwrap();
    assert!(!text.contains(stored["access_token"].as_str().unwrap()), "no secret in the clear settings");

    // The token works, and has the scopes Crier asked for.
    let answer = reqwest::Client::new()
        .get(format!("{}/api/v1/accounts/verify_credentials", env.fake.base_url()))
        .bearer_auth(env.access_token(&channel))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let token_exchange = env.fake.requests().into_iter().find(|r| r.path == "/oauth/token").unwrap();
    assert_eq!(token_exchange.status, 200, "the PKCE verifier matched its challenge");
}

#[tokio::test]
async fn connect_refuses_bad_input_at_the_field() {
    let env = &env().await;
    let start = |value: Value| {
        let params = params(value);
        async move {
            let request = ConnectRequest {
                workspace_id: env.workspace,
                params: &params,
                callback_url: CALLBACK,
                state: "s",
            };
            env.provider.connect(&request).await
        }
    };
    let invalid_at = |result: Result<ConnectStart, ConnectError>| match result {
        Err(ConnectError::Invalid { pointer, .. }) => pointer,
        other => panic!("{other:?}"),
    };
    assert_eq!(invalid_at(start(json!({"instance": env.fake.base_url(), "password": "x"})).await), "");
    assert_eq!(invalid_at(start(json!({"instance": "ftp://example.org"})).await), "/instance");
    assert_eq!(
        invalid_at(start(json!({"instance": format!("{}/@crier", env.fake.base_url())})).await),
        "/instance"
    );

    // Without the development switch, an http or loopback instance is refused at the field.
    let strict = Mastodon::new(platform(OutboundPolicy::default(), env.vault.clone(), env.media.clone()));
    let params = params(json!({"instance": env.fake.base_url()}));
    let request =
        ConnectRequest { workspace_id: env.workspace, params: &params, callback_url: CALLBACK, state: "s" };
    assert_eq!(invalid_at(strict.connect(&request).await), "/instance");
    assert!(env.fake.requests().iter().all(|r| r.path != "/api/v1/apps"), "nothing registered");
}

#[tokio::test]
async fn a_post_with_an_image_carries_its_alt_text() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.set_media_processing_polls(2);
    let image = env.add_media("photo.jpg", "image/jpeg", MediaKind::Image, Some("A red kite over the hills"));
    let options = json!({"visibility": "unlisted", "spoiler_text": "birds", "language": "en"});
    let target = TargetId::generate();
    let published = env
        .provider
        .publish(&request(&channel, target, "Look at this https://example.com/kites", &[image], &options))
        .await
        .unwrap();

    let statuses = env.fake.statuses();
    assert_eq!(statuses.len(), 1);
    let status = &statuses[0];
    assert_eq!(published.provider_post_id, status["id"].as_str().unwrap());
    assert_eq!(published.url.as_deref(), status["url"].as_str());
    assert_eq!(status["visibility"], "unlisted");
    assert_eq!(status["spoiler_text"], "birds");
    assert_eq!(status["sensitive"], true);
    let attachment_id = status["media_attachments"][0]["id"].as_str().unwrap();
    let uploaded = env.fake.media(attachment_id).unwrap();
    let fixture = env.media.0.lock().unwrap()[&image].bytes.clone();
    assert_eq!(uploaded.bytes, fixture);
    assert_eq!(uploaded.content_type, "image/jpeg");
    assert_eq!(uploaded.file_name.as_deref(), Some("media.jpg"));
    assert_eq!(uploaded.description.as_deref(), Some("A red kite over the hills"));
    let polls =
        env.fake.requests().iter().filter(|r| r.path == format!("/api/v1/media/{attachment_id}")).count();
    assert_eq!(polls, 3, "polled through two answers of processing to the finished file");
    let post = env.fake.requests().into_iter().find(|r| r.path == "/api/v1/statuses").unwrap();
    assert_eq!(post.idempotency_key, Some(format!("crier-{target}-0")));
}

#[tokio::test]
async fn a_video_is_uploaded_and_waited_for() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.add_media("clip.mp4", "video/mp4", MediaKind::Video, None);
    let published = env
        .provider
        .publish(&request(&channel, TargetId::generate(), "", &[video], &Value::Null))
        .await
        .unwrap();
    let status = &env.fake.statuses()[0];
    assert_eq!(published.provider_post_id, status["id"].as_str().unwrap());
    assert_eq!(status["media_attachments"][0]["type"], "video");
    let id = status["media_attachments"][0]["id"].as_str().unwrap();
    assert_eq!(env.fake.media(id).unwrap().description, None);
}

#[tokio::test]
async fn a_thread_is_a_chain_of_replies() {
    let env = env().await;
    let channel = env.connect().await;
    let options = json!({"thread": ["second", "third"]});
    let target = TargetId::generate();
    let published = env.provider.publish(&request(&channel, target, "first", &[], &options)).await.unwrap();
    let statuses = env.fake.statuses();
    assert_eq!(statuses.len(), 3);
    assert_eq!(published.provider_post_id, statuses[0]["id"].as_str().unwrap());
    assert_eq!(statuses[0]["in_reply_to_id"], Value::Null);
    assert_eq!(statuses[1]["in_reply_to_id"], statuses[0]["id"]);
    assert_eq!(statuses[2]["in_reply_to_id"], statuses[1]["id"]);
    let texts: Vec<_> =
        statuses.iter().map(|s| env.fake.status_text(s["id"].as_str().unwrap()).unwrap()).collect();
    assert_eq!(texts, ["first", "second", "third"]);
    let keys: Vec<_> = env.fake.requests().into_iter().filter_map(|r| r.idempotency_key).collect();
    assert_eq!(keys, (0..3).map(|i| format!("crier-{target}-{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_does_not_post_twice() {
    let env = env().await;
    let channel = env.connect().await;
    let target = TargetId::generate();
    env.fake.fail_next_statuses_after_commit(1);
    let first = env.provider.publish(&request(&channel, target, "only once", &[], &Value::Null)).await;
    assert!(matches!(first, Err(ProviderError::Retryable { .. })), "{first:?}");
    assert_eq!(env.fake.statuses().len(), 1, "the status was made before the error");

    let second =
        env.provider.publish(&request(&channel, target, "only once", &[], &Value::Null)).await.unwrap();
    let statuses = env.fake.statuses();
    assert_eq!(statuses.len(), 1, "Mastodon gave the same status back");
    assert_eq!(second.provider_post_id, statuses[0]["id"].as_str().unwrap());

    // A thread interrupted half way resumes where it stopped.
    let target = TargetId::generate();
    let options = json!({"thread": ["two", "three"]});
    let posts_before = env.fake.statuses().len();
    env.fake.fail_next_statuses_after_commit(1);
    let thread_request = request(&channel, target, "one", &[], &options);
    // The first status is made and its answer lost.
    assert!(env.provider.publish(&thread_request).await.is_err());
    let published = env.provider.publish(&thread_request).await.unwrap();
    let statuses = env.fake.statuses();
    assert_eq!(statuses.len(), posts_before + 3);
    assert_eq!(published.provider_post_id, statuses[posts_before]["id"].as_str().unwrap());
}

#[tokio::test]
async fn an_unavailable_instance_is_retried() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.fail_next_status_posts(1);
    let result =
        env.provider.publish(&request(&channel, TargetId::generate(), "hi", &[], &Value::Null)).await;
    assert!(matches!(result, Err(ProviderError::Retryable { .. })), "{result:?}");
    assert!(env.fake.statuses().is_empty());
}

#[tokio::test]
async fn a_rate_limit_names_its_reset() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.rate_limit_next(1);
    let before = chrono::Utc::now();
    let result =
        env.provider.publish(&request(&channel, TargetId::generate(), "hi", &[], &Value::Null)).await;
    let Err(ProviderError::RateLimited { reset }) = result else { panic!("{result:?}") };
    // The fake resets five minutes after the refused request.
    assert!(reset > before + chrono::Duration::minutes(4), "{reset}");
    assert!(reset < chrono::Utc::now() + chrono::Duration::minutes(6), "{reset}");
    assert!(env.fake.statuses().is_empty());
}

#[tokio::test]
async fn a_revoked_token_needs_a_reconnect() {
    let env = env().await;
    let channel = env.connect().await;
    env.fake.revoke_all_tokens();
    let result =
        env.provider.publish(&request(&channel, TargetId::generate(), "hi", &[], &Value::Null)).await;
    assert!(matches!(result, Err(ProviderError::AuthExpired { .. })), "{result:?}");
    let refreshed = env.provider.refresh(&channel).await;
    assert!(matches!(refreshed, Err(ProviderError::AuthExpired { .. })), "{refreshed:?}");
}

#[tokio::test]
async fn a_rejected_status_is_rejected_with_the_instances_words() {
    let env = env().await;
    let channel = env.connect().await;
    let result =
        env.provider.publish(&request(&channel, TargetId::generate(), "   ", &[], &Value::Null)).await;
    let Err(ProviderError::Rejected { code, message }) = result else { panic!("{result:?}") };
    assert_eq!(code, "platform_422");
    assert!(message.contains("can't be blank"), "{message}");
}

#[tokio::test]
async fn a_published_status_is_deleted_once_and_a_gone_one_counts_as_deleted() {
    let env = env().await;
    let channel = env.connect().await;
    assert!(env.provider.can_delete(&channel));
    let target = TargetId::generate();
    let published =
        env.provider.publish(&request(&channel, target, "oops", &[], &Value::Null)).await.unwrap();
    let delete = DeleteRequest {
        channel: &channel,
        target_id: target,
        provider_post_id: &published.provider_post_id,
        url: published.url.as_deref(),
    };
    env.provider.delete(&delete).await.unwrap();
    assert!(env.fake.live_statuses().is_empty(), "{:?}", env.fake.statuses());
    let call = env.fake.requests().into_iter().last().unwrap();
    assert_eq!(
        (call.method.as_str(), call.path.as_str()),
        ("DELETE", format!("/api/v1/statuses/{}", published.provider_post_id).as_str())
    );
    // Again (a retry after a lost answer): already gone, which is what was asked.
    env.provider.delete(&delete).await.unwrap();
    // A path in disguise is refused before any call.
    let sneaky = DeleteRequest { provider_post_id: "1/../../oauth/revoke", ..delete.clone() };
    let refused = env.provider.delete(&sneaky).await;
    assert!(matches!(refused, Err(ProviderError::Rejected { .. })), "{refused:?}");
    env.fake.revoke_all_tokens();
    let expired = env.provider.delete(&delete).await;
    assert!(matches!(expired, Err(ProviderError::AuthExpired { .. })), "{expired:?}");
}

#[tokio::test]
async fn disconnect_revokes_the_token() {
    let env = env().await;
    let channel = env.connect().await;
    let token = env.access_token(&channel);
    env.provider.disconnect(&channel, &env.vault.open(&channel).await.unwrap()).await.unwrap();
    let answer = reqwest::Client::new()
        .get(format!("{}/api/v1/accounts/verify_credentials", env.fake.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let result =
        env.provider.publish(&request(&channel, TargetId::generate(), "hi", &[], &Value::Null)).await;
    assert!(matches!(result, Err(ProviderError::AuthExpired { .. })), "{result:?}");
    // Revoking again is as good as done.
    env.provider.disconnect(&channel, &env.vault.open(&channel).await.unwrap()).await.unwrap();
}

#[tokio::test]
async fn characters_are_counted_as_mastodon_counts_them() {
    let env = env().await;
    let channel = env.connect().await;
    let url = format!("https://example.com/{}", "a".repeat(150));
    // 476 characters, the URL counting 23, and a mention whose domain is free: exactly 500.
    let mention = "@someone@a-very-long-instance-name.example";
    let padding = "x".repeat(500 - 23 - "@someone".len() - 2);
    let text = format!("{padding} {url} {mention}");
    assert!(text.chars().count() > 500);
    assert_eq!(character_count(&text, "", 23), 500);
    assert_eq!(mastodon_fake::character_count(&text, ""), 500, "the fake counts the same");
    assert!(env.provider.validate_target(&channel, &text, &Value::Null).is_empty());
    env.provider.publish(&request(&channel, TargetId::generate(), &text, &[], &Value::Null)).await.unwrap();

    let too_long = "é".repeat(501);
    let issues = env.provider.validate_target(&channel, &too_long, &Value::Null);
    assert_eq!(pointers(&issues), ["/text"]);
    assert!(issues[0].message.contains("501 characters"), "{}", issues[0].message);
    // The content warning counts with the text.
    let issues = env.provider.validate_target(&channel, &"x".repeat(498), &json!({"spoiler_text": "cw!"}));
    assert_eq!(pointers(&issues), ["/text"]);

    for sample in [
        "plain",
        "👨‍👩‍👧‍👦 family and café",
        "see (https://en.wikipedia.org/wiki/Rust_(language)), then https://x.co.",
        "@alice@example.org and @bob hi, mail me@example.org",
        "http://localhost/x and example.com/path",
    ] {
        assert_eq!(
            character_count(sample, "cw", 23),
            mastodon_fake::character_count(sample, "cw"),
            "{sample}"
        );
    }
    let limit = env.provider.text_limit(&channel).unwrap();
    assert_eq!((limit.max, limit.counted_in), (500, "graphemes"));
}

#[tokio::test]
async fn options_and_media_are_checked_before_acceptance() {
    let env = env().await;
    let channel = env.connect().await;
    let check = |options: Value| env.provider.validate_target(&channel, "hi", &options);
    assert!(check(json!({"visibility": "direct", "sensitive": true, "language": "pt-BR"})).is_empty());
    assert_eq!(pointers(&check(json!({"visibility": "friends"}))), ["/options"]);
    assert_eq!(pointers(&check(json!({"poll": {}}))), ["/options"]);
    assert_eq!(pointers(&check(json!({"language": "English"}))), ["/options/language"]);
    assert_eq!(
        pointers(&check(json!({"thread": ["fine", "x".repeat(501), " "]}))),
        ["/options/thread/1", "/options/thread/2"]
    );
    assert_eq!(pointers(&check(json!({"thread": vec!["reply"; 25]}))), ["/options/thread"]);

    let rules = env.provider.media_rules(&channel);
    let facts = |kind: MediaKind, mime: &str, size: u64| MediaFacts {
        mime: mime.into(),
        kind,
        width: 100,
        height: 100,
        duration_ms: None,
        video_codec: None,
        audio_codec: None,
        size,
        sha256: String::new(),
    };
    let image = facts(MediaKind::Image, "image/jpeg", 1000);
    let video = facts(MediaKind::Video, "video/mp4", 1000);
    assert!(rules.check(&vec![image.clone(); 4]).is_empty());
    assert_eq!(pointers(&rules.check(&vec![image.clone(); 5])), ["/media"]);
    assert_eq!(pointers(&rules.check(&[image.clone(), video.clone()])), ["/media"]);
    assert_eq!(pointers(&rules.check(&[video.clone(), video.clone()])), ["/media"]);
    assert_eq!(
        pointers(&rules.check(&[facts(MediaKind::Image, "image/jpeg", 17 * 1024 * 1024)])),
        ["/media/0"]
    );
    assert!(rules.check(&[facts(MediaKind::Video, "video/mp4", 99 * 1024 * 1024)]).is_empty());
    assert_eq!(
        pointers(&rules.check(&[facts(MediaKind::Video, "video/mp4", 100 * 1024 * 1024)])),
        ["/media/0"]
    );
    assert_eq!(pointers(&rules.check(&[facts(MediaKind::Image, "image/bmp", 10)])), ["/media/0"]);
}

#[tokio::test]
async fn an_interrupted_attempt_may_be_resent_only_within_the_idempotency_window() {
    let env = env().await;
    let channel = env.connect().await;
    let recent = request(&channel, TargetId::generate(), "hi", &[], &Value::Null);
    assert_eq!(env.provider.lookup(&recent).await.unwrap(), Lookup::ResendIsSafe);
    let two_hours_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    let old_attempt = AttemptId::from_uuid(
        ulid::Ulid::from_parts(u64::try_from(two_hours_ago.timestamp_millis()).unwrap(), 7).into(),
    );
    let old = PublishRequest { attempt_id: old_attempt, ..recent };
    assert_eq!(env.provider.lookup(&old).await.unwrap(), Lookup::Unknowable);
}
