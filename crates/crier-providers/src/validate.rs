//! Checks that every provider makes the same way: a channel config that must parse as the
//! provider's settings, and `options.thread`, the replies that follow a post.

use serde::de::DeserializeOwned;

use crate::TargetIssue;

/// The config parses as `T` (unknown fields refused by `T` itself), or one issue saying why.
pub(crate) fn config_issues<T: DeserializeOwned>(config: &serde_json::Value) -> Vec<TargetIssue> {
    match serde_json::from_value::<T>(config.clone()) {
        Ok(_) => Vec::new(),
        Err(err) => vec![TargetIssue::new("", err.to_string())],
    }
}

/// At most `max_replies` replies, each with some text and without the `problem` the platform's
/// counting finds (its message, at `/options/thread/{i}`).
pub(crate) fn thread_issues(
    thread: &[String],
    max_replies: usize,
    problem: impl Fn(&str) -> Option<String>,
) -> Vec<TargetIssue> {
    let mut issues = Vec::new();
    if thread.len() > max_replies {
        issues.push(TargetIssue::new(
            "/options/thread",
            format!("at most {max_replies} replies in one thread"),
        ));
    }
    for (i, reply) in thread.iter().enumerate() {
        let message =
            if reply.trim().is_empty() { Some("a reply needs a text".to_owned()) } else { problem(reply) };
        if let Some(message) = message {
            issues.push(TargetIssue::new(&format!("/options/thread/{i}"), message));
        }
    }
    issues
}
