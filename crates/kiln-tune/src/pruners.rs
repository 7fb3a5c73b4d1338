//! Pruners: decide from intermediate values (boosting rounds, epochs) whether
//! a running trial should stop early.
//!
//! * `median` / `percentile`: prune when the trial's best value so far is
//!   worse than the given percentile (50 for the median) of the COMPLETE
//!   trials' values at the same step (after `n_startup_trials` complete trials
//!   and `n_warmup_steps`, every `interval_steps`).
//! * `asha`: asynchronous successive halving. Rung k sits at resource
//!   `min_resource * reduction_factor^(min_early_stopping_rate + k)`; when a
//!   trial first reaches a rung, it goes on only if its value is within the
//!   best `1 / reduction_factor` of every value recorded at that rung so far
//!   (itself included; the best one always goes on).
//! * `sh`: successive halving with the same rungs, but a rung judges a trial
//!   only once at least `bootstrap_count` trials (default `reduction_factor`)
//!   have reached it, so the first arrivals are not cut by one comparison.
//! * `hyperband`: brackets of ASHA with min_early_stopping_rate 0..s_max
//!   (s_max from `max_resource`); trial n runs in bracket n mod brackets and
//!   is compared with its bracket only.
//!
//! Pruners are stateless: each decision is recomputed from the stored
//! intermediate values, so any worker can make it.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{invalid, Result};
use crate::trial::{Direction, FrozenTrial, TrialState};

/// A pruning strategy.
pub trait Pruner: Send + Sync {
    /// Whether `trial` (RUNNING, with its intermediate values) should stop now.
    fn prune(&self, directions: &[Direction], trials: &[Arc<FrozenTrial>], trial: &FrozenTrial) -> bool;
}

/// The pruner kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrunerKind {
    None,
    Median,
    Percentile,
    Sh,
    Asha,
    Hyperband,
}

impl PrunerKind {
    /// Every kind's name.
    pub const NAMES: &'static str = "none, median, percentile, sh, asha, hyperband";

    /// Parses a kind name.
    pub fn parse(s: &str) -> Result<PrunerKind> {
        serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase()))
            .map_err(|_| invalid(format!("unknown pruner '{s}': expected one of {}", Self::NAMES)))
    }
}

impl fmt::Display for PrunerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        f.write_str(s.as_deref().unwrap_or("?"))
    }
}

/// A pruner and its options (`pruner = "asha"` or `pruner = { kind = "median", n_startup_trials = 3 }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrunerConfig {
    pub kind: PrunerKind,
    /// median/percentile: complete trials needed before pruning (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_startup_trials: Option<usize>,
    /// median/percentile: steps before pruning starts (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_warmup_steps: Option<i64>,
    /// median/percentile: judge every this many steps (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_steps: Option<i64>,
    /// percentile: the percentile to beat, in (0, 100) (default 25; median is 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<f64>,
    /// sh/asha/hyperband: resource of the first rung (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_resource: Option<i64>,
    /// sh/asha/hyperband: eta (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduction_factor: Option<i64>,
    /// sh/asha: skip the first rungs (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_early_stopping_rate: Option<u32>,
    /// sh: trials a rung needs before it judges (default reduction_factor; asha 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_count: Option<usize>,
    /// hyperband: the largest resource (e.g. boosting rounds; default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_resource: Option<i64>,
}

impl PrunerConfig {
    /// A kind with default options.
    pub fn of(kind: PrunerKind) -> PrunerConfig {
        PrunerConfig {
            kind,
            n_startup_trials: None,
            n_warmup_steps: None,
            interval_steps: None,
            percentile: None,
            min_resource: None,
            reduction_factor: None,
            min_early_stopping_rate: None,
            bootstrap_count: None,
            max_resource: None,
        }
    }

