//! Baselines that set the floor every real model must beat.
//!
//! - `majority` (classification): predicts the training class priors as
//!   probabilities, so its predicted label is the majority class and its log
//!   loss is the entropy of the labels.
//! - `mean` (regression): predicts the training mean.
//! - `stratified` (classification): for each row, one class drawn from the
//!   training class distribution, as a one-hot probability (scikit-learn's
//!   `DummyClassifier(strategy="stratified")`). The draw for row `i` is a
//!   hash of (`seed`, `i`), so predicting the same matrix twice, or after a
//!   save and load, gives the same answers.
//! - `rule` (any task): the best single-feature threshold rule, a decision
//!   stump `x_j <= t` chosen on the training set by the largest decrease of
//!   weighted Gini impurity (classification) or squared error (regression).
//!   Rows where `x_j` is missing (NaN) form a third leaf; each leaf predicts
//!   its training rows' class frequencies (or mean), an empty missing leaf
//!   the overall ones. With no useful split it is the `majority` / `mean` model.
//!
//! Sample weights weight every count. Each fit reports one iteration (the
//! task's default metrics on train and, when given, valid) to the callbacks.

use std::collections::BTreeMap;

use kiln_data::Matrix;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::callback::{Callbacks, IterationReport};
use crate::eval;
use crate::learner::{LearnError, Learner, Model, Predictions, Result, SavedModel, Task, TrainSet};
use crate::params::Params;

/// Which baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    Majority,
    Mean,
    Stratified { seed: u64 },
    Rule { min_leaf: usize },
}

/// The learner for `kind = "majority" | "mean" | "stratified" | "rule"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineLearner {
    baseline: Baseline,
}

/// Every baseline kind.
pub const BASELINE_KINDS: &[&str] = &["majority", "mean", "stratified", "rule"];

impl BaselineLearner {
    pub fn new(baseline: Baseline) -> BaselineLearner {
        BaselineLearner { baseline }
    }

    /// The baseline it fits.
    pub fn baseline(&self) -> Baseline {
        self.baseline
    }

    /// From a config table; unknown hyperparameters and wrong types are
    /// errors naming the key. `stratified` takes `seed` (default 0), `rule`
    /// takes `min_leaf` (rows per side of the threshold, default 1).
    pub fn from_params(kind: &str, values: &BTreeMap<String, Value>) -> Result<BaselineLearner> {
        let mut p = Params::new(kind, values);
        let baseline = match kind {
            "majority" => Baseline::Majority,
            "mean" => Baseline::Mean,
            "stratified" => Baseline::Stratified {
                seed: p.i64_in("seed", 0, 0, i64::MAX)? as u64,
            },
            "rule" => Baseline::Rule {
                min_leaf: p.i64_in("min_leaf", 1, 1, i64::from(i32::MAX))? as usize,
            },
            other => {
                return Err(LearnError::new(format!(
                    "'{other}' is not a baseline kind (expected one of {})",
                    BASELINE_KINDS.join(", ")
                )))
            }
        };
        p.finish()?;
        Ok(BaselineLearner { baseline })
    }

    fn check_task(&self, task: Task) -> Result<()> {
        let msg = match (self.baseline, task) {
            (Baseline::Majority | Baseline::Stratified { .. }, Task::Regression) => {
                format!(
                    "model '{}' is a classification baseline; use 'mean' for regression",
                    self.kind()
                )
            }
            (Baseline::Mean, t) if t.is_classification() => {
                format!(
                    "model 'mean' is a regression baseline; use 'majority' for a {} task",
                    t.name()
                )
            }
            _ => return Ok(()),
        };
        Err(LearnError::new(msg))
    }

    fn fit_model(&self, task: Task, train: &TrainSet<'_>) -> Result<Box<dyn Model>> {
        let w = eval::weights_f64(train);
        let features = train.x.names().to_vec();
        let overall = distribution(task, train.y, w.as_deref(), 0..train.y.len());
        Ok(match self.baseline {
            Baseline::Majority | Baseline::Mean => Box::new(ConstantModel {
                kind: self.kind().to_string(),
                task,
                features,
                output: overall,
            }),
            Baseline::Stratified { seed } => Box::new(StratifiedModel {
                task,
                features,
                priors: overall,
                seed,
            }),
            Baseline::Rule { min_leaf } => Box::new(fit_rule(task, train, w.as_deref(), min_leaf, overall)),
        })
    }
}

