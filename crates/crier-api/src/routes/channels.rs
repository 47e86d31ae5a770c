//! `/v1/channels`: where posts go. Sandbox channels are created here from a config; platform
//! accounts are connected through `POST /v1/channels/connect` (`routes::connect`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use crier_core::{Channel, ChannelId, ChannelStatus, Scope, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{ApiJson, ApiPath, Tenant};
use crate::idempotency::{Created, Idempotency};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, delete_channel))
        .routes(routes!(list_sandbox_deliveries))
}

/// A channel to create.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelIn {
    /// The provider: `sandbox` (platform accounts are connected with `POST /v1/channels/connect`).
    #[schema(example = "sandbox")]
    pub provider: String,
    /// A label for people (1 to 200 characters).
    pub name: String,
    /// Provider settings. Sandbox: `max_chars`, `latency_ms`, `fail_first`, `failure_rate`,
    /// `rate_limit {max, window_seconds}`, `token_expires_after`, `refresh_succeeds`, `reject_containing`,
    /// `lookup_unavailable`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelOut {
    #[schema(example = "chan_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub id: String,
    pub provider: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// The platform account it publishes as (`null` for the sandbox).
    #[schema(value_type = Option<Object>)]
    pub account: Option<crier_core::ChannelAccount>,
    /// `active`, or `needs_reauth` after the platform refused its token.
    #[schema(example = "active")]
    pub status: String,
    /// No publish before this time (a platform rate limit).
    pub paused_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// What the channel needs that this Crier or the platform's app may lack (Instagram and
    /// Threads media need `--public-url`; Meta's App Review), in words.
    pub notices: Vec<String>,
}

impl From<Channel> for ChannelOut {
    fn from(c: Channel) -> Self {
        Self {
            id: c.id.to_string(),
            provider: c.provider,
            name: c.name,
            config: c.config,
            account: c.account,
            status: c.status.as_str().to_owned(),
            paused_until: c.paused_until,
            created_at: c.created_at,
            notices: Vec::new(),
        }
    }
}

