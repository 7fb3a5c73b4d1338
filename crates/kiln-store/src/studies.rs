//! Studies and trials of hyperparameter optimisation (kiln-tune's SQL storage).
//!
//! This module stores rows; it does not interpret parameters or values (they
//! are JSON text that kiln-tune writes and reads). What it guarantees:
//!
//! * **No double assignment.** Creating a trial locks the study row
//!   (`SELECT ... FOR UPDATE` on PostgreSQL; the writer lock on SQLite), so
//!   numbers are dense and a budget is never exceeded however many workers
//!   race; a WAITING trial is claimed with `FOR UPDATE SKIP LOCKED`.
//! * **Ordered change feed.** Every trial write bumps the study's `seq` under
//!   the study row's lock, so seqs commit in order and a reader that fetched
//!   `seq > n` never misses a later-committed smaller seq.
//! * **Lock order** trial row(s) -> study row in every transaction that holds
//!   both (no deadlock between a finishing worker and the reaper).
//! * **One final write.** Updates require the trial to be RUNNING (a second
//!   tell, or a tell for a reaped trial, is INVALID_STATE).
//! * **Heartbeats.** A RUNNING trial with a heartbeat older than the grace
//!   period is failed by `reap_stale_study_trials`, which enqueues a WAITING
//!   retry with the same params that takes over its place in the budget.
//! * **MLflow mirror.** The study has a parent run; each trial is a child run
//!   (`mlflow.parentRunId`) with its params, intermediate values as the
//!   history of the first objective's metric, final values as metrics, and
//!   its state as the run status (PRUNED -> KILLED, tag `kiln.trial_state`).

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::error::{ErrorCode, Result, StoreError};
use crate::filter::Dialect;
use crate::model::{Metric, Tag};
use crate::tracking::{insert_metrics, tuples, RUN_NAME_TAG};
use crate::{new_id, now_ms, RunCreate, Store};

/// Attribute set on a trial the reaper failed: the number of its retry.
pub const RETRIED_AS_ATTR: &str = "kiln:retried_as";
/// Attribute set on a retry: the number of the trial it retries.
pub const RETRY_OF_ATTR: &str = "kiln:retry_of";
/// Attribute holding the reason a trial failed.
pub const FAIL_REASON_ATTR: &str = "kiln:fail_reason";
/// Tag naming the study on its parent and child runs.
pub const STUDY_TAG: &str = "kiln.study";
/// Tag with a child run's trial number.
pub const TRIAL_NUMBER_TAG: &str = "kiln.trial_number";
/// Tag with a child run's trial state (RUNNING, COMPLETE, PRUNED, FAIL, WAITING).
pub const TRIAL_STATE_TAG: &str = "kiln.trial_state";
/// MLflow's parent-run tag.
pub const PARENT_RUN_TAG: &str = "mlflow.parentRunId";

const STATES: [&str; 5] = ["RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING"];

/// A stored study.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRow {
    pub study_id: i64,
    pub name: String,
    /// JSON array of directions.
    pub directions: String,
    /// JSON settings.
    pub config: String,
    pub experiment_id: String,
    pub parent_run_id: String,
    pub creation_time: i64,
}

/// A stored trial.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    pub trial_id: i64,
    pub study_id: i64,
    pub number: i64,
    pub state: String,
    /// JSON object.
    pub params: String,
    /// JSON array (COMPLETE trials).
    pub values: Option<String>,
    /// JSON array of [step, value].
    pub intermediate: String,
    /// JSON object.
    pub attrs: String,
    pub budgeted: bool,
    pub worker: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub heartbeat: Option<i64>,
    pub run_id: String,
    pub seq: i64,
}

/// What `create_study` takes.
#[derive(Debug, Clone)]
pub struct NewStudy {
    pub name: String,
    pub directions: String,
    pub config: String,
    /// The MLflow experiment (created when missing).
    pub experiment_name: String,
    pub user_id: String,
}

/// What `create_study_trial` takes.
#[derive(Debug, Clone)]
pub struct NewTrial {
    /// RUNNING or WAITING.
    pub state: String,
    pub params: String,
    pub attrs: String,
    pub worker: Option<String>,
    /// None when the study already has this many budgeted trials.
    pub budget: Option<i64>,
    /// Whether the trial is kept alive by heartbeats (and so can be reaped).
    pub heartbeat: bool,
    /// The params as MLflow params of the child run (key, display value).
    pub run_params: Vec<(String, String)>,
}

/// A write to a RUNNING trial (a save, or the final write).
#[derive(Debug, Clone)]
pub struct TrialWrite {
    pub trial_id: i64,
    /// RUNNING for a save; COMPLETE / PRUNED / FAIL for the final write.
    pub state: String,
    pub params: String,
    pub values: Option<String>,
    pub intermediate: String,
    pub attrs: String,
    /// Params not yet on the child run.
    pub new_run_params: Vec<(String, String)>,
    /// Metric points to add to the child run.
    pub new_metrics: Vec<Metric>,
}

