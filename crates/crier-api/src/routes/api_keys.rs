//! `/v1/api-keys`: create, list, show, rotate and revoke the workspace's API keys.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use crier_core::{ApiKey, ApiKeyId, ApiKeyMode, IssueKey, NewApiKey, Scope, ScopeSet, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{ApiJson, ApiPath, OptionalJson, Tenant};
use crate::idempotency::{Created, Idempotency};
use crate::state::AppState;

/// The longest grace period a rotation may ask for (and the configured default may be).
pub const MAX_GRACE_SECONDS: u64 = 7 * 24 * 60 * 60;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(get_api_key, revoke_api_key))
        .routes(routes!(rotate_api_key))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyModeWire {
    /// Acts on real channels.
    Live,
    /// For integration tests; cannot mint live keys.
    Test,
}

impl From<KeyModeWire> for ApiKeyMode {
    fn from(mode: KeyModeWire) -> Self {
        match mode {
            KeyModeWire::Live => ApiKeyMode::Live,
            KeyModeWire::Test => ApiKeyMode::Test,
        }
    }
}

impl From<ApiKeyMode> for KeyModeWire {
    fn from(mode: ApiKeyMode) -> Self {
        match mode {
            ApiKeyMode::Live => KeyModeWire::Live,
            ApiKeyMode::Test => KeyModeWire::Test,
        }
    }
}

/// A key to create.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyIn {
    /// A label for people (at most 100 characters).
    #[serde(default)]
    #[schema(example = "ci deploys")]
    pub name: String,
    /// What the key may do. A key can only grant scopes it holds itself.
    #[schema(example = json!(["posts:read", "posts:write"]))]
    pub scopes: Vec<String>,
    /// `live` (default) or `test`.
    #[serde(default)]
    pub mode: Option<KeyModeWire>,
    /// When the key stops working (RFC 3339); must be in the future. Omit for no expiry.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Options for a rotation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// How long the old key keeps working, in seconds (default 86400, at most 604800).
    pub grace_period_seconds: Option<u64>,
}

/// Mirrors `crier_core::KeyStatus` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    /// Rotated, and still inside its grace period.
    Rotated,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Rotated => "rotated",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

/// An API key as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    #[schema(example = "key_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub id: String,
    pub name: String,
    pub mode: KeyModeWire,
    #[schema(example = json!(["posts:read", "posts:write"]))]
    pub scopes: Vec<String>,
    /// The prefix and last four characters, to recognise the key by.
    #[schema(example = "crier_live_…a1B2")]
    pub hint: String,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
    /// The key that replaced this one, if it was rotated.
    pub replaced_by: Option<String>,
}

impl ApiKeyOut {
    fn new(key: ApiKey, now: Timestamp) -> Self {
        let status = match key.status(now) {
            crier_core::KeyStatus::Active => KeyStatus::Active,
            crier_core::KeyStatus::Rotated => KeyStatus::Rotated,
            crier_core::KeyStatus::Expired => KeyStatus::Expired,
            crier_core::KeyStatus::Revoked => KeyStatus::Revoked,
        };
        Self {
            id: key.id.to_string(),
            name: key.name,
            mode: key.mode.into(),
            scopes: key.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            hint: key.redacted,
            status,
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
            rotated_at: key.rotated_at,
            replaced_by: key.replaced_by.map(|id| id.to_string()),
        }
    }
}

/// A key just created or rotated: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreatedOut {
    /// The secret. Store it now: Crier keeps only its hash and cannot show it again (an
    /// `Idempotency-Key` replay answers `null` here).
    #[schema(example = "crier_live_…")]
    pub secret: Option<String>,
    pub api_key: ApiKeyOut,
}

impl std::fmt::Debug for ApiKeyCreatedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyCreatedOut").field("api_key", &self.api_key).finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyListOut {
    pub data: Vec<ApiKeyOut>,
}

