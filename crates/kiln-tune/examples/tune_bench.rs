//! Benchmark driver for `bench/tune` (built in release by bench/tune/run.sh).
//!
//!   tune_bench quality  --sampler gp --function branin --seeds 10 --trials 100
//!       one JSON line per seed: best value after each trial count
//!   tune_bench overhead --storage sqlite:///x.db --sampler tpe --function hartmann6 --trials 1100
//!       ask+tell time per trial (objective excluded) around trial 1000
//!       (`--storage memory`: the in-process storage, for the sampler's own time)
//!   tune_bench worker   --storage postgresql://... --study NAME --trials 200 --sleep-ms 100 [--n-jobs 1]
//!       one distributed worker with a sleeping objective
//!
//! The objective functions are the standard test functions; samplers only
//! ever see their parameter bounds and values.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_tune::study::{OptimizeOptions, Outcome, Study, StudyOptions};
use kiln_tune::{Direction, MemoryStorage, SamplerConfig, SearchSpace, Storage, Trial, TrialError};

fn branin(x: &[f64]) -> f64 {
    let (a, b, c, r, s, t) = (
        1.0,
        5.1 / (4.0 * std::f64::consts::PI.powi(2)),
        5.0 / std::f64::consts::PI,
        6.0,
        10.0,
        1.0 / (8.0 * std::f64::consts::PI),
    );
    a * (x[1] - b * x[0] * x[0] + c * x[0] - r).powi(2) + s * (1.0 - t) * x[0].cos() + s
}

