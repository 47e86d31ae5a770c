//! The tenant transactions and audit append that the shared store macros (`impl_media_store!`,
//! `impl_oauth_store!`) build on.

use crier_core::{MediaId, NewAuditEvent, StoreResult, WorkspaceId};
use sqlx::{Sqlite, Transaction};

use super::SqliteStore;
use crate::binds::append_audit;
use crate::error::map_sqlx;

impl SqliteStore {
    /// A transaction for reading one workspace's rows.
    pub(super) async fn read_tx(&self, _workspace: WorkspaceId) -> StoreResult<Transaction<'static, Sqlite>> {
        self.reader.begin().await.map_err(map_sqlx)
    }

    /// A transaction for changing one workspace's rows (and appending to its audit log).
    pub(super) async fn write_tx(
        &self,
        _workspace: WorkspaceId,
    ) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer.begin().await.map_err(map_sqlx)
    }

    pub(super) async fn append_tenant_audit(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        workspace: WorkspaceId,
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        append_audit!(*tx, workspace, audit);
        Ok(())
    }

    /// Locks a media row against a concurrent post before it is deleted; `NotFound` if absent.
    pub(super) async fn lock_media(
        &self,
        _tx: &mut Transaction<'static, Sqlite>,
        _workspace: WorkspaceId,
        _id: MediaId,
    ) -> StoreResult<()> {
        // The single writer serialises this against a create_post carrying the media.
        Ok(())
    }
}
