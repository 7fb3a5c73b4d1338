//! Column profiles, and drift between two profiles.
//!
//! A [`Profile`] holds, per column: counts (values, nulls, NaN), and for
//! numeric and time columns min/max/mean/std, quantiles (p1, p5, p25, p50,
//! p75, p95, p99, linear interpolation as numpy's default) and a fixed-bin
//! histogram; for string and bool columns the top categories with counts; for
//! every column the distinct count (exact up to a cap). It serialises to JSON
//! and loads back: it is what drift and training-serving skew checks compare
//! against later.
//!
//! [`compare`] reports per-column drift of a current profile against a
//! reference one:
//! - **PSI** (population stability index), `sum((q - p) * ln(q / p))` over
//!   bins, where `p` and `q` are the reference and current shares of each bin
//!   (floored at 1e-4 so empty bins stay finite). Numeric columns use the
//!   reference histogram's bins plus one bin below and one above its range;
//!   categorical columns use the union of both top-category lists plus an
//!   "other" bin. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 major.
//! - **KS** (numeric only): the largest gap between the two cumulative
//!   distributions, each taken piecewise-linear through its histogram, checked
//!   at every bin edge of both. It is exact at the edges when both profiles
//!   share bin edges (profile the current data with
//!   [`ProfileOptions::reference`] to get that), an approximation otherwise.
//! - the change in the missing rate (nulls and NaN over rows) and categories
//!   the reference never saw (when the reference listed all its categories).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::table::Table;
use crate::values::{for_each_float, for_each_int, value_text};

/// The profile format version written into every profile.
pub const PROFILE_VERSION: u32 = 1;

/// Options for [`profile`].
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// Histogram bins per numeric column.
    pub bins: usize,
    /// How many top categories to keep.
    pub top_k: usize,
    /// Distinct values are counted exactly up to this many.
    pub distinct_cap: usize,
    /// Bin numeric columns on this profile's histogram edges (for exact drift comparisons).
    pub reference: Option<Profile>,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            bins: 20,
            top_k: 20,
            distinct_cap: 100_000,
            reference: None,
        }
    }
}

/// A profile of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub version: u32,
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
}

/// The broad kind of a profiled column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Numeric,
    Temporal,
    Categorical,
    Bool,
    Other,
}

/// The profile of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    /// The Arrow type, as text.
    pub data_type: String,
    pub kind: ColumnKind,
    /// Values that are neither null nor NaN.
    pub count: u64,
    pub nulls: u64,
    /// Float NaN values (not counted in `count`).
    #[serde(default)]
    pub nan: u64,
    /// Distinct non-null values (exact when `distinct_exact`, else a lower bound: the cap).
    pub distinct: u64,
    pub distinct_exact: bool,
    /// Numeric and temporal columns (temporal ones on their raw values: days or time units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericStats>,
    /// Temporal columns: the smallest and largest value as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_text: Option<String>,
    /// String and bool columns: the most frequent values, most frequent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<CategoryCount>,
}

impl ColumnProfile {
    /// Share of rows that are null or NaN.
    pub fn missing_rate(&self) -> f64 {
        let rows = self.count + self.nulls + self.nan;
        if rows == 0 {
            0.0
        } else {
            (self.nulls + self.nan) as f64 / rows as f64
        }
    }
}

/// A category and how many rows hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub value: String,
    pub count: u64,
}

/// Summary statistics of the finite values of a numeric column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for one value.
    pub std: f64,
    /// Infinite values (left out of every statistic).
    #[serde(default)]
    pub infinite: u64,
    pub quantiles: Quantiles,
    pub histogram: Histogram,
}

/// Quantiles of the finite values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub p1: f64,
    pub p5: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p95: f64,
    pub p99: f64,
}

/// A fixed-bin histogram: `counts[i]` values in `[edges[i], edges[i + 1])`
/// (the last bin includes its right edge); values outside the edges (only when
/// binned on a reference profile's edges) are counted in `below` and `above`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
    #[serde(default)]
    pub below: u64,
    #[serde(default)]
    pub above: u64,
}

