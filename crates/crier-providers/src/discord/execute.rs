//! Executing the webhook (discord.com/developers/docs/resources/webhook#execute-webhook) and
//! reading Discord's errors (reference#error-messages: `{code, message, errors}`; and
//! topics/rate-limits: 429 with `{message, retry_after, global}`, `Retry-After` and
//! `X-RateLimit-Reset-After`).

use reqwest::multipart::{Form, Part};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Discord, DiscordConfig, DiscordOptions, MAX_FILES, WebhookSecret};
use crate::platform::PlatformCall;
use crate::provider::{ProviderError, PublishRequest, Published};
use crate::{ConnectError, MediaFile};

/// topics/opcodes-and-status-codes#json: `10008 Unknown Message`.
const UNKNOWN_MESSAGE: u64 = 10008;
/// `flags` SUPPRESS_EMBEDS (channel#message-object-message-flags).
const SUPPRESS_EMBEDS: u64 = 1 << 2;

/// The message object (channel#message-object), as `?wait=true` returns it.
#[derive(Deserialize)]
struct Message {
    id: String,
    channel_id: String,
}

pub(super) fn scrub(text: &str, token: &str) -> String {
    if token.is_empty() { text.to_owned() } else { text.replace(token, "<webhook token>") }
}

pub(super) fn scrub_connect(err: ConnectError, token: &str) -> ConnectError {
    match err {
        ConnectError::Unavailable { message } => {
            ConnectError::Unavailable { message: scrub(&message, token) }
        }
        ConnectError::Refused { message } => ConnectError::Refused { message: scrub(&message, token) },
        other => other,
    }
}

fn scrub_error(err: ProviderError, token: &str) -> ProviderError {
    match err {
        ProviderError::Retryable { after, message } => {
            ProviderError::Retryable { after, message: scrub(&message, token) }
        }
        ProviderError::Rejected { code, message } => {
            ProviderError::Rejected { code, message: scrub(&message, token) }
        }
        ProviderError::AuthExpired { message } => {
            ProviderError::AuthExpired { message: scrub(&message, token) }
        }
        ProviderError::OutcomeUnknown { message } => {
            ProviderError::OutcomeUnknown { message: scrub(&message, token) }
        }
        limited @ ProviderError::RateLimited { .. } => limited,
    }
}

/// Every `_errors` message of a JSON error's `errors` tree, with its path (`content: Must be
/// 2000 or fewer in length.`).
fn field_errors(path: &str, value: &Value, out: &mut Vec<String>) {
    let Value::Object(map) = value else { return };
    for (key, inner) in map {
        if key == "_errors" {
            for error in inner.as_array().into_iter().flatten() {
                if let Some(message) = error["message"].as_str() {
                    out.push(if path.is_empty() { message.to_owned() } else { format!("{path}: {message}") });
                }
            }
        } else {
            let path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            field_errors(&path, inner, out);
        }
    }
}

/// Discord's own words: `message (code)`, then what each field got wrong.
pub(super) fn describe(call: &PlatformCall) -> String {
    let body: Value = serde_json::from_slice(&call.reply.body).unwrap_or_default();
    let status = call.reply.status;
    let mut text = match (body["message"].as_str(), body["code"].as_u64()) {
        (Some(message), Some(code)) if code != 0 => format!("{message} (code {code}, HTTP {status})"),
        (Some(message), _) => format!("{message} (HTTP {status})"),
        _ => format!("HTTP {status}"),
    };
    let mut fields = Vec::new();
    field_errors("", &body["errors"], &mut fields);
    if !fields.is_empty() {
        text.push_str(": ");
        text.push_str(&fields.join("; "));
    }
    text
}

