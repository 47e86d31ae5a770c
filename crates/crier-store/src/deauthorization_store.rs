//! `DeauthorizationStore` for both backends, written once as a macro on the backends' tenant
//! transactions (`write_tx`), with the pools (`read`, `write`) for the global tables: the
//! `channel_platform_accounts` index (kept by triggers, see migration 0013) and
//! `data_deletion_requests`.

use crier_core::{DeletionRecord, KeyHash, StoreResult};

use crate::error::corrupt;
use crate::rows::DbTime;

#[derive(sqlx::FromRow)]
pub(crate) struct DeletionRow {
    code_hash: Vec<u8>,
    provider: String,
    received_at: DbTime,
    channels: i64,
    credentials_deleted: i64,
}

impl DeletionRow {
    pub(crate) fn into_domain(self) -> StoreResult<DeletionRecord> {
        Ok(DeletionRecord {
            code_hash: KeyHash::from_slice(&self.code_hash)
                .ok_or_else(|| corrupt("data_deletion_requests holds a hash that is not 32 bytes"))?,
            provider: self.provider,
            received_at: self.received_at.0,
            channels: self.channels,
            credentials_deleted: self.credentials_deleted,
        })
    }
}

pub(crate) mod sql {
    /// The deliberate cross-tenant read: ids only, from the global index.
    pub const CHANNELS_OF_ACCOUNT: &str = "SELECT workspace_id, channel_id FROM channel_platform_accounts \
         WHERE provider = $1 AND account_id = $2 ORDER BY workspace_id, channel_id";
    /// Clears the reference before the sealed row it names is deleted.
    pub const DEAUTHORIZE_CHANNEL: &str = "UPDATE channels SET status = 'needs_reauth', \
         credentials_secret_id = NULL, account = $3 WHERE workspace_id = $1 AND id = $2";
    pub const INSERT_DELETION: &str = "INSERT INTO data_deletion_requests (code_hash, provider, received_at, \
         channels, credentials_deleted) VALUES ($1, $2, $3, $4, $5)";
    pub const GET_DELETION: &str = "SELECT code_hash, provider, received_at, channels, credentials_deleted \
         FROM data_deletion_requests WHERE code_hash = $1";
}

/// Implements `DeauthorizationStore` for `$store`. `lock_channel`: what makes the channel read
/// a row lock (PostgreSQL: ` FOR UPDATE`; SQLite's single writer needs none); `events_lock`: the
/// backend's event lock, if any; `fan_out`: its `FAN_OUT_*` statement. The backend provides
/// `wake_deliveries_in(tx)` (before commit) and `wake_deliveries_after()` (after it).
macro_rules! impl_deauthorization_store {
    ($store:ty, read = $read:ident, write = $write:ident, lock_channel = $lock_channel:expr, events_lock = $events_lock:expr, fan_out = $fan_out:expr) => {
        const _: () = {
            use crier_core::{
                ChannelAccount, ChannelId, ChannelStatus, Deauthorization, DeletionRecord, KeyHash,
                NewAuditEvent, NewEvent, StoreResult, WorkspaceId,
            };
            use uuid::Uuid;

            use $crate::deauthorization_store::{DeletionRow, sql};
            use $crate::error::map_sqlx;
            use $crate::rows::DbTime;
            use $crate::rows_publishing::{ChannelRow, DbJson};

            #[async_trait::async_trait]
            impl crier_core::DeauthorizationStore for $store {
                async fn channels_of_platform_account(
                    &self,
                    provider: &str,
                    account_id: &str,
                ) -> StoreResult<Vec<(WorkspaceId, ChannelId)>> {
                    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(sql::CHANNELS_OF_ACCOUNT)
                        .bind(provider)
                        .bind(account_id)
                        .fetch_all(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(rows
                        .into_iter()
                        .map(|(ws, id)| (WorkspaceId::from_uuid(ws), ChannelId::from_uuid(id)))
                        .collect())
                }

                async fn deauthorize_channel(
                    &self,
                    workspace: WorkspaceId,
                    id: ChannelId,
                    kind: Deauthorization,
                    audit: &NewAuditEvent,
                ) -> StoreResult<bool> {
                    let mut tx = self.write_tx(workspace).await?;
                    let read = format!("{}{}", $crate::rows_publishing::sql::get_channel(), $lock_channel);
                    let row: ChannelRow = sqlx::query_as(&read)
                        .bind(workspace.as_uuid())
                        .bind(id.as_uuid())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    let channel = row.into_domain()?;
                    let account = match (kind, &channel.account) {
                        (Deauthorization::DataDeletion, Some(account)) => Some(ChannelAccount {
                            id: account.id.clone(),
                            handle: account.id.clone(),
                            display_name: None,
                            avatar_url: None,
                        }),
                        (_, account) => account.clone(),
                    };
                    let credentials = channel.credentials;
                    if credentials.is_none()
                        && channel.status == ChannelStatus::NeedsReauth
                        && account == channel.account
                    {
                        // Already done: a repeated callback changes nothing and says nothing.
                        tx.commit().await.map_err(map_sqlx)?;
                        return Ok(false);
                    }
                    let account = account
                        .as_ref()
                        .map(|a| serde_json::to_value(a).map(DbJson))
                        .transpose()
                        .map_err(|err| crier_core::StoreError::Other(err.into()))?;
                    sqlx::query(sql::DEAUTHORIZE_CHANNEL)
                        .bind(workspace.as_uuid())
                        .bind(id.as_uuid())
                        .bind(account)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    $crate::binds_publishing::delete_channel_credentials!(
                        tx,
                        workspace,
                        credentials.map(|s| s.as_uuid())
                    );
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    let event = NewEvent {
                        kind: "channel.deauthorized",
                        subject: id.to_string(),
                        data: serde_json::json!({
                            "channel_id": id.to_string(),
                            "provider": channel.provider,
                            "reason": kind.as_str(),
                        }),
                    };
                    $crate::binds_webhooks::lock_events!(tx, workspace, $events_lock);
                    let (_, deliveries) =
                        $crate::binds_publishing::insert_event!(tx, workspace, &event, audit.at, $fan_out);
                    if deliveries > 0 {
                        Self::wake_deliveries_in(&mut tx).await?;
                    }
                    tx.commit().await.map_err(map_sqlx)?;
                    if deliveries > 0 {
                        self.wake_deliveries_after();
                    }
                    Ok(credentials.is_some())
                }

                async fn insert_deletion_record(&self, record: &DeletionRecord) -> StoreResult<()> {
                    sqlx::query(sql::INSERT_DELETION)
                        .bind(record.code_hash.as_bytes().as_slice())
                        .bind(record.provider.as_str())
                        .bind(DbTime(record.received_at))
                        .bind(record.channels)
                        .bind(record.credentials_deleted)
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn get_deletion_record(&self, code_hash: &KeyHash) -> StoreResult<DeletionRecord> {
                    let row: DeletionRow = sqlx::query_as(sql::GET_DELETION)
                        .bind(code_hash.as_bytes().as_slice())
                        .fetch_one(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    row.into_domain()
                }
            }
        };
    };
}

pub(crate) use impl_deauthorization_store;
