//! Sources: listing the files of a file, folder, glob or URI, and opening them.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{Format, ReadOptions};
use crate::error::{DataError, Result};

/// The files of `source`, sorted:
/// - a file: itself;
/// - a folder: every file of the format (`opts.format`, else any format Kiln
///   reads, which must then be one format) in it and its subfolders, skipping
///   names that start with `.` or `_` (`_SUCCESS`, `.crc` files);
/// - a glob (`data/*.csv`, `logs/**/*.parquet`): the files it matches;
/// - `file://...`: as a local path; `s3://`, `gs://`, `az://` (also
///   `abfs://`, `adl://`, `azure://`): a single object, a "folder" prefix (ending
///   in `/`) or a glob, through `object_store` (cargo feature `cloud`; credentials
///   from the usual `AWS_*`, `GOOGLE_*`, `AZURE_*` variables).
///
/// A missing file, a folder with no matching files and a glob matching
/// nothing are errors that name the source.
pub fn list_files(source: &str, opts: &ReadOptions) -> Result<Vec<String>> {
    if source.trim().is_empty() {
        return Err(DataError::msg(
            "the data source is empty; give a file, folder, glob or URI",
        ));
    }
    let local = match source.strip_prefix("file://") {
        Some(rest) => rest,
        None if is_remote(source) => return list_remote(source, opts),
        None => source,
    };
    if has_glob(local) {
        return list_glob(local, opts);
    }
    let path = Path::new(local);
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => list_folder(local, opts),
        Ok(_) => Ok(vec![local.to_string()]),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DataError::in_file(local, "no such file or folder")),
        Err(e) => Err(DataError::in_file(local, format!("cannot read: {e}"))),
    }
}

/// Whether `source` is a URI for an object store (anything `scheme://` but `file://`).
pub(crate) fn is_remote(source: &str) -> bool {
    match source.split_once("://") {
        Some((scheme, _)) => {
            scheme != "file"
                && scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.')
        }
        None => false,
    }
}

pub(crate) fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

#[cfg(feature = "cloud")]
fn list_remote(source: &str, opts: &ReadOptions) -> Result<Vec<String>> {
    super::cloud::list(source, opts)
}

#[cfg(not(feature = "cloud"))]
fn list_remote(source: &str, _opts: &ReadOptions) -> Result<Vec<String>> {
    Err(DataError::in_file(
        source,
        "reading from an object store needs Kiln built with the `cloud` feature (cargo build --features cloud)",
    ))
}

fn list_glob(pattern: &str, opts: &ReadOptions) -> Result<Vec<String>> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let paths = glob::glob_with(pattern, options)
        .map_err(|e| DataError::in_file(pattern, format!("invalid glob pattern: {e}")))?;
    let mut files = Vec::new();
    for p in paths {
        let p =
            p.map_err(|e| DataError::in_file(pattern, format!("cannot read {}: {}", e.path().display(), e.error())))?;
        if p.is_file() {
            files.push(path_string(&p)?);
        }
    }
    if files.is_empty() {
        return Err(DataError::in_file(pattern, "the glob matched no files"));
    }
    files.sort();
    if opts.format.is_none() {
        if let Some(f) = files.iter().find(|f| Format::from_path(f).is_none()) {
            return Err(DataError::in_file(
                f.clone(),
                "the glob matched a file whose format Kiln cannot tell from its name; set the format or narrow the glob",
            ));
        }
    }
    Ok(files)
}

fn list_folder(dir: &str, opts: &ReadOptions) -> Result<Vec<String>> {
    let mut all = Vec::new();
    walk(Path::new(dir), &mut all)?;
    all.sort();
    select_by_format(dir, all, opts)
}

/// Picks the files of one format out of a folder's listing.
pub(crate) fn select_by_format(dir: &str, all: Vec<String>, opts: &ReadOptions) -> Result<Vec<String>> {
    let total = all.len();
    let files: Vec<String> = match opts.format {
        Some(want) => all
            .into_iter()
            .filter(|f| Format::from_path(f).is_some_and(|g| same_family(g, want)))
            .collect(),
        None => {
            let files: Vec<String> = all.into_iter().filter(|f| Format::from_path(f).is_some()).collect();
            // JSON and NDJSON files count as one format (one decoder reads both).
            let mut formats: Vec<Format> = files
                .iter()
                .filter_map(|f| Format::from_path(f))
                .map(|f| if f == Format::Ndjson { Format::Json } else { f })
                .collect();
            formats.sort_by_key(|f| f.name());
            formats.dedup();
            if formats.len() > 1 {
                let names: Vec<&str> = formats.iter().map(|f| f.name()).collect();
                return Err(DataError::in_file(
                    dir,
                    format!(
                        "the folder holds files of several formats ({}); set the format to pick one",
                        names.join(", ")
                    ),
                ));
            }
            files
        }
    };
    if files.is_empty() {
        let what = match opts.format {
            Some(f) => format!("{f} files (extensions {})", f.extensions().join(", ")),
            None => "files Kiln reads (csv, json, ndjson/jsonl, parquet/pq, avro)".to_string(),
        };
        return Err(DataError::in_file(
            dir,
            format!("the folder has no {what}; it holds {total} other file(s), not counting hidden ones"),
        ));
    }
    Ok(files)
}

