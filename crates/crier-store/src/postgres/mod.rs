//! PostgreSQL: for production and for several Crier nodes sharing one database.
//!
//! Every tenant statement runs in a transaction that first sets `crier.workspace_id`
//! (transaction-local), so row-level security policies keyed on it can act as a second wall
//! behind the `workspace_id = $1` filters.

mod api_keys;
mod batch;
mod channels;
mod connect;
mod deauthorization;
mod deletions;
mod idempotency;
mod identities;
mod invitations;
mod media;
mod oauth;
mod passkeys;
mod people;
mod posts;
mod queue;
mod sandbox;
mod tenancy;
mod usage;
mod vault;
mod webhooks;
mod workspaces;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use crier_core::{Store, StoreResult, WorkspaceId};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::{Mutex, Notify};

use crate::error::map_sqlx;
use crate::{ConnectError, StoreOptions};

/// Serialises audit appends per workspace for the rest of the transaction.
const AUDIT_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended('crier.audit:' || $1::text, 0))";

/// Serialises event appends per workspace for the rest of the transaction, so that `seq` follows
/// commit order. Taken first in a transaction, before any row lock.
const EVENTS_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended('crier.events:' || $1::text, 0))";

/// The channel `wait_for_jobs` listens on.
const JOBS_CHANNEL: &str = "crier_jobs";

/// Tells listeners, on commit, that jobs were added or rescheduled. The payload is the schema, so
/// that Crier databases sharing one PostgreSQL database (as the tests' schemas do) do not wake
/// each other.
const NOTIFY_JOBS: &str = "SELECT pg_notify('crier_jobs', COALESCE(current_schema(), ''))";

/// How long to wait before listening again after the listener failed.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// One connection, apart from `pool`, for LISTEN (opened on first use).
    listen_pool: PgPool,
    /// Created on the first `wait_for_jobs` and kept; dropped after an error and created again.
    listener: Arc<Mutex<Option<JobListener>>>,
    /// Wakes the other `wait_for_jobs` callers when the one holding the listener got a notification.
    woken: Arc<Notify>,
}

struct JobListener {
    listener: PgListener,
    /// The payload meant for this store (see `NOTIFY_JOBS`).
    schema: String,
}

impl PgStore {
    pub async fn connect(options: &StoreOptions) -> Result<Self, ConnectError> {
        let connect = PgConnectOptions::from_str(options.url.expose()).map_err(ConnectError::Open)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect.clone())
            .await
            .map_err(ConnectError::Open)?;
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.connect_timeout)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(connect);
        Ok(Self { pool, listen_pool, listener: Arc::new(Mutex::new(None)), woken: Arc::new(Notify::new()) })
    }

    pub async fn close(&self) {
        // An idle listener holds the listen pool's connection; a busy one gives it back when the
        // pool closes under it.
        if let Ok(mut listener) = self.listener.try_lock() {
            listener.take();
        }
        self.listen_pool.close().await;
        self.pool.close().await;
    }

    pub async fn migrate(&self) -> Result<(), ConnectError> {
        sqlx::migrate!("./migrations/postgres").run(&self.pool).await.map_err(ConnectError::Migrate)
    }

    /// A transaction bound to one workspace: row-level security shows it that workspace's rows
    /// only, and audit appends in it are serialised per workspace by an advisory lock.
    async fn tenant_tx(&self, workspace: WorkspaceId) -> StoreResult<Transaction<'static, Postgres>> {
        // One round trip: BEGIN and the setting go as one simple query. Formatting the value into
        // the SQL is safe here: a UUID's text form is hex digits and dashes only.
        let begin =
            format!("BEGIN; SELECT set_config('crier.workspace_id', '{}', true);", workspace.as_uuid());
        self.pool.begin_with(begin).await.map_err(map_sqlx)
    }

    /// Takes the per-workspace event lock (`EVENTS_LOCK`) in `tx`.
    async fn lock_events(tx: &mut Transaction<'static, Postgres>, workspace: WorkspaceId) -> StoreResult<()> {
        sqlx::query(EVENTS_LOCK).bind(workspace.as_uuid()).execute(&mut **tx).await.map_err(map_sqlx)?;
        Ok(())
    }

    /// Wakes `wait_for_jobs` callers (in every process) when `tx` commits.
    async fn notify_jobs(tx: &mut Transaction<'static, Postgres>) -> StoreResult<()> {
        sqlx::query(NOTIFY_JOBS).execute(&mut **tx).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn listen(&self) -> Result<JobListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.listen_pool).await?;
        listener.listen(JOBS_CHANNEL).await?;
        let schema: String =
            sqlx::query_scalar("SELECT COALESCE(current_schema(), '')").fetch_one(&mut listener).await?;
        Ok(JobListener { listener, schema })
    }

    /// Returns on a notification for this store, or when the listening connection was lost (a
    /// notification may have been missed). Retries failures without end: the caller bounds it.
    async fn next_notification(&self) {
        let mut slot = self.listener.lock().await;
        loop {
            let listening = match slot.as_mut() {
                Some(listening) => listening,
                None => match self.listen().await {
                    Ok(listening) => slot.insert(listening),
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot listen for new jobs; retrying");
                        tokio::time::sleep(LISTEN_RETRY).await;
                        continue;
                    }
                },
            };
            match listening.listener.try_recv().await {
                Ok(Some(notification)) if notification.payload() == listening.schema => return,
                // Another schema's queue.
                Ok(Some(_)) => {}
                // Reconnected: notifications sent meanwhile were lost, so look at the queue.
                Ok(None) => return,
                Err(err) => {
                    tracing::warn!(error = %err, "listening for new jobs failed; reconnecting");
                    *slot = None;
                    tokio::time::sleep(LISTEN_RETRY).await;
                }
            }
        }
    }

    /// Every row one workspace-scoped statement (`$1` = the workspace) returns, read inside the
    /// workspace's own transaction as row-level security requires.
    async fn tenant_rows<R>(&self, workspace: WorkspaceId, statement: &str) -> StoreResult<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        let mut tx = self.tenant_tx(workspace).await?;
        let rows = sqlx::query_as(statement)
            .bind(workspace.as_uuid())
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(rows)
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
