//! Standard Webhooks signing (<https://www.standardwebhooks.com/>): the secret is `whsec_` and
//! the base64 of random bytes; the signature of a message is
//! `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")), and several are
//! sent space-separated while a rotated secret is still in its grace period.
//!
//! Written here rather than taken from a crate: the scheme is a dozen lines over `hmac`, and the
//! tests check it against the official `standardwebhooks` verifier.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

const PREFIX: &str = "whsec_";
const KEY_BYTES: usize = 32;

/// A signing secret in its `whsec_…` text form. Debug never shows it.
pub struct WebhookSecret(Zeroizing<String>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret is `whsec_` followed by base64")]
pub struct MalformedSecret;

impl WebhookSecret {
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        rand::rng().fill_bytes(key.as_mut());
        Self(Zeroizing::new(format!("{PREFIX}{}", STANDARD.encode(key.as_ref()))))
    }

    /// Reads a secret back from its text form (as opened from the vault).
    pub fn parse(text: &str) -> Result<Self, MalformedSecret> {
        let secret = Self(Zeroizing::new(text.to_owned()));
        secret.key()?;
        Ok(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    fn key(&self) -> Result<Zeroizing<Vec<u8>>, MalformedSecret> {
        let encoded = self.0.strip_prefix(PREFIX).ok_or(MalformedSecret)?;
        let key = STANDARD.decode(encoded).map_err(|_| MalformedSecret)?;
        if key.is_empty() {
            return Err(MalformedSecret);
        }
        Ok(Zeroizing::new(key))
    }

    /// `v1,<base64 signature>` of one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, MalformedSecret> {
        let key = self.key()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| MalformedSecret)?;
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
    }
}

/// The `webhook-signature` header value: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, MalformedSecret> {
    let signatures = secrets.iter().map(|s| s.sign(id, timestamp, body)).collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification and its reference libraries.
    #[test]
    fn matches_the_specification_example() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn generated_secrets_parse_and_differ() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        assert!(a.expose().starts_with("whsec_"));
        assert_ne!(a.expose(), b.expose());
        assert!(WebhookSecret::parse(a.expose()).is_ok());
        assert!(WebhookSecret::parse("whsec_").is_err());
        assert!(WebhookSecret::parse("sk_abc").is_err());
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn signs_with_every_secret() {
        let (a, b) = (WebhookSecret::generate(), WebhookSecret::generate());
        let header = signature_header(&[a, b], "msg_1", 1, b"{}").unwrap();
        assert_eq!(header.split(' ').count(), 2);
    }
}
