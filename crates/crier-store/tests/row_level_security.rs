//! PostgreSQL row-level security, the second wall: a query that forgets its workspace filter,
//! run as the service's role, still sees only the workspace set for its transaction.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;

use crier_core::{
    Actor, ApiKeyMode, Clock, IssueKey, NewApiKey, NewAuditEvent, ScopeSet, SystemClock, WorkspaceId,
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
