//! `Idempotency-Key` for every create, as in the IETF httpapi idempotency-key draft and Stripe:
//! the same key and body replay the first response (`Idempotent-Replayed: true`), the same key with
//! another body is 422, and a request while the first is still running is 409. Keys live 24 h per
//! workspace. Creates that can store the response in their own transaction do (posts, channels);
//! the rest store it right after.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use crier_core::{IdempotencyBegin, IdempotentResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult, ProblemKind};
use crate::extract::Tenant;
use crate::state::AppState;

const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;

const KEEP_HOURS: i64 = 24;

/// A create request's idempotency context: `None` key means the client sent none.
pub struct Idempotency {
    key: Option<String>,
    fingerprint: Vec<u8>,
}

impl Idempotency {
    /// Reads the header and fingerprints method, path and the canonical JSON body.
    pub fn from_request(
        headers: &HeaderMap,
        method: &Method,
        path: &str,
        body: &impl Serialize,
    ) -> ApiResult<Self> {
        let key = match headers.get(HEADER) {
            None => None,
            Some(value) => {
                let key = value.to_str().ok().filter(|k| {
                    !k.is_empty()
                        && k.len() <= MAX_KEY_LEN
                        && k.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
                });
                Some(
                    key.ok_or_else(|| {
                        ApiError::invalid(format!(
                            "Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters"
                        ))
                    })?
                    .to_owned(),
                )
            }
        };
        // serde_json's maps are sorted, so equal bodies serialise equally whatever their key order.
        let canonical =
            serde_json::to_vec(&serde_json::to_value(body).unwrap_or_default()).unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(method.as_str());
        hasher.update([0]);
        hasher.update(path);
        hasher.update([0]);
        hasher.update(&canonical);
        Ok(Self { key, fingerprint: hasher.finalize().to_vec() })
    }

    /// The hash of method, path and canonical body that a key is bound to.
    pub fn fingerprint(&self) -> &[u8] {
        &self.fingerprint
    }

    /// Runs `create` once per key. `create` gets the key (if any) to store its response in the
    /// same transaction as what it creates, and returns the status and JSON body it answered with.
    pub async fn run<F, Fut>(self, state: &AppState, tenant: &Tenant, create: F) -> ApiResult<Response>
    where
        F: FnOnce(Option<String>) -> Fut,
        Fut: Future<Output = ApiResult<Created>>,
    {
        let Some(key) = self.key else {
            return create(None).await.map(|created| respond(created.status, created.body, false));
        };
        let now = state.clock.now();
        let begun = state
            .store
            .begin_idempotent(
                tenant.workspace_id,
                &key,
                &self.fingerprint,
                now,
                // No request outlives the request timeout, so after it the first request is
                // surely gone (crashed, say) and its key may be taken over.
                now + Duration::from_std(state.config.request_timeout).unwrap_or(Duration::seconds(60))
                    + Duration::seconds(1),
                now + Duration::hours(KEEP_HOURS),
            )
            .await?;
        match begun {
            IdempotencyBegin::InFlight => Err(ApiError::conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )),
            IdempotencyBegin::Mismatch => Err(ApiError::field(
                "",
                "this Idempotency-Key was used with a different request (method, path or body); use a new key",
            )),
            IdempotencyBegin::Done { status, body } => {
                Ok(respond(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body, true))
            }
            IdempotencyBegin::Started => match create(Some(key.clone())).await {
                Ok(created) => {
                    if !created.stored {
                        let response = IdempotentResponse {
                            workspace_id: tenant.workspace_id,
                            key,
                            status: created.status.as_u16(),
                            body: created.replay_body.clone().unwrap_or_else(|| created.body.clone()),
                        };
                        // The create happened: answer it even if the key could not be completed
                        // (another request took it over meanwhile); that one's answer stands.
                        if let Err(err) = state.store.finish_idempotent(&response).await {
                            tracing::warn!(error = %err, "could not store an idempotent response");
                        }
                    }
                    Ok(respond(created.status, created.body, false))
                }
                // A conflict here means another request took this key over (its lock had expired):
                // nothing was created, and the key's answer is the other request's to store.
                Err(err) if err.kind() == ProblemKind::Conflict => Err(err),
                Err(err) if err.kind() == ProblemKind::Internal || err.kind() == ProblemKind::Unavailable => {
                    // Our failure, not the request's: let a retry run afresh.
                    if let Err(forget) = state.store.abandon_idempotent(tenant.workspace_id, &key).await {
                        tracing::warn!(error = %forget, "could not release an idempotency key");
                    }
                    Err(err)
                }
                Err(err) => {
                    // The request's own fault: the same request gets the same answer.
                    let response = IdempotentResponse {
                        workspace_id: tenant.workspace_id,
                        key,
                        status: err.status().as_u16(),
                        body: serde_json::to_vec(&err.problem()).unwrap_or_default(),
                    };
                    if let Err(store_err) = state.store.finish_idempotent(&response).await {
                        tracing::warn!(error = %store_err, "could not store an idempotent response");
                    }
                    Err(err)
                }
            },
        }
    }
}

/// What a create answered.
pub struct Created {
    pub status: StatusCode,
    pub body: Vec<u8>,
    /// Whether the create already stored it as the key's response, in its own transaction.
    pub stored: bool,
    /// What a replay answers, when that must differ from the first answer (a secret shown once
    /// is never stored for replay).
    pub replay_body: Option<Vec<u8>>,
}

impl Created {
    pub fn json(status: StatusCode, body: &impl Serialize) -> Self {
        Self { status, body: serde_json::to_vec(body).unwrap_or_default(), stored: false, replay_body: None }
    }

    pub fn response_for(&self, tenant: &Tenant, key: Option<String>) -> Option<IdempotentResponse> {
        key.map(|key| IdempotentResponse {
            workspace_id: tenant.workspace_id,
            key,
            status: self.status.as_u16(),
            body: self.body.clone(),
        })
    }
}

fn respond(status: StatusCode, body: Vec<u8>, replayed: bool) -> Response {
    let is_problem = !status.is_success();
    let mut response = (status, body).into_response();
    let content_type = if is_problem { crate::error::PROBLEM_JSON } else { "application/json" };
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}
