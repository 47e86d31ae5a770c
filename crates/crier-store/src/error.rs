use crier_core::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL scheme (use sqlite://PATH or postgres://…)")]
    UnsupportedScheme,
    #[error("in-memory SQLite is not supported; give a file path (sqlite://PATH)")]
    InMemorySqlite,
    #[error("could not open the database")]
    Open(#[source] sqlx::Error),
    #[error("could not apply database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Maps driver errors onto the storage vocabulary: uniqueness and foreign-key violations are
/// caller errors (`Conflict`, `NotFound`), anything else is an opaque failure with its cause kept.
pub(crate) fn map_sqlx(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            // The constraint name is schema detail: logged, not sent to clients.
            tracing::debug!(constraint = db.constraint().unwrap_or("?"), "uniqueness violation");
            StoreError::Conflict("an object with the same identity already exists".to_owned())
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        other => StoreError::Other(Box::new(other)),
    }
}

/// A stored value the domain refuses (an unknown scope, say): the row was written by something
/// other than this version of Crier.
pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Other(what.into().into())
}
