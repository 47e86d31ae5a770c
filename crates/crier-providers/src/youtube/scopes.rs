//! Which Google scopes Crier asks for, and whether a grant allows deleting videos.
//!
//! Publishing needs `youtube.upload` and `youtube.readonly` only. `videos.delete`
//! (developers.google.com/youtube/v3/docs/videos/delete) takes `youtube`, `youtube.force-ssl` or
//! `youtubepartner`, each of which lets the app manage the whole YouTube account: Crier asks for
//! `youtube.force-ssl` only when the deployment opts in (`YouTubeSettings::delete_videos`).
//! The scopes Google actually granted (the token answer's `scope`, space-separated,
//! developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code) are
//! kept in the channel's config at connect, since a user may untick one on the consent page.

/// Uploading videos.
pub(super) const UPLOAD: &str = "https://www.googleapis.com/auth/youtube.upload";
/// Reading which channel the account has.
pub(super) const READONLY: &str = "https://www.googleapis.com/auth/youtube.readonly";
/// Asked for deleting videos, when the deployment opts in.
pub(super) const FORCE_SSL: &str = "https://www.googleapis.com/auth/youtube.force-ssl";
/// Any of these allows `videos.delete`.
const DELETE_ALLOWED: [&str; 3] =
    [FORCE_SSL, "https://www.googleapis.com/auth/youtube", "https://www.googleapis.com/auth/youtubepartner"];

/// The config key holding the granted scopes.
pub(super) const GRANTED_KEY: &str = "granted_scopes";

/// The `scope` parameter of the consent page.
pub(super) fn requested(delete_videos: bool) -> String {
    let mut scopes = vec![UPLOAD, READONLY];
    if delete_videos {
        scopes.push(FORCE_SSL);
    }
    scopes.join(" ")
}

/// Google's space-separated `scope`, as a list.
pub(super) fn parse(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

/// Whether one of these scopes allows `videos.delete`.
pub(super) fn allow_delete<'a>(mut granted: impl Iterator<Item = &'a str>) -> bool {
    granted.any(|scope| DELETE_ALLOWED.contains(&scope))
}

/// The scopes a channel's config says were granted at connect (none for channels connected
/// before Crier kept them).
pub(super) fn granted_in(config: &serde_json::Value) -> impl Iterator<Item = &str> {
    config[GRANTED_KEY].as_array().into_iter().flatten().filter_map(serde_json::Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_ssl_is_asked_only_when_opted_in() {
        assert_eq!(requested(false), format!("{UPLOAD} {READONLY}"));
        assert_eq!(requested(true), format!("{UPLOAD} {READONLY} {FORCE_SSL}"));
    }

    #[test]
    fn only_the_documented_scopes_allow_deleting() {
        assert!(!allow_delete([UPLOAD, READONLY].into_iter()));
        assert!(allow_delete([UPLOAD, FORCE_SSL].into_iter()));
        assert!(allow_delete(["https://www.googleapis.com/auth/youtube"].into_iter()));
        assert!(allow_delete(["https://www.googleapis.com/auth/youtubepartner"].into_iter()));
        assert!(!allow_delete(["https://www.googleapis.com/auth/youtube.force-ssl.extra"].into_iter()));
        let old = serde_json::json!({});
        assert!(!allow_delete(granted_in(&old)));
        let config = serde_json::json!({"granted_scopes": [UPLOAD, FORCE_SSL]});
        assert!(allow_delete(granted_in(&config)));
    }
}
