//! Deduplication on a key and on whole rows: first occurrence kept, every removal reported.

use std::sync::Arc;

use kiln_data::arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use kiln_data::arrow::datatypes::{Field, Int64Type, Schema};
use kiln_data::arrow::record_batch::RecordBatch;
use kiln_data::dedup::{dedup, DedupKey};
use kiln_data::{Origin, Table};

fn table() -> Table {
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2, 1, 3, 2, 1]))),
        (
            "name",
            Arc::new(StringArray::from(vec![
                Some("a"),
                Some("b"),
                Some("a"),
                None,
                Some("x"),
                None,
            ])),
        ),
        ("v", Arc::new(Float64Array::from(vec![1.0, 2.0, 1.0, 3.0, 2.0, 9.0]))),
    ];
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let b = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    // Two files of three rows each.
    let origins = vec![
        Origin {
            file: "a.csv".into(),
            first_row: 1,
        },
        Origin {
            file: "b.csv".into(),
            first_row: 1,
        },
    ];
    Table::with_origins(schema, vec![b.slice(0, 3), b.slice(3, 3)], origins).unwrap()
}

fn ids(t: &Table) -> Vec<i64> {
    t.column("id").unwrap().as_primitive::<Int64Type>().values().to_vec()
}

#[test]
fn key_dedup_keeps_the_first_occurrence_in_order() {
    let t = table();
    let d = dedup(&t, &DedupKey::Columns(vec!["id".into()])).unwrap();
    assert_eq!(ids(&d.table), vec![1, 2, 3]);
    assert_eq!(d.removed, 3);
    let v = d.table.column("v").unwrap();
    assert_eq!(
        v.as_primitive::<kiln_data::arrow::datatypes::Float64Type>()
            .values()
            .to_vec(),
        vec![1.0, 2.0, 3.0]
    );
    let rows: Vec<usize> = d.removed_rows.iter().map(|r| r.row).collect();
    assert_eq!(rows, vec![2, 4, 5]);
    let r = &d.removed_rows[1];
    assert_eq!(r.location.to_string(), "b.csv, row 2");
    assert_eq!(r.first.to_string(), "a.csv, row 2");
    assert_eq!(r.first_row, 1);
    assert_eq!(d.table.num_rows() + d.removed, t.num_rows());
}

#[test]
fn whole_row_dedup_compares_every_column() {
    let d = dedup(&table(), &DedupKey::WholeRow).unwrap();
    // Only row 3 (1, "a", 1.0) repeats row 1 exactly.
    assert_eq!(ids(&d.table), vec![1, 2, 3, 2, 1]);
    assert_eq!(d.removed, 1);
    assert_eq!(d.removed_rows[0].location.to_string(), "a.csv, row 3");
    assert_eq!(d.removed_rows[0].first.to_string(), "a.csv, row 1");
}

#[test]
fn composite_keys_and_nulls_compare_equal() {
    let d = dedup(&table(), &DedupKey::Columns(vec!["id".into(), "name".into()])).unwrap();
    // (1,a) (2,b) (1,a)x (3,null) (2,x) (1,null): only the repeated (1,a) goes.
    assert_eq!(d.removed, 1);
    let d = dedup(&table(), &DedupKey::Columns(vec!["name".into()])).unwrap();
    // a, b, a x, null, x, null x: two nulls are the same key.
    assert_eq!(d.removed, 2);
    assert_eq!(d.removed_rows[1].location.to_string(), "b.csv, row 3");
    assert_eq!(d.removed_rows[1].first.to_string(), "b.csv, row 1");
}

#[test]
fn no_duplicates_returns_the_table_unchanged() {
    // Rows 1, 2, 4, 5, 6 of the fixture are distinct as whole rows.
    let t = table();
    let distinct = t.take(&[0, 1, 3, 4, 5]).unwrap();
    let origin = Origin {
        file: "c.csv".into(),
        first_row: 1,
    };
    let distinct = Table::with_origins(distinct.schema().clone(), distinct.into_batches(), vec![origin]).unwrap();
    let d = dedup(&distinct, &DedupKey::WholeRow).unwrap();
    assert_eq!(d.removed, 0);
    assert!(d.removed_rows.is_empty());
    assert_eq!(d.table.num_rows(), 5);
    assert_eq!(
        d.table.locate(4),
        Some(("c.csv", 5)),
        "origins kept when nothing is removed"
    );
    let empty = Table::empty(t.schema().clone());
    assert_eq!(dedup(&empty, &DedupKey::WholeRow).unwrap().removed, 0);
}

#[test]
fn bad_keys_are_errors_naming_the_column() {
    let e = dedup(&table(), &DedupKey::Columns(vec!["nope".into()])).unwrap_err();
    assert!(
        e.message.contains("no column 'nope'") && e.message.contains("id, name, v"),
        "{e}"
    );
    let e = dedup(&table(), &DedupKey::Columns(vec![])).unwrap_err();
    assert!(e.message.contains("at least one column"), "{e}");
}
