//! Publishing: each image through the Images API
//! (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api:
//! `initializeUpload`, then a `PUT` of the bytes to the URL it names), then one `POST /rest/posts`
//! whose id comes back in `x-restli-id`.

use crier_core::MediaId;
use serde::Deserialize;
use serde_json::{Value, json};

use super::oauth::Tokens;
use super::{LinkedIn, escape_little};
use crate::provider::{ProviderError, PublishRequest, Published};

#[derive(Deserialize)]
struct Initialized {
    value: UploadTarget,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadTarget {
    upload_url: String,
    image: String,
}

impl LinkedIn {
    pub(super) async fn create_post(
        &self,
        request: &PublishRequest<'_>,
        tokens: &Tokens,
        visibility: &str,
    ) -> Result<Published, ProviderError> {
        let mut images = Vec::with_capacity(request.media.len());
        for id in request.media {
            images.push(self.upload_image(request, tokens, *id).await?);
        }
        let mut body = json!({
            "author": tokens.author,
            "commentary": escape_little(request.text),
            "visibility": visibility,
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        match images.as_slice() {
            [] => {}
            [one] => body["content"] = json!({"media": one}),
            many => body["content"] = json!({"multiImage": {"images": many}}),
        }
        // learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api#create-a-post
        let url = self.settings.api("/rest/posts");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| self.rest(b, &tokens.access_token).json(&body))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let urn = call
            .reply
            .headers
            .get("x-restli-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::Retryable {
                after: None,
                message: "LinkedIn accepted the post without naming it (no x-restli-id)".into(),
            })?;
        let url = format!("https://www.linkedin.com/feed/update/{urn}/");
        Ok(Published { provider_post_id: urn, url: Some(url) })
    }

    /// One image: an upload URL and image URN owned by the author, then the bytes.
    async fn upload_image(
        &self,
        request: &PublishRequest<'_>,
        tokens: &Tokens,
        id: MediaId,
    ) -> Result<Value, ProviderError> {
        let file = self.platform.media.load(request.channel.workspace_id, id).await?;
        // learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api#initialize-image-upload
        let url = self.settings.api("/rest/images?action=initializeUpload");
        let body = json!({"initializeUploadRequest": {"owner": tokens.author}});
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| self.rest(b, &tokens.access_token).json(&body))
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let target: Initialized = call.json()?;
        // learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api#upload-the-image
        let mime = file.mime().to_owned();
        let call = self
            .platform
            .call(reqwest::Method::PUT, &target.value.upload_url, |b| {
                b.bearer_auth(&tokens.access_token)
                    .header(reqwest::header::CONTENT_TYPE, mime)
                    .body(file.bytes)
            })
            .await?;
        if !call.ok() {
            return Err(self.failure(&call));
        }
        let mut image = json!({"id": target.value.image});
        if let Some(alt) = file.media.alt_text.as_deref().filter(|a| !a.trim().is_empty()) {
            // LinkedIn takes up to 4,086 characters of alt text.
            image["altText"] = json!(alt.chars().take(4_086).collect::<String>());
        }
        Ok(image)
    }
}
