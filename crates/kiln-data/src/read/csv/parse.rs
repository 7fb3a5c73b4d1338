//! Parsing one range of whole CSV records into a record batch, column by column.
//!
//! `Int64`, `Float64`, `Boolean` and `Utf8` columns are parsed directly; any
//! other requested type is read as text and converted with Arrow's cast, the
//! first value it cannot convert being reported.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Float64Array, Float64Builder, Int64Array, Int64Builder, NullArray,
    NullBufferBuilder, StringArray, StringBuilder,
};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::infer::Kind;
use super::scan::{tokenize, Dialect, Fields, TokenError};

/// How a column's type was chosen, which decides what a value that does not fit it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Set by the `types` option: a value that does not fit is an error.
    Overridden,
    /// Inferred from the sample: an integer column may widen to `Float64`; else an error.
    Inferred,
    /// The sample had no values: the column takes whatever kind its values have.
    Unknown,
}

/// One column to parse: its type and how that type was chosen.
#[derive(Debug, Clone)]
pub(crate) struct ColumnSpec {
    pub name: String,
    pub data_type: DataType,
    pub mode: Mode,
}

/// Null tokens, with a quick length check.
#[derive(Debug, Clone)]
pub(crate) struct Nulls {
    tokens: Vec<String>,
    max_len: usize,
    /// The longest token that also reads as a number (`NaN`, `-999`...), 0 if none:
    /// a number no longer than this must be checked against the tokens.
    numeric_max_len: usize,
}

impl Nulls {
    pub fn new(tokens: &[String]) -> Nulls {
        let tokens: Vec<String> = tokens.iter().map(|t| t.trim_ascii().to_string()).collect();
        let max_len = tokens.iter().map(String::len).max().unwrap_or(0);
        let numeric_max_len = tokens
            .iter()
            .filter(|t| {
                t.parse::<f64>().is_ok()
                    || lexical_core::parse_partial::<f64>(t.as_bytes()).is_ok_and(|(_, k)| k == t.len())
            })
            .map(String::len)
            .max()
            .unwrap_or(0);
        Nulls {
            tokens,
            max_len,
            numeric_max_len,
        }
    }

    /// Whether a number parsed from `raw` is really a null token.
    #[inline]
    fn number_is_null(&self, raw: &[u8]) -> bool {
        raw.len() <= self.numeric_max_len && std::str::from_utf8(raw).is_ok_and(|s| self.is_null(s))
    }

    /// Whether an unquoted field (raw) is a null token, spaces around it ignored.
    #[inline]
    pub fn is_null(&self, raw: &str) -> bool {
        let b = raw.as_bytes();
        if b.len() > self.max_len {
            let padded = matches!(b.first(), Some(c) if c.is_ascii_whitespace())
                || matches!(b.last(), Some(c) if c.is_ascii_whitespace());
            if !padded {
                return false;
            }
        }
        let t = raw.trim_ascii();
        t.len() <= self.max_len && self.tokens.iter().any(|k| k == t)
    }
}

/// A problem in a range: the record (0-based in the range), its byte offset in
/// the range, the column (if known) and what was wrong.
#[derive(Debug, Clone)]
pub(crate) struct RangeError {
    pub record: usize,
    pub offset: usize,
    pub column: Option<usize>,
    pub message: String,
}

/// What parsing a range gave.
pub(crate) struct RangeOutput {
    pub batch: Option<RecordBatch>,
    pub rows: usize,
    /// Per column, the kind later values need when the column must widen (then
    /// the file is read again with wider types).
    pub widen: Vec<Option<Kind>>,
    pub error: Option<RangeError>,
}

/// Everything a range parse needs besides the bytes.
pub(crate) struct Plan<'a> {
    pub specs: &'a [ColumnSpec],
    pub schema: &'a SchemaRef,
    pub dialect: Dialect,
    pub nulls: &'a Nulls,
    /// Stop after this many records (schema sampling), else `usize::MAX`.
    pub max_records: usize,
}

/// Parses `buf` (whole records) into a batch with `plan.schema`.
pub(crate) fn parse_range(buf: &[u8], plan: &Plan<'_>) -> RangeOutput {
    if memchr::memchr(plan.dialect.quote, buf).is_none() {
        // Numbers need no UTF-8 check (the number parser takes ASCII only; a
        // cell it rejects is checked on its own); text columns need the range valid.
        let numeric = plan
            .specs
            .iter()
            .all(|s| matches!(s.data_type, DataType::Float64 | DataType::Int64));
        if numeric {
            return parse_fused(buf, None, plan);
        }
        if let Ok(text) = std::str::from_utf8(buf) {
            return parse_fused(buf, Some(text), plan);
        }
    }
    parse_general(buf, plan)
}

