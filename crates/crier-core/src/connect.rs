//! Connect flows: a channel being connected through the platform's consent page. The flow's
//! state (PKCE verifier, an app's client credentials, where to send the user back) is sealed in
//! the vault; the row holds only a hash of the `state` the platform echoes back, and both are
//! deleted when the flow ends, whichever way, or expires.

use async_trait::async_trait;

use crate::vault::SealedRow;
use crate::{ConnectFlowId, KeyHash, SecretId, StoreResult, Timestamp, WorkspaceId};

#[derive(Clone, PartialEq, Eq)]
pub struct ConnectFlow {
    pub workspace_id: WorkspaceId,
    pub id: ConnectFlowId,
    pub provider: String,
    /// SHA-256 of the random part of the `state` parameter.
    pub state_hash: KeyHash,
    /// The sealed flow state.
    pub secret_id: SecretId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for ConnectFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectFlow")
            .field("workspace_id", &self.workspace_id)
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A flow taken out of the store to be finished: its row and its sealed state are already gone.
#[derive(Debug, Clone)]
pub struct TakenFlow {
    pub flow: ConnectFlow,
    pub sealed: SealedRow,
}

#[async_trait]
pub trait ConnectFlowStore {
    /// Stores the flow and its sealed state in one transaction.
    async fn insert_connect_flow(&self, flow: &ConnectFlow, sealed: &SealedRow) -> StoreResult<()>;

    /// Deletes the flow and its sealed state and returns them, if the flow exists and its state
    /// hash matches; a flow is taken at most once. Expired flows are taken too (the caller
    /// refuses them), so that a late callback also cleans up.
    async fn take_connect_flow(
        &self,
        workspace: WorkspaceId,
        id: ConnectFlowId,
        state_hash: &KeyHash,
    ) -> StoreResult<Option<TakenFlow>>;

    /// Deletes flows (and their sealed state) that expired before `now`, in all workspaces.
    async fn purge_connect_flows(&self, now: Timestamp) -> StoreResult<u64>;

    /// How many flows the workspace has under way (tests and limits).
    async fn count_connect_flows(&self, workspace: WorkspaceId) -> StoreResult<i64>;
}
