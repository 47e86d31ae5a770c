use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use crier_api::sso::SsoProvider;
use crier_api::{ApiConfig, AppState, CallbackSecret, CallbackSecrets, MediaConfig, TikTokApp};
use crier_blobs::{BlobStore, S3Settings};
use crier_core::{Clock, SystemClock};
use crier_net::{OutboundClient, OutboundPolicy, SystemResolver};
use crier_providers::email::EmailSettings;
use crier_providers::linkedin::LinkedInSettings;
use crier_providers::meta::MetaSettings;
use crier_providers::pinterest::PinterestSettings;
use crier_providers::reddit::RedditSettings;
use crier_providers::slack::SlackSettings;
use crier_providers::tiktok::TikTokSettings;
use crier_providers::x::XSettings;
use crier_providers::youtube::YouTubeSettings;
use crier_worker::{Dispatcher, DispatcherConfig, Worker, WorkerConfig};
use futures::FutureExt;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

use crate::cli::{DbArgs, LogFormat, MediaArgs, Role, ServeArgs};

/// The services people may sign in to the dashboard through, each offered when fully set.
fn sign_in_services(args: &ServeArgs) -> anyhow::Result<Vec<SsoProvider>> {
    let mut services = Vec::new();
    match (&args.oidc_issuer, &args.oidc_client_id, &args.oidc_client_secret) {
        (Some(issuer), Some(id), Some(secret)) => services.push(
            SsoProvider::oidc(issuer, id.clone(), secret.0.clone(), args.oidc_label.clone())
                .context("--oidc-issuer")?,
        ),
        (None, None, None) => {}
        _ => anyhow::bail!("--oidc-issuer, --oidc-client-id and --oidc-client-secret go together"),
    }
    match (&args.google_sso_client_id, &args.google_sso_client_secret) {
        (Some(id), Some(secret)) => services.push(SsoProvider::google(id.clone(), secret.0.clone())),
        (None, None) => {}
        _ => anyhow::bail!("--google-sso-client-id and --google-sso-client-secret go together"),
    }
    match (&args.github_client_id, &args.github_client_secret) {
        (Some(id), Some(secret)) => services.push(SsoProvider::github(id.clone(), secret.0.clone())),
        (None, None) => {}
        _ => anyhow::bail!("--github-client-id and --github-client-secret go together"),
    }
    Ok(services)
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log, args.log_format)?;
    if args.key_grace_period.as_secs() > crier_api::routes::api_keys::MAX_GRACE_SECONDS {
        anyhow::bail!("--key-grace-period: at most 7 days");
    }
    if !(1..=1000).contains(&args.worker_batch) {
        anyhow::bail!("--worker-batch: 1 to 1000");
    }
    if !(Duration::from_secs(1)..=Duration::from_secs(30)).contains(&args.webhook_timeout) {
        anyhow::bail!("--webhook-timeout: 1s to 30s");
    }
    let opened = super::open(&args.db).await?;
    let (store, vault) = (opened.store, opened.vault);
    let outbound = OutboundPolicy {
        allow_insecure_loopback: args.allow_insecure_loopback,
        total_timeout: args.webhook_timeout,
        ..OutboundPolicy::default()
    };
    if outbound.allow_insecure_loopback {
        tracing::warn!(
            "--allow-insecure-loopback is on: webhook URLs may use http and loopback. Never in production"
        );
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sso = sign_in_services(&args)?;
    let config = ApiConfig {
        public_url: args.public_url.clone(),
        max_body_bytes: args.max_body_bytes,
        request_timeout: args.request_timeout,
        key_grace_period: args.key_grace_period,
        sessions: crier_core::SessionPolicy {
            idle: chrono::Duration::from_std(args.session_idle).unwrap_or(chrono::Duration::days(30)),
            absolute: chrono::Duration::from_std(args.session_lifetime).unwrap_or(chrono::Duration::days(90)),
            ..crier_core::SessionPolicy::default()
        },
        open_signup: args.open_signup,
        sso,
        platform_callbacks: platform_callbacks(&args),
    };
    let (blobs, media) = media_storage(&args.db, &args.media)?;
    let state = AppState::new(store.clone(), clock.clone(), config)
        .with_vault(vault.clone())
        .with_outbound(outbound.clone(), Arc::new(SystemResolver))
        .with_media(blobs, media);
    // Platforms that fetch media by URL (Instagram, Threads) get one-hour links under the public URL.
    let state = match &args.public_url {
        Some(url) => {
            let key = vault.derive_key(crier_api::media_links::KEY_PURPOSE);
            let links = crier_api::media_links::MediaLinks::new(&key, url)
                .map_err(|err| anyhow::anyhow!("cannot key media links: {err}"))?;
            state.with_media_links(Arc::new(links))
        }
        None => state,
    };
    if args.allow_insecure_smtp {
        tracing::warn!("--allow-insecure-smtp is on: e-mail may go out unencrypted. Never in production");
    }
    let extra_root_certificates = match &args.smtp_ca_file {
        Some(path) => vec![
            std::fs::read_to_string(path)
                .with_context(|| format!("--smtp-ca-file: cannot read {}", path.display()))?,
        ],
        None => Vec::new(),
    };
    let email = EmailSettings { allow_insecure_smtp: args.allow_insecure_smtp, extra_root_certificates };
    // X needs an app of the deployment's own: offered only when it is configured.
    let x = match (&args.x_client_id, &args.x_client_secret) {
        (Some(id), Some(secret)) => Some(XSettings::new(id.clone(), secret.0.clone())),
        (None, None) => None,
        _ => anyhow::bail!("--x-client-id and --x-client-secret go together"),
    };
    let reddit = match (&args.reddit_client_id, &args.reddit_client_secret) {
        (Some(id), Some(secret)) => {
            Some(RedditSettings::new(id.clone(), secret.0.clone(), args.reddit_user_agent.clone()))
        }
        (None, None) => None,
        _ => anyhow::bail!("--reddit-client-id and --reddit-client-secret go together"),
    };
    let slack = match (&args.slack_client_id, &args.slack_client_secret) {
        (Some(id), Some(secret)) => Some(SlackSettings::new(id.clone(), secret.0.clone())),
        (None, None) => None,
        _ => anyhow::bail!("--slack-client-id and --slack-client-secret go together"),
    };
    let pinterest = match (&args.pinterest_client_id, &args.pinterest_client_secret) {
        (Some(id), Some(secret)) => Some(PinterestSettings::new(id.clone(), secret.0.clone())),
        (None, None) => None,
        _ => anyhow::bail!("--pinterest-client-id and --pinterest-client-secret go together"),
    };
    let linkedin = match (&args.linkedin_client_id, &args.linkedin_client_secret) {
        (Some(id), Some(secret)) => {
            Some(LinkedInSettings::new(id.clone(), secret.0.clone(), args.linkedin_api_version.clone()))
        }
        (None, None) => None,
        _ => anyhow::bail!("--linkedin-client-id and --linkedin-client-secret go together"),
    };
    let youtube = match (&args.google_client_id, &args.google_client_secret) {
        (Some(id), Some(secret)) => Some(YouTubeSettings {
            delete_videos: args.youtube_delete,
            ..YouTubeSettings::new(id.clone(), secret.0.clone())
        }),
        (None, None) => None,
        _ => anyhow::bail!("--google-client-id and --google-client-secret go together"),
    };
    if args.youtube_delete && youtube.is_none() {
        anyhow::bail!("--youtube-delete needs --google-client-id and --google-client-secret");
    }
    let tiktok = match (&args.tiktok_client_key, &args.tiktok_client_secret) {
        (Some(key), Some(secret)) => Some(TikTokSettings::new(key.clone(), secret.0.clone())),
        (None, None) => None,
        _ => anyhow::bail!("--tiktok-client-key and --tiktok-client-secret go together"),
    };
    let meta = match (&args.facebook_app_id, &args.facebook_app_secret) {
        (Some(id), Some(secret)) => {
            Some(MetaSettings::new(id.clone(), secret.0.clone(), args.meta_graph_version.clone()))
        }
        (None, None) => None,
        _ => anyhow::bail!("--facebook-app-id and --facebook-app-secret go together"),
    };
    let apps = super::providers::Apps { x, reddit, slack, pinterest, linkedin, youtube, tiktok, meta };
    let providers = Arc::new(super::providers::registry(&state, store.clone(), email, apps));
    let state = state.with_providers(providers.clone());

    // One signal fans out to the HTTP server and the worker.
    let (stop, stopped) = watch::channel(false);
    let shutdown = move |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });

    let worker = matches!(args.role, Role::Worker | Role::All).then(|| {
        let config = WorkerConfig {
            id: format!("{}-{}", hostname(), std::process::id()),
            lease: args.worker_lease,
            batch: args.worker_batch,
            ..WorkerConfig::default()
        };
        let worker = Worker::new(store.clone(), providers.clone(), clock.clone(), config);
        let dispatcher = Dispatcher::new(
            store.clone(),
            vault.clone(),
            OutboundClient::new(outbound.clone(), Arc::new(SystemResolver)),
            clock.clone(),
            DispatcherConfig {
                id: format!("{}-{}-webhooks", hostname(), std::process::id()),
                lease: args.webhook_timeout + Duration::from_secs(5),
                disable_after: args.webhook_disable_after,
                ..DispatcherConfig::default()
            },
        );
        let (until, webhooks_until) = (shutdown(stopped.clone()), shutdown(stopped.clone()));
        tracing::info!(database = store.backend(), "Crier worker started");
        let running = tokio::spawn(async move {
            tokio::join!(worker.run(until), dispatcher.run(webhooks_until));
        });
        // A worker that panicked must not leave a process that looks alive but publishes
        // nothing: exit, so the supervisor restarts it (its jobs are recovered after the lease).
        tokio::spawn(async move {
            if let Err(err) = running.await {
                tracing::error!(error = %err, "the publishing worker died; exiting");
                std::process::exit(70);
            }
        })
    });

    if matches!(args.role, Role::Api | Role::All) {
        tokio::spawn(sweep_uploads(state.clone(), shutdown(stopped.clone())));
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        tracing::info!(database = store.backend(), "Crier listening on http://{address}");
        crier_api::serve(listener, crier_api::build_router(state), shutdown(stopped.clone()).boxed()).await?;
    }
    if let Some(worker) = worker {
        worker.await.context("the worker task failed")?;
    }
    tracing::info!("Crier stopped");
    Ok(())
}

