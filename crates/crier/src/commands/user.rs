//! `crier user create`: an operator-made person who can sign in on the OAuth consent page.

use std::io::BufRead;

use anyhow::Context;
use crier_core::{Actor, Clock, NewAuditEvent, RequestOrigin, SystemClock, User, WorkspaceId};

use crate::cli::DbArgs;

const ROLES: [&str; 4] = ["owner", "admin", "member", "viewer"];
const MIN_PASSWORD_CHARS: usize = 12;

pub async fn create(
    db: &DbArgs,
    workspace: &str,
    email: &str,
    role: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let workspace: WorkspaceId = workspace.parse().context("--workspace is not a workspace id")?;
    if !ROLES.contains(&role) {
        anyhow::bail!("--role: one of {}", ROLES.join(", "));
    }
    let email = email.trim().to_ascii_lowercase();
    if !email.contains('@') || email.len() > 254 {
        anyhow::bail!("--email is not an email address");
    }
    let password = match password {
        Some(password) => password,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        anyhow::bail!("the password needs at least {MIN_PASSWORD_CHARS} characters");
    }
    let store = super::open_store(db).await?;
    store.get_workspace(workspace).await.context("no such workspace")?;
    let hash = crier_api::oauth::hash_password(&password).map_err(|err| anyhow::anyhow!("hashing: {err}"))?;
    let now = SystemClock.now();
    let user = User {
        id: uuid::Uuid::now_v7(),
        email: email.clone(),
        password_hash: hash,
        created_at: now,
        totp: None,
    };
    let audit =
        NewAuditEvent::new(now, Actor::cli(), "user.created", user.id.to_string(), &RequestOrigin::default());
    store
        .create_user(&user, workspace, role, &audit)
        .await
        .context("creating the user (is the email taken?)")?;
    eprintln!("created user {email} ({role})");
    println!("{}", user.id);
    Ok(())
}
