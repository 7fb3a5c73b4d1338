//! CSV reading: dialects, inference, overrides, parallel splitting, and every bad input.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kiln_data::arrow::array::{Array, AsArray};
use kiln_data::arrow::datatypes::{DataType, Float64Type, Int64Type};
use kiln_data::read::{infer_schema, read, read_file, CsvOptions, Format, ReadOptions};
use kiln_data::to_matrix::{column_f64, table_to_matrix};
use kiln_data::Table;

fn write(dir: &Path, name: &str, body: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

fn strings(t: &Table, col: &str) -> Vec<Option<String>> {
    let c = t.column(col).unwrap();
    c.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
}

fn floats(t: &Table, col: &str) -> Vec<Option<f64>> {
    t.column(col).unwrap().as_primitive::<Float64Type>().iter().collect()
}

fn ints(t: &Table, col: &str) -> Vec<Option<i64>> {
    t.column(col).unwrap().as_primitive::<Int64Type>().iter().collect()
}

fn types(pairs: &[(&str, DataType)]) -> BTreeMap<String, DataType> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[test]
fn infers_types_and_reads_nulls_quotes_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a.csv",
        b"\xEF\xBB\xBFid,score,ok,name,day,when\r\n\
          1,0.5,true,\"Smith, J\",2024-01-02,2024-01-02 10:00:00\r\n\
          2,NA,False,\"say \"\"hi\"\"\",2024-01-03,2024-01-03T11:30:00\r\n\
          \r\n\
          3,2,,\"\",2024-01-04,2024-01-04 12:00:00\r\n",
    );
    let t = read_file(&f, &ReadOptions::default()).unwrap();
    let s = t.schema();
    let ty = |n: &str| s.field_with_name(n).unwrap().data_type().clone();
    assert_eq!(ty("id"), DataType::Int64);
    assert_eq!(ty("score"), DataType::Float64);
    assert_eq!(ty("ok"), DataType::Boolean);
    assert_eq!(ty("name"), DataType::Utf8);
    assert_eq!(ty("day"), DataType::Date32);
    assert!(matches!(ty("when"), DataType::Timestamp(_, None)));
    assert_eq!(t.num_rows(), 3);
    assert_eq!(ints(&t, "id"), vec![Some(1), Some(2), Some(3)]);
    assert_eq!(floats(&t, "score"), vec![Some(0.5), None, Some(2.0)]);
    // A quoted empty field is an empty string, not null.
    assert_eq!(
        strings(&t, "name"),
        vec![Some("Smith, J".into()), Some("say \"hi\"".into()), Some(String::new())]
    );
    let ok = t.column("ok").unwrap();
    let ok = ok.as_boolean();
    assert!(ok.value(0) && !ok.value(1) && ok.is_null(2));
    assert!(s.fields().iter().all(|f| f.is_nullable()));
    assert_eq!(t.locate(2), Some((f.as_str(), 3)));
}

#[test]
fn dialect_options_delimiter_quote_no_header_null_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "semi.txt", b"1;'a;b';-\n2;'c''d';7\n");
    let opts = ReadOptions {
        format: Some(Format::Csv),
        csv: CsvOptions {
            delimiter: b';',
            quote: b'\'',
            has_header: false,
            null_tokens: vec!["-".into()],
        },
        ..ReadOptions::default()
    };
    let t = read_file(&f, &opts).unwrap();
    assert_eq!(t.column_names(), vec!["column_1", "column_2", "column_3"]);
    assert_eq!(strings(&t, "column_2"), vec![Some("a;b".into()), Some("c'd".into())]);
    assert_eq!(ints(&t, "column_3"), vec![None, Some(7)]);
    // Without a format, an unknown extension is an error that says what to do.
    let e = read_file(&f, &ReadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("set the format"), "{e}");
    // A tab-separated file.
    let tsv = write(dir.path(), "t.csv", b"a\tb\n1\tx y\n");
    let opts = ReadOptions {
        csv: CsvOptions {
            delimiter: b'\t',
            ..CsvOptions::default()
        },
        ..ReadOptions::default()
    };
    let t = read_file(&tsv, &opts).unwrap();
    assert_eq!(strings(&t, "b"), vec![Some("x y".into())]);
}

#[test]
fn header_names_blank_and_repeated_are_made_unique() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "h.csv", b"\n\nx,,x\n1,2,3\n");
    let t = read_file(&f, &ReadOptions::default()).unwrap();
    assert_eq!(t.column_names(), vec!["x", "column_2", "x.1"]);
    assert_eq!(ints(&t, "x.1"), vec![Some(3)]);
}

