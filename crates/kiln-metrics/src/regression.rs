//! Regression metrics: MSE, RMSE, MAE, R^2, MAPE (scikit-learn 1.9 definitions,
//! optionally sample-weighted). Non-finite values are errors.

use crate::check::{self, w_at};
use crate::error::{MetricError, Result};

/// Mean squared error.
pub fn mse(y_true: &[f64], y_pred: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    weighted_mean_of(y_true, y_pred, weight, |t, p| (t - p) * (t - p))
}

/// Root mean squared error: `sqrt(mse)` (scikit-learn's `root_mean_squared_error`).
pub fn rmse(y_true: &[f64], y_pred: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    mse(y_true, y_pred, weight).map(f64::sqrt)
}

/// Mean absolute error.
pub fn mae(y_true: &[f64], y_pred: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    weighted_mean_of(y_true, y_pred, weight, |t, p| (t - p).abs())
}

/// Mean absolute percentage error, `|y - y_hat| / max(|y|, eps)` with
/// `eps = f64::EPSILON` as scikit-learn does: a zero target gives a huge but
/// finite term. The result is a fraction (0.1 means 10%), not a percentage.
pub fn mape(y_true: &[f64], y_pred: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    weighted_mean_of(y_true, y_pred, weight, |t, p| (t - p).abs() / t.abs().max(f64::EPSILON))
}

/// Coefficient of determination `1 - SS_res / SS_tot` (SS_tot about the
/// weighted mean of `y_true`).
///
/// As scikit-learn's `force_finite=True` default: a constant `y_true` gives
/// 1.0 for a perfect prediction and 0.0 otherwise. Fewer than two samples is
/// an error (scikit-learn returns `NaN` with a warning).
pub fn r2(y_true: &[f64], y_pred: &[f64], weight: Option<&[f64]>) -> Result<f64> {
    let w = inputs(y_true, y_pred, weight)?;
    if y_true.len() < 2 {
        return Err(MetricError::new("R^2 needs at least two samples"));
    }
    let total: f64 = (0..y_true.len()).map(|i| w_at(w, i)).sum();
    let avg = (0..y_true.len()).map(|i| w_at(w, i) * y_true[i]).sum::<f64>() / total;
    let (mut ss_res, mut ss_tot) = (0.0, 0.0);
    for i in 0..y_true.len() {
        let wi = w_at(w, i);
        ss_res += wi * (y_true[i] - y_pred[i]).powi(2);
        ss_tot += wi * (y_true[i] - avg).powi(2);
    }
    Ok(if ss_tot != 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    })
}

/// Validated weights for two equal-length finite vectors.
fn inputs<'a>(y_true: &[f64], y_pred: &[f64], weight: Option<&'a [f64]>) -> Result<Option<&'a [f64]>> {
    check::same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
    check::finite("y_true", y_true)?;
    check::finite("y_pred", y_pred)?;
    check::weights(weight, y_true.len())
}

/// The (weighted) mean of `f(y_true[i], y_pred[i])`.
fn weighted_mean_of(
    y_true: &[f64],
    y_pred: &[f64],
    weight: Option<&[f64]>,
    f: impl Fn(f64, f64) -> f64,
) -> Result<f64> {
    let w = inputs(y_true, y_pred, weight)?;
    let (mut sum, mut total) = (0.0, 0.0);
    for i in 0..y_true.len() {
        let wi = w_at(w, i);
        sum += wi * f(y_true[i], y_pred[i]);
        total += wi;
    }
    Ok(sum / total)
}
