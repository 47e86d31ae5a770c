//! What the Images API and the Videos API share: an `initializeUpload` action answering
//! `{"value": …}` with where to send the bytes, and `PUT`s of the bytes to the URLs it named.
//! Images (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api)
//! take one `PUT`; videos (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api)
//! one per part, each answered with the `etag` that finalizes the upload.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::LinkedIn;
use crate::PlatformCall;
use crate::provider::ProviderError;

/// Every `initializeUpload` answer.
#[derive(Deserialize)]
struct Initialized<T> {
    value: T,
}

impl LinkedIn {
    /// `POST /rest/{api}?action=initializeUpload` with `{"initializeUploadRequest": request}`
    /// (`api` is `images` or `videos`, whose pages are named above); LinkedIn's `value`.
    pub(super) async fn initialize_upload<T: DeserializeOwned>(
        &self,
        api: &str,
        request: Value,
        token: &str,
    ) -> Result<T, ProviderError> {
        let url = self.settings.api(&format!("/rest/{api}?action=initializeUpload"));
        let body = json!({"initializeUploadRequest": request});
        let call =
            self.platform.call(reqwest::Method::POST, &url, |b| self.rest(b, token).json(&body)).await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        Ok(call.json::<Initialized<T>>()?.value)
    }

    /// A `PUT` of bytes to an upload URL `initializeUpload` named, with the member's token as
    /// LinkedIn's examples send it. The answer is kept for its headers (a video part's `etag`).
    pub(super) async fn put_upload(
        &self,
        url: &str,
        token: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<PlatformCall, ProviderError> {
        let call = self
            .platform
            .call(reqwest::Method::PUT, url, |b| {
                b.bearer_auth(token).header(reqwest::header::CONTENT_TYPE, content_type).body(bytes)
            })
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        Ok(call)
    }
}
