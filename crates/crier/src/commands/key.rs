use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use crier_core::{
    Actor, ApiKeyId, ApiKeyMode, Clock, IssueKey, NewApiKey, NewAuditEvent, RequestOrigin, ScopeSet,
    StoreError, SystemClock, Timestamp, WorkspaceId,
};

use crate::cli::DbArgs;

fn workspace_id(raw: &str) -> anyhow::Result<WorkspaceId> {
    raw.parse().map_err(|err| anyhow!("--workspace: {err}"))
}

fn key_id(raw: &str) -> anyhow::Result<ApiKeyId> {
    raw.parse().map_err(|err| anyhow!("{err}"))
}

fn chrono_duration(d: Duration) -> anyhow::Result<chrono::Duration> {
    chrono::Duration::from_std(d).context("duration too long")
}

fn audit(at: Timestamp, action: &str, target: String) -> NewAuditEvent {
    NewAuditEvent::new(at, Actor::cli(), action, target, &RequestOrigin::default())
}

/// The most a grace period may be, as over the API.
const MAX_GRACE: Duration = Duration::from_secs(crier_api::routes::api_keys::MAX_GRACE_SECONDS);

fn explain(err: StoreError, what: &str) -> anyhow::Error {
    match err {
        StoreError::NotFound => anyhow!("no such {what}"),
        other => anyhow::Error::new(other),
    }
}

pub async fn create(
    db: &DbArgs,
    workspace: &str,
    scopes: &str,
    name: &str,
    expires_in: Option<Duration>,
    test: bool,
) -> anyhow::Result<()> {
    let workspace_id = workspace_id(workspace)?;
    let scopes: ScopeSet =
        if scopes.trim() == "all" { ScopeSet::all() } else { scopes.parse().context("--scopes")? };
    if scopes.is_empty() {
        bail!("--scopes: give at least one scope (or `all`)");
    }
    let store = super::open(db).await?.store;
    store.get_workspace(workspace_id).await.map_err(|err| explain(err, "workspace"))?;
    let now = SystemClock.now();
    let expires_at = match expires_in {
        None => None,
        Some(d) => Some(now.checked_add_signed(chrono_duration(d)?).context("--expires-in is too far away")?),
    };
    let mode = if test { ApiKeyMode::Test } else { ApiKeyMode::Live };
    let (key, secret) = NewApiKey::issue(IssueKey { workspace_id, name, mode, scopes, now, expires_at })?;
    let event = audit(now, "api_key.created", key.id.to_string());
    let stored = store.insert_api_key(&key, &event).await.map_err(|err| explain(err, "workspace"))?;
    eprintln!("created {} ({}); its secret follows and will not be shown again:", stored.id, stored.scopes);
    println!("{}", secret.expose());
    Ok(())
}

pub async fn list(db: &DbArgs, workspace: &str) -> anyhow::Result<()> {
    let workspace_id = workspace_id(workspace)?;
    let store = super::open_store(db).await?;
    store.get_workspace(workspace_id).await.map_err(|err| explain(err, "workspace"))?;
    let now = SystemClock.now();
    println!("id\tstatus\thint\tname\tscopes\texpires_at\tlast_used_at");
    for key in store.list_api_keys(workspace_id).await? {
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or("-".to_owned(), |t| t.to_rfc3339());
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            key.id,
            key.status(now).as_str(),
            key.redacted,
            key.name,
            key.scopes,
            time(key.expires_at),
            time(key.last_used_at)
        );
    }
    Ok(())
}

pub async fn revoke(db: &DbArgs, workspace: &str, key: &str) -> anyhow::Result<()> {
    let (workspace_id, key_id) = (workspace_id(workspace)?, key_id(key)?);
    let store = super::open(db).await?.store;
    let now = SystemClock.now();
    let revoked = store
        .revoke_api_key(workspace_id, key_id, now, &audit(now, "api_key.revoked", key_id.to_string()))
        .await
        .map_err(|err| explain(err, "API key in that workspace"))?;
    eprintln!("revoked {}", revoked.id);
    Ok(())
}

pub async fn rotate(db: &DbArgs, workspace: &str, key: &str, grace: Duration) -> anyhow::Result<()> {
    let (workspace_id, key_id) = (workspace_id(workspace)?, key_id(key)?);
    if grace > MAX_GRACE {
        bail!("--grace: at most 7 days");
    }
    let store = super::open(db).await?.store;
    let now = SystemClock.now();
    let old = store
        .get_api_key(workspace_id, key_id)
        .await
        .map_err(|err| explain(err, "API key in that workspace"))?;
    let (successor, secret) = old.successor(now);
    let old_expires_at = old.expiry_after_rotation(now, chrono_duration(grace)?);
    let stored = store
        .rotate_api_key(
            workspace_id,
            key_id,
            &successor,
            old_expires_at,
            &audit(now, "api_key.rotated", key_id.to_string()),
        )
        .await
        .map_err(|err| explain(err, "API key in that workspace"))?;
    eprintln!(
        "rotated {key_id} -> {}; the old key works until {}. The new secret follows and will not be shown again:",
        stored.id,
        old_expires_at.to_rfc3339()
    );
    println!("{}", secret.expose());
    Ok(())
}
