//! Evaluation plots as SVG (plotters' SVG backend: no font or image
//! libraries): learning curves, ROC and precision-recall curves, confusion
//! matrices, feature importances, predicted-vs-actual scatter.

use plotters::prelude::*;

const SIZE: (u32, u32) = (720, 440);
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

type PlotResult<T> = Result<T, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing a plot: {e:?}")
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// One line per metric over iterations (`series` = (name, [(iteration, value)])).
pub fn learning_curves(title: &str, series: &[(String, Vec<(f64, f64)>)]) -> PlotResult<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (x0, x1) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
        let (y0, y1) = range(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .y_desc("value")
            .draw()
            .map_err(err)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied().filter(|p| p.1.is_finite()),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// ROC curve points (FPR, TPR) from labels (0/1) and scores, ties grouped.
pub fn roc_points(y: &[f64], score: &[f64]) -> Vec<(f64, f64)> {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let pos = y.iter().filter(|&&v| v >= 0.5).count() as f64;
    let neg = y.len() as f64 - pos;
    let mut pts = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let s = score[idx[i]];
        while i < idx.len() && score[idx[i]] == s {
            if y[idx[i]] >= 0.5 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        pts.push((
            if neg > 0.0 { fp / neg } else { 0.0 },
            if pos > 0.0 { tp / pos } else { 0.0 },
        ));
    }
    thin(pts, 2000)
}

/// Precision-recall points (recall, precision), ties grouped.
pub fn pr_points(y: &[f64], score: &[f64]) -> Vec<(f64, f64)> {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let pos = y.iter().filter(|&&v| v >= 0.5).count() as f64;
    let mut pts = Vec::new();
    let (mut tp, mut seen) = (0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let s = score[idx[i]];
        while i < idx.len() && score[idx[i]] == s {
            if y[idx[i]] >= 0.5 {
                tp += 1.0;
            }
            seen += 1.0;
            i += 1;
        }
        pts.push((if pos > 0.0 { tp / pos } else { 0.0 }, tp / seen));
    }
    thin(pts, 2000)
}

/// Keeps at most about `max` points, always the first and last.
fn thin(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points;
    }
    let step = points.len().div_ceil(max);
    let last = *points.last().unwrap_or(&(0.0, 0.0));
    let mut out: Vec<(f64, f64)> = points.into_iter().step_by(step).collect();
    out.push(last);
    out
}

/// A curve in the unit square (ROC, PR), with an optional diagonal.
pub fn unit_curve(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    curves: &[(String, Vec<(f64, f64)>)],
    diagonal: bool,
) -> PlotResult<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (560, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..1.0f64, 0.0..1.02f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()
            .map_err(err)?;
        if diagonal {
            chart
                .draw_series(LineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3)))
                .map_err(err)?;
        }
        for (i, (name, pts)) in curves.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// A confusion matrix as a heat map with counts; rows are true classes.
pub fn confusion_matrix(title: &str, labels: &[String], counts: &[Vec<u64>]) -> PlotResult<String> {
    let k = labels.len().max(1);
    let cell = (360 / k as u32).clamp(24, 90);
    let side = cell * k as u32;
    let (w, h) = (side + 200, side + 140);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        root.draw(&Text::new(title.to_string(), (20, 10), ("sans-serif", 18)))
            .map_err(err)?;
        let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
        let (ox, oy) = (150i32, 60i32);
        for (i, row) in counts.iter().enumerate() {
            for (j, &c) in row.iter().enumerate() {
                let t = c as f64 / max;
                let color = RGBColor(
                    (255.0 - t * 224.0) as u8,
                    (255.0 - t * 136.0) as u8,
                    (255.0 - t * 75.0) as u8,
                );
                let (x, y) = (ox + j as i32 * cell as i32, oy + i as i32 * cell as i32);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell as i32, y + cell as i32)],
                    color.filled(),
                ))
                .map_err(err)?;
                let fg = if t > 0.6 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    c.to_string(),
                    (x + cell as i32 / 2 - 8, y + cell as i32 / 2 - 7),
                    ("sans-serif", 13).into_font().color(&fg),
                ))
                .map_err(err)?;
            }
        }
        for (i, l) in labels.iter().enumerate() {
            let short: String = l.chars().take(16).collect();
            root.draw(&Text::new(
                short.clone(),
                (10, oy + i as i32 * cell as i32 + cell as i32 / 2 - 7),
                ("sans-serif", 13),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                short,
                (ox + i as i32 * cell as i32 + 2, oy + side as i32 + 8),
                ("sans-serif", 13),
            ))
            .map_err(err)?;
        }
        root.draw(&Text::new(
            "true \u{2193}  predicted \u{2192}",
            (10, 36),
            ("sans-serif", 13),
        ))
        .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// Horizontal bars of the largest importances (at most `top`).
