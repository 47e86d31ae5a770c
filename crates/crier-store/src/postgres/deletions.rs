use async_trait::async_trait;
use crier_core::{
    DeletionJob, DeletionOutcome, DeletionStore, JobRef, NewAuditEvent, NewEvent, Post, PostId, StoreResult,
    TargetId, Timestamp, WorkspaceId,
};

use super::PgStore;
use crate::binds::append_audit;
use crate::binds_deletions::{finish_deletion, lease_deletions, request_deletion, start_deletion};
use crate::binds_publishing::insert_event;
use crate::error::map_sqlx;
use crate::rows_webhooks::sql::FAN_OUT_POSTGRES;

/// Leases due deletion jobs (unleased, or whose lease ran out: a deletion is safe to repeat)
/// across workspaces (`deletion_jobs` has no row-level security, like `jobs`). SKIP LOCKED:
/// concurrent workers each take different rows.
const LEASE_DELETIONS: &str = "WITH due AS (SELECT workspace_id, target_id FROM deletion_jobs \
         WHERE (lease_owner IS NULL OR lease_expires_at < $2) AND run_at <= $2 ORDER BY run_at LIMIT $4 \
         FOR UPDATE SKIP LOCKED) \
     UPDATE deletion_jobs SET lease_owner = $1, lease_expires_at = $3 FROM due \
     WHERE deletion_jobs.workspace_id = due.workspace_id AND deletion_jobs.target_id = due.target_id \
     RETURNING deletion_jobs.workspace_id, deletion_jobs.target_id, deletion_jobs.run_at";

#[async_trait]
impl DeletionStore for PgStore {
    async fn request_deletion(
        &self,
        workspace: WorkspaceId,
        post: PostId,
        target: TargetId,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<Post> {
        let mut tx = self.tenant_tx(workspace).await?;
        append_audit!(tx, workspace, audit, lock = super::AUDIT_LOCK);
        let post = request_deletion!(tx, workspace, post, target, at);
        Self::notify_jobs(&mut tx).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(post)
    }

    async fn lease_deletions(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<JobRef>> {
        Ok(lease_deletions!(&self.pool, LEASE_DELETIONS, owner, now, lease_until, limit))
    }

    async fn start_deletion(
        &self,
        job: JobRef,
        owner: &str,
        now: Timestamp,
    ) -> StoreResult<Option<DeletionJob>> {
        let mut tx = self.tenant_tx(job.workspace_id).await?;
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
        let mut tx = self.tenant_tx(job.target.workspace_id).await?;
        finish_deletion!(tx, job, owner, outcome, now);
        if let Some(event) = event {
            // After the row locks, as finish_attempt does.
            Self::lock_events(&mut tx, job.target.workspace_id).await?;
            insert_event!(tx, job.target.workspace_id, event, now, FAN_OUT_POSTGRES);
        }
        Self::notify_jobs(&mut tx).await?;
        tx.commit().await.map_err(map_sqlx)
    }
}
