//! Media bytes on their way in and out: each upload is streamed into object storage (sealed with
//! a per-media content key when the vault is configured) while `crier-media` decides what it
//! really is and SHA-256 is computed, so nothing is held whole in memory and nothing unchecked is
//! ever marked ready. The HTTP handlers in `routes::media` stay thin on top of this.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use crier_blobs::{BlobError, BlobPath, BlobStore, ContentKey};
use crier_core::{Media, MediaFacts, MediaId, MediaKind, SealedRow, WorkspaceId};
use crier_media::{ProbeError, ProbeLimits, Prober};
use futures::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult, FieldError, ProblemKind};
use crate::state::AppState;

/// What the vault calls a media content key (bound into its AAD).
pub const CONTENT_KEY_PURPOSE: &str = "media_content_key";

/// Limits of the media API (the binary fills them from its configuration).
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Largest file, by any route (a video's resumable upload included).
    pub max_file_bytes: u64,
    /// Largest single part of a resumable upload.
    pub max_part_bytes: u64,
    /// An unfinished resumable upload is dropped this long after it began.
    pub upload_ttl: Duration,
    /// How long one media request (an upload, a part, a download) may take.
    pub transfer_timeout: Duration,
    /// Fetching a file by URL: how long it may take, and its largest size (it is held in memory).
    pub fetch_timeout: Duration,
    pub max_fetch_bytes: u64,
    pub probe: ProbeLimits,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: 1024 * 1024 * 1024,
            max_part_bytes: 64 * 1024 * 1024,
            upload_ttl: Duration::from_secs(24 * 3600),
            transfer_timeout: Duration::from_secs(3600),
            // Inside the idempotency lock (the request timeout), so a retry cannot overtake it.
            fetch_timeout: Duration::from_secs(25),
            max_fetch_bytes: 100 * 1024 * 1024,
            probe: ProbeLimits::default(),
        }
    }
}

/// Where a media's `index`th part lives.
pub fn part_path(media: &Media, index: u32) -> ApiResult<BlobPath> {
    let part = format!("{index:06}");
    let mut parts: Vec<&str> = media.storage_prefix.split('/').collect();
    parts.push(&part);
    BlobPath::new(&parts).map_err(|err| ApiError::internal(&err))
}

pub fn storage_prefix(workspace: WorkspaceId, id: MediaId) -> String {
    format!("workspaces/{workspace}/media/{id}")
}

fn prefix_path(media: &Media) -> ApiResult<BlobPath> {
    let parts: Vec<&str> = media.storage_prefix.split('/').collect();
    BlobPath::new(&parts).map_err(|err| ApiError::internal(&err))
}

/// A fresh content key and its sealed row, or neither when Crier runs without a vault.
pub async fn new_content_key(
    state: &AppState,
    workspace: WorkspaceId,
) -> ApiResult<(Option<ContentKey>, Option<SealedRow>)> {
    let Some(vault) = state.vault.as_deref() else { return Ok((None, None)) };
    let key = ContentKey::generate();
    let sealed = vault.seal_row(workspace, CONTENT_KEY_PURPOSE, key.expose()).await?;
    Ok((Some(key), Some(sealed)))
}

/// The media's content key, unsealed for this request only.
pub async fn content_key(state: &AppState, media: &Media) -> ApiResult<Option<ContentKey>> {
    let Some(id) = media.content_key else { return Ok(None) };
    let vault = state.vault.as_deref().ok_or_else(|| {
        ApiError::new(ProblemKind::Unavailable, "this media is encrypted and Crier runs without its vault")
    })?;
    let bytes = vault.open(media.workspace_id, id).await?;
    Ok(Some(ContentKey::from_bytes(bytes.expose()).map_err(|err| ApiError::internal(&err))?))
}

pub fn blob_error(err: BlobError) -> ApiError {
    match err {
        BlobError::NotFound => ApiError::new(ProblemKind::Internal, "the media's stored bytes are missing"),
        BlobError::Storage(_) => {
            tracing::error!(error = %err, "object storage failed");
            ApiError::new(ProblemKind::Unavailable, "object storage is unavailable; try again later")
        }
        other => ApiError::internal(&other),
    }
}

/// Watches bytes go by: decides the type, hashes, counts, and stops the stream (by failing it)
/// at the first sign the file cannot be accepted.
pub struct Inspector {
    prober: Option<Prober>,
    sha: Sha256,
    size: u64,
    max: u64,
    refusal: Option<Refusal>,
}

