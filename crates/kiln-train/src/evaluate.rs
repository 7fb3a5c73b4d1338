//! The metrics computed for every candidate on every split, by task.

use kiln_learn::{Predictions, Task};
use kiln_metrics::registry::{Metric, Scores};

/// The metric names reported for a task, in display order.
pub fn metric_names(task: Task) -> &'static [&'static str] {
    match task {
        Task::Binary => &[
            "auc",
            "average_precision",
            "logloss",
            "accuracy",
            "balanced_accuracy",
            "precision",
            "recall",
            "f1",
        ],
        Task::Multiclass { .. } => &[
            "logloss",
            "accuracy",
            "balanced_accuracy",
            "f1_macro",
            "f1_weighted",
            "auc",
        ],
        Task::Regression => &["rmse", "mae", "r2", "mse", "mape"],
    }
}

/// The selection metric when the config names none.
pub fn default_metric(task: Task) -> &'static str {
    match task {
        Task::Binary => "auc",
        Task::Multiclass { .. } => "logloss",
        Task::Regression => "rmse",
    }
}

/// Checks a selection metric fits the task; returns whether higher is better.
pub fn selection_direction(name: &str, task: Task) -> Result<bool, String> {
    let m = Metric::from_name(name).map_err(|e| e.to_string())?;
    if m.is_ranking() {
        return Err(format!(
            "metric '{name}' is a ranking metric; it cannot select a {} model",
            task.name()
        ));
    }
    if m.is_regression() != matches!(task, Task::Regression) {
        return Err(format!("metric '{name}' does not apply to a {} task", task.name()));
    }
    Ok(m.higher_is_better())
}

fn scores(p: &Predictions) -> Scores<'_> {
    match p {
        Predictions::Binary(v) => Scores::Binary(v),
        Predictions::Regression(v) => Scores::Regression(v),
        Predictions::Multiclass { n_classes, probs } => Scores::Multiclass {
            n_classes: *n_classes,
            probs,
        },
    }
}

/// One metric; `None` where it is undefined on this data (e.g. AUC with one class present).
pub fn metric(name: &str, y: &[f64], p: &Predictions, weight: Option<&[f64]>) -> Option<f64> {
    let m = Metric::from_name(name).ok()?;
    m.evaluate(y, scores(p), weight).ok().filter(|v| v.is_finite())
}

/// Every metric of the task that is defined on this data, in display order.
pub fn evaluate(task: Task, y: &[f64], p: &Predictions, weight: Option<&[f64]>) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = metric_names(task)
        .iter()
        .filter_map(|n| metric(n, y, p, weight).map(|v| (n.to_string(), v)))
        .collect();
    if let Some(extra) = out.iter().position(|(n, _)| n == "mape") {
        // MAPE explodes near zero targets; keep it only when it means something.
        if out[extra].1 > 1e6 {
            out.remove(extra);
        }
    }
    out
}

/// Per-row loss for error analysis: log loss of the true class, or the absolute error.
pub fn row_losses(y: &[f64], p: &Predictions) -> Vec<f64> {
    match p {
        Predictions::Binary(pr) => y
            .iter()
            .zip(pr)
            .map(|(&t, &q)| {
                let q = q.clamp(1e-15, 1.0 - 1e-15);
                if t >= 0.5 {
                    -q.ln()
                } else {
                    -(1.0 - q).ln()
                }
            })
            .collect(),
        Predictions::Multiclass { n_classes, probs } => y
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let k = (t as usize).min(n_classes.saturating_sub(1));
                -probs[i * n_classes + k].clamp(1e-15, 1.0).ln()
            })
            .collect(),
        Predictions::Regression(v) => y.iter().zip(v).map(|(a, b)| (a - b).abs()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_metrics_and_directions() {
        let y = [0.0, 0.0, 1.0, 1.0];
        let p = Predictions::Binary(vec![0.1, 0.6, 0.4, 0.9]);
        let m = evaluate(Task::Binary, &y, &p, None);
        let get = |n: &str| m.iter().find(|(k, _)| k == n).map(|(_, v)| *v).unwrap();
        assert_eq!(get("auc"), 0.75);
        assert_eq!(get("accuracy"), 0.5);
        assert_eq!(selection_direction("auc", Task::Binary), Ok(true));
        assert_eq!(selection_direction("logloss", Task::Binary), Ok(false));
        assert!(selection_direction("rmse", Task::Binary).is_err());
        assert!(selection_direction("auc", Task::Regression).is_err());
        assert!(selection_direction("nope", Task::Binary)
            .unwrap_err()
            .contains("unknown metric"));
        // One class present: AUC is undefined and left out, accuracy is not.
        let one = evaluate(Task::Binary, &[1.0, 1.0], &Predictions::Binary(vec![0.7, 0.2]), None);
        assert!(one.iter().all(|(k, _)| k != "auc"));
        assert!(one.iter().any(|(k, _)| k == "accuracy"));
    }

    #[test]
    fn row_losses_rank_the_worst_rows_first() {
        let l = row_losses(&[1.0, 0.0], &Predictions::Binary(vec![0.9, 0.9]));
        assert!(l[1] > l[0]);
        let r = row_losses(&[1.0, 5.0], &Predictions::Regression(vec![1.5, 2.0]));
        assert_eq!(r, vec![0.5, 3.0]);
    }
}
