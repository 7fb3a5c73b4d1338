//! `kiln tune kiln.toml`: the training pipeline as a tuning objective.
//!
//! The data is read, checked and split once, and the preprocessing fitted once
//! per evaluation round (one holdout round, or each fold when `[split] folds`
//! is set: cross-validation inside every trial). A trial picks the model kind
//! (when `[tune.space]` names several), merges the suggested hyperparameters
//! over that kind's `[[model]]` table, trains it and returns the selection
//! metric on the validation rows (or the mean over folds). Iterative learners
//! report the validation metric every round (boosting round, epoch), so the
//! pruner can stop a LightGBM trial early; with folds, the running mean is
//! reported after each fold.
//!
//! The best configuration is written back as a `kiln.toml` that `kiln train`
//! runs: the original config with one `[[model]]`, the winner's, and no `[tune]`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Result};
use kiln_learn::{Callbacks, Control, FnCallback, IterationReport, Predictions, Task, TrainSet};
use kiln_tune::config::TuneConfig;
use kiln_tune::{ParamValue, SearchSpace, Trial, TrialError};
use serde_json::Value;

use crate::candidates;
use crate::config::LoadedConfig;
use crate::data;
use crate::evaluate;
use crate::pipeline::{f64_weights, round_data, RoundData};

/// What the study needs to know about the objective.
pub struct Setup {
    pub space: SearchSpace,
    pub metric: String,
    pub higher_is_better: bool,
    pub kinds: Vec<String>,
    pub rows: usize,
    pub folds: Option<usize>,
}

/// The training config as an objective.
pub struct TrainObjective {
    cfg: LoadedConfig,
    task: Task,
    rounds: Vec<RoundData>,
    kinds: Vec<String>,
    space: SearchSpace,
    metric: String,
    higher: bool,
    /// LightGBM threads per trial when several trials run at once.
    threads_per_trial: Option<usize>,
}

fn param_json(v: &ParamValue) -> Value {
    v.to_json()
}

