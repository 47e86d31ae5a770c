//! The tenant transactions and audit append that the shared store macros (`impl_media_store!`,
//! `impl_oauth_store!`) build on.

use crier_core::{MediaId, NewAuditEvent, StoreError, StoreResult, WorkspaceId};
use sqlx::{Postgres, Transaction};

use super::PgStore;
use crate::binds::append_audit;
use crate::error::map_sqlx;

impl PgStore {
    /// A transaction for reading one workspace's rows.
    pub(super) async fn read_tx(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        self.tenant_tx(workspace).await
    }

    /// A transaction for changing one workspace's rows (and appending to its audit log).
    pub(super) async fn write_tx(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        self.tenant_tx(workspace).await
    }

    pub(super) async fn append_tenant_audit(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        workspace: WorkspaceId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        append_audit!(*tx, workspace, audit, lock = super::AUDIT_LOCK);
        Ok(())
    }

    /// Locks a media row against a concurrent post before it is deleted; `NotFound` if absent.
    pub(super) async fn lock_media(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        workspace: WorkspaceId,
        id: MediaId,
    ) -> StoreResult<()> {
        // Waits for a create_post holding a share lock on it, which is then seen as a user.
        let locked: Option<uuid::Uuid> = sqlx::query_scalar(crate::rows_media::sql::PG_LOCK_MEDIA)
            .bind(workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(&mut **tx)
            .await
            .map_err(map_sqlx)?;
        if locked.is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
