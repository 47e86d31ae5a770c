//! `/v1/webhooks/endpoints`: where the workspace's events are delivered, signed per Standard
//! Webhooks. The signing secret is shown at creation and at rotation only; it is sealed in the
//! vault and never listed or replayed.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use crier_core::webhook_signature::WebhookSecret;
use crier_core::{
    EndpointChanges, IdempotentResponse, Scope, StoreError, WebhookEndpoint, WebhookEndpointId, event_types,
};
use crier_vault::Vault;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, FieldError, Problem, ProblemKind};
use crate::extract::{ApiJson, ApiPath, OptionalJson, Tenant};
use crate::idempotency::{Created, Idempotency};
use crate::routes::webhook_deliveries::DeliveryOut;
use crate::state::AppState;

/// What the vault calls a webhook signing secret (bound into its AAD).
pub const SECRET_PURPOSE: &str = "webhook_secret";
const DEFAULT_GRACE_SECONDS: i64 = 24 * 3600;
const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;
const MAX_URL_BYTES: usize = 2048;
const MAX_DESCRIPTION_CHARS: usize = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
}

/// An endpoint to create.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointIn {
    /// An `https` URL on a public address.
    #[schema(example = "https://example.com/hooks/crier")]
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// The event types to deliver (see `GET /v1/event-types`); empty or absent: all of them.
    #[serde(default)]
    pub event_types: Vec<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// Changes to an endpoint; absent fields stay as they are.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Enabling an endpoint Crier disabled clears its failure record.
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointOut {
    #[schema(example = "ep_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub id: String,
    pub url: String,
    pub description: String,
    /// Empty: every event type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why Crier disabled it: `gone` (the endpoint answered 410) or `failing`.
    pub disabled_reason: Option<String>,
    /// Since when every delivery has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the previous secret still signs (after a rotation).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookEndpoint> for EndpointOut {
    fn from(e: WebhookEndpoint) -> Self {
        Self {
            id: e.id.to_string(),
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            previous_secret_expires_at: e.previous_secret.map(|p| p.expires_at),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecretOut {
    pub endpoint: EndpointOut,
    /// `whsec_…`: verify deliveries with it. Null when an `Idempotency-Key` replays the creation:
    /// the secret is never stored where it could be replayed.
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointListOut {
    pub data: Vec<EndpointOut>,
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// How long the old secret keeps signing beside the new one, 0 to 604800 s (default 86400).
    pub grace_seconds: Option<i64>,
}

fn vault(state: &AppState) -> ApiResult<&Vault> {
    state.vault.as_deref().ok_or_else(|| {
        ApiError::new(
            ProblemKind::Unavailable,
            "this Crier runs without a vault, so it cannot keep webhook secrets",
        )
    })
}

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("webhook endpoint"),
        other => other.into(),
    }
}

/// Checks a URL against the outbound policy (the same check runs at every delivery).
async fn check_url(state: &AppState, url: &str, errors: &mut Vec<FieldError>) {
    if url.len() > MAX_URL_BYTES {
        errors.push(FieldError::new("/url", format!("at most {MAX_URL_BYTES} bytes")));
        return;
    }
    if let Err(refusal) = crier_net::check_url(url, &state.outbound, state.resolver.as_ref()).await {
        errors.push(FieldError::new("/url", refusal.to_string()));
    }
}

fn check_description(description: &str, errors: &mut Vec<FieldError>) {
    if description.chars().count() > MAX_DESCRIPTION_CHARS || description.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "/description",
            format!("at most {MAX_DESCRIPTION_CHARS} characters, no control characters"),
        ));
    }
}

fn check_event_types(types: &[String], errors: &mut Vec<FieldError>) {
    for (i, name) in types.iter().enumerate() {
        if event_types::find(name).is_none() {
            errors.push(FieldError::new(
                format!("/event_types/{i}"),
                "unknown event type; see GET /v1/event-types",
            ));
        } else if types[..i].contains(name) {
            errors.push(FieldError::new(format!("/event_types/{i}"), "listed twice"));
        }
    }
}

