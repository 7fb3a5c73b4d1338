//! Reading input columns straight from a [`Table`]'s Arrow arrays, batch by
//! batch, for a selection of rows, without copying the table.
//!
//! A `TableView` resolves each input column the pipeline needs into typed
//! `Chunk`s (one per record batch) and checks its type once. Work then goes
//! in blocks of output rows: `RowMap::runs` splits a block into runs that
//! stay inside one batch, and the `fill_*` functions read a run into a small
//! buffer (numbers as `f64`, NaN = missing).

use std::fmt::Write as _;
use std::ops::Range;

use arrow::array::{Array, ArrayAccessor, ArrayRef, AsArray};
use arrow::datatypes::{
    ArrowDictionaryKeyType, ArrowNativeType, ArrowPrimitiveType, DataType, Date32Type, Date64Type, Float32Type,
    Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use serde::{Deserialize, Serialize};

use kiln_data::{DataError, Location, Result, Table};

use crate::config::MissingColumns;
use crate::dates::{self, DatePart};

/// What an input column holds, as far as the pipeline cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Integers, floats, decimals.
    Number,
    /// Strings, or dictionary-encoded strings.
    Text,
    /// Booleans.
    Boolean,
    /// Dates and timestamps.
    Temporal,
}

impl InputKind {
    /// The kind of an Arrow type (`Null`, a column with no values, counts as a number);
    /// `None` for types the pipeline cannot use.
    pub fn of(data_type: &DataType) -> Option<InputKind> {
        use DataType as D;
        Some(match data_type {
            D::Int8
            | D::Int16
            | D::Int32
            | D::Int64
            | D::UInt8
            | D::UInt16
            | D::UInt32
            | D::UInt64
            | D::Float16
            | D::Float32
            | D::Float64
            | D::Decimal32(..)
            | D::Decimal64(..)
            | D::Decimal128(..)
            | D::Decimal256(..)
            | D::Null => InputKind::Number,
            D::Utf8 | D::LargeUtf8 | D::Utf8View => InputKind::Text,
            D::Dictionary(_, v) if matches!(v.as_ref(), D::Utf8 | D::LargeUtf8 | D::Utf8View) => InputKind::Text,
            D::Boolean => InputKind::Boolean,
            D::Date32 | D::Date64 | D::Timestamp(..) => InputKind::Temporal,
            _ => return None,
        })
    }

    /// "a number", "text", ... for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            InputKind::Number => "a number",
            InputKind::Text => "text",
            InputKind::Boolean => "a boolean",
            InputKind::Temporal => "a date or timestamp",
        }
    }
}

/// A raw column a fitted pipeline reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputColumn {
    pub name: String,
    pub kind: InputKind,
    /// The Arrow type the column had in training (for messages; any type of the same kind is accepted).
    pub data_type: String,
}

/// String array flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Str {
    Utf8,
    Large,
    View,
}

/// Dictionary key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
}

/// The physical layout of a chunk, decided once so the loops know what to downcast to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phys {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    Bool,
    Str(Str),
    Dict(Key, Str),
    Date32,
    Date64,
    /// Timestamps in units of 1/`per_second` s, shown at `offset` seconds from UTC.
    Ts {
        per_second: i64,
        offset: i64,
    },
    /// Every value missing.
    Null,
}

/// One record batch's part of an input column.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub array: ArrayRef,
    pub phys: Phys,
}

fn str_kind(dt: &DataType) -> Option<Str> {
    match dt {
        DataType::Utf8 => Some(Str::Utf8),
        DataType::LargeUtf8 => Some(Str::Large),
        DataType::Utf8View => Some(Str::View),
        _ => None,
    }
}

fn key_kind(dt: &DataType) -> Option<Key> {
    Some(match dt {
        DataType::Int8 => Key::I8,
        DataType::Int16 => Key::I16,
        DataType::Int32 => Key::I32,
        DataType::Int64 => Key::I64,
        DataType::UInt8 => Key::U8,
        DataType::UInt16 => Key::U16,
        DataType::UInt32 => Key::U32,
        DataType::UInt64 => Key::U64,
        _ => return None,
    })
}

