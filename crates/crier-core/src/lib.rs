//! Crier's domain layer: the types every other crate speaks, and the storage traits the
//! backends implement. Nothing here knows about HTTP, SQL or sockets.

pub mod api_key;
pub mod audit;
pub mod clock;
pub mod connect;
pub mod deauthorization;
pub mod deletion;
pub mod event_types;
pub mod id;
pub mod identity;
pub mod media;
pub mod oauth;
pub mod passkeys;
pub mod people;
pub mod publishing;
pub mod queue;
pub mod role;
pub mod scope;
pub mod store;
pub mod usage;
pub mod vault;
pub mod webhook_signature;
pub mod webhooks;
pub mod workspace;

pub use api_key::{
    ApiKey, ApiKeyMode, ApiKeyNameError, ApiKeySecret, IssueKey, KeyHash, KeyRefusal, KeyStatus,
    MalformedKey, NewApiKey,
};
pub use audit::{Actor, AuditEvent, BrokenLink, ChainVerifier, NewAuditEvent, RequestOrigin};
pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use connect::{ConnectFlow, ConnectFlowStore, TakenFlow};
pub use deauthorization::{Deauthorization, DeauthorizationStore, DeletionRecord};
pub use deletion::{DeletionJob, DeletionOutcome, DeletionStore};
pub use id::{
    ApiKeyId, AttemptId, AuditEventId, ChannelId, ConnectFlowId, DeliveryId, IdParseError, MediaId, PostId,
    SecretId, TargetId, WebhookEndpointId, WorkspaceId,
};
pub use identity::{IdentityStore, SsoFlow, UserIdentity};
pub use media::{Media, MediaFacts, MediaKind, MediaQuery, MediaStatus, MediaStore};
pub use oauth::{AuthorizationCode, OAuthClient, OAuthStore, OAuthToken, RefreshUse, TokenKind, User};
pub use passkeys::{Ceremony, CeremonyKind, PasskeyStore, UserPasskey};
pub use people::{
    Invitation, InvitationStore, Invitee, Membership, PeopleStore, SessionPolicy, TotpSecretRef, UserSession,
};
pub use publishing::{
    AttemptOutcome, Channel, ChannelAccount, ChannelStatus, ClaimedJob, DeletionStatus, NewEvent, Post,
    PostTarget, PublishAttempt, TargetDeletion, TargetStatus,
};
pub use queue::{
    Cancellation, ChannelStore, FinishedAttempt, IdempotencyBegin, IdempotencyStore, IdempotentResponse,
    JobRef, PostQuery, PostStore, QueueStore, Recovery, SandboxDelivery, SandboxStore, TargetRetry,
};
pub use role::{Permission, Role, UnknownRole};
pub use scope::{Scope, ScopeSet, UnknownScope};
pub use store::{ApiKeyStore, AuditStore, Store, StoreError, StoreResult, VaultStore, WorkspaceStore};
pub use usage::ChannelUsageStore;
pub use vault::{SealedRow, WrappedDataKey};
pub use webhooks::{
    ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryOutcome, DeliveryQuery, DeliveryRef, DeliveryStatus,
    EndpointChanges, Event, PreviousSecret, WebhookEndpoint, WebhookStore,
};
pub use workspace::{NewWorkspace, Workspace, WorkspaceNameError};
