//! `linear` and `logistic`: exact recovery and overfitting on tiny data, the
//! penalties (exact L1 zeros, the ridge closed form, alpha/l1_ratio), epochs
//! reported to callbacks and early stopping, save/load to identical bits,
//! determinism, and errors for bad input.

use std::collections::BTreeMap;

use kiln_data::Matrix;
use kiln_learn::linear::{LinearConfig, LinearKind, LinearLearner, LinearModel};
use kiln_learn::{
    load_model, Callbacks, Control, EarlyStopping, FnCallback, History, Learner, Model, Predictions, SavedModel, Task,
    TrainSet,
};
use serde_json::{json, Value};

/// A small seeded generator so the tests need nothing else.
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-12);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn names(p: usize) -> Vec<String> {
    (0..p).map(|j| format!("f{j}")).collect()
}

/// `n x p` standard normal features, column `j` scaled by `scales[j]`.
fn features(n: usize, scales: &[f64], seed: u64) -> Matrix {
    let mut r = Rng(seed);
    let cols: Vec<Vec<f32>> = scales
        .iter()
        .map(|s| (0..n).map(|_| (r.normal() * s) as f32).collect())
        .collect();
    Matrix::from_columns(names(scales.len()), cols).unwrap()
}

fn row(x: &Matrix, i: usize) -> Vec<f64> {
    (0..x.n_cols()).map(|j| f64::from(x.get(i, j))).collect()
}

fn learner(kind: &str, params: Value) -> LinearLearner {
    let map: BTreeMap<String, Value> = serde_json::from_value(params).unwrap();
    LinearLearner::from_params(kind, &map).unwrap()
}

fn from_params_err(kind: &str, params: Value) -> String {
    let map: BTreeMap<String, Value> = serde_json::from_value(params).unwrap();
    LinearLearner::from_params(kind, &map).unwrap_err().message
}

fn fit(l: &LinearLearner, task: Task, x: &Matrix, y: &[f64]) -> LinearModel {
    l.fit_linear(task, &TrainSet::new(x, y), None, &mut Callbacks::new())
        .unwrap()
}

fn fit_err(l: &LinearLearner, task: Task, set: &TrainSet<'_>) -> String {
    match l.fit(task, set, None, &mut Callbacks::new()) {
        Ok(_) => panic!("the fit should have failed"),
        Err(e) => e.message,
    }
}

