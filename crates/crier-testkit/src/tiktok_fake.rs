//! An in-process fake TikTok for tests: axum on 127.0.0.1, following TikTok for Developers'
//! documented v2 shapes closely enough to drive a real client:
//! - the consent page `/v2/auth/authorize/` (answered at once as if the user agreed) with PKCE
//!   (the challenge the verifier's SHA-256 in hex, developers.tiktok.com/doc/login-kit-desktop);
//!   `POST /v2/oauth/token/` and `POST /v2/oauth/revoke/`
//!   (developers.tiktok.com/doc/oauth-user-access-token-management): 24-hour access tokens, and a
//!   refresh that answers a new refresh token and spends the old one;
//! - `GET /v2/user/info/` (developers.tiktok.com/doc/tiktok-api-v2-get-user-info);
//! - `POST /v2/post/publish/creator_info/query/`
//!   (developers.tiktok.com/doc/content-posting-api-reference-query-creator-info), as an
//!   unaudited app sees it by default: `SELF_ONLY` only;
//! - `POST /v2/post/publish/video/init/` with `FILE_UPLOAD`
//!   (developers.tiktok.com/doc/content-posting-api-reference-direct-post), the chunk rules of
//!   developers.tiktok.com/doc/content-posting-api-media-transfer-guide checked, and the upload
//!   address taking sequential PUTs with `Content-Range` (206 until the last, then 201); the
//!   chunks are reassembled;
//! - `POST /v2/post/publish/status/fetch/`
//!   (developers.tiktok.com/doc/content-posting-api-reference-get-video-status):
//!   `PROCESSING_UPLOAD` once the bytes are in, then `PUBLISH_COMPLETE` (or `FAILED` with an
//!   injected `fail_reason`).
//!
//! Errors are `{"error": {"code", "message", "log_id"}}` with the documented HTTP statuses.
//! Where it is a fake: one app ([`CLIENT_KEY`], [`CLIENT_SECRET`]), one creator; one base URL.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fixtures;

pub const CLIENT_KEY: &str = "awcrier0tiktok0key";
pub const CLIENT_SECRET: &str = "tiktok-test-secret";
pub const OPEN_ID: &str = "-000Crier0OpenId";
pub const DISPLAY_NAME: &str = "Crier Clips";
pub const USERNAME: &str = "crier.clips";
pub const ACCESS_TOKEN_LIFETIME: i64 = 86_400;
const MB: u64 = 1024 * 1024;

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub content_range: Option<String>,
}

/// One Direct Post, as initialised and uploaded.
#[derive(Debug, Clone, Default)]
pub struct Post {
    pub init: Value,
    pub bytes: Vec<u8>,
    pub chunks: usize,
    pub polls: usize,
}

