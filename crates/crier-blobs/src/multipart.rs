//! Multipart uploads with bounded memory that never leave a half-written object behind.
//!
//! Like `object_store`'s `WriteMultipart`, parts upload on spawned tasks while the body is still
//! being read. Unlike it, every way out that does not complete the upload aborts it, including a
//! failed part and a dropped future (a client that disconnects mid-upload): on S3 an unaborted
//! upload keeps its parts, billed and invisible, until a lifecycle rule reaps them.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStore, PutMultipartOptions, PutPayloadMut};
use tokio::task::JoinSet;

use crate::BlobError;

/// S3's smallest allowed part (except the last).
const PART_LEN: usize = 5 * 1024 * 1024;
/// Parts uploading at once. Memory per upload stays near `(MAX_PARTS_IN_FLIGHT + 1) * PART_LEN`.
const MAX_PARTS_IN_FLIGHT: usize = 2;

pub(crate) struct PartWriter {
    /// `None` once the upload completed or was aborted; `Drop` aborts it otherwise.
    upload: Option<Box<dyn MultipartUpload>>,
    buffer: PutPayloadMut,
    parts: JoinSet<object_store::Result<()>>,
}

impl PartWriter {
    pub(crate) async fn start(store: &dyn ObjectStore, path: &Path) -> Result<Self, BlobError> {
        let upload = store
            .put_multipart_opts(path, PutMultipartOptions::default())
            .await
            .map_err(|e| BlobError::storage("start upload", e))?;
        Ok(Self { upload: Some(upload), buffer: PutPayloadMut::new(), parts: JoinSet::new() })
    }

    /// Buffers `bytes`, sending each full part; waits while too many parts are in flight, so a fast
    /// body cannot outrun a slow backend.
    pub(crate) async fn write(&mut self, mut bytes: Bytes) -> Result<(), BlobError> {
        while !bytes.is_empty() {
            let room = PART_LEN - self.buffer.content_length();
            if bytes.len() < room {
                self.buffer.push(bytes);
                return Ok(());
            }
            self.buffer.push(bytes.split_to(room));
            self.send_part().await?;
        }
        Ok(())
    }

    /// Sends the last part and completes the upload; on any failure the upload is aborted.
    pub(crate) async fn finish(mut self) -> Result<(), BlobError> {
        let result = self.complete().await;
        if result.is_err() {
            self.abort_upload().await;
        }
        result
    }

    pub(crate) async fn abort(mut self) {
        self.abort_upload().await;
    }

    async fn complete(&mut self) -> Result<(), BlobError> {
        if !self.buffer.is_empty() {
            self.send_part().await?;
        }
        self.wait_for_parts(0).await?;
        let upload = self.upload.as_mut().ok_or_else(already_ended)?;
        upload.complete().await.map_err(|e| BlobError::storage("complete upload", e))?;
        self.upload = None;
        Ok(())
    }

    async fn send_part(&mut self) -> Result<(), BlobError> {
        self.wait_for_parts(MAX_PARTS_IN_FLIGHT - 1).await?;
        let part = std::mem::take(&mut self.buffer).freeze();
        let upload = self.upload.as_mut().ok_or_else(already_ended)?;
        self.parts.spawn(upload.put_part(part));
        Ok(())
    }

    /// Waits until at most `in_flight` parts are still uploading.
    async fn wait_for_parts(&mut self, in_flight: usize) -> Result<(), BlobError> {
        while self.parts.len() > in_flight {
            match self.parts.join_next().await {
                Some(Ok(Ok(()))) | None => {}
                Some(Ok(Err(e))) => return Err(BlobError::storage("upload part", e)),
                Some(Err(e)) => return Err(BlobError::Storage(format!("upload part: {e}"))),
            }
        }
        Ok(())
    }

    async fn abort_upload(&mut self) {
        self.parts.shutdown().await;
        let Some(mut upload) = self.upload.take() else { return };
        if let Err(e) = upload.abort().await {
            tracing::warn!(error = %e, "could not abort a multipart upload; its parts may linger");
        }
    }
}

fn already_ended() -> BlobError {
    BlobError::Storage("the upload already ended".into())
}

impl Drop for PartWriter {
    fn drop(&mut self) {
        let Some(mut upload) = self.upload.take() else { return };
        self.parts.abort_all();
        // Aborting is async; outside a runtime there is nothing to run it on, and the backend's
        // own cleanup (the local store's staging-file drop, an S3 lifecycle rule) has to do.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = upload.abort().await {
                    tracing::warn!(error = %e, "could not abort a dropped multipart upload");
                }
            });
        }
    }
}
