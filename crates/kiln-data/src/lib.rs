//! kiln-data: tabular data for training.
//!
//! Files (CSV, JSON/NDJSON, Parquet, Avro) are read into a [`Table`] of Arrow
//! record batches; contracts, deduplication, fingerprints, profiles and splits
//! work on a `Table`; a [`Matrix`] is the dense numeric form learners take.
//!
//! Invariants: no tracking, no learning, no HTTP here. Every error names the
//! file and, where there is one, the row (or byte offset) and the column.

pub mod contract;
pub mod dedup;
pub mod error;
pub mod fingerprint;
pub mod incremental;
pub mod matrix;
pub mod profile;
pub mod read;
pub mod rng;
pub mod split;
pub mod table;
pub mod to_matrix;
mod values;
pub mod write;

pub use error::{DataError, Location, Result};
pub use matrix::Matrix;
pub use table::{Origin, Table};

pub use arrow;
