//! Responses made outside our handlers (an unknown route, a wrong method, a timeout, a body
//! limit hit before extraction) arrive with empty or plain-text bodies. This turns every such
//! error into problem+json, so clients parse one error shape whatever produced it.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, PROBLEM_JSON, ProblemKind};

pub async fn problem_fallback(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<OwnErrorBody>().is_some()
    {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return response;
    }
    let kind = ProblemKind::for_status(status);
    let detail = match kind {
        ProblemKind::NotFound => "no such path in the Crier API; see /docs",
        ProblemKind::MethodNotAllowed => "this path does not accept that method; see /docs",
        ProblemKind::Timeout => "the request took too long and was abandoned",
        ProblemKind::PayloadTooLarge => "the request body is larger than this server accepts",
        _ => status.canonical_reason().unwrap_or("request failed"),
    };
    let (mut parts, _) = response.into_parts();
    let replacement = ApiError::new(kind, detail).with_status(status).into_response();
    let (new_parts, body) = replacement.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, new_parts.headers[header::CONTENT_TYPE].clone());
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(challenge) = new_parts.headers.get(header::WWW_AUTHENTICATE) {
        parts.headers.insert(header::WWW_AUTHENTICATE, challenge.clone());
    }
    Response::from_parts(parts, Body::new(body))
}

/// Marks an error response whose body is already in its protocol's own error shape (OAuth's
/// `{error, error_description}`, MCP's JSON-RPC errors, an HTML page for a person), which must
/// reach the client as it is.
#[derive(Debug, Clone, Copy)]
pub struct OwnErrorBody;

/// Marks every response of a router `OwnErrorBody`.
pub async fn keep_error_bodies(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.extensions_mut().insert(OwnErrorBody);
    response
}
