//! An in-process fake Facebook (Graph API and Facebook Login) for tests: axum on 127.0.0.1,
//! following Meta's documented shapes closely enough to drive a real client:
//!
//! - Facebook Login's dialog (`GET /{version}/dialog/oauth`, answered at once as if the user
//!   agreed; developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow);
//! - `GET /{version}/oauth/access_token`, the code exchange and `grant_type=fb_exchange_token`
//!   (developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived);
//! - `GET /{version}/me`, `GET /{version}/{page-id}?fields=id,name,access_token`
//!   (developers.facebook.com/docs/pages-api/getting-started);
//! - `POST /{version}/{page-id}/feed` (JSON: `message`, `link`, `attached_media`;
//!   developers.facebook.com/docs/pages-api/posts), `POST /{version}/{page-id}/photos` (multipart
//!   `source`, `caption`, `published`; developers.facebook.com/docs/graph-api/reference/page/photos/),
//!   `POST /{version}/{object-id}/comments`, `DELETE /{version}/{post-id}` (or `{video-id}`) with
//!   the Page token (`{"success": true}`; 100 / 33 for a post not there;
//!   developers.facebook.com/docs/pages-api/posts#delete-a-post);
//! - videos (developers.facebook.com/docs/video-api/guides/publishing): the Resumable Upload API
//!   (developers.facebook.com/docs/graph-api/guides/upload) — `POST /{version}/{app-id}/uploads`
//!   (`file_name`, `file_length`, `file_type`, a user token) → `{"id": "upload:…"}`;
//!   `POST /{version}/upload:{session}` with `Authorization: OAuth {user token}` and the
//!   `file_offset` header, the bytes as the body, which must start where the file so far ends and
//!   not run past `file_length` → `{"h": handle}` once the file is whole, else the session's
//!   `{"id", "file_offset"}` as `GET /{version}/upload:{session}` answers it (what Meta answers
//!   to a partial chunk is not documented); then `POST /{version}/{page-id}/videos` (multipart
//!   `fbuploader_video_file_chunk`, `description`, `title`) → `{"id": video-id}`, and
//!   `GET /{version}/{video-id}?fields=status,permalink_url`: `processing` at the first read,
//!   then `ready` (or `error` with the processing phase's `errors`, when told to fail;
//!   developers.facebook.com/docs/graph-api/reference/video-status).
//!
//! Errors are Graph's `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`
//! (developers.facebook.com/docs/graph-api/guides/error-handling), sent with HTTP 400 as Graph
//! does: 190 for a bad or expired token, 4 for the app's rate limit (with
//! `X-Business-Use-Case-Usage`, developers.facebook.com/docs/graph-api/overview/rate-limiting), 506
//! for a duplicate status, 200 for a Page the token may not post to, 100 for a bad upload session,
//! offset or handle, 352 for a file type the upload does not take (as the video references list it,
//! developers.facebook.com/docs/graph-api/reference/ad-account/advideos/#error-codes).
//!
//! Where it is a fake: one app ([`APP_ID`], [`APP_SECRET`]), one user ([`USER_ID`]) managing one
//! Page ([`PAGE_ID`]); login and Graph share one base URL.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::fixtures;

pub const APP_ID: &str = "1234567890123";
pub const APP_SECRET: &str = "facebook-test-secret";
pub const VERSION: &str = "v24.0";
/// The app-scoped id of the one user.
pub const USER_ID: &str = "10160000000000001";
pub const USER_NAME: &str = "Ada Crier";
pub const PAGE_ID: &str = "109876543210987";
pub const PAGE_NAME: &str = "Crier Bakery";
/// Long-lived user tokens: about 60 days.
pub const LONG_LIVED: i64 = 5_183_944;
/// Minutes `X-Business-Use-Case-Usage` says access comes back after a rate limit.
pub const REGAIN_MINUTES: i64 = 12;

/// A post on the Page.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: String,
    pub message: String,
    pub link: Option<String>,
    /// Photo ids attached (a photo post names its own photo).
    pub photos: Vec<String>,
}

/// A photo uploaded to the Page.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    pub id: String,
    pub bytes: Vec<u8>,
    pub content_type: String,
    pub published: bool,
    pub caption: Option<String>,
    pub alt_text: Option<String>,
}

