use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A resource's id type, and what a missing one is called in a 404.
pub trait PathId: DeserializeOwned + Send {
    const WHAT: &'static str;
}

impl PathId for crier_core::ApiKeyId {
    const WHAT: &'static str = "API key";
}

/// A path parameter parsed into its id type. An id that does not parse is reported exactly like
/// one that does not exist (the same 404 body), so probing ids teaches nothing.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: PathId,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(_) => Err(ApiError::not_found(T::WHAT)),
        }
    }
}

impl PathId for crier_core::ChannelId {
    const WHAT: &'static str = "channel";
}

impl PathId for crier_core::PostId {
    const WHAT: &'static str = "post";
}

impl PathId for crier_core::WebhookEndpointId {
    const WHAT: &'static str = "webhook endpoint";
}

impl PathId for crier_core::DeliveryId {
    const WHAT: &'static str = "webhook delivery";
}

impl PathId for crier_core::MediaId {
    const WHAT: &'static str = "media";
}

/// Members and sessions are named by their UUIDs in the dashboard's paths.
impl PathId for uuid::Uuid {
    const WHAT: &'static str = "member or session";
}

/// `/v1/posts/{id}/targets/{target_id}/…`: a target named under its post.
impl PathId for (crier_core::PostId, crier_core::TargetId) {
    const WHAT: &'static str = "post target";
}
