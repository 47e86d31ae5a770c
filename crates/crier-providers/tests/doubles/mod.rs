//! In-memory stand-ins for what the worker hands providers: a vault holding each channel's
//! credentials, and a media store holding ready files.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use crier_core::{Channel, ChannelId, MediaId, WorkspaceId};
use crier_providers::{CredentialVault, Credentials, MediaFile, MediaSource, ProviderError};

/// Credentials by channel, as the vault would seal them.
#[derive(Default)]
pub struct MemoryVault(pub Mutex<HashMap<ChannelId, Vec<u8>>>);

#[async_trait]
impl CredentialVault for MemoryVault {
    async fn open(&self, channel: &Channel) -> Result<Credentials, ProviderError> {
        let stored = self.0.lock().unwrap().get(&channel.id).cloned();
        stored
            .map(Credentials::from_bytes)
            .ok_or_else(|| ProviderError::AuthExpired { message: "no credentials".into() })
    }

    async fn replace(&self, channel: &Channel, credentials: &Credentials) -> Result<(), ProviderError> {
        self.0.lock().unwrap().insert(channel.id, credentials.expose().to_vec());
        Ok(())
    }
}

/// Ready media, in memory.
#[derive(Default)]
pub struct MemoryMedia(pub Mutex<HashMap<MediaId, MediaFile>>);

#[async_trait]
impl MediaSource for MemoryMedia {
    async fn load(&self, _workspace: WorkspaceId, id: MediaId) -> Result<MediaFile, ProviderError> {
        self.0.lock().unwrap().get(&id).cloned().ok_or_else(|| ProviderError::Rejected {
            code: "media_not_found".into(),
            message: id.to_string(),
        })
    }
}
