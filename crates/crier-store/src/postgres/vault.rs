use async_trait::async_trait;
use crier_core::{
    AuditEvent, AuditStore, NewAuditEvent, SealedRow, SecretId, StoreResult, VaultStore, WorkspaceId,
    WrappedDataKey,
};

use super::PgStore;
use crate::binds::{append_audit, insert_data_key};
use crate::error::map_sqlx;
use crate::rows::{AuditRow, DataKeyRow, SecretRow, db_time, sql};

#[async_trait]
impl VaultStore for PgStore {
    async fn data_keys(&self, workspace: WorkspaceId) -> StoreResult<Vec<WrappedDataKey>> {
        let rows: Vec<DataKeyRow> = self.tenant_rows(workspace, sql::LIST_DATA_KEYS).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn add_data_key(&self, key: &WrappedDataKey, audit: &NewAuditEvent) -> StoreResult<()> {
        let mut tx = self.tenant_tx(key.workspace_id).await?;
        insert_data_key!(key).execute(&mut *tx).await.map_err(map_sqlx)?;
        append_audit!(tx, key.workspace_id, audit, lock = super::AUDIT_LOCK);
        tx.commit().await.map_err(map_sqlx)
    }

    async fn rewrap_data_key(
        &self,
        expected_master_key_id: &str,
        rewrapped: &WrappedDataKey,
    ) -> StoreResult<bool> {
        let workspace = rewrapped.workspace_id;
        let mut tx = self.tenant_tx(workspace).await?;
        let done = sqlx::query(sql::REWRAP_DATA_KEY)
            .bind(workspace.as_uuid())
            .bind(rewrapped.version)
            .bind(expected_master_key_id)
            .bind(&rewrapped.master_key_id)
            .bind(rewrapped.wrapped.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_secret(&self, secret: &SealedRow) -> StoreResult<()> {
        let mut tx = self.tenant_tx(secret.workspace_id).await?;
        sqlx::query(sql::INSERT_SECRET)
            .bind(secret.workspace_id.as_uuid())
            .bind(secret.id.as_uuid())
            .bind(&secret.purpose)
            .bind(secret.key_version)
            .bind(secret.sealed.as_slice())
            .bind(db_time(secret.created_at))
            .bind(db_time(secret.updated_at))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)
    }

    async fn get_secret(&self, workspace: WorkspaceId, id: SecretId) -> StoreResult<SealedRow> {
        let mut tx = self.tenant_tx(workspace).await?;
        let row: SecretRow = sqlx::query_as(&sql::get_secret())
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(row.into())
    }

    async fn secrets_below_version(
        &self,
        workspace: WorkspaceId,
        version: i32,
        limit: i64,
    ) -> StoreResult<Vec<SealedRow>> {
        let mut tx = self.tenant_tx(workspace).await?;
        let rows: Vec<SecretRow> = sqlx::query_as(&sql::secrets_below_version())
            .bind(workspace.as_uuid())
            .bind(version)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn reseal_secret(&self, resealed: &SealedRow, expected_version: i32) -> StoreResult<bool> {
        let mut tx = self.tenant_tx(resealed.workspace_id).await?;
        let done = sqlx::query(sql::RESEAL_SECRET)
            .bind(resealed.workspace_id.as_uuid())
            .bind(resealed.id.as_uuid())
            .bind(resealed.key_version)
            .bind(resealed.sealed.as_slice())
            .bind(db_time(resealed.updated_at))
            .bind(expected_version)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, workspace: WorkspaceId, event: &NewAuditEvent) -> StoreResult<AuditEvent> {
        let mut tx = self.tenant_tx(workspace).await?;
        let row = append_audit!(tx, workspace, event, lock = super::AUDIT_LOCK);
        tx.commit().await.map_err(map_sqlx)?;
        Ok(row)
    }

    async fn list_audit_events(
        &self,
        workspace: WorkspaceId,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditEvent>> {
        let mut tx = self.tenant_tx(workspace).await?;
        let rows: Vec<AuditRow> = sqlx::query_as(&sql::list_audit())
            .bind(workspace.as_uuid())
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        rows.into_iter().map(AuditRow::into_domain).collect()
    }
}
