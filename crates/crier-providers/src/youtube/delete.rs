//! `videos.delete` (developers.google.com/youtube/v3/docs/videos/delete):
//! `DELETE /youtube/v3/videos?id={id}` with a token granted `youtube.force-ssl` (or `youtube`,
//! `youtubepartner`), answered `204 No Content`. Its documented errors: 404 `videoNotFound` (the
//! video is gone: deleted, as asked) and 403 `forbidden` (this video cannot be deleted with this
//! grant). A token without one of those scopes is refused 403 `insufficientPermissions`.

use super::errors::google_error;
use super::{YouTube, scopes};
use crate::provider::{DeleteRequest, ProviderError};

/// YouTube's video ids: letters, digits, `-` and `_`.
fn is_video_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn not_granted() -> ProviderError {
    ProviderError::Rejected {
        code: "delete_not_granted".into(),
        message: "this YouTube channel's grant does not allow deleting videos: start Crier with \
                  --youtube-delete and reconnect the channel (Google then asks for the \
                  youtube.force-ssl scope)"
            .into(),
    }
}

impl YouTube {
    pub(super) async fn delete_video(&self, request: &DeleteRequest<'_>) -> Result<(), ProviderError> {
        let id = request.provider_post_id;
        if !is_video_id(id) {
            return Err(ProviderError::Rejected {
                code: "invalid_provider_post_id".into(),
                message: format!("{id:?} is not a YouTube video id"),
            });
        }
        if !crate::Provider::can_delete(self, request.channel) {
            return Err(not_granted());
        }
        let tokens = self.usable_tokens(request.channel).await?;
        // The grant as Google last described it (a refresh may say less than the connection did).
        if let Some(scope) = &tokens.scope
            && !scopes::allow_delete(scope.split_whitespace())
        {
            return Err(not_granted());
        }
        let url = self.settings.api(&format!("/youtube/v3/videos?id={id}"));
        let call = self
            .platform
            .call(reqwest::Method::DELETE, &url, |b| b.bearer_auth(&tokens.access_token))
            .await?;
        if call.ok() {
            return Ok(());
        }
        let reason = google_error(&call).reason;
        match (call.reply.status, reason.as_deref()) {
            // Already gone: a repeated deletion is harmless.
            (404, Some("videoNotFound")) => Ok(()),
            // Refreshing would not add a scope: only reconnecting does.
            (403, Some("insufficientPermissions" | "ACCESS_TOKEN_SCOPE_INSUFFICIENT")) => Err(not_granted()),
            _ => Err(self.failure(&call)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_ids_are_checked_before_they_reach_a_url() {
        assert!(is_video_id("dQw4w9WgXcQ"));
        assert!(is_video_id("a-b_c"));
        assert!(!is_video_id(""));
        assert!(!is_video_id("abc&id=other"));
        assert!(!is_video_id("../channels"));
    }
}
