use super::SqliteStore;
use crate::oauth::impl_oauth_store;

impl_oauth_store!(SqliteStore, read = reader, write = writer);
