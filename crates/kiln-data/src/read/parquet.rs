//! Parquet: the footer once, then row groups and column groups decoded in
//! parallel, one record batch per row group.

use std::fs::File;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

use super::schema::apply_stored_overrides;
use super::source::Input;
use super::{threads, Probe, ProgressState, ReadOptions};
use crate::error::{DataError, Location, Result};
use crate::table::Origin;

/// What probing a Parquet file found.
#[derive(Clone)]
pub(crate) struct ParquetProbe {
    /// The schema with overrides applied (what the file reads as).
    pub schema: SchemaRef,
    /// The stored Arrow schema, every field made nullable.
    stored: SchemaRef,
    metadata: ArrowReaderMetadata,
}

/// Either kind of input, as something the Parquet reader can read from.
#[derive(Clone)]
enum Source {
    File(Arc<std::path::PathBuf>),
    Bytes(Bytes),
}

fn source(input: &Input) -> Source {
    match input {
        Input::Path { path, .. } => Source::File(Arc::new(path.clone())),
        Input::Memory(b) => Source::Bytes(b.clone()),
    }
}

fn open_file(path: &std::path::Path, name: &str) -> Result<File> {
    File::open(path).map_err(|e| DataError::in_file(name, format!("cannot open: {e}")))
}

/// Reads the footer and checks the requested types against the stored ones.
pub(crate) fn probe(name: &str, input: &Input, opts: &ReadOptions) -> Result<ParquetProbe> {
    let size = input.size();
    let mut magic = [0u8; 4];
    let got = super::source::read_full(&mut *input.reader(name)?, &mut magic, name)?;
    if got < 4 || &magic != b"PAR1" {
        return Err(DataError::new(
            Location::file(name).with_byte_offset(0),
            "not a Parquet file: it does not start with the magic bytes PAR1",
        ));
    }
    let options = ArrowReaderOptions::new();
    let loaded = match source(input) {
        Source::File(path) => ArrowReaderMetadata::load(&open_file(&path, name)?, options),
        Source::Bytes(b) => ArrowReaderMetadata::load(&b, options),
    };
    let metadata = loaded.map_err(|e| {
        DataError::new(
            Location::file(name).with_byte_offset(size),
            format!(
                "the Parquet footer at the end of the file ({size} bytes) is missing or damaged -- was the file \
                 truncated or not completely written? ({e})"
            ),
        )
    })?;
    let arrow_schema = metadata.schema();
    let stored = Arc::new(Schema::new(
        arrow_schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), f.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let schema = apply_stored_overrides(name, &stored, &opts.types, "Parquet")?;
    Ok(ParquetProbe {
        schema,
        stored,
        metadata,
    })
}

/// One unit of parallel work: some top-level columns of one row group.
struct Task {
    row_group: usize,
    roots: std::ops::Range<usize>,
    bytes: u64,
    /// The file byte range holding the task's column chunks.
    span: Option<(u64, u64)>,
}

/// A local file whose bytes for one task's column chunks were read in one go:
/// pages inside them are served as slices (no copy, no per-page read), anything
/// else (the footer, for instance) from the file.
struct Prefetched {
    file: File,
    len: u64,
    start: u64,
    data: Bytes,
}

impl Prefetched {
    fn open(path: &std::path::Path, name: &str, span: Option<(u64, u64)>) -> Result<Prefetched> {
        let mut file = open_file(path, name)?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let (start, data) = match span {
            Some((a, b)) if b <= len && b - a <= (1 << 30) => {
                use std::io::{Read, Seek, SeekFrom};
                let mut buf = Vec::with_capacity((b - a) as usize);
                file.seek(SeekFrom::Start(a))
                    .and_then(|_| (&mut file).take(b - a).read_to_end(&mut buf))
                    .map_err(|e| DataError::in_file(name, format!("read error: {e}")))?;
                (a, Bytes::from(buf))
            }
            _ => (0, Bytes::new()),
        };
        Ok(Prefetched { file, len, start, data })
    }

    /// The prefetched slice `[start, start + len)`, when it is all there.
    fn slice(&self, start: u64, len: u64) -> Option<Bytes> {
        let from = start.checked_sub(self.start)?;
        let to = from.checked_add(len)?;
        (to <= self.data.len() as u64).then(|| self.data.slice(from as usize..to as usize))
    }
}

impl parquet::file::reader::Length for Prefetched {
    fn len(&self) -> u64 {
        self.len
    }
}

impl parquet::file::reader::ChunkReader for Prefetched {
    type T = Box<dyn std::io::Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let rest = self.len.saturating_sub(start);
        match self.slice(
            start,
            (self.start + self.data.len() as u64).saturating_sub(start).min(rest),
        ) {
            Some(b) if !b.is_empty() => Ok(Box::new(bytes::Buf::reader(b))),
            _ => Ok(Box::new(self.file.get_read(start)?)),
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self.slice(start, length as u64) {
            Some(b) => Ok(b),
            None => self.file.get_bytes(start, length),
        }
    }
}

/// Decodes every row group; batches have the stored types (nullable fields).
pub(crate) fn read(p: &Probe, q: &ParquetProbe, progress: &ProgressState) -> Result<(Vec<RecordBatch>, Vec<Origin>)> {
    let name = p.name.as_str();
    let meta = q.metadata.metadata();
    let descr = q.metadata.parquet_schema();
    let nroots = q.stored.fields().len();
    let groups = meta.row_groups();
    if nroots == 0 || groups.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    // Bytes per (row group, root), for progress.
    let root_of_leaf: Vec<usize> = (0..descr.num_columns()).map(|l| descr.get_column_root_idx(l)).collect();
    // About four tasks per thread: column groups within row groups (one column
    // per task when there are few row groups).
    let per_group = (threads() * 4).div_ceil(groups.len()).clamp(1, nroots);
    let mut tasks = Vec::new();
    for (g, rg) in groups.iter().enumerate() {
        let step = nroots.div_ceil(per_group.max(nroots.min(64)));
        let mut start = 0;
        while start < nroots {
            let end = (start + step).min(nroots);
            let chunks: Vec<(u64, u64)> = rg
                .columns()
                .iter()
                .enumerate()
                .filter(|(l, _)| (start..end).contains(&root_of_leaf[*l]))
                .map(|(_, c)| {
                    let (from, len) = c.byte_range();
                    (from, from + len)
                })
                .collect();
            let span = match (chunks.iter().map(|c| c.0).min(), chunks.iter().map(|c| c.1).max()) {
                (Some(a), Some(b)) if b > a => Some((a, b)),
                _ => None,
            };
            let bytes = chunks.iter().map(|(a, b)| b - a).sum();
            tasks.push(Task {
                row_group: g,
                roots: start..end,
                bytes,
                span,
            });
            start = end;
        }
    }
    let src = source(&p.input);
    let results: Vec<Result<Vec<ArrayRef>>> = tasks
        .par_iter()
        .map(|t| {
            let r = read_task(name, &src, q, t);
            progress.advance(t.bytes);
            r
        })
        .collect();
    let mut batches = Vec::with_capacity(groups.len());
    let mut origins = Vec::with_capacity(groups.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(nroots);
    let mut rows = 0u64;
    let file: Arc<str> = Arc::from(name);
    for (t, r) in tasks.iter().zip(results) {
        columns.extend(r?);
        if t.roots.end == nroots {
            let n = groups[t.row_group].num_rows().max(0) as usize;
            let b = RecordBatch::try_new(q.stored.clone(), std::mem::take(&mut columns)).map_err(|e| {
                DataError::new(
                    Location::file(name).with_row(rows + 1),
                    format!("assembling row group {}: {e}", t.row_group),
                )
            })?;
            if b.num_rows() != n {
                return Err(DataError::new(
                    Location::file(name).with_row(rows + 1),
                    format!(
                        "row group {} should hold {n} rows but {} were decoded; the file is damaged",
                        t.row_group,
                        b.num_rows()
                    ),
                ));
            }
            origins.push(Origin {
                file: file.clone(),
                first_row: rows + 1,
            });
            rows += n as u64;
            batches.push(b);
        }
    }
    Ok((batches, origins))
}

/// Decodes the task's columns of its row group into one array per column.
fn read_task(name: &str, src: &Source, q: &ParquetProbe, t: &Task) -> Result<Vec<ArrayRef>> {
    let meta = q.metadata.metadata();
    let rg = &meta.row_groups()[t.row_group];
    let first_row: i64 = meta.row_groups()[..t.row_group].iter().map(|g| g.num_rows()).sum();
    let where_ = || {
        let mut loc = Location::file(name).with_row(first_row.max(0) as u64 + 1);
        if t.roots.len() == 1 {
            loc = loc.with_column(q.stored.field(t.roots.start).name().as_str());
        }
        loc
    };
    let fail = |e: String| {
        DataError::new(
            where_(),
            format!(
                "reading row group {} (rows {}-{}): {e}",
                t.row_group,
                first_row + 1,
                first_row + rg.num_rows()
            ),
        )
    };
    let mask = ProjectionMask::roots(q.metadata.parquet_schema(), t.roots.clone());
    let batch_size = (rg.num_rows().max(1) as usize).min(1 << 24);
    let batches: Vec<RecordBatch> = match src {
        Source::File(path) => {
            let f = Prefetched::open(path, name, t.span)?;
            collect(
                ParquetRecordBatchReaderBuilder::new_with_metadata(f, q.metadata.clone())
                    .with_row_groups(vec![t.row_group])
                    .with_projection(mask)
                    .with_batch_size(batch_size)
                    .build(),
            )
        }
        Source::Bytes(b) => collect(
            ParquetRecordBatchReaderBuilder::new_with_metadata(b.clone(), q.metadata.clone())
                .with_row_groups(vec![t.row_group])
                .with_projection(mask)
                .with_batch_size(batch_size)
                .build(),
        ),
    }
    .map_err(fail)?;
    let ncols = t.roots.len();
    match batches.len() {
        0 => Ok((0..ncols)
            .map(|i| arrow::array::new_empty_array(q.stored.field(t.roots.start + i).data_type()))
            .collect()),
        1 => Ok(batches[0].columns().to_vec()),
        _ => (0..ncols)
            .map(|i| {
                let parts: Vec<&dyn arrow::array::Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
                arrow::compute::concat(&parts).map_err(|e| fail(e.to_string()))
            })
            .collect(),
    }
}

fn collect(
    reader: parquet::errors::Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader>,
) -> std::result::Result<Vec<RecordBatch>, String> {
    let reader = reader.map_err(|e| e.to_string())?;
    reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}
