//! The publishing pipeline's transaction bodies, shared by both backends like `binds`: each macro
//! runs the same portable statements (`rows_publishing::sql`) on `$conn` (a transaction), `?`
//! returning driver errors from the calling method. What differs per backend stays outside: how
//! the transaction is opened (PostgreSQL: `tenant_tx`), the event lock, and waking workers.
//!
//! Event appends must be serialised per workspace: SQLite's single writer does that; on
//! PostgreSQL the caller takes `EVENTS_LOCK` before inserting. `cancel_post` takes it first;
//! `finish_attempt` takes it last, after its row locks, to keep the serialised part short. They
//! cannot wait on each other: cancel only locks waiting targets and unleased jobs, finish only a
//! publishing target, its attempt and its leased job.

/// `INSERT INTO channels` for a `Channel` (its credentials row, if any, inserted first).
macro_rules! insert_channel {
    ($channel:expr) => {{
        let channel: &crier_core::Channel = $channel;
        sqlx::query($crate::rows_publishing::sql::INSERT_CHANNEL)
            .bind(channel.workspace_id.as_uuid())
            .bind(channel.id.as_uuid())
            .bind(channel.provider.as_str())
            .bind(channel.name.as_str())
            .bind($crate::rows_publishing::db_json(&channel.config))
            .bind(channel.status.as_str())
            .bind(
                channel
                    .account
                    .as_ref()
                    .map(|a| $crate::rows_publishing::DbJson(serde_json::to_value(a).unwrap_or_default())),
            )
            .bind(channel.credentials.map(|id| id.as_uuid()))
            .bind(channel.paused_until.map($crate::rows::DbTime))
            .bind($crate::rows::DbTime(channel.created_at))
    }};
}

/// Deletes a deleted channel's sealed credentials (`$id`: `Option<Uuid>`), in the same transaction.
macro_rules! delete_channel_credentials {
    ($conn:expr, $workspace:expr, $id:expr) => {{
        if let Some(secret) = $id {
            sqlx::query($crate::rows_webhooks::sql::DELETE_SECRET)
                .bind($workspace.as_uuid())
                .bind(secret)
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
        }
    }};
}

/// `INSERT INTO sandbox_deliveries` for a `SandboxDelivery`.
macro_rules! insert_sandbox_delivery {
    ($delivery:expr) => {{
        let delivery: &crier_core::SandboxDelivery = $delivery;
        sqlx::query($crate::rows_publishing::sql::INSERT_SANDBOX_DELIVERY)
            .bind(delivery.workspace_id.as_uuid())
            .bind(delivery.channel_id.as_uuid())
            .bind(delivery.id)
            .bind(delivery.target_id.as_uuid())
            .bind(delivery.attempt_id.as_uuid())
            .bind(delivery.text.as_str())
            .bind($crate::rows_publishing::db_json(&$crate::rows_media::media_ids_json(&delivery.media)))
            .bind($crate::rows::DbTime(delivery.delivered_at))
    }};
}

/// Appends the `VALUES (…), (…)` of a post's targets to `$builder` (a `sqlx::QueryBuilder`
/// started with `sql::INSERT_TARGETS_HEAD`).
macro_rules! push_target_values {
    ($builder:expr, $post:expr) => {{
        use $crate::rows_publishing::db_json;
        let post: &crier_core::Post = $post;
        let ws = post.workspace_id.as_uuid();
        $builder.push_values(&post.targets, |mut row, target| {
            row.push_bind(ws)
                .push_bind(target.id.as_uuid())
                .push_bind(post.id.as_uuid())
                .push_bind(target.channel_id.as_uuid())
                .push_bind(target.text.as_deref())
                .push_bind(db_json(&target.options))
                .push_bind(target.status.as_str())
                .push_bind($crate::rows::DbTime(target.run_at))
                .push_bind(target.attempts)
                .push_bind(target.provider_post_id.as_deref())
                .push_bind(target.url.as_deref())
                .push_bind(target.error_code.as_deref())
                .push_bind(target.error_message.as_deref())
                .push_bind($crate::rows::DbTime(target.created_at))
                .push_bind($crate::rows::DbTime(target.updated_at))
                .push_bind(target.published_at.map($crate::rows::DbTime));
        });
    }};
}

