//! An in-process fake YouTube (and Google OAuth) for tests: axum on 127.0.0.1, following the
//! documented shapes closely enough to drive a real client:
//! - the consent page `/o/oauth2/v2/auth` (answered at once as if the user agreed) and
//!   `POST /token` with PKCE S256 and the client's id and secret in the body
//!   (developers.google.com/identity/protocols/oauth2/web-server): hour-long access tokens; a
//!   refresh keeps the refresh token unless [`YouTubeFake::rotate_refresh_tokens`]; `POST /revoke`;
//! - `GET /youtube/v3/channels?part=snippet&mine=true` (developers.google.com/youtube/v3/docs/channels/list);
//! - `videos.insert` with the resumable protocol
//!   (developers.google.com/youtube/v3/guides/using_resumable_upload_protocol): the POST with
//!   `uploadType=resumable` answers a session URI in `Location`; PUTs with `Content-Range` must
//!   continue exactly where the session stands, every chunk but the last a multiple of 256 KiB;
//!   `308` with `Range` until the last byte, then the video resource. The chunks are reassembled.
//! - `DELETE /youtube/v3/videos?id=…` (developers.google.com/youtube/v3/docs/videos/delete):
//!   `204` and the video is gone; `404 videoNotFound` for a video that is not (or no longer)
//!   there; a token not granted `youtube.force-ssl`, `youtube` or `youtubepartner` is refused
//!   `403 insufficientPermissions` as Google does (with `status: PERMISSION_DENIED`,
//!   `ACCESS_TOKEN_SCOPE_INSUFFICIENT` and `WWW-Authenticate: … error="insufficient_scope"`).
//!   Tokens carry the scopes asked on the consent page, answered as `scope` by `POST /token`.
//! - errors as `{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}`
//!   (developers.google.com/youtube/v3/docs/errors); `invalidTitle` for a title over 100
//!   characters or with `<`/`>`, `invalidDescription` likewise for the description.
//!
//! Where it is a fake: one app ([`CLIENT_ID`], [`CLIENT_SECRET`]), one account with one channel;
//! every endpoint shares one base URL; faults are injected by the test.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fixtures;

pub const CLIENT_ID: &str = "1234567890-crier.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-youtube-test-secret";
pub const CHANNEL_ID: &str = "UCcrierTestChannel0000001";
pub const CHANNEL_TITLE: &str = "Crier Videos";
pub const CUSTOM_URL: &str = "@crier";
pub const ACCESS_TOKEN_LIFETIME: i64 = 3599;
pub const UPLOAD_SCOPE: &str = "https://www.googleapis.com/auth/youtube.upload";
pub const READONLY_SCOPE: &str = "https://www.googleapis.com/auth/youtube.readonly";
pub const FORCE_SSL_SCOPE: &str = "https://www.googleapis.com/auth/youtube.force-ssl";
/// The scopes `videos.delete` accepts (developers.google.com/youtube/v3/docs/videos/delete).
const DELETE_SCOPES: [&str; 3] = [
    FORCE_SSL_SCOPE,
    "https://www.googleapis.com/auth/youtube",
    "https://www.googleapis.com/auth/youtubepartner",
];
const UNIT: usize = 256 * 1024;

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// `Content-Range` of an upload PUT.
    pub content_range: Option<String>,
}

/// A resumable session, and the video it became.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub metadata: Value,
    pub declared_length: usize,
    pub declared_type: Option<String>,
    /// The bytes received so far, in order.
    pub bytes: Vec<u8>,
    pub video_id: Option<String>,
}

