//! `InvitationStore` for both backends: portable statements on the global `invitations` table,
//! written once as a macro each backend instantiates with its pools and tenant transaction.

use crier_core::{Invitation, KeyHash, StoreResult, WorkspaceId};
use uuid::Uuid;

use crate::error::corrupt;
use crate::rows::DbTime;

#[derive(sqlx::FromRow)]
pub(crate) struct InvitationRow {
    id: Uuid,
    token_hash: Vec<u8>,
    workspace_id: Uuid,
    email: String,
    role: String,
    invited_by: Uuid,
    created_at: DbTime,
    expires_at: DbTime,
    accepted_at: Option<DbTime>,
}

impl InvitationRow {
    pub(crate) fn into_domain(self) -> StoreResult<Invitation> {
        Ok(Invitation {
            id: self.id,
            token_hash: KeyHash::from_slice(&self.token_hash)
                .ok_or_else(|| corrupt("invitations holds a hash that is not 32 bytes"))?,
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            email: self.email,
            role: crate::people_store::role(&self.role)?,
            invited_by: self.invited_by,
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
            accepted_at: self.accepted_at.map(|t| t.0),
        })
    }
}

pub(crate) mod sql {
    macro_rules! columns {
        () => {
            "id, token_hash, workspace_id, email, role, invited_by, created_at, expires_at, accepted_at"
        };
    }
    pub const INSERT: &str =
        concat!("INSERT INTO invitations (", columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    pub const FIND: &str = concat!("SELECT ", columns!(), " FROM invitations WHERE token_hash = $1");
    pub const LIST: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM invitations WHERE workspace_id = $1 AND accepted_at IS NULL ORDER BY created_at DESC, id"
    );
    pub const REVOKE: &str =
        "DELETE FROM invitations WHERE workspace_id = $1 AND id = $2 AND accepted_at IS NULL";
    /// Spends a live invitation ($2 = now).
    pub const SPEND: &str = concat!(
        "UPDATE invitations SET accepted_at = $2 WHERE token_hash = $1 AND accepted_at IS NULL \
         AND expires_at > $2 RETURNING ",
        columns!()
    );
    pub const IS_MEMBER: &str =
        "SELECT COUNT(*) FROM workspace_members WHERE workspace_id = $1 AND user_id = $2";
}

/// Implements `InvitationStore` for `$store`.
macro_rules! impl_invitation_store {
    ($store:ty, read = $read:ident) => {
        const _: () = {
            use crier_core::{
                Invitation, Invitee, KeyHash, NewAuditEvent, StoreError, StoreResult, Timestamp, WorkspaceId,
            };
            use uuid::Uuid;

            use $crate::error::map_sqlx;
            use $crate::invitation_store::{InvitationRow, sql};
            use $crate::oauth::sql as user_sql;
            use $crate::rows::DbTime;

            #[async_trait::async_trait]
            impl crier_core::InvitationStore for $store {
                async fn create_invitation(
                    &self,
                    invitation: &Invitation,
                    audit: &NewAuditEvent,
                ) -> StoreResult<()> {
                    let mut tx = self.write_tx(invitation.workspace_id).await?;
                    sqlx::query(sql::INSERT)
                        .bind(invitation.id)
                        .bind(invitation.token_hash.as_bytes().as_slice())
                        .bind(invitation.workspace_id.as_uuid())
                        .bind(invitation.email.as_str())
                        .bind(invitation.role.as_str())
                        .bind(invitation.invited_by)
                        .bind(DbTime(invitation.created_at))
                        .bind(DbTime(invitation.expires_at))
                        .bind(invitation.accepted_at.map(DbTime))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    self.append_tenant_audit(&mut tx, invitation.workspace_id, audit).await?;
                    tx.commit().await.map_err(map_sqlx)
                }

                async fn find_invitation(&self, token_hash: &KeyHash) -> StoreResult<Option<Invitation>> {
                    let row: Option<InvitationRow> = sqlx::query_as(sql::FIND)
                        .bind(token_hash.as_bytes().as_slice())
                        .fetch_optional(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    row.map(InvitationRow::into_domain).transpose()
                }

                async fn list_invitations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Invitation>> {
                    let rows: Vec<InvitationRow> = sqlx::query_as(sql::LIST)
                        .bind(workspace.as_uuid())
                        .fetch_all(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    rows.into_iter().map(InvitationRow::into_domain).collect()
                }

                async fn revoke_invitation(
                    &self,
                    workspace: WorkspaceId,
                    id: Uuid,
                    audit: &NewAuditEvent,
                ) -> StoreResult<bool> {
                    let mut tx = self.write_tx(workspace).await?;
                    let gone = sqlx::query(sql::REVOKE)
                        .bind(workspace.as_uuid())
                        .bind(id)
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

                async fn accept_invitation(
                    &self,
                    token_hash: &KeyHash,
                    invitee: Invitee<'_>,
                    at: Timestamp,
                    audit: &NewAuditEvent,
                ) -> StoreResult<Invitation> {
                    let Some(found) = self.find_invitation(token_hash).await? else {
                        return Err(StoreError::NotFound);
                    };
                    let workspace = found.workspace_id;
                    let mut tx = self.write_tx(workspace).await?;
                    let spent: Option<InvitationRow> = sqlx::query_as(sql::SPEND)
                        .bind(token_hash.as_bytes().as_slice())
                        .bind(DbTime(at))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    let Some(spent) = spent else { return Err(StoreError::NotFound) };
                    let invitation = spent.into_domain()?;
                    let user_id = match invitee {
                        Invitee::New(user) => {
                            sqlx::query(user_sql::INSERT_USER)
                                .bind(user.id)
                                .bind(user.email.as_str())
                                .bind(user.password_hash.as_str())
                                .bind(DbTime(user.created_at))
                                .execute(&mut *tx)
                                .await
                                .map_err(map_sqlx)?;
                            user.id
                        }
                        Invitee::Existing(id) => {
                            let members: i64 = sqlx::query_scalar(sql::IS_MEMBER)
                                .bind(workspace.as_uuid())
                                .bind(id)
                                .fetch_one(&mut *tx)
                                .await
                                .map_err(map_sqlx)?;
                            if members > 0 {
                                return Err(StoreError::Conflict(
                                    "already a member of this workspace".into(),
                                ));
                            }
                            id
                        }
                    };
                    sqlx::query(user_sql::INSERT_MEMBER)
                        .bind(workspace.as_uuid())
                        .bind(user_id)
                        .bind(invitation.role.as_str())
                        .bind(DbTime(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(invitation)
                }
            }
        };
    };
}

pub(crate) use impl_invitation_store;
