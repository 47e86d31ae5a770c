//! `/v1/webhooks/deliveries`: each event's way to each endpoint, with its attempt log, and
//! manual redelivery.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use crier_core::{
    Delivery, DeliveryAttempt, DeliveryId, DeliveryQuery, DeliveryStatus, Scope, StoreError,
    WebhookEndpointId,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, ApiQuery, Tenant, page_limit};
use crate::state::AppState;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(retry_delivery))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    /// Also the `webhook-id` header of every attempt.
    #[schema(example = "msg_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub id: String,
    pub endpoint_id: String,
    /// The event's position in `GET /v1/events`.
    pub event_seq: i64,
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The attempt log (on `GET /v1/webhooks/deliveries/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptOut>>,
}

impl DeliveryOut {
    pub fn new(d: Delivery, attempts: Option<Vec<DeliveryAttempt>>) -> Self {
        Self {
            id: d.id.to_string(),
            endpoint_id: d.endpoint_id.to_string(),
            event_seq: d.event_seq,
            event_type: d.event_kind,
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            created_at: d.created_at,
            updated_at: d.updated_at,
            attempt_log: attempts.map(|a| a.into_iter().map(AttemptOut::from).collect()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    pub number: i32,
    pub attempted_at: DateTime<Utc>,
    /// None when no HTTP answer came.
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// The first KiB of the answer's body.
    pub response: String,
    pub error: Option<String>,
}

impl From<DeliveryAttempt> for AttemptOut {
    fn from(a: DeliveryAttempt) -> Self {
        Self {
            number: a.number,
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response: a.response_excerpt,
            error: a.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub data: Vec<DeliveryOut>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryListQuery {
    /// Only this endpoint's deliveries (`ep_…`).
    pub endpoint_id: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
}

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("webhook delivery"),
        other => other.into(),
    }
}

/// List deliveries, newest first.
#[utoipa::path(
    get,
    path = "/v1/webhooks/deliveries",
    tag = "webhooks",
    security(("api_key" = ["webhooks:admin"])),
    params(DeliveryListQuery),
    responses((status = 200, body = DeliveryPage), (status = 400, body = Problem, content_type = "application/problem+json"))
)]
pub async fn list_deliveries(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DeliveryListQuery>,
) -> ApiResult<Json<DeliveryPage>> {
    tenant.require(Scope::WebhooksAdmin)?;
    let limit = page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let endpoint = query
        .endpoint_id
        .map(|id| {
            id.parse::<WebhookEndpointId>()
                .map_err(|_| ApiError::invalid("endpoint_id is not an endpoint id"))
        })
        .transpose()?;
    let status = query
        .status
        .map(|s| {
            DeliveryStatus::from_db(&s)
                .ok_or_else(|| ApiError::invalid("status: pending, succeeded or failed"))
        })
        .transpose()?;
    let before = query
        .cursor
        .map(|c| {
            c.parse::<DeliveryId>().map_err(|_| ApiError::invalid("cursor is not one this API returned"))
        })
        .transpose()?;
    let mut rows = state
        .store
        .list_deliveries(tenant.workspace_id, &DeliveryQuery { endpoint, status, before, limit: limit + 1 })
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more { rows.last().map(|d| d.id.to_string()) } else { None };
    Ok(Json(DeliveryPage {
        data: rows.into_iter().map(|d| DeliveryOut::new(d, None)).collect(),
        next_cursor,
    }))
}

/// Show a delivery with its attempt log.
#[utoipa::path(
    get,
    path = "/v1/webhooks/deliveries/{id}",
    tag = "webhooks",
    security(("api_key" = ["webhooks:admin"])),
    params(("id" = String, Path, description = "The delivery's id (`msg_…`, the `webhook-id`)")),
    responses((status = 200, body = DeliveryOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_delivery(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<DeliveryId>,
) -> ApiResult<Json<DeliveryOut>> {
    tenant.require(Scope::WebhooksAdmin)?;
    let (delivery, attempts) = state.store.get_delivery(tenant.workspace_id, id).await.map_err(not_found)?;
    Ok(Json(DeliveryOut::new(delivery, Some(attempts))))
}

/// Deliver again now, with the same `webhook-id`, whatever the delivery's status.
#[utoipa::path(
    post,
    path = "/v1/webhooks/deliveries/{id}/retry",
    tag = "webhooks",
    security(("api_key" = ["webhooks:admin"])),
    params(("id" = String, Path, description = "The delivery's id (`msg_…`)")),
    responses((status = 202, body = DeliveryOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn retry_delivery(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<DeliveryId>,
) -> ApiResult<(StatusCode, Json<DeliveryOut>)> {
    tenant.require(Scope::WebhooksAdmin)?;
    let delivery =
        state.store.retry_delivery(tenant.workspace_id, id, state.clock.now()).await.map_err(not_found)?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryOut::new(delivery, None))))
}
