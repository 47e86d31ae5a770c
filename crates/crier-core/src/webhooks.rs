//! Events and their signed delivery to webhook endpoints.
//!
//! An event is appended in the same transaction as the change that causes it, and in that same
//! transaction one delivery (with its queue row) is made for every enabled endpoint whose filter
//! takes the event. Delivery is at least once: a lease that runs out is simply leased again, and
//! every retry carries the same `webhook-id` (the delivery id), so receivers can de-duplicate.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::audit::NewAuditEvent;
use crate::queue::IdempotentResponse;
use crate::vault::SealedRow;
use crate::{DeliveryId, SecretId, StoreResult, Timestamp, WebhookEndpointId, WorkspaceId};

/// One entry of a workspace's event log, numbered 1, 2, 3… in commit order.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub workspace_id: WorkspaceId,
    pub seq: i64,
    pub kind: String,
    /// The id of the thing the event is about (a target, a channel, an endpoint).
    pub subject: String,
    pub data: serde_json::Value,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub workspace_id: WorkspaceId,
    pub id: WebhookEndpointId,
    pub url: String,
    pub description: String,
    /// Event types delivered; empty means all of them.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why Crier disabled it (`gone`, `failing`), if it did.
    pub disabled_reason: Option<String>,
    /// The signing secret (`whsec_…`), sealed in the vault.
    pub secret_id: SecretId,
    /// The secret before the last rotation, still signing alongside until it expires.
    pub previous_secret: Option<PreviousSecret>,
    /// Since when every delivery has failed (None after any success).
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousSecret {
    pub secret_id: SecretId,
    pub expires_at: Timestamp,
}

impl WebhookEndpoint {
    /// The secrets that sign a delivery made at `now`: the current one first.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<SecretId> {
        let mut secrets = vec![self.secret_id];
        if let Some(previous) = self.previous_secret.filter(|p| p.expires_at > now) {
            secrets.push(previous.secret_id);
        }
        secrets
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    Succeeded,
    /// Out of attempts, or its endpoint was disabled or deleted.
    Failed,
}

impl DeliveryStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub workspace_id: WorkspaceId,
    pub id: DeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub event_seq: i64,
    pub event_kind: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The log line of one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub number: i32,
    pub attempted_at: Timestamp,
    /// None when no HTTP answer came (refused, timed out, connection failed).
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// The start of the answer's body, for the person debugging their receiver.
    pub response_excerpt: String,
    pub error: Option<String>,
}

/// A delivery in the global queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryRef {
    pub workspace_id: WorkspaceId,
    pub delivery_id: DeliveryId,
}

/// What a dispatcher needs to send one delivery.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub endpoint: WebhookEndpoint,
    pub event: Event,
}

/// How an attempt ended, as the dispatcher decided.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Succeeded,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// No more attempts. `disable` (with its reason) also disables the endpoint and appends a
    /// `webhook.endpoint.disabled` event: a 410, or failures for longer than the allowed stretch.
    Failed {
        disable: Option<String>,
    },
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub endpoint: Option<WebhookEndpointId>,
    pub status: Option<DeliveryStatus>,
    /// Deliveries older than this one (the previous page's last id).
    pub before: Option<DeliveryId>,
    pub limit: i64,
}

/// The changes a PATCH may make.
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Enabling clears `disabled_reason` and `failing_since`.
    pub enabled: Option<bool>,
}

#[async_trait]
pub trait WebhookStore {
    /// Stores the endpoint with its sealed secret (and the idempotent response) in one transaction.
    async fn create_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        secret: &SealedRow,
        idempotency: Option<&IdempotentResponse>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    async fn get_endpoint(
        &self,
        workspace: WorkspaceId,
        id: WebhookEndpointId,
    ) -> StoreResult<WebhookEndpoint>;
    /// Oldest first.
    async fn list_endpoints(&self, workspace: WorkspaceId) -> StoreResult<Vec<WebhookEndpoint>>;
    async fn update_endpoint(
        &self,
        workspace: WorkspaceId,
        id: WebhookEndpointId,
        changes: &EndpointChanges,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<WebhookEndpoint>;
    /// Makes `secret` the current one; the current one signs alongside until `previous_expires_at`;
    /// the one before that is deleted.
    async fn rotate_endpoint_secret(
        &self,
        workspace: WorkspaceId,
        id: WebhookEndpointId,
        secret: &SealedRow,
        previous_expires_at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<WebhookEndpoint>;
    /// Deletes the endpoint, its secrets, its deliveries and their queue rows.
    async fn delete_endpoint(
        &self,
        workspace: WorkspaceId,
        id: WebhookEndpointId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;

    /// Appends a `ping` event delivered to this endpoint only (enabled or not). Returns the delivery.
    async fn send_test_event(
        &self,
        workspace: WorkspaceId,
        id: WebhookEndpointId,
        now: Timestamp,
    ) -> StoreResult<Delivery>;

    /// Newest first.
    async fn list_deliveries(
        &self,
        workspace: WorkspaceId,
        query: &DeliveryQuery,
    ) -> StoreResult<Vec<Delivery>>;
    async fn get_delivery(
        &self,
        workspace: WorkspaceId,
        id: DeliveryId,
    ) -> StoreResult<(Delivery, Vec<DeliveryAttempt>)>;
    /// Queues the delivery again now, whatever its status (manual redelivery).
    async fn retry_delivery(
        &self,
        workspace: WorkspaceId,
        id: DeliveryId,
        now: Timestamp,
    ) -> StoreResult<Delivery>;

    /// Events with `seq > after`, in order, at most `limit`.
    async fn list_events(&self, workspace: WorkspaceId, after: i64, limit: i64) -> StoreResult<Vec<Event>>;

    /// Leases up to `limit` deliveries that are due, or whose lease ran out (at least once).
    async fn lease_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRef>>;
    /// The delivery with its endpoint and event, if `owner` still holds its lease at `now` and it
    /// is pending. A delivery whose endpoint is disabled fails here (test sends excepted).
    async fn claim_delivery(
        &self,
        job: DeliveryRef,
        owner: &str,
        now: Timestamp,
    ) -> StoreResult<Option<ClaimedDelivery>>;
    /// Logs the attempt and applies the outcome in one transaction (only while `owner` holds the
    /// lease; `Conflict` otherwise). Success clears the endpoint's `failing_since`; a failure
    /// sets it if unset.
    async fn finish_delivery(
        &self,
        job: DeliveryRef,
        owner: &str,
        attempt: &DeliveryAttempt,
        outcome: &DeliveryOutcome,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// The earliest run_at of any unleased delivery.
    async fn next_delivery_due(&self) -> StoreResult<Option<Timestamp>>;
}

/// The documented retry schedule: `RETRY_SCHEDULE[n - 1]` is the wait before attempt n
/// (immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after each failure), so a delivery
/// gets 8 attempts over about 28 hours. The dispatcher adds jitter.
pub const RETRY_SCHEDULE: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];
