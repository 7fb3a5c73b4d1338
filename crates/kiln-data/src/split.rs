//! Train / valid / test splits and cross-validation folds, seeded and reproducible.
//!
//! Every function returns row indices (0-based, each split sorted ascending),
//! so the caller can `Table::take` or `Matrix::take_rows` them. The same data
//! (in the same row order), fractions and seed give the same split on every
//! platform (the generator is [`crate::rng::Rng`]); another seed gives another.
//!
//! Splits ([`Fractions`], default 70/15/15; `valid` or `test` may be 0):
//! - [`random`]: shuffle, then cut.
//! - [`stratified`]: each class is cut in the split fractions on its own, so
//!   each class's count in each split is within one row of its share. A class
//!   with fewer rows than there are non-empty splits is an error naming it.
//! - [`grouped`]: whole groups go to one split (no group in two), assigned in a
//!   shuffled order to the split furthest below its target size.
//! - [`time_ordered`]: sorted by a column; the earliest rows train, then valid,
//!   then test. Rows with equal times stay in one split, so every train time is
//!   before every valid time, which is before every test time.
//!
//! Folds (each row is in exactly one validation fold):
//! - [`kfold`]: shuffled, k folds of sizes within one row.
//! - [`stratified_kfold`]: each class dealt round-robin over the folds.
//! - [`group_kfold`]: groups, largest first, to the fold with fewest rows.
//! - [`time_series_folds`]: expanding window: the sorted rows in k + 1 blocks;
//!   fold i trains on blocks 0..=i and validates on block i + 1.
//!
//! [`split_table`] and [`folds_table`] take the label, group or time column
//! from a [`Table`] by name.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::rng::Rng;
use crate::table::Table;
use crate::values::{for_each_float, for_each_int, value_text};

/// The shares of rows for train, valid and test (they sum to 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fractions {
    pub train: f64,
    pub valid: f64,
    pub test: f64,
}

impl Default for Fractions {
    fn default() -> Self {
        Fractions {
            train: 0.70,
            valid: 0.15,
            test: 0.15,
        }
    }
}

impl Fractions {
    /// Checked fractions: each in [0, 1], train above 0, summing to 1.
    pub fn new(train: f64, valid: f64, test: f64) -> Result<Fractions> {
        let f = Fractions { train, valid, test };
        f.check()?;
        Ok(f)
    }

    /// Train gets what valid and test leave.
    pub fn with_valid_test(valid: f64, test: f64) -> Result<Fractions> {
        Fractions::new(1.0 - valid - test, valid, test)
    }

    fn check(&self) -> Result<()> {
        for (name, v) in [("train", self.train), ("valid", self.valid), ("test", self.test)] {
            if !(0.0..=1.0).contains(&v) || v.is_nan() {
                return Err(DataError::msg(format!(
                    "the {name} fraction is {v}; expected a number from 0 to 1"
                )));
            }
        }
        if self.train <= 0.0 {
            return Err(DataError::msg("the train fraction must be above 0"));
        }
        let sum = self.train + self.valid + self.test;
        if (sum - 1.0).abs() > 1e-9 {
            return Err(DataError::msg(format!(
                "the fractions sum to {sum} (train {}, valid {}, test {}); they must sum to 1",
                self.train, self.valid, self.test
            )));
        }
        Ok(())
    }

    fn as_array(&self) -> [f64; 3] {
        [self.train, self.valid, self.test]
    }

    /// How many of the three splits get rows.
    fn non_empty(&self) -> usize {
        self.as_array().iter().filter(|f| **f > 0.0).count()
    }

    /// `70/15/15`, for messages.
    fn label(&self) -> String {
        let p = |x: f64| format!("{}", (x * 100.0 * 100.0).round() / 100.0);
        format!("{}/{}/{}", p(self.train), p(self.valid), p(self.test))
    }
}

/// Row indices of a train / valid / test split, each sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Split {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    pub test: Vec<usize>,
}

impl Split {
    /// Sizes of train, valid and test.
    pub fn sizes(&self) -> [usize; 3] {
        [self.train.len(), self.valid.len(), self.test.len()]
    }

