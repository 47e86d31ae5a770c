//! An in-process fake of Discord's webhook API for tests: axum on 127.0.0.1, following
//! discord.com/developers/docs/resources/webhook (get and execute a webhook with its token, delete
//! a webhook message with `thread_id` for one in a forum post), with
//! Discord's error shapes (reference#error-messages: `{code, message, errors}`) and its 429
//! (topics/rate-limits: `{message, retry_after, global}` with `Retry-After`,
//! `X-RateLimit-Reset-After` and `X-RateLimit-Scope`).
//!
//! Where it is a fake: one webhook ([`WEBHOOK_ID`], [`WEBHOOK_TOKEN`]) in one channel, which is a
//! forum (any `thread_name` starts a post) and a text channel at once; embeds, components,
//! polls and `allowed_mentions` are ignored; content is counted in code points, as Discord's
//! API does.
//!
//! Knobs: [`DiscordFake::rate_limit_next`] (429), [`DiscordFake::delete_webhook`] (404 Unknown
//! Webhook, as after the user deletes it).

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};

use crate::fixtures;

pub const WEBHOOK_ID: &str = "1100000000000000001";
pub const WEBHOOK_TOKEN: &str = "ig5AO-wdVWpCBtUUMxmgsWryqgsW3DChbKYOINftJ4DCrUbnkedoYZD0VOH1QLr-S3sV";
pub const WEBHOOK_NAME: &str = "Crier";
pub const WEBHOOK_AVATAR: &str = "a_1269e74af4df7417b13759eae50c83dc";
pub const GUILD_ID: &str = "1100000000000000002";
pub const CHANNEL_ID: &str = "1100000000000000003";
/// #execute-webhook `content`: up to 2000 characters.
pub const MAX_CONTENT: usize = 2000;
/// Files per message.
pub const MAX_FILES: usize = 10;
/// reference#uploading-files: 10 MiB by default.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// What a 429 asks to wait, as `X-RateLimit-Reset-After` and `retry_after` (seconds).
pub const RETRY_AFTER: f64 = 12.5;

/// One file of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: String,
    pub filename: String,
    pub description: Option<String>,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// One message the webhook posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMessage {
    pub id: String,
    /// The channel, or the forum post (thread) it is in.
    pub channel_id: String,
    pub content: String,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    pub flags: u64,
    /// The forum post it started, if it did.
    pub thread_name: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
}

