//! The YouTube provider against the fake YouTube of `crier-testkit`: Google's OAuth 2 consent flow
//! with PKCE and offline access, refresh ahead of expiry, a resumable upload in 256 KiB chunks
//! (resumed after a partial receipt and a 503), Google's error shape for quota, the daily upload
//! cap, an expired token and a refused title; deleting a video, only where the deployment opted
//! in (`delete_videos`) and Google granted `youtube.force-ssl`.

#![expect(clippy::unwrap_used, reason = "tests")]

mod doubles;

use std::collections::HashMap;
use std::sync::Arc;

use crier_core::{Channel, ChannelId, ChannelStatus, ManualClock, MediaId, MediaKind, TargetId, WorkspaceId};
use crier_providers::youtube::{CHUNK_UNIT, YouTube, YouTubeSettings};
use crier_providers::{
    CallbackRequest, ConnectRequest, ConnectStart, Credentials, DeleteRequest, MediaFile, Platform, Provider,
    ProviderError,
};
use crier_testkit::youtube_fake::{self, YouTubeFake};
use doubles::{MemoryMedia, MemoryVault, pointers, request};
use serde_json::{Value, json};

const CALLBACK: &str = "https://crier.example/v1/channels/connect/callback";

struct Env {
    fake: YouTubeFake,
    vault: Arc<MemoryVault>,
    media: Arc<MemoryMedia>,
    clock: ManualClock,
    provider: YouTube,
    platform: Platform,
    settings: YouTubeSettings,
    workspace: WorkspaceId,
}

async fn env() -> Env {
    env_with(false).await
}

/// With `delete_videos` as `--youtube-delete` sets it.
async fn env_with(delete_videos: bool) -> Env {
    let fake = YouTubeFake::start().await;
    let vault = Arc::new(MemoryVault::default());
    let media = Arc::new(MemoryMedia::default());
    let clock = ManualClock::starting_now();
    let loopback = doubles::loopback_platform(vault.clone(), media.clone());
    let platform = Platform { clock: Arc::new(clock.clone()), ..loopback };
    let settings = YouTubeSettings {
        client_id: youtube_fake::CLIENT_ID.into(),
        client_secret: youtube_fake::CLIENT_SECRET.into(),
        api_base: fake.base_url().into(),
        oauth_base: fake.base_url().into(),
        auth_base: fake.base_url().into(),
        chunk_size: CHUNK_UNIT,
        delete_videos,
    };
    Env {
        provider: YouTube::new(platform.clone(), settings.clone()),
        platform,
        settings,
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
            panic!("YouTube connects through the consent page");
        };
        assert!(authorize_url.starts_with(&format!("{}/o/oauth2/v2/auth?", self.fake.base_url())));
        assert!(authorize_url.contains("prompt=consent"), "{authorize_url}");
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let answer = client.get(&authorize_url).send().await.unwrap();
        assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
        let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
        let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
        assert_eq!(query["state"], "st4te");
        let callback = CallbackRequest { flow: &flow, code: &query["code"], callback_url: CALLBACK };
        let connection = self.provider.finish_connect(&callback).await.unwrap();
        // A code is good once; and a flow of another verifier is refused.
        assert!(self.provider.finish_connect(&callback).await.is_err());
        let channel = Channel {
            workspace_id: self.workspace,
            id: ChannelId::generate(),
            provider: "youtube".into(),
            name: "YouTube".into(),
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

    /// The same fake and vault, with the deployment's `delete_videos` set otherwise.
    fn provider_with(&self, delete_videos: bool) -> YouTube {
        YouTube::new(self.platform.clone(), YouTubeSettings { delete_videos, ..self.settings.clone() })
    }

    fn deletes(&self) -> Vec<u16> {
        let requests = self.fake.requests().into_iter();
        requests
            .filter(|r| r.method == "DELETE" && r.path == "/youtube/v3/videos")
            .map(|r| r.status)
            .collect()
    }

    fn token_calls(&self) -> usize {
        self.fake.requests().iter().filter(|r| r.path == "/token").count()
    }

    fn video(&self, bytes: &[u8]) -> MediaId {
        let id = MediaId::generate();
        let media =
            doubles::ready_media(self.workspace, id, bytes, "video/mp4".into(), MediaKind::Video, None, None);
        self.media.0.lock().unwrap().insert(id, MediaFile { media, bytes: bytes.to_vec() });
        id
    }
}

fn now_secs(clock: &ManualClock) -> i64 {
    crier_core::Clock::now(clock).timestamp()
}

/// Bytes that differ at every position, so a misplaced chunk shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn connecting_finds_the_channel_and_keeps_an_offline_grant() {
    let env = env().await;
    let channel = env.connect().await;
    // What the platform withholds until it reviews the app is said on the channel.
    assert_eq!(env.provider.notices(&channel), [crier_providers::youtube::UNAUDITED]);
    let account = channel.account.as_ref().unwrap();
    assert_eq!(account.id, youtube_fake::CHANNEL_ID);
    assert_eq!(account.handle, youtube_fake::CUSTOM_URL);
    assert_eq!(account.display_name.as_deref(), Some(youtube_fake::CHANNEL_TITLE));
    assert!(account.avatar_url.as_deref().unwrap().ends_with(".jpg"));
    assert!(env.provider.validate_config(&channel.config).is_empty());
    let tokens = env.tokens(&channel);
    assert!(tokens["access_token"].as_str().unwrap().starts_with("ya29."));
    assert!(tokens["refresh_token"].as_str().unwrap().starts_with("1//"));
    assert_eq!(
        tokens["expires_at"].as_i64().unwrap(),
        now_secs(&env.clock) + youtube_fake::ACCESS_TOKEN_LIFETIME
    );

    let credentials = Credentials::from_bytes(env.vault.0.lock().unwrap()[&channel.id].clone());
    env.provider.disconnect(&channel, &credentials).await.unwrap();
    assert_eq!(env.fake.revoked(), [tokens["refresh_token"].as_str().unwrap()]);
    env.provider.disconnect(&channel, &credentials).await.unwrap();
}

