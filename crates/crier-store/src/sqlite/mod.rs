//! The embedded default: one SQLite file in WAL mode. Writes go through a pool of exactly one
//! connection (SQLite allows one writer at a time; queueing in the pool beats `SQLITE_BUSY`
//! retries), reads through a separate pool that WAL lets run beside the writer.

mod api_keys;
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
use crier_core::{Store, StoreResult};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::Notify;

use crate::error::map_sqlx;
use crate::{ConnectError, StoreOptions};

#[derive(Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    /// Wakes `wait_for_jobs` in this process when a commit added or rescheduled jobs (one
    /// process owns the file, so in-process is enough).
    jobs_changed: Arc<Notify>,
}

impl SqliteStore {
    pub async fn connect(options: &StoreOptions) -> Result<Self, ConnectError> {
        let connect = SqliteConnectOptions::from_str(options.url.expose())
            .map_err(ConnectError::Open)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await
            .map_err(ConnectError::Open)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect.read_only(true))
            .await
            .map_err(ConnectError::Open)?;
        Ok(Self { reader, writer, jobs_changed: Arc::new(Notify::new()) })
    }

    pub async fn migrate(&self) -> Result<(), ConnectError> {
        sqlx::migrate!("./migrations/sqlite").run(&self.writer).await.map_err(ConnectError::Migrate)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(map_sqlx)?;
        Ok(())
    }
}
