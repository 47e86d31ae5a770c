//! Webhook transaction bodies shared by both backends, in the manner of `binds_publishing`:
//! each macro runs portable statements on `$conn` (a transaction) and `?`-returns errors from
//! the calling method. Backends pass what differs: the fan-out statement and, on PostgreSQL,
//! the event lock (`Some(EVENTS_LOCK)`) taken before an event append.

/// `INSERT INTO secrets` for a `SealedRow`.
macro_rules! insert_secret {
    ($secret:expr) => {{
        let secret: &crier_core::SealedRow = $secret;
        sqlx::query($crate::rows::sql::INSERT_SECRET)
            .bind(secret.workspace_id.as_uuid())
            .bind(secret.id.as_uuid())
            .bind(secret.purpose.as_str())
            .bind(secret.key_version)
            .bind(secret.sealed.as_slice())
            .bind($crate::rows::DbTime(secret.created_at))
            .bind($crate::rows::DbTime(secret.updated_at))
    }};
}

/// Binds every column of an endpoint to `$statement` (`INSERT_ENDPOINT` or `UPDATE_ENDPOINT`,
/// which take them in the same order, `UPDATE` skipping `created_at`).
macro_rules! bind_endpoint {
    ($statement:expr, $endpoint:expr, insert) => {{
        let endpoint: &crier_core::WebhookEndpoint = $endpoint;
        $crate::binds_webhooks::bind_endpoint!(@fields $statement, endpoint)
            .bind($crate::rows::DbTime(endpoint.created_at))
            .bind($crate::rows::DbTime(endpoint.updated_at))
    }};
    ($statement:expr, $endpoint:expr, update) => {{
        let endpoint: &crier_core::WebhookEndpoint = $endpoint;
        $crate::binds_webhooks::bind_endpoint!(@fields $statement, endpoint)
            .bind($crate::rows::DbTime(endpoint.updated_at))
    }};
    (@fields $statement:expr, $endpoint:expr) => {
        sqlx::query($statement)
            .bind($endpoint.workspace_id.as_uuid())
            .bind($endpoint.id.as_uuid())
            .bind($endpoint.url.as_str())
            .bind($endpoint.description.as_str())
            .bind($crate::rows_publishing::db_json(&serde_json::json!($endpoint.event_types)))
            .bind($endpoint.enabled)
            .bind($endpoint.disabled_reason.as_deref())
            .bind($endpoint.secret_id.as_uuid())
            .bind($endpoint.previous_secret.map(|p| p.secret_id.as_uuid()))
            .bind($endpoint.previous_secret.map(|p| $crate::rows::DbTime(p.expires_at)))
            .bind($endpoint.failing_since.map($crate::rows::DbTime))
    };
}