fn hartmann6(x: &[f64]) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
        [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
        [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
        [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
    ];
    -(0..4)
        .map(|i| {
            let inner: f64 = (0..6).map(|j| A[i][j] * (x[j] - P[i][j] * 1e-4).powi(2)).sum();
            ALPHA[i] * (-inner).exp()
        })
        .sum::<f64>()
}

fn styblinski_tang(x: &[f64]) -> f64 {
    0.5 * x.iter().map(|v| v.powi(4) - 16.0 * v * v + 5.0 * v).sum::<f64>()
}

struct Function {
    f: fn(&[f64]) -> f64,
    bounds: Vec<(f64, f64)>,
}

fn function(name: &str) -> Function {
    match name {
        "branin" => Function {
            f: branin,
            bounds: vec![(-5.0, 10.0), (0.0, 15.0)],
        },
        "hartmann6" => Function {
            f: hartmann6,
            bounds: vec![(0.0, 1.0); 6],
        },
        "styblinski_tang10" => Function {
            f: styblinski_tang,
            bounds: vec![(-5.0, 5.0); 10],
        },
        other => {
            eprintln!("unknown function {other}: branin, hartmann6, styblinski_tang10");
            std::process::exit(2)
        }
    }
}

fn space_of(f: &Function) -> SearchSpace {
    let decls: serde_json::Map<String, serde_json::Value> = f
        .bounds
        .iter()
        .enumerate()
        .map(|(i, (lo, hi))| (format!("x{i}"), serde_json::json!({"float": [lo, hi]})))
        .collect();
    SearchSpace::from_json(&serde_json::Value::Object(decls)).expect("space")
}

fn evaluate(f: &Function, trial: &mut Trial) -> Result<f64, TrialError> {
    let mut x = Vec::with_capacity(f.bounds.len());
    for (i, (lo, hi)) in f.bounds.iter().enumerate() {
        x.push(trial.suggest_float(&format!("x{i}"), *lo, *hi, false)?);
    }
    Ok((f.f)(&x))
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn opts(name: &str, sampler: &str, seed: u64, space: SearchSpace) -> StudyOptions {
    let mut o = StudyOptions::new(name, Direction::Minimize);
    o.sampler = SamplerConfig::parse_cli(sampler).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    o.seed = Some(seed);
    o.space = Some(space);
    o
}

fn quality(args: &[String]) {
    let sampler = arg(args, "--sampler").unwrap_or_else(|| "tpe".into());
    let fname = arg(args, "--function").unwrap_or_else(|| "branin".into());
    let seeds: u64 = arg(args, "--seeds").and_then(|s| s.parse().ok()).unwrap_or(10);
    let trials: u64 = arg(args, "--trials").and_then(|s| s.parse().ok()).unwrap_or(100);
    let f = function(&fname);
    for seed in 0..seeds {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let study = Study::create(storage, opts("q", &sampler, seed, space_of(&f))).expect("study");
        let start = Instant::now();
        let mut best = f64::INFINITY;
        let mut curve = Vec::with_capacity(trials as usize);
        for _ in 0..trials {
            let mut t = study.ask().expect("ask");
            let v = evaluate(&f, &mut t).expect("objective");
            study.tell(&t, Outcome::Complete(vec![v])).expect("tell");
            best = best.min(v);
            curve.push(best);
        }
        println!(
            "{}",
            serde_json::json!({"kiln": sampler, "function": fname, "seed": seed, "curve": curve,
                               "seconds": start.elapsed().as_secs_f64()})
        );
    }
}

fn overhead(args: &[String]) {
    let storage_uri = arg(args, "--storage").expect("--storage URI");
    let sampler = arg(args, "--sampler").unwrap_or_else(|| "tpe".into());
    let fname = arg(args, "--function").unwrap_or_else(|| "hartmann6".into());
    let trials: u64 = arg(args, "--trials").and_then(|s| s.parse().ok()).unwrap_or(1100);
    let f = function(&fname);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let storage: Arc<dyn Storage> = if storage_uri == "memory" {
        Arc::new(MemoryStorage::new())
    } else {
        Arc::new(kiln_tune::SqlStorage::open_blocking(&rt, &storage_uri).expect("store"))
    };
    let study = Study::create(storage, opts("overhead", &sampler, 1, space_of(&f))).expect("study");
    let mut per_trial = Vec::with_capacity(trials as usize);
    for _ in 0..trials {
        let t0 = Instant::now();
        let mut t = study.ask().expect("ask");
        let mut x = Vec::new();
        for (i, (lo, hi)) in f.bounds.iter().enumerate() {
            x.push(t.suggest_float(&format!("x{i}"), *lo, *hi, false).expect("suggest"));
        }
        let ask_s = t0.elapsed();
        let v = (f.f)(&x);
        let t1 = Instant::now();
        study.tell(&t, Outcome::Complete(vec![v])).expect("tell");
        per_trial.push((ask_s + t1.elapsed()).as_secs_f64() * 1e3);
    }
    let window: Vec<f64> = per_trial[(950.min(per_trial.len()))..(1050.min(per_trial.len()))].to_vec();
    let mut sorted = window.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mean = window.iter().sum::<f64>() / window.len().max(1) as f64;
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    println!(
        "{}",
        serde_json::json!({"kiln": sampler, "function": fname, "storage": storage_uri.split(':').next(),
                           "ms_per_trial_mean_950_1050": mean, "ms_per_trial_median_950_1050": median,
                           "ms_first_10": per_trial.iter().take(10).sum::<f64>() / 10.0})
    );
}

fn worker(args: &[String]) {
    let storage_uri = arg(args, "--storage").expect("--storage URI");
    let name = arg(args, "--study").expect("--study NAME");
    let trials: u64 = arg(args, "--trials").and_then(|s| s.parse().ok()).unwrap_or(100);
    let sleep_ms: u64 = arg(args, "--sleep-ms").and_then(|s| s.parse().ok()).unwrap_or(100);
    let n_jobs: usize = arg(args, "--n-jobs").and_then(|s| s.parse().ok()).unwrap_or(1);
    let sampler = arg(args, "--sampler").unwrap_or_else(|| "tpe".into());
    let f = function("hartmann6");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let storage: Arc<dyn Storage> = Arc::new(kiln_tune::SqlStorage::open_blocking(&rt, &storage_uri).expect("store"));
    let study = Study::load_or_create(storage, opts(&name, &sampler, 7, space_of(&f))).expect("study");
    let start = Instant::now();
    let objective = |t: &mut Trial| -> Result<f64, TrialError> {
        let v = evaluate(&f, t)?;
        std::thread::sleep(Duration::from_millis(sleep_ms));
        Ok(v)
    };
    let summary = study
        .optimize(
            &objective,
            &OptimizeOptions {
                n_trials: Some(trials),
                timeout: None,
                n_jobs,
            },
        )
        .expect("optimize");
    println!(
        "{}",
        serde_json::json!({"worker": std::process::id(), "complete": summary.complete, "failed": summary.failed,
                           "seconds": start.elapsed().as_secs_f64()})
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("quality") => quality(&args),
        Some("overhead") => overhead(&args),
        Some("worker") => worker(&args),
        _ => {
            eprintln!("usage: tune_bench quality|overhead|worker ...");
            std::process::exit(2)
        }
    }
}
