//! The analysis part of the activity page: time in zones and the activity's
//! power curve against the athlete's best of the 90 days up to it.

use crate::analytics::curves::DURATION_LADDER;
use crate::analytics::summary::{self, Thresholds};
use crate::charts::{self, Chart, Emphasis, Series, XScale};
use crate::domain::{Sport, Streams};
use crate::web::format;

/// A titled chart: (heading, SVG).
pub type Figure = (String, String);

const POWER_ZONES: [&str; 7] = [
    "Z1 Recovery",
    "Z2 Endurance",
    "Z3 Tempo",
    "Z4 Threshold",
    "Z5 VO2max",
    "Z6 Anaerobic",
    "Z7 Sprint",
];
const HR_ZONES: [&str; 7] = [
    "Z1 Recovery",
    "Z2 Aerobic",
    "Z3 Tempo",
    "Z4 Sub-threshold",
    "Z5a Threshold",
    "Z5b VO2max",
    "Z5c Anaerobic",
];
const PACE_ZONES: [&str; 5] = [
    "Z1 Recovery",
    "Z2 Aerobic",
    "Z3 Tempo",
    "Z4 Sub-threshold",
    "Z5 Threshold+",
];
const ZONE_CLASSES: [&str; 7] = [
    "zone-1", "zone-2", "zone-3", "zone-4", "zone-5", "zone-6", "zone-7",
];

fn bars(id: &str, title: &str, names: &[&str], seconds: &[f64]) -> Option<Figure> {
    if seconds.iter().sum::<f64>() <= 0.0 {
        return None;
    }
    let rows: Vec<(String, f64, &'static str)> = names
        .iter()
        .zip(seconds)
        .zip(ZONE_CLASSES)
        .map(|((name, s), class)| ((*name).to_owned(), *s, class))
        .collect();
    Some((title.to_owned(), charts::hbars(id, title, &rows)))
}

/// Time-in-zone bars for power (Coggan, % FTP), heart rate (Friel, % LTHR)
/// and, for runs, pace (Friel, % threshold pace), each when the channel and
/// its threshold exist.
#[must_use]
pub fn zone_figures(sport: Sport, streams: &Streams, th: &Thresholds) -> Vec<Figure> {
    let z = summary::time_in_zones(sport, streams, th);
    [
        bars("zones-power", "Time in power zones", &POWER_ZONES, &z.power),
        bars(
            "zones-hr",
            "Time in heart-rate zones",
            &HR_ZONES,
            &z.heart_rate,
        ),
        bars("zones-pace", "Time in pace zones", &PACE_ZONES, &z.pace),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn ladder_points(values: &[Option<f32>]) -> Vec<(f64, f64)> {
    DURATION_LADDER
        .iter()
        .zip(values)
        .filter_map(|(d, v)| {
            #[expect(clippy::cast_precision_loss, reason = "ladder durations are small")]
            let x = *d as f64;
            v.filter(|v| *v > 0.0).map(|v| (x, f64::from(v)))
        })
        .collect()
}

/// A ladder duration for a chart axis ([`format::ladder_duration`]).
#[must_use]
pub fn duration_label(seconds: f64) -> String {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "ladder durations"
    )]
    let s = seconds.round().max(0.0) as usize;
    format::ladder_duration(s)
}

/// A mean-max power chart: `front` drawn normally, `behind` as the context
/// line (log-seconds axis). Empty when `front` has no points.
#[must_use]
pub fn power_curve_chart(
    id: &str,
    title: &str,
    description: &str,
    front: (&str, &[Option<f32>]),
    behind: (&str, &[Option<f32>]),
) -> String {
    let front_points = ladder_points(front.1);
    let behind_points = ladder_points(behind.1);
    if front_points.is_empty() && behind_points.is_empty() {
        return String::new();
    }
    let mut lines = Vec::with_capacity(2);
    if !behind_points.is_empty() {
        lines.push(Series {
            emphasis: Emphasis::Background,
            ..Series::new(behind.0, "series-2", behind_points)
        });
    }
    if !front_points.is_empty() {
        lines.push(Series::new(front.0, "series-1", front_points));
    }
    charts::chart(&Chart {
        id,
        title,
        description,
        x: XScale::LogSeconds,
        x_label: &duration_label,
        y_label: &|w| format!("{w:.0} W"),
        lines,
        bars: None,
        zero_line: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_chart_draws_both_lines_and_labels_durations() {
        let mine = [Some(800.0), Some(700.0), None];
        let best = [Some(900.0), Some(720.0), Some(650.0)];
        let svg = power_curve_chart(
            "c",
            "Power curve",
            "d",
            ("This ride", &mine),
            ("90-day best", &best),
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("chart-line-bg"));
        assert!(power_curve_chart("c", "t", "", ("a", &[]), ("b", &[])).is_empty());
        assert_eq!(duration_label(5.0), "5 s");
        assert_eq!(duration_label(1200.0), "20 min");
        assert_eq!(duration_label(5400.0), "1 h 30 min");
    }

    #[test]
    fn zone_bars_need_a_threshold() {
        let streams = Streams::from_samples(
            &(0..120)
                .map(|i| crate::domain::Sample {
                    t: f64::from(i),
                    power: Some(200.0),
                    heart_rate: Some(150.0),
                    ..crate::domain::Sample::default()
                })
                .collect::<Vec<_>>(),
            vec![crate::domain::Segment {
                start_t: 0.0,
                end_t: 119.0,
            }],
        );
        let none = Thresholds {
            ftp: None,
            lthr: None,
            hr_range: None,
            sex: crate::analytics::heart::Sex::Male,
            threshold_speed: None,
            threshold_swim_speed: None,
        };
        assert!(zone_figures(Sport::Cycling, &streams, &none).is_empty());
        let th = Thresholds {
            ftp: Some(250.0),
            lthr: Some(160.0),
            ..none
        };
        let figs = zone_figures(Sport::Cycling, &streams, &th);
        assert_eq!(figs.len(), 2);
        // 200 W at FTP 250 = 80 % → Z3 tempo; 150 bpm at LTHR 160 = 94 % → Z3.
        assert!(figs[0].1.contains("Z3 Tempo"));
    }
}
