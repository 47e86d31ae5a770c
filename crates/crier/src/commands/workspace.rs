use anyhow::Context;
use crier_core::{Clock, NewWorkspace, SystemClock};

use crate::cli::DbArgs;

pub async fn create(db: &DbArgs, name: &str) -> anyhow::Result<()> {
    let store = super::open_store(db).await?;
    let workspace = NewWorkspace::new(name, SystemClock.now()).context("invalid workspace name")?;
    let created = store
        .create_workspace(&workspace)
        .await
        .context("creating the workspace")?;
    eprintln!("created workspace {:?}", created.name);
    println!("{}", created.id);
    Ok(())
}

pub async fn list(db: &DbArgs) -> anyhow::Result<()> {
    let store = super::open_store(db).await?;
    for workspace in store.list_workspaces().await? {
        println!(
            "{}\t{}\t{}",
            workspace.id,
            workspace.created_at.to_rfc3339(),
            workspace.name
        );
    }
    Ok(())
}