    /// The three parts with their names.
    pub fn parts(&self) -> [(&'static str, &[usize]); 3] {
        [("train", &self.train), ("valid", &self.valid), ("test", &self.test)]
    }

    fn from_parts(mut parts: [Vec<usize>; 3]) -> Split {
        for p in &mut parts {
            p.sort_unstable();
        }
        let [train, valid, test] = parts;
        Split { train, valid, test }
    }
}

/// One cross-validation fold: rows to train on and rows to validate on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
}

/// Splits `n` rows into counts by the fractions (largest remainder), giving
/// every non-empty split at least one row when there are enough rows.
fn allocate(n: usize, f: &Fractions) -> [usize; 3] {
    let fr = f.as_array();
    let quotas: Vec<f64> = fr.iter().map(|x| x * n as f64).collect();
    let mut counts = [0usize; 3];
    for (c, q) in counts.iter_mut().zip(&quotas) {
        *c = q.floor() as usize;
    }
    let mut left = n.saturating_sub(counts.iter().sum());
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by(|&a, &b| {
        let ra = quotas[a] - quotas[a].floor();
        let rb = quotas[b] - quotas[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        if fr[i] > 0.0 {
            counts[i] += 1;
            left -= 1;
        }
    }
    for i in 0..3 {
        if fr[i] > 0.0 && counts[i] == 0 {
            if let Some(donor) = (0..3)
                .filter(|&j| counts[j] > 1)
                .max_by_key(|&j| (counts[j], usize::MAX - j))
            {
                counts[donor] -= 1;
                counts[i] += 1;
            }
        }
    }
    counts
}

/// Cuts `rows` (in their order) into three parts of `counts`.
fn cut(rows: &[usize], counts: [usize; 3]) -> [Vec<usize>; 3] {
    let a = counts[0].min(rows.len());
    let b = (counts[0] + counts[1]).min(rows.len());
    [rows[..a].to_vec(), rows[a..b].to_vec(), rows[b..].to_vec()]
}

/// A random split of `n` rows.
pub fn random(n: usize, fractions: &Fractions, seed: u64) -> Result<Split> {
    fractions.check()?;
    let need = fractions.non_empty();
    if n < need {
        return Err(DataError::msg(format!(
            "{n} rows cannot be split {}: each non-empty split needs at least one row",
            fractions.label()
        )));
    }
    let mut rows: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut rows);
    Ok(Split::from_parts(cut(&rows, allocate(n, fractions))))
}

/// Class (or group) ids per row, in order of first appearance, and their names.
fn ids_of<K: Hash + Eq + Display>(keys: &[K]) -> (Vec<usize>, Vec<String>) {
    let mut map: HashMap<&K, usize> = HashMap::new();
    let mut names = Vec::new();
    let ids = keys
        .iter()
        .map(|k| {
            *map.entry(k).or_insert_with(|| {
                names.push(k.to_string());
                names.len() - 1
            })
        })
        .collect();
    (ids, names)
}

/// Rows per id, each list in row order.
fn members(ids: &[usize], n_ids: usize) -> Vec<Vec<usize>> {
    let mut m = vec![Vec::new(); n_ids];
    for (row, &id) in ids.iter().enumerate() {
        m[id].push(row);
    }
    m
}

/// A split that keeps each class's share in every split (within one row).
pub fn stratified<K: Hash + Eq + Display>(labels: &[K], fractions: &Fractions, seed: u64) -> Result<Split> {
    let (ids, names) = ids_of(labels);
    stratified_ids(&ids, &names, fractions, seed)
}

fn stratified_ids(ids: &[usize], names: &[String], fractions: &Fractions, seed: u64) -> Result<Split> {
    fractions.check()?;
    let need = fractions.non_empty();
    let classes = members(ids, names.len());
    for (c, rows) in classes.iter().enumerate() {
        if rows.len() < need {
            return Err(DataError::msg(format!(
                "class '{}' has {} row{}; a {} stratified split needs at least {need} rows of each class (one per split); \
                 drop or merge rare classes, or use a random split",
                names[c],
                rows.len(),
                if rows.len() == 1 { "" } else { "s" },
                fractions.label()
            )));
        }
    }
    let mut rng = Rng::new(seed);
    let mut parts: [Vec<usize>; 3] = Default::default();
    for mut rows in classes {
        rng.shuffle(&mut rows);
        let [a, b, c] = cut(&rows, allocate(rows.len(), fractions));
        parts[0].extend(a);
        parts[1].extend(b);
        parts[2].extend(c);
    }
    Ok(Split::from_parts(parts))
}

/// A split in which every group's rows go to one split.
pub fn grouped<K: Hash + Eq + Display>(groups: &[K], fractions: &Fractions, seed: u64) -> Result<Split> {
    let (ids, names) = ids_of(groups);
    grouped_ids(&ids, names.len(), fractions, seed)
}

fn grouped_ids(ids: &[usize], n_groups: usize, fractions: &Fractions, seed: u64) -> Result<Split> {
    fractions.check()?;
    let need = fractions.non_empty();
    if n_groups < need {
        return Err(DataError::msg(format!(
            "{n_groups} group{} cannot be split {}: each non-empty split needs at least one group",
            if n_groups == 1 { "" } else { "s" },
            fractions.label()
        )));
    }
    let groups = members(ids, n_groups);
    let mut order: Vec<usize> = (0..n_groups).collect();
    Rng::new(seed).shuffle(&mut order);
    let fr = fractions.as_array();
    let n = ids.len() as f64;
    let targets: Vec<f64> = fr.iter().map(|f| f * n).collect();
    let mut filled = [0usize; 3];
    let mut parts: [Vec<usize>; 3] = Default::default();
    for g in order {
        // The split furthest below its target, relative to it.
        let Some(best) = (0..3).filter(|&i| fr[i] > 0.0).max_by(|&a, &b| {
            let da = (targets[a] - filled[a] as f64) / targets[a];
            let db = (targets[b] - filled[b] as f64) / targets[b];
            da.total_cmp(&db).then(b.cmp(&a))
        }) else {
            break;
        };
        filled[best] += groups[g].len();
        parts[best].extend(&groups[g]);
    }
    Ok(Split::from_parts(parts))
}

/// Row order by time (stable), or the first row whose time cannot be ordered.
fn time_order<T: PartialOrd>(times: &[T]) -> std::result::Result<Vec<usize>, usize> {
    if let Some(bad) = (0..times.len()).find(|&i| times[i].partial_cmp(&times[i]).is_none()) {
        return Err(bad);
    }
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[a].partial_cmp(&times[b]).unwrap_or(std::cmp::Ordering::Equal));
    Ok(order)
}