struct Inner {
    deleted: bool,
    rate_limited: usize,
    next_id: u64,
    threads: Vec<String>,
    messages: Vec<WebhookMessage>,
    /// The ids of the messages deleted (#delete-webhook-message), in order.
    deleted_messages: Vec<String>,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;

type St = State<Arc<Shared>>;

/// The fake API; the server stops when this is dropped.
pub struct DiscordFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl DiscordFake {
    /// Serves on 127.0.0.1 on a free port.
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            deleted: false,
            rate_limited: 0,
            next_id: 1_200_000_000_000_000_000,
            threads: Vec::new(),
            messages: Vec::new(),
            deleted_messages: Vec::new(),
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/api/webhooks/{id}/{token}", get(get_webhook).post(execute_webhook))
            .route("/api/{version}/webhooks/{id}/{token}", get(get_versioned).post(execute_versioned))
            .route("/api/webhooks/{id}/{token}/messages/{message_id}", delete(delete_message))
            .route("/api/{version}/webhooks/{id}/{token}/messages/{message_id}", delete(delete_versioned))
            .fallback(|| async { error(StatusCode::NOT_FOUND, 0, "404: Not Found") })
            .layer(axum::middleware::from_fn_with_state(shared.clone(), record))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_FILES * MAX_FILE_BYTES * 2))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT/api/v10`: the `api_base` a client is configured with.
    pub fn api_base(&self) -> String {
        format!("{}/api/v10", self.shared.base_url)
    }

    /// The webhook's URL as Discord shows it to its owner.
    pub fn webhook_url(&self) -> String {
        format!("{}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}", self.shared.base_url)
    }

    /// Every message posted, oldest first.
    pub fn messages(&self) -> Vec<WebhookMessage> {
        self.shared.lock().messages.clone()
    }

    /// The ids of the messages deleted through the webhook, in order.
    pub fn deleted_messages(&self) -> Vec<String> {
        self.shared.lock().deleted_messages.clone()
    }

    /// Every request answered, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The next `n` requests get a 429 asking to wait [`RETRY_AFTER`] seconds.
    pub fn rate_limit_next(&self, n: usize) {
        self.shared.lock().rate_limited = n;
    }

    /// The user deletes the webhook: `404 {"message": "Unknown Webhook", "code": 10015}`.
    pub fn delete_webhook(&self) {
        self.shared.lock().deleted = true;
    }
}

impl Drop for DiscordFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: StatusCode, code: u64, message: &str) -> Response {
    (status, axum::Json(json!({"message": message, "code": code}))).into_response()
}

/// `50035 Invalid Form Body` with one field's error.
fn invalid_form(field: &str, code: &str, message: &str) -> Response {
    fixtures::respond(
        "discord/invalid_form_body",
        &[("field", json!(field)), ("code", json!(code)), ("message", json!(message))],
    )
}

async fn record(State(shared): St, request: Request, next: axum::middleware::Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let limited = {
        let mut inner = shared.lock();
        let limited = inner.rate_limited > 0;
        inner.rate_limited = inner.rate_limited.saturating_sub(1);
        limited
    };
    let response = if limited {
        fixtures::respond(
            "discord/rate_limited",
            &[("retry_after", json!(RETRY_AFTER)), ("retry_after_seconds", json!(RETRY_AFTER.ceil() as u64))],
        )
    } else {
        next.run(request).await
    };
    let status = response.status().as_u16();
    shared.lock().requests.push(RecordedRequest { method, path, query, status });
    response
}

/// The webhook, if `id` and `token` name it and it still exists.
#[expect(clippy::result_large_err, reason = "the error is the handler's finished answer")]
fn check(shared: &Shared, id: &str, token: &str) -> Result<(), Response> {
    if id != WEBHOOK_ID || shared.lock().deleted {
        return Err(fixtures::respond("discord/unknown_webhook", &[]));
    }
    if token != WEBHOOK_TOKEN {
        return Err(fixtures::respond("discord/invalid_webhook_token", &[]));
    }
    Ok(())
}

async fn get_versioned(state: St, Path((_version, id, token)): Path<(String, String, String)>) -> Response {
    get_webhook(state, Path((id, token))).await
}

/// #get-webhook-with-token: the webhook object without its `user`.
async fn get_webhook(State(shared): St, Path((id, token)): Path<(String, String)>) -> Response {
    if let Err(response) = check(&shared, &id, &token) {
        return response;
    }
    let body = json!({
        "application_id": null,
        "avatar": WEBHOOK_AVATAR,
        "channel_id": CHANNEL_ID,
        "guild_id": GUILD_ID,
        "id": WEBHOOK_ID,
        "name": WEBHOOK_NAME,
        "type": 1,
        "token": WEBHOOK_TOKEN,
        "url": format!("https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"),
    });
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// #execute-webhook query string parameters.
struct ExecuteQuery {
    wait: Option<String>,
    thread_id: Option<String>,
}

impl ExecuteQuery {
    fn parse(query: Option<&str>) -> Self {
        let mut parsed = Self { wait: None, thread_id: None };
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "wait" => parsed.wait = Some(value.into_owned()),
                "thread_id" => parsed.thread_id = Some(value.into_owned()),
                _ => {}
            }
        }
        parsed
    }
}

async fn execute_versioned(
    state: St,
    Path((_version, id, token)): Path<(String, String, String)>,
    query: RawQuery,
    request: Request,
) -> Response {
    execute_webhook(state, Path((id, token)), query, request).await
}

/// #execute-webhook: JSON, or multipart with `payload_json` and `files[n]`.
async fn execute_webhook(
    State(shared): St,
    Path((id, token)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let query = ExecuteQuery::parse(query.as_deref());
    if let Err(response) = check(&shared, &id, &token) {
        return response;
    }
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let mut payload = Value::Null;
    let mut files: Vec<(usize, Option<String>, String, Vec<u8>)> = Vec::new();
    if content_type.starts_with("multipart/form-data") {
        let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
            return error(StatusCode::BAD_REQUEST, 50109, "The request body contains invalid JSON.");
        };
        while let Ok(Some(field)) = multipart.next_field().await {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let part_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
            let Ok(bytes) = field.bytes().await else {
                return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body");
            };
            if name == "payload_json" {
                match serde_json::from_slice(&bytes) {
                    Ok(value) => payload = value,
                    Err(_) => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            50109,
                            "The request body contains invalid JSON.",
                        );
                    }
                }
            } else if let Some(index) = name.strip_prefix("files[").and_then(|n| n.strip_suffix(']')) {
                let Ok(index) = index.parse::<usize>() else {
                    return invalid_form("files", "BASE_TYPE_BAD_NAME", "Invalid file field name.");
                };
                if bytes.len() > MAX_FILE_BYTES {
                    return error(StatusCode::PAYLOAD_TOO_LARGE, 40005, "Request entity too large");
                }
                files.push((index, file_name, part_type, bytes.to_vec()));
            }
        }
    } else {
        let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_FILE_BYTES).await else {
            return error(StatusCode::PAYLOAD_TOO_LARGE, 40005, "Request entity too large");
        };
        match serde_json::from_slice(&body) {
            Ok(value) => payload = value,
            Err(_) => {
                return error(StatusCode::BAD_REQUEST, 50109, "The request body contains invalid JSON.");
            }
        }
    }
    let content = payload["content"].as_str().unwrap_or_default().to_owned();
    if content.chars().count() > MAX_CONTENT {
        return invalid_form("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.");
    }
    if files.len() > MAX_FILES {
        return invalid_form("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
    }
    if content.trim().is_empty() && files.is_empty() {
        return fixtures::respond("discord/empty_message", &[]);
    }
    if let Some(name) = payload["username"].as_str() {
        let lower = name.to_lowercase();
        if name.trim().is_empty()
            || name.chars().count() > 80
            || lower.contains("discord")
            || lower.contains("clyde")
        {
            return invalid_form("username", "USERNAME_INVALID", "Username cannot contain \"discord\"");
        }
    }
    let described: Vec<Value> = payload["attachments"].as_array().cloned().unwrap_or_default();
    let mut attachments = Vec::with_capacity(files.len());
    let mut inner = shared.lock();
    let thread_name = payload["thread_name"].as_str().filter(|t| !t.trim().is_empty()).map(str::to_owned);
    let channel_id = match (&query.thread_id, &thread_name) {
        (Some(_), Some(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                220001,
                "Webhooks can only create threads in forum channels",
            );
        }
        (Some(thread), None) if inner.threads.contains(thread) => thread.clone(),
        (Some(_), None) => return error(StatusCode::BAD_REQUEST, 10003, "Unknown Channel"),
        (None, Some(_)) => {
            inner.next_id += 1;
            let thread = inner.next_id.to_string();
            inner.threads.push(thread.clone());
            thread
        }
        (None, None) => CHANNEL_ID.to_owned(),
    };
    for (index, file_name, part_type, bytes) in files {
        let about = described
            .iter()
            .find(|a| a["id"].as_u64() == Some(index as u64) || a["id"].as_str() == Some(&index.to_string()));
        let filename = about
            .and_then(|a| a["filename"].as_str())
            .map(str::to_owned)
            .or(file_name)
            .unwrap_or_else(|| format!("file{index}"));
        inner.next_id += 1;
        attachments.push(Attachment {
            id: inner.next_id.to_string(),
            filename,
            description: about.and_then(|a| a["description"].as_str()).map(str::to_owned),
            content_type: part_type,
            bytes,
        });
    }
    inner.next_id += 1;
    let message = WebhookMessage {
        id: inner.next_id.to_string(),
        channel_id,
        content,
        username: payload["username"].as_str().map(str::to_owned),
        avatar_url: payload["avatar_url"].as_str().map(str::to_owned),
        flags: payload["flags"].as_u64().unwrap_or(0),
        thread_name,
        attachments,
    };
    let body = message_json(&shared.base_url, &message);
    inner.messages.push(message);
    if query.wait.as_deref() == Some("true") {
        (StatusCode::OK, axum::Json(body)).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

async fn delete_versioned(
    state: St,
    Path((_version, id, token, message_id)): Path<(String, String, String, String)>,
    query: RawQuery,
) -> Response {
    delete_message(state, Path((id, token, message_id)), query).await
}

/// #delete-webhook-message: 204, or `404 {"message": "Unknown Message", "code": 10008}` for a
/// message that is not there (or is in a forum post `thread_id` does not name).
async fn delete_message(
    State(shared): St,
    Path((id, token, message_id)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = ExecuteQuery::parse(query.as_deref());
    if let Err(response) = check(&shared, &id, &token) {
        return response;
    }
    let mut inner = shared.lock();
    let channel = query.thread_id.unwrap_or_else(|| CHANNEL_ID.to_owned());
    let Some(index) = inner.messages.iter().position(|m| m.id == message_id && m.channel_id == channel)
    else {
        return error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
    };
    inner.messages.remove(index);
    inner.deleted_messages.push(message_id);
    StatusCode::NO_CONTENT.into_response()
}

/// The message object (channel#message-object), as a webhook's message.
fn message_json(base_url: &str, message: &WebhookMessage) -> Value {
    let attachments: Vec<Value> = message
        .attachments
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "filename": a.filename,
                "description": a.description,
                "content_type": a.content_type,
                "size": a.bytes.len(),
                "url": format!("{base_url}/attachments/{}/{}/{}", message.channel_id, a.id, a.filename),
            })
        })
        .collect();
    json!({
        "id": message.id,
        "type": 0,
        "content": message.content,
        "channel_id": message.channel_id,
        "author": {
            "id": WEBHOOK_ID,
            "username": message.username.as_deref().unwrap_or(WEBHOOK_NAME),
            "avatar": WEBHOOK_AVATAR,
            "discriminator": "0000",
            "bot": true,
        },
        "attachments": attachments,
        "embeds": [],
        "mentions": [],
        "mention_roles": [],
        "pinned": false,
        "mention_everyone": false,
        "tts": false,
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "edited_timestamp": null,
        "flags": message.flags,
        "components": [],
        "webhook_id": WEBHOOK_ID,
    })
}
