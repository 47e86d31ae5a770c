//! API keys: the list, creating one (its secret shown once, on the page that answers the form),
//! and revoking.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use crier_core::{ApiKeyId, Scope};

use super::session::{Posted, SignedIn};
use super::{DashError, Nav, render, see_other};
use crate::extract::{ApiJson, ApiPath, OptionalJson};
use crate::routes::api_keys::{
    ApiKeyIn, ApiKeyOut, create_api_key, list_api_keys, revoke_api_key, rotate_api_key,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/keys", get(keys).post(create))
        .route("/keys/{id}/revoke", post(revoke))
        .route("/keys/{id}/rotate", post(rotate))
}

#[derive(askama::Template)]
#[template(path = "dashboard/keys.html")]
struct KeysPage {
    nav: Option<Nav>,
    keys: Vec<ApiKeyOut>,
    scopes: Vec<&'static str>,
    /// Just created: shown this once.
    secret: Option<String>,
}

async fn page(who: &SignedIn, state: &AppState, secret: Option<String>) -> Result<Response, DashError> {
    let Json(list) = list_api_keys(who.tenant.clone(), State(state.clone())).await?;
    Ok(render(&KeysPage {
        nav: Some(who.nav()),
        keys: list.data,
        scopes: who.tenant.scopes.iter().map(Scope::as_str).collect(),
        secret,
    }))
}

async fn keys(who: SignedIn, State(state): State<AppState>) -> Result<Response, DashError> {
    page(&who, &state, None).await
}

async fn create(
    State(state): State<AppState>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let who = posted.who;
    let mut input = ApiKeyIn { name: String::new(), scopes: Vec::new(), mode: None, expires_at: None };
    for (key, value) in posted.form {
        match key.as_str() {
            "name" => input.name = value,
            "scope" => input.scopes.push(value),
            "expires_in_days" if !value.is_empty() => {
                let days: i64 =
                    value.parse().map_err(|_| DashError::BadForm("expiry: a number of days".into()))?;
                input.expires_at = Some(state.clock.now() + chrono::Duration::days(days.clamp(1, 3650)));
            }
            _ => {}
        }
    }
    let response =
        create_api_key(who.tenant.clone(), State(state.clone()), HeaderMap::new(), ApiJson(input)).await?;
    let secret = super::answered_field(response, "secret").await;
    page(&who, &state, secret).await
}

async fn revoke(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ApiKeyId>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let _revoked = revoke_api_key(posted.who.tenant, State(state), ApiPath(id)).await?;
    Ok(see_other("/keys"))
}

/// A successor key with the same scopes, its secret shown once; the old key keeps working for
/// the deployment's grace period (`--key-grace-period`) so callers can switch.
async fn rotate(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ApiKeyId>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let who = posted.who;
    let (_, Json(created)) =
        rotate_api_key(who.tenant.clone(), State(state.clone()), ApiPath(id), OptionalJson(None)).await?;
    page(&who, &state, created.secret).await
}
