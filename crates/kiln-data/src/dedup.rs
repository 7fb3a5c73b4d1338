//! Deduplication: drop rows whose key (some columns, or the whole row) was seen before.
//!
//! The first occurrence of each key is kept, in the original row order; every
//! removed row is reported with its location and the location of the row it
//! repeats, so nothing disappears without a trace. Keys compare by value with
//! Arrow's row format (two nulls are equal; floats compare by bits, so `-0.0`
//! and `0.0` differ, and two NaN with the same bits are equal).

use std::collections::HashMap;

use arrow::array::{ArrayRef, BooleanArray};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, Rows, SortField};
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Location, Result};
use crate::table::Table;

/// What makes two rows duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DedupKey {
    /// The values of these columns.
    Columns(Vec<String>),
    /// Every column.
    WholeRow,
}

/// A removed row: where it was, and where the row it repeats is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Removed {
    pub location: Location,
    pub first: Location,
    /// 0-based row in the input table.
    pub row: usize,
    /// 0-based row of the kept first occurrence.
    pub first_row: usize,
}

/// The outcome of [`dedup`].
#[derive(Debug, Clone)]
pub struct Deduped {
    /// The table with the first occurrence of each key, in the original order.
    pub table: Table,
    /// How many rows were removed.
    pub removed: usize,
    /// The removed rows, in row order.
    pub removed_rows: Vec<Removed>,
}

/// Removes rows whose key was seen earlier in the table.
pub fn dedup(table: &Table, key: &DedupKey) -> Result<Deduped> {
    let idx: Vec<usize> = match key {
        DedupKey::WholeRow => (0..table.num_columns()).collect(),
        DedupKey::Columns(cols) => {
            if cols.is_empty() {
                return Err(DataError::msg("a dedup key needs at least one column"));
            }
            cols.iter().map(|c| table.column_index(c)).collect::<Result<_>>()?
        }
    };
    let n = table.num_rows();
    if n == 0 || idx.is_empty() {
        return Ok(Deduped {
            table: table.clone(),
            removed: 0,
            removed_rows: Vec::new(),
        });
    }
    let arrays: Vec<ArrayRef> = idx.iter().map(|&i| table.column_at(i)).collect::<Result<_>>()?;
    let rows = encode_rows(&arrays)?;
    let mut first: HashMap<&[u8], usize> = HashMap::with_capacity(n);
    let mut keep = vec![true; n];
    let mut removed_rows = Vec::new();
    for (i, k) in keep.iter_mut().enumerate() {
        let bytes = rows.row(i).data();
        match first.get(bytes) {
            Some(&f) => {
                *k = false;
                removed_rows.push(Removed {
                    location: table.location(i, None),
                    first: table.location(f, None),
                    row: i,
                    first_row: f,
                });
            }
            None => {
                first.insert(bytes, i);
            }
        }
    }
    if removed_rows.is_empty() {
        return Ok(Deduped {
            table: table.clone(),
            removed: 0,
            removed_rows,
        });
    }
    let mask = BooleanArray::from(keep);
    let batch = table.concat()?;
    let kept: RecordBatch = arrow::compute::filter_record_batch(&batch, &mask)
        .map_err(|e| DataError::msg(format!("removing duplicate rows: {e}")))?;
    Ok(Deduped {
        table: Table::new(table.schema().clone(), vec![kept])?,
        removed: removed_rows.len(),
        removed_rows,
    })
}

/// Arrow's comparable row encoding of the given columns (equal values, equal bytes).
pub(crate) fn encode_rows(arrays: &[ArrayRef]) -> Result<Rows> {
    let fields = arrays.iter().map(|a| SortField::new(a.data_type().clone())).collect();
    let conv = RowConverter::new(fields).map_err(|e| DataError::msg(format!("cannot compare rows: {e}")))?;
    conv.convert_columns(arrays)
        .map_err(|e| DataError::msg(format!("cannot compare rows: {e}")))
}
