//! Label metrics (accuracy, balanced accuracy, precision, recall, F1,
//! confusion matrix) and log loss.
//!
//! Labels are class indices stored as `f64` (`0.0, 1.0, ..., k-1`), the
//! representation `kiln-learn` uses; a label that is not a non-negative
//! integer is an error naming its position. Definitions follow
//! scikit-learn 1.9:
//!
//! - The classes of a multiclass average are the sorted union of the classes
//!   seen in `y_true` and `y_pred` (scikit-learn's `unique_labels`).
//! - A zero division (precision with no predicted positives, recall with no
//!   true positives, F1 with neither) is 0, scikit-learn's `zero_division="warn"`
//!   default (which returns 0 and warns).
//! - Sample weights, where given, weight every count.

use std::collections::BTreeSet;

use crate::check::{self, w_at};
use crate::error::{MetricError, Result};

/// How per-class precision, recall and F1 are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Average {
    /// Only class 1 (labels must be 0 or 1): scikit-learn's `average="binary"`.
    Binary,
    /// Unweighted mean over classes.
    Macro,
    /// From the counts summed over classes (equals accuracy for multiclass).
    Micro,
    /// Mean over classes weighted by each class's (weighted) true count.
    Weighted,
}

impl Average {
    /// The scikit-learn spelling (`binary`, `macro`, `micro`, `weighted`).
    pub fn name(&self) -> &'static str {
        match self {
            Average::Binary => "binary",
            Average::Macro => "macro",
            Average::Micro => "micro",
            Average::Weighted => "weighted",
        }
    }
}

/// Precision, recall and F1 computed together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrecisionRecallF1 {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// A `k x k` confusion matrix: rows are true classes, columns predicted ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionMatrix {
    n_classes: usize,
    /// Row-major (weighted) counts: `counts[t * k + p]`.
    counts: Vec<f64>,
}

impl ConfusionMatrix {
    /// The number of classes `k`.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The (weighted) count of samples of true class `t` predicted as `p`; 0
    /// outside the matrix.
    pub fn get(&self, t: usize, p: usize) -> f64 {
        if t >= self.n_classes || p >= self.n_classes {
            return 0.0;
        }
        self.counts[t * self.n_classes + p]
    }

    /// The row of true class `t` (empty outside the matrix).
    pub fn row(&self, t: usize) -> &[f64] {
        if t >= self.n_classes {
            return &[];
        }
        &self.counts[t * self.n_classes..(t + 1) * self.n_classes]
    }

    /// All counts, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.counts
    }
}

/// Fraction of samples whose predicted label equals the true label.
pub fn accuracy(y_true: &[f64], y_pred: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    let (t, p, w) = label_pair(y_true, y_pred, weight)?;
    let (mut hit, mut total) = (0.0, 0.0);
    for i in 0..t.len() {
        let wi = w_at(w, i);
        total += wi;
        if t[i] == p[i] {
            hit += wi;
        }
    }
    Ok(hit / total)
}

/// Mean per-class recall over the classes present in `y_true`
/// (scikit-learn's `balanced_accuracy_score`, `adjusted=False`).
pub fn balanced_accuracy(y_true: &[f64], y_pred: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    let (t, p, w) = label_pair(y_true, y_pred, weight)?;
    let labels = union_labels(&t, &p);
    let counts = per_class_counts(&t, &p, w, &labels);
    let recalls: Vec<f64> = counts
        .iter()
        .filter(|c| c.true_sum > 0.0)
        .map(|c| c.tp / c.true_sum)
        .collect();
    if recalls.is_empty() {
        return Err(MetricError::new(
            "balanced accuracy: no class has a positive weight in y_true",
        ));
    }
    Ok(recalls.iter().sum::<f64>() / recalls.len() as f64)
}

/// Precision: of the samples predicted as a class, the fraction that are.
pub fn precision(y_true: &[f64], y_pred: &[f64], average: Average, weight: Option<&[f64]>) -> Result<f64> {
    precision_recall_f1(y_true, y_pred, average, weight).map(|r| r.precision)
}

