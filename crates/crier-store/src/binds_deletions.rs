//! The deletion queue's transaction bodies (`DeletionStore`), shared by both backends like
//! `binds_queue`: the same portable statements on `$conn` (a transaction), `?` returning driver
//! errors from the calling method.

/// `DeletionStore::request_deletion`'s body (without the audit row). Evaluates to the post.
macro_rules! request_deletion {
    ($conn:expr, $workspace:expr, $post:expr, $target:expr, $at:expr) => {{
        use $crate::rows::DbTime;
        use $crate::rows_publishing::sql;
        let workspace: crier_core::WorkspaceId = $workspace;
        let (post, target): (crier_core::PostId, crier_core::TargetId) = ($post, $target);
        let at: crier_core::Timestamp = $at;
        let ws = workspace.as_uuid();
        let state: Option<(String, Option<String>)> = sqlx::query_as(sql::DELETION_STATE)
            .bind(ws)
            .bind(target.as_uuid())
            .bind(post.as_uuid())
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let Some((status, deletion)) = state else {
            return Err(crier_core::StoreError::NotFound);
        };
        let channel: Option<uuid::Uuid> = sqlx::query_scalar(sql::REQUEST_DELETION)
            .bind(ws)
            .bind(target.as_uuid())
            .bind(post.as_uuid())
            .bind(DbTime(at))
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let Some(channel) = channel else {
            return Err(crier_core::StoreError::Conflict(match deletion.as_deref() {
                Some("deleted") => "the post was already deleted from the platform".to_owned(),
                Some("pending") => "a deletion of this post is already under way".to_owned(),
                _ => {
                    format!("only a published target can be deleted from its platform; this one is {status}")
                }
            }));
        };
        sqlx::query(sql::INSERT_DELETION_JOB)
            .bind(ws)
            .bind(target.as_uuid())
            .bind(channel)
            .bind(DbTime(at))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        $crate::binds_publishing::load_post!($conn, workspace, post)
    }};
}

/// `DeletionStore::start_deletion`'s body. Evaluates to `Option<DeletionJob>`.
macro_rules! start_deletion {
    ($conn:expr, $job:expr, $owner:expr, $now:expr) => {{
        use $crate::rows::DbTime;
        use $crate::rows_publishing::{ChannelRow, TargetRow, sql};
        let job: crier_core::JobRef = $job;
        let (ws, target) = (job.workspace_id.as_uuid(), job.target_id.as_uuid());
        let attempts: Option<i32> = sqlx::query_scalar(sql::START_DELETION_JOB)
            .bind(ws)
            .bind(target)
            .bind($owner)
            .bind(DbTime($now))
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let Some(attempts) = attempts else {
            return Err(crier_core::StoreError::Conflict(
                "the deletion job's lease is not held by this worker".into(),
            ));
        };
        let status: Option<Option<String>> = sqlx::query_scalar(sql::DELETION_STATUS)
            .bind(ws)
            .bind(target)
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        if status.flatten().as_deref() == Some(crier_core::DeletionStatus::Pending.as_str()) {
            let row: TargetRow = sqlx::query_as(sql::GET_TARGET)
                .bind(ws)
                .bind(target)
                .fetch_one(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            let target = row.into_domain()?;
            let channel: ChannelRow = sqlx::query_as(&sql::get_channel())
                .bind(ws)
                .bind(target.channel_id.as_uuid())
                .fetch_one(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            Some(crier_core::DeletionJob { target, channel: channel.into_domain()?, attempts })
        } else {
            sqlx::query(sql::DELETE_DELETION_JOB)
                .bind(ws)
                .bind(target)
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            None
        }
    }};
}

/// `DeletionStore::finish_deletion`'s body, without the event.
macro_rules! finish_deletion {
    ($conn:expr, $job:expr, $owner:expr, $outcome:expr, $now:expr) => {{
        use crier_core::{DeletionOutcome, DeletionStatus};
        use $crate::rows::DbTime;
        use $crate::rows_publishing::sql;
        let job: &crier_core::DeletionJob = $job;
        let outcome: &DeletionOutcome = $outcome;
        let now: crier_core::Timestamp = $now;
        let (ws, target) = (job.target.workspace_id.as_uuid(), job.target.id.as_uuid());
        let held: Option<i32> = sqlx::query_scalar(sql::HOLDS_DELETION_JOB)
            .bind(ws)
            .bind(target)
            .bind($owner)
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        if held.is_none() {
            return Err(crier_core::StoreError::Conflict("the deletion job's lease was lost".into()));
        }
        let (status, deleted_at, code, message, retry_at) = match outcome {
            DeletionOutcome::Deleted => (DeletionStatus::Deleted, Some(now), None, None, None),
            DeletionOutcome::RetryAt { at, code, message } => {
                (DeletionStatus::Pending, None, Some(code.as_str()), Some(message.as_str()), Some(*at))
            }
            DeletionOutcome::Failed { code, message } => {
                (DeletionStatus::Failed, None, Some(code.as_str()), Some(message.as_str()), None)
            }
        };
        sqlx::query(sql::TARGET_DELETION_OUTCOME)
            .bind(ws)
            .bind(target)
            .bind(status.as_str())
            .bind(deleted_at.map(DbTime))
            .bind(code)
            .bind(message)
            .bind(DbTime(now))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        match retry_at {
            Some(at) => {
                sqlx::query(sql::RELEASE_DELETION_JOB).bind(ws).bind(target).bind($owner).bind(DbTime(at))
            }
            None => sqlx::query(sql::DELETE_DELETION_JOB).bind(ws).bind(target),
        }
        .execute(&mut *$conn)
        .await
        .map_err($crate::error::map_sqlx)?;
    }};
}

/// Leases up to `$limit` due deletions to `$owner` with the backend's `$sql` (the same binds on
/// both), oldest due first.
macro_rules! lease_deletions {
    ($executor:expr, $sql:expr, $owner:expr, $now:expr, $lease_until:expr, $limit:expr) => {{
        let mut leased: Vec<(uuid::Uuid, uuid::Uuid, $crate::rows::DbTime)> = sqlx::query_as($sql)
            .bind($owner)
            .bind($crate::rows::db_time($now))
            .bind($crate::rows::db_time($lease_until))
            .bind($limit.max(0))
            .fetch_all($executor)
            .await
            .map_err($crate::error::map_sqlx)?;
        leased.sort_by_key(|(_, _, run_at)| run_at.0);
        leased
            .into_iter()
            .map(|(ws, target, _)| crier_core::JobRef {
                workspace_id: crier_core::WorkspaceId::from_uuid(ws),
                target_id: crier_core::TargetId::from_uuid(target),
            })
            .collect::<Vec<_>>()
    }};
}

pub(crate) use {finish_deletion, lease_deletions, request_deletion, start_deletion};
