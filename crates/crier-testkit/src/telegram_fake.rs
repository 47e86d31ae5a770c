//! An in-process fake of the Telegram Bot API for tests: axum on 127.0.0.1, following
//! core.telegram.org/bots/api closely enough to drive a real client: `{base}/bot{token}/{method}`
//! with parameters in the query, a form, JSON or multipart (files uploaded as parts, albums
//! naming theirs `attach://name`), and Telegram's envelope, `{ok: true, result}` or
//! `{ok: false, error_code, description, parameters?: {retry_after}}`.
//!
//! Where it is a fake: one bot ([`BOT_TOKEN`]) and one channel ([`CHANNEL_ID`], `@`[`CHANNEL_USERNAME`])
//! where the bot is an administrator; `getMe`, `getChat`, `getChatMember`, `sendMessage`,
//! `sendPhoto`, `sendVideo` and `sendMediaGroup` only; files only as uploads (no `file_id`s or
//! URLs); lengths counted in UTF-16 code units on the plain text (no `parse_mode`).
//!
//! Knobs: [`TelegramFake::rate_limit_next`] (429 with `retry_after`), [`TelegramFake::revoke_token`]
//! (401, as after /revoke in @BotFather), [`TelegramFake::remove_bot`] (403, the bot was kicked)
//! and [`TelegramFake::set_can_post`] (the bot an administrator without the right to post).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};

use crate::fixtures;

/// The one bot's token, as @BotFather gives it.
pub const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0";
pub const BOT_ID: i64 = 123_456_789;
pub const BOT_USERNAME: &str = "crier_test_bot";
/// The channel the bot administers.
pub const CHANNEL_ID: i64 = -1_001_234_567_890;
pub const CHANNEL_USERNAME: &str = "crier_news";
pub const CHANNEL_TITLE: &str = "Crier News";
/// #sendmessage `text`: 1-4096 characters after entities parsing.
pub const MAX_TEXT: usize = 4096;
/// #sendphoto `caption`: 0-1024 characters after entities parsing.
pub const MAX_CAPTION: usize = 1024;
/// #sendphoto: 10 MB; #sending-files: 50 MB for other files.
pub const MAX_PHOTO_BYTES: usize = 10 * 1000 * 1000;
pub const MAX_FILE_BYTES: usize = 50 * 1000 * 1000;

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// `photo` or `video`.
    pub kind: String,
    pub file_name: Option<String>,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// One message the bot sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub message_id: i64,
    pub chat_id: i64,
    /// The method that sent it (`sendMessage`, `sendPhoto`…).
    pub method: String,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub media: Option<Upload>,
    pub media_group_id: Option<String>,
    pub reply_to: Option<i64>,
    pub disable_notification: bool,
    pub protect_content: bool,
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method as called (`sendMessage`).
    pub method: String,
    /// The whole path, token included (for tests that check where it went).
    pub path: String,
    pub status: u16,
}

struct Inner {
    revoked: bool,
    bot_removed: bool,
    can_post: bool,
    rate_limited: usize,
    retry_after: u64,
    next_message_id: i64,
    next_group_id: u64,
    messages: Vec<SentMessage>,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;

type St = State<Arc<Shared>>;

/// The fake Bot API; the server stops when this is dropped.
pub struct TelegramFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl TelegramFake {
    /// Serves on 127.0.0.1 on a free port.
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            revoked: false,
            bot_removed: false,
            can_post: true,
            rate_limited: 0,
            retry_after: 0,
            next_message_id: 100,
            next_group_id: 13_000_000_000_000_000,
            messages: Vec::new(),
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/{bot}/{method}", any(bot_method))
            .fallback(|| async { failure(StatusCode::NOT_FOUND, "Not Found") })
            .layer(axum::extract::DefaultBodyLimit::max(MAX_FILE_BYTES * 10 + 1024 * 1024))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`: the `api_base` a client is configured with.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Every message sent, oldest first (an album is one message per file).
    pub fn messages(&self) -> Vec<SentMessage> {
        self.shared.lock().messages.clone()
    }

    /// Every request answered, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The next `n` requests get `429 Too Many Requests: retry after {retry_after}`.
    pub fn rate_limit_next(&self, n: usize, retry_after: u64) {
        let mut inner = self.shared.lock();
        inner.rate_limited = n;
        inner.retry_after = retry_after;
    }

    /// The token stops working: `401 Unauthorized` on every method.
    pub fn revoke_token(&self) {
        self.shared.lock().revoked = true;
    }

    /// The bot is removed from the channel: sends get `403 Forbidden: bot is not a member of
    /// the channel chat`, `getChatMember` says `left`.
    pub fn remove_bot(&self) {
        self.shared.lock().bot_removed = true;
    }