/// A video created on the Page, with the file uploaded for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    pub id: String,
    pub description: Option<String>,
    pub title: Option<String>,
    /// The uploaded file, reassembled from its chunks.
    pub bytes: Vec<u8>,
    pub file_name: String,
    pub file_type: String,
    /// How many `POST /upload:…` calls carried it.
    pub chunks: usize,
    /// Status reads so far.
    pub reads: usize,
    /// Why processing fails, when it does.
    pub fails_with: Option<String>,
}

/// A Resumable Upload API session.
struct Upload {
    file_name: String,
    file_type: String,
    length: u64,
    bytes: Vec<u8>,
    chunks: usize,
    handle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
}

enum Token {
    Short,
    LongUser,
    Page,
}

struct Inner {
    codes: HashMap<String, String>,
    tokens: HashMap<String, Token>,
    expired: HashSet<String>,
    posts: Vec<Post>,
    /// The ids of the posts deleted, in order.
    deleted: Vec<String>,
    photos: Vec<Photo>,
    comments: Vec<(String, String)>,
    uploads: HashMap<String, Upload>,
    videos: Vec<Video>,
    /// The next video created fails processing with this message.
    fail_next_video: Option<String>,
    rate_limited: usize,
    /// Chunk uploads still to answer with a rate limit.
    rate_limited_transfers: usize,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;
type St = State<Arc<Shared>>;

/// The fake Facebook; the server stops when this is dropped.
pub struct FacebookFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FacebookFake {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            codes: HashMap::new(),
            tokens: HashMap::new(),
            expired: HashSet::new(),
            posts: Vec::new(),
            deleted: Vec::new(),
            photos: Vec::new(),
            comments: Vec::new(),
            uploads: HashMap::new(),
            videos: Vec::new(),
            fail_next_video: None,
            rate_limited: 0,
            rate_limited_transfers: 0,
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/{version}/dialog/oauth", get(dialog))
            .route("/{version}/oauth/access_token", get(access_token))
            .route("/{version}/me", get(me))
            .route("/{version}/{id}", get(node).delete(delete_post).post(transfer))
            .route("/{version}/{id}/feed", post(feed))
            .route("/{version}/{id}/photos", post(photos))
            .route("/{version}/{id}/uploads", post(start_upload))
            .route("/{version}/{id}/videos", post(videos))
            .route("/{version}/{id}/comments", post(comment))
            .layer(middleware::from_fn_with_state(shared.clone(), guard))
            .with_state(shared.clone());
        let task = crate::fake_server::serve(listener, router);
        Self { shared, task }
    }

    /// `http://127.0.0.1:PORT`: `graph.facebook.com`'s and `www.facebook.com`'s stand-in.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub fn posts(&self) -> Vec<Post> {
        self.shared.lock().posts.clone()
    }

    /// The ids of the posts deleted, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.shared.lock().deleted.clone()
    }

    pub fn photos(&self) -> Vec<Photo> {
        self.shared.lock().photos.clone()
    }

    /// `(object id, message)` of each comment.
    pub fn comments(&self) -> Vec<(String, String)> {
        self.shared.lock().comments.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The next `n` Graph calls answer code 4 (the app's rate limit).
    pub fn rate_limit_next(&self, n: usize) {
        self.shared.lock().rate_limited = n;
    }

    /// The next `n` chunk uploads (`POST /upload:…`) answer code 4; other calls go through.
    pub fn rate_limit_transfers(&self, n: usize) {
        self.shared.lock().rate_limited_transfers = n;
    }

    /// The videos created on the Page (deleted ones gone).
    pub fn videos(&self) -> Vec<Video> {
        self.shared.lock().videos.clone()
    }

    /// The next video created fails processing, its status naming `message`.
    pub fn fail_next_video(&self, message: &str) {
        self.shared.lock().fail_next_video = Some(message.to_owned());
    }

    /// Every Page token issued so far has expired (user tokens stay good).
    pub fn expire_page_tokens(&self) {
        let mut inner = self.shared.lock();
        let pages: Vec<String> =
            inner.tokens.iter().filter(|(_, t)| matches!(t, Token::Page)).map(|(k, _)| k.clone()).collect();
        inner.expired.extend(pages);
    }

    /// Every token issued so far has expired (the user changed their password).
    pub fn expire_all_tokens(&self) {
        let mut inner = self.shared.lock();
        let all: Vec<String> = inner.tokens.keys().cloned().collect();
        inner.expired.extend(all);
    }
}

impl Drop for FacebookFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>()))
}

