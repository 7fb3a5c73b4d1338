//! From a [`Table`] to what learners take: the column-major `f32` [`Matrix`]
//! of the features and an `f64` label vector.
//!
//! Numeric and boolean columns convert (`true` = 1, `false` = 0); a null is
//! NaN. Any other column (text, dates, nested) is an error naming it: encode
//! it first (kiln-prep). Columns are filled in parallel, straight from the
//! table's batches, without an intermediate copy.

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::compute::cast;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use rayon::prelude::*;

use crate::error::{DataError, Location, Result};
use crate::matrix::Matrix;
use crate::table::Table;

/// The named columns as a matrix (in that order).
pub fn table_to_matrix(table: &Table, columns: &[&str]) -> Result<Matrix> {
    let mut idx = Vec::with_capacity(columns.len());
    for c in columns {
        let i = table.column_index(c)?;
        check_numeric(c, table.schema().field(i).data_type())?;
        idx.push(i);
    }
    let names: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    let mut m = Matrix::zeros(table.num_rows(), names);
    m.columns_mut()
        .into_par_iter()
        .zip(idx)
        .zip(columns.par_iter())
        .try_for_each(|((dst, i), name)| fill(dst, table.column_chunks(i), name))?;
    Ok(m)
}

/// One column as `f64` (a label column); null is NaN.
pub fn column_f64(table: &Table, column: &str) -> Result<Vec<f64>> {
    let i = table.column_index(column)?;
    check_numeric(column, table.schema().field(i).data_type())?;
    let mut out = vec![0.0f64; table.num_rows()];
    fill(&mut out, table.column_chunks(i), column)?;
    Ok(out)
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Boolean | DataType::Null)
}

fn check_numeric(name: &str, t: &DataType) -> Result<()> {
    if is_numeric(t) {
        return Ok(());
    }
    Err(DataError::new(
        Location::default().with_column(name),
        format!("column '{name}' is {t}, not numeric; encode it into numbers first (or leave it out of the features)"),
    ))
}

/// A float type the matrix can hold.
trait Target: Copy + Send {
    const NAN: Self;
    fn from_f64(v: f64) -> Self;
    fn from_f32(v: f32) -> Self;
    fn from_i64(v: i64) -> Self;
    fn from_u64(v: u64) -> Self;
}

impl Target for f32 {
    const NAN: f32 = f32::NAN;
    #[inline]
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    #[inline]
    fn from_f32(v: f32) -> f32 {
        v
    }
    #[inline]
    fn from_i64(v: i64) -> f32 {
        v as f32
    }
    #[inline]
    fn from_u64(v: u64) -> f32 {
        v as f32
    }
}

impl Target for f64 {
    const NAN: f64 = f64::NAN;
    #[inline]
    fn from_f64(v: f64) -> f64 {
        v
    }
    #[inline]
    fn from_f32(v: f32) -> f64 {
        v as f64
    }
    #[inline]
    fn from_i64(v: i64) -> f64 {
        v as f64
    }
    #[inline]
    fn from_u64(v: u64) -> f64 {
        v as f64
    }
}

/// Fills `dst` with the chunks of one column, in order.
fn fill<'a, T: Target>(dst: &mut [T], chunks: impl Iterator<Item = &'a ArrayRef>, name: &str) -> Result<()> {
    let mut at = 0usize;
    for c in chunks {
        let n = c.len();
        let Some(part) = dst.get_mut(at..at + n) else {
            return Err(DataError::msg(format!("column '{name}' is longer than the table")));
        };
        fill_chunk(part, c.as_ref(), name)?;
        at += n;
    }
    if at != dst.len() {
        return Err(DataError::msg(format!(
            "column '{name}' has {at} values, expected {}",
            dst.len()
        )));
    }
    Ok(())
}

