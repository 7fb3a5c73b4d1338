//! SQL storage: kiln-store's database (SQLite for one machine, PostgreSQL for
//! any number of workers on any machines). The row-level guarantees (no
//! double assignment, budgets, the ordered change feed, heartbeats) live in
//! `kiln_store::studies`; this adapter converts rows to trials and keeps a
//! per-study cache that is brought up to date with one query for the trials
//! written since the last one it saw, so asking at trial 1000 does not
//! re-read 1000 trials.
//!
//! The storage is synchronous: each call runs the store's future on the
//! given Tokio runtime and waits for it. Call it from plain threads (or
//! `spawn_blocking`), never from inside an async task of a single-threaded
//! runtime.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use kiln_store::studies::{NewStudy, NewTrial, TrialRow, TrialWrite};
use kiln_store::{Metric, Store};

use super::{Storage, StudyCreate, StudyInfo, TrialCreate};
use crate::error::{invalid, not_found, Result, TuneError};
use crate::trial::{Direction, FrozenTrial, TrialState};

#[derive(Default)]
struct Cache {
    seq: i64,
    /// By trial number.
    trials: Vec<Option<Arc<FrozenTrial>>>,
    /// Objective (metric) names of the study, for the child runs.
    metrics: Vec<String>,
}

/// The storage over a kiln-store database.
pub struct SqlStorage {
    store: Store,
    handle: tokio::runtime::Handle,
    caches: Mutex<HashMap<i64, Cache>>,
    user: String,
}

impl SqlStorage {
    /// A storage over an open store, running its queries on `handle`.
    pub fn new(store: Store, handle: tokio::runtime::Handle) -> SqlStorage {
        SqlStorage {
            store,
            handle,
            caches: Mutex::new(HashMap::new()),
            user: std::env::var("USER").unwrap_or_else(|_| "kiln".into()),
        }
    }

    /// Opens (creating and migrating) the store at `uri` on `rt`.
    pub fn open_blocking(rt: &tokio::runtime::Runtime, uri: &str) -> Result<SqlStorage> {
        let store = rt.block_on(Store::open(uri, "mlflow-artifacts:"))?;
        Ok(SqlStorage::new(store, rt.handle().clone()))
    }

    /// The underlying store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> Result<T> {
        // On a plain thread, drive the future here (no hand-off); inside a
        // runtime's context (e.g. `spawn_blocking`), hand it to the runtime.
        if tokio::runtime::Handle::try_current().is_err() {
            return Ok(self.handle.block_on(fut));
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| TuneError::internal("the store's runtime stopped before answering"))
    }

    fn caches(&self) -> MutexGuard<'_, HashMap<i64, Cache>> {
        self.caches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings the study's cache up to date.
    fn refresh(&self, study_id: i64) -> Result<()> {
        let since = self.caches().get(&study_id).map(|c| c.seq).unwrap_or(0);
        let store = self.store.clone();
        let rows = self.run(async move { store.study_trials_since(study_id, since).await })??;
        if rows.is_empty() {
            return Ok(());
        }
        let mut parsed = Vec::with_capacity(rows.len());
        for r in &rows {
            parsed.push((r.seq, trial_from_row(r)?));
        }
        let mut caches = self.caches();
        let cache = caches.entry(study_id).or_default();
        for (seq, t) in parsed {
            cache.seq = cache.seq.max(seq);
            put(cache, Arc::new(t));
        }
        Ok(())
    }

    fn metric_names(&self, study_id: i64) -> Vec<String> {
        self.caches()
            .get(&study_id)
            .map(|c| c.metrics.clone())
            .unwrap_or_default()
    }

    fn cached(&self, study_id: i64, number: u64) -> Option<Arc<FrozenTrial>> {
        self.caches()
            .get(&study_id)
            .and_then(|c| c.trials.get(number as usize).cloned().flatten())
    }

    fn remember_metrics(&self, info: &StudyInfo) {
        let names: Vec<String> = info
            .config
            .get("metrics")
            .and_then(|m| serde_json::from_value(m.clone()).ok())
            .unwrap_or_default();
        self.caches().entry(info.study_id).or_default().metrics = names;
    }

    /// Builds the write for `t`, with the child-run params and metrics not yet mirrored.
    fn write_of(&self, study_id: i64, t: &FrozenTrial) -> Result<TrialWrite> {
        let before = self.cached(study_id, t.number);
        let names = self.metric_names(study_id);
        let first = names.first().cloned().unwrap_or_else(|| "value".into());
        let now = kiln_store::now_ms();
        let new_run_params: Vec<(String, String)> = t
            .params
            .iter()
            .filter(|(k, _)| before.as_ref().is_none_or(|b| !b.params.contains_key(*k)))
            .map(|(k, p)| (k.clone(), p.value.to_string()))
            .collect();
        let mut new_metrics: Vec<Metric> = t
            .intermediate
            .iter()
            .filter(|(s, _)| before.as_ref().is_none_or(|b| !b.intermediate.contains_key(*s)))
            .map(|(s, v)| metric(&first, *v, now, *s))
            .collect();
        if t.state == TrialState::Complete {
            if let Some(values) = &t.values {
                let step = t.last_intermediate().map(|(s, _)| s).unwrap_or(0);
                for (i, v) in values.iter().enumerate() {
                    let name = names.get(i).cloned().unwrap_or_else(|| format!("value_{i}"));
                    new_metrics.push(metric(&name, *v, now + 1, step));
                }
            }
        }
        Ok(TrialWrite {
            trial_id: t.trial_id,
            state: t.state.as_str().to_string(),
            params: t.params_json().to_string(),
            values: match &t.values {
                Some(v) => Some(serde_json::to_string(v).map_err(|e| invalid(e.to_string()))?),
                None => None,
            },
            intermediate: t.intermediate_json().to_string(),
            attrs: serde_json::Value::Object(t.attrs.clone().into_iter().collect()).to_string(),
            new_run_params,
            new_metrics,
        })
    }

    fn write(&self, study_id: i64, t: &FrozenTrial) -> Result<()> {
        if self.cached(study_id, t.number).is_none() {
            self.refresh(study_id)?;
        }
        let w = self.write_of(study_id, t)?;
        let store = self.store.clone();
        self.run(async move { store.update_study_trial(study_id, w).await })??;
        let mut stored = t.clone();
        if let Some(before) = self.cached(study_id, t.number) {
            stored.heartbeat_ms = before.heartbeat_ms.map(|_| kiln_store::now_ms());
            stored.run_id = before.run_id.clone();
            stored.worker = before.worker.clone();
            stored.start_ms = stored.start_ms.or(before.start_ms);
        }
        if t.state.is_finished() {
            stored.end_ms = Some(kiln_store::now_ms());
        }
        let mut caches = self.caches();
        put(caches.entry(study_id).or_default(), Arc::new(stored));
        Ok(())
    }
}

