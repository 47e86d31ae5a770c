//! An in-process fake Mastodon instance for tests: axum on 127.0.0.1, following the documented
//! Mastodon API (docs.joinmastodon.org) closely enough to drive a real client through app
//! registration, OAuth 2 with PKCE, media upload with asynchronous processing, idempotent status
//! posting and deletion, with Mastodon's error shapes (`{"error": "..."}`, and
//! `{"error", "error_description"}` on the OAuth endpoints).
//!
//! Where it is a fake: there is one account; `GET /oauth/authorize` needs no login and answers
//! at once with the redirect (the test plays the user); `scheduled_at` and polls are ignored; URL
//! recognition for the character count is an approximation of Mastodon's (an `http(s)://` URL
//! whose host has a dot and an alphabetic top-level label).
//!
//! Knobs make the next requests fail: [`MastodonFake::rate_limit_next`] (429),
//! [`MastodonFake::fail_next_status_posts`] (503 before anything is created) and
//! [`MastodonFake::fail_next_statuses_after_commit`] (the status is created, then 500: a retry
//! with the same `Idempotency-Key` must not duplicate it).

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

use crate::fixtures;

/// `configuration.statuses.max_characters`.
pub const MAX_CHARACTERS: usize = 500;
/// `configuration.statuses.characters_reserved_per_url`.
pub const CHARACTERS_RESERVED_PER_URL: usize = 23;
/// `configuration.statuses.max_media_attachments`.
pub const MAX_MEDIA_ATTACHMENTS: usize = 4;
/// `configuration.media_attachments.description_limit`.
pub const DESCRIPTION_LIMIT: usize = 1500;
/// `configuration.media_attachments.image_size_limit` (16 MiB).
pub const IMAGE_SIZE_LIMIT: usize = 16 * 1024 * 1024;
/// `configuration.media_attachments.video_size_limit` (99 MiB).
pub const VIDEO_SIZE_LIMIT: usize = 99 * 1024 * 1024;
/// `X-RateLimit-Limit` (Mastodon's default: 300 requests per 5 minutes).
pub const RATE_LIMIT: u32 = 300;

const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(3600);
const CODE_LIFETIME: Duration = Duration::from_secs(600);
const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";
const SUPPORTED_MIME_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/heic",
    "image/heif",
    "image/webp",
    "image/avif",
    "video/webm",
    "video/mp4",
    "video/quicktime",
    "video/ogg",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wave",
    "audio/vnd.wave",
    "audio/ogg",
    "audio/vorbis",
    "audio/mpeg",
    "audio/mp3",
    "audio/webm",
    "audio/flac",
    "audio/aac",
    "audio/m4a",
    "audio/x-m4a",
    "audio/mp4",
    "audio/3gpp",
    "video/x-ms-asf",
];
const SCOPE_AREAS: &[&str] = &[
    "accounts",
    "blocks",
    "bookmarks",
    "favourites",
    "filters",
    "follows",
    "lists",
    "mutes",
    "notifications",
    "search",
    "statuses",
    "media",
    "reports",
    "conversations",
];

/// What the fake keeps of one upload, for a test to assert on.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedMedia {
    pub id: String,
    /// `image`, `gifv`, `video`, `audio`.
    pub kind: String,
    pub file_name: Option<String>,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub description: Option<String>,
    /// `focus` as sent (`"x,y"`), parsed.
    pub focus: Option<(f64, f64)>,
    /// The status it is attached to, once it is.
    pub status_id: Option<String>,
    /// Done processing (its `url` is set).
    pub processed: bool,
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub idempotency_key: Option<String>,
    /// The status the fake answered with.
    pub status: u16,
}

struct App {
    id: String,
    name: String,
    website: Option<String>,
    scopes: Vec<String>,
    redirect_uris: Vec<String>,
    client_id: String,
    client_secret: String,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    code_challenge: Option<String>,
    issued: Instant,
}

#[derive(Clone)]
struct Token {
    client_id: String,
    scopes: Vec<String>,
    revoked: bool,
    /// A user's token (authorization code); `false` for client credentials.
    user: bool,
}

struct Media {
    public: UploadedMedia,
    polls_left: u32,
}

struct StoredStatus {
    json: Value,
    text: String,
    deleted: bool,
}

struct Inner {
    apps: Vec<App>,
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, Token>,
    media: Vec<Media>,
    statuses: Vec<StoredStatus>,
    idempotency: HashMap<String, (String, Instant)>,
    next_id: u64,
    rate_limited: usize,
    fail_posts: usize,
    fail_after_commit: usize,
    processing_polls: u32,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;

type St = State<Arc<Shared>>;

/// The fake instance; the server stops when this is dropped.
pub struct MastodonFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl MastodonFake {
    /// Serves on 127.0.0.1 on a free port.
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            apps: Vec::new(),
            grants: HashMap::new(),
            tokens: HashMap::new(),
            media: Vec::new(),
            statuses: Vec::new(),
            idempotency: HashMap::new(),
            next_id: 113_000_000_000_000_000,
            rate_limited: 0,
            fail_posts: 0,
            fail_after_commit: 0,
            processing_polls: 1,
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/api/v1/apps", post(create_app))
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/token", post(token))
            .route("/oauth/revoke", post(revoke))
            .route("/.well-known/oauth-authorization-server", get(oauth_metadata))
            .route("/api/v1/accounts/verify_credentials", get(verify_credentials))
            .route("/api/v1/media", post(upload_media))
            .route("/api/v2/media", post(upload_media))
            .route("/api/v1/media/{id}", get(get_media).put(update_media))
            .route("/api/v1/statuses", post(post_status))
            .route("/api/v1/statuses/{id}", get(get_status).delete(delete_status))
            .route("/api/v1/instance", get(instance_v1))
            .route("/api/v2/instance", get(instance_v2))
            .fallback(not_found_route)
            .layer(middleware::from_fn_with_state(shared.clone(), record_and_rate_limit))
            .layer(DefaultBodyLimit::max(VIDEO_SIZE_LIMIT + 1024 * 1024))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Every status created so far (deleted ones too), oldest first, as the API rendered it.
    pub fn statuses(&self) -> Vec<Value> {
        self.shared.lock().statuses.iter().map(|s| s.json.clone()).collect()
    }