/// One row by (workspace, id) as its domain type (`NotFound` if absent or another workspace's).
macro_rules! load_one {
    ($conn:expr, $row:ty, $statement:expr, $workspace:expr, $id:expr) => {{
        let workspace: crier_core::WorkspaceId = $workspace;
        let row: $row = sqlx::query_as($statement)
            .bind(workspace.as_uuid())
            .bind($id.as_uuid())
            .fetch_one(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        row.into_domain()?
    }};
}

macro_rules! load_endpoint {
    ($conn:expr, $workspace:expr, $id:expr) => {{
        let id: crier_core::WebhookEndpointId = $id;
        $crate::binds_webhooks::load_one!(
            $conn,
            $crate::rows_webhooks::EndpointRow,
            $crate::rows_webhooks::sql::GET_ENDPOINT,
            $workspace,
            id
        )
    }};
}

macro_rules! load_delivery {
    ($conn:expr, $workspace:expr, $id:expr) => {{
        let id: crier_core::DeliveryId = $id;
        $crate::binds_webhooks::load_one!(
            $conn,
            $crate::rows_webhooks::DeliveryRow,
            $crate::rows_webhooks::sql::GET_DELIVERY,
            $workspace,
            id
        )
    }};
}

/// Stores the new endpoint with its secret; audit and idempotency are the caller's.
macro_rules! create_endpoint {
    ($conn:expr, $endpoint:expr, $secret:expr) => {{
        let endpoint: &crier_core::WebhookEndpoint = $endpoint;
        let secret: &crier_core::SealedRow = $secret;
        if secret.workspace_id != endpoint.workspace_id || secret.id != endpoint.secret_id {
            return Err(crier_core::StoreError::NotFound);
        }
        $crate::binds_webhooks::insert_secret!(secret)
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        $crate::binds_webhooks::bind_endpoint!($crate::rows_webhooks::sql::INSERT_ENDPOINT, endpoint, insert)
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
    }};
}

/// Applies a PATCH and evaluates to the endpoint as stored.
macro_rules! update_endpoint {
    ($conn:expr, $workspace:expr, $id:expr, $changes:expr, $now:expr) => {{
        let changes: &crier_core::EndpointChanges = $changes;
        let mut endpoint = $crate::binds_webhooks::load_endpoint!($conn, $workspace, $id);
        if let Some(url) = &changes.url {
            endpoint.url = url.clone();
        }
        if let Some(description) = &changes.description {
            endpoint.description = description.clone();
        }
        if let Some(types) = &changes.event_types {
            endpoint.event_types = types.clone();
        }
        if let Some(enabled) = changes.enabled {
            if enabled && !endpoint.enabled {
                endpoint.disabled_reason = None;
                endpoint.failing_since = None;
            }
            endpoint.enabled = enabled;
        }
        endpoint.updated_at = $now;
        $crate::binds_webhooks::bind_endpoint!(
            $crate::rows_webhooks::sql::UPDATE_ENDPOINT,
            &endpoint,
            update
        )
        .execute(&mut *$conn)
        .await
        .map_err($crate::error::map_sqlx)?;
        endpoint
    }};
}

/// Makes `$secret` current, keeps the current one as previous until `$expires`, deletes the one
/// before. Evaluates to the endpoint.
macro_rules! rotate_secret {
    ($conn:expr, $workspace:expr, $id:expr, $secret:expr, $expires:expr) => {{
        let workspace: crier_core::WorkspaceId = $workspace;
        let secret: &crier_core::SealedRow = $secret;
        if secret.workspace_id != workspace {
            return Err(crier_core::StoreError::NotFound);
        }
        let mut endpoint = $crate::binds_webhooks::load_endpoint!($conn, workspace, $id);
        $crate::binds_webhooks::insert_secret!(secret)
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let dropped = endpoint.previous_secret.map(|p| p.secret_id);
        endpoint.previous_secret =
            Some(crier_core::PreviousSecret { secret_id: endpoint.secret_id, expires_at: $expires });
        endpoint.secret_id = secret.id;
        endpoint.updated_at = secret.created_at;
        $crate::binds_webhooks::bind_endpoint!(
            $crate::rows_webhooks::sql::UPDATE_ENDPOINT,
            &endpoint,
            update
        )
        .execute(&mut *$conn)
        .await
        .map_err($crate::error::map_sqlx)?;
        if let Some(dropped) = dropped {
            sqlx::query($crate::rows_webhooks::sql::DELETE_SECRET)
                .bind(workspace.as_uuid())
                .bind(dropped.as_uuid())
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
        }
        endpoint
    }};
}

/// Deletes the endpoint (its deliveries, attempt log and queue rows go with it) and its secrets.
macro_rules! delete_endpoint {
    ($conn:expr, $workspace:expr, $id:expr) => {{
        let workspace: crier_core::WorkspaceId = $workspace;
        let endpoint = $crate::binds_webhooks::load_endpoint!($conn, workspace, $id);
        sqlx::query($crate::rows_webhooks::sql::DELETE_ENDPOINT)
            .bind(workspace.as_uuid())
            .bind(endpoint.id.as_uuid())
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        for secret in std::iter::once(endpoint.secret_id).chain(endpoint.previous_secret.map(|p| p.secret_id))
        {
            sqlx::query($crate::rows_webhooks::sql::DELETE_SECRET)
                .bind(workspace.as_uuid())
                .bind(secret.as_uuid())
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
        }
    }};
}

/// Appends `channel.disconnected` for a deleted channel; evaluates to the deliveries queued.
macro_rules! channel_disconnected {
    ($conn:expr, $workspace:expr, $id:expr, $provider:expr, $at:expr, $fan_out:expr, $lock:expr) => {{
        let id: crier_core::ChannelId = $id;
        let event = crier_core::NewEvent {
            kind: "channel.disconnected",
            subject: id.to_string(),
            data: serde_json::json!({"channel_id": id.to_string(), "provider": $provider}),
        };
        $crate::binds_webhooks::lock_events!($conn, $workspace, $lock);
        $crate::binds_publishing::insert_event!($conn, $workspace, &event, $at, $fan_out).1
    }};
}

/// Takes the event lock when the backend has one.
macro_rules! lock_events {
    ($conn:expr, $workspace:expr, $lock:expr) => {{
        let lock: Option<&str> = $lock;
        if let Some(lock) = lock {
            sqlx::query(lock)
                .bind($workspace.as_uuid())
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
        }
    }};
}

/// A `ping` event for one endpoint; evaluates to its delivery.
macro_rules! send_test_event {
    ($conn:expr, $workspace:expr, $id:expr, $now:expr, $fan_out:expr, $lock:expr) => {{
        let workspace: crier_core::WorkspaceId = $workspace;
        let endpoint = $crate::binds_webhooks::load_endpoint!($conn, workspace, $id);
        let event = crier_core::NewEvent {
            kind: "ping",
            subject: endpoint.id.to_string(),
            data: serde_json::json!({"endpoint_id": endpoint.id.to_string()}),
        };
        $crate::binds_webhooks::lock_events!($conn, workspace, $lock);
        let (seq, _) =
            $crate::binds_publishing::insert_event!($conn, workspace, &event, $now, $fan_out, only = Some(endpoint.id));
        let row: $crate::rows_webhooks::DeliveryRow = sqlx::query_as($crate::rows_webhooks::sql::DELIVERY_OF_EVENT)
            .bind(workspace.as_uuid())
            .bind(seq)
            .bind(endpoint.id.as_uuid())
            .fetch_one(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        row.into_domain()?
    }};
}

/// Queues a delivery again at `$now`; evaluates to it.
macro_rules! retry_delivery {
    ($conn:expr, $workspace:expr, $id:expr, $now:expr) => {{
        let workspace: crier_core::WorkspaceId = $workspace;
        let now: crier_core::Timestamp = $now;
        let delivery = $crate::binds_webhooks::load_delivery!($conn, workspace, $id);
        sqlx::query($crate::rows_webhooks::sql::REQUEUE_DELIVERY)
            .bind(workspace.as_uuid())
            .bind(delivery.id.as_uuid())
            .bind($crate::rows::DbTime(now))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        sqlx::query($crate::rows_webhooks::sql::UPSERT_JOB)
            .bind(workspace.as_uuid())
            .bind(delivery.id.as_uuid())
            .bind($crate::rows::DbTime(now))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        $crate::binds_webhooks::load_delivery!($conn, workspace, delivery.id)
    }};
}

/// Whether `$owner` holds the delivery's lease at `$now`.
macro_rules! holds_lease {
    ($conn:expr, $job:expr, $owner:expr, $now:expr) => {{
        let job: crier_core::DeliveryRef = $job;
        let held: Option<i32> = sqlx::query_scalar($crate::rows_webhooks::sql::HOLDS_LEASE)
            .bind(job.workspace_id.as_uuid())
            .bind(job.delivery_id.as_uuid())
            .bind($owner)
            .bind($crate::rows::DbTime($now))
            .fetch_optional(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        held.is_some()
    }};
}

/// Ends a delivery for good without an attempt (its endpoint is disabled): status failed, job
/// dropped.
macro_rules! abandon_delivery {
    ($conn:expr, $delivery:expr, $why:expr, $now:expr) => {{
        let delivery: &crier_core::Delivery = $delivery;
        sqlx::query($crate::rows_webhooks::sql::UPDATE_DELIVERY)
            .bind(delivery.workspace_id.as_uuid())
            .bind(delivery.id.as_uuid())
            .bind(crier_core::DeliveryStatus::Failed.as_str())
            .bind(delivery.attempts)
            .bind(None::<$crate::rows::DbTime>)
            .bind(delivery.last_status_code)
            .bind(Some($why))
            .bind($crate::rows::DbTime($now))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        sqlx::query($crate::rows_webhooks::sql::DELETE_JOB)
            .bind(delivery.workspace_id.as_uuid())
            .bind(delivery.id.as_uuid())
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
    }};
}

/// `WebhookStore::claim_delivery`'s body; evaluates to `Option<ClaimedDelivery>`.
macro_rules! claim_delivery {
    ($conn:expr, $job:expr, $owner:expr, $now:expr) => {{
        let job: crier_core::DeliveryRef = $job;
        let now: crier_core::Timestamp = $now;
        if !$crate::binds_webhooks::holds_lease!($conn, job, $owner, now) {
            None
        } else {
            let delivery = $crate::binds_webhooks::load_delivery!($conn, job.workspace_id, job.delivery_id);
            let endpoint =
                $crate::binds_webhooks::load_endpoint!($conn, job.workspace_id, delivery.endpoint_id);
            if delivery.status != crier_core::DeliveryStatus::Pending {
                sqlx::query($crate::rows_webhooks::sql::DELETE_JOB)
                    .bind(job.workspace_id.as_uuid())
                    .bind(job.delivery_id.as_uuid())
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                None
            } else if !endpoint.enabled && delivery.event_kind != "ping" {
                $crate::binds_webhooks::abandon_delivery!($conn, &delivery, "the endpoint is disabled", now);
                None
            } else {
                let row: $crate::rows_webhooks::EventRow =
                    sqlx::query_as($crate::rows_webhooks::sql::GET_EVENT)
                        .bind(job.workspace_id.as_uuid())
                        .bind(delivery.event_seq)
                        .fetch_one(&mut *$conn)
                        .await
                        .map_err($crate::error::map_sqlx)?;
                Some(crier_core::ClaimedDelivery { delivery, endpoint, event: row.into_domain() })
            }
        }
    }};
}

/// `WebhookStore::finish_delivery`'s body; evaluates to how many deliveries a
/// `webhook.endpoint.disabled` event queued (0 when none was appended).
macro_rules! finish_delivery {
    ($conn:expr, $job:expr, $owner:expr, $attempt:expr, $outcome:expr, $now:expr, $fan_out:expr, $lock:expr) => {{
        use crier_core::{DeliveryOutcome, DeliveryStatus};
        use $crate::rows::DbTime;
        use $crate::rows_webhooks::sql;
        let job: crier_core::DeliveryRef = $job;
        let attempt: &crier_core::DeliveryAttempt = $attempt;
        let outcome: &DeliveryOutcome = $outcome;
        let now: crier_core::Timestamp = $now;
        let ws = job.workspace_id.as_uuid();
        if !$crate::binds_webhooks::holds_lease!($conn, job, $owner, now) {
            return Err(crier_core::StoreError::Conflict("the delivery's lease is no longer held".into()));
        }
        let delivery = $crate::binds_webhooks::load_delivery!($conn, job.workspace_id, job.delivery_id);
        let number = delivery.attempts + 1;
        sqlx::query(sql::INSERT_ATTEMPT)
            .bind(ws)
            .bind(delivery.id.as_uuid())
            .bind(number)
            .bind(DbTime(attempt.attempted_at))
            .bind(attempt.status_code)
            .bind(attempt.latency_ms)
            .bind(attempt.response_excerpt.as_str())
            .bind(attempt.error.as_deref())
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let (status, next) = match outcome {
            DeliveryOutcome::Succeeded => (DeliveryStatus::Succeeded, None),
            DeliveryOutcome::RetryAt(at) => (DeliveryStatus::Pending, Some(*at)),
            DeliveryOutcome::Failed { .. } => (DeliveryStatus::Failed, None),
        };
        sqlx::query(sql::UPDATE_DELIVERY)
            .bind(ws)
            .bind(delivery.id.as_uuid())
            .bind(status.as_str())
            .bind(number)
            .bind(next.map(DbTime))
            .bind(attempt.status_code)
            .bind(attempt.error.as_deref())
            .bind(DbTime(now))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        match next {
            Some(at) => sqlx::query(sql::UPSERT_JOB).bind(ws).bind(delivery.id.as_uuid()).bind(DbTime(at)),
            None => sqlx::query(sql::DELETE_JOB).bind(ws).bind(delivery.id.as_uuid()),
        }
        .execute(&mut *$conn)
        .await
        .map_err($crate::error::map_sqlx)?;
        let endpoint_change = if status == DeliveryStatus::Succeeded { sql::ENDPOINT_SUCCEEDED } else { sql::ENDPOINT_FAILED };
        sqlx::query(endpoint_change)
            .bind(ws)
            .bind(delivery.endpoint_id.as_uuid())
            .bind(DbTime(now))
            .execute(&mut *$conn)
            .await
            .map_err($crate::error::map_sqlx)?;
        let mut queued = 0;
        if let DeliveryOutcome::Failed { disable: Some(reason) } = outcome {
            let disabled = sqlx::query(sql::DISABLE_ENDPOINT)
                .bind(ws)
                .bind(delivery.endpoint_id.as_uuid())
                .bind(false)
                .bind(reason.as_str())
                .bind(DbTime(now))
                .bind(true)
                .execute(&mut *$conn)
                .await
                .map_err($crate::error::map_sqlx)?;
            if disabled.rows_affected() == 1 {
                sqlx::query(sql::DELETE_JOBS_OF_ENDPOINT)
                    .bind(ws)
                    .bind(delivery.endpoint_id.as_uuid())
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                sqlx::query(sql::FAIL_PENDING_OF_ENDPOINT)
                    .bind(ws)
                    .bind(delivery.endpoint_id.as_uuid())
                    .bind("the endpoint was disabled")
                    .bind(DbTime(now))
                    .execute(&mut *$conn)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                let endpoint = $crate::binds_webhooks::load_endpoint!($conn, job.workspace_id, delivery.endpoint_id);
                let event = crier_core::NewEvent {
                    kind: "webhook.endpoint.disabled",
                    subject: endpoint.id.to_string(),
                    data: serde_json::json!({
                        "endpoint_id": endpoint.id.to_string(),
                        "reason": reason,
                        "url": endpoint.url,
                    }),
                };
                $crate::binds_webhooks::lock_events!($conn, job.workspace_id, $lock);
                queued = $crate::binds_publishing::insert_event!($conn, job.workspace_id, &event, now, $fan_out).1;
            }
        }
        queued
    }};
}

pub(crate) use {
    abandon_delivery, bind_endpoint, channel_disconnected, claim_delivery, create_endpoint, delete_endpoint,
    finish_delivery, holds_lease, insert_secret, load_delivery, load_endpoint, load_one, lock_events,
    retry_delivery, rotate_secret, send_test_event, update_endpoint,
};
