//! Row shapes and SQL shared by both backends. The SQL here is the portable subset (sqlx binds
//! `$N` placeholders on SQLite too); a statement that must differ lives in its backend module.

use chrono::DateTime;
use crier_core::{ApiKey, ApiKeyId, ApiKeyMode, ScopeSet, StoreResult, Timestamp, Workspace, WorkspaceId};
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
        DateTime::from_timestamp_micros(micros)
            .map(DbTime)
            .ok_or_else(|| "timestamp out of range".into())
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

pub(crate) fn db_time_opt(t: Option<Timestamp>) -> Option<DbTime> {
    t.map(DbTime)
}

#[derive(sqlx::FromRow)]
pub(crate) struct WorkspaceRow {
    id: Uuid,
    name: String,
    created_at: DbTime,
}

impl From<WorkspaceRow> for Workspace {
    fn from(row: WorkspaceRow) -> Self {
        Workspace {
            id: WorkspaceId::from_uuid(row.id),
            name: row.name,
            created_at: row.created_at.0,
        }
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
        let scopes: ScopeSet = self
            .scopes
            .parse()
            .map_err(|_| corrupt("api_keys.scopes holds an unknown scope"))?;
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
    /// Marks a key rotated, only if it is still current (not rotated, not revoked).
    pub const MARK_KEY_ROTATED: &str = "UPDATE api_keys SET rotated_at = $3, replaced_by = $4, expires_at = $5 \
         WHERE workspace_id = $1 AND id = $2 AND rotated_at IS NULL AND revoked_at IS NULL";
    pub const TOUCH_KEY: &str = "UPDATE api_keys SET last_used_at = $3 WHERE workspace_id = $1 AND id = $2";
}