/// Why an inspected file was refused, shown to the caller as a 422.
#[derive(Debug, Clone)]
pub enum Refusal {
    Probe(ProbeError),
    TooLarge(u64),
}

impl Refusal {
    pub fn into_error(self, pointer: &str) -> ApiError {
        let detail = match self {
            Refusal::Probe(err) => err.to_string(),
            Refusal::TooLarge(max) => format!("the file is larger than the limit of {max} bytes"),
        };
        ApiError::validation(vec![FieldError::new(pointer, detail)])
    }
}

impl Inspector {
    pub fn new(config: &MediaConfig) -> Self {
        Self {
            prober: Some(Prober::new(config.probe)),
            sha: Sha256::new(),
            size: 0,
            max: config.max_file_bytes,
            refusal: None,
        }
    }

    /// Looks at the next chunk; `Err` once the file is refused (the reason is kept).
    pub fn take(&mut self, chunk: &[u8]) -> Result<(), String> {
        if let Some(refusal) = &self.refusal {
            return Err(format!("{refusal:?}"));
        }
        self.size += chunk.len() as u64;
        if self.size > self.max {
            self.refusal = Some(Refusal::TooLarge(self.max));
            return Err("too large".into());
        }
        self.sha.update(chunk);
        if let Some(prober) = self.prober.as_mut()
            && let Err(err) = prober.feed(chunk)
        {
            self.refusal = Some(Refusal::Probe(err));
            return Err("refused".into());
        }
        Ok(())
    }

