//! The training pipeline end to end on the embedded store: each task type,
//! cross-validation, determinism, what lands in the store, and the bad inputs
//! that must fail before anything is written (or mark the run FAILED after).

use std::fmt::Write as _;
use std::path::Path;

use kiln_learn::bundle::ModelBundle;
use kiln_store::SearchRuns;
use kiln_train::config::LoadedConfig;
use kiln_train::pipeline::{self, Options, Quiet, Report};
use kiln_train::tracking::{fetch_model, EmbeddedTracker, Tracker};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A small table: two numeric features, one categorical, a few missing values,
/// and a target of the requested kind.
fn write_data(dir: &Path, rows: usize, target: &str) -> String {
    let mut r = Lcg(11);
    let mut s = String::from("id,x1,x2,color,y\n");
    for i in 0..rows {
        let (x1, x2) = (r.next() * 4.0 - 2.0, r.next() * 4.0 - 2.0);
        let color = ["red", "green", "blue"][(r.next() * 3.0) as usize % 3];
        let bump = if color == "red" { 0.8 } else { 0.0 };
        let z = x1 + 0.5 * x2 + bump + 0.3 * (r.next() - 0.5);
        let y = match target {
            "binary" => (if z > 0.3 { "yes" } else { "no" }).to_string(),
            "multiclass" => (if z < -0.5 {
                "low"
            } else if z < 0.8 {
                "mid"
            } else {
                "high"
            })
            .to_string(),
            _ => format!("{:.4}", 3.0 * z + 1.0),
        };
        let x2s = if i % 37 == 5 { String::new() } else { format!("{x2:.4}") };
        let _ = writeln!(s, "{i},{x1:.4},{x2s},{color},{y}");
    }
    let path = dir.join("data.csv");
    std::fs::write(&path, s).unwrap();
    path.to_string_lossy().into_owned()
}

fn config(data: &str, task: &str, extra: &str) -> String {
    format!(
        r#"seed = 3
[data]
source = "{data}"
target = "y"
task = "{task}"
drop = ["id"]

[split]
valid = 0.2
test = 0.2

[prep]
scale = "standard"

[[model]]
kind = "lightgbm"
rounds = 40
num_leaves = 7
min_data_in_leaf = 5
early_stopping = 10

[[model]]
kind = "{linear}"

{extra}

[track]
experiment = "pipeline-test"
"#,
        linear = if task == "regression" { "linear" } else { "logistic" }
    )
}

struct Env {
    dir: tempfile::TempDir,
    tracker: EmbeddedTracker,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", dir.path().join("kiln.db").display());
    let tracker = EmbeddedTracker::open(&db, &dir.path().join("artifacts").to_string_lossy()).unwrap();
    Env { dir, tracker }
}

fn train(env: &Env, text: &str) -> anyhow::Result<Report> {
    let path = env.dir.path().join("kiln.toml");
    std::fs::write(&path, text).unwrap();
    let cfg = LoadedConfig::load(&path.to_string_lossy())?;
    pipeline::train(&cfg, &env.tracker, &Options::default(), &Quiet)
}

fn runs(env: &Env) -> Vec<kiln_store::Run> {
    let store = env.tracker.store();
    let exp = match env.tracker.block_on(store.get_experiment_by_name("pipeline-test")) {
        Ok(e) => e.experiment_id,
        Err(_) => return Vec::new(),
    };
    env.tracker
        .block_on(store.search_runs(&SearchRuns {
            experiment_ids: vec![exp],
            max_results: Some(1000),
            ..Default::default()
        }))
        .unwrap()
        .items
}

fn tag<'a>(run: &'a kiln_store::Run, key: &str) -> Option<&'a str> {
    run.data.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

