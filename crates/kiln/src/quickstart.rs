//! `kiln quickstart`: the whole training pipeline on a generated data set,
//! with no set-up and no network.
//!
//! It writes a seeded customer-churn table (numeric and categorical columns,
//! missing values, a yes/no target) and a commented `kiln.toml` into a folder,
//! then runs `kiln train` on it against the embedded store: baselines,
//! LightGBM with early stopping, a random forest, logistic regression and a
//! voting ensemble; the best is registered as `quickstart-churn@champion`.

use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use kiln_data::rng::Rng;
use kiln_train::config::LoadedConfig;
use kiln_train::pipeline::{self, Options};

#[derive(clap::Args)]
pub struct Args {
    /// Tracking store (embedded SQLite by default).
    #[arg(long, default_value = "sqlite:///kiln.db")]
    backend_store_uri: String,
    /// Artifact folder.
    #[arg(long, default_value = "./kiln-artifacts")]
    artifacts_destination: String,
    /// Folder for the generated data set and its kiln.toml.
    #[arg(long, default_value = "./kiln-quickstart")]
    dir: String,
    /// Rows to generate.
    #[arg(long, default_value_t = 5000)]
    rows: usize,
    /// Random seed (same seed, same data and models).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Port the printed UI address points at (start it with `kiln server`).
    #[arg(long, default_value_t = 5000)]
    port: u16,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

const PLANS: [&str; 3] = ["basic", "standard", "premium"];
const CONTRACTS: [&str; 3] = ["month-to-month", "one-year", "two-year"];
const REGIONS: [&str; 5] = ["north", "south", "east", "west", "central"];
const PAYMENTS: [&str; 4] = ["card", "bank-transfer", "invoice", "wallet"];

/// A churn table as CSV: the label depends on tenure, contract, support calls,
/// charges and plan, with noise; a few values are missing.
pub fn generate_csv(rows: usize, seed: u64) -> String {
    let mut r = Rng::new(seed);
    let mut csv = String::from(
        "customer_id,tenure_months,monthly_charges,total_charges,support_calls,age,logins_per_week,plan,contract,region,payment_method,churned\n",
    );
    for i in 0..rows {
        let tenure = (r.uniform() * 72.0).floor() + 1.0;
        let plan = r.index(3);
        let contract = match r.uniform() {
            u if u < 0.55 => 0,
            u if u < 0.8 => 1,
            _ => 2,
        };
        let monthly = 20.0 + plan as f64 * 25.0 + r.normal() * 8.0;
        let total = monthly * tenure * (1.0 + 0.05 * r.normal());
        let calls = (r.uniform() * r.uniform() * 9.0).floor();
        let age = (18.0 + r.uniform() * 60.0).floor();
        let logins = (r.uniform() * 14.0 * (1.0 - 0.3 * calls / 9.0)).max(0.0);
        let region = r.index(5);
        let pay = r.index(4);
        let z = 1.2 - 0.045 * tenure - 1.1 * contract as f64 + 0.45 * calls + 0.018 * (monthly - 50.0) - 0.12 * logins
            + if pay == 2 { 0.5 } else { 0.0 }
            + 0.8 * r.normal();
        let churned = if z > 0.0 { "yes" } else { "no" };
        let missing = |r: &mut Rng, p: f64, v: String| if r.uniform() < p { String::new() } else { v };
        let total_s = missing(&mut r, 0.02, format!("{total:.2}"));
        let age_s = missing(&mut r, 0.05, format!("{age}"));
        let region_s = missing(&mut r, 0.03, REGIONS[region].to_string());
        let _ = writeln!(
            csv,
            "C{:06},{tenure},{monthly:.2},{total_s},{calls},{age_s},{logins:.1},{},{},{region_s},{},{churned}",
            i + 1,
            PLANS[plan],
            CONTRACTS[contract],
            PAYMENTS[pay]
        );
    }
    csv
}

/// The quickstart's training config.
pub fn config_text(seed: u64) -> String {
    format!(
        r#"# kiln quickstart: edit and re-run with `kiln train kiln-quickstart/kiln.toml`.
seed = {seed}

[data]
source = "churn.csv"
target = "churned"
task = "binary"
drop = ["customer_id"]

[split]
scheme = "stratified"      # 70 / 15 / 15 train / valid / test
valid = 0.15
test = 0.15

[prep]
impute = "median"
missing_indicator = true
encode = "onehot"
scale = "standard"         # for the linear model; trees do not mind

[[model]]
kind = "lightgbm"
rounds = 400
learning_rate = 0.05
num_leaves = 15
early_stopping = 30

[[model]]
kind = "random_forest"
rounds = 100

[[model]]
kind = "logistic"

[[model]]
kind = "voting"
members = ["lightgbm", "logistic"]

[select]
metric = "auc"

[track]
experiment = "quickstart"
register = "quickstart-churn"
alias = "champion"
"#
    )
}

pub fn run(args: Args) -> Result<()> {
    if args.rows < 200 {
        bail!("--rows must be at least 200, got {}", args.rows);
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir))?;
    let data = std::path::Path::new(&args.dir).join("churn.csv");
    let cfg_path = std::path::Path::new(&args.dir).join("kiln.toml");
    std::fs::write(&data, generate_csv(args.rows, args.seed)).with_context(|| format!("writing {}", data.display()))?;
    std::fs::write(&cfg_path, config_text(args.seed)).with_context(|| format!("writing {}", cfg_path.display()))?;
    println!(
        "kiln quickstart: {} generated customers (seed {}) in {}, config {}",
        args.rows,
        args.seed,
        data.display(),
        cfg_path.display()
    );
    let cfg = LoadedConfig::load(&cfg_path.to_string_lossy())?;
    let tracker = kiln_train::tracking::open(&args.backend_store_uri, &args.artifacts_destination)?;
    let bars = crate::train::Bars::new(args.quiet);
    let report = pipeline::train(&cfg, tracker.as_ref(), &Options::default(), &bars)?;
    print!("{}", crate::train::render(&report));
    println!(
        "Store: {}   artifacts: {}",
        args.backend_store_uri,
        crate::absolute(&args.artifacts_destination).display()
    );
    println!(
        "UI: start `kiln server --backend-store-uri {} --artifacts-destination {}` and open http://127.0.0.1:{}/runs/{}",
        args.backend_store_uri, args.artifacts_destination, args.port, report.parent_run_id
    );
    println!(
        "Score new rows: kiln predict models:/quickstart-churn@champion {} -o scores.csv",
        data.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_seeded_and_has_both_classes() {
        let a = generate_csv(300, 7);
        assert_eq!(a, generate_csv(300, 7));
        assert_ne!(a, generate_csv(300, 8));
        assert_eq!(a.lines().count(), 301);
        assert!(a.contains(",yes\n") && a.contains(",no\n"));
        let cfg = LoadedConfig::parse("kiln.toml", &config_text(1)).unwrap();
        assert_eq!(cfg.models.len(), 4);
    }
}
