//! Schemas across files: safe type unification, type overrides for
//! self-describing formats, and mapping batches onto a unified schema.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::error::{DataError, Location, Result};

/// The type both `a` and `b` convert to without loss, if there is one.
pub(crate) fn unify_types(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    if a == b {
        return Some(a.clone());
    }
    match (a, b) {
        (Null, t) | (t, Null) => Some(t.clone()),
        _ if is_int(a) && is_int(b) => int_union(a, b),
        _ if is_number(a) && is_number(b) => Some(Float64),
        (Utf8, LargeUtf8) | (LargeUtf8, Utf8) => Some(LargeUtf8),
        (Utf8View, Utf8) | (Utf8, Utf8View) => Some(Utf8),
        (Date32, Date64) | (Date64, Date32) => Some(Date64),
        _ => None,
    }
}

fn is_int(t: &DataType) -> bool {
    t.is_integer()
}

fn is_number(t: &DataType) -> bool {
    t.is_integer() || t.is_floating()
}

/// The narrowest integer type holding both, when one exists.
fn int_union(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    let (sa, wa) = int_shape(a)?;
    let (sb, wb) = int_shape(b)?;
    let (signed, width) = match (sa, sb) {
        (true, true) | (false, false) => (sa, wa.max(wb)),
        // Mixed signs: a signed type wider than the unsigned one.
        (true, false) => (true, wa.max(wb * 2)),
        (false, true) => (true, wb.max(wa * 2)),
    };
    Some(match (signed, width) {
        (true, 8) => Int8,
        (true, 16) => Int16,
        (true, 32) => Int32,
        (true, 64) => Int64,
        (false, 8) => UInt8,
        (false, 16) => UInt16,
        (false, 32) => UInt32,
        (false, 64) => UInt64,
        // u64 with a signed type: no integer holds both.
        _ => return None,
    })
}

fn int_shape(t: &DataType) -> Option<(bool, u32)> {
    use DataType::*;
    Some(match t {
        Int8 => (true, 8),
        Int16 => (true, 16),
        Int32 => (true, 32),
        Int64 => (true, 64),
        UInt8 => (false, 8),
        UInt16 => (false, 16),
        UInt32 => (false, 32),
        UInt64 => (false, 64),
        _ => return None,
    })
}

/// Whether a stored column of type `from` may be read as `to` (a requested
/// type): a safe unification, or any primitive value rendered as text.
pub(crate) fn converts_without_loss(from: &DataType, to: &DataType) -> bool {
    if unify_types(from, to).as_ref() == Some(to) {
        return true;
    }
    let to_text = matches!(to, DataType::Utf8 | DataType::LargeUtf8);
    let from_simple = from.is_primitive() || matches!(from, DataType::Boolean | DataType::Utf8View);
    to_text && from_simple
}

/// A stored schema with the requested `types` applied, each checked with
/// [`converts_without_loss`]; every field nullable.
pub(crate) fn apply_stored_overrides(
    file: &str,
    stored: &Schema,
    types: &BTreeMap<String, DataType>,
    format: &str,
) -> Result<SchemaRef> {
    let mut fields = Vec::with_capacity(stored.fields().len());
    for f in stored.fields() {
        let mut t = f.data_type().clone();
        if let Some(want) = types.get(f.name()) {
            if !converts_without_loss(&t, want) {
                return Err(DataError::new(
                    Location::file(file).with_column(f.name().as_str()),
                    format!(
                        "the {format} file stores this column as {t}, which cannot be read as the requested {want} \
                         without loss; request {t} (or a wider type), or convert the data first"
                    ),
                ));
            }
            t = want.clone();
        }
        fields.push(Field::new(f.name(), t, true));
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// One schema for several files: the first file's column order, types unified
/// with [`unify_types`]. With `allow_missing` (JSON) a column absent from some
/// files is kept (null there) and new columns are appended; otherwise the
/// columns must match, and a mismatch names both files and the column.
pub(crate) fn unify(files: &[(&str, &SchemaRef)], allow_missing: bool) -> Result<SchemaRef> {
    let Some(((first_name, first), rest)) = files.split_first() else {
        return Ok(Arc::new(Schema::empty()));
    };
    let mut fields: Vec<(String, DataType, &str)> = first
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone(), *first_name))
        .collect();
    for (name, s) in rest {
        for f in s.fields() {
            match fields.iter_mut().find(|(n, _, _)| n == f.name()) {
                Some((col, t, from)) => match unify_types(t, f.data_type()) {
                    Some(u) => *t = u,
                    None => {
                        return Err(DataError::new(
                            Location::file(*name).with_column(col.as_str()),
                            format!(
                                "column '{col}' is {} here but {t} in {from}; the files of one source must agree \
                                 (set its type with the types option, or read the files separately)",
                                f.data_type()
                            ),
                        ))
                    }
                },
                None if allow_missing => fields.push((f.name().clone(), f.data_type().clone(), name)),
                None => {
                    return Err(DataError::new(
                        Location::file(*name).with_column(f.name().as_str()),
                        format!("column '{}' is here but not in {first_name}; the files of one source must have the same columns", f.name()),
                    ))
                }
            }
        }
        if !allow_missing {
            if let Some((col, _, _)) = fields.iter().find(|(n, _, _)| s.index_of(n).is_err()) {
                return Err(DataError::new(
                    Location::file(*name).with_column(col.as_str()),
                    format!("column '{col}' is in {first_name} but not here; the files of one source must have the same columns"),
                ));
            }
        }
    }
    Ok(Arc::new(Schema::new(
        fields
            .into_iter()
            .map(|(n, t, _)| Field::new(n, t, true))
            .collect::<Vec<_>>(),
    )))
}

