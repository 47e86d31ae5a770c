use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::args::Args;
use crate::crier::{BenchEnv, Server};

async fn channels(http: &reqwest::Client, base: &str, key: &str) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for i in 0..CHANNELS {
        let reply: Value = http
            .post(format!("{base}/v1/channels"))
            .bearer_auth(key)
            .json(&json!({"provider": "sandbox", "name": format!("bench {i}"), "config": {}}))
            .send()
            .await?
            .json()
            .await?;
        ids.push(reply["id"].as_str().context("channel id")?.to_owned());
    }
    Ok(ids)
}

/// Sandbox channels in the workspace; each post goes to 3 of them, in rotation, as posts to
/// many accounts would (a worker publishes to one account at a time).
const CHANNELS: usize = 30;

fn post_body(channels: &[String], n: usize) -> Value {
    let targets: Vec<Value> =
        (0..3).map(|k| json!({"channel_id": channels[(n * 3 + k) % channels.len()]})).collect();
    json!({"text": format!("benchmark post {n}"), "targets": targets})
}

async fn send(http: &reqwest::Client, base: &str, key: &str, body: &Value, idem: &str) -> Result<bool> {
    let reply = http
        .post(format!("{base}/v1/posts"))
        .bearer_auth(key)
        .header("idempotency-key", idem)
        .json(body)
        .send()
        .await?;
    Ok(reply.status() == 202)
}

