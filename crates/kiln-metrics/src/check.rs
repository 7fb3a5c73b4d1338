//! Input validation shared by the metrics: lengths, class indices, finite
//! values, weights. Every check returns an error naming the argument and the
//! offending position instead of panicking.

use crate::error::{MetricError, Result};

/// Largest class index accepted (guards against allocating for a label like 1e18).
pub(crate) const MAX_CLASS: usize = 1 << 24;

/// Fails unless `a` and `b` have the same, non-zero length.
pub(crate) fn same_len(a_name: &str, a: usize, b_name: &str, b: usize) -> Result<()> {
    if a != b {
        return Err(MetricError::new(format!(
            "{a_name} has {a} values but {b_name} has {b}: they must have the same length"
        )));
    }
    if a == 0 {
        return Err(MetricError::new(format!(
            "{a_name} is empty: a metric needs at least one sample"
        )));
    }
    Ok(())
}

/// Checks optional sample weights: length `n`, finite, non-negative, positive sum.
/// Returns them unchanged (`None` means all ones).
pub(crate) fn weights(weight: Option<&[f64]>, n: usize) -> Result<Option<&[f64]>> {
    let Some(w) = weight else { return Ok(None) };
    if w.len() != n {
        return Err(MetricError::new(format!(
            "sample weights have {} values but there are {n} samples",
            w.len()
        )));
    }
    let mut sum = 0.0;
    for (i, &v) in w.iter().enumerate() {
        if !v.is_finite() || v < 0.0 {
            return Err(MetricError::new(format!(
                "weight[{i}] = {v}: sample weights must be finite and >= 0"
            )));
        }
        sum += v;
    }
    if sum <= 0.0 {
        return Err(MetricError::new("sample weights sum to zero"));
    }
    Ok(Some(w))
}

/// The weight of sample `i` (1 when unweighted).
#[inline]
pub(crate) fn w_at(weight: Option<&[f64]>, i: usize) -> f64 {
    weight.map_or(1.0, |w| w[i])
}

/// A class index from an `f64` label: finite, integral, `>= 0`.
pub(crate) fn class_of(name: &str, i: usize, v: f64) -> Result<usize> {
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > MAX_CLASS as f64 {
        return Err(MetricError::new(format!(
            "{name}[{i}] = {v} is not a class index (expected an integer in 0..{MAX_CLASS})"
        )));
    }
    Ok(v as usize)
}

/// Every label as a class index.
pub(crate) fn classes(name: &str, y: &[f64]) -> Result<Vec<usize>> {
    y.iter().enumerate().map(|(i, &v)| class_of(name, i, v)).collect()
}

/// Every label as a class index below `n_classes`.
pub(crate) fn classes_below(name: &str, y: &[f64], n_classes: usize) -> Result<Vec<usize>> {
    y.iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = class_of(name, i, v)?;
            if c >= n_classes {
                return Err(MetricError::new(format!(
                    "{name}[{i}] = {v} is out of range: expected a class index in 0..{n_classes}"
                )));
            }
            Ok(c)
        })
        .collect()
}

/// Binary labels: 0 or 1.
pub(crate) fn binary_labels(name: &str, y: &[f64]) -> Result<Vec<bool>> {
    y.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v == 0.0 {
                Ok(false)
            } else if v == 1.0 {
                Ok(true)
            } else {
                Err(MetricError::new(format!(
                    "{name}[{i}] = {v}: binary labels must be 0 or 1"
                )))
            }
        })
        .collect()
}

/// Fails on the first non-finite value.
pub(crate) fn finite(name: &str, v: &[f64]) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(MetricError::new(format!(
            "{name}[{i}] = {}: expected a finite number",
            v[i]
        ))),
        None => Ok(()),
    }
}

/// Fails on the first value outside `[0, 1]` (or not finite).
pub(crate) fn probabilities(name: &str, v: &[f64]) -> Result<()> {
    match v.iter().position(|x| !(0.0..=1.0).contains(x)) {
        Some(i) => Err(MetricError::new(format!(
            "{name}[{i}] = {}: expected a probability in [0, 1]",
            v[i]
        ))),
        None => Ok(()),
    }
}

/// Checks a row-major `n x n_classes` probability matrix against `n` labels.
pub(crate) fn prob_matrix(probs: &[f64], n_classes: usize, n: usize) -> Result<()> {
    if n_classes < 2 {
        return Err(MetricError::new(format!(
            "n_classes = {n_classes}: class probabilities need at least 2 classes"
        )));
    }
    if probs.len() != n.saturating_mul(n_classes) {
        return Err(MetricError::new(format!(
            "probabilities have {} values, expected {n} rows x {n_classes} classes = {}",
            probs.len(),
            n.saturating_mul(n_classes)
        )));
    }
    probabilities("probabilities", probs)
}
