//! Identifier newtypes. Each is a ULID (time-ordered, 128 bits) stored as a UUID, and written
//! with a type prefix (`ws_…`, `key_…`) so an id pasted in the wrong place is caught at once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id (expected `{prefix}_` followed by 26 characters)")]
pub struct IdParseError {
    pub kind: &'static str,
    pub prefix: &'static str,
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(Ulid::new().into())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let ulid = Ulid::from(self.0).to_string().to_ascii_lowercase();
                write!(f, "{}_{}", $prefix, ulid)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = IdParseError { kind: $kind, prefix: $prefix };
                let rest = s
                    .strip_prefix($prefix)
                    .and_then(|r| r.strip_prefix('_'))
                    .ok_or_else(|| err.clone())?;
                if rest.len() != 26 {
                    return Err(err);
                }
                let ulid = Ulid::from_string(rest).map_err(|_| err)?;
                Ok(Self(ulid.into()))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// A workspace: the tenant boundary.
    WorkspaceId, "ws", "workspace"
);
prefixed_id!(
    /// An API key's public identifier (never the secret itself).
    ApiKeyId, "key", "API key"
);

prefixed_id!(
    /// A sealed secret held in the vault.
    SecretId, "sec", "secret"
);
prefixed_id!(
    /// One entry of the audit log.
    AuditEventId, "aud", "audit event"
);

prefixed_id!(
    /// A connected account (or the sandbox) that posts go to.
    ChannelId, "chan", "channel"
);
prefixed_id!(
    /// A post: one text, published to one or more channels.
    PostId, "post", "post"
);
prefixed_id!(
    /// One post on one channel: the unit the queue publishes.
    TargetId, "tgt", "post target"
);
prefixed_id!(
    /// One try at publishing a target, written before the provider is called.
    AttemptId, "att", "publish attempt"
);

prefixed_id!(
    /// A URL that receives the workspace's events, signed.
    WebhookEndpointId, "ep", "webhook endpoint"
);
prefixed_id!(
    /// One event on its way to one endpoint; its text form is the `webhook-id` header, the same
    /// on every retry.
    DeliveryId, "msg", "webhook delivery"
);

prefixed_id!(
    /// An image or video stored for posts, or an upload of one still under way.
    MediaId, "med", "media"
);
prefixed_id!(
    /// A channel connection under way (the user is at the platform's consent page).
    ConnectFlowId, "cnf", "connect flow"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_string_form() {
        let id = WorkspaceId::generate();
        let text = id.to_string();
        assert!(text.starts_with("ws_"), "{text}");
        assert_eq!(text.len(), 29);
        assert_eq!(text.parse::<WorkspaceId>(), Ok(id));
    }

    #[test]
    fn refuses_wrong_prefix_and_garbage() {
        let key = ApiKeyId::generate().to_string();
        assert!(key.parse::<WorkspaceId>().is_err());
        for bad in ["", "ws_", "ws_123", "ws-01hzzzzzzzzzzzzzzzzzzzzzzz", "ws_!!!!!!!!!!!!!!!!!!!!!!!!!!"] {
            assert!(bad.parse::<WorkspaceId>().is_err(), "{bad}");
        }
    }
}
