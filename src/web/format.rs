//! Formatting figures for pages: durations, distances, paces, dates; metric
//! or imperial per user. One place, so every page shows figures alike.

use chrono::{DateTime, TimeDelta, Utc};

use crate::auth::CurrentUser;
use crate::domain::Sport;
use crate::domain::sport::ALL_SPORTS;

const METRES_PER_MILE: f64 = 1_609.344;
const FEET_PER_METRE: f64 = 3.280_84;

/// The user's unit system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Units {
    Metric,
    Imperial,
}

impl Units {
    /// The signed-in user's choice.
    #[must_use]
    pub fn of(user: &CurrentUser) -> Self {
        if user.user.units == "imperial" {
            Self::Imperial
        } else {
            Self::Metric
        }
    }

    /// Speed in km/h or mph.
    #[must_use]
    pub fn speed(self, mps: f64) -> f64 {
        match self {
            Self::Metric => mps * 3.6,
            Self::Imperial => mps * 3600.0 / METRES_PER_MILE,
        }
    }

    /// Seconds per km or per mile at `mps`.
    #[must_use]
    pub fn pace_seconds(self, mps: f64) -> f64 {
        match self {
            Self::Metric => 1000.0 / mps,
            Self::Imperial => METRES_PER_MILE / mps,
        }
    }

    /// Metres or feet.
    #[must_use]
    pub fn elevation(self, metres: f64) -> f64 {
        match self {
            Self::Metric => metres,
            Self::Imperial => metres * FEET_PER_METRE,
        }
    }
}

/// "Running", "Cycling", … for a stored sport.
#[must_use]
pub fn sport_label(stored: &str) -> String {
    stored.parse::<Sport>().map_or_else(
        |_| "Other".to_owned(),
        |sport| {
            let s = sport.as_str();
            let mut label = s[..1].to_uppercase();
            label.push_str(&s[1..]);
            label
        },
    )
}

/// (value, label) for every sport, for selects.
#[must_use]
pub fn sport_options() -> Vec<(&'static str, String)> {
    ALL_SPORTS
        .iter()
        .map(|s| (s.as_str(), sport_label(s.as_str())))
        .collect()
}

/// `1:02:03` / `42:05`, or an en dash when unknown.
#[must_use]
pub fn duration(seconds: Option<f64>) -> String {
    seconds
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or_else(|| "–".to_owned(), clock)
}

/// `h:mm:ss` or `m:ss`.
#[must_use]
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to ≥ 0 and rounded; durations fit in u64"
)]
pub fn clock(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// `4:35` for a pace in seconds.
#[must_use]
pub fn pace_clock(seconds: f64) -> String {
    clock(seconds)
}

/// `12.34 km` / `7.67 mi`.
#[must_use]
pub fn distance(metres: Option<f64>, units: Units) -> String {
    metres.filter(|m| m.is_finite()).map_or_else(
        || "–".to_owned(),
        |m| match units {
            Units::Metric => format!("{:.2} km", m / 1000.0),
            Units::Imperial => format!("{:.2} mi", m / METRES_PER_MILE),
        },
    )
}

/// `412 m` / `1,352 ft`.
#[must_use]
pub fn elevation(metres: Option<f64>, units: Units) -> String {
    metres.filter(|m| m.is_finite()).map_or_else(
        || "–".to_owned(),
        |m| match units {
            Units::Metric => format!("{m:.0} m"),
            Units::Imperial => format!("{:.0} ft", m * FEET_PER_METRE),
        },
    )
}

/// `28.4 km/h` / `17.6 mph`.
#[must_use]
pub fn speed(mps: Option<f64>, units: Units) -> String {
    mps.filter(|v| v.is_finite()).map_or_else(
        || "–".to_owned(),
        |v| match units {
            Units::Metric => format!("{:.1} km/h", units.speed(v)),
            Units::Imperial => format!("{:.1} mph", units.speed(v)),
        },
    )
}

/// `4:35 /km` / `7:23 /mi`.
#[must_use]
pub fn pace(mps: Option<f64>, units: Units) -> String {
    mps.filter(|v| v.is_finite() && *v > 0.1).map_or_else(
        || "–".to_owned(),
        |v| match units {
            Units::Metric => format!("{} /km", clock(units.pace_seconds(v))),
            Units::Imperial => format!("{} /mi", clock(units.pace_seconds(v))),
        },
    )
}

/// `152 bpm`.
#[must_use]
pub fn bpm(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or_else(|| "–".to_owned(), |v| format!("{v:.0} bpm"))
}

/// `245 W`.
#[must_use]
pub fn watts(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or_else(|| "–".to_owned(), |v| format!("{v:.0} W"))
}

/// The start in the activity's own local time when known, else UTC: `2026-03-01 07:12`.
#[must_use]
pub fn local_date_time(start: DateTime<Utc>, utc_offset_s: Option<i32>) -> String {
    utc_offset_s.map_or_else(
        || start.format("%Y-%m-%d %H:%M UTC").to_string(),
        |offset| {
            (start + TimeDelta::seconds(i64::from(offset)))
                .format("%Y-%m-%d %H:%M")
                .to_string()
        },
    )
}

/// A duration of the mean-max ladder: `5 s`, `1 min 30 s`, `20 min`, `2 h 30 min`.
#[must_use]
pub fn ladder_duration(s: usize) -> String {
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        let (m, r) = (s / 60, s % 60);
        if r == 0 {
            format!("{m} min")
        } else {
            format!("{m} min {r} s")
        }
    } else {
        let (h, m) = (s / 3600, (s % 3600) / 60);
        if m == 0 {
            format!("{h} h")
        } else {
            format!("{h} h {m} min")
        }
    }
}