    /// Parses `name` or `name:key=value,...` (the CLI's `--pruner`).
    pub fn parse_cli(s: &str) -> Result<PrunerConfig> {
        let (name, opts) = s.split_once(':').unwrap_or((s, ""));
        PrunerKind::parse(name.trim())?;
        let mut table = serde_json::Map::new();
        table.insert(
            "kind".into(),
            serde_json::Value::String(name.trim().to_ascii_lowercase()),
        );
        for kv in opts.split(',').filter(|x| !x.trim().is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| invalid(format!("pruner option '{kv}': expected key=value")))?;
            let value = serde_json::from_str(v.trim()).unwrap_or_else(|_| serde_json::Value::String(v.trim().into()));
            table.insert(k.trim().to_string(), value);
        }
        serde_json::from_value(serde_json::Value::Object(table)).map_err(|e| invalid(format!("pruner '{s}': {e}")))
    }

    /// Checks option ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(invalid(format!("pruner {}: {what}", self.kind)));
        if let Some(p) = self.percentile {
            if !(p > 0.0 && p < 100.0) {
                return bad("percentile must be within (0, 100)");
            }
        }
        if self.interval_steps.is_some_and(|i| i < 1) {
            return bad("interval_steps must be at least 1");
        }
        if self.n_warmup_steps.is_some_and(|i| i < 0) {
            return bad("n_warmup_steps must not be negative");
        }
        if self.min_resource.is_some_and(|r| r < 1) {
            return bad("min_resource must be at least 1");
        }
        if self.reduction_factor.is_some_and(|r| r < 2) {
            return bad("reduction_factor must be at least 2");
        }
        if let (Some(mx), mn) = (self.max_resource, self.min_resource.unwrap_or(1)) {
            if mx < mn {
                return bad("max_resource must be at least min_resource");
            }
        }
        Ok(())
    }

    /// Builds the pruner.
    pub fn build(&self) -> Result<Arc<dyn Pruner>> {
        self.validate()?;
        let eta = self.reduction_factor.unwrap_or(3);
        let min_r = self.min_resource.unwrap_or(1);
        Ok(match self.kind {
            PrunerKind::None => Arc::new(NopPruner),
            PrunerKind::Median | PrunerKind::Percentile => Arc::new(PercentilePruner {
                percentile: if self.kind == PrunerKind::Median {
                    50.0
                } else {
                    self.percentile.unwrap_or(25.0)
                },
                n_startup: self.n_startup_trials.unwrap_or(5),
                n_warmup: self.n_warmup_steps.unwrap_or(0),
                interval: self.interval_steps.unwrap_or(1),
            }),
            PrunerKind::Asha | PrunerKind::Sh => Arc::new(HalvingPruner {
                min_resource: min_r,
                eta,
                rate: self.min_early_stopping_rate.unwrap_or(0),
                bootstrap: self
                    .bootstrap_count
                    .unwrap_or(if self.kind == PrunerKind::Sh { eta as usize } else { 0 }),
                bracket: None,
            }),
            PrunerKind::Hyperband => {
                let max_r = self.max_resource.unwrap_or(100).max(min_r);
                let mut s_max = 0u32;
                while min_r.saturating_mul(eta.saturating_pow(s_max + 1)) <= max_r {
                    s_max += 1;
                }
                let brackets = s_max as u64 + 1;
                Arc::new(HyperbandPruner {
                    brackets: (0..brackets)
                        .map(|s| HalvingPruner {
                            min_resource: min_r,
                            eta,
                            rate: s as u32,
                            bootstrap: self.bootstrap_count.unwrap_or(0),
                            bracket: Some((s, brackets)),
                        })
                        .collect(),
                })
            }
        })
    }
}

impl Default for PrunerConfig {
    fn default() -> Self {
        PrunerConfig::of(PrunerKind::None)
    }
}

/// Deserialises a pruner given as a name or a table.
pub fn de_pruner<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<PrunerConfig>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<PrunerConfig>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a pruner name ({}) or a table with `kind`", PrunerKind::NAMES)
        }
        fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
            PrunerKind::parse(s)
                .map(|k| Some(PrunerConfig::of(k)))
                .map_err(|e| E::custom(e.message))
        }
        fn visit_map<A: MapAccess<'de>>(self, m: A) -> std::result::Result<Self::Value, A::Error> {
            PrunerConfig::deserialize(de::value::MapAccessDeserializer::new(m)).map(Some)
        }
    }
    d.deserialize_any(V)
}

/// Never prunes.
pub struct NopPruner;

impl Pruner for NopPruner {
    fn prune(&self, _: &[Direction], _: &[Arc<FrozenTrial>], _: &FrozenTrial) -> bool {
        false
    }
}

