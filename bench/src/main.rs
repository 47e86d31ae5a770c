//! `bench/run`: Crier's throughput and latency next to baselines run in the same command on the
//! same PostgreSQL database, so the figures are ratios, not machine-dependent absolutes.
//!
//! 1. accept: clients POST 3-target posts with Idempotency-Keys to `crier serve --role api` for a
//!    fixed time; baseline: pgbench, with as many clients, running the statements Crier sends for
//!    one post (authentication, idempotency claim, channel read, the create transaction) on
//!    Crier's tables as Crier's role; a second, lighter line runs only the writes (idempotency
//!    row, post, 3 targets, 3 jobs, key completion) on plain tables without indexes, row-level
//!    security or reads.
//! 2. queue: a worker-only Crier drains a queue of sandbox jobs; baseline: graphile-worker
//!    draining as many no-op jobs with the same concurrency.
//! 3. latency: `crier serve` (API and worker) at half the measured accept rate; accept to
//!    publish start (the first attempt's start) and to published, p50 and p99, from the
//!    server's own timestamps.

mod args;
mod crier;
mod phases;

use anyhow::Result;

#[tokio::main]
async fn main() -> Result<()> {
    let args = args::Args::parse()?;
    let env = crier::BenchEnv::prepare(&args).await?;
    println!(
        "Crier benchmark: PostgreSQL at {}, {} clients, {} s per timed phase",
        args.pg, args.clients, args.seconds
    );

    let accept = phases::accept(&env, &args).await?;
    let pgbench = phases::pgbench(&env, &args).await?;
    let statements = phases::pgbench_crier_statements(&env, &args).await?;
    println!(
        "accept   crier {:>9.1} posts/s (3 targets, Idempotency-Key)   pgbench Crier's statements {:>9.1} tps   ratio {:.2}",
        accept,
        statements,
        accept / statements
    );
    println!(
        "         (pgbench, the same writes on plain tables, no reads:                  {:>9.1} tps   ratio {:.2})",
        pgbench,
        accept / pgbench
    );

    let queue = phases::queue(&env, &args).await?;
    let graphile = phases::graphile(&env, &args).await?;
    println!(
        "queue    crier {:>9.1} jobs/s through the sandbox          graphile-worker     {:>9.1} jobs/s ratio {:.2}",
        queue,
        graphile,
        queue / graphile
    );

    let rate = (accept / 2.0).max(1.0);
    let (start50, start99, published50, published99, count) = phases::latency(&env, &args, rate).await?;
    println!(
        "latency  at {rate:.0} posts/s (half load, {count} targets): accept->publish start p50 {start50:.1} ms, \
         p99 {start99:.1} ms (goal p99 < 250 ms); accept->published p50 {published50:.1} ms, p99 {published99:.1} ms"
    );
    Ok(())
}
