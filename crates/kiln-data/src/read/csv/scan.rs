//! CSV structure: where records end, how a block splits into ranges that can
//! be parsed in parallel, and the field boundaries of each record.
//!
//! Quoting rules (shared by every function here, so that a split point is
//! always a real record boundary): a quote opens a quoted section only at the
//! start of a field; inside it a doubled quote is a literal quote and a single
//! one closes it; anything else (a quote in the middle of an unquoted field,
//! text after a closing quote) is literal. Delimiters and line breaks inside a
//! quoted section belong to the field. A record ends at `\n` (a `\r` before it
//! is dropped) or at the end of the input; blank lines are skipped.

use std::ops::Range;

use memchr::{memchr, memchr2, memchr2_iter, memchr3, memrchr};

/// The delimiter and quote bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    pub delim: u8,
    pub quote: u8,
}

/// The result of [`split_block`].
#[derive(Debug)]
pub(crate) struct Split {
    /// `buf[..complete]` holds whole records; the rest starts the next record.
    pub complete: usize,
    /// Up to `n` consecutive ranges covering `..complete`, each starting at a record.
    pub ranges: Vec<Range<usize>>,
}

/// Splits `buf` (which starts at a record boundary) into about `n` ranges of
/// whole records. At the end of the input (`eof`) every byte belongs to a
/// record; otherwise the incomplete last record is left out.
pub(crate) fn split_block(buf: &[u8], eof: bool, n: usize, d: Dialect) -> Split {
    let n = n.max(1);
    if memchr(d.quote, buf).is_none() {
        let complete = if eof {
            buf.len()
        } else {
            memrchr(b'\n', buf).map_or(0, |i| i + 1)
        };
        let mut ranges = Vec::with_capacity(n);
        let mut start = 0;
        for k in 1..n {
            let target = complete * k / n;
            if target <= start {
                continue;
            }
            match memchr(b'\n', &buf[target..complete]) {
                Some(i) => {
                    let end = target + i + 1;
                    ranges.push(start..end);
                    start = end;
                }
                None => break,
            }
        }
        if start < complete {
            ranges.push(start..complete);
        }
        return Split { complete, ranges };
    }
    split_quoted(buf, eof, n, d)
}

/// [`split_block`] for input with quotes: one sequential pass over the quoting state.
fn split_quoted(buf: &[u8], eof: bool, n: usize, d: Dialect) -> Split {
    let len = buf.len();
    let mut boundaries = Vec::with_capacity(n);
    let mut next_target = len / n;
    let mut last = 0usize;
    let mut i = 0usize;
    let mut field_start = true;
    let mut in_quotes_at_end = false;
    while i < len {
        if field_start && buf[i] == d.quote {
            match skip_quoted(buf, i + 1, d.quote) {
                Some(after) => {
                    i = after;
                    field_start = false;
                    continue;
                }
                None => {
                    in_quotes_at_end = true;
                    break;
                }
            }
        }
        match memchr3(d.delim, b'\n', d.quote, &buf[i..]) {
            None => break,
            Some(k) => {
                let p = i + k;
                let c = buf[p];
                i = p + 1;
                if c == d.delim {
                    field_start = true;
                } else if c == b'\n' {
                    field_start = true;
                    last = i;
                    if last >= next_target && last < len {
                        boundaries.push(last);
                        next_target = last + len / n;
                    }
                } else {
                    // A quote inside an unquoted field is literal.
                    field_start = false;
                }
            }
        }
    }
    let complete = if eof { len } else { last };
    let _ = in_quotes_at_end; // an unterminated quote is reported by the tokenizer
    let mut ranges = Vec::with_capacity(boundaries.len() + 1);
    let mut start = 0;
    for b in boundaries {
        if b > start && b <= complete {
            ranges.push(start..b);
            start = b;
        }
    }
    if start < complete {
        ranges.push(start..complete);
    }
    Split { complete, ranges }
}

