//! `/v1/media`: images and videos for posts. Upload as `multipart/form-data`, give a URL to fetch
//! (through the SSRF-safe outbound client), or send a large video in parts (a resumable upload,
//! in the manner of tus: `POST /v1/media/uploads`, then `PATCH …/content` with `Upload-Offset`).
//! The type is decided from the bytes; dimensions, duration and codecs are read from the file.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use crier_core::{ChannelId, Media, MediaId, MediaQuery, MediaStatus, Scope, StoreError};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, FieldError, Problem, ProblemKind};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Tenant, page_limit, small_json};
use crate::idempotency::{Created, Idempotency};
use crate::media::{
    Inspector, blob_error, content_key, inspect_stored, new_content_key, part_path, read_all, remove_bytes,
    storage_prefix, store_inspected,
};
use crate::routes::media_checks::{check_claimed_type, check_for_channels, check_text_field};
use crate::state::AppState;

const MAX_JSON_BYTES: usize = 64 * 1024;
const UPLOAD_OFFSET: &str = "upload-offset";
const UPLOAD_LENGTH: &str = "upload-length";

/// Routes whose requests are small: read, delete, begin an upload.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_media, delete_media)).routes(routes!(begin_upload))
}

/// Routes that move file bytes: the binary gives them a large body limit and a long timeout.
pub fn transfer_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_media, create_media)).routes(routes!(
        download_content,
        upload_part,
        upload_status
    ))
}

/// A file to fetch.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaUrlIn {
    /// An `https` URL on a public address; redirects are followed (at most 3, each checked).
    #[schema(example = "https://example.com/photo.jpg")]
    pub url: String,
    pub alt_text: Option<String>,
    /// Check the file against these channels' media rules now, rather than when a post uses it.
    #[serde(default)]
    pub channel_ids: Vec<String>,
}

/// The form of a direct upload (`multipart/form-data`).
#[derive(Debug, ToSchema)]
#[allow(dead_code, reason = "documents the multipart form for OpenAPI")]
pub struct MediaUploadForm {
    /// The file. Its type is read from its bytes; a name or declared type that says otherwise is refused.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    pub alt_text: Option<String>,
    /// Comma-separated channel ids to check the file against now.
    pub channel_ids: Option<String>,
}

/// A resumable upload to begin.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadIn {
    /// The file's exact size in bytes.
    pub size: u64,
    pub file_name: Option<String>,
    /// The type the file is expected to be (checked against its bytes at the end).
    pub content_type: Option<String>,
    pub alt_text: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UploadProgressOut {
    /// Bytes received so far; send the next part at this offset.
    pub received: u64,
    pub size: u64,
    /// 0 to 100.
    pub percent: u8,
    /// Where to `PATCH` the next part.
    pub upload_url: String,
    /// Unfinished uploads are dropped after this.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediaOut {
    #[schema(example = "med_01jd8x3k6m2v5q9r7t4w1y0zab")]
    pub id: String,
    /// `uploading` (a resumable upload under way) or `ready`.
    pub status: String,
    /// `image` or `video` (once ready).
    pub kind: Option<String>,
    /// The type read from the bytes, e.g. `image/png`, `video/mp4`.
    pub mime: Option<String>,
    pub size: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    /// Hex SHA-256 of the bytes.
    pub sha256: Option<String>,
    pub file_name: Option<String>,
    pub alt_text: Option<String>,
    pub source_url: Option<String>,
    /// Present while uploading.
    pub upload: Option<UploadProgressOut>,
    pub created_at: DateTime<Utc>,
}

impl From<Media> for MediaOut {
    fn from(m: Media) -> Self {
        let upload = (m.status == MediaStatus::Uploading).then(|| UploadProgressOut {
            received: m.received,
            size: m.expected_size,
            percent: u8::try_from(m.received.saturating_mul(100).checked_div(m.expected_size).unwrap_or(100))
                .unwrap_or(100),
            upload_url: format!("/v1/media/{}/content", m.id),
            expires_at: m.expires_at,
        });
        let facts = m.facts;
        Self {
            id: m.id.to_string(),
            status: m.status.as_str().to_owned(),
            kind: facts.as_ref().map(|f| f.kind.as_str().to_owned()),
            mime: facts.as_ref().map(|f| f.mime.clone()),
            size: facts.as_ref().map(|f| f.size),
            width: facts.as_ref().map(|f| f.width),
            height: facts.as_ref().map(|f| f.height),
            duration_ms: facts.as_ref().and_then(|f| f.duration_ms),
            video_codec: facts.as_ref().and_then(|f| f.video_codec.clone()),
            audio_codec: facts.as_ref().and_then(|f| f.audio_codec.clone()),
            sha256: facts.map(|f| f.sha256),
            file_name: m.file_name,
            alt_text: m.alt_text,
            source_url: m.source_url,
            upload,
            created_at: m.created_at,
        }
    }
}

