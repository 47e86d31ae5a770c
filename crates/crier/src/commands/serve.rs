use std::sync::Arc;

use anyhow::Context;
use crier_api::{ApiConfig, AppState};
use crier_core::SystemClock;
use tracing_subscriber::EnvFilter;

use crate::cli::{LogFormat, ServeArgs};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(&args.log, args.log_format)?;
    if args.key_grace_period.as_secs() > crier_api::routes::api_keys::MAX_GRACE_SECONDS {
        anyhow::bail!("--key-grace-period: at most 7 days");
    }
    let store = super::open(&args.db).await?.store;
    let config = ApiConfig {
        public_url: args.public_url.clone(),
        max_body_bytes: args.max_body_bytes,
        request_timeout: args.request_timeout,
        key_grace_period: args.key_grace_period,
    };
    let state = AppState::new(store.clone(), Arc::new(SystemClock), config);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(database = store.backend(), "Crier listening on http://{address}");
    crier_api::serve(listener, crier_api::build_router(state), shutdown_signal()).await?;
    tracing::info!("Crier stopped");
    Ok(())
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