    /// The statuses not deleted, oldest first.
    pub fn live_statuses(&self) -> Vec<Value> {
        self.shared.lock().statuses.iter().filter(|s| !s.deleted).map(|s| s.json.clone()).collect()
    }

    /// The plain text a status was posted with (what `DELETE` returns as `text`).
    pub fn status_text(&self, id: &str) -> Option<String> {
        self.shared.lock().statuses.iter().find(|s| s.json["id"] == id).map(|s| s.text.clone())
    }

    /// An upload, with its bytes and description.
    pub fn media(&self, id: &str) -> Option<UploadedMedia> {
        self.shared.lock().media.iter().find(|m| m.public.id == id).map(|m| m.public.clone())
    }

    /// Every upload, oldest first.
    pub fn all_media(&self) -> Vec<UploadedMedia> {
        self.shared.lock().media.iter().map(|m| m.public.clone()).collect()
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The account every user token belongs to (as `verify_credentials` renders it).
    pub fn account(&self) -> Value {
        account_json(&self.shared.base_url)
    }

    /// Revokes every token issued so far: they get `401 {"error":"The access token was revoked"}`.
    pub fn revoke_all_tokens(&self) {
        for token in self.shared.lock().tokens.values_mut() {
            token.revoked = true;
        }
    }

    /// The next `n` requests, whatever they are, get `429 {"error":"Too many requests"}`.
    pub fn rate_limit_next(&self, n: usize) {
        self.shared.lock().rate_limited = n;
    }

    /// The next `n` `POST /api/v1/statuses` get a 503 (an HTML page, as a proxy in front of
    /// Mastodon sends) and create nothing.
    pub fn fail_next_status_posts(&self, n: usize) {
        self.shared.lock().fail_posts = n;
    }

    /// The next `n` `POST /api/v1/statuses` that create a status create it (and remember its
    /// `Idempotency-Key`), then answer `500 {"error":"Internal Server Error"}`.
    pub fn fail_next_statuses_after_commit(&self, n: usize) {
        self.shared.lock().fail_after_commit = n;
    }

    /// Media uploaded from now on answer `GET /api/v1/media/:id` with 206 (still processing) `n`
    /// times, then 200; until then they cannot be attached. `0`: the upload answers 200 with its
    /// `url` at once, as Mastodon does for small images. Default 1.
    pub fn set_media_processing_polls(&self, n: u32) {
        self.shared.lock().processing_polls = n;
    }

    /// Registers an app with these scopes (space separated) and issues a user token for it,
    /// for tests that do not exercise the OAuth dance. Returns the access token.
    pub fn issue_token(&self, scopes: &str) -> String {
        let mut inner = self.shared.lock();
        let scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
        let app_id = inner.next_id().to_string();
        let client_id = random_token();
        inner.apps.push(App {
            id: app_id,
            name: "test".into(),
            website: None,
            scopes: scopes.clone(),
            redirect_uris: vec![OOB.into()],
            client_id: client_id.clone(),
            client_secret: random_token(),
        });
        let access = random_token();
        inner.tokens.insert(access.clone(), Token { client_id, scopes, revoked: false, user: true });
        access
    }
}

impl Drop for MastodonFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Inner {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn app_by_client_id(&self, client_id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.client_id == client_id)
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn now_iso() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({ "error": error, "error_description": description }))).into_response()
}

