//! `IdentityStore` (see `crate::identity_store`).
use super::PgStore;
use crate::identity_store::impl_identity_store;

impl_identity_store!(PgStore, read = pool, write = pool);
