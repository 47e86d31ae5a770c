use super::PgStore;
use crate::media_store::impl_media_store;

impl_media_store!(PgStore, in_use = crate::rows_media::sql::PG_MEDIA_IN_USE, global = pool);
