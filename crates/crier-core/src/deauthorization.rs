//! Platform callbacks: a platform telling Crier that a user removed its app (deauthorization), or
//! asked for their data to be deleted (Meta's two callbacks). They name a platform user, not a
//! workspace, so finding the channels concerned is a deliberate cross-tenant read through a
//! global index of ids; each channel is then changed in its own workspace's transaction: its
//! sealed credentials deleted, its status `needs_reauth` (reconnecting is the only way back), an
//! audit row and a `channel.deauthorized` event written with it.

use async_trait::async_trait;

use crate::audit::NewAuditEvent;
use crate::{ChannelId, KeyHash, StoreResult, Timestamp, WorkspaceId};

/// Which callback it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deauthorization {
    /// The user removed the app: its tokens are dead.
    Deauthorized,
    /// The user asked for their data to be deleted: the tokens go, and so does the profile Crier
    /// kept of them (the account's handle, display name and picture; its id stays, so a repeated
    /// callback still finds the channel).
    DataDeletion,
}

impl Deauthorization {
    /// The `reason` of the `channel.deauthorized` event.
    pub const fn as_str(self) -> &'static str {
        match self {
            Deauthorization::Deauthorized => "deauthorized",
            Deauthorization::DataDeletion => "data_deletion",
        }
    }
}

/// A data-deletion request as recorded for its public status page: counts only, no tenant data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionRecord {
    /// SHA-256 of the confirmation code given to the platform (the code itself is not kept).
    pub code_hash: KeyHash,
    pub provider: String,
    pub received_at: Timestamp,
    /// Channels found for the platform user.
    pub channels: i64,
    /// Sealed credentials deleted.
    pub credentials_deleted: i64,
}

#[async_trait]
pub trait DeauthorizationStore {
    /// The one lookup of channels across workspaces: those of `provider` whose platform account
    /// is `account_id`, read from the global `channel_platform_accounts` index (kept for the
    /// providers that send such callbacks), never from `channels` itself.
    async fn channels_of_platform_account(
        &self,
        provider: &str,
        account_id: &str,
    ) -> StoreResult<Vec<(WorkspaceId, ChannelId)>>;

    /// In the channel's workspace, one transaction: deletes its sealed credentials, marks it
    /// `needs_reauth`, erases the profile for a data deletion, appends `audit` and a
    /// `channel.deauthorized` event. Returns whether credentials were deleted; a channel already
    /// deauthorized is left as it is (no second audit row or event). `NotFound` if it is gone.
    async fn deauthorize_channel(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        kind: Deauthorization,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;

    async fn insert_deletion_record(&self, record: &DeletionRecord) -> StoreResult<()>;

    /// `NotFound` for an unknown code.
    async fn get_deletion_record(&self, code_hash: &KeyHash) -> StoreResult<DeletionRecord>;
}
