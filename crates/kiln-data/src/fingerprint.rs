//! Content fingerprints of tables: the same rows give the same hash, whatever
//! the file order, row order, batch chunking or column order.
//!
//! Each row is written in a canonical encoding (columns sorted by name; each
//! value as a type-family tag and its bytes) and hashed with BLAKE3; the row
//! hashes are added as 256-bit integers (mod 2^256), which is a multiset hash:
//! order does not matter, and a repeated row counts twice. The result is the
//! BLAKE3 hash of a version tag, the schema (sorted column names with their
//! type family), the row count and that sum, printed as 64 hex digits.
//!
//! The canonical encoding makes logically equal data hash equal across
//! readers: all integer widths encode as the same 128-bit integer, Float32 and
//! Float64 as f64 (every NaN the same), Utf8/LargeUtf8/Utf8View/dictionaries
//! as text, Date32/Date64 as milliseconds, timestamps as nanoseconds (UTC; the
//! time zone label is not part of the value), other types (decimals, lists,
//! structs, durations) as their display text. Nullability flags are ignored.
//! The encoding is Kiln's own and versioned (`kiln-fingerprint-v1`), so a
//! recorded fingerprint stays comparable across Arrow upgrades.
//!
//! Hashing runs in parallel over chunks of rows (rayon).

use std::fmt;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, BooleanArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date64Type, Float64Type, Int64Type, TimeUnit, UInt64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::table::Table;

const VERSION_TAG: &[u8] = b"kiln-fingerprint-v1";
const CHUNK_ROWS: usize = 16 * 1024;

/// A 32-byte content fingerprint; `Display` prints it as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint as 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The content fingerprint of a table.
pub fn fingerprint(table: &Table) -> Result<Fingerprint> {
    let fields = table.schema().fields();
    // Columns in name order, so that column order does not matter.
    let mut order: Vec<usize> = (0..fields.len()).collect();
    order.sort_by(|&a, &b| fields[a].name().cmp(fields[b].name()));

    let mut schema_bytes = Vec::new();
    for &i in &order {
        let f = &fields[i];
        push_bytes(&mut schema_bytes, f.name().as_bytes());
        push_bytes(&mut schema_bytes, family(f.data_type()).as_bytes());
    }

    // Work units: (batch, first row, rows).
    let mut units = Vec::new();
    for (bi, b) in table.batches().iter().enumerate() {
        let mut start = 0;
        while start < b.num_rows() {
            let len = CHUNK_ROWS.min(b.num_rows() - start);
            units.push((bi, start, len));
            start += len;
        }
    }
    let batches = table.batches();
    let sums = units
        .par_iter()
        .map(|&(bi, start, len)| {
            let batch = batches[bi].slice(start, len);
            let cols = order
                .iter()
                .map(|&i| Norm::of(batch.column(i)))
                .collect::<Result<Vec<_>>>()?;
            let mut acc = [0u64; 4];
            let mut buf = Vec::with_capacity(64);
            for row in 0..len {
                buf.clear();
                for c in &cols {
                    c.encode(row, &mut buf);
                }
                add(&mut acc, blake3::hash(&buf).as_bytes());
            }
            Ok(acc)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut total = [0u64; 4];
    for s in &sums {
        let mut bytes = [0u8; 32];
        for (k, limb) in s.iter().enumerate() {
            bytes[k * 8..(k + 1) * 8].copy_from_slice(&limb.to_le_bytes());
        }
        add(&mut total, &bytes);
    }

    let mut h = blake3::Hasher::new();
    h.update(VERSION_TAG);
    h.update(&(schema_bytes.len() as u64).to_le_bytes());
    h.update(&schema_bytes);
    h.update(&(table.num_rows() as u64).to_le_bytes());
    for limb in total {
        h.update(&limb.to_le_bytes());
    }
    Ok(Fingerprint(*h.finalize().as_bytes()))
}

/// Adds a 256-bit little-endian number to the accumulator, mod 2^256.
fn add(acc: &mut [u64; 4], bytes: &[u8; 32]) {
    let mut carry = false;
    for (k, limb) in acc.iter_mut().enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[k * 8..(k + 1) * 8]);
        let (s1, c1) = limb.overflowing_add(u64::from_le_bytes(w));
        let (s2, c2) = s1.overflowing_add(carry as u64);
        *limb = s2;
        carry = c1 || c2;
    }
}

fn push_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    buf.extend_from_slice(&(b.len() as u64).to_le_bytes());
    buf.extend_from_slice(b);
}

/// The type family that the schema part of the hash records.
fn family(dt: &DataType) -> &'static str {
    match dt {
        DataType::Null => "null",
        DataType::Boolean => "bool",
        d if d.is_integer() => "int",
        d if d.is_floating() => "float",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => "binary",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Timestamp(_, _) => "timestamp",
        DataType::Dictionary(_, v) => family(v),
        _ => "other",
    }
}

// Value tags of the canonical encoding.
const T_NULL: u8 = 0;
const T_BOOL: u8 = 1;
const T_INT: u8 = 2;
const T_FLOAT: u8 = 3;
const T_STR: u8 = 4;
const T_BIN: u8 = 5;
const T_DATE: u8 = 6;
const T_TS: u8 = 7;
const T_OTHER: u8 = 8;

