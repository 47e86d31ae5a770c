//! An in-process fake of the Instagram API with Facebook Login for tests: axum on 127.0.0.1,
//! following Meta's documented shapes closely enough to drive a real client:
//!
//! - Facebook Login's dialog (`GET /{version}/dialog/oauth`, answered at once as if the user
//!   agreed) and `GET /{version}/oauth/access_token` with a `code` (answers `{access_token,
//!   token_type, expires_in}`), developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow;
//! - `GET /{version}/oauth/access_token?grant_type=fb_exchange_token` (a valid user token for a
//!   long-lived one, `expires_in` about 60 days),
//!   developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived;
//! - `GET /{version}/{page-id}?fields=instagram_business_account{…}`,
//!   developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login/get-started;
//! - `POST /{version}/{ig-user-id}/media` (form: `image_url` and `alt_text`, or `media_type=REELS`
//!   and `video_url`, or `media_type=CAROUSEL` and `children`; `caption`): the fake fetches each
//!   URL over HTTP, as Meta's cURL does, and keeps the bytes and content type; a fetch that fails
//!   or is not a JPEG image answers 9004 / 2207052, a video not MP4 or MOV 352 / 2207026,
//!   developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media
//!   and …/reference/error-codes;
//! - carousels (developers.facebook.com/docs/instagram-platform/content-publishing#carousel-posts):
//!   item containers are `is_carousel_item=true` with an `image_url`, or `media_type=VIDEO` and a
//!   `video_url` (`VIDEO` is for carousel items only, and a reel cannot be one), without a
//!   caption; the `CAROUSEL` container names 2 to 10 distinct items in `children`, each of which
//!   must already have been read `FINISHED` and be in no other carousel;
//! - `GET /{version}/{container-id}?fields=status_code` (`IN_PROGRESS` on the first read, two
//!   reads for a video, then `FINISHED`), developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-container;
//! - `POST /{version}/{ig-user-id}/media_publish` (form: `creation_id`; a container not yet
//!   `FINISHED` answers 9007 / 2207027, a used-up quota 9 / 2207042),
//!   …/reference/ig-user/media_publish;
//! - `GET /{version}/{ig-user-id}/content_publishing_limit` (`{"data": [{"quota_usage", "config":
//!   {"quota_total": 50, "quota_duration": 86400}}]}`), …/reference/ig-user/content_publishing_limit;
//! - `GET /{version}/{ig-media-id}?fields=permalink` and `POST /{version}/{ig-media-id}/comments`
//!   (form: `message`), …/reference/ig-media and …/reference/ig-media/comments.
//!
//! Errors are Graph's `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`
//! with HTTP 400 (developers.facebook.com/docs/graph-api/guides/error-handling): 190 for a bad or
//! expired token, 4 (with `X-App-Usage`) when the app is rate limited.
//!
//! Where it is a fake: one app ([`APP_ID`], [`APP_SECRET`]), one Page ([`PAGE_ID`]) with one
//! Instagram account ([`IG_USER_ID`]); the dialog and the API share one base URL.

#![expect(clippy::unwrap_used, reason = "test support")]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::fixtures;

pub const APP_ID: &str = "880011223344556";
pub const APP_SECRET: &str = "instagram-test-secret";
pub const VERSION: &str = "v24.0";
pub const PAGE_ID: &str = "104000000000001";
/// A Page the user manages with no Instagram account connected.
pub const BARE_PAGE_ID: &str = "104000000000002";
pub const IG_USER_ID: &str = "17841400000000001";
pub const USERNAME: &str = "crier.bakery";
/// The app-scoped id of the Facebook user who connects (what Facebook Login's callbacks name).
pub const META_USER_ID: &str = "10160000000000001";
pub const LONG_LIVED: i64 = 5_183_944;
pub const QUOTA_TOTAL: u64 = 50;
/// What `X-App-Usage` promises when the app is rate limited (minutes).
pub const REGAIN_MINUTES: i64 = 12;

/// One fetched file of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// How it was sent: `IMAGE`, `REELS`, or `VIDEO` (a carousel's video).
    pub media_type: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub alt_text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: String,
    /// `IMAGE`, `REELS` or `CAROUSEL`.
    pub media_type: String,
    pub caption: String,
    /// The files in order (a carousel's children's).
    pub media: Vec<Fetched>,
    pub comments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub status: u16,
}

