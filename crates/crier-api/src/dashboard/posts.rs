//! Posts: the queue, a post's targets, composing (with per-channel text and live checks that are
//! the server's own validation), and cancelling.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use crier_core::{ChannelId, PostId, TargetId};
use serde::Deserialize;

use super::session::{Posted, SignedIn};
use super::{DashError, Nav, render, see_other};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::channels::{ChannelOut, list_channels};
use crate::routes::posts::{
    PostIn, PostListQuery, PostOut, PublishAttemptOut, TargetIn, cancel_post, create_post, get_post,
    list_attempts, list_posts,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(queue))
        .route("/posts/new", get(compose_page))
        .route("/posts", post(compose))
        .route("/posts/check", post(check))
        .route("/posts/{id}", get(detail))
        .route("/posts/{id}/cancel", post(cancel))
        .route("/posts/{id}/targets/{target_id}/retry", post(retry))
        .route("/posts/{id}/targets/{target_id}/delete", post(delete_publication))
}

#[derive(askama::Template)]
#[template(path = "dashboard/posts.html")]
struct QueuePage {
    nav: Option<Nav>,
    posts: Vec<PostOut>,
    status: String,
    next_cursor: Option<String>,
    can_write: bool,
}

#[derive(Deserialize)]
struct QueueQuery {
    status: Option<String>,
    cursor: Option<String>,
}

async fn queue(
    who: SignedIn,
    State(state): State<AppState>,
    Query(query): Query<QueueQuery>,
) -> Result<Response, DashError> {
    let status = query.status.filter(|s| !s.is_empty());
    let list = PostListQuery {
        status: status.clone(),
        channel_id: None,
        cursor: query.cursor,
        due_from: None,
        due_until: None,
        limit: Some(50),
    };
    let Json(page) = list_posts(who.tenant.clone(), State(state), ApiQuery(list)).await?;
    Ok(render(&QueuePage {
        nav: Some(who.nav()),
        posts: page.data,
        status: status.unwrap_or_default(),
        next_cursor: page.next_cursor,
        can_write: who.tenant.scopes.contains(crier_core::Scope::PostsWrite),
    }))
}

#[derive(askama::Template)]
#[template(path = "dashboard/post.html")]
struct DetailPage {
    nav: Option<Nav>,
    post: PostOut,
    /// Every attempt at the post's targets, oldest first.
    attempts: Vec<PublishAttemptOut>,
    /// The channels whose platform can delete a published post.
    deletable: std::collections::HashSet<String>,
    channel_names: HashMap<String, String>,
    can_write: bool,
    notice: Option<String>,
}

impl DetailPage {
    fn channel_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.channel_names.get(id).map_or(id, String::as_str)
    }

    /// Whether this person may ask for the target's post to be deleted from its platform now.
    fn offers_delete(&self, target: &crate::routes::posts::TargetOut) -> bool {
        self.can_write
            && target.status == "published"
            && self.deletable.contains(&target.channel_id)
            && target.deletion.as_ref().is_none_or(|d| d.status == "failed")
    }

    fn attempts_of(&self, target: &str) -> Vec<&PublishAttemptOut> {
        self.attempts.iter().filter(|a| a.target_id == target).collect()
    }

    /// An attempt's outcome, said for people.
    fn said(&self, attempt: &PublishAttemptOut) -> &'static str {
        match attempt.outcome.as_deref() {
            None => "under way",
            Some("published") => "published",
            Some("retry") => "failed; Crier tries again",
            Some("rate_limited") => "the platform asked Crier to wait",
            Some("failed") => "refused by the platform",
            Some("needs_reauth") => "the platform refused the channel's sign-in",
            Some("unknown") => "no clear answer: the outcome is unknown",
            Some(_) => "ended",
        }
    }

    fn next_step(&self, target: &crate::routes::posts::TargetOut) -> &'static str {
        next_step(&target.status, target.error.as_ref().map_or("", |e| e.code.as_str()))
    }
}

