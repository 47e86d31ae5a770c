use serde::Serialize;

use crate::{Timestamp, WorkspaceId};

/// The isolation boundary: every tenant row belongs to exactly one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWorkspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceNameError {
    #[error("a workspace name must not be empty")]
    Empty,
    #[error("a workspace name must be at most {max} characters")]
    TooLong { max: usize },
    #[error("a workspace name must not contain control characters")]
    ControlCharacter,
}

impl NewWorkspace {
    pub const MAX_NAME_CHARS: usize = 200;

    pub fn new(name: &str, now: Timestamp) -> Result<Self, WorkspaceNameError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(WorkspaceNameError::Empty);
        }
        if name.chars().count() > Self::MAX_NAME_CHARS {
            return Err(WorkspaceNameError::TooLong { max: Self::MAX_NAME_CHARS });
        }
        if name.chars().any(char::is_control) {
            return Err(WorkspaceNameError::ControlCharacter);
        }
        Ok(Self { id: WorkspaceId::generate(), name: name.to_owned(), created_at: now })
    }
}
