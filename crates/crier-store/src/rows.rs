//! Row shapes and SQL shared by both backends. The SQL here is the portable subset (sqlx binds
//! `$N` placeholders on SQLite too); a statement that must differ lives in its backend module.

use chrono::DateTime;
use crier_core::{
    Actor, ApiKey, ApiKeyId, ApiKeyMode, AuditEvent, AuditEventId, ScopeSet, SealedRow, SecretId,
    StoreResult, Timestamp, Workspace, WorkspaceId, WrappedDataKey,
};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use uuid::Uuid;

use crate::error::corrupt;

/// A timestamp as each backend keeps it: `timestamptz` on PostgreSQL, integer microseconds since
/// the epoch on SQLite (so that SQL comparisons and ordering are numeric, not textual).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbTime(pub Timestamp);

impl Type<Sqlite> for DbTime {
    fn type_info() -> <Sqlite as sqlx::Database>::TypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &<Sqlite as sqlx::Database>::TypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: <Sqlite as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = <i64 as Decode<Sqlite>>::decode(value)?;
        DateTime::from_timestamp_micros(micros).map(DbTime).ok_or_else(|| "timestamp out of range".into())
    }
}

impl<'q> Encode<'q, Sqlite> for DbTime {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Sqlite>>::encode(self.0.timestamp_micros(), buf)
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> <Postgres as sqlx::Database>::TypeInfo {
        <Timestamp as Type<Postgres>>::type_info()
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: <Postgres as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        <Timestamp as Decode<Postgres>>::decode(value).map(DbTime)
    }
}

