//! Errors: kiln-tune reuses the store's `StoreError` (an MLflow error code and
//! a message), so the server maps a tuning mistake to the same 4xx answers as
//! every other client mistake.

pub use kiln_store::{ErrorCode, StoreError as TuneError};

/// Results of kiln-tune.
pub type Result<T, E = TuneError> = std::result::Result<T, E>;

/// A client mistake in a value (400 INVALID_PARAMETER_VALUE).
pub fn invalid(message: impl Into<String>) -> TuneError {
    TuneError::invalid(message)
}

/// Something named does not exist (404 RESOURCE_DOES_NOT_EXIST).
pub fn not_found(message: impl Into<String>) -> TuneError {
    TuneError::not_found(message)
}

/// An operation that does not fit the current state, e.g. a tell for a finished trial (400 INVALID_STATE).
pub fn invalid_state(message: impl Into<String>) -> TuneError {
    TuneError::new(ErrorCode::InvalidState, message)
}