/// What a person can do about a target that has not gone out, from its state and error code
/// (the message beside it is the platform's own words).
fn next_step(status: &str, code: &str) -> &'static str {
    match (status, code) {
        ("published" | "cancelled", _) => "",
        (_, "channel_needs_reauth" | "credentials_unavailable" | "no_refresh_token") => {
            "The platform no longer accepts this channel's sign-in. Reconnect the channel on the \
             Channels page, then Retry."
        }
        ("retry_scheduled", "rate_limited") => {
            "The platform asked Crier to slow down. Crier tries again by itself at the time shown as \
             Due; there is nothing to do."
        }
        ("retry_scheduled", _) => {
            "Crier tries again by itself at the time shown as Due; there is nothing to do."
        }
        ("unknown", _) => {
            "Crier could not tell whether the platform published this. Look for it on the platform \
             first; if it is not there, Retry (it may otherwise appear twice)."
        }
        (_, "retries_exhausted" | "platform_unreachable" | "provider_unavailable" | "publish_failed") => {
            "The platform kept failing. Retry later; if it still fails, check the platform's status \
             page."
        }
        (_, "duplicate_content") => {
            "The platform refuses the same text twice. Change the text and make the post again."
        }
        (_, code)
            if code.starts_with("media_")
                || matches!(code, "invalid_media" | "duration_too_long" | "container_failed") =>
        {
            "The platform refused the attached media. Change the file as the message says and make \
             the post again."
        }
        (_, "invalid_channel_config" | "invalid_config") => {
            "The channel's settings do not suit the platform. Disconnect and connect it again with \
             the settings the message names."
        }
        ("failed", _) => {
            "The platform refused this post. Change what the message names and make the post again."
        }
        _ => "",
    }
}

async fn channel_names(who: &SignedIn, state: &AppState) -> Result<HashMap<String, String>, DashError> {
    let Json(channels) = list_channels(who.tenant.clone(), State(state.clone())).await?;
    Ok(channels.data.into_iter().map(|c| (c.id, c.name)).collect())
}

#[derive(Deserialize)]
struct DetailQuery {
    notice: Option<String>,
}

async fn detail(
    who: SignedIn,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<PostId>,
    Query(query): Query<DetailQuery>,
) -> Result<Response, DashError> {
    let Json(post) = get_post(who.tenant.clone(), State(state.clone()), ApiPath(id)).await?;
    let Json(attempts) = list_attempts(who.tenant.clone(), State(state.clone()), ApiPath(id)).await?;
    let notice = match query.notice.as_deref() {
        Some("cancelled") => Some("Every target that had not started was cancelled.".to_owned()),
        Some("retried") => Some("Queued again with a fresh set of attempts.".to_owned()),
        Some("deleting") => {
            Some("Crier is deleting it from the platform; this page says when it is done.".to_owned())
        }
        Some("accepted") => {
            Some("Accepted. Crier publishes it at its time; this page shows each channel.".to_owned())
        }
        _ => None,
    };
    Ok(render(&DetailPage {
        nav: Some(who.nav()),
        channel_names: channel_names(&who, &state).await?,
        can_write: who.tenant.scopes.contains(crier_core::Scope::PostsWrite),
        post,
        attempts: attempts.data,
        deletable: deletable(&who, &state).await?,
        notice,
    }))
}

async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<PostId>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let _cancelled = cancel_post(posted.who.tenant, State(state), ApiPath(id)).await?;
    Ok(see_other(&format!("/posts/{id}?notice=cancelled")))
}

/// The Retry button of a failed or unknown target (`confirm_unknown=on` for an unknown one).
/// The channels whose platform can delete a published post (a button is offered for those).
async fn deletable(who: &SignedIn, state: &AppState) -> Result<std::collections::HashSet<String>, DashError> {
    let channels = state.store.list_channels(who.tenant.workspace_id).await?;
    Ok(channels
        .iter()
        .filter(|c| state.providers.get(&c.provider).is_some_and(|p| p.can_delete(c)))
        .map(|c| c.id.to_string())
        .collect())
}

/// Deletes a published target's post from its platform, through the API's own handler (a
/// worker does it; the page then shows the deletion's state).
async fn delete_publication(
    State(state): State<AppState>,
    ApiPath((id, target)): ApiPath<(PostId, TargetId)>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    if !posted.form.iter().any(|(k, v)| k == "confirm" && v == "on") {
        return Err(DashError::BadForm("tick the box to confirm the deletion".into()));
    }
    let _ = crate::routes::post_targets::delete_publication(
        posted.who.tenant,
        State(state),
        ApiPath((id, target)),
    )
    .await?;
    Ok(see_other(&format!("/posts/{id}?notice=deleting")))
}

async fn retry(
    State(state): State<AppState>,
    ApiPath((id, target)): ApiPath<(PostId, TargetId)>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let confirm_unknown = posted.form.iter().any(|(k, v)| k == "confirm_unknown" && v == "on");
    let tenant = posted.who.tenant;
    tenant.require(crier_core::Scope::PostsWrite)?;
    crate::routes::post_targets::retry(&state, &tenant, id, target, confirm_unknown).await?;
    Ok(see_other(&format!("/posts/{id}?notice=retried")))
}

