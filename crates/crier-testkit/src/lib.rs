//! Test support: a fresh, migrated store per test on either backend, so tests never reset a
//! database and never see each other's rows.
//!
//! PostgreSQL tests use the server named by `CRIER_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/crier_test`); each test gets its own schema there. The
//! database is created if missing. There is deliberately no "skip if PostgreSQL is down": a
//! suite that silently skips half its backends cannot fail.

#![expect(clippy::unwrap_used, reason = "test support: a failed set-up should stop the test loudly")]

pub mod atproto;
pub mod discord_fake;
pub mod facebook_fake;
mod fake_server;
pub mod file_server;
pub mod fixtures;
pub mod github_fake;
pub mod instagram_fake;
pub mod linkedin_fake;
pub mod mastodon_fake;
pub mod mcp_client;
pub mod oidc_issuer;
pub mod pinterest_fake;
pub mod reddit_fake;
pub mod slack_fake;
pub mod smtp_peer;
pub mod ssrf;
pub mod telegram_fake;
pub mod threads_fake;
pub mod tiktok_fake;
pub mod webhook_receiver;
pub mod x_fake;
pub mod youtube_fake;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crier_core::{Actor, Clock, NewWorkspace, RequestOrigin, Store, WorkspaceId};
use crier_store::{DatabaseUrl, StoreOptions};
use crier_vault::{Keyring, MasterKey, Vault};
use sqlx::Connection;
use tokio::sync::OnceCell;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/crier_test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The login role PostgreSQL tests connect as: a member of `crier_app`, owning nothing, so
/// row-level security is in force in every test exactly as in production.
pub const PG_APP_ROLE: &str = "crier_test_app";

/// A store of its own for one test, and what is needed to look at it from outside.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    /// What the service connects as (PostgreSQL: the unprivileged app role).
    pub url: DatabaseUrl,
    /// What migrations run as (PostgreSQL: the owner). Same as `url` on SQLite.
    pub owner_url: DatabaseUrl,
    pub backend: Backend,
    /// SQLite: the database file. PostgreSQL: `None`.
    pub sqlite_path: Option<PathBuf>,
    /// PostgreSQL: the schema the test owns.
    pub pg_schema: Option<String>,
    /// The master key this test's vault uses (base64), so a test can rebuild or replace it.
    pub master_key: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A vault over this store with the test's master key and the given clock.
    pub fn vault(&self, clock: Arc<dyn Clock>) -> Vault {
        let master = MasterKey::from_base64(&self.master_key).unwrap();
        Vault::new(Keyring::new(master), self.store.clone(), clock)
    }

    /// Creates a workspace (with its data key) as the CLI would.
    pub async fn workspace(&self, clock: Arc<dyn Clock>, name: &str) -> WorkspaceId {
        let workspace = NewWorkspace::new(name, clock.now()).unwrap();
        self.vault(clock)
            .create_workspace(&workspace, Actor::cli(), &RequestOrigin::default())
            .await
            .unwrap()
            .id
    }
}

fn fresh_master_key() -> String {
    MasterKey::generate().to_base64().to_string()
}

impl TestDb {
    pub async fn fresh(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A database URL for this test's storage, fit to hand to a `crier` process.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crier.db");
        let url = DatabaseUrl::sqlite_in(dir.path());
        let store = open(&url, None).await;
        Self {
            store,
            owner_url: url.clone(),
            url,
            backend: Backend::Sqlite,
            sqlite_path: Some(path),
            pg_schema: None,
            master_key: fresh_master_key(),
            _dir: Some(dir),
        }
    }

