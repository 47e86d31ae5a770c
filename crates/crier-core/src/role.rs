//! What each member of a workspace may do. This file is the one place that decides it; the
//! table in docs/PEOPLE.md mirrors [`Role::permits`], and a test over HTTP checks that they agree.

use std::fmt;
use std::str::FromStr;

use crate::{Scope, ScopeSet};

/// A person's role in one workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

/// Something a person may be allowed to do: everything an API key scope covers, plus the
/// workspace's people and security, which no API key can touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    Scope(Scope),
    /// Invite people, change roles (never to or from owner), remove members.
    ManageMembers,
    /// Promote to or demote from owner; require two-factor sign-in for everyone.
    ManageOwnersAndSecurity,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    /// The whole authorization table for people.
    pub fn permits(self, permission: Permission) -> bool {
        use Scope as S;
        match self {
            Role::Owner => true,
            Role::Admin => !matches!(permission, Permission::ManageOwnersAndSecurity),
            // Members publish: they write posts and media and read the rest that publishing needs.
            Role::Member => matches!(
                permission,
                Permission::Scope(
                    S::PostsRead
                        | S::PostsWrite
                        | S::ChannelsRead
                        | S::MediaRead
                        | S::MediaWrite
                        | S::EventsRead
                )
            ),
            Role::Viewer => matches!(
                permission,
                Permission::Scope(S::PostsRead | S::ChannelsRead | S::MediaRead | S::EventsRead)
            ),
        }
    }

    /// The API scopes a signed-in person of this role acts with.
    pub fn scopes(self) -> ScopeSet {
        Scope::ALL.into_iter().filter(|scope| self.permits(Permission::Scope(*scope))).collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; one of owner, admin, member, viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|role| role.as_str() == s).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_holds_at_most_what_the_one_above_holds() {
        let all_permissions = Scope::ALL
            .into_iter()
            .map(Permission::Scope)
            .chain([Permission::ManageMembers, Permission::ManageOwnersAndSecurity]);
        for permission in all_permissions {
            for pair in Role::ALL.windows(2) {
                assert!(
                    pair[0].permits(permission) || !pair[1].permits(permission),
                    "{} may {permission:?} but {} may not",
                    pair[1],
                    pair[0]
                );
            }
        }
        assert!(Role::Viewer.scopes().iter().all(|scope| scope.as_str().ends_with(":read")));
        assert!(!Role::Member.permits(Permission::Scope(Scope::KeysAdmin)));
        assert!(!Role::Admin.permits(Permission::ManageOwnersAndSecurity));
    }

    #[test]
    fn roles_round_trip_through_text() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
