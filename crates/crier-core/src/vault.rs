//! What the storage layer keeps for the vault: opaque bytes plus the labels needed to open them.
//! The cryptography itself lives in `crier-vault`; nothing here can decrypt anything.

use crate::{SecretId, Timestamp, WorkspaceId};

/// A workspace's data key, encrypted ("wrapped") under a master key.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedDataKey {
    pub workspace_id: WorkspaceId,
    /// 1 for the key made with the workspace; each workspace rotation adds one.
    pub version: i32,
    /// Fingerprint of the master key that wrapped it, so the right one is picked (and a wrong
    /// one named) without trial decryption.
    pub master_key_id: String,
    /// nonce || AES-256-GCM ciphertext and tag.
    pub wrapped: Vec<u8>,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for WrappedDataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrappedDataKey")
            .field("workspace_id", &self.workspace_id)
            .field("version", &self.version)
            .field("master_key_id", &self.master_key_id)
            .finish_non_exhaustive()
    }
}

/// A sealed secret as stored: which data key version sealed it, and nonce || ciphertext.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedRow {
    pub workspace_id: WorkspaceId,
    pub id: SecretId,
    /// What the secret is for (`channel_token`, `webhook_secret`…); bound into the AAD.
    pub purpose: String,
    pub key_version: i32,
    pub sealed: Vec<u8>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for SealedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedRow")
            .field("workspace_id", &self.workspace_id)
            .field("id", &self.id)
            .field("purpose", &self.purpose)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}
