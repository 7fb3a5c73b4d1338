//! `kiln study`: ask-and-tell from the shell, for objectives in any language.
//! The study lives in the tracking store (`--storage`, default the server's
//! `sqlite:///kiln.db`); each trial is a child run of the study's run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args as ClapArgs, Subcommand};

use kiln_store::artifacts::ArtifactStore;
use kiln_tune::report::{params_toml, trial_json, trials_table};
use kiln_tune::study::{Outcome, Study, StudyOptions};
use kiln_tune::{plots, Direction, PrunerConfig, SamplerConfig, SqlStorage, Storage, TrialState};

/// Where studies are stored.
#[derive(ClapArgs, Clone)]
pub struct StorageArgs {
    /// The store holding the study: sqlite:///path.db (one machine) or postgresql://user@host:port/db (many).
    #[arg(long, env = "KILN_BACKEND_STORE_URI", default_value = "sqlite:///kiln.db")]
    pub storage: String,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: StudyCommand,
}

#[derive(Subcommand)]
enum StudyCommand {
    /// Create a study over a search space.
    ///
    /// Example: kiln study create demo --space space.toml --direction minimize --sampler gp
    Create(CreateArgs),
    /// Ask for a trial: prints its number and parameters.
    ///
    /// Example: kiln study ask --study demo --json
    Ask(AskArgs),
    /// Tell the outcome of a trial.
    ///
    /// Example: kiln study tell --study demo --trial 3 --value 0.82   (or --state pruned / --state fail)
    Tell(TellArgs),
    /// Report an intermediate value; prints whether the trial should stop (and exits 3 if so).
    ///
    /// Example: kiln study report --study demo --trial 3 --step 10 --value 0.7
    Report(ReportArgs),
    /// The best trial (or, with several objectives, the Pareto front).
    ///
    /// Example: kiln study best --study demo --toml
    Best(BestArgs),
    /// Every trial as a table.
    ///
    /// Example: kiln study trials --study demo --state COMPLETE
    Trials(TrialsArgs),
    /// Every study in the store.
    ///
    /// Example: kiln study list
    List(StorageArgs),
    /// Save the plots (history, parallel coordinates, slices, importances, Pareto front) and the
    /// best parameters as TOML as artifacts of the study's run, and optionally into a folder.
    ///
    /// Example: kiln study plots --study demo --artifacts-destination ./kiln-artifacts --out plots/
    Plots(PlotsArgs),
}

#[derive(ClapArgs)]
struct CreateArgs {
    /// The study name.
    name: String,
    /// Search space file: TOML (`x = { float = [0, 1] }`, or a kiln.toml with [tune.space]) or JSON.
    #[arg(long)]
    space: PathBuf,
    /// minimize or maximize; repeat for several objectives.
    #[arg(long = "direction", default_value = "minimize")]
    directions: Vec<String>,
    /// Objective names (one per direction), used as the trials' metric names.
    #[arg(long = "metric")]
    metrics: Vec<String>,
    /// auto, random, grid, sobol, tpe, gp, cmaes, nsga2 (options as `gp:n_startup_trials=8`).
    #[arg(long, default_value = "auto")]
    sampler: String,
    /// none, median, percentile, sh, asha, hyperband (options as `asha:reduction_factor=4`).
    #[arg(long, default_value = "none")]
    pruner: String,
    #[arg(long)]
    seed: Option<u64>,
    /// MLflow experiment of the study's runs (default: the study name).
    #[arg(long)]
    experiment: Option<String>,
    /// Load the study if it exists (its directions must match) instead of failing.
    #[arg(long)]
    load_if_exists: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(ClapArgs)]
struct AskArgs {
    #[arg(long)]
    study: String,
    /// Refuse once the study has this many trials.
    #[arg(long)]
    budget: Option<u64>,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(ClapArgs)]
struct TellArgs {
    #[arg(long)]
    study: String,
    #[arg(long)]
    trial: u64,
    /// The objective value(s), one per direction.
    #[arg(long = "value", allow_negative_numbers = true)]
    values: Vec<String>,
    /// complete (default with --value), pruned or fail.
    #[arg(long)]
    state: Option<String>,
    /// Why it failed (with --state fail).
    #[arg(long)]
    reason: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(ClapArgs)]
