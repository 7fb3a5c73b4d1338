//! TEMPORARY probe (deleted before handing back): timings and epochs.
use std::collections::BTreeMap;
use std::time::Instant;
use kiln_data::Matrix;
use kiln_learn::linear::LinearLearner;
use kiln_learn::baseline::BaselineLearner;
use kiln_learn::{Callbacks, Learner, Model, Task, TrainSet};
use serde_json::{json, Value};

struct Rng(u64);
impl Rng {
    fn u(&mut self) -> f64 { self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (self.0 >> 11) as f64 / (1u64 << 53) as f64 }
    fn n(&mut self) -> f64 { let a = self.u().max(1e-12); let b = self.u(); (-2.0 * a.ln()).sqrt() * (6.283185307179586 * b).cos() }
}
fn l(kind: &str, v: Value) -> LinearLearner { let m: BTreeMap<String, Value> = serde_json::from_value(v).unwrap(); LinearLearner::from_params(kind, &m).unwrap() }

#[test]
fn probe() {
    let (n, p) = (100_000, 50);
    let mut r = Rng(1);
    let cols: Vec<Vec<f32>> = (0..p).map(|_| (0..n).map(|_| r.n() as f32).collect()).collect();
    let x = Matrix::from_columns((0..p).map(|j| format!("f{j}")).collect(), cols).unwrap();
    let s: Vec<f64> = (0..n).map(|i| (0..p).map(|j| f64::from(x.get(i, j)) * ((j % 5) as f64 - 2.0) * 0.3).sum::<f64>() + r.n()).collect();
    let yb: Vec<f64> = s.iter().map(|v| f64::from(u8::from(*v > 0.0))).collect();
    let y3: Vec<f64> = s.iter().map(|v| if *v < -1.0 { 0.0 } else if *v < 1.0 { 1.0 } else { 2.0 }).collect();
    for (name, kind, task, y, params) in [
        ("linear ols", "linear", Task::Regression, &s, json!({})),
        ("linear lasso", "linear", Task::Regression, &s, json!({"l1": 0.05})),
        ("logistic l2", "logistic", Task::Binary, &yb, json!({"l2": 1e-3})),
        ("logistic l2 no eval_train", "logistic", Task::Binary, &yb, json!({"l2": 1e-3, "eval_train": false})),
        ("logistic l1", "logistic", Task::Binary, &yb, json!({"l1": 1e-3, "l2": 0.0})),
        ("multinomial", "logistic", Task::Multiclass { n_classes: 3 }, &y3, json!({"l2": 1e-3})),
    ] {
        let t = Instant::now();
        let m = l(kind, params).fit_linear(task, &TrainSet::new(&x, y), None, &mut Callbacks::new()).unwrap();
        println!("{name}: {:?} epochs={:?} converged={} {:.3}s", task, m.iterations(), m.converged(), t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let m: BTreeMap<String, Value> = BTreeMap::new();
    BaselineLearner::from_params("rule", &m).unwrap().fit(Task::Binary, &TrainSet::new(&x, &yb), None, &mut Callbacks::new()).unwrap();
    println!("rule: {:.3}s", t.elapsed().as_secs_f64());
}
