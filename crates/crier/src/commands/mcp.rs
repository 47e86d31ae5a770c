//! `crier mcp --stdio`: the MCP server for one local agent, on stdin/stdout. Logs go to stderr
//! (stdout carries the protocol).

use std::sync::Arc;

use crier_api::{ApiConfig, AppState};
use crier_core::{Clock, SystemClock};
use crier_net::{OutboundPolicy, SystemResolver};
use crier_providers::Registry;
use crier_providers::sandbox::Sandbox;

use crate::cli::McpArgs;

pub async fn run(args: McpArgs) -> anyhow::Result<()> {
    let opened = super::open(&args.db).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let providers =
        Arc::new(Registry::default().with(Arc::new(Sandbox::new(opened.store.clone(), clock.clone()))));
    let (blobs, media) = super::serve::media_storage(&args.db, &args.media)?;
    let state = AppState::new(opened.store, clock, ApiConfig::default())
        .with_providers(providers)
        .with_vault(opened.vault)
        .with_outbound(OutboundPolicy::default(), Arc::new(SystemResolver))
        .with_media(blobs, media);
    crier_api::mcp::serve_stdio(state, args.api_key.0)
        .await
        .map_err(|err| anyhow::anyhow!("{}", err.problem().detail))
}