/// Moves a cut in sorted `order` off a run of equal times: to the nearer end of
/// the run that keeps the cut within `lo..=hi`.
fn untie<T: PartialOrd>(times: &[T], order: &[usize], at: usize, lo: usize, hi: usize) -> Option<usize> {
    let same = |i: usize| times[order[i - 1]] == times[order[i]];
    if at == 0 || at >= order.len() || !same(at) {
        return (lo..=hi).contains(&at).then_some(at);
    }
    let mut fwd = at;
    while fwd < order.len() && same(fwd) {
        fwd += 1;
    }
    let mut back = at;
    while back > 0 && same(back) {
        back -= 1;
    }
    let ok = |c: usize| (lo..=hi).contains(&c);
    match (ok(fwd), ok(back)) {
        (true, true) => Some(if fwd - at <= at - back { fwd } else { back }),
        (true, false) => Some(fwd),
        (false, true) => Some(back),
        _ => None,
    }
}

/// A split by time: train before valid before test (see the module docs).
pub fn time_ordered<T: PartialOrd>(times: &[T], fractions: &Fractions) -> Result<Split> {
    fractions.check()?;
    let n = times.len();
    let need = fractions.non_empty();
    if n < need {
        return Err(DataError::msg(format!(
            "{n} rows cannot be split {}: each non-empty split needs at least one row",
            fractions.label()
        )));
    }
    let order = time_order(times)
        .map_err(|row| DataError::msg(format!("row {}: the time value cannot be ordered (NaN)", row + 1)))?;
    let counts = allocate(n, fractions);
    let fr = fractions.as_array();
    let min = |i: usize| usize::from(fr[i] > 0.0);
    let too_few = || {
        DataError::msg(format!(
            "the time column has too few distinct values for a {} split in time order \
             (rows with the same time stay in one split)",
            fractions.label()
        ))
    };
    let a = untie(times, &order, counts[0], min(0), n - min(1) - min(2)).ok_or_else(too_few)?;
    let b = untie(
        times,
        &order,
        (counts[0] + counts[1]).max(a + min(1)).min(n - min(2)),
        a + min(1),
        n - min(2),
    )
    .ok_or_else(too_few)?;
    Ok(Split::from_parts([
        order[..a].to_vec(),
        order[a..b].to_vec(),
        order[b..].to_vec(),
    ]))
}

