//! Studies and define-by-run trials.
//!
//! A [`Study`] ties a storage, its settings (sampler, pruner, optional
//! declared space, seed) and a worker identity together. [`Study::ask`]
//! claims a WAITING trial (a retry or an enqueued point) or creates a new one
//! within the budget, and runs the sampler's joint step; the objective then
//! calls `trial.suggest_*` (define-by-run), `trial.report(step, value)` and
//! `trial.should_prune()`, and [`Study::tell`] records the outcome.
//! [`Study::optimize`] runs that loop on `n_jobs` threads with a heartbeat
//! thread that keeps this process's trials alive and fails (and re-enqueues)
//! the trials of workers that stopped beating.
//!
//! Outcomes are defined for bad input: a value count that does not match the
//! directions is an error and leaves the trial running; a NaN or infinite
//! value records the trial as FAIL (with the reason); telling a finished or
//! unknown trial is INVALID_STATE / RESOURCE_DOES_NOT_EXIST.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{invalid, invalid_state, Result, TuneError};
use crate::pareto::{nondominated_fronts, to_min};
use crate::pruners::{Pruner, PrunerConfig};
use crate::samplers::{SampleContext, Sampler, SamplerConfig, SamplerKind};
use crate::space::{Distribution, ParamDecl, ParamValue, SearchSpace};
use crate::storage::{Storage, StudyCreate, StudyInfo, TrialCreate, FAIL_REASON_ATTR};
use crate::trial::{Direction, FrozenTrial, TrialParam, TrialState};

/// A study's settings as stored with it (every worker builds the same sampler and pruner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudySettings {
    pub sampler: SamplerConfig,
    pub pruner: PrunerConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<BTreeMap<String, ParamDecl>>,
    pub seed: u64,
    /// Names of the objectives (one per direction), used for the child runs' metrics.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// How often workers beat the heart of their running trials.
    pub heartbeat_interval_ms: i64,
    /// A running trial whose heartbeat is older than this is failed and retried.
    pub grace_ms: i64,
}

/// What a new study is made of.
#[derive(Debug, Clone)]
pub struct StudyOptions {
    pub name: String,
    pub directions: Vec<Direction>,
    /// Objective names (default `value`, or `value_0`, `value_1`... for several).
    pub metrics: Vec<String>,
    pub sampler: SamplerConfig,
    pub pruner: PrunerConfig,
    pub space: Option<SearchSpace>,
    /// Seed (default: from the clock, then stored).
    pub seed: Option<u64>,
    /// MLflow experiment for the runs (SQL storage; default: the study name).
    pub experiment: Option<String>,
    pub heartbeat_interval: Duration,
    pub grace: Duration,
}

impl StudyOptions {
    /// Defaults: one direction, auto sampler, no pruner, 5 s heartbeats, 30 s grace.
    pub fn new(name: impl Into<String>, direction: Direction) -> StudyOptions {
        StudyOptions {
            name: name.into(),
            directions: vec![direction],
            metrics: Vec::new(),
            sampler: SamplerConfig::default(),
            pruner: PrunerConfig::default(),
            space: None,
            seed: None,
            experiment: None,
            heartbeat_interval: Duration::from_secs(5),
            grace: Duration::from_secs(30),
        }
    }
}

/// How a trial ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// One value per direction.
    Complete(Vec<f64>),
    /// Stopped by the pruner.
    Pruned,
    /// The objective failed (the reason is stored on the trial).
    Fail(String),
}

/// An objective's values.
#[derive(Debug, Clone, PartialEq)]
pub struct Values(pub Vec<f64>);

impl From<f64> for Values {
    fn from(v: f64) -> Self {
        Values(vec![v])
    }
}
impl From<Vec<f64>> for Values {
    fn from(v: Vec<f64>) -> Self {
        Values(v)
    }
}
impl<const N: usize> From<[f64; N]> for Values {
    fn from(v: [f64; N]) -> Self {
        Values(v.to_vec())
    }
}

/// Why an objective did not return values.
#[derive(Debug, Clone, PartialEq)]
pub enum TrialError {
    /// `should_prune()` said so.
    Pruned,
    /// Any other failure.
    Failed(String),
}

impl std::fmt::Display for TrialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrialError::Pruned => f.write_str("pruned"),
            TrialError::Failed(m) => f.write_str(m),
        }
    }
}

impl From<TuneError> for TrialError {
    fn from(e: TuneError) -> Self {
        TrialError::Failed(e.message)
    }
}

/// What `optimize` runs for each trial. Implemented for closures
/// `Fn(&mut Trial) -> Result<V, TrialError>` with `V: Into<Values>` (`f64`, `Vec<f64>`, `[f64; N]`).
pub trait Objective: Sync {
    fn evaluate(&self, trial: &mut Trial) -> std::result::Result<Values, TrialError>;
}

