//! MLflow 3 logged models: a model's own record, params, tags and linked metrics.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::error::{Result, StoreError};
use crate::filter;
use crate::model::*;
use crate::tracking::{metric_value, placeholders};
use crate::validation as v;
use crate::{bind_all, decode_page_token, new_id, next_token, now_ms, Store};

const STATUSES: [&str; 4] = [
    "LOGGED_MODEL_STATUS_UNSPECIFIED",
    "LOGGED_MODEL_PENDING",
    "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED",
];

/// What `create_logged_model` takes.
#[derive(Debug, Clone, Default)]
pub struct LoggedModelCreate {
    pub experiment_id: String,
    pub name: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

/// Accepts the enum names and numbers of `LoggedModelStatus`.
pub fn parse_logged_model_status(s: &str) -> Result<&'static str> {
    let by_number = match s {
        "0" => Some(STATUSES[0]),
        "1" => Some(STATUSES[1]),
        "2" => Some(STATUSES[2]),
        "3" => Some(STATUSES[3]),
        _ => None,
    };
    by_number
        .or_else(|| STATUSES.iter().copied().find(|st| st.eq_ignore_ascii_case(s)))
        .ok_or_else(|| {
            StoreError::invalid(format!(
                "Invalid value \"{s}\" for parameter 'status' supplied: expected one of {}",
                STATUSES.join(", ")
            ))
        })
}

fn info_from_row(row: &AnyRow) -> Result<LoggedModelInfo> {
    Ok(LoggedModelInfo {
        model_id: row.try_get("model_id")?,
        experiment_id: row.try_get::<i64, _>("experiment_id")?.to_string(),
        name: row.try_get("name")?,
        artifact_uri: row.try_get("artifact_location")?,
        creation_timestamp_ms: row.try_get("creation_timestamp")?,
        last_updated_timestamp_ms: row.try_get("last_updated_timestamp")?,
        status: row.try_get("status")?,
        status_message: row.try_get("status_message")?,
        lifecycle_stage: row.try_get("lifecycle_stage")?,
        model_type: row.try_get("model_type")?,
        source_run_id: row.try_get("source_run_id")?,
        tags: Vec::new(),
        registrations: Vec::new(),
    })
}

impl Store {
    pub async fn create_logged_model(&self, req: LoggedModelCreate) -> Result<LoggedModel> {
        for (i, p) in req.params.iter().enumerate() {
            v::validate_param(&p.key, &p.value, &format!("params[{i}]"))?;
        }
        for (i, t) in req.tags.iter().enumerate() {
            v::validate_tag(&t.key, &t.value, &format!("tags[{i}]"))?;
        }
        let exp = self.get_experiment(&req.experiment_id).await?;
        if exp.lifecycle_stage != "active" {
            return Err(StoreError::invalid(format!(
                "The experiment {} must be in the 'active' state. Current state is {}.",
                exp.experiment_id, exp.lifecycle_stage
            )));
        }
        if let Some(run_id) = req.source_run_id.as_deref().filter(|r| !r.is_empty()) {
            self.get_run_info(run_id).await?;
        }
        let model_id = format!("m-{}", new_id());
        let name = req
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "model".to_string());
        let location = format!(
            "{}/models/{model_id}/artifacts",
            exp.artifact_location.trim_end_matches('/')
        );
        let now = now_ms();
        {
            let _w = self.db.writer().await;
            let mut tx = self.db.pool.begin().await?;
            sqlx::query(
                "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp, \
                 last_updated_timestamp, status, lifecycle_stage, model_type, source_run_id) \
                 VALUES ($1, $2, $3, $4, $5, $5, 'LOGGED_MODEL_PENDING', 'active', $6, $7)",
            )
            .bind(&model_id)
            .bind(exp.experiment_id.parse::<i64>().unwrap_or_default())
            .bind(&name)
            .bind(&location)
            .bind(now)
            .bind(req.model_type.clone())
            .bind(req.source_run_id.clone().filter(|r| !r.is_empty()))
            .execute(&mut *tx)
            .await?;
            for p in &req.params {
                sqlx::query(
                    "INSERT INTO logged_model_params (model_id, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
                )
                .bind(&model_id)
                .bind(&p.key)
                .bind(&p.value)
                .execute(&mut *tx)
                .await?;
            }
            for t in &req.tags {
                sqlx::query(
                    "INSERT INTO logged_model_tags (model_id, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
                )
                .bind(&model_id)
                .bind(&t.key)
                .bind(&t.value)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        self.get_logged_model(&model_id).await
    }

    pub async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let row = sqlx::query("SELECT * FROM logged_models WHERE model_id = $1")
            .bind(model_id)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Logged model with ID '{model_id}' not found.")))?;
        let info = info_from_row(&row)?;
        Ok(self.fill_logged_models(vec![info]).await?.remove(0))
    }