fn check_k(n: usize, k: usize, what: &str) -> Result<()> {
    if k < 2 {
        return Err(DataError::msg(format!("{k} folds: cross-validation needs at least 2")));
    }
    if n < k {
        return Err(DataError::msg(format!(
            "{n} {what} cannot make {k} folds: each fold needs at least one"
        )));
    }
    Ok(())
}

/// Folds from each row's fold number.
fn folds_from(assign: &[usize], k: usize) -> Vec<Fold> {
    (0..k)
        .map(|f| {
            let (valid, train): (Vec<usize>, Vec<usize>) = (0..assign.len()).partition(|&r| assign[r] == f);
            Fold { train, valid }
        })
        .collect()
}

/// K shuffled folds of sizes within one row.
pub fn kfold(n: usize, k: usize, seed: u64) -> Result<Vec<Fold>> {
    check_k(n, k, "rows")?;
    let mut rows: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut rows);
    let mut assign = vec![0; n];
    for (i, &r) in rows.iter().enumerate() {
        assign[r] = i % k;
    }
    Ok(folds_from(&assign, k))
}

/// K folds that each hold every class in its share (within one row).
pub fn stratified_kfold<K: Hash + Eq + Display>(labels: &[K], k: usize, seed: u64) -> Result<Vec<Fold>> {
    let (ids, names) = ids_of(labels);
    stratified_kfold_ids(&ids, &names, k, seed)
}

fn stratified_kfold_ids(ids: &[usize], names: &[String], k: usize, seed: u64) -> Result<Vec<Fold>> {
    check_k(ids.len(), k, "rows")?;
    let classes = members(ids, names.len());
    for (c, rows) in classes.iter().enumerate() {
        if rows.len() < k {
            return Err(DataError::msg(format!(
                "class '{}' has {} row{}, fewer than the {k} folds; each fold needs one of each class",
                names[c],
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            )));
        }
    }
    let mut rng = Rng::new(seed);
    let mut assign = vec![0; ids.len()];
    let mut start = 0;
    for mut rows in classes {
        rng.shuffle(&mut rows);
        for (i, &r) in rows.iter().enumerate() {
            assign[r] = (start + i) % k;
        }
        // The next class starts where this one stopped, keeping fold sizes even.
        start = (start + rows.len()) % k;
    }
    Ok(folds_from(&assign, k))
}

/// K folds in which every group's rows are in one fold.
pub fn group_kfold<K: Hash + Eq + Display>(groups: &[K], k: usize, seed: u64) -> Result<Vec<Fold>> {
    let (ids, names) = ids_of(groups);
    group_kfold_ids(&ids, names.len(), k, seed)
}

fn group_kfold_ids(ids: &[usize], n_groups: usize, k: usize, seed: u64) -> Result<Vec<Fold>> {
    check_k(n_groups, k, "groups")?;
    let groups = members(ids, n_groups);
    let mut order: Vec<usize> = (0..n_groups).collect();
    Rng::new(seed).shuffle(&mut order);
    // Largest first (ties in the shuffled order), each to the emptiest fold.
    order.sort_by_key(|&g| std::cmp::Reverse(groups[g].len()));
    let mut sizes = vec![0usize; k];
    let mut assign = vec![0; ids.len()];
    for g in order {
        let f = (0..k).min_by_key(|&f| (sizes[f], f)).unwrap_or(0);
        sizes[f] += groups[g].len();
        for &r in &groups[g] {
            assign[r] = f;
        }
    }
    Ok(folds_from(&assign, k))
}