#[derive(askama::Template)]
#[template(path = "dashboard/compose.html")]
struct ComposePage {
    nav: Option<Nav>,
    channels: Vec<ChannelOut>,
    text: String,
    chosen: Vec<String>,
    overrides: HashMap<String, String>,
    scheduled_local: String,
    idempotency_key: String,
    errors: Vec<String>,
    /// Files already attached (shown again when the form comes back with errors).
    attached: Vec<Attached>,
}

/// An attached file, as the composer lists it.
struct Attached {
    id: String,
    label: String,
}

impl ComposePage {
    fn is_chosen(&self, id: &str) -> bool {
        self.chosen.iter().any(|c| c == id)
    }

    fn override_text(&self, id: &str) -> &str {
        self.overrides.get(id).map_or("", String::as_str)
    }
}

async fn compose_page(who: SignedIn, State(state): State<AppState>) -> Result<Response, DashError> {
    who.require(crier_core::Permission::Scope(crier_core::Scope::PostsWrite))?;
    let Json(channels) = list_channels(who.tenant.clone(), State(state)).await?;
    Ok(render(&ComposePage {
        nav: Some(who.nav()),
        channels: channels.data,
        text: String::new(),
        chosen: Vec::new(),
        overrides: HashMap::new(),
        scheduled_local: String::new(),
        idempotency_key: crate::oauth::new_secret("dash_").0,
        errors: Vec::new(),
        attached: Vec::new(),
    }))
}

/// The compose form: `text`, a `channel` per chosen channel, `text_<channel id>` overrides, the
/// schedule in UTC (`scheduled_at`, filled in from the viewer's time zone by the script) and the
/// local value typed (`scheduled_local`, kept to show the form again), and a `media` id per file
/// the script uploaded, in order.
struct ComposeForm {
    text: String,
    channels: Vec<String>,
    media: Vec<String>,
    overrides: HashMap<String, String>,
    scheduled_at: Option<String>,
    scheduled_local: String,
    idempotency_key: String,
}

impl ComposeForm {
    fn parse(pairs: Vec<(String, String)>) -> Self {
        let mut form = ComposeForm {
            text: String::new(),
            channels: Vec::new(),
            media: Vec::new(),
            overrides: HashMap::new(),
            scheduled_at: None,
            scheduled_local: String::new(),
            idempotency_key: String::new(),
        };
        for (key, value) in pairs {
            match key.as_str() {
                "text" => form.text = value,
                "channel" => form.channels.push(value),
                "media" if !value.trim().is_empty() => form.media.push(value),
                "scheduled_at" if !value.trim().is_empty() => form.scheduled_at = Some(value),
                "scheduled_local" => form.scheduled_local = value,
                "idempotency_key" => form.idempotency_key = value,
                _ => {
                    if let Some(channel) = key.strip_prefix("text_")
                        && !value.trim().is_empty()
                    {
                        form.overrides.insert(channel.to_owned(), value);
                    }
                }
            }
        }
        form
    }

    fn post_in(&self) -> Result<PostIn, String> {
        let scheduled_at = match &self.scheduled_at {
            Some(text) => Some(
                chrono::DateTime::parse_from_rfc3339(text)
                    .map_err(|_| "the schedule time could not be read".to_owned())?
                    .with_timezone(&chrono::Utc),
            ),
            None => None,
        };
        Ok(PostIn {
            text: self.text.clone(),
            targets: self
                .channels
                .iter()
                .map(|id| TargetIn {
                    channel_id: id.clone(),
                    text: self.overrides.get(id).cloned(),
                    options: None,
                })
                .collect(),
            media: self.media.clone(),
            scheduled_at,
        })
    }
}

