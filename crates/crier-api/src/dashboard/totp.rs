//! TOTP (RFC 6238) with the authenticator apps' parameters (SHA-1, 6 digits, 30 s), through the
//! `totp-rs` crate, and one-time recovery codes.

use crier_core::{KeyHash, Timestamp};
use rand::Rng;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::oauth::secret_hash;

pub const STEP_SECONDS: u64 = 30;
/// A code from the previous or next step is accepted too (clock drift, RFC 6238 §5.2).
const SKEW_STEPS: i64 = 1;
const RECOVERY_CODES: usize = 10;
pub const ISSUER: &str = "Crier";

/// The generator for `secret` (raw bytes), labelled with the account for authenticator apps.
pub fn generator(secret: &[u8], account: &str) -> Option<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS,
        secret.to_vec(),
        Some(ISSUER.to_owned()),
        account.to_owned(),
    )
    .ok()
}

/// A fresh random secret (160 bits, as RFC 4226 recommends) in base32, as the user types it.
pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

/// The raw bytes of a base32 secret.
pub fn secret_bytes(base32: &str) -> Option<Vec<u8>> {
    Secret::Encoded(base32.trim().to_owned()).to_bytes().ok()
}

/// The time step `code` is valid for at `now` (within the skew), if any.
pub fn matching_step(generator: &TOTP, code: &str, now: Timestamp) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now.timestamp().div_euclid(STEP_SECONDS as i64);
    (-SKEW_STEPS..=SKEW_STEPS).map(|delta| current + delta).find(|step| {
        let at = u64::try_from(*step).unwrap_or(0) * STEP_SECONDS;
        let expected = generator.generate(at);
        expected.len() == code.len()
            && bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()))
    })
}

/// A QR code of the `otpauth://` URI, as a PNG data URI for an `<img>`.
pub fn qr_data_uri(generator: &TOTP) -> Option<String> {
    generator.get_qr_base64().ok().map(|png| format!("data:image/png;base64,{png}"))
}

/// Ten recovery codes (`xxxxx-xxxxx`, 50 random bits each) and their hashes.
pub fn recovery_codes() -> Vec<(String, KeyHash)> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut code: String =
                (0..10).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
            code.insert(5, '-');
            let hash = recovery_hash(&code);
            (code, hash)
        })
        .collect()
}

/// The hash a recovery code is stored and found by, ignoring case, spaces and dashes.
pub fn recovery_hash(code: &str) -> KeyHash {
    let normalized: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    secret_hash(&format!("crier-recovery:{normalized}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_within_one_step_and_not_beyond() {
        let secret = secret_bytes(&new_secret()).unwrap();
        let generator = generator(&secret, "a@example.com").unwrap();
        let now = chrono::Utc::now();
        let step = now.timestamp() / 30;
        let code_at = |s: i64| generator.generate(u64::try_from(s).unwrap() * 30);
        assert_eq!(matching_step(&generator, &code_at(step), now), Some(step));
        assert_eq!(matching_step(&generator, &code_at(step - 1), now), Some(step - 1));
        assert_eq!(matching_step(&generator, &code_at(step + 1), now), Some(step + 1));
        let old = code_at(step - 3);
        if ![code_at(step - 1), code_at(step), code_at(step + 1)].contains(&old) {
            assert_eq!(matching_step(&generator, &old, now), None);
        }
        assert_eq!(matching_step(&generator, "12345", now), None);
        assert_eq!(matching_step(&generator, "abcdef", now), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_their_hash_ignores_formatting() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), 10);
        let (code, hash) = &codes[0];
        assert_eq!(recovery_hash(&code.to_uppercase().replace('-', " ")), *hash);
        let distinct: std::collections::BTreeSet<_> = codes.iter().map(|(c, _)| c.clone()).collect();
        assert_eq!(distinct.len(), 10);
    }
}
