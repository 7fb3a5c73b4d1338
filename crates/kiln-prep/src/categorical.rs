//! Categorical features: imputation, one-hot (capped, with an "other"
//! bucket), ordinal and out-of-fold target encoding.
//!
//! Values are mapped to codes (their position in the fitted category list);
//! dictionary-encoded columns map each dictionary value once per batch.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use kiln_data::{DataError, Result};

use crate::config::{CategoricalOptions, Encoding, Impute};
use crate::input::{dict_values, each_dict_key, each_local, each_text, text_at, Chunk, Local, Run, TableView};
use crate::num::F;
use crate::TargetKind;

/// Code of a missing value.
pub(crate) const MISSING: u32 = u32::MAX;
/// Code of a category not seen in training.
pub(crate) const UNSEEN: u32 = u32::MAX - 1;
/// Code of an imputed category not seen in training: encoded as unseen, never an error.
pub(crate) const UNSEEN_FILL: u32 = u32::MAX - 2;

/// The training categories in encoding order, with a lookup from text to code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub(crate) struct CategoryIndex {
    names: Vec<String>,
    map: HashMap<String, u32>,
}

impl TryFrom<Vec<String>> for CategoryIndex {
    type Error = String;

    fn try_from(names: Vec<String>) -> std::result::Result<CategoryIndex, String> {
        if names.len() >= UNSEEN_FILL as usize {
            return Err(format!("{} categories is too many", names.len()));
        }
        let mut map = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            if map.insert(n.clone(), i as u32).is_some() {
                return Err(format!("category '{n}' is listed twice"));
            }
        }
        Ok(CategoryIndex { names, map })
    }
}

impl From<CategoryIndex> for Vec<String> {
    fn from(c: CategoryIndex) -> Vec<String> {
        c.names
    }
}

impl CategoryIndex {
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The code of `text`, or [`UNSEEN`].
    #[inline]
    pub fn code(&self, text: &str) -> u32 {
        self.map.get(text).copied().unwrap_or(UNSEEN)
    }
}

/// A fitted encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Encoder {
    /// One column per category of the first `kept`, then `__other__` if `other`.
    Onehot { kept: usize, other: bool },
    /// The code as a number.
    Ordinal,
    /// `values[code * m + j]` for output `j` of `m = prior.len()`; `prior` for unseen categories.
    Target { prior: Vec<F>, values: Vec<F> },
}

/// A fitted categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CategoricalFeature {
    /// The input column's name (output names start with it).
    pub name: String,
    /// Index of the input column.
    pub input: usize,
    pub categories: CategoryIndex,
    /// The category missing values become; `None` leaves them missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<String>,
    /// Whether a `<name>__missing` column follows the encoded ones.
    pub indicator: bool,
    pub encoder: Encoder,
}

/// Per-transform state: dictionary values mapped to codes, batch by batch.
pub(crate) struct Prepared {
    dict_codes: Vec<Option<Vec<u32>>>,
    fill_code: u32,
}

/// Out-of-fold target-encoding tables for the training rows (not saved).
#[derive(Debug, Clone)]
pub(crate) struct Oof {
    /// Fold of each training row.
    pub folds: Vec<u32>,
    /// Per fold: (prior, values) fitted on the other folds.
    pub tables: Vec<(Vec<f64>, Vec<f64>)>,
}

impl CategoricalFeature {
    /// Number of encoded columns (without the indicator).
    pub(crate) fn width(&self) -> usize {
        match &self.encoder {
            Encoder::Onehot { kept, other } => kept + usize::from(*other),
            Encoder::Ordinal => 1,
            Encoder::Target { prior, .. } => prior.len(),
        }
    }

    /// The output column names.
    pub fn outputs(&self) -> Vec<String> {
        let n = &self.name;
        let mut out: Vec<String> = match &self.encoder {
            Encoder::Onehot { kept, other } => {
                let mut v: Vec<String> = self.categories.names()[..*kept]
                    .iter()
                    .map(|c| format!("{n}={c}"))
                    .collect();
                if *other {
                    v.push(format!("{n}=__other__"));
                }
                v
            }
            Encoder::Ordinal => vec![n.clone()],
            Encoder::Target { prior, .. } if prior.len() == 1 => vec![format!("{n}__te")],
            Encoder::Target { prior, .. } => (0..prior.len()).map(|j| format!("{n}__te_{j}")).collect(),
        };
        if self.indicator {
            out.push(format!("{n}__missing"));
        }
        out
    }