    /// Whether the bot, an administrator, may post messages in the channel.
    pub fn set_can_post(&self, can_post: bool) {
        self.shared.lock().can_post = can_post;
    }
}

impl Drop for TelegramFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Envelope and parameters

fn ok(result: Value) -> Response {
    fixtures::respond("telegram/ok", &[("result", result)])
}

fn failure(status: StatusCode, description: &str) -> Response {
    let body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    (status, axum::Json(body)).into_response()
}

fn bad_request(description: &str) -> Response {
    fixtures::respond("telegram/bad_request", &[("description", json!(description))])
}

/// A request's parameters (query, then the body as JSON, form or multipart) and uploaded files.
struct Params {
    fields: Map<String, Value>,
    files: HashMap<String, (Option<String>, String, Vec<u8>)>,
}

impl Params {
    fn str(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    fn bool(&self, key: &str) -> bool {
        matches!(self.fields.get(key), Some(Value::Bool(true))) || self.str(key).as_deref() == Some("true")
    }

    /// A JSON-serialised parameter (objects arrive as JSON text in forms and multipart).
    fn json(&self, key: &str) -> Option<Value> {
        match self.fields.get(key)? {
            Value::String(s) => serde_json::from_str(s).ok(),
            Value::Null => None,
            other => Some(other.clone()),
        }
    }
}

async fn params(query: Option<String>, request: Request) -> Result<Params, Response> {
    let mut fields = Map::new();
    let mut files = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        fields.insert(key.into_owned(), Value::String(value.into_owned()));
    }
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart =
            Multipart::from_request(request, &()).await.map_err(|_| bad_request("invalid multipart"))?;
        while let Some(field) = multipart.next_field().await.map_err(|_| bad_request("invalid multipart"))? {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let part_type = field.content_type().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|_| bad_request("invalid multipart"))?.to_vec();
            if file_name.is_some() {
                let part_type = part_type.unwrap_or_else(|| "application/octet-stream".into());
                files.insert(name, (file_name, part_type, bytes));
            } else {
                fields.insert(name, Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    } else {
        let body = axum::body::to_bytes(request.into_body(), MAX_FILE_BYTES)
            .await
            .map_err(|_| bad_request("request too large"))?;
        if content_type.starts_with("application/json") && !body.is_empty() {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(object)) => fields.extend(object),
                _ => return Err(bad_request("can't parse JSON object")),
            }
        } else {
            for (key, value) in url::form_urlencoded::parse(&body) {
                fields.insert(key.into_owned(), Value::String(value.into_owned()));
            }
        }
    }
    Ok(Params { fields, files })
}

// ---------------------------------------------------------------------------------------------
// Methods

fn bot_json() -> Value {
    json!({
        "id": BOT_ID,
        "is_bot": true,
        "first_name": "Crier Test Bot",
        "username": BOT_USERNAME,
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": false,
    })
}

fn chat_json() -> Value {
    json!({"id": CHANNEL_ID, "type": "channel", "title": CHANNEL_TITLE, "username": CHANNEL_USERNAME})
}

/// Whether `chat_id` (a number or `@username`) names the channel.
#[expect(clippy::result_large_err, reason = "the error is the handler's finished answer")]
fn is_channel(p: &Params) -> Result<(), Response> {
    match p.str("chat_id") {
        None => Err(bad_request("chat_id is empty")),
        Some(id)
            if id == CHANNEL_ID.to_string() || id.eq_ignore_ascii_case(&format!("@{CHANNEL_USERNAME}")) =>
        {
            Ok(())
        }
        Some(_) => Err(bad_request("chat not found")),
    }
}

