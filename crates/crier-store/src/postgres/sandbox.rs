use async_trait::async_trait;
use crier_core::{ChannelId, SandboxDelivery, SandboxStore, StoreResult, TargetId, WorkspaceId};

use super::PgStore;
use crate::binds_publishing::insert_sandbox_delivery;
use crate::error::map_sqlx;
use crate::rows_publishing::{SandboxRow, sql};

#[async_trait]
impl SandboxStore for PgStore {
    async fn record_sandbox_delivery(&self, delivery: &SandboxDelivery) -> StoreResult<()> {
        let mut tx = self.tenant_tx(delivery.workspace_id).await?;
        insert_sandbox_delivery!(delivery).execute(&mut *tx).await.map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)
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
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