impl Histogram {
    /// Equal-width bins over `[min, max]` (one bin when they are equal).
    fn equal_width(min: f64, max: f64, bins: usize) -> Histogram {
        let bins = if max > min { bins.max(1) } else { 1 };
        let width = (max - min) / bins as f64;
        let mut edges: Vec<f64> = (0..bins).map(|i| min + width * i as f64).collect();
        edges.push(max);
        Histogram {
            counts: vec![0; bins],
            edges,
            below: 0,
            above: 0,
        }
    }

    /// Counts the values into the bins.
    fn fill(&mut self, values: &[f64]) {
        let n_bins = self.counts.len();
        let (Some(&lo), Some(&hi)) = (self.edges.first(), self.edges.last()) else {
            return;
        };
        for &v in values {
            if v < lo {
                self.below += 1;
            } else if v > hi {
                self.above += 1;
            } else {
                // The first edge above v, minus one; the right edge belongs to the last bin.
                let i = self
                    .edges
                    .partition_point(|&e| e <= v)
                    .saturating_sub(1)
                    .min(n_bins - 1);
                self.counts[i] += 1;
            }
        }
    }

    /// Total values counted, inside and outside the edges.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.below + self.above
    }

    /// The share of values at or below `x`, taking values as spread evenly
    /// within each bin (those below the edges sit at the first edge, those
    /// above at the last).
    pub fn cdf(&self, x: f64) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let (Some(&lo), Some(&hi)) = (self.edges.first(), self.edges.last()) else {
            return 0.0;
        };
        if x < lo {
            return 0.0;
        }
        if x > hi {
            return 1.0;
        }
        if x == hi {
            return 1.0 - self.above as f64 / total as f64;
        }
        let mut acc = self.below as f64;
        for (&c, w) in self.counts.iter().zip(self.edges.windows(2)) {
            let (a, b) = (w[0], w[1]);
            if x >= b {
                acc += c as f64;
            } else {
                if b > a {
                    acc += c as f64 * (x - a) / (b - a);
                }
                break;
            }
        }
        acc / total as f64
    }
}

/// Profiles every column of a table (columns in parallel).
pub fn profile(table: &Table, opts: &ProfileOptions) -> Result<Profile> {
    let columns = table
        .schema()
        .fields()
        .par_iter()
        .enumerate()
        .map(|(i, f)| {
            let reference = opts
                .reference
                .as_ref()
                .and_then(|r| r.columns.iter().find(|c| &c.name == f.name()));
            profile_column(table, i, f, opts, reference)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Profile {
        version: PROFILE_VERSION,
        rows: table.num_rows() as u64,
        columns,
    })
}

impl Profile {
    /// The profile as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| DataError::msg(format!("writing the profile as JSON: {e}")))
    }

    /// A profile from JSON; `source` names it in errors.
    pub fn from_json(text: &str, source: &str) -> Result<Profile> {
        let p: Profile =
            serde_json::from_str(text).map_err(|e| DataError::in_file(source, format!("not a Kiln profile: {e}")))?;
        if p.version > PROFILE_VERSION {
            return Err(DataError::in_file(
                source,
                format!(
                    "profile version {} is newer than this Kiln understands ({PROFILE_VERSION})",
                    p.version
                ),
            ));
        }
        for c in &p.columns {
            if let Some(n) = &c.numeric {
                let h = &n.histogram;
                let sorted = h.edges.windows(2).all(|w| w[0] <= w[1]);
                if h.edges.len() != h.counts.len() + 1 || !sorted {
                    return Err(DataError::new(
                        crate::Location::file(source).with_column(&c.name),
                        format!(
                            "the histogram has {} edges for {} bins; expected one more edge than bins, in increasing order",
                            h.edges.len(),
                            h.counts.len()
                        ),
                    ));
                }
            }
        }
        Ok(p)
    }

    /// Writes the profile as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::write::write_bytes_atomic(path, self.to_json()?.as_bytes())
    }

    /// Reads a profile written by [`Profile::save`].
    pub fn load(path: &Path) -> Result<Profile> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| DataError::in_file(&shown, format!("reading: {e}")))?;
        Profile::from_json(&text, &shown)
    }

    /// One column's profile by name.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl fmt::Display for Profile {
    /// A readable table, one line per column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} rows, {} columns", self.rows, self.columns.len())?;
        let w = self
            .columns
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(
            f,
            "{:<w$}  {:<11}  {:>9}  {:>7}  {:>9}  {:>11}  {:>11}  {:>11}  {:>11}  top",
            "column", "kind", "count", "missing", "distinct", "min", "median", "max", "mean"
        )?;
        for c in &self.columns {
            let kind = match c.kind {
                ColumnKind::Numeric => "numeric",
                ColumnKind::Temporal => "temporal",
                ColumnKind::Categorical => "categorical",
                ColumnKind::Bool => "bool",
                ColumnKind::Other => "other",
            };
            let distinct = if c.distinct_exact {
                c.distinct.to_string()
            } else {
                format!(">={}", c.distinct)
            };
            let (min, med, max, mean) = match (&c.numeric, c.kind) {
                (Some(_), ColumnKind::Temporal) => (
                    c.min_text.clone().unwrap_or_default(),
                    String::new(),
                    c.max_text.clone().unwrap_or_default(),
                    String::new(),
                ),
                (Some(n), _) => (num(n.min), num(n.quantiles.p50), num(n.max), num(n.mean)),
                _ => Default::default(),
            };
            let top: Vec<String> = c
                .top
                .iter()
                .take(3)
                .map(|t| format!("{} ({})", t.value, t.count))
                .collect();
            writeln!(
                f,
                "{:<w$}  {:<11}  {:>9}  {:>6.1}%  {:>9}  {:>11}  {:>11}  {:>11}  {:>11}  {}",
                c.name,
                kind,
                c.count,
                c.missing_rate() * 100.0,
                distinct,
                min,
                med,
                max,
                mean,
                top.join(", ")
            )?;
        }
        Ok(())
    }
}

