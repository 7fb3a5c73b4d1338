//! Metrics by name, with their direction, for configs and training loops.
//!
//! `kiln.toml` names a metric (`metric = "auc"`); [`Metric::from_name`] turns
//! the name into a [`Metric`], which knows whether higher is better and how
//! to evaluate itself on a task's predictions ([`Scores`]).
//!
//! Names (case-insensitive; aliases in brackets):
//!
//! | name | metric | better |
//! | --- | --- | --- |
//! | `accuracy` | accuracy | higher |
//! | `error` | classification error, `1 - accuracy` (LightGBM's name) | lower |
//! | `balanced_accuracy` | balanced accuracy | higher |
//! | `precision`, `recall`, `f1` | binary average on binary tasks, macro on multiclass | higher |
//! | `precision_macro` / `_micro` / `_weighted` (same for `recall`, `f1`) | that average | higher |
//! | `logloss` (`log_loss`, `cross_entropy`) | log loss | lower |
//! | `auc` (`roc_auc`, `auc_macro`) | ROC AUC (one-vs-rest macro on multiclass) | higher |
//! | `auc_weighted` | ROC AUC, one-vs-rest prevalence-weighted | higher |
//! | `average_precision` (`ap`, `aucpr`, `auc_pr`, `pr_auc`) | average precision (OvR macro on multiclass) | higher |
//! | `average_precision_weighted` | average precision, OvR weighted | higher |
//! | `mse`, `rmse`, `mae`, `mape` | regression errors | lower |
//! | `r2` | coefficient of determination | higher |
//! | `ndcg`, `ndcg@k` | NDCG (at `k`) over query groups | higher |
//! | `map` | mean average precision over query groups | higher |
//!
//! Label metrics on probabilistic predictions use the predicted label:
//! `P(class 1) >= 0.5` for binary, the first largest probability for multiclass.

use crate::classification::{self, Average};
use crate::curve::{self, ClassAverage};
use crate::error::{MetricError, Result};
use crate::{ranking, regression};