async fn bot_method(
    State(shared): St,
    Path((bot, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    let path = request.uri().path().to_owned();
    let response = answer(&shared, &bot, &method, query, request).await;
    let status = response.status().as_u16();
    shared.lock().requests.push(RecordedRequest { method, path, status });
    response
}

async fn answer(
    shared: &Shared,
    bot: &str,
    method: &str,
    query: Option<String>,
    request: Request,
) -> Response {
    // #making-requests: `https://api.telegram.org/bot<token>/METHOD_NAME`.
    let Some(token) = bot.strip_prefix("bot") else { return failure(StatusCode::NOT_FOUND, "Not Found") };
    {
        let mut inner = shared.lock();
        if token != BOT_TOKEN || inner.revoked {
            return fixtures::respond("telegram/unauthorized", &[]);
        }
        if inner.rate_limited > 0 {
            inner.rate_limited -= 1;
            return fixtures::respond("telegram/rate_limited", &[("retry_after", json!(inner.retry_after))]);
        }
    }
    let p = match params(query, request).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    // Methods are case-insensitive (#making-requests).
    match method.to_ascii_lowercase().as_str() {
        "getme" => ok(bot_json()),
        "getchat" => match is_channel(&p) {
            Ok(()) => ok(chat_json()),
            Err(response) => response,
        },
        "getchatmember" => get_chat_member(shared, &p),
        "sendmessage" | "sendphoto" | "sendvideo" | "sendmediagroup" => send(shared, method, &p),
        "deletemessage" => delete_message(shared, &p),
        _ => failure(StatusCode::NOT_FOUND, "Not Found: method not found"),
    }
}

/// #deletemessage: removes one message of the chat; `true`, or 400 when it is not there.
fn delete_message(shared: &Shared, p: &Params) -> Response {
    if let Err(response) = is_channel(p) {
        return response;
    }
    let Some(id) = p.str("message_id").and_then(|id| id.parse::<i64>().ok()) else {
        return bad_request("message identifier is not specified");
    };
    let mut inner = shared.lock();
    let before = inner.messages.len();
    inner.messages.retain(|m| m.message_id != id);
    if inner.messages.len() == before {
        return bad_request("message to delete not found");
    }
    ok(json!(true))
}

fn get_chat_member(shared: &Shared, p: &Params) -> Response {
    if let Err(response) = is_channel(p) {
        return response;
    }
    let inner = shared.lock();
    if p.str("user_id") != Some(BOT_ID.to_string()) {
        return bad_request("user not found");
    }
    if inner.bot_removed {
        return ok(json!({"status": "left", "user": bot_json()}));
    }
    ok(json!({
        "status": "administrator",
        "user": bot_json(),
        "can_be_edited": false,
        "is_anonymous": false,
        "can_manage_chat": true,
        "can_delete_messages": true,
        "can_manage_video_chats": false,
        "can_restrict_members": true,
        "can_promote_members": false,
        "can_change_info": true,
        "can_invite_users": true,
        "can_post_stories": false,
        "can_edit_stories": false,
        "can_delete_stories": false,
        "can_post_messages": inner.can_post,
        "can_edit_messages": true,
    }))
}

fn utf16(text: &str) -> usize {
    text.encode_utf16().count()
}

/// One file of an album or a single send, checked.
#[expect(clippy::result_large_err, reason = "the error is the handler's finished answer")]
fn upload(p: &Params, field: &str, kind: &str) -> Result<Upload, Response> {
    let Some((file_name, content_type, bytes)) = p.files.get(field).cloned() else {
        return Err(bad_request(&format!("there is no {kind} in the request")));
    };
    let limit = if kind == "photo" { MAX_PHOTO_BYTES } else { MAX_FILE_BYTES };
    if bytes.is_empty() {
        return Err(bad_request("file must be non-empty"));
    }
    if bytes.len() > limit {
        return Err(failure(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"));
    }
    Ok(Upload { kind: kind.to_owned(), file_name, content_type, bytes })
}

fn send(shared: &Shared, method: &str, p: &Params) -> Response {
    if let Err(response) = is_channel(p) {
        return response;
    }
    let mut inner = shared.lock();
    if inner.bot_removed {
        return fixtures::respond("telegram/bot_removed", &[]);
    }
    if !inner.can_post {
        return bad_request("need administrator rights in the channel chat");
    }
    let reply_to = match p.json("reply_parameters") {
        None => None,
        Some(reply) => {
            let id = reply["message_id"].as_i64().or_else(|| reply["message_id"].as_str()?.parse().ok());
            match id {
                Some(id) if inner.messages.iter().any(|m| m.message_id == id) => Some(id),
                _ => return bad_request("message to be replied not found"),
            }
        }
    };
    let base = SentMessage {
        message_id: 0,
        chat_id: CHANNEL_ID,
        method: method.to_owned(),
        text: None,
        caption: None,
        media: None,
        media_group_id: None,
        reply_to,
        disable_notification: p.bool("disable_notification"),
        protect_content: p.bool("protect_content"),
    };
    let mut sent = Vec::new();
    match method.to_ascii_lowercase().as_str() {
        "sendmessage" => {
            let text = p.str("text").unwrap_or_default();
            if text.trim().is_empty() {
                return bad_request("message text is empty");
            }
            if utf16(&text) > MAX_TEXT {
                return bad_request("message is too long");
            }
            sent.push(SentMessage { text: Some(text), ..base });
        }
        "sendphoto" | "sendvideo" => {
            let kind = if method.eq_ignore_ascii_case("sendphoto") { "photo" } else { "video" };
            let caption = p.str("caption").filter(|c| !c.is_empty());
            if caption.as_deref().is_some_and(|c| utf16(c) > MAX_CAPTION) {
                return bad_request("message caption is too long");
            }
            let media = match upload(p, kind, kind) {
                Ok(media) => media,
                Err(response) => return response,
            };
            sent.push(SentMessage { caption, media: Some(media), ..base });
        }
        _ => {
            let Some(Value::Array(items)) = p.json("media") else {
                return bad_request("can't parse media JSON object");
            };
            if !(2..=10).contains(&items.len()) {
                return bad_request("wrong number of messages to send");
            }
            inner.next_group_id += 1;
            let group = inner.next_group_id.to_string();
            for item in &items {
                let kind = item["type"].as_str().unwrap_or_default();
                if !matches!(kind, "photo" | "video") {
                    return bad_request("unsupported media type in the media group");
                }
                let Some(name) = item["media"].as_str().and_then(|m| m.strip_prefix("attach://")) else {
                    return bad_request("wrong remote file identifier specified");
                };
                let caption = item["caption"].as_str().filter(|c| !c.is_empty()).map(str::to_owned);
                if caption.as_deref().is_some_and(|c| utf16(c) > MAX_CAPTION) {
                    return bad_request("message caption is too long");
                }
                let media = match upload(p, name, kind) {
                    Ok(media) => media,
                    Err(response) => return response,
                };
                sent.push(SentMessage {
                    caption,
                    media: Some(media),
                    media_group_id: Some(group.clone()),
                    ..base.clone()
                });
            }
        }
    }
    let mut rendered = Vec::with_capacity(sent.len());
    for mut message in sent {
        inner.next_message_id += 1;
        message.message_id = inner.next_message_id;
        rendered.push(message_json(&message));
        inner.messages.push(message);
    }
    if method.eq_ignore_ascii_case("sendmediagroup") {
        ok(Value::Array(rendered))
    } else {
        ok(rendered.remove(0))
    }
}

/// `Message` (#message), as the channel's post.
fn message_json(message: &SentMessage) -> Value {
    let mut json = json!({
        "message_id": message.message_id,
        "sender_chat": chat_json(),
        "chat": chat_json(),
        "date": chrono::Utc::now().timestamp(),
    });
    if let Some(text) = &message.text {
        json["text"] = json!(text);
    }
    if let Some(caption) = &message.caption {
        json["caption"] = json!(caption);
    }
    if let Some(group) = &message.media_group_id {
        json["media_group_id"] = json!(group);
    }
    if let Some(reply_to) = message.reply_to {
        json["reply_to_message"] = json!({"message_id": reply_to, "chat": chat_json(), "date": 0});
    }
    if let Some(media) = &message.media {
        let file = json!({
            "file_id": format!("AgAC{}", message.message_id),
            "file_unique_id": format!("AQAD{}", message.message_id),
            "file_size": media.bytes.len(),
        });
        if media.kind == "photo" {
            json["photo"] = json!([file]);
        } else {
            json["video"] = file;
        }
    }
    json
}
