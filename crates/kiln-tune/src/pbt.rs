//! Population-based training (Jaderberg et al., 2017) as a scheduler over a
//! study, for learners that train in steps (epochs, boosting rounds) and can
//! checkpoint.
//!
//! A population of members starts from parameters sampled from the declared
//! space. Every `interval` steps each member trains, reports its metric to
//! its trial, and the members are ranked. Each member in the bottom
//! `quantile` *exploits* a member drawn from the top `quantile`: it restores
//! that member's checkpoint and takes its parameters, then *explores*:
//! numeric parameters are multiplied by one of `perturb` (on the log scale
//! for log parameters, clamped into range, snapped onto steps), categoricals
//! are redrawn with probability `resample_prob`. Its trial ends (COMPLETE
//! with the value reached) and a new trial with the new parameters continues,
//! tagged `pbt:member` and `pbt:parent` (the trial it copied), so the lineage
//! is in the store and the UI.

use std::collections::BTreeMap;

use crate::error::{invalid, Result};
use crate::rng::Rng;
use crate::space::{Distribution, ParamValue, SearchSpace};
use crate::study::{Outcome, Study, Trial, TrialError};

/// A learner PBT can drive.
pub trait PbtMember: Send {
    /// Trains `steps` more steps with `params`; returns the metric afterwards.
    fn train(&mut self, params: &BTreeMap<String, ParamValue>, steps: u64) -> std::result::Result<f64, TrialError>;
    /// The state to copy into another member.
    fn checkpoint(&self) -> std::result::Result<Vec<u8>, TrialError>;
    /// Replaces the state with a checkpoint of another member.
    fn restore(&mut self, checkpoint: &[u8]) -> std::result::Result<(), TrialError>;
}

/// PBT settings.
#[derive(Debug, Clone)]
pub struct PbtConfig {
    pub population: usize,
    /// Steps between exploit/explore rounds.
    pub interval: u64,
    /// Total steps each member trains.
    pub total_steps: u64,
    /// Fraction at the top and bottom (default 0.25).
    pub quantile: f64,
    /// Factors for numeric parameters (default [0.8, 1.2]).
    pub perturb: Vec<f64>,
    /// Probability to redraw a categorical (default 0.25).
    pub resample_prob: f64,
    pub seed: u64,
}

impl Default for PbtConfig {
    fn default() -> Self {
        PbtConfig {
            population: 8,
            interval: 1,
            total_steps: 10,
            quantile: 0.25,
            perturb: vec![0.8, 1.2],
            resample_prob: 0.25,
            seed: 0,
        }
    }
}

/// One exploit/explore step.
#[derive(Debug, Clone, PartialEq)]
pub struct PbtExploit {
    pub step: u64,
    pub member: usize,
    /// The member copied.
    pub from: usize,
    pub params: BTreeMap<String, ParamValue>,
}

/// What PBT found.
#[derive(Debug, Clone)]
pub struct PbtResult {
    pub best_value: f64,
    pub best_params: BTreeMap<String, ParamValue>,
    pub best_member: usize,
    pub exploits: Vec<PbtExploit>,
}

/// Explores around `params`.
pub fn explore(
    space: &SearchSpace,
    params: &BTreeMap<String, ParamValue>,
    cfg: &PbtConfig,
    rng: &mut Rng,
) -> BTreeMap<String, ParamValue> {
    let mut out = params.clone();
    for p in &space.params {
        let Some(v) = params.get(&p.name) else { continue };
        let new = match &p.distribution {
            Distribution::Categorical { choices } => {
                if rng.uniform() < cfg.resample_prob {
                    choices[rng.below(choices.len())].clone()
                } else {
                    v.clone()
                }
            }
            d => {
                let Ok(x) = d.to_internal(v) else { continue };
                let f = cfg.perturb.get(rng.below(cfg.perturb.len())).copied().unwrap_or(1.0);
                let log = matches!(
                    d,
                    Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. }
                );
                let moved = if log || x == 0.0 {
                    let (lo, hi) = d.transformed_bounds();
                    if log {
                        x * f
                    } else {
                        x + (f - 1.0) * (hi - lo) * 0.1
                    }
                } else {
                    x * f
                };
                let mut y = d.snap(moved);
                if y == x && !d.is_single() {
                    // A step too small to leave an integer or grid point: move one notch.
                    let (lo, hi) = d.transformed_bounds();
                    let notch = match d {
                        Distribution::Int { step, .. } => *step as f64,
                        Distribution::Float { step: Some(s), .. } => *s,
                        _ => (hi - lo) * 0.01,
                    };
                    y = d.snap(if f >= 1.0 { x + notch } else { x - notch });
                }
                d.to_external(y)
            }
        };
        out.insert(p.name.clone(), new);
    }
    out
}

