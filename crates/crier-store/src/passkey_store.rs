//! `PasskeyStore` for both backends: portable statements on the global `user_passkeys` and
//! `webauthn_ceremonies` tables, written once as a macro each backend instantiates with its pools
//! (PostgreSQL: one pool; SQLite: the single writer and the readers). Audited writes go through
//! the backend's tenant transaction.

use crier_core::{Ceremony, CeremonyKind, KeyHash, StoreResult, UserPasskey};
use uuid::Uuid;

use crate::error::corrupt;
use crate::rows::DbTime;

#[derive(sqlx::FromRow)]
pub(crate) struct PasskeyRow {
    id: Uuid,
    user_id: Uuid,
    credential_id: Vec<u8>,
    passkey: String,
    name: String,
    created_at: DbTime,
    last_used_at: Option<DbTime>,
}

impl PasskeyRow {
    pub(crate) fn into_domain(self) -> UserPasskey {
        UserPasskey {
            id: self.id,
            user_id: self.user_id,
            credential_id: self.credential_id,
            passkey: self.passkey,
            name: self.name,
            created_at: self.created_at.0,
            last_used_at: self.last_used_at.map(|t| t.0),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CeremonyRow {
    id_hash: Vec<u8>,
    kind: String,
    user_id: Option<Uuid>,
    state: String,
    expires_at: DbTime,
}

impl CeremonyRow {
    pub(crate) fn into_domain(self) -> StoreResult<Ceremony> {
        let kind = match self.kind.as_str() {
            "register" => CeremonyKind::Register,
            "sign_in" => CeremonyKind::SignIn,
            "second_factor" => CeremonyKind::SecondFactor,
            _ => return Err(corrupt("webauthn_ceremonies holds an unknown kind")),
        };
        Ok(Ceremony {
            id_hash: KeyHash::from_slice(&self.id_hash)
                .ok_or_else(|| corrupt("webauthn_ceremonies holds a hash that is not 32 bytes"))?,
            kind,
            user_id: self.user_id,
            state: self.state,
            expires_at: self.expires_at.0,
        })
    }
}

pub(crate) mod sql {
    macro_rules! columns {
        () => {
            "id, user_id, credential_id, passkey, name, created_at, last_used_at"
        };
    }
    pub const INSERT: &str =
        concat!("INSERT INTO user_passkeys (", columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)");
    pub const LIST: &str =
        concat!("SELECT ", columns!(), " FROM user_passkeys WHERE user_id = $1 ORDER BY created_at, id");
    pub const FIND: &str = concat!("SELECT ", columns!(), " FROM user_passkeys WHERE credential_id = $1");
    pub const USE: &str =
        "UPDATE user_passkeys SET passkey = $3, last_used_at = $4 WHERE user_id = $1 AND id = $2";
    pub const REMOVE: &str = "DELETE FROM user_passkeys WHERE user_id = $1 AND id = $2";
    pub const INSERT_CEREMONY: &str = "INSERT INTO webauthn_ceremonies (id_hash, kind, user_id, state, expires_at) \
         VALUES ($1, $2, $3, $4, $5)";
    /// Deletes and returns in one statement, so two requests cannot both take it.
    pub const TAKE_CEREMONY: &str = "DELETE FROM webauthn_ceremonies WHERE id_hash = $1 \
         RETURNING id_hash, kind, user_id, state, expires_at";
    pub const PURGE_CEREMONIES: &str = "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1";
}

/// Implements `PasskeyStore` for `$store`, reading through `self.$read` and writing through
/// `self.$write` or the tenant transaction `write_tx`.
macro_rules! impl_passkey_store {
    ($store:ty, read = $read:ident, write = $write:ident) => {
        const _: () = {
            use crier_core::{
                Ceremony, CeremonyKind, KeyHash, NewAuditEvent, StoreResult, Timestamp, UserPasskey,
                WorkspaceId,
            };
            use uuid::Uuid;

            use $crate::error::map_sqlx;
            use $crate::passkey_store::{CeremonyRow, PasskeyRow, sql};
            use $crate::rows::DbTime;

            #[async_trait::async_trait]
            impl crier_core::PasskeyStore for $store {
                async fn add_passkey(
                    &self,
                    passkey: &UserPasskey,
                    workspace: WorkspaceId,
                    audit: &NewAuditEvent,
                ) -> StoreResult<()> {
                    let mut tx = self.write_tx(workspace).await?;
                    sqlx::query(sql::INSERT)
                        .bind(passkey.id)
                        .bind(passkey.user_id)
                        .bind(passkey.credential_id.as_slice())
                        .bind(passkey.passkey.as_str())
                        .bind(passkey.name.as_str())
                        .bind(DbTime(passkey.created_at))
                        .bind(passkey.last_used_at.map(DbTime))
                        .execute(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)
                }

                async fn list_passkeys(&self, user: Uuid) -> StoreResult<Vec<UserPasskey>> {
                    let rows: Vec<PasskeyRow> = sqlx::query_as(sql::LIST)
                        .bind(user)
                        .fetch_all(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(rows.into_iter().map(PasskeyRow::into_domain).collect())
                }

                async fn find_passkey(&self, credential_id: &[u8]) -> StoreResult<Option<UserPasskey>> {
                    let row: Option<PasskeyRow> = sqlx::query_as(sql::FIND)
                        .bind(credential_id)
                        .fetch_optional(&self.$read)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(row.map(PasskeyRow::into_domain))
                }

                async fn record_passkey_use(
                    &self,
                    user: Uuid,
                    id: Uuid,
                    passkey: &str,
                    at: Timestamp,
                ) -> StoreResult<bool> {
                    let changed = sqlx::query(sql::USE)
                        .bind(user)
                        .bind(id)
                        .bind(passkey)
                        .bind(DbTime(at))
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?
                        .rows_affected();
                    Ok(changed > 0)
                }

                async fn remove_passkey(
                    &self,
                    user: Uuid,
                    id: Uuid,
                    workspace: WorkspaceId,
                    audit: &NewAuditEvent,
                ) -> StoreResult<bool> {
                    let mut tx = self.write_tx(workspace).await?;
                    let gone = sqlx::query(sql::REMOVE)
                        .bind(user)
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

                async fn insert_ceremony(&self, ceremony: &Ceremony) -> StoreResult<()> {
                    sqlx::query(sql::INSERT_CEREMONY)
                        .bind(ceremony.id_hash.as_bytes().as_slice())
                        .bind(ceremony.kind.as_str())
                        .bind(ceremony.user_id)
                        .bind(ceremony.state.as_str())
                        .bind(DbTime(ceremony.expires_at))
                        .execute(&self.$write)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(())
                }

                async fn take_ceremony(
                    &self,
                    id_hash: &KeyHash,
                    kind: CeremonyKind,
                    now: Timestamp,
                ) -> StoreResult<Option<Ceremony>> {
                    // Taken whatever it holds: a ceremony presented for the wrong purpose or too
                    // late is spent all the same.
                    let row: Option<CeremonyRow> = sqlx::query_as(sql::TAKE_CEREMONY)
                        .bind(id_hash.as_bytes().as_slice())
                        .fetch_optional(&self.$write)
                        .await
                        .map_err(map_sqlx)?;
                    let Some(ceremony) = row.map(CeremonyRow::into_domain).transpose()? else {
                        return Ok(None);
                    };
                    Ok((ceremony.kind == kind && now < ceremony.expires_at).then_some(ceremony))
                }

                async fn purge_ceremonies(&self, now: Timestamp) -> StoreResult<u64> {
                    Ok(sqlx::query(sql::PURGE_CEREMONIES)
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

pub(crate) use impl_passkey_store;
