//! How a provider gets a post's media at publish time: its bytes (decrypted from the media store
//! by whoever wires the worker; providers know nothing of where they live), or, for platforms that
//! fetch media themselves from a public address (Instagram, Threads), a short-lived link to them
//! ([`MediaLink`]; crier-api's `media_links` mints and serves them when `--public-url` is set).

use async_trait::async_trait;
use crier_core::{Media, MediaId, Timestamp, WorkspaceId};

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

/// A public address one media's bytes can be fetched from until `expires_at`, by anyone holding
/// it (a platform's servers). It names that one media only.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaLink {
    pub url: String,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for MediaLink {
    /// The link is a bearer credential for the media: never logged whole.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLink").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// Why a platform that fetches media by URL cannot take media from this Crier.
pub const NEEDS_PUBLIC_URL: &str = "this platform fetches media from a public address, and this Crier has none: \
     start it with --public-url (an address the platform can reach) to post media here";

#[async_trait]
pub trait MediaSource: Send + Sync {
    async fn load(&self, workspace: WorkspaceId, id: MediaId) -> Result<MediaFile, ProviderError>;

    /// The media's facts (type, size, dimensions), without its bytes.
    async fn describe(&self, workspace: WorkspaceId, id: MediaId) -> Result<Media, ProviderError> {
        self.load(workspace, id).await.map(|file| file.media)
    }

    /// Whether [`MediaSource::link`] can give links (this Crier has a public URL).
    fn links_media(&self) -> bool {
        false
    }

    /// A fresh short-lived public link to a ready media. Without a public URL: `Rejected`
    /// (`media_needs_public_url`).
    async fn link(&self, _workspace: WorkspaceId, _id: MediaId) -> Result<MediaLink, ProviderError> {
        Err(ProviderError::Rejected {
            code: "media_needs_public_url".into(),
            message: NEEDS_PUBLIC_URL.into(),
        })
    }
}
