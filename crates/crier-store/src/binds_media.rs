//! Media transaction bodies shared by both backends, in the manner of `binds_publishing`: each
//! macro runs portable statements on `$conn` (a transaction) and `?`-returns errors from the
//! calling method. Backends pass what differs (the in-use and status statements).

/// Inserts the sealed content key (if any), the media row and, for an upload, its expiry.
macro_rules! insert_media_rows {
    ($conn:expr, $media:expr, $content_key:expr) => {{
        use $crate::rows_media::{db_size, sql};
        let media: &crier_core::Media = $media;
        let content_key: Option<&crier_core::SealedRow> = $content_key;
        if let Some(secret) = content_key {
            if secret.workspace_id != media.workspace_id || Some(secret.id) != media.content_key {
                return Err(crier_core::StoreError::Conflict(
                    "the content key does not belong to this media".into(),
                ));
            }
            $crate::binds_webhooks::insert_secret!(secret)
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
        }
        let facts = media.facts.as_ref();
        sqlx::query(sql::INSERT_MEDIA)
            .bind(media.workspace_id.as_uuid())
            .bind(media.id.as_uuid())
            .bind(media.status.as_str())
            .bind(media.file_name.as_deref())
            .bind(media.declared_type.as_deref())
            .bind(media.alt_text.as_deref())
            .bind(media.source_url.as_deref())
            .bind(db_size(media.expected_size)?)
            .bind(db_size(media.received)?)
            .bind(i32::try_from(media.parts).unwrap_or(i32::MAX))
            .bind(media.storage_prefix.as_str())
            .bind(media.content_key.map(|k| k.as_uuid()))
            .bind(facts.map(|f| f.mime.as_str()))
            .bind(facts.map(|f| f.kind.as_str()))
            .bind(facts.map(|f| i64::from(f.width)))
            .bind(facts.map(|f| i64::from(f.height)))
            .bind(facts.and_then(|f| f.duration_ms).map(db_size).transpose()?)
            .bind(facts.and_then(|f| f.video_codec.as_deref()))
            .bind(facts.and_then(|f| f.audio_codec.as_deref()))
            .bind(facts.map(|f| f.sha256.as_str()))
            .bind($crate::rows::DbTime(media.created_at))
            .bind($crate::rows::DbTime(media.updated_at))
            .bind(media.expires_at.map($crate::rows::DbTime))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        if let (crier_core::MediaStatus::Uploading, Some(expires_at)) = (media.status, media.expires_at) {
            sqlx::query(sql::INSERT_EXPIRY)
                .bind(media.workspace_id.as_uuid())
                .bind(media.id.as_uuid())
                .bind($crate::rows::DbTime(expires_at))
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
        }
    }};
}

/// One media row by id. Evaluates to `Media`.
macro_rules! load_media {
    ($conn:expr, $workspace:expr, $id:expr) => {{
        let workspace: crier_core::WorkspaceId = $workspace;
        let id: crier_core::MediaId = $id;
        let row: $crate::rows_media::MediaRow = sqlx::query_as($crate::rows_media::sql::GET_MEDIA)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        row.into_domain()?
    }};
}

/// `MediaStore::append_media_part`'s body. Evaluates to `Media`.
macro_rules! append_part {
    ($conn:expr, $workspace:expr, $id:expr, $from:expr, $to:expr, $at:expr) => {{
        use $crate::rows_media::{MediaRow, db_size, sql};
        let workspace: crier_core::WorkspaceId = $workspace;
        let id: crier_core::MediaId = $id;
        let row: Option<MediaRow> = sqlx::query_as(sql::APPEND_PART)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(db_size($from)?)
            .bind(db_size($to)?)
            .bind($crate::rows::DbTime($at))
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        match row {
            Some(row) => row.into_domain()?,
            None => {
                // Tell a missing media (404) from one in another state or at another offset (409).
                let current = $crate::binds_media::load_media!($conn, workspace, id);
                return Err(crier_core::StoreError::Conflict(format!(
                    "the upload is {} with {} of {} bytes received",
                    current.status.as_str(),
                    current.received,
                    current.expected_size
                )));
            }
        }
    }};
}

/// `MediaStore::complete_media`'s row changes. Evaluates to `Media`.
macro_rules! complete_media {
    ($conn:expr, $workspace:expr, $id:expr, $facts:expr, $at:expr) => {{
        use $crate::rows_media::{MediaRow, db_size, sql};
        let workspace: crier_core::WorkspaceId = $workspace;
        let id: crier_core::MediaId = $id;
        let facts: &crier_core::MediaFacts = $facts;
        let row: Option<MediaRow> = sqlx::query_as(sql::COMPLETE_MEDIA)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(facts.mime.as_str())
            .bind(facts.kind.as_str())
            .bind(i64::from(facts.width))
            .bind(i64::from(facts.height))
            .bind(facts.duration_ms.map(db_size).transpose()?)
            .bind(facts.video_codec.as_deref())
            .bind(facts.audio_codec.as_deref())
            .bind(facts.sha256.as_str())
            .bind($crate::rows::DbTime($at))
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let Some(row) = row else {
            let current = $crate::binds_media::load_media!($conn, workspace, id);
            return Err(crier_core::StoreError::Conflict(format!(
                "the upload is {} with {} of {} bytes received",
                current.status.as_str(),
                current.received,
                current.expected_size
            )));
        };
        sqlx::query(sql::DELETE_EXPIRY)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        row.into_domain()?
    }};
}

/// `MediaStore::delete_media`'s row changes, after the backend locked the row. Evaluates to the
/// deleted `Media`. `$in_use` counts unfinished posts carrying the media.
macro_rules! delete_media_rows {
    ($conn:expr, $workspace:expr, $id:expr, $in_use:expr) => {{
        use $crate::rows_media::sql;
        let workspace: crier_core::WorkspaceId = $workspace;
        let id: crier_core::MediaId = $id;
        let media = $crate::binds_media::load_media!($conn, workspace, id);
        let in_use: i64 = sqlx::query_scalar($in_use)
            .bind(workspace.as_uuid())
            .bind(id.to_string())
            .fetch_one(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        if in_use > 0 {
            return Err(crier_core::StoreError::Conflict(format!(
                "{in_use} post(s) not yet finished use this media; cancel them or wait for them first"
            )));
        }
        sqlx::query(sql::DELETE_MEDIA)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        if let Some(key) = media.content_key {
            sqlx::query(sql::DELETE_SECRET)
                .bind(workspace.as_uuid())
                .bind(key.as_uuid())
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
        }
        media
    }};
}

/// Refuses a post whose media is gone or not ready (`Conflict`), with `$status_sql` per backend.
macro_rules! check_post_media {
    ($conn:expr, $post:expr, $status_sql:expr) => {{
        let post: &crier_core::Post = $post;
        for id in &post.media {
            let status: Option<String> = sqlx::query_scalar($status_sql)
                .bind(post.workspace_id.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            if status.as_deref() != Some("ready") {
                return Err(crier_core::StoreError::Conflict(format!("media {id} is gone or not ready")));
            }
        }
    }};
}

pub(crate) use {
    append_part, check_post_media, complete_media, delete_media_rows, insert_media_rows, load_media,
};
