//! Tree-structured Parzen Estimator. Finished trials are split into a "good"
//! group (the best `gamma(n) = min(ceil(n / 10), 25)`) and the rest; each
//! group is modelled by a Parzen mixture (truncated Gaussians for numbers on
//! their transformed scale, smoothed one-hot kernels for categoricals, plus a
//! flat prior component); `n_ei_candidates` draws from the good model are
//! scored by log l(x) - log g(x) and the best is taken.
//!
//! Multivariate mode models the relative space jointly (one bandwidth per
//! dimension, Scott-like `0.2 n^(-1/(d+4))`); univariate mode uses the
//! neighbour-distance bandwidths with the "magic clip". With the constant
//! liar, RUNNING trials count in the bad group, so parallel workers do not all
//! sample the same point. Pruned trials rank after complete ones by (steps
//! reached, last value). Several objectives: the good group is filled by
//! non-dominated rank, ties cut by crowding distance.

use std::collections::BTreeMap;

use super::{sample_uniform, Relative, SampleContext, Sampler, SamplerConfig};
use crate::error::Result;
use crate::pareto::{select_best, to_min};
use crate::rng::Rng;
use crate::space::{Distribution, SearchSpace};
use crate::stats::{log_norm_mass_fast, sample_truncnorm};
use crate::trial::{FrozenTrial, TrialState};

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// TPE.
pub struct TpeSampler {
    n_startup: usize,
    n_candidates: usize,
    multivariate: bool,
    constant_liar: bool,
    prior_weight: f64,
}

impl TpeSampler {
    /// From the sampler options.
    pub fn new(cfg: &SamplerConfig) -> TpeSampler {
        TpeSampler {
            n_startup: cfg.n_startup_trials.unwrap_or(10),
            n_candidates: cfg.n_ei_candidates.unwrap_or(24).max(1),
            multivariate: cfg.multivariate.unwrap_or(true),
            constant_liar: cfg.constant_liar.unwrap_or(true),
            prior_weight: 1.0,
        }
    }

