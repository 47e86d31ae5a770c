use std::time::Duration;

use async_trait::async_trait;
use crier_core::{
    AttemptId, AttemptOutcome, ClaimedJob, FinishedAttempt, JobRef, NewEvent, QueueStore, Recovery,
    StoreResult, TargetId, Timestamp, WorkspaceId,
};
use uuid::Uuid;

use super::SqliteStore;
use crate::binds_publishing::insert_event;
use crate::binds_queue::{finish_attempt, recover_job, start_attempt};
use crate::error::map_sqlx;
use crate::rows::{DbTime, db_time};
use crate::rows_publishing::sql;
use crate::rows_webhooks::sql::FAN_OUT_SQLITE;

/// Leases due jobs in one statement on the single writer, so two calls never share a job.
const LEASE_JOBS: &str = "UPDATE jobs SET lease_owner = $1, lease_expires_at = $3 WHERE rowid IN \
     (SELECT rowid FROM jobs WHERE lease_owner IS NULL AND run_at <= $2 ORDER BY run_at LIMIT $4) \
     RETURNING workspace_id, target_id, run_at";

fn job_ref((workspace, target): (Uuid, Uuid)) -> JobRef {
    JobRef { workspace_id: WorkspaceId::from_uuid(workspace), target_id: TargetId::from_uuid(target) }
}

impl SqliteStore {
    /// The whole batch in one writer transaction.
    async fn start_batch(
        &self,
        jobs: &[(JobRef, AttemptId)],
        owner: &str,
        now: Timestamp,
    ) -> StoreResult<Vec<Option<ClaimedJob>>> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let mut claimed = Vec::with_capacity(jobs.len());
        for &(job, attempt) in jobs {
            claimed.push(start_attempt!(tx, job, owner, attempt, now));
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(claimed)
    }

    async fn finish_batch(&self, finished: &[FinishedAttempt], now: Timestamp) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let mut wake = false;
        for f in finished {
            wake |= finish_attempt!(tx, &f.job, &f.outcome, now);
            if let Some(event) = &f.event {
                let (_, deliveries) =
                    insert_event!(tx, f.job.target.workspace_id, event, now, FAN_OUT_SQLITE);
                wake |= deliveries > 0;
            }
        }
        tx.commit().await.map_err(map_sqlx)?;
        if wake {
            self.jobs_changed.notify_waiters();
        }
        Ok(())
    }
}

#[async_trait]
impl QueueStore for SqliteStore {
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
            .fetch_all(&self.writer)
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
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
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
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        // Wake workers for a rescheduled job or for new webhook deliveries.
        let mut rescheduled = finish_attempt!(tx, job, outcome, now);
        if let Some(event) = event {
            let (_, deliveries) = insert_event!(tx, job.target.workspace_id, event, now, FAN_OUT_SQLITE);
            rescheduled |= deliveries > 0;
        }
        tx.commit().await.map_err(map_sqlx)?;
        if rescheduled {
            self.jobs_changed.notify_waiters();
        }
        Ok(())
    }

    async fn start_attempts(
        &self,
        jobs: &[(JobRef, AttemptId)],
        owner: &str,
        now: Timestamp,
    ) -> Vec<StoreResult<Option<ClaimedJob>>> {
        match self.start_batch(jobs, owner, now).await {
            Ok(claimed) => claimed.into_iter().map(Ok).collect(),
            Err(_) => {
                let mut results = Vec::with_capacity(jobs.len());
                for &(job, attempt) in jobs {
                    results.push(self.start_attempt(job, owner, attempt, now).await);
                }
                results
            }
        }
    }

    async fn finish_attempts(&self, finished: &[FinishedAttempt], now: Timestamp) -> Vec<StoreResult<()>> {
        match self.finish_batch(finished, now).await {
            Ok(()) => finished.iter().map(|_| Ok(())).collect(),
            Err(_) => {
                let mut results = Vec::with_capacity(finished.len());
                for f in finished {
                    results.push(self.finish_attempt(&f.job, &f.outcome, now, f.event.as_ref()).await);
                }
                results
            }
        }
    }

    async fn extend_lease(&self, job: JobRef, owner: &str, until: Timestamp) -> StoreResult<bool> {
        let extended = sqlx::query(sql::EXTEND_LEASE)
            .bind(job.workspace_id.as_uuid())
            .bind(job.target_id.as_uuid())
            .bind(owner)
            .bind(db_time(until))
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(extended.rows_affected() == 1)
    }

    async fn expired_jobs(&self, now: Timestamp, limit: i64) -> StoreResult<Vec<JobRef>> {
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(sql::EXPIRED_JOBS)
            .bind(db_time(now))
            .bind(limit.max(0))
            .fetch_all(&self.reader)
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
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let recovery = recover_job!(tx, job, owner, now, lease_until);
        tx.commit().await.map_err(map_sqlx)?;
        if matches!(recovery, Some(Recovery::Requeued)) {
            self.jobs_changed.notify_waiters();
        }
        Ok(recovery)
    }

    async fn release_leases(&self, owner: &str) -> StoreResult<u64> {
        let released = sqlx::query(sql::RELEASE_OWNER_LEASES)
            .bind(owner)
            .bind(None::<Uuid>)
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        if released.rows_affected() > 0 {
            self.jobs_changed.notify_waiters();
        }
        Ok(released.rows_affected())
    }

    async fn next_due(&self) -> StoreResult<Option<Timestamp>> {
        let due: Option<DbTime> =
            sqlx::query_scalar(sql::NEXT_DUE).fetch_one(&self.reader).await.map_err(map_sqlx)?;
        Ok(due.map(|t| t.0))
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        // Elapsing is the normal way out; callers re-check the queue either way.
        let _elapsed = tokio::time::timeout(timeout, self.jobs_changed.notified()).await;
    }
}