/// A number in at most 11 characters: integers as they are, others to 4 decimals.
fn num(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e10 {
        return format!("{x}");
    }
    if (1e-3..1e6).contains(&x.abs()) {
        let s = format!("{x:.4}");
        return s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{x:.3e}")
}

fn profile_column(
    table: &Table,
    i: usize,
    field: &Field,
    opts: &ProfileOptions,
    reference: Option<&ColumnProfile>,
) -> Result<ColumnProfile> {
    let array = table.column_at(i)?;
    let dt = field.data_type();
    let kind = match dt {
        d if d.is_integer() || d.is_floating() => ColumnKind::Numeric,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => ColumnKind::Temporal,
        DataType::Boolean => ColumnKind::Bool,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnKind::Categorical,
        DataType::Dictionary(_, v)
            if matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) =>
        {
            ColumnKind::Categorical
        }
        _ => ColumnKind::Other,
    };
    let mut p = ColumnProfile {
        name: field.name().clone(),
        data_type: dt.to_string(),
        kind,
        count: 0,
        nulls: array.null_count() as u64,
        nan: 0,
        distinct: 0,
        distinct_exact: true,
        numeric: None,
        min_text: None,
        max_text: None,
        top: Vec::new(),
    };
    match kind {
        ColumnKind::Numeric | ColumnKind::Temporal => {
            let mut values = Vec::with_capacity(array.len() - array.null_count());
            let mut nan = 0u64;
            let mut min_at: Option<(f64, usize)> = None;
            let mut max_at: Option<(f64, usize)> = None;
            let mut track = |i: usize, v: f64| {
                if min_at.is_none_or(|(m, _)| v < m) {
                    min_at = Some((v, i));
                }
                if max_at.is_none_or(|(m, _)| v > m) {
                    max_at = Some((v, i));
                }
            };
            if kind == ColumnKind::Temporal {
                for_each_int(array.as_ref(), |i, v| {
                    values.push(v as f64);
                    track(i, v as f64);
                })?;
            } else {
                for_each_float(array.as_ref(), |i, v| {
                    if v.is_nan() {
                        nan += 1;
                    } else {
                        values.push(v);
                        if v.is_finite() {
                            track(i, v);
                        }
                    }
                })?;
            }
            p.nan = nan;
            p.count = values.len() as u64;
            if kind == ColumnKind::Temporal {
                p.min_text = min_at.map(|(_, i)| value_text(array.as_ref(), i));
                p.max_text = max_at.map(|(_, i)| value_text(array.as_ref(), i));
            }
            sort_total(&mut values);
            p.distinct = count_runs(&values);
            let hist_ref = reference.and_then(|r| r.numeric.as_ref()).map(|n| &n.histogram);
            p.numeric = numeric_stats(&values, opts.bins, hist_ref);
        }
        ColumnKind::Bool => {
            let b = array.as_boolean();
            let t = b.true_count() as u64;
            let f = b.false_count() as u64;
            p.count = t + f;
            let mut top = vec![
                CategoryCount {
                    value: "true".into(),
                    count: t,
                },
                CategoryCount {
                    value: "false".into(),
                    count: f,
                },
            ];
            top.retain(|c| c.count > 0);
            top.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
            p.distinct = top.len() as u64;
            p.top = top;
        }
        ColumnKind::Categorical => {
            let text = cast(array.as_ref(), &DataType::Utf8).map_err(|e| DataError::msg(format!("{e}")))?;
            let text = text.as_string::<i32>();
            let mut counts: HashMap<&str, u64> = HashMap::new();
            let mut capped = false;
            for v in text.iter().flatten() {
                p.count += 1;
                if let Some(c) = counts.get_mut(v) {
                    *c += 1;
                } else if counts.len() < opts.distinct_cap {
                    counts.insert(v, 1);
                } else {
                    capped = true;
                }
            }
            p.distinct = counts.len() as u64;
            p.distinct_exact = !capped;
            let mut top: Vec<CategoryCount> = counts
                .into_iter()
                .map(|(v, c)| CategoryCount {
                    value: v.to_string(),
                    count: c,
                })
                .collect();
            top.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
            top.truncate(opts.top_k);
            p.top = top;
        }
        ColumnKind::Other => {
            p.count = (array.len() - array.null_count()) as u64;
            p.distinct_exact = false;
        }
    }
    Ok(p)
}

