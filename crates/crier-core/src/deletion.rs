//! Deleting a published post from its platform. Platform tokens are opened only in the worker, so
//! a deletion is a job: the API records the request (target `deletion = pending` and a row in
//! the global `deletion_jobs` queue, beside `jobs`), a worker leases it, calls the provider's
//! `delete` with the channel's credentials, and records the outcome. Deleting is idempotent on
//! every platform Crier supports (a post already gone counts as deleted), so an interrupted
//! deletion is simply tried again: no attempt rows and no reconciliation, unlike publishing.

use async_trait::async_trait;

use crate::audit::NewAuditEvent;
use crate::publishing::{Channel, NewEvent, Post, PostTarget};
use crate::queue::JobRef;
use crate::{PostId, StoreResult, TargetId, Timestamp, WorkspaceId};

/// A leased deletion with what the worker needs to carry it out.
#[derive(Debug, Clone)]
pub struct DeletionJob {
    pub target: PostTarget,
    pub channel: Channel,
    /// Counting this one.
    pub attempts: i32,
}

/// How a deletion attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeletionOutcome {
    Deleted,
    /// Try again at `at` (a temporary failure or a rate limit); the target stays pending.
    RetryAt {
        at: Timestamp,
        code: String,
        message: String,
    },
    Failed {
        code: String,
        message: String,
    },
}

#[async_trait]
pub trait DeletionStore {
    /// Asks for a published target to be deleted from its platform: `deletion = pending`, a
    /// deletion job due at `at`, and `audit`, in one transaction. `NotFound` for an absent or
    /// foreign post or target; `Conflict` unless the target is published and not already deleted
    /// or being deleted (a failed deletion may be asked for again).
    async fn request_deletion(
        &self,
        workspace: WorkspaceId,
        post: PostId,
        target: TargetId,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<Post>;

    /// Leases up to `limit` due deletion jobs (unleased, or whose lease expired) to `owner`.
    async fn lease_deletions(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<JobRef>>;

    /// Counts the attempt and loads the target and channel. `None` (and the job dropped) when the
    /// target no longer waits for deletion; `Conflict` if `owner` does not hold the lease.
    async fn start_deletion(
        &self,
        job: JobRef,
        owner: &str,
        now: Timestamp,
    ) -> StoreResult<Option<DeletionJob>>;

    /// Records the outcome on the target, and the event, in one transaction; the job is dropped
    /// (deleted, failed) or released until `at` (retry). `Conflict` if the lease was lost.
    async fn finish_deletion(
        &self,
        job: &DeletionJob,
        owner: &str,
        outcome: &DeletionOutcome,
        now: Timestamp,
        event: Option<&NewEvent>,
    ) -> StoreResult<()>;
}