fn not_found(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::not_found("media"),
        other => other.into(),
    }
}

/// A new media row around bytes about to be stored.
fn new_media(tenant: &Tenant, state: &AppState, status: MediaStatus) -> Media {
    let now = state.clock.now();
    let id = MediaId::generate();
    Media {
        workspace_id: tenant.workspace_id,
        id,
        status,
        file_name: None,
        declared_type: None,
        alt_text: None,
        source_url: None,
        expected_size: 0,
        received: 0,
        parts: 0,
        storage_prefix: storage_prefix(tenant.workspace_id, id),
        content_key: None,
        facts: None,
        created_at: now,
        updated_at: now,
        expires_at: None,
    }
}

/// Store a file: `multipart/form-data` with a `file` part (and optional `alt_text`,
/// `channel_ids`), or JSON `{url}` to fetch one. The answer describes what the bytes are.
#[utoipa::path(
    post,
    path = "/v1/media",
    tag = "media",
    security(("api_key" = ["media:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key, same answer")),
    request_body(content(
        (MediaUploadForm = "multipart/form-data"),
        (MediaUrlIn = "application/json"),
    )),
    responses(
        (status = 201, body = MediaOut),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_media(
    tenant: Tenant,
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Response> {
    tenant.require(Scope::MediaWrite)?;
    let headers = request.headers().clone();
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence == "multipart/form-data" {
        let multipart = Multipart::from_request(request, &state).await.map_err(|err| {
            ApiError::new(ProblemKind::for_status(err.status()), err.body_text()).with_status(err.status())
        })?;
        upload(tenant, state, headers, multipart).await
    } else if essence == "application/json" {
        let input: MediaUrlIn = small_json(request, MAX_JSON_BYTES).await?;
        fetch(tenant, state, headers, input).await
    } else {
        Err(ApiError::new(
            ProblemKind::UnsupportedMediaType,
            "send the file as multipart/form-data, or JSON {\"url\": …} to fetch one",
        ))
    }
}

/// What a direct upload's form held besides the file.
#[derive(Default, Serialize)]
struct FormFields {
    alt_text: Option<String>,
    channel_ids: Vec<String>,
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> ApiError {
    let status = err.status();
    let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the upload is larger than this server accepts".to_owned()
    } else {
        format!("the multipart body could not be read: {}", err.body_text())
    };
    ApiError::new(ProblemKind::for_status(status), detail).with_status(status)
}

async fn upload(
    tenant: Tenant,
    state: AppState,
    headers: HeaderMap,
    mut form: Multipart,
) -> ApiResult<Response> {
    let mut media = new_media(&tenant, &state, MediaStatus::Ready);
    let (key, sealed) = new_content_key(&state, tenant.workspace_id).await?;
    media.content_key = sealed.as_ref().map(|s| s.id);
    let mut fields = FormFields::default();
    let mut stored = false;
    let outcome = async {
        while let Some(field) = form.next_field().await.map_err(multipart_error)? {
            match field.name().unwrap_or_default() {
                "file" if stored => return Err(ApiError::field("/file", "send one file per request")),
                "file" => {
                    media.file_name = field.file_name().map(str::to_owned);
                    media.declared_type = field.content_type().map(str::to_owned);
                    let mut inspector = Inspector::new(&state.media);
                    let path = part_path(&media, 0)?;
                    stored = true;
                    let size = store_inspected(&state.blobs, &path, key.as_ref(), field, &mut inspector)
                        .await?
                        .map_err(|refusal| refusal.into_error("/file"))?;
                    let facts = inspector.finish().map_err(|refusal| refusal.into_error("/file"))?;
                    media.expected_size = size;
                    media.received = size;
                    media.parts = 1;
                    media.facts = Some(facts);
                }
                "alt_text" => fields.alt_text = Some(field.text().await.map_err(multipart_error)?),
                "channel_ids" => fields.channel_ids.extend(
                    field
                        .text()
                        .await
                        .map_err(multipart_error)?
                        .split(',')
                        .map(|id| id.trim().to_owned())
                        .filter(|id| !id.is_empty()),
                ),
                other => {
                    return Err(ApiError::field(
                        format!("/{other}"),
                        "unknown form field; send file, alt_text and channel_ids",
                    ));
                }
            }
        }
        let Some(facts) = media.facts.clone() else {
            return Err(ApiError::field("/file", "the form has no file part"));
        };
        let mut errors = Vec::new();
        check_claimed_type(
            &facts,
            media.declared_type.as_deref(),
            media.file_name.as_deref(),
            "/file",
            &mut errors,
        );
        check_text_field("/alt_text", fields.alt_text.as_deref(), &mut errors);
        let channels: Vec<String> = fields.channel_ids.clone();
        check_for_channels(&state, &tenant, &facts, &channels, &mut errors).await?;
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        media.alt_text = fields.alt_text.clone();
        // The key binds to what was sent: the file's hash and the form's other fields.
        let fingerprint = serde_json::json!({ "sha256": facts.sha256, "file_name": media.file_name,
            "declared_type": media.declared_type, "fields": fields });
        let idempotency = Idempotency::from_request(&headers, &Method::POST, "/v1/media", &fingerprint)?;
        let mut inserted = false;
        let response = idempotency
            .run(&state, &tenant, |idempotency_key| async {
                let created = insert(&state, &tenant, &media, sealed.as_ref(), idempotency_key).await?;
                inserted = true;
                Ok(created)
            })
            .await?;
        if !inserted {
            // A replay: the first request's media stands; these bytes are not needed.
            remove_bytes(&state, &media).await;
        }
        Ok(response)
    }
    .await;
    if outcome.is_err() && stored {
        remove_bytes(&state, &media).await;
    }
    outcome
}

async fn insert(
    state: &AppState,
    tenant: &Tenant,
    media: &Media,
    sealed: Option<&crier_core::SealedRow>,
    idempotency_key: Option<String>,
) -> ApiResult<Created> {
    let mut created = Created::json(StatusCode::CREATED, &MediaOut::from(media.clone()));
    let response = created.response_for(tenant, idempotency_key);
    let audit = tenant.audit(media.created_at, "media.created", media.id.to_string());
    state.store.insert_media(media, sealed, response.as_ref(), &audit).await?;
    created.stored = true;
    Ok(created)
}

async fn fetch(
    tenant: Tenant,
    state: AppState,
    headers: HeaderMap,
    input: MediaUrlIn,
) -> ApiResult<Response> {
    let idempotency = Idempotency::from_request(&headers, &Method::POST, "/v1/media", &input)?;
    idempotency
        .run(&state, &tenant, |idempotency_key| async {
            let mut errors = Vec::new();
            check_text_field("/alt_text", input.alt_text.as_deref(), &mut errors);
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            let policy = crier_net::OutboundPolicy {
                total_timeout: state.media.fetch_timeout,
                max_bytes: state.media.max_fetch_bytes.min(state.media.max_file_bytes),
                ..(*state.outbound).clone()
            };
            let client = crier_net::OutboundClient::new(policy, state.resolver.clone());
            let fetched = client
                .get(input.url.trim())
                .await
                .map_err(|refusal| ApiError::field("/url", refusal.to_string()))?;
            if !(200..300).contains(&fetched.status) {
                return Err(ApiError::field("/url", format!("the server answered {}", fetched.status)));
            }
            let mut media = new_media(&tenant, &state, MediaStatus::Ready);
            let (key, sealed) = new_content_key(&state, tenant.workspace_id).await?;
            media.content_key = sealed.as_ref().map(|s| s.id);
            media.source_url = Some(fetched.final_url.clone());
            media.declared_type = fetched.content_type.clone();
            media.file_name = url::Url::parse(&fetched.final_url)
                .ok()
                .and_then(|u| u.path_segments().and_then(|mut s| s.next_back().map(str::to_owned)))
                .filter(|name| !name.is_empty());
            media.alt_text = input.alt_text.clone();
            let path = part_path(&media, 0)?;
            let mut inspector = Inspector::new(&state.media);
            let body = futures::stream::once(async move {
                Ok::<_, std::convert::Infallible>(bytes::Bytes::from(fetched.body))
            });
            let size = store_inspected(&state.blobs, &path, key.as_ref(), body, &mut inspector)
                .await?
                .map_err(|refusal| refusal.into_error("/url"))?;
            let result = async {
                let facts = inspector.finish().map_err(|refusal| refusal.into_error("/url"))?;
                // A server's declared type is often generic or wrong; only the name is held to account.
                check_claimed_type(&facts, None, media.file_name.as_deref(), "/url", &mut errors);
                check_for_channels(&state, &tenant, &facts, &input.channel_ids, &mut errors).await?;
                if !errors.is_empty() {
                    return Err(ApiError::validation(errors));
                }
                media.expected_size = size;
                media.received = size;
                media.parts = 1;
                media.facts = Some(facts);
                insert(&state, &tenant, &media, sealed.as_ref(), idempotency_key).await
            }
            .await;
            if result.is_err() {
                remove_bytes(&state, &media).await;
            }
            result
        })
        .await
}

/// Begin a resumable upload (for large videos): then `PATCH` its parts to `upload.upload_url`,
/// each at the offset received so far. The last part completes it.
#[utoipa::path(
    post,
    path = "/v1/media/uploads",
    tag = "media",
    security(("api_key" = ["media:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: same key, same answer")),
    request_body = UploadIn,
    responses(
        (status = 201, body = MediaOut),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn begin_upload(
    tenant: Tenant,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<UploadIn>,
) -> ApiResult<Response> {
    tenant.require(Scope::MediaWrite)?;
    let idempotency = Idempotency::from_request(&headers, &Method::POST, "/v1/media/uploads", &input)?;
    idempotency
        .run(&state, &tenant, |idempotency_key| async {
            let mut errors = Vec::new();
            if input.size == 0 || input.size > state.media.max_file_bytes {
                errors.push(FieldError::new("/size", format!("1 to {} bytes", state.media.max_file_bytes)));
            }
            check_text_field("/alt_text", input.alt_text.as_deref(), &mut errors);
            check_text_field("/file_name", input.file_name.as_deref(), &mut errors);
            check_text_field("/content_type", input.content_type.as_deref(), &mut errors);
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            let mut media = new_media(&tenant, &state, MediaStatus::Uploading);
            let (_, sealed) = new_content_key(&state, tenant.workspace_id).await?;
            media.content_key = sealed.as_ref().map(|s| s.id);
            media.expected_size = input.size;
            media.file_name = input.file_name.clone();
            media.declared_type = input.content_type.clone();
            media.alt_text = input.alt_text.clone();
            media.expires_at = Some(
                media.created_at + chrono::Duration::from_std(state.media.upload_ttl).unwrap_or_default(),
            );
            insert(&state, &tenant, &media, sealed.as_ref(), idempotency_key).await
        })
        .await
}

fn offset_header(headers: &HeaderMap) -> ApiResult<u64> {
    headers.get(UPLOAD_OFFSET).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok()).ok_or_else(
        || ApiError::invalid("send the part's position as `Upload-Offset: <bytes received so far>`"),
    )
}

fn with_offset(mut response: Response, media: &Media) -> Response {
    let headers = response.headers_mut();
    headers.insert(UPLOAD_OFFSET, HeaderValue::from(media.received));
    headers.insert(UPLOAD_LENGTH, HeaderValue::from(media.expected_size));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Send the next part of a resumable upload: the raw bytes as the body
/// (`application/offset+octet-stream` or `application/octet-stream`) with `Upload-Offset` equal to
/// the bytes received so far. Answers with the progress; the part that completes the file answers
/// with the ready media, or 422 (and the upload is discarded) if the bytes are not a supported file.
/// An empty part at the final offset retries a completion that was interrupted.
#[utoipa::path(
    patch,
    path = "/v1/media/{id}/content",
    tag = "media",
    security(("api_key" = ["media:write"])),
    params(
        ("id" = String, Path, description = "The media's id (`med_…`)"),
        ("Upload-Offset" = u64, Header, description = "Bytes received so far (see `upload.received`)"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 200, body = MediaOut),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload_part(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<MediaId>,
    request: Request,
) -> ApiResult<Response> {
    tenant.require(Scope::MediaWrite)?;
    let media = state.store.get_media(tenant.workspace_id, id).await.map_err(not_found)?;
    let offset = offset_header(request.headers())?;
    let essence = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !matches!(essence, "application/offset+octet-stream" | "application/octet-stream") {
        return Err(ApiError::new(
            ProblemKind::UnsupportedMediaType,
            "send the part as `Content-Type: application/offset+octet-stream`",
        ));
    }
    if media.status != MediaStatus::Uploading {
        return Err(ApiError::conflict("this media is complete; it takes no more parts"));
    }
    if offset != media.received {
        return Ok(with_offset(
            ApiError::conflict(format!(
                "Upload-Offset is {offset} but {} bytes have been received; send from there",
                media.received
            ))
            .into_response(),
            &media,
        ));
    }
    let room = (media.expected_size - media.received).min(state.media.max_part_bytes);
    let media = if offset < media.expected_size {
        append_part(&state, &media, room, request.into_body()).await?
    } else {
        media
    };
    if media.received < media.expected_size {
        return Ok(with_offset(Json(MediaOut::from(media.clone())).into_response(), &media));
    }
    let completed = complete(&state, &tenant, media).await?;
    Ok(with_offset(Json(MediaOut::from(completed.clone())).into_response(), &completed))
}

/// Stores one part (at most `room` bytes) and records it.
async fn append_part(state: &AppState, media: &Media, room: u64, body: Body) -> ApiResult<Media> {
    let key = content_key(state, media).await?;
    let path = part_path(media, media.parts)?;
    let mut seen = 0u64;
    let mut first = (media.received == 0).then(|| Inspector::new(&state.media));
    let mut refused = None;
    let limited = body.into_data_stream().map(|item| {
        let chunk = item.map_err(|err| err.to_string())?;
        seen += chunk.len() as u64;
        if seen > room {
            return Err("too large".to_owned());
        }
        // The first part says what the file is: refuse a ZIP now, not after a gigabyte.
        if let Some(inspector) = first.as_mut()
            && inspector.take(&chunk).is_err()
        {
            refused = inspector.refusal().cloned();
            return Err("refused".to_owned());
        }
        Ok(chunk)
    });
    let stored = state.blobs.put(&path, key.as_ref(), limited).await;
    if let Some(refusal) = refused {
        return Err(refusal.into_error(""));
    }
    if seen > room {
        return Err(ApiError::new(
            ProblemKind::PayloadTooLarge,
            format!(
                "this part may hold at most {room} bytes (the rest of the file, and at most one part's limit)"
            ),
        ));
    }
    let stored = match stored {
        Ok(stored) => stored,
        Err(crier_blobs::BlobError::Body(reason)) => {
            return Err(ApiError::invalid(format!("the part broke off: {reason}; send it again")));
        }
        Err(err) => return Err(blob_error(err)),
    };
    if stored == 0 {
        return Err(ApiError::invalid("the part is empty"));
    }
    let now = state.clock.now();
    state
        .store
        .append_media_part(media.workspace_id, media.id, media.received, media.received + stored, now)
        .await
        .map_err(|err| match err {
            StoreError::Conflict(detail) => {
                ApiError::conflict(format!("{detail}; another part arrived first"))
            }
            other => not_found(other),
        })
}

/// Checks a fully received upload and marks it ready, or discards it with a 422.
async fn complete(state: &AppState, tenant: &Tenant, media: Media) -> ApiResult<Media> {
    let verdict = inspect_stored(state, &media).await?;
    let mut errors = Vec::new();
    let facts = match verdict {
        Ok(facts) if facts.size == media.expected_size => {
            check_claimed_type(
                &facts,
                media.declared_type.as_deref(),
                media.file_name.as_deref(),
                "",
                &mut errors,
            );
            Some(facts)
        }
        Ok(_) => {
            errors.push(FieldError::new("", "the stored parts do not add up to the announced size"));
            None
        }
        Err(refusal) => {
            errors.push(FieldError::new("", refusal.into_error("").problem().errors[0].detail.clone()));
            None
        }
    };
    match facts {
        Some(facts) if errors.is_empty() => {
            let audit = tenant.audit(state.clock.now(), "media.uploaded", media.id.to_string());
            state
                .store
                .complete_media(media.workspace_id, media.id, &facts, state.clock.now(), &audit)
                .await
                .map_err(not_found)
        }
        _ => {
            let audit = tenant.audit(state.clock.now(), "media.discarded", media.id.to_string());
            if state.store.delete_media(media.workspace_id, media.id, &audit).await.is_ok() {
                remove_bytes(state, &media).await;
            }
            errors.push(FieldError::new("", "the upload was discarded; begin a new one"));
            Err(ApiError::validation(errors))
        }
    }
}

/// Progress of a resumable upload, as headers (`Upload-Offset`, `Upload-Length`), as in tus.
#[utoipa::path(
    head,
    path = "/v1/media/{id}/content",
    tag = "media",
    security(("api_key" = ["media:read"])),
    params(("id" = String, Path, description = "The media's id (`med_…`)")),
    responses((status = 200, description = "Upload-Offset and Upload-Length headers"), (status = 404))
)]
pub async fn upload_status(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<MediaId>,
) -> ApiResult<Response> {
    tenant.require(Scope::MediaRead)?;
    let media = state.store.get_media(tenant.workspace_id, id).await.map_err(not_found)?;
    Ok(with_offset(StatusCode::OK.into_response(), &media))
}

/// Download the file's bytes (decrypted), with its real content type.
#[utoipa::path(
    get,
    path = "/v1/media/{id}/content",
    tag = "media",
    security(("api_key" = ["media:read"])),
    params(("id" = String, Path, description = "The media's id (`med_…`)")),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn download_content(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<MediaId>,
) -> ApiResult<Response> {
    tenant.require(Scope::MediaRead)?;
    let media = state.store.get_media(tenant.workspace_id, id).await.map_err(not_found)?;
    let Some(facts) = media.facts.clone() else {
        return Err(ApiError::conflict("the upload is not complete yet"));
    };
    let stream = read_all(&state, &media).await?;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(facts.size));
    if let Ok(mime) = HeaderValue::from_str(&facts.mime) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    Ok(response)
}

/// Show a media: what its bytes are, or an upload's progress.
#[utoipa::path(
    get,
    path = "/v1/media/{id}",
    tag = "media",
    security(("api_key" = ["media:read"])),
    params(("id" = String, Path, description = "The media's id (`med_…`)")),
    responses((status = 200, body = MediaOut), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_media(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<MediaId>,
) -> ApiResult<Json<MediaOut>> {
    tenant.require(Scope::MediaRead)?;
    Ok(Json(state.store.get_media(tenant.workspace_id, id).await.map_err(not_found)?.into()))
}

/// Delete a media and its bytes. Refused (409) while a post that has not finished uses it.
#[utoipa::path(
    delete,
    path = "/v1/media/{id}",
    tag = "media",
    security(("api_key" = ["media:write"])),
    params(("id" = String, Path, description = "The media's id (`med_…`)")),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_media(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<MediaId>,
) -> ApiResult<StatusCode> {
    tenant.require(Scope::MediaWrite)?;
    let audit = tenant.audit(state.clock.now(), "media.deleted", id.to_string());
    let media = state.store.delete_media(tenant.workspace_id, id, &audit).await.map_err(|err| match err {
        StoreError::Conflict(detail) => ApiError::conflict(detail),
        other => not_found(other),
    })?;
    remove_bytes(&state, &media).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MediaListQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediaListOut {
    pub data: Vec<MediaOut>,
    pub next_cursor: Option<String>,
}

/// List media, newest first.
#[utoipa::path(
    get,
    path = "/v1/media",
    tag = "media",
    security(("api_key" = ["media:read"])),
    params(MediaListQuery),
    responses((status = 200, body = MediaListOut))
)]
pub async fn list_media(
    tenant: Tenant,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<MediaListQuery>,
) -> ApiResult<Json<MediaListOut>> {
    tenant.require(Scope::MediaRead)?;
    let limit = page_limit(query.limit, 20, 100)?;
    let before = match query.cursor.as_deref() {
        None => None,
        Some(c) => {
            Some(c.parse::<MediaId>().map_err(|_| ApiError::invalid("cursor is not one this API returned"))?)
        }
    };
    let mut media =
        state.store.list_media(tenant.workspace_id, &MediaQuery { before, limit: limit + 1 }).await?;
    let more = media.len() as i64 > limit;
    media.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more { media.last().map(|m| m.id.to_string()) } else { None };
    Ok(Json(MediaListOut { data: media.into_iter().map(Into::into).collect(), next_cursor }))
}

/// For `ChannelId` parsing in `media_checks`.
pub(crate) fn parse_channel(id: &str) -> Option<ChannelId> {
    id.parse().ok()
}
