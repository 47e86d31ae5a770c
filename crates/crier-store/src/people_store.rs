//! `PeopleStore` for both backends: portable statements on the global people tables, written
//! once as a macro that each backend instantiates with its pools (PostgreSQL: one pool; SQLite:
//! the single writer and the readers). Writes that touch a workspace's rows (the sealed TOTP
//! secret, the audit log) go through the backend's tenant transaction.

use crier_core::{KeyHash, Role, StoreResult, UserSession, WorkspaceId};
use uuid::Uuid;

use crate::error::corrupt;
use crate::rows::DbTime;

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    token_hash: Vec<u8>,
    id: Uuid,
    user_id: Uuid,
    workspace_id: Uuid,
    pending_second_factor: bool,
    created_at: DbTime,
    last_seen_at: DbTime,
    expires_at: DbTime,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl SessionRow {
    pub(crate) fn into_domain(self) -> StoreResult<UserSession> {
        Ok(UserSession {
            id: self.id,
            token_hash: KeyHash::from_slice(&self.token_hash)
                .ok_or_else(|| corrupt("user_sessions holds a hash that is not 32 bytes"))?,
            user_id: self.user_id,
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            pending_second_factor: self.pending_second_factor,
            created_at: self.created_at.0,
            last_seen_at: self.last_seen_at.0,
            expires_at: self.expires_at.0,
            ip: self.ip,
            user_agent: self.user_agent,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    workspace_id: Uuid,
    user_id: Uuid,
    email: String,
    role: String,
    created_at: DbTime,
}

impl MemberRow {
    pub(crate) fn into_domain(self) -> StoreResult<crier_core::Membership> {
        Ok(crier_core::Membership {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            user_id: self.user_id,
            email: self.email,
            role: role(&self.role)?,
            created_at: self.created_at.0,
        })
    }
}

pub(crate) fn role(text: &str) -> StoreResult<Role> {
    text.parse().map_err(|_| corrupt("workspace_members.role holds an unknown role"))
}

pub(crate) mod sql {
    macro_rules! session_columns {
        () => {
            "token_hash, id, user_id, workspace_id, pending_second_factor, created_at, last_seen_at, \
             expires_at, ip, user_agent"
        };
    }
    pub const GET_USER: &str =
        concat!("SELECT ", crate::oauth::sql::user_columns!(), " FROM users WHERE id = $1");
    pub const MEMBER_ROLE: &str =
        "SELECT role FROM workspace_members WHERE workspace_id = $1 AND user_id = $2";
    pub const LIST_MEMBERS: &str = "SELECT m.workspace_id, m.user_id, u.email, m.role, m.created_at \
         FROM workspace_members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 \
         ORDER BY m.created_at, u.email";
    pub const SET_ROLE: &str =
        "UPDATE workspace_members SET role = $3 WHERE workspace_id = $1 AND user_id = $2";
    pub const INSERT_SESSION: &str = concat!(
        "INSERT INTO user_sessions (",
        session_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    pub const FIND_SESSION: &str =
        concat!("SELECT ", session_columns!(), " FROM user_sessions WHERE token_hash = $1");
    pub const TOUCH_SESSION: &str = "UPDATE user_sessions SET last_seen_at = $2 WHERE token_hash = $1";
    pub const DELETE_SESSION_BY_HASH: &str = "DELETE FROM user_sessions WHERE token_hash = $1";
    pub const LIST_SESSIONS: &str = concat!(
        "SELECT ",
        session_columns!(),
        " FROM user_sessions WHERE user_id = $1 ORDER BY created_at DESC, id"
    );
    pub const DELETE_SESSION: &str = "DELETE FROM user_sessions WHERE user_id = $1 AND id = $2";
    /// Pending sessions idle past their short window go by `expires_at`, which is set to it.
    pub const PURGE_SESSIONS: &str = "DELETE FROM user_sessions WHERE expires_at <= $1 OR last_seen_at < $2";
    pub const INSERT_FAILURE: &str = "INSERT INTO login_failures (subject_hash, at) VALUES ($1, $2)";
    pub const COUNT_FAILURES: &str =
        "SELECT COUNT(*) FROM login_failures WHERE subject_hash = $1 AND at > $2";
    pub const CLEAR_FAILURES: &str = "DELETE FROM login_failures WHERE subject_hash = $1";
    pub const PURGE_FAILURES: &str = "DELETE FROM login_failures WHERE at < $1";
    pub const TOTP_REF: &str = "SELECT totp_workspace_id, totp_secret_id FROM users WHERE id = $1";
    pub const SET_TOTP: &str =
        "UPDATE users SET totp_workspace_id = $2, totp_secret_id = $3, totp_last_step = NULL WHERE id = $1";
    pub const DELETE_SECRET: &str = "DELETE FROM secrets WHERE workspace_id = $1 AND id = $2";
    pub const DELETE_RECOVERY_CODES: &str = "DELETE FROM user_recovery_codes WHERE user_id = $1";
    pub const INSERT_RECOVERY_CODE: &str =
        "INSERT INTO user_recovery_codes (user_id, code_hash) VALUES ($1, $2)";
    pub const USE_TOTP_STEP: &str = "UPDATE users SET totp_last_step = $2 WHERE id = $1 \
         AND totp_secret_id IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2)";
    pub const USE_RECOVERY_CODE: &str = "UPDATE user_recovery_codes SET used_at = $3 \
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";
    pub const UNUSED_RECOVERY_CODES: &str =
        "SELECT COUNT(*) FROM user_recovery_codes WHERE user_id = $1 AND used_at IS NULL";
    pub const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2 WHERE id = $1";
    pub const END_OTHER_SESSIONS: &str = "DELETE FROM user_sessions WHERE user_id = $1 AND id <> $2";
    pub const SECOND_FACTOR_REQUIRED: &str =
        "SELECT require_second_factor FROM workspace_security WHERE workspace_id = $1";
    pub const REQUIRE_SECOND_FACTOR: &str = "INSERT INTO workspace_security (workspace_id, require_second_factor) \
         VALUES ($1, $2) ON CONFLICT (workspace_id) DO UPDATE SET require_second_factor = excluded.require_second_factor";
}

/// Implements `PeopleStore` for `$store`, reading through `self.$read` and writing through
/// `self.$write` (pools) or the tenant transaction `write_tx`.
macro_rules! impl_people_store {
    ($store:ty, read = $read:ident, write = $write:ident) => {
        const _: () = {
            use crier_core::{
                KeyHash, Membership, NewAuditEvent, Role, SealedRow, StoreError, StoreResult, Timestamp,
                User, UserSession, WorkspaceId,
            };
            use uuid::Uuid;

            use $crate::binds_webhooks::insert_secret;
            use $crate::error::map_sqlx;
            use $crate::people_store::{MemberRow, SessionRow, sql};
            use $crate::rows::DbTime;

            fn hash_bytes(hash: &KeyHash) -> &[u8] {
                hash.as_bytes().as_slice()
            }

            /// The insert of `session`, for either pool or a transaction.
            fn insert_session<DB: sqlx::Database>(
                session: &UserSession,
            ) -> sqlx::query::Query<'_, DB, <DB as sqlx::Database>::Arguments<'_>>
            where
                for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
                Uuid: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
                bool: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
                DbTime: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
                for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
            {
                sqlx::query(sql::INSERT_SESSION)
                    .bind(hash_bytes(&session.token_hash))
                    .bind(session.id)
                    .bind(session.user_id)
                    .bind(session.workspace_id.as_uuid())
                    .bind(session.pending_second_factor)
                    .bind(DbTime(session.created_at))
                    .bind(DbTime(session.last_seen_at))
                    .bind(DbTime(session.expires_at))
                    .bind(session.ip.as_deref())
                    .bind(session.user_agent.as_deref())
            }

            #[async_trait::async_trait]
            impl crier_core::PeopleStore for $store {
                async fn get_user(&self, id: Uuid) -> StoreResult<Option<User>> {
                    let row: Option<$crate::oauth::UserRow> = sqlx::query_as(sql::GET_USER)
                        .bind(id)
                        .fetch_optional(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(row.map($crate::oauth::UserRow::into_domain))
                }

                async fn member_role(&self, workspace: WorkspaceId, user: Uuid) -> StoreResult<Option<Role>> {
                    let role: Option<String> = sqlx::query_scalar(sql::MEMBER_ROLE)
                        .bind(workspace.as_uuid())
                        .bind(user)
                        .fetch_optional(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    role.as_deref().map($crate::people_store::role).transpose()
                }

                async fn list_members(&self, workspace: WorkspaceId) -> StoreResult<Vec<Membership>> {
                    let rows: Vec<MemberRow> = sqlx::query_as(sql::LIST_MEMBERS)
                        .bind(workspace.as_uuid())
                        .fetch_all(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    rows.into_iter().map(MemberRow::into_domain).collect()
                }

                async fn set_member_role(
                    &self,
                    workspace: WorkspaceId,
                    user: Uuid,
                    role: Role,
                    audit: &NewAuditEvent,
                ) -> StoreResult<()> {
                    let mut tx = self.write_tx(workspace).await?;
                    let changed = sqlx::query(sql::SET_ROLE)
                        .bind(workspace.as_uuid())
                        .bind(user)
                        .bind(role.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected();
                    if changed == 0 {
                        return Err(StoreError::NotFound);
                    }
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)
                }

                async fn insert_session(&self, session: &UserSession) -> StoreResult<()> {
                    insert_session(session).execute(&self.$write).await.map_err(map_sqlx)?;
                    Ok(())
                }

                async fn find_session(&self, token_hash: &KeyHash) -> StoreResult<Option<UserSession>> {
                    let row: Option<SessionRow> = sqlx::query_as(sql::FIND_SESSION)
                        .bind(hash_bytes(token_hash))
                        .fetch_optional(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    row.map(SessionRow::into_domain).transpose()
                }

                async fn touch_session(&self, token_hash: &KeyHash, at: Timestamp) -> StoreResult<()> {
                    sqlx::query(sql::TOUCH_SESSION)
                        .bind(hash_bytes(token_hash))
                        .bind(DbTime(at))
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn rotate_session(&self, old: &KeyHash, new: &UserSession) -> StoreResult<bool> {
                    let mut tx = self.$write.begin().await.map_err(map_sqlx)?;
                    let gone = sqlx::query(sql::DELETE_SESSION_BY_HASH)
                        .bind(hash_bytes(old))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected();
                    if gone == 0 {
                        return Ok(false);
                    }
                    insert_session(new).execute(&mut *tx).await.map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(true)
                }

                async fn list_sessions(&self, user: Uuid) -> StoreResult<Vec<UserSession>> {
                    let rows: Vec<SessionRow> = sqlx::query_as(sql::LIST_SESSIONS)
                        .bind(user)
                        .fetch_all(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    rows.into_iter().map(SessionRow::into_domain).collect()
                }

                async fn delete_session(&self, user: Uuid, id: Uuid) -> StoreResult<bool> {
                    let gone = sqlx::query(sql::DELETE_SESSION)
                        .bind(user)
                        .bind(id)
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected();
                    Ok(gone > 0)
                }

                async fn purge_sessions(&self, now: Timestamp, idle_before: Timestamp) -> StoreResult<u64> {
                    Ok(sqlx::query(sql::PURGE_SESSIONS)
                        .bind(DbTime(now))
                        .bind(DbTime(idle_before))
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected())
                }

                async fn record_login_failure(&self, subject: &KeyHash, at: Timestamp) -> StoreResult<()> {
                    sqlx::query(sql::INSERT_FAILURE)
                        .bind(hash_bytes(subject))
                        .bind(DbTime(at))
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn login_failures_since(
                    &self,
                    subject: &KeyHash,
                    since: Timestamp,
                ) -> StoreResult<i64> {
                    sqlx::query_scalar(sql::COUNT_FAILURES)
                        .bind(hash_bytes(subject))
                        .bind(DbTime(since))
                        .fetch_one(&self.$read)
                        .await
                        .map_err(map_sqlx)
                }

                async fn clear_login_failures(&self, subject: &KeyHash) -> StoreResult<()> {
                    sqlx::query(sql::CLEAR_FAILURES)
                        .bind(hash_bytes(subject))
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn purge_login_failures(&self, before: Timestamp) -> StoreResult<u64> {
                    Ok(sqlx::query(sql::PURGE_FAILURES)
                        .bind(DbTime(before))
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected())
                }

                async fn enable_totp(
                    &self,
                    user: Uuid,
                    secret: &SealedRow,
                    recovery_codes: &[KeyHash],
                    audit: &NewAuditEvent,
                ) -> StoreResult<()> {
                    let previous: Option<(Option<Uuid>, Option<Uuid>)> = sqlx::query_as(sql::TOTP_REF)
                        .bind(user)
                        .fetch_optional(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    let Some(previous) = previous else { return Err(StoreError::NotFound) };
                    let workspace = secret.workspace_id;
                    let mut tx = self.write_tx(workspace).await?;
                    insert_secret!(secret).execute(&mut *tx).await.map_err(map_sqlx)?;
                    sqlx::query(sql::SET_TOTP)
                        .bind(user)
                        .bind(Some(workspace.as_uuid()))
                        .bind(Some(secret.id.as_uuid()))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    // An earlier secret sealed in this workspace goes; one sealed elsewhere stays
                    // sealed but referenced by nothing (this transaction may not touch that tenant).
                    if let (Some(old_ws), Some(old_id)) = previous
                        && old_ws == workspace.as_uuid()
                    {
                        sqlx::query(sql::DELETE_SECRET)
                            .bind(old_ws)
                            .bind(old_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_sqlx)?;
                    }
                    sqlx::query(sql::DELETE_RECOVERY_CODES)
                        .bind(user)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    for code in recovery_codes {
                        sqlx::query(sql::INSERT_RECOVERY_CODE)
                            .bind(user)
                            .bind(hash_bytes(code))
                            .execute(&mut *tx)
                            .await
                            .map_err(map_sqlx)?;
                    }
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)
                }

                async fn disable_totp(&self, user: Uuid, audit: &NewAuditEvent) -> StoreResult<()> {
                    let current: Option<(Option<Uuid>, Option<Uuid>)> = sqlx::query_as(sql::TOTP_REF)
                        .bind(user)
                        .fetch_optional(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    let (Some(ws), Some(secret_id)) = current.ok_or(StoreError::NotFound)? else {
                        return Ok(());
                    };
                    let workspace = WorkspaceId::from_uuid(ws);
                    let mut tx = self.write_tx(workspace).await?;
                    sqlx::query(sql::SET_TOTP)
                        .bind(user)
                        .bind(None::<Uuid>)
                        .bind(None::<Uuid>)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query(sql::DELETE_SECRET)
                        .bind(ws)
                        .bind(secret_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    sqlx::query(sql::DELETE_RECOVERY_CODES)
                        .bind(user)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)
                }

                async fn use_totp_step(&self, user: Uuid, step: i64) -> StoreResult<bool> {
                    let changed = sqlx::query(sql::USE_TOTP_STEP)
                        .bind(user)
                        .bind(step)
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected();
                    Ok(changed > 0)
                }

                async fn use_recovery_code(
                    &self,
                    user: Uuid,
                    hash: &KeyHash,
                    at: Timestamp,
                ) -> StoreResult<bool> {
                    let changed = sqlx::query(sql::USE_RECOVERY_CODE)
                        .bind(user)
                        .bind(hash_bytes(hash))
                        .bind(DbTime(at))
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected();
                    Ok(changed > 0)
                }

                async fn unused_recovery_codes(&self, user: Uuid) -> StoreResult<i64> {
                    sqlx::query_scalar(sql::UNUSED_RECOVERY_CODES)
                        .bind(user)
                        .fetch_one(&self.$read)
                        .await
                        .map_err(map_sqlx)
                }

                async fn set_password(
                    &self,
                    user: Uuid,
                    password_hash: &str,
                    keep_session: Uuid,
                    workspace: WorkspaceId,
                    audit: &NewAuditEvent,
                ) -> StoreResult<()> {
                    let mut tx = self.write_tx(workspace).await?;
                    let changed = sqlx::query(sql::SET_PASSWORD)
                        .bind(user)
                        .bind(password_hash)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected();
                    if changed == 0 {
                        return Err(StoreError::NotFound);
                    }
                    sqlx::query(sql::END_OTHER_SESSIONS)
                        .bind(user)
                        .bind(keep_session)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)
                }

                async fn second_factor_required(&self, workspace: WorkspaceId) -> StoreResult<bool> {
                    let required: Option<bool> = sqlx::query_scalar(sql::SECOND_FACTOR_REQUIRED)
                        .bind(workspace.as_uuid())
                        .fetch_optional(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(required.unwrap_or(false))
                }

                async fn require_second_factor(
                    &self,
                    workspace: WorkspaceId,
                    required: bool,
                    audit: &NewAuditEvent,
                ) -> StoreResult<()> {
                    let mut tx = self.write_tx(workspace).await?;
                    sqlx::query(sql::REQUIRE_SECOND_FACTOR)
                        .bind(workspace.as_uuid())
                        .bind(required)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)
                }
            }
        };
    };
}

pub(crate) use impl_people_store;
