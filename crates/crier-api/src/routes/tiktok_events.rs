//! `POST /callbacks/tiktok/events`: the TikTok app's webhook (developers.tiktok.com/doc/webhooks-overview),
//! for `authorization.removed` (developers.tiktok.com/doc/webhooks-events): the user removed
//! Crier's access, so every TikTok channel of that `user_openid`, in every workspace, is
//! deauthorized through the platform account index (a TikTok channel's account id is its open_id).
//!
//! The request is checked first (developers.tiktok.com/doc/webhooks-verification):
//! `TikTok-Signature: t=<unix>,s=<hex>` with `s` = HMAC-SHA256 of `{t}.{raw body}` under the app's
//! client secret, `t` within five minutes, and the body's `client_key` Crier's own; otherwise a
//! 401 problem and nothing changes. Other events are acknowledged and ignored. 404 while TikTok is
//! not configured.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use crier_core::Deauthorization;
use serde::Deserialize;

use super::platform_callbacks::{Origin, deauthorize_all};
use super::signed_callbacks::{TikTokApp, fresh, signature_matches};
use crate::error::{ApiError, ApiResult, ProblemKind};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/callbacks/tiktok/events", post(events))
}

/// A webhook's body (developers.tiktok.com/doc/webhooks-overview), the fields Crier reads.
#[derive(Deserialize)]
struct Delivery {
    client_key: String,
    event: String,
    #[serde(default)]
    user_openid: Option<String>,
}

/// Refused: the request is not TikTok's for this app (or is a replay).
fn unsigned(why: &str) -> ApiError {
    tracing::info!(provider = "tiktok", reason = why, "refused a platform callback");
    ApiError::new(ProblemKind::Unauthorized, format!("not a valid TikTok webhook: {why}"))
}

/// `t` and `s` of the `TikTok-Signature` header.
fn signature_header(headers: &HeaderMap) -> Option<(&str, &str)> {
    let value = headers.get("tiktok-signature")?.to_str().ok()?;
    let (mut t, mut s) = (None, None);
    for pair in value.split(',') {
        match pair.trim().split_once('=') {
            Some(("t", v)) => t = Some(v),
            Some(("s", v)) => s = Some(v),
            _ => {}
        }
    }
    Some((t?, s?))
}

/// Checks the signature, its timestamp and the client key; the verified delivery.
fn verify(state: &AppState, app: &TikTokApp, headers: &HeaderMap, body: &[u8]) -> ApiResult<Delivery> {
    let (timestamp, signature) = signature_header(headers).ok_or_else(|| unsigned("no t=…,s=… signature"))?;
    let at: i64 = timestamp.parse().map_err(|_| unsigned("the timestamp is not a number"))?;
    if !fresh(at, state.clock.now().timestamp()) {
        return Err(unsigned("the timestamp is more than five minutes away"));
    }
    let parts: [&[u8]; 3] = [timestamp.as_bytes(), b".", body];
    if !signature_matches(&app.client_secret, &parts, signature) {
        return Err(unsigned("the signature does not match"));
    }
    let delivery: Delivery = serde_json::from_slice(body)
        .map_err(|err| ApiError::invalid(format!("the body is not a TikTok webhook: {err}")))?;
    if delivery.client_key != app.client_key {
        return Err(unsigned("it is for another app's client key"));
    }
    Ok(delivery)
}

async fn events(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let app = state.config.platform_callbacks.tiktok.as_ref().ok_or_else(|| {
        ApiError::new(ProblemKind::NotFound, "this Crier takes no TikTok webhooks (TikTok is not configured)")
    })?;
    let delivery = verify(&state, app, &headers, &body)?;
    if delivery.event == "authorization.removed" {
        let user = delivery
            .user_openid
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ApiError::invalid("`authorization.removed` without a `user_openid`"))?;
        deauthorize_all(&state, "tiktok", &user, Deauthorization::Deauthorized, &origin).await?;
    }
    Ok(StatusCode::OK)
}
