use anyhow::{Context, Result, bail};

/// Hand-parsed: a handful of numeric options does not need a parser crate.
#[derive(Debug, Clone)]
pub struct Args {
    pub crier: String,
    pub graphile: String,
    /// Server part of the PostgreSQL URL, without a database.
    pub pg: String,
    pub seconds: u64,
    pub clients: usize,
    pub queue_jobs: usize,
    pub worker_batch: usize,
}

const HELP: &str = "crier-bench [--seconds 10] [--clients 32] [--queue-jobs 6000] [--worker-batch 128] \
                    [--pg postgres://postgres@127.0.0.1:5432] --crier PATH --graphile PATH";

impl Args {
    pub fn parse() -> Result<Self> {
        let mut args = Args {
            crier: String::new(),
            graphile: String::new(),
            pg: "postgres://postgres@127.0.0.1:5432".into(),
            seconds: 10,
            clients: 32,
            queue_jobs: 6000,
            worker_batch: 128,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            if flag == "--help" || flag == "-h" {
                println!("{HELP}");
                std::process::exit(0);
            }
            let value = it.next().with_context(|| format!("{flag} needs a value; {HELP}"))?;
            match flag.as_str() {
                "--crier" => args.crier = value,
                "--graphile" => args.graphile = value,
                "--pg" => args.pg = value,
                "--seconds" => args.seconds = value.parse().context("--seconds")?,
                "--clients" => args.clients = value.parse().context("--clients")?,
                "--queue-jobs" => args.queue_jobs = value.parse().context("--queue-jobs")?,
                "--worker-batch" => args.worker_batch = value.parse().context("--worker-batch")?,
                other => bail!("unknown option {other}; {HELP}"),
            }
        }
        if args.crier.is_empty() || args.graphile.is_empty() {
            bail!("{HELP}");
        }
        Ok(args)
    }
}
