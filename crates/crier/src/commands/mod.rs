pub mod audit;
pub mod key;
pub mod mcp;
pub mod migrate;
pub mod providers;
pub mod serve;
pub mod user;
pub mod vault;
pub mod workspace;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use crier_core::{Store, SystemClock};
use crier_store::{DatabaseUrl, StoreOptions};
use crier_vault::{Keyring, MasterKey, MasterKeyFiles, Vault};

use crate::cli::DbArgs;

/// Opens (creating the data directory if needed) and migrates the configured database.
pub async fn open_store(db: &DbArgs) -> anyhow::Result<Arc<dyn Store>> {
    let url = match &db.database_url {
        Some(url) => url.clone(),
        None => {
            create_private_dir(&db.data_dir)?;
            DatabaseUrl::sqlite_in(&db.data_dir)
        }
    };
    let options = StoreOptions {
        url: url.clone(),
        migrate_url: db.migrate_database_url.clone(),
        max_connections: db.db_max_connections,
        connect_timeout: db.db_connect_timeout,
    };
    crier_store::open(&options).await.with_context(|| format!("opening the database {url}"))
}

/// The store and the vault over it, with the master key checked against every data key.
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
}

pub async fn open(db: &DbArgs) -> anyhow::Result<Opened> {
    let store = open_store(db).await?;
    let keyring = keyring(db, store.as_ref()).await?;
    let vault = Vault::new(keyring, store.clone(), Arc::new(SystemClock));
    vault.check().await.context("the vault's master key check failed")?;
    Ok(Opened { store, vault: Arc::new(vault) })
}

pub fn key_file(db: &DbArgs) -> PathBuf {
    db.master_key_file.clone().unwrap_or_else(|| db.data_dir.join("master.key"))
}

pub fn previous_keys(db: &DbArgs) -> anyhow::Result<Vec<MasterKey>> {
    let Some(list) = &db.previous_master_keys else { return Ok(Vec::new()) };
    list.0
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| MasterKey::from_base64(part).context("CRIER_PREVIOUS_MASTER_KEYS"))
        .collect()
}

/// The master keys: CRIER_MASTER_KEY, else the key file (created on first run, but never for a
/// database whose data keys some other master key wrapped), plus any previous keys.
async fn keyring(db: &DbArgs, store: &dyn Store) -> anyhow::Result<Keyring> {
    let mut keyring = match &db.master_key {
        Some(text) => Keyring::new(MasterKey::from_base64(&text.0).context("CRIER_MASTER_KEY")?),
        None => {
            let files = MasterKeyFiles::new(key_file(db));
            match files.load()? {
                Some(keyring) => keyring,
                None => {
                    let in_use = Vault::master_key_ids_in_use(store).await?;
                    if !in_use.is_empty() {
                        bail!(
                            "no master key: CRIER_MASTER_KEY is not set and {} does not exist, but this \
                             database's data keys were wrapped by {}. Restore the key file or set CRIER_MASTER_KEY",
                            files.current.display(),
                            in_use.into_iter().collect::<Vec<_>>().join(", ")
                        );
                    }
                    if let Some(parent) = files.current.parent() {
                        create_private_dir(parent)?;
                    }
                    let key = MasterKeyFiles::create(&files.current)?;
                    tracing::warn!(
                        path = %files.current.display(),
                        key_id = key.id(),
                        "generated a new master key. BACK IT UP: without it every sealed secret is lost"
                    );
                    eprintln!(
                        "crier: generated a new master key {} in {}. Back it up: without it every sealed secret is lost.",
                        key.id(),
                        files.current.display()
                    );
                    Keyring::new(key)
                }
            }
        }
    };
    for previous in previous_keys(db)? {
        keyring = keyring.with(previous);
    }
    Ok(keyring)
}

/// The data directory holds secrets (the master key file): only its owner may enter.
pub fn create_private_dir(path: &std::path::Path) -> anyhow::Result<()> {
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).with_context(|| format!("creating the data directory {}", path.display()))
}