/// From just after an opening quote, the index just after the closing quote;
/// `None` if the input ends inside the quoted section.
fn skip_quoted(buf: &[u8], mut j: usize, quote: u8) -> Option<usize> {
    loop {
        let k = memchr(quote, &buf[j..])?;
        let q = j + k;
        if q + 1 < buf.len() && buf[q + 1] == quote {
            j = q + 2;
        } else {
            return Some(q + 1);
        }
    }
}

/// Field boundaries of the records of a range.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub ncols: usize,
    /// Byte offset of each record's start.
    pub rec_starts: Vec<u32>,
    /// `ncols` field ends per record (exclusive; a field starts one past the previous end).
    pub ends: Vec<u32>,
    /// Whether the range holds a quote byte at all (else no field needs unquoting).
    pub has_quotes: bool,
    /// How many bytes the records read span (less than the input when `max_records` stopped it).
    pub consumed: usize,
}

impl Fields {
    pub fn nrecords(&self) -> usize {
        self.rec_starts.len()
    }

    /// The byte range of field `j` of record `i` (raw: quotes included).
    #[inline]
    pub fn field(&self, i: usize, j: usize) -> (usize, usize) {
        let base = i * self.ncols;
        let start = if j == 0 {
            self.rec_starts[i] as usize
        } else {
            self.ends[base + j - 1] as usize + 1
        };
        (start, self.ends[base + j] as usize)
    }

    /// The record and field that byte `offset` falls in.
    pub fn locate(&self, offset: usize) -> (usize, usize) {
        if self.nrecords() == 0 {
            return (0, 0);
        }
        let i = self
            .rec_starts
            .partition_point(|&s| s as usize <= offset)
            .saturating_sub(1);
        let base = i * self.ncols;
        let j = self.ends[base..base + self.ncols]
            .iter()
            .position(|&e| offset <= e as usize)
            .unwrap_or(self.ncols.saturating_sub(1));
        (i, j)
    }
}

/// Why a range could not be split into fields.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Record `record` (0-based in the range, starting at byte `start`) has `found` fields.
    FieldCount { record: usize, start: usize, found: usize },
    /// A quoted field opened in record `record` is never closed.
    Unterminated { record: usize, start: usize },
    /// The range is too large for 32-bit offsets.
    TooLarge,
}

/// Splits `buf` (whole records) into fields, `ncols` per record, stopping after
/// `max_records` records.
pub(crate) fn tokenize(buf: &[u8], ncols: usize, max_records: usize, d: Dialect) -> Result<Fields, TokenError> {
    if buf.len() >= u32::MAX as usize {
        return Err(TokenError::TooLarge);
    }
    let has_quotes = memchr(d.quote, buf).is_some();
    let guess = (buf.len() / (ncols * 8 + 1)).min(max_records) + 1;
    let mut f = Fields {
        ncols,
        rec_starts: Vec::with_capacity(guess),
        ends: Vec::with_capacity(guess * ncols),
        has_quotes,
        consumed: buf.len(),
    };
    if has_quotes {
        tokenize_quoted(buf, max_records, d, &mut f)?;
    } else {
        tokenize_plain(buf, max_records, d, &mut f)?;
    }
    Ok(f)
}

/// The fast path: no quote byte anywhere in `buf`.
fn tokenize_plain(buf: &[u8], max_records: usize, d: Dialect, f: &mut Fields) -> Result<(), TokenError> {
    let ncols = f.ncols;
    let mut rec_start = 0usize;
    let mut nf = 0usize;
    if max_records == 0 {
        return Ok(());
    }
    for p in memchr2_iter(d.delim, b'\n', buf) {
        if buf[p] == d.delim {
            nf += 1;
            if nf >= ncols {
                return Err(field_count(buf, f.nrecords(), rec_start, d));
            }
            f.ends.push(p as u32);
            continue;
        }
        let end = if p > rec_start && buf[p - 1] == b'\r' { p - 1 } else { p };
        if nf == 0 && end == rec_start {
            rec_start = p + 1;
            continue;
        }
        if nf + 1 != ncols {
            return Err(TokenError::FieldCount {
                record: f.nrecords(),
                start: rec_start,
                found: nf + 1,
            });
        }
        f.ends.push(end as u32);
        f.rec_starts.push(rec_start as u32);
        rec_start = p + 1;
        nf = 0;
        if f.nrecords() >= max_records {
            f.consumed = rec_start;
            return Ok(());
        }
    }
    if rec_start < buf.len() {
        let p = buf.len();
        let end = if buf[p - 1] == b'\r' { p - 1 } else { p };
        if nf == 0 && end == rec_start {
            return Ok(());
        }
        if nf + 1 != ncols {
            return Err(TokenError::FieldCount {
                record: f.nrecords(),
                start: rec_start,
                found: nf + 1,
            });
        }
        f.ends.push(end as u32);
        f.rec_starts.push(rec_start as u32);
    }
    Ok(())
}

