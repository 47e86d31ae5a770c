//! TikTok's answers read into `ProviderError`s. Every v2 API answer carries
//! `{"error": {"code", "message", "log_id"}}`, `code` `ok` on success
//! (developers.tiktok.com/doc/tiktok-api-v2-error-handling); the token endpoint answers OAuth's
//! `{"error", "error_description", "log_id"}` (developers.tiktok.com/doc/oauth-user-access-token-management).

use chrono::Duration;

use super::TikTok;
use crate::platform::PlatformCall;
use crate::provider::ProviderError;

/// TikTok's error, as much of it as Crier uses.
pub(super) struct TikTokError {
    pub code: String,
    pub message: String,
}

/// The error of an answer, `None` when it is a success (`code` `ok` and a 2xx).
pub(super) fn tiktok_error(call: &PlatformCall) -> Option<TikTokError> {
    let body: serde_json::Value = serde_json::from_slice(&call.reply.body).unwrap_or_default();
    let error = &body["error"];
    let code = error["code"].as_str().or_else(|| error.as_str()).unwrap_or_default().to_owned();
    if call.ok() && (code.is_empty() || code == "ok") {
        return None;
    }
    let text = error["message"].as_str().or_else(|| body["error_description"].as_str()).unwrap_or_default();
    let log_id = error["log_id"].as_str().or_else(|| body["log_id"].as_str()).filter(|l| !l.is_empty());
    let status = call.reply.status;
    let message = match (text.is_empty(), log_id) {
        (true, _) => format!("HTTP {status}"),
        (false, Some(log_id)) => format!("{text} ({status}, log_id {log_id})"),
        (false, None) => format!("{text} ({status})"),
    };
    let code = if code.is_empty() { format!("platform_{status}") } else { code };
    Some(TikTokError { code, message })
}

impl TikTok {
    /// A failed API call, or one whose `error.code` is not `ok`.
    pub(super) fn failure(&self, call: &PlatformCall) -> ProviderError {
        let Some(TikTokError { code, message }) = tiktok_error(call) else {
            return ProviderError::Retryable {
                after: None,
                message: "TikTok answered an empty error".into(),
            };
        };
        self.failure_of(call.reply.status, code, message)
    }

    pub(super) fn failure_of(&self, status: u16, code: String, message: String) -> ProviderError {
        let now = self.platform.clock.now();
        match code.as_str() {
            "access_token_invalid" | "scope_not_authorized" | "scope_permission_missed" => {
                ProviderError::AuthExpired { message }
            }
            // Limits per user token and minute (e.g. video/init: 6 a minute).
            "rate_limit_exceeded" => ProviderError::RateLimited { reset: now + Duration::minutes(1) },
            // The creator's daily cap on posts through the API.
            "spam_risk_too_many_posts" => ProviderError::RateLimited { reset: now + Duration::days(1) },
            // At most 5 posts waiting in 24 hours; they clear as they are processed.
            "spam_risk_too_many_pending_share" => {
                ProviderError::RateLimited { reset: now + Duration::hours(1) }
            }
            "internal_error" => ProviderError::Retryable { after: None, message },
            _ if status == 401 => ProviderError::AuthExpired { message },
            _ if status == 429 => ProviderError::RateLimited { reset: now + Duration::minutes(1) },
            _ if status == 408 || status >= 500 => ProviderError::Retryable { after: None, message },
            _ => ProviderError::Rejected { code, message },
        }
    }
}
