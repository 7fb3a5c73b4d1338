//! Parameter importances: functional ANOVA over a random forest (the method
//! of Hutter et al., 2014, as in Optuna's default evaluator).
//!
//! A forest of 64 regression trees (bootstrap samples, split on every
//! feature, depth <= 64) is fit to the COMPLETE trials' values over the
//! parameters every one of them has (numbers on their unit scale,
//! categoricals as evenly spaced cells). For each tree the variance of the
//! tree's function over the uniform distribution of the box is split exactly
//! into main effects: the variance of the marginal `f_j(x_j)` (the tree's
//! function integrated over the other parameters) for each parameter `j`.
//! A parameter's importance is its main-effect share averaged over the
//! trees, normalised so the importances sum to 1. Interactions are not
//! attributed (their share is what the raw shares leave below 1).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{invalid, Result};
use crate::rng::Rng;
use crate::samplers::intersection_space;
use crate::space::Distribution;
use crate::trial::{Direction, FrozenTrial, TrialState};

const N_TREES: usize = 64;
const MAX_DEPTH: usize = 64;

enum Node {
    Leaf(f64),
    Split {
        feature: usize,
        threshold: f64,
        left: Box<Node>,
        right: Box<Node>,
    },
}

fn mean(ys: &[f64]) -> f64 {
    ys.iter().sum::<f64>() / ys.len().max(1) as f64
}

fn grow(x: &[Vec<f64>], y: &[f64], idx: &mut [usize], depth: usize) -> Node {
    let vals: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
    let m = mean(&vals);
    if idx.len() < 2 || depth >= MAX_DEPTH || vals.iter().all(|v| *v == vals[0]) {
        return Node::Leaf(m);
    }
    let d = x[0].len();
    let total: f64 = vals.iter().sum();
    let total_sq: f64 = vals.iter().map(|v| v * v).sum();
    let n = idx.len() as f64;
    let base = total_sq - total * total / n;
    let mut best: Option<(f64, usize, f64)> = None;
    for f in 0..d {
        let mut order: Vec<usize> = idx.to_vec();
        order.sort_by(|&a, &b| x[a][f].total_cmp(&x[b][f]));
        let (mut s, mut sq) = (0.0, 0.0);
        for k in 0..order.len() - 1 {
            let v = y[order[k]];
            s += v;
            sq += v * v;
            let (xa, xb) = (x[order[k]][f], x[order[k + 1]][f]);
            if xa == xb {
                continue;
            }
            let nl = (k + 1) as f64;
            let nr = n - nl;
            let sse = (sq - s * s / nl) + ((total_sq - sq) - (total - s).powi(2) / nr);
            if best.is_none_or(|(b, _, _)| sse < b) {
                best = Some((sse, f, (xa + xb) / 2.0));
            }
        }
    }
    let Some((sse, feature, threshold)) = best else {
        return Node::Leaf(m);
    };
    if sse >= base {
        return Node::Leaf(m);
    }
    let mut left: Vec<usize> = idx.iter().copied().filter(|&i| x[i][feature] <= threshold).collect();
    let mut right: Vec<usize> = idx.iter().copied().filter(|&i| x[i][feature] > threshold).collect();
    Node::Split {
        feature,
        threshold,
        left: Box::new(grow(x, y, &mut left, depth + 1)),
        right: Box::new(grow(x, y, &mut right, depth + 1)),
    }
}

/// Leaves as (box lower corner, upper corner, value).
fn leaves(node: &Node, lo: &mut Vec<f64>, hi: &mut Vec<f64>, out: &mut Vec<(Vec<f64>, Vec<f64>, f64)>) {
    match node {
        Node::Leaf(v) => out.push((lo.clone(), hi.clone(), *v)),
        Node::Split {
            feature,
            threshold,
            left,
            right,
        } => {
            let (l0, h0) = (lo[*feature], hi[*feature]);
            let t = threshold.clamp(l0, h0);
            hi[*feature] = t;
            leaves(left, lo, hi, out);
            hi[*feature] = h0;
            lo[*feature] = t;
            leaves(right, lo, hi, out);
            lo[*feature] = l0;
        }
    }
}