impl Chunk {
    /// A chunk of every value missing, `len` rows long.
    pub fn nulls(len: usize) -> Chunk {
        Chunk {
            array: arrow::array::new_null_array(&DataType::Null, len),
            phys: Phys::Null,
        }
    }

    /// Resolves an array's layout; half floats and decimals are cast to `f64` here.
    pub fn new(array: &ArrayRef, column: &str) -> Result<Chunk> {
        use DataType as D;
        let unusable = |what: &str| {
            DataError::new(
                Location::default().with_column(column),
                format!(
                    "type {} {what}; preprocessing takes numbers, strings, booleans, dates and timestamps \
                     (drop the column or convert it)",
                    array.data_type()
                ),
            )
        };
        let phys = match array.data_type() {
            D::Int8 => Phys::I8,
            D::Int16 => Phys::I16,
            D::Int32 => Phys::I32,
            D::Int64 => Phys::I64,
            D::UInt8 => Phys::U8,
            D::UInt16 => Phys::U16,
            D::UInt32 => Phys::U32,
            D::UInt64 => Phys::U64,
            D::Float32 => Phys::F32,
            D::Float64 => Phys::F64,
            D::Float16 | D::Decimal32(..) | D::Decimal64(..) | D::Decimal128(..) | D::Decimal256(..) => {
                let cast = arrow::compute::cast(array.as_ref(), &D::Float64)
                    .map_err(|e| unusable(&format!("could not be read as numbers ({e})")))?;
                return Ok(Chunk {
                    array: cast,
                    phys: Phys::F64,
                });
            }
            D::Boolean => Phys::Bool,
            D::Null => Phys::Null,
            D::Date32 => Phys::Date32,
            D::Date64 => Phys::Date64,
            D::Timestamp(unit, tz) => {
                let per_second = match unit {
                    TimeUnit::Second => 1,
                    TimeUnit::Millisecond => 1_000,
                    TimeUnit::Microsecond => 1_000_000,
                    TimeUnit::Nanosecond => 1_000_000_000,
                };
                let offset = match tz {
                    None => 0,
                    Some(tz) => dates::parse_offset(tz).ok_or_else(|| {
                        DataError::new(
                            Location::default().with_column(column),
                            format!(
                                "timezone '{tz}' is not supported for date parts; use UTC or a fixed \
                                 offset such as +02:00"
                            ),
                        )
                    })?,
                };
                Phys::Ts { per_second, offset }
            }
            D::Dictionary(k, v) => match (key_kind(k), str_kind(v)) {
                (Some(k), Some(s)) => Phys::Dict(k, s),
                _ => return Err(unusable("is not usable (dictionaries must hold strings)")),
            },
            dt => match str_kind(dt) {
                Some(s) => Phys::Str(s),
                None => return Err(unusable("is not usable")),
            },
        };
        Ok(Chunk {
            array: array.clone(),
            phys,
        })
    }
}

/// Which rows of a table, in which order, and where each batch starts.
#[derive(Debug, Clone)]
pub(crate) struct RowMap<'a> {
    /// Start row of each batch, then the total: `starts[c]..starts[c + 1]` is batch `c`.
    starts: Vec<usize>,
    rows: Option<&'a [usize]>,
    len: usize,
}

/// Where a run's rows are in its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Local {
    /// Consecutive rows `a..b` of the batch.
    Range(usize, usize),
    /// The batch rows listed in `scratch[a..b]`.
    List(usize, usize),
}

/// Output rows `out` (relative to the block start) that come from batch `chunk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    pub chunk: usize,
    pub out: Range<usize>,
    pub local: Local,
}

/// Runs `$body` with `$it` bound to an iterator over the batch rows of `$run`.
macro_rules! each_local {
    ($run:expr, $scratch:expr, $it:ident => $body:expr) => {
        match $run.local {
            $crate::input::Local::Range(a, b) => {
                let $it = a..b;
                $body
            }
            $crate::input::Local::List(a, b) => {
                let $it = $scratch[a..b].iter().copied();
                $body
            }
        }
    };
}
pub(crate) use each_local;