fn accuracy(pred: &Predictions, y: &[f64]) -> f64 {
    let l = pred.labels();
    l.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

fn values(p: &Predictions) -> Vec<f64> {
    match p {
        Predictions::Binary(v) | Predictions::Regression(v) => v.clone(),
        Predictions::Multiclass { probs, .. } => probs.clone(),
    }
}

/// `y = 3 + 1.5 x0 - 2 x1 + 0.25 x2 + 0 x3` on features of very different scales.
fn noiseless() -> (Matrix, Vec<f64>, [f64; 4]) {
    let x = features(200, &[1.0, 10.0, 0.01, 3.0], 7);
    let beta = [1.5, -2.0, 0.25, 0.0];
    let y = (0..200)
        .map(|i| 3.0 + row(&x, i).iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>())
        .collect();
    (x, y, beta)
}

#[test]
fn linear_recovers_exact_coefficients_on_noiseless_data() {
    let (x, y, beta) = noiseless();
    let m = fit(
        &learner("linear", json!({"tol": 1e-12, "max_iter": 100000})),
        Task::Regression,
        &x,
        &y,
    );
    assert!(m.converged());
    for (got, want) in m.coefficients().iter().zip(beta) {
        assert!(
            (got - want).abs() < 1e-6,
            "coefficients {:?}, expected {beta:?}",
            m.coefficients()
        );
    }
    assert!((m.intercepts()[0] - 3.0).abs() < 1e-6, "intercept {:?}", m.intercepts());
    // Predictions on new rows follow the same line.
    let xt = features(20, &[1.0, 10.0, 0.01, 3.0], 99);
    let p = values(&m.predict(&xt).unwrap());
    for (i, v) in p.iter().enumerate() {
        let want = 3.0 + row(&xt, i).iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>();
        assert!((v - want).abs() < 1e-5, "row {i}: {v} vs {want}");
    }
    // Without an intercept the fit is through the origin.
    let y0: Vec<f64> = y.iter().map(|v| v - 3.0).collect();
    let m = fit(
        &learner(
            "linear",
            json!({"tol": 1e-12, "max_iter": 100000, "fit_intercept": false}),
        ),
        Task::Regression,
        &x,
        &y0,
    );
    assert_eq!(m.intercepts(), vec![0.0]);
    assert!((m.coefficients()[1] + 2.0).abs() < 1e-6);
}

#[test]
fn ridge_matches_its_closed_form() {
    // Two standardised features: beta = (Z'Z/n + l2 I)^-1 Z'(y - mean)/n.
    let x = features(100, &[1.0, 2.0], 3);
    let mut r = Rng(11);
    let y: Vec<f64> = (0..100)
        .map(|i| 1.0 + f64::from(x.get(i, 0)) - 0.5 * f64::from(x.get(i, 1)) + 0.3 * r.normal())
        .collect();
    let l2 = 0.7;
    let m = fit(
        &learner("linear", json!({"l2": l2, "tol": 1e-13, "max_iter": 100000})),
        Task::Regression,
        &x,
        &y,
    );
    let n = 100.0;
    let z: Vec<Vec<f64>> = (0..2)
        .map(|j| {
            let c: Vec<f64> = x.column(j).iter().map(|&v| f64::from(v)).collect();
            let mean = c.iter().sum::<f64>() / n;
            let sd = (c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            c.iter().map(|v| (v - mean) / sd).collect()
        })
        .collect();
    let ym = y.iter().sum::<f64>() / n;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>() / n;
    let yc: Vec<f64> = y.iter().map(|v| v - ym).collect();
    let (a, b, d) = (dot(&z[0], &z[0]) + l2, dot(&z[0], &z[1]), dot(&z[1], &z[1]) + l2);
    let (r0, r1) = (dot(&z[0], &yc), dot(&z[1], &yc));
    let det = a * d - b * b;
    let want = [(d * r0 - b * r1) / det, (a * r1 - b * r0) / det];
    let got = m.standardized_coefficients();
    assert!(
        (got[0] - want[0]).abs() < 1e-8 && (got[1] - want[1]).abs() < 1e-8,
        "{got:?} vs {want:?}"
    );
}

#[test]
fn logistic_overfits_a_tiny_separable_batch() {
    let x = Matrix::from_rows(
        names(2),
        &[
            vec![0.0, 0.1],
            vec![0.3, -0.2],
            vec![0.5, 0.4],
            vec![-0.4, 0.0],
            vec![2.0, 1.8],
            vec![1.7, 2.2],
            vec![2.4, 2.0],
            vec![1.9, 1.5],
        ],
    )
    .unwrap();
    let y = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
    let history = History::new();
    let mut cbs = Callbacks::new().with(history.clone());
    let l = learner("logistic", json!({"l2": 0.0, "max_iter": 3000}));
    let m = l.fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut cbs).unwrap();
    let p = m.predict(&x).unwrap();
    assert_eq!(accuracy(&p, &y), 1.0);
    let records = history.records();
    assert_eq!(records.len(), m.iterations().unwrap());
    let loss = |r: &(usize, Vec<(String, f64)>)| r.1.iter().find(|(k, _)| k == "train_logloss").unwrap().1;
    let (first, last) = (loss(&records[0]), loss(records.last().unwrap()));
    assert!(first > 100.0 * last, "first epoch loss {first}, last {last}");
    assert!(last < 1e-3, "training loss after {} epochs: {last}", records.len());
    assert_eq!(
        records
            .last()
            .unwrap()
            .1
            .iter()
            .find(|(k, _)| k == "train_auc")
            .unwrap()
            .1,
        1.0
    );
    // Probabilities are near-certain and on the right side.
    for (pi, yi) in values(&p).iter().zip(y) {
        assert!((pi - yi).abs() < 0.01, "{pi} for label {yi}");
    }
}

#[test]
fn multinomial_overfits_a_tiny_batch() {
    let centres = [(0.0, 0.0), (3.0, 0.0), (0.0, 3.0)];
    let mut r = Rng(5);
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for (c, (cx, cy)) in centres.iter().enumerate() {
        for _ in 0..5 {
            rows.push(vec![(cx + 0.3 * r.normal()) as f32, (cy + 0.3 * r.normal()) as f32]);
            y.push(c as f64);
        }
    }
    let x = Matrix::from_rows(names(2), &rows).unwrap();
    let task = Task::Multiclass { n_classes: 3 };
    let m = fit(&learner("logistic", json!({"l2": 0.0, "max_iter": 3000})), task, &x, &y);
    let p = m.predict(&x).unwrap();
    assert_eq!(accuracy(&p, &y), 1.0);
    let ll = kiln_metrics::log_loss(&y, &values(&p), 3, None).unwrap();
    assert!(ll < 1e-2, "multinomial training loss {ll}");
    // Rows are probability distributions.
    for row in values(&p).chunks(3) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    assert_eq!(m.coefficients().len(), 6);
}

/// Labels depend on the first two of six features only.
fn sparse_problem(classification: bool) -> (Matrix, Vec<f64>) {
    let x = features(300, &[1.0; 6], 21);
    let mut r = Rng(8);
    let y = (0..300)
        .map(|i| {
            let s = 2.0 * f64::from(x.get(i, 0)) - 1.5 * f64::from(x.get(i, 1)) + 0.5 * r.normal();
            if classification {
                f64::from(u8::from(s > 0.0))
            } else {
                s
            }
        })
        .collect();
    (x, y)
}

#[test]
fn l1_gives_exact_zeros() {
    for (kind, task, l1) in [("linear", Task::Regression, 0.2), ("logistic", Task::Binary, 0.05)] {
        let (x, y) = sparse_problem(task != Task::Regression);
        let m = fit(
            &learner(kind, json!({"l1": l1, "l2": 0.0, "max_iter": 5000})),
            task,
            &x,
            &y,
        );
        let c = m.coefficients();
        assert!(c[0] > 0.1 && c[1] < -0.1, "{kind}: relevant coefficients {c:?}");
        for (j, v) in c.iter().enumerate().skip(2) {
            assert_eq!(*v, 0.0, "{kind}: feature {j} should be exactly 0, got {v}");
        }
        // Unpenalised, the irrelevant features get (small) nonzero weights.
        let m0 = fit(&learner(kind, json!({"l2": 0.0, "max_iter": 5000})), task, &x, &y);
        assert!(m0.coefficients()[2..].iter().any(|v| *v != 0.0));
        // Importance ranks the relevant features first.
        let imp = m.feature_importance().unwrap();
        assert!(
            imp[0] > 0.0 && imp[1] > 0.0 && imp[2..].iter().all(|v| *v == 0.0),
            "{imp:?}"
        );
        // A huge L1 zeroes everything: the model predicts the prior / mean.
        let m = fit(&learner(kind, json!({"l1": 1e3})), task, &x, &y);
        assert!(m.coefficients().iter().all(|v| *v == 0.0));
    }
}

#[test]
fn alpha_and_l1_ratio_are_the_elastic_net_parameterisation() {
    let (x, y) = sparse_problem(false);
    let a = fit(
        &learner("linear", json!({"alpha": 0.4, "l1_ratio": 0.25})),
        Task::Regression,
        &x,
        &y,
    );
    let b = fit(
        &learner("linear", json!({"l1": 0.1, "l2": 0.30000000000000004})),
        Task::Regression,
        &x,
        &y,
    );
    assert_eq!(a, b);
    let l = learner("linear", json!({"alpha": 0.4, "l1_ratio": 0.25}));
    let p = l.params();
    assert_eq!(p["l1"], "0.1");
    assert_eq!(p["alpha"], "0.4");
    let msg = from_params_err("linear", json!({"alpha": 1.0, "l2": 1.0}));
    assert!(msg.contains("not both"), "{msg}");
}

#[test]
fn epochs_reach_the_callbacks_with_train_and_valid_metrics() {
    let (x, y) = sparse_problem(true);
    let (xv, yv) = (x.take_rows(&(200..300).collect::<Vec<_>>()), y[200..].to_vec());
    let (xt, yt) = (x.take_rows(&(0..200).collect::<Vec<_>>()), y[..200].to_vec());
    let history = History::new();
    let mut cbs = Callbacks::new().with(history.clone());
    let l = learner("logistic", json!({"metric": "accuracy", "max_iter": 50}));
    l.fit(
        Task::Binary,
        &TrainSet::new(&xt, &yt),
        Some(&TrainSet::new(&xv, &yv)),
        &mut cbs,
    )
    .unwrap();
    let records = history.records();
    assert!(!records.is_empty());
    let keys: Vec<&str> = records[0].1.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "train_accuracy",
            "train_logloss",
            "train_auc",
            "valid_accuracy",
            "valid_logloss",
            "valid_auc"
        ]
    );
    for (i, (it, _)) in records.iter().enumerate() {
        assert_eq!(*it, i + 1);
    }
    let last = &records.last().unwrap().1;
    let auc = last.iter().find(|(k, _)| k == "valid_auc").unwrap().1;
    assert!(auc > 0.9, "valid AUC {auc}");

    // Regression reports rmse and mae; eval_train = false leaves train out.
    let (x, y) = sparse_problem(false);
    let history = History::new();
    let mut cbs = Callbacks::new().with(history.clone());
    learner("linear", json!({"eval_train": false}))
        .fit(
            Task::Regression,
            &TrainSet::new(&x, &y),
            Some(&TrainSet::new(&x, &y)),
            &mut cbs,
        )
        .unwrap();
    let keys: Vec<String> = history.records()[0].1.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, ["valid_rmse", "valid_mae"]);
}