/// Expanding-window folds over rows sorted by time (see the module docs).
pub fn time_series_folds<T: PartialOrd>(times: &[T], k: usize) -> Result<Vec<Fold>> {
    let n = times.len();
    if k < 1 {
        return Err(DataError::msg("time-series cross-validation needs at least 1 fold"));
    }
    if n < k + 1 {
        return Err(DataError::msg(format!(
            "{n} rows cannot make {k} time-series folds: they need {} blocks of at least one row",
            k + 1
        )));
    }
    let order = time_order(times)
        .map_err(|row| DataError::msg(format!("row {}: the time value cannot be ordered (NaN)", row + 1)))?;
    // k + 1 blocks of sizes within one row; each cut moved off runs of equal times.
    let mut cuts = Vec::with_capacity(k + 2);
    cuts.push(0);
    for b in 1..=k {
        let ideal = b * n / (k + 1);
        let prev = *cuts.last().unwrap_or(&0);
        let lo = prev + 1;
        let hi = n - (k + 1 - b);
        let at = untie(times, &order, ideal.max(lo).min(hi), lo, hi).ok_or_else(|| {
            DataError::msg(format!(
                "the time column has too few distinct values for {k} time-series folds \
                 (rows with the same time stay in one block)"
            ))
        })?;
        cuts.push(at);
    }
    cuts.push(n);
    Ok((0..k)
        .map(|i| {
            let mut train = order[..cuts[i + 1]].to_vec();
            let mut valid = order[cuts[i + 1]..cuts[i + 2]].to_vec();
            train.sort_unstable();
            valid.sort_unstable();
            Fold { train, valid }
        })
        .collect())
}

// ---------------------------------------------------------------------------
// On tables

/// How to split a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum SplitScheme {
    Random,
    Stratified { column: String },
    Group { column: String },
    Time { column: String },
}

impl SplitScheme {
    /// A scheme from its name (`random`, `stratified`, `group`, `time`) and column.
    pub fn parse(name: &str, column: Option<&str>) -> Result<SplitScheme> {
        let col = |what: &str| {
            column
                .map(str::to_string)
                .ok_or_else(|| DataError::msg(format!("the {name} scheme needs a {what} column")))
        };
        match name {
            "random" => Ok(SplitScheme::Random),
            "stratified" => Ok(SplitScheme::Stratified { column: col("label")? }),
            "group" | "grouped" => Ok(SplitScheme::Group { column: col("group")? }),
            "time" => Ok(SplitScheme::Time { column: col("time")? }),
            other => Err(DataError::msg(format!(
                "unknown split scheme '{other}'; expected random, stratified, group or time"
            ))),
        }
    }
}

/// How to make cross-validation folds of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum FoldScheme {
    KFold,
    Stratified { column: String },
    Group { column: String },
    TimeSeries { column: String },
}

impl FoldScheme {
    /// A fold scheme from a split scheme name: random -> k-fold, stratified,
    /// group, time -> time-series.
    pub fn parse(name: &str, column: Option<&str>) -> Result<FoldScheme> {
        Ok(match SplitScheme::parse(name, column)? {
            SplitScheme::Random => FoldScheme::KFold,
            SplitScheme::Stratified { column } => FoldScheme::Stratified { column },
            SplitScheme::Group { column } => FoldScheme::Group { column },
            SplitScheme::Time { column } => FoldScheme::TimeSeries { column },
        })
    }
}

/// Splits a table's rows by a scheme.
pub fn split_table(table: &Table, scheme: &SplitScheme, fractions: &Fractions, seed: u64) -> Result<Split> {
    match scheme {
        SplitScheme::Random => random(table.num_rows(), fractions, seed),
        SplitScheme::Stratified { column } => {
            let (ids, names) = column_ids(table, column)?;
            stratified_ids(&ids, &names, fractions, seed).map_err(|e| in_column(e, column))
        }
        SplitScheme::Group { column } => {
            let (ids, names) = column_ids(table, column)?;
            grouped_ids(&ids, names.len(), fractions, seed).map_err(|e| in_column(e, column))
        }
        SplitScheme::Time { column } => match time_values(table, column)? {
            TimeValues::Int(v) => time_ordered(&v, fractions),
            TimeValues::Float(v) => time_ordered(&v, fractions),
            TimeValues::Text(v) => time_ordered(&v, fractions),
        }
        .map_err(|e| in_column(e, column)),
    }
}

