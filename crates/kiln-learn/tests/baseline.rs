//! Baselines: majority / mean give the (weighted) priors and mean,
//! stratified draws follow the priors and repeat under a seed, the rule
//! finds the informative feature and threshold (missing values included),
//! every model saves and loads to identical predictions, and bad input is an
//! error.

use std::collections::BTreeMap;

use kiln_data::Matrix;
use kiln_learn::baseline::{Baseline, BaselineLearner, BASELINE_KINDS};
use kiln_learn::{load_model, Callbacks, History, Learner, Model, Predictions, SavedModel, Task, TrainSet};
use serde_json::{json, Value};

fn learner(kind: &str, params: Value) -> BaselineLearner {
    let map: BTreeMap<String, Value> = serde_json::from_value(params).unwrap();
    BaselineLearner::from_params(kind, &map).unwrap()
}

fn fit(l: &BaselineLearner, task: Task, x: &Matrix, y: &[f64]) -> Box<dyn Model> {
    l.fit(task, &TrainSet::new(x, y), None, &mut Callbacks::new()).unwrap()
}

fn fit_err(l: &BaselineLearner, task: Task, set: &TrainSet<'_>) -> String {
    match l.fit(task, set, None, &mut Callbacks::new()) {
        Ok(_) => panic!("the fit should have failed"),
        Err(e) => e.message,
    }
}

fn values(p: &Predictions) -> Vec<f64> {
    match p {
        Predictions::Binary(v) | Predictions::Regression(v) => v.clone(),
        Predictions::Multiclass { probs, .. } => probs.clone(),
    }
}

fn one_column(v: &[f32]) -> Matrix {
    Matrix::from_columns(vec!["a".into()], vec![v.to_vec()]).unwrap()
}

fn two_columns(a: &[f32], b: &[f32]) -> Matrix {
    Matrix::from_columns(vec!["a".into(), "b".into()], vec![a.to_vec(), b.to_vec()]).unwrap()
}

#[test]
fn majority_predicts_the_class_priors() {
    let x = one_column(&[0.0; 8]);
    let y = [0.0, 1.0, 1.0, 2.0, 1.0, 1.0, 0.0, 1.0];
    let task = Task::Multiclass { n_classes: 3 };
    let m = fit(&learner("majority", json!({})), task, &x, &y);
    let p = m.predict(&x).unwrap();
    assert_eq!(&values(&p)[..3], &[0.25, 0.625, 0.125]);
    assert!(p.labels().iter().all(|&l| l == 1.0));
    // Binary: P(class 1); weights shift the priors.
    let yb = [0.0, 0.0, 0.0, 1.0];
    let xb = one_column(&[0.0; 4]);
    let w = [1.0f32, 1.0, 1.0, 3.0];
    let set = TrainSet {
        x: &xb,
        y: &yb,
        weight: Some(&w),
    };
    let m = learner("majority", json!({}))
        .fit(Task::Binary, &set, None, &mut Callbacks::new())
        .unwrap();
    assert_eq!(values(&m.predict(&xb).unwrap()), vec![0.5; 4]);
    // Its log loss is the label entropy: the floor for a probabilistic model.
    let p = values(
        &fit(&learner("majority", json!({})), Task::Binary, &xb, &yb)
            .predict(&xb)
            .unwrap(),
    );
    let ll = kiln_metrics::log_loss_binary(&yb, &p, None).unwrap();
    let entropy = -(0.75f64 * 0.75f64.ln() + 0.25 * 0.25f64.ln());
    assert!((ll - entropy).abs() < 1e-12);
}

#[test]
fn mean_predicts_the_weighted_mean() {
    let x = one_column(&[1.0, 2.0, 3.0]);
    let y = [1.0, 2.0, 6.0];
    let m = fit(&learner("mean", json!({})), Task::Regression, &x, &y);
    assert_eq!(values(&m.predict(&x).unwrap()), vec![3.0; 3]);
    let w = [2.0f32, 1.0, 1.0];
    let set = TrainSet {
        x: &x,
        y: &y,
        weight: Some(&w),
    };
    let m = learner("mean", json!({}))
        .fit(Task::Regression, &set, None, &mut Callbacks::new())
        .unwrap();
    assert_eq!(values(&m.predict(&one_column(&[9.0])).unwrap()), vec![2.5]);
}

