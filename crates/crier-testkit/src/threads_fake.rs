//! An in-process fake Threads API for tests: axum on 127.0.0.1, following Meta's documented shapes
//! closely enough to drive a real client:
//!
//! - the consent page (`GET /oauth/authorize`, answered at once as if the user agreed) and
//!   `POST /oauth/access_token` (form: client_id, client_secret, grant_type, redirect_uri, code;
//!   answers `{access_token, user_id}`), developers.facebook.com/docs/threads/get-started/get-access-tokens-and-permissions;
//! - `GET /access_token?grant_type=th_exchange_token` and
//!   `GET /refresh_access_token?grant_type=th_refresh_token` (answers `{access_token, token_type,
//!   expires_in}`; a token under a day old is not refreshed),
//!   developers.facebook.com/docs/threads/get-started/long-lived-tokens;
//! - `GET /v1.0/me`, `POST /v1.0/{user-id}/threads` (form: media_type, text, reply_to_id;
//!   `IMAGE` + `image_url` or `VIDEO` + `video_url`, each required with its type, fetched over
//!   HTTP as Meta does, a failed fetch answering 100 / 2207052; `is_carousel_item`;
//!   `CAROUSEL` + `children`: 2 to 20 distinct item containers, each already read `FINISHED` and
//!   in no other carousel, developers.facebook.com/docs/threads/posts#carousel-posts),
//!   `GET /v1.0/{container-id}?fields=status,error_message` (`IN_PROGRESS` on the first read, two
//!   for a video, then `FINISHED`; a video that is not MP4 or MOV ends `ERROR` with
//!   `FAILED_PROCESSING_VIDEO`),
//!   `POST /v1.0/{user-id}/threads_publish` (form: creation_id), `GET /v1.0/{media-id}?fields=permalink`,
//!   developers.facebook.com/docs/threads/posts;
//! - `DELETE /v1.0/{media-id}` (`{"success": true, "deleted_id"}`; 100 / 33 for a post not there,
//!   10 without the `threads_delete` permission),
//!   developers.facebook.com/docs/threads/posts/delete-posts;
//! - `GET /v1.0/{user-id}/threads_publishing_limit` (`{"data": [{"quota_usage", "config":
//!   {"quota_total": 250, "quota_duration": 86400}, "reply_quota_usage", "reply_config"}]}`),
//!   developers.facebook.com/docs/threads/troubleshooting#retrieve-publishing-quota-limit.
//!
//! Errors are Graph's `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`
//! with HTTP 400: 190 for a bad or expired token, 4 when the app is rate limited, 100 for a text
//! over 500 (emoji counted by their UTF-8 bytes) and for an unknown `reply_to_id`.
//!
//! Where it is a fake: one app ([`APP_ID`], [`APP_SECRET`]), one user ([`USER_ID`]); the consent
//! page and the API share one base URL.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::fixtures;

pub const APP_ID: &str = "990011223344556";
pub const APP_SECRET: &str = "threads-test-secret";
pub const USER_ID: &str = "25000000000000001";
pub const USERNAME: &str = "crier.bakery";
pub const LONG_LIVED: i64 = 5_184_000;
pub const QUOTA_TOTAL: u64 = 250;

#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: String,
    pub text: String,
    pub reply_to_id: Option<String>,
    /// The fetched files (content type, bytes), a carousel's in order.
    pub media: Vec<(String, Vec<u8>)>,
    /// How each file was sent (`IMAGE` or `VIDEO`), in the same order.
    pub media_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
}

struct Container {
    text: String,
    reply_to_id: Option<String>,
    media: Vec<(String, Vec<u8>)>,
    media_types: Vec<String>,
    carousel_item: bool,
    reads: usize,
    /// The read from which it is `FINISHED` (a video takes longer than an image).
    finished_at: usize,
    /// Why processing failed (`ERROR`), as Threads' `error_message` names it.
    error: Option<&'static str>,
    /// Named by a carousel container already.
    in_carousel: bool,
    published: bool,
}

impl Container {
    fn finished(&self) -> bool {
        self.error.is_none() && self.reads >= self.finished_at
    }
}