impl Learner for BaselineLearner {
    fn kind(&self) -> &str {
        match self.baseline {
            Baseline::Majority => "majority",
            Baseline::Mean => "mean",
            Baseline::Stratified { .. } => "stratified",
            Baseline::Rule { .. } => "rule",
        }
    }

    fn params(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        match self.baseline {
            Baseline::Stratified { seed } => {
                m.insert("seed".to_string(), seed.to_string());
            }
            Baseline::Rule { min_leaf } => {
                m.insert("min_leaf".to_string(), min_leaf.to_string());
            }
            Baseline::Majority | Baseline::Mean => {}
        }
        m
    }

    fn fit(
        &self,
        task: Task,
        train: &TrainSet<'_>,
        valid: Option<&TrainSet<'_>>,
        callbacks: &mut Callbacks,
    ) -> Result<Box<dyn Model>> {
        self.check_task(task)?;
        eval::check_set(task, train, "training")?;
        if let Some(v) = valid {
            eval::check_same_features(train.x, v.x)?;
            eval::check_set(task, v, "validation")?;
        }
        let model = self.fit_model(task, train)?;
        let metrics = eval::default_metrics(task);
        let mut report = Vec::new();
        let w = eval::weights_f64(train);
        eval::report(
            "train",
            &metrics,
            train.y,
            &model.predict(train.x)?,
            w.as_deref(),
            &mut report,
        )?;
        if let Some(v) = valid {
            let w = eval::weights_f64(v);
            eval::report("valid", &metrics, v.y, &model.predict(v.x)?, w.as_deref(), &mut report)?;
        }
        // One iteration: a baseline has nothing to stop early.
        let _ = callbacks.on_iteration(&IterationReport {
            iteration: 1,
            metrics: &report,
        });
        callbacks.on_end(1);
        Ok(model)
    }
}

/// Class frequencies (classification) or `[mean]` (regression) of `rows`;
/// `None` when the rows have no weight.
fn distribution_of(task: Task, y: &[f64], w: Option<&[f64]>, rows: impl Iterator<Item = usize>) -> Option<Vec<f64>> {
    let k = task.n_classes().max(1);
    let mut acc = vec![0.0; k];
    let mut total = 0.0;
    for i in rows {
        let wi = w.map_or(1.0, |w| w[i]);
        total += wi;
        if task.is_classification() {
            acc[y[i] as usize] += wi;
        } else {
            acc[0] += wi * y[i];
        }
    }
    if total <= 0.0 {
        return None;
    }
    for a in &mut acc {
        *a /= total;
    }
    Some(acc)
}

/// As [`distribution_of`], for rows known to carry weight (zeros otherwise).
fn distribution(task: Task, y: &[f64], w: Option<&[f64]>, rows: impl Iterator<Item = usize>) -> Vec<f64> {
    distribution_of(task, y, w, rows).unwrap_or_else(|| vec![0.0; task.n_classes().max(1)])
}

/// Predictions from one output vector per row (class probabilities, or `[value]`).
fn predictions_from<'a>(task: Task, n: usize, row: impl Fn(usize) -> &'a [f64]) -> Predictions {
    match task {
        Task::Binary => Predictions::Binary((0..n).map(|i| row(i)[1]).collect()),
        Task::Regression => Predictions::Regression((0..n).map(|i| row(i)[0]).collect()),
        Task::Multiclass { n_classes } => {
            let mut probs = Vec::with_capacity(n * n_classes);
            for i in 0..n {
                probs.extend_from_slice(row(i));
            }
            Predictions::Multiclass { n_classes, probs }
        }
    }
}

/// Checks a saved output vector has the task's shape.
fn check_output(kind: &str, task: Task, v: &[f64]) -> Result<()> {
    let want = task.n_classes().max(1);
    if v.len() != want || v.iter().any(|x| !x.is_finite()) {
        return Err(LearnError::new(format!(
            "saved '{kind}' model is malformed: expected {want} finite outputs for a {} task, got {v:?}",
            task.name()
        )));
    }
    Ok(())
}

