use async_trait::async_trait;
use crier_core::{
    Channel, ChannelId, ChannelStore, IdempotentResponse, NewAuditEvent, SealedRow, StoreError, StoreResult,
    WorkspaceId,
};

use super::PgStore;
use crate::binds::append_audit;
use crate::binds_publishing::{delete_channel_credentials, insert_channel, store_response};
use crate::binds_webhooks::{channel_disconnected, insert_secret};
use crate::error::map_sqlx;
use crate::rows_publishing::{ChannelRow, sql};
use crate::rows_webhooks::sql::FAN_OUT_POSTGRES;

/// Locks the channel so that no create_post can add a target to it until this transaction ends
/// (its foreign-key check waits on the lock, then finds the channel gone).
const LOCK_CHANNEL: &str = "SELECT provider FROM channels WHERE workspace_id = $1 AND id = $2 FOR UPDATE";

#[async_trait]
impl ChannelStore for PgStore {
    async fn create_channel(
        &self,
        channel: &Channel,
        credentials: Option<&SealedRow>,
        idempotency: Option<&IdempotentResponse>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.tenant_tx(channel.workspace_id).await?;
        if let Some(secret) = credentials {
            if secret.workspace_id != channel.workspace_id || Some(secret.id) != channel.credentials {
                return Err(StoreError::Conflict("the credentials do not belong to this channel".into()));
            }
            insert_secret!(secret).execute(&mut *tx).await.map_err(map_sqlx)?;
        }
        insert_channel!(channel).execute(&mut *tx).await.map_err(map_sqlx)?;
        append_audit!(tx, channel.workspace_id, audit, lock = super::AUDIT_LOCK);
        store_response!(tx, channel.workspace_id, idempotency);
        tx.commit().await.map_err(map_sqlx)
    }

    async fn get_channel(&self, workspace: WorkspaceId, id: ChannelId) -> StoreResult<Channel> {
        let mut tx = self.tenant_tx(workspace).await?;
        let row: ChannelRow = sqlx::query_as(&sql::get_channel())
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        row.into_domain()
    }

    async fn list_channels(&self, workspace: WorkspaceId) -> StoreResult<Vec<Channel>> {
        let rows: Vec<ChannelRow> = self.tenant_rows(workspace, &sql::list_channels()).await?;
        rows.into_iter().map(ChannelRow::into_domain).collect()
    }

    async fn channels_by_ids(&self, workspace: WorkspaceId, ids: &[ChannelId]) -> StoreResult<Vec<Channel>> {
        // One round trip (migration 0016's function sets the workspace for row-level security).
        let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let rows: Vec<ChannelRow> = sqlx::query_as(&sql::channels_by_ids_pg())
            .bind(workspace.as_uuid())
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(ChannelRow::into_domain).collect()
    }

    async fn delete_channel(
        &self,
        workspace: WorkspaceId,
        id: ChannelId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.tenant_tx(workspace).await?;
        let locked: Option<String> = sqlx::query_scalar(LOCK_CHANNEL)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let Some(provider) = locked else {
            return Err(StoreError::NotFound);
        };
        let credentials: Option<Option<uuid::Uuid>> = sqlx::query_scalar(sql::CHANNEL_CREDENTIALS)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let credentials = credentials.flatten();
        let unfinished: i64 = sqlx::query_scalar(sql::UNFINISHED_TARGETS_OF_CHANNEL)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if unfinished > 0 {
            return Err(StoreError::Conflict(format!(
                "the channel has {unfinished} unfinished post target(s)"
            )));
        }
        sqlx::query(sql::DELETE_CHANNEL)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        delete_channel_credentials!(tx, workspace, credentials);
        append_audit!(tx, workspace, audit, lock = super::AUDIT_LOCK);
        let queued = channel_disconnected!(
            tx,
            workspace,
            id,
            provider,
            audit.at,
            FAN_OUT_POSTGRES,
            Some(super::EVENTS_LOCK)
        );
        if queued > 0 {
            Self::notify_jobs(&mut tx).await?;
        }
        tx.commit().await.map_err(map_sqlx)
    }
}