/// Median / percentile pruning.
pub struct PercentilePruner {
    percentile: f64,
    n_startup: usize,
    n_warmup: i64,
    interval: i64,
}

/// The q-th percentile (0..100) with linear interpolation.
fn percentile_of(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] * (1.0 - frac) + sorted[hi.min(sorted.len() - 1)] * frac
}

impl Pruner for PercentilePruner {
    fn prune(&self, directions: &[Direction], trials: &[Arc<FrozenTrial>], trial: &FrozenTrial) -> bool {
        let Some(&direction) = directions.first() else {
            return false;
        };
        if directions.len() != 1 {
            return false;
        }
        let Some((step, _)) = trial.last_intermediate() else {
            return false;
        };
        if step < self.n_warmup || (step - self.n_warmup) % self.interval != 0 {
            return false;
        }
        let complete: Vec<&Arc<FrozenTrial>> = trials
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.number != trial.number)
            .collect();
        if complete.len() < self.n_startup {
            return false;
        }
        let mut at_step: Vec<f64> = complete
            .iter()
            .filter_map(|t| t.intermediate.get(&step).copied())
            .map(|v| direction.to_min(v))
            .filter(|v| v.is_finite())
            .collect();
        if at_step.is_empty() {
            return false;
        }
        at_step.sort_by(|a, b| a.total_cmp(b));
        let best_so_far = trial
            .intermediate
            .range(..=step)
            .map(|(_, v)| direction.to_min(*v))
            .fold(f64::INFINITY, f64::min);
        let threshold = percentile_of(&at_step, self.percentile);
        best_so_far > threshold
    }
}

/// Successive halving (asynchronous, with an optional bootstrap count) over rungs.
pub struct HalvingPruner {
    min_resource: i64,
    eta: i64,
    rate: u32,
    bootstrap: usize,
    /// For Hyperband: (this bracket, number of brackets).
    bracket: Option<(u64, u64)>,
}

impl HalvingPruner {
    fn rung_resource(&self, k: u32) -> i64 {
        self.min_resource
            .saturating_mul(self.eta.saturating_pow(self.rate.saturating_add(k)))
    }

    /// The value a trial had when it reached `resource` (its first report at or after it).
    fn value_at(t: &FrozenTrial, resource: i64) -> Option<f64> {
        t.intermediate.range(resource..).next().map(|(_, v)| *v)
    }
}

impl Pruner for HalvingPruner {
    fn prune(&self, directions: &[Direction], trials: &[Arc<FrozenTrial>], trial: &FrozenTrial) -> bool {
        let Some(&direction) = directions.first() else {
            return false;
        };
        if directions.len() != 1 {
            return false;
        }
        let mut steps = trial.intermediate.keys().rev();
        let Some(&step) = steps.next() else { return false };
        let prev = steps.next().copied().unwrap_or(i64::MIN);
        let Some(&current) = trial.intermediate.get(&step) else {
            return false;
        };
        let current = direction.to_min(current);
        let in_bracket = |t: &FrozenTrial| match self.bracket {
            Some((b, n)) => t.number % n == b,
            None => true,
        };
        // Rungs this report crossed for the first time.
        let mut k = 0u32;
        loop {
            let r = self.rung_resource(k);
            if r > step || k > 64 {
                break;
            }
            if r > prev {
                let mut competing: Vec<f64> = trials
                    .iter()
                    .filter(|t| t.number != trial.number && in_bracket(t))
                    .filter_map(|t| HalvingPruner::value_at(t, r))
                    .map(|v| direction.to_min(v))
                    .filter(|v| v.is_finite())
                    .collect();
                if competing.len() < self.bootstrap {
                    k += 1;
                    continue;
                }
                competing.push(current);
                competing.sort_by(|a, b| a.total_cmp(b));
                let idx = (competing.len() / self.eta.max(1) as usize).saturating_sub(1);
                if current > competing[idx] {
                    return true;
                }
            }
            k += 1;
        }
        false
    }
}

/// Hyperband: several halving brackets.
pub struct HyperbandPruner {
    brackets: Vec<HalvingPruner>,
}