struct Inner {
    /// code → (redirect URI, PKCE challenge, scopes consented to).
    grants: HashMap<String, (String, String, String)>,
    /// access token → (expiry, scopes).
    access_tokens: HashMap<String, (i64, String)>,
    /// refresh token → scopes.
    refresh_tokens: HashMap<String, String>,
    /// The `scope` of every consent page shown.
    consents: Vec<String>,
    /// Videos deleted, by id.
    deleted: Vec<String>,
    rotate: bool,
    revoked: Vec<String>,
    uploads: HashMap<String, Upload>,
    /// The next API error to answer: (status, reason, message).
    next_error: Option<(u16, String, String)>,
    /// The next chunk PUTs answer 503 without keeping anything.
    fail_chunks: usize,
    /// The next chunk PUT keeps only this many of its bytes (a partial receipt).
    keep_partial: Option<usize>,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;
type St = State<Arc<Shared>>;

/// The fake YouTube; the server stops when this is dropped.
pub struct YouTubeFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl YouTubeFake {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            consents: Vec::new(),
            deleted: Vec::new(),
            rotate: false,
            revoked: Vec::new(),
            uploads: HashMap::new(),
            next_error: None,
            fail_chunks: 0,
            keep_partial: None,
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/o/oauth2/v2/auth", get(authorize))
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/youtube/v3/channels", get(channels))
            .route("/youtube/v3/videos", delete(delete_video))
            .route("/upload/youtube/v3/videos", post(open_session).put(put_chunk))
            .layer(middleware::from_fn_with_state(shared.clone(), guard))
            .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`: the stand-in for googleapis.com, oauth2.googleapis.com and
    /// accounts.google.com.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The sessions opened, by upload id.
    pub fn uploads(&self) -> HashMap<String, Upload> {
        self.shared.lock().uploads.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn revoked(&self) -> Vec<String> {
        self.shared.lock().revoked.clone()
    }

    pub fn refresh_token_valid(&self, token: &str) -> bool {
        self.shared.lock().refresh_tokens.contains_key(token)
    }

    /// The `scope` asked on each consent page shown, in order.
    pub fn consents(&self) -> Vec<String> {
        self.shared.lock().consents.clone()
    }

    /// The ids of the videos uploaded and not deleted.
    pub fn videos(&self) -> Vec<String> {
        let inner = self.shared.lock();
        let ids = inner.uploads.values().filter_map(|u| u.video_id.clone());
        ids.filter(|id| !inner.deleted.contains(id)).collect()
    }

    /// The ids of the videos deleted, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.shared.lock().deleted.clone()
    }

    /// Refreshes answer a new refresh token and spend the old one (Google may do so).
    pub fn rotate_refresh_tokens(&self) {
        self.shared.lock().rotate = true;
    }

    /// The next Data API call (a session's opening, the channel list, a deletion) fails with Google's
    /// error shape: e.g. `(403, "quotaExceeded", "…")`.
    pub fn fail_next(&self, status: u16, reason: &str, message: &str) {
        self.shared.lock().next_error = Some((status, reason.to_owned(), message.to_owned()));
    }

    /// The next `n` chunk PUTs answer 503 `backendError` and keep nothing.
    pub fn fail_chunks(&self, n: usize) {
        self.shared.lock().fail_chunks = n;
    }

    /// The next chunk PUT keeps only its first `n` bytes, and says so in its `Range`.
    pub fn keep_partial_chunk(&self, n: usize) {
        self.shared.lock().keep_partial = Some(n);
    }

    /// Every access token issued so far has expired (refresh tokens stay good).
    pub fn expire_access_tokens(&self) {
        for (expiry, _) in self.shared.lock().access_tokens.values_mut() {
            *expiry = 0;
        }
    }
}

impl Drop for YouTubeFake {
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

/// Google's error shape (developers.google.com/youtube/v3/docs/core_errors).
fn error(status: u16, reason: &str, message: &str) -> Response {
    let domain = match reason {
        "quotaExceeded" | "uploadLimitExceeded" => "youtube.quota",
        "rateLimitExceeded" | "userRateLimitExceeded" => "usageLimits",
        "authError" => "global",
        _ => "youtube.video",
    };
    let body = json!({"error": {
        "code": status, "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
    }});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

/// Records every request; checks the bearer on the Data API (not on session PUTs, which the
/// session URI authorises) and answers an injected error.
async fn guard(State(shared): St, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let content_range =
        request.headers().get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let api = path.starts_with("/youtube/v3/") || (path.starts_with("/upload/") && method == "POST");
    let refused = api.then(|| {
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let mut inner = shared.lock();
        let expiry = bearer.and_then(|b| inner.access_tokens.get(&b).map(|(expiry, _)| *expiry));
        if expiry.is_none_or(|e| e <= now()) {
            return Some(fixtures::respond("youtube/unauthorized", &[]));
        }
        inner.next_error.take().map(|(status, reason, message)| match reason.as_str() {
            "quotaExceeded" => fixtures::respond("youtube/quota_exceeded", &[]),
            "uploadLimitExceeded" => fixtures::respond("youtube/upload_limit_exceeded", &[]),
            "userRateLimitExceeded" => fixtures::respond("youtube/rate_limited", &[]),
            _ => error(status, &reason, &message),
        })
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
    let ok = field("client_id") == CLIENT_ID
        && field("response_type") == "code"
        && field("access_type") == "offline"
        && field("code_challenge_method") == "S256"
        && !field("code_challenge").is_empty()
        && !field("state").is_empty()
        && field("scope").split(' ').any(|s| s == UPLOAD_SCOPE);
    if !ok {
        return (StatusCode::BAD_REQUEST, "Error 400: invalid_request").into_response();
    }
    let code = random_token("4/0A");
    let grant =
        (field("redirect_uri").to_owned(), field("code_challenge").to_owned(), field("scope").to_owned());
    let mut inner = shared.lock();
    inner.grants.insert(code.clone(), grant);
    inner.consents.push(field("scope").to_owned());
    drop(inner);
    let mut location = url::Url::parse(field("redirect_uri")).unwrap();
    location
        .query_pairs_mut()
        .append_pair("state", field("state"))
        .append_pair("code", &code)
        .append_pair("scope", field("scope"));
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

async fn token(State(shared): St, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        let body = json!({"error": "invalid_client", "error_description": "Unauthorized"});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    let mut inner = shared.lock();
    let access = random_token("ya29.");
    let (new_refresh, scope) = match field("grant_type") {
        "authorization_code" => {
            let Some((uri, challenge, scope)) = inner.grants.remove(field("code")) else {
                return oauth_error("invalid_grant", "Malformed auth code.");
            };
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
            if uri != field("redirect_uri") || computed != challenge {
                return oauth_error("invalid_grant", "Bad Request");
            }
            (true, scope)
        }
        "refresh_token" => {
            let old = field("refresh_token").to_owned();
            let Some(scope) = inner.refresh_tokens.get(&old).cloned() else {
                return fixtures::respond("youtube/invalid_grant", &[]);
            };
            if inner.rotate {
                inner.refresh_tokens.remove(&old);
            }
            (inner.rotate, scope)
        }
        _ => return oauth_error("unsupported_grant_type", "Invalid grant_type."),
    };
    // Google answers the granted scopes, space-separated, on both grants.
    let mut reply = vec![
        ("access_token", json!(access)),
        ("expires_in", json!(ACCESS_TOKEN_LIFETIME)),
        ("scope", json!(scope)),
    ];
    let answer = if new_refresh {
        let refresh = random_token("1//0g");
        inner.refresh_tokens.insert(refresh.clone(), scope.clone());
        reply.push(("refresh_token", json!(refresh)));
        "youtube/token_with_refresh"
    } else {
        "youtube/token"
    };
    inner.access_tokens.insert(access, (now() + ACCESS_TOKEN_LIFETIME, scope));
    fixtures::respond(answer, &reply)
}

async fn revoke(State(shared): St, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let token = form.get("token").cloned().unwrap_or_default();
    let mut inner = shared.lock();
    if inner.refresh_tokens.remove(&token).is_none() {
        return oauth_error("invalid_token", "Token expired or revoked");
    }
    inner.revoked.push(token);
    StatusCode::OK.into_response()
}

async fn channels(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    if query.get("mine").map(String::as_str) != Some("true") {
        return error(400, "missingRequiredParameter", "No filter selected.");
    }
    let thumbnail = format!("{}/yt3/{CHANNEL_ID}.jpg", shared.base_url);
    let body = json!({
        "kind": "youtube#channelListResponse",
        "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
        "items": [{
            "kind": "youtube#channel", "id": CHANNEL_ID,
            "snippet": {
                "title": CHANNEL_TITLE, "description": "", "customUrl": CUSTOM_URL,
                "thumbnails": {"default": {"url": thumbnail, "width": 88, "height": 88}},
            },
        }],
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Step 1: the metadata; the session URI in `Location`.
async fn open_session(
    State(shared): St,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    axum::Json(metadata): axum::Json<Value>,
) -> Response {
    if query.get("uploadType").map(String::as_str) != Some("resumable") {
        return error(400, "badRequest", "uploadType must be resumable here.");
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let title = metadata["snippet"]["title"].as_str().unwrap_or_default();
    let description = metadata["snippet"]["description"].as_str().unwrap_or_default();
    let bad = |t: &str| t.contains(['<', '>']);
    if title.trim().is_empty() || title.chars().count() > 100 || bad(title) {
        return fixtures::respond("youtube/invalid_title", &[]);
    }
    if description.len() > 5000 || bad(description) {
        return error(
            400,
            "invalidDescription",
            "The request metadata specifies an invalid video description.",
        );
    }
    let declared_length = header("x-upload-content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let upload_id = random_token("AUy");
    let upload = Upload {
        metadata,
        declared_length,
        declared_type: header("x-upload-content-type"),
        ..Upload::default()
    };
    shared.lock().uploads.insert(upload_id.clone(), upload);
    let location =
        format!("{}/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}", shared.base_url);
    (StatusCode::OK, [(header::LOCATION, location)]).into_response()
}

fn incomplete(received: usize) -> Response {
    if received == 0 {
        return StatusCode::PERMANENT_REDIRECT.into_response();
    }
    let range = format!("bytes=0-{}", received - 1);
    (StatusCode::PERMANENT_REDIRECT, [(header::RANGE, range)]).into_response()
}

/// Steps 2–4: a chunk with `Content-Range: bytes a-b/total`, or `bytes */total` asking.
async fn put_chunk(
    State(shared): St,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = shared.lock();
    let id = query.get("upload_id").cloned().unwrap_or_default();
    let range = headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let range = range.strip_prefix("bytes ").unwrap_or_default().to_owned();
    let Some((span, total)) = range.split_once('/') else {
        return error(400, "badRequest", "Content-Range is required.");
    };
    let total: usize = total.parse().unwrap_or(0);
    if span != "*" && inner.fail_chunks > 0 {
        inner.fail_chunks -= 1;
        return error(503, "backendError", "Backend Error");
    }
    let keep = inner.keep_partial.take();
    let Some(upload) = inner.uploads.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    if total != upload.declared_length {
        return error(400, "badRequest", "The total does not match X-Upload-Content-Length.");
    }
    if span != "*" {
        let parsed = span.split_once('-').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
        let Some((first, last)) = parsed.filter(|(a, b): &(usize, usize)| a <= b && b - a + 1 == body.len())
        else {
            return error(400, "badRequest", "Content-Range does not match the body.");
        };
        let is_last = last + 1 == total;
        if first != upload.bytes.len() || last >= total || (!is_last && !body.len().is_multiple_of(UNIT)) {
            return error(400, "badRequest", "Chunks must continue the upload in multiples of 256 KiB.");
        }
        let kept = keep.map_or(body.len(), |n| n.min(body.len()));
        upload.bytes.extend_from_slice(&body[..kept]);
    }
    if upload.bytes.len() < total {
        return incomplete(upload.bytes.len());
    }
    let video_id = upload.video_id.get_or_insert_with(|| random_token("v")[..12].to_owned()).clone();
    let vars = [
        ("id", json!(video_id)),
        ("snippet", upload.metadata["snippet"].clone()),
        ("privacy_status", upload.metadata["status"]["privacyStatus"].clone()),
    ];
    fixtures::respond("youtube/video_inserted", &vars)
}

/// Google's answer to a token without the scope a method needs (the AIP-193 shape the Data API
/// answers, with the legacy `errors` list).
fn insufficient_scope() -> Response {
    let message = "Request had insufficient authentication scopes.";
    let body = json!({"error": {
        "code": 403, "message": message,
        "errors": [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}],
        "status": "PERMISSION_DENIED",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com",
            "metadata": {"service": "youtube.googleapis.com", "method": "youtube.api.v3.V3DataVideoService.Delete"},
        }],
    }});
    let challenge = format!(
        "Bearer realm=\"https://accounts.google.com/\", error=\"insufficient_scope\", scope=\"{}\"",
        DELETE_SCOPES.join(" ")
    );
    (StatusCode::FORBIDDEN, [(header::WWW_AUTHENTICATE, challenge)], axum::Json(body)).into_response()
}

/// `videos.delete`: the bearer was checked by `guard`; its scopes are checked here.
async fn delete_video(
    State(shared): St,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let mut inner = shared.lock();
    let scope = inner.access_tokens.get(bearer).map(|(_, scope)| scope.clone()).unwrap_or_default();
    if !scope.split(' ').any(|s| DELETE_SCOPES.contains(&s)) {
        return insufficient_scope();
    }
    let Some(id) = query.get("id").filter(|id| !id.is_empty()).cloned() else {
        return error(400, "missingRequiredParameter", "No filter selected. Expected one of: id");
    };
    let exists = inner.uploads.values().any(|u| u.video_id.as_deref() == Some(id.as_str()));
    if !exists || inner.deleted.contains(&id) {
        return error(
            404,
            "videoNotFound",
            "The video identified by the <code>id</code> parameter could not be found.",
        );
    }
    inner.deleted.push(id);
    StatusCode::NO_CONTENT.into_response()
}
