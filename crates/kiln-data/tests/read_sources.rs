//! Sources: files, folders, globs, URIs, and schemas across several files.

use std::path::Path;

use kiln_data::arrow::array::AsArray;
use kiln_data::arrow::datatypes::{DataType, Float64Type};
use kiln_data::read::{infer_schema, list_files, read, Format, ReadOptions};

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn format_from_path_and_name() {
    assert_eq!(Format::from_path("a/b.CSV"), Some(Format::Csv));
    assert_eq!(Format::from_path("s3://b/k/x.jsonl"), Some(Format::Ndjson));
    assert_eq!(Format::from_path("x.pq"), Some(Format::Parquet));
    assert_eq!(Format::from_path("x.avro"), Some(Format::Avro));
    assert_eq!(Format::from_path("x.json"), Some(Format::Json));
    assert_eq!(Format::from_path("x.txt"), None);
    assert_eq!(Format::from_path("noext"), None);
    assert_eq!("Parquet".parse::<Format>().unwrap(), Format::Parquet);
    assert!("xlsx".parse::<Format>().is_err());
}

#[test]
fn folders_list_recursively_sorted_skipping_hidden_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "b.csv", "x\n2\n");
    write(d, "a.csv", "x\n1\n");
    write(d, "sub/c.csv", "x\n3\n");
    write(d, ".hidden.csv", "x\nbad\n");
    write(d, "_tmp/d.csv", "x\nbad\n");
    write(d, "README.md", "not data");
    let files = list_files(d.to_str().unwrap(), &ReadOptions::default()).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|f| Path::new(f).strip_prefix(d).unwrap().to_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["a.csv", "b.csv", "sub/c.csv"]);
    let t = read(d.to_str().unwrap(), &ReadOptions::default()).unwrap();
    let x: Vec<i64> = t
        .column("x")
        .unwrap()
        .as_primitive::<kiln_data::arrow::datatypes::Int64Type>()
        .values()
        .to_vec();
    assert_eq!(x, vec![1, 2, 3]);
    assert!(t.locate(2).unwrap().0.ends_with("c.csv"));
    let uri = format!("file://{}", d.to_str().unwrap());
    assert_eq!(list_files(&uri, &ReadOptions::default()).unwrap().len(), 3);
}

#[test]
fn globs_match_files_and_an_empty_match_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "2024-01.csv", "x\n1\n");
    write(d, "2024-02.csv", "x\n2.5\n");
    write(d, "2023-12.csv", "x\n0\n");
    let pattern = format!("{}/2024-*.csv", d.to_str().unwrap());
    let files = list_files(&pattern, &ReadOptions::default()).unwrap();
    assert_eq!(files.len(), 2);
    assert!(files[0].ends_with("2024-01.csv") && files[1].ends_with("2024-02.csv"));
    // Int64 in one file and Float64 in the other unify to Float64.
    let t = read(&pattern, &ReadOptions::default()).unwrap();
    assert_eq!(t.schema().field(0).data_type(), &DataType::Float64);
    let x: Vec<f64> = t.column("x").unwrap().as_primitive::<Float64Type>().values().to_vec();
    assert_eq!(x, vec![1.0, 2.5]);
    let none = format!("{}/1999-*.csv", d.to_str().unwrap());
    let e = list_files(&none, &ReadOptions::default()).unwrap_err();
    assert!(
        e.message.contains("matched no files") && e.to_string().contains("1999-*"),
        "{e}"
    );
    let bad = format!("{}/[.csv", d.to_str().unwrap());
    assert!(list_files(&bad, &ReadOptions::default()).is_err());
}

#[test]
fn missing_sources_and_empty_folders_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("nope");
    let e = list_files(missing.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("nope") && e.message.contains("no such file or folder"),
        "{e}"
    );
    write(d, "notes.txt", "hello");
    let e = list_files(d.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(
        e.message.contains("has no files Kiln reads") && e.message.contains("1 other file"),
        "{e}"
    );
    let opts = ReadOptions {
        format: Some(Format::Parquet),
        ..ReadOptions::default()
    };
    write(d, "a.csv", "x\n1\n");
    let e = list_files(d.to_str().unwrap(), &opts).unwrap_err();
    assert!(e.message.contains("no parquet files"), "{e}");
    write(d, "b.parquet", "PAR1");
    let e = list_files(d.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("several formats (csv, parquet)"), "{e}");
    assert!(list_files("", &ReadOptions::default()).is_err());
}

#[test]
fn csv_files_must_agree_and_a_mismatch_names_both_files_and_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = write(d, "a.csv", "id,city\n1,Paris\n");
    write(d, "b.csv", "city,id\nRome,2\n");
    // Another column order is fine: the first file's order is kept.
    let t = read(d.to_str().unwrap(), &ReadOptions::default()).unwrap();
    assert_eq!(t.column_names(), vec!["id", "city"]);
    assert_eq!(t.column("city").unwrap().as_string::<i32>().value(1), "Rome");
    let c = write(d, "c.csv", "id,city\nthree,Oslo\n");
    let e = read(d.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
    assert_eq!(e.location.file.as_deref(), Some(c.as_str()));
    assert_eq!(e.location.column.as_deref(), Some("id"));
    assert!(e.message.contains(&a), "{e}");
    std::fs::remove_file(&c).unwrap();
    let extra = write(d, "d.csv", "id,city,zip\n4,Bonn,53111\n");
    let e = infer_schema(d.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
    assert_eq!(e.location.file.as_deref(), Some(extra.as_str()));
    assert!(e.message.contains("'zip' is here but not in"), "{e}");
}

#[cfg(not(feature = "cloud"))]
#[test]
fn object_store_uris_need_the_cloud_feature() {
    let e = list_files("s3://bucket/data/*.parquet", &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("`cloud` feature"), "{e}");
}
