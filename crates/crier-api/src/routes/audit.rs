//! `GET /v1/audit-events`: the workspace's hash-chained security log, oldest first.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use crier_core::{AuditEvent, Scope};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiQuery, Tenant, page_limit};
use crate::state::AppState;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// `next_cursor` of the previous page; omit for the first page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
}

/// One security event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventOut {
    #[schema(example = "aud_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub id: String,
    /// Position in the workspace's chain, from 1 without gaps.
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// `api_key:key_…`, `cli` or `system`.
    pub actor: String,
    #[schema(example = "api_key.rotated")]
    pub action: String,
    pub target: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Hex SHA-256 of the previous row's hash and this row's canonical encoding.
    pub hash: String,
    pub prev_hash: String,
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl From<AuditEvent> for AuditEventOut {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id.to_string(),
            seq: event.seq,
            at: event.at,
            actor: event.actor.0,
            action: event.action,
            target: event.target,
            ip: event.ip,
            user_agent: event.user_agent,
            hash: hex(&event.hash),
            prev_hash: hex(&event.prev_hash),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventPage {
    pub data: Vec<AuditEventOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List the workspace's audit events, oldest first.
#[utoipa::path(
    get,
    path = "/v1/audit-events",
    tag = "audit",
    security(("api_key" = ["audit:read"])),
    params(AuditQuery),
    responses(
        (status = 200, body = AuditEventPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_audit_events(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditEventPage>> {
    tenant.require(Scope::AuditRead)?;
    let limit = page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = match query.cursor.as_deref() {
        None => 0,
        Some(cursor) => cursor
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .ok_or_else(|| ApiError::invalid("cursor is not one this API returned"))?,
    };
    // One extra row tells whether another page follows.
    let mut rows = state.store.list_audit_events(tenant.workspace_id, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more { rows.last().map(|row| row.seq.to_string()) } else { None };
    Ok(Json(AuditEventPage { data: rows.into_iter().map(Into::into).collect(), next_cursor }))
}
