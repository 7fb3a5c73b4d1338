//! kiln-store: the tracking + model-registry store (SQLite and PostgreSQL
//! through one `Store`), the artifact store, MLflow's validation rules and its
//! search filter grammar.
//!
//! Invariants: no HTTP here (that is kiln-server); no training code; every user
//! value reaches SQL as a bind, never as text.

pub mod artifacts;
pub mod db;
pub mod error;
pub mod filter;
mod logged_models;
pub mod model;
mod registry;
pub mod studies;
mod tracking;
pub mod ui_queries;
pub mod validation;

pub use db::{BackendUri, Db};
pub use error::{ErrorCode, Result, StoreError};
pub use logged_models::LoggedModelCreate;
pub use model::*;
pub use registry::ModelVersionCreate;
pub use tracking::{RunCreate, SearchRuns};

use base64::Engine;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use filter::SqlValue;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A fresh 32-hex-digit id (MLflow's run-id shape).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The tracking + registry store over one database.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    /// Root under which experiments get their artifact locations, e.g.
    /// `mlflow-artifacts:` (proxied through the server) or `file:///data/artifacts`.
    pub(crate) default_artifact_root: String,
}

impl Store {
    /// Opens (creating and migrating if needed) the store at `uri`.
    pub async fn open(uri: &str, default_artifact_root: &str) -> Result<Store> {
        let backend = BackendUri::parse(uri)?;
        let db = Db::connect(&backend).await?;
        let store = Store {
            db,
            default_artifact_root: default_artifact_root.trim_end_matches('/').to_string(),
        };
        store.ensure_default_experiment().await?;
        Ok(store)
    }

    pub fn dialect(&self) -> filter::Dialect {
        self.db.dialect
    }

    pub fn default_artifact_root(&self) -> &str {
        &self.default_artifact_root
    }

    /// Closes the connection pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.db.pool.close().await;
    }

    /// Checks the database answers (for `/health`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.db.pool).await?;
        Ok(())
    }

    pub(crate) fn artifact_location_for(&self, experiment_id: i64) -> String {
        // `mlflow-artifacts:` -> `mlflow-artifacts:/1`; `/data/artifacts` -> `/data/artifacts/1`
        format!("{}/{experiment_id}", self.default_artifact_root)
    }
}

/// The `key`/`value` rows of `table` for each of `ids` (matched on `id_col`),
/// ordered by key: the params and tags of a page of runs, models, versions.
pub(crate) async fn fetch_tags(
    pool: &sqlx::AnyPool,
    table: &'static str,
    id_col: &'static str,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<Tag>>> {
    use sqlx::Row;
    let mut out: std::collections::HashMap<String, Vec<Tag>> = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT {id_col} AS id, key, value FROM {table} WHERE {id_col} IN ({}) ORDER BY key",
        tracking::placeholders(1, ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(id.clone());
    }
    for row in q.fetch_all(pool).await? {
        out.entry(row.try_get("id")?).or_default().push(Tag::new(
            row.try_get::<String, _>("key")?,
            row.try_get::<String, _>("value")?,
        ));
    }
    Ok(out)
}

/// Binds a list of filter values in order.
pub(crate) fn bind_all<'q>(mut q: Query<'q, Any, AnyArguments>, binds: &[SqlValue]) -> Query<'q, Any, AnyArguments> {
    for b in binds {
        q = match b {
            SqlValue::Text(s) => q.bind(s.clone()),
            SqlValue::Int(i) => q.bind(*i),
            SqlValue::Float(f) => q.bind(*f),
        };
    }
    q
}

/// Opaque page tokens: base64 of `{"offset": N}`.
pub fn encode_page_token(offset: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

pub fn decode_page_token(token: Option<&str>) -> Result<i64> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || {
        StoreError::invalid(format!(
            "Invalid page token '{token}': it must be a token returned by a previous search"
        ))
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(token))
        .map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    match v.get("offset").and_then(|o| o.as_i64()) {
        Some(o) if o >= 0 => Ok(o),
        _ => Err(bad()),
    }
}

/// The next-page token when a page came back full.
pub(crate) fn next_token(offset: i64, got: usize, max_results: i64) -> Option<String> {
    if got as i64 >= max_results && max_results > 0 {
        Some(encode_page_token(offset + got as i64))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        assert_eq!(decode_page_token(Some(&encode_page_token(42))).unwrap(), 42);
        assert_eq!(decode_page_token(None).unwrap(), 0);
        assert_eq!(decode_page_token(Some("")).unwrap(), 0);
        for bad in ["!!!", "aGVsbG8=", "eyJvZmZzZXQiOiAtMX0="] {
            let e = decode_page_token(Some(bad)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameterValue, "{bad}");
        }
    }
}
