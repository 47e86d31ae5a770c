//! `POST /v1/channels/connect` and its callback: connecting a platform account as a channel.
//!
//! Platforms with app passwords or relay credentials connect at once (201, the channel). Platforms
//! with a consent page answer 202 with the URL to send the user to; the flow's state (the
//! provider's PKCE verifier and client credentials, where to send the user afterwards) is sealed
//! in the vault, expires after 15 minutes, and is deleted when the callback takes it, whichever
//! way the flow ends. The `state` parameter names the workspace and flow and carries 32 random
//! bytes of which only a hash is stored.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use crier_core::{
    Actor, Channel, ChannelId, ChannelStatus, ConnectFlow, ConnectFlowId, KeyHash, NewAuditEvent,
    RequestOrigin, Scope, WorkspaceId,
};
use crier_providers::{CallbackRequest, ConnectError, ConnectRequest, ConnectStart, Connection, Credentials};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{ApiJson, Tenant};
use crate::idempotency::{Created, Idempotency};
use crate::routes::channels::ChannelOut;
use crate::state::AppState;

/// How long a user has to get through the platform's consent page.
pub const FLOW_LIFETIME: chrono::Duration = chrono::Duration::minutes(15);
pub const CALLBACK_PATH: &str = "/v1/channels/connect/callback";
/// The vault purposes of what is sealed here.
const FLOW_PURPOSE: &str = "connect_flow";
pub const CREDENTIALS_PURPOSE: &str = "channel_credentials";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(connect)).routes(routes!(callback))
}

/// What to connect. Besides `provider`, `name` and `redirect_uri`, the provider's own fields:
/// Bluesky `identifier`, `app_password`, `service?`; Mastodon `instance`; e-mail `host`, `port?`,
/// `security?`, `username?`, `password?`, `from`, `recipients`, `reply_to?`.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct ConnectIn {
    #[schema(example = "bluesky")]
    pub provider: String,
    /// A label for people; defaults to the account's handle.
    #[serde(default)]
    pub name: Option<String>,
    /// Where the user's browser is sent when a consent-page flow ends, with `flow_id` and either
    /// `channel_id` or `error` added to its query.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// The provider's fields may hold a password or token: `Debug` names them without their values.
impl std::fmt::Debug for ConnectIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectIn")
            .field("provider", &self.provider)
            .field("name", &self.name)
            .field("redirect_uri", &self.redirect_uri)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A flow waiting for the user at the platform's consent page.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectFlowOut {
    #[schema(example = "cnf_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub flow_id: String,
    /// Send the user here.
    pub authorize_url: String,
    pub expires_at: DateTime<Utc>,
}

/// What is sealed for a flow besides the provider's own state.
#[derive(Serialize, Deserialize)]
struct SealedFlow {
    provider_state: String,
    redirect_uri: Option<String>,
    name: Option<String>,
    actor: String,
}