/// The name of a best-effort distance: `400 m`, `1 km`, `1 mile`, `Half marathon`.
#[must_use]
pub fn effort_distance(metres: f64) -> String {
    match metres {
        m if (m - 1609.344).abs() < 0.01 => "1 mile".to_owned(),
        m if (m - 21_097.5).abs() < 0.01 => "Half marathon".to_owned(),
        m if (m - 42_195.0).abs() < 0.01 => "Marathon".to_owned(),
        m if m >= 1000.0 => format!("{:.0} km", m / 1000.0),
        m => format!("{m:.0} m"),
    }
}

/// Records set within this many days (today included) are marked "new".
pub const NEW_RECORD_DAYS: i64 = 14;

/// Whether a record set on `day` is "new" on `today`.
#[must_use]
pub fn is_new_record(day: chrono::NaiveDate, today: chrono::NaiveDate) -> bool {
    (today - day).num_days() < NEW_RECORD_DAYS
}

/// An integer with thousands separators: `1,380`.
#[must_use]
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn ladder_durations_effort_distances_and_new_records() {
        assert_eq!(ladder_duration(5), "5 s");
        assert_eq!(ladder_duration(60), "1 min");
        assert_eq!(ladder_duration(90), "1 min 30 s");
        assert_eq!(ladder_duration(1200), "20 min");
        assert_eq!(ladder_duration(3600), "1 h");
        assert_eq!(ladder_duration(5400), "1 h 30 min");
        assert_eq!(ladder_duration(7200), "2 h");
        assert_eq!(effort_distance(1609.344), "1 mile");
        assert_eq!(effort_distance(5000.0), "5 km");
        assert_eq!(effort_distance(400.0), "400 m");
        let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        assert!(is_new_record(day(15), day(28)));
        assert!(!is_new_record(day(14), day(28)));
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1380), "1,380");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
    }
    use super::*;

    #[test]
    fn figures_are_formatted_in_both_unit_systems() {
        assert_eq!(duration(Some(3723.4)), "1:02:03");
        assert_eq!(duration(Some(59.6)), "1:00");
        assert_eq!(duration(None), "–");
        assert_eq!(distance(Some(12_345.0), Units::Metric), "12.35 km");
        assert_eq!(distance(Some(1_609.344), Units::Imperial), "1.00 mi");
        assert_eq!(pace(Some(1000.0 / 275.0), Units::Metric), "4:35 /km");
        assert_eq!(elevation(Some(100.0), Units::Imperial), "328 ft");
        assert_eq!(speed(Some(10.0), Units::Metric), "36.0 km/h");
        assert_eq!(sport_label("cycling"), "Cycling");
        assert_eq!(sport_label("nonsense"), "Other");
    }
}
