//! `/v1/posts/{id}/targets/{target_id}/…`: what can be done to one target after the fact.
//! Retry a failed (or, once confirmed, unknown) target; delete a published one from its platform.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use crier_core::{ChannelStatus, PostId, Scope, StoreError, TargetDeletion, TargetId, TargetRetry};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem, ProblemKind};
use crate::extract::{ApiPath, OptionalJson, Tenant};
use crate::idempotency::{Created, Idempotency};
use crate::routes::posts::PostOut;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(retry_target)).routes(routes!(delete_publication))
}

/// Options of a retry.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryIn {
    /// Required to retry a target whose status is `unknown`: its last attempt was interrupted and
    /// the platform could not say whether it published, so a retry may publish it twice.
    #[serde(default)]
    pub confirm_unknown: bool,
}

fn not_found_target(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("post target"),
        StoreError::Conflict(detail) => ApiError::conflict(detail),
        other => other.into(),
    }
}

/// Retry a target that failed, with a fresh attempt budget. Answers 202 with the post once the
/// target is queued again; publishing follows as for a new post.
///
/// A target in `unknown` (an interrupted attempt the platform could not account for) is retried
/// only with `{"confirm_unknown": true}`, since it may already be published. Any other status is
/// 409. Send an `Idempotency-Key` to make retries of this request safe.
#[utoipa::path(
    post,
    path = "/v1/posts/{id}/targets/{target_id}/retry",
    tag = "posts",
    security(("api_key" = ["posts:write"])),
    params(
        ("id" = String, Path, description = "The post's id (`post_…`)"),
        ("target_id" = String, Path, description = "The target's id (`tgt_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key, same answer"),
    ),
    request_body(content = Option<RetryIn>, description = "Optional; an empty body retries a failed target"),
    responses(
        (status = 202, body = PostOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retry_target(
    tenant: Tenant,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((post_id, target_id)): ApiPath<(PostId, TargetId)>,
    OptionalJson(input): OptionalJson<RetryIn>,
) -> ApiResult<Response> {
    tenant.require(Scope::PostsWrite)?;
    let input = input.unwrap_or_default();
    let path = format!("/v1/posts/{post_id}/targets/{target_id}/retry");
    let idempotency = Idempotency::from_request(&headers, &Method::POST, &path, &input)?;
    idempotency
        .run(&state, &tenant, |_key| async {
            let post = retry(&state, &tenant, post_id, target_id, input.confirm_unknown).await?;
            Ok(Created::json(StatusCode::ACCEPTED, &PostOut::from(post)))
        })
        .await
}

/// Requeues the target (shared by the API, MCP and the dashboard).
pub async fn retry(
    state: &AppState,
    tenant: &Tenant,
    post_id: PostId,
    target_id: TargetId,
    confirm_unknown: bool,
) -> ApiResult<crier_core::Post> {
    let post = state.store.get_post(tenant.workspace_id, post_id).await.map_err(not_found_target)?;
    let target =
        post.targets.iter().find(|t| t.id == target_id).ok_or_else(|| ApiError::not_found("post target"))?;
    let channel = state.store.get_channel(tenant.workspace_id, target.channel_id).await?;
    if channel.status == ChannelStatus::NeedsReauth {
        return Err(ApiError::conflict("the channel must be reconnected before this target can be retried"));
    }
    let now = state.clock.now();
    // A channel paused by a platform rate limit gets nothing before the pause ends.
    let run_at = channel.paused_until.map_or(now, |until| until.max(now));
    let retry = TargetRetry { post_id, target_id, confirm_unknown, at: now, run_at };
    let audit = tenant.audit(now, "post.target.retried", target_id.to_string());
    state.store.retry_target(tenant.workspace_id, &retry, &audit).await.map_err(not_found_target)
}

/// Where removing a published post from its platform stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionOut {
    /// `pending` (queued, or retried after a temporary failure), `deleted`, or `failed` (it may be
    /// asked for again).
    #[schema(example = "pending")]
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The last attempt's error.
    pub error: Option<crate::routes::posts::TargetError>,
}

impl From<TargetDeletion> for DeletionOut {
    fn from(d: TargetDeletion) -> Self {
        Self {
            status: d.status.as_str().to_owned(),
            requested_at: d.requested_at,
            deleted_at: d.deleted_at,
            error: d.error_code.map(|code| crate::routes::posts::TargetError {
                code,
                message: d.error_message.unwrap_or_default(),
            }),
        }
    }
}

/// Delete a published target's post from its platform. Answers 202 with the post (the target's
/// `deletion.status` is `pending`); a worker deletes it with the channel's credentials, retrying
/// temporary failures, and the target's `deletion` then says `deleted` (event
/// `post.target.deleted`) or `failed` (`post.target.deletion_failed`). The target keeps its
/// `published` status and history.
///
/// 422 for a platform Crier cannot delete on; 409 unless the target is published and not already
/// deleted or being deleted (a failed deletion may be asked for again).
#[utoipa::path(
    delete,
    path = "/v1/posts/{id}/targets/{target_id}/publication",
    tag = "posts",
    security(("api_key" = ["posts:write"])),
    params(
        ("id" = String, Path, description = "The post's id (`post_…`)"),
        ("target_id" = String, Path, description = "The target's id (`tgt_…`)"),
    ),
    responses(
        (status = 202, body = PostOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_publication(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath((post_id, target_id)): ApiPath<(PostId, TargetId)>,
) -> ApiResult<(StatusCode, axum::Json<PostOut>)> {
    tenant.require(Scope::PostsWrite)?;
    let post = state.store.get_post(tenant.workspace_id, post_id).await.map_err(not_found_target)?;
    let target =
        post.targets.iter().find(|t| t.id == target_id).ok_or_else(|| ApiError::not_found("post target"))?;
    let channel = state.store.get_channel(tenant.workspace_id, target.channel_id).await?;
    let can = state.providers.get(&channel.provider).is_some_and(|p| p.can_delete(&channel));
    if !can {
        return Err(ApiError::new(
            ProblemKind::ValidationFailed,
            format!(
                "Crier cannot delete posts on {}: the platform has no deletion (see docs/PROVIDERS.md)",
                channel.provider
            ),
        ));
    }
    let now = state.clock.now();
    let audit = tenant.audit(now, "post.target.deletion_requested", target_id.to_string());
    let post = state
        .store
        .request_deletion(tenant.workspace_id, post_id, target_id, now, &audit)
        .await
        .map_err(not_found_target)?;
    Ok((StatusCode::ACCEPTED, axum::Json(post.into())))
}
