use async_trait::async_trait;
use crier_core::{
    Cancellation, IdempotentResponse, NewAuditEvent, Post, PostId, PostQuery, PostStore, PublishAttempt,
    StoreError, StoreResult, TargetRetry, Timestamp, WorkspaceId,
};
use sqlx::{Postgres, QueryBuilder};

use super::PgStore;
use crate::binds::append_audit;
use crate::binds_media::check_post_media;
use crate::binds_publishing::{
    cancel_post, check_targets_belong, list_attempts, list_posts, load_post, push_job_values,
    push_target_values, retry_target,
};
use crate::error::map_sqlx;
use crate::rows::DbTime;
use crate::rows_publishing::{db_json, sql};
use crate::rows_webhooks::sql::FAN_OUT_POSTGRES;

/// The post, its targets, their jobs, the idempotency key's response (if any) and the workers'
/// wake-up as ONE statement (data-modifying CTEs; foreign keys are checked at its end), where
/// SQLite runs `insert_post!` and `store_response!` statement by statement: on the accept path
/// every round trip counts (docs/PERFORMANCE.md). Answers how many idempotency keys it completed
/// (1 when there is none to complete).
fn create_statement<'a>(
    post: &'a Post,
    idempotency: Option<&'a IdempotentResponse>,
) -> QueryBuilder<'a, Postgres> {
    let ws = post.workspace_id.as_uuid();
    let mut q = QueryBuilder::new("WITH p AS (");
    q.push(sql::INSERT_POST_HEAD);
    q.push_values(std::iter::once(post), |mut row, post| {
        row.push_bind(ws)
            .push_bind(post.id.as_uuid())
            .push_bind(post.text.as_str())
            .push_bind(db_json(&crate::rows_media::media_ids_json(&post.media)))
            .push_bind(post.scheduled_at.map(DbTime))
            .push_bind(DbTime(post.created_at));
    });
    q.push(")");
    if !post.targets.is_empty() {
        q.push(", t AS (");
        q.push(sql::INSERT_TARGETS_HEAD);
        push_target_values!(q, post);
        q.push("), j AS (");
        q.push(sql::INSERT_JOBS_HEAD);
        push_job_values!(q, post);
        q.push(")");
    }
    match idempotency {
        Some(response) => {
            q.push(", r AS (UPDATE idempotency_keys SET status = 'done', response_status = ");
            q.push_bind(i32::from(response.status));
            q.push(", response_body = ");
            q.push_bind(response.body.as_slice());
            q.push(" WHERE workspace_id = ");
            q.push_bind(ws);
            q.push(" AND key = ");
            q.push_bind(response.key.as_str());
            q.push(" AND status = 'in_flight' RETURNING 1) SELECT (SELECT COUNT(*) FROM r)");
        }
        None => {
            q.push(" SELECT 1::bigint");
        }
    }
    // Sent at commit only, as `notify_jobs` would be.
    q.push(", pg_notify('crier_jobs', COALESCE(current_schema(), ''))");
    q
}

#[async_trait]
impl PostStore for PgStore {
    async fn create_post(&self, post: &Post, idempotency: Option<&IdempotentResponse>) -> StoreResult<()> {
        check_targets_belong!(post);
        if idempotency.is_some_and(|response| response.workspace_id != post.workspace_id) {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.tenant_tx(post.workspace_id).await?;
        check_post_media!(tx, post, crate::rows_media::sql::PG_MEDIA_STATUS);
        let stored: i64 = create_statement(post, idempotency)
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if idempotency.is_some() && stored == 0 {
            return Err(StoreError::Conflict(
                "the idempotency key is not in flight (completed, expired or never begun)".into(),
            ));
        }
        tx.commit().await.map_err(map_sqlx)
    }

    async fn get_post(&self, workspace: WorkspaceId, id: PostId) -> StoreResult<Post> {
        let mut tx = self.tenant_tx(workspace).await?;
        let post = load_post!(tx, workspace, id);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(post)
    }

    async fn list_posts(&self, workspace: WorkspaceId, query: &PostQuery) -> StoreResult<Vec<Post>> {
        let mut tx = self.tenant_tx(workspace).await?;
        let posts = list_posts!(tx, workspace, query);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(posts)
    }

    async fn list_attempts(&self, workspace: WorkspaceId, post: PostId) -> StoreResult<Vec<PublishAttempt>> {
        let mut tx = self.tenant_tx(workspace).await?;
        let attempts = list_attempts!(tx, workspace, post);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(attempts)
    }

    async fn cancel_post(
        &self,
        workspace: WorkspaceId,
        id: PostId,
        at: Timestamp,
    ) -> StoreResult<Cancellation> {
        let mut tx = self.tenant_tx(workspace).await?;
        Self::lock_events(&mut tx, workspace).await?;
        let (cancellation, deliveries) = cancel_post!(tx, workspace, id, at, FAN_OUT_POSTGRES);
        if deliveries > 0 {
            Self::notify_jobs(&mut tx).await?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(cancellation)
    }

    async fn retry_target(
        &self,
        workspace: WorkspaceId,
        retry: &TargetRetry,
        audit: &NewAuditEvent,
    ) -> StoreResult<Post> {
        let mut tx = self.tenant_tx(workspace).await?;
        // Audit lock, then events lock: the order delete_channel takes them in.
        append_audit!(tx, workspace, audit, lock = super::AUDIT_LOCK);
        Self::lock_events(&mut tx, workspace).await?;
        let (post, _deliveries) = retry_target!(tx, workspace, retry, FAN_OUT_POSTGRES);
        Self::notify_jobs(&mut tx).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(post)
    }
}
