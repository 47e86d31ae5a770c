use crier_core::{NewAuditEvent, StoreResult, WorkspaceId};
use sqlx::{Postgres, Transaction};

use super::PgStore;
use crate::binds::append_audit;
use crate::oauth::impl_oauth_store;

impl PgStore {
    /// Adding a member writes the workspace's audit log, which row-level security guards.
    async fn member_tx(&self, workspace: WorkspaceId) -> StoreResult<Transaction<'static, Postgres>> {
        self.tenant_tx(workspace).await
    }

    async fn append_user_audit(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        workspace: WorkspaceId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        append_audit!(*tx, workspace, audit, lock = super::AUDIT_LOCK);
        Ok(())
    }
}

impl_oauth_store!(PgStore, read = pool, write = pool);