/// Few rows, many noise features, no penalty: the validation loss turns up.
fn overfitting_split() -> (Matrix, Vec<f64>, Matrix, Vec<f64>) {
    let mut scales = vec![1.0; 30];
    scales[0] = 1.0;
    let x = features(120, &scales, 31);
    let mut r = Rng(4);
    let y: Vec<f64> = (0..120)
        .map(|i| f64::from(u8::from(f64::from(x.get(i, 0)) + 1.5 * r.normal() > 0.0)))
        .collect();
    let train: Vec<usize> = (0..40).collect();
    let valid: Vec<usize> = (40..120).collect();
    (
        x.take_rows(&train),
        y[..40].to_vec(),
        x.take_rows(&valid),
        y[40..].to_vec(),
    )
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let (xt, yt, xv, yv) = overfitting_split();
    let l = learner("logistic", json!({"l2": 0.0, "max_iter": 2000}));
    let train = TrainSet::new(&xt, &yt);
    let valid = TrainSet::new(&xv, &yv);
    let history = History::new();
    let mut cbs = Callbacks::new()
        .with(EarlyStopping::new("valid_logloss", 10, false))
        .with(history.clone());
    let m = l.fit_linear(Task::Binary, &train, Some(&valid), &mut cbs).unwrap();
    let ran = history.records().len();
    let kept = m.iterations().unwrap();
    assert!(ran < 2000, "early stopping never fired");
    assert_eq!(ran, kept + 10, "stopped {ran} epochs in, best at {kept}");
    // The best epoch had the lowest validation loss seen.
    let losses: Vec<f64> = history
        .records()
        .iter()
        .map(|r| r.1.iter().find(|(k, _)| k == "valid_logloss").unwrap().1)
        .collect();
    let best = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[kept - 1], best);
    // The kept coefficients are exactly those of a fit run for `kept` epochs.
    let short = learner("logistic", json!({"l2": 0.0, "max_iter": kept}));
    let m2 = short
        .fit_linear(Task::Binary, &train, Some(&valid), &mut Callbacks::new())
        .unwrap();
    assert_eq!(m.standardized_coefficients(), m2.standardized_coefficients());

    // The built-in early_stopping does the same; it needs a validation set.
    let auto = learner("logistic", json!({"l2": 0.0, "max_iter": 2000, "early_stopping": 10}));
    let m3 = auto
        .fit_linear(Task::Binary, &train, Some(&valid), &mut Callbacks::new())
        .unwrap();
    assert_eq!(m3.iterations(), Some(kept));
    assert!(fit_err(&auto, Task::Binary, &train).contains("early_stopping needs a validation set"));
}

