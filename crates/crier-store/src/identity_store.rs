//! `IdentityStore` for both backends: portable statements on the global `user_identities` and
//! `sso_flows` tables, written once as a macro each backend instantiates with its pools (and its
//! tenant transaction for the audited link and unlink).

use crier_core::{KeyHash, SsoFlow, StoreResult, UserIdentity};
use uuid::Uuid;

use crate::error::corrupt;
use crate::rows::DbTime;

#[derive(sqlx::FromRow)]
pub(crate) struct IdentityRow {
    provider: String,
    subject: String,
    user_id: Uuid,
    email: Option<String>,
    created_at: DbTime,
}

impl IdentityRow {
    pub(crate) fn into_domain(self) -> UserIdentity {
        UserIdentity {
            provider: self.provider,
            subject: self.subject,
            user_id: self.user_id,
            email: self.email,
            created_at: self.created_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FlowRow {
    state_hash: Vec<u8>,
    browser_hash: Vec<u8>,
    provider: String,
    link_user_id: Option<Uuid>,
    created_at: DbTime,
    expires_at: DbTime,
}

impl FlowRow {
    pub(crate) fn into_domain(self) -> StoreResult<SsoFlow> {
        let hash = |bytes: &[u8]| {
            KeyHash::from_slice(bytes).ok_or_else(|| corrupt("sso_flows holds a hash that is not 32 bytes"))
        };
        Ok(SsoFlow {
            state_hash: hash(&self.state_hash)?,
            browser_hash: hash(&self.browser_hash)?,
            provider: self.provider,
            link_user: self.link_user_id,
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
        })
    }
}

pub(crate) mod sql {
    macro_rules! identity_columns {
        () => {
            "provider, subject, user_id, email, created_at"
        };
    }
    macro_rules! flow_columns {
        () => {
            "state_hash, browser_hash, provider, link_user_id, created_at, expires_at"
        };
    }
    pub const FIND: &str =
        concat!("SELECT ", identity_columns!(), " FROM user_identities WHERE provider = $1 AND subject = $2");
    pub const LIST: &str = concat!(
        "SELECT ",
        identity_columns!(),
        " FROM user_identities WHERE user_id = $1 ORDER BY created_at, provider, subject"
    );
    pub const INSERT: &str =
        concat!("INSERT INTO user_identities (", identity_columns!(), ") VALUES ($1, $2, $3, $4, $5)");
    pub const DELETE: &str =
        "DELETE FROM user_identities WHERE user_id = $1 AND provider = $2 AND subject = $3";
    pub const INSERT_FLOW: &str =
        concat!("INSERT INTO sso_flows (", flow_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6)");
    pub const TAKE_FLOW: &str = concat!(
        "DELETE FROM sso_flows WHERE state_hash = $1 AND browser_hash = $2 RETURNING ",
        flow_columns!()
    );
    pub const PURGE_FLOWS: &str = "DELETE FROM sso_flows WHERE expires_at < $1";
}

/// Implements `IdentityStore` for `$store`, reading through `self.$read` and writing through
/// `self.$write` or the tenant transaction `write_tx`.
macro_rules! impl_identity_store {
    ($store:ty, read = $read:ident, write = $write:ident) => {
        const _: () = {
            use crier_core::{
                KeyHash, NewAuditEvent, SsoFlow, StoreResult, Timestamp, UserIdentity, WorkspaceId,
            };
            use uuid::Uuid;

            use $crate::error::map_sqlx;
            use $crate::identity_store::{FlowRow, IdentityRow, sql};
            use $crate::rows::DbTime;

            #[async_trait::async_trait]
            impl crier_core::IdentityStore for $store {
                async fn find_identity(
                    &self,
                    provider: &str,
                    subject: &str,
                ) -> StoreResult<Option<UserIdentity>> {
                    let row: Option<IdentityRow> = sqlx::query_as(sql::FIND)
                        .bind(provider)
                        .bind(subject)
                        .fetch_optional(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(row.map(IdentityRow::into_domain))
                }

                async fn list_identities(&self, user: Uuid) -> StoreResult<Vec<UserIdentity>> {
                    let rows: Vec<IdentityRow> = sqlx::query_as(sql::LIST)
                        .bind(user)
                        .fetch_all(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(rows.into_iter().map(IdentityRow::into_domain).collect())
                }

                async fn link_identity(
                    &self,
                    identity: &UserIdentity,
                    workspace: WorkspaceId,
                    audit: &NewAuditEvent,
                ) -> StoreResult<()> {
                    let mut tx = self.write_tx(workspace).await?;
                    sqlx::query(sql::INSERT)
                        .bind(identity.provider.as_str())
                        .bind(identity.subject.as_str())
                        .bind(identity.user_id)
                        .bind(identity.email.as_deref())
                        .bind(DbTime(identity.created_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)
                }

                async fn unlink_identity(
                    &self,
                    user: Uuid,
                    provider: &str,
                    subject: &str,
                    workspace: WorkspaceId,
                    audit: &NewAuditEvent,
                ) -> StoreResult<bool> {
                    let mut tx = self.write_tx(workspace).await?;
                    let gone = sqlx::query(sql::DELETE)
                        .bind(user)
                        .bind(provider)
                        .bind(subject)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected();
                    if gone == 0 {
                        return Ok(false);
                    }
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(true)
                }

                async fn insert_sso_flow(&self, flow: &SsoFlow) -> StoreResult<()> {
                    sqlx::query(sql::INSERT_FLOW)
                        .bind(flow.state_hash.as_bytes().as_slice())
                        .bind(flow.browser_hash.as_bytes().as_slice())
                        .bind(flow.provider.as_str())
                        .bind(flow.link_user)
                        .bind(DbTime(flow.created_at))
                        .bind(DbTime(flow.expires_at))
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn take_sso_flow(
                    &self,
                    state_hash: &KeyHash,
                    browser_hash: &KeyHash,
                ) -> StoreResult<Option<SsoFlow>> {
                    let row: Option<FlowRow> = sqlx::query_as(sql::TAKE_FLOW)
                        .bind(state_hash.as_bytes().as_slice())
                        .bind(browser_hash.as_bytes().as_slice())
                        .fetch_optional(&self.$write)
                        .await
                        .map_err(map_sqlx)?;
                    row.map(FlowRow::into_domain).transpose()
                }

                async fn purge_sso_flows(&self, now: Timestamp) -> StoreResult<u64> {
                    Ok(sqlx::query(sql::PURGE_FLOWS)
                        .bind(DbTime(now))
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected())
                }
            }
        };
    };
}

pub(crate) use impl_identity_store;