fn ok_json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Rails-style parameters: the query string, then the body (JSON object, or form-encoded with
/// `key[]` collected into arrays).
#[expect(clippy::result_large_err, reason = "the error is the handler's finished answer")]
fn params(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Result<Map<String, Value>, Response> {
    let mut map = Map::new();
    if let Some(query) = query {
        merge_form(&mut map, query.as_bytes());
    }
    if body.is_empty() {
        return Ok(map);
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => map.extend(object),
            _ => return Err(error(StatusCode::BAD_REQUEST, "Error while parsing request parameters")),
        }
    } else {
        merge_form(&mut map, body);
    }
    Ok(map)
}

fn merge_form(map: &mut Map<String, Value>, bytes: &[u8]) {
    for (key, value) in url::form_urlencoded::parse(bytes) {
        if let Some(base) = key.strip_suffix("[]") {
            let entry = map.entry(base.to_owned()).or_insert_with(|| Value::Array(Vec::new()));
            if !entry.is_array() {
                *entry = Value::Array(Vec::new());
            }
            if let Value::Array(items) = entry {
                items.push(Value::String(value.into_owned()));
            }
        } else {
            map.insert(key.into_owned(), Value::String(value.into_owned()));
        }
    }
}

fn str_param(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A non-blank string parameter.
fn present(map: &Map<String, Value>, key: &str) -> Option<String> {
    str_param(map, key).filter(|s| !s.trim().is_empty())
}

fn list_param(map: &Map<String, Value>, key: &str) -> Vec<String> {
    match map.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// Rails' boolean cast: `None` when absent or blank.
fn bool_param(map: &Map<String, Value>, key: &str) -> Option<bool> {
    match map.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Null => None,
        Value::Number(n) => Some(n.as_f64() != Some(0.0)),
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(!matches!(s.as_str(), "0" | "f" | "F" | "false" | "FALSE" | "off" | "OFF")),
        _ => Some(true),
    }
}

fn valid_scope(scope: &str) -> bool {
    match scope {
        "read" | "write" | "follow" | "push" | "profile" | "admin:read" | "admin:write" => true,
        _ => scope
            .strip_prefix("read:")
            .or_else(|| scope.strip_prefix("write:"))
            .is_some_and(|area| SCOPE_AREAS.contains(&area)),
    }
}

fn scopes_string(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// The bearer token of a request, checked; `accepted` lists the scopes any of which is enough.
#[expect(clippy::result_large_err, reason = "the error is the handler's finished answer")]
fn authenticate(
    inner: &Inner,
    headers: &HeaderMap,
    accepted: &[&str],
    require_user: bool,
) -> Result<Token, Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(token) = bearer.and_then(|b| inner.tokens.get(b)) else {
        return Err(fixtures::respond("mastodon/invalid_token", &[]));
    };
    if token.revoked {
        return Err(fixtures::respond("mastodon/revoked_token", &[]));
    }
    if !token.scopes.iter().any(|s| accepted.contains(&s.as_str())) {
        return Err(error(StatusCode::FORBIDDEN, "This action is outside the authorized scopes"));
    }
    if require_user && !token.user {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "This method requires an authenticated user"));
    }
    Ok(token.clone())
}

fn has_bearer(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION)
}

fn host_of(base_url: &str) -> String {
    base_url.trim_start_matches("http://").to_owned()
}

fn account_json(base_url: &str) -> Value {
    json!({
        "id": "109000000000000001",
        "username": "crier",
        "acct": "crier",
        "display_name": "Crier Test",
        "locked": false,
        "bot": false,
        "discoverable": true,
        "group": false,
        "created_at": "2024-01-01T00:00:00.000Z",
        "note": "<p>A fake account</p>",
        "url": format!("{base_url}/@crier"),
        "uri": format!("{base_url}/users/crier"),
        "avatar": format!("{base_url}/avatars/original/missing.png"),
        "avatar_static": format!("{base_url}/avatars/original/missing.png"),
        "header": format!("{base_url}/headers/original/missing.png"),
        "header_static": format!("{base_url}/headers/original/missing.png"),
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 0,
        "last_status_at": null,
        "emojis": [],
        "fields": [],
    })
}

// ---------------------------------------------------------------------------------------------
// Character counting

/// The length Mastodon gives a status: grapheme clusters of `spoiler_text` followed by `text`,
/// where each URL counts as [`CHARACTERS_RESERVED_PER_URL`] characters and a mention
/// `@user@domain` only as `@user`.
pub fn character_count(text: &str, spoiler_text: &str) -> usize {
    let combined = format!("{spoiler_text}{}", countable_text(text));
    combined.graphemes(true).count()
}

fn countable_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        if let Some(end) = url_at(&chars, i, prev) {
            out.extend(std::iter::repeat_n('x', CHARACTERS_RESERVED_PER_URL));
            i = end;
        } else if let Some((user_end, end)) = mention_at(&chars, i, prev) {
            out.extend(&chars[i..user_end]);
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The end of an `http(s)://` URL starting at `i`, if one does.
fn url_at(chars: &[char], i: usize, prev: Option<char>) -> Option<usize> {
    if prev.is_some_and(|p| is_word(p) || "@$#/.".contains(p)) {
        return None;
    }
    let rest: String = chars[i..chars.len().min(i + 8)].iter().collect::<String>().to_ascii_lowercase();
    let scheme = if rest.starts_with("https://") {
        8
    } else if rest.starts_with("http://") {
        7
    } else {
        return None;
    };
    let mut end = i + scheme;
    while end < chars.len() && !chars[end].is_whitespace() && !"<>\"".contains(chars[end]) {
        end += 1;
    }
    // Trailing punctuation belongs to the sentence, and a closing parenthesis only if unbalanced.
    while end > i + scheme {
        let last = chars[end - 1];
        let unbalanced = || {
            let count = |p: char| chars[i..end].iter().filter(|&&c| c == p).count();
            count(')') > count('(')
        };
        if !(".,:;!?'".contains(last) || (last == ')' && unbalanced())) {
            break;
        }
        end -= 1;
    }
    let after: String = chars[i + scheme..end].iter().collect();
    let host = after.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    let (_, tld) = host.rsplit_once('.')?;
    let labels_ok =
        host.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    (labels_ok && tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic)).then_some(end)
}