/// Sorts `values` in `f64::total_cmp` order: an LSD radix sort on the
/// order-preserving integer image of the bits (the one `total_cmp` compares),
/// 8 bits per pass, skipping the passes where every key has the same digit.
/// Several times faster than a comparison sort on the million-value columns
/// a profile sorts; small inputs use the comparison sort.
fn sort_total(values: &mut [f64]) {
    let n = values.len();
    if n < 2048 {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    const SIGN: u64 = 1 << 63;
    let key = |x: f64| {
        let b = x.to_bits();
        if b & SIGN != 0 {
            !b
        } else {
            b | SIGN
        }
    };
    let mut a: Vec<u64> = values.iter().map(|&x| key(x)).collect();
    let mut counts = vec![[0usize; 256]; 8];
    for &k in &a {
        for (pass, c) in counts.iter_mut().enumerate() {
            c[((k >> (pass * 8)) & 0xff) as usize] += 1;
        }
    }
    let mut b = vec![0u64; n];
    for (pass, c) in counts.iter().enumerate() {
        if c.contains(&n) {
            continue;
        }
        let mut offsets = [0usize; 256];
        let mut sum = 0;
        for (o, &x) in offsets.iter_mut().zip(c) {
            *o = sum;
            sum += x;
        }
        let shift = pass * 8;
        for &k in &a {
            let d = ((k >> shift) & 0xff) as usize;
            b[offsets[d]] = k;
            offsets[d] += 1;
        }
        std::mem::swap(&mut a, &mut b);
    }
    for (v, k) in values.iter_mut().zip(&a) {
        *v = f64::from_bits(if k & SIGN != 0 { k & !SIGN } else { !k });
    }
}

/// Distinct values of a sorted slice.
fn count_runs(sorted: &[f64]) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    1 + sorted.windows(2).filter(|w| w[0].total_cmp(&w[1]).is_ne()).count() as u64
}