/// `majority` or `mean`: the same output for every row.
pub struct ConstantModel {
    kind: String,
    task: Task,
    features: Vec<String>,
    /// Class priors, or `[mean]`.
    output: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct ConstantState {
    output: Vec<f64>,
}

impl ConstantModel {
    /// The constant output: class priors, or `[mean]`.
    pub fn output(&self) -> &[f64] {
        &self.output
    }
}

impl Model for ConstantModel {
    fn kind(&self) -> &str {
        &self.kind
    }
    fn task(&self) -> Task {
        self.task
    }
    fn features(&self) -> &[String] {
        &self.features
    }
    fn predict(&self, x: &Matrix) -> Result<Predictions> {
        eval::check_features(&self.features, x)?;
        Ok(predictions_from(self.task, x.n_rows(), |_| &self.output))
    }
    fn save(&self) -> Result<SavedModel> {
        let state = ConstantState {
            output: self.output.clone(),
        };
        Ok(SavedModel {
            kind: self.kind.clone(),
            task: self.task,
            features: self.features.clone(),
            state: eval::state_to_json(&self.kind, &state)?,
        })
    }
}

/// `stratified`: a seeded draw from the class priors per row.
pub struct StratifiedModel {
    task: Task,
    features: Vec<String>,
    priors: Vec<f64>,
    seed: u64,
}

#[derive(Serialize, Deserialize)]
struct StratifiedState {
    priors: Vec<f64>,
    seed: u64,
}

/// splitmix64: a well-mixed 64-bit hash.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl StratifiedModel {
    /// The class drawn for row `i`.
    fn draw(&self, i: usize) -> usize {
        let u = (splitmix64(self.seed ^ splitmix64(i as u64)) >> 11) as f64 / (1u64 << 53) as f64;
        let mut cdf = 0.0;
        let mut last = 0;
        for (k, &p) in self.priors.iter().enumerate() {
            if p > 0.0 {
                cdf += p;
                last = k;
                if u < cdf {
                    return k;
                }
            }
        }
        last
    }
}

impl Model for StratifiedModel {
    fn kind(&self) -> &str {
        "stratified"
    }
    fn task(&self) -> Task {
        self.task
    }
    fn features(&self) -> &[String] {
        &self.features
    }
    fn predict(&self, x: &Matrix) -> Result<Predictions> {
        eval::check_features(&self.features, x)?;
        let k = self.priors.len();
        let one_hot: Vec<Vec<f64>> = (0..k)
            .map(|c| (0..k).map(|j| if j == c { 1.0 } else { 0.0 }).collect())
            .collect();
        Ok(predictions_from(self.task, x.n_rows(), |i| &one_hot[self.draw(i)]))
    }
    fn save(&self) -> Result<SavedModel> {
        let state = StratifiedState {
            priors: self.priors.clone(),
            seed: self.seed,
        };
        Ok(SavedModel {
            kind: "stratified".into(),
            task: self.task,
            features: self.features.clone(),
            state: eval::state_to_json("stratified", &state)?,
        })
    }
}

/// The threshold of a [`RuleModel`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Index of the feature tested.
    pub feature: usize,
    /// Rows with `x <= threshold` go left, larger ones right, NaN to the missing leaf.
    pub threshold: f64,
    /// Impurity (Gini or squared error, weighted) removed by the split.
    pub gain: f64,
}

/// `rule`: a one-feature decision stump.
pub struct RuleModel {
    task: Task,
    features: Vec<String>,
    split: Option<Split>,
    /// Outputs of the left, right and missing leaves (all equal without a split).
    leaves: [Vec<f64>; 3],
}

#[derive(Serialize, Deserialize)]
struct RuleState {
    split: Option<Split>,
    left: Vec<f64>,
    right: Vec<f64>,
    missing: Vec<f64>,
}

impl RuleModel {
    /// The chosen split, if any improved on the constant model.
    pub fn split(&self) -> Option<Split> {
        self.split
    }

