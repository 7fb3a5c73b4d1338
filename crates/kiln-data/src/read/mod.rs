//! Readers: CSV, JSON arrays, NDJSON, Parquet and Avro files into a [`Table`].
//!
//! This module owns getting rows off storage: finding the files of a source
//! (a file, a folder, a glob, or an `s3://` / `gs://` / `az://` URI with the
//! `cloud` feature), inferring or checking their schema, unifying the schemas
//! of several files, and decoding them into Arrow record batches that remember
//! their [`Origin`](crate::Origin) (file and first row), so later stages can
//! name the file and row of a problem.
//!
//! Rules every reader keeps:
//! - an error names the file and, where it can, the row (1-based data row; the
//!   CSV header is not counted), the byte offset and the column, and says what
//!   was expected;
//! - nothing is dropped silently: a row with the wrong number of fields, a
//!   value that does not fit its column's type, a JSON key outside the schema,
//!   a truncated file are all errors;
//! - every column of a table read here is nullable;
//! - a file with no data rows (0 bytes, a CSV header alone) is an error unless
//!   [`ReadOptions::allow_empty`] is set.
//!
//! Types: text formats (CSV, JSON) are inferred from the first
//! [`ReadOptions::infer_rows`] rows, and [`ReadOptions::types`] overrides them
//! per column (the text is parsed as that type). For self-describing formats
//! (Parquet, Avro) `types` must name a type the stored one converts to without
//! loss (a wider integer, integer to float, anything primitive to `Utf8`);
//! anything else is an error naming the column and both types.
//!
//! Several files of one source must agree on their columns (same names; the
//! order may differ, the first file's order is kept); their types are unified
//! where that is safe (`Int64` + `Float64` -> `Float64`, a column null in one
//! file takes the other's type), otherwise the error names both files and the
//! column. JSON files may differ in the keys they hold (a missing key is null).

mod avro;
#[cfg(feature = "cloud")]
mod cloud;
mod csv;
mod json;
mod parquet;
mod schema;
mod source;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{DataError, Result};
use crate::table::{Origin, Table};

pub use source::list_files;

/// A file format Kiln reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Delimited text (`.csv`; the delimiter is [`CsvOptions::delimiter`]).
    Csv,
    /// A JSON array of objects, or whitespace-separated objects (`.json`).
    Json,
    /// One JSON object per line (`.ndjson`, `.jsonl`).
    Ndjson,
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// An Avro object container file (`.avro`).
    Avro,
}

impl Format {
    /// Every format, in a fixed order.
    pub const ALL: [Format; 5] = [Format::Csv, Format::Json, Format::Ndjson, Format::Parquet, Format::Avro];

    /// The format a path's (or URI's) extension names, case-insensitively:
    /// `.csv`, `.json`, `.ndjson`/`.jsonl`, `.parquet`/`.pq`, `.avro`.
    pub fn from_path(path: &str) -> Option<Format> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let (_, ext) = name.rsplit_once('.')?;
        let ext = ext.to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.extensions().contains(&ext.as_str()))
    }

    /// The extensions (lowercase, without the dot) that name this format.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Csv => &["csv"],
            Format::Json => &["json"],
            Format::Ndjson => &["ndjson", "jsonl"],
            Format::Parquet => &["parquet", "pq"],
            Format::Avro => &["avro"],
        }
    }

    /// The name used in configs and messages: `csv`, `json`, `ndjson`, `parquet`, `avro`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
            Format::Avro => "avro",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = DataError;

    /// `csv`, `json`, `ndjson` (or `jsonl`), `parquet` (or `pq`), `avro`, any case.
    fn from_str(s: &str) -> Result<Format> {
        let lower = s.to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.name() == lower || f.extensions().contains(&lower.as_str()))
            .ok_or_else(|| {
                DataError::msg(format!(
                    "unknown format '{s}'; expected one of csv, json, ndjson, parquet, avro"
                ))
            })
    }
}

/// How CSV text is split into fields.
///
/// Defaults: `,` delimiter, `"` quote (a quote inside a quoted field is
/// doubled), a header row, and the null tokens `""`, `NA`, `N/A`, `n/a`,
/// `NaN`, `nan`, `null`, `NULL`, `None`, `<NA>` (roughly pandas' defaults).
/// A null token matches an unquoted field exactly (after trimming spaces);
/// a quoted field is never null, so `""` reads as an empty string.
/// Blank lines are skipped; `\r\n` line ends and a UTF-8 byte-order mark
/// are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field delimiter (`b','`; `b'\t'` for TSV, `b';'`, `b'|'`...).
    pub delimiter: u8,
    /// The quote character.
    pub quote: u8,
    /// Whether the first (non-blank) line holds the column names. Without a
    /// header the columns are named `column_1`, `column_2`, ...
    pub has_header: bool,
    /// Unquoted field texts that mean "missing".
    pub null_tokens: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            quote: b'"',
            has_header: true,
            null_tokens: ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "<NA>"]
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }
}

