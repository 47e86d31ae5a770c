//! An in-process fake Slack for tests: axum on 127.0.0.1, following Slack's documented shapes
//! (docs.slack.dev/authentication/installing-with-oauth, docs.slack.dev/reference/methods/…)
//! closely enough to drive a real client: the consent page (`/oauth/v2/authorize`, answered at
//! once as if the user agreed), `oauth.v2.access` with HTTP Basic client auth (bot tokens; with
//! rotation on, 12-hour tokens and single-use refresh tokens), `conversations.info`,
//! `conversations.join`, `chat.postMessage`, `chat.getPermalink`, `chat.delete`,
//! `files.getUploadURLExternal`,
//! the upload URL (raw bytes), `files.completeUploadExternal`, `files.info` (`shares`) and
//! `auth.revoke`. Every Web API answer is HTTP 200 with `ok`, failures `{"ok": false, "error"}`
//! (`invalid_auth`, `token_expired`, `not_in_channel`, `msg_too_long`…) except rate limits:
//! HTTP 429 with `Retry-After` (docs.slack.dev/apis/web-api/rate-limits).
//!
//! Where it is a fake: one app ([`CLIENT_ID`], [`CLIENT_SECRET`]), one workspace with one public
//! channel ([`CHANNEL_ID`]) the bot is not yet in; API, consent and uploads share one base URL.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::fixtures;

pub const CLIENT_ID: &str = "4123121235.9872358710";
pub const CLIENT_SECRET: &str = "e1b9e11dfcd19c1982d5de12921e17e8c";
pub const TEAM_ID: &str = "T9TK3CUKW";
pub const TEAM_NAME: &str = "Crier Testers";
pub const CHANNEL_ID: &str = "C0NF841BK";
pub const CHANNEL_NAME: &str = "announcements";
/// With rotation on, a bot token lasts 12 hours.
pub const ACCESS_TOKEN_LIFETIME: i64 = 43_200;
const REQUIRED_SCOPES: [&str; 3] = ["chat:write", "files:write", "channels:join"];
const MAX_TEXT: usize = 40_000;

/// A message the fake holds, as it was posted or shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    pub text: String,
    pub thread_ts: Option<String>,
    /// The files shared with it (`files.completeUploadExternal`).
    pub files: Vec<String>,
}

/// A file uploaded to its upload URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub file_id: String,
    pub filename: String,
    pub alt_txt: Option<String>,
    pub declared_length: usize,
    pub bytes: Vec<u8>,
    pub title: Option<String>,
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub path: String,
    pub status: u16,
    /// `ok` or the `error` name of a Web API answer.
    pub outcome: String,
}

