//! Splits and folds: sizes, disjointness, coverage, stratification, groups,
//! time order, determinism, and the errors for inputs that cannot be split.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kiln_data::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, TimestampSecondArray};
use kiln_data::arrow::datatypes::{Field, Schema};
use kiln_data::arrow::record_batch::RecordBatch;
use kiln_data::rng::Rng;
use kiln_data::split::{
    folds_table, group_kfold, grouped, kfold, random, split_table, stratified, stratified_kfold, time_ordered,
    time_series_folds, Fold, FoldScheme, Fractions, Split, SplitScheme,
};
use kiln_data::{Origin, Table};

/// Every row in exactly one part, each part sorted.
fn assert_partition(s: &Split, n: usize) {
    let mut all: Vec<usize> = s.train.iter().chain(&s.valid).chain(&s.test).copied().collect();
    for (_, p) in s.parts() {
        assert!(
            p.windows(2).all(|w| w[0] < w[1]),
            "parts are sorted and have no repeats"
        );
    }
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>(), "disjoint and covering");
}

fn assert_folds(folds: &[Fold], n: usize) {
    let mut seen = vec![0; n];
    for f in folds {
        let v: HashSet<usize> = f.valid.iter().copied().collect();
        let t: HashSet<usize> = f.train.iter().copied().collect();
        assert!(v.is_disjoint(&t));
        assert_eq!(v.len() + t.len(), n, "train is the rest");
        for &r in &f.valid {
            seen[r] += 1;
        }
    }
    assert!(seen.iter().all(|&c| c == 1), "each row validates exactly once");
}

fn labels(n: usize, seed: u64) -> Vec<String> {
    // Unbalanced classes: ~60% a, 30% b, 10% c.
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| {
            let u = r.uniform();
            (if u < 0.6 {
                "a"
            } else if u < 0.9 {
                "b"
            } else {
                "c"
            })
            .to_string()
        })
        .collect()
}

#[test]
fn random_split_sizes_partition_and_seeds() {
    let f = Fractions::default();
    for n in [3, 10, 101, 1000] {
        let s = random(n, &f, 7).unwrap();
        assert_partition(&s, n);
        assert!(s.sizes().iter().all(|&k| k >= 1));
    }
    let s = random(1000, &f, 7).unwrap();
    assert_eq!(s.sizes(), [700, 150, 150]);
    assert_eq!(random(1000, &f, 7).unwrap(), s, "same seed, same split");
    assert_ne!(random(1000, &f, 8).unwrap(), s, "another seed, another split");
    let no_valid = Fractions::new(0.8, 0.0, 0.2).unwrap();
    let s = random(10, &no_valid, 1).unwrap();
    assert_eq!(s.sizes(), [8, 0, 2]);
    let e = random(2, &f, 1).unwrap_err();
    assert!(e.message.contains("2 rows cannot be split 70/15/15"), "{e}");
}

#[test]
fn fractions_are_checked() {
    assert!(Fractions::new(0.7, 0.2, 0.2).unwrap_err().message.contains("sum to"));
    assert!(Fractions::new(1.2, -0.1, -0.1)
        .unwrap_err()
        .message
        .contains("from 0 to 1"));
    assert!(Fractions::new(0.0, 0.5, 0.5).unwrap_err().message.contains("train"));
    assert!(Fractions::new(f64::NAN, 0.5, 0.5).is_err());
    let f = Fractions::with_valid_test(0.1, 0.2).unwrap();
    assert!((f.train - 0.7).abs() < 1e-12);
}

#[test]
fn stratified_split_keeps_each_class_within_one_row() {
    let f = Fractions::default();
    for seed in 0..5 {
        let y = labels(997, seed);
        let s = stratified(&y, &f, seed).unwrap();
        assert_partition(&s, y.len());
        let mut per_class: HashMap<&str, usize> = HashMap::new();
        for l in &y {
            *per_class.entry(l).or_default() += 1;
        }
        for (class, &n_c) in &per_class {
            for ((_, part), frac) in s.parts().iter().zip([f.train, f.valid, f.test]) {
                let got = part.iter().filter(|&&r| y[r] == *class).count() as f64;
                let quota = n_c as f64 * frac;
                assert!((got - quota).abs() < 1.0 + 1e-9, "class {class}: {got} vs {quota}");
            }
        }
    }
    let y = labels(500, 1);
    assert_eq!(stratified(&y, &f, 3).unwrap(), stratified(&y, &f, 3).unwrap());
    assert_ne!(stratified(&y, &f, 3).unwrap(), stratified(&y, &f, 4).unwrap());
}

