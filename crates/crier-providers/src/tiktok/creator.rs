//! The creator's settings, queried before each post
//! (developers.tiktok.com/doc/content-posting-api-reference-query-creator-info), and the post's
//! `post_info` checked against them as TikTok's guidelines ask
//! (developers.tiktok.com/doc/content-sharing-guidelines): a privacy level the creator is offered,
//! a video no longer than the creator may post, comments, duets and stitches off where the
//! creator has turned them off.

use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::tiktok_error;
use super::{TikTok, TikTokOptions};
use crate::MediaFile;
use crate::provider::ProviderError;

#[derive(Deserialize)]
struct CreatorReply {
    data: Creator,
}

#[derive(Debug, Deserialize)]
pub(super) struct Creator {
    #[serde(default)]
    pub creator_username: Option<String>,
    #[serde(default)]
    pub privacy_level_options: Vec<String>,
    #[serde(default)]
    pub comment_disabled: bool,
    #[serde(default)]
    pub duet_disabled: bool,
    #[serde(default)]
    pub stitch_disabled: bool,
    #[serde(default)]
    pub max_video_post_duration_sec: Option<u64>,
}

impl Creator {
    /// The Direct Post `post_info`, or why this creator cannot post it.
    pub(super) fn post_info(
        &self,
        options: &TikTokOptions,
        caption: &str,
        file: &MediaFile,
    ) -> Result<Value, ProviderError> {
        let level = options.privacy_level.as_deref().unwrap_or_default();
        if !self.privacy_level_options.iter().any(|o| o == level) {
            return Err(ProviderError::Rejected {
                code: "privacy_level_option_mismatch".into(),
                message: format!(
                    "this TikTok account may post as {} only, not {level} (apps TikTok has not \
                     audited may only post SELF_ONLY)",
                    self.privacy_level_options.join(", ")
                ),
            });
        }
        let duration_ms = file.media.facts.as_ref().and_then(|f| f.duration_ms);
        if let (Some(max), Some(ms)) = (self.max_video_post_duration_sec, duration_ms)
            && ms > max * 1000
        {
            return Err(ProviderError::Rejected {
                code: "duration_too_long".into(),
                message: format!(
                    "the video lasts {:.1} s; this TikTok account may post videos of at most {max} s",
                    ms as f64 / 1000.0
                ),
            });
        }
        let mut info = json!({
            "title": caption,
            "privacy_level": level,
            "disable_comment": options.disable_comment || self.comment_disabled,
            "disable_duet": options.disable_duet || self.duet_disabled,
            "disable_stitch": options.disable_stitch || self.stitch_disabled,
        });
        if let Some(at) = options.video_cover_timestamp_ms {
            info["video_cover_timestamp_ms"] = json!(at);
        }
        Ok(info)
    }
}

impl TikTok {
    /// `POST /v2/post/publish/creator_info/query/`.
    pub(super) async fn creator_info(&self, token: &str) -> Result<Creator, ProviderError> {
        // developers.tiktok.com/doc/content-posting-api-reference-query-creator-info
        let url = self.settings.api("/v2/post/publish/creator_info/query/");
        let call = self
            .platform
            .call(reqwest::Method::POST, &url, |b| {
                b.bearer_auth(token).header(reqwest::header::CONTENT_TYPE, "application/json; charset=UTF-8")
            })
            .await?;
        if tiktok_error(&call).is_some() {
            return Err(self.failure(&call));
        }
        Ok(call.json::<CreatorReply>()?.data)
    }
}
