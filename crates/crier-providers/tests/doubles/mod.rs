//! In-memory stand-ins for what the worker hands providers (a vault holding each channel's
//! credentials, a media store holding ready files) and the small builders every provider test uses.

#![allow(dead_code, reason = "each test binary uses a different part of this module")]
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crier_core::{
    AttemptId, Channel, ChannelId, Media, MediaFacts, MediaId, MediaKind, MediaStatus, SystemClock, TargetId,
    WorkspaceId,
};
use crier_net::{OutboundClient, OutboundPolicy, SystemResolver};
use crier_providers::{
    CredentialVault, Credentials, MediaFile, MediaLink, MediaSource, Platform, ProviderError, PublishRequest,
    TargetIssue,
};
use crier_testkit::file_server::FileServer;

/// Credentials by channel, as the vault would seal them.
#[derive(Default)]
pub struct MemoryVault(pub Mutex<HashMap<ChannelId, Vec<u8>>>);

#[async_trait]
impl CredentialVault for MemoryVault {
    async fn open(&self, channel: &Channel) -> Result<Credentials, ProviderError> {
        let stored = self.0.lock().unwrap().get(&channel.id).cloned();
        stored
            .map(Credentials::from_bytes)
            .ok_or_else(|| ProviderError::AuthExpired { message: "no credentials".into() })
    }

    async fn replace(&self, channel: &Channel, credentials: &Credentials) -> Result<(), ProviderError> {
        self.0.lock().unwrap().insert(channel.id, credentials.expose().to_vec());
        Ok(())
    }
}

/// Ready media, in memory.
#[derive(Default)]
pub struct MemoryMedia(pub Mutex<HashMap<MediaId, MediaFile>>);

#[async_trait]
impl MediaSource for MemoryMedia {
    async fn load(&self, _workspace: WorkspaceId, id: MediaId) -> Result<MediaFile, ProviderError> {
        self.0.lock().unwrap().get(&id).cloned().ok_or_else(|| ProviderError::Rejected {
            code: "media_not_found".into(),
            message: id.to_string(),
        })
    }
}

/// Ready media in memory that also has public links (a `--public-url` Crier): each link is a
/// fresh address on a loopback [`FileServer`], as `/media-links/{token}` would be.
pub struct LinkedMedia {
    pub files: Arc<MemoryMedia>,
    pub server: FileServer,
}

impl LinkedMedia {
    pub async fn start(files: Arc<MemoryMedia>) -> Self {
        Self { files, server: FileServer::start().await }
    }
}

#[async_trait]
impl MediaSource for LinkedMedia {
    async fn load(&self, workspace: WorkspaceId, id: MediaId) -> Result<MediaFile, ProviderError> {
        self.files.load(workspace, id).await
    }

    fn links_media(&self) -> bool {
        true
    }

    async fn link(&self, workspace: WorkspaceId, id: MediaId) -> Result<MediaLink, ProviderError> {
        let file = self.files.load(workspace, id).await?;
        let url = self.server.publish(file.mime(), &file.bytes);
        Ok(MediaLink { url, expires_at: chrono::Utc::now() + chrono::Duration::hours(1) })
    }
}

/// A ready media as the media store describes one: 640×480 (a second long, for a video).
pub fn ready_media(
    workspace_id: WorkspaceId,
    id: MediaId,
    bytes: &[u8],
    mime: String,
    kind: MediaKind,
    file_name: Option<String>,
    alt_text: Option<String>,
) -> Media {
    let now = chrono::Utc::now();
    Media {
        workspace_id,
        id,
        status: MediaStatus::Ready,
        file_name,
        declared_type: Some(mime.clone()),
        alt_text,
        source_url: None,
        expected_size: bytes.len() as u64,
        received: bytes.len() as u64,
        parts: 1,
        storage_prefix: String::new(),
        content_key: None,
        facts: Some(MediaFacts {
            mime,
            kind,
            width: 640,
            height: 480,
            duration_ms: (kind == MediaKind::Video).then_some(1000),
            video_codec: None,
            audio_codec: None,
            size: bytes.len() as u64,
            sha256: String::new(),
        }),
        created_at: now,
        updated_at: now,
        expires_at: None,
    }
}

/// What the worker would hand a provider: the SSRF-safe client with the development switch on
/// (the fakes listen on loopback over http), these doubles, and the system clock.
pub fn loopback_platform(vault: Arc<MemoryVault>, media: Arc<MemoryMedia>) -> Platform {
    Platform {
        http: OutboundClient::new(
            OutboundPolicy { allow_insecure_loopback: true, ..OutboundPolicy::default() },
            Arc::new(SystemResolver),
        ),
        vault,
        media,
        clock: Arc::new(SystemClock),
    }
}

/// A publish of a fresh target on `channel`.
pub fn request<'a>(
    channel: &'a Channel,
    text: &'a str,
    media: &'a [MediaId],
    options: &'a serde_json::Value,
) -> PublishRequest<'a> {
    PublishRequest {
        channel,
        target_id: TargetId::generate(),
        attempt_id: AttemptId::generate(),
        text,
        media,
        options,
    }
}

pub fn pointers(issues: &[TargetIssue]) -> Vec<&str> {
    issues.iter().map(|i| i.pointer.as_str()).collect()
}

/// Where the tests' connect flows come back to.
pub const CALLBACK: &str = "https://crier.example/v1/channels/connect/callback";

/// Plays the user on a platform's consent page: it must answer 302 to [`CALLBACK`] with `code`
/// and `state`, which are returned.
pub async fn consent(authorize_url: &str) -> (String, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = client.get(authorize_url).send().await.unwrap();
    assert_eq!(answer.status(), 302, "{:?}", answer.text().await);
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(CALLBACK), "{location}");
    let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
    (query["code"].clone(), query["state"].clone())
}