/// How long a 429 asks to wait, in seconds: `X-RateLimit-Reset-After` (fractional), the body's
/// `retry_after` (fractional), or `Retry-After` (whole); a minute when none is given.
fn retry_after_secs(call: &PlatformCall) -> f64 {
    let header = |name: &str| {
        call.reply.headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
    };
    let body: Value = serde_json::from_slice(&call.reply.body).unwrap_or_default();
    header("x-ratelimit-reset-after")
        .or_else(|| body["retry_after"].as_f64())
        .or_else(|| header("retry-after"))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(60.0)
        .min(86_400.0)
}

/// 429 → wait; 401/404 → the webhook is gone (deleted, or its token reset); 5xx → retry;
/// anything else (400 and its `errors`, 403, 413) → refused.
fn failure(call: &PlatformCall, now: crier_core::Timestamp) -> ProviderError {
    let status = call.reply.status;
    let message = describe(call);
    match status {
        429 => {
            let millis = (retry_after_secs(call) * 1000.0).ceil() as i64;
            ProviderError::RateLimited { reset: now + chrono::Duration::milliseconds(millis) }
        }
        401 | 404 => ProviderError::AuthExpired { message },
        408 | 500..=599 => ProviderError::Retryable { after: None, message },
        _ => ProviderError::Rejected { code: format!("platform_{status}"), message },
    }
}

fn file_name(index: usize, mime: &str) -> String {
    let extension = match mime {
        "image/jpeg" => "jpg",
        "video/quicktime" => "mov",
        other => other.rsplit('/').next().unwrap_or("bin"),
    };
    format!("media{index}.{extension}")
}