fn failed(ncols: usize, e: RangeError) -> RangeOutput {
    RangeOutput {
        batch: None,
        rows: 0,
        widen: vec![None; ncols],
        error: Some(e),
    }
}

/// The general path: tokenize the whole range (quotes and all), then parse column by column.
fn parse_general(buf: &[u8], plan: &Plan<'_>) -> RangeOutput {
    let ncols = plan.specs.len();
    let fail = |e: RangeError| RangeOutput {
        batch: None,
        rows: 0,
        widen: vec![None; ncols],
        error: Some(e),
    };
    let fields = match tokenize(buf, ncols, plan.max_records, plan.dialect) {
        Ok(f) => f,
        Err(e) => {
            let (record, start, message) = match e {
                TokenError::FieldCount { record, start, found } => (
                    record,
                    start,
                    format!(
                        "found {found} field{}, expected {ncols} (one per column)",
                        if found == 1 { "" } else { "s" }
                    ),
                ),
                TokenError::Unterminated { record, start } => (
                    record,
                    start,
                    "a quoted field is never closed (a quote character is missing)".to_string(),
                ),
                TokenError::TooLarge => (0, 0, "a single CSV record is larger than 4 GiB".to_string()),
            };
            // A bad byte before the bad record is the earlier problem.
            if let Err(u) = std::str::from_utf8(&buf[..start]) {
                return fail(utf8_error(buf, u.valid_up_to(), None));
            }
            let column = match e {
                TokenError::FieldCount { found, .. } if found < ncols => Some(found),
                _ => None,
            };
            let message = match column {
                Some(_) => format!("{message}; this column is missing"),
                None => message,
            };
            return fail(RangeError {
                record,
                offset: start,
                column,
                message,
            });
        }
    };
    let text = match std::str::from_utf8(&buf[..fields.consumed]) {
        Ok(t) => t,
        Err(u) => return fail(utf8_error(buf, u.valid_up_to(), Some(&fields))),
    };
    let n = fields.nrecords();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(ncols);
    let mut widen = vec![None; ncols];
    let mut first_error: Option<RangeError> = None;
    for (j, spec) in plan.specs.iter().enumerate() {
        let col = Column {
            text,
            cells: Cells::Grid { fields: &fields, j },
            n,
            has_quotes: fields.has_quotes,
            nulls: plan.nulls,
            quote: plan.dialect.quote,
        };
        match parse_column(&col, spec) {
            Ok((array, w)) => {
                columns.push(array);
                widen[j] = w;
            }
            Err((record, message)) => {
                let better = first_error.as_ref().is_none_or(|e| record < e.record);
                if better {
                    first_error = Some(RangeError {
                        record,
                        offset: fields.rec_starts[record] as usize,
                        column: Some(j),
                        message,
                    });
                }
            }
        }
    }
    if let Some(e) = first_error {
        return fail(e);
    }
    let batch = match RecordBatch::try_new(plan.schema.clone(), columns) {
        Ok(b) => b,
        Err(e) => {
            return fail(RangeError {
                record: 0,
                offset: 0,
                column: None,
                message: format!("internal error building a record batch: {e}"),
            })
        }
    };
    RangeOutput {
        batch: Some(batch),
        rows: n,
        widen,
        error: None,
    }
}

/// Where a numeric column's values go in the fused path.
enum Sink {
    F64(Vec<f64>, NullBufferBuilder, Option<Kind>),
    I64(Vec<i64>, NullBufferBuilder, Option<Kind>),
    /// Any other type: the cell spans, parsed column by column afterwards.
    Spans(Vec<(u32, u32)>),
}

/// Whether a number that ends at `p` ends its field.
#[inline]
fn ends_field(b: &[u8], p: usize, delim: u8) -> bool {
    match b.get(p) {
        None => true,
        Some(&c) => c == delim || c == b'\n' || (c == b'\r' && matches!(b.get(p + 1), None | Some(&b'\n'))),
    }
}

/// The end of the field starting at `p` (a delimiter, a line break or the end).
#[inline]
fn field_end(b: &[u8], p: usize, delim: u8) -> usize {
    memchr::memchr2(delim, b'\n', &b[p..]).map_or(b.len(), |k| p + k)
}

