//! Webhook endpoints (the secret shown once), their delivery log with redelivery and a test
//! send, and the audit log with filters — through the same handlers as the API.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use crier_core::{DeliveryId, WebhookEndpointId};
use serde::Deserialize;

use super::session::{Posted, SignedIn};
use super::{DashError, Nav, render, see_other};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::audit::{AuditEventOut, AuditQuery, list_audit_events};
use crate::routes::webhook_deliveries::{DeliveryListQuery, DeliveryOut, list_deliveries, retry_delivery};
use crate::routes::webhook_endpoints::{
    EndpointIn, EndpointOut, create_endpoint, delete_endpoint, list_endpoints, send_test,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(webhooks).post(create))
        .route("/webhooks/{id}/test", post(test))
        .route("/webhooks/{id}/delete", post(delete))
        .route("/webhooks/deliveries/{id}/retry", post(redeliver))
        .route("/audit", get(audit))
}

#[derive(askama::Template)]
#[template(path = "dashboard/webhooks.html")]
struct WebhooksPage {
    nav: Option<Nav>,
    endpoints: Vec<EndpointOut>,
    deliveries: Vec<DeliveryOut>,
    /// Just created: shown this once.
    secret: Option<String>,
    notice: Option<&'static str>,
}

async fn page(
    who: &SignedIn,
    state: &AppState,
    secret: Option<String>,
    notice: Option<&'static str>,
) -> Result<Response, DashError> {
    let Json(endpoints) = list_endpoints(who.tenant.clone(), State(state.clone())).await?;
    let query = DeliveryListQuery { endpoint_id: None, status: None, cursor: None, limit: Some(50) };
    let Json(deliveries) = list_deliveries(who.tenant.clone(), State(state.clone()), ApiQuery(query)).await?;
    Ok(render(&WebhooksPage {
        nav: Some(who.nav()),
        endpoints: endpoints.data,
        deliveries: deliveries.data,
        secret,
        notice,
    }))
}

#[derive(Deserialize)]
struct Notice {
    notice: Option<String>,
}

async fn webhooks(
    who: SignedIn,
    State(state): State<AppState>,
    Query(q): Query<Notice>,
) -> Result<Response, DashError> {
    let notice = match q.notice.as_deref() {
        Some("test") => Some("A test event is on its way; its delivery appears below."),
        Some("retry") => Some("The delivery is queued again."),
        _ => None,
    };
    page(&who, &state, None, notice).await
}

#[derive(Deserialize)]
struct EndpointForm {
    url: String,
    #[serde(default)]
    description: String,
}

async fn create(State(state): State<AppState>, posted: Posted<EndpointForm>) -> Result<Response, DashError> {
    let who = posted.who;
    let input = EndpointIn {
        url: posted.form.url,
        description: posted.form.description,
        event_types: Vec::new(),
        enabled: true,
    };
    let response =
        create_endpoint(who.tenant.clone(), State(state.clone()), HeaderMap::new(), ApiJson(input)).await?;
    let secret = super::answered_field(response, "secret").await;
    page(&who, &state, secret, None).await
}

async fn test(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let _sent = send_test(posted.who.tenant, State(state), ApiPath(id)).await?;
    Ok(see_other("/webhooks?notice=test"))
}

async fn delete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    delete_endpoint(posted.who.tenant, State(state), ApiPath(id)).await?;
    Ok(see_other("/webhooks"))
}

async fn redeliver(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<DeliveryId>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let _queued = retry_delivery(posted.who.tenant, State(state), ApiPath(id)).await?;
    Ok(see_other("/webhooks?notice=retry"))
}

#[derive(askama::Template)]
#[template(path = "dashboard/audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    events: Vec<AuditEventOut>,
    action: String,
    actor: String,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct AuditFilters {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    cursor: Option<String>,
}

/// The audit log, oldest first a page at a time; filtered by action and actor (parts of them) within the page.
async fn audit(
    who: SignedIn,
    State(state): State<AppState>,
    Query(filters): Query<AuditFilters>,
) -> Result<Response, DashError> {
    let query = AuditQuery { cursor: filters.cursor, limit: Some(200) };
    let Json(page) = list_audit_events(who.tenant.clone(), State(state), ApiQuery(query)).await?;
    let action = filters.action.trim().to_owned();
    let actor = filters.actor.trim().to_owned();
    let events =
        page.data.into_iter().filter(|e| e.action.contains(&action) && e.actor.contains(&actor)).collect();
    Ok(render(&AuditPage { nav: Some(who.nav()), events, action, actor, next_cursor: page.next_cursor }))
}
