//! Uniform random sampling (log-uniform on log scales).

use super::{sample_uniform, SampleContext, Sampler};
use crate::error::Result;
use crate::space::Distribution;
use crate::trial::FrozenTrial;

/// Samples every parameter independently and uniformly.
pub struct RandomSampler;

impl Sampler for RandomSampler {
    fn name(&self) -> &'static str {
        "random"
    }
    fn sample_independent(
        &self,
        ctx: &SampleContext,
        _trial: &FrozenTrial,
        name: &str,
        dist: &Distribution,
    ) -> Result<f64> {
        let mut rng = ctx.rng(name);
        Ok(sample_uniform(&mut rng, dist))
    }
}
