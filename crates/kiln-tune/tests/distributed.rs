//! The SQL storage on SQLite and PostgreSQL: studies as MLflow runs, several
//! worker processes sharing one study, and a worker killed with SIGKILL whose
//! trial is failed by the heartbeat reaper and retried with the same params.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_tune::study::{OptimizeOptions, Study, StudyOptions};
use kiln_tune::{Direction, SamplerConfig, SamplerKind, SqlStorage, Storage, Trial, TrialError, TrialState};

fn storage(rt: &tokio::runtime::Runtime, uri: &str) -> Arc<dyn Storage> {
    Arc::new(SqlStorage::open_blocking(rt, uri).expect("open store"))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn options(name: &str) -> StudyOptions {
    StudyOptions {
        sampler: SamplerConfig::of(SamplerKind::Tpe),
        seed: Some(11),
        heartbeat_interval: Duration::from_millis(200),
        grace: Duration::from_millis(1500),
        ..StudyOptions::new(name, Direction::Minimize)
    }
}

fn objective(t: &mut Trial) -> Result<f64, TrialError> {
    let x = t.suggest_float("x", -3.0, 3.0, false)?;
    let k = t.suggest_int("k", 1, 4, false)?;
    t.report(0, x * x)?;
    if let Ok(ms) = std::env::var("KILN_TUNE_TEST_SLEEP_MS") {
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
    }
    Ok(x * x + k as f64)
}

/// Not a test on its own: the entry point of the worker processes the tests spawn.
#[test]
fn worker_process_entry() {
    let (Ok(uri), Ok(study), Ok(n)) = (
        std::env::var("KILN_TUNE_TEST_URI"),
        std::env::var("KILN_TUNE_TEST_STUDY"),
        std::env::var("KILN_TUNE_TEST_TRIALS"),
    ) else {
        return;
    };
    let rt = rt();
    let s = Study::load_or_create(storage(&rt, &uri), options(&study)).unwrap();
    s.optimize(
        &objective,
        &OptimizeOptions {
            n_trials: Some(n.parse().unwrap()),
            timeout: None,
            n_jobs: 2,
        },
    )
    .unwrap();
}

fn spawn_worker(uri: &str, study: &str, trials: u64, sleep_ms: u64) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "worker_process_entry", "--nocapture", "--test-threads=1"])
        .env("KILN_TUNE_TEST_URI", uri)
        .env("KILN_TUNE_TEST_STUDY", study)
        .env("KILN_TUNE_TEST_TRIALS", trials.to_string())
        .env("KILN_TUNE_TEST_SLEEP_MS", sleep_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn worker")
}

#[test]
fn trials_are_child_runs_and_a_study_resumes() {
    let rt = rt();
    for db in rt.block_on(common::databases()) {
        let st = storage(&rt, &db.uri);
        let study = Study::create(st.clone(), options("runs")).unwrap();
        study
            .optimize(
                &objective,
                &OptimizeOptions {
                    n_trials: Some(12),
                    timeout: None,
                    n_jobs: 3,
                },
            )
            .unwrap();
        let trials = study.trials().unwrap();
        assert_eq!(
            trials.iter().map(|t| t.number).collect::<Vec<_>>(),
            (0..12).collect::<Vec<_>>(),
            "{}",
            db.name
        );
        assert!(trials.iter().all(|t| t.state == TrialState::Complete));
        // Another process's view (a fresh storage) sees the same study, and resumes it.
        let other = Study::load(storage(&rt, &db.uri), "runs").unwrap();
        assert_eq!(other.trials().unwrap().len(), 12);
        assert_eq!(
            other.best_trial().unwrap().unwrap().number,
            study.best_trial().unwrap().unwrap().number
        );
        other
            .optimize(
                &objective,
                &OptimizeOptions {
                    n_trials: Some(15),
                    timeout: None,
                    n_jobs: 1,
                },
            )
            .unwrap();
        assert_eq!(study.trials().unwrap().len(), 15, "{}", db.name);
        // Each trial is a child run of the study's run with its params and value.
        let sql = SqlStorage::open_blocking(&rt, &db.uri).unwrap();
        let t = &trials[3];
        let run = rt.block_on(sql.store().get_run(t.run_id.as_deref().unwrap())).unwrap();
        let tag = |k: &str| run.data.tags.iter().find(|x| x.key == k).map(|x| x.value.clone());
        assert_eq!(tag("mlflow.parentRunId"), study.info().parent_run_id.clone());
        assert_eq!(run.info.status, "FINISHED");
        assert_eq!(
            run.data.metrics.iter().find(|m| m.key == "value").map(|m| m.value),
            t.value()
        );
        assert!(run.data.params.iter().any(|p| p.key == "k"));
        rt.block_on(db.finish());
    }
}

