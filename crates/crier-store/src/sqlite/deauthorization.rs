use sqlx::{Sqlite, Transaction};

use super::SqliteStore;
use crate::deauthorization_store::impl_deauthorization_store;
use crate::rows_webhooks::sql::FAN_OUT_SQLITE;

impl SqliteStore {
    /// Nothing before commit: the notifier is in-process.
    async fn wake_deliveries_in(_tx: &mut Transaction<'static, Sqlite>) -> crier_core::StoreResult<()> {
        Ok(())
    }

    /// Wakes the webhook deliverers of this process.
    fn wake_deliveries_after(&self) {
        self.jobs_changed.notify_waiters();
    }
}

// The single writer serialises the channel read with its change.
impl_deauthorization_store!(
    SqliteStore,
    read = reader,
    write = writer,
    lock_channel = "",
    events_lock = None::<&str>,
    fan_out = FAN_OUT_SQLITE
);
