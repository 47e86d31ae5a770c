//! Row shapes and SQL of webhooks and events, shared by both backends like `rows` (except the
//! fan-out statement, whose id generation differs per backend).

use crier_core::{
    Delivery, DeliveryAttempt, DeliveryId, DeliveryStatus, Event, PreviousSecret, SecretId, StoreResult,
    WebhookEndpoint, WebhookEndpointId, WorkspaceId,
};
use uuid::Uuid;

use crate::error::corrupt;
use crate::rows::DbTime;
use crate::rows_publishing::DbJson;

#[derive(sqlx::FromRow)]
pub(crate) struct EndpointRow {
    workspace_id: Uuid,
    id: Uuid,
    url: String,
    description: String,
    event_types: DbJson,
    enabled: bool,
    disabled_reason: Option<String>,
    secret_id: Uuid,
    previous_secret_id: Option<Uuid>,
    previous_secret_expires_at: Option<DbTime>,
    failing_since: Option<DbTime>,
    created_at: DbTime,
    updated_at: DbTime,
}

impl EndpointRow {
    pub(crate) fn into_domain(self) -> StoreResult<WebhookEndpoint> {
        let event_types = serde_json::from_value(self.event_types.0)
            .map_err(|_| corrupt("webhook_endpoints.event_types is not an array of strings"))?;
        let previous_secret = match (self.previous_secret_id, self.previous_secret_expires_at) {
            (Some(id), Some(at)) => {
                Some(PreviousSecret { secret_id: SecretId::from_uuid(id), expires_at: at.0 })
            }
            _ => None,
        };
        Ok(WebhookEndpoint {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            id: WebhookEndpointId::from_uuid(self.id),
            url: self.url,
            description: self.description,
            event_types,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            secret_id: SecretId::from_uuid(self.secret_id),
            previous_secret,
            failing_since: self.failing_since.map(|t| t.0),
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    workspace_id: Uuid,
    id: Uuid,
    endpoint_id: Uuid,
    event_seq: i64,
    event_kind: String,
    status: String,
    attempts: i32,
    next_attempt_at: Option<DbTime>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    created_at: DbTime,
    updated_at: DbTime,
}

impl DeliveryRow {
    pub(crate) fn into_domain(self) -> StoreResult<Delivery> {
        Ok(Delivery {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            id: DeliveryId::from_uuid(self.id),
            endpoint_id: WebhookEndpointId::from_uuid(self.endpoint_id),
            event_seq: self.event_seq,
            event_kind: self.event_kind,
            status: DeliveryStatus::from_db(&self.status)
                .ok_or_else(|| corrupt("webhook_deliveries.status holds an unknown value"))?,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at.map(|t| t.0),
            last_status_code: self.last_status_code,
            last_error: self.last_error,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AttemptRow {
    number: i32,
    attempted_at: DbTime,
    status_code: Option<i32>,
    latency_ms: i64,
    response_excerpt: String,
    error: Option<String>,
}

impl AttemptRow {
    pub(crate) fn into_domain(self) -> DeliveryAttempt {
        DeliveryAttempt {
            number: self.number,
            attempted_at: self.attempted_at.0,
            status_code: self.status_code,
            latency_ms: self.latency_ms,
            response_excerpt: self.response_excerpt,
            error: self.error,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    workspace_id: Uuid,
    seq: i64,
    kind: String,
    subject: String,
    data: DbJson,
    created_at: DbTime,
}

impl EventRow {
    pub(crate) fn into_domain(self) -> Event {
        Event {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            seq: self.seq,
            kind: self.kind,
            subject: self.subject,
            data: self.data.0,
            created_at: self.created_at.0,
        }
    }
}

/// Milliseconds since the epoch: the time part of the ids the fan-out statement makes.
pub(crate) fn id_millis(at: crier_core::Timestamp) -> i64 {
    at.timestamp_millis()
}

pub(crate) mod sql {
    macro_rules! endpoint_columns {
        () => {
            "workspace_id, id, url, description, event_types, enabled, disabled_reason, secret_id, \
             previous_secret_id, previous_secret_expires_at, failing_since, created_at, updated_at"
        };
    }
    macro_rules! delivery_columns {
        () => {
            "workspace_id, id, endpoint_id, event_seq, event_kind, status, attempts, next_attempt_at, \
             last_status_code, last_error, created_at, updated_at"
        };
    }

    pub const INSERT_ENDPOINT: &str = concat!(
        "INSERT INTO webhook_endpoints (",
        endpoint_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    pub const GET_ENDPOINT: &str = concat!(
        "SELECT ",
        endpoint_columns!(),
        " FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2"
    );
    pub const LIST_ENDPOINTS: &str = concat!(
        "SELECT ",
        endpoint_columns!(),
        " FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY created_at, id"
    );
    /// Writes every mutable field back (the store reads, changes and writes in one transaction).
    pub const UPDATE_ENDPOINT: &str = "UPDATE webhook_endpoints SET url = $3, description = $4, \
         event_types = $5, enabled = $6, disabled_reason = $7, secret_id = $8, previous_secret_id = $9, \
         previous_secret_expires_at = $10, failing_since = $11, updated_at = $12 \
         WHERE workspace_id = $1 AND id = $2";
    pub const DELETE_ENDPOINT: &str = "DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2";
    pub const DELETE_SECRET: &str = "DELETE FROM secrets WHERE workspace_id = $1 AND id = $2";
    /// Success clears the failure stretch; failure starts one if none is running.
    pub const ENDPOINT_SUCCEEDED: &str =
        "UPDATE webhook_endpoints SET failing_since = NULL WHERE workspace_id = $1 AND id = $2";
    pub const ENDPOINT_FAILED: &str = "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $3) \
         WHERE workspace_id = $1 AND id = $2";
    pub const DISABLE_ENDPOINT: &str = "UPDATE webhook_endpoints SET enabled = $3, disabled_reason = $4, \
         updated_at = $5 WHERE workspace_id = $1 AND id = $2 AND enabled = $6";

    pub const GET_DELIVERY: &str = concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries WHERE workspace_id = $1 AND id = $2"
    );
    pub const DELIVERY_OF_EVENT: &str = concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries WHERE workspace_id = $1 AND event_seq = $2 AND endpoint_id = $3"
    );
    /// Newest first, by id (time-ordered), with optional endpoint ($2), status ($3) and cursor ($4).
    pub const LIST_DELIVERIES: &str = concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries WHERE workspace_id = $1 AND ($2 IS NULL OR endpoint_id = $2) \
         AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
    );
    pub const LIST_ATTEMPTS: &str = "SELECT number, attempted_at, status_code, latency_ms, response_excerpt, \
         error FROM webhook_delivery_attempts WHERE workspace_id = $1 AND delivery_id = $2 ORDER BY number";
    pub const INSERT_ATTEMPT: &str = "INSERT INTO webhook_delivery_attempts (workspace_id, delivery_id, number, \
         attempted_at, status_code, latency_ms, response_excerpt, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    /// Records an attempt's result on its delivery: status, next time, counters.
    pub const UPDATE_DELIVERY: &str = "UPDATE webhook_deliveries SET status = $3, attempts = $4, \
         next_attempt_at = $5, last_status_code = $6, last_error = $7, updated_at = $8 \
         WHERE workspace_id = $1 AND id = $2";
    pub const REQUEUE_DELIVERY: &str = "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, \
         updated_at = $3 WHERE workspace_id = $1 AND id = $2";
    /// Pending deliveries of an endpoint that has just been disabled or deleted fail.
    pub const FAIL_PENDING_OF_ENDPOINT: &str = "UPDATE webhook_deliveries SET status = 'failed', \
         next_attempt_at = NULL, last_error = $3, updated_at = $4 \
         WHERE workspace_id = $1 AND endpoint_id = $2 AND status = 'pending'";

    /// Queue rows for the deliveries of event $2 (after the fan-out).
    pub const QUEUE_EVENT_DELIVERIES: &str = "INSERT INTO webhook_jobs (workspace_id, delivery_id, run_at) \
         SELECT workspace_id, id, created_at FROM webhook_deliveries WHERE workspace_id = $1 AND event_seq = $2";
    /// Queues a delivery at $3 (again), releasing any lease.
    pub const UPSERT_JOB: &str = "INSERT INTO webhook_jobs (workspace_id, delivery_id, run_at) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id, delivery_id) DO UPDATE SET run_at = excluded.run_at, lease_owner = NULL, \
         lease_expires_at = NULL";
    pub const DELETE_JOB: &str = "DELETE FROM webhook_jobs WHERE workspace_id = $1 AND delivery_id = $2";
    pub const DELETE_JOBS_OF_ENDPOINT: &str = "DELETE FROM webhook_jobs WHERE workspace_id = $1 AND delivery_id IN \
         (SELECT id FROM webhook_deliveries WHERE workspace_id = $1 AND endpoint_id = $2)";
    /// The lease check of `claim_delivery` / `finish_delivery`: held by $3 and unexpired at $4.
    pub const HOLDS_LEASE: &str = "SELECT 1 FROM webhook_jobs WHERE workspace_id = $1 AND delivery_id = $2 \
         AND lease_owner = $3 AND lease_expires_at > $4";
    pub const NEXT_DUE: &str = "SELECT MIN(run_at) FROM webhook_jobs WHERE lease_owner IS NULL";

    pub const GET_EVENT: &str = "SELECT workspace_id, seq, kind, subject, data, created_at FROM events \
         WHERE workspace_id = $1 AND seq = $2";
    pub const LIST_EVENTS: &str = "SELECT workspace_id, seq, kind, subject, data, created_at FROM events \
         WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
    pub const INSERT_EVENT: &str = "INSERT INTO events (workspace_id, seq, kind, subject, data, created_at) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM events WHERE workspace_id = $1 RETURNING seq";

    /// The fan-out's endpoint filter: $6 names one endpoint (a test send), else every enabled
    /// endpoint whose filter is empty or names the event type $3.
    macro_rules! fan_out {
        ($id:expr, $takes:literal) => {
            concat!(
                "INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_seq, event_kind, status, \
                 attempts, next_attempt_at, created_at, updated_at) SELECT e.workspace_id, ",
                $id,
                ", e.id, $2, $3, 'pending', 0, $4, $4, $4 FROM webhook_endpoints e WHERE e.workspace_id = $1 \
                 AND CASE WHEN $6 IS NULL THEN e.enabled AND ",
                $takes,
                " ELSE e.id = $6 END"
            )
        };
    }

    /// PostgreSQL's delivery id: ULID-shaped, 48 bits of milliseconds ($5), then 80 random bits.
    macro_rules! pg_delivery_id {
        () => {
            "(lpad(to_hex($5::bigint), 12, '0') || substr(replace(gen_random_uuid()::text, '-', ''), 13))::uuid"
        };
    }

    pub const FAN_OUT_POSTGRES: &str =
        fan_out!(pg_delivery_id!(), "(jsonb_array_length(e.event_types) = 0 OR e.event_types ? $3)");
    /// `FAN_OUT_POSTGRES` for many events at once: `$3` their seqs, `$4` their types, `$2` the time.
    pub const FAN_OUT_EVENTS_POSTGRES: &str = concat!(
        "INSERT INTO webhook_deliveries (workspace_id, id, endpoint_id, event_seq, event_kind, status, attempts, \
         next_attempt_at, created_at, updated_at) SELECT e.workspace_id, ",
        pg_delivery_id!(),
        ", e.id, v.seq, v.kind, 'pending', 0, $2, $2, $2 FROM webhook_endpoints e, \
         unnest($3::bigint[], $4::text[]) AS v(seq, kind) WHERE e.workspace_id = $1 AND e.enabled \
         AND (jsonb_array_length(e.event_types) = 0 OR e.event_types ? v.kind)"
    );
    pub const FAN_OUT_SQLITE: &str = fan_out!(
        "unhex(printf('%012x', $5) || hex(randomblob(10)))",
        "(json_array_length(e.event_types) = 0 OR EXISTS (SELECT 1 FROM json_each(e.event_types) WHERE value = $3))"
    );
}