fn study_from_row(row: &AnyRow) -> Result<StudyRow> {
    Ok(StudyRow {
        study_id: row.try_get("study_id")?,
        name: row.try_get("name")?,
        directions: row.try_get("directions")?,
        config: row.try_get("config")?,
        experiment_id: row.try_get::<i64, _>("experiment_id")?.to_string(),
        parent_run_id: row.try_get("parent_run_uuid")?,
        creation_time: row.try_get("creation_time")?,
    })
}

const TRIAL_COLS: &str = "trial_id, study_id, number, state, params, objective_values, intermediate, attrs, budgeted, \
                          worker, start_time, end_time, heartbeat, run_uuid, seq";

fn trial_from_row(row: &AnyRow) -> Result<TrialRow> {
    Ok(TrialRow {
        trial_id: row.try_get("trial_id")?,
        study_id: row.try_get("study_id")?,
        number: row.try_get("number")?,
        state: row.try_get("state")?,
        params: row.try_get("params")?,
        values: row.try_get("objective_values")?,
        intermediate: row.try_get("intermediate")?,
        attrs: row.try_get("attrs")?,
        budgeted: row.try_get::<i64, _>("budgeted")? != 0,
        worker: row.try_get("worker")?,
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        heartbeat: row.try_get("heartbeat")?,
        run_id: row.try_get("run_uuid")?,
        seq: row.try_get("seq")?,
    })
}

/// MLflow run status of a trial state.
fn run_status(state: &str) -> &'static str {
    match state {
        "RUNNING" => "RUNNING",
        "WAITING" => "SCHEDULED",
        "COMPLETE" => "FINISHED",
        "PRUNED" => "KILLED",
        _ => "FAILED",
    }
}