struct Inner {
    /// code → (redirect URI, challenge).
    grants: HashMap<String, (String, String)>,
    access_tokens: HashMap<String, i64>,
    refresh_tokens: HashSet<String>,
    revoked: Vec<String>,
    creator: Value,
    posts: HashMap<String, Post>,
    /// The next API call's error: (HTTP status, code, message).
    /// The fixture the next API call answers.
    next_error: Option<&'static str>,
    fail_reason: Option<String>,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;
type St = State<Arc<Shared>>;

/// The fake TikTok; the server stops when this is dropped.
pub struct TikTokFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

fn default_creator() -> Value {
    json!({
        "creator_avatar_url": "https://p16.tiktokcdn.example/avatar.jpeg",
        "creator_username": USERNAME, "creator_nickname": DISPLAY_NAME,
        "privacy_level_options": ["SELF_ONLY"],
        "comment_disabled": false, "duet_disabled": true, "stitch_disabled": false,
        "max_video_post_duration_sec": 300,
    })
}

impl TikTokFake {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashSet::new(),
            revoked: Vec::new(),
            creator: default_creator(),
            posts: HashMap::new(),
            next_error: None,
            fail_reason: None,
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/v2/auth/authorize/", get(authorize))
            .route("/v2/oauth/token/", post(token))
            .route("/v2/oauth/revoke/", post(revoke))
            .route("/v2/user/info/", get(user_info))
            .route("/v2/post/publish/creator_info/query/", post(creator_info))
            .route("/v2/post/publish/video/init/", post(init))
            .route("/v2/post/publish/status/fetch/", post(status))
            .route("/upload/{publish_id}", put(upload))
            .layer(middleware::from_fn_with_state(shared.clone(), guard))
            .layer(DefaultBodyLimit::max(160 * MB as usize))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`: open.tiktokapis.com's, www.tiktok.com's and the upload host's
    /// stand-in.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn posts(&self) -> HashMap<String, Post> {
        self.shared.lock().posts.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn revoked(&self) -> Vec<String> {
        self.shared.lock().revoked.clone()
    }

    pub fn refresh_token_valid(&self, token: &str) -> bool {
        self.shared.lock().refresh_tokens.contains(token)
    }

    /// Changes fields of the creator's `creator_info` (an audited app: more privacy levels).
    pub fn set_creator(&self, fields: Value) {
        let mut inner = self.shared.lock();
        for (key, value) in fields.as_object().unwrap() {
            inner.creator[key] = value.clone();
        }
    }

    /// The next API call answers 429 `rate_limit_exceeded`.
    pub fn rate_limit_next(&self) {
        self.shared.lock().next_error = Some("tiktok/rate_limited");
    }

    /// The next API call answers 403 `spam_risk_too_many_posts`: the daily post cap is reached.
    pub fn post_cap_next(&self) {
        self.shared.lock().next_error = Some("tiktok/spam_risk_too_many_posts");
    }

    /// The next post ends `FAILED` with this `fail_reason`.
    pub fn fail_publish(&self, reason: &str) {
        self.shared.lock().fail_reason = Some(reason.to_owned());
    }

    /// Every access token issued so far has expired (refresh tokens stay good).
    pub fn expire_access_tokens(&self) {
        for expiry in self.shared.lock().access_tokens.values_mut() {
            *expiry = 0;
        }
    }
}

impl Drop for TikTokFake {
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

fn log_id() -> String {
    format!("2026{}", rand::random::<u64>())
}

/// TikTok's v2 answer: `data` and `error`, `code` `ok` on success.
fn answer(data: Value) -> Response {
    axum::Json(json!({"data": data, "error": {"code": "ok", "message": "", "log_id": log_id()}}))
        .into_response()
}

fn error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message, "log_id": log_id()}});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

/// Records every request; checks the bearer on the API (`/v2/` but OAuth and the consent page).
async fn guard(State(shared): St, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let content_range =
        request.headers().get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let api = path.starts_with("/v2/") && !path.starts_with("/v2/oauth/") && !path.starts_with("/v2/auth/");
    let refused = api.then(|| {
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let mut inner = shared.lock();
        let expiry = bearer.and_then(|b| inner.access_tokens.get(&b).copied());
        if expiry.is_none_or(|e| e <= now()) {
            return Some(fixtures::respond("tiktok/access_token_invalid", &[("log_id", json!(log_id()))]));
        }
        inner.next_error.take().map(|answer| fixtures::respond(answer, &[("log_id", json!(log_id()))]))
    });
    let response = match refused.flatten() {
        Some(response) => response,
        None => next.run(request).await,
    };
    let status = response.status().as_u16();
    shared.lock().requests.push(RecordedRequest { method, path, status, content_range });
    response
}

async fn authorize(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let scopes: HashSet<&str> = field("scope").split(',').collect();
    let hex = field("code_challenge").len() == 64
        && field("code_challenge").chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
    let ok = field("client_key") == CLIENT_KEY
        && field("response_type") == "code"
        && field("code_challenge_method") == "S256"
        && hex
        && !field("state").is_empty()
        && scopes.contains("video.publish")
        && scopes.contains("user.info.basic");
    if !ok {
        return (StatusCode::BAD_REQUEST, "param_error").into_response();
    }
    let code = random_token("");
    let grant = (field("redirect_uri").to_owned(), field("code_challenge").to_owned());
    shared.lock().grants.insert(code.clone(), grant);
    let mut location = url::Url::parse(field("redirect_uri")).unwrap();
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("scopes", field("scope"))
        .append_pair("state", field("state"));
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description, "log_id": log_id()});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

fn form_of(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

async fn token(State(shared): St, body: Bytes) -> Response {
    let form = form_of(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_key") != CLIENT_KEY || field("client_secret") != CLIENT_SECRET {
        return oauth_error("invalid_client", "Client key or secret is incorrect.");
    }
    let mut inner = shared.lock();
    match field("grant_type") {
        "authorization_code" => {
            let Some((uri, challenge)) = inner.grants.remove(field("code")) else {
                return oauth_error("invalid_grant", "Authorization code is expired.");
            };
            let computed: String = Sha256::digest(field("code_verifier").as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if uri != field("redirect_uri") || computed != challenge {
                return oauth_error("invalid_request", "Code verifier or code challenge is invalid.");
            }
        }
        "refresh_token" => {
            if !inner.refresh_tokens.remove(field("refresh_token")) {
                return fixtures::respond("tiktok/invalid_refresh_token", &[("log_id", json!(log_id()))]);
            }
        }
        _ => return oauth_error("unsupported_grant_type", "Grant type is not supported."),
    }
    let access = random_token("act.");
    let refresh = random_token("rft.");
    inner.access_tokens.insert(access.clone(), now() + ACCESS_TOKEN_LIFETIME);
    inner.refresh_tokens.insert(refresh.clone());
    fixtures::respond(
        "tiktok/token",
        &[
            ("access_token", json!(access)),
            ("expires_in", json!(ACCESS_TOKEN_LIFETIME)),
            ("open_id", json!(OPEN_ID)),
            ("refresh_token", json!(refresh)),
        ],
    )
}

async fn revoke(State(shared): St, body: Bytes) -> Response {
    let form = form_of(&body);
    let token = form.get("token").cloned().unwrap_or_default();
    let mut inner = shared.lock();
    if inner.access_tokens.remove(&token).is_none() {
        return oauth_error("invalid_request", "Token is invalid.");
    }
    inner.revoked.push(token);
    (StatusCode::OK, axum::Json(json!({}))).into_response()
}

async fn user_info(Query(query): Query<HashMap<String, String>>) -> Response {
    let fields = query.get("fields").cloned().unwrap_or_default();
    if !fields.split(',').any(|f| f == "open_id") {
        return error(400, "invalid_params", "fields is required.");
    }
    answer(json!({"user": {
        "open_id": OPEN_ID, "union_id": "union-crier", "display_name": DISPLAY_NAME,
        "avatar_url": "https://p16.tiktokcdn.example/avatar.jpeg",
    }}))
}

async fn creator_info(State(shared): St) -> Response {
    answer(shared.lock().creator.clone())
}

/// The media transfer guide's chunk rules.
fn chunks_ok(size: u64, chunk: u64, count: u64) -> bool {
    if size == 0 || count == 0 || count > 1000 || chunk == 0 || size / chunk != count {
        return false;
    }
    if size < 5 * MB {
        return chunk == size && count == 1;
    }
    let last = size - chunk * (count - 1);
    (5 * MB..=64_000_000).contains(&chunk) && last <= 128 * MB && (size <= 64_000_000 || count > 1)
}

async fn init(State(shared): St, axum::Json(body): axum::Json<Value>) -> Response {
    let mut inner = shared.lock();
    let info = &body["post_info"];
    let source = &body["source_info"];
    let title_units = info["title"].as_str().unwrap_or_default().encode_utf16().count();
    if title_units > 2200 {
        return error(400, "invalid_params", "The title is too long.");
    }
    let level = info["privacy_level"].as_str().unwrap_or_default();
    let offered = inner.creator["privacy_level_options"].as_array().unwrap().iter().any(|o| o == level);
    if !offered {
        return fixtures::respond("tiktok/privacy_level_option_mismatch", &[("log_id", json!(log_id()))]);
    }
    if source["source"] != "FILE_UPLOAD" {
        return error(400, "invalid_params", "Only FILE_UPLOAD is offered here.");
    }
    let number = |key: &str| source[key].as_u64().unwrap_or(0);
    if !chunks_ok(number("video_size"), number("chunk_size"), number("total_chunk_count")) {
        return error(400, "invalid_params", "The chunk size or total chunk count is invalid.");
    }
    let publish_id = format!("v_pub_file~v2-1.{}", 7_300_000_000u64 + inner.posts.len() as u64);
    inner.posts.insert(publish_id.clone(), Post { init: body.clone(), ..Post::default() });
    let upload_url = format!("{}/upload/{publish_id}?upload_id=7300&upload_token=signed", shared.base_url);
    fixtures::respond(
        "tiktok/post_initialized",
        &[("publish_id", json!(publish_id)), ("upload_url", json!(upload_url)), ("log_id", json!(log_id()))],
    )
}

/// The upload address: sequential chunks, `Content-Range: bytes first-last/total`.
async fn upload(
    State(shared): St,
    Path(publish_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = shared.lock();
    let Some(post) = inner.posts.get_mut(&publish_id) else {
        return error(404, "invalid_params", "The upload URL is not valid.");
    };
    let size = post.init["source_info"]["video_size"].as_u64().unwrap_or(0);
    let chunk = post.init["source_info"]["chunk_size"].as_u64().unwrap_or(0);
    let count = post.init["source_info"]["total_chunk_count"].as_u64().unwrap_or(0);
    let range = headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let parsed = range.strip_prefix("bytes ").and_then(|r| {
        let (span, total) = r.split_once('/')?;
        let (a, b) = span.split_once('-')?;
        Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?, total.parse::<u64>().ok()?))
    });
    let Some((first, last, total)) = parsed else {
        return error(400, "invalid_params", "Content-Range is missing or malformed.");
    };
    let index = post.chunks as u64;
    let expected_end = if index + 1 == count { size } else { (index + 1) * chunk };
    let typed =
        headers.get(header::CONTENT_TYPE).is_some_and(|v| v.to_str().unwrap_or("").starts_with("video/"));
    if !typed
        || total != size
        || first != post.bytes.len() as u64
        || last + 1 != expected_end
        || body.len() as u64 != last - first + 1
    {
        return error(400, "invalid_params", "The chunk is out of order or its range is wrong.");
    }
    post.bytes.extend_from_slice(&body);
    post.chunks += 1;
    if post.chunks as u64 == count { StatusCode::CREATED } else { StatusCode::PARTIAL_CONTENT }
        .into_response()
}

async fn status(State(shared): St, axum::Json(body): axum::Json<Value>) -> Response {
    let mut inner = shared.lock();
    let id = body["publish_id"].as_str().unwrap_or_default().to_owned();
    let fail_reason = inner.fail_reason.clone();
    let Some(post) = inner.posts.get_mut(&id) else {
        return error(400, "invalid_publish_id", "The publish_id does not exist.");
    };
    let size = post.bytes.len();
    let complete = size as u64 == post.init["source_info"]["video_size"].as_u64().unwrap_or(0);
    if complete {
        post.polls += 1;
    }
    let public = post.init["post_info"]["privacy_level"] != "SELF_ONLY";
    let data = match (complete, post.polls) {
        (false, _) => json!({"status": "PROCESSING_UPLOAD", "uploaded_bytes": size}),
        (true, 1) => json!({"status": "PROCESSING_UPLOAD", "uploaded_bytes": size}),
        (true, _) => match fail_reason {
            Some(reason) => json!({"status": "FAILED", "fail_reason": reason}),
            None if public => {
                json!({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7_300_000_000_123u64]})
            }
            None => json!({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": []}),
        },
    };
    answer(data)
}