fn put(cache: &mut Cache, t: Arc<FrozenTrial>) {
    let i = t.number as usize;
    if cache.trials.len() <= i {
        cache.trials.resize(i + 1, None);
    }
    cache.trials[i] = Some(t);
}

fn metric(key: &str, value: f64, timestamp: i64, step: i64) -> Metric {
    Metric::new(key, value, timestamp, step)
}

fn trial_from_row(r: &TrialRow) -> Result<FrozenTrial> {
    let bad = |what: &str, e: String| invalid(format!("stored trial {} has unreadable {what}: {e}", r.number));
    let params_v: serde_json::Value = serde_json::from_str(&r.params).map_err(|e| bad("params", e.to_string()))?;
    let intermediate_v: serde_json::Value =
        serde_json::from_str(&r.intermediate).map_err(|e| bad("intermediate values", e.to_string()))?;
    let attrs: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&r.attrs).map_err(|e| bad("attributes", e.to_string()))?;
    let values: Option<Vec<f64>> = match &r.values {
        Some(v) => Some(serde_json::from_str(v).map_err(|e| bad("values", e.to_string()))?),
        None => None,
    };
    let mut t = FrozenTrial::new(r.trial_id, r.number.max(0) as u64, TrialState::parse(&r.state)?);
    t.params = FrozenTrial::params_from_json(&params_v)?;
    t.intermediate = FrozenTrial::intermediate_from_json(&intermediate_v);
    t.attrs = attrs;
    t.values = values;
    t.start_ms = r.start_time;
    t.end_ms = r.end_time;
    t.heartbeat_ms = r.heartbeat;
    t.worker = r.worker.clone();
    t.run_id = Some(r.run_id.clone());
    Ok(t)
}

fn study_from_row(r: &kiln_store::studies::StudyRow) -> Result<StudyInfo> {
    let directions: Vec<Direction> = serde_json::from_str(&r.directions)
        .map_err(|e| invalid(format!("study '{}' has unreadable directions: {e}", r.name)))?;
    let config: serde_json::Value = serde_json::from_str(&r.config)
        .map_err(|e| invalid(format!("study '{}' has unreadable settings: {e}", r.name)))?;
    Ok(StudyInfo {
        study_id: r.study_id,
        name: r.name.clone(),
        directions,
        config,
        experiment_id: Some(r.experiment_id.clone()),
        parent_run_id: Some(r.parent_run_id.clone()),
        creation_ms: r.creation_time,
    })
}

