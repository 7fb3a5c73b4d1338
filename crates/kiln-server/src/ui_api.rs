//! The endpoints the web UI needs beyond MLflow's REST API, under
//! `/api/2.0/kiln/...` (mirrored under `/ajax-api/2.0/kiln/...`):
//!
//! * `GET experiments/list`: experiments (MLflow's search) with run counts and last activity;
//! * `GET runs/keys`: the distinct param / metric / tag keys of experiments (filter completion);
//! * `POST runs/table`: a compact runs table (chosen columns only, MLflow's filter and order);
//! * `GET runs/metric-summary`: latest, min, max and count of every metric of a run;
//! * `GET metrics/sampled`: histories downsampled on the server (per-bucket first/last/min/max);
//! * `GET artifacts/list`, `GET artifacts/get`: a run's or a logged model's artifacts by id,
//!   with an optional byte limit for previews;
//!
//! and MLflow's own UI endpoint `GET metrics/get-history-bulk-interval` inside the MLflow API.
//! The studies API (`studies.rs`, under `/api/2.0/kiln/studies`) is mirrored under
//! `/ajax-api/2.0/kiln/studies` for the UI's study pages.
//! Handlers parse, call kiln-store and shape JSON; every client mistake is a 4xx.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::StreamExt;
use serde_json::{json, Map, Value};

use kiln_store::artifacts::safe_relative_path;
use kiln_store::ui_queries::{
    Cell, Column, HistoryAxis, RunTableQuery, BULK_INTERVAL_MAX_RESULTS, SAMPLED_MAX_POINTS, SAMPLED_MAX_SERIES,
};
use kiln_store::{StoreError, ViewType};

use crate::req::Req;
use crate::{ApiError, AppState};

/// Kiln's UI endpoints, with their full paths.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    for base in ["/api/2.0/kiln", "/ajax-api/2.0/kiln"] {
        r = r
            .route(&format!("{base}/experiments/list"), get(experiments_list))
            .route(&format!("{base}/runs/keys"), get(run_keys))
            .route(&format!("{base}/runs/table"), post(run_table))
            .route(&format!("{base}/runs/metric-summary"), get(metric_summary))
            .route(&format!("{base}/metrics/sampled"), get(sampled))
            .route(&format!("{base}/artifacts/list"), get(artifacts_list))
            .route(&format!("{base}/artifacts/get"), get(artifacts_get));
    }
    // The studies API for the UI's pages, under the UI's prefix too.
    r.nest("/ajax-api/2.0/kiln/studies", crate::studies::routes())
}

/// Routes added inside the MLflow API (paths relative to `/api/2.0/mlflow`).
pub fn mlflow_routes() -> Router<AppState> {
    Router::new().route("/metrics/get-history-bulk-interval", get(bulk_interval))
}

