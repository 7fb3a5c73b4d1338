//! The model registry: registered models, versions, stages, aliases, tags.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::error::{Result, StoreError};
use crate::filter::{self, Entity};
use crate::model::*;
use crate::tracking::{placeholders, unique_to_exists};
use crate::validation as v;
use crate::{bind_all, decode_page_token, next_token, now_ms, Store};

const SEARCH_RM_DEFAULT: i64 = 100;
const SEARCH_RM_MAX: i64 = 1000;
const SEARCH_MV_DEFAULT: i64 = 10_000;
const SEARCH_MV_MAX: i64 = 200_000;

/// What `create_model_version` takes.
#[derive(Debug, Clone, Default)]
pub struct ModelVersionCreate {
    pub name: String,
    pub source: String,
    pub run_id: Option<String>,
    pub tags: Vec<Tag>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub model_id: Option<String>,
    pub user_id: Option<String>,
}

fn mv_from_row(row: &AnyRow) -> Result<ModelVersion> {
    Ok(ModelVersion {
        name: row.try_get("name")?,
        version: row.try_get::<i64, _>("version")?.to_string(),
        creation_timestamp: row.try_get("creation_time")?,
        last_updated_timestamp: row.try_get("last_updated_time")?,
        user_id: row.try_get("user_id")?,
        current_stage: row.try_get("current_stage")?,
        description: row.try_get("description")?,
        source: row.try_get("source")?,
        run_id: row.try_get("run_id")?,
        run_link: row.try_get("run_link")?,
        status: row.try_get("status")?,
        status_message: row.try_get("status_message")?,
        tags: Vec::new(),
        aliases: Vec::new(),
        storage_location: row.try_get("storage_location")?,
        model_id: row.try_get("model_id")?,
    })
}

fn rm_not_found(name: &str) -> StoreError {
    StoreError::not_found(format!("Registered Model with name={name} not found"))
}

fn mv_not_found(name: &str, version: &str) -> StoreError {
    StoreError::not_found(format!("Model Version (name={name}, version={version}) not found"))
}

