//! Checks shared by the media routes and posts: a file's claimed type against its bytes, and a
//! file against channels' media rules.

use crier_core::{MediaFacts, StoreError};

use crate::error::{ApiResult, FieldError};
use crate::extract::Tenant;
use crate::routes::media::parse_channel;
use crate::state::AppState;

const MAX_TEXT_CHARS: usize = 1000;

/// A name or declared type that says the file is something its bytes are not is a lie: refused.
pub fn check_claimed_type(
    facts: &MediaFacts,
    declared: Option<&str>,
    file_name: Option<&str>,
    pointer: &str,
    errors: &mut Vec<FieldError>,
) {
    if let Some(claimed) = crier_media::claimed_mime(declared, file_name)
        && claimed != facts.mime
    {
        errors.push(FieldError::new(
            pointer,
            format!("the file's bytes are {} but its name or declared type says {claimed}", facts.mime),
        ));
    }
}

/// Alt text, file names and declared types: at most 1000 characters, no control characters.
pub fn check_text_field(pointer: &str, value: Option<&str>, errors: &mut Vec<FieldError>) {
    if let Some(value) = value
        && (value.chars().count() > MAX_TEXT_CHARS || value.chars().any(char::is_control))
    {
        errors.push(FieldError::new(
            pointer,
            format!("at most {MAX_TEXT_CHARS} characters, no control characters"),
        ));
    }
}

/// Checks one file against the media rules of each listed channel (`/channel_ids/{i}`).
pub async fn check_for_channels(
    state: &AppState,
    tenant: &Tenant,
    facts: &MediaFacts,
    channel_ids: &[String],
    errors: &mut Vec<FieldError>,
) -> ApiResult<()> {
    for (i, raw) in channel_ids.iter().enumerate() {
        let pointer = format!("/channel_ids/{i}");
        let channel = match parse_channel(raw) {
            None => None,
            Some(id) => match state.store.get_channel(tenant.workspace_id, id).await {
                Ok(channel) => Some(channel),
                Err(StoreError::NotFound) => None,
                Err(other) => return Err(other.into()),
            },
        };
        let Some(channel) = channel else {
            errors.push(FieldError::new(pointer, "no such channel in this workspace"));
            continue;
        };
        let Some(provider) = state.providers.get(&channel.provider) else {
            errors.push(FieldError::new(pointer, "this Crier has no provider for the channel"));
            continue;
        };
        for issue in provider.media_rules(&channel).check(std::slice::from_ref(facts)) {
            errors.push(FieldError::new(
                pointer.clone(),
                format!("{} ({}): {}", channel.id, channel.provider, issue.message),
            ));
        }
    }
    Ok(())
}
