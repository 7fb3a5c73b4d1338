//! Plain SVG plots of a study (no plotting crate): optimisation history,
//! parallel coordinates, slice plots, importances and (two objectives) the
//! Pareto front. Each function returns a self-contained SVG document.

use std::fmt::Write;
use std::sync::Arc;

use crate::samplers::intersection_space;
use crate::space::Distribution;
use crate::trial::{Direction, FrozenTrial, TrialState};

const W: f64 = 820.0;
const H: f64 = 460.0;
const M: f64 = 60.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e4 || v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else {
        format!("{:.4}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn header(title: &str, w: f64, h: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"11\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"{}\" y=\"20\" font-size=\"14\" text-anchor=\"middle\">{}</text>",
        w / 2.0,
        esc(title)
    )
}

/// Linear scale from [a, b] onto [p, q].
fn scale(v: f64, a: f64, b: f64, p: f64, q: f64) -> f64 {
    if b > a {
        p + (v - a) / (b - a) * (q - p)
    } else {
        (p + q) / 2.0
    }
}

fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        (0.0, 1.0)
    } else {
        (lo, hi)
    }
}

/// Blue (best) to red (worst).
fn colour(t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    format!(
        "rgb({},{},{})",
        (40.0 + 200.0 * t) as u8,
        (90.0 + 40.0 * (1.0 - t)) as u8,
        (220.0 - 180.0 * t) as u8
    )
}

#[allow(clippy::too_many_arguments)]
fn axes(s: &mut String, x0: f64, y0: f64, x1: f64, y1: f64, xlab: &str, ylab: &str, xr: (f64, f64), yr: (f64, f64)) {
    let _ = write!(
        s,
        "<line x1=\"{x0}\" y1=\"{y1}\" x2=\"{x1}\" y2=\"{y1}\" stroke=\"black\"/>\
         <line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\" stroke=\"black\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 {} {})\">{}</text>\
         <text x=\"{x0}\" y=\"{}\" text-anchor=\"start\">{}</text><text x=\"{x1}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"{y1}\" text-anchor=\"end\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        (x0 + x1) / 2.0,
        y1 + 32.0,
        esc(xlab),
        x0 - 42.0,
        (y0 + y1) / 2.0,
        x0 - 42.0,
        (y0 + y1) / 2.0,
        esc(ylab),
        y1 + 14.0,
        fmt_num(xr.0),
        y1 + 14.0,
        fmt_num(xr.1),
        x0 - 4.0,
        fmt_num(yr.0),
        x0 - 4.0,
        y0 + 8.0,
        fmt_num(yr.1),
    );
}

fn complete(trials: &[Arc<FrozenTrial>], objective: usize) -> Vec<(&FrozenTrial, f64)> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| t.values.as_ref().and_then(|v| v.get(objective)).map(|v| (&**t, *v)))
        .collect()
}

/// Objective value of each COMPLETE trial by number, with the best value so far.
pub fn history(trials: &[Arc<FrozenTrial>], direction: Direction, title: &str) -> String {
    let pts = complete(trials, 0);
    let mut s = header(title, W, H);
    let xr = range(pts.iter().map(|(t, _)| t.number as f64));
    let yr = range(pts.iter().map(|(_, v)| *v));
    let (x0, y0, x1, y1) = (M + 10.0, 40.0, W - 20.0, H - M);
    axes(&mut s, x0, y0, x1, y1, "trial", "objective value", xr, yr);
    let mut best = f64::NAN;
    let mut line = String::new();
    for (t, v) in &pts {
        let x = scale(t.number as f64, xr.0, xr.1, x0, x1);
        let y = scale(*v, yr.0, yr.1, y1, y0);
        let _ = write!(s, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"#4a78c2\" fill-opacity=\"0.7\"><title>trial {}: {}</title></circle>", t.number, fmt_num(*v));
        if best.is_nan() || direction.to_min(*v) < direction.to_min(best) {
            best = *v;
        }
        let by = scale(best, yr.0, yr.1, y1, y0);
        let _ = write!(line, "{x:.1},{by:.1} ");
    }
    let _ = write!(
        s,
        "<polyline points=\"{line}\" fill=\"none\" stroke=\"#d04020\" stroke-width=\"2\"/>"
    );
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#d04020\">best so far</text>",
        x1,
        y0 + 12.0
    );
    s.push_str("</svg>");
    s
}