/// The fast path for ranges without quotes: one pass over the text, numbers
/// parsed where they stand (the parser finds the field's end), no field table.
fn parse_fused(b: &[u8], text: Option<&str>, plan: &Plan<'_>) -> RangeOutput {
    let n = b.len();
    if n >= u32::MAX as usize {
        return parse_general(b, plan);
    }
    let ncols = plan.specs.len();
    let delim = plan.dialect.delim;
    // Exact for files without blank lines, so the columns hold no spare capacity.
    let guess = memchr::memchr_iter(b'\n', b).count() + 1;
    let mut sinks: Vec<Sink> = plan
        .specs
        .iter()
        .map(|s| match s.data_type {
            DataType::Float64 => Sink::F64(Vec::with_capacity(guess), NullBufferBuilder::new(guess), None),
            DataType::Int64 => Sink::I64(Vec::with_capacity(guess), NullBufferBuilder::new(guess), None),
            _ => Sink::Spans(Vec::with_capacity(guess)),
        })
        .collect();
    let mut pos = 0usize;
    let mut rec = 0usize;
    while pos < n && rec < plan.max_records {
        // Blank lines.
        if b[pos] == b'\n' {
            pos += 1;
            continue;
        }
        if b[pos] == b'\r' && matches!(b.get(pos + 1), None | Some(&b'\n')) {
            pos += 2;
            continue;
        }
        let rec_start = pos;
        for (j, sink) in sinks.iter_mut().enumerate() {
            let last = j + 1 == ncols;
            match sink {
                Sink::F64(values, nulls, widen) => match lexical_core::parse_partial::<f64>(&b[pos..]) {
                    Ok((v, k)) if ends_field(b, pos + k, delim) => {
                        if plan.nulls.number_is_null(&b[pos..pos + k]) {
                            values.push(0.0);
                            nulls.append_null();
                        } else {
                            values.push(v);
                            nulls.append_non_null();
                        }
                        pos += k;
                    }
                    _ => {
                        let end = field_end(b, pos, delim);
                        let Ok(raw) = cell(b, pos, end, last) else {
                            return failed(ncols, utf8_cell_error(b, pos, end, rec, j));
                        };
                        pos = end;
                        if plan.nulls.is_null(raw) {
                            values.push(0.0);
                            nulls.append_null();
                        } else if let Ok(v) = raw.trim_ascii().parse::<f64>() {
                            values.push(v);
                            nulls.append_non_null();
                        } else {
                            if let Err((_, message)) = mismatch(&plan.specs[j], widen, rec, raw) {
                                return failed(ncols, error_at(rec, rec_start, j, message));
                            }
                            values.push(0.0);
                            nulls.append_null();
                        }
                    }
                },
                Sink::I64(values, nulls, widen) => match lexical_core::parse_partial::<i64>(&b[pos..]) {
                    Ok((v, k)) if ends_field(b, pos + k, delim) => {
                        if plan.nulls.number_is_null(&b[pos..pos + k]) {
                            values.push(0);
                            nulls.append_null();
                        } else {
                            values.push(v);
                            nulls.append_non_null();
                        }
                        pos += k;
                    }
                    _ => {
                        let end = field_end(b, pos, delim);
                        let Ok(raw) = cell(b, pos, end, last) else {
                            return failed(ncols, utf8_cell_error(b, pos, end, rec, j));
                        };
                        pos = end;
                        if plan.nulls.is_null(raw) {
                            values.push(0);
                            nulls.append_null();
                        } else if let Ok(v) = raw.trim_ascii().parse::<i64>() {
                            values.push(v);
                            nulls.append_non_null();
                        } else {
                            if let Err((_, message)) = mismatch(&plan.specs[j], widen, rec, raw) {
                                return failed(ncols, error_at(rec, rec_start, j, message));
                            }
                            values.push(0);
                            nulls.append_null();
                        }
                    }
                },
                Sink::Spans(spans) => {
                    let end = field_end(b, pos, delim);
                    let e = if last && end > pos && b[end - 1] == b'\r' {
                        end - 1
                    } else {
                        end
                    };
                    spans.push((pos as u32, e as u32));
                    pos = end;
                }
            }
            // The byte after the field: a delimiter between fields, a line end after the last.
            let next = b.get(pos).copied();
            if !last {
                if next == Some(delim) {
                    pos += 1;
                    continue;
                }
                let found = j + 1;
                return failed(
                    ncols,
                    error_at(
                        rec,
                        rec_start,
                        found,
                        format!(
                            "found {found} field{}, expected {ncols} (one per column); this column is missing",
                            if found == 1 { "" } else { "s" }
                        ),
                    ),
                );
            }
            match next {
                None => {}
                Some(b'\n') => pos += 1,
                Some(b'\r') => pos += if b.get(pos + 1) == Some(&b'\n') { 2 } else { 1 },
                Some(_) => {
                    let found = super::scan::record_fields(b, rec_start, plan.dialect).map_or(0, |(f, _)| f.len());
                    let mut e = error_at(
                        rec,
                        rec_start,
                        0,
                        format!("found {found} fields, expected {ncols} (one per column)"),
                    );
                    e.column = None;
                    return failed(ncols, e);
                }
            }
        }
        rec += 1;
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(ncols);
    let mut widen_out = vec![None; ncols];
    for (j, sink) in sinks.into_iter().enumerate() {
        match sink {
            Sink::F64(values, mut nulls, w) => {
                widen_out[j] = w;
                columns.push(Arc::new(Float64Array::new(values.into(), nulls.finish())));
            }
            Sink::I64(values, mut nulls, w) => {
                widen_out[j] = w;
                columns.push(Arc::new(Int64Array::new(values.into(), nulls.finish())));
            }
            Sink::Spans(spans) => {
                let col = Column {
                    text: text.unwrap_or(""),
                    cells: Cells::Spans(&spans),
                    n: rec,
                    has_quotes: false,
                    nulls: plan.nulls,
                    quote: plan.dialect.quote,
                };
                match parse_column(&col, &plan.specs[j]) {
                    Ok((array, w)) => {
                        widen_out[j] = w;
                        columns.push(array);
                    }
                    Err((record, message)) => {
                        let offset = spans.get(record).map_or(0, |s| s.0 as usize);
                        return failed(ncols, error_at(record, offset, j, message));
                    }
                }
            }
        }
    }
    match RecordBatch::try_new(plan.schema.clone(), columns) {
        Ok(batch) => RangeOutput {
            batch: Some(batch),
            rows: rec,
            widen: widen_out,
            error: None,
        },
        Err(e) => failed(
            ncols,
            error_at(0, 0, 0, format!("internal error building a record batch: {e}")),
        ),
    }
}

/// The text of a cell, without the `\r` of a `\r\n` line end.
#[inline]
fn cell(b: &[u8], start: usize, end: usize, last: bool) -> std::result::Result<&str, std::str::Utf8Error> {
    let e = if last && end > start && b[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    std::str::from_utf8(&b[start..e])
}

/// A cell that is not UTF-8, as the general path reports it.
fn utf8_cell_error(b: &[u8], start: usize, end: usize, record: usize, column: usize) -> RangeError {
    let at = start + std::str::from_utf8(&b[start..end]).err().map_or(0, |e| e.valid_up_to());
    RangeError {
        record,
        offset: at,
        column: Some(column),
        message: format!(
            "invalid UTF-8 (byte 0x{:02X} at this point); CSV files must be UTF-8 text",
            b.get(at).copied().unwrap_or(0)
        ),
    }
}

fn error_at(record: usize, offset: usize, column: usize, message: String) -> RangeError {
    RangeError {
        record,
        offset,
        column: Some(column),
        message,
    }
}

fn utf8_error(buf: &[u8], at: usize, fields: Option<&Fields>) -> RangeError {
    let byte = buf.get(at).copied().unwrap_or(0);
    let (record, column) = match fields {
        Some(f) if f.nrecords() > 0 => {
            let (i, j) = f.locate(at);
            (i, Some(j))
        }
        _ => (count_records_before(buf, at), None),
    };
    RangeError {
        record,
        offset: at,
        column,
        message: format!("invalid UTF-8 (byte 0x{byte:02X} at this point); CSV files must be UTF-8 text"),
    }
}

/// A rough record count before `at` (line breaks), for errors before tokenizing finished.
fn count_records_before(buf: &[u8], at: usize) -> usize {
    memchr::memchr_iter(b'\n', &buf[..at.min(buf.len())]).count()
}

/// Where a column's cells are in the range's text.
enum Cells<'a> {
    /// Column `j` of a tokenized range.
    Grid { fields: &'a Fields, j: usize },
    /// One `(start, end)` per record (from the fused fast path).
    Spans(&'a [(u32, u32)]),
}

/// One column of a tokenized range.
struct Column<'a> {
    text: &'a str,
    cells: Cells<'a>,
    /// Number of records.
    n: usize,
    has_quotes: bool,
    nulls: &'a Nulls,
    quote: u8,
}

/// A field's value: `None` for null, else the (unquoted) text.
enum Value<'a> {
    Null,
    Text(Cow<'a, str>),
}

impl<'a> Column<'a> {
    #[inline]
    fn raw(&self, i: usize) -> &'a str {
        let (s, e) = match &self.cells {
            Cells::Grid { fields, j } => fields.field(i, *j),
            Cells::Spans(spans) => {
                let (s, e) = spans[i];
                (s as usize, e as usize)
            }
        };
        self.text.get(s..e).unwrap_or("")
    }

    #[inline]
    fn value(&self, i: usize) -> Value<'a> {
        let raw = self.raw(i);
        if self.has_quotes && raw.as_bytes().first() == Some(&self.quote) {
            return Value::Text(unquote(raw, self.quote));
        }
        if self.nulls.is_null(raw) {
            Value::Null
        } else {
            Value::Text(Cow::Borrowed(raw))
        }
    }
}