#[test]
fn a_stop_from_a_callback_ends_the_fit() {
    let (x, y) = sparse_problem(false);
    let mut cbs = Callbacks::new().with(FnCallback(|r: &kiln_learn::IterationReport<'_>| {
        if r.iteration == 3 {
            Control::Stop
        } else {
            Control::Continue
        }
    }));
    let l = learner("linear", json!({"tol": 0.0, "max_iter": 100}));
    let m = l.fit(Task::Regression, &TrainSet::new(&x, &y), None, &mut cbs).unwrap();
    assert_eq!(m.iterations(), Some(3));
}

#[test]
fn converges_by_tolerance_before_max_iter() {
    let (x, y) = sparse_problem(false);
    let m = fit(&learner("linear", json!({"max_iter": 10000})), Task::Regression, &x, &y);
    assert!(m.converged());
    assert!(m.iterations().unwrap() < 100, "took {:?} epochs", m.iterations());
    let (x, y) = sparse_problem(true);
    let m = fit(
        &learner("logistic", json!({"l2": 0.01, "max_iter": 10000})),
        Task::Binary,
        &x,
        &y,
    );
    assert!(m.converged());
    assert!(m.iterations().unwrap() < 10000);
}

fn round_trip(m: &dyn Model, x: &Matrix) {
    let saved = m.save().unwrap();
    let text = serde_json::to_string(&saved).unwrap();
    let back: SavedModel = serde_json::from_str(&text).unwrap();
    let loaded = load_model(&back).unwrap();
    assert_eq!(loaded.kind(), m.kind());
    assert_eq!(loaded.task(), m.task());
    assert_eq!(loaded.features(), m.features());
    let (a, b) = (values(&m.predict(x).unwrap()), values(&loaded.predict(x).unwrap()));
    let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b), "{}: predictions changed after load", m.kind());
    assert_eq!(loaded.feature_importance(), m.feature_importance());
    assert_eq!(loaded.iterations(), m.iterations());
    assert_eq!(loaded.save().unwrap(), saved);
}

