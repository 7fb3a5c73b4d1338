//! Numeric features: clipping, transforms (log1p, Box-Cox, Yeo-Johnson with
//! lambda by maximum likelihood), imputation, missing indicators and scaling;
//! fitted on training values, applied value by value.
//!
//! Order of the steps, at fit and at transform: clip, transform, impute,
//! scale. Statistics of each step are taken on the training values as they
//! are after the steps before it, ignoring missing values; the missing
//! indicator marks values missing before imputation.

use serde::{Deserialize, Serialize};

use kiln_data::{DataError, Location, Result};

use crate::config::{Impute, NumericOptions, Scaling, Transform};
use crate::expr::Expr;
use crate::input::finite;
use crate::num::F;

/// Lambda is searched in this interval.
const LAMBDA_RANGE: (f64, f64) = (-5.0, 5.0);

/// A transform with its fitted parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum FittedTransform {
    None,
    Log1p,
    BoxCox { lambda: F },
    YeoJohnson { lambda: F },
}

/// Box-Cox: `(x^l - 1) / l`, or `ln x` for `l = 0`; NaN for `x <= 0`.
pub(crate) fn box_cox(x: f64, lambda: f64) -> f64 {
    if x <= 0.0 {
        return f64::NAN;
    }
    if lambda == 0.0 {
        x.ln()
    } else {
        (lambda * x.ln()).exp_m1() / lambda
    }
}

/// Yeo-Johnson: `((x + 1)^l - 1) / l` for `x >= 0` (`ln(1 + x)` at `l = 0`),
/// `-((1 - x)^(2 - l) - 1) / (2 - l)` for `x < 0` (`-ln(1 - x)` at `l = 2`).
pub(crate) fn yeo_johnson(x: f64, lambda: f64) -> f64 {
    if x >= 0.0 {
        let l = x.ln_1p();
        if lambda == 0.0 {
            l
        } else {
            (lambda * l).exp_m1() / lambda
        }
    } else {
        let l = (-x).ln_1p();
        let k = 2.0 - lambda;
        if k == 0.0 {
            -l
        } else {
            -(k * l).exp_m1() / k
        }
    }
}

impl FittedTransform {
    #[inline]
    fn apply(&self, x: f64) -> f64 {
        match self {
            FittedTransform::None => x,
            FittedTransform::Log1p => {
                if x > -1.0 {
                    x.ln_1p()
                } else {
                    f64::NAN
                }
            }
            FittedTransform::BoxCox { lambda } => box_cox(x, lambda.0),
            FittedTransform::YeoJohnson { lambda } => yeo_johnson(x, lambda.0),
        }
    }
}

/// A fitted numeric feature: where its values come from and the fitted steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NumericFeature {
    /// The output column name.
    pub name: String,
    /// The source: an input column, a date part, or a derived expression.
    pub expr: Expr,
    /// The expression text, for derived columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_min: Option<F>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_max: Option<F>,
    pub transform: FittedTransform,
    /// The value missing values are replaced with (in transformed units); `None` leaves them NaN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<F>,
    /// Whether a `<name>__missing` column follows.
    pub indicator: bool,
    /// Scaling: `(x - center) / scale`.
    pub center: F,
    pub scale: F,
}

impl NumericFeature {
    /// The output column names.
    pub fn outputs(&self) -> Vec<String> {
        let mut out = vec![self.name.clone()];
        if self.indicator {
            out.push(format!("{}__missing", self.name));
        }
        out
    }

    /// Clip and transform (NaN stays NaN).
    #[inline]
    fn shape(&self, v: f64) -> f64 {
        if v.is_nan() {
            return v;
        }
        let mut v = v;
        if let Some(lo) = self.clip_min {
            v = v.max(lo.0);
        }
        if let Some(hi) = self.clip_max {
            v = v.min(hi.0);
        }
        finite(self.transform.apply(v))
    }

    /// The feature value of one source value in `f64`, and whether it was
    /// missing before imputation (the block path, in one value).
    #[cfg(test)]
    pub fn apply(&self, v: f64) -> (f64, bool) {
        let k = self.kernel();
        match self.transform {
            FittedTransform::None => k.step(v, &|x| x),
            FittedTransform::Log1p => k.step(v, &|x| finite(if x > -1.0 { x.ln_1p() } else { f64::NAN })),
            FittedTransform::BoxCox { lambda } => k.step(v, &|x| finite(box_cox(x, lambda.0))),
            FittedTransform::YeoJohnson { lambda } => k.step(v, &|x| finite(yeo_johnson(x, lambda.0))),
        }
    }

