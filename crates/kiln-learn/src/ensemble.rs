//! Ensembles over fitted models: soft voting and stacking.
//!
//! - **Voting** averages the members' predictions (class probabilities, or
//!   values for regression), optionally weighted. [`VotingModel::new`] combines
//!   models that are already fitted (the pipeline's candidates, no refit);
//!   [`VotingLearner`] fits its members first.
//! - **Stacking** fits a meta-learner on the members' out-of-fold predictions
//!   (k folds over the training rows, seeded), then refits the members on all
//!   training rows. Meta features are P(class 1) per member (binary), every
//!   class probability per member (multiclass) or the value (regression).

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_data::rng::Rng;
use kiln_data::Matrix;
use serde::{Deserialize, Serialize};

use crate::callback::Callbacks;
use crate::learner::{load_model, LearnError, Learner, Model, Predictions, Result, SavedModel, Task, TrainSet};

fn check_members(members: &[Arc<dyn Model>]) -> Result<(Task, Vec<String>)> {
    let first = members
        .first()
        .ok_or_else(|| LearnError::new("an ensemble needs at least one member"))?;
    for m in members {
        if m.task() != first.task() {
            return Err(LearnError::new(format!(
                "ensemble members disagree on the task: {} is {:?}, {} is {:?}",
                first.kind(),
                first.task(),
                m.kind(),
                m.task()
            )));
        }
        if m.features() != first.features() {
            return Err(LearnError::new(format!(
                "ensemble members take different features ({} and {})",
                first.kind(),
                m.kind()
            )));
        }
    }
    Ok((first.task(), first.features().to_vec()))
}

/// Weighted mean of the members' predictions.
fn average(task: Task, preds: &[Predictions], weights: &[f64]) -> Result<Predictions> {
    let total: f64 = weights.iter().sum();
    let n = preds.first().map_or(0, Predictions::len);
    let width = match task {
        Task::Multiclass { n_classes } => n_classes,
        _ => 1,
    };
    let mut acc = vec![0.0f64; n * width];
    for (p, w) in preds.iter().zip(weights) {
        let values = p.values();
        if values.len() != acc.len() {
            return Err(LearnError::new(
                "ensemble members returned predictions of different sizes",
            ));
        }
        for (a, v) in acc.iter_mut().zip(values) {
            *a += w * v;
        }
    }
    for a in &mut acc {
        *a /= total;
    }
    Ok(Predictions::from_values(task, acc))
}

/// Soft voting over fitted models.
pub struct VotingModel {
    members: Vec<Arc<dyn Model>>,
    weights: Vec<f64>,
    task: Task,
    features: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct VotingState {
    members: Vec<SavedModel>,
    weights: Vec<f64>,
}

impl VotingModel {
    /// Combines fitted models; `weights` default to equal.
    pub fn new(members: Vec<Arc<dyn Model>>, weights: Option<Vec<f64>>) -> Result<VotingModel> {
        let (task, features) = check_members(&members)?;
        let weights = weights.unwrap_or_else(|| vec![1.0; members.len()]);
        if weights.len() != members.len() {
            return Err(LearnError::new(format!(
                "{} voting weights for {} members",
                weights.len(),
                members.len()
            )));
        }
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || weights.iter().sum::<f64>() <= 0.0 {
            return Err(LearnError::new("voting weights must be >= 0 with a positive sum"));
        }
        Ok(VotingModel {
            members,
            weights,
            task,
            features,
        })
    }

