use std::sync::Arc;
use std::time::Duration;

use crier_blobs::BlobStore;
use crier_core::{Clock, Store};
use crier_net::{OutboundPolicy, Resolve, SystemResolver};
use crier_providers::Registry;
use crier_vault::Vault;
use url::Url;

use crate::media::MediaConfig;
use crate::media_links::MediaLinks;

/// HTTP-layer settings (the binary fills them from its configuration).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The URL clients reach Crier at; an `https` URL turns on HSTS.
    pub public_url: Option<Url>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// How long a rotated API key keeps working when the caller does not say.
    pub key_grace_period: Duration,
    /// How long dashboard sessions live.
    pub sessions: crier_core::SessionPolicy,
    /// Anyone may make an account (and a workspace of their own) at `/signup`.
    pub open_signup: bool,
    /// The other services people may sign in to the dashboard through (a button each).
    pub sso: Vec<crate::sso::SsoProvider>,
    /// The secrets Slack's and TikTok's signed event callbacks are checked with.
    pub platform_callbacks: crate::routes::signed_callbacks::CallbackSecrets,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            key_grace_period: Duration::from_secs(24 * 60 * 60),
            sessions: crier_core::SessionPolicy::default(),
            open_signup: false,
            sso: Vec::new(),
            platform_callbacks: Default::default(),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<ApiConfig>,
    /// The platforms channels can be created for, and whose limits posts are checked against.
    pub providers: Arc<Registry>,
    /// Seals webhook secrets. Without it, creating webhook endpoints answers 503.
    pub vault: Option<Arc<Vault>>,
    /// The policy user-supplied URLs (webhook endpoints) are checked against, and the resolver.
    pub outbound: Arc<OutboundPolicy>,
    pub resolver: Arc<dyn Resolve>,
    /// Where media bytes are kept (in memory unless the binary configures a folder or S3).
    pub blobs: BlobStore,
    pub media: Arc<MediaConfig>,
    /// Public links to media for platforms that fetch it (set when Crier has a public URL).
    pub media_links: Option<Arc<MediaLinks>>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ApiConfig) -> Self {
        Self {
            store,
            clock,
            config: Arc::new(config),
            providers: Arc::new(Registry::default()),
            vault: None,
            outbound: Arc::new(OutboundPolicy::default()),
            resolver: Arc::new(SystemResolver),
            blobs: BlobStore::in_memory(),
            media: Arc::new(MediaConfig::default()),
            media_links: None,
        }
    }

    pub fn with_vault(mut self, vault: Arc<Vault>) -> Self {
        self.vault = Some(vault);
        self
    }

    pub fn with_outbound(mut self, policy: OutboundPolicy, resolver: Arc<dyn Resolve>) -> Self {
        self.outbound = Arc::new(policy);
        self.resolver = resolver;
        self
    }

    pub fn with_media(mut self, blobs: BlobStore, config: MediaConfig) -> Self {
        self.blobs = blobs;
        self.media = Arc::new(config);
        self
    }

    /// Serves and mints public media links (`/media-links/{token}`); adapters built after this
    /// can give platforms links to media.
    pub fn with_media_links(mut self, links: Arc<MediaLinks>) -> Self {
        self.media_links = Some(links);
        self
    }

    pub fn with_providers(mut self, providers: Arc<Registry>) -> Self {
        self.providers = providers;
        self
    }
}

impl AppState {
    /// What platform adapters are built with: this state's outbound policy and resolver (the
    /// SSRF-safe client), vault and media store. Adapters built before `with_providers` see the
    /// same store and vault the API uses.
    pub fn platform(&self) -> crier_providers::Platform {
        let vault: Arc<dyn crier_providers::CredentialVault> = match &self.vault {
            Some(vault) => vault.clone(),
            None => Arc::new(NoVault),
        };
        crier_providers::Platform {
            http: crier_net::OutboundClient::new(
                OutboundPolicy { max_bytes: PLATFORM_ANSWER_BYTES, ..(*self.outbound).clone() },
                self.resolver.clone(),
            ),
            vault,
            media: Arc::new(crate::media::StoredMedia(self.clone())),
            clock: self.clock.clone(),
        }
    }
}

/// The largest platform API answer read (a status, a session, an instance description).
const PLATFORM_ANSWER_BYTES: u64 = 4 * 1024 * 1024;

/// Without a vault there are no channel credentials to open.
struct NoVault;

#[async_trait::async_trait]
impl crier_providers::CredentialVault for NoVault {
    async fn open(
        &self,
        _channel: &crier_core::Channel,
    ) -> Result<crier_providers::Credentials, crier_providers::ProviderError> {
        Err(crier_providers::ProviderError::AuthExpired { message: "this Crier runs without a vault".into() })
    }

    async fn replace(
        &self,
        _channel: &crier_core::Channel,
        _credentials: &crier_providers::Credentials,
    ) -> Result<(), crier_providers::ProviderError> {
        Err(crier_providers::ProviderError::AuthExpired { message: "this Crier runs without a vault".into() })
    }
}
