//! The fake's image posts, in the shapes Reddit's web client and PRAW use (praw-dev/praw,
//! `praw/models/reddit/subreddit.py`: `_upload_media`, `_submit_media`, `submit_gallery`):
//!
//! - `POST /api/media/asset.json` (form `filepath`, `mimetype`) answers an upload lease:
//!   `{"args": {"action": "//HOST/s3", "fields": [{name, value}…]}, "asset": {"asset_id",
//!   "processing_state", "websocket_url"}}`; a type Reddit does not take is a 400.
//! - `POST /s3` stands in for the S3 bucket: a multipart POST whose fields must be exactly the
//!   lease's, with the file last; no `Authorization` (S3 refuses a bearer). 201 and an XML
//!   `<PostResponse>` with `<Location>`; refusals are S3's XML `<Error><Code>…</Code>…`:
//!   `AccessDenied` (a field changed or missing), `EntityTooLarge` (over 20 MB), `InvalidArgument`.
//! - `POST /api/submit` with `kind=image` and `url` = action/key of an uploaded asset: the post is
//!   made, and the answer carries only `user_submitted_page` and a `websocket_url`, on which
//!   `{"type": "success", "payload": {"redirect": URL}}` (or `{"type": "failed"}`) is sent.
//! - `POST /api/submit_gallery_post.json` (JSON): 2 to 20 `items` of uploaded assets, answered
//!   `{"json": {"errors": [], "data": {"url", "id": "t3_…"}}}`.

use std::collections::HashMap;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::{Inner, Shared, St, form_of, new_post, random_token, submit_errors};
use crate::fixtures;

/// The largest upload the bucket's policy allows.
const MAX_BYTES: usize = 20_000_000;
const TYPES: [&str; 5] = ["image/png", "image/jpeg", "image/gif", "video/mp4", "video/quicktime"];

/// One upload lease.
pub(super) struct Asset {
    pub fields: Vec<(String, String)>,
    pub key: String,
    pub bytes: Option<Vec<u8>>,
}

impl Asset {
    /// The address an image post names for this asset.
    pub fn url(&self, base_url: &str) -> String {
        format!("{base_url}/s3/{}", self.key)
    }
}

fn xml_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
         <RequestId>4442587FB7D0A2F9</RequestId></Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

