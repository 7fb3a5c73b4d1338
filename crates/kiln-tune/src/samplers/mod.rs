//! Samplers: small strategies that pick the next parameters from the history
//! of a study. A sampler may sample *jointly* at the start of a trial over a
//! "relative" space (the declared space's unconditional parameters, or the
//! intersection of the distributions of finished trials), and samples any
//! other parameter *independently* when the objective asks for it.
//!
//! Every sampler is deterministic given the study seed, the trial number and
//! the trials it sees, so a study is reproducible for a given trial order.

mod cmaes;
mod gp;
mod grid;
mod nsga2;
mod random;
mod sobol;
mod tpe;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use cmaes::CmaEsSampler;
pub use gp::{Acquisition, GpSampler};
pub use grid::GridSampler;
pub use nsga2::Nsga2Sampler;
pub use random::RandomSampler;
pub use sobol::{sobol_point, SobolSampler, SOBOL_MAX_DIMS};
pub use tpe::TpeSampler;

use crate::error::{invalid, Result};
use crate::rng::{hash_str, mix, Rng};
use crate::space::{Distribution, ParamValue, SearchSpace};
use crate::trial::{Direction, FrozenTrial, TrialState};

/// What a sampler sees when it samples for one trial.
pub struct SampleContext<'a> {
    pub directions: &'a [Direction],
    /// Every trial of the study (the one being sampled included, as RUNNING).
    pub trials: &'a [Arc<FrozenTrial>],
    /// The number of the trial being sampled.
    pub number: u64,
    /// The study seed.
    pub seed: u64,
}

impl SampleContext<'_> {
    /// A generator for this trial and purpose.
    pub fn rng(&self, purpose: &str) -> Rng {
        Rng::new(mix(&[self.seed, self.number, hash_str(purpose)]))
    }

    /// The finished trials with values (COMPLETE), in number order.
    pub fn complete(&self) -> impl Iterator<Item = &Arc<FrozenTrial>> {
        self.trials
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.values.is_some())
    }

    /// Whether the study has one objective.
    pub fn single_objective(&self) -> bool {
        self.directions.len() == 1
    }
}

/// The outcome of joint sampling: internal values and attributes to store on the trial.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Relative {
    pub params: BTreeMap<String, f64>,
    pub attrs: BTreeMap<String, serde_json::Value>,
}

/// A sampling strategy.
pub trait Sampler: Send + Sync {
    /// Short name for messages.
    fn name(&self) -> &'static str;

    /// The space to sample jointly; the default is the declared space's
    /// unconditional parameters, else the intersection of finished trials' spaces.
    fn relative_space(&self, ctx: &SampleContext, declared: Option<&SearchSpace>) -> BTreeMap<String, Distribution> {
        default_relative_space(ctx, declared)
    }

    /// Joint sampling at the start of a trial (empty for independent samplers).
    fn sample_relative(&self, _ctx: &SampleContext, _space: &BTreeMap<String, Distribution>) -> Result<Relative> {
        Ok(Relative::default())
    }

    /// Samples one parameter on its own; returns its internal value.
    fn sample_independent(
        &self,
        ctx: &SampleContext,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> Result<f64>;
}

/// The declared unconditional parameters, else the intersection of the
/// distributions of COMPLETE trials (parameters with one value left out).
pub fn default_relative_space(ctx: &SampleContext, declared: Option<&SearchSpace>) -> BTreeMap<String, Distribution> {
    let mut space = match declared {
        Some(s) if !s.is_empty() => s.unconditional(),
        _ => intersection_space(ctx.trials),
    };
    space.retain(|_, d| !d.is_single());
    space
}

/// Parameters (with identical distributions) present in every COMPLETE trial.
pub fn intersection_space(trials: &[Arc<FrozenTrial>]) -> BTreeMap<String, Distribution> {
    let mut out: Option<BTreeMap<String, Distribution>> = None;
    for t in trials.iter().filter(|t| t.state == TrialState::Complete) {
        match &mut out {
            None => {
                out = Some(
                    t.params
                        .iter()
                        .map(|(k, p)| (k.clone(), p.distribution.clone()))
                        .collect(),
                )
            }
            Some(space) => space.retain(|k, d| t.params.get(k).is_some_and(|p| &p.distribution == d)),
        }
    }
    out.unwrap_or_default()
}

/// Uniform sampling of one distribution (internal value).
pub fn sample_uniform(rng: &mut Rng, dist: &Distribution) -> f64 {
    match dist {
        Distribution::Categorical { choices } => rng.below(choices.len()) as f64,
        _ => dist.from_unit(rng.uniform()),
    }
}

/// The sampler kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SamplerKind {
    /// GP-based Bayesian optimisation for small numeric single-objective
    /// studies, TPE beyond (see `AutoSampler`), NSGA-II for several objectives.
    Auto,
    Random,
    Grid,
    Sobol,
    Tpe,
    Gp,
    Cmaes,
    Nsga2,
}