#[test]
fn binary_pipeline_tracks_every_candidate_and_registers_the_winner() {
    let e = env();
    let data = write_data(e.dir.path(), 600, "binary");
    let text = config(&data, "binary", "").replace(
        "experiment = \"pipeline-test\"",
        "experiment = \"pipeline-test\"\nregister = \"m\"\nalias = \"champion\"",
    );
    let report = train(&e, &text).unwrap();
    assert_eq!(report.task, "binary");
    assert_eq!(report.metric, "auc");
    let winner = report.winner().expect("a winner");
    assert!(
        !winner.baseline,
        "a real model should beat the baselines: {:?}",
        report.entries
    );
    assert!(winner.valid_metric("auc").unwrap() > 0.9, "{:?}", winner.valid);
    // Baselines are there and are worse.
    let majority = report.entries.iter().find(|x| x.name == "baseline:majority").unwrap();
    assert_eq!(majority.valid_metric("auc"), Some(0.5));
    assert_eq!(report.entries.len(), 5);

    // The store: one parent, one child per candidate, all FINISHED.
    let all = runs(&e);
    assert_eq!(all.len(), 6);
    let parent = all.iter().find(|r| r.info.run_id == report.parent_run_id).unwrap();
    assert_eq!(parent.info.status, "FINISHED");
    assert_eq!(tag(parent, "kiln.data.fingerprint"), Some(report.fingerprint.as_str()));
    assert!(tag(parent, "kiln.config_hash").is_some() && tag(parent, "kiln.version").is_some());
    assert_eq!(tag(parent, "kiln.seed"), Some("3"));
    for child in all.iter().filter(|r| r.info.run_id != report.parent_run_id) {
        assert_eq!(tag(child, "mlflow.parentRunId"), Some(report.parent_run_id.as_str()));
        assert_eq!(child.info.status, "FINISHED");
    }
    let lgb = all
        .iter()
        .find(|r| tag(r, "kiln.candidate") == Some("lightgbm"))
        .unwrap();
    assert!(lgb.data.metrics.iter().any(|m| m.key == "valid_auc"));
    assert!(lgb.data.metrics.iter().any(|m| m.key == "test_auc"));
    assert!(lgb.data.params.iter().any(|p| p.key == "num_leaves" && p.value == "7"));
    // Learning curve: one point per boosting round.
    let hist = e
        .tracker
        .block_on(
            e.tracker
                .store()
                .get_metric_history(&lgb.info.run_id, "valid_logloss", None, None),
        )
        .unwrap();
    assert!(hist.items.len() > 5, "history {}", hist.items.len());

    // Artifacts: the model bundle and the plots of the winner's run.
    let root = e.tracker.run_artifact_root(&winner.run_id).unwrap();
    for f in [
        "model/kiln-model.json",
        "model/MLmodel",
        "plots/roc.svg",
        "plots/confusion_matrix.svg",
        "errors/worst_test_rows.csv",
    ] {
        let bytes = e
            .tracker
            .download(&format!("{root}/{f}"))
            .unwrap_or_else(|err| panic!("{f}: {err}"));
        assert!(!bytes.is_empty(), "{f}");
    }
    // Worst rows: sorted by loss, each naming its file and row, with its raw values.
    let worst = String::from_utf8(
        e.tracker
            .download(&format!("{root}/errors/worst_test_rows.csv"))
            .unwrap(),
    )
    .unwrap();
    let mut lines = worst.lines();
    assert_eq!(
        lines.next().unwrap(),
        "_row,_loss,_predicted,_probability,id,x1,x2,color,y"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(!rows.is_empty() && rows.len() <= 100);
    let losses: Vec<f64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert!(losses.windows(2).all(|w| w[0] >= w[1]), "{losses:?}");
    for r in &rows {
        let (file, line) = r[0].rsplit_once(':').unwrap();
        assert!(file.ends_with("data.csv"), "{file}");
        // `id` is the 0-based data row; the location is 1-based.
        assert_eq!(line.parse::<usize>().unwrap(), r[4].parse::<usize>().unwrap() + 1);
    }
    assert_ne!(rows[0][2], rows[0][8], "the worst row should be misclassified");
    let proot = e.tracker.run_artifact_root(&report.parent_run_id).unwrap();
    assert!(e.tracker.download(&format!("{proot}/config/kiln.toml")).is_ok());
    assert!(e.tracker.download(&format!("{proot}/data/profile.json")).is_ok());

    // Registered as version 1 @champion; the bundle scores raw rows.
    assert_eq!(report.registered, Some(("m".into(), "1".into())));
    let bytes = fetch_model("models:/m@champion", Some(&e.tracker)).unwrap();
    let bundle = ModelBundle::from_json(&bytes, "m@champion").unwrap();
    assert_eq!(bundle.classes, vec!["no", "yes"]);
    let loaded = bundle.load().unwrap();
    let table = kiln_data::read::read(&data, &Default::default()).unwrap();
    let pred = loaded.predict(&table).unwrap();
    assert_eq!(pred.len(), 600);
    let via_run = fetch_model(&format!("runs:/{}/model", winner.run_id), Some(&e.tracker)).unwrap();
    assert_eq!(via_run, bytes);
}

#[test]
fn multiclass_regression_and_cross_validation() {
    let e = env();
    let data = write_data(e.dir.path(), 450, "multiclass");
    let report = train(&e, &config(&data, "multiclass", "")).unwrap();
    assert_eq!(report.task, "multiclass");
    assert_eq!(report.metric, "logloss");
    assert!(!report.higher_is_better);
    let w = report.winner().unwrap();
    assert!(w.valid_metric("accuracy").unwrap() > 0.7, "{:?}", w.valid);

    let e = env();
    let data = write_data(e.dir.path(), 400, "regression");
    let report = train(&e, &config(&data, "regression", "")).unwrap();
    assert_eq!(report.task, "regression");
    let w = report.winner().unwrap();
    assert!(w.valid_metric("r2").unwrap() > 0.9, "{:?}", w.valid);
    let mean = report.entries.iter().find(|x| x.name == "baseline:mean").unwrap();
    assert!(mean.valid_metric("r2").unwrap() < 0.05);

    let e = env();
    let data = write_data(e.dir.path(), 400, "binary");
    let text = config(&data, "binary", "").replace("valid = 0.2", "valid = 0.2\nfolds = 3");
    let report = train(&e, &text).unwrap();
    assert!(report.cross_validated);
    let w = report.winner().unwrap();
    assert!(w.valid_std.iter().any(|(k, v)| k == "auc" && *v >= 0.0));
    // The final LightGBM refit (no validation rows) used the folds' best rounds.
    let lgb = report.entries.iter().find(|x| x.name == "lightgbm").unwrap();
    assert!(lgb.error.is_none(), "{:?}", lgb.error);
    assert!(lgb.iterations.unwrap() <= 40);
    let run = runs(&e).into_iter().find(|r| r.info.run_id == w.run_id).unwrap();
    let folds = e
        .tracker
        .block_on(
            e.tracker
                .store()
                .get_metric_history(&run.info.run_id, "cv_fold_auc", None, None),
        )
        .unwrap();
    assert_eq!(folds.items.len(), 3);
}

#[test]
fn same_data_config_and_seed_give_the_same_models() {
    let e = env();
    let data = write_data(e.dir.path(), 500, "binary");
    let text = config(&data, "binary", "[[model]]\nkind = \"random_forest\"\nrounds = 20\n");
    let a = train(&e, &text).unwrap();
    let b = train(&e, &text).unwrap();
    for (x, y) in a.entries.iter().zip(&b.entries) {
        assert_eq!(x.name, y.name);
        assert_eq!(x.valid, y.valid, "{}", x.name);
        assert_eq!(x.test, y.test, "{}", x.name);
        assert_eq!(x.iterations, y.iterations);
        let ma = fetch_model(&format!("runs:/{}/model", x.run_id), Some(&e.tracker)).unwrap();
        let mb = fetch_model(&format!("runs:/{}/model", y.run_id), Some(&e.tracker)).unwrap();
        let (ba, bb) = (
            ModelBundle::from_json(&ma, "a").unwrap(),
            ModelBundle::from_json(&mb, "b").unwrap(),
        );
        assert_eq!(ba.model, bb.model, "{} differs between runs", x.name);
    }
    let other = train(&e, &text.replace("seed = 3", "seed = 4")).unwrap();
    assert_ne!(
        a.entries.iter().map(|x| x.valid.clone()).collect::<Vec<_>>(),
        other.entries.iter().map(|x| x.valid.clone()).collect::<Vec<_>>(),
        "another seed should give another split"
    );
}

#[test]
fn ensembles_over_candidates() {
    let e = env();
    let data = write_data(e.dir.path(), 500, "binary");
    let extra = "[[model]]\nkind = \"voting\"\nmembers = [\"lightgbm\", \"logistic\"]\n\n[[model]]\nkind = \"stacking\"\nmembers = [\"lightgbm\", \"logistic\"]\nfolds = 3\n";
    let text = config(&data, "binary", extra);
    let report = train(&e, &text).unwrap();
    for name in ["voting", "stacking"] {
        let x = report.entries.iter().find(|x| x.name == name).unwrap();
        assert!(x.error.is_none(), "{name}: {:?}", x.error);
        assert!(x.valid_metric("auc").unwrap() > 0.85, "{name} {:?}", x.valid);
    }
    let bad = config(
        &data,
        "binary",
        "[[model]]\nkind = \"voting\"\nmembers = [\"xgboost\"]\n",
    );
    let err = train(&e, &bad).unwrap_err().to_string();
    assert!(err.contains("member 'xgboost' is not a candidate"), "{err}");
}

/// Errors that must stop the run before anything reaches the store.
#[test]
fn bad_inputs_fail_before_any_run_is_written() {
    let e = env();
    let data = write_data(e.dir.path(), 300, "binary");
    let cases: Vec<(String, &str)> = vec![
        (
            config(&data, "binary", "").replace("target = \"y\"", "target = \"churn\""),
            "target 'churn'",
        ),
        (
            config(&data, "binary", "").replace("kind = \"lightgbm\"", "kind = \"xgboost\""),
            "unknown model kind 'xgboost'",
        ),
        (
            config(&data, "binary", "").replace("num_leaves = 7", "num_leafs = 7"),
            "line 18",
        ),
        (
            config(&data, "binary", "").replace("num_leaves = 7", "num_leaves = \"seven\""),
            "'num_leaves' must be a whole number",
        ),
        (
            config(&data, "binary", "").replace("[split]", "[split]\nvalid_fraction = 0.1"),
            "valid_fraction",
        ),
        (
            config(&data, "binary", "").replace(&data, "/nonexistent/data.csv"),
            "/nonexistent/data.csv",
        ),
        (
            config(&data, "binary", "")
                .replace("[select]", "")
                .replace("[track]", "[select]\nmetric = \"rmse\"\n[track]"),
            "does not apply",
        ),
    ];
    for (text, want) in cases {
        let err = format!("{:#}", train(&e, &text).unwrap_err());
        assert!(err.contains(want), "expected '{want}' in: {err}");
        assert!(runs(&e).is_empty(), "a run was written for: {want}");
    }

    // Labels the task cannot use.
    let dir = e.dir.path();
    let write = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_string_lossy().into_owned()
    };
    let constant = write(
        "const.csv",
        &(0..50)
            .map(|i| format!("{i},1.0,2.0,red,yes\n"))
            .fold(String::from("id,x1,x2,color,y\n"), |a, b| a + &b),
    );
    let err = format!("{:#}", train(&e, &config(&constant, "binary", "")).unwrap_err());
    assert!(err.contains("constant"), "{err}");
    let mut one = String::from("id,x1,x2,color,y\n");
    for i in 0..60 {
        let _ = writeln!(
            one,
            "{i},{i}.0,1.0,red,{}",
            if i == 7 {
                "rare"
            } else if i % 2 == 0 {
                "a"
            } else {
                "b"
            }
        );
    }
    let one = write("one.csv", &one);
    let err = format!("{:#}", train(&e, &config(&one, "multiclass", "")).unwrap_err());
    assert!(err.contains("rare"), "the class with one row should be named: {err}");
    let nan = write(
        "nan.csv",
        "id,x1,x2,color,y\n1,1.0,2.0,red,1.5\n2,2.0,1.0,blue,\n3,3.0,1.0,red,2.5\n",
    );
    let err = format!("{:#}", train(&e, &config(&nan, "regression", "")).unwrap_err());
    assert!(err.contains("row 2") && err.contains("missing"), "{err}");
    let inf = write(
        "inf.csv",
        "id,x1,x2,color,y\n1,1.0,2.0,red,1.5\n2,2.0,1.0,blue,inf\n3,3.0,1.0,red,2.5\n",
    );
    let err = format!("{:#}", train(&e, &config(&inf, "regression", "")).unwrap_err());
    assert!(err.contains("row 2") && err.contains("finite"), "{err}");
    assert!(runs(&e).is_empty());
}

/// A failure after the parent run exists marks it FAILED with the reason.
#[test]
fn a_failure_after_training_starts_marks_the_run_failed() {
    let e = env();
    let data = write_data(e.dir.path(), 300, "binary");
    // A registered-model name the store refuses fails at the end.
    let text = config(&data, "binary", "").replace(
        "experiment = \"pipeline-test\"",
        "experiment = \"pipeline-test\"\nregister = \"\"",
    );
    let err = train(&e, &text).unwrap_err();
    let all = runs(&e);
    let parent = all
        .iter()
        .find(|r| tag(r, "kiln.role") == Some("train"))
        .expect("the parent run");
    assert_eq!(parent.info.status, "FAILED");
    let reason = tag(parent, "kiln.error").unwrap();
    assert!(
        reason.contains(&err.to_string()[..20.min(err.to_string().len())]),
        "{reason} / {err}"
    );
}