/// A progress callback: `(bytes done, bytes in total)` over all files of a read.
pub type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Options for every reader.
#[derive(Clone)]
pub struct ReadOptions {
    /// The format; `None` tells it from each file's extension.
    pub format: Option<Format>,
    /// CSV dialect and null tokens.
    pub csv: CsvOptions,
    /// Column types by name, overriding inference (CSV, JSON) or checked against the
    /// stored types (Parquet, Avro; see the module docs). A name that is not a column
    /// is an error.
    pub types: BTreeMap<String, DataType>,
    /// How many rows (per file) schema inference samples for CSV and JSON (default 10,000).
    /// A later value that does not fit the inferred type is an error naming its row,
    /// except that an integer column widens to `Float64` when a later value has a
    /// fraction, and a column with no values in the sample takes the type of the
    /// values that come later.
    pub infer_rows: usize,
    /// Accept files with no data rows (they add no rows) instead of failing on them.
    pub allow_empty: bool,
    /// Called as bytes are read (after each block of a few megabytes), for progress bars.
    pub progress: Option<Progress>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            csv: CsvOptions::default(),
            types: BTreeMap::new(),
            infer_rows: 10_000,
            allow_empty: false,
            progress: None,
        }
    }
}

impl fmt::Debug for ReadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadOptions")
            .field("format", &self.format)
            .field("csv", &self.csv)
            .field("types", &self.types)
            .field("infer_rows", &self.infer_rows)
            .field("allow_empty", &self.allow_empty)
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .finish()
    }
}

/// Reads one file into a table (its batches carry their [`Origin`]).
pub fn read_file(path: &str, opts: &ReadOptions) -> Result<Table> {
    read_files(&[path.to_string()], opts)
}

/// Reads every file of `source` (a file, a folder, a glob or a URI; see
/// [`list_files`]) into one table, files in sorted order.
pub fn read(source: &str, opts: &ReadOptions) -> Result<Table> {
    let files = list_files(source, opts)?;
    read_files(&files, opts)
}

/// The schema [`read`] would produce for `source`, from the files' metadata
/// (Parquet, Avro) or their first [`ReadOptions::infer_rows`] rows (CSV, JSON).
/// A CSV column with no values in the sample has type `Null`.
pub fn infer_schema(source: &str, opts: &ReadOptions) -> Result<SchemaRef> {
    check_options(opts)?;
    let files = list_files(source, opts)?;
    let probes = probe_all(&files, opts)?;
    unified(&probes)
}

fn check_options(opts: &ReadOptions) -> Result<()> {
    let c = &opts.csv;
    if c.delimiter == c.quote {
        return Err(DataError::msg("the CSV delimiter and quote character must differ"));
    }
    for (what, b) in [("delimiter", c.delimiter), ("quote character", c.quote)] {
        if b == b'\n' || b == b'\r' || !b.is_ascii() {
            return Err(DataError::msg(format!(
                "the CSV {what} must be an ASCII character other than a line break, not {:?}",
                b as char
            )));
        }
    }
    if opts.infer_rows == 0 {
        return Err(DataError::msg("infer_rows must be at least 1"));
    }
    Ok(())
}

/// Reads the given files (already listed) into one table.
fn read_files(files: &[String], opts: &ReadOptions) -> Result<Table> {
    check_options(opts)?;
    let probes = probe_all(files, opts)?;
    read_probes(&probes, opts)
}

