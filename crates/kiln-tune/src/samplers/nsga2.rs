//! NSGA-II for one or more objectives. Generations are tagged on the trials
//! (`nsga2:generation`); the parent population of generation g is the elite
//! (non-dominated rank, then crowding distance) of generation g-1's parents
//! and its COMPLETE trials, replayed from the trials so any worker agrees.
//! A child takes each parameter from one of two tournament winners (uniform
//! crossover, probability `crossover_prob`), and each parameter is resampled
//! uniformly with probability `mutation_prob` (default 1/d). Generation 0 is
//! uniform random.

use std::collections::BTreeMap;

use super::{sample_uniform, Relative, SampleContext, Sampler, SamplerConfig};
use crate::error::Result;
use crate::pareto::{crowding_distance, dominates, nondominated_fronts, select_best, to_min};
use crate::rng::Rng;
use crate::space::Distribution;
use crate::trial::{FrozenTrial, TrialState};

const GEN_ATTR: &str = "nsga2:generation";

/// NSGA-II.
pub struct Nsga2Sampler {
    population: usize,
    mutation_prob: Option<f64>,
    crossover_prob: f64,
}

impl Nsga2Sampler {
    /// From the sampler options.
    pub fn new(cfg: &SamplerConfig) -> Nsga2Sampler {
        Nsga2Sampler {
            population: cfg.population_size.unwrap_or(50).max(2),
            mutation_prob: cfg.mutation_prob,
            crossover_prob: cfg.crossover_prob.unwrap_or(0.9),
        }
    }
}

struct Member<'a> {
    trial: &'a FrozenTrial,
    objectives: Vec<f64>,
}

impl Nsga2Sampler {
    fn generation_of(&self, ctx: &SampleContext) -> u64 {
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for t in ctx.trials.iter().filter(|t| t.number != ctx.number) {
            if let Some(g) = t.attrs.get(GEN_ATTR).and_then(|v| v.as_u64()) {
                *counts.entry(g).or_default() += 1;
            }
        }
        match counts.iter().next_back() {
            None => 0,
            Some((g, c)) if *c >= self.population => g + 1,
            Some((g, _)) => *g,
        }
    }

    fn parents<'a>(&self, ctx: &'a SampleContext, generation: u64) -> Vec<Member<'a>> {
        let mut parents: Vec<Member<'a>> = Vec::new();
        for g in 0..generation {
            let mut pool: Vec<Member<'a>> = std::mem::take(&mut parents);
            for t in ctx.trials.iter() {
                if t.state == TrialState::Complete && t.attrs.get(GEN_ATTR).and_then(|v| v.as_u64()) == Some(g) {
                    if let Some(v) = &t.values {
                        if v.len() == ctx.directions.len() {
                            pool.push(Member {
                                trial: t,
                                objectives: to_min(ctx.directions, v),
                            });
                        }
                    }
                }
            }
            let pts: Vec<Vec<f64>> = pool.iter().map(|m| m.objectives.clone()).collect();
            let keep = select_best(&pts, self.population);
            let mut slots: Vec<Option<Member<'a>>> = pool.into_iter().map(Some).collect();
            parents = keep.into_iter().filter_map(|i| slots[i].take()).collect();
        }
        parents
    }
}

impl Sampler for Nsga2Sampler {
    fn name(&self) -> &'static str {
        "nsga2"
    }

    fn sample_relative(&self, ctx: &SampleContext, space: &BTreeMap<String, Distribution>) -> Result<Relative> {
        let generation = self.generation_of(ctx);
        let mut attrs = BTreeMap::new();
        attrs.insert(GEN_ATTR.to_string(), serde_json::json!(generation));
        let mut rng = ctx.rng("nsga2");
        let parents = self.parents(ctx, generation);
        let usable: Vec<&Member> = parents
            .iter()
            .filter(|m| space.keys().all(|k| m.trial.params.contains_key(k)))
            .collect();
        if usable.len() < 2 || space.is_empty() {
            let params = space
                .iter()
                .map(|(k, d)| (k.clone(), sample_uniform(&mut rng, d)))
                .collect();
            return Ok(Relative { params, attrs });
        }
        // Rank and crowding for the tournaments.
        let pts: Vec<Vec<f64>> = usable.iter().map(|m| m.objectives.clone()).collect();
        let fronts = nondominated_fronts(&pts);
        let mut rank = vec![0usize; pts.len()];
        let mut crowd = vec![0.0; pts.len()];
        for (r, f) in fronts.iter().enumerate() {
            let cd = crowding_distance(&pts, f);
            for (k, &i) in f.iter().enumerate() {
                rank[i] = r;
                crowd[i] = cd[k];
            }
        }
        let tournament = |rng: &mut Rng| {
            let a = rng.below(usable.len());
            let b = rng.below(usable.len());
            let better = if dominates(&pts[a], &pts[b]) || (rank[a] < rank[b]) {
                a
            } else if dominates(&pts[b], &pts[a]) || rank[b] < rank[a] {
                b
            } else if crowd[a] >= crowd[b] {
                a
            } else {
                b
            };
            usable[better].trial
        };
        let p1 = tournament(&mut rng);
        let p2 = tournament(&mut rng);
        let cross = rng.uniform() < self.crossover_prob;
        let m_prob = self.mutation_prob.unwrap_or(1.0 / space.len().max(1) as f64);
        let mut params = BTreeMap::new();
        for (k, d) in space {
            let from = if cross && rng.uniform() < 0.5 { p2 } else { p1 };
            let mut x = from.internal(k).unwrap_or_else(|| sample_uniform(&mut rng, d));
            if rng.uniform() < m_prob {
                x = sample_uniform(&mut rng, d);
            }
            params.insert(k.clone(), x);
        }
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
