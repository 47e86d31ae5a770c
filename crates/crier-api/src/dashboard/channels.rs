//! Channels: the list with each one's state, a sandbox channel for trying Crier out, and
//! disconnecting (which revokes the platform token where the platform allows it).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use crier_core::{ChannelId, Permission, Scope};
use serde::Deserialize;

use super::session::{Posted, SignedIn};
use super::{DashError, Nav, render, see_other};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::channels::{ChannelIn, ChannelOut, create_channel, delete_channel, list_channels};
use crate::routes::connect::ConnectIn;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/channels", get(channels).post(add_sandbox))
        .route("/channels/connect", post(connect))
        .route("/channels/{id}/delete", post(disconnect))
}

/// A platform offered for connecting, with the fields its connect asks for.
struct Offer {
    provider: &'static str,
    fields: &'static [crier_providers::ConnectField],
}

#[derive(askama::Template)]
#[template(path = "dashboard/channels.html")]
struct ChannelsPage {
    nav: Option<Nav>,
    channels: Vec<ChannelOut>,
    can_write: bool,
    offers: Vec<Offer>,
    notice: Option<String>,
    errors: Vec<String>,
}

impl ChannelsPage {
    fn is_secret(&self, field: &crier_providers::ConnectField) -> bool {
        field.kind == crier_providers::FieldKind::Secret
    }
}

/// What the connect flow's end said (the callback sends the browser back here).
#[derive(Deserialize)]
struct Ended {
    channel_id: Option<String>,
    error: Option<String>,
}

async fn channels(
    who: SignedIn,
    State(state): State<AppState>,
    Query(ended): Query<Ended>,
) -> Result<Response, DashError> {
    let notice = match (ended.channel_id, ended.error) {
        (Some(_), _) => Some("The account is connected.".to_owned()),
        (None, Some(error)) if error == "access_denied" => {
            Some("The platform's consent was declined; nothing was connected.".to_owned())
        }
        (None, Some(error)) => Some(format!("The account could not be connected ({error}). Try again.")),
        (None, None) => None,
    };
    page(&who, &state, notice, Vec::new()).await
}

async fn page(
    who: &SignedIn,
    state: &AppState,
    notice: Option<String>,
    errors: Vec<String>,
) -> Result<Response, DashError> {
    let Json(list) = list_channels(who.tenant.clone(), State(state.clone())).await?;
    let mut offers: Vec<Offer> = state
        .providers
        .names()
        .into_iter()
        .filter(|name| *name != "sandbox")
        .filter_map(|name| {
            state.providers.get(name).map(|p| Offer { provider: p.name(), fields: p.connect_fields() })
        })
        .collect();
    offers.sort_by_key(|offer| offer.provider);
    Ok(render(&ChannelsPage {
        nav: Some(who.nav()),
        channels: list.data,
        can_write: who.role.permits(Permission::Scope(Scope::ChannelsWrite)),
        offers,
        notice,
        errors,
    }))
}

/// Starts a platform's connect flow: done at once (an app password, a bot token), or a consent
/// page the browser is sent to, which comes back to the channels page.
async fn connect(
    State(state): State<AppState>,
    headers: HeaderMap,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let who = posted.who;
    let mut form: std::collections::HashMap<String, String> = posted.form.into_iter().collect();
    let provider_name = form.remove("provider").unwrap_or_default();
    let Some(provider) = state.providers.get(&provider_name).cloned() else {
        return Err(DashError::BadForm("choose a platform this Crier offers".into()));
    };
    let mut params = serde_json::Map::new();
    for field in provider.connect_fields() {
        let value = form.get(field.name).map(|v| v.trim().to_owned()).unwrap_or_default();
        if value.is_empty() {
            continue;
        }
        let json = match field.kind {
            crier_providers::FieldKind::Number => match value.parse::<u64>() {
                Ok(n) => serde_json::json!(n),
                Err(_) => return page(&who, &state, None, vec![format!("{}: a number", field.label)]).await,
            },
            crier_providers::FieldKind::List => {
                serde_json::json!(
                    value.split(',').map(str::trim).filter(|v| !v.is_empty()).collect::<Vec<_>>()
                )
            }
            _ => serde_json::json!(value),
        };
        params.insert(field.name.to_owned(), json);
    }
    let name = form.get("name").map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let back = format!("{}/channels", crate::oauth::base_url(&state, &headers));
    let input = ConnectIn { provider: provider_name, name, redirect_uri: Some(back), params };
    match crate::routes::connect::connect(
        who.tenant.clone(),
        State(state.clone()),
        HeaderMap::new(),
        ApiJson(input),
    )
    .await
    {
        Ok(response) if response.status() == StatusCode::ACCEPTED => {
            let url =
                super::answered_field(response, "authorize_url").await.unwrap_or_else(|| "/channels".into());
            Ok(see_other(&url))
        }
        Ok(_) => Ok(see_other("/channels?channel_id=new")),
        Err(err)
            if err.status() == StatusCode::UNPROCESSABLE_ENTITY
                || err.status() == StatusCode::SERVICE_UNAVAILABLE =>
        {
            let problem = err.problem();
            let mut errors: Vec<String> =
                problem.errors.iter().map(|e| format!("{}: {}", e.pointer, e.detail)).collect();
            if errors.is_empty() {
                errors.push(problem.detail);
            }
            page(&who, &state, None, errors).await
        }
        Err(err) => Err(err.into()),
    }
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
