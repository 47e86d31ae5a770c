//! MCP for AI agents: Streamable HTTP at `/mcp` (rmcp), and the same server over stdio
//! (`crier mcp --stdio`). Served statelessly, so any API node answers any request: protocol
//! `2026-07-28` has no sessions, and for `2025-11-25` the server simply assigns none, which the
//! specification allows.
//!
//! Authentication is Crier's own layer in front of rmcp (rmcp has no resource-server side): a
//! request without a usable bearer token gets 401 with `WWW-Authenticate` pointing at the
//! protected-resource metadata (RFC 9728). `Host` and `Origin` are checked against explicit lists:
//! a browser page of another origin gets 403.

mod tools;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
pub use tools::CrierMcp;

use crate::extract::Tenant;
use crate::state::AppState;

/// Where the MCP endpoint is mounted.
pub const PATH: &str = "/mcp";

/// The hosts and origins the MCP endpoint answers: loopback always (local agents), and the public
/// URL's when one is configured.
fn allowed(state: &AppState) -> (Vec<String>, Vec<String>) {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "[::1]"].map(str::to_owned).to_vec();
    let mut origins: Vec<String> =
        ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"].map(str::to_owned).to_vec();
    if let Some(public) = &state.config.public_url
        && let Some(host) = public.host_str()
    {
        hosts.push(host.to_owned());
        if let Some(port) = public.port() {
            hosts.push(format!("{host}:{port}"));
        }
        origins.push(public.origin().ascii_serialization());
    }
    (hosts, origins)
}

/// The `/mcp` routes, authenticated.
pub fn router(state: AppState) -> Router<AppState> {
    let (hosts, origins) = allowed(&state);
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None);
    let factory_state = state.clone();
    let service = StreamableHttpService::new(
        move || Ok(CrierMcp::for_http(factory_state.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .nest_service(PATH, service)
        .route_layer(axum::middleware::from_fn_with_state(state, authenticate))
}

/// The URL of the protected-resource metadata document for `/mcp` (RFC 9728 §3.1).
pub fn resource_metadata_url(state: &AppState, request_host: Option<&str>) -> String {
    let base = match &state.config.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => format!("http://{}", request_host.unwrap_or("localhost")),
    };
    format!("{base}/.well-known/oauth-protected-resource{PATH}")
}

/// Puts the caller's `Tenant` in the request for the tools, or answers 401 with a pointer to the
/// protected-resource metadata. The caller is an API key (`crier_…`) or an OAuth access token
/// issued for this very resource (its audience).
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let tenant = match bearer.as_deref() {
        Some(token) if token.starts_with(crate::oauth::ACCESS_TOKEN_PREFIX) => {
            oauth_tenant(&state, &parts.headers, token).await
        }
        _ => Tenant::from_request_parts(&mut parts, &state).await,
    };
    match tenant {
        Ok(tenant) => {
            // Read the (small) JSON-RPC message to answer a call the token's scopes do not cover
            // with 403 insufficient_scope, as the MCP authorization spec asks, before rmcp sees it.
            let Ok(bytes) = axum::body::to_bytes(body, MAX_MESSAGE_BYTES).await else {
                return crate::ApiError::new(
                    crate::ProblemKind::PayloadTooLarge,
                    "the MCP message is too large",
                )
                .into_response();
            };
            if let Some(scope) = required_scope(&bytes).filter(|scope| !tenant.scopes.contains(*scope)) {
                let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok());
                let challenge = format!(
                    "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\"",
                    resource_metadata_url(&state, host)
                );
                let mut response = crate::ApiError::missing_scope(scope).into_response();
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                }
                return response;
            }
            parts.extensions.insert(tenant);
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
        }
        Err(err) => {
            let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let challenge = format!(
                "Bearer resource_metadata=\"{}\", error=\"invalid_token\"",
                resource_metadata_url(&state, host)
            );
            let mut response = err.into_response();
            if response.status() == StatusCode::UNAUTHORIZED
                && let Ok(value) = HeaderValue::from_str(&challenge)
            {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
    }
}

/// Largest MCP message accepted (tool arguments are small; media go by URL).
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The scope a JSON-RPC message needs: each tool's, and `channels:read` for the limit resources.
fn required_scope(message: &[u8]) -> Option<crier_core::Scope> {
    use crier_core::Scope;
    let message: serde_json::Value = serde_json::from_slice(message).ok()?;
    match message.get("method")?.as_str()? {
        "tools/call" => match message.pointer("/params/name")?.as_str()? {
            "list_channels" => Some(Scope::ChannelsRead),
            "create_post" | "cancel_post" => Some(Scope::PostsWrite),
            "get_post" | "list_posts" => Some(Scope::PostsRead),
            "upload_media_from_url" => Some(Scope::MediaWrite),
            "list_events" => Some(Scope::EventsRead),
            _ => None,
        },
        "resources/list" | "resources/read" => Some(Scope::ChannelsRead),
        _ => None,
    }
}

/// The caller an OAuth access token stands for: live, an access token, and issued for this
/// resource (a token for another resource is refused even if it is otherwise valid).
async fn oauth_tenant(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    token: &str,
) -> Result<Tenant, crate::ApiError> {
    use crate::ApiError;
    let found = state.store.find_token(&crate::oauth::secret_hash(token)).await?;
    let token = found
        .filter(|t| t.kind == crier_core::TokenKind::Access)
        .ok_or_else(|| ApiError::invalid_token("unknown access token"))?;
    let now = state.clock.now();
    if token.revoked_at.is_some() {
        return Err(ApiError::invalid_token("the access token was revoked"));
    }
    if token.expires_at <= now {
        return Err(ApiError::invalid_token("the access token expired; refresh it"));
    }
    if token.resource != crate::oauth::mcp_resource(state, headers) {
        return Err(ApiError::invalid_token("the access token was issued for another resource"));
    }
    Ok(Tenant {
        workspace_id: token.workspace_id,
        // OAuth callers hold no API key; this id matches none (API key routes are out of their scopes).
        key_id: crier_core::ApiKeyId::from_uuid(uuid::Uuid::nil()),
        mode: crier_core::ApiKeyMode::Live,
        scopes: token.scopes.clone(),
        expires_at: Some(token.expires_at),
        rotated: false,
        origin: crier_core::RequestOrigin {
            ip: None,
            user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        },
        actor: crier_core::Actor(format!("oauth:{}:user:{}", token.client_id, token.user_id)),
    })
}

/// Serves one local agent on stdin/stdout, acting with the API key `key`, until it hangs up.
pub async fn serve_stdio(state: AppState, key: String) -> Result<(), crate::ApiError> {
    use rmcp::ServiceExt;
    let origin = crier_core::RequestOrigin { ip: None, user_agent: Some("crier mcp --stdio".into()) };
    // Refuse a bad key at once, before the agent starts talking.
    Tenant::authenticate(&state, &key, origin).await?;
    let running = CrierMcp::for_stdio(state, key)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|err| crate::ApiError::internal(&err))?;
    running.waiting().await.map_err(|err| crate::ApiError::internal(&err))?;
    Ok(())
}
