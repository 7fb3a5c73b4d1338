//! Incremental loads: read only what is new in a source since the last load.
//!
//! A dataset is a folder of Parquet part files plus `_kiln_state.json`, the
//! state that says which parts hold the data and where the watermark stands:
//!
//! ```text
//! dataset/
//!   _kiln_state.json         # committed state (the only source of truth)
//!   part-000001.parquet      # rows of the first load
//!   part-000002.parquet      # rows of the second load
//! ```
//!
//! Two watermarks:
//! - [`Watermark::Files`]: the set of files already loaded. A load reads the
//!   files of the source that are not in the set. A loaded file whose size has
//!   changed is an error (its new rows would otherwise be lost or doubled);
//!   use a column watermark for files that grow.
//! - [`Watermark::Column`]: a monotonic column (an integer, float, date,
//!   timestamp or text). A load reads the source and keeps the rows whose value
//!   is above the highest value loaded so far. The column must grow strictly
//!   across loads: a row that arrives later with a value at or below the
//!   watermark is not loaded (it is counted in [`LoadOutcome::skipped_rows`]).
//!   A null (or NaN) in the column is an error naming the file and row.
//!
//! # Crash safety
//!
//! One load writes in this order, each step atomic and fsynced:
//! 1. the new rows to a temporary file, then renamed to `part-NNNNNN.parquet`;
//! 2. the new state to a temporary file, then renamed over `_kiln_state.json`
//!    (the commit point).
//!
//! Every load (and [`Dataset::open`]) starts by removing what a crashed load
//! may have left: temporary files, and part files the committed state does not
//! name. So a crash before the commit leaves the old state and no extra rows
//! (the next load reads the same new data again), and a crash after it leaves
//! the new state: no row is read twice and none is lost. [`LoadOptions::crash_at`]
//! stops a load at each step, as a crash would, for tests. An advisory lock on
//! `_kiln_lock` keeps two loads from writing one dataset at once (the operating
//! system releases it when a process dies).
//!
//! After the first load the dataset's column types are pinned: later files are
//! read with those types (a value that does not fit is an error naming its
//! file, row and column), so every part has the same schema.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::read::{self, ReadOptions};
use crate::table::Table;
use crate::values::{for_each_float, for_each_int, value_text};
use crate::write::{self, OutputFormat};

/// The state file's name in a dataset folder.
pub const STATE_FILE: &str = "_kiln_state.json";
const LOCK_FILE: &str = "_kiln_lock";
const STATE_VERSION: u32 = 1;

/// What tells new data from old.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Watermark {
    /// The set of files already loaded.
    Files,
    /// A column whose values only grow.
    Column { column: String },
}

/// A watermark value: the highest value of the column loaded so far
/// (dates and timestamps as their raw Arrow value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    Int(i64),
    Float(f64),
    Text(String),
}

/// A loaded file, as it was when loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedFile {
    pub size: u64,
    /// The part its rows went to.
    pub part: Option<String>,
}

/// One part file of the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub name: String,
    pub rows: u64,
    /// The source files its rows came from.
    pub files: Vec<String>,
}

/// The committed state of a dataset (`_kiln_state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub source: String,
    pub watermark: Watermark,
    /// Column mode: the highest value loaded, and the same as text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<Mark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_text: Option<String>,
    pub parts: Vec<Part>,
    /// Files mode: every file loaded, by name as the source lists it.
    #[serde(default)]
    pub files: BTreeMap<String, LoadedFile>,
    pub next_part: u64,
}

impl State {
    fn new(source: &str, watermark: &Watermark) -> State {
        State {
            version: STATE_VERSION,
            source: source.to_string(),
            watermark: watermark.clone(),
            mark: None,
            mark_text: None,
            parts: Vec::new(),
            files: BTreeMap::new(),
            next_part: 1,
        }
    }

    /// Rows over all parts.
    pub fn rows(&self) -> u64 {
        self.parts.iter().map(|p| p.rows).sum()
    }
}

/// A point where a test can make a load stop as if the process had crashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// The new part is written under its temporary name.
    PartWritten,
    /// The new part has its final name; the state does not name it yet.
    PartRenamed,
    /// The new state is written under its temporary name.
    StateWritten,
    /// The new state is committed; the load has not returned.
    Committed,
}

