//! Gradient-boosted trees and random forests through LightGBM's C API
//! (`lightgbm3-sys`, LightGBM 4.7.0).
//!
//! The boosting loop is ours (one `LGBM_BoosterUpdateOneIter` per round) so
//! that every round's validation metrics reach the [`Callbacks`]: early
//! stopping, learning curves, pruning, cancellation. The training matrix is
//! handed to LightGBM as column-major `f32` without a copy.
//!
//! Reproducibility: `deterministic=true` and `force_col_wise=true` are set by
//! default, so the same data, parameters, seed and thread count give the same
//! trees bit for bit.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};

use kiln_data::Matrix;
use lightgbm3_sys as sys;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::callback::{Callbacks, Control, EarlyStopping, IterationReport};
use crate::learner::{LearnError, Learner, Model, Predictions, Result, SavedModel, Task, TrainSet};
use crate::params::Params;

/// LightGBM's hyperparameters as Kiln exposes them (names follow LightGBM's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LightGbmConfig {
    /// `gbdt`, `dart`, `goss` or `rf` (random forest).
    pub boosting: String,
    /// Boosting rounds (trees per class).
    pub rounds: usize,
    pub learning_rate: f64,
    pub num_leaves: i64,
    /// -1: no limit.
    pub max_depth: i64,
    pub min_data_in_leaf: i64,
    pub min_sum_hessian_in_leaf: f64,
    pub feature_fraction: f64,
    pub bagging_fraction: f64,
    pub bagging_freq: i64,
    pub lambda_l1: f64,
    pub lambda_l2: f64,
    pub min_gain_to_split: f64,
    pub max_bin: i64,
    /// Stop when the validation metric has not improved for this many rounds.
    pub early_stopping: Option<usize>,
    /// The validation metric watched for early stopping and reported first
    /// (`auc`, `logloss`, `error`, `rmse`, `mae`); default by task.
    pub metric: Option<String>,
    /// Also evaluate the training set every round (costs time on large data).
    pub eval_train: bool,
    /// 0: all cores.
    pub num_threads: i64,
    pub seed: i64,
    pub deterministic: bool,
    /// Regression objective: `regression` (L2), `regression_l1`, `huber`, `poisson`, ...
    pub objective: Option<String>,
}

impl LightGbmConfig {
    /// Gradient boosting defaults (LightGBM's, with 100 rounds).
    pub fn gbdt() -> LightGbmConfig {
        LightGbmConfig {
            boosting: "gbdt".into(),
            rounds: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: -1,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            feature_fraction: 1.0,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            lambda_l1: 0.0,
            lambda_l2: 0.0,
            min_gain_to_split: 0.0,
            max_bin: 255,
            early_stopping: None,
            metric: None,
            eval_train: false,
            num_threads: 0,
            seed: 0,
            deterministic: true,
            objective: None,
        }
    }

    /// Random-forest defaults: bagged, column-sampled, un-shrunk trees.
    pub fn random_forest() -> LightGbmConfig {
        LightGbmConfig {
            boosting: "rf".into(),
            rounds: 100,
            learning_rate: 1.0,
            feature_fraction: 0.8,
            bagging_fraction: 0.632,
            bagging_freq: 1,
            num_leaves: 63,
            ..LightGbmConfig::gbdt()
        }
    }
}

/// Metric names Kiln reports, from LightGBM's.
fn kiln_metric_name(lgb: &str) -> &str {
    match lgb {
        "binary_logloss" | "multi_logloss" => "logloss",
        "binary_error" | "multi_error" => "error",
        "l1" => "mae",
        "l2" => "mse",
        other => other,
    }
}

/// LightGBM metric names for a Kiln metric name and task.
fn lgb_metric_name(kiln: &str, task: Task) -> Option<&'static str> {
    let multi = matches!(task, Task::Multiclass { .. });
    Some(match (kiln, task) {
        ("auc", Task::Binary) => "auc",
        ("average_precision" | "auc_pr", Task::Binary) => "average_precision",
        ("logloss", Task::Binary) => "binary_logloss",
        ("error", Task::Binary) => "binary_error",
        ("logloss", _) if multi => "multi_logloss",
        ("error", _) if multi => "multi_error",
        ("auc_mu", _) if multi => "auc_mu",
        ("rmse", Task::Regression) => "rmse",
        ("mse", Task::Regression) => "l2",
        ("mae", Task::Regression) => "l1",
        ("mape", Task::Regression) => "mape",
        _ => return None,
    })
}