    /// A human-readable form: `if age <= 42.5 then ... else ...`.
    pub fn describe(&self) -> String {
        match self.split {
            None => format!("always {:?}", self.leaves[0]),
            Some(s) => format!(
                "if {} <= {} then {:?} else {:?} (missing: {:?})",
                self.features.get(s.feature).map_or("?", |f| f.as_str()),
                s.threshold,
                self.leaves[0],
                self.leaves[1],
                self.leaves[2]
            ),
        }
    }

    fn leaf_of(&self, x: &Matrix, i: usize) -> usize {
        match self.split {
            None => 0,
            Some(s) => {
                let v = x.column(s.feature)[i];
                if v.is_nan() {
                    2
                } else if f64::from(v) <= s.threshold {
                    0
                } else {
                    1
                }
            }
        }
    }
}

impl Model for RuleModel {
    fn kind(&self) -> &str {
        "rule"
    }
    fn task(&self) -> Task {
        self.task
    }
    fn features(&self) -> &[String] {
        &self.features
    }
    fn predict(&self, x: &Matrix) -> Result<Predictions> {
        eval::check_features(&self.features, x)?;
        Ok(predictions_from(self.task, x.n_rows(), |i| {
            &self.leaves[self.leaf_of(x, i)]
        }))
    }
    fn feature_importance(&self) -> Option<Vec<f64>> {
        let mut imp = vec![0.0; self.features.len()];
        if let Some(s) = self.split {
            imp[s.feature] = s.gain;
        }
        Some(imp)
    }
    fn save(&self) -> Result<SavedModel> {
        let [left, right, missing] = self.leaves.clone();
        let state = RuleState {
            split: self.split,
            left,
            right,
            missing,
        };
        Ok(SavedModel {
            kind: "rule".into(),
            task: self.task,
            features: self.features.clone(),
            state: eval::state_to_json("rule", &state)?,
        })
    }
}

/// Running sums of one side of a candidate split.
#[derive(Clone)]
struct Side {
    rows: usize,
    weight: f64,
    /// Class weights (classification) or `[sum w y, sum w y^2]` of centred y.
    sums: Vec<f64>,
}

impl Side {
    fn new(width: usize) -> Side {
        Side {
            rows: 0,
            weight: 0.0,
            sums: vec![0.0; width],
        }
    }

    fn add(&mut self, classification: bool, y: f64, w: f64) {
        self.rows += 1;
        self.weight += w;
        if classification {
            self.sums[y as usize] += w;
        } else {
            self.sums[0] += w * y;
            self.sums[1] += w * y * y;
        }
    }

    fn minus(&self, other: &Side) -> Side {
        Side {
            rows: self.rows - other.rows,
            weight: self.weight - other.weight,
            sums: self.sums.iter().zip(&other.sums).map(|(a, b)| a - b).collect(),
        }
    }

    /// Weighted Gini impurity `W (1 - sum p^2)` or squared error `sum w (y - mean)^2`.
    fn impurity(&self, classification: bool) -> f64 {
        if self.weight <= 0.0 {
            return 0.0;
        }
        if classification {
            self.weight - self.sums.iter().map(|c| c * c).sum::<f64>() / self.weight
        } else {
            (self.sums[1] - self.sums[0] * self.sums[0] / self.weight).max(0.0)
        }
    }
}

