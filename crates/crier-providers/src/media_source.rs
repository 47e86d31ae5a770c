//! How a provider gets a post's media bytes at publish time (decrypted from the media store by
//! whoever wires the worker; providers know nothing of where they live).

use async_trait::async_trait;
use crier_core::{Media, MediaId, WorkspaceId};

use crate::ProviderError;

/// One ready media file, whole, with its facts (type, size, dimensions) and alt text.
#[derive(Clone)]
pub struct MediaFile {
    pub media: Media,
    pub bytes: Vec<u8>,
}

impl MediaFile {
    /// The sniffed content type (`image/jpeg`…).
    pub fn mime(&self) -> &str {
        self.media.facts.as_ref().map_or("application/octet-stream", |f| f.mime.as_str())
    }
}

#[async_trait]
pub trait MediaSource: Send + Sync {
    async fn load(&self, workspace: WorkspaceId, id: MediaId) -> Result<MediaFile, ProviderError>;
}