/// Statistics of sorted values (infinite ones are counted and left out).
fn numeric_stats(sorted: &[f64], bins: usize, reference: Option<&Histogram>) -> Option<NumericStats> {
    let infinite = sorted.iter().filter(|v| v.is_infinite()).count() as u64;
    let finite: Vec<f64> = sorted.iter().copied().filter(|v| v.is_finite()).collect();
    let n = finite.len();
    let (&min, &max) = (finite.first()?, finite.last()?);
    let mean = finite.iter().sum::<f64>() / n as f64;
    let std = if n > 1 {
        (finite.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let q = |p: f64| quantile(&finite, p);
    let quantiles = Quantiles {
        p1: q(0.01),
        p5: q(0.05),
        p25: q(0.25),
        p50: q(0.50),
        p75: q(0.75),
        p95: q(0.95),
        p99: q(0.99),
    };
    let mut histogram = match reference {
        Some(h) if h.edges.len() >= 2 && h.counts.len() + 1 == h.edges.len() => Histogram {
            edges: h.edges.clone(),
            counts: vec![0; h.counts.len()],
            below: 0,
            above: 0,
        },
        _ => Histogram::equal_width(min, max, bins),
    };
    histogram.fill(&finite);
    Some(NumericStats {
        min,
        max,
        mean,
        std,
        infinite,
        quantiles,
        histogram,
    })
}

/// The `p` quantile of sorted values, interpolating linearly between ranks.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let pos = p * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

// ---------------------------------------------------------------------------
// Drift

/// How much a column drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftLevel {
    /// PSI below 0.1.
    Stable,
    /// PSI from 0.1 to 0.25.
    Moderate,
    /// PSI above 0.25, or the column changed type.
    Major,
}

/// Drift of one column between a reference and a current profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    pub name: String,
    pub kind: ColumnKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<f64>,
    /// Numeric columns: the largest gap between the two CDFs (0..1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks: Option<f64>,
    pub reference_missing_rate: f64,
    pub current_missing_rate: f64,
    /// Categories in the current data that the (complete) reference list lacks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_categories: Vec<String>,
    /// The Arrow type changed (e.g. a number column now read as text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_change: Option<String>,
    pub level: DriftLevel,
}

/// What [`compare`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub reference_rows: u64,
    pub current_rows: u64,
    pub columns: Vec<ColumnDrift>,
    /// Columns the current data no longer has.
    pub missing_columns: Vec<String>,
    /// Columns the reference did not have.
    pub new_columns: Vec<String>,
}

impl DriftReport {
    /// The drift of one column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnDrift> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The worst level over all columns (`Major` if a column went missing).
    pub fn worst(&self) -> DriftLevel {
        let worst = self.columns.iter().map(|c| c.level).max().unwrap_or(DriftLevel::Stable);
        if self.missing_columns.is_empty() {
            worst
        } else {
            DriftLevel::Major
        }
    }
}

impl fmt::Display for DriftReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "drift: reference {} rows, current {} rows",
            self.reference_rows, self.current_rows
        )?;
        let w = self
            .columns
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(
            f,
            "{:<w$}  {:>8}  {:>6}  {:>15}  level",
            "column", "psi", "ks", "missing"
        )?;
        for c in &self.columns {
            let psi = c.psi.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into());
            let ks = c.ks.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into());
            let missing = format!(
                "{:.1}% -> {:.1}%",
                c.reference_missing_rate * 100.0,
                c.current_missing_rate * 100.0
            );
            let mut level = format!("{:?}", c.level).to_lowercase();
            if let Some(t) = &c.type_change {
                level.push_str(&format!(" (type {t})"));
            }
            if !c.new_categories.is_empty() {
                level.push_str(&format!(" (new: {})", c.new_categories.join(", ")));
            }
            writeln!(f, "{:<w$}  {psi:>8}  {ks:>6}  {missing:>15}  {level}", c.name)?;
        }
        for m in &self.missing_columns {
            writeln!(f, "{m}: missing in the current data")?;
        }
        for m in &self.new_columns {
            writeln!(f, "{m}: new in the current data")?;
        }
        Ok(())
    }
}

const PSI_FLOOR: f64 = 1e-4;