/// Create a webhook endpoint. The answer holds its signing secret, shown this once.
#[utoipa::path(
    post,
    path = "/v1/webhooks/endpoints",
    tag = "webhooks",
    security(("api_key" = ["webhooks:admin"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key, same answer (without the secret)")),
    request_body = EndpointIn,
    responses(
        (status = 201, body = EndpointWithSecretOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_endpoint(
    tenant: Tenant,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<EndpointIn>,
) -> ApiResult<Response> {
    tenant.require(Scope::WebhooksAdmin)?;
    let vault = vault(&state)?;
    let idempotency = Idempotency::from_request(&headers, &Method::POST, "/v1/webhooks/endpoints", &input)?;
    idempotency
        .run(&state, &tenant, |key| async {
            let mut errors = Vec::new();
            check_url(&state, input.url.trim(), &mut errors).await;
            check_description(&input.description, &mut errors);
            check_event_types(&input.event_types, &mut errors);
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            let secret = WebhookSecret::generate();
            let sealed =
                vault.seal_row(tenant.workspace_id, SECRET_PURPOSE, secret.expose().as_bytes()).await?;
            let now = state.clock.now();
            let endpoint = WebhookEndpoint {
                workspace_id: tenant.workspace_id,
                id: WebhookEndpointId::generate(),
                url: input.url.trim().to_owned(),
                description: input.description.clone(),
                event_types: input.event_types.clone(),
                enabled: input.enabled,
                disabled_reason: None,
                secret_id: sealed.id,
                previous_secret: None,
                failing_since: None,
                created_at: now,
                updated_at: now,
            };
            let mut body = EndpointWithSecretOut {
                endpoint: endpoint.clone().into(),
                secret: Some(secret.expose().to_owned()),
            };
            let mut created = Created::json(StatusCode::CREATED, &body);
            body.secret = None;
            let replay = serde_json::to_vec(&body).unwrap_or_default();
            let response = key.map(|key| IdempotentResponse {
                workspace_id: tenant.workspace_id,
                key,
                status: StatusCode::CREATED.as_u16(),
                body: replay.clone(),
            });
            let audit = tenant.audit(now, "webhook_endpoint.created", endpoint.id.to_string());
            state.store.create_endpoint(&endpoint, &sealed, response.as_ref(), &audit).await?;
            created.stored = true;
            created.replay_body = Some(replay);
            Ok(created)
        })
        .await
}

/// List the workspace's webhook endpoints, oldest first (never their secrets).
#[utoipa::path(
    get,
    path = "/v1/webhooks/endpoints",
    tag = "webhooks",
    security(("api_key" = ["webhooks:admin"])),
    responses((status = 200, body = EndpointListOut), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
pub async fn list_endpoints(
    tenant: Tenant,
    State(state): State<AppState>,
) -> ApiResult<Json<EndpointListOut>> {
    tenant.require(Scope::WebhooksAdmin)?;
    let endpoints = state.store.list_endpoints(tenant.workspace_id).await?;
    Ok(Json(EndpointListOut { data: endpoints.into_iter().map(Into::into).collect() }))
}

/// Show a webhook endpoint.
#[utoipa::path(
    get,
    path = "/v1/webhooks/endpoints/{id}",
    tag = "webhooks",
    security(("api_key" = ["webhooks:admin"])),
    params(("id" = String, Path, description = "The endpoint's id (`ep_…`)")),
    responses((status = 200, body = EndpointOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_endpoint(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> ApiResult<Json<EndpointOut>> {
    tenant.require(Scope::WebhooksAdmin)?;
    Ok(Json(state.store.get_endpoint(tenant.workspace_id, id).await.map_err(not_found)?.into()))
}

/// Change a webhook endpoint's URL, description, event filter or enabled state.
#[utoipa::path(
    patch,
    path = "/v1/webhooks/endpoints/{id}",
    tag = "webhooks",
    security(("api_key" = ["webhooks:admin"])),
    params(("id" = String, Path, description = "The endpoint's id (`ep_…`)")),
    request_body = EndpointPatch,
    responses(
        (status = 200, body = EndpointOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_endpoint(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    ApiJson(input): ApiJson<EndpointPatch>,
) -> ApiResult<Json<EndpointOut>> {
    tenant.require(Scope::WebhooksAdmin)?;
    let mut errors = Vec::new();
    if let Some(url) = &input.url {
        check_url(&state, url.trim(), &mut errors).await;
    }
    if let Some(description) = &input.description {
        check_description(description, &mut errors);
    }
    if let Some(types) = &input.event_types {
        check_event_types(types, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let changes = EndpointChanges {
        url: input.url.map(|u| u.trim().to_owned()),
        description: input.description,
        event_types: input.event_types,
        enabled: input.enabled,
    };
    let now = state.clock.now();
    let audit = tenant.audit(now, "webhook_endpoint.updated", id.to_string());
    let endpoint = state
        .store
        .update_endpoint(tenant.workspace_id, id, &changes, now, &audit)
        .await
        .map_err(not_found)?;
    Ok(Json(endpoint.into()))
}

/// Delete a webhook endpoint with its secrets and delivery log.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/endpoints/{id}",
    tag = "webhooks",
    security(("api_key" = ["webhooks:admin"])),
    params(("id" = String, Path, description = "The endpoint's id (`ep_…`)")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn delete_endpoint(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> ApiResult<StatusCode> {
    tenant.require(Scope::WebhooksAdmin)?;
    let audit = tenant.audit(state.clock.now(), "webhook_endpoint.deleted", id.to_string());
    state.store.delete_endpoint(tenant.workspace_id, id, &audit).await.map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate the signing secret. Until the grace period ends, deliveries carry signatures by both
/// the new and the old secret, so receivers can switch without losing a message.
#[utoipa::path(
    post,
    path = "/v1/webhooks/endpoints/{id}/rotate-secret",
    tag = "webhooks",
    security(("api_key" = ["webhooks:admin"])),
    params(("id" = String, Path, description = "The endpoint's id (`ep_…`)")),
    request_body(content = Option<RotateIn>),
    responses(
        (status = 200, body = EndpointWithSecretOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rotate_secret(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    OptionalJson(input): OptionalJson<RotateIn>,
) -> ApiResult<Json<EndpointWithSecretOut>> {
    tenant.require(Scope::WebhooksAdmin)?;
    let vault = vault(&state)?;
    let grace = input.unwrap_or_default().grace_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    if !(0..=MAX_GRACE_SECONDS).contains(&grace) {
        return Err(ApiError::field("/grace_seconds", format!("0 to {MAX_GRACE_SECONDS}")));
    }
    // NotFound before anything is sealed.
    state.store.get_endpoint(tenant.workspace_id, id).await.map_err(not_found)?;
    let secret = WebhookSecret::generate();
    let sealed = vault.seal_row(tenant.workspace_id, SECRET_PURPOSE, secret.expose().as_bytes()).await?;
    let now = state.clock.now();
    let audit = tenant.audit(now, "webhook_endpoint.secret_rotated", id.to_string());
    let endpoint = state
        .store
        .rotate_endpoint_secret(
            tenant.workspace_id,
            id,
            &sealed,
            now + chrono::Duration::seconds(grace),
            &audit,
        )
        .await
        .map_err(not_found)?;
    Ok(Json(EndpointWithSecretOut { endpoint: endpoint.into(), secret: Some(secret.expose().to_owned()) }))
}

/// Send a `ping` event to this endpoint (enabled or not), to check the receiver.
#[utoipa::path(
    post,
    path = "/v1/webhooks/endpoints/{id}/test",
    tag = "webhooks",
    security(("api_key" = ["webhooks:admin"])),
    params(("id" = String, Path, description = "The endpoint's id (`ep_…`)")),
    responses((status = 202, body = DeliveryOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn send_test(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> ApiResult<(StatusCode, Json<DeliveryOut>)> {
    tenant.require(Scope::WebhooksAdmin)?;
    let delivery =
        state.store.send_test_event(tenant.workspace_id, id, state.clock.now()).await.map_err(not_found)?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryOut::new(delivery, None))))
}
