use std::time::Duration;

use async_trait::async_trait;
use crier_core::{
    AttemptId, AttemptOutcome, ClaimedJob, FinishedAttempt, JobRef, NewEvent, QueueStore, Recovery,
    StoreError, StoreResult, TargetId, Timestamp, WorkspaceId,
};
use uuid::Uuid;

use super::PgStore;
use crate::binds_publishing::insert_event;
use crate::binds_queue::{finish_attempt, recover_job, start_attempt};
use crate::error::map_sqlx;
use crate::rows::{DbTime, db_time};
use crate::rows_publishing::sql;
use crate::rows_webhooks::sql::FAN_OUT_POSTGRES;

/// Leases due jobs across workspaces (`jobs` has no row-level security). SKIP LOCKED: concurrent
/// workers each take different rows, never the same one twice.
const LEASE_JOBS: &str = "WITH due AS (SELECT workspace_id, target_id FROM jobs \
         WHERE lease_owner IS NULL AND run_at <= $2 ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
     UPDATE jobs SET lease_owner = $1, lease_expires_at = $3 FROM due \
     WHERE jobs.workspace_id = due.workspace_id AND jobs.target_id = due.target_id \
     RETURNING jobs.workspace_id, jobs.target_id, jobs.run_at";

const WORKSPACES_LEASED_BY: &str = "SELECT DISTINCT workspace_id FROM jobs WHERE lease_owner = $1";

fn job_ref((workspace, target): (Uuid, Uuid)) -> JobRef {
    JobRef { workspace_id: WorkspaceId::from_uuid(workspace), target_id: TargetId::from_uuid(target) }
}