/// The general path: quoted fields, escaped quotes, line breaks inside quotes.
fn tokenize_quoted(buf: &[u8], max_records: usize, d: Dialect, f: &mut Fields) -> Result<(), TokenError> {
    let ncols = f.ncols;
    let n = buf.len();
    let mut i = 0usize;
    while i < n {
        if f.nrecords() >= max_records {
            f.consumed = i;
            return Ok(());
        }
        let rec_start = i;
        let mut nf = 0usize;
        loop {
            if i < n && buf[i] == d.quote {
                match skip_quoted(buf, i + 1, d.quote) {
                    Some(after) => i = after,
                    None => {
                        return Err(TokenError::Unterminated {
                            record: f.nrecords(),
                            start: rec_start,
                        })
                    }
                }
            }
            let p = memchr2(d.delim, b'\n', &buf[i..]).map_or(n, |k| i + k);
            if p < n && buf[p] == d.delim {
                nf += 1;
                if nf >= ncols {
                    return Err(field_count(buf, f.nrecords(), rec_start, d));
                }
                f.ends.push(p as u32);
                i = p + 1;
                continue;
            }
            let end = if p > rec_start && buf[p - 1] == b'\r' { p - 1 } else { p };
            i = if p < n { p + 1 } else { n };
            if nf == 0 && end == rec_start {
                break; // a blank line
            }
            if nf + 1 != ncols {
                // Drop the ends pushed for this record: it is an error anyway.
                return Err(TokenError::FieldCount {
                    record: f.nrecords(),
                    start: rec_start,
                    found: nf + 1,
                });
            }
            f.ends.push(end as u32);
            f.rec_starts.push(rec_start as u32);
            break;
        }
    }
    Ok(())
}

/// A `FieldCount` error for the record at `start`, counting all its fields.
fn field_count(buf: &[u8], record: usize, start: usize, d: Dialect) -> TokenError {
    let found = record_fields(buf, start, d).map_or(0, |(fields, _)| fields.len());
    TokenError::FieldCount { record, start, found }
}

/// The fields of the record starting at `start` (raw byte ranges) and where the
/// next record starts; `None` for an unterminated quote. The input's end ends
/// the record. Slow and simple: for headers and error messages.
pub(crate) fn record_fields(buf: &[u8], start: usize, d: Dialect) -> Option<(Vec<(usize, usize)>, usize)> {
    let n = buf.len();
    let mut fields = Vec::new();
    let mut i = start;
    let mut field_start = start;
    loop {
        if i < n && i == field_start && buf[i] == d.quote {
            i = skip_quoted(buf, i + 1, d.quote)?;
        }
        let p = memchr2(d.delim, b'\n', &buf[i..]).map_or(n, |k| i + k);
        if p < n && buf[p] == d.delim {
            fields.push((field_start, p));
            i = p + 1;
            field_start = i;
            continue;
        }
        let end = if p > field_start && buf[p - 1] == b'\r' {
            p - 1
        } else {
            p
        };
        fields.push((field_start, end));
        return Some((fields, (p + 1).min(n)));
    }
}

