//! The token endpoint: authorization code (with the PKCE verifier) and refresh token grants.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crier_core::{OAuthToken, RefreshUse, TokenKind};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    ACCESS_TOKEN_LIFETIME, ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_LIFETIME, REFRESH_TOKEN_PREFIX, mcp_resource,
    new_secret, oauth_error, secret_hash,
};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    grant_type: String,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    resource: Option<String>,
}

fn invalid_grant(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// The access and refresh token pair of a grant, stored, as the token response.
async fn issue(state: &AppState, template: &OAuthToken) -> Response {
    let now = state.clock.now();
    let (access, access_hash) = new_secret(ACCESS_TOKEN_PREFIX);
    let (refresh, refresh_hash) = new_secret(REFRESH_TOKEN_PREFIX);
    let access_row = OAuthToken {
        hash: access_hash,
        kind: TokenKind::Access,
        created_at: now,
        expires_at: now + ACCESS_TOKEN_LIFETIME,
        revoked_at: None,
        used_at: None,
        ..template.clone()
    };
    let refresh_row = OAuthToken {
        hash: refresh_hash,
        kind: TokenKind::Refresh,
        expires_at: now + REFRESH_TOKEN_LIFETIME,
        ..access_row.clone()
    };
    if let Err(err) = state.store.insert_tokens(&[access_row, refresh_row]).await {
        tracing::error!(error = %err, "could not store tokens");
        return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "try again");
    }
    let body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME.num_seconds(),
        "refresh_token": refresh,
        "scope": template.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
    });
    let mut response = (StatusCode::OK, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /oauth/token`. A body that is not a form of known, single parameters is an OAuth
/// `invalid_request` (RFC 6749 §3.2: parameters must not be repeated), not a problem document.
pub async fn exchange(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: TokenForm = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(err) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("the form is unusable: {err}"),
            );
        }
    };
    let ours = mcp_resource(&state, &headers);
    if form.resource.as_deref().is_some_and(|r| r.trim_end_matches('/') != ours) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "resource must be this server's MCP endpoint",
        );
    }
    let Some(client_id) = form.client_id.as_deref() else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client_id is required");
    };
    match form.grant_type.as_str() {
        "authorization_code" => {
            let (Some(code), Some(verifier)) = (form.code.as_deref(), form.code_verifier.as_deref()) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code and code_verifier are required",
                );
            };
            let stored = match state.store.take_code(&secret_hash(code)).await {
                Ok(Some(stored)) => stored,
                Ok(None) => return invalid_grant("unknown or already used code"),
                Err(err) => {
                    tracing::error!(error = %err, "could not read a code");
                    return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "try again");
                }
            };
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if stored.expires_at <= state.clock.now() {
                return invalid_grant("the code expired");
            }
            if stored.client_id != client_id {
                return invalid_grant("the code was issued to another client");
            }
            if form.redirect_uri.as_deref() != Some(stored.redirect_uri.as_str()) {
                return invalid_grant("redirect_uri differs from the authorization request's");
            }
            if challenge != stored.code_challenge {
                return invalid_grant("code_verifier does not match the code_challenge");
            }
            let template = OAuthToken {
                hash: stored.hash,
                kind: TokenKind::Access,
                grant_id: uuid::Uuid::now_v7(),
                client_id: stored.client_id,
                workspace_id: stored.workspace_id,
                user_id: stored.user_id,
                scopes: stored.scopes,
                resource: stored.resource,
                created_at: state.clock.now(),
                expires_at: state.clock.now(),
                revoked_at: None,
                used_at: None,
            };
            issue(&state, &template).await
        }
        "refresh_token" => {
            let Some(refresh) = form.refresh_token.as_deref() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token is required");
            };
            match state.store.use_refresh_token(&secret_hash(refresh), state.clock.now()).await {
                Ok(RefreshUse::Fresh(old)) if old.client_id == client_id => issue(&state, &old).await,
                Ok(RefreshUse::Fresh(old)) => {
                    // A token presented by another client: treat as stolen.
                    let _ = state.store.revoke_grant(old.grant_id, state.clock.now()).await;
                    invalid_grant("the refresh token was issued to another client")
                }
                Ok(RefreshUse::Replayed) => invalid_grant(
                    "the refresh token was already used; every token of this grant is now revoked",
                ),
                Ok(RefreshUse::Invalid) => invalid_grant("unknown, expired or revoked refresh token"),
                Err(err) => {
                    tracing::error!(error = %err, "could not use a refresh token");
                    oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "try again")
                }
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "use authorization_code or refresh_token",
        ),
    }
}
