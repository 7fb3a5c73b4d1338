//! Studies over the in-memory storage: define-by-run, ask-and-tell, bad input, samplers, pruning.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_tune::study::{OptimizeOptions, Outcome, Study, StudyOptions};
use kiln_tune::{
    Direction, MemoryStorage, ParamValue, PrunerConfig, PrunerKind, SamplerConfig, SamplerKind, SearchSpace, Storage,
    Trial, TrialError, TrialState,
};

fn mem() -> Arc<dyn Storage> {
    Arc::new(MemoryStorage::new())
}

fn quad(t: &mut Trial) -> Result<f64, TrialError> {
    let x = t.suggest_float("x", -5.0, 5.0, false)?;
    let y = t.suggest_float("y", -5.0, 5.0, false)?;
    Ok((x - 1.0).powi(2) + (y + 2.0).powi(2))
}

#[test]
fn random_values_differ_between_trials() {
    let study = Study::create(
        mem(),
        StudyOptions {
            sampler: SamplerConfig::of(SamplerKind::Random),
            seed: Some(1),
            ..StudyOptions::new("r", Direction::Minimize)
        },
    )
    .unwrap();
    let mut xs = Vec::new();
    for _ in 0..40 {
        let mut t = study.ask().unwrap();
        let v = quad(&mut t).unwrap();
        xs.push(t.params()["x"].as_f64().unwrap());
        study.tell(&t, Outcome::Complete(vec![v])).unwrap();
    }
    let mut sorted = xs.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted.dedup();
    assert_eq!(sorted.len(), 40, "{xs:?}");
}

#[test]
fn random_values_differ_with_a_declared_space() {
    let space = SearchSpace::from_json(&serde_json::json!({"x": {"float": [-5, 5]}, "y": {"float": [-5, 5]}})).unwrap();
    let study = Study::create(
        mem(),
        StudyOptions {
            sampler: SamplerConfig::of(SamplerKind::Random),
            seed: Some(1),
            space: Some(space),
            ..StudyOptions::new("r", Direction::Minimize)
        },
    )
    .unwrap();
    let mut xs = Vec::new();
    for _ in 0..40 {
        let mut t = study.ask().unwrap();
        let v = quad(&mut t).unwrap();
        xs.push(t.params()["x"].as_f64().unwrap());
        study.tell(&t, Outcome::Complete(vec![v])).unwrap();
    }
    let mut sorted = xs.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted.dedup();
    assert_eq!(sorted.len(), 40, "{xs:?}");
}

fn declared(json: serde_json::Value) -> SearchSpace {
    SearchSpace::from_json(&json).unwrap()
}

fn opts(sampler: SamplerKind, seed: u64) -> StudyOptions {
    StudyOptions {
        sampler: SamplerConfig::of(sampler),
        seed: Some(seed),
        ..StudyOptions::new("s", Direction::Minimize)
    }
}

fn run(study: &Study, n: usize) {
    for _ in 0..n {
        let mut t = study.ask().unwrap();
        let v = quad(&mut t).unwrap();
        study.tell(&t, Outcome::Complete(vec![v])).unwrap();
    }
}

#[test]
fn every_sampler_improves_on_a_quadratic_and_is_reproducible() {
    for kind in [
        SamplerKind::Tpe,
        SamplerKind::Gp,
        SamplerKind::Cmaes,
        SamplerKind::Sobol,
        SamplerKind::Auto,
        SamplerKind::Nsga2,
    ] {
        let best = |seed| {
            let study = Study::create(mem(), opts(kind, seed)).unwrap();
            run(&study, 40);
            let trials = study.trials().unwrap();
            let params: Vec<_> = trials.iter().map(|t| t.param_values()).collect();
            (study.best_trial().unwrap().unwrap().value().unwrap(), params)
        };
        let (b1, p1) = best(3);
        let (b2, p2) = best(3);
        assert_eq!(p1, p2, "{kind:?}: same seed, same trial order -> same params");
        assert_eq!(b1, b2);
        let (_, p3) = best(4);
        assert_ne!(p1, p3, "{kind:?}: another seed, other params");
        // Random search in [-5, 5]^2 reaches ~1 in 40 trials; the model-based samplers do better.
        let limit = match kind {
            SamplerKind::Sobol | SamplerKind::Nsga2 | SamplerKind::Cmaes => 2.0,
            _ => 0.5,
        };
        assert!(b1 < limit, "{kind:?}: best {b1}");
    }
}

