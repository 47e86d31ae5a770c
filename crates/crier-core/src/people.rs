//! People signed in to the dashboard: server-side sessions, the second factor, and the failed
//! sign-ins that throttle guessing. Session ids, recovery codes and throttle subjects are stored
//! only as SHA-256 hashes; the TOTP secret is sealed in the vault. These tables are global: a
//! session is found by its hash before any tenant is known, and it names its workspace.

use async_trait::async_trait;
use chrono::Duration;

use crate::audit::NewAuditEvent;
use crate::{KeyHash, Role, SealedRow, SecretId, StoreResult, Timestamp, User, WorkspaceId};

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    /// A handle that is not the secret, for listing and revoking sessions.
    pub id: uuid::Uuid,
    /// SHA-256 of the cookie's value.
    pub token_hash: KeyHash,
    pub user_id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    /// The password was right and a second factor is still owed: such a session opens only the
    /// second-factor page.
    pub pending_second_factor: bool,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute end, however active the session is.
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Unused this long, a session ends.
    pub idle: Duration,
    /// Whatever its use, a session ends this long after sign-in.
    pub absolute: Duration,
    /// The time allowed between the password and the second factor.
    pub second_factor: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle: Duration::days(30), absolute: Duration::days(90), second_factor: Duration::minutes(10) }
    }
}

impl UserSession {
    /// Whether the session may still be used at `now`.
    pub fn is_live(&self, now: Timestamp, policy: &SessionPolicy) -> bool {
        let idle = if self.pending_second_factor { policy.second_factor } else { policy.idle };
        now < self.expires_at && now < self.last_seen_at + idle
    }
}

/// A user's membership of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub workspace_id: WorkspaceId,
    pub user_id: uuid::Uuid,
    pub email: String,
    pub role: Role,
    pub created_at: Timestamp,
}

/// A user's second factor: the sealed TOTP secret, where it is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpSecretRef {
    pub workspace_id: WorkspaceId,
    pub secret_id: SecretId,
}

/// A single-use, expiring invitation to join a workspace with a role. Only the hash of the
/// link's token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: uuid::Uuid,
    pub token_hash: KeyHash,
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub role: Role,
    pub invited_by: uuid::Uuid,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
}

/// Who accepts an invitation: a new person (created with it) or an existing account.
#[derive(Debug, Clone)]
pub enum Invitee<'a> {
    New(&'a User),
    Existing(uuid::Uuid),
}

#[async_trait]
pub trait PeopleStore {
    async fn get_user(&self, id: uuid::Uuid) -> StoreResult<Option<User>>;
    /// The user's role in `workspace`, if a member.
    async fn member_role(&self, workspace: WorkspaceId, user: uuid::Uuid) -> StoreResult<Option<Role>>;
    async fn list_members(&self, workspace: WorkspaceId) -> StoreResult<Vec<Membership>>;
    /// Changes a member's role (audited in the same transaction). `NotFound` if not a member.
    async fn set_member_role(
        &self,
        workspace: WorkspaceId,
        user: uuid::Uuid,
        role: Role,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;

    async fn insert_session(&self, session: &UserSession) -> StoreResult<()>;
    async fn find_session(&self, token_hash: &KeyHash) -> StoreResult<Option<UserSession>>;
    /// Records use at `at` (the idle clock restarts).
    async fn touch_session(&self, token_hash: &KeyHash, at: Timestamp) -> StoreResult<()>;
    /// Swaps a session for a fresh one (a new id at sign-in and at every change of privilege).
    /// False if the old one was gone already.
    async fn rotate_session(&self, old: &KeyHash, new: &UserSession) -> StoreResult<bool>;
    /// A user's sessions, newest first.
    async fn list_sessions(&self, user: uuid::Uuid) -> StoreResult<Vec<UserSession>>;
    /// Ends one of the user's sessions; false if it was not theirs or not there.
    async fn delete_session(&self, user: uuid::Uuid, id: uuid::Uuid) -> StoreResult<bool>;
    /// Ends sessions past their absolute end or idle since before `idle_before`.
    async fn purge_sessions(&self, now: Timestamp, idle_before: Timestamp) -> StoreResult<u64>;

    async fn record_login_failure(&self, subject: &KeyHash, at: Timestamp) -> StoreResult<()>;
    async fn login_failures_since(&self, subject: &KeyHash, since: Timestamp) -> StoreResult<i64>;
    async fn clear_login_failures(&self, subject: &KeyHash) -> StoreResult<()>;
    /// Forgets failures older than `before`.
    async fn purge_login_failures(&self, before: Timestamp) -> StoreResult<u64>;

    /// Turns the user's TOTP on, with its sealed secret and the hashes of fresh recovery codes,
    /// replacing any earlier ones; audited in the secret's workspace, all in one transaction.
    async fn enable_totp(
        &self,
        user: uuid::Uuid,
        secret: &SealedRow,
        recovery_codes: &[KeyHash],
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Turns TOTP off and forgets its secret and recovery codes.
    async fn disable_totp(&self, user: uuid::Uuid, audit: &NewAuditEvent) -> StoreResult<()>;
    /// Accepts a TOTP time step once: false if this step or a later one was already used
    /// (RFC 6238 §5.2: a code is not accepted twice).
    async fn use_totp_step(&self, user: uuid::Uuid, step: i64) -> StoreResult<bool>;
    /// Spends an unused recovery code; false if unknown or spent.
    async fn use_recovery_code(&self, user: uuid::Uuid, hash: &KeyHash, at: Timestamp) -> StoreResult<bool>;
    async fn unused_recovery_codes(&self, user: uuid::Uuid) -> StoreResult<i64>;

    /// Replaces the password hash and ends every other session of the user, audited.
    async fn set_password(
        &self,
        user: uuid::Uuid,
        password_hash: &str,
        keep_session: uuid::Uuid,
        workspace: WorkspaceId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;

    /// Whether members of the workspace must sign in with a second factor.
    async fn second_factor_required(&self, workspace: WorkspaceId) -> StoreResult<bool>;
    async fn require_second_factor(
        &self,
        workspace: WorkspaceId,
        required: bool,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
}

/// Invitations to join a workspace.
#[async_trait]
pub trait InvitationStore {
    async fn create_invitation(&self, invitation: &Invitation, audit: &NewAuditEvent) -> StoreResult<()>;
    async fn find_invitation(&self, token_hash: &KeyHash) -> StoreResult<Option<Invitation>>;
    /// The workspace's invitations not yet accepted, newest first (expired ones included).
    async fn list_invitations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Invitation>>;
    /// Deletes a pending invitation; false if there was none.
    async fn revoke_invitation(
        &self,
        workspace: WorkspaceId,
        id: uuid::Uuid,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;
    /// Spends the invitation at `at` (once, before it expires) and makes the invitee a member,
    /// creating the account if new — all or nothing. `NotFound` if unknown, spent or expired;
    /// `Conflict` if the invitee is a member already or the new account's e-mail is taken.
    async fn accept_invitation(
        &self,
        token_hash: &KeyHash,
        invitee: Invitee<'_>,
        at: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<Invitation>;
}
