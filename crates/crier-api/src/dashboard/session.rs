//! Dashboard sessions: an opaque id in an `HttpOnly; SameSite=Lax` cookie (`Secure` and the
//! `__Host-` prefix when Crier is served over https), only its hash stored, idle and absolute
//! expiry, and a CSRF token derived from the id so every state-changing form proves it came from
//! a page Crier served to that session.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use crier_core::{Actor, KeyHash, Role, User, UserSession};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::DashError;
use crate::extract::Tenant;
use crate::oauth::{new_secret, secret_hash};
use crate::state::AppState;

const COOKIE: &str = "crier_session";
const SECURE_COOKIE: &str = "__Host-crier_session";
const TOKEN_PREFIX: &str = "crs_";
/// Last use is recorded at most this often, so most requests only read.
const TOUCH_INTERVAL: Duration = Duration::seconds(60);

/// Whether cookies get `Secure` and the `__Host-` prefix: when Crier's public URL is https.
fn on_https(state: &AppState) -> bool {
    state.config.public_url.as_ref().is_some_and(|url| url.scheme() == "https")
}

fn cookie_name(state: &AppState) -> &'static str {
    if on_https(state) { SECURE_COOKIE } else { COOKIE }
}

/// The value of cookie `name` in the request.
pub(super) fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value for `name`; `None` clears it.
pub(super) fn cookie(state: &AppState, name: &str, value: Option<&str>, max_age: Duration) -> HeaderValue {
    let secure = if on_https(state) { "; Secure" } else { "" };
    let text = match value {
        Some(value) => {
            format!(
                "{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}; Max-Age={}",
                max_age.num_seconds()
            )
        }
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax{secure}; Max-Age=0"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("crier_session=; Max-Age=0"))
}

/// The CSRF token of a session: a hash of its secret id, so it needs no storage and a page from
/// one session is useless to another.
fn csrf_token(session_secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("crier-csrf:{session_secret}").as_bytes()))
}

/// A new session for `user` in `workspace`, and the `Set-Cookie` header that hands it over.
pub(super) fn issue(
    state: &AppState,
    user: &User,
    workspace: crier_core::WorkspaceId,
    pending_second_factor: bool,
    origin: &crier_core::RequestOrigin,
    created_at: Option<crier_core::Timestamp>,
) -> (UserSession, HeaderValue) {
    let (secret, token_hash) = new_secret(TOKEN_PREFIX);
    let now = state.clock.now();
    let created_at = created_at.unwrap_or(now);
    let policy = &state.config.sessions;
    let expires_at =
        if pending_second_factor { now + policy.second_factor } else { created_at + policy.absolute };
    let session = UserSession {
        id: uuid::Uuid::now_v7(),
        token_hash,
        user_id: user.id,
        workspace_id: workspace,
        pending_second_factor,
        created_at,
        last_seen_at: now,
        expires_at,
        ip: origin.ip.clone(),
        user_agent: origin.user_agent.clone(),
    };
    let header = cookie(state, cookie_name(state), Some(&secret), expires_at - now);
    (session, header)
}

/// The `Set-Cookie` header that ends the session in the browser.
pub(super) fn clear(state: &AppState) -> HeaderValue {
    cookie(state, cookie_name(state), None, Duration::zero())
}

/// The session the request's cookie names, if it is live (pending or not).
async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<(UserSession, String)>, DashError> {
    let Some(secret) = read_cookie(headers, cookie_name(state)) else { return Ok(None) };
    let hash: KeyHash = secret_hash(secret);
    let Some(session) = state.store.find_session(&hash).await? else { return Ok(None) };
    if !session.is_live(state.clock.now(), &state.config.sessions) {
        return Ok(None);
    }
    Ok(Some((session, secret.to_owned())))
}

