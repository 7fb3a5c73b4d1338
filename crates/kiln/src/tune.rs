//! `kiln tune --objective-cmd CMD`: tune any program that prints a value.
//!
//! For each trial the command runs through `sh -c` with the parameters in
//! the environment (`KILN_PARAMS` as a JSON object, `KILN_PARAM_<NAME>` for
//! each, the name upper-cased with non-alphanumerics as `_`, plus
//! `KILN_TRIAL_NUMBER` and `KILN_STUDY`) and as one JSON object on stdin.
//! Its last non-empty stdout line is the value (several, separated by spaces
//! or commas, for several directions). Lines `kiln:report STEP VALUE` report
//! intermediate values; when the pruner says stop, the command's process
//! group is killed and the trial is PRUNED. A non-zero exit, an unreadable
//! last line or a NaN is a FAIL (with the reason in the trial).
//!
//! Workers on several machines share a study through `--storage
//! postgresql://...` and the same `--study`; `--trials` is the study's total.
//! `kiln tune kiln.toml` without `--objective-cmd` tunes a training config
//! (the training pipeline's extension point, `tune_training_config`).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::Args as ClapArgs;

use kiln_tune::config::{load_space_file, TuneConfig};
use kiln_tune::report::{trial_json, trials_table};
use kiln_tune::study::{OptimizeOptions, Study, StudyOptions};
use kiln_tune::{Direction, PrunerConfig, SamplerConfig, Storage, Trial, TrialError};

#[derive(ClapArgs)]
pub struct Args {
    /// A kiln.toml: its [tune] section gives the space and settings (flags override them).
    config: Option<PathBuf>,
    /// The objective: a shell command that prints the value as its last stdout line.
    #[arg(long)]
    objective_cmd: Option<String>,
    /// The search space file (TOML or JSON), instead of a config's [tune.space].
    #[arg(long)]
    space: Option<PathBuf>,
    /// Same as the positional config.
    #[arg(long = "config", conflicts_with = "config")]
    config_flag: Option<PathBuf>,
    /// Total trials of the study (all workers together).
    #[arg(long)]
    trials: Option<u64>,
    /// Stop asking for trials after this many seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// Trials run in parallel by this process.
    #[arg(long)]
    n_jobs: Option<usize>,
    /// The store holding the study (sqlite:///path.db or postgresql://...).
    #[arg(long, env = "KILN_BACKEND_STORE_URI")]
    storage: Option<String>,
    /// The study name (created if missing, resumed if present).
    #[arg(long)]
    study: Option<String>,
    /// auto, random, grid, sobol, tpe, gp, cmaes, nsga2 (options as `tpe:multivariate=false`).
    #[arg(long)]
    sampler: Option<String>,
    /// none, median, percentile, sh, asha, hyperband.
    #[arg(long)]
    pruner: Option<String>,
    /// minimize or maximize; repeat for several objectives.
    #[arg(long = "direction")]
    directions: Vec<String>,
    /// Objective names, one per direction.
    #[arg(long = "metric")]
    metrics: Vec<String>,
    #[arg(long)]
    seed: Option<u64>,
    /// Where the plots go (the server's artifact destination).
    #[arg(long, env = "KILN_ARTIFACTS_DESTINATION", default_value = "./kiln-artifacts")]
    artifacts_destination: String,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// Environment variable name for a parameter.
pub fn env_name(param: &str) -> String {
    let up: String = param
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("KILN_PARAM_{up}")
}

/// Parses the value line of an objective command.
pub fn parse_values(line: &str, n: usize) -> std::result::Result<Vec<f64>, String> {
    let parts: Vec<&str> = line
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != n {
        return Err(format!(
            "the last output line '{line}' should hold {n} value(s), it holds {}",
            parts.len()
        ));
    }
    parts
        .iter()
        .map(|p| crate::study::parse_value(p).map_err(|_| format!("the last output line '{line}' is not a number")))
        .collect()
}

/// Runs the objective command for one trial.
fn run_command(
    cmd: &str,
    study: &str,
    trial: &mut Trial,
    space: &kiln_tune::SearchSpace,
    n_values: usize,
) -> std::result::Result<Vec<f64>, TrialError> {
    let params = trial.suggest_space(space)?;
    trial.flush()?;
    let json: serde_json::Map<String, serde_json::Value> =
        params.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
    let json = serde_json::Value::Object(json).to_string();
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(cmd)
        .env("KILN_PARAMS", &json)
        .env("KILN_TRIAL_NUMBER", trial.number().to_string())
        .env("KILN_STUDY", study)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in &params {
        c.env(env_name(k), v.to_string());
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        c.process_group(0);
    }
    let mut child = c
        .spawn()
        .map_err(|e| TrialError::Failed(format!("cannot start the objective command: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read stdin closes it early; that is fine.
        let _ = writeln!(stdin, "{json}");
    }
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| TrialError::Failed("no stdout from the objective command".into()))?;
    let mut last = String::new();
    let mut pruned = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| TrialError::Failed(format!("reading the command's output: {e}")))?;
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("kiln:report") {
            let mut it = rest.split_whitespace();
            let (Some(step), Some(value)) = (it.next(), it.next()) else {
                kill(&mut child);
                return Err(TrialError::Failed(format!(
                    "bad report line '{t}': expected `kiln:report STEP VALUE`"
                )));
            };
            let step: i64 = step
                .parse()
                .map_err(|_| TrialError::Failed(format!("bad report line '{t}': the step is not an integer")))?;
            let value = crate::study::parse_value(value)
                .map_err(|_| TrialError::Failed(format!("bad report line '{t}': the value is not a number")))?;
            trial.report(step, value)?;
            if trial.should_prune()? {
                kill(&mut child);
                pruned = true;
                break;
            }
        } else if !t.is_empty() {
            last = t.to_string();
        }
    }
    let status = child
        .wait()
        .map_err(|e| TrialError::Failed(format!("waiting for the objective command: {e}")))?;
    if pruned {
        return Err(TrialError::Pruned);
    }
    if !status.success() {
        return Err(TrialError::Failed(format!(
            "the objective command exited with {status}"
        )));
    }
    parse_values(&last, n_values).map_err(TrialError::Failed)
}

