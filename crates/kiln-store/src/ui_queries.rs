//! Read-only queries behind Kiln's web UI: experiment activity (run counts, last
//! activity), the distinct param / metric / tag keys of experiments (filter
//! completion, column choice), a compact runs table (MLflow's filter and
//! `order_by` grammar, chosen columns only), per-metric summaries (latest, min,
//! max) and downsampled metric histories.
//!
//! Everything here reads; nothing writes. As everywhere in the store, every
//! user value reaches SQL as a bind.

use std::collections::HashMap;

use futures::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::error::{Result, StoreError};
use crate::filter::{self, Entity};
use crate::model::{Metric, ViewType};
use crate::tracking::{metric_value, parse_experiment_id, placeholders};
use crate::{bind_all, Store};

/// Most runs one runs-table request returns.
pub const RUN_TABLE_MAX: i64 = 50_000;
/// Most keys of each kind [`Store::run_keys`] returns.
pub const RUN_KEYS_MAX: i64 = 10_000;
/// Most points a downsampled history may ask for.
pub const SAMPLED_MAX_POINTS: usize = 20_000;
/// Most runs (or metric keys) one downsampling request may name.
pub const SAMPLED_MAX_SERIES: usize = 200;
/// MLflow's limits for `metrics/get-history-bulk-interval`.
pub const BULK_INTERVAL_MAX_RUNS: usize = 100;
pub const BULK_INTERVAL_MAX_RESULTS: i64 = 2500;

const PARENT_TAG: &str = "mlflow.parentRunId";
/// Above this many runs a page's column values are fetched for the whole
/// experiment at once instead of with an `IN (...)` list of run ids.
const IN_LIST_MAX: usize = 500;

/// Run count and last activity of one experiment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExperimentActivity {
    /// Active (not deleted) runs.
    pub run_count: i64,
    /// Active runs whose status is RUNNING.
    pub running: i64,
    /// The latest run start or end time, epoch ms (`None` without runs).
    pub last_run_time: Option<i64>,
}

/// The distinct keys logged in some experiments' active runs, sorted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunKeys {
    pub params: Vec<String>,
    pub metrics: Vec<String>,
    pub tags: Vec<String>,
}

/// The kind of a runs-table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    Param,
    Metric,
    Tag,
}

/// One chosen runs-table column: `params.<key>`, `metrics.<key>` or `tags.<key>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    pub kind: ColumnKind,
    pub key: String,
}

impl Column {
    /// `metrics.<key>`, `params.<key>` or `tags.<key>`.
    pub fn name(&self) -> String {
        let prefix = match self.kind {
            ColumnKind::Param => "params",
            ColumnKind::Metric => "metrics",
            ColumnKind::Tag => "tags",
        };
        format!("{prefix}.{}", self.key)
    }

    /// Parses `params.lr`, `metrics.loss`, `tags.team` (singular prefixes too).
    pub fn parse(s: &str) -> Result<Column> {
        let (prefix, key) = s.split_once('.').ok_or_else(|| bad_column(s))?;
        let kind = match prefix {
            "param" | "params" => ColumnKind::Param,
            "metric" | "metrics" => ColumnKind::Metric,
            "tag" | "tags" => ColumnKind::Tag,
            _ => return Err(bad_column(s)),
        };
        if key.is_empty() {
            return Err(bad_column(s));
        }
        Ok(Column {
            kind,
            key: key.to_string(),
        })
    }
}

fn bad_column(s: &str) -> StoreError {
    StoreError::invalid(format!(
        "Invalid column '{s}': expected 'params.<key>', 'metrics.<key>' or 'tags.<key>'"
    ))
}

/// What [`Store::run_table`] takes.
#[derive(Debug, Clone, Default)]
pub struct RunTableQuery {
    pub experiment_ids: Vec<String>,
    /// MLflow's search filter grammar.
    pub filter: String,
    /// MLflow's `order_by` clauses.
    pub order_by: Vec<String>,
    pub view_type: ViewType,
    pub columns: Vec<Column>,
    /// With no `columns`: pick up to this many metric and this many param columns
    /// from the keys of the page's own runs (the first keys alphabetically), so a
    /// first page needs no separate key listing. The choice is in [`RunTable::columns`].
    pub default_columns: Option<usize>,
    /// Only these runs (live refresh of running rows); `None` for all.
    pub run_ids: Option<Vec<String>>,
    pub offset: i64,
    /// 0 asks only for the total.
    pub limit: i64,
}