    /// Checks the saved state is consistent (for loading).
    pub fn check(&self) -> std::result::Result<(), String> {
        let n = self.categories.len();
        match &self.encoder {
            Encoder::Onehot { kept, other } => {
                if *kept > n || (*other && *kept == n) {
                    return Err(format!("one-hot of '{}' keeps {kept} of {n} categories", self.name));
                }
            }
            Encoder::Ordinal => {}
            Encoder::Target { prior, values } => {
                if prior.is_empty() || values.len() != n * prior.len() {
                    return Err(format!(
                        "target encoding of '{}' has the wrong number of values",
                        self.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Maps dictionary values to codes for the batches of `chunks`.
    pub fn prepare(&self, chunks: &[Chunk]) -> Prepared {
        let dict_codes = chunks
            .iter()
            .map(|c| {
                let values = dict_values(c)?;
                let mut codes = vec![MISSING; values.array.len()];
                each_text(&values, 0..codes.len(), |pos, t| {
                    codes[pos] = t.map_or(MISSING, |t| self.categories.code(t));
                });
                Some(codes)
            })
            .collect();
        let fill_code = match &self.fill {
            None => MISSING,
            Some(f) => match self.categories.code(f) {
                UNSEEN => UNSEEN_FILL,
                c => c,
            },
        };
        Prepared { dict_codes, fill_code }
    }

    /// Reads the codes of a block of rows (missing values as [`MISSING`]).
    pub fn read_codes(&self, prep: &Prepared, chunks: &[Chunk], runs: &[Run], scratch: &[usize], out: &mut [u32]) {
        for run in runs {
            let chunk = &chunks[run.chunk];
            let out = &mut out[run.out.clone()];
            match prep.dict_codes.get(run.chunk).and_then(Option::as_ref) {
                Some(dc) => each_local!(run, scratch, it => each_dict_key(chunk, it, |pos, k| {
                    out[pos] = k.and_then(|k| dc.get(k).copied()).unwrap_or(MISSING);
                })),
                None => each_local!(run, scratch, it => each_text(chunk, it, |pos, t| {
                    out[pos] = t.map_or(MISSING, |t| self.categories.code(t));
                })),
            }
        }
    }

    /// Replaces missing codes with the imputed category's.
    pub fn impute(&self, prep: &Prepared, codes: &mut [u32]) {
        if prep.fill_code != MISSING {
            codes
                .iter_mut()
                .filter(|c| **c == MISSING)
                .for_each(|c| *c = prep.fill_code);
        }
    }

    /// An error for the first unseen category in a block (row `block_start` onwards), naming row and value.
    pub fn check_unseen(
        &self,
        codes: &[u32],
        view: &TableView,
        runs: &[Run],
        scratch: &[usize],
        block_start: usize,
    ) -> Result<()> {
        let Some(p) = codes.iter().position(|&c| c == UNSEEN) else {
            return Ok(());
        };
        let value = runs.iter().find(|r| r.out.contains(&p)).and_then(|r| {
            let k = p - r.out.start;
            let j = match r.local {
                Local::Range(a, _) => a + k,
                Local::List(a, _) => *scratch.get(a + k)?,
            };
            text_at(view.columns.get(self.input)?.get(r.chunk)?, j)
        });
        Err(DataError::new(
            view.location(block_start + p, &self.name),
            format!(
                "category '{}' was not seen in training (unseen = \"error\"); {} categories are known",
                value.unwrap_or_default(),
                self.categories.len()
            ),
        ))
    }

    /// Writes the encoded block: `outs` are this feature's output columns for
    /// the block's rows (all zero on entry). `oof` gives the training rows'
    /// out-of-fold tables, with the block's first training row.
    pub fn encode(&self, raw_missing: &[bool], codes: &[u32], outs: &mut [&mut [f32]], oof: Option<(&Oof, usize)>) {
        let width = self.width();
        if self.indicator {
            if let Some(ind) = outs.get_mut(width) {
                for (o, &m) in ind.iter_mut().zip(raw_missing) {
                    *o = if m { 1.0 } else { 0.0 };
                }
            }
        }
        match &self.encoder {
            Encoder::Onehot { kept, other } => {
                for (i, &c) in codes.iter().enumerate() {
                    let col = match c {
                        MISSING => None,
                        c if (c as usize) < *kept => Some(c as usize),
                        _ if *other => Some(*kept),
                        _ => None,
                    };
                    if let Some(col) = col.and_then(|j| outs.get_mut(j)) {
                        col[i] = 1.0;
                    }
                }
            }
            Encoder::Ordinal => {
                if let Some(out) = outs.first_mut() {
                    for (o, &c) in out.iter_mut().zip(codes) {
                        *o = if (c as usize) < self.categories.len() {
                            c as f32
                        } else {
                            f32::NAN
                        };
                    }
                }
            }
            Encoder::Target { prior, values } => {
                let m = prior.len();
                for (i, &c) in codes.iter().enumerate() {
                    for (j, out) in outs.iter_mut().take(m).enumerate() {
                        out[i] = match (c, oof) {
                            (MISSING, _) => f32::NAN,
                            (c, Some((oof, start))) => {
                                let fold = oof.folds.get(start + i).copied().unwrap_or(0) as usize;
                                let (p, v) = &oof.tables[fold.min(oof.tables.len() - 1)];
                                v.get(c as usize * m + j).copied().unwrap_or(p[j]) as f32
                            }
                            (c, None) => values.get(c as usize * m + j).map_or(prior[j].0, |v| v.0) as f32,
                        };
                    }
                }
            }
        }
    }
}

/// What a categorical feature is, before fitting.
pub(crate) struct CategoricalSpec {
    pub name: String,
    pub input: usize,
    pub options: CategoricalOptions,
}

/// The training target, checked against its kind.
pub(crate) struct Target<'t> {
    pub values: &'t [f64],
    pub kind: TargetKind,
}

impl Target<'_> {
    fn outputs(&self) -> usize {
        match self.kind {
            TargetKind::Multiclass(k) => k,
            _ => 1,
        }
    }
}

/// Assigns `n` rows to `k` folds of near-equal size, shuffled by `seed`.
pub(crate) fn fold_assignment(n: usize, k: usize, seed: u64) -> Vec<u32> {
    let mut state = seed;
    // SplitMix64: small, fast, and good enough to shuffle rows.
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut folds = vec![0u32; n];
    for (pos, &row) in order.iter().enumerate() {
        folds[row] = (pos % k.max(1)) as u32;
    }
    folds
}

/// Smoothed target means per category over the rows where `include` holds:
/// `(sum + m * prior) / (count + m)`, the prior for categories with no rows.
fn target_table(
    codes: &[u32],
    target: &Target,
    n_categories: usize,
    smoothing: f64,
    include: impl Fn(usize) -> bool,
) -> (Vec<f64>, Vec<f64>) {
    let m = target.outputs();
    let mut sums = vec![0.0f64; n_categories * m];
    let mut counts = vec![0u64; n_categories];
    let mut prior = vec![0.0f64; m];
    let mut rows = 0u64;
    let add = |to: &mut [f64], y: f64| match target.kind {
        TargetKind::Multiclass(_) => {
            if let Some(s) = to.get_mut(y as usize) {
                *s += 1.0;
            }
        }
        _ => to[0] += y,
    };
    for (i, (&c, &y)) in codes.iter().zip(target.values).enumerate() {
        if !include(i) {
            continue;
        }
        rows += 1;
        add(&mut prior, y);
        if (c as usize) < n_categories {
            counts[c as usize] += 1;
            add(&mut sums[c as usize * m..(c as usize + 1) * m], y);
        }
    }
    prior.iter_mut().for_each(|p| *p /= rows.max(1) as f64);
    let mut values = vec![0.0f64; n_categories * m];
    for c in 0..n_categories {
        let n = counts[c] as f64;
        for j in 0..m {
            values[c * m + j] = if counts[c] == 0 {
                prior[j]
            } else {
                (sums[c * m + j] + smoothing * prior[j]) / (n + smoothing)
            };
        }
    }
    (prior, values)
}

/// Counts the categories of the view's rows: (text -> count, missing count).
fn count(spec: &CategoricalSpec, view: &TableView) -> (HashMap<String, u64>, u64) {
    let chunks = &view.columns[spec.input];
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut missing = 0u64;
    let mut dict_counts: Vec<Option<(Vec<u64>, u64)>> = chunks
        .iter()
        .map(|c| dict_values(c).map(|v| (vec![0u64; v.array.len()], 0)))
        .collect();
    let (mut scratch, mut runs) = (Vec::new(), Vec::new());
    let n = view.rows.len();
    for start in (0..n).step_by(crate::pipeline::BLOCK) {
        view.rows
            .runs(start..(start + crate::pipeline::BLOCK).min(n), &mut scratch, &mut runs);
        for run in &runs {
            let chunk = &chunks[run.chunk];
            match &mut dict_counts[run.chunk] {
                Some((per_key, nulls)) => each_local!(run, scratch, it => each_dict_key(chunk, it, |_, k| match k {
                    Some(k) => per_key[k] += 1,
                    None => *nulls += 1,
                })),
                None => each_local!(run, scratch, it => each_text(chunk, it, |_, t| match t {
                    Some(t) => match counts.get_mut(t) {
                        Some(c) => *c += 1,
                        None => {
                            counts.insert(t.to_string(), 1);
                        }
                    },
                    None => missing += 1,
                })),
            }
        }
    }
    for (chunk, dc) in chunks.iter().zip(dict_counts) {
        let (Some((per_key, nulls)), Some(values)) = (dc, dict_values(chunk)) else {
            continue;
        };
        missing += nulls;
        each_text(&values, 0..per_key.len(), |k, t| {
            let c = per_key[k];
            if c == 0 {
                return;
            }
            match t {
                Some(t) => *counts.entry(t.to_string()).or_insert(0) += c,
                None => missing += c,
            }
        });
    }
    (counts, missing)
}

/// Fits a categorical feature on the view's rows (the training rows).
pub(crate) fn fit_categorical(
    spec: &CategoricalSpec,
    view: &TableView,
    target: Option<&Target>,
    seed: u64,
    warnings: &mut Vec<String>,
) -> Result<(CategoricalFeature, Option<Oof>)> {
    let o = &spec.options;
    let (mut counts, missing) = count(spec, view);
    let fill = match o.impute {
        Impute::Constant => Some(o.fill_category.clone()),
        Impute::MostFrequent => {
            let best = counts.iter().max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)));
            if best.is_none() {
                warnings.push(format!(
                    "feature '{}' has no values in the training rows; its missing values stay missing",
                    spec.name
                ));
            }
            best.map(|(k, _)| k.clone())
        }
        _ => None,
    };
    if let Some(f) = &fill {
        if missing > 0 {
            *counts.entry(f.clone()).or_insert(0) += missing;
        }
    }
    let mut names: Vec<(String, u64)> = counts.into_iter().collect();
    match o.encode {
        Encoding::Onehot => names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0))),
        _ => names.sort_by(|a, b| a.0.cmp(&b.0)),
    }
    let categories = CategoryIndex::try_from(names.into_iter().map(|(n, _)| n).collect::<Vec<_>>())
        .map_err(|e| DataError::new(kiln_data::Location::default().with_column(&spec.name), e))?;
    let n = categories.len();
    let mut feature = CategoricalFeature {
        name: spec.name.clone(),
        input: spec.input,
        categories,
        fill,
        indicator: o.missing_indicator && missing > 0,
        encoder: Encoder::Ordinal,
    };
    feature.encoder = match o.encode {
        Encoding::Ordinal => Encoder::Ordinal,
        Encoding::Onehot => Encoder::Onehot {
            kept: n.min(o.max_categories),
            other: n > o.max_categories,
        },
        Encoding::Target => {
            let Some(target) = target else {
                return Err(DataError::new(
                    kiln_data::Location::default().with_column(&spec.name),
                    "target encoding needs a target; pass one, or use encode = \"onehot\" or \"ordinal\"",
                ));
            };
            let codes = training_codes(&feature, view);
            let (prior, values) = target_table(&codes, target, n, o.target_smoothing, |_| true);
            let k = o.target_folds.min(codes.len()).max(2);
            let folds = fold_assignment(codes.len(), k, seed);
            let tables = (0..k as u32)
                .map(|f| target_table(&codes, target, n, o.target_smoothing, |i| folds[i] != f))
                .collect();
            feature.encoder = Encoder::Target {
                prior: prior.into_iter().map(F).collect(),
                values: values.into_iter().map(F).collect(),
            };
            return Ok((feature, Some(Oof { folds, tables })));
        }
    };
    Ok((feature, None))
}