impl<'a> RowMap<'a> {
    /// All rows of `table`, or the listed ones (checked to be in range).
    pub fn new(table: &Table, rows: Option<&'a [usize]>) -> Result<RowMap<'a>> {
        let mut starts = Vec::with_capacity(table.batches().len() + 1);
        let mut total = 0usize;
        for b in table.batches() {
            starts.push(total);
            total += b.num_rows();
        }
        starts.push(total);
        if let Some(rows) = rows {
            if let Some(&bad) = rows.iter().find(|&&r| r >= total) {
                return Err(DataError::msg(format!(
                    "row index {bad} is out of range for a table of {total} rows"
                )));
            }
        }
        let len = rows.map_or(total, <[usize]>::len);
        Ok(RowMap { starts, rows, len })
    }

    /// Number of selected rows (output rows).
    pub fn len(&self) -> usize {
        self.len
    }

    /// The table row of output row `i`.
    pub fn global(&self, i: usize) -> usize {
        self.rows.map_or(i, |r| r[i])
    }

    fn chunk_of(&self, row: usize) -> usize {
        self.starts.partition_point(|&s| s <= row).saturating_sub(1)
    }

    /// Splits output rows `block` into runs inside one batch each.
    pub fn runs(&self, block: Range<usize>, scratch: &mut Vec<usize>, runs: &mut Vec<Run>) {
        scratch.clear();
        runs.clear();
        let base = block.start;
        match self.rows {
            None => {
                let mut i = block.start;
                while i < block.end {
                    let c = self.chunk_of(i);
                    let end = block.end.min(self.starts[c + 1]);
                    runs.push(Run {
                        chunk: c,
                        out: i - base..end - base,
                        local: Local::Range(i - self.starts[c], end - self.starts[c]),
                    });
                    i = end;
                }
            }
            Some(rows) => {
                // (chunk, first output row, first scratch index) of the open run.
                let mut open: Option<(usize, usize, usize)> = None;
                for (i, &r) in rows[block.clone()].iter().enumerate() {
                    let i = i + base;
                    let same = open.filter(|&(c, _, _)| self.starts[c] <= r && r < self.starts[c + 1]);
                    let (c, _, _) = match same {
                        Some(o) => o,
                        None => {
                            if let Some((c, o, s)) = open {
                                runs.push(Run {
                                    chunk: c,
                                    out: o - base..i - base,
                                    local: Local::List(s, scratch.len()),
                                });
                            }
                            let o = (self.chunk_of(r), i, scratch.len());
                            open = Some(o);
                            o
                        }
                    };
                    scratch.push(r - self.starts[c]);
                }
                if let Some((c, o, s)) = open {
                    runs.push(Run {
                        chunk: c,
                        out: o - base..block.end - base,
                        local: Local::List(s, scratch.len()),
                    });
                }
            }
        }
    }
}

/// A table seen through a fitted pipeline's inputs: rows selected, columns resolved and checked.
pub(crate) struct TableView<'a> {
    pub table: &'a Table,
    pub rows: RowMap<'a>,
    /// Per input column, one chunk per batch.
    pub columns: Vec<Vec<Chunk>>,
}

impl<'a> TableView<'a> {
    /// Resolves `inputs` in `table`: an absent column is an error (or all missing under
    /// [`MissingColumns::Missing`]); a column of another kind is an error naming both.
    pub fn new(
        table: &'a Table,
        inputs: &[InputColumn],
        rows: Option<&'a [usize]>,
        missing: MissingColumns,
    ) -> Result<TableView<'a>> {
        let rows = RowMap::new(table, rows)?;
        let mut columns = Vec::with_capacity(inputs.len());
        for input in inputs {
            let loc = || Location::default().with_column(&input.name);
            let Ok(index) = table.schema().index_of(&input.name) else {
                if missing == MissingColumns::Missing {
                    columns.push(table.batches().iter().map(|b| Chunk::nulls(b.num_rows())).collect());
                    continue;
                }
                return Err(DataError::new(
                    loc(),
                    format!(
                        "input column '{}' is missing; the pipeline was fitted with it ({}, {}); the columns \
                         are: {}",
                        input.name,
                        input.kind.describe(),
                        input.data_type,
                        table.column_names().join(", ")
                    ),
                ));
            };
            let dt = table.schema().field(index).data_type();
            let kind = InputKind::of(dt);
            if kind != Some(input.kind) && *dt != DataType::Null {
                return Err(DataError::new(
                    loc(),
                    format!(
                        "column '{}' has type {dt}; expected {} (it was {} in training)",
                        input.name,
                        input.kind.describe(),
                        input.data_type
                    ),
                ));
            }
            let chunks = table
                .column_chunks(index)
                .map(|a| Chunk::new(a, &input.name))
                .collect::<Result<Vec<_>>>()?;
            columns.push(chunks);
        }
        Ok(TableView { table, rows, columns })
    }

    /// The location of output row `i` in column `column`.
    pub fn location(&self, i: usize, column: &str) -> Location {
        self.table.location(self.rows.global(i), Some(column))
    }
}

