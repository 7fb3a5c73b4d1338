//! Population-based training on a toy learner whose step size is the hyperparameter.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_tune::pbt::{run_pbt, PbtConfig, PbtMember};
use kiln_tune::study::{Study, StudyOptions};
use kiln_tune::{
    Direction, MemoryStorage, ParamValue, SamplerConfig, SamplerKind, SearchSpace, TrialError, TrialState,
};

/// Gradient descent on (w - 3)^2 from w = -5; `lr` > 1 diverges, tiny `lr` crawls.
struct Toy {
    w: f64,
}

impl PbtMember for Toy {
    fn train(&mut self, params: &BTreeMap<String, ParamValue>, steps: u64) -> Result<f64, TrialError> {
        let lr = params["lr"]
            .as_f64()
            .ok_or_else(|| TrialError::Failed("no lr".into()))?;
        for _ in 0..steps {
            self.w -= lr * 2.0 * (self.w - 3.0);
        }
        Ok((self.w - 3.0).powi(2))
    }
    fn checkpoint(&self) -> Result<Vec<u8>, TrialError> {
        Ok(self.w.to_le_bytes().to_vec())
    }
    fn restore(&mut self, c: &[u8]) -> Result<(), TrialError> {
        let b: [u8; 8] = c.try_into().map_err(|_| TrialError::Failed("bad checkpoint".into()))?;
        self.w = f64::from_le_bytes(b);
        Ok(())
    }
}

fn study() -> Study {
    let space = SearchSpace::from_json(&serde_json::json!({"lr": {"float": [0.001, 1.2], "log": true}})).unwrap();
    Study::create(
        Arc::new(MemoryStorage::new()),
        StudyOptions {
            sampler: SamplerConfig::of(SamplerKind::Random),
            seed: Some(4),
            space: Some(space),
            ..StudyOptions::new("pbt", Direction::Minimize)
        },
    )
    .unwrap()
}

#[test]
fn pbt_exploits_better_members_and_beats_its_starting_population() {
    let study = study();
    let cfg = PbtConfig {
        population: 6,
        interval: 2,
        total_steps: 12,
        seed: 1,
        ..PbtConfig::default()
    };
    let result = run_pbt(&study, &cfg, |_| Toy { w: -5.0 }).unwrap();
    assert!(!result.exploits.is_empty());
    // The starting population trained without exploitation, for comparison.
    let trials = study.trials().unwrap();
    let initial: Vec<f64> = trials
        .iter()
        .filter(|t| !t.attrs.contains_key("user:pbt:parent"))
        .map(|t| t.param_values()["lr"].as_f64().unwrap())
        .collect();
    assert_eq!(initial.len(), 6);
    let mut baseline: Vec<f64> = initial
        .iter()
        .map(|lr| {
            let mut m = Toy { w: -5.0 };
            let p: BTreeMap<String, ParamValue> = [("lr".to_string(), ParamValue::Float(*lr))].into();
            m.train(&p, 12).unwrap()
        })
        .collect();
    baseline.sort_by(|a, b| a.total_cmp(b));
    assert!(
        result.best_value <= baseline[0] * 1.0000001,
        "{} vs best fixed {}",
        result.best_value,
        baseline[0]
    );
    assert!(result.best_value < baseline[3], "better than the median member");
    // The lineage is in the store: every continuation names an existing parent.
    for t in trials.iter().filter(|t| t.attrs.contains_key("user:pbt:parent")) {
        let parent = t.attrs["user:pbt:parent"].as_u64().unwrap();
        assert!(parent < trials.len() as u64);
    }
    assert!(trials.iter().all(|t| t.state.is_finished()), "every segment is closed");
    assert!(trials.iter().any(|t| t.state == TrialState::Complete));
}

#[test]
fn pbt_rejects_bad_settings() {
    let s = study();
    for cfg in [
        PbtConfig {
            population: 1,
            ..PbtConfig::default()
        },
        PbtConfig {
            interval: 0,
            ..PbtConfig::default()
        },
        PbtConfig {
            quantile: 0.9,
            ..PbtConfig::default()
        },
        PbtConfig {
            perturb: vec![],
            ..PbtConfig::default()
        },
    ] {
        assert!(run_pbt(&s, &cfg, |_| Toy { w: 0.0 }).is_err());
    }
}