/// A mention `@user` or `@user@domain` at `i`: (end of `@user`, end of the mention).
fn mention_at(chars: &[char], i: usize, prev: Option<char>) -> Option<(usize, usize)> {
    if chars[i] != '@' || prev.is_some_and(|p| is_word(p) || p == '=' || p == '/') {
        return None;
    }
    let user_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if !chars.get(i + 1).copied().is_some_and(user_char) {
        return None;
    }
    let mut user_end = i + 1;
    while user_end < chars.len()
        && (user_char(chars[user_end]) || chars[user_end] == '.' || chars[user_end] == '-')
    {
        user_end += 1;
    }
    while !user_char(chars[user_end - 1]) {
        user_end -= 1;
    }
    let mut end = user_end;
    if chars.get(user_end) == Some(&'@') {
        let mut domain_end = user_end + 1;
        while domain_end < chars.len() && (is_word(chars[domain_end]) || ".-".contains(chars[domain_end])) {
            domain_end += 1;
        }
        while domain_end > user_end + 1 && !is_word(chars[domain_end - 1]) {
            domain_end -= 1;
        }
        if domain_end >= user_end + 3 {
            end = domain_end;
        }
    }
    Some((user_end, end))
}

// ---------------------------------------------------------------------------------------------
// Middleware: the request log and the 429 knob

async fn record_and_rate_limit(State(shared): St, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let idempotency_key =
        request.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let reset =
        (chrono::Utc::now() + chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let limited = {
        let mut inner = shared.lock();
        let limited = inner.rate_limited > 0;
        inner.rate_limited = inner.rate_limited.saturating_sub(1);
        limited
    };
    let mut response = if limited {
        fixtures::respond("mastodon/rate_limited", &[])
    } else {
        let mut response = next.run(request).await;
        if path.starts_with("/api/") {
            response.headers_mut().insert("x-ratelimit-remaining", HeaderValue::from(RATE_LIMIT - 1));
        }
        response
    };
    if limited || path.starts_with("/api/") {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(RATE_LIMIT));
        headers.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap());
    }
    let status = response.status().as_u16();
    shared.lock().requests.push(RecordedRequest { method, path, query, idempotency_key, status });
    response
}

async fn not_found_route() -> Response {
    error(StatusCode::NOT_FOUND, "Record not found")
}

// ---------------------------------------------------------------------------------------------
// Apps and OAuth

async fn create_app(
    State(shared): St,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = match params(&headers, query.as_deref(), &body) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let Some(name) = present(&p, "client_name") else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Validation failed: Application name can't be blank");
    };
    let redirect_uris: Vec<String> = match p.get("redirect_uris") {
        Some(Value::Array(_)) => list_param(&p, "redirect_uris"),
        _ => str_param(&p, "redirect_uris")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    };
    if redirect_uris.is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Validation failed: Redirect URI can't be blank");
    }
    for uri in &redirect_uris {
        let absolute = url::Url::parse(uri).is_ok_and(|u| u.fragment().is_none());
        if uri != OOB && !absolute {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Validation failed: Redirect URI must be an absolute URI.",
            );
        }
    }
    let scopes: Vec<String> = present(&p, "scopes")
        .unwrap_or_else(|| "read".into())
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !scopes.iter().all(|s| valid_scope(s)) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Validation failed: Scopes are invalid");
    }
    let website = present(&p, "website");
    let mut inner = shared.lock();
    let app = App {
        id: inner.next_id().to_string(),
        name,
        website,
        scopes,
        redirect_uris,
        client_id: random_token(),
        client_secret: random_token(),
    };
    let body = json!({
        "id": app.id,
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes,
        "redirect_uri": app.redirect_uris.join("\n"),
        "redirect_uris": app.redirect_uris,
        "vapid_key": "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M=",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "client_secret_expires_at": 0,
    });
    inner.apps.push(app);
    ok_json(StatusCode::OK, body)
}

fn authorize_error_page(description: &str) -> Response {
    html(
        StatusCode::BAD_REQUEST,
        format!(
            "<!DOCTYPE html><html><body><h2>An error has occurred</h2><p>{}</p></body></html>",
            escape_html(description)
        ),
    )
}

