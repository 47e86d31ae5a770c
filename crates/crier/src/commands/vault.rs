use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use crier_core::SystemClock;
use crier_vault::{Keyring, MasterKey, MasterKeyFiles, Vault, read_key};
use std::sync::Arc;

use crate::cli::{DbArgs, SecretArg};

pub fn generate_key() {
    let key = MasterKey::generate();
    eprintln!("generated master key {}; keep it secret and backed up:", key.id());
    println!("{}", key.to_base64().as_str());
}

pub async fn rotate_master(
    db: &DbArgs,
    new_key: Option<&SecretArg>,
    throttle: Duration,
) -> anyhow::Result<()> {
    // Opening checks that the current keys open every data key before anything changes.
    let opened = super::open(db).await?;
    let previous = super::previous_keys(db)?;
    match &db.master_key {
        Some(current) => {
            let new = new_key
                .ok_or_else(|| anyhow!("keys come from CRIER_MASTER_KEY: give the new one with --new-key"))?;
            let new = MasterKey::from_base64(&new.0).context("--new-key")?;
            let new_id = new.id().to_owned();
            let mut keyring = Keyring::new(new).with(MasterKey::from_base64(&current.0)?);
            for key in previous {
                keyring = keyring.with(key);
            }
            let report =
                Vault::new(keyring, opened.store, Arc::new(SystemClock)).rotate_master(throttle).await?;
            eprintln!(
                "re-wrapped {} data keys in {} workspaces; every data key is now wrapped by {new_id}. \
                 Set CRIER_MASTER_KEY to the new key; the old one is no longer needed.",
                report.rewrapped, report.workspaces
            );
        }
        None => {
            if new_key.is_some() {
                bail!("--new-key is for CRIER_MASTER_KEY set-ups; with a key file the new key is generated");
            }
            let files = MasterKeyFiles::new(super::key_file(db));
            let current = read_key(&files.current)?.context("the master key file vanished")?;
            let next = files.next_key()?;
            let next_id = next.id().to_owned();
            let mut keyring = Keyring::new(next).with(current);
            for key in previous {
                keyring = keyring.with(key);
            }
            let report =
                Vault::new(keyring, opened.store, Arc::new(SystemClock)).rotate_master(throttle).await?;
            files.promote_next()?;
            eprintln!(
                "re-wrapped {} data keys in {} workspaces under {next_id}, now in {}. Back it up, then destroy \
                 the old key in {}.",
                report.rewrapped,
                report.workspaces,
                files.current.display(),
                files.old().display()
            );
        }
    }
    Ok(())
}

pub async fn rotate_workspace(db: &DbArgs, workspace: &str) -> anyhow::Result<()> {
    let workspace = workspace.parse().map_err(|err| anyhow!("{err}"))?;
    let opened = super::open(db).await?;
    opened.store.get_workspace(workspace).await.map_err(|_| anyhow!("no such workspace"))?;
    let report = opened.vault.rotate_workspace(workspace).await?;
    eprintln!(
        "{workspace}: {} secrets re-sealed under data key version {}{}",
        report.resealed,
        report.target_version,
        if report.new_version { "" } else { " (resumed an unfinished rotation)" }
    );
    Ok(())
}
