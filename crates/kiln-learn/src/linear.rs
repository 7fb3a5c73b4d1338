//! Penalised linear models: `linear` (least squares regression) and
//! `logistic` (binary, and multinomial softmax for multiclass).
//!
//! # The objective
//!
//! Features are standardised on the training rows (`z = (x - mean) / sd`,
//! weighted; a constant feature gets coefficient 0) and the model fits, with
//! an unpenalised intercept `b`,
//!
//! ```text
//! linear:    1/(2W) sum_i w_i (y_i - b - z_i.beta)^2           + l1 |beta|_1 + l2/2 |beta|_2^2
//! logistic:  1/W    sum_i w_i logloss(y_i, b + z_i.beta)       + l1 |beta|_1 + l2/2 |beta|_2^2
//! ```
//!
//! (`W` the total weight; for multiclass `beta` is one column per class.)
//! The penalty is set either as `l1` and `l2`, or as scikit-learn's
//! elastic-net pair `alpha` and `l1_ratio` (`l1 = alpha * l1_ratio`,
//! `l2 = alpha * (1 - l1_ratio)`, as in `ElasticNet`), not both. With
//! `standardize = true` (the default) the penalty applies to the
//! standardised coefficients (glmnet's convention, so every feature is
//! penalised alike whatever its unit); with `false` to the coefficients of
//! the raw features.
//!
//! # The solvers
//!
//! - `linear`: cyclic coordinate descent with soft-thresholding (exact zeros
//!   under L1); one epoch is one pass over every feature. It stops when no
//!   coefficient moved by more than `tol` times the standard deviation of `y`
//!   (on the standardised scale).
//! - `logistic`: accelerated proximal gradient (FISTA with backtracking and
//!   a restart when the objective rises); the L1 part is a soft-threshold, so
//!   L1 gives exact zeros. One epoch is one proximal gradient step. It stops
//!   when no parameter moved by more than `tol`.
//!
//! Sums run in `f64` over the `f32` column-major matrix, in a fixed order,
//! single-threaded: the same data and hyperparameters give the same bits.
//!
//! Each epoch reports `train_<metric>` (with `eval_train`, the default) and
//! `valid_<metric>` to the callbacks: `logloss, auc` (binary), `logloss,
//! accuracy` (multiclass), `rmse, mae` (regression), with the configured
//! `metric` first. A callback's `Stop` ends the fit; if a callback (or the
//! built-in `early_stopping = patience`) chose a best epoch, the model keeps
//! the coefficients of that epoch.
//!
//! Missing (NaN) or infinite features are an error naming the feature and
//! row, at fit and at predict: impute first (`[prep] impute`), as the
//! pipeline does. Feature importance is the absolute standardised
//! coefficient (summed over classes for multiclass).

use std::collections::BTreeMap;

use kiln_data::Matrix;
use kiln_metrics::Metric;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::callback::{Callback, Callbacks, Control, EarlyStopping, IterationReport};
use crate::eval;
use crate::learner::{LearnError, Learner, Model, Predictions, Result, SavedModel, Task, TrainSet};
use crate::params::Params;

/// Which linear model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinearKind {
    /// Least squares regression.
    Linear,
    /// Logistic regression (binary or multinomial).
    Logistic,
}

impl LinearKind {
    /// The kind as written in `kiln.toml`.
    pub fn name(&self) -> &'static str {
        match self {
            LinearKind::Linear => "linear",
            LinearKind::Logistic => "logistic",
        }
    }
}

/// The hyperparameters of a linear model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearConfig {
    /// L1 strength (lasso): `l1 * |beta|_1`.
    pub l1: f64,
    /// L2 strength (ridge): `l2 / 2 * |beta|_2^2`.
    pub l2: f64,
    /// Most epochs.
    pub max_iter: usize,
    /// Convergence tolerance (see the module docs).
    pub tol: f64,
    pub fit_intercept: bool,
    /// Penalise standardised (true) or raw (false) coefficients.
    pub standardize: bool,
    /// Stop when the watched validation metric has not improved for this many epochs.
    pub early_stopping: Option<usize>,
    /// The metric reported first and watched by `early_stopping`; default
    /// `logloss` (logistic) or `rmse` (linear).
    pub metric: Option<String>,
    /// Report metrics on the training set each epoch.
    pub eval_train: bool,
}

impl LinearConfig {
    /// `linear` defaults: ordinary least squares.
    pub fn linear() -> LinearConfig {
        LinearConfig {
            l1: 0.0,
            l2: 0.0,
            max_iter: 1000,
            tol: 1e-6,
            fit_intercept: true,
            standardize: true,
            early_stopping: None,
            metric: None,
            eval_train: true,
        }
    }

