//! LightGBM learner: fits each task, stops early, saves and loads to identical
//! predictions, is deterministic, and refuses bad input with clear errors.

use std::collections::BTreeMap;

use kiln_data::Matrix;
use kiln_learn::lightgbm::{LightGbmConfig, LightGbmLearner, LightGbmModel};
use kiln_learn::{load_model, Callbacks, Cancel, Control, FnCallback, History, Learner, Predictions, Task, TrainSet};
use serde_json::json;

/// A small seeded generator so the tests need nothing else.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u1 = self.next().max(1e-12);
        let u2 = self.next();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// `n` rows, `f` features; label from a linear score plus noise.
fn data(n: usize, f: usize, seed: u64, classes: usize, noise: f64) -> (Matrix, Vec<f64>) {
    let mut r = Lcg(seed);
    let mut cols = vec![Vec::with_capacity(n); f];
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = 0.0;
        for (j, c) in cols.iter_mut().enumerate() {
            let v = r.normal();
            c.push(v as f32);
            s += v * (j as f64 + 1.0) / f as f64;
        }
        s += noise * r.normal();
        y.push(match classes {
            0 => s,
            2 => (s > 0.0) as u8 as f64,
            k => ((s.tanh() + 1.0) / 2.0 * k as f64).floor().min(k as f64 - 1.0),
        });
    }
    let names = (0..f).map(|j| format!("f{j}")).collect();
    (Matrix::from_columns(names, cols).unwrap(), y)
}

fn learner(extra: serde_json::Value) -> LightGbmLearner {
    let params: BTreeMap<String, serde_json::Value> = serde_json::from_value(extra).unwrap();
    LightGbmLearner::from_params("lightgbm", &params).unwrap()
}

fn accuracy(pred: &Predictions, y: &[f64]) -> f64 {
    let l = pred.labels();
    l.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

#[test]
fn overfits_a_tiny_batch_for_every_task() {
    let tiny = json!({"rounds": 300, "num_leaves": 8, "min_data_in_leaf": 1, "min_sum_hessian_in_leaf": 1e-6, "learning_rate": 0.3});
    let (x, y) = data(64, 4, 1, 2, 0.5);
    let m = learner(tiny.clone())
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    assert_eq!(accuracy(&m.predict(&x).unwrap(), &y), 1.0);

    let (x, y) = data(90, 4, 2, 3, 0.5);
    let task = Task::Multiclass { n_classes: 3 };
    let m = learner(tiny.clone())
        .fit(task, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    let p = m.predict(&x).unwrap();
    assert!(matches!(p, Predictions::Multiclass { n_classes: 3, .. }));
    assert_eq!(accuracy(&p, &y), 1.0);

    let (x, y) = data(64, 4, 3, 0, 0.1);
    let m = learner(tiny)
        .fit(Task::Regression, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    let Predictions::Regression(p) = m.predict(&x).unwrap() else {
        panic!("regression predictions")
    };
    let mse = p.iter().zip(&y).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / y.len() as f64;
    let var = {
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64
    };
    assert!(mse < 0.01 * var, "training mse {mse} vs variance {var}");
}

#[test]
fn generalises_on_held_out_rows() {
    let (x, y) = data(4000, 6, 4, 2, 0.3);
    let (xv, yv) = data(1000, 6, 5, 2, 0.3);
    let m = learner(json!({"rounds": 60}))
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    let acc = accuracy(&m.predict(&xv).unwrap(), &yv);
    assert!(acc > 0.85, "held-out accuracy {acc}");
}

#[test]
fn reports_validation_metrics_every_round_and_stops_early() {
    // Pure-noise labels: validation AUC stops improving quickly.
    let (x, _) = data(2000, 5, 6, 2, 0.0);
    let mut r = Lcg(99);
    let y: Vec<f64> = (0..2000).map(|_| (r.next() > 0.5) as u8 as f64).collect();
    let (xv, _) = data(500, 5, 7, 2, 0.0);
    let yv: Vec<f64> = (0..500).map(|_| (r.next() > 0.5) as u8 as f64).collect();
    let history = History::new();
    let mut cbs = Callbacks::new().with(history.clone());
    let m = learner(json!({"rounds": 500, "early_stopping": 10, "learning_rate": 0.3}))
        .fit(
            Task::Binary,
            &TrainSet::new(&x, &y),
            Some(&TrainSet::new(&xv, &yv)),
            &mut cbs,
        )
        .unwrap();
    let records = history.records();
    assert!(
        records.len() < 500,
        "early stopping never fired ({} rounds)",
        records.len()
    );
    let (_, first) = &records[0];
    let names: Vec<&str> = first.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, vec!["valid_auc", "valid_logloss"]);
    // The kept model is the best round: `patience` rounds before the last one.
    let kept = m.iterations().unwrap();
    assert_eq!(kept + 10, records.len(), "kept {kept} of {} rounds", records.len());
    let best = records.iter().map(|(_, m)| m[0].1).fold(f64::MIN, f64::max);
    assert_eq!(records[kept - 1].1[0].1, best);
}

#[test]
fn callbacks_can_stop_training() {
    let (x, y) = data(500, 3, 8, 2, 0.3);
    let cancel = Cancel::new();
    let c2 = cancel.clone();
    let mut cbs = Callbacks::new()
        .with(cancel.clone())
        .with(FnCallback(move |r: &kiln_learn::IterationReport<'_>| {
            if r.iteration == 7 {
                c2.cancel();
            }
            Control::Continue
        }));
    let m = learner(json!({"rounds": 100}))
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut cbs)
        .unwrap();
    // Cancel runs before the closure each round, so it sees the flag one round later.
    assert_eq!(m.iterations(), Some(8));
}

