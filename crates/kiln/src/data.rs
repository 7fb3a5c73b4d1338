//! `kiln data infer | validate | profile | split | fingerprint`: the data layer
//! (crate `kiln-data`) on the command line. Flags in, library calls, a
//! readable table (or `--json`) out; a bad input exits non-zero with the
//! library's message, which names the file, row and column.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args as ClapArgs, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use kiln_data::contract::{CheckOptions, Contract, InferOptions, Policy};
use kiln_data::fingerprint::fingerprint;
use kiln_data::profile::{compare, profile, DriftLevel, Profile, ProfileOptions};
use kiln_data::read::{self, Format, ReadOptions};
use kiln_data::split::{folds_table, split_table, FoldScheme, Fractions, SplitScheme};
use kiln_data::write::{write_table_as, OutputFormat};
use kiln_data::Table;

/// Inputs at least this large get a progress bar (on a terminal).
const PROGRESS_BYTES: u64 = 32 * 1024 * 1024;

/// Writes to stdout; a closed pipe (`kiln data profile x | head`) ends the
/// process quietly with status 141, as the default SIGPIPE action would,
/// instead of panicking the way `println!` does.
fn emit(text: &str) {
    use std::io::Write;
    let mut so = std::io::stdout().lock();
    if let Err(e) = so.write_all(text.as_bytes()).and_then(|()| so.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

macro_rules! out {
    ($($t:tt)*) => { emit(&format!($($t)*)) };
}

macro_rules! outln {
    ($($t:tt)*) => { emit(&format!("{}\n", format_args!($($t)*))) };
}

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Write a first data contract (types, nullability, ranges, categories) for a source, to edit.
    ///
    /// Example: kiln data infer data/churn.csv -o churn.contract.toml
    Infer(InferArgs),
    /// Check a source against a contract: every violation with file, row and column, a count per rule.
    ///
    /// Exits 1 when the contract fails. Under policy = "quarantine" the bad rows are written to the
    /// quarantine file and the command succeeds unless a schema rule or min_rows fails.
    ///
    /// Example: kiln data validate data/churn.csv --contract churn.contract.toml --quarantine bad_rows.csv
    Validate(ValidateArgs),
    /// Profile every column (counts, quantiles, histogram, top categories); optionally report drift
    /// against an earlier profile.
    ///
    /// Example: kiln data profile data/churn.csv -o churn.profile.json
    ///
    /// Example: kiln data profile data/new.csv --compare churn.profile.json --fail-on major
    Profile(ProfileArgs),
    /// Split a source into train / valid / test files (or k folds), seeded and reproducible.
    ///
    /// Example: kiln data split data/churn.csv -o splits --scheme stratified --column churned --seed 42
    ///
    /// Example: kiln data split data/churn.csv -o folds --folds 5 --scheme group --column customer_id
    Split(SplitArgs),
    /// Print a content fingerprint of a source: independent of file, row and column order.
    ///
    /// Example: kiln data fingerprint data/
    Fingerprint(FingerprintArgs),
}

/// How to read the source (shared by every subcommand).
#[derive(ClapArgs)]
struct SourceArgs {
    /// A file, folder or glob of CSV, JSON/NDJSON, Parquet or Avro files.
    source: String,
    /// The format, when the extensions do not tell it: csv, json, ndjson, parquet, avro.
    #[arg(long)]
    format: Option<String>,
    /// The CSV delimiter (one character; `\t` for tabs).
    #[arg(long)]
    delimiter: Option<String>,
    /// Print JSON instead of a readable table.
    #[arg(long)]
    json: bool,
}

#[derive(ClapArgs)]
struct InferArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// Where to write the contract (default: print it).
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// A name for the contract.
    #[arg(long)]
    name: Option<String>,
    /// String columns with at most this many distinct values get a categories list (0: never).
    #[arg(long, default_value_t = 20)]
    max_categories: usize,
    /// Do not write observed min/max ranges.
    #[arg(long)]
    no_ranges: bool,
}

