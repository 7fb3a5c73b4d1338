//! `kiln tune kiln.toml`'s objective: trials train real models (LightGBM
//! reporting each boosting round to the pruner), several model kinds share one
//! space, CV runs inside each trial, the best configuration trains again, and
//! bad `[tune]` sections are refused.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use kiln_train::config::LoadedConfig;
use kiln_train::tune::TrainObjective;
use kiln_tune::study::{OptimizeOptions, Study, StudyOptions};
use kiln_tune::{Direction, MemoryStorage, PrunerConfig, SamplerConfig, Trial, TrialError, TrialState};

fn write_data(dir: &std::path::Path) -> String {
    let mut s = String::from("x1,x2,c,y\n");
    let mut z = 7u64;
    for _ in 0..500 {
        let mut r = || {
            z = z.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (z >> 11) as f64 / (1u64 << 53) as f64
        };
        let (a, b, n) = (r() * 4.0 - 2.0, r() * 4.0 - 2.0, r());
        let c = if n < 0.5 { "u" } else { "v" };
        let y = if a * a - b + 0.3 * (r() - 0.5) > 1.0 {
            "yes"
        } else {
            "no"
        };
        let _ = writeln!(s, "{a:.4},{b:.4},{c},{y}");
    }
    let p = dir.join("d.csv");
    std::fs::write(&p, s).unwrap();
    p.to_string_lossy().into_owned()
}

fn config(dir: &std::path::Path, data: &str, split: &str, space: &str) -> LoadedConfig {
    let text = format!(
        "seed = 5\n[data]\nsource = \"{data}\"\ntarget = \"y\"\n\n[split]\n{split}\n\n[[model]]\nkind = \"lightgbm\"\nrounds = 60\nmin_data_in_leaf = 5\n\n[tune]\ntrials = 8\n{space}\n"
    );
    let p = dir.join("kiln.toml");
    std::fs::write(&p, text).unwrap();
    LoadedConfig::load(&p.to_string_lossy()).unwrap()
}

fn run(obj: &TrainObjective, trials: u64, pruner: PrunerConfig) -> Study {
    let mut opts = StudyOptions::new(
        "t",
        if obj.higher_is_better() {
            Direction::Maximize
        } else {
            Direction::Minimize
        },
    );
    opts.sampler = SamplerConfig::parse_cli("tpe").unwrap();
    opts.pruner = pruner;
    opts.seed = Some(3);
    let study = Study::create(Arc::new(MemoryStorage::new()), opts).unwrap();
    let f = |t: &mut Trial| -> Result<f64, TrialError> { obj.evaluate_trial(t) };
    study
        .optimize(
            &f,
            &OptimizeOptions {
                n_trials: Some(trials),
                timeout: None,
                n_jobs: 1,
            },
        )
        .unwrap();
    study
}

#[test]
fn tunes_lightgbm_and_writes_a_config_that_trains() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path());
    let cfg = config(
        dir.path(),
        &data,
        "valid = 0.25\ntest = 0.15",
        "[tune.space.lightgbm]\nnum_leaves = { int = [2, 32], log = true }\nlearning_rate = { float = [0.02, 0.4], log = true }",
    );
    let (obj, setup) = TrainObjective::new(cfg.clone(), 1).unwrap();
    assert_eq!(setup.metric, "auc");
    assert!(setup.higher_is_better);
    let study = run(&obj, 10, PrunerConfig::parse_cli("median").unwrap());
    let trials = study.trials().unwrap();
    assert_eq!(trials.len(), 10);
    assert!(trials
        .iter()
        .all(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned)));
    // LightGBM reported its validation AUC at every boosting round.
    let done = trials.iter().find(|t| t.state == TrialState::Complete).unwrap();
    assert!(done.intermediate.len() > 5, "{:?}", done.intermediate);
    let best = study.best_trial().unwrap().unwrap();
    assert!(best.value().unwrap() > 0.85, "best AUC {:?}", best.value());

    let params: BTreeMap<String, kiln_tune::ParamValue> =
        best.params.iter().map(|(k, p)| (k.clone(), p.value.clone())).collect();
    let text = obj.best_config(&params).unwrap();
    let best_cfg = LoadedConfig::parse(&dir.path().join("best.toml").to_string_lossy(), &text).unwrap();
    assert!(best_cfg.config.tune.is_none());
    assert_eq!(best_cfg.models.len(), 1);
    assert_eq!(best_cfg.models[0].params["num_leaves"], params["num_leaves"].to_json());
    // The [[model]] table's own settings survive the merge.
    assert_eq!(best_cfg.models[0].params["rounds"], serde_json::json!(60));
}

#[test]
fn several_model_kinds_and_cross_validation_inside_each_trial() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path());
    let cfg = config(
        dir.path(),
        &data,
        "valid = 0.2\ntest = 0.1\nfolds = 3",
        "[tune.space.lightgbm]\nnum_leaves = { int = [2, 16] }\n[tune.space.logistic]\nl2 = { float = [0.001, 10.0], log = true }",
    );
    let (obj, setup) = TrainObjective::new(cfg, 1).unwrap();
    assert_eq!(setup.kinds, vec!["lightgbm", "logistic"]);
    assert_eq!(setup.folds, Some(3));
    let study = run(&obj, 8, PrunerConfig::default());
    let trials = study.trials().unwrap();
    let kinds: std::collections::BTreeSet<String> =
        trials.iter().map(|t| t.params["model"].value.to_string()).collect();
    assert_eq!(kinds.len(), 2, "both kinds should be tried: {kinds:?}");
    for t in trials.iter().filter(|t| t.state == TrialState::Complete) {
        // One report per fold: the running mean.
        assert_eq!(t.intermediate.len(), 3, "{:?}", t.intermediate);
        let kind = t.params["model"].value.to_string();
        assert!(
            t.params
                .keys()
                .all(|k| k == "model" || k.starts_with(&format!("{kind}."))),
            "{:?}",
            t.params.keys()
        );
    }
}

#[test]
fn bad_tune_sections_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_data(dir.path());
    let no_tune_text = format!("[data]\nsource = \"{data}\"\ntarget = \"y\"\n[[model]]\nkind = \"lightgbm\"\n");
    let cfg = LoadedConfig::parse(&dir.path().join("k.toml").to_string_lossy(), &no_tune_text).unwrap();
    let e = TrainObjective::new(cfg, 1).err().unwrap().to_string();
    assert!(e.contains("no [tune] section"), "{e}");

    let cfg = config(
        dir.path(),
        &data,
        "valid = 0.2",
        "[tune.space.xgboost]\ndepth = { int = [1, 5] }",
    );
    let e = TrainObjective::new(cfg, 1).err().unwrap().to_string();
    assert!(e.contains("'xgboost' is not a model kind"), "{e}");

    let cfg = config(
        dir.path(),
        &data,
        "valid = 0.2",
        "[tune.space.lightgbm]\nnum_leaves = { int = [10, 2] }",
    );
    assert!(TrainObjective::new(cfg, 1).is_err());

    // A hyperparameter the learner does not know fails each trial, naming it.
    let cfg = config(
        dir.path(),
        &data,
        "valid = 0.2",
        "[tune.space.lightgbm]\nnum_leafs = { int = [2, 8] }",
    );
    let (obj, _) = TrainObjective::new(cfg, 1).unwrap();
    let study = run(&obj, 2, PrunerConfig::default());
    let t = &study.trials().unwrap()[0];
    assert_eq!(t.state, TrialState::Fail);
    let why = serde_json::to_string(&t.attrs).unwrap();
    assert!(why.contains("num_leafs"), "{why}");
}
