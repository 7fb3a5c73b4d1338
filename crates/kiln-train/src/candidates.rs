//! The candidates of a run: the `[[model]]` tables turned into learners (every
//! unknown kind or hyperparameter refused before any data is read), plus the
//! baselines that set the floor.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use kiln_learn::baseline::BaselineLearner;
use kiln_learn::lightgbm::LightGbmLearner;
use kiln_learn::linear::LinearLearner;
use kiln_learn::Learner;
use serde_json::Value;

use crate::config::LoadedConfig;

/// The learner kinds `[[model]] kind = ...` accepts.
pub const KINDS: &[&str] = &[
    "lightgbm",
    "random_forest",
    "logistic",
    "linear",
    "majority",
    "mean",
    "stratified",
    "rule",
    "voting",
    "stacking",
];

/// How an ensemble names its members.
#[derive(Debug, Clone, PartialEq)]
pub enum EnsembleSpec {
    /// Soft voting over fitted candidates (no refit).
    Voting {
        members: Vec<String>,
        weights: Option<Vec<f64>>,
    },
    /// A meta-learner over out-of-fold predictions of the members.
    Stacking {
        members: Vec<String>,
        meta: String,
        folds: usize,
    },
}

/// One candidate to train.
pub struct Candidate {
    /// Unique within the run: the `name` key, else the kind (`lightgbm#2` for a second one).
    pub name: String,
    pub kind: String,
    /// `None` for ensembles, which are assembled from other candidates.
    pub learner: Option<Box<dyn Learner>>,
    pub ensemble: Option<EnsembleSpec>,
    /// A baseline (reported, never registered unless it wins).
    pub baseline: bool,
    /// Uses every core itself (LightGBM); trained alone rather than beside others.
    pub heavy: bool,
    /// The hyperparameters the learner was built from (seed added).
    pub params: BTreeMap<String, Value>,
}

impl Candidate {
    /// The learner for a refit without validation rows (the final fit after
    /// k-fold CV): early stopping off, and the rounds set to the mean of the
    /// best iterations the folds found (when they found any).
    pub fn refit_learner(&self, fold_iterations: &[usize]) -> Result<Option<Box<dyn Learner>>> {
        if !self.params.contains_key("early_stopping") {
            return Ok(None);
        }
        let mut p = self.params.clone();
        p.remove("early_stopping");
        if !fold_iterations.is_empty() {
            let mean = fold_iterations.iter().sum::<usize>() as f64 / fold_iterations.len() as f64;
            p.insert("rounds".into(), Value::from(mean.round().max(1.0) as u64));
        }
        learner(&self.kind, &p)
            .map(Some)
            .map_err(|e| anyhow!("{}: {e}", self.name))
    }
}

/// A learner of `kind` from its hyperparameters.
pub fn learner(kind: &str, params: &BTreeMap<String, Value>) -> std::result::Result<Box<dyn Learner>, String> {
    let r: std::result::Result<Box<dyn Learner>, kiln_learn::LearnError> = match kind {
        "lightgbm" | "random_forest" => LightGbmLearner::from_params(kind, params).map(|l| Box::new(l) as _),
        "logistic" | "linear" => LinearLearner::from_params(kind, params).map(|l| Box::new(l) as _),
        "majority" | "mean" | "stratified" | "rule" => {
            BaselineLearner::from_params(kind, params).map(|l| Box::new(l) as _)
        }
        other => {
            return Err(format!(
                "unknown model kind '{other}'; expected one of {}",
                KINDS.join(", ")
            ))
        }
    };
    r.map_err(|e| e.message)
}

fn take_string_list(
    params: &mut BTreeMap<String, Value>,
    key: &str,
    kind: &str,
) -> std::result::Result<Vec<String>, String> {
    match params.remove(key) {
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(format!(
                    "model '{kind}': '{key}' must list candidate names, got {other}"
                )),
            })
            .collect(),
        Some(other) => Err(format!(
            "model '{kind}': '{key}' must be a list of candidate names, got {other}"
        )),
        None => Err(format!("model '{kind}': needs '{key}' = [\"<candidate name>\", ...]")),
    }
}

/// An ensemble table's keys left after reading the known ones are mistakes.
fn no_more_keys(cfg: &LoadedConfig, i: usize, kind: &str, params: &BTreeMap<String, Value>) -> Result<()> {
    match params.keys().next() {
        Some(k) => Err(cfg.model_error(i, &format!("model '{kind}': unknown key '{k}'"))),
        None => Ok(()),
    }
}

/// Adds the run's seed to learners that take one and were not given one.
fn with_seed(kind: &str, params: &BTreeMap<String, Value>, seed: u64) -> BTreeMap<String, Value> {
    let mut p = params.clone();
    if matches!(kind, "lightgbm" | "random_forest" | "stratified") && !p.contains_key("seed") {
        p.insert("seed".into(), Value::from(seed % (i32::MAX as u64)));
    }
    p
}