/// Main-effect variance shares of one tree (None when the tree is constant).
fn tree_shares(tree: &Node, d: usize) -> Option<Vec<f64>> {
    let mut ls = Vec::new();
    leaves(tree, &mut vec![0.0; d], &mut vec![1.0; d], &mut ls);
    let vol = |l: &(Vec<f64>, Vec<f64>, f64)| l.0.iter().zip(&l.1).map(|(a, b)| (b - a).max(0.0)).product::<f64>();
    let mu: f64 = ls.iter().map(|l| vol(l) * l.2).sum();
    let var: f64 = ls.iter().map(|l| vol(l) * (l.2 - mu).powi(2)).sum();
    if !(var > 1e-300) {
        return None;
    }
    let mut shares = vec![0.0; d];
    for (j, share) in shares.iter_mut().enumerate() {
        let mut cuts: Vec<f64> = ls.iter().flat_map(|l| [l.0[j], l.1[j]]).collect();
        cuts.sort_by(|a, b| a.total_cmp(b));
        cuts.dedup();
        let mut vj = 0.0;
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b <= a {
                continue;
            }
            let mid = (a + b) / 2.0;
            let fj: f64 = ls
                .iter()
                .filter(|l| l.0[j] <= mid && mid <= l.1[j])
                .map(|l| {
                    let width = l.1[j] - l.0[j];
                    if width > 0.0 {
                        l.2 * vol(l) / width
                    } else {
                        0.0
                    }
                })
                .sum();
            vj += (b - a) * (fj - mu).powi(2);
        }
        *share = vj / var;
    }
    Some(shares)
}

/// fANOVA main-effect importances of `(x, y)` (x in [0, 1]^d), normalised to sum to 1.
pub fn fanova(x: &[Vec<f64>], y: &[f64], seed: u64) -> Vec<f64> {
    let d = x.first().map(|r| r.len()).unwrap_or(0);
    let n = x.len();
    let mut rng = Rng::new(seed);
    let mut sum = vec![0.0; d];
    let mut used = 0usize;
    for _ in 0..N_TREES {
        let mut idx: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
        let tree = grow(x, y, &mut idx, 0);
        if let Some(s) = tree_shares(&tree, d) {
            for j in 0..d {
                sum[j] += s[j];
            }
            used += 1;
        }
    }
    let total: f64 = sum.iter().sum();
    if used == 0 || !(total > 0.0) {
        return vec![0.0; d];
    }
    sum.iter().map(|s| s / total).collect()
}

/// Unit coordinate of an internal value (categoricals as the centres of even cells).
fn unit(dist: &Distribution, x: f64) -> f64 {
    match dist.n_choices() {
        Some(k) => (x + 0.5) / k.max(1) as f64,
        None => dist.to_unit(x),
    }
}

/// Importances of the parameters common to every COMPLETE trial, for
/// objective `objective` (0 for single-objective studies), largest first.
pub fn importances(
    trials: &[Arc<FrozenTrial>],
    directions: &[Direction],
    objective: usize,
) -> Result<Vec<(String, f64)>> {
    if objective >= directions.len() {
        return Err(invalid(format!(
            "objective {objective} does not exist: the study has {} objective(s)",
            directions.len()
        )));
    }
    let complete: Vec<&Arc<FrozenTrial>> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.values.as_ref().is_some_and(|v| v.len() > objective))
        .collect();
    if complete.len() < 2 {
        return Err(invalid(format!(
            "importances need at least 2 complete trials, the study has {}",
            complete.len()
        )));
    }
    let space: BTreeMap<String, Distribution> = intersection_space(trials)
        .into_iter()
        .filter(|(_, d)| !d.is_single())
        .collect();
    if space.is_empty() {
        return Err(invalid("no parameter is shared by every complete trial"));
    }
    let names: Vec<&String> = space.keys().collect();
    let x: Vec<Vec<f64>> = complete
        .iter()
        .map(|t| {
            names
                .iter()
                .map(|n| unit(&space[*n], t.internal(n).unwrap_or(0.0)))
                .collect()
        })
        .collect();
    let y: Vec<f64> = complete
        .iter()
        .map(|t| t.values.as_ref().map(|v| v[objective]).unwrap_or(0.0))
        .collect();
    let imp = fanova(&x, &y, 0xF0A);
    let mut out: Vec<(String, f64)> = names.into_iter().cloned().zip(imp).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn importances_follow_the_function() {
        let mut rng = Rng::new(1);
        let x: Vec<Vec<f64>> = (0..200)
            .map(|_| vec![rng.uniform(), rng.uniform(), rng.uniform()])
            .collect();
        let y: Vec<f64> = x.iter().map(|p| 10.0 * p[0] + (6.0 * p[1]).sin()).collect();
        let imp = fanova(&x, &y, 3);
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(imp[0] > imp[1] && imp[1] > imp[2], "{imp:?}");
        assert!(imp[2] < 0.05, "{imp:?}");
    }

    #[test]
    fn a_single_tree_splits_variance_exactly() {
        // f = 1 on x0 > 0.5 else 0: all variance is x0's.
        let tree = Node::Split {
            feature: 0,
            threshold: 0.5,
            left: Box::new(Node::Leaf(0.0)),
            right: Box::new(Node::Leaf(1.0)),
        };
        let s = tree_shares(&tree, 2).unwrap();
        assert!((s[0] - 1.0).abs() < 1e-12 && s[1].abs() < 1e-12, "{s:?}");
    }
}