impl PgStore {
    /// Every job of one workspace started in one tenant transaction.
    async fn start_batch(
        &self,
        workspace: WorkspaceId,
        jobs: &[(JobRef, AttemptId)],
        owner: &str,
        now: Timestamp,
    ) -> StoreResult<Vec<Option<ClaimedJob>>> {
        let mut tx = self.tenant_tx(workspace).await?;
        if let Some(claimed) = Self::start_set(&mut tx, workspace, jobs, owner, now).await? {
            tx.commit().await.map_err(map_sqlx)?;
            return Ok(claimed.into_iter().map(Some).collect());
        }
        // Some lease lost or target no longer waiting: job by job, each handled as alone.
        tx.rollback().await.map_err(map_sqlx)?;
        let mut tx = self.tenant_tx(workspace).await?;
        let mut claimed = Vec::with_capacity(jobs.len());
        for &(job, attempt) in jobs {
            claimed.push(start_attempt!(tx, job, owner, attempt, now));
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(claimed)
    }

    /// Every outcome of one workspace recorded in one tenant transaction; the event lock is
    /// taken once, after all the outcomes' row locks.
    async fn finish_batch(
        &self,
        workspace: WorkspaceId,
        finished: &[&FinishedAttempt],
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.tenant_tx(workspace).await?;
        let (published, others): (Vec<&FinishedAttempt>, Vec<&FinishedAttempt>) =
            finished.iter().partition(|f| matches!(f.outcome, AttemptOutcome::Published { .. }));
        if Self::finish_published_set(&mut tx, workspace, &published, now).await?.is_none() {
            return Err(StoreError::Conflict("an attempt of the batch was already finished".into()));
        }
        let mut wake = false;
        for f in others {
            wake |= finish_attempt!(tx, &f.job, &f.outcome, now);
        }
        let events: Vec<&NewEvent> = finished.iter().filter_map(|f| f.event.as_ref()).collect();
        if !events.is_empty() {
            Self::lock_events(&mut tx, workspace).await?;
            wake |= Self::insert_events_set(&mut tx, workspace, &events, now).await?;
        }
        if wake {
            Self::notify_jobs(&mut tx).await?;
        }
        tx.commit().await.map_err(map_sqlx)
    }
}

/// Indexes grouped by workspace, in first-seen order.
fn by_workspace(workspaces: impl Iterator<Item = WorkspaceId>) -> Vec<(WorkspaceId, Vec<usize>)> {
    let mut groups: Vec<(WorkspaceId, Vec<usize>)> = Vec::new();
    for (i, workspace) in workspaces.enumerate() {
        match groups.iter_mut().find(|(ws, _)| *ws == workspace) {
            Some((_, indexes)) => indexes.push(i),
            None => groups.push((workspace, vec![i])),
        }
    }
    groups
}

#[async_trait]
impl QueueStore for PgStore {
    async fn lease_jobs(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<JobRef>> {
        let mut leased: Vec<(Uuid, Uuid, DbTime)> = sqlx::query_as(LEASE_JOBS)
            .bind(owner)
            .bind(db_time(now))
            .bind(db_time(lease_until))
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        leased.sort_by_key(|(_, _, run_at)| run_at.0);
        Ok(leased.into_iter().map(|(ws, target, _)| job_ref((ws, target))).collect())
    }

    async fn start_attempt(
        &self,
        job: JobRef,
        owner: &str,
        attempt: AttemptId,
        now: Timestamp,
    ) -> StoreResult<Option<ClaimedJob>> {
        let mut tx = self.tenant_tx(job.workspace_id).await?;
        let claimed = start_attempt!(tx, job, owner, attempt, now);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(claimed)
    }

    async fn finish_attempt(
        &self,
        job: &ClaimedJob,
        outcome: &AttemptOutcome,
        now: Timestamp,
        event: Option<&NewEvent>,
    ) -> StoreResult<()> {
        let workspace = job.target.workspace_id;
        let mut tx = self.tenant_tx(workspace).await?;
        // Wake workers for a rescheduled job or for new webhook deliveries.
        let mut rescheduled = finish_attempt!(tx, job, outcome, now);
        if let Some(event) = event {
            // Taken last, so appends to the workspace's event sequence are serialised only for
            // the few statements up to commit, not for the whole outcome's writes.
            Self::lock_events(&mut tx, workspace).await?;
            let (_, deliveries) = insert_event!(tx, workspace, event, now, FAN_OUT_POSTGRES);
            rescheduled |= deliveries > 0;
        }
        if rescheduled {
            Self::notify_jobs(&mut tx).await?;
        }
        tx.commit().await.map_err(map_sqlx)
    }

    async fn start_attempts(
        &self,
        jobs: &[(JobRef, AttemptId)],
        owner: &str,
        now: Timestamp,
    ) -> Vec<StoreResult<Option<ClaimedJob>>> {
        let mut results: Vec<Option<StoreResult<Option<ClaimedJob>>>> = jobs.iter().map(|_| None).collect();
        for (workspace, indexes) in by_workspace(jobs.iter().map(|(job, _)| job.workspace_id)) {
            let batch: Vec<_> = indexes.iter().map(|&i| jobs[i]).collect();
            match self.start_batch(workspace, &batch, owner, now).await {
                Ok(claimed) => {
                    for (&i, claimed) in indexes.iter().zip(claimed) {
                        results[i] = Some(Ok(claimed));
                    }
                }
                Err(_) => {
                    for &i in &indexes {
                        let (job, attempt) = jobs[i];
                        results[i] = Some(self.start_attempt(job, owner, attempt, now).await);
                    }
                }
            }
        }
        results.into_iter().map(|r| r.unwrap_or(Ok(None))).collect()
    }

    async fn finish_attempts(&self, finished: &[FinishedAttempt], now: Timestamp) -> Vec<StoreResult<()>> {
        let mut results: Vec<Option<StoreResult<()>>> = finished.iter().map(|_| None).collect();
        for (workspace, indexes) in by_workspace(finished.iter().map(|f| f.job.target.workspace_id)) {
            let batch: Vec<&FinishedAttempt> = indexes.iter().map(|&i| &finished[i]).collect();
            match self.finish_batch(workspace, &batch, now).await {
                Ok(()) => {
                    for &i in &indexes {
                        results[i] = Some(Ok(()));
                    }
                }
                Err(_) => {
                    for &i in &indexes {
                        let f = &finished[i];
                        results[i] =
                            Some(self.finish_attempt(&f.job, &f.outcome, now, f.event.as_ref()).await);
                    }
                }
            }
        }
        results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
    }

    async fn extend_lease(&self, job: JobRef, owner: &str, until: Timestamp) -> StoreResult<bool> {
        let extended = sqlx::query(sql::EXTEND_LEASE)
            .bind(job.workspace_id.as_uuid())
            .bind(job.target_id.as_uuid())
            .bind(owner)
            .bind(db_time(until))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(extended.rows_affected() == 1)
    }

    async fn expired_jobs(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<JobRef>> {
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(sql::EXPIRED_JOBS)
            .bind(db_time(now))
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(rows.into_iter().map(job_ref).collect())
    }

    async fn recover_job(
        &self,
        job: JobRef,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<Recovery>> {
        // The lease is taken in the target's tenant transaction, so taking it and deciding what
        // it means commit together.
        let mut tx = self.tenant_tx(job.workspace_id).await?;
        let recovery = recover_job!(tx, job, owner, now, lease_until);
        if matches!(recovery, Some(Recovery::Requeued)) {
            Self::notify_jobs(&mut tx).await?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(recovery)
    }

    async fn release_leases(&self, owner: &str) -> StoreResult<u64> {
        // Whether an attempt is open is only visible in the workspace's own transaction.
        let workspaces: Vec<Uuid> = sqlx::query_scalar(WORKSPACES_LEASED_BY)
            .bind(owner)
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        let mut released = 0;
        for workspace in workspaces {
            let mut tx = self.tenant_tx(WorkspaceId::from_uuid(workspace)).await?;
            let done = sqlx::query(sql::RELEASE_OWNER_LEASES)
                .bind(owner)
                .bind(Some(workspace))
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            if done.rows_affected() > 0 {
                Self::notify_jobs(&mut tx).await?;
            }
            tx.commit().await.map_err(map_sqlx)?;
            released += done.rows_affected();
        }
        Ok(released)
    }

    async fn next_due(&self) -> StoreResult<Option<Timestamp>> {
        let due: Option<DbTime> =
            sqlx::query_scalar(sql::NEXT_DUE).fetch_one(&self.pool).await.map_err(map_sqlx)?;
        Ok(due.map(|t| t.0))
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        let woken = self.woken.notified();
        let wait = async {
            tokio::select! {
                () = woken => {}
                () = self.next_notification() => self.woken.notify_waiters(),
            }
        };
        // Elapsing is the normal way out; callers re-check the queue either way.
        let _elapsed = tokio::time::timeout(timeout, wait).await;
    }
}
