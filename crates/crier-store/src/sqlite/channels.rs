use async_trait::async_trait;
use crier_core::{
    Channel, ChannelId, ChannelStore, IdempotentResponse, NewAuditEvent, SealedRow, StoreError, StoreResult,
    WorkspaceId,
};

use super::SqliteStore;
use crate::binds::append_audit;
use crate::binds_publishing::{delete_channel_credentials, insert_channel, store_response};
use crate::binds_webhooks::{channel_disconnected, insert_secret};
use crate::error::map_sqlx;
use crate::rows_publishing::{ChannelRow, sql};
use crate::rows_webhooks::sql::FAN_OUT_SQLITE;

const CHANNEL_PROVIDER: &str = "SELECT provider FROM channels WHERE workspace_id = $1 AND id = $2";

#[async_trait]
impl ChannelStore for SqliteStore {
    async fn create_channel(
        &self,
        channel: &Channel,
        credentials: Option<&SealedRow>,
        idempotency: Option<&IdempotentResponse>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        if let Some(secret) = credentials {
            if secret.workspace_id != channel.workspace_id || Some(secret.id) != channel.credentials {
                return Err(StoreError::Conflict("the credentials do not belong to this channel".into()));
            }
            insert_secret!(secret).execute(&mut *tx).await.map_err(map_sqlx)?;
        }
        insert_channel!(channel).execute(&mut *tx).await.map_err(map_sqlx)?;
        append_audit!(tx, channel.workspace_id, audit);
        store_response!(tx, channel.workspace_id, idempotency);
        tx.commit().await.map_err(map_sqlx)
    }

    async fn get_channel(&self, workspace: WorkspaceId, id: ChannelId) -> StoreResult<Channel> {
        let row: ChannelRow = sqlx::query_as(&sql::get_channel())
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&self.reader)
            .await
            .map_err(map_sqlx)?;
        row.into_domain()
    }

    async fn list_channels(&self, workspace: WorkspaceId) -> StoreResult<Vec<Channel>> {
        let rows: Vec<ChannelRow> = sqlx::query_as(&sql::list_channels())
            .bind(workspace.as_uuid())
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(ChannelRow::into_domain).collect()
    }

    async fn channels_by_ids(&self, workspace: WorkspaceId, ids: &[ChannelId]) -> StoreResult<Vec<Channel>> {
        // In-process reads: one indexed look-up per id costs less than building an IN list.
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<ChannelRow> = sqlx::query_as(&sql::get_channel())
                .bind(workspace.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&self.reader)
                .await
                .map_err(map_sqlx)?;
            if let Some(row) = row {
                found.push(row.into_domain()?);
            }
        }
        Ok(found)
    }

    async fn delete_channel(
        &self,
        workspace: WorkspaceId,
        id: ChannelId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        // The single writer serialises this against a create_post adding a target to the channel.
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let provider: String = sqlx::query_scalar(CHANNEL_PROVIDER)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
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
        let deleted = sqlx::query(sql::DELETE_CHANNEL)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        delete_channel_credentials!(tx, workspace, credentials);
        append_audit!(tx, workspace, audit);
        let queued =
            channel_disconnected!(tx, workspace, id, provider, audit.at, FAN_OUT_SQLITE, None::<&str>);
        tx.commit().await.map_err(map_sqlx)?;
        if queued > 0 {
            self.jobs_changed.notify_waiters();
        }
        Ok(())
    }
}
