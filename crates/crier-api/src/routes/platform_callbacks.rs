//! Meta's deauthorization and data-deletion callbacks, for Facebook, Threads and Instagram:
//!
//! - `POST /callbacks/meta/{provider}/deauthorize`: Facebook Login's deauthorize callback
//!   (developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow#deauth-callback) and
//!   the Threads use case's uninstall ("deauthorize") callback
//!   (developers.facebook.com/docs/development/create-an-app/threads-use-case);
//! - `POST /callbacks/meta/{provider}/data-deletion`: the Data Deletion Request callback
//!   (developers.facebook.com/docs/development/create-an-app/app-dashboard/data-deletion-callback),
//!   answered `{"url", "confirmation_code"}` as Meta requires;
//! - `GET /callbacks/meta/deletion-status/{code}`: the page that URL opens, saying what was deleted.
//!
//! The body is `signed_request=<signature>.<payload>`, checked by the provider with the app
//! secret ([`crier_providers::meta::signed_request`]) before anything else happens; bad input is a
//! 400 problem and changes nothing. The user it names is looked up across workspaces through the
//! store's platform account index, and each of their channels is deauthorized in its own
//! workspace's transaction: sealed credentials deleted, status `needs_reauth`, an audit row
//! (actor `platform:{provider}`) and a `channel.deauthorized` event. No API key: Meta's signature
//! is the authentication.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crier_core::{Actor, Deauthorization, DeletionRecord, KeyHash, NewAuditEvent, RequestOrigin, StoreError};
use crier_providers::CallbackError;
use serde::Serialize;

use crate::error::{ApiError, ApiResult, ProblemKind};
use crate::state::AppState;

/// The platforms whose callbacks are served here (each only if this Crier has its provider).
const META_PROVIDERS: [&str; 3] = ["facebook", "threads", "instagram"];
pub const STATUS_PATH: &str = "/callbacks/meta/deletion-status/";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/callbacks/meta/{provider}/deauthorize", post(deauthorize))
        .route("/callbacks/meta/{provider}/data-deletion", post(data_deletion))
        .route("/callbacks/meta/deletion-status/{code}", get(deletion_status))
}

/// Where the callback came from, for the audit rows.
pub(crate) struct Origin(pub(crate) RequestOrigin);

impl FromRequestParts<AppState> for Origin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(crate::dashboard::origin(parts)))
    }
}

/// The `signed_request` field of a form body.
fn signed_request(body: &[u8]) -> ApiResult<String> {
    url::form_urlencoded::parse(body)
        .find(|(name, _)| name == "signed_request")
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ApiError::invalid("the body must be a form with a `signed_request` field"))
}

/// The provider named in the path and the platform user the verified request is about.
fn verified(state: &AppState, provider: &str, body: &[u8]) -> ApiResult<(&'static str, String)> {
    let unknown =
        || ApiError::new(ProblemKind::NotFound, format!("this Crier takes no callbacks for {provider:?}"));
    if !META_PROVIDERS.contains(&provider) {
        return Err(unknown());
    }
    let adapter = state.providers.get(provider).ok_or_else(unknown)?;
    let signed = signed_request(body)?;
    match adapter.verify_callback(&signed, state.clock.now()) {
        Ok(user) => Ok((adapter.name(), user)),
        Err(CallbackError::Unsupported) => Err(unknown()),
        Err(CallbackError::Invalid(why)) => {
            tracing::info!(provider, reason = %why, "refused a platform callback");
            Err(ApiError::invalid(format!("invalid signed_request: {why}")))
        }
    }
}

/// How many channels were found, and how many sealed credentials deleted.
pub(crate) struct Outcome {
    channels: i64,
    credentials_deleted: i64,
}

