//! API keys: how they look, how they are checked offline, and what is stored about them.
//!
//! A key is `crier_live_` or `crier_test_`, 43 base62 characters drawn uniformly (256 bits of
//! entropy, the same as 32 random bytes) and a 6-character base62 CRC-32 of everything before it.
//! The checksum lets secret scanners and our own extractor reject typos and fakes without a
//! database round trip. Only the SHA-256 of the whole key is stored.

use std::fmt;

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{ApiKeyId, ScopeSet, Timestamp, WorkspaceId};

const BODY_CHARS: usize = 43;
const CHECKSUM_CHARS: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyMode {
    Live,
    Test,
}

impl ApiKeyMode {
    pub const fn prefix(self) -> &'static str {
        match self {
            ApiKeyMode::Live => "crier_live_",
            ApiKeyMode::Test => "crier_test_",
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            ApiKeyMode::Live => "live",
            ApiKeyMode::Test => "test",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "live" => Some(ApiKeyMode::Live),
            "test" => Some(ApiKeyMode::Test),
            _ => None,
        }
    }
}

/// Why a presented string is not an API key at all (checked without the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedKey {
    #[error("not a Crier API key (expected `crier_live_…` or `crier_test_…`)")]
    Prefix,
    #[error("the API key has the wrong length or characters")]
    Shape,
    #[error("the API key's checksum does not match (a typo or a truncated copy?)")]
    Checksum,
}

/// The secret itself. Held zeroized, never printed by `Debug`, never serialized.
pub struct ApiKeySecret {
    text: Zeroizing<String>,
    mode: ApiKeyMode,
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({})", self.redacted())
    }
}

impl ApiKeySecret {
    pub fn generate(mode: ApiKeyMode) -> Self {
        let mut text =
            Zeroizing::new(String::with_capacity(mode.prefix().len() + BODY_CHARS + CHECKSUM_CHARS));
        text.push_str(mode.prefix());
        text.extend(rand::rng().sample_iter(&Alphanumeric).take(BODY_CHARS).map(char::from));
        let checksum = checksum(&text);
        text.push_str(&checksum);
        Self { text, mode }
    }

    pub fn parse(presented: &str) -> Result<Self, MalformedKey> {
        let mode = [ApiKeyMode::Live, ApiKeyMode::Test]
            .into_iter()
            .find(|mode| presented.starts_with(mode.prefix()))
            .ok_or(MalformedKey::Prefix)?;
        let rest = &presented[mode.prefix().len()..];
        if rest.len() != BODY_CHARS + CHECKSUM_CHARS || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(MalformedKey::Shape);
        }
        let (signed, given) = presented.split_at(presented.len() - CHECKSUM_CHARS);
        if checksum(signed) != given {
            return Err(MalformedKey::Checksum);
        }
        Ok(Self { text: Zeroizing::new(presented.to_owned()), mode })
    }

    /// The full secret, for showing once to its creator.
    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn mode(&self) -> ApiKeyMode {
        self.mode
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.text.as_bytes()).into())
    }

    /// A non-secret reminder of which key this is: the prefix and the last four characters,
    /// which belong to the checksum and so reveal nothing of the random part.
    pub fn redacted(&self) -> String {
        format!("{}…{}", self.mode.prefix(), &self.text[self.text.len() - 4..])
    }
}

fn checksum(signed: &str) -> String {
    let mut value = crc32fast::hash(signed.as_bytes());
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// SHA-256 of a key: what the database holds and looks keys up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The hash of any presented secret (a key, a token, a connect flow's state).
    pub fn of(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// What is stored about a key (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub workspace_id: WorkspaceId,
    pub id: ApiKeyId,
    pub name: String,
    pub mode: ApiKeyMode,
    pub scopes: ScopeSet,
    pub redacted: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub rotated_at: Option<Timestamp>,
    pub replaced_by: Option<ApiKeyId>,
}

/// Why a well-formed, known key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    #[error("the API key has been revoked")]
    Revoked,
    #[error("the API key has expired")]
    Expired,
    #[error("the API key was rotated and its grace period has ended")]
    RotatedGraceOver,
}

/// Where a key stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    /// Rotated, and still inside its grace period.
    Rotated,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Rotated => "rotated",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

impl ApiKey {
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        match self.check_usable(now) {
            Err(KeyRefusal::Revoked) => KeyStatus::Revoked,
            Err(_) => KeyStatus::Expired,
            Ok(()) if self.rotated_at.is_some() => KeyStatus::Rotated,
            Ok(()) => KeyStatus::Active,
        }
    }

    pub fn check_usable(&self, now: Timestamp) -> Result<(), KeyRefusal> {
        if self.revoked_at.is_some_and(|at| at <= now) {
            return Err(KeyRefusal::Revoked);
        }
        match self.expires_at {
            Some(at) if at <= now && self.rotated_at.is_some() => Err(KeyRefusal::RotatedGraceOver),
            Some(at) if at <= now => Err(KeyRefusal::Expired),
            _ => Ok(()),
        }
    }
}