fn validate(
    input: ApiKeyIn,
    tenant: &Tenant,
    now: Timestamp,
) -> ApiResult<(String, ApiKeyMode, ScopeSet, Option<Timestamp>)> {
    let mut errors = Vec::new();
    let mut scopes = Vec::new();
    for (i, raw) in input.scopes.iter().enumerate() {
        match raw.parse::<Scope>() {
            Ok(scope) => scopes.push(scope),
            Err(err) => errors.push(FieldError::new(format!("/scopes/{i}"), err.to_string())),
        }
    }
    if input.scopes.is_empty() {
        errors.push(FieldError::new("/scopes", "give at least one scope"));
    }
    match (input.expires_at, tenant.expires_at) {
        (Some(at), _) if at <= now => errors.push(FieldError::new("/expires_at", "must be in the future")),
        (Some(at), Some(limit)) if at > limit => errors.push(FieldError::new(
            "/expires_at",
            format!("must not be later than the calling key's own expiry ({})", limit.to_rfc3339()),
        )),
        _ => {}
    }
    if input.name.trim().chars().count() > NewApiKey::MAX_NAME_CHARS {
        errors.push(FieldError::new("/name", format!("at most {} characters", NewApiKey::MAX_NAME_CHARS)));
    } else if input.name.chars().any(char::is_control) {
        errors.push(FieldError::new("/name", "must not contain control characters"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let scopes: ScopeSet = scopes.into_iter().collect();
    if let Some(missing) = scopes.iter().find(|scope| !tenant.scopes.contains(*scope)) {
        return Err(ApiError::forbidden(format!(
            "a key cannot grant `{missing}`, which it does not hold itself"
        )));
    }
    let mode = input.mode.map_or(ApiKeyMode::Live, Into::into);
    if mode == ApiKeyMode::Live && tenant.mode == ApiKeyMode::Test {
        return Err(ApiError::forbidden("a test-mode key cannot create live keys"));
    }
    if tenant.rotated {
        return Err(ApiError::forbidden("a rotated key cannot create keys; use its successor"));
    }
    // A key never outlives the key that made it: no expiry given means the caller's own.
    let expires_at = input.expires_at.map(|at| at.trunc_subsecs(6)).or(tenant.expires_at);
    Ok((input.name, mode, scopes, expires_at))
}

/// A key may rotate or revoke only keys with no more power than its own: no scope it lacks, and
/// (for a test key) only test keys. Otherwise a narrow key could rotate the admin key and take
/// the successor's secret, or revoke it and lock the owner out.
fn may_manage(tenant: &Tenant, target: &ApiKey) -> ApiResult<()> {
    if let Some(missing) = target.scopes.iter().find(|scope| !tenant.scopes.contains(*scope)) {
        return Err(ApiError::forbidden(format!(
            "that key holds `{missing}`, which this key does not; use a key with at least its scopes"
        )));
    }
    if tenant.mode == ApiKeyMode::Test && target.mode == ApiKeyMode::Live {
        return Err(ApiError::forbidden("a test-mode key cannot manage live keys"));
    }
    Ok(())
}

/// Create an API key.
///
/// The response carries the secret, once. The new key can hold only scopes the calling key
/// holds, and a test-mode key can only create test-mode keys.
#[utoipa::path(
    post,
    path = "/v1/api-keys",
    tag = "api-keys",
    security(("api_key" = ["keys:admin"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe; a replay omits the secret")),
    request_body = ApiKeyIn,
    responses(
        (status = 201, body = ApiKeyCreatedOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_api_key(
    tenant: Tenant,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<ApiKeyIn>,
) -> ApiResult<Response> {
    tenant.require(Scope::KeysAdmin)?;
    let idempotency = Idempotency::from_request(&headers, &Method::POST, "/v1/api-keys", &input)?;
    idempotency
        .run(&state, &tenant, |_key| async {
            let now = state.clock.now();
            let (name, mode, scopes, expires_at) = validate(input, &tenant, now)?;
            let (key, secret) =
                NewApiKey::issue(IssueKey { workspace_id: tenant.workspace_id, name: &name, mode, scopes, now, expires_at })
                    .map_err(|err| ApiError::field("/name", err.to_string()))?;
            let audit = tenant.audit(now, "api_key.created", key.id.to_string());
            let stored = state.store.insert_api_key(&key, &audit).await?;
            tracing::info!(workspace_id = %tenant.workspace_id, key_id = %stored.id, by = %tenant.key_id, "API key created");
            let mut body = ApiKeyCreatedOut { secret: Some(secret.expose().to_owned()), api_key: ApiKeyOut::new(stored, now) };
            let mut created = Created::json(StatusCode::CREATED, &body);
            // Only the key's hash is ever stored: a replay shows the key without its secret.
            body.secret = None;
            created.replay_body = Some(serde_json::to_vec(&body).unwrap_or_default());
            Ok(created)
        })
        .await
}

/// List the workspace's API keys, newest first.
#[utoipa::path(
    get,
    path = "/v1/api-keys",
    tag = "api-keys",
    security(("api_key" = ["keys:admin"])),
    responses(
        (status = 200, body = ApiKeyListOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_api_keys(tenant: Tenant, State(state): State<AppState>) -> ApiResult<Json<ApiKeyListOut>> {
    tenant.require(Scope::KeysAdmin)?;
    let now = state.clock.now();
    let keys = state.store.list_api_keys(tenant.workspace_id).await?;
    Ok(Json(ApiKeyListOut { data: keys.into_iter().map(|key| ApiKeyOut::new(key, now)).collect() }))
}

/// Show one API key.
#[utoipa::path(
    get,
    path = "/v1/api-keys/{id}",
    tag = "api-keys",
    security(("api_key" = ["keys:admin"])),
    params(("id" = String, Path, description = "The key's id (`key_…`)")),
    responses(
        (status = 200, body = ApiKeyOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_api_key(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> ApiResult<Json<ApiKeyOut>> {
    tenant.require(Scope::KeysAdmin)?;
    let key = state.store.get_api_key(tenant.workspace_id, id).await.map_err(not_found_key)?;
    Ok(Json(ApiKeyOut::new(key, state.clock.now())))
}

/// Rotate an API key: mint a successor with the same name, scopes and expiry.
///
/// The old key keeps working for the grace period (24 h unless the body says otherwise), then is
/// refused. A key can be rotated once; rotate its successor next time.
#[utoipa::path(
    post,
    path = "/v1/api-keys/{id}/rotate",
    tag = "api-keys",
    security(("api_key" = ["keys:admin"])),
    params(("id" = String, Path, description = "The key's id (`key_…`)")),
    request_body(content = Option<RotateIn>, description = "Optional; an empty body takes the default grace period"),
    responses(
        (status = 201, body = ApiKeyCreatedOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rotate_api_key(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ApiKeyId>,
    OptionalJson(input): OptionalJson<RotateIn>,
) -> ApiResult<(StatusCode, Json<ApiKeyCreatedOut>)> {
    tenant.require(Scope::KeysAdmin)?;
    let grace_seconds = match input.and_then(|i| i.grace_period_seconds) {
        Some(seconds) if seconds > MAX_GRACE_SECONDS => {
            return Err(ApiError::field("/grace_period_seconds", format!("at most {MAX_GRACE_SECONDS}")));
        }
        Some(seconds) => seconds,
        None => state.config.key_grace_period.as_secs(),
    };
    let now = state.clock.now();
    let old = state.store.get_api_key(tenant.workspace_id, id).await.map_err(not_found_key)?;
    may_manage(&tenant, &old)?;
    let (successor, secret) = old.successor(now);
    // Bounded above (request) or at start-up (configuration), so this cannot overflow.
    let grace = Duration::try_seconds(i64::try_from(grace_seconds).unwrap_or(0)).unwrap_or_default();
    let old_expires_at = old.expiry_after_rotation(now, grace);
    let audit = tenant.audit(now, "api_key.rotated", id.to_string());
    let stored = state
        .store
        .rotate_api_key(tenant.workspace_id, id, &successor, old_expires_at, &audit)
        .await
        .map_err(not_found_key)?;
    tracing::info!(workspace_id = %tenant.workspace_id, key_id = %id, successor = %stored.id, by = %tenant.key_id, "API key rotated");
    let body =
        ApiKeyCreatedOut { secret: Some(secret.expose().to_owned()), api_key: ApiKeyOut::new(stored, now) };
    Ok((StatusCode::CREATED, Json(body)))
}

/// Revoke an API key. It is refused from this moment on; revoking twice is harmless.
#[utoipa::path(
    delete,
    path = "/v1/api-keys/{id}",
    tag = "api-keys",
    security(("api_key" = ["keys:admin"])),
    params(("id" = String, Path, description = "The key's id (`key_…`)")),
    responses(
        (status = 200, body = ApiKeyOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_api_key(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> ApiResult<Json<ApiKeyOut>> {
    tenant.require(Scope::KeysAdmin)?;
    let now = state.clock.now();
    let target = state.store.get_api_key(tenant.workspace_id, id).await.map_err(not_found_key)?;
    may_manage(&tenant, &target)?;
    let audit = tenant.audit(now, "api_key.revoked", id.to_string());
    let key =
        state.store.revoke_api_key(tenant.workspace_id, id, now, &audit).await.map_err(not_found_key)?;
    tracing::info!(workspace_id = %tenant.workspace_id, key_id = %id, by = %tenant.key_id, "API key revoked");
    Ok(Json(ApiKeyOut::new(key, now)))
}

fn not_found_key(err: crier_core::StoreError) -> ApiError {
    match err {
        crier_core::StoreError::NotFound => ApiError::not_found("API key"),
        other => other.into(),
    }
}