/// Whether a higher value of a (Kiln-named) per-round metric is better.
fn higher_is_better(metric: &str) -> bool {
    matches!(metric, "auc" | "average_precision" | "auc_mu")
}

/// The learner for `kind = "lightgbm"` or `kind = "random_forest"`.
#[derive(Debug, Clone)]
pub struct LightGbmLearner {
    kind: String,
    config: LightGbmConfig,
}

impl LightGbmLearner {
    pub fn new(config: LightGbmConfig) -> LightGbmLearner {
        let kind = if config.boosting == "rf" {
            "random_forest"
        } else {
            "lightgbm"
        };
        LightGbmLearner {
            kind: kind.into(),
            config,
        }
    }

    pub fn config(&self) -> &LightGbmConfig {
        &self.config
    }

    /// From a config table (`kind = "lightgbm"` or `"random_forest"`); unknown
    /// hyperparameters and wrong types are errors naming the key.
    pub fn from_params(kind: &str, values: &BTreeMap<String, Value>) -> Result<LightGbmLearner> {
        let d = match kind {
            "lightgbm" => LightGbmConfig::gbdt(),
            "random_forest" => LightGbmConfig::random_forest(),
            other => return Err(LearnError::new(format!("'{other}' is not a LightGBM model kind"))),
        };
        let mut p = Params::new(kind, values);
        let boosting = if kind == "random_forest" {
            p.choice("boosting", "rf", &["rf"])?
        } else {
            p.choice("boosting", &d.boosting, &["gbdt", "dart", "goss"])?
        };
        let config = LightGbmConfig {
            boosting,
            rounds: p.i64_in("rounds", d.rounds as i64, 1, 1_000_000)? as usize,
            learning_rate: p.f64_in("learning_rate", d.learning_rate, 1e-6, 10.0)?,
            num_leaves: p.i64_in("num_leaves", d.num_leaves, 2, 131_072)?,
            max_depth: p.i64_in("max_depth", d.max_depth, -1, 1024)?,
            min_data_in_leaf: p.i64_in("min_data_in_leaf", d.min_data_in_leaf, 0, i32::MAX as i64)?,
            min_sum_hessian_in_leaf: p.f64_in("min_sum_hessian_in_leaf", d.min_sum_hessian_in_leaf, 0.0, f64::MAX)?,
            feature_fraction: p.f64_in("feature_fraction", d.feature_fraction, 1e-6, 1.0)?,
            bagging_fraction: p.f64_in("bagging_fraction", d.bagging_fraction, 1e-6, 1.0)?,
            bagging_freq: p.i64_in("bagging_freq", d.bagging_freq, 0, i32::MAX as i64)?,
            lambda_l1: p.f64_in("lambda_l1", d.lambda_l1, 0.0, f64::MAX)?,
            lambda_l2: p.f64_in("lambda_l2", d.lambda_l2, 0.0, f64::MAX)?,
            min_gain_to_split: p.f64_in("min_gain_to_split", d.min_gain_to_split, 0.0, f64::MAX)?,
            max_bin: p.i64_in("max_bin", d.max_bin, 2, 65_535)?,
            early_stopping: p.opt_i64("early_stopping", 1)?.map(|v| v as usize),
            metric: match p.choice(
                "metric",
                "",
                &[
                    "",
                    "auc",
                    "average_precision",
                    "logloss",
                    "error",
                    "auc_mu",
                    "rmse",
                    "mse",
                    "mae",
                    "mape",
                ],
            )? {
                s if s.is_empty() => None,
                s => Some(s),
            },
            eval_train: p.bool("eval_train", d.eval_train)?,
            num_threads: p.i64_in("num_threads", d.num_threads, 0, 4096)?,
            seed: p.i64_in("seed", d.seed, 0, i32::MAX as i64)?,
            deterministic: p.bool("deterministic", d.deterministic)?,
            objective: match p.choice(
                "objective",
                "",
                &[
                    "",
                    "regression",
                    "regression_l1",
                    "huber",
                    "fair",
                    "poisson",
                    "quantile",
                    "mape",
                    "gamma",
                    "tweedie",
                ],
            )? {
                s if s.is_empty() => None,
                s => Some(s),
            },
        };
        p.finish()?;
        if config.boosting == "rf" && (config.bagging_freq == 0 || config.bagging_fraction >= 1.0) {
            return Err(LearnError::new(
                "model 'random_forest': needs bagging_freq >= 1 and bagging_fraction < 1 (each tree sees a bootstrap-like sample)",
            ));
        }
        Ok(LightGbmLearner::new(config))
    }

