//! Errors that say where: file, row (or byte offset), column, and what was expected.

use std::fmt;

/// Where in the input a problem is. Every part is optional; what is known is shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// The file (or URI) the data came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based data row within the file (the header, if any, is not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// Byte offset in the file, where rows are not known (truncated binary files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_offset: Option<u64>,
    /// Column name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Location {
        Location {
            file: Some(file.into()),
            ..Location::default()
        }
    }
    pub fn with_row(mut self, row: u64) -> Location {
        self.row = Some(row);
        self
    }
    pub fn with_byte_offset(mut self, offset: u64) -> Location {
        self.byte_offset = Some(offset);
        self
    }
    pub fn with_column(mut self, column: impl Into<String>) -> Location {
        self.column = Some(column.into());
        self
    }
    pub fn is_empty(&self) -> bool {
        self.file.is_none() && self.row.is_none() && self.byte_offset.is_none() && self.column.is_none()
    }
}

impl fmt::Display for Location {
    /// `data.csv, row 17, column 'age'` (the parts that are known).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(file) = &self.file {
            parts.push(file.clone());
        }
        if let Some(row) = self.row {
            parts.push(format!("row {row}"));
        }
        if let Some(off) = self.byte_offset {
            parts.push(format!("byte offset {off}"));
        }
        if let Some(col) = &self.column {
            parts.push(format!("column '{col}'"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// A data error: where, and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    pub location: Location,
    pub message: String,
}

impl DataError {
    pub fn new(location: Location, message: impl Into<String>) -> DataError {
        DataError {
            location,
            message: message.into(),
        }
    }
    /// An error with no location (configuration mistakes, empty inputs).
    pub fn msg(message: impl Into<String>) -> DataError {
        DataError::new(Location::default(), message)
    }
    pub fn in_file(file: impl Into<String>, message: impl Into<String>) -> DataError {
        DataError::new(Location::file(file), message)
    }
    /// Fills in the file if the error does not name one yet.
    pub fn with_file(mut self, file: &str) -> DataError {
        if self.location.file.is_none() {
            self.location.file = Some(file.to_string());
        }
        self
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.location, self.message)
        }
    }
}

impl std::error::Error for DataError {}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_what_is_known() {
        let e = DataError::new(
            Location::file("a.csv").with_row(3).with_column("age"),
            "expected a number, found 'abc'",
        );
        assert_eq!(
            e.to_string(),
            "a.csv, row 3, column 'age': expected a number, found 'abc'"
        );
        assert_eq!(DataError::msg("no files").to_string(), "no files");
        let e = DataError::msg("x").with_file("b.parquet");
        assert_eq!(e.to_string(), "b.parquet: x");
    }
}
