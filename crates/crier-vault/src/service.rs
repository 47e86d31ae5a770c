//! The vault as the rest of Crier uses it: create workspaces with their data key, seal and open
//! secrets, check the configured master key at start-up, and rotate keys resumably.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crier_core::{
    Actor, Clock, NewAuditEvent, NewWorkspace, RequestOrigin, SealedRow, SecretId, Store, StoreError,
    Workspace, WorkspaceId, WrappedDataKey,
};

use crate::data_key::{DataKey, SecretAad};
use crate::error::VaultError;
use crate::master_key::Keyring;
use crate::secret::SecretBytes;

/// How many secrets one re-seal step handles.
const RESEAL_BATCH: i64 = 100;

pub struct Vault {
    keyring: Keyring,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("keyring", &self.keyring).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MasterRotation {
    pub workspaces: usize,
    pub rewrapped: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkspaceRotation {
    /// The data key version every secret is being moved to.
    pub target_version: i32,
    /// Whether this call made that version (false: it resumed an unfinished rotation).
    pub new_version: bool,
    pub resealed: usize,
    /// Whether secrets under older versions remain (only after a limited step).
    pub remaining: bool,
}

impl Vault {
    pub fn new(keyring: Keyring, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { keyring, store, clock }
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// A key for `purpose` derived from the current master key ([`crate::MasterKey::derive`]).
    pub fn derive_key(&self, purpose: &str) -> zeroize::Zeroizing<[u8; 32]> {
        self.keyring.current().derive(purpose)
    }

    /// Master keys named by any stored data key.
    pub async fn master_key_ids_in_use(store: &dyn Store) -> Result<BTreeSet<String>, VaultError> {
        let mut ids = BTreeSet::new();
        for workspace in store.list_workspaces().await? {
            ids.extend(store.data_keys(workspace.id).await?.into_iter().map(|k| k.master_key_id));
        }
        Ok(ids)
    }

    fn wrap_new(&self, workspace: WorkspaceId, version: i32) -> WrappedDataKey {
        let data_key = DataKey::generate();
        WrappedDataKey {
            workspace_id: workspace,
            version,
            master_key_id: self.keyring.current().id().to_owned(),
            wrapped: self.keyring.current().wrap(&data_key, workspace, version),
            created_at: self.clock.now(),
        }
    }

    fn unwrap(&self, wrapped: &WrappedDataKey) -> Result<DataKey, VaultError> {
        let master =
            self.keyring.find(&wrapped.master_key_id).ok_or_else(|| VaultError::MissingMasterKey {
                workspace: wrapped.workspace_id,
                version: wrapped.version,
                wanted: wrapped.master_key_id.clone(),
                configured: self.keyring.ids(),
            })?;
        master.unwrap(&wrapped.wrapped, wrapped.workspace_id, wrapped.version)
    }

    /// Creates a workspace and its first data key in one transaction.
    pub async fn create_workspace(
        &self,
        workspace: &NewWorkspace,
        actor: Actor,
        origin: &RequestOrigin,
    ) -> Result<Workspace, VaultError> {
        let data_key = self.wrap_new(workspace.id, 1);
        let audit = NewAuditEvent::new(
            self.clock.now(),
            actor,
            "workspace.created",
            workspace.id.to_string(),
            origin,
        );
        Ok(self.store.create_workspace(workspace, &data_key, &audit).await?)
    }

    async fn data_key(
        &self,
        workspace: WorkspaceId,
        version: Option<i32>,
    ) -> Result<(i32, DataKey), VaultError> {
        let keys = self.store.data_keys(workspace).await?;
        let wrapped = match version {
            None => keys.last(),
            Some(v) => keys.iter().find(|k| k.version == v),
        }
        .ok_or(VaultError::NoDataKey { workspace, version: version.unwrap_or(1) })?;
        Ok((wrapped.version, self.unwrap(wrapped)?))
    }

    /// Seals `plaintext` under the workspace's current data key and stores it.
    pub async fn seal(
        &self,
        workspace: WorkspaceId,
        purpose: &str,
        plaintext: &[u8],
    ) -> Result<SecretId, VaultError> {
        let row = self.seal_row(workspace, purpose, plaintext).await?;
        self.store.insert_secret(&row).await?;
        Ok(row.id)
    }

    /// Seals `plaintext` into a row the caller stores in its own transaction (with the thing
    /// that refers to it, so neither exists without the other).
    pub async fn seal_row(
        &self,
        workspace: WorkspaceId,
        purpose: &str,
        plaintext: &[u8],
    ) -> Result<SealedRow, VaultError> {
        let (version, key) = self.data_key(workspace, None).await?;
        let id = SecretId::generate();
        let now = self.clock.now();
        let aad = SecretAad { workspace, purpose, row: id, key_version: version };
        let row = SealedRow {
            workspace_id: workspace,
            id,
            purpose: purpose.to_owned(),
            key_version: version,
            sealed: key.seal(plaintext, &aad),
            created_at: now,
            updated_at: now,
        };
        Ok(row)
    }

    /// Opens a stored secret. Only the worker and the connect flow should call this.
    pub async fn open(&self, workspace: WorkspaceId, id: SecretId) -> Result<SecretBytes, VaultError> {
        let row = self.store.get_secret(workspace, id).await?;
        self.open_row(&row).await
    }

    /// Replaces a stored secret's plaintext under the same id and purpose (a platform rotated a
    /// token), sealed under the workspace's current data key. A rotation resealing the row at
    /// the same moment is waited out by trying again.
    pub async fn replace(
        &self,
        workspace: WorkspaceId,
        id: SecretId,
        plaintext: &[u8],
    ) -> Result<(), VaultError> {
        for _ in 0..3 {
            let current = self.store.get_secret(workspace, id).await?;
            let (version, key) = self.data_key(workspace, None).await?;
            let aad = SecretAad { workspace, purpose: &current.purpose, row: id, key_version: version };
            let replaced = SealedRow {
                key_version: version,
                sealed: key.seal(plaintext, &aad),
                updated_at: self.clock.now(),
                ..current.clone()
            };
            if self.store.reseal_secret(&replaced, current.key_version).await? {
                return Ok(());
            }
        }
        Err(VaultError::Store(StoreError::Conflict("the secret kept changing while it was replaced".into())))
    }

    /// Opens a sealed row the caller already holds (a connect flow taken out of the store).
    pub async fn open_sealed(&self, row: &SealedRow) -> Result<SecretBytes, VaultError> {
        self.open_row(row).await
    }

    async fn open_row(&self, row: &SealedRow) -> Result<SecretBytes, VaultError> {
        let (_, key) = self.data_key(row.workspace_id, Some(row.key_version)).await?;
        let aad = SecretAad {
            workspace: row.workspace_id,
            purpose: &row.purpose,
            row: row.id,
            key_version: row.key_version,
        };
        key.open(&row.sealed, &aad).ok_or(VaultError::OpenFailed)
    }

    /// Start-up check: every data key of every workspace opens with the configured keys, and a
    /// workspace made before the vault existed gets its first data key. Returns the workspace count.
    pub async fn check(&self) -> Result<usize, VaultError> {
        let workspaces = self.store.list_workspaces().await?;
        for workspace in &workspaces {
            let keys = self.store.data_keys(workspace.id).await?;
            if keys.is_empty() {
                let audit = NewAuditEvent::new(
                    self.clock.now(),
                    Actor("system".into()),
                    "vault.data_key.created",
                    format!("{}/1", workspace.id),
                    &RequestOrigin::default(),
                );
                self.store.add_data_key(&self.wrap_new(workspace.id, 1), &audit).await?;
            }
            for key in &keys {
                self.unwrap(key)?;
            }
        }
        Ok(workspaces.len())
    }

    /// Re-wraps every data key not yet wrapped by the current master key. Safe to interrupt and
    /// run again: each data key is re-wrapped in its own compare-and-swap update, and both the
    /// old and new master keys stay in the keyring until this returns.
    pub async fn rotate_master(&self, throttle: Duration) -> Result<MasterRotation, VaultError> {
        let target = self.keyring.current();
        let mut report = MasterRotation::default();
        for workspace in self.store.list_workspaces().await? {
            report.workspaces += 1;
            let mut changed = false;
            for wrapped in self.store.data_keys(workspace.id).await? {
                if wrapped.master_key_id == target.id() {
                    continue;
                }
                let data_key = self.unwrap(&wrapped)?;
                let rewrapped = WrappedDataKey {
                    master_key_id: target.id().to_owned(),
                    wrapped: target.wrap(&data_key, workspace.id, wrapped.version),
                    ..wrapped.clone()
                };
                if self.store.rewrap_data_key(&wrapped.master_key_id, &rewrapped).await? {
                    report.rewrapped += 1;
                    changed = true;
                }
            }
            if changed {
                let audit = NewAuditEvent::new(
                    self.clock.now(),
                    Actor::cli(),
                    "vault.master_key.rotated",
                    target.id().to_owned(),
                    &RequestOrigin::default(),
                );
                self.store.append_audit(workspace.id, &audit).await?;
                if !throttle.is_zero() {
                    // Spares a busy database during a long rotation.
                    tokio::time::sleep(throttle).await;
                }
            }
        }
        Ok(report)
    }

    /// Moves every secret of `workspace` to a new data key. Resumes an unfinished rotation rather
    /// than starting another.
    pub async fn rotate_workspace(&self, workspace: WorkspaceId) -> Result<WorkspaceRotation, VaultError> {
        let mut total = self.rotate_workspace_step(workspace, i64::MAX).await?;
        while total.remaining {
            let step = self.rotate_workspace_step(workspace, i64::MAX).await?;
            total.resealed += step.resealed;
            total.remaining = step.remaining;
        }
        Ok(total)
    }

    /// One bounded step of a workspace rotation: re-seals at most `limit` secrets.
    pub async fn rotate_workspace_step(
        &self,
        workspace: WorkspaceId,
        limit: i64,
    ) -> Result<WorkspaceRotation, VaultError> {
        let keys = self.store.data_keys(workspace).await?;
        let latest = keys.last().map(|k| k.version).ok_or(VaultError::NoDataKey { workspace, version: 1 })?;
        let pending = !self.store.secrets_below_version(workspace, latest, 1).await?.is_empty();
        let (target_version, new_version) = if pending {
            (latest, false)
        } else {
            let audit = NewAuditEvent::new(
                self.clock.now(),
                Actor::cli(),
                "vault.data_key.created",
                format!("{workspace}/{}", latest + 1),
                &RequestOrigin::default(),
            );
            match self.store.add_data_key(&self.wrap_new(workspace, latest + 1), &audit).await {
                Ok(()) => {}
                // Another rotation got there first; carry on with its version.
                Err(StoreError::Conflict(_)) => {}
                Err(other) => return Err(other.into()),
            }
            (latest + 1, true)
        };
        let (_, target_key) = self.data_key(workspace, Some(target_version)).await?;
        let mut resealed = 0usize;
        let mut budget = limit;
        loop {
            let batch =
                self.store.secrets_below_version(workspace, target_version, RESEAL_BATCH.min(budget)).await?;
            if batch.is_empty() {
                return Ok(WorkspaceRotation { target_version, new_version, resealed, remaining: false });
            }
            for row in batch {
                let plain = self.open_row(&row).await?;
                let aad =
                    SecretAad { workspace, purpose: &row.purpose, row: row.id, key_version: target_version };
                let resealed_row = SealedRow {
                    key_version: target_version,
                    sealed: target_key.seal(plain.expose(), &aad),
                    updated_at: self.clock.now(),
                    ..row.clone()
                };
                if self.store.reseal_secret(&resealed_row, row.key_version).await? {
                    resealed += 1;
                }
                budget -= 1;
            }
            if budget <= 0 {
                let remaining =
                    !self.store.secrets_below_version(workspace, target_version, 1).await?.is_empty();
                return Ok(WorkspaceRotation { target_version, new_version, resealed, remaining });
            }
        }
    }
}
