//! JSON arrays of objects and NDJSON (one object per line; any whitespace
//! between objects is accepted), through `arrow-json`.
//!
//! Inference samples the first `infer_rows` objects with `serde_json`. Decoding
//! is strict: a key outside the schema is an error (never dropped). Integer
//! columns are decoded as text and parsed here, because Arrow's JSON decoder
//! would truncate `2.5` to `2`: an inferred integer column holding a fraction
//! later widens to `Float64`, an overridden one is an error. A column that was
//! null throughout the sample takes the kind of the values that come later.
//! When decoding fails, the file is walked again value by value to name the
//! row, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufReader, Read};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Builder, Int64Builder, NullArray, StringArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::json::reader::infer_json_schema_from_iterator;
use arrow::json::ReaderBuilder;
use arrow::record_batch::RecordBatch;
use serde::de::{DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde_json::Value;

use super::csv::infer::Kind;
use super::source::{read_full, Input};
use super::{Probe, ProgressState, ReadOptions};
use crate::error::{DataError, Location, Result};
use crate::table::Origin;

const BATCH_ROWS: usize = 64 * 1024;
const CHUNK: usize = 4 << 20;

/// What probing a JSON file found.
#[derive(Debug, Clone)]
pub(crate) struct JsonProbe {
    /// The inferred schema with overrides applied (keys in first-seen order).
    pub schema: SchemaRef,
    /// The file is one JSON array of objects (else a stream of objects).
    array: bool,
}

/// The first non-whitespace byte and its offset.
fn first_byte(name: &str, input: &Input) -> Result<Option<(u8, u64)>> {
    let mut r = input.reader(name)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut *r, &mut buf, name)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = buf[..n].iter().position(|b| !b.is_ascii_whitespace()) {
            return Ok(Some((buf[i], offset + i as u64)));
        }
        offset += n as u64;
    }
}

/// Infers the schema from the first `opts.infer_rows` objects.
pub(crate) fn probe(name: &str, input: &Input, opts: &ReadOptions) -> Result<JsonProbe> {
    let array = match first_byte(name, input)? {
        None => return Err(DataError::in_file(name, "the JSON file holds only whitespace")),
        Some((b'[', _)) => true,
        Some((b'{', _)) => false,
        Some((b, at)) => {
            return Err(DataError::new(
                Location::file(name).with_byte_offset(at).with_row(1),
                format!(
                    "expected a JSON array of objects or JSON objects (one per line), found '{}'",
                    b as char
                ),
            ))
        }
    };
    let (sample, order) = sample_values(name, input, array, opts.infer_rows)?;
    let inferred = infer_json_schema_from_iterator(sample.iter().map(Ok::<_, arrow::error::ArrowError>))
        .map_err(|e| DataError::in_file(name, format!("inferring the JSON schema: {e}")))?;
    let mut fields: Vec<Field> = inferred
        .fields()
        .iter()
        .map(|f| {
            let t = opts
                .types
                .get(f.name())
                .cloned()
                .unwrap_or_else(|| f.data_type().clone());
            Field::new(f.name(), t, true)
        })
        .collect();
    // Keys the sample lacks may be named in `types`: they are columns too.
    for (k, t) in &opts.types {
        if inferred.index_of(k).is_err() {
            fields.push(Field::new(k, t.clone(), true));
        }
    }
    // Keep the keys in the order the sample first shows them.
    let rank: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    fields.sort_by_key(|f| rank.get(f.name().as_str()).copied().unwrap_or(usize::MAX));
    Ok(JsonProbe {
        schema: Arc::new(Schema::new(fields)),
        array,
    })
}