/// Per-column drift of `current` against `reference` (see the module docs).
pub fn compare(reference: &Profile, current: &Profile) -> DriftReport {
    let mut columns = Vec::new();
    let mut missing_columns = Vec::new();
    for a in &reference.columns {
        let Some(b) = current.column(&a.name) else {
            missing_columns.push(a.name.clone());
            continue;
        };
        columns.push(column_drift(a, b));
    }
    let new_columns = current
        .columns
        .iter()
        .filter(|c| reference.column(&c.name).is_none())
        .map(|c| c.name.clone())
        .collect();
    DriftReport {
        reference_rows: reference.rows,
        current_rows: current.rows,
        columns,
        missing_columns,
        new_columns,
    }
}

fn column_drift(a: &ColumnProfile, b: &ColumnProfile) -> ColumnDrift {
    let mut d = ColumnDrift {
        name: a.name.clone(),
        kind: a.kind,
        psi: None,
        ks: None,
        reference_missing_rate: a.missing_rate(),
        current_missing_rate: b.missing_rate(),
        new_categories: Vec::new(),
        type_change: (a.data_type != b.data_type).then(|| format!("{} -> {}", a.data_type, b.data_type)),
        level: DriftLevel::Stable,
    };
    if let (Some(na), Some(nb)) = (&a.numeric, &b.numeric) {
        let (ha, hb) = (&na.histogram, &nb.histogram);
        d.psi = Some(numeric_psi(ha, hb));
        d.ks = Some(ks(ha, hb));
    } else if !a.top.is_empty() || !b.top.is_empty() {
        d.psi = Some(categorical_psi(a, b));
        if a.distinct_exact && a.top.len() as u64 == a.distinct {
            d.new_categories = b
                .top
                .iter()
                .filter(|c| !a.top.iter().any(|x| x.value == c.value))
                .map(|c| c.value.clone())
                .collect();
        }
    }
    d.level = match d.psi {
        _ if d.type_change.is_some() && a.kind != b.kind => DriftLevel::Major,
        Some(p) if p > 0.25 => DriftLevel::Major,
        Some(p) if p >= 0.1 => DriftLevel::Moderate,
        _ => DriftLevel::Stable,
    };
    d
}

fn psi(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(&p, &q)| {
            let (p, q) = (p.max(PSI_FLOOR), q.max(PSI_FLOOR));
            (q - p) * (q / p).ln()
        })
        .sum()
}

/// Shares of the reference bins (plus below/above) for both histograms.
fn numeric_psi(a: &Histogram, b: &Histogram) -> f64 {
    let (ta, tb) = (a.total() as f64, b.total() as f64);
    if ta == 0.0 || tb == 0.0 {
        return 0.0;
    }
    let mut p = vec![a.below as f64 / ta];
    p.extend(a.counts.iter().map(|&c| c as f64 / ta));
    p.push(a.above as f64 / ta);
    let q = if a.edges == b.edges {
        let mut q = vec![b.below as f64 / tb];
        q.extend(b.counts.iter().map(|&c| c as f64 / tb));
        q.push(b.above as f64 / tb);
        q
    } else {
        // Re-bin the current histogram onto the reference edges through its CDF.
        let (Some(&lo), Some(&hi)) = (a.edges.first(), a.edges.last()) else {
            return 0.0;
        };
        let below = b.cdf_before(lo);
        let mut q = vec![below];
        let mut prev = below;
        for (i, &e) in a.edges.iter().enumerate().skip(1) {
            let at = if i + 1 == a.edges.len() {
                b.cdf(hi)
            } else {
                b.cdf_before(e)
            };
            q.push((at - prev).max(0.0));
            prev = at;
        }
        q.push((1.0 - prev).max(0.0));
        q
    };
    psi(&p, &q)
}

impl Histogram {
    /// The share strictly below `x` (the CDF just left of `x`).
    fn cdf_before(&self, x: f64) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        match self.edges.first() {
            Some(&lo) if x <= lo => {
                if x == lo {
                    self.below as f64 / total as f64
                } else {
                    0.0
                }
            }
            _ => self.cdf(x),
        }
    }
}

