//! An in-process fake Reddit for tests: axum on 127.0.0.1, following Reddit's documented shapes
//! (github.com/reddit-archive/reddit/wiki/OAuth2, reddit.com/dev/api) closely enough to drive a
//! real client: the consent page (`/api/v1/authorize`, answered at once as if the user agreed),
//! the token endpoint with HTTP Basic client auth (`/api/v1/access_token`: one-hour access
//! tokens, permanent refresh tokens), `/api/v1/revoke_token`, `GET /api/v1/me` and
//! `POST /api/submit` (`{json: {errors, data}}`) and `POST /api/del` (`{}`, for a post already
//! gone too). Failures: 401 on a bad bearer, 429 with
//! `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (seconds), `RATELIMIT` and
//! `SUBREDDIT_NOEXIST` in the submit answer's `errors`.
//!
//! Image posts and galleries: see `media.rs` (the upload lease, an S3-like upload, `kind=image`
//! with its websocket, `/api/submit_gallery_post.json`).
//!
//! Where it is a fake: one app ([`CLIENT_ID`], [`CLIENT_SECRET`]) and one account; the consent,
//! the API, the upload target and the websocket share one base URL. Knobs:
//! [`RedditFake::rate_limit_next`], [`RedditFake::submit_ratelimit_next`],
//! [`RedditFake::expire_access_tokens`], [`RedditFake::rotate_refresh_tokens`],
//! [`RedditFake::remove_subreddit`], [`RedditFake::silent_websocket`],
//! [`RedditFake::fail_media_posts`].

#![expect(clippy::unwrap_used, reason = "test support")]

mod media;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::fixtures;

pub const CLIENT_ID: &str = "crier-reddit-client";
pub const CLIENT_SECRET: &str = "crier-reddit-secret";
pub const ACCOUNT_ID: &str = "1w72";
pub const USERNAME: &str = "crier_test";
pub const ACCESS_TOKEN_LIFETIME: i64 = 3600;
/// What Crier asks for; `edit` covers `/api/del` (reddit.com/dev/api, by oauth scope).
const SCOPES: [&str; 4] = ["identity", "submit", "read", "edit"];

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub user_agent: Option<String>,
}

struct Inner {
    /// Codes and the redirect URI they were issued for.
    grants: HashMap<String, String>,
    /// Access tokens and when they expire (Unix seconds).
    access_tokens: HashMap<String, i64>,
    refresh_tokens: HashSet<String>,
    revoked: Vec<String>,
    rotate: bool,
    missing_subreddits: HashSet<String>,
    submissions: Vec<HashMap<String, String>>,
    deleted: Vec<String>,
    next_id: u64,
    rate_limited: usize,
    submit_ratelimited: usize,
    unnamed: usize,
    requests: Vec<RecordedRequest>,
    /// Upload leases by asset id.
    assets: HashMap<String, media::Asset>,
    /// What each image post's websocket will say, by its token.
    sockets: HashMap<String, Value>,
    silent_websocket: bool,
    fail_media_posts: bool,
}

type Shared = crate::fake_server::Shared<Inner>;

type St = State<Arc<Shared>>;