/// The media store the flags name (a folder by default, S3 when a bucket is given), and limits.
pub fn media_storage(db: &DbArgs, media: &MediaArgs) -> anyhow::Result<(BlobStore, MediaConfig)> {
    let blobs = match &media.media_s3_bucket {
        Some(bucket) => BlobStore::s3(&S3Settings {
            bucket: bucket.clone(),
            region: media.media_s3_region.clone(),
            endpoint: media.media_s3_endpoint.clone(),
            access_key_id: media.media_s3_access_key_id.clone(),
            secret_access_key: media.media_s3_secret_access_key.as_ref().map(|s| s.0.clone()),
            allow_http: media.media_s3_allow_http,
            path_style: media.media_s3_path_style,
        })
        .context("cannot set up S3 media storage")?,
        None => {
            let dir = media.media_dir.clone().unwrap_or_else(|| db.data_dir.join("media"));
            BlobStore::local(&dir).with_context(|| format!("cannot use {} for media", dir.display()))?
        }
    };
    if media.media_max_bytes == 0 {
        anyhow::bail!("--media-max-bytes: at least 1");
    }
    let config = MediaConfig {
        max_file_bytes: media.media_max_bytes,
        upload_ttl: media.media_upload_ttl,
        ..MediaConfig::default()
    };
    Ok((blobs, config))
}

