//! MLflow REST API handlers (tracking, logged models, registry).

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Map, Value};

use kiln_store::filter::{LoggedModelDataset, LoggedModelOrder};
use kiln_store::validation::missing_value;
use kiln_store::{
    DatasetInput, LoggedModelCreate, Metric, ModelInput, ModelOutput, ModelVersionCreate, Page, RunCreate, SearchRuns,
    StoreError, ViewType,
};

use crate::req::Req;
use crate::{ApiResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        // experiments
        .route("/experiments/create", post(create_experiment))
        .route("/experiments/get", get(get_experiment))
        .route("/experiments/get-by-name", get(get_experiment_by_name))
        .route("/experiments/delete", post(delete_experiment))
        .route("/experiments/restore", post(restore_experiment))
        .route("/experiments/update", post(update_experiment))
        .route("/experiments/set-experiment-tag", post(set_experiment_tag))
        .route("/experiments/delete-experiment-tag", post(delete_experiment_tag))
        .route("/experiments/search", post(search_experiments).get(search_experiments))
        // runs
        .route("/runs/create", post(create_run))
        .route("/runs/update", post(update_run))
        .route("/runs/delete", post(delete_run))
        .route("/runs/restore", post(restore_run))
        .route("/runs/get", get(get_run))
        .route("/runs/log-metric", post(log_metric))
        .route("/runs/log-parameter", post(log_param))
        .route("/runs/set-tag", post(set_tag))
        .route("/runs/delete-tag", post(delete_tag))
        .route("/runs/log-batch", post(log_batch))
        .route("/runs/log-model", post(log_model_history))
        .route("/runs/log-inputs", post(log_inputs))
        .route("/runs/outputs", post(log_outputs))
        .route("/runs/log-outputs", post(log_outputs))
        .route("/runs/search", post(search_runs).get(search_runs))
        .route("/metrics/get-history", get(get_metric_history))
        .route("/artifacts/list", get(list_run_artifacts))
        // logged models (MLflow 3)
        .route("/logged-models", post(create_logged_model))
        .route("/logged-models/search", post(search_logged_models))
        .route(
            "/logged-models/{model_id}",
            get(get_logged_model)
                .patch(finalize_logged_model)
                .delete(delete_logged_model),
        )
        .route(
            "/logged-models/{model_id}/tags",
            axum::routing::patch(set_logged_model_tags),
        )
        .route("/logged-models/{model_id}/tags/{key}", delete(delete_logged_model_tag))
        .route("/logged-models/{model_id}/params", post(log_logged_model_params))
        .route("/server-info", get(server_info))
        // registry
        .route("/registered-models/create", post(create_registered_model))
        .route("/registered-models/rename", post(rename_registered_model))
        .route(
            "/registered-models/update",
            axum::routing::patch(update_registered_model),
        )
        .route("/registered-models/delete", delete(delete_registered_model))
        .route("/registered-models/get", get(get_registered_model))
        .route(
            "/registered-models/search",
            get(search_registered_models).post(search_registered_models),
        )
        .route(
            "/registered-models/get-latest-versions",
            post(get_latest_versions).get(get_latest_versions),
        )
        .route("/registered-models/set-tag", post(set_registered_model_tag))
        .route("/registered-models/delete-tag", delete(delete_registered_model_tag))
        .route(
            "/registered-models/alias",
            post(set_alias).delete(delete_alias).get(get_model_version_by_alias),
        )
        .route("/model-versions/create", post(create_model_version))
        .route("/model-versions/update", axum::routing::patch(update_model_version))
        .route("/model-versions/delete", delete(delete_model_version))
        .route("/model-versions/get", get(get_model_version))
        .route(
            "/model-versions/search",
            get(search_model_versions).post(search_model_versions),
        )
        .route("/model-versions/get-download-uri", get(get_download_uri))
        .route("/model-versions/transition-stage", post(transition_stage))
        .route("/model-versions/set-tag", post(set_model_version_tag))
        .route("/model-versions/delete-tag", delete(delete_model_version_tag))
}