/// The best split on any feature, or the constant model.
fn fit_rule(task: Task, train: &TrainSet<'_>, w: Option<&[f64]>, min_leaf: usize, overall: Vec<f64>) -> RuleModel {
    let classification = task.is_classification();
    let n = train.y.len();
    // Centre regression targets so squared-error sums do not cancel.
    let centre = if classification { 0.0 } else { overall[0] };
    let y: Vec<f64> = train.y.iter().map(|v| v - centre).collect();
    let width = if classification { task.n_classes() } else { 2 };
    let wt = |i: usize| w.map_or(1.0, |w| w[i]);
    let mut all = Side::new(width);
    for (i, &yi) in y.iter().enumerate() {
        all.add(classification, yi, wt(i));
    }
    let base = all.impurity(classification);
    let mut best: Option<(Split, f64)> = None;
    let mut order: Vec<usize> = Vec::with_capacity(n);
    for j in 0..train.x.n_cols() {
        let col = train.x.column(j);
        order.clear();
        order.extend((0..n).filter(|&i| !col[i].is_nan()));
        order.sort_by(|&a, &b| col[a].total_cmp(&col[b]));
        let mut present = Side::new(width);
        for &i in &order {
            present.add(classification, y[i], wt(i));
        }
        let missing_imp = all.minus(&present).impurity(classification);
        let mut left = Side::new(width);
        for (pos, &i) in order.iter().enumerate() {
            left.add(classification, y[i], wt(i));
            let Some(&next) = order.get(pos + 1) else { break };
            let (a, b) = (col[i], col[next]);
            if a == b || left.rows < min_leaf || order.len() - left.rows < min_leaf {
                continue;
            }
            let right = present.minus(&left);
            let imp = left.impurity(classification) + right.impurity(classification) + missing_imp;
            if best.as_ref().is_none_or(|(_, b)| imp < *b) {
                best = Some((
                    Split {
                        feature: j,
                        threshold: threshold_between(a, b),
                        gain: base - imp,
                    },
                    imp,
                ));
            }
        }
    }
    // A split must remove impurity beyond rounding noise.
    let split = best
        .map(|(s, _)| s)
        .filter(|s| s.gain > 1e-12 * base.max(f64::MIN_POSITIVE));
    let features = train.x.names().to_vec();
    let Some(s) = split else {
        return RuleModel {
            task,
            features,
            split: None,
            leaves: [overall.clone(), overall.clone(), overall],
        };
    };
    let col = train.x.column(s.feature);
    let leaf = |pick: &dyn Fn(f32) -> bool| {
        distribution_of(task, train.y, w, (0..n).filter(|&i| pick(col[i]))).unwrap_or_else(|| overall.clone())
    };
    let left = leaf(&|v| !v.is_nan() && f64::from(v) <= s.threshold);
    let right = leaf(&|v| !v.is_nan() && f64::from(v) > s.threshold);
    let missing = leaf(&|v| v.is_nan());
    RuleModel {
        task,
        features,
        split: Some(s),
        leaves: [left, right, missing],
    }
}

/// A threshold `t` with `a <= t < b`: the midpoint when it is representable.
fn threshold_between(a: f32, b: f32) -> f64 {
    let (a, b) = (f64::from(a), f64::from(b));
    let mid = a + (b - a) / 2.0;
    if mid.is_finite() && a <= mid && mid < b {
        mid
    } else {
        a
    }
}

/// Loads a saved baseline model (`majority`, `mean`, `stratified`, `rule`).
pub fn load(saved: &SavedModel) -> Result<Box<dyn Model>> {
    let kind = saved.kind.as_str();
    let task = saved.task;
    eval::check_task(task)?;
    let features = saved.features.clone();
    let task_ok = match kind {
        "majority" | "stratified" => task.is_classification(),
        "mean" => task == Task::Regression,
        _ => true,
    };
    if !task_ok {
        return Err(LearnError::new(format!(
            "saved '{kind}' model is malformed: it cannot have a {} task",
            task.name()
        )));
    }
    Ok(match kind {
        "majority" | "mean" => {
            let s: ConstantState = eval::state_of(saved)?;
            check_output(kind, task, &s.output)?;
            Box::new(ConstantModel {
                kind: kind.to_string(),
                task,
                features,
                output: s.output,
            })
        }
        "stratified" => {
            let s: StratifiedState = eval::state_of(saved)?;
            check_output(kind, task, &s.priors)?;
            Box::new(StratifiedModel {
                task,
                features,
                priors: s.priors,
                seed: s.seed,
            })
        }
        "rule" => {
            let s: RuleState = eval::state_of(saved)?;
            for leaf in [&s.left, &s.right, &s.missing] {
                check_output(kind, task, leaf)?;
            }
            if let Some(sp) = s.split {
                if sp.feature >= features.len() || sp.threshold.is_nan() {
                    return Err(LearnError::new(format!(
                        "saved 'rule' model is malformed: split on feature {} of {}",
                        sp.feature,
                        features.len()
                    )));
                }
            }
            Box::new(RuleModel {
                task,
                features,
                split: s.split,
                leaves: [s.left, s.right, s.missing],
            })
        }
        other => return Err(LearnError::new(format!("'{other}' is not a baseline model kind"))),
    })
}