impl<F, V> Objective for F
where
    F: Fn(&mut Trial) -> std::result::Result<V, TrialError> + Sync,
    V: Into<Values>,
{
    fn evaluate(&self, trial: &mut Trial) -> std::result::Result<Values, TrialError> {
        self(trial).map(Into::into)
    }
}

/// Options of `optimize`.
#[derive(Debug, Clone)]
pub struct OptimizeOptions {
    /// Stop once the study has this many trials (all workers together; retries of lost trials replace them).
    pub n_trials: Option<u64>,
    /// Stop asking for new trials after this long.
    pub timeout: Option<Duration>,
    /// Trials run in parallel in this process.
    pub n_jobs: usize,
}

impl Default for OptimizeOptions {
    fn default() -> Self {
        OptimizeOptions {
            n_trials: Some(100),
            timeout: None,
            n_jobs: 1,
        }
    }
}

/// What `optimize` did in this process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptimizeSummary {
    pub complete: u64,
    pub pruned: u64,
    pub failed: u64,
}

struct Core {
    storage: Arc<dyn Storage>,
    info: StudyInfo,
    settings: StudySettings,
    space: Option<SearchSpace>,
    sampler: Arc<dyn Sampler>,
    pruner: Arc<dyn Pruner>,
    worker: String,
    /// Trial ids this process is running (for heartbeats).
    live: Mutex<BTreeSet<i64>>,
    /// Serialises sampling + creation in this process, so parallel jobs see each other's trials.
    asking: Mutex<()>,
}

/// A study over a storage.
#[derive(Clone)]
pub struct Study {
    core: Arc<Core>,
}

impl std::fmt::Debug for Study {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Study")
            .field("name", &self.core.info.name)
            .field("study_id", &self.core.info.study_id)
            .field("worker", &self.core.worker)
            .finish()
    }
}

impl std::fmt::Debug for Trial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trial").field("number", &self.number()).finish()
    }
}

static WORKER_SEQ: AtomicU64 = AtomicU64::new(0);

fn worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        WORKER_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn default_metric_names(n: usize) -> Vec<String> {
    if n == 1 {
        vec!["value".into()]
    } else {
        (0..n).map(|i| format!("value_{i}")).collect()
    }
}

impl Study {
    /// Creates a study; RESOURCE_ALREADY_EXISTS when the name is taken.
    pub fn create(storage: Arc<dyn Storage>, opts: StudyOptions) -> Result<Study> {
        let settings = Study::settings_of(&opts)?;
        let info = storage.create_study(&StudyCreate {
            name: opts.name.clone(),
            directions: opts.directions.clone(),
            config: serde_json::to_value(&settings).map_err(|e| invalid(e.to_string()))?,
            experiment: opts.experiment.clone(),
        })?;
        Study::from_info(storage, info)
    }

    /// Loads an existing study.
    pub fn load(storage: Arc<dyn Storage>, name: &str) -> Result<Study> {
        let info = storage.get_study(name)?;
        Study::from_info(storage, info)
    }

