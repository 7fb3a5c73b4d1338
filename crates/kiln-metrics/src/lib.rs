//! kiln-metrics: evaluation metrics as pure functions on slices.
//!
//! Invariants: no dependencies, no I/O, no allocation beyond what a metric
//! needs, and no panics on input: every mistake (length mismatch, empty
//! input, a label that is not a class index, a non-finite score, bad
//! weights) is a [`MetricError`] naming the argument and position.
//!
//! Conventions, shared with `kiln-learn`:
//! - Classification labels are class indices stored as `f64` (`0.0..k`).
//! - Binary scores are `P(class 1)` (or any real score, for AUC and AP);
//!   multiclass scores are row-major `n x n_classes` probabilities.
//! - Optional sample weights are finite, non-negative, with a positive sum.
//! - Every definition is scikit-learn 1.9's, checked against it to 1e-9 by
//!   `tests/reference.rs` on vectors written by `tests/reference/gen_reference.py`.
//!   Where scikit-learn returns `NaN` for an undefined value (ROC AUC with one
//!   class) so does Kiln; module docs list the few deliberate differences.
//!
//! Modules: [`classification`] (accuracy ... F1, confusion matrix, log loss),
//! [`curve`] (ROC AUC, average precision), [`regression`], [`ranking`]
//! (NDCG@k, MAP), [`registry`] (metrics by name, with direction).

mod check;
pub mod classification;
pub mod curve;
pub mod error;
pub mod ranking;
pub mod registry;
pub mod regression;

pub use classification::{
    accuracy, balanced_accuracy, confusion_matrix, f1, log_loss, log_loss_binary, precision, precision_recall_f1,
    recall, Average, ConfusionMatrix, PrecisionRecallF1,
};
pub use curve::{average_precision, average_precision_ovr, roc_auc, roc_auc_ovr, ClassAverage};
pub use error::{MetricError, Result};
pub use ranking::{mean_average_precision, ndcg};
pub use registry::{Metric, Scores, METRIC_NAMES};
pub use regression::{mae, mape, mse, r2, rmse};
