//! PostgreSQL: for production and for several Crier nodes sharing one database.
//!
//! Every tenant statement runs in a transaction that first sets `crier.workspace_id`
//! (transaction-local), so row-level security policies keyed on it can act as a second wall
//! behind the `workspace_id = $1` filters.

mod api_keys;
mod vault;
mod workspaces;

use std::str::FromStr;

use async_trait::async_trait;
use crier_core::{Store, StoreResult, WorkspaceId};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::error::map_sqlx;
use crate::{ConnectError, StoreOptions};

/// Serialises audit appends per workspace for the rest of the transaction.
const AUDIT_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended('crier.audit:' || $1::text, 0))";

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(options: &StoreOptions) -> Result<Self, ConnectError> {
        let connect = PgConnectOptions::from_str(options.url.expose()).map_err(ConnectError::Open)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect)
            .await
            .map_err(ConnectError::Open)?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn migrate(&self) -> Result<(), ConnectError> {
        sqlx::migrate!("./migrations/postgres").run(&self.pool).await.map_err(ConnectError::Migrate)
    }

    /// A transaction bound to one workspace: row-level security shows it that workspace's rows
    /// only, and audit appends in it are serialised per workspace by an advisory lock.
    async fn tenant_tx(&self, workspace: WorkspaceId) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        sqlx::query("SELECT set_config('crier.workspace_id', $1, true)")
            .bind(workspace.as_uuid().to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        Ok(tx)
    }

    /// Whether this connection's role escapes row-level security (a superuser or BYPASSRLS role):
    /// then only the queries' own filters separate tenants, and the operator should be told.
    pub async fn row_security_bypassed(&self) -> StoreResult<bool> {
        sqlx::query_scalar("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_sqlx)?;
        Ok(())
    }
}