pub fn importance_bars(title: &str, names: &[String], values: &[f64], top: usize) -> PlotResult<String> {
    let mut items: Vec<(&String, f64)> = names.iter().zip(values.iter().copied()).collect();
    items.sort_by(|a, b| b.1.total_cmp(&a.1));
    items.truncate(top.max(1));
    let n = items.len().max(1);
    let h = (80 + 22 * n) as u32;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (720, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let max = items.iter().map(|i| i.1).fold(0.0f64, f64::max).max(1e-12);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(180)
            .build_cartesian_2d(0.0..max * 1.05, (0..n).into_segmented())
            .map_err(err)?;
        let labels: Vec<String> = items.iter().map(|i| i.0.chars().take(28).collect()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => (n - 1)
                    .checked_sub(*i)
                    .and_then(|k| labels.get(k).cloned())
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .y_labels(n)
            .x_desc("importance (gain)")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(items.iter().enumerate().map(|(i, (_, v))| {
                let row = n - 1 - i;
                Rectangle::new(
                    [(0.0, SegmentValue::Exact(row)), (*v, SegmentValue::Exact(row + 1))],
                    PALETTE[0].filled(),
                )
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// Predicted against actual values (regression), with the identity line.
pub fn predicted_vs_actual(title: &str, actual: &[f64], predicted: &[f64]) -> PlotResult<String> {
    let n = actual.len().min(predicted.len());
    let step = n.div_ceil(3000).max(1);
    let pts: Vec<(f64, f64)> = (0..n).step_by(step).map(|i| (actual[i], predicted[i])).collect();
    let (lo, hi) = range(pts.iter().flat_map(|p| [p.0, p.1]));
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (560, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("actual")
            .y_desc("predicted")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(vec![(lo, lo), (hi, hi)], BLACK.mix(0.3)))
            .map_err(err)?;
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 2, PALETTE[0].mix(0.5).filled())))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_and_pr_points_of_a_perfect_ranking() {
        let y = [0.0, 0.0, 1.0, 1.0];
        let s = [0.1, 0.2, 0.8, 0.9];
        let roc = roc_points(&y, &s);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert!(roc.contains(&(0.0, 1.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        let pr = pr_points(&y, &s);
        assert_eq!(pr[1], (1.0, 1.0));
        assert_eq!(pr.last(), Some(&(1.0, 0.5)));
        // Tied scores form one step.
        let tied = roc_points(&[0.0, 1.0], &[0.5, 0.5]);
        assert_eq!(tied, vec![(0.0, 0.0), (1.0, 1.0)]);
    }

    #[test]
    fn plots_are_svg_documents_with_their_labels() {
        let lc = learning_curves("curves", &[("valid_auc".into(), vec![(1.0, 0.7), (2.0, 0.8)])]).unwrap();
        assert!(lc.starts_with("<svg") && lc.contains("valid_auc") && lc.contains("curves"));
        let cm = confusion_matrix("cm", &["no".into(), "yes".into()], &[vec![5, 1], vec![2, 7]]).unwrap();
        let text = |s: &str, t: &str| s.contains(&format!(">\n{t}\n</text>"));
        assert!(text(&cm, "7") && text(&cm, "yes"), "{cm}");
        let fi = importance_bars("fi", &["a".into(), "b".into()], &[1.0, 3.0], 10).unwrap();
        assert!(text(&fi, "b") && text(&fi, "a"), "{fi}");
        let pa = predicted_vs_actual("pa", &[1.0, 2.0], &[1.1, 1.9]).unwrap();
        assert!(pa.contains("<circle"));
        let roc = unit_curve("ROC", "FPR", "TPR", &[("m".into(), vec![(0.0, 0.0), (1.0, 1.0)])], true).unwrap();
        assert!(roc.contains("ROC"));
        // Degenerate inputs still draw.
        assert!(learning_curves("empty", &[]).is_ok());
        assert!(predicted_vs_actual("same", &[1.0, 1.0], &[1.0, 1.0]).is_ok());
    }
}
