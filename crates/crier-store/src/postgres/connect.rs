use super::PgStore;
use crate::connect_store::impl_connect_store;

impl_connect_store!(PgStore, global = pool);
