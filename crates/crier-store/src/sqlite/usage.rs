use super::SqliteStore;
use crate::usage_store::impl_usage_store;

impl_usage_store!(SqliteStore);