/// A task's predictions, as metrics take them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scores<'a> {
    /// `P(class 1)` per row.
    Binary(&'a [f64]),
    /// Row-major `n x n_classes` class probabilities.
    Multiclass { n_classes: usize, probs: &'a [f64] },
    /// Predicted values.
    Regression(&'a [f64]),
}

/// A metric chosen by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Accuracy,
    /// `1 - accuracy`.
    Error,
    BalancedAccuracy,
    /// `None`: binary average on binary tasks, macro on multiclass.
    Precision(Option<Average>),
    Recall(Option<Average>),
    F1(Option<Average>),
    LogLoss,
    Auc(ClassAverage),
    AveragePrecision(ClassAverage),
    Mse,
    Rmse,
    Mae,
    R2,
    Mape,
    /// NDCG, cut at `k` when given.
    Ndcg(Option<usize>),
    Map,
}

/// The canonical metric names [`Metric::from_name`] accepts (besides `ndcg@k`
/// and the aliases).
pub const METRIC_NAMES: &[&str] = &[
    "accuracy",
    "error",
    "balanced_accuracy",
    "precision",
    "precision_macro",
    "precision_micro",
    "precision_weighted",
    "recall",
    "recall_macro",
    "recall_micro",
    "recall_weighted",
    "f1",
    "f1_macro",
    "f1_micro",
    "f1_weighted",
    "logloss",
    "auc",
    "auc_weighted",
    "average_precision",
    "average_precision_weighted",
    "mse",
    "rmse",
    "mae",
    "r2",
    "mape",
    "ndcg",
    "map",
];

impl Metric {
    /// The metric called `name` (case-insensitive, aliases accepted).
    pub fn from_name(name: &str) -> Result<Metric> {
        let lower = name.trim().to_ascii_lowercase();
        if let Some(k) = lower.strip_prefix("ndcg@") {
            return match k.parse::<usize>() {
                Ok(k) if k >= 1 => Ok(Metric::Ndcg(Some(k))),
                _ => Err(MetricError::new(format!(
                    "metric '{name}': the cut-off after 'ndcg@' must be a whole number >= 1"
                ))),
            };
        }
        let prf = |base: &str| -> Option<Option<Average>> {
            let rest = lower.strip_prefix(base)?;
            match rest {
                "" => Some(None),
                "_binary" => Some(Some(Average::Binary)),
                "_macro" => Some(Some(Average::Macro)),
                "_micro" => Some(Some(Average::Micro)),
                "_weighted" => Some(Some(Average::Weighted)),
                _ => None,
            }
        };
        if let Some(a) = prf("precision") {
            return Ok(Metric::Precision(a));
        }
        if let Some(a) = prf("recall") {
            return Ok(Metric::Recall(a));
        }
        if let Some(a) = prf("f1") {
            return Ok(Metric::F1(a));
        }
        Ok(match lower.as_str() {
            "accuracy" | "acc" => Metric::Accuracy,
            "error" | "error_rate" => Metric::Error,
            "balanced_accuracy" => Metric::BalancedAccuracy,
            "logloss" | "log_loss" | "cross_entropy" => Metric::LogLoss,
            "auc" | "roc_auc" | "auc_macro" => Metric::Auc(ClassAverage::Macro),
            "auc_weighted" | "roc_auc_weighted" => Metric::Auc(ClassAverage::Weighted),
            "average_precision" | "ap" | "aucpr" | "auc_pr" | "pr_auc" => Metric::AveragePrecision(ClassAverage::Macro),
            "average_precision_weighted" => Metric::AveragePrecision(ClassAverage::Weighted),
            "mse" => Metric::Mse,
            "rmse" => Metric::Rmse,
            "mae" => Metric::Mae,
            "r2" => Metric::R2,
            "mape" => Metric::Mape,
            "ndcg" => Metric::Ndcg(None),
            "map" => Metric::Map,
            _ => {
                return Err(MetricError::new(format!(
                    "unknown metric '{name}': expected one of {}, or ndcg@k",
                    METRIC_NAMES.join(", ")
                )))
            }
        })
    }

    /// The canonical name (`auc`, `f1_macro`, `ndcg@10`, ...); `from_name`
    /// gives this metric back.
    pub fn name(&self) -> String {
        let prf = |base: &str, a: &Option<Average>| match a {
            None => base.to_string(),
            Some(a) => format!("{base}_{}", a.name()),
        };
        match self {
            Metric::Accuracy => "accuracy".into(),
            Metric::Error => "error".into(),
            Metric::BalancedAccuracy => "balanced_accuracy".into(),
            Metric::Precision(a) => prf("precision", a),
            Metric::Recall(a) => prf("recall", a),
            Metric::F1(a) => prf("f1", a),
            Metric::LogLoss => "logloss".into(),
            Metric::Auc(ClassAverage::Macro) => "auc".into(),
            Metric::Auc(ClassAverage::Weighted) => "auc_weighted".into(),
            Metric::AveragePrecision(ClassAverage::Macro) => "average_precision".into(),
            Metric::AveragePrecision(ClassAverage::Weighted) => "average_precision_weighted".into(),
            Metric::Mse => "mse".into(),
            Metric::Rmse => "rmse".into(),
            Metric::Mae => "mae".into(),
            Metric::R2 => "r2".into(),
            Metric::Mape => "mape".into(),
            Metric::Ndcg(None) => "ndcg".into(),
            Metric::Ndcg(Some(k)) => format!("ndcg@{k}"),
            Metric::Map => "map".into(),
        }
    }

    /// Whether a larger value is a better model.
    pub fn higher_is_better(&self) -> bool {
        !matches!(
            self,
            Metric::Error | Metric::LogLoss | Metric::Mse | Metric::Rmse | Metric::Mae | Metric::Mape
        )
    }

    /// Whether the metric needs query groups ([`Metric::evaluate_ranking`]).
    pub fn is_ranking(&self) -> bool {
        matches!(self, Metric::Ndcg(_) | Metric::Map)
    }

    /// Whether the metric scores regression predictions (else classification,
    /// or ranking).
    pub fn is_regression(&self) -> bool {
        matches!(
            self,
            Metric::Mse | Metric::Rmse | Metric::Mae | Metric::R2 | Metric::Mape
        )
    }

    /// Evaluates the metric on a task's predictions against `y_true`
    /// (class indices or values). A metric that does not fit the kind of
    /// predictions (AUC on regression values, RMSE on probabilities, a
    /// ranking metric) is an error naming both.
    pub fn evaluate(&self, y_true: &[f64], scores: Scores<'_>, weight: Option<&[f64]>) -> Result<f64> {
        match scores {
            Scores::Regression(pred) => self.evaluate_regression(y_true, pred, weight),
            Scores::Binary(p1) => self.evaluate_binary(y_true, p1, weight),
            Scores::Multiclass { n_classes, probs } => self.evaluate_multiclass(y_true, probs, n_classes, weight),
        }
    }

    /// Evaluates a ranking metric (`ndcg`, `ndcg@k`, `map`) over query groups.
    pub fn evaluate_ranking(&self, relevance: &[f64], scores: &[f64], query: &[u64]) -> Result<f64> {
        match self {
            Metric::Ndcg(k) => ranking::ndcg(relevance, scores, query, *k),
            Metric::Map => ranking::mean_average_precision(relevance, scores, query),
            _ => Err(MetricError::new(format!(
                "metric '{}' is not a ranking metric",
                self.name()
            ))),
        }
    }

    fn mismatch(&self, what: &str) -> MetricError {
        if self.is_ranking() {
            return MetricError::new(format!(
                "metric '{}' ranks query groups: it needs query ids, not {what} predictions alone",
                self.name()
            ));
        }
        MetricError::new(format!("metric '{}' does not apply to {what} predictions", self.name()))
    }

    fn evaluate_regression(&self, y: &[f64], pred: &[f64], w: Option<&[f64]>) -> Result<f64> {
        match self {
            Metric::Mse => regression::mse(y, pred, w),
            Metric::Rmse => regression::rmse(y, pred, w),
            Metric::Mae => regression::mae(y, pred, w),
            Metric::R2 => regression::r2(y, pred, w),
            Metric::Mape => regression::mape(y, pred, w),
            _ => Err(self.mismatch("regression")),
        }
    }

    fn evaluate_binary(&self, y: &[f64], p1: &[f64], w: Option<&[f64]>) -> Result<f64> {
        let labels = || -> Vec<f64> { p1.iter().map(|&p| if p >= 0.5 { 1.0 } else { 0.0 }).collect() };
        let avg = |a: &Option<Average>| a.unwrap_or(Average::Binary);
        match self {
            Metric::LogLoss => classification::log_loss_binary(y, p1, w),
            Metric::Auc(_) => curve::roc_auc(y, p1, w),
            Metric::AveragePrecision(_) => curve::average_precision(y, p1, w),
            _ if self.is_regression() || self.is_ranking() => Err(self.mismatch("binary")),
            _ => self.evaluate_labels(y, &labels(), avg, w),
        }
    }

    fn evaluate_multiclass(&self, y: &[f64], probs: &[f64], k: usize, w: Option<&[f64]>) -> Result<f64> {
        let labels = || -> Vec<f64> {
            probs
                .chunks(k.max(1))
                .map(|row| {
                    let mut best = 0;
                    for (c, &p) in row.iter().enumerate() {
                        if p > row[best] {
                            best = c;
                        }
                    }
                    best as f64
                })
                .collect()
        };
        let avg = |a: &Option<Average>| a.unwrap_or(Average::Macro);
        match self {
            Metric::LogLoss => classification::log_loss(y, probs, k, w),
            Metric::Auc(a) => curve::roc_auc_ovr(y, probs, k, *a, w),
            Metric::AveragePrecision(a) => curve::average_precision_ovr(y, probs, k, *a, w),
            _ if self.is_regression() || self.is_ranking() => Err(self.mismatch("multiclass")),
            _ => {
                if probs.len() != y.len().saturating_mul(k) {
                    return Err(MetricError::new(format!(
                        "probabilities have {} values, expected {} rows x {k} classes",
                        probs.len(),
                        y.len()
                    )));
                }
                self.evaluate_labels(y, &labels(), avg, w)
            }
        }
    }

    /// Label metrics on predicted labels; `avg` resolves a task-default average.
    fn evaluate_labels(
        &self,
        y: &[f64],
        pred: &[f64],
        avg: impl Fn(&Option<Average>) -> Average,
        w: Option<&[f64]>,
    ) -> Result<f64> {
        match self {
            Metric::Accuracy => classification::accuracy(y, pred, w),
            Metric::Error => classification::accuracy(y, pred, w).map(|a| 1.0 - a),
            Metric::BalancedAccuracy => classification::balanced_accuracy(y, pred, w),
            Metric::Precision(a) => classification::precision(y, pred, avg(a), w),
            Metric::Recall(a) => classification::recall(y, pred, avg(a), w),
            Metric::F1(a) => classification::f1(y, pred, avg(a), w),
            _ => Err(self.mismatch("label")),
        }
    }
}