/// A column chunk in a normalised form that encodes canonically.
enum Norm {
    Null,
    Bool(BooleanArray),
    Int(ArrayRef),
    UInt(ArrayRef),
    Float(ArrayRef),
    Str(StringArray),
    Bin(BinaryArray),
    /// Milliseconds since the epoch.
    Date(ArrayRef),
    /// Raw timestamp values and the factor to nanoseconds.
    Ts(ArrayRef, i128),
    /// Display text of anything else.
    Other(Vec<Option<String>>),
}

impl Norm {
    fn of(a: &ArrayRef) -> Result<Norm> {
        let c = |to: &DataType| cast(a.as_ref(), to).map_err(|e| DataError::msg(format!("fingerprint: {e}")));
        Ok(match a.data_type() {
            DataType::Null => Norm::Null,
            DataType::Boolean => Norm::Bool(a.as_boolean().clone()),
            DataType::UInt64 => Norm::UInt(a.clone()),
            d if d.is_integer() => Norm::Int(c(&DataType::Int64)?),
            d if d.is_floating() => Norm::Float(c(&DataType::Float64)?),
            DataType::Date32 | DataType::Date64 => Norm::Date(c(&DataType::Date64)?),
            DataType::Timestamp(unit, _) => {
                let f = match unit {
                    TimeUnit::Second => 1_000_000_000,
                    TimeUnit::Millisecond => 1_000_000,
                    TimeUnit::Microsecond => 1_000,
                    TimeUnit::Nanosecond => 1,
                };
                Norm::Ts(c(&DataType::Int64)?, f)
            }
            d if family(d) == "string" => Norm::Str(c(&DataType::Utf8)?.as_string::<i32>().clone()),
            d if family(d) == "binary" => Norm::Bin(c(&DataType::Binary)?.as_binary::<i32>().clone()),
            _ => {
                let opts = FormatOptions::default();
                let fmt = ArrayFormatter::try_new(a.as_ref(), &opts)
                    .map_err(|e| DataError::msg(format!("fingerprint: {e}")))?;
                Norm::Other(
                    (0..a.len())
                        .map(|i| a.is_valid(i).then(|| fmt.value(i).to_string()))
                        .collect(),
                )
            }
        })
    }

    fn encode(&self, i: usize, buf: &mut Vec<u8>) {
        let null = match self {
            Norm::Null => true,
            Norm::Bool(a) => a.is_null(i),
            Norm::Str(a) => a.is_null(i),
            Norm::Bin(a) => a.is_null(i),
            Norm::Int(a) | Norm::UInt(a) | Norm::Float(a) | Norm::Date(a) | Norm::Ts(a, _) => a.is_null(i),
            Norm::Other(v) => v.get(i).is_none_or(|x| x.is_none()),
        };
        if null {
            buf.push(T_NULL);
            return;
        }
        match self {
            Norm::Null => {}
            Norm::Bool(a) => {
                buf.push(T_BOOL);
                buf.push(a.value(i) as u8);
            }
            Norm::Int(a) => {
                buf.push(T_INT);
                let v = a.as_primitive::<Int64Type>().value(i) as i128;
                buf.extend_from_slice(&v.to_le_bytes());
            }
            Norm::UInt(a) => {
                buf.push(T_INT);
                let v = a.as_primitive::<UInt64Type>().value(i) as i128;
                buf.extend_from_slice(&v.to_le_bytes());
            }
            Norm::Float(a) => {
                buf.push(T_FLOAT);
                let v = a.as_primitive::<Float64Type>().value(i);
                let bits = if v.is_nan() { f64::NAN.to_bits() } else { v.to_bits() };
                buf.extend_from_slice(&bits.to_le_bytes());
            }
            Norm::Str(a) => {
                buf.push(T_STR);
                push_bytes(buf, a.value(i).as_bytes());
            }
            Norm::Bin(a) => {
                buf.push(T_BIN);
                push_bytes(buf, a.value(i));
            }
            Norm::Date(a) => {
                buf.push(T_DATE);
                buf.extend_from_slice(&a.as_primitive::<Date64Type>().value(i).to_le_bytes());
            }
            Norm::Ts(a, f) => {
                buf.push(T_TS);
                let v = a.as_primitive::<Int64Type>().value(i) as i128 * f;
                buf.extend_from_slice(&v.to_le_bytes());
            }
            Norm::Other(v) => {
                buf.push(T_OTHER);
                if let Some(Some(s)) = v.get(i) {
                    push_bytes(buf, s.as_bytes());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_carries_across_limbs_and_wraps() {
        let mut acc = [u64::MAX, u64::MAX, 0, 0];
        let mut one = [0u8; 32];
        one[0] = 1;
        add(&mut acc, &one);
        assert_eq!(acc, [0, 0, 1, 0]);
        let mut acc = [u64::MAX; 4];
        add(&mut acc, &one);
        assert_eq!(acc, [0; 4]);
    }

    #[test]
    fn hex_is_64_digits() {
        let f = Fingerprint([0xab; 32]);
        assert_eq!(f.to_hex().len(), 64);
        assert!(f.to_string().starts_with("abab"));
    }
}
