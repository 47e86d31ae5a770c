//! [`BlobStore`]: one handle over the configured backend, encrypting on the way in and
//! verifying on the way out.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::format::{Opener, Sealer};
use crate::multipart::PartWriter;
use crate::{BlobError, BlobPath, ContentKey};

/// Where an S3-compatible bucket is and how to sign for it.
#[derive(Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// For S3-compatible services (MinIO, Garage, R2…); `None` means AWS itself.
    pub endpoint: Option<String>,
    /// With `secret_access_key`; when both are `None`, credentials come from the instance or
    /// container role.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Permits an `http://` endpoint, for a service on the same host or a test peer.
    pub allow_http: bool,
    /// `endpoint/bucket/key` addressing instead of `bucket.endpoint/key`; most self-hosted
    /// services need it.
    pub path_style: bool,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("allow_http", &self.allow_http)
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// Media bytes in object storage. Cheap to clone: clones share one backend client.
///
/// Every method must run inside a Tokio runtime (uploads spawn their part transfers).
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobStore({})", self.inner)
    }
}

impl BlobStore {
    /// Objects as files under `root`, created if missing (mode 0700 on unix: media of every
    /// workspace lives there). An existing folder keeps its permissions.
    pub fn local(root: &std::path::Path) -> Result<Self, BlobError> {
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(root)
            .map_err(|e| BlobError::Storage(format!("create the blob folder {}: {e}", root.display())))?;
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| BlobError::Storage(format!("open the blob folder: {e}")))?
            // Deleting the last object of a media folder removes the folder too.
            .with_automatic_cleanup(true);
        Ok(Self { inner: Arc::new(store) })
    }

    /// Objects in an S3-compatible bucket, which must already exist.
    pub fn s3(settings: &S3Settings) -> Result<Self, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_allow_http(settings.allow_http)
            .with_virtual_hosted_style_request(!settings.path_style);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        match (&settings.access_key_id, &settings.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder.with_access_key_id(id).with_secret_access_key(secret);
            }
            (None, None) => {}
            _ => {
                return Err(BlobError::Storage(
                    "S3 settings need both an access key id and a secret access key, or neither".into(),
                ));
            }
        }
        let store = builder.build().map_err(|e| BlobError::Storage(format!("configure S3: {e}")))?;
        Ok(Self { inner: Arc::new(store) })
    }

    /// Objects in memory, for tests and throwaway instances.
    pub fn in_memory() -> Self {
        Self { inner: Arc::new(InMemory::new()) }
    }

    /// Streams `body` into the object at `path`, encrypted when `key` is `Some`, and returns the
    /// plaintext byte count.
    ///
    /// The object appears only once the whole body is stored (multipart upload, completed at the
    /// end); if the body or the backend fails, or this future is dropped, the upload is aborted and
    /// whatever was at `path` before stays as it was. Memory stays bounded by a few upload parts
    /// (about 15 MiB) whatever the body's size. The caller limits the size.
    pub async fn put<S, E>(
        &self,
        path: &BlobPath,
        key: Option<&ContentKey>,
        body: S,
    ) -> Result<u64, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut writer = PartWriter::start(self.inner.as_ref(), path.object_path()).await?;
        match write_body(&mut writer, path, key, body).await {
            Ok(len) => {
                writer.finish().await?;
                Ok(len)
            }
            Err(e) => {
                writer.abort().await;
                Err(e)
            }
        }
    }

    /// Streams the object back, decrypted and verified when `key` is `Some`.
    ///
    /// Bytes are yielded only after their chunk's tag verified; an object that was altered,
    /// truncated, reordered, sealed under another key or moved from another path yields an `Err`
    /// item (after which the stream ends), never wrong bytes. A consumer that has already sent
    /// earlier chunks on (an HTTP response, say) must abort what it was sending.
    pub async fn get(
        &self,
        path: &BlobPath,
        key: Option<&ContentKey>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        let opener = key.map(|key| Opener::new(key, path)).transpose()?;
        let stored = self.inner.get(path.object_path()).await.map_err(|e| BlobError::storage("get", e))?;
        let stored = stored.into_stream();
        Ok(match opener {
            None => stored.map_err(|e| BlobError::storage("read", e)).boxed(),
            Some(opener) => opened(stored, opener),
        })
    }

    /// Removes the object; one that is already gone is fine.
    pub async fn delete(&self, path: &BlobPath) -> Result<(), BlobError> {
        match self.inner.delete(path.object_path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::storage("delete", e)),
        }
    }

    /// Removes every object below `prefix` (whole path parts: `ws_1` does not cover `ws_10/…`),
    /// e.g. all media of a deleted workspace.
    pub async fn delete_prefix(&self, prefix: &BlobPath) -> Result<(), BlobError> {
        let locations = self.inner.list(Some(prefix.object_path())).map_ok(|meta| meta.location).boxed();
        let mut deleted = self.inner.delete_stream(locations);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(BlobError::storage("delete", e)),
            }
        }
        Ok(())
    }

    pub async fn exists(&self, path: &BlobPath) -> Result<bool, BlobError> {
        match self.inner.head(path.object_path()).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(BlobError::storage("head", e)),
        }
    }
}

/// Feeds the body through the sealer (if any) into the upload; returns the plaintext length.
async fn write_body<S, E>(
    writer: &mut PartWriter,
    path: &BlobPath,
    key: Option<&ContentKey>,
    body: S,
) -> Result<u64, BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut sealer = match key {
        None => None,
        Some(key) => {
            let (sealer, header) = Sealer::new(key, path)?;
            writer.write(header).await?;
            Some(sealer)
        }
    };
    let mut len = 0u64;
    while let Some(item) = body.next().await {
        let bytes = item.map_err(|e| BlobError::Body(e.to_string()))?;
        len += bytes.len() as u64;
        let Some(sealer) = sealer.as_mut() else {
            writer.write(bytes).await?;
            continue;
        };
        sealer.push(&bytes);
        while let Some(sealed) = sealer.next_sealed()? {
            writer.write(sealed).await?;
        }
    }
    if let Some(sealer) = sealer {
        writer.write(sealer.finish()?).await?;
    }
    Ok(len)
}

/// The plaintext of a stored encrypted object, chunk by verified chunk; ends after the first error.
fn opened(
    stored: BoxStream<'static, object_store::Result<Bytes>>,
    opener: Opener,
) -> BoxStream<'static, Result<Bytes, BlobError>> {
    stream::unfold(Some((stored, opener)), |state| async move {
        let (mut stored, mut opener) = state?;
        loop {
            match opener.next_opened() {
                Ok(Some(plain)) => return Some((Ok(plain), Some((stored, opener)))),
                Ok(None) => {}
                Err(e) => return Some((Err(e), None)),
            }
            match stored.next().await {
                Some(Ok(bytes)) => opener.push(&bytes),
                Some(Err(e)) => return Some((Err(BlobError::storage("read", e)), None)),
                None => {
                    return match opener.finish() {
                        Ok(last) if last.is_empty() => None,
                        last => Some((last, None)),
                    };
                }
            }
        }
    })
    .boxed()
}