/// Unit coordinate for plotting (categoricals as evenly spaced cells).
fn unit(dist: &Distribution, x: f64) -> f64 {
    match dist.n_choices() {
        Some(k) if k > 1 => x / (k - 1) as f64,
        Some(_) => 0.5,
        None => dist.to_unit(x),
    }
}

fn bounds_label(dist: &Distribution) -> (String, String) {
    match dist {
        Distribution::Float { low, high, .. } => (fmt_num(*low), fmt_num(*high)),
        Distribution::Int { low, high, .. } => (low.to_string(), high.to_string()),
        Distribution::Categorical { choices } => (
            choices.first().map(|c| c.to_string()).unwrap_or_default(),
            choices.last().map(|c| c.to_string()).unwrap_or_default(),
        ),
    }
}

/// One vertical axis per shared parameter plus the objective; a line per COMPLETE trial, coloured by value.
pub fn parallel_coordinates(trials: &[Arc<FrozenTrial>], direction: Direction, title: &str) -> String {
    let pts = complete(trials, 0);
    let space = intersection_space(trials);
    let names: Vec<&String> = space.keys().collect();
    let n_axes = names.len() + 1;
    let mut s = header(title, W, H);
    let (y0, y1) = (50.0, H - 50.0);
    let xs: Vec<f64> = (0..n_axes)
        .map(|i| scale(i as f64, 0.0, (n_axes - 1).max(1) as f64, M, W - M))
        .collect();
    let vr = range(pts.iter().map(|(_, v)| *v));
    for (i, x) in xs.iter().enumerate() {
        let (label, lo, hi) = match names.get(i) {
            Some(n) => {
                let (lo, hi) = bounds_label(&space[*n]);
                ((*n).clone(), lo, hi)
            }
            None => ("objective".into(), fmt_num(vr.0), fmt_num(vr.1)),
        };
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{y1}\" stroke=\"#333\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#666\">{}</text>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#666\">{}</text>",
            y1 + 30.0,
            esc(&label),
            y1 + 14.0,
            esc(&lo),
            y0 - 6.0,
            esc(&hi)
        );
    }
    for (t, v) in &pts {
        let good = scale(
            direction.to_min(*v),
            direction.to_min(vr.0).min(direction.to_min(vr.1)),
            direction.to_min(vr.0).max(direction.to_min(vr.1)),
            0.0,
            1.0,
        );
        let mut line = String::new();
        for (i, n) in names.iter().enumerate() {
            let u = t.internal(n).map(|x| unit(&space[*n], x)).unwrap_or(0.5);
            let _ = write!(line, "{:.1},{:.1} ", xs[i], scale(u, 0.0, 1.0, y1, y0));
        }
        let _ = write!(line, "{:.1},{:.1}", xs[n_axes - 1], scale(*v, vr.0, vr.1, y1, y0));
        let _ = write!(
            s,
            "<polyline points=\"{line}\" fill=\"none\" stroke=\"{}\" stroke-opacity=\"0.6\"><title>trial {}</title></polyline>",
            colour(good),
            t.number
        );
    }
    s.push_str("</svg>");
    s
}

