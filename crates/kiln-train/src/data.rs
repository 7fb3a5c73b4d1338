//! The data stage: read, enforce the contract, deduplicate, fingerprint,
//! profile, resolve the target and the task, and split -- every check that can
//! fail on the data happens here, before any run is created.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use kiln_data::arrow::array::{Array, ArrayRef, StringArray};
use kiln_data::arrow::compute::cast;
use kiln_data::arrow::datatypes::{DataType, TimeUnit};
use kiln_data::read::{self, CsvOptions, Format, ReadOptions};
use kiln_data::Table;
use kiln_learn::Task;

use crate::config::{Dedup, LoadedConfig, SplitScheme, TaskName};

/// The rows of each split (0-based indices into [`Prepared::table`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splits {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    pub test: Vec<usize>,
    /// k-fold CV over train + valid, when the config asks for folds: (fit rows, held-out rows).
    pub folds: Option<Vec<(Vec<usize>, Vec<usize>)>>,
}

/// The data ready for training.
pub struct Prepared {
    /// The rows (all of them; only the test rows after [`Prepared::keep_test_rows`]).
    pub table: Table,
    /// Rows after the contract and dedup.
    pub rows: usize,
    /// After [`Prepared::keep_test_rows`]: the positions (within the test
    /// split) of the test rows the table still holds, and where each came from.
    pub kept_test: Vec<usize>,
    pub test_locations: Vec<String>,
    pub target: String,
    pub task: Task,
    /// Class labels in index order (classification).
    pub classes: Vec<String>,
    /// Labels: class indices (classification) or values, one per row of `table`.
    pub y: Vec<f64>,
    pub weight: Option<Vec<f32>>,
    /// The raw columns the preprocessing sees.
    pub features: Vec<String>,
    pub splits: Splits,
    pub fingerprint: String,
    /// The column profile (JSON), for the dataset input and drift checks later.
    pub profile_json: String,
    pub rows_read: usize,
    pub duplicates_removed: usize,
    pub quarantined: usize,
    pub quarantine_path: Option<String>,
    pub files: Vec<String>,
    /// Seconds per stage: read, check, fingerprint, profile, split.
    pub timings: Vec<(String, f64)>,
}

/// Hands memory freed by a stage back to the operating system (glibc keeps
/// freed heap pages otherwise, so dropping the table would not lower the peak
/// of the stages after it).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Logs (at debug level) the resident and peak memory after a stage, from
/// /proc/self/status (Linux; nothing elsewhere). `KILN_LOG=debug` shows it.
pub fn log_memory(stage: &str) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    tracing::debug!(stage, rss_mib = field("VmRSS:"), peak_mib = field("VmHWM:"), "memory");
}

/// `int`, `float`, `string`, `bool`, `date`, `timestamp` as Arrow types.
pub fn parse_type_name(name: &str) -> Option<DataType> {
    Some(match name.to_ascii_lowercase().as_str() {
        "int" | "integer" | "int64" => DataType::Int64,
        "float" | "double" | "float64" | "number" => DataType::Float64,
        "string" | "str" | "utf8" | "text" => DataType::Utf8,
        "bool" | "boolean" => DataType::Boolean,
        "date" => DataType::Date32,
        "timestamp" | "datetime" => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ => return None,
    })
}

/// Reading options from `[data]`.
pub fn read_options(cfg: &LoadedConfig) -> Result<ReadOptions> {
    let d = &cfg.config.data;
    let mut opts = ReadOptions::default();
    if let Some(f) = &d.format {
        opts.format = Some(
            f.parse::<Format>()
                .map_err(|e| anyhow!("{}: [data] format: {e}", cfg.path))?,
        );
    }
    let mut csv = CsvOptions::default();
    if let Some(dl) = &d.csv.delimiter {
        csv.delimiter = dl.as_bytes()[0];
    }
    if let Some(q) = &d.csv.quote {
        csv.quote = q.as_bytes()[0];
    }
    if let Some(h) = d.csv.has_header {
        csv.has_header = h;
    }
    if let Some(n) = &d.csv.null_values {
        csv.null_tokens = n.clone();
    }
    opts.csv = csv;
    for (col, t) in &d.types {
        let dt = parse_type_name(t).ok_or_else(|| {
            anyhow!(
                "{}: [data.types] {col} = \"{t}\": expected int, float, string, bool, date or timestamp",
                cfg.path
            )
        })?;
        opts.types.insert(col.clone(), dt);
    }
    Ok(opts)
}