#[derive(ClapArgs)]
struct ValidateArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// The contract (TOML).
    #[arg(long, short)]
    contract: PathBuf,
    /// Where quarantined rows go (.csv or .parquet); overrides the contract's `quarantine`.
    #[arg(long)]
    quarantine: Option<PathBuf>,
    /// Write the good rows here (.csv or .parquet) when the check passes or quarantines.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Examples to show per rule (counts are always exact).
    #[arg(long, default_value_t = 5)]
    examples: usize,
}

#[derive(ClapArgs)]
struct ProfileArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// Write the profile as JSON here.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Compare with this earlier profile (JSON) and report drift per column.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// With --compare: exit 1 when a column drifts this much or more (moderate or major).
    #[arg(long, requires = "compare")]
    fail_on: Option<String>,
    /// Histogram bins per numeric column.
    #[arg(long, default_value_t = 20)]
    bins: usize,
    /// Top categories kept per string column.
    #[arg(long, default_value_t = 20)]
    top: usize,
}

#[derive(ClapArgs)]
struct SplitArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// The output folder (created); it gets train/valid/test files, or fold-N/ folders, and split.json.
    #[arg(long, short)]
    output: PathBuf,
    /// random, stratified (by --column), group (by --column) or time (ordered by --column).
    #[arg(long, default_value = "random")]
    scheme: String,
    /// The label, group or time column the scheme needs.
    #[arg(long)]
    column: Option<String>,
    /// Share of rows for validation.
    #[arg(long, default_value_t = 0.15)]
    valid: f64,
    /// Share of rows for the test set.
    #[arg(long, default_value_t = 0.15)]
    test: f64,
    /// Make k cross-validation folds instead (time: expanding-window folds).
    #[arg(long)]
    folds: Option<usize>,
    /// The random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output file format: parquet or csv.
    #[arg(long, default_value = "parquet")]
    output_format: String,
}

#[derive(ClapArgs)]
struct FingerprintArgs {
    #[command(flatten)]
    src: SourceArgs,
}

/// Runs a `kiln data` subcommand.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        DataCommand::Infer(a) => infer(a),
        DataCommand::Validate(a) => validate(a),
        DataCommand::Profile(a) => run_profile(a),
        DataCommand::Split(a) => split(a),
        DataCommand::Fingerprint(a) => run_fingerprint(a),
    }
}

fn read_options(src: &SourceArgs) -> Result<ReadOptions> {
    let mut opts = ReadOptions::default();
    if let Some(f) = &src.format {
        opts.format = Some(f.parse::<Format>().map_err(|e| anyhow!("--format: {e}"))?);
    }
    if let Some(d) = &src.delimiter {
        let d = if d == "\\t" { "\t" } else { d.as_str() };
        let b = d.as_bytes();
        if b.len() != 1 {
            bail!("--delimiter must be one character, not '{d}'");
        }
        opts.csv.delimiter = b[0];
    }
    Ok(opts)
}

/// Reads the source, with a progress bar on a terminal for large inputs.
fn read_source(src: &SourceArgs) -> Result<Table> {
    let mut opts = read_options(src)?;
    let bar: Arc<OnceLock<ProgressBar>> = Arc::new(OnceLock::new());
    let for_cb = bar.clone();
    opts.progress = Some(Arc::new(move |done, total| {
        if total < PROGRESS_BYTES {
            return;
        }
        let pb = for_cb.get_or_init(|| {
            let pb = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} reading [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            ) {
                pb.set_style(style.progress_chars("=> "));
            }
            pb.enable_steady_tick(Duration::from_millis(200));
            pb
        });
        pb.set_position(done.min(total));
    }));
    let result = read::read(&src.source, &opts);
    if let Some(pb) = bar.get() {
        pb.finish_and_clear();
    }
    Ok(result?)
}

