//! An in-process fake X API for tests: axum on 127.0.0.1, following X's documented shapes
//! (docs.x.com) closely enough to drive a real client through OAuth 2.0 with PKCE as a
//! confidential client (Basic auth at the token endpoint, rotating refresh tokens, two-hour
//! access tokens), `GET /2/users/me`, the v2 chunked media upload with processing for videos,
//! and `POST /2/tweets` with media and replies. Errors have X's shapes: problem details
//! (`{title, detail, type, status}`) on the API, `{error, error_description}` at the token
//! endpoint, 429 with `x-rate-limit-reset` (Unix seconds).
//!
//! Where it is a fake: one app ([`CLIENT_ID`], [`CLIENT_SECRET`]) and one account; the consent
//! page answers at once with the redirect (the test plays the user); texts are not counted.
//! Knobs: [`XFake::rate_limit_next`], [`XFake::expire_access_tokens`],
//! [`XFake::set_video_processing_polls`].

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fixtures;

pub const CLIENT_ID: &str = "crier-x-client";
pub const CLIENT_SECRET: &str = "crier-x-secret";
pub const ACCOUNT_ID: &str = "1500000000000000001";
pub const USERNAME: &str = "crier_test";
pub const ACCESS_TOKEN_LIFETIME: i64 = 7200;
const SCOPES: [&str; 5] = ["tweet.read", "tweet.write", "users.read", "offline.access", "media.write"];

/// What the fake keeps of one upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedMedia {
    pub id: String,
    pub media_type: String,
    pub media_category: String,
    pub total_bytes: usize,
    pub bytes: Vec<u8>,
    pub segments: usize,
    pub finalized: bool,
    /// Done processing (usable in a post).
    pub processed: bool,
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
}

struct Grant {
    redirect_uri: String,
    code_challenge: String,
}

struct Upload {
    public: UploadedMedia,
    polls_left: u32,
}

