//! Ranking metrics over query groups: NDCG@k and MAP.
//!
//! Rows carry a graded relevance (`>= 0`), a model score (higher ranks
//! first) and a query id; each metric is computed per query and averaged
//! over queries with equal weight.
//!
//! - **NDCG@k** is scikit-learn 1.9's `ndcg_score` applied to each query:
//!   linear gain (the relevance itself), discount `1 / log2(rank + 1)` for
//!   ranks `1..=k` and 0 after, and tied scores share the average gain of
//!   their group (`ignore_ties=False`). A query whose ideal DCG is 0 (no
//!   relevant document) scores 0, as in scikit-learn. scikit-learn refuses
//!   single-document inputs; here such a query scores 1 if relevant, else 0.
//! - **MAP** is the mean over queries of the average precision of the
//!   ranking (scikit-learn's `average_precision_score` with relevance `> 0`
//!   as the positive class, ties handled as there). Queries with no relevant
//!   document are skipped; if no query has one the result is `NaN`.

use std::collections::BTreeMap;

use crate::check;
use crate::curve::binary_average_precision;
use crate::error::{MetricError, Result};

/// Mean NDCG over queries, cut at `k` (all documents when `None`).
pub fn ndcg(relevance: &[f64], scores: &[f64], query: &[u64], k: Option<usize>) -> Result<f64> {
    if k == Some(0) {
        return Err(MetricError::new("NDCG cut-off k must be at least 1"));
    }
    let groups = groups(relevance, scores, query)?;
    let total: f64 = groups.values().map(|rows| query_ndcg(relevance, scores, rows, k)).sum();
    Ok(total / groups.len() as f64)
}

/// Mean average precision over the queries that have a relevant document.
pub fn mean_average_precision(relevance: &[f64], scores: &[f64], query: &[u64]) -> Result<f64> {
    let groups = groups(relevance, scores, query)?;
    let (mut total, mut n) = (0.0, 0usize);
    for rows in groups.values() {
        let pos: Vec<bool> = rows.iter().map(|&i| relevance[i] > 0.0).collect();
        if !pos.iter().any(|&p| p) {
            continue;
        }
        let s: Vec<f64> = rows.iter().map(|&i| scores[i]).collect();
        total += binary_average_precision(&pos, &s, None);
        n += 1;
    }
    Ok(if n == 0 { f64::NAN } else { total / n as f64 })
}

/// Validates the inputs and groups row indices by query id.
fn groups(relevance: &[f64], scores: &[f64], query: &[u64]) -> Result<BTreeMap<u64, Vec<usize>>> {
    check::same_len("relevance", relevance.len(), "scores", scores.len())?;
    check::same_len("relevance", relevance.len(), "query ids", query.len())?;
    check::finite("scores", scores)?;
    if let Some(i) = relevance.iter().position(|r| !r.is_finite() || *r < 0.0) {
        return Err(MetricError::new(format!(
            "relevance[{i}] = {}: relevance must be finite and >= 0",
            relevance[i]
        )));
    }
    let mut groups: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, &q) in query.iter().enumerate() {
        groups.entry(q).or_default().push(i);
    }
    Ok(groups)
}

/// The discount of each rank position (0-based), zero from position `k` on.
fn discounts(n: usize, k: Option<usize>) -> Vec<f64> {
    let cut = k.unwrap_or(n).min(n);
    (0..n)
        .map(|i| {
            if i < cut {
                1.0 / ((i as f64 + 2.0).ln() / 2f64.ln())
            } else {
                0.0
            }
        })
        .collect()
}

/// NDCG of one query's rows.
fn query_ndcg(relevance: &[f64], scores: &[f64], rows: &[usize], k: Option<usize>) -> f64 {
    let discount = discounts(rows.len(), k);
    let mut ideal: Vec<f64> = rows.iter().map(|&i| relevance[i]).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal.iter().zip(&discount).map(|(g, d)| g * d).sum();
    if idcg == 0.0 {
        return 0.0;
    }
    tie_averaged_dcg(relevance, scores, rows, &discount) / idcg
}

/// DCG where documents with tied scores share their group's mean gain over the
/// group's positions.
fn tie_averaged_dcg(relevance: &[f64], scores: &[f64], rows: &[usize], discount: &[f64]) -> f64 {
    let mut order: Vec<usize> = rows.to_vec();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut dcg = 0.0;
    let mut start = 0;
    while start < order.len() {
        let s = scores[order[start]];
        let mut end = start;
        while end < order.len() && scores[order[end]] == s {
            end += 1;
        }
        let gain = order[start..end].iter().map(|&i| relevance[i]).sum::<f64>() / (end - start) as f64;
        let disc: f64 = discount[start..end].iter().sum();
        dcg += gain * disc;
        start = end;
    }
    dcg
}
