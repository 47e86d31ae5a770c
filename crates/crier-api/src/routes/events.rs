//! `/v1/events`: the workspace's event log, for polling (cursor paged) and as a live
//! Server-Sent Events stream that resumes from `Last-Event-ID`; `/v1/event-types` documents
//! each type's `data` as a JSON schema.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use crier_core::{Event, Scope, Store, WorkspaceId, event_types};
use futures::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiQuery, Tenant, page_limit};
use crate::state::AppState;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;
/// How often an idle stream looks for new events.
const STREAM_POLL: Duration = Duration::from_millis(250);
const STREAM_BATCH: i64 = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(stream_events))
        .routes(routes!(list_event_types))
}

/// One event. `data`'s shape per type is in `GET /v1/event-types`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Position in the workspace's log, from 1 without gaps; also the SSE event id.
    pub seq: i64,
    #[serde(rename = "type")]
    #[schema(example = "post.published")]
    pub kind: String,
    /// The id of what the event is about.
    pub subject: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<Event> for EventOut {
    fn from(e: Event) -> Self {
        Self { seq: e.seq, kind: e.kind, subject: e.subject, data: e.data, created_at: e.created_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub data: Vec<EventOut>,
    /// Pass as `cursor` to read on; present even on the last page, so polling can resume.
    pub next_cursor: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// `next_cursor` of the previous page (an event's `seq`); omit to start at the beginning.
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Start after this `seq` (the `Last-Event-ID` header, when sent, takes precedence).
    pub after: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeOut {
    pub name: String,
    pub description: String,
    /// JSON Schema (2020-12) of the event's `data`.
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeListOut {
    pub data: Vec<EventTypeOut>,
}

fn seq(text: &str, what: &str) -> ApiResult<i64> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|seq| *seq >= 0)
        .ok_or_else(|| ApiError::invalid(format!("{what} is not an event seq")))
}

/// List events in order, from the beginning or after a cursor.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    security(("api_key" = ["events:read"])),
    params(EventQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_events(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> ApiResult<Json<EventPage>> {
    tenant.require(Scope::EventsRead)?;
    let limit = page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = query.cursor.as_deref().map(|c| seq(c, "cursor")).transpose()?.unwrap_or(0);
    let events = state.store.list_events(tenant.workspace_id, after, limit).await?;
    let next_cursor = events.last().map_or(after, |e| e.seq).to_string();
    Ok(Json(EventPage { data: events.into_iter().map(Into::into).collect(), next_cursor }))
}

/// Stream events as Server-Sent Events (`id` = seq, `event` = type, `data` = the event as in
/// `GET /v1/events`). Reconnect with `Last-Event-ID` to resume without gaps or repeats.
#[utoipa::path(
    get,
    path = "/v1/events/stream",
    tag = "events",
    security(("api_key" = ["events:read"])),
    params(StreamQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses(
        (status = 200, content_type = "text/event-stream", body = String),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stream_events(
    tenant: Tenant,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    tenant.require(Scope::EventsRead)?;
    let after = match headers.get("last-event-id") {
        Some(value) => {
            seq(value.to_str().map_err(|_| ApiError::invalid("Last-Event-ID is not text"))?, "Last-Event-ID")?
        }
        None => query.after.as_deref().map(|a| seq(a, "after")).transpose()?.unwrap_or(0),
    };
    let cursor =
        Cursor { store: state.store.clone(), workspace: tenant.workspace_id, after, ready: VecDeque::new() };
    let stream = futures::stream::unfold(cursor, |mut cursor| async move {
        let event = cursor.next().await?;
        let data = serde_json::to_string(&EventOut::from(event.clone())).unwrap_or_default();
        let sse = SseEvent::default().id(event.seq.to_string()).event(event.kind).data(data);
        Some((Ok(sse), cursor))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Where a stream is in the log.
struct Cursor {
    store: Arc<dyn Store>,
    workspace: WorkspaceId,
    after: i64,
    ready: VecDeque<Event>,
}

impl Cursor {
    /// The next event, waiting for one if needed; None ends the stream (a storage failure: the
    /// client reconnects with `Last-Event-ID` and loses nothing).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                self.after = event.seq;
                return Some(event);
            }
            match self.store.list_events(self.workspace, self.after, STREAM_BATCH).await {
                Ok(events) if events.is_empty() => tokio::time::sleep(STREAM_POLL).await,
                Ok(events) => self.ready.extend(events),
                Err(err) => {
                    tracing::warn!(error = %err, "event stream ended: cannot read events");
                    return None;
                }
            }
        }
    }
}

/// Every event type with the JSON schema of its `data`.
#[utoipa::path(
    get,
    path = "/v1/event-types",
    tag = "events",
    security(("api_key" = [])),
    responses((status = 200, body = EventTypeListOut), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
pub async fn list_event_types(_tenant: Tenant) -> Json<EventTypeListOut> {
    Json(EventTypeListOut {
        data: event_types::EVENT_TYPES
            .iter()
            .map(|t| EventTypeOut {
                name: t.name.to_owned(),
                description: t.description.to_owned(),
                schema: (t.schema)(),
            })
            .collect(),
    })
}
