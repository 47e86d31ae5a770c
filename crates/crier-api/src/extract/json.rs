use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ProblemKind};

/// A JSON object request body. Unlike `axum::Json` every failure is problem+json: 415 for a
/// wrong content type, 413 past the body limit, 400 for malformed JSON, and 422 with a JSON
/// pointer for JSON that does not fit the schema (unknown fields included: wire types use
/// `deny_unknown_fields`).
pub struct ApiJson<T>(pub T);

/// Like `ApiJson`, but an empty body (with or without a content type) is `None`.
pub struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(req.headers())?;
        let bytes = read_body(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // An empty body means "no options" whatever the content type says: curl's `-d ''`
        // sends a form content type, and that should not turn into a 415.
        let headers = req.headers().clone();
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        require_json(&headers)?;
        parse(&bytes).map(|value| OptionalJson(Some(value)))
    }
}

fn unsupported() -> ApiError {
    ApiError::new(ProblemKind::UnsupportedMediaType, "send the body as `Content-Type: application/json`")
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let is_json =
        essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json { Ok(()) } else { Err(unsupported()) }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        let kind = ProblemKind::for_status(status);
        let detail = if kind == ProblemKind::PayloadTooLarge {
            "the request body is larger than this server accepts".to_owned()
        } else {
            "the request body could not be read".to_owned()
        };
        ApiError::new(kind, detail).with_status(status)
    })
}

/// The status says what is wrong: bytes that are not JSON (or nest deeper than serde_json's 128
/// levels) are 400; JSON that is not an object, or an object that does not fit `T` (a wrong type,
/// an unknown or duplicated field), is 422 with a pointer to the offending field. Parsing goes
/// straight from the bytes, so a duplicated key is an error rather than "last one wins".
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Distinguish "not JSON at all" from "JSON, but not an object".
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ApiError::field("", "the body must be a JSON object")),
            Err(err) => Err(ApiError::invalid(format!("the body is not valid JSON: {err}"))),
        };
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let pointer = pointer(err.path());
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let detail = strip_position(&inner);
                ApiError::field(point_at_named_field(pointer, &detail), detail)
            }
            _ => ApiError::invalid(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    deserializer.end().map_err(|err| ApiError::invalid(format!("the body is not valid JSON: {err}")))?;
    Ok(value)
}

/// serde reports an unknown or duplicated field at the object holding it; point at the field.
fn point_at_named_field(pointer: String, detail: &str) -> String {
    let named =
        ["unknown field `", "duplicate field `"].iter().find_map(|prefix| detail.strip_prefix(prefix));
    match named.and_then(|rest| rest.split('`').next()) {
        Some(field) => {
            let segment = format!("/{}", field.replace('~', "~0").replace('/', "~1"));
            // serde_path_to_error already names unknown fields; duplicates it does not.
            if pointer.ends_with(&segment) { pointer } else { pointer + &segment }
        }
        None => pointer,
    }
}

/// serde_json appends " at line L column C" to data errors; the pointer already says where.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// serde_path_to_error's path as an RFC 6901 JSON pointer (the empty string is the whole body).
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// A JSON object body read under `limit` bytes whatever the route's own body limit (a route that
/// also takes large uploads), with `ApiJson`'s errors.
pub async fn small_json<T: DeserializeOwned>(req: Request, limit: usize) -> Result<T, ApiError> {
    require_json(req.headers())?;
    let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| {
        ApiError::new(ProblemKind::PayloadTooLarge, format!("a JSON body here is at most {limit} bytes"))
    })?;
    parse(&bytes)
}
