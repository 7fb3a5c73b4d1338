//! Ask-and-tell over HTTP: studies of kiln-tune under `/api/2.0/kiln/studies`
//! (documented in docs/studies-api.md), so an objective in any language can be
//! tuned. Handlers parse the request, run kiln-tune's study over the server's
//! store on a blocking thread, and shape JSON; every client mistake is a 4xx
//! with MLflow's error shape.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use kiln_store::{ErrorCode, StoreError};
use kiln_tune::report::trial_json;
use kiln_tune::study::{Outcome, Study, StudyOptions};
use kiln_tune::{Direction, ParamValue, PrunerConfig, SamplerConfig, SearchSpace, SqlStorage, Storage, TrialState};

use crate::req::{value_f64, value_str, Req};
use crate::{ApiResult, AppState};

/// The routes, to be nested under `/api/2.0/kiln/studies`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/create", post(create))
        .route("/get", get(get_study))
        .route("/list", get(list))
        .route("/ask", post(ask))
        .route("/tell", post(tell))
        .route("/report", post(report))
        .route("/should-prune", get(should_prune))
        .route("/enqueue", post(enqueue))
        .route("/best", get(best))
        .route("/trials", get(trials))
        .route("/pareto", get(pareto))
        .route("/importances", get(importances))
        .route("/overview", get(overview))
}

/// Runs `f` with a storage over the server's store on a blocking thread.
async fn with_storage<T: Send + 'static>(
    s: &AppState,
    f: impl FnOnce(Arc<dyn Storage>) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let storage: Arc<dyn Storage> = Arc::new(SqlStorage::new(s.store.clone(), tokio::runtime::Handle::current()));
    tokio::task::spawn_blocking(move || f(storage))
        .await
        .map_err(|e| StoreError::internal(format!("study task failed: {e}")))?
}

fn study_name(r: &Req) -> Result<String, StoreError> {
    let name = r.str("study")?;
    if name.trim().is_empty() {
        return Err(StoreError::invalid("parameter 'study' must not be empty"));
    }
    Ok(name)
}

fn number(r: &Req) -> Result<u64, StoreError> {
    let n = r.i64("number")?;
    u64::try_from(n).map_err(|_| StoreError::invalid(format!("parameter 'number' must not be negative, got {n}")))
}

fn study_json(study: &Study, trials: &[Arc<kiln_tune::FrozenTrial>]) -> Value {
    let count = |st: TrialState| trials.iter().filter(|t| t.state == st).count();
    let settings = study.settings();
    json!({
        "name": study.name(),
        "directions": study.directions().iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "metrics": settings.metrics,
        "sampler": settings.sampler,
        "pruner": settings.pruner,
        "space": settings.space,
        "seed": settings.seed,
        "experiment_id": study.info().experiment_id,
        "parent_run_id": study.info().parent_run_id,
        "creation_time": study.info().creation_ms,
        "n_trials": trials.len(),
        "n_complete": count(TrialState::Complete),
        "n_pruned": count(TrialState::Pruned),
        "n_fail": count(TrialState::Fail),
        "n_running": count(TrialState::Running),
        "n_waiting": count(TrialState::Waiting),
    })
}

fn directions_of(r: &Req) -> Result<Vec<Direction>, StoreError> {
    let one = r.opt_str("direction")?;
    let many = r.0.get("directions");
    match (one, many) {
        (Some(_), Some(_)) => Err(StoreError::invalid("give 'direction' or 'directions', not both")),
        (Some(d), None) => Ok(vec![Direction::parse(&d)?]),
        (None, Some(Value::Array(a))) if !a.is_empty() => a
            .iter()
            .enumerate()
            .map(|(i, v)| Direction::parse(&value_str(format!("directions[{i}]"), v)?))
            .collect(),
        (None, Some(_)) => Err(StoreError::invalid(
            "parameter 'directions' must be a non-empty list of \"minimize\" / \"maximize\"",
        )),
        (None, None) => Ok(vec![Direction::Minimize]),
    }
}

