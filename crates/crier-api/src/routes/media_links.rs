//! `GET /media-links/{token}`: a media's bytes for whoever holds a link the worker minted for a
//! platform (see `crate::media_links`). No API key: the token is the only credential, naming one
//! media of one workspace until it expires. Anything else (an unknown, altered, expired or
//! used-up token, a media deleted or not ready) is the same 404, and nothing is listed. Not part
//! of the `/v1` API (nor its OpenAPI document): only platforms' fetchers call it.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::{ApiError, ApiResult, ProblemKind};
use crate::media::read_all;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/media-links/{token}", get(media_link))
}

fn gone() -> ApiError {
    ApiError::new(ProblemKind::NotFound, "no such media link, or it has expired")
}

pub async fn media_link(State(state): State<AppState>, Path(token): Path<String>) -> ApiResult<Response> {
    let links = state.media_links.as_deref().ok_or_else(gone)?;
    let linked = links.open(&token, state.clock.now()).ok_or_else(gone)?;
    let media = match state.store.get_media(linked.workspace, linked.media).await {
        Ok(media) => media,
        Err(crier_core::StoreError::NotFound) => return Err(gone()),
        Err(err) => return Err(err.into()),
    };
    let Some(facts) = media.facts.clone() else { return Err(gone()) };
    let stream = read_all(&state, &media).await?;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(facts.size));
    if let Ok(mime) = HeaderValue::from_str(&facts.mime) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    Ok(response)
}
