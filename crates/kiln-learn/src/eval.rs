//! Per-iteration metrics and input checks for the learners written in Rust
//! (baselines, linear models): predictions to `kiln-metrics` scores, the
//! default metrics of a task, `train_<metric>` / `valid_<metric>` reports, and
//! the checks every fit and prediction makes on its input.

use kiln_data::Matrix;
use kiln_metrics::{Metric, Scores};

use crate::learner::{LearnError, Predictions, Result, Task, TrainSet};

/// Predictions as `kiln-metrics` takes them.
pub fn scores(pred: &Predictions) -> Scores<'_> {
    match pred {
        Predictions::Binary(p) => Scores::Binary(p),
        Predictions::Multiclass { n_classes, probs } => Scores::Multiclass {
            n_classes: *n_classes,
            probs,
        },
        Predictions::Regression(v) => Scores::Regression(v),
    }
}

/// The metrics reported each iteration by default: the loss first, then a
/// score (`logloss, auc` binary; `logloss, accuracy` multiclass; `rmse, mae`
/// regression).
pub fn default_metrics(task: Task) -> Vec<Metric> {
    match task {
        Task::Binary => vec![Metric::LogLoss, Metric::Auc(kiln_metrics::ClassAverage::Macro)],
        Task::Multiclass { .. } => vec![Metric::LogLoss, Metric::Accuracy],
        Task::Regression => vec![Metric::Rmse, Metric::Mae],
    }
}