/// Connect a platform account as a channel.
#[utoipa::path(
    post,
    path = "/v1/channels/connect",
    tag = "channels",
    security(("api_key" = ["channels:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key, same answer")),
    request_body = ConnectIn,
    responses(
        (status = 201, description = "Connected at once", body = ChannelOut),
        (status = 202, description = "Send the user to `authorize_url`", body = ConnectFlowOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn connect(
    tenant: Tenant,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ConnectIn>,
) -> ApiResult<Response> {
    tenant.require(Scope::ChannelsWrite)?;
    let idempotency = Idempotency::from_request(&headers, &Method::POST, "/v1/channels/connect", &input)?;
    let Some(provider) = state.providers.get(&input.provider).cloned() else {
        let known = state.providers.names().join(", ");
        return Err(ApiError::field("/provider", format!("unknown provider; this Crier has: {known}")));
    };
    let Some(vault) = state.vault.clone() else {
        return Err(ApiError::new(
            crate::error::ProblemKind::Unavailable,
            "channel credentials need the vault; start Crier with a master key",
        ));
    };
    if let Some(name) = &input.name {
        check_name(name)?;
    }
    if let Some(uri) = &input.redirect_uri {
        check_redirect_uri(uri)?;
    }
    let base = crate::oauth::base_url(&state, &headers);
    let callback_url = format!("{base}{CALLBACK_PATH}");
    let (state, tenant) = (&state, &tenant);
    idempotency
        .run(state, tenant, |key| async move {
            let flow_id = ConnectFlowId::generate();
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            let secret = URL_SAFE_NO_PAD.encode(secret);
            let state_param = format!("{}.{}.{}", tenant.workspace_id, flow_id, secret);
            let request = ConnectRequest {
                workspace_id: tenant.workspace_id,
                params: &input.params,
                callback_url: &callback_url,
                state: &state_param,
            };
            let now = state.clock.now();
            match provider.connect(&request).await.map_err(connect_error)? {
                ConnectStart::Connected(connection) => {
                    let channel = create_connected(
                        state,
                        tenant.workspace_id,
                        provider.name(),
                        input.name.as_deref(),
                        connection,
                        tenant.audit(now, "channel.connected", String::new()),
                        key.map(|key| (key, tenant)),
                    )
                    .await?;
                    let mut created =
                        Created::json(StatusCode::CREATED, &ChannelOut::of(channel, &state.providers));
                    created.stored = true;
                    Ok(created)
                }
                ConnectStart::Redirect { authorize_url, flow } => {
                    let sealed = SealedFlow {
                        provider_state: String::from_utf8_lossy(flow.expose()).into_owned(),
                        redirect_uri: input.redirect_uri.clone(),
                        name: input.name.clone(),
                        actor: tenant.actor.0.clone(),
                    };
                    let plaintext = Zeroizing::new(serde_json::to_vec(&sealed).unwrap_or_default());
                    let row = vault.seal_row(tenant.workspace_id, FLOW_PURPOSE, &plaintext).await?;
                    let expires_at = now + FLOW_LIFETIME;
                    let record = ConnectFlow {
                        workspace_id: tenant.workspace_id,
                        id: flow_id,
                        provider: provider.name().to_owned(),
                        state_hash: KeyHash::of(secret.as_bytes()),
                        secret_id: row.id,
                        created_at: now,
                        expires_at,
                    };
                    state.store.insert_connect_flow(&record, &row).await?;
                    Ok(Created::json(
                        StatusCode::ACCEPTED,
                        &ConnectFlowOut { flow_id: flow_id.to_string(), authorize_url, expires_at },
                    ))
                }
            }
        })
        .await
}

/// Seals the credentials and creates the channel (and its audit entry) in one transaction.
async fn create_connected(
    state: &AppState,
    workspace: WorkspaceId,
    provider: &str,
    name: Option<&str>,
    connection: Connection,
    mut audit: NewAuditEvent,
    idempotency: Option<(String, &Tenant)>,
) -> ApiResult<Channel> {
    let vault = state.vault.as_ref().ok_or_else(|| ApiError::internal(&NoVault))?;
    let sealed = vault.seal_row(workspace, CREDENTIALS_PURPOSE, connection.credentials.expose()).await?;
    let now = state.clock.now();
    let name = name.map_or_else(|| connection.account.handle.clone(), |n| n.trim().to_owned());
    let channel = Channel {
        workspace_id: workspace,
        id: ChannelId::generate(),
        provider: provider.to_owned(),
        name: name.chars().take(200).collect(),
        config: connection.config,
        status: ChannelStatus::Active,
        account: Some(connection.account),
        credentials: Some(sealed.id),
        paused_until: None,
        created_at: now,
    };
    audit.target = channel.id.to_string();
    let response = idempotency.and_then(|(key, tenant)| {
        Created::json(StatusCode::CREATED, &ChannelOut::of(channel.clone(), &state.providers))
            .response_for(tenant, Some(key))
    });
    state.store.create_channel(&channel, Some(&sealed), response.as_ref(), &audit).await?;
    Ok(channel)
}

#[derive(Debug, thiserror::Error)]
#[error("the vault is not configured")]
struct NoVault;

fn check_name(name: &str) -> ApiResult<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::field("/name", "1 to 200 characters, no control characters"));
    }
    Ok(())
}

/// Where the browser goes afterwards: an absolute http(s) URL without credentials or fragment.
fn check_redirect_uri(uri: &str) -> ApiResult<()> {
    let ok = url::Url::parse(uri).is_ok_and(|u| {
        matches!(u.scheme(), "https" | "http")
            && u.username().is_empty()
            && u.password().is_none()
            && u.fragment().is_none()
    });
    if !ok {
        return Err(ApiError::field("/redirect_uri", "an absolute https URL without user info or fragment"));
    }
    Ok(())
}

