//! `IdentityStore` (see `crate::identity_store`).
use super::SqliteStore;
use crate::identity_store::impl_identity_store;

impl_identity_store!(SqliteStore, read = reader, write = writer);