/// The text of a field that starts with a quote: quotes removed, doubled quotes
/// made single, text after the closing quote kept.
pub(crate) fn unquote(raw: &str, quote: u8) -> Cow<'_, str> {
    let b = raw.as_bytes();
    if b.len() >= 2 && b[b.len() - 1] == quote && memchr::memchr(quote, &b[1..b.len() - 1]).is_none() {
        return Cow::Borrowed(&raw[1..raw.len() - 1]);
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 1;
    let mut seg = 1;
    let mut in_quotes = true;
    while i < b.len() {
        if in_quotes && b[i] == quote {
            if i + 1 < b.len() && b[i + 1] == quote {
                out.push_str(&raw[seg..=i]);
                i += 2;
            } else {
                out.push_str(&raw[seg..i]);
                in_quotes = false;
                i += 1;
            }
            seg = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&raw[seg..]);
    Cow::Owned(out)
}

type ColumnResult = Result<(ArrayRef, Option<Kind>), (usize, String)>;

fn parse_column(col: &Column<'_>, spec: &ColumnSpec) -> ColumnResult {
    match &spec.data_type {
        DataType::Float64 => parse_float(col, spec),
        DataType::Int64 => parse_int(col, spec),
        DataType::Boolean => parse_bool(col, spec),
        DataType::Utf8 => Ok((parse_text(col), None)),
        DataType::Null => parse_null(col),
        other => parse_cast(col, spec, other),
    }
}

/// What a value that does not fit `spec` means: a wider kind to note, or an error.
fn mismatch(spec: &ColumnSpec, widen: &mut Option<Kind>, i: usize, value: &str) -> Result<(), (usize, String)> {
    let kind = Kind::of(value);
    match spec.mode {
        Mode::Unknown => {
            let base = widen.unwrap_or(Kind::of_type(&spec.data_type));
            *widen = Some(base.unify(kind));
            Ok(())
        }
        Mode::Inferred if spec.data_type == DataType::Int64 && kind == Kind::Float => {
            *widen = Some(Kind::Float);
            Ok(())
        }
        mode => Err((i, mismatch_message(&spec.data_type, mode, value))),
    }
}

pub(crate) fn mismatch_message(t: &DataType, mode: Mode, value: &str) -> String {
    let what = match t {
        DataType::Float64 | DataType::Float32 | DataType::Float16 => "a number".to_string(),
        t if t.is_integer() => "an integer".to_string(),
        DataType::Boolean => "true or false".to_string(),
        DataType::Date32 | DataType::Date64 => "a date (YYYY-MM-DD)".to_string(),
        DataType::Timestamp(_, _) => "a timestamp (YYYY-MM-DD HH:MM:SS)".to_string(),
        t => format!("a {t} value"),
    };
    let why = match mode {
        Mode::Overridden => "the type set by the types option".to_string(),
        _ => "the type inferred from the first rows; set this column's type with the types option, or raise infer_rows"
            .to_string(),
    };
    let shown: String = value.chars().take(60).collect();
    let more = if shown.len() < value.len() { "..." } else { "" };
    format!("expected {what} ({t}, {why}), found '{shown}{more}'")
}

fn parse_float(col: &Column<'_>, spec: &ColumnSpec) -> ColumnResult {
    let n = col.n;
    let mut b = Float64Builder::with_capacity(n);
    let mut widen = None;
    for i in 0..n {
        match col.value(i) {
            Value::Null => b.append_null(),
            Value::Text(s) => match s.trim_ascii().parse::<f64>() {
                Ok(v) => b.append_value(v),
                Err(_) => {
                    mismatch(spec, &mut widen, i, &s)?;
                    b.append_null();
                }
            },
        }
    }
    Ok((Arc::new(b.finish()), widen))
}

fn parse_int(col: &Column<'_>, spec: &ColumnSpec) -> ColumnResult {
    let n = col.n;
    let mut b = Int64Builder::with_capacity(n);
    let mut widen = None;
    for i in 0..n {
        match col.value(i) {
            Value::Null => b.append_null(),
            Value::Text(s) => match s.trim_ascii().parse::<i64>() {
                Ok(v) => b.append_value(v),
                Err(_) => {
                    mismatch(spec, &mut widen, i, &s)?;
                    b.append_null();
                }
            },
        }
    }
    Ok((Arc::new(b.finish()), widen))
}

fn parse_bool(col: &Column<'_>, spec: &ColumnSpec) -> ColumnResult {
    let n = col.n;
    let mut b = BooleanBuilder::with_capacity(n);
    let mut widen = None;
    for i in 0..n {
        match col.value(i) {
            Value::Null => b.append_null(),
            Value::Text(s) => {
                let t = s.trim_ascii();
                if t.eq_ignore_ascii_case("true") {
                    b.append_value(true);
                } else if t.eq_ignore_ascii_case("false") {
                    b.append_value(false);
                } else {
                    mismatch(spec, &mut widen, i, &s)?;
                    b.append_null();
                }
            }
        }
    }
    Ok((Arc::new(b.finish()), widen))
}

fn parse_text(col: &Column<'_>) -> ArrayRef {
    let n = col.n;
    let bytes = n * 8;
    let mut b = StringBuilder::with_capacity(n, bytes);
    for i in 0..n {
        match col.value(i) {
            Value::Null => b.append_null(),
            Value::Text(s) => b.append_value(&s),
        }
    }
    Arc::new(b.finish())
}

fn parse_null(col: &Column<'_>) -> ColumnResult {
    let n = col.n;
    let mut widen: Option<Kind> = None;
    for i in 0..n {
        if let Value::Text(s) = col.value(i) {
            let k = Kind::of(&s);
            widen = Some(widen.map_or(k, |w| w.unify(k)));
        }
    }
    Ok((Arc::new(NullArray::new(n)), widen))
}

/// Types without a direct parser: text, then Arrow's cast; the first value the
/// cast cannot convert is the error.
fn parse_cast(col: &Column<'_>, spec: &ColumnSpec, t: &DataType) -> ColumnResult {
    let n = col.n;
    let mut b = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        match col.value(i) {
            Value::Null => b.append_null(),
            Value::Text(s) => b.append_value(s.trim_ascii()),
        }
    }
    let text: StringArray = b.finish();
    let opts = CastOptions {
        safe: true,
        ..CastOptions::default()
    };
    let cast = cast_with_options(&text, t, &opts).map_err(|e| (0, format!("cannot read text as {t}: {e}")))?;
    if cast.null_count() > text.null_count() {
        if let Some(i) = (0..n).find(|&i| text.is_valid(i) && cast.is_null(i)) {
            let mut widen = None;
            mismatch(spec, &mut widen, i, text.value(i))?;
            // An inferred column whose later values do not fit reads again as their kind.
            return Ok((cast, widen.or(Some(Kind::Text))));
        }
    }
    Ok((cast, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_handles_escapes_and_trailing_text() {
        assert_eq!(unquote("\"abc\"", b'"'), "abc");
        assert_eq!(unquote("\"a\"\"b\"", b'"'), "a\"b");
        assert_eq!(unquote("\"\"", b'"'), "");
        assert_eq!(unquote("\"ab\"cd", b'"'), "abcd");
    }

    #[test]
    fn null_tokens_ignore_padding() {
        let n = Nulls::new(&["".into(), "NA".into()]);
        assert!(n.is_null(""));
        assert!(n.is_null("  NA "));
        assert!(!n.is_null("NAB"));
        assert!(!n.is_null("1.5"));
    }
}
