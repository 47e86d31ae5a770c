use sqlx::{Postgres, Transaction};

use super::PgStore;
use crate::deauthorization_store::impl_deauthorization_store;
use crate::rows_webhooks::sql::FAN_OUT_POSTGRES;

impl PgStore {
    /// Wakes the webhook deliverers when the transaction commits.
    async fn wake_deliveries_in(tx: &mut Transaction<'static, Postgres>) -> crier_core::StoreResult<()> {
        Self::notify_jobs(tx).await
    }

    /// Nothing: the notification goes with the commit.
    fn wake_deliveries_after(&self) {}
}

impl_deauthorization_store!(
    PgStore,
    read = pool,
    write = pool,
    lock_channel = " FOR UPDATE",
    events_lock = Some(super::EVENTS_LOCK),
    fan_out = FAN_OUT_POSTGRES
);
