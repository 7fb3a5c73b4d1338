//! CSV: the header, schema inference from a sample, and the parallel read.
//!
//! A file is read in blocks of 16 MiB; each block is cut at record
//! boundaries (quote-aware, see [`scan`]) into ranges that are tokenized and
//! parsed in parallel (rayon), while the next block is read. Each range becomes
//! one record batch whose [`Origin`] names its first row, so an error anywhere
//! names the exact row (and line, when quoted fields hold line breaks).

pub(crate) mod infer;
mod parse;
mod scan;

use std::io::Read;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use self::infer::Kind;
use self::parse::{parse_range, ColumnSpec, Mode, Nulls, Plan, RangeError, RangeOutput};
use self::scan::{record_fields, skip_blank_lines, split_block, Dialect};
use super::source::Input;
use super::{threads, Probe, ProgressState, ReadOptions};
use crate::error::{DataError, Location, Result};
use crate::table::Origin;

/// What probing a CSV file found.
#[derive(Debug, Clone)]
pub(crate) struct CsvProbe {
    /// The file's columns in file order, with inferred or overridden types.
    pub schema: SchemaRef,
    pub modes: Vec<Mode>,
    /// Byte offset of the first data record (after a byte-order mark and the header).
    pub data_start: u64,
    /// The sample held no data rows.
    pub no_rows: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The bytes read per block.
const BLOCK: usize = 16 << 20;

fn dialect(opts: &ReadOptions) -> Dialect {
    Dialect {
        delim: opts.csv.delimiter,
        quote: opts.csv.quote,
    }
}

/// Reads the header and infers the types from the first `opts.infer_rows` records.
pub(crate) fn probe(name: &str, input: &Input, opts: &ReadOptions) -> Result<CsvProbe> {
    let d = dialect(opts);
    let mut reader = input.reader(name)?;
    let mut buf = Vec::new();
    let mut eof = false;
    let mut want = 1 << 20;
    // Read until the header and `infer_rows` records are in, or the file ends.
    let (header_end, names) = loop {
        eof = fill_to(&mut *reader, &mut buf, want, name)? || eof;
        let start = if buf.starts_with(BOM) { BOM.len() } else { 0 };
        if let Some(h) = header(&buf, start, eof, d, opts, name)? {
            break h;
        }
        if eof {
            // Only blank lines.
            return Err(DataError::in_file(name, "the CSV file holds only blank lines"));
        }
        want *= 2;
    };
    let ncols = names.len();
    let nulls = Nulls::new(&opts.csv.null_tokens);
    let sample_specs: Vec<ColumnSpec> = names
        .iter()
        .map(|n| ColumnSpec {
            name: n.clone(),
            data_type: DataType::Utf8,
            mode: Mode::Overridden,
        })
        .collect();
    let text_schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let sample = loop {
        let split = split_block(&buf[header_end..], eof, 1, d);
        let part = &buf[header_end..header_end + split.complete];
        let plan = Plan {
            specs: &sample_specs,
            schema: &text_schema,
            dialect: d,
            nulls: &nulls,
            max_records: opts.infer_rows,
        };
        let out = parse_range(part, &plan);
        if let Some(e) = out.error {
            return Err(located(name, input, &names, header_end as u64, 0, e));
        }
        if out.rows >= opts.infer_rows || eof || buf.len() >= 256 << 20 {
            break out;
        }
        want = buf.len() * 2;
        eof = fill_to(&mut *reader, &mut buf, want, name)?;
    };
    let mut fields = Vec::with_capacity(ncols);
    let mut modes = Vec::with_capacity(ncols);
    for (j, n) in names.iter().enumerate() {
        let (t, mode) = match opts.types.get(n) {
            Some(t) => (t.clone(), Mode::Overridden),
            None => {
                let k = sample.batch.as_ref().map_or(Kind::Null, |b| column_kind(b.column(j)));
                let mode = if k == Kind::Null { Mode::Unknown } else { Mode::Inferred };
                (k.data_type(), mode)
            }
        };
        fields.push(Field::new(n, t, true));
        modes.push(mode);
    }
    Ok(CsvProbe {
        schema: Arc::new(Schema::new(fields)),
        modes,
        data_start: header_end as u64,
        no_rows: sample.rows == 0,
    })
}

/// The combined kind of a sampled text column.
fn column_kind(col: &arrow::array::ArrayRef) -> Kind {
    let Some(s) = col.as_any().downcast_ref::<arrow::array::StringArray>() else {
        return Kind::Text;
    };
    s.iter().flatten().fold(Kind::Null, |k, v| k.unify(Kind::of(v)))
}

/// The header's end and the column names; `None` if more input is needed.
fn header(
    buf: &[u8],
    start: usize,
    eof: bool,
    d: Dialect,
    opts: &ReadOptions,
    name: &str,
) -> Result<Option<(usize, Vec<String>)>> {
    let Some(first) = skip_blank_lines(buf, start) else {
        return Ok(None);
    };
    let complete = match scan::complete_record_end(buf, first, d) {
        Some(end) => end,
        None if eof => buf.len(),
        None => return Ok(None),
    };
    let Some((fields, _)) = record_fields(&buf[..complete], first, d) else {
        return Err(DataError::new(
            Location::file(name).with_row(1),
            "the first line opens a quoted field that is never closed",
        ));
    };
    if !opts.csv.has_header {
        let names = (1..=fields.len()).map(|i| format!("column_{i}")).collect();
        return Ok(Some((start, names)));
    }
    let mut names: Vec<String> = Vec::with_capacity(fields.len());
    for (i, (s, e)) in fields.into_iter().enumerate() {
        let raw = std::str::from_utf8(&buf[s..e]).map_err(|_| {
            DataError::new(
                Location::file(name).with_byte_offset(s as u64),
                format!(
                    "the header's field {} is not valid UTF-8; CSV files must be UTF-8 text",
                    i + 1
                ),
            )
        })?;
        let text = if raw.as_bytes().first() == Some(&d.quote) {
            parse::unquote(raw, d.quote).into_owned()
        } else {
            raw.trim_ascii().to_string()
        };
        let base = if text.is_empty() {
            format!("column_{}", i + 1)
        } else {
            text
        };
        // Repeated names get a suffix, as pandas does: x, x.1, x.2.
        let mut unique = base.clone();
        let mut k = 1;
        while names.contains(&unique) {
            unique = format!("{base}.{k}");
            k += 1;
        }
        names.push(unique);
    }
    Ok(Some((complete, names)))
}

/// Appends to `buf` until it holds `want` bytes or the input ends; true at the end.
/// (Reads into the spare capacity: no zero-filling.)
fn fill_to(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize, name: &str) -> Result<bool> {
    let have = buf.len();
    if want <= have {
        return Ok(false);
    }
    buf.reserve(want - have);
    loop {
        let before = buf.len();
        match r.take((want - before) as u64).read_to_end(buf) {
            Ok(0) => return Ok(true),
            Ok(_) if buf.len() >= want => return Ok(false),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DataError::in_file(name, format!("read error: {e}"))),
        }
    }
}