impl Store {
    async fn rm_row(&self, name: &str) -> Result<AnyRow> {
        sqlx::query("SELECT * FROM registered_models WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| rm_not_found(name))
    }

    pub async fn create_registered_model(
        &self,
        name: &str,
        tags: &[Tag],
        description: Option<&str>,
    ) -> Result<RegisteredModel> {
        v::validate_model_name(name)?;
        for t in tags {
            v::validate_registry_tag(&t.key, &t.value)?;
        }
        {
            let _w = self.db.writer().await;
            let mut tx = self.db.pool.begin().await?;
            let now = now_ms();
            sqlx::query(
                "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES ($1, $2, $2, $3)",
            )
            .bind(name)
            .bind(now)
            .bind(description.unwrap_or(""))
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_to_exists(e, || format!("Registered Model (name={name}) already exists.")))?;
            for t in tags {
                sqlx::query(
                    "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                )
                .bind(name)
                .bind(&t.key)
                .bind(&t.value)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        self.get_registered_model(name).await
    }

    pub async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let row = self.rm_row(name).await?;
        let rm = RegisteredModel {
            name: row.try_get("name")?,
            creation_timestamp: row.try_get("creation_time")?,
            last_updated_timestamp: row.try_get("last_updated_time")?,
            description: row.try_get("description")?,
            latest_versions: Vec::new(),
            tags: Vec::new(),
            aliases: Vec::new(),
        };
        Ok(self.fill_registered_models(vec![rm]).await?.remove(0))
    }

    /// Adds latest versions (one per stage), tags and aliases.
    async fn fill_registered_models(&self, mut rms: Vec<RegisteredModel>) -> Result<Vec<RegisteredModel>> {
        if rms.is_empty() {
            return Ok(rms);
        }
        let names: Vec<String> = rms.iter().map(|r| r.name.clone()).collect();
        let index: HashMap<String, usize> = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let ph = placeholders(1, names.len());
        let fetch = |sql: String| {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for n in &names {
                q = q.bind(n.clone());
            }
            q.fetch_all(&self.db.pool)
        };
        let mut tags = crate::fetch_tags(&self.db.pool, "registered_model_tags", "name", &names).await?;
        for rm in &mut rms {
            rm.tags = tags.remove(&rm.name).unwrap_or_default();
        }
        for row in fetch(format!(
            "SELECT name, alias, version FROM registered_model_aliases WHERE name IN ({ph}) ORDER BY alias"
        ))
        .await?
        {
            let i = index[&row.try_get::<String, _>("name")?];
            rms[i].aliases.push(Alias {
                alias: row.try_get("alias")?,
                version: row.try_get::<i64, _>("version")?.to_string(),
            });
        }
        let latest_sql = format!(
            "SELECT mv.* FROM model_versions mv WHERE mv.deleted = 0 AND mv.name IN ({ph}) AND mv.version = \
             (SELECT MAX(m2.version) FROM model_versions m2 WHERE m2.name = mv.name AND m2.deleted = 0 AND m2.current_stage = mv.current_stage) \
             ORDER BY mv.version"
        );
        let mut latest = Vec::new();
        for row in fetch(latest_sql).await? {
            latest.push(mv_from_row(&row)?);
        }
        for mv in self.fill_versions(latest).await? {
            let i = index[&mv.name];
            rms[i].latest_versions.push(mv);
        }
        Ok(rms)
    }

    /// Adds tags and aliases to model versions.
    async fn fill_versions(&self, mut mvs: Vec<ModelVersion>) -> Result<Vec<ModelVersion>> {
        if mvs.is_empty() {
            return Ok(mvs);
        }
        let mut names: Vec<String> = mvs.iter().map(|m| m.name.clone()).collect();
        names.sort();
        names.dedup();
        let index: HashMap<(String, String), usize> = mvs
            .iter()
            .enumerate()
            .map(|(i, m)| ((m.name.clone(), m.version.clone()), i))
            .collect();
        let ph = placeholders(1, names.len());
        let fetch = |sql: String| {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for n in &names {
                q = q.bind(n.clone());
            }
            q.fetch_all(&self.db.pool)
        };
        for row in fetch(format!(
            "SELECT name, version, key, value FROM model_version_tags WHERE name IN ({ph}) ORDER BY key"
        ))
        .await?
        {
            let k = (
                row.try_get::<String, _>("name")?,
                row.try_get::<i64, _>("version")?.to_string(),
            );
            if let Some(&i) = index.get(&k) {
                mvs[i].tags.push(Tag::new(
                    row.try_get::<String, _>("key")?,
                    row.try_get::<String, _>("value")?,
                ));
            }
        }
        for row in fetch(format!(
            "SELECT name, alias, version FROM registered_model_aliases WHERE name IN ({ph}) ORDER BY alias"
        ))
        .await?
        {
            let k = (
                row.try_get::<String, _>("name")?,
                row.try_get::<i64, _>("version")?.to_string(),
            );
            if let Some(&i) = index.get(&k) {
                mvs[i].aliases.push(row.try_get("alias")?);
            }
        }
        Ok(mvs)
    }

    pub async fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        if new_name.trim().is_empty() {
            return Err(StoreError::invalid(v::missing_value("new_name")));
        }
        v::validate_model_name(new_name)?;
        self.rm_row(name).await?;
        {
            let _w = self.db.writer().await;
            let mut tx = self.db.pool.begin().await?;
            let taken: Option<String> = sqlx::query_scalar("SELECT name FROM registered_models WHERE name = $1")
                .bind(new_name)
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() && new_name != name {
                return Err(StoreError::exists(format!(
                    "Registered Model (name={new_name}) already exists."
                )));
            }
            let now = now_ms();
            sqlx::query("UPDATE registered_models SET name = $1, last_updated_time = $2 WHERE name = $3")
                .bind(new_name)
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            for table in [
                "registered_model_tags",
                "model_versions",
                "model_version_tags",
                "registered_model_aliases",
            ] {
                sqlx::query(AssertSqlSafe(format!("UPDATE {table} SET name = $1 WHERE name = $2")))
                    .bind(new_name)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        self.get_registered_model(new_name).await
    }

    pub async fn update_registered_model(&self, name: &str, description: Option<&str>) -> Result<RegisteredModel> {
        self.rm_row(name).await?;
        if let Some(d) = description {
            let _w = self.db.writer().await;
            sqlx::query("UPDATE registered_models SET description = $1, last_updated_time = $2 WHERE name = $3")
                .bind(d)
                .bind(now_ms())
                .bind(name)
                .execute(&self.db.pool)
                .await?;
        }
        self.get_registered_model(name).await
    }

    pub async fn delete_registered_model(&self, name: &str) -> Result<()> {
        self.rm_row(name).await?;
        let _w = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        for table in [
            "registered_model_tags",
            "model_version_tags",
            "registered_model_aliases",
            "model_versions",
            "registered_models",
        ] {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE name = $1")))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn search_registered_models(
        &self,
        filter_string: &str,
        max_results: Option<i64>,
        order_by: &[String],
        page_token: Option<&str>,
    ) -> Result<Page<RegisteredModel>> {
        let max = max_results.unwrap_or(SEARCH_RM_DEFAULT);
        if !(1..=SEARCH_RM_MAX).contains(&max) {
            return Err(StoreError::invalid(format!(
                "Invalid value for request parameter max_results. It must be at most {SEARCH_RM_MAX}, but got value {max}"
            )));
        }
        let offset = decode_page_token(page_token)?;
        let parts = filter::build_search_sql(Entity::RegisteredModels, self.db.dialect, filter_string, order_by, 1)?;
        let n = parts.binds.len();
        let sql = format!(
            "SELECT registered_models.* FROM registered_models {} WHERE ({}) ORDER BY {} LIMIT ${} OFFSET ${}",
            parts.joins,
            parts.where_sql,
            parts.order_sql,
            n + 1,
            n + 2
        );
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &parts.binds)
            .bind(max)
            .bind(offset)
            .fetch_all(&self.db.pool)
            .await?;
        let mut rms = Vec::with_capacity(rows.len());
        for row in &rows {
            rms.push(RegisteredModel {
                name: row.try_get("name")?,
                creation_timestamp: row.try_get("creation_time")?,
                last_updated_timestamp: row.try_get("last_updated_time")?,
                description: row.try_get("description")?,
                latest_versions: Vec::new(),
                tags: Vec::new(),
                aliases: Vec::new(),
            });
        }
        let next = next_token(offset, rms.len(), max);
        Ok(Page {
            items: self.fill_registered_models(rms).await?,
            next_page_token: next,
        })
    }

    /// The latest version in each requested stage (all stages when empty).
    pub async fn get_latest_versions(&self, name: &str, stages: &[String]) -> Result<Vec<ModelVersion>> {
        let rm = self.get_registered_model(name).await?;
        let mut wanted = Vec::new();
        for s in stages {
            wanted.push(canonical_stage(s).ok_or_else(|| invalid_stage(s))?);
        }
        Ok(rm
            .latest_versions
            .into_iter()
            .filter(|mv| wanted.is_empty() || wanted.contains(&mv.current_stage.as_str()))
            .collect())
    }

    pub async fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        v::validate_registry_tag(key, value)?;
        self.rm_row(name).await?;
        let _w = self.db.writer().await;
        sqlx::query(
            "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(key)
        .bind(value)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.rm_row(name).await?;
        let _w = self.db.writer().await;
        let done = sqlx::query("DELETE FROM registered_model_tags WHERE name = $1 AND key = $2")
            .bind(name)
            .bind(key)
            .execute(&self.db.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!(
                "No tag with name: {key} in registered model {name}"
            )));
        }
        Ok(())
    }

    // ------------------------------------------------------------ versions

    pub async fn create_model_version(&self, req: ModelVersionCreate) -> Result<ModelVersion> {
        v::validate_model_name(&req.name)?;
        if req.source.is_empty() {
            return Err(StoreError::invalid(v::missing_value("source")));
        }
        for t in &req.tags {
            v::validate_registry_tag(&t.key, &t.value)?;
        }
        self.rm_row(&req.name).await?;
        let mut model_id = req.model_id.clone().unwrap_or_default();
        let storage_location = self.resolve_storage_location(&req.source, &mut model_id).await?;
        let mut run_id = req.run_id.clone().unwrap_or_default();
        let logged = if model_id.is_empty() {
            None
        } else {
            self.get_logged_model(&model_id).await.ok()
        };
        if run_id.is_empty() {
            if let Some(m) = &logged {
                run_id = m.info.source_run_id.clone().unwrap_or_default();
            }
        }
        let version = {
            let _w = self.db.writer().await;
            let mut tx = self.db.pool.begin().await?;
            let max: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM model_versions WHERE name = $1")
                .bind(&req.name)
                .fetch_one(&mut *tx)
                .await?;
            let version = max.unwrap_or(0) + 1;
            let now = now_ms();
            sqlx::query(
                "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, \
                 source, run_id, run_link, status, status_message, storage_location, model_id, deleted) \
                 VALUES ($1, $2, $3, $3, $4, $5, 'None', $6, $7, $8, 'READY', '', $9, $10, 0)",
            )
            .bind(&req.name)
            .bind(version)
            .bind(now)
            .bind(req.description.clone().unwrap_or_default())
            .bind(req.user_id.clone().unwrap_or_default())
            .bind(&req.source)
            .bind(&run_id)
            .bind(req.run_link.clone().unwrap_or_default())
            .bind(&storage_location)
            .bind(&model_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_to_exists(e, || format!("Model version {version} of {} already exists", req.name)))?;
            for t in &req.tags {
                sqlx::query("INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4)")
                    .bind(&req.name)
                    .bind(version)
                    .bind(&t.key)
                    .bind(&t.value)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE registered_models SET last_updated_time = $1 WHERE name = $2")
                .bind(now)
                .bind(&req.name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            version
        };
        if let Some(m) = logged {
            // Record the registration on the logged model, as MLflow does (`mlflow.modelVersions`).
            let key = "mlflow.modelVersions";
            let mut list: Vec<serde_json::Value> = m
                .info
                .tags
                .iter()
                .find(|t| t.key == key)
                .and_then(|t| serde_json::from_str(&t.value).ok())
                .unwrap_or_default();
            list.push(serde_json::json!({"name": req.name, "version": version}));
            self.set_logged_model_tags(
                &m.info.model_id,
                &[Tag::new(key, serde_json::Value::Array(list).to_string())],
            )
            .await?;
        }
        self.get_model_version(&req.name, &version.to_string()).await
    }

    /// Where the version's files are: a logged model's artifacts for `models:/<id>`,
    /// a run's artifact folder for `runs:/<id>/<path>`, else the source itself.
    async fn resolve_storage_location(&self, source: &str, model_id: &mut String) -> Result<String> {
        if let Some(rest) = source.strip_prefix("models:/") {
            let id = rest.trim_matches('/');
            if !id.contains('/') && !id.contains('@') {
                if let Ok(m) = self.get_logged_model(id).await {
                    if model_id.is_empty() {
                        *model_id = m.info.model_id.clone();
                    }
                    return Ok(m.info.artifact_uri);
                }
            }
        }
        if let Some(rest) = source.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            let info = self.get_run_info(run_id).await?;
            return Ok(if path.is_empty() {
                info.artifact_uri
            } else {
                format!("{}/{}", info.artifact_uri, path)
            });
        }
        if !model_id.is_empty() {
            if let Ok(m) = self.get_logged_model(model_id).await {
                return Ok(m.info.artifact_uri);
            }
        }
        Ok(source.to_string())
    }

    async fn mv_row(&self, name: &str, version: &str) -> Result<AnyRow> {
        let ver = v::parse_version(version)?;
        sqlx::query("SELECT * FROM model_versions WHERE name = $1 AND version = $2 AND deleted = 0")
            .bind(name)
            .bind(ver)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| mv_not_found(name, version))
    }

    pub async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        let mv = mv_from_row(&self.mv_row(name, version).await?)?;
        Ok(self.fill_versions(vec![mv]).await?.remove(0))
    }