/// Drops resumable uploads left unfinished past their time, once a minute.
async fn sweep_uploads(state: AppState, until: impl std::future::Future<Output = ()>) {
    let mut until = std::pin::pin!(until);
    loop {
        match crier_api::media::sweep_expired_uploads(&state).await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "dropped expired uploads"),
            Err(err) => tracing::warn!(error = ?err.problem().detail, "could not sweep expired uploads"),
        }
        tokio::select! {
            () = &mut until => return,
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "crier".to_owned())
}

fn init_logging(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).with_context(|| format!("invalid log filter {filter:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|err| anyhow::anyhow!("cannot set up logging: {err}"))
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

/// The secrets Slack's and TikTok's signed event callbacks are checked with: Slack's signing
/// secret, and TikTok's app (whose client secret signs its webhooks) when TikTok is configured.
fn platform_callbacks(args: &ServeArgs) -> CallbackSecrets {
    CallbackSecrets {
        slack_signing_secret: args.slack_signing_secret.as_ref().map(|s| CallbackSecret::new(s.0.clone())),
        tiktok: match (&args.tiktok_client_key, &args.tiktok_client_secret) {
            (Some(key), Some(secret)) => Some(TikTokApp {
                client_key: key.clone(),
                client_secret: CallbackSecret::new(secret.0.clone()),
            }),
            _ => None,
        },
    }
}
