//! An in-process fake Pinterest for tests: axum on 127.0.0.1, following Pinterest's documented
//! API v5 shapes (developers.pinterest.com/docs/api/v5/) closely enough to drive a real client:
//! the consent page (`/oauth/`, answered at once as if the user agreed), `POST /v5/oauth/token`
//! with HTTP Basic client auth (30-day access tokens; with `continuous_refresh`, each refresh
//! answers a new refresh token and spends the old one), `GET /v5/user_account`,
//! `GET /v5/boards/{id}`, `POST /v5/pins` (`image_base64`, `multiple_image_base64`, `video_id`),
//! `DELETE /v5/pins/{id}` (204, or 404 for a Pin not there),
//! `POST /v5/media`, the upload address (a multipart form with the signed fields, as S3 takes it)
//! and `GET /v5/media/{id}` (`registered` → `processing` → `succeeded`). Errors are
//! `{"code": <n>, "message": "…"}`: 401 on a bad bearer, 429 (no reset named), 400 on a bad Pin.
//!
//! Where it is a fake: one app ([`CLIENT_ID`], [`CLIENT_SECRET`]), one account with one board
//! ([`BOARD_ID`]); API, consent and uploads share one base URL.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::fixtures;

pub const CLIENT_ID: &str = "1484362";
pub const CLIENT_SECRET: &str = "pinterest-test-secret";
pub const ACCOUNT_ID: &str = "549755885175";
pub const USERNAME: &str = "crier_pins";
pub const BOARD_ID: &str = "549755885176";
pub const BOARD_NAME: &str = "Crier news";
/// Access tokens last 30 days.
pub const ACCESS_TOKEN_LIFETIME: i64 = 2_592_000;
/// What Pinterest documents for a refresh token (a year).
const REFRESH_TOKEN_LIFETIME: i64 = 31_536_000;
const REQUIRED_SCOPES: [&str; 2] = ["boards:read", "pins:write"];
/// The fields Pinterest's register answer names for the upload form.
const UPLOAD_FIELDS: [&str; 4] = ["key", "policy", "x-amz-signature", "x-amz-credential"];

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// A registered video upload.
#[derive(Debug, Clone, Default)]
pub struct VideoUpload {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    /// The form fields sent with the file, by name.
    pub fields: HashMap<String, String>,
    polls: usize,
}

