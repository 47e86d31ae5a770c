use async_trait::async_trait;
use crier_core::{
    ApiKey, ApiKeyId, ApiKeyStore, KeyHash, NewApiKey, StoreError, StoreResult, Timestamp, WorkspaceId,
};

use super::SqliteStore;
use crate::error::map_sqlx;
use crate::rows::{ApiKeyRow, db_time, db_time_opt, sql};

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn insert_api_key(&self, key: &NewApiKey) -> StoreResult<ApiKey> {
        let row: ApiKeyRow = insert_key(key).fetch_one(&self.writer).await.map_err(map_sqlx)?;
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
    ) -> StoreResult<ApiKey> {
        let row: ApiKeyRow = sqlx::query_as(sql::REVOKE_KEY)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(db_time(at))
            .fetch_one(&self.writer)
            .await
            .map_err(map_sqlx)?;
        row.into_domain()
    }

    async fn rotate_api_key(
        &self,
        workspace: WorkspaceId,
        old: ApiKeyId,
        replacement: &NewApiKey,
        old_expires_at: Timestamp,
    ) -> StoreResult<ApiKey> {
        if replacement.workspace_id != workspace {
            return Err(StoreError::NotFound);
        }
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
            // Tell "no such key" from "not current" without leaking other workspaces' keys.
            let exists: Option<ApiKeyRow> = sqlx::query_as(sql::GET_KEY)
                .bind(workspace.as_uuid())
                .bind(old.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            return Err(match exists {
                None => StoreError::NotFound,
                Some(_) => StoreError::Conflict("the key was already rotated or revoked".into()),
            });
        }
        let row: ApiKeyRow = insert_key(replacement)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
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

fn insert_key(
    key: &NewApiKey,
) -> sqlx::query::QueryAs<'_, sqlx::Sqlite, ApiKeyRow, <sqlx::Sqlite as sqlx::Database>::Arguments<'_>> {
    sqlx::query_as(sql::INSERT_KEY)
        .bind(key.workspace_id.as_uuid())
        .bind(key.id.as_uuid())
        .bind(&key.name)
        .bind(key.mode.as_str())
        .bind(key.scopes.to_string())
        .bind(key.hash.as_bytes().as_slice())
        .bind(&key.redacted)
        .bind(db_time(key.created_at))
        .bind(db_time_opt(key.expires_at))
}
