//! The `crier` binary: one executable for serving, migrating and administering Crier.

mod cli;
mod commands;
mod settings;

use std::process::ExitCode;

use cli::{AuditCommand, Command, KeyCommand, UserCommand, VaultCommand, WorkspaceCommand};

fn main() -> ExitCode {
    let cli = match settings::parse() {
        Ok(cli) => cli,
        Err(err) => {
            eprintln!("crier: {err:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("crier: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("crier: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => commands::serve::run(*args).await,
        Command::Mcp(args) => commands::mcp::run(*args).await,
        Command::User(UserCommand::Create { db, workspace, email, role, owner, password }) => {
            let role = if owner { "owner".to_owned() } else { role };
            commands::user::create(&db, &workspace, &email, &role, password.map(|p| p.0)).await
        }
        Command::Migrate(db) => commands::migrate::run(&db).await,
        Command::Openapi => {
            println!("{}", crier_api::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Workspace(WorkspaceCommand::Create { db, name }) => {
            commands::workspace::create(&db, &name).await
        }
        Command::Workspace(WorkspaceCommand::List { db }) => commands::workspace::list(&db).await,
        Command::Key(KeyCommand::Create { db, workspace, scopes, name, expires_in, test }) => {
            commands::key::create(&db, &workspace, &scopes, &name, expires_in, test).await
        }
        Command::Key(KeyCommand::List { db, workspace }) => commands::key::list(&db, &workspace).await,
        Command::Key(KeyCommand::Revoke { db, workspace, key }) => {
            commands::key::revoke(&db, &workspace, &key).await
        }
        Command::Key(KeyCommand::Rotate { db, workspace, key, grace }) => {
            commands::key::rotate(&db, &workspace, &key, grace).await
        }
        Command::Vault(VaultCommand::GenerateKey) => {
            commands::vault::generate_key();
            Ok(())
        }
        Command::Vault(VaultCommand::RotateMaster { db, new_key, throttle }) => {
            commands::vault::rotate_master(&db, new_key.as_ref(), throttle).await
        }
        Command::Vault(VaultCommand::RotateWorkspace { db, workspace }) => {
            commands::vault::rotate_workspace(&db, &workspace).await
        }
        Command::Audit(AuditCommand::Verify { db, workspace }) => {
            commands::audit::verify(&db, workspace.as_deref()).await
        }
    }
}