/// A JSON response, gzip-compressed when large and the client accepts it.
pub(crate) fn json_response(headers: &HeaderMap, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    let gz = if body.len() > 4096 && crate::ui::accepts_gzip(headers) {
        crate::ui::gzip(&body)
    } else {
        None
    };
    let mut resp = match gz {
        Some(gz) => {
            let mut r = Response::new(Body::from(gz));
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        }
        None => Response::new(Body::from(body)),
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

type UiResult = Result<Response, ApiError>;

/// A float as protobuf JSON writes it: NaN and infinities as strings.
fn num(v: f64) -> Value {
    if v.is_nan() {
        Value::String("NaN".into())
    } else if v.is_infinite() {
        Value::String(if v > 0.0 { "Infinity" } else { "-Infinity" }.into())
    } else {
        json!(v)
    }
}

fn view_type(r: &Req) -> Result<ViewType, StoreError> {
    match r.opt_str("view_type")? {
        None => Ok(ViewType::ActiveOnly),
        Some(s) if s.is_empty() => Ok(ViewType::ActiveOnly),
        Some(s) => ViewType::parse(&s).ok_or_else(|| {
            StoreError::invalid(format!(
                "Invalid value \"{s}\" for parameter 'view_type' supplied: expected ACTIVE_ONLY, DELETED_ONLY or ALL"
            ))
        }),
    }
}

// ------------------------------------------------------------------ experiments

async fn experiments_list(State(s): State<AppState>, headers: HeaderMap, r: Req) -> UiResult {
    let order_by: Vec<String> = r
        .str_list("order_by")?
        .into_iter()
        .filter(|o| !o.trim().is_empty())
        .collect();
    let page = s
        .store
        .search_experiments(
            view_type(&r)?,
            &r.opt_str("filter")?.unwrap_or_default(),
            r.opt_i64("max_results")?,
            &order_by,
            r.opt_str("page_token")?.as_deref(),
        )
        .await?;
    let ids: Vec<String> = page.items.iter().map(|e| e.experiment_id.clone()).collect();
    let activity = s.store.experiment_activity(&ids).await?;
    let mut list = Vec::with_capacity(page.items.len());
    for e in &page.items {
        let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
        let a = activity.get(&e.experiment_id).cloned().unwrap_or_default();
        if let Value::Object(m) = &mut v {
            m.insert("run_count".into(), json!(a.run_count));
            m.insert("running_runs".into(), json!(a.running));
            let last = a.last_run_time.unwrap_or(0).max(e.last_update_time);
            m.insert("last_activity".into(), json!(last));
        }
        list.push(v);
    }
    let mut out = Map::new();
    out.insert("experiments".into(), Value::Array(list));
    if let Some(t) = page.next_page_token {
        out.insert("next_page_token".into(), Value::String(t));
    }
    Ok(json_response(&headers, &Value::Object(out)))
}

// ------------------------------------------------------------------ runs

async fn run_keys(State(s): State<AppState>, headers: HeaderMap, r: Req) -> UiResult {
    let ids = r.str_list("experiment_ids")?;
    if ids.is_empty() {
        return Err(StoreError::invalid("Missing value for required parameter 'experiment_ids'").into());
    }
    let keys = s.store.run_keys(&ids).await?;
    Ok(json_response(
        &headers,
        &json!({"params": keys.params, "metrics": keys.metrics, "tags": keys.tags}),
    ))
}

async fn run_table(State(s): State<AppState>, headers: HeaderMap, r: Req) -> UiResult {
    let columns = r
        .str_list("columns")?
        .iter()
        .map(|c| Column::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let run_ids = if r.0.get("run_ids").is_some_and(|v| !v.is_null()) {
        Some(r.str_list("run_ids")?)
    } else {
        None
    };
    let default_columns = match r.opt_i64("default_columns")? {
        None => None,
        Some(n) if (0..=100).contains(&n) => Some(n as usize),
        Some(n) => {
            return Err(StoreError::invalid(format!(
                "Invalid value {n} for parameter 'default_columns' supplied: it must be between 0 and 100"
            ))
            .into())
        }
    };
    let q = RunTableQuery {
        experiment_ids: r.str_list("experiment_ids")?,
        filter: r.opt_str("filter")?.unwrap_or_default(),
        order_by: r
            .str_list("order_by")?
            .into_iter()
            .filter(|o| !o.trim().is_empty())
            .collect(),
        view_type: view_type(&r)?,
        columns,
        default_columns,
        run_ids,
        offset: r.opt_i64("offset")?.unwrap_or(0),
        limit: r.opt_i64("limit")?.unwrap_or(1000),
    };
    let table = s.store.run_table(&q).await?;
    let rows: Vec<Value> = table
        .rows
        .iter()
        .map(|row| {
            let mut v = Vec::with_capacity(8 + row.cells.len());
            v.push(json!(row.run_id));
            v.push(json!(row.run_name));
            v.push(json!(row.status));
            v.push(json!(row.start_time));
            v.push(json!(row.end_time));
            v.push(json!(row.user_id));
            v.push(json!(row.lifecycle_stage));
            v.push(json!(row.parent_run_id));
            for c in &row.cells {
                v.push(match c {
                    Cell::Missing => Value::Null,
                    Cell::Text(t) => Value::String(t.clone()),
                    Cell::Number(n) => num(*n),
                });
            }
            Value::Array(v)
        })
        .collect();
    Ok(json_response(
        &headers,
        &json!({
            "total": table.total,
            "max_start_time": table.max_start_time,
            "offset": q.offset,
            "fields": ["run_id", "run_name", "status", "start_time", "end_time", "user_id", "lifecycle_stage", "parent_run_id"],
            "columns": table.columns.iter().map(Column::name).collect::<Vec<_>>(),
            "rows": rows,
        }),
    ))
}

async fn metric_summary(State(s): State<AppState>, headers: HeaderMap, r: Req) -> UiResult {
    let sums = s.store.metric_summaries(&r.run_id()?).await?;
    let list: Vec<Value> = sums
        .iter()
        .map(|m| {
            json!({
                "key": m.key,
                "latest": num(m.latest),
                "step": m.latest_step,
                "timestamp": m.latest_timestamp,
                "min": m.min.map(num),
                "max": m.max.map(num),
                "count": m.count,
            })
        })
        .collect();
    Ok(json_response(&headers, &json!({ "metrics": list })))
}

// ------------------------------------------------------------------ metric histories

async fn sampled(State(s): State<AppState>, headers: HeaderMap, r: Req) -> UiResult {
    let run_ids = r.str_list("run_ids")?;
    let keys = r.str_list("metric_keys")?;
    if run_ids.is_empty() {
        return Err(StoreError::invalid("Missing value for required parameter 'run_ids'").into());
    }
    if keys.is_empty() {
        return Err(StoreError::invalid("Missing value for required parameter 'metric_keys'").into());
    }
    if run_ids.len() * keys.len() > SAMPLED_MAX_SERIES {
        return Err(StoreError::invalid(format!(
            "Too many series: {} runs x {} metric keys, at most {SAMPLED_MAX_SERIES} in one request",
            run_ids.len(),
            keys.len()
        ))
        .into());
    }
    let axis = HistoryAxis::parse(&r.opt_str("x_axis")?.unwrap_or_default())?;
    let range = match (r.opt_i64("start")?, r.opt_i64("end")?) {
        (Some(a), Some(b)) => Some((a, b)),
        (None, None) => None,
        _ => {
            return Err(StoreError::invalid("Parameters 'start' and 'end' must be given together").into());
        }
    };
    let max_points = r.opt_i64("max_points")?.unwrap_or(1000);
    let max_points = usize::try_from(max_points).map_err(|_| {
        StoreError::invalid(format!(
            "Invalid value {max_points} for parameter 'max_points' supplied: it must be between 4 and {SAMPLED_MAX_POINTS}"
        ))
    })?;
    let mut series = Vec::with_capacity(run_ids.len() * keys.len());
    for run in &run_ids {
        for key in &keys {
            let h = s.store.sampled_history(run, key, axis, range, max_points).await?;
            let steps: Vec<i64> = h.points.iter().map(|p| p.step).collect();
            let times: Vec<i64> = h.points.iter().map(|p| p.timestamp).collect();
            let values: Vec<Value> = h.points.iter().map(|p| num(p.value)).collect();
            series.push(json!({
                "run_id": h.run_id,
                "key": h.key,
                "total": h.total,
                "sampled": h.sampled,
                "steps": steps,
                "timestamps": times,
                "values": values,
            }));
        }
    }
    Ok(json_response(&headers, &json!({ "series": series })))
}

/// MLflow's `GET metrics/get-history-bulk-interval` (`{"metrics": [...]}` with `run_id` on each).
async fn bulk_interval(State(s): State<AppState>, headers: HeaderMap, r: Req) -> UiResult {
    let run_ids = r.str_list("run_ids")?;
    let key = r.str("metric_key")?;
    let max_results = r.opt_i64("max_results")?.unwrap_or(BULK_INTERVAL_MAX_RESULTS);
    let steps = match (r.opt_i64("start_step")?, r.opt_i64("end_step")?) {
        (Some(a), Some(b)) => Some((a, b)),
        (None, None) => None,
        _ => {
            return Err(
                StoreError::invalid("If either start step or end step are specified, both must be specified.").into(),
            )
        }
    };
    let metrics = s
        .store
        .history_bulk_interval(&run_ids, &key, max_results, steps)
        .await?;
    let mut out = Map::new();
    if !metrics.is_empty() {
        out.insert("metrics".into(), serde_json::to_value(&metrics).unwrap_or(Value::Null));
    }
    Ok(json_response(&headers, &Value::Object(out)))
}

// ------------------------------------------------------------------ artifacts

/// The artifact root of `run_id` or `model_id` (exactly one), as a path in the artifact store.
async fn artifact_root(s: &AppState, r: &Req) -> Result<(String, String), ApiError> {
    let run_id = r.opt_str("run_id")?.filter(|x| !x.is_empty());
    let model_id = r.opt_str("model_id")?.filter(|x| !x.is_empty());
    let uri = match (run_id, model_id) {
        (Some(run), None) => s.store.get_run_info(&run).await?.artifact_uri,
        (None, Some(model)) => s.store.get_logged_model(&model).await?.info.artifact_uri,
        (Some(_), Some(_)) => {
            return Err(StoreError::invalid("Give either 'run_id' or 'model_id', not both").into());
        }
        (None, None) => return Err(StoreError::invalid("Missing value for required parameter 'run_id'").into()),
    };
    let root = s.artifacts.path_for_uri(&uri)?;
    Ok((uri, root))
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

async fn artifacts_list(State(s): State<AppState>, headers: HeaderMap, r: Req) -> UiResult {
    let (uri, root) = artifact_root(&s, &r).await?;
    let sub = safe_relative_path(&r.opt_str("path")?.unwrap_or_default())?;
    let prefix = if root.is_empty() {
        String::new()
    } else {
        format!("{root}/")
    };
    let entries = s.artifacts.list(&join(&root, &sub)).await?;
    let files: Vec<Value> = entries
        .iter()
        .map(|f| {
            json!({
                "path": f.path.strip_prefix(&prefix).unwrap_or(&f.path),
                "is_dir": f.is_dir,
                "file_size": f.file_size,
            })
        })
        .collect();
    Ok(json_response(&headers, &json!({"root_uri": uri, "files": files})))
}

/// The content type an artifact is served with. Markup and scripts are served as
/// plain text so that opening an artifact never runs it in the UI's origin; the UI
/// renders SVG through an `<img>` of a blob, where scripts do not run.
fn artifact_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "json" => "application/json",
        "" | "txt" | "log" | "md" | "yaml" | "yml" | "py" | "toml" | "csv" | "tsv" | "html" | "htm" | "js" | "svg"
        | "xml" | "ini" | "cfg" | "sh" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn artifacts_get(State(s): State<AppState>, r: Req) -> UiResult {
    let (_, root) = artifact_root(&s, &r).await?;
    let rel = safe_relative_path(&r.str("path")?)?;
    if rel.is_empty() {
        return Err(StoreError::invalid("Invalid path '': a file path is required").into());
    }
    let limit = match r.opt_i64("limit")? {
        None => None,
        Some(l) if l > 0 => Some(l as u64),
        Some(l) => {
            return Err(StoreError::invalid(format!(
                "Invalid value {l} for parameter 'limit' supplied: it must be greater than 0"
            ))
            .into())
        }
    };
    let download = r.opt_bool("download")?.unwrap_or(false);
    let full = join(&root, &rel);
    if !s.artifacts.is_file(&full).await? {
        if !s.artifacts.list(&full).await?.is_empty() {
            return Err(
                StoreError::invalid(format!("Artifact path refers to a directory, not a file: '{rel}'")).into(),
            );
        }
        return Err(StoreError::not_found(format!("Artifact '{rel}' not found")).into());
    }
    let (size, stream) = s.artifacts.get(&full).await?;
    let send = limit.map_or(size, |l| l.min(size));
    let truncated = send < size;
    let body = if truncated {
        // Only the first `send` bytes: cut the stream there.
        let mut left = send;
        let cut = stream
            .map(move |chunk| {
                chunk.map(|mut b| {
                    let take = (b.len() as u64).min(left);
                    left -= take;
                    b.truncate(take as usize);
                    b
                })
            })
            .take_while(|c| futures::future::ready(!matches!(c, Ok(b) if b.is_empty())));
        Body::from_stream(cut)
    } else {
        Body::from_stream(stream)
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(artifact_type(&rel)));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(send));
    h.insert("x-kiln-file-size", HeaderValue::from(size));
    h.insert(
        "x-kiln-truncated",
        HeaderValue::from_static(if truncated { "true" } else { "false" }),
    );
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let name = rel.rsplit('/').next().unwrap_or("artifact").replace(['"', '\\'], "_");
    let disposition = if download { "attachment" } else { "inline" };
    if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok((StatusCode::OK, resp).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_never_served_as_markup() {
        for p in ["a.svg", "x/index.html", "run.js", "model.xml", "MLmodel"] {
            assert!(artifact_type(p).starts_with("text/plain"), "{p}");
        }
        assert_eq!(artifact_type("plot.PNG"), "image/png");
        assert_eq!(artifact_type("weights.bin"), "application/octet-stream");
    }

    #[test]
    fn non_finite_numbers_are_strings() {
        assert_eq!(num(f64::NAN), json!("NaN"));
        assert_eq!(num(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(num(1.5), json!(1.5));
    }
}
