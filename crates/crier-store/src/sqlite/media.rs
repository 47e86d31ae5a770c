use async_trait::async_trait;
use crier_core::{
    IdempotentResponse, Media, MediaFacts, MediaId, MediaQuery, MediaStore, NewAuditEvent, SealedRow,
    StoreResult, Timestamp, WorkspaceId,
};
use uuid::Uuid;

use super::SqliteStore;
use crate::binds::append_audit;
use crate::binds_media::{append_part, complete_media, delete_media_rows, insert_media_rows, load_media};
use crate::binds_publishing::store_response;
use crate::error::map_sqlx;
use crate::rows::DbTime;
use crate::rows_media::{MediaRow, sql};

#[async_trait]
impl MediaStore for SqliteStore {
    async fn insert_media(
        &self,
        media: &Media,
        content_key: Option<&SealedRow>,
        idempotency: Option<&IdempotentResponse>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        insert_media_rows!(tx, media, content_key);
        append_audit!(tx, media.workspace_id, audit);
        store_response!(tx, media.workspace_id, idempotency);
        tx.commit().await.map_err(map_sqlx)
    }

    async fn get_media(&self, workspace: WorkspaceId, id: MediaId) -> StoreResult<Media> {
        let mut tx = self.reader.begin().await.map_err(map_sqlx)?;
        let media = load_media!(tx, workspace, id);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(media)
    }

    async fn list_media(&self, workspace: WorkspaceId, query: &MediaQuery) -> StoreResult<Vec<Media>> {
        let mut tx = self.reader.begin().await.map_err(map_sqlx)?;
        let rows: Vec<MediaRow> = sqlx::query_as(sql::LIST_MEDIA)
            .bind(workspace.as_uuid())
            .bind(query.before.map(|id| id.as_uuid()))
            .bind(query.limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        rows.into_iter().map(MediaRow::into_domain).collect()
    }

    async fn media_by_ids(&self, workspace: WorkspaceId, ids: &[MediaId]) -> StoreResult<Vec<Media>> {
        let mut tx = self.reader.begin().await.map_err(map_sqlx)?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            match sqlx::query_as::<_, MediaRow>(sql::GET_MEDIA)
                .bind(workspace.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?
            {
                Some(row) => found.push(row.into_domain()?),
                None => continue,
            }
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(found)
    }

    async fn append_media_part(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
        from: u64,
        to: u64,
        at: Timestamp,
    ) -> StoreResult<Media> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let media = append_part!(tx, workspace, id, from, to, at);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(media)
    }

    async fn complete_media(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
        facts: &MediaFacts,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<Media> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let media = complete_media!(tx, workspace, id, facts, at);
        append_audit!(tx, workspace, audit);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(media)
    }

    async fn delete_media(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
        audit: &NewAuditEvent,
    ) -> StoreResult<Media> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        // The single writer serialises this against a create_post carrying the media.
        let media = delete_media_rows!(tx, workspace, id, sql::SQLITE_MEDIA_IN_USE);
        append_audit!(tx, workspace, audit);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(media)
    }

    async fn expired_uploads(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<(WorkspaceId, MediaId)>> {
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(sql::EXPIRED_UPLOADS)
            .bind(DbTime(now))
            .bind(limit)
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(|(ws, id)| (WorkspaceId::from_uuid(ws), MediaId::from_uuid(id))).collect())
    }
}