fn sampler_of(v: Option<&Value>) -> Result<SamplerConfig, StoreError> {
    match v {
        None | Some(Value::Null) => Ok(SamplerConfig::default()),
        Some(Value::String(s)) => SamplerConfig::parse_cli(s),
        Some(obj @ Value::Object(_)) => {
            serde_json::from_value(obj.clone()).map_err(|e| StoreError::invalid(format!("parameter 'sampler': {e}")))
        }
        Some(other) => Err(StoreError::invalid(format!(
            "parameter 'sampler' must be a name or an object, got {other}"
        ))),
    }
}

fn pruner_of(v: Option<&Value>) -> Result<PrunerConfig, StoreError> {
    match v {
        None | Some(Value::Null) => Ok(PrunerConfig::default()),
        Some(Value::String(s)) => PrunerConfig::parse_cli(s),
        Some(obj @ Value::Object(_)) => {
            serde_json::from_value(obj.clone()).map_err(|e| StoreError::invalid(format!("parameter 'pruner': {e}")))
        }
        Some(other) => Err(StoreError::invalid(format!(
            "parameter 'pruner' must be a name or an object, got {other}"
        ))),
    }
}

async fn create(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = r.str("name")?;
    let directions = directions_of(&r)?;
    let space_v =
        r.0.get("space")
            .ok_or_else(|| StoreError::invalid("parameter 'space' is required: an object of parameters"))?;
    if !space_v.is_object() {
        return Err(StoreError::invalid("parameter 'space' must be an object of parameters").into());
    }
    let space = SearchSpace::from_json(space_v)?;
    if space.is_empty() {
        return Err(StoreError::invalid("parameter 'space' declares no parameters").into());
    }
    let metrics: Vec<String> = match r.0.get("metrics") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| value_str(format!("metrics[{i}]"), v))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(StoreError::invalid("parameter 'metrics' must be a list of names").into()),
    };
    let seed = match r.opt_i64("seed")? {
        Some(v) if v < 0 => return Err(StoreError::invalid("parameter 'seed' must not be negative").into()),
        v => v.map(|v| v as u64),
    };
    let mut opts = StudyOptions::new(name, directions[0]);
    opts.directions = directions;
    opts.metrics = metrics;
    opts.sampler = sampler_of(r.0.get("sampler"))?;
    opts.pruner = pruner_of(r.0.get("pruner"))?;
    opts.space = Some(space);
    opts.seed = seed;
    opts.experiment = r.opt_str("experiment")?;
    let load = r.opt_bool("load_if_exists")?.unwrap_or(false);
    let out = with_storage(&s, move |st| {
        let study = if load {
            Study::load_or_create(st, opts)?
        } else {
            Study::create(st, opts)?
        };
        let trials = study.trials()?;
        Ok(study_json(&study, &trials))
    })
    .await?;
    Ok(Json(json!({ "study": out })))
}

async fn get_study(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = study_name(&r)?;
    let out = with_storage(&s, move |st| {
        let study = Study::load(st, &name)?;
        let trials = study.trials()?;
        Ok(study_json(&study, &trials))
    })
    .await?;
    Ok(Json(json!({ "study": out })))
}

async fn list(State(s): State<AppState>, _r: Req) -> ApiResult {
    let out = with_storage(&s, move |st| {
        let mut out = Vec::new();
        for info in st.list_studies()? {
            let study = Study::load(st.clone(), &info.name)?;
            let trials = study.trials()?;
            out.push(study_json(&study, &trials));
        }
        Ok(out)
    })
    .await?;
    Ok(Json(json!({ "studies": out })))
}

async fn ask(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = study_name(&r)?;
    let budget = match r.opt_i64("budget")? {
        Some(b) if b < 1 => return Err(StoreError::invalid("parameter 'budget' must be at least 1").into()),
        b => b.map(|b| b as u64),
    };
    let out = with_storage(&s, move |st| {
        let study = Study::load(st, &name)?;
        match study.ask_space(budget)? {
            Some(t) => Ok(trial_json(&t.frozen())),
            None => Err(StoreError::new(
                ErrorCode::InvalidState,
                format!("study '{name}' already has {} trials (the budget)", budget.unwrap_or(0)),
            )),
        }
    })
    .await?;
    Ok(Json(json!({ "trial": out })))
}

