//! A channel's credentials as providers see them: provider-defined JSON, held in memory only
//! while a call needs it (zeroed when dropped), opened from and written back to the vault.

use async_trait::async_trait;
use crier_core::{Channel, WorkspaceId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::ProviderError;

/// Tokens, app or SMTP passwords: provider-defined JSON. Never logged (`Debug` shows nothing).
#[derive(Clone)]
pub struct Credentials(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

impl Credentials {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn to_json<T: Serialize>(value: &T) -> Self {
        // Serialising plain structs of strings cannot fail; an empty object would be refused later.
        Self::from_bytes(serde_json::to_vec(value).unwrap_or_default())
    }

    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.0).map_err(|_| ProviderError::AuthExpired {
            message: "the channel's stored credentials are not what this provider expects; reconnect it"
                .into(),
        })
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// Where providers open a channel's credentials and store rotated ones.
#[async_trait]
pub trait CredentialVault: Send + Sync {
    async fn open(&self, channel: &Channel) -> Result<Credentials, ProviderError>;
    async fn replace(&self, channel: &Channel, credentials: &Credentials) -> Result<(), ProviderError>;
}

fn no_credentials(channel: &Channel) -> ProviderError {
    ProviderError::AuthExpired {
        message: format!("channel {} has no stored credentials; reconnect it", channel.id),
    }
}

fn vault_error(workspace: WorkspaceId, err: &crier_vault::VaultError) -> ProviderError {
    match err {
        crier_vault::VaultError::Store(crier_core::StoreError::Other(_)) => {
            ProviderError::Retryable { after: None, message: "the vault's storage is unavailable".into() }
        }
        other => ProviderError::Rejected {
            code: "credentials_unavailable".into(),
            message: format!("the credentials of a channel in {workspace} do not open: {other}"),
        },
    }
}

#[async_trait]
impl CredentialVault for crier_vault::Vault {
    async fn open(&self, channel: &Channel) -> Result<Credentials, ProviderError> {
        let id = channel.credentials.ok_or_else(|| no_credentials(channel))?;
        let opened = crier_vault::Vault::open(self, channel.workspace_id, id)
            .await
            .map_err(|err| vault_error(channel.workspace_id, &err))?;
        Ok(Credentials::from_bytes(opened.expose().to_vec()))
    }

    async fn replace(&self, channel: &Channel, credentials: &Credentials) -> Result<(), ProviderError> {
        let id = channel.credentials.ok_or_else(|| no_credentials(channel))?;
        crier_vault::Vault::replace(self, channel.workspace_id, id, credentials.expose())
            .await
            .map_err(|err| vault_error(channel.workspace_id, &err))
    }
}
