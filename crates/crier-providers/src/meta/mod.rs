//! Meta's platforms: Facebook Pages ([`facebook`]), Instagram ([`instagram`]) and Threads
//! ([`threads`]). One Meta app (the deployment's [`MetaSettings`]) serves them all; what they
//! share lives here: the app's settings
//! and one reading of the Graph API's errors
//! (developers.facebook.com/docs/graph-api/guides/error-handling):
//! `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`, whatever the HTTP
//! status (Graph answers 400 for most of them, an expired token included).
//!
//! - 190 (and 102) is an invalid, expired or revoked token → `AuthExpired`;
//! - 4, 17, 32, 613 and 80001–80014 are rate limits → `RateLimited`, until Meta's estimate in the
//!   `X-Business-Use-Case-Usage` / `X-App-Usage` headers (`estimated_time_to_regain_access`, in
//!   minutes, developers.facebook.com/docs/graph-api/overview/rate-limiting), else an hour (the
//!   limits are counted over a rolling hour);
//! - 1, 2 and HTTP 5xx are Meta's own trouble → `Retryable`;
//! - anything else (100 invalid parameter, 10 and 200–299 permissions, 368 blocked…) →
//!   `Rejected` with code `meta_{code}` and Meta's message, its subcode and `fbtrace_id` kept.

pub mod facebook;
pub mod instagram;
pub(crate) mod poll;
pub mod signed_request;
pub mod threads;

use crier_core::Timestamp;
use serde::Deserialize;

use crate::platform::PlatformCall;
use crate::provider::ProviderError;

/// The Graph API version Crier speaks unless the deployment says otherwise (each version lives at
/// least two years, developers.facebook.com/docs/graph-api/changelog/versions).
pub const DEFAULT_GRAPH_VERSION: &str = "v24.0";

/// Crier's Meta app, from the deployment's settings.
#[derive(Clone)]
pub struct MetaSettings {
    pub app_id: String,
    pub app_secret: String,
    /// `v24.0`: the Graph API version in every Facebook path.
    pub graph_version: String,
    /// `https://graph.facebook.com` (overridable for tests).
    pub graph_base: String,
    /// `https://www.facebook.com` (Facebook Login's dialog; overridable for tests).
    pub facebook_base: String,
    /// `https://graph.threads.net` (overridable for tests).
    pub threads_base: String,
    /// `https://threads.net` (the Threads consent page; overridable for tests).
    pub threads_auth_base: String,
}

impl std::fmt::Debug for MetaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaSettings")
            .field("app_id", &self.app_id)
            .field("graph_version", &self.graph_version)
            .field("graph_base", &self.graph_base)
            .field("threads_base", &self.threads_base)
            .finish_non_exhaustive()
    }
}

impl MetaSettings {
    /// Meta's own addresses.
    pub fn new(
        app_id: impl Into<String>,
        app_secret: impl Into<String>,
        graph_version: impl Into<String>,
    ) -> Self {
        Self {
            app_id: app_id.into(),
            app_secret: app_secret.into(),
            graph_version: graph_version.into(),
            graph_base: "https://graph.facebook.com".into(),
            facebook_base: "https://www.facebook.com".into(),
            threads_base: "https://graph.threads.net".into(),
            threads_auth_base: "https://threads.net".into(),
        }
    }

    /// A versioned Graph API address.
    pub(crate) fn graph(&self, path: &str) -> String {
        format!("{}/{}{path}", self.graph_base.trim_end_matches('/'), self.graph_version)
    }

    /// Facebook Login's consent page for `scope` (Facebook Pages and Instagram both connect
    /// through it):
    /// developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow#login
    pub(crate) fn login_dialog(
        &self,
        callback_url: &str,
        state: &str,
        scope: &str,
    ) -> Result<String, crate::ConnectError> {
        let base = self.facebook_base.trim_end_matches('/');
        let dialog = format!("{base}/{}/dialog/oauth", self.graph_version);
        let mut authorize_url = url::Url::parse(&dialog).map_err(|_| crate::ConnectError::Unavailable {
            message: "Facebook Login's address is not valid".into(),
        })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("client_id", &self.app_id)
            .append_pair("redirect_uri", callback_url)
            .append_pair("state", state)
            .append_pair("response_type", "code")
            .append_pair("scope", scope);
        Ok(authorize_url.into())
    }

    /// Exchanges Facebook Login's code for a (short-lived) user token: the raw call, for the
    /// caller's own error reading.
    /// developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow#confirm
    pub(crate) async fn exchange_code(
        &self,
        platform: &crate::Platform,
        callback_url: &str,
        code: &str,
    ) -> Result<PlatformCall, crate::ConnectError> {
        let url = self.graph("/oauth/access_token");
        let query = [
            ("client_id", self.app_id.as_str()),
            ("redirect_uri", callback_url),
            ("client_secret", self.app_secret.as_str()),
            ("code", code),
        ];
        platform.connect_call(reqwest::Method::GET, &url, |b| b.query(&query)).await
    }

    /// `GET /oauth/access_token?grant_type=fb_exchange_token` with a user token that has not
    /// expired, for a fresh long-lived one: the raw call, for the caller's own error reading.
    /// developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived
    pub(crate) async fn renew_user_token(
        &self,
        platform: &crate::Platform,
        token: &str,
    ) -> Result<PlatformCall, ProviderError> {
        let url = self.graph("/oauth/access_token");
        let query = self.long_lived_query(token);
        platform.call(reqwest::Method::GET, &url, |b| b.query(&query)).await
    }