fn kill(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // The whole process group the command runs in (`sh -c` and whatever
        // it started); the group id is the child's pid (`process_group(0)`).
        if let Ok(pid) = i32::try_from(child.id()) {
            if pid > 1 {
                // SAFETY: kill(2) with a negative pid signals that process group only.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The study's settings from the flags and the `[tune]` section.
struct Settings {
    storage_uri: String,
    name: String,
    trials: Option<u64>,
    timeout: Option<f64>,
    n_jobs: usize,
    sampler: SamplerConfig,
    pruner: PrunerConfig,
    seed: Option<u64>,
}

fn settings(a: &Args, cfg: &TuneConfig, default_name: &str, default_storage: &str) -> Result<Settings> {
    let sampler = match &a.sampler {
        Some(s) => SamplerConfig::parse_cli(s).map_err(|e| anyhow!(e.message))?,
        None => cfg.sampler.clone().unwrap_or_default(),
    };
    let pruner = match &a.pruner {
        Some(p) => PrunerConfig::parse_cli(p).map_err(|e| anyhow!(e.message))?,
        None => cfg.pruner.clone().unwrap_or_default(),
    };
    let trials = a.trials.or(cfg.trials);
    let timeout = a.timeout.or(cfg.timeout);
    if trials.is_none() && timeout.is_none() {
        bail!("give --trials N or --timeout SECONDS (or `trials` / `timeout` in [tune])");
    }
    if trials == Some(0) {
        bail!("--trials must be at least 1");
    }
    if let Some(t) = timeout {
        if !(t > 0.0 && t.is_finite()) {
            bail!("--timeout must be a positive number of seconds");
        }
    }
    let n_jobs = a.n_jobs.or(cfg.n_jobs).unwrap_or(1);
    if n_jobs == 0 {
        bail!("--n-jobs must be at least 1");
    }
    Ok(Settings {
        storage_uri: a
            .storage
            .clone()
            .or(cfg.storage.clone())
            .unwrap_or_else(|| default_storage.to_string()),
        name: a
            .study
            .clone()
            .or(cfg.study.clone())
            .unwrap_or_else(|| default_name.to_string()),
        trials,
        timeout,
        n_jobs,
        sampler,
        pruner,
        seed: a.seed.or(cfg.seed),
    })
}

/// A study opened (created or resumed) in its store.
struct Opened {
    rt: tokio::runtime::Runtime,
    sql: Arc<kiln_tune::SqlStorage>,
    study: Study,
}

fn open_study(
    st: &Settings,
    space: kiln_tune::SearchSpace,
    directions: Vec<Direction>,
    metrics: Vec<String>,
) -> Result<Opened> {
    let mut opts = StudyOptions::new(st.name.clone(), directions[0]);
    opts.directions = directions;
    opts.metrics = metrics;
    opts.sampler = st.sampler.clone();
    opts.pruner = st.pruner.clone();
    opts.space = Some(space);
    opts.seed = st.seed;
    let (rt, sql) = crate::study::open_sql(&st.storage_uri)?;
    let storage: Arc<dyn Storage> = sql.clone();
    let study = Study::load_or_create(storage, opts).map_err(|e| anyhow!(e.message))?;
    Ok(Opened { rt, sql, study })
}

/// Runs `objective` on the study, saves the plots and prints the results.
fn optimize_and_report(a: &Args, st: &Settings, opened: &Opened, objective: &dyn kiln_tune::Objective) -> Result<()> {
    let Opened { rt, sql, study } = opened;
    let summary = study
        .optimize(
            objective,
            &OptimizeOptions {
                n_trials: st.trials,
                timeout: st.timeout.map(Duration::from_secs_f64),
                n_jobs: st.n_jobs,
            },
        )
        .map_err(|e| anyhow!(e.message))?;
    let files =
        crate::study::save_results(rt, sql.store(), study, &a.artifacts_destination, None).unwrap_or_else(|e| {
            eprintln!("warning: the plots were not saved: {e:#}");
            Vec::new()
        });
    let name = &st.name;
    let all = study.trials().map_err(|e| anyhow!(e.message))?;
    let n_values = study.directions().len();
    if a.json {
        let best: Vec<serde_json::Value> = study
            .best_trials()
            .map_err(|e| anyhow!(e.message))?
            .iter()
            .map(trial_json)
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "study": name, "complete": summary.complete, "pruned": summary.pruned, "failed": summary.failed,
                "n_trials": all.len(), "best_trials": best, "artifacts": files,
            }))
            .unwrap_or_default()
        );
        return Ok(());
    }
    print!("{}", trials_table(&all, &study.settings().metrics));
    println!(
        "this run: {} complete, {} pruned, {} failed; the study has {} trials",
        summary.complete,
        summary.pruned,
        summary.failed,
        all.len()
    );
    if n_values == 1 {
        if let Some(b) = study.best_trial().map_err(|e| anyhow!(e.message))? {
            println!("best trial {}: value {}", b.number, b.value().unwrap_or(f64::NAN));
            for (k, p) in &b.params {
                println!("  {k} = {}", p.value);
            }
        }
    } else {
        println!(
            "Pareto front: {} trials (kiln study best --study {name})",
            study.best_trials().map_err(|e| anyhow!(e.message))?.len()
        );
    }
    for f in files {
        println!("saved {f}");
    }
    Ok(())
}