#[test]
fn save_and_load_give_identical_predictions() {
    for (task, classes) in [
        (Task::Binary, 2),
        (Task::Multiclass { n_classes: 3 }, 3),
        (Task::Regression, 0),
    ] {
        let (x, y) = data(800, 5, 9, classes, 0.3);
        let m = learner(json!({"rounds": 30}))
            .fit(task, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
            .unwrap();
        let saved = m.save().unwrap();
        let text = serde_json::to_string(&saved).unwrap();
        let back = load_model(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back.predict(&x).unwrap(), m.predict(&x).unwrap(), "{task:?}");
        assert_eq!(back.features(), m.features());
        assert_eq!(back.iterations(), Some(30));
    }
}

#[test]
fn same_data_and_seed_give_the_same_model_bit_for_bit() {
    let (x, y) = data(3000, 6, 10, 2, 0.5);
    let l =
        learner(json!({"rounds": 40, "feature_fraction": 0.7, "bagging_fraction": 0.8, "bagging_freq": 1, "seed": 7}));
    let a = l
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    let b = l
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    assert_eq!(a.save().unwrap().state, b.save().unwrap().state);
    let l2 =
        learner(json!({"rounds": 40, "feature_fraction": 0.7, "bagging_fraction": 0.8, "bagging_freq": 1, "seed": 8}));
    let c = l2
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    assert_ne!(
        a.save().unwrap().state,
        c.save().unwrap().state,
        "a different seed should change the model"
    );
}

#[test]
fn random_forest_importance_and_contributions() {
    let params: BTreeMap<String, serde_json::Value> = serde_json::from_value(json!({"rounds": 30})).unwrap();
    let rf = LightGbmLearner::from_params("random_forest", &params).unwrap();
    assert_eq!(rf.kind(), "random_forest");
    let (x, y) = data(1500, 4, 11, 0, 0.1);
    let m = rf
        .fit(Task::Regression, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    let imp = m.feature_importance().unwrap();
    assert_eq!(imp.len(), 4);
    // The label weighs feature j by (j+1): the last feature matters most.
    assert!(imp[3] > imp[0], "importances {imp:?}");

    let saved = m.save().unwrap();
    let lgb = LightGbmModel::load(&saved).unwrap();
    let contrib = lgb.contributions(&x).unwrap();
    assert_eq!(contrib.len(), x.n_rows() * 5);
    let Predictions::Regression(p) = m.predict(&x).unwrap() else {
        panic!()
    };
    for (i, row) in contrib.chunks(5).enumerate().take(50) {
        let s: f64 = row.iter().sum();
        assert!(
            (s - p[i]).abs() < 1e-6,
            "row {i}: contributions sum {s}, prediction {}",
            p[i]
        );
    }
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let (x, y) = data(100, 3, 12, 2, 0.3);
    let l = learner(json!({"rounds": 5}));
    let fit = |task: Task, y: &[f64]| {
        l.fit(task, &TrainSet::new(&x, y), None, &mut Callbacks::new())
            .err()
            .map(|e| e.message)
            .unwrap_or_default()
    };
    let mut bad = y.clone();
    bad[4] = 2.0;
    assert!(
        fit(Task::Binary, &bad).contains("row 5 is 2"),
        "{}",
        fit(Task::Binary, &bad)
    );
    bad[4] = f64::NAN;
    assert!(fit(Task::Regression, &bad).contains("row 5 is NaN"));
    assert!(fit(Task::Binary, &y[..50]).contains("50 labels for 100 rows"));
    let empty = Matrix::from_columns(vec!["a".into()], vec![vec![]]).unwrap();
    let e = l
        .fit(Task::Binary, &TrainSet::new(&empty, &[]), None, &mut Callbacks::new())
        .err()
        .unwrap();
    assert!(e.message.contains("no rows"), "{e}");

    let params: BTreeMap<String, serde_json::Value> = serde_json::from_value(json!({"num_leafs": 8})).unwrap();
    let e = LightGbmLearner::from_params("lightgbm", &params).unwrap_err();
    assert!(e.message.contains("unknown hyperparameter 'num_leafs'"), "{e}");
    let params: BTreeMap<String, serde_json::Value> = serde_json::from_value(json!({"learning_rate": "fast"})).unwrap();
    assert!(LightGbmLearner::from_params("lightgbm", &params).is_err());

    let es = learner(json!({"early_stopping": 5}));
    let e = es
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .err()
        .unwrap();
    assert!(e.message.contains("needs a validation set"), "{e}");

    let m = l
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    let other = x.select(&["f1", "f0", "f2"]).unwrap();
    let e = m.predict(&other).unwrap_err();
    assert!(e.message.contains("expected 'f0', got 'f1'"), "{e}");
    let fewer = x.select(&["f0"]).unwrap();
    assert!(m
        .predict(&fewer)
        .unwrap_err()
        .message
        .contains("takes 3 features, got 1"));
}

#[test]
fn config_defaults_are_lightgbms() {
    let d = LightGbmConfig::gbdt();
    assert_eq!((d.num_leaves, d.learning_rate, d.max_bin), (31, 0.1, 255));
    let l = LightGbmLearner::new(d);
    let p = l.params();
    assert_eq!(p["num_leaves"], "31");
    assert_eq!(p["early_stopping"], "off");
}

#[test]
fn checkpoints_are_whole_models_of_their_round() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = data(600, 4, 13, 2, 0.3);
    let ck = kiln_learn::Checkpoint::new(dir.path(), 5);
    let mut cbs = Callbacks::new().with(ck);
    let full = learner(json!({"rounds": 12}))
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut cbs)
        .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, vec!["checkpoint-10.json", "checkpoint-5.json"]);
    // The round-10 checkpoint predicts like a 10-round model and differs from the full one.
    let ten = load_model(&kiln_learn::Checkpoint::load(&dir.path().join("checkpoint-10.json")).unwrap()).unwrap();
    assert_eq!(ten.iterations(), Some(10));
    let direct = learner(json!({"rounds": 10}))
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .unwrap();
    assert_eq!(ten.predict(&x).unwrap(), direct.predict(&x).unwrap());
    assert_ne!(ten.predict(&x).unwrap(), full.predict(&x).unwrap());
    // An unwritable folder stops the fit with the reason.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let mut cbs = Callbacks::new().with(kiln_learn::Checkpoint::new(blocker.join("sub"), 2));
    let e = learner(json!({"rounds": 5}))
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut cbs)
        .err()
        .unwrap();
    assert!(e.message.contains("checkpoint of round 2"), "{e}");
}