/// A number as a feature value: infinities count as missing.
#[inline]
pub(crate) fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        f64::NAN
    }
}

fn fill_prim<T, I>(a: &dyn Array, idx: I, out: &mut [f64], conv: impl Fn(T::Native) -> f64)
where
    T: ArrowPrimitiveType,
    I: Iterator<Item = usize>,
{
    let Some(p) = a.as_primitive_opt::<T>() else {
        out.fill(f64::NAN);
        return;
    };
    let values = p.values();
    match p.nulls() {
        None => {
            for (o, j) in out.iter_mut().zip(idx) {
                *o = conv(values[j]);
            }
        }
        Some(n) => {
            for (o, j) in out.iter_mut().zip(idx) {
                *o = if n.is_valid(j) { conv(values[j]) } else { f64::NAN };
            }
        }
    }
}

fn fill_prim_range<T: ArrowPrimitiveType>(
    a: &dyn Array,
    start: usize,
    end: usize,
    out: &mut [f64],
    conv: impl Fn(T::Native) -> f64,
) {
    let Some(p) = a.as_primitive_opt::<T>() else {
        out.fill(f64::NAN);
        return;
    };
    for (o, &v) in out.iter_mut().zip(&p.values()[start..end]) {
        *o = conv(v);
    }
    // Then the nulls, a 64-row word at a time.
    if let Some(n) = p.nulls().filter(|n| n.null_count() > 0) {
        let bits = n.inner().slice(start, end - start);
        for (w, word) in bits.bit_chunks().iter_padded().enumerate() {
            let mut nulls = !word;
            while nulls != 0 {
                let pos = w * 64 + nulls.trailing_zeros() as usize;
                match out.get_mut(pos) {
                    Some(o) => *o = f64::NAN,
                    None => break,
                }
                nulls &= nulls - 1;
            }
        }
    }
}

/// Reads consecutive batch rows `start..end` like [`fill_f64`], faster.
pub(crate) fn fill_f64_range(chunk: &Chunk, start: usize, end: usize, out: &mut [f64]) {
    let a = chunk.array.as_ref();
    match chunk.phys {
        Phys::I8 => fill_prim_range::<Int8Type>(a, start, end, out, f64::from),
        Phys::I16 => fill_prim_range::<Int16Type>(a, start, end, out, f64::from),
        Phys::I32 => fill_prim_range::<Int32Type>(a, start, end, out, f64::from),
        Phys::I64 => fill_prim_range::<Int64Type>(a, start, end, out, |v| v as f64),
        Phys::U8 => fill_prim_range::<UInt8Type>(a, start, end, out, f64::from),
        Phys::U16 => fill_prim_range::<UInt16Type>(a, start, end, out, f64::from),
        Phys::U32 => fill_prim_range::<UInt32Type>(a, start, end, out, f64::from),
        Phys::U64 => fill_prim_range::<UInt64Type>(a, start, end, out, |v| v as f64),
        Phys::F32 => fill_prim_range::<Float32Type>(a, start, end, out, |v| finite(f64::from(v))),
        Phys::F64 => fill_prim_range::<Float64Type>(a, start, end, out, finite),
        _ => fill_f64(chunk, start..end, out),
    }
}