/// The imputed codes of every row of the view.
fn training_codes(feature: &CategoricalFeature, view: &TableView) -> Vec<u32> {
    let chunks = &view.columns[feature.input];
    let prep = feature.prepare(chunks);
    let n = view.rows.len();
    let mut codes = vec![MISSING; n];
    let (mut scratch, mut runs) = (Vec::new(), Vec::new());
    for start in (0..n).step_by(crate::pipeline::BLOCK) {
        let end = (start + crate::pipeline::BLOCK).min(n);
        view.rows.runs(start..end, &mut scratch, &mut runs);
        feature.read_codes(&prep, chunks, &runs, &scratch, &mut codes[start..end]);
    }
    feature.impute(&prep, &mut codes);
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_balanced_seeded_and_cover_every_row() {
        let f = fold_assignment(103, 5, 7);
        assert_eq!(f, fold_assignment(103, 5, 7));
        assert_ne!(f, fold_assignment(103, 5, 8));
        let mut sizes = [0usize; 5];
        f.iter().for_each(|&k| sizes[k as usize] += 1);
        assert_eq!(sizes, [21, 21, 21, 20, 20]);
    }

    #[test]
    fn smoothed_means_by_hand() {
        // Categories 0, 0, 0, 1, missing; binary target 1, 1, 0, 1, 0.
        let codes = [0, 0, 0, 1, MISSING];
        let y = [1.0, 1.0, 0.0, 1.0, 0.0];
        let t = Target {
            values: &y,
            kind: TargetKind::Binary,
        };
        let (prior, values) = target_table(&codes, &t, 3, 2.0, |_| true);
        assert_eq!(prior, vec![0.6]);
        // (2 + 2 * 0.6) / (3 + 2) = 0.64; (1 + 1.2) / 3; no rows: the prior.
        assert_eq!(values.len(), 3);
        assert!((values[0] - 0.64).abs() < 1e-15);
        assert!((values[1] - 2.2 / 3.0).abs() < 1e-15);
        assert_eq!(values[2], 0.6);
        // Leaving rows out.
        let (prior, values) = target_table(&codes, &t, 3, 0.0, |i| i != 0);
        assert_eq!(prior, vec![0.5]);
        assert_eq!(values[0], 0.5);
        // Multiclass: one column per class.
        let y = [2.0, 0.0, 2.0, 1.0, 1.0];
        let t = Target {
            values: &y,
            kind: TargetKind::Multiclass(3),
        };
        let (prior, values) = target_table(&codes, &t, 2, 0.0, |_| true);
        assert_eq!(prior, vec![0.2, 0.4, 0.4]);
        assert_eq!(values[..3], [1.0 / 3.0, 0.0, 2.0 / 3.0]);
        assert_eq!(values[3..], [0.0, 1.0, 0.0]);
    }

    #[test]
    fn index_rejects_duplicates() {
        assert!(CategoryIndex::try_from(vec!["a".to_string(), "a".to_string()]).is_err());
        let i = CategoryIndex::try_from(vec!["b".to_string(), "a".to_string()]).unwrap();
        assert_eq!((i.code("a"), i.code("b"), i.code("c")), (1, 0, UNSEEN));
    }
}