    /// Loads the study if it exists (its directions must match), else creates it.
    pub fn load_or_create(storage: Arc<dyn Storage>, opts: StudyOptions) -> Result<Study> {
        match storage.get_study(&opts.name) {
            Ok(info) => {
                if info.directions != opts.directions {
                    return Err(invalid(format!(
                        "study '{}' exists with directions {:?}, not {:?}",
                        opts.name,
                        info.directions.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
                        opts.directions.iter().map(|d| d.as_str()).collect::<Vec<_>>()
                    )));
                }
                Study::from_info(storage, info)
            }
            Err(e) if e.code == crate::error::ErrorCode::ResourceDoesNotExist => {
                match Study::create(storage.clone(), opts.clone()) {
                    Ok(s) => Ok(s),
                    // Another worker created it in between.
                    Err(e) if e.code == crate::error::ErrorCode::ResourceAlreadyExists => {
                        Study::load(storage, &opts.name)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    fn settings_of(opts: &StudyOptions) -> Result<StudySettings> {
        if opts.directions.is_empty() {
            return Err(invalid("a study needs at least one direction"));
        }
        if opts.directions.len() > 1 && matches!(opts.sampler.kind, SamplerKind::Gp | SamplerKind::Cmaes) {
            return Err(invalid(format!(
                "the {} sampler optimises one objective; use nsga2, tpe or random for {} directions",
                opts.sampler.kind,
                opts.directions.len()
            )));
        }
        let metrics = if opts.metrics.is_empty() {
            default_metric_names(opts.directions.len())
        } else {
            opts.metrics.clone()
        };
        if metrics.len() != opts.directions.len() {
            return Err(invalid(format!(
                "{} metric names for {} directions: give one name per direction",
                metrics.len(),
                opts.directions.len()
            )));
        }
        opts.sampler.validate()?;
        opts.pruner.validate()?;
        let seed = opts.seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            crate::rng::splitmix64(t ^ u64::from(std::process::id()))
        });
        let ms = |d: Duration| d.as_millis().min(i64::MAX as u128) as i64;
        if opts.heartbeat_interval.is_zero() || opts.grace <= opts.heartbeat_interval {
            return Err(invalid(
                "the heartbeat grace period must be longer than the heartbeat interval",
            ));
        }
        Ok(StudySettings {
            sampler: opts.sampler.clone(),
            pruner: opts.pruner.clone(),
            space: opts.space.as_ref().map(|s| s.to_decls()),
            seed,
            metrics,
            heartbeat_interval_ms: ms(opts.heartbeat_interval),
            grace_ms: ms(opts.grace),
        })
    }

    fn from_info(storage: Arc<dyn Storage>, info: StudyInfo) -> Result<Study> {
        let settings: StudySettings = serde_json::from_value(info.config.clone())
            .map_err(|e| invalid(format!("study '{}' has unreadable settings: {e}", info.name)))?;
        let space = match &settings.space {
            Some(decls) => Some(SearchSpace::from_decls(decls)?),
            None => None,
        };
        let sampler = settings.sampler.build()?;
        let pruner = settings.pruner.build()?;
        Ok(Study {
            core: Arc::new(Core {
                storage,
                info,
                settings,
                space,
                sampler,
                pruner,
                worker: worker_id(),
                live: Mutex::new(BTreeSet::new()),
                asking: Mutex::new(()),
            }),
        })
    }

    /// The study's name.
    pub fn name(&self) -> &str {
        &self.core.info.name
    }
    /// Its directions.
    pub fn directions(&self) -> &[Direction] {
        &self.core.info.directions
    }
    /// The stored record.
    pub fn info(&self) -> &StudyInfo {
        &self.core.info
    }
    /// Its settings.
    pub fn settings(&self) -> &StudySettings {
        &self.core.settings
    }
    /// The declared space, if any.
    pub fn space(&self) -> Option<&SearchSpace> {
        self.core.space.as_ref()
    }
    /// The storage.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.core.storage
    }

    /// Every trial.
    pub fn trials(&self) -> Result<Vec<Arc<FrozenTrial>>> {
        self.core.storage.trials(self.core.info.study_id)
    }

    /// One trial by number.
    pub fn trial(&self, number: u64) -> Result<FrozenTrial> {
        self.core.storage.trial(self.core.info.study_id, number)
    }

    /// The best COMPLETE trial (one objective); None before any.
    pub fn best_trial(&self) -> Result<Option<FrozenTrial>> {
        if self.directions().len() != 1 {
            return Err(invalid(format!(
                "study '{}' has {} objectives: there is no single best trial; ask for the Pareto front",
                self.name(),
                self.directions().len()
            )));
        }
        let d = self.directions()[0];
        Ok(self
            .trials()?
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.value().is_some())
            .min_by(|a, b| {
                d.to_min(a.value().unwrap_or(f64::NAN))
                    .total_cmp(&d.to_min(b.value().unwrap_or(f64::NAN)))
                    .then(a.number.cmp(&b.number))
            })
            .map(|t| (**t).clone()))
    }

    /// The COMPLETE trials on the Pareto front (for one objective: the best trials).
    pub fn best_trials(&self) -> Result<Vec<FrozenTrial>> {
        let trials = self.trials()?;
        let complete: Vec<&Arc<FrozenTrial>> = trials
            .iter()
            .filter(|t| {
                t.state == TrialState::Complete && t.values.as_ref().is_some_and(|v| v.len() == self.directions().len())
            })
            .collect();
        let pts: Vec<Vec<f64>> = complete
            .iter()
            .map(|t| to_min(self.directions(), t.values.as_deref().unwrap_or(&[])))
            .collect();
        let fronts = nondominated_fronts(&pts);
        Ok(fronts
            .first()
            .map(|f| f.iter().map(|&i| (**complete[i]).clone()).collect())
            .unwrap_or_default())
    }

    /// Enqueues a WAITING trial with fixed parameters (checked against the declared space).
    pub fn enqueue(&self, params: &BTreeMap<String, ParamValue>) -> Result<u64> {
        let space = self
            .space()
            .ok_or_else(|| invalid("enqueueing needs a study with a declared search space"))?;
        space.check_assignment(params)?;
        let mut tp = BTreeMap::new();
        for p in &space.params {
            if let Some(v) = params.get(&p.name) {
                tp.insert(
                    p.name.clone(),
                    TrialParam {
                        value: v.clone(),
                        internal: p.distribution.to_internal(v)?,
                        distribution: p.distribution.clone(),
                    },
                );
            }
        }
        let t = self
            .core
            .storage
            .create_trial(
                self.core.info.study_id,
                TrialCreate {
                    state: TrialState::Waiting,
                    params: tp,
                    attrs: BTreeMap::new(),
                    worker: None,
                    budget: None,
                },
            )?
            .ok_or_else(|| invalid_state("the trial could not be enqueued"))?;
        Ok(t.number)
    }

    /// A new trial (no budget). Trials asked here (and by `ask_within` /
    /// `ask_space`) carry no heartbeat and are never reaped: only `optimize`
    /// keeps heartbeats.
    pub fn ask(&self) -> Result<Trial> {
        self.ask_inner(None, false)?
            .ok_or_else(|| invalid_state("no trial could be created"))
    }

    /// A new trial unless the study already has `budget` trials.
    pub fn ask_within(&self, budget: Option<u64>) -> Result<Option<Trial>> {
        self.ask_inner(budget, false)
    }

    /// For ask-and-tell clients: a new trial (within `budget`) with every
    /// parameter of the declared space sampled and stored.
    pub fn ask_space(&self, budget: Option<u64>) -> Result<Option<Trial>> {
        let space = self.space().cloned().ok_or_else(|| {
            invalid(format!(
                "study '{}' has no declared search space to sample",
                self.name()
            ))
        })?;
        let Some(mut trial) = self.ask_inner(budget, false)? else {
            return Ok(None);
        };
        trial.suggest_space(&space)?;
        trial.flush()?;
        Ok(Some(trial))
    }

    fn ask_inner(&self, budget: Option<u64>, beating: bool) -> Result<Option<Trial>> {
        let core = &self.core;
        let sid = core.info.study_id;
        let _asking = lock(&core.asking);
        let mut snapshot = core.storage.trials(sid)?;
        // Claim only when something is waiting (as of this snapshot; a trial
        // enqueued just now is claimed by the next ask).
        let claimed = if snapshot.iter().any(|t| t.state == TrialState::Waiting) {
            let c = core.storage.claim_waiting(sid, &core.worker)?;
            if c.is_some() {
                snapshot = core.storage.trials(sid)?;
            }
            c
        } else {
            None
        };
        let mut relative_params = BTreeMap::new();
        let mut relative_space = BTreeMap::new();
        let frozen = match claimed {
            Some(t) => t,
            None => {
                if let Some(b) = budget {
                    if snapshot.iter().filter(|t| crate::storage::is_budgeted(t)).count() as u64 >= b {
                        return Ok(None);
                    }
                }
                // Joint sampling happens before the trial is stored, so its
                // parameters are written with it (one write, and visible to
                // other workers at once). The number is the next one as seen
                // here; a concurrent worker may take it first, which only
                // changes the seed this sample was drawn with.
                let guess = snapshot.iter().map(|t| t.number + 1).max().unwrap_or(0);
                let ctx = SampleContext {
                    directions: &core.info.directions,
                    trials: &snapshot,
                    number: guess,
                    seed: core.settings.seed,
                };
                let space = core.sampler.relative_space(&ctx, core.space.as_ref());
                let relative = core.sampler.sample_relative(&ctx, &space)?;
                let mut params = BTreeMap::new();
                for (name, x) in &relative.params {
                    if let Some(dist) = space.get(name) {
                        let x = dist.snap(*x);
                        params.insert(
                            name.clone(),
                            TrialParam {
                                value: dist.to_external(x),
                                internal: x,
                                distribution: dist.clone(),
                            },
                        );
                    }
                }
                relative_params = relative.params;
                relative_space = space;
                let created = core.storage.create_trial(
                    sid,
                    TrialCreate {
                        state: TrialState::Running,
                        params,
                        attrs: relative.attrs,
                        // Only trials whose heartbeat a thread keeps can be reaped.
                        worker: beating.then(|| core.worker.clone()),
                        budget,
                    },
                )?;
                let Some(mut t) = created else {
                    return Ok(None);
                };
                if t.number != guess && !relative_params.is_empty() {
                    // Another worker took the number first: sample again as
                    // this number, seeing that worker's trial.
                    snapshot = core.storage.trials(sid)?;
                    let ctx = SampleContext {
                        directions: &core.info.directions,
                        trials: &snapshot,
                        number: t.number,
                        seed: core.settings.seed,
                    };
                    let again = core.sampler.sample_relative(&ctx, &relative_space)?;
                    for (name, x) in &again.params {
                        if let Some(dist) = relative_space.get(name) {
                            let x = dist.snap(*x);
                            t.params.insert(
                                name.clone(),
                                TrialParam {
                                    value: dist.to_external(x),
                                    internal: x,
                                    distribution: dist.clone(),
                                },
                            );
                        }
                    }
                    t.attrs.extend(again.attrs);
                    core.storage.save_trial(sid, &t)?;
                    relative_params = again.params;
                }
                t
            }
        };
        if beating {
            lock(&core.live).insert(frozen.trial_id);
        }
        // Params present at creation but not sampled now were fixed in advance (enqueued, retried).
        let fixed: BTreeSet<String> = frozen
            .params
            .keys()
            .filter(|k| !relative_params.contains_key(*k))
            .cloned()
            .collect();
        let inner = TrialInner {
            frozen,
            relative: relative_params,
            relative_space,
            suggested: BTreeSet::new(),
            fixed,
            snapshot,
            dirty: false,
        };
        Ok(Some(Trial {
            core: self.core.clone(),
            inner: Arc::new(Mutex::new(inner)),
        }))
    }

    /// Records a trial's outcome; returns the trial as stored.
    pub fn tell(&self, trial: &Trial, outcome: Outcome) -> Result<FrozenTrial> {
        let mut inner = lock(&trial.inner);
        let mut t = inner.frozen.clone();
        // Drop joint-sampled parameters the objective never asked for.
        t.params
            .retain(|k, _| inner.suggested.contains(k) || inner.fixed.contains(k));
        self.finish(&mut t, outcome)?;
        inner.frozen = t.clone();
        lock(&self.core.live).remove(&t.trial_id);
        Ok(t)
    }

    /// Records the outcome of trial `number` (ask-and-tell clients).
    pub fn tell_number(&self, number: u64, outcome: Outcome) -> Result<FrozenTrial> {
        let mut t = self.trial(number)?;
        if t.state != TrialState::Running {
            return Err(invalid_state(format!(
                "trial {number} of study '{}' is {}: only a RUNNING trial can be told",
                self.name(),
                t.state
            )));
        }
        self.finish(&mut t, outcome)?;
        Ok(t)
    }

    /// Reports an intermediate value for trial `number` (ask-and-tell); returns whether to prune.
    pub fn report_number(&self, number: u64, step: i64, value: f64) -> Result<bool> {
        let mut t = self.trial(number)?;
        if t.state != TrialState::Running {
            return Err(invalid_state(format!(
                "trial {number} of study '{}' is {}: only a RUNNING trial takes reports",
                self.name(),
                t.state
            )));
        }
        check_report(step, value)?;
        t.intermediate.insert(step, value);
        self.core.storage.save_trial(self.core.info.study_id, &t)?;
        let trials = self.trials()?;
        Ok(self.core.pruner.prune(self.directions(), &trials, &t))
    }

    /// Whether trial `number` should stop, from its stored reports.
    pub fn should_prune_number(&self, number: u64) -> Result<bool> {
        let t = self.trial(number)?;
        if t.state != TrialState::Running {
            return Err(invalid_state(format!("trial {number} is {}, not RUNNING", t.state)));
        }
        let trials = self.trials()?;
        Ok(self.core.pruner.prune(self.directions(), &trials, &t))
    }

    fn finish(&self, t: &mut FrozenTrial, outcome: Outcome) -> Result<()> {
        match outcome {
            Outcome::Complete(values) => {
                if values.len() != self.directions().len() {
                    return Err(invalid(format!(
                        "study '{}' has {} objective(s) but {} value(s) were given",
                        self.name(),
                        self.directions().len(),
                        values.len()
                    )));
                }
                if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
                    t.state = TrialState::Fail;
                    t.values = None;
                    t.attrs.insert(
                        FAIL_REASON_ATTR.into(),
                        serde_json::json!(format!("the objective returned {bad}, which is not a finite number")),
                    );
                } else {
                    t.state = TrialState::Complete;
                    t.values = Some(values);
                }
            }
            Outcome::Pruned => {
                t.state = TrialState::Pruned;
                t.values = None;
            }
            Outcome::Fail(reason) => {
                t.state = TrialState::Fail;
                t.values = None;
                t.attrs.insert(FAIL_REASON_ATTR.into(), serde_json::json!(reason));
            }
        }
        self.core.storage.finish_trial(self.core.info.study_id, t)
    }