/// The largest CDF gap at every edge of both histograms.
fn ks(a: &Histogram, b: &Histogram) -> f64 {
    a.edges
        .iter()
        .chain(&b.edges)
        .map(|&x| (a.cdf(x) - b.cdf(x)).abs())
        .fold(0.0, f64::max)
}

/// PSI over the union of both top lists plus an "other" bin.
fn categorical_psi(a: &ColumnProfile, b: &ColumnProfile) -> f64 {
    let (ta, tb) = (a.count as f64, b.count as f64);
    if ta == 0.0 || tb == 0.0 {
        return 0.0;
    }
    let mut names: Vec<&str> = a.top.iter().map(|c| c.value.as_str()).collect();
    for c in &b.top {
        if !names.contains(&c.value.as_str()) {
            names.push(&c.value);
        }
    }
    let share = |p: &ColumnProfile, t: f64, name: &str| {
        p.top
            .iter()
            .find(|c| c.value == name)
            .map_or(0.0, |c| c.count as f64 / t)
    };
    let mut p: Vec<f64> = names.iter().map(|n| share(a, ta, n)).collect();
    let mut q: Vec<f64> = names.iter().map(|n| share(b, tb, n)).collect();
    // Values outside both lists. A category listed only by one side may still be
    // in the other side's "rest", so the rest is what the lists leave unexplained.
    p.push((1.0 - p.iter().sum::<f64>()).max(0.0));
    q.push((1.0 - q.iter().sum::<f64>()).max(0.0));
    psi(&p, &q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_matches_total_cmp() {
        let mut rng = crate::rng::Rng::new(7);
        for n in [0usize, 1, 5, 2047, 2048, 10_000] {
            let mut v: Vec<f64> = (0..n)
                .map(|i| match i % 11 {
                    0 => -0.0,
                    1 => 0.0,
                    2 => f64::INFINITY,
                    3 => f64::NEG_INFINITY,
                    4 => 5e-324,
                    5 => -5e-324,
                    6 => 3.0,
                    _ => (rng.uniform() - 0.5) * 10f64.powi((i % 40) as i32 - 20),
                })
                .collect();
            let mut want = v.clone();
            want.sort_by(f64::total_cmp);
            sort_total(&mut v);
            let bits = |x: &[f64]| x.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&v), bits(&want), "n = {n}");
        }
        // Keys that differ only in their two low bytes: the six skipped passes
        // must leave the order of the two that ran.
        let mut v: Vec<f64> = (0..5000)
            .map(|i| f64::from_bits(0x4000_0000_0000_0000 | ((4999 - i) as u64)))
            .collect();
        sort_total(&mut v);
        assert!(v.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v: Vec<f64> = (1..=5).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 0.25), 2.0);
        assert!((quantile(&v, 0.1) - 1.4).abs() < 1e-12);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn histogram_bins_and_cdf() {
        let mut h = Histogram::equal_width(0.0, 10.0, 5);
        assert_eq!(h.edges, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        h.fill(&[0.0, 1.9, 2.0, 5.0, 10.0, 11.0, -1.0]);
        assert_eq!(h.counts, vec![2, 1, 1, 0, 1]);
        assert_eq!((h.below, h.above), (1, 1));
        assert_eq!(h.total(), 7);
        assert_eq!(h.cdf(-5.0), 0.0);
        assert!((h.cdf(2.0) - 3.0 / 7.0).abs() < 1e-12);
        assert!((h.cdf(1.0) - 2.0 / 7.0).abs() < 1e-12);
        assert!((h.cdf(10.0) - 6.0 / 7.0).abs() < 1e-12);
        assert_eq!(h.cdf(12.0), 1.0);
        let one = Histogram::equal_width(3.0, 3.0, 20);
        assert_eq!(one.counts.len(), 1);
    }

    #[test]
    fn psi_is_zero_for_equal_shares_and_grows_with_shift() {
        assert!(psi(&[0.5, 0.5], &[0.5, 0.5]).abs() < 1e-12);
        let small = psi(&[0.5, 0.5], &[0.55, 0.45]);
        let big = psi(&[0.5, 0.5], &[0.9, 0.1]);
        assert!(small > 0.0 && big > small);
    }
}
