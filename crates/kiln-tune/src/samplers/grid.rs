//! Grid search: every combination of the listed values, in order. Each new
//! trial takes the lowest grid point no trial has taken yet (so parallel
//! workers take different points); once every point is taken the grid starts
//! over. Values come from the `grid` option, else from the declared space
//! (every int up to 100 values, every choice, `grid_points` floats).

use std::collections::{BTreeMap, BTreeSet};

use super::{sample_uniform, Relative, SampleContext, Sampler, SamplerConfig};
use crate::error::{invalid, Result};
use crate::space::{Distribution, ParamValue, SearchSpace};
use crate::trial::FrozenTrial;

const GRID_ID_ATTR: &str = "grid:id";

/// Grid search.
pub struct GridSampler {
    explicit: BTreeMap<String, Vec<ParamValue>>,
    points: usize,
}

impl GridSampler {
    /// From the sampler options.
    pub fn new(cfg: &SamplerConfig) -> Result<GridSampler> {
        let explicit = cfg.grid.clone().unwrap_or_default();
        for (k, v) in &explicit {
            if v.is_empty() {
                return Err(invalid(format!("grid sampler: parameter '{k}' lists no values")));
            }
        }
        Ok(GridSampler {
            explicit,
            points: cfg.grid_points.unwrap_or(5).max(1),
        })
    }

    /// The values of one distribution on the grid.
    pub fn values_of(&self, dist: &Distribution) -> Vec<ParamValue> {
        match dist {
            Distribution::Categorical { choices } => choices.clone(),
            Distribution::Int { low, high, step, .. } if (high - low) / step < 100 => (0..=(high - low) / step)
                .map(|k| ParamValue::Int(low + k * step))
                .collect(),
            _ => {
                let (lo, hi) = match dist {
                    Distribution::Float {
                        low, high, log: true, ..
                    } => (low.ln(), high.ln()),
                    Distribution::Int {
                        low, high, log: true, ..
                    } => ((*low as f64).ln(), (*high as f64).ln()),
                    Distribution::Float { low, high, .. } => (*low, *high),
                    Distribution::Int { low, high, .. } => (*low as f64, *high as f64),
                    Distribution::Categorical { .. } => (0.0, 0.0),
                };
                let n = self.points;
                let mut out: Vec<ParamValue> = Vec::new();
                for k in 0..n {
                    let t = if n == 1 {
                        (lo + hi) / 2.0
                    } else {
                        lo + (hi - lo) * k as f64 / (n - 1) as f64
                    };
                    let x = dist.untransform(t);
                    let v = dist.to_external(x);
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                out
            }
        }
    }

    /// The grid's dimensions: explicit values first, then declared parameters.
    fn dims(&self, declared: &BTreeMap<String, Distribution>) -> Vec<(String, Vec<ParamValue>)> {
        let mut out: Vec<(String, Vec<ParamValue>)> =
            self.explicit.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (k, d) in declared {
            if !self.explicit.contains_key(k) {
                out.push((k.clone(), self.values_of(d)));
            }
        }
        out
    }

    /// The number of points of the grid over a declared space.
    pub fn size(&self, space: Option<&SearchSpace>) -> u64 {
        let declared = space.map(|s| s.unconditional()).unwrap_or_default();
        self.dims(&declared)
            .iter()
            .fold(1u64, |acc, (_, v)| acc.saturating_mul(v.len() as u64))
    }

    fn decode(dims: &[(String, Vec<ParamValue>)], mut id: u64) -> BTreeMap<String, ParamValue> {
        let mut out = BTreeMap::new();
        for (name, values) in dims.iter().rev() {
            let n = values.len().max(1) as u64;
            if let Some(v) = values.get((id % n) as usize) {
                out.insert(name.clone(), v.clone());
            }
            id /= n;
        }
        out
    }
}

impl Sampler for GridSampler {
    fn name(&self) -> &'static str {
        "grid"
    }

    fn relative_space(&self, _ctx: &SampleContext, declared: Option<&SearchSpace>) -> BTreeMap<String, Distribution> {
        declared.map(|s| s.unconditional()).unwrap_or_default()
    }

    fn sample_relative(&self, ctx: &SampleContext, space: &BTreeMap<String, Distribution>) -> Result<Relative> {
        let dims = self.dims(space);
        if dims.is_empty() {
            return Err(invalid(
                "the grid sampler needs a declared search space or `grid` values for each parameter",
            ));
        }
        let total = dims.iter().fold(1u64, |acc, (_, v)| acc.saturating_mul(v.len() as u64));
        let taken: BTreeSet<u64> = ctx
            .trials
            .iter()
            .filter(|t| t.number != ctx.number)
            .filter_map(|t| t.attrs.get(GRID_ID_ATTR).and_then(|v| v.as_u64()))
            .collect();
        let round = taken.len() as u64 / total.max(1);
        let id = (0..total)
            .find(|i| !taken.contains(&(i + round * total)))
            .map(|i| i + round * total)
            .unwrap_or(round * total);
        let values = GridSampler::decode(&dims, id % total.max(1));
        let mut params = BTreeMap::new();
        for (name, dist) in space {
            if let Some(v) = values.get(name) {
                let x = dist
                    .to_internal(v)
                    .map_err(|e| invalid(format!("grid value for '{name}': {}", e.message)))?;
                params.insert(name.clone(), x);
            }
        }
        let mut attrs = BTreeMap::new();
        attrs.insert(GRID_ID_ATTR.to_string(), serde_json::json!(id));
        Ok(Relative { params, attrs })
    }

    fn sample_independent(
        &self,
        ctx: &SampleContext,
        trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> Result<f64> {
        if let (Some(id), Some(values)) = (
            trial.attrs.get(GRID_ID_ATTR).and_then(|v| v.as_u64()),
            self.explicit.get(name),
        ) {
            let dims = self.dims(&BTreeMap::new());
            let total = dims.iter().fold(1u64, |acc, (_, v)| acc.saturating_mul(v.len() as u64));
            if let Some(v) = GridSampler::decode(&dims, id % total.max(1)).get(name) {
                return dist
                    .to_internal(v)
                    .map_err(|e| invalid(format!("grid value for '{name}': {}", e.message)));
            }
            let _ = values;
        }
        Ok(sample_uniform(&mut ctx.rng(name), dist))
    }
}
