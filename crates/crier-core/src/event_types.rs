//! The catalogue of event types: what each means and the JSON schema of its `data`. Served at
//! `GET /v1/event-types` and checked by the tests against the events the pipeline writes.

use serde_json::{Value, json};

pub struct EventType {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON Schema (2020-12) of the event's `data`.
    pub schema: fn() -> Value,
}

fn error() -> Value {
    json!({
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}
    })
}

/// The fields every `post.*` event carries.
fn target(extra: Value, required: &[&str]) -> Value {
    let mut properties = json!({
        "post_id": {"type": "string", "pattern": "^post_"},
        "target_id": {"type": "string", "pattern": "^tgt_"},
        "channel_id": {"type": "string", "pattern": "^chan_"},
        "attempt": {"type": "integer", "minimum": 0}
    });
    if let (Some(properties), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        properties.extend(extra.clone());
    }
    let mut all = vec!["post_id", "target_id", "channel_id"];
    all.extend_from_slice(required);
    json!({"type": "object", "required": all, "properties": properties})
}

pub const EVENT_TYPES: &[EventType] = &[
    EventType {
        name: "post.published",
        description: "A post's target was published on its channel.",
        schema: || {
            target(
                json!({"provider_post_id": {"type": "string"}, "url": {"type": ["string", "null"]}}),
                &["attempt", "provider_post_id"],
            )
        },
    },
    EventType {
        name: "post.failed",
        description: "A post's target failed for good (rejected, or out of attempts).",
        schema: || target(json!({"error": error()}), &["attempt", "error"]),
    },
    EventType {
        name: "post.target.retry_scheduled",
        description: "An attempt failed in a way worth retrying; the next one is scheduled.",
        schema: || {
            target(
                json!({"next_attempt_at": {"type": "string", "format": "date-time"}, "error": error()}),
                &["attempt", "next_attempt_at", "error"],
            )
        },
    },
    EventType {
        name: "post.target.unknown",
        description: "An interrupted attempt whose outcome the platform cannot tell; it is not re-sent.",
        schema: || target(json!({"error": error()}), &["attempt", "error"]),
    },
    EventType {
        name: "post.target.cancelled",
        description: "A target was cancelled before it started.",
        schema: || target(json!({"status": {"const": "cancelled"}}), &["status"]),
    },
    EventType {
        name: "post.target.retried",
        description: "A failed (or, once confirmed, unknown) target was queued again on request, with a \
                      fresh attempt budget.",
        schema: || {
            target(
                json!({"previous_status": {"enum": ["failed", "unknown"]}, "status": {"const": "queued"}}),
                &["previous_status", "status"],
            )
        },
    },
    EventType {
        name: "post.target.deleted",
        description: "A published target was deleted from its platform, on request.",
        schema: || target(json!({"provider_post_id": {"type": "string"}}), &["provider_post_id"]),
    },
    EventType {
        name: "post.target.deletion_failed",
        description: "Deleting a published target from its platform failed for good; it is still \
                      published there, and the deletion may be asked for again.",
        schema: || target(json!({"error": error()}), &["error"]),
    },
    EventType {
        name: "channel.needs_reauth",
        description: "The platform refused the channel's token and a refresh did not help: reconnect it. \
                      Sent once, when the channel changes; its other targets then fail as post.failed.",
        schema: || target(json!({"error": error()}), &["error"]),
    },
    EventType {
        name: "channel.disconnected",
        description: "A channel was deleted; its sealed tokens are gone.",
        schema: || {
            json!({
                "type": "object",
                "required": ["channel_id", "provider"],
                "properties": {
                    "channel_id": {"type": "string", "pattern": "^chan_"},
                    "provider": {"type": "string"}
                }
            })
        },
    },
    EventType {
        name: "channel.deauthorized",
        description: "The platform said the user removed Crier's app (`reason` deauthorized) or asked for their \
                      data to be deleted (`reason` data_deletion): the channel's sealed tokens are deleted and it \
                      needs to be reconnected.",
        schema: || {
            json!({
                "type": "object",
                "required": ["channel_id", "provider", "reason"],
                "properties": {
                    "channel_id": {"type": "string", "pattern": "^chan_"},
                    "provider": {"type": "string"},
                    "reason": {"enum": ["deauthorized", "data_deletion"]}
                }
            })
        },
    },
    EventType {
        name: "webhook.endpoint.disabled",
        description: "Crier disabled an endpoint: it answered 410 Gone, or failed for too long.",
        schema: || {
            json!({
                "type": "object",
                "required": ["endpoint_id", "reason"],
                "properties": {
                    "endpoint_id": {"type": "string", "pattern": "^ep_"},
                    "reason": {"enum": ["gone", "failing"]},
                    "url": {"type": "string"}
                }
            })
        },
    },
    EventType {
        name: "ping",
        description: "A test event sent to one endpoint on request.",
        schema: || {
            json!({
                "type": "object",
                "required": ["endpoint_id"],
                "properties": {"endpoint_id": {"type": "string", "pattern": "^ep_"}}
            })
        },
    },
];

pub fn find(name: &str) -> Option<&'static EventType> {
    EVENT_TYPES.iter().find(|t| t.name == name)
}