    /// `logistic` defaults: a light ridge (`l2 = 1e-4`) so separable data
    /// still has a finite solution.
    pub fn logistic() -> LinearConfig {
        LinearConfig {
            l2: 1e-4,
            tol: 1e-5,
            ..LinearConfig::linear()
        }
    }

    /// Elastic-net strength `alpha = l1 + l2`.
    pub fn alpha(&self) -> f64 {
        self.l1 + self.l2
    }

    /// Elastic-net mix `l1_ratio = l1 / (l1 + l2)` (0 without a penalty).
    pub fn l1_ratio(&self) -> f64 {
        let a = self.alpha();
        if a > 0.0 {
            self.l1 / a
        } else {
            0.0
        }
    }
}

/// The learner for `kind = "linear"` and `kind = "logistic"`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearLearner {
    kind: LinearKind,
    config: LinearConfig,
}

impl LinearLearner {
    pub fn new(kind: LinearKind, config: LinearConfig) -> LinearLearner {
        LinearLearner { kind, config }
    }

    pub fn config(&self) -> &LinearConfig {
        &self.config
    }

    /// From a config table (`kind = "linear"` or `"logistic"`): `l1`, `l2`
    /// (or `alpha` and `l1_ratio`), `max_iter`, `tol`, `fit_intercept`,
    /// `standardize`, `early_stopping`, `metric`, `eval_train`. Unknown keys,
    /// wrong types and out-of-range values are errors naming the key.
    pub fn from_params(kind: &str, values: &BTreeMap<String, Value>) -> Result<LinearLearner> {
        let (k, d) = match kind {
            "linear" => (LinearKind::Linear, LinearConfig::linear()),
            "logistic" => (LinearKind::Logistic, LinearConfig::logistic()),
            other => return Err(LearnError::new(format!("'{other}' is not a linear model kind"))),
        };
        let elastic = values.contains_key("alpha") || values.contains_key("l1_ratio");
        if elastic && (values.contains_key("l1") || values.contains_key("l2")) {
            return Err(LearnError::new(format!(
                "model '{kind}': give the penalty as 'l1' and 'l2' or as 'alpha' and 'l1_ratio', not both"
            )));
        }
        let mut p = Params::new(kind, values);
        let (l1, l2) = if elastic {
            let alpha = p.f64_in("alpha", d.alpha(), 0.0, f64::MAX)?;
            let ratio = p.f64_in("l1_ratio", 0.5, 0.0, 1.0)?;
            (alpha * ratio, alpha * (1.0 - ratio))
        } else {
            (
                p.f64_in("l1", d.l1, 0.0, f64::MAX)?,
                p.f64_in("l2", d.l2, 0.0, f64::MAX)?,
            )
        };
        if !elastic {
            // Listed as known keys in an unknown-key error.
            p.f64_in("alpha", 0.0, 0.0, f64::MAX)?;
            p.f64_in("l1_ratio", 0.0, 0.0, 1.0)?;
        }
        let mut metric_choices = vec![""];
        metric_choices.extend(
            kiln_metrics::METRIC_NAMES
                .iter()
                .filter(|m| !matches!(**m, "ndcg" | "map")),
        );
        let config = LinearConfig {
            l1,
            l2,
            max_iter: p.i64_in("max_iter", d.max_iter as i64, 1, 10_000_000)? as usize,
            tol: p.f64_in("tol", d.tol, 0.0, 1.0)?,
            fit_intercept: p.bool("fit_intercept", d.fit_intercept)?,
            standardize: p.bool("standardize", d.standardize)?,
            early_stopping: p.opt_i64("early_stopping", 1)?.map(|v| v as usize),
            metric: match p.choice("metric", "", &metric_choices)? {
                s if s.is_empty() => None,
                s => Some(s),
            },
            eval_train: p.bool("eval_train", d.eval_train)?,
        };
        p.finish()?;
        if let Some(m) = &config.metric {
            let metric = Metric::from_name(m).map_err(|e| LearnError::new(format!("model '{kind}': {e}")))?;
            if metric.is_regression() != (k == LinearKind::Linear) {
                return Err(LearnError::new(format!(
                    "model '{kind}': metric '{m}' does not apply to a {kind} model"
                )));
            }
        }
        Ok(LinearLearner { kind: k, config })
    }