    /// The per-round metrics (Kiln names) for a task: the watched one first.
    fn metrics_for(&self, task: Task) -> Result<Vec<String>> {
        let defaults: &[&str] = match task {
            Task::Binary => &["auc", "logloss"],
            Task::Multiclass { .. } => &["logloss", "error"],
            Task::Regression => &["rmse", "mae"],
        };
        let mut out: Vec<String> = Vec::new();
        if let Some(m) = &self.config.metric {
            if lgb_metric_name(m, task).is_none() {
                return Err(LearnError::new(format!(
                    "model '{}': metric '{m}' is not available for a {} task",
                    self.kind,
                    task.name()
                )));
            }
            out.push(m.clone());
        }
        for d in defaults {
            if !out.iter().any(|m| m == d) {
                out.push(d.to_string());
            }
        }
        Ok(out)
    }

    fn booster_params(&self, task: Task, metrics: &[String]) -> Vec<(String, String)> {
        let c = &self.config;
        let mut p: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: String| p.push((k.to_string(), v));
        match task {
            Task::Binary => set("objective", "binary".into()),
            Task::Multiclass { n_classes } => {
                set("objective", "multiclass".into());
                set("num_class", n_classes.to_string());
            }
            Task::Regression => set("objective", c.objective.clone().unwrap_or_else(|| "regression".into())),
        }
        let lgb_metrics: Vec<&str> = metrics.iter().filter_map(|m| lgb_metric_name(m, task)).collect();
        set("metric", lgb_metrics.join(","));
        set("boosting", c.boosting.clone());
        set("learning_rate", c.learning_rate.to_string());
        set("num_leaves", c.num_leaves.to_string());
        set("max_depth", c.max_depth.to_string());
        set("min_data_in_leaf", c.min_data_in_leaf.to_string());
        set("min_sum_hessian_in_leaf", c.min_sum_hessian_in_leaf.to_string());
        set("feature_fraction", c.feature_fraction.to_string());
        set("bagging_fraction", c.bagging_fraction.to_string());
        set("bagging_freq", c.bagging_freq.to_string());
        set("lambda_l1", c.lambda_l1.to_string());
        set("lambda_l2", c.lambda_l2.to_string());
        set("min_gain_to_split", c.min_gain_to_split.to_string());
        set("max_bin", c.max_bin.to_string());
        set("seed", c.seed.to_string());
        set("deterministic", c.deterministic.to_string());
        if c.deterministic {
            set("force_col_wise", "true".into());
        }
        if c.num_threads > 0 {
            set("num_threads", c.num_threads.to_string());
        }
        set("verbosity", "-1".into());
        p
    }
}

fn param_string(p: &[(String, String)]) -> Result<CString> {
    let s = p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    CString::new(s).map_err(|_| LearnError::new("LightGBM parameters contain a NUL byte"))
}

/// Turns a LightGBM return code into an error with LightGBM's message.
fn check(ret: c_int, what: &str) -> Result<()> {
    if ret == 0 {
        return Ok(());
    }
    // SAFETY: LGBM_GetLastError returns a pointer to a thread-local, NUL-terminated buffer.
    let msg = unsafe { CStr::from_ptr(sys::LGBM_GetLastError()) }
        .to_string_lossy()
        .into_owned();
    Err(LearnError::new(format!("LightGBM {what}: {msg}")))
}

/// An owned LightGBM dataset handle.
struct DatasetHandle(sys::DatasetHandle);

