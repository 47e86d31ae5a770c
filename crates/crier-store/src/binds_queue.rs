//! The job queue's transaction bodies (`QueueStore`), shared by both backends like
//! `binds_publishing`: the same portable statements on `$conn` (a transaction), `?` returning
//! driver errors from the calling method.

/// What a worker needs to publish a target: the target (with its lease), the post's text, the
/// channel, and the attempt.
macro_rules! claimed_job {
    ($conn:expr, $workspace:expr, $target:expr, $attempt:expr) => {{
        use $crate::rows_publishing::{ChannelRow, TargetRow, sql};
        let workspace: crier_core::WorkspaceId = $workspace;
        let target_id: crier_core::TargetId = $target;
        let target: TargetRow = sqlx::query_as(sql::GET_TARGET)
            .bind(workspace.as_uuid())
            .bind(target_id.as_uuid())
            .fetch_one(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let target = target.into_domain()?;
        let (post_text, post_media): (String, $crate::rows_publishing::DbJson) =
            sqlx::query_as(sql::POST_TEXT_OF_TARGET)
                .bind(workspace.as_uuid())
                .bind(target_id.as_uuid())
                .fetch_one(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
        let channel: ChannelRow = sqlx::query_as(&sql::get_channel())
            .bind(workspace.as_uuid())
            .bind(target.channel_id.as_uuid())
            .fetch_one(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        crier_core::ClaimedJob {
            target,
            post_text,
            post_media: $crate::rows_media::media_ids_from_json(&post_media.0)?,
            channel: channel.into_domain()?,
            attempt_id: $attempt,
        }
    }};
}

/// `QueueStore::start_attempt`'s body. Evaluates to `Option<ClaimedJob>`; `Conflict` (returned)
/// if `owner` does not hold the job's lease.
macro_rules! start_attempt {
    ($conn:expr, $job:expr, $owner:expr, $attempt:expr, $now:expr) => {{
        use $crate::rows_publishing::sql;
        let job: crier_core::JobRef = $job;
        let owner: &str = $owner;
        let attempt: crier_core::AttemptId = $attempt;
        let now: crier_core::Timestamp = $now;
        let (ws, target) = (job.workspace_id.as_uuid(), job.target_id.as_uuid());
        let held: Option<uuid::Uuid> = sqlx::query_scalar(sql::CHECK_LEASE)
            .bind(ws)
            .bind(target)
            .bind(owner)
            .bind(DbTime(now))
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        if held.is_none() {
            return Err(crier_core::StoreError::Conflict(
                "the job's lease is not held by this worker".into(),
            ));
        }
        let started = sqlx::query(sql::START_TARGET)
            .bind(ws)
            .bind(target)
            .bind($crate::rows::DbTime(now))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        if started.rows_affected() == 0 {
            // Not waiting. A target already publishing keeps its job (its open attempt is
            // settled by finish_attempt, or by recovery once the lease expires); any other
            // (final, or gone) has no more use for it.
            let status: Option<String> = sqlx::query_scalar(sql::TARGET_STATUS)
                .bind(ws)
                .bind(target)
                .fetch_optional(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            if status.as_deref() != Some(crier_core::TargetStatus::Publishing.as_str()) {
                sqlx::query(sql::DELETE_JOB)
                    .bind(ws)
                    .bind(target)
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
            }
            None
        } else {
            sqlx::query(sql::INSERT_ATTEMPT)
                .bind(ws)
                .bind(attempt.as_uuid())
                .bind(target)
                .bind($crate::rows::DbTime(now))
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            Some($crate::binds_queue::claimed_job!($conn, job.workspace_id, job.target_id, attempt))
        }
    }};
}

/// `QueueStore::finish_attempt`'s body, without the event. `Conflict` (returned) if the attempt
/// was already finished. Evaluates to whether the job was rescheduled (workers should look again).
macro_rules! finish_attempt {
    ($conn:expr, $job:expr, $outcome:expr, $now:expr) => {{
        use crier_core::AttemptOutcome;
        use $crate::rows::DbTime;
        use $crate::rows_publishing::sql;
        let job: &crier_core::ClaimedJob = $job;
        let outcome: &AttemptOutcome = $outcome;
        let now: crier_core::Timestamp = $now;
        let ws = job.target.workspace_id.as_uuid();
        let target = job.target.id.as_uuid();
        let channel = job.target.channel_id.as_uuid();
        let columns = $crate::rows_publishing::outcome_columns(outcome);
        let closed = sqlx::query(sql::FINISH_ATTEMPT)
            .bind(ws)
            .bind(job.attempt_id.as_uuid())
            .bind(columns.outcome)
            .bind(DbTime(now))
            .bind(columns.provider_post_id)
            .bind(columns.error_code)
            .bind(columns.error_message)
            .bind(target)
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        if closed.rows_affected() == 0 {
            return Err(crier_core::StoreError::Conflict(
                "the attempt is unknown or already finished".into(),
            ));
        }
        let ended = |status: crier_core::TargetStatus, run_at: Option<crier_core::Timestamp>| {
            sqlx::query(sql::TARGET_OUTCOME)
                .bind(ws)
                .bind(target)
                .bind(status.as_str())
                .bind(columns.error_code)
                .bind(columns.error_message)
                .bind(DbTime(now))
                .bind(run_at.map(DbTime))
        };
        let rescheduled = match outcome {
            AttemptOutcome::Published { provider_post_id, url } => {
                sqlx::query(sql::TARGET_PUBLISHED)
                    .bind(ws)
                    .bind(target)
                    .bind(provider_post_id.as_str())
                    .bind(url.as_deref())
                    .bind(DbTime(now))
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                None
            }
            AttemptOutcome::RetryAt { at, .. } => {
                ended(crier_core::TargetStatus::RetryScheduled, Some(*at))
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                Some(*at)
            }
            AttemptOutcome::RateLimited { at } => {
                sqlx::query(sql::TARGET_RATE_LIMITED)
                    .bind(ws)
                    .bind(target)
                    .bind(DbTime(*at))
                    .bind(DbTime(now))
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                // The channel's other waiting targets, then their jobs, then the channel itself.
                sqlx::query(sql::PUSH_BACK_CHANNEL_TARGETS)
                    .bind(ws)
                    .bind(channel)
                    .bind(target)
                    .bind(DbTime(*at))
                    .bind(DbTime(now))
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                sqlx::query(sql::PUSH_BACK_CHANNEL_JOBS)
                    .bind(ws)
                    .bind(channel)
                    .bind(target)
                    .bind(DbTime(*at))
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                sqlx::query(sql::PAUSE_CHANNEL)
                    .bind(ws)
                    .bind(channel)
                    .bind(DbTime(*at))
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                Some(*at)
            }
            AttemptOutcome::Failed { .. } | AttemptOutcome::NeedsReauth { .. } => {
                ended(crier_core::TargetStatus::Failed, None)
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                if matches!(outcome, AttemptOutcome::NeedsReauth { .. }) {
                    sqlx::query(sql::CHANNEL_NEEDS_REAUTH)
                        .bind(ws)
                        .bind(channel)
                        .execute(&mut *$conn)
                        .await
                        .map_err($crate::error::map_sqlx)?;
                }
                None
            }
            AttemptOutcome::Unknown { .. } => {
                ended(crier_core::TargetStatus::Unknown, None)
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                None
            }
        };
        let job_update = match rescheduled {
            Some(at) => sqlx::query(sql::RELEASE_JOB).bind(ws).bind(target).bind(Some(DbTime(at))),
            None => sqlx::query(sql::DELETE_JOB).bind(ws).bind(target),
        };
        job_update.execute(&mut *$conn).await.map_err($crate::error::map_sqlx)?;
        rescheduled.is_some()
    }};
}

/// `QueueStore::recover_job`'s body. Evaluates to `Option<Recovery>`.
macro_rules! recover_job {
    ($conn:expr, $job:expr, $owner:expr, $now:expr, $lease_until:expr) => {{
        use crier_core::{Recovery, TargetStatus};
        use $crate::rows::DbTime;
        use $crate::rows_publishing::sql;
        let job: crier_core::JobRef = $job;
        let (ws, target) = (job.workspace_id.as_uuid(), job.target_id.as_uuid());
        let now: crier_core::Timestamp = $now;
        let taken = sqlx::query(sql::TAKE_EXPIRED_LEASE)
            .bind(ws)
            .bind(target)
            .bind($owner)
            .bind(DbTime(now))
            .bind(DbTime($lease_until))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        if taken.rows_affected() == 0 {
            None
        } else {
            let status: Option<String> = sqlx::query_scalar(sql::TARGET_STATUS)
                .bind(ws)
                .bind(target)
                .fetch_optional(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            let status = status
                .map(|s| {
                    TargetStatus::from_db(&s)
                        .ok_or_else(|| $crate::error::corrupt("post_targets.status holds an unknown value"))
                })
                .transpose()?;
            let open: Option<uuid::Uuid> = sqlx::query_scalar(sql::OPEN_ATTEMPT)
                .bind(ws)
                .bind(target)
                .fetch_optional(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            let release = sqlx::query(sql::RELEASE_JOB).bind(ws).bind(target).bind(None::<DbTime>);
            Some(match (status, open) {
                (Some(TargetStatus::Publishing), Some(attempt)) => {
                    let attempt = crier_core::AttemptId::from_uuid(attempt);
                    Recovery::Reconcile(Box::new($crate::binds_queue::claimed_job!(
                        $conn,
                        job.workspace_id,
                        job.target_id,
                        attempt
                    )))
                }
                (Some(TargetStatus::Publishing), None) => {
                    // Marked publishing without an attempt row: nothing can have been sent.
                    sqlx::query(sql::REQUEUE_TARGET)
                        .bind(ws)
                        .bind(target)
                        .bind(DbTime(now))
                        .execute(&mut *$conn)
                        .await
                        .map_err($crate::error::map_sqlx)?;
                    release.execute(&mut *$conn).await.map_err($crate::error::map_sqlx)?;
                    Recovery::Requeued
                }
                (Some(status), _) if status.is_waiting() => {
                    release.execute(&mut *$conn).await.map_err($crate::error::map_sqlx)?;
                    Recovery::Requeued
                }
                _ => {
                    sqlx::query(sql::DELETE_JOB)
                        .bind(ws)
                        .bind(target)
                        .execute(&mut *$conn)
                        .await
                        .map_err($crate::error::map_sqlx)?;
                    Recovery::Dropped
                }
            })
        }
    }};
}

pub(crate) use {claimed_job, finish_attempt, recover_job, start_attempt};