impl TrainObjective {
    /// Reads the data and fits the preprocessing of every round. `n_jobs`
    /// trials will run at once (LightGBM's threads are shared out between them).
    pub fn new(cfg: LoadedConfig, n_jobs: usize) -> Result<(TrainObjective, Setup)> {
        let tune: TuneConfig = cfg
            .config
            .tune
            .clone()
            .ok_or_else(|| anyhow!("{}: no [tune] section (with [tune.space.<model kind>])", cfg.path))?;
        let (space, kinds) = tune.model_space().map_err(|e| anyhow!("{}: {}", cfg.path, e.message))?;
        for k in &kinds {
            if !candidates::KINDS.contains(&k.as_str()) || matches!(k.as_str(), "voting" | "stacking") {
                bail!(
                    "{}: [tune.space.{k}]: '{k}' is not a model kind that can be tuned (lightgbm, random_forest, logistic, linear, ...)",
                    cfg.path
                );
            }
        }
        let prepared = data::prepare(&cfg)?;
        let task = prepared.task;
        let metric = tune
            .metric
            .clone()
            .or_else(|| cfg.config.select.metric.clone())
            .unwrap_or_else(|| evaluate::default_metric(task).to_string());
        let higher = evaluate::selection_direction(&metric, task).map_err(|e| anyhow!("{}: [tune] {e}", cfg.path))?;
        let s = &prepared.splits;
        let rounds = match &s.folds {
            Some(folds) => folds
                .iter()
                .map(|(t, v)| round_data(&cfg, &prepared, t, v))
                .collect::<Result<Vec<_>>>()?,
            None => {
                if s.valid.is_empty() {
                    bail!(
                        "{}: tuning needs validation rows: set [split] valid > 0 or folds",
                        cfg.path
                    );
                }
                vec![round_data(&cfg, &prepared, &s.train, &s.valid)?]
            }
        };
        let setup = Setup {
            space: space.clone(),
            metric: metric.clone(),
            higher_is_better: higher,
            kinds: kinds.clone(),
            rows: prepared.rows,
            folds: s.folds.as_ref().map(Vec::len),
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads_per_trial = (n_jobs > 1).then(|| (cores / n_jobs).max(1));
        Ok((
            TrainObjective {
                cfg,
                task,
                rounds,
                kinds,
                space,
                metric,
                higher,
                threads_per_trial,
            },
            setup,
        ))
    }

    /// The model kind and the hyperparameters a trial's params mean.
    pub fn model_of(&self, params: &BTreeMap<String, ParamValue>) -> Result<(String, BTreeMap<String, Value>)> {
        let kind = if self.kinds.len() == 1 {
            self.kinds[0].clone()
        } else {
            match params.get("model") {
                Some(ParamValue::Str(k)) => k.clone(),
                other => bail!("trial has no model kind (model = {other:?})"),
            }
        };
        let mut merged: BTreeMap<String, Value> = self
            .cfg
            .models
            .iter()
            .find(|m| m.kind == kind)
            .map(|m| m.params.clone())
            .unwrap_or_default();
        merged.remove("name");
        let prefix = format!("{kind}.");
        for (k, v) in params {
            if k == "model" && self.kinds.len() > 1 {
                continue;
            }
            let key = if self.kinds.len() > 1 {
                match k.strip_prefix(&prefix) {
                    Some(rest) => rest.to_string(),
                    None => continue,
                }
            } else {
                k.clone()
            };
            merged.insert(key, param_json(v));
        }
        if matches!(kind.as_str(), "lightgbm" | "random_forest") {
            if !merged.contains_key("seed") {
                merged.insert("seed".into(), Value::from(self.cfg.config.seed % (i32::MAX as u64)));
            }
            if let Some(t) = self.threads_per_trial {
                merged.entry("num_threads".to_string()).or_insert(Value::from(t as u64));
            }
            // The watched metric, so that each round's value can drive the pruner.
            if !merged.contains_key("metric")
                && matches!(
                    self.metric.as_str(),
                    "auc" | "average_precision" | "logloss" | "rmse" | "mae" | "mse"
                )
            {
                merged.insert("metric".into(), Value::from(self.metric.clone()));
            }
        }
        Ok((kind, merged))
    }

    /// Trains one configuration and returns the selection metric.
    pub fn evaluate_trial(&self, trial: &mut Trial) -> std::result::Result<f64, TrialError> {
        let params = trial.suggest_space(&self.space)?;
        trial.flush()?;
        let (kind, hyper) = self
            .model_of(&params)
            .map_err(|e| TrialError::Failed(format!("{e:#}")))?;
        let learner = candidates::learner(&kind, &hyper).map_err(TrialError::Failed)?;
        let watched = format!("valid_{}", self.metric);
        let folds = self.rounds.len();
        let mut scores = Vec::with_capacity(folds);
        for (r, rd) in self.rounds.iter().enumerate() {
            let handle = trial.handle();
            let pruned = Arc::new(Mutex::new(None::<std::result::Result<(), String>>));
            let flag = pruned.clone();
            let watched = watched.clone();
            // Holdout: report every round; CV: report after each fold (below).
            let per_round = folds == 1;
            let cb = FnCallback(move |rep: &IterationReport<'_>| {
                if !per_round {
                    return Control::Continue;
                }
                let Some(v) = rep.metric(&watched) else {
                    return Control::Continue;
                };
                let stop = handle
                    .report(rep.iteration as i64, v)
                    .and_then(|_| handle.should_prune())
                    .map_err(|e| e.message);
                match stop {
                    Ok(false) => Control::Continue,
                    Ok(true) => {
                        *flag.lock().unwrap_or_else(|e| e.into_inner()) = Some(Ok(()));
                        Control::Stop
                    }
                    Err(e) => {
                        *flag.lock().unwrap_or_else(|e| e.into_inner()) = Some(Err(e));
                        Control::Stop
                    }
                }
            });
            let mut cbs = Callbacks::new().with(cb);
            let train = TrainSet {
                x: &rd.x_train,
                y: &rd.y_train,
                weight: rd.w_train.as_deref(),
            };
            let valid = TrainSet {
                x: &rd.x_valid,
                y: &rd.y_valid,
                weight: rd.w_valid.as_deref(),
            };
            let model = learner
                .fit(self.task, &train, Some(&valid), &mut cbs)
                .map_err(|e| TrialError::Failed(e.message))?;
            drop(cbs);
            match pruned.lock().unwrap_or_else(|e| e.into_inner()).take() {
                Some(Ok(())) => return Err(TrialError::Pruned),
                Some(Err(e)) => return Err(TrialError::Failed(format!("reporting to the study: {e}"))),
                None => {}
            }
            let pred: Predictions = model.predict(&rd.x_valid).map_err(|e| TrialError::Failed(e.message))?;
            let score = evaluate::metric(&self.metric, &rd.y_valid, &pred, f64_weights(&rd.w_valid).as_deref())
                .ok_or_else(|| TrialError::Failed(format!("'{}' is undefined on the validation rows", self.metric)))?;
            scores.push(score);
            if folds > 1 {
                let mean = scores.iter().sum::<f64>() / scores.len() as f64;
                trial.report(r as i64 + 1, mean)?;
                if r + 1 < folds && trial.should_prune()? {
                    return Err(TrialError::Pruned);
                }
            }
        }
        Ok(scores.iter().sum::<f64>() / scores.len() as f64)
    }

    pub fn higher_is_better(&self) -> bool {
        self.higher
    }

    /// The config with the best trial's model as its only `[[model]]`, without `[tune]`.
    pub fn best_config(&self, params: &BTreeMap<String, ParamValue>) -> Result<String> {
        best_config_text(&self.cfg, &self.model_of(params)?)
    }
}

/// The config text with one `[[model]]` (kind + hyperparameters) and no `[tune]`.
pub fn best_config_text(cfg: &LoadedConfig, model: &(String, BTreeMap<String, Value>)) -> Result<String> {
    let mut doc: toml::Table = toml::from_str(&cfg.text).map_err(|e| anyhow!("{}: {e}", cfg.path))?;
    doc.remove("tune");
    let mut table = toml::Table::new();
    table.insert("kind".into(), toml::Value::String(model.0.clone()));
    for (k, v) in &model.1 {
        let tv: toml::Value = match v {
            Value::Bool(b) => toml::Value::Boolean(*b),
            Value::Number(n) if n.is_i64() || n.is_u64() => toml::Value::Integer(n.as_i64().unwrap_or(i64::MAX)),
            Value::Number(n) => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => toml::Value::String(s.clone()),
            other => toml::Value::String(other.to_string()),
        };
        table.insert(k.clone(), tv);
    }
    doc.insert("model".into(), toml::Value::Array(vec![toml::Value::Table(table)]));
    let body = toml::to_string(&doc).map_err(|e| anyhow!("writing the best config: {e}"))?;
    Ok(format!(
        "# The best configuration found by `kiln tune {}`; run it with `kiln train`.\n{body}",
        cfg.path
    ))
}