fn outcome_of(r: &Req) -> Result<Outcome, StoreError> {
    let state = r.opt_str("state")?.map(|s| s.to_ascii_uppercase());
    let values: Option<Vec<f64>> = match (r.0.get("value"), r.0.get("values")) {
        (Some(_), Some(_)) => return Err(StoreError::invalid("give 'value' or 'values', not both")),
        (Some(v), None) => Some(vec![value_f64("value", v)?]),
        (None, Some(Value::Array(a))) => Some(
            a.iter()
                .enumerate()
                .map(|(i, v)| value_f64(format!("values[{i}]"), v))
                .collect::<Result<_, _>>()?,
        ),
        (None, Some(other)) => {
            return Err(StoreError::invalid(format!(
                "parameter 'values' must be a list of numbers, got {other}"
            )))
        }
        (None, None) => None,
    };
    match (state.as_deref(), values) {
        (None | Some("COMPLETE"), Some(v)) => Ok(Outcome::Complete(v)),
        (None | Some("COMPLETE"), None) => Err(StoreError::invalid(
            "a COMPLETE tell needs 'value' (or 'values', one per direction)",
        )),
        (Some("PRUNED"), None) => Ok(Outcome::Pruned),
        (Some("FAIL"), None) => Ok(Outcome::Fail(
            r.opt_str("reason")?
                .unwrap_or_else(|| "reported as failed by the client".into()),
        )),
        (Some("PRUNED" | "FAIL"), Some(_)) => Err(StoreError::invalid("a PRUNED or FAIL tell takes no values")),
        (Some(other), _) => Err(StoreError::invalid(format!(
            "parameter 'state' must be COMPLETE, PRUNED or FAIL, got '{other}'"
        ))),
    }
}

async fn tell(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = study_name(&r)?;
    let n = number(&r)?;
    let outcome = outcome_of(&r)?;
    let out = with_storage(&s, move |st| {
        let study = Study::load(st, &name)?;
        let t = study.tell_number(n, outcome)?;
        Ok(trial_json(&t))
    })
    .await?;
    Ok(Json(json!({ "trial": out })))
}

async fn report(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = study_name(&r)?;
    let n = number(&r)?;
    let step = r.i64("step")?;
    let value = r.f64("value")?;
    let prune = with_storage(&s, move |st| Study::load(st, &name)?.report_number(n, step, value)).await?;
    Ok(Json(json!({ "should_prune": prune })))
}

async fn should_prune(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = study_name(&r)?;
    let n = number(&r)?;
    let prune = with_storage(&s, move |st| Study::load(st, &name)?.should_prune_number(n)).await?;
    Ok(Json(json!({ "should_prune": prune })))
}

async fn enqueue(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = study_name(&r)?;
    let params: BTreeMap<String, ParamValue> = match r.0.get("params") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                ParamValue::from_json(v)
                    .map(|p| (k.clone(), p))
                    .ok_or_else(|| StoreError::invalid(format!("params.{k} must be a number, string or boolean")))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(StoreError::invalid("parameter 'params' must be an object of parameter values").into()),
    };
    let n = with_storage(&s, move |st| Study::load(st, &name)?.enqueue(&params)).await?;
    Ok(Json(json!({ "number": n })))
}

async fn best(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = study_name(&r)?;
    let out = with_storage(&s, move |st| {
        let study = Study::load(st, &name)?;
        if study.directions().len() > 1 {
            let front: Vec<Value> = study.best_trials()?.iter().map(trial_json).collect();
            return Ok(json!({ "best_trials": front }));
        }
        match study.best_trial()? {
            Some(t) => Ok(json!({ "trial": trial_json(&t) })),
            None => Err(StoreError::not_found(format!(
                "study '{name}' has no complete trial yet"
            ))),
        }
    })
    .await?;
    Ok(Json(out))
}