#[test]
fn stratified_draws_follow_the_priors_and_repeat_under_a_seed() {
    let y: Vec<f64> = (0..100)
        .map(|i| {
            if i < 20 {
                0.0
            } else if i < 70 {
                1.0
            } else {
                2.0
            }
        })
        .collect();
    let x = one_column(&vec![0.0; 100]);
    let task = Task::Multiclass { n_classes: 3 };
    let m = fit(&learner("stratified", json!({"seed": 7})), task, &x, &y);
    let big = one_column(&vec![0.0; 20000]);
    let p = m.predict(&big).unwrap();
    let probs = values(&p);
    // Each row is one-hot.
    for row in probs.chunks(3) {
        assert_eq!(row.iter().sum::<f64>(), 1.0);
        assert!(row.iter().all(|&v| v == 0.0 || v == 1.0));
    }
    let labels = p.labels();
    for (c, prior) in [0.2, 0.5, 0.3].iter().enumerate() {
        let freq = labels.iter().filter(|&&l| l == c as f64).count() as f64 / 20000.0;
        assert!((freq - prior).abs() < 0.02, "class {c}: {freq} vs prior {prior}");
    }
    // Same seed, same draws; another seed, other draws.
    assert_eq!(m.predict(&big).unwrap(), p);
    let again = fit(&learner("stratified", json!({"seed": 7})), task, &x, &y);
    assert_eq!(again.predict(&big).unwrap(), p);
    let other = fit(&learner("stratified", json!({"seed": 8})), task, &x, &y);
    assert_ne!(other.predict(&big).unwrap(), p);
    // A class never seen in training is never drawn.
    let y2: Vec<f64> = (0..100).map(|i| if i < 50 { 0.0 } else { 2.0 }).collect();
    let m = fit(&learner("stratified", json!({})), task, &x, &y2);
    assert!(m.predict(&big).unwrap().labels().iter().all(|&l| l != 1.0));
}

#[test]
fn rule_finds_the_informative_feature_and_threshold() {
    // Feature b separates the classes at 0.5; feature a is noise.
    let a = [0.3, 0.1, 0.9, 0.5, 0.7, 0.2, 0.8, 0.4];
    let b = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9];
    let y = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
    let x = two_columns(&a, &b);
    let l = learner("rule", json!({}));
    let m = l
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    assert_eq!(values(&m.predict(&x).unwrap()), y.to_vec());
    let imp = m.feature_importance().unwrap();
    assert_eq!(imp[0], 0.0);
    assert!(imp[1] > 0.0);
    let saved = m.save().unwrap();
    let split = &saved.state["split"];
    assert_eq!(split["feature"], 1);
    let t = split["threshold"].as_f64().unwrap();
    assert!(t > f64::from(0.4f32) && t < f64::from(0.6f32), "threshold {t}");

    // Regression: a step function is recovered as two leaf means.
    let yr: Vec<f64> = b.iter().map(|&v| if v < 0.5 { 10.0 } else { -2.0 }).collect();
    let m = fit(&l, Task::Regression, &x, &yr);
    assert_eq!(
        values(&m.predict(&two_columns(&[0.0, 0.0], &[0.05, 2.0])).unwrap()),
        vec![10.0, -2.0]
    );

    // Multiclass leaves hold class frequencies.
    let ym = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0];
    let m = fit(&l, Task::Multiclass { n_classes: 3 }, &x, &ym);
    let p = values(&m.predict(&two_columns(&[0.0], &[0.95])).unwrap());
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12 && p[2] >= 0.5, "{p:?}");
}

#[test]
fn rule_sends_missing_values_to_their_own_leaf() {
    let nan = f32::NAN;
    let a = [1.0, 2.0, nan, 8.0, 9.0, nan, 1.5, 8.5];
    let y = [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0];
    let m = fit(&learner("rule", json!({})), Task::Binary, &one_column(&a), &y);
    assert_eq!(
        values(&m.predict(&one_column(&[0.0, nan, 10.0])).unwrap()),
        vec![0.0, 1.0, 1.0]
    );
    // With no missing training rows, a missing value gets the overall prior.
    let a = [1.0, 2.0, 3.0, 8.0, 9.0, 10.0];
    let y = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
    let m = fit(&learner("rule", json!({})), Task::Binary, &one_column(&a), &y);
    assert_eq!(values(&m.predict(&one_column(&[nan])).unwrap()), vec![0.5]);
}