#[tokio::test]
async fn tokens_are_refreshed_ahead_of_expiry_and_a_new_refresh_token_stored() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.video(&pattern(1000));
    let exchanges = env.token_calls();
    env.provider.publish(&request(&channel, "One", &[video], &Value::Null)).await.unwrap();
    assert_eq!(env.token_calls(), exchanges, "a fresh token is used as it is");

    env.clock.advance(chrono::Duration::minutes(56));
    env.provider.publish(&request(&channel, "Two", &[video], &Value::Null)).await.unwrap();
    assert_eq!(env.token_calls(), exchanges + 1, "refreshed within five minutes of expiry");
    let kept = env.tokens(&channel);
    assert!(env.fake.refresh_token_valid(kept["refresh_token"].as_str().unwrap()), "Google kept it");

    env.fake.rotate_refresh_tokens();
    env.provider.refresh(&channel).await.unwrap();
    let rotated = env.tokens(&channel);
    assert_ne!(kept["refresh_token"], rotated["refresh_token"]);
    assert!(env.fake.refresh_token_valid(rotated["refresh_token"].as_str().unwrap()), "stored at once");
}

#[tokio::test]
async fn a_video_goes_up_in_resumable_chunks_and_arrives_whole() {
    let env = env().await;
    let channel = env.connect().await;
    let bytes = pattern(3 * CHUNK_UNIT + 12_345);
    let video = env.video(&bytes);
    // YouTube keeps only part of the first chunk.
    env.fake.keep_partial_chunk(1000);
    let text = "Spring rides\nTen routes to try, filmed in April.";
    let options = json!({"privacy_status": "unlisted"});
    let published = env.provider.publish(&request(&channel, text, &[video], &options)).await.unwrap();
    let uploads = env.fake.uploads();
    assert_eq!(uploads.len(), 1);
    let upload = uploads.values().next().unwrap();
    assert_eq!(upload.bytes, bytes, "the chunks reassemble into the file, byte for byte");
    assert_eq!(upload.declared_length, bytes.len());
    assert_eq!(upload.declared_type.as_deref(), Some("video/mp4"));
    assert_eq!(upload.metadata["snippet"]["title"], "Spring rides");
    assert_eq!(upload.metadata["snippet"]["description"], text);
    assert_eq!(upload.metadata["status"]["privacyStatus"], "unlisted");
    assert_eq!(upload.metadata["status"]["selfDeclaredMadeForKids"], false);
    assert_eq!(published.provider_post_id, upload.video_id.clone().unwrap());
    assert_eq!(
        published.url.unwrap(),
        format!("https://www.youtube.com/watch?v={}", published.provider_post_id)
    );
    let ranges: Vec<String> = env.fake.requests().into_iter().filter_map(|r| r.content_range).collect();
    let total = bytes.len();
    let unit = CHUNK_UNIT;
    assert_eq!(
        ranges,
        [
            format!("bytes 0-{}/{total}", unit - 1),
            // Resumed from the 1000 bytes the 308's Range said were held.
            format!("bytes 1000-{}/{total}", 1000 + unit - 1),
            format!("bytes {}-{}/{total}", 1000 + unit, 1000 + 2 * unit - 1),
            format!("bytes {}-{}/{total}", 1000 + 2 * unit, 1000 + 3 * unit - 1),
            format!("bytes {}-{}/{total}", 1000 + 3 * unit, total - 1),
        ]
    );
}