    fn kernel(&self) -> Kernel {
        Kernel {
            lo: self.clip_min.map_or(f64::NEG_INFINITY, |f| f.0),
            hi: self.clip_max.map_or(f64::INFINITY, |f| f.0),
            fill: self.fill.map_or(f64::NAN, |f| f.0),
            center: self.center.0,
            scale: self.scale.0,
        }
    }

    /// Applies the feature to a block of source values: `values[i]` becomes
    /// `out[i]`, and `indicator[i]` is 1 where the value was missing.
    pub fn apply_block(&self, values: &[f64], out: &mut [f32], indicator: Option<&mut [f32]>) {
        let k = self.kernel();
        match self.transform {
            FittedTransform::None => k.run(values, out, indicator, |x| x),
            FittedTransform::Log1p => k.run(values, out, indicator, |x| {
                finite(if x > -1.0 { x.ln_1p() } else { f64::NAN })
            }),
            FittedTransform::BoxCox { lambda } => k.run(values, out, indicator, |x| finite(box_cox(x, lambda.0))),
            FittedTransform::YeoJohnson { lambda } => {
                k.run(values, out, indicator, |x| finite(yeo_johnson(x, lambda.0)))
            }
        }
    }
}

/// The fitted steps as plain numbers, for the inner loop.
#[derive(Debug, Clone, Copy)]
struct Kernel {
    lo: f64,
    hi: f64,
    /// NaN when missing values stay missing.
    fill: f64,
    center: f64,
    scale: f64,
}

impl Kernel {
    /// Clip, transform, impute, scale one value (NaN passes the clip and the transform).
    #[inline(always)]
    fn step(&self, v: f64, transform: &impl Fn(f64) -> f64) -> (f64, bool) {
        let v = if v < self.lo {
            self.lo
        } else if v > self.hi {
            self.hi
        } else {
            v
        };
        let v = transform(v);
        let missing = v.is_nan();
        let v = if missing { self.fill } else { v };
        ((v - self.center) / self.scale, missing)
    }

    #[inline(always)]
    fn run(&self, values: &[f64], out: &mut [f32], indicator: Option<&mut [f32]>, transform: impl Fn(f64) -> f64) {
        match indicator {
            None => {
                for (o, &v) in out.iter_mut().zip(values) {
                    *o = self.step(v, &transform).0 as f32;
                }
            }
            Some(ind) => {
                for ((o, i), &v) in out.iter_mut().zip(ind.iter_mut()).zip(values) {
                    let (v, missing) = self.step(v, &transform);
                    *o = v as f32;
                    *i = if missing { 1.0 } else { 0.0 };
                }
            }
        }
    }
}

/// The `q` quantile (0..=1) of `values` (no NaN), interpolating linearly
/// between order statistics as numpy's default does. Reorders `values`.
pub(crate) fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let h = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = (h.floor() as usize).min(n - 1);
    let frac = h - lo as f64;
    let (_, lo_v, right) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let lo_v = *lo_v;
    if frac == 0.0 || right.is_empty() {
        return Some(lo_v);
    }
    let hi_v = right.iter().copied().fold(f64::INFINITY, f64::min);
    Some(lo_v + frac * (hi_v - lo_v))
}

/// Mean of `values` (no NaN).
pub(crate) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// Population standard deviation around `mean`.
fn std_dev(values: &[f64], mean: f64) -> f64 {
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (ss / values.len() as f64).sqrt()
}

/// The most frequent value (ties: the smallest).
pub(crate) fn mode(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut best: Option<(f64, usize)> = None;
    let mut i = 0;
    while i < sorted.len() {
        let v = sorted[i];
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == v {
            j += 1;
        }
        if best.is_none_or(|(_, count)| j - i > count) {
            best = Some((v, j - i));
        }
        i = j;
    }
    best.map(|(v, _)| v)
}

