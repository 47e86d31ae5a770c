//! An in-process fake LinkedIn for tests: axum on 127.0.0.1, following LinkedIn's documented
//! shapes (learn.microsoft.com/en-us/linkedin/…) closely enough to drive a real client: the
//! consent page (`/oauth/v2/authorization`, answered at once as if the member agreed), the token
//! endpoint (`/oauth/v2/accessToken`, the app's credentials in the body; 60-day tokens, and a
//! refresh token only when programmatic refresh is on), OpenID Connect's `GET /v2/userinfo`, the
//! Images API (`POST /rest/images?action=initializeUpload`, then `PUT` to the upload URL), the
//! Videos API (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api:
//! `POST /rest/videos?action=initializeUpload` cutting the file into 4 MiB parts, a `PUT` per part
//! answered with an `etag`, `POST /rest/videos?action=finalizeUpload` checking the etags and that
//! the parts add up to the file, `GET /rest/videos/{encoded urn}` answering `PROCESSING` once, then
//! `AVAILABLE`, or `PROCESSING_FAILED` when told to fail), `POST /rest/posts` (201 with
//! `x-restli-id`) and `DELETE /rest/posts/{encoded urn}` (204, or 404 for a post not there), all of
//! which need `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`. Errors are `{"status",
//! "serviceErrorCode", "code", "message"}`: 401 expired or revoked tokens, 429 daily throttles (no
//! `Retry-After`), 422 a duplicate post. The commentary is read as LinkedIn's little text format:
//! an unescaped reserved character cuts the rendered post there, as LinkedIn does.
//!
//! Where it is a fake: one app ([`CLIENT_ID`], [`CLIENT_SECRET`]) and one member ([`MEMBER_SUB`]);
//! API, consent and uploads share one base URL; a post may only name a video once it is
//! `AVAILABLE` (stricter than LinkedIn is known to be, so a client that does not wait is caught).

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::fixtures;

pub const CLIENT_ID: &str = "78crierlinkedin";
pub const CLIENT_SECRET: &str = "linkedin-test-secret";
pub const MEMBER_SUB: &str = "782bbtaQ";
pub const MEMBER_NAME: &str = "Ada Crier";
/// Access tokens last 60 days.
pub const ACCESS_TOKEN_LIFETIME: i64 = 5_184_000;
const RESERVED: &str = "\\|{}@[]()<>#*_~";
/// The Videos API's part size: every part but the last is 4 MiB.
pub const VIDEO_PART_BYTES: usize = 4 * 1024 * 1024;

/// A post the fake holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub urn: String,
    /// The request's body, as sent.
    pub body: Value,
    /// What LinkedIn would show: the commentary unescaped, cut at an unescaped reserved character.
    pub rendered: String,
    pub version: String,
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
}

struct Inner {
    grants: HashMap<String, String>,
    access_tokens: HashMap<String, i64>,
    refresh_tokens: HashSet<String>,
    revoked: HashSet<String>,
    programmatic_refresh: bool,
    /// Image URNs and the bytes uploaded for them.
    images: HashMap<String, Option<Vec<u8>>>,
    /// Video URNs and their uploads.
    videos: HashMap<String, Video>,
    /// Videos finalized from now on fail processing.
    fail_video_processing: bool,
    /// The next part uploads answer 429.
    rate_limited_parts: usize,
    posts: Vec<Post>,
    deleted_posts: Vec<String>,
    rate_limited: usize,
    requests: Vec<RecordedRequest>,
}

/// A video being uploaded or processed.
struct Video {
    size: usize,
    upload_token: String,
    /// Each part's byte range and, once uploaded, its bytes and etag.
    parts: Vec<VideoPart>,
    status: &'static str,
    /// Status polls still answered `PROCESSING` before the outcome.
    processing_polls: usize,
    failing: bool,
    /// The parts reassembled at `finalizeUpload`.
    bytes: Option<Vec<u8>>,
}

struct VideoPart {
    first_byte: usize,
    last_byte: usize,
    uploaded: Option<(Vec<u8>, String)>,
}

