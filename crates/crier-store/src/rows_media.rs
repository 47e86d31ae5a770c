//! Row shape and portable SQL of media, shared by both backends like `rows`.

use crier_core::{
    Media, MediaFacts, MediaId, MediaKind, MediaStatus, SecretId, StoreError, StoreResult, WorkspaceId,
};
use uuid::Uuid;

use crate::error::corrupt;
use crate::rows::DbTime;

#[derive(sqlx::FromRow)]
pub(crate) struct MediaRow {
    workspace_id: Uuid,
    id: Uuid,
    status: String,
    file_name: Option<String>,
    declared_type: Option<String>,
    alt_text: Option<String>,
    source_url: Option<String>,
    expected_size: i64,
    received: i64,
    parts: i32,
    storage_prefix: String,
    content_key_id: Option<Uuid>,
    mime: Option<String>,
    kind: Option<String>,
    width: Option<i32>,
    height: Option<i32>,
    duration_ms: Option<i64>,
    video_codec: Option<String>,
    audio_codec: Option<String>,
    sha256: Option<String>,
    created_at: DbTime,
    updated_at: DbTime,
    expires_at: Option<DbTime>,
}

fn unsigned<T: TryFrom<i64>>(value: i64, column: &str) -> StoreResult<T> {
    T::try_from(value).map_err(|_| corrupt(format!("media.{column} is out of range")))
}

impl MediaRow {
    pub(crate) fn into_domain(self) -> StoreResult<Media> {
        let status = MediaStatus::from_db(&self.status)
            .ok_or_else(|| corrupt("media.status holds an unknown value"))?;
        let facts = match (status, self.mime, self.kind, self.sha256) {
            (MediaStatus::Ready, Some(mime), Some(kind), Some(sha256)) => Some(MediaFacts {
                mime,
                kind: MediaKind::from_db(&kind)
                    .ok_or_else(|| corrupt("media.kind holds an unknown value"))?,
                width: unsigned(i64::from(self.width.unwrap_or(0)), "width")?,
                height: unsigned(i64::from(self.height.unwrap_or(0)), "height")?,
                duration_ms: self.duration_ms.map(|d| unsigned(d, "duration_ms")).transpose()?,
                video_codec: self.video_codec,
                audio_codec: self.audio_codec,
                size: unsigned(self.received, "received")?,
                sha256,
            }),
            (MediaStatus::Ready, ..) => return Err(corrupt("a ready media row lacks its facts")),
            (MediaStatus::Uploading, ..) => None,
        };
        Ok(Media {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            id: MediaId::from_uuid(self.id),
            status,
            file_name: self.file_name,
            declared_type: self.declared_type,
            alt_text: self.alt_text,
            source_url: self.source_url,
            expected_size: unsigned(self.expected_size, "expected_size")?,
            received: unsigned(self.received, "received")?,
            parts: unsigned(i64::from(self.parts), "parts")?,
            storage_prefix: self.storage_prefix,
            content_key: self.content_key_id.map(SecretId::from_uuid),
            facts,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            expires_at: self.expires_at.map(|t| t.0),
        })
    }
}

/// Sizes and counts as the database keeps them (signed 64-bit).
pub(crate) fn db_size(value: u64) -> StoreResult<i64> {
    i64::try_from(value).map_err(|_| StoreError::Conflict("the size is too large".into()))
}

/// The media ids a post carries, as stored in `posts.media`.
pub(crate) fn media_ids_json(ids: &[MediaId]) -> serde_json::Value {
    serde_json::Value::Array(ids.iter().map(|id| serde_json::Value::String(id.to_string())).collect())
}

pub(crate) fn media_ids_from_json(value: &serde_json::Value) -> StoreResult<Vec<MediaId>> {
    let ids = value.as_array().ok_or_else(|| corrupt("posts.media is not an array"))?;
    ids.iter()
        .map(|id| {
            id.as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| corrupt("posts.media holds something that is not a media id"))
        })
        .collect()
}