/// The first `n` rows as JSON values, and their keys in first-seen order; a
/// syntax error names its line and column.
fn sample_values(name: &str, input: &Input, array: bool, n: usize) -> Result<(Vec<Value>, Vec<String>)> {
    let reader = BufReader::with_capacity(1 << 20, input.reader(name)?);
    let mut rows: Vec<OrderedRow> = Vec::new();
    if array {
        let mut de = serde_json::Deserializer::from_reader(reader);
        let seed = Sample { n, out: &mut rows };
        if let Err(e) = seed.deserialize(&mut de) {
            let row = rows.len() as u64 + 1;
            return Err(syntax_error(name, row, &e));
        }
    } else {
        let stream = serde_json::Deserializer::from_reader(reader).into_iter::<OrderedRow>();
        for v in stream.take(n) {
            match v {
                Ok(v) => rows.push(v),
                Err(e) => return Err(syntax_error(name, rows.len() as u64 + 1, &e)),
            }
        }
    }
    let mut order: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut values = Vec::with_capacity(rows.len());
    for r in rows {
        for k in r.keys {
            if seen.insert(k.clone()) {
                order.push(k);
            }
        }
        values.push(r.value);
    }
    Ok((values, order))
}

/// Checks the whole file's JSON syntax (Arrow's decoder is lenient about some
/// mistakes, such as doubled commas); a mistake names its row, line and column.
fn validate(name: &str, input: &Input, array: bool) -> Result<()> {
    let reader = BufReader::with_capacity(1 << 20, input.reader(name)?);
    if array {
        let mut de = serde_json::Deserializer::from_reader(reader);
        let mut count = 0u64;
        let seed = Count { count: &mut count };
        return match seed.deserialize(&mut de).and_then(|_| de.end()) {
            Ok(()) => Ok(()),
            Err(e) => Err(syntax_error(name, count + 1, &e)),
        };
    }
    for (row, v) in serde_json::Deserializer::from_reader(reader)
        .into_iter::<IgnoredAny>()
        .enumerate()
    {
        if let Err(e) = v {
            return Err(syntax_error(name, row as u64 + 1, &e));
        }
    }
    Ok(())
}

/// A JSON value with the top-level keys in the order the text has them.
struct OrderedRow {
    keys: Vec<String>,
    value: Value,
}

