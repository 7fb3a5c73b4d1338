//! `kiln train`: from a loaded config to tracked, evaluated, registered models.
//!
//! 1. Candidates are built from the config (unknown kinds/hyperparameters fail
//!    here), then the data stage reads, checks and splits ([`crate::data`]).
//!    Nothing is written to the store before both succeed.
//! 2. A parent run records the config, seed, data fingerprint, profile and
//!    environment; each candidate gets a child run.
//! 3. Preprocessing is fitted on the training rows only; every candidate is
//!    evaluated on the validation rows (or by k-fold CV over train + valid),
//!    the best by the selection metric wins, and every candidate's test
//!    metrics are reported (the winner was chosen without them).
//! 4. The winner's bundle (preprocessing + model) is registered when the config
//!    names a model. A failure after the parent run exists marks the runs
//!    FAILED with the reason.
//!
//! Threads: LightGBM candidates run one at a time on every core (OpenMP);
//! the light ones (baselines, linear models) run side by side on rayon's pool.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use kiln_data::Matrix;
use kiln_learn::bundle::{ModelBundle, FILE_NAME};
use kiln_learn::ensemble::{StackingLearner, VotingModel};
use kiln_learn::{Callbacks, History, Learner, Model, Predictions, Task, TrainSet};
use kiln_prep::{FittedPipeline, TargetKind};
use kiln_store::{Dataset, Metric, Tag};
use rayon::prelude::*;

use crate::candidates::{self, Candidate, EnsembleSpec};
use crate::config::LoadedConfig;
use crate::data::{self, Prepared};
use crate::evaluate;
use crate::plots;
use crate::tracking::{RegisteredVersion, RunStatus, Tracker};

/// Where `kiln train` reports progress (the CLI draws bars from it).
pub trait Progress: Send + Sync {
    fn stage(&self, _name: &str) {}
    fn candidate_started(&self, _name: &str, _iterations: Option<usize>) {}
    fn candidate_iteration(&self, _name: &str, _iteration: usize) {}
    fn candidate_finished(&self, _name: &str, _line: &str) {}
}

/// No progress output.
pub struct Quiet;
impl Progress for Quiet {}

/// Overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub tracking_uri: Option<String>,
    pub artifacts: Option<String>,
    pub experiment: Option<String>,
}

/// One row of the leaderboard.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub name: String,
    pub kind: String,
    pub baseline: bool,
    pub run_id: String,
    /// Every metric on the validation rows (CV: the mean over folds).
    pub valid: Vec<(String, f64)>,
    /// CV: the standard deviation over folds of each metric.
    pub valid_std: Vec<(String, f64)>,
    pub test: Vec<(String, f64)>,
    pub fit_seconds: f64,
    /// Prediction latency per row on a batch, microseconds.
    pub predict_us_per_row: f64,
    pub model_bytes: usize,
    pub iterations: Option<usize>,
    /// Why it failed, when it did (it then has no metrics).
    pub error: Option<String>,
}

impl Entry {
    pub fn valid_metric(&self, name: &str) -> Option<f64> {
        self.valid.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
    pub fn test_metric(&self, name: &str) -> Option<f64> {
        self.test.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
}

/// What `kiln train` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub experiment: String,
    pub experiment_id: String,
    pub parent_run_id: String,
    pub task: String,
    pub target: String,
    pub metric: String,
    pub higher_is_better: bool,
    pub cross_validated: bool,
    pub rows: usize,
    pub train_rows: usize,
    pub valid_rows: usize,
    pub test_rows: usize,
    pub features_in: usize,
    pub features_out: usize,
    pub fingerprint: String,
    pub duplicates_removed: usize,
    pub quarantined: usize,
    /// Sorted best first by the selection metric (failed candidates last).
    pub entries: Vec<Entry>,
    pub registered: Option<(String, String)>,
    pub alias: Option<String>,
    /// Seconds per stage.
    pub stages: Vec<(String, f64)>,
    pub tracking: String,
}

impl Report {
    pub fn winner(&self) -> Option<&Entry> {
        self.entries.first().filter(|e| e.error.is_none())
    }
}

/// A fitted candidate, kept for ensembles and the final bundle.
struct Fitted {
    model: Arc<dyn Model>,
    entry: Entry,
}

/// The matrices of one evaluation round.
pub(crate) struct RoundData {
    pub(crate) prep: FittedPipeline,
    pub(crate) x_train: Matrix,
    pub(crate) y_train: Vec<f64>,
    pub(crate) w_train: Option<Vec<f32>>,
    pub(crate) x_valid: Matrix,
    pub(crate) y_valid: Vec<f64>,
    pub(crate) w_valid: Option<Vec<f32>>,
}

fn target_kind(task: Task) -> TargetKind {
    match task {
        Task::Binary => TargetKind::Binary,
        Task::Multiclass { n_classes } => TargetKind::Multiclass(n_classes),
        Task::Regression => TargetKind::Regression,
    }
}

fn pick<T: Copy>(v: &[T], rows: &[usize]) -> Vec<T> {
    rows.iter().map(|&i| v[i]).collect()
}

/// Fits the preprocessing on `train` rows and transforms them and the `valid` rows.
pub(crate) fn round_data(cfg: &LoadedConfig, p: &Prepared, train: &[usize], valid: &[usize]) -> Result<RoundData> {
    let y_train = pick(&p.y, train);
    let (prep, x_train) = kiln_prep::fit(
        &cfg.config.prep,
        &p.table,
        &p.features,
        Some(train),
        Some(&y_train),
        target_kind(p.task),
        cfg.config.seed,
    )
    .map_err(|e| anyhow!("preprocessing: {e}"))?;
    let x_valid = prep
        .transform(&p.table, Some(valid))
        .map_err(|e| anyhow!("preprocessing the validation rows: {e}"))?;
    Ok(RoundData {
        prep,
        x_train,
        y_train,
        w_train: p.weight.as_ref().map(|w| pick(w, train)),
        x_valid,
        y_valid: pick(&p.y, valid),
        w_valid: p.weight.as_ref().map(|w| pick(w, valid)),
    })
}

pub(crate) fn f64_weights(w: &Option<Vec<f32>>) -> Option<Vec<f64>> {
    w.as_ref().map(|w| w.iter().map(|&v| v as f64).collect())
}

/// Seconds per row to predict `x` (median of a few passes for small inputs).
fn predict_timed(model: &dyn Model, x: &Matrix) -> Result<(Predictions, f64)> {
    let t = Instant::now();
    let p = model.predict(x).map_err(|e| anyhow!("predicting: {e}"))?;
    let mut best = t.elapsed().as_secs_f64();
    if x.n_rows() > 0 && x.n_rows() < 20_000 {
        for _ in 0..2 {
            let t = Instant::now();
            model.predict(x).map_err(|e| anyhow!("predicting: {e}"))?;
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    Ok((p, best / x.n_rows().max(1) as f64))
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| s.len() == 40)
}

fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Flattens the config into `section.key` params for the parent run.
fn config_params(cfg: &LoadedConfig) -> Vec<Tag> {
    let mut out = Vec::new();
    if let Ok(toml::Value::Table(t)) = toml::from_str::<toml::Value>(&cfg.text) {
        fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<Tag>) {
            match v {
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        let key = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&key, v, out);
                    }
                }
                toml::Value::Array(a) if a.iter().all(|x| x.is_table()) => {
                    for (i, x) in a.iter().enumerate() {
                        walk(&format!("{prefix}.{i}"), x, out);
                    }
                }
                other => {
                    let s = match other {
                        toml::Value::String(s) => s.clone(),
                        o => o.to_string(),
                    };
                    out.push(Tag::new(prefix, s.chars().take(6000).collect::<String>()));
                }
            }
        }
        walk("", &toml::Value::Table(t), &mut out);
    }
    out
}