#[test]
fn overrides_keep_leading_zeros_and_unknown_override_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "z.csv", b"zip,n\n02134,1\n90210,2\n");
    let t = read_file(&f, &ReadOptions::default()).unwrap();
    assert_eq!(ints(&t, "zip"), vec![Some(2134), Some(90210)]);
    let opts = ReadOptions {
        types: types(&[("zip", DataType::Utf8), ("n", DataType::Float32)]),
        ..ReadOptions::default()
    };
    let t = read_file(&f, &opts).unwrap();
    assert_eq!(strings(&t, "zip"), vec![Some("02134".into()), Some("90210".into())]);
    assert_eq!(t.schema().field(1).data_type(), &DataType::Float32);
    let opts = ReadOptions {
        types: types(&[("zipp", DataType::Utf8)]),
        ..ReadOptions::default()
    };
    let e = read_file(&f, &opts).unwrap_err();
    assert!(
        e.to_string().contains("'zipp'") && e.to_string().contains("zip, n"),
        "{e}"
    );
    assert_eq!(
        infer_schema(&f, &ReadOptions::default()).unwrap().field(0).data_type(),
        &DataType::Int64
    );
}

#[test]
fn an_integer_column_widens_to_float_after_the_sample_and_a_null_column_takes_later_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("n,later,label\n");
    for i in 0..50 {
        body.push_str(&format!("{i},,{}\n", i % 2));
    }
    body.push_str("2.5,abc,1\n");
    let f = write(dir.path(), "w.csv", body.as_bytes());
    let opts = ReadOptions {
        infer_rows: 10,
        ..ReadOptions::default()
    };
    assert_eq!(infer_schema(&f, &opts).unwrap().field(1).data_type(), &DataType::Null);
    let t = read_file(&f, &opts).unwrap();
    assert_eq!(t.schema().field(0).data_type(), &DataType::Float64);
    assert_eq!(t.schema().field(1).data_type(), &DataType::Utf8);
    let n = floats(&t, "n");
    assert_eq!(n[3], Some(3.0));
    assert_eq!(n[50], Some(2.5));
    assert_eq!(strings(&t, "later")[50], Some("abc".into()));
    assert_eq!(strings(&t, "later")[0], None);
}

#[test]
fn a_letter_in_a_numeric_column_names_file_row_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::from("a,b\n");
    for i in 0..30 {
        body.push_str(&format!("{i},{}.5\n", i));
    }
    body.push_str("31,x7\n");
    let f = write(dir.path(), "m.csv", body.as_bytes());
    let opts = ReadOptions {
        infer_rows: 5,
        ..ReadOptions::default()
    };
    let e = read_file(&f, &opts).unwrap_err();
    assert_eq!(e.location.file.as_deref(), Some(f.as_str()));
    assert_eq!(e.location.row, Some(31));
    assert_eq!(e.location.column.as_deref(), Some("b"));
    assert!(
        e.message.contains("expected a number") && e.message.contains("'x7'"),
        "{e}"
    );
    assert!(e.message.contains("line 32"), "{e}");
    assert!(e.message.contains("infer_rows"), "{e}");
    // Against an overridden type.
    let g = write(dir.path(), "o.csv", b"a,b\n1,2\n3,four\n");
    let opts = ReadOptions {
        types: types(&[("b", DataType::Int64)]),
        ..ReadOptions::default()
    };
    let e = read_file(&g, &opts).unwrap_err();
    assert_eq!((e.location.row, e.location.column.as_deref()), (Some(2), Some("b")));
    assert!(
        e.message.contains("types option") && e.message.contains("'four'"),
        "{e}"
    );
    // An override through Arrow's cast (a date), same precision.
    let h = write(dir.path(), "d.csv", b"d\n2024-01-01\n2024-02-30x\n");
    let opts = ReadOptions {
        types: types(&[("d", DataType::Date32)]),
        ..ReadOptions::default()
    };
    let e = read_file(&h, &opts).unwrap_err();
    assert_eq!((e.location.row, e.location.column.as_deref()), (Some(2), Some("d")));
}

#[test]
fn a_row_with_the_wrong_number_of_fields_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "f.csv", b"a,b,c\n1,2,3\n4,5\n");
    let e = read_file(&f, &ReadOptions::default()).unwrap_err();
    assert_eq!(e.location.row, Some(2));
    assert_eq!(e.location.column.as_deref(), Some("c"));
    assert!(e.message.contains("found 2 fields, expected 3"), "{e}");
    assert!(e.message.contains("line 3"), "{e}");
    let g = write(dir.path(), "g.csv", b"a,b\n1,2\n3,4\n5,6,7,8\n");
    let e = read_file(&g, &ReadOptions::default()).unwrap_err();
    assert_eq!(e.location.row, Some(3));
    assert!(e.message.contains("found 4 fields, expected 2"), "{e}");
    // Quoted line breaks: the row and line differ, both are named.
    let h = write(dir.path(), "h.csv", b"a,b\n\"x\ny\",1\n2\n");
    let e = read_file(&h, &ReadOptions::default()).unwrap_err();
    assert_eq!(e.location.row, Some(2));
    assert!(e.message.contains("line 4"), "{e}");
}