/// Reads probed files into one table.
fn read_probes(probes: &[Probe], opts: &ReadOptions) -> Result<Table> {
    let total: u64 = probes.iter().map(|p| p.size).sum();
    let progress = ProgressState::new(opts.progress.clone(), total);
    let mut target = unified(probes)?;
    let mut parts: Vec<(Vec<RecordBatch>, Vec<Origin>)> = Vec::with_capacity(probes.len());
    for p in probes {
        let (batches, origins) = read_probed(p, &target, opts, &progress)?;
        // A CSV or JSON column can widen while it is read (see `ReadOptions::infer_rows`):
        // fold the file's actual schema back into the target. (Parquet and Avro
        // batches keep their stored types; `conform` casts them to the target.)
        let text = matches!(p.format, Format::Csv | Format::Json | Format::Ndjson);
        if let Some(b) = batches.first().filter(|_| text) {
            if b.schema().fields() != target.fields() {
                target = schema::unify(
                    &[("the files read so far", &target), (p.name.as_str(), &b.schema())],
                    false,
                )?;
            }
        }
        progress.finish_file(p.size);
        parts.push((batches, origins));
    }
    let mut all_batches = Vec::new();
    let mut all_origins = Vec::new();
    for ((batches, origins), p) in parts.into_iter().zip(probes) {
        for b in batches {
            all_batches.push(schema::conform(&b, &target, &p.name)?);
        }
        all_origins.extend(origins);
    }
    Table::with_origins(target, all_batches, all_origins)
}

/// What reading a file needs to know before it starts: its format, size and schema.
pub(crate) struct Probe {
    pub name: String,
    pub input: source::Input,
    pub format: Format,
    pub size: u64,
    /// The file's own schema (overrides applied), its columns in file order.
    pub schema: SchemaRef,
    /// Format-specific state found while probing.
    pub detail: ProbeDetail,
}

pub(crate) enum ProbeDetail {
    Csv(csv::CsvProbe),
    Json(json::JsonProbe),
    Parquet(parquet::ParquetProbe),
    Avro,
    /// A file with no data rows, accepted because of `allow_empty`.
    Empty,
}

fn probe_all(files: &[String], opts: &ReadOptions) -> Result<Vec<Probe>> {
    if files.is_empty() {
        return Err(DataError::msg("no files to read"));
    }
    let mut probes = Vec::with_capacity(files.len());
    for f in files {
        probes.push(probe(f, opts)?);
    }
    check_override_names(&probes, opts)?;
    Ok(probes)
}

