//! `InvitationStore` (see `crate::invitation_store`).
use super::SqliteStore;
use crate::invitation_store::impl_invitation_store;

impl_invitation_store!(SqliteStore, read = reader);
