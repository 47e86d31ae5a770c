//! Storage traits of the publishing pipeline: channels, posts, the durable job queue, API
//! idempotency keys and the sandbox provider's delivery record.
//!
//! Queue design: each waiting target has one row in the global `jobs` table (workspace id, target
//! id, run_at, lease), written in the same transaction as the post. Workers lease jobs from all
//! workspaces (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the single writer), then open an
//! attempt in the workspace's own transaction before calling the provider. An expired lease is
//! recovered: requeued if no attempt was opened, else handed back for reconciliation.

use std::time::Duration;

use async_trait::async_trait;

use crate::audit::NewAuditEvent;
use crate::publishing::{AttemptOutcome, Channel, ClaimedJob, NewEvent, Post, PublishAttempt, TargetStatus};
use crate::vault::SealedRow;
use crate::{AttemptId, ChannelId, PostId, StoreResult, TargetId, Timestamp, WorkspaceId};

#[async_trait]
pub trait ChannelStore {
    /// The channel with its sealed credentials (`channel.credentials`), in one transaction.
    async fn create_channel(
        &self,
        channel: &Channel,
        credentials: Option<&SealedRow>,
        idempotency: Option<&IdempotentResponse>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    async fn get_channel(&self, workspace: WorkspaceId, id: ChannelId) -> StoreResult<Channel>;
    /// Oldest first.
    async fn list_channels(&self, workspace: WorkspaceId) -> StoreResult<Vec<Channel>>;
    /// Those of `ids` that are channels of the workspace, in no particular order (a post's
    /// targets, read for validation in one go).
    async fn channels_by_ids(&self, workspace: WorkspaceId, ids: &[ChannelId]) -> StoreResult<Vec<Channel>>;
    /// `Conflict` while any of its targets is not final (cancel or wait for them first). Its
    /// sealed credentials are deleted with it.
    async fn delete_channel(
        &self,
        workspace: WorkspaceId,
        id: ChannelId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
}

/// A filter and page of `list_posts`, newest first.
#[derive(Debug, Clone, Default)]
pub struct PostQuery {
    /// Only posts with at least one target in this status.
    pub status: Option<TargetStatus>,
    pub channel: Option<ChannelId>,
    /// Posts older than this one (the previous page's last id).
    pub before: Option<PostId>,
    /// Only posts due (scheduled for, or created when not scheduled) at or after this time.
    pub due_from: Option<Timestamp>,
    /// Only posts due before this time.
    pub due_until: Option<Timestamp>,
    pub limit: i64,
}

/// Which targets a cancellation stopped, and which had already started or finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancellation {
    pub post: Post,
    pub cancelled: Vec<TargetId>,
    pub not_cancelled: Vec<TargetId>,
}

#[async_trait]
pub trait PostStore {
    /// Post, targets and their jobs (and the idempotency key's response) in one transaction.
    async fn create_post(&self, post: &Post, idempotency: Option<&IdempotentResponse>) -> StoreResult<()>;
    async fn get_post(&self, workspace: WorkspaceId, id: PostId) -> StoreResult<Post>;
    async fn list_posts(&self, workspace: WorkspaceId, query: &PostQuery) -> StoreResult<Vec<Post>>;
    /// Every attempt at the post's targets, oldest first (the post's timeline); empty for a post
    /// of another workspace.
    async fn list_attempts(&self, workspace: WorkspaceId, post: PostId) -> StoreResult<Vec<PublishAttempt>>;
    /// Cancels the targets still waiting (and drops their jobs); events for each.
    async fn cancel_post(
        &self,
        workspace: WorkspaceId,
        id: PostId,
        at: Timestamp,
    ) -> StoreResult<Cancellation>;
    /// Requeues a `failed` target (or an `unknown` one, only with `retry.confirm_unknown`) with a
    /// fresh attempt budget: status `queued`, attempts 0, error cleared, a new job due at
    /// `retry.run_at`, a `post.target.retried` event and `audit`, in one transaction. `NotFound`
    /// for an absent or foreign post or target; `Conflict` for a target in any other state.
    async fn retry_target(
        &self,
        workspace: WorkspaceId,
        retry: &TargetRetry,
        audit: &NewAuditEvent,
    ) -> StoreResult<Post>;
}

/// What `retry_target` requeues.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRetry {
    pub post_id: PostId,
    pub target_id: TargetId,
    /// Also requeue an `unknown` target (whose earlier attempt may have published).
    pub confirm_unknown: bool,
    /// Now, and when the event and audit row are dated.
    pub at: Timestamp,
    /// When the new job is due (not before the channel's rate-limit pause ends).
    pub run_at: Timestamp,
}

/// One attempt's outcome, for `finish_attempts`.
#[derive(Debug, Clone)]
pub struct FinishedAttempt {
    pub job: ClaimedJob,
    pub outcome: AttemptOutcome,
    pub event: Option<NewEvent>,
}

/// A job's identity in the global queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobRef {
    pub workspace_id: WorkspaceId,
    pub target_id: TargetId,
}

/// What recovering an expired lease found.
#[derive(Debug, Clone)]
pub enum Recovery {
    /// No attempt was under way; the job is waiting again.
    Requeued,
    /// An attempt was opened and never finished: the caller now holds the lease and must find
    /// out from the provider whether it published, then finish the attempt.
    Reconcile(Box<ClaimedJob>),
    /// The target had already reached a final state; the stale job was dropped.
    Dropped,
}

