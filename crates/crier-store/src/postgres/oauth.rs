use super::PgStore;
use crate::oauth::impl_oauth_store;

impl_oauth_store!(PgStore, read = pool, write = pool);