/// A path in the config, relative to the config file's folder.
pub fn resolve(cfg: &LoadedConfig, path: &str) -> String {
    if path.contains("://") || std::path::Path::new(path).is_absolute() {
        return path.to_string();
    }
    match std::path::Path::new(&cfg.path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(path).to_string_lossy().into_owned(),
        _ => path.to_string(),
    }
}

/// The target column as strings (classification) with nulls named by row.
fn target_strings(table: &Table, target: &str) -> Result<Vec<String>> {
    let col = table.column(target)?;
    let s: ArrayRef = cast(&col, &DataType::Utf8).map_err(|e| anyhow!("target '{target}': {e}"))?;
    let s = s
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| anyhow!("target '{target}': cannot read it as text"))?;
    let mut out = Vec::with_capacity(s.len());
    for i in 0..s.len() {
        if s.is_null(i) {
            bail!(
                "{}: the target is missing; every row needs a label (drop or fill such rows first)",
                table.location(i, Some(target))
            );
        }
        out.push(s.value(i).to_string());
    }
    Ok(out)
}

/// Resolves the task from the config and the target column.
fn resolve_task(name: TaskName, dt: &DataType, distinct: usize) -> Task {
    match name {
        TaskName::Binary => Task::Binary,
        TaskName::Multiclass => Task::Multiclass { n_classes: distinct },
        TaskName::Regression => Task::Regression,
        TaskName::Auto => {
            let categorical = matches!(
                dt,
                DataType::Utf8
                    | DataType::LargeUtf8
                    | DataType::Utf8View
                    | DataType::Boolean
                    | DataType::Dictionary(_, _)
            );
            let small_int = dt.is_integer() && distinct <= 20;
            if categorical || small_int {
                if distinct == 2 {
                    Task::Binary
                } else {
                    Task::Multiclass { n_classes: distinct }
                }
            } else {
                Task::Regression
            }
        }
    }
}

/// Labels for classification: sorted classes (numerically when they all are numbers).
fn encode_classes(values: &[String]) -> (Vec<String>, Vec<f64>) {
    let set: BTreeSet<&str> = values.iter().map(String::as_str).collect();
    let mut classes: Vec<String> = set.into_iter().map(str::to_string).collect();
    let numeric: Option<Vec<f64>> = classes.iter().map(|c| c.parse::<f64>().ok()).collect();
    if let Some(nums) = numeric {
        let mut pairs: Vec<(f64, String)> = nums.into_iter().zip(classes).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        classes = pairs.into_iter().map(|p| p.1).collect();
    }
    let index: BTreeMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let y = values.iter().map(|v| index[v.as_str()] as f64).collect();
    (classes, y)
}

/// Regression labels: finite numbers, every missing or non-finite one named by row.
fn regression_labels(table: &Table, target: &str) -> Result<Vec<f64>> {
    let col = table.column(target)?;
    if !col.data_type().is_numeric() {
        bail!(
            "target '{target}' is {} but a regression target must be numeric (set task = \"multiclass\" or \"binary\" for labels)",
            col.data_type()
        );
    }
    let y = kiln_data::to_matrix::column_f64(table, target)?;
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        let what = if col.is_null(i) {
            "missing".to_string()
        } else {
            format!("{}", y[i])
        };
        bail!(
            "{}: the target is {what}; regression labels must be finite numbers",
            table.location(i, Some(target))
        );
    }
    Ok(y)
}

fn weights(table: &Table, column: &str) -> Result<Vec<f32>> {
    let w = kiln_data::to_matrix::column_f64(table, column)?;
    if let Some(i) = w.iter().position(|v| !v.is_finite() || *v < 0.0) {
        bail!(
            "{}: weight {} must be a finite number >= 0",
            table.location(i, Some(column)),
            w[i]
        );
    }
    Ok(w.into_iter().map(|v| v as f32).collect())
}