#[test]
fn save_and_load_give_identical_predictions() {
    let (x, y) = sparse_problem(false);
    round_trip(
        &fit(&learner("linear", json!({"l1": 0.01})), Task::Regression, &x, &y),
        &x,
    );
    let (x, y) = sparse_problem(true);
    round_trip(&fit(&learner("logistic", json!({})), Task::Binary, &x, &y), &x);
    let y3: Vec<f64> = (0..300).map(|i| (i % 3) as f64).collect();
    let task = Task::Multiclass { n_classes: 3 };
    round_trip(&fit(&learner("logistic", json!({"l1": 0.001})), task, &x, &y3), &x);
}

#[test]
fn same_data_and_params_give_the_same_bits() {
    let (x, y) = sparse_problem(true);
    let l = learner("logistic", json!({"alpha": 0.01, "l1_ratio": 0.5}));
    let a = fit(&l, Task::Binary, &x, &y).save().unwrap();
    let b = fit(&l, Task::Binary, &x, &y).save().unwrap();
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
}

#[test]
fn weights_act_as_repeated_rows() {
    let (x, y) = sparse_problem(false);
    let mut w = vec![1.0f32; 300];
    w[..100].iter_mut().for_each(|v| *v = 2.0);
    let idx: Vec<usize> = (0..300).chain(0..100).collect();
    let (xd, yd): (Matrix, Vec<f64>) = (x.take_rows(&idx), idx.iter().map(|&i| y[i]).collect());
    let l = learner("linear", json!({"l1": 0.05, "tol": 1e-12, "max_iter": 10000}));
    let weighted = l
        .fit_linear(
            Task::Regression,
            &TrainSet {
                x: &x,
                y: &y,
                weight: Some(&w),
            },
            None,
            &mut Callbacks::new(),
        )
        .unwrap();
    let repeated = fit(&l, Task::Regression, &xd, &yd);
    for (a, b) in weighted.coefficients().iter().zip(repeated.coefficients()) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
}

#[test]
fn a_constant_feature_gets_a_zero_coefficient() {
    let mut x = features(50, &[1.0, 1.0], 2);
    x.column_mut(1).iter_mut().for_each(|v| *v = 4.0);
    let y: Vec<f64> = (0..50).map(|i| 2.0 * f64::from(x.get(i, 0))).collect();
    let m = fit(
        &learner("linear", json!({"tol": 1e-12, "max_iter": 1000})),
        Task::Regression,
        &x,
        &y,
    );
    assert_eq!(m.coefficients()[1], 0.0);
    assert!((m.coefficients()[0] - 2.0).abs() < 1e-9);
    let yb: Vec<f64> = (0..50).map(|i| f64::from(u8::from(x.get(i, 0) > 0.0))).collect();
    let m = fit(&learner("logistic", json!({})), Task::Binary, &x, &yb);
    assert_eq!(m.coefficients()[1], 0.0);
}

