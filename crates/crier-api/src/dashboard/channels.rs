//! Channels: the list with each one's state, a sandbox channel for trying Crier out, and
//! disconnecting (which revokes the platform token where the platform allows it).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use crier_core::{ChannelId, Permission, Scope};
use serde::Deserialize;

use super::session::{Posted, SignedIn};
use super::{DashError, Nav, render, see_other};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::channels::{ChannelIn, ChannelOut, create_channel, delete_channel, list_channels};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/channels", get(channels).post(add_sandbox))
        .route("/channels/{id}/delete", post(disconnect))
}

#[derive(askama::Template)]
#[template(path = "dashboard/channels.html")]
struct ChannelsPage {
    nav: Option<Nav>,
    channels: Vec<ChannelOut>,
    can_write: bool,
}

async fn channels(who: SignedIn, State(state): State<AppState>) -> Result<Response, DashError> {
    let Json(list) = list_channels(who.tenant.clone(), State(state)).await?;
    Ok(render(&ChannelsPage {
        nav: Some(who.nav()),
        channels: list.data,
        can_write: who.role.permits(Permission::Scope(Scope::ChannelsWrite)),
    }))
}

#[derive(Deserialize)]
struct SandboxForm {
    #[serde(default)]
    name: String,
}

async fn add_sandbox(
    State(state): State<AppState>,
    posted: Posted<SandboxForm>,
) -> Result<Response, DashError> {
    let input =
        ChannelIn { provider: "sandbox".into(), name: posted.form.name, config: serde_json::json!({}) };
    create_channel(posted.who.tenant, State(state), HeaderMap::new(), ApiJson(input)).await?;
    Ok(see_other("/channels"))
}

async fn disconnect(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ChannelId>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    delete_channel(posted.who.tenant, State(state), ApiPath(id)).await?;
    Ok(see_other("/channels"))
}
