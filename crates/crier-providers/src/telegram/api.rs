//! Calls to the Bot API (core.telegram.org/bots/api#making-requests): `{api_base}/bot{token}/{method}`,
//! every answer the same envelope, `{ok: true, result}` or `{ok: false, error_code, description,
//! parameters: {retry_after, migrate_to_chat_id}}` (#responseparameters).
//!
//! The bot token is part of the URL path, so it is a secret in every URL Crier builds here:
//! `crier-net` already leaves URLs out of transport errors, and every message made here is
//! scrubbed of the token as well, so no error, log line or stored attempt can carry it.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Telegram;
use crate::platform::PlatformCall;
use crate::{ConnectError, ProviderError};

/// How a request carries its parameters (#making-requests: query string, form, JSON or multipart).
pub(super) enum Body {
    Json(serde_json::Value),
    Multipart(reqwest::multipart::Form),
}

#[derive(Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    error_code: Option<u16>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Parameters>,
}

/// `ResponseParameters` (#responseparameters).
#[derive(Deserialize)]
struct Parameters {
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default)]
    migrate_to_chat_id: Option<i64>,
}

/// A failed call, as Telegram described it.
#[derive(Debug)]
pub(super) struct Failure {
    /// `error_code`, else the HTTP status.
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u64>,
}

/// The answer of one call: its `result`, or why not.
pub(super) type Answer = Result<serde_json::Value, Failure>;

/// Replaces the token wherever it appears (a transport error naming the URL, an echo).
pub(super) fn scrub(text: &str, token: &str) -> String {
    if token.is_empty() { text.to_owned() } else { text.replace(token, "<bot token>") }
}

fn read(call: &PlatformCall, token: &str) -> Answer {
    let status = call.reply.status;
    match serde_json::from_slice::<Envelope>(&call.reply.body) {
        Ok(envelope) if envelope.ok && call.ok() => Ok(envelope.result.unwrap_or_default()),
        Ok(envelope) => {
            let parameters = envelope.parameters;
            let mut description =
                envelope.description.unwrap_or_else(|| format!("Telegram answered HTTP {status}"));
            if let Some(to) = parameters.as_ref().and_then(|p| p.migrate_to_chat_id) {
                description.push_str(&format!(" (the group is now the supergroup {to}; reconnect it)"));
            }
            Err(Failure {
                code: envelope.error_code.unwrap_or(status),
                description: scrub(&description, token),
                retry_after: parameters.and_then(|p| p.retry_after),
            })
        }
        Err(_) => Err(Failure {
            code: status,
            description: format!("Telegram answered HTTP {status} with a body Crier cannot read"),
            retry_after: None,
        }),
    }
}

impl Failure {
    /// 429 → the flood-control wait; 401/403/404 → the token or the bot's place in the chat is
    /// gone (token revoked, bot removed; a 404 is a token Telegram does not know); 5xx → retry;
    /// anything else (400) → the message was refused.
    pub(super) fn into_error(self, now: crier_core::Timestamp) -> ProviderError {
        let message = format!("{} ({})", self.description, self.code);
        match self.code {
            429 => ProviderError::RateLimited {
                reset: now + chrono::Duration::seconds(self.retry_after.unwrap_or(60).min(86_400) as i64),
            },
            401 | 403 | 404 => ProviderError::AuthExpired { message },
            408 | 500..=599 => ProviderError::Retryable {
                after: self.retry_after.map(std::time::Duration::from_secs),
                message,
            },
            code => ProviderError::Rejected { code: format!("platform_{code}"), message },
        }
    }
}

impl Telegram {
    fn url(&self, token: &str, method: &str) -> String {
        format!("{}/bot{token}/{method}", self.settings.api_base.trim_end_matches('/'))
    }

    /// One Bot API call while publishing.
    pub(super) async fn call(&self, token: &str, method: &str, body: Body) -> Result<Answer, ProviderError> {
        let url = self.url(token, method);
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| match body {
                Body::Json(value) => b.json(&value),
                Body::Multipart(form) => b.multipart(form),
            })
            .await
            .map_err(|err| scrub_error(err, token))?;
        Ok(read(&call, token))
    }

    /// One Bot API call while connecting (the user's token and chat are being checked).
    pub(super) async fn connect_call(
        &self,
        token: &str,
        method: &str,
        body: serde_json::Value,
    ) -> Result<Answer, ConnectError> {
        let url = self.url(token, method);
        let call = self.platform.connect_call(reqwest::Method::POST, &url, |b| b.json(&body)).await.map_err(
            |err| match err {
                ConnectError::Unavailable { message } => {
                    ConnectError::Unavailable { message: scrub(&message, token) }
                }
                ConnectError::Refused { message } => {
                    ConnectError::Refused { message: scrub(&message, token) }
                }
                other => other,
            },
        )?;
        Ok(read(&call, token))
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

/// A `result` read as `T`.
pub(super) fn result<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ProviderError> {
    serde_json::from_value(value).map_err(|err| ProviderError::Retryable {
        after: None,
        message: format!("Telegram answered with a result Crier cannot read: {err}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_scrubbed() {
        assert_eq!(
            scrub("error sending request for url (https://x/bot123:abc/sendMessage)", "123:abc"),
            "error sending request for url (https://x/bot<bot token>/sendMessage)"
        );
    }

    #[test]
    fn failures_are_classified() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let failure = |code, retry_after| Failure { code, description: "x".into(), retry_after };
        assert_eq!(
            failure(429, Some(30)).into_error(now),
            ProviderError::RateLimited { reset: now + chrono::Duration::seconds(30) }
        );
        assert!(matches!(failure(403, None).into_error(now), ProviderError::AuthExpired { .. }));
        assert!(matches!(failure(401, None).into_error(now), ProviderError::AuthExpired { .. }));
        assert!(matches!(failure(400, None).into_error(now), ProviderError::Rejected { .. }));
        assert!(matches!(failure(502, None).into_error(now), ProviderError::Retryable { .. }));
    }
}
