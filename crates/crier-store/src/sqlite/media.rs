use super::SqliteStore;
use crate::media_store::impl_media_store;

impl_media_store!(SqliteStore, in_use = crate::rows_media::sql::SQLITE_MEDIA_IN_USE, global = reader);