fn check_state(state: &str) -> Result<()> {
    if STATES.contains(&state) {
        Ok(())
    } else {
        Err(StoreError::invalid(format!(
            "unknown trial state '{state}': expected one of {}",
            STATES.join(", ")
        )))
    }
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// The locked study row.
struct Locked {
    seq: i64,
    next_number: i64,
    budget_used: i64,
    parent_run: String,
    experiment_id: i64,
    artifact_location: String,
    name: String,
}

impl Store {
    /// Begins a write transaction. On SQLite it takes the database's write
    /// lock at once (a no-op write), so a transaction never has to upgrade a
    /// read snapshot to a write, which other processes would make fail with
    /// SQLITE_BUSY instead of waiting out the busy timeout.
    async fn begin_write(&self) -> Result<Tx<'static>> {
        let mut tx = self.db.pool.begin().await?;
        if self.db.dialect == Dialect::Sqlite {
            sqlx::query("UPDATE studies SET seq = seq WHERE 1 = 0")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    fn for_update(&self, skip_locked: bool) -> &'static str {
        match (self.db.dialect, skip_locked) {
            (Dialect::Postgres, false) => " FOR UPDATE",
            (Dialect::Postgres, true) => " FOR UPDATE SKIP LOCKED",
            (Dialect::Sqlite, _) => "",
        }
    }

    /// Creates a study with its MLflow experiment (when missing) and parent run.
    pub async fn create_study(&self, req: NewStudy) -> Result<StudyRow> {
        if req.name.trim().is_empty() {
            return Err(StoreError::invalid("a study name must not be empty"));
        }
        if req.name.len() > 500 || req.name.chars().any(|c| c.is_control()) {
            return Err(StoreError::invalid(
                "a study name must be at most 500 characters without control characters",
            ));
        }
        if self.get_study_by_name(&req.name).await.is_ok() {
            return Err(StoreError::exists(format!("study '{}' already exists", req.name)));
        }
        let experiment_id = match self.get_experiment_by_name(&req.experiment_name).await {
            Ok(e) if e.lifecycle_stage == "active" => e.experiment_id,
            Ok(_) => {
                return Err(StoreError::invalid(format!(
                    "experiment '{}' is deleted; restore it or name another experiment for the study",
                    req.experiment_name
                )))
            }
            Err(e) if e.code == ErrorCode::ResourceDoesNotExist => {
                match self.create_experiment(&req.experiment_name, None, &[]).await {
                    Ok(id) => id,
                    Err(e) if e.code == ErrorCode::ResourceAlreadyExists => {
                        self.get_experiment_by_name(&req.experiment_name).await?.experiment_id
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let parent = self
            .create_run(RunCreate {
                experiment_id: experiment_id.clone(),
                user_id: req.user_id.clone(),
                start_time: None,
                run_name: Some(req.name.clone()),
                tags: vec![Tag::new(STUDY_TAG, req.name.clone()), Tag::new("kiln.kind", "study")],
            })
            .await?;
        let parent_id = parent.info.run_id.clone();
        let exp_id: i64 = experiment_id.parse().unwrap_or_default();
        let artifact_location = self.get_experiment(&experiment_id).await?.artifact_location;
        let inserted = {
            let _w = self.db.writer().await;
            sqlx::query(
                "INSERT INTO studies (name, directions, config, experiment_id, artifact_location, parent_run_uuid, creation_time) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&req.name)
            .bind(&req.directions)
            .bind(&req.config)
            .bind(exp_id)
            .bind(&artifact_location)
            .bind(&parent_id)
            .bind(now_ms())
            .execute(&self.db.pool)
            .await
        };
        if let Err(e) = inserted {
            // Lost a race with another worker creating the same study: drop our parent run.
            let _ = self.delete_run(&parent_id).await;
            return Err(crate::tracking::unique_to_exists(e, || {
                format!("study '{}' already exists", req.name)
            }));
        }
        self.get_study_by_name(&req.name).await
    }

    /// The study called `name`.
    pub async fn get_study_by_name(&self, name: &str) -> Result<StudyRow> {
        let row = sqlx::query("SELECT * FROM studies WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("study '{name}' not found")))?;
        study_from_row(&row)
    }

    /// Every study, oldest first.
    pub async fn list_studies(&self) -> Result<Vec<StudyRow>> {
        sqlx::query("SELECT * FROM studies ORDER BY study_id")
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(study_from_row)
            .collect()
    }

    /// Locks the study row and bumps its seq (one `UPDATE ... RETURNING`,
    /// which on SQLite also takes the write lock at once); with `allocate`,
    /// also takes the next trial number and a budget slot (returned as they
    /// were before; a caller over budget rolls back).
    async fn lock_study(&self, tx: &mut Tx<'_>, study_id: i64, allocate: bool) -> Result<Locked> {
        let k = i64::from(allocate);
        let row = sqlx::query(
            "UPDATE studies SET seq = seq + 1, next_number = next_number + $2, budget_used = budget_used + $2 \
             WHERE study_id = $1 \
             RETURNING seq, next_number, budget_used, parent_run_uuid, experiment_id, artifact_location, name",
        )
        .bind(study_id)
        .bind(k)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("study id {study_id} not found")))?;
        Ok(Locked {
            seq: row.try_get("seq")?,
            next_number: row.try_get::<i64, _>("next_number")? - k,
            budget_used: row.try_get::<i64, _>("budget_used")? - k,
            parent_run: row.try_get("parent_run_uuid")?,
            experiment_id: row.try_get("experiment_id")?,
            artifact_location: row.try_get("artifact_location")?,
            name: row.try_get("name")?,
        })
    }

    async fn insert_trial(&self, tx: &mut Tx<'_>, study_id: i64, locked: &Locked, req: &NewTrial) -> Result<TrialRow> {
        let (seq, number, parent_run, experiment_id) = (
            locked.seq,
            locked.next_number,
            locked.parent_run.as_str(),
            locked.experiment_id,
        );
        let artifact_location = &locked.artifact_location;
        let now = now_ms();
        let run_id = new_id();
        let run_name = format!("trial-{number}");
        let artifact_uri = format!("{}/{}/artifacts", artifact_location.trim_end_matches('/'), run_id);
        let running = req.state == "RUNNING";
        let heartbeat = (running && req.heartbeat).then_some(now);
        let start = running.then_some(now);
        let tags = [
            (RUN_NAME_TAG, run_name.clone()),
            (PARENT_RUN_TAG, parent_run.to_string()),
            (STUDY_TAG, locked.name.clone()),
            (TRIAL_NUMBER_TAG, number.to_string()),
            (TRIAL_STATE_TAG, req.state.clone()),
        ];
        let row = |trial_id: i64, run_id: String| TrialRow {
            trial_id,
            study_id,
            number,
            state: req.state.clone(),
            params: req.params.clone(),
            values: None,
            intermediate: "[]".into(),
            attrs: req.attrs.clone(),
            budgeted: true,
            worker: req.worker.clone(),
            start_time: start,
            end_time: None,
            heartbeat,
            run_id,
            seq,
        };
        if self.db.dialect == Dialect::Sqlite {
            // The run, its tags and params, and the trial in one round trip.
            let mut b = Batch::default();
            b.push(
                "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri) \
                 VALUES (?, ?, ?, ?, ?, ?, NULL, 'active', ?)",
                vec![
                    Arg::Text(run_id.clone()),
                    Arg::Text(run_name.clone()),
                    Arg::Int(experiment_id),
                    Arg::Text(req.worker.clone().unwrap_or_else(|| "kiln".into())),
                    Arg::Text(run_status(&req.state).into()),
                    Arg::Int(now),
                    Arg::Text(artifact_uri),
                ],
            );
            let mut tag_args = Vec::with_capacity(tags.len() * 3);
            for (k, v) in &tags {
                tag_args.extend([Arg::Text(run_id.clone()), Arg::Text((*k).into()), Arg::Text(v.clone())]);
            }
            b.push(
                &format!(
                    "INSERT INTO tags (run_uuid, key, value) VALUES {}",
                    tuples(self.db.dialect, tags.len(), 3)
                ),
                tag_args,
            );
            b.push_run_params(&run_id, &req.run_params);
            b.push(
                "INSERT INTO study_trials (study_id, number, state, params, intermediate, attrs, budgeted, worker, start_time, heartbeat, run_uuid, run_pk, seq) \
                 VALUES (?, ?, ?, ?, '[]', ?, 1, ?, ?, ?, ?, (SELECT run_pk FROM runs WHERE run_uuid = ?), ?) RETURNING trial_id",
                vec![
                    Arg::Int(study_id),
                    Arg::Int(number),
                    Arg::Text(req.state.clone()),
                    Arg::Text(req.params.clone()),
                    Arg::Text(req.attrs.clone()),
                    Arg::OptText(req.worker.clone()),
                    Arg::OptInt(start),
                    Arg::OptInt(heartbeat),
                    Arg::Text(run_id.clone()),
                    Arg::Text(run_id.clone()),
                    Arg::Int(seq),
                ],
            );
            let rows = b.query().fetch_all(&mut **tx).await?;
            let trial_id: i64 = match rows.as_slice() {
                [r] => r.try_get("trial_id")?,
                _ => return Err(StoreError::internal("inserting a trial returned no trial id")),
            };
            return Ok(row(trial_id, run_id));
        }
        let run_pk: i64 = sqlx::query_scalar(
            "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, 'active', $7) RETURNING run_pk",
        )
        .bind(&run_id)
        .bind(&run_name)
        .bind(experiment_id)
        .bind(req.worker.clone().unwrap_or_else(|| "kiln".into()))
        .bind(run_status(&req.state))
        .bind(now)
        .bind(&artifact_uri)
        .fetch_one(&mut **tx)
        .await?;
        let sql = format!(
            "INSERT INTO tags (run_uuid, key, value) VALUES {}",
            tuples(self.db.dialect, tags.len(), 3)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (k, v) in &tags {
            q = q.bind(run_id.clone()).bind(*k).bind(v.clone());
        }
        q.execute(&mut **tx).await?;
        self.insert_run_params(tx, &run_id, &req.run_params).await?;
        let trial_id: i64 = sqlx::query_scalar(
            "INSERT INTO study_trials (study_id, number, state, params, intermediate, attrs, budgeted, worker, start_time, heartbeat, run_uuid, run_pk, seq) \
             VALUES ($1, $2, $3, $4, '[]', $5, 1, $6, $7, $8, $9, $10, $11) RETURNING trial_id",
        )
        .bind(study_id)
        .bind(number)
        .bind(&req.state)
        .bind(&req.params)
        .bind(&req.attrs)
        .bind(req.worker.clone())
        .bind(start)
        .bind(heartbeat)
        .bind(&run_id)
        .bind(run_pk)
        .bind(seq)
        .fetch_one(&mut **tx)
        .await?;
        Ok(row(trial_id, run_id))
    }

    async fn insert_run_params(&self, tx: &mut Tx<'_>, run_id: &str, params: &[(String, String)]) -> Result<()> {
        for chunk in params.chunks(300) {
            if chunk.is_empty() {
                continue;
            }
            let sql = format!(
                "INSERT INTO params (run_uuid, key, value) VALUES {} ON CONFLICT (run_uuid, key) DO NOTHING",
                tuples(self.db.dialect, chunk.len(), 3)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (k, v) in chunk {
                q = q
                    .bind(run_id.to_string())
                    .bind(crate::validation::truncate(k, 250))
                    .bind(crate::validation::truncate(v, crate::validation::MAX_PARAM_VAL_LENGTH));
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Adds a trial with the next number; `None` when the budget is spent.
    pub async fn create_study_trial(&self, study_id: i64, req: NewTrial) -> Result<Option<TrialRow>> {
        check_state(&req.state)?;
        if !matches!(req.state.as_str(), "RUNNING" | "WAITING") {
            return Err(StoreError::invalid("a new trial is RUNNING or WAITING"));
        }
        let _w = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        let locked = self.lock_study(&mut tx, study_id, true).await?;
        if req.budget.is_some_and(|b| locked.budget_used >= b) {
            tx.rollback().await?;
            return Ok(None);
        }
        let row = self.insert_trial(&mut tx, study_id, &locked, &req).await?;
        tx.commit().await?;
        Ok(Some(row))
    }

    /// Claims the oldest WAITING trial for `worker` (RUNNING, heartbeat now).
    pub async fn claim_waiting_trial(&self, study_id: i64, worker: &str) -> Result<Option<TrialRow>> {
        // A cheap look first: most asks find nothing waiting.
        let any: Option<i64> =
            sqlx::query_scalar("SELECT trial_id FROM study_trials WHERE study_id = $1 AND state = 'WAITING' LIMIT 1")
                .bind(study_id)
                .fetch_optional(&self.db.pool)
                .await?;
        if any.is_none() {
            return Ok(None);
        }
        let _w = self.db.writer().await;
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {TRIAL_COLS} FROM study_trials WHERE study_id = $1 AND state = 'WAITING' ORDER BY number LIMIT 1{}",
            self.for_update(true)
        );
        let Some(row) = sqlx::query(AssertSqlSafe(sql))
            .bind(study_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let mut t = trial_from_row(&row)?;
        let seq = self.lock_study(&mut tx, study_id, false).await?.seq;
        let now = now_ms();
        sqlx::query(
            "UPDATE study_trials SET state = 'RUNNING', worker = $1, start_time = $2, heartbeat = $2, seq = $3 WHERE trial_id = $4",
        )
        .bind(worker)
        .bind(now)
        .bind(seq)
        .bind(t.trial_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE runs SET status = 'RUNNING', start_time = $1 WHERE run_uuid = $2")
            .bind(now)
            .bind(&t.run_id)
            .execute(&mut *tx)
            .await?;
        self.set_state_tag(&mut tx, &t.run_id, "RUNNING").await?;
        tx.commit().await?;
        t.state = "RUNNING".into();
        t.worker = Some(worker.to_string());
        t.start_time = Some(now);
        t.heartbeat = Some(now);
        t.seq = seq;
        Ok(Some(t))
    }

    async fn set_state_tag(&self, tx: &mut Tx<'_>, run_id: &str, state: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO tags (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
        )
        .bind(run_id)
        .bind(TRIAL_STATE_TAG)
        .bind(state)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Writes a RUNNING trial (a save, or its final state). INVALID_STATE when
    /// the trial is no longer RUNNING, RESOURCE_DOES_NOT_EXIST when unknown.
    pub async fn update_study_trial(&self, study_id: i64, w: TrialWrite) -> Result<i64> {
        check_state(&w.state)?;
        if w.state == "WAITING" {
            return Err(StoreError::invalid("a running trial cannot go back to WAITING"));
        }
        let finish = w.state != "RUNNING";
        if self.db.dialect == Dialect::Sqlite && w.new_metrics.iter().all(|m| m.model_id.is_none()) {
            return self.update_trial_sqlite(study_id, w, finish).await;
        }
        let _g = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        let now = now_ms();
        let update =
            "UPDATE study_trials SET state = $1, params = $2, objective_values = $3, intermediate = $4, attrs = $5, \
             heartbeat = CASE WHEN heartbeat IS NULL THEN NULL ELSE $6 END, end_time = $7, seq = $8 \
             WHERE trial_id = $9 AND study_id = $10 AND state = 'RUNNING' RETURNING run_uuid, run_pk";
        let run_update = |seq: i64| {
            sqlx::query(update)
                .bind(w.state.clone())
                .bind(w.params.clone())
                .bind(w.values.clone())
                .bind(w.intermediate.clone())
                .bind(w.attrs.clone())
                .bind(now)
                .bind(finish.then_some(now))
                .bind(seq)
                .bind(w.trial_id)
                .bind(study_id)
        };
        let (seq, row) = if self.db.dialect == Dialect::Sqlite {
            // One writer: take the lock with the first statement, then a guarded update.
            let seq = self.lock_study(&mut tx, study_id, false).await?.seq;
            (seq, run_update(seq).fetch_optional(&mut *tx).await?)
        } else {
            // Lock order: the trial row, then the study row.
            let locked: Option<String> = sqlx::query_scalar(
                "SELECT state FROM study_trials WHERE trial_id = $1 AND study_id = $2 AND state = 'RUNNING' FOR UPDATE",
            )
            .bind(w.trial_id)
            .bind(study_id)
            .fetch_optional(&mut *tx)
            .await?;
            if locked.is_none() {
                (0, None)
            } else {
                let seq = self.lock_study(&mut tx, study_id, false).await?.seq;
                (seq, run_update(seq).fetch_optional(&mut *tx).await?)
            }
        };
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(self.not_running(study_id, w.trial_id).await);
        };
        let run_id: String = row.try_get("run_uuid")?;
        let run_pk: i64 = row.try_get("run_pk")?;
        self.insert_run_params(&mut tx, &run_id, &w.new_run_params).await?;
        if !w.new_metrics.is_empty() {
            insert_metrics(&mut tx, self.db.dialect, &run_id, run_pk, &w.new_metrics).await?;
        }
        if finish {
            sqlx::query("UPDATE runs SET status = $1, end_time = $2 WHERE run_uuid = $3")
                .bind(run_status(&w.state))
                .bind(now)
                .bind(&run_id)
                .execute(&mut *tx)
                .await?;
            self.set_state_tag(&mut tx, &run_id, &w.state).await?;
        }
        tx.commit().await?;
        Ok(seq)
    }

    /// `update_study_trial` on SQLite: every statement in one round trip
    /// (the run's rows are found through the trial), rolled back when the
    /// trial turns out not to be RUNNING.
    async fn update_trial_sqlite(&self, study_id: i64, w: TrialWrite, finish: bool) -> Result<i64> {
        let _g = self.db.writer().await;
        let mut tx = self.db.pool.begin().await?;
        let now = now_ms();
        let mut b = Batch::default();
        // The study row first: the write lock at once, and the next seq.
        b.push(
            "UPDATE studies SET seq = seq + 1 WHERE study_id = ?",
            vec![Arg::Int(study_id)],
        );
        b.push(
            "UPDATE study_trials SET state = ?, params = ?, objective_values = ?, intermediate = ?, attrs = ?, \
             heartbeat = CASE WHEN heartbeat IS NULL THEN NULL ELSE ? END, end_time = ?, \
             seq = (SELECT seq FROM studies WHERE study_id = ?) \
             WHERE trial_id = ? AND study_id = ? AND state = 'RUNNING' RETURNING seq",
            vec![
                Arg::Text(w.state.clone()),
                Arg::Text(w.params.clone()),
                Arg::OptText(w.values.clone()),
                Arg::Text(w.intermediate.clone()),
                Arg::Text(w.attrs.clone()),
                Arg::Int(now),
                Arg::OptInt(finish.then_some(now)),
                Arg::Int(study_id),
                Arg::Int(w.trial_id),
                Arg::Int(study_id),
            ],
        );
        b.push_trial_run_params(w.trial_id, &w.new_run_params);
        b.push_trial_metrics(w.trial_id, &w.new_metrics);
        if finish {
            b.push(
                "UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = (SELECT run_uuid FROM study_trials WHERE trial_id = ?)",
                vec![Arg::Text(run_status(&w.state).into()), Arg::Int(now), Arg::Int(w.trial_id)],
            );
            b.push(
                "INSERT INTO tags (run_uuid, key, value) SELECT run_uuid, ?, ? FROM study_trials WHERE trial_id = ? \
                 ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
                vec![
                    Arg::Text(TRIAL_STATE_TAG.into()),
                    Arg::Text(w.state.clone()),
                    Arg::Int(w.trial_id),
                ],
            );
        }
        let rows = match b.query().fetch_all(&mut *tx).await {
            Ok(rows) => rows,
            Err(e) => {
                tx.rollback().await?;
                return Err(e.into());
            }
        };
        // No row back: the trial is unknown or no longer RUNNING, and every
        // statement of the batch (which found the run through the trial id alone) is undone.
        let [row] = rows.as_slice() else {
            tx.rollback().await?;
            return Err(self.not_running(study_id, w.trial_id).await);
        };
        let seq: i64 = row.try_get("seq")?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Why a trial could not be written: unknown, or no longer RUNNING.
    async fn not_running(&self, study_id: i64, trial_id: i64) -> StoreError {
        let row = sqlx::query("SELECT state, number FROM study_trials WHERE trial_id = $1 AND study_id = $2")
            .bind(trial_id)
            .bind(study_id)
            .fetch_optional(&self.db.pool)
            .await;
        match row {
            Ok(Some(r)) => {
                let state: String = r.try_get("state").unwrap_or_default();
                let number: i64 = r.try_get("number").unwrap_or_default();
                StoreError::new(
                    ErrorCode::InvalidState,
                    format!("trial {number} is {state}, not RUNNING: it cannot be changed any more"),
                )
            }
            Ok(None) => StoreError::not_found(format!("trial id {trial_id} not found in this study")),
            Err(e) => e.into(),
        }
    }

    /// Refreshes the heartbeat of these RUNNING trials.
    pub async fn heartbeat_study_trials(&self, study_id: i64, trial_ids: &[i64]) -> Result<()> {
        if trial_ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE study_trials SET heartbeat = $1 WHERE study_id = $2 AND state = 'RUNNING' AND heartbeat IS NOT NULL \
             AND trial_id IN ({})",
            crate::tracking::placeholders(3, trial_ids.len())
        );
        let _w = self.db.writer().await;
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now_ms()).bind(study_id);
        for id in trial_ids {
            q = q.bind(*id);
        }
        q.execute(&self.db.pool).await?;
        Ok(())
    }

    /// Fails RUNNING trials whose heartbeat is older than `grace_ms` and
    /// enqueues a WAITING retry of each (same params); returns (failed number, retry number) pairs.
    pub async fn reap_stale_study_trials(&self, study_id: i64, grace_ms: i64) -> Result<Vec<(i64, i64)>> {
        let cutoff = now_ms() - grace_ms;
        let _w = self.db.writer().await;
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {TRIAL_COLS} FROM study_trials WHERE study_id = $1 AND state = 'RUNNING' AND heartbeat IS NOT NULL \
             AND heartbeat < $2 ORDER BY number{}",
            self.for_update(true)
        );
        let stale: Vec<TrialRow> = sqlx::query(AssertSqlSafe(sql))
            .bind(study_id)
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(trial_from_row)
            .collect::<Result<_>>()?;
        if stale.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let now = now_ms();
        for old in stale {
            let locked = self.lock_study(&mut tx, study_id, true).await?;
            let seq = locked.seq;
            let mut retry_attrs = serde_json::Map::new();
            retry_attrs.insert(RETRY_OF_ATTR.into(), serde_json::json!(old.number));
            let retry_params = params_for_run(&old.params);
            let retry = self
                .insert_trial(
                    &mut tx,
                    study_id,
                    &locked,
                    &NewTrial {
                        state: "WAITING".into(),
                        params: old.params.clone(),
                        attrs: serde_json::Value::Object(retry_attrs).to_string(),
                        worker: None,
                        budget: None,
                        heartbeat: true,
                        run_params: retry_params,
                    },
                )
                .await?;
            let mut attrs: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&old.attrs).unwrap_or_default();
            attrs.insert(RETRIED_AS_ATTR.into(), serde_json::json!(retry.number));
            attrs.insert(
                FAIL_REASON_ATTR.into(),
                serde_json::json!(format!(
                    "heartbeat lost: no heartbeat from worker {} for more than {} ms",
                    old.worker.as_deref().unwrap_or("?"),
                    grace_ms
                )),
            );
            sqlx::query(
                "UPDATE study_trials SET state = 'FAIL', end_time = $1, attrs = $2, budgeted = 0, seq = $3 WHERE trial_id = $4",
            )
            .bind(now)
            .bind(serde_json::Value::Object(attrs).to_string())
            .bind(seq)
            .bind(old.trial_id)
            .execute(&mut *tx)
            .await?;
            // The retry took a budget slot; the failed trial gives its own back.
            sqlx::query("UPDATE studies SET budget_used = budget_used - 1 WHERE study_id = $1")
                .bind(study_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE runs SET status = 'FAILED', end_time = $1 WHERE run_uuid = $2")
                .bind(now)
                .bind(&old.run_id)
                .execute(&mut *tx)
                .await?;
            self.set_state_tag(&mut tx, &old.run_id, "FAIL").await?;
            out.push((old.number, retry.number));
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Trials written after `seq` (by seq), for incremental readers.
    pub async fn study_trials_since(&self, study_id: i64, seq: i64) -> Result<Vec<TrialRow>> {
        let sql = format!("SELECT {TRIAL_COLS} FROM study_trials WHERE study_id = $1 AND seq > $2 ORDER BY seq");
        sqlx::query(AssertSqlSafe(sql))
            .bind(study_id)
            .bind(seq)
            .fetch_all(&self.db.pool)
            .await?
            .iter()
            .map(trial_from_row)
            .collect()
    }

    /// One trial by number.
    pub async fn study_trial(&self, study_id: i64, number: i64) -> Result<TrialRow> {
        let sql = format!("SELECT {TRIAL_COLS} FROM study_trials WHERE study_id = $1 AND number = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(study_id)
            .bind(number)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("trial {number} not found in this study")))?;
        trial_from_row(&row)
    }
}

/// MLflow params for a trial's params JSON (`{name: {"value": v, ...}}`).
pub fn params_for_run(params_json: &str) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(params_json).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(obj) = v.as_object() {
        for (k, p) in obj {
            let shown = match p.get("value") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => continue,
            };
            out.push((k.clone(), shown));
        }
    }
    out
}

/// One bound value of a [`Batch`].
enum Arg {
    Int(i64),
    OptInt(Option<i64>),
    Real(f64),
    Text(String),
    OptText(Option<String>),
}

/// Statements that SQLite runs as one query, in one round trip to the
/// connection's thread: SQLite steps through every statement of the text and
/// sqlx hands each its anonymous `?` binds in order. For SQLite only
/// (PostgreSQL prepares one statement per query).
#[derive(Default)]
struct Batch {
    sql: String,
    args: Vec<Arg>,
}

impl Batch {
    fn push(&mut self, sql: &str, args: Vec<Arg>) {
        self.sql.push_str(sql);
        self.sql.push_str(";\n");
        self.args.extend(args);
    }

    fn query(self) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(AssertSqlSafe(self.sql));
        for a in self.args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::OptInt(v) => q.bind(v),
                Arg::Real(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::OptText(v) => q.bind(v),
            };
        }
        q
    }

    /// MLflow params of the run `run_id` (existing keys kept).
    fn push_run_params(&mut self, run_id: &str, params: &[(String, String)]) {
        for chunk in params.chunks(300) {
            let mut args = Vec::with_capacity(chunk.len() * 3);
            for (k, v) in chunk {
                args.extend([
                    Arg::Text(run_id.to_string()),
                    Arg::Text(crate::validation::truncate(k, 250)),
                    Arg::Text(crate::validation::truncate(v, crate::validation::MAX_PARAM_VAL_LENGTH)),
                ]);
            }
            self.push(
                &format!(
                    "INSERT INTO params (run_uuid, key, value) VALUES {} ON CONFLICT (run_uuid, key) DO NOTHING",
                    tuples(Dialect::Sqlite, chunk.len(), 3)
                ),
                args,
            );
        }
    }

    /// MLflow params of trial `trial_id`'s run (existing keys kept).
    fn push_trial_run_params(&mut self, trial_id: i64, params: &[(String, String)]) {
        for chunk in params.chunks(300) {
            let mut args = Vec::with_capacity(chunk.len() * 2 + 1);
            for (k, v) in chunk {
                args.extend([
                    Arg::Text(crate::validation::truncate(k, 250)),
                    Arg::Text(crate::validation::truncate(v, crate::validation::MAX_PARAM_VAL_LENGTH)),
                ]);
            }
            args.push(Arg::Int(trial_id));
            // (The WHERE clause also keeps SQLite from reading ON CONFLICT as a join constraint.)
            self.push(
                &format!(
                    "INSERT INTO params (run_uuid, key, value) SELECT t.run_uuid, v.column1, v.column2 \
                     FROM study_trials t, (VALUES {}) v WHERE t.trial_id = ? ON CONFLICT (run_uuid, key) DO NOTHING",
                    tuples(Dialect::Sqlite, chunk.len(), 2)
                ),
                args,
            );
        }
    }

    /// Metric points of trial `trial_id`'s run: the history rows, and
    /// `latest_metrics` moved forward where a point is later by (step,
    /// timestamp, value), as `tracking::insert_metrics` does for runs.
    fn push_trial_metrics(&mut self, trial_id: i64, metrics: &[Metric]) {
        for chunk in metrics.chunks(1000) {
            let mut args = Vec::with_capacity(chunk.len() * 7 + 1);
            for m in chunk {
                let (value, is_nan) = crate::tracking::stored_value(m.value);
                args.extend([
                    Arg::Text(m.key.clone()),
                    Arg::Real(value),
                    Arg::Int(is_nan),
                    Arg::Int(m.timestamp),
                    Arg::Int(m.step),
                    Arg::OptText(m.dataset_name.clone()),
                    Arg::OptText(m.dataset_digest.clone()),
                ]);
            }
            args.push(Arg::Int(trial_id));
            self.push(
                &format!(
                    "INSERT INTO metrics (run_pk, key, value, is_nan, timestamp, step, dataset_name, dataset_digest) \
                     SELECT t.run_pk, v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 \
                     FROM study_trials t, (VALUES {}) v WHERE t.trial_id = ? ON CONFLICT DO NOTHING",
                    tuples(Dialect::Sqlite, chunk.len(), 7)
                ),
                args,
            );
        }
        // The latest point per key of these, then one upsert per key.
        let mut latest: std::collections::BTreeMap<&str, &Metric> = std::collections::BTreeMap::new();
        for m in metrics {
            let later = latest.get(m.key.as_str()).is_none_or(|cur| {
                (m.step, m.timestamp)
                    .cmp(&(cur.step, cur.timestamp))
                    .then(m.value.partial_cmp(&cur.value).unwrap_or(std::cmp::Ordering::Equal))
                    .is_gt()
            });
            if later {
                latest.insert(&m.key, m);
            }
        }
        let latest: Vec<&Metric> = latest.into_values().collect();
        for chunk in latest.chunks(250) {
            let mut args = Vec::with_capacity(chunk.len() * 5 + 1);
            for m in chunk {
                let (value, is_nan) = crate::tracking::stored_value(m.value);
                args.extend([
                    Arg::Text(m.key.clone()),
                    Arg::Real(value),
                    Arg::Int(is_nan),
                    Arg::Int(m.timestamp),
                    Arg::Int(m.step),
                ]);
            }
            args.push(Arg::Int(trial_id));
            self.push(
                &format!(
                    "INSERT INTO latest_metrics (run_pk, key, value, is_nan, timestamp, step) \
                     SELECT t.run_pk, v.column1, v.column2, v.column3, v.column4, v.column5 \
                     FROM study_trials t, (VALUES {}) v WHERE t.trial_id = ? \
                     ON CONFLICT (run_pk, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, \
                     timestamp = excluded.timestamp, step = excluded.step \
                     WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step AND \
                     (excluded.timestamp > latest_metrics.timestamp OR (excluded.timestamp = latest_metrics.timestamp AND \
                     excluded.value >= latest_metrics.value)))",
                    tuples(Dialect::Sqlite, chunk.len(), 5)
                ),
                args,
            );
        }
    }
}
