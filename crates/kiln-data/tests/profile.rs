//! Profiles: statistics per column kind, JSON round trip, drift between profiles.

use std::sync::Arc;

use kiln_data::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray, TimestampSecondArray,
};
use kiln_data::arrow::datatypes::{Field, Schema};
use kiln_data::arrow::record_batch::RecordBatch;
use kiln_data::profile::{compare, profile, ColumnKind, DriftLevel, Profile, ProfileOptions, PROFILE_VERSION};
use kiln_data::rng::Rng;
use kiln_data::Table;

fn table(cols: Vec<(&str, ArrayRef)>) -> Table {
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let b = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    Table::new(schema, vec![b]).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * (1.0 + b.abs())
}

#[test]
fn numeric_statistics_are_exact() {
    let t = table(vec![("x", Arc::new(Int64Array::from_iter_values(1..=100)))]);
    let p = profile(&t, &ProfileOptions::default()).unwrap();
    assert_eq!(p.rows, 100);
    assert_eq!(p.version, PROFILE_VERSION);
    let c = p.column("x").unwrap();
    assert_eq!(c.kind, ColumnKind::Numeric);
    assert_eq!((c.count, c.nulls, c.distinct, c.distinct_exact), (100, 0, 100, true));
    let n = c.numeric.as_ref().unwrap();
    assert_eq!((n.min, n.max), (1.0, 100.0));
    assert!(close(n.mean, 50.5));
    // Sample standard deviation of 1..=100: sqrt(100 * 101 / 12).
    assert!(close(n.std, (100.0f64 * 101.0 / 12.0).sqrt()), "{}", n.std);
    assert!(close(n.quantiles.p50, 50.5));
    assert!(close(n.quantiles.p25, 25.75));
    assert!(close(n.quantiles.p1, 1.99));
    assert!(close(n.quantiles.p99, 99.01));
    assert_eq!(n.histogram.counts.len(), 20);
    assert_eq!(n.histogram.edges.len(), 21);
    assert_eq!(n.histogram.counts.iter().sum::<u64>(), 100);
    assert_eq!(n.histogram.edges[0], 1.0);
    assert_eq!(*n.histogram.edges.last().unwrap(), 100.0);
    // Equal-width bins over 1..100 hold 5 values each (give or take the edges).
    assert!(
        n.histogram.counts.iter().all(|&k| (4..=6).contains(&k)),
        "{:?}",
        n.histogram.counts
    );
}

#[test]
fn nulls_nan_and_infinities_are_counted_not_mixed_in() {
    let t = table(vec![(
        "x",
        Arc::new(Float64Array::from(vec![
            Some(1.0),
            None,
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(3.0),
            Some(3.0),
        ])),
    )]);
    let p = profile(&t, &ProfileOptions::default()).unwrap();
    let c = p.column("x").unwrap();
    assert_eq!((c.nulls, c.nan), (1, 1));
    assert_eq!(c.count, 4, "1, inf, 3, 3");
    assert_eq!(c.distinct, 3);
    let n = c.numeric.as_ref().unwrap();
    assert_eq!(n.infinite, 1);
    assert_eq!((n.min, n.max), (1.0, 3.0));
    assert!(close(n.mean, 7.0 / 3.0));
    assert!(close(c.missing_rate(), 2.0 / 6.0));
    // All-null numeric columns have no statistics.
    let t = table(vec![("y", Arc::new(Float64Array::from(vec![None, None])))]);
    let p = profile(&t, &ProfileOptions::default()).unwrap();
    assert!(p.columns[0].numeric.is_none());
    assert_eq!(p.columns[0].missing_rate(), 1.0);
}

