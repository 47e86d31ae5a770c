//! `/v1/posts`: accept a post for one or more channels (validated against each platform's limits
//! before anything is stored), follow it, list, cancel.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use crier_core::{
    Channel, ChannelId, ChannelStatus, MediaFacts, MediaId, MediaStatus, Post, PostId, PostQuery, PostTarget,
    Scope, StoreError, TargetId, TargetStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Tenant, page_limit};
use crate::idempotency::{Created, Idempotency};
use crate::state::AppState;

const MAX_TARGETS: usize = 50;
const MAX_MEDIA: usize = 10;
const MAX_TEXT_BYTES: usize = 64 * 1024;
/// A schedule this far in the past is taken as "now" (clock skew), further is a mistake.
const PAST_TOLERANCE_MINUTES: i64 = 5;
const MAX_SCHEDULE_DAYS: i64 = 366;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_posts, create_post))
        .routes(routes!(get_post, cancel_post))
        .routes(routes!(list_attempts))
}

#[derive(Debug, Deserialize, Serialize, ToSchema, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetIn {
    #[schema(example = "chan_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub channel_id: String,
    /// This channel's text, instead of the post's.
    pub text: Option<String>,
    /// Provider-specific options.
    #[schema(value_type = Option<Object>)]
    pub options: Option<serde_json::Value>,
}

/// A post to publish.
#[derive(Debug, Deserialize, Serialize, ToSchema, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostIn {
    #[serde(default)]
    pub text: String,
    pub targets: Vec<TargetIn>,
    /// Ready media ids (`med_…`, see `/v1/media`), in the order the post shows them. Each target's
    /// platform rules (count, kinds, size, dimensions, aspect ratio, duration) are checked now.
    #[serde(default)]
    pub media: Vec<String>,
    /// When to publish (RFC 3339); omit to publish now.
    pub scheduled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetOut {
    #[schema(example = "tgt_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub id: String,
    pub channel_id: String,
    /// scheduled, queued, publishing, published, retry_scheduled, failed, cancelled or unknown.
    #[schema(example = "queued")]
    pub status: String,
    pub text: Option<String>,
    pub attempts: i32,
    /// When it is due (or next retried).
    pub run_at: DateTime<Utc>,
    pub provider_post_id: Option<String>,
    pub url: Option<String>,
    pub error: Option<TargetError>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    /// Removing the published post from its platform, once asked for
    /// (`DELETE /v1/posts/{id}/targets/{target_id}/publication`).
    pub deletion: Option<crate::routes::post_targets::DeletionOut>,
}

