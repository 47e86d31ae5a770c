use crier_core::{StoreError, WorkspaceId};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("a master key must be 32 bytes, base64-encoded")]
    MalformedMasterKey,
    #[error(
        "the data key of {workspace} (version {version}) was wrapped by master key {wanted}, which is not \
         configured (configured: {configured}); check CRIER_MASTER_KEY, the key file and CRIER_PREVIOUS_MASTER_KEYS"
    )]
    MissingMasterKey { workspace: WorkspaceId, version: i32, wanted: String, configured: String },
    #[error(
        "the data key of {workspace} (version {version}) does not open with master key {master}: wrong key or tampered row"
    )]
    UnwrapFailed { workspace: WorkspaceId, version: i32, master: String },
    #[error("{workspace} has no data key version {version}")]
    NoDataKey { workspace: WorkspaceId, version: i32 },
    #[error("the secret does not open: it was tampered with, or moved from another row or workspace")]
    OpenFailed,
    #[error("master key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}