/// Reads numbers (booleans as 0/1) at batch rows `idx` into `out`; missing and
/// infinite values are NaN. Chunks of other kinds (excluded by [`TableView::new`]) read as NaN.
pub(crate) fn fill_f64<I: Iterator<Item = usize>>(chunk: &Chunk, idx: I, out: &mut [f64]) {
    let a = chunk.array.as_ref();
    match chunk.phys {
        Phys::I8 => fill_prim::<Int8Type, _>(a, idx, out, f64::from),
        Phys::I16 => fill_prim::<Int16Type, _>(a, idx, out, f64::from),
        Phys::I32 => fill_prim::<Int32Type, _>(a, idx, out, f64::from),
        Phys::I64 => fill_prim::<Int64Type, _>(a, idx, out, |v| v as f64),
        Phys::U8 => fill_prim::<UInt8Type, _>(a, idx, out, f64::from),
        Phys::U16 => fill_prim::<UInt16Type, _>(a, idx, out, f64::from),
        Phys::U32 => fill_prim::<UInt32Type, _>(a, idx, out, f64::from),
        Phys::U64 => fill_prim::<UInt64Type, _>(a, idx, out, |v| v as f64),
        Phys::F32 => fill_prim::<Float32Type, _>(a, idx, out, |v| finite(f64::from(v))),
        Phys::F64 => fill_prim::<Float64Type, _>(a, idx, out, finite),
        Phys::Bool => match a.as_boolean_opt() {
            Some(b) => {
                for (o, j) in out.iter_mut().zip(idx) {
                    *o = if b.is_valid(j) {
                        f64::from(u8::from(b.value(j)))
                    } else {
                        f64::NAN
                    };
                }
            }
            None => out.fill(f64::NAN),
        },
        _ => out.fill(f64::NAN),
    }
}

/// Reads a date part at batch rows `idx` into `out` (NaN where missing).
pub(crate) fn fill_part<I: Iterator<Item = usize>>(chunk: &Chunk, part: DatePart, idx: I, out: &mut [f64]) {
    let a = chunk.array.as_ref();
    match chunk.phys {
        Phys::Date32 => fill_prim::<Date32Type, _>(a, idx, out, |d| dates::part(i64::from(d), 0, part)),
        Phys::Date64 => fill_prim::<Date64Type, _>(a, idx, out, |ms| {
            let (d, s) = dates::split_timestamp(ms, 1000, 0);
            dates::part(d, s, part)
        }),
        Phys::Ts { per_second, offset } => {
            // Every timestamp unit holds i64 values; read them without naming the unit's type.
            let Some(values) = timestamp_values(a) else {
                out.fill(f64::NAN);
                return;
            };
            let nulls = a.nulls();
            for (o, j) in out.iter_mut().zip(idx) {
                *o = if nulls.is_none_or(|n| n.is_valid(j)) {
                    let (d, s) = dates::split_timestamp(values[j], per_second, offset);
                    dates::part(d, s, part)
                } else {
                    f64::NAN
                };
            }
        }
        _ => out.fill(f64::NAN),
    }
}

fn timestamp_values(a: &dyn Array) -> Option<&[i64]> {
    use arrow::datatypes::{
        TimestampMicrosecondType as Us, TimestampMillisecondType as Ms, TimestampNanosecondType as Ns,
        TimestampSecondType as S,
    };
    if let Some(p) = a.as_primitive_opt::<S>() {
        return Some(p.values());
    }
    if let Some(p) = a.as_primitive_opt::<Ms>() {
        return Some(p.values());
    }
    if let Some(p) = a.as_primitive_opt::<Us>() {
        return Some(p.values());
    }
    a.as_primitive_opt::<Ns>().map(|p| &p.values()[..])
}

fn each_str<'s, A, I>(a: Option<A>, idx: I, f: &mut impl FnMut(usize, Option<&str>))
where
    A: ArrayAccessor<Item = &'s str>,
    I: Iterator<Item = usize>,
{
    let Some(a) = a else {
        for (pos, _) in idx.enumerate() {
            f(pos, None);
        }
        return;
    };
    for (pos, j) in idx.enumerate() {
        f(pos, if a.is_valid(j) { Some(a.value(j)) } else { None });
    }
}