/// Graph's error shape (developers.facebook.com/docs/graph-api/guides/error-handling).
fn graph_error(code: i64, subcode: Option<i64>, kind: &str, message: &str) -> Response {
    let mut error = json!({"message": message, "type": kind, "code": code, "fbtrace_id": "AfakeTrace01"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error}))).into_response()
}

/// The token of `Authorization: Bearer …`, or `OAuth …` as the Resumable Upload API's examples
/// send it.
fn bearer(request: &Request) -> String {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("OAuth ")))
        .unwrap_or_default()
        .to_owned()
}

/// Code 4 with the usage headers that say when access comes back.
fn rate_limit() -> Response {
    let usage = [("page_id", json!(PAGE_ID)), ("regain_minutes", json!(REGAIN_MINUTES))];
    fixtures::respond("facebook/rate_limited", &usage)
}

/// Records every request; on Graph calls (not login), checks the version, rate-limits and checks
/// the token, which it hands on as an extension.
async fn guard(State(shared): St, mut request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let login = path.ends_with("/dialog/oauth") || path.ends_with("/oauth/access_token");
    let refused = if !path.starts_with(&format!("/{VERSION}/")) {
        Some(graph_error(
            2635,
            None,
            "OAuthException",
            "You are calling a deprecated version of the Graph API",
        ))
    } else if login {
        None
    } else {
        let token = bearer(&request);
        let mut inner = shared.lock();
        let transfer = method == "POST" && path.contains("/upload:");
        if inner.rate_limited > 0 {
            inner.rate_limited -= 1;
            Some(rate_limit())
        } else if transfer && inner.rate_limited_transfers > 0 {
            inner.rate_limited_transfers -= 1;
            Some(rate_limit())
        } else if inner.expired.contains(&token) {
            Some(fixtures::respond("facebook/expired_token", &[]))
        } else {
            match inner.tokens.get(&token) {
                None | Some(Token::Short) => Some(fixtures::respond("facebook/invalid_token", &[])),
                Some(Token::LongUser) => {
                    request.extensions_mut().insert(Caller::User);
                    None
                }
                Some(Token::Page) => {
                    request.extensions_mut().insert(Caller::Page);
                    None
                }
            }
        }
    };
    let response = match refused {
        Some(response) => response,
        None => next.run(request).await,
    };
    shared.lock().requests.push(RecordedRequest { method, path, status: response.status().as_u16() });
    response
}

#[derive(Clone, Copy, PartialEq)]
enum Caller {
    User,
    Page,
}

