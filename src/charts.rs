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

use chrono::{Datelike, NaiveDate};

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
/// Right padding when bars bring a right axis.
const PAD_RIGHT_AXIS: i64 = 48;

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
    // `+ 0.0` turns a -0 (ceil of a small negative) into 0, so no "-0" label.
    let first = (min / step).ceil().mul_add(step, 0.0);
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
    let mut v = (min / step).ceil().mul_add(step, 0.0);
    while v <= max + 1e-9 && out.len() < 50 {
        out.push(v);
        v += step;
    }
    out
}

/// What the x axis of [`line_chart`] measures, for choosing round ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Plain numbers (distance, days…).
    Number,
    /// Seconds, ticked at whole minutes or hours.
    Seconds,
}

/// The x scale of a [`Chart`]: how x values map to the plot and where ticks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XScale {
    /// Plain numbers, round ticks from [`ticks`].
    #[default]
    Linear,
    /// Seconds, ticked at whole minutes or hours ([`time_ticks`]).
    Seconds,
    /// Days since 1970-01-01 ([`day_number`]): ticks every day under two
    /// weeks, at Mondays under 70 days, else at month starts (every 1, 2, 3,
    /// 6 or 12 months so that at most 8 are shown).
    Days,
    /// Seconds on a log10 axis, for mean-maximal curves: ticks at 1 s, 5 s,
    /// 10 s, 30 s, 1, 5, 10, 20 min, 1, 2, 5 h within the range. Points with
    /// x ≤ 0 are dropped.
    LogSeconds,
}

impl From<XAxis> for XScale {
    fn from(axis: XAxis) -> Self {
        match axis {
            XAxis::Number => Self::Linear,
            XAxis::Seconds => Self::Seconds,
        }
    }
}

impl XScale {
    /// Position of a data x on the (linear) plot axis.
    fn forward(self, x: f64) -> f64 {
        match self {
            Self::LogSeconds if x > 0.0 => x.log10(),
            Self::LogSeconds => f64::NAN,
            _ => x,
        }
    }

    /// Tick values in data units for a data range.
    fn ticks(self, min: f64, max: f64) -> Vec<f64> {
        const LOG_TICKS: [f64; 11] = [
            1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1200.0, 3600.0, 7200.0, 18_000.0,
        ];
        match self {
            Self::Linear => ticks(min, max, 6),
            Self::Seconds => time_ticks(min, max, 6),
            Self::Days => day_ticks(min, max),
            Self::LogSeconds => LOG_TICKS
                .into_iter()
                .filter(|t| *t >= min * (1.0 - 1e-9) && *t <= max * (1.0 + 1e-9))
                .collect(),
        }
    }
}

/// Days between 0001-01-01 (day 1 of the common era) and 1970-01-01.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Days since 1970-01-01: the x value of a date on an [`XScale::Days`] axis.
#[must_use]
pub fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce() - EPOCH_DAYS_FROM_CE)
}

/// The date `day` days after 1970-01-01, if chrono can represent it.
#[must_use]
pub fn date_of_day(day: i64) -> Option<NaiveDate> {
    i32::try_from(day)
        .ok()
        .and_then(|d| d.checked_add(EPOCH_DAYS_FROM_CE))
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// Ticks for [`XScale::Days`], as day numbers.
fn day_ticks(min: f64, max: f64) -> Vec<f64> {
    if !(min.is_finite() && max.is_finite()) || max < min {
        return Vec::new();
    }
    let (first, last) = (min.ceil() as i64, max.floor() as i64);
    let span = max - min;
    if span < 14.0 {
        return (first..=last).map(|d| d as f64).collect();
    }
    if span < 70.0 {
        // 1970-01-05 (day 4) was a Monday.
        let monday = first + (4 - first).rem_euclid(7);
        return (monday..=last).step_by(7).map(|d| d as f64).collect();
    }
    let (Some(start), Some(end)) = (date_of_day(first), date_of_day(last)) else {
        return Vec::new();
    };
    let month_index = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
    let months = month_index(end) - month_index(start) + 1;
    let step = [1, 2, 3, 6, 12]
        .into_iter()
        .find(|s| months / s <= 8)
        .unwrap_or(12 * ((months / 96) + 1));
    let mut m = month_index(start) + i64::from(start.day() != 1);
    m = (m + step - 1).div_euclid(step) * step;
    let mut out = Vec::new();
    while let Some(date) = i32::try_from(m.div_euclid(12))
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, m.rem_euclid(12) as u32 + 1, 1))
    {
        if date > end || out.len() >= 50 {
            break;
        }
        out.push(day_number(date) as f64);
        m += step;
    }
    out
}