/// Redirects to the client with `params` added to its redirect URI's query.
fn redirect_to(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = url::Url::parse(redirect_uri).unwrap();
    {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in params {
            pairs.append_pair(k, v);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// `GET /oauth/authorize`: no login; answers at once as if the user had approved. An unknown
/// client or unregistered redirect URI gets a 400 page (nothing can be trusted to redirect to);
/// other errors redirect back with `error` and `error_description`, as Doorkeeper does.
async fn authorize(State(shared): St, RawQuery(query): RawQuery) -> Response {
    let mut p = Map::new();
    merge_form(&mut p, query.unwrap_or_default().as_bytes());
    let mut inner = shared.lock();
    let client_id = str_param(&p, "client_id").unwrap_or_default();
    let Some(app) = inner.app_by_client_id(&client_id) else {
        return authorize_error_page(
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        );
    };
    let redirect_uri = match present(&p, "redirect_uri") {
        Some(uri) => uri,
        None if app.redirect_uris.len() == 1 => app.redirect_uris[0].clone(),
        None => return authorize_error_page("The redirect uri included is not valid."),
    };
    if !app.redirect_uris.contains(&redirect_uri) {
        return authorize_error_page("The redirect uri included is not valid.");
    }
    let state = str_param(&p, "state");
    let back = |error: &str, description: &str| {
        if redirect_uri == OOB {
            return authorize_error_page(description);
        }
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(state) = &state {
            params.push(("state", state));
        }
        redirect_to(&redirect_uri, &params)
    };
    if str_param(&p, "response_type").as_deref() != Some("code") {
        return back(
            "unsupported_response_type",
            "The authorization server does not support this response type.",
        );
    }
    let scopes: Vec<String> =
        present(&p, "scope").unwrap_or_else(|| "read".into()).split_whitespace().map(str::to_owned).collect();
    if !scopes.iter().all(|s| app.scopes.contains(s)) {
        return back("invalid_scope", "The requested scope is invalid, unknown, or malformed.");
    }
    let code_challenge = present(&p, "code_challenge");
    if code_challenge.is_some() {
        // Doorkeeper defaults an absent method to `plain`, which Mastodon does not allow.
        if str_param(&p, "code_challenge_method").as_deref() != Some("S256") {
            return back("invalid_request", "The code challenge method must be S256.");
        }
    }
    let code = random_token();
    let grant = Grant {
        client_id: client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        scopes,
        code_challenge,
        issued: Instant::now(),
    };
    inner.grants.insert(code.clone(), grant);
    if redirect_uri == OOB {
        return html(
            StatusCode::OK,
            format!("<!DOCTYPE html><html><body><p>Authorization code</p><code>{code}</code></body></html>"),
        );
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(state) = &state {
        params.push(("state", state));
    }
    redirect_to(&redirect_uri, &params)
}

/// The client's credentials: `client_id`/`client_secret` parameters or HTTP Basic.
fn client_credentials(headers: &HeaderMap, p: &Map<String, Value>) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (str_param(p, "client_id"), str_param(p, "client_secret")),
    }
}

const INVALID_CLIENT: &str = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";

async fn token(State(shared): St, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let p = match params(&headers, query.as_deref(), &body) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let mut inner = shared.lock();
    let grant_type = str_param(&p, "grant_type").unwrap_or_default();
    if grant_type != "authorization_code" && grant_type != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    let (client_id, client_secret) = client_credentials(&headers, &p);
    let Some(app) = client_id.as_deref().and_then(|id| inner.app_by_client_id(id)) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", INVALID_CLIENT);
    };
    if client_secret.as_deref() != Some(app.client_secret.as_str()) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", INVALID_CLIENT);
    }
    let client_id = app.client_id.clone();
    let (scopes, user) = if grant_type == "client_credentials" {
        let scopes: Vec<String> = present(&p, "scope")
            .unwrap_or_else(|| "read".into())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !scopes.iter().all(|s| app.scopes.contains(s)) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "The requested scope is invalid, unknown, or malformed.",
            );
        }
        (scopes, false)
    } else {
        let Some(code) = present(&p, "code") else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing required parameter: code.",
            );
        };
        let Some(grant) = inner.grants.get(&code) else {
            return fixtures::respond("mastodon/invalid_grant", &[]);
        };
        let redirect_ok = str_param(&p, "redirect_uri").is_none_or(|uri| uri == grant.redirect_uri);
        if grant.client_id != client_id || !redirect_ok || grant.issued.elapsed() > CODE_LIFETIME {
            return fixtures::respond("mastodon/invalid_grant", &[]);
        }
        if let Some(challenge) = &grant.code_challenge {
            let Some(verifier) = present(&p, "code_verifier") else {
                return fixtures::respond("mastodon/invalid_grant", &[]);
            };
            if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
                return fixtures::respond("mastodon/invalid_grant", &[]);
            }
        }
        let grant = inner.grants.remove(&code).unwrap();
        (grant.scopes, true)
    };
    let access_token = random_token();
    let scope = scopes_string(&scopes);
    inner.tokens.insert(access_token.clone(), Token { client_id, scopes, revoked: false, user });
    fixtures::respond(
        "mastodon/token",
        &[
            ("access_token", json!(access_token)),
            ("scope", json!(scope)),
            ("created_at", json!(chrono::Utc::now().timestamp())),
        ],
    )
}

async fn revoke(State(shared): St, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let p = match params(&headers, query.as_deref(), &body) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let mut inner = shared.lock();
    let unauthorized = || {
        oauth_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "You are not authorized to revoke this token",
        )
    };
    let (client_id, client_secret) = client_credentials(&headers, &p);
    let Some(app) = client_id.as_deref().and_then(|id| inner.app_by_client_id(id)) else {
        return unauthorized();
    };
    if client_secret.as_deref() != Some(app.client_secret.as_str()) {
        return unauthorized();
    }
    let client_id = app.client_id.clone();
    let token = str_param(&p, "token").unwrap_or_default();
    if let Some(token) = inner.tokens.get_mut(&token) {
        if token.client_id != client_id {
            return unauthorized();
        }
        token.revoked = true;
    }
    ok_json(StatusCode::OK, json!({}))
}