impl Pruner for HyperbandPruner {
    fn prune(&self, directions: &[Direction], trials: &[Arc<FrozenTrial>], trial: &FrozenTrial) -> bool {
        let n = self.brackets.len().max(1) as u64;
        match self.brackets.get((trial.number % n) as usize) {
            Some(b) => b.prune(directions, trials, trial),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: u64, state: TrialState, curve: &[(i64, f64)]) -> Arc<FrozenTrial> {
        let mut t = FrozenTrial::new(number as i64, number, state);
        for (s, v) in curve {
            t.intermediate.insert(*s, *v);
        }
        if state == TrialState::Complete {
            t.values = curve.last().map(|(_, v)| vec![*v]);
        }
        Arc::new(t)
    }

    #[test]
    fn median_prunes_only_worse_than_median_after_startup() {
        let p = PrunerConfig {
            n_startup_trials: Some(3),
            ..PrunerConfig::of(PrunerKind::Median)
        }
        .build()
        .unwrap();
        let dirs = [Direction::Minimize];
        let done: Vec<Arc<FrozenTrial>> = (0..3)
            .map(|i| trial(i, TrialState::Complete, &[(0, 1.0 + i as f64), (1, 0.5 + i as f64)]))
            .collect();
        let bad = trial(9, TrialState::Running, &[(0, 5.0)]);
        let good = trial(9, TrialState::Running, &[(0, 1.5)]);
        assert!(p.prune(&dirs, &done, &bad));
        assert!(!p.prune(&dirs, &done, &good));
        assert!(!p.prune(&dirs, &done[..2], &bad), "startup: 2 < 3 complete trials");
        // Maximising flips the comparison.
        assert!(!p.prune(&[Direction::Maximize], &done, &bad));
        // A step no complete trial reported: no decision.
        let odd = trial(9, TrialState::Running, &[(7, 100.0)]);
        assert!(!p.prune(&dirs, &done, &odd));
    }

    #[test]
    fn asha_keeps_the_top_third_at_each_rung() {
        let p = PrunerConfig::of(PrunerKind::Asha).build().unwrap();
        let dirs = [Direction::Minimize];
        let others: Vec<Arc<FrozenTrial>> = (0..6)
            .map(|i| trial(i, TrialState::Complete, &[(1, i as f64), (3, i as f64)]))
            .collect();
        // 7 values at rung 1 (resource 1): idx = 7/3 - 1 = 1 -> the two best go on.
        assert!(!p.prune(&dirs, &others, &trial(9, TrialState::Running, &[(1, 0.5)])));
        assert!(p.prune(&dirs, &others, &trial(9, TrialState::Running, &[(1, 2.5)])));
        // A report that crosses no new rung decides nothing.
        assert!(!p.prune(&dirs, &others, &trial(9, TrialState::Running, &[(1, 0.5), (2, 99.0)])));
        // SH waits for its bootstrap count.
        let sh = PrunerConfig {
            bootstrap_count: Some(10),
            ..PrunerConfig::of(PrunerKind::Sh)
        }
        .build()
        .unwrap();
        assert!(!sh.prune(&dirs, &others, &trial(9, TrialState::Running, &[(1, 2.5)])));
    }

    #[test]
    fn hyperband_compares_within_a_bracket() {
        let cfg = PrunerConfig {
            max_resource: Some(9),
            ..PrunerConfig::of(PrunerKind::Hyperband)
        };
        let p = cfg.build().unwrap();
        let dirs = [Direction::Minimize];
        // 3 brackets (rates 0, 1, 2); trial 9 is in bracket 0 with trials 0, 3, 6.
        let others: Vec<Arc<FrozenTrial>> = (0..9)
            .map(|i| trial(i, TrialState::Complete, &[(1, if i % 3 == 0 { 0.0 } else { 10.0 })]))
            .collect();
        assert!(p.prune(&dirs, &others, &trial(9, TrialState::Running, &[(1, 5.0)])));
        // Trial 10 (bracket 1, first rung at 3) is not judged at step 1.
        assert!(!p.prune(&dirs, &others, &trial(10, TrialState::Running, &[(1, 50.0)])));
        assert!(PrunerConfig {
            percentile: Some(100.0),
            ..PrunerConfig::of(PrunerKind::Percentile)
        }
        .build()
        .is_err());
    }
}
