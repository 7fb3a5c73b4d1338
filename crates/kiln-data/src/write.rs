//! Writing tables to files: Parquet or CSV, whole or not at all.
//!
//! Used for quarantine side files, split outputs and incremental-load parts.
//! Every write goes to a temporary file in the target folder, is flushed and
//! fsynced, then renamed over the target, so a reader never sees half a file
//! and a crash leaves at most a stray `.tmp` file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::error::{DataError, Result};
use crate::table::Table;

/// The file formats tables can be written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Parquet,
    Csv,
}

impl OutputFormat {
    /// The format a path's extension names (`.parquet`/`.pq` or `.csv`).
    pub fn from_path(path: &Path) -> Result<OutputFormat> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "parquet" | "pq" => Ok(OutputFormat::Parquet),
            "csv" => Ok(OutputFormat::Csv),
            _ => Err(DataError::in_file(
                path.display().to_string(),
                "cannot tell the output format from the extension; use .parquet or .csv",
            )),
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Parquet => "parquet",
            OutputFormat::Csv => "csv",
        }
    }

    /// Parses `parquet` or `csv`.
    pub fn parse(s: &str) -> Result<OutputFormat> {
        match s.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Ok(OutputFormat::Parquet),
            "csv" => Ok(OutputFormat::Csv),
            other => Err(DataError::msg(format!(
                "unknown output format '{other}'; expected parquet or csv"
            ))),
        }
    }
}

/// Writes `table` to `path` in the format its extension names, atomically.
pub fn write_table(table: &Table, path: &Path) -> Result<()> {
    write_table_as(table, path, OutputFormat::from_path(path)?)
}

/// Writes `table` to `path` as `format`, atomically (temp file, fsync, rename).
pub fn write_table_as(table: &Table, path: &Path, format: OutputFormat) -> Result<()> {
    let shown = path.display().to_string();
    let tmp = temp_path(path);
    let result = write_to(table, &tmp, format).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| DataError::in_file(&shown, format!("renaming the written file: {e}")))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    sync_parent(path)
}

/// Writes to `path` (not atomically) and fsyncs it.
pub(crate) fn write_to(table: &Table, path: &Path, format: OutputFormat) -> Result<()> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| DataError::in_file(&shown, format!("writing: {e}"));
    let file = File::create(path).map_err(io)?;
    let file = match format {
        OutputFormat::Parquet => {
            let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
            let mut w = ArrowWriter::try_new(file, table.schema().clone(), Some(props))
                .map_err(|e| DataError::in_file(&shown, format!("writing Parquet: {e}")))?;
            for b in table.batches() {
                w.write(b)
                    .map_err(|e| DataError::in_file(&shown, format!("writing Parquet: {e}")))?;
            }
            w.into_inner()
                .map_err(|e| DataError::in_file(&shown, format!("writing Parquet: {e}")))?
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(BufWriter::new(file));
            if table.batches().is_empty() {
                // Still write the header so the columns are known.
                w.write(&arrow::record_batch::RecordBatch::new_empty(table.schema().clone()))
                    .map_err(|e| DataError::in_file(&shown, format!("writing CSV: {e}")))?;
            }
            for b in table.batches() {
                w.write(b)
                    .map_err(|e| DataError::in_file(&shown, format!("writing CSV: {e}")))?;
            }
            let mut buf = w.into_inner();
            buf.flush().map_err(io)?;
            buf.into_inner()
                .map_err(|e| DataError::in_file(&shown, format!("writing: {}", e.error())))?
        }
    };
    file.sync_all().map_err(io)
}

/// `dir/.name.tmp-<pid>` beside `path`.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = format!(".{name}.tmp-{}", std::process::id());
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(tmp),
        _ => PathBuf::from(tmp),
    }
}

/// Fsyncs the folder holding `path`, so a rename into it survives a crash.
pub(crate) fn sync_parent(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    sync_dir(&parent)
}

/// Fsyncs a folder (a no-op where folders cannot be opened, e.g. Windows).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let f = File::open(dir).map_err(|e| {
            DataError::in_file(dir.display().to_string(), format!("opening the folder to sync it: {e}"))
        })?;
        f.sync_all()
            .map_err(|e| DataError::in_file(dir.display().to_string(), format!("syncing the folder: {e}")))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync folder).
pub(crate) fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| DataError::in_file(&shown, format!("writing: {e}"));
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    sync_parent(path)
}

/// Reads a Parquet file written by [`write_table`] back into a table (whole file).
pub fn read_parquet(path: &Path) -> Result<Table> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|e| DataError::in_file(&shown, format!("opening: {e}")))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| DataError::in_file(&shown, format!("reading Parquet: {e}")))?;
    let schema = builder.schema().clone();
    let reader = builder
        .build()
        .map_err(|e| DataError::in_file(&shown, format!("reading Parquet: {e}")))?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| DataError::in_file(&shown, format!("reading Parquet: {e}")))?;
    Table::new(schema, batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;

    fn table() -> Table {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
                Arc::new(StringArray::from(vec!["x", "y, z", "w"])),
            ],
        )
        .unwrap();
        Table::new(schema, vec![b]).unwrap()
    }

    #[test]
    fn parquet_round_trips_and_csv_is_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let t = table();
        let p = dir.path().join("t.parquet");
        write_table(&t, &p).unwrap();
        let back = read_parquet(&p).unwrap();
        assert_eq!(back.concat().unwrap(), t.concat().unwrap());
        let c = dir.path().join("t.csv");
        write_table(&t, &c).unwrap();
        let text = std::fs::read_to_string(&c).unwrap();
        assert_eq!(text, "a,s\n1,x\n,\"y, z\"\n3,w\n");
        // No temp files are left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let e = write_table(&t, &dir.path().join("t.xlsx")).unwrap_err();
        assert!(
            e.to_string().contains("t.xlsx") && e.message.contains(".parquet or .csv"),
            "{e}"
        );
        let e = write_table(&t, &dir.path().join("no/such/dir/t.csv")).unwrap_err();
        assert!(e.to_string().contains("t.csv"), "{e}");
    }

    #[test]
    fn empty_tables_keep_their_header() {
        let dir = tempfile::tempdir().unwrap();
        let t = Table::empty(table().schema().clone());
        let c = dir.path().join("e.csv");
        write_table(&t, &c).unwrap();
        assert_eq!(std::fs::read_to_string(&c).unwrap(), "a,s\n");
        let p = dir.path().join("e.parquet");
        write_table(&t, &p).unwrap();
        let back = read_parquet(&p).unwrap();
        assert_eq!(back.num_rows(), 0);
        assert_eq!(back.column_names(), vec!["a", "s"]);
    }
}