/// Options for [`Dataset::load`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// How the source files are read. After the first load, the dataset's
    /// column types are added to `read.types` (those given here win).
    pub read: ReadOptions,
    /// Stop at this point with an error, leaving the files as a crash would.
    pub crash_at: Option<CrashPoint>,
}

/// What one load did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadOutcome {
    /// The part written, if there were new rows.
    pub part: Option<String>,
    /// New rows loaded.
    pub rows: u64,
    /// The files read (files mode: the new ones).
    pub files: Vec<String>,
    /// Column mode: rows at or below the watermark, not loaded.
    pub skipped_rows: u64,
    /// Column mode: the watermark after the load.
    pub watermark: Option<String>,
    /// Leftovers of a crashed load that were removed first.
    pub cleaned: Vec<String>,
}

/// A dataset folder with its state.
#[derive(Debug, Clone)]
pub struct Dataset {
    dir: PathBuf,
}

impl Dataset {
    /// Opens (creating it if needed) a dataset folder, and removes what a
    /// crashed load left there.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Dataset> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)
            .map_err(|e| DataError::in_file(shown(&dir), format!("creating the dataset folder: {e}")))?;
        let ds = Dataset { dir };
        let _lock = ds.lock()?;
        ds.recover()?;
        Ok(ds)
    }

    /// The dataset folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The committed state, or `None` before the first load.
    pub fn state(&self) -> Result<Option<State>> {
        let path = self.dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DataError::in_file(shown(&path), format!("reading: {e}"))),
        };
        let state: State = serde_json::from_str(&text)
            .map_err(|e| DataError::in_file(shown(&path), format!("not a Kiln dataset state: {e}")))?;
        if state.version > STATE_VERSION {
            return Err(DataError::in_file(
                shown(&path),
                format!("state version {} is newer than this Kiln understands", state.version),
            ));
        }
        Ok(Some(state))
    }

    /// Every committed row, part by part.
    pub fn read(&self) -> Result<Table> {
        let Some(state) = self.state()? else {
            return Err(DataError::in_file(
                shown(&self.dir),
                "the dataset has no data yet (no state file); load into it first",
            ));
        };
        let mut out: Option<Table> = None;
        for p in &state.parts {
            let t = write::read_parquet(&self.dir.join(&p.name))?;
            match &mut out {
                None => out = Some(t),
                Some(o) => o
                    .append(t)
                    .map_err(|e| DataError::in_file(shown(&self.dir.join(&p.name)), e.message))?,
            }
        }
        out.ok_or_else(|| DataError::in_file(shown(&self.dir), "the dataset has no parts yet"))
    }

    /// Removes temporary files and parts the committed state does not name;
    /// returns their names.
    pub fn recover(&self) -> Result<Vec<String>> {
        let named: BTreeSet<String> = self
            .state()?
            .map(|s| s.parts.into_iter().map(|p| p.name).collect())
            .unwrap_or_default();
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| DataError::in_file(shown(&self.dir), format!("listing: {e}")))?;
        let mut removed = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| DataError::in_file(shown(&self.dir), format!("listing: {e}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let temp = name.starts_with('.') && name.contains(".tmp-");
            let stray_part = name.starts_with("part-") && !named.contains(&name);
            if temp || stray_part {
                std::fs::remove_file(entry.path()).map_err(|e| {
                    DataError::in_file(
                        shown(&entry.path()),
                        format!("removing a leftover of a crashed load: {e}"),
                    )
                })?;
                removed.push(name);
            }
        }
        if !removed.is_empty() {
            write::sync_dir(&self.dir)?;
        }
        removed.sort();
        Ok(removed)
    }

    /// Loads what is new in `source` (see the module docs).
    pub fn load(&self, source: &str, watermark: &Watermark, opts: &LoadOptions) -> Result<LoadOutcome> {
        let _lock = self.lock()?;
        let cleaned = self.recover()?;
        let state = match self.state()? {
            Some(s) => {
                if &s.watermark != watermark {
                    return Err(DataError::in_file(
                        shown(&self.dir.join(STATE_FILE)),
                        format!(
                            "the dataset is loaded by {}, this load asks for {}",
                            describe(&s.watermark),
                            describe(watermark)
                        ),
                    ));
                }
                s
            }
            None => State::new(source, watermark),
        };
        let read_opts = self.pinned_options(&state, &opts.read)?;
        let new = match watermark {
            Watermark::Files => new_files(source, &state, &read_opts)?,
            Watermark::Column { column } => new_rows(source, column, &state, &read_opts)?,
        };
        let mut outcome = LoadOutcome {
            part: None,
            rows: new.table.as_ref().map_or(0, |t| t.num_rows() as u64),
            files: new.files.clone(),
            skipped_rows: new.skipped,
            watermark: new.mark_text.clone().or_else(|| state.mark_text.clone()),
            cleaned,
        };
        let mut next = state.clone();
        next.source = source.to_string();
        let part_name = format!("part-{:06}.parquet", state.next_part);
        let rows = outcome.rows;
        if let Some(table) = new.table.filter(|t| t.num_rows() > 0) {
            self.check_schema(&state, &table)?;
            self.write_part(&part_name, &table, opts.crash_at)?;
            next.parts.push(Part {
                name: part_name.clone(),
                rows,
                files: new.files.clone(),
            });
            next.next_part += 1;
            outcome.part = Some(part_name.clone());
        }
        for (f, size) in &new.sizes {
            next.files.insert(
                f.clone(),
                LoadedFile {
                    size: *size,
                    part: outcome.part.clone(),
                },
            );
        }
        if new.mark.is_some() {
            next.mark = new.mark;
            next.mark_text = new.mark_text;
        }
        if next == state {
            return Ok(outcome);
        }
        self.commit(&next, opts.crash_at)?;
        if opts.crash_at == Some(CrashPoint::Committed) {
            return Err(crash(CrashPoint::Committed));
        }
        Ok(outcome)
    }

    /// An exclusive advisory lock on the dataset, held while the guard lives.
    fn lock(&self) -> Result<File> {
        let path = self.dir.join(LOCK_FILE);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| DataError::in_file(shown(&path), format!("opening the lock file: {e}")))?;
        match f.try_lock() {
            Ok(()) => Ok(f),
            Err(std::fs::TryLockError::WouldBlock) => Err(DataError::in_file(
                shown(&self.dir),
                "another load is writing this dataset; wait for it to finish",
            )),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(DataError::in_file(shown(&path), format!("locking the dataset: {e}")))
            }
        }
    }

    /// The read options with the dataset's column types pinned.
    fn pinned_options(&self, state: &State, base: &ReadOptions) -> Result<ReadOptions> {
        let mut opts = base.clone();
        if let Some(first) = state.parts.first() {
            let schema = part_schema(&self.dir.join(&first.name))?;
            for f in schema.fields() {
                if *f.data_type() != DataType::Null {
                    opts.types
                        .entry(f.name().clone())
                        .or_insert_with(|| f.data_type().clone());
                }
            }
        }
        Ok(opts)
    }

    /// New rows must have the columns and types of the parts already there.
    fn check_schema(&self, state: &State, table: &Table) -> Result<()> {
        let Some(first) = state.parts.first() else {
            return Ok(());
        };
        let have = part_schema(&self.dir.join(&first.name))?;
        let describe = |s: &arrow::datatypes::Schema| {
            s.fields()
                .iter()
                .map(|f| format!("{}: {}", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let same = have.fields().len() == table.schema().fields().len()
            && have
                .fields()
                .iter()
                .zip(table.schema().fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(DataError::msg(format!(
                "the new data has columns ({}), the dataset has ({})",
                describe(table.schema()),
                describe(&have)
            )));
        }
        Ok(())
    }

    /// Step 1: the part under a temporary name, then renamed.
    fn write_part(&self, name: &str, table: &Table, crash_at: Option<CrashPoint>) -> Result<()> {
        let path = self.dir.join(name);
        let tmp = write::temp_path(&path);
        write::write_to(&normalise(table)?, &tmp, OutputFormat::Parquet)?;
        if crash_at == Some(CrashPoint::PartWritten) {
            return Err(crash(CrashPoint::PartWritten));
        }
        std::fs::rename(&tmp, &path)
            .map_err(|e| DataError::in_file(shown(&path), format!("renaming the new part: {e}")))?;
        write::sync_dir(&self.dir)?;
        if crash_at == Some(CrashPoint::PartRenamed) {
            return Err(crash(CrashPoint::PartRenamed));
        }
        Ok(())
    }

    /// Step 2: the state under a temporary name, then renamed over the old one.
    fn commit(&self, state: &State, crash_at: Option<CrashPoint>) -> Result<()> {
        let path = self.dir.join(STATE_FILE);
        let tmp = write::temp_path(&path);
        let json = serde_json::to_vec_pretty(state).map_err(|e| DataError::msg(format!("writing the state: {e}")))?;
        {
            use std::io::Write;
            let io = |e: std::io::Error| DataError::in_file(shown(&tmp), format!("writing the state: {e}"));
            let mut f = File::create(&tmp).map_err(io)?;
            f.write_all(&json).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        if crash_at == Some(CrashPoint::StateWritten) {
            return Err(crash(CrashPoint::StateWritten));
        }
        std::fs::rename(&tmp, &path)
            .map_err(|e| DataError::in_file(shown(&path), format!("committing the state: {e}")))?;
        write::sync_dir(&self.dir)
    }
}

fn crash(at: CrashPoint) -> DataError {
    DataError::msg(format!("simulated crash at {at:?}"))
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

fn describe(w: &Watermark) -> String {
    match w {
        Watermark::Files => "file (the set of files loaded)".to_string(),
        Watermark::Column { column } => format!("column '{column}'"),
    }
}

fn part_schema(path: &Path) -> Result<arrow::datatypes::SchemaRef> {
    let f = File::open(path).map_err(|e| DataError::in_file(shown(path), format!("opening a part: {e}")))?;
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| DataError::in_file(shown(path), format!("reading a part: {e}")))?;
    Ok(b.schema().clone())
}

/// The table as one schema-consistent set of batches (origins are not stored).
fn normalise(t: &Table) -> Result<Table> {
    Table::new(t.schema().clone(), t.batches().to_vec())
}

/// What a load found to be new.
struct NewData {
    table: Option<Table>,
    files: Vec<String>,
    /// Files mode: the new files and their sizes.
    sizes: Vec<(String, u64)>,
    skipped: u64,
    mark: Option<Mark>,
    mark_text: Option<String>,
}

fn file_size(name: &str) -> Result<u64> {
    std::fs::metadata(name)
        .map(|m| m.len())
        .map_err(|e| DataError::in_file(name, format!("reading the file's size: {e}")))
}

/// Files mode: the files not loaded yet, read one by one.
fn new_files(source: &str, state: &State, opts: &ReadOptions) -> Result<NewData> {
    let files = read::list_files(source, opts)?;
    let mut fresh = Vec::new();
    for f in files {
        let size = file_size(&f)?;
        match state.files.get(&f) {
            Some(done) if done.size != size => {
                return Err(DataError::in_file(
                    &f,
                    format!(
                        "this file was loaded when it had {} bytes and now has {size}; a files watermark \
                         loads new files only (use a column watermark for files that grow)",
                        done.size
                    ),
                ))
            }
            Some(_) => {}
            None => fresh.push((f, size)),
        }
    }
    let mut table: Option<Table> = None;
    let mut opts = opts.clone();
    for (f, _) in &fresh {
        let t = read::read_file(f, &opts)?;
        match &mut table {
            None => {
                // Later files of this load are read with the first one's types.
                for field in t.schema().fields() {
                    if *field.data_type() != DataType::Null {
                        opts.types
                            .entry(field.name().clone())
                            .or_insert_with(|| field.data_type().clone());
                    }
                }
                table = Some(t);
            }
            Some(all) => all.append(t).map_err(|e| {
                DataError::in_file(f, format!("its columns differ from the other new files: {}", e.message))
            })?,
        }
    }
    Ok(NewData {
        table,
        files: fresh.iter().map(|(f, _)| f.clone()).collect(),
        sizes: fresh,
        skipped: 0,
        mark: None,
        mark_text: None,
    })
}

/// Column mode: the rows of the source above the watermark.
fn new_rows(source: &str, column: &str, state: &State, opts: &ReadOptions) -> Result<NewData> {
    let files = read::list_files(source, opts)?;
    let table = read::read(source, opts)?;
    let i = table.column_index(column)?;
    let mut keep: Vec<bool> = Vec::with_capacity(table.num_rows());
    let mut best: Option<(Mark, usize)> = None;
    let mut row0 = 0usize;
    for chunk in table.column_chunks(i) {
        let chunk = chunk.as_ref();
        if let Some(r) = (0..chunk.len()).find(|&r| chunk.is_null(r)) {
            return Err(DataError::new(
                table.location(row0 + r, Some(column)),
                "null in the watermark column; an incremental load by column needs a value in every row",
            ));
        }
        let marks = marks_of(chunk, column)?;
        for (r, m) in marks.into_iter().enumerate() {
            if let Mark::Float(x) = m {
                if x.is_nan() {
                    return Err(DataError::new(
                        table.location(row0 + r, Some(column)),
                        "NaN in the watermark column; an incremental load by column needs a value in every row",
                    ));
                }
            }
            let above = state.mark.as_ref().is_none_or(|w| greater(&m, w));
            keep.push(above);
            if above && best.as_ref().is_none_or(|(b, _)| greater(&m, b)) {
                best = Some((m, row0 + r));
            }
        }
        row0 += chunk.len();
    }
    let skipped = keep.iter().filter(|k| !**k).count() as u64;
    let batch = table.concat()?;
    let kept: RecordBatch = arrow::compute::filter_record_batch(&batch, &BooleanArray::from(keep))
        .map_err(|e| DataError::msg(format!("selecting the new rows: {e}")))?;
    let new = Table::new(table.schema().clone(), vec![kept])?;
    let (mark, mark_text) = match best {
        Some((m, row)) => {
            let col = table.column_at(i)?;
            (Some(m), Some(value_text(col.as_ref(), row)))
        }
        None => (None, None),
    };
    Ok(NewData {
        table: Some(new),
        files,
        sizes: Vec::new(),
        skipped,
        mark,
        mark_text,
    })
}

/// Is `a` above `b`? (Marks of different kinds never compare above.)
fn greater(a: &Mark, b: &Mark) -> bool {
    match (a, b) {
        (Mark::Int(x), Mark::Int(y)) => x > y,
        (Mark::Float(x), Mark::Float(y)) => x > y,
        (Mark::Int(x), Mark::Float(y)) => (*x as f64) > *y,
        (Mark::Float(x), Mark::Int(y)) => *x > (*y as f64),
        (Mark::Text(x), Mark::Text(y)) => x > y,
        _ => false,
    }
}

/// The column's values as marks (no nulls; checked by the caller).
fn marks_of(a: &dyn Array, column: &str) -> Result<Vec<Mark>> {
    let dt = a.data_type();
    let mut out = Vec::with_capacity(a.len());
    if dt.is_integer() || matches!(dt, DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)) {
        let mut overflow = false;
        for_each_int(a, |_, v| match i64::try_from(v) {
            Ok(v) => out.push(Mark::Int(v)),
            Err(_) => {
                overflow = true;
                out.push(Mark::Float(v as f64));
            }
        })?;
        if overflow {
            return Err(DataError::msg(format!(
                "column '{column}' holds integers beyond the 64-bit range; it cannot be a watermark"
            )));
        }
    } else if dt.is_floating() {
        for_each_float(a, |_, v| out.push(Mark::Float(v)))?;
    } else if matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
        let text = arrow::compute::cast(a, &DataType::Utf8).map_err(|e| DataError::msg(e.to_string()))?;
        out.extend(
            text.as_string::<i32>()
                .iter()
                .map(|s| Mark::Text(s.unwrap_or("").to_string())),
        );
    } else {
        return Err(DataError::msg(format!(
            "column '{column}' has type {dt}; a watermark column must be an integer, float, date, timestamp or text"
        )));
    }
    Ok(out)
}
