//! `Table`: a schema and the Arrow record batches that hold the rows.

use std::sync::Arc;

use arrow::array::{ArrayRef, UInt32Array, UInt64Array};
use arrow::compute;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{DataError, Result};

/// A table: one schema, rows in one or more record batches (in row order).
///
/// Tables read from files remember where each batch came from ([`Origin`]),
/// so that a problem found later (a contract violation, a duplicate) can name
/// the file and row. Derived tables (`take`) have no origins.
#[derive(Debug, Clone)]
pub struct Table {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    /// One per batch when known, else empty.
    origins: Vec<Origin>,
}

/// Where a batch's rows came from: a file and the 1-based row of its first row there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<str>,
    pub first_row: u64,
}

impl Table {
    /// A table from batches that all have `schema` (checked).
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Table> {
        for (i, b) in batches.iter().enumerate() {
            if b.schema().fields() != schema.fields() {
                return Err(DataError::msg(format!(
                    "record batch {i} has schema {:?}, expected {:?}",
                    b.schema(),
                    schema
                )));
            }
        }
        let batches = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
        Ok(Table {
            schema,
            batches,
            origins: Vec::new(),
        })
    }

    /// A table whose batches came from the given origins (one per batch, same order).
    pub fn with_origins(schema: SchemaRef, batches: Vec<RecordBatch>, origins: Vec<Origin>) -> Result<Table> {
        if batches.len() != origins.len() {
            return Err(DataError::msg(format!(
                "{} origins for {} record batches",
                origins.len(),
                batches.len()
            )));
        }
        let (batches, origins): (Vec<_>, Vec<_>) = batches
            .into_iter()
            .zip(origins)
            .filter(|(b, _)| b.num_rows() > 0)
            .unzip();
        let mut t = Table::new(schema, batches)?;
        t.origins = origins;
        Ok(t)
    }

    /// Where row `row` (0-based over the table) came from: the file and its
    /// 1-based row there, when the table was read from files.
    pub fn locate(&self, row: usize) -> Option<(&str, u64)> {
        if self.origins.is_empty() {
            return None;
        }
        let mut start = 0usize;
        for (b, o) in self.batches.iter().zip(&self.origins) {
            let n = b.num_rows();
            if row < start + n {
                return Some((&o.file, o.first_row + (row - start) as u64));
            }
            start += n;
        }
        None
    }