    /// Beats the heart of this process's running trials.
    pub fn heartbeat(&self) -> Result<()> {
        let ids: Vec<i64> = lock(&self.core.live).iter().copied().collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.core.storage.heartbeat(self.core.info.study_id, &ids)
    }

    /// Fails trials whose workers stopped beating and enqueues their retries.
    pub fn reap_stale(&self) -> Result<Vec<u64>> {
        self.core
            .storage
            .reap_stale(self.core.info.study_id, self.core.settings.grace_ms)
    }

    /// Whether another worker's trial is WAITING, or RUNNING with a heartbeat
    /// (and so may yet be reaped and retried).
    fn others_pending(&self) -> Result<bool> {
        let live = lock(&self.core.live).clone();
        Ok(self.trials()?.iter().any(|t| {
            t.state == TrialState::Waiting
                || (t.state == TrialState::Running && t.heartbeat_ms.is_some() && !live.contains(&t.trial_id))
        }))
    }

    /// Runs `objective` until the study has `n_trials` trials or `timeout`
    /// passes. With the budget spent, it waits while other workers' trials are
    /// running, so a lost worker's trials are reaped and retried before it returns.
    pub fn optimize(&self, objective: &dyn Objective, opts: &OptimizeOptions) -> Result<OptimizeSummary> {
        if opts.n_trials.is_none() && opts.timeout.is_none() {
            return Err(invalid("give a number of trials or a timeout"));
        }
        let n_jobs = opts.n_jobs.max(1);
        let start = Instant::now();
        let stop = AtomicBool::new(false);
        let wake = (Mutex::new(()), Condvar::new());
        let complete = AtomicU64::new(0);
        let pruned = AtomicU64::new(0);
        let failed = AtomicU64::new(0);
        let first_error: Mutex<Option<TuneError>> = Mutex::new(None);
        self.reap_stale()?;
        std::thread::scope(|scope| {
            let beat = scope.spawn(|| {
                let interval = Duration::from_millis(self.core.settings.heartbeat_interval_ms.max(1) as u64);
                while !stop.load(Ordering::Acquire) {
                    let g = lock(&wake.0);
                    let _ = wake.1.wait_timeout(g, interval);
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    if let Err(e) = self.heartbeat() {
                        tracing::warn!("heartbeat failed: {e}");
                    }
                    match self.reap_stale() {
                        Ok(lost) if !lost.is_empty() => {
                            tracing::warn!(?lost, "trials of a lost worker were failed and re-enqueued")
                        }
                        Err(e) => tracing::warn!("reaping stale trials failed: {e}"),
                        _ => {}
                    }
                }
            });
            let workers: Vec<_> = (0..n_jobs)
                .map(|_| {
                    scope.spawn(|| loop {
                        if opts.timeout.is_some_and(|t| start.elapsed() >= t) || lock(&first_error).is_some() {
                            break;
                        }
                        let trial = match self.ask_inner(opts.n_trials, true) {
                            Ok(Some(t)) => t,
                            Ok(None) => {
                                // The budget is spent, but trials of other workers may
                                // still be running: wait for them, or for the reaper to
                                // re-enqueue them if their worker is gone.
                                match self.others_pending() {
                                    Ok(true) => {
                                        std::thread::sleep(Duration::from_millis(
                                            self.core.settings.heartbeat_interval_ms.clamp(10, 100) as u64,
                                        ));
                                        continue;
                                    }
                                    Ok(false) => break,
                                    Err(e) => {
                                        lock(&first_error).get_or_insert(e);
                                        break;
                                    }
                                }
                            }
                            Err(e) => {
                                lock(&first_error).get_or_insert(e);
                                break;
                            }
                        };
                        let mut t = trial.clone();
                        let result =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| objective.evaluate(&mut t)));
                        let outcome = match result {
                            Ok(Ok(values)) => Outcome::Complete(values.0),
                            Ok(Err(TrialError::Pruned)) => Outcome::Pruned,
                            Ok(Err(TrialError::Failed(m))) => Outcome::Fail(m),
                            Err(p) => Outcome::Fail(format!(
                                "the objective panicked: {}",
                                p.downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                    .unwrap_or_default()
                            )),
                        };
                        match self.tell(&trial, outcome) {
                            Ok(ft) => match ft.state {
                                TrialState::Complete => complete.fetch_add(1, Ordering::Relaxed),
                                TrialState::Pruned => pruned.fetch_add(1, Ordering::Relaxed),
                                _ => failed.fetch_add(1, Ordering::Relaxed),
                            },
                            Err(e) => {
                                // The reaper may have failed a trial that took longer than the grace period.
                                tracing::warn!("trial {} could not be recorded: {e}", trial.number());
                                failed.fetch_add(1, Ordering::Relaxed)
                            }
                        };
                    })
                })
                .collect();
            for w in workers {
                let _ = w.join();
            }
            stop.store(true, Ordering::Release);
            wake.1.notify_all();
            let _ = beat.join();
        });
        if let Some(e) = lock(&first_error).take() {
            return Err(e);
        }
        Ok(OptimizeSummary {
            complete: complete.load(Ordering::Relaxed),
            pruned: pruned.load(Ordering::Relaxed),
            failed: failed.load(Ordering::Relaxed),
        })
    }
}