impl ChannelOut {
    /// The channel with its provider's notices about it.
    pub fn of(channel: Channel, providers: &crier_providers::Registry) -> Self {
        let notices = providers.get(&channel.provider).map(|p| p.notices(&channel)).unwrap_or_default();
        Self { notices, ..Self::from(channel) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelListOut {
    pub data: Vec<ChannelOut>,
}

/// Create a channel.
#[utoipa::path(
    post,
    path = "/v1/channels",
    tag = "channels",
    security(("api_key" = ["channels:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key, same answer")),
    request_body = ChannelIn,
    responses(
        (status = 201, body = ChannelOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_channel(
    tenant: Tenant,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ChannelIn>,
) -> ApiResult<Response> {
    tenant.require(Scope::ChannelsWrite)?;
    let idempotency = Idempotency::from_request(&headers, &Method::POST, "/v1/channels", &input)?;
    idempotency
        .run(&state, &tenant, |key| async {
            let Some(provider) = state.providers.get(&input.provider) else {
                let known = state.providers.names().join(", ");
                return Err(ApiError::field(
                    "/provider",
                    format!("unknown provider; this Crier has: {known}"),
                ));
            };
            if !provider.created_directly() {
                return Err(ApiError::field(
                    "/provider",
                    format!("{} channels are connected with POST /v1/channels/connect", provider.name()),
                ));
            }
            let name = input.name.trim();
            let config = if input.config.is_null() { serde_json::json!({}) } else { input.config.clone() };
            let mut errors: Vec<FieldError> = provider
                .validate_config(&config)
                .into_iter()
                .map(|issue| FieldError::new(format!("/config{}", issue.pointer), issue.message))
                .collect();
            if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
                errors.push(FieldError::new("/name", "1 to 200 characters, no control characters"));
            }
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            let now = state.clock.now();
            let channel = Channel {
                workspace_id: tenant.workspace_id,
                id: ChannelId::generate(),
                provider: provider.name().to_owned(),
                name: name.to_owned(),
                config,
                status: ChannelStatus::Active,
                account: None,
                credentials: None,
                paused_until: None,
                created_at: now,
            };
            let mut created =
                Created::json(StatusCode::CREATED, &ChannelOut::of(channel.clone(), &state.providers));
            let response = created.response_for(&tenant, key);
            let audit = tenant.audit(now, "channel.created", channel.id.to_string());
            state.store.create_channel(&channel, None, response.as_ref(), &audit).await?;
            created.stored = true;
            Ok(created)
        })
        .await
}

/// List the workspace's channels, oldest first.
#[utoipa::path(
    get,
    path = "/v1/channels",
    tag = "channels",
    security(("api_key" = ["channels:read"])),
    responses((status = 200, body = ChannelListOut), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
pub async fn list_channels(tenant: Tenant, State(state): State<AppState>) -> ApiResult<Json<ChannelListOut>> {
    tenant.require(Scope::ChannelsRead)?;
    let channels = state.store.list_channels(tenant.workspace_id).await?;
    Ok(Json(ChannelListOut {
        data: channels.into_iter().map(|c| ChannelOut::of(c, &state.providers)).collect(),
    }))
}

fn not_found_channel(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("channel"),
        other => other.into(),
    }
}

/// Show a channel.
#[utoipa::path(
    get,
    path = "/v1/channels/{id}",
    tag = "channels",
    security(("api_key" = ["channels:read"])),
    params(("id" = String, Path, description = "The channel's id (`chan_…`)")),
    responses((status = 200, body = ChannelOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_channel(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ChannelId>,
) -> ApiResult<Json<ChannelOut>> {
    tenant.require(Scope::ChannelsRead)?;
    let channel = state.store.get_channel(tenant.workspace_id, id).await.map_err(not_found_channel)?;
    Ok(Json(ChannelOut::of(channel, &state.providers)))
}

/// Delete a channel. Refused (409) while any of its posts is still waiting or publishing. Its
/// sealed credentials are deleted with it, and revoked at the platform where it allows.
#[utoipa::path(
    delete,
    path = "/v1/channels/{id}",
    tag = "channels",
    security(("api_key" = ["channels:write"])),
    params(("id" = String, Path, description = "The channel's id (`chan_…`)")),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_channel(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ChannelId>,
) -> ApiResult<StatusCode> {
    tenant.require(Scope::ChannelsWrite)?;
    let channel = state.store.get_channel(tenant.workspace_id, id).await.map_err(not_found_channel)?;
    // Opened before the sealed copy is deleted, to revoke them upstream once the channel is gone.
    let credentials = match (&state.vault, channel.credentials) {
        (Some(vault), Some(_)) => crier_providers::CredentialVault::open(vault.as_ref(), &channel).await.ok(),
        _ => None,
    };
    let audit = tenant.audit(state.clock.now(), "channel.deleted", id.to_string());
    state.store.delete_channel(tenant.workspace_id, id, &audit).await.map_err(|err| match err {
        StoreError::Conflict(_) => {
            ApiError::conflict("the channel has posts still waiting or publishing; cancel them first")
        }
        other => not_found_channel(other),
    })?;
    if let (Some(credentials), Some(provider)) = (credentials, state.providers.get(&channel.provider))
        && let Err(err) = provider.disconnect(&channel, &credentials).await
    {
        // Crier's copy is gone either way; the user can still revoke access at the platform.
        tracing::warn!(channel_id = %id, error = %err, "could not revoke a channel's credentials upstream");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A publish the sandbox performed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SandboxDeliveryOut {
    pub id: String,
    pub target_id: String,
    pub attempt_id: String,
    pub text: String,
    /// The media ids the publish carried, in order.
    pub media: Vec<String>,
    pub delivered_at: DateTime<Utc>,
    /// When the post was deleted from the sandbox "platform" (`DELETE …/publication`).
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SandboxDeliveryListOut {
    pub data: Vec<SandboxDeliveryOut>,
}

/// Every publish a sandbox channel performed, oldest first.
#[utoipa::path(
    get,
    path = "/v1/channels/{id}/sandbox-deliveries",
    tag = "channels",
    security(("api_key" = ["channels:read"])),
    params(("id" = String, Path, description = "The sandbox channel's id (`chan_…`)")),
    responses(
        (status = 200, body = SandboxDeliveryListOut),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_sandbox_deliveries(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ChannelId>,
) -> ApiResult<Json<SandboxDeliveryListOut>> {
    tenant.require(Scope::ChannelsRead)?;
    let channel = state.store.get_channel(tenant.workspace_id, id).await.map_err(not_found_channel)?;
    if channel.provider != "sandbox" {
        return Err(ApiError::field("", "only sandbox channels record deliveries"));
    }
    let deliveries = state.store.sandbox_deliveries(tenant.workspace_id, id, None).await?;
    Ok(Json(SandboxDeliveryListOut {
        data: deliveries
            .into_iter()
            .map(|d| SandboxDeliveryOut {
                id: d.id.to_string(),
                target_id: d.target_id.to_string(),
                attempt_id: d.attempt_id.to_string(),
                text: d.text,
                media: d.media.iter().map(ToString::to_string).collect(),
                delivered_at: d.delivered_at,
                deleted_at: d.deleted_at,
            })
            .collect(),
    }))
}