struct Inner {
    grants: HashMap<String, Grant>,
    /// Access tokens and when they expire (Unix seconds).
    access_tokens: HashMap<String, i64>,
    refresh_tokens: HashSet<String>,
    spent_refresh_tokens: HashSet<String>,
    uploads: Vec<Upload>,
    tweets: Vec<Value>,
    next_id: u64,
    rate_limited: usize,
    video_polls: u32,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;

type St = State<Arc<Shared>>;

/// The fake X; the server stops when this is dropped.
pub struct XFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl XFake {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashSet::new(),
            spent_refresh_tokens: HashSet::new(),
            uploads: Vec::new(),
            tweets: Vec::new(),
            next_id: 1_800_000_000_000_000_000,
            rate_limited: 0,
            video_polls: 1,
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/i/oauth2/authorize", get(authorize))
            .route("/2/oauth2/token", post(token))
            .route("/2/oauth2/revoke", post(revoke))
            .route("/2/users/me", get(me))
            .route("/2/media/upload", get(media_status))
            .route("/2/media/upload/initialize", post(initialize))
            .route("/2/media/upload/{id}/append", post(append))
            .route("/2/media/upload/{id}/finalize", post(finalize))
            .route("/2/tweets", post(create_tweet))
            .route("/2/tweets/{id}", delete(delete_tweet))
            .fallback(|| async {
                problem(StatusCode::NOT_FOUND, "Not Found", "The requested resource was not found.")
            })
            .layer(middleware::from_fn_with_state(shared.clone(), guard))
            .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`: both the API's and the consent page's base.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The posts made and not deleted, in order: `{id, text, media_ids, in_reply_to_tweet_id}`.
    pub fn tweets(&self) -> Vec<Value> {
        self.shared.lock().tweets.clone()
    }

    pub fn media(&self, id: &str) -> Option<UploadedMedia> {
        self.shared.lock().uploads.iter().find(|u| u.public.id == id).map(|u| u.public.clone())
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Whether a refresh token is still good (not spent by a rotation).
    pub fn refresh_token_valid(&self, token: &str) -> bool {
        self.shared.lock().refresh_tokens.contains(token)
    }

    /// The next `n` API calls (not the token endpoint) answer 429, reset in 15 minutes.
    pub fn rate_limit_next(&self, n: usize) {
        self.shared.lock().rate_limited = n;
    }

    /// Every access token issued so far has expired (refresh tokens stay good).
    pub fn expire_access_tokens(&self) {
        for expiry in self.shared.lock().access_tokens.values_mut() {
            *expiry = 0;
        }
    }

    /// How many `STATUS` polls a video stays `in_progress` (default 1).
    pub fn set_video_processing_polls(&self, n: u32) {
        self.shared.lock().video_polls = n;
    }
}

impl Drop for XFake {
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

/// X's problem details.
fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({"title": title, "detail": detail, "type": "about:blank", "status": status.as_u16()});
    (status, axum::Json(body)).into_response()
}

fn invalid_request(detail: &str) -> Response {
    fixtures::respond("x/invalid_request", &[("message", json!(detail))])
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

/// Records every request; rate-limits and checks the bearer token on the API (`/2/`, except
/// the token endpoint).
async fn guard(State(shared): St, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let api = path.starts_with("/2/") && !path.starts_with("/2/oauth2/");
    let refused = if api {
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let mut inner = shared.lock();
        if inner.rate_limited > 0 {
            inner.rate_limited -= 1;
            Some(fixtures::respond("x/rate_limited", &[("reset", json!(now() + 900))]))
        } else if bearer
            .and_then(|b| inner.access_tokens.get(&b).copied())
            .is_none_or(|expiry| expiry <= now())
        {
            Some(fixtures::respond("x/unauthorized", &[]))
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

/// The consent page, answered at once as if the user agreed.
async fn authorize(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if field("response_type") != "code" || field("client_id") != CLIENT_ID {
        return (StatusCode::BAD_REQUEST, "Something went wrong: unknown client or response type")
            .into_response();
    }
    let requested: HashSet<&str> = field("scope").split(' ').collect();
    if field("code_challenge_method") != "S256"
        || field("code_challenge").is_empty()
        || field("state").is_empty()
    {
        return (StatusCode::BAD_REQUEST, "Something went wrong: PKCE (S256) and state are required")
            .into_response();
    }
    if !SCOPES.iter().all(|s| requested.contains(s)) {
        return (StatusCode::BAD_REQUEST, "Something went wrong: scopes missing").into_response();
    }
    let code = random_token();
    shared.lock().grants.insert(
        code.clone(),
        Grant {
            redirect_uri: field("redirect_uri").to_owned(),
            code_challenge: field("code_challenge").to_owned(),
        },
    );
    let mut location = url::Url::parse(field("redirect_uri")).unwrap();
    location.query_pairs_mut().append_pair("state", field("state")).append_pair("code", &code);
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn basic_auth_ok(headers: &HeaderMap) -> bool {
    let expected = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn issue_pair(inner: &mut Inner) -> Response {
    let access = random_token();
    let refresh = random_token();
    inner.access_tokens.insert(access.clone(), now() + ACCESS_TOKEN_LIFETIME);
    inner.refresh_tokens.insert(refresh.clone());
    fixtures::respond(
        "x/token",
        &[
            ("expires_in", json!(ACCESS_TOKEN_LIFETIME)),
            ("access_token", json!(access)),
            ("scope", json!(SCOPES.join(" "))),
            ("refresh_token", json!(refresh)),
        ],
    )
}

async fn token(State(shared): St, headers: HeaderMap, body: String) -> Response {
    if !basic_auth_ok(&headers) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let mut inner = shared.lock();
    match field("grant_type") {
        "authorization_code" => {
            let Some(grant) = inner.grants.remove(field("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the authorization code was invalid.",
                );
            };
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
            if grant.redirect_uri != field("redirect_uri") || grant.code_challenge != challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the code verifier or redirect uri was invalid.",
                );
            }
            issue_pair(&mut inner)
        }
        "refresh_token" => {
            let token = field("refresh_token").to_owned();
            if !inner.refresh_tokens.remove(&token) {
                return fixtures::respond("x/invalid_refresh_token", &[]);
            }
            inner.spent_refresh_tokens.insert(token);
            issue_pair(&mut inner)
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant_type not supported"),
    }
}

/// docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token: revoking a
/// refresh token ends it (and its grant's access tokens); the answer is `{"revoked": true}`.
async fn revoke(State(shared): St, headers: HeaderMap, body: String) -> Response {
    if !basic_auth_ok(&headers) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let token = form.get("token").cloned().unwrap_or_default();
    let mut inner = shared.lock();
    if inner.refresh_tokens.remove(&token) {
        inner.access_tokens.clear();
    }
    (StatusCode::OK, axum::Json(json!({"revoked": true}))).into_response()
}

async fn me(State(shared): St) -> Response {
    let avatar = format!("{}/profile_images/crier_normal.jpg", shared.base_url);
    let data =
        json!({"id": ACCOUNT_ID, "name": "Crier Test", "username": USERNAME, "profile_image_url": avatar});
    (StatusCode::OK, axum::Json(json!({"data": data}))).into_response()
}

async fn initialize(State(shared): St, axum::Json(body): axum::Json<Value>) -> Response {
    let media_type = body["media_type"].as_str().unwrap_or_default().to_owned();
    let Some(total_bytes) = body["total_bytes"].as_u64() else {
        return invalid_request("total_bytes is required");
    };
    if !media_type.starts_with("image/") && !media_type.starts_with("video/") {
        return invalid_request("media_type is not supported");
    }
    let mut inner = shared.lock();
    inner.next_id += 1;
    let id = inner.next_id.to_string();
    let polls_left = if media_type.starts_with("video/") { inner.video_polls } else { 0 };
    inner.uploads.push(Upload {
        public: UploadedMedia {
            id: id.clone(),
            media_type,
            media_category: body["media_category"].as_str().unwrap_or_default().to_owned(),
            total_bytes: usize::try_from(total_bytes).unwrap(),
            bytes: Vec::new(),
            segments: 0,
            finalized: false,
            processed: false,
        },
        polls_left,
    });
    let data = json!({"id": id, "media_key": format!("3_{id}"), "expires_after_secs": 86400});
    (StatusCode::OK, axum::Json(json!({"data": data}))).into_response()
}

async fn append(State(shared): St, Path(id): Path<String>, mut form: Multipart) -> Response {
    let mut segment: Option<usize> = None;
    let mut bytes = None;
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("segment_index") => segment = field.text().await.ok().and_then(|t| t.parse().ok()),
            Some("media") => bytes = field.bytes().await.ok(),
            _ => {}
        }
    }
    let (Some(segment), Some(bytes)) = (segment, bytes) else {
        return invalid_request("segment_index and media are required");
    };
    let mut inner = shared.lock();
    let Some(upload) = inner.uploads.iter_mut().find(|u| u.public.id == id && !u.public.finalized) else {
        return invalid_request("media_id is not an upload in progress");
    };
    if segment != upload.public.segments {
        return invalid_request("segment_index out of order");
    }
    upload.public.segments += 1;
    upload.public.bytes.extend_from_slice(&bytes);
    (StatusCode::OK, axum::Json(json!({"data": {"expires_at": now() + 86400}}))).into_response()
}

fn processing(upload: &Upload) -> Value {
    if upload.public.processed {
        json!({"state": "succeeded", "progress_percent": 100})
    } else {
        json!({"state": "in_progress", "check_after_secs": 0, "progress_percent": 50})
    }
}

async fn finalize(State(shared): St, Path(id): Path<String>) -> Response {
    let mut inner = shared.lock();
    let Some(upload) = inner.uploads.iter_mut().find(|u| u.public.id == id && !u.public.finalized) else {
        return invalid_request("media_id is not an upload in progress");
    };
    if upload.public.bytes.len() != upload.public.total_bytes {
        return invalid_request("File size does not match total_bytes");
    }
    upload.public.finalized = true;
    upload.public.processed = upload.polls_left == 0;
    let mut data = json!({"id": id, "media_key": format!("3_{id}"), "size": upload.public.total_bytes, "expires_after_secs": 86400});
    if upload.public.media_type.starts_with("video/") {
        data["processing_info"] = processing(upload);
    }
    (StatusCode::OK, axum::Json(json!({"data": data}))).into_response()
}

async fn media_status(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    if query.get("command").map(String::as_str) != Some("STATUS") {
        return invalid_request("command must be STATUS");
    }
    let id = query.get("media_id").cloned().unwrap_or_default();
    let mut inner = shared.lock();
    let Some(upload) = inner.uploads.iter_mut().find(|u| u.public.id == id && u.public.finalized) else {
        return invalid_request("media_id not found");
    };
    if !upload.public.processed {
        upload.polls_left = upload.polls_left.saturating_sub(1);
        upload.public.processed = upload.polls_left == 0;
    }
    let data = json!({"id": id, "media_key": format!("3_{id}"), "processing_info": processing(upload)});
    (StatusCode::OK, axum::Json(json!({"data": data}))).into_response()
}

/// `DELETE /2/tweets/:id`: `{"data": {"deleted": true}}`, or 404 for a post that is not there.
async fn delete_tweet(State(shared): St, axum::extract::Path(id): axum::extract::Path<String>) -> Response {
    let mut inner = shared.lock();
    let before = inner.tweets.len();
    inner.tweets.retain(|t| t["id"] != id.as_str());
    if inner.tweets.len() == before {
        return problem(
            StatusCode::NOT_FOUND,
            "Not Found Error",
            &format!("Could not find tweet with id: [{id}]."),
        );
    }
    (StatusCode::OK, axum::Json(json!({"data": {"deleted": true}}))).into_response()
}

async fn create_tweet(State(shared): St, axum::Json(body): axum::Json<Value>) -> Response {
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    let media_ids: Vec<String> = body["media"]["media_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let reply_to = body["reply"]["in_reply_to_tweet_id"].as_str().map(str::to_owned);
    let mut inner = shared.lock();
    if text.is_empty() && media_ids.is_empty() {
        return invalid_request("You must specify either text or media");
    }
    for id in &media_ids {
        if !inner.uploads.iter().any(|u| &u.public.id == id && u.public.processed) {
            return invalid_request(&format!("Your media IDs are invalid: {id}"));
        }
    }
    if let Some(parent) = &reply_to
        && !inner.tweets.iter().any(|t| t["id"] == parent.as_str())
    {
        return invalid_request("The tweet you are replying to does not exist");
    }
    if !text.is_empty() && inner.tweets.iter().any(|t| t["text"] == text.as_str()) {
        return fixtures::respond("x/duplicate_post", &[]);
    }
    inner.next_id += 1;
    let id = inner.next_id.to_string();
    inner
        .tweets
        .push(json!({"id": id, "text": text, "media_ids": media_ids, "in_reply_to_tweet_id": reply_to}));
    fixtures::respond("x/post_created", &[("id", json!(id)), ("text", json!(text))])
}