/// Reads and checks the data of a config, and splits it.
pub fn prepare(cfg: &LoadedConfig) -> Result<Prepared> {
    let d = &cfg.config.data;
    let mut timings = Vec::new();
    let t = Instant::now();
    let source = resolve(cfg, &d.source);
    let opts = read_options(cfg)?;
    let files = read::list_files(&source, &opts).map_err(|e| anyhow!("{e}"))?;
    let mut table = read::read(&source, &opts).map_err(|e| anyhow!("{e}"))?;
    let rows_read = table.num_rows();
    timings.push(("read".to_string(), t.elapsed().as_secs_f64()));
    log_memory("read");

    let t = Instant::now();
    let (mut quarantined, mut quarantine_path) = (0, None);
    if let Some(c) = &d.contract {
        let path = resolve(cfg, c);
        let contract = kiln_data::contract::Contract::load(std::path::Path::new(&path)).map_err(|e| anyhow!("{e}"))?;
        let checked = contract
            .enforce(&table, &kiln_data::contract::CheckOptions::default())
            .map_err(|e| anyhow!("{e}"))?;
        quarantined = checked.quarantined.as_ref().map_or(0, Table::num_rows);
        quarantine_path = checked.quarantine_path.as_ref().map(|p| p.display().to_string());
        table = checked.table;
    }
    let mut duplicates_removed = 0;
    if let Some(dd) = &d.dedup {
        let key = match dd {
            Dedup::Rows(_) => kiln_data::dedup::DedupKey::WholeRow,
            Dedup::Key(cols) => kiln_data::dedup::DedupKey::Columns(cols.clone()),
        };
        let out = kiln_data::dedup::dedup(&table, &key).map_err(|e| anyhow!("{e}"))?;
        duplicates_removed = out.removed;
        table = out.table;
    }
    if table.num_rows() == 0 {
        bail!("{source}: no rows left to train on");
    }
    let target = d.target.clone();
    table
        .column_index(&target)
        .map_err(|e| anyhow!("{}: [data] target '{target}': {}", cfg.path, e.message))?;

    // Features: the configured list, else every column but the target and the roles.
    let mut roles: Vec<&str> = vec![target.as_str()];
    roles.extend(d.weight.as_deref());
    roles.extend(cfg.config.split.group.as_deref());
    let features: Vec<String> = match &d.features {
        Some(list) => {
            for f in list {
                table
                    .column_index(f)
                    .map_err(|e| anyhow!("{}: [data] features: {}", cfg.path, e.message))?;
                if f == &target {
                    bail!("{}: [data] features lists the target '{target}'", cfg.path);
                }
            }
            list.clone()
        }
        None => table
            .column_names()
            .into_iter()
            .filter(|c| !roles.contains(&c.as_str()) && !d.drop.contains(c))
            .collect(),
    };
    if features.is_empty() {
        bail!(
            "{}: no feature columns (every column is the target, dropped, or a role)",
            cfg.path
        );
    }

    let dt = table.schema().field(table.column_index(&target)?).data_type().clone();
    let (task, classes, y) = if d.task == TaskName::Regression || (d.task == TaskName::Auto && dt.is_floating()) {
        let y = regression_labels(&table, &target)?;
        let first = y[0];
        if y.iter().all(|v| *v == first) {
            bail!("target '{target}' is constant ({first} in every row): there is nothing to learn");
        }
        (Task::Regression, Vec::new(), y)
    } else {
        let values = target_strings(&table, &target)?;
        let (classes, y) = encode_classes(&values);
        if classes.len() < 2 {
            bail!(
                "target '{target}' is constant ('{}' in every row): a classifier needs at least two classes",
                classes.first().map(String::as_str).unwrap_or("")
            );
        }
        let task = resolve_task(d.task, &dt, classes.len());
        if task == Task::Regression {
            let y = regression_labels(&table, &target)?;
            (task, Vec::new(), y)
        } else {
            if task == Task::Binary && classes.len() != 2 {
                bail!(
                    "target '{target}' has {} classes ({}), but task = \"binary\" needs exactly 2: use task = \"multiclass\"",
                    classes.len(),
                    preview(&classes)
                );
            }
            (task, classes, y)
        }
    };
    let weight = match &d.weight {
        Some(w) => Some(weights(&table, w)?),
        None => None,
    };
    timings.push(("check".to_string(), t.elapsed().as_secs_f64()));
    let t = Instant::now();
    let fingerprint = kiln_data::fingerprint::fingerprint(&table)
        .map_err(|e| anyhow!("{e}"))?
        .to_hex();
    timings.push(("fingerprint".to_string(), t.elapsed().as_secs_f64()));
    let t = Instant::now();
    let profile = kiln_data::profile::profile(&table, &kiln_data::profile::ProfileOptions::default())
        .map_err(|e| anyhow!("{e}"))?;
    let profile_json = serde_json::to_string(&profile).context("serialising the profile")?;
    timings.push(("profile".to_string(), t.elapsed().as_secs_f64()));
    release_free_memory();
    log_memory("profile");

    let t = Instant::now();
    let splits = split(cfg, &table, task, &y, &classes)?;
    timings.push(("split".to_string(), t.elapsed().as_secs_f64()));
    Ok(Prepared {
        rows: table.num_rows(),
        kept_test: Vec::new(),
        test_locations: Vec::new(),
        table,
        target,
        task,
        classes,
        y,
        weight,
        features,
        splits,
        fingerprint,
        profile_json,
        rows_read,
        duplicates_removed,
        quarantined,
        quarantine_path,
        files,
        timings,
    })
}

