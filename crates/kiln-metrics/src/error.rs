//! The one error type of this crate: what was wrong with the input, and where.

use std::fmt;

/// Why a metric could not be computed: the message names the argument (and
/// the position, where there is one) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricError {
    pub message: String,
}

impl MetricError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> MetricError {
        MetricError {
            message: message.into(),
        }
    }
}

impl fmt::Display for MetricError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MetricError {}

/// This crate's result type.
pub type Result<T, E = MetricError> = std::result::Result<T, E>;