#[test]
fn grid_covers_the_grid_once_then_repeats() {
    let space = declared(serde_json::json!({"a": {"int": [0, 2]}, "b": {"choices": ["x", "y"]}}));
    let study = Study::create(
        mem(),
        StudyOptions {
            space: Some(space.clone()),
            ..opts(SamplerKind::Grid, 0)
        },
    )
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..6 {
        let t = study.ask_space(None).unwrap().unwrap();
        seen.push(t.params());
        study.tell(&t, Outcome::Complete(vec![0.0])).unwrap();
    }
    let mut uniq = seen.clone();
    uniq.sort_by_key(|p| format!("{p:?}"));
    uniq.dedup();
    assert_eq!(uniq.len(), 6, "{seen:?}");
    let t = study.ask_space(None).unwrap().unwrap();
    assert_eq!(t.params(), seen[0], "the grid starts over");
}

#[test]
fn conditional_parameters_appear_only_when_their_condition_holds() {
    let space = declared(serde_json::json!({
        "boosting": {"choices": ["gbdt", "dart"]},
        "num_leaves": {"int": [8, 256], "log": true, "when": {"boosting": "gbdt"}},
        "drop_rate": {"float": [0.0, 0.5], "when": {"boosting": "dart"}},
    }));
    let study = Study::create(
        mem(),
        StudyOptions {
            space: Some(space.clone()),
            ..opts(SamplerKind::Tpe, 1)
        },
    )
    .unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let mut t = study.ask().unwrap();
        let p = t.suggest_space(&space).unwrap();
        let b = p["boosting"].to_string();
        assert_eq!(p.contains_key("num_leaves"), b == "gbdt", "{p:?}");
        assert_eq!(p.contains_key("drop_rate"), b == "dart", "{p:?}");
        kinds.insert(b.clone());
        let v = if b == "gbdt" {
            p["num_leaves"].as_f64().unwrap()
        } else {
            300.0
        };
        study.tell(&t, Outcome::Complete(vec![v])).unwrap();
    }
    assert_eq!(kinds.len(), 2);
    // TPE learns that gbdt with few leaves is best.
    let best = study.best_trial().unwrap().unwrap();
    assert!(best.param_values()["num_leaves"].as_f64().unwrap() < 30.0);
}

#[test]
fn bad_tells_and_reports_are_defined() {
    let study = Study::create(mem(), opts(SamplerKind::Random, 0)).unwrap();
    let mut t = study.ask().unwrap();
    quad(&mut t).unwrap();
    // Wrong number of values: an error, the trial stays RUNNING.
    let e = study.tell(&t, Outcome::Complete(vec![1.0, 2.0])).unwrap_err();
    assert!(e.message.contains("1 objective(s) but 2 value(s)"), "{}", e.message);
    assert_eq!(study.trial(t.number()).unwrap().state, TrialState::Running);
    // Reports must be finite with a non-negative step.
    assert!(t.report(-1, 0.5).unwrap_err().message.contains("negative"));
    assert!(t.report(1, f64::NAN).unwrap_err().message.contains("finite"));
    // NaN value: the trial is recorded as FAIL with the reason.
    let ft = study.tell(&t, Outcome::Complete(vec![f64::NAN])).unwrap();
    assert_eq!(ft.state, TrialState::Fail);
    assert!(ft.attrs["kiln:fail_reason"].as_str().unwrap().contains("NaN"));
    // Telling it again, or an unknown trial: clear errors.
    let e = study.tell_number(t.number(), Outcome::Complete(vec![1.0])).unwrap_err();
    assert_eq!(e.code, kiln_tune::error::ErrorCode::InvalidState);
    let e = study.tell_number(99, Outcome::Complete(vec![1.0])).unwrap_err();
    assert_eq!(e.code, kiln_tune::error::ErrorCode::ResourceDoesNotExist);
    // A parameter asked twice with another distribution.
    let mut t2 = study.ask().unwrap();
    t2.suggest_float("x", 0.0, 1.0, false).unwrap();
    let x = t2.suggest_float("x", 0.0, 1.0, false).unwrap();
    assert_eq!(
        t2.suggest_float("x", 0.0, 2.0, false).unwrap(),
        x,
        "a compatible range gives the same value"
    );
    assert!(t2
        .suggest_int("x", 0, 2, false)
        .unwrap_err()
        .message
        .contains("another distribution"));
    assert!(t2
        .suggest_float("y", 2.0, 1.0, false)
        .unwrap_err()
        .message
        .contains("greater"));
    assert!(t2
        .suggest_categorical::<&str>("c", &[])
        .unwrap_err()
        .message
        .contains("at least one choice"));
    // Two directions with a single-objective sampler, and no direction at all.
    let mut o = opts(SamplerKind::Gp, 0);
    o.directions = vec![Direction::Minimize, Direction::Maximize];
    assert!(Study::create(mem(), o).unwrap_err().message.contains("one objective"));
    let mut o = opts(SamplerKind::Tpe, 0);
    o.directions.clear();
    assert!(Study::create(mem(), o).is_err());
    // The same name twice.
    let s = mem();
    Study::create(s.clone(), opts(SamplerKind::Tpe, 0)).unwrap();
    assert_eq!(
        Study::create(s, opts(SamplerKind::Tpe, 0)).unwrap_err().code,
        kiln_tune::error::ErrorCode::ResourceAlreadyExists
    );
}