/// Recall: of the samples of a class, the fraction predicted as it.
pub fn recall(y_true: &[f64], y_pred: &[f64], average: Average, weight: Option<&[f64]>) -> Result<f64> {
    precision_recall_f1(y_true, y_pred, average, weight).map(|r| r.recall)
}

/// F1: `2 tp / (2 tp + fp + fn)` per class, then averaged.
pub fn f1(y_true: &[f64], y_pred: &[f64], average: Average, weight: Option<&[f64]>) -> Result<f64> {
    precision_recall_f1(y_true, y_pred, average, weight).map(|r| r.f1)
}

/// Precision, recall and F1 with one pass over the data.
pub fn precision_recall_f1(
    y_true: &[f64],
    y_pred: &[f64],
    average: Average,
    weight: Option<&[f64]>,
) -> Result<PrecisionRecallF1> {
    check::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    let w = check::weights(weight, y_true.len())?;
    let (t, p, labels) = if average == Average::Binary {
        let t = check::binary_labels("y_true", y_true)?;
        let p = check::binary_labels("y_pred", y_pred)?;
        let to_idx = |v: Vec<bool>| v.into_iter().map(usize::from).collect::<Vec<_>>();
        (to_idx(t), to_idx(p), vec![1usize])
    } else {
        let t = check::classes("y_true", y_true)?;
        let p = check::classes("y_pred", y_pred)?;
        let labels = union_labels(&t, &p);
        (t, p, labels)
    };
    let mut counts = per_class_counts(&t, &p, w, &labels);
    if average == Average::Micro {
        let total = counts.iter().fold(ClassCounts::default(), |a, c| ClassCounts {
            tp: a.tp + c.tp,
            pred_sum: a.pred_sum + c.pred_sum,
            true_sum: a.true_sum + c.true_sum,
        });
        counts = vec![total];
    }
    let prec: Vec<f64> = counts.iter().map(|c| divide(c.tp, c.pred_sum)).collect();
    let rec: Vec<f64> = counts.iter().map(|c| divide(c.tp, c.true_sum)).collect();
    let f: Vec<f64> = counts
        .iter()
        .map(|c| divide(2.0 * c.tp, c.true_sum + c.pred_sum))
        .collect();
    let class_weights: Option<Vec<f64>> = match average {
        Average::Weighted => Some(counts.iter().map(|c| c.true_sum).collect()),
        _ => None,
    };
    let avg = |v: &[f64]| mean(v, class_weights.as_deref());
    Ok(PrecisionRecallF1 {
        precision: avg(&prec),
        recall: avg(&rec),
        f1: avg(&f),
    })
}

/// The `n_classes x n_classes` confusion matrix (rows true, columns predicted).
pub fn confusion_matrix(
    y_true: &[f64],
    y_pred: &[f64],
    n_classes: usize,
    weight: Option<&[f64]>,
) -> Result<ConfusionMatrix> {
    check::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    if n_classes == 0 || n_classes > check::MAX_CLASS {
        return Err(MetricError::new(format!(
            "n_classes = {n_classes}: expected 1..={}",
            check::MAX_CLASS
        )));
    }
    let w = check::weights(weight, y_true.len())?;
    let t = check::classes_below("y_true", y_true, n_classes)?;
    let p = check::classes_below("y_pred", y_pred, n_classes)?;
    let mut counts = vec![0.0; n_classes * n_classes];
    for i in 0..t.len() {
        counts[t[i] * n_classes + p[i]] += w_at(w, i);
    }
    Ok(ConfusionMatrix { n_classes, counts })
}