    pub async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        self.mv_row(name, version).await?;
        if let Some(d) = description {
            let _w = self.db.writer().await;
            sqlx::query(
                "UPDATE model_versions SET description = $1, last_updated_time = $2 WHERE name = $3 AND version = $4",
            )
            .bind(d)
            .bind(now_ms())
            .bind(name)
            .bind(v::parse_version(version)?)
            .execute(&self.db.pool)
            .await?;
        }
        self.get_model_version(name, version).await
    }

    /// Deletes a version; its number is never reused, and aliases to it go.
    pub async fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        self.mv_row(name, version).await?;
        let ver = v::parse_version(version)?;
        let _w = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "UPDATE model_versions SET deleted = 1, current_stage = 'Deleted_Internal', last_updated_time = $1 \
             WHERE name = $2 AND version = $3",
        )
        .bind(now_ms())
        .bind(name)
        .bind(ver)
        .execute(&mut *tx)
        .await?;
        for table in ["model_version_tags", "registered_model_aliases"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE name = $1 AND version = $2"
            )))
            .bind(name)
            .bind(ver)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn transition_model_version_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        let stage = canonical_stage(stage).ok_or_else(|| invalid_stage(stage))?;
        if archive_existing_versions && !matches!(stage, "Staging" | "Production") {
            return Err(StoreError::invalid(format!(
                "Model version transition cannot archive existing model versions because '{stage}' is not an Active stage. Valid stages are ['Staging', 'Production']"
            )));
        }
        self.mv_row(name, version).await?;
        let ver = v::parse_version(version)?;
        {
            let _w = self.db.writer().await;
            let mut tx = self.db.pool.begin().await?;
            let now = now_ms();
            if archive_existing_versions && (stage == "Staging" || stage == "Production") {
                sqlx::query(
                    "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = $1 \
                     WHERE name = $2 AND version <> $3 AND current_stage = $4 AND deleted = 0",
                )
                .bind(now)
                .bind(name)
                .bind(ver)
                .bind(stage)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE model_versions SET current_stage = $1, last_updated_time = $2 WHERE name = $3 AND version = $4",
            )
            .bind(stage)
            .bind(now)
            .bind(name)
            .bind(ver)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE registered_models SET last_updated_time = $1 WHERE name = $2")
                .bind(now)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        self.get_model_version(name, version).await
    }

    pub async fn search_model_versions(
        &self,
        filter_string: &str,
        max_results: Option<i64>,
        order_by: &[String],
        page_token: Option<&str>,
    ) -> Result<Page<ModelVersion>> {
        let max = max_results.unwrap_or(SEARCH_MV_DEFAULT);
        if !(1..=SEARCH_MV_MAX).contains(&max) {
            return Err(StoreError::invalid(format!(
                "Invalid value for request parameter max_results. It must be at most {SEARCH_MV_MAX}, but got value {max}"
            )));
        }
        let offset = decode_page_token(page_token)?;
        let parts = filter::build_search_sql(Entity::ModelVersions, self.db.dialect, filter_string, order_by, 1)?;
        let n = parts.binds.len();
        let sql = format!(
            "SELECT model_versions.* FROM model_versions {} WHERE model_versions.deleted = 0 AND ({}) ORDER BY {} LIMIT ${} OFFSET ${}",
            parts.joins,
            parts.where_sql,
            parts.order_sql,
            n + 1,
            n + 2
        );
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &parts.binds)
            .bind(max)
            .bind(offset)
            .fetch_all(&self.db.pool)
            .await?;
        let mvs = rows.iter().map(mv_from_row).collect::<Result<Vec<_>>>()?;
        let next = next_token(offset, mvs.len(), max);
        Ok(Page {
            items: self.fill_versions(mvs).await?,
            next_page_token: next,
        })
    }

    pub async fn set_model_version_tag(&self, name: &str, version: &str, key: &str, value: &str) -> Result<()> {
        v::validate_registry_tag(key, value)?;
        self.mv_row(name, version).await?;
        let _w = self.db.writer().await;
        sqlx::query(
            "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(v::parse_version(version)?)
        .bind(key)
        .bind(value)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()> {
        self.mv_row(name, version).await?;
        let _w = self.db.writer().await;
        let done = sqlx::query("DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3")
            .bind(name)
            .bind(v::parse_version(version)?)
            .bind(key)
            .execute(&self.db.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!(
                "No tag with name: {key} in model version (name={name}, version={version})"
            )));
        }
        Ok(())
    }

    pub async fn get_model_version_download_uri(&self, name: &str, version: &str) -> Result<String> {
        let mv = self.get_model_version(name, version).await?;
        Ok(if mv.storage_location.is_empty() {
            mv.source
        } else {
            mv.storage_location
        })
    }

    // ------------------------------------------------------------- aliases

    pub async fn set_registered_model_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        v::validate_alias(alias)?;
        v::validate_alias_not_reserved(alias)?;
        self.mv_row(name, version).await?;
        let _w = self.db.writer().await;
        sqlx::query(
            "INSERT INTO registered_model_aliases (name, alias, version) VALUES ($1, $2, $3) \
             ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        )
        .bind(name)
        .bind(alias)
        .bind(v::parse_version(version)?)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        v::validate_alias(alias)?;
        self.rm_row(name).await?;
        let _w = self.db.writer().await;
        sqlx::query("DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2")
            .bind(name)
            .bind(alias)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    pub async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.rm_row(name).await?;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2")
                .bind(name)
                .bind(alias)
                .fetch_optional(&self.db.pool)
                .await?;
        match version {
            Some(ver) => self.get_model_version(name, &ver.to_string()).await,
            None if alias.eq_ignore_ascii_case("latest") => {
                let max: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(version) FROM model_versions WHERE name = $1 AND deleted = 0")
                        .bind(name)
                        .fetch_one(&self.db.pool)
                        .await?;
                let ver =
                    max.ok_or_else(|| StoreError::not_found(format!("Latest version not found for model {name}.")))?;
                self.get_model_version(name, &ver.to_string()).await
            }
            // MLflow answers a missing alias with INVALID_PARAMETER_VALUE (400), not 404.
            None => Err(StoreError::invalid(format!(
                "Registered model alias {alias} not found."
            ))),
        }
    }
}

fn invalid_stage(s: &str) -> StoreError {
    StoreError::invalid(format!(
        "Invalid Model Version stage: {s}. Value must be one of {}.",
        STAGES.join(", ")
    ))
}