#[test]
fn a_class_too_small_for_every_split_is_named() {
    let mut y = vec!["cat"; 50];
    y.extend(["dog", "dog"]);
    let e = stratified(&y, &Fractions::default(), 0).unwrap_err();
    assert!(e.message.contains("class 'dog' has 2 rows"), "{e}");
    assert!(e.message.contains("at least 3"), "{e}");
    // Without a test split two rows are enough.
    let s = stratified(&y, &Fractions::new(0.8, 0.2, 0.0).unwrap(), 0).unwrap();
    assert_eq!(s.valid.iter().filter(|&&r| y[r] == "dog").count(), 1);
}

#[test]
fn grouped_split_never_puts_a_group_in_two_splits() {
    let mut r = Rng::new(11);
    // 200 groups of 1..=10 rows.
    let groups: Vec<u32> = (0..200u32)
        .flat_map(|g| std::iter::repeat_n(g, 1 + r.index(10)))
        .collect();
    let mut shuffled = groups.clone();
    r.shuffle(&mut shuffled);
    let s = grouped(&shuffled, &Fractions::default(), 5).unwrap();
    assert_partition(&s, shuffled.len());
    let mut home: HashMap<u32, usize> = HashMap::new();
    for (i, (_, part)) in s.parts().iter().enumerate() {
        for &row in *part {
            let h = *home.entry(shuffled[row]).or_insert(i);
            assert_eq!(h, i, "group {} leaked into two splits", shuffled[row]);
        }
    }
    let n = shuffled.len() as f64;
    let [a, b, c] = s.sizes();
    assert!(
        (a as f64 / n - 0.7).abs() < 0.05 && (b as f64 / n - 0.15).abs() < 0.05 && (c as f64 / n - 0.15).abs() < 0.05
    );
    assert_ne!(grouped(&shuffled, &Fractions::default(), 6).unwrap(), s);
    assert_eq!(grouped(&shuffled, &Fractions::default(), 5).unwrap(), s);
    let e = grouped(&[1, 1, 2, 2], &Fractions::default(), 0).unwrap_err();
    assert!(e.message.contains("2 groups cannot be split"), "{e}");
}

#[test]
fn time_split_orders_train_before_valid_before_test() {
    let mut r = Rng::new(3);
    // Times with many ties, in random row order.
    let times: Vec<i64> = (0..500).map(|_| r.below(120) as i64).collect();
    let s = time_ordered(&times, &Fractions::default()).unwrap();
    assert_partition(&s, times.len());
    let max = |p: &[usize]| p.iter().map(|&i| times[i]).max().unwrap();
    let min = |p: &[usize]| p.iter().map(|&i| times[i]).min().unwrap();
    assert!(max(&s.train) < min(&s.valid), "train before valid");
    assert!(max(&s.valid) < min(&s.test), "valid before test");
    let [a, b, c] = s.sizes();
    assert!(
        (a as i64 - 350).abs() <= 10 && (b as i64 - 75).abs() <= 10 && (c as i64 - 75).abs() <= 10,
        "{a} {b} {c}"
    );
    // Floats and text order too.
    let f: Vec<f64> = (0..20).rev().map(|i| i as f64 * 0.5).collect();
    let s = time_ordered(&f, &Fractions::default()).unwrap();
    assert_eq!(s.test, vec![0, 1, 2], "the latest rows test");
    let days = ["2024-01-03", "2024-01-01", "2024-01-02"];
    let s = time_ordered(&days, &Fractions::new(0.34, 0.33, 0.33).unwrap()).unwrap();
    assert_eq!(
        (s.train.clone(), s.valid.clone(), s.test.clone()),
        (vec![1], vec![2], vec![0])
    );
}

