//! kiln-server: the HTTP face of Kiln. MLflow's REST API (under `/api` and
//! mirrored under `/ajax-api`), the `mlflow-artifacts` proxy, `/health` and
//! `/version`. Handlers only parse, call kiln-store, and shape JSON: no SQL and
//! no file paths are built here.

mod api;
mod artifacts;
mod batch;
mod req;
mod studies;
mod ui;
mod ui_api;

use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use kiln_store::artifacts::ArtifactStore;
use kiln_store::{Store, StoreError};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub artifacts: ArtifactStore,
}

/// An error answered as MLflow does: `{"error_code": ..., "message": ...}` with its status.
#[derive(Debug)]
pub struct ApiError(pub StoreError);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(code = self.0.code.as_str(), message = %self.0.message, "request failed");
        }
        (
            status,
            Json(json!({"error_code": self.0.code.as_str(), "message": self.0.message})),
        )
            .into_response()
    }
}

pub type ApiResult<T = Json<serde_json::Value>> = Result<T, ApiError>;

/// The whole application.
pub fn app(state: AppState) -> Router {
    let api = api::routes().merge(ui_api::mlflow_routes());
    let artifacts = artifacts::routes();
    Router::new()
        .nest("/api/2.0/mlflow", api.clone())
        .nest("/ajax-api/2.0/mlflow", api.clone())
        .nest("/api/3.0/mlflow", api.clone())
        .nest("/ajax-api/3.0/mlflow", api)
        .nest("/api/2.0/mlflow-artifacts", artifacts.clone())
        .nest("/ajax-api/2.0/mlflow-artifacts", artifacts)
        .nest("/api/2.0/kiln/studies", studies::routes())
        .route("/health", get(health))
        .route("/version", get(|| async { VERSION }))
        .merge(ui_api::routes())
        .merge(ui::routes())
        .fallback(ui::fallback)
        .layer(DefaultBodyLimit::max(req::MAX_JSON_BODY))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .with_state(state)
}

async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "OK").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {}", e.message),
        )
            .into_response(),
    }
}

/// Serves until `shutdown` resolves. Sets TCP_NODELAY on every connection
/// (the `mlflow` client stalls on keep-alive connections without it).
pub async fn serve(
    state: AppState,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    on_bound(listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("could not set TCP_NODELAY: {e}");
        }
    });
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}