async fn trials(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = study_name(&r)?;
    let state = r.opt_str("state")?.map(|s| TrialState::parse(&s)).transpose()?;
    let out = with_storage(&s, move |st| {
        let study = Study::load(st, &name)?;
        Ok(study
            .trials()?
            .iter()
            .filter(|t| state.is_none_or(|s| t.state == s))
            .map(|t| trial_json(t))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({ "trials": out })))
}

async fn pareto(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = study_name(&r)?;
    let out = with_storage(&s, move |st| {
        Ok(Study::load(st, &name)?
            .best_trials()?
            .iter()
            .map(trial_json)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({ "trials": out })))
}

async fn importances(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = study_name(&r)?;
    let objective = match r.opt_i64("objective")? {
        Some(o) if o < 0 => return Err(StoreError::invalid("parameter 'objective' must not be negative").into()),
        o => o.unwrap_or(0) as usize,
    };
    let out = with_storage(&s, move |st| {
        let study = Study::load(st, &name)?;
        let imp = kiln_tune::importance::importances(&study.trials()?, study.directions(), objective)?;
        Ok(imp
            .into_iter()
            .map(|(p, v)| json!({"param": p, "importance": v}))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({ "importances": out })))
}

/// The numbers of the COMPLETE trials on the Pareto front of `trials` (for one
/// objective: the best trial, or several when they tie), by number.
fn front_numbers(trials: &[Arc<kiln_tune::FrozenTrial>], directions: &[Direction]) -> Vec<u64> {
    let complete: Vec<&Arc<kiln_tune::FrozenTrial>> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.values.as_ref().is_some_and(|v| v.len() == directions.len()))
        .collect();
    let points: Vec<Vec<f64>> = complete
        .iter()
        .map(|t| kiln_tune::pareto::to_min(directions, t.values.as_deref().unwrap_or(&[])))
        .collect();
    let mut out: Vec<u64> = kiln_tune::pareto::nondominated_fronts(&points)
        .first()
        .map(|f| f.iter().filter_map(|&i| complete.get(i).map(|t| t.number)).collect())
        .unwrap_or_default();
    out.sort_unstable();
    out
}

/// The importances of objective `objective`, or why they cannot be computed yet
/// (too few complete trials, no shared parameter): a state of the study, not an error.
fn importance_json(
    trials: &[Arc<kiln_tune::FrozenTrial>],
    directions: &[Direction],
    metrics: &[String],
    objective: usize,
) -> Result<Value, StoreError> {
    let metric = metrics.get(objective).cloned().unwrap_or_else(|| {
        if directions.len() == 1 {
            "value".to_string()
        } else {
            format!("value_{objective}")
        }
    });
    match kiln_tune::importance::importances(trials, directions, objective) {
        Ok(imp) => Ok(json!({
            "objective": objective,
            "metric": metric,
            "importances": imp.into_iter().map(|(p, v)| json!({"param": p, "importance": v})).collect::<Vec<_>>(),
        })),
        Err(e) if e.code == ErrorCode::InvalidParameterValue => Ok(json!({
            "objective": objective,
            "metric": metric,
            "importances": [],
            "message": e.message,
        })),
        Err(e) => Err(e),
    }
}

/// `GET overview?study=NAME`: what the web UI's study page shows, from one
/// snapshot of the trials: `study` (as `get`), every trial (`trials`, by
/// number), `front` (the numbers of the Pareto-front trials; for one objective
/// the best trial) and `importances` (one entry per objective with its
/// `metric`, the `importances` and, where they cannot be computed yet, a
/// `message` saying why). Unknown study: 404.
async fn overview(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    r: Req,
) -> Result<axum::response::Response, crate::ApiError> {
    let name = study_name(&r)?;
    let out = with_storage(&s, move |st| {
        let study = Study::load(st, &name)?;
        let trials = study.trials()?;
        let directions = study.directions();
        let metrics = &study.settings().metrics;
        let importances = (0..directions.len())
            .map(|i| importance_json(&trials, directions, metrics, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(json!({
            "study": study_json(&study, &trials),
            "trials": trials.iter().map(|t| trial_json(t)).collect::<Vec<_>>(),
            "front": front_numbers(&trials, directions),
            "importances": importances,
        }))
    })
    .await?;
    Ok(crate::ui_api::json_response(&headers, &out))
}
