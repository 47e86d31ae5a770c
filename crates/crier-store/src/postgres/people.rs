//! `PeopleStore` (see `crate::people_store`).
use super::PgStore;
use crate::people_store::impl_people_store;

impl_people_store!(PgStore, read = pool, write = pool);
