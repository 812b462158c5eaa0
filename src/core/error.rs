//! The one error type of the core. Each front door maps it to its own wire format.

/// What went wrong in the core, in terms a door can map to its own answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field failed validation; `field` is the input's name.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is already taken (email, username, id).
    #[error("{0}")]
    Conflict(String),
    /// The database or another dependency cannot serve now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A failure that is ours, not the caller's; logged, never shown in detail.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

impl Error {
    /// Shorthand for a validation error.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }
}