/// A runs-table cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Missing,
    Text(String),
    Number(f64),
}

/// One runs-table row.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub run_id: String,
    pub run_name: String,
    pub status: String,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub user_id: String,
    pub lifecycle_stage: String,
    pub parent_run_id: Option<String>,
    /// One cell per requested column, in order.
    pub cells: Vec<Cell>,
}

/// A page of the runs table.
#[derive(Debug, Clone, PartialEq)]
pub struct RunTable {
    /// Runs matching the filter (all pages).
    pub total: i64,
    /// The latest start time among them (a cheap change marker for live updates).
    pub max_start_time: Option<i64>,
    /// The columns the cells are for: the requested ones, or the default choice.
    pub columns: Vec<Column>,
    pub rows: Vec<RunRow>,
}

/// Latest, min and max of one metric of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSummary {
    pub key: String,
    pub latest: f64,
    pub latest_step: i64,
    pub latest_timestamp: i64,
    /// Over non-NaN values; `None` when every value is NaN.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Points in the history.
    pub count: i64,
}

/// The x axis a history is downsampled along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryAxis {
    Step,
    Timestamp,
}

impl HistoryAxis {
    /// `step`, or `time` / `timestamp` / `wall` / `relative` (all bucket by timestamp).
    pub fn parse(s: &str) -> Result<HistoryAxis> {
        match s {
            "" | "step" => Ok(HistoryAxis::Step),
            "time" | "timestamp" | "wall" | "relative" => Ok(HistoryAxis::Timestamp),
            other => Err(StoreError::invalid(format!(
                "Invalid value '{other}' for parameter 'x_axis': expected 'step' or 'time'"
            ))),
        }
    }

    fn column(self) -> &'static str {
        match self {
            HistoryAxis::Step => "step",
            HistoryAxis::Timestamp => "timestamp",
        }
    }
}

/// One point of a history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub step: i64,
    pub timestamp: i64,
    pub value: f64,
}

impl Point {
    fn x(&self, axis: HistoryAxis) -> i64 {
        match axis {
            HistoryAxis::Step => self.step,
            HistoryAxis::Timestamp => self.timestamp,
        }
    }

    fn order_key(&self, axis: HistoryAxis) -> (i64, i64) {
        match axis {
            HistoryAxis::Step => (self.step, self.timestamp),
            HistoryAxis::Timestamp => (self.timestamp, self.step),
        }
    }
}

/// A history reduced to at most about `max_points` points: per x bucket the
/// first, last, lowest and highest point are kept (so spikes survive), in x order.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledHistory {
    pub run_id: String,
    pub key: String,
    /// Points in the (range-restricted) history before downsampling.
    pub total: i64,
    /// Whether points were dropped.
    pub sampled: bool,
    pub points: Vec<Point>,
}

/// Per-bucket extremes while streaming a history.
#[derive(Clone, Copy, Default)]
struct Bucket {
    first: Option<Point>,
    last: Option<Point>,
    low: Option<Point>,
    high: Option<Point>,
}

impl Bucket {
    fn add(&mut self, p: Point, axis: HistoryAxis) {
        let k = p.order_key(axis);
        if self.first.is_none_or(|f| k < f.order_key(axis)) {
            self.first = Some(p);
        }
        if self.last.is_none_or(|l| k > l.order_key(axis)) {
            self.last = Some(p);
        }
        if !p.value.is_nan() {
            if self.low.is_none_or(|l| p.value < l.value) {
                self.low = Some(p);
            }
            if self.high.is_none_or(|h| p.value > h.value) {
                self.high = Some(p);
            }
        }
    }

    fn points(&self, axis: HistoryAxis) -> Vec<Point> {
        let mut v: Vec<Point> = [self.first, self.low, self.high, self.last]
            .into_iter()
            .flatten()
            .collect();
        v.sort_by_key(|a| a.order_key(axis));
        v.dedup_by(|a, b| a.order_key(axis) == b.order_key(axis) && same_value(a.value, b.value));
        v
    }
}

fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Which bucket of `buckets` equal-width buckets over `[lo, hi]` holds `x`.
fn bucket_of(x: i64, lo: i64, hi: i64, buckets: usize) -> usize {
    if hi <= lo {
        return 0;
    }
    let span = (hi - lo) as f64;
    let b = (((x - lo) as f64) / span * buckets as f64) as usize;
    b.min(buckets - 1)
}

/// At most `max` evenly spaced indices into `total` items, first and last included
/// (MLflow's `_evenly_spaced_indices`).
pub fn evenly_spaced_indices(total: usize, max: usize) -> Vec<usize> {
    if total == 0 || max == 0 {
        return Vec::new();
    }
    if total <= max {
        return (0..total).collect();
    }
    if max == 1 {
        return vec![total - 1];
    }
    let step = (total - 1) as f64 / (max - 1) as f64;
    let mut out: Vec<usize> = (0..max).map(|i| (i as f64 * step).round() as usize).collect();
    out.dedup();
    out
}

fn point_from_row(row: &AnyRow) -> Result<Point> {
    Ok(Point {
        step: row.try_get("step")?,
        timestamp: row.try_get("timestamp")?,
        value: metric_value(row)?,
    })
}

fn parse_experiment_ids(ids: &[String]) -> Result<Vec<i64>> {
    ids.iter().map(|id| parse_experiment_id(id)).collect()
}

