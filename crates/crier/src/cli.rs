//! The command line. Every setting is a flag with an environment variable and a default that
//! `--help` shows; a `crier.toml` may set the same names (see `settings.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use crier_store::DatabaseUrl;
use url::Url;

/// A secret given as a flag or environment variable: never printed by `Debug`.
#[derive(Clone)]
pub struct SecretArg(pub String);

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretArg(***)")
    }
}

impl std::str::FromStr for SecretArg {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "crier",
    version,
    about = "Crier: publish posts to your users' connected accounts, once and on time.",
    long_about = "Crier: a self-hosted, multi-tenant publishing carrier.\n\n\
                  Settings come from built-in defaults, then an optional crier.toml, then CRIER_* \
                  environment variables, then flags (each later source wins)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (migrations are applied first)
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit
    Migrate(DbArgs),
    /// Create and list workspaces
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Create, list, rotate and revoke API keys
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print the OpenAPI document served at /openapi.json
    Openapi,
    /// Master key and data key operations
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Check the tamper-evident audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Serve MCP to one local agent over stdin/stdout, acting with an API key
    Mcp(Box<McpArgs>),
    /// Create people who sign in to the dashboard (and approve agents' OAuth access)
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with a role in a workspace; the password is read from CRIER_USER_PASSWORD or
    /// the first line of standard input
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// The workspace the user joins (`ws_…`)
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        email: String,
        /// owner, admin, member or viewer
        #[arg(long, default_value = "owner")]
        role: String,
        /// Make the user an owner of the workspace (the same as `--role owner`)
        #[arg(long, conflicts_with = "role")]
        owner: bool,
        #[arg(long = "password", env = "CRIER_USER_PASSWORD", hide_env_values = true, hide = true)]
        password: Option<SecretArg>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Speak MCP on stdin/stdout (the only transport of this command; HTTP agents use
    /// `crier serve` and /mcp)
    #[arg(long, required = true)]
    pub stdio: bool,

    /// The API key the agent acts with (its scopes bound what the tools may do)
    #[arg(long = "api-key", env = "CRIER_API_KEY", hide_env_values = true)]
    pub api_key: SecretArg,

    #[command(flatten)]
    pub media: MediaArgs,
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Print a new random master key (base64), e.g. for CRIER_MASTER_KEY
    GenerateKey,
    /// Re-wrap every workspace's data key under a new master key. Resumable: run it again after
    /// an interruption. With a key file, the new key is created beside it and swapped in at the end;
    /// with CRIER_MASTER_KEY, give the new key with --new-key
    RotateMaster {
        #[command(flatten)]
        db: DbArgs,
        /// The new master key (base64), when keys come from CRIER_MASTER_KEY
        #[arg(long, env = "CRIER_NEW_MASTER_KEY", hide_env_values = true)]
        new_key: Option<SecretArg>,
        /// Pause after each workspace, to spare a busy database (e.g. 10ms)
        #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
        throttle: Duration,
    },
    /// Re-seal every secret of a workspace under a new data key. Resumable
    RotateWorkspace {
        #[command(flatten)]
        db: DbArgs,
        /// The workspace (`ws_…`)
        workspace: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain of one workspace (or all) and report the first broken link
    Verify {
        #[command(flatten)]
        db: DbArgs,
        /// Only this workspace (`ws_…`)
        #[arg(long)]
        workspace: Option<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Configuration file (TOML); keys are the long flag names with `_` for `-`. A missing file
    /// is fine unless named explicitly.
    #[arg(long, env = "CRIER_CONFIG", default_value = "crier.toml")]
    pub config: PathBuf,

    /// Where Crier keeps its data (the embedded SQLite database, later media and the key file)
    #[arg(long, env = "CRIER_DATA_DIR", default_value = "./crier-data")]
    pub data_dir: PathBuf,

    /// Database URL: `postgres://…` for PostgreSQL, `sqlite://PATH` for a SQLite file.
    /// Default: the embedded SQLite database `crier.db` in the data directory. On PostgreSQL,
    /// connect as a member of `crier_app` so row-level security applies (docs/SECURITY.md)
    #[arg(long, env = "CRIER_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,

    /// PostgreSQL URL that migrations run as (the tables' owner). Default: the database URL
    #[arg(long, env = "CRIER_MIGRATE_DATABASE_URL", hide_env_values = true)]
    pub migrate_database_url: Option<DatabaseUrl>,

    /// The master key (base64 of 32 bytes) that wraps every workspace's data key. Default: read
    /// from the key file, created on first run
    #[arg(long, env = "CRIER_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<SecretArg>,

    /// Master key file, used when CRIER_MASTER_KEY is not set. Default: master.key in the data
    /// directory (created with mode 0600 on first run: back it up)
    #[arg(long, env = "CRIER_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,

    /// Earlier master keys still needed during an env-based rotation (comma-separated base64)
    #[arg(long, env = "CRIER_PREVIOUS_MASTER_KEYS", hide_env_values = true)]
    pub previous_master_keys: Option<SecretArg>,

    /// Most database connections this process opens
    #[arg(long, env = "CRIER_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,

    /// How long to keep trying to reach the database at start-up before giving up
    #[arg(long, env = "CRIER_DB_CONNECT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub db_connect_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines
    Text,
    /// One JSON object per line
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Address and port to listen on (port 0 picks a free one; the log says which)
    #[arg(long, env = "CRIER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The URL clients reach Crier at, if behind a proxy. An https URL turns on HSTS. Also where
    /// Instagram and Threads fetch post media from (one-hour links under /media-links/); its host
    /// is the relying party of dashboard passkeys.
    #[arg(long, env = "CRIER_PUBLIC_URL")]
    pub public_url: Option<Url>,

    /// Largest request body accepted, in bytes
    #[arg(long, env = "CRIER_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Requests taking longer are abandoned with 408 (e.g. 30s, 2m)
    #[arg(long, env = "CRIER_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// How long a rotated API key keeps working by default (e.g. 24h, 1h, 0s; at most 7 days)
    #[arg(long, env = "CRIER_KEY_GRACE_PERIOD", default_value = "24h", value_parser = humantime::parse_duration)]
    pub key_grace_period: Duration,

    /// A dashboard session unused this long ends (e.g. 30d, 12h)
    #[arg(long, env = "CRIER_SESSION_IDLE", default_value = "30d", value_parser = humantime::parse_duration)]
    pub session_idle: Duration,

    /// A dashboard session ends this long after sign-in, however active (e.g. 90d)
    #[arg(long, env = "CRIER_SESSION_LIFETIME", default_value = "90d", value_parser = humantime::parse_duration)]
    pub session_lifetime: Duration,

    /// Let anyone make an account, with a workspace of their own, at /signup (off: people join by
    /// invitation only)
    #[arg(long, env = "CRIER_OPEN_SIGNUP")]
    pub open_signup: bool,

    /// Log filter (tracing EnvFilter syntax, e.g. `info` or `crier=debug,info`)
    #[arg(long, env = "CRIER_LOG", default_value = "info")]
    pub log: String,

    /// Log line format
    #[arg(long, env = "CRIER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What this process runs: the HTTP API, the publishing worker, or both
    #[arg(long, env = "CRIER_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,

    /// Jobs a worker leases and publishes at once
    #[arg(long, env = "CRIER_WORKER_BATCH", default_value_t = 128)]
    pub worker_batch: i64,

    /// How long a worker's lease on a job lasts without a heartbeat; a crashed worker's jobs are
    /// recovered after it
    #[arg(long, env = "CRIER_WORKER_LEASE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub worker_lease: Duration,

    /// How long a webhook endpoint has to answer a delivery (1s to 30s); the delivery's lease is
    /// 5 s longer
    #[arg(long, env = "CRIER_WEBHOOK_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: Duration,

    /// An endpoint whose every delivery has failed for this long is disabled (e.g. 5d, 12h)
    #[arg(long, env = "CRIER_WEBHOOK_DISABLE_AFTER", default_value = "5d", value_parser = humantime::parse_duration)]
    pub webhook_disable_after: Duration,

    /// DEVELOPMENT ONLY: let user-supplied URLs (webhook endpoints, media URLs, Mastodon
    /// instances, Bluesky PDSes) use http:// and loopback addresses. Private, link-local and
    /// metadata addresses stay refused.
    #[arg(long, env = "CRIER_ALLOW_INSECURE_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_insecure_loopback: bool,

    /// DEVELOPMENT ONLY: let e-mail channels use plaintext SMTP (`security: "none"`) and relays
    /// on loopback addresses. Private, link-local and metadata addresses stay refused.
    #[arg(long, env = "CRIER_ALLOW_INSECURE_SMTP", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_insecure_smtp: bool,

    /// PEM file of CA certificates trusted for SMTP relays besides the public roots (a relay
    /// with a private CA)
    #[arg(long, env = "CRIER_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Client ID of your X app (developer.x.com); X channels are offered when it and the secret
    /// are set
    #[arg(long, env = "CRIER_X_CLIENT_ID")]
    pub x_client_id: Option<String>,

    /// Client secret of your X app
    #[arg(long, env = "CRIER_X_CLIENT_SECRET", hide_env_values = true)]
    pub x_client_secret: Option<SecretArg>,

    /// Client ID of your Reddit app (reddit.com/prefs/apps, type "web app"); Reddit channels are
    /// offered when it and the secret are set
    #[arg(long, env = "CRIER_REDDIT_CLIENT_ID")]
    pub reddit_client_id: Option<String>,

    /// Client secret of your Reddit app
    #[arg(long, env = "CRIER_REDDIT_CLIENT_SECRET", hide_env_values = true)]
    pub reddit_client_secret: Option<SecretArg>,

    /// The User-Agent Reddit requires, naming your app and its Reddit account
    #[arg(long, env = "CRIER_REDDIT_USER_AGENT", default_value = "web:crier:1 (self-hosted Crier)")]
    pub reddit_user_agent: String,

    /// Client ID of your Slack app (api.slack.com/apps); Slack channels are offered when it and
    /// the secret are set
    #[arg(long, env = "CRIER_SLACK_CLIENT_ID")]
    pub slack_client_id: Option<String>,

    /// Client secret of your Slack app
    #[arg(long, env = "CRIER_SLACK_CLIENT_SECRET", hide_env_values = true)]
    pub slack_client_secret: Option<SecretArg>,

    /// Signing secret of your Slack app (its Basic Information page): turns on
    /// `/callbacks/slack/events`, the Event Subscriptions Request URL through which Slack's
    /// `app_uninstalled` and `tokens_revoked` deauthorize that team's channels
    #[arg(long, env = "CRIER_SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub slack_signing_secret: Option<SecretArg>,

    /// App ID of your Pinterest app (developers.pinterest.com/apps); Pinterest channels are
    /// offered when it and the secret are set
    #[arg(long, env = "CRIER_PINTEREST_CLIENT_ID")]
    pub pinterest_client_id: Option<String>,

    /// App secret of your Pinterest app
    #[arg(long, env = "CRIER_PINTEREST_CLIENT_SECRET", hide_env_values = true)]
    pub pinterest_client_secret: Option<SecretArg>,

    /// Client ID of your LinkedIn app (linkedin.com/developers/apps, with the "Share on
    /// LinkedIn" and "Sign In with LinkedIn using OpenID Connect" products); LinkedIn channels are
    /// offered when it and the secret are set
    #[arg(long, env = "CRIER_LINKEDIN_CLIENT_ID")]
    pub linkedin_client_id: Option<String>,

    /// Client secret of your LinkedIn app
    #[arg(long, env = "CRIER_LINKEDIN_CLIENT_SECRET", hide_env_values = true)]
    pub linkedin_client_secret: Option<SecretArg>,

    /// The LinkedIn API version (YYYYMM) sent as `LinkedIn-Version`
    #[arg(long, env = "CRIER_LINKEDIN_API_VERSION", default_value = crier_providers::linkedin::DEFAULT_API_VERSION)]
    pub linkedin_api_version: String,

    /// OAuth client ID of your Google Cloud project (console.cloud.google.com, with the YouTube
    /// Data API v3 enabled; a "Web application" client); YouTube channels are offered when it and
    /// the secret are set
    #[arg(long, env = "CRIER_GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,

    /// OAuth client secret of your Google Cloud project
    #[arg(long, env = "CRIER_GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    pub google_client_secret: Option<SecretArg>,

    /// Let posts published to YouTube be deleted from YouTube. Connecting then also asks for the
    /// `youtube.force-ssl` scope, which Google's consent page presents as seeing, editing and
    /// permanently deleting the account's videos, ratings, comments and captions: far broader
    /// than uploading. Only channels connected while this is on can delete; reconnect the others
    #[arg(long, env = "CRIER_YOUTUBE_DELETE")]
    pub youtube_delete: bool,

    /// Client key of your TikTok app (developers.tiktok.com/apps, with Login Kit and the Content
    /// Posting API's Direct Post); TikTok channels are offered when it and the secret are set
    #[arg(long, env = "CRIER_TIKTOK_CLIENT_KEY")]
    pub tiktok_client_key: Option<String>,

    /// Client secret of your TikTok app
    #[arg(long, env = "CRIER_TIKTOK_CLIENT_SECRET", hide_env_values = true)]
    pub tiktok_client_secret: Option<SecretArg>,

    /// App ID of your Meta app (developers.facebook.com/apps, with Facebook Login for Business,
    /// the Pages API, Instagram API with Facebook Login, and the Threads API use case); Facebook
    /// Page, Instagram and Threads channels are offered when it and the secret are set
    #[arg(long, env = "CRIER_FACEBOOK_APP_ID")]
    pub facebook_app_id: Option<String>,

    /// App secret of your Meta app
    #[arg(long, env = "CRIER_FACEBOOK_APP_SECRET", hide_env_values = true)]
    pub facebook_app_secret: Option<SecretArg>,

    /// The Graph API version in every Facebook call (`v24.0`)
    #[arg(long, env = "CRIER_META_GRAPH_VERSION", default_value = crier_providers::meta::DEFAULT_GRAPH_VERSION)]
    pub meta_graph_version: String,

    /// OpenID Connect issuer people may sign in to the dashboard through (its URL exactly as its
    /// discovery document names it); a button is offered when it, the client ID and the secret
    /// are set. Register the redirect URI {public URL}/login/sso/oidc/callback
    #[arg(long, env = "CRIER_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// Client ID of Crier at the OpenID Connect issuer
    #[arg(long, env = "CRIER_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// Client secret of Crier at the OpenID Connect issuer
    #[arg(long, env = "CRIER_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<SecretArg>,

    /// The sign-in button's text for the OpenID Connect issuer
    #[arg(long, env = "CRIER_OIDC_LABEL", default_value = "Sign in with single sign-on")]
    pub oidc_label: String,

    /// Client ID of a GitHub OAuth app (github.com/settings/developers) people may sign in to the
    /// dashboard through; redirect URI {public URL}/login/sso/github/callback
    #[arg(long, env = "CRIER_GITHUB_CLIENT_ID")]
    pub github_client_id: Option<String>,

    /// Client secret of the GitHub OAuth app
    #[arg(long, env = "CRIER_GITHUB_CLIENT_SECRET", hide_env_values = true)]
    pub github_client_secret: Option<SecretArg>,

    /// OAuth client ID (Google Cloud, a "Web application" client) people may sign in to the
    /// dashboard with Google through (separate from --google-client-id, which connects YouTube
    /// channels); redirect URI {public URL}/login/sso/google/callback
    #[arg(long, env = "CRIER_GOOGLE_SSO_CLIENT_ID")]
    pub google_sso_client_id: Option<String>,

    /// OAuth client secret for signing in with Google
    #[arg(long, env = "CRIER_GOOGLE_SSO_CLIENT_SECRET", hide_env_values = true)]
    pub google_sso_client_secret: Option<SecretArg>,

    #[command(flatten)]
    pub media: MediaArgs,
}

/// Where media bytes are kept, and how large files may be.
#[derive(Debug, Clone, Args)]
pub struct MediaArgs {
    /// Folder for media bytes (encrypted when the vault is on). Default: `media` in the data
    /// directory. Ignored when --media-s3-bucket is set
    #[arg(long, env = "CRIER_MEDIA_DIR")]
    pub media_dir: Option<PathBuf>,

    /// Keep media in this S3 (or S3-compatible) bucket instead of a folder
    #[arg(long, env = "CRIER_MEDIA_S3_BUCKET")]
    pub media_s3_bucket: Option<String>,

    /// The bucket's region
    #[arg(long, env = "CRIER_MEDIA_S3_REGION", default_value = "us-east-1")]
    pub media_s3_region: String,

    /// Endpoint of an S3-compatible service (MinIO, R2, …). Default: AWS
    #[arg(long, env = "CRIER_MEDIA_S3_ENDPOINT")]
    pub media_s3_endpoint: Option<String>,

    /// Access key id. Default: the usual AWS sources (environment, instance profile)
    #[arg(long, env = "CRIER_MEDIA_S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub media_s3_access_key_id: Option<String>,

    /// Secret access key
    #[arg(long, env = "CRIER_MEDIA_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub media_s3_secret_access_key: Option<SecretArg>,

    /// Address the bucket in the path (`endpoint/bucket/key`), as MinIO and most S3-compatible
    /// services want
    #[arg(long, env = "CRIER_MEDIA_S3_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set)]
    pub media_s3_path_style: bool,

    /// DEVELOPMENT ONLY: allow an http:// S3 endpoint
    #[arg(long, env = "CRIER_MEDIA_S3_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set)]
    pub media_s3_allow_http: bool,

    /// Largest media file, in bytes (uploads, resumable uploads; fetches by URL are also capped at
    /// 100 MiB)
    #[arg(long, env = "CRIER_MEDIA_MAX_BYTES", default_value_t = 1024 * 1024 * 1024)]
    pub media_max_bytes: u64,

    /// A resumable upload not completed within this time is dropped with its parts
    #[arg(long, env = "CRIER_MEDIA_UPLOAD_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub media_upload_ttl: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Serve the HTTP API only
    Api,
    /// Publish queued posts only
    Worker,
    /// Both
    All,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace and print its id
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// The workspace's display name
        name: String,
    },
    /// List workspaces
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key and print its secret (shown this once only) on standard output
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// The workspace the key acts in (`ws_…`)
        #[arg(long)]
        workspace: String,
        /// Space- or comma-separated scopes, or `all`. Scopes: posts:read posts:write
        /// channels:read channels:write media:read media:write webhooks:admin keys:admin audit:read
        /// events:read
        #[arg(long)]
        scopes: String,
        /// A label for people
        #[arg(long, default_value = "")]
        name: String,
        /// Expire the key after this long (e.g. 30d, 12h); default: never
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<Duration>,
        /// Make a test-mode key (`crier_test_…`)
        #[arg(long)]
        test: bool,
    },
    /// List a workspace's API keys
    List {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        workspace: String,
    },
    /// Revoke an API key at once
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        workspace: String,
        /// The key's id (`key_…`)
        key: String,
    },
    /// Rotate an API key: print the successor's secret; the old key works for the grace period
    Rotate {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        workspace: String,
        /// The key's id (`key_…`)
        key: String,
        /// How long the old key keeps working (at most 7 days)
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        grace: Duration,
    },
}