#[test]
fn optimize_respects_the_budget_with_parallel_jobs_and_records_failures() {
    let study = Study::create(mem(), opts(SamplerKind::Tpe, 5)).unwrap();
    let objective = |t: &mut Trial| -> Result<f64, TrialError> {
        let v = quad(t)?;
        match t.number() % 7 {
            3 => Err(TrialError::Failed("boom".into())),
            5 => panic!("objective bug"),
            _ => Ok(v),
        }
    };
    let s = study
        .optimize(
            &objective,
            &OptimizeOptions {
                n_trials: Some(30),
                timeout: None,
                n_jobs: 4,
            },
        )
        .unwrap();
    let trials = study.trials().unwrap();
    assert_eq!(trials.len(), 30);
    assert_eq!(s.complete + s.failed + s.pruned, 30);
    let numbers: Vec<u64> = trials.iter().map(|t| t.number).collect();
    assert_eq!(numbers, (0..30).collect::<Vec<_>>());
    let fails: Vec<&Arc<kiln_tune::FrozenTrial>> = trials.iter().filter(|t| t.state == TrialState::Fail).collect();
    assert_eq!(fails.len() as u64, s.failed);
    assert!(fails
        .iter()
        .any(|t| t.attrs["kiln:fail_reason"].as_str().unwrap().contains("panicked")));
    // Resuming continues the same study up to the new total.
    let again = Study::load(study.storage().clone(), "s").unwrap();
    again
        .optimize(
            &objective,
            &OptimizeOptions {
                n_trials: Some(35),
                timeout: None,
                n_jobs: 1,
            },
        )
        .unwrap();
    assert_eq!(again.trials().unwrap().len(), 35);
}

#[test]
fn median_pruner_stops_bad_curves() {
    let study = Study::create(
        mem(),
        StudyOptions {
            pruner: PrunerConfig {
                n_startup_trials: Some(3),
                ..PrunerConfig::of(PrunerKind::Median)
            },
            ..opts(SamplerKind::Random, 2)
        },
    )
    .unwrap();
    let objective = |t: &mut Trial| -> Result<f64, TrialError> {
        let level = t.suggest_float("level", 0.0, 1.0, false)?;
        let handle = t.handle();
        // A callback-style reporter on another thread, as a learner would use it.
        let v = std::thread::spawn(move || -> Result<f64, TrialError> {
            let mut v = 0.0;
            for step in 0..20 {
                v = level + 1.0 / (step as f64 + 1.0);
                handle.report(step, v)?;
                if handle.should_prune()? {
                    return Err(TrialError::Pruned);
                }
            }
            Ok(v)
        })
        .join()
        .unwrap()?;
        Ok(v)
    };
    let s = study
        .optimize(
            &objective,
            &OptimizeOptions {
                n_trials: Some(30),
                timeout: None,
                n_jobs: 1,
            },
        )
        .unwrap();
    assert!(s.pruned > 5, "{s:?}");
    for t in study.trials().unwrap() {
        if t.state == TrialState::Pruned {
            assert!(t.intermediate.len() < 20);
        }
    }
}

#[test]
fn multi_objective_front_is_non_dominated() {
    let mut o = opts(SamplerKind::Nsga2, 1);
    o.directions = vec![Direction::Minimize, Direction::Minimize];
    o.sampler.population_size = Some(10);
    let study = Study::create(mem(), o).unwrap();
    let objective = |t: &mut Trial| -> Result<Vec<f64>, TrialError> {
        let x = t.suggest_float("x", 0.0, 1.0, false)?;
        let y = t.suggest_float("y", 0.0, 1.0, false)?;
        Ok(vec![x, (1.0 + y) * (1.0 - x.sqrt())])
    };
    study
        .optimize(
            &objective,
            &OptimizeOptions {
                n_trials: Some(60),
                timeout: None,
                n_jobs: 1,
            },
        )
        .unwrap();
    let front = study.best_trials().unwrap();
    assert!(front.len() >= 3);
    for a in &front {
        for b in &front {
            let (va, vb) = (a.values.as_ref().unwrap(), b.values.as_ref().unwrap());
            assert!(
                !(va[0] <= vb[0] && va[1] <= vb[1] && va != vb),
                "{va:?} dominates {vb:?}"
            );
        }
    }
    assert!(study.best_trial().is_err(), "no single best with two objectives");
    // Multi-objective TPE works too.
    let mut o = opts(SamplerKind::Tpe, 1);
    o.name = "mo-tpe".into();
    o.directions = vec![Direction::Minimize, Direction::Maximize];
    let s2 = Study::create(mem(), o).unwrap();
    s2.optimize(
        &|t: &mut Trial| -> Result<Vec<f64>, TrialError> {
            let x = t.suggest_float("x", 0.0, 1.0, false)?;
            Ok(vec![x, x])
        },
        &OptimizeOptions {
            n_trials: Some(20),
            timeout: None,
            n_jobs: 1,
        },
    )
    .unwrap();
    assert!(!s2.best_trials().unwrap().is_empty());
}