impl Drop for DatasetHandle {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_DatasetCreateFromMat and is freed once.
        unsafe {
            sys::LGBM_DatasetFree(self.0);
        }
    }
}

/// An owned LightGBM booster handle.
struct BoosterHandle(sys::BoosterHandle);

// SAFETY: LightGBM's Booster guards its state with an internal shared mutex:
// predictions take a shared lock, training (only inside `fit`, which owns the
// handle exclusively) an exclusive one.
unsafe impl Send for BoosterHandle {}
unsafe impl Sync for BoosterHandle {}

impl Drop for BoosterHandle {
    fn drop(&mut self) {
        // SAFETY: the handle came from LGBM_BoosterCreate / LoadModelFromString and is freed once.
        unsafe {
            sys::LGBM_BoosterFree(self.0);
        }
    }
}

fn i32_len(n: usize, what: &str) -> Result<i32> {
    i32::try_from(n).map_err(|_| LearnError::new(format!("{what} ({n}) exceeds LightGBM's limit of {}", i32::MAX)))
}

/// Checks labels fit the task: class indices `0..k`, or finite values.
fn check_labels(task: Task, y: &[f64]) -> Result<()> {
    for (i, &v) in y.iter().enumerate() {
        let ok = match task {
            Task::Regression => v.is_finite(),
            _ => v.is_finite() && v >= 0.0 && v.fract() == 0.0 && (v as usize) < task.n_classes(),
        };
        if !ok {
            return Err(LearnError::new(match task {
                Task::Regression => format!(
                    "label at row {} is {v}: regression labels must be finite numbers",
                    i + 1
                ),
                _ => format!(
                    "label at row {} is {v}: a {} task needs class indices 0..{}",
                    i + 1,
                    task.name(),
                    task.n_classes() - 1
                ),
            }));
        }
    }
    Ok(())
}

fn dataset(
    set: &TrainSet<'_>,
    task: Task,
    params: &CString,
    reference: Option<&DatasetHandle>,
) -> Result<DatasetHandle> {
    let x = set.x;
    if x.n_rows() == 0 {
        return Err(LearnError::new("no rows to train on"));
    }
    if x.n_cols() == 0 {
        return Err(LearnError::new("no features to train on"));
    }
    if set.y.len() != x.n_rows() {
        return Err(LearnError::new(format!(
            "{} labels for {} rows",
            set.y.len(),
            x.n_rows()
        )));
    }
    check_labels(task, set.y)?;
    let nrow = i32_len(x.n_rows(), "row count")?;
    let ncol = i32_len(x.n_cols(), "feature count")?;
    let mut handle: sys::DatasetHandle = std::ptr::null_mut();
    // SAFETY: the data pointer covers nrow*ncol f32 values in column-major
    // order (Matrix's invariant); LightGBM copies what it needs (binned) before returning.
    check(
        unsafe {
            sys::LGBM_DatasetCreateFromMat(
                x.as_col_major().as_ptr() as *const c_void,
                sys::C_API_DTYPE_FLOAT32 as c_int,
                nrow,
                ncol,
                0,
                params.as_ptr(),
                reference.map_or(std::ptr::null_mut(), |r| r.0),
                &mut handle,
            )
        },
        "creating the dataset",
    )?;
    let ds = DatasetHandle(handle);
    let labels: Vec<f32> = set.y.iter().map(|&v| v as f32).collect();
    set_field(&ds, "label", &labels)?;
    if let Some(w) = set.weight {
        if w.len() != x.n_rows() {
            return Err(LearnError::new(format!("{} weights for {} rows", w.len(), x.n_rows())));
        }
        if let Some(i) = w.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(LearnError::new(format!(
                "weight at row {} is {}: weights must be finite and >= 0",
                i + 1,
                w[i]
            )));
        }
        set_field(&ds, "weight", w)?;
    }
    let names: Vec<CString> = x
        .names()
        .iter()
        .map(|n| {
            CString::new(lgb_feature_name(n)).map_err(|_| LearnError::new(format!("feature name '{n}' has a NUL byte")))
        })
        .collect::<Result<_>>()?;
    let mut ptrs: Vec<*const c_char> = names.iter().map(|c| c.as_ptr()).collect();
    // SAFETY: `ptrs` holds ncol valid C strings that outlive the call (LightGBM copies them).
    check(
        unsafe { sys::LGBM_DatasetSetFeatureNames(ds.0, ptrs.as_mut_ptr(), ncol) },
        "setting feature names",
    )?;
    Ok(ds)
}