fn each_formatted<T, I>(
    a: &dyn Array,
    idx: I,
    f: &mut impl FnMut(usize, Option<&str>),
    fmt: impl Fn(T::Native, &mut String),
) where
    T: ArrowPrimitiveType,
    I: Iterator<Item = usize>,
{
    let mut buf = String::new();
    let p = a.as_primitive_opt::<T>();
    for (pos, j) in idx.enumerate() {
        match p {
            Some(p) if p.is_valid(j) => {
                buf.clear();
                fmt(p.value(j), &mut buf);
                f(pos, if buf.is_empty() { None } else { Some(&buf) });
            }
            _ => f(pos, None),
        }
    }
}

fn int_text<V: std::fmt::Display>(v: V, buf: &mut String) {
    let _ = write!(buf, "{v}");
}

/// Floats as categories: NaN is missing (an empty text here), whole numbers print as integers.
fn float_text(v: f64, buf: &mut String) {
    if !v.is_nan() {
        let _ = write!(buf, "{v}");
    }
}

/// Calls `f(position, text)` for batch rows `idx` as category text: strings as
/// they are, booleans as `true`/`false`, numbers printed (`3`, `2.5`). `None` is
/// missing. Dictionaries go through [`each_dict_key`] instead.
pub(crate) fn each_text<I: Iterator<Item = usize>>(chunk: &Chunk, idx: I, mut f: impl FnMut(usize, Option<&str>)) {
    let a = chunk.array.as_ref();
    let f = &mut f;
    match chunk.phys {
        Phys::Str(Str::Utf8) => each_str(a.as_string_opt::<i32>(), idx, f),
        Phys::Str(Str::Large) => each_str(a.as_string_opt::<i64>(), idx, f),
        Phys::Str(Str::View) => each_str(a.as_string_view_opt(), idx, f),
        Phys::Bool => {
            let b = a.as_boolean_opt();
            for (pos, j) in idx.enumerate() {
                let t = b
                    .filter(|b| b.is_valid(j))
                    .map(|b| if b.value(j) { "true" } else { "false" });
                f(pos, t);
            }
        }
        Phys::I8 => each_formatted::<Int8Type, _>(a, idx, f, int_text),
        Phys::I16 => each_formatted::<Int16Type, _>(a, idx, f, int_text),
        Phys::I32 => each_formatted::<Int32Type, _>(a, idx, f, int_text),
        Phys::I64 => each_formatted::<Int64Type, _>(a, idx, f, int_text),
        Phys::U8 => each_formatted::<UInt8Type, _>(a, idx, f, int_text),
        Phys::U16 => each_formatted::<UInt16Type, _>(a, idx, f, int_text),
        Phys::U32 => each_formatted::<UInt32Type, _>(a, idx, f, int_text),
        Phys::U64 => each_formatted::<UInt64Type, _>(a, idx, f, int_text),
        Phys::F32 => each_formatted::<Float32Type, _>(a, idx, f, |v, buf| {
            if !v.is_nan() {
                let _ = write!(buf, "{v}");
            }
        }),
        Phys::F64 => each_formatted::<Float64Type, _>(a, idx, f, float_text),
        _ => {
            for (pos, _) in idx.enumerate() {
                f(pos, None);
            }
        }
    }
}

fn each_key<K, I>(a: &dyn Array, idx: I, f: &mut impl FnMut(usize, Option<usize>))
where
    K: ArrowDictionaryKeyType,
    I: Iterator<Item = usize>,
{
    let Some(d) = a.as_dictionary_opt::<K>() else {
        for (pos, _) in idx.enumerate() {
            f(pos, None);
        }
        return;
    };
    let n_values = d.values().len();
    let keys = d.keys();
    let raw = keys.values();
    for (pos, j) in idx.enumerate() {
        let k = if keys.is_valid(j) {
            Some(raw[j].as_usize()).filter(|&k| k < n_values)
        } else {
            None
        };
        f(pos, k);
    }
}