impl Storage for SqlStorage {
    fn create_study(&self, req: &StudyCreate) -> Result<StudyInfo> {
        let new = NewStudy {
            name: req.name.clone(),
            directions: serde_json::to_string(&req.directions).map_err(|e| invalid(e.to_string()))?,
            config: req.config.to_string(),
            experiment_name: req.experiment.clone().unwrap_or_else(|| req.name.clone()),
            user_id: self.user.clone(),
        };
        let store = self.store.clone();
        let row = self.run(async move { store.create_study(new).await })??;
        let info = study_from_row(&row)?;
        self.remember_metrics(&info);
        Ok(info)
    }

    fn get_study(&self, name: &str) -> Result<StudyInfo> {
        let store = self.store.clone();
        let name = name.to_string();
        let row = self.run(async move { store.get_study_by_name(&name).await })??;
        let info = study_from_row(&row)?;
        self.remember_metrics(&info);
        Ok(info)
    }

    fn list_studies(&self) -> Result<Vec<StudyInfo>> {
        let store = self.store.clone();
        let rows = self.run(async move { store.list_studies().await })??;
        rows.iter().map(study_from_row).collect()
    }

    fn create_trial(&self, study_id: i64, req: TrialCreate) -> Result<Option<FrozenTrial>> {
        let mut t = FrozenTrial::new(0, 0, req.state);
        t.params = req.params;
        t.attrs = req.attrs;
        let new = NewTrial {
            state: req.state.as_str().to_string(),
            params: t.params_json().to_string(),
            attrs: serde_json::Value::Object(t.attrs.clone().into_iter().collect()).to_string(),
            worker: req.worker.clone(),
            budget: req.budget.map(|b| b.min(i64::MAX as u64) as i64),
            heartbeat: req.worker.is_some(),
            run_params: t.params.iter().map(|(k, p)| (k.clone(), p.value.to_string())).collect(),
        };
        let store = self.store.clone();
        let Some(row) = self.run(async move { store.create_study_trial(study_id, new).await })?? else {
            return Ok(None);
        };
        let t = trial_from_row(&row)?;
        put(self.caches().entry(study_id).or_default(), Arc::new(t.clone()));
        Ok(Some(t))
    }

    fn claim_waiting(&self, study_id: i64, worker: &str) -> Result<Option<FrozenTrial>> {
        let store = self.store.clone();
        let worker = worker.to_string();
        let Some(row) = self.run(async move { store.claim_waiting_trial(study_id, &worker).await })?? else {
            return Ok(None);
        };
        let t = trial_from_row(&row)?;
        put(self.caches().entry(study_id).or_default(), Arc::new(t.clone()));
        Ok(Some(t))
    }

    fn save_trial(&self, study_id: i64, trial: &FrozenTrial) -> Result<()> {
        if trial.state != TrialState::Running {
            return Err(invalid(format!(
                "save_trial needs a RUNNING trial, got {}",
                trial.state
            )));
        }
        self.write(study_id, trial)
    }

    fn finish_trial(&self, study_id: i64, trial: &FrozenTrial) -> Result<()> {
        if !trial.state.is_finished() {
            return Err(invalid(format!(
                "finish_trial needs a final state, got {}",
                trial.state
            )));
        }
        self.write(study_id, trial)
    }

    fn heartbeat(&self, study_id: i64, trial_ids: &[i64]) -> Result<()> {
        let store = self.store.clone();
        let ids = trial_ids.to_vec();
        self.run(async move { store.heartbeat_study_trials(study_id, &ids).await })?
    }

    fn reap_stale(&self, study_id: i64, grace_ms: i64) -> Result<Vec<u64>> {
        let store = self.store.clone();
        let pairs = self.run(async move { store.reap_stale_study_trials(study_id, grace_ms).await })??;
        Ok(pairs.into_iter().map(|(n, _)| n.max(0) as u64).collect())
    }

    fn trials(&self, study_id: i64) -> Result<Vec<Arc<FrozenTrial>>> {
        self.refresh(study_id)?;
        Ok(self
            .caches()
            .get(&study_id)
            .map(|c| c.trials.iter().flatten().cloned().collect())
            .unwrap_or_default())
    }

    fn trial(&self, study_id: i64, number: u64) -> Result<FrozenTrial> {
        self.refresh(study_id)?;
        self.cached(study_id, number)
            .map(|t| (*t).clone())
            .ok_or_else(|| not_found(format!("trial {number} not found in this study")))
    }
}