/// `clients` concurrent clients posting until `deadline`; answers how many posts were accepted.
async fn drive(
    server: &Server,
    key: &str,
    channels: &Arc<Vec<String>>,
    clients: usize,
    until: Instant,
    tag: &str,
) -> usize {
    let http = reqwest::Client::new();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (http, base, key, tag) = (http.clone(), server.base.clone(), key.to_owned(), tag.to_owned());
            let (channels, accepted, counter) = (channels.clone(), accepted.clone(), counter.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    if let Ok(true) =
                        send(&http, &base, &key, &post_body(&channels, n), &format!("{tag}-{n}")).await
                    {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    futures::future::join_all(tasks).await;
    accepted.load(Ordering::Relaxed)
}

/// Posts accepted per second by the API alone (no worker), `clients` concurrent clients, after
/// a warm-up and `ANALYZE`.
///
/// Why the warm-up: a new database has no statistics until autovacuum's first pass, about a
/// minute after the tables fill, and until then PostgreSQL plans every lookup as if the tables
/// were empty. The benchmark measures the state a running installation is in, as pgbench does,
/// whose own initialisation ends with `VACUUM ANALYZE`.
pub async fn accept(env: &BenchEnv, args: &Args) -> Result<f64> {
    let server = env.serve("api", args.worker_batch)?;
    let channels = Arc::new(channels(&reqwest::Client::new(), &server.base, &env.api_key).await?);
    let warm_up = Instant::now() + Duration::from_secs(WARM_UP_SECONDS);
    drive(&server, &env.api_key, &channels, args.clients, warm_up, "warm-up").await;
    sqlx::query("ANALYZE").execute(&mut env.owner().await?).await?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let accepted = drive(&server, &env.api_key, &channels, args.clients, deadline, "accept").await;
    let elapsed = started.elapsed().as_secs_f64();
    server.stop()?;
    Ok(accepted as f64 / elapsed)
}

const WARM_UP_SECONDS: u64 = 3;

/// pgbench running Crier's accept writes as plain SQL on equivalent tables.
pub async fn pgbench(env: &BenchEnv, args: &Args) -> Result<f64> {
    let mut owner = env.owner().await?;
    for statement in [
        "CREATE SCHEMA pgbench_equiv",
        "CREATE TABLE pgbench_equiv.idempotency_keys (key text PRIMARY KEY, fingerprint bytea NOT NULL, \
         status text NOT NULL, locked_until timestamptz NOT NULL, response_body bytea, created_at timestamptz NOT NULL, \
         expires_at timestamptz NOT NULL)",
        "CREATE TABLE pgbench_equiv.posts (id uuid PRIMARY KEY, text text NOT NULL, created_at timestamptz NOT NULL)",
        "CREATE TABLE pgbench_equiv.post_targets (id uuid PRIMARY KEY, post_id uuid NOT NULL REFERENCES pgbench_equiv.posts, \
         channel_id uuid NOT NULL, status text NOT NULL, run_at timestamptz NOT NULL, attempts int NOT NULL DEFAULT 0, \
         options jsonb NOT NULL DEFAULT 'null', created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)",
        "CREATE TABLE pgbench_equiv.jobs (target_id uuid PRIMARY KEY REFERENCES pgbench_equiv.post_targets ON DELETE CASCADE, \
         channel_id uuid NOT NULL, run_at timestamptz NOT NULL, lease_owner text, lease_expires_at timestamptz)",
        "CREATE INDEX ON pgbench_equiv.jobs (run_at) WHERE lease_owner IS NULL",
    ] {
        sqlx::query(statement).execute(&mut owner).await?;
    }
    let script = "\\set n random(1, 2000000000)\n\
        INSERT INTO pgbench_equiv.idempotency_keys VALUES (:client_id::text || '-' || :n::text, '\\x00', 'in_flight', \
        now() + interval '31 seconds', NULL, now(), now() + interval '1 day') ON CONFLICT DO NOTHING;\n\
        BEGIN;\n\
        SELECT set_config('crier.workspace_id', '00000000-0000-0000-0000-000000000001', true);\n\
        WITH p AS (INSERT INTO pgbench_equiv.posts VALUES (gen_random_uuid(), 'benchmark post', now()) RETURNING id), \
        t AS (INSERT INTO pgbench_equiv.post_targets (id, post_id, channel_id, status, run_at, created_at, updated_at) \
        SELECT gen_random_uuid(), p.id, gen_random_uuid(), 'queued', now(), now(), now() FROM p, generate_series(1, 3) \
        RETURNING id, channel_id) INSERT INTO pgbench_equiv.jobs (target_id, channel_id, run_at) SELECT id, channel_id, now() FROM t;\n\
        UPDATE pgbench_equiv.idempotency_keys SET status = 'done', response_body = '\\x00' \
        WHERE key = :client_id::text || '-' || :n::text;\n\
        SELECT pg_notify('pgbench_equiv', '');\n\
        COMMIT;\n";
    run_pgbench(script, &env.owner_url, "simple", args)
}

/// pgbench running the very statements Crier's accept path sends, on Crier's own tables, as
/// Crier's unprivileged role (row-level security in force), with prepared statements as Crier's
/// driver uses them: authentication (`crier_api_key_by_hash`), the idempotency claim, the read of
/// the post's 3 channels, then one transaction with the one statement that writes the post, its
/// targets and jobs, completes the key and notifies. What is left between the two figures is
/// Crier's own work (HTTP, JSON, validation) and its load generator's. Its rows are deleted
/// afterwards, so the queue phase sees only the accept phase's.
pub async fn pgbench_crier_statements(env: &BenchEnv, args: &Args) -> Result<f64> {
    let mut owner = env.owner().await?;
    let (hash, workspace): (Vec<u8>, uuid::Uuid) =
        sqlx::query_as("SELECT key_hash, workspace_id FROM api_key_lookup LIMIT 1")
            .fetch_one(&mut owner)
            .await?;
    let channels: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM channels WHERE workspace_id = $1 ORDER BY id LIMIT 3")
            .bind(workspace)
            .fetch_all(&mut owner)
            .await?;
    if channels.len() < 3 {
        bail!("the accept phase left fewer than 3 channels");
    }
    let hash: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    let channels = format!("ARRAY['{}', '{}', '{}']::uuid[]", channels[0], channels[1], channels[2]);
    let key = ":client_id::text || '-pgbench-' || :n::text";
    let script = format!(
        "\\set n random(1, 2000000000)\n\
        SELECT workspace_id, id, scopes, expires_at, revoked_at FROM crier_api_key_by_hash('\\x{hash}');\n\
        SELECT crier_claim_idempotency_key('{workspace}', {key}, '\\x00', now() + interval '31 seconds', now(), \
        now() + interval '1 day');\n\
        SELECT id, provider, config, status FROM crier_channels_by_ids('{workspace}', {channels});\n\
        BEGIN;\n\
        SELECT set_config('crier.workspace_id', '{workspace}', true);\n\
        WITH p AS (INSERT INTO posts (workspace_id, id, text, media, scheduled_at, created_at) \
        VALUES ('{workspace}', gen_random_uuid(), 'pgbench post', '[]', NULL, now()) RETURNING id), \
        t AS (INSERT INTO post_targets (workspace_id, id, post_id, channel_id, text, options, status, run_at, \
        attempts, created_at, updated_at) SELECT '{workspace}', gen_random_uuid(), p.id, c, NULL, 'null', 'queued', \
        now(), 0, now(), now() FROM p, unnest({channels}) AS c RETURNING id, channel_id), \
        j AS (INSERT INTO jobs (workspace_id, target_id, channel_id, run_at) SELECT '{workspace}', id, channel_id, \
        now() FROM t), \
        r AS (UPDATE idempotency_keys SET status = 'done', response_status = 202, response_body = '\\x00' \
        WHERE workspace_id = '{workspace}' AND key = {key} AND status = 'in_flight' RETURNING 1) \
        SELECT (SELECT COUNT(*) FROM r), pg_notify('crier_jobs', COALESCE(current_schema(), ''));\n\
        COMMIT;\n"
    );
    let tps = run_pgbench(&script, &env.app_url, "prepared", args)?;
    for cleanup in [
        "DELETE FROM post_targets WHERE post_id IN (SELECT id FROM posts WHERE text = 'pgbench post')",
        "DELETE FROM posts WHERE text = 'pgbench post'",
        "DELETE FROM idempotency_keys WHERE key LIKE '%-pgbench-%'",
    ] {
        sqlx::query(cleanup).execute(&mut owner).await?;
    }
    Ok(tps)
}

/// Runs `script` with pgbench (`mode`: simple or prepared) and answers its tps.
fn run_pgbench(script: &str, url: &str, mode: &str, args: &Args) -> Result<f64> {
    let path = std::env::temp_dir().join(format!("crier-bench-{}-{mode}.sql", std::process::id()));
    std::fs::write(&path, script)?;
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-M", mode, "-c", &args.clients.to_string(), "-j", "2", "-T", &args.seconds.to_string()])
        .arg("-f")
        .arg(&path)
        .arg(url)
        .output()
        .context("pgbench (Debian: postgresql-contrib or postgresql-client)")?;
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("pgbench failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    }
    let tps = stdout
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .context("pgbench printed no tps")?;
    Ok(tps)
}

async fn count(env: &BenchEnv, sql: &str) -> Result<i64> {
    let mut owner = env.owner().await?;
    Ok(sqlx::query_scalar(sql).fetch_one(&mut owner).await?)
}

/// Jobs per second a worker-only Crier drains through the sandbox (the accept phase's queue,
/// trimmed to `queue_jobs`).
pub async fn queue(env: &BenchEnv, args: &Args) -> Result<f64> {
    let mut owner = env.owner().await?;
    sqlx::query("DELETE FROM jobs WHERE target_id IN (SELECT target_id FROM jobs ORDER BY run_at OFFSET $1)")
        .bind(i64::try_from(args.queue_jobs)?)
        .execute(&mut owner)
        .await?;
    let jobs = count(env, "SELECT count(*) FROM jobs").await?;
    if jobs == 0 {
        bail!("the accept phase queued nothing");
    }
    let started = Instant::now();
    let worker = env.serve("worker", args.worker_batch)?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while count(env, "SELECT count(*) FROM jobs").await? > 0 {
        if Instant::now() > deadline {
            bail!("the worker did not drain the queue in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    worker.stop()?;
    let failed =
        count(env, "SELECT count(*) FROM post_targets WHERE status NOT IN ('published', 'queued')").await?;
    if failed > 0 {
        bail!("{failed} targets did not publish");
    }
    Ok(jobs as f64 / elapsed)
}

/// graphile-worker draining as many no-op jobs with the worker's batch as concurrency.
pub async fn graphile(env: &BenchEnv, args: &Args) -> Result<f64> {
    let out = std::process::Command::new("node")
        .arg(&args.graphile)
        .arg(&env.owner_url)
        .arg(args.queue_jobs.to_string())
        .arg(args.worker_batch.to_string())
        .output()
        .context("node")?;
    if !out.status.success() {
        bail!("graphile-worker baseline failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(line.lines().last().unwrap_or("{}"))?;
    result["jobs_per_second"].as_f64().context("graphile-worker printed no rate")
}

/// Accept to publish start and accept to published, p50 and p99 in milliseconds, and the count.
pub type LatencyFigures = (f64, f64, f64, f64, i64);

/// Latency under `rate` posts/s for `seconds`, with API and worker in one process, from the
/// server's own timestamps: `created_at`, the first attempt's `started_at`, `published_at`.
pub async fn latency(env: &BenchEnv, args: &Args, rate: f64) -> Result<LatencyFigures> {
    let mut owner = env.owner().await?;
    sqlx::query("DELETE FROM jobs").execute(&mut owner).await?;
    let server = env.serve("all", args.worker_batch)?;
    let http = reqwest::Client::new();
    let channels = Arc::new(channels(&http, &server.base, &env.api_key).await?);
    let since: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT now()").fetch_one(&mut owner).await?;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let total = (rate * args.seconds as f64) as usize;
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        ticker.tick().await;
        let (http, base, key, channels) =
            (http.clone(), server.base.clone(), env.api_key.clone(), channels.clone());
        tasks.push(tokio::spawn(async move {
            let _ = send(&http, &base, &key, &post_body(&channels, n), &format!("latency-{n}")).await;
        }));
    }
    futures::future::join_all(tasks).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM post_targets WHERE created_at >= $1 AND status <> 'published'",
        )
        .bind(since)
        .fetch_one(&mut owner)
        .await?;
        if waiting == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("{waiting} targets not published 2 minutes after the latency phase");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Publish start is the first attempt's start: the attempt row is written just before the
    // provider is called.
    let figures: LatencyFigures = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY started), \
         percentile_cont(0.99) WITHIN GROUP (ORDER BY started), \
         percentile_cont(0.5) WITHIN GROUP (ORDER BY published), \
         percentile_cont(0.99) WITHIN GROUP (ORDER BY published), count(*) \
         FROM (SELECT extract(epoch FROM (SELECT min(a.started_at) FROM publish_attempts a \
                   WHERE a.workspace_id = t.workspace_id AND a.target_id = t.id) - t.created_at)::float8 * 1000 AS started, \
               extract(epoch FROM t.published_at - t.created_at)::float8 * 1000 AS published \
               FROM post_targets t WHERE t.created_at >= $1) s",
    )
    .bind(since)
    .fetch_one(&mut owner)
    .await?;
    server.stop()?;
    Ok(figures)
}