#[derive(Clone)]
struct Container {
    media_type: String,
    caption: String,
    media: Vec<Fetched>,
    carousel_item: bool,
    reads: usize,
    /// The read from which it is `FINISHED` (a video takes longer than an image).
    finished_at: usize,
    /// Named by a carousel container already.
    in_carousel: bool,
    published: bool,
}

impl Container {
    fn finished(&self) -> bool {
        self.reads >= self.finished_at
    }
}

struct Inner {
    codes: HashMap<String, String>,
    /// Token → long-lived.
    tokens: HashMap<String, bool>,
    expired: Vec<String>,
    containers: HashMap<String, Container>,
    posts: Vec<Post>,
    quota_usage: u64,
    rate_limited: usize,
    requests: Vec<RecordedRequest>,
}

type Shared = crate::fake_server::Shared<Inner>;
type St = State<Arc<Shared>>;

pub struct InstagramFake {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl InstagramFake {
    pub async fn start() -> Self {
        let (listener, shared) = crate::fake_server::bind(Inner {
            codes: HashMap::new(),
            tokens: HashMap::new(),
            expired: Vec::new(),
            containers: HashMap::new(),
            posts: Vec::new(),
            quota_usage: 0,
            rate_limited: 0,
            requests: Vec::new(),
        })
        .await;
        let router = Router::new()
            .route("/{version}/dialog/oauth", get(dialog))
            .route("/{version}/oauth/access_token", get(access_token))
            .route("/{version}/{id}", get(object))
            .route("/{version}/{id}/media", post(create_container))
            .route("/{version}/{id}/media_publish", post(publish))
            .route("/{version}/{id}/content_publishing_limit", get(limit))
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

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Posts already made in the rolling 24 hours.
    pub fn set_quota_usage(&self, used: u64) {
        self.shared.lock().quota_usage = used;
    }

    pub fn rate_limit_next(&self, n: usize) {
        self.shared.lock().rate_limited = n;
    }

    /// Every token issued so far has expired.
    pub fn expire_tokens(&self) {
        let mut inner = self.shared.lock();
        let all: Vec<String> = inner.tokens.keys().cloned().collect();
        inner.expired.extend(all);
    }
}

impl Drop for InstagramFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>()))
}

fn graph_error(code: i64, subcode: Option<i64>, message: &str) -> Response {
    let mut error =
        json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AinstaTrace"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error}))).into_response()
}

