//! Every metric against scikit-learn 1.9.1's values on the shared reference
//! vectors (`tests/reference/reference.json`, written by `gen_reference.py`),
//! to 1e-9 (relative to the value when it is larger than 1).

use std::collections::BTreeMap;

use kiln_metrics as m;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Reference {
    sklearn_version: String,
    inputs: BTreeMap<String, Input>,
    cases: Vec<Case>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Input {
    #[serde(default)]
    y_true: Vec<f64>,
    #[serde(default)]
    y_pred: Vec<f64>,
    #[serde(default)]
    scores: Vec<f64>,
    #[serde(default)]
    probs: Vec<f64>,
    weight: Option<Vec<f64>>,
    #[serde(default)]
    relevance: Vec<f64>,
    #[serde(default)]
    query: Vec<u64>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    metric: String,
    input: String,
    params: Params,
    expected: Value,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Params {
    average: Option<String>,
    n_classes: Option<usize>,
    k: Option<usize>,
}

fn average(p: &Params) -> m::Average {
    match p.average.as_deref() {
        Some("binary") => m::Average::Binary,
        Some("macro") => m::Average::Macro,
        Some("micro") => m::Average::Micro,
        Some("weighted") => m::Average::Weighted,
        other => panic!("unexpected average {other:?}"),
    }
}

fn class_average(p: &Params) -> m::ClassAverage {
    match p.average.as_deref() {
        Some("macro") => m::ClassAverage::Macro,
        Some("weighted") => m::ClassAverage::Weighted,
        other => panic!("unexpected average {other:?}"),
    }
}

/// Kiln's value for a case: a scalar or a list (confusion matrix).
fn compute(case: &Case, x: &Input) -> m::Result<Vec<f64>> {
    let w = x.weight.as_deref();
    let p = &case.params;
    let k = || p.n_classes.expect("n_classes");
    let one = |v: m::Result<f64>| v.map(|v| vec![v]);
    match case.metric.as_str() {
        "accuracy" => one(m::accuracy(&x.y_true, &x.y_pred, w)),
        "balanced_accuracy" => one(m::balanced_accuracy(&x.y_true, &x.y_pred, w)),
        "precision" => one(m::precision(&x.y_true, &x.y_pred, average(p), w)),
        "recall" => one(m::recall(&x.y_true, &x.y_pred, average(p), w)),
        "f1" => one(m::f1(&x.y_true, &x.y_pred, average(p), w)),
        "confusion_matrix" => m::confusion_matrix(&x.y_true, &x.y_pred, k(), w).map(|c| c.as_slice().to_vec()),
        "log_loss_binary" => one(m::log_loss_binary(&x.y_true, &x.scores, w)),
        "log_loss" => one(m::log_loss(&x.y_true, &x.probs, k(), w)),
        "roc_auc" => one(m::roc_auc(&x.y_true, &x.scores, w)),
        "average_precision" => one(m::average_precision(&x.y_true, &x.scores, w)),
        "roc_auc_ovr" => one(m::roc_auc_ovr(&x.y_true, &x.probs, k(), class_average(p), w)),
        "average_precision_ovr" => one(m::average_precision_ovr(&x.y_true, &x.probs, k(), class_average(p), w)),
        "mse" => one(m::mse(&x.y_true, &x.y_pred, w)),
        "rmse" => one(m::rmse(&x.y_true, &x.y_pred, w)),
        "mae" => one(m::mae(&x.y_true, &x.y_pred, w)),
        "mape" => one(m::mape(&x.y_true, &x.y_pred, w)),
        "r2" => one(m::r2(&x.y_true, &x.y_pred, w)),
        "ndcg" => one(m::ndcg(&x.relevance, &x.scores, &x.query, p.k)),
        "map" => one(m::mean_average_precision(&x.relevance, &x.scores, &x.query)),
        other => panic!("reference.json has a metric this test does not know: {other}"),
    }
}

fn expected_values(v: &Value) -> Vec<f64> {
    match v {
        Value::Null => vec![f64::NAN],
        Value::Number(n) => vec![n.as_f64().expect("number")],
        Value::Array(a) => a.iter().map(|x| x.as_f64().expect("number")).collect(),
        other => panic!("unexpected expected value {other}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn every_metric_matches_scikit_learn() {
    let text = include_str!("reference/reference.json");
    let reference: Reference = serde_json::from_str(text).expect("reference.json parses");
    assert_eq!(reference.sklearn_version, "1.9.1");
    assert!(reference.cases.len() > 500, "the reference file lost its cases");
    let mut failures = Vec::new();
    let mut metrics_seen = std::collections::BTreeSet::new();
    for case in &reference.cases {
        let input = reference.inputs.get(&case.input).expect("case input exists");
        metrics_seen.insert(case.metric.clone());
        let want = expected_values(&case.expected);
        match compute(case, input) {
            Ok(got) => {
                if got.len() != want.len() || got.iter().zip(&want).any(|(a, b)| !close(*a, *b)) {
                    failures.push(format!(
                        "{} {} {:?}: kiln {got:?}, sklearn {want:?}",
                        case.name, case.metric, case.params.average
                    ));
                }
            }
            Err(e) => failures.push(format!(
                "{} {}: kiln error '{e}', sklearn {want:?}",
                case.name, case.metric
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        reference.cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        metrics_seen.len(),
        19,
        "every metric has reference cases: {metrics_seen:?}"
    );
}
