//! CMA-ES over the numeric parameters (unit cube, log scales first).
//!
//! The optimiser state is not stored: each trial replays the generations from
//! the COMPLETE trials tagged `cma:generation` (the first `population_size`
//! of each generation, by number), so any worker reconstructs the same state.
//! A generation is updated once `population_size` of its trials are complete;
//! until then new trials belong to the current generation. Categorical
//! parameters are sampled uniformly at random.

use std::collections::BTreeMap;

use super::{sample_uniform, Relative, SampleContext, Sampler, SamplerConfig};
use crate::error::Result;
use crate::linalg::sym_eigen;
use crate::space::{Distribution, SearchSpace};
use crate::trial::{FrozenTrial, TrialState};

const GEN_ATTR: &str = "cma:generation";

/// CMA-ES.
pub struct CmaEsSampler {
    population: Option<usize>,
    sigma0: f64,
}

impl CmaEsSampler {
    /// From the sampler options.
    pub fn new(cfg: &SamplerConfig) -> CmaEsSampler {
        CmaEsSampler {
            population: cfg.population_size,
            sigma0: cfg.sigma0.unwrap_or(1.0 / 6.0),
        }
    }
}

/// The evolving state.
struct Cma {
    n: usize,
    mu: usize,
    weights: Vec<f64>,
    mu_eff: f64,
    c_sigma: f64,
    d_sigma: f64,
    c_c: f64,
    c1: f64,
    c_mu: f64,
    chi_n: f64,
    mean: Vec<f64>,
    sigma: f64,
    c: Vec<f64>,
    p_sigma: Vec<f64>,
    p_c: Vec<f64>,
    generation: usize,
}

impl Cma {
    fn new(n: usize, lambda: usize, sigma0: f64) -> Cma {
        let mu = lambda / 2;
        let raw: Vec<f64> = (0..mu)
            .map(|i| ((lambda as f64 + 1.0) / 2.0).ln() - ((i + 1) as f64).ln())
            .collect();
        let sum: f64 = raw.iter().sum();
        let weights: Vec<f64> = raw.iter().map(|w| w / sum).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let nf = n as f64;
        let c_sigma = (mu_eff + 2.0) / (nf + mu_eff + 5.0);
        let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (nf + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
        let c_c = (4.0 + mu_eff / nf) / (nf + 4.0 + 2.0 * mu_eff / nf);
        let c1 = 2.0 / ((nf + 1.3).powi(2) + mu_eff);
        let c_mu = (1.0 - c1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((nf + 2.0).powi(2) + mu_eff));
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            c[i * n + i] = 1.0;
        }
        Cma {
            n,
            mu,
            weights,
            mu_eff,
            c_sigma,
            d_sigma,
            c_c,
            c1,
            c_mu,
            chi_n: nf.sqrt() * (1.0 - 1.0 / (4.0 * nf) + 1.0 / (21.0 * nf * nf)),
            mean: vec![0.5; n],
            sigma: sigma0,
            c,
            p_sigma: vec![0.0; n],
            p_c: vec![0.0; n],
            generation: 0,
        }
    }

    /// B and D (C = B diag(D^2) B^T).
    fn eigen(&self) -> (Vec<f64>, Vec<f64>) {
        let (w, b) = sym_eigen(&self.c, self.n);
        (b, w.iter().map(|v| v.max(1e-20).sqrt()).collect())
    }

    /// One update from λ (point, value) pairs (minimisation).
    fn tell(&mut self, mut sols: Vec<(Vec<f64>, f64)>) {
        let n = self.n;
        sols.sort_by(|a, b| a.1.total_cmp(&b.1));
        let ys: Vec<Vec<f64>> = sols
            .iter()
            .take(self.mu)
            .map(|(x, _)| (0..n).map(|i| (x[i] - self.mean[i]) / self.sigma).collect())
            .collect();
        let mut yw = vec![0.0; n];
        for (w, y) in self.weights.iter().zip(&ys) {
            for i in 0..n {
                yw[i] += w * y[i];
            }
        }
        for i in 0..n {
            self.mean[i] += self.sigma * yw[i];
        }
        let (b, d) = self.eigen();
        // C^-1/2 yw = B D^-1 B^T yw
        let bt_yw: Vec<f64> = (0..n)
            .map(|k| (0..n).map(|i| b[i * n + k] * yw[i]).sum::<f64>() / d[k])
            .collect();
        let c_inv_half_yw: Vec<f64> = (0..n).map(|i| (0..n).map(|k| b[i * n + k] * bt_yw[k]).sum()).collect();
        let cs = self.c_sigma;
        for i in 0..n {
            self.p_sigma[i] = (1.0 - cs) * self.p_sigma[i] + (cs * (2.0 - cs) * self.mu_eff).sqrt() * c_inv_half_yw[i];
        }
        let ps_norm = self.p_sigma.iter().map(|v| v * v).sum::<f64>().sqrt();
        self.generation += 1;
        let h_denom = (1.0 - (1.0 - cs).powi(2 * self.generation as i32)).sqrt();
        let h_sigma = if ps_norm / h_denom.max(1e-12) < (1.4 + 2.0 / (n as f64 + 1.0)) * self.chi_n {
            1.0
        } else {
            0.0
        };
        let cc = self.c_c;
        for i in 0..n {
            self.p_c[i] = (1.0 - cc) * self.p_c[i] + h_sigma * (cc * (2.0 - cc) * self.mu_eff).sqrt() * yw[i];
        }
        let delta = (1.0 - h_sigma) * cc * (2.0 - cc);
        let keep = 1.0 + self.c1 * delta - self.c1 - self.c_mu;
        for i in 0..n {
            for j in 0..n {
                let mut rank_mu = 0.0;
                for (w, y) in self.weights.iter().zip(&ys) {
                    rank_mu += w * y[i] * y[j];
                }
                self.c[i * n + j] =
                    keep * self.c[i * n + j] + self.c1 * self.p_c[i] * self.p_c[j] + self.c_mu * rank_mu;
            }
        }
        self.sigma *= ((cs / self.d_sigma) * (ps_norm / self.chi_n - 1.0)).min(1.0).exp();
        self.sigma = self.sigma.clamp(1e-12, 1.0);
    }