/// For a dictionary chunk: calls `f(position, key)` for batch rows `idx`
/// (`None` where the key is null). Other chunks give `None` throughout.
pub(crate) fn each_dict_key<I: Iterator<Item = usize>>(chunk: &Chunk, idx: I, mut f: impl FnMut(usize, Option<usize>)) {
    let a = chunk.array.as_ref();
    let f = &mut f;
    match chunk.phys {
        Phys::Dict(Key::I8, _) => each_key::<Int8Type, _>(a, idx, f),
        Phys::Dict(Key::I16, _) => each_key::<Int16Type, _>(a, idx, f),
        Phys::Dict(Key::I32, _) => each_key::<Int32Type, _>(a, idx, f),
        Phys::Dict(Key::I64, _) => each_key::<Int64Type, _>(a, idx, f),
        Phys::Dict(Key::U8, _) => each_key::<UInt8Type, _>(a, idx, f),
        Phys::Dict(Key::U16, _) => each_key::<UInt16Type, _>(a, idx, f),
        Phys::Dict(Key::U32, _) => each_key::<UInt32Type, _>(a, idx, f),
        Phys::Dict(Key::U64, _) => each_key::<UInt64Type, _>(a, idx, f),
        _ => {
            for (pos, _) in idx.enumerate() {
                f(pos, None);
            }
        }
    }
}

/// The values of a dictionary chunk as a chunk of strings.
pub(crate) fn dict_values(chunk: &Chunk) -> Option<Chunk> {
    let Phys::Dict(_, s) = chunk.phys else { return None };
    let values = chunk.array.as_any_dictionary_opt()?.values().clone();
    Some(Chunk {
        array: values,
        phys: Phys::Str(s),
    })
}

/// The category text at batch row `j` (dictionaries resolved), for error messages.
pub(crate) fn text_at(chunk: &Chunk, j: usize) -> Option<String> {
    if let Some(values) = dict_values(chunk) {
        let mut key = None;
        each_dict_key(chunk, std::iter::once(j), |_, k| key = k);
        return text_at(&values, key?);
    }
    let mut out = None;
    each_text(chunk, std::iter::once(j), |_, t| out = t.map(str::to_string));
    out
}