    async fn postgres() -> Self {
        let base = postgres_url();
        ensure_database(&base).await;
        let schema = format!("t_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let owner_url = DatabaseUrl::new(format!("{base}{separator}options=-c%20search_path%3D{schema}"));
        let url = DatabaseUrl::new(format!(
            "{}{separator}options=-c%20search_path%3D{schema}",
            base.replacen("://postgres@", &format!("://{PG_APP_ROLE}@"), 1)
        ));
        // Migrations first (they create the crier_app group role), then the app login role.
        open(&owner_url, None).await;
        ensure_app_role(&base).await;
        let store = open(&url, Some(&owner_url)).await;
        Self {
            store,
            owner_url,
            url,
            backend: Backend::Postgres,
            sqlite_path: None,
            pg_schema: Some(schema),
            master_key: fresh_master_key(),
            _dir: None,
        }
    }
}

async fn open(url: &DatabaseUrl, owner: Option<&DatabaseUrl>) -> Arc<dyn Store> {
    let options =
        StoreOptions { max_connections: 4, migrate_url: owner.cloned(), ..StoreOptions::new(url.clone()) };
    match crier_store::open(&options).await {
        Ok(store) => store,
        Err(err) => panic!(
            "could not open the test database {url}: {err} ({:?}). \
             Is PostgreSQL running? `scripts/test` starts it.",
            std::error::Error::source(&err)
        ),
    }
}

pub fn postgres_url() -> String {
    std::env::var("CRIER_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// Creates the app login role once per process (the cluster may have it from earlier runs).
async fn ensure_app_role(url: &str) {
    static CREATED: OnceCell<()> = OnceCell::const_new();
    CREATED
        .get_or_init(|| async {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let create = format!(
                "DO $$ BEGIN CREATE ROLE {PG_APP_ROLE} LOGIN IN ROLE crier_app; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            );
            sqlx::query(&create).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        })
        .await;
}

/// Creates the test database once per process if it does not exist yet.
async fn ensure_database(url: &str) {
    static CREATED: OnceCell<()> = OnceCell::const_new();
    CREATED
        .get_or_init(|| async {
            let (server, name) = url.rsplit_once('/').unwrap();
            let name = name.split('?').next().unwrap();
            let mut conn =
                sqlx::PgConnection::connect(&format!("{server}/postgres")).await.unwrap_or_else(|err| {
                    panic!(
                        "PostgreSQL is not reachable at {server}: {err}. Run `scripts/test`, which starts it."
                    )
                });
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_optional(&mut conn)
                .await
                .unwrap();
            if exists.is_none() {
                // Several test processes may race here; losing the race is fine.
                let _ = sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await;
            }
            conn.close().await.unwrap();
        })
        .await;
}

/// Reads every file of a SQLite database (main file, WAL, shared memory) as one byte string.
pub fn sqlite_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        if let Ok(more) = std::fs::read(PathBuf::from(path)) {
            bytes.extend(more);
        }
    }
    bytes
}

/// Runs `pg_dump` of one schema and returns the dump.
pub fn pg_dump(schema: &str) -> Vec<u8> {
    let url = postgres_url();
    let url = url.split('?').next().unwrap();
    let out = std::process::Command::new("pg_dump")
        .args(["--data-only", "--schema", schema, "--dbname", url])
        .output()
        .expect("pg_dump is installed (Debian: postgresql-client)");
    assert!(out.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Generates one `#[tokio::test]` per backend for each named async fn. The plain form hands
/// each fn a fresh `TestDb`; the `backend:` form hands it the `Backend`, for tests that build
/// more than a store (a server, a process) on it.
#[macro_export]
macro_rules! on_both_backends {
    (backend: $($name:ident),+ $(,)?) => {
        $crate::on_both_backends!(@each [$($name),+] |backend| backend);
    };
    ($($name:ident),+ $(,)?) => {
        $crate::on_both_backends!(@each [$($name),+] |backend| $crate::TestDb::fresh(backend).await);
    };
    (@each [$($name:ident),+] |$backend:ident| $arg:expr) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let $backend = $crate::Backend::Sqlite;
                    super::$name($arg).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let $backend = $crate::Backend::Postgres;
                    super::$name($arg).await;
                }
            )+
        }
    };
}