pub(crate) mod sql {
    macro_rules! media_columns {
        () => {
            "workspace_id, id, status, file_name, declared_type, alt_text, source_url, expected_size, \
             received, parts, storage_prefix, content_key_id, mime, kind, width, height, duration_ms, \
             video_codec, audio_codec, sha256, created_at, updated_at, expires_at"
        };
    }

    pub const INSERT_MEDIA: &str = concat!(
        "INSERT INTO media (",
        media_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
         $20, $21, $22, $23)"
    );
    pub const INSERT_EXPIRY: &str =
        "INSERT INTO media_upload_expiry (workspace_id, media_id, expires_at) VALUES ($1, $2, $3)";
    pub const GET_MEDIA: &str =
        concat!("SELECT ", media_columns!(), " FROM media WHERE workspace_id = $1 AND id = $2");
    /// Newest first; $2 = before (optional), $3 = limit.
    pub const LIST_MEDIA: &str = concat!(
        "SELECT ",
        media_columns!(),
        " FROM media WHERE workspace_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    );
    /// $3 = from, $4 = to, $5 = now.
    pub const APPEND_PART: &str = concat!(
        "UPDATE media SET received = $4, parts = parts + 1, updated_at = $5 WHERE workspace_id = $1 \
         AND id = $2 AND status = 'uploading' AND received = $3 AND $4 > $3 AND $4 <= expected_size RETURNING ",
        media_columns!()
    );
    pub const COMPLETE_MEDIA: &str = concat!(
        "UPDATE media SET status = 'ready', mime = $3, kind = $4, width = $5, height = $6, duration_ms = $7, \
         video_codec = $8, audio_codec = $9, sha256 = $10, updated_at = $11, expires_at = NULL \
         WHERE workspace_id = $1 AND id = $2 AND status = 'uploading' AND received = expected_size RETURNING ",
        media_columns!()
    );
    pub const DELETE_EXPIRY: &str =
        "DELETE FROM media_upload_expiry WHERE workspace_id = $1 AND media_id = $2";
    pub const DELETE_MEDIA: &str = "DELETE FROM media WHERE workspace_id = $1 AND id = $2";
    pub const DELETE_SECRET: &str = "DELETE FROM secrets WHERE workspace_id = $1 AND id = $2";
    /// Global: the sweeper's look across workspaces ($1 = now, $2 = limit).
    pub const EXPIRED_UPLOADS: &str = "SELECT workspace_id, media_id FROM media_upload_expiry \
         WHERE expires_at < $1 ORDER BY expires_at LIMIT $2";

    macro_rules! unfinished_post_using {
        ($media_test:literal) => {
            concat!(
                "SELECT count(*) FROM posts p WHERE p.workspace_id = $1 AND ",
                $media_test,
                " AND EXISTS (SELECT 1 FROM post_targets t WHERE t.workspace_id = p.workspace_id \
                 AND t.post_id = p.id AND t.status NOT IN ('published', 'failed', 'cancelled', 'unknown'))"
            )
        };
    }
    /// Posts with an unfinished target that carry media $2 (its `med_…` text form).
    pub const SQLITE_MEDIA_IN_USE: &str =
        unfinished_post_using!("EXISTS (SELECT 1 FROM json_each(p.media) m WHERE m.value = $2)");
    pub const PG_MEDIA_IN_USE: &str = unfinished_post_using!("p.media @> jsonb_build_array($2::text)");

    /// A post's media must exist and be ready when the post is stored. PostgreSQL takes a share
    /// lock so that a concurrent delete waits for the post (and then sees it in use).
    pub const SQLITE_MEDIA_STATUS: &str = "SELECT status FROM media WHERE workspace_id = $1 AND id = $2";
    pub const PG_MEDIA_STATUS: &str =
        "SELECT status FROM media WHERE workspace_id = $1 AND id = $2 FOR SHARE";
    pub const PG_LOCK_MEDIA: &str = "SELECT id FROM media WHERE workspace_id = $1 AND id = $2 FOR UPDATE";
}
