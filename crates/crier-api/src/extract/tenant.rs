use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use chrono::Duration;
use crier_core::{
    Actor, ApiKeyId, ApiKeyMode, ApiKeySecret, NewAuditEvent, RequestOrigin, Scope, ScopeSet, Timestamp,
    WorkspaceId,
};

use crate::error::ApiError;
use crate::state::AppState;

/// `last_used_at` is refreshed at most this often per key, so authentication stays a read.
const TOUCH_INTERVAL_SECONDS: i64 = 60;

/// The authenticated caller: which workspace it acts in and what it may do. Handlers take this
/// and pass `workspace_id` to every store call, so no handler can reach another tenant's rows.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub workspace_id: WorkspaceId,
    pub key_id: ApiKeyId,
    pub mode: ApiKeyMode,
    pub scopes: ScopeSet,
    /// When the calling key stops working (its own expiry, or the end of a rotation's grace).
    pub expires_at: Option<Timestamp>,
    /// The calling key was rotated and is living out its grace period.
    pub rotated: bool,
    /// Where the request came from, for the audit log.
    pub origin: RequestOrigin,
    /// Who acts, for the audit log: the API key, or the person and client of an OAuth grant.
    pub actor: Actor,
}

impl Tenant {
    /// 403 naming the scope, unless the key holds it.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) { Ok(()) } else { Err(ApiError::missing_scope(scope)) }
    }

    /// An audit event of this caller.
    pub fn audit(&self, at: Timestamp, action: &str, target: String) -> NewAuditEvent {
        NewAuditEvent::new(at, self.actor.clone(), action, target, &self.origin)
    }
}

/// The peer address (proxies' forwarding headers are not trusted) and the user agent.
fn origin(parts: &Parts) -> RequestOrigin {
    RequestOrigin {
        ip: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string()),
        user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(ApiError::unauthenticated)?;
        let header =
            header.to_str().map_err(|_| ApiError::invalid_token("the Authorization header is not text"))?;
        let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::invalid_token("use the Bearer scheme: `Authorization: Bearer crier_…`"));
        }
        Tenant::authenticate(state, token.trim(), origin(parts)).await
    }
}

impl Tenant {
    /// The caller an API key secret stands for, if the key is usable now.
    pub async fn authenticate(
        state: &AppState,
        token: &str,
        origin: RequestOrigin,
    ) -> Result<Self, ApiError> {
        let secret = ApiKeySecret::parse(token).map_err(|err| ApiError::invalid_token(err.to_string()))?;
        let key = state
            .store
            .find_api_key_by_hash(&secret.hash())
            .await?
            .ok_or_else(|| ApiError::invalid_token("unknown API key"))?;
        let now = state.clock.now();
        key.check_usable(now).map_err(|refusal| ApiError::invalid_token(refusal.to_string()))?;

        let stale = key.last_used_at.is_none_or(|at| now - at >= Duration::seconds(TOUCH_INTERVAL_SECONDS));
        if stale && let Err(err) = state.store.touch_api_key(key.workspace_id, key.id, now).await {
            // Bookkeeping only: a failed touch must not fail the request.
            tracing::warn!(key_id = %key.id, error = %err, "could not record API key use");
        }
        Ok(Tenant {
            workspace_id: key.workspace_id,
            key_id: key.id,
            mode: key.mode,
            scopes: key.scopes,
            expires_at: key.expires_at,
            rotated: key.rotated_at.is_some(),
            origin,
            actor: Actor::api_key(key.id),
        })
    }
}