/// LightGBM refuses some characters in feature names (JSON specials, spaces
/// inside model files); the Matrix keeps the real names, LightGBM gets a safe form.
fn lgb_feature_name(n: &str) -> String {
    n.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn set_field(ds: &DatasetHandle, field: &str, values: &[f32]) -> Result<()> {
    let name = CString::new(field).map_err(|_| LearnError::new("field name"))?;
    let n = i32_len(values.len(), "field length")?;
    // SAFETY: `values` holds n f32 values; LightGBM copies them.
    check(
        unsafe {
            sys::LGBM_DatasetSetField(
                ds.0,
                name.as_ptr(),
                values.as_ptr() as *const c_void,
                n,
                sys::C_API_DTYPE_FLOAT32 as c_int,
            )
        },
        "setting labels",
    )
}

fn eval_names(b: &BoosterHandle) -> Result<Vec<String>> {
    let mut count: c_int = 0;
    // SAFETY: plain out-parameter.
    check(
        unsafe { sys::LGBM_BoosterGetEvalCounts(b.0, &mut count) },
        "counting metrics",
    )?;
    let n = count.max(0) as usize;
    if n == 0 {
        return Ok(Vec::new());
    }
    const LEN: usize = 128;
    let mut bufs: Vec<Vec<u8>> = vec![vec![0u8; LEN]; n];
    let mut ptrs: Vec<*mut c_char> = bufs.iter_mut().map(|b| b.as_mut_ptr() as *mut c_char).collect();
    let mut out_len: c_int = 0;
    let mut needed: usize = 0;
    // SAFETY: n buffers of LEN bytes each; LightGBM writes at most LEN bytes (NUL-terminated) into each.
    check(
        unsafe { sys::LGBM_BoosterGetEvalNames(b.0, count, &mut out_len, LEN, &mut needed, ptrs.as_mut_ptr()) },
        "reading metric names",
    )?;
    Ok(bufs
        .iter()
        .map(|b| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        })
        .collect())
}

fn eval_at(b: &BoosterHandle, data_idx: c_int, n: usize) -> Result<Vec<f64>> {
    let mut out = vec![0.0f64; n];
    let mut len: c_int = 0;
    // SAFETY: `out` has room for every metric (n = LGBM_BoosterGetEvalCounts).
    check(
        unsafe { sys::LGBM_BoosterGetEval(b.0, data_idx, &mut len, out.as_mut_ptr()) },
        "evaluating",
    )?;
    out.truncate(len.max(0) as usize);
    Ok(out)
}

fn model_to_string(b: &BoosterHandle, num_iteration: c_int) -> Result<String> {
    let mut len: i64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    // Twice at most: the first call reports the size it needs when the buffer is short.
    for _ in 0..2 {
        // SAFETY: buf has buf.len() bytes; LightGBM writes at most that many and reports the needed length.
        check(
            unsafe {
                sys::LGBM_BoosterSaveModelToString(
                    b.0,
                    0,
                    num_iteration,
                    sys::C_API_FEATURE_IMPORTANCE_GAIN as c_int,
                    buf.len() as i64,
                    &mut len,
                    buf.as_mut_ptr() as *mut c_char,
                )
            },
            "saving the model",
        )?;
        if len as usize <= buf.len() {
            break;
        }
        buf = vec![0u8; len as usize];
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec()).map_err(|_| LearnError::new("LightGBM wrote a model that is not UTF-8"))
}

fn current_iteration(b: &BoosterHandle) -> Result<usize> {
    let mut it: c_int = 0;
    // SAFETY: plain out-parameter.
    check(
        unsafe { sys::LGBM_BoosterGetCurrentIteration(b.0, &mut it) },
        "reading the iteration",
    )?;
    Ok(it.max(0) as usize)
}

impl Learner for LightGbmLearner {
    fn kind(&self) -> &str {
        &self.kind
    }

