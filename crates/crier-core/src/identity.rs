//! Sign-in through another service (OpenID Connect, GitHub): the identities linked to people,
//! and the short-lived state of a sign-in under way. Both tables are global, like `users`: a
//! sign-in finds its flow and its identity before any tenant is known.

use async_trait::async_trait;

use crate::audit::NewAuditEvent;
use crate::{KeyHash, StoreResult, Timestamp, WorkspaceId};

/// An account at an identity provider, linked to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdentity {
    /// The issuer URL of an OpenID Connect provider, or `github`.
    pub provider: String,
    /// The provider's stable id of the account (`sub`, GitHub's numeric user id).
    pub subject: String,
    pub user_id: uuid::Uuid,
    /// The verified e-mail address the provider gave when the identity was linked.
    pub email: Option<String>,
    pub created_at: Timestamp,
}

/// A sign-in (or a link) waiting for the provider to send the browser back. Found by the hash
/// of the random `state` the provider echoes, and only together with the hash of the random
/// cookie of the browser that started it; nothing secret is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoFlow {
    pub state_hash: KeyHash,
    pub browser_hash: KeyHash,
    /// The configured provider's name (`oidc`, `google`, `github`).
    pub provider: String,
    /// Set when a signed-in person links an identity to their own account.
    pub link_user: Option<uuid::Uuid>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for SsoFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoFlow")
            .field("provider", &self.provider)
            .field("link_user", &self.link_user)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait IdentityStore {
    async fn find_identity(&self, provider: &str, subject: &str) -> StoreResult<Option<UserIdentity>>;
    /// A person's linked identities, oldest first.
    async fn list_identities(&self, user: uuid::Uuid) -> StoreResult<Vec<UserIdentity>>;
    /// Links an identity, audited in `workspace` in the same transaction. `Conflict` if that
    /// provider's account is linked already (to anyone).
    async fn link_identity(
        &self,
        identity: &UserIdentity,
        workspace: WorkspaceId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Unlinks one of the person's identities, audited; false if they had no such identity.
    async fn unlink_identity(
        &self,
        user: uuid::Uuid,
        provider: &str,
        subject: &str,
        workspace: WorkspaceId,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;

    async fn insert_sso_flow(&self, flow: &SsoFlow) -> StoreResult<()>;
    /// Deletes and returns the flow whose state and browser hashes both match; a flow is taken
    /// at most once, and a mismatched browser takes (and changes) nothing. Expired flows are
    /// taken too (the caller refuses them).
    async fn take_sso_flow(
        &self,
        state_hash: &KeyHash,
        browser_hash: &KeyHash,
    ) -> StoreResult<Option<SsoFlow>>;
    /// Deletes flows that expired before `now`.
    async fn purge_sso_flows(&self, now: Timestamp) -> StoreResult<u64>;
}