#[test]
fn categories_bools_and_times() {
    let plans: Vec<&str> = (0..100)
        .map(|i| match i % 10 {
            0..=5 => "basic",
            6..=8 => "pro",
            _ => "team",
        })
        .collect();
    let t = table(vec![
        ("plan", Arc::new(StringArray::from(plans))),
        (
            "ok",
            Arc::new(BooleanArray::from(
                (0..100).map(|i| Some(i % 4 == 0)).collect::<Vec<_>>(),
            )),
        ),
        (
            "day",
            Arc::new(Date32Array::from_iter_values((0..100).map(|i| 19723 + i))),
        ),
        (
            "ts",
            Arc::new(TimestampSecondArray::from_iter_values(
                (0..100).map(|i| 1_700_000_000 + i * 60),
            )),
        ),
    ]);
    let p = profile(
        &t,
        &ProfileOptions {
            top_k: 2,
            ..ProfileOptions::default()
        },
    )
    .unwrap();
    let plan = p.column("plan").unwrap();
    assert_eq!(plan.kind, ColumnKind::Categorical);
    assert_eq!((plan.distinct, plan.distinct_exact), (3, true));
    let top: Vec<(&str, u64)> = plan.top.iter().map(|c| (c.value.as_str(), c.count)).collect();
    assert_eq!(top, vec![("basic", 60), ("pro", 30)], "top_k = 2, most frequent first");
    let ok = p.column("ok").unwrap();
    assert_eq!(ok.kind, ColumnKind::Bool);
    assert_eq!((ok.top[0].value.as_str(), ok.top[0].count), ("false", 75));
    let day = p.column("day").unwrap();
    assert_eq!(day.kind, ColumnKind::Temporal);
    assert_eq!(day.min_text.as_deref(), Some("2024-01-01"));
    assert_eq!(day.max_text.as_deref(), Some("2024-04-09"));
    assert_eq!(day.numeric.as_ref().unwrap().histogram.counts.iter().sum::<u64>(), 100);
    let ts = p.column("ts").unwrap();
    assert_eq!(ts.min_text.as_deref(), Some("2023-11-14T22:13:20"));
    // The readable table names every column.
    let text = p.to_string();
    assert!(
        text.contains("plan") && text.contains("basic (60)") && text.contains("2024-01-01"),
        "{text}"
    );
}

#[test]
fn distinct_counts_stop_at_the_cap() {
    let t = table(vec![(
        "s",
        Arc::new(StringArray::from_iter_values((0..50).map(|i| format!("v{i}")))),
    )]);
    let p = profile(
        &t,
        &ProfileOptions {
            distinct_cap: 10,
            ..ProfileOptions::default()
        },
    )
    .unwrap();
    let c = &p.columns[0];
    assert_eq!((c.distinct, c.distinct_exact, c.count), (10, false, 50));
    assert!(p.to_string().contains(">=10"));
}

#[test]
fn json_round_trip_and_bad_files() {
    let t = table(vec![
        ("x", Arc::new(Float64Array::from(vec![Some(0.1), None, Some(2.5)]))),
        ("s", Arc::new(StringArray::from(vec!["a", "b", "a"]))),
    ]);
    let p = profile(&t, &ProfileOptions::default()).unwrap();
    let json = p.to_json().unwrap();
    assert_eq!(Profile::from_json(&json, "p.json").unwrap(), p);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    p.save(&path).unwrap();
    assert_eq!(Profile::load(&path).unwrap(), p);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(close(
        v["columns"][0]["numeric"]["quantiles"]["p50"].as_f64().unwrap(),
        1.3
    ));
    let e = Profile::from_json("{\"rows\": 3}", "bad.json").unwrap_err();
    assert!(e.to_string().starts_with("bad.json: not a Kiln profile"), "{e}");
    let newer = json.replacen(&format!("\"version\": {PROFILE_VERSION}"), "\"version\": 99", 1);
    let e = Profile::from_json(&newer, "new.json").unwrap_err();
    assert!(e.message.contains("newer"), "{e}");
    let broken = json.replacen("\"counts\": [", "\"counts\": [7, ", 1);
    let e = Profile::from_json(&broken, "broken.json").unwrap_err();
    assert!(
        e.to_string().starts_with("broken.json, column 'x'") && e.message.contains("edges"),
        "{e}"
    );
    let e = Profile::load(&dir.path().join("none.json")).unwrap_err();
    assert!(e.to_string().contains("none.json"), "{e}");
}