fn fill_chunk<T: Target>(dst: &mut [T], a: &dyn Array, name: &str) -> Result<()> {
    match a.data_type() {
        DataType::Float64 => prim::<Float64Type, T>(dst, a.as_primitive(), T::from_f64),
        DataType::Float32 => prim::<Float32Type, T>(dst, a.as_primitive(), T::from_f32),
        DataType::Int64 => prim::<Int64Type, T>(dst, a.as_primitive(), T::from_i64),
        DataType::Int32 => prim::<Int32Type, T>(dst, a.as_primitive(), |v| T::from_i64(v as i64)),
        DataType::Int16 => prim::<Int16Type, T>(dst, a.as_primitive(), |v| T::from_i64(v as i64)),
        DataType::Int8 => prim::<Int8Type, T>(dst, a.as_primitive(), |v| T::from_i64(v as i64)),
        DataType::UInt64 => prim::<UInt64Type, T>(dst, a.as_primitive(), T::from_u64),
        DataType::UInt32 => prim::<UInt32Type, T>(dst, a.as_primitive(), |v| T::from_u64(v as u64)),
        DataType::UInt16 => prim::<UInt16Type, T>(dst, a.as_primitive(), |v| T::from_u64(v as u64)),
        DataType::UInt8 => prim::<UInt8Type, T>(dst, a.as_primitive(), |v| T::from_u64(v as u64)),
        DataType::Boolean => {
            let b = a.as_boolean();
            for (i, d) in dst.iter_mut().enumerate() {
                *d = if b.is_null(i) {
                    T::NAN
                } else if b.value(i) {
                    T::from_f32(1.0)
                } else {
                    T::from_f32(0.0)
                };
            }
        }
        DataType::Null => dst.fill(T::NAN),
        t if t.is_numeric() => {
            // Decimals, Float16: through Arrow's cast to Float64.
            let f = cast(a, &DataType::Float64).map_err(|e| {
                DataError::new(
                    Location::default().with_column(name),
                    format!("converting {t} to numbers: {e}"),
                )
            })?;
            prim::<Float64Type, T>(dst, f.as_primitive(), T::from_f64);
        }
        t => check_numeric(name, t)?,
    }
    Ok(())
}

#[inline]
fn prim<P: ArrowPrimitiveType, T: Target>(dst: &mut [T], a: &PrimitiveArray<P>, conv: impl Fn(P::Native) -> T) {
    for (d, v) in dst.iter_mut().zip(a.values().iter()) {
        *d = conv(*v);
    }
    if let Some(nulls) = a.nulls() {
        if nulls.null_count() > 0 {
            for (d, valid) in dst.iter_mut().zip(nulls.iter()) {
                if !valid {
                    *d = T::NAN;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use arrow::record_batch::RecordBatch;

    fn table() -> Table {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("n", DataType::Int64, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let b1 = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(vec![Some(1.5), None])),
                Arc::new(Int64Array::from(vec![Some(3), Some(-4)])),
                Arc::new(BooleanArray::from(vec![Some(true), None])),
                Arc::new(StringArray::from(vec!["a", "b"])),
            ],
        )
        .unwrap();
        let b2 = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(vec![Some(2.5)])),
                Arc::new(Int64Array::from(vec![None])),
                Arc::new(BooleanArray::from(vec![Some(false)])),
                Arc::new(StringArray::from(vec!["c"])),
            ],
        )
        .unwrap();
        Table::new(schema, vec![b1, b2]).unwrap()
    }

    #[test]
    fn numeric_columns_become_f32_with_nan_for_null() {
        let t = table();
        let m = table_to_matrix(&t, &["n", "x", "b"]).unwrap();
        assert_eq!(m.n_rows(), 3);
        assert_eq!(m.names(), &["n", "x", "b"]);
        assert_eq!(&m.column(0)[..2], &[3.0, -4.0]);
        assert!(m.column(0)[2].is_nan());
        assert_eq!(m.column(1)[0], 1.5);
        assert!(m.column(1)[1].is_nan());
        assert_eq!(m.column(1)[2], 2.5);
        assert_eq!(m.column(2)[0], 1.0);
        assert!(m.column(2)[1].is_nan());
        assert_eq!(m.column(2)[2], 0.0);
        let y = column_f64(&t, "x").unwrap();
        assert_eq!(y[0], 1.5);
        assert!(y[1].is_nan());
    }

    #[test]
    fn text_or_missing_columns_are_errors_naming_them() {
        let t = table();
        let e = table_to_matrix(&t, &["x", "s"]).unwrap_err();
        assert!(e.to_string().contains("column 's' is Utf8, not numeric"), "{e}");
        let e = column_f64(&t, "nope").unwrap_err();
        assert!(e.to_string().contains("no column 'nope'"), "{e}");
        let empty = table_to_matrix(&Table::empty(t.schema().clone()), &["x"]).unwrap();
        assert_eq!(empty.n_rows(), 0);
    }
}