struct Inner {
    codes: HashMap<String, String>,
    /// Token → (long-lived, issued at).
    tokens: HashMap<String, (bool, i64)>,
    expired: Vec<String>,
    containers: HashMap<String, Container>,
    posts: Vec<Post>,
    /// The ids of the posts deleted, in order.
    deleted: Vec<String>,
    /// Whether the consent granted `threads_delete`.
    delete_granted: bool,
    /// Consents leave `threads_delete` out whatever is asked (a channel connected before Crier
    /// asked for it).
    withhold_delete: bool,
    quota_usage: u64,
    rate_limited: usize,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;
type St = State<Arc<Shared>>;

pub struct ThreadsFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl ThreadsFake {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            codes: HashMap::new(),
            tokens: HashMap::new(),
            expired: Vec::new(),
            containers: HashMap::new(),
            posts: Vec::new(),
            deleted: Vec::new(),
            delete_granted: false,
            withhold_delete: false,
            quota_usage: 0,
            rate_limited: 0,
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/access_token", post(code_exchange))
            .route("/access_token", get(long_lived))
            .route("/refresh_access_token", get(refresh))
            .route("/v1.0/me", get(me))
            .route("/v1.0/{id}", get(object).delete(delete_post))
            .route("/v1.0/{id}/threads", post(create_container))
            .route("/v1.0/{id}/threads_publish", post(publish))
            .route("/v1.0/{id}/threads_publishing_limit", get(limit))
            .layer(middleware::from_fn_with_state(shared.clone(), guard))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`: `graph.threads.net`'s and `threads.net`'s stand-in.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn posts(&self) -> Vec<Post> {
        self.shared.lock().posts.clone()
    }

    /// From now on consents grant no `threads_delete` (as for a channel connected before Crier
    /// asked for it); deletions then answer code 10.
    pub fn withhold_delete_permission(&self) {
        self.shared.lock().withhold_delete = true;
    }

    /// The ids of the posts deleted, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.shared.lock().deleted.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Posts already made in the rolling 24 hours.
    pub fn set_quota_usage(&self, used: u64) {
        self.shared.lock().quota_usage = used;
    }

    pub fn rate_limit_next(&self, n: usize) {
        self.shared.lock().rate_limited = n;
    }

    /// Every token issued so far has expired.
    pub fn expire_tokens(&self) {
        let mut inner = self.shared.lock();
        let all: Vec<String> = inner.tokens.keys().cloned().collect();
        inner.expired.extend(all);
    }

    /// Every token was issued `secs` earlier than it was (to pass the one-day refresh rule).
    pub fn age_tokens(&self, secs: i64) {
        for (_, issued) in self.shared.lock().tokens.values_mut() {
            *issued -= secs;
        }
    }
}

impl Drop for ThreadsFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>()))
}

fn graph_error(code: i64, subcode: Option<i64>, message: &str) -> Response {
    let mut error =
        json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AthreadsTrace"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error}))).into_response()
}

fn query_or_bearer(request: &Request) -> String {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    bearer.unwrap_or_else(|| {
        url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    })
}

/// Records every request; on `/v1.0/` calls rate-limits and checks the (long-lived) token.
async fn guard(State(shared): St, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let refused = if path.starts_with("/v1.0/") {
        let token = query_or_bearer(&request);
        let mut inner = shared.lock();
        if inner.rate_limited > 0 {
            inner.rate_limited -= 1;
            Some(fixtures::respond("threads/rate_limited", &[]))
        } else if inner.expired.contains(&token) {
            Some(fixtures::respond("threads/expired_token", &[]))
        } else if !matches!(inner.tokens.get(&token), Some((true, _))) {
            Some(fixtures::respond("threads/invalid_token", &[]))
        } else {
            None
        }
    } else {
        None
    };
    let response = match refused {
        Some(response) => response,
        None => next.run(request).await,
    };
    shared.lock().requests.push(RecordedRequest { method, path, status: response.status().as_u16() });
    response
}

async fn authorize(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let scopes: Vec<&str> = field("scope").split(',').collect();
    if field("client_id") != APP_ID
        || field("response_type") != "code"
        || field("state").is_empty()
        || !scopes.contains(&"threads_basic")
        || !scopes.contains(&"threads_content_publish")
    {
        return (StatusCode::BAD_REQUEST, "Invalid request").into_response();
    }
    let code = random_token("AQB");
    let mut inner = shared.lock();
    inner.codes.insert(code.clone(), field("redirect_uri").to_owned());
    inner.delete_granted = scopes.contains(&"threads_delete") && !inner.withhold_delete;
    drop(inner);
    let mut location = url::Url::parse(field("redirect_uri")).unwrap();
    location.query_pairs_mut().append_pair("code", &code).append_pair("state", field("state"));
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

async fn code_exchange(State(shared): St, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != APP_ID || field("client_secret") != APP_SECRET {
        return graph_error(101, None, "Error validating application. Invalid application ID.");
    }
    let mut inner = shared.lock();
    if field("grant_type") != "authorization_code"
        || inner.codes.remove(field("code")).is_none_or(|uri| uri != field("redirect_uri"))
    {
        return graph_error(100, Some(36009), "This authorization code has been used.");
    }
    let token = random_token("THQ");
    inner.tokens.insert(token.clone(), (false, now()));
    let user_id = json!(USER_ID.parse::<u64>().unwrap());
    fixtures::respond("threads/token_short", &[("access_token", json!(token)), ("user_id", user_id)])
}

async fn long_lived(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let mut inner = shared.lock();
    if field("grant_type") != "th_exchange_token" || field("client_secret") != APP_SECRET {
        return graph_error(100, None, "Invalid grant_type or client_secret");
    }
    if !matches!(inner.tokens.get(field("access_token")), Some((false, _))) {
        return graph_error(190, None, "Invalid OAuth access token.");
    }
    let token = random_token("THAA");
    inner.tokens.insert(token.clone(), (true, now()));
    fixtures::respond("threads/token", &[("access_token", json!(token)), ("expires_in", json!(LONG_LIVED))])
}

async fn refresh(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let mut inner = shared.lock();
    let given = field("access_token");
    if field("grant_type") != "th_refresh_token" {
        return graph_error(100, None, "Invalid grant_type");
    }
    if inner.expired.iter().any(|t| t == given) {
        return fixtures::respond("threads/expired_token", &[]);
    }
    match inner.tokens.get(given) {
        Some((true, issued)) if now() - issued >= 86_400 => {}
        Some((true, _)) => {
            return graph_error(190, None, "The access token must be at least 24 hours old to refresh.");
        }
        _ => return graph_error(190, None, "Invalid OAuth access token."),
    }
    let token = random_token("THAA");
    inner.tokens.insert(token.clone(), (true, now()));
    fixtures::respond("threads/token", &[("access_token", json!(token)), ("expires_in", json!(LONG_LIVED))])
}

async fn me(State(shared): St) -> Response {
    let picture = format!("{}/pictures/{USER_ID}.jpg", shared.base_url);
    axum::Json(json!({"id": USER_ID, "username": USERNAME, "name": "Crier Bakery", "threads_profile_picture_url": picture}))
        .into_response()
}

/// A container's status, or a post's permalink.
async fn object(
    State(shared): St,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let fields = query.get("fields").cloned().unwrap_or_default();
    let mut inner = shared.lock();
    if let Some(container) = inner.containers.get_mut(&id) {
        container.reads += 1;
        if let Some(error) = container.error {
            return axum::Json(json!({"id": id, "status": "ERROR", "error_message": error})).into_response();
        }
        let status = match (container.published, container.finished()) {
            (true, _) => "PUBLISHED",
            (false, false) => "IN_PROGRESS",
            (false, true) => "FINISHED",
        };
        return axum::Json(json!({"id": id, "status": status})).into_response();
    }
    if inner.posts.iter().any(|p| p.id == id) && fields.contains("permalink") {
        return axum::Json(
            json!({"id": id, "permalink": format!("https://www.threads.net/@{USERNAME}/post/{id}")}),
        )
        .into_response();
    }
    graph_error(100, Some(33), "Object does not exist")
}

/// `DELETE /v1.0/{media-id}`: one of the user's posts.
async fn delete_post(State(shared): St, Path(id): Path<String>) -> Response {
    let mut inner = shared.lock();
    if !inner.delete_granted {
        return graph_error(10, None, "Application does not have permission for this action");
    }
    let Some(index) = inner.posts.iter().position(|p| p.id == id) else {
        return graph_error(
            100,
            Some(33),
            &format!(
                "Unsupported delete request. Object with ID '{id}' does not exist, cannot be loaded due to \
                 missing permissions, or does not support this operation"
            ),
        );
    };
    inner.posts.remove(index);
    inner.deleted.push(id.clone());
    axum::Json(json!({"success": true, "deleted_id": id})).into_response()
}

/// Fetches a media URL as Meta's servers would.
async fn fetch(url: &str) -> Option<(String, Vec<u8>)> {
    let answer = reqwest::get(url).await.ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let content_type = answer
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Some((content_type, answer.bytes().await.ok()?.to_vec()))
}

/// Threads' count: characters, emoji by their UTF-8 bytes.
fn threads_length(text: &str) -> usize {
    text.chars()
        .map(|c| {
            let emoji = matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF
                | 0x200D | 0xFE0F | 0x20E3 | 0xE0020..=0xE007F);
            if emoji { c.len_utf8() } else { 1 }
        })
        .sum()
}

async fn create_container(State(shared): St, Path(user): Path<String>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if user != USER_ID {
        return graph_error(100, Some(33), "Object does not exist");
    }
    let text = form.get("text").cloned().unwrap_or_default();
    let carousel_item = form.get("is_carousel_item").is_some_and(|v| v == "true");
    let media_type = form.get("media_type").cloned().unwrap_or_default();
    if carousel_item && !matches!(media_type.as_str(), "IMAGE" | "VIDEO") {
        return graph_error(100, None, "A carousel item is an IMAGE or a VIDEO");
    }
    let mut error = None;
    let (media, media_types) = match media_type.as_str() {
        "TEXT" if !text.is_empty() => (Vec::new(), Vec::new()),
        kind @ ("IMAGE" | "VIDEO") => {
            let key = if kind == "IMAGE" { "image_url" } else { "video_url" };
            let Some(url) = form.get(key) else {
                return graph_error(
                    100,
                    None,
                    &format!("The parameter {key} is required for media_type={kind}"),
                );
            };
            let Some(file) = fetch(url).await else {
                return fixtures::respond("threads/media_fetch_failed", &[]);
            };
            // Threads finds out while processing, and says so in the container's status.
            if kind == "VIDEO" && !matches!(file.0.as_str(), "video/mp4" | "video/quicktime") {
                error = Some("FAILED_PROCESSING_VIDEO");
            }
            (vec![file], vec![kind.to_owned()])
        }
        "CAROUSEL" => {
            let mut inner = shared.lock();
            let children: Vec<String> =
                form.get("children").map(|c| c.split(',').map(str::to_owned).collect()).unwrap_or_default();
            if !(2..=20).contains(&children.len()) {
                return graph_error(100, None, "A carousel takes 2 to 20 children");
            }
            let (mut media, mut types) = (Vec::new(), Vec::new());
            for (i, child) in children.iter().enumerate() {
                match inner.containers.get(child) {
                    Some(c)
                        if c.carousel_item
                            && c.finished()
                            && !c.in_carousel
                            && !children[..i].contains(child) =>
                    {
                        media.extend(c.media.clone());
                        types.extend(c.media_types.clone());
                    }
                    _ => return graph_error(100, None, "A child is not a finished carousel item of its own"),
                }
            }
            for child in &children {
                inner.containers.get_mut(child).unwrap().in_carousel = true;
            }
            (media, types)
        }
        _ => return graph_error(100, None, "The parameter media_type is required; TEXT posts need a text"),
    };
    if threads_length(&text) > 500 {
        return fixtures::respond("threads/text_too_long", &[]);
    }
    let mut inner = shared.lock();
    let reply_to_id = form.get("reply_to_id").cloned();
    if let Some(parent) = &reply_to_id
        && !inner.posts.iter().any(|p| &p.id == parent)
    {
        return graph_error(100, Some(4279009), "The reply_to_id does not name a Threads post");
    }
    let id = format!("1790{:08}", inner.containers.len() + 1);
    let finished_at = if media_type == "VIDEO" { 3 } else { 2 };
    let container = Container {
        text,
        reply_to_id,
        media,
        media_types,
        carousel_item,
        reads: 0,
        finished_at,
        error,
        in_carousel: false,
        published: false,
    };
    inner.containers.insert(id.clone(), container);
    axum::Json(json!({"id": id})).into_response()
}

async fn publish(State(shared): St, Path(user): Path<String>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut inner = shared.lock();
    let creation = form.get("creation_id").cloned().unwrap_or_default();
    let Some(container) = inner.containers.get_mut(&creation).filter(|c| user == USER_ID && !c.carousel_item)
    else {
        return graph_error(100, Some(33), "The creation_id does not name a container");
    };
    if container.published || !container.finished() {
        // Publishing a container that is not FINISHED fails (developers.facebook.com/docs/threads/troubleshooting).
        return fixtures::respond("threads/media_not_ready", &[]);
    }
    container.published = true;
    let post = Post {
        id: String::new(),
        text: container.text.clone(),
        reply_to_id: container.reply_to_id.clone(),
        media: container.media.clone(),
        media_types: container.media_types.clone(),
    };
    let id = format!("1800{:08}", inner.posts.len() + 1);
    inner.posts.push(Post { id: id.clone(), ..post });
    if inner.posts.last().is_some_and(|p| p.reply_to_id.is_none()) {
        inner.quota_usage += 1;
    }
    fixtures::respond("threads/published", &[("id", json!(id))])
}

async fn limit(
    State(shared): St,
    Path(user): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if user != USER_ID {
        return graph_error(100, Some(33), "Object does not exist");
    }
    let fields = query.get("fields").cloned().unwrap_or_default();
    let inner = shared.lock();
    let mut entry = json!({});
    if fields.contains("quota_usage") {
        entry["quota_usage"] = json!(inner.quota_usage);
        entry["config"] = json!({"quota_total": QUOTA_TOTAL, "quota_duration": 86_400});
    }
    if fields.contains("reply_quota_usage") {
        entry["reply_quota_usage"] = json!(0);
        entry["reply_config"] = json!({"quota_total": 1000, "quota_duration": 86_400});
    }
    axum::Json(json!({"data": [entry]})).into_response()
}