fn check_report(step: i64, value: f64) -> Result<()> {
    if step < 0 {
        return Err(invalid(format!("a report's step must not be negative, got {step}")));
    }
    if !value.is_finite() {
        return Err(invalid(format!(
            "an intermediate value must be a finite number, got {value} at step {step}"
        )));
    }
    Ok(())
}

struct TrialInner {
    frozen: FrozenTrial,
    relative: BTreeMap<String, f64>,
    relative_space: BTreeMap<String, Distribution>,
    /// Names the objective asked for.
    suggested: BTreeSet<String>,
    /// Names whose values were fixed before the trial started (enqueued trials, retries).
    fixed: BTreeSet<String>,
    snapshot: Vec<Arc<FrozenTrial>>,
    dirty: bool,
}

/// A running trial: define-by-run suggestions, reports and pruning.
/// Cloning is cheap and shares the trial (see [`TrialHandle`]).
#[derive(Clone)]
pub struct Trial {
    core: Arc<Core>,
    inner: Arc<Mutex<TrialInner>>,
}

impl Trial {
    /// The trial's number in its study.
    pub fn number(&self) -> u64 {
        lock(&self.inner).frozen.number
    }

    /// The parameters chosen so far.
    pub fn params(&self) -> BTreeMap<String, ParamValue> {
        let inner = lock(&self.inner);
        inner
            .frozen
            .params
            .iter()
            .filter(|(k, _)| inner.suggested.contains(*k) || inner.fixed.contains(*k))
            .map(|(k, p)| (k.clone(), p.value.clone()))
            .collect()
    }