fn print_json(v: &serde_json::Value) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn infer(a: InferArgs) -> Result<()> {
    let table = read_source(&a.src)?;
    let contract = Contract::infer(
        &table,
        &InferOptions {
            name: a.name.clone(),
            max_categories: a.max_categories,
            ranges: !a.no_ranges,
        },
    )?;
    match &a.output {
        Some(path) => {
            contract.save(path)?;
            if a.src.json {
                print_json(&json!({
                    "contract": path.display().to_string(),
                    "rows": table.num_rows(),
                    "columns": serde_json::to_value(&contract.columns)?,
                }))?;
            } else {
                outln!(
                    "wrote a contract for {} columns ({} rows seen) to {}",
                    contract.columns.len(),
                    table.num_rows(),
                    path.display()
                );
                for c in &contract.columns {
                    outln!(
                        "  {:<24} {:<9} {}",
                        c.name,
                        format!("{:?}", c.kind).to_lowercase(),
                        if c.nullable { "nullable" } else { "not null" }
                    );
                }
            }
        }
        None if a.src.json => print_json(&serde_json::to_value(&contract)?)?,
        None => out!("{}", contract.to_toml()?),
    }
    Ok(())
}

fn validate(a: ValidateArgs) -> Result<()> {
    let contract = Contract::load(&a.contract)?;
    let table = read_source(&a.src)?;
    let opts = CheckOptions {
        examples: a.examples,
        quarantine_path: a.quarantine.clone(),
    };
    let report = contract.validate(&table, &opts)?;
    let quarantining = contract.policy == Policy::Quarantine && !report.passed && !report.has_table_violations();
    let outcome = if report.passed || quarantining {
        Some(contract.enforce(&table, &opts)?)
    } else {
        None
    };
    if let (Some(out), Some(path)) = (&outcome, &a.output) {
        let format = OutputFormat::from_path(path)?;
        write_table_as(&out.table, path, format)?;
    }
    if a.src.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(out) = &outcome {
            v["quarantined_rows"] = json!(out.quarantined.as_ref().map_or(0, |q| q.num_rows()));
            v["quarantine_file"] = json!(out.quarantine_path.as_ref().map(|p| p.display().to_string()));
        }
        print_json(&v)?;
    } else {
        out!("{report}");
        if let Some(out) = &outcome {
            if let (Some(q), Some(p)) = (&out.quarantined, &out.quarantine_path) {
                outln!("quarantined {} rows to {}", q.num_rows(), p.display());
            }
            if let Some(path) = &a.output {
                outln!("wrote {} good rows to {}", out.table.num_rows(), path.display());
            }
        }
    }
    if report.passed || quarantining {
        Ok(())
    } else {
        Err(anyhow!(
            "{} does not keep {}: {}",
            a.src.source,
            a.contract.display(),
            report.summary()
        ))
    }
}

fn run_profile(a: ProfileArgs) -> Result<()> {
    let fail_on = match a.fail_on.as_deref() {
        None => None,
        Some("moderate") => Some(DriftLevel::Moderate),
        Some("major") => Some(DriftLevel::Major),
        Some(other) => bail!("--fail-on '{other}': expected moderate or major"),
    };
    let reference = a.compare.as_deref().map(Profile::load).transpose()?;
    let table = read_source(&a.src)?;
    let p = profile(
        &table,
        &ProfileOptions {
            bins: a.bins.max(1),
            top_k: a.top,
            reference: reference.clone(),
            ..ProfileOptions::default()
        },
    )?;
    if let Some(path) = &a.output {
        p.save(path)?;
    }
    let drift = reference.as_ref().map(|r| compare(r, &p));
    if a.src.json {
        let mut v = json!({ "profile": serde_json::to_value(&p)? });
        if let Some(d) = &drift {
            v["drift"] = serde_json::to_value(d)?;
        }
        print_json(&v)?;
    } else {
        out!("{p}");
        if let Some(d) = &drift {
            outln!("");
            out!("{d}");
        }
        if let Some(path) = &a.output {
            outln!("wrote the profile to {}", path.display());
        }
    }
    if let (Some(level), Some(d)) = (fail_on, &drift) {
        if d.worst() >= level {
            bail!(
                "drift against {}: {:?} (at or above --fail-on {:?})",
                a.compare
                    .as_deref()
                    .map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                d.worst(),
                level
            );
        }
    }
    Ok(())
}

