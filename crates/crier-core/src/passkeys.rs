//! WebAuthn passkeys of dashboard users, and the short-lived state of a WebAuthn ceremony
//! between its two requests. A passkey holds only public data (the credential's public key,
//! its counter and backup state), kept as the relying-party library's JSON; no HTTP or WebAuthn
//! types here. Global tables like `users`: a passkey is found by its credential id before any
//! tenant is known.

use async_trait::async_trait;

use crate::audit::NewAuditEvent;
use crate::{KeyHash, StoreResult, Timestamp, WorkspaceId};

/// A person's registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPasskey {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    /// The credential id the authenticator chose (unique across all users).
    pub credential_id: Vec<u8>,
    /// The public credential as the WebAuthn library serialises it (public key, counter,
    /// backup state).
    pub passkey: String,
    /// What the person called it ("laptop", "phone").
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// What a ceremony is for, so a state made for one purpose is useless for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Registering a new passkey (signed in).
    Register,
    /// Signing in with a discoverable passkey, no password.
    SignIn,
    /// A passkey as the second factor after the password.
    SecondFactor,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Register => "register",
            CeremonyKind::SignIn => "sign_in",
            CeremonyKind::SecondFactor => "second_factor",
        }
    }
}

/// The server-side half of a WebAuthn ceremony (the challenge), found by the hash of a random id
/// the browser holds; used once and only until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub id_hash: KeyHash,
    pub kind: CeremonyKind,
    /// The person it is for (none for a passwordless sign-in, where the passkey names them).
    pub user_id: Option<uuid::Uuid>,
    /// The library's ceremony state, as JSON.
    pub state: String,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait PasskeyStore {
    /// Registers a passkey, audited in `workspace` in the same transaction. `Conflict` if its
    /// credential id is registered already (to anyone).
    async fn add_passkey(
        &self,
        passkey: &UserPasskey,
        workspace: WorkspaceId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// A user's passkeys, oldest first.
    async fn list_passkeys(&self, user: uuid::Uuid) -> StoreResult<Vec<UserPasskey>>;
    async fn find_passkey(&self, credential_id: &[u8]) -> StoreResult<Option<UserPasskey>>;
    /// Records a use at `at` with the credential's new state (counter, backup flags); false if
    /// the passkey is not the user's (or gone).
    async fn record_passkey_use(
        &self,
        user: uuid::Uuid,
        id: uuid::Uuid,
        passkey: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Removes one of the user's passkeys, audited in `workspace`; false if it was not theirs.
    async fn remove_passkey(
        &self,
        user: uuid::Uuid,
        id: uuid::Uuid,
        workspace: WorkspaceId,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;

    async fn insert_ceremony(&self, ceremony: &Ceremony) -> StoreResult<()>;
    /// Takes (deletes and returns) the ceremony of `kind` with this id hash if it has not
    /// expired at `now`: a ceremony is used once, whatever its outcome.
    async fn take_ceremony(
        &self,
        id_hash: &KeyHash,
        kind: CeremonyKind,
        now: Timestamp,
    ) -> StoreResult<Option<Ceremony>>;
    /// Forgets ceremonies expired by `now`.
    async fn purge_ceremonies(&self, now: Timestamp) -> StoreResult<u64>;
}
