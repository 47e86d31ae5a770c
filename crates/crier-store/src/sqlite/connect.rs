use super::SqliteStore;
use crate::connect_store::impl_connect_store;

impl_connect_store!(SqliteStore, global = reader);