    /// A draw from N(mean, sigma^2 C) inside the unit cube (resampled, then clipped).
    fn ask(&self, rng: &mut crate::rng::Rng) -> Vec<f64> {
        let n = self.n;
        let (b, d) = self.eigen();
        let mut last = self.mean.clone();
        for _ in 0..100 {
            let z: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let x: Vec<f64> = (0..n)
                .map(|i| self.mean[i] + self.sigma * (0..n).map(|k| b[i * n + k] * d[k] * z[k]).sum::<f64>())
                .collect();
            if x.iter().all(|v| (0.0..=1.0).contains(v)) {
                return x;
            }
            last = x;
        }
        last.iter().map(|v| v.clamp(0.0, 1.0)).collect()
    }
}

impl Sampler for CmaEsSampler {
    fn name(&self) -> &'static str {
        "cmaes"
    }

    fn relative_space(&self, ctx: &SampleContext, declared: Option<&SearchSpace>) -> BTreeMap<String, Distribution> {
        let mut s = super::default_relative_space(ctx, declared);
        s.retain(|_, d| !d.is_categorical());
        s
    }

    fn sample_relative(&self, ctx: &SampleContext, space: &BTreeMap<String, Distribution>) -> Result<Relative> {
        if space.is_empty() {
            return Ok(Relative::default());
        }
        let dims: Vec<(&String, &Distribution)> = space.iter().collect();
        let n = dims.len();
        let lambda = self
            .population
            .unwrap_or(4 + (3.0 * (n as f64).ln()).floor() as usize)
            .max(2);
        let mut cma = Cma::new(n, lambda, self.sigma0);
        let direction = ctx.directions.first().copied();
        let mut by_gen: BTreeMap<u64, Vec<(Vec<f64>, f64)>> = BTreeMap::new();
        for t in ctx.trials.iter() {
            let Some(g) = t.attrs.get(GEN_ATTR).and_then(|v| v.as_u64()) else {
                continue;
            };
            if t.state != TrialState::Complete {
                continue;
            }
            let (Some(v), Some(d)) = (t.value(), direction) else {
                continue;
            };
            let x: Option<Vec<f64>> = dims
                .iter()
                .map(|(nm, dist)| t.internal(nm).map(|x| dist.to_unit(x)))
                .collect();
            if let Some(x) = x {
                by_gen.entry(g).or_default().push((x, d.to_min(v)));
            }
        }
        loop {
            let g = cma.generation as u64;
            match by_gen.remove(&g) {
                Some(mut sols) if sols.len() >= lambda => {
                    sols.truncate(lambda);
                    cma.tell(sols);
                }
                _ => break,
            }
        }
        let mut rng = ctx.rng("cmaes");
        let u = cma.ask(&mut rng);
        let params = dims
            .iter()
            .zip(u)
            .map(|((name, dist), x)| ((*name).clone(), dist.from_unit(x)))
            .collect();
        let mut attrs = BTreeMap::new();
        attrs.insert(GEN_ATTR.to_string(), serde_json::json!(cma.generation));
        Ok(Relative { params, attrs })
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
    fn cma_minimises_a_shifted_sphere() {
        let mut cma = Cma::new(4, 8, 0.3);
        let mut rng = crate::rng::Rng::new(2);
        for _ in 0..60 {
            let sols: Vec<(Vec<f64>, f64)> = (0..8)
                .map(|_| {
                    let x = cma.ask(&mut rng);
                    let f = x.iter().map(|v| (v - 0.7).powi(2)).sum();
                    (x, f)
                })
                .collect();
            cma.tell(sols);
        }
        assert!(cma.mean.iter().all(|m| (m - 0.7).abs() < 0.01), "{:?}", cma.mean);
    }
}