#[async_trait]
pub trait QueueStore {
    /// Leases up to `limit` due jobs (run_at <= now, not leased) to `owner` until `lease_until`.
    async fn lease_jobs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<JobRef>>;

    /// In the target's workspace: marks it publishing, counts the attempt and writes the attempt
    /// row, all before any provider call. `None` (and the job dropped) when the target is no longer
    /// waiting, e.g. cancelled meanwhile. `owner` must hold the lease.
    async fn start_attempt(
        &self,
        job: JobRef,
        owner: &str,
        attempt: AttemptId,
        now: Timestamp,
    ) -> StoreResult<Option<ClaimedJob>>;

    /// Records the outcome: attempt, target, event and job (dropped when final, rescheduled and
    /// released otherwise) in one transaction. A RateLimited outcome also pushes back every other
    /// waiting job of the channel; NeedsReauth also marks the channel.
    async fn finish_attempt(
        &self,
        job: &ClaimedJob,
        outcome: &AttemptOutcome,
        now: Timestamp,
        event: Option<&NewEvent>,
    ) -> StoreResult<()>;

    /// `start_attempt` for a batch, in one transaction per workspace (one commit instead of one
    /// per job). A batch that fails as a whole (one job's lease lost, say) is retried job by job,
    /// so each result is what `start_attempt` alone would have answered.
    async fn start_attempts(
        &self,
        jobs: &[(JobRef, AttemptId)],
        owner: &str,
        now: Timestamp,
    ) -> Vec<StoreResult<Option<ClaimedJob>>>;

    /// `finish_attempt` for a batch, in one transaction per workspace, with the same fallback.
    async fn finish_attempts(&self, finished: &[FinishedAttempt], now: Timestamp) -> Vec<StoreResult<()>>;

    /// Heartbeat: extends a lease `owner` still holds. False if it lost it.
    async fn extend_lease(&self, job: JobRef, owner: &str, until: Timestamp) -> StoreResult<bool>;

    /// Jobs whose lease ended before `now`.
    async fn expired_jobs(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<JobRef>>;

    /// Takes over an expired lease (compare-and-swap) and says what to do with it. `None` if
    /// another worker got there first.
    async fn recover_job(
        &self,
        job: JobRef,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<Recovery>>;

    /// Releases every lease `owner` holds on jobs with no attempt under way (graceful shutdown).
    async fn release_leases(&self, owner: &str) -> StoreResult<u64>;

    /// The earliest run_at of any unleased job.
    async fn next_due(&self) -> StoreResult<Option<Timestamp>>;

    /// Returns when jobs may have been added (PostgreSQL: LISTEN/NOTIFY; SQLite: in-process),
    /// or after `timeout`.
    async fn wait_for_jobs(&self, timeout: Duration);
}

/// The response an idempotency key replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResponse {
    pub workspace_id: WorkspaceId,
    pub key: String,
    pub status: u16,
    pub body: Vec<u8>,
}

/// What `begin_idempotent` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is new (or an abandoned attempt's lock expired): go ahead, then finish it.
    Started,
    /// Another request with this key is under way.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
    /// The first request completed: replay this.
    Done { status: u16, body: Vec<u8> },
}

#[async_trait]
pub trait IdempotencyStore {
    /// Claims `key` for a request whose method, path and canonical body hash to `fingerprint`.
    async fn begin_idempotent(
        &self,
        workspace: WorkspaceId,
        key: &str,
        fingerprint: &[u8],
        now: Timestamp,
        lock_until: Timestamp,
        expires_at: Timestamp,
    ) -> StoreResult<IdempotencyBegin>;

    /// Stores the response to replay (for creates that did not store it in their own transaction).
    async fn finish_idempotent(&self, response: &IdempotentResponse) -> StoreResult<()>;

    /// Forgets a key whose request failed on our side (5xx), so a retry runs afresh.
    async fn abandon_idempotent(&self, workspace: WorkspaceId, key: &str) -> StoreResult<()>;

    /// Deletes keys past their expiry. Returns how many.
    async fn purge_idempotency_keys(&self, now: Timestamp) -> StoreResult<u64>;
}

/// One publish the sandbox provider performed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxDelivery {
    pub workspace_id: WorkspaceId,
    pub channel_id: ChannelId,
    pub id: uuid::Uuid,
    pub target_id: TargetId,
    pub attempt_id: AttemptId,
    pub text: String,
    pub media: Vec<crate::MediaId>,
    pub delivered_at: Timestamp,
    /// When the sandbox "deleted" it from its platform.
    pub deleted_at: Option<Timestamp>,
}

#[async_trait]
pub trait SandboxStore {
    /// Records deliveries of one workspace together, committed on their own as a remote
    /// platform's would be: all or none. A delivery of another workspace than the first's, or
    /// for a channel not in it, is `NotFound` and nothing is recorded.
    async fn record_sandbox_deliveries(&self, deliveries: &[SandboxDelivery]) -> StoreResult<()>;
    /// Marks a delivery deleted at `at` (kept: the record shows what was deleted). Returns
    /// whether the channel had it (deleted before or not).
    async fn delete_sandbox_delivery(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        id: uuid::Uuid,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Deliveries of a channel, oldest first (all, or only those for one target).
    async fn sandbox_deliveries(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        target: Option<TargetId>,
    ) -> StoreResult<Vec<SandboxDelivery>>;
}