/// Appends the `VALUES (…), (…)` of one job per target of a post to `$builder` (started with
/// `sql::INSERT_JOBS_HEAD`).
macro_rules! push_job_values {
    ($builder:expr, $post:expr) => {{
        let post: &crier_core::Post = $post;
        let ws = post.workspace_id.as_uuid();
        $builder.push_values(&post.targets, |mut row, target| {
            row.push_bind(ws)
                .push_bind(target.id.as_uuid())
                .push_bind(target.channel_id.as_uuid())
                .push_bind($crate::rows::DbTime(target.run_at));
        });
    }};
}

/// `NotFound` (before anything is written) unless every target is the post's, in its workspace.
macro_rules! check_targets_belong {
    ($post:expr) => {{
        let post: &crier_core::Post = $post;
        if post.targets.iter().any(|t| t.workspace_id != post.workspace_id || t.post_id != post.id) {
            return Err(crier_core::StoreError::NotFound);
        }
    }};
}

/// Inserts a post, each of its targets and one job per target.
macro_rules! insert_post {
    ($conn:expr, $post:expr) => {{
        use $crate::rows_publishing::{db_json, sql};
        let post: &crier_core::Post = $post;
        let ws = post.workspace_id.as_uuid();
        $crate::binds_publishing::check_targets_belong!(post);
        sqlx::query(sql::INSERT_POST)
            .bind(ws)
            .bind(post.id.as_uuid())
            .bind(post.text.as_str())
            .bind(db_json(&$crate::rows_media::media_ids_json(&post.media)))
            .bind(post.scheduled_at.map($crate::rows::DbTime))
            .bind($crate::rows::DbTime(post.created_at))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        // One multi-row statement for the targets and one for their jobs, whatever their number.
        if !post.targets.is_empty() {
            let mut targets = sqlx::QueryBuilder::new(sql::INSERT_TARGETS_HEAD);
            $crate::binds_publishing::push_target_values!(targets, post);
            targets.build().execute(&mut *$conn).await.map_err($crate::error::map_sqlx)?;
            let mut jobs = sqlx::QueryBuilder::new(sql::INSERT_JOBS_HEAD);
            $crate::binds_publishing::push_job_values!(jobs, post);
            jobs.build().execute(&mut *$conn).await.map_err($crate::error::map_sqlx)?;
        }
    }};
}

/// Stores an idempotency key's response in the creating transaction. `Conflict` (rolling the
/// create back) unless the key is still in flight.
macro_rules! store_response {
    ($conn:expr, $workspace:expr, $response:expr) => {{
        let workspace: crier_core::WorkspaceId = $workspace;
        let response: Option<&crier_core::IdempotentResponse> = $response;
        if let Some(response) = response {
            if response.workspace_id != workspace {
                return Err(crier_core::StoreError::NotFound);
            }
            let stored = sqlx::query($crate::rows_publishing::sql::STORE_IDEMPOTENT_RESPONSE)
                .bind(response.workspace_id.as_uuid())
                .bind(response.key.as_str())
                .bind(i32::from(response.status))
                .bind(response.body.as_slice())
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            if stored.rows_affected() == 0 {
                return Err(crier_core::StoreError::Conflict(
                    "the idempotency key is not in flight (completed, expired or never begun)".into(),
                ));
            }
        }
    }};
}