/// At most this many test rows are kept for error analysis (a seeded sample
/// when the test split is larger), so the table's memory can be freed.
pub const ERROR_ANALYSIS_ROWS: usize = 50_000;

impl Prepared {
    /// Replaces the table by (up to [`ERROR_ANALYSIS_ROWS`] of) its test rows,
    /// remembering where each came from, so that the rest of the table is
    /// freed before training. Call once; later calls do nothing.
    pub fn keep_test_rows(&mut self, seed: u64) -> kiln_data::Result<()> {
        if !self.kept_test.is_empty() || self.table.num_rows() == 0 {
            return Ok(());
        }
        let n = self.splits.test.len();
        let mut kept: Vec<usize> = if n <= ERROR_ANALYSIS_ROWS {
            (0..n).collect()
        } else {
            kiln_data::rng::Rng::new(seed ^ 0x5eed_e77e).sample_indices(n, ERROR_ANALYSIS_ROWS)
        };
        kept.sort_unstable();
        let rows: Vec<usize> = kept.iter().map(|&i| self.splits.test[i]).collect();
        self.test_locations = self.table.locations_of(&rows);
        self.table = self.table.take(&rows)?;
        self.kept_test = kept;
        Ok(())
    }
}

fn preview(classes: &[String]) -> String {
    let mut s: Vec<String> = classes.iter().take(5).map(|c| format!("'{c}'")).collect();
    if classes.len() > 5 {
        s.push("...".into());
    }
    s.join(", ")
}

