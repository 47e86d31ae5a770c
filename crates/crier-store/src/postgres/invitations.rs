//! `InvitationStore` (see `crate::invitation_store`).
use super::PgStore;
use crate::invitation_store::impl_invitation_store;

impl_invitation_store!(PgStore, read = pool);