#[test]
fn time_split_errors() {
    let e = time_ordered(&[1.0, f64::NAN, 2.0, 3.0], &Fractions::default()).unwrap_err();
    assert!(e.message.contains("row 2") && e.message.contains("NaN"), "{e}");
    let e = time_ordered(&[5, 5, 5, 5, 6], &Fractions::default()).unwrap_err();
    assert!(e.message.contains("too few distinct values"), "{e}");
    assert!(time_ordered(&[1, 2], &Fractions::default()).is_err());
}

#[test]
fn kfold_covers_every_row_once_with_even_sizes() {
    for (n, k) in [(10, 2), (101, 5), (7, 7)] {
        let folds = kfold(n, k, 1).unwrap();
        assert_eq!(folds.len(), k);
        assert_folds(&folds, n);
        let sizes: Vec<usize> = folds.iter().map(|f| f.valid.len()).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
    }
    assert_eq!(kfold(50, 5, 9).unwrap(), kfold(50, 5, 9).unwrap());
    assert_ne!(kfold(50, 5, 9).unwrap(), kfold(50, 5, 10).unwrap());
    assert!(kfold(10, 1, 0).unwrap_err().message.contains("at least 2"));
    assert!(kfold(3, 5, 0)
        .unwrap_err()
        .message
        .contains("3 rows cannot make 5 folds"));
}

#[test]
fn stratified_kfold_keeps_classes_within_one_row_per_fold() {
    let y = labels(503, 2);
    let k = 5;
    let folds = stratified_kfold(&y, k, 4).unwrap();
    assert_folds(&folds, y.len());
    for class in ["a", "b", "c"] {
        let n_c = y.iter().filter(|l| *l == class).count() as f64;
        for f in &folds {
            let got = f.valid.iter().filter(|&&r| y[r] == class).count() as f64;
            assert!((got - n_c / k as f64).abs() < 1.0, "class {class}: {got} of {n_c}");
        }
    }
    let sizes: Vec<usize> = folds.iter().map(|f| f.valid.len()).collect();
    assert!(
        sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
        "{sizes:?}"
    );
    let mut y = vec!["x"; 20];
    y.extend(["rare"; 3]);
    let e = stratified_kfold(&y, 5, 0).unwrap_err();
    assert!(
        e.message.contains("class 'rare' has 3 rows, fewer than the 5 folds"),
        "{e}"
    );
}

#[test]
fn group_kfold_keeps_groups_in_one_fold() {
    let mut r = Rng::new(5);
    let groups: Vec<u32> = (0..300).map(|_| r.below(37) as u32).collect();
    let folds = group_kfold(&groups, 4, 1).unwrap();
    assert_folds(&folds, groups.len());
    let mut fold_of: HashMap<u32, usize> = HashMap::new();
    for (i, f) in folds.iter().enumerate() {
        for &row in &f.valid {
            assert_eq!(*fold_of.entry(groups[row]).or_insert(i), i, "group in two folds");
        }
    }
    let sizes: Vec<usize> = folds.iter().map(|f| f.valid.len()).collect();
    assert!(sizes.iter().all(|&s| (50..=100).contains(&s)), "balanced: {sizes:?}");
    let e = group_kfold(&[1, 2, 1], 3, 0).unwrap_err();
    assert!(e.message.contains("2 groups cannot make 3 folds"), "{e}");
}

#[test]
fn time_series_folds_expand_and_never_look_ahead() {
    let mut times: Vec<i64> = (0..120).map(|i| i / 2).collect();
    Rng::new(1).shuffle(&mut times);
    let folds = time_series_folds(&times, 3).unwrap();
    assert_eq!(folds.len(), 3);
    let mut prev_train = 0;
    let mut valid_seen = HashSet::new();
    for f in &folds {
        let max_train = f.train.iter().map(|&i| times[i]).max().unwrap();
        let min_valid = f.valid.iter().map(|&i| times[i]).min().unwrap();
        assert!(max_train < min_valid, "train strictly before valid");
        assert!(f.train.len() > prev_train, "the window expands");
        prev_train = f.train.len();
        for &v in &f.valid {
            assert!(valid_seen.insert(v), "validation blocks are disjoint");
        }
        assert!((f.valid.len() as i64 - 30).abs() <= 1);
    }
    assert_eq!(folds[0].train.len(), 30);
    let e = time_series_folds(&[1, 2, 3], 3).unwrap_err();
    assert!(e.message.contains("3 rows cannot make 3 time-series folds"), "{e}");
    let e = time_series_folds(&[1, 1, 1, 1, 2], 3).unwrap_err();
    assert!(e.message.contains("too few distinct values"), "{e}");
}

