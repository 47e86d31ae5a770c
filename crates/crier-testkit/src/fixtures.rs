//! The platform fakes' documented answers, recorded as fixtures: one JSON file per answer shape
//! under `crates/crier-testkit/fixtures/<platform>/`, each naming the doc page it comes from:
//!
//! ```json
//! {"source": "https://…", "status": 429, "headers": {"x-ratelimit-reset": "300"}, "body": {…}}
//! ```
//!
//! The files are compiled in (`include_str!`) and the fakes send them as they are, so what a
//! fake answers is what its doc page shows (`tests/fixtures.rs` checks every file names one and
//! is sent by a fake). Dynamic values (tokens, ids, expiry) are `{{name}}` placeholders:
//! a string that is exactly `"{{name}}"` becomes the value given (a number stays a number), a
//! placeholder inside a longer string is replaced by the value's text. A placeholder left
//! unfilled panics, so a fake cannot send one by mistake.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test support: a broken fixture should stop the test loudly"
)]

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        /// Every fixture: its name (`platform/answer`) and its text.
        pub const ALL: &[(&str, &str)] =
            &[$(($name, include_str!(concat!("../fixtures/", $name, ".json")))),*];
    };
}

fixtures![
    "discord/empty_message",
    "discord/invalid_form_body",
    "discord/invalid_webhook_token",
    "discord/rate_limited",
    "discord/unknown_webhook",
    "facebook/duplicate_post",
    "facebook/expired_token",
    "facebook/invalid_token",
    "facebook/not_page_admin",
    "facebook/photo_posted",
    "facebook/photo_uploaded",
    "facebook/post_created",
    "facebook/rate_limited",
    "facebook/token",
    "instagram/expired_token",
    "instagram/invalid_token",
    "instagram/media_fetch_failed",
    "instagram/media_not_ready",
    "instagram/publish_limit_reached",
    "instagram/published",
    "instagram/publishing_limit",
    "instagram/rate_limited",
    "instagram/token",
    "linkedin/duplicate_post",
    "linkedin/expired_token",
    "linkedin/invalid_refresh_token",
    "linkedin/invalid_token",
    "linkedin/post_created",
    "linkedin/rate_limited",
    "linkedin/revoked_token",
    "linkedin/token",
    "linkedin/token_refreshable",
    "mastodon/invalid_grant",
    "mastodon/invalid_token",
    "mastodon/rate_limited",
    "mastodon/revoked_token",
    "mastodon/text_blank",
    "mastodon/text_too_long",
    "mastodon/token",
    "pinterest/invalid_pin",
    "pinterest/invalid_refresh_token",
    "pinterest/pin_created",
    "pinterest/rate_limited",
    "pinterest/token",
    "pinterest/token_everlasting",
    "pinterest/token_refreshed",
    "pinterest/unauthorized",
    "reddit/invalid_grant",
    "reddit/media_submitted",
    "reddit/rate_limited",
    "reddit/submit_ratelimit",
    "reddit/submit_rejected",
    "reddit/submitted",
    "reddit/token",
    "reddit/unauthorized",
    "slack/error",
    "slack/invalid_refresh_token",
    "slack/message_posted",
    "slack/rate_limited",
    "slack/token",
    "slack/token_expired",
    "slack/token_rotating",
    "telegram/bad_request",
    "telegram/bot_removed",
    "telegram/ok",
    "telegram/rate_limited",
    "telegram/unauthorized",
    "threads/expired_token",
    "threads/invalid_token",
    "threads/media_fetch_failed",
    "threads/media_not_ready",
    "threads/published",
    "threads/rate_limited",
    "threads/text_too_long",
    "threads/token",
    "threads/token_short",
    "tiktok/access_token_invalid",
    "tiktok/invalid_refresh_token",
    "tiktok/post_initialized",
    "tiktok/privacy_level_option_mismatch",
    "tiktok/rate_limited",
    "tiktok/spam_risk_too_many_posts",
    "tiktok/token",
    "x/duplicate_post",
    "x/invalid_refresh_token",
    "x/invalid_request",
    "x/post_created",
    "x/rate_limited",
    "x/token",
    "x/unauthorized",
    "youtube/invalid_grant",
    "youtube/invalid_title",
    "youtube/quota_exceeded",
    "youtube/rate_limited",
    "youtube/token",
    "youtube/token_with_refresh",
    "youtube/unauthorized",
    "youtube/upload_limit_exceeded",
    "youtube/video_inserted",
];

/// One recorded answer.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: &'static str,
    /// The doc page (or official SDK source) the shape comes from.
    pub source: String,
    pub status: u16,
    pub headers: Map<String, Value>,
    /// `null` for an answer without a body.
    pub body: Value,
    /// The template's placeholders not filled yet (a value sent by a client may itself hold
    /// braces, so this is tracked rather than searched for in the filled answer).
    unfilled: Vec<String>,
}

