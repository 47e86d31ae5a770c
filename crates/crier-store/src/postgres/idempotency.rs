use async_trait::async_trait;
use crier_core::{
    IdempotencyBegin, IdempotencyStore, IdempotentResponse, StoreError, StoreResult, Timestamp, WorkspaceId,
};
use uuid::Uuid;

use super::PgStore;
use crate::binds_publishing::begin_idempotent;
use crate::error::map_sqlx;
use crate::rows::{DbTime, db_time};
use crate::rows_publishing::sql;

/// Migration 0016's `crier_claim_idempotency_key`: true when this call claimed a new key.
const CLAIM_NEW_KEY: &str = "SELECT crier_claim_idempotency_key($1, $2, $3, $4, $5, $6)";
const PURGE_KEYS: &str = "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND expires_at <= $2";

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn begin_idempotent(
        &self,
        workspace: WorkspaceId,
        key: &str,
        fingerprint: &[u8],
        now: Timestamp,
        lock_until: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<IdempotencyBegin> {
        // A key not seen before (the common case) is claimed in one round trip; any other goes
        // through the full compare-and-swap in a transaction.
        let claimed: bool = sqlx::query_scalar(CLAIM_NEW_KEY)
            .bind(workspace.as_uuid())
            .bind(key)
            .bind(fingerprint)
            .bind(DbTime(lock_until))
            .bind(DbTime(now))
            .bind(DbTime(expires_at))
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        if claimed {
            return Ok(IdempotencyBegin::Started);
        }
        let mut tx = self.tenant_tx(workspace).await?;
        let begun = begin_idempotent!(tx, workspace, key, fingerprint, now, lock_until, expires_at);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(begun)
    }

    async fn finish_idempotent(&self, response: &IdempotentResponse) -> StoreResult<()> {
        let mut tx = self.tenant_tx(response.workspace_id).await?;
        let done = sqlx::query(sql::FINISH_IDEMPOTENT)
            .bind(response.workspace_id.as_uuid())
            .bind(response.key.as_str())
            .bind(i32::from(response.status))
            .bind(response.body.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(map_sqlx)
    }

    async fn abandon_idempotent(&self, workspace: WorkspaceId, key: &str) -> StoreResult<()> {
        let mut tx = self.tenant_tx(workspace).await?;
        sqlx::query(sql::ABANDON_KEY)
            .bind(workspace.as_uuid())
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)
    }

    async fn purge_idempotency_keys(&self, now: Timestamp) -> StoreResult<u64> {
        // The keys are behind row-level security: purge one workspace at a time.
        let workspaces: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM workspaces ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        let mut purged = 0;
        for workspace in workspaces {
            let mut tx = self.tenant_tx(WorkspaceId::from_uuid(workspace)).await?;
            let done = sqlx::query(PURGE_KEYS)
                .bind(workspace)
                .bind(db_time(now))
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            tx.commit().await.map_err(map_sqlx)?;
            purged += done.rows_affected();
        }
        Ok(purged)
    }
}