    async fn fill_logged_models(&self, infos: Vec<LoggedModelInfo>) -> Result<Vec<LoggedModel>> {
        let mut out: Vec<LoggedModel> = infos
            .into_iter()
            .map(|info| LoggedModel {
                info,
                data: LoggedModelData::default(),
            })
            .collect();
        if out.is_empty() {
            return Ok(out);
        }
        let ids: Vec<String> = out.iter().map(|m| m.info.model_id.clone()).collect();
        let pos = |id: &str| ids.iter().position(|x| x == id);
        let ph = placeholders(1, ids.len());
        let fetch = |sql: String| {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(id.clone());
            }
            q.fetch_all(&self.db.pool)
        };
        let mut tags = crate::fetch_tags(&self.db.pool, "logged_model_tags", "model_id", &ids).await?;
        let mut params = crate::fetch_tags(&self.db.pool, "logged_model_params", "model_id", &ids).await?;
        for m in &mut out {
            m.info.tags = tags.remove(&m.info.model_id).unwrap_or_default();
            m.data.params = params.remove(&m.info.model_id).unwrap_or_default();
        }
        for row in fetch(format!(
            "SELECT run_uuid, model_id, key, value, is_nan, timestamp, step, dataset_name, dataset_digest \
             FROM logged_model_metrics WHERE model_id IN ({ph}) ORDER BY key, timestamp, step"
        ))
        .await?
        {
            if let Some(i) = pos(&row.try_get::<String, _>("model_id")?) {
                let mut m = Metric::new(
                    row.try_get::<String, _>("key")?,
                    metric_value(&row)?,
                    row.try_get("timestamp")?,
                    row.try_get("step")?,
                );
                m.model_id = Some(out[i].info.model_id.clone());
                m.run_id = Some(row.try_get("run_uuid")?);
                m.dataset_name = row.try_get("dataset_name")?;
                m.dataset_digest = row.try_get("dataset_digest")?;
                out[i].data.metrics.push(m);
            }
        }
        Ok(out)
    }

    pub async fn finalize_logged_model(&self, model_id: &str, status: &str) -> Result<LoggedModel> {
        let status = parse_logged_model_status(status)?;
        self.get_logged_model(model_id).await?;
        {
            let _w = self.db.writer().await;
            sqlx::query("UPDATE logged_models SET status = $1, last_updated_timestamp = $2 WHERE model_id = $3")
                .bind(status)
                .bind(now_ms())
                .bind(model_id)
                .execute(&self.db.pool)
                .await?;
        }
        self.get_logged_model(model_id).await
    }

    pub async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.get_logged_model(model_id).await?;
        let _w = self.db.writer().await;
        sqlx::query(
            "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp = $1 WHERE model_id = $2",
        )
        .bind(now_ms())
        .bind(model_id)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    pub async fn set_logged_model_tags(&self, model_id: &str, tags: &[Tag]) -> Result<()> {
        for (i, t) in tags.iter().enumerate() {
            v::validate_tag(&t.key, &t.value, &format!("tags[{i}]"))?;
        }
        self.get_logged_model(model_id).await?;
        let _w = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        for t in tags {
            sqlx::query(
                "INSERT INTO logged_model_tags (model_id, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(model_id)
            .bind(&t.key)
            .bind(&t.value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.get_logged_model(model_id).await?;
        let _w = self.db.writer().await;
        let done = sqlx::query("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2")
            .bind(model_id)
            .bind(key)
            .execute(&self.db.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!(
                "No tag with key '{key}' found for logged model '{model_id}'."
            )));
        }
        Ok(())
    }

    pub async fn log_logged_model_params(&self, model_id: &str, params: &[Param]) -> Result<()> {
        for (i, p) in params.iter().enumerate() {
            v::validate_param(&p.key, &p.value, &format!("params[{i}]"))?;
        }
        self.get_logged_model(model_id).await?;
        let _w = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        for p in params {
            sqlx::query(
                "INSERT INTO logged_model_params (model_id, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(model_id)
            .bind(&p.key)
            .bind(&p.value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Active logged models of the given experiments: MLflow's logged-model filter
    /// grammar, dataset restriction and ordering (default newest first), in SQL.
    pub async fn search_logged_models(
        &self,
        experiment_ids: &[String],
        filter_string: &str,
        datasets: &[filter::LoggedModelDataset],
        order_by: &[filter::LoggedModelOrder],
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<LoggedModel>> {
        let max = max_results.filter(|m| *m != 0).unwrap_or(100);
        if !(1..=50_000).contains(&max) {
            return Err(StoreError::invalid(format!(
                "Invalid value {max} for parameter 'max_results' supplied."
            )));
        }
        let offset = decode_page_token(page_token)?;
        let mut ids = Vec::new();
        for id in experiment_ids {
            ids.push(crate::tracking::parse_experiment_id(id)?);
        }
        if ids.is_empty() {
            return Err(StoreError::invalid(v::missing_value("experiment_ids")));
        }
        let n = ids.len();
        let parts = filter::build_logged_model_search_sql(self.db.dialect, filter_string, datasets, order_by, n + 1)?;
        let m = n + parts.binds.len();
        let sql = format!(
            "SELECT logged_models.* FROM logged_models {} WHERE logged_models.experiment_id IN ({}) \
             AND logged_models.lifecycle_stage = 'active' AND ({}) ORDER BY {} LIMIT ${} OFFSET ${}",
            parts.joins,
            placeholders(1, n),
            parts.where_sql,
            parts.order_sql,
            m + 1,
            m + 2
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in &ids {
            q = q.bind(*id);
        }
        let rows = bind_all(q, &parts.binds)
            .bind(max)
            .bind(offset)
            .fetch_all(&self.db.pool)
            .await?;
        let infos = rows.iter().map(info_from_row).collect::<Result<Vec<_>>>()?;
        let next = next_token(offset, infos.len(), max);
        Ok(Page {
            items: self.fill_logged_models(infos).await?,
            next_page_token: next,
        })
    }
}