struct ReportArgs {
    #[arg(long)]
    study: String,
    #[arg(long)]
    trial: u64,
    #[arg(long)]
    step: i64,
    #[arg(long, allow_negative_numbers = true)]
    value: String,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(ClapArgs)]
struct BestArgs {
    #[arg(long)]
    study: String,
    /// Print the best parameters as TOML.
    #[arg(long)]
    toml: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(ClapArgs)]
struct TrialsArgs {
    #[arg(long)]
    study: String,
    /// Only trials in this state (RUNNING, COMPLETE, PRUNED, FAIL, WAITING).
    #[arg(long)]
    state: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(ClapArgs)]
struct PlotsArgs {
    #[arg(long)]
    study: String,
    /// Artifact store of the server (where `mlflow-artifacts:` runs' files live).
    #[arg(long, env = "KILN_ARTIFACTS_DESTINATION", default_value = "./kiln-artifacts")]
    artifacts_destination: String,
    /// Also write the files into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    storage: StorageArgs,
}

/// A runtime and a SQL storage over `uri`.
pub fn open(uri: &str) -> Result<(tokio::runtime::Runtime, Arc<dyn Storage>)> {
    let (rt, sql) = open_sql(uri)?;
    Ok((rt, sql))
}

/// A runtime and the concrete SQL storage (for its store) over `uri`.
pub fn open_sql(uri: &str) -> Result<(tokio::runtime::Runtime, Arc<SqlStorage>)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let storage = SqlStorage::open_blocking(&rt, uri)
        .map_err(|e| anyhow!(e.message))
        .with_context(|| format!("opening the store '{}'", kiln_store::db::redact(uri)))?;
    Ok((rt, Arc::new(storage)))
}

fn tune_err(e: kiln_tune::TuneError) -> anyhow::Error {
    anyhow!(e.message)
}

fn load(storage: &Arc<dyn Storage>, name: &str) -> Result<Study> {
    Study::load(storage.clone(), name).map_err(tune_err)
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Parses a value given on the command line (`nan` is accepted and fails the trial).
pub fn parse_value(s: &str) -> Result<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "nan" => Ok(f64::NAN),
        "inf" | "+inf" | "infinity" => Ok(f64::INFINITY),
        "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
        _ => t.parse::<f64>().map_err(|_| anyhow!("'{s}' is not a number")),
    }
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        StudyCommand::Create(a) => create(a),
        StudyCommand::Ask(a) => ask(a),
        StudyCommand::Tell(a) => tell(a),
        StudyCommand::Report(a) => report(a),
        StudyCommand::Best(a) => best(a),
        StudyCommand::Trials(a) => trials(a),
        StudyCommand::List(a) => list(a),
        StudyCommand::Plots(a) => plots_cmd(a),
    }
}

