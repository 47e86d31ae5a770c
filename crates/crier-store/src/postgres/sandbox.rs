use async_trait::async_trait;
use crier_core::{ChannelId, SandboxDelivery, SandboxStore, StoreResult, TargetId, Timestamp, WorkspaceId};

use super::PgStore;
use crate::error::map_sqlx;
use crate::rows_publishing::{SandboxRow, one_workspace, sql};

const RECORD_DELIVERIES: &str = "SELECT crier_record_sandbox_deliveries($1, $2, $3, $4, $5, $6, $7, $8)";

#[async_trait]
impl SandboxStore for PgStore {
    async fn record_sandbox_deliveries(&self, deliveries: &[SandboxDelivery]) -> StoreResult<()> {
        let Some(workspace) = one_workspace(deliveries)? else { return Ok(()) };
        // Asynchronous commit is safe for this record, and spares a WAL flush per publish: the
        // worker's synchronous commit that finishes the attempt comes later and flushes this
        // record with it; if the database crashed before that, the attempt is still open and
        // reconciliation finds the record missing and publishes again, still exactly once.
        // One round trip: migration 0019's function sets the workspace and the asynchronous
        // commit for its own statement, then inserts.
        let column = |f: fn(&SandboxDelivery) -> uuid::Uuid| deliveries.iter().map(f).collect::<Vec<_>>();
        sqlx::query(RECORD_DELIVERIES)
            .bind(workspace.as_uuid())
            .bind(column(|d| d.channel_id.as_uuid()))
            .bind(column(|d| d.id))
            .bind(column(|d| d.target_id.as_uuid()))
            .bind(column(|d| d.attempt_id.as_uuid()))
            .bind(deliveries.iter().map(|d| d.text.as_str()).collect::<Vec<_>>())
            .bind(deliveries.iter().map(|d| crate::rows_media::media_ids_json(&d.media)).collect::<Vec<_>>())
            .bind(deliveries.iter().map(|d| d.delivered_at).collect::<Vec<_>>())
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
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
