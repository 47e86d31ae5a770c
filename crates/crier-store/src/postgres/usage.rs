use super::PgStore;
use crate::usage_store::impl_usage_store;

impl_usage_store!(PgStore);