fn table() -> Table {
    let n = 60;
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "y",
            Arc::new(StringArray::from_iter((0..n).map(|i| {
                if i % 10 == 0 {
                    None
                } else {
                    Some(["a", "b"][i % 2])
                }
            }))),
        ),
        (
            "g",
            Arc::new(Int64Array::from_iter_values((0..n as i64).map(|i| i / 4))),
        ),
        (
            "t",
            Arc::new(TimestampSecondArray::from_iter_values(
                (0..n as i64).rev().map(|i| 1_700_000_000 + i),
            )),
        ),
        (
            "x",
            Arc::new(Float64Array::from_iter((0..n).map(|i| {
                if i == 33 {
                    None
                } else {
                    Some(i as f64)
                }
            }))),
        ),
    ];
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let b = RecordBatch::try_new(schema.clone(), cols.into_iter().map(|(_, a)| a).collect()).unwrap();
    let origin = Origin {
        file: "data.csv".into(),
        first_row: 1,
    };
    Table::with_origins(schema, vec![b], vec![origin]).unwrap()
}

#[test]
fn table_schemes_read_their_columns() {
    let t = table();
    let f = Fractions::default();
    let s = split_table(&t, &SplitScheme::parse("stratified", Some("y")).unwrap(), &f, 1).unwrap();
    assert_partition(&s, 60);
    // Nulls are a class of their own: 6 rows, split 4/1/1.
    let nulls_in_test = s.test.iter().filter(|&&r| r % 10 == 0).count();
    assert_eq!(nulls_in_test, 1);
    let s = split_table(&t, &SplitScheme::Group { column: "g".into() }, &f, 1).unwrap();
    for (_, p) in s.parts() {
        for &r in p {
            assert!(p.contains(&(r / 4 * 4)), "group {} split", r / 4);
        }
    }
    let s = split_table(&t, &SplitScheme::Time { column: "t".into() }, &f, 0).unwrap();
    assert_eq!(s.test.len(), 9);
    assert!(s.test.iter().all(|&r| r < 9), "latest times are the first rows");
    let s = split_table(&t, &SplitScheme::Random, &f, 0).unwrap();
    assert_eq!(s.sizes(), [42, 9, 9]);
    let folds = folds_table(&t, &FoldScheme::parse("stratified", Some("y")).unwrap(), 3, 0).unwrap();
    assert_folds(&folds, 60);
    let folds = folds_table(&t, &FoldScheme::parse("time", Some("t")).unwrap(), 3, 0).unwrap();
    assert_eq!(folds.len(), 3);
    assert_folds(
        &folds_table(&t, &FoldScheme::Group { column: "g".into() }, 5, 0).unwrap(),
        60,
    );
    assert_folds(
        &folds_table(&t, &FoldScheme::parse("random", None).unwrap(), 5, 0).unwrap(),
        60,
    );
}

#[test]
fn table_scheme_errors_name_the_column_and_row() {
    let t = table();
    let f = Fractions::default();
    let e = split_table(&t, &SplitScheme::Time { column: "x".into() }, &f, 0).unwrap_err();
    assert_eq!(e.location.to_string(), "data.csv, row 34, column 'x'");
    assert!(e.message.contains("null in the time column"), "{e}");
    let e = split_table(&t, &SplitScheme::Stratified { column: "nope".into() }, &f, 0).unwrap_err();
    assert!(e.message.contains("no column 'nope'"), "{e}");
    let e = SplitScheme::parse("stratified", None).unwrap_err();
    assert!(e.message.contains("needs a label column"), "{e}");
    let e = SplitScheme::parse("shuffle", None).unwrap_err();
    assert!(e.message.contains("unknown split scheme 'shuffle'"), "{e}");
    let e = folds_table(&t, &FoldScheme::Stratified { column: "y".into() }, 7, 0).unwrap_err();
    assert!(
        e.message.contains("class 'null' has 6 rows") && e.to_string().contains("column 'y'"),
        "{e}"
    );
}
