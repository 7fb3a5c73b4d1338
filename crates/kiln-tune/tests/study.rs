//! Studies over the in-memory storage: define-by-run, ask-and-tell, bad input, samplers, pruning.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_tune::study::{OptimizeOptions, Outcome, Study, StudyOptions};
use kiln_tune::{Direction, MemoryStorage, ParamValue, PrunerConfig, PrunerKind, SamplerConfig, SamplerKind, SearchSpace, Storage, Trial, TrialError, TrialState};

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
    let study = Study::create(mem(), StudyOptions {
        sampler: SamplerConfig::of(SamplerKind::Random),
        seed: Some(1),
        ..StudyOptions::new("r", Direction::Minimize)
    })
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
    let study = Study::create(mem(), StudyOptions {
        sampler: SamplerConfig::of(SamplerKind::Random),
        seed: Some(1),
        space: Some(space),
        ..StudyOptions::new("r", Direction::Minimize)
    })
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