    /// Fits and returns the concrete model (the [`Learner::fit`] boxes it).
    pub fn fit_linear(
        &self,
        task: Task,
        train: &TrainSet<'_>,
        valid: Option<&TrainSet<'_>>,
        callbacks: &mut Callbacks,
    ) -> Result<LinearModel> {
        let kind = self.kind.name();
        match (self.kind, task) {
            (LinearKind::Linear, Task::Regression) | (LinearKind::Logistic, Task::Binary | Task::Multiclass { .. }) => {
            }
            (LinearKind::Linear, t) => {
                return Err(LearnError::new(format!(
                    "model 'linear' fits regression; use 'logistic' for a {} task",
                    t.name()
                )))
            }
            (LinearKind::Logistic, _) => {
                return Err(LearnError::new(
                    "model 'logistic' fits classification; use 'linear' for a regression task",
                ))
            }
        }
        eval::check_set(task, train, "training")?;
        if train.x.n_cols() == 0 {
            return Err(LearnError::new(format!("model '{kind}': no features to train on")));
        }
        eval::check_finite_features(kind, train.x)?;
        if let Some(v) = valid {
            eval::check_same_features(train.x, v.x)?;
            eval::check_set(task, v, "validation")?;
            eval::check_finite_features(kind, v.x)?;
        }
        if self.config.early_stopping.is_some() && valid.is_none() {
            return Err(LearnError::new(format!(
                "model '{kind}': early_stopping needs a validation set (a valid split or folds)"
            )));
        }
        let metrics = eval::metrics_for(kind, task, self.config.metric.as_deref())?;
        let problem = Problem::new(task, train, &self.config);
        let mut watch = Watch {
            kind: self.kind,
            task,
            features: train.x.names(),
            transform: &problem.transform,
            train,
            train_w: eval::weights_f64(train),
            valid,
            valid_w: valid.and_then(eval::weights_f64),
            metrics: &metrics,
            eval_train: self.config.eval_train,
            auto_stop: self.config.early_stopping.map(|patience| {
                let m = &metrics[0];
                EarlyStopping::new(format!("valid_{}", m.name()), patience, m.higher_is_better())
            }),
            best: None,
            callbacks,
        };
        let fit = match self.kind {
            LinearKind::Linear => problem.coordinate_descent(&self.config, &mut watch)?,
            LinearKind::Logistic => problem.proximal_gradient(&self.config, &mut watch)?,
        };
        watch.finish(fit)
    }
}

impl Learner for LinearLearner {
    fn kind(&self) -> &str {
        self.kind.name()
    }

    fn params(&self) -> BTreeMap<String, String> {
        let c = &self.config;
        let mut m = BTreeMap::new();
        for (k, v) in [
            ("l1", c.l1.to_string()),
            ("l2", c.l2.to_string()),
            ("alpha", c.alpha().to_string()),
            ("l1_ratio", c.l1_ratio().to_string()),
            ("max_iter", c.max_iter.to_string()),
            ("tol", c.tol.to_string()),
            ("fit_intercept", c.fit_intercept.to_string()),
            ("standardize", c.standardize.to_string()),
            (
                "early_stopping",
                c.early_stopping.map_or_else(|| "off".to_string(), |v| v.to_string()),
            ),
            ("metric", c.metric.clone().unwrap_or_else(|| "default".into())),
            ("eval_train", c.eval_train.to_string()),
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
        Ok(Box::new(self.fit_linear(task, train, valid, callbacks)?))
    }
}

/// The standardisation fitted on the training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Transform {
    /// Per feature: subtracted (0 without an intercept).
    mean: Vec<f64>,
    /// Per feature: divided by (1 for a constant feature).
    scale: Vec<f64>,
}

impl Transform {
    /// Margins `b_k + sum_j z_ij beta_jk`, row-major `n x k`.
    fn margins(&self, x: &Matrix, coef: &[f64], intercept: &[f64], out: &mut Vec<f64>) {
        let k = intercept.len();
        let n = x.n_rows();
        out.clear();
        out.reserve(n * k);
        for _ in 0..n {
            out.extend_from_slice(intercept);
        }
        for j in 0..x.n_cols() {
            let c = &coef[j * k..(j + 1) * k];
            if c.iter().all(|&v| v == 0.0) {
                continue;
            }
            let (m, inv) = (self.mean[j], 1.0 / self.scale[j]);
            let col = x.column(j);
            if k == 1 {
                let b = c[0] * inv;
                for (o, &v) in out.iter_mut().zip(col) {
                    *o += (f64::from(v) - m) * b;
                }
            } else {
                for (row, &v) in out.chunks_exact_mut(k).zip(col) {
                    let z = (f64::from(v) - m) * inv;
                    for (o, &b) in row.iter_mut().zip(c) {
                        *o += z * b;
                    }
                }
            }
        }
    }
}

/// A fitted state: standardised coefficients (`p x k`, row `j` = feature) and intercepts.
#[derive(Debug, Clone, PartialEq)]
struct Fit {
    coef: Vec<f64>,
    intercept: Vec<f64>,
    epochs: usize,
    converged: bool,
}