#[test]
fn worker_processes_share_a_study_without_losing_or_repeating_trials() {
    let rt = rt();
    for db in rt.block_on(common::databases()) {
        Study::create(storage(&rt, &db.uri), options("shared")).unwrap();
        let mut workers: Vec<_> = (0..3).map(|_| spawn_worker(&db.uri, "shared", 24, 20)).collect();
        for w in &mut workers {
            assert!(w.wait().unwrap().success(), "{}: a worker failed", db.name);
        }
        let trials = Study::load(storage(&rt, &db.uri), "shared").unwrap().trials().unwrap();
        assert_eq!(trials.len(), 24, "{}", db.name);
        assert!(trials.iter().all(|t| t.state == TrialState::Complete));
        let workers_seen: BTreeSet<String> = trials
            .iter()
            .filter_map(|t| t.worker.clone())
            .map(|w| w.split(':').nth(1).unwrap_or("").to_string())
            .collect();
        assert!(
            workers_seen.len() >= 2,
            "{}: trials spread over processes {workers_seen:?}",
            db.name
        );
        rt.block_on(db.finish());
    }
}

#[test]
fn a_killed_worker_trial_is_failed_and_retried_with_the_same_params() {
    let rt = rt();
    for db in rt.block_on(common::databases()) {
        let st = storage(&rt, &db.uri);
        let study = Study::create(st.clone(), options("killed")).unwrap();
        // A worker whose objective takes a minute: kill it mid-trial.
        let mut child = spawn_worker(&db.uri, "killed", 4, 60_000);
        let deadline = Instant::now() + Duration::from_secs(60);
        let victims = loop {
            let running: Vec<_> = study
                .trials()
                .unwrap()
                .into_iter()
                .filter(|t| t.state == TrialState::Running && t.intermediate.contains_key(&0))
                .collect();
            if running.len() == 2 {
                break running;
            }
            assert!(
                Instant::now() < deadline,
                "{}: the worker never started its trials",
                db.name
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // A surviving worker reaps the dead trials and runs their retries first.
        std::env::remove_var("KILN_TUNE_TEST_SLEEP_MS");
        study
            .optimize(
                &objective,
                &OptimizeOptions {
                    n_trials: Some(4),
                    timeout: None,
                    n_jobs: 1,
                },
            )
            .unwrap();
        let trials = study.trials().unwrap();
        for v in &victims {
            let dead = &trials[v.number as usize];
            assert_eq!(dead.state, TrialState::Fail, "{}", db.name);
            assert!(dead.attrs["kiln:fail_reason"].as_str().unwrap().contains("heartbeat"));
            let retry = trials
                .iter()
                .find(|t| t.attrs.get("kiln:retry_of") == Some(&serde_json::json!(v.number)))
                .expect("a retry");
            assert_eq!(retry.state, TrialState::Complete);
            assert_eq!(retry.param_values(), dead.param_values(), "{}: same params", db.name);
        }
        let complete = trials.iter().filter(|t| t.state == TrialState::Complete).count();
        assert_eq!(complete, 4, "{}: the budget counts the retries, not the dead", db.name);
        rt.block_on(db.finish());
    }
}