    /// The trial as it stands.
    pub fn frozen(&self) -> FrozenTrial {
        lock(&self.inner).frozen.clone()
    }

    /// A cheap, `Send` handle for callbacks (report / should_prune).
    pub fn handle(&self) -> TrialHandle {
        TrialHandle(self.clone())
    }

    /// A float in [low, high] (log-uniform when `log`).
    pub fn suggest_float(&mut self, name: &str, low: f64, high: f64, log: bool) -> Result<f64> {
        let v = self.suggest(
            name,
            &Distribution::Float {
                low,
                high,
                log,
                step: None,
            },
        )?;
        Ok(v.as_f64().unwrap_or(low))
    }

    /// A float on the grid low, low + step, ... <= high.
    pub fn suggest_float_step(&mut self, name: &str, low: f64, high: f64, step: f64) -> Result<f64> {
        let v = self.suggest(
            name,
            &Distribution::Float {
                low,
                high,
                log: false,
                step: Some(step),
            },
        )?;
        Ok(v.as_f64().unwrap_or(low))
    }

    /// An integer in [low, high] (log-uniform when `log`).
    pub fn suggest_int(&mut self, name: &str, low: i64, high: i64, log: bool) -> Result<i64> {
        let v = self.suggest(
            name,
            &Distribution::Int {
                low,
                high,
                log,
                step: 1,
            },
        )?;
        Ok(match v {
            ParamValue::Int(i) => i,
            other => other.as_f64().map(|f| f as i64).unwrap_or(low),
        })
    }