/// The fixture `platform/answer` (e.g. `reddit/rate_limited`); panics if there is none.
pub fn fixture(name: &str) -> Fixture {
    let (name, text) =
        ALL.iter().find(|(known, _)| *known == name).unwrap_or_else(|| panic!("no fixture named {name}"));
    parse(name, text).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Reads a fixture's text; the error says what is wrong with it.
pub fn parse(name: &'static str, text: &str) -> Result<Fixture, String> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Some(object) = value.as_object_mut() else { return Err("not a JSON object".into()) };
    let source = match object.remove("source") {
        Some(Value::String(source)) => source,
        _ => return Err("`source` (a string) is missing".into()),
    };
    let status = object
        .remove("status")
        .and_then(|s| s.as_u64())
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| StatusCode::from_u16(*s).is_ok())
        .ok_or("`status` (an HTTP status) is missing")?;
    let headers = match object.remove("headers") {
        None => Map::new(),
        Some(Value::Object(headers)) if headers.values().all(Value::is_string) => headers,
        Some(_) => return Err("`headers` must map names to strings".into()),
    };
    let body = object.remove("body").ok_or("`body` is missing (null for none)")?;
    if let Some(extra) = object.keys().next() {
        return Err(format!("unknown field `{extra}`"));
    }
    let mut unfilled = Vec::new();
    find_placeholders(&body, &mut unfilled);
    for value in headers.values() {
        find_placeholders(value, &mut unfilled);
    }
    unfilled.sort();
    unfilled.dedup();
    Ok(Fixture { name, source, status, headers, body, unfilled })
}

impl Fixture {
    /// Fills the `{{name}}` placeholders in the body and the headers.
    pub fn with(mut self, vars: &[(&str, Value)]) -> Self {
        fill(&mut self.body, vars);
        // A header stays text: a number given for one is written out.
        for value in self.headers.values_mut() {
            if let Value::String(text) = value {
                *text = fill_text(text, vars);
            }
        }
        self.unfilled
            .retain(|placeholder| !vars.iter().any(|(key, _)| placeholder == &format!("{{{{{key}}}}}")));
        self
    }

    /// The placeholders (`{{name}}`) not filled yet.
    pub fn unfilled(&self) -> &[String] {
        &self.unfilled
    }

    /// The body, every placeholder filled.
    pub fn body_with(self, vars: &[(&str, Value)]) -> Value {
        let filled = self.with(vars);
        assert!(filled.unfilled.is_empty(), "fixture {}: unfilled {:?}", filled.name, filled.unfilled);
        filled.body
    }

    /// The answer as the fake sends it: the status, the headers, the body as JSON.
    pub fn response(self) -> Response {
        assert!(self.unfilled.is_empty(), "fixture {}: unfilled {:?}", self.name, self.unfilled);
        let status = StatusCode::from_u16(self.status).unwrap();
        let mut response = if self.body.is_null() {
            status.into_response()
        } else {
            (status, [(header::CONTENT_TYPE, "application/json")], self.body.to_string()).into_response()
        };
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            let value = HeaderValue::from_str(value.as_str().unwrap_or_default()).unwrap();
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// `fixture(name).with(vars).response()`.
pub fn respond(name: &str, vars: &[(&str, Value)]) -> Response {
    fixture(name).with(vars).response()
}

/// Fills one level of placeholders: a value given is not searched again.
fn fill(value: &mut Value, vars: &[(&str, Value)]) {
    let lookup = |key: &str| vars.iter().find(|(known, _)| *known == key).map(|(_, with)| with);
    match value {
        Value::String(text) => {
            if let Some(key) = text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}"))
                && !key.contains("}}")
                && let Some(with) = lookup(key)
            {
                *value = with.clone();
                return;
            }
            *text = fill_text(text, vars);
        }
        Value::Array(items) => items.iter_mut().for_each(|item| fill(item, vars)),
        Value::Object(fields) => {
            // Keys may be placeholders too (e.g. the field an error names).
            *fields = std::mem::take(fields)
                .into_iter()
                .map(|(key, mut field)| {
                    fill(&mut field, vars);
                    (fill_text(&key, vars), field)
                })
                .collect();
        }
        _ => {}
    }
}

/// A placeholder inside a text becomes the value's text (a string without its quotes).
fn fill_text(text: &str, vars: &[(&str, Value)]) -> String {
    let mut filled = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start..].find("}}") else { break };
        filled.push_str(&rest[..start]);
        match vars.iter().find(|(key, _)| *key == &rest[start + 2..start + length]) {
            Some((_, Value::String(with))) => filled.push_str(with),
            Some((_, with)) => filled.push_str(&with.to_string()),
            None => filled.push_str(&rest[start..start + length + 2]),
        }
        rest = &rest[start + length + 2..];
    }
    filled.push_str(rest);
    filled
}

fn find_placeholders(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(text) => find_in_text(text, found),
        Value::Array(items) => items.iter().for_each(|item| find_placeholders(item, found)),
        Value::Object(fields) => {
            for (key, field) in fields {
                find_in_text(key, found);
                find_placeholders(field, found);
            }
        }
        _ => {}
    }
}

fn find_in_text(text: &str, found: &mut Vec<String>) {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else { break };
        found.push(rest[start..start + end + 2].to_owned());
        rest = &rest[start + end + 2..];
    }
}
