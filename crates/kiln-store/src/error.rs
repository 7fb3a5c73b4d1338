//! Errors carry MLflow's error codes so every layer above can map them to the
//! same HTTP statuses and `MlflowException` codes that `mlflow server` gives.

use std::fmt;

/// MLflow's `databricks_pb2.ErrorCode` values that Kiln produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InternalError,
    InvalidParameterValue,
    ResourceDoesNotExist,
    ResourceAlreadyExists,
    InvalidState,
    BadRequest,
    EndpointNotFound,
    NotImplemented,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::EndpointNotFound => "ENDPOINT_NOT_FOUND",
            ErrorCode::NotImplemented => "NOT_IMPLEMENTED",
        }
    }

    /// The HTTP status `mlflow server` answers with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InternalError => 500,
            ErrorCode::InvalidParameterValue
            | ErrorCode::ResourceAlreadyExists
            | ErrorCode::InvalidState
            | ErrorCode::BadRequest => 400,
            ErrorCode::ResourceDoesNotExist | ErrorCode::EndpointNotFound => 404,
            ErrorCode::NotImplemented => 501,
        }
    }
}

/// An error from the store, with MLflow's error code and a user-facing message.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreError {
    pub code: ErrorCode,
    pub message: String,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        StoreError {
            code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceDoesNotExist, message)
    }
    pub fn exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceAlreadyExists, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalError, message)
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e {
            // Text the database cannot hold (PostgreSQL: NUL bytes, bad encodings) is a client mistake.
            if matches!(d.code().as_deref(), Some("22021" | "22P05")) {
                return StoreError::invalid(format!("a value cannot be stored: {}", d.message()));
            }
        }
        tracing::error!(error = %e, "database error");
        StoreError::internal(format!("database error: {e}"))
    }
}

impl From<crate::filter::FilterError> for StoreError {
    fn from(e: crate::filter::FilterError) -> Self {
        StoreError::invalid(e.0)
    }
}