    pub fn refusal(&self) -> Option<&Refusal> {
        self.refusal.as_ref()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// What the bytes were, once all of them went by.
    pub fn finish(mut self) -> Result<MediaFacts, Refusal> {
        if let Some(refusal) = self.refusal.take() {
            return Err(refusal);
        }
        let prober = self.prober.take().ok_or(Refusal::Probe(ProbeError::Empty))?;
        let facts = prober.finish().map_err(Refusal::Probe)?;
        Ok(MediaFacts {
            mime: facts.mime,
            kind: match facts.kind {
                crier_media::MediaKind::Image => MediaKind::Image,
                crier_media::MediaKind::Video => MediaKind::Video,
            },
            width: facts.width,
            height: facts.height,
            duration_ms: facts.duration_ms,
            video_codec: facts.video_codec,
            audio_codec: facts.audio_codec,
            size: self.size,
            sha256: hex(&self.sha.finalize()),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Streams `body` into `path` through `inspector`. `Ok(Err(refusal))` when the inspector refused
/// the bytes (nothing is left stored); `Err` for a failure of the body or of storage.
pub async fn store_inspected<S, E>(
    blobs: &BlobStore,
    path: &BlobPath,
    key: Option<&ContentKey>,
    body: S,
    inspector: &mut Inspector,
) -> ApiResult<Result<u64, Refusal>>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let watched = body.map(|item| match item {
        Ok(chunk) => inspector.take(&chunk).map(|()| chunk),
        Err(err) => Err(err.to_string()),
    });
    match blobs.put(path, key, watched).await {
        Ok(stored) => Ok(Ok(stored)),
        Err(err) => match inspector.refusal() {
            Some(refusal) => Ok(Err(refusal.clone())),
            None => match err {
                BlobError::Body(reason) => Err(ApiError::invalid(format!("the upload broke off: {reason}"))),
                other => Err(blob_error(other)),
            },
        },
    }
}

/// The media's bytes, all parts in order, decrypted; each part is opened when the one before it
/// has been read.
pub async fn read_all(
    state: &AppState,
    media: &Media,
) -> ApiResult<BoxStream<'static, Result<Bytes, BlobError>>> {
    let key = content_key(state, media).await?.map(Arc::new);
    let paths = (0..media.parts).map(|index| part_path(media, index)).collect::<ApiResult<Vec<_>>>()?;
    let blobs = state.blobs.clone();
    Ok(futures::stream::iter(paths)
        .then(move |path| {
            let blobs = blobs.clone();
            let key = key.clone();
            async move { blobs.get(&path, key.as_deref()).await }
        })
        .try_flatten()
        .boxed())
}

/// Runs a finished upload's bytes through a fresh inspector.
pub async fn inspect_stored(state: &AppState, media: &Media) -> ApiResult<Result<MediaFacts, Refusal>> {
    let mut inspector = Inspector::new(&state.media);
    let mut bytes = read_all(state, media).await?;
    while let Some(chunk) = bytes.try_next().await.map_err(blob_error)? {
        if inspector.take(&chunk).is_err() {
            break;
        }
    }
    Ok(inspector.finish())
}

/// Removes every stored part of the media (best effort: the row and its key are already gone, so
/// leftovers are unreadable; they are logged).
pub async fn remove_bytes(state: &AppState, media: &Media) {
    let result = match prefix_path(media) {
        Ok(prefix) => state.blobs.delete_prefix(&prefix).await.map_err(|err| err.to_string()),
        Err(err) => Err(err.problem().detail),
    };
    if let Err(err) = result {
        tracing::warn!(media = %media.id, error = %err, "could not remove a media's stored bytes");
    }
}

/// Deletes resumable uploads that were not completed in time, with their parts. Returns how many.
pub async fn sweep_expired_uploads(state: &AppState) -> ApiResult<usize> {
    let now = state.clock.now();
    let expired = state.store.expired_uploads(now, 100).await?;
    let mut swept = 0;
    for (workspace, id) in expired {
        let audit = crier_core::NewAuditEvent::new(
            now,
            crier_core::Actor("system".into()),
            "media.upload_expired",
            id.to_string(),
            &crier_core::RequestOrigin::default(),
        );
        match state.store.delete_media(workspace, id, &audit).await {
            Ok(media) => {
                remove_bytes(state, &media).await;
                swept += 1;
            }
            Err(err) => tracing::warn!(media = %id, error = %err, "could not drop an expired upload"),
        }
    }
    Ok(swept)
}

/// The media store as providers read it at publish time: a ready file, whole and decrypted.
pub struct StoredMedia(pub AppState);

#[async_trait::async_trait]
impl crier_providers::MediaSource for StoredMedia {
    async fn load(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
    ) -> Result<crier_providers::MediaFile, crier_providers::ProviderError> {
        use crier_providers::ProviderError;
        let unavailable = |what: &str| ProviderError::Retryable {
            after: None,
            message: format!("media {id} could not be read: {what}"),
        };
        let media = crier_providers::MediaSource::describe(self, workspace, id).await?;
        let mut stream = read_all(&self.0, &media).await.map_err(|_| unavailable("no key or path"))?;
        let mut bytes = Vec::with_capacity(usize::try_from(media.received).unwrap_or(0));
        while let Some(chunk) = stream.try_next().await.map_err(|err| match err {
            // A chunk that does not open was tampered with: no retry will fix it.
            BlobError::Tampered | BlobError::BadKey | BlobError::NotFound => ProviderError::Rejected {
                code: "media_corrupt".into(),
                message: format!("media {id} failed its integrity check"),
            },
            _ => unavailable("the media store is unavailable"),
        })? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(crier_providers::MediaFile { media, bytes })
    }

    async fn describe(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
    ) -> Result<Media, crier_providers::ProviderError> {
        use crier_providers::ProviderError;
        let media = match self.0.store.get_media(workspace, id).await {
            Ok(media) => media,
            Err(crier_core::StoreError::NotFound) => {
                return Err(ProviderError::Rejected {
                    code: "media_gone".into(),
                    message: format!("media {id} no longer exists"),
                });
            }
            Err(_) => {
                return Err(ProviderError::Retryable {
                    after: None,
                    message: format!("media {id} could not be read: storage is unavailable"),
                });
            }
        };
        if media.facts.is_none() {
            return Err(ProviderError::Rejected {
                code: "media_not_ready".into(),
                message: format!("media {id} is not ready"),
            });
        }
        Ok(media)
    }

    fn links_media(&self) -> bool {
        self.0.media_links.is_some()
    }

    /// A link the API serves at `/media-links/{token}` (`crate::media_links`), for a media that
    /// exists and is ready now.
    async fn link(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
    ) -> Result<crier_providers::MediaLink, crier_providers::ProviderError> {
        let Some(links) = self.0.media_links.as_deref() else {
            return Err(crier_providers::ProviderError::Rejected {
                code: "media_needs_public_url".into(),
                message: crier_providers::NEEDS_PUBLIC_URL.into(),
            });
        };
        crier_providers::MediaSource::describe(self, workspace, id).await?;
        Ok(links.mint(workspace, id, self.0.clock.now()))
    }
}