#[test]
fn enqueued_points_run_first_with_their_values() {
    let space = declared(serde_json::json!({"x": {"float": [-5, 5]}, "y": {"float": [-5, 5]}}));
    let study = Study::create(
        mem(),
        StudyOptions {
            space: Some(space),
            ..opts(SamplerKind::Tpe, 1)
        },
    )
    .unwrap();
    let fixed: BTreeMap<String, ParamValue> = [
        ("x".to_string(), ParamValue::Float(1.0)),
        ("y".to_string(), ParamValue::Float(-2.0)),
    ]
    .into();
    let n = study.enqueue(&fixed).unwrap();
    let mut t = study.ask().unwrap();
    assert_eq!(t.number(), n);
    assert_eq!(quad(&mut t).unwrap(), 0.0);
    let bad: BTreeMap<String, ParamValue> = [("x".to_string(), ParamValue::Float(9.0))].into();
    assert!(study.enqueue(&bad).is_err());
}

#[test]
fn a_lost_worker_trial_is_failed_and_retried_with_its_params() {
    let study = Study::create(
        mem(),
        StudyOptions {
            heartbeat_interval: std::time::Duration::from_millis(20),
            grace: std::time::Duration::from_millis(60),
            ..opts(SamplerKind::Random, 1)
        },
    )
    .unwrap();
    // A trial with a heartbeat that nobody beats any more (its worker "died").
    let storage = study.storage().clone();
    let info = study.info().clone();
    let mut t0 = kiln_tune::FrozenTrial::new(0, 0, TrialState::Running);
    let d = kiln_tune::Distribution::float(-5.0, 5.0).unwrap();
    for (name, v) in [("x", 0.5), ("y", 1.5)] {
        t0.params.insert(
            name.into(),
            kiln_tune::trial::TrialParam {
                value: v.into(),
                internal: v,
                distribution: d.clone(),
            },
        );
    }
    let created = storage
        .create_trial(
            info.study_id,
            kiln_tune::storage::TrialCreate {
                state: TrialState::Running,
                params: t0.params.clone(),
                attrs: BTreeMap::new(),
                worker: Some("dead".into()),
                budget: Some(3),
            },
        )
        .unwrap()
        .unwrap();
    let lost = created.param_values();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let s = study
        .optimize(
            &|t: &mut Trial| quad(t),
            &OptimizeOptions {
                n_trials: Some(3),
                timeout: None,
                n_jobs: 1,
            },
        )
        .unwrap();
    let trials = study.trials().unwrap();
    assert_eq!(trials[0].state, TrialState::Fail);
    let retry = trials
        .iter()
        .find(|x| x.attrs.get("kiln:retry_of") == Some(&serde_json::json!(0)))
        .unwrap();
    assert_eq!(retry.state, TrialState::Complete);
    assert_eq!(retry.param_values(), lost);
    // 3 budgeted trials completed; the failed one gave its place to its retry.
    assert_eq!(s.complete, 3);
    assert_eq!(trials.iter().filter(|t| t.state == TrialState::Complete).count(), 3);
}

#[test]
fn parallel_jobs_do_not_sample_the_same_point() {
    for kind in [SamplerKind::Tpe, SamplerKind::Gp, SamplerKind::Sobol] {
        let study = Study::create(mem(), opts(kind, 9)).unwrap();
        let objective = |t: &mut Trial| -> Result<f64, TrialError> {
            let v = quad(t)?;
            std::thread::sleep(std::time::Duration::from_millis(5));
            Ok(v)
        };
        study
            .optimize(
                &objective,
                &OptimizeOptions {
                    n_trials: Some(24),
                    timeout: None,
                    n_jobs: 4,
                },
            )
            .unwrap();
        let mut points: Vec<String> = study
            .trials()
            .unwrap()
            .iter()
            .map(|t| format!("{:?}", t.param_values()))
            .collect();
        let n = points.len();
        points.sort();
        points.dedup();
        assert_eq!(points.len(), n, "{kind:?}: a point was sampled twice");
    }
}
