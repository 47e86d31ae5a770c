//! The composer's file uploads: the page's script begins a resumable upload and sends the file
//! in parts (showing progress), through the API's own media handlers as the signed-in person.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use crier_core::MediaId;

use super::DashError;
use super::session::{SignedIn, script_request};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::media::{UploadIn, begin_upload, get_media, upload_part};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/media/uploads", post(begin))
        .route("/media/{id}/content", patch(part))
        .route("/media/{id}", get(describe))
}

/// Begins an upload (`{size, file_name, content_type, alt_text}`); answers the API's media.
async fn begin(
    who: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<UploadIn>,
) -> Result<Response, DashError> {
    script_request(&who, &headers)?;
    // No Idempotency-Key: a repeated click begins a second upload, which expires unused.
    Ok(answer(begin_upload(who.tenant, State(state), HeaderMap::new(), ApiJson(input)).await))
}

/// One part of the file at `Upload-Offset`; the last part answers with the ready media (or the
/// 422 saying why the file cannot be used).
async fn part(
    who: SignedIn,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<MediaId>,
    request: Request,
) -> Result<Response, DashError> {
    script_request(&who, request.headers())?;
    Ok(answer(upload_part(who.tenant, State(state), ApiPath(id), request).await))
}

/// A media's description (for the composer to show what is attached).
async fn describe(
    who: SignedIn,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<MediaId>,
) -> Result<Response, DashError> {
    Ok(answer(get_media(who.tenant, State(state), ApiPath(id)).await))
}

/// The API's answer as it is: the script reads problem+json errors (a file refused says why).
fn answer(result: crate::ApiResult<impl IntoResponse>) -> Response {
    match result {
        Ok(response) => response.into_response(),
        Err(err) => err.into_response(),
    }
}