impl SamplerKind {
    /// Every kind's name.
    pub const NAMES: &'static str = "auto, random, grid, sobol, tpe, gp, cmaes, nsga2";

    /// Parses a kind name.
    pub fn parse(s: &str) -> Result<SamplerKind> {
        serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase()))
            .map_err(|_| invalid(format!("unknown sampler '{s}': expected one of {}", Self::NAMES)))
    }
}

impl fmt::Display for SamplerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        f.write_str(s.as_deref().unwrap_or("?"))
    }
}

/// A sampler and its options, as written in `[tune] sampler = "tpe"` or
/// `sampler = { kind = "gp", n_startup_trials = 8 }` and as stored with a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerConfig {
    pub kind: SamplerKind,
    /// Trials sampled quasi-randomly before the model is used (TPE, GP; default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_startup_trials: Option<usize>,
    /// TPE: model the parameters jointly (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multivariate: Option<bool>,
    /// TPE / GP: treat running trials as pending so parallel workers spread out (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constant_liar: Option<bool>,
    /// TPE: candidates scored per parameter group (default 24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_ei_candidates: Option<usize>,
    /// GP: `ei` (log expected improvement, default) or `ucb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquisition: Option<Acquisition>,
    /// GP with UCB: the exploration weight beta in mean + sqrt(beta) * sd (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// CMA-ES / NSGA-II: population size (CMA-ES default 4 + 3 ln d; NSGA-II default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population_size: Option<usize>,
    /// CMA-ES: initial step size in the unit cube (default 1/6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma0: Option<f64>,
    /// NSGA-II: probability of mutating each parameter (default 1/d).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation_prob: Option<f64>,
    /// NSGA-II: probability of crossover (default 0.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crossover_prob: Option<f64>,
    /// Grid: the values per parameter (default: every int, every choice, `grid_points` floats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<BTreeMap<String, Vec<ParamValue>>>,
    /// Grid: points per float range when `grid` does not list them (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_points: Option<usize>,
}

impl SamplerConfig {
    /// A kind with default options.
    pub fn of(kind: SamplerKind) -> SamplerConfig {
        SamplerConfig {
            kind,
            n_startup_trials: None,
            multivariate: None,
            constant_liar: None,
            n_ei_candidates: None,
            acquisition: None,
            beta: None,
            population_size: None,
            sigma0: None,
            mutation_prob: None,
            crossover_prob: None,
            grid: None,
            grid_points: None,
        }
    }