/// Every name in `types` must be a column of some file.
fn check_override_names(probes: &[Probe], opts: &ReadOptions) -> Result<()> {
    for name in opts.types.keys() {
        if !probes.iter().any(|p| p.schema.index_of(name).is_ok()) {
            let p = &probes[0];
            let cols: Vec<&str> = p.schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(DataError::in_file(
                p.name.clone(),
                format!(
                    "the types option names column '{name}', which is not in the data; the columns are: {}",
                    cols.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn probe(file: &str, opts: &ReadOptions) -> Result<Probe> {
    let format = match opts.format {
        Some(f) => f,
        None => Format::from_path(file).ok_or_else(|| {
            DataError::in_file(
                file,
                "cannot tell the format from the file name; set the format (csv, json, ndjson, parquet, avro)",
            )
        })?,
    };
    let input = source::Input::open(file)?;
    probe_input(file, input, format, opts)
}

/// Probes an opened input (a local file or fetched bytes).
fn probe_input(file: &str, input: source::Input, format: Format, opts: &ReadOptions) -> Result<Probe> {
    let size = input.size();
    let name = file.to_string();
    if size == 0 {
        if opts.allow_empty && matches!(format, Format::Csv | Format::Json | Format::Ndjson) {
            return Ok(Probe {
                name,
                input,
                format,
                size,
                schema: Arc::new(arrow::datatypes::Schema::empty()),
                detail: ProbeDetail::Empty,
            });
        }
        return Err(DataError::in_file(
            file,
            format!("the file is empty (0 bytes), expected {format} data"),
        ));
    }
    let (schema, detail) = match format {
        Format::Csv => {
            let p = csv::probe(&name, &input, opts)?;
            (p.schema.clone(), ProbeDetail::Csv(p))
        }
        Format::Json | Format::Ndjson => {
            let p = json::probe(&name, &input, opts)?;
            (p.schema.clone(), ProbeDetail::Json(p))
        }
        Format::Parquet => {
            let p = parquet::probe(&name, &input, opts)?;
            (p.schema.clone(), ProbeDetail::Parquet(p))
        }
        Format::Avro => (avro::probe(&name, &input, opts)?, ProbeDetail::Avro),
    };
    let detail = match detail {
        ProbeDetail::Csv(p) if p.no_rows => {
            if !opts.allow_empty {
                return Err(DataError::in_file(file, "the CSV file has a header but no data rows"));
            }
            ProbeDetail::Csv(p)
        }
        d => d,
    };
    Ok(Probe {
        name,
        input,
        format,
        size,
        schema,
        detail,
    })
}

/// The schema all probed files unify to.
fn unified(probes: &[Probe]) -> Result<SchemaRef> {
    let allow_missing = probes.iter().all(|p| matches!(p.format, Format::Json | Format::Ndjson));
    let named: Vec<(&str, &SchemaRef)> = probes
        .iter()
        .filter(|p| !matches!(p.detail, ProbeDetail::Empty))
        .map(|p| (p.name.as_str(), &p.schema))
        .collect();
    if named.is_empty() {
        return Ok(Arc::new(arrow::datatypes::Schema::empty()));
    }
    schema::unify(&named, allow_missing)
}

/// Reads one probed file; its batches have the file's own column order with the
/// target's types (CSV, JSON) or the stored types (Parquet, Avro); `conform` maps
/// them onto the target afterwards.
fn read_probed(
    p: &Probe,
    target: &SchemaRef,
    opts: &ReadOptions,
    progress: &ProgressState,
) -> Result<(Vec<RecordBatch>, Vec<Origin>)> {
    let (batches, origins) = match &p.detail {
        ProbeDetail::Empty => (Vec::new(), Vec::new()),
        ProbeDetail::Csv(c) => csv::read(p, c, target, opts, progress)?,
        ProbeDetail::Json(j) => json::read(p, j, target, opts, progress)?,
        ProbeDetail::Parquet(q) => parquet::read(p, q, progress)?,
        ProbeDetail::Avro => avro::read(p, opts, progress)?,
    };
    if batches.iter().all(|b| b.num_rows() == 0) && !opts.allow_empty {
        return Err(DataError::in_file(
            p.name.clone(),
            format!("the {} file has no data rows", p.format),
        ));
    }
    Ok((batches, origins))
}

/// Progress over all files of one read.
pub(crate) struct ProgressState {
    callback: Option<Progress>,
    total: u64,
    /// Bytes of the files finished so far.
    files_done: AtomicU64,
    /// Bytes of the current file done.
    in_file: AtomicU64,
}

impl ProgressState {
    fn new(callback: Option<Progress>, total: u64) -> ProgressState {
        ProgressState {
            callback,
            total,
            files_done: AtomicU64::new(0),
            in_file: AtomicU64::new(0),
        }
    }

    /// Reports that `bytes` more of the current file are done.
    pub(crate) fn advance(&self, bytes: u64) {
        let in_file = self.in_file.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(cb) = &self.callback {
            let done = self.files_done.load(Ordering::Relaxed) + in_file;
            cb(done.min(self.total), self.total);
        }
    }

    /// The current file is read again from its start.
    pub(crate) fn restart_file(&self) {
        self.in_file.store(0, Ordering::Relaxed);
    }

    fn finish_file(&self, size: u64) {
        self.in_file.store(0, Ordering::Relaxed);
        let done = self.files_done.fetch_add(size, Ordering::Relaxed) + size;
        if let Some(cb) = &self.callback {
            cb(done.min(self.total), self.total);
        }
    }
}

/// The number of worker threads readers split work over.
pub(crate) fn threads() -> usize {
    rayon::current_num_threads().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes fetched from an object store read like a local file.
    #[test]
    fn inputs_in_memory_read_like_files() {
        let opts = ReadOptions::default();
        let csv = source::Input::Memory(bytes::Bytes::from_static(b"a,b\n1,x\n2,y\n"));
        let p = probe_input("s3://b/k.csv", csv, Format::Csv, &opts).unwrap();
        let t = read_probes(&[p], &opts).unwrap();
        assert_eq!(t.num_rows(), 2);
        assert_eq!(t.locate(1), Some(("s3://b/k.csv", 2)));

        let schema = Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            "v",
            DataType::Float64,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(arrow::array::Float64Array::from(vec![1.0, 2.0, 3.0]))],
        )
        .unwrap();
        let mut buf = Vec::new();
        let mut w = ::parquet::arrow::ArrowWriter::try_new(&mut buf, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let pq = source::Input::Memory(bytes::Bytes::from(buf.clone()));
        let p = probe_input("gs://b/k.parquet", pq, Format::Parquet, &opts).unwrap();
        assert_eq!(read_probes(&[p], &opts).unwrap().num_rows(), 3);
        let cut = source::Input::Memory(bytes::Bytes::from(buf[..buf.len() - 4].to_vec()));
        let e = probe_input("gs://b/k.parquet", cut, Format::Parquet, &opts)
            .err()
            .unwrap();
        assert!(e.message.contains("truncated"), "{e}");
    }
}
