//! Gaussian-process Bayesian optimisation for small budgets.
//!
//! Values worse than the median are capped at the median before the fit
//! (the bad half reads as a plateau; see `fit_clipped`), then standardised.
//!
//! Model: a zero-mean GP on the unit cube (log scales taken first, ints and
//! steps relaxed to the continuum, categoricals through a Hamming distance)
//! with an ARD Matern-5/2 kernel, a signal variance and a noise variance, fit
//! to the standardised values by maximising the log marginal likelihood plus
//! log-normal priors (lengthscale prior centred at sqrt(2) + ln(d)/2 in log
//! space, which favours smooth functions as the dimension grows) with
//! box-constrained L-BFGS from two starts.
//!
//! Acquisition: log expected improvement (default, computed stably far in the
//! tail) or a confidence bound `mean - sqrt(beta) sd` (`acquisition = "ucb"`),
//! maximised by scoring 1024 shifted-Sobol points plus Gaussian perturbations
//! of the best trials, then refining the five best by L-BFGS with analytic
//! gradients and sweeping each categorical. Running trials enter the model as
//! "kriging believers" (their predicted value), so parallel workers spread out.
//! The first `n_startup_trials` (default 10) points come from a Sobol sequence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sobol::{qmc_unit_point, sobol_point};
use super::{sample_uniform, Relative, SampleContext, Sampler, SamplerConfig};
use crate::error::Result;
use crate::linalg::{cho_inverse, cho_solve, cholesky, minimize_box, solve_lower};
use crate::rng::{mix, Rng};
use crate::space::Distribution;
use crate::stats::{dlog_h, log_h};
use crate::trial::{FrozenTrial, TrialState};

/// The acquisition function of the GP sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Acquisition {
    /// Log expected improvement.
    Ei,
    /// Lower confidence bound (upper, when maximising): mean - sqrt(beta) sd.
    Ucb,
}

/// GP-based Bayesian optimisation.
pub struct GpSampler {
    n_startup: usize,
    acquisition: Acquisition,
    beta: f64,
    constant_liar: bool,
}

impl GpSampler {
    /// From the sampler options.
    pub fn new(cfg: &SamplerConfig) -> GpSampler {
        GpSampler {
            n_startup: cfg.n_startup_trials.unwrap_or(10),
            acquisition: cfg.acquisition.unwrap_or(Acquisition::Ei),
            beta: cfg.beta.unwrap_or(2.0),
            constant_liar: cfg.constant_liar.unwrap_or(true),
        }
    }
}

const SQRT5: f64 = 2.236_067_977_499_79;

/// A fitted GP.
struct Gp {
    x: Vec<Vec<f64>>,
    is_cat: Vec<bool>,
    inv_ls2: Vec<f64>,
    signal: f64,
    l: Vec<f64>,
    alpha: Vec<f64>,
}

/// Squared scaled distance.
fn r2(a: &[f64], b: &[f64], is_cat: &[bool], inv_ls2: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        let d = if is_cat[i] {
            if (a[i] - b[i]).abs() > 0.5 {
                1.0
            } else {
                0.0
            }
        } else {
            a[i] - b[i]
        };
        s += d * d * inv_ls2[i];
    }
    s
}

