//! The web dashboard: server-rendered pages (askama, checked at compile time), one stylesheet and
//! one script served by the binary, a strict Content-Security-Policy with no inline script. Pages
//! act through the same handlers as the REST API, as a tenant whose scopes come from the person's
//! role, so the API's validation and checks apply unchanged.

mod calendar;
mod channels;
mod error;
mod invite;
mod keys;
mod login;
mod media;
mod members;
mod passkeys;
mod posts;
mod security;
pub mod session;
mod signup;
mod sso;
mod totp;
mod webhooks;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use crier_core::{Permission, RequestOrigin};

pub use error::DashError;
pub use session::SignedIn;

use crate::state::AppState;

/// Pages load only this site's stylesheet, script and images (QR codes are data: images; the
/// composer's thumbnails of files being attached are blob: images of the viewer's own files).
pub const DASHBOARD_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("../../assets/dashboard.css");
const SCRIPT: &str = include_str!("../../assets/dashboard.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/dashboard.css", get(|| async { asset("text/css; charset=utf-8", STYLESHEET) }))
        .route("/assets/dashboard.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .merge(login::router())
        .merge(posts::router())
        .merge(calendar::router())
        .merge(media::router())
        .merge(channels::router())
        .merge(keys::router())
        .merge(members::router())
        .merge(invite::router())
        .merge(signup::router())
        .merge(security::router())
        .merge(sso::router())
        .merge(passkeys::router())
        .merge(webhooks::router())
        // Error pages are for people: HTML, not problem+json.
        .layer(axum::middleware::from_fn(crate::middleware::keep_error_bodies))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// A page as HTML with the dashboard's policy; never cached.
pub(crate) fn render(page: &impl askama::Template) -> Response {
    let mut response = match page.render() {
        Ok(body) => Html(body).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a dashboard template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be shown").into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DASHBOARD_CSP));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // With `no-referrer` (the API's policy) browsers send `Origin: null` on form posts, and the
    // dashboard checks the origin of every post.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// The peer address (forwarding headers are not trusted) and user agent, for sessions and audit.
pub(crate) fn origin(parts: &Parts) -> RequestOrigin {
    RequestOrigin {
        ip: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string()),
        user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}

/// What every signed-in page shows around its content.
pub struct Nav {
    pub email: String,
    pub role: &'static str,
    pub csrf: String,
    pub can_manage_keys: bool,
    pub can_manage_members: bool,
    pub can_manage_webhooks: bool,
    pub can_read_audit: bool,
}

impl SignedIn {
    pub fn nav(&self) -> Nav {
        Nav {
            email: self.user.email.clone(),
            role: self.role.as_str(),
            csrf: self.csrf.clone(),
            can_manage_keys: self.role.permits(Permission::Scope(crier_core::Scope::KeysAdmin)),
            can_manage_members: self.role.permits(Permission::ManageMembers),
            can_manage_webhooks: self.role.permits(Permission::Scope(crier_core::Scope::WebhooksAdmin)),
            can_read_audit: self.role.permits(Permission::Scope(crier_core::Scope::AuditRead)),
        }
    }

    /// 403 unless this person's role permits `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), DashError> {
        if self.role.permits(permission) { Ok(()) } else { Err(DashError::Forbidden) }
    }
}

/// A text field of the JSON an API handler answered (the id it made, a secret shown once).
pub(crate) async fn answered_field(response: Response, name: &str) -> Option<String> {
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.ok()?;
    let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
    value.get(name)?.as_str().map(str::to_owned)
}

/// A redirect after a successful form (303: the browser follows with GET).
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