    fn load(saved: &SavedModel) -> Result<VotingModel> {
        let state: VotingState = serde_json::from_value(saved.state.clone())
            .map_err(|e| LearnError::new(format!("saved voting model is malformed: {e}")))?;
        let members = state
            .members
            .iter()
            .map(|m| load_model(m).map(Arc::from))
            .collect::<Result<Vec<_>>>()?;
        VotingModel::new(members, Some(state.weights))
    }
}

impl Model for VotingModel {
    fn kind(&self) -> &str {
        "voting"
    }
    fn task(&self) -> Task {
        self.task
    }
    fn features(&self) -> &[String] {
        &self.features
    }
    fn predict(&self, x: &Matrix) -> Result<Predictions> {
        let preds = self.members.iter().map(|m| m.predict(x)).collect::<Result<Vec<_>>>()?;
        average(self.task, &preds, &self.weights)
    }
    fn save(&self) -> Result<SavedModel> {
        let members = self.members.iter().map(|m| m.save()).collect::<Result<Vec<_>>>()?;
        Ok(SavedModel {
            kind: "voting".into(),
            task: self.task,
            features: self.features.clone(),
            state: serde_json::to_value(VotingState {
                members,
                weights: self.weights.clone(),
            })
            .map_err(|e| LearnError::new(e.to_string()))?,
        })
    }
}

/// Fits each member, then votes.
pub struct VotingLearner {
    pub members: Vec<Box<dyn Learner>>,
    pub weights: Option<Vec<f64>>,
}

impl Learner for VotingLearner {
    fn kind(&self) -> &str {
        "voting"
    }
    fn params(&self) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert(
            "members".into(),
            self.members
                .iter()
                .map(|m| m.kind().to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        if let Some(w) = &self.weights {
            p.insert("weights".into(), format!("{w:?}"));
        }
        p
    }
    fn fit(
        &self,
        task: Task,
        train: &TrainSet<'_>,
        valid: Option<&TrainSet<'_>>,
        _callbacks: &mut Callbacks,
    ) -> Result<Box<dyn Model>> {
        let members = self
            .members
            .iter()
            .map(|l| l.fit(task, train, valid, &mut Callbacks::new()).map(Arc::from))
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(VotingModel::new(members, self.weights.clone())?))
    }
}

/// The meta-learner's input: one or more columns per member.
fn meta_features(preds: &[Predictions], n_rows: usize) -> Result<Matrix> {
    let mut names = Vec::new();
    let mut cols: Vec<Vec<f32>> = Vec::new();
    for (i, p) in preds.iter().enumerate() {
        match p {
            Predictions::Binary(v) | Predictions::Regression(v) => {
                names.push(format!("member{i}"));
                cols.push(v.iter().map(|&x| x as f32).collect());
            }
            Predictions::Multiclass { n_classes, probs } => {
                for k in 0..*n_classes {
                    names.push(format!("member{i}_class{k}"));
                    cols.push(probs.iter().skip(k).step_by(*n_classes).map(|&x| x as f32).collect());
                }
            }
        }
    }
    let m = Matrix::from_columns(names, cols)?;
    if m.n_rows() != n_rows {
        return Err(LearnError::new("stacking: member predictions have the wrong length"));
    }
    Ok(m)
}

/// Stacking: a meta-learner over out-of-fold member predictions.
pub struct StackingLearner {
    pub members: Vec<Box<dyn Learner>>,
    pub meta: Box<dyn Learner>,
    pub folds: usize,
    pub seed: u64,
}

impl Learner for StackingLearner {
    fn kind(&self) -> &str {
        "stacking"
    }
    fn params(&self) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert(
            "members".into(),
            self.members
                .iter()
                .map(|m| m.kind().to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        p.insert("meta".into(), self.meta.kind().to_string());
        p.insert("folds".into(), self.folds.to_string());
        p.insert("seed".into(), self.seed.to_string());
        p
    }
    fn fit(
        &self,
        task: Task,
        train: &TrainSet<'_>,
        valid: Option<&TrainSet<'_>>,
        callbacks: &mut Callbacks,
    ) -> Result<Box<dyn Model>> {
        let n = train.x.n_rows();
        if self.members.is_empty() {
            return Err(LearnError::new("stacking needs at least one member"));
        }
        if self.folds < 2 || n < self.folds {
            return Err(LearnError::new(format!(
                "stacking needs at least 2 folds and a row per fold ({} folds, {n} rows)",
                self.folds
            )));
        }
        let mut order: Vec<usize> = (0..n).collect();
        Rng::new(self.seed).shuffle(&mut order);
        let mut fold_of = vec![0usize; n];
        for (pos, &row) in order.iter().enumerate() {
            fold_of[row] = pos % self.folds;
        }
        // Out-of-fold predictions of every member, row-aligned with `train`.
        let width = match task {
            Task::Multiclass { n_classes } => n_classes,
            _ => 1,
        };
        let mut oof: Vec<Vec<f64>> = vec![vec![0.0; n * width]; self.members.len()];
        for k in 0..self.folds {
            let fit_rows: Vec<usize> = (0..n).filter(|&i| fold_of[i] != k).collect();
            let held: Vec<usize> = (0..n).filter(|&i| fold_of[i] == k).collect();
            let xf = train.x.take_rows(&fit_rows);
            let yf: Vec<f64> = fit_rows.iter().map(|&i| train.y[i]).collect();
            let wf: Option<Vec<f32>> = train.weight.map(|w| fit_rows.iter().map(|&i| w[i]).collect());
            let xh = train.x.take_rows(&held);
            let set = TrainSet {
                x: &xf,
                y: &yf,
                weight: wf.as_deref(),
            };
            for (j, l) in self.members.iter().enumerate() {
                let m = l.fit(task, &set, None, &mut Callbacks::new())?;
                let values = m.predict(&xh)?.values().to_vec();
                for (pos, &row) in held.iter().enumerate() {
                    oof[j][row * width..(row + 1) * width].copy_from_slice(&values[pos * width..(pos + 1) * width]);
                }
            }
        }
        let oof_preds: Vec<Predictions> = oof.into_iter().map(|v| Predictions::from_values(task, v)).collect();
        let meta_x = meta_features(&oof_preds, n)?;
        // Members refit on every training row; the meta-learner sees the
        // validation set through the members' predictions.
        let members: Vec<Arc<dyn Model>> = self
            .members
            .iter()
            .map(|l| l.fit(task, train, None, &mut Callbacks::new()).map(Arc::from))
            .collect::<Result<_>>()?;
        let meta_valid = match valid {
            Some(v) => {
                let preds = members.iter().map(|m| m.predict(v.x)).collect::<Result<Vec<_>>>()?;
                Some((meta_features(&preds, v.x.n_rows())?, v))
            }
            None => None,
        };
        let meta_valid_set = meta_valid.as_ref().map(|(x, v)| TrainSet {
            x,
            y: v.y,
            weight: v.weight,
        });
        let meta = self.meta.fit(
            task,
            &TrainSet {
                x: &meta_x,
                y: train.y,
                weight: train.weight,
            },
            meta_valid_set.as_ref(),
            callbacks,
        )?;
        Ok(Box::new(StackingModel::new(members, Arc::from(meta))?))
    }
}

/// Members plus a meta-model over their predictions.
pub struct StackingModel {
    members: Vec<Arc<dyn Model>>,
    meta: Arc<dyn Model>,
    task: Task,
    features: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct StackingState {
    members: Vec<SavedModel>,
    meta: SavedModel,
}

impl StackingModel {
    pub fn new(members: Vec<Arc<dyn Model>>, meta: Arc<dyn Model>) -> Result<StackingModel> {
        let (task, features) = check_members(&members)?;
        if meta.task() != task {
            return Err(LearnError::new(
                "the stacking meta-model's task differs from its members'",
            ));
        }
        Ok(StackingModel {
            members,
            meta,
            task,
            features,
        })
    }

