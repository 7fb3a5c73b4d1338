//! Voting and stacking ensembles: they combine members as documented, save and
//! load to identical predictions, and refuse members that do not fit together.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_data::Matrix;
use kiln_learn::ensemble::{StackingLearner, VotingLearner, VotingModel};
use kiln_learn::lightgbm::LightGbmLearner;
use kiln_learn::{load_model, Callbacks, Learner, Model, Predictions, Task, TrainSet};
use serde_json::json;

fn data(n: usize, seed: u64) -> (Matrix, Vec<f64>) {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let (mut a, mut b, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let (x1, x2, e) = (next(), next(), next());
        a.push(x1 as f32);
        b.push(x2 as f32);
        y.push(((x1 + x2 + 0.3 * e) > 0.0) as u8 as f64);
    }
    (
        Matrix::from_columns(vec!["a".into(), "b".into()], vec![a, b]).unwrap(),
        y,
    )
}

fn lgb(rounds: i64, leaves: i64) -> Box<dyn Learner> {
    let p: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(json!({"rounds": rounds, "num_leaves": leaves})).unwrap();
    Box::new(LightGbmLearner::from_params("lightgbm", &p).unwrap())
}

fn probs(p: Predictions) -> Vec<f64> {
    match p {
        Predictions::Binary(v) => v,
        other => panic!("binary predictions expected, got {other:?}"),
    }
}

#[test]
fn voting_averages_member_probabilities() {
    let (x, y) = data(600, 1);
    let set = TrainSet::new(&x, &y);
    let m1: Arc<dyn Model> = Arc::from(lgb(10, 4).fit(Task::Binary, &set, None, &mut Callbacks::new()).unwrap());
    let m2: Arc<dyn Model> = Arc::from(
        lgb(40, 15)
            .fit(Task::Binary, &set, None, &mut Callbacks::new())
            .unwrap(),
    );
    let v = VotingModel::new(vec![m1.clone(), m2.clone()], Some(vec![1.0, 3.0])).unwrap();
    let (p1, p2, pv) = (
        probs(m1.predict(&x).unwrap()),
        probs(m2.predict(&x).unwrap()),
        probs(v.predict(&x).unwrap()),
    );
    for i in 0..x.n_rows() {
        let want = (p1[i] + 3.0 * p2[i]) / 4.0;
        assert!((pv[i] - want).abs() < 1e-12, "row {i}: {} vs {want}", pv[i]);
    }
    let back = load_model(&v.save().unwrap()).unwrap();
    assert_eq!(back.predict(&x).unwrap(), v.predict(&x).unwrap());
    assert!(VotingModel::new(vec![m1.clone()], Some(vec![1.0, 2.0])).is_err());
    assert!(VotingModel::new(vec![m1, m2], Some(vec![0.0, 0.0])).is_err());
    assert!(VotingModel::new(vec![], None).is_err());

    let vl = VotingLearner {
        members: vec![lgb(10, 4), lgb(20, 8)],
        weights: None,
    };
    let fitted = vl.fit(Task::Binary, &set, None, &mut Callbacks::new()).unwrap();
    assert_eq!(fitted.kind(), "voting");
}

#[test]
fn voting_refuses_members_with_different_features_or_tasks() {
    let (x, y) = data(300, 2);
    let m1: Arc<dyn Model> = Arc::from(
        lgb(5, 4)
            .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
            .unwrap(),
    );
    let xa = x.select(&["a"]).unwrap();
    let m2: Arc<dyn Model> = Arc::from(
        lgb(5, 4)
            .fit(Task::Binary, &TrainSet::new(&xa, &y), None, &mut Callbacks::new())
            .unwrap(),
    );
    let e = VotingModel::new(vec![m1.clone(), m2], None).err().unwrap();
    assert!(e.message.contains("different features"), "{e}");
    let m3: Arc<dyn Model> = Arc::from(
        lgb(5, 4)
            .fit(Task::Regression, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
            .unwrap(),
    );
    let e = VotingModel::new(vec![m1, m3], None).err().unwrap();
    assert!(e.message.contains("disagree on the task"), "{e}");
}

#[test]
fn stacking_fits_a_meta_model_on_out_of_fold_predictions() {
    let (x, y) = data(1200, 3);
    let (xv, yv) = data(400, 4);
    let st = StackingLearner {
        members: vec![lgb(15, 4), lgb(30, 15)],
        meta: lgb(20, 4),
        folds: 4,
        seed: 7,
    };
    let m = st
        .fit(
            Task::Binary,
            &TrainSet::new(&x, &y),
            Some(&TrainSet::new(&xv, &yv)),
            &mut Callbacks::new(),
        )
        .unwrap();
    let p = m.predict(&xv).unwrap();
    let acc = p.labels().iter().zip(&yv).filter(|(a, b)| a == b).count() as f64 / yv.len() as f64;
    assert!(acc > 0.8, "stacked accuracy {acc}");
    let back = load_model(&m.save().unwrap()).unwrap();
    assert_eq!(back.predict(&xv).unwrap(), p);
    assert_eq!(back.kind(), "stacking");
    // Same seed, same model.
    let again = st
        .fit(
            Task::Binary,
            &TrainSet::new(&x, &y),
            Some(&TrainSet::new(&xv, &yv)),
            &mut Callbacks::new(),
        )
        .unwrap();
    assert_eq!(again.predict(&xv).unwrap(), p);

    let too_many = StackingLearner {
        members: vec![lgb(5, 4)],
        meta: lgb(5, 4),
        folds: 5000,
        seed: 1,
    };
    let e = too_many
        .fit(Task::Binary, &TrainSet::new(&x, &y), None, &mut Callbacks::new())
        .err()
        .unwrap();
    assert!(e.message.contains("folds"), "{e}");
}