fn split(a: SplitArgs) -> Result<()> {
    let format = OutputFormat::parse(&a.output_format).map_err(|e| anyhow!("--output-format: {e}"))?;
    let fractions = Fractions::with_valid_test(a.valid, a.test).map_err(|e| anyhow!("--valid/--test: {e}"))?;
    // Check the scheme before reading (a typo should not cost a long read).
    let scheme = SplitScheme::parse(&a.scheme, a.column.as_deref())?;
    let table = read_source(&a.src)?;
    std::fs::create_dir_all(&a.output).with_context(|| format!("creating {}", a.output.display()))?;
    let ext = format.extension();
    let mut summary = Vec::new();
    match a.folds {
        Some(k) => {
            let folds = folds_table(&table, &FoldScheme::parse(&a.scheme, a.column.as_deref())?, k, a.seed)?;
            for (i, f) in folds.iter().enumerate() {
                let dir = a.output.join(format!("fold-{}", i + 1));
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                for (name, rows) in [("train", &f.train), ("valid", &f.valid)] {
                    summary.push(write_part(
                        &table,
                        rows,
                        &dir.join(format!("{name}.{ext}")),
                        format,
                        name,
                        Some(i + 1),
                    )?);
                }
            }
        }
        None => {
            let s = split_table(&table, &scheme, &fractions, a.seed)?;
            for (name, rows) in s.parts() {
                if rows.is_empty() {
                    continue;
                }
                summary.push(write_part(
                    &table,
                    rows,
                    &a.output.join(format!("{name}.{ext}")),
                    format,
                    name,
                    None,
                )?);
            }
        }
    }
    let manifest = json!({
        "source": a.src.source,
        "scheme": a.scheme,
        "column": a.column,
        "seed": a.seed,
        "fractions": if a.folds.is_none() { serde_json::to_value(fractions)? } else { serde_json::Value::Null },
        "folds": a.folds,
        "rows": table.num_rows(),
        "parts": summary,
    });
    let manifest_path = a.output.join("split.json");
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest)?)
        .with_context(|| format!("writing {}", manifest_path.display()))?;
    if a.src.json {
        print_json(&manifest)?;
    } else {
        outln!("{} rows split into {}", table.num_rows(), a.output.display());
        outln!("{:<6} {:<6} {:>10} {:>7}  file", "fold", "part", "rows", "share");
        for p in &summary {
            let rows = p["rows"].as_u64().unwrap_or(0);
            let share = if table.num_rows() == 0 {
                0.0
            } else {
                rows as f64 / table.num_rows() as f64 * 100.0
            };
            outln!(
                "{:<6} {:<6} {:>10} {:>6.1}%  {}",
                p["fold"].as_u64().map(|f| f.to_string()).unwrap_or_else(|| "-".into()),
                p["part"].as_str().unwrap_or(""),
                rows,
                share,
                p["file"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

fn write_part(
    table: &Table,
    rows: &[usize],
    path: &Path,
    format: OutputFormat,
    name: &str,
    fold: Option<usize>,
) -> Result<serde_json::Value> {
    let part = table.take(rows)?;
    write_table_as(&part, path, format)?;
    Ok(json!({
        "part": name,
        "fold": fold,
        "rows": rows.len(),
        "file": path.display().to_string(),
        "fingerprint": fingerprint(&part)?.to_hex(),
    }))
}

fn run_fingerprint(a: FingerprintArgs) -> Result<()> {
    let table = read_source(&a.src)?;
    let fp = fingerprint(&table)?;
    if a.src.json {
        print_json(&json!({
            "source": a.src.source,
            "fingerprint": fp.to_hex(),
            "rows": table.num_rows(),
            "columns": table.num_columns(),
        }))
    } else {
        outln!(
            "{fp}  {} ({} rows, {} columns)",
            a.src.source,
            table.num_rows(),
            table.num_columns()
        );
        Ok(())
    }
}
