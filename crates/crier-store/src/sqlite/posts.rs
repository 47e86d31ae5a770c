use async_trait::async_trait;
use crier_core::{
    Cancellation, IdempotentResponse, NewAuditEvent, Post, PostId, PostQuery, PostStore, PublishAttempt,
    StoreResult, TargetRetry, Timestamp, WorkspaceId,
};

use super::SqliteStore;
use crate::binds::append_audit;
use crate::binds_media::check_post_media;
use crate::binds_publishing::{
    cancel_post, insert_post, list_attempts, list_posts, load_post, retry_target, store_response,
};
use crate::error::map_sqlx;
use crate::rows_webhooks::sql::FAN_OUT_SQLITE;

#[async_trait]
impl PostStore for SqliteStore {
    async fn create_post(&self, post: &Post, idempotency: Option<&IdempotentResponse>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        check_post_media!(tx, post, crate::rows_media::sql::SQLITE_MEDIA_STATUS);
        insert_post!(tx, post);
        store_response!(tx, post.workspace_id, idempotency);
        tx.commit().await.map_err(map_sqlx)?;
        self.jobs_changed.notify_waiters();
        Ok(())
    }

    async fn get_post(&self, workspace: WorkspaceId, id: PostId) -> StoreResult<Post> {
        // One read transaction: the post and its targets from the same snapshot.
        let mut tx = self.reader.begin().await.map_err(map_sqlx)?;
        let post = load_post!(tx, workspace, id);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(post)
    }

    async fn list_posts(&self, workspace: WorkspaceId, query: &PostQuery) -> StoreResult<Vec<Post>> {
        let mut tx = self.reader.begin().await.map_err(map_sqlx)?;
        let posts = list_posts!(tx, workspace, query);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(posts)
    }

    async fn list_attempts(&self, workspace: WorkspaceId, post: PostId) -> StoreResult<Vec<PublishAttempt>> {
        let mut tx = self.reader.begin().await.map_err(map_sqlx)?;
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
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let (cancellation, deliveries) = cancel_post!(tx, workspace, id, at, FAN_OUT_SQLITE);
        tx.commit().await.map_err(map_sqlx)?;
        if deliveries > 0 {
            self.jobs_changed.notify_waiters();
        }
        Ok(cancellation)
    }

    async fn retry_target(
        &self,
        workspace: WorkspaceId,
        retry: &TargetRetry,
        audit: &NewAuditEvent,
    ) -> StoreResult<Post> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let (post, _deliveries) = retry_target!(tx, workspace, retry, FAN_OUT_SQLITE);
        append_audit!(tx, workspace, audit);
        tx.commit().await.map_err(map_sqlx)?;
        // The new job, and any webhook deliveries its event queued.
        self.jobs_changed.notify_waiters();
        Ok(post)
    }
}