/// One panel per shared parameter: objective value against the parameter.
pub fn slice(trials: &[Arc<FrozenTrial>], title: &str) -> String {
    let pts = complete(trials, 0);
    let space = intersection_space(trials);
    let names: Vec<&String> = space.keys().collect();
    let cols = names.len().clamp(1, 4);
    let rows = names.len().div_ceil(cols).max(1);
    let (pw, ph) = (250.0, 200.0);
    let (w, h) = (cols as f64 * pw + 20.0, rows as f64 * ph + 40.0);
    let mut s = header(title, w, h);
    let vr = range(pts.iter().map(|(_, v)| *v));
    for (k, n) in names.iter().enumerate() {
        let (cx, cy) = ((k % cols) as f64 * pw + 10.0, (k / cols) as f64 * ph + 30.0);
        let (x0, y0, x1, y1) = (cx + 55.0, cy + 10.0, cx + pw - 10.0, cy + ph - 45.0);
        let dist = &space[*n];
        let (lo, hi) = bounds_label(dist);
        let _ = write!(
            s,
            "<rect x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{x0}\" y=\"{}\" fill=\"#666\">{}</text><text x=\"{x1}\" y=\"{}\" text-anchor=\"end\" fill=\"#666\">{}</text>\
             <text x=\"{}\" y=\"{y1}\" text-anchor=\"end\" fill=\"#666\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#666\">{}</text>",
            x1 - x0,
            y1 - y0,
            (x0 + x1) / 2.0,
            y1 + 28.0,
            esc(n),
            y1 + 13.0,
            esc(&lo),
            y1 + 13.0,
            esc(&hi),
            x0 - 3.0,
            fmt_num(vr.0),
            x0 - 3.0,
            y0 + 9.0,
            fmt_num(vr.1)
        );
        for (t, v) in &pts {
            if let Some(x) = t.internal(n) {
                let px = scale(unit(dist, x), 0.0, 1.0, x0, x1);
                let py = scale(*v, vr.0, vr.1, y1, y0);
                let _ = write!(
                    s,
                    "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"2.5\" fill=\"#4a78c2\" fill-opacity=\"0.7\"/>"
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars of parameter importances.
pub fn importances(imp: &[(String, f64)], title: &str) -> String {
    let h = 60.0 + 26.0 * imp.len().max(1) as f64;
    let mut s = header(title, W, h);
    let max = imp.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1e-12);
    for (i, (name, v)) in imp.iter().enumerate() {
        let y = 40.0 + 26.0 * i as f64;
        let bw = (W - 260.0) * v / max;
        let _ = write!(
            s,
            "<text x=\"190\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"200\" y=\"{y}\" width=\"{bw:.1}\" height=\"18\" fill=\"#4a78c2\"/>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            y + 13.0,
            esc(name),
            205.0 + bw,
            y + 13.0,
            fmt_num(*v)
        );
    }
    s.push_str("</svg>");
    s
}

/// Two objectives: every COMPLETE trial, with the Pareto front highlighted.
pub fn pareto_front(trials: &[Arc<FrozenTrial>], front: &[u64], names: &[String], title: &str) -> String {
    let pts: Vec<(&FrozenTrial, f64, f64)> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| {
            let v = t.values.as_ref()?;
            Some((&**t, *v.first()?, *v.get(1)?))
        })
        .collect();
    let mut s = header(title, W, H);
    let xr = range(pts.iter().map(|p| p.1));
    let yr = range(pts.iter().map(|p| p.2));
    let (x0, y0, x1, y1) = (M + 10.0, 40.0, W - 20.0, H - M);
    let label = |i: usize| names.get(i).cloned().unwrap_or_else(|| format!("value_{i}"));
    axes(&mut s, x0, y0, x1, y1, &label(0), &label(1), xr, yr);
    for (t, a, b) in &pts {
        let on = front.contains(&t.number);
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"{}\"><title>trial {}</title></circle>",
            scale(*a, xr.0, xr.1, x0, x1),
            scale(*b, yr.0, yr.1, y1, y0),
            if on { 4 } else { 3 },
            if on { "#d04020" } else { "#9ab" },
            t.number
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::TrialParam;

    #[test]
    fn plots_are_svg_documents_with_every_trial() {
        let d = Distribution::float(0.0, 1.0).unwrap();
        let trials: Vec<Arc<FrozenTrial>> = (0..5u64)
            .map(|i| {
                let mut t = FrozenTrial::new(i as i64, i, TrialState::Complete);
                t.values = Some(vec![i as f64, 5.0 - i as f64]);
                t.params.insert(
                    "x<&>".into(),
                    TrialParam {
                        value: (i as f64 / 5.0).into(),
                        internal: i as f64 / 5.0,
                        distribution: d.clone(),
                    },
                );
                Arc::new(t)
            })
            .collect();
        for svg in [
            history(&trials, Direction::Minimize, "h"),
            parallel_coordinates(&trials, Direction::Minimize, "p"),
            slice(&trials, "s"),
            importances(&[("x".into(), 1.0)], "i"),
            pareto_front(&trials, &[0, 1], &[], "f"),
        ] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert!(!svg.contains("x<&>"), "names are escaped");
        }
        assert_eq!(history(&trials, Direction::Minimize, "h").matches("<circle").count(), 5);
    }
}