/// A person signed in with every factor: their session, account, role and the tenant they act
/// as (the role's scopes, so the API's own checks apply to them unchanged).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: UserSession,
    pub user: User,
    pub role: Role,
    pub tenant: Tenant,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = DashError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some((session, secret)) = current(state, &parts.headers).await? else {
            return Err(DashError::SignIn);
        };
        if session.pending_second_factor {
            return Err(DashError::SignIn);
        }
        let user = state.store.get_user(session.user_id).await?.ok_or(DashError::SignIn)?;
        // A member removed from the workspace is signed out of it at once.
        let role = state.store.member_role(session.workspace_id, user.id).await?.ok_or(DashError::SignIn)?;
        // A workspace that requires a second factor opens only the pages that set one up (a
        // TOTP app, a passkey) and sign-out to a member without one.
        let path = parts.uri.path();
        if user.totp.is_none()
            && !path.starts_with("/security/totp")
            && !path.starts_with("/security/passkeys")
            && path != "/logout"
            && state.store.second_factor_required(session.workspace_id).await?
            && state.store.list_passkeys(user.id).await?.is_empty()
        {
            return Err(DashError::SecondFactorRequired);
        }
        let now = state.clock.now();
        if now - session.last_seen_at >= TOUCH_INTERVAL
            && let Err(err) = state.store.touch_session(&session.token_hash, now).await
        {
            tracing::warn!(error = %err, "could not record session use");
        }
        let origin = super::origin(parts);
        let tenant = Tenant {
            workspace_id: session.workspace_id,
            // People hold no API key; this id matches none.
            key_id: crier_core::ApiKeyId::from_uuid(uuid::Uuid::nil()),
            mode: crier_core::ApiKeyMode::Live,
            scopes: role.scopes(),
            expires_at: Some(session.expires_at),
            rotated: false,
            origin,
            actor: Actor(format!("user:{}", user.id)),
        };
        Ok(SignedIn { csrf: csrf_token(&secret), session, user, role, tenant })
    }
}

/// A session whose password was right and whose second factor is still owed.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    pub session: UserSession,
    pub user: User,
    pub csrf: String,
}

impl FromRequestParts<AppState> for PendingSignIn {
    type Rejection = DashError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some((session, secret)) = current(state, &parts.headers).await? else {
            return Err(DashError::SignIn);
        };
        if !session.pending_second_factor {
            return Err(DashError::SignIn);
        }
        let user = state.store.get_user(session.user_id).await?.ok_or(DashError::SignIn)?;
        Ok(PendingSignIn { csrf: csrf_token(&secret), session, user })
    }
}

/// Refuses a cross-site request: a browser names the page's origin on every POST, and it must
/// be this site. (Absent in a few old browsers; the CSRF token still applies.)
pub(super) fn same_origin(headers: &HeaderMap) -> Result<(), DashError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
    if origin == "null" || origin_host != host { Err(DashError::Csrf) } else { Ok(()) }
}

/// Whether `presented` is the CSRF token `expected`, compared in constant time.
pub(super) fn csrf_matches(expected: &str, presented: &str) -> bool {
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// A script's request (JSON, file parts) from a signed-in page: same origin, with the page's CSRF
/// token in `x-csrf-token` (forms carry theirs in a field; see `Posted`).
pub(super) fn script_request(who: &SignedIn, headers: &HeaderMap) -> Result<(), DashError> {
    same_origin(headers)?;
    let presented = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if csrf_matches(&who.csrf, presented) { Ok(()) } else { Err(DashError::Csrf) }
}

/// A form posted by a signed-in person: the CSRF token is checked before the handler runs, so a
/// state-changing handler cannot forget it.
pub struct Posted<T> {
    pub who: SignedIn,
    pub form: T,
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Posted<T> {
    type Rejection = DashError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        if parts.method != Method::POST {
            return Err(DashError::NotFound);
        }
        same_origin(&parts.headers)?;
        let who = SignedIn::from_request_parts(&mut parts, state).await?;
        let bytes =
            axum::body::to_bytes(body, state.config.max_body_bytes).await.map_err(|_| DashError::TooLarge)?;
        let CsrfField { csrf } = serde_urlencoded::from_bytes(&bytes).map_err(|_| DashError::Csrf)?;
        if !csrf_matches(&who.csrf, &csrf) {
            return Err(DashError::Csrf);
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|err| DashError::BadForm(err.to_string()))?;
        Ok(Posted { who, form })
    }
}