impl<'q> Encode<'q, Postgres> for DbTime {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <Timestamp as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

pub(crate) fn db_time(t: Timestamp) -> DbTime {
    DbTime(t)
}

#[derive(sqlx::FromRow)]
pub(crate) struct WorkspaceRow {
    id: Uuid,
    name: String,
    created_at: DbTime,
}

impl From<WorkspaceRow> for Workspace {
    fn from(row: WorkspaceRow) -> Self {
        Workspace { id: WorkspaceId::from_uuid(row.id), name: row.name, created_at: row.created_at.0 }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    workspace_id: Uuid,
    id: Uuid,
    name: String,
    mode: String,
    scopes: String,
    redacted: String,
    created_at: DbTime,
    expires_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
    last_used_at: Option<DbTime>,
    rotated_at: Option<DbTime>,
    replaced_by: Option<Uuid>,
}

impl ApiKeyRow {
    pub(crate) fn into_domain(self) -> StoreResult<ApiKey> {
        let mode =
            ApiKeyMode::from_db(&self.mode).ok_or_else(|| corrupt("api_keys.mode holds an unknown value"))?;
        let scopes: ScopeSet =
            self.scopes.parse().map_err(|_| corrupt("api_keys.scopes holds an unknown scope"))?;
        Ok(ApiKey {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            id: ApiKeyId::from_uuid(self.id),
            name: self.name,
            mode,
            scopes,
            redacted: self.redacted,
            created_at: self.created_at.0,
            expires_at: self.expires_at.map(|t| t.0),
            revoked_at: self.revoked_at.map(|t| t.0),
            last_used_at: self.last_used_at.map(|t| t.0),
            rotated_at: self.rotated_at.map(|t| t.0),
            replaced_by: self.replaced_by.map(ApiKeyId::from_uuid),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DataKeyRow {
    workspace_id: Uuid,
    version: i32,
    master_key_id: String,
    wrapped: Vec<u8>,
    created_at: DbTime,
}

impl From<DataKeyRow> for WrappedDataKey {
    fn from(row: DataKeyRow) -> Self {
        WrappedDataKey {
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            version: row.version,
            master_key_id: row.master_key_id,
            wrapped: row.wrapped,
            created_at: row.created_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SecretRow {
    workspace_id: Uuid,
    id: Uuid,
    purpose: String,
    key_version: i32,
    sealed: Vec<u8>,
    created_at: DbTime,
    updated_at: DbTime,
}

impl From<SecretRow> for SealedRow {
    fn from(row: SecretRow) -> Self {
        SealedRow {
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            id: SecretId::from_uuid(row.id),
            purpose: row.purpose,
            key_version: row.key_version,
            sealed: row.sealed,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    workspace_id: Uuid,
    seq: i64,
    id: Uuid,
    at: DbTime,
    actor: String,
    action: String,
    target: String,
    ip: Option<String>,
    user_agent: Option<String>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl AuditRow {
    pub(crate) fn into_domain(self) -> StoreResult<AuditEvent> {
        let digest = |bytes: Vec<u8>| -> StoreResult<[u8; 32]> {
            bytes.try_into().map_err(|_| corrupt("audit_events holds a hash that is not 32 bytes"))
        };
        Ok(AuditEvent {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            seq: self.seq,
            id: AuditEventId::from_uuid(self.id),
            at: self.at.0,
            actor: Actor(self.actor),
            action: self.action,
            target: self.target,
            ip: self.ip,
            user_agent: self.user_agent,
            prev_hash: digest(self.prev_hash)?,
            hash: digest(self.hash)?,
        })
    }
}

pub(crate) mod sql {
    pub const INSERT_WORKSPACE: &str =
        "INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3) RETURNING id, name, created_at";
    pub const GET_WORKSPACE: &str = "SELECT id, name, created_at FROM workspaces WHERE id = $1";
    pub const LIST_WORKSPACES: &str = "SELECT id, name, created_at FROM workspaces ORDER BY created_at, id";

    macro_rules! with_key_columns {
        ($head:literal, $tail:literal) => {
            concat!(
                $head,
                " workspace_id, id, name, mode, scopes, redacted, created_at, expires_at, revoked_at, \
                 last_used_at, rotated_at, replaced_by ",
                $tail
            )
        };
    }

    pub const INSERT_KEY: &str = with_key_columns!(
        "INSERT INTO api_keys (workspace_id, id, name, mode, scopes, key_hash, redacted, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING",
        ""
    );
    pub const FIND_KEY_BY_HASH: &str = with_key_columns!("SELECT", "FROM api_keys WHERE key_hash = $1");
    /// PostgreSQL: index and tenant row in one statement (migration 0016, `crier_api_key_by_hash`).
    pub const FIND_KEY_BY_HASH_PG: &str = with_key_columns!("SELECT", "FROM crier_api_key_by_hash($1)");
    pub const GET_KEY: &str =
        with_key_columns!("SELECT", "FROM api_keys WHERE workspace_id = $1 AND id = $2");
    pub const LIST_KEYS: &str = with_key_columns!(
        "SELECT",
        "FROM api_keys WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC"
    );
    pub const REVOKE_KEY: &str = with_key_columns!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE workspace_id = $1 AND id = $2 RETURNING",
        ""
    );
    /// Marks a key rotated, only if it is still current (not rotated, revoked or expired).
    pub const MARK_KEY_ROTATED: &str = "UPDATE api_keys SET rotated_at = $3, replaced_by = $4, expires_at = $5 \
         WHERE workspace_id = $1 AND id = $2 AND rotated_at IS NULL AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $3)";
    pub const TOUCH_KEY: &str = "UPDATE api_keys SET last_used_at = $3 WHERE workspace_id = $1 AND id = $2 \
         AND (last_used_at IS NULL OR last_used_at < $3)";

    pub const INSERT_DATA_KEY: &str = "INSERT INTO data_keys (workspace_id, version, master_key_id, wrapped, created_at) \
         VALUES ($1, $2, $3, $4, $5)";
    pub const LIST_DATA_KEYS: &str = "SELECT workspace_id, version, master_key_id, wrapped, created_at FROM data_keys \
         WHERE workspace_id = $1 ORDER BY version";
    pub const REWRAP_DATA_KEY: &str = "UPDATE data_keys SET master_key_id = $4, wrapped = $5 \
         WHERE workspace_id = $1 AND version = $2 AND master_key_id = $3";

    const SECRET_COLUMNS: &str = "workspace_id, id, purpose, key_version, sealed, created_at, updated_at";
    pub const INSERT_SECRET: &str = "INSERT INTO secrets (workspace_id, id, purpose, key_version, sealed, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    pub fn get_secret() -> String {
        format!("SELECT {SECRET_COLUMNS} FROM secrets WHERE workspace_id = $1 AND id = $2")
    }
    pub fn secrets_below_version() -> String {
        format!(
            "SELECT {SECRET_COLUMNS} FROM secrets WHERE workspace_id = $1 AND key_version < $2 ORDER BY id LIMIT $3"
        )
    }
    pub const RESEAL_SECRET: &str = "UPDATE secrets SET key_version = $3, sealed = $4, updated_at = $5 \
         WHERE workspace_id = $1 AND id = $2 AND key_version = $6";

    const AUDIT_COLUMNS: &str =
        "workspace_id, seq, id, at, actor, action, target, ip, user_agent, prev_hash, hash";
    pub const AUDIT_HEAD: &str =
        "SELECT seq, hash FROM audit_events WHERE workspace_id = $1 ORDER BY seq DESC LIMIT 1";
    pub const INSERT_AUDIT: &str = "INSERT INTO audit_events (workspace_id, seq, id, at, actor, action, target, ip, \
         user_agent, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    pub fn list_audit() -> String {
        format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        )
    }
}