/// `kiln tune kiln.toml`: the training pipeline is the objective; the best
/// configuration is written next to the config as `<name>.best.toml`.
fn tune_training_config(a: &Args, path: &std::path::Path) -> Result<()> {
    let cfg = kiln_train::config::LoadedConfig::load(&path.to_string_lossy())?;
    let tune = cfg.config.tune.clone().ok_or_else(|| {
        anyhow!(
            "{}: no [tune] section: add [tune] with [tune.space.<model kind>]",
            path.display()
        )
    })?;
    let store = a
        .storage
        .clone()
        .or(tune.storage.clone())
        .or(cfg.config.track.uri.clone())
        .unwrap_or_else(|| "sqlite:///kiln.db".into());
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kiln".into());
    let mut st = settings(a, &tune, &format!("{stem}-tune"), &store)?;
    st.storage_uri = store;
    let (objective, setup) = kiln_train::tune::TrainObjective::new(cfg, st.n_jobs)?;
    let direction = if setup.higher_is_better {
        Direction::Maximize
    } else {
        Direction::Minimize
    };
    if !a.json {
        println!(
            "tuning {} on {} rows ({}), {} {}; {} trials, {} at a time",
            setup.kinds.join(", "),
            setup.rows,
            setup
                .folds
                .map_or_else(|| "holdout validation".to_string(), |k| format!("{k}-fold CV")),
            if setup.higher_is_better {
                "maximizing"
            } else {
                "minimizing"
            },
            setup.metric,
            st.trials.map_or_else(|| "timed".to_string(), |t| t.to_string()),
            st.n_jobs
        );
    }
    let opened = open_study(&st, setup.space, vec![direction], vec![setup.metric.clone()])?;
    let f = |t: &mut Trial| -> std::result::Result<f64, TrialError> { objective.evaluate_trial(t) };
    optimize_and_report(a, &st, &opened, &f)?;
    if let Some(best) = opened.study.best_trial().map_err(|e| anyhow!(e.message))? {
        let params: std::collections::BTreeMap<String, kiln_tune::ParamValue> =
            best.params.iter().map(|(k, p)| (k.clone(), p.value.clone())).collect();
        let text = objective.best_config(&params)?;
        let out = path.with_file_name(format!("{stem}.best.toml"));
        std::fs::write(&out, text).map_err(|e| anyhow!("writing {}: {e}", out.display()))?;
        if !a.json {
            println!(
                "best configuration: {} (run it with `kiln train {}`)",
                out.display(),
                out.display()
            );
        }
    }
    Ok(())
}

