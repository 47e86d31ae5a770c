//! People who sign in (for now: to approve an agent's access) and OAuth 2.1 for MCP clients:
//! registered clients, single-use authorization codes, and access and refresh tokens. Codes and
//! tokens are stored only as SHA-256 hashes. These tables are global, like the API key look-up:
//! a token names its workspace, and authentication finds it by hash before any tenant is known.

use async_trait::async_trait;

use crate::audit::NewAuditEvent;
use crate::{KeyHash, ScopeSet, StoreResult, Timestamp, WorkspaceId};

/// Someone who can sign in. The password is kept only as an Argon2id PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: uuid::Uuid,
    pub email: String,
    pub password_hash: String,
    pub created_at: Timestamp,
    /// The second factor, when turned on.
    pub totp: Option<crate::people::TotpSecretRef>,
}

/// A client allowed to ask for tokens: registered dynamically (RFC 7591) or known by the URL of
/// its client ID metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub client_id: String,
    pub name: String,
    /// Exact strings; a redirect URI must equal one of them.
    pub redirect_uris: Vec<String>,
    pub created_at: Timestamp,
}

/// A single-use code issued after consent, exchanged with the PKCE verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub hash: KeyHash,
    pub client_id: String,
    pub workspace_id: WorkspaceId,
    pub user_id: uuid::Uuid,
    pub redirect_uri: String,
    /// BASE64URL(SHA-256(verifier)), S256 only.
    pub code_challenge: String,
    pub scopes: ScopeSet,
    /// The resource (RFC 8707) the tokens will be for.
    pub resource: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// An access or refresh token. Every token of one consent shares its `grant_id`, so a replayed
/// refresh token revokes the whole grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthToken {
    pub hash: KeyHash,
    pub kind: TokenKind,
    pub grant_id: uuid::Uuid,
    pub client_id: String,
    pub workspace_id: WorkspaceId,
    pub user_id: uuid::Uuid,
    pub scopes: ScopeSet,
    /// The audience: tokens are accepted only by this resource.
    pub resource: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// When a refresh token was exchanged (it is single-use).
    pub used_at: Option<Timestamp>,
}

/// What exchanging a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Valid and now spent: issue its successors.
    Fresh(Box<OAuthToken>),
    /// Already spent: a replay, so the grant was revoked.
    Replayed,
    /// Unknown, expired or revoked.
    Invalid,
}

#[async_trait]
pub trait OAuthStore {
    /// Creates a user with a role in `workspace` (one transaction, audited there).
    async fn create_user(
        &self,
        user: &User,
        workspace: WorkspaceId,
        role: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// The workspaces a user belongs to, with the role in each, oldest first.
    async fn user_workspaces(&self, user: uuid::Uuid) -> StoreResult<Vec<(WorkspaceId, String)>>;

    /// Stores a client; `Conflict` if the id is taken.
    async fn register_client(&self, client: &OAuthClient) -> StoreResult<()>;
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<OAuthClient>>;

    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    /// Removes and returns the code (single use), whatever its expiry (the caller checks it).
    async fn take_code(&self, hash: &KeyHash) -> StoreResult<Option<AuthorizationCode>>;

    /// Stores tokens together (an access token and its refresh token).
    async fn insert_tokens(&self, tokens: &[OAuthToken]) -> StoreResult<()>;
    async fn find_token(&self, hash: &KeyHash) -> StoreResult<Option<OAuthToken>>;
    /// Spends a refresh token at `at`. A second use of the same token revokes every token of its
    /// grant (refresh token rotation with reuse detection, OAuth 2.1 §4.3.1).
    async fn use_refresh_token(&self, hash: &KeyHash, at: Timestamp) -> StoreResult<RefreshUse>;
    /// Revokes every token of a grant.
    async fn revoke_grant(&self, grant_id: uuid::Uuid, at: Timestamp) -> StoreResult<()>;
}