struct Inner {
    grants: HashMap<String, String>,
    access_tokens: HashMap<String, i64>,
    refresh_tokens: HashSet<String>,
    continuous: bool,
    pins: Vec<Value>,
    deleted_pins: Vec<String>,
    uploads: HashMap<String, VideoUpload>,
    rate_limited: usize,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;

type St = State<Arc<Shared>>;

/// The fake Pinterest; the server stops when this is dropped.
pub struct PinterestFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl PinterestFake {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashSet::new(),
            continuous: false,
            pins: Vec::new(),
            deleted_pins: Vec::new(),
            uploads: HashMap::new(),
            rate_limited: 0,
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/oauth/", get(authorize))
            .route("/v5/oauth/token", post(token))
            .route("/v5/user_account", get(user_account))
            .route("/v5/boards/{board_id}", get(board))
            .route("/v5/pins", post(create_pin))
            .route("/v5/pins/{pin_id}", delete(delete_pin))
            .route("/v5/media", post(register_media))
            .route("/v5/media/{media_id}", get(media_status))
            .route("/upload/{media_id}", post(upload))
            .layer(middleware::from_fn_with_state(shared.clone(), guard))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`: both `api.pinterest.com`'s and `www.pinterest.com`'s stand-in.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The Pins created, as their JSON bodies were sent, with the `id` given.
    pub fn pins(&self) -> Vec<Value> {
        self.shared.lock().pins.clone()
    }

    /// The ids of the Pins deleted, in order.
    pub fn deleted_pins(&self) -> Vec<String> {
        self.shared.lock().deleted_pins.clone()
    }

    pub fn uploads(&self) -> HashMap<String, VideoUpload> {
        self.shared.lock().uploads.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Whether the code exchange asked for continuous refresh.
    pub fn continuous_refresh(&self) -> bool {
        self.shared.lock().continuous
    }

    pub fn refresh_token_valid(&self, token: &str) -> bool {
        self.shared.lock().refresh_tokens.contains(token)
    }

    /// The next `n` API calls (not the token endpoint) answer 429.
    pub fn rate_limit_next(&self, n: usize) {
        self.shared.lock().rate_limited = n;
    }

    /// Every access token issued so far has expired (refresh tokens stay good).
    pub fn expire_access_tokens(&self) {
        for expiry in self.shared.lock().access_tokens.values_mut() {
            *expiry = 0;
        }
    }
}

impl Drop for PinterestFake {
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

fn error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, axum::Json(json!({"code": code, "message": message}))).into_response()
}

/// Records every request; rate-limits and checks the bearer on the API (`/v5/` but the token
/// endpoint).
async fn guard(State(shared): St, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let api = path.starts_with("/v5/") && path != "/v5/oauth/token";
    let refused = api.then(|| {
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let mut inner = shared.lock();
        if inner.rate_limited > 0 {
            inner.rate_limited -= 1;
            return Some(fixtures::respond("pinterest/rate_limited", &[]));
        }
        let expiry = bearer.and_then(|b| inner.access_tokens.get(&b).copied());
        expiry.is_none_or(|e| e <= now()).then(|| fixtures::respond("pinterest/unauthorized", &[]))
    });
    let response = match refused.flatten() {
        Some(response) => response,
        None => next.run(request).await,
    };
    shared.lock().requests.push(RecordedRequest { method, path, status: response.status().as_u16() });
    response
}

/// The consent page, answered at once as if the user agreed.
async fn authorize(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let scopes: HashSet<&str> = field("scope").split(',').collect();
    if field("client_id") != CLIENT_ID || field("response_type") != "code" || field("state").is_empty() {
        return (StatusCode::BAD_REQUEST, "invalid client, response type or state").into_response();
    }
    if !REQUIRED_SCOPES.iter().all(|s| scopes.contains(s)) {
        return (StatusCode::BAD_REQUEST, "missing scopes").into_response();
    }
    let code = random_token("");
    shared.lock().grants.insert(code.clone(), field("redirect_uri").to_owned());
    let mut location = url::Url::parse(field("redirect_uri")).unwrap();
    location.query_pairs_mut().append_pair("code", &code).append_pair("state", field("state"));
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn basic_auth_ok(headers: &HeaderMap) -> bool {
    let expected = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

async fn token(State(shared): St, headers: HeaderMap, body: Bytes) -> Response {
    if !basic_auth_ok(&headers) {
        return error(StatusCode::UNAUTHORIZED, 2, "Authentication failed.");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let mut inner = shared.lock();
    let access = random_token("pina_");
    let mut vars = vec![("access_token", json!(access)), ("expires_in", json!(ACCESS_TOKEN_LIFETIME))];
    let answer = match field("grant_type") {
        "authorization_code" => {
            if inner.grants.remove(field("code")).is_none_or(|uri| uri != field("redirect_uri")) {
                return error(StatusCode::BAD_REQUEST, 1, "Invalid authorization code.");
            }
            inner.continuous = field("continuous_refresh") == "true";
            "pinterest/token"
        }
        "refresh_token" => {
            let old = field("refresh_token").to_owned();
            if !inner.refresh_tokens.contains(&old) {
                return fixtures::respond("pinterest/invalid_refresh_token", &[]);
            }
            if !inner.continuous {
                // Without continuous refresh the refresh token stays and none is answered.
                inner.access_tokens.insert(access, now() + ACCESS_TOKEN_LIFETIME);
                return fixtures::respond("pinterest/token_refreshed", &vars);
            }
            inner.refresh_tokens.remove(&old);
            "pinterest/token_everlasting"
        }
        _ => return error(StatusCode::BAD_REQUEST, 1, "Unsupported grant type."),
    };
    let refresh = random_token("pinr_");
    inner.refresh_tokens.insert(refresh.clone());
    inner.access_tokens.insert(access, now() + ACCESS_TOKEN_LIFETIME);
    vars.push(("refresh_token", json!(refresh)));
    vars.push(("refresh_token_expires_in", json!(REFRESH_TOKEN_LIFETIME)));
    vars.push(("refresh_token_expires_at", json!(now() + REFRESH_TOKEN_LIFETIME)));
    fixtures::respond(answer, &vars)
}

async fn user_account(State(shared): St) -> Response {
    let avatar = format!("{}/avatars/{USERNAME}.jpg", shared.base_url);
    let body = json!({
        "account_type": "BUSINESS", "id": ACCOUNT_ID, "username": USERNAME,
        "business_name": "Crier", "profile_image": avatar, "website_url": "https://crier.example",
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn board(Path(board_id): Path<String>) -> Response {
    if board_id != BOARD_ID {
        return error(StatusCode::NOT_FOUND, 40, "Board not found.");
    }
    let body =
        json!({"id": BOARD_ID, "name": BOARD_NAME, "privacy": "PUBLIC", "owner": {"username": USERNAME}});
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// A media source's problem, as Pinterest would answer it.
fn media_problem(inner: &Inner, source: &Value) -> Option<&'static str> {
    let image = |item: &Value| {
        let typed = matches!(item["content_type"].as_str(), Some("image/jpeg" | "image/png"));
        let data = item["data"].as_str().and_then(|d| STANDARD.decode(d).ok()).is_some_and(|d| !d.is_empty());
        typed && data
    };
    match source["source_type"].as_str() {
        Some("image_base64") => (!image(source)).then_some("Invalid image data."),
        Some("multiple_image_base64") => {
            let items = source["items"].as_array().cloned().unwrap_or_default();
            (!(2..=5).contains(&items.len()) || !items.iter().all(image)).then_some("Invalid carousel items.")
        }
        Some("video_id") => {
            let id = source["media_id"].as_str().unwrap_or_default();
            let ready = inner.uploads.get(id).is_some_and(|u| !u.bytes.is_empty() && u.polls >= 2);
            (!ready).then_some("Media not found or not processed.")
        }
        _ => Some("Invalid media source."),
    }
}

async fn create_pin(State(shared): St, axum::Json(mut pin): axum::Json<Value>) -> Response {
    let mut inner = shared.lock();
    if pin["board_id"].as_str() != Some(BOARD_ID) {
        return error(StatusCode::NOT_FOUND, 40, "Board not found.");
    }
    let too_long = |key: &str, max: usize| pin[key].as_str().is_some_and(|t| t.chars().count() > max);
    if too_long("title", 100) || too_long("description", 500) || too_long("alt_text", 500) {
        let message = json!("Invalid parameters: a field is too long.");
        return fixtures::respond("pinterest/invalid_pin", &[("message", message)]);
    }
    if let Some(problem) = media_problem(&inner, &pin["media_source"]) {
        return fixtures::respond("pinterest/invalid_pin", &[("message", json!(problem))]);
    }
    let id = format!("{}", 813_744_226_137_000_000u64 + inner.pins.len() as u64);
    pin["id"] = json!(id);
    inner.pins.push(pin.clone());
    fixtures::respond(
        "pinterest/pin_created",
        &[
            ("id", json!(id)),
            ("created_at", json!(chrono::Utc::now().to_rfc3339())),
            ("board_id", json!(BOARD_ID)),
            ("title", pin["title"].clone()),
            ("description", pin["description"].clone()),
            ("link", pin["link"].clone()),
            ("media_type", pin["media_source"]["source_type"].clone()),
        ],
    )
}

/// `DELETE /v5/pins/{pin_id}`: 204 with no body, or 404 for a Pin that is not there.
async fn delete_pin(State(shared): St, Path(pin_id): Path<String>) -> Response {
    let mut inner = shared.lock();
    let there = inner.pins.iter().any(|p| p["id"] == pin_id.as_str());
    if !there || inner.deleted_pins.contains(&pin_id) {
        return error(StatusCode::NOT_FOUND, 50, "Pin not found.");
    }
    inner.deleted_pins.push(pin_id);
    StatusCode::NO_CONTENT.into_response()
}

async fn register_media(State(shared): St, axum::Json(body): axum::Json<Value>) -> Response {
    if body["media_type"].as_str() != Some("video") {
        return error(StatusCode::BAD_REQUEST, 1, "media_type must be video.");
    }
    let mut inner = shared.lock();
    let media_id = format!("{}", 5_000_000 + inner.uploads.len());
    inner.uploads.insert(media_id.clone(), VideoUpload::default());
    let parameters: serde_json::Map<String, Value> =
        UPLOAD_FIELDS.iter().map(|f| ((*f).to_owned(), json!(format!("{f}-{media_id}")))).collect();
    let answer = json!({
        "media_id": media_id, "media_type": "video",
        "upload_url": format!("{}/upload/{media_id}", shared.base_url), "upload_parameters": parameters,
    });
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// The storage bucket's form upload: every signed field, then the file (S3 answers 204).
async fn upload(State(shared): St, Path(media_id): Path<String>, mut form: Multipart) -> Response {
    let mut upload = VideoUpload::default();
    while let Some(field) = form.next_field().await.unwrap() {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            upload.content_type = field.content_type().map(str::to_owned);
            upload.bytes = field.bytes().await.unwrap().to_vec();
        } else {
            upload.fields.insert(name, field.text().await.unwrap());
        }
    }
    let signed = UPLOAD_FIELDS.iter().all(|f| upload.fields.get(*f) == Some(&format!("{f}-{media_id}")));
    if !signed || upload.bytes.is_empty() {
        return (StatusCode::FORBIDDEN, "<Error><Code>AccessDenied</Code></Error>").into_response();
    }
    let mut inner = shared.lock();
    match inner.uploads.get_mut(&media_id) {
        Some(slot) => *slot = upload,
        None => return (StatusCode::NOT_FOUND, "no such upload").into_response(),
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `registered` until the file arrives, then `processing` once, then `succeeded`.
async fn media_status(State(shared): St, Path(media_id): Path<String>) -> Response {
    let mut inner = shared.lock();
    let Some(upload) = inner.uploads.get_mut(&media_id) else {
        return error(StatusCode::NOT_FOUND, 50, "Media not found.");
    };
    let status = if upload.bytes.is_empty() {
        "registered"
    } else {
        upload.polls += 1;
        if upload.polls < 2 { "processing" } else { "succeeded" }
    };
    (StatusCode::OK, axum::Json(json!({"media_id": media_id, "media_type": "video", "status": status})))
        .into_response()
}