impl Discord {
    /// The post's text and first ten files in one message; more files follow in further
    /// messages (into the forum post the first one started, if it started one).
    pub(super) async fn execute_post(
        &self,
        request: &PublishRequest<'_>,
        config: &DiscordConfig,
        secret: &WebhookSecret,
        options: &DiscordOptions,
    ) -> Result<Published, ProviderError> {
        let mut files = Vec::with_capacity(request.media.len());
        for id in request.media {
            files.push(self.platform.media.load(request.channel.workspace_id, *id).await?);
        }
        let chunks: Vec<&[MediaFile]> =
            if files.is_empty() { vec![&[]] } else { files.chunks(MAX_FILES).collect() };
        let mut first: Option<Message> = None;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut payload = json!({});
            if i == 0 && !request.text.is_empty() {
                payload["content"] = json!(request.text);
            }
            if let Some(username) = &options.username {
                payload["username"] = json!(username);
            }
            if let Some(avatar) = &options.avatar_url {
                payload["avatar_url"] = json!(avatar);
            }
            if options.suppress_embeds {
                payload["flags"] = json!(SUPPRESS_EMBEDS);
            }
            // The first message starts the forum post; the others go into it.
            let thread_id = match (&first, &options.thread_name) {
                (None, Some(title)) => {
                    payload["thread_name"] = json!(title);
                    None
                }
                (Some(message), Some(_)) => Some(message.channel_id.clone()),
                _ => None,
            };
            let message = self.execute(secret, payload, chunk, thread_id.as_deref()).await?;
            first.get_or_insert(message);
        }
        let message = first.ok_or_else(|| ProviderError::Retryable {
            after: None,
            message: "Discord answered without a message".into(),
        })?;
        let url = config.guild_id.as_ref().map(|guild| {
            format!("https://discord.com/channels/{guild}/{}/{}", message.channel_id, message.id)
        });
        Ok(Published { provider_post_id: message.id, url })
    }

    /// `DELETE /webhooks/{id}/{token}/messages/{message_id}` (#delete-webhook-message), with
    /// `thread_id` for a message in a forum post. 204 or 404 Unknown Message (10008) is done.
    pub(super) async fn delete_message(
        &self,
        secret: &WebhookSecret,
        message_id: &str,
        thread_id: Option<&str>,
    ) -> Result<(), ProviderError> {
        let url = format!("{}/messages/{message_id}", self.webhook_url(secret));
        let query: Vec<(&str, &str)> = thread_id.map(|t| ("thread_id", t)).into_iter().collect();
        let call = self
            .platform
            .call(reqwest::Method::DELETE, &url, |b| b.query(&query))
            .await
            .map_err(|err| scrub_error(err, &secret.webhook_token))?;
        let body: Value = serde_json::from_slice(&call.reply.body).unwrap_or_default();
        if call.ok() || (call.reply.status == 404 && body["code"].as_u64() == Some(UNKNOWN_MESSAGE)) {
            return Ok(());
        }
        Err(scrub_error(failure(&call, self.platform.clock.now()), &secret.webhook_token))
    }

    /// One `POST /webhooks/{id}/{token}?wait=true`: JSON alone, or multipart with the JSON as
    /// `payload_json` and each file as `files[n]`, described in `attachments` (reference#uploading-files).
    async fn execute(
        &self,
        secret: &WebhookSecret,
        mut payload: Value,
        files: &[MediaFile],
        thread_id: Option<&str>,
    ) -> Result<Message, ProviderError> {
        let url = self.webhook_url(secret);
        let mut query = vec![("wait", "true".to_owned())];
        if let Some(thread) = thread_id {
            query.push(("thread_id", thread.to_owned()));
        }
        let form = if files.is_empty() {
            None
        } else {
            let mut attachments = Vec::with_capacity(files.len());
            let mut form = Form::new();
            for (i, file) in files.iter().enumerate() {
                let name = file_name(i, file.mime());
                let mut attachment = json!({"id": i, "filename": name});
                if let Some(alt) = &file.media.alt_text {
                    attachment["description"] = json!(alt);
                }
                attachments.push(attachment);
                let part =
                    Part::bytes(file.bytes.clone()).file_name(name).mime_str(file.mime()).map_err(|err| {
                        ProviderError::Rejected { code: "invalid_media".into(), message: err.to_string() }
                    })?;
                form = form.part(format!("files[{i}]"), part);
            }
            payload["attachments"] = Value::Array(attachments);
            Some(form.text("payload_json", payload.to_string()))
        };
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| {
                let b = b.query(&query);
                match form {
                    Some(form) => b.multipart(form),
                    None => b.json(&payload),
                }
            })
            .await
            .map_err(|err| scrub_error(err, &secret.webhook_token))?;
        if !call.ok() {
            return Err(scrub_error(failure(&call, self.platform.clock.now()), &secret.webhook_token));
        }
        call.json::<Message>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(status: u16, body: Value, headers: &[(&'static str, &'static str)]) -> PlatformCall {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap_or(reqwest::header::HeaderValue::from_static("")));
        }
        PlatformCall { reply: crier_net::Reply { status, headers: map, body: body.to_string().into_bytes() } }
    }

    #[test]
    fn errors_are_read_with_their_fields() {
        let body = json!({"code": 50035, "message": "Invalid Form Body",
            "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}});
        assert_eq!(
            describe(&call(400, body, &[])),
            "Invalid Form Body (code 50035, HTTP 400): content: Must be 2000 or fewer in length."
        );
    }

    #[test]
    fn rate_limits_prefer_the_precise_reset() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let limited = call(
            429,
            json!({"message": "You are being rate limited.", "retry_after": 2.5, "global": false}),
            &[("retry-after", "3"), ("x-ratelimit-reset-after", "2.25")],
        );
        assert_eq!(
            failure(&limited, now),
            ProviderError::RateLimited { reset: now + chrono::Duration::milliseconds(2250) }
        );
        let body_only = call(429, json!({"retry_after": 1.5}), &[]);
        assert_eq!(
            failure(&body_only, now),
            ProviderError::RateLimited { reset: now + chrono::Duration::milliseconds(1500) }
        );
        assert!(matches!(
            failure(&call(404, json!({"code": 10015, "message": "Unknown Webhook"}), &[]), now),
            ProviderError::AuthExpired { .. }
        ));
    }
}
