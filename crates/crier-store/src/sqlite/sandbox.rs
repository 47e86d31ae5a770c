use async_trait::async_trait;
use crier_core::{ChannelId, SandboxDelivery, SandboxStore, StoreResult, TargetId, Timestamp, WorkspaceId};

use super::SqliteStore;
use crate::binds_publishing::insert_sandbox_delivery;
use crate::error::map_sqlx;
use crate::rows_publishing::{SandboxRow, one_workspace, sql};

#[async_trait]
impl SandboxStore for SqliteStore {
    async fn record_sandbox_deliveries(&self, deliveries: &[SandboxDelivery]) -> StoreResult<()> {
        if one_workspace(deliveries)?.is_none() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        for delivery in deliveries {
            insert_sandbox_delivery!(delivery).execute(&mut *tx).await.map_err(map_sqlx)?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn delete_sandbox_delivery(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        id: uuid::Uuid,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::DELETE_SANDBOX_DELIVERY)
            .bind(workspace.as_uuid())
            .bind(channel.as_uuid())
            .bind(id)
            .bind(crate::rows::DbTime(at))
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn sandbox_deliveries(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        target: Option<TargetId>,
    ) -> StoreResult<Vec<SandboxDelivery>> {
        let rows: Vec<SandboxRow> = sqlx::query_as(sql::LIST_SANDBOX_DELIVERIES)
            .bind(workspace.as_uuid())
            .bind(channel.as_uuid())
            .bind(target.map(|t| t.as_uuid()))
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(SandboxRow::into_domain).collect()
    }
}