#[test]
fn rule_without_a_useful_split_is_the_constant_model_and_respects_min_leaf() {
    let x = two_columns(&[1.0, 1.0, 1.0, 1.0], &[2.0, 2.0, 2.0, 2.0]);
    let y = [0.0, 1.0, 0.0, 1.0];
    let m = fit(&learner("rule", json!({})), Task::Binary, &x, &y);
    assert_eq!(m.save().unwrap().state["split"], Value::Null);
    assert_eq!(values(&m.predict(&x).unwrap()), vec![0.5; 4]);
    assert_eq!(m.feature_importance().unwrap(), vec![0.0, 0.0]);
    // The best split isolates one row; min_leaf = 3 forbids that.
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let y = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let m = fit(&learner("rule", json!({})), Task::Binary, &one_column(&a), &y);
    let t = m.save().unwrap().state["split"]["threshold"].as_f64().unwrap();
    assert_eq!(t, 1.5);
    let m = fit(
        &learner("rule", json!({"min_leaf": 3})),
        Task::Binary,
        &one_column(&a),
        &y,
    );
    let t = m.save().unwrap().state["split"]["threshold"].as_f64().unwrap();
    assert_eq!(t, 3.5);
}

fn round_trip(m: &dyn Model, x: &Matrix) {
    let saved = m.save().unwrap();
    let back: SavedModel = serde_json::from_str(&serde_json::to_string(&saved).unwrap()).unwrap();
    let loaded = load_model(&back).unwrap();
    assert_eq!(loaded.kind(), m.kind());
    assert_eq!(loaded.task(), m.task());
    assert_eq!(loaded.features(), m.features());
    let bits = |p: Predictions| values(&p).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(loaded.predict(x).unwrap()),
        bits(m.predict(x).unwrap()),
        "{}",
        m.kind()
    );
    assert_eq!(loaded.feature_importance(), m.feature_importance());
    assert_eq!(loaded.save().unwrap(), saved);
}

#[test]
fn every_baseline_saves_and_loads_to_identical_predictions() {
    let a: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin()).collect();
    let b: Vec<f32> = (0..40)
        .map(|i| if i % 7 == 0 { f32::NAN } else { (i as f32 * 0.11).cos() })
        .collect();
    let x = two_columns(&a, &b);
    let y3: Vec<f64> = (0..40).map(|i| (i % 3) as f64).collect();
    let y2: Vec<f64> = a.iter().map(|&v| f64::from(u8::from(v > 0.2))).collect();
    let yr: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(&p, &q)| f64::from(p) * 3.0 + f64::from(q.max(0.0)))
        .collect();
    let multi = Task::Multiclass { n_classes: 3 };
    for (kind, task, y) in [
        ("majority", multi, &y3),
        ("majority", Task::Binary, &y2),
        ("mean", Task::Regression, &yr),
        ("stratified", multi, &y3),
        ("stratified", Task::Binary, &y2),
        ("rule", multi, &y3),
        ("rule", Task::Binary, &y2),
        ("rule", Task::Regression, &yr),
    ] {
        let m = fit(&learner(kind, json!({})), task, &x, y);
        round_trip(m.as_ref(), &x);
    }
}

#[test]
fn one_iteration_reaches_the_callbacks() {
    let x = one_column(&[0.0, 1.0, 2.0, 3.0]);
    let y = [0.0, 0.0, 1.0, 1.0];
    let history = History::new();
    let mut cbs = Callbacks::new().with(history.clone());
    learner("rule", json!({}))
        .fit(
            Task::Binary,
            &TrainSet::new(&x, &y),
            Some(&TrainSet::new(&x, &y)),
            &mut cbs,
        )
        .unwrap();
    let records = history.records();
    assert_eq!(records.len(), 1);
    let keys: Vec<&str> = records[0].1.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["train_logloss", "train_auc", "valid_logloss", "valid_auc"]);
    assert_eq!(records[0].1[1].1, 1.0);
}