    /// An integer on the grid low, low + step, ... <= high.
    pub fn suggest_int_step(&mut self, name: &str, low: i64, high: i64, step: i64) -> Result<i64> {
        let v = self.suggest(
            name,
            &Distribution::Int {
                low,
                high,
                log: false,
                step,
            },
        )?;
        Ok(match v {
            ParamValue::Int(i) => i,
            other => other.as_f64().map(|f| f as i64).unwrap_or(low),
        })
    }

    /// One of `choices`.
    pub fn suggest_categorical<T: Into<ParamValue> + Clone>(
        &mut self,
        name: &str,
        choices: &[T],
    ) -> Result<ParamValue> {
        let choices: Vec<ParamValue> = choices.iter().cloned().map(Into::into).collect();
        self.suggest(name, &Distribution::Categorical { choices })
    }

    /// A value for `name` from `dist` (the same value again if asked twice).
    pub fn suggest(&mut self, name: &str, dist: &Distribution) -> Result<ParamValue> {
        let dist = dist.clone().validated(name)?;
        let core = self.core.clone();
        let mut inner = lock(&self.inner);
        if let Some(p) = inner.frozen.params.get(name) {
            let known = inner.suggested.contains(name);
            let same_kind = std::mem::discriminant(&p.distribution) == std::mem::discriminant(&dist);
            if p.distribution == dist {
                let v = p.value.clone();
                inner.suggested.insert(name.to_string());
                return Ok(v);
            }
            if known && (!same_kind || dist.to_internal(&p.value).is_err()) {
                return Err(invalid(format!(
                    "parameter '{name}' was already suggested in trial {} with another distribution ({:?}), now {:?}",
                    inner.frozen.number, p.distribution, dist
                )));
            }
            if known {
                // Asked again with a compatible range: the same value, as first recorded.
                return Ok(p.value.clone());
            }
            if inner.fixed.contains(name) {
                // An enqueued value must fit the distribution the objective asks with.
                let v = p.value.clone();
                let internal = dist.to_internal(&v).map_err(|e| {
                    invalid(format!(
                        "parameter '{name}': the enqueued value does not fit: {}",
                        e.message
                    ))
                })?;
                inner.frozen.params.insert(
                    name.to_string(),
                    TrialParam {
                        value: v.clone(),
                        internal,
                        distribution: dist,
                    },
                );
                inner.suggested.insert(name.to_string());
                inner.dirty = true;
                return Ok(v);
            }
        }
        let x = if dist.is_single() {
            dist.snap(match &dist {
                Distribution::Float { low, .. } => *low,
                Distribution::Int { low, .. } => *low as f64,
                Distribution::Categorical { .. } => 0.0,
            })
        } else if let (Some(x), Some(d)) = (inner.relative.get(name), inner.relative_space.get(name)) {
            if *d == dist {
                dist.snap(*x)
            } else {
                Trial::independent(&core, &inner, name, &dist)?
            }
        } else {
            Trial::independent(&core, &inner, name, &dist)?
        };
        let value = dist.to_external(x);
        inner.frozen.params.insert(
            name.to_string(),
            TrialParam {
                value: value.clone(),
                internal: dist.snap(x),
                distribution: dist,
            },
        );
        inner.suggested.insert(name.to_string());
        inner.dirty = true;
        Ok(value)
    }

