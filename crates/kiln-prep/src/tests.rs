//! Pipeline tests: fit and transform on small tables with hand-computed values,
//! the policies, bad inputs, and a serialisation round trip on random tables.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float64Array, Int64Array, ListArray, StringArray,
    TimestampSecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use arrow::record_batch::RecordBatch;
use kiln_data::{Matrix, Origin, Table};
use proptest::prelude::*;

use crate::categorical::fold_assignment;
use crate::*;

fn table(cols: Vec<(&str, ArrayRef)>) -> Table {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    Table::new(schema, vec![batch]).unwrap()
}

/// The same rows in batches starting at `cuts`, each from "part<i>.csv".
fn in_batches(t: &Table, cuts: &[usize]) -> Table {
    let batch = t.concat().unwrap();
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(batch.num_rows());
    let mut batches = Vec::new();
    let mut origins = Vec::new();
    for (i, w) in bounds.windows(2).enumerate() {
        batches.push(batch.slice(w[0], w[1] - w[0]));
        origins.push(Origin {
            file: format!("part{i}.csv").into(),
            first_row: 1,
        });
    }
    Table::with_origins(t.schema().clone(), batches, origins).unwrap()
}

fn f64s(v: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(v.to_vec()))
}

fn strs(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

fn cfg(text: &str) -> PrepConfig {
    let c: PrepConfig = toml::from_str(text).unwrap();
    c.validate().unwrap();
    c
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn col(m: &Matrix, name: &str) -> Vec<f32> {
    let j = m
        .names()
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", m.names()));
    m.column(j).to_vec()
}

fn fit_all(config: &str, t: &Table, features: &[&str]) -> (FittedPipeline, Matrix) {
    fit(&cfg(config), t, &names(features), None, None, TargetKind::None, 0).unwrap()
}

fn fit_err(config: &str, t: &Table, features: &[&str]) -> kiln_data::DataError {
    fit(&cfg(config), t, &names(features), None, None, TargetKind::None, 0).unwrap_err()
}

fn same_bits(a: &Matrix, b: &Matrix) -> bool {
    a.names() == b.names()
        && a.n_rows() == b.n_rows()
        && a.as_col_major()
            .iter()
            .zip(b.as_col_major())
            .all(|(x, y)| x.to_bits() == y.to_bits())
}

const NAN: f32 = f32::NAN;

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-6 * w.abs().max(1.0),
            "{got:?} vs {want:?}"
        );
    }
}

#[test]
fn numeric_impute_indicator_and_scale_by_hand() {
    let t = table(vec![
        ("x", f64s(&[Some(1.0), Some(2.0), None, Some(4.0), Some(10.0)])),
        ("y", Arc::new(Int64Array::from(vec![5, 5, 5, 5, 5])) as ArrayRef),
    ]);
    let (p, m) = fit_all(
        "impute = \"median\"\nscale = \"standard\"\nmissing_indicator = true",
        &t,
        &["x", "y"],
    );
    assert_eq!(p.feature_names(), names(&["x", "x__missing", "y"]));
    // Median of 1, 2, 4, 10 is 3; then mean 4 and std sqrt(10) of 1, 2, 3, 4, 10.
    let s = 10f64.sqrt();
    let want: Vec<f32> = [1.0, 2.0, 3.0, 4.0, 10.0]
        .iter()
        .map(|v| ((v - 4.0) / s) as f32)
        .collect();
    assert_eq!(col(&m, "x"), want);
    assert_eq!(col(&m, "x__missing"), vec![0.0, 0.0, 1.0, 0.0, 0.0]);
    assert_eq!(col(&m, "y"), vec![0.0; 5], "a constant column is centred");
    assert_eq!(
        p.input_columns(),
        &[
            InputColumn {
                name: "x".into(),
                kind: InputKind::Number,
                data_type: "Float64".into()
            },
            InputColumn {
                name: "y".into(),
                kind: InputKind::Number,
                data_type: "Int64".into()
            }
        ]
    );
    // The training matrix is what transform gives for the same rows.
    assert!(same_bits(&m, &p.transform(&t, None).unwrap()));
}

#[test]
fn statistics_come_from_training_rows_only() {
    let make = |x4: f64, s4: &str| {
        table(vec![
            ("x", f64s(&[Some(1.0), None, Some(3.0), Some(8.0), Some(x4), Some(-x4)])),
            ("s", strs(&[Some("a"), Some("b"), None, Some("a"), Some(s4), Some(s4)])),
        ])
    };
    let config = cfg("scale = \"robust\"\nencode = \"target\"\nmissing_indicator = true\ntarget_folds = 2");
    let train = [0usize, 1, 2, 3];
    let y = [1.0, 0.0, 1.0, 1.0];
    let fit_on = |t: &Table, rows: Option<&[usize]>| {
        let y_all = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let y = if rows.is_some() { &y[..] } else { &y_all[..] };
        let (p, m) = fit(&config, t, &names(&["x", "s"]), rows, Some(y), TargetKind::Binary, 3).unwrap();
        (p.to_json().unwrap(), m)
    };
    let (a, ma) = fit_on(&make(100.0, "zzz"), Some(&train));
    let (b, mb) = fit_on(&make(-5.0, "other"), Some(&train));
    assert_eq!(a, b, "non-training rows changed the fitted statistics");
    assert!(same_bits(&ma, &mb));
    assert_eq!(ma.n_rows(), 4);
    // The same table fitted on all rows does differ (the check above can fail).
    let (c, _) = fit_on(&make(100.0, "zzz"), None);
    assert_ne!(a, c);
}

