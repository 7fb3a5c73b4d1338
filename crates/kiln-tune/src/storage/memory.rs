//! In-memory storage: one process, no persistence; the reference
//! implementation of the storage contract.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{is_budgeted, Storage, StudyCreate, StudyInfo, TrialCreate, RETRIED_AS_ATTR, RETRY_OF_ATTR};
use crate::error::{invalid, invalid_state, not_found, Result, TuneError};
use crate::trial::{FrozenTrial, TrialState};

#[derive(Default)]
struct State {
    studies: Vec<StudyInfo>,
    trials: BTreeMap<i64, Vec<Arc<FrozenTrial>>>,
    next_trial_id: i64,
}

/// Studies and trials in a mutex.
#[derive(Default)]
pub struct MemoryStorage {
    state: Mutex<State>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn now_ms() -> i64 {
    kiln_store::now_ms()
}

impl State {
    fn trials_mut(&mut self, study_id: i64) -> Result<&mut Vec<Arc<FrozenTrial>>> {
        self.trials
            .get_mut(&study_id)
            .ok_or_else(|| not_found(format!("study id {study_id} not found")))
    }

    fn push_trial(&mut self, study_id: i64, mut t: FrozenTrial) -> Result<FrozenTrial> {
        self.next_trial_id += 1;
        let id = self.next_trial_id;
        let trials = self.trials_mut(study_id)?;
        t.trial_id = id;
        t.number = trials.len() as u64;
        trials.push(Arc::new(t.clone()));
        Ok(t)
    }
}

fn find(trials: &mut [Arc<FrozenTrial>], trial_id: i64) -> Result<&mut Arc<FrozenTrial>> {
    trials
        .iter_mut()
        .find(|t| t.trial_id == trial_id)
        .ok_or_else(|| not_found(format!("trial id {trial_id} not found")))
}

fn must_run(t: &FrozenTrial) -> Result<(), TuneError> {
    if t.state != TrialState::Running {
        return Err(invalid_state(format!(
            "trial {} is {}, not RUNNING: it cannot be changed any more",
            t.number, t.state
        )));
    }
    Ok(())
}

impl Storage for MemoryStorage {
    fn create_study(&self, req: &StudyCreate) -> Result<StudyInfo> {
        if req.name.trim().is_empty() {
            return Err(invalid("a study name must not be empty"));
        }
        let mut s = self.lock();
        if s.studies.iter().any(|x| x.name == req.name) {
            return Err(TuneError::exists(format!("study '{}' already exists", req.name)));
        }
        let info = StudyInfo {
            study_id: s.studies.len() as i64 + 1,
            name: req.name.clone(),
            directions: req.directions.clone(),
            config: req.config.clone(),
            experiment_id: None,
            parent_run_id: None,
            creation_ms: now_ms(),
        };
        s.trials.insert(info.study_id, Vec::new());
        s.studies.push(info.clone());
        Ok(info)
    }

    fn get_study(&self, name: &str) -> Result<StudyInfo> {
        self.lock()
            .studies
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| not_found(format!("study '{name}' not found")))
    }

    fn list_studies(&self) -> Result<Vec<StudyInfo>> {
        Ok(self.lock().studies.clone())
    }

    fn create_trial(&self, study_id: i64, req: TrialCreate) -> Result<Option<FrozenTrial>> {
        let mut s = self.lock();
        if let Some(b) = req.budget {
            let used = s.trials_mut(study_id)?.iter().filter(|t| is_budgeted(t)).count() as u64;
            if used >= b {
                return Ok(None);
            }
        }
        let now = now_ms();
        let mut t = FrozenTrial::new(0, 0, req.state);
        t.params = req.params;
        t.attrs = req.attrs;
        t.worker = req.worker.clone();
        if req.state == TrialState::Running {
            t.start_ms = Some(now);
            t.heartbeat_ms = req.worker.is_some().then_some(now);
        }
        s.push_trial(study_id, t).map(Some)
    }

