//! PostgreSQL row-level security, the second wall: a query that forgets its workspace filter,
//! run as the service's role, still sees only the workspace set for its transaction.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;

use chrono::Duration;
use crier_core::{
    Actor, ApiKeyMode, AttemptId, AttemptOutcome, Channel, ChannelId, ChannelStatus, Clock, IssueKey, JobRef,
    NewApiKey, NewAuditEvent, NewEvent, Post, PostId, PostTarget, SandboxDelivery, ScopeSet, SystemClock,
    TargetId, TargetStatus, WorkspaceId,
};
use crier_testkit::{Backend, TestDb};
use sqlx::{Connection, PgConnection, Row};
use uuid::Uuid;

const TENANT_TABLES: [&str; 4] = ["api_keys", "data_keys", "secrets", "audit_events"];

async fn seeded() -> (TestDb, WorkspaceId, WorkspaceId) {
    let db = TestDb::fresh(Backend::Postgres).await;
    let clock = Arc::new(SystemClock);
    let a = db.workspace(clock.clone(), "A").await;
    let b = db.workspace(clock.clone(), "B").await;
    for ws in [a, b] {
        db.vault(clock.clone()).seal(ws, "channel_token", b"token").await.unwrap();
        let now = clock.now();
        let (key, _) = NewApiKey::issue(IssueKey {
            workspace_id: ws,
            name: "k",
            mode: ApiKeyMode::Live,
            scopes: ScopeSet::all(),
            now,
            expires_at: None,
        })
        .unwrap();
        let audit =
            NewAuditEvent::new(now, Actor::cli(), "api_key.created", key.id.to_string(), &Default::default());
        db.store.insert_api_key(&key, &audit).await.unwrap();
    }
    (db, a, b)
}