/// Reads the whole file with the target's types for its columns.
pub(crate) fn read(
    p: &Probe,
    probe: &CsvProbe,
    target: &SchemaRef,
    opts: &ReadOptions,
    progress: &ProgressState,
) -> Result<(Vec<RecordBatch>, Vec<Origin>)> {
    let mut specs: Vec<ColumnSpec> = probe
        .schema
        .fields()
        .iter()
        .zip(&probe.modes)
        .map(|(f, &mode)| ColumnSpec {
            name: f.name().clone(),
            data_type: target
                .field_with_name(f.name())
                .map_or(f.data_type().clone(), |t| t.data_type().clone()),
            mode,
        })
        .collect();
    // A column can widen once (see `ReadOptions::infer_rows`); then the file is read again.
    for _pass in 0..2 {
        let out = read_pass(p, probe, &specs, opts, progress)?;
        if out.widen.iter().all(Option::is_none) {
            return Ok((out.batches, out.origins));
        }
        for (spec, w) in specs.iter_mut().zip(&out.widen) {
            if let Some(k) = w {
                spec.data_type = Kind::of_type(&spec.data_type).unify(*k).data_type();
            }
        }
        progress.restart_file();
    }
    Err(DataError::in_file(
        p.name.clone(),
        "internal error: column types kept widening while reading the file",
    ))
}

struct PassOutput {
    batches: Vec<RecordBatch>,
    origins: Vec<Origin>,
    widen: Vec<Option<Kind>>,
}