/// Every candidate of the config (baselines first), checked.
pub fn build(cfg: &LoadedConfig, classification: bool) -> Result<Vec<Candidate>> {
    let mut out: Vec<Candidate> = Vec::new();
    if cfg.config.select.baselines {
        let kinds: &[&str] = if classification {
            &["majority", "stratified", "rule"]
        } else {
            &["mean", "rule"]
        };
        for k in kinds {
            let params = with_seed(k, &BTreeMap::new(), cfg.config.seed);
            out.push(Candidate {
                name: format!("baseline:{k}"),
                kind: k.to_string(),
                learner: Some(learner(k, &params).map_err(|e| anyhow!(e))?),
                ensemble: None,
                baseline: true,
                heavy: false,
                params,
            });
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, spec) in cfg.models.iter().enumerate() {
        let mut params = spec.params.clone();
        let name = match params.remove("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(other) => return Err(cfg.model_error(i, &format!("'name' must be a non-empty string, got {other}"))),
            None => spec.kind.clone(),
        };
        let n = seen.entry(name.clone()).or_insert(0);
        *n += 1;
        let name = if *n > 1 { format!("{name}#{n}") } else { name };
        let kind = spec.kind.as_str();
        let candidate = match kind {
            "voting" => {
                let members = take_string_list(&mut params, "members", kind).map_err(|e| cfg.model_error(i, &e))?;
                let weights = match params.remove("weights") {
                    None => None,
                    Some(Value::Array(a)) => Some(
                        a.iter()
                            .map(|v| {
                                v.as_f64()
                                    .ok_or_else(|| cfg.model_error(i, "'weights' must be numbers"))
                            })
                            .collect::<Result<Vec<f64>>>()?,
                    ),
                    Some(_) => return Err(cfg.model_error(i, "'weights' must be a list of numbers")),
                };
                no_more_keys(cfg, i, kind, &params)?;
                Candidate {
                    name,
                    kind: kind.into(),
                    learner: None,
                    ensemble: Some(EnsembleSpec::Voting { members, weights }),
                    baseline: false,
                    heavy: false,
                    params: BTreeMap::new(),
                }
            }
            "stacking" => {
                let members = take_string_list(&mut params, "members", kind).map_err(|e| cfg.model_error(i, &e))?;
                let meta = match params.remove("meta") {
                    None => if classification { "logistic" } else { "linear" }.to_string(),
                    Some(Value::String(s)) if matches!(s.as_str(), "logistic" | "linear" | "lightgbm") => s,
                    Some(other) => {
                        return Err(cfg.model_error(
                            i,
                            &format!("model 'stacking': 'meta' must be logistic, linear or lightgbm, got {other}"),
                        ))
                    }
                };
                let folds = match params.remove("folds") {
                    None => 5,
                    Some(v) => match v.as_u64() {
                        Some(k) if (2..=20).contains(&k) => k as usize,
                        _ => {
                            return Err(cfg.model_error(i, &format!("model 'stacking': 'folds' must be 2..20, got {v}")))
                        }
                    },
                };
                no_more_keys(cfg, i, kind, &params)?;
                Candidate {
                    name,
                    kind: kind.into(),
                    learner: None,
                    ensemble: Some(EnsembleSpec::Stacking { members, meta, folds }),
                    baseline: false,
                    heavy: true,
                    params: BTreeMap::new(),
                }
            }
            _ => {
                let params = with_seed(kind, &params, cfg.config.seed);
                let l = learner(kind, &params).map_err(|e| cfg.model_error(i, &e))?;
                Candidate {
                    name,
                    kind: kind.into(),
                    learner: Some(l),
                    ensemble: None,
                    baseline: false,
                    heavy: matches!(kind, "lightgbm" | "random_forest"),
                    params,
                }
            }
        };
        out.push(candidate);
    }
    // Ensemble members must name candidates defined before them.
    for (i, c) in out.iter().enumerate() {
        let members = match &c.ensemble {
            Some(EnsembleSpec::Voting { members, .. } | EnsembleSpec::Stacking { members, .. }) => members,
            None => continue,
        };
        if members.is_empty() {
            return Err(anyhow!("{}: model '{}' lists no members", cfg.path, c.name));
        }
        for m in members {
            match out[..i].iter().find(|o| &o.name == m) {
                Some(o) if o.ensemble.is_none() => {}
                Some(_) => {
                    return Err(anyhow!(
                        "{}: model '{}': member '{m}' is itself an ensemble",
                        cfg.path,
                        c.name
                    ))
                }
                None => {
                    let names: Vec<&str> = out[..i].iter().map(|o| o.name.as_str()).collect();
                    return Err(anyhow!(
                        "{}: model '{}': member '{m}' is not a candidate defined before it (candidates: {})",
                        cfg.path,
                        c.name,
                        names.join(", ")
                    ));
                }
            }
        }
    }
    Ok(out)
}
