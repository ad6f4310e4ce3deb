//! Server-rendered SVG charts: one small module for every page.
//!
//! Coordinates are written as integers in a fixed 1000 × 250 view box (the
//! SVG scales to its container), which keeps the markup short and cheap to
//! format. Series are downsampled with LTTB to at most [`MAX_POINTS`] points.
//! Colours come from CSS classes (`series-1` …), so both themes work and the
//! CSP (no inline styles) holds.

// Pixel coordinates are bounded by the view box; the casts between float and
// integer here cannot overflow in any way that matters for a drawing.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "pixel coordinates inside a fixed view box"
)]

use std::fmt::Write as _;

/// Most points drawn per series.
pub const MAX_POINTS: usize = 1200;
/// View box width.
pub const WIDTH: i64 = 1000;
/// View box height.
pub const HEIGHT: i64 = 250;
const PAD_LEFT: i64 = 48;
const PAD_BOTTOM: i64 = 24;
const PAD_TOP: i64 = 8;
const PAD_RIGHT: i64 = 8;

/// Largest-Triangle-Three-Buckets downsampling (Steinarsson 2013): keeps the
/// visual shape of a series with `threshold` points. Points with a non-finite
/// y are dropped first.
#[must_use]
pub fn lttb(points: &[(f64, f64)], threshold: usize) -> Vec<(f64, f64)> {
    let data: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if threshold < 3 || data.len() <= threshold {
        return data;
    }
    let mut sampled = Vec::with_capacity(threshold);
    let bucket = (data.len() - 2) as f64 / (threshold - 2) as f64;
    let mut a = 0_usize;
    sampled.push(data[0]);
    for i in 0..threshold - 2 {
        let avg_start = ((i + 1) as f64 * bucket) as usize + 1;
        let avg_end = (((i + 2) as f64 * bucket) as usize + 1).min(data.len());
        let avg_range = &data[avg_start.min(avg_end.saturating_sub(1))..avg_end];
        let n = avg_range.len().max(1) as f64;
        let (avg_x, avg_y) = avg_range
            .iter()
            .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
        let (avg_x, avg_y) = (avg_x / n, avg_y / n);
        let start = (i as f64 * bucket) as usize + 1;
        let end = (((i + 1) as f64 * bucket) as usize + 1).min(data.len() - 1);
        let (ax, ay) = data[a];
        let mut best = start;
        let mut best_area = -1.0;
        for (j, (x, y)) in data.iter().enumerate().take(end).skip(start) {
            let area = (ax - avg_x)
                .mul_add(y - ay, -((ax - x) * (avg_y - ay)))
                .abs();
            if area > best_area {
                best_area = area;
                best = j;
            }
        }
        sampled.push(data[best]);
        a = best;
    }
    sampled.push(data[data.len() - 1]);
    sampled
}

/// Round "nice" tick values covering [min, max].
#[must_use]
pub fn ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    if !(min.is_finite() && max.is_finite()) || max <= min || target == 0 {
        return vec![min];
    }
    let raw = (max - min) / target as f64;
    let magnitude = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(magnitude * 10.0);
    let first = (min / step).ceil() * step;
    let mut out = Vec::new();
    let mut v = first;
    while v <= max + step * 1e-9 && out.len() < 50 {
        out.push(v);
        v += step;
    }
    out
}

/// Round tick values for a time axis in seconds: whole minutes or hours
/// (1, 2, 5, 10, 15, 20, 30 min, 1, 2 h …), so labels read 10:00, 20:00, 30:00.
#[must_use]
pub fn time_ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    const STEPS: [f64; 12] = [
        60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0, 7200.0, 10_800.0, 21_600.0,
        43_200.0,
    ];
    if !(min.is_finite() && max.is_finite()) || max <= min || target == 0 {
        return vec![min];
    }
    let raw = (max - min) / target as f64;
    let Some(step) = STEPS.iter().copied().find(|s| *s >= raw) else {
        return ticks(min, max, target);
    };
    let mut out = Vec::new();
    let mut v = (min / step).ceil() * step;
    while v <= max + 1e-9 && out.len() < 50 {
        out.push(v);
        v += step;
    }
    out
}

/// What the x axis measures, for choosing round ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Plain numbers (distance, days…).
    Number,
    /// Seconds, ticked at whole minutes or hours.
    Seconds,
}

/// One series of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    /// CSS class picking the colour, e.g. `series-hr`.
    pub class: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// An SVG line chart with y axis ticks and x labels from `x_label`.
