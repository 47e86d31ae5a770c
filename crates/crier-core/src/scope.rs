//! What an API key may do. Scopes are coarse on purpose: one per resource and verb family.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    PostsRead,
    PostsWrite,
    ChannelsRead,
    ChannelsWrite,
    MediaRead,
    MediaWrite,
    WebhooksAdmin,
    KeysAdmin,
    AuditRead,
    EventsRead,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Scope::PostsRead,
        Scope::PostsWrite,
        Scope::ChannelsRead,
        Scope::ChannelsWrite,
        Scope::MediaRead,
        Scope::MediaWrite,
        Scope::WebhooksAdmin,
        Scope::KeysAdmin,
        Scope::AuditRead,
        Scope::EventsRead,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::PostsRead => "posts:read",
            Scope::PostsWrite => "posts:write",
            Scope::ChannelsRead => "channels:read",
            Scope::ChannelsWrite => "channels:write",
            Scope::MediaRead => "media:read",
            Scope::MediaWrite => "media:write",
            Scope::WebhooksAdmin => "webhooks:admin",
            Scope::KeysAdmin => "keys:admin",
            Scope::AuditRead => "audit:read",
            Scope::EventsRead => "events:read",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of scopes, written space-separated (as OAuth writes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    pub fn all() -> Self {
        Self(Scope::ALL.into_iter().collect())
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for ScopeSet {
    type Err = UnknownScope;

    /// Parses space- or comma-separated scopes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|part| !part.is_empty())
            .map(Scope::from_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_in_a_stable_order() {
        let set: ScopeSet = "keys:admin, posts:read".parse().expect("valid scopes");
        assert_eq!(set.to_string(), "posts:read keys:admin");
        assert!(set.contains(Scope::KeysAdmin));
        assert!(!set.contains(Scope::PostsWrite));
    }

    #[test]
    fn names_the_unknown_scope() {
        let err = "posts:read posts:delete".parse::<ScopeSet>().unwrap_err();
        assert_eq!(err, UnknownScope("posts:delete".into()));
    }
}
