//! Parquet and Avro: round trips, type requests, truncated and mismatched files.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_avro::writer::AvroWriter;
use kiln_data::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, Int64Array, StringArray};
use kiln_data::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use kiln_data::arrow::record_batch::RecordBatch;
use kiln_data::read::{infer_schema, read, read_file, ReadOptions};
use kiln_data::to_matrix::{column_f64, table_to_matrix};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

fn batch(start: i64, n: usize) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("small", DataType::Int32, true),
        Field::new("x", DataType::Float64, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    let ids: Vec<i64> = (start..start + n as i64).collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Int32Array::from(
            ids.iter()
                .map(|&i| (i % 3 != 0).then_some(i as i32))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            ids.iter().map(|&i| Some(i as f64 * 0.5)).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            ids.iter().map(|i| format!("n{i}")).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema, cols).unwrap()
}

fn write_parquet(path: &Path, batches: &[RecordBatch], rows_per_group: usize) -> String {
    let f = std::fs::File::create(path).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group))
        .build();
    let mut w = ArrowWriter::try_new(f, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    path.to_str().unwrap().to_string()
}

fn write_avro(path: &Path, batches: &[RecordBatch]) -> String {
    let f = std::fs::File::create(path).unwrap();
    let mut w = AvroWriter::new(f, batches[0].schema().as_ref().clone()).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    path.to_str().unwrap().to_string()
}

fn types(pairs: &[(&str, DataType)]) -> BTreeMap<String, DataType> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[test]
fn parquet_row_groups_read_in_order_with_origins() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_parquet(
        &dir.path().join("a.parquet"),
        &[batch(0, 2500), batch(2500, 1500)],
        1000,
    );
    let t = read_file(&f, &ReadOptions::default()).unwrap();
    assert_eq!(t.num_rows(), 4000);
    assert_eq!(t.batches().len(), 4);
    let ids: Vec<i64> = t.column("id").unwrap().as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, (0..4000).collect::<Vec<_>>());
    assert_eq!(t.schema().field(1).data_type(), &DataType::Int32);
    assert!(t.schema().fields().iter().all(|f| f.is_nullable()));
    assert_eq!(t.locate(3999), Some((f.as_str(), 4000)));
    let small = t.column("small").unwrap();
    assert!(small.is_null(0) && small.is_valid(1));
    let m = table_to_matrix(&t, &["x", "small"]).unwrap();
    assert_eq!(m.get(7, 0), 3.5);
    assert!(m.get(3, 1).is_nan());
    assert_eq!(column_f64(&t, "id").unwrap()[3999], 3999.0);
}

#[test]
fn parquet_type_requests_must_be_lossless() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_parquet(&dir.path().join("a.parquet"), &[batch(0, 10)], 1000);
    let opts = ReadOptions {
        types: types(&[("small", DataType::Int64), ("id", DataType::Utf8)]),
        ..ReadOptions::default()
    };
    let t = read_file(&f, &opts).unwrap();
    assert_eq!(t.schema().field(1).data_type(), &DataType::Int64);
    assert_eq!(t.column("id").unwrap().as_string::<i32>().value(4), "4");
    let opts = ReadOptions {
        types: types(&[("name", DataType::Int64)]),
        ..ReadOptions::default()
    };
    let e = read_file(&f, &opts).unwrap_err();
    assert_eq!(e.location.column.as_deref(), Some("name"));
    assert!(
        e.message.contains("stores this column as Utf8") && e.message.contains("Int64"),
        "{e}"
    );
    assert_eq!(infer_schema(&f, &ReadOptions::default()).unwrap().fields().len(), 4);
}