fn ok() -> ApiResult {
    Ok(Json(json!({})))
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// `{list_field: [...], "next_page_token": ...}`, omitting empty parts as protobuf JSON does.
fn page_json<T: Serialize>(field: &str, page: &Page<T>) -> ApiResult {
    let mut m = Map::new();
    if !page.items.is_empty() {
        m.insert(field.to_string(), to_value(&page.items));
    }
    if let Some(t) = &page.next_page_token {
        m.insert("next_page_token".into(), Value::String(t.clone()));
    }
    Ok(Json(Value::Object(m)))
}

fn view_type(r: &Req) -> Result<ViewType, StoreError> {
    match r.opt_str("view_type")?.or(r.opt_str("run_view_type")?) {
        None => Ok(ViewType::ActiveOnly),
        Some(s) if s.is_empty() => Ok(ViewType::ActiveOnly),
        Some(s) => ViewType::parse(&s).ok_or_else(|| {
            StoreError::invalid(format!(
                "Invalid value \"{s}\" for parameter 'view_type' supplied: expected ACTIVE_ONLY, DELETED_ONLY or ALL"
            ))
        }),
    }
}

fn order_by(r: &Req) -> Result<Vec<String>, StoreError> {
    Ok(r.str_list("order_by")?
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .collect())
}

// ------------------------------------------------------------------ experiments

async fn create_experiment(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = r
        .opt_str("name")?
        .ok_or_else(|| StoreError::invalid(missing_value("name")))?;
    let loc = r.opt_str("artifact_location")?.filter(|l| !l.is_empty());
    let id = s
        .store
        .create_experiment(&name, loc.as_deref(), &r.tags("tags")?)
        .await?;
    Ok(Json(json!({ "experiment_id": id })))
}

async fn get_experiment(State(s): State<AppState>, r: Req) -> ApiResult {
    let exp = s.store.get_experiment(&r.str("experiment_id")?).await?;
    Ok(Json(json!({ "experiment": exp })))
}

async fn get_experiment_by_name(State(s): State<AppState>, r: Req) -> ApiResult {
    let exp = s.store.get_experiment_by_name(&r.str("experiment_name")?).await?;
    Ok(Json(json!({ "experiment": exp })))
}

async fn delete_experiment(State(s): State<AppState>, r: Req) -> ApiResult {
    s.store.delete_experiment(&r.str("experiment_id")?).await?;
    ok()
}

async fn restore_experiment(State(s): State<AppState>, r: Req) -> ApiResult {
    s.store.restore_experiment(&r.str("experiment_id")?).await?;
    ok()
}

async fn update_experiment(State(s): State<AppState>, r: Req) -> ApiResult {
    let id = r.str("experiment_id")?;
    if let Some(name) = r.opt_str("new_name")? {
        s.store.rename_experiment(&id, &name).await?;
    } else {
        s.store.get_experiment(&id).await?;
    }
    ok()
}

async fn set_experiment_tag(State(s): State<AppState>, r: Req) -> ApiResult {
    let value = r.opt_str("value")?.unwrap_or_default();
    s.store
        .set_experiment_tag(&r.str("experiment_id")?, &r.str("key")?, &value)
        .await?;
    ok()
}

async fn delete_experiment_tag(State(s): State<AppState>, r: Req) -> ApiResult {
    s.store
        .delete_experiment_tag(&r.str("experiment_id")?, &r.str("key")?)
        .await?;
    ok()
}

async fn search_experiments(State(s): State<AppState>, r: Req) -> ApiResult {
    let page = s
        .store
        .search_experiments(
            view_type(&r)?,
            &r.opt_str("filter")?.unwrap_or_default(),
            r.opt_i64("max_results")?,
            &order_by(&r)?,
            r.opt_str("page_token")?.as_deref(),
        )
        .await?;
    page_json("experiments", &page)
}

// ------------------------------------------------------------------ runs

async fn create_run(State(s): State<AppState>, r: Req) -> ApiResult {
    let run = s
        .store
        .create_run(RunCreate {
            experiment_id: r
                .opt_str("experiment_id")?
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "0".into()),
            user_id: r.opt_str("user_id")?.unwrap_or_default(),
            start_time: r.opt_i64("start_time")?,
            run_name: r.opt_str("run_name")?,
            tags: r.tags("tags")?,
        })
        .await?;
    Ok(Json(json!({ "run": run })))
}