#[must_use]
pub fn line_chart(
    title: &str,
    series: &[Series],
    x_axis: XAxis,
    x_label: impl Fn(f64) -> String,
    y_label: impl Fn(f64) -> String,
) -> String {
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let mut svg = String::with_capacity(16 * 1024);
    let _ = write!(
        svg,
        r#"<svg class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" preserveAspectRatio="none"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    if all.is_empty() {
        svg.push_str("</svg>");
        return svg;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in &all {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if (y1 - y0).abs() < f64::EPSILON {
        y0 -= 1.0;
        y1 += 1.0;
    }
    if (x1 - x0).abs() < f64::EPSILON {
        x1 = x0 + 1.0;
    }
    let plot_w = (WIDTH - PAD_LEFT - PAD_RIGHT) as f64;
    let plot_h = (HEIGHT - PAD_TOP - PAD_BOTTOM) as f64;
    let sx = |x: f64| PAD_LEFT + ((x - x0) / (x1 - x0) * plot_w).round() as i64;
    let sy = |y: f64| PAD_TOP + ((1.0 - (y - y0) / (y1 - y0)) * plot_h).round() as i64;
    svg.push_str(r#"<g class="chart-grid">"#);
    for t in ticks(y0, y1, 4) {
        let y = sy(t);
        let _ = write!(
            svg,
            r#"<line x1="{PAD_LEFT}" x2="{}" y1="{y}" y2="{y}"/><text class="chart-tick" x="{}" y="{}">{}</text>"#,
            WIDTH - PAD_RIGHT,
            PAD_LEFT - 6,
            y + 4,
            escape(&y_label(t))
        );
    }
    let x_ticks = match x_axis {
        XAxis::Number => ticks(x0, x1, 6),
        XAxis::Seconds => time_ticks(x0, x1, 6),
    };
    for t in x_ticks {
        let x = sx(t);
        let _ = write!(
            svg,
            r#"<text class="chart-tick chart-tick-x" x="{x}" y="{}">{}</text>"#,
            HEIGHT - 6,
            escape(&x_label(t))
        );
    }
    svg.push_str("</g>");
    for s in series {
        let points = lttb(&s.points, MAX_POINTS);
        if points.is_empty() {
            continue;
        }
        let _ = write!(svg, r#"<polyline class="chart-line {}" points=""#, s.class);
        for (i, (x, y)) in points.iter().enumerate() {
            if i > 0 {
                svg.push(' ');
            }
            let _ = write!(svg, "{},{}", sx(*x), sy(*y));
        }
        let _ = write!(svg, r#""><title>{}</title></polyline>"#, escape(&s.label));
    }
    svg.push_str("</svg>");
    svg
}

/// The route as an SVG polyline, equirectangular projection around the mean
/// latitude (good enough at activity scale; no tile server).
#[must_use]
pub fn route(title: &str, lat: &[f64], lon: &[f64]) -> String {
    let pts: Vec<(f64, f64)> = lat
        .iter()
        .zip(lon)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .collect();
    let mut svg = String::new();
    if pts.is_empty() {
        return svg;
    }
    let mean_lat = pts.iter().map(|p| p.0).sum::<f64>() / pts.len() as f64;
    let k = mean_lat.to_radians().cos().max(0.01);
    let xy: Vec<(f64, f64)> = pts.iter().map(|(la, lo)| (lo * k, -la)).collect();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in &xy {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    let span = (x1 - x0).max(y1 - y0).max(1e-9);
    let size = 600.0;
    let w = ((x1 - x0) / span * size).round().max(1.0) as i64;
    let h = ((y1 - y0) / span * size).round().max(1.0) as i64;
    let _ = write!(
        svg,
        r#"<svg class="route-svg" viewBox="-10 -10 {} {}" role="img" aria-label="{}"><title>{}</title><polyline class="route-line" points=""#,
        w + 20,
        h + 20,
        escape(title),
        escape(title)
    );
    // Downsample by index through LTTB on (index, x) would distort; take every n-th point.
    let step = (xy.len() / MAX_POINTS).max(1);
    for (i, (x, y)) in xy.iter().step_by(step).enumerate() {
        if i > 0 {
            svg.push(' ');
        }
        let px = ((x - x0) / span * size).round() as i64;
        let py = ((y - y0) / span * size).round() as i64;
        let _ = write!(svg, "{px},{py}");
    }
    svg.push_str(r#""/>"#);
    if let (Some(first), Some(last)) = (xy.first(), xy.last()) {
        for (class, (x, y)) in [("route-start", first), ("route-end", last)] {
            let _ = write!(
                svg,
                r#"<circle class="{class}" cx="{}" cy="{}" r="7"/>"#,
                ((x - x0) / span * size).round() as i64,
                ((y - y0) / span * size).round() as i64
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Escape text for SVG/HTML.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lttb_keeps_ends_and_size() {
        let pts: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (f64::from(i), (f64::from(i) / 100.0).sin()))
            .collect();
        let out = lttb(&pts, 1200);
        assert_eq!(out.len(), 1200);
        assert_eq!(out[0], pts[0]);
        assert_eq!(out[1199], pts[9999]);
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
        // Peaks survive downsampling.
        let max = out.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        assert!(max > 0.999);
    }

    #[test]
    fn small_series_are_kept_and_nan_dropped() {
        let pts = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)];
        assert_eq!(lttb(&pts, 1200), vec![(0.0, 1.0), (2.0, 3.0)]);
    }

    #[test]
    fn time_ticks_fall_on_whole_minutes() {
        assert_eq!(
            time_ticks(0.0, 4700.0, 6),
            vec![0.0, 900.0, 1800.0, 2700.0, 3600.0, 4500.0]
        );
        assert_eq!(time_ticks(30.0, 400.0, 6), vec![120.0, 240.0, 360.0]);
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 100.0, 4), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(ticks(93.0, 187.0, 4), vec![100.0, 125.0, 150.0, 175.0]);
    }

    #[test]
    fn charts_escape_titles_and_use_integers() {
        let svg = line_chart(
            "HR <script>",
            &[Series {
                label: "Heart rate".into(),
                class: "series-hr",
                points: vec![(0.0, 100.0), (10.0, 150.5)],
            }],
            XAxis::Number,
            |x| format!("{x}"),
            |y| format!("{y}"),
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains(r#"points="48,"#));
    }
}
