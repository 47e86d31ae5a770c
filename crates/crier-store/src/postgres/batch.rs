//! Set-based statements for the worker's batches on PostgreSQL: one statement per step for the
//! whole batch (arrays and `unnest`), instead of one per job. A worker's batch is thus a handful
//! of round trips, whatever its size. They cover the common path (every lease held, every target
//! still waiting; outcomes `published`); anything else answers `None` and the caller redoes the
//! batch job by job with the shared statements, which handle every case.

use std::collections::HashMap;

use crier_core::{
    AttemptId, AttemptOutcome, ClaimedJob, FinishedAttempt, JobRef, NewEvent, StoreResult, Timestamp,
    WorkspaceId,
};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::PgStore;
use crate::error::map_sqlx;
use crate::rows::DbTime;
use crate::rows_media::media_ids_from_json;
use crate::rows_publishing::{ChannelRow, DbJson, TargetRow, sql};
use crate::rows_webhooks::id_millis;
use crate::rows_webhooks::sql::FAN_OUT_EVENTS_POSTGRES;

const HOLD_LEASES: &str = "UPDATE jobs SET lease_owner = $2 WHERE workspace_id = $1 AND target_id = ANY($3) \
     AND lease_owner = $2 AND lease_expires_at > $4 RETURNING target_id";
const START_TARGETS: &str = "UPDATE post_targets SET status = 'publishing', attempts = attempts + 1, \
     updated_at = $3 WHERE workspace_id = $1 AND id = ANY($2) \
     AND status IN ('scheduled', 'queued', 'retry_scheduled') RETURNING id";
const INSERT_ATTEMPTS: &str = "INSERT INTO publish_attempts (workspace_id, id, target_id, started_at) \
     SELECT $1, v.id, v.target, $4 FROM unnest($2::uuid[], $3::uuid[]) AS v(id, target)";
const POST_TEXTS: &str = "SELECT t.id, p.text, p.media FROM post_targets t JOIN posts p \
     ON p.workspace_id = t.workspace_id AND p.id = t.post_id WHERE t.workspace_id = $1 AND t.id = ANY($2)";

const CLOSE_PUBLISHED: &str = "UPDATE publish_attempts a SET outcome = 'published', finished_at = $2, \
     provider_post_id = v.pid FROM unnest($3::uuid[], $4::uuid[], $5::text[]) AS v(id, target, pid) \
     WHERE a.workspace_id = $1 AND a.id = v.id AND a.target_id = v.target AND a.outcome IS NULL";
const TARGETS_PUBLISHED: &str = "UPDATE post_targets t SET status = 'published', provider_post_id = v.pid, \
     url = v.url, published_at = $2, updated_at = $2, error_code = NULL, error_message = NULL \
     FROM unnest($3::uuid[], $4::text[], $5::text[]) AS v(id, pid, url) WHERE t.workspace_id = $1 AND t.id = v.id";
const DELETE_JOBS: &str = "DELETE FROM jobs WHERE workspace_id = $1 AND target_id = ANY($2)";

/// Appends the events in order as the workspace's next seqs (under the event lock).
const INSERT_EVENTS: &str = "INSERT INTO events (workspace_id, seq, kind, subject, data, created_at) \
     SELECT $1, m.top + v.ord, v.kind, v.subject, v.data::jsonb, $2 \
     FROM (SELECT COALESCE(MAX(seq), 0) AS top FROM events WHERE workspace_id = $1) m, \
     unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS v(kind, subject, data, ord) RETURNING seq";
const QUEUE_DELIVERIES: &str = "INSERT INTO webhook_jobs (workspace_id, delivery_id, run_at) \
     SELECT workspace_id, id, created_at FROM webhook_deliveries WHERE workspace_id = $1 AND event_seq = ANY($2)";

