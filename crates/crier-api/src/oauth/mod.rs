//! OAuth 2.1 for MCP clients, per the MCP authorization specification: Crier is both the
//! authorization server and the protected resource (`/mcp`).
//!
//! - Protected-resource metadata (RFC 9728) and authorization-server metadata (RFC 8414).
//! - Clients register dynamically (RFC 7591) or are known by the https URL of their client ID
//!   metadata document; public clients only (`token_endpoint_auth_method` `none`), so PKCE is what
//!   binds a code to its client.
//! - Authorization code with PKCE S256 only (`plain` is refused), exact redirect-URI matching,
//!   `iss` in the authorization response (RFC 9207), and a resource indicator (RFC 8707) that
//!   becomes the tokens' audience: `/mcp` accepts only tokens issued for itself.
//! - Access tokens live 1 hour, refresh tokens 30 days and rotate on every use; reusing a spent
//!   refresh token revokes the whole grant. Codes and tokens are stored as SHA-256 hashes.
//! - The consent page is a minimal login (an operator-created user with a password, Argon2id)
//!   until the dashboard brings full accounts; it shows the client, the workspace and the scopes.
//!
//! No crate implements an OAuth authorization server for axum well enough to adopt; this is the
//! small subset MCP needs, written here.

mod authorize;
mod password;
mod token;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use crier_core::{KeyHash, OAuthClient, Scope, ScopeSet};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

pub use password::{hash_password, verify_password};

use crate::state::AppState;

pub const ACCESS_TOKEN_PREFIX: &str = "crat_";
pub const REFRESH_TOKEN_PREFIX: &str = "crrt_";
const CODE_PREFIX: &str = "crac_";
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::hours(1);
const REFRESH_TOKEN_LIFETIME: Duration = Duration::days(30);
const CODE_LIFETIME: Duration = Duration::minutes(5);
const MAX_REDIRECT_URIS: usize = 10;

/// What an MCP client gets when it asks for no particular scope: what the tools use.
pub fn default_scopes() -> ScopeSet {
    [
        Scope::ChannelsRead,
        Scope::PostsRead,
        Scope::PostsWrite,
        Scope::MediaRead,
        Scope::MediaWrite,
        Scope::EventsRead,
    ]
    .into_iter()
    .collect()
}

/// The routes of the authorization server and the metadata documents.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/oauth-protected-resource", get(resource_metadata))
        .route("/.well-known/oauth-protected-resource/mcp", get(resource_metadata))
        .route("/.well-known/oauth-authorization-server", get(server_metadata))
        .route("/oauth/register", post(register))
        .route("/oauth/authorize", get(authorize::show).post(authorize::decide))
        .route("/oauth/token", post(token::exchange))
        // OAuth errors and the consent pages keep their own shapes (not problem+json).
        .route_layer(axum::middleware::from_fn(crate::middleware::keep_error_bodies))
}

/// Crier's own base URL: the configured public URL, else (development) what the request's `Host`
/// says. Set `--public-url` in production so issuer and audience do not depend on a header.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    match &state.config.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

/// The resource identifier of `/mcp` (the audience of its tokens).
pub fn mcp_resource(state: &AppState, headers: &HeaderMap) -> String {
    format!("{}{}", base_url(state, headers), crate::mcp::PATH)
}

/// A new random token with `prefix`, and the hash that is stored.
pub(crate) fn new_secret(prefix: &str) -> (String, KeyHash) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = secret_hash(&secret);
    (secret, hash)
}

pub fn secret_hash(secret: &str) -> KeyHash {
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    KeyHash::from_slice(&digest).unwrap_or_else(|| unreachable!("SHA-256 is 32 bytes"))
}

/// An OAuth error response (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    let body = json!({ "error": error, "error_description": description.into() });
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

async fn resource_metadata(State(state): State<AppState>, headers: HeaderMap) -> Json<serde_json::Value> {
    let base = base_url(&state, &headers);
    Json(json!({
        "resource": mcp_resource(&state, &headers),
        "authorization_servers": [base],
        "scopes_supported": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "bearer_methods_supported": ["header"],
        "resource_name": "Crier MCP",
    }))
}

async fn server_metadata(State(state): State<AppState>, headers: HeaderMap) -> Json<serde_json::Value> {
    let base = base_url(&state, &headers);
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "registration_endpoint": format!("{base}/oauth/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
    }))
}

/// A dynamic client registration (RFC 7591), public clients only.
#[derive(Debug, Deserialize)]
struct RegistrationIn {
    #[serde(default)]
    redirect_uris: Vec<String>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Vec<String>,
}

/// A redirect URI a client may register: https, or http on loopback (native apps, RFC 8252), with
/// no fragment.
fn acceptable_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else { return false };
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    url.fragment().is_none() && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
}

async fn register(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let input: RegistrationIn = match serde_json::from_slice(&body) {
        Ok(input) => input,
        Err(err) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", err.to_string()),
    };
    if input.redirect_uris.is_empty()
        || input.redirect_uris.len() > MAX_REDIRECT_URIS
        || !input.redirect_uris.iter().all(|uri| acceptable_redirect(uri))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            "give 1 to 10 redirect URIs, each https or http on loopback, without a fragment",
        );
    }
    if input.token_endpoint_auth_method.as_deref().is_some_and(|m| m != "none") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "only public clients (token_endpoint_auth_method none, with PKCE) are supported",
        );
    }
    if input.grant_types.iter().any(|g| g != "authorization_code" && g != "refresh_token") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "unsupported grant type");
    }
    let (client_id, _) = new_secret("mcpc_");
    let client = OAuthClient {
        client_id,
        name: input.client_name.unwrap_or_else(|| "An MCP client".into()).chars().take(200).collect(),
        redirect_uris: input.redirect_uris,
        created_at: state.clock.now(),
    };
    if let Err(err) = state.store.register_client(&client).await {
        tracing::error!(error = %err, "could not register an OAuth client");
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "try again");
    }
    let body = json!({
        "client_id": client.client_id,
        "client_name": client.name,
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_id_issued_at": client.created_at.timestamp(),
    });
    (StatusCode::CREATED, Json(body)).into_response()
}