fn create(a: CreateArgs) -> Result<()> {
    let space = kiln_tune::config::load_space_file(&a.space).map_err(tune_err)?;
    let directions: Vec<Direction> = a
        .directions
        .iter()
        .map(|d| Direction::parse(d).map_err(tune_err))
        .collect::<Result<_>>()?;
    let mut opts = StudyOptions::new(a.name.clone(), directions[0]);
    opts.directions = directions;
    opts.metrics = a.metrics;
    opts.sampler = SamplerConfig::parse_cli(&a.sampler).map_err(tune_err)?;
    opts.pruner = PrunerConfig::parse_cli(&a.pruner).map_err(tune_err)?;
    opts.space = Some(space);
    opts.seed = a.seed;
    opts.experiment = a.experiment;
    let (_rt, storage) = open(&a.storage.storage)?;
    let study = if a.load_if_exists {
        Study::load_or_create(storage, opts)
    } else {
        Study::create(storage, opts)
    }
    .map_err(tune_err)?;
    if a.storage.json {
        print_json(
            &serde_json::json!({"name": study.name(), "study_id": study.info().study_id,
            "parent_run_id": study.info().parent_run_id, "experiment_id": study.info().experiment_id}),
        );
    } else {
        println!(
            "study '{}' (sampler {}, pruner {}); its trials are child runs of run {}",
            study.name(),
            study.settings().sampler.kind,
            study.settings().pruner.kind,
            study.info().parent_run_id.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

fn ask(a: AskArgs) -> Result<()> {
    let (_rt, storage) = open(&a.storage.storage)?;
    let study = load(&storage, &a.study)?;
    let Some(t) = study.ask_space(a.budget).map_err(tune_err)? else {
        bail!(
            "study '{}' already has {} trials (the budget)",
            a.study,
            a.budget.unwrap_or(0)
        );
    };
    let frozen = t.frozen();
    if a.storage.json {
        print_json(&trial_json(&frozen));
    } else {
        println!("trial {}", frozen.number);
        for (k, p) in &frozen.params {
            println!("  {k} = {}", p.value);
        }
    }
    Ok(())
}

fn tell(a: TellArgs) -> Result<()> {
    let state = a.state.as_deref().map(|s| s.to_ascii_lowercase());
    let outcome = match (state.as_deref(), a.values.is_empty()) {
        (None | Some("complete"), false) => {
            Outcome::Complete(a.values.iter().map(|v| parse_value(v)).collect::<Result<_>>()?)
        }
        (None | Some("complete"), true) => bail!("give --value (one per direction), or --state pruned|fail"),
        (Some("pruned"), true) => Outcome::Pruned,
        (Some("fail"), true) => Outcome::Fail(a.reason.unwrap_or_else(|| "reported as failed".into())),
        (Some("pruned" | "fail"), false) => bail!("--state pruned|fail takes no --value"),
        (Some(other), _) => bail!("--state must be complete, pruned or fail, not '{other}'"),
    };
    let (_rt, storage) = open(&a.storage.storage)?;
    let t = load(&storage, &a.study)?
        .tell_number(a.trial, outcome)
        .map_err(tune_err)?;
    if a.storage.json {
        print_json(&trial_json(&t));
    } else if t.state == TrialState::Fail {
        println!(
            "trial {} recorded as FAIL: {}",
            t.number,
            t.attrs
                .get(kiln_tune::storage::FAIL_REASON_ATTR)
                .and_then(|v| v.as_str())
                .unwrap_or("")
        );
    } else {
        println!("trial {} recorded as {}", t.number, t.state);
    }
    Ok(())
}

fn report(a: ReportArgs) -> Result<()> {
    let (_rt, storage) = open(&a.storage.storage)?;
    let value = parse_value(&a.value)?;
    let prune = load(&storage, &a.study)?
        .report_number(a.trial, a.step, value)
        .map_err(tune_err)?;
    if a.storage.json {
        print_json(&serde_json::json!({ "should_prune": prune }));
    } else {
        println!("{}", if prune { "prune" } else { "continue" });
    }
    if prune {
        std::process::exit(3);
    }
    Ok(())
}

fn best(a: BestArgs) -> Result<()> {
    let (_rt, storage) = open(&a.storage.storage)?;
    let study = load(&storage, &a.study)?;
    if study.directions().len() > 1 {
        let front = study.best_trials().map_err(tune_err)?;
        if a.storage.json {
            print_json(&serde_json::Value::Array(front.iter().map(trial_json).collect()));
        } else {
            let arcs: Vec<Arc<kiln_tune::FrozenTrial>> = front.into_iter().map(Arc::new).collect();
            print!("{}", trials_table(&arcs, &study.settings().metrics));
        }
        return Ok(());
    }
    let Some(t) = study.best_trial().map_err(tune_err)? else {
        bail!("study '{}' has no complete trial yet", a.study);
    };
    if a.toml {
        print!("{}", params_toml(&t.param_values(), None));
    } else if a.storage.json {
        print_json(&trial_json(&t));
    } else {
        println!(
            "best trial {}: {} = {}",
            t.number,
            study.settings().metrics.first().map(String::as_str).unwrap_or("value"),
            t.value().unwrap_or(f64::NAN)
        );
        for (k, p) in &t.params {
            println!("  {k} = {}", p.value);
        }
    }
    Ok(())
}

fn trials(a: TrialsArgs) -> Result<()> {
    let (_rt, storage) = open(&a.storage.storage)?;
    let study = load(&storage, &a.study)?;
    let state = a
        .state
        .as_deref()
        .map(TrialState::parse)
        .transpose()
        .map_err(tune_err)?;
    let trials: Vec<Arc<kiln_tune::FrozenTrial>> = study
        .trials()
        .map_err(tune_err)?
        .into_iter()
        .filter(|t| state.is_none_or(|s| t.state == s))
        .collect();
    if a.storage.json {
        print_json(&serde_json::Value::Array(
            trials.iter().map(|t| trial_json(t)).collect(),
        ));
    } else {
        print!("{}", trials_table(&trials, &study.settings().metrics));
    }
    Ok(())
}

fn list(a: StorageArgs) -> Result<()> {
    let (_rt, storage) = open(&a.storage)?;
    let mut rows = Vec::new();
    for info in storage.list_studies().map_err(tune_err)? {
        let n = storage.trials(info.study_id).map_err(tune_err)?.len();
        rows.push(serde_json::json!({"name": info.name, "directions": info.directions.iter().map(|d| d.as_str()).collect::<Vec<_>>(), "n_trials": n}));
    }
    if a.json {
        print_json(&serde_json::Value::Array(rows));
    } else {
        for r in rows {
            println!(
                "{}  {}  {} trials",
                r["name"].as_str().unwrap_or(""),
                r["directions"],
                r["n_trials"]
            );
        }
    }
    Ok(())
}

/// The study's result files: SVG plots and the best parameters as TOML.
pub fn result_files(study: &Study) -> Result<BTreeMap<String, String>> {
    let trials = study.trials().map_err(tune_err)?;
    let name = study.name();
    let mut files = BTreeMap::new();
    let d = study.directions();
    files.insert(
        "history.svg".into(),
        plots::history(&trials, d[0], &format!("{name}: optimisation history")),
    );
    files.insert(
        "parallel_coordinates.svg".into(),
        plots::parallel_coordinates(&trials, d[0], &format!("{name}: parallel coordinates")),
    );
    files.insert("slice.svg".into(), plots::slice(&trials, &format!("{name}: slices")));
    if let Ok(imp) = kiln_tune::importance::importances(&trials, d, 0) {
        files.insert(
            "importances.svg".into(),
            plots::importances(&imp, &format!("{name}: parameter importances (fANOVA)")),
        );
    }
    if d.len() == 2 {
        let front: Vec<u64> = study
            .best_trials()
            .map_err(tune_err)?
            .iter()
            .map(|t| t.number)
            .collect();
        files.insert(
            "pareto_front.svg".into(),
            plots::pareto_front(
                &trials,
                &front,
                &study.settings().metrics,
                &format!("{name}: Pareto front"),
            ),
        );
    } else if let Some(best) = study.best_trial().map_err(tune_err)? {
        files.insert(
            "best_params.toml".into(),
            params_toml(
                &best.param_values(),
                Some(&format!("# best trial {} of study '{name}'", best.number)),
            ),
        );
    }
    Ok(files)
}

/// Writes the result files as artifacts of the study's run (under `plots/`), and into `out`.
pub fn save_results(
    rt: &tokio::runtime::Runtime,
    store: &kiln_store::Store,
    study: &Study,
    artifacts_destination: &str,
    out: Option<&std::path::Path>,
) -> Result<Vec<String>> {
    let files = result_files(study)?;
    let mut written = Vec::new();
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating '{}'", dir.display()))?;
        for (name, body) in &files {
            let p = dir.join(name);
            std::fs::write(&p, body).with_context(|| format!("writing '{}'", p.display()))?;
            written.push(p.display().to_string());
        }
    }
    let Some(parent) = study.info().parent_run_id.clone() else {
        return Ok(written);
    };
    let artifacts = ArtifactStore::open(artifacts_destination).map_err(|e| anyhow!(e.message))?;
    let run_artifacts = rt
        .block_on(store.get_run_info(&parent))
        .map_err(|e| anyhow!(e.message))?
        .artifact_uri;
    let base = artifacts.path_for_uri(&run_artifacts).map_err(|e| anyhow!(e.message))?;
    for (name, body) in files {
        let path = format!("{base}/plots/{name}");
        rt.block_on(artifacts.put_bytes(&path, bytes::Bytes::from(body)))
            .map_err(|e| anyhow!(e.message))?;
        written.push(format!("{run_artifacts}/plots/{name}"));
    }
    Ok(written)
}

fn plots_cmd(a: PlotsArgs) -> Result<()> {
    let (rt, sql) = open_sql(&a.storage.storage)?;
    let storage: Arc<dyn Storage> = sql.clone();
    let study = load(&storage, &a.study)?;
    let written = save_results(&rt, sql.store(), &study, &a.artifacts_destination, a.out.as_deref())?;
    if a.storage.json {
        print_json(&serde_json::json!({ "files": written }));
    } else {
        for w in written {
            println!("{w}");
        }
    }
    Ok(())
}