/// Starts a transaction acting as `workspace`, as `PgStore` does for every tenant statement.
async fn begin_as(conn: &mut PgConnection, workspace: WorkspaceId) -> sqlx::Transaction<'_, sqlx::Postgres> {
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('crier.workspace_id', $1, true)")
        .bind(workspace.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

async fn workspaces_seen(conn: &mut PgConnection, table: &str, set: Option<WorkspaceId>) -> Vec<Uuid> {
    let mut tx = match set {
        Some(ws) => begin_as(conn, ws).await,
        None => conn.begin().await.unwrap(),
    };
    // Deliberately unscoped.
    let rows =
        sqlx::query(&format!("SELECT DISTINCT workspace_id FROM {table}")).fetch_all(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    rows.iter().map(|row| row.get::<Uuid, _>(0)).collect()
}

#[tokio::test]
async fn unscoped_selects_as_the_app_role_see_only_the_set_workspace() {
    let (db, a, b) = seeded().await;
    let mut app = PgConnection::connect(db.url().expose()).await.unwrap();
    let role: String = sqlx::query_scalar("SELECT current_user").fetch_one(&mut app).await.unwrap();
    assert_eq!(role, crier_testkit::PG_APP_ROLE);
    for table in TENANT_TABLES {
        assert_eq!(workspaces_seen(&mut app, table, Some(a)).await, [a.as_uuid()], "{table} as A");
        assert_eq!(workspaces_seen(&mut app, table, Some(b)).await, [b.as_uuid()], "{table} as B");
        assert!(workspaces_seen(&mut app, table, None).await.is_empty(), "{table} with no workspace set");
    }
    // The owner (a superuser here) sees both: proof the rows exist and the filter above is RLS.
    let mut owner = PgConnection::connect(db.owner_url.expose()).await.unwrap();
    assert_eq!(workspaces_seen(&mut owner, "secrets", None).await.len(), 2);
}

#[tokio::test]
async fn the_app_role_cannot_write_into_another_workspace() {
    let (db, a, b) = seeded().await;
    let mut app = PgConnection::connect(db.url().expose()).await.unwrap();
    let mut tx = begin_as(&mut app, a).await;
    let moved = sqlx::query("UPDATE secrets SET workspace_id = $1").bind(b.as_uuid()).execute(&mut *tx).await;
    assert!(moved.is_err(), "WITH CHECK refuses moving rows out of the workspace");
    tx.rollback().await.unwrap();

    let mut tx = begin_as(&mut app, a).await;
    let wiped =
        sqlx::query("DELETE FROM api_keys WHERE workspace_id = $1").bind(b.as_uuid()).execute(&mut *tx).await;
    assert_eq!(wiped.unwrap().rows_affected(), 0, "B's rows are invisible, so untouchable");
    tx.rollback().await.unwrap();
}

const PUBLISHING_TABLES: [&str; 7] = [
    "channels",
    "posts",
    "post_targets",
    "publish_attempts",
    "events",
    "idempotency_keys",
    "sandbox_deliveries",
];

/// A channel, a published post (attempt, event, sandbox delivery), a waiting post (its job) and an
/// idempotency key in `ws`.
async fn seed_publishing(db: &TestDb, ws: WorkspaceId) {
    let now = SystemClock.now();
    let channel = Channel {
        workspace_id: ws,
        id: ChannelId::generate(),
        provider: "sandbox".into(),
        name: "c".into(),
        config: serde_json::json!({}),
        status: ChannelStatus::Active,
        account: None,
        credentials: None,
        paused_until: None,
        created_at: now,
    };
    let audit =
        NewAuditEvent::new(now, Actor::cli(), "channel.created", channel.id.to_string(), &Default::default());
    db.store.create_channel(&channel, None, None, &audit).await.unwrap();
    let owner = format!("worker-{ws}");
    for run_at in [now, now + Duration::hours(1)] {
        let id = PostId::generate();
        let target = PostTarget {
            workspace_id: ws,
            id: TargetId::generate(),
            post_id: id,
            channel_id: channel.id,
            text: None,
            options: serde_json::json!({}),
            status: TargetStatus::Queued,
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
        };
        let post = Post {
            workspace_id: ws,
            id,
            text: "t".into(),
            media: Vec::new(),
            scheduled_at: None,
            created_at: now,
            targets: vec![target],
        };
        db.store.create_post(&post, None).await.unwrap();
    }
    let leased = db.store.lease_jobs(&owner, now, now + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(leased.len(), 1, "only this workspace's due job is left unleased");
    let job = JobRef { workspace_id: ws, target_id: leased[0].target_id };
    let claimed = db.store.start_attempt(job, &owner, AttemptId::generate(), now).await.unwrap().unwrap();
    let delivery = SandboxDelivery {
        workspace_id: ws,
        channel_id: channel.id,
        id: uuid::Uuid::new_v4(),
        target_id: job.target_id,
        attempt_id: claimed.attempt_id,
        text: "t".into(),
        media: Vec::new(),
        delivered_at: now,
        deleted_at: None,
    };
    db.store.record_sandbox_deliveries(&[delivery]).await.unwrap();
    let event = NewEvent {
        kind: "post.target.published",
        subject: job.target_id.to_string(),
        data: serde_json::json!({}),
    };
    let outcome = AttemptOutcome::Published { provider_post_id: "p".into(), url: None };
    db.store.finish_attempt(&claimed, &outcome, now, Some(&event)).await.unwrap();
    db.store.begin_idempotent(ws, "k", b"f", now, now, now + Duration::hours(1)).await.unwrap();
}

#[tokio::test]
async fn publishing_tables_are_isolated_and_the_queue_is_global() {
    let db = TestDb::fresh(Backend::Postgres).await;
    let clock = Arc::new(SystemClock);
    let a = db.workspace(clock.clone(), "A").await;
    seed_publishing(&db, a).await;
    let b = db.workspace(clock, "B").await;
    seed_publishing(&db, b).await;
    let mut app = PgConnection::connect(db.url().expose()).await.unwrap();
    for table in PUBLISHING_TABLES {
        assert_eq!(workspaces_seen(&mut app, table, Some(a)).await, [a.as_uuid()], "{table} as A");
        assert_eq!(workspaces_seen(&mut app, table, Some(b)).await, [b.as_uuid()], "{table} as B");
        assert!(workspaces_seen(&mut app, table, None).await.is_empty(), "{table} with no workspace set");
    }
    // Workers lease across workspaces: the queue holds only ids and times, and no policy.
    let mut seen = workspaces_seen(&mut app, "jobs", None).await;
    seen.sort();
    let mut both = vec![a.as_uuid(), b.as_uuid()];
    both.sort();
    assert_eq!(seen, both);
}

const WEBHOOK_TABLES: [&str; 3] = ["webhook_endpoints", "webhook_deliveries", "webhook_delivery_attempts"];

/// An endpoint with a test send whose first attempt failed (so each webhook table has a row).
async fn seed_webhooks(db: &TestDb, ws: WorkspaceId) {
    let clock = SystemClock;
    let secret = db.vault(Arc::new(SystemClock)).seal_row(ws, "webhook_secret", b"whsec_AAAA").await.unwrap();
    let endpoint = crier_core::WebhookEndpoint {
        workspace_id: ws,
        id: crier_core::WebhookEndpointId::generate(),
        url: "https://hooks.example/in".into(),
        description: String::new(),
        event_types: vec![],
        enabled: true,
        disabled_reason: None,
        secret_id: secret.id,
        previous_secret: None,
        failing_since: None,
        created_at: clock.now(),
        updated_at: clock.now(),
    };
    let audit = NewAuditEvent::new(
        clock.now(),
        Actor::cli(),
        "webhook_endpoint.created",
        "e".into(),
        &Default::default(),
    );
    db.store.create_endpoint(&endpoint, &secret, None, &audit).await.unwrap();
    let ping = db.store.send_test_event(ws, endpoint.id, clock.now()).await.unwrap();
    let job = crier_core::DeliveryRef { workspace_id: ws, delivery_id: ping.id };
    let leased =
        db.store.lease_deliveries("d", clock.now(), clock.now() + Duration::minutes(1), 100).await.unwrap();
    assert!(leased.contains(&job));
    let attempt = crier_core::DeliveryAttempt {
        number: 0,
        attempted_at: clock.now(),
        status_code: Some(500),
        latency_ms: 1,
        response_excerpt: String::new(),
        error: None,
    };
    let retry = crier_core::DeliveryOutcome::RetryAt(clock.now() + Duration::minutes(5));
    db.store.finish_delivery(job, "d", &attempt, &retry, clock.now()).await.unwrap();
}

#[tokio::test]
async fn webhook_tables_are_isolated_and_their_queue_is_global() {
    let db = TestDb::fresh(Backend::Postgres).await;
    let clock = Arc::new(SystemClock);
    let a = db.workspace(clock.clone(), "A").await;
    seed_webhooks(&db, a).await;
    let b = db.workspace(clock, "B").await;
    seed_webhooks(&db, b).await;
    let mut app = PgConnection::connect(db.url().expose()).await.unwrap();
    for table in WEBHOOK_TABLES {
        assert_eq!(workspaces_seen(&mut app, table, Some(a)).await, [a.as_uuid()], "{table} as A");
        assert_eq!(workspaces_seen(&mut app, table, Some(b)).await, [b.as_uuid()], "{table} as B");
        assert!(workspaces_seen(&mut app, table, None).await.is_empty(), "{table} with no workspace set");
    }
    assert_eq!(workspaces_seen(&mut app, "webhook_jobs", None).await.len(), 2);
}

/// An unfinished upload with its sealed content key.
async fn seed_media(db: &TestDb, ws: WorkspaceId) {
    let clock = SystemClock;
    let key = db.vault(Arc::new(SystemClock)).seal_row(ws, "media_content_key", &[1; 32]).await.unwrap();
    let id = crier_core::MediaId::generate();
    let media = crier_core::Media {
        workspace_id: ws,
        id,
        status: crier_core::MediaStatus::Uploading,
        file_name: None,
        declared_type: None,
        alt_text: None,
        source_url: None,
        expected_size: 10,
        received: 0,
        parts: 0,
        storage_prefix: format!("workspaces/{ws}/media/{id}"),
        content_key: Some(key.id),
        facts: None,
        created_at: clock.now(),
        updated_at: clock.now(),
        expires_at: Some(clock.now() + Duration::hours(1)),
    };
    let audit =
        NewAuditEvent::new(clock.now(), Actor::cli(), "media.created", "m".into(), &Default::default());
    db.store.insert_media(&media, Some(&key), None, &audit).await.unwrap();
}

#[tokio::test]
async fn media_are_isolated_and_the_upload_expiry_index_is_global() {
    let db = TestDb::fresh(Backend::Postgres).await;
    let clock = Arc::new(SystemClock);
    let a = db.workspace(clock.clone(), "A").await;
    seed_media(&db, a).await;
    let b = db.workspace(clock, "B").await;
    seed_media(&db, b).await;
    let mut app = PgConnection::connect(db.url().expose()).await.unwrap();
    assert_eq!(workspaces_seen(&mut app, "media", Some(a)).await, [a.as_uuid()], "media as A");
    assert_eq!(workspaces_seen(&mut app, "media", Some(b)).await, [b.as_uuid()], "media as B");
    assert!(workspaces_seen(&mut app, "media", None).await.is_empty(), "media with no workspace set");
    // The sweeper looks across workspaces: the index holds only ids and times.
    assert_eq!(workspaces_seen(&mut app, "media_upload_expiry", None).await.len(), 2);
}

#[tokio::test]
async fn meta_channels_are_isolated_and_the_platform_account_index_is_global() {
    let db = TestDb::fresh(Backend::Postgres).await;
    let clock = SystemClock;
    let mut both = Vec::new();
    for name in ["A", "B"] {
        let ws = db.workspace(Arc::new(SystemClock), name).await;
        let channel = Channel {
            workspace_id: ws,
            id: ChannelId::generate(),
            provider: "facebook".into(),
            name: "page".into(),
            config: serde_json::json!({"page_id": "555"}),
            status: ChannelStatus::Active,
            account: Some(crier_core::ChannelAccount {
                id: "1001".into(),
                handle: "Page".into(),
                display_name: None,
                avatar_url: None,
            }),
            credentials: None,
            paused_until: None,
            created_at: clock.now(),
        };
        let audit = NewAuditEvent::new(
            clock.now(),
            Actor::cli(),
            "channel.connected",
            channel.id.to_string(),
            &Default::default(),
        );
        db.store.create_channel(&channel, None, None, &audit).await.unwrap();
        both.push(ws.as_uuid());
    }
    both.sort();
    let mut app = PgConnection::connect(db.url().expose()).await.unwrap();
    assert!(workspaces_seen(&mut app, "channels", None).await.is_empty(), "channels with no workspace set");
    // Meta's callbacks find a user's channels across workspaces through the index, kept by a
    // trigger under the app role; it holds ids only.
    let mut seen = workspaces_seen(&mut app, "channel_platform_accounts", None).await;
    seen.sort();
    assert_eq!(seen, both);
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = 'channel_platform_accounts' ORDER BY ordinal_position",
    )
    .fetch_all(&mut app)
    .await
    .unwrap();
    assert_eq!(columns, ["provider", "account_id", "workspace_id", "channel_id"]);
}