/// Appends an event (see the module docs on serialisation) and, in the same transaction, one
/// queued webhook delivery per endpoint that takes it (`$fan_out`: the backend's
/// `FAN_OUT_*` statement; `only`: a test send to one endpoint). Evaluates to (seq, deliveries).
macro_rules! insert_event {
    ($conn:expr, $workspace:expr, $event:expr, $at:expr, $fan_out:expr) => {{ $crate::binds_publishing::insert_event!($conn, $workspace, $event, $at, $fan_out, only = None) }};
    ($conn:expr, $workspace:expr, $event:expr, $at:expr, $fan_out:expr, only = $only:expr) => {{
        use $crate::rows_webhooks::sql;
        let workspace: crier_core::WorkspaceId = $workspace;
        let event: &crier_core::NewEvent = $event;
        let at: crier_core::Timestamp = $at;
        let only: Option<crier_core::WebhookEndpointId> = $only;
        let seq: i64 = sqlx::query_scalar(sql::INSERT_EVENT)
            .bind(workspace.as_uuid())
            .bind(event.kind)
            .bind(event.subject.as_str())
            .bind($crate::rows_publishing::db_json(&event.data))
            .bind($crate::rows::DbTime(at))
            .fetch_one(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let made = sqlx::query($fan_out)
            .bind(workspace.as_uuid())
            .bind(seq)
            .bind(event.kind)
            .bind($crate::rows::DbTime(at))
            .bind($crate::rows_webhooks::id_millis(at))
            .bind(only.map(|id| id.as_uuid()))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?
            .rows_affected();
        if made > 0 {
            sqlx::query(sql::QUEUE_EVENT_DELIVERIES)
                .bind(workspace.as_uuid())
                .bind(seq)
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
        }
        (seq, made)
    }};
}

/// A post with its targets (ordered by id). `NotFound` for an absent or foreign post.
macro_rules! load_post {
    ($conn:expr, $workspace:expr, $id:expr) => {{
        use $crate::rows_publishing::{PostRow, TargetRow, sql, targets_into_domain};
        let workspace: crier_core::WorkspaceId = $workspace;
        let id: crier_core::PostId = $id;
        let post: PostRow = sqlx::query_as(sql::GET_POST)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let targets: Vec<TargetRow> = sqlx::query_as(sql::TARGETS_OF_POST)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_all(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        post.into_domain(targets_into_domain(targets)?)?
    }};
}

/// The attempts at a post's targets, oldest first.
macro_rules! list_attempts {
    ($conn:expr, $workspace:expr, $post:expr) => {{
        use $crate::rows_publishing::{AttemptRow, sql};
        let workspace: crier_core::WorkspaceId = $workspace;
        let post: crier_core::PostId = $post;
        let rows: Vec<AttemptRow> = sqlx::query_as(sql::ATTEMPTS_OF_POST)
            .bind(workspace.as_uuid())
            .bind(post.as_uuid())
            .fetch_all(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        rows.into_iter().map(AttemptRow::into_domain).collect::<Vec<_>>()
    }};
}

/// A page of `list_posts`: the posts, then their targets in one range query.
macro_rules! list_posts {
    ($conn:expr, $workspace:expr, $query:expr) => {{
        use $crate::rows_publishing::{PostRow, TargetRow, assemble_posts, sql};
        let workspace: crier_core::WorkspaceId = $workspace;
        let query: &crier_core::PostQuery = $query;
        let posts: Vec<PostRow> = sqlx::query_as(sql::LIST_POSTS)
            .bind(workspace.as_uuid())
            .bind(query.before.map(|id| id.as_uuid()))
            .bind(query.status.map(crier_core::TargetStatus::as_str))
            .bind(query.channel.map(|id| id.as_uuid()))
            .bind(query.limit.max(0))
            .bind(query.due_from.map($crate::rows::DbTime))
            .bind(query.due_until.map($crate::rows::DbTime))
            .fetch_all(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let targets: Vec<TargetRow> = match (posts.last(), posts.first()) {
            (Some(oldest), Some(newest)) => sqlx::query_as(sql::TARGETS_OF_POST_RANGE)
                .bind(workspace.as_uuid())
                .bind(oldest.id)
                .bind(newest.id)
                .fetch_all(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?,
            _ => Vec::new(),
        };
        assemble_posts(posts, targets)?
    }};
}

/// Cancels the post's waiting, unleased targets (dropping their jobs) with one
/// `post.target.cancelled` event each. Evaluates to the `Cancellation` and how many webhook
/// deliveries its events queued.
macro_rules! cancel_post {
    ($conn:expr, $workspace:expr, $id:expr, $at:expr, $fan_out:expr) => {{
        use $crate::rows_publishing::sql;
        let workspace: crier_core::WorkspaceId = $workspace;
        let id: crier_core::PostId = $id;
        let at: crier_core::Timestamp = $at;
        // NotFound before anything changes.
        sqlx::query(sql::GET_POST)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let dropped: Vec<uuid::Uuid> = sqlx::query_scalar(sql::DELETE_CANCELLABLE_JOBS)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_all(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let mut cancelled = Vec::new();
        let mut deliveries = 0;
        for target in dropped {
            let done = sqlx::query(sql::CANCEL_TARGET)
                .bind(workspace.as_uuid())
                .bind(target)
                .bind($crate::rows::DbTime(at))
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            if done.rows_affected() == 1 {
                cancelled.push(crier_core::TargetId::from_uuid(target));
            }
        }
        cancelled.sort();
        let post = $crate::binds_publishing::load_post!($conn, workspace, id);
        for target in post.targets.iter().filter(|t| cancelled.contains(&t.id)) {
            let event = crier_core::NewEvent {
                kind: "post.target.cancelled",
                subject: target.id.to_string(),
                data: serde_json::json!({
                    "post_id": post.id.to_string(),
                    "channel_id": target.channel_id.to_string(),
                    "status": crier_core::TargetStatus::Cancelled.as_str(),
                }),
            };
            deliveries += $crate::binds_publishing::insert_event!($conn, workspace, &event, at, $fan_out).1;
        }
        let not_cancelled =
            post.targets.iter().map(|t| t.id).filter(|t| !cancelled.contains(t)).collect::<Vec<_>>();
        (crier_core::Cancellation { post, cancelled, not_cancelled }, deliveries)
    }};
}

/// `PostStore::retry_target`'s body: requeues the target, inserts its job and a
/// `post.target.retried` event. Evaluates to (the post, deliveries queued); `NotFound` or
/// `Conflict` (returned) as the trait says.
macro_rules! retry_target {
    ($conn:expr, $workspace:expr, $retry:expr, $fan_out:expr) => {{
        use $crate::rows::DbTime;
        use $crate::rows_publishing::sql;
        let workspace: crier_core::WorkspaceId = $workspace;
        let retry: &crier_core::TargetRetry = $retry;
        let ws = workspace.as_uuid();
        let (post, target) = (retry.post_id.as_uuid(), retry.target_id.as_uuid());
        let before: Option<String> = sqlx::query_scalar(sql::TARGET_STATUS_IN_POST)
            .bind(ws)
            .bind(target)
            .bind(post)
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let Some(before) = before else {
            return Err(crier_core::StoreError::NotFound);
        };
        let also = if retry.confirm_unknown { crier_core::TargetStatus::Unknown.as_str() } else { "failed" };
        let channel: Option<uuid::Uuid> = sqlx::query_scalar(sql::RETRY_TARGET)
            .bind(ws)
            .bind(target)
            .bind(post)
            .bind(also)
            .bind(DbTime(retry.run_at))
            .bind(DbTime(retry.at))
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let Some(channel) = channel else {
            return Err(crier_core::StoreError::Conflict(if before == "unknown" {
                "the target's outcome is unknown: its last attempt may have published; retry only with \
                 confirm_unknown set, accepting a possible duplicate"
                    .into()
            } else {
                format!("only a failed or unknown target can be retried; this one is {before}")
            }));
        };
        // A final target has no job; a stale one (none should exist) gives way to the new one.
        sqlx::query(sql::DELETE_JOB).bind(ws).bind(target).execute(&mut *$conn).await.map_err($crate::error::map_sqlx)?;
        sqlx::query(sql::INSERT_JOB)
            .bind(ws)
            .bind(target)
            .bind(channel)
            .bind(DbTime(retry.run_at))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let event = crier_core::NewEvent {
            kind: "post.target.retried",
            subject: retry.target_id.to_string(),
            data: serde_json::json!({
                "post_id": retry.post_id.to_string(),
                "target_id": retry.target_id.to_string(),
                "channel_id": crier_core::ChannelId::from_uuid(channel).to_string(),
                "previous_status": before,
                "status": crier_core::TargetStatus::Queued.as_str(),
            }),
        };
        let deliveries = $crate::binds_publishing::insert_event!($conn, workspace, &event, retry.at, $fan_out).1;
        ($crate::binds_publishing::load_post!($conn, workspace, retry.post_id), deliveries)
    }};
}

/// `IdempotencyStore::begin_idempotent`'s body. Evaluates to the `IdempotencyBegin`.
macro_rules! begin_idempotent {
    ($conn:expr, $workspace:expr, $key:expr, $fingerprint:expr, $now:expr, $lock_until:expr, $expires_at:expr) => {{
        use crier_core::IdempotencyBegin;
        use $crate::rows::DbTime;
        use $crate::rows_publishing::{IdempotencyRow, sql};
        let workspace: crier_core::WorkspaceId = $workspace;
        let (key, fingerprint): (&str, &[u8]) = ($key, $fingerprint);
        let (now, lock_until, expires_at): (
            crier_core::Timestamp,
            crier_core::Timestamp,
            crier_core::Timestamp,
        ) = ($now, $lock_until, $expires_at);
        let ws = workspace.as_uuid();
        let mut outcome = IdempotencyBegin::InFlight;
        // Each compare-and-swap that loses to a concurrent request looks again; a key that keeps
        // changing under us is reported in flight.
        for _ in 0..3 {
            let inserted = sqlx::query(sql::INSERT_IDEMPOTENCY_KEY)
                .bind(ws)
                .bind(key)
                .bind(fingerprint)
                .bind(DbTime(lock_until))
                .bind(DbTime(now))
                .bind(DbTime(expires_at))
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            if inserted.rows_affected() == 1 {
                outcome = IdempotencyBegin::Started;
                break;
            }
            let row: Option<IdempotencyRow> = sqlx::query_as(sql::GET_IDEMPOTENCY_KEY)
                .bind(ws)
                .bind(key)
                .fetch_optional(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            let Some(row) = row else { continue };
            let swapped = if row.expires_at.0 <= now {
                sqlx::query(sql::REPLACE_EXPIRED_KEY)
                    .bind(ws)
                    .bind(key)
                    .bind(fingerprint)
                    .bind(DbTime(lock_until))
                    .bind(DbTime(now))
                    .bind(DbTime(expires_at))
            } else if row.fingerprint != fingerprint {
                outcome = IdempotencyBegin::Mismatch;
                break;
            } else if row.status == "done" {
                outcome = row.replay()?;
                break;
            } else if row.status != "in_flight" {
                return Err($crate::error::corrupt("idempotency_keys.status holds an unknown value"));
            } else if row.locked_until.0 > now {
                outcome = IdempotencyBegin::InFlight;
                break;
            } else {
                sqlx::query(sql::RELOCK_KEY)
                    .bind(ws)
                    .bind(key)
                    .bind(DbTime(lock_until))
                    .bind(DbTime(now))
                    .bind(fingerprint)
            }
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
            if swapped.rows_affected() == 1 {
                outcome = IdempotencyBegin::Started;
                break;
            }
        }
        outcome
    }};
}

pub(crate) use {
    begin_idempotent, cancel_post, check_targets_belong, delete_channel_credentials, insert_channel,
    insert_event, insert_post, insert_sandbox_delivery, list_attempts, list_posts, load_post,
    push_job_values, push_target_values, retry_target, store_response,
};
