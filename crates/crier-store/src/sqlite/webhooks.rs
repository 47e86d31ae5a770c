use async_trait::async_trait;
use crier_core::{
    ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryId, DeliveryOutcome, DeliveryQuery, DeliveryRef,
    EndpointChanges, Event, IdempotentResponse, NewAuditEvent, SealedRow, StoreResult, Timestamp,
    WebhookEndpoint, WebhookEndpointId, WebhookStore, WorkspaceId,
};
use uuid::Uuid;

use super::SqliteStore;
use crate::binds::append_audit;
use crate::binds_publishing::store_response;
use crate::binds_webhooks::{
    claim_delivery, create_endpoint, delete_endpoint, finish_delivery, load_delivery, retry_delivery,
    rotate_secret, send_test_event, update_endpoint,
};
use crate::error::map_sqlx;
use crate::rows::{DbTime, db_time};
use crate::rows_webhooks::sql::{self, FAN_OUT_SQLITE};
use crate::rows_webhooks::{AttemptRow, DeliveryRow, EndpointRow, EventRow};

/// Leases due deliveries, and deliveries whose lease ran out (a dispatcher died mid-send: at
/// least once), in one statement on the single writer.
const LEASE_DELIVERIES: &str = "UPDATE webhook_jobs SET lease_owner = $1, lease_expires_at = $3 WHERE rowid IN \
     (SELECT rowid FROM webhook_jobs WHERE (lease_owner IS NULL AND run_at <= $2) \
         OR (lease_owner IS NOT NULL AND lease_expires_at < $2) ORDER BY run_at LIMIT $4) \
     RETURNING workspace_id, delivery_id";

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        secret: &SealedRow,
        idempotency: Option<&IdempotentResponse>,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        create_endpoint!(tx, endpoint, secret);
        append_audit!(tx, endpoint.workspace_id, audit);
        store_response!(tx, endpoint.workspace_id, idempotency);
        tx.commit().await.map_err(map_sqlx)
    }

    async fn get_endpoint(
        &self,
        workspace: WorkspaceId,
        id: WebhookEndpointId,
    ) -> StoreResult<WebhookEndpoint> {
        let mut tx = self.reader.begin().await.map_err(map_sqlx)?;
        let endpoint = crate::binds_webhooks::load_endpoint!(tx, workspace, id);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(endpoint)
    }

    async fn list_endpoints(&self, workspace: WorkspaceId) -> StoreResult<Vec<WebhookEndpoint>> {
        let rows: Vec<EndpointRow> = sqlx::query_as(sql::LIST_ENDPOINTS)
            .bind(workspace.as_uuid())
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter().map(EndpointRow::into_domain).collect()
    }

    async fn update_endpoint(
        &self,
        workspace: WorkspaceId,
        id: WebhookEndpointId,
        changes: &EndpointChanges,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<WebhookEndpoint> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let endpoint = update_endpoint!(tx, workspace, id, changes, now);
        append_audit!(tx, workspace, audit);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(endpoint)
    }

    async fn rotate_endpoint_secret(
        &self,
        workspace: WorkspaceId,
        id: WebhookEndpointId,
        secret: &SealedRow,
        previous_expires_at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<WebhookEndpoint> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let endpoint = rotate_secret!(tx, workspace, id, secret, previous_expires_at);
        append_audit!(tx, workspace, audit);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(endpoint)
    }

    async fn delete_endpoint(
        &self,
        workspace: WorkspaceId,
        id: WebhookEndpointId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        delete_endpoint!(tx, workspace, id);
        append_audit!(tx, workspace, audit);
        tx.commit().await.map_err(map_sqlx)
    }

    async fn send_test_event(
        &self,
        workspace: WorkspaceId,
        id: WebhookEndpointId,
        now: Timestamp,
    ) -> StoreResult<Delivery> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let delivery = send_test_event!(tx, workspace, id, now, FAN_OUT_SQLITE, None);
        tx.commit().await.map_err(map_sqlx)?;
        self.jobs_changed.notify_waiters();
        Ok(delivery)
    }

    async fn list_deliveries(
        &self,
        workspace: WorkspaceId,
        query: &DeliveryQuery,
    ) -> StoreResult<Vec<Delivery>> {
        let mut tx = self.reader.begin().await.map_err(map_sqlx)?;
        let rows: Vec<DeliveryRow> = sqlx::query_as(sql::LIST_DELIVERIES)
            .bind(workspace.as_uuid())
            .bind(query.endpoint.map(|id| id.as_uuid()))
            .bind(query.status.map(|s| s.as_str()))
            .bind(query.before.map(|id| id.as_uuid()))
            .bind(query.limit.max(0))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        rows.into_iter().map(DeliveryRow::into_domain).collect()
    }

    async fn get_delivery(
        &self,
        workspace: WorkspaceId,
        id: DeliveryId,
    ) -> StoreResult<(Delivery, Vec<DeliveryAttempt>)> {
        let mut tx = self.reader.begin().await.map_err(map_sqlx)?;
        let delivery = load_delivery!(tx, workspace, id);
        let attempts: Vec<AttemptRow> = sqlx::query_as(sql::LIST_ATTEMPTS)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok((delivery, attempts.into_iter().map(AttemptRow::into_domain).collect()))
    }

    async fn retry_delivery(
        &self,
        workspace: WorkspaceId,
        id: DeliveryId,
        now: Timestamp,
    ) -> StoreResult<Delivery> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let delivery = retry_delivery!(tx, workspace, id, now);
        tx.commit().await.map_err(map_sqlx)?;
        self.jobs_changed.notify_waiters();
        Ok(delivery)
    }

    async fn list_events(&self, workspace: WorkspaceId, after: i64, limit: i64) -> StoreResult<Vec<Event>> {
        let mut tx = self.reader.begin().await.map_err(map_sqlx)?;
        let rows: Vec<EventRow> = sqlx::query_as(sql::LIST_EVENTS)
            .bind(workspace.as_uuid())
            .bind(after)
            .bind(limit.max(0))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(rows.into_iter().map(EventRow::into_domain).collect())
    }

    async fn lease_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRef>> {
        let leased: Vec<(Uuid, Uuid)> = sqlx::query_as(LEASE_DELIVERIES)
            .bind(owner)
            .bind(db_time(now))
            .bind(db_time(lease_until))
            .bind(limit.max(0))
            .fetch_all(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(leased
            .into_iter()
            .map(|(ws, id)| DeliveryRef {
                workspace_id: WorkspaceId::from_uuid(ws),
                delivery_id: DeliveryId::from_uuid(id),
            })
            .collect())
    }

    async fn claim_delivery(
        &self,
        job: DeliveryRef,
        owner: &str,
        now: Timestamp,
    ) -> StoreResult<Option<ClaimedDelivery>> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let claimed = claim_delivery!(tx, job, owner, now);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(claimed)
    }

    async fn finish_delivery(
        &self,
        job: DeliveryRef,
        owner: &str,
        attempt: &DeliveryAttempt,
        outcome: &DeliveryOutcome,
        now: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let queued = finish_delivery!(tx, job, owner, attempt, outcome, now, FAN_OUT_SQLITE, None);
        tx.commit().await.map_err(map_sqlx)?;
        if queued > 0 || matches!(outcome, DeliveryOutcome::RetryAt(_)) {
            self.jobs_changed.notify_waiters();
        }
        Ok(())
    }

    async fn next_delivery_due(&self) -> StoreResult<Option<Timestamp>> {
        let due: Option<DbTime> =
            sqlx::query_scalar(sql::NEXT_DUE).fetch_one(&self.reader).await.map_err(map_sqlx)?;
        Ok(due.map(|t| t.0))
    }
}
