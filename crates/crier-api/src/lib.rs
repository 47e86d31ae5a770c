//! Crier's HTTP surface. The binary calls [`build_router`] and [`serve`]; tests do the same on
//! port 0, or call the router in-process.

pub mod dashboard;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod mcp;
pub mod media;
pub mod media_links;
mod middleware;
pub mod oauth;
mod openapi;
pub mod routes;
pub mod sso;
mod state;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult, FieldError, Problem, ProblemKind};
pub use media::MediaConfig;
pub use openapi::openapi;
pub use routes::signed_callbacks::{CallbackSecret, CallbackSecrets, TikTokApp};
pub use state::{ApiConfig, AppState};

/// The whole application: `/v1`, `/mcp`, `/oauth`, platform callbacks, health checks,
/// `/openapi.json` and `/docs`, with the security headers, body limit, timeout and problem+json
/// error shape applied to every route (file transfers get their own limit and timeout).
pub fn build_router(state: AppState) -> Router {
    let (api, mut spec) = openapi::api_router().split_for_parts();
    let (transfers, transfer_spec) = openapi::transfer_router().split_for_parts();
    spec.merge(transfer_spec);
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    // File transfers get a body limit of the largest file (plus form overhead) and a timeout long
    // enough to move it; everything else keeps the small defaults.
    let transfer_limit =
        usize::try_from(state.media.max_file_bytes).unwrap_or(usize::MAX).saturating_add(1 << 20);
    let transfers = transfers
        .merge(routes::media_links::router())
        .layer(DefaultBodyLimit::max(transfer_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.media.transfer_timeout));
    api.merge(routes::docs::router(spec))
        .merge(mcp::router(state.clone()))
        .merge(oauth::router())
        .merge(dashboard::router())
        .merge(routes::platform_callbacks::router())
        .merge(routes::slack_events::router())
        .merge(routes::tiktok_events::router())
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.config.request_timeout))
        .merge(transfers)
        // A panic becomes a 500 (turned into problem+json below), not a dropped connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(middleware::problem_fallback))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::security_headers))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` completes, then drains in-flight requests.
/// The request's span, as tower-http's default makes it (at debug level), except that a media
/// link's token, a credential for its media, is not recorded.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let uri = request.uri();
    let shown =
        if uri.path().starts_with("/media-links/") { "/media-links/…".to_owned() } else { uri.to_string() };
    tracing::debug_span!("request", method = %request.method(), uri = %shown, version = ?request.version())
}

pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