/// `batch` with the target's columns in the target's order and types (a
/// column missing from the batch is null). Casts are only the safe ones
/// [`unify`] and [`apply_stored_overrides`] allow.
pub(crate) fn conform(batch: &RecordBatch, target: &SchemaRef, file: &str) -> Result<RecordBatch> {
    if batch.schema().fields() == target.fields() {
        return RecordBatch::try_new(target.clone(), batch.columns().to_vec())
            .map_err(|e| DataError::in_file(file, format!("building a record batch: {e}")));
    }
    let schema = batch.schema();
    let n = batch.num_rows();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
    for f in target.fields() {
        let col = match schema.index_of(f.name()) {
            Ok(i) => batch.column(i).clone(),
            Err(_) => new_null_array(f.data_type(), n),
        };
        let col = if col.data_type() == f.data_type() {
            col
        } else {
            let opts = CastOptions {
                safe: false,
                ..CastOptions::default()
            };
            cast_with_options(&col, f.data_type(), &opts).map_err(|e| {
                DataError::new(
                    Location::file(file).with_column(f.name().as_str()),
                    format!("converting {} to {}: {e}", col.data_type(), f.data_type()),
                )
            })?
        };
        columns.push(col);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(n));
    RecordBatch::try_new_with_options(target.clone(), columns, &options)
        .map_err(|e| DataError::in_file(file, format!("building a record batch: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;

    #[test]
    fn unifies_only_safely() {
        assert_eq!(unify_types(&Int64, &Float64), Some(Float64));
        assert_eq!(unify_types(&Null, &Utf8), Some(Utf8));
        assert_eq!(unify_types(&Int32, &Int64), Some(Int64));
        assert_eq!(unify_types(&UInt8, &Int8), Some(Int16));
        assert_eq!(unify_types(&UInt64, &Int64), None);
        assert_eq!(unify_types(&Utf8, &Int64), None);
        assert_eq!(unify_types(&Boolean, &Int64), None);
        assert!(converts_without_loss(&Int64, &Utf8));
        assert!(converts_without_loss(&Int32, &Float64));
        assert!(!converts_without_loss(&Utf8, &Int64));
        assert!(!converts_without_loss(&Float64, &Int64));
        assert!(!converts_without_loss(&Int64, &Int32));
    }

    #[test]
    fn mismatch_names_both_files_and_the_column() {
        let a: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("x", Int64, true),
            Field::new("s", Utf8, true),
        ]));
        let b: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("s", Utf8, true),
            Field::new("x", Float64, true),
        ]));
        let c: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("x", Utf8, true),
            Field::new("s", Utf8, true),
        ]));
        let u = unify(&[("a.csv", &a), ("b.csv", &b)], false).unwrap();
        assert_eq!(u.field(0).name(), "x");
        assert_eq!(u.field(0).data_type(), &Float64);
        let e = unify(&[("a.csv", &a), ("c.csv", &c)], false).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("a.csv") && text.contains("c.csv") && text.contains("'x'"),
            "{text}"
        );
        let d: SchemaRef = Arc::new(Schema::new(vec![Field::new("x", Int64, true)]));
        let e = unify(&[("a.csv", &a), ("d.csv", &d)], false).unwrap_err();
        assert!(e.to_string().contains("'s' is in a.csv but not here"), "{e}");
        let j = unify(&[("a.json", &a), ("d.json", &d)], true).unwrap();
        assert_eq!(j.fields().len(), 2);
    }
}