impl ApiKey {
    /// A successor with the same name, mode, scopes and expiry, and its secret.
    pub fn successor(&self, now: Timestamp) -> (NewApiKey, ApiKeySecret) {
        let secret = ApiKeySecret::generate(self.mode);
        let key = NewApiKey {
            workspace_id: self.workspace_id,
            id: ApiKeyId::generate(),
            name: self.name.clone(),
            mode: self.mode,
            scopes: self.scopes.clone(),
            hash: secret.hash(),
            redacted: secret.redacted(),
            created_at: now,
            expires_at: self.expires_at,
        };
        (key, secret)
    }

    /// When a key rotated at `now` stops working: after the grace period, or at its own expiry
    /// if that comes first.
    pub fn expiry_after_rotation(&self, now: Timestamp, grace: chrono::Duration) -> Timestamp {
        let grace_end = now + grace;
        self.expires_at.map_or(grace_end, |own| own.min(grace_end))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyNameError {
    #[error("an API key name must be at most {max} characters")]
    TooLong { max: usize },
    #[error("an API key name must not contain control characters")]
    ControlCharacter,
}

/// A key about to be stored, with its hash; the secret goes back to the caller once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub workspace_id: WorkspaceId,
    pub id: ApiKeyId,
    pub name: String,
    pub mode: ApiKeyMode,
    pub scopes: ScopeSet,
    pub hash: KeyHash,
    pub redacted: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

pub struct IssueKey<'a> {
    pub workspace_id: WorkspaceId,
    pub name: &'a str,
    pub mode: ApiKeyMode,
    pub scopes: ScopeSet,
    pub now: Timestamp,
    pub expires_at: Option<Timestamp>,
}

impl NewApiKey {
    pub const MAX_NAME_CHARS: usize = 100;

    /// Mints a fresh secret and the record to store for it.
    pub fn issue(req: IssueKey<'_>) -> Result<(Self, ApiKeySecret), ApiKeyNameError> {
        let name = req.name.trim();
        if name.chars().count() > Self::MAX_NAME_CHARS {
            return Err(ApiKeyNameError::TooLong { max: Self::MAX_NAME_CHARS });
        }
        if name.chars().any(char::is_control) {
            return Err(ApiKeyNameError::ControlCharacter);
        }
        let secret = ApiKeySecret::generate(req.mode);
        let key = NewApiKey {
            workspace_id: req.workspace_id,
            id: ApiKeyId::generate(),
            name: name.to_owned(),
            mode: req.mode,
            scopes: req.scopes,
            hash: secret.hash(),
            redacted: secret.redacted(),
            created_at: req.now,
            expires_at: req.expires_at,
        };
        Ok((key, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_keep_their_mode() {
        for mode in [ApiKeyMode::Live, ApiKeyMode::Test] {
            let key = ApiKeySecret::generate(mode);
            assert_eq!(key.expose().len(), mode.prefix().len() + BODY_CHARS + CHECKSUM_CHARS);
            let parsed = ApiKeySecret::parse(key.expose()).expect("own key parses");
            assert_eq!(parsed.mode(), mode);
            assert_eq!(parsed.hash(), key.hash());
        }
    }

    #[test]
    fn checksum_catches_a_single_changed_character() {
        let key = ApiKeySecret::generate(ApiKeyMode::Live);
        let text = key.expose();
        let mut chars: Vec<char> = text.chars().collect();
        let at = ApiKeyMode::Live.prefix().len() + 5;
        chars[at] = if chars[at] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert_eq!(ApiKeySecret::parse(&typo).unwrap_err(), MalformedKey::Checksum);
    }

    #[test]
    fn rejects_other_shapes() {
        let key = ApiKeySecret::generate(ApiKeyMode::Live);
        let text = key.expose();
        assert_eq!(ApiKeySecret::parse("sk_live_abc").unwrap_err(), MalformedKey::Prefix);
        assert_eq!(ApiKeySecret::parse(&text[..text.len() - 1]).unwrap_err(), MalformedKey::Shape);
        assert_eq!(ApiKeySecret::parse(&format!("{text}x")).unwrap_err(), MalformedKey::Shape);
        let with_symbol = format!("crier_live_{}", "-".repeat(BODY_CHARS + CHECKSUM_CHARS));
        assert_eq!(ApiKeySecret::parse(&with_symbol).unwrap_err(), MalformedKey::Shape);
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let key = ApiKeySecret::generate(ApiKeyMode::Test);
        let debug = format!("{key:?}");
        assert!(!debug.contains(&key.expose()[11..40]), "{debug}");
        assert!(debug.contains("crier_test_…"));
    }
}