    /// Splits the trials that have every one of `names` into (good, bad), or
    /// None while fewer than `n_startup` of them are finished.
    fn split<'a>(&self, ctx: &'a SampleContext, names: &[&String]) -> Option<(Vec<Obs<'a>>, Vec<Obs<'a>>)> {
        // `names` and each trial's params are both sorted: one merge walk per trial.
        let row = |t: &FrozenTrial| -> Option<Vec<f64>> {
            let mut out = Vec::with_capacity(names.len());
            let mut it = t.params.iter();
            for n in names {
                loop {
                    let (k, p) = it.next()?;
                    match k.as_str().cmp(n.as_str()) {
                        std::cmp::Ordering::Less => continue,
                        std::cmp::Ordering::Equal => {
                            out.push(p.internal);
                            break;
                        }
                        std::cmp::Ordering::Greater => return None,
                    }
                }
            }
            Some(out)
        };
        let mut complete: Vec<Obs<'a>> = Vec::new();
        let mut pruned: Vec<Obs<'a>> = Vec::new();
        let mut running: Vec<Obs<'a>> = Vec::new();
        for t in ctx.trials.iter() {
            if t.number == ctx.number {
                continue;
            }
            let bucket = match t.state {
                TrialState::Complete if t.values.as_ref().is_some_and(|v| v.len() == ctx.directions.len()) => {
                    &mut complete
                }
                TrialState::Pruned => &mut pruned,
                TrialState::Running if self.constant_liar => &mut running,
                _ => continue,
            };
            if let Some(x) = row(t) {
                bucket.push(Obs { trial: t, x });
            }
        }
        if complete.len() + pruned.len() < self.n_startup.max(1) {
            return None;
        }
        // Order complete trials best first.
        if ctx.single_objective() {
            let d = ctx.directions[0];
            complete.sort_by_cached_key(|o| {
                let v = d.to_min(o.trial.value().unwrap_or(f64::NAN));
                // total order on floats as integers
                let bits = v.to_bits() as i64;
                (bits ^ ((((bits >> 63) as u64) >> 1) as i64), o.trial.number)
            });
        } else {
            let pts: Vec<Vec<f64>> = complete
                .iter()
                .map(|o| to_min(ctx.directions, o.trial.values.as_deref().unwrap_or(&[])))
                .collect();
            let order = select_best(&pts, pts.len());
            let mut slots: Vec<Option<Obs<'a>>> = complete.into_iter().map(Some).collect();
            complete = order.into_iter().filter_map(|i| slots[i].take()).collect();
        }
        let d0 = ctx.directions.first().copied();
        pruned.sort_by(|a, b| {
            let (sa, va) = a.trial.last_intermediate().unwrap_or((i64::MIN, f64::INFINITY));
            let (sb, vb) = b.trial.last_intermediate().unwrap_or((i64::MIN, f64::INFINITY));
            let (va, vb) = match d0 {
                Some(d) => (d.to_min(va), d.to_min(vb)),
                None => (va, vb),
            };
            sb.cmp(&sa)
                .then(va.total_cmp(&vb))
                .then(a.trial.number.cmp(&b.trial.number))
        });
        let n = complete.len() + pruned.len() + running.len();
        let n_below = gamma(n).min(complete.len() + pruned.len()).max(1);
        let mut ranked: Vec<Obs<'a>> = complete;
        ranked.extend(pruned);
        let mut above: Vec<Obs<'a>> = ranked.split_off(n_below.min(ranked.len()));
        above.extend(running);
        let mut below = ranked;
        below.sort_by_key(|o| o.trial.number);
        above.sort_by_key(|o| o.trial.number);
        Some((below, above))
    }

    /// Samples `space` jointly (or one parameter) from the split; internal values.
    fn sample_group(
        &self,
        rng: &mut Rng,
        below: &[Obs],
        above: &[Obs],
        space: &[(&String, &Distribution)],
        multivariate: bool,
    ) -> Vec<f64> {
        let l = Parzen::build(below, space, multivariate, self.prior_weight);
        let g = Parzen::build(above, space, multivariate, self.prior_weight);
        let mut best: Option<(f64, Vec<f64>)> = None;
        for _ in 0..self.n_candidates {
            let t = l.sample(rng);
            // Snap onto the distributions, and score the snapped point.
            let internal: Vec<f64> = space
                .iter()
                .zip(&t)
                .map(|((_, d), x)| if d.is_categorical() { *x } else { d.untransform(*x) })
                .collect();
            let snapped: Vec<f64> = space
                .iter()
                .zip(&internal)
                .map(|((_, d), x)| if d.is_categorical() { *x } else { d.transform(*x) })
                .collect();
            let score = l.log_pdf(&snapped) - g.log_pdf(&snapped);
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, internal));
            }
        }
        best.map(|(_, x)| x).unwrap_or_default()
    }
}

