//! `POST /callbacks/slack/events`: the Request URL of the Slack app's Event Subscriptions
//! (api.slack.com/apis/events-api), for the two events that end Crier's access to a workspace:
//!
//! - `app_uninstalled` (api.slack.com/events/app_uninstalled): the app was removed from the team;
//! - `tokens_revoked` (api.slack.com/events/tokens_revoked): tokens were revoked. Crier holds only
//!   the app's bot token, and an app has one bot user per team, so a revoked bot token
//!   (`event.tokens.bot` not empty) is the team's channels' token; revoked user tokens
//!   (`event.tokens.oauth`) are not Crier's and change nothing.
//!
//! Either way every Slack channel of that `team_id`, in every workspace, is deauthorized through
//! the platform account index (which holds a Slack channel's team id, see migration 0017). The
//! request is checked first (api.slack.com/authentication/verifying-requests-from-slack):
//! `X-Slack-Signature` must be `v0=` + hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}`
//! under the signing secret, and the timestamp within five minutes; otherwise a 401 problem and
//! nothing changes. Slack's `url_verification` handshake is answered with its `challenge`. 404
//! while `--slack-signing-secret` is unset.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::platform_callbacks::{Origin, deauthorize_all};
use super::signed_callbacks::{fresh, signature_matches};
use crate::error::{ApiError, ApiResult, ProblemKind};
use crate::state::AppState;
use crier_core::Deauthorization;

pub fn router() -> Router<AppState> {
    Router::new().route("/callbacks/slack/events", post(events))
}

/// The outer envelope of an Events API request (api.slack.com/apis/events-api#callback-field).
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    challenge: Option<String>,
    #[serde(default)]
    team_id: Option<String>,
    #[serde(default)]
    event: Option<Event>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    tokens: Option<Tokens>,
}

/// `tokens_revoked`'s lists of user ids whose tokens were revoked: `bot`, and `oauth` (user
/// tokens, which Crier never holds, so not read).
#[derive(Deserialize, Default)]
struct Tokens {
    #[serde(default)]
    bot: Vec<String>,
}

/// Refused: the request is not Slack's (or is a replay).
fn unsigned(why: &str) -> ApiError {
    tracing::info!(provider = "slack", reason = why, "refused a platform callback");
    ApiError::new(ProblemKind::Unauthorized, format!("not a valid Slack request: {why}"))
}

/// Checks the request's signature and timestamp against the signing secret.
fn verify(state: &AppState, headers: &HeaderMap, body: &[u8]) -> ApiResult<()> {
    let secret = state.config.platform_callbacks.slack_signing_secret.as_ref().ok_or_else(|| {
        ApiError::new(ProblemKind::NotFound, "this Crier takes no Slack events (no signing secret is set)")
    })?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let timestamp = header("x-slack-request-timestamp").ok_or_else(|| unsigned("no timestamp"))?;
    let at: i64 = timestamp.parse().map_err(|_| unsigned("the timestamp is not a number"))?;
    if !fresh(at, state.clock.now().timestamp()) {
        return Err(unsigned("the timestamp is more than five minutes away"));
    }
    let signature = header("x-slack-signature")
        .and_then(|s| s.strip_prefix("v0="))
        .ok_or_else(|| unsigned("no v0 signature"))?;
    let parts: [&[u8]; 4] = [b"v0:", timestamp.as_bytes(), b":", body];
    if !signature_matches(secret, &parts, signature) {
        return Err(unsigned("the signature does not match"));
    }
    Ok(())
}

async fn events(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    verify(&state, &headers, &body)?;
    let envelope: Envelope = serde_json::from_slice(&body)
        .map_err(|err| ApiError::invalid(format!("the body is not a Slack event: {err}")))?;
    if envelope.kind == "url_verification" {
        // api.slack.com/apis/events-api#handshake
        let challenge = envelope.challenge.ok_or_else(|| ApiError::invalid("no `challenge`"))?;
        return Ok(Json(serde_json::json!({ "challenge": challenge })).into_response());
    }
    let (Some(event), Some(team)) = (envelope.event, envelope.team_id) else {
        return Ok(StatusCode::OK.into_response());
    };
    let ends_access = match event.kind.as_str() {
        "app_uninstalled" => true,
        "tokens_revoked" => !event.tokens.unwrap_or_default().bot.is_empty(),
        // Other subscribed events are acknowledged, or Slack would retry them.
        _ => false,
    };
    if ends_access && !team.is_empty() {
        deauthorize_all(&state, "slack", &team, Deauthorization::Deauthorized, &origin).await?;
    }
    Ok(StatusCode::OK.into_response())
}