#[tokio::test]
async fn an_interrupted_chunk_is_resumed_where_youtube_stands() {
    let env = env().await;
    let channel = env.connect().await;
    let bytes = pattern(2 * CHUNK_UNIT + 7);
    let video = env.video(&bytes);
    env.fake.fail_chunks(2);
    let published =
        env.provider.publish(&request(&channel, "Interrupted", &[video], &Value::Null)).await.unwrap();
    let upload = env.fake.uploads().into_values().next().unwrap();
    assert_eq!(upload.bytes, bytes);
    assert_eq!(upload.metadata["status"]["privacyStatus"], "private", "private unless asked");
    assert_eq!(Some(published.provider_post_id), upload.video_id);
    let statuses: Vec<(u16, String)> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| (r.status, r.content_range.unwrap()))
        .collect();
    let total = bytes.len();
    assert_eq!(statuses[0], (503, format!("bytes 0-{}/{total}", CHUNK_UNIT - 1)));
    assert_eq!(statuses[1], (308, format!("bytes */{total}")), "asked where the session stands");
    assert_eq!(statuses[2].0, 503);
    assert_eq!(statuses[3], (308, format!("bytes */{total}")));
    assert_eq!(statuses.last().unwrap().0, 200);
}

#[tokio::test]
async fn quota_and_the_daily_upload_cap_are_rate_limits() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.video(&pattern(10));
    env.fake.fail_next(
        403,
        "quotaExceeded",
        "The request cannot be completed because you have exceeded your quota.",
    );
    let err = env.provider.publish(&request(&channel, "x", &[video], &Value::Null)).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    let wait = reset.timestamp() - now_secs(&env.clock);
    assert!((0..=86_400).contains(&wait), "until midnight Pacific: {wait}");
    assert!(matches!(reset.format("%H:%M").to_string().as_str(), "07:00" | "08:00"), "{reset}");

    env.fake.fail_next(
        400,
        "uploadLimitExceeded",
        "The user has exceeded the number of videos they may upload.",
    );
    let err = env.provider.publish(&request(&channel, "x", &[video], &Value::Null)).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    assert_eq!(reset.timestamp(), now_secs(&env.clock) + 86_400);

    env.fake.fail_next(403, "userRateLimitExceeded", "User Rate Limit Exceeded");
    let err = env.provider.publish(&request(&channel, "x", &[video], &Value::Null)).await.unwrap_err();
    let ProviderError::RateLimited { reset } = err else { panic!("{err:?}") };
    assert_eq!(reset.timestamp(), now_secs(&env.clock) + 60);
    assert!(env.fake.uploads().is_empty());
}