/// The fake Reddit; the server stops when this is dropped.
pub struct RedditFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl RedditFake {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashSet::new(),
            revoked: Vec::new(),
            rotate: false,
            missing_subreddits: HashSet::new(),
            submissions: Vec::new(),
            deleted: Vec::new(),
            next_id: 0x1a2b3c,
            rate_limited: 0,
            submit_ratelimited: 0,
            unnamed: 0,
            requests: Vec::new(),
            assets: HashMap::new(),
            sockets: HashMap::new(),
            silent_websocket: false,
            fail_media_posts: false,
        })
        .await;
        let router = Router::new()
            .route("/api/v1/authorize", get(authorize))
            .route("/api/v1/access_token", post(token))
            .route("/api/v1/revoke_token", post(revoke))
            .route("/api/v1/me", get(me))
            .route("/api/submit", post(submit))
            .route("/api/del", post(delete_post))
            .route("/api/media/asset.json", post(media::lease))
            .route("/s3", post(media::upload))
            .route("/ws/{token}", get(media::socket))
            .route("/api/submit_gallery_post.json", post(media::submit_gallery))
            .fallback(|| async {
                (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Not Found", "error": 404})))
            })
            .layer(middleware::from_fn_with_state(shared.clone(), guard))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`: both `oauth.reddit.com`'s and `www.reddit.com`'s stand-in.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The submissions made, in order: their form fields, and `id`.
    pub fn submissions(&self) -> Vec<HashMap<String, String>> {
        self.shared.lock().submissions.clone()
    }

    /// The fullnames (`t3_…`) of the posts deleted through `/api/del`, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.shared.lock().deleted.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Whether a refresh token is still good (not revoked, not replaced by a rotation).
    pub fn refresh_token_valid(&self, token: &str) -> bool {
        self.shared.lock().refresh_tokens.contains(token)
    }

    /// The tokens revoked through `/api/v1/revoke_token`.
    pub fn revoked(&self) -> Vec<String> {
        self.shared.lock().revoked.clone()
    }

    /// The next `n` API calls (not the token endpoint) answer 429, reset in 300 seconds.
    pub fn rate_limit_next(&self, n: usize) {
        self.shared.lock().rate_limited = n;
    }

    /// The next `n` submissions answer 200 with a `RATELIMIT` error (538.4 seconds, "9 minutes").
    pub fn submit_ratelimit_next(&self, n: usize) {
        self.shared.lock().submit_ratelimited = n;
    }

    /// The next `n` submissions are made but answered without their id, name or address.
    pub fn answer_unnamed_next(&self, n: usize) {
        self.shared.lock().unnamed = n;
    }

    /// Every access token issued so far has expired (refresh tokens stay good).
    pub fn expire_access_tokens(&self) {
        for expiry in self.shared.lock().access_tokens.values_mut() {
            *expiry = 0;
        }
    }

    /// Refreshes answer a new refresh token and retire the old one.
    pub fn rotate_refresh_tokens(&self, rotate: bool) {
        self.shared.lock().rotate = rotate;
    }

    /// Submissions to this subreddit answer `SUBREDDIT_NOEXIST`.
    pub fn remove_subreddit(&self, name: &str) {
        self.shared.lock().missing_subreddits.insert(name.to_lowercase());
    }

    /// The bytes uploaded for an asset, if its upload arrived.
    pub fn uploaded(&self, asset_id: &str) -> Option<Vec<u8>> {
        self.shared.lock().assets.get(asset_id).and_then(|a| a.bytes.clone())
    }

    /// The asset whose upload address (`action/key`) this is.
    pub fn asset_at(&self, url: &str) -> Option<String> {
        let inner = self.shared.lock();
        inner.assets.iter().find(|(_, a)| a.url(&self.shared.base_url) == url).map(|(id, _)| id.clone())
    }

    /// Image posts' websockets accept and then say nothing.
    pub fn silent_websocket(&self, silent: bool) {
        self.shared.lock().silent_websocket = silent;
    }

    /// Image posts are taken, then reported `failed` on their websocket (and not made).
    pub fn fail_media_posts(&self, fail: bool) {
        self.shared.lock().fail_media_posts = fail;
    }

    /// Revokes a refresh token as the user would from their app preferences.
    pub fn revoke(&self, token: &str) {
        self.shared.lock().refresh_tokens.remove(token);
    }
}

impl Drop for RedditFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

fn form_of(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

/// Records every request; rate-limits and checks the bearer token on the API (everything but
/// the consent page, token and revoke endpoints).
async fn guard(State(shared): St, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let user_agent =
        request.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // The upload target (S3) and the websocket are other hosts at Reddit: no bearer there.
    let api = !matches!(
        path.as_str(),
        "/api/v1/authorize" | "/api/v1/access_token" | "/api/v1/revoke_token" | "/s3"
    ) && !path.starts_with("/ws/");
    let refused = if api {
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bearer ").or_else(|| v.strip_prefix("Bearer ")))
            .map(str::to_owned);
        let mut inner = shared.lock();
        if inner.rate_limited > 0 {
            inner.rate_limited -= 1;
            Some(fixtures::respond("reddit/rate_limited", &[]))
        } else if bearer
            .and_then(|b| inner.access_tokens.get(&b).copied())
            .is_none_or(|expiry| expiry <= now())
        {
            Some(fixtures::respond("reddit/unauthorized", &[]))
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
    shared.lock().requests.push(RecordedRequest {
        method,
        path,
        status: response.status().as_u16(),
        user_agent,
    });
    response
}

/// The consent page, answered at once as if the user agreed.
async fn authorize(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if field("response_type") != "code" || field("client_id") != CLIENT_ID {
        return (StatusCode::BAD_REQUEST, "invalid client id or response type").into_response();
    }
    let requested: HashSet<&str> = field("scope").split(' ').collect();
    if field("state").is_empty()
        || field("duration") != "permanent"
        || !SCOPES.iter().all(|s| requested.contains(s))
    {
        return (StatusCode::BAD_REQUEST, "state, duration=permanent and the scopes are required")
            .into_response();
    }
    let code = random_token();
    shared.lock().grants.insert(code.clone(), field("redirect_uri").to_owned());
    let mut location = url::Url::parse(field("redirect_uri")).unwrap();
    location.query_pairs_mut().append_pair("state", field("state")).append_pair("code", &code);
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn basic_auth_ok(headers: &HeaderMap) -> bool {
    let expected = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({"error": error}))).into_response()
}

fn issue_access(inner: &mut Inner) -> String {
    let access = random_token();
    inner.access_tokens.insert(access.clone(), now() + ACCESS_TOKEN_LIFETIME);
    access
}

async fn token(State(shared): St, headers: HeaderMap, body: String) -> Response {
    if !basic_auth_ok(&headers) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let form = form_of(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let mut inner = shared.lock();
    let (access, refresh) = match field("grant_type") {
        "authorization_code" => {
            if inner.grants.remove(field("code")).is_none_or(|uri| uri != field("redirect_uri")) {
                return fixtures::respond("reddit/invalid_grant", &[]);
            }
            let refresh = random_token();
            inner.refresh_tokens.insert(refresh.clone());
            (issue_access(&mut inner), refresh)
        }
        "refresh_token" => {
            let old = field("refresh_token").to_owned();
            if !inner.refresh_tokens.contains(&old) {
                return fixtures::respond("reddit/invalid_grant", &[]);
            }
            let refresh = if inner.rotate {
                inner.refresh_tokens.remove(&old);
                let fresh = random_token();
                inner.refresh_tokens.insert(fresh.clone());
                fresh
            } else {
                old
            };
            (issue_access(&mut inner), refresh)
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    };
    fixtures::respond(
        "reddit/token",
        &[
            ("access_token", json!(access)),
            ("expires_in", json!(ACCESS_TOKEN_LIFETIME)),
            ("scope", json!(SCOPES.join(" "))),
            ("refresh_token", json!(refresh)),
        ],
    )
}

async fn revoke(State(shared): St, headers: HeaderMap, body: String) -> Response {
    if !basic_auth_ok(&headers) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let form = form_of(&body);
    let token = form.get("token").cloned().unwrap_or_default();
    let mut inner = shared.lock();
    inner.refresh_tokens.remove(&token);
    inner.access_tokens.remove(&token);
    inner.revoked.push(token);
    StatusCode::NO_CONTENT.into_response()
}

async fn me(State(shared): St) -> Response {
    let icon = format!("{}/avatars/crier.png?width=256&amp;height=256", shared.base_url);
    let body = json!({"id": ACCOUNT_ID, "name": USERNAME, "icon_img": icon, "is_employee": false});
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn submit_errors(errors: &[[&str; 3]]) -> Response {
    let errors: Vec<Value> = errors.iter().map(|e| json!(e)).collect();
    // Each error is `[code, message, field]`.
    fixtures::respond("reddit/submit_rejected", &[("errors", json!(errors))])
}

/// `POST /api/del` with `id` a fullname: `{}`, whether the post was there or was gone already.
async fn delete_post(State(shared): St, body: String) -> Response {
    let form = form_of(&body);
    let name = form.get("id").cloned().unwrap_or_default();
    let mut inner = shared.lock();
    let there = inner.submissions.iter().any(|s| s.get("id").is_some_and(|id| format!("t3_{id}") == name));
    if there && !inner.deleted.contains(&name) {
        inner.deleted.push(name);
    }
    (StatusCode::OK, axum::Json(json!({}))).into_response()
}

async fn submit(State(shared): St, body: String) -> Response {
    let mut form = form_of(&body);
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    if field("api_type") != "json" {
        return (StatusCode::OK, "<html>not json</html>").into_response();
    }
    let mut inner = shared.lock();
    if inner.submit_ratelimited > 0 {
        inner.submit_ratelimited -= 1;
        // The seconds left ride along as `ratelimit`, next to the rounded wait in the message.
        return fixtures::respond("reddit/submit_ratelimit", &[]);
    }
    let sr = field("sr");
    if sr.is_empty() || inner.missing_subreddits.contains(&sr.to_lowercase()) {
        return submit_errors(&[["SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr"]]);
    }
    let title = field("title");
    if title.is_empty() {
        return submit_errors(&[["NO_TEXT", "we need something here", "title"]]);
    }
    if title.chars().count() > 300 {
        return submit_errors(&[["TOO_LONG", "this is too long (max: 300)", "title"]]);
    }
    match field("kind").as_str() {
        "self" => {}
        "link" if field("url").starts_with("http") => {}
        "link" => return submit_errors(&[["BAD_URL", "you should check that url", "url"]]),
        "image" => return media::submit_image(&shared, &mut inner, form),
        _ => return submit_errors(&[["INVALID_OPTION", "that option is not valid", "kind"]]),
    }
    let (id, url) = new_post(&mut inner, &sr, &title);
    form.insert("id".into(), id.clone());
    inner.submissions.push(form);
    if inner.unnamed > 0 {
        inner.unnamed -= 1;
        return (StatusCode::OK, axum::Json(json!({"json": {"errors": [], "data": {"drafts_count": 0}}})))
            .into_response();
    }
    fixtures::respond("reddit/submitted", &[("url", json!(url)), ("id", json!(id))])
}

/// A new post's id and address.
fn new_post(inner: &mut Inner, sr: &str, title: &str) -> (String, String) {
    inner.next_id += 1;
    let id = format!("{:x}", inner.next_id);
    let slug: String =
        title.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let url = format!("https://www.reddit.com/r/{sr}/comments/{id}/{slug}/");
    (id, url)
}
