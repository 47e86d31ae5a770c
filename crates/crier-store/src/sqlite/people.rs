//! `PeopleStore` (see `crate::people_store`).
use super::SqliteStore;
use crate::people_store::impl_people_store;

impl_people_store!(SqliteStore, read = reader, write = writer);
