//! Media: images and videos stored for posts. A media row is created either complete (a direct
//! upload, a fetch by URL) or `uploading` (a resumable upload that receives its bytes in parts and
//! becomes `ready` once all of them are there and they prove to be a supported file).
//!
//! The bytes live in object storage under `storage_prefix`, as `parts` objects read in order.
//! When the vault is configured each media has its own random content key, sealed under the
//! workspace's data key (`content_key`); deleting the media deletes that key, so the bytes are
//! unreadable even if removing the objects fails.

use async_trait::async_trait;
use serde::Serialize;

use crate::audit::NewAuditEvent;
use crate::queue::IdempotentResponse;
use crate::vault::SealedRow;
use crate::{MediaId, SecretId, StoreResult, Timestamp, WorkspaceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
}

impl MediaKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "image" => Some(MediaKind::Image),
            "video" => Some(MediaKind::Video),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaStatus {
    /// A resumable upload still receiving parts.
    Uploading,
    /// Complete and checked: usable in posts.
    Ready,
}

impl MediaStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaStatus::Uploading => "uploading",
            MediaStatus::Ready => "ready",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "uploading" => Some(MediaStatus::Uploading),
            "ready" => Some(MediaStatus::Ready),
            _ => None,
        }
    }
}

/// What the bytes proved to be (read from the file, never taken from its name or declared type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFacts {
    pub mime: String,
    pub kind: MediaKind,
    pub width: u32,
    pub height: u32,
    pub duration_ms: Option<u64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub workspace_id: WorkspaceId,
    pub id: MediaId,
    pub status: MediaStatus,
    /// As the uploader named it; informational only.
    pub file_name: Option<String>,
    /// The content type the uploader declared; informational, checked against the bytes.
    pub declared_type: Option<String>,
    /// Description for people who cannot see the image (platforms that take alt text get it).
    pub alt_text: Option<String>,
    /// Where the bytes were fetched from, for media created from a URL.
    pub source_url: Option<String>,
    /// The size announced for a resumable upload, else the stored size.
    pub expected_size: u64,
    /// Bytes stored so far.
    pub received: u64,
    /// Stored objects under `storage_prefix`, read in order.
    pub parts: u32,
    pub storage_prefix: String,
    /// The sealed per-media content key; `None` when stored without the vault.
    pub content_key: Option<SecretId>,
    /// `Some` once ready.
    pub facts: Option<MediaFacts>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// An upload not completed by then is dropped with its parts.
    pub expires_at: Option<Timestamp>,
}

/// A page of `list_media`, newest first.
#[derive(Debug, Clone, Default)]
pub struct MediaQuery {
    pub before: Option<MediaId>,
    pub limit: i64,
}

#[async_trait]
pub trait MediaStore {
    /// Stores the media row with its sealed content key (and the idempotency key's response) in one
    /// transaction, so neither exists without the other.
    async fn insert_media(
        &self,
        media: &Media,
        content_key: Option<&SealedRow>,
        idempotency: Option<&IdempotentResponse>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;

    async fn get_media(&self, workspace: WorkspaceId, id: MediaId) -> StoreResult<Media>;

    async fn list_media(&self, workspace: WorkspaceId, query: &MediaQuery) -> StoreResult<Vec<Media>>;

    /// The media among `ids` that exist in the workspace (missing ones are simply absent).
    async fn media_by_ids(&self, workspace: WorkspaceId, ids: &[MediaId]) -> StoreResult<Vec<Media>>;

    /// Records one more stored part of an upload, `from` → `to` bytes. `Conflict` unless the media
    /// is still uploading and has received exactly `from` bytes (two writers cannot both append).
    async fn append_media_part(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
        from: u64,
        to: u64,
        at: Timestamp,
    ) -> StoreResult<Media>;

    /// Marks a fully received upload ready with what its bytes are. `Conflict` unless uploading
    /// with every announced byte received.
    async fn complete_media(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
        facts: &MediaFacts,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<Media>;

    /// Deletes the media and its sealed content key, returning what was deleted (for the caller to
    /// remove the objects). `Conflict` while a post with an unfinished target uses it.
    async fn delete_media(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
        audit: &NewAuditEvent,
    ) -> StoreResult<Media>;

    /// Uploads in any workspace whose `expires_at` is before `now` (at most `limit`), for the
    /// sweeper to delete.
    async fn expired_uploads(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<(WorkspaceId, MediaId)>>;
}