/// One pass over the file: blocks read while the previous block is parsed.
fn read_pass(
    p: &Probe,
    probe: &CsvProbe,
    specs: &[ColumnSpec],
    opts: &ReadOptions,
    progress: &ProgressState,
) -> Result<PassOutput> {
    let name = p.name.as_str();
    let d = dialect(opts);
    let nulls = Nulls::new(&opts.csv.null_tokens);
    let schema: SchemaRef = Arc::new(Schema::new(
        specs
            .iter()
            .map(|s| Field::new(&s.name, s.data_type.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let plan = Plan {
        specs,
        schema: &schema,
        dialect: d,
        nulls: &nulls,
        max_records: usize::MAX,
    };
    // 16 MiB blocks in ranges of at least 256 KiB, about four per thread.
    let block = BLOCK;
    let nranges = (threads() * 4).clamp(1, BLOCK / (256 << 10));

    let mut reader = p.input.reader(name)?;
    std::io::copy(&mut (&mut reader).take(probe.data_start), &mut std::io::sink())
        .map_err(|e| DataError::in_file(name, format!("read error: {e}")))?;
    progress.advance(probe.data_start);
    let mut buf = Vec::with_capacity(block);
    let mut spare: Vec<u8> = Vec::with_capacity(block);
    let mut eof = fill_to(&mut *reader, &mut buf, block, name)?;
    let mut offset = probe.data_start; // file offset of buf[0]
    let mut rows = 0u64;
    let mut out = PassOutput {
        batches: Vec::new(),
        origins: Vec::new(),
        widen: vec![None; specs.len()],
    };
    let file: Arc<str> = Arc::from(name);
    loop {
        let split = split_block(&buf, eof, nranges, d);
        if split.complete == 0 && !eof {
            // One record longer than the block: read more before splitting.
            let want = buf.len() + block;
            eof = fill_to(&mut *reader, &mut buf, want, name)?;
            continue;
        }
        // The next block starts with this one's incomplete last record; the
        // buffers are reused, so a block costs no allocation or page faults.
        let mut next = std::mem::take(&mut spare);
        next.clear();
        next.extend_from_slice(&buf[split.complete..]);
        let mut results: Vec<RangeOutput> = Vec::new();
        let mut next_eof = eof;
        let mut read_error = None;
        {
            let ranges = &split.ranges;
            let data = &buf;
            let results = &mut results;
            let plan = &plan;
            rayon::in_place_scope(|s| {
                s.spawn(move |_| {
                    *results = ranges.par_iter().map(|r| parse_range(&data[r.clone()], plan)).collect();
                });
                if !eof {
                    let want = block + next.len();
                    match fill_to(&mut *reader, &mut next, want, name) {
                        Ok(e) => next_eof = e,
                        Err(e) => read_error = Some(e),
                    }
                }
            });
        }
        if let Some(e) = read_error {
            return Err(e);
        }
        for (range, r) in split.ranges.iter().zip(results) {
            if let Some(e) = r.error {
                return Err(located(name, &p.input, &names, offset + range.start as u64, rows, e));
            }
            for (w, rw) in out.widen.iter_mut().zip(r.widen) {
                if let Some(k) = rw {
                    *w = Some(w.map_or(k, |x| x.unify(k)));
                }
            }
            if let Some(b) = r.batch {
                if b.num_rows() > 0 {
                    out.origins.push(Origin {
                        file: file.clone(),
                        first_row: rows + 1,
                    });
                    out.batches.push(b);
                }
            }
            rows += r.rows as u64;
        }
        progress.advance(split.complete as u64);
        offset += split.complete as u64;
        if eof {
            break;
        }
        spare = std::mem::replace(&mut buf, next);
        eof = next_eof;
    }
    Ok(out)
}

/// A range error as a [`DataError`] naming the file, row, column and line.
/// `range_offset` is the file offset of the range, `rows_before` the data rows before it.
fn located(
    name: &str,
    input: &Input,
    names: &[String],
    range_offset: u64,
    rows_before: u64,
    e: RangeError,
) -> DataError {
    let row = rows_before + e.record as u64 + 1;
    let at = range_offset + e.offset as u64;
    let mut loc = Location::file(name).with_row(row);
    if let Some(c) = e.column.and_then(|j| names.get(j)) {
        loc = loc.with_column(c.as_str());
    }
    let line = input.newlines_before(name, at).map(|n| n + 1);
    let message = match line {
        Ok(l) => format!("{} (line {l}, byte offset {at})", e.message),
        Err(_) => format!("{} (byte offset {at})", e.message),
    };
    DataError::new(loc, message)
}