impl<'de> serde::Deserialize<'de> for OrderedRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(RowVisitor)
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = OrderedRow;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<OrderedRow, A::Error> {
        let mut keys = Vec::new();
        let mut obj = serde_json::Map::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            keys.push(k.clone());
            obj.insert(k, v);
        }
        Ok(OrderedRow {
            keys,
            value: Value::Object(obj),
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<OrderedRow, A::Error> {
        let v = <Value as serde::Deserialize>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
        Ok(OrderedRow {
            keys: Vec::new(),
            value: v,
        })
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> std::result::Result<OrderedRow, E> {
        Ok(OrderedRow {
            keys: Vec::new(),
            value: Value::String(s.to_string()),
        })
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<OrderedRow, E> {
        Ok(OrderedRow {
            keys: Vec::new(),
            value: Value::from(v),
        })
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<OrderedRow, E> {
        Ok(OrderedRow {
            keys: Vec::new(),
            value: Value::from(v),
        })
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<OrderedRow, E> {
        Ok(OrderedRow {
            keys: Vec::new(),
            value: Value::from(v),
        })
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> std::result::Result<OrderedRow, E> {
        Ok(OrderedRow {
            keys: Vec::new(),
            value: Value::Bool(v),
        })
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<OrderedRow, E> {
        Ok(OrderedRow {
            keys: Vec::new(),
            value: Value::Null,
        })
    }
}

/// A serde seed that counts the elements of an array (checking their syntax).
struct Count<'a> {
    count: &'a mut u64,
}

impl<'de> DeserializeSeed<'de> for Count<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {
            *self.count += 1;
        }
        Ok(())
    }
}

fn syntax_error(name: &str, row: u64, e: &serde_json::Error) -> DataError {
    DataError::new(
        Location::file(name).with_row(row),
        format!("malformed JSON at line {}, column {}: {e}", e.line(), e.column()),
    )
}

/// A serde seed that keeps the first `n` elements of an array and skips the rest.
struct Sample<'a> {
    n: usize,
    out: &'a mut Vec<OrderedRow>,
}

impl<'de> DeserializeSeed<'de> for Sample<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Sample<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while self.out.len() < self.n {
            match seq.next_element::<OrderedRow>()? {
                Some(v) => self.out.push(v),
                None => return Ok(()),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// How a column is decoded, and fixed up afterwards.
#[derive(Debug, Clone)]
enum Fix {
    /// Decoded as its own type.
    Keep,
    /// An integer type, decoded as text; `overridden` if set by `types`.
    Int { overridden: bool },
    /// Null throughout the sample: decoded as text, typed by its values.
    Unknown,
}

/// Decodes the file with the target's types.
pub(crate) fn read(
    p: &Probe,
    j: &JsonProbe,
    target: &SchemaRef,
    opts: &ReadOptions,
    progress: &ProgressState,
) -> Result<(Vec<RecordBatch>, Vec<Origin>)> {
    let name = p.name.as_str();
    validate(name, &p.input, j.array)?;
    let fixes: Vec<Fix> = target
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            t if t.is_integer() => Fix::Int {
                overridden: opts.types.contains_key(f.name()),
            },
            DataType::Null => Fix::Unknown,
            _ => Fix::Keep,
        })
        .collect();
    let decode_schema: SchemaRef = Arc::new(Schema::new(
        target
            .fields()
            .iter()
            .zip(&fixes)
            .map(|(f, fix)| match fix {
                Fix::Keep => Field::new(f.name(), f.data_type().clone(), true),
                _ => Field::new(f.name(), DataType::Utf8, true),
            })
            .collect::<Vec<_>>(),
    ));
    let builder = || {
        ReaderBuilder::new(decode_schema.clone())
            .with_batch_size(BATCH_ROWS)
            .with_strict_mode(true)
            .with_coerce_primitive(true)
            .with_flatten(j.array)
    };
    let mut decoder = builder()
        .build_decoder()
        .map_err(|e| DataError::in_file(name, format!("building the JSON decoder: {e}")))?;
    let mut reader = p.input.reader(name)?;
    let mut buf = vec![0u8; CHUNK];
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut rows = 0usize;
    let fail = |e: arrow::error::ArrowError, rows: usize| locate_error(name, &p.input, j.array, &builder, rows, e);
    loop {
        let n = read_full(&mut *reader, &mut buf, name)?;
        progress.advance(n as u64);
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            let used = decoder.decode(chunk).map_err(|e| fail(e, rows))?;
            chunk = &chunk[used..];
            if decoder.len() >= BATCH_ROWS {
                if let Some(b) = decoder.flush().map_err(|e| fail(e, rows))? {
                    rows += b.num_rows();
                    batches.push(b);
                }
            }
        }
        if n < buf.len() {
            break;
        }
    }
    if decoder.has_partial_record() {
        return Err(DataError::new(
            Location::file(name).with_row(rows as u64 + decoder.len() as u64),
            "the JSON ends in the middle of a value; the file is truncated",
        ));
    }
    if let Some(b) = decoder.flush().map_err(|e| fail(e, rows))? {
        batches.push(b);
    }
    let file: Arc<str> = Arc::from(name);
    let mut origins = Vec::with_capacity(batches.len());
    let mut first = 1u64;
    for b in &batches {
        origins.push(Origin {
            file: file.clone(),
            first_row: first,
        });
        first += b.num_rows() as u64;
    }
    let batches = fix_columns(name, &p.input, batches, &origins, target, &fixes)?;
    Ok((batches, origins))
}

/// Turns the text-decoded columns into their final types (the same for every batch).
fn fix_columns(
    name: &str,
    input: &Input,
    batches: Vec<RecordBatch>,
    origins: &[Origin],
    target: &SchemaRef,
    fixes: &[Fix],
) -> Result<Vec<RecordBatch>> {
    // First the final type of each fixed column, over all batches.
    let mut types: Vec<DataType> = target.fields().iter().map(|f| f.data_type().clone()).collect();
    for (c, fix) in fixes.iter().enumerate() {
        let mut kind: Option<Kind> = None;
        for (b, o) in batches.iter().zip(origins) {
            let text = as_text(b.column(c));
            match fix {
                Fix::Keep => break,
                Fix::Int { overridden, .. } => {
                    for i in 0..text.len() {
                        if text.is_null(i) {
                            continue;
                        }
                        let v = text.value(i);
                        if v.trim_ascii().parse::<i64>().is_ok() {
                            continue;
                        }
                        let k = Kind::of(v);
                        if !*overridden && k == Kind::Float {
                            kind = Some(Kind::Float);
                            continue;
                        }
                        let row = o.first_row + i as u64;
                        let t = &types[c];
                        return Err(value_error(name, input, row, target.field(c).name(), t, *overridden, v));
                    }
                }
                Fix::Unknown => {
                    for v in text.iter().flatten() {
                        let k = Kind::of(v);
                        kind = Some(kind.map_or(k, |x| x.unify(k)));
                    }
                }
            }
        }
        match (fix, kind) {
            (Fix::Int { .. }, Some(Kind::Float)) => types[c] = DataType::Float64,
            (Fix::Unknown, Some(k)) => {
                types[c] = match k {
                    Kind::Bool | Kind::Int | Kind::Float => k.data_type(),
                    _ => DataType::Utf8,
                }
            }
            _ => {}
        }
    }
    let schema: SchemaRef = Arc::new(Schema::new(
        target
            .fields()
            .iter()
            .zip(&types)
            .map(|(f, t)| Field::new(f.name(), t.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let mut out = Vec::with_capacity(batches.len());
    for (b, o) in batches.iter().zip(origins) {
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(fixes.len());
        for (c, fix) in fixes.iter().enumerate() {
            let col = b.column(c);
            let t = &types[c];
            let fixed: ArrayRef = match fix {
                Fix::Keep => col.clone(),
                _ => convert_text(name, o, target.field(c).name(), as_text(col), t)?,
            };
            cols.push(fixed);
        }
        out.push(
            RecordBatch::try_new(schema.clone(), cols)
                .map_err(|e| DataError::in_file(name, format!("building a record batch: {e}")))?,
        );
    }
    Ok(out)
}

fn as_text(a: &ArrayRef) -> &StringArray {
    static EMPTY: std::sync::OnceLock<StringArray> = std::sync::OnceLock::new();
    a.as_any()
        .downcast_ref::<StringArray>()
        .unwrap_or_else(|| EMPTY.get_or_init(|| StringArray::from(Vec::<Option<&str>>::new())))
}

/// Text (already checked) as `t`.
fn convert_text(name: &str, o: &Origin, column: &str, text: &StringArray, t: &DataType) -> Result<ArrayRef> {
    let n = text.len();
    let out: ArrayRef = match t {
        DataType::Null => Arc::new(NullArray::new(n)),
        DataType::Float64 => {
            let mut b = Float64Builder::with_capacity(n);
            for v in text.iter() {
                b.append_option(v.and_then(|s| s.trim_ascii().parse::<f64>().ok()));
            }
            Arc::new(b.finish())
        }
        DataType::Utf8 => Arc::new(text.clone()),
        t if t.is_integer() => {
            let mut b = Int64Builder::with_capacity(n);
            for v in text.iter() {
                b.append_option(v.and_then(|s| s.trim_ascii().parse::<i64>().ok()));
            }
            let ints = b.finish();
            if t == &DataType::Int64 {
                Arc::new(ints)
            } else {
                let opts = CastOptions {
                    safe: true,
                    ..CastOptions::default()
                };
                let cast = cast_with_options(&ints, t, &opts)
                    .map_err(|e| DataError::in_file(name, format!("converting to {t}: {e}")))?;
                if let Some(i) = (0..n).find(|&i| ints.is_valid(i) && cast.is_null(i)) {
                    return Err(DataError::new(
                        Location::file(name)
                            .with_row(o.first_row + i as u64)
                            .with_column(column),
                        format!("the value {} is out of range for {t}", ints.value(i)),
                    ));
                }
                cast
            }
        }
        t => {
            let opts = CastOptions {
                safe: true,
                ..CastOptions::default()
            };
            let cast = cast_with_options(text, t, &opts)
                .map_err(|e| DataError::in_file(name, format!("converting to {t}: {e}")))?;
            if let Some(i) = (0..n).find(|&i| text.is_valid(i) && cast.is_null(i)) {
                return Err(DataError::new(
                    Location::file(name)
                        .with_row(o.first_row + i as u64)
                        .with_column(column),
                    format!("cannot read '{}' as {t}", text.value(i)),
                ));
            }
            cast
        }
    };
    Ok(out)
}

fn value_error(
    name: &str,
    _input: &Input,
    row: u64,
    column: &str,
    t: &DataType,
    overridden: bool,
    value: &str,
) -> DataError {
    let why = if overridden {
        "the type set by the types option"
    } else {
        "the type inferred from the first rows; set this column's type with the types option, or raise infer_rows"
    };
    DataError::new(
        Location::file(name).with_row(row).with_column(column),
        format!("expected an integer ({t}, {why}), found {value}"),
    )
}

/// Finds the row (and line, column) of a decoding error by walking the file
/// value by value; falls back to the batch the error happened in.
fn locate_error(
    name: &str,
    input: &Input,
    array: bool,
    builder: &dyn Fn() -> ReaderBuilder,
    rows_before: usize,
    e: arrow::error::ArrowError,
) -> DataError {
    let fallback = || {
        DataError::new(
            Location::file(name).with_row(rows_before as u64 + 1),
            format!("decoding JSON at or after this row: {e}"),
        )
    };
    let Ok(reader) = input.reader(name) else {
        return fallback();
    };
    let reader = BufReader::with_capacity(1 << 20, reader);
    let check = |v: &Value| -> std::result::Result<(), String> {
        let mut d = builder().build_decoder().map_err(|e| e.to_string())?;
        d.serialize(std::slice::from_ref(v)).map_err(|e| e.to_string())?;
        d.flush().map(|_| ()).map_err(|e| e.to_string())
    };
    let found = if array {
        walk_array(reader, &check)
    } else {
        walk_stream(reader, &check)
    };
    match found {
        Some(Found::Syntax { row, error }) => syntax_error(name, row, &error),
        Some(Found::Value { row, offset, message }) => {
            let mut loc = Location::file(name).with_row(row);
            if let Some(c) = quoted_after(&message, "field '").or_else(|| quoted_after(&message, "column '")) {
                loc = loc.with_column(c);
            }
            let line = offset
                .and_then(|off| input.newlines_before(name, off).ok())
                .map(|n| format!(" (line {})", n + 1))
                .unwrap_or_default();
            let hint = if message.contains("missing from schema") {
                "; the key is not among the columns inferred from the first rows (raise infer_rows, or name it in types)"
            } else {
                ""
            };
            DataError::new(loc, format!("{message}{hint}{line}"))
        }
        None => fallback(),
    }
}

/// What the value-by-value walk found.
enum Found {
    Syntax {
        row: u64,
        error: serde_json::Error,
    },
    Value {
        row: u64,
        offset: Option<u64>,
        message: String,
    },
}

fn walk_stream(reader: impl Read, check: &dyn Fn(&Value) -> std::result::Result<(), String>) -> Option<Found> {
    let mut stream = serde_json::Deserializer::from_reader(reader).into_iter::<Value>();
    let mut row = 0u64;
    loop {
        let start = stream.byte_offset() as u64;
        match stream.next()? {
            Ok(v) => {
                row += 1;
                // The value itself starts after any whitespace; its last byte is surely on its line.
                let end = stream.byte_offset() as u64;
                if let Err(message) = check(&v) {
                    let _ = start;
                    return Some(Found::Value {
                        row,
                        offset: Some(end.saturating_sub(1)),
                        message,
                    });
                }
            }
            Err(error) => return Some(Found::Syntax { row: row + 1, error }),
        }
    }
}

fn walk_array(reader: impl Read, check: &dyn Fn(&Value) -> std::result::Result<(), String>) -> Option<Found> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut state = Walk {
        check,
        row: 0,
        found: None,
    };
    if let Err(error) = (&mut state).deserialize(&mut de) {
        if state.found.is_none() {
            return Some(Found::Syntax {
                row: state.row + 1,
                error,
            });
        }
    }
    state.found
}

struct Walk<'a> {
    check: &'a dyn Fn(&Value) -> std::result::Result<(), String>,
    row: u64,
    found: Option<Found>,
}

impl<'de> DeserializeSeed<'de> for &mut Walk<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for &mut Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.row += 1;
            if let Err(message) = (self.check)(&v) {
                self.found = Some(Found::Value {
                    row: self.row,
                    offset: None,
                    message,
                });
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The text between `prefix` and the next `'` in `s`.
fn quoted_after<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let start = s.find(prefix)? + prefix.len();
    let len = s[start..].find('\'')?;
    Some(&s[start..start + len])
}
