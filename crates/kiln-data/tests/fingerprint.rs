//! Fingerprints: independent of row order, chunking, file order and column
//! order; sensitive to any changed value, row count or schema.

use std::sync::Arc;

use kiln_data::arrow::array::{
    ArrayRef, Date32Array, Date64Array, Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray,
    StringArray, TimestampMillisecondArray, TimestampSecondArray,
};
use kiln_data::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use kiln_data::arrow::record_batch::RecordBatch;
use kiln_data::fingerprint::fingerprint;
use kiln_data::rng::Rng;
use kiln_data::{Origin, Table};
use proptest::prelude::*;

type Row = (Option<i64>, f64, Option<String>);

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int64, true),
        Field::new("x", DataType::Float64, false),
        Field::new("s", DataType::Utf8, true),
    ]))
}

fn batch(rows: &[Row]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
            Arc::new(Float64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
            Arc::new(StringArray::from(rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>())),
        ],
    )
    .unwrap()
}

/// The rows in batches cut at the given sizes (the rest in a last batch).
fn chunked(rows: &[Row], cuts: &[usize]) -> Table {
    let mut batches = Vec::new();
    let mut start = 0;
    for &c in cuts {
        let end = (start + c).min(rows.len());
        batches.push(batch(&rows[start..end]));
        start = end;
    }
    batches.push(batch(&rows[start..]));
    Table::new(schema(), batches).unwrap()
}

fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            prop::option::of(-1000i64..1000),
            prop::num::f64::NORMAL | prop::num::f64::ZERO,
            prop::option::of("[a-c]{0,3}"),
        ),
        1..60,
    )
}

