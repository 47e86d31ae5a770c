//! Builders shared by the publishing conformance modules, and a look at rows no trait reads
//! (events, attempts) straight through the database.

use std::sync::Arc;

use chrono::Duration;
use crier_core::{
    Actor, AttemptId, Channel, ChannelId, ChannelStatus, ClaimedJob, Clock, JobRef, ManualClock,
    NewAuditEvent, Post, PostId, PostTarget, RequestOrigin, TargetId, TargetStatus, Timestamp, WorkspaceId,
};
use crier_testkit::{Backend, TestDb};
use sqlx::{Connection, PgConnection, SqliteConnection};

pub const OWNER: &str = "worker-a";

pub fn audit(clock: &ManualClock, action: &str) -> NewAuditEvent {
    NewAuditEvent::new(clock.now(), Actor::cli(), action, "target".into(), &RequestOrigin::default())
}

pub async fn workspace(db: &TestDb, clock: &ManualClock, name: &str) -> WorkspaceId {
    db.workspace(Arc::new(clock.clone()), name).await
}

pub fn channel(ws: WorkspaceId, clock: &ManualClock, name: &str) -> Channel {
    Channel {
        workspace_id: ws,
        id: ChannelId::generate(),
        provider: "sandbox".into(),
        name: name.into(),
        config: serde_json::json!({ "handle": name, "nested": { "n": 1, "list": [true, null] } }),
        status: ChannelStatus::Active,
        account: None,
        credentials: None,
        paused_until: None,
        created_at: clock.now(),
    }
}

/// A channel stored in `ws`.
pub async fn connected(db: &TestDb, clock: &ManualClock, ws: WorkspaceId, name: &str) -> Channel {
    let channel = channel(ws, clock, name);
    db.store.create_channel(&channel, None, None, &audit(clock, "channel.created")).await.unwrap();
    channel
}

/// A post with one target per `(channel, status, run_at)`, targets ordered by id as stored.
pub fn post_with(
    ws: WorkspaceId,
    clock: &ManualClock,
    text: &str,
    targets: &[(ChannelId, TargetStatus, Timestamp)],
) -> Post {
    let id = PostId::generate();
    let now = clock.now();
    let mut targets: Vec<PostTarget> = targets
        .iter()
        .map(|&(channel_id, status, run_at)| PostTarget {
            workspace_id: ws,
            id: TargetId::generate(),
            post_id: id,
            channel_id,
            text: None,
            options: serde_json::json!({ "visibility": "public" }),
            status,
            run_at,
            attempts: 0,
            lease_owner: None,
            lease_expires_at: None,
            provider_post_id: None,
            url: None,
            error_code: None,
            error_message: None,
            created_at: now,
            updated_at: now,
            published_at: None,
            deletion: None,
        })
        .collect();
    targets.sort_by_key(|t| t.id);
    Post {
        workspace_id: ws,
        id,
        text: text.into(),
        media: Vec::new(),
        scheduled_at: None,
        created_at: now,
        targets,
    }
}

/// A post due now on each channel.
pub fn post_now(ws: WorkspaceId, clock: &ManualClock, channels: &[ChannelId]) -> Post {
    let targets: Vec<_> = channels.iter().map(|&c| (c, TargetStatus::Queued, clock.now())).collect();
    post_with(ws, clock, "Hello, world", &targets)
}

pub fn job(target: &PostTarget) -> JobRef {
    JobRef { workspace_id: target.workspace_id, target_id: target.id }
}

/// Leases every due job to `owner` for a minute.
pub async fn lease_all(db: &TestDb, clock: &ManualClock, owner: &str) -> Vec<JobRef> {
    db.store.lease_jobs(owner, clock.now(), clock.now() + Duration::minutes(1), 100).await.unwrap()
}

/// Leases the (only) due job for `target` and opens an attempt on it.
pub async fn claim(db: &TestDb, clock: &ManualClock, target: &PostTarget) -> ClaimedJob {
    let leased = lease_all(db, clock, OWNER).await;
    assert!(leased.contains(&job(target)), "{leased:?} should include {:?}", target.id);
    db.store.start_attempt(job(target), OWNER, AttemptId::generate(), clock.now()).await.unwrap().unwrap()
}

pub async fn target_of(db: &TestDb, target: &PostTarget) -> PostTarget {
    let post = db.store.get_post(target.workspace_id, target.post_id).await.unwrap();
    post.targets.into_iter().find(|t| t.id == target.id).unwrap()
}

/// One text column of `sql` (bound with the workspace as $1), read as the database's owner.
pub async fn texts(db: &TestDb, sql: &str, ws: WorkspaceId) -> Vec<Option<String>> {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(db.url.expose()).await.unwrap();
            sqlx::query_scalar(sql).bind(ws.as_uuid()).fetch_all(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(db.owner_url.expose()).await.unwrap();
            sqlx::query_scalar(sql).bind(ws.as_uuid()).fetch_all(&mut conn).await.unwrap()
        }
    }
}

/// `(kind, subject)` of the workspace's events, in `seq` order.
pub async fn events(db: &TestDb, ws: WorkspaceId) -> Vec<(String, String)> {
    let kinds = texts(db, "SELECT kind FROM events WHERE workspace_id = $1 ORDER BY seq", ws).await;
    let subjects = texts(db, "SELECT subject FROM events WHERE workspace_id = $1 ORDER BY seq", ws).await;
    let seqs =
        texts(db, "SELECT CAST(seq AS TEXT) FROM events WHERE workspace_id = $1 ORDER BY seq", ws).await;
    let expected: Vec<_> = (1..=seqs.len()).map(|n| Some(n.to_string())).collect();
    assert_eq!(seqs, expected, "events are numbered 1, 2, 3… per workspace");
    kinds.into_iter().zip(subjects).map(|(k, s)| (k.unwrap(), s.unwrap())).collect()
}

/// The outcome column of the workspace's attempts (None: still open), oldest first.
pub async fn attempt_outcomes(db: &TestDb, ws: WorkspaceId) -> Vec<Option<String>> {
    texts(db, "SELECT outcome FROM publish_attempts WHERE workspace_id = $1 ORDER BY started_at, id", ws)
        .await
}

pub fn event(kind: &'static str, target: &PostTarget) -> crier_core::NewEvent {
    crier_core::NewEvent {
        kind,
        subject: target.id.to_string(),
        data: serde_json::json!({ "post_id": target.post_id.to_string() }),
    }
}
