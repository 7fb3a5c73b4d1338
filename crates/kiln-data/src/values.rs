//! Typed walks over Arrow arrays shared by contracts, profiles and splits.

use arrow::array::{Array, AsArray, PrimitiveArray};
use arrow::compute::cast;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use crate::error::{DataError, Result};

/// Calls `f(row, value)` for each non-null value of an integer, date or timestamp array.
pub(crate) fn for_each_int(a: &dyn Array, mut f: impl FnMut(usize, i128)) -> Result<()> {
    fn go<T: ArrowPrimitiveType>(a: &dyn Array, f: &mut impl FnMut(usize, i128))
    where
        T::Native: Into<i128>,
    {
        let p: &PrimitiveArray<T> = a.as_primitive::<T>();
        for (i, v) in p.iter().enumerate() {
            if let Some(v) = v {
                f(i, v.into());
            }
        }
    }
    match a.data_type() {
        DataType::Int8 => go::<Int8Type>(a, &mut f),
        DataType::Int16 => go::<Int16Type>(a, &mut f),
        DataType::Int32 => go::<Int32Type>(a, &mut f),
        DataType::Int64 => go::<Int64Type>(a, &mut f),
        DataType::UInt8 => go::<UInt8Type>(a, &mut f),
        DataType::UInt16 => go::<UInt16Type>(a, &mut f),
        DataType::UInt32 => go::<UInt32Type>(a, &mut f),
        DataType::UInt64 => go::<UInt64Type>(a, &mut f),
        DataType::Date32 => go::<Date32Type>(a, &mut f),
        DataType::Date64 => go::<Date64Type>(a, &mut f),
        DataType::Timestamp(_, _) => {
            let ints = cast(a, &DataType::Int64).map_err(|e| DataError::msg(e.to_string()))?;
            go::<Int64Type>(ints.as_ref(), &mut f)
        }
        other => {
            return Err(DataError::msg(format!(
                "expected an integer or time column, found {other}"
            )))
        }
    }
    Ok(())
}

/// Calls `f(row, value)` for each non-null value of a float (or integer) array, as f64.
pub(crate) fn for_each_float(a: &dyn Array, mut f: impl FnMut(usize, f64)) -> Result<()> {
    match a.data_type() {
        DataType::Float64 => {
            for (i, v) in a.as_primitive::<Float64Type>().iter().enumerate() {
                if let Some(v) = v {
                    f(i, v);
                }
            }
        }
        DataType::Float32 => {
            for (i, v) in a.as_primitive::<Float32Type>().iter().enumerate() {
                if let Some(v) = v {
                    f(i, v as f64);
                }
            }
        }
        dt if dt.is_numeric() => {
            let c = cast(a, &DataType::Float64).map_err(|e| DataError::msg(e.to_string()))?;
            for (i, v) in c.as_primitive::<Float64Type>().iter().enumerate() {
                if let Some(v) = v {
                    f(i, v);
                }
            }
        }
        other => return Err(DataError::msg(format!("expected a numeric column, found {other}"))),
    }
    Ok(())
}

/// A value as text for messages (`null` for nulls; long text shortened).
pub(crate) fn value_text(a: &dyn Array, row: usize) -> String {
    if a.is_null(row) {
        return "null".to_string();
    }
    let s = arrow::util::display::array_value_to_string(a, row).unwrap_or_else(|_| "?".to_string());
    if s.chars().count() > 80 {
        let short: String = s.chars().take(77).collect();
        format!("{short}...")
    } else {
        s
    }
}