/// Minimises `f` on `[a, b]` by Brent's method (golden section with parabolic steps).
pub(crate) fn brent_minimize(f: impl Fn(f64) -> f64, a: f64, b: f64, tol: f64, max_iter: usize) -> f64 {
    const GOLDEN: f64 = 0.381_966_011_250_105_1; // (3 - sqrt 5) / 2
    let f = |x: f64| {
        let v = f(x);
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    };
    let (mut a, mut b) = (a, b);
    let mut x = a + GOLDEN * (b - a);
    let (mut w, mut v) = (x, x);
    let mut fx = f(x);
    let (mut fw, mut fv) = (fx, fx);
    let (mut d, mut e) = (0.0f64, 0.0f64);
    for _ in 0..max_iter {
        let xm = 0.5 * (a + b);
        let tol1 = tol * x.abs() + 1e-12;
        let tol2 = 2.0 * tol1;
        if (x - xm).abs() <= tol2 - 0.5 * (b - a) {
            break;
        }
        let mut golden = true;
        if e.abs() > tol1 {
            // A parabola through (x, fx), (w, fw), (v, fv).
            let r = (x - w) * (fx - fv);
            let mut q = (x - v) * (fx - fw);
            let mut p = (x - v) * q - (x - w) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            } else {
                q = -q;
            }
            let e_prev = e;
            e = d;
            if p.abs() < (0.5 * q * e_prev).abs() && p > q * (a - x) && p < q * (b - x) {
                d = p / q;
                let u = x + d;
                if u - a < tol2 || b - u < tol2 {
                    d = tol1.copysign(xm - x);
                }
                golden = false;
            }
        }
        if golden {
            e = if x >= xm { a - x } else { b - x };
            d = GOLDEN * e;
        }
        let u = if d.abs() >= tol1 { x + d } else { x + tol1.copysign(d) };
        let fu = f(u);
        if fu <= fx {
            if u >= x {
                a = x;
            } else {
                b = x;
            }
            (v, fv, w, fw, x, fx) = (w, fw, x, fx, u, fu);
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                (v, fv, w, fw) = (w, fw, u, fu);
            } else if fu <= fv || v == x || v == w {
                (v, fv) = (u, fu);
            }
        }
    }
    x
}

/// Population variance of `f(i)` for `i` in `0..n`.
fn variance_of(n: usize, f: impl Fn(usize) -> f64) -> f64 {
    let mean = (0..n).map(&f).sum::<f64>() / n as f64;
    (0..n).map(|i| (f(i) - mean).powi(2)).sum::<f64>() / n as f64
}

/// Box-Cox log-likelihood at `lambda` given `ln x` of the data.
pub(crate) fn box_cox_llf(lambda: f64, logs: &[f64]) -> f64 {
    let n = logs.len() as f64;
    let var = variance_of(logs.len(), |i| {
        let l = logs[i];
        if lambda == 0.0 {
            l
        } else {
            (lambda * l).exp_m1() / lambda
        }
    });
    (lambda - 1.0) * logs.iter().sum::<f64>() - 0.5 * n * var.ln()
}

/// Yeo-Johnson log-likelihood at `lambda`.
pub(crate) fn yeo_johnson_llf(lambda: f64, x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let var = variance_of(x.len(), |i| yeo_johnson(x[i], lambda));
    let jacobian: f64 = x.iter().map(|v| v.signum() * v.abs().ln_1p()).sum();
    -0.5 * n * var.ln() + (lambda - 1.0) * jacobian
}

/// Lambda maximising `llf` over [`LAMBDA_RANGE`].
fn fit_lambda(llf: impl Fn(f64) -> f64) -> f64 {
    brent_minimize(|l| -llf(l), LAMBDA_RANGE.0, LAMBDA_RANGE.1, 1e-10, 500)
}

/// The non-missing values of `values`.
fn present(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| !v.is_nan()).collect()
}

/// What a numeric feature is, before fitting.
pub(crate) struct NumericSpec {
    pub name: String,
    pub expr: Expr,
    pub source: Option<String>,
    pub options: NumericOptions,
}