    /// The query of `GET /oauth/access_token` that trades a valid user token (short- or
    /// long-lived) for a fresh long-lived one.
    /// developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived#long-via-code
    pub(crate) fn long_lived_query<'a>(&'a self, token: &'a str) -> [(&'static str, &'a str); 4] {
        [
            ("grant_type", "fb_exchange_token"),
            ("client_id", self.app_id.as_str()),
            ("client_secret", self.app_secret.as_str()),
            ("fb_exchange_token", token),
        ]
    }
}

/// Graph's error object.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

impl GraphError {
    pub(crate) fn of(call: &PlatformCall) -> Option<Self> {
        serde_json::from_slice::<Envelope>(&call.reply.body).ok().map(|e| e.error)
    }

    /// Meta's message with what support needs to find the call (never a token).
    pub(crate) fn describe(&self, status: u16) -> String {
        let mut out = if self.message.is_empty() { format!("HTTP {status}") } else { self.message.clone() };
        match (self.code, self.error_subcode) {
            (Some(code), Some(sub)) => out.push_str(&format!(" (code {code}, subcode {sub}")),
            (Some(code), None) => out.push_str(&format!(" (code {code}")),
            _ => out.push_str(&format!(" (HTTP {status}")),
        }
        if let Some(trace) = self.fbtrace_id.as_deref().filter(|t| !t.is_empty()) {
            out.push_str(&format!(", fbtrace_id {trace}"));
        }
        out.push(')');
        out
    }
}

/// Whether a Graph error code is one of Meta's rate limits.
pub(crate) fn is_rate_limit(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 613) || (80_001..=80_014).contains(&code)
}

/// A failed Graph or Threads call as a `ProviderError` (see the module's notes).
pub(crate) fn failure(call: &PlatformCall, now: Timestamp) -> ProviderError {
    let status = call.reply.status;
    let Some(error) = GraphError::of(call) else {
        return call.failure(now);
    };
    let message = error.describe(status);
    match error.code {
        Some(190 | 102) => ProviderError::AuthExpired { message },
        Some(code) if is_rate_limit(code) => ProviderError::RateLimited { reset: regained_at(call, now) },
        Some(1 | 2) => ProviderError::Retryable { after: None, message },
        _ if status == 429 => ProviderError::RateLimited { reset: regained_at(call, now) },
        _ if status >= 500 => ProviderError::Retryable { after: None, message },
        Some(code) => ProviderError::Rejected { code: format!("meta_{code}"), message },
        None => ProviderError::Rejected { code: format!("platform_{status}"), message },
    }
}

/// When Meta says access comes back: the largest `estimated_time_to_regain_access` (minutes) in
/// `X-Business-Use-Case-Usage` or `X-App-Usage`, else an hour.
pub(crate) fn regained_at(call: &PlatformCall, now: Timestamp) -> Timestamp {
    let minutes = ["x-business-use-case-usage", "x-app-usage", "x-ad-account-usage"]
        .iter()
        .filter_map(|name| call.reply.headers.get(*name)?.to_str().ok())
        .filter_map(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
        .filter_map(|value| largest_estimate(&value))
        .max();
    match minutes {
        Some(m) if m > 0 => now + chrono::Duration::minutes(m.min(24 * 60)),
        _ => now + chrono::Duration::hours(1),
    }
}

fn largest_estimate(value: &serde_json::Value) -> Option<i64> {
    match value {
        serde_json::Value::Object(map) => {
            let own = map.get("estimated_time_to_regain_access").and_then(serde_json::Value::as_i64);
            map.values().filter_map(largest_estimate).chain(own).max()
        }
        serde_json::Value::Array(items) => items.iter().filter_map(largest_estimate).max(),
        _ => None,
    }
}

/// A failed call while connecting: Meta's refusal is the user's to fix, its outages are not.
pub(crate) fn connect_failure(call: &PlatformCall) -> crate::ConnectError {
    match GraphError::of(call) {
        Some(error) if call.reply.status < 500 && !error.code.is_some_and(is_rate_limit) => {
            crate::ConnectError::Refused { message: error.describe(call.reply.status) }
        }
        Some(error) => crate::ConnectError::Unavailable { message: error.describe(call.reply.status) },
        None => call.connect_failure(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(status: u16, body: serde_json::Value, headers: &[(&'static str, &str)]) -> PlatformCall {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        PlatformCall {
            reply: crier_net::Reply { status, headers: map, body: serde_json::to_vec(&body).unwrap() },
        }
    }

    #[test]
    fn graph_codes_decide_not_the_status() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let expired = serde_json::json!({"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "AbC"}});
        let err = failure(&call(400, expired, &[]), now);
        assert_eq!(
            err,
            ProviderError::AuthExpired {
                message: "Error validating access token (code 190, subcode 463, fbtrace_id AbC)".into()
            }
        );
        let limited =
            serde_json::json!({"error": {"message": "Application request limit reached", "code": 4}});
        let usage = r#"{"123":[{"type":"pages","call_count":100,"total_cputime":10,"total_time":10,"estimated_time_to_regain_access":7}]}"#;
        let err = failure(&call(400, limited.clone(), &[("x-business-use-case-usage", usage)]), now);
        assert_eq!(err, ProviderError::RateLimited { reset: now + chrono::Duration::minutes(7) });
        let err = failure(&call(400, limited, &[]), now);
        assert_eq!(err, ProviderError::RateLimited { reset: now + chrono::Duration::hours(1) });
        let denied = serde_json::json!({"error": {"message": "(#200) Permissions error", "code": 200}});
        let ProviderError::Rejected { code, message } = failure(&call(403, denied, &[]), now) else {
            panic!("a permission error is a rejection")
        };
        assert_eq!(code, "meta_200");
        assert!(message.starts_with("(#200) Permissions error"), "{message}");
        let down = serde_json::json!({"error": {"message": "An unknown error occurred", "code": 1}});
        assert!(matches!(failure(&call(500, down, &[]), now), ProviderError::Retryable { .. }));
    }
}
