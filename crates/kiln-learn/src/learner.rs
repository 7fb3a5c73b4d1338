//! The `Learner` and `Model` traits, tasks, predictions, saved models.

use std::collections::BTreeMap;
use std::fmt;

use kiln_data::Matrix;
use serde::{Deserialize, Serialize};

use crate::callback::Callbacks;

/// What is being predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "lowercase")]
pub enum Task {
    /// Two classes, labels 0 and 1.
    Binary,
    /// `n_classes` classes, labels `0..n_classes`.
    Multiclass { n_classes: usize },
    /// A real value.
    Regression,
}

impl Task {
    pub fn is_classification(&self) -> bool {
        !matches!(self, Task::Regression)
    }
    pub fn n_classes(&self) -> usize {
        match self {
            Task::Binary => 2,
            Task::Multiclass { n_classes } => *n_classes,
            Task::Regression => 0,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Multiclass { .. } => "multiclass",
            Task::Regression => "regression",
        }
    }
}

/// Rows to learn from: features, labels, optional weights.
#[derive(Debug, Clone, Copy)]
pub struct TrainSet<'a> {
    pub x: &'a Matrix,
    pub y: &'a [f64],
    pub weight: Option<&'a [f32]>,
}

impl<'a> TrainSet<'a> {
    pub fn new(x: &'a Matrix, y: &'a [f64]) -> TrainSet<'a> {
        TrainSet { x, y, weight: None }
    }
}

/// A model's predictions for a batch of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Predictions {
    /// Probability of class 1, one per row.
    Binary(Vec<f64>),
    /// Class probabilities, row-major `n_rows x n_classes`.
    Multiclass { n_classes: usize, probs: Vec<f64> },
    /// Predicted values, one per row.
    Regression(Vec<f64>),
}

impl Predictions {
    /// Predictions of `task` from their values: P(class 1) per row, class
    /// probabilities row-major, or predicted values.
    pub fn from_values(task: Task, values: Vec<f64>) -> Predictions {
        match task {
            Task::Binary => Predictions::Binary(values),
            Task::Regression => Predictions::Regression(values),
            Task::Multiclass { n_classes } => Predictions::Multiclass {
                n_classes,
                probs: values,
            },
        }
    }

    /// The values, whatever the task (see [`Predictions::from_values`]).
    pub fn values(&self) -> &[f64] {
        match self {
            Predictions::Binary(v) | Predictions::Regression(v) => v,
            Predictions::Multiclass { probs, .. } => probs,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Predictions::Binary(p) | Predictions::Regression(p) => p.len(),
            Predictions::Multiclass { n_classes, probs } => probs.len() / (*n_classes).max(1),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The predicted label per row: class index (threshold 0.5 / argmax) or value.
    pub fn labels(&self) -> Vec<f64> {
        match self {
            Predictions::Binary(p) => p.iter().map(|&v| if v >= 0.5 { 1.0 } else { 0.0 }).collect(),
            Predictions::Regression(v) => v.clone(),
            Predictions::Multiclass { n_classes, probs } => probs
                .chunks(*n_classes)
                .map(|row| {
                    let mut best = 0;
                    for (k, &p) in row.iter().enumerate() {
                        if p > row[best] {
                            best = k;
                        }
                    }
                    best as f64
                })
                .collect(),
        }
    }
}

/// Why a fit or a prediction failed.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnError {
    pub message: String,
}

impl LearnError {
    pub fn new(message: impl Into<String>) -> LearnError {
        LearnError {
            message: message.into(),
        }
    }
}

impl fmt::Display for LearnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LearnError {}

impl From<kiln_data::DataError> for LearnError {
    fn from(e: kiln_data::DataError) -> LearnError {
        LearnError::new(e.to_string())
    }
}

pub type Result<T, E = LearnError> = std::result::Result<T, E>;

/// A model as saved: its kind and its fitted state as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// The learner kind that made it (`lightgbm`, `logistic`, ...).
    pub kind: String,
    pub task: Task,
    /// Names of the features it was fitted on, in order.
    pub features: Vec<String>,
    /// The fitted state, in the kind's own shape.
    pub state: serde_json::Value,
}

/// Hyperparameters plus the algorithm: fits a [`Model`].
pub trait Learner: Send + Sync {
    /// The kind, as written in `kiln.toml` (`lightgbm`, `logistic`, ...).
    fn kind(&self) -> &str;
    /// The hyperparameters, as logged (every one, defaults included).
    fn params(&self) -> BTreeMap<String, String>;
    /// Fits a model on `train`, reporting each iteration (with metrics on
    /// `valid`, when given) to `callbacks`.
    fn fit(
        &self,
        task: Task,
        train: &TrainSet<'_>,
        valid: Option<&TrainSet<'_>>,
        callbacks: &mut Callbacks,
    ) -> Result<Box<dyn Model>>;
}

/// A fitted model.
pub trait Model: Send + Sync {
    fn kind(&self) -> &str;
    fn task(&self) -> Task;
    /// Feature names, in the order `predict` expects them.
    fn features(&self) -> &[String];
    fn predict(&self, x: &Matrix) -> Result<Predictions>;
    /// One importance per feature (higher is more important), if the model has them.
    fn feature_importance(&self) -> Option<Vec<f64>> {
        None
    }
    /// Iterations actually kept (boosting rounds, epochs), if iterative.
    fn iterations(&self) -> Option<usize> {
        None
    }
    /// SHAP contributions per row, if the model has them: row-major, per class
    /// (multiclass), one value per feature plus the expected value last.
    fn contributions(&self, _x: &Matrix) -> Option<Result<Vec<f64>>> {
        None
    }
    fn save(&self) -> Result<SavedModel>;
}

/// Loads a saved model back, by kind. Each model module adds its arm here.
pub fn load_model(saved: &SavedModel) -> Result<Box<dyn Model>> {
    match saved.kind.as_str() {
        "lightgbm" | "random_forest" => Ok(Box::new(crate::lightgbm::LightGbmModel::load(saved)?)),
        "voting" | "stacking" => crate::ensemble::load(saved),
        "majority" | "mean" | "stratified" | "rule" => crate::baseline::load(saved),
        "linear" | "logistic" => crate::linear::load(saved),
        other => Err(LearnError::new(format!(
            "unknown model kind '{other}': this build of Kiln cannot load it"
        ))),
    }
}