/// Size of the good group.
fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// Weights by age: the newest 25 weigh 1, older ones ramp down linearly.
fn age_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let mut w: Vec<f64> = (0..ramp)
        .map(|i| {
            if ramp == 1 {
                1.0 / n as f64
            } else {
                1.0 / n as f64 + (1.0 - 1.0 / n as f64) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect();
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

enum Kernel {
    /// Truncated Gaussians on [lo, hi] of the transformed scale.
    Num {
        mus: Vec<f64>,
        inv_sigmas: Vec<f64>,
        sigmas: Vec<f64>,
        /// -ln(sigma) - ln(mass in [lo, hi]) - ln(sqrt(2 pi)) per component.
        log_consts: Vec<f64>,
        lo: f64,
        hi: f64,
    },
    /// Per component, log probabilities of each choice.
    Cat { log_probs: Vec<Vec<f64>> },
}

/// A trial's internal values over the sampled parameters.
struct Obs<'a> {
    trial: &'a FrozenTrial,
    x: Vec<f64>,
}

struct Parzen {
    log_weights: Vec<f64>,
    weights: Vec<f64>,
    kernels: Vec<Kernel>,
}

impl Parzen {
    fn build(obs: &[Obs], space: &[(&String, &Distribution)], multivariate: bool, prior_weight: f64) -> Parzen {
        let n = obs.len();
        let mut weights = age_weights(n);
        weights.push(prior_weight);
        let total: f64 = weights.iter().sum();
        let weights: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let log_weights = weights.iter().map(|w| w.max(1e-300).ln()).collect();
        let d = space.len();
        let kernels = space
            .iter()
            .enumerate()
            .map(|(j, (_, dist))| {
                let xs: Vec<f64> = obs.iter().map(|o| o.x[j]).collect();
                match dist {
                    Distribution::Categorical { choices } => {
                        let k = choices.len().max(1);
                        let mut log_probs = Vec::with_capacity(n + 1);
                        for x in &xs {
                            let c = (x.round().max(0.0) as usize).min(k - 1);
                            let base = prior_weight / k as f64;
                            let z = 1.0 + prior_weight;
                            log_probs.push(
                                (0..k)
                                    .map(|j| ((base + if j == c { 1.0 } else { 0.0 }) / z).ln())
                                    .collect(),
                            );
                        }
                        log_probs.push(vec![(1.0 / k as f64).ln(); k]);
                        Kernel::Cat { log_probs }
                    }
                    _ => {
                        let (lo, hi) = dist.transformed_bounds();
                        let range = (hi - lo).max(1e-12);
                        let mut mus: Vec<f64> = xs.iter().map(|x| dist.transform(*x)).collect();
                        let prior_mu = (lo + hi) / 2.0;
                        mus.push(prior_mu);
                        let m = mus.len();
                        let mut sigmas = if multivariate {
                            vec![0.2 * (n.max(1) as f64).powf(-1.0 / (d as f64 + 4.0)) * range; m]
                        } else {
                            neighbour_sigmas(&mus, lo, hi)
                        };
                        let min_sigma = range / (100f64).min(1.0 + m as f64);
                        for s in &mut sigmas {
                            *s = s.clamp(min_sigma, range);
                        }
                        if let Some(last) = sigmas.last_mut() {
                            *last = range;
                        }
                        let mut last_sigma = (f64::NAN, 0.0);
                        let log_consts = mus
                            .iter()
                            .zip(&sigmas)
                            .map(|(mu, s)| {
                                if last_sigma.0 != *s {
                                    last_sigma = (*s, s.ln());
                                }
                                -last_sigma.1 - log_norm_mass_fast((lo - mu) / s, (hi - mu) / s) - LN_SQRT_2PI
                            })
                            .collect();
                        Kernel::Num {
                            inv_sigmas: sigmas.iter().map(|s| 1.0 / s).collect(),
                            mus,
                            sigmas,
                            log_consts,
                            lo,
                            hi,
                        }
                    }
                }
            })
            .collect();
        Parzen {
            log_weights,
            weights,
            kernels,
        }
    }

    /// A draw (transformed numeric values, categorical indices).
    fn sample(&self, rng: &mut Rng) -> Vec<f64> {
        let c = rng.weighted(&self.weights);
        self.kernels
            .iter()
            .map(|k| match k {
                Kernel::Num {
                    mus, sigmas, lo, hi, ..
                } => sample_truncnorm(rng, mus[c], sigmas[c], *lo, *hi),
                Kernel::Cat { log_probs } => {
                    let p: Vec<f64> = log_probs[c].iter().map(|l| l.exp()).collect();
                    rng.weighted(&p) as f64
                }
            })
            .collect()
    }

    /// Log density of the mixture at `x`.
    fn log_pdf(&self, x: &[f64]) -> f64 {
        let m = self.log_weights.len();
        let mut acc = self.log_weights.clone();
        for (k, &xv) in self.kernels.iter().zip(x) {
            match k {
                Kernel::Num {
                    mus,
                    inv_sigmas,
                    log_consts,
                    ..
                } => {
                    for c in 0..m {
                        let z = (xv - mus[c]) * inv_sigmas[c];
                        acc[c] += -0.5 * z * z + log_consts[c];
                    }
                }
                Kernel::Cat { log_probs } => {
                    let j = xv.round().max(0.0) as usize;
                    for c in 0..m {
                        acc[c] += log_probs[c].get(j).copied().unwrap_or(f64::NEG_INFINITY);
                    }
                }
            }
        }
        let mx = acc.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !mx.is_finite() {
            return mx;
        }
        // Terms below exp(-40) of the largest do not change the sum.
        mx + acc
            .iter()
            .filter(|a| **a - mx > -40.0)
            .map(|a| (a - mx).exp())
            .sum::<f64>()
            .ln()
    }
}

/// Univariate bandwidths: the larger gap to a neighbour (the end points use their one inner gap).
fn neighbour_sigmas(mus: &[f64], lo: f64, hi: f64) -> Vec<f64> {
    let m = mus.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| mus[a].total_cmp(&mus[b]));
    let sorted: Vec<f64> = order.iter().map(|&i| mus[i]).collect();
    let mut s_sorted = vec![0.0; m];
    for i in 0..m {
        let left = if i == 0 { lo } else { sorted[i - 1] };
        let right = if i + 1 == m { hi } else { sorted[i + 1] };
        s_sorted[i] = (sorted[i] - left).max(right - sorted[i]);
    }
    if m >= 2 {
        s_sorted[0] = sorted[1] - sorted[0];
        s_sorted[m - 1] = sorted[m - 1] - sorted[m - 2];
    }
    let mut out = vec![0.0; m];
    for (k, &i) in order.iter().enumerate() {
        out[i] = s_sorted[k];
    }
    out
}

impl Sampler for TpeSampler {
    fn name(&self) -> &'static str {
        "tpe"
    }

    fn relative_space(&self, ctx: &SampleContext, declared: Option<&SearchSpace>) -> BTreeMap<String, Distribution> {
        if self.multivariate {
            super::default_relative_space(ctx, declared)
        } else {
            BTreeMap::new()
        }
    }

    fn sample_relative(&self, ctx: &SampleContext, space: &BTreeMap<String, Distribution>) -> Result<Relative> {
        if space.is_empty() {
            return Ok(Relative::default());
        }
        let names: Vec<&String> = space.keys().collect();
        let Some((below, above)) = self.split(ctx, &names) else {
            return Ok(Relative::default());
        };
        let group: Vec<(&String, &Distribution)> = space.iter().collect();
        let mut rng = ctx.rng("tpe-relative");
        let x = self.sample_group(&mut rng, &below, &above, &group, true);
        Ok(Relative {
            params: names.into_iter().cloned().zip(x).collect(),
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
        let key = name.to_string();
        let mut rng = ctx.rng(name);
        let Some((below, above)) = self.split(ctx, &[&key]) else {
            return Ok(sample_uniform(&mut rng, dist));
        };
        let x = self.sample_group(&mut rng, &below, &above, &[(&key, dist)], false);
        Ok(x.first().copied().unwrap_or_else(|| sample_uniform(&mut rng, dist)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_and_gamma() {
        assert_eq!(gamma(1), 1);
        assert_eq!(gamma(10), 1);
        assert_eq!(gamma(11), 2);
        assert_eq!(gamma(1000), 25);
        let w = age_weights(30);
        assert_eq!(w.len(), 30);
        assert!(w[0] < w[4] && w[4] <= 1.0 && w[29] == 1.0);
    }

    #[test]
    fn neighbour_bandwidths() {
        let s = neighbour_sigmas(&[0.0, 1.0, 3.0], 0.0, 10.0);
        assert_eq!(s, vec![1.0, 2.0, 2.0]);
    }
}