impl From<PostTarget> for TargetOut {
    fn from(t: PostTarget) -> Self {
        Self {
            id: t.id.to_string(),
            channel_id: t.channel_id.to_string(),
            status: t.status.as_str().to_owned(),
            text: t.text,
            attempts: t.attempts,
            run_at: t.run_at,
            provider_post_id: t.provider_post_id,
            url: t.url,
            error: t
                .error_code
                .map(|code| TargetError { code, message: t.error_message.unwrap_or_default() }),
            created_at: t.created_at,
            updated_at: t.updated_at,
            published_at: t.published_at,
            deletion: t.deletion.map(Into::into),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostOut {
    #[schema(example = "post_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub id: String,
    /// `scheduled`, `queued`, `publishing`, `published` (all targets), `partially_published`,
    /// `failed`, `cancelled` or `unknown`, summarising the targets.
    pub status: String,
    pub text: String,
    /// Media ids, in order.
    pub media: Vec<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub targets: Vec<TargetOut>,
}

/// One word for a post from its targets' states.
fn summary(targets: &[PostTarget]) -> &'static str {
    let all = |s: TargetStatus| targets.iter().all(|t| t.status == s);
    let any = |s: TargetStatus| targets.iter().any(|t| t.status == s);
    if all(TargetStatus::Published) {
        "published"
    } else if all(TargetStatus::Cancelled) {
        "cancelled"
    } else if all(TargetStatus::Scheduled) {
        "scheduled"
    } else if targets.iter().all(|t| t.status.is_final()) {
        if any(TargetStatus::Published) {
            "partially_published"
        } else if any(TargetStatus::Unknown) {
            "unknown"
        } else {
            "failed"
        }
    } else if any(TargetStatus::Publishing) || any(TargetStatus::Published) {
        "publishing"
    } else {
        "queued"
    }
}

impl From<Post> for PostOut {
    fn from(p: Post) -> Self {
        Self {
            id: p.id.to_string(),
            status: summary(&p.targets).to_owned(),
            text: p.text,
            media: p.media.iter().map(ToString::to_string).collect(),
            scheduled_at: p.scheduled_at,
            created_at: p.created_at,
            targets: p.targets.into_iter().map(Into::into).collect(),
        }
    }
}

/// The post's media: each must exist in the workspace and be ready, listed once. Returns the ids
/// and what each file is, in the post's order.
async fn post_media(
    state: &AppState,
    tenant: &Tenant,
    raw: &[String],
    errors: &mut Vec<FieldError>,
) -> ApiResult<(Vec<MediaId>, Vec<MediaFacts>)> {
    if raw.len() > MAX_MEDIA {
        errors.push(FieldError::new("/media", format!("at most {MAX_MEDIA} media on a post")));
        return Ok((Vec::new(), Vec::new()));
    }
    let mut ids = Vec::with_capacity(raw.len());
    for (i, text) in raw.iter().enumerate() {
        match text.parse::<MediaId>() {
            Ok(id) if ids.contains(&id) => {
                errors.push(FieldError::new(format!("/media/{i}"), "listed twice"))
            }
            Ok(id) => ids.push(id),
            Err(_) => errors.push(FieldError::new(format!("/media/{i}"), "no such media in this workspace")),
        }
    }
    let found = state.store.media_by_ids(tenant.workspace_id, &ids).await?;
    let mut facts = Vec::with_capacity(ids.len());
    for (i, id) in raw.iter().enumerate() {
        let Some(media) = found.iter().find(|m| m.id.to_string() == *id) else {
            if id.parse::<MediaId>().is_ok() && !errors.iter().any(|e| e.pointer == format!("/media/{i}")) {
                errors.push(FieldError::new(format!("/media/{i}"), "no such media in this workspace"));
            }
            continue;
        };
        match &media.facts {
            Some(f) if media.status == MediaStatus::Ready => facts.push(f.clone()),
            _ => errors.push(FieldError::new(format!("/media/{i}"), "the upload is not complete yet")),
        }
    }
    Ok((ids, facts))
}

/// Validates the whole post against every target's provider, collecting every problem.
async fn build_post(state: &AppState, tenant: &Tenant, input: &PostIn) -> ApiResult<Post> {
    let now = state.clock.now();
    let mut errors = Vec::new();
    if input.targets.is_empty() || input.targets.len() > MAX_TARGETS {
        errors.push(FieldError::new("/targets", format!("give 1 to {MAX_TARGETS} targets")));
    }
    let (media_ids, media) = post_media(state, tenant, &input.media, &mut errors).await?;
    if input.text.len() > MAX_TEXT_BYTES {
        errors.push(FieldError::new("/text", "too long"));
    }
    let run_at = match input.scheduled_at {
        Some(at) if at < now - Duration::minutes(PAST_TOLERANCE_MINUTES) => {
            errors.push(FieldError::new("/scheduled_at", "is in the past"));
            now
        }
        Some(at) if at > now + Duration::days(MAX_SCHEDULE_DAYS) => {
            errors.push(FieldError::new("/scheduled_at", "is more than a year away"));
            now
        }
        Some(at) => at.trunc_subsecs(6).max(now),
        None => now,
    };
    let status = if run_at > now { TargetStatus::Scheduled } else { TargetStatus::Queued };
    let post_id = PostId::generate();
    // One read for every target's channel, not one per target (ids that do not parse are
    // reported below).
    let named: Vec<ChannelId> = input.targets.iter().filter_map(|t| t.channel_id.parse().ok()).collect();
    let channels: HashMap<ChannelId, Channel> = state
        .store
        .channels_by_ids(tenant.workspace_id, &named)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut seen = HashSet::new();
    let mut targets = Vec::new();
    for (i, target) in input.targets.iter().enumerate() {
        let at = |field: &str| format!("/targets/{i}{field}");
        let Ok(channel_id) = target.channel_id.parse::<ChannelId>() else {
            errors.push(FieldError::new(at("/channel_id"), "no such channel in this workspace"));
            continue;
        };
        if !seen.insert(channel_id) {
            errors.push(FieldError::new(at("/channel_id"), "this channel is already a target of the post"));
            continue;
        }
        let Some(channel) = channels.get(&channel_id) else {
            errors.push(FieldError::new(at("/channel_id"), "no such channel in this workspace"));
            continue;
        };
        if channel.status == ChannelStatus::NeedsReauth {
            errors.push(FieldError::new(at("/channel_id"), "the channel must be reconnected before posting"));
        }
        let options = target.options.clone().unwrap_or(serde_json::Value::Null);
        let text = target.text.as_deref().unwrap_or(&input.text);
        match state.providers.get(&channel.provider) {
            None => {
                errors.push(FieldError::new(at("/channel_id"), "this Crier has no provider for the channel"))
            }
            Some(provider) => {
                for issue in provider.media_rules(channel).check(&media) {
                    errors.push(FieldError::new(
                        issue.pointer,
                        format!("target {i} ({channel_id}, {}): {}", channel.provider, issue.message),
                    ));
                }
                for issue in provider.validate_with_media(channel, &options, &media) {
                    errors.push(FieldError::new(
                        at(&issue.pointer),
                        format!("target {i} ({channel_id}): {}", issue.message),
                    ));
                }
                for issue in provider.validate_target(channel, text, &options) {
                    // A problem with the shared text is reported at /text, naming the target.
                    let pointer = if issue.pointer == "/text" && target.text.is_none() {
                        "/text".to_owned()
                    } else {
                        at(&issue.pointer)
                    };
                    errors.push(FieldError::new(
                        pointer,
                        format!("target {i} ({channel_id}): {}", issue.message),
                    ));
                }
                if let Some(cap) = provider.daily_cap(channel) {
                    let since = now - Duration::hours(24);
                    let used =
                        state.store.count_targets_since(tenant.workspace_id, channel_id, since).await?;
                    if used >= i64::from(cap) {
                        errors.push(FieldError::new(
                            at("/channel_id"),
                            format!(
                                "target {i} ({channel_id}, {}): the platform allows {cap} posts a day on this \
                                 account, and {used} were accepted in the last 24 hours",
                                channel.provider
                            ),
                        ));
                    }
                }
            }
        }
        // A channel paused by a platform rate limit gets nothing before the pause ends.
        let target_run_at = channel.paused_until.map_or(run_at, |until| until.max(run_at));
        targets.push(PostTarget {
            workspace_id: tenant.workspace_id,
            id: TargetId::generate(),
            post_id,
            channel_id,
            text: target.text.clone(),
            options,
            status,
            run_at: target_run_at,
            attempts: 0,
            lease_owner: None,
            lease_expires_at: None,
            provider_post_id: None,
            url: None,
            error_code: None,
            error_message: None,
            created_at: now,
            updated_at: now,
            published_at: None,
            deletion: None,
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(Post {
        workspace_id: tenant.workspace_id,
        id: post_id,
        text: input.text.clone(),
        media: media_ids,
        scheduled_at: input.scheduled_at.map(|_| run_at),
        created_at: now,
        targets,
    })
}

/// Accept a post. Answers 202 once the post, its targets and their queue jobs are stored
/// together; publishing follows. Send an `Idempotency-Key` to make retries safe.
#[utoipa::path(
    post,
    path = "/v1/posts",
    tag = "posts",
    security(("api_key" = ["posts:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key, same answer")),
    request_body = PostIn,
    responses(
        (status = 202, body = PostOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_post(
    tenant: Tenant,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<PostIn>,
) -> ApiResult<Response> {
    tenant.require(Scope::PostsWrite)?;
    let idempotency = Idempotency::from_request(&headers, &Method::POST, "/v1/posts", &input)?;
    idempotency
        .run(&state, &tenant, |key| async {
            let post = build_post(&state, &tenant, &input).await?;
            let mut created = Created::json(StatusCode::ACCEPTED, &PostOut::from(post.clone()));
            let response = created.response_for(&tenant, key);
            state.store.create_post(&post, response.as_ref()).await.map_err(|err| match err {
                // A channel deleted between validation and storage.
                StoreError::NotFound => ApiError::field("/targets", "a target channel no longer exists"),
                // A media deleted between validation and storage.
                StoreError::Conflict(detail) if detail.starts_with("media ") => {
                    ApiError::field("/media", detail)
                }
                other => other.into(),
            })?;
            created.stored = true;
            Ok(created)
        })
        .await
}

fn not_found_post(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("post"),
        other => other.into(),
    }
}

/// Show a post and each target's state.
#[utoipa::path(
    get,
    path = "/v1/posts/{id}",
    tag = "posts",
    security(("api_key" = ["posts:read"])),
    params(("id" = String, Path, description = "The post's id (`post_…`)")),
    responses((status = 200, body = PostOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_post(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<PostId>,
) -> ApiResult<Json<PostOut>> {
    tenant.require(Scope::PostsRead)?;
    Ok(Json(state.store.get_post(tenant.workspace_id, id).await.map_err(not_found_post)?.into()))
}

/// One try at publishing a target.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishAttemptOut {
    #[schema(example = "att_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub id: String,
    pub target_id: String,
    pub started_at: DateTime<Utc>,
    /// Absent while the attempt is under way.
    pub finished_at: Option<DateTime<Utc>>,
    /// `published`, `retry`, `rate_limited`, `failed`, `needs_reauth` or `unknown`; absent while
    /// under way.
    pub outcome: Option<String>,
    pub error: Option<TargetError>,
}

impl From<crier_core::PublishAttempt> for PublishAttemptOut {
    fn from(a: crier_core::PublishAttempt) -> Self {
        let error = match (a.error_code, a.error_message) {
            (Some(code), message) => Some(TargetError { code, message: message.unwrap_or_default() }),
            (None, _) => None,
        };
        Self {
            id: a.id.to_string(),
            target_id: a.target_id.to_string(),
            started_at: a.started_at,
            finished_at: a.finished_at,
            outcome: a.outcome,
            error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishAttemptListOut {
    /// Oldest first.
    pub data: Vec<PublishAttemptOut>,
}

/// A post's timeline: every attempt at each of its targets, oldest first.
#[utoipa::path(
    get,
    path = "/v1/posts/{id}/attempts",
    tag = "posts",
    security(("api_key" = ["posts:read"])),
    params(("id" = String, Path, description = "The post's id (`post_…`)")),
    responses((status = 200, body = PublishAttemptListOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn list_attempts(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<PostId>,
) -> ApiResult<Json<PublishAttemptListOut>> {
    tenant.require(Scope::PostsRead)?;
    // 404 for a post that is not this workspace's, rather than an empty list.
    state.store.get_post(tenant.workspace_id, id).await.map_err(not_found_post)?;
    let attempts = state.store.list_attempts(tenant.workspace_id, id).await?;
    Ok(Json(PublishAttemptListOut { data: attempts.into_iter().map(Into::into).collect() }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PostListQuery {
    /// Only posts with a target in this state.
    pub status: Option<String>,
    /// Only posts with a target on this channel.
    pub channel_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only posts due (scheduled for, or created at when not scheduled) at or after this time
    /// (RFC 3339).
    pub due_from: Option<DateTime<Utc>>,
    /// Only posts due before this time (RFC 3339).
    pub due_until: Option<DateTime<Utc>>,
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostListOut {
    pub data: Vec<PostOut>,
    pub next_cursor: Option<String>,
}

/// List posts, newest first.
#[utoipa::path(
    get,
    path = "/v1/posts",
    tag = "posts",
    security(("api_key" = ["posts:read"])),
    params(PostListQuery),
    responses((status = 200, body = PostListOut), (status = 400, body = Problem, content_type = "application/problem+json"))
)]
pub async fn list_posts(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PostListQuery>,
) -> ApiResult<Json<PostListOut>> {
    tenant.require(Scope::PostsRead)?;
    let limit = page_limit(query.limit, 20, 100)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => {
            Some(TargetStatus::from_db(s).ok_or_else(|| ApiError::invalid(format!("unknown status {s:?}")))?)
        }
    };
    let channel = match query.channel_id.as_deref() {
        None => None,
        Some(c) => {
            Some(c.parse::<ChannelId>().map_err(|_| ApiError::invalid("channel_id is not a channel id"))?)
        }
    };
    if let (Some(from), Some(until)) = (query.due_from, query.due_until)
        && from >= until
    {
        return Err(ApiError::invalid("due_from must be before due_until"));
    }
    let before = match query.cursor.as_deref() {
        None => None,
        Some(c) => {
            Some(c.parse::<PostId>().map_err(|_| ApiError::invalid("cursor is not one this API returned"))?)
        }
    };
    let mut posts = state
        .store
        .list_posts(
            tenant.workspace_id,
            &PostQuery {
                status,
                channel,
                before,
                due_from: query.due_from,
                due_until: query.due_until,
                limit: limit + 1,
            },
        )
        .await?;
    let more = posts.len() as i64 > limit;
    posts.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more { posts.last().map(|p| p.id.to_string()) } else { None };
    Ok(Json(PostListOut { data: posts.into_iter().map(Into::into).collect(), next_cursor }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CancelOut {
    pub post: PostOut,
    /// Targets stopped by this request.
    pub cancelled: Vec<String>,
    /// Targets already publishing or finished, which could not be cancelled.
    pub not_cancelled: Vec<String>,
}

/// Cancel a post: stops every target that has not started, and says which could not be stopped.
#[utoipa::path(
    delete,
    path = "/v1/posts/{id}",
    tag = "posts",
    security(("api_key" = ["posts:write"])),
    params(("id" = String, Path, description = "The post's id (`post_…`)")),
    responses((status = 200, body = CancelOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn cancel_post(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<PostId>,
) -> ApiResult<Json<CancelOut>> {
    tenant.require(Scope::PostsWrite)?;
    let result =
        state.store.cancel_post(tenant.workspace_id, id, state.clock.now()).await.map_err(not_found_post)?;
    Ok(Json(CancelOut {
        post: result.post.into(),
        cancelled: result.cancelled.iter().map(ToString::to_string).collect(),
        not_cancelled: result.not_cancelled.iter().map(ToString::to_string).collect(),
    }))
}
