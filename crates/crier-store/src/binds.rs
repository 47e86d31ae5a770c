//! Parameter binding shared by both backends: the same statements (`rows::sql`) bound the same
//! way, written once. Macros rather than generic functions because sqlx's per-type encoding bounds
//! would have to be spelled out on every function; here the backend is inferred at the call.

/// `INSERT INTO api_keys … RETURNING …` for a `NewApiKey`, as a `query_as` of `ApiKeyRow`.
macro_rules! insert_key {
    ($key:expr) => {{
        let key: &crier_core::NewApiKey = $key;
        sqlx::query_as::<_, $crate::rows::ApiKeyRow>($crate::rows::sql::INSERT_KEY)
            .bind(key.workspace_id.as_uuid())
            .bind(key.id.as_uuid())
            .bind(key.name.as_str())
            .bind(key.mode.as_str())
            .bind(key.scopes.to_string())
            .bind(key.hash.as_bytes().as_slice())
            .bind(key.redacted.as_str())
            .bind($crate::rows::DbTime(key.created_at))
            .bind(key.expires_at.map($crate::rows::DbTime))
    }};
}

/// `INSERT INTO audit_events` for a chained `AuditEvent`.
macro_rules! insert_audit {
    ($row:expr) => {{
        let row: &crier_core::AuditEvent = $row;
        sqlx::query($crate::rows::sql::INSERT_AUDIT)
            .bind(row.workspace_id.as_uuid())
            .bind(row.seq)
            .bind(row.id.as_uuid())
            .bind($crate::rows::DbTime(row.at))
            .bind(row.actor.0.as_str())
            .bind(row.action.as_str())
            .bind(row.target.as_str())
            .bind(row.ip.as_deref())
            .bind(row.user_agent.as_deref())
            .bind(row.prev_hash.as_slice())
            .bind(row.hash.as_slice())
    }};
}

/// `INSERT INTO data_keys` for a `WrappedDataKey`.
macro_rules! insert_data_key {
    ($key:expr) => {{
        let key: &crier_core::WrappedDataKey = $key;
        sqlx::query($crate::rows::sql::INSERT_DATA_KEY)
            .bind(key.workspace_id.as_uuid())
            .bind(key.version)
            .bind(key.master_key_id.as_str())
            .bind(key.wrapped.as_slice())
            .bind($crate::rows::DbTime(key.created_at))
    }};
}

/// Appends `event` to `workspace`'s chain on connection `conn`, inside the caller's transaction.
/// Appends to one workspace's chain must be serialised: SQLite's single writer does that; on
/// PostgreSQL the `lock` statement (bound with the workspace id) is run first.
macro_rules! append_audit {
    ($conn:expr, $workspace:expr, $event:expr) => {{
        $crate::binds::append_audit!(@chain $conn, $workspace, $event)
    }};
    ($conn:expr, $workspace:expr, $event:expr, lock = $lock:expr) => {{
        let workspace: crier_core::WorkspaceId = $workspace;
        sqlx::query($lock).bind(workspace.as_uuid()).execute(&mut *$conn).await.map_err($crate::error::map_sqlx)?;
        $crate::binds::append_audit!(@chain $conn, workspace, $event)
    }};
    (@chain $conn:expr, $workspace:expr, $event:expr) => {{
        let workspace: crier_core::WorkspaceId = $workspace;
        let head: Option<(i64, Vec<u8>)> = sqlx::query_as($crate::rows::sql::AUDIT_HEAD)
            .bind(workspace.as_uuid())
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let (seq, hash) = match head {
            None => (0, crier_core::audit::GENESIS_HASH),
            Some((seq, hash)) => (
                seq,
                hash.try_into().map_err(|_| $crate::error::corrupt("audit_events holds a bad hash"))?,
            ),
        };
        let row = crier_core::AuditEvent::chain(workspace, seq, hash, $event.clone());
        $crate::binds::insert_audit!(&row).execute(&mut *$conn).await.map_err($crate::error::map_sqlx)?;
        row
    }};
}

pub(crate) use {append_audit, insert_audit, insert_data_key, insert_key};