    fn claim_waiting(&self, study_id: i64, worker: &str) -> Result<Option<FrozenTrial>> {
        let mut s = self.lock();
        let trials = s.trials_mut(study_id)?;
        let Some(slot) = trials.iter_mut().find(|t| t.state == TrialState::Waiting) else {
            return Ok(None);
        };
        let now = now_ms();
        let t = Arc::make_mut(slot);
        t.state = TrialState::Running;
        t.start_ms = Some(now);
        t.heartbeat_ms = Some(now);
        t.worker = Some(worker.to_string());
        Ok(Some(t.clone()))
    }

    fn save_trial(&self, study_id: i64, trial: &FrozenTrial) -> Result<()> {
        let mut s = self.lock();
        let slot = find(s.trials_mut(study_id)?, trial.trial_id)?;
        must_run(slot)?;
        let t = Arc::make_mut(slot);
        t.params = trial.params.clone();
        t.intermediate = trial.intermediate.clone();
        t.attrs = trial.attrs.clone();
        t.heartbeat_ms = Some(now_ms());
        Ok(())
    }

    fn finish_trial(&self, study_id: i64, trial: &FrozenTrial) -> Result<()> {
        if !trial.state.is_finished() {
            return Err(invalid(format!(
                "finish_trial needs a final state, got {}",
                trial.state
            )));
        }
        let mut s = self.lock();
        let slot = find(s.trials_mut(study_id)?, trial.trial_id)?;
        must_run(slot)?;
        let t = Arc::make_mut(slot);
        t.state = trial.state;
        t.values = trial.values.clone();
        t.params = trial.params.clone();
        t.intermediate = trial.intermediate.clone();
        t.attrs = trial.attrs.clone();
        t.end_ms = Some(now_ms());
        Ok(())
    }

    fn heartbeat(&self, study_id: i64, trial_ids: &[i64]) -> Result<()> {
        let mut s = self.lock();
        let now = now_ms();
        for slot in s.trials_mut(study_id)?.iter_mut() {
            if slot.state == TrialState::Running && trial_ids.contains(&slot.trial_id) {
                Arc::make_mut(slot).heartbeat_ms = Some(now);
            }
        }
        Ok(())
    }

    fn reap_stale(&self, study_id: i64, grace_ms: i64) -> Result<Vec<u64>> {
        let mut s = self.lock();
        let now = now_ms();
        let stale: Vec<FrozenTrial> = s
            .trials_mut(study_id)?
            .iter()
            .filter(|t| t.state == TrialState::Running && t.heartbeat_ms.is_some_and(|h| now - h > grace_ms))
            .map(|t| (**t).clone())
            .collect();
        let mut failed = Vec::new();
        for old in stale {
            let mut retry = FrozenTrial::new(0, 0, TrialState::Waiting);
            retry.params = old.params.clone();
            retry.attrs.insert(RETRY_OF_ATTR.into(), serde_json::json!(old.number));
            let retry = s.push_trial(study_id, retry)?;
            let slot = find(s.trials_mut(study_id)?, old.trial_id)?;
            let t = Arc::make_mut(slot);
            t.state = TrialState::Fail;
            t.end_ms = Some(now);
            t.attrs.insert(RETRIED_AS_ATTR.into(), serde_json::json!(retry.number));
            t.attrs.insert(
                super::FAIL_REASON_ATTR.into(),
                serde_json::json!("heartbeat lost: the worker stopped reporting"),
            );
            failed.push(old.number);
        }
        Ok(failed)
    }

    fn trials(&self, study_id: i64) -> Result<Vec<Arc<FrozenTrial>>> {
        Ok(self.lock().trials_mut(study_id)?.clone())
    }

    fn trial(&self, study_id: i64, number: u64) -> Result<FrozenTrial> {
        self.lock()
            .trials_mut(study_id)?
            .get(number as usize)
            .map(|t| (**t).clone())
            .ok_or_else(|| not_found(format!("trial {number} not found in this study")))
    }
}