/// JSON and NDJSON files are read by the same decoder, so a folder of either suits both.
fn same_family(a: Format, b: Format) -> bool {
    a == b || matches!((a, b), (Format::Json | Format::Ndjson, Format::Json | Format::Ndjson))
}

fn walk(dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| DataError::in_file(dir.display().to_string(), format!("cannot list: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| DataError::in_file(dir.display().to_string(), format!("cannot list: {e}")))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| DataError::in_file(path.display().to_string(), format!("cannot read: {e}")))?;
        // Follow symlinks to files and folders.
        let (is_dir, is_file) = if kind.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) => (m.is_dir(), m.is_file()),
                Err(_) => (false, false),
            }
        } else {
            (kind.is_dir(), kind.is_file())
        };
        if is_dir {
            walk(&path, out)?;
        } else if is_file {
            out.push(path_string(&path)?);
        }
    }
    Ok(())
}

fn path_string(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| DataError::in_file(p.display().to_string(), "the path is not valid UTF-8"))
}

/// Where a file's bytes are: a local path, or bytes fetched from an object store.
pub(crate) enum Input {
    Path {
        path: PathBuf,
        size: u64,
    },
    #[cfg_attr(
        not(any(feature = "cloud", test)),
        expect(dead_code, reason = "only object stores make it")
    )]
    Memory(Bytes),
}

impl Input {
    /// A file of a listing: a local path (checked), or an object fetched whole.
    pub(crate) fn open(file: &str) -> Result<Input> {
        if is_remote(file) {
            return Self::fetch(file);
        }
        let local = file.strip_prefix("file://").unwrap_or(file);
        let path = PathBuf::from(local);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Input::Path { path, size: m.len() }),
            Ok(_) => Err(DataError::in_file(file, "is a folder, expected a file")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DataError::in_file(file, "no such file")),
            Err(e) => Err(DataError::in_file(file, format!("cannot read: {e}"))),
        }
    }

    #[cfg(feature = "cloud")]
    fn fetch(file: &str) -> Result<Input> {
        super::cloud::fetch(file).map(Input::Memory)
    }

    #[cfg(not(feature = "cloud"))]
    fn fetch(file: &str) -> Result<Input> {
        Err(DataError::in_file(
            file,
            "reading from an object store needs Kiln built with the `cloud` feature (cargo build --features cloud)",
        ))
    }

    pub(crate) fn size(&self) -> u64 {
        match self {
            Input::Path { size, .. } => *size,
            Input::Memory(b) => b.len() as u64,
        }
    }

    /// A fresh reader from the start.
    pub(crate) fn reader(&self, name: &str) -> Result<Box<dyn Read + Send>> {
        match self {
            Input::Path { path, .. } => {
                let f = File::open(path).map_err(|e| DataError::in_file(name, format!("cannot open: {e}")))?;
                Ok(Box::new(f))
            }
            Input::Memory(b) => Ok(Box::new(Cursor::new(b.clone()))),
        }
    }

    /// The number of `\n` bytes before `offset` (for line numbers in errors).
    pub(crate) fn newlines_before(&self, name: &str, offset: u64) -> Result<u64> {
        let mut r = self.reader(name)?.take(offset);
        let mut buf = vec![0u8; 1 << 20];
        let mut count = 0u64;
        loop {
            let n = r
                .read(&mut buf)
                .map_err(|e| DataError::in_file(name, format!("read error: {e}")))?;
            if n == 0 {
                return Ok(count);
            }
            count += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        }
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(crate) fn read_full(r: &mut dyn Read, buf: &mut [u8], name: &str) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DataError::in_file(name, format!("read error: {e}"))),
        }
    }
    Ok(filled)
}

/// A reader that reports the bytes it reads to the progress state.
pub(crate) struct Counting<'a, R> {
    pub inner: R,
    pub progress: &'a super::ProgressState,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_and_glob_detection() {
        assert!(is_remote("s3://bucket/key.csv"));
        assert!(is_remote("gs://b/k"));
        assert!(!is_remote("file:///tmp/x.csv"));
        assert!(!is_remote("/tmp/x.csv"));
        assert!(!is_remote("C:\\data\\x.csv"));
        assert!(has_glob("data/*.csv"));
        assert!(!has_glob("data/x.csv"));
    }
}
