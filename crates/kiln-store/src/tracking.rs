//! Experiments, runs, params, metrics, tags and dataset inputs.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::error::{Result, StoreError};
use crate::filter::{self, Dialect, Entity};
use crate::model::*;
use crate::validation as v;
use crate::{bind_all, decode_page_token, new_id, next_token, now_ms, Store};

pub const RUN_NAME_TAG: &str = "mlflow.runName";
const SEARCH_RUNS_MAX: i64 = 50_000;
const SEARCH_EXPERIMENTS_MAX: i64 = 50_000;

/// What `create_run` takes.
#[derive(Debug, Clone, Default)]
pub struct RunCreate {
    pub experiment_id: String,
    pub user_id: String,
    pub start_time: Option<i64>,
    pub run_name: Option<String>,
    pub tags: Vec<Tag>,
}

/// What `search_runs` takes.
#[derive(Debug, Clone, Default)]
pub struct SearchRuns {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub view_type: ViewType,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

pub(crate) fn parse_experiment_id(id: &str) -> Result<i64> {
    id.trim().parse::<i64>().map_err(|_| {
        StoreError::invalid(format!(
            "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
        ))
    })
}

fn experiment_from_row(row: &AnyRow) -> Result<Experiment> {
    Ok(Experiment {
        experiment_id: row.try_get::<i64, _>("experiment_id")?.to_string(),
        name: row.try_get("name")?,
        artifact_location: row.try_get("artifact_location")?,
        lifecycle_stage: row.try_get("lifecycle_stage")?,
        last_update_time: row.try_get("last_update_time")?,
        creation_time: row.try_get("creation_time")?,
        tags: Vec::new(),
    })
}

fn run_info_from_row(row: &AnyRow) -> Result<RunInfo> {
    let id: String = row.try_get("run_uuid")?;
    Ok(RunInfo {
        run_uuid: id.clone(),
        run_id: id,
        run_name: row.try_get("name")?,
        experiment_id: row.try_get::<i64, _>("experiment_id")?.to_string(),
        user_id: row.try_get("user_id")?,
        status: row.try_get("status")?,
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        artifact_uri: row.try_get("artifact_uri")?,
        lifecycle_stage: row.try_get("lifecycle_stage")?,
    })
}

pub(crate) fn metric_value(row: &AnyRow) -> Result<f64> {
    let is_nan: i64 = row.try_get("is_nan")?;
    Ok(if is_nan != 0 { f64::NAN } else { row.try_get("value")? })
}

const RUN_STATUSES: [&str; 5] = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];

/// Accepts MLflow's status names and their enum numbers.
pub fn parse_run_status(s: &str) -> Result<&'static str> {
    let by_number = match s {
        "1" => Some("RUNNING"),
        "2" => Some("SCHEDULED"),
        "3" => Some("FINISHED"),
        "4" => Some("FAILED"),
        "5" => Some("KILLED"),
        _ => None,
    };
    by_number
        .or_else(|| RUN_STATUSES.iter().copied().find(|st| st.eq_ignore_ascii_case(s)))
        .ok_or_else(|| {
            StoreError::invalid(format!(
                "Invalid value \"{s}\" for parameter 'status' supplied: expected one of {}",
                RUN_STATUSES.join(", ")
            ))
        })
}

/// `adjective-noun-NNN`, like MLflow's generated run names.
fn generate_run_name() -> String {
    const ADJ: [&str; 16] = [
        "amber", "bold", "brisk", "calm", "clever", "dapper", "eager", "gentle", "glowing", "honest", "keen", "lucid",
        "mellow", "nimble", "quiet", "sturdy",
    ];
    const NOUN: [&str; 16] = [
        "anvil", "badger", "cedar", "comet", "ember", "falcon", "forge", "heron", "kiln", "lark", "maple", "otter",
        "quartz", "raven", "spark", "willow",
    ];
    let id = uuid::Uuid::new_v4();
    let b = id.as_bytes();
    format!(
        "{}-{}-{}",
        ADJ[(b[0] % 16) as usize],
        NOUN[(b[1] % 16) as usize],
        u16::from_le_bytes([b[2], b[3]]) % 1000
    )
}

