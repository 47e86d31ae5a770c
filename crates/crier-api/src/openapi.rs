use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::routes;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Crier API",
        description = "Publish posts to connected social accounts and inboxes, once and on time. \
                       Authenticate with `Authorization: Bearer crier_live_…`. Errors are \
                       `application/problem+json` (RFC 9457).",
        license(name = "AGPL-3.0-only", identifier = "AGPL-3.0-only"),
    ),
    modifiers(&BearerKeys),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    tags(
        (name = "workspace", description = "The workspace an API key acts in"),
        (name = "api-keys", description = "Create, rotate and revoke API keys"),
        (name = "audit", description = "The workspace's tamper-evident security log"),
        (name = "channels", description = "Where posts go: connected accounts and sandbox channels"),
        (name = "posts", description = "Accept, follow, list and cancel posts"),
        (name = "media", description = "Images and videos for posts: upload, fetch by URL, resumable upload"),
        (name = "webhooks", description = "Signed event deliveries (Standard Webhooks) to your endpoints"),
        (name = "events", description = "The workspace's event log: polling, live stream, and the schema of each type"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct ApiDoc;

struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("crier_live_… or crier_test_…")
                    .description(Some("A workspace API key; each operation lists the scope it needs."))
                    .build(),
            ),
        );
    }
}

pub(crate) fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::health::router())
        .merge(routes::workspace::router())
        .merge(routes::api_keys::router())
        .merge(routes::audit::router())
        .merge(routes::connect::router())
        .merge(routes::channels::router())
        .merge(routes::posts::router())
        .merge(routes::post_targets::router())
        .merge(routes::webhook_endpoints::router())
        .merge(routes::webhook_deliveries::router())
        .merge(routes::events::router())
        .merge(routes::media::router())
}

/// The routes that move file bytes (see `build_router`).
pub(crate) fn transfer_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(routes::media::transfer_router())
}

/// The OpenAPI document, exactly as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut spec = api_router().split_for_parts().1;
    spec.merge(transfer_router().split_for_parts().1);
    spec
}