/// The training problem: data, weights, standardisation, penalties.
struct Problem<'a> {
    task: Task,
    x: &'a Matrix,
    y: &'a [f64],
    /// Weights normalised to sum to 1 (`w_i / W`).
    w: Vec<f64>,
    transform: Transform,
    /// Per feature: `sum_i w_i z_ij^2` (0 for constant features).
    sq: Vec<f64>,
    /// Per-feature L1 and L2 strengths on the standardised scale.
    l1: Vec<f64>,
    l2: Vec<f64>,
    /// Outputs per row: 1 (regression, binary) or the class count.
    k: usize,
    fit_intercept: bool,
}

impl<'a> Problem<'a> {
    fn new(task: Task, train: &TrainSet<'a>, config: &LinearConfig) -> Problem<'a> {
        let x = train.x;
        let n = x.n_rows();
        let raw: Vec<f64> = eval::weights_f64(train).unwrap_or_else(|| vec![1.0; n]);
        let total: f64 = raw.iter().sum();
        let w: Vec<f64> = raw.iter().map(|v| v / total).collect();
        let p = x.n_cols();
        let (mut mean, mut scale, mut sq) = (vec![0.0; p], vec![1.0; p], vec![0.0; p]);
        for j in 0..p {
            let col = x.column(j);
            let m = if config.fit_intercept {
                col.iter().zip(&w).map(|(&v, &wi)| wi * f64::from(v)).sum::<f64>()
            } else {
                0.0
            };
            let var: f64 = col
                .iter()
                .zip(&w)
                .map(|(&v, &wi)| wi * (f64::from(v) - m).powi(2))
                .sum();
            let sd = var.sqrt();
            mean[j] = m;
            // A (numerically) constant feature: leave it unscaled, it stays at 0.
            if sd > 1e-12 * m.abs().max(1e-300) && sd.is_finite() {
                scale[j] = sd;
                sq[j] = col
                    .iter()
                    .zip(&w)
                    .map(|(&v, &wi)| wi * ((f64::from(v) - m) / sd).powi(2))
                    .sum();
            }
        }
        // Raw-scale penalty: beta_raw = beta_z / scale.
        let factor = |j: usize| if config.standardize { 1.0 } else { 1.0 / scale[j] };
        let l1 = (0..p).map(|j| config.l1 * factor(j)).collect();
        let l2 = (0..p).map(|j| config.l2 * factor(j) * factor(j)).collect();
        let k = match task {
            Task::Multiclass { n_classes } => n_classes,
            _ => 1,
        };
        Problem {
            task,
            x,
            y: train.y,
            w,
            transform: Transform { mean, scale },
            sq,
            l1,
            l2,
            k,
            fit_intercept: config.fit_intercept,
        }
    }

    /// The standardised value of `v` in feature `j` (`inv` = 1 / scale).
    fn z(&self, j: usize, inv: f64, v: f32) -> f64 {
        (f64::from(v) - self.transform.mean[j]) * inv
    }

    /// Least squares by cyclic coordinate descent.
    fn coordinate_descent(&self, config: &LinearConfig, watch: &mut Watch<'_, '_, '_>) -> Result<Fit> {
        let p = self.x.n_cols();
        let y_mean = if self.fit_intercept {
            self.y.iter().zip(&self.w).map(|(y, w)| w * y).sum::<f64>()
        } else {
            0.0
        };
        let y_sd = self
            .y
            .iter()
            .zip(&self.w)
            .map(|(y, w)| w * (y - y_mean).powi(2))
            .sum::<f64>()
            .sqrt();
        let y_scale = if y_sd > 0.0 { y_sd } else { 1.0 };
        let mut fit = Fit {
            coef: vec![0.0; p],
            intercept: vec![y_mean],
            epochs: 0,
            converged: false,
        };
        let mut resid: Vec<f64> = self.y.iter().map(|y| y - y_mean).collect();
        for epoch in 1..=config.max_iter {
            let mut max_change: f64 = 0.0;
            for j in 0..p {
                if self.sq[j] == 0.0 {
                    continue;
                }
                let col = self.x.column(j);
                let inv = 1.0 / self.transform.scale[j];
                let old = fit.coef[j];
                let rho: f64 = col
                    .iter()
                    .zip(&resid)
                    .zip(&self.w)
                    .map(|((&v, r), w)| w * self.z(j, inv, v) * r)
                    .sum::<f64>()
                    + self.sq[j] * old;
                let new = soft_threshold(rho, self.l1[j]) / (self.sq[j] + self.l2[j]);
                if new != old {
                    let d = new - old;
                    for (r, &v) in resid.iter_mut().zip(col) {
                        *r -= self.z(j, inv, v) * d;
                    }
                    fit.coef[j] = new;
                    max_change = max_change.max(d.abs() * self.sq[j].sqrt());
                }
            }
            if self.fit_intercept {
                let shift: f64 = resid.iter().zip(&self.w).map(|(r, w)| w * r).sum();
                fit.intercept[0] += shift;
                for r in &mut resid {
                    *r -= shift;
                }
            }
            if !fit.coef.iter().all(|c| c.is_finite()) || !fit.intercept[0].is_finite() {
                return Err(LearnError::new(
                    "model 'linear': the fit diverged (non-finite coefficients)",
                ));
            }
            fit.epochs = epoch;
            fit.converged = max_change <= config.tol * y_scale;
            let train_pred = watch
                .eval_train
                .then(|| self.y.iter().zip(&resid).map(|(y, r)| y - r).collect::<Vec<f64>>());
            if watch.epoch(epoch, &fit, train_pred.as_ref())? == Control::Stop || fit.converged {
                break;
            }
        }
        Ok(fit)
    }

    /// Mean log loss (data part) at `margins`; fills `grad` with its gradient
    /// with respect to the margins (`w_i (p_ik - y_ik)`).
    fn logistic_loss(&self, margins: &[f64], grad: &mut [f64]) -> f64 {
        let k = self.k;
        let mut loss = 0.0;
        for (i, (&y, &w)) in self.y.iter().zip(&self.w).enumerate() {
            if k == 1 {
                let m = margins[i];
                // softplus(m) - y m and sigmoid(m), from one stable exp.
                let e = (-m.abs()).exp();
                let softplus = m.max(0.0) + e.ln_1p();
                let p = if m >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
                loss += w * (softplus - y * m);
                grad[i] = w * (p - y);
            } else {
                let row = &margins[i * k..(i + 1) * k];
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = row.iter().map(|m| (m - max).exp()).sum();
                let lse = max + sum.ln();
                let c = y as usize;
                loss += w * (lse - row[c]);
                for (q, (g, m)) in grad[i * k..(i + 1) * k].iter_mut().zip(row).enumerate() {
                    let target = if q == c { 1.0 } else { 0.0 };
                    *g = w * ((m - lse).exp() - target);
                }
            }
        }
        loss
    }

    /// `l2/2 |beta|^2` and `l1 |beta|_1`.
    fn penalties(&self, coef: &[f64]) -> (f64, f64) {
        let (mut ridge, mut lasso) = (0.0, 0.0);
        for (j, c) in coef.chunks(self.k).enumerate() {
            for &b in c {
                ridge += 0.5 * self.l2[j] * b * b;
                lasso += self.l1[j] * b.abs();
            }
        }
        (ridge, lasso)
    }

    /// Logistic regression by FISTA with backtracking and restarts.
    fn proximal_gradient(&self, config: &LinearConfig, watch: &mut Watch<'_, '_, '_>) -> Result<Fit> {
        let (p, k, n) = (self.x.n_cols(), self.k, self.x.n_rows());
        let mut theta = Fit {
            coef: vec![0.0; p * k],
            intercept: vec![0.0; k],
            epochs: 0,
            converged: false,
        };
        if self.fit_intercept {
            theta.intercept = self.prior_intercepts();
        }
        let mut m_theta = Vec::new();
        self.transform
            .margins(self.x, &theta.coef, &theta.intercept, &mut m_theta);
        let mut grad_m = vec![0.0; n * k];
        let (ridge, lasso) = self.penalties(&theta.coef);
        let mut f_theta = self.logistic_loss(&m_theta, &mut grad_m) + ridge + lasso;
        // The extrapolated point and its margins (margins are linear in the parameters).
        let (mut y_coef, mut y_int, mut m_y) = (theta.coef.clone(), theta.intercept.clone(), m_theta.clone());
        let mut t = 1.0f64;
        // Upper bound on the curvature of the loss on standardised data, as a start.
        let mut lip = if k == 1 { 0.25 } else { 0.5 };
        let (mut z_coef, mut z_int, mut m_z) = (vec![0.0; p * k], vec![0.0; k], Vec::new());
        let mut g_coef = vec![0.0; p * k];
        let mut g_int = vec![0.0; k];
        let mut restarted = false;
        for epoch in 1..=config.max_iter {
            // Gradient of the smooth part at the extrapolated point.
            let (ridge_y, _) = self.penalties(&y_coef);
            let f_y = self.logistic_loss(&m_y, &mut grad_m) + ridge_y;
            self.gradient(&grad_m, &y_coef, &mut g_coef, &mut g_int);
            let (f_z, lasso_z) = loop {
                for j in 0..p {
                    for q in 0..k {
                        let idx = j * k + q;
                        z_coef[idx] = soft_threshold(y_coef[idx] - g_coef[idx] / lip, self.l1[j] / lip);
                    }
                }
                for q in 0..k {
                    z_int[q] = y_int[q] - g_int[q] / lip;
                }
                self.transform.margins(self.x, &z_coef, &z_int, &mut m_z);
                let (ridge_z, lasso_z) = self.penalties(&z_coef);
                let f_z = self.logistic_loss(&m_z, &mut grad_m) + ridge_z;
                // The quadratic upper bound at y must hold at z.
                let mut lin = 0.0;
                let mut dist = 0.0;
                for ((zc, yc), g) in z_coef.iter().zip(&y_coef).zip(&g_coef) {
                    lin += g * (zc - yc);
                    dist += (zc - yc) * (zc - yc);
                }
                for ((zc, yc), g) in z_int.iter().zip(&y_int).zip(&g_int) {
                    lin += g * (zc - yc);
                    dist += (zc - yc) * (zc - yc);
                }
                let bound = f_y + lin + 0.5 * lip * dist;
                if f_z <= bound + 1e-12 * f_y.abs().max(1e-12) || lip > 1e30 {
                    break (f_z, lasso_z);
                }
                lip *= 2.0;
            };
            if !f_z.is_finite() {
                return Err(LearnError::new("model 'logistic': the fit diverged (non-finite loss)"));
            }
            let f_z_total = f_z + lasso_z;
            let mut max_change: f64 = 0.0;
            if f_z_total > f_theta {
                // The momentum overshot: restart from theta with a plain step.
                t = 1.0;
                y_coef.clone_from(&theta.coef);
                y_int.clone_from(&theta.intercept);
                m_y.clone_from(&m_theta);
                if restarted {
                    // Even a plain step cannot decrease the objective: converged to rounding.
                    theta.converged = true;
                }
                restarted = true;
            } else {
                restarted = false;
                let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
                let mom = (t - 1.0) / t_next;
                for ((yc, zc), tc) in y_coef.iter_mut().zip(&z_coef).zip(&theta.coef) {
                    *yc = zc + mom * (zc - tc);
                    max_change = max_change.max((zc - tc).abs());
                }
                for ((yc, zc), tc) in y_int.iter_mut().zip(&z_int).zip(&theta.intercept) {
                    *yc = zc + mom * (zc - tc);
                    max_change = max_change.max((zc - tc).abs());
                }
                for ((my, mz), mt) in m_y.iter_mut().zip(&m_z).zip(&m_theta) {
                    *my = mz + mom * (mz - mt);
                }
                theta.coef.clone_from(&z_coef);
                theta.intercept.clone_from(&z_int);
                m_theta.clone_from(&m_z);
                f_theta = f_z_total;
                t = t_next;
                theta.converged = max_change <= config.tol;
            }
            // Let the step size grow back a little.
            lip = (lip * 0.9).max(1e-8);
            theta.epochs = epoch;
            let probs = watch.eval_train.then(|| self.probabilities(&m_theta));
            if watch.epoch(epoch, &theta, probs.as_ref())? == Control::Stop || theta.converged {
                break;
            }
        }
        Ok(theta)
    }

    /// Log of the weighted class priors (binary: the log-odds), the intercepts
    /// of the model with no features: a good start.
    fn prior_intercepts(&self) -> Vec<f64> {
        let classes = self.task.n_classes();
        let mut prior = vec![0.0; classes];
        for (&y, &w) in self.y.iter().zip(&self.w) {
            prior[y as usize] += w;
        }
        let clip = |v: f64| v.clamp(1e-12, 1.0);
        if self.k == 1 {
            vec![(clip(prior[1]) / clip(prior[0])).ln()]
        } else {
            prior.iter().map(|&v| clip(v).ln()).collect()
        }
    }

    /// Gradient of the smooth objective from the margin gradient `gm`.
    fn gradient(&self, gm: &[f64], coef: &[f64], g_coef: &mut [f64], g_int: &mut [f64]) {
        let k = self.k;
        g_coef.iter_mut().for_each(|g| *g = 0.0);
        for j in 0..self.x.n_cols() {
            if self.sq[j] == 0.0 {
                continue;
            }
            let g = &mut g_coef[j * k..(j + 1) * k];
            let (mean, inv) = (self.transform.mean[j], 1.0 / self.transform.scale[j]);
            let col = self.x.column(j);
            if k == 1 {
                let acc: f64 = col.iter().zip(gm).map(|(&v, &m)| (f64::from(v) - mean) * m).sum();
                g[0] = acc * inv;
            } else {
                for (&v, row) in col.iter().zip(gm.chunks_exact(k)) {
                    let z = (f64::from(v) - mean) * inv;
                    for (gq, &m) in g.iter_mut().zip(row) {
                        *gq += z * m;
                    }
                }
            }
            for (gq, &c) in g.iter_mut().zip(&coef[j * k..(j + 1) * k]) {
                *gq += self.l2[j] * c;
            }
        }
        g_int.iter_mut().for_each(|g| *g = 0.0);
        if self.fit_intercept {
            for row in gm.chunks(k) {
                for (g, &m) in g_int.iter_mut().zip(row) {
                    *g += m;
                }
            }
        }
    }

    fn probabilities(&self, margins: &[f64]) -> Vec<f64> {
        probabilities(self.k, margins)
    }
}

fn soft_threshold(v: f64, t: f64) -> f64 {
    if v > t {
        v - t
    } else if v < -t {
        v + t
    } else {
        0.0
    }
}

fn sigmoid(m: f64) -> f64 {
    if m >= 0.0 {
        1.0 / (1.0 + (-m).exp())
    } else {
        let e = m.exp();
        e / (1.0 + e)
    }
}

/// Probabilities from margins: sigmoid (`k = 1`) or row-wise softmax.
fn probabilities(k: usize, margins: &[f64]) -> Vec<f64> {
    if k == 1 {
        return margins.iter().map(|&m| sigmoid(m)).collect();
    }
    let mut out = Vec::with_capacity(margins.len());
    for row in margins.chunks(k) {
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = row.iter().map(|m| (m - max).exp()).sum();
        out.extend(row.iter().map(|m| (m - max).exp() / sum));
    }
    out
}

/// Per-epoch reporting, early stopping and the best epoch's snapshot.
struct Watch<'a, 'c, 'k> {
    kind: LinearKind,
    task: Task,
    features: &'a [String],
    transform: &'a Transform,
    train: &'a TrainSet<'a>,
    train_w: Option<Vec<f64>>,
    valid: Option<&'a TrainSet<'a>>,
    valid_w: Option<Vec<f64>>,
    metrics: &'a [Metric],
    eval_train: bool,
    auto_stop: Option<EarlyStopping>,
    /// The fit at the latest best epoch any callback chose.
    best: Option<Fit>,
    callbacks: &'c mut Callbacks<'k>,
}

