//! `ConnectFlowStore` for both backends, written once as a macro on the backends' tenant
//! transactions (`read_tx`, `write_tx`) and the pool for the global expiry index.

use crier_core::{ConnectFlow, ConnectFlowId, SecretId, StoreResult, WorkspaceId};
use uuid::Uuid;

use crate::error::corrupt;
use crate::rows::DbTime;

#[derive(sqlx::FromRow)]
pub(crate) struct ConnectFlowRow {
    workspace_id: Uuid,
    id: Uuid,
    provider: String,
    state_hash: Vec<u8>,
    secret_id: Uuid,
    created_at: DbTime,
    expires_at: DbTime,
}

impl ConnectFlowRow {
    pub(crate) fn into_domain(self) -> StoreResult<ConnectFlow> {
        Ok(ConnectFlow {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            id: ConnectFlowId::from_uuid(self.id),
            provider: self.provider,
            state_hash: crier_core::KeyHash::from_slice(&self.state_hash)
                .ok_or_else(|| corrupt("connect_flows holds a hash that is not 32 bytes"))?,
            secret_id: SecretId::from_uuid(self.secret_id),
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
        })
    }
}

pub(crate) mod sql {
    pub const INSERT_FLOW: &str = "INSERT INTO connect_flows (workspace_id, id, provider, state_hash, \
         secret_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    pub const INSERT_FLOW_EXPIRY: &str =
        "INSERT INTO connect_flow_expiry (workspace_id, flow_id, expires_at) VALUES ($1, $2, $3)";
    pub const GET_FLOW: &str = "SELECT workspace_id, id, provider, state_hash, secret_id, created_at, \
         expires_at FROM connect_flows WHERE workspace_id = $1 AND id = $2";
    /// The expiry row goes with it (ON DELETE CASCADE).
    pub const DELETE_FLOW: &str = "DELETE FROM connect_flows WHERE workspace_id = $1 AND id = $2";
    pub const EXPIRED_FLOWS: &str =
        "SELECT workspace_id, flow_id FROM connect_flow_expiry WHERE expires_at <= $1 LIMIT 500";
    pub const COUNT_FLOWS: &str = "SELECT COUNT(*) FROM connect_flows WHERE workspace_id = $1";
}

/// Implements `ConnectFlowStore` for `$store`.
macro_rules! impl_connect_store {
    ($store:ty, global = $global:ident) => {
        const _: () = {
            use crier_core::{
                ConnectFlow, ConnectFlowId, KeyHash, SealedRow, StoreResult, TakenFlow, Timestamp,
                WorkspaceId,
            };
            use uuid::Uuid;

            use $crate::binds_webhooks::insert_secret;
            use $crate::connect_store::{ConnectFlowRow, sql};
            use $crate::error::map_sqlx;
            use $crate::rows::DbTime;

            #[async_trait::async_trait]
            impl crier_core::ConnectFlowStore for $store {
                async fn insert_connect_flow(
                    &self,
                    flow: &ConnectFlow,
                    sealed: &SealedRow,
                ) -> StoreResult<()> {
                    if sealed.workspace_id != flow.workspace_id || sealed.id != flow.secret_id {
                        return Err(crier_core::StoreError::Conflict(
                            "the sealed state does not belong to this flow".into(),
                        ));
                    }
                    let mut tx = self.write_tx(flow.workspace_id).await?;
                    insert_secret!(sealed).execute(&mut *tx).await.map_err(map_sqlx)?;
                    sqlx::query(sql::INSERT_FLOW)
                        .bind(flow.workspace_id.as_uuid())
                        .bind(flow.id.as_uuid())
                        .bind(flow.provider.as_str())
                        .bind(flow.state_hash.as_bytes().as_slice())
                        .bind(flow.secret_id.as_uuid())
                        .bind(DbTime(flow.created_at))
                        .bind(DbTime(flow.expires_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query(sql::INSERT_FLOW_EXPIRY)
                        .bind(flow.workspace_id.as_uuid())
                        .bind(flow.id.as_uuid())
                        .bind(DbTime(flow.expires_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)
                }

                async fn take_connect_flow(
                    &self,
                    workspace: WorkspaceId,
                    id: ConnectFlowId,
                    state_hash: &KeyHash,
                ) -> StoreResult<Option<TakenFlow>> {
                    let mut tx = self.write_tx(workspace).await?;
                    let row: Option<ConnectFlowRow> = sqlx::query_as(sql::GET_FLOW)
                        .bind(workspace.as_uuid())
                        .bind(id.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    let Some(flow) = row.map(ConnectFlowRow::into_domain).transpose()? else {
                        return Ok(None);
                    };
                    // Hashes of 32 random bytes: comparing them leaks nothing worth timing.
                    if flow.state_hash != *state_hash {
                        return Ok(None);
                    }
                    let sealed: $crate::rows::SecretRow = sqlx::query_as(&$crate::rows::sql::get_secret())
                        .bind(workspace.as_uuid())
                        .bind(flow.secret_id.as_uuid())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    let sealed = SealedRow::from(sealed);
                    sqlx::query(sql::DELETE_FLOW)
                        .bind(workspace.as_uuid())
                        .bind(id.as_uuid())
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query($crate::rows_webhooks::sql::DELETE_SECRET)
                        .bind(workspace.as_uuid())
                        .bind(flow.secret_id.as_uuid())
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(Some(TakenFlow { flow, sealed }))
                }

                async fn purge_connect_flows(&self, now: Timestamp) -> StoreResult<u64> {
                    let expired: Vec<(Uuid, Uuid)> = sqlx::query_as(sql::EXPIRED_FLOWS)
                        .bind(DbTime(now))
                        .fetch_all(&self.$global)
                        .await
                        .map_err(map_sqlx)?;
                    let mut purged = 0;
                    for (workspace, id) in expired {
                        let workspace = WorkspaceId::from_uuid(workspace);
                        let mut tx = self.write_tx(workspace).await?;
                        let secret: Option<Uuid> = sqlx::query_as::<_, ConnectFlowRow>(sql::GET_FLOW)
                            .bind(workspace.as_uuid())
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(map_sqlx)?
                            .map(|row| row.into_domain())
                            .transpose()?
                            .map(|flow| flow.secret_id.as_uuid());
                        sqlx::query(sql::DELETE_FLOW)
                            .bind(workspace.as_uuid())
                            .bind(id)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_sqlx)?;
                        if let Some(secret) = secret {
                            sqlx::query($crate::rows_webhooks::sql::DELETE_SECRET)
                                .bind(workspace.as_uuid())
                                .bind(secret)
                                .execute(&mut *tx)
                                .await
                                .map_err(map_sqlx)?;
                            purged += 1;
                        }
                        tx.commit().await.map_err(map_sqlx)?;
                    }
                    Ok(purged)
                }

                async fn count_connect_flows(&self, workspace: WorkspaceId) -> StoreResult<i64> {
                    let mut tx = self.read_tx(workspace).await?;
                    let count: i64 = sqlx::query_scalar(sql::COUNT_FLOWS)
                        .bind(workspace.as_uuid())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(count)
                }
            }
        };
    };
}

pub(crate) use impl_connect_store;
