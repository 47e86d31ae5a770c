//! The one error type of the HTTP layer. Every error leaves as `application/problem+json`
//! (RFC 9457) with `type`, `title`, `status`, `detail` and, for validation, `errors[]` carrying
//! JSON pointers. Unexpected failures are logged with their cause chain and answered with an
//! opaque 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crier_core::{Scope, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; it resolves to its description in `/docs`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field: where (a JSON pointer into the request body) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub pointer: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), detail: detail.into() }
    }
}

/// The kinds of problem Crier reports; each is documented at `/docs#problem-<slug>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    InvalidRequest,
    ValidationFailed,
    UnsupportedMediaType,
    PayloadTooLarge,
    MethodNotAllowed,
    Timeout,
    Internal,
    Unavailable,
}

impl ProblemKind {
    pub const ALL: [ProblemKind; 12] = [
        ProblemKind::Unauthorized,
        ProblemKind::Forbidden,
        ProblemKind::NotFound,
        ProblemKind::Conflict,
        ProblemKind::InvalidRequest,
        ProblemKind::ValidationFailed,
        ProblemKind::UnsupportedMediaType,
        ProblemKind::PayloadTooLarge,
        ProblemKind::MethodNotAllowed,
        ProblemKind::Timeout,
        ProblemKind::Internal,
        ProblemKind::Unavailable,
    ];

    pub const fn slug(self) -> &'static str {
        match self {
            ProblemKind::Unauthorized => "unauthorized",
            ProblemKind::Forbidden => "forbidden",
            ProblemKind::NotFound => "not-found",
            ProblemKind::Conflict => "conflict",
            ProblemKind::InvalidRequest => "invalid-request",
            ProblemKind::ValidationFailed => "validation-failed",
            ProblemKind::UnsupportedMediaType => "unsupported-media-type",
            ProblemKind::PayloadTooLarge => "payload-too-large",
            ProblemKind::MethodNotAllowed => "method-not-allowed",
            ProblemKind::Timeout => "timeout",
            ProblemKind::Internal => "internal",
            ProblemKind::Unavailable => "unavailable",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            ProblemKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemKind::Forbidden => StatusCode::FORBIDDEN,
            ProblemKind::NotFound => StatusCode::NOT_FOUND,
            ProblemKind::Conflict => StatusCode::CONFLICT,
            ProblemKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ProblemKind::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::Timeout => StatusCode::REQUEST_TIMEOUT,
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ProblemKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub const fn title(self) -> &'static str {
        match self {
            ProblemKind::Unauthorized => "Authentication required",
            ProblemKind::Forbidden => "Not allowed",
            ProblemKind::NotFound => "Not found",
            ProblemKind::Conflict => "Conflict",
            ProblemKind::InvalidRequest => "Invalid request",
            ProblemKind::ValidationFailed => "Validation failed",
            ProblemKind::UnsupportedMediaType => "Unsupported media type",
            ProblemKind::PayloadTooLarge => "Payload too large",
            ProblemKind::MethodNotAllowed => "Method not allowed",
            ProblemKind::Timeout => "Request timed out",
            ProblemKind::Internal => "Internal error",
            ProblemKind::Unavailable => "Service unavailable",
        }
    }

    pub const fn explanation(self) -> &'static str {
        match self {
            ProblemKind::Unauthorized => {
                "No API key was sent, or it is malformed, unknown, revoked, expired, or rotated past its \
                 grace period. Send `Authorization: Bearer crier_live_…`."
            }
            ProblemKind::Forbidden => {
                "The API key is valid but lacks the scope this operation needs; `detail` names it."
            }
            ProblemKind::NotFound => {
                "No such resource in this workspace. Objects of other workspaces are reported the same way."
            }
            ProblemKind::Conflict => {
                "The resource's current state does not allow this change (e.g. rotating a rotated key)."
            }
            ProblemKind::InvalidRequest => {
                "The body is not well-formed JSON, or a header or query parameter is unusable."
            }
            ProblemKind::ValidationFailed => {
                "The body is JSON but breaks the schema or a rule; `errors[]` lists each field by JSON pointer."
            }
            ProblemKind::UnsupportedMediaType => "Send `Content-Type: application/json`.",
            ProblemKind::PayloadTooLarge => "The body exceeds the configured limit (1 MiB by default).",
            ProblemKind::MethodNotAllowed => "The path exists but not with this HTTP method.",
            ProblemKind::Timeout => "The request took longer than the configured timeout; it may be retried.",
            ProblemKind::Internal => {
                "Something failed inside Crier. It has been logged; the request may be retried."
            }
            ProblemKind::Unavailable => "A dependency (the database) is not reachable right now.",
        }
    }

    pub fn type_uri(self) -> String {
        format!("/docs#problem-{}", self.slug())
    }

    /// The kind a bare status code stands for, for responses produced outside our handlers.
    pub fn for_status(status: StatusCode) -> Self {
        ProblemKind::ALL.into_iter().find(|kind| kind.status() == status).unwrap_or(
            if status.is_server_error() { ProblemKind::Internal } else { ProblemKind::InvalidRequest },
        )
    }
}

#[derive(Debug)]
pub struct ApiError {
    kind: ProblemKind,
    status: StatusCode,
    detail: String,
    errors: Vec<FieldError>,
    /// A credential was presented and refused (RFC 6750 `error="invalid_token"`), as opposed
    /// to none being presented at all.
    invalid_token: bool,
}

impl ApiError {
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self { kind, status: kind.status(), detail: detail.into(), errors: Vec::new(), invalid_token: false }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// No credential was sent.
    pub fn unauthenticated() -> Self {
        Self::new(ProblemKind::Unauthorized, "send an API key as `Authorization: Bearer crier_…`")
    }

    /// A credential was sent and refused.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Self { invalid_token: true, ..Self::new(ProblemKind::Unauthorized, detail) }
    }

    pub fn missing_scope(scope: Scope) -> Self {
        Self::new(ProblemKind::Forbidden, format!("this API key lacks the `{scope}` scope"))
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::Forbidden, detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ProblemKind::NotFound, format!("no such {what} in this workspace"))
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::Conflict, detail)
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::InvalidRequest, detail)
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] if one.pointer.is_empty() => one.detail.clone(),
            [one] => format!("{}: {}", one.pointer, one.detail),
            many => format!("{} fields are invalid", many.len()),
        };
        Self { errors, ..Self::new(ProblemKind::ValidationFailed, detail) }
    }

    pub fn field(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(pointer, detail)])
    }

    /// An unexpected failure: logged with its cause chain, answered opaquely.
    pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        tracing::error!(error = %chain, "request failed");
        Self::new(ProblemKind::Internal, "an internal error occurred; it has been logged")
    }

    pub fn kind(&self) -> ProblemKind {
        self.kind
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: self.kind.type_uri(),
            title: self.kind.title().to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Conflict(detail) => ApiError::conflict(detail),
            other @ StoreError::Other(_) => ApiError::internal(&other),
        }
    }
}

impl From<crier_vault::VaultError> for ApiError {
    fn from(err: crier_vault::VaultError) -> Self {
        ApiError::internal(&err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.kind == ProblemKind::Unauthorized {
            let challenge = if self.invalid_token {
                "Bearer realm=\"crier\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"crier\""
            };
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
