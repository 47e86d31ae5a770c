//! `PasskeyStore` (see `crate::passkey_store`).
use super::PgStore;
use crate::passkey_store::impl_passkey_store;

impl_passkey_store!(PgStore, read = pool, write = pool);