/// The train / valid / test rows (and folds) the config asks for.
fn split(cfg: &LoadedConfig, table: &Table, task: Task, y: &[f64], classes: &[String]) -> Result<Splits> {
    use kiln_data::split as sp;
    let s = &cfg.config.split;
    let seed = cfg.config.seed;
    let n = table.num_rows();
    let scheme = s.scheme.unwrap_or(if task.is_classification() {
        SplitScheme::Stratified
    } else {
        SplitScheme::Random
    });
    let fractions =
        sp::Fractions::with_valid_test(s.valid, s.test).map_err(|e| anyhow!("{}: [split] {e}", cfg.path))?;
    // Class names (not indices) so that an error names the class.
    let labels: Vec<&str> = y
        .iter()
        .map(|&v| classes.get(v as usize).map(String::as_str).unwrap_or(""))
        .collect();
    let group_keys = |col: &str| -> Result<Vec<String>> {
        let c = table.column(col).map_err(|e| anyhow!("[split] group: {}", e.message))?;
        let s = cast(&c, &DataType::Utf8).map_err(|e| anyhow!("[split] group '{col}': {e}"))?;
        let s = s
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| anyhow!("[split] group '{col}': cannot read it as text"))?;
        Ok((0..s.len())
            .map(|i| {
                if s.is_null(i) {
                    String::new()
                } else {
                    s.value(i).to_string()
                }
            })
            .collect())
    };
    let three = match scheme {
        SplitScheme::Random => sp::random(n, &fractions, seed),
        SplitScheme::Stratified => {
            if !task.is_classification() {
                bail!(
                    "{}: [split] scheme = \"stratified\" needs a classification target",
                    cfg.path
                );
            }
            sp::stratified(&labels, &fractions, seed)
        }
        SplitScheme::Group => {
            let col = s.group.as_deref().unwrap_or_default();
            sp::grouped(&group_keys(col)?, &fractions, seed)
        }
        SplitScheme::Time => {
            let col = s.time.as_deref().unwrap_or_default();
            let c = table.column(col).map_err(|e| anyhow!("[split] time: {}", e.message))?;
            sp::time_ordered(&time_values(&c, col)?, &fractions)
        }
    }
    .map_err(|e| anyhow!("{}: [split] {e}", cfg.path))?;
    let folds = match s.folds {
        None => None,
        Some(k) => {
            let pool: Vec<usize> = three.train.iter().chain(&three.valid).copied().collect();
            let folds = match scheme {
                SplitScheme::Stratified => {
                    let l: Vec<&str> = pool.iter().map(|&i| labels[i]).collect();
                    sp::stratified_kfold(&l, k, seed)
                }
                SplitScheme::Group => {
                    let g = group_keys(s.group.as_deref().unwrap_or_default())?;
                    let l: Vec<String> = pool.iter().map(|&i| g[i].clone()).collect();
                    sp::group_kfold(&l, k, seed)
                }
                SplitScheme::Time => {
                    let col = s.time.as_deref().unwrap_or_default();
                    let c = table.column(col).map_err(|e| anyhow!("[split] time: {}", e.message))?;
                    let v = time_values(&c, col)?;
                    let l: Vec<f64> = pool.iter().map(|&i| v[i]).collect();
                    sp::time_series_folds(&l, k)
                }
                SplitScheme::Random => sp::kfold(pool.len(), k, seed),
            }
            .map_err(|e| anyhow!("{}: [split] folds: {e}", cfg.path))?;
            // Fold indices are positions in `pool`: map them back to table rows.
            Some(
                folds
                    .into_iter()
                    .map(|f| {
                        (
                            f.train.iter().map(|&i| pool[i]).collect(),
                            f.valid.iter().map(|&i| pool[i]).collect(),
                        )
                    })
                    .collect(),
            )
        }
    };
    Ok(Splits {
        train: three.train,
        valid: three.valid,
        test: three.test,
        folds,
    })
}

/// A time column as orderable numbers (dates and timestamps by their epoch value).
fn time_values(c: &ArrayRef, col: &str) -> Result<Vec<f64>> {
    let as_int = match c.data_type() {
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => {
            cast(c, &DataType::Int64).map_err(|e| anyhow!("[split] time '{col}': {e}"))?
        }
        _ => c.clone(),
    };
    let ts = cast(&as_int, &DataType::Float64).map_err(|e| anyhow!("[split] time '{col}' is not orderable: {e}"))?;
    let ts = ts
        .as_any()
        .downcast_ref::<kiln_data::arrow::array::Float64Array>()
        .ok_or_else(|| anyhow!("[split] time '{col}': cannot order it"))?;
    (0..ts.len())
        .map(|i| {
            if ts.is_null(i) {
                Err(anyhow!(
                    "[split] time '{col}' is missing at row {}: every row needs a time to be ordered",
                    i + 1
                ))
            } else {
                Ok(ts.value(i))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_sort_numerically_when_numeric() {
        let v: Vec<String> = ["10", "2", "2", "1"].iter().map(|s| s.to_string()).collect();
        let (classes, y) = encode_classes(&v);
        assert_eq!(classes, vec!["1", "2", "10"]);
        assert_eq!(y, vec![2.0, 1.0, 1.0, 0.0]);
        let v: Vec<String> = ["no", "yes", "no"].iter().map(|s| s.to_string()).collect();
        assert_eq!(encode_classes(&v).0, vec!["no", "yes"]);
    }

    #[test]
    fn task_resolution() {
        assert_eq!(resolve_task(TaskName::Auto, &DataType::Utf8, 2), Task::Binary);
        assert_eq!(
            resolve_task(TaskName::Auto, &DataType::Int64, 3),
            Task::Multiclass { n_classes: 3 }
        );
        assert_eq!(resolve_task(TaskName::Auto, &DataType::Int64, 500), Task::Regression);
        assert_eq!(
            resolve_task(TaskName::Regression, &DataType::Int64, 2),
            Task::Regression
        );
        assert_eq!(parse_type_name("INT"), Some(DataType::Int64));
        assert_eq!(parse_type_name("blob"), None);
    }
}