/// Matern 5/2 (unit signal) at squared distance r2, and G(r) = (5/3)(1 + sqrt5 r) exp(-sqrt5 r).
fn matern(r2: f64) -> (f64, f64) {
    let r = r2.max(0.0).sqrt();
    let e = (-SQRT5 * r).exp();
    (
        (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e,
        5.0 / 3.0 * (1.0 + SQRT5 * r) * e,
    )
}

/// Negative log posterior of the hyperparameters theta = [ln l_1..d, ln s, ln noise] and its gradient.
fn neg_log_posterior(x: &[Vec<f64>], y: &[f64], is_cat: &[bool], theta: &[f64], grad: &mut [f64]) -> f64 {
    let n = x.len();
    let d = is_cat.len();
    let inv_ls2: Vec<f64> = theta[..d].iter().map(|t| (-2.0 * t).exp()).collect();
    let s = theta[d].exp();
    let noise = theta[d + 1].exp();
    let mut k = vec![0.0; n * n];
    let mut g = vec![0.0; n * n];
    for a in 0..n {
        for b in 0..=a {
            let (m, gg) = matern(r2(&x[a], &x[b], is_cat, &inv_ls2));
            k[a * n + b] = s * m;
            k[b * n + a] = s * m;
            g[a * n + b] = s * gg;
            g[b * n + a] = s * gg;
        }
        k[a * n + a] += noise + 1e-10;
    }
    let Some(l) = cholesky(&k, n) else {
        grad.iter_mut().for_each(|v| *v = 0.0);
        return f64::INFINITY;
    };
    let alpha = cho_solve(&l, n, y);
    let mut nll = 0.5 * y.iter().zip(&alpha).map(|(a, b)| a * b).sum::<f64>();
    nll += (0..n).map(|i| l[i * n + i].ln()).sum::<f64>();
    nll += 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
    let kinv = cho_inverse(&l, n);
    // W = K^-1 - alpha alpha^T; d nll / d theta = 0.5 tr(W dK/dtheta).
    let mut w = kinv;
    for a in 0..n {
        for b in 0..n {
            w[a * n + b] -= alpha[a] * alpha[b];
        }
    }
    grad.iter_mut().for_each(|v| *v = 0.0);
    for a in 0..n {
        for b in 0..n {
            let wab = w[a * n + b];
            let kf = k[a * n + b] - if a == b { noise + 1e-10 } else { 0.0 };
            grad[d] += 0.5 * wab * kf;
            let gab = g[a * n + b] * wab * 0.5;
            if gab != 0.0 {
                for i in 0..d {
                    let diff = if is_cat[i] {
                        if (x[a][i] - x[b][i]).abs() > 0.5 {
                            1.0
                        } else {
                            0.0
                        }
                    } else {
                        x[a][i] - x[b][i]
                    };
                    grad[i] += gab * diff * diff * inv_ls2[i];
                }
            }
        }
        grad[d + 1] += 0.5 * w[a * n + a] * noise;
    }
    // Priors.
    let mu_l = std::f64::consts::SQRT_2 + 0.5 * (d as f64).ln();
    let var_l = 3.0;
    for i in 0..d {
        nll += (theta[i] - mu_l).powi(2) / (2.0 * var_l);
        grad[i] += (theta[i] - mu_l) / var_l;
    }
    nll += theta[d].powi(2) / 2.0;
    grad[d] += theta[d];
    let mu_n = (1e-6f64).ln();
    nll += (theta[d + 1] - mu_n).powi(2) / (2.0 * 9.0);
    grad[d + 1] += (theta[d + 1] - mu_n) / 9.0;
    nll
}

impl Gp {
    /// Fits the hyperparameters; returns the GP and its negative log posterior.
    fn fit(x: Vec<Vec<f64>>, y: &[f64], is_cat: Vec<bool>) -> Option<(Gp, f64)> {
        let d = is_cat.len();
        let mut lower = vec![(1e-2f64).ln(); d];
        let mut upper = vec![(1e2f64).ln(); d];
        lower.extend([(1e-2f64).ln(), (1e-7f64).ln()]);
        upper.extend([(1e2f64).ln(), 0.0]);
        let mut best: Option<(Vec<f64>, f64)> = None;
        for ls in [0.3, 1.5] {
            let mut theta0 = vec![(ls * (d as f64).sqrt()).ln(); d];
            theta0.extend([0.0, (1e-4f64).ln()]);
            let (theta, f) = minimize_box(
                |t, g| neg_log_posterior(&x, y, &is_cat, t, g),
                &theta0,
                &lower,
                &upper,
                60,
            );
            if f.is_finite() && best.as_ref().is_none_or(|(_, bf)| f < *bf) {
                best = Some((theta, f));
            }
        }
        let (theta, f) = best?;
        Gp::with_hyper(x, y, is_cat, &theta).map(|g| (g, f))
    }

    fn with_hyper(x: Vec<Vec<f64>>, y: &[f64], is_cat: Vec<bool>, theta: &[f64]) -> Option<Gp> {
        let d = is_cat.len();
        let n = x.len();
        let inv_ls2: Vec<f64> = theta[..d].iter().map(|t| (-2.0 * t).exp()).collect();
        let signal = theta[d].exp();
        let noise = theta[d + 1].exp();
        let mut k = vec![0.0; n * n];
        for a in 0..n {
            for b in 0..=a {
                let v = signal * matern(r2(&x[a], &x[b], &is_cat, &inv_ls2)).0;
                k[a * n + b] = v;
                k[b * n + a] = v;
            }
            k[a * n + a] += noise + 1e-10;
        }
        let l = cholesky(&k, n)?;
        let alpha = cho_solve(&l, n, y);
        Some(Gp {
            x,
            is_cat,
            inv_ls2,
            signal,
            l,
            alpha,
        })
    }

    fn theta(&self) -> Vec<f64> {
        let mut t: Vec<f64> = self.inv_ls2.iter().map(|v| -0.5 * v.ln()).collect();
        t.push(self.signal.ln());
        // The noise is folded into the factor; recover it from the first diagonal element.
        let k00 = self.l[0] * self.l[0];
        t.push((k00 - self.signal - 1e-10).max(1e-12).ln());
        t
    }

    /// Mean and variance at x, with gradients over the numeric coordinates when asked.
    fn predict(&self, x: &[f64], want_grad: bool) -> (f64, f64, Vec<f64>, Vec<f64>) {
        let n = self.x.len();
        let d = x.len();
        let mut kv = vec![0.0; n];
        let mut gvals = vec![0.0; n];
        for j in 0..n {
            let (m, g) = matern(r2(x, &self.x[j], &self.is_cat, &self.inv_ls2));
            kv[j] = self.signal * m;
            gvals[j] = self.signal * g;
        }
        let mu: f64 = kv.iter().zip(&self.alpha).map(|(a, b)| a * b).sum();
        let v = solve_lower(&self.l, n, &kv);
        let var = (self.signal - v.iter().map(|a| a * a).sum::<f64>()).max(1e-12);
        if !want_grad {
            return (mu, var, Vec::new(), Vec::new());
        }
        let w = crate::linalg::solve_upper_t(&self.l, n, &v);
        let mut dmu = vec![0.0; d];
        let mut dvar = vec![0.0; d];
        for j in 0..n {
            let cj = -gvals[j];
            for i in 0..d {
                if self.is_cat[i] {
                    continue;
                }
                let dk = cj * (x[i] - self.x[j][i]) * self.inv_ls2[i];
                dmu[i] += self.alpha[j] * dk;
                dvar[i] -= 2.0 * w[j] * dk;
            }
        }
        (mu, var, dmu, dvar)
    }
}

/// The acquisition to maximise at x (value and gradient over numeric coordinates).
struct Acq<'a> {
    gp: &'a Gp,
    kind: Acquisition,
    best: f64,
    sqrt_beta: f64,
}

