use async_trait::async_trait;
use crier_core::{
    ApiKey, ApiKeyId, ApiKeyStore, KeyHash, NewApiKey, NewAuditEvent, StoreError, StoreResult, Timestamp,
    WorkspaceId,
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::PgStore;
use crate::binds::{append_audit, insert_key};
use crate::error::map_sqlx;
use crate::rows::{ApiKeyRow, db_time, sql};

const INSERT_LOOKUP: &str = "INSERT INTO api_key_lookup (key_hash, workspace_id, key_id) VALUES ($1, $2, $3)";

/// Stores the key and its global hash index entry (see the 0002 migration).
async fn insert_with_lookup(conn: &mut PgConnection, key: &NewApiKey) -> StoreResult<ApiKeyRow> {
    sqlx::query(INSERT_LOOKUP)
        .bind(key.hash.as_bytes().as_slice())
        .bind(key.workspace_id.as_uuid())
        .bind(key.id.as_uuid())
        .execute(&mut *conn)
        .await
        .map_err(map_sqlx)?;
    insert_key!(key).fetch_one(&mut *conn).await.map_err(map_sqlx)
}

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn insert_api_key(&self, key: &NewApiKey, audit: &NewAuditEvent) -> StoreResult<ApiKey> {
        let mut tx = self.tenant_tx(key.workspace_id).await?;
        let row = insert_with_lookup(&mut tx, key).await?;
        append_audit!(tx, key.workspace_id, audit, lock = super::AUDIT_LOCK);
        tx.commit().await.map_err(map_sqlx)?;
        row.into_domain()
    }

    async fn find_api_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<ApiKey>> {
        // One round trip: the function reads the global index, then the key row inside its own
        // workspace (row-level security in force), re-checked against the index's id.
        let row: Option<ApiKeyRow> = sqlx::query_as(sql::FIND_KEY_BY_HASH_PG)
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        row.map(ApiKeyRow::into_domain).transpose()
    }

    async fn get_api_key(&self, workspace: WorkspaceId, id: ApiKeyId) -> StoreResult<ApiKey> {
        let mut tx = self.tenant_tx(workspace).await?;
        let row: ApiKeyRow = sqlx::query_as(sql::GET_KEY)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        row.into_domain()
    }

    async fn list_api_keys(&self, workspace: WorkspaceId) -> StoreResult<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = self.tenant_rows(workspace, sql::LIST_KEYS).await?;
        rows.into_iter().map(ApiKeyRow::into_domain).collect()
    }

    async fn revoke_api_key(
        &self,
        workspace: WorkspaceId,
        id: ApiKeyId,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<ApiKey> {
        let mut tx = self.tenant_tx(workspace).await?;
        let row: ApiKeyRow = sqlx::query_as(sql::REVOKE_KEY)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(db_time(at))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        append_audit!(tx, workspace, audit, lock = super::AUDIT_LOCK);
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
        let mut tx = self.tenant_tx(workspace).await?;
        // Lock the old key's row first so two concurrent rotations cannot both succeed.
        let current: Option<(Uuid,)> =
            sqlx::query_as("SELECT id FROM api_keys WHERE workspace_id = $1 AND id = $2 FOR UPDATE")
                .bind(workspace.as_uuid())
                .bind(old.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        if current.is_none() {
            return Err(StoreError::NotFound);
        }
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
            return Err(StoreError::Conflict(
                "the key was already rotated, is revoked or has expired".into(),
            ));
        }
        let row = insert_with_lookup(&mut tx, replacement).await?;
        append_audit!(tx, workspace, audit, lock = super::AUDIT_LOCK);
        tx.commit().await.map_err(map_sqlx)?;
        row.into_domain()
    }

    async fn touch_api_key(&self, workspace: WorkspaceId, id: ApiKeyId, at: Timestamp) -> StoreResult<()> {
        let mut tx = self.tenant_tx(workspace).await?;
        sqlx::query(sql::TOUCH_KEY)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(db_time(at))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(())
    }
}