async fn oauth_metadata(State(shared): St) -> Response {
    let base = &shared.base_url;
    let mut scopes =
        vec!["read".to_owned(), "write".into(), "push".into(), "follow".into(), "profile".into()];
    for area in SCOPE_AREAS {
        scopes.push(format!("read:{area}"));
        scopes.push(format!("write:{area}"));
    }
    ok_json(
        StatusCode::OK,
        json!({
            "issuer": format!("{base}/"),
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": format!("{base}/oauth/authorize"),
            "token_endpoint": format!("{base}/oauth/token"),
            "revocation_endpoint": format!("{base}/oauth/revoke"),
            "app_registration_endpoint": format!("{base}/api/v1/apps"),
            "scopes_supported": scopes,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Accounts

async fn verify_credentials(State(shared): St, headers: HeaderMap) -> Response {
    let inner = shared.lock();
    if let Err(response) = authenticate(&inner, &headers, &["read", "read:accounts", "profile"], true) {
        return response;
    }
    let mut account = account_json(&shared.base_url);
    account["statuses_count"] = json!(inner.statuses.iter().filter(|s| !s.deleted).count());
    account["source"] = json!({
        "privacy": "public",
        "sensitive": false,
        "language": "en",
        "note": "A fake account",
        "fields": [],
        "follow_requests_count": 0,
    });
    ok_json(StatusCode::OK, account)
}

// ---------------------------------------------------------------------------------------------
// Media

fn media_kind(content_type: &str) -> Option<&'static str> {
    if !SUPPORTED_MIME_TYPES.contains(&content_type) {
        return None;
    }
    Some(match content_type.split('/').next() {
        Some("image") if content_type == "image/gif" => "gifv",
        Some("image") => "image",
        Some("video") => "video",
        _ => "audio",
    })
}

fn media_json(base_url: &str, media: &Media) -> Value {
    let m = &media.public;
    let url = format!("{base_url}/system/media_attachments/files/{}/original/file", m.id);
    let preview = format!("{base_url}/system/media_attachments/files/{}/small/file", m.id);
    let meta = match m.focus {
        Some((x, y)) => json!({ "focus": { "x": x, "y": y } }),
        None => json!({}),
    };
    json!({
        "id": m.id,
        "type": m.kind,
        "url": if m.processed { Value::String(url) } else { Value::Null },
        "preview_url": preview,
        "remote_url": null,
        "preview_remote_url": null,
        "text_url": null,
        "meta": meta,
        "description": m.description,
        "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}",
    })
}

fn parse_focus(focus: &str) -> Option<(f64, f64)> {
    let (x, y) = focus.split_once(',')?;
    let x: f64 = x.trim().parse().ok()?;
    let y: f64 = y.trim().parse().ok()?;
    ((-1.0..=1.0).contains(&x) && (-1.0..=1.0).contains(&y)).then_some((x, y))
}

async fn upload_media(State(shared): St, headers: HeaderMap, mut multipart: Multipart) -> Response {
    if let Err(response) = authenticate(&shared.lock(), &headers, &["write", "write:media"], true) {
        return response;
    }
    let (mut file, mut description, mut focus) = (None, None, None);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(err) => return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("Validation failed: {err}")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
        let Ok(bytes) = field.bytes().await else {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "Validation failed: File is invalid");
        };
        match name.as_str() {
            "file" => file = Some((file_name, content_type, bytes.to_vec())),
            "description" => description = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "focus" => focus = Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => {}
        }
    }
    let Some((file_name, content_type, bytes)) = file else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Validation failed: File can't be blank");
    };
    let Some(kind) = media_kind(&content_type) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: File content type is invalid, File is invalid",
        );
    };
    let limit = if kind == "image" { IMAGE_SIZE_LIMIT } else { VIDEO_SIZE_LIMIT };
    if bytes.len() > limit {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Validation failed: File file size must be less than {} MB", limit / 1024 / 1024),
        );
    }
    let description = description.filter(|d| !d.is_empty());
    if description.as_ref().is_some_and(|d| d.chars().count() > DESCRIPTION_LIMIT) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!(
                "Validation failed: Description is too long (maximum is {DESCRIPTION_LIMIT} characters)"
            ),
        );
    }
    let mut inner = shared.lock();
    let polls = inner.processing_polls;
    let media = Media {
        public: UploadedMedia {
            id: inner.next_id().to_string(),
            kind: kind.into(),
            file_name,
            content_type,
            bytes,
            description,
            focus: focus.as_deref().and_then(parse_focus),
            status_id: None,
            processed: polls == 0,
        },
        polls_left: polls,
    };
    let body = media_json(&shared.base_url, &media);
    inner.media.push(media);
    ok_json(if polls == 0 { StatusCode::OK } else { StatusCode::ACCEPTED }, body)
}

/// The caller's unattached upload, as Mastodon finds it for `GET`/`PUT /api/v1/media/:id`.
fn unattached_media<'a>(inner: &'a mut Inner, id: &str) -> Option<&'a mut Media> {
    inner.media.iter_mut().find(|m| m.public.id == id && m.public.status_id.is_none())
}

