use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use crier_core::{Scope, Workspace};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiResult, Problem};
use crate::extract::Tenant;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_workspace))
}

/// The workspace an API key belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceOut {
    #[schema(example = "ws_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Workspace> for WorkspaceOut {
    fn from(ws: Workspace) -> Self {
        Self { id: ws.id.to_string(), name: ws.name, created_at: ws.created_at }
    }
}

/// The caller's workspace.
#[utoipa::path(
    get,
    path = "/v1/workspace",
    tag = "workspace",
    security(("api_key" = ["keys:admin"])),
    responses(
        (status = 200, body = WorkspaceOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_workspace(tenant: Tenant, State(state): State<AppState>) -> ApiResult<Json<WorkspaceOut>> {
    tenant.require(Scope::KeysAdmin)?;
    let workspace = state.store.get_workspace(tenant.workspace_id).await?;
    Ok(Json(workspace.into()))
}