/// MLflow's dataset schema shape (`mlflow_colspec`), from the table's columns.
fn mlflow_schema(p: &Prepared) -> String {
    let cols: Vec<serde_json::Value> = p
        .table
        .schema()
        .fields()
        .iter()
        .map(|f| {
            use kiln_data::arrow::datatypes::DataType as D;
            let t = match f.data_type() {
                D::Boolean => "boolean",
                D::Int8 | D::Int16 | D::Int32 | D::UInt8 | D::UInt16 => "integer",
                D::Int64 | D::UInt32 | D::UInt64 => "long",
                D::Float16 | D::Float32 => "float",
                D::Float64 => "double",
                D::Date32 | D::Date64 | D::Timestamp(_, _) => "datetime",
                D::Binary | D::LargeBinary => "binary",
                _ => "string",
            };
            serde_json::json!({"type": t, "name": f.name(), "required": !f.is_nullable()})
        })
        .collect();
    serde_json::json!({ "mlflow_colspec": cols }).to_string()
}

struct Ctx<'a> {
    cfg: &'a LoadedConfig,
    tracker: &'a dyn Tracker,
    progress: &'a dyn Progress,
    experiment_id: String,
    parent: String,
    metric: String,
    higher: bool,
}

impl Ctx<'_> {
    fn better(&self, a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (a, b) {
            (Some(x), Some(y)) => {
                if self.higher {
                    y.total_cmp(&x)
                } else {
                    x.total_cmp(&y)
                }
            }
            (Some(_), None) => Less,
            (None, Some(_)) => Greater,
            (None, None) => Equal,
        }
    }
}

/// Trains everything a config asks for, tracked by `tracker`.
pub fn train(cfg: &LoadedConfig, tracker: &dyn Tracker, opts: &Options, progress: &dyn Progress) -> Result<Report> {
    let t_all = Instant::now();
    // Learners first: a typo in a hyperparameter fails before any data is read.
    let classification_hint = !matches!(cfg.config.data.task, crate::config::TaskName::Regression);
    candidates::build(cfg, classification_hint)?;
    progress.stage("reading data");
    let prepared = data::prepare(cfg)?;
    let task = prepared.task;
    let cands = candidates::build(cfg, task.is_classification())?;
    let metric = cfg
        .config
        .select
        .metric
        .clone()
        .unwrap_or_else(|| evaluate::default_metric(task).to_string());
    let higher = evaluate::selection_direction(&metric, task).map_err(|e| anyhow!("{}: [select] {e}", cfg.path))?;
    for c in &cands {
        if let Some(l) = &c.learner {
            let needs_valid = l.params().get("early_stopping").is_some_and(|v| v != "off");
            if needs_valid && prepared.splits.valid.is_empty() && prepared.splits.folds.is_none() {
                bail!(
                    "{}: model '{}' uses early_stopping, which needs validation rows: set [split] valid > 0 or folds",
                    cfg.path,
                    c.name
                );
            }
        }
    }
    if prepared.splits.valid.is_empty() && prepared.splits.folds.is_none() && cands.len() > 1 {
        bail!(
            "{}: [split] valid = 0 and no folds: {} candidates cannot be compared (set valid > 0 or folds = k, or train one model with baselines = false)",
            cfg.path,
            cands.len()
        );
    }

    let experiment = opts
        .experiment
        .clone()
        .or_else(|| cfg.config.track.experiment.clone())
        .unwrap_or_else(|| "Default".into());
    let experiment_id = tracker.experiment(&experiment)?;
    let run_name = cfg.config.track.run_name.clone().unwrap_or_else(|| {
        std::path::Path::new(&cfg.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "kiln-train".into())
    });
    let config_hash = blake3::hash(cfg.text.as_bytes()).to_hex().to_string();
    let mut tags = vec![
        Tag::new("kiln.version", env!("CARGO_PKG_VERSION")),
        Tag::new("kiln.config_hash", config_hash.clone()),
        Tag::new("kiln.seed", cfg.config.seed.to_string()),
        Tag::new("kiln.host", host()),
        Tag::new("kiln.task", task.name()),
        Tag::new("kiln.target", prepared.target.clone()),
        Tag::new("kiln.data.fingerprint", prepared.fingerprint.clone()),
        Tag::new("kiln.role", "train"),
        Tag::new("mlflow.source.type", "LOCAL"),
        Tag::new("mlflow.source.name", format!("kiln train {}", cfg.path)),
    ];
    if let Some(c) = git_commit() {
        tags.push(Tag::new("mlflow.source.git.commit", c));
    }
    let parent = tracker.start_run(&experiment_id, &run_name, None, &tags)?;
    let ctx = Ctx {
        cfg,
        tracker,
        progress,
        experiment_id: experiment_id.clone(),
        parent: parent.clone(),
        metric: metric.clone(),
        higher,
    };
    match run_parent(&ctx, prepared, cands, t_all) {
        Ok(mut report) => {
            report.experiment = experiment;
            tracker.end_run(&parent, RunStatus::Finished)?;
            Ok(report)
        }
        Err(e) => {
            let reason = format!("{e:#}");
            let _ = tracker.log_batch(
                &parent,
                &[],
                &[],
                &[
                    Tag::new("kiln.error", reason.chars().take(5000).collect::<String>()),
                    Tag::new(
                        "mlflow.note.content",
                        format!("Failed: {}", reason.chars().take(4000).collect::<String>()),
                    ),
                ],
            );
            let _ = tracker.end_run(&parent, RunStatus::Failed);
            Err(e)
        }
    }
}

