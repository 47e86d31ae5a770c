use async_trait::async_trait;
use crier_core::{
    DeletionJob, DeletionOutcome, DeletionStore, JobRef, NewAuditEvent, NewEvent, Post, PostId, StoreResult,
    TargetId, Timestamp, WorkspaceId,
};

use super::SqliteStore;
use crate::binds::append_audit;
use crate::binds_deletions::{finish_deletion, lease_deletions, request_deletion, start_deletion};
use crate::binds_publishing::insert_event;
use crate::error::map_sqlx;
use crate::rows_webhooks::sql::FAN_OUT_SQLITE;

/// Leases due deletion jobs (unleased, or whose lease ran out: a deletion is safe to repeat) in
/// one statement on the single writer, so two calls never share one.
const LEASE_DELETIONS: &str = "UPDATE deletion_jobs SET lease_owner = $1, lease_expires_at = $3 \
     WHERE rowid IN (SELECT rowid FROM deletion_jobs WHERE (lease_owner IS NULL OR lease_expires_at < $2) \
     AND run_at <= $2 ORDER BY run_at LIMIT $4) RETURNING workspace_id, target_id, run_at";

#[async_trait]
impl DeletionStore for SqliteStore {
    async fn request_deletion(
        &self,
        workspace: WorkspaceId,
        post: PostId,
        target: TargetId,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<Post> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let post = request_deletion!(tx, workspace, post, target, at);
        append_audit!(tx, workspace, audit);
        tx.commit().await.map_err(map_sqlx)?;
        self.jobs_changed.notify_waiters();
        Ok(post)
    }

    async fn lease_deletions(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<JobRef>> {
        Ok(lease_deletions!(&self.writer, LEASE_DELETIONS, owner, now, lease_until, limit))
    }

    async fn start_deletion(
        &self,
        job: JobRef,
        owner: &str,
        now: Timestamp,
    ) -> StoreResult<Option<DeletionJob>> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let started = start_deletion!(tx, job, owner, now);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(started)
    }

    async fn finish_deletion(
        &self,
        job: &DeletionJob,
        owner: &str,
        outcome: &DeletionOutcome,
        now: Timestamp,
        event: Option<&NewEvent>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        finish_deletion!(tx, job, owner, outcome, now);
        if let Some(event) = event {
            insert_event!(tx, job.target.workspace_id, event, now, FAN_OUT_SQLITE);
        }
        tx.commit().await.map_err(map_sqlx)?;
        self.jobs_changed.notify_waiters();
        Ok(())
    }
}