async fn get_media(State(shared): St, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut inner = shared.lock();
    if let Err(response) = authenticate(&inner, &headers, &["write", "write:media"], true) {
        return response;
    }
    let Some(media) = unattached_media(&mut inner, &id) else {
        return error(StatusCode::NOT_FOUND, "Record not found");
    };
    let status = if media.polls_left > 0 {
        media.polls_left -= 1;
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    // Processing is over once the last 206 has been answered.
    let body = media_json(&shared.base_url, media);
    media.public.processed = media.polls_left == 0;
    ok_json(status, body)
}

async fn update_media(
    State(shared): St,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = match params(&headers, query.as_deref(), &body) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let mut inner = shared.lock();
    if let Err(response) = authenticate(&inner, &headers, &["write", "write:media"], true) {
        return response;
    }
    let Some(media) = unattached_media(&mut inner, &id) else {
        return error(StatusCode::NOT_FOUND, "Record not found");
    };
    if let Some(description) = str_param(&p, "description") {
        if description.chars().count() > DESCRIPTION_LIMIT {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "Validation failed: Description is too long (maximum is {DESCRIPTION_LIMIT} characters)"
                ),
            );
        }
        media.public.description = Some(description).filter(|d| !d.is_empty());
    }
    if let Some(focus) = str_param(&p, "focus") {
        media.public.focus = parse_focus(&focus);
    }
    let status = if media.public.processed { StatusCode::OK } else { StatusCode::PARTIAL_CONTENT };
    ok_json(status, media_json(&shared.base_url, media))
}

// ---------------------------------------------------------------------------------------------
// Statuses

fn content_html(text: &str) -> String {
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", escape_html(p).replace('\n', "<br />")))
        .collect();
    paragraphs.concat()
}

async fn post_status(
    State(shared): St,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    {
        let mut inner = shared.lock();
        if inner.fail_posts > 0 {
            inner.fail_posts -= 1;
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                "<html><head><title>503 Service Temporarily Unavailable</title></head>\
                 <body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
                    .into(),
            );
        }
    }
    let p = match params(&headers, query.as_deref(), &body) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let mut inner = shared.lock();
    let token = match authenticate(&inner, &headers, &["write", "write:statuses"], true) {
        Ok(token) => token,
        Err(response) => return response,
    };
    let base_url = shared.base_url.clone();

    // A key seen within the hour answers with the status it made, whatever was sent this time.
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .map(|k| format!("{}:{k}", account_json(&base_url)["id"].as_str().unwrap_or_default()));
    if let Some(key) = &idempotency_key {
        inner.idempotency.retain(|_, (_, at)| at.elapsed() < IDEMPOTENCY_WINDOW);
        if let Some((status_id, _)) = inner.idempotency.get(key) {
            let status_id = status_id.clone();
            if let Some(status) = inner.statuses.iter().find(|s| s.json["id"] == status_id.as_str()) {
                return ok_json(StatusCode::OK, status.json.clone());
            }
        }
    }

    let in_reply_to_id = present(&p, "in_reply_to_id");
    if let Some(reply_to) = &in_reply_to_id
        && !inner.statuses.iter().any(|s| !s.deleted && s.json["id"] == reply_to.as_str())
    {
        return error(StatusCode::NOT_FOUND, "The post you are trying to reply to does not appear to exist.");
    }

    let media_ids = list_param(&p, "media_ids");
    if media_ids.len() > MAX_MEDIA_ATTACHMENTS {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Cannot attach more than 4 files");
    }
    let not_found: Vec<&str> = media_ids
        .iter()
        .filter(|id| !inner.media.iter().any(|m| m.public.id == **id && m.public.status_id.is_none()))
        .map(String::as_str)
        .collect();
    if !not_found.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Media {} not found or already attached to another post", not_found.join(", ")),
        );
    }
    let attached: Vec<&Media> =
        media_ids.iter().filter_map(|id| inner.media.iter().find(|m| m.public.id == *id)).collect();
    if attached.len() > 1 && attached.iter().any(|m| matches!(m.public.kind.as_str(), "video" | "audio")) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot attach a video to a post that already contains images",
        );
    }
    if attached.iter().any(|m| !m.public.processed) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot attach files that have not finished processing. Try again in a moment!",
        );
    }

    let text = str_param(&p, "status").unwrap_or_default();
    let spoiler_text = str_param(&p, "spoiler_text").unwrap_or_default();
    if text.trim().is_empty() && media_ids.is_empty() {
        return fixtures::respond("mastodon/text_blank", &[]);
    }
    if character_count(&text, &spoiler_text) > MAX_CHARACTERS {
        return fixtures::respond("mastodon/text_too_long", &[("max_characters", json!(MAX_CHARACTERS))]);
    }
    let visibility = present(&p, "visibility").unwrap_or_else(|| "public".into());
    if !matches!(visibility.as_str(), "public" | "unlisted" | "private" | "direct") {
        return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("'{visibility}' is not a valid visibility"));
    }
    let sensitive = bool_param(&p, "sensitive").unwrap_or(false) || !spoiler_text.is_empty();
    let language = present(&p, "language").unwrap_or_else(|| "en".into());

    let id = inner.next_id().to_string();
    for media in inner.media.iter_mut().filter(|m| media_ids.contains(&m.public.id)) {
        media.public.status_id = Some(id.clone());
    }
    let media_attachments: Vec<Value> = media_ids
        .iter()
        .filter_map(|mid| inner.media.iter().find(|m| m.public.id == *mid))
        .map(|m| media_json(&base_url, m))
        .collect();
    let app =
        inner.app_by_client_id(&token.client_id).map(|a| json!({ "name": a.name, "website": a.website }));
    let account = account_json(&base_url);
    let in_reply_to_account_id = in_reply_to_id.as_ref().map(|_| account["id"].clone());
    let status = json!({
        "id": id,
        "uri": format!("{base_url}/users/crier/statuses/{id}"),
        "url": format!("{base_url}/@crier/{id}"),
        "created_at": now_iso(),
        "edited_at": null,
        "content": content_html(&text),
        "visibility": visibility,
        "sensitive": sensitive,
        "spoiler_text": spoiler_text,
        "language": language,
        "in_reply_to_id": in_reply_to_id,
        "in_reply_to_account_id": in_reply_to_account_id,
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "favourited": false,
        "reblogged": false,
        "muted": false,
        "bookmarked": false,
        "pinned": false,
        "reblog": null,
        "application": app,
        "account": account,
        "media_attachments": media_attachments,
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": null,
        "poll": null,
    });
    inner.statuses.push(StoredStatus { json: status.clone(), text, deleted: false });
    if let Some(key) = idempotency_key {
        inner.idempotency.insert(key, (id, Instant::now()));
    }
    if inner.fail_after_commit > 0 {
        inner.fail_after_commit -= 1;
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    ok_json(StatusCode::OK, status)
}