/// How strongly a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Emphasis {
    /// The usual line.
    #[default]
    Normal,
    /// Context drawn behind the normal lines (thinner, dashed, fainter via
    /// the `chart-line-bg` class), e.g. the all-time curve behind this range.
    Background,
}

/// One series of a line chart.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub label: String,
    /// CSS class picking the colour, e.g. `series-hr` or `series-fitness`.
    pub class: &'static str,
    pub points: Vec<(f64, f64)>,
    pub emphasis: Emphasis,
}

impl Series {
    /// A normal-emphasis series.
    #[must_use]
    pub fn new(label: impl Into<String>, class: &'static str, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            class,
            points,
            emphasis: Emphasis::Normal,
        }
    }
}

/// Bars drawn behind the lines of a [`Chart`] on a secondary right y axis
/// that starts at 0 (e.g. daily training load under fitness and fatigue).
#[derive(Debug, Clone)]
pub struct Bars {
    pub label: String,
    /// CSS class picking the colour, e.g. `series-1`.
    pub class: &'static str,
    /// (x, value); values ≤ 0 or not finite draw nothing.
    pub points: Vec<(f64, f64)>,
    /// Labels of the right axis ticks and of each bar's tooltip.
    pub y_label: fn(f64) -> String,
}

/// Most bars drawn: beyond this, neighbouring bars are averaged into one.
pub const MAX_BARS: usize = 500;

/// A general chart: lines on the left y axis, optional bars behind them on a
/// right y axis, x ticks chosen by [`XScale`]. Render with [`chart`].
pub struct Chart<'a> {
    /// Unique on the page: the SVG's `<title>` and `<desc>` get the ids
    /// `{id}-svg-title` and `{id}-svg-desc`. Empty: `aria-label` instead.
    pub id: &'a str,
    /// The `<title>`, the chart's accessible name.
    pub title: &'a str,
    /// The `<desc>`, e.g. "Fitness 72, fatigue 80, form -8 on 28 Nov".
    /// Empty: no `<desc>`.
    pub description: &'a str,
    pub x: XScale,
    /// Labels of x ticks (and bar tooltips), given x in data units.
    pub x_label: &'a dyn Fn(f64) -> String,
    /// Labels of left y ticks.
    pub y_label: &'a dyn Fn(f64) -> String,
    pub lines: Vec<Series>,
    pub bars: Option<Bars>,
    /// Draw y = 0 emphasised (`chart-zero`) when the line range crosses 0.
    pub zero_line: bool,
}

impl std::fmt::Debug for Chart<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chart")
            .field("id", &self.id)
            .field("title", &self.title)
            .field("x", &self.x)
            .field("lines", &self.lines.len())
            .field("bars", &self.bars.as_ref().map(|b| b.points.len()))
            .finish_non_exhaustive()
    }
}

/// An SVG line chart with y axis ticks and x labels from `x_label`: a
/// [`Chart`] without bars, id or description.
#[must_use]
pub fn line_chart(
    title: &str,
    series: &[Series],
    x_axis: XAxis,
    x_label: impl Fn(f64) -> String,
    y_label: impl Fn(f64) -> String,
) -> String {
    chart(&Chart {
        id: "",
        title,
        description: "",
        x: x_axis.into(),
        x_label: &x_label,
        y_label: &y_label,
        lines: series.to_vec(),
        bars: None,
        zero_line: false,
    })
}

/// The plot area and the data ranges mapped onto it (x already through
/// [`XScale::forward`]).
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    right: i64,
}

impl Frame {
    const fn bottom() -> i64 {
        HEIGHT - PAD_BOTTOM
    }
    const fn plot_w(&self) -> f64 {
        (self.right - PAD_LEFT) as f64
    }
    fn sx(&self, x: f64) -> i64 {
        PAD_LEFT + ((x - self.x0) / (self.x1 - self.x0) * self.plot_w()).round() as i64
    }
    fn sy(&self, y: f64) -> i64 {
        let plot_h = (Self::bottom() - PAD_TOP) as f64;
        PAD_TOP + ((1.0 - (y - self.y0) / (self.y1 - self.y0)) * plot_h).round() as i64
    }
}

/// Min and max of an iterator of finite values.
fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((v.min(lo), v.max(hi))),
        })
}

