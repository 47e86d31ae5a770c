//! The secrets and the signature check of the platforms' event callbacks that are signed with a
//! shared secret rather than Meta's `signed_request`: Slack's Events API
//! (api.slack.com/authentication/verifying-requests-from-slack) and TikTok's webhooks
//! (developers.tiktok.com/doc/webhooks-verification). Both sign `{timestamp}{separator}{raw body}`
//! with HMAC-SHA256 and send it hex-encoded, with the timestamp, so a replay is refused once the
//! timestamp is older than [`TOLERANCE_SECONDS`].

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a callback's timestamp may be from now (either way: clocks drift) before it is
/// refused as a replay. Slack's guide uses five minutes; TikTok leaves it to the receiver.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// A secret that never appears in logs or `Debug` output.
#[derive(Clone)]
pub struct CallbackSecret(String);

impl CallbackSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for CallbackSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackSecret(…)")
    }
}

/// TikTok's app, whose client secret signs its webhooks and whose client key they name.
#[derive(Debug, Clone)]
pub struct TikTokApp {
    pub client_key: String,
    pub client_secret: CallbackSecret,
}

/// Which signed callbacks this Crier takes: each route answers 404 while its secret is unset.
#[derive(Debug, Clone, Default)]
pub struct CallbackSecrets {
    /// The Slack app's signing secret (its Basic Information page), for `/callbacks/slack/events`.
    pub slack_signing_secret: Option<CallbackSecret>,
    /// The TikTok app, for `/callbacks/tiktok/events`.
    pub tiktok: Option<TikTokApp>,
}

/// Whether `signature` (lowercase hex) is HMAC-SHA256 of `parts`, concatenated, under `secret`.
/// Compared in constant time, so the signature cannot be guessed byte by byte.
pub fn signature_matches(secret: &CallbackSecret, parts: &[&[u8]], signature: &str) -> bool {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.bytes()) else {
        return false;
    };
    for part in parts {
        mac.update(part);
    }
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    expected.as_bytes().ct_eq(signature.as_bytes()).into()
}

/// Whether a callback signed at `timestamp` (Unix seconds) may still be taken at `now`.
pub fn fresh(timestamp: i64, now: i64) -> bool {
    now.abs_diff(timestamp) <= TOLERANCE_SECONDS.unsigned_abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_matches_only_its_secret_and_message() {
        let secret = CallbackSecret::new("8f742231b10e8888abcd99yyyzzz85a5");
        // Slack's worked example (api.slack.com/authentication/verifying-requests-from-slack).
        let base = b"v0:1531420618:token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let expected = "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert!(signature_matches(&secret, &[base], expected));
        assert!(!signature_matches(&secret, &[&base[1..]], expected));
        assert!(!signature_matches(&CallbackSecret::new("other"), &[base], expected));
        assert!(!signature_matches(&secret, &[base], &expected.to_uppercase()));
        assert!(!signature_matches(&secret, &[base], ""));
        assert!(format!("{secret:?}").contains('…') && !format!("{secret:?}").contains("8f74"));
    }

    #[test]
    fn timestamps_older_or_newer_than_five_minutes_are_stale() {
        assert!(fresh(1000, 1000 + 300) && fresh(1000 + 300, 1000));
        assert!(!fresh(1000, 1000 + 301) && !fresh(1000 + 301, 1000));
        assert!(!fresh(i64::MIN, i64::MAX));
    }
}