async fn update_run(State(s): State<AppState>, r: Req) -> ApiResult {
    let run_id = r.run_id()?;
    let info = s
        .store
        .update_run(
            &run_id,
            r.opt_str("status")?.as_deref(),
            r.opt_i64("end_time")?,
            r.opt_str("run_name")?.as_deref(),
        )
        .await?;
    Ok(Json(json!({ "run_info": info })))
}

async fn delete_run(State(s): State<AppState>, r: Req) -> ApiResult {
    s.store.delete_run(&r.str("run_id")?).await?;
    ok()
}

async fn restore_run(State(s): State<AppState>, r: Req) -> ApiResult {
    s.store.restore_run(&r.str("run_id")?).await?;
    ok()
}

async fn get_run(State(s): State<AppState>, r: Req) -> ApiResult {
    let run = s.store.get_run(&r.run_id()?).await?;
    Ok(Json(json!({ "run": run })))
}

pub(crate) fn metric_from(o: &crate::req::Obj) -> Result<Metric, StoreError> {
    let key = o.str("key")?;
    let mut m = Metric::new(
        key,
        o.f64("value")?,
        o.i64("timestamp")?,
        o.opt_i64("step")?.unwrap_or(0),
    );
    m.model_id = o.opt_str("model_id")?.filter(|s| !s.is_empty());
    m.dataset_name = o.opt_str("dataset_name")?.filter(|s| !s.is_empty());
    m.dataset_digest = o.opt_str("dataset_digest")?.filter(|s| !s.is_empty());
    Ok(m)
}

async fn log_metric(State(s): State<AppState>, r: Req) -> ApiResult {
    let run_id = r.run_id()?;
    let mut m = Metric::new(
        r.str("key")?,
        r.f64("value")?,
        r.i64("timestamp")?,
        r.opt_i64("step")?.unwrap_or(0),
    );
    m.model_id = r.opt_str("model_id")?.filter(|s| !s.is_empty());
    m.dataset_name = r.opt_str("dataset_name")?.filter(|s| !s.is_empty());
    m.dataset_digest = r.opt_str("dataset_digest")?.filter(|s| !s.is_empty());
    s.store.log_metric(&run_id, m).await?;
    ok()
}

async fn log_param(State(s): State<AppState>, r: Req) -> ApiResult {
    let value = r.opt_str("value")?.unwrap_or_default();
    s.store.log_param(&r.run_id()?, &r.str("key")?, &value).await?;
    ok()
}

async fn set_tag(State(s): State<AppState>, r: Req) -> ApiResult {
    let value = r.opt_str("value")?.unwrap_or_default();
    s.store.set_tag(&r.run_id()?, &r.str("key")?, &value).await?;
    ok()
}

async fn delete_tag(State(s): State<AppState>, r: Req) -> ApiResult {
    s.store.delete_tag(&r.str("run_id")?, &r.str("key")?).await?;
    ok()
}

async fn log_batch(State(s): State<AppState>, b: crate::batch::Batch) -> ApiResult {
    s.store.log_batch(&b.run_id, &b.metrics, &b.params, &b.tags).await?;
    ok()
}

/// `runs/log-model` (MLflow 2's model history): recorded as the
/// `mlflow.log-model.history` tag, appending to the JSON list, as MLflow does.
async fn log_model_history(State(s): State<AppState>, r: Req) -> ApiResult {
    let run_id = r.run_id()?;
    let model_json = r.str("model_json")?;
    let model: Value = serde_json::from_str(&model_json).map_err(|e| {
        StoreError::invalid(format!(
            "Invalid value for parameter 'model_json' supplied: not JSON ({e})"
        ))
    })?;
    let run = s.store.get_run(&run_id).await?;
    let key = "mlflow.log-model.history";
    let mut history: Vec<Value> = run
        .data
        .tags
        .iter()
        .find(|t| t.key == key)
        .and_then(|t| serde_json::from_str(&t.value).ok())
        .unwrap_or_default();
    history.push(model);
    s.store
        .set_tag(&run_id, key, &Value::Array(history).to_string())
        .await?;
    ok()
}

