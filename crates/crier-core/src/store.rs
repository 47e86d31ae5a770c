//! The storage traits, one per aggregate. Backends (SQLite, PostgreSQL) live in `crier-store`
//! and pass one shared conformance suite. Every tenant method takes the `WorkspaceId` first, so a
//! query that forgets its tenant does not type-check. Every security-relevant change takes the
//! `NewAuditEvent` describing it and writes it in the same transaction.

use async_trait::async_trait;

use crate::audit::{AuditEvent, NewAuditEvent};
use crate::vault::{SealedRow, WrappedDataKey};
use crate::{
    ApiKey, ApiKeyId, KeyHash, NewApiKey, NewWorkspace, SecretId, Timestamp, Workspace, WorkspaceId,
};

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
    /// Creates the workspace together with its first data key, in one transaction.
    async fn create_workspace(
        &self,
        workspace: &NewWorkspace,
        data_key: &WrappedDataKey,
        audit: &NewAuditEvent,
    ) -> StoreResult<Workspace>;
    async fn get_workspace(&self, id: WorkspaceId) -> StoreResult<Workspace>;
    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>>;
}

#[async_trait]
pub trait ApiKeyStore {
    async fn insert_api_key(&self, key: &NewApiKey, audit: &NewAuditEvent) -> StoreResult<ApiKey>;

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
        audit: &NewAuditEvent,
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
        audit: &NewAuditEvent,
    ) -> StoreResult<ApiKey>;

    async fn touch_api_key(&self, workspace: WorkspaceId, id: ApiKeyId, at: Timestamp) -> StoreResult<()>;
}

#[async_trait]
pub trait VaultStore {
    /// All of a workspace's data keys, oldest version first.
    async fn data_keys(&self, workspace: WorkspaceId) -> StoreResult<Vec<WrappedDataKey>>;

    /// Adds a new data key version. `Conflict` if that version exists.
    async fn add_data_key(&self, key: &WrappedDataKey, audit: &NewAuditEvent) -> StoreResult<()>;

    /// Replaces the wrapping of data key (`rewrapped.workspace_id`, `rewrapped.version`), only if
    /// it is still wrapped by `expected_master_key_id`. Returns whether it changed anything.
    async fn rewrap_data_key(
        &self,
        expected_master_key_id: &str,
        rewrapped: &WrappedDataKey,
    ) -> StoreResult<bool>;

    async fn insert_secret(&self, secret: &SealedRow) -> StoreResult<()>;

    async fn get_secret(&self, workspace: WorkspaceId, id: SecretId) -> StoreResult<SealedRow>;

    /// Up to `limit` secrets sealed under a data key version below `version`.
    async fn secrets_below_version(
        &self,
        workspace: WorkspaceId,
        version: i32,
        limit: i64,
    ) -> StoreResult<Vec<SealedRow>>;

    /// Replaces a secret's ciphertext, only if it is still sealed under `expected_version`.
    /// Returns whether it changed anything.
    async fn reseal_secret(&self, resealed: &SealedRow, expected_version: i32) -> StoreResult<bool>;
}

#[async_trait]
pub trait AuditStore {
    /// Appends an event that no other change carries (e.g. a vault rotation).
    async fn append_audit(&self, workspace: WorkspaceId, event: &NewAuditEvent) -> StoreResult<AuditEvent>;

    /// Rows with `seq > after`, in order, at most `limit`.
    async fn list_audit_events(
        &self,
        workspace: WorkspaceId,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditEvent>>;
}

/// Everything a Crier process needs from its database.
#[async_trait]
pub trait Store:
    WorkspaceStore
    + ApiKeyStore
    + VaultStore
    + AuditStore
    + crate::ChannelStore
    + crate::PostStore
    + crate::QueueStore
    + crate::IdempotencyStore
    + crate::SandboxStore
    + crate::WebhookStore
    + crate::MediaStore
    + crate::OAuthStore
    + crate::ConnectFlowStore
    + crate::PeopleStore
    + crate::InvitationStore
    + crate::IdentityStore
    + crate::DeauthorizationStore
    + crate::ChannelUsageStore
    + crate::PasskeyStore
    + crate::DeletionStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
}