#[test]
fn hyperparameters_are_checked_and_listed() {
    let msg = from_params_err("logistic", json!({"l3": 1.0}));
    assert!(
        msg.contains("unknown hyperparameter 'l3'") && msg.contains("l1_ratio"),
        "{msg}"
    );
    let msg = from_params_err("logistic", json!({"l2": "strong"}));
    assert!(msg.contains("'l2' must be a finite number"), "{msg}");
    let msg = from_params_err("logistic", json!({"l1": -1.0}));
    assert!(msg.contains("'l1' must be between 0"), "{msg}");
    let msg = from_params_err("logistic", json!({"l1_ratio": 1.5}));
    assert!(msg.contains("'l1_ratio' must be between 0 and 1"), "{msg}");
    let msg = from_params_err("logistic", json!({"max_iter": 2.5}));
    assert!(msg.contains("'max_iter' must be a whole number"), "{msg}");
    let msg = from_params_err("logistic", json!({"metric": "rmse"}));
    assert!(msg.contains("metric 'rmse' does not apply"), "{msg}");
    let msg = from_params_err("linear", json!({"metric": "bogus"}));
    assert!(msg.contains("'metric' must be one of"), "{msg}");
    let msg = from_params_err("ridge", json!({}));
    assert!(msg.contains("not a linear model kind"), "{msg}");

    let p = learner("logistic", json!({})).params();
    let keys: Vec<&str> = p.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "alpha",
            "early_stopping",
            "eval_train",
            "fit_intercept",
            "l1",
            "l1_ratio",
            "l2",
            "max_iter",
            "metric",
            "standardize",
            "tol"
        ]
    );
    assert_eq!(p["l2"], "0.0001");
    assert_eq!(p["early_stopping"], "off");
    let l = LinearLearner::new(LinearKind::Linear, LinearConfig::linear());
    assert_eq!(l.kind(), "linear");
    assert_eq!(l.params()["l2"], "0");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let logistic = learner("logistic", json!({}));
    let linear = learner("linear", json!({}));
    let x = features(6, &[1.0, 1.0], 1);
    let y = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0];

    let empty = Matrix::from_columns(names(2), vec![vec![], vec![]]).unwrap();
    assert!(fit_err(&logistic, Task::Binary, &TrainSet::new(&empty, &[])).contains("no rows"));
    let no_cols = Matrix::from_col_major(6, vec![], vec![]).unwrap();
    assert!(fit_err(&logistic, Task::Binary, &TrainSet::new(&no_cols, &y)).contains("no features"));
    assert!(fit_err(&logistic, Task::Binary, &TrainSet::new(&x, &y[..5])).contains("5 labels for 6 rows"));
    let msg = fit_err(
        &logistic,
        Task::Binary,
        &TrainSet::new(&x, &[0.0, 1.0, 2.0, 1.0, 1.0, 0.0]),
    );
    assert!(msg.contains("row 3 is 2") && msg.contains("0..=1"), "{msg}");
    let msg = fit_err(
        &logistic,
        Task::Multiclass { n_classes: 3 },
        &TrainSet::new(&x, &[0.0, 1.0, 2.0, 3.0, 1.0, 0.0]),
    );
    assert!(msg.contains("row 4 is 3"), "{msg}");
    let msg = fit_err(
        &logistic,
        Task::Binary,
        &TrainSet::new(&x, &[0.0, 0.5, 1.0, 1.0, 1.0, 0.0]),
    );
    assert!(msg.contains("row 2 is 0.5"), "{msg}");
    let msg = fit_err(
        &logistic,
        Task::Multiclass { n_classes: 1 },
        &TrainSet::new(&x, &[0.0; 6]),
    );
    assert!(msg.contains("at least 2 classes"), "{msg}");
    let msg = fit_err(
        &linear,
        Task::Regression,
        &TrainSet::new(&x, &[0.0, f64::NAN, 1.0, 1.0, 1.0, 0.0]),
    );
    assert!(msg.contains("row 2 is NaN"), "{msg}");
    // Tasks the learner does not fit.
    assert!(fit_err(&linear, Task::Binary, &TrainSet::new(&x, &y)).contains("use 'logistic'"));
    assert!(fit_err(&logistic, Task::Regression, &TrainSet::new(&x, &y)).contains("use 'linear'"));
    // Weights.
    let short_w = [1.0f32; 5];
    let set = TrainSet {
        x: &x,
        y: &y,
        weight: Some(&short_w),
    };
    assert!(fit_err(&logistic, Task::Binary, &set).contains("5 weights for 6 rows"));
    let neg_w = [1.0f32, 1.0, -1.0, 1.0, 1.0, 1.0];
    let set = TrainSet {
        x: &x,
        y: &y,
        weight: Some(&neg_w),
    };
    assert!(fit_err(&logistic, Task::Binary, &set).contains("weight at row 3 is -1"));
    // Missing features name the feature and row, at fit and at predict.
    let mut xn = x.clone();
    xn.column_mut(1)[4] = f32::NAN;
    let msg = fit_err(&logistic, Task::Binary, &TrainSet::new(&xn, &y));
    assert!(msg.contains("feature 'f1' is missing (NaN) at row 5"), "{msg}");
    let m = fit(&logistic, Task::Binary, &x, &y);
    let msg = m.predict(&xn).unwrap_err().message;
    assert!(msg.contains("feature 'f1' is missing (NaN) at row 5"), "{msg}");
    xn.column_mut(1)[4] = f32::INFINITY;
    assert!(m.predict(&xn).unwrap_err().message.contains("is infinite at row 5"));
    // Features that differ from training.
    let other = Matrix::from_columns(vec!["f0".into(), "g".into()], vec![vec![0.0], vec![0.0]]).unwrap();
    let msg = m.predict(&other).unwrap_err().message;
    assert!(msg.contains("column 2 is 'g', expected 'f1'"), "{msg}");
    let msg = match logistic.fit(
        Task::Binary,
        &TrainSet::new(&x, &y),
        Some(&TrainSet::new(&other, &[0.0])),
        &mut Callbacks::new(),
    ) {
        Ok(_) => panic!("mismatched validation features accepted"),
        Err(e) => e.message,
    };
    assert!(msg.contains("validation set's features differ"), "{msg}");
    // A malformed saved model.
    let mut saved = m.save().unwrap();
    saved.state["coef"] = json!([1.0]);
    assert!(load_model(&saved).err().unwrap().message.contains("malformed"));
    saved.state = json!({"coef": "x"});
    assert!(load_model(&saved).err().unwrap().message.contains("malformed"));
    // Empty input to predict is an empty prediction.
    assert!(m.predict(&empty).unwrap().is_empty());
}

