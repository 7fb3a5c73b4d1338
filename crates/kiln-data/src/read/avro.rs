//! Avro object container files, through `arrow-avro`.
//!
//! Before decoding, the file's block structure is walked (header, then each
//! block's row count, size and sync marker) so that a truncated or damaged
//! file is an error with its byte offset rather than fewer rows; the rows
//! decoded must then add up to the rows the blocks declare.

use std::io::{BufReader, Read};
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow_avro::reader::ReaderBuilder;

use super::schema::apply_stored_overrides;
use super::source::{read_full, Counting, Input};
use super::{Probe, ProgressState, ReadOptions};
use crate::error::{DataError, Location, Result};
use crate::table::Origin;

const BATCH_ROWS: usize = 64 * 1024;

/// The stored schema (nullable fields) with `types` applied and checked.
pub(crate) fn probe(name: &str, input: &Input, opts: &ReadOptions) -> Result<SchemaRef> {
    let stored = stored_schema(name, input)?;
    apply_stored_overrides(name, &stored, &opts.types, "Avro")
}

fn stored_schema(name: &str, input: &Input) -> Result<SchemaRef> {
    let reader = ReaderBuilder::new()
        .build(BufReader::new(input.reader(name)?))
        .map_err(|e| header_error(name, e))?;
    Ok(nullable(&reader.schema()))
}

fn header_error(name: &str, e: impl std::fmt::Display) -> DataError {
    DataError::new(
        Location::file(name).with_byte_offset(0),
        format!("not a readable Avro object container file: {e}"),
    )
}

fn nullable(s: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        s.fields()
            .iter()
            .map(|f| Field::new(f.name(), f.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ))
}

/// Decodes the file; batches have the stored types (nullable fields).
pub(crate) fn read(
    p: &Probe,
    _opts: &ReadOptions,
    progress: &ProgressState,
) -> Result<(Vec<RecordBatch>, Vec<Origin>)> {
    let name = p.name.as_str();
    let declared = check_blocks(name, &mut *p.input.reader(name)?)?;
    let counting = Counting {
        inner: p.input.reader(name)?,
        progress,
    };
    let reader = ReaderBuilder::new()
        .with_batch_size(BATCH_ROWS)
        .build(BufReader::with_capacity(1 << 20, counting))
        .map_err(|e| header_error(name, e))?;
    let stored = nullable(&reader.schema());
    let file: Arc<str> = Arc::from(name);
    let mut batches = Vec::new();
    let mut origins = Vec::new();
    let mut rows = 0u64;
    for b in reader {
        let b = b.map_err(|e| {
            DataError::new(
                Location::file(name).with_row(rows + 1),
                format!("decoding the Avro records from this row on: {e}"),
            )
        })?;
        let n = b.num_rows() as u64;
        let b = RecordBatch::try_new(stored.clone(), b.columns().to_vec())
            .map_err(|e| DataError::in_file(name, format!("building a record batch: {e}")))?;
        origins.push(Origin {
            file: file.clone(),
            first_row: rows + 1,
        });
        batches.push(b);
        rows += n;
    }
    if rows != declared {
        return Err(DataError::new(
            Location::file(name).with_row(rows + 1),
            format!("the file's blocks declare {declared} rows but {rows} were decoded; the file is damaged"),
        ));
    }
    Ok((batches, origins))
}

/// Walks the container's structure; the number of rows its blocks declare.
fn check_blocks(name: &str, r: &mut dyn Read) -> Result<u64> {
    let mut r = Walker { inner: r, offset: 0 };
    let at = |off: u64, msg: String| DataError::new(Location::file(name).with_byte_offset(off), msg);
    let mut magic = [0u8; 4];
    if r.read_exact(&mut magic, name)? < 4 || &magic != b"Obj\x01" {
        return Err(at(
            0,
            "not an Avro object container file (it does not start with Obj\\x01)".into(),
        ));
    }
    // The metadata map: blocks of (count, entries), a negative count carrying a byte size.
    loop {
        let count = r.long(name)?;
        if count == 0 {
            break;
        }
        if count < 0 {
            r.long(name)?;
        }
        for _ in 0..count.unsigned_abs() {
            let k = r.long(name)?;
            r.skip(k, name)?;
            let v = r.long(name)?;
            r.skip(v, name)?;
        }
    }
    let mut sync = [0u8; 16];
    if r.read_exact(&mut sync, name)? < 16 {
        return Err(at(r.offset, "the Avro header ends early; the file is truncated".into()));
    }
    let mut rows = 0u64;
    let mut block = 0u64;
    loop {
        let start = r.offset;
        let mut first = [0u8; 1];
        if r.read_exact(&mut first, name)? == 0 {
            return Ok(rows);
        }
        let count = r.long_from(first[0], name)?;
        let size = r.long(name)?;
        if count < 0 || size < 0 {
            return Err(at(
                start,
                format!("Avro data block {block} has a negative row count or size; the file is damaged"),
            ));
        }
        if r.skip(size, name)? < size as u64 {
            return Err(at(
                start,
                format!(
                    "the file ends inside Avro data block {block} (which starts at this byte offset); it is truncated"
                ),
            ));
        }
        let mut marker = [0u8; 16];
        let got = r.read_exact(&mut marker, name)?;
        if got < 16 {
            return Err(at(
                start,
                format!("the file ends inside Avro data block {block}; it is truncated"),
            ));
        }
        if marker != sync {
            return Err(at(
                r.offset - 16,
                format!("Avro data block {block} ends without the file's sync marker; the file is damaged"),
            ));
        }
        rows += count as u64;
        block += 1;
    }
}

/// A reader that counts its offset and reads Avro's zig-zag varints.
struct Walker<'a> {
    inner: &'a mut dyn Read,
    offset: u64,
}

impl Walker<'_> {
    /// Fills `buf` as far as the input goes; the bytes read.
    fn read_exact(&mut self, buf: &mut [u8], name: &str) -> Result<usize> {
        let n = read_full(self.inner, buf, name)?;
        self.offset += n as u64;
        Ok(n)
    }

    fn long(&mut self, name: &str) -> Result<i64> {
        let mut b = [0u8; 1];
        if self.read_exact(&mut b, name)? == 0 {
            return Err(self.truncated(name));
        }
        self.long_from(b[0], name)
    }

    fn long_from(&mut self, first: u8, name: &str) -> Result<i64> {
        let mut value: u64 = (first & 0x7f) as u64;
        let mut shift = 7;
        let mut byte = first;
        while byte & 0x80 != 0 {
            if shift > 63 {
                return Err(DataError::new(
                    Location::file(name).with_byte_offset(self.offset),
                    "an Avro length is malformed; the file is damaged",
                ));
            }
            let mut b = [0u8; 1];
            if self.read_exact(&mut b, name)? == 0 {
                return Err(self.truncated(name));
            }
            byte = b[0];
            value |= ((byte & 0x7f) as u64) << shift;
            shift += 7;
        }
        Ok((value >> 1) as i64 ^ -((value & 1) as i64))
    }

    /// Skips `n` bytes; the bytes actually skipped.
    fn skip(&mut self, n: i64, name: &str) -> Result<u64> {
        let n = n.max(0) as u64;
        let got = std::io::copy(&mut self.inner.take(n), &mut std::io::sink())
            .map_err(|e| DataError::in_file(name, format!("read error: {e}")))?;
        self.offset += got;
        Ok(got)
    }

    fn truncated(&self, name: &str) -> DataError {
        DataError::new(
            Location::file(name).with_byte_offset(self.offset),
            "the Avro file ends in the middle of its structure; it is truncated",
        )
    }
}