async fn dialog(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != APP_ID || field("state").is_empty() || field("response_type") != "code" {
        return (StatusCode::BAD_REQUEST, "Invalid App ID").into_response();
    }
    let scopes: HashSet<&str> = field("scope").split(',').collect();
    if !["pages_show_list", "pages_manage_posts"].iter().all(|s| scopes.contains(s)) {
        return (StatusCode::BAD_REQUEST, "missing permissions").into_response();
    }
    let code = random_token("AQD");
    shared.lock().codes.insert(code.clone(), field("redirect_uri").to_owned());
    let mut location = url::Url::parse(field("redirect_uri")).unwrap();
    location.query_pairs_mut().append_pair("code", &code).append_pair("state", field("state"));
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

async fn access_token(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != APP_ID || field("client_secret") != APP_SECRET {
        return graph_error(
            101,
            None,
            "OAuthException",
            "Error validating application. Invalid application ID.",
        );
    }
    let mut inner = shared.lock();
    let (kind, expires_in) = if field("grant_type") == "fb_exchange_token" {
        let given = field("fb_exchange_token");
        if !matches!(inner.tokens.get(given), Some(Token::Short | Token::LongUser))
            || inner.expired.contains(given)
        {
            return graph_error(190, None, "OAuthException", "Invalid OAuth access token.");
        }
        (Token::LongUser, LONG_LIVED)
    } else {
        if inner.codes.remove(field("code")).is_none_or(|uri| uri != field("redirect_uri")) {
            return graph_error(100, Some(36009), "OAuthException", "This authorization code has been used.");
        }
        (Token::Short, 5_400)
    };
    let token = random_token("EAAB");
    inner.tokens.insert(token.clone(), kind);
    fixtures::respond("facebook/token", &[("access_token", json!(token)), ("expires_in", json!(expires_in))])
}

async fn me(axum::Extension(caller): axum::Extension<Caller>) -> Response {
    if caller != Caller::User {
        return axum::Json(json!({"id": PAGE_ID, "name": PAGE_NAME})).into_response();
    }
    axum::Json(json!({"id": USER_ID, "name": USER_NAME})).into_response()
}

/// `GET /{id}`: an upload session, a video or the Page.
async fn node(
    State(shared): St,
    Path((_, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Response {
    if id.starts_with("upload:") {
        return upload_status(&shared, &id, caller);
    }
    if shared.lock().videos.iter().any(|v| v.id == id) {
        return video_status(&shared, &id, caller);
    }
    if id != PAGE_ID {
        return graph_error(
            100,
            Some(33),
            "GraphMethodException",
            &format!(
                "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
        );
    }
    let mut body = json!({"id": PAGE_ID, "name": PAGE_NAME});
    let fields = query.get("fields").map(String::as_str).unwrap_or_default();
    if caller == Caller::User && fields.split(',').any(|f| f == "access_token") {
        let token = random_token("EAAP");
        shared.lock().tokens.insert(token.clone(), Token::Page);
        body["access_token"] = json!(token);
    }
    axum::Json(body).into_response()
}

/// `DELETE /{post-id}` as the Page: `{"success": true}`, or 100 / 33 for a post not there.
async fn delete_post(
    State(shared): St,
    Path((_, id)): Path<(String, String)>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Response {
    let mut inner = shared.lock();
    if let Some(index) = inner.videos.iter().position(|v| v.id == id) {
        if caller != Caller::Page {
            return graph_error(200, None, "OAuthException", "(#200) Permissions error");
        }
        inner.videos.remove(index);
        inner.deleted.push(id);
        return axum::Json(json!({"success": true})).into_response();
    }
    let Some(index) = inner.posts.iter().position(|p| p.id == id) else {
        return graph_error(
            100,
            Some(33),
            "GraphMethodException",
            &format!(
                "Unsupported delete request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
        );
    };
    if caller != Caller::Page {
        return graph_error(200, None, "OAuthException", "(#200) Permissions error");
    }
    inner.posts.remove(index);
    inner.deleted.push(id);
    axum::Json(json!({"success": true})).into_response()
}

fn page_only(id: &str, caller: Caller) -> Option<Response> {
    if id != PAGE_ID {
        return Some(graph_error(100, Some(33), "GraphMethodException", "Unsupported post request."));
    }
    (caller != Caller::Page).then(|| fixtures::respond("facebook/not_page_admin", &[]))
}

async fn feed(
    State(shared): St,
    Path((_, id)): Path<(String, String)>,
    axum::Extension(caller): axum::Extension<Caller>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Some(refused) = page_only(&id, caller) {
        return refused;
    }
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    let link = body["link"].as_str().map(str::to_owned);
    let attached: Vec<String> = body["attached_media"]
        .as_array()
        .map(|a| a.iter().map(|m| m["media_fbid"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default();
    if message.is_empty() && link.is_none() && attached.is_empty() {
        return graph_error(100, None, "OAuthException", "(#100) Missing message or attachment");
    }
    let mut inner = shared.lock();
    if attached.iter().any(|id| !inner.photos.iter().any(|p| &p.id == id && !p.published)) {
        return graph_error(
            100,
            None,
            "OAuthException",
            "(#100) attached_media: not an unpublished photo of this Page",
        );
    }
    if !message.is_empty() && inner.posts.iter().any(|p| p.message == message) {
        return fixtures::respond("facebook/duplicate_post", &[]);
    }
    let post_id = format!("{PAGE_ID}_{}", 900_000 + inner.posts.len());
    inner.posts.push(Post { id: post_id.clone(), message, link, photos: attached });
    fixtures::respond("facebook/post_created", &[("post_id", json!(post_id))])
}

async fn photos(
    State(shared): St,
    Path((_, id)): Path<(String, String)>,
    axum::Extension(caller): axum::Extension<Caller>,
    mut multipart: Multipart,
) -> Response {
    if let Some(refused) = page_only(&id, caller) {
        return refused;
    }
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut source: Option<(Vec<u8>, String)> = None;
    while let Some(field) = multipart.next_field().await.unwrap() {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "source" {
            let content_type = field.content_type().unwrap_or_default().to_owned();
            source = Some((field.bytes().await.unwrap().to_vec(), content_type));
        } else {
            fields.insert(name, field.text().await.unwrap());
        }
    }
    let Some((bytes, content_type)) = source.filter(|(b, _)| !b.is_empty()) else {
        return graph_error(324, None, "OAuthException", "(#324) Requires upload file");
    };
    let published = fields.get("published").is_none_or(|p| p != "false");
    let mut inner = shared.lock();
    let photo_id = format!("{}", 500_000 + inner.photos.len());
    let caption = fields.get("caption").cloned();
    inner.photos.push(Photo {
        id: photo_id.clone(),
        bytes,
        content_type,
        published,
        caption: caption.clone(),
        alt_text: fields.get("alt_text_custom").cloned(),
    });
    if !published {
        return fixtures::respond("facebook/photo_uploaded", &[("photo_id", json!(photo_id))]);
    }
    let post_id = format!("{PAGE_ID}_{}", 900_000 + inner.posts.len());
    let post = Post {
        id: post_id.clone(),
        message: caption.unwrap_or_default(),
        link: None,
        photos: vec![photo_id.clone()],
    };
    inner.posts.push(post);
    fixtures::respond("facebook/photo_posted", &[("photo_id", json!(photo_id)), ("post_id", json!(post_id))])
}

async fn comment(
    State(shared): St,
    Path((_, id)): Path<(String, String)>,
    axum::Extension(caller): axum::Extension<Caller>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut inner = shared.lock();
    let known = inner.posts.iter().any(|p| p.id == id) || inner.videos.iter().any(|v| v.id == id);
    if caller != Caller::Page || !known {
        return graph_error(100, Some(33), "GraphMethodException", "Unsupported post request.");
    }
    let message = body["message"].as_str().unwrap_or_default().to_owned();
    inner.comments.push((id.clone(), message));
    axum::Json(json!({"id": format!("{id}_{}", inner.comments.len())})).into_response()
}

/// The file types `POST /{app-id}/uploads` takes (developers.facebook.com/docs/graph-api/guides/upload).
const UPLOAD_TYPES: [&str; 5] = ["application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4"];

fn bad_upload(message: &str) -> Response {
    graph_error(100, None, "OAuthException", &format!("(#100) {message}"))
}

/// `POST /{app-id}/uploads?file_name&file_length&file_type` with a user token.
async fn start_upload(
    State(shared): St,
    Path((_, app)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Response {
    if app != APP_ID {
        return graph_error(100, Some(33), "GraphMethodException", "Unsupported post request.");
    }
    if caller != Caller::User {
        return graph_error(
            190,
            None,
            "OAuthException",
            "An upload session must be started with a user access token",
        );
    }
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let Ok(length) = field("file_length").parse::<u64>() else {
        return bad_upload("The parameter file_length is required");
    };
    if length == 0 || field("file_name").is_empty() {
        return bad_upload("file_name and a file_length above zero are required");
    }
    if !UPLOAD_TYPES.contains(&field("file_type")) {
        return graph_error(
            352,
            None,
            "OAuthException",
            "(#352) The video file you selected is in a format that we don't support.",
        );
    }
    let session = format!("upload:{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>()));
    shared.lock().uploads.insert(
        session.clone(),
        Upload {
            file_name: field("file_name").to_owned(),
            file_type: field("file_type").to_owned(),
            length,
            bytes: Vec::new(),
            chunks: 0,
            handle: None,
        },
    );
    axum::Json(json!({"id": session})).into_response()
}

/// `GET /upload:{session}`: how far the file has come.
fn upload_status(shared: &Shared, id: &str, caller: Caller) -> Response {
    let inner = shared.lock();
    match inner.uploads.get(id) {
        Some(upload) if caller == Caller::User => {
            axum::Json(json!({"id": id, "file_offset": upload.bytes.len()})).into_response()
        }
        _ => bad_upload("Invalid upload session"),
    }
}

/// `POST /upload:{session}` with `file_offset` and the chunk's bytes.
async fn transfer(
    State(shared): St,
    Path((_, id)): Path<(String, String)>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = shared.lock();
    let Some(upload) = inner.uploads.get_mut(&id).filter(|_| caller == Caller::User) else {
        return bad_upload("Invalid upload session");
    };
    let offset = headers.get("file_offset").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if offset != Some(upload.bytes.len() as u64) {
        return bad_upload(&format!(
            "file_offset {offset:?} does not match the bytes received so far ({})",
            upload.bytes.len()
        ));
    }
    if upload.handle.is_some()
        || body.is_empty()
        || upload.bytes.len() as u64 + body.len() as u64 > upload.length
    {
        return bad_upload("The chunk does not fit the file_length the session was started with");
    }
    upload.bytes.extend_from_slice(&body);
    upload.chunks += 1;
    if (upload.bytes.len() as u64) < upload.length {
        return axum::Json(json!({"id": id, "file_offset": upload.bytes.len()})).into_response();
    }
    let handle = format!("2:{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>()));
    upload.handle = Some(handle.clone());
    axum::Json(json!({"h": handle})).into_response()
}

/// `POST /{page-id}/videos` with an uploaded file's handle.
async fn videos(
    State(shared): St,
    Path((_, id)): Path<(String, String)>,
    axum::Extension(caller): axum::Extension<Caller>,
    mut multipart: Multipart,
) -> Response {
    if let Some(refused) = page_only(&id, caller) {
        return refused;
    }
    let mut fields: HashMap<String, String> = HashMap::new();
    while let Some(field) = multipart.next_field().await.unwrap() {
        let name = field.name().unwrap_or_default().to_owned();
        fields.insert(name, field.text().await.unwrap());
    }
    let handle = fields.get("fbuploader_video_file_chunk").cloned().unwrap_or_default();
    let mut inner = shared.lock();
    let Some(session) = inner
        .uploads
        .iter()
        .find(|(_, u)| u.handle.as_deref() == Some(handle.as_str()))
        .map(|(k, _)| k.clone())
    else {
        return bad_upload("Invalid fbuploader_video_file_chunk: not an uploaded file's handle");
    };
    let upload = inner.uploads.remove(&session).unwrap();
    if upload.file_type != "video/mp4" {
        return graph_error(
            352,
            None,
            "OAuthException",
            "(#352) The video file you selected is in a format that we don't support.",
        );
    }
    let video_id = format!("{}", 700_000 + inner.videos.len());
    let fails_with = inner.fail_next_video.take();
    inner.videos.push(Video {
        id: video_id.clone(),
        description: fields.get("description").cloned(),
        title: fields.get("title").cloned(),
        bytes: upload.bytes,
        file_name: upload.file_name,
        file_type: upload.file_type,
        chunks: upload.chunks,
        reads: 0,
        fails_with,
    });
    axum::Json(json!({"id": video_id})).into_response()
}

/// `GET /{video-id}?fields=status,permalink_url`: processing at the first read, then ready (or
/// failed).
fn video_status(shared: &Shared, id: &str, caller: Caller) -> Response {
    if caller != Caller::Page {
        return graph_error(200, None, "OAuthException", "(#200) Permissions error");
    }
    let mut inner = shared.lock();
    let video = inner.videos.iter_mut().find(|v| v.id == id).unwrap();
    video.reads += 1;
    let complete = json!({"status": "complete"});
    let status = match (&video.fails_with, video.reads) {
        (_, 1) => json!({"video_status": "processing", "uploading_phase": complete,
            "processing_phase": {"status": "in_progress"}, "publishing_phase": {"status": "not_started"}}),
        (Some(message), _) => json!({"video_status": "error", "uploading_phase": complete,
            "processing_phase": {"status": "error", "errors": [{"message": message}]},
            "publishing_phase": {"status": "not_started"}}),
        (None, _) => json!({"video_status": "ready", "uploading_phase": complete,
            "processing_phase": complete,
            "publishing_phase": {"status": "complete", "publish_status": "published"}}),
    };
    axum::Json(json!({"id": id, "status": status, "permalink_url": format!("/{PAGE_ID}/videos/{id}/")}))
        .into_response()
}
