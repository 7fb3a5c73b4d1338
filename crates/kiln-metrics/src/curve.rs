//! Threshold metrics: area under the ROC curve and average precision
//! (area under the precision-recall curve), binary and one-vs-rest.
//!
//! Both sweep the distinct scores from high to low; samples with tied scores
//! enter the curve together, as in scikit-learn 1.9:
//!
//! - ROC AUC is the trapezoidal area under (FPR, TPR), which counts a tied
//!   positive/negative pair as half right. With a single class in `y_true`
//!   it is undefined and the result is `NaN` (scikit-learn 1.9 returns `NaN`
//!   with a warning). The one-vs-rest macro average is `NaN` when a class is
//!   absent from `y_true`; the weighted average gives that class weight 0.
//! - Average precision is scikit-learn's step-wise sum
//!   `AP = sum_n (R_n - R_{n-1}) P_n` over the distinct thresholds, without
//!   interpolation. With no positive sample it is 0 (scikit-learn's value).
//!
//! Scores may be any finite numbers for the binary metrics; the one-vs-rest
//! forms take row-major `n x n_classes` probabilities.

use crate::check::{self, w_at};
use crate::classification::mean;
use crate::error::{MetricError, Result};

/// How per-class one-vs-rest scores are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassAverage {
    /// Unweighted mean over the classes.
    Macro,
    /// Mean weighted by each class's (weighted) prevalence in `y_true`.
    Weighted,
}

impl ClassAverage {
    /// The scikit-learn spelling (`macro`, `weighted`).
    pub fn name(&self) -> &'static str {
        match self {
            ClassAverage::Macro => "macro",
            ClassAverage::Weighted => "weighted",
        }
    }
}

/// Binary ROC AUC of `scores` (higher means class 1) against 0/1 labels.
/// `NaN` when `y_true` holds a single class.
pub fn roc_auc(y_true: &[f64], scores: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    let (pos, w) = binary_inputs(y_true, scores, weight)?;
    Ok(binary_roc_auc(&pos, scores, w))
}

/// Binary average precision of `scores` against 0/1 labels; 0 with no positives.
pub fn average_precision(y_true: &[f64], scores: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    let (pos, w) = binary_inputs(y_true, scores, weight)?;
    Ok(binary_average_precision(&pos, scores, w))
}

/// One-vs-rest ROC AUC of row-major `n x n_classes` class probabilities
/// (scikit-learn's `multi_class="ovr"` with `labels=0..n_classes`). Rows must
/// sum to 1 (as scikit-learn requires). The macro average is `NaN` when a
/// class is absent from `y_true`; the weighted one ignores that class.
pub fn roc_auc_ovr(
    y_true: &[f64],
    probs: &[f64],
    n_classes: usize,
    average: ClassAverage,
    weight: Option<&[f64]>,
) -> Result<f64> {
    let (t, w) = multiclass_inputs(y_true, probs, n_classes, weight)?;
    for (i, row) in probs.chunks(n_classes).enumerate() {
        let s: f64 = row.iter().sum();
        // numpy's allclose(1, s): |1 - s| <= 1e-8 + 1e-5 |s|.
        if (1.0 - s).abs() > 1e-8 + 1e-5 * s.abs() {
            return Err(MetricError::new(format!(
                "probabilities row {i} sums to {s}: multiclass ROC AUC needs class probabilities that sum to 1"
            )));
        }
    }
    Ok(one_vs_rest(&t, probs, n_classes, average, w, binary_roc_auc))
}

/// One-vs-rest average precision of row-major `n x n_classes` probabilities.
/// A class absent from `y_true` contributes 0 (scikit-learn refuses that case).
pub fn average_precision_ovr(
    y_true: &[f64],
    probs: &[f64],
    n_classes: usize,
    average: ClassAverage,
    weight: Option<&[f64]>,
) -> Result<f64> {
    let (t, w) = multiclass_inputs(y_true, probs, n_classes, weight)?;
    Ok(one_vs_rest(&t, probs, n_classes, average, w, binary_average_precision))
}