async fn get_status(State(shared): St, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let inner = shared.lock();
    // Public statuses need no token, but a token that is sent must be good.
    let authenticated = has_bearer(&headers);
    if authenticated && let Err(response) = authenticate(&inner, &headers, &["read", "read:statuses"], false)
    {
        return response;
    }
    let found = inner.statuses.iter().find(|s| !s.deleted && s.json["id"] == id.as_str());
    match found {
        Some(status)
            if authenticated || matches!(status.json["visibility"].as_str(), Some("public" | "unlisted")) =>
        {
            ok_json(StatusCode::OK, status.json.clone())
        }
        _ => error(StatusCode::NOT_FOUND, "Record not found"),
    }
}

async fn delete_status(State(shared): St, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut inner = shared.lock();
    if let Err(response) = authenticate(&inner, &headers, &["write", "write:statuses"], true) {
        return response;
    }
    let Some(status) = inner.statuses.iter_mut().find(|s| !s.deleted && s.json["id"] == id.as_str()) else {
        return error(StatusCode::NOT_FOUND, "Record not found");
    };
    status.deleted = true;
    let mut body = status.json.clone();
    body["text"] = Value::String(status.text.clone());
    ok_json(StatusCode::OK, body)
}

// ---------------------------------------------------------------------------------------------
// Instance

fn statuses_configuration() -> Value {
    json!({
        "max_characters": MAX_CHARACTERS,
        "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
        "characters_reserved_per_url": CHARACTERS_RESERVED_PER_URL,
    })
}

fn media_configuration() -> Value {
    json!({
        "supported_mime_types": SUPPORTED_MIME_TYPES,
        "description_limit": DESCRIPTION_LIMIT,
        "image_size_limit": IMAGE_SIZE_LIMIT,
        "image_matrix_limit": 33_177_600,
        "video_size_limit": VIDEO_SIZE_LIMIT,
        "video_frame_rate_limit": 120,
        "video_matrix_limit": 8_294_400,
    })
}

fn polls_configuration() -> Value {
    json!({
        "max_options": 4,
        "max_characters_per_option": 50,
        "min_expiration": 300,
        "max_expiration": 2_629_746,
    })
}

async fn instance_v1(State(shared): St) -> Response {
    let host = host_of(&shared.base_url);
    ok_json(
        StatusCode::OK,
        json!({
            "uri": host,
            "title": "Fake Mastodon",
            "short_description": "A fake Mastodon instance for Crier's tests",
            "description": "A fake Mastodon instance for Crier's tests",
            "email": "admin@example.com",
            "version": "4.3.0",
            "urls": { "streaming_api": format!("ws://{host}") },
            "stats": { "user_count": 1, "status_count": shared.lock().statuses.len(), "domain_count": 1 },
            "thumbnail": null,
            "languages": ["en"],
            "registrations": false,
            "approval_required": false,
            "invites_enabled": false,
            "configuration": {
                "accounts": { "max_featured_tags": 10 },
                "statuses": statuses_configuration(),
                "media_attachments": media_configuration(),
                "polls": polls_configuration(),
            },
            "contact_account": null,
            "rules": [],
        }),
    )
}

async fn instance_v2(State(shared): St) -> Response {
    let host = host_of(&shared.base_url);
    ok_json(
        StatusCode::OK,
        json!({
            "domain": host,
            "title": "Fake Mastodon",
            "version": "4.3.0",
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "A fake Mastodon instance for Crier's tests",
            "usage": { "users": { "active_month": 1 } },
            "thumbnail": { "url": format!("{}/packs/media/images/preview.png", shared.base_url) },
            "languages": ["en"],
            "configuration": {
                "urls": { "streaming": format!("ws://{host}") },
                "accounts": { "max_featured_tags": 10, "max_pinned_statuses": 5 },
                "statuses": statuses_configuration(),
                "media_attachments": media_configuration(),
                "polls": polls_configuration(),
                "translation": { "enabled": false },
            },
            "registrations": { "enabled": false, "approval_required": false, "message": null },
            "api_versions": { "mastodon": 2 },
            "contact": { "email": "admin@example.com", "account": null },
            "rules": [],
        }),
    )
}
