use anyhow::{anyhow, bail};
use crier_core::{ChainVerifier, WorkspaceId};

use crate::cli::DbArgs;

const PAGE: i64 = 500;

/// Walks each chain; prints one line per workspace and fails on the first broken link.
pub async fn verify(db: &DbArgs, workspace: Option<&str>) -> anyhow::Result<()> {
    let store = super::open_store(db).await?;
    let workspaces: Vec<WorkspaceId> = match workspace {
        Some(raw) => {
            let id = raw.parse().map_err(|err| anyhow!("--workspace: {err}"))?;
            store.get_workspace(id).await.map_err(|_| anyhow!("no such workspace"))?;
            vec![id]
        }
        None => store.list_workspaces().await?.into_iter().map(|w| w.id).collect(),
    };
    let mut broken = 0;
    for id in workspaces {
        let mut verifier = ChainVerifier::new(id);
        let mut outcome = Ok(());
        'pages: loop {
            let page = store.list_audit_events(id, verifier.rows_checked(), PAGE).await?;
            if page.is_empty() {
                break;
            }
            for row in &page {
                if let Err(link) = verifier.check(row) {
                    outcome = Err(link);
                    break 'pages;
                }
            }
        }
        match outcome {
            Ok(()) => {
                let head: String = verifier.head().iter().map(|b| format!("{b:02x}")).collect();
                println!("{id}: {} events, chain intact, head {head}", verifier.rows_checked());
            }
            Err(link) => {
                broken += 1;
                println!("{id}: BROKEN at row {} ({}): {}", link.seq, link.id, link.reason);
            }
        }
    }
    if broken > 0 {
        bail!("{broken} audit chain(s) broken");
    }
    Ok(())
}
