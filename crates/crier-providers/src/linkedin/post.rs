//! Publishing: the post's media first (images through the Images API, a video through the Videos
//! API, see `video.rs`), then one `POST /rest/posts` whose id comes back in `x-restli-id`.

use crier_core::MediaKind;
use serde::Deserialize;
use serde_json::{Value, json};

use super::oauth::Tokens;
use super::{LinkedIn, escape_little};
use crate::MediaFile;
use crate::provider::{ProviderError, PublishRequest, Published};

/// What the Images API's `initializeUpload` answers.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageUpload {
    upload_url: String,
    image: String,
}

fn is_video(file: &MediaFile) -> bool {
    file.media.facts.as_ref().is_some_and(|f| f.kind == MediaKind::Video)
}

impl LinkedIn {
    pub(super) async fn create_post(
        &self,
        request: &PublishRequest<'_>,
        tokens: &Tokens,
        visibility: &str,
    ) -> Result<Published, ProviderError> {
        let mut files = Vec::with_capacity(request.media.len());
        for id in request.media {
            files.push(self.platform.media.load(request.channel.workspace_id, *id).await?);
        }
        let content = self.upload_media(tokens, files).await?;
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
        if let Some(content) = content {
            body["content"] = content;
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

    /// The post's `content`: one image as `media`, two to twenty as `multiImage`, one video as
    /// `media` (learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api).
    /// A video beside anything else is refused here too, though acceptance refuses it first.
    async fn upload_media(
        &self,
        tokens: &Tokens,
        mut files: Vec<MediaFile>,
    ) -> Result<Option<Value>, ProviderError> {
        let videos = files.iter().filter(|f| is_video(f)).count();
        if videos > 0 && files.len() > 1 {
            return Err(ProviderError::Rejected {
                code: "media_mixed".into(),
                message: "LinkedIn takes up to twenty images or one video alone on a post".into(),
            });
        }
        if videos == 1 {
            let Some(file) = files.pop() else { return Ok(None) };
            return self.video_content(tokens, file).await.map(Some);
        }
        let mut images = Vec::with_capacity(files.len());
        for file in files {
            images.push(self.upload_image(tokens, file).await?);
        }
        Ok(match images.len() {
            0 => None,
            1 => images.pop().map(|one| json!({"media": one})),
            _ => Some(json!({"multiImage": {"images": images}})),
        })
    }

    /// One image: an upload URL and image URN owned by the author, then the bytes.
    async fn upload_image(&self, tokens: &Tokens, file: MediaFile) -> Result<Value, ProviderError> {
        // learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api#initialize-image-upload
        let target: ImageUpload =
            self.initialize_upload("images", json!({"owner": tokens.author}), &tokens.access_token).await?;
        // learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/images-api#upload-the-image
        let mime = file.mime().to_owned();
        let mut image = json!({"id": target.image});
        if let Some(alt) = file.media.alt_text.as_deref().filter(|a| !a.trim().is_empty()) {
            // LinkedIn takes up to 4,086 characters of alt text.
            image["altText"] = json!(alt.chars().take(4_086).collect::<String>());
        }
        self.put_upload(&target.upload_url, &tokens.access_token, &mime, file.bytes).await?;
        Ok(image)
    }
}