    fn params(&self) -> BTreeMap<String, String> {
        let c = &self.config;
        let mut m = BTreeMap::new();
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "default".into());
        for (k, v) in [
            ("boosting", c.boosting.clone()),
            ("rounds", c.rounds.to_string()),
            ("learning_rate", c.learning_rate.to_string()),
            ("num_leaves", c.num_leaves.to_string()),
            ("max_depth", c.max_depth.to_string()),
            ("min_data_in_leaf", c.min_data_in_leaf.to_string()),
            ("min_sum_hessian_in_leaf", c.min_sum_hessian_in_leaf.to_string()),
            ("feature_fraction", c.feature_fraction.to_string()),
            ("bagging_fraction", c.bagging_fraction.to_string()),
            ("bagging_freq", c.bagging_freq.to_string()),
            ("lambda_l1", c.lambda_l1.to_string()),
            ("lambda_l2", c.lambda_l2.to_string()),
            ("min_gain_to_split", c.min_gain_to_split.to_string()),
            ("max_bin", c.max_bin.to_string()),
            (
                "early_stopping",
                c.early_stopping.map_or_else(|| "off".to_string(), |v| v.to_string()),
            ),
            ("metric", opt(&c.metric)),
            ("eval_train", c.eval_train.to_string()),
            ("num_threads", c.num_threads.to_string()),
            ("seed", c.seed.to_string()),
            ("deterministic", c.deterministic.to_string()),
            ("objective", opt(&c.objective)),
        ] {
            m.insert(k.to_string(), v);
        }
        m
    }

    fn fit(
        &self,
        task: Task,
        train: &TrainSet<'_>,
        valid: Option<&TrainSet<'_>>,
        callbacks: &mut Callbacks,
    ) -> Result<Box<dyn Model>> {
        if let Task::Multiclass { n_classes } = task {
            if n_classes < 2 {
                return Err(LearnError::new("a multiclass task needs at least 2 classes"));
            }
        }
        if let Some(v) = valid {
            if v.x.names() != train.x.names() {
                return Err(LearnError::new(
                    "the validation set's features differ from the training set's",
                ));
            }
        }
        let metrics = self.metrics_for(task)?;
        let params = self.booster_params(task, &metrics);
        let mut ds_params: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| {
                matches!(
                    k.as_str(),
                    "max_bin" | "seed" | "num_threads" | "verbosity" | "deterministic"
                )
            })
            .cloned()
            .collect();
        ds_params.push(("min_data_in_bin".into(), "3".into()));
        let ds_params = param_string(&ds_params)?;
        let train_ds = dataset(train, task, &ds_params, None)?;
        let valid_ds = match valid {
            Some(v) if v.x.n_rows() > 0 => Some(dataset(v, task, &ds_params, Some(&train_ds))?),
            _ => None,
        };
        if self.config.early_stopping.is_some() && valid_ds.is_none() {
            return Err(LearnError::new(format!(
                "model '{}': early_stopping needs a validation set (a valid split or folds)",
                self.kind
            )));
        }
        let mut booster_params = params.clone();
        if self.config.eval_train {
            booster_params.push(("is_provide_training_metric".into(), "true".into()));
        }
        let booster_params = param_string(&booster_params)?;
        let mut handle: sys::BoosterHandle = std::ptr::null_mut();
        // SAFETY: train_ds is a live dataset; params is a C string.
        check(
            unsafe { sys::LGBM_BoosterCreate(train_ds.0, booster_params.as_ptr(), &mut handle) },
            "creating the booster",
        )?;
        let booster = BoosterHandle(handle);
        if let Some(v) = &valid_ds {
            // SAFETY: both handles are live; the dataset outlives training.
            check(
                unsafe { sys::LGBM_BoosterAddValidData(booster.0, v.0) },
                "adding the validation set",
            )?;
        }
        let names: Vec<String> = eval_names(&booster)?
            .iter()
            .map(|n| kiln_metric_name(n).to_string())
            .collect();

        let mut auto_stop = self.config.early_stopping.map(|patience| {
            let watched = metrics[0].clone();
            EarlyStopping::new(format!("valid_{watched}"), patience, higher_is_better(&watched))
        });
        let mut report: Vec<(String, f64)> = Vec::with_capacity(names.len() * 2);
        let mut rounds_done = 0usize;
        for round in 1..=self.config.rounds {
            let mut empty: c_int = 0;
            // SAFETY: the booster is live and owned by this fit.
            check(
                unsafe { sys::LGBM_BoosterUpdateOneIter(booster.0, &mut empty) },
                "training",
            )?;
            rounds_done = round;
            report.clear();
            if self.config.eval_train {
                for (n, v) in names.iter().zip(eval_at(&booster, 0, names.len())?) {
                    report.push((format!("train_{n}"), v));
                }
            }
            if valid_ds.is_some() {
                for (n, v) in names.iter().zip(eval_at(&booster, 1, names.len())?) {
                    report.push((format!("valid_{n}"), v));
                }
            }
            let r = IterationReport {
                iteration: round,
                metrics: &report,
            };
            if callbacks.wants_checkpoint(round) {
                let snapshot = SavedModel {
                    kind: self.kind.clone(),
                    task,
                    features: train.x.names().to_vec(),
                    state: serde_json::to_value(SavedState {
                        model: model_to_string(&booster, -1)?,
                        iterations: round,
                    })
                    .map_err(|e| LearnError::new(format!("serialising a checkpoint: {e}")))?,
                };
                callbacks
                    .on_checkpoint(round, &snapshot)
                    .map_err(|e| LearnError::new(format!("writing the checkpoint of round {round}: {e}")))?;
            }
            let mut control = callbacks.on_iteration(&r);
            if let Some(es) = auto_stop.as_mut() {
                if crate::callback::Callback::on_iteration(es, &r) == Control::Stop {
                    control = Control::Stop;
                }
            }
            if control == Control::Stop || empty != 0 {
                break;
            }
        }
        // Keep the best iteration an early-stopping callback chose.
        let best = [
            callbacks.best_iteration(),
            auto_stop.as_ref().and_then(crate::callback::Callback::best_iteration),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(best) = best {
            while current_iteration(&booster)? > best.max(1) {
                // SAFETY: the booster is live and owned by this fit.
                check(unsafe { sys::LGBM_BoosterRollbackOneIter(booster.0) }, "rolling back")?;
            }
        }
        let kept = current_iteration(&booster)?;
        callbacks.on_end(rounds_done);
        drop(valid_ds);
        drop(train_ds);
        Ok(Box::new(LightGbmModel {
            kind: self.kind.clone(),
            booster,
            task,
            features: train.x.names().to_vec(),
            iterations: kept,
        }))
    }
}

