//! Quasi-random sampling: a Sobol sequence (Joe and Kuo's direction numbers,
//! first 32 dimensions) with a random digital shift from the study seed.
//! Trial `n` takes point `n`, so parallel workers get distinct points.
//! Parameters beyond the 32nd, and those sampled independently, are uniform random.

use std::collections::BTreeMap;

use super::{sample_uniform, Relative, SampleContext, Sampler};
use crate::error::Result;
use crate::rng::{mix, Rng};
use crate::space::Distribution;
use crate::trial::FrozenTrial;

/// Dimensions with direction numbers.
pub const SOBOL_MAX_DIMS: usize = 32;

/// (degree s, coefficients a, initial direction numbers m) for dimensions 2..=32.
const DIRECTIONS: [(u32, u32, &[u32]); 31] = [
    (1, 0, &[1]),
    (2, 1, &[1, 3]),
    (3, 1, &[1, 3, 1]),
    (3, 2, &[1, 1, 1]),
    (4, 1, &[1, 1, 3, 3]),
    (4, 4, &[1, 3, 5, 13]),
    (5, 2, &[1, 1, 5, 5, 17]),
    (5, 4, &[1, 1, 5, 5, 5]),
    (5, 7, &[1, 1, 7, 11, 19]),
    (5, 11, &[1, 1, 5, 1, 1]),
    (5, 13, &[1, 1, 1, 3, 11]),
    (5, 14, &[1, 3, 5, 5, 31]),
    (6, 1, &[1, 3, 3, 9, 7, 49]),
    (6, 13, &[1, 1, 1, 15, 21, 21]),
    (6, 16, &[1, 3, 1, 13, 27, 49]),
    (6, 19, &[1, 1, 1, 15, 7, 5]),
    (6, 22, &[1, 3, 1, 15, 13, 25]),
    (6, 25, &[1, 1, 5, 5, 19, 61]),
    (7, 1, &[1, 3, 7, 11, 23, 15, 103]),
    (7, 4, &[1, 3, 7, 13, 13, 15, 69]),
    (7, 7, &[1, 1, 3, 13, 7, 35, 63]),
    (7, 8, &[1, 3, 5, 9, 1, 25, 53]),
    (7, 14, &[1, 3, 1, 13, 9, 35, 107]),
    (7, 19, &[1, 3, 1, 5, 27, 61, 31]),
    (7, 21, &[1, 1, 5, 11, 19, 41, 61]),
    (7, 28, &[1, 3, 5, 3, 3, 13, 69]),
    (7, 31, &[1, 1, 7, 13, 1, 19, 1]),
    (7, 32, &[1, 3, 7, 5, 13, 19, 59]),
    (7, 37, &[1, 1, 3, 9, 25, 29, 41]),
    (7, 41, &[1, 3, 5, 13, 23, 1, 55]),
    (7, 42, &[1, 3, 7, 3, 13, 59, 17]),
];

/// The 32 direction numbers (scaled to 32 bits) of dimension `dim` (0-based).
fn direction_numbers(dim: usize) -> [u32; 32] {
    let mut v = [0u32; 32];
    if dim == 0 {
        for (k, slot) in v.iter_mut().enumerate() {
            *slot = 1u32 << (31 - k);
        }
        return v;
    }
    let (s, a, m) = DIRECTIONS[dim - 1];
    let s = s as usize;
    for k in 0..32 {
        if k < s {
            v[k] = m[k] << (31 - k);
        } else {
            let mut x = v[k - s] ^ (v[k - s] >> s);
            for j in 1..s {
                if (a >> (s - 1 - j)) & 1 == 1 {
                    x ^= v[k - j];
                }
            }
            v[k] = x;
        }
    }
    v
}

/// Point `index` of the Sobol sequence in `dims` dimensions (<= 32), digitally
/// shifted by `shift_seed` (0 keeps the plain sequence), each coordinate in [0, 1).
pub fn sobol_point(index: u64, dims: usize, shift_seed: u64) -> Vec<f64> {
    let mut shift_rng = Rng::new(shift_seed);
    (0..dims.min(SOBOL_MAX_DIMS))
        .map(|d| {
            let v = direction_numbers(d);
            // Gray-code order (the order of Joe and Kuo's reference generator).
            let mut x = 0u32;
            let mut i = index ^ (index >> 1);
            let mut k = 0;
            while i > 0 && k < 32 {
                if i & 1 == 1 {
                    x ^= v[k];
                }
                i >>= 1;
                k += 1;
            }
            let shift = if shift_seed == 0 {
                0
            } else {
                shift_rng.next_u64() as u32
            };
            f64::from(x ^ shift) / 4_294_967_296.0
        })
        .collect()
}

/// Samples the relative space jointly from a shifted Sobol sequence.
pub struct SobolSampler;

/// The unit point of trial `number` over `space` (Sobol for the first 32 dims, random after).
pub(crate) fn qmc_unit_point(ctx: &SampleContext, n_dims: usize) -> Vec<f64> {
    let mut u = sobol_point(ctx.number, n_dims, mix(&[ctx.seed, 0x5_0B01]));
    let mut rng = ctx.rng("sobol-extra");
    while u.len() < n_dims {
        u.push(rng.uniform());
    }
    u
}

impl Sampler for SobolSampler {
    fn name(&self) -> &'static str {
        "sobol"
    }
    fn sample_relative(&self, ctx: &SampleContext, space: &BTreeMap<String, Distribution>) -> Result<Relative> {
        let u = qmc_unit_point(ctx, space.len());
        let params = space
            .iter()
            .zip(u)
            .map(|((name, dist), x)| (name.clone(), dist.from_unit(x)))
            .collect();
        Ok(Relative {
            params,
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
    fn first_points_are_the_known_sequence() {
        let want = [
            [0.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [0.75, 0.25, 0.25],
            [0.25, 0.75, 0.75],
            [0.375, 0.375, 0.625],
            [0.875, 0.875, 0.125],
            [0.625, 0.125, 0.875],
            [0.125, 0.625, 0.375],
            [0.1875, 0.3125, 0.9375],
            [0.6875, 0.8125, 0.4375],
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(sobol_point(i as u64, 3, 0), w.to_vec(), "point {i}");
        }
    }

    #[test]
    fn every_pair_of_dimensions_is_stratified() {
        // 256 points of a digitally shifted Sobol sequence fill each of the 256
        // 1-d cells once, and each cell of a 2x2 grid over any two dimensions
        // 64 times; 4x4 grids hold 16 each over the first 12 dimensions.
        let n = 256u64;
        let pts: Vec<Vec<f64>> = (0..n).map(|i| sobol_point(i, 32, 99)).collect();
        for d1 in 0..32 {
            let mut cells = vec![0; 256];
            for p in &pts {
                cells[(p[d1] * 256.0) as usize] += 1;
            }
            assert!(cells.iter().all(|&c| c == 1), "dim {d1}");
            for d2 in (d1 + 1)..32 {
                let (cells, want) = if d2 < 12 { (4, 16) } else { (2, 64) };
                let mut grid = vec![0u32; cells * cells];
                for p in &pts {
                    grid[(p[d1] * cells as f64) as usize * cells + (p[d2] * cells as f64) as usize] += 1;
                }
                assert!(grid.iter().all(|&c| c == want), "dims {d1},{d2}: {grid:?}");
            }
        }
    }
}
