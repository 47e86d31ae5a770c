pub mod key;
pub mod migrate;
pub mod serve;
pub mod workspace;

use std::sync::Arc;

use anyhow::Context;
use crier_core::Store;
use crier_store::{DatabaseUrl, StoreOptions};

use crate::cli::DbArgs;

/// Opens (creating the data directory if needed) and migrates the configured database.
pub async fn open_store(db: &DbArgs) -> anyhow::Result<Arc<dyn Store>> {
    let url = match &db.database_url {
        Some(url) => DatabaseUrl::new(url.clone()),
        None => {
            create_private_dir(&db.data_dir)?;
            DatabaseUrl::sqlite_in(&db.data_dir)
        }
    };
    let options = StoreOptions {
        url: url.clone(),
        max_connections: db.db_max_connections,
        connect_timeout: db.db_connect_timeout,
    };
    crier_store::open(&options)
        .await
        .with_context(|| format!("opening the database {url}"))
}

/// The data directory holds secrets (later the master key file): only its owner may enter.
fn create_private_dir(path: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(path)
        .with_context(|| format!("creating the data directory {}", path.display()))
}