/// Wraps a single array as a one-chunk column, for tests.
#[cfg(test)]
pub(crate) fn chunk_of(array: ArrayRef) -> Chunk {
    Chunk::new(&array, "test").unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Date32Array, DictionaryArray, Float64Array, Int32Array, StringArray, StringViewArray,
        TimestampMillisecondArray,
    };
    use arrow::datatypes::{Field, Schema};
    use arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    fn three_batches() -> Table {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
        let b = |v: Vec<Option<i32>>| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(v)) as ArrayRef]).unwrap()
        };
        Table::new(
            schema.clone(),
            vec![
                b(vec![Some(0), Some(1)]),
                b(vec![Some(2), None, Some(4)]),
                b(vec![Some(5)]),
            ],
        )
        .unwrap()
    }

    fn read_all(view: &TableView, block: Range<usize>) -> Vec<f64> {
        let (mut scratch, mut runs) = (Vec::new(), Vec::new());
        view.rows.runs(block.clone(), &mut scratch, &mut runs);
        let mut out = vec![-1.0; block.len()];
        for run in &runs {
            let chunk = &view.columns[0][run.chunk];
            each_local!(run, scratch, it => fill_f64(chunk, it, &mut out[run.out.clone()]));
        }
        out
    }

    #[test]
    fn runs_cross_batches_in_any_row_order() {
        let t = three_batches();
        let inputs = vec![InputColumn {
            name: "x".into(),
            kind: InputKind::Number,
            data_type: "Int32".into(),
        }];
        let view = TableView::new(&t, &inputs, None, MissingColumns::Error).unwrap();
        let got = read_all(&view, 1..6);
        // The consecutive-rows path agrees, nulls included, across 64-row words.
        let long: Vec<Option<i32>> = (0..200).map(|i| (i % 7 != 3 && i != 130).then_some(i)).collect();
        let long = chunk_of(Arc::new(Int32Array::from(long)));
        let (mut a, mut b) = (vec![0.0; 150], vec![0.0; 150]);
        fill_f64_range(&long, 37, 187, &mut a);
        fill_f64(&long, 37..187, &mut b);
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert!(a[130 - 37].is_nan() && a[1].is_nan() && a[0] == 37.0);
        assert_eq!(got[..2], [1.0, 2.0]);
        assert!(got[2].is_nan());
        assert_eq!(got[3..], [4.0, 5.0]);
        let rows = [5, 0, 1, 4, 2, 2];
        let view = TableView::new(&t, &inputs, Some(&rows), MissingColumns::Error).unwrap();
        assert_eq!(read_all(&view, 0..6), vec![5.0, 0.0, 1.0, 4.0, 2.0, 2.0]);
        let (mut scratch, mut runs) = (Vec::new(), Vec::new());
        view.rows.runs(0..6, &mut scratch, &mut runs);
        assert_eq!(runs.len(), 3, "{runs:?}");
        assert_eq!(scratch, vec![0, 0, 1, 2, 0, 0]);
        let e = TableView::new(&t, &inputs, Some(&[6]), MissingColumns::Error)
            .err()
            .unwrap();
        assert!(e.message.contains("row index 6 is out of range"), "{e}");
    }

    #[test]
    fn text_from_every_layout() {
        let collect = |c: &Chunk| {
            let mut v = Vec::new();
            each_text(c, 0..3, |_, t| v.push(t.map(str::to_string)));
            v
        };
        let s = chunk_of(Arc::new(StringArray::from(vec![Some("a"), None, Some("b")])));
        assert_eq!(collect(&s), vec![Some("a".into()), None, Some("b".into())]);
        let s = chunk_of(Arc::new(StringViewArray::from(vec![
            Some("a long string over twelve"),
            None,
            Some("b"),
        ])));
        assert_eq!(collect(&s)[0].as_deref(), Some("a long string over twelve"));
        let b = chunk_of(Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])));
        assert_eq!(collect(&b), vec![Some("true".into()), Some("false".into()), None]);
        let f = chunk_of(Arc::new(Float64Array::from(vec![Some(3.0), Some(2.5), Some(f64::NAN)])));
        assert_eq!(collect(&f), vec![Some("3".into()), Some("2.5".into()), None]);
        let i = chunk_of(Arc::new(Int32Array::from(vec![Some(3), None, Some(-7)])));
        assert_eq!(collect(&i), vec![Some("3".into()), None, Some("-7".into())]);
        let d: DictionaryArray<Int32Type> = vec![Some("x"), None, Some("y")].into_iter().collect();
        let d = chunk_of(Arc::new(d));
        assert_eq!(text_at(&d, 0).as_deref(), Some("x"));
        assert_eq!(text_at(&d, 1), None);
        assert_eq!(text_at(&d, 2).as_deref(), Some("y"));
    }

    #[test]
    fn numbers_dates_and_timestamps() {
        let mut out = vec![0.0; 3];
        let f = chunk_of(Arc::new(Float64Array::from(vec![1.5, f64::INFINITY, -2.0])));
        fill_f64(&f, 0..3, &mut out);
        assert_eq!(out[0], 1.5);
        assert!(out[1].is_nan());
        assert_eq!(out[2], -2.0);
        let b = chunk_of(Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])));
        fill_f64(&b, 0..3, &mut out);
        assert_eq!((out[0], out[2]), (1.0, 0.0));
        assert!(out[1].is_nan());
        // 2000-02-29, missing, 1969-12-31.
        let d = chunk_of(Arc::new(Date32Array::from(vec![Some(11_016), None, Some(-1)])));
        fill_part(&d, DatePart::Month, 0..3, &mut out);
        assert_eq!((out[0], out[2]), (2.0, 12.0));
        assert!(out[1].is_nan());
        let ts = TimestampMillisecondArray::from(vec![Some(19_792 * 86_400_000 + 13 * 3_600_000), None, Some(0)])
            .with_timezone("+02:00");
        let ts = chunk_of(Arc::new(ts));
        fill_part(&ts, DatePart::Hour, 0..3, &mut out);
        assert_eq!((out[0], out[2]), (15.0, 2.0));
        let named = TimestampMillisecondArray::from(vec![0]).with_timezone("Europe/Paris");
        let e = Chunk::new(&(Arc::new(named) as ArrayRef), "when").unwrap_err();
        assert!(
            e.to_string().contains("column 'when'") && e.message.contains("Europe/Paris"),
            "{e}"
        );
        let dec = arrow::array::Decimal128Array::from(vec![12345])
            .with_precision_and_scale(10, 2)
            .unwrap();
        let dec = chunk_of(Arc::new(dec));
        fill_f64(&dec, 0..1, &mut out[..1]);
        assert_eq!(out[0], 123.45);
    }
}
