//! `OAuthStore` for both backends: the same portable statements on global tables, written once as
//! a macro that each backend instantiates with its pools (PostgreSQL: one pool; SQLite: the
//! single writer and the readers).

use crier_core::{
    AuthorizationCode, KeyHash, OAuthClient, OAuthToken, ScopeSet, StoreResult, TokenKind, User, WorkspaceId,
};
use uuid::Uuid;

use crate::error::corrupt;
use crate::rows::DbTime;

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    email: String,
    password_hash: String,
    created_at: DbTime,
    totp_workspace_id: Option<Uuid>,
    totp_secret_id: Option<Uuid>,
}

impl UserRow {
    pub(crate) fn into_domain(self) -> User {
        User {
            id: self.id,
            email: self.email,
            password_hash: self.password_hash,
            created_at: self.created_at.0,
            totp: match (self.totp_workspace_id, self.totp_secret_id) {
                (Some(workspace), Some(secret)) => Some(crier_core::TotpSecretRef {
                    workspace_id: WorkspaceId::from_uuid(workspace),
                    secret_id: crier_core::SecretId::from_uuid(secret),
                }),
                _ => None,
            },
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    client_id: String,
    name: String,
    redirect_uris: String,
    created_at: DbTime,
}

impl ClientRow {
    pub(crate) fn into_domain(self) -> StoreResult<OAuthClient> {
        let redirect_uris = serde_json::from_str(&self.redirect_uris)
            .map_err(|_| corrupt("oauth_clients.redirect_uris is not a JSON list of strings"))?;
        Ok(OAuthClient {
            client_id: self.client_id,
            name: self.name,
            redirect_uris,
            created_at: self.created_at.0,
        })
    }
}

fn hash(bytes: &[u8], table: &str) -> StoreResult<KeyHash> {
    KeyHash::from_slice(bytes).ok_or_else(|| corrupt(format!("{table} holds a hash that is not 32 bytes")))
}

fn scopes(text: &str, table: &str) -> StoreResult<ScopeSet> {
    text.parse().map_err(|_| corrupt(format!("{table}.scopes holds an unknown scope")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct CodeRow {
    code_hash: Vec<u8>,
    client_id: String,
    workspace_id: Uuid,
    user_id: Uuid,
    redirect_uri: String,
    code_challenge: String,
    scopes: String,
    resource: String,
    expires_at: DbTime,
}

impl CodeRow {
    pub(crate) fn into_domain(self) -> StoreResult<AuthorizationCode> {
        Ok(AuthorizationCode {
            hash: hash(&self.code_hash, "oauth_codes")?,
            client_id: self.client_id,
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            user_id: self.user_id,
            redirect_uri: self.redirect_uri,
            code_challenge: self.code_challenge,
            scopes: scopes(&self.scopes, "oauth_codes")?,
            resource: self.resource,
            expires_at: self.expires_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    token_hash: Vec<u8>,
    kind: String,
    grant_id: Uuid,
    client_id: String,
    workspace_id: Uuid,
    user_id: Uuid,
    scopes: String,
    resource: String,
    created_at: DbTime,
    expires_at: DbTime,
    revoked_at: Option<DbTime>,
    used_at: Option<DbTime>,
}

impl TokenRow {
    pub(crate) fn into_domain(self) -> StoreResult<OAuthToken> {
        let kind = match self.kind.as_str() {
            "access" => TokenKind::Access,
            "refresh" => TokenKind::Refresh,
            _ => return Err(corrupt("oauth_tokens.kind holds an unknown value")),
        };
        Ok(OAuthToken {
            hash: hash(&self.token_hash, "oauth_tokens")?,
            kind,
            grant_id: self.grant_id,
            client_id: self.client_id,
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            user_id: self.user_id,
            scopes: scopes(&self.scopes, "oauth_tokens")?,
            resource: self.resource,
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
            revoked_at: self.revoked_at.map(|t| t.0),
            used_at: self.used_at.map(|t| t.0),
        })
    }
}

pub(crate) mod sql {
    macro_rules! user_columns {
        () => {
            "id, email, password_hash, created_at, totp_workspace_id, totp_secret_id"
        };
    }
    pub(crate) use user_columns;
    pub const INSERT_USER: &str =
        "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)";
    pub const INSERT_MEMBER: &str =
        "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)";
    pub const USER_BY_EMAIL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
    pub const USER_WORKSPACES: &str = "SELECT workspace_id, role FROM workspace_members WHERE user_id = $1 ORDER BY created_at, workspace_id";
    pub const INSERT_CLIENT: &str =
        "INSERT INTO oauth_clients (client_id, name, redirect_uris, created_at) VALUES ($1, $2, $3, $4)";
    pub const GET_CLIENT: &str =
        "SELECT client_id, name, redirect_uris, created_at FROM oauth_clients WHERE client_id = $1";
    pub const INSERT_CODE: &str = "INSERT INTO oauth_codes (code_hash, client_id, workspace_id, user_id, \
         redirect_uri, code_challenge, scopes, resource, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    pub const TAKE_CODE: &str = "DELETE FROM oauth_codes WHERE code_hash = $1 RETURNING code_hash, client_id, \
         workspace_id, user_id, redirect_uri, code_challenge, scopes, resource, expires_at";
    macro_rules! token_columns {
        () => {
            "token_hash, kind, grant_id, client_id, workspace_id, user_id, scopes, resource, created_at, \
             expires_at, revoked_at, used_at"
        };
    }
    pub const INSERT_TOKEN: &str = concat!(
        "INSERT INTO oauth_tokens (",
        token_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    );
    pub const FIND_TOKEN: &str =
        concat!("SELECT ", token_columns!(), " FROM oauth_tokens WHERE token_hash = $1");
    /// Spends a live refresh token ($2 = now).
    pub const USE_REFRESH: &str = concat!(
        "UPDATE oauth_tokens SET used_at = $2 WHERE token_hash = $1 AND kind = 'refresh' AND used_at IS NULL \
         AND revoked_at IS NULL AND expires_at > $2 RETURNING ",
        token_columns!()
    );
    pub const REVOKE_GRANT: &str =
        "UPDATE oauth_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL";
}

/// Implements `OAuthStore` for `$store`, reading through `self.$read` and writing through
/// `self.$write` (pools).
macro_rules! impl_oauth_store {
    ($store:ty, read = $read:ident, write = $write:ident) => {
        #[async_trait::async_trait]
        impl crier_core::OAuthStore for $store {
            async fn create_user(
                &self,
                user: &crier_core::User,
                workspace: crier_core::WorkspaceId,
                role: &str,
                audit: &crier_core::NewAuditEvent,
            ) -> crier_core::StoreResult<()> {
                use $crate::oauth::sql;
                let mut tx = self.write_tx(workspace).await?;
                sqlx::query(sql::INSERT_USER)
                    .bind(user.id)
                    .bind(user.email.as_str())
                    .bind(user.password_hash.as_str())
                    .bind($crate::rows::DbTime(user.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                sqlx::query(sql::INSERT_MEMBER)
                    .bind(workspace.as_uuid())
                    .bind(user.id)
                    .bind(role)
                    .bind($crate::rows::DbTime(user.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                self.append_tenant_audit(&mut tx, workspace, audit).await?;
                tx.commit().await.map_err($crate::error::map_sqlx)
            }

            async fn find_user_by_email(
                &self,
                email: &str,
            ) -> crier_core::StoreResult<Option<crier_core::User>> {
                let row: Option<$crate::oauth::UserRow> = sqlx::query_as($crate::oauth::sql::USER_BY_EMAIL)
                    .bind(email)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                Ok(row.map($crate::oauth::UserRow::into_domain))
            }

            async fn user_workspaces(
                &self,
                user: uuid::Uuid,
            ) -> crier_core::StoreResult<Vec<(crier_core::WorkspaceId, String)>> {
                let rows: Vec<(uuid::Uuid, String)> = sqlx::query_as($crate::oauth::sql::USER_WORKSPACES)
                    .bind(user)
                    .fetch_all(&self.$read)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                Ok(rows
                    .into_iter()
                    .map(|(ws, role)| (crier_core::WorkspaceId::from_uuid(ws), role))
                    .collect())
            }

            async fn register_client(&self, client: &crier_core::OAuthClient) -> crier_core::StoreResult<()> {
                let uris = serde_json::to_string(&client.redirect_uris).unwrap_or_else(|_| "[]".into());
                sqlx::query($crate::oauth::sql::INSERT_CLIENT)
                    .bind(client.client_id.as_str())
                    .bind(client.name.as_str())
                    .bind(uris)
                    .bind($crate::rows::DbTime(client.created_at))
                    .execute(&self.$write)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                Ok(())
            }

            async fn get_client(
                &self,
                client_id: &str,
            ) -> crier_core::StoreResult<Option<crier_core::OAuthClient>> {
                let row: Option<$crate::oauth::ClientRow> = sqlx::query_as($crate::oauth::sql::GET_CLIENT)
                    .bind(client_id)
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                row.map($crate::oauth::ClientRow::into_domain).transpose()
            }

            async fn insert_code(&self, code: &crier_core::AuthorizationCode) -> crier_core::StoreResult<()> {
                sqlx::query($crate::oauth::sql::INSERT_CODE)
                    .bind(code.hash.as_bytes().as_slice())
                    .bind(code.client_id.as_str())
                    .bind(code.workspace_id.as_uuid())
                    .bind(code.user_id)
                    .bind(code.redirect_uri.as_str())
                    .bind(code.code_challenge.as_str())
                    .bind(code.scopes.to_string())
                    .bind(code.resource.as_str())
                    .bind($crate::rows::DbTime(code.expires_at))
                    .execute(&self.$write)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                Ok(())
            }

            async fn take_code(
                &self,
                hash: &crier_core::KeyHash,
            ) -> crier_core::StoreResult<Option<crier_core::AuthorizationCode>> {
                let row: Option<$crate::oauth::CodeRow> = sqlx::query_as($crate::oauth::sql::TAKE_CODE)
                    .bind(hash.as_bytes().as_slice())
                    .fetch_optional(&self.$write)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                row.map($crate::oauth::CodeRow::into_domain).transpose()
            }

            async fn insert_tokens(&self, tokens: &[crier_core::OAuthToken]) -> crier_core::StoreResult<()> {
                let mut tx = self.$write.begin().await.map_err($crate::error::map_sqlx)?;
                for token in tokens {
                    sqlx::query($crate::oauth::sql::INSERT_TOKEN)
                        .bind(token.hash.as_bytes().as_slice())
                        .bind(token.kind.as_str())
                        .bind(token.grant_id)
                        .bind(token.client_id.as_str())
                        .bind(token.workspace_id.as_uuid())
                        .bind(token.user_id)
                        .bind(token.scopes.to_string())
                        .bind(token.resource.as_str())
                        .bind($crate::rows::DbTime(token.created_at))
                        .bind($crate::rows::DbTime(token.expires_at))
                        .bind(token.revoked_at.map($crate::rows::DbTime))
                        .bind(token.used_at.map($crate::rows::DbTime))
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::error::map_sqlx)?;
                }
                tx.commit().await.map_err($crate::error::map_sqlx)
            }

            async fn find_token(
                &self,
                hash: &crier_core::KeyHash,
            ) -> crier_core::StoreResult<Option<crier_core::OAuthToken>> {
                let row: Option<$crate::oauth::TokenRow> = sqlx::query_as($crate::oauth::sql::FIND_TOKEN)
                    .bind(hash.as_bytes().as_slice())
                    .fetch_optional(&self.$read)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                row.map($crate::oauth::TokenRow::into_domain).transpose()
            }

            async fn use_refresh_token(
                &self,
                hash: &crier_core::KeyHash,
                at: crier_core::Timestamp,
            ) -> crier_core::StoreResult<crier_core::RefreshUse> {
                use $crate::oauth::{TokenRow, sql};
                let mut tx = self.$write.begin().await.map_err($crate::error::map_sqlx)?;
                let spent: Option<TokenRow> = sqlx::query_as(sql::USE_REFRESH)
                    .bind(hash.as_bytes().as_slice())
                    .bind($crate::rows::DbTime(at))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                let outcome = match spent {
                    Some(row) => crier_core::RefreshUse::Fresh(Box::new(row.into_domain()?)),
                    None => {
                        let found: Option<TokenRow> = sqlx::query_as(sql::FIND_TOKEN)
                            .bind(hash.as_bytes().as_slice())
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err($crate::error::map_sqlx)?;
                        match found.map(TokenRow::into_domain).transpose()? {
                            Some(token)
                                if token.kind == crier_core::TokenKind::Refresh
                                    && token.used_at.is_some() =>
                            {
                                sqlx::query(sql::REVOKE_GRANT)
                                    .bind(token.grant_id)
                                    .bind($crate::rows::DbTime(at))
                                    .execute(&mut *tx)
                                    .await
                                    .map_err($crate::error::map_sqlx)?;
                                crier_core::RefreshUse::Replayed
                            }
                            _ => crier_core::RefreshUse::Invalid,
                        }
                    }
                };
                tx.commit().await.map_err($crate::error::map_sqlx)?;
                Ok(outcome)
            }

            async fn revoke_grant(
                &self,
                grant_id: uuid::Uuid,
                at: crier_core::Timestamp,
            ) -> crier_core::StoreResult<()> {
                sqlx::query($crate::oauth::sql::REVOKE_GRANT)
                    .bind(grant_id)
                    .bind($crate::rows::DbTime(at))
                    .execute(&self.$write)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_oauth_store;
