//! How much a channel was used lately: what a platform's per-day publishing cap (declared by its
//! provider) is checked against when a post is accepted.

use async_trait::async_trait;

use crate::{ChannelId, StoreResult, Timestamp, WorkspaceId};

#[async_trait]
pub trait ChannelUsageStore {
    /// How many targets of the channel were accepted at or after `since`, cancelled ones aside
    /// (they never reach the platform).
    async fn count_targets_since(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        since: Timestamp,
    ) -> StoreResult<i64>;
}