/// A fitted LightGBM booster.
pub struct LightGbmModel {
    kind: String,
    booster: BoosterHandle,
    task: Task,
    features: Vec<String>,
    iterations: usize,
}

#[derive(Serialize, Deserialize)]
struct SavedState {
    /// LightGBM's own text model format.
    model: String,
    iterations: usize,
}

impl LightGbmModel {
    fn predict_raw(&self, x: &Matrix, predict_type: u32) -> Result<Vec<f64>> {
        if x.n_cols() != self.features.len() {
            return Err(LearnError::new(format!(
                "the model takes {} features, got {}",
                self.features.len(),
                x.n_cols()
            )));
        }
        if x.names() != self.features.as_slice() {
            let diff = self
                .features
                .iter()
                .zip(x.names())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("expected '{a}', got '{b}'"))
                .unwrap_or_default();
            return Err(LearnError::new(format!("feature names differ from training: {diff}")));
        }
        let outputs = match self.task {
            Task::Multiclass { n_classes } => n_classes,
            _ => 1,
        };
        let per_row = if predict_type == sys::C_API_PREDICT_CONTRIB {
            (self.features.len() + 1) * outputs
        } else {
            outputs
        };
        let n = x.n_rows();
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut out = vec![0.0f64; n * per_row];
        let mut len: i64 = 0;
        let params = CString::new("").map_err(|_| LearnError::new("params"))?;
        // SAFETY: x covers n*ncol column-major f32 values; `out` has room for
        // n*per_row doubles, the size LightGBM documents for this predict type.
        check(
            unsafe {
                sys::LGBM_BoosterPredictForMat(
                    self.booster.0,
                    x.as_col_major().as_ptr() as *const c_void,
                    sys::C_API_DTYPE_FLOAT32 as c_int,
                    i32_len(n, "row count")?,
                    i32_len(x.n_cols(), "feature count")?,
                    0,
                    predict_type as c_int,
                    0,
                    -1,
                    params.as_ptr(),
                    &mut len,
                    out.as_mut_ptr(),
                )
            },
            "predicting",
        )?;
        out.truncate(len.max(0) as usize);
        Ok(out)
    }

    /// SHAP contributions: per row, per class (multiclass), one value per
    /// feature plus the expected value last; row-major.
    /// They sum to the raw score (for regression, the prediction).
    pub fn contributions(&self, x: &Matrix) -> Result<Vec<f64>> {
        let mut c = self.predict_raw(x, sys::C_API_PREDICT_CONTRIB)?;
        // A random forest predicts the mean of its trees, but LightGBM sums
        // the trees' contributions: average them so they add up to the prediction.
        if self.kind == "random_forest" && self.iterations > 0 {
            let n = self.iterations as f64;
            for v in &mut c {
                *v /= n;
            }
        }
        Ok(c)
    }

    /// Loads a saved LightGBM model.
    pub fn load(saved: &SavedModel) -> Result<LightGbmModel> {
        let state: SavedState = serde_json::from_value(saved.state.clone())
            .map_err(|e| LearnError::new(format!("saved LightGBM model is malformed: {e}")))?;
        let model = CString::new(state.model).map_err(|_| LearnError::new("saved LightGBM model has a NUL byte"))?;
        let mut handle: sys::BoosterHandle = std::ptr::null_mut();
        let mut iters: c_int = 0;
        // SAFETY: model is a C string; out-parameters are plain.
        check(
            unsafe { sys::LGBM_BoosterLoadModelFromString(model.as_ptr(), &mut iters, &mut handle) },
            "loading the model",
        )?;
        let booster = BoosterHandle(handle);
        let mut nf: c_int = 0;
        // SAFETY: plain out-parameter.
        check(
            unsafe { sys::LGBM_BoosterGetNumFeature(booster.0, &mut nf) },
            "reading the model",
        )?;
        if nf as usize != saved.features.len() {
            return Err(LearnError::new(format!(
                "saved LightGBM model has {nf} features but lists {}",
                saved.features.len()
            )));
        }
        Ok(LightGbmModel {
            kind: saved.kind.clone(),
            booster,
            task: saved.task,
            features: saved.features.clone(),
            iterations: state.iterations,
        })
    }
}