/// Fits a numeric feature on its training values (NaN = missing; `values[i]`
/// belongs to training row `i`, placed by `locate` for errors).
pub(crate) fn fit_numeric(
    spec: &NumericSpec,
    mut values: Vec<f64>,
    locate: &dyn Fn(usize) -> Location,
    warnings: &mut Vec<String>,
) -> Result<NumericFeature> {
    let name = &spec.name;
    let o = &spec.options;
    let no_values = || format!("feature '{name}' has no values in the training rows");
    let mut f = NumericFeature {
        name: name.clone(),
        expr: spec.expr.clone(),
        source: spec.source.clone(),
        clip_min: None,
        clip_max: None,
        transform: FittedTransform::None,
        fill: None,
        indicator: false,
        center: F(0.0),
        scale: F(1.0),
    };

    // 1. Clipping, at fixed bounds or at training quantiles.
    if let Some(b) = o.clip {
        f.clip_min = b.min.map(F);
        f.clip_max = b.max.map(F);
    } else if let Some(b) = o.clip_quantiles {
        let mut p = present(&values);
        if p.is_empty() {
            warnings.push(format!("{}; it is not clipped", no_values()));
        } else {
            f.clip_min = b.min.and_then(|q| quantile(&mut p, q)).map(F);
            f.clip_max = b.max.and_then(|q| quantile(&mut p, q)).map(F);
        }
    }

    // 2. The transform, with its domain checked on the training values.
    let clipped = f.clone(); // no transform yet: `shape` only clips
    values.iter_mut().for_each(|v| *v = clipped.shape(*v));
    let domain = |ok: fn(f64) -> bool, what: &str| -> Result<()> {
        match values.iter().position(|&v| !v.is_nan() && !ok(v)) {
            None => Ok(()),
            Some(i) => Err(DataError::new(
                locate(i),
                format!(
                    "the {what} transform of feature '{name}' needs values {}; found {}{}",
                    if what == "log1p" { "above -1" } else { "above 0" },
                    values[i],
                    if what == "log1p" {
                        ""
                    } else {
                        " (yeo_johnson takes any value)"
                    }
                ),
            )),
        }
    };
    f.transform = match o.transform {
        Transform::None => FittedTransform::None,
        Transform::Log1p => {
            domain(|v| v > -1.0, "log1p")?;
            FittedTransform::Log1p
        }
        Transform::BoxCox => {
            domain(|v| v > 0.0, "box_cox")?;
            let logs: Vec<f64> = values.iter().filter(|v| !v.is_nan()).map(|v| v.ln()).collect();
            FittedTransform::BoxCox {
                lambda: F(lambda_or_one(&logs, name, warnings, |l| box_cox_llf(l, &logs))),
            }
        }
        Transform::YeoJohnson => {
            let p = present(&values);
            FittedTransform::YeoJohnson {
                lambda: F(lambda_or_one(&p, name, warnings, |l| yeo_johnson_llf(l, &p))),
            }
        }
    };
    let transform = f.transform.clone();
    values.iter_mut().for_each(|v| {
        if !v.is_nan() {
            *v = finite(transform.apply(*v));
        }
    });

    // 3. Imputation, and the indicator for features that had missing values.
    let mut p = present(&values);
    let had_missing = p.len() < values.len();
    f.indicator = o.missing_indicator && had_missing;
    f.fill = match o.impute {
        Impute::Mean => mean(&p),
        Impute::Median => quantile(&mut p, 0.5),
        Impute::MostFrequent => mode(&p),
        Impute::Constant => Some(o.fill_value),
        Impute::None => None,
    }
    .map(F);
    if p.is_empty() && o.impute != Impute::None && o.impute != Impute::Constant {
        warnings.push(format!("{}; its missing values stay missing (NaN)", no_values()));
    }
    if let Some(fill) = f.fill {
        values.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = fill.0);
    }

    // 4. Scaling.
    let mut p = present(&values);
    let (center, scale) = match o.scale {
        Scaling::None => (Some(0.0), Some(1.0)),
        Scaling::Standard => match mean(&p) {
            Some(m) => (Some(m), Some(std_dev(&p, m))),
            None => (None, None),
        },
        Scaling::Minmax => {
            let lo = p.iter().copied().reduce(f64::min);
            let hi = p.iter().copied().reduce(f64::max);
            (lo, lo.zip(hi).map(|(lo, hi)| hi - lo))
        }
        Scaling::Robust => {
            let med = quantile(&mut p, 0.5);
            let q1 = quantile(&mut p, 0.25);
            let q3 = quantile(&mut p, 0.75);
            (med, q1.zip(q3).map(|(a, b)| b - a))
        }
    };
    match (center, scale) {
        (Some(c), Some(s)) if c.is_finite() && s.is_finite() => {
            f.center = F(c);
            // A constant feature is only centred.
            f.scale = F(if s > 0.0 { s } else { 1.0 });
        }
        (Some(_), Some(_)) => {
            warnings.push(format!(
                "feature '{name}': its scale statistics overflowed; it is not scaled"
            ));
        }
        _ => {
            if o.scale != Scaling::None && o.impute == Impute::None {
                warnings.push(format!("{}; it is not scaled", no_values()));
            }
        }
    }
    Ok(f)
}

