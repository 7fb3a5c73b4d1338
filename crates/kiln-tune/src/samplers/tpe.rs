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
use crate::stats::{exp_fast, ln_fast, log_norm_mass_fast, sample_truncnorm};
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
    fn split(&self, ctx: &SampleContext, names: &[&String]) -> Option<Split> {
        let d = names.len();
        let mut rows: Vec<f64> = Vec::with_capacity(ctx.trials.len() * d);
        let mut obs: Vec<(&FrozenTrial, Group)> = Vec::with_capacity(ctx.trials.len());
        for t in ctx.trials.iter() {
            if t.number == ctx.number {
                continue;
            }
            let group = match t.state {
                TrialState::Complete if t.values.as_ref().is_some_and(|v| v.len() == ctx.directions.len()) => {
                    Group::Complete
                }
                TrialState::Pruned => Group::Pruned,
                TrialState::Running if self.constant_liar => Group::Running,
                _ => continue,
            };
            if push_row(&mut rows, t, names) {
                obs.push((&**t, group));
            }
        }
        let complete: Vec<usize> = (0..obs.len()).filter(|&i| obs[i].1 == Group::Complete).collect();
        let mut pruned: Vec<usize> = (0..obs.len()).filter(|&i| obs[i].1 == Group::Pruned).collect();
        if complete.len() + pruned.len() < self.n_startup.max(1) {
            return None;
        }
        let n_below = gamma(obs.len()).min(complete.len() + pruned.len()).max(1);
        // The good group: the best complete trials, then pruned ones ranked by
        // (steps reached, last value). Only the first `n_below` of that ranking
        // matter, so the complete trials are selected rather than sorted.
        let mut is_below = vec![false; obs.len()];
        let from_complete = n_below.min(complete.len());
        if ctx.single_objective() {
            let d0 = ctx.directions[0];
            let mut keyed: Vec<((i64, u64), usize)> = complete
                .iter()
                .map(|&i| {
                    let t = obs[i].0;
                    let v = d0.to_min(t.value().unwrap_or(f64::NAN));
                    // total order on floats as integers
                    let bits = v.to_bits() as i64;
                    ((bits ^ ((((bits >> 63) as u64) >> 1) as i64), t.number), i)
                })
                .collect();
            if from_complete > 0 && from_complete < keyed.len() {
                keyed.select_nth_unstable(from_complete - 1);
            }
            for (_, i) in keyed.iter().take(from_complete) {
                is_below[*i] = true;
            }
        } else {
            let pts: Vec<Vec<f64>> = complete
                .iter()
                .map(|&i| to_min(ctx.directions, obs[i].0.values.as_deref().unwrap_or(&[])))
                .collect();
            for k in select_best(&pts, pts.len()).into_iter().take(from_complete) {
                if let Some(&i) = complete.get(k) {
                    is_below[i] = true;
                }
            }
        }
        if n_below > from_complete {
            let d0 = ctx.directions.first().copied();
            pruned.sort_by(|&a, &b| {
                let (a, b) = (obs[a].0, obs[b].0);
                let (sa, va) = a.last_intermediate().unwrap_or((i64::MIN, f64::INFINITY));
                let (sb, vb) = b.last_intermediate().unwrap_or((i64::MIN, f64::INFINITY));
                let (va, vb) = match d0 {
                    Some(d) => (d.to_min(va), d.to_min(vb)),
                    None => (va, vb),
                };
                sb.cmp(&sa).then(va.total_cmp(&vb)).then(a.number.cmp(&b.number))
            });
            for &i in pruned.iter().take(n_below - from_complete) {
                is_below[i] = true;
            }
        }
        let (mut below, mut above): (Vec<usize>, Vec<usize>) = (0..obs.len()).partition(|&i| is_below[i]);
        // Trial-number order (the storages list trials in it, so this is a check).
        below.sort_by_key(|&i| obs[i].0.number);
        above.sort_by_key(|&i| obs[i].0.number);
        Some(Split { d, rows, below, above })
    }

    /// Samples `space` jointly (or one parameter) from the split; internal values.
    fn sample_group(
        &self,
        rng: &mut Rng,
        split: &Split,
        space: &[(&String, &Distribution)],
        multivariate: bool,
    ) -> Vec<f64> {
        let l = Parzen::build(split, &split.below, space, multivariate, self.prior_weight);
        let g = Parzen::build(split, &split.above, space, multivariate, self.prior_weight);
        let mut scratch = Vec::with_capacity(g.log_weights.len());
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
            let score = l.log_pdf(&snapped, &mut scratch) - g.log_pdf(&snapped, &mut scratch);
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, internal));
            }
        }
        best.map(|(_, x)| x).unwrap_or_default()
    }
}