fn run_parent(ctx: &Ctx<'_>, mut prepared: Prepared, cands: Vec<Candidate>, t_all: Instant) -> Result<Report> {
    let p = &prepared;
    let t = ctx.tracker;
    let mut stages: Vec<(String, f64)> = p.timings.clone();
    let t_log = Instant::now();
    let mut params = config_params(ctx.cfg);
    params.push(Tag::new("rows", p.rows.to_string()));
    params.push(Tag::new("features", p.features.len().to_string()));
    t.log_batch(&ctx.parent, &[], &params, &[])?;
    let name = std::path::Path::new(&ctx.cfg.config.data.source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    t.log_dataset(
        &ctx.parent,
        Dataset {
            name,
            digest: p.fingerprint[..16].to_string(),
            source_type: "local".into(),
            source: serde_json::json!({"uri": data::resolve(ctx.cfg, &ctx.cfg.config.data.source), "files": p.files.len()}).to_string(),
            schema: Some(mlflow_schema(p)),
            profile: Some(
                serde_json::json!({"num_rows": p.rows, "num_elements": p.rows * p.table.num_columns(), "fingerprint": p.fingerprint})
                    .to_string(),
            ),
        },
        "training",
    )?;
    let cfg_name = std::path::Path::new(&ctx.cfg.path)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kiln.toml".into());
    t.log_artifact(
        &ctx.parent,
        &format!("config/{cfg_name}"),
        ctx.cfg.text.clone().into_bytes(),
    )?;
    t.log_artifact(&ctx.parent, "data/profile.json", p.profile_json.clone().into_bytes())?;
    let mut log_seconds = t_log.elapsed().as_secs_f64();

    // Evaluation rounds: one holdout round, or k folds.
    let s = &p.splits;
    let folds = s.folds.clone();
    ctx.progress.stage("preprocessing");
    let t_prep = Instant::now();
    let (final_train, final_valid): (Vec<usize>, Vec<usize>) = match &folds {
        None => (s.train.clone(), s.valid.clone()),
        Some(_) => (s.train.iter().chain(&s.valid).copied().collect(), Vec::new()),
    };
    let main = round_data(ctx.cfg, p, &final_train, &final_valid)?;
    let x_test = main
        .prep
        .transform(&p.table, Some(&s.test))
        .map_err(|e| anyhow!("preprocessing the test rows: {e}"))?;
    let y_test = pick(&p.y, &s.test);
    let w_test = f64_weights(&p.weight.as_ref().map(|w| pick(w, &s.test)));
    stages.push(("preprocess".into(), t_prep.elapsed().as_secs_f64()));
    data::release_free_memory();
    data::log_memory("preprocess");

    // CV scores first (each fold fits its own preprocessing).
    let mut cv: BTreeMap<String, Vec<Vec<(String, f64)>>> = BTreeMap::new();
    // Best iterations per fold (early stopping), for the final refit's rounds.
    let mut fold_iters: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    if let Some(folds) = &folds {
        ctx.progress.stage("cross-validating");
        for (k, (fit_rows, held)) in folds.iter().enumerate() {
            let rd = round_data(ctx.cfg, p, fit_rows, held)?;
            let mut fold_models: BTreeMap<String, Arc<dyn Model>> = BTreeMap::new();
            for c in &cands {
                let model: Result<Arc<dyn Model>> = match (&c.learner, &c.ensemble) {
                    (Some(l), _) => fit_one(l.as_ref(), p.task, &rd, &mut Callbacks::new()).map(Arc::from),
                    (None, Some(spec)) => ensemble_model(ctx, p, spec, &fold_models, &rd).map(Arc::from),
                    (None, None) => Err(anyhow!("candidate '{}' has nothing to fit", c.name)),
                };
                match model {
                    Ok(m) => {
                        let pred = m.predict(&rd.x_valid).map_err(|e| anyhow!("fold {}: {e}", k + 1))?;
                        let m_valid =
                            evaluate::evaluate(p.task, &rd.y_valid, &pred, f64_weights(&rd.w_valid).as_deref());
                        cv.entry(c.name.clone()).or_default().push(m_valid);
                        fold_iters.entry(c.name.clone()).or_default().extend(m.iterations());
                        fold_models.insert(c.name.clone(), m);
                    }
                    Err(e) => {
                        ctx.progress
                            .candidate_finished(&c.name, &format!("fold {} failed: {e:#}", k + 1));
                    }
                }
            }
        }
    }

    // From here on only the test rows of the table are needed (error
    // analysis): free the rest before the models take their memory.
    prepared
        .keep_test_rows(ctx.cfg.config.seed)
        .map_err(|e| anyhow!("{e}"))?;
    data::release_free_memory();
    let p = &prepared;
    let s = &p.splits;
    data::log_memory("trimmed");

    // Final fits: every candidate on the training rows, one child run each.
    ctx.progress.stage("training");
    let t_train = Instant::now();
    let (light, heavy): (Vec<&Candidate>, Vec<&Candidate>) =
        cands.iter().filter(|c| c.learner.is_some()).partition(|c| !c.heavy);
    let mut fitted: BTreeMap<String, Fitted> = BTreeMap::new();
    let mut failed: Vec<Entry> = Vec::new();
    let light_results: Vec<(String, Result<Fitted>)> = light
        .par_iter()
        .map(|c| {
            (
                c.name.clone(),
                train_candidate(
                    ctx,
                    p,
                    c,
                    &main,
                    &x_test,
                    &y_test,
                    w_test.as_deref(),
                    cv.get(&c.name),
                    fold_iters.get(&c.name),
                ),
            )
        })
        .collect();
    let mut results = light_results;
    for c in heavy {
        results.push((
            c.name.clone(),
            train_candidate(
                ctx,
                p,
                c,
                &main,
                &x_test,
                &y_test,
                w_test.as_deref(),
                cv.get(&c.name),
                fold_iters.get(&c.name),
            ),
        ));
    }
    for c in cands.iter().filter(|c| c.ensemble.is_some()) {
        let members: BTreeMap<String, Arc<dyn Model>> = fitted_models(&fitted, &results);
        results.push((
            c.name.clone(),
            train_ensemble(
                ctx,
                p,
                c,
                &members,
                &main,
                &x_test,
                &y_test,
                w_test.as_deref(),
                cv.get(&c.name),
            ),
        ));
    }
    for (name, r) in results {
        match r {
            Ok(f) => {
                fitted.insert(name, f);
            }
            Err(e) => {
                let kind = cands
                    .iter()
                    .find(|c| c.name == name)
                    .map(|c| c.kind.clone())
                    .unwrap_or_default();
                failed.push(Entry {
                    name,
                    kind,
                    baseline: false,
                    run_id: String::new(),
                    valid: Vec::new(),
                    valid_std: Vec::new(),
                    test: Vec::new(),
                    fit_seconds: 0.0,
                    predict_us_per_row: 0.0,
                    model_bytes: 0,
                    iterations: None,
                    error: Some(format!("{e:#}")),
                });
            }
        }
    }
    stages.push(("train+evaluate".into(), t_train.elapsed().as_secs_f64()));
    data::log_memory("train+evaluate");

    // The leaderboard: best first by the selection metric on validation.
    let mut entries: Vec<Entry> = fitted.values().map(|f| f.entry.clone()).collect();
    entries.sort_by(|a, b| {
        ctx.better(a.valid_metric(&ctx.metric), b.valid_metric(&ctx.metric))
            .then_with(|| a.baseline.cmp(&b.baseline))
            .then_with(|| a.name.cmp(&b.name))
    });
    entries.extend(failed);
    let single = entries.len() == 1;
    if entries
        .first()
        .is_none_or(|e| e.error.is_some() || (!single && e.valid_metric(&ctx.metric).is_none()))
    {
        let reasons: Vec<String> = entries
            .iter()
            .filter_map(|e| e.error.as_ref().map(|r| format!("{}: {r}", e.name)))
            .collect();
        bail!(
            "no candidate could be evaluated on '{}': {}",
            ctx.metric,
            reasons.join("; ")
        );
    }

    let t_reg = Instant::now();
    let winner = entries[0].clone();
    let mut summary: Vec<Metric> = winner
        .valid_metric(&ctx.metric)
        .map(|v| Metric::new(format!("best_valid_{}", ctx.metric), v, kiln_store::now_ms(), 0))
        .into_iter()
        .collect();
    for (k, v) in &winner.test {
        summary.push(Metric::new(format!("best_test_{k}"), *v, kiln_store::now_ms(), 0));
    }
    let board = serde_json::to_vec_pretty(&entries)?;
    t.log_batch(
        &ctx.parent,
        &summary,
        &[],
        &[
            Tag::new("kiln.winner", winner.name.clone()),
            Tag::new("kiln.winner_run_id", winner.run_id.clone()),
        ],
    )?;
    t.log_artifact(&ctx.parent, "leaderboard.json", board)?;
    let mut registered = None;
    let mut alias = None;
    if let Some(model_name) = &ctx.cfg.config.track.register {
        let desc = format!(
            "{} on '{}' ({} {}: valid {:.4}, test {}) from kiln train {}",
            winner.name,
            p.target,
            p.task.name(),
            ctx.metric,
            winner.valid_metric(&ctx.metric).unwrap_or(f64::NAN),
            winner
                .test_metric(&ctx.metric)
                .map_or_else(|| "n/a".to_string(), |v| format!("{v:.4}")),
            ctx.cfg.path
        );
        let mut vtags: Vec<Tag> = winner
            .valid
            .iter()
            .map(|(k, v)| Tag::new(format!("valid_{k}"), v.to_string()))
            .chain(
                winner
                    .test
                    .iter()
                    .map(|(k, v)| Tag::new(format!("test_{k}"), v.to_string())),
            )
            .collect();
        vtags.push(Tag::new("kiln.data.fingerprint", p.fingerprint.clone()));
        vtags.push(Tag::new("kiln.model.kind", winner.kind.clone()));
        let v: RegisteredVersion = t.register(model_name, &winner.run_id, "model", &desc, &vtags)?;
        if let Some(a) = &ctx.cfg.config.track.alias {
            t.set_alias(model_name, a, &v.version)?;
            alias = Some(a.clone());
        }
        t.log_batch(
            &ctx.parent,
            &[],
            &[],
            &[Tag::new("kiln.registered", format!("{}/{}", v.name, v.version))],
        )?;
        registered = Some((v.name, v.version));
    }
    log_seconds += t_reg.elapsed().as_secs_f64();
    stages.push(("log+register".into(), log_seconds));
    stages.push(("total".into(), t_all.elapsed().as_secs_f64()));
    let stage_metrics: Vec<Metric> = stages
        .iter()
        .map(|(k, v)| Metric::new(format!("time_{}_s", k.replace('+', "_")), *v, kiln_store::now_ms(), 0))
        .collect();
    t.log_batch(&ctx.parent, &stage_metrics, &[], &[])?;
    Ok(Report {
        experiment: String::new(),
        experiment_id: ctx.experiment_id.clone(),
        parent_run_id: ctx.parent.clone(),
        task: p.task.name().into(),
        target: p.target.clone(),
        metric: ctx.metric.clone(),
        higher_is_better: ctx.higher,
        cross_validated: folds.is_some(),
        rows: p.rows,
        train_rows: final_train.len(),
        valid_rows: if folds.is_some() { 0 } else { s.valid.len() },
        test_rows: s.test.len(),
        features_in: p.features.len(),
        features_out: main.prep.feature_names().len(),
        fingerprint: p.fingerprint.clone(),
        duplicates_removed: p.duplicates_removed,
        quarantined: p.quarantined,
        entries,
        registered,
        alias,
        stages,
        tracking: t.describe(),
    })
}

fn fitted_models(
    fitted: &BTreeMap<String, Fitted>,
    results: &[(String, Result<Fitted>)],
) -> BTreeMap<String, Arc<dyn Model>> {
    let mut m: BTreeMap<String, Arc<dyn Model>> = fitted.iter().map(|(k, f)| (k.clone(), f.model.clone())).collect();
    for (k, r) in results {
        if let Ok(f) = r {
            m.insert(k.clone(), f.model.clone());
        }
    }
    m
}

fn fit_one(l: &dyn Learner, task: Task, rd: &RoundData, cbs: &mut Callbacks) -> Result<Box<dyn Model>> {
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
    let has_valid = rd.x_valid.n_rows() > 0;
    l.fit(task, &train, has_valid.then_some(&valid), cbs)
        .map_err(|e| anyhow!("{e}"))
}

fn ensemble_model(
    ctx: &Ctx<'_>,
    p: &Prepared,
    spec: &EnsembleSpec,
    members: &BTreeMap<String, Arc<dyn Model>>,
    rd: &RoundData,
) -> Result<Box<dyn Model>> {
    match spec {
        EnsembleSpec::Voting {
            members: names,
            weights,
        } => {
            let ms = names
                .iter()
                .map(|n| {
                    members
                        .get(n)
                        .cloned()
                        .ok_or_else(|| anyhow!("member '{n}' did not train"))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Box::new(
                VotingModel::new(ms, weights.clone()).map_err(|e| anyhow!("{e}"))?,
            ))
        }
        EnsembleSpec::Stacking {
            members: names,
            meta,
            folds,
        } => {
            let learners = names
                .iter()
                .map(|n| {
                    let i = ctx
                        .cfg
                        .models
                        .iter()
                        .position(|m| m.params.get("name").and_then(|v| v.as_str()) == Some(n) || (&m.kind == n))
                        .ok_or_else(|| anyhow!("member '{n}' is not a [[model]]"))?;
                    let spec = &ctx.cfg.models[i];
                    let mut params = spec.params.clone();
                    params.remove("name");
                    // Stacking fits its members without validation rows.
                    params.remove("early_stopping");
                    candidates::learner(&spec.kind, &params).map_err(|e| anyhow!(e))
                })
                .collect::<Result<Vec<_>>>()?;
            let st = StackingLearner {
                members: learners,
                meta: candidates::learner(meta, &Default::default()).map_err(|e| anyhow!(e))?,
                folds: *folds,
                seed: ctx.cfg.config.seed,
            };
            fit_one(&st, p.task, rd, &mut Callbacks::new())
        }
    }
}

/// Metric name -> value, in display order.
type Metrics = Vec<(String, f64)>;

/// Mean and standard deviation of each metric over folds.
fn cv_summary(folds: &[Metrics]) -> (Metrics, Metrics) {
    let mut by: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for f in folds {
        for (k, v) in f {
            if !by.contains_key(k.as_str()) {
                order.push(k);
            }
            by.entry(k).or_default().push(*v);
        }
    }
    let mut mean = Vec::new();
    let mut std = Vec::new();
    for k in order {
        let v = &by[k];
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        mean.push((k.to_string(), m));
        std.push((k.to_string(), s));
    }
    (mean, std)
}

#[allow(clippy::too_many_arguments)]
fn finish_candidate(
    ctx: &Ctx<'_>,
    p: &Prepared,
    c: &Candidate,
    run_id: String,
    model: Box<dyn Model>,
    history: Vec<(usize, Vec<(String, f64)>)>,
    fit_seconds: f64,
    main: &RoundData,
    x_test: &Matrix,
    y_test: &[f64],
    w_test: Option<&[f64]>,
    cv: Option<&Vec<Vec<(String, f64)>>>,
) -> Result<Fitted> {
    let task = p.task;
    let (valid_pred, valid_latency) = if main.x_valid.n_rows() > 0 {
        let (pr, l) = predict_timed(model.as_ref(), &main.x_valid)?;
        (Some(pr), l)
    } else {
        (None, f64::NAN)
    };
    let (test_pred, test_latency) = predict_timed(model.as_ref(), x_test)?;
    let latency = if valid_latency.is_finite() {
        valid_latency
    } else {
        test_latency
    };
    let (valid, valid_std) = match cv {
        Some(folds) => cv_summary(folds),
        None => (
            valid_pred
                .as_ref()
                .map(|vp| evaluate::evaluate(task, &main.y_valid, vp, f64_weights(&main.w_valid).as_deref()))
                .unwrap_or_default(),
            Vec::new(),
        ),
    };
    let test = evaluate::evaluate(task, y_test, &test_pred, w_test);

    let saved = model.save().map_err(|e| anyhow!("saving the model: {e}"))?;
    let mut bundle = ModelBundle::new(&c.name, &p.target, task, p.classes.clone(), main.prep.clone(), saved);
    bundle.data_fingerprint = p.fingerprint.clone();
    for (k, v) in &valid {
        bundle.metrics.insert(format!("valid_{k}"), *v);
    }
    for (k, v) in &test {
        bundle.metrics.insert(format!("test_{k}"), *v);
    }
    let bytes = bundle.to_json().map_err(|e| anyhow!("{e}"))?;
    let model_bytes = bytes.len();

    // Metrics: learning curves (step = iteration), final values, timings.
    // Per-iteration metrics were streamed while it trained (MetricStream).
    let ts = kiln_store::now_ms();
    let mut metrics: Vec<Metric> = Vec::new();
    // The final model's validation metrics, as the latest point of each
    // curve -- unless the last iteration already logged that very value.
    let last = history.last();
    for (k, v) in &valid {
        let key = format!("valid_{k}");
        let same = last.is_some_and(|(_, ms)| {
            ms.iter()
                .any(|(n, x)| n == &key && (x - v).abs() <= 1e-9 * v.abs().max(1.0))
        });
        if !same {
            metrics.push(Metric::new(key, *v, ts, history.len() as i64));
        }
    }
    for (k, v) in &valid_std {
        metrics.push(Metric::new(format!("cv_std_{k}"), *v, ts, 0));
    }
    if let Some(folds) = cv {
        for (i, f) in folds.iter().enumerate() {
            for (k, v) in f {
                metrics.push(Metric::new(format!("cv_fold_{k}"), *v, ts, i as i64));
            }
        }
    }
    for (k, v) in &test {
        metrics.push(Metric::new(format!("test_{k}"), *v, ts, 0));
    }
    metrics.push(Metric::new("fit_seconds", fit_seconds, ts, 0));
    metrics.push(Metric::new("predict_us_per_row", latency * 1e6, ts, 0));
    metrics.push(Metric::new("model_bytes", model_bytes as f64, ts, 0));
    ctx.tracker.log_batch(&run_id, &metrics, &[], &[])?;

    ctx.tracker
        .log_artifact(&run_id, &format!("model/{FILE_NAME}"), bytes)?;
    ctx.tracker.log_artifact(
        &run_id,
        "model/MLmodel",
        mlmodel(&c.name, &run_id, task, &p.target).into_bytes(),
    )?;
    log_plots(
        ctx,
        p,
        &run_id,
        c,
        model.as_ref(),
        &history,
        valid_pred.as_ref(),
        main,
        x_test,
        &test_pred,
        y_test,
    )?;
    log_errors(ctx, p, &run_id, &test_pred, y_test)?;
    ctx.tracker.end_run(&run_id, RunStatus::Finished)?;

    let entry = Entry {
        name: c.name.clone(),
        kind: c.kind.clone(),
        baseline: c.baseline,
        run_id,
        valid,
        valid_std,
        test,
        fit_seconds,
        predict_us_per_row: latency * 1e6,
        model_bytes,
        iterations: model.iterations(),
        error: None,
    };
    let line = format!(
        "{} {:.4}  ({:.2}s)",
        ctx.metric,
        entry.valid_metric(&ctx.metric).unwrap_or(f64::NAN),
        fit_seconds
    );
    ctx.progress.candidate_finished(&c.name, &line);
    Ok(Fitted {
        model: Arc::from(model),
        entry,
    })
}

/// The MLmodel metadata file MLflow's UI shows for a model folder.
fn mlmodel(name: &str, run_id: &str, task: Task, target: &str) -> String {
    format!(
        "artifact_path: model\nflavors:\n  kiln:\n    kiln_version: {}\n    format_version: {}\n    model_file: {FILE_NAME}\n    candidate: {name}\n    task: {}\n    target: {target}\nrun_id: {run_id}\nutc_time_created: '{}'\n",
        env!("CARGO_PKG_VERSION"),
        kiln_learn::bundle::FORMAT_VERSION,
        task.name(),
        kiln_store::now_ms()
    )
}

fn start_child(ctx: &Ctx<'_>, p: &Prepared, c: &Candidate) -> Result<String> {
    let mut tags = vec![
        Tag::new("kiln.candidate", c.name.clone()),
        Tag::new("kiln.model.kind", c.kind.clone()),
        Tag::new("kiln.role", if c.baseline { "baseline" } else { "candidate" }),
        Tag::new("kiln.seed", ctx.cfg.config.seed.to_string()),
        Tag::new("kiln.data.fingerprint", p.fingerprint.clone()),
    ];
    tags.push(Tag::new("mlflow.source.type", "LOCAL"));
    let run_id = ctx
        .tracker
        .start_run(&ctx.experiment_id, &c.name, Some(&ctx.parent), &tags)?;
    Ok(run_id)
}

fn fail_child(ctx: &Ctx<'_>, run_id: &str, e: &anyhow::Error) {
    let reason = format!("{e:#}");
    let _ = ctx.tracker.log_batch(
        run_id,
        &[],
        &[],
        &[Tag::new("kiln.error", reason.chars().take(5000).collect::<String>())],
    );
    let _ = ctx.tracker.end_run(run_id, RunStatus::Failed);
}

/// Logs each iteration's metrics to the candidate's run while it trains, in
/// batches at most once a second, so a running run's curves move in the UI.
/// A failed write is retried with the next batch; one still failing at the
/// end is reported through `error`.
struct MetricStream<'a> {
    tracker: &'a dyn Tracker,
    run_id: String,
    pending: Vec<Metric>,
    last_flush: Instant,
    error: Arc<std::sync::Mutex<Option<String>>>,
}

impl<'a> MetricStream<'a> {
    fn new(tracker: &'a dyn Tracker, run_id: &str, error: Arc<std::sync::Mutex<Option<String>>>) -> MetricStream<'a> {
        MetricStream {
            tracker,
            run_id: run_id.to_string(),
            pending: Vec::new(),
            last_flush: Instant::now(),
            error,
        }
    }

    fn flush(&mut self) -> std::result::Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.tracker
            .log_batch(&self.run_id, &self.pending, &[], &[])
            .map_err(|e| format!("{e:#}"))?;
        self.pending.clear();
        self.last_flush = Instant::now();
        Ok(())
    }
}

impl kiln_learn::Callback for MetricStream<'_> {
    fn on_iteration(&mut self, r: &kiln_learn::IterationReport<'_>) -> kiln_learn::Control {
        let ts = kiln_store::now_ms();
        for (k, v) in r.metrics {
            if v.is_finite() {
                self.pending.push(Metric::new(k.clone(), *v, ts, r.iteration as i64));
            }
        }
        if self.last_flush.elapsed().as_secs_f64() >= 1.0 {
            // A failure keeps the batch for the next try.
            let _ = self.flush();
        }
        kiln_learn::Control::Continue
    }

    fn on_end(&mut self, _iterations: usize) {
        if let Err(e) = self.flush() {
            if let Ok(mut g) = self.error.lock() {
                *g = Some(e);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn train_candidate(
    ctx: &Ctx<'_>,
    p: &Prepared,
    c: &Candidate,
    main: &RoundData,
    x_test: &Matrix,
    y_test: &[f64],
    w_test: Option<&[f64]>,
    cv: Option<&Vec<Vec<(String, f64)>>>,
    fold_iters: Option<&Vec<usize>>,
) -> Result<Fitted> {
    // After CV the final fit has no validation rows: early stopping gives way
    // to the mean best iteration of the folds.
    let refit = if main.x_valid.n_rows() == 0 {
        c.refit_learner(fold_iters.map_or(&[][..], |v| v.as_slice()))?
    } else {
        None
    };
    let learner = match &refit {
        Some(l) => l,
        None => c.learner.as_ref().context("a learner")?,
    };
    let run_id = start_child(ctx, p, c)?;
    let result = (|| {
        let params: Vec<Tag> = learner
            .params()
            .into_iter()
            .map(|(k, v)| Tag::new(k, v))
            .chain([Tag::new("kind", c.kind.clone())])
            .collect();
        ctx.tracker.log_batch(&run_id, &[], &params, &[])?;
        let rounds = learner.params().get("rounds").and_then(|r| r.parse::<usize>().ok());
        ctx.progress.candidate_started(&c.name, rounds);
        let history = History::new();
        let progress = ctx.progress;
        let name = c.name.clone();
        let stream_error = Arc::new(std::sync::Mutex::new(None));
        let mut cbs = Callbacks::new()
            .with(history.clone())
            .with(kiln_learn::FnCallback(move |r: &kiln_learn::IterationReport<'_>| {
                progress.candidate_iteration(&name, r.iteration);
                kiln_learn::Control::Continue
            }))
            .with(MetricStream::new(ctx.tracker, &run_id, stream_error.clone()));
        let t = Instant::now();
        let model = fit_one(learner.as_ref(), p.task, main, &mut cbs)?;
        let fit_seconds = t.elapsed().as_secs_f64();
        drop(cbs);
        if let Some(e) = stream_error.lock().ok().and_then(|mut g| g.take()) {
            bail!("logging the learning curves: {e}");
        }
        data::log_memory(&format!("fit {}", c.name));
        finish_candidate(
            ctx,
            p,
            c,
            run_id.clone(),
            model,
            history.records(),
            fit_seconds,
            main,
            x_test,
            y_test,
            w_test,
            cv,
        )
    })();
    if let Err(e) = &result {
        fail_child(ctx, &run_id, e);
        ctx.progress.candidate_finished(&c.name, &format!("failed: {e:#}"));
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn train_ensemble(
    ctx: &Ctx<'_>,
    p: &Prepared,
    c: &Candidate,
    members: &BTreeMap<String, Arc<dyn Model>>,
    main: &RoundData,
    x_test: &Matrix,
    y_test: &[f64],
    w_test: Option<&[f64]>,
    cv: Option<&Vec<Vec<(String, f64)>>>,
) -> Result<Fitted> {
    let spec = c.ensemble.as_ref().context("an ensemble")?;
    let run_id = start_child(ctx, p, c)?;
    let result = (|| {
        let mut params = vec![Tag::new("kind", c.kind.clone())];
        match spec {
            EnsembleSpec::Voting { members, weights } => {
                params.push(Tag::new("members", members.join(",")));
                if let Some(w) = weights {
                    params.push(Tag::new("weights", format!("{w:?}")));
                }
            }
            EnsembleSpec::Stacking { members, meta, folds } => {
                params.push(Tag::new("members", members.join(",")));
                params.push(Tag::new("meta", meta.clone()));
                params.push(Tag::new("folds", folds.to_string()));
            }
        }
        ctx.tracker.log_batch(&run_id, &[], &params, &[])?;
        ctx.progress.candidate_started(&c.name, None);
        let t = Instant::now();
        let model = ensemble_model(ctx, p, spec, members, main)?;
        let fit_seconds = t.elapsed().as_secs_f64();
        finish_candidate(
            ctx,
            p,
            c,
            run_id.clone(),
            model,
            Vec::new(),
            fit_seconds,
            main,
            x_test,
            y_test,
            w_test,
            cv,
        )
    })();
    if let Err(e) = &result {
        fail_child(ctx, &run_id, e);
        ctx.progress.candidate_finished(&c.name, &format!("failed: {e:#}"));
    }
    result
}

fn svg_artifact(ctx: &Ctx<'_>, run_id: &str, path: &str, svg: std::result::Result<String, String>) -> Result<()> {
    match svg {
        Ok(s) => ctx.tracker.log_artifact(run_id, path, s.into_bytes()),
        Err(e) => {
            tracing::warn!("{path}: {e}");
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn log_plots(
    ctx: &Ctx<'_>,
    p: &Prepared,
    run_id: &str,
    c: &Candidate,
    model: &dyn Model,
    history: &[(usize, Vec<(String, f64)>)],
    valid_pred: Option<&Predictions>,
    main: &RoundData,
    x_test: &Matrix,
    test_pred: &Predictions,
    y_test: &[f64],
) -> Result<()> {
    if !history.is_empty() {
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for (it, ms) in history {
            for (k, v) in ms {
                series.entry(k.clone()).or_default().push((*it as f64, *v));
            }
        }
        let series: Vec<(String, Vec<(f64, f64)>)> = series.into_iter().collect();
        svg_artifact(
            ctx,
            run_id,
            "plots/learning_curves.svg",
            plots::learning_curves(&format!("{}: learning curves", c.name), &series),
        )?;
    }
    // Curves on validation when there is one, else on test.
    let (curve_y, curve_p, on) = match valid_pred {
        Some(vp) => (main.y_valid.as_slice(), vp, "validation"),
        None => (y_test, test_pred, "test"),
    };
    match (p.task, curve_p) {
        (Task::Binary, Predictions::Binary(s)) => {
            svg_artifact(
                ctx,
                run_id,
                "plots/roc.svg",
                plots::unit_curve(
                    &format!("ROC ({on})"),
                    "false positive rate",
                    "true positive rate",
                    &[(c.name.clone(), plots::roc_points(curve_y, s))],
                    true,
                ),
            )?;
            svg_artifact(
                ctx,
                run_id,
                "plots/precision_recall.svg",
                plots::unit_curve(
                    &format!("Precision-recall ({on})"),
                    "recall",
                    "precision",
                    &[(c.name.clone(), plots::pr_points(curve_y, s))],
                    false,
                ),
            )?;
        }
        (Task::Regression, Predictions::Regression(v)) => {
            svg_artifact(
                ctx,
                run_id,
                "plots/predicted_vs_actual.svg",
                plots::predicted_vs_actual(&format!("Predicted vs actual ({on})"), curve_y, v),
            )?;
        }
        _ => {}
    }
    if p.task.is_classification() {
        let k = p.classes.len();
        let mut counts = vec![vec![0u64; k]; k];
        for (t, l) in curve_y.iter().zip(curve_p.labels()) {
            let (t, l) = (*t as usize, l as usize);
            if t < k && l < k {
                counts[t][l] += 1;
            }
        }
        svg_artifact(
            ctx,
            run_id,
            "plots/confusion_matrix.svg",
            plots::confusion_matrix(&format!("Confusion matrix ({on})"), &p.classes, &counts),
        )?;
        let json = serde_json::json!({"labels": p.classes, "counts": counts, "on": on});
        ctx.tracker
            .log_artifact(run_id, "metrics/confusion_matrix.json", json.to_string().into_bytes())?;
    }
    // Mean |SHAP| per feature on (up to 500) evenly spaced test rows, for models
    // that have them (TreeSHAP costs ~0.7 ms per row for 200 trees of 31 leaves).
    let sample: Vec<usize> = (0..x_test.n_rows())
        .step_by(x_test.n_rows().div_ceil(500).max(1))
        .collect();
    if !sample.is_empty() {
        if let Some(Ok(c)) = model.contributions(&x_test.take_rows(&sample)) {
            let f = model.features().len();
            let width = f + 1;
            let mut mean = vec![0.0f64; f];
            for row in c.chunks(width) {
                for (m, v) in mean.iter_mut().zip(row) {
                    *m += v.abs();
                }
            }
            let rows = (c.len() / width).max(1) as f64;
            let json: Vec<serde_json::Value> = model
                .features()
                .iter()
                .zip(&mean)
                .map(|(n, v)| serde_json::json!({"feature": n, "mean_abs_shap": v / rows}))
                .collect();
            ctx.tracker.log_artifact(
                run_id,
                "metrics/shap_importance.json",
                serde_json::to_vec_pretty(&json)?,
            )?;
        }
    }
    if let Some(imp) = model.feature_importance() {
        let names = model.features().to_vec();
        svg_artifact(
            ctx,
            run_id,
            "plots/feature_importance.svg",
            plots::importance_bars(&format!("{}: feature importance", c.name), &names, &imp, 25),
        )?;
        let json: Vec<serde_json::Value> = names
            .iter()
            .zip(&imp)
            .map(|(n, v)| serde_json::json!({"feature": n, "importance": v}))
            .collect();
        ctx.tracker.log_artifact(
            run_id,
            "metrics/feature_importance.json",
            serde_json::to_vec_pretty(&json)?,
        )?;
    }
    Ok(())
}

/// The worst-predicted test rows (highest loss), with their original values.
/// Among the test rows the table kept ([`data::ERROR_ANALYSIS_ROWS`] at most).
fn log_errors(ctx: &Ctx<'_>, p: &Prepared, run_id: &str, pred: &Predictions, y_test: &[f64]) -> Result<()> {
    let losses = evaluate::row_losses(y_test, pred);
    // Positions in the kept table, ordered by the loss of the test row each holds.
    let mut order: Vec<usize> = (0..p.kept_test.len()).collect();
    order.sort_by(|&a, &b| losses[p.kept_test[b]].total_cmp(&losses[p.kept_test[a]]));
    order.truncate(100);
    if order.is_empty() {
        return Ok(());
    }
    let table = p.table.take(&order).map_err(|e| anyhow!("{e}"))?;
    let labels = pred.labels();
    let mut out = String::new();
    let names = table.column_names();
    let mut header: Vec<String> = vec!["_row".into(), "_loss".into(), "_predicted".into()];
    if let Predictions::Binary(_) = pred {
        header.push("_probability".into());
    }
    header.extend(names.iter().cloned());
    out.push_str(&csv_line(&header));
    let cols: Vec<Vec<String>> = (0..table.num_columns())
        .map(|j| {
            let a = table.column_at(j).map_err(|e| anyhow!("{e}"))?;
            Ok((0..a.len())
                .map(|i| kiln_data::arrow::util::display::array_value_to_string(&a, i).unwrap_or_default())
                .collect())
        })
        .collect::<Result<_>>()?;
    for (pos, &k) in order.iter().enumerate() {
        let i = p.kept_test[k];
        let shown = if p.task.is_classification() {
            p.classes.get(labels[i] as usize).cloned().unwrap_or_default()
        } else {
            format!("{}", labels[i])
        };
        let mut cells = vec![
            p.test_locations.get(k).cloned().unwrap_or_default(),
            format!("{:.6}", losses[i]),
            shown,
        ];
        if let Predictions::Binary(pr) = pred {
            cells.push(format!("{:.6}", pr[i]));
        }
        for c in &cols {
            cells.push(c[pos].clone());
        }
        out.push_str(&csv_line(&cells));
    }
    ctx.tracker
        .log_artifact(run_id, "errors/worst_test_rows.csv", out.into_bytes())
}

fn csv_line(cells: &[String]) -> String {
    let mut s = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    s
}