#[test]
fn kinds_params_and_hyperparameter_errors() {
    for kind in BASELINE_KINDS {
        assert_eq!(learner(kind, json!({})).kind(), *kind);
    }
    assert_eq!(
        learner("stratified", json!({"seed": 3})).baseline(),
        Baseline::Stratified { seed: 3 }
    );
    assert_eq!(learner("stratified", json!({})).params()["seed"], "0");
    assert_eq!(learner("rule", json!({})).params()["min_leaf"], "1");
    assert!(learner("majority", json!({})).params().is_empty());
    let err = |kind: &str, v: Value| {
        let map: BTreeMap<String, Value> = serde_json::from_value(v).unwrap();
        BaselineLearner::from_params(kind, &map).unwrap_err().message
    };
    let msg = err("majority", json!({"seed": 1}));
    assert!(msg.contains("unknown hyperparameter 'seed'"), "{msg}");
    let msg = err("stratified", json!({"seed": "x"}));
    assert!(msg.contains("'seed' must be a whole number"), "{msg}");
    let msg = err("rule", json!({"min_leaf": 0}));
    assert!(msg.contains("'min_leaf' must be between 1"), "{msg}");
    let msg = err("median", json!({}));
    assert!(msg.contains("not a baseline kind"), "{msg}");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let x = one_column(&[0.0, 1.0, 2.0]);
    let y = [0.0, 1.0, 1.0];
    let majority = learner("majority", json!({}));
    let rule = learner("rule", json!({}));
    let empty = one_column(&[]);
    assert!(fit_err(&majority, Task::Binary, &TrainSet::new(&empty, &[])).contains("no rows"));
    assert!(fit_err(&rule, Task::Binary, &TrainSet::new(&x, &y[..2])).contains("2 labels for 3 rows"));
    let msg = fit_err(&rule, Task::Binary, &TrainSet::new(&x, &[0.0, 3.0, 1.0]));
    assert!(msg.contains("row 2 is 3"), "{msg}");
    let msg = fit_err(
        &majority,
        Task::Multiclass { n_classes: 2 },
        &TrainSet::new(&x, &[0.0, -1.0, 1.0]),
    );
    assert!(msg.contains("row 2 is -1"), "{msg}");
    assert!(fit_err(&majority, Task::Regression, &TrainSet::new(&x, &y)).contains("use 'mean'"));
    assert!(fit_err(&learner("mean", json!({})), Task::Binary, &TrainSet::new(&x, &y)).contains("use 'majority'"));
    assert!(fit_err(
        &learner("stratified", json!({})),
        Task::Regression,
        &TrainSet::new(&x, &y)
    )
    .contains("classification"));
    let zero_w = [0.0f32; 3];
    let set = TrainSet {
        x: &x,
        y: &y,
        weight: Some(&zero_w),
    };
    assert!(fit_err(&majority, Task::Binary, &set).contains("weights sum to zero"));
    // Predicting on other features.
    let m = fit(&rule, Task::Binary, &x, &y);
    let other = Matrix::from_columns(vec!["z".into()], vec![vec![0.0]]).unwrap();
    assert!(m
        .predict(&other)
        .unwrap_err()
        .message
        .contains("column 1 is 'z', expected 'a'"));
    // Malformed saved state.
    let mut saved = m.save().unwrap();
    saved.state["split"]["feature"] = json!(5);
    assert!(load_model(&saved).err().unwrap().message.contains("malformed"));
    let mut saved = fit(&majority, Task::Binary, &x, &y).save().unwrap();
    saved.state["output"] = json!([0.5]);
    assert!(load_model(&saved).err().unwrap().message.contains("malformed"));
    saved.state = json!(null);
    assert!(load_model(&saved).err().unwrap().message.contains("malformed"));
    let mut saved = fit(&learner("mean", json!({})), Task::Regression, &x, &y)
        .save()
        .unwrap();
    saved.task = Task::Binary;
    saved.state["output"] = json!([0.5, 0.5]);
    assert!(load_model(&saved)
        .err()
        .unwrap()
        .message
        .contains("cannot have a binary task"));
}
