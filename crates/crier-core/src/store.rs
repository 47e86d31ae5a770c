//! The storage traits, one per aggregate. Backends (SQLite, PostgreSQL) live in `crier-store`
//! and pass one shared conformance suite. Every tenant method takes the `WorkspaceId` first, so a
//! query that forgets its tenant does not type-check.

use async_trait::async_trait;

use crate::{ApiKey, ApiKeyId, KeyHash, NewApiKey, NewWorkspace, Timestamp, Workspace, WorkspaceId};

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Absent, or belonging to another workspace: the two are deliberately indistinguishable.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a state precondition refused the change.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("storage failure")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[async_trait]
pub trait WorkspaceStore {
    async fn create_workspace(&self, workspace: &NewWorkspace) -> StoreResult<Workspace>;
    async fn get_workspace(&self, id: WorkspaceId) -> StoreResult<Workspace>;
    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>>;
}

#[async_trait]
pub trait ApiKeyStore {
    async fn insert_api_key(&self, key: &NewApiKey) -> StoreResult<ApiKey>;

    /// The one lookup not scoped by workspace: authentication, where the key names its workspace.
    async fn find_api_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<ApiKey>>;

    async fn get_api_key(&self, workspace: WorkspaceId, id: ApiKeyId) -> StoreResult<ApiKey>;

    /// Newest first.
    async fn list_api_keys(&self, workspace: WorkspaceId) -> StoreResult<Vec<ApiKey>>;

    /// Revokes at `at`; revoking a revoked key keeps the first revocation time.
    async fn revoke_api_key(
        &self,
        workspace: WorkspaceId,
        id: ApiKeyId,
        at: Timestamp,
    ) -> StoreResult<ApiKey>;

    /// In one transaction: stores `replacement`, and marks `old` rotated at `replacement.created_at`,
    /// replaced by the new key and expiring at `old_expires_at`. `Conflict` if `old` was already
    /// rotated or is revoked.
    async fn rotate_api_key(
        &self,
        workspace: WorkspaceId,
        old: ApiKeyId,
        replacement: &NewApiKey,
        old_expires_at: Timestamp,
    ) -> StoreResult<ApiKey>;

    async fn touch_api_key(&self, workspace: WorkspaceId, id: ApiKeyId, at: Timestamp) -> StoreResult<()>;
}

/// Everything a Crier process needs from its database.
#[async_trait]
pub trait Store: WorkspaceStore + ApiKeyStore + Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
}