type Shared = crate::fake_server::Shared<Inner>;

type St = State<Arc<Shared>>;

/// The fake LinkedIn; the server stops when this is dropped.
pub struct LinkedInFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl LinkedInFake {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashSet::new(),
            revoked: HashSet::new(),
            programmatic_refresh: false,
            images: HashMap::new(),
            videos: HashMap::new(),
            fail_video_processing: false,
            rate_limited_parts: 0,
            posts: Vec::new(),
            deleted_posts: Vec::new(),
            rate_limited: 0,
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/oauth/v2/authorization", get(authorize))
            .route("/oauth/v2/accessToken", post(token))
            .route("/v2/userinfo", get(userinfo))
            .route("/rest/images", post(initialize_upload))
            .route("/rest/posts", post(create_post))
            .route("/rest/posts/{urn}", delete(delete_post))
            .route("/dms-uploads/{id}", put(upload))
            .route("/rest/videos", post(video_action))
            .route("/rest/videos/{urn}", get(video_status))
            .route("/video-uploads/{id}/{part}", put(upload_part))
            .layer(DefaultBodyLimit::max(2 * VIDEO_PART_BYTES))
            .layer(middleware::from_fn_with_state(shared.clone(), guard))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`: `api.linkedin.com`'s and `www.linkedin.com`'s stand-in.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The member's author URN.
    pub fn author() -> String {
        format!("urn:li:person:{MEMBER_SUB}")
    }

    pub fn posts(&self) -> Vec<Post> {
        self.shared.lock().posts.clone()
    }

    /// The URNs of the posts deleted, in order.
    pub fn deleted_posts(&self) -> Vec<String> {
        self.shared.lock().deleted_posts.clone()
    }

    /// The bytes uploaded for an image URN.
    pub fn image(&self, urn: &str) -> Option<Vec<u8>> {
        self.shared.lock().images.get(urn).cloned().flatten()
    }

    /// The bytes of a finalized video, its parts put back together.
    pub fn video(&self, urn: &str) -> Option<Vec<u8>> {
        self.shared.lock().videos.get(urn).and_then(|v| v.bytes.clone())
    }

    /// Videos finalized from now on end `PROCESSING_FAILED` (after one `PROCESSING`).
    pub fn fail_video_processing(&self) {
        self.shared.lock().fail_video_processing = true;
    }

    /// The next `n` video part uploads answer 429 (a throttle).
    pub fn rate_limit_part_uploads(&self, n: usize) {
        self.shared.lock().rate_limited_parts = n;
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Token answers carry a refresh token (an app approved for programmatic refresh).
    pub fn programmatic_refresh(&self, on: bool) {
        self.shared.lock().programmatic_refresh = on;
    }

    /// The next `n` API calls answer 429 (a daily throttle).
    pub fn rate_limit_next(&self, n: usize) {
        self.shared.lock().rate_limited = n;
    }

    /// Every access token issued so far has expired (refresh tokens stay good).
    pub fn expire_access_tokens(&self) {
        for expiry in self.shared.lock().access_tokens.values_mut() {
            *expiry = 0;
        }
    }

    /// The member revokes the app: its tokens stop working.
    pub fn revoke_all(&self) {
        let mut inner = self.shared.lock();
        let tokens: Vec<String> = inner.access_tokens.keys().cloned().collect();
        inner.revoked.extend(tokens);
        inner.refresh_tokens.clear();
    }
}

impl Drop for LinkedInFake {
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

fn api_error(status: StatusCode, service: Option<i64>, code: Option<&str>, message: &str) -> Response {
    let mut body = json!({"status": status.as_u16(), "message": message});
    if let Some(service) = service {
        body["serviceErrorCode"] = json!(service);
    }
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    (status, axum::Json(body)).into_response()
}

/// Records every request; rate-limits and checks the bearer on the API (`/v2/`, `/rest/` and
/// uploads).
async fn guard(State(shared): St, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let api = !path.starts_with("/oauth/");
    let refused = api.then(|| {
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned)
            .unwrap_or_default();
        let mut inner = shared.lock();
        if inner.rate_limited > 0 {
            inner.rate_limited -= 1;
            return Some(fixtures::respond("linkedin/rate_limited", &[]));
        }
        if inner.revoked.contains(&bearer) {
            return Some(fixtures::respond("linkedin/revoked_token", &[]));
        }
        match inner.access_tokens.get(&bearer) {
            None => Some(fixtures::respond("linkedin/invalid_token", &[])),
            Some(expiry) if *expiry <= now() => Some(fixtures::respond("linkedin/expired_token", &[])),
            Some(_) => None,
        }
    });
    let response = match refused.flatten() {
        Some(response) => response,
        None => next.run(request).await,
    };
    shared.lock().requests.push(RecordedRequest { method, path, status: response.status().as_u16() });
    response
}

/// The consent page, answered at once as if the member agreed.
async fn authorize(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let scopes: HashSet<&str> = field("scope").split(' ').collect();
    if field("response_type") != "code" || field("client_id") != CLIENT_ID || field("state").is_empty() {
        return (StatusCode::BAD_REQUEST, "invalid_request").into_response();
    }
    if !["openid", "profile", "w_member_social"].iter().all(|s| scopes.contains(s)) {
        return (StatusCode::BAD_REQUEST, "unauthorized_scope_error").into_response();
    }
    let code = random_token("AQT");
    shared.lock().grants.insert(code.clone(), field("redirect_uri").to_owned());
    let mut location = url::Url::parse(field("redirect_uri")).unwrap();
    location.query_pairs_mut().append_pair("code", &code).append_pair("state", field("state"));
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error, "error_description": description})))
        .into_response()
}

async fn token(State(shared): St, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"}))).into_response();
    }
    let mut inner = shared.lock();
    match field("grant_type") {
        "authorization_code" => {
            if inner.grants.remove(field("code")).is_none_or(|uri| uri != field("redirect_uri")) {
                return oauth_error(
                    "invalid_request",
                    "Unable to retrieve access token: authorization code not found",
                );
            }
        }
        "refresh_token" => {
            if !inner.programmatic_refresh || !inner.refresh_tokens.contains(field("refresh_token")) {
                return fixtures::respond("linkedin/invalid_refresh_token", &[]);
            }
        }
        _ => return oauth_error("unsupported_grant_type", "Unsupported grant type"),
    }
    let access = random_token("AQV");
    inner.access_tokens.insert(access.clone(), now() + ACCESS_TOKEN_LIFETIME);
    let vars = [("access_token", json!(access)), ("expires_in", json!(ACCESS_TOKEN_LIFETIME))];
    if inner.programmatic_refresh {
        // LinkedIn answers the same refresh token, its lifetime counting down.
        let refresh = match field("grant_type") {
            "refresh_token" => field("refresh_token").to_owned(),
            _ => random_token("AQX"),
        };
        inner.refresh_tokens.insert(refresh.clone());
        let refresh = [("refresh_token", json!(refresh)), ("refresh_token_expires_in", json!(31_536_000))];
        return fixtures::respond("linkedin/token_refreshable", &[vars.as_slice(), &refresh].concat());
    }
    fixtures::respond("linkedin/token", &vars)
}

async fn userinfo(State(shared): St) -> Response {
    let body = json!({
        "sub": MEMBER_SUB, "name": MEMBER_NAME, "given_name": "Ada", "family_name": "Crier",
        "picture": format!("{}/media/{MEMBER_SUB}.jpg", shared.base_url), "locale": {"country": "US", "language": "en"},
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// The versioned API's headers, or LinkedIn's refusal.
fn version_of(headers: &HeaderMap) -> Result<String, Box<Response>> {
    let restli = headers.get("x-restli-protocol-version").and_then(|v| v.to_str().ok());
    let version = headers.get("linkedin-version").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if restli != Some("2.0.0") {
        return Err(Box::new(api_error(
            StatusCode::BAD_REQUEST,
            None,
            None,
            "X-Restli-Protocol-Version 2.0.0 is required",
        )));
    }
    if version.len() != 6 || !version.chars().all(|c| c.is_ascii_digit()) {
        return Err(Box::new(api_error(
            StatusCode::from_u16(426).unwrap(),
            None,
            Some("NONEXISTENT_VERSION"),
            "Requested version is not active",
        )));
    }
    Ok(version.to_owned())
}

async fn initialize_upload(
    State(shared): St,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(refusal) = version_of(&headers) {
        return *refusal;
    }
    if query.get("action").map(String::as_str) != Some("initializeUpload") {
        return api_error(StatusCode::BAD_REQUEST, None, None, "Unknown action");
    }
    if body["initializeUploadRequest"]["owner"].as_str() != Some(LinkedInFake::author().as_str()) {
        return api_error(
            StatusCode::FORBIDDEN,
            Some(100),
            Some("ACCESS_DENIED"),
            "Not enough permissions to upload for this owner",
        );
    }
    let mut inner = shared.lock();
    let id = format!("D4E10AQ{:06}", inner.images.len() + 1);
    let urn = format!("urn:li:image:{id}");
    inner.images.insert(urn.clone(), None);
    let value = json!({
        "uploadUrlExpiresAt": (now() + 3600) * 1000,
        "uploadUrl": format!("{}/dms-uploads/{id}", shared.base_url),
        "image": urn,
    });
    (StatusCode::OK, axum::Json(json!({"value": value}))).into_response()
}

async fn upload(State(shared): St, Path(id): Path<String>, body: Bytes) -> Response {
    let mut inner = shared.lock();
    match inner.images.get_mut(&format!("urn:li:image:{id}")) {
        Some(slot) => {
            *slot = Some(body.to_vec());
            StatusCode::CREATED.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The commentary as LinkedIn shows it: escapes removed, cut at an unescaped reserved character.
fn render(commentary: &str) -> String {
    let mut out = String::new();
    let mut chars = commentary.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next) => out.push(next),
                None => break,
            }
        } else if RESERVED.contains(c) {
            break;
        } else {
            out.push(c);
        }
    }
    out
}

/// `DELETE /rest/posts/{encoded urn}` with `X-RestLi-Method: DELETE`: 204 with no body, or 404
/// for a post that is not there.
async fn delete_post(State(shared): St, headers: HeaderMap, Path(urn): Path<String>) -> Response {
    if let Err(refusal) = version_of(&headers) {
        return *refusal;
    }
    if headers.get("x-restli-method").and_then(|v| v.to_str().ok()) != Some("DELETE") {
        return api_error(StatusCode::BAD_REQUEST, None, None, "X-RestLi-Method DELETE is required");
    }
    let mut inner = shared.lock();
    let there = inner.posts.iter().any(|p| p.urn == urn);
    if !there || inner.deleted_posts.contains(&urn) {
        return api_error(StatusCode::NOT_FOUND, None, None, &format!("Not Found: {urn}"));
    }
    inner.deleted_posts.push(urn);
    StatusCode::NO_CONTENT.into_response()
}

async fn create_post(State(shared): St, headers: HeaderMap, axum::Json(body): axum::Json<Value>) -> Response {
    let version = match version_of(&headers) {
        Ok(version) => version,
        Err(refusal) => return *refusal,
    };
    if body["author"].as_str() != Some(LinkedInFake::author().as_str()) {
        return api_error(
            StatusCode::FORBIDDEN,
            Some(100),
            Some("ACCESS_DENIED"),
            "Not enough permissions to post as this author",
        );
    }
    let commentary = body["commentary"].as_str().unwrap_or_default().to_owned();
    if commentary.chars().count() > 3000 {
        return api_error(StatusCode::UNPROCESSABLE_ENTITY, None, None, "/commentary :: length exceeds 3000");
    }
    let lifecycle = body["lifecycleState"].as_str() == Some("PUBLISHED");
    let visible = matches!(body["visibility"].as_str(), Some("PUBLIC" | "CONNECTIONS"));
    if !lifecycle || !visible || body["distribution"]["feedDistribution"].as_str().is_none() {
        return api_error(StatusCode::UNPROCESSABLE_ENTITY, None, None, "Missing or invalid required fields");
    }
    let mut inner = shared.lock();
    let single = body["content"]["media"]["id"].as_str().map(str::to_owned);
    let many = body["content"]["multiImage"]["images"].as_array().map(|images| {
        images.iter().map(|i| i["id"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>()
    });
    let media: Vec<String> = single.into_iter().chain(many.into_iter().flatten()).collect();
    let unusable = media.iter().any(|urn| {
        if urn.starts_with("urn:li:video:") {
            inner.videos.get(urn).is_none_or(|v| v.status != "AVAILABLE")
        } else {
            inner.images.get(urn).is_none_or(Option::is_none)
        }
    });
    if unusable {
        return api_error(
            StatusCode::BAD_REQUEST,
            None,
            None,
            "Media is not uploaded and processed, or does not belong to the author",
        );
    }
    if let Some(earlier) =
        inner.posts.iter().find(|p| p.body["commentary"] == body["commentary"] && !commentary.is_empty())
    {
        return fixtures::respond("linkedin/duplicate_post", &[("urn", json!(earlier.urn))]);
    }
    let urn = format!("urn:li:share:{}", 7_200_000_000_000_000_000u64 + inner.posts.len() as u64);
    inner.posts.push(Post { urn: urn.clone(), rendered: render(&commentary), body, version });
    fixtures::respond("linkedin/post_created", &[("urn", json!(urn))])
}

/// `POST /rest/videos?action=initializeUpload` or `?action=finalizeUpload`.
async fn video_action(
    State(shared): St,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(refusal) = version_of(&headers) {
        return *refusal;
    }
    match query.get("action").map(String::as_str) {
        Some("initializeUpload") => initialize_video(&shared, &body["initializeUploadRequest"]),
        Some("finalizeUpload") => finalize_video(&shared, &body["finalizeUploadRequest"]),
        _ => api_error(StatusCode::BAD_REQUEST, None, None, "Unknown action"),
    }
}

/// The video's URN and, for each 4 MiB part, its byte range and upload URL.
fn initialize_video(shared: &Shared, request: &Value) -> Response {
    if request["owner"].as_str() != Some(LinkedInFake::author().as_str()) {
        return api_error(
            StatusCode::FORBIDDEN,
            Some(100),
            Some("ACCESS_DENIED"),
            "Accessing this video resource is forbidden. Please check your permissions for this resource",
        );
    }
    let Some(size) = request["fileSizeBytes"].as_u64().filter(|n| *n > 0).map(|n| n as usize) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            None,
            None,
            "/initializeUploadRequest/fileSizeBytes :: required",
        );
    };
    if !request["uploadCaptions"].is_boolean() || !request["uploadThumbnail"].is_boolean() {
        return api_error(
            StatusCode::BAD_REQUEST,
            None,
            None,
            "uploadCaptions and uploadThumbnail are required",
        );
    }
    let mut inner = shared.lock();
    let id = format!("C5F10AQ{:06}", inner.videos.len() + 1);
    let urn = format!("urn:li:video:{id}");
    let parts: Vec<VideoPart> = (0..size)
        .step_by(VIDEO_PART_BYTES)
        .map(|first_byte| VideoPart {
            first_byte,
            last_byte: (first_byte + VIDEO_PART_BYTES).min(size) - 1,
            uploaded: None,
        })
        .collect();
    let instructions: Vec<Value> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            json!({
                "uploadUrl": format!("{}/video-uploads/{id}/{i}", shared.base_url),
                "firstByte": part.first_byte,
                "lastByte": part.last_byte,
            })
        })
        .collect();
    // A single-part upload has an empty token.
    let upload_token = if parts.len() > 1 { random_token("") } else { String::new() };
    inner.videos.insert(
        urn.clone(),
        Video {
            size,
            upload_token: upload_token.clone(),
            parts,
            status: "WAITING_UPLOAD",
            processing_polls: 1,
            failing: false,
            bytes: None,
        },
    );
    let value = json!({
        "uploadUrlsExpireAt": (now() + 86_400) * 1000,
        "video": urn,
        "uploadInstructions": instructions,
        "uploadToken": upload_token,
    });
    (StatusCode::OK, axum::Json(json!({"value": value}))).into_response()
}

/// One part's bytes, exactly its range's length; answered with the etag `finalizeUpload` wants.
async fn upload_part(State(shared): St, Path((id, part)): Path<(String, usize)>, body: Bytes) -> Response {
    let mut inner = shared.lock();
    if inner.rate_limited_parts > 0 {
        inner.rate_limited_parts -= 1;
        let message = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.";
        return api_error(StatusCode::TOO_MANY_REQUESTS, None, None, message);
    }
    let Some(slot) = inner.videos.get_mut(&format!("urn:li:video:{id}")).and_then(|v| v.parts.get_mut(part))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if body.len() != slot.last_byte - slot.first_byte + 1 {
        let message = format!("part {part} must be bytes {}..={}", slot.first_byte, slot.last_byte);
        return api_error(StatusCode::BAD_REQUEST, None, None, &message);
    }
    let etag = format!("/ambry-video/signedId/{}", random_token(""));
    slot.uploaded = Some((body.to_vec(), etag.clone()));
    (StatusCode::OK, [(header::ETAG, etag)]).into_response()
}

/// Every part uploaded, named by its etag in order, adding up to the size announced.
fn finalize_video(shared: &Shared, request: &Value) -> Response {
    let mut inner = shared.lock();
    let failing = inner.fail_video_processing;
    let urn = request["video"].as_str().unwrap_or_default();
    let Some(video) = inner.videos.get_mut(urn) else {
        return api_error(StatusCode::NOT_FOUND, None, None, &format!("Not Found: {urn}"));
    };
    if request["uploadToken"].as_str() != Some(video.upload_token.as_str()) {
        return api_error(StatusCode::BAD_REQUEST, None, None, "Invalid uploadToken");
    }
    let sent: Vec<&str> = request["uploadedPartIds"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let uploaded: Option<Vec<&(Vec<u8>, String)>> = video.parts.iter().map(|p| p.uploaded.as_ref()).collect();
    let Some(uploaded) = uploaded else {
        return api_error(StatusCode::BAD_REQUEST, None, None, "Not all parts of the video are uploaded");
    };
    if sent != uploaded.iter().map(|(_, etag)| etag.as_str()).collect::<Vec<_>>() {
        return api_error(
            StatusCode::BAD_REQUEST,
            None,
            None,
            "uploadedPartIds do not match the uploaded parts",
        );
    }
    let bytes: Vec<u8> = uploaded.iter().flat_map(|(bytes, _)| bytes.iter().copied()).collect();
    if bytes.len() != video.size {
        return api_error(
            StatusCode::BAD_REQUEST,
            None,
            None,
            "The uploaded parts do not add up to fileSizeBytes",
        );
    }
    video.bytes = Some(bytes);
    video.status = "PROCESSING";
    video.failing = failing;
    StatusCode::OK.into_response()
}

/// `GET /rest/videos/{encoded urn}`: `PROCESSING` for the first poll after finalizing, then
/// `AVAILABLE` (or `PROCESSING_FAILED`).
async fn video_status(State(shared): St, headers: HeaderMap, Path(urn): Path<String>) -> Response {
    if let Err(refusal) = version_of(&headers) {
        return *refusal;
    }
    let mut inner = shared.lock();
    let Some(video) = inner.videos.get_mut(&urn) else {
        return api_error(StatusCode::NOT_FOUND, None, None, &format!("Not Found: {urn}"));
    };
    if video.status == "PROCESSING" {
        if video.processing_polls > 0 {
            video.processing_polls -= 1;
        } else {
            video.status = if video.failing { "PROCESSING_FAILED" } else { "AVAILABLE" };
        }
    }
    let mut body = json!({"owner": LinkedInFake::author(), "id": urn, "status": video.status});
    if video.status == "AVAILABLE" {
        body["downloadUrl"] = json!(format!("{}/video-downloads/{urn}", shared.base_url));
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}