/// Deauthorizes every channel of `provider` connected by `user` (the id the platform account
/// index holds for it), workspace by workspace.
pub(crate) async fn deauthorize_all(
    state: &AppState,
    provider: &'static str,
    user: &str,
    kind: Deauthorization,
    origin: &RequestOrigin,
) -> ApiResult<Outcome> {
    let action = match kind {
        Deauthorization::Deauthorized => "channel.deauthorized",
        Deauthorization::DataDeletion => "channel.data_deleted",
    };
    // Instagram accounts are connected through Facebook Login, whose callbacks name the Facebook
    // user: their channels are indexed under that user (see migration 0013).
    let covered: &[&'static str] =
        if provider == "facebook" { &["facebook", "instagram"] } else { &[provider] };
    let mut found = Vec::new();
    for platform in covered {
        found.extend(state.store.channels_of_platform_account(platform, user).await?);
    }
    let mut outcome = Outcome { channels: 0, credentials_deleted: 0 };
    for (workspace, channel) in found {
        let audit = NewAuditEvent::new(
            state.clock.now(),
            Actor(format!("platform:{provider}")),
            action,
            channel.to_string(),
            origin,
        );
        match state.store.deauthorize_channel(workspace, channel, kind, &audit).await {
            Ok(deleted) => {
                outcome.channels += 1;
                outcome.credentials_deleted += i64::from(deleted);
            }
            // Deleted meanwhile: nothing of it is left to deauthorize.
            Err(StoreError::NotFound) => {}
            Err(err) => return Err(err.into()),
        }
    }
    tracing::info!(
        provider,
        channels = outcome.channels,
        reason = kind.as_str(),
        "platform callback handled"
    );
    Ok(outcome)
}

/// `POST /callbacks/meta/{provider}/deauthorize`: 204 once the user's channels are deauthorized.
async fn deauthorize(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Origin(origin): Origin,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let (provider, user) = verified(&state, &provider, &body)?;
    deauthorize_all(&state, provider, &user, Deauthorization::Deauthorized, &origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What Meta expects from a data-deletion callback.
#[derive(Serialize)]
struct DeletionAnswer {
    url: String,
    confirmation_code: String,
}

/// `POST /callbacks/meta/{provider}/data-deletion`: the user's channels deauthorized and their
/// profile erased, a record kept under the hash of a new confirmation code, and the status URL.
async fn data_deletion(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Origin(origin): Origin,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<Json<DeletionAnswer>> {
    let (provider, user) = verified(&state, &provider, &body)?;
    let outcome = deauthorize_all(&state, provider, &user, Deauthorization::DataDeletion, &origin).await?;
    let code = format!("del_{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>()));
    state
        .store
        .insert_deletion_record(&DeletionRecord {
            code_hash: KeyHash::of(code.as_bytes()),
            provider: provider.to_owned(),
            received_at: state.clock.now(),
            channels: outcome.channels,
            credentials_deleted: outcome.credentials_deleted,
        })
        .await?;
    let url = format!("{}{STATUS_PATH}{code}", crate::oauth::base_url(&state, &headers));
    Ok(Json(DeletionAnswer { url, confirmation_code: code }))
}

/// The status page of a data-deletion request.
#[derive(askama::Template)]
#[template(path = "deletion_status.html")]
struct StatusPage<'a> {
    code: &'a str,
    provider: &'a str,
    received_at: String,
    channels: i64,
    credentials_deleted: i64,
}

/// `GET /callbacks/meta/deletion-status/{code}`.
async fn deletion_status(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult<Response> {
    let unknown =
        || ApiError::new(ProblemKind::NotFound, "no data-deletion request has this confirmation code");
    if !code.starts_with("del_") || code.len() > 64 {
        return Err(unknown());
    }
    let record = match state.store.get_deletion_record(&KeyHash::of(code.as_bytes())).await {
        Ok(record) => record,
        Err(StoreError::NotFound) => return Err(unknown()),
        Err(err) => return Err(err.into()),
    };
    let page = StatusPage {
        code: &code,
        provider: &record.provider,
        received_at: record.received_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        channels: record.channels,
        credentials_deleted: record.credentials_deleted,
    };
    Ok(crate::dashboard::render(&page).into_response())
}