impl Store {
    /// Run counts and last run activity for each of `experiment_ids` (absent ones have no runs).
    pub async fn experiment_activity(&self, experiment_ids: &[String]) -> Result<HashMap<String, ExperimentActivity>> {
        let ids = parse_experiment_ids(experiment_ids)?;
        let mut out = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT experiment_id, COUNT(*) AS n, \
             SUM(CASE WHEN status = 'RUNNING' THEN 1 ELSE 0 END) AS running, \
             MAX(start_time) AS last_start, MAX(end_time) AS last_end \
             FROM runs WHERE lifecycle_stage = 'active' AND experiment_id IN ({}) GROUP BY experiment_id",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in &ids {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&self.db.pool).await? {
            let id: i64 = row.try_get("experiment_id")?;
            let last_start: Option<i64> = row.try_get("last_start")?;
            let last_end: Option<i64> = row.try_get("last_end")?;
            out.insert(
                id.to_string(),
                ExperimentActivity {
                    run_count: row.try_get("n")?,
                    running: row.try_get::<Option<i64>, _>("running")?.unwrap_or(0),
                    last_run_time: last_start.max(last_end),
                },
            );
        }
        Ok(out)
    }

    /// The distinct param, metric and tag keys of the active runs of `experiment_ids`.
    pub async fn run_keys(&self, experiment_ids: &[String]) -> Result<RunKeys> {
        let ids = parse_experiment_ids(experiment_ids)?;
        if ids.is_empty() {
            return Ok(RunKeys::default());
        }
        let ph = placeholders(1, ids.len());
        let n = ids.len() + 1;
        let sqls = [
            format!(
                "SELECT DISTINCT p.key AS key FROM params p JOIN runs ON runs.run_uuid = p.run_uuid \
                 WHERE runs.experiment_id IN ({ph}) AND runs.lifecycle_stage = 'active' ORDER BY key LIMIT ${n}"
            ),
            format!(
                "SELECT DISTINCT l.key AS key FROM latest_metrics l JOIN runs ON runs.run_pk = l.run_pk \
                 WHERE runs.experiment_id IN ({ph}) AND runs.lifecycle_stage = 'active' ORDER BY key LIMIT ${n}"
            ),
            format!(
                "SELECT DISTINCT t.key AS key FROM tags t JOIN runs ON runs.run_uuid = t.run_uuid \
                 WHERE runs.experiment_id IN ({ph}) AND runs.lifecycle_stage = 'active' ORDER BY key LIMIT ${n}"
            ),
        ];
        // The three lists are read concurrently (separate pool connections).
        let fetch = |sql: String| {
            let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
            for id in &ids {
                q = q.bind(*id);
            }
            q.bind(RUN_KEYS_MAX).fetch_all(&self.db.pool)
        };
        let [p, m, t] = sqls;
        let (params, metrics, tags) = futures::future::try_join3(fetch(p), fetch(m), fetch(t)).await?;
        Ok(RunKeys { params, metrics, tags })
    }

    /// A page of the runs table: runs of `experiment_ids` matching MLflow's `filter`,
    /// ordered by `order_by`, with the chosen columns only.
    pub async fn run_table(&self, req: &RunTableQuery) -> Result<RunTable> {
        if !(0..=RUN_TABLE_MAX).contains(&req.limit) {
            return Err(StoreError::invalid(format!(
                "Invalid value {} for parameter 'limit' supplied: it must be between 0 and {RUN_TABLE_MAX}",
                req.limit
            )));
        }
        if req.offset < 0 {
            return Err(StoreError::invalid(format!(
                "Invalid value {} for parameter 'offset' supplied: it must not be negative",
                req.offset
            )));
        }
        let exp_ids = parse_experiment_ids(&req.experiment_ids)?;
        if exp_ids.is_empty() {
            return Err(StoreError::invalid(
                "Missing value for required parameter 'experiment_ids'",
            ));
        }
        let run_ids = req.run_ids.as_deref().unwrap_or(&[]);
        if run_ids.len() > IN_LIST_MAX {
            return Err(StoreError::invalid(format!(
                "Too many run_ids: {} given, at most {IN_LIST_MAX}",
                run_ids.len()
            )));
        }
        if req.columns.len() > 500 {
            return Err(StoreError::invalid(format!(
                "Too many columns: {} given, at most 500",
                req.columns.len()
            )));
        }
        let dialect = self.db.dialect;
        // Parsed once for the count (no joins) and once with the ordering for the page.
        let comparisons = filter::parse_filter(Entity::Runs, &req.filter)?;
        let exp_ph = placeholders(1, exp_ids.len());
        let view = req.view_type.sql("runs.lifecycle_stage");

        // Total and change marker.
        let (where_sql, where_binds) = filter::build_where_sql(Entity::Runs, dialect, &comparisons, exp_ids.len() + 1);
        let next = exp_ids.len() + 1 + where_binds.len();
        let ids_clause = |first: usize| {
            if req.run_ids.is_some() {
                if run_ids.is_empty() {
                    " AND 1=0".to_string()
                } else {
                    format!(" AND runs.run_uuid IN ({})", placeholders(first, run_ids.len()))
                }
            } else {
                String::new()
            }
        };
        let count_sql = format!(
            "SELECT COUNT(*) AS n, MAX(runs.start_time) AS max_start FROM runs \
             WHERE runs.experiment_id IN ({exp_ph}) AND {view} AND ({where_sql}){}",
            ids_clause(next)
        );
        let mut q = sqlx::query(AssertSqlSafe(count_sql));
        for id in &exp_ids {
            q = q.bind(*id);
        }
        q = bind_all(q, &where_binds);
        for id in run_ids {
            q = q.bind(id.clone());
        }
        let row = q.fetch_one(&self.db.pool).await?;
        let total: i64 = row.try_get("n")?;
        let max_start_time: Option<i64> = row.try_get("max_start")?;
        if req.limit == 0 || total == 0 {
            return Ok(RunTable {
                total,
                max_start_time,
                columns: req.columns.clone(),
                rows: Vec::new(),
            });
        }

        // The page, ordered.
        let parts = filter::build_search_sql(Entity::Runs, dialect, &req.filter, &req.order_by, exp_ids.len() + 1)?;
        let next = exp_ids.len() + 1 + parts.binds.len();
        let ids_sql = ids_clause(next);
        let n = next + run_ids.len();
        let page_sql = format!(
            "SELECT runs.run_pk, runs.run_uuid, runs.name, runs.status, runs.start_time, runs.end_time, runs.user_id, \
             runs.lifecycle_stage, \
             (SELECT pt.value FROM tags pt WHERE pt.run_uuid = runs.run_uuid AND pt.key = '{PARENT_TAG}') AS parent_run_id \
             FROM runs {} WHERE runs.experiment_id IN ({exp_ph}) AND {view} AND ({}){ids_sql} \
             ORDER BY {} LIMIT ${n} OFFSET ${}",
            parts.joins,
            parts.where_sql,
            parts.order_sql,
            n + 1
        );
        let mut q = sqlx::query(AssertSqlSafe(page_sql));
        for id in &exp_ids {
            q = q.bind(*id);
        }
        q = bind_all(q, &parts.binds);
        for id in run_ids {
            q = q.bind(id.clone());
        }
        let page = q.bind(req.limit).bind(req.offset).fetch_all(&self.db.pool).await?;

        let mut rows = Vec::with_capacity(page.len());
        let mut by_uuid: HashMap<String, usize> = HashMap::with_capacity(page.len());
        let mut by_pk: HashMap<i64, usize> = HashMap::with_capacity(page.len());
        let mut pks: Vec<i64> = Vec::with_capacity(page.len());
        for (i, r) in page.iter().enumerate() {
            let run_id: String = r.try_get("run_uuid")?;
            by_uuid.insert(run_id.clone(), i);
            let pk: i64 = r.try_get("run_pk")?;
            by_pk.insert(pk, i);
            pks.push(pk);
            rows.push(RunRow {
                run_id,
                run_name: r.try_get("name")?,
                status: r.try_get("status")?,
                start_time: r.try_get("start_time")?,
                end_time: r.try_get("end_time")?,
                user_id: r.try_get("user_id")?,
                lifecycle_stage: r.try_get("lifecycle_stage")?,
                parent_run_id: r
                    .try_get::<Option<String>, _>("parent_run_id")?
                    .filter(|p| !p.is_empty()),
                cells: Vec::new(),
            });
        }
        let columns = match req.default_columns {
            Some(n) if req.columns.is_empty() => {
                // Chosen from the first runs of the page (a bounded IN list).
                let k = rows.len().min(IN_LIST_MAX);
                let ids: Vec<String> = rows[..k].iter().map(|r| r.run_id.clone()).collect();
                self.page_default_columns(&ids, &pks[..k], n).await?
            }
            _ => req.columns.clone(),
        };
        for r in &mut rows {
            r.cells = vec![Cell::Missing; columns.len()];
        }
        self.fill_cells(&mut rows, &by_uuid, &by_pk, &exp_ids, &columns).await?;
        Ok(RunTable {
            total,
            max_start_time,
            columns,
            rows,
        })
    }

    /// The first `n` metric keys and the first `n` param keys (alphabetically) of a
    /// page of runs: the default columns of a runs table.
    async fn page_default_columns(&self, ids: &[String], pks: &[i64], n: usize) -> Result<Vec<Column>> {
        if n == 0 || ids.is_empty() {
            return Ok(Vec::new());
        }
        let limit = n.min(100) as i64;
        let metrics_sql = format!(
            "SELECT DISTINCT key FROM latest_metrics WHERE run_pk IN ({}) ORDER BY key LIMIT ${}",
            placeholders(1, pks.len()),
            pks.len() + 1
        );
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(metrics_sql));
        for pk in pks {
            q = q.bind(*pk);
        }
        let metrics = q.bind(limit).fetch_all(&self.db.pool).await?;
        let params_sql = format!(
            "SELECT DISTINCT key FROM params WHERE run_uuid IN ({}) ORDER BY key LIMIT ${}",
            placeholders(1, ids.len()),
            ids.len() + 1
        );
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(params_sql));
        for id in ids {
            q = q.bind(id.clone());
        }
        let params = q.bind(limit).fetch_all(&self.db.pool).await?;
        Ok(metrics
            .into_iter()
            .map(|key| Column {
                kind: ColumnKind::Metric,
                key,
            })
            .chain(params.into_iter().map(|key| Column {
                kind: ColumnKind::Param,
                key,
            }))
            .collect())
    }

    /// Fills the chosen columns of a page of rows, one query per column kind.
    async fn fill_cells(
        &self,
        rows: &mut [RunRow],
        by_uuid: &HashMap<String, usize>,
        by_pk: &HashMap<i64, usize>,
        exp_ids: &[i64],
        columns: &[Column],
    ) -> Result<()> {
        for kind in [ColumnKind::Param, ColumnKind::Metric, ColumnKind::Tag] {
            let mut col_index: HashMap<&str, Vec<usize>> = HashMap::new();
            for (i, c) in columns.iter().enumerate().filter(|(_, c)| c.kind == kind) {
                col_index.entry(c.key.as_str()).or_default().push(i);
            }
            if col_index.is_empty() {
                continue;
            }
            let keys: Vec<&str> = col_index.keys().copied().collect();
            let (table, value_cols, id_col, run_col) = match kind {
                ColumnKind::Param => ("params", "x.value", "x.run_uuid", "run_uuid"),
                ColumnKind::Tag => ("tags", "x.value", "x.run_uuid", "run_uuid"),
                ColumnKind::Metric => ("latest_metrics", "x.value, x.is_nan", "x.run_pk", "run_pk"),
            };
            // A small page names its runs; a large one reads the experiments' rows and keeps the page's.
            let small = rows.len() <= IN_LIST_MAX;
            let key_ph = placeholders(1, keys.len());
            let sql = if small {
                format!(
                    "SELECT {id_col} AS id, x.key AS key, {value_cols} FROM {table} x \
                     WHERE x.key IN ({key_ph}) AND {id_col} IN ({})",
                    placeholders(keys.len() + 1, rows.len())
                )
            } else {
                format!(
                    "SELECT {id_col} AS id, x.key AS key, {value_cols} FROM {table} x \
                     JOIN runs ON runs.{run_col} = {id_col} \
                     WHERE x.key IN ({key_ph}) AND runs.experiment_id IN ({})",
                    placeholders(keys.len() + 1, exp_ids.len())
                )
            };
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for k in &keys {
                q = q.bind(k.to_string());
            }
            if small {
                match kind {
                    ColumnKind::Metric => {
                        for pk in by_pk.keys() {
                            q = q.bind(*pk);
                        }
                    }
                    _ => {
                        for id in by_uuid.keys() {
                            q = q.bind(id.clone());
                        }
                    }
                }
            } else {
                for id in exp_ids {
                    q = q.bind(*id);
                }
            }
            let mut stream = q.fetch(&self.db.pool);
            while let Some(r) = stream.try_next().await? {
                let row_i = match kind {
                    ColumnKind::Metric => by_pk.get(&r.try_get::<i64, _>("id")?).copied(),
                    _ => by_uuid.get(&r.try_get::<String, _>("id")?).copied(),
                };
                let Some(row_i) = row_i else { continue };
                let key: String = r.try_get("key")?;
                let Some(cols) = col_index.get(key.as_str()) else {
                    continue;
                };
                let cell = match kind {
                    ColumnKind::Metric => Cell::Number(metric_value(&r)?),
                    _ => Cell::Text(r.try_get("value")?),
                };
                for &c in cols {
                    rows[row_i].cells[c] = cell.clone();
                }
            }
        }
        Ok(())
    }

    /// Latest, min, max and count of every metric of a run, by key.
    pub async fn metric_summaries(&self, run_id: &str) -> Result<Vec<MetricSummary>> {
        let run_pk = self.run_pk(run_id).await?;
        let mut out = Vec::new();
        let latest = sqlx::query(
            "SELECT key, value, is_nan, timestamp, step FROM latest_metrics WHERE run_pk = $1 ORDER BY key",
        )
        .bind(run_pk)
        .fetch_all(&self.db.pool)
        .await?;
        let mut index = HashMap::new();
        for row in &latest {
            let key: String = row.try_get("key")?;
            index.insert(key.clone(), out.len());
            out.push(MetricSummary {
                key,
                latest: metric_value(row)?,
                latest_step: row.try_get("step")?,
                latest_timestamp: row.try_get("timestamp")?,
                min: None,
                max: None,
                count: 0,
            });
        }
        let stats = sqlx::query(
            "SELECT key, COUNT(*) AS n, MIN(CASE WHEN is_nan = 0 THEN value END) AS lo, \
             MAX(CASE WHEN is_nan = 0 THEN value END) AS hi FROM metrics WHERE run_pk = $1 GROUP BY key",
        )
        .bind(run_pk)
        .fetch_all(&self.db.pool)
        .await?;
        for row in &stats {
            let key: String = row.try_get("key")?;
            if let Some(&i) = index.get(&key) {
                out[i].count = row.try_get("n")?;
                out[i].min = row.try_get("lo")?;
                out[i].max = row.try_get("hi")?;
            }
        }
        Ok(out)
    }

    async fn run_pk(&self, run_id: &str) -> Result<i64> {
        sqlx::query_scalar("SELECT run_pk FROM runs WHERE run_uuid = $1")
            .bind(run_id)
            .fetch_optional(&self.db.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("Run with id={run_id} not found")))
    }

    /// A metric history downsampled on the server to about `max_points` points along
    /// `axis`, optionally restricted to `range` (inclusive, in axis units).
    pub async fn sampled_history(
        &self,
        run_id: &str,
        key: &str,
        axis: HistoryAxis,
        range: Option<(i64, i64)>,
        max_points: usize,
    ) -> Result<SampledHistory> {
        if !(4..=SAMPLED_MAX_POINTS).contains(&max_points) {
            return Err(StoreError::invalid(format!(
                "Invalid value {max_points} for parameter 'max_points' supplied: it must be between 4 and {SAMPLED_MAX_POINTS}"
            )));
        }
        if let Some((lo, hi)) = range {
            if lo > hi {
                return Err(StoreError::invalid(format!(
                    "Invalid range: start {lo} is greater than end {hi}"
                )));
            }
        }
        let run_pk = self.run_pk(run_id).await?;
        let col = axis.column();
        let range_sql = if range.is_some() {
            format!(" AND {col} >= $3 AND {col} <= $4")
        } else {
            String::new()
        };
        let bind_range = |q: sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>| match range {
            Some((lo, hi)) => q.bind(lo).bind(hi),
            None => q,
        };
        let stats_sql = format!(
            "SELECT COUNT(*) AS n, MIN({col}) AS lo, MAX({col}) AS hi FROM metrics WHERE run_pk = $1 AND key = $2{range_sql}"
        );
        let row = bind_range(sqlx::query(AssertSqlSafe(stats_sql)).bind(run_pk).bind(key.to_string()))
            .fetch_one(&self.db.pool)
            .await?;
        let total: i64 = row.try_get("n")?;
        let (lo, hi): (Option<i64>, Option<i64>) = (row.try_get("lo")?, row.try_get("hi")?);
        let rows_sql =
            format!("SELECT step, timestamp, value, is_nan FROM metrics WHERE run_pk = $1 AND key = $2{range_sql}");
        let query = bind_range(sqlx::query(AssertSqlSafe(rows_sql)).bind(run_pk).bind(key.to_string()));
        let mut points = Vec::new();
        let sampled = total as usize > max_points;
        if !sampled {
            let mut stream = query.fetch(&self.db.pool);
            while let Some(r) = stream.try_next().await? {
                points.push(point_from_row(&r)?);
            }
            points.sort_by(|a, b| {
                a.order_key(axis)
                    .cmp(&b.order_key(axis))
                    .then(a.value.partial_cmp(&b.value).unwrap_or(std::cmp::Ordering::Equal))
            });
        } else {
            let (lo, hi) = (lo.unwrap_or(0), hi.unwrap_or(0));
            let n_buckets = (max_points / 4).max(1);
            let mut buckets = vec![Bucket::default(); n_buckets];
            let mut stream = query.fetch(&self.db.pool);
            while let Some(r) = stream.try_next().await? {
                let p = point_from_row(&r)?;
                buckets[bucket_of(p.x(axis), lo, hi, n_buckets)].add(p, axis);
            }
            for b in &buckets {
                points.extend(b.points(axis));
            }
        }
        Ok(SampledHistory {
            run_id: run_id.to_string(),
            key: key.to_string(),
            total,
            sampled,
            points,
        })
    }

    /// MLflow's `metrics/get-history-bulk-interval`: for each run, at most `max_results`
    /// points evenly spaced over its history ordered by (step, timestamp, value), first and
    /// last included, optionally restricted to steps `[start_step, end_step]`.
    pub async fn history_bulk_interval(
        &self,
        run_ids: &[String],
        key: &str,
        max_results: i64,
        steps: Option<(i64, i64)>,
    ) -> Result<Vec<Metric>> {
        if run_ids.is_empty() {
            return Err(StoreError::invalid("Missing value for required parameter 'run_ids'"));
        }
        if run_ids.len() > BULK_INTERVAL_MAX_RUNS {
            return Err(StoreError::invalid(format!(
                "GetMetricHistoryBulkInterval request must specify at most {BULK_INTERVAL_MAX_RUNS} run_ids. Received {} run_ids.",
                run_ids.len()
            )));
        }
        if !(1..=BULK_INTERVAL_MAX_RESULTS).contains(&max_results) {
            return Err(StoreError::invalid(format!(
                "max_results must be between 1 and {BULK_INTERVAL_MAX_RESULTS}."
            )));
        }
        if let Some((s, e)) = steps {
            if s > e {
                return Err(StoreError::invalid(format!(
                    "end_step must be greater than start_step. Found start_step={s} and end_step={e}."
                )));
            }
        }
        let mut pks = Vec::with_capacity(run_ids.len());
        for id in run_ids {
            pks.push(self.run_pk(id).await?);
        }
        let range_sql = if steps.is_some() {
            " AND step >= $3 AND step <= $4"
        } else {
            ""
        };
        let mut out = Vec::new();
        for (id, pk) in run_ids.iter().zip(pks) {
            let sql = format!(
                "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_pk = $1 AND key = $2{range_sql} \
                 ORDER BY step, timestamp, value, is_nan"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(pk).bind(key.to_string());
            if let Some((s, e)) = steps {
                q = q.bind(s).bind(e);
            }
            let rows = q.fetch_all(&self.db.pool).await?;
            for i in evenly_spaced_indices(rows.len(), max_results as usize) {
                if let Some(r) = rows.get(i) {
                    let p = point_from_row(r)?;
                    let mut m = Metric::new(key, p.value, p.timestamp, p.step);
                    m.run_id = Some(id.clone());
                    out.push(m);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenly_spaced_keeps_ends() {
        assert_eq!(evenly_spaced_indices(5, 10), vec![0, 1, 2, 3, 4]);
        assert_eq!(evenly_spaced_indices(100, 3), vec![0, 50, 99]);
        assert_eq!(evenly_spaced_indices(100, 1), vec![99]);
        assert!(evenly_spaced_indices(0, 3).is_empty());
        let v = evenly_spaced_indices(100_000, 2500);
        assert_eq!((v.len(), v[0], *v.last().unwrap()), (2500, 0, 99_999));
    }

    #[test]
    fn buckets_cover_the_range() {
        assert_eq!(bucket_of(0, 0, 100, 10), 0);
        assert_eq!(bucket_of(100, 0, 100, 10), 9);
        assert_eq!(bucket_of(55, 0, 100, 10), 5);
        assert_eq!(bucket_of(7, 7, 7, 10), 0);
    }

    #[test]
    fn a_bucket_keeps_its_spike() {
        let mut b = Bucket::default();
        for (s, v) in [(1, 0.5), (2, 9.0), (3, 0.4), (4, -3.0), (5, 0.6)] {
            b.add(
                Point {
                    step: s,
                    timestamp: 100 + s,
                    value: v,
                },
                HistoryAxis::Step,
            );
        }
        let steps: Vec<i64> = b.points(HistoryAxis::Step).iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![1, 2, 4, 5]);
    }

    #[test]
    fn columns_parse() {
        assert_eq!(
            Column::parse("metrics.val loss").unwrap(),
            Column {
                kind: ColumnKind::Metric,
                key: "val loss".into()
            }
        );
        assert_eq!(Column::parse("param.a.b").unwrap().key, "a.b");
        assert!(Column::parse("attributes.x").is_err());
        assert!(Column::parse("params.").is_err());
        assert!(Column::parse("loss").is_err());
    }
}