/// Which part of the history an observation comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Complete,
    Pruned,
    /// Counted as bad (the constant liar).
    Running,
}

/// Appends `t`'s internal values of `names` (sorted) to `rows`; false (and
/// nothing appended) when `t` lacks one of them.
fn push_row(rows: &mut Vec<f64>, t: &FrozenTrial, names: &[&String]) -> bool {
    // `names` and each trial's params are both sorted: one merge walk per trial.
    let start = rows.len();
    let mut it = t.params.iter();
    for n in names {
        let found = loop {
            let Some((k, p)) = it.next() else {
                break None;
            };
            match k.as_str().cmp(n.as_str()) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => break Some(p.internal),
                std::cmp::Ordering::Greater => break None,
            }
        };
        match found {
            Some(x) => rows.push(x),
            None => {
                rows.truncate(start);
                return false;
            }
        }
    }
    true
}

/// The observations of a split: their internal values (row-major, `d` per
/// row) and the rows of the good (`below`) and bad (`above`) groups, each in
/// trial-number order.
struct Split {
    d: usize,
    rows: Vec<f64>,
    below: Vec<usize>,
    above: Vec<usize>,
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
    /// Smoothed one-hot kernels: each component puts `log_hit` on its own
    /// choice and `log_miss` on the others; the prior component (the last)
    /// puts `log_flat` on every choice.
    Cat {
        /// The choice of each component (the prior's entry is unused).
        choice: Vec<usize>,
        k: usize,
        log_hit: f64,
        log_miss: f64,
        log_flat: f64,
    },
}

struct Parzen {
    log_weights: Vec<f64>,
    weights: Vec<f64>,
    kernels: Vec<Kernel>,
}