impl Store {
    pub(crate) async fn ensure_default_experiment(&self) -> Result<()> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT experiment_id FROM experiments WHERE experiment_id = 0")
            .fetch_optional(&self.db.pool)
            .await?;
        if exists.is_none() {
            let _w = self.db.writer().await;
            let now = now_ms();
            sqlx::query(
                "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
                 VALUES (0, 'Default', $1, 'active', $2, $2) ON CONFLICT DO NOTHING",
            )
            .bind(self.artifact_location_for(0))
            .bind(now)
            .execute(&self.db.pool)
            .await?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- experiments

    pub async fn create_experiment(&self, name: &str, artifact_location: Option<&str>, tags: &[Tag]) -> Result<String> {
        v::validate_experiment_name(name)?;
        for t in tags {
            v::validate_experiment_tag(&t.key, &t.value)?;
        }
        if let Some(loc) = artifact_location {
            if loc.starts_with("runs:") {
                return Err(StoreError::invalid(format!(
                    "Artifact location cannot be a runs:/ URI. Given: '{loc}'"
                )));
            }
        }
        let _w = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT experiment_id FROM experiments WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_some() {
            return Err(StoreError::exists(format!("Experiment(name={name}) already exists.")));
        }
        let now = now_ms();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
             VALUES ($1, $2, 'active', $3, $3) RETURNING experiment_id",
        )
        .bind(name)
        .bind(artifact_location.unwrap_or(""))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_to_exists(e, || format!("Experiment(name={name}) already exists.")))?;
        if artifact_location.is_none_or(str::is_empty) {
            sqlx::query("UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2")
                .bind(self.artifact_location_for(id))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for t in tags {
            sqlx::query("INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(&t.key)
                .bind(&t.value)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id.to_string())
    }

    async fn experiment_tags(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<Tag>>> {
        let mut out: HashMap<i64, Vec<Tag>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ({}) ORDER BY key",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&self.db.pool).await? {
            out.entry(row.try_get("experiment_id")?).or_default().push(Tag::new(
                row.try_get::<String, _>("key")?,
                row.try_get::<String, _>("value")?,
            ));
        }
        Ok(out)
    }

    async fn with_tags(&self, mut exps: Vec<Experiment>) -> Result<Vec<Experiment>> {
        let ids: Vec<i64> = exps.iter().filter_map(|e| e.experiment_id.parse().ok()).collect();
        let mut tags = self.experiment_tags(&ids).await?;
        for e in &mut exps {
            if let Ok(id) = e.experiment_id.parse::<i64>() {
                e.tags = tags.remove(&id).unwrap_or_default();
            }
        }
        Ok(exps)
    }

    pub async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let not_found = || StoreError::not_found(format!("No Experiment with id={experiment_id} exists"));
        let id: i64 = experiment_id.trim().parse().map_err(|_| not_found())?;
        let row = sqlx::query("SELECT * FROM experiments WHERE experiment_id = $1")
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(not_found)?;
        let exp = experiment_from_row(&row)?;
        Ok(self.with_tags(vec![exp]).await?.remove(0))
    }

    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let row = sqlx::query("SELECT * FROM experiments WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Could not find experiment with name '{name}'")))?;
        let exp = experiment_from_row(&row)?;
        Ok(self.with_tags(vec![exp]).await?.remove(0))
    }

    async fn set_experiment_stage(&self, experiment_id: &str, stage: &str) -> Result<()> {
        let exp = self.get_experiment(experiment_id).await?;
        let id: i64 = exp.experiment_id.parse().unwrap_or_default();
        if stage == "deleted" && id == 0 {
            return Err(StoreError::invalid(
                "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
            ));
        }
        if stage == "active" && exp.lifecycle_stage != "deleted" {
            return Err(StoreError::new(
                crate::ErrorCode::InvalidState,
                format!("Cannot restore an active experiment. Experiment id={experiment_id}"),
            ));
        }
        if stage == "deleted" && exp.lifecycle_stage == "deleted" {
            return Err(StoreError::new(
                crate::ErrorCode::InvalidState,
                format!("The experiment {experiment_id} must be in the 'active' state. Current state is deleted."),
            ));
        }
        let now = now_ms();
        let _w = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        sqlx::query("UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 WHERE experiment_id = $3")
            .bind(stage)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let (from, deleted_time) = if stage == "deleted" {
            ("active", Some(now))
        } else {
            ("deleted", None)
        };
        sqlx::query(
            "UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE experiment_id = $3 AND lifecycle_stage = $4",
        )
        .bind(stage)
        .bind(deleted_time)
        .bind(id)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks the experiment and its runs deleted (restorable).
    pub async fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        self.set_experiment_stage(experiment_id, "deleted").await
    }

    /// Restores the experiment and its deleted runs.
    pub async fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        self.set_experiment_stage(experiment_id, "active").await
    }

    pub async fn rename_experiment(&self, experiment_id: &str, new_name: &str) -> Result<()> {
        v::validate_experiment_name(new_name)?;
        let exp = self.get_experiment(experiment_id).await?;
        if exp.lifecycle_stage != "active" {
            return Err(StoreError::new(
                crate::ErrorCode::InvalidState,
                "Cannot rename a non-active experiment.",
            ));
        }
        let _w = self.db.writer().await;
        let taken: Option<i64> = sqlx::query_scalar("SELECT experiment_id FROM experiments WHERE name = $1")
            .bind(new_name)
            .fetch_optional(&self.db.pool)
            .await?;
        if taken.is_some_and(|t| t.to_string() != exp.experiment_id) {
            return Err(StoreError::exists(format!(
                "Experiment(name={new_name}) already exists."
            )));
        }
        sqlx::query("UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3")
            .bind(new_name)
            .bind(now_ms())
            .bind(exp.experiment_id.parse::<i64>().unwrap_or_default())
            .execute(&self.db.pool)
            .await
            .map_err(|e| unique_to_exists(e, || format!("Experiment(name={new_name}) already exists.")))?;
        Ok(())
    }

    async fn active_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let exp = self.get_experiment(experiment_id).await?;
        if exp.lifecycle_stage != "active" {
            return Err(StoreError::invalid(format!(
                "The experiment {experiment_id} must be in the 'active' state. Current state is {}.",
                exp.lifecycle_stage
            )));
        }
        Ok(exp)
    }

    pub async fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        v::validate_experiment_tag(key, value)?;
        let exp = self.active_experiment(experiment_id).await?;
        let id: i64 = exp.experiment_id.parse().unwrap_or_default();
        let _w = self.db.writer().await;
        sqlx::query(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(id)
        .bind(key)
        .bind(value)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        let exp = self.active_experiment(experiment_id).await?;
        let id: i64 = exp.experiment_id.parse().unwrap_or_default();
        let _w = self.db.writer().await;
        let done = sqlx::query("DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2")
            .bind(id)
            .bind(key)
            .execute(&self.db.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!(
                "No tag with name: {key} in experiment with id {experiment_id}"
            )));
        }
        Ok(())
    }

    pub async fn search_experiments(
        &self,
        view_type: ViewType,
        filter_string: &str,
        max_results: Option<i64>,
        order_by: &[String],
        page_token: Option<&str>,
    ) -> Result<Page<Experiment>> {
        let max = max_results.unwrap_or(1000);
        if !(1..=SEARCH_EXPERIMENTS_MAX).contains(&max) {
            return Err(StoreError::invalid(format!(
                "Invalid value {max} for parameter 'max_results' supplied. It must be at most {SEARCH_EXPERIMENTS_MAX}, and greater than 0."
            )));
        }
        let offset = decode_page_token(page_token)?;
        let parts = filter::build_search_sql(Entity::Experiments, self.db.dialect, filter_string, order_by, 1)?;
        let n = parts.binds.len();
        let sql = format!(
            "SELECT experiments.* FROM experiments {} WHERE {} AND ({}) ORDER BY {} LIMIT ${} OFFSET ${}",
            parts.joins,
            view_type.sql("experiments.lifecycle_stage"),
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
        let exps = rows.iter().map(experiment_from_row).collect::<Result<Vec<_>>>()?;
        let next = next_token(offset, exps.len(), max);
        Ok(Page {
            items: self.with_tags(exps).await?,
            next_page_token: next,
        })
    }

    // ---------------------------------------------------------------- runs

    pub async fn create_run(&self, req: RunCreate) -> Result<Run> {
        for t in &req.tags {
            v::validate_tag(&t.key, &t.value, "tags")?;
        }
        let exp = self.active_experiment(&req.experiment_id).await?;
        let tag_name = req.tags.iter().find(|t| t.key == RUN_NAME_TAG).map(|t| t.value.clone());
        let run_name = match (req.run_name.filter(|n| !n.is_empty()), tag_name) {
            (Some(a), Some(b)) if a != b => {
                return Err(StoreError::invalid(format!(
                    "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{a}', mlflow.runName='{b}')."
                )))
            }
            (Some(a), _) => a,
            (None, Some(b)) => b,
            (None, None) => generate_run_name(),
        };
        let run_id = new_id();
        let artifact_uri = format!("{}/{}/artifacts", exp.artifact_location.trim_end_matches('/'), run_id);
        let start_time = req.start_time.unwrap_or_else(now_ms);
        let exp_id: i64 = exp.experiment_id.parse().unwrap_or_default();
        let mut tags = req.tags;
        if !tags.iter().any(|t| t.key == RUN_NAME_TAG) {
            tags.push(Tag::new(RUN_NAME_TAG, run_name.clone()));
        }
        {
            let _w = self.db.writer().await;
            let mut tx = self.db.pool.begin().await?;
            sqlx::query(
                "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri) \
                 VALUES ($1, $2, $3, $4, 'RUNNING', $5, NULL, 'active', $6)",
            )
            .bind(&run_id)
            .bind(&run_name)
            .bind(exp_id)
            .bind(&req.user_id)
            .bind(start_time)
            .bind(&artifact_uri)
            .execute(&mut *tx)
            .await?;
            let mut seen = HashSet::new();
            for t in tags.iter().rev() {
                if !seen.insert(t.key.clone()) {
                    continue;
                }
                sqlx::query("INSERT INTO tags (run_uuid, key, value) VALUES ($1, $2, $3)")
                    .bind(&run_id)
                    .bind(&t.key)
                    .bind(&t.value)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        self.get_run(&run_id).await
    }

    async fn run_row(&self, run_id: &str) -> Result<AnyRow> {
        sqlx::query("SELECT * FROM runs WHERE run_uuid = $1")
            .bind(run_id)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Run with id={run_id} not found")))
    }

    pub async fn get_run_info(&self, run_id: &str) -> Result<RunInfo> {
        run_info_from_row(&self.run_row(run_id).await?)
    }

    /// The run, which must exist and be active (for writes).
    pub(crate) async fn active_run(&self, run_id: &str) -> Result<RunInfo> {
        let info = self.get_run_info(run_id).await?;
        if info.lifecycle_stage != "active" {
            return Err(StoreError::invalid(format!(
                "The run {run_id} must be in the 'active' state. Current state is {}.",
                info.lifecycle_stage
            )));
        }
        Ok(info)
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        let info = self.get_run_info(run_id).await?;
        Ok(self.load_runs(vec![info]).await?.remove(0))
    }

    /// Attaches params, tags, latest metrics, inputs and outputs to run infos.
    async fn load_runs(&self, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
        if infos.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = infos.iter().map(|i| i.run_id.clone()).collect();
        let mut runs: Vec<Run> = infos
            .into_iter()
            .map(|info| Run {
                info,
                data: RunData::default(),
                inputs: RunInputs::default(),
                outputs: RunOutputs::default(),
            })
            .collect();
        let index: HashMap<String, usize> = ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
        let ph = placeholders(1, ids.len());
        let fetch = |sql: String| {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(id.clone());
            }
            q.fetch_all(&self.db.pool)
        };
        let mut params = crate::fetch_tags(&self.db.pool, "params", "run_uuid", &ids).await?;
        let mut tags = crate::fetch_tags(&self.db.pool, "tags", "run_uuid", &ids).await?;
        for run in &mut runs {
            run.data.params = params.remove(&run.info.run_id).unwrap_or_default();
            run.data.tags = tags.remove(&run.info.run_id).unwrap_or_default();
        }
        for row in fetch(format!(
            "SELECT r.run_uuid, l.key, l.value, l.is_nan, l.timestamp, l.step FROM latest_metrics l \
             JOIN runs r ON r.run_pk = l.run_pk WHERE r.run_uuid IN ({ph}) ORDER BY l.key"
        ))
        .await?
        {
            let i = index[&row.try_get::<String, _>("run_uuid")?];
            runs[i].data.metrics.push(Metric::new(
                row.try_get::<String, _>("key")?,
                metric_value(&row)?,
                row.try_get("timestamp")?,
                row.try_get("step")?,
            ));
        }
        let mut input_pos: HashMap<(String, String), (usize, usize)> = HashMap::new();
        for row in fetch(format!(
            "SELECT ri.run_uuid, d.dataset_uuid, d.name, d.digest, d.source_type, d.source, d.schema, d.profile \
             FROM run_inputs ri JOIN datasets d ON d.dataset_uuid = ri.dataset_uuid WHERE ri.run_uuid IN ({ph}) ORDER BY d.name"
        ))
        .await?
        {
            let run_uuid: String = row.try_get("run_uuid")?;
            let i = index[&run_uuid];
            let ds_uuid: String = row.try_get("dataset_uuid")?;
            input_pos.insert((run_uuid, ds_uuid), (i, runs[i].inputs.dataset_inputs.len()));
            runs[i].inputs.dataset_inputs.push(DatasetInput {
                tags: Vec::new(),
                dataset: Dataset {
                    name: row.try_get("name")?,
                    digest: row.try_get("digest")?,
                    source_type: row.try_get("source_type")?,
                    source: row.try_get("source")?,
                    schema: row.try_get("schema")?,
                    profile: row.try_get("profile")?,
                },
            });
        }
        if !input_pos.is_empty() {
            for row in fetch(format!(
                "SELECT run_uuid, dataset_uuid, key, value FROM run_input_tags WHERE run_uuid IN ({ph}) ORDER BY key"
            ))
            .await?
            {
                let key = (
                    row.try_get::<String, _>("run_uuid")?,
                    row.try_get::<String, _>("dataset_uuid")?,
                );
                if let Some(&(i, j)) = input_pos.get(&key) {
                    runs[i].inputs.dataset_inputs[j].tags.push(Tag::new(
                        row.try_get::<String, _>("key")?,
                        row.try_get::<String, _>("value")?,
                    ));
                }
            }
        }
        for row in fetch(format!(
            "SELECT run_uuid, model_id, direction, step FROM run_model_io WHERE run_uuid IN ({ph}) ORDER BY model_id"
        ))
        .await?
        {
            let i = index[&row.try_get::<String, _>("run_uuid")?];
            let model_id: String = row.try_get("model_id")?;
            if row.try_get::<String, _>("direction")? == "input" {
                runs[i].inputs.model_inputs.push(ModelInput { model_id });
            } else {
                runs[i].outputs.model_outputs.push(ModelOutput {
                    model_id,
                    step: row.try_get("step")?,
                });
            }
        }
        Ok(runs)
    }

    pub async fn update_run(
        &self,
        run_id: &str,
        status: Option<&str>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<RunInfo> {
        self.active_run(run_id).await?;
        let status = status.map(parse_run_status).transpose()?;
        {
            let _w = self.db.writer().await;
            let mut tx = self.db.pool.begin().await?;
            if let Some(s) = status {
                sqlx::query("UPDATE runs SET status = $1 WHERE run_uuid = $2")
                    .bind(s)
                    .bind(run_id)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(t) = end_time {
                sqlx::query("UPDATE runs SET end_time = $1 WHERE run_uuid = $2")
                    .bind(t)
                    .bind(run_id)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(name) = run_name.filter(|n| !n.is_empty()) {
                sqlx::query("UPDATE runs SET name = $1 WHERE run_uuid = $2")
                    .bind(name)
                    .bind(run_id)
                    .execute(&mut *tx)
                    .await?;
                upsert_tag(&mut tx, run_id, RUN_NAME_TAG, name).await?;
            }
            tx.commit().await?;
        }
        self.get_run_info(run_id).await
    }

    async fn set_run_stage(&self, run_id: &str, stage: &str) -> Result<()> {
        let info = self.get_run_info(run_id).await?;
        if stage == "active" {
            let exp = self.get_experiment(&info.experiment_id).await?;
            if exp.lifecycle_stage != "active" {
                return Err(StoreError::invalid(format!(
                    "Cannot restore run {run_id}: its experiment {} is deleted; restore the experiment first.",
                    info.experiment_id
                )));
            }
        }
        let deleted_time = (stage == "deleted").then(now_ms);
        let _w = self.db.writer().await;
        sqlx::query("UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE run_uuid = $3")
            .bind(stage)
            .bind(deleted_time)
            .bind(run_id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_run(&self, run_id: &str) -> Result<()> {
        self.set_run_stage(run_id, "deleted").await
    }

    pub async fn restore_run(&self, run_id: &str) -> Result<()> {
        self.set_run_stage(run_id, "active").await
    }

    pub async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.log_batch(run_id, &[], &[], &[Tag::new(key, value)]).await
    }

    pub async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        self.active_run(run_id).await?;
        let _w = self.db.writer().await;
        let done = sqlx::query("DELETE FROM tags WHERE run_uuid = $1 AND key = $2")
            .bind(run_id)
            .bind(key)
            .execute(&self.db.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(format!(
                "No tag with name: {key} in run with id {run_id}"
            )));
        }
        Ok(())
    }

    /// Logs metrics (full history + latest), params (immutable) and tags atomically.
    pub async fn log_batch(&self, run_id: &str, metrics: &[Metric], params: &[Param], tags: &[Tag]) -> Result<()> {
        v::validate_batch_limits(metrics.len(), params.len(), tags.len())?;
        // Like `mlflow server` (MLFLOW_TRUNCATE_LONG_VALUES), over-long param and tag values are cut, not refused.
        let params: Vec<Param> = params
            .iter()
            .map(|p| Tag::new(p.key.clone(), v::truncate(&p.value, v::MAX_PARAM_VAL_LENGTH)))
            .collect();
        let tags: Vec<Tag> = tags
            .iter()
            .map(|t| Tag::new(t.key.clone(), v::truncate(&t.value, v::MAX_TAG_VAL_LENGTH)))
            .collect();
        let (params, tags) = (&params[..], &tags[..]);
        let mut checked_keys: HashSet<&str> = HashSet::new();
        for (i, m) in metrics.iter().enumerate() {
            if m.timestamp < 0 || !checked_keys.contains(m.key.as_str()) {
                v::validate_metric(&m.key, m.timestamp, &format!("metrics[{i}]"))?;
                checked_keys.insert(&m.key);
            }
        }
        for (i, p) in params.iter().enumerate() {
            v::validate_param(&p.key, &p.value, &format!("params[{i}]"))?;
        }
        for (i, t) in tags.iter().enumerate() {
            v::validate_tag(&t.key, &t.value, &format!("tags[{i}]"))?;
        }
        // Duplicate param keys within one request must agree.
        let mut batch_params: BTreeMap<&str, &str> = BTreeMap::new();
        let mut dupes = Vec::new();
        for p in params {
            if let Some(prev) = batch_params.insert(&p.key, &p.value) {
                if prev != p.value {
                    dupes.push(p.key.clone());
                }
            }
        }
        if !dupes.is_empty() {
            return Err(StoreError::invalid(format!(
                "Duplicate parameter keys have been submitted: {dupes:?}. Please ensure the request contains only one param value per param key."
            )));
        }
        let _w = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        // The run must exist and be active; checked inside the write transaction.
        let row = sqlx::query("SELECT run_pk, lifecycle_stage FROM runs WHERE run_uuid = $1")
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Run with id={run_id} not found")))?;
        let run_pk: i64 = row.try_get("run_pk")?;
        let stage: String = row.try_get("lifecycle_stage")?;
        if stage != "active" {
            return Err(StoreError::invalid(format!(
                "The run {run_id} must be in the 'active' state. Current state is {stage}."
            )));
        }
        if !batch_params.is_empty() {
            let keys: Vec<&str> = batch_params.keys().copied().collect();
            let sql = format!(
                "SELECT key, value FROM params WHERE run_uuid = $1 AND key IN ({})",
                placeholders(2, keys.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(run_id);
            for k in &keys {
                q = q.bind(k.to_string());
            }
            let mut conflicts = Vec::new();
            let mut existing = HashSet::new();
            for row in q.fetch_all(&mut *tx).await? {
                let key: String = row.try_get("key")?;
                let value: String = row.try_get("value")?;
                if batch_params.get(key.as_str()) != Some(&value.as_str()) {
                    conflicts.push(format!(
                        "key '{key}': old value '{value}', new value '{}'",
                        batch_params.get(key.as_str()).unwrap_or(&"")
                    ));
                }
                existing.insert(key);
            }
            if !conflicts.is_empty() {
                return Err(StoreError::invalid(format!(
                    "Changing param values is not allowed. Params were already logged for run ID '{run_id}' with different values: {}.",
                    conflicts.join("; ")
                )));
            }
            let new: Vec<(&str, &str)> = batch_params
                .iter()
                .filter(|(k, _)| !existing.contains(**k))
                .map(|(k, v)| (*k, *v))
                .collect();
            for chunk in new.chunks(300) {
                let sql = format!(
                    "INSERT INTO params (run_uuid, key, value) VALUES {}",
                    tuples(self.db.dialect, chunk.len(), 3)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for (k, val) in chunk {
                    q = q.bind(run_id).bind(k.to_string()).bind(val.to_string());
                }
                q.execute(&mut *tx).await?;
            }
        }
        for t in tags {
            upsert_tag(&mut tx, run_id, &t.key, &t.value).await?;
            if t.key == RUN_NAME_TAG {
                sqlx::query("UPDATE runs SET name = $1 WHERE run_uuid = $2")
                    .bind(&t.value)
                    .bind(run_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if !metrics.is_empty() {
            insert_metrics(&mut tx, self.db.dialect, run_id, run_pk, metrics).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn log_metric(&self, run_id: &str, metric: Metric) -> Result<()> {
        self.log_batch(run_id, std::slice::from_ref(&metric), &[], &[]).await
    }

    pub async fn log_param(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        self.log_batch(run_id, &[], &[Tag::new(key, value)], &[]).await
    }

    /// A metric's full history, ordered by timestamp, step, value (as MLflow), paginated.
    pub async fn get_metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: Option<i64>,
        page_token: Option<&str>,
    ) -> Result<Page<Metric>> {
        self.get_run_info(run_id).await?;
        let offset = decode_page_token(page_token)?;
        let limit = match max_results {
            Some(m) if m <= 0 => {
                return Err(StoreError::invalid(format!(
                    "Invalid value {m} for parameter 'max_results' supplied. It must be greater than 0."
                )))
            }
            Some(m) => m,
            None => i64::MAX / 2,
        };
        let rows = sqlx::query(
            "SELECT key, value, is_nan, timestamp, step, dataset_name, dataset_digest FROM metrics \
             WHERE run_pk = (SELECT run_pk FROM runs WHERE run_uuid = $1) AND key = $2 \
             ORDER BY timestamp, step, value LIMIT $3 OFFSET $4",
        )
        .bind(run_id)
        .bind(key)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.db.pool)
        .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut m = Metric::new(key, metric_value(row)?, row.try_get("timestamp")?, row.try_get("step")?);
            m.dataset_name = row.try_get("dataset_name")?;
            m.dataset_digest = row.try_get("dataset_digest")?;
            m.run_id = Some(run_id.to_string());
            items.push(m);
        }
        let next = max_results.and_then(|m| next_token(offset, items.len(), m));
        Ok(Page {
            items,
            next_page_token: next,
        })
    }

    /// Records dataset inputs (deduplicated per experiment by name + digest) and model inputs.
    pub async fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput], models: &[ModelInput]) -> Result<()> {
        for (i, d) in datasets.iter().enumerate() {
            let p = format!("datasets[{i}].dataset");
            for (field, value, limit) in [
                ("name", &d.dataset.name, v::MAX_DATASET_NAME_SIZE),
                ("digest", &d.dataset.digest, v::MAX_DATASET_DIGEST_SIZE),
                ("source", &d.dataset.source, v::MAX_DATASET_SOURCE_SIZE),
            ] {
                if value.is_empty() && field != "source" {
                    return Err(StoreError::invalid(v::missing_value(&format!("{p}.{field}"))));
                }
                v::validate_length(&format!("{p}.{field}"), limit, value)?;
            }
            if let Some(s) = &d.dataset.schema {
                v::validate_length(&format!("{p}.schema"), v::MAX_DATASET_SCHEMA_SIZE, s)?;
            }
            if let Some(s) = &d.dataset.profile {
                v::validate_length(&format!("{p}.profile"), v::MAX_DATASET_PROFILE_SIZE, s)?;
            }
            for t in &d.tags {
                v::validate_length(&format!("datasets[{i}].tags.key"), v::MAX_INPUT_TAG_KEY_SIZE, &t.key)?;
                v::validate_length(
                    &format!("datasets[{i}].tags.value"),
                    v::MAX_INPUT_TAG_VALUE_SIZE,
                    &t.value,
                )?;
            }
        }
        let info = self.active_run(run_id).await?;
        let exp_id: i64 = info.experiment_id.parse().unwrap_or_default();
        let _w = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        for d in datasets {
            let ds = &d.dataset;
            let existing: Option<String> = sqlx::query_scalar(
                "SELECT dataset_uuid FROM datasets WHERE experiment_id = $1 AND name = $2 AND digest = $3",
            )
            .bind(exp_id)
            .bind(&ds.name)
            .bind(&ds.digest)
            .fetch_optional(&mut *tx)
            .await?;
            let ds_uuid = match existing {
                Some(u) => u,
                None => {
                    let u = new_id();
                    sqlx::query(
                        "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&u)
                    .bind(exp_id)
                    .bind(&ds.name)
                    .bind(&ds.digest)
                    .bind(&ds.source_type)
                    .bind(&ds.source)
                    .bind(ds.schema.clone())
                    .bind(ds.profile.clone())
                    .execute(&mut *tx)
                    .await?;
                    u
                }
            };
            sqlx::query("INSERT INTO run_inputs (run_uuid, dataset_uuid) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(run_id)
                .bind(&ds_uuid)
                .execute(&mut *tx)
                .await?;
            for t in &d.tags {
                sqlx::query(
                    "INSERT INTO run_input_tags (run_uuid, dataset_uuid, key, value) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (run_uuid, dataset_uuid, key) DO UPDATE SET value = excluded.value",
                )
                .bind(run_id)
                .bind(&ds_uuid)
                .bind(&t.key)
                .bind(&t.value)
                .execute(&mut *tx)
                .await?;
            }
        }
        for m in models {
            sqlx::query(
                "INSERT INTO run_model_io (run_uuid, model_id, direction, step) VALUES ($1, $2, 'input', 0) ON CONFLICT DO NOTHING",
            )
            .bind(run_id)
            .bind(&m.model_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn log_outputs(&self, run_id: &str, models: &[ModelOutput]) -> Result<()> {
        self.active_run(run_id).await?;
        let _w = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        for m in models {
            sqlx::query(
                "INSERT INTO run_model_io (run_uuid, model_id, direction, step) VALUES ($1, $2, 'output', $3) \
                 ON CONFLICT (run_uuid, model_id, direction) DO UPDATE SET step = excluded.step",
            )
            .bind(run_id)
            .bind(&m.model_id)
            .bind(m.step)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// MLflow's search-runs: filter and order in SQL, offset pagination.
    pub async fn search_runs(&self, req: &SearchRuns) -> Result<Page<Run>> {
        let max = req.max_results.unwrap_or(1000);
        if !(1..=SEARCH_RUNS_MAX).contains(&max) {
            return Err(StoreError::invalid(format!(
                "Invalid value {max} for parameter 'max_results' supplied. It must be at most {SEARCH_RUNS_MAX}, and greater than 0."
            )));
        }
        let offset = decode_page_token(req.page_token.as_deref())?;
        let mut exp_ids = Vec::with_capacity(req.experiment_ids.len());
        for id in &req.experiment_ids {
            exp_ids.push(parse_experiment_id(id)?);
        }
        if exp_ids.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next_page_token: None,
            });
        }
        let first = exp_ids.len() + 1;
        let parts = filter::build_search_sql(Entity::Runs, self.db.dialect, &req.filter, &req.order_by, first)?;
        let n = first + parts.binds.len();
        let sql = format!(
            "SELECT runs.* FROM runs {} WHERE runs.experiment_id IN ({}) AND {} AND ({}) ORDER BY {} LIMIT ${} OFFSET ${}",
            parts.joins,
            placeholders(1, exp_ids.len()),
            req.view_type.sql("runs.lifecycle_stage"),
            parts.where_sql,
            parts.order_sql,
            n,
            n + 1
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in &exp_ids {
            q = q.bind(*id);
        }
        let rows = bind_all(q, &parts.binds)
            .bind(max)
            .bind(offset)
            .fetch_all(&self.db.pool)
            .await?;
        let infos = rows.iter().map(run_info_from_row).collect::<Result<Vec<_>>>()?;
        let next = next_token(offset, infos.len(), max);
        Ok(Page {
            items: self.load_runs(infos).await?,
            next_page_token: next,
        })
    }
}

/// `$a, $a+1, ...` for `n` binds.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2, $3), ($4, $5, $6), ...`: `rows` tuples of `cols` placeholders, binds in order.
///
/// SQLite gets anonymous `?` placeholders: looking up a numbered parameter is a
/// linear scan inside SQLite, which makes a 2000-bind statement ten times slower.
pub(crate) fn tuples(dialect: Dialect, rows: usize, cols: usize) -> String {
    match dialect {
        Dialect::Sqlite => {
            let one = format!("({})", vec!["?"; cols].join(", "));
            vec![one; rows].join(", ")
        }
        Dialect::Postgres => (0..rows)
            .map(|r| format!("({})", placeholders(r * cols + 1, cols)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

pub(crate) fn unique_to_exists(e: sqlx::Error, msg: impl FnOnce() -> String) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::exists(msg());
        }
    }
    e.into()
}

async fn upsert_tag(tx: &mut sqlx::Transaction<'_, sqlx::Any>, run_id: &str, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO tags (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
    )
    .bind(run_id)
    .bind(key)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts the history rows in multi-row statements and moves `latest_metrics`
/// forward where a new value is later by (step, timestamp, value), as MLflow does.
pub(crate) async fn insert_metrics(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    dialect: Dialect,
    run_id: &str,
    run_pk: i64,
    metrics: &[Metric],
) -> Result<()> {
    const COLS: usize = 8;
    for chunk in metrics.chunks(1000) {
        let sql = format!(
            "INSERT INTO metrics (run_pk, key, value, is_nan, timestamp, step, dataset_name, dataset_digest) VALUES {} \
             ON CONFLICT DO NOTHING",
            tuples(dialect, chunk.len(), COLS)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for m in chunk {
            let (value, is_nan) = stored_value(m.value);
            q = q
                .bind(run_pk)
                .bind(m.key.clone())
                .bind(value)
                .bind(is_nan)
                .bind(m.timestamp)
                .bind(m.step)
                .bind(m.dataset_name.clone())
                .bind(m.dataset_digest.clone());
        }
        q.execute(&mut **tx).await?;
    }
    let linked: Vec<&Metric> = metrics.iter().filter(|m| m.model_id.is_some()).collect();
    for chunk in linked.chunks(250) {
        let sql = format!(
            "INSERT INTO logged_model_metrics (model_id, run_uuid, key, value, is_nan, timestamp, step, dataset_name, dataset_digest) \
             VALUES {} ON CONFLICT DO NOTHING",
            tuples(dialect, chunk.len(), 9)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for m in chunk {
            let (value, is_nan) = stored_value(m.value);
            q = q
                .bind(m.model_id.clone())
                .bind(run_id)
                .bind(m.key.clone())
                .bind(value)
                .bind(is_nan)
                .bind(m.timestamp)
                .bind(m.step)
                .bind(m.dataset_name.clone())
                .bind(m.dataset_digest.clone());
        }
        q.execute(&mut **tx).await?;
    }
    // The latest value per key within this batch, then one upsert per key.
    let mut latest: BTreeMap<&str, &Metric> = BTreeMap::new();
    for m in metrics {
        let later = match latest.get(m.key.as_str()) {
            None => true,
            Some(cur) => (m.step, m.timestamp)
                .cmp(&(cur.step, cur.timestamp))
                .then(cmp_value(m.value, cur.value))
                .is_gt(),
        };
        if later {
            latest.insert(&m.key, m);
        }
    }
    let latest: Vec<&Metric> = latest.into_values().collect();
    for chunk in latest.chunks(250) {
        let sql = format!(
            "INSERT INTO latest_metrics (run_pk, key, value, is_nan, timestamp, step) VALUES {} \
             ON CONFLICT (run_pk, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, \
             timestamp = excluded.timestamp, step = excluded.step \
             WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step AND \
             (excluded.timestamp > latest_metrics.timestamp OR (excluded.timestamp = latest_metrics.timestamp AND \
             excluded.value >= latest_metrics.value)))",
            tuples(dialect, chunk.len(), 6)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for m in chunk {
            let (value, is_nan) = stored_value(m.value);
            q = q
                .bind(run_pk)
                .bind(m.key.clone())
                .bind(value)
                .bind(is_nan)
                .bind(m.timestamp)
                .bind(m.step);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// NaN is stored as 0 with `is_nan = 1` (SQLite turns NaN into NULL), as MLflow does.
pub(crate) fn stored_value(v: f64) -> (f64, i64) {
    if v.is_nan() {
        (0.0, 1)
    } else {
        (v, 0)
    }
}

fn cmp_value(a: f64, b: f64) -> std::cmp::Ordering {
    a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(tuples(Dialect::Postgres, 2, 2), "($1, $2), ($3, $4)");
        assert_eq!(tuples(Dialect::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn statuses() {
        assert_eq!(parse_run_status("finished").unwrap(), "FINISHED");
        assert_eq!(parse_run_status("3").unwrap(), "FINISHED");
        assert!(parse_run_status("DONE").is_err());
    }
}