/// Binary log loss (cross-entropy, natural log) of `p1 = P(class 1)`.
///
/// As scikit-learn does, probabilities are clipped to `[eps, 1 - eps]` with
/// `eps = f64::EPSILON` (after forming `1 - p` for class 0), so a confident
/// wrong answer costs about 36.04 rather than infinity. Probabilities outside
/// `[0, 1]` are an error.
pub fn log_loss_binary(y_true: &[f64], p1: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    check::same_len("y_true", y_true.len(), "probabilities", p1.len())?;
    let w = check::weights(weight, y_true.len())?;
    let t = check::binary_labels("y_true", y_true)?;
    check::probabilities("probabilities", p1)?;
    let (mut loss, mut total) = (0.0, 0.0);
    for i in 0..t.len() {
        let p = if t[i] { p1[i] } else { 1.0 - p1[i] };
        let wi = w_at(w, i);
        loss += wi * -clip(p).ln();
        total += wi;
    }
    Ok(loss / total)
}

/// Multiclass log loss of row-major `n x n_classes` class probabilities.
///
/// Clipping as in [`log_loss_binary`]. Rows are not renormalised (scikit-learn
/// only warns when they do not sum to one).
pub fn log_loss(y_true: &[f64], probs: &[f64], n_classes: usize, weight: Option<&[f64]>) -> Result<f64> {
    if y_true.is_empty() {
        return Err(MetricError::new("y_true is empty: a metric needs at least one sample"));
    }
    check::prob_matrix(probs, n_classes, y_true.len())?;
    let w = check::weights(weight, y_true.len())?;
    let t = check::classes_below("y_true", y_true, n_classes)?;
    let (mut loss, mut total) = (0.0, 0.0);
    for (i, &c) in t.iter().enumerate() {
        let wi = w_at(w, i);
        loss += wi * -clip(probs[i * n_classes + c]).ln();
        total += wi;
    }
    Ok(loss / total)
}

/// Clips a probability to `[eps, 1 - eps]`.
fn clip(p: f64) -> f64 {
    p.clamp(f64::EPSILON, 1.0 - f64::EPSILON)
}

/// Class indices of true and predicted labels, and the sample weights.
type LabelPair<'a> = (Vec<usize>, Vec<usize>, Option<&'a [f64]>);

/// Validated class indices of both label vectors, and the weights.
fn label_pair<'a>(y_true: &[f64], y_pred: &[f64], weight: Option<&'a [f64]>) -> Result<LabelPair<'a>> {
    check::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    let w = check::weights(weight, y_true.len())?;
    Ok((check::classes("y_true", y_true)?, check::classes("y_pred", y_pred)?, w))
}

/// The sorted union of the classes seen in `t` and `p`.
fn union_labels(t: &[usize], p: &[usize]) -> Vec<usize> {
    let set: BTreeSet<usize> = t.iter().chain(p.iter()).copied().collect();
    set.into_iter().collect()
}

/// Per-class (weighted) true positives, predicted count and true count.
#[derive(Debug, Clone, Copy, Default)]
struct ClassCounts {
    tp: f64,
    pred_sum: f64,
    true_sum: f64,
}

/// Counts for each of `labels` (sorted); samples of other classes count nowhere.
fn per_class_counts(t: &[usize], p: &[usize], w: Option<&[f64]>, labels: &[usize]) -> Vec<ClassCounts> {
    let mut counts = vec![ClassCounts::default(); labels.len()];
    let slot = |c: usize| labels.binary_search(&c).ok();
    for i in 0..t.len() {
        let wi = w_at(w, i);
        if let Some(k) = slot(t[i]) {
            counts[k].true_sum += wi;
            if t[i] == p[i] {
                counts[k].tp += wi;
            }
        }
        if let Some(k) = slot(p[i]) {
            counts[k].pred_sum += wi;
        }
    }
    counts
}

/// `num / den`, or 0 when `den` is 0 (scikit-learn's default `zero_division`).
fn divide(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// The (weighted) mean; weights that sum to zero fall back to the plain mean,
/// as scikit-learn's `_nanaverage` does.
pub(crate) fn mean(v: &[f64], weights: Option<&[f64]>) -> f64 {
    if let Some(w) = weights {
        let total: f64 = w.iter().sum();
        if total > 0.0 {
            return v.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / total;
        }
    }
    v.iter().sum::<f64>() / v.len() as f64
}