fn connect_error(err: ConnectError) -> ApiError {
    match err {
        ConnectError::Invalid { pointer, message } => {
            ApiError::validation(vec![FieldError::new(pointer, message)])
        }
        ConnectError::Refused { message } => ApiError::field("", format!("the platform refused: {message}")),
        ConnectError::Unsupported(message) => ApiError::field("/provider", message),
        ConnectError::Unavailable { message } => ApiError::new(
            crate::error::ProblemKind::Unavailable,
            format!("the platform could not be reached: {message}"),
        )
        .with_status(StatusCode::BAD_GATEWAY),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The `state` Crier gave the platform.
    pub state: Option<String>,
    /// The authorization code, when the user approved.
    pub code: Option<String>,
    /// The platform's error, when the user declined or the platform refused.
    pub error: Option<String>,
}

/// The platform sends the user back here; no API key (the `state` is the credential).
#[utoipa::path(
    get,
    path = "/v1/channels/connect/callback",
    tag = "channels",
    params(CallbackQuery),
    responses(
        (status = 303, description = "Back to the `redirect_uri` given at connect, with `flow_id` and `channel_id` or `error`"),
        (status = 200, description = "A page saying how it ended, when no `redirect_uri` was given"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> ApiResult<Response> {
    let unknown = || ApiError::invalid("unknown, finished or expired connect flow; start again");
    let (workspace, flow_id, secret) = query.state.as_deref().and_then(parse_state).ok_or_else(unknown)?;
    let taken = state
        .store
        .take_connect_flow(workspace, flow_id, &KeyHash::of(secret.as_bytes()))
        .await?
        .ok_or_else(unknown)?;
    let vault = state.vault.as_ref().ok_or_else(unknown)?;
    let opened = vault.open_sealed(&taken.sealed).await?;
    let sealed: SealedFlow = serde_json::from_slice(opened.expose()).map_err(|_| unknown())?;
    let flow_id_text = flow_id.to_string();
    let outcome = finish(&state, &headers, &taken.flow, &sealed, &query).await;
    let (channel_id, error) = match &outcome {
        Ok(channel) => (Some(channel.id.to_string()), None),
        Err(error) => {
            tracing::info!(flow_id = %flow_id_text, error = %error, "a connect flow failed");
            (None, Some(error.clone()))
        }
    };
    match sealed.redirect_uri.as_deref().and_then(|uri| url::Url::parse(uri).ok()) {
        Some(mut back) => {
            {
                let mut pairs = back.query_pairs_mut();
                pairs.append_pair("flow_id", &flow_id_text);
                if let Some(id) = &channel_id {
                    pairs.append_pair("channel_id", id);
                }
                if let Some(error) = &error {
                    pairs.append_pair("error", error);
                }
            }
            Ok(Redirect::to(back.as_str()).into_response())
        }
        None => Ok(page(channel_id.as_deref(), error.as_deref())),
    }
}

/// The flow's end: the user's refusal, expiry, or the code exchanged and the channel created.
async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    flow: &ConnectFlow,
    sealed: &SealedFlow,
    query: &CallbackQuery,
) -> Result<Channel, String> {
    if flow.expires_at <= state.clock.now() {
        return Err("expired".into());
    }
    if let Some(error) = &query.error {
        return Err(error.chars().filter(|c| c.is_ascii_graphic()).take(64).collect());
    }
    let code = query.code.as_deref().filter(|c| !c.is_empty()).ok_or("missing_code")?;
    let provider = state.providers.get(&flow.provider).ok_or("unknown_provider")?;
    let provider_state = Credentials::from_bytes(sealed.provider_state.as_bytes().to_vec());
    let callback_url = format!("{}{CALLBACK_PATH}", crate::oauth::base_url(state, headers));
    let connection = provider
        .finish_connect(&CallbackRequest { flow: &provider_state, code, callback_url: &callback_url })
        .await
        .map_err(|err| match err {
            ConnectError::Unavailable { .. } => "platform_unavailable".to_owned(),
            _ => "refused".to_owned(),
        })?;
    let audit = NewAuditEvent::new(
        state.clock.now(),
        Actor(sealed.actor.clone()),
        "channel.connected",
        String::new(),
        &RequestOrigin::default(),
    );
    create_connected(
        state,
        flow.workspace_id,
        provider.name(),
        sealed.name.as_deref(),
        connection,
        audit,
        None,
    )
    .await
    .map_err(|err| {
        tracing::warn!(error = ?err.problem().detail, "could not store a connected channel");
        "server_error".to_owned()
    })
}

/// `ws_….cnf_….secret`.
fn parse_state(state: &str) -> Option<(WorkspaceId, ConnectFlowId, String)> {
    let mut parts = state.splitn(3, '.');
    let workspace = parts.next()?.parse().ok()?;
    let flow = parts.next()?.parse().ok()?;
    let secret = parts.next().filter(|s| s.len() == 43)?;
    Some((workspace, flow, secret.to_owned()))
}

/// The page shown when a flow started without a `redirect_uri` ends.
#[derive(askama::Template)]
#[template(path = "connect_done.html")]
struct DonePage<'a> {
    channel_id: Option<&'a str>,
    error: &'a str,
}

fn page(channel_id: Option<&str>, error: Option<&str>) -> Response {
    let page = DonePage { channel_id, error: error.unwrap_or("unknown") };
    let mut response = match askama::Template::render(&page) {
        Ok(body) => Html(body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}