/// Skips blank lines from `start`; the offset of the first non-blank line, if any.
pub(crate) fn skip_blank_lines(buf: &[u8], mut start: usize) -> Option<usize> {
    while start < buf.len() {
        let end = memchr(b'\n', &buf[start..]).map_or(buf.len(), |k| start + k);
        let line = &buf[start..end];
        if !(line.is_empty() || line == b"\r") {
            return Some(start);
        }
        start = end + 1;
    }
    None
}

/// The end of the first complete line from `start` (just past its `\n`), quote-aware.
pub(crate) fn complete_record_end(buf: &[u8], start: usize, d: Dialect) -> Option<usize> {
    let (_, next) = record_fields(buf, start, d)?;
    (next > 0 && buf.get(next - 1) == Some(&b'\n')).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Dialect = Dialect {
        delim: b',',
        quote: b'"',
    };

    fn fields_of(buf: &[u8], ncols: usize) -> Vec<Vec<String>> {
        let f = tokenize(buf, ncols, usize::MAX, D).unwrap();
        (0..f.nrecords())
            .map(|i| {
                (0..ncols)
                    .map(|j| {
                        let (s, e) = f.field(i, j);
                        String::from_utf8(buf[s..e].to_vec()).unwrap()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn plain_and_quoted_tokenize_alike() {
        let plain = b"a,b\n1,2\r\n\n3,4";
        assert_eq!(
            fields_of(plain, 2),
            vec![vec!["a", "b"], vec!["1", "2"], vec!["3", "4"]]
        );
        let quoted = b"\"x,\ny\",2\n\"a\"\"b\",\"\"\n5\"6,7\n";
        assert_eq!(
            fields_of(quoted, 2),
            vec![vec!["\"x,\ny\"", "2"], vec!["\"a\"\"b\"", "\"\""], vec!["5\"6", "7"]]
        );
    }

    #[test]
    fn wrong_field_counts_and_unterminated_quotes() {
        let e = tokenize(b"1,2\n3\n", 2, usize::MAX, D).unwrap_err();
        assert_eq!(
            e,
            TokenError::FieldCount {
                record: 1,
                start: 4,
                found: 1
            }
        );
        let e = tokenize(b"1,2\n3,4,5,6\n", 2, usize::MAX, D).unwrap_err();
        assert_eq!(
            e,
            TokenError::FieldCount {
                record: 1,
                start: 4,
                found: 4
            }
        );
        let e = tokenize(b"1,2\n\"3,4\n", 2, usize::MAX, D).unwrap_err();
        assert_eq!(e, TokenError::Unterminated { record: 1, start: 4 });
    }

    #[test]
    fn splits_land_on_record_boundaries() {
        let mut buf = Vec::new();
        for i in 0..1000 {
            if i % 7 == 0 {
                buf.extend_from_slice(format!("\"multi\nline {i}\",{i}\n").as_bytes());
            } else {
                buf.extend_from_slice(format!("plain {i},{i}\n").as_bytes());
            }
        }
        let s = split_block(&buf, false, 8, D);
        assert_eq!(s.complete, buf.len());
        let mut total = 0;
        let mut prev_end = 0;
        for r in &s.ranges {
            assert_eq!(r.start, prev_end);
            prev_end = r.end;
            total += tokenize(&buf[r.clone()], 2, usize::MAX, D).unwrap().nrecords();
        }
        assert_eq!(total, 1000);
        assert!(s.ranges.len() > 4, "{:?}", s.ranges);
        // An incomplete last record is left for the next block.
        let cut = buf.len() - 3;
        let s = split_block(&buf[..cut], false, 4, D);
        assert!(s.complete < cut && buf[s.complete - 1] == b'\n');
        // A quoted line break near the cut is not a boundary.
        let q = b"1,\"a\nb\"\n2,x";
        let s = split_block(q, false, 1, D);
        assert_eq!(s.complete, 8);
    }

    #[test]
    fn locate_finds_record_and_field() {
        let buf = b"aa,bb\ncc,dd\n";
        let f = tokenize(buf, 2, usize::MAX, D).unwrap();
        assert_eq!(f.locate(0), (0, 0));
        assert_eq!(f.locate(4), (0, 1));
        assert_eq!(f.locate(9), (1, 1));
    }
}