/// Cross-validation folds of a table's rows by a scheme.
pub fn folds_table(table: &Table, scheme: &FoldScheme, k: usize, seed: u64) -> Result<Vec<Fold>> {
    match scheme {
        FoldScheme::KFold => kfold(table.num_rows(), k, seed),
        FoldScheme::Stratified { column } => {
            let (ids, names) = column_ids(table, column)?;
            stratified_kfold_ids(&ids, &names, k, seed).map_err(|e| in_column(e, column))
        }
        FoldScheme::Group { column } => {
            let (ids, names) = column_ids(table, column)?;
            group_kfold_ids(&ids, names.len(), k, seed).map_err(|e| in_column(e, column))
        }
        FoldScheme::TimeSeries { column } => match time_values(table, column)? {
            TimeValues::Int(v) => time_series_folds(&v, k),
            TimeValues::Float(v) => time_series_folds(&v, k),
            TimeValues::Text(v) => time_series_folds(&v, k),
        }
        .map_err(|e| in_column(e, column)),
    }
}

fn in_column(mut e: crate::DataError, column: &str) -> crate::DataError {
    if e.location.column.is_none() {
        e.location.column = Some(column.to_string());
    }
    e
}

/// Ids per row of a column's distinct values (null is one value, "null"), and their names.
fn column_ids(table: &Table, column: &str) -> Result<(Vec<usize>, Vec<String>)> {
    let array = table.column(column)?;
    let rows = crate::dedup::encode_rows(std::slice::from_ref(&array))?;
    let mut map: HashMap<&[u8], usize> = HashMap::new();
    let mut names = Vec::new();
    let ids = (0..rows.num_rows())
        .map(|i| {
            *map.entry(rows.row(i).data()).or_insert_with(|| {
                names.push(value_text(array.as_ref(), i));
                names.len() - 1
            })
        })
        .collect();
    Ok((ids, names))
}

enum TimeValues {
    Int(Vec<i128>),
    Float(Vec<f64>),
    Text(Vec<String>),
}

/// A time column's values; a null is an error naming its row.
fn time_values(table: &Table, column: &str) -> Result<TimeValues> {
    let array: ArrayRef = table.column(column)?;
    if let Some(i) = (0..array.len()).find(|&i| array.is_null(i)) {
        return Err(crate::DataError::new(
            table.location(i, Some(column)),
            "null in the time column; a time-ordered split needs a time in every row",
        ));
    }
    let dt = array.data_type();
    let n = array.len();
    if dt.is_integer() || matches!(dt, DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)) {
        let mut v = vec![0i128; n];
        for_each_int(array.as_ref(), |i, x| v[i] = x)?;
        Ok(TimeValues::Int(v))
    } else if dt.is_floating() {
        let mut v = vec![0f64; n];
        for_each_float(array.as_ref(), |i, x| v[i] = x)?;
        if let Some(i) = v.iter().position(|x| x.is_nan()) {
            return Err(crate::DataError::new(
                table.location(i, Some(column)),
                "NaN in the time column; a time-ordered split needs a time in every row",
            ));
        }
        Ok(TimeValues::Float(v))
    } else if matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
        let text =
            arrow::compute::cast(array.as_ref(), &DataType::Utf8).map_err(|e| crate::DataError::msg(e.to_string()))?;
        Ok(TimeValues::Text(
            text.as_string::<i32>()
                .iter()
                .map(|s| s.unwrap_or("").to_string())
                .collect(),
        ))
    } else {
        Err(crate::DataError::msg(format!(
            "column '{column}' has type {dt}; a time-ordered split needs a number, date, timestamp or text column"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_largest_remainder_with_one_row_each() {
        let f = Fractions::default();
        assert_eq!(allocate(100, &f), [70, 15, 15]);
        assert_eq!(allocate(10, &f), [7, 2, 1]);
        assert_eq!(allocate(3, &f), [1, 1, 1]);
        assert_eq!(allocate(0, &f), [0, 0, 0]);
        let no_test = Fractions::new(0.8, 0.2, 0.0).unwrap();
        assert_eq!(allocate(7, &no_test), [6, 1, 0]);
        for n in 0..200 {
            assert_eq!(allocate(n, &f).iter().sum::<usize>(), n);
        }
    }

    #[test]
    fn untie_moves_cuts_off_equal_runs() {
        let t = [1, 1, 2, 2, 2, 3];
        let order: Vec<usize> = (0..6).collect();
        assert_eq!(untie(&t, &order, 2, 1, 5), Some(2));
        assert_eq!(untie(&t, &order, 3, 1, 5), Some(2));
        assert_eq!(untie(&t, &order, 4, 1, 5), Some(5));
        assert_eq!(untie(&t, &order, 4, 3, 4), None);
    }
}