fn normal_table(seed: u64, n: usize, shift: f64, scale: f64, cats: &[(&'static str, f64)]) -> Table {
    let mut r = Rng::new(seed);
    let x: Vec<f64> = (0..n).map(|_| shift + scale * r.normal()).collect();
    let c: Vec<&str> = (0..n)
        .map(|_| {
            let u = r.uniform();
            let mut acc = 0.0;
            for (name, w) in cats {
                acc += w;
                if u < acc {
                    return *name;
                }
            }
            cats.last().unwrap().0
        })
        .collect();
    table(vec![
        ("x", Arc::new(Float64Array::from(x))),
        ("c", Arc::new(StringArray::from(c))),
    ])
}

const CATS: &[(&str, f64)] = &[("a", 0.5), ("b", 0.3), ("c", 0.2)];

#[test]
fn same_distribution_is_stable_shifted_is_major() {
    let opts = ProfileOptions::default();
    let reference = profile(&normal_table(1, 5000, 0.0, 1.0, CATS), &opts).unwrap();
    let same = profile(&normal_table(2, 5000, 0.0, 1.0, CATS), &opts).unwrap();
    let d = compare(&reference, &same);
    let x = d.column("x").unwrap();
    assert_eq!(x.level, DriftLevel::Stable, "{d}");
    assert!(x.psi.unwrap() < 0.05 && x.ks.unwrap() < 0.05, "{d}");
    assert_eq!(d.column("c").unwrap().level, DriftLevel::Stable, "{d}");
    assert_eq!(d.worst(), DriftLevel::Stable);

    let shifted = profile(
        &normal_table(3, 5000, 1.0, 1.0, &[("a", 0.2), ("b", 0.3), ("c", 0.5)]),
        &opts,
    )
    .unwrap();
    let d = compare(&reference, &shifted);
    let x = d.column("x").unwrap();
    assert_eq!(x.level, DriftLevel::Major, "{d}");
    // The KS distance of N(0,1) and N(1,1) is 2 * Phi(0.5) - 1 = 0.383.
    assert!((x.ks.unwrap() - 0.383).abs() < 0.06, "{d}");
    let c = d.column("c").unwrap();
    assert_eq!(c.level, DriftLevel::Major, "{d}");
    assert!(d.to_string().contains("major"));
}

#[test]
fn binning_on_the_reference_edges_gives_the_same_answer_as_rebinning() {
    let reference = profile(&normal_table(1, 4000, 0.0, 1.0, CATS), &ProfileOptions::default()).unwrap();
    let current = normal_table(4, 4000, 0.3, 1.2, CATS);
    let plain = profile(&current, &ProfileOptions::default()).unwrap();
    let aligned = profile(
        &current,
        &ProfileOptions {
            reference: Some(reference.clone()),
            ..ProfileOptions::default()
        },
    )
    .unwrap();
    let h = &aligned.column("x").unwrap().numeric.as_ref().unwrap().histogram;
    assert_eq!(
        h.edges,
        reference.column("x").unwrap().numeric.as_ref().unwrap().histogram.edges
    );
    assert!(
        h.below + h.above > 0,
        "a wider current distribution spills over the reference range"
    );
    assert_eq!(h.total(), 4000);
    let exact = compare(&reference, &aligned).column("x").unwrap().psi.unwrap();
    let approx = compare(&reference, &plain).column("x").unwrap().psi.unwrap();
    assert!(exact > 0.1, "{exact}");
    assert!(
        (exact - approx).abs() < 0.25 * exact,
        "exact {exact}, re-binned {approx}"
    );
}

#[test]
fn new_categories_missing_columns_and_type_changes() {
    let a = table(vec![
        ("c", Arc::new(StringArray::from(vec!["a", "b", "a", "b"]))),
        ("gone", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
        ("n", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
    ]);
    let b = table(vec![
        ("c", Arc::new(StringArray::from(vec!["a", "b", "z", "z"]))),
        ("n", Arc::new(StringArray::from(vec!["1", "2", "3", "x"]))),
        ("fresh", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
    ]);
    let opts = ProfileOptions::default();
    let d = compare(&profile(&a, &opts).unwrap(), &profile(&b, &opts).unwrap());
    assert_eq!(d.column("c").unwrap().new_categories, vec!["z".to_string()]);
    assert_eq!(d.missing_columns, vec!["gone".to_string()]);
    assert_eq!(d.new_columns, vec!["fresh".to_string()]);
    let n = d.column("n").unwrap();
    assert_eq!(n.type_change.as_deref(), Some("Int64 -> Utf8"));
    assert_eq!(n.level, DriftLevel::Major);
    assert_eq!(d.worst(), DriftLevel::Major);
    let json = serde_json::to_string(&d).unwrap();
    let back: kiln_data::profile::DriftReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, d);
}

#[test]
fn missing_rate_change_is_reported() {
    let a = table(vec![(
        "x",
        Arc::new(Float64Array::from(vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)])),
    )]);
    let b = table(vec![(
        "x",
        Arc::new(Float64Array::from(vec![Some(1.0), None, None, Some(4.0)])),
    )]);
    let opts = ProfileOptions::default();
    let d = compare(&profile(&a, &opts).unwrap(), &profile(&b, &opts).unwrap());
    let x = d.column("x").unwrap();
    assert_eq!((x.reference_missing_rate, x.current_missing_rate), (0.0, 0.5));
}
