//! Storage backends for Crier: embedded SQLite (the zero-set-up default) and PostgreSQL (for
//! production and several nodes). Both implement `crier_core::Store` and pass the same
//! conformance suite (`tests/conformance.rs`). The backend is chosen by the URL scheme.

mod binds;
mod binds_deletions;
mod binds_media;
mod binds_publishing;
mod binds_queue;
mod binds_webhooks;
mod connect_store;
mod deauthorization_store;
mod error;
mod identity_store;
mod invitation_store;
mod media_store;
mod oauth;
mod passkey_store;
mod people_store;
pub mod postgres;
mod rows;
mod rows_media;
mod rows_publishing;
mod rows_webhooks;
pub mod sqlite;
mod usage_store;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crier_core::Store;

pub use error::ConnectError;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// A database URL whose password never reaches a log line or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The default embedded database inside the data directory.
    pub fn sqlite_in(data_dir: &Path) -> Self {
        Self(format!("sqlite://{}", data_dir.join("crier.db").display()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }

    /// The URL with any password (in the userinfo or a `password`/`sslpassword` query
    /// parameter) replaced by `***`.
    pub fn redacted(&self) -> String {
        let Ok(mut parsed) = url::Url::parse(&self.0) else {
            return "<unparseable database url>".to_owned();
        };
        if parsed.password().is_some() {
            // Cannot fail: the URL already has a password, so it has a host.
            let _ = parsed.set_password(Some("***"));
        }
        let secret_param =
            |key: &str| matches!(key.to_ascii_lowercase().as_str(), "password" | "sslpassword");
        if parsed.query_pairs().any(|(key, _)| secret_param(&key)) {
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    (k.to_string(), if secret_param(&k) { "***".to_owned() } else { v.to_string() })
                })
                .collect();
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
        parsed.to_string()
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// What the service connects as. On PostgreSQL, a member of `crier_app` that owns nothing,
    /// so row-level security applies to it.
    pub url: DatabaseUrl,
    /// What migrations run as (PostgreSQL: the tables' owner). Defaults to `url`.
    pub migrate_url: Option<DatabaseUrl>,
    /// Upper bound on pooled connections (PostgreSQL; SQLite readers).
    pub max_connections: u32,
    /// How long to keep trying to reach the database before giving up.
    pub connect_timeout: std::time::Duration,
}

impl StoreOptions {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            migrate_url: None,
            max_connections: 10,
            connect_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// Opens the database named by the URL scheme and applies pending migrations.
pub async fn open(options: &StoreOptions) -> Result<Arc<dyn Store>, ConnectError> {
    if options.url.is_postgres() {
        match &options.migrate_url {
            Some(owner_url) => {
                let owner = PgStore::connect(&StoreOptions {
                    url: owner_url.clone(),
                    migrate_url: None,
                    max_connections: 1,
                    ..options.clone()
                })
                .await?;
                owner.migrate().await?;
                owner.close().await;
            }
            None => PgStore::connect(options).await?.migrate().await?,
        }
        let store = PgStore::connect(options).await?;
        if store.row_security_bypassed().await.unwrap_or(false) {
            tracing::warn!(
                "connected to PostgreSQL as a superuser or BYPASSRLS role: row-level security is not in force. \
                 Connect as a member of crier_app (see docs/SECURITY.md)"
            );
        }
        Ok(Arc::new(store))
    } else if options.url.expose().contains(":memory:") || options.url.expose().contains("mode=memory") {
        // The reader and writer pools would each get a separate, empty database.
        Err(ConnectError::InMemorySqlite)
    } else if options.url.expose().starts_with("sqlite:") {
        let store = SqliteStore::connect(options).await?;
        store.migrate().await?;
        Ok(Arc::new(store))
    } else {
        Err(ConnectError::UnsupportedScheme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        let url = DatabaseUrl::new("postgres://crier:hunter2@db.internal:5432/crier");
        assert_eq!(url.redacted(), "postgres://crier:***@db.internal:5432/crier");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(DatabaseUrl::new("sqlite://./x.db").redacted(), "sqlite://./x.db");
        let query = DatabaseUrl::new("postgres://db/crier?user=crier&password=hunter2&sslmode=require");
        assert!(!query.redacted().contains("hunter2"), "{}", query.redacted());
        assert!(query.redacted().contains("sslmode=require"));
    }
}
