//! A fresh `crier_bench` database, a workspace, a key and three sandbox channels, and Crier
//! processes started on it as the service role (row-level security in force, as in production).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use sqlx::{Connection, PgConnection};

use crate::args::Args;

const DB: &str = "crier_bench";
const APP_ROLE: &str = "crier_bench_app";

pub struct BenchEnv {
    pub owner_url: String,
    pub app_url: String,
    crier: String,
    master_key: String,
    data_dir: std::path::PathBuf,
    pub api_key: String,
}

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn stop(mut self) -> Result<()> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status()?;
        self.child.wait()?;
        Ok(())
    }
}

fn run(command: &mut Command) -> Result<String> {
    let out = command.output().with_context(|| format!("running {command:?}"))?;
    if !out.status.success() {
        bail!("{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

impl BenchEnv {
    pub async fn prepare(args: &Args) -> Result<Self> {
        let mut admin =
            PgConnection::connect(&format!("{}/postgres", args.pg)).await.context("PostgreSQL")?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")).execute(&mut admin).await?;
        sqlx::query(&format!("CREATE DATABASE {DB}")).execute(&mut admin).await?;
        let owner_url = format!("{}/{DB}", args.pg);
        let app_url = format!("{}/{DB}", args.pg.replacen("://postgres@", &format!("://{APP_ROLE}@"), 1));
        let data_dir = std::env::temp_dir().join(format!("crier-bench-{}", std::process::id()));
        std::fs::create_dir_all(&data_dir)?;
        let mut env = Self {
            owner_url,
            app_url,
            crier: args.crier.clone(),
            master_key: String::new(),
            data_dir,
            api_key: String::new(),
        };
        env.master_key = run(Command::new(&env.crier).args(["vault", "generate-key"]))?;
        run(env.command().args(["migrate"]).env("CRIER_DATABASE_URL", &env.owner_url))?;
        sqlx::query(&format!(
            "DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN IN ROLE crier_app; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ))
        .execute(&mut admin)
        .await?;
        let workspace = run(env.command().args(["workspace", "create", "Benchmark"]))?;
        env.api_key =
            run(env.command().args(["key", "create", "--workspace", &workspace, "--scopes", "all"]))?;
        Ok(env)
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.crier);
        command
            .env("CRIER_DATABASE_URL", &self.app_url)
            .env("CRIER_MIGRATE_DATABASE_URL", &self.owner_url)
            .env("CRIER_MASTER_KEY", &self.master_key)
            .env("CRIER_DATA_DIR", &self.data_dir)
            .env("CRIER_LOG", "warn,crier::commands::serve=info");
        command
    }

    /// Starts `crier serve` with a role and waits for its start-up line.
    pub fn serve(&self, role: &str, batch: usize) -> Result<Server> {
        let mut child = self
            .command()
            .args(["serve"])
            .env("CRIER_ROLE", role)
            .env("CRIER_LISTEN", "127.0.0.1:0")
            .env("CRIER_WORKER_BATCH", batch.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().context("stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let wait_for = if role == "worker" { "worker started" } else { "listening on http://" };
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find(wait_for) {
                    let base = line[at..]
                        .trim_start_matches("listening on ")
                        .split_whitespace()
                        .next()
                        .unwrap_or("");
                    let _ = tx.send(base.to_owned());
                }
            }
        });
        let base = rx.recv_timeout(Duration::from_secs(60)).context("crier serve did not start")?;
        Ok(Server { child, base })
    }

    pub async fn owner(&self) -> Result<PgConnection> {
        Ok(PgConnection::connect(&self.owner_url).await?)
    }
}

impl Drop for BenchEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