fn start_trial(
    study: &Study,
    params: &BTreeMap<String, ParamValue>,
    member: usize,
    parent: Option<u64>,
) -> Result<Trial> {
    study.enqueue(params)?;
    let trial = study.ask()?;
    trial.set_attr("pbt:member", serde_json::json!(member))?;
    if let Some(p) = parent {
        trial.set_attr("pbt:parent", serde_json::json!(p))?;
    }
    Ok(trial)
}

/// Runs PBT over `study` (which needs a declared space); `make(i)` builds member i.
pub fn run_pbt<M: PbtMember>(study: &Study, cfg: &PbtConfig, make: impl Fn(usize) -> M) -> Result<PbtResult> {
    let space = study
        .space()
        .cloned()
        .ok_or_else(|| invalid("population-based training needs a study with a declared search space"))?;
    if cfg.population < 2 {
        return Err(invalid("a PBT population needs at least 2 members"));
    }
    if cfg.interval == 0 || cfg.total_steps == 0 {
        return Err(invalid("PBT needs interval >= 1 and total_steps >= 1"));
    }
    if !(cfg.quantile > 0.0 && cfg.quantile <= 0.5) {
        return Err(invalid("the PBT quantile must be within (0, 0.5]"));
    }
    if cfg.perturb.is_empty() || cfg.perturb.iter().any(|f| !(*f > 0.0 && f.is_finite())) {
        return Err(invalid("PBT perturbation factors must be positive numbers"));
    }
    let direction = *study
        .directions()
        .first()
        .ok_or_else(|| invalid("the study has no direction"))?;
    if study.directions().len() != 1 {
        return Err(invalid("population-based training optimises one objective"));
    }
    let mut rng = Rng::new(cfg.seed);
    let mut members: Vec<M> = (0..cfg.population).map(&make).collect();
    let mut trials: Vec<Trial> = Vec::with_capacity(cfg.population);
    let mut params: Vec<BTreeMap<String, ParamValue>> = Vec::with_capacity(cfg.population);
    for i in 0..cfg.population {
        let mut t = study.ask()?;
        t.set_attr("pbt:member", serde_json::json!(i))?;
        params.push(t.suggest_space(&space)?);
        trials.push(t);
    }
    let mut values = vec![f64::NAN; cfg.population];
    let mut exploits = Vec::new();
    let mut step = 0u64;
    while step < cfg.total_steps {
        let n = cfg.interval.min(cfg.total_steps - step);
        step += n;
        for i in 0..cfg.population {
            values[i] = match members[i].train(&params[i], n) {
                Ok(v) if v.is_finite() => v,
                // A member that fails or diverges ranks last and is replaced.
                _ => f64::NAN,
            };
            if values[i].is_finite() {
                trials[i].report(step as i64, values[i])?;
            }
        }
        if step >= cfg.total_steps {
            break;
        }
        let mut order: Vec<usize> = (0..cfg.population).collect();
        let key = |v: f64| {
            if v.is_finite() {
                direction.to_min(v)
            } else {
                f64::INFINITY
            }
        };
        order.sort_by(|&a, &b| key(values[a]).total_cmp(&key(values[b])));
        let k = ((cfg.population as f64 * cfg.quantile).ceil() as usize).clamp(1, cfg.population / 2);
        let top: Vec<usize> = order[..k].to_vec();
        for &loser in &order[cfg.population - k..] {
            let from = top[rng.below(top.len())];
            let ckpt = members[from]
                .checkpoint()
                .map_err(|e| invalid(format!("PBT checkpoint of member {from}: {e}")))?;
            members[loser]
                .restore(&ckpt)
                .map_err(|e| invalid(format!("PBT restore into member {loser}: {e}")))?;
            let new_params = explore(&space, &params[from], cfg, &mut rng);
            let outcome = if values[loser].is_finite() {
                Outcome::Complete(vec![values[loser]])
            } else {
                Outcome::Fail("the member's metric was not a finite number".into())
            };
            study.tell(&trials[loser], outcome)?;
            let parent = trials[from].number();
            trials[loser] = start_trial(study, &new_params, loser, Some(parent))?;
            // The restored member carries the copied member's progress.
            if values[from].is_finite() {
                trials[loser].report(step as i64, values[from])?;
            }
            values[loser] = values[from];
            params[loser] = new_params.clone();
            exploits.push(PbtExploit {
                step,
                member: loser,
                from,
                params: new_params,
            });
        }
    }
    for i in 0..cfg.population {
        let outcome = if values[i].is_finite() {
            Outcome::Complete(vec![values[i]])
        } else {
            Outcome::Fail("the member's metric was not a finite number".into())
        };
        study.tell(&trials[i], outcome)?;
    }
    let best_member = (0..cfg.population)
        .filter(|&i| values[i].is_finite())
        .min_by(|&a, &b| direction.to_min(values[a]).total_cmp(&direction.to_min(values[b])))
        .ok_or_else(|| invalid("every PBT member failed"))?;
    Ok(PbtResult {
        best_value: values[best_member],
        best_params: params[best_member].clone(),
        best_member,
        exploits,
    })
}