/// Render a [`Chart`] as SVG: grid and ticks, bars, zero line, background
/// lines, then normal lines. All coordinates are integers in the view box.
#[must_use]
pub fn chart(c: &Chart) -> String {
    let lines: Vec<(&Series, Vec<(f64, f64)>)> = c
        .lines
        .iter()
        .map(|s| {
            let pts: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (c.x.forward(x), y)).collect();
            (s, lttb(&pts, MAX_POINTS))
        })
        .collect();
    let bars: Vec<(f64, f64, f64)> = c.bars.as_ref().map_or_else(Vec::new, |b| {
        b.points
            .iter()
            .map(|&(x, v)| (c.x.forward(x), x, v))
            .filter(|(tx, _, v)| tx.is_finite() && v.is_finite())
            .collect()
    });
    let mut svg = String::with_capacity(16 * 1024);
    // Stretched to the container like the activity charts (CSS sets the height).
    let attrs = r#"class="chart-svg" preserveAspectRatio="none""#;
    open_svg(&mut svg, attrs, c.id, c.title, c.description, WIDTH, HEIGHT);
    let xs = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .chain(bars.iter().map(|b| b.0));
    let Some((mut x0, mut x1)) = extent(xs) else {
        svg.push_str("</svg>");
        return svg;
    };
    let (mut y0, mut y1) =
        extent(lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1))).unwrap_or((0.0, 1.0));
    if (y1 - y0).abs() < f64::EPSILON {
        y0 -= 1.0;
        y1 += 1.0;
    }
    // Half a bar's slot of room at either end so edge bars stay inside.
    let gap = min_gap(bars.iter().map(|b| b.0));
    if let Some(g) = gap {
        x0 -= g / 2.0;
        x1 += g / 2.0;
    }
    if (x1 - x0).abs() < f64::EPSILON {
        x0 -= 0.5;
        x1 += 0.5;
    }
    let f = Frame {
        x0,
        x1,
        y0,
        y1,
        right: WIDTH
            - if c.bars.is_some() {
                PAD_RIGHT_AXIS
            } else {
                PAD_RIGHT
            },
    };
    svg.push_str(r#"<g class="chart-grid">"#);
    if !lines.is_empty() {
        for t in ticks(y0, y1, 4) {
            let y = f.sy(t);
            let _ = write!(
                svg,
                r#"<line x1="{PAD_LEFT}" x2="{}" y1="{y}" y2="{y}"/><text class="chart-tick" x="{}" y="{}">{}</text>"#,
                f.right,
                PAD_LEFT - 6,
                y + 4,
                escape(&(c.y_label)(t))
            );
        }
    }
    let (dx0, dx1) = match c.x {
        XScale::LogSeconds => (10_f64.powf(x0), 10_f64.powf(x1)),
        _ => (x0, x1),
    };
    for t in c.x.ticks(dx0, dx1) {
        let _ = write!(
            svg,
            r#"<text class="chart-tick chart-tick-x" x="{}" y="{}">{}</text>"#,
            f.sx(c.x.forward(t)),
            HEIGHT - 6,
            escape(&(c.x_label)(t))
        );
    }
    svg.push_str("</g>");
    if let Some(spec) = &c.bars {
        draw_bars(&mut svg, &f, c.x_label, spec, &bars, gap);
    }
    if c.zero_line && y0 < 0.0 && y1 > 0.0 {
        let y = f.sy(0.0);
        let _ = write!(
            svg,
            r#"<line class="chart-zero" x1="{PAD_LEFT}" x2="{}" y1="{y}" y2="{y}"/>"#,
            f.right
        );
    }
    for emphasis in [Emphasis::Background, Emphasis::Normal] {
        for (s, points) in lines.iter().filter(|(s, _)| s.emphasis == emphasis) {
            if points.is_empty() {
                continue;
            }
            let bg = if emphasis == Emphasis::Background {
                " chart-line-bg"
            } else {
                ""
            };
            let _ = write!(
                svg,
                r#"<polyline class="chart-line{bg} {}" points=""#,
                s.class
            );
            for (i, (x, y)) in points.iter().enumerate() {
                if i > 0 {
                    svg.push(' ');
                }
                let _ = write!(svg, "{},{}", f.sx(*x), f.sy(*y));
            }
            let _ = write!(svg, r#""><title>{}</title></polyline>"#, escape(&s.label));
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Smallest positive distance between sorted values.
fn min_gap(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0.0)
        .min_by(f64::total_cmp)
}

/// Right-axis ticks and the bars themselves, averaged into at most
/// [`MAX_BARS`] buckets by x position. `bars` is (scaled x, data x, value).
fn draw_bars(
    svg: &mut String,
    frame: &Frame,
    x_label: &dyn Fn(f64) -> String,
    spec: &Bars,
    bars: &[(f64, f64, f64)],
    gap: Option<f64>,
) {
    let max = bars.iter().map(|p| p.2).fold(0.0, f64::max);
    let mut right_ticks = ticks(0.0, if max > 0.0 { max } else { 1.0 }, 4);
    let step = right_ticks.get(1).copied().unwrap_or(1.0);
    let mut top = right_ticks.last().copied().unwrap_or(1.0);
    if top < max {
        top += step;
        right_ticks.push(top);
    }
    let by = |v: f64| {
        let plot_h = (Frame::bottom() - PAD_TOP) as f64;
        Frame::bottom() - (v / top * plot_h).round() as i64
    };
    for t in right_ticks {
        let _ = write!(
            svg,
            r#"<text class="chart-tick chart-tick-right" x="{}" y="{}">{}</text>"#,
            frame.right + 6,
            by(t) + 4,
            escape(&(spec.y_label)(t))
        );
    }
    // (sum scaled x, first data x, last data x, sum value, count)
    let mut buckets: Vec<(f64, f64, f64, f64, usize)> = Vec::new();
    let slot = if bars.len() > MAX_BARS {
        let mut agg = vec![(0.0, f64::MAX, f64::MIN, 0.0, 0_usize); MAX_BARS];
        for &(tx, x, v) in bars {
            let i = (((tx - frame.x0) / (frame.x1 - frame.x0)) * MAX_BARS as f64) as usize;
            let a = &mut agg[i.min(MAX_BARS - 1)];
            *a = (a.0 + tx, a.1.min(x), a.2.max(x), a.3 + v, a.4 + 1);
        }
        buckets.extend(agg.into_iter().filter(|a| a.4 > 0));
        frame.plot_w() / MAX_BARS as f64
    } else {
        buckets.extend(bars.iter().map(|&(tx, x, v)| (tx, x, x, v, 1)));
        gap.map_or_else(
            || frame.plot_w() / 10.0,
            |g| g / (frame.x1 - frame.x0) * frame.plot_w(),
        )
    };
    let bar_w = (slot * 0.8).round().max(1.0) as i64;
    let _ = write!(svg, r#"<g class="chart-bars">"#);
    for (sum_x, first, last, sum_v, count) in buckets {
        let v = sum_v / count as f64;
        let y = by(v);
        if v <= 0.0 || y >= Frame::bottom() {
            continue;
        }
        let x = (frame.sx(sum_x / count as f64) - bar_w / 2).clamp(PAD_LEFT, frame.right - bar_w);
        let (when, mean) = if count > 1 {
            let span = format!("{} – {}", x_label(first), x_label(last));
            (span, " (mean)")
        } else {
            (x_label(first), "")
        };
        let _ = write!(
            svg,
            r#"<rect class="chart-bar {}" x="{x}" y="{y}" width="{bar_w}" height="{}"><title>{}: {} {}{mean}</title></rect>"#,
            spec.class,
            Frame::bottom() - y,
            escape(&when),
            escape(&spec.label),
            escape(&(spec.y_label)(v))
        );
    }
    svg.push_str("</g>");
}

/// Open an `<svg {attrs} viewBox role="img">` with its `<title>` and, when
/// not empty, its `<desc>`; labelled by ids derived from `id`, or by
/// `aria-label` if `id` is empty. `attrs` is trusted markup (a class…).
fn open_svg(svg: &mut String, attrs: &str, id: &str, title: &str, desc: &str, w: i64, h: i64) {
    let (title, desc, id) = (escape(title), escape(desc), escape(id));
    let _ = write!(svg, r#"<svg {attrs} viewBox="0 0 {w} {h}" role="img""#);
    if id.is_empty() {
        let _ = write!(svg, r#" aria-label="{title}"><title>{title}</title>"#);
        if !desc.is_empty() {
            let _ = write!(svg, "<desc>{desc}</desc>");
        }
    } else if desc.is_empty() {
        let _ = write!(
            svg,
            r#" aria-labelledby="{id}-svg-title"><title id="{id}-svg-title">{title}</title>"#
        );
    } else {
        let _ = write!(
            svg,
            r#" aria-labelledby="{id}-svg-title" aria-describedby="{id}-svg-desc"><title id="{id}-svg-title">{title}</title><desc id="{id}-svg-desc">{desc}</desc>"#
        );
    }
}

/// A calendar heat map of daily load, GitHub style: one column per ISO week
/// (Monday on top), from `first_day` to `today`; `loads[i]` is the load of
/// `first_day + i` (missing or not finite: 0).
///
/// Cell classes: `heat-0` for no load; otherwise `heat-1` … `heat-4` by the
/// quartiles of this map's non-zero loads (≤ Q1, ≤ median, ≤ Q3, above), so
/// the shading adapts to each athlete's scale.
#[must_use]
pub fn heat_map(
    id: &str,
    title: &str,
    first_day: NaiveDate,
    loads: &[f64],
    today: NaiveDate,
) -> String {
    const CELL: i64 = 11;
    const PITCH: i64 = 13;
    const LEFT: i64 = 28;
    const TOP: i64 = 14;
    let days = usize::try_from((today - first_day).num_days() + 1).unwrap_or(0);
    let load = |i: usize| {
        loads
            .get(i)
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
            .unwrap_or(0.0)
    };
    let mut nonzero: Vec<f64> = (0..days).map(load).filter(|v| *v > 0.0).collect();
    nonzero.sort_by(f64::total_cmp);
    let quantile = |p: f64| {
        nonzero
            .get(((nonzero.len().saturating_sub(1)) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (q1, q2, q3) = (quantile(0.25), quantile(0.5), quantile(0.75));
    let monday =
        first_day - chrono::Days::new(u64::from(first_day.weekday().num_days_from_monday()));
    let cols = ((today - monday).num_days() / 7 + 1).max(1);
    let total: f64 = nonzero.iter().sum();
    let desc = format!(
        "{} of {days} days with load, total {total:.0}",
        nonzero.len()
    );
    let mut svg = String::with_capacity(days * 80 + 1024);
    open_svg(
        &mut svg,
        r#"class="heat-map""#,
        id,
        title,
        &desc,
        LEFT + cols * PITCH,
        TOP + 7 * PITCH,
    );
    for (row, name) in [(0, "Mon"), (2, "Wed"), (4, "Fri")] {
        let _ = write!(
            svg,
            r#"<text class="heat-weekday" x="{}" y="{}">{name}</text>"#,
            LEFT - 4,
            TOP + row * PITCH + CELL - 1
        );
    }
    let mut date = first_day;
    for i in 0..days {
        let col = (date - monday).num_days() / 7;
        let row = i64::from(date.weekday().num_days_from_monday());
        if date.day() == 1 || (i == 0 && date.day() <= 14) {
            let _ = write!(
                svg,
                r#"<text class="heat-month" x="{}" y="{}">{}</text>"#,
                LEFT + col * PITCH,
                TOP - 4,
                date.format("%b")
            );
        }
        let v = load(i);
        let level = match v {
            v if v <= 0.0 => 0,
            v if v <= q1 => 1,
            v if v <= q2 => 2,
            v if v <= q3 => 3,
            _ => 4,
        };
        let _ = write!(
            svg,
            r#"<rect class="heat-{level}" x="{}" y="{}" width="{CELL}" height="{CELL}" rx="2"><title>{}: load {v:.0}</title></rect>"#,
            LEFT + col * PITCH,
            TOP + row * PITCH,
            date.format("%a %-d %b %Y")
        );
        let Some(next) = date.succ_opt() else { break };
        date = next;
    }
    svg.push_str("</svg>");
    svg
}

/// A small line of `values` (x = index) in a 120 × 28 view box, no axes.
#[must_use]
pub fn sparkline(title: &str, values: &[f64]) -> String {
    const W: i64 = 120;
    const H: i64 = 28;
    const PAD: i64 = 2;
    let pts: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as f64, *v))
        .collect();
    let pts = lttb(&pts, W as usize);
    let mut svg = String::with_capacity(pts.len() * 8 + 128);
    open_svg(&mut svg, r#"class="sparkline""#, "", title, "", W, H);
    if let (Some((x0, x1)), Some((y0, y1))) = (
        extent(pts.iter().map(|p| p.0)),
        extent(pts.iter().map(|p| p.1)),
    ) {
        let span_x = (x1 - x0).max(1.0);
        let span_y = (y1 - y0).max(f64::EPSILON);
        svg.push_str(r#"<polyline points=""#);
        for (i, (x, y)) in pts.iter().enumerate() {
            if i > 0 {
                svg.push(' ');
            }
            let px = PAD + ((x - x0) / span_x * (W - 2 * PAD) as f64).round() as i64;
            let py = if y1 > y0 {
                H - PAD - ((y - y0) / span_y * (H - 2 * PAD) as f64).round() as i64
            } else {
                H / 2
            };
            let _ = write!(svg, "{px},{py}");
        }
        svg.push_str(r#""/>"#);
    }
    svg.push_str("</svg>");
    svg
}

/// A duration as `h:mm:ss`, or `m:ss` under an hour.
#[must_use]
pub fn hms(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds.max(0.0).round() as u64
    } else {
        0
    };
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Horizontal bars, e.g. time in zone.
///
/// One row per `(label, seconds, class)` (class like `zone-1` … `zone-7`),
/// the longest bar full width, each ending in its duration ([`hms`]) and its
/// share of the total.
#[must_use]
pub fn hbars(id: &str, title: &str, rows: &[(String, f64, &'static str)]) -> String {
    const W: i64 = 480;
    const ROW: i64 = 20;
    const PITCH: i64 = 26;
    const LABEL: i64 = 132;
    const ROOM: i64 = 116;
    let value = |v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 };
    let total: f64 = rows.iter().map(|r| value(r.1)).sum();
    let max = rows.iter().map(|r| value(r.1)).fold(0.0, f64::max);
    let h = (rows.len() as i64 * PITCH).max(PITCH);
    let mut svg = String::with_capacity(rows.len() * 256 + 256);
    open_svg(&mut svg, r#"class="hbars""#, id, title, "", W, h);
    for (i, (label, v, class)) in rows.iter().enumerate() {
        let v = value(*v);
        let y = i as i64 * PITCH + (PITCH - ROW) / 2;
        let len = if max > 0.0 {
            (v / max * (W - LABEL - ROOM) as f64).round() as i64
        } else {
            0
        };
        let pct = if total > 0.0 {
            (v / total * 100.0).round()
        } else {
            0.0
        };
        let (label, time) = (escape(label), hms(v));
        let _ = write!(
            svg,
            r#"<g class="hbar {class}"><title>{label}: {time} ({pct:.0}%)</title><text class="hbar-label" x="{}" y="{}">{label}</text><rect class="chart-bar {class}" x="{LABEL}" y="{y}" width="{len}" height="{ROW}" rx="3"/><text class="hbar-value" x="{}" y="{}">{time} · {pct:.0}%</text></g>"#,
            LABEL - 8,
            y + ROW - 6,
            LABEL + len + 6,
            y + ROW - 6
        );
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
        let labels: Vec<String> = ticks(-30.0, 80.0, 4)
            .iter()
            .map(|t| format!("{t}"))
            .collect();
        assert_eq!(labels, ["0", "50"]);
    }

    /// Every numeric geometry attribute holds integers only.
    fn assert_integer_coordinates(svg: &str) {
        for attr in [
            " x", " y", " x1", " x2", " y1", " y2", " width", " height", " points", " viewBox",
        ] {
            for part in svg.split(&format!("{attr}=\"")).skip(1) {
                let value = &part[..part.find('"').unwrap()];
                assert!(
                    value
                        .chars()
                        .all(|c| c.is_ascii_digit() || " ,-".contains(c)),
                    "{attr}={value:?} is not integer"
                );
            }
        }
    }

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    /// The value of `attr` on the first element starting with `tag_prefix`.
    fn attr_of(svg: &str, tag_prefix: &str, attr: &str) -> i64 {
        let tag = &svg[svg.find(tag_prefix).unwrap()..];
        let tag = &tag[..tag.find('>').unwrap()];
        let v = &tag[tag.find(&format!(" {attr}=\"")).unwrap() + attr.len() + 3..];
        v[..v.find('"').unwrap()].parse().unwrap()
    }

    fn label(v: f64) -> String {
        format!("{v:.0}")
    }

    fn pmc(bars: Vec<(f64, f64)>) -> String {
        let form: Vec<(f64, f64)> = (0..60)
            .map(|d| (f64::from(d), f64::from(d) - 30.0))
            .collect();
        chart(&Chart {
            id: "pmc",
            title: "Fitness <&> fatigue",
            description: "Fitness 72, fatigue 80, form -8 on 28 Nov",
            x: XScale::Days,
            x_label: &label,
            y_label: &label,
            lines: vec![
                Series::new("Form", "series-form", form),
                Series {
                    emphasis: Emphasis::Background,
                    ..Series::new("All time", "series-1", vec![(0.0, 1.0), (59.0, 2.0)])
                },
            ],
            bars: Some(Bars {
                label: "Load".into(),
                class: "series-1",
                points: bars,
                y_label: label,
            }),
            zero_line: true,
        })
    }

    #[test]
    fn chart_has_accessible_title_desc_and_layers() {
        let svg = pmc(vec![(0.0, 50.0), (1.0, 100.0), (2.0, 0.0), (3.0, 25.0)]);
        assert!(svg.starts_with(r#"<svg class="chart-svg" preserveAspectRatio="none" viewBox="0 0 1000 250" role="img" aria-labelledby="pmc-svg-title" aria-describedby="pmc-svg-desc">"#));
        assert!(svg.contains(r#"<title id="pmc-svg-title">Fitness &lt;&amp;&gt; fatigue</title>"#));
        assert!(svg.contains(
            r#"<desc id="pmc-svg-desc">Fitness 72, fatigue 80, form -8 on 28 Nov</desc>"#
        ));
        assert_eq!(count(&svg, "<polyline"), 2);
        assert_eq!(count(&svg, "chart-line chart-line-bg series-1"), 1);
        // Background lines come before normal ones, bars before both.
        assert!(svg.find("chart-line-bg").unwrap() < svg.find("series-form").unwrap());
        assert!(svg.find("<rect").unwrap() < svg.find("<polyline").unwrap());
        assert_eq!(count(&svg, "chart-zero"), 1);
        assert!(count(&svg, "chart-tick-right") >= 3);
        assert_integer_coordinates(&svg);
    }

    #[test]
    fn bar_heights_follow_the_right_axis_from_zero() {
        // Values 50 and 100 with a nice top of 100: the plot is 218 high.
        let svg = pmc(vec![(0.0, 50.0), (1.0, 100.0), (2.0, 0.0), (3.0, 25.0)]);
        assert_eq!(count(&svg, "<rect"), 3, "the zero bar draws nothing");
        let heights: Vec<i64> = svg
            .split("<rect")
            .skip(1)
            .map(|r| attr_of(&format!("<rect{r}"), "<rect", "height"))
            .collect();
        assert_eq!(heights, vec![109, 218, 55]);
        assert!(svg.contains("<title>1: Load 100</title>"));
        // Each bar ends on the plot's bottom edge.
        assert_eq!(attr_of(&svg, "<rect", "y") + 109, HEIGHT - PAD_BOTTOM);
    }

    #[test]
    fn many_bars_are_averaged() {
        let bars: Vec<(f64, f64)> = (0..3000).map(|d| (f64::from(d), 10.0)).collect();
        let svg = pmc(bars);
        let rects = count(&svg, "<rect");
        assert!(rects <= MAX_BARS && rects > 400, "{rects} rects");
        assert!(svg.contains(": Load 10 (mean)</title>"));
        assert_integer_coordinates(&svg);
    }

    #[test]
    fn zero_line_only_when_the_range_crosses_zero() {
        let svg = chart(&Chart {
            id: "",
            title: "t",
            description: "",
            x: XScale::Linear,
            x_label: &label,
            y_label: &label,
            lines: vec![Series::new("a", "series-1", vec![(0.0, 5.0), (1.0, 9.0)])],
            bars: None,
            zero_line: true,
        });
        assert!(!svg.contains("chart-zero"));
        assert!(!svg.contains("<desc"));
        assert!(svg.contains(r#"aria-label="t""#));
    }

    #[test]
    fn log_seconds_ticks_and_empty_chart() {
        let curve: Vec<(f64, f64)> = [0.0_f64, 1.0, 5.0, 60.0, 1200.0, 3600.0]
            .iter()
            .map(|&s| (s, 1000.0 / (s + 1.0).sqrt()))
            .collect();
        let svg = chart(&Chart {
            id: "mmp",
            title: "Power curve",
            description: "",
            x: XScale::LogSeconds,
            x_label: &|s| hms(s),
            y_label: &label,
            lines: vec![Series::new("Best", "series-power", curve)],
            bars: None,
            zero_line: false,
        });
        let tick_labels: Vec<&str> = svg
            .split(r#"chart-tick-x""#)
            .skip(1)
            .map(|t| &t[t.find('>').unwrap() + 1..t.find('<').unwrap()])
            .collect();
        assert_eq!(
            tick_labels,
            [
                "0:01", "0:05", "0:10", "0:30", "1:00", "5:00", "10:00", "20:00", "1:00:00"
            ]
        );
        // x = 0 has no log and is dropped; 1 s sits on the left edge.
        assert_eq!(svg.matches(',').count(), 5);
        assert!(svg.contains(r#"points="48,"#));
        assert_integer_coordinates(&svg);
        let empty = chart(&Chart {
            lines: Vec::new(),
            ..Chart {
                id: "e",
                title: "Nothing",
                description: "",
                x: XScale::Days,
                x_label: &label,
                y_label: &label,
                lines: Vec::new(),
                bars: None,
                zero_line: false,
            }
        });
        assert!(empty.ends_with(r#"<title id="e-svg-title">Nothing</title></svg>"#));
    }

    #[test]
    fn day_ticks_at_mondays_and_month_starts() {
        let d = |y, m, dd| day_number(NaiveDate::from_ymd_opt(y, m, dd).unwrap()) as f64;
        assert_eq!(day_number(NaiveDate::from_ymd_opt(1970, 1, 5).unwrap()), 4);
        assert_eq!(date_of_day(20_759), NaiveDate::from_ymd_opt(2026, 11, 2));
        let weeks = day_ticks(d(2026, 11, 1), d(2026, 12, 15));
        assert_eq!(weeks.first().copied(), Some(d(2026, 11, 2)));
        assert_eq!(weeks.len(), 7);
        let months = day_ticks(d(2026, 1, 15), d(2026, 6, 30));
        assert_eq!(
            months,
            vec![
                d(2026, 2, 1),
                d(2026, 3, 1),
                d(2026, 4, 1),
                d(2026, 5, 1),
                d(2026, 6, 1)
            ]
        );
        let years = day_ticks(d(2020, 3, 1), d(2026, 3, 1));
        assert_eq!(years.first().copied(), Some(d(2021, 1, 1)));
        assert!(years.len() <= 8);
    }

    #[test]
    fn heat_map_cells_levels_and_labels() {
        let first = NaiveDate::from_ymd_opt(2025, 11, 3).unwrap(); // a Monday
        let today = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        let mut loads = vec![0.0; 366];
        loads[0] = 85.0;
        loads[1] = 10.0;
        loads[2] = 40.0;
        loads[3] = 200.0;
        loads[365] = 60.0;
        let svg = heat_map("year", "Load <2026>", first, &loads, today);
        assert_eq!(count(&svg, "<rect"), 366);
        assert_eq!(count(&svg, r#"class="heat-0""#), 361);
        assert!(svg.contains("<title>Mon 3 Nov 2025: load 85</title>"));
        assert!(svg.contains("<title>Tue 3 Nov 2026: load 60</title>"));
        // Quartiles of 10, 40, 60, 85, 200 are 40, 60, 85.
        assert!(svg.contains(r#"<rect class="heat-1" x="28" y="27""#));
        assert!(svg.contains(r#"<rect class="heat-4" x="28" y="53""#));
        assert_eq!(count(&svg, r#"class="heat-3""#), 1);
        assert!(
            svg.contains(r#"viewBox="0 0 717 105""#),
            "53 weeks + 1: 54 columns"
        );
        assert!(svg.contains(">Nov</text>") && svg.contains(">Jan</text>"));
        assert_eq!(count(&svg, "heat-weekday"), 3);
        assert!(svg.contains("Load &lt;2026&gt;") && !svg.contains("<2026>"));
        assert!(svg.contains("5 of 366 days with load, total 395"));
        assert_integer_coordinates(&svg);
        let empty = heat_map("none", "Empty", today, &loads, first);
        assert!(!empty.contains("<rect") && empty.ends_with("</svg>"));
    }

    #[test]
    fn sparkline_is_small_and_flat_safe() {
        let svg = sparkline("Weekly load", &[1.0, 3.0, 2.0, f64::NAN, 5.0]);
        assert!(svg.starts_with(r#"<svg class="sparkline" viewBox="0 0 120 28""#));
        assert!(svg.contains(r#"points="2,26 31,14 60,20 118,2""#));
        assert_eq!(count(&svg, "<title>Weekly load</title>"), 1);
        let flat = sparkline("Flat", &[4.0, 4.0]);
        assert!(flat.contains(r#"points="2,14 118,14""#));
        assert!(!sparkline("None", &[]).contains("polyline"));
        let long: Vec<f64> = (0..5000).map(f64::from).collect();
        assert_eq!(sparkline("Long", &long).matches(',').count(), 120);
    }

    #[test]
    fn hbars_lengths_times_and_shares() {
        let rows = vec![
            ("Z1 <easy>".to_owned(), 3600.0, "zone-1"),
            ("Z2".to_owned(), 1800.0, "zone-2"),
            ("Z3".to_owned(), 0.0, "zone-3"),
        ];
        let svg = hbars("tiz", "Time in zone", &rows);
        assert_eq!(count(&svg, "<rect"), 3);
        assert!(svg.contains(r#"<rect class="chart-bar zone-1" x="132" y="3" width="232""#));
        assert!(svg.contains(r#"<rect class="chart-bar zone-2" x="132" y="29" width="116""#));
        assert!(svg.contains(">1:00:00 · 67%</text>"));
        assert!(svg.contains(">30:00 · 33%</text>"));
        assert!(svg.contains(">0:00 · 0%</text>"));
        assert!(svg.contains("Z1 &lt;easy&gt;") && !svg.contains("<easy>"));
        assert_integer_coordinates(&svg);
        assert_eq!(hms(59.6), "1:00");
        assert_eq!(hms(3725.0), "1:02:05");
    }

    #[test]
    fn charts_escape_titles_and_use_integers() {
        let svg = line_chart(
            "HR <script>",
            &[Series {
                label: "Heart rate".into(),
                class: "series-hr",
                points: vec![(0.0, 100.0), (10.0, 150.5)],
                emphasis: Emphasis::Normal,
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
