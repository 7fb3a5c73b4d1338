//! The `mlflow-artifacts` proxy: clients read and write artifacts through the
//! server (`mlflow-artifacts:/<exp>/<run>/artifacts/...` URIs), as with
//! `mlflow server --serve-artifacts`. Paths are checked in kiln-store.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Map, Value};

use kiln_store::artifacts::safe_relative_path;
use kiln_store::StoreError;

use crate::req::Req;
use crate::{ApiError, ApiResult, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/artifacts", get(list_root))
        .route("/artifacts/", get(list_root))
        .route("/artifacts/{*path}", get(download).put(upload).delete(remove))
        .route("/mpu/create/{*path}", axum::routing::post(multipart_unsupported))
        .route("/mpu/complete/{*path}", axum::routing::post(multipart_unsupported))
        .route("/mpu/abort/{*path}", axum::routing::post(multipart_unsupported))
        .route("/presigned/{*path}", get(multipart_unsupported))
}

/// As `mlflow server` over a local folder: multipart and presigned transfers are
/// not offered (server-info says so, and the client then uses plain PUT/GET).
async fn multipart_unsupported() -> ApiError {
    StoreError::new(
        kiln_store::ErrorCode::NotImplemented,
        "Multipart upload is not supported for the current artifact repository",
    )
    .into()
}

/// A listing entry relative to the listed folder (or run root).
#[derive(Serialize)]
pub struct Entry {
    pub path: String,
    pub is_dir: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// Entries under `sub` of the artifact root `uri`, with paths relative to that root
/// (the shape of the tracking API's `artifacts/list`).
pub async fn list_under_uri(state: &AppState, uri: &str, sub: &str) -> Result<Vec<Entry>, StoreError> {
    let root = state.artifacts.path_for_uri(uri)?;
    let sub = safe_relative_path(sub)?;
    let dir = join(&root, &sub);
    let prefix = if root.is_empty() {
        String::new()
    } else {
        format!("{root}/")
    };
    let entries = state.artifacts.list(&dir).await?;
    Ok(entries
        .into_iter()
        .map(|f| Entry {
            path: f.path.strip_prefix(&prefix).unwrap_or(&f.path).to_string(),
            is_dir: f.is_dir,
            file_size: f.file_size,
        })
        .collect())
}

async fn list_root(State(s): State<AppState>, r: Req) -> ApiResult {
    let path = safe_relative_path(&r.opt_str("path")?.unwrap_or_default())?;
    let entries = s.artifacts.list(&path).await?;
    let files: Vec<Entry> = entries
        .into_iter()
        .map(|f| Entry {
            path: f.path.rsplit('/').next().unwrap_or(&f.path).to_string(),
            is_dir: f.is_dir,
            file_size: f.file_size,
        })
        .collect();
    let mut m = Map::new();
    if !files.is_empty() {
        m.insert("files".into(), serde_json::to_value(files).unwrap_or(Value::Null));
    }
    Ok(Json(Value::Object(m)))
}

fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json",
        "txt" | "log" | "md" | "yaml" | "yml" | "py" | "toml" | "csv" | "html" | "htm" | "js" | "svg" => {
            // Served as text so a browser never runs an uploaded page or script.
            "text/plain; charset=utf-8"
        }
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        _ => "application/octet-stream",
    }
}

async fn download(State(s): State<AppState>, Path(path): Path<String>) -> Result<Response, ApiError> {
    let clean = safe_relative_path(&path)?;
    if !s.artifacts.is_file(&clean).await? && !s.artifacts.list(&clean).await?.is_empty() {
        return Err(StoreError::invalid(format!("Artifact path refers to a directory, not a file: '{clean}'")).into());
    }
    let (size, stream) = s.artifacts.get(&clean).await?;
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&clean)));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        clean.rsplit('/').next().unwrap_or("artifact").replace(['"', '\\'], "_")
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

async fn upload(State(s): State<AppState>, Path(path): Path<String>, body: Body) -> Result<Response, ApiError> {
    let clean = safe_relative_path(&path)?;
    s.artifacts.put_stream(&clean, body.into_data_stream()).await?;
    Ok((StatusCode::OK, Json(json!({}))).into_response())
}

async fn remove(State(s): State<AppState>, Path(path): Path<String>) -> ApiResult {
    let clean = safe_relative_path(&path)?;
    s.artifacts.delete(&clean).await?;
    Ok(Json(json!({})))
}
