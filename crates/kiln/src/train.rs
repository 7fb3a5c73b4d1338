//! `kiln train kiln.toml`: flags, progress bars and the leaderboard; the
//! pipeline itself is kiln-train's.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use kiln_train::config::LoadedConfig;
use kiln_train::pipeline::{self, Options, Progress, Report};

#[derive(clap::Args)]
pub struct Args {
    /// The training config (see `kiln train --help-config`... or the commented example in README).
    pub config: String,
    /// Where runs go: a store (sqlite:///kiln.db, postgresql://...) or an MLflow-compatible
    /// server (http://host:5000). Default: [track] uri, else sqlite:///kiln.db.
    #[arg(long, env = "KILN_TRACKING_URI")]
    pub tracking_uri: Option<String>,
    /// Artifact folder for the embedded store (default: [track] artifacts, else ./kiln-artifacts).
    #[arg(long)]
    pub artifacts: Option<String>,
    /// Experiment name (default: [track] experiment, else Default).
    #[arg(long)]
    pub experiment: Option<String>,
    /// Print the report as JSON on stdout instead of the leaderboard.
    #[arg(long)]
    pub json: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The tracking URI: flag, KILN_TRACKING_URI (via clap), MLFLOW_TRACKING_URI, config, default.
pub fn tracking_uri(flag: Option<&str>, config: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok().filter(|s| !s.is_empty()))
        .or_else(|| config.map(str::to_string))
        .unwrap_or_else(|| "sqlite:///kiln.db".to_string())
}

/// Progress bars on stderr (hidden when it is not a terminal or with --quiet).
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    quiet: bool,
}

impl Bars {
    pub fn new(quiet: bool) -> Bars {
        let multi = MultiProgress::new();
        if quiet {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        Bars {
            multi,
            bars: Mutex::new(HashMap::new()),
            quiet,
        }
    }
}

impl Progress for Bars {
    fn stage(&self, name: &str) {
        if !self.quiet {
            let _ = self.multi.println(format!("-- {name}"));
        }
    }
    fn candidate_started(&self, name: &str, iterations: Option<usize>) {
        let bar = match iterations {
            Some(n) => self.multi.add(ProgressBar::new(n as u64)),
            None => self.multi.add(ProgressBar::new_spinner()),
        };
        bar.set_style(
            ProgressStyle::with_template("  {prefix:<24} {bar:30} {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(name.to_string());
        if let Ok(mut m) = self.bars.lock() {
            m.insert(name.to_string(), bar);
        }
    }
    fn candidate_iteration(&self, name: &str, iteration: usize) {
        if let Ok(m) = self.bars.lock() {
            if let Some(b) = m.get(name) {
                b.set_position(iteration as u64);
            }
        }
    }
    fn candidate_finished(&self, name: &str, line: &str) {
        if let Ok(mut m) = self.bars.lock() {
            if let Some(b) = m.remove(name) {
                b.finish_and_clear();
            }
        }
        if !self.quiet {
            let _ = self.multi.println(format!("  {name:<24} {line}"));
        }
    }
}

fn human_bytes(n: usize) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n:.0} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.1} KB", n / 1024.0)
    } else {
        format!("{:.1} MB", n / 1024.0 / 1024.0)
    }
}

fn fmt_metric(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

/// The leaderboard and summary as text.
pub fn render(report: &Report) -> String {
    let m = &report.metric;
    let mut out = String::new();
    let dir = if report.higher_is_better {
        "higher is better"
    } else {
        "lower is better"
    };
    let valid_head = if report.cross_validated {
        format!("cv {m}")
    } else {
        format!("valid {m}")
    };
    out.push_str(&format!(
        "\n{} rows ({} train, {} valid, {} test{}), {} -> {} features, task {}, target '{}'\n",
        report.rows,
        report.train_rows,
        report.valid_rows,
        report.test_rows,
        if report.cross_validated {
            ", k-fold CV on train"
        } else {
            ""
        },
        report.features_in,
        report.features_out,
        report.task,
        report.target
    ));
    out.push_str(&format!("Leaderboard by {valid_head} ({dir}):\n\n"));
    out.push_str(&format!(
        "  {:>4}  {:<24} {:>12} {:>11} {:>9} {:>13} {:>10} {:>7}  {}\n",
        "rank",
        "model",
        valid_head,
        format!("test {m}"),
        "fit s",
        "predict us/row",
        "size",
        "iters",
        "run"
    ));
    for (i, e) in report.entries.iter().enumerate() {
        if let Some(err) = &e.error {
            out.push_str(&format!("  {:>4}  {:<24} failed: {err}\n", "-", e.name));
            continue;
        }
        let mut valid = fmt_metric(e.valid_metric(m));
        if let Some((_, sd)) = e.valid_std.iter().find(|(k, _)| k == m) {
            valid = format!("{valid}±{sd:.3}");
        }
        out.push_str(&format!(
            "  {:>4}  {:<24} {:>12} {:>11} {:>9.2} {:>13.2} {:>10} {:>7}  {}\n",
            i + 1,
            e.name,
            valid,
            fmt_metric(e.test_metric(m)),
            e.fit_seconds,
            e.predict_us_per_row,
            human_bytes(e.model_bytes),
            e.iterations.map_or_else(|| "-".to_string(), |n| n.to_string()),
            &e.run_id[..e.run_id.len().min(8)]
        ));
    }
    let stages: Vec<String> = report.stages.iter().map(|(k, v)| format!("{k} {v:.2}s")).collect();
    out.push_str(&format!("\nStages: {}\n", stages.join(", ")));
    if report.duplicates_removed > 0 || report.quarantined > 0 {
        out.push_str(&format!(
            "Data: {} duplicate rows removed, {} rows quarantined\n",
            report.duplicates_removed, report.quarantined
        ));
    }
    out.push_str(&format!("Data fingerprint: {}\n", report.fingerprint));
    if let Some(w) = report.winner() {
        out.push_str(&format!("Best: {} (run {})\n", w.name, w.run_id));
    }
    if let Some((name, version)) = &report.registered {
        let alias = report.alias.as_ref().map(|a| format!(" as @{a}")).unwrap_or_default();
        out.push_str(&format!("Registered {name} version {version}{alias}\n"));
    }
    out
}

/// Where to look at the runs.
pub fn ui_hint(report: &Report, uri: &str, artifacts: &str) -> String {
    if uri.starts_with("http://") || uri.starts_with("https://") {
        format!("UI: {}/runs/{}", uri.trim_end_matches('/'), report.parent_run_id)
    } else {
        format!(
            "UI: run `kiln server --backend-store-uri {uri} --artifacts-destination {artifacts}` and open http://127.0.0.1:5000/runs/{}",
            report.parent_run_id
        )
    }
}

pub fn run(args: Args) -> Result<()> {
    let cfg = LoadedConfig::load(&args.config)?;
    let uri = tracking_uri(args.tracking_uri.as_deref(), cfg.config.track.uri.as_deref());
    let artifacts = args
        .artifacts
        .clone()
        .or_else(|| cfg.config.track.artifacts.clone())
        .unwrap_or_else(|| "./kiln-artifacts".to_string());
    let bars = Bars::new(args.quiet || args.json);
    let tracker = kiln_train::tracking::open(&uri, &artifacts)?;
    let opts = Options {
        tracking_uri: Some(uri.clone()),
        artifacts: Some(artifacts.clone()),
        experiment: args.experiment.clone(),
    };
    let report = pipeline::train(&cfg, tracker.as_ref(), &opts, &bars)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
        println!("{}", ui_hint(&report, &uri, &artifacts));
    }
    Ok(())
}
