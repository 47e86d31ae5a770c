//! Short-lived public links to one media, for platforms that fetch media themselves from a public
//! address (Instagram, Threads: "we cURL media used in publishing attempts, so the media must be
//! hosted on a publicly accessible server", developers.facebook.com/docs/instagram-platform/content-publishing).
//!
//! Nothing is stored. A link is `{public_url}/media-links/{token}`, where the token is
//! base64url(`workspace id ‖ media id ‖ expiry` ‖ HMAC-SHA256 of them), keyed with a key derived
//! from the vault's current master key (`MasterKey::derive("media-links")`), so any API node can
//! check a link a worker minted and nobody without the master key can make or alter one. A link
//! names one media of one workspace, lives an hour ([`LINK_TTL`]) and serves at most
//! [`MAX_FETCHES`] times on one node; an unknown, altered, expired or used-up token, or a media
//! since deleted, is a plain 404. The ids in a token are not secret (they appear in the API); the
//! tag is what makes it unguessable. Rotating the master key ends every live link.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crier_core::{MediaId, Timestamp, WorkspaceId};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;
use uuid::Uuid;
use zeroize::Zeroizing;

/// What the vault derives the links' key for.
pub const KEY_PURPOSE: &str = "media-links";
/// How long a link lives.
pub const LINK_TTL: chrono::Duration = chrono::Duration::hours(1);
/// How many times one link serves its media (a platform fetches once or twice).
pub const MAX_FETCHES: u32 = 20;

const DOMAIN: &[u8] = b"crier.media-link.v1";
const PAYLOAD: usize = 16 + 16 + 8;
const TAG: usize = 32;

/// Mints and checks media links (see the module's notes).
pub struct MediaLinks {
    /// HMAC-SHA256 keyed with the derived key, cloned for each tag.
    mac: Hmac<Sha256>,
    base: Url,
    /// Fetches per live token (by its tag), pruned as tokens expire.
    fetches: Mutex<HashMap<[u8; TAG], (i64, u32)>>,
}

impl std::fmt::Debug for MediaLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLinks").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

/// What a valid token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkedMedia {
    pub workspace: WorkspaceId,
    pub media: MediaId,
    pub expires_at: Timestamp,
}

impl MediaLinks {
    /// Links under `public_url` (Crier's `--public-url`), signed with `key`.
    pub fn new(key: &Zeroizing<[u8; 32]>, public_url: &Url) -> Result<Self, hmac::digest::InvalidLength> {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())?;
        Ok(Self { mac, base: public_url.clone(), fetches: Mutex::new(HashMap::new()) })
    }

    fn keyed(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(DOMAIN);
        mac.update(payload);
        mac
    }

    /// A token for `media` of `workspace`, valid until `now` + [`LINK_TTL`].
    pub fn token(&self, workspace: WorkspaceId, media: MediaId, now: Timestamp) -> (String, Timestamp) {
        let expires_at = now + LINK_TTL;
        let mut bytes = Vec::with_capacity(PAYLOAD + TAG);
        bytes.extend_from_slice(workspace.as_uuid().as_bytes());
        bytes.extend_from_slice(media.as_uuid().as_bytes());
        bytes.extend_from_slice(&expires_at.timestamp().to_be_bytes());
        let tag = self.keyed(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag);
        (URL_SAFE_NO_PAD.encode(bytes), expires_at)
    }

    /// The public link to `media`.
    pub fn mint(&self, workspace: WorkspaceId, media: MediaId, now: Timestamp) -> crier_providers::MediaLink {
        let (token, expires_at) = self.token(workspace, media, now);
        let mut url = self.base.clone();
        let path = format!("{}/media-links/{token}", self.base.path().trim_end_matches('/'));
        url.set_path(&path);
        url.set_query(None);
        url.set_fragment(None);
        crier_providers::MediaLink { url: url.into(), expires_at }
    }

    /// What `token` names, if it is one of ours, unexpired and not used up (this counts a use).
    pub fn open(&self, token: &str, now: Timestamp) -> Option<LinkedMedia> {
        if token.len() > 2 * (PAYLOAD + TAG) {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        if bytes.len() != PAYLOAD + TAG {
            return None;
        }
        let (payload, tag) = bytes.split_at(PAYLOAD);
        // A constant-time comparison of the tags.
        self.keyed(payload).verify_slice(tag).ok()?;
        let workspace = WorkspaceId::from_uuid(Uuid::from_slice(&payload[..16]).ok()?);
        let media = MediaId::from_uuid(Uuid::from_slice(&payload[16..32]).ok()?);
        let expires = i64::from_be_bytes(payload[32..].try_into().ok()?);
        if expires <= now.timestamp() {
            return None;
        }
        let expires_at = chrono::DateTime::from_timestamp(expires, 0)?;
        let key: [u8; TAG] = tag.try_into().ok()?;
        let mut fetches = self.fetches.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        fetches.retain(|_, (until, _)| *until > now.timestamp());
        let (_, used) = fetches.entry(key).or_insert((expires, 0));
        if *used >= MAX_FETCHES {
            return None;
        }
        *used += 1;
        Some(LinkedMedia { workspace, media, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> MediaLinks {
        MediaLinks::new(&Zeroizing::new([7; 32]), &"https://crier.example/base/".parse().unwrap()).unwrap()
    }

    #[test]
    fn a_token_opens_until_it_expires_and_only_for_its_media() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let (workspace, media) = (WorkspaceId::generate(), MediaId::generate());
        let links = links();
        let link = links.mint(workspace, media, now);
        assert!(link.url.starts_with("https://crier.example/base/media-links/"), "{}", link.url);
        let token = link.url.rsplit('/').next().unwrap();
        let opened = links.open(token, now).unwrap();
        assert_eq!((opened.workspace, opened.media), (workspace, media));
        assert_eq!(opened.expires_at, now + LINK_TTL);
        assert!(links.open(token, now + LINK_TTL).is_none(), "expired");
        let other =
            MediaLinks::new(&Zeroizing::new([8; 32]), &"https://crier.example".parse().unwrap()).unwrap();
        assert!(other.open(token, now).is_none(), "another key");
        let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
        bytes[20] ^= 1;
        assert!(links.open(&URL_SAFE_NO_PAD.encode(&bytes), now).is_none(), "altered media id");
        assert!(links.open("", now).is_none());
        assert!(links.open("not base64!", now).is_none());
    }

    #[test]
    fn a_token_serves_a_bounded_number_of_times() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let links = links();
        let (token, _) = links.token(WorkspaceId::generate(), MediaId::generate(), now);
        for _ in 0..MAX_FETCHES {
            assert!(links.open(&token, now).is_some());
        }
        assert!(links.open(&token, now).is_none());
    }
}
