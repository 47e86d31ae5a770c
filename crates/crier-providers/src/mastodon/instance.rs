//! What Crier knows of a Mastodon instance: its address, and the limits it announces in
//! `GET /api/v2/instance` (Mastodon 4.0+) or `/api/v1/instance` (older Mastodon and most servers
//! speaking its API). The limits are read when the channel is connected and kept in the channel's
//! settings, so a post is checked against its own instance's numbers without a call.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Mastodon;
use crate::ConnectError;

/// Mastodon's defaults, for settings without an announced number.
const DEFAULT_MAX_CHARACTERS: usize = 500;
const DEFAULT_CHARACTERS_RESERVED_PER_URL: usize = 23;
const DEFAULT_MAX_MEDIA_ATTACHMENTS: usize = 4;
/// Rails' `16.megabytes` and `99.megabytes`: MiB.
const DEFAULT_IMAGE_SIZE_LIMIT: u64 = 16 * 1024 * 1024;
const DEFAULT_VIDEO_SIZE_LIMIT: u64 = 99 * 1024 * 1024;

/// An instance's limits, as stored in the channel's settings (`config.limits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct Limits {
    pub max_characters: usize,
    pub characters_reserved_per_url: usize,
    pub max_media_attachments: usize,
    pub image_size_limit: u64,
    pub video_size_limit: u64,
    /// The image and video types the instance takes; empty: not announced (any Crier accepts).
    pub image_types: Vec<String>,
    pub video_types: Vec<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_characters: DEFAULT_MAX_CHARACTERS,
            characters_reserved_per_url: DEFAULT_CHARACTERS_RESERVED_PER_URL,
            max_media_attachments: DEFAULT_MAX_MEDIA_ATTACHMENTS,
            image_size_limit: DEFAULT_IMAGE_SIZE_LIMIT,
            video_size_limit: DEFAULT_VIDEO_SIZE_LIMIT,
            image_types: Vec::new(),
            video_types: Vec::new(),
        }
    }
}