/// The maximum-likelihood lambda, or 1 (with a warning) when the data cannot
/// decide it: fewer than two distinct values.
fn lambda_or_one(values: &[f64], name: &str, warnings: &mut Vec<String>, llf: impl Fn(f64) -> f64) -> f64 {
    let distinct = values.iter().any(|&v| Some(v) != values.first().copied());
    if !distinct {
        warnings.push(format!(
            "feature '{name}' has fewer than two distinct training values; its power transform uses lambda = 1"
        ));
        return 1.0;
    }
    fit_lambda(llf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Bounds, PrepConfig};

    fn spec(options: NumericOptions) -> NumericSpec {
        NumericSpec {
            name: "x".into(),
            expr: Expr::Column(0),
            source: None,
            options,
        }
    }

    fn opts(edit: impl FnOnce(&mut NumericOptions)) -> NumericOptions {
        let mut o = PrepConfig::default().numeric_options("x").unwrap();
        o.impute = Impute::None;
        edit(&mut o);
        o
    }

    fn fit(values: &[f64], edit: impl FnOnce(&mut NumericOptions)) -> Result<(NumericFeature, Vec<String>)> {
        let mut warnings = Vec::new();
        let f = fit_numeric(
            &spec(opts(edit)),
            values.to_vec(),
            &|i| Location::default().with_row(i as u64 + 1),
            &mut warnings,
        )?;
        Ok((f, warnings))
    }

    fn out(f: &NumericFeature, v: f64) -> f64 {
        f.apply(v).0
    }

    const NAN: f64 = f64::NAN;

    #[test]
    fn imputers() {
        let data = [1.0, NAN, 2.0, 2.0, 10.0, NAN];
        let (f, _) = fit(&data, |o| o.impute = Impute::Mean).unwrap();
        assert_eq!(out(&f, NAN), 3.75);
        assert_eq!(out(&f, 7.0), 7.0);
        let (f, _) = fit(&data, |o| o.impute = Impute::Median).unwrap();
        assert_eq!(out(&f, NAN), 2.0);
        let (f, _) = fit(&[1.0, 4.0, NAN, 2.0, 3.0], |o| o.impute = Impute::Median).unwrap();
        assert_eq!(out(&f, NAN), 2.5);
        let (f, _) = fit(&[5.0, 3.0, 3.0, 5.0, 1.0], |o| o.impute = Impute::MostFrequent).unwrap();
        assert_eq!(out(&f, NAN), 3.0, "ties go to the smaller value");
        let (f, _) = fit(&data, |o| {
            o.impute = Impute::Constant;
            o.fill_value = -1.0
        })
        .unwrap();
        assert_eq!(out(&f, NAN), -1.0);
        let (f, _) = fit(&data, |o| o.impute = Impute::None).unwrap();
        assert!(out(&f, NAN).is_nan());
        // Missing indicator: only where training had missing values.
        let (f, _) = fit(&data, |o| {
            o.impute = Impute::Median;
            o.missing_indicator = true
        })
        .unwrap();
        assert_eq!(f.outputs(), vec!["x", "x__missing"]);
        assert_eq!(f.apply(NAN), (2.0, true));
        assert_eq!(f.apply(5.0), (5.0, false));
        let (f, _) = fit(&[1.0, 2.0], |o| o.missing_indicator = true).unwrap();
        assert_eq!(f.outputs(), vec!["x"]);
        // No values at all: stays missing, with a warning.
        let (f, w) = fit(&[NAN, NAN], |o| o.impute = Impute::Mean).unwrap();
        assert!(out(&f, NAN).is_nan());
        assert!(w[0].contains("no values in the training rows"), "{w:?}");
    }

    #[test]
    fn scalers() {
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 100.0];
        let (f, _) = fit(&data, |o| o.scale = Scaling::Standard).unwrap();
        let m = 128.0 / 8.0;
        let sd = (data.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / 8.0).sqrt();
        assert_eq!((f.center.0, f.scale.0), (16.0, sd));
        assert!((out(&f, 100.0) - (84.0 / sd)).abs() < 1e-12);
        let (f, _) = fit(&data, |o| o.scale = Scaling::Minmax).unwrap();
        assert_eq!((out(&f, 1.0), out(&f, 100.0), out(&f, 50.5)), (0.0, 1.0, 0.5));
        // numpy: percentile([1..7, 100], [25, 50, 75]) = 2.75, 4.5, 6.25.
        let (f, _) = fit(&data, |o| o.scale = Scaling::Robust).unwrap();
        assert_eq!((f.center.0, f.scale.0), (4.5, 3.5));
        assert_eq!(out(&f, 8.0), 1.0);
        // Constant features are centred, not divided by zero.
        let (f, _) = fit(&[3.0, 3.0, NAN], |o| o.scale = Scaling::Standard).unwrap();
        assert_eq!((out(&f, 3.0), out(&f, 5.0)), (0.0, 2.0));
        // Scaling sees imputed values.
        let (f, _) = fit(&[0.0, NAN, 4.0], |o| {
            o.impute = Impute::Constant;
            o.fill_value = 8.0;
            o.scale = Scaling::Minmax
        })
        .unwrap();
        assert_eq!(out(&f, NAN), 1.0);
    }

    #[test]
    fn clipping() {
        let (f, _) = fit(&[1.0, 5.0], |o| {
            o.clip = Some(Bounds {
                min: Some(0.0),
                max: Some(2.0),
            })
        })
        .unwrap();
        assert_eq!((out(&f, -3.0), out(&f, 1.5), out(&f, 9.0)), (0.0, 1.5, 2.0));
        assert!(out(&f, NAN).is_nan());
        let data: Vec<f64> = (0..=100).map(f64::from).collect();
        let (f, _) = fit(&data, |o| {
            o.clip_quantiles = Some(Bounds {
                min: Some(0.1),
                max: Some(0.95),
            })
        })
        .unwrap();
        assert_eq!((f.clip_min, f.clip_max), (Some(F(10.0)), Some(F(95.0))));
        assert_eq!((out(&f, -1.0), out(&f, 50.0), out(&f, 1000.0)), (10.0, 50.0, 95.0));
        // Clipping comes before the transform.
        let (f, _) = fit(&[1.0, 2.0], |o| {
            o.clip = Some(Bounds {
                min: Some(0.0),
                max: None,
            });
            o.transform = Transform::Log1p
        })
        .unwrap();
        assert_eq!(out(&f, -5.0), 0.0);
    }

    #[test]
    fn transforms_by_formula() {
        assert_eq!(box_cox(4.0, 0.5), 2.0);
        assert_eq!(box_cox(std::f64::consts::E, 0.0), 1.0);
        assert!((box_cox(8.0, -1.0) - 0.875).abs() < 1e-15);
        assert!(box_cox(0.0, 0.5).is_nan());
        assert_eq!(yeo_johnson(3.0, 0.5), 2.0);
        assert_eq!(yeo_johnson(3.0, 0.0), 4.0f64.ln());
        assert_eq!(yeo_johnson(-3.0, 1.5), -2.0);
        assert_eq!(yeo_johnson(-1.0, 2.0), -(2.0f64.ln()));
        assert_eq!(yeo_johnson(0.0, 0.7), 0.0);
        assert_eq!(yeo_johnson(5.0, 1.0), 5.0);
        // The block path (used by transform) gives the one-value results, for every transform.
        let data = [-3.0, -0.5, 0.0, 0.5, 2.0, 7.0, NAN, 40.0];
        for t in [
            Transform::None,
            Transform::Log1p,
            Transform::BoxCox,
            Transform::YeoJohnson,
        ] {
            let train = if t == Transform::BoxCox { &data[4..] } else { &data[1..] };
            let (f, _) = fit(train, |o| {
                o.transform = t;
                o.impute = Impute::Mean;
                o.scale = Scaling::Standard;
                o.missing_indicator = true
            })
            .unwrap();
            let (mut out, mut ind) = (vec![0.0f32; data.len()], vec![0.0f32; data.len()]);
            f.apply_block(&data, &mut out, Some(&mut ind));
            for (i, &v) in data.iter().enumerate() {
                let (want, missing) = f.apply(v);
                assert_eq!(out[i].to_bits(), (want as f32).to_bits(), "{t:?} {v}");
                assert_eq!(ind[i], if missing { 1.0 } else { 0.0 });
            }
        }
        let (f, _) = fit(&[0.0, 1.0], |o| o.transform = Transform::Log1p).unwrap();
        assert_eq!(out(&f, std::f64::consts::E - 1.0), 1.0);
        assert!(out(&f, -1.0).is_nan(), "outside the domain at transform time: missing");
    }

    #[test]
    fn lambdas_match_scipy() {
        // scipy 1.17.1: stats.boxcox([1, 2, 3, 4, 5, 10, 20, 50]) and
        // stats.yeojohnson([-3, -1, 0, 0.5, 2, 4, 8, 20]) (sklearn's PowerTransformer agrees).
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 50.0];
        let (f, _) = fit(&a, |o| o.transform = Transform::BoxCox).unwrap();
        let FittedTransform::BoxCox { lambda } = f.transform else {
            panic!()
        };
        assert!((lambda.0 - -0.175_022_309_039_124_16).abs() < 1e-7, "{lambda:?}");
        let logs: Vec<f64> = a.iter().map(|v| v.ln()).collect();
        assert!((box_cox_llf(lambda.0, &logs) - -15.209_088_316_339_939).abs() < 1e-9);
        let b = [-3.0, -1.0, 0.0, 0.5, 2.0, 4.0, 8.0, 20.0];
        let (f, _) = fit(&b, |o| o.transform = Transform::YeoJohnson).unwrap();
        let FittedTransform::YeoJohnson { lambda } = f.transform else {
            panic!()
        };
        assert!((lambda.0 - 0.487_059_796_787_162_3).abs() < 1e-7, "{lambda:?}");
        assert!((yeo_johnson_llf(lambda.0, &b) - -12.699_318_327_485_026).abs() < 1e-9);
        // The output is the transform at the fitted lambda.
        assert_eq!(out(&f, 2.0), yeo_johnson(2.0, lambda.0));
        // Constant data cannot decide lambda.
        let (f, w) = fit(&[2.0, 2.0, NAN], |o| o.transform = Transform::YeoJohnson).unwrap();
        assert_eq!(f.transform, FittedTransform::YeoJohnson { lambda: F(1.0) });
        assert!(w[0].contains("lambda = 1"));
    }

    #[test]
    fn domain_errors_name_the_row() {
        let e = fit(&[1.0, 2.0, 0.0], |o| o.transform = Transform::BoxCox).unwrap_err();
        assert_eq!(e.location.row, Some(3));
        assert!(
            e.message.contains("needs values above 0; found 0") && e.message.contains("yeo_johnson"),
            "{e}"
        );
        let e = fit(&[NAN, -1.0], |o| o.transform = Transform::Log1p).unwrap_err();
        assert_eq!(e.location.row, Some(2));
        assert!(e.message.contains("above -1"), "{e}");
    }

    #[test]
    fn brent_finds_minima() {
        let x = brent_minimize(|x| (x - 1.234).powi(2) + 3.0, -5.0, 5.0, 1e-10, 200);
        // A smooth minimum is found to about sqrt(machine epsilon).
        assert!((x - 1.234).abs() < 1e-7, "{x}");
        let x = brent_minimize(|x| (x + 0.5).abs(), -5.0, 5.0, 1e-10, 200);
        assert!((x + 0.5).abs() < 1e-8, "{x}");
        // At the boundary when the minimum lies outside.
        let x = brent_minimize(|x| x, -5.0, 5.0, 1e-10, 200);
        assert!((x + 5.0).abs() < 1e-6, "{x}");
    }

    #[test]
    fn statistics() {
        let mut v = vec![3.0, 1.0, 2.0, 4.0];
        assert_eq!(quantile(&mut v, 0.5), Some(2.5));
        assert_eq!(quantile(&mut v, 0.0), Some(1.0));
        assert_eq!(quantile(&mut v, 1.0), Some(4.0));
        assert_eq!(quantile(&mut v, 0.25), Some(1.75));
        assert_eq!(quantile(&mut [], 0.5), None);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(mode(&[2.0, 1.0, 2.0, 1.0, 0.5]), Some(1.0));
        assert_eq!(mode(&[]), None);
    }
}
