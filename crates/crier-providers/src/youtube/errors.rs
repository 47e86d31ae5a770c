//! Google's error answers (developers.google.com/youtube/v3/docs/errors) read into
//! `ProviderError`s: `{"error": {"code": 403, "message": "…", "errors": [{"reason": "…"}]}}`.
//! Quota resets at midnight Pacific time
//! (developers.google.com/youtube/v3/determine_quota_cost); the channel's upload cap is a day's.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use crier_core::Timestamp;

use super::YouTube;
use crate::platform::{PlatformCall, snake};
use crate::provider::ProviderError;

/// Google's error, as much of it as Crier uses.
pub(super) struct GoogleError {
    pub reason: Option<String>,
    pub message: String,
}

pub(super) fn google_error(call: &PlatformCall) -> GoogleError {
    let body: serde_json::Value = serde_json::from_slice(&call.reply.body).unwrap_or_default();
    let error = &body["error"];
    let reason = error["errors"][0]["reason"]
        .as_str()
        .or_else(|| error["status"].as_str())
        // The token endpoint's OAuth errors: `{"error": "invalid_grant", "error_description"}`.
        .or_else(|| error.as_str())
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let text = error["message"].as_str().or_else(|| body["error_description"].as_str()).unwrap_or_default();
    let message = if text.is_empty() {
        format!("HTTP {}", call.reply.status)
    } else {
        format!("{text} ({})", call.reply.status)
    };
    GoogleError { reason, message }
}

/// The next midnight in America/Los_Angeles: UTC−7 from the second Sunday of March to the first
/// Sunday of November (at 02:00 local), UTC−8 otherwise.
pub(super) fn next_pacific_midnight(now: Timestamp) -> Timestamp {
    let offset = |at: Timestamp| if daylight_saving(at) { 7 } else { 8 };
    let local = now - Duration::hours(offset(now));
    let tomorrow = local.date_naive().succ_opt().unwrap_or(local.date_naive());
    let midnight = tomorrow.and_hms_opt(0, 0, 0).unwrap_or_default();
    // Midnight is never inside a switch (they happen at 02:00), so one reading of the offset holds.
    let guess = Utc.from_utc_datetime(&midnight) + Duration::hours(8);
    Utc.from_utc_datetime(&midnight) + Duration::hours(offset(guess))
}

fn nth_sunday(year: i32, month: u32, n: u32) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
    let to_sunday = (7 - first.weekday().num_days_from_sunday()) % 7;
    first + Duration::days(i64::from(to_sunday + 7 * (n - 1)))
}

fn daylight_saving(at: Timestamp) -> bool {
    let year = at.year();
    // 02:00 PST is 10:00 UTC; 02:00 PDT is 09:00 UTC.
    let start = Utc.from_utc_datetime(&nth_sunday(year, 3, 2).and_hms_opt(10, 0, 0).unwrap_or_default());
    let end = Utc.from_utc_datetime(&nth_sunday(year, 11, 1).and_hms_opt(9, 0, 0).unwrap_or_default());
    at >= start && at < end
}

impl YouTube {
    /// A failed Data API call.
    pub(super) fn failure(&self, call: &PlatformCall) -> ProviderError {
        let now = self.platform.clock.now();
        let GoogleError { reason, message } = google_error(call);
        let status = call.reply.status;
        let wait = || {
            call.reply
                .headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map_or_else(|| Duration::minutes(1), |s| Duration::seconds(s.clamp(1, 3600)))
        };
        match reason.as_deref() {
            Some("quotaExceeded" | "dailyLimitExceeded") => {
                ProviderError::RateLimited { reset: next_pacific_midnight(now) }
            }
            // "Try again in 24 hours" (developers.google.com/youtube/v3/docs/videos/insert#errors).
            Some("uploadLimitExceeded") => ProviderError::RateLimited { reset: now + Duration::days(1) },
            Some("rateLimitExceeded" | "userRateLimitExceeded" | "RESOURCE_EXHAUSTED") => {
                ProviderError::RateLimited { reset: now + wait() }
            }
            _ if status == 429 => ProviderError::RateLimited { reset: now + wait() },
            _ if status == 401 => ProviderError::AuthExpired { message },
            // A grant without the scopes Crier asks for: connecting again grants them.
            Some("insufficientPermissions" | "ACCESS_TOKEN_SCOPE_INSUFFICIENT") => {
                ProviderError::AuthExpired { message }
            }
            _ if status == 408 || status >= 500 => ProviderError::Retryable { after: None, message },
            Some(reason) => ProviderError::Rejected { code: snake(reason), message },
            None => ProviderError::Rejected { code: format!("platform_{status}"), message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn quota_resets_at_midnight_pacific() {
        // Winter: PST, midnight is 08:00 UTC.
        assert_eq!(next_pacific_midnight(at("2026-01-15T20:00:00Z")), at("2026-01-16T08:00:00Z"));
        assert_eq!(next_pacific_midnight(at("2026-01-16T07:59:00Z")), at("2026-01-16T08:00:00Z"));
        // Summer: PDT, midnight is 07:00 UTC.
        assert_eq!(next_pacific_midnight(at("2026-07-01T12:00:00Z")), at("2026-07-02T07:00:00Z"));
        // The night before the spring switch (8 March 2026) is still PST; the next one is PDT.
        assert_eq!(next_pacific_midnight(at("2026-03-07T12:00:00Z")), at("2026-03-08T08:00:00Z"));
        assert_eq!(next_pacific_midnight(at("2026-03-08T12:00:00Z")), at("2026-03-09T07:00:00Z"));
        // Autumn switch (1 November 2026): the midnight after it is PST.
        assert_eq!(next_pacific_midnight(at("2026-11-01T12:00:00Z")), at("2026-11-02T08:00:00Z"));
    }
}