/// Validated binary labels and weights.
fn binary_inputs<'a>(
    y_true: &[f64],
    scores: &[f64],
    weight: Option<&'a [f64]>,
) -> Result<(Vec<bool>, Option<&'a [f64]>)> {
    check::same_len("y_true", y_true.len(), "scores", scores.len())?;
    let w = check::weights(weight, y_true.len())?;
    let pos = check::binary_labels("y_true", y_true)?;
    check::finite("scores", scores)?;
    Ok((pos, w))
}

/// Validated class indices and weights for a probability matrix.
fn multiclass_inputs<'a>(
    y_true: &[f64],
    probs: &[f64],
    n_classes: usize,
    weight: Option<&'a [f64]>,
) -> Result<(Vec<usize>, Option<&'a [f64]>)> {
    if y_true.is_empty() {
        return Err(MetricError::new("y_true is empty: a metric needs at least one sample"));
    }
    check::prob_matrix(probs, n_classes, y_true.len())?;
    let w = check::weights(weight, y_true.len())?;
    Ok((check::classes_below("y_true", y_true, n_classes)?, w))
}

/// A binary metric on (positive?, score, weights).
type BinaryMetric = fn(&[bool], &[f64], Option<&[f64]>) -> f64;

/// Averages a binary metric over the classes, each class against the rest.
fn one_vs_rest(
    t: &[usize],
    probs: &[f64],
    n_classes: usize,
    average: ClassAverage,
    w: Option<&[f64]>,
    metric: BinaryMetric,
) -> f64 {
    let mut scores = Vec::with_capacity(n_classes);
    let mut prevalence = Vec::with_capacity(n_classes);
    let mut column = vec![0.0; t.len()];
    for c in 0..n_classes {
        let pos: Vec<bool> = t.iter().map(|&k| k == c).collect();
        for (i, v) in column.iter_mut().enumerate() {
            *v = probs[i * n_classes + c];
        }
        scores.push(metric(&pos, &column, w));
        prevalence.push((0..t.len()).filter(|&i| pos[i]).map(|i| w_at(w, i)).sum::<f64>());
    }
    match average {
        ClassAverage::Macro => mean(&scores, None),
        ClassAverage::Weighted => {
            // As scikit-learn: a class with no weight scores 0, so an absent
            // class's NaN does not poison the average.
            for (s, &p) in scores.iter_mut().zip(&prevalence) {
                if p == 0.0 {
                    *s = 0.0;
                }
            }
            mean(&scores, Some(&prevalence))
        }
    }
}

/// Cumulative (false positives, true positives) at each distinct score, from
/// the highest score down. The last point holds the totals.
fn curve(pos: &[bool], scores: &[f64], w: Option<&[f64]>) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..pos.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = Vec::new();
    let (mut fp, mut tp) = (0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        let wi = w_at(w, i);
        if pos[i] {
            tp += wi;
        } else {
            fp += wi;
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_tie {
            points.push((fp, tp));
        }
    }
    points
}

/// Trapezoidal area under (FPR, TPR); NaN with a single class.
fn binary_roc_auc(pos: &[bool], scores: &[f64], w: Option<&[f64]>) -> f64 {
    let points = curve(pos, scores, w);
    let Some(&(n_neg, n_pos)) = points.last() else {
        return f64::NAN;
    };
    if n_neg <= 0.0 || n_pos <= 0.0 {
        return f64::NAN;
    }
    let (mut area, mut prev_x, mut prev_y) = (0.0, 0.0, 0.0);
    for &(fp, tp) in &points {
        let (x, y) = (fp / n_neg, tp / n_pos);
        area += (x - prev_x) * (y + prev_y) / 2.0;
        prev_x = x;
        prev_y = y;
    }
    area
}

/// Step-wise average precision; 0 with no positives.
pub(crate) fn binary_average_precision(pos: &[bool], scores: &[f64], w: Option<&[f64]>) -> f64 {
    let points = curve(pos, scores, w);
    let Some(&(_, n_pos)) = points.last() else { return 0.0 };
    if n_pos <= 0.0 {
        return 0.0;
    }
    let (mut ap, mut prev_recall) = (0.0, 0.0);
    for &(fp, tp) in &points {
        let predicted = tp + fp;
        let precision = if predicted > 0.0 { tp / predicted } else { 0.0 };
        let recall = tp / n_pos;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    ap.max(0.0)
}