#[test]
fn a_non_utf8_byte_is_an_error_at_its_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "u.csv", b"a,b\n1,ok\n2,caf\xE9\n");
    let e = read_file(&f, &ReadOptions::default()).unwrap_err();
    assert_eq!(e.location.row, Some(2));
    assert_eq!(e.location.column.as_deref(), Some("b"));
    assert!(e.message.contains("UTF-8") && e.message.contains("0xE9"), "{e}");
    // In a numeric column (read without a UTF-8 pass), with and without quotes elsewhere.
    for (name, body) in [
        ("n.csv", &b"a,b\n1,2\n3,4\xFF\n"[..]),
        ("nq.csv", &b"a,b\n1,\"2\"\n3,4\xFF\n"[..]),
    ] {
        let opts = ReadOptions {
            types: types(&[("a", DataType::Int64), ("b", DataType::Int64)]),
            ..ReadOptions::default()
        };
        let e = read_file(&write(dir.path(), name, body), &opts).unwrap_err();
        assert_eq!(
            (e.location.row, e.location.column.as_deref()),
            (Some(2), Some("b")),
            "{e}"
        );
        assert!(e.message.contains("0xFF"), "{e}");
    }
    // In a row past the sample too.
    let mut body = b"a,b\n".to_vec();
    for i in 0..100 {
        body.extend_from_slice(format!("{i},x\n").as_bytes());
    }
    body.extend_from_slice(b"100,\xFF\n");
    let g = write(dir.path(), "v.csv", &body);
    let opts = ReadOptions {
        infer_rows: 3,
        ..ReadOptions::default()
    };
    let e = read_file(&g, &opts).unwrap_err();
    assert_eq!((e.location.row, e.location.column.as_deref()), (Some(101), Some("b")));
}

#[test]
fn empty_inputs_are_errors_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "e.csv", b"");
    let e = read_file(&empty, &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("empty (0 bytes)"), "{e}");
    assert_eq!(e.location.file.as_deref(), Some(empty.as_str()));
    let header = write(dir.path(), "h.csv", b"a,b\n");
    let e = read_file(&header, &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("header but no data rows"), "{e}");
    let blank = write(dir.path(), "b.csv", b"\n\n\r\n");
    let e = read_file(&blank, &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("only blank lines"), "{e}");
    let opts = ReadOptions {
        allow_empty: true,
        ..ReadOptions::default()
    };
    let t = read_file(&header, &opts).unwrap();
    assert_eq!((t.num_rows(), t.num_columns()), (0, 2));
    assert_eq!(read_file(&empty, &opts).unwrap().num_rows(), 0);
}

#[test]
fn an_unterminated_quote_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "q.csv", b"a,b\n1,\"open\n2,3\n");
    let e = read_file(&f, &ReadOptions::default()).unwrap_err();
    assert_eq!(e.location.row, Some(1));
    assert!(e.message.contains("never closed"), "{e}");
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope.csv");
    let e = read(p.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("nope.csv") && e.message.contains("no such file"),
        "{e}"
    );
}

/// A file larger than one read block (16 MiB), with quoted line
/// breaks around the cuts: every row comes back, in order, with its origin.
#[test]
fn large_file_with_quoted_line_breaks_reads_every_row_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 300_000usize;
    let mut body = String::with_capacity(rows * 80);
    body.push_str("id,x,text,label\n");
    for i in 0..rows {
        let text = if i % 97 == 0 {
            format!("\"line one\nline, two {i}\"")
        } else if i % 13 == 0 {
            format!("\"q\"\"{i}\"")
        } else {
            format!("plain text number {i} with some padding to make the file large")
        };
        body.push_str(&format!("{i},{}.25,{text},{}\n", i * 3, i % 2));
    }
    let f = write(dir.path(), "big.csv", body.as_bytes());
    assert!(body.len() > 16 << 20);
    let calls = Arc::new(AtomicU64::new(0));
    let last = Arc::new(AtomicU64::new(0));
    let (c2, l2) = (calls.clone(), last.clone());
    let opts = ReadOptions {
        progress: Some(Arc::new(move |done, total| {
            assert!(done <= total);
            c2.fetch_add(1, Ordering::Relaxed);
            l2.store(done, Ordering::Relaxed);
        })),
        ..ReadOptions::default()
    };
    let t = read_file(&f, &opts).unwrap();
    assert_eq!(t.num_rows(), rows);
    assert!(t.batches().len() > 1);
    assert!(calls.load(Ordering::Relaxed) > 1);
    assert_eq!(last.load(Ordering::Relaxed), body.len() as u64);
    let id = ints(&t, "id");
    assert!(id.iter().enumerate().all(|(i, v)| *v == Some(i as i64)));
    let text = strings(&t, "text");
    assert_eq!(text[97].as_deref(), Some("line one\nline, two 97"));
    assert_eq!(text[13].as_deref(), Some("q\"13"));
    // Origins name the data row of every table row.
    for r in [0usize, 1, 65_536, rows - 1] {
        assert_eq!(t.locate(r), Some((f.as_str(), r as u64 + 1)));
    }
    let m = table_to_matrix(&t, &["x", "id"]).unwrap();
    assert_eq!(m.get(10, 0), 30.25);
    let y = column_f64(&t, "label").unwrap();
    assert_eq!((y[0], y[1]), (0.0, 1.0));
}

