//! What every platform adapter shares: calls through the SSRF-safe client, and one reading of
//! HTTP answers into `ProviderError`s (401 → refresh or reauth, 429 → the reset the platform
//! named, 5xx → retry, other 4xx → rejected) so adapters only parse their successes.

use std::sync::Arc;
use std::time::Duration;

use crier_core::{Clock, Timestamp};
use crier_net::{OutboundClient, Refusal, Reply};
use reqwest::header::HeaderMap;

use crate::{ConnectError, CredentialVault, MediaSource, ProviderError};

/// What a platform adapter is built with.
#[derive(Clone)]
pub struct Platform {
    pub http: OutboundClient,
    pub vault: Arc<dyn CredentialVault>,
    pub media: Arc<dyn MediaSource>,
    pub clock: Arc<dyn Clock>,
}

/// One API call's answer, successful (2xx) or not.
#[derive(Debug, Clone)]
pub struct PlatformCall {
    pub reply: Reply,
}

impl PlatformCall {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.reply.status)
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.reply.body).map_err(|err| ProviderError::Retryable {
            after: None,
            message: format!(
                "the platform answered {} with a body Crier cannot read: {err}",
                self.reply.status
            ),
        })
    }

    /// The platform's own words about a failure (`error`, `message`, `error_description`).
    pub fn error_message(&self) -> String {
        let body: serde_json::Value = serde_json::from_slice(&self.reply.body).unwrap_or_default();
        let named = ["error_description", "message", "error"]
            .iter()
            .find_map(|k| body.get(*k).and_then(|v| v.as_str()).filter(|s| !s.is_empty()));
        match named {
            Some(text) => format!("{} ({})", text, self.reply.status),
            None => format!("HTTP {}", self.reply.status),
        }
    }

    /// The machine-readable error name, where the platform gives one (AT Protocol's `error`).
    /// Only a name (`ExpiredToken`), not a sentence (Mastodon's `error` is prose).
    pub fn error_name(&self) -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(&self.reply.body).ok()?;
        body.get("error")
            .and_then(|v| v.as_str())
            .filter(|name| {
                !name.is_empty()
                    && name.len() <= 64
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
            .map(str::to_owned)
    }

    /// A failed call as a `ProviderError`.
    pub fn failure(&self, now: Timestamp) -> ProviderError {
        let status = self.reply.status;
        let message = self.error_message();
        match status {
            401 => ProviderError::AuthExpired { message },
            429 => ProviderError::RateLimited { reset: rate_limit_reset(&self.reply.headers, now) },
            408 | 500..=599 => ProviderError::Retryable { after: retry_after(&self.reply.headers), message },
            _ => ProviderError::Rejected {
                code: self.error_name().map_or_else(|| format!("platform_{status}"), |name| snake(&name)),
                message,
            },
        }
    }

    /// Errors while connecting: the user's input or the platform's refusal, told apart.
    pub fn connect_failure(&self) -> ConnectError {
        match self.reply.status {
            408 | 429 | 500..=599 => ConnectError::Unavailable { message: self.error_message() },
            _ => ConnectError::Refused { message: self.error_message() },
        }
    }
}

impl Platform {
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<PlatformCall, ProviderError> {
        self.http.send(method, url, build).await.map(|reply| PlatformCall { reply }).map_err(refusal)
    }

    /// A call made while connecting, where failures are the user's to fix.
    pub async fn connect_call(
        &self,
        method: reqwest::Method,
        url: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<PlatformCall, ConnectError> {
        self.http.send(method, url, build).await.map(|reply| PlatformCall { reply }).map_err(
            |err| match err {
                Refusal::Timeout | Refusal::Failed(_) | Refusal::Unresolvable(_) => {
                    ConnectError::Unavailable { message: err.to_string() }
                }
                other => ConnectError::Refused { message: other.to_string() },
            },
        )
    }
}

/// Network trouble is worth a retry; a policy refusal (a private address) is not.
fn refusal(err: Refusal) -> ProviderError {
    match err {
        Refusal::Timeout | Refusal::Failed(_) | Refusal::Unresolvable(_) => {
            ProviderError::Retryable { after: None, message: err.to_string() }
        }
        other => ProviderError::Rejected { code: "platform_unreachable".into(), message: other.to_string() },
    }
}

/// `X-RateLimit-Reset` (Mastodon: an ISO 8601 time), `RateLimit-Reset` (AT Protocol: Unix
/// seconds) or `Retry-After` (seconds); a minute when none is given.
fn rate_limit_reset(headers: &HeaderMap, now: Timestamp) -> Timestamp {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(at) = header("x-ratelimit-reset").and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok()) {
        return at.with_timezone(&chrono::Utc);
    }
    if let Some(at) = header("ratelimit-reset")
        .or_else(|| header("x-ratelimit-reset"))
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
    {
        return at;
    }
    match retry_after(headers) {
        Some(after) => {
            now + chrono::Duration::from_std(after).unwrap_or_else(|_| chrono::Duration::minutes(1))
        }
        None => now + chrono::Duration::minutes(1),
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

/// `RecordNotFound` → `record_not_found`.
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_become_codes() {
        assert_eq!(snake("InvalidRequest"), "invalid_request");
        assert_eq!(snake("ExpiredToken"), "expired_token");
    }

    #[test]
    fn rate_limit_resets_are_read_in_every_spelling() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-reset", "2023-11-14T22:15:00.000Z".parse().unwrap());
        assert_eq!(rate_limit_reset(&headers, now).timestamp(), 1_700_000_100);
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-reset", "1700000200".parse().unwrap());
        assert_eq!(rate_limit_reset(&headers, now).timestamp(), 1_700_000_200);
        assert_eq!(rate_limit_reset(&HeaderMap::new(), now).timestamp(), 1_700_000_060);
    }
}
