//! Channels, posts and their targets: what the publishing pipeline stores and moves through
//! its states.

use serde::{Deserialize, Serialize};

use crate::{AttemptId, ChannelId, MediaId, PostId, SecretId, TargetId, Timestamp, WorkspaceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    Active,
    /// The platform refused the token and a refresh did not help: the user must reconnect.
    NeedsReauth,
}

impl ChannelStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelStatus::Active => "active",
            ChannelStatus::NeedsReauth => "needs_reauth",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "active" => Some(ChannelStatus::Active),
            "needs_reauth" => Some(ChannelStatus::NeedsReauth),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub workspace_id: WorkspaceId,
    pub id: ChannelId,
    /// The provider's name (`sandbox`, later `bluesky`, `mastodon`…).
    pub provider: String,
    pub name: String,
    /// Provider-specific settings (never secrets: those are sealed in the vault).
    pub config: serde_json::Value,
    pub status: ChannelStatus,
    /// The platform account behind it, as the platform described it when it was connected.
    pub account: Option<ChannelAccount>,
    /// The sealed credentials (tokens, app or SMTP passwords); `None` for the sandbox. Opened
    /// only by the worker at the moment of use, and by disconnect to revoke them upstream.
    pub credentials: Option<SecretId>,
    /// No provider call for this channel before this time (a platform rate-limit reset).
    pub paused_until: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// Who a channel publishes as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAccount {
    /// The platform's stable id (a DID on Bluesky, an account id on Mastodon, an address for mail).
    pub id: String,
    /// The name people see and mention (`alice.bsky.social`, `alice@mastodon.social`).
    pub handle: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    Scheduled,
    Queued,
    Publishing,
    Published,
    RetryScheduled,
    Failed,
    Cancelled,
    /// An attempt's outcome could not be established; surfaced, never blindly re-sent.
    Unknown,
}

impl TargetStatus {
    pub const ALL: [TargetStatus; 8] = [
        TargetStatus::Scheduled,
        TargetStatus::Queued,
        TargetStatus::Publishing,
        TargetStatus::Published,
        TargetStatus::RetryScheduled,
        TargetStatus::Failed,
        TargetStatus::Cancelled,
        TargetStatus::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Scheduled => "scheduled",
            TargetStatus::Queued => "queued",
            TargetStatus::Publishing => "publishing",
            TargetStatus::Published => "published",
            TargetStatus::RetryScheduled => "retry_scheduled",
            TargetStatus::Failed => "failed",
            TargetStatus::Cancelled => "cancelled",
            TargetStatus::Unknown => "unknown",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    pub const fn is_final(self) -> bool {
        matches!(
            self,
            TargetStatus::Published | TargetStatus::Failed | TargetStatus::Cancelled | TargetStatus::Unknown
        )
    }

    /// Not yet handed to a worker, so it can still be cancelled.
    pub const fn is_waiting(self) -> bool {
        matches!(self, TargetStatus::Scheduled | TargetStatus::Queued | TargetStatus::RetryScheduled)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PostTarget {
    pub workspace_id: WorkspaceId,
    pub id: TargetId,
    pub post_id: PostId,
    pub channel_id: ChannelId,
    /// Overrides the post's text for this channel.
    pub text: Option<String>,
    pub options: serde_json::Value,
    pub status: TargetStatus,
    /// When a worker may next take it.
    pub run_at: Timestamp,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<Timestamp>,
    pub provider_post_id: Option<String>,
    pub url: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub published_at: Option<Timestamp>,
    /// Removing the published post from its platform, once asked for.
    pub deletion: Option<TargetDeletion>,
}

/// Where removing a published post from its platform stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionStatus {
    /// Queued, or being retried after a temporary failure.
    Pending,
    Deleted,
    /// Refused for good; it may be asked for again.
    Failed,
}

impl DeletionStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            DeletionStatus::Pending => "pending",
            DeletionStatus::Deleted => "deleted",
            DeletionStatus::Failed => "failed",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        [DeletionStatus::Pending, DeletionStatus::Deleted, DeletionStatus::Failed]
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetDeletion {
    pub status: DeletionStatus,
    pub requested_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
    /// The last attempt's error (a temporary one while pending, the final one when failed).
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub workspace_id: WorkspaceId,
    pub id: PostId,
    pub text: String,
    /// Ready media, in the order the post shows them.
    pub media: Vec<MediaId>,
    pub scheduled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub targets: Vec<PostTarget>,
}

/// A claimed target with what the worker needs to publish it.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub target: PostTarget,
    pub post_text: String,
    pub post_media: Vec<MediaId>,
    pub channel: Channel,
    /// The attempt row written with the claim, before any provider call.
    pub attempt_id: AttemptId,
}

/// One try at publishing a target, as recorded: a line of the post's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishAttempt {
    pub id: AttemptId,
    pub target_id: TargetId,
    pub started_at: Timestamp,
    /// None while the attempt is under way (or was interrupted and awaits reconciliation).
    pub finished_at: Option<Timestamp>,
    /// `published`, `retry`, `rate_limited`, `failed`, `needs_reauth` or `unknown`; None while
    /// under way.
    pub outcome: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// How an attempt ended, as the worker records it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Published {
        provider_post_id: String,
        url: Option<String>,
    },
    RetryAt {
        at: Timestamp,
        code: String,
        message: String,
    },
    /// Rate limited: try again at `at` without counting this as a failure, and pause the channel.
    RateLimited {
        at: Timestamp,
    },
    Failed {
        code: String,
        message: String,
    },
    /// Failed because the channel needs re-authorisation (also marks the channel).
    NeedsReauth {
        message: String,
    },
    Unknown {
        message: String,
    },
}

/// An event for webhooks and the live stream, written in the same transaction as its cause.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: &'static str,
    pub subject: String,
    pub data: serde_json::Value,
}