struct Inner {
    grants: HashMap<String, String>,
    /// Bot tokens and when they expire (None: never).
    access_tokens: HashMap<String, Option<i64>>,
    refresh_tokens: HashSet<String>,
    revoked: Vec<String>,
    rotation: bool,
    member: bool,
    messages: Vec<Message>,
    /// The `ts` of every message removed by `chat.delete`, in order.
    deleted: Vec<String>,
    uploads: HashMap<String, Upload>,
    next_ts: u64,
    rate_limited: usize,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;

type St = State<Arc<Shared>>;

/// The fake Slack; the server stops when this is dropped.
pub struct SlackFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl SlackFake {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashSet::new(),
            revoked: Vec::new(),
            rotation: false,
            member: false,
            messages: Vec::new(),
            deleted: Vec::new(),
            uploads: HashMap::new(),
            next_ts: 1_700_000_000_000_100,
            rate_limited: 0,
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/oauth/v2/authorize", get(authorize))
            .route("/api/oauth.v2.access", post(token))
            .route("/api/{method}", post(api))
            .route("/upload/v1/{file_id}", post(upload))
            .layer(middleware::from_fn_with_state(shared.clone(), guard))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`: `slack.com`'s stand-in (the API is under `/api`).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn messages(&self) -> Vec<Message> {
        self.shared.lock().messages.clone()
    }

    /// The `ts` of every message `chat.delete` removed, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.shared.lock().deleted.clone()
    }

    pub fn uploads(&self) -> Vec<Upload> {
        let mut uploads: Vec<_> = self.shared.lock().uploads.values().cloned().collect();
        uploads.sort_by(|a, b| a.file_id.cmp(&b.file_id));
        uploads
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Installs answer 12-hour tokens and refresh tokens (token rotation on).
    pub fn rotate_tokens(&self, on: bool) {
        self.shared.lock().rotation = on;
    }

    /// Whether the bot is a member of [`CHANNEL_ID`].
    pub fn bot_in_channel(&self) -> bool {
        self.shared.lock().member
    }

    /// Removes the bot from the channel (posts then answer `not_in_channel`).
    pub fn remove_bot(&self) {
        self.shared.lock().member = false;
    }

    /// The next `n` Web API calls answer HTTP 429 with `Retry-After: 30`.
    pub fn rate_limit_next(&self, n: usize) {
        self.shared.lock().rate_limited = n;
    }

    /// Every rotating token issued so far has expired (refresh tokens stay good).
    pub fn expire_access_tokens(&self) {
        for expiry in self.shared.lock().access_tokens.values_mut().flatten() {
            *expiry = 0;
        }
    }

    pub fn refresh_token_valid(&self, token: &str) -> bool {
        self.shared.lock().refresh_tokens.contains(token)
    }

    /// The tokens revoked through `auth.revoke`.
    pub fn revoked(&self) -> Vec<String> {
        self.shared.lock().revoked.clone()
    }
}

impl Drop for SlackFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>()))
}

fn form_of(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn slack_error(error: &str) -> Response {
    fixtures::respond("slack/error", &[("error", json!(error))])
}

/// Records every request; rate-limits the Web API.
async fn guard(State(shared): St, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let limited = path.starts_with("/api/") && {
        let mut inner = shared.lock();
        let limited = inner.rate_limited > 0;
        inner.rate_limited = inner.rate_limited.saturating_sub(1);
        limited
    };
    let response =
        if limited { fixtures::respond("slack/rate_limited", &[]) } else { next.run(request).await };
    let status = response.status().as_u16();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let outcome = match answer["ok"].as_bool() {
        Some(true) => "ok".to_owned(),
        _ => answer["error"].as_str().unwrap_or_default().to_owned(),
    };
    shared.lock().requests.push(RecordedRequest { path, status, outcome });
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The consent page, answered at once as if the user agreed.
async fn authorize(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let scopes: HashSet<&str> = field("scope").split([',', ' ']).collect();
    if field("client_id") != CLIENT_ID || field("state").is_empty() {
        return (StatusCode::BAD_REQUEST, "invalid_client_id or missing state").into_response();
    }
    if !REQUIRED_SCOPES.iter().all(|s| scopes.contains(s)) {
        return (StatusCode::BAD_REQUEST, "invalid_scope").into_response();
    }
    let code = random_token("4724469134.");
    shared.lock().grants.insert(code.clone(), field("redirect_uri").to_owned());
    let mut location = url::Url::parse(field("redirect_uri")).unwrap();
    location.query_pairs_mut().append_pair("code", &code).append_pair("state", field("state"));
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn basic_auth_ok(headers: &HeaderMap) -> bool {
    let expected = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

/// `oauth.v2.access`: an authorization code or (with rotation) a refresh token.
async fn token(State(shared): St, headers: HeaderMap, body: Bytes) -> Response {
    if !basic_auth_ok(&headers) {
        return slack_error("invalid_client_id");
    }
    let form = form_of(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let mut inner = shared.lock();
    match field("grant_type") {
        "authorization_code" | "" => {
            if inner.grants.remove(field("code")).is_none_or(|uri| uri != field("redirect_uri")) {
                return slack_error("invalid_code");
            }
        }
        "refresh_token" => {
            if !inner.refresh_tokens.remove(field("refresh_token")) {
                return fixtures::respond("slack/invalid_refresh_token", &[]);
            }
        }
        _ => return slack_error("invalid_grant_type"),
    }
    let access = random_token("xoxb-17653672481-");
    let mut vars =
        vec![("access_token", json!(access)), ("team_name", json!(TEAM_NAME)), ("team_id", json!(TEAM_ID))];
    if inner.rotation {
        let refresh = random_token("xoxe-1-");
        inner.refresh_tokens.insert(refresh.clone());
        inner.access_tokens.insert(access, Some(now() + ACCESS_TOKEN_LIFETIME));
        vars.push(("refresh_token", json!(refresh)));
        vars.push(("expires_in", json!(ACCESS_TOKEN_LIFETIME)));
        fixtures::respond("slack/token_rotating", &vars)
    } else {
        inner.access_tokens.insert(access, None);
        fixtures::respond("slack/token", &vars)
    }
}

/// The bearer token's standing: `None` when good, else Slack's error name.
fn token_problem(inner: &Inner, headers: &HeaderMap) -> Option<&'static str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(bearer) = bearer else { return Some("not_authed") };
    if inner.revoked.iter().any(|t| t == bearer) {
        return Some("token_revoked");
    }
    match inner.access_tokens.get(bearer) {
        None => Some("invalid_auth"),
        Some(Some(expiry)) if *expiry <= now() => Some("token_expired"),
        Some(_) => None,
    }
}

fn ok(mut body: Value) -> Response {
    body["ok"] = json!(true);
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Every Web API method but `oauth.v2.access`: JSON or form bodies, as the method takes them.
async fn api(State(shared): St, Path(method): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let args: Value =
        if json_body { serde_json::from_slice(&body).unwrap_or_default() } else { json!(form_of(&body)) };
    let arg = |name: &str| args[name].as_str().unwrap_or_default().to_owned();
    let mut inner = shared.lock();
    if let Some(problem) = token_problem(&inner, &headers) {
        return match problem {
            "token_expired" => fixtures::respond("slack/token_expired", &[]),
            _ => slack_error(problem),
        };
    }
    let base = shared.base_url.clone();
    match method.as_str() {
        "auth.revoke" => {
            let token =
                headers[header::AUTHORIZATION].to_str().unwrap().trim_start_matches("Bearer ").to_owned();
            inner.access_tokens.remove(&token);
            inner.revoked.push(token);
            ok(json!({"revoked": true}))
        }
        "conversations.info" => {
            if arg("channel") != CHANNEL_ID {
                return slack_error("channel_not_found");
            }
            let channel = json!({
                "id": CHANNEL_ID, "name": CHANNEL_NAME, "is_channel": true, "is_private": false,
                "is_archived": false, "is_member": inner.member,
            });
            ok(json!({"channel": channel}))
        }
        "conversations.join" => {
            if arg("channel") != CHANNEL_ID {
                return slack_error("channel_not_found");
            }
            inner.member = true;
            ok(json!({"channel": {"id": CHANNEL_ID, "name": CHANNEL_NAME}}))
        }
        "chat.postMessage" => {
            let (channel, text) = (arg("channel"), arg("text"));
            if channel != CHANNEL_ID {
                return slack_error("channel_not_found");
            }
            if !inner.member {
                return slack_error("not_in_channel");
            }
            if text.is_empty() {
                return slack_error("no_text");
            }
            if text.chars().count() > MAX_TEXT {
                return slack_error("msg_too_long");
            }
            let thread_ts = args["thread_ts"].as_str().map(str::to_owned);
            if thread_ts.as_ref().is_some_and(|ts| !inner.messages.iter().any(|m| &m.ts == ts)) {
                return slack_error("thread_not_found");
            }
            let ts = next_ts(&mut inner);
            inner.messages.push(Message {
                channel,
                ts: ts.clone(),
                text: text.clone(),
                thread_ts,
                files: vec![],
            });
            fixtures::respond(
                "slack/message_posted",
                &[("channel", json!(CHANNEL_ID)), ("ts", json!(ts)), ("text", json!(text))],
            )
        }
        "chat.getPermalink" => {
            let ts = arg("message_ts");
            if !inner.messages.iter().any(|m| m.ts == ts) {
                return slack_error("message_not_found");
            }
            let permalink =
                format!("https://crier-testers.slack.com/archives/{CHANNEL_ID}/p{}", ts.replace('.', ""));
            ok(json!({"channel": CHANNEL_ID, "permalink": permalink}))
        }
        // docs.slack.dev/reference/methods/chat.delete: `{"ok": true, "channel", "ts"}`, or
        // `message_not_found` for a message that is not there.
        "chat.delete" => {
            let (channel, ts) = (arg("channel"), arg("ts"));
            if channel != CHANNEL_ID {
                return slack_error("channel_not_found");
            }
            let Some(index) = inner.messages.iter().position(|m| m.channel == channel && m.ts == ts) else {
                return slack_error("message_not_found");
            };
            inner.messages.remove(index);
            inner.deleted.push(ts.clone());
            ok(json!({"channel": channel, "ts": ts}))
        }
        "files.getUploadURLExternal" => {
            let length: usize = arg("length").parse().unwrap_or(0);
            if arg("filename").is_empty() || length == 0 {
                return slack_error("missing_argument");
            }
            if arg("alt_txt").chars().count() > 1000 {
                return slack_error("alt_txt_too_large");
            }
            let file_id = format!("F{:010}", inner.uploads.len() + 1);
            let upload = Upload {
                file_id: file_id.clone(),
                filename: arg("filename"),
                alt_txt: args["alt_txt"].as_str().map(str::to_owned),
                declared_length: length,
                bytes: Vec::new(),
                title: None,
            };
            inner.uploads.insert(file_id.clone(), upload);
            ok(json!({"upload_url": format!("{base}/upload/v1/{file_id}"), "file_id": file_id}))
        }
        "files.completeUploadExternal" => {
            let files: Vec<Value> = args["files"].as_array().cloned().unwrap_or_default();
            let channel = arg("channel_id");
            if files.is_empty() {
                return slack_error("invalid_arguments");
            }
            if channel != CHANNEL_ID {
                return slack_error("channel_not_found");
            }
            if !inner.member {
                return slack_error("not_in_channel");
            }
            let mut ids = Vec::new();
            for file in &files {
                let id = file["id"].as_str().unwrap_or_default().to_owned();
                let Some(upload) = inner.uploads.get_mut(&id) else { return slack_error("file_not_found") };
                if upload.bytes.len() != upload.declared_length {
                    return slack_error("file_upload_incomplete");
                }
                upload.title = file["title"].as_str().map(str::to_owned);
                ids.push(id);
            }
            let ts = next_ts(&mut inner);
            let text = arg("initial_comment");
            inner.messages.push(Message { channel, ts, text, thread_ts: None, files: ids.clone() });
            let listed: Vec<Value> = ids.iter().map(|id| json!({"id": id, "title": id})).collect();
            ok(json!({"files": listed}))
        }
        "files.info" => {
            let id = arg("file");
            let Some(message) = inner.messages.iter().find(|m| m.files.contains(&id)) else {
                return slack_error("file_not_found");
            };
            let shares = json!({"public": {CHANNEL_ID: [{"ts": message.ts, "channel_name": CHANNEL_NAME}]}});
            ok(json!({"file": {"id": id, "shares": shares}}))
        }
        _ => slack_error("unknown_method"),
    }
}

fn next_ts(inner: &mut Inner) -> String {
    inner.next_ts += 1;
    format!("{}.{:06}", inner.next_ts / 1_000_000, inner.next_ts % 1_000_000)
}

/// The upload URL: the file's bytes, raw (Slack answers `OK - <length>`).
async fn upload(State(shared): St, Path(file_id): Path<String>, body: Bytes) -> Response {
    let mut inner = shared.lock();
    let Some(upload) = inner.uploads.get_mut(&file_id) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    upload.bytes = body.to_vec();
    (StatusCode::OK, format!("OK - {}", body.len())).into_response()
}