/// The metrics a learner reports for `task`: `first` (a configured metric
/// name) leading, then the defaults. A name that is unknown, a ranking
/// metric, or for the other kind of task is an error naming the model.
pub fn metrics_for(kind: &str, task: Task, first: Option<&str>) -> Result<Vec<Metric>> {
    let mut out = Vec::new();
    if let Some(name) = first {
        let m = Metric::from_name(name).map_err(|e| LearnError::new(format!("model '{kind}': {e}")))?;
        if m.is_ranking() || m.is_regression() != (task == Task::Regression) {
            return Err(LearnError::new(format!(
                "model '{kind}': metric '{name}' is not available for a {} task",
                task.name()
            )));
        }
        out.push(m);
    }
    for m in default_metrics(task) {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Appends `<prefix>_<metric>` for each metric on `pred` against `y`. An
/// undefined value (AUC on a single-class set) is reported as NaN, which
/// early stopping skips.
pub fn report(
    prefix: &str,
    metrics: &[Metric],
    y: &[f64],
    pred: &Predictions,
    weight: Option<&[f64]>,
    out: &mut Vec<(String, f64)>,
) -> Result<()> {
    for m in metrics {
        let v = m
            .evaluate(y, scores(pred), weight)
            .map_err(|e| LearnError::new(format!("{prefix} {}: {e}", m.name())))?;
        out.push((format!("{prefix}_{}", m.name()), v));
    }
    Ok(())
}

/// Sample weights as `f64` (validated by [`check_set`]).
pub fn weights_f64(set: &TrainSet<'_>) -> Option<Vec<f64>> {
    set.weight.map(|w| w.iter().map(|&v| f64::from(v)).collect())
}

/// Checks a training (or validation) set against the task: rows present,
/// one label and weight per row, labels that fit the task, weights finite
/// and non-negative with a positive sum. `what` names the set in errors.
pub fn check_set(task: Task, set: &TrainSet<'_>, what: &str) -> Result<()> {
    let n = set.x.n_rows();
    if n == 0 {
        return Err(LearnError::new(format!("the {what} set has no rows")));
    }
    if set.y.len() != n {
        return Err(LearnError::new(format!(
            "the {what} set has {} labels for {n} rows",
            set.y.len()
        )));
    }
    check_task(task)?;
    check_labels(task, set.y, what)?;
    if let Some(w) = set.weight {
        if w.len() != n {
            return Err(LearnError::new(format!(
                "the {what} set has {} weights for {n} rows",
                w.len()
            )));
        }
        if let Some(i) = w.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(LearnError::new(format!(
                "the {what} set's weight at row {} is {}: weights must be finite and >= 0",
                i + 1,
                w[i]
            )));
        }
        if w.iter().map(|&v| f64::from(v)).sum::<f64>() <= 0.0 {
            return Err(LearnError::new(format!("the {what} set's weights sum to zero")));
        }
    }
    Ok(())
}

/// A multiclass task needs at least two classes.
pub fn check_task(task: Task) -> Result<()> {
    match task {
        Task::Multiclass { n_classes } if n_classes < 2 => Err(LearnError::new(format!(
            "a multiclass task needs at least 2 classes, got {n_classes}"
        ))),
        _ => Ok(()),
    }
}

/// Labels fit the task: class indices `0..k`, or finite values. Rows are 1-based in errors.
pub fn check_labels(task: Task, y: &[f64], what: &str) -> Result<()> {
    for (i, &v) in y.iter().enumerate() {
        let ok = match task {
            Task::Regression => v.is_finite(),
            _ => v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < task.n_classes() as f64,
        };
        if !ok {
            return Err(LearnError::new(match task {
                Task::Regression => format!(
                    "the {what} set's label at row {} is {v}: regression labels must be finite numbers",
                    i + 1
                ),
                _ => format!(
                    "the {what} set's label at row {} is {v}: a {} task needs class indices 0..={}",
                    i + 1,
                    task.name(),
                    task.n_classes() - 1
                ),
            }));
        }
    }
    Ok(())
}

/// A validation set must have the training set's features, in order.
pub fn check_same_features(train: &Matrix, valid: &Matrix) -> Result<()> {
    if train.names() != valid.names() {
        return Err(LearnError::new(format!(
            "the validation set's features differ from the training set's: {}",
            feature_difference(train.names(), valid.names())
        )));
    }
    Ok(())
}

/// A matrix to predict on must have the model's features, in order.
pub fn check_features(expected: &[String], x: &Matrix) -> Result<()> {
    if x.names() != expected {
        return Err(LearnError::new(format!(
            "the input's features differ from the model's: {}",
            feature_difference(expected, x.names())
        )));
    }
    Ok(())
}

/// Fails on the first missing (NaN) or infinite feature value, naming the
/// feature and the 1-based row.
pub fn check_finite_features(kind: &str, x: &Matrix) -> Result<()> {
    for (j, name) in x.names().iter().enumerate() {
        if let Some(i) = x.column(j).iter().position(|v| !v.is_finite()) {
            let v = x.column(j)[i];
            let what = if v.is_nan() { "missing (NaN)" } else { "infinite" };
            return Err(LearnError::new(format!(
                "model '{kind}': feature '{name}' is {what} at row {}: impute missing values first ([prep] impute)",
                i + 1
            )));
        }
    }
    Ok(())
}

fn feature_difference(expected: &[String], got: &[String]) -> String {
    if expected.len() != got.len() {
        return format!("expected {} features, got {}", expected.len(), got.len());
    }
    expected
        .iter()
        .zip(got)
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .map(|(j, (a, b))| format!("column {} is '{b}', expected '{a}'", j + 1))
        .unwrap_or_default()
}

/// The fitted state of a saved model, or an error naming the kind.
pub fn state_of<T: serde::de::DeserializeOwned>(saved: &crate::learner::SavedModel) -> Result<T> {
    serde_json::from_value(saved.state.clone())
        .map_err(|e| LearnError::new(format!("saved '{}' model is malformed: {e}", saved.kind)))
}

/// A fitted state as JSON.
pub fn state_to_json<T: serde::Serialize>(kind: &str, state: &T) -> Result<serde_json::Value> {
    serde_json::to_value(state).map_err(|e| LearnError::new(format!("serialising the '{kind}' model: {e}")))
}