    fn independent(core: &Core, inner: &TrialInner, name: &str, dist: &Distribution) -> Result<f64> {
        let ctx = SampleContext {
            directions: &core.info.directions,
            trials: &inner.snapshot,
            number: inner.frozen.number,
            seed: core.settings.seed,
        };
        let x = core.sampler.sample_independent(&ctx, &inner.frozen, name, dist)?;
        Ok(dist.snap(x))
    }

    /// Suggests every active parameter of a declared space, in order.
    pub fn suggest_space(&mut self, space: &SearchSpace) -> Result<BTreeMap<String, ParamValue>> {
        let mut chosen = BTreeMap::new();
        for p in &space.params {
            if SearchSpace::is_active(p, &chosen) {
                let v = self.suggest(&p.name, &p.distribution)?;
                chosen.insert(p.name.clone(), v);
            }
        }
        Ok(chosen)
    }

    /// Records an intermediate value (stored at once, so pruners elsewhere see it).
    pub fn report(&self, step: i64, value: f64) -> Result<()> {
        check_report(step, value)?;
        {
            let mut inner = lock(&self.inner);
            if inner.frozen.state != TrialState::Running {
                return Err(invalid_state(format!(
                    "trial {} is {}",
                    inner.frozen.number, inner.frozen.state
                )));
            }
            inner.frozen.intermediate.insert(step, value);
            inner.dirty = true;
        }
        self.flush()
    }

    /// Whether the study's pruner says this trial should stop now.
    pub fn should_prune(&self) -> Result<bool> {
        self.flush()?;
        let trials = self.core.storage.trials(self.core.info.study_id)?;
        let inner = lock(&self.inner);
        Ok(self
            .core
            .pruner
            .prune(&self.core.info.directions, &trials, &inner.frozen))
    }

    /// Sets a user attribute on the trial.
    pub fn set_attr(&self, key: &str, value: serde_json::Value) -> Result<()> {
        let mut inner = lock(&self.inner);
        inner.frozen.attrs.insert(format!("user:{key}"), value);
        inner.dirty = true;
        Ok(())
    }

    /// Writes pending changes to the storage.
    pub fn flush(&self) -> Result<()> {
        let mut inner = lock(&self.inner);
        if !inner.dirty || inner.frozen.state != TrialState::Running {
            return Ok(());
        }
        self.core.storage.save_trial(self.core.info.study_id, &inner.frozen)?;
        inner.dirty = false;
        Ok(())
    }
}

/// A `Send + Sync`, cheaply cloned handle on a running trial for callbacks:
/// report intermediate values and ask whether to stop.
#[derive(Clone)]
pub struct TrialHandle(Trial);

impl TrialHandle {
    /// The trial's number.
    pub fn number(&self) -> u64 {
        self.0.number()
    }
    /// See [`Trial::report`].
    pub fn report(&self, step: i64, value: f64) -> Result<()> {
        self.0.report(step, value)
    }
    /// See [`Trial::should_prune`].
    pub fn should_prune(&self) -> Result<bool> {
        self.0.should_prune()
    }
    /// The parameters chosen so far.
    pub fn params(&self) -> BTreeMap<String, ParamValue> {
        self.0.params()
    }
}