impl Acq<'_> {
    fn value(&self, x: &[f64]) -> f64 {
        let (mu, var, _, _) = self.gp.predict(x, false);
        let sd = var.sqrt();
        match self.kind {
            Acquisition::Ei => sd.ln() + log_h((self.best - mu) / sd),
            Acquisition::Ucb => -mu + self.sqrt_beta * sd,
        }
    }

    fn value_grad(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        let (mu, var, dmu, dvar) = self.gp.predict(x, true);
        let sd = var.sqrt();
        match self.kind {
            Acquisition::Ei => {
                let z = (self.best - mu) / sd;
                let dl = dlog_h(z);
                for i in 0..x.len() {
                    let dsd = dvar[i] / (2.0 * sd);
                    let dz = (-dmu[i] - z * dsd) / sd;
                    grad[i] = dsd / sd + dl * dz;
                }
                sd.ln() + log_h(z)
            }
            Acquisition::Ucb => {
                for i in 0..x.len() {
                    let dsd = dvar[i] / (2.0 * sd);
                    grad[i] = -dmu[i] + self.sqrt_beta * dsd;
                }
                -mu + self.sqrt_beta * sd
            }
        }
    }
}

/// The default share of observations modelled as they are: worse values are
/// capped at this quantile (see `fit_clipped`).
const CLIP_QUANTILE: f64 = 0.5;