proptest! {
    #[test]
    fn permutation_and_rechunking_keep_the_hash(
        rows in rows_strategy(),
        seed in any::<u64>(),
        cuts in prop::collection::vec(0usize..20, 0..5),
    ) {
        let a = fingerprint(&chunked(&rows, &[])).unwrap();
        let mut shuffled = rows.clone();
        Rng::new(seed).shuffle(&mut shuffled);
        let b = fingerprint(&chunked(&shuffled, &cuts)).unwrap();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn a_changed_value_changes_the_hash(
        rows in rows_strategy(),
        pick in any::<prop::sample::Index>(),
        which in 0usize..3,
    ) {
        let a = fingerprint(&chunked(&rows, &[])).unwrap();
        let mut changed = rows.clone();
        let r = &mut changed[pick.index(rows.len())];
        match which {
            0 => r.0 = Some(r.0.map_or(5000, |v| v + 1)),
            1 => r.1 = if r.1 == 0.0 { 1.0 } else { r.1 * 2.0 },
            _ => r.2 = Some(format!("{}z", r.2.clone().unwrap_or_default())),
        }
        let b = fingerprint(&chunked(&changed, &[])).unwrap();
        prop_assert_ne!(a, b);
    }
}

fn rows() -> Vec<Row> {
    (0..100)
        .map(|i| (Some(i), i as f64 * 0.5, Some(format!("s{}", i % 7))))
        .collect()
}

#[test]
fn file_order_does_not_matter() {
    let r = rows();
    let a = batch(&r[..40]);
    let b = batch(&r[40..]);
    let o = |f: &str| Origin {
        file: f.into(),
        first_row: 1,
    };
    let t1 = Table::with_origins(schema(), vec![a.clone(), b.clone()], vec![o("a.csv"), o("b.csv")]).unwrap();
    let t2 = Table::with_origins(schema(), vec![b, a], vec![o("b.csv"), o("a.csv")]).unwrap();
    assert_eq!(fingerprint(&t1).unwrap(), fingerprint(&t2).unwrap());
}

#[test]
fn duplicates_count_rows_count_and_empty_tables_differ() {
    let r = rows();
    let base = fingerprint(&chunked(&r, &[])).unwrap();
    let mut dup = r.clone();
    dup.push(r[3].clone());
    assert_ne!(fingerprint(&chunked(&dup, &[])).unwrap(), base);
    let mut dropped = r.clone();
    dropped.pop();
    assert_ne!(fingerprint(&chunked(&dropped, &[])).unwrap(), base);
    // Swapping values between rows (same multiset of column values) is a change.
    let mut swapped = r.clone();
    let (a, b) = (swapped[0].1, swapped[1].1);
    swapped[0].1 = b;
    swapped[1].1 = a;
    assert_ne!(fingerprint(&chunked(&swapped, &[])).unwrap(), base);
    let e1 = fingerprint(&Table::empty(schema())).unwrap();
    let other = Arc::new(Schema::new(vec![Field::new("j", DataType::Int64, true)]));
    let e2 = fingerprint(&Table::empty(other)).unwrap();
    assert_ne!(e1, e2, "the schema is part of the hash");
    assert_eq!(e1.to_hex().len(), 64);
    assert!(e1.to_hex().chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn null_and_empty_string_and_zero_differ() {
    let t = |s: Option<&str>, i: Option<i64>| {
        let rows = vec![(i, 1.0, s.map(String::from))];
        fingerprint(&chunked(&rows, &[])).unwrap()
    };
    assert_ne!(t(None, Some(1)), t(Some(""), Some(1)));
    assert_ne!(t(Some("a"), None), t(Some("a"), Some(0)));
    // Moving text between columns is a change ("ab","" vs "a","b").
    let two = |a: &str, b: &str| {
        let s = Arc::new(Schema::new(vec![
            Field::new("p", DataType::Utf8, false),
            Field::new("q", DataType::Utf8, false),
        ]));
        let b = RecordBatch::try_new(
            s.clone(),
            vec![
                Arc::new(StringArray::from(vec![a])),
                Arc::new(StringArray::from(vec![b])),
            ],
        )
        .unwrap();
        fingerprint(&Table::new(s, vec![b]).unwrap()).unwrap()
    };
    assert_ne!(two("ab", ""), two("a", "b"));
}

fn one_col(name: &str, a: ArrayRef) -> Table {
    let s = Arc::new(Schema::new(vec![Field::new(name, a.data_type().clone(), true)]));
    Table::new(s.clone(), vec![RecordBatch::try_new(s, vec![a]).unwrap()]).unwrap()
}

#[test]
fn logically_equal_columns_from_different_readers_hash_equal() {
    let f = |a: ArrayRef| fingerprint(&one_col("c", a)).unwrap();
    assert_eq!(
        f(Arc::new(Int32Array::from(vec![1, -2, 3]))),
        f(Arc::new(Int64Array::from(vec![1, -2, 3])))
    );
    assert_eq!(
        f(Arc::new(StringArray::from(vec!["a", "b"]))),
        f(Arc::new(LargeStringArray::from(vec!["a", "b"])))
    );
    assert_eq!(
        f(Arc::new(Float32Array::from(vec![0.5, 2.0]))),
        f(Arc::new(Float64Array::from(vec![0.5, 2.0])))
    );
    assert_eq!(
        f(Arc::new(Date32Array::from(vec![19723]))),
        f(Arc::new(Date64Array::from(vec![19723 * 86_400_000])))
    );
    assert_eq!(
        f(Arc::new(TimestampSecondArray::from(vec![1_700_000_000]))),
        f(Arc::new(TimestampMillisecondArray::from(vec![1_700_000_000_000])))
    );
    assert_eq!(
        f(Arc::new(Float64Array::from(vec![f64::NAN]))),
        f(Arc::new(Float64Array::from(vec![-f64::NAN])))
    );
    // But different families differ: the number 1 is not the text "1".
    assert_ne!(
        f(Arc::new(Int64Array::from(vec![1]))),
        f(Arc::new(StringArray::from(vec!["1"])))
    );
    // And the column name matters; column order does not.
    assert_ne!(
        fingerprint(&one_col("c", Arc::new(Int64Array::from(vec![1])))).unwrap(),
        fingerprint(&one_col("d", Arc::new(Int64Array::from(vec![1])))).unwrap()
    );
    let t = chunked(&rows(), &[]);
    let reordered = t.select(&["s", "i", "x"]).unwrap();
    assert_eq!(fingerprint(&t).unwrap(), fingerprint(&reordered).unwrap());
}

#[test]
fn large_tables_hash_the_same_in_parallel_chunks() {
    // More rows than one hashing chunk, so several threads take part.
    let n = 70_000;
    let rows: Vec<Row> = (0..n).map(|i| (Some(i % 1000), (i as f64).sqrt(), None)).collect();
    let a = fingerprint(&chunked(&rows, &[])).unwrap();
    let b = fingerprint(&chunked(&rows, &[1, 33_333, 20_000])).unwrap();
    assert_eq!(a, b);
}