async fn log_inputs(State(s): State<AppState>, r: Req) -> ApiResult {
    let run_id = r.run_id()?;
    let mut datasets = Vec::new();
    for o in r.objects("datasets")? {
        let d = o.obj("dataset")?;
        datasets.push(DatasetInput {
            tags: o.tags("tags")?,
            dataset: kiln_store::Dataset {
                name: d.str("name")?,
                digest: d.str("digest")?,
                source_type: d.opt_str("source_type")?.unwrap_or_default(),
                source: d.opt_str("source")?.unwrap_or_default(),
                schema: d.opt_str("schema")?,
                profile: d.opt_str("profile")?,
            },
        });
    }
    let models = r
        .objects("models")?
        .iter()
        .map(|o| {
            Ok(ModelInput {
                model_id: o.str("model_id")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    s.store.log_inputs(&run_id, &datasets, &models).await?;
    ok()
}

async fn log_outputs(State(s): State<AppState>, r: Req) -> ApiResult {
    let run_id = r.run_id()?;
    let models = r
        .objects("models")?
        .iter()
        .map(|o| {
            Ok(ModelOutput {
                model_id: o.str("model_id")?,
                step: o.opt_i64("step")?.unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    s.store.log_outputs(&run_id, &models).await?;
    ok()
}

async fn search_runs(State(s): State<AppState>, r: Req) -> ApiResult {
    let page = s
        .store
        .search_runs(&SearchRuns {
            experiment_ids: r.str_list("experiment_ids")?,
            filter: r.opt_str("filter")?.unwrap_or_default(),
            view_type: view_type(&r)?,
            max_results: r.opt_i64("max_results")?,
            order_by: order_by(&r)?,
            page_token: r.opt_str("page_token")?,
        })
        .await?;
    page_json("runs", &page)
}

async fn get_metric_history(State(s): State<AppState>, r: Req) -> ApiResult {
    let page = s
        .store
        .get_metric_history(
            &r.run_id()?,
            &r.str("metric_key")?,
            r.opt_i64("max_results")?,
            r.opt_str("page_token")?.as_deref(),
        )
        .await?;
    page_json("metrics", &page)
}

async fn list_run_artifacts(State(s): State<AppState>, r: Req) -> ApiResult {
    let run = s.store.get_run_info(&r.run_id()?).await?;
    let sub = r.opt_str("path")?.unwrap_or_default();
    let files = crate::artifacts::list_under_uri(&s, &run.artifact_uri, &sub).await?;
    let mut m = Map::new();
    m.insert("root_uri".into(), Value::String(run.artifact_uri));
    if !files.is_empty() {
        m.insert("files".into(), to_value(&files));
    }
    Ok(Json(Value::Object(m)))
}

// ------------------------------------------------------------------ logged models

async fn create_logged_model(State(s): State<AppState>, r: Req) -> ApiResult {
    let model = s
        .store
        .create_logged_model(LoggedModelCreate {
            experiment_id: r.str("experiment_id")?,
            name: r.opt_str("name")?,
            model_type: r.opt_str("model_type")?,
            source_run_id: r.opt_str("source_run_id")?,
            params: r.tags("params")?,
            tags: r.tags("tags")?,
        })
        .await?;
    Ok(Json(json!({ "model": model })))
}

async fn get_logged_model(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(Json(json!({ "model": s.store.get_logged_model(&id).await? })))
}

async fn finalize_logged_model(State(s): State<AppState>, Path(id): Path<String>, r: Req) -> ApiResult {
    let model = s.store.finalize_logged_model(&id, &r.str("status")?).await?;
    Ok(Json(json!({ "model": model })))
}

async fn delete_logged_model(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    s.store.delete_logged_model(&id).await?;
    ok()
}

async fn set_logged_model_tags(State(s): State<AppState>, Path(id): Path<String>, r: Req) -> ApiResult {
    s.store.set_logged_model_tags(&id, &r.tags("tags")?).await?;
    ok()
}

async fn delete_logged_model_tag(State(s): State<AppState>, Path((id, key)): Path<(String, String)>) -> ApiResult {
    s.store.delete_logged_model_tag(&id, &key).await?;
    ok()
}

async fn log_logged_model_params(State(s): State<AppState>, Path(id): Path<String>, r: Req) -> ApiResult {
    s.store.log_logged_model_params(&id, &r.tags("params")?).await?;
    ok()
}

async fn search_logged_models(State(s): State<AppState>, r: Req) -> ApiResult {
    let mut orders = Vec::new();
    for o in r.objects("order_by")? {
        orders.push(LoggedModelOrder {
            field_name: o.str("field_name")?,
            ascending: o.opt_bool("ascending")?.unwrap_or(true),
            dataset_name: o.opt_str("dataset_name")?,
            dataset_digest: o.opt_str("dataset_digest")?,
        });
    }
    let mut datasets = Vec::new();
    for d in r.objects("datasets")? {
        datasets.push(LoggedModelDataset {
            dataset_name: d.str("dataset_name")?,
            dataset_digest: d.opt_str("dataset_digest")?,
        });
    }
    let page = s
        .store
        .search_logged_models(
            &r.str_list("experiment_ids")?,
            &r.opt_str("filter")?.unwrap_or_default(),
            &datasets,
            &orders,
            r.opt_i64("max_results")?,
            r.opt_str("page_token")?.as_deref(),
        )
        .await?;
    page_json("models", &page)
}

/// What the MLflow 3 client asks before artifact transfers (multipart is off).
async fn server_info() -> ApiResult {
    Ok(Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "server": "kiln",
        "version": crate::VERSION,
    })))
}

// ------------------------------------------------------------------ registry

async fn create_registered_model(State(s): State<AppState>, r: Req) -> ApiResult {
    let name = r.opt_str("name")?.unwrap_or_default();
    let rm = s
        .store
        .create_registered_model(&name, &r.tags("tags")?, r.opt_str("description")?.as_deref())
        .await?;
    Ok(Json(json!({ "registered_model": rm })))
}

async fn rename_registered_model(State(s): State<AppState>, r: Req) -> ApiResult {
    let new_name = r.opt_str("new_name")?.unwrap_or_default();
    let rm = s.store.rename_registered_model(&r.str("name")?, &new_name).await?;
    Ok(Json(json!({ "registered_model": rm })))
}

async fn update_registered_model(State(s): State<AppState>, r: Req) -> ApiResult {
    let rm = s
        .store
        .update_registered_model(&r.str("name")?, r.opt_str("description")?.as_deref())
        .await?;
    Ok(Json(json!({ "registered_model": rm })))
}

async fn delete_registered_model(State(s): State<AppState>, r: Req) -> ApiResult {
    s.store.delete_registered_model(&r.str("name")?).await?;
    ok()
}

async fn get_registered_model(State(s): State<AppState>, r: Req) -> ApiResult {
    let rm = s.store.get_registered_model(&r.str("name")?).await?;
    Ok(Json(json!({ "registered_model": rm })))
}

async fn search_registered_models(State(s): State<AppState>, r: Req) -> ApiResult {
    let page = s
        .store
        .search_registered_models(
            &r.opt_str("filter")?.unwrap_or_default(),
            r.opt_i64("max_results")?,
            &order_by(&r)?,
            r.opt_str("page_token")?.as_deref(),
        )
        .await?;
    page_json("registered_models", &page)
}

async fn get_latest_versions(State(s): State<AppState>, r: Req) -> ApiResult {
    let mvs = s
        .store
        .get_latest_versions(&r.str("name")?, &r.str_list("stages")?)
        .await?;
    let mut m = Map::new();
    if !mvs.is_empty() {
        m.insert("model_versions".into(), to_value(&mvs));
    }
    Ok(Json(Value::Object(m)))
}

async fn set_registered_model_tag(State(s): State<AppState>, r: Req) -> ApiResult {
    let value = r.opt_str("value")?.unwrap_or_default();
    s.store
        .set_registered_model_tag(&r.str("name")?, &r.str("key")?, &value)
        .await?;
    ok()
}

async fn delete_registered_model_tag(State(s): State<AppState>, r: Req) -> ApiResult {
    s.store
        .delete_registered_model_tag(&r.str("name")?, &r.str("key")?)
        .await?;
    ok()
}

async fn set_alias(State(s): State<AppState>, r: Req) -> ApiResult {
    let alias = r.opt_str("alias")?.unwrap_or_default();
    s.store
        .set_registered_model_alias(&r.str("name")?, &alias, &r.str("version")?)
        .await?;
    ok()
}

async fn delete_alias(State(s): State<AppState>, r: Req) -> ApiResult {
    let alias = r.opt_str("alias")?.unwrap_or_default();
    s.store.delete_registered_model_alias(&r.str("name")?, &alias).await?;
    ok()
}

async fn get_model_version_by_alias(State(s): State<AppState>, r: Req) -> ApiResult {
    let mv = s
        .store
        .get_model_version_by_alias(&r.str("name")?, &r.str("alias")?)
        .await?;
    Ok(Json(json!({ "model_version": mv })))
}

async fn create_model_version(State(s): State<AppState>, r: Req) -> ApiResult {
    let mv = s
        .store
        .create_model_version(ModelVersionCreate {
            name: r.opt_str("name")?.unwrap_or_default(),
            source: r.opt_str("source")?.unwrap_or_default(),
            run_id: r.opt_str("run_id")?.filter(|x| !x.is_empty()),
            tags: r.tags("tags")?,
            run_link: r.opt_str("run_link")?,
            description: r.opt_str("description")?,
            model_id: r.opt_str("model_id")?.filter(|x| !x.is_empty()),
            user_id: None,
        })
        .await?;
    Ok(Json(json!({ "model_version": mv })))
}

async fn update_model_version(State(s): State<AppState>, r: Req) -> ApiResult {
    let mv = s
        .store
        .update_model_version(
            &r.str("name")?,
            &r.str("version")?,
            r.opt_str("description")?.as_deref(),
        )
        .await?;
    Ok(Json(json!({ "model_version": mv })))
}

async fn delete_model_version(State(s): State<AppState>, r: Req) -> ApiResult {
    s.store
        .delete_model_version(&r.str("name")?, &r.str("version")?)
        .await?;
    ok()
}

async fn get_model_version(State(s): State<AppState>, r: Req) -> ApiResult {
    let mv = s.store.get_model_version(&r.str("name")?, &r.str("version")?).await?;
    Ok(Json(json!({ "model_version": mv })))
}

async fn search_model_versions(State(s): State<AppState>, r: Req) -> ApiResult {
    let page = s
        .store
        .search_model_versions(
            &r.opt_str("filter")?.unwrap_or_default(),
            r.opt_i64("max_results")?,
            &order_by(&r)?,
            r.opt_str("page_token")?.as_deref(),
        )
        .await?;
    page_json("model_versions", &page)
}

async fn get_download_uri(State(s): State<AppState>, r: Req) -> ApiResult {
    let uri = s
        .store
        .get_model_version_download_uri(&r.str("name")?, &r.str("version")?)
        .await?;
    Ok(Json(json!({ "artifact_uri": uri })))
}

async fn transition_stage(State(s): State<AppState>, r: Req) -> ApiResult {
    let mv = s
        .store
        .transition_model_version_stage(
            &r.str("name")?,
            &r.str("version")?,
            &r.str("stage")?,
            r.opt_bool("archive_existing_versions")?.unwrap_or(false),
        )
        .await?;
    Ok(Json(json!({ "model_version": mv })))
}

async fn set_model_version_tag(State(s): State<AppState>, r: Req) -> ApiResult {
    let value = r.opt_str("value")?.unwrap_or_default();
    s.store
        .set_model_version_tag(&r.str("name")?, &r.str("version")?, &r.str("key")?, &value)
        .await?;
    ok()
}

async fn delete_model_version_tag(State(s): State<AppState>, r: Req) -> ApiResult {
    s.store
        .delete_model_version_tag(&r.str("name")?, &r.str("version")?, &r.str("key")?)
        .await?;
    ok()
}
