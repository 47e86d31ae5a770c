//! Meta's `signed_request`, as its deauthorization and data-deletion callbacks send it: Facebook
//! Login's deauthorize callback
//! (developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow#deauth-callback), the
//! Data Deletion Request callback
//! (developers.facebook.com/docs/development/create-an-app/app-dashboard/data-deletion-callback),
//! and the Threads use case's deauthorize (uninstall) and data deletion URLs
//! (developers.facebook.com/docs/development/create-an-app/threads-use-case), all in the format of
//! developers.facebook.com/docs/reference/login/signed-request:
//!
//! `signed_request=<base64url signature>.<base64url payload>`, the signature being
//! HMAC-SHA256 of the encoded payload (as sent, not decoded) keyed with the app secret, and the
//! payload JSON `{"algorithm": "HMAC-SHA256", "issued_at": <unix seconds>, "user_id": "<app-scoped id>"}`.
//!
//! The signature is checked (in constant time) before anything in the payload is believed; the
//! algorithm must be `HMAC-SHA256`; a request issued more than [`MAX_AGE`] ago (or more than
//! [`MAX_SKEW`] ahead) is refused as a possible replay.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crier_core::Timestamp;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// How old a signed request may be.
pub const MAX_AGE: chrono::Duration = chrono::Duration::hours(1);
/// How far ahead of Crier's clock a signed request may be dated.
pub const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// Why a callback was refused. The message is safe to show the caller (it names no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// This platform sends no such callbacks (or Crier has no app for it).
    #[error("this platform sends no deauthorization callbacks")]
    Unsupported,
    /// Not a well-formed, correctly signed, fresh request.
    #[error("{0}")]
    Invalid(String),
}

impl CallbackError {
    fn invalid(message: &str) -> Self {
        Self::Invalid(message.to_owned())
    }
}

#[derive(Deserialize)]
struct Payload {
    algorithm: String,
    #[serde(default)]
    issued_at: Option<i64>,
    /// A string in Meta's examples; a number is taken too.
    user_id: serde_json::Value,
}

/// Unpadded base64url; Meta sometimes pads, so trailing `=` are dropped first.
fn decode(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()
}

/// Verifies `signed_request` with `app_secret` and returns the app-scoped user id it names.
pub fn verify(signed_request: &str, app_secret: &str, now: Timestamp) -> Result<String, CallbackError> {
    if app_secret.is_empty() {
        return Err(CallbackError::Unsupported);
    }
    let (signature, payload) = signed_request
        .split_once('.')
        .ok_or_else(|| CallbackError::invalid("signed_request is not <signature>.<payload>"))?;
    let signature =
        decode(signature).ok_or_else(|| CallbackError::invalid("the signature is not base64url"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .map_err(|_| CallbackError::invalid("the app secret cannot key HMAC-SHA256"))?;
    mac.update(payload.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature).map_err(|_| CallbackError::invalid("the signature does not match"))?;
    let payload = decode(payload).ok_or_else(|| CallbackError::invalid("the payload is not base64url"))?;
    let payload: Payload = serde_json::from_slice(&payload)
        .map_err(|_| CallbackError::invalid("the payload is not the expected JSON object"))?;
    if !payload.algorithm.eq_ignore_ascii_case("HMAC-SHA256") {
        return Err(CallbackError::invalid("the algorithm must be HMAC-SHA256"));
    }
    if let Some(issued) = payload.issued_at {
        let issued = chrono::DateTime::from_timestamp(issued, 0)
            .ok_or_else(|| CallbackError::invalid("issued_at is not a time"))?;
        if issued < now - MAX_AGE || issued > now + MAX_SKEW {
            return Err(CallbackError::invalid("the signed request is stale (issued_at)"));
        }
    }
    let user_id = match payload.user_id {
        serde_json::Value::String(id) => id,
        serde_json::Value::Number(id) => id.to_string(),
        _ => return Err(CallbackError::invalid("user_id is missing")),
    };
    if user_id.is_empty() || user_id.len() > 128 {
        return Err(CallbackError::invalid("user_id is missing"));
    }
    Ok(user_id)
}

/// A signed request as Meta would send it (for tests and the fakes).
pub fn sign(payload: &serde_json::Value, app_secret: &str) -> String {
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let signature = match Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(payload.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length: never reached.
        Err(_) => String::new(),
    };
    format!("{signature}.{payload}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &str = "app-secret";

    fn now() -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn payload(issued_at: i64) -> serde_json::Value {
        json!({"algorithm": "HMAC-SHA256", "issued_at": issued_at, "user_id": "218471"})
    }

    #[test]
    fn a_signed_fresh_request_names_its_user() {
        let signed = sign(&payload(1_800_000_000 - 60), SECRET);
        assert_eq!(verify(&signed, SECRET, now()).unwrap(), "218471");
        // Meta's padding is tolerated; a numeric id and a missing issued_at are taken.
        let (sig, body) = signed.split_once('.').unwrap();
        assert_eq!(verify(&format!("{sig}=.{body}"), SECRET, now()).unwrap(), "218471");
        let bare = sign(&json!({"algorithm": "HMAC-SHA256", "user_id": 42}), SECRET);
        assert_eq!(verify(&bare, SECRET, now()).unwrap(), "42");
    }

    #[test]
    fn forged_stale_and_malformed_requests_are_refused() {
        let fresh = sign(&payload(1_800_000_000), SECRET);
        let invalid = |raw: &str| matches!(verify(raw, SECRET, now()), Err(CallbackError::Invalid(_)));
        assert!(
            matches!(verify(&fresh, "other-secret", now()), Err(CallbackError::Invalid(m)) if m.contains("signature"))
        );
        // The payload changed after signing.
        let (sig, _) = fresh.split_once('.').unwrap();
        let other = URL_SAFE_NO_PAD.encode(json!({"algorithm": "HMAC-SHA256", "user_id": "1"}).to_string());
        assert!(invalid(&format!("{sig}.{other}")));
        let wrong_algorithm =
            sign(&json!({"algorithm": "HMAC-SHA1", "issued_at": 1_800_000_000, "user_id": "1"}), SECRET);
        assert!(
            matches!(verify(&wrong_algorithm, SECRET, now()), Err(CallbackError::Invalid(m)) if m.contains("algorithm"))
        );
        assert!(invalid(&sign(&payload(1_800_000_000 - 2 * 3600), SECRET)));
        assert!(invalid(&sign(&payload(1_800_000_000 + 3600), SECRET)));
        assert!(invalid(&sign(&json!({"algorithm": "HMAC-SHA256"}), SECRET)));
        assert!(invalid(&sign(&json!(["not", "an", "object"]), SECRET)));
        assert!(invalid("no-dot"));
        assert!(invalid("!!!.???"));
        assert!(invalid(""));
        assert_eq!(verify(&fresh, "", now()), Err(CallbackError::Unsupported));
    }
}