async fn compose(
    State(state): State<AppState>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let who = posted.who;
    let form = ComposeForm::parse(posted.form);
    let outcome = match form.post_in() {
        Ok(input) => {
            let mut headers = HeaderMap::new();
            // The key rendered with the form: sending it twice (a double click, a reload) makes one post.
            if let Ok(value) = HeaderValue::from_str(&form.idempotency_key) {
                headers.insert("idempotency-key", value);
            }
            create_post(who.tenant.clone(), State(state.clone()), headers, ApiJson(input)).await
        }
        Err(message) => Err(crate::ApiError::field("/scheduled_at", message)),
    };
    match outcome {
        Ok(response) if response.status().is_success() => {
            let id = super::answered_field(response, "id").await.unwrap_or_default();
            Ok(see_other(&format!("/posts/{id}?notice=accepted")))
        }
        Ok(response) => Ok(response),
        Err(err) if err.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let problem = err.problem();
            let mut errors: Vec<String> = problem
                .errors
                .iter()
                .map(|e| format!("{}: {}", describe(&form, &e.pointer), e.detail))
                .collect();
            if errors.is_empty() {
                errors.push(problem.detail);
            }
            let attached = attached(&who, &state, &form.media).await;
            let Json(channels) = list_channels(who.tenant.clone(), State(state)).await?;
            let mut page = render(&ComposePage {
                nav: Some(who.nav()),
                channels: channels.data,
                text: form.text,
                chosen: form.channels,
                overrides: form.overrides,
                scheduled_local: form.scheduled_local,
                idempotency_key: crate::oauth::new_secret("dash_").0,
                errors,
                attached,
            });
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(page)
        }
        Err(err) => Err(err.into()),
    }
}

/// The files of a returned form, named for people (an id that is not this workspace's is dropped,
/// and the error list says so already).
async fn attached(who: &SignedIn, state: &AppState, ids: &[String]) -> Vec<Attached> {
    let mut out = Vec::new();
    for id in ids {
        let Ok(media_id) = id.parse::<crier_core::MediaId>() else { continue };
        let Ok(media) = state.store.get_media(who.tenant.workspace_id, media_id).await else { continue };
        let kind = media.facts.as_ref().map_or("file", |f| f.kind.as_str());
        let name = media.file_name.clone().unwrap_or_else(|| id.clone());
        out.push(Attached { id: id.clone(), label: format!("{name} ({kind})") });
    }
    out
}

/// A field pointer of the API, said for people ("Text for <channel>" rather than /targets/0/text).
fn describe(form: &ComposeForm, pointer: &str) -> String {
    if let Some(rest) = pointer.strip_prefix("/targets/") {
        let index: Option<usize> = rest.split('/').next().and_then(|i| i.parse().ok());
        if let Some(channel) = index.and_then(|i| form.channels.get(i)) {
            return format!("channel {channel}");
        }
    }
    if let Some(index) =
        pointer.strip_prefix("/media/").and_then(|rest| rest.split('/').next()?.parse::<usize>().ok())
    {
        return format!("Media file {}", index + 1);
    }
    match pointer {
        "/text" => "Text".to_owned(),
        "/targets" => "Channels".to_owned(),
        "/scheduled_at" => "Schedule".to_owned(),
        "/media" => "Media".to_owned(),
        other => other.to_owned(),
    }
}

#[derive(Deserialize)]
struct CheckIn {
    #[serde(default)]
    text: String,
    #[serde(default)]
    targets: Vec<CheckTarget>,
}

#[derive(Deserialize)]
struct CheckTarget {
    channel_id: String,
    text: Option<String>,
}

#[derive(serde::Serialize)]
struct CheckOut {
    channel_id: String,
    max: Option<usize>,
    counted_in: Option<&'static str>,
    /// The server's own verdict: the problems accepting this text would report.
    problems: Vec<String>,
}

/// The compose page's live check: each chosen channel's limit and the very validation the post
/// will get (so the counters never disagree with the answer to the post).
async fn check(
    who: SignedIn,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(input): Json<CheckIn>,
) -> Result<Response, DashError> {
    super::session::script_request(&who, &headers)?;
    let channels = state.store.list_channels(who.tenant.workspace_id).await?;
    let mut out = Vec::new();
    for target in input.targets.iter().take(50) {
        let Ok(id) = target.channel_id.parse::<ChannelId>() else { continue };
        let Some(channel) = channels.iter().find(|c| c.id == id) else { continue };
        let Some(provider) = state.providers.get(&channel.provider) else { continue };
        let text = target.text.as_deref().filter(|t| !t.is_empty()).unwrap_or(&input.text);
        let limit = provider.text_limit(channel);
        out.push(CheckOut {
            channel_id: target.channel_id.clone(),
            max: limit.as_ref().map(|l| l.max),
            counted_in: limit.map(|l| l.counted_in),
            problems: provider
                .validate_target(channel, text, &serde_json::Value::Null)
                .into_iter()
                .map(|issue| issue.message)
                .collect(),
        });
    }
    Ok(Json(out).into_response())
}
