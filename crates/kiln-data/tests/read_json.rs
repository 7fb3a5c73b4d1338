//! JSON arrays and NDJSON: inference, strict decoding, and errors with row and line.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_data::arrow::array::{Array, AsArray};
use kiln_data::arrow::datatypes::{DataType, Float64Type, Int64Type};
use kiln_data::read::{read, read_file, Format, ReadOptions};
use kiln_data::Table;

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

fn ints(t: &Table, col: &str) -> Vec<Option<i64>> {
    t.column(col).unwrap().as_primitive::<Int64Type>().iter().collect()
}

fn floats(t: &Table, col: &str) -> Vec<Option<f64>> {
    t.column(col).unwrap().as_primitive::<Float64Type>().iter().collect()
}

#[test]
fn ndjson_and_json_arrays_read_alike() {
    let dir = tempfile::tempdir().unwrap();
    let nd = write(
        dir.path(),
        "a.ndjson",
        "{\"id\": 1, \"x\": 0.5, \"s\": \"a\", \"ok\": true}\n\n{\"id\": 2, \"x\": null, \"s\": \"b\"}\n",
    );
    let arr = write(
        dir.path(),
        "a.json",
        "[\n  {\"id\": 1, \"x\": 0.5, \"s\": \"a\", \"ok\": true},\n  {\"id\": 2, \"x\": null, \"s\": \"b\"}\n]\n",
    );
    for f in [&nd, &arr] {
        let t = read_file(f, &ReadOptions::default()).unwrap();
        assert_eq!(t.column_names(), vec!["id", "x", "s", "ok"], "{f}");
        assert_eq!(ints(&t, "id"), vec![Some(1), Some(2)]);
        assert_eq!(floats(&t, "x"), vec![Some(0.5), None]);
        let ok = t.column("ok").unwrap();
        assert!(ok.as_boolean().value(0) && ok.is_null(1));
        assert_eq!(t.locate(1), Some((f.as_str(), 2)));
    }
    // A pretty-printed object stream is fine as well.
    let pretty = write(dir.path(), "p.json", "{\n \"id\": 5\n}\n{\n \"id\": 6\n}\n");
    assert_eq!(
        ints(&read_file(&pretty, &ReadOptions::default()).unwrap(), "id"),
        vec![Some(5), Some(6)]
    );
}

#[test]
fn malformed_json_names_row_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::new();
    for i in 0..20 {
        body.push_str(&format!("{{\"a\": {i}}}\n"));
    }
    body.push_str("{\"a\": 20,,}\n{\"a\": 21}\n");
    let f = write(dir.path(), "bad.ndjson", &body);
    let e = read_file(&f, &ReadOptions::default()).unwrap_err();
    assert_eq!(e.location.row, Some(21));
    assert!(e.message.contains("malformed JSON at line 21"), "{e}");
    // Past the inference sample, found while decoding.
    let opts = ReadOptions {
        infer_rows: 3,
        ..ReadOptions::default()
    };
    let e = read_file(&f, &opts).unwrap_err();
    assert_eq!(e.location.row, Some(21), "{e}");
    assert!(e.message.contains("line 21"), "{e}");
    let g = write(dir.path(), "bad.json", "[\n{\"a\": 1},\n{\"a\": 2\n");
    let e = read_file(&g, &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("malformed JSON at line"), "{e}");
    let h = write(dir.path(), "scalar.json", "42\n");
    let e = read_file(&h, &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("expected a JSON array of objects"), "{e}");
}

#[test]
fn type_mismatch_and_unknown_keys_after_the_sample_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::new();
    for i in 0..10 {
        body.push_str(&format!("{{\"a\": {i}, \"b\": {i}.5}}\n"));
    }
    body.push_str("{\"a\": 10, \"b\": \"x\"}\n");
    let f = write(dir.path(), "m.ndjson", &body);
    let opts = ReadOptions {
        infer_rows: 5,
        ..ReadOptions::default()
    };
    let e = read_file(&f, &opts).unwrap_err();
    assert_eq!(e.location.row, Some(11), "{e}");
    assert_eq!(e.location.column.as_deref(), Some("b"), "{e}");
    assert!(e.message.contains("line 11"), "{e}");
    let g = write(
        dir.path(),
        "k.ndjson",
        "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3, \"new\": 1}\n",
    );
    let opts = ReadOptions {
        infer_rows: 2,
        ..ReadOptions::default()
    };
    let e = read_file(&g, &opts).unwrap_err();
    assert_eq!(e.location.row, Some(3), "{e}");
    assert!(e.message.contains("'new'") && e.message.contains("infer_rows"), "{e}");
    // Named in types, the late key is a column.
    let opts = ReadOptions {
        infer_rows: 2,
        types: [("new".to_string(), DataType::Int64)].into_iter().collect(),
        ..ReadOptions::default()
    };
    let t = read_file(&g, &opts).unwrap();
    assert_eq!(ints(&t, "new"), vec![None, None, Some(1)]);
}

#[test]
fn integers_are_never_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "i.ndjson", "{\"n\": 1}\n{\"n\": 2}\n{\"n\": 2.5}\n");
    let opts = ReadOptions {
        infer_rows: 2,
        ..ReadOptions::default()
    };
    // Inferred as Int64 from the sample; the fraction widens it.
    let t = read_file(&f, &opts).unwrap();
    assert_eq!(floats(&t, "n"), vec![Some(1.0), Some(2.0), Some(2.5)]);
    // Set by the types option, the fraction is an error.
    let opts = ReadOptions {
        types: [("n".to_string(), DataType::Int64)]
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        ..ReadOptions::default()
    };
    let e = read_file(&f, &opts).unwrap_err();
    assert_eq!((e.location.row, e.location.column.as_deref()), (Some(3), Some("n")));
    assert!(e.message.contains("expected an integer"), "{e}");
    // Numbers read into a text column keep their text.
    let opts = ReadOptions {
        types: [("n".to_string(), DataType::Utf8)].into_iter().collect(),
        ..ReadOptions::default()
    };
    let t = read_file(&f, &opts).unwrap();
    let s = t.column("n").unwrap();
    assert_eq!(s.as_string::<i32>().value(2), "2.5");
}

#[test]
fn files_with_different_keys_unify_and_empty_json_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1.jsonl", "{\"a\": 1}\n");
    write(dir.path(), "2.jsonl", "{\"a\": 2.5, \"b\": \"x\"}\n");
    let opts = ReadOptions {
        format: Some(Format::Ndjson),
        ..ReadOptions::default()
    };
    let t = read(dir.path().to_str().unwrap(), &opts).unwrap();
    assert_eq!(t.column_names(), vec!["a", "b"]);
    // .json and .ndjson files side by side are one source.
    write(dir.path(), "3.json", "[{\"a\": 3}]");
    let t3 = read(dir.path().to_str().unwrap(), &ReadOptions::default()).unwrap();
    assert_eq!(t3.num_rows(), 3);
    assert_eq!(floats(&t, "a"), vec![Some(1.0), Some(2.5)]);
    let e = write(dir.path(), "empty.json", "");
    let err = read_file(&e, &ReadOptions::default()).unwrap_err();
    assert!(err.message.contains("empty (0 bytes)"), "{err}");
    let ws = write(dir.path(), "ws.json", "  \n ");
    let err = read_file(&ws, &ReadOptions::default()).unwrap_err();
    assert!(err.message.contains("only whitespace"), "{err}");
    let arr = write(dir.path(), "none.json", "[]");
    let err = read_file(&arr, &ReadOptions::default()).unwrap_err();
    assert!(err.message.contains("no data rows"), "{err}");
}