    /// A [`crate::Location`] for a row (and column), naming the file and row when known.
    pub fn location(&self, row: usize, column: Option<&str>) -> crate::Location {
        let mut loc = match self.locate(row) {
            Some((file, r)) => crate::Location::file(file).with_row(r),
            None => crate::Location {
                row: Some(row as u64 + 1),
                ..crate::Location::default()
            },
        };
        if let Some(c) = column {
            loc = loc.with_column(c);
        }
        loc
    }

    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }

    /// An empty table with `schema`.
    pub fn empty(schema: SchemaRef) -> Table {
        Table {
            schema,
            batches: Vec::new(),
            origins: Vec::new(),
        }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    pub fn into_batches(self) -> Vec<RecordBatch> {
        self.batches
    }

    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    pub fn num_columns(&self) -> usize {
        self.schema.fields().len()
    }

    pub fn column_names(&self) -> Vec<String> {
        self.schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    /// Index of a column by name; the error lists the columns there are.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.schema.index_of(name).map_err(|_| {
            DataError::msg(format!(
                "no column '{name}'; the columns are: {}",
                self.column_names().join(", ")
            ))
        })
    }

    /// One column as a single array (batches concatenated; no copy for one batch).
    pub fn column(&self, name: &str) -> Result<ArrayRef> {
        let i = self.column_index(name)?;
        self.column_at(i)
    }

    /// One column by index as a single array.
    pub fn column_at(&self, i: usize) -> Result<ArrayRef> {
        match self.batches.len() {
            0 => Ok(arrow::array::new_empty_array(self.schema.field(i).data_type())),
            1 => Ok(self.batches[0].column(i).clone()),
            _ => {
                let parts: Vec<&dyn arrow::array::Array> = self.batches.iter().map(|b| b.column(i).as_ref()).collect();
                compute::concat(&parts).map_err(|e| DataError::msg(format!("concatenating column {i}: {e}")))
            }
        }
    }

    /// The chunks of one column, batch by batch (no copy).
    pub fn column_chunks(&self, i: usize) -> impl Iterator<Item = &ArrayRef> {
        self.batches.iter().map(move |b| b.column(i))
    }

    /// All rows in one batch (no copy when there is one batch already).
    pub fn concat(&self) -> Result<RecordBatch> {
        match self.batches.len() {
            0 => Ok(RecordBatch::new_empty(self.schema.clone())),
            1 => Ok(self.batches[0].clone()),
            _ => compute::concat_batches(&self.schema, &self.batches)
                .map_err(|e| DataError::msg(format!("concatenating batches: {e}"))),
        }
    }

    /// The rows at `indices` (0-based, over the whole table), in that order.
    ///
    /// Copies only the chosen rows (batch by batch, through `interleave`), never
    /// the whole table.
    pub fn take(&self, indices: &[usize]) -> Result<Table> {
        let n = self.num_rows();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(DataError::msg(format!(
                "row index {bad} out of range for a table of {n} rows"
            )));
        }
        if self.batches.len() <= 1 {
            let batch = self.concat()?;
            let idx = UInt64Array::from_iter_values(indices.iter().map(|&i| i as u64));
            let columns: Vec<ArrayRef> = batch
                .columns()
                .iter()
                .map(|c| compute::take(c.as_ref(), &idx, None))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| DataError::msg(format!("taking rows: {e}")))?;
            let out = RecordBatch::try_new(self.schema.clone(), columns)
                .map_err(|e| DataError::msg(format!("taking rows: {e}")))?;
            return Table::new(self.schema.clone(), vec![out]);
        }
        // (batch, row in batch) for every index.
        let starts: Vec<usize> = self
            .batches
            .iter()
            .scan(0usize, |acc, b| {
                let s = *acc;
                *acc += b.num_rows();
                Some(s)
            })
            .collect();
        let pairs: Vec<(usize, usize)> = indices
            .iter()
            .map(|&i| {
                let b = starts.partition_point(|&s| s <= i) - 1;
                (b, i - starts[b])
            })
            .collect();
        let columns: Vec<ArrayRef> = (0..self.num_columns())
            .map(|j| {
                let parts: Vec<&dyn arrow::array::Array> = self.batches.iter().map(|b| b.column(j).as_ref()).collect();
                arrow::compute::interleave(&parts, &pairs)
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| DataError::msg(format!("taking rows: {e}")))?;
        let out = RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(indices.len())),
        )
        .map_err(|e| DataError::msg(format!("taking rows: {e}")))?;
        Table::new(self.schema.clone(), vec![out])
    }

    /// Where each of `indices` came from ([`Table::locate`]), as `file:row`
    /// (or the 1-based table row when the table has no origins).
    pub fn locations_of(&self, indices: &[usize]) -> Vec<String> {
        indices
            .iter()
            .map(|&i| {
                self.locate(i)
                    .map_or_else(|| (i + 1).to_string(), |(f, r)| format!("{f}:{r}"))
            })
            .collect()
    }

    /// The table with only the named columns, in that order.
    pub fn select(&self, names: &[&str]) -> Result<Table> {
        let idx: Vec<usize> = names.iter().map(|n| self.column_index(n)).collect::<Result<_>>()?;
        let schema = Arc::new(
            self.schema
                .project(&idx)
                .map_err(|e| DataError::msg(format!("selecting columns: {e}")))?,
        );
        let batches = self
            .batches
            .iter()
            .map(|b| b.project(&idx))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| DataError::msg(format!("selecting columns: {e}")))?;
        let mut t = Table::new(schema, batches)?;
        t.origins = self.origins.clone();
        Ok(t)
    }

    /// Appends the rows of `other` (same columns, same types).
    pub fn append(&mut self, other: Table) -> Result<()> {
        if other.schema.fields() != self.schema.fields() {
            return Err(DataError::msg(format!(
                "cannot append a table with schema {:?} to one with {:?}",
                other.schema, self.schema
            )));
        }
        // Origins stay known only if both sides know them.
        let keep = (self.origins.len() == self.batches.len() || self.batches.is_empty())
            && other.origins.len() == other.batches.len();
        if keep {
            self.origins.extend(other.origins);
        } else {
            self.origins.clear();
        }
        self.batches.extend(other.batches);
        Ok(())
    }

    /// A single-column table of row positions, for tests and debugging.
    #[doc(hidden)]
    pub fn row_numbers(n: u32) -> Table {
        let arr: ArrayRef = Arc::new(UInt32Array::from_iter_values(0..n));
        let schema = Arc::new(Schema::new(vec![arrow::datatypes::Field::new(
            "row",
            arrow::datatypes::DataType::UInt32,
            false,
        )]));
        let b = RecordBatch::try_new(schema.clone(), vec![arr]).expect("one column");
        Table::new(schema, vec![b]).expect("same schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Float64Array, StringArray};
    use arrow::datatypes::{DataType, Field};

    fn two_batches() -> Table {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let b1 = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(vec![1.0, 2.0])),
                Arc::new(StringArray::from(vec!["a", "b"])),
            ],
        )
        .unwrap();
        let b2 = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(vec![Some(3.0), None])),
                Arc::new(StringArray::from(vec!["c", "d"])),
            ],
        )
        .unwrap();
        Table::new(schema, vec![b1, b2]).unwrap()
    }

    #[test]
    fn origins_locate_rows_in_their_files() {
        let t = two_batches();
        let b = t.batches().to_vec();
        let origins = vec![
            Origin {
                file: "a.csv".into(),
                first_row: 1,
            },
            Origin {
                file: "b.csv".into(),
                first_row: 1,
            },
        ];
        let t = Table::with_origins(t.schema().clone(), b, origins).unwrap();
        assert_eq!(t.locate(1), Some(("a.csv", 2)));
        assert_eq!(t.locate(3), Some(("b.csv", 2)));
        assert_eq!(t.locate(4), None);
        assert_eq!(t.location(2, Some("s")).to_string(), "b.csv, row 1, column 's'");
        assert_eq!(t.select(&["x"]).unwrap().locate(3), Some(("b.csv", 2)));
        assert_eq!(t.take(&[0]).unwrap().locate(0), None);
    }

    #[test]
    fn rows_columns_take_select() {
        let t = two_batches();
        assert_eq!(t.num_rows(), 4);
        assert_eq!(t.column_names(), vec!["x", "s"]);
        let x = t.column("x").unwrap();
        assert_eq!(x.len(), 4);
        assert_eq!(x.null_count(), 1);
        let taken = t.take(&[3, 0, 2]).unwrap();
        assert_eq!(taken.num_rows(), 3);
        assert_eq!(t.take(&[]).unwrap().num_rows(), 0);
        let one = Table::new(t.schema().clone(), vec![t.concat().unwrap()]).unwrap();
        assert_eq!(one.take(&[3, 0, 2]).unwrap().concat().unwrap(), taken.concat().unwrap());
        let s = taken.column("s").unwrap();
        let s = s.as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((s.value(0), s.value(1), s.value(2)), ("d", "a", "c"));
        assert!(t.take(&[4]).unwrap_err().message.contains("out of range"));
        let sel = t.select(&["s"]).unwrap();
        assert_eq!(sel.num_columns(), 1);
        assert_eq!(t.locate(0), None);
        assert_eq!(t.location(2, Some("x")).to_string(), "row 3, column 'x'");
        let e = t.column("nope").unwrap_err();
        assert!(
            e.message.contains("no column 'nope'") && e.message.contains("x, s"),
            "{e}"
        );
    }
}