pub(super) async fn lease(State(shared): St, body: String) -> Response {
    let form = form_of(&body);
    let mimetype = form.get("mimetype").cloned().unwrap_or_default();
    let filepath = form.get("filepath").cloned().unwrap_or_default();
    if filepath.is_empty() || !TYPES.contains(&mimetype.as_str()) {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"message": "Bad Request", "error": 400})))
            .into_response();
    }
    let asset_id = random_token().chars().filter(char::is_ascii_alphanumeric).take(13).collect::<String>();
    let key = format!("rte_images/{asset_id}");
    let policy = STANDARD.encode(format!("{{\"conditions\": [{{\"key\": \"{key}\"}}]}}"));
    let fields: Vec<(String, String)> = [
        ("acl", "private"),
        ("key", key.as_str()),
        ("X-Amz-Credential", "ASIAFAKE/20260101/us-east-1/s3/aws4_request"),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Date", "20260101T000000Z"),
        ("success_action_status", "201"),
        ("content-type", mimetype.as_str()),
        ("x-amz-storage-class", "STANDARD"),
        ("x-amz-meta-ext", mimetype.rsplit('/').next().unwrap()),
        ("policy", policy.as_str()),
        ("X-Amz-Signature", "5e1f9a0c2b"),
        ("x-amz-security-token", "FwoGZXIvYXdzEFAKE"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect();
    let action = shared.base_url.trim_start_matches("http:").to_owned() + "/s3";
    let websocket_url =
        format!("{}/ws/{}", shared.base_url.replacen("http", "ws", 1), URL_SAFE_NO_PAD.encode(&asset_id));
    let args = json!({
        "action": action,
        "fields": fields.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
    });
    shared.lock().assets.insert(asset_id.clone(), Asset { fields, key, bytes: None });
    let asset = json!({
        "asset_id": asset_id,
        "processing_state": "incomplete",
        "payload": {"filepath": filepath},
        "websocket_url": websocket_url,
    });
    (StatusCode::OK, axum::Json(json!({"args": args, "asset": asset}))).into_response()
}

/// The S3 bucket's POST upload.
pub(super) async fn upload(State(shared): St, headers: HeaderMap, mut multipart: Multipart) -> Response {
    if headers.contains_key(header::AUTHORIZATION) {
        return xml_error(StatusCode::BAD_REQUEST, "InvalidArgument", "Unsupported Authorization Type");
    }
    let mut fields = Vec::new();
    let mut file = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        if file.is_some() {
            // S3 ignores everything after the file; a policy field there is missing.
            continue;
        }
        let bytes = field.bytes().await.unwrap().to_vec();
        if name == "file" {
            file = Some(bytes);
        } else {
            fields.push((name, String::from_utf8(bytes).unwrap()));
        }
    }
    let Some(file) = file else {
        return xml_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "POST requires exactly one file upload per request.",
        );
    };
    let mut inner = shared.lock();
    let key = fields.iter().find(|(n, _)| n == "key").map(|(_, v)| v.clone()).unwrap_or_default();
    let Some(asset) = inner.assets.values_mut().find(|a| a.key == key) else {
        return xml_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\"]",
        );
    };
    if asset.fields != fields {
        return xml_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Invalid according to Policy: Extra input fields or a condition failed",
        );
    }
    if file.len() > MAX_BYTES {
        return xml_error(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        );
    }
    asset.bytes = Some(file);
    let location = asset.url(&shared.base_url);
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{location}</Location>\
         <Bucket>reddit-uploaded-media</Bucket><Key>{key}</Key>\
         <ETag>\"0cc175b9c0f1b6a831c399e269772661\"</ETag></PostResponse>"
    );
    (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// `kind=image`: the post is made (unless image posts fail), and reported on the websocket.
pub(super) fn submit_image(
    shared: &Shared,
    inner: &mut Inner,
    mut form: HashMap<String, String>,
) -> Response {
    let url = form.get("url").cloned().unwrap_or_default();
    let uploaded = inner.assets.iter().find(|(_, a)| a.url(&shared.base_url) == url && a.bytes.is_some());
    let Some((asset_id, _)) = uploaded else {
        return submit_errors(&[["BAD_URL", "you should check that url", "url"]]);
    };
    let token = URL_SAFE_NO_PAD.encode(asset_id);
    let message = if inner.fail_media_posts {
        json!({"type": "failed", "payload": {"message": "the image could not be processed"}})
    } else {
        let sr = form.get("sr").cloned().unwrap_or_default();
        let title = form.get("title").cloned().unwrap_or_default();
        let (id, post_url) = new_post(inner, &sr, &title);
        form.insert("id".into(), id);
        inner.submissions.push(form);
        json!({"type": "success", "payload": {"redirect": post_url}})
    };
    inner.sockets.insert(token.clone(), message);
    let websocket_url = format!("{}/ws/{token}", shared.base_url.replacen("http", "ws", 1));
    let vars = [("username", json!(super::USERNAME)), ("websocket_url", json!(websocket_url))];
    fixtures::respond("reddit/media_submitted", &vars)
}

pub(super) async fn socket(
    State(shared): St,
    Path(token): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (message, silent) = {
        let inner = shared.lock();
        (inner.sockets.get(&token).cloned(), inner.silent_websocket)
    };
    upgrade.on_upgrade(move |socket| speak(socket, message, silent))
}

async fn speak(mut socket: WebSocket, message: Option<Value>, silent: bool) {
    if let Some(message) = message.filter(|_| !silent) {
        let _ = socket.send(Message::Text(message.to_string().into())).await;
    }
    // Stay open until the client goes.
    while let Some(Ok(_)) = socket.recv().await {}
}

pub(super) async fn submit_gallery(State(shared): St, body: String) -> Response {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"message": "Bad Request", "error": 400})))
            .into_response();
    };
    let text = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    let mut inner = shared.lock();
    let sr = text("sr");
    if sr.is_empty() || inner.missing_subreddits.contains(&sr.to_lowercase()) {
        return submit_errors(&[["SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr"]]);
    }
    if text("title").is_empty() {
        return submit_errors(&[["NO_TEXT", "we need something here", "title"]]);
    }
    let items = body["items"].as_array().cloned().unwrap_or_default();
    if !(2..=20).contains(&items.len()) {
        return submit_errors(&[["GALLERY_ITEMS", "a gallery takes 2 to 20 images", "items"]]);
    }
    let mut media = Vec::new();
    for item in &items {
        let id = item["media_id"].as_str().unwrap_or_default();
        if inner.assets.get(id).is_none_or(|a| a.bytes.is_none()) {
            return submit_errors(&[["MEDIA_NOT_FOUND", "that media could not be found", "items"]]);
        }
        media.push(id.to_owned());
    }
    let (id, url) = new_post(&mut inner, &sr, &text("title"));
    let mut form: HashMap<String, String> = ["api_type", "sr", "title", "text", "flair_id"]
        .into_iter()
        .filter(|k| body.get(*k).is_some())
        .map(|k| (k.to_owned(), text(k)))
        .collect();
    for flag in ["nsfw", "spoiler", "sendreplies"] {
        form.insert(flag.into(), body[flag].as_bool().unwrap_or_default().to_string());
    }
    form.insert("kind".into(), "gallery".into());
    form.insert("media_ids".into(), media.join(","));
    form.insert("id".into(), id.clone());
    inner.submissions.push(form);
    // Kept inline rather than as a fixture: `submit_gallery_post.json` is not on Reddit's API
    // page (reddit.com/dev/api), so there is no doc page of Reddit's to name; the shape is PRAW's.
    let data = json!({"url": url, "id": format!("t3_{id}")});
    (StatusCode::OK, axum::Json(json!({"json": {"errors": [], "data": data}}))).into_response()
}
