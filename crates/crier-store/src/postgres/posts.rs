use async_trait::async_trait;
use crier_core::{
    Cancellation, IdempotentResponse, NewAuditEvent, Post, PostId, PostQuery, PostStore, PublishAttempt,
    StoreResult, TargetRetry, Timestamp, WorkspaceId,
};

use super::PgStore;
use crate::binds::append_audit;
use crate::binds_media::check_post_media;
use crate::binds_publishing::{
    cancel_post, insert_post, list_attempts, list_posts, load_post, retry_target, store_response,
};
use crate::error::map_sqlx;
use crate::rows_webhooks::sql::FAN_OUT_POSTGRES;

#[async_trait]
impl PostStore for PgStore {
    async fn create_post(&self, post: &Post, idempotency: Option<&IdempotentResponse>) -> StoreResult<()> {
        let mut tx = self.tenant_tx(post.workspace_id).await?;
        check_post_media!(tx, post, crate::rows_media::sql::PG_MEDIA_STATUS);
        insert_post!(tx, post);
        store_response!(tx, post.workspace_id, idempotency);
        Self::notify_jobs(&mut tx).await?;
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