#[test]
fn an_error_deep_in_a_large_file_names_the_exact_row() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 400_000usize;
    let mut body = String::with_capacity(rows * 30);
    body.push_str("a,b\n");
    for i in 0..rows {
        if i == 333_333 {
            body.push_str("1,oops\n");
        } else {
            body.push_str(&format!("{i},{}.5\n", i % 1000));
        }
    }
    let f = write(dir.path(), "deep.csv", body.as_bytes());
    let e = read_file(&f, &ReadOptions::default()).unwrap_err();
    assert_eq!(e.location.row, Some(333_334));
    assert_eq!(e.location.column.as_deref(), Some("b"));
    assert!(e.message.contains("line 333335"), "{e}");
}

mod roundtrip {
    use super::*;
    use proptest::prelude::*;

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9 ]{0,6}",
            Just("a,b".to_string()),
            Just("x\ny".to_string()),
            Just("say \"q\"".to_string()),
            Just("\r\n".to_string()),
        ]
    }

    fn cell() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            (-1_000_000i64..1_000_000).prop_map(|i| Some(i.to_string())),
            (-1e6f64..1e6).prop_map(|f| Some(f.to_string())),
            Just(Some(" 2.5 ".to_string())),
            Just(Some("1e-3".to_string())),
            "[a-z]{1,5}".prop_map(Some),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The fast path (no quote in the range) and the general path (quotes)
        /// read the same cells alike: quoting a cell that needs no quotes changes nothing.
        #[test]
        fn fast_and_general_paths_agree(rows in proptest::collection::vec(proptest::collection::vec(cell(), 4), 1..60), crlf: bool) {
            let dir = tempfile::tempdir().unwrap();
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut plain = format!("a,b,c,d{eol}");
            let mut quoted = plain.clone();
            for r in &rows {
                let p: Vec<String> = r.iter().map(|c| c.clone().unwrap_or_default()).collect();
                let q: Vec<String> = r.iter().map(|c| c.as_ref().map_or(String::new(), |v| format!("\"{v}\""))).collect();
                plain.push_str(&p.join(","));
                plain.push_str(eol);
                quoted.push_str(&q.join(","));
                quoted.push_str(eol);
            }
            let fp = write(dir.path(), "plain.csv", plain.as_bytes());
            let fq = write(dir.path(), "quoted.csv", quoted.as_bytes());
            let opts = ReadOptions { allow_empty: true, ..ReadOptions::default() };
            let tp = read_file(&fp, &opts);
            let tq = read_file(&fq, &opts);
            match (tp, tq) {
                (Ok(tp), Ok(tq)) => {
                    prop_assert_eq!(tp.schema(), tq.schema());
                    prop_assert_eq!(tp.concat().unwrap(), tq.concat().unwrap());
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.location, b.location),
                (a, b) => prop_assert!(false, "plain {:?} vs quoted {:?}", a.map(|t| t.num_rows()), b.map(|t| t.num_rows())),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Text written with RFC 4180 quoting reads back unchanged.
        #[test]
        fn quoted_text_reads_back(rows in proptest::collection::vec(proptest::collection::vec(field(), 3), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            let mut body = String::from("a,b,c\n");
            for r in &rows {
                let cells: Vec<String> = r.iter().map(|v| format!("\"{}\"", v.replace('"', "\"\""))).collect();
                body.push_str(&cells.join(","));
                body.push('\n');
            }
            let f = write(dir.path(), "p.csv", body.as_bytes());
            let opts = ReadOptions { types: types(&[("a", DataType::Utf8), ("b", DataType::Utf8), ("c", DataType::Utf8)]), ..ReadOptions::default() };
            let t = read_file(&f, &opts).unwrap();
            prop_assert_eq!(t.num_rows(), rows.len());
            for (j, c) in ["a", "b", "c"].iter().enumerate() {
                let got = strings(&t, c);
                for (i, r) in rows.iter().enumerate() {
                    prop_assert_eq!(got[i].as_deref(), Some(r[j].as_str()));
                }
            }
        }
    }
}