#[tokio::test]
async fn an_expired_token_is_auth_expired_then_refreshed() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.video(&pattern(10));
    env.fake.expire_access_tokens();
    let err = env.provider.publish(&request(&channel, "x", &[video], &Value::Null)).await.unwrap_err();
    let ProviderError::AuthExpired { message } = err else { panic!("{err:?}") };
    assert!(message.contains("invalid authentication credentials"), "{message}");
    env.provider.refresh(&channel).await.unwrap();
    env.provider.publish(&request(&channel, "x", &[video], &Value::Null)).await.unwrap();
    assert_eq!(env.fake.uploads().len(), 1);
}

#[tokio::test]
async fn a_refused_title_keeps_googles_reason_and_message() {
    let env = env().await;
    let channel = env.connect().await;
    let video = env.video(&pattern(10));
    // Refused at accept time by validate_target; reaching YouTube anyway, its refusal is kept.
    let options = json!({"title": "<b>Bold</b>"});
    let err = env.provider.publish(&request(&channel, "x", &[video], &options)).await.unwrap_err();
    let ProviderError::Rejected { code, message } = err else { panic!("{err:?}") };
    assert_eq!(code, "invalid_title");
    assert!(message.contains("invalid video title"), "{message}");
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
    assert!(check(&format!("{}\n{}", "t".repeat(100), "é".repeat(2400)), Value::Null).is_empty());
    assert!(check("", json!({"title": "Set", "privacy_status": "public", "made_for_kids": true})).is_empty());
    assert_eq!(check("", Value::Null), ["/options/title"]);
    assert_eq!(check(&"t".repeat(101), Value::Null), ["/text"]);
    assert_eq!(check("x", json!({"title": "a > b"})), ["/options/title"]);
    assert_eq!(check("Title\n1 < 2", Value::Null), ["/text"]);
    assert_eq!(check(&format!("Title\n{}", "é".repeat(2500)), Value::Null), ["/text"], "5,000 bytes");
    assert_eq!(check("x", json!({"privacy_status": "friends"})), ["/options"]);
    let rules = env.provider.media_rules(&channel);
    assert!(rules.media_required);
    assert_eq!((rules.max_images, rules.max_videos), (0, 1));
    let limit = env.provider.text_limit(&channel).unwrap();
    assert_eq!((limit.max, limit.counted_in), (5000, "bytes"));
}

fn deletion<'a>(channel: &'a Channel, video_id: &'a str) -> DeleteRequest<'a> {
    DeleteRequest { channel, target_id: TargetId::generate(), provider_post_id: video_id, url: None }
}

fn scopes(channel: &Channel) -> Vec<&str> {
    channel.config["granted_scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

#[tokio::test]
async fn with_the_flag_a_video_is_deleted_and_deleting_again_counts_as_deleted() {
    let env = env_with(true).await;
    let channel = env.connect().await;
    let consents = env.fake.consents();
    assert!(consents[0].split(' ').any(|s| s == youtube_fake::FORCE_SSL_SCOPE), "{consents:?}");
    assert_eq!(
        scopes(&channel),
        [youtube_fake::UPLOAD_SCOPE, youtube_fake::READONLY_SCOPE, youtube_fake::FORCE_SSL_SCOPE],
        "what Google granted is kept with the channel"
    );
    assert!(env.provider.validate_config(&channel.config).is_empty());
    assert!(env.provider.can_delete(&channel));

    let video = env.video(&pattern(10));
    let published =
        env.provider.publish(&request(&channel, "Gone soon", &[video], &Value::Null)).await.unwrap();
    let id = published.provider_post_id;
    assert_eq!(env.fake.videos(), [id.as_str()]);
    env.provider.delete(&deletion(&channel, &id)).await.unwrap();
    assert!(env.fake.videos().is_empty(), "the video is gone from YouTube");
    assert_eq!(env.fake.deleted(), [id.as_str()]);

    // Already gone (404 videoNotFound): deleted, as asked.
    env.provider.delete(&deletion(&channel, &id)).await.unwrap();
    assert_eq!(env.deletes(), [204, 404]);

    // Google's other refusals keep their reason.
    env.fake.fail_next(403, "forbidden", "The video that you are trying to delete cannot be deleted.");
    let err = env.provider.delete(&deletion(&channel, &id)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "forbidden"), "{err:?}");
    // An id that is not YouTube's never reaches a URL.
    let err = env.provider.delete(&deletion(&channel, "x&id=other")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { ref code, .. } if code == "invalid_provider_post_id"));
    assert_eq!(env.deletes().len(), 3);
}