#[test]
fn onehot_keeps_the_most_frequent_and_buckets_the_rest() {
    let s = strs(&[
        Some("a"),
        Some("b"),
        Some("a"),
        Some("c"),
        Some("b"),
        Some("a"),
        None,
        Some("d"),
    ]);
    let t = table(vec![("s", s)]);
    let (p, m) = fit_all("impute_categorical = \"none\"\nmax_categories = 2", &t, &["s"]);
    assert_eq!(p.feature_names(), names(&["s=a", "s=b", "s=__other__"]));
    assert_eq!(col(&m, "s=a"), vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    assert_eq!(col(&m, "s=b"), vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    assert_eq!(col(&m, "s=__other__"), vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    // Unseen goes to the other bucket.
    let new = table(vec![("s", strs(&[Some("e"), Some("b"), None]))]);
    let m = p.transform(&new, None).unwrap();
    assert_eq!(m.to_row_major(), vec![0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    // Without a cap there is no bucket and unseen is all zeros.
    let (p, _) = fit_all("impute_categorical = \"none\"", &t, &["s"]);
    assert_eq!(p.feature_names(), names(&["s=a", "s=b", "s=c", "s=d"]));
    let m = p.transform(&new, None).unwrap();
    assert_eq!(m.to_row_major()[..4], [0.0; 4]);
    // By default missing is a category of its own (ties in byte order).
    let (p, m) = fit_all("", &t, &["s"]);
    assert_eq!(p.feature_names(), names(&["s=a", "s=b", "s=__missing__", "s=c", "s=d"]));
    assert_eq!(col(&m, "s=__missing__")[6], 1.0);
}

#[test]
fn unseen_categories_under_the_error_policy() {
    let t = table(vec![("s", strs(&[Some("a"), Some("b"), Some("a")]))]);
    for encode in ["onehot", "ordinal", "target"] {
        let config = cfg(&format!(
            "unseen = \"error\"\nencode = \"{encode}\"\nmax_categories = 1"
        ));
        let (p, _) = fit(
            &config,
            &t,
            &names(&["s"]),
            None,
            Some(&[0.0, 1.0, 1.0]),
            TargetKind::Binary,
            1,
        )
        .unwrap();
        // Seen (even if bucketed into other), and missing values imputed to an unseen category: fine.
        let ok = table(vec![("s", strs(&[Some("b"), None, Some("a")]))]);
        p.transform(&ok, None).unwrap();
        let bad = in_batches(
            &table(vec![("s", strs(&[Some("a"), Some("b"), Some("a"), Some("new one")]))]),
            &[2],
        );
        let e = p.transform(&bad, None).unwrap_err();
        assert_eq!(e.location.file.as_deref(), Some("part1.csv"), "{encode}: {e}");
        assert_eq!(e.location.row, Some(2), "{e}");
        assert_eq!(e.location.column.as_deref(), Some("s"));
        assert!(e.message.contains("'new one' was not seen in training"), "{e}");
        // The same rows by index name the table row.
        let e = p.transform(&bad, Some(&[0, 3])).unwrap_err();
        assert_eq!(e.to_string(), format!("part1.csv, row 2, column 's': {}", e.message));
    }
    // Under the default policy: the prior for target encoding, NaN for ordinal.
    let (p, _) = fit(
        &cfg("encode = \"target\"\ntarget_smoothing = 0.0"),
        &t,
        &names(&["s"]),
        None,
        Some(&[0.0, 1.0, 1.0]),
        TargetKind::Binary,
        1,
    )
    .unwrap();
    let m = p
        .transform(&table(vec![("s", strs(&[Some("zz"), Some("a")]))]), None)
        .unwrap();
    assert_close(&col(&m, "s__te"), &[2.0 / 3.0, 0.5]);
    let (p, _) = fit_all("encode = \"ordinal\"", &t, &["s"]);
    let m = p
        .transform(&table(vec![("s", strs(&[Some("zz"), Some("b")]))]), None)
        .unwrap();
    assert!(col(&m, "s")[0].is_nan());
    assert_eq!(col(&m, "s")[1], 1.0);
}

#[test]
fn ordinal_and_categorical_imputation() {
    let t = table(vec![("s", strs(&[Some("b"), Some("a"), Some("c"), None, Some("b")]))]);
    let (_, m) = fit_all("encode = \"ordinal\"\nimpute_categorical = \"none\"", &t, &["s"]);
    let got = col(&m, "s");
    assert_eq!(got[..3], [1.0, 0.0, 2.0]);
    assert!(got[3].is_nan());
    let (_, m) = fit_all(
        "encode = \"ordinal\"\nimpute_categorical = \"most_frequent\"",
        &t,
        &["s"],
    );
    assert_eq!(col(&m, "s"), vec![1.0, 0.0, 2.0, 1.0, 1.0]);
    let (p, m) = fit_all(
        "encode = \"ordinal\"\nimpute_categorical = \"constant\"\nfill_category = \"0-none\"\nmissing_indicator = true",
        &t,
        &["s"],
    );
    assert_eq!(p.feature_names(), names(&["s", "s__missing"]));
    assert_eq!(col(&m, "s"), vec![2.0, 1.0, 3.0, 0.0, 2.0]);
    assert_eq!(col(&m, "s__missing"), vec![0.0, 0.0, 0.0, 1.0, 0.0]);
    // Dictionary-encoded strings read like strings.
    let d: DictionaryArray<Int32Type> = vec![Some("b"), Some("a"), Some("c"), None, Some("b")]
        .into_iter()
        .collect();
    let td = table(vec![("s", Arc::new(d) as ArrayRef)]);
    assert!(same_bits(&p.transform(&td, None).unwrap(), &m));
    let (pd, md) = fit_all(
        "encode = \"ordinal\"\nimpute_categorical = \"constant\"\nfill_category = \"0-none\"\nmissing_indicator = true",
        &td,
        &["s"],
    );
    assert!(same_bits(&md, &m));
    assert!(same_bits(&pd.transform(&t, None).unwrap(), &m));
}

/// Out-of-fold encodings computed directly from the definition.
fn expected_oof(cats: &[&str], y: &[f64], folds: &[u32], m: f64) -> Vec<f32> {
    (0..cats.len())
        .map(|i| {
            let others: Vec<usize> = (0..cats.len()).filter(|&j| folds[j] != folds[i]).collect();
            let prior = others.iter().map(|&j| y[j]).sum::<f64>() / others.len() as f64;
            let same: Vec<f64> = others.iter().filter(|&&j| cats[j] == cats[i]).map(|&j| y[j]).collect();
            if same.is_empty() {
                prior as f32
            } else {
                ((same.iter().sum::<f64>() + m * prior) / (same.len() as f64 + m)) as f32
            }
        })
        .collect()
}

#[test]
fn target_encoding_full_and_out_of_fold() {
    let cats = ["a", "a", "b", "b", "b", "c", "a", "c", "b", "a"];
    let mut y = vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
    let t = table(vec![("s", strs(&cats.map(Some)))]);
    let config = cfg("encode = \"target\"\ntarget_smoothing = 1.0\ntarget_folds = 3");
    let run = |y: &[f64]| fit(&config, &t, &names(&["s"]), None, Some(y), TargetKind::Binary, 42).unwrap();
    let (p, m) = run(&y);
    assert_eq!(p.feature_names(), names(&["s__te"]));
    // Full training: prior 6/10; a: (3 + 0.6) / 5; b: (2 + 0.6) / 5; c: (1 + 0.6) / 3.
    let new = table(vec![("s", strs(&[Some("a"), Some("b"), Some("c"), Some("zz")]))]);
    let full = col(&p.transform(&new, None).unwrap(), "s__te");
    assert_close(&full, &[3.6 / 5.0, 2.6 / 5.0, 1.6 / 3.0, 0.6]);
    // The training matrix holds out-of-fold values.
    let folds = fold_assignment(10, 3, 42);
    assert_close(&col(&m, "s__te"), &expected_oof(&cats, &y, &folds, 1.0));
    // A row's own target does not reach its training value, but does reach the full encoding.
    y[0] = 0.0;
    let (p2, m2) = run(&y);
    assert_eq!(col(&m2, "s__te")[0].to_bits(), col(&m, "s__te")[0].to_bits());
    assert_ne!(col(&p2.transform(&new, None).unwrap(), "s__te")[0], full[0]);
    // Another seed, other folds.
    let (_, m3) = fit(&config, &t, &names(&["s"]), None, Some(&y), TargetKind::Binary, 7).unwrap();
    assert_close(
        &col(&m3, "s__te"),
        &expected_oof(&cats, &y, &fold_assignment(10, 3, 7), 1.0),
    );
}

#[test]
fn target_encoding_multiclass_regression_and_bad_targets() {
    let t = table(vec![(
        "s",
        strs(&[Some("a"), Some("a"), Some("b"), Some("b"), None, Some("b")]),
    )]);
    let config = cfg("encode = \"target\"\ntarget_smoothing = 0.0\nimpute_categorical = \"none\"");
    let new = table(vec![("s", strs(&[Some("a"), Some("b"), None]))]);
    let y = [0.0, 1.0, 2.0, 2.0, 1.0, 1.0];
    let (p, _) = fit(
        &config,
        &t,
        &names(&["s"]),
        None,
        Some(&y),
        TargetKind::Multiclass(3),
        0,
    )
    .unwrap();
    assert_eq!(p.feature_names(), names(&["s__te_0", "s__te_1", "s__te_2"]));
    let m = p.transform(&new, None).unwrap();
    assert_close(
        &m.to_row_major(),
        &[0.5, 0.5, 0.0, 0.0, 1.0 / 3.0, 2.0 / 3.0, NAN, NAN, NAN],
    );
    let y = [1.0, 3.0, 10.0, 20.0, 0.0, 30.0];
    let (p, _) = fit(&config, &t, &names(&["s"]), None, Some(&y), TargetKind::Regression, 0).unwrap();
    assert_close(&col(&p.transform(&new, None).unwrap(), "s__te"), &[2.0, 20.0, NAN]);

    let err = |y: Option<&[f64]>, kind| fit(&config, &t, &names(&["s"]), None, y, kind, 0).unwrap_err();
    assert!(err(None, TargetKind::Binary).message.contains("needs a target"));
    assert!(err(Some(&y), TargetKind::None).message.contains("needs a target"));
    let e = err(Some(&[0.0, 1.0, 2.0, 0.0, 1.0, 0.0]), TargetKind::Binary);
    assert_eq!(e.to_string(), "row 3: target value 2 is not 0 or 1 (binary)");
    let e = err(Some(&[0.0, 1.5, 2.0, 0.0, 1.0, 0.0]), TargetKind::Multiclass(3));
    assert!(
        e.to_string()
            .starts_with("row 2: target value 1.5 is not a class index 0..2"),
        "{e}"
    );
    let e = err(Some(&[0.0, 1.0, f64::NAN, 0.0, 1.0, 0.0]), TargetKind::Regression);
    assert!(e.to_string().starts_with("row 3: target value NaN"), "{e}");
    assert!(err(Some(&[1.0]), TargetKind::Regression)
        .message
        .contains("1 values for 6 training rows"));
}

#[test]
fn booleans_and_numbers_as_categories() {
    let b: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), Some(false), Some(true), None]));
    let zip: ArrayRef = Arc::new(Int64Array::from(vec![Some(10), Some(20), Some(10), Some(30)]));
    let t = table(vec![("b", b), ("zip", zip)]);
    let (p, m) = fit_all(
        "[columns.zip]\nkind = \"categorical\"\nencode = \"ordinal\"",
        &t,
        &["b", "zip"],
    );
    assert_eq!(p.feature_names(), names(&["b=true", "b=__missing__", "b=false", "zip"]));
    assert_eq!(col(&m, "b=true"), vec![1.0, 0.0, 1.0, 0.0]);
    assert_eq!(col(&m, "zip"), vec![0.0, 1.0, 0.0, 2.0]);
    // Scoring sends floats: 20.0 is the category "20".
    let serve = table(vec![
        ("b", Arc::new(BooleanArray::from(vec![false, true, true])) as ArrayRef),
        ("zip", f64s(&[Some(20.0), Some(10.0), Some(10.5)])),
    ]);
    let z = col(&p.transform(&serve, None).unwrap(), "zip");
    assert_eq!(z[..2], [1.0, 0.0]);
    assert!(z[2].is_nan());
    // Booleans as numbers.
    let (_, m) = fit_all("[columns.b]\nkind = \"numeric\"", &t, &["b"]);
    assert_eq!(col(&m, "b"), vec![1.0, 0.0, 1.0, 1.0]);
}

#[test]
fn date_parts_and_timestamps() {
    let d: ArrayRef = Arc::new(Date32Array::from(vec![Some(11_016), Some(19_723), None]));
    // 2024-03-10T23:30:00Z shown at +01:00 is 2024-03-11 00:30 (a Monday).
    let ts = TimestampSecondArray::from(vec![Some(19_792 * 86_400 + 23 * 3600 + 1800), None, Some(0)])
        .with_timezone("+01:00");
    let t = table(vec![("d", d), ("ts", Arc::new(ts) as ArrayRef)]);
    let (p, m) = fit_all("[columns.d__year]\nimpute = \"none\"", &t, &["d", "ts"]);
    assert_eq!(
        p.feature_names(),
        names(&[
            "d__year",
            "d__month",
            "d__day",
            "d__weekday",
            "ts__year",
            "ts__month",
            "ts__day",
            "ts__weekday",
            "ts__hour"
        ])
    );
    let y = col(&m, "d__year");
    assert_eq!(y[..2], [2000.0, 2024.0]);
    assert!(y[2].is_nan());
    assert_eq!(col(&m, "d__month"), vec![2.0, 1.0, 1.5], "median imputed");
    assert_eq!(col(&m, "d__day")[..2], [29.0, 1.0]);
    assert_eq!(col(&m, "d__weekday")[..2], [1.0, 0.0], "2000-02-29 was a Tuesday");
    assert_eq!(col(&m, "ts__day")[0], 11.0);
    assert_eq!(col(&m, "ts__weekday")[0], 0.0);
    assert_eq!(col(&m, "ts__hour")[0], 0.0);
    assert_eq!(col(&m, "ts__hour")[2], 1.0);
    // Dropped, yet usable in derived columns.
    let (p, m) = fit_all(
        "dates = \"drop\"\n[[derive]]\nname = \"age\"\nexpr = \"days(ts) - days(d)\"\n\
         [[derive]]\nname = \"doy\"\nexpr = \"dayofyear(d) + minute(ts)\"\n[columns.age]\nimpute = \"none\"",
        &t,
        &["d", "ts"],
    );
    assert_eq!(p.feature_names(), names(&["age", "doy"]));
    let age = col(&m, "age");
    assert_eq!(age[0], (19_793.0 + 1800.0 / 86_400.0 - 11_016.0) as f32);
    assert!(age[1].is_nan() && age[2].is_nan());
    assert_eq!(col(&m, "doy")[0], 60.0 + 30.0);
    // A kind override on a date column is a mistake.
    let e = fit_err("[columns.d]\nkind = \"numeric\"", &t, &["d"]);
    assert!(e.message.contains("is a date or timestamp"), "{e}");
}

#[test]
fn derived_columns() {
    let t = table(vec![
        ("a", f64s(&[Some(1.0), Some(2.0), Some(4.0), None])),
        ("b", f64s(&[Some(2.0), Some(0.0), Some(1.0), Some(1.0)])),
        ("s", strs(&[Some("x"), Some("y"), Some("x"), Some("y")])),
    ]);
    let config = "impute = \"none\"\n\
        [[derive]]\nname = \"r\"\nexpr = \"a / b\"\n\
        [[derive]]\nname = \"r2\"\nexpr = \"r * 2 + max(a, b) - -1\"\n\
        [[derive]]\nname = \"f\"\nexpr = \"sqrt(a) + log(b) + pow(b, 2) + abs(-a) * exp(0) + min(a, 3)\"\n\
        [[derive]]\nname = \"filled\"\nexpr = \"a * 10\"\n[columns.filled]\nimpute = \"constant\"\nfill_value = -1";
    let (p, m) = fit_all(config, &t, &["a"]);
    assert_eq!(p.feature_names(), names(&["a", "r", "r2", "f", "filled"]));
    assert_close(&col(&m, "r"), &[0.5, NAN, 4.0, NAN]);
    assert_close(&col(&m, "r2"), &[1.0 + 2.0 + 1.0, NAN, 8.0 + 4.0 + 1.0, NAN]);
    let want_f = |a: f64, b: f64| (a.sqrt() + b.ln() + b * b + a + a.min(3.0)) as f32;
    assert_close(&col(&m, "f"), &[want_f(1.0, 2.0), NAN, want_f(4.0, 1.0), NAN]);
    assert_close(&col(&m, "filled"), &[10.0, 20.0, 40.0, -1.0]);
    // `b` feeds a derived column without being a feature itself.
    assert_eq!(
        p.input_columns().iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        vec!["a", "b"]
    );

    let bad = |expr: &str| {
        let e = fit_err(&format!("[[derive]]\nname = \"bad\"\nexpr = \"{expr}\""), &t, &["a"]);
        assert_eq!(e.location.column.as_deref(), Some("bad"));
        e.message
    };
    let m = bad("a / (b");
    assert!(
        m.contains("derived column 'bad'") && m.contains("at position 7") && m.contains("expected ')'"),
        "{m}"
    );
    let m = bad("a + zz");
    assert!(
        m.contains("at position 5, no column 'zz'; the columns are: a, b, s"),
        "{m}"
    );
    assert!(bad("s * 2").contains("'s' is text"));
    assert!(bad("frobnicate(a)").contains("unknown function"));
    let e = fit_err("[[derive]]\nname = \"a\"\nexpr = \"b\"", &t, &["a"]);
    assert!(e.message.contains("has the name of an input column"), "{e}");
    let e = fit_err(
        "[[derive]]\nname = \"x\"\nexpr = \"b\"\n[columns.x]\nencode = \"ordinal\"",
        &t,
        &["a"],
    );
    assert!(e.message.contains("columns.x.encode"), "{e}");
}

#[test]
fn missing_and_wrong_typed_columns() {
    let t = table(vec![
        ("a", f64s(&[Some(1.0), Some(3.0), None])),
        ("s", strs(&[Some("x"), Some("y"), Some("x")])),
    ]);
    let (p, _) = fit_all("", &t, &["a", "s"]);
    let no_s = table(vec![("a", f64s(&[Some(5.0)]))]);
    let e = p.transform(&no_s, None).unwrap_err();
    assert_eq!(e.location.column.as_deref(), Some("s"));
    assert!(
        e.message.contains("input column 's' is missing") && e.message.contains("text, Utf8"),
        "{e}"
    );
    let wrong = table(vec![("a", strs(&[Some("5")])), ("s", strs(&[Some("x")]))]);
    let e = p.transform(&wrong, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "column 'a': column 'a' has type Utf8; expected a number (it was Float64 in training)"
    );
    let wrong = table(vec![("a", f64s(&[Some(5.0)])), ("s", f64s(&[Some(1.0)]))]);
    assert!(p.transform(&wrong, None).unwrap_err().message.contains("expected text"));
    // Allowed to be absent: all missing, then imputed (median 2; "s" imputed to an unseen category).
    let (p, _) = fit_all("missing_columns = \"missing\"", &t, &["a", "s"]);
    let m = p
        .transform(&table(vec![("z", f64s(&[Some(0.0), None]))]), None)
        .unwrap();
    assert_eq!(m.to_row_major(), vec![2.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
    // A column of nulls only, typed Null, is read as all missing.
    let nulls = table(vec![
        ("a", arrow::array::new_null_array(&DataType::Null, 1)),
        ("s", arrow::array::new_null_array(&DataType::Null, 1)),
    ]);
    assert_eq!(p.transform(&nulls, None).unwrap().to_row_major(), vec![2.0, 0.0, 0.0]);
}

#[test]
fn rows_select_without_copying_the_table() {
    let n = 12;
    let t = table(vec![
        (
            "a",
            f64s(
                &(0..n)
                    .map(|i| if i % 5 == 3 { None } else { Some(i as f64 * 1.5) })
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "s",
            strs(
                &(0..n)
                    .map(|i| if i % 4 == 0 { None } else { Some(["p", "q", "r"][i % 3]) })
                    .collect::<Vec<_>>(),
            ),
        ),
    ]);
    let t = in_batches(&t, &[3, 4, 9]);
    let config = cfg("scale = \"standard\"\nmissing_indicator = true\n[[derive]]\nname = \"d\"\nexpr = \"a * a\"");
    let train = [7usize, 0, 2, 11, 5, 3];
    let (p, m) = fit(
        &config,
        &t,
        &names(&["a", "s"]),
        Some(&train),
        None,
        TargetKind::None,
        0,
    )
    .unwrap();
    let copy = t.take(&train).unwrap();
    let (p2, m2) = fit(&config, &copy, &names(&["a", "s"]), None, None, TargetKind::None, 0).unwrap();
    assert_eq!(p.to_json().unwrap(), p2.to_json().unwrap());
    assert!(same_bits(&m, &m2));
    assert!(same_bits(&m, &p.transform(&t, Some(&train)).unwrap()));
    let rows = [10usize, 1, 1, 8, 4, 6, 9];
    assert!(same_bits(
        &p.transform(&t, Some(&rows)).unwrap(),
        &p.transform(&t.take(&rows).unwrap(), None).unwrap()
    ));
    let e = p.transform(&t, Some(&[12])).unwrap_err();
    assert!(
        e.message
            .contains("row index 12 is out of range for a table of 12 rows"),
        "{e}"
    );
    let empty = p.transform(&t, Some(&[])).unwrap();
    assert_eq!((empty.n_rows(), empty.names()), (0, p.feature_names()));
    let e = fit(&config, &t, &names(&["a"]), Some(&[]), None, TargetKind::None, 0).unwrap_err();
    assert!(e.message.contains("no training rows"));
}

#[test]
fn config_mistakes_against_the_table() {
    let list = ListArray::from_iter_primitive::<arrow::datatypes::Int32Type, _, _>(vec![Some(vec![Some(1)]); 2]);
    let t = table(vec![
        ("a", f64s(&[Some(1.0), Some(2.0)])),
        ("s=x", f64s(&[Some(1.0), Some(2.0)])),
        ("s", strs(&[Some("x"), Some("y")])),
        ("l", Arc::new(list) as ArrayRef),
    ]);
    let e = fit_err("[columns.aa]\nscale = \"robust\"", &t, &["a"]);
    assert!(
        e.message
            .contains("columns.aa: 'aa' is not a feature; the features are: a"),
        "{e}"
    );
    assert!(fit_err("drop = [\"zz\"]", &t, &["a"])
        .message
        .contains("drop: no column 'zz'"));
    assert!(fit_err("", &t, &["a", "a"]).message.contains("listed twice"));
    let e = fit_err("", &t, &["nope"]);
    assert!(e.message.contains("feature column 'nope' is not in the table"), "{e}");
    let e = fit_err("", &t, &["l"]);
    assert_eq!(e.location.column.as_deref(), Some("l"));
    assert!(e.message.contains("is not usable"), "{e}");
    let e = fit_err("", &t, &["s=x", "s"]);
    assert!(e.message.contains("two output columns are named 's=x'"), "{e}");
    assert!(fit_err("[columns.s]\nkind = \"numeric\"", &t, &["s"])
        .message
        .contains("can only be categorical"));
    assert!(fit_err("[columns.s]\nscale = \"standard\"", &t, &["s"])
        .message
        .contains("columns.s.scale"));
    // A dropped feature is not fitted; its overrides may stay.
    let (p, _) = fit_all("drop = [\"s\"]\n[columns.s]\nencode = \"ordinal\"", &t, &["a", "s"]);
    assert_eq!(p.feature_names(), names(&["a"]));
}

#[test]
fn a_feature_with_no_training_values_is_reported() {
    let t = table(vec![("a", f64s(&[None, None])), ("b", f64s(&[Some(1.0), Some(2.0)]))]);
    let (p, m) = fit_all("impute = \"mean\"\nscale = \"standard\"", &t, &["a", "b"]);
    assert!(
        p.warnings().iter().any(|w| w.contains("feature 'a' has no values")),
        "{:?}",
        p.warnings()
    );
    assert!(col(&m, "a").iter().all(|v| v.is_nan()));
    assert_eq!(col(&m, "b"), vec![-1.0, 1.0]);
    // And it survives saving (NaN-free JSON, warnings kept).
    let back = FittedPipeline::from_json(&p.to_json().unwrap()).unwrap();
    assert_eq!(back.warnings(), p.warnings());
}

#[test]
fn damaged_saved_pipelines_are_errors_not_panics() {
    let t = table(vec![
        ("a", f64s(&[Some(1.0), Some(2.0)])),
        ("s", strs(&[Some("x"), Some("y")])),
    ]);
    let (p, _) = fit_all("", &t, &["a", "s"]);
    let json: serde_json::Value = serde_json::from_str(&p.to_json().unwrap()).unwrap();
    let load = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = json.clone();
        edit(&mut v);
        FittedPipeline::from_json(&v.to_string())
    };
    assert!(load(&|_| {}).is_ok());
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("format", Box::new(|v| v["format"] = 99.into())),
        (
            "does not fit",
            Box::new(|v| v["features"][0]["expr"] = serde_json::json!({"column": 7})),
        ),
        ("does not fit", Box::new(|v| v["features"][1]["input"] = 5.into())),
        ("feature_names", Box::new(|v| v["feature_names"][0] = "b".into())),
        (
            "listed twice",
            Box::new(|v| v["features"][1]["categories"] = serde_json::json!(["x", "x"])),
        ),
        ("keeps", Box::new(|v| v["features"][1]["encoder"]["kept"] = 5.into())),
        ("scale", Box::new(|v| v["features"][0]["scale"] = 0.into())),
        ("unknown field", Box::new(|v| v["extra"] = 1.into())),
    ];
    for (needle, edit) in cases {
        let e = load(&*edit).unwrap_err();
        assert!(e.message.contains(needle), "{needle}: {e}");
    }
    assert!(FittedPipeline::from_json("{").is_err());
}

#[test]
fn the_documented_example_config_parses() {
    let doc: toml::Table = toml::from_str(include_str!("../example.toml")).unwrap();
    let prep: PrepConfig = doc["prep"].clone().try_into().unwrap();
    prep.validate().unwrap();
    assert_eq!(prep.columns["income"].transform, Some(Transform::YeoJohnson));
    assert_eq!(prep.derive.len(), 4);
    assert_eq!(prep.scale, Scaling::Standard);
}

#[test]
fn two_hundred_thousand_rows_by_twenty_columns() {
    let (n, k) = (200_000usize, 20usize);
    let mut state = 1u64;
    let mut rand = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let cols: Vec<(String, ArrayRef)> = (0..k)
        .map(|j| {
            let v: Vec<Option<f64>> = (0..n)
                .map(|_| {
                    let r = rand();
                    if r < 0.01 {
                        None
                    } else {
                        Some(r * (j + 1) as f64 + j as f64)
                    }
                })
                .collect();
            (format!("c{j}"), f64s(&v))
        })
        .collect();
    let t = table(cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect());
    let t = in_batches(&t, &[50_000, 120_001]);
    let features: Vec<String> = (0..k).map(|j| format!("c{j}")).collect();
    let config = cfg("scale = \"standard\"\nimpute = \"mean\"");
    let (p, m) = fit(&config, &t, &features, None, None, TargetKind::None, 0).unwrap();
    assert_eq!((m.n_rows(), m.n_cols()), (n, k));
    for j in 0..k {
        let c = m.column(j);
        let mean = c.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let var = c.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 1e-4 && (var - 0.99).abs() < 0.02,
            "column {j}: mean {mean}, var {var}"
        );
    }
    let rows: Vec<usize> = (0..n).rev().step_by(7).collect();
    let sub = p.transform(&t, Some(&rows)).unwrap();
    assert_eq!(sub.n_rows(), rows.len());
    for (i, &r) in rows.iter().enumerate().step_by(997) {
        assert_eq!(sub.get(i, 3).to_bits(), m.get(r, 3).to_bits());
    }
}

/// A random table: two float columns with NaNs and nulls, an integer column,
/// a string column with nulls, and a binary target.
fn random_table() -> impl Strategy<Value = (Table, Vec<f64>, Vec<usize>)> {
    (2usize..40).prop_flat_map(|n| {
        let num = prop_oneof![
            3 => (-1e3f64..1e3).prop_map(Some),
            1 => Just(Some(f64::NAN)),
            1 => Just(None),
        ];
        let text = prop_oneof![3 => "[a-e]{1,2}".prop_map(Some), 1 => Just(None)];
        (
            proptest::collection::vec(num.clone(), n),
            proptest::collection::vec(num, n),
            proptest::collection::vec(proptest::option::of(-5i64..5), n),
            proptest::collection::vec(text, n),
            proptest::collection::vec(0u8..2, n),
            proptest::collection::vec(any::<bool>(), n),
        )
            .prop_map(|(x, y, z, s, target, keep)| {
                let s: Vec<Option<&str>> = s.iter().map(|v| v.as_deref()).collect();
                let t = table(vec![
                    ("x", f64s(&x)),
                    ("y", f64s(&y)),
                    ("z", Arc::new(Int64Array::from(z)) as ArrayRef),
                    ("s", strs(&s)),
                ]);
                let mut rows: Vec<usize> = (0..x.len()).filter(|&i| keep[i]).collect();
                if rows.len() < 2 {
                    rows = vec![0, 1];
                }
                let target: Vec<f64> = rows.iter().map(|&i| f64::from(target[i])).collect();
                (t, target, rows)
            })
    })
}

fn random_config() -> impl Strategy<Value = PrepConfig> {
    (
        prop::sample::select(vec!["mean", "median", "most_frequent", "constant", "none"]),
        prop::sample::select(vec!["most_frequent", "constant", "none"]),
        prop::sample::select(vec!["onehot", "ordinal", "target"]),
        prop::sample::select(vec!["standard", "minmax", "robust", "none"]),
        prop::sample::select(vec!["none", "yeo_johnson", "log1p_z"]),
        any::<bool>(),
        1usize..4,
        prop::sample::select(vec!["ignore", "error"]),
    )
        .prop_map(
            |(impute, impute_cat, encode, scale, transform, indicator, max_cat, unseen)| {
                let mut text = format!(
                    "impute = \"{impute}\"\nimpute_categorical = \"{impute_cat}\"\nencode = \"{encode}\"\n\
                 scale = \"{scale}\"\nmissing_indicator = {indicator}\nmax_categories = {max_cat}\n\
                 unseen = \"{unseen}\"\nfill_value = 0.25\ntarget_folds = 3\n\
                 [[derive]]\nname = \"ratio\"\nexpr = \"x / (y + z) + sqrt(abs(x))\"\n\
                 [columns.z]\nkind = \"categorical\"\n"
                );
                match transform {
                    "yeo_johnson" => text.push_str("[columns.y]\ntransform = \"yeo_johnson\"\n"),
                    "log1p_z" => text.push_str("[columns.ratio]\nclip = { min = 0 }\ntransform = \"log1p\"\n"),
                    _ => {}
                }
                cfg(&text)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn a_saved_pipeline_transforms_bit_for_bit_like_the_original(
        (t, target, rows) in random_table(),
        config in random_config(),
        seed in any::<u64>(),
    ) {
        let features = names(&["x", "y", "z", "s"]);
        let (p, m) = fit(&config, &t, &features, Some(&rows), Some(&target), TargetKind::Binary, seed).unwrap();
        let json = p.to_json().unwrap();
        let back = FittedPipeline::from_json(&json).unwrap();
        prop_assert_eq!(back.to_json().unwrap(), json.clone());
        prop_assert_eq!(back.feature_names(), p.feature_names());
        // Every row (training or not); unseen categories may be errors, identically.
        match (p.transform(&t, None), back.transform(&t, None)) {
            (Ok(a), Ok(b)) => prop_assert!(same_bits(&a, &b)),
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a.err(), b.err()),
        }
        let a = p.transform(&t, Some(&rows)).unwrap();
        let b = back.transform(&t, Some(&rows)).unwrap();
        prop_assert!(same_bits(&a, &b));
        // The training matrix equals transform on the training rows except target encodings (out-of-fold).
        for (j, name) in m.names().iter().enumerate() {
            if !name.contains("__te") {
                let same = m.column(j).iter().zip(a.column(j)).all(|(x, y)| x.to_bits() == y.to_bits());
                prop_assert!(same, "{}", name);
            }
        }
    }
}
