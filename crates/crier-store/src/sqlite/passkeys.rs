//! `PasskeyStore` (see `crate::passkey_store`).
use super::SqliteStore;
use crate::passkey_store::impl_passkey_store;

impl_passkey_store!(SqliteStore, read = reader, write = writer);
