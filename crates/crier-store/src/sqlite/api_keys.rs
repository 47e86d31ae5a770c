use async_trait::async_trait;
use crier_core::{
    ApiKey, ApiKeyId, ApiKeyStore, KeyHash, NewApiKey, NewAuditEvent, StoreError, StoreResult, Timestamp,
    WorkspaceId,
};

use super::SqliteStore;
use crate::binds::{append_audit, insert_key};
use crate::error::map_sqlx;
use crate::rows::{ApiKeyRow, db_time, sql};

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn insert_api_key(&self, key: &NewApiKey, audit: &NewAuditEvent) -> StoreResult<ApiKey> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let row = insert_key!(key).fetch_one(&mut *tx).await.map_err(map_sqlx)?;
        append_audit!(tx, key.workspace_id, audit);
        tx.commit().await.map_err(map_sqlx)?;
        row.into_domain()
    }

    async fn find_api_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(sql::FIND_KEY_BY_HASH)
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.reader)
            .await
            .map_err(map_sqlx)?;
        row.map(ApiKeyRow::into_domain).transpose()
    }

    async fn get_api_key(&self, workspace: WorkspaceId, id: ApiKeyId) -> StoreResult<ApiKey> {
        let row: ApiKeyRow = sqlx::query_as(sql::GET_KEY)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&self.reader)
            .await
            .map_err(map_sqlx)?;
        row.into_domain()
    }

    async fn list_api_keys(&self, workspace: WorkspaceId) -> StoreResult<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(sql::LIST_KEYS)
            .bind(workspace.as_uuid())
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(ApiKeyRow::into_domain).collect()
    }

    async fn revoke_api_key(
        &self,
        workspace: WorkspaceId,
        id: ApiKeyId,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<ApiKey> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let row: ApiKeyRow = sqlx::query_as(sql::REVOKE_KEY)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(db_time(at))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        append_audit!(tx, workspace, audit);
        tx.commit().await.map_err(map_sqlx)?;
        row.into_domain()
    }

    async fn rotate_api_key(
        &self,
        workspace: WorkspaceId,
        old: ApiKeyId,
        replacement: &NewApiKey,
        old_expires_at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<ApiKey> {
        if replacement.workspace_id != workspace {
            return Err(StoreError::NotFound);
        }
        // The single writer connection serialises this transaction against every other write.
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let marked = sqlx::query(sql::MARK_KEY_ROTATED)
            .bind(workspace.as_uuid())
            .bind(old.as_uuid())
            .bind(db_time(replacement.created_at))
            .bind(replacement.id.as_uuid())
            .bind(db_time(old_expires_at))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if marked.rows_affected() == 0 {
            let exists: Option<ApiKeyRow> = sqlx::query_as(sql::GET_KEY)
                .bind(workspace.as_uuid())
                .bind(old.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            return Err(match exists {
                None => StoreError::NotFound,
                Some(_) => {
                    StoreError::Conflict("the key was already rotated, is revoked or has expired".into())
                }
            });
        }
        let row = insert_key!(replacement).fetch_one(&mut *tx).await.map_err(map_sqlx)?;
        append_audit!(tx, workspace, audit);
        tx.commit().await.map_err(map_sqlx)?;
        row.into_domain()
    }

    async fn touch_api_key(&self, workspace: WorkspaceId, id: ApiKeyId, at: Timestamp) -> StoreResult<()> {
        sqlx::query(sql::TOUCH_KEY)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(db_time(at))
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }
}