/// Data both this test and scikit-learn can build bit for bit: an LCG whose
/// draws become 3-decimal features (rounded to f32) and noise.
fn shared_data() -> (Matrix, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut s: u64 = 42;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        s >> 33
    };
    let (n, p) = (60, 3);
    let mut rows = Vec::new();
    let (mut y_reg, mut y_bin, mut y_mc) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let r: Vec<f32> = (0..p).map(|_| ((next() % 2001) as f64 / 1000.0 - 1.0) as f32).collect();
        let noise = (next() % 1001) as f64 / 1000.0 - 0.5;
        let x: Vec<f64> = r.iter().map(|&v| f64::from(v)).collect();
        y_reg.push(1.0 + 2.0 * x[0] - x[1] + 0.5 * x[2] + noise);
        y_bin.push(f64::from(u8::from(x[0] - 0.5 * x[1] + 1.5 * noise > 0.0)));
        let s3 = x[0] - x[1] + noise;
        y_mc.push(if s3 < -0.4 {
            0.0
        } else if s3 < 0.4 {
            1.0
        } else {
            2.0
        });
        rows.push(r);
    }
    (Matrix::from_rows(names(p), &rows).unwrap(), y_reg, y_bin, y_mc)
}

/// With `standardize = false` the objectives are scikit-learn's:
/// `ElasticNet(alpha, l1_ratio)` exactly, and `LogisticRegression(C)` with
/// `l2 = 1 / (C n)` (or `l1 = 1 / (C n)` for the L1 penalty). The expected
/// values are scikit-learn 1.9.1's, from this script (tol=1e-14):
///
/// ```text
/// M = 2**64; s = 42
/// def nxt(): global s; s = (s * 6364136223846793005 + 1442695040888963407) % M; return s >> 33
/// X = np.zeros((60, 3)); noise = np.zeros(60)
/// for i in range(60):
///     for j in range(3): X[i, j] = float(np.float32((nxt() % 2001) / 1000.0 - 1.0))
///     noise[i] = (nxt() % 1001) / 1000.0 - 0.5
/// y_reg = 1.0 + 2.0*X[:,0] - X[:,1] + 0.5*X[:,2] + noise
/// y_bin = ((X[:,0] - 0.5*X[:,1] + 1.5*noise) > 0).astype(float)
/// s3 = X[:,0] - X[:,1] + noise; y_mc = np.where(s3 < -0.4, 0, np.where(s3 < 0.4, 1, 2))
/// ElasticNet(alpha=0.15, l1_ratio=1/3).fit(X, y_reg)
/// LogisticRegression(C=2.0).fit(X, y_bin)
/// LogisticRegression(C=0.5, l1_ratio=1.0, solver="saga").fit(X, y_bin)
/// LogisticRegression(C=1.0).fit(X, y_mc)        # multinomial
/// ```
#[test]
fn agrees_with_scikit_learn_on_the_same_objective() {
    let (x, y_reg, y_bin, y_mc) = shared_data();
    let n = 60.0;
    let close = |got: &[f64], want: &[f64], tol: f64, what: &str| {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < tol, "{what}: kiln {got:?}, scikit-learn {want:?}");
        }
    };
    let exact = json!({"standardize": false, "tol": 1e-12, "max_iter": 200000});
    let with = |extra: Value| {
        let mut v = exact.clone();
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };

    let m = fit(
        &learner("linear", with(json!({"alpha": 0.15, "l1_ratio": 1.0 / 3.0}))),
        Task::Regression,
        &x,
        &y_reg,
    );
    close(
        &m.coefficients(),
        &[1.3237711435376196, -0.6171941213632007, 0.2794283222858637],
        1e-8,
        "elastic net",
    );
    close(&m.intercepts(), &[1.0738949015027828], 1e-8, "elastic net intercept");

    let m = fit(
        &learner("logistic", with(json!({"l2": 1.0 / (2.0 * n)}))),
        Task::Binary,
        &x,
        &y_bin,
    );
    close(
        &m.coefficients(),
        &[3.4018535143720046, -2.169711686188651, 0.09562626375461034],
        1e-6,
        "L2 logistic",
    );
    close(&m.intercepts(), &[-0.45560409425947057], 1e-6, "L2 logistic intercept");

    let m = fit(
        &learner("logistic", with(json!({"l1": 1.0 / (0.5 * n), "l2": 0.0}))),
        Task::Binary,
        &x,
        &y_bin,
    );
    close(
        &m.coefficients(),
        &[2.939007662189857, -1.6830465382694797, 0.0],
        1e-5,
        "L1 logistic",
    );
    assert_eq!(m.coefficients()[2], 0.0);
    close(&m.intercepts(), &[-0.3180556362191489], 1e-5, "L1 logistic intercept");

    let task = Task::Multiclass { n_classes: 3 };
    let m = fit(&learner("logistic", with(json!({"l2": 1.0 / n}))), task, &x, &y_mc);
    let want = [
        -1.707206248307199,
        -0.06913873542303157,
        1.7763449837302305,
        1.886986594030646,
        0.02340405133906155,
        -1.9103906453697075,
        0.04978987825881378,
        0.044382805388915786,
        -0.09417268364772968,
    ];
    close(&m.coefficients(), &want, 1e-6, "multinomial");
    // Softmax intercepts are defined up to a shared constant: compare centred.
    let b = m.intercepts();
    let mean = b.iter().sum::<f64>() / 3.0;
    let centred: Vec<f64> = b.iter().map(|v| v - mean).collect();
    let want_b = [-0.04804784417308936, 0.18758350788664443, -0.1395356637135534];
    let mean_w = want_b.iter().sum::<f64>() / 3.0;
    let want_c: Vec<f64> = want_b.iter().map(|v| v - mean_w).collect();
    close(&centred, &want_c, 1e-6, "multinomial intercepts");
}
