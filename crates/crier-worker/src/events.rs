//! The event each outcome emits (for webhooks and the live stream, later issues).

use crier_core::{AttemptOutcome, ClaimedJob, NewEvent};
use serde_json::json;

/// `known_refused`: the channel was already marked `needs_reauth` (before this batch, or by an
/// earlier job of it), so this target's failure is a `post.failed`, and `channel.needs_reauth`
/// is said once, when the channel changes.
pub(crate) fn for_outcome(
    claimed: &ClaimedJob,
    outcome: &AttemptOutcome,
    known_refused: bool,
) -> Option<NewEvent> {
    let target = &claimed.target;
    let base = json!({
        "post_id": target.post_id.to_string(),
        "target_id": target.id.to_string(),
        "channel_id": target.channel_id.to_string(),
        "attempt": target.attempts,
    });
    let with = |extra: serde_json::Value| {
        let mut data = base.clone();
        if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
            data.extend(extra.clone());
        }
        data
    };
    let (kind, data) = match outcome {
        AttemptOutcome::Published { provider_post_id, url } => {
            ("post.published", with(json!({"provider_post_id": provider_post_id, "url": url})))
        }
        AttemptOutcome::RetryAt { at, code, message } => (
            "post.target.retry_scheduled",
            with(json!({"next_attempt_at": at, "error": {"code": code, "message": message}})),
        ),
        AttemptOutcome::RateLimited { .. } => return None,
        AttemptOutcome::Failed { code, message } => {
            ("post.failed", with(json!({"error": {"code": code, "message": message}})))
        }
        AttemptOutcome::NeedsReauth { message } => (
            if known_refused { "post.failed" } else { "channel.needs_reauth" },
            with(json!({"error": {"code": "channel_needs_reauth", "message": message}})),
        ),
        AttemptOutcome::Unknown { message } => {
            ("post.target.unknown", with(json!({"error": {"code": "outcome_unknown", "message": message}})))
        }
    };
    Some(NewEvent { kind, subject: target.id.to_string(), data })
}