    fn load(saved: &SavedModel) -> Result<StackingModel> {
        let state: StackingState = serde_json::from_value(saved.state.clone())
            .map_err(|e| LearnError::new(format!("saved stacking model is malformed: {e}")))?;
        let members = state
            .members
            .iter()
            .map(|m| load_model(m).map(Arc::from))
            .collect::<Result<Vec<_>>>()?;
        StackingModel::new(members, Arc::from(load_model(&state.meta)?))
    }
}

impl Model for StackingModel {
    fn kind(&self) -> &str {
        "stacking"
    }
    fn task(&self) -> Task {
        self.task
    }
    fn features(&self) -> &[String] {
        &self.features
    }
    fn predict(&self, x: &Matrix) -> Result<Predictions> {
        let preds = self.members.iter().map(|m| m.predict(x)).collect::<Result<Vec<_>>>()?;
        self.meta.predict(&meta_features(&preds, x.n_rows())?)
    }
    fn save(&self) -> Result<SavedModel> {
        Ok(SavedModel {
            kind: "stacking".into(),
            task: self.task,
            features: self.features.clone(),
            state: serde_json::to_value(StackingState {
                members: self.members.iter().map(|m| m.save()).collect::<Result<_>>()?,
                meta: self.meta.save()?,
            })
            .map_err(|e| LearnError::new(e.to_string()))?,
        })
    }
}

/// Loads a saved `voting` or `stacking` model.
pub(crate) fn load(saved: &SavedModel) -> Result<Box<dyn Model>> {
    match saved.kind.as_str() {
        "voting" => Ok(Box::new(VotingModel::load(saved)?)),
        "stacking" => Ok(Box::new(StackingModel::load(saved)?)),
        other => Err(LearnError::new(format!("'{other}' is not an ensemble kind"))),
    }
}