impl Watch<'_, '_, '_> {
    fn predictions(&self, out: Vec<f64>) -> Predictions {
        match self.task {
            Task::Binary => Predictions::Binary(out),
            Task::Regression => Predictions::Regression(out),
            Task::Multiclass { n_classes } => Predictions::Multiclass { n_classes, probs: out },
        }
    }

    /// Reports one epoch; `train_out` is the training predictions (values or probabilities).
    fn epoch(&mut self, epoch: usize, fit: &Fit, train_out: Option<&Vec<f64>>) -> Result<Control> {
        let mut report = Vec::new();
        if self.eval_train {
            if let Some(out) = train_out {
                let pred = self.predictions(out.clone());
                eval::report(
                    "train",
                    self.metrics,
                    self.train.y,
                    &pred,
                    self.train_w.as_deref(),
                    &mut report,
                )?;
            }
        }
        if let Some(v) = self.valid {
            let mut margins = Vec::new();
            self.transform.margins(v.x, &fit.coef, &fit.intercept, &mut margins);
            let out = match self.kind {
                LinearKind::Linear => margins,
                LinearKind::Logistic => probabilities(fit.intercept.len(), &margins),
            };
            let pred = self.predictions(out);
            eval::report("valid", self.metrics, v.y, &pred, self.valid_w.as_deref(), &mut report)?;
        }
        let r = IterationReport {
            iteration: epoch,
            metrics: &report,
        };
        let mut control = self.callbacks.on_iteration(&r);
        if let Some(es) = self.auto_stop.as_mut() {
            if es.on_iteration(&r) == Control::Stop {
                control = Control::Stop;
            }
        }
        if self.best_epoch() == Some(epoch) {
            self.best = Some(fit.clone());
        }
        Ok(control)
    }

    fn best_epoch(&self) -> Option<usize> {
        [
            self.callbacks.best_iteration(),
            self.auto_stop.as_ref().and_then(|e| e.best_iteration()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The model: the best epoch's fit when one was chosen, else the last.
    fn finish(self, last: Fit) -> Result<LinearModel> {
        let epochs_run = last.epochs;
        let fit = match (self.best_epoch(), self.best) {
            (Some(b), Some(best)) if best.epochs == b => best,
            _ => last,
        };
        self.callbacks.on_end(epochs_run);
        Ok(LinearModel {
            kind: self.kind,
            task: self.task,
            features: self.features.to_vec(),
            transform: self.transform.clone(),
            coef: fit.coef,
            intercept: fit.intercept,
            iterations: fit.epochs,
            converged: fit.converged,
        })
    }
}

/// A fitted linear or logistic model.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    kind: LinearKind,
    task: Task,
    features: Vec<String>,
    transform: Transform,
    /// Standardised coefficients, `p x k` (row `j` = feature `j`).
    coef: Vec<f64>,
    intercept: Vec<f64>,
    iterations: usize,
    converged: bool,
}

#[derive(Serialize, Deserialize)]
struct LinearState {
    mean: Vec<f64>,
    scale: Vec<f64>,
    coef: Vec<f64>,
    intercept: Vec<f64>,
    iterations: usize,
    converged: bool,
}

impl LinearModel {
    /// Outputs per row: 1 (regression, binary) or the class count.
    pub fn outputs(&self) -> usize {
        self.intercept.len()
    }

    /// Coefficients of the raw features, `p x outputs` row-major.
    pub fn coefficients(&self) -> Vec<f64> {
        let k = self.outputs();
        self.coef
            .iter()
            .enumerate()
            .map(|(idx, c)| c / self.transform.scale[idx / k])
            .collect()
    }

    /// Intercepts on the raw features' scale, one per output.
    pub fn intercepts(&self) -> Vec<f64> {
        let k = self.outputs();
        let mut out = self.intercept.clone();
        for (idx, c) in self.coef.iter().enumerate() {
            let j = idx / k;
            out[idx % k] -= c * self.transform.mean[j] / self.transform.scale[j];
        }
        out
    }

    /// Coefficients of the standardised features, `p x outputs` row-major.
    pub fn standardized_coefficients(&self) -> &[f64] {
        &self.coef
    }

    /// Whether the solver met its tolerance (else it ran out of epochs or was stopped).
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Loads a saved `linear` or `logistic` model.
    pub fn load(saved: &SavedModel) -> Result<LinearModel> {
        let kind = match saved.kind.as_str() {
            "linear" => LinearKind::Linear,
            "logistic" => LinearKind::Logistic,
            other => return Err(LearnError::new(format!("'{other}' is not a linear model kind"))),
        };
        let s: LinearState = eval::state_of(saved)?;
        eval::check_task(saved.task)?;
        let k = match saved.task {
            Task::Multiclass { n_classes } => n_classes,
            _ => 1,
        };
        let p = saved.features.len();
        let task_ok = (kind == LinearKind::Linear) == (saved.task == Task::Regression);
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if !task_ok
            || s.mean.len() != p
            || s.scale.len() != p
            || s.coef.len() != p * k
            || s.intercept.len() != k
            || !finite(&s.mean)
            || !finite(&s.coef)
            || !finite(&s.intercept)
            || s.scale.iter().any(|v| !v.is_finite() || *v <= 0.0)
        {
            return Err(LearnError::new(format!(
                "saved '{}' model is malformed: its coefficients do not fit {p} features and a {} task",
                saved.kind,
                saved.task.name()
            )));
        }
        Ok(LinearModel {
            kind,
            task: saved.task,
            features: saved.features.clone(),
            transform: Transform {
                mean: s.mean,
                scale: s.scale,
            },
            coef: s.coef,
            intercept: s.intercept,
            iterations: s.iterations,
            converged: s.converged,
        })
    }
}

impl Model for LinearModel {
    fn kind(&self) -> &str {
        self.kind.name()
    }

    fn task(&self) -> Task {
        self.task
    }

    fn features(&self) -> &[String] {
        &self.features
    }

    fn predict(&self, x: &Matrix) -> Result<Predictions> {
        eval::check_features(&self.features, x)?;
        eval::check_finite_features(self.kind.name(), x)?;
        let mut margins = Vec::new();
        self.transform.margins(x, &self.coef, &self.intercept, &mut margins);
        Ok(match self.task {
            Task::Regression => Predictions::Regression(margins),
            Task::Binary => Predictions::Binary(probabilities(1, &margins)),
            Task::Multiclass { n_classes } => Predictions::Multiclass {
                n_classes,
                probs: probabilities(n_classes, &margins),
            },
        })
    }

    fn feature_importance(&self) -> Option<Vec<f64>> {
        let k = self.outputs();
        Some(self.coef.chunks(k).map(|c| c.iter().map(|v| v.abs()).sum()).collect())
    }

    fn iterations(&self) -> Option<usize> {
        Some(self.iterations)
    }

    fn save(&self) -> Result<SavedModel> {
        let state = LinearState {
            mean: self.transform.mean.clone(),
            scale: self.transform.scale.clone(),
            coef: self.coef.clone(),
            intercept: self.intercept.clone(),
            iterations: self.iterations,
            converged: self.converged,
        };
        Ok(SavedModel {
            kind: self.kind.name().to_string(),
            task: self.task,
            features: self.features.clone(),
            state: eval::state_to_json(self.kind.name(), &state)?,
        })
    }
}

/// Loads a saved `linear` or `logistic` model (for [`crate::load_model`]).
pub fn load(saved: &SavedModel) -> Result<Box<dyn Model>> {
    Ok(Box::new(LinearModel::load(saved)?))
}
