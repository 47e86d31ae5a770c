use anyhow::Context;
use crier_core::{Actor, Clock, NewWorkspace, RequestOrigin, SystemClock};

use crate::cli::DbArgs;

pub async fn create(db: &DbArgs, name: &str) -> anyhow::Result<()> {
    let opened = super::open(db).await?;
    let workspace = NewWorkspace::new(name, SystemClock.now()).context("invalid workspace name")?;
    let created = opened
        .vault
        .create_workspace(&workspace, Actor::cli(), &RequestOrigin::default())
        .await
        .context("creating the workspace")?;
    eprintln!("created workspace {:?}", created.name);
    println!("{}", created.id);
    Ok(())
}

pub async fn list(db: &DbArgs) -> anyhow::Result<()> {
    let store = super::open_store(db).await?;
    for workspace in store.list_workspaces().await? {
        println!("{}\t{}\t{}", workspace.id, workspace.created_at.to_rfc3339(), workspace.name);
    }
    Ok(())
}
