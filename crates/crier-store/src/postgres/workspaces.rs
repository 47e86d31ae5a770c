use async_trait::async_trait;
use crier_core::{
    NewAuditEvent, NewWorkspace, StoreResult, Workspace, WorkspaceId, WorkspaceStore, WrappedDataKey,
};

use super::PgStore;
use crate::binds::{append_audit, insert_data_key};
use crate::error::map_sqlx;
use crate::rows::{WorkspaceRow, db_time, sql};

#[async_trait]
impl WorkspaceStore for PgStore {
    async fn create_workspace(
        &self,
        workspace: &NewWorkspace,
        data_key: &WrappedDataKey,
        audit: &NewAuditEvent,
    ) -> StoreResult<Workspace> {
        let mut tx = self.tenant_tx(workspace.id).await?;
        let row: WorkspaceRow = sqlx::query_as(sql::INSERT_WORKSPACE)
            .bind(workspace.id.as_uuid())
            .bind(&workspace.name)
            .bind(db_time(workspace.created_at))
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        insert_data_key!(data_key).execute(&mut *tx).await.map_err(map_sqlx)?;
        append_audit!(tx, workspace.id, audit, lock = super::AUDIT_LOCK);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(row.into())
    }

    async fn get_workspace(&self, id: WorkspaceId) -> StoreResult<Workspace> {
        let row: WorkspaceRow = sqlx::query_as(sql::GET_WORKSPACE)
            .bind(id.as_uuid())
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(row.into())
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        let rows: Vec<WorkspaceRow> =
            sqlx::query_as(sql::LIST_WORKSPACES).fetch_all(&self.pool).await.map_err(map_sqlx)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