pub fn run(a: Args) -> Result<()> {
    let config_path = a.config.clone().or(a.config_flag.clone());
    let Some(cmd) = a.objective_cmd.clone() else {
        let Some(p) = &config_path else {
            bail!("give --objective-cmd 'COMMAND' (with --space FILE or a config), or a kiln.toml to tune");
        };
        return tune_training_config(&a, p);
    };
    let cfg = match &config_path {
        Some(p) => TuneConfig::from_file(p).map_err(|e| anyhow!(e.message))?,
        None => TuneConfig::default(),
    };
    let space = match (&a.space, &config_path) {
        (Some(s), _) => load_space_file(s).map_err(|e| anyhow!(e.message))?,
        (None, Some(_)) => cfg.flat_space().map_err(|e| anyhow!(e.message))?,
        (None, None) => bail!("give --space FILE (or a kiln.toml with [tune.space])"),
    };
    let directions: Vec<Direction> = if a.directions.is_empty() {
        cfg.directions().map_err(|e| anyhow!(e.message))?
    } else {
        a.directions
            .iter()
            .map(|d| Direction::parse(d).map_err(|e| anyhow!(e.message)))
            .collect::<Result<_>>()?
    };
    let metrics = if a.metrics.is_empty() {
        cfg.metric_names().map_err(|e| anyhow!(e.message))?
    } else {
        a.metrics.clone()
    };
    let st = settings(&a, &cfg, "kiln-tune", "sqlite:///kiln.db")?;
    let opened = open_study(&st, space, directions, metrics)?;
    // A resumed study keeps its own space (workers must agree).
    let space = opened
        .study
        .space()
        .cloned()
        .ok_or_else(|| anyhow!("study '{}' has no declared space", st.name))?;
    let n_values = opened.study.directions().len();
    let name = st.name.clone();
    let objective =
        |t: &mut Trial| -> std::result::Result<Vec<f64>, TrialError> { run_command(&cmd, &name, t, &space, n_values) };
    optimize_and_report(&a, &st, &opened, &objective)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_lines_and_env_names() {
        assert_eq!(parse_values("0.5", 1).unwrap(), vec![0.5]);
        assert_eq!(parse_values("1, -2", 2).unwrap(), vec![1.0, -2.0]);
        assert!(parse_values("abc", 1).unwrap_err().contains("not a number"));
        assert!(parse_values("1 2", 1).unwrap_err().contains("1 value(s)"));
        assert!(parse_values("", 1).is_err());
        assert!(parse_values("nan", 1).unwrap()[0].is_nan());
        assert_eq!(env_name("learning-rate"), "KILN_PARAM_LEARNING_RATE");
    }
}