/// Fits the GP to `ys` (minimisation) after capping every value worse than
/// the `q`-quantile at that quantile, then standardising. The bad half of the
/// space then reads as a flat plateau instead of dominating the fit (steep
/// walls of a heavy-tailed objective otherwise shorten the lengthscales and
/// inflate the noise where it does not matter); the good region keeps its
/// real values. Returns the GP and the standardised values it was fit to.
fn fit_clipped(xs: &[Vec<f64>], ys: &[f64], is_cat: &[bool], q: f64) -> Option<(Gp, Vec<f64>)> {
    let mut sorted = ys.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let cap = sorted[((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize];
    let w: Vec<f64> = ys.iter().map(|y| y.min(cap)).collect();
    let n = w.len() as f64;
    let mean = w.iter().sum::<f64>() / n;
    let sd = (w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let sd = if sd > 0.0 { sd } else { 1.0 };
    let z: Vec<f64> = w.iter().map(|v| (v - mean) / sd).collect();
    let (gp, _) = Gp::fit(xs.to_vec(), &z, is_cat.to_vec())?;
    Some((gp, z))
}

/// Unit coordinates of a trial over the dims (categoricals as indices).
fn encode(t: &FrozenTrial, dims: &[(&String, &Distribution)]) -> Option<Vec<f64>> {
    dims.iter()
        .map(|(name, dist)| {
            let x = t.internal(name)?;
            Some(if dist.is_categorical() { x } else { dist.to_unit(x) })
        })
        .collect()
}

/// Unit point to internal values.
fn decode(u: &[f64], dims: &[(&String, &Distribution)]) -> Vec<f64> {
    dims.iter()
        .zip(u)
        .map(|((_, dist), x)| {
            if dist.is_categorical() {
                x.round()
            } else {
                dist.from_unit(*x)
            }
        })
        .collect()
}

impl GpSampler {
    fn optimise(
        &self,
        ctx: &SampleContext,
        dims: &[(&String, &Distribution)],
        gp: &Gp,
        best: f64,
        observed: &[Vec<f64>],
    ) -> Vec<f64> {
        let d = dims.len();
        let is_cat = &gp.is_cat;
        let n_choices: Vec<usize> = dims.iter().map(|(_, dd)| dd.n_choices().unwrap_or(0)).collect();
        let acq = Acq {
            gp,
            kind: self.acquisition,
            best,
            sqrt_beta: self.beta.sqrt(),
        };
        let mut rng = ctx.rng("gp-acq");
        let shift = mix(&[ctx.seed, ctx.number, 0xACC]);
        let mut pool: Vec<Vec<f64>> = Vec::with_capacity(1400);
        for i in 0..1024u64 {
            let mut p = if d <= super::SOBOL_MAX_DIMS {
                sobol_point(i, d, shift)
            } else {
                (0..d).map(|_| rng.uniform()).collect()
            };
            for (k, v) in p.iter_mut().enumerate() {
                if is_cat[k] {
                    *v = ((*v * n_choices[k] as f64).floor()).min(n_choices[k] as f64 - 1.0);
                }
            }
            pool.push(p);
        }
        // Perturbations of the five observed points with the best predicted values.
        let mut obs_scores: Vec<(f64, usize)> = observed
            .iter()
            .enumerate()
            .map(|(i, x)| (gp.predict(x, false).0, i))
            .collect();
        obs_scores.sort_by(|a, b| a.0.total_cmp(&b.0));
        let order: Vec<usize> = obs_scores.iter().take(5).map(|(_, i)| *i).collect();
        for &i in &order {
            for _ in 0..64 {
                let mut p = observed[i].clone();
                for k in 0..d {
                    if is_cat[k] {
                        if rng.uniform() < 0.2 {
                            p[k] = rng.below(n_choices[k].max(1)) as f64;
                        }
                    } else {
                        let scale = 0.1 * (1.0 / gp.inv_ls2[k].sqrt()).min(1.0);
                        p[k] = (p[k] + scale * rng.normal()).clamp(0.0, 1.0);
                    }
                }
                pool.push(p);
            }
        }
        let mut scored: Vec<(f64, usize)> = pool.iter().enumerate().map(|(i, p)| (acq.value(p), i)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let lower = vec![0.0; d];
        let upper = vec![1.0; d];
        let mut best_point: Option<(f64, Vec<f64>)> = None;
        for &(_, i) in scored.iter().take(5) {
            let start = pool[i].clone();
            let cats: Vec<(usize, f64)> = (0..d).filter(|&k| is_cat[k]).map(|k| (k, start[k])).collect();
            let (mut x, _) = minimize_box(
                |x, g| {
                    let mut xx = x.to_vec();
                    for &(k, v) in &cats {
                        xx[k] = v;
                    }
                    let v = acq.value_grad(&xx, g);
                    for (k, gk) in g.iter_mut().enumerate() {
                        *gk = if is_cat[k] { 0.0 } else { -*gk };
                    }
                    -v
                },
                &start,
                &lower,
                &upper,
                100,
            );
            for &(k, v) in &cats {
                x[k] = v;
            }
            // One sweep over each categorical's choices.
            for k in 0..d {
                if !is_cat[k] {
                    continue;
                }
                let mut best_c = (acq.value(&x), x[k]);
                for c in 0..n_choices[k] {
                    let mut y = x.clone();
                    y[k] = c as f64;
                    let v = acq.value(&y);
                    if v > best_c.0 {
                        best_c = (v, c as f64);
                    }
                }
                x[k] = best_c.1;
            }
            let v = acq.value(&x);
            if v.is_finite() && best_point.as_ref().is_none_or(|(bv, _)| v > *bv) {
                best_point = Some((v, x));
            }
        }
        match best_point {
            Some((_, x)) => x,
            None => pool.swap_remove(scored.first().map(|s| s.1).unwrap_or(0)),
        }
    }
}

impl Sampler for GpSampler {
    fn name(&self) -> &'static str {
        "gp"
    }

    fn sample_relative(&self, ctx: &SampleContext, space: &BTreeMap<String, Distribution>) -> Result<Relative> {
        if space.is_empty() {
            return Ok(Relative::default());
        }
        let dims: Vec<(&String, &Distribution)> = space.iter().collect();
        let direction = ctx.directions.first().copied();
        let mut xs: Vec<Vec<f64>> = Vec::new();
        let mut ys: Vec<f64> = Vec::new();
        let mut pending: Vec<Vec<f64>> = Vec::new();
        for t in ctx.trials.iter().filter(|t| t.number != ctx.number) {
            let Some(x) = encode(t, &dims) else { continue };
            match t.state {
                TrialState::Complete => {
                    if let (Some(v), Some(d)) = (t.value(), direction) {
                        if v.is_finite() {
                            xs.push(x);
                            ys.push(d.to_min(v));
                        }
                    }
                }
                TrialState::Running if self.constant_liar => pending.push(x),
                _ => {}
            }
        }
        let startup = || {
            let u = qmc_unit_point(ctx, dims.len());
            Relative {
                params: dims.iter().map(|(n, _)| (*n).clone()).zip(decode(&u, &dims)).collect(),
                attrs: BTreeMap::new(),
            }
        };
        if !ctx.single_objective() || xs.len() < self.n_startup.max(2) {
            return Ok(startup());
        }
        let is_cat: Vec<bool> = dims.iter().map(|(_, d)| d.is_categorical()).collect();
        let Some((mut gp, y_std)) = fit_clipped(&xs, &ys, &is_cat, CLIP_QUANTILE) else {
            return Ok(startup());
        };
        let best = y_std.iter().copied().fold(f64::INFINITY, f64::min);
        if !pending.is_empty() {
            // Kriging believer: pending points take their predicted value.
            let theta = gp.theta();
            let mut x_all = xs.clone();
            let mut y_all = y_std.clone();
            for p in &pending {
                y_all.push(gp.predict(p, false).0);
                x_all.push(p.clone());
            }
            if let Some(g2) = Gp::with_hyper(x_all, &y_all, is_cat.clone(), &theta) {
                gp = g2;
            }
        }
        let u = self.optimise(ctx, &dims, &gp, best, &xs);
        let mut internal = decode(&u, &dims);
        // Never propose an exact repeat of an observed point: take a fresh quasi-random one instead.
        let repeat = ctx.trials.iter().any(|t| {
            t.number != ctx.number
                && dims
                    .iter()
                    .zip(&internal)
                    .all(|((n, _), x)| t.internal(n).is_some_and(|v| v == *x))
        });
        if repeat {
            let mut rng = Rng::new(mix(&[ctx.seed, ctx.number, 0xD0B]));
            internal = dims.iter().map(|(_, d)| sample_uniform(&mut rng, d)).collect();
        }
        Ok(Relative {
            params: dims.iter().map(|(n, _)| (*n).clone()).zip(internal).collect(),
            attrs: BTreeMap::new(),
        })
    }

    fn sample_independent(
        &self,
        ctx: &SampleContext,
        _trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> Result<f64> {
        Ok(sample_uniform(&mut ctx.rng(name), dist))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likelihood_gradient_matches_finite_differences() {
        let mut rng = Rng::new(4);
        let x: Vec<Vec<f64>> = (0..12)
            .map(|_| vec![rng.uniform(), rng.uniform(), rng.below(3) as f64])
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|p| (3.0 * p[0]).sin() + p[1] * p[1] + 0.3 * p[2])
            .collect();
        let is_cat = vec![false, false, true];
        let theta = vec![-0.5, 0.2, 0.1, 0.3, (1e-3f64).ln()];
        let mut g = vec![0.0; 5];
        neg_log_posterior(&x, &y, &is_cat, &theta, &mut g);
        for i in 0..5 {
            let mut tp = theta.clone();
            let mut tm = theta.clone();
            tp[i] += 1e-5;
            tm[i] -= 1e-5;
            let mut dummy = vec![0.0; 5];
            let fd = (neg_log_posterior(&x, &y, &is_cat, &tp, &mut dummy)
                - neg_log_posterior(&x, &y, &is_cat, &tm, &mut dummy))
                / 2e-5;
            assert!(
                (fd - g[i]).abs() < 1e-4 * fd.abs().max(1.0),
                "theta[{i}]: fd {fd} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn acquisition_gradient_matches_finite_differences() {
        let mut rng = Rng::new(9);
        let x: Vec<Vec<f64>> = (0..15).map(|_| vec![rng.uniform(), rng.uniform()]).collect();
        let y: Vec<f64> = x.iter().map(|p| (p[0] - 0.3).powi(2) + (p[1] - 0.6).powi(2)).collect();
        let (gp, _) = Gp::fit(x, &y, vec![false, false]).unwrap();
        for kind in [Acquisition::Ei, Acquisition::Ucb] {
            let acq = Acq {
                gp: &gp,
                kind,
                best: y.iter().copied().fold(f64::INFINITY, f64::min),
                sqrt_beta: 1.4,
            };
            let p = vec![0.41, 0.52];
            let mut g = vec![0.0; 2];
            acq.value_grad(&p, &mut g);
            for i in 0..2 {
                let mut a = p.clone();
                let mut b = p.clone();
                a[i] += 1e-6;
                b[i] -= 1e-6;
                let fd = (acq.value(&a) - acq.value(&b)) / 2e-6;
                assert!(
                    (fd - g[i]).abs() < 1e-3 * fd.abs().max(1.0),
                    "{kind:?} dim {i}: {fd} vs {}",
                    g[i]
                );
            }
        }
    }
}