impl Parzen {
    /// The mixture over the rows `group` of `split` (plus the prior component).
    fn build(
        split: &Split,
        group: &[usize],
        space: &[(&String, &Distribution)],
        multivariate: bool,
        prior_weight: f64,
    ) -> Parzen {
        let n = group.len();
        let mut weights = age_weights(n);
        weights.push(prior_weight);
        let total: f64 = weights.iter().sum();
        let weights: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let log_weights = weights.iter().map(|w| ln_fast(w.max(1e-300))).collect();
        let d = space.len();
        let column = |j: usize| group.iter().map(move |&i| split.rows[i * split.d + j]);
        let kernels = space
            .iter()
            .enumerate()
            .map(|(j, (_, dist))| match dist {
                Distribution::Categorical { choices } => {
                    let k = choices.len().max(1);
                    let base = prior_weight / k as f64;
                    let z = 1.0 + prior_weight;
                    let mut choice: Vec<usize> = column(j).map(|x| (x.round().max(0.0) as usize).min(k - 1)).collect();
                    choice.push(0);
                    Kernel::Cat {
                        choice,
                        k,
                        log_hit: ((base + 1.0) / z).ln(),
                        log_miss: ((base + 0.0) / z).ln(),
                        log_flat: (1.0 / k as f64).ln(),
                    }
                }
                _ => {
                    let (lo, hi) = dist.transformed_bounds();
                    let range = (hi - lo).max(1e-12);
                    let mut mus: Vec<f64> = Vec::with_capacity(n + 1);
                    mus.extend(column(j).map(|x| dist.transform(x)));
                    mus.push((lo + hi) / 2.0);
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
                    let log_consts = mus
                        .iter()
                        .zip(&sigmas)
                        .map(|(mu, s)| -ln_fast(*s) - log_norm_mass_fast((lo - mu) / s, (hi - mu) / s) - LN_SQRT_2PI)
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
        let prior = c + 1 == self.weights.len();
        self.kernels
            .iter()
            .map(|k| match k {
                Kernel::Num {
                    mus, sigmas, lo, hi, ..
                } => sample_truncnorm(rng, mus[c], sigmas[c], *lo, *hi),
                Kernel::Cat {
                    choice,
                    k,
                    log_hit,
                    log_miss,
                    log_flat,
                } => {
                    let p: Vec<f64> = (0..*k)
                        .map(|j| match (prior, j == choice[c]) {
                            (true, _) => log_flat.exp(),
                            (false, true) => log_hit.exp(),
                            (false, false) => log_miss.exp(),
                        })
                        .collect();
                    rng.weighted(&p) as f64
                }
            })
            .collect()
    }

    /// Log density of the mixture at `x`; `acc` is scratch space.
    fn log_pdf(&self, x: &[f64], acc: &mut Vec<f64>) -> f64 {
        acc.clear();
        acc.extend_from_slice(&self.log_weights);
        let m = acc.len();
        for (k, &xv) in self.kernels.iter().zip(x) {
            match k {
                Kernel::Num {
                    mus,
                    inv_sigmas,
                    log_consts,
                    ..
                } => {
                    for (((a, mu), inv), lc) in acc
                        .iter_mut()
                        .zip(&mus[..m])
                        .zip(&inv_sigmas[..m])
                        .zip(&log_consts[..m])
                    {
                        let z = (xv - mu) * inv;
                        *a += -0.5 * z * z + lc;
                    }
                }
                Kernel::Cat {
                    choice,
                    k,
                    log_hit,
                    log_miss,
                    log_flat,
                } => {
                    let j = xv.round().max(0.0) as usize;
                    if j >= *k {
                        for a in acc.iter_mut() {
                            *a += f64::NEG_INFINITY;
                        }
                        continue;
                    }
                    // The last component is the prior.
                    let n = m - 1;
                    for (a, c) in acc[..n].iter_mut().zip(&choice[..n]) {
                        *a += if *c == j { *log_hit } else { *log_miss };
                    }
                    acc[n] += *log_flat;
                }
            }
        }
        let mx = max_of(acc);
        if !mx.is_finite() {
            return mx;
        }
        mx + ln_fast(sum_exp_from(acc, mx))
    }
}

/// The largest value (NaN ignored; -inf when empty), four lanes at a time.
fn max_of(v: &[f64]) -> f64 {
    let mut lanes = [f64::NEG_INFINITY; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l = l.max(*x);
        }
    }
    rest.iter()
        .fold(lanes[0].max(lanes[1]).max(lanes[2].max(lanes[3])), |m, x| m.max(*x))
}

/// Sum of exp(a - mx) over `v` (overwritten with the terms). Terms below
/// exp(-40) do not change a sum that holds exp(0), and are left out (as are
/// NaN and -inf). The terms are added in four lanes, a fixed order, so the
/// same bits come out everywhere.
fn sum_exp_from(v: &mut [f64], mx: f64) -> f64 {
    for a in v.iter_mut() {
        let z = *a - mx;
        *a = if z > -40.0 { exp_fast(z) } else { 0.0 };
    }
    let mut lanes = [0.0; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l += *x;
        }
    }
    rest.iter()
        .fold((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]), |s, x| s + x)
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
        let Some(split) = self.split(ctx, &names) else {
            return Ok(Relative::default());
        };
        let group: Vec<(&String, &Distribution)> = space.iter().collect();
        let mut rng = ctx.rng("tpe-relative");
        let x = self.sample_group(&mut rng, &split, &group, true);
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
        let Some(split) = self.split(ctx, &[&key]) else {
            return Ok(sample_uniform(&mut rng, dist));
        };
        let x = self.sample_group(&mut rng, &split, &[(&key, dist)], false);
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
