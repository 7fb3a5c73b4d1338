//! The one storage interface every study runs over, with two implementations:
//! [`MemoryStorage`] (one process) and [`SqlStorage`] (kiln-store's SQLite or
//! PostgreSQL database, shared by any number of workers).
//!
//! Contract (tested on both): trial numbers are dense per study and never
//! reused; `create_trial` with a budget never lets the number of budgeted
//! trials exceed it, however many workers race; a WAITING trial is claimed by
//! one worker only; `finish_trial` succeeds once per trial (a second tell, or
//! a tell for a trial the reaper failed, is an INVALID_STATE error); a trial
//! whose heartbeat is older than the grace period is marked FAIL by
//! `reap_stale` and a WAITING retry with the same parameters takes over its
//! place in the budget.

mod memory;
mod sql;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use memory::MemoryStorage;
pub use sql::SqlStorage;

use crate::error::Result;
use crate::trial::{Direction, FrozenTrial, TrialParam, TrialState};

/// Attributes the storages set: on a reaped trial, the number of its retry;
/// on a retry, the trial it retries; on a failed trial, the reason.
pub use kiln_store::studies::{FAIL_REASON_ATTR, RETRIED_AS_ATTR, RETRY_OF_ATTR};

/// A study as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyInfo {
    pub study_id: i64,
    pub name: String,
    pub directions: Vec<Direction>,
    /// The study's settings (sampler, pruner, space, seed...) as JSON; see `study::StudySettings`.
    pub config: serde_json::Value,
    /// The MLflow experiment and parent run that mirror the study (SQL storage only).
    pub experiment_id: Option<String>,
    pub parent_run_id: Option<String>,
    pub creation_ms: i64,
}

/// What `create_study` takes.
#[derive(Debug, Clone)]
pub struct StudyCreate {
    pub name: String,
    pub directions: Vec<Direction>,
    pub config: serde_json::Value,
    /// MLflow experiment name for the parent and child runs (created when missing; default: the study name).
    pub experiment: Option<String>,
}

/// What `create_trial` takes.
#[derive(Debug, Clone)]
pub struct TrialCreate {
    /// RUNNING (asked now) or WAITING (enqueued).
    pub state: TrialState,
    pub params: BTreeMap<String, TrialParam>,
    pub attrs: BTreeMap<String, serde_json::Value>,
    pub worker: Option<String>,
    /// Refuse (return `None`) when the study already has this many budgeted trials.
    pub budget: Option<u64>,
}

/// The storage interface (synchronous: samplers and objectives are CPU work;
/// the SQL storage bridges to the async store itself).
pub trait Storage: Send + Sync {
    /// Creates a study; RESOURCE_ALREADY_EXISTS when the name is taken.
    fn create_study(&self, req: &StudyCreate) -> Result<StudyInfo>;
    /// The study called `name`; RESOURCE_DOES_NOT_EXIST when there is none.
    fn get_study(&self, name: &str) -> Result<StudyInfo>;
    /// Every study, oldest first.
    fn list_studies(&self) -> Result<Vec<StudyInfo>>;
    /// Adds a trial with the next number (None when the budget is spent).
    fn create_trial(&self, study_id: i64, req: TrialCreate) -> Result<Option<FrozenTrial>>;
    /// Moves the oldest WAITING trial to RUNNING for `worker` (each is claimed once).
    fn claim_waiting(&self, study_id: i64, worker: &str) -> Result<Option<FrozenTrial>>;
    /// Saves a RUNNING trial's params, intermediate values and attributes (and beats its heart).
    fn save_trial(&self, study_id: i64, trial: &FrozenTrial) -> Result<()>;
    /// Records a trial's final state and values; INVALID_STATE unless it is RUNNING.
    fn finish_trial(&self, study_id: i64, trial: &FrozenTrial) -> Result<()>;
    /// Refreshes the heartbeat of these RUNNING trials.
    fn heartbeat(&self, study_id: i64, trial_ids: &[i64]) -> Result<()>;
    /// Fails RUNNING trials whose heartbeat is older than `grace_ms` and
    /// enqueues a WAITING retry for each; returns the failed trial numbers.
    fn reap_stale(&self, study_id: i64, grace_ms: i64) -> Result<Vec<u64>>;
    /// Every trial of the study, by number.
    fn trials(&self, study_id: i64) -> Result<Vec<Arc<FrozenTrial>>>;
    /// One trial by number; RESOURCE_DOES_NOT_EXIST when there is none.
    fn trial(&self, study_id: i64, number: u64) -> Result<FrozenTrial>;
}

/// Whether a trial counts against the study's budget (a reaped trial's retry takes its place).
pub fn is_budgeted(t: &FrozenTrial) -> bool {
    !t.attrs.contains_key(RETRIED_AS_ATTR)
}