#[test]
fn truncated_and_foreign_parquet_files_are_errors_with_byte_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_parquet(&dir.path().join("a.parquet"), &[batch(0, 5000)], 1000);
    let bytes = std::fs::read(&f).unwrap();
    for cut in [bytes.len() - 1, bytes.len() - 9, bytes.len() / 2, 5] {
        let p = dir.path().join(format!("cut{cut}.parquet"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let e = read_file(p.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
        assert_eq!(e.location.file.as_deref(), p.to_str());
        assert_eq!(e.location.byte_offset, Some(cut as u64), "{e}");
        assert!(e.message.contains("truncated"), "{e}");
    }
    let csv = dir.path().join("not.parquet");
    std::fs::write(&csv, b"a,b\n1,2\n").unwrap();
    let e = read_file(csv.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("not a Parquet file"), "{e}");
    let empty = dir.path().join("empty.parquet");
    std::fs::write(&empty, b"").unwrap();
    let e = read_file(empty.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("empty (0 bytes)"), "{e}");
}

#[test]
fn parquet_files_of_a_folder_unify_or_name_the_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let a = batch(0, 10);
    write_parquet(&dir.path().join("part-0.parquet"), &[a], 1000);
    // The second file stores `small` as Int64 and its columns in another order.
    let b = batch(10, 5);
    let s2 = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, true),
        Field::new("small", DataType::Int64, true),
        Field::new("x", DataType::Float64, true),
        Field::new("id", DataType::Int64, false),
    ]));
    let small64 = kiln_data::arrow::compute::cast(b.column(1), &DataType::Int64).unwrap();
    let b2 = RecordBatch::try_new(
        s2,
        vec![b.column(3).clone(), small64, b.column(2).clone(), b.column(0).clone()],
    )
    .unwrap();
    write_parquet(&dir.path().join("part-1.parquet"), &[b2], 1000);
    std::fs::write(dir.path().join("_SUCCESS"), b"").unwrap();
    let t = read(dir.path().to_str().unwrap(), &ReadOptions::default()).unwrap();
    assert_eq!(t.num_rows(), 15);
    assert_eq!(t.column_names(), vec!["id", "small", "x", "name"]);
    assert_eq!(t.schema().field(1).data_type(), &DataType::Int64);
    let x: Vec<f64> = t.column("x").unwrap().as_primitive::<Float64Type>().values().to_vec();
    assert_eq!(x[14], 7.0);
    assert_eq!(
        t.locate(12).map(|(f, r)| (f.ends_with("part-1.parquet"), r)),
        Some((true, 3))
    );
    // A third file with `x` as text: the error names both files and the column.
    let s3 = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("small", DataType::Int32, true),
        Field::new("x", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    let c = batch(20, 3);
    let b3 = RecordBatch::try_new(
        s3,
        vec![
            c.column(0).clone(),
            c.column(1).clone(),
            c.column(3).clone(),
            c.column(3).clone(),
        ],
    )
    .unwrap();
    write_parquet(&dir.path().join("part-2.parquet"), &[b3], 1000);
    let e = read(dir.path().to_str().unwrap(), &ReadOptions::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("part-2.parquet") && text.contains("part-0.parquet") && text.contains("'x'"),
        "{text}"
    );
}

#[test]
fn avro_round_trip_and_type_requests() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_avro(&dir.path().join("a.avro"), &[batch(0, 1000), batch(1000, 500)]);
    let t = read_file(&f, &ReadOptions::default()).unwrap();
    assert_eq!(t.num_rows(), 1500);
    let ids: Vec<i64> = t.column("id").unwrap().as_primitive::<Int64Type>().values().to_vec();
    assert_eq!(ids, (0..1500).collect::<Vec<_>>());
    assert_eq!(t.column("name").unwrap().as_string::<i32>().value(1499), "n1499");
    assert!(t.column("small").unwrap().is_null(0));
    // A request the stored schema cannot meet names the column and both types.
    let opts = ReadOptions {
        types: types(&[("name", DataType::Float64)]),
        ..ReadOptions::default()
    };
    let e = read_file(&f, &opts).unwrap_err();
    assert_eq!(e.location.file.as_deref(), Some(f.as_str()));
    assert_eq!(e.location.column.as_deref(), Some("name"));
    assert!(
        e.message.contains("Avro file stores this column as Utf8") && e.message.contains("Float64"),
        "{e}"
    );
    let opts = ReadOptions {
        types: types(&[("small", DataType::Float64)]),
        ..ReadOptions::default()
    };
    let t = read_file(&f, &opts).unwrap();
    assert_eq!(t.column("small").unwrap().as_primitive::<Float64Type>().value(1), 1.0);
}

#[test]
fn truncated_avro_is_an_error_not_fewer_rows() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_avro(&dir.path().join("a.avro"), &[batch(0, 3000)]);
    let bytes = std::fs::read(&f).unwrap();
    for cut in [bytes.len() - 1, bytes.len() - 17, bytes.len() * 2 / 3] {
        let p = dir.path().join(format!("cut{cut}.avro"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let e = read_file(p.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
        assert!(e.location.byte_offset.is_some(), "{e}");
        assert!(e.message.contains("truncated"), "{e}");
    }
    let head = dir.path().join("head.avro");
    std::fs::write(&head, &bytes[..10]).unwrap();
    assert!(read_file(head.to_str().unwrap(), &ReadOptions::default()).is_err());
    let junk = dir.path().join("junk.avro");
    std::fs::write(&junk, b"not avro at all").unwrap();
    let e = read_file(junk.to_str().unwrap(), &ReadOptions::default()).unwrap_err();
    assert!(e.message.contains("Avro"), "{e}");
}
