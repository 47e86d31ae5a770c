use crier_core::{NewAuditEvent, StoreResult, WorkspaceId};
use sqlx::{Sqlite, Transaction};

use super::SqliteStore;
use crate::binds::append_audit;
use crate::error::map_sqlx;
use crate::oauth::impl_oauth_store;

impl SqliteStore {
    async fn member_tx(&self, _workspace: WorkspaceId) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer.begin().await.map_err(map_sqlx)
    }

    async fn append_user_audit(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        workspace: WorkspaceId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        append_audit!(*tx, workspace, audit);
        Ok(())
    }
}

impl_oauth_store!(SqliteStore, read = reader, write = writer);