impl Limits {
    /// From an instance document's `configuration` (the same shape in v1 and v2). A number that is
    /// missing, zero or not a number keeps Mastodon's default: a server that does not say is
    /// assumed to behave like Mastodon.
    fn from_instance(document: &Value) -> Self {
        let defaults = Self::default();
        let statuses = &document["configuration"]["statuses"];
        let media = &document["configuration"]["media_attachments"];
        let positive = |v: &Value| v.as_u64().filter(|n| *n > 0);
        let size =
            |v: &Value, default: usize| positive(v).and_then(|n| usize::try_from(n).ok()).unwrap_or(default);
        // Glitch and Pleroma-family servers announce their limit as a top-level `max_toot_chars`.
        let max_characters = positive(&statuses["max_characters"])
            .or_else(|| positive(&document["max_toot_chars"]))
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(defaults.max_characters);
        let types = |prefix: &str| -> Vec<String> {
            media["supported_mime_types"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .filter_map(Value::as_str)
                        .filter(|t| t.starts_with(prefix))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            max_characters,
            characters_reserved_per_url: statuses["characters_reserved_per_url"]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(defaults.characters_reserved_per_url),
            max_media_attachments: size(&statuses["max_media_attachments"], defaults.max_media_attachments),
            image_size_limit: positive(&media["image_size_limit"]).unwrap_or(defaults.image_size_limit),
            video_size_limit: positive(&media["video_size_limit"]).unwrap_or(defaults.video_size_limit),
            image_types: types("image/"),
            video_types: types("video/"),
        }
    }
}

/// What an instance says of itself.
#[derive(Debug, Clone)]
pub(super) struct InstanceInfo {
    /// The domain in its users' addresses (`alice@example.org`), which can differ from the host
    /// serving the API (`social.example.org`): v2's `domain`, v1's `uri`.
    pub domain: Option<String>,
    pub limits: Limits,
}

impl InstanceInfo {
    fn from_document(document: &Value, domain_field: &str) -> Self {
        let domain = document[domain_field]
            .as_str()
            .map(|d| d.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/'))
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        Self { domain, limits: Limits::from_instance(document) }
    }
}

/// The instance's address as Crier keeps it, `https://host[:port]`, from what a user typed
/// (`mastodon.social`, `https://mastodon.social/`). Only an address: a path, query or user name
/// would mean the user pasted something else (a profile's URL).
pub(super) fn normalise_instance(raw: &str) -> Result<String, ConnectError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ConnectError::invalid("/instance", "the instance's address is missing"));
    }
    let with_scheme = if raw.contains("://") { raw.to_owned() } else { format!("https://{raw}") };
    let url = url::Url::parse(&with_scheme).map_err(|_| {
        ConnectError::invalid("/instance", "not an address (expected e.g. https://mastodon.social)")
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(ConnectError::invalid("/instance", "the instance's address must be an https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConnectError::invalid(
            "/instance",
            "the address must not contain a user name or password",
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(ConnectError::invalid(
            "/instance",
            "only the instance's address, without a path (e.g. https://mastodon.social)",
        ));
    }
    Ok(url.origin().ascii_serialization())
}

/// The host part of an instance's address (`mastodon.social`, `127.0.0.1:3000`), for addresses
/// when the instance does not name its domain.
pub(super) fn host_of(instance: &str) -> String {
    url::Url::parse(instance)
        .ok()
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| instance.to_owned())
}

impl Mastodon {
    /// The instance's description: v2, else v1. `Ok(None)` when it answers neither (not a
    /// Mastodon API, or one too old); errors are the network's or the policy's. Asked with the
    /// account's token: an instance closed to anonymous API calls answers those with 401.
    pub(super) async fn instance_info(
        &self,
        instance: &str,
        access_token: &str,
    ) -> Result<Option<InstanceInfo>, ConnectError> {
        for (path, domain_field) in [("/api/v2/instance", "domain"), ("/api/v1/instance", "uri")] {
            let url = format!("{instance}{path}");
            let call = self
                .platform
                .connect_call(reqwest::Method::GET, &url, |b| b.bearer_auth(access_token))
                .await?;
            if !call.ok() {
                if matches!(call.reply.status, 408 | 429 | 500..=599) {
                    return Err(call.connect_failure());
                }
                continue;
            }
            if let Ok(document) = call.json::<Value>()
                && document.is_object()
            {
                return Ok(Some(InstanceInfo::from_document(&document, domain_field)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn addresses_are_normalised() {
        assert_eq!(normalise_instance("mastodon.social").unwrap(), "https://mastodon.social");
        assert_eq!(normalise_instance(" https://Mastodon.Social/ ").unwrap(), "https://mastodon.social");
        assert_eq!(normalise_instance("http://127.0.0.1:3000").unwrap(), "http://127.0.0.1:3000");
        for bad in [
            "",
            "ftp://example.org",
            "https://mastodon.social/@alice",
            "https://a:b@example.org",
            "https://x.org/?q",
        ] {
            assert!(matches!(normalise_instance(bad), Err(ConnectError::Invalid { .. })), "{bad}");
        }
        assert_eq!(host_of("https://mastodon.social"), "mastodon.social");
        assert_eq!(host_of("http://127.0.0.1:3000"), "127.0.0.1:3000");
    }

    #[test]
    fn limits_are_read_from_either_version_with_defaults() {
        let v2 = json!({
            "domain": "example.org",
            "configuration": {
                "statuses": {"max_characters": 1000, "characters_reserved_per_url": 20, "max_media_attachments": 6},
                "media_attachments": {
                    "supported_mime_types": ["image/png", "video/mp4", "audio/ogg"],
                    "image_size_limit": 1000,
                    "video_size_limit": 2000,
                },
            },
        });
        let info = InstanceInfo::from_document(&v2, "domain");
        assert_eq!(info.domain.as_deref(), Some("example.org"));
        assert_eq!(info.limits.max_characters, 1000);
        assert_eq!(info.limits.characters_reserved_per_url, 20);
        assert_eq!(info.limits.max_media_attachments, 6);
        assert_eq!((info.limits.image_size_limit, info.limits.video_size_limit), (1000, 2000));
        assert_eq!(info.limits.image_types, ["image/png"]);
        assert_eq!(info.limits.video_types, ["video/mp4"]);

        let old = json!({"uri": "old.example", "max_toot_chars": 5000});
        let info = InstanceInfo::from_document(&old, "uri");
        assert_eq!(info.domain.as_deref(), Some("old.example"));
        assert_eq!(info.limits, Limits { max_characters: 5000, ..Limits::default() });
    }
}
