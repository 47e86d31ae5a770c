//! In-memory stand-ins for what the worker hands providers: a vault holding each channel's
//! credentials, and a media store holding ready files.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use crier_core::{Channel, ChannelId, Media, MediaFacts, MediaId, MediaKind, MediaStatus, WorkspaceId};
use crier_providers::{CredentialVault, Credentials, MediaFile, MediaSource, ProviderError};

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
