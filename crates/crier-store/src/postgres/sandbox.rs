use async_trait::async_trait;
use crier_core::{ChannelId, SandboxDelivery, SandboxStore, StoreResult, TargetId, Timestamp, WorkspaceId};

use super::PgStore;
use crate::binds_publishing::insert_sandbox_delivery;
use crate::error::map_sqlx;
use crate::rows_publishing::{SandboxRow, sql};

#[async_trait]
impl SandboxStore for PgStore {
    async fn record_sandbox_delivery(&self, delivery: &SandboxDelivery) -> StoreResult<()> {
        // Asynchronous commit is safe for this record, and spares a WAL flush per publish: the
        // worker's synchronous commit that finishes the attempt comes later and flushes this
        // record with it; if the database crashed before that, the attempt is still open and
        // reconciliation finds the record missing and publishes again, still exactly once.
        let mut tx = self.tenant_tx_with(delivery.workspace_id, "SET LOCAL synchronous_commit = off").await?;
        insert_sandbox_delivery!(delivery).execute(&mut *tx).await.map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)
    }

    async fn delete_sandbox_delivery(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        id: uuid::Uuid,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.tenant_tx(workspace).await?;
        let done = sqlx::query(sql::DELETE_SANDBOX_DELIVERY)
            .bind(workspace.as_uuid())
            .bind(channel.as_uuid())
            .bind(id)
            .bind(crate::rows::DbTime(at))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn sandbox_deliveries(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        target: Option<TargetId>,
    ) -> StoreResult<Vec<SandboxDelivery>> {
        let mut tx = self.tenant_tx(workspace).await?;
        let rows: Vec<SandboxRow> = sqlx::query_as(sql::LIST_SANDBOX_DELIVERIES)
            .bind(workspace.as_uuid())
            .bind(channel.as_uuid())
            .bind(target.map(|t| t.as_uuid()))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        rows.into_iter().map(SandboxRow::into_domain).collect()
    }
}