#[tokio::test]
async fn without_the_flag_connect_does_not_ask_for_force_ssl_and_nothing_is_deleted() {
    let env = env().await;
    let channel = env.connect().await;
    let consents = env.fake.consents();
    assert_eq!(consents, [format!("{} {}", youtube_fake::UPLOAD_SCOPE, youtube_fake::READONLY_SCOPE)]);
    assert_eq!(scopes(&channel), [youtube_fake::UPLOAD_SCOPE, youtube_fake::READONLY_SCOPE]);
    assert!(!env.provider.can_delete(&channel));
    let video = env.video(&pattern(10));
    let id = env
        .provider
        .publish(&request(&channel, "Stays", &[video], &Value::Null))
        .await
        .unwrap()
        .provider_post_id;
    let err = env.provider.delete(&deletion(&channel, &id)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { ref code, .. } if code == "delete_not_granted"),
        "{err:?}"
    );

    // Turning the flag on later does not widen channels connected without it; nor channels
    // connected before Crier kept the granted scopes (`{}`): both must reconnect.
    let opted_in = env.provider_with(true);
    assert!(!opted_in.can_delete(&channel));
    let older = Channel { config: json!({}), ..channel.clone() };
    assert!(!opted_in.can_delete(&older));
    assert!(opted_in.validate_config(&older.config).is_empty());
    assert!(env.deletes().is_empty(), "refused before calling YouTube");

    // YouTube itself refuses a token without force-ssl, as Google answers it.
    let tokens = env.tokens(&channel);
    let answer = reqwest::Client::new()
        .delete(format!("{}/youtube/v3/videos?id={id}", env.fake.base_url()))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    assert!(answer.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["errors"][0]["reason"], "insufficientPermissions");
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    // A channel whose config claims more than its token has: Google's refusal, not a refresh.
    let claimed = json!({"granted_scopes": [youtube_fake::UPLOAD_SCOPE, youtube_fake::FORCE_SSL_SCOPE]});
    let claiming = Channel { config: claimed, ..channel.clone() };
    let mut stored = tokens.clone();
    stored.as_object_mut().unwrap().remove("scope");
    env.vault.0.lock().unwrap().insert(channel.id, serde_json::to_vec(&stored).unwrap());
    let exchanges = env.token_calls();
    let err = opted_in.delete(&deletion(&claiming, &id)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Rejected { ref code, .. } if code == "delete_not_granted"),
        "{err:?}"
    );
    assert_eq!(env.deletes(), [403, 403], "the direct call, then the provider's");
    assert_eq!(env.token_calls(), exchanges);
    assert_eq!(env.fake.videos(), [id]);
}

#[tokio::test]
async fn an_expired_token_during_delete_is_refreshed_once() {
    let env = env_with(true).await;
    let channel = env.connect().await;
    let video = env.video(&pattern(10));
    let id = env
        .provider
        .publish(&request(&channel, "Old", &[video], &Value::Null))
        .await
        .unwrap()
        .provider_post_id;
    env.fake.expire_access_tokens();
    let exchanges = env.token_calls();
    // What the worker does: the call, a refresh on AuthExpired, the call again.
    let err = env.provider.delete(&deletion(&channel, &id)).await.unwrap_err();
    assert!(matches!(err, ProviderError::AuthExpired { .. }), "{err:?}");
    env.provider.refresh(&channel).await.unwrap();
    env.provider.delete(&deletion(&channel, &id)).await.unwrap();
    assert_eq!(env.token_calls(), exchanges + 1, "one refresh");
    assert_eq!(env.deletes(), [401, 204]);
    assert!(env.fake.videos().is_empty());
    let scope = env.tokens(&channel)["scope"].as_str().unwrap().to_owned();
    assert!(scope.contains(youtube_fake::FORCE_SSL_SCOPE), "the refresh's scope is kept: {scope}");
}