fn bearer(request: &Request) -> String {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

/// Records every request; on API calls checks the version, rate-limits and checks the token.
async fn guard(State(shared): St, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let login = path.ends_with("/dialog/oauth") || path.ends_with("/oauth/access_token");
    let refused = if !path.starts_with(&format!("/{VERSION}/")) {
        Some(graph_error(2635, None, "You are calling a deprecated version of the Graph API"))
    } else if login {
        None
    } else {
        let token = bearer(&request);
        let mut inner = shared.lock();
        if inner.rate_limited > 0 {
            inner.rate_limited -= 1;
            Some(fixtures::respond("instagram/rate_limited", &[("regain_minutes", json!(REGAIN_MINUTES))]))
        } else if inner.expired.contains(&token) {
            Some(fixtures::respond("instagram/expired_token", &[]))
        } else if inner.tokens.get(&token) != Some(&true) {
            Some(fixtures::respond("instagram/invalid_token", &[]))
        } else {
            None
        }
    };
    let response = match refused {
        Some(response) => response,
        None => next.run(request).await,
    };
    shared.lock().requests.push(RecordedRequest { method, path, status: response.status().as_u16() });
    response
}

async fn dialog(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let scopes: Vec<&str> = field("scope").split(',').collect();
    if field("client_id") != APP_ID
        || field("response_type") != "code"
        || field("state").is_empty()
        || !scopes.contains(&"instagram_basic")
        || !scopes.contains(&"instagram_content_publish")
        || !scopes.contains(&"pages_read_engagement")
    {
        return (StatusCode::BAD_REQUEST, "Invalid request").into_response();
    }
    let code = random_token("AQD");
    shared.lock().codes.insert(code.clone(), field("redirect_uri").to_owned());
    let mut location = url::Url::parse(field("redirect_uri")).unwrap();
    location.query_pairs_mut().append_pair("code", &code).append_pair("state", field("state"));
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

/// The code exchange, or `fb_exchange_token`.
async fn access_token(State(shared): St, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != APP_ID || field("client_secret") != APP_SECRET {
        return graph_error(101, None, "Error validating application. Invalid application ID.");
    }
    let mut inner = shared.lock();
    if field("grant_type") == "fb_exchange_token" {
        let given = field("fb_exchange_token");
        if inner.expired.iter().any(|t| t == given) {
            return fixtures::respond("instagram/expired_token", &[]);
        }
        if !inner.tokens.contains_key(given) {
            return graph_error(190, None, "Invalid OAuth access token.");
        }
        let token = random_token("EAAL");
        inner.tokens.insert(token.clone(), true);
        return fixtures::respond(
            "instagram/token",
            &[("access_token", json!(token)), ("expires_in", json!(LONG_LIVED))],
        );
    }
    if inner.codes.remove(field("code")).is_none_or(|uri| uri != field("redirect_uri")) {
        return graph_error(100, Some(36009), "This authorization code has been used.");
    }
    let token = random_token("EAAS");
    inner.tokens.insert(token.clone(), false);
    fixtures::respond("instagram/token", &[("access_token", json!(token)), ("expires_in", json!(5_400))])
}

/// A Page's Instagram account, a container's status, or a post's permalink.
async fn object(
    State(shared): St,
    Path((_, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let fields = query.get("fields").cloned().unwrap_or_default();
    let mut inner = shared.lock();
    if id == PAGE_ID && fields.contains("instagram_business_account") {
        let picture = format!("{}/pictures/{IG_USER_ID}.jpg", shared.base_url);
        return axum::Json(json!({"id": PAGE_ID, "instagram_business_account": {"id": IG_USER_ID,
            "username": USERNAME, "name": "Crier Bakery", "profile_picture_url": picture}}))
        .into_response();
    }
    if id == "me" {
        return axum::Json(json!({"id": META_USER_ID})).into_response();
    }
    if id == BARE_PAGE_ID {
        return axum::Json(json!({"id": BARE_PAGE_ID})).into_response();
    }
    if let Some(container) = inner.containers.get_mut(&id) {
        container.reads += 1;
        let status = match (container.published, container.finished()) {
            (true, _) => "PUBLISHED",
            (false, false) => "IN_PROGRESS",
            (false, true) => "FINISHED",
        };
        return axum::Json(json!({"id": id, "status_code": status})).into_response();
    }
    if inner.posts.iter().any(|p| p.id == id) && fields.contains("permalink") {
        return axum::Json(json!({"id": id, "permalink": format!("https://www.instagram.com/p/C{id}/")}))
            .into_response();
    }
    graph_error(100, Some(33), "Unsupported get request. Object does not exist")
}

/// Fetches a media URL as Meta's cURL would.
async fn fetch(url: &str) -> Option<(String, Vec<u8>)> {
    let answer = reqwest::get(url).await.ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let content_type = answer
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Some((content_type, answer.bytes().await.ok()?.to_vec()))
}

async fn create_container(
    State(shared): St,
    Path((_, user)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if user != IG_USER_ID {
        return graph_error(100, Some(33), "Unsupported post request. Object does not exist");
    }
    let caption = form.get("caption").cloned().unwrap_or_default();
    if caption.chars().count() > 2_200 {
        return graph_error(100, Some(2_207_040), "The caption is too long");
    }
    let carousel_item = form.get("is_carousel_item").is_some_and(|v| v == "true");
    let media_type = form.get("media_type").cloned().unwrap_or_else(|| "IMAGE".into());
    // `VIDEO` is a carousel's video; a reel cannot be in a carousel; a carousel item has no
    // caption of its own, and a carousel is not an item.
    let misplaced = match media_type.as_str() {
        "VIDEO" => !carousel_item,
        "REELS" | "CAROUSEL" => carousel_item,
        _ => false,
    };
    if misplaced {
        return graph_error(
            100,
            None,
            &format!("media_type {media_type} with is_carousel_item={carousel_item}"),
        );
    }
    if carousel_item && form.contains_key("caption") {
        return graph_error(100, None, "The parameter caption is not supported on carousel items");
    }
    let media = match media_type.as_str() {
        "CAROUSEL" => {
            let mut inner = shared.lock();
            let children: Vec<String> =
                form.get("children").map(|c| c.split(',').map(str::to_owned).collect()).unwrap_or_default();
            if !(2..=10).contains(&children.len()) {
                return graph_error(100, Some(2_207_028), "A carousel takes 2 to 10 children");
            }
            let mut media = Vec::new();
            for (i, child) in children.iter().enumerate() {
                match inner.containers.get(child) {
                    Some(c)
                        if c.carousel_item
                            && c.finished()
                            && !c.in_carousel
                            && !children[..i].contains(child) =>
                    {
                        media.extend(c.media.clone())
                    }
                    _ => return graph_error(100, None, "A child is not a finished carousel item of its own"),
                }
            }
            for child in &children {
                inner.containers.get_mut(child).unwrap().in_carousel = true;
            }
            media
        }
        "IMAGE" | "REELS" | "VIDEO" => {
            let key = if media_type == "IMAGE" { "image_url" } else { "video_url" };
            let Some(url) = form.get(key) else {
                return graph_error(100, None, &format!("The parameter {key} is required"));
            };
            let Some((content_type, bytes)) = fetch(url).await else {
                let message = json!("The media could not be fetched from this uri");
                return fixtures::respond("instagram/media_fetch_failed", &[("message", message)]);
            };
            let jpeg = bytes.starts_with(&[0xFF, 0xD8, 0xFF]);
            if media_type == "IMAGE" && !(jpeg && content_type == "image/jpeg") {
                let message = json!("Only photo or video can be accepted as media type.");
                return fixtures::respond("instagram/media_fetch_failed", &[("message", message)]);
            }
            if media_type != "IMAGE" && !matches!(content_type.as_str(), "video/mp4" | "video/quicktime") {
                return graph_error(352, Some(2_207_026), "The video format is not supported");
            }
            let alt_text = form.get("alt_text").cloned();
            vec![Fetched { media_type: media_type.clone(), content_type, bytes, alt_text }]
        }
        _ => return graph_error(100, None, "Invalid media_type"),
    };
    let mut inner = shared.lock();
    let id = format!("1791{:08}", inner.containers.len() + 1);
    let finished_at = if matches!(media_type.as_str(), "VIDEO" | "REELS") { 3 } else { 2 };
    let container = Container {
        media_type,
        caption,
        media,
        carousel_item,
        reads: 0,
        finished_at,
        in_carousel: false,
        published: false,
    };
    inner.containers.insert(id.clone(), container);
    axum::Json(json!({"id": id})).into_response()
}

async fn publish(State(shared): St, Path((_, user)): Path<(String, String)>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut inner = shared.lock();
    if inner.quota_usage >= QUOTA_TOTAL {
        return fixtures::respond("instagram/publish_limit_reached", &[]);
    }
    let creation = form.get("creation_id").cloned().unwrap_or_default();
    let Some(container) =
        inner.containers.get_mut(&creation).filter(|c| user == IG_USER_ID && !c.carousel_item)
    else {
        return graph_error(100, Some(33), "The creation_id does not name a container");
    };
    if container.published || !container.finished() {
        return fixtures::respond("instagram/media_not_ready", &[]);
    }
    container.published = true;
    let container = container.clone();
    let id = format!("1790{:08}", inner.posts.len() + 1);
    inner.posts.push(Post {
        id: id.clone(),
        media_type: container.media_type,
        caption: container.caption,
        media: container.media,
        comments: Vec::new(),
    });
    inner.quota_usage += 1;
    fixtures::respond("instagram/published", &[("id", json!(id))])
}

async fn limit(State(shared): St, Path((_, user)): Path<(String, String)>) -> Response {
    if user != IG_USER_ID {
        return graph_error(100, Some(33), "Object does not exist");
    }
    let used = shared.lock().quota_usage;
    fixtures::respond(
        "instagram/publishing_limit",
        &[("quota_usage", json!(used)), ("quota_total", json!(QUOTA_TOTAL))],
    )
}

async fn comment(State(shared): St, Path((_, media)): Path<(String, String)>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let message = form.get("message").cloned().unwrap_or_default();
    let mut inner = shared.lock();
    let Some(post) = inner.posts.iter_mut().find(|p| p.id == media) else {
        return graph_error(100, Some(33), "Object does not exist");
    };
    post.comments.push(message);
    let id = format!("1792{:08}", post.comments.len());
    axum::Json(json!({"id": id})).into_response()
}
