//! Building and writing `app.bsky.feed.post` records: facets, media blobs, thread replies, and
//! the record keys Crier chooses so that a repeated publish is found, not duplicated.

use std::collections::HashMap;

use crier_core::{MediaKind, TargetId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::facets::{FacetFeature, detect_facets, to_record_facets};
use super::session::Session;
use super::{Bluesky, POST, options, xrpc};
use crate::provider::{ProviderError, PublishRequest, Published};

/// A written record: its AT URI and content id (replies point at both).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct StrongRef {
    pub uri: String,
    pub cid: String,
}

/// The base32 alphabet of AT Protocol TIDs, in sort order.
const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The record key of the `index`-th post of a target's thread: a TID (13 characters) whose time
/// is the target's creation (its id is a ULID) plus `index` microseconds, and whose clock id
/// comes from the id's random bits. The same target always gets the same keys.
pub(super) fn record_key(target: TargetId, index: usize) -> String {
    let uuid = target.as_uuid();
    let millis = ulid::Ulid::from(uuid).timestamp_ms();
    let micros = (millis * 1000 + index as u64) & ((1 << 53) - 1);
    let clock_id = u64::from(uuid.as_bytes()[15]) | (u64::from(uuid.as_bytes()[14] & 0x03) << 8);
    let mut value = (micros << 10) | clock_id;
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = TID_ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// The post's page on bsky.app, from its AT URI.
pub(super) fn published(session: &Session, uri: &str) -> Published {
    let rkey = uri.rsplit('/').next().unwrap_or_default();
    Published {
        provider_post_id: uri.to_owned(),
        url: Some(format!("https://bsky.app/profile/{}/post/{rkey}", session.handle)),
    }
}

impl Bluesky {
    /// The record at the target's `index`-th key, if it exists.
    pub(super) async fn existing(
        &self,
        request: &PublishRequest<'_>,
        session: &Session,
        index: usize,
    ) -> Result<Option<StrongRef>, ProviderError> {
        let url = xrpc(request.channel, "com.atproto.repo.getRecord")?;
        let rkey = record_key(request.target_id, index);
        let query = [("repo", session.did.as_str()), ("collection", POST), ("rkey", rkey.as_str())];
        let call = self
            .platform
            .call(reqwest::Method::GET, &url, |b| b.bearer_auth(&session.access_jwt).query(&query))
            .await?;
        if call.ok() {
            return call.json().map(Some);
        }
        if call.reply.status == 400 && call.error_name().as_deref() == Some("RecordNotFound") {
            return Ok(None);
        }
        Err(self.failure(&call))
    }

    pub(super) fn failure(&self, call: &crate::PlatformCall) -> ProviderError {
        if super::session::is_auth_error(call.reply.status, call.error_name().as_deref()) {
            return ProviderError::AuthExpired { message: call.error_message() };
        }
        call.failure(self.platform.clock.now())
    }

    /// Writes the post and its replies, skipping records a previous attempt already wrote.
    pub(super) async fn publish_thread(
        &self,
        request: &PublishRequest<'_>,
        session: &Session,
    ) -> Result<Published, ProviderError> {
        let parsed = options(request.options)
            .map_err(|message| ProviderError::Rejected { code: "invalid_options".into(), message })?;
        let texts: Vec<&str> =
            std::iter::once(request.text).chain(parsed.thread.iter().map(String::as_str)).collect();
        let mut root: Option<StrongRef> = None;
        let mut parent: Option<StrongRef> = None;
        for (index, text) in texts.iter().enumerate() {
            // No look-up first: a record already written by an earlier attempt is found when
            // creating it at its key fails, so the common case costs one call per post.
            let embed = if index == 0 { self.embed(request, session).await? } else { None };
            let mut record = json!({
                "$type": POST,
                "text": text,
                "createdAt": self.platform.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            });
            let facets = self.facets(request, text).await;
            if facets.as_array().is_some_and(|f| !f.is_empty()) {
                record["facets"] = facets;
            }
            if !parsed.langs.is_empty() {
                record["langs"] = json!(parsed.langs);
            }
            if let Some(embed) = embed {
                record["embed"] = embed;
            }
            if let (Some(root), Some(parent)) = (&root, &parent) {
                record["reply"] = json!({
                    "root": {"uri": root.uri, "cid": root.cid},
                    "parent": {"uri": parent.uri, "cid": parent.cid},
                });
            }
            let written = self.create(request, session, index, &record).await?;
            if root.is_none() {
                root = Some(written.clone());
            }
            parent = Some(written);
        }
        let root = root.ok_or_else(|| ProviderError::Rejected {
            code: "empty_post".into(),
            message: "nothing to publish".into(),
        })?;
        Ok(published(session, &root.uri))
    }

    /// `createRecord` at the chosen key. A PDS answers a key that already exists with a 500 (a
    /// conflict or a 400 would say the same), so after such an answer the key is looked up: an
    /// earlier attempt's record is taken as this one, and the publish resumes after it.
    async fn create(
        &self,
        request: &PublishRequest<'_>,
        session: &Session,
        index: usize,
        record: &Value,
    ) -> Result<StrongRef, ProviderError> {
        let url = xrpc(request.channel, "com.atproto.repo.createRecord")?;
        let body = json!({
            "repo": session.did,
            "collection": POST,
            "rkey": record_key(request.target_id, index),
            "record": record,
        });
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| b.bearer_auth(&session.access_jwt).json(&body))
            .await?;
        if call.ok() {
            return call.json();
        }
        if (call.reply.status >= 500 || matches!(call.reply.status, 400 | 409))
            && let Some(found) = self.existing(request, session, index).await?
        {
            return Ok(found);
        }
        Err(self.failure(&call))
    }

    /// Facets of one post's text; mentions are resolved to DIDs through the PDS, and a mention
    /// that does not resolve stays plain text (as the Bluesky app does).
    async fn facets(&self, request: &PublishRequest<'_>, text: &str) -> Value {
        let detected = detect_facets(text);
        let mut dids = HashMap::new();
        for facet in &detected {
            if let FacetFeature::Mention { handle } = &facet.feature
                && !dids.contains_key(handle)
                && let Some(did) = self.resolve_handle(request, handle).await
            {
                dids.insert(handle.clone(), did);
            }
        }
        to_record_facets(&detected, &dids)
    }

    async fn resolve_handle(&self, request: &PublishRequest<'_>, handle: &str) -> Option<String> {
        let url = xrpc(request.channel, "com.atproto.identity.resolveHandle").ok()?;
        let call =
            self.platform.call(reqwest::Method::GET, &url, |b| b.query(&[("handle", handle)])).await.ok()?;
        if !call.ok() {
            return None;
        }
        call.json::<Value>().ok()?["did"].as_str().map(str::to_owned)
    }

    /// Uploads the post's media as blobs and describes them: images with alt text and aspect
    /// ratio, or one video.
    async fn embed(
        &self,
        request: &PublishRequest<'_>,
        session: &Session,
    ) -> Result<Option<Value>, ProviderError> {
        if request.media.is_empty() {
            return Ok(None);
        }
        let url = xrpc(request.channel, "com.atproto.repo.uploadBlob")?;
        let mut images = Vec::new();
        let mut video = None;
        for id in request.media {
            let file = self.platform.media.load(request.channel.workspace_id, *id).await?;
            let mime = file.mime().to_owned();
            let call = self
                .platform
                .call(reqwest::Method::POST, &url, |b| {
                    b.bearer_auth(&session.access_jwt)
                        .header(reqwest::header::CONTENT_TYPE, mime)
                        .body(file.bytes.clone())
                })
                .await?;
            if !call.ok() {
                return Err(self.failure(&call));
            }
            let blob = call.json::<Value>()?["blob"].clone();
            let alt = file.media.alt_text.clone().unwrap_or_default();
            let aspect = file.media.facts.as_ref().map(|f| json!({"width": f.width, "height": f.height}));
            match file.media.facts.as_ref().map(|f| f.kind) {
                Some(MediaKind::Video) => {
                    let mut v = json!({"$type": "app.bsky.embed.video", "video": blob, "alt": alt});
                    if let Some(aspect) = aspect {
                        v["aspectRatio"] = aspect;
                    }
                    video = Some(v);
                }
                _ => {
                    let mut image = json!({"image": blob, "alt": alt});
                    if let Some(aspect) = aspect {
                        image["aspectRatio"] = aspect;
                    }
                    images.push(image);
                }
            }
        }
        Ok(video.or_else(|| {
            (!images.is_empty()).then(|| json!({"$type": "app.bsky.embed.images", "images": images}))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_are_stable_distinct_tids() {
        let target = TargetId::generate();
        let first = record_key(target, 0);
        assert_eq!(first, record_key(target, 0));
        assert_ne!(first, record_key(target, 1));
        assert_eq!(first.len(), 13);
        // A TID's first character is one of the first 16 of the alphabet (the top bit is 0).
        assert!(b"234567abcdefghij".contains(&first.as_bytes()[0]), "{first}");
        assert!(first < record_key(target, 1), "sorted by time");
    }
}
