//! A real Crier HTTP server on a free port, over a fresh store, with a clock the test moves.

#![allow(dead_code, reason = "each test binary uses a different part of this module")]

pub mod browser;

use std::sync::Arc;

use chrono::Duration;
use crier_api::{ApiConfig, AppState, MediaConfig};
use crier_blobs::BlobStore;
use crier_core::{
    Actor, ApiKeyMode, Clock, IssueKey, ManualClock, NewApiKey, NewAuditEvent, ScopeSet, WorkspaceId,
};
use crier_net::{OutboundClient, OutboundPolicy, SystemResolver};
use crier_providers::Registry;
use crier_providers::bluesky::Bluesky;
use crier_providers::discord::{Discord, DiscordSettings};
use crier_providers::email::{Email, EmailSettings};
use crier_providers::mastodon::Mastodon;
use crier_providers::meta::facebook::Facebook;
use crier_providers::meta::threads::Threads;
use crier_providers::meta::{DEFAULT_GRAPH_VERSION, MetaSettings};
use crier_providers::reddit::{Reddit, RedditSettings};
use crier_providers::sandbox::Sandbox;
use crier_providers::telegram::{Telegram, TelegramSettings};
use crier_testkit::{Backend, TestDb};
use crier_worker::{Dispatcher, DispatcherConfig, Worker, WorkerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The Meta app secret the test server's Facebook and Threads providers verify callbacks with.
pub const META_APP_SECRET: &str = "test-meta-app-secret";

/// A Meta app whose Graph addresses lead nowhere (no test here publishes through them).
fn meta_settings() -> MetaSettings {
    let mut settings = MetaSettings::new("test-meta-app", META_APP_SECRET, DEFAULT_GRAPH_VERSION);
    for base in [
        &mut settings.graph_base,
        &mut settings.facebook_base,
        &mut settings.threads_base,
        &mut settings.threads_auth_base,
    ] {
        *base = "http://127.0.0.1:9".into();
    }
    settings
}

pub struct Server {
    pub base: String,
    pub db: TestDb,
    pub clock: ManualClock,
    pub providers: Arc<Registry>,
    pub outbound: OutboundPolicy,
    pub http: reqwest::Client,
    /// The application state the server runs with (for calling its background tasks directly).
    pub state: AppState,
    /// Where this server keeps media bytes (a folder, as `crier serve` does by default).
    pub media_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A workspace with an all-scopes admin key, made directly in the store (as `crier key create`
/// would), so tests start from an authenticated caller.
pub struct Seeded {
    pub workspace: WorkspaceId,
    pub admin_key: String,
}

impl Server {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, ApiConfig::default()).await
    }

    pub async fn start_with(backend: Backend, config: ApiConfig) -> Self {
        Self::start_full(backend, config, OutboundPolicy::default()).await
    }

    /// With the documented development switch on: webhook URLs may be http on loopback, so
    /// local receivers can be reached.
    pub async fn start_insecure_loopback(backend: Backend) -> Self {
        let policy = OutboundPolicy { allow_insecure_loopback: true, ..OutboundPolicy::default() };
        Self::start_full(backend, ApiConfig::default(), policy).await
    }

    async fn start_full(backend: Backend, config: ApiConfig, outbound: OutboundPolicy) -> Self {
        Self::start_media(backend, MediaConfig::default(), outbound).await_with(config).await
    }

    /// With these media limits and outbound policy.
    pub fn start_media(backend: Backend, media: MediaConfig, outbound: OutboundPolicy) -> Starting {
        Starting { backend, media, outbound, email: EmailSettings::default() }
    }

    async fn start_all(
        backend: Backend,
        config: ApiConfig,
        outbound: OutboundPolicy,
        media: MediaConfig,
        email: EmailSettings,
    ) -> Self {
        let db = TestDb::fresh(backend).await;
        let media_dir = tempfile::tempdir().expect("a media folder");
        let blobs = BlobStore::local(media_dir.path()).expect("local blob store");
        let clock = ManualClock::starting_now();
        let vault = Arc::new(db.vault(Arc::new(clock.clone())));
        let public_url = config.public_url.clone();
        let state = AppState::new(db.store.clone(), Arc::new(clock.clone()), config)
            .with_vault(vault.clone())
            .with_outbound(outbound.clone(), Arc::new(SystemResolver))
            .with_media(blobs, media);
        // As `crier serve` does: with a public URL, media links for platforms that fetch media.
        let state = match public_url {
            Some(url) => {
                let key = vault.derive_key(crier_api::media_links::KEY_PURPOSE);
                let links = crier_api::media_links::MediaLinks::new(&key, &url).expect("a link key");
                state.with_media_links(Arc::new(links))
            }
            None => state,
        };
        // As `crier serve` builds them: the sandbox, and the platforms on the state's SSRF-safe
        // client, vault and media store.
        let platform = state.platform();
        let providers = Arc::new(
            Registry::default()
                .with(Arc::new(Sandbox::new(db.store.clone(), Arc::new(clock.clone()))))
                .with(Arc::new(Email::new(platform.clone(), email)))
                .with(Arc::new(Bluesky::new(platform.clone())))
                .with(Arc::new(Mastodon::new(platform.clone())))
                .with(Arc::new(Telegram::new(platform.clone(), TelegramSettings::default())))
                .with(Arc::new(Facebook::new(platform.clone(), meta_settings())))
                .with(Arc::new(Threads::new(platform.clone(), meta_settings())))
                .with(Arc::new(Reddit::new(
                    platform.clone(),
                    RedditSettings::new("id", "secret", "test:crier:1"),
                )))
                .with(Arc::new(Discord::new(platform, DiscordSettings::default()))),
        );
        let state = state.with_providers(providers.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(crier_api::serve(listener, crier_api::build_router(state.clone()), async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::new();
        Self { base, db, clock, providers, outbound, http, state, media_dir, shutdown: Some(tx) }
    }

    /// An in-process webhook dispatcher over this server's store, vault and clock.
    pub fn dispatcher(&self, id: &str) -> Dispatcher {
        self.dispatcher_with(DispatcherConfig { id: id.to_owned(), ..DispatcherConfig::default() })
    }

    pub fn dispatcher_with(&self, config: DispatcherConfig) -> Dispatcher {
        let client = OutboundClient::new(self.outbound.clone(), Arc::new(SystemResolver));
        let vault = Arc::new(self.db.vault(Arc::new(self.clock.clone())));
        Dispatcher::new(self.db.store.clone(), vault, client, Arc::new(self.clock.clone()), config)
    }

    /// An in-process worker over this server's store, providers and clock.
    pub fn worker(&self, id: &str) -> Worker {
        self.worker_with(WorkerConfig { id: id.to_owned(), ..WorkerConfig::default() })
    }

    pub fn worker_with(&self, config: WorkerConfig) -> Worker {
        Worker::new(self.db.store.clone(), self.providers.clone(), Arc::new(self.clock.clone()), config)
    }

    /// A channel of `provider` connected (as the connect flow would store it) for the platform
    /// account `account_id`, with sealed credentials.
    pub async fn connected_channel(
        &self,
        workspace: WorkspaceId,
        provider: &str,
        account_id: &str,
    ) -> crier_core::Channel {
        let vault = self.db.vault(Arc::new(self.clock.clone()));
        let secret = vault
            .seal_row(workspace, "channel_credentials", b"{\"access_token\":\"t\"}")
            .await
            .expect("seal");
        let channel = crier_core::Channel {
            workspace_id: workspace,
            id: crier_core::ChannelId::generate(),
            provider: provider.into(),
            name: format!("{provider} {account_id}"),
            // An Instagram channel keeps the Facebook user who connected it (`account_id` here)
            // beside its own Instagram account id.
            config: match provider {
                "facebook" => json!({"page_id": "555"}),
                "reddit" => json!({"subreddit": "rust"}),
                "instagram" => {
                    json!({"page_id": "555", "ig_user_id": format!("1784{account_id}"), "meta_user_id": account_id})
                }
                _ => json!({}),
            },
            status: crier_core::ChannelStatus::Active,
            account: Some(crier_core::ChannelAccount {
                id: if provider == "instagram" { format!("1784{account_id}") } else { account_id.into() },
                handle: "alice".into(),
                display_name: Some("Alice A.".into()),
                avatar_url: Some("https://cdn.example/a.jpg".into()),
            }),
            credentials: Some(secret.id),
            paused_until: None,
            created_at: self.clock.now(),
        };
        let audit = NewAuditEvent::new(
            self.clock.now(),
            Actor::cli(),
            "channel.connected",
            channel.id.to_string(),
            &Default::default(),
        );
        self.db.store.create_channel(&channel, Some(&secret), None, &audit).await.expect("create channel");
        channel
    }

    /// Creates a sandbox channel with this config and returns its id.
    pub async fn sandbox(&self, key: &str, config: Value) -> String {
        let reply = self
            .post("/v1/channels", key, json!({"provider": "sandbox", "name": "test", "config": config}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().expect("id").to_owned()
    }

    pub async fn seed(&self, name: &str) -> Seeded {
        self.seed_with(name, ScopeSet::all(), ApiKeyMode::Live).await
    }

    pub async fn seed_with(&self, name: &str, scopes: ScopeSet, mode: ApiKeyMode) -> Seeded {
        let workspace = self.db.workspace(Arc::new(self.clock.clone()), name).await;
        let key = self.key_in(workspace, scopes, mode, None).await;
        Seeded { workspace, admin_key: key }
    }

    /// Stores a key in `workspace` and returns its secret.
    pub async fn key_in(
        &self,
        workspace: WorkspaceId,
        scopes: ScopeSet,
        mode: ApiKeyMode,
        expires_in: Option<Duration>,
    ) -> String {
        let now = self.clock.now();
        let (key, secret) = NewApiKey::issue(IssueKey {
            workspace_id: workspace,
            name: "seed",
            mode,
            scopes,
            now,
            expires_at: expires_in.map(|d| now + d),
        })
        .expect("issue");
        let audit =
            NewAuditEvent::new(now, Actor::cli(), "api_key.created", key.id.to_string(), &Default::default());
        self.db.store.insert_api_key(&key, &audit).await.expect("insert key");
        secret.expose().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request and returns status, headers and the body as JSON (Null if empty).
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    /// Creates a key over HTTP and returns (id, secret).
    pub async fn create_key(&self, with: &str, scopes: &[&str]) -> (String, String) {
        let reply =
            self.post("/v1/api-keys", with, json!({"name": "made over http", "scopes": scopes})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        let id = reply.body["api_key"]["id"].as_str().expect("id").to_owned();
        let secret = reply.body["secret"].as_str().expect("secret").to_owned();
        (id, secret)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[derive(Debug)]
/// `Server::start_media(…)`, awaited with default API settings (or `await_with` others).
pub struct Starting {
    backend: Backend,
    media: MediaConfig,
    outbound: OutboundPolicy,
    email: EmailSettings,
}

impl Starting {
    pub async fn await_with(self, config: ApiConfig) -> Server {
        Server::start_all(self.backend, config, self.outbound, self.media, self.email).await
    }

    /// With these e-mail settings (a test relay's certificate, the development switch).
    pub fn email(mut self, email: EmailSettings) -> Self {
        self.email = email;
        self
    }
}

impl std::future::IntoFuture for Starting {
    type Output = Server;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Server> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.await_with(ApiConfig::default()))
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Self { status, headers, body }
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Asserts a problem+json answer with this status, and returns its body.
    pub fn assert_problem(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.content_type(), "application/problem+json", "body: {}", self.body);
        assert_eq!(self.body["status"], status.as_u16(), "{}", self.body);
        for field in ["type", "title", "detail"] {
            assert!(self.body[field].is_string(), "problem lacks {field}: {}", self.body);
        }
        &self.body
    }
}