impl PgStore {
    /// Starts every job of the batch in `tx`, or `None` if any lease is not held or any target
    /// is no longer waiting (the caller rolls back and goes job by job).
    pub(super) async fn start_set(
        tx: &mut Transaction<'static, Postgres>,
        workspace: WorkspaceId,
        jobs: &[(JobRef, AttemptId)],
        owner: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Vec<ClaimedJob>>> {
        let ws = workspace.as_uuid();
        let targets: Vec<Uuid> = jobs.iter().map(|(job, _)| job.target_id.as_uuid()).collect();
        let held: Vec<Uuid> = sqlx::query_scalar(HOLD_LEASES)
            .bind(ws)
            .bind(owner)
            .bind(&targets)
            .bind(DbTime(now))
            .fetch_all(&mut **tx)
            .await
            .map_err(map_sqlx)?;
        if held.len() != targets.len() {
            return Ok(None);
        }
        let started: Vec<Uuid> = sqlx::query_scalar(START_TARGETS)
            .bind(ws)
            .bind(&targets)
            .bind(DbTime(now))
            .fetch_all(&mut **tx)
            .await
            .map_err(map_sqlx)?;
        if started.len() != targets.len() {
            return Ok(None);
        }
        let attempts: Vec<Uuid> = jobs.iter().map(|(_, attempt)| attempt.as_uuid()).collect();
        sqlx::query(INSERT_ATTEMPTS)
            .bind(ws)
            .bind(&attempts)
            .bind(&targets)
            .bind(DbTime(now))
            .execute(&mut **tx)
            .await
            .map_err(map_sqlx)?;
        let rows: Vec<TargetRow> = sqlx::query_as(sql::PG_TARGETS_BY_IDS)
            .bind(ws)
            .bind(&targets)
            .fetch_all(&mut **tx)
            .await
            .map_err(map_sqlx)?;
        let texts: HashMap<Uuid, (String, DbJson)> = sqlx::query_as::<_, (Uuid, String, DbJson)>(POST_TEXTS)
            .bind(ws)
            .bind(&targets)
            .fetch_all(&mut **tx)
            .await
            .map_err(map_sqlx)?
            .into_iter()
            .map(|(id, text, media)| (id, (text, media)))
            .collect();
        let mut by_id = HashMap::new();
        for row in rows {
            let target = row.into_domain()?;
            by_id.insert(target.id, target);
        }
        let mut channel_ids: Vec<Uuid> = by_id.values().map(|t| t.channel_id.as_uuid()).collect();
        channel_ids.sort();
        channel_ids.dedup();
        let channels: Vec<ChannelRow> = sqlx::query_as(&sql::pg_channels_by_ids())
            .bind(ws)
            .bind(&channel_ids)
            .fetch_all(&mut **tx)
            .await
            .map_err(map_sqlx)?;
        let mut channels_by_id = HashMap::new();
        for row in channels {
            let channel = row.into_domain()?;
            channels_by_id.insert(channel.id, channel);
        }
        let mut claimed = Vec::with_capacity(jobs.len());
        for (job, attempt) in jobs {
            let (Some(target), Some((post_text, post_media))) =
                (by_id.remove(&job.target_id), texts.get(&job.target_id.as_uuid()).cloned())
            else {
                return Ok(None);
            };
            let Some(channel) = channels_by_id.get(&target.channel_id).cloned() else { return Ok(None) };
            let post_media = media_ids_from_json(&post_media.0)?;
            claimed.push(ClaimedJob { target, post_text, post_media, channel, attempt_id: *attempt });
        }
        Ok(Some(claimed))
    }

    /// Records `published` outcomes in `tx`, or `None` if any attempt was already closed.
    pub(super) async fn finish_published_set(
        tx: &mut Transaction<'static, Postgres>,
        workspace: WorkspaceId,
        published: &[&FinishedAttempt],
        now: Timestamp,
    ) -> StoreResult<Option<()>> {
        if published.is_empty() {
            return Ok(Some(()));
        }
        let ws = workspace.as_uuid();
        let mut attempts = Vec::new();
        let mut targets = Vec::new();
        let mut post_ids = Vec::new();
        let mut urls = Vec::new();
        for f in published {
            if let AttemptOutcome::Published { provider_post_id, url } = &f.outcome {
                attempts.push(f.job.attempt_id.as_uuid());
                targets.push(f.job.target.id.as_uuid());
                post_ids.push(provider_post_id.clone());
                urls.push(url.clone());
            }
        }
        let closed = sqlx::query(CLOSE_PUBLISHED)
            .bind(ws)
            .bind(DbTime(now))
            .bind(&attempts)
            .bind(&targets)
            .bind(&post_ids)
            .execute(&mut **tx)
            .await
            .map_err(map_sqlx)?;
        if closed.rows_affected() != targets.len() as u64 {
            return Ok(None);
        }
        sqlx::query(TARGETS_PUBLISHED)
            .bind(ws)
            .bind(DbTime(now))
            .bind(&targets)
            .bind(&post_ids)
            .bind(&urls)
            .execute(&mut **tx)
            .await
            .map_err(map_sqlx)?;
        sqlx::query(DELETE_JOBS).bind(ws).bind(&targets).execute(&mut **tx).await.map_err(map_sqlx)?;
        Ok(Some(()))
    }

    /// Appends `events` in order (the caller holds the event lock) with their webhook
    /// deliveries. Returns whether any delivery was queued.
    pub(super) async fn insert_events_set(
        tx: &mut Transaction<'static, Postgres>,
        workspace: WorkspaceId,
        events: &[&NewEvent],
        now: Timestamp,
    ) -> StoreResult<bool> {
        if events.is_empty() {
            return Ok(false);
        }
        let ws = workspace.as_uuid();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind).collect();
        let subjects: Vec<&str> = events.iter().map(|e| e.subject.as_str()).collect();
        let data: Vec<String> = events.iter().map(|e| e.data.to_string()).collect();
        let mut seqs: Vec<i64> = sqlx::query_scalar(INSERT_EVENTS)
            .bind(ws)
            .bind(DbTime(now))
            .bind(&kinds)
            .bind(&subjects)
            .bind(&data)
            .fetch_all(&mut **tx)
            .await
            .map_err(map_sqlx)?;
        seqs.sort_unstable();
        let made = sqlx::query(FAN_OUT_EVENTS_POSTGRES)
            .bind(ws)
            .bind(DbTime(now))
            .bind(&seqs)
            .bind(&kinds)
            .bind(id_millis(now))
            .execute(&mut **tx)
            .await
            .map_err(map_sqlx)?
            .rows_affected();
        if made > 0 {
            sqlx::query(QUEUE_DELIVERIES).bind(ws).bind(&seqs).execute(&mut **tx).await.map_err(map_sqlx)?;
        }
        Ok(made > 0)
    }
}