impl Model for LightGbmModel {
    fn kind(&self) -> &str {
        &self.kind
    }

    fn task(&self) -> Task {
        self.task
    }

    fn features(&self) -> &[String] {
        &self.features
    }

    fn predict(&self, x: &Matrix) -> Result<Predictions> {
        let out = self.predict_raw(x, sys::C_API_PREDICT_NORMAL)?;
        Ok(Predictions::from_values(self.task, out))
    }

    fn feature_importance(&self) -> Option<Vec<f64>> {
        let mut out = vec![0.0f64; self.features.len()];
        // SAFETY: `out` has one slot per feature.
        let ret = unsafe {
            sys::LGBM_BoosterFeatureImportance(
                self.booster.0,
                -1,
                sys::C_API_FEATURE_IMPORTANCE_GAIN as c_int,
                out.as_mut_ptr(),
            )
        };
        (ret == 0).then_some(out)
    }

    fn iterations(&self) -> Option<usize> {
        Some(self.iterations)
    }

    fn contributions(&self, x: &Matrix) -> Option<Result<Vec<f64>>> {
        Some(LightGbmModel::contributions(self, x))
    }

    fn save(&self) -> Result<SavedModel> {
        let model = model_to_string(&self.booster, -1)?;
        Ok(SavedModel {
            kind: self.kind.clone(),
            task: self.task,
            features: self.features.clone(),
            state: serde_json::to_value(SavedState {
                model,
                iterations: self.iterations,
            })
            .map_err(|e| LearnError::new(format!("serialising the model: {e}")))?,
        })
    }
}