    /// Parses `name` or `name:key=value,key=value` (the CLI's `--sampler`).
    pub fn parse_cli(s: &str) -> Result<SamplerConfig> {
        let (name, opts) = s.split_once(':').unwrap_or((s, ""));
        let mut table = serde_json::Map::new();
        table.insert(
            "kind".into(),
            serde_json::Value::String(name.trim().to_ascii_lowercase()),
        );
        SamplerKind::parse(name.trim())?;
        for kv in opts.split(',').filter(|x| !x.trim().is_empty()) {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| invalid(format!("sampler option '{kv}': expected key=value")))?;
            let v = v.trim();
            let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
            table.insert(k.trim().to_string(), value);
        }
        serde_json::from_value(serde_json::Value::Object(table)).map_err(|e| invalid(format!("sampler '{s}': {e}")))
    }

    /// Checks option ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(invalid(format!("sampler {}: {what}", self.kind)));
        if self.n_ei_candidates == Some(0) {
            return bad("n_ei_candidates must be at least 1");
        }
        if let Some(p) = self.population_size {
            if p < 2 {
                return bad("population_size must be at least 2");
            }
        }
        if let Some(s) = self.sigma0 {
            if !(s > 0.0 && s.is_finite()) {
                return bad("sigma0 must be a positive number");
            }
        }
        if let Some(b) = self.beta {
            if !(b >= 0.0 && b.is_finite()) {
                return bad("beta must be a non-negative number");
            }
        }
        for (name, p) in [
            ("mutation_prob", self.mutation_prob),
            ("crossover_prob", self.crossover_prob),
        ] {
            if let Some(p) = p {
                if !(0.0..=1.0).contains(&p) {
                    return bad(&format!("{name} must be within [0, 1]"));
                }
            }
        }
        if self.grid_points == Some(0) {
            return bad("grid_points must be at least 1");
        }
        Ok(())
    }

    /// Builds the sampler.
    pub fn build(&self) -> Result<Arc<dyn Sampler>> {
        self.validate()?;
        Ok(match self.kind {
            SamplerKind::Auto => Arc::new(AutoSampler::new(self)),
            SamplerKind::Random => Arc::new(RandomSampler),
            SamplerKind::Grid => Arc::new(GridSampler::new(self)?),
            SamplerKind::Sobol => Arc::new(SobolSampler),
            SamplerKind::Tpe => Arc::new(TpeSampler::new(self)),
            SamplerKind::Gp => Arc::new(GpSampler::new(self)),
            SamplerKind::Cmaes => Arc::new(CmaEsSampler::new(self)),
            SamplerKind::Nsga2 => Arc::new(Nsga2Sampler::new(self)),
        })
    }
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig::of(SamplerKind::Auto)
    }
}

/// Deserialises a sampler given as a name or as a table (for config fields).
pub fn de_sampler<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<SamplerConfig>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<SamplerConfig>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a sampler name ({}) or a table with `kind`", SamplerKind::NAMES)
        }
        fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
            SamplerKind::parse(s)
                .map(|k| Some(SamplerConfig::of(k)))
                .map_err(|e| E::custom(e.message))
        }
        fn visit_map<A: MapAccess<'de>>(self, m: A) -> std::result::Result<Self::Value, A::Error> {
            SamplerConfig::deserialize(de::value::MapAccessDeserializer::new(m)).map(Some)
        }
    }
    d.deserialize_any(V)
}

/// GP while the study is small, numeric and single-objective; TPE beyond;
/// NSGA-II for several objectives.
pub struct AutoSampler {
    gp: GpSampler,
    tpe: TpeSampler,
    nsga2: Nsga2Sampler,
}

/// Above this many COMPLETE trials `auto` moves from GP to TPE (a GP fit is cubic in the trials).
pub const AUTO_GP_MAX_TRIALS: usize = 200;
/// Above this many jointly sampled parameters `auto` uses TPE.
pub const AUTO_GP_MAX_DIMS: usize = 32;

impl AutoSampler {
    /// An auto sampler with shared options.
    pub fn new(cfg: &SamplerConfig) -> AutoSampler {
        AutoSampler {
            gp: GpSampler::new(cfg),
            tpe: TpeSampler::new(cfg),
            nsga2: Nsga2Sampler::new(cfg),
        }
    }

    fn pick(&self, ctx: &SampleContext, space: &BTreeMap<String, Distribution>) -> &dyn Sampler {
        if !ctx.single_objective() {
            return &self.nsga2;
        }
        let numeric = space.values().all(|d| !d.is_categorical());
        if numeric && space.len() <= AUTO_GP_MAX_DIMS && ctx.complete().count() < AUTO_GP_MAX_TRIALS {
            &self.gp
        } else {
            &self.tpe
        }
    }
}

impl Sampler for AutoSampler {
    fn name(&self) -> &'static str {
        "auto"
    }
    fn sample_relative(&self, ctx: &SampleContext, space: &BTreeMap<String, Distribution>) -> Result<Relative> {
        self.pick(ctx, space).sample_relative(ctx, space)
    }
    fn sample_independent(
        &self,
        ctx: &SampleContext,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> Result<f64> {
        if ctx.single_objective() {
            self.tpe.sample_independent(ctx, trial, name, dist)
        } else {
            self.nsga2.sample_independent(ctx, trial, name, dist)
        }
    }
}
