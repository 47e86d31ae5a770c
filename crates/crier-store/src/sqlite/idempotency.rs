use async_trait::async_trait;
use crier_core::{
    IdempotencyBegin, IdempotencyStore, IdempotentResponse, StoreError, StoreResult, Timestamp, WorkspaceId,
};

use super::SqliteStore;
use crate::binds_publishing::begin_idempotent;
use crate::error::map_sqlx;
use crate::rows::db_time;
use crate::rows_publishing::sql;

const PURGE_KEYS: &str = "DELETE FROM idempotency_keys WHERE expires_at <= $1";

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn begin_idempotent(
        &self,
        workspace: WorkspaceId,
        key: &str,
        fingerprint: &[u8],
        now: Timestamp,
        lock_until: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<IdempotencyBegin> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let begun = begin_idempotent!(tx, workspace, key, fingerprint, now, lock_until, expires_at);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(begun)
    }

    async fn finish_idempotent(&self, response: &IdempotentResponse) -> StoreResult<()> {
        let done = sqlx::query(sql::FINISH_IDEMPOTENT)
            .bind(response.workspace_id.as_uuid())
            .bind(response.key.as_str())
            .bind(i32::from(response.status))
            .bind(response.body.as_slice())
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn abandon_idempotent(&self, workspace: WorkspaceId, key: &str) -> StoreResult<()> {
        sqlx::query(sql::ABANDON_KEY)
            .bind(workspace.as_uuid())
            .bind(key)
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn purge_idempotency_keys(&self, now: Timestamp) -> StoreResult<u64> {
        let purged =
            sqlx::query(PURGE_KEYS).bind(db_time(now)).execute(&self.writer).await.map_err(map_sqlx)?;
        Ok(purged.rows_affected())
    }
}
