//! What kind of activity: [`Sport`] and its refinement [`SubSport`].
//!
//! Both have a stable lowercase storage form ([`Sport::as_str`], parsed back by
//! [`str::parse`]) and a lenient constructor for the labels found in files
//! ([`Sport::from_label`]: GPX `<type>`, TCX `Sport="…"`, Strava-style names).
//! FIT enum values map through [`Sport::from_fit`] / [`SubSport::from_fit`].

use std::fmt;
use std::str::FromStr;

/// The sport of an activity. Storage form: [`Sport::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sport {
    /// Running, on any surface.
    Running,
    /// Cycling, indoors or out.
    Cycling,
    /// Swimming, pool or open water.
    Swimming,
    /// Walking.
    Walking,
    /// Hiking.
    Hiking,
    /// Rowing (boat or ergometer).
    Rowing,
    /// Cross-country skiing.
    Skiing,
    /// Strength or gym training.
    Strength,
    /// Anything else, or not told by the file.
    #[default]
    Other,
}

/// Every sport, in display order.
pub const ALL_SPORTS: [Sport; 9] = [
    Sport::Running,
    Sport::Cycling,
    Sport::Swimming,
    Sport::Walking,
    Sport::Hiking,
    Sport::Rowing,
    Sport::Skiing,
    Sport::Strength,
    Sport::Other,
];

/// A string that is not the storage form of a [`Sport`] or [`SubSport`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sport {0:?}")]
pub struct UnknownSport(pub String);

impl Sport {
    /// The storage form: `running`, `cycling`, `swimming`, `walking`, `hiking`, `rowing`,
    /// `skiing`, `strength`, `other`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Cycling => "cycling",
            Self::Swimming => "swimming",
            Self::Walking => "walking",
            Self::Hiking => "hiking",
            Self::Rowing => "rowing",
            Self::Skiing => "skiing",
            Self::Strength => "strength",
            Self::Other => "other",
        }
    }

    /// Lenient reading of a label written by an app (GPX `<type>`, TCX `Sport`), e.g.
    /// `Running`, `run`, `Biking`, `Ride`, `VirtualRide`, `cycling`, `Swim`, `Hike`.
    /// Unknown labels give `None` (the caller decides, usually [`Sport::Other`]).
    #[must_use]
    pub fn from_label(label: &str) -> Option<Self> {
        let l = label.trim().to_ascii_lowercase();
        let l = l.replace(['_', '-', ' '], "");
        let sport = match l.as_str() {
            "running" | "run" | "trailrun" | "trailrunning" | "virtualrun" | "treadmill"
            | "treadmillrunning" | "9" => Self::Running,
            "cycling" | "biking" | "bike" | "ride" | "virtualride" | "ebikeride"
            | "mountainbikeride" | "gravelride" | "roadbiking" | "mountainbiking"
            | "indoorcycling" | "1" => Self::Cycling,
            "swimming" | "swim" | "openwaterswimming" | "lapswimming" => Self::Swimming,
            "walking" | "walk" => Self::Walking,
            "hiking" | "hike" => Self::Hiking,
            "rowing" | "row" | "indoorrowing" => Self::Rowing,
            "skiing" | "nordicski" | "crosscountryskiing" | "backcountryski" => Self::Skiing,
            "strength" | "weighttraining" | "strengthtraining" => Self::Strength,
            "other" | "generic" => Self::Other,
            _ => return None,
        };
        Some(sport)
    }

    /// The FIT profile's `sport` enum (0 generic, 1 running, 2 cycling, 5 swimming,
    /// 11 walking, 12 cross-country skiing, 15 rowing, 17 hiking, …).
    #[must_use]
    pub const fn from_fit(value: u8) -> Self {
        match value {
            1 => Self::Running,
            2 => Self::Cycling,
            5 => Self::Swimming,
            11 => Self::Walking,
            12 => Self::Skiing,
            15 => Self::Rowing,
            17 => Self::Hiking,
            20 => Self::Strength, // training
            _ => Self::Other,
        }
    }
}

impl fmt::Display for Sport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Sport {
    type Err = UnknownSport;

    /// Parses the storage form exactly (see [`Sport::as_str`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_SPORTS
            .into_iter()
            .find(|sport| sport.as_str() == s)
            .ok_or_else(|| UnknownSport(s.to_owned()))
    }
}

/// Where or how the sport was done. Storage form: [`SubSport::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SubSport {
    /// Nothing more specific is known.
    #[default]
    Generic,
    /// Indoors on a trainer or machine (indoor cycling, indoor rowing).
    Indoor,
    /// A virtual course (Zwift and the like).
    Virtual,
    /// Running on a treadmill.
    Treadmill,
    /// Off-road running.
    Trail,
    /// On a track.
    Track,
    /// Road cycling or street running.
    Road,
    /// Mountain biking.
    Mountain,
    /// Gravel or cyclocross.
    Gravel,
    /// Pool swimming.
    LapSwimming,
    /// Open-water swimming.
    OpenWater,
}

/// Every sub-sport, in display order.
pub const ALL_SUB_SPORTS: [SubSport; 11] = [
    SubSport::Generic,
    SubSport::Indoor,
    SubSport::Virtual,
    SubSport::Treadmill,
    SubSport::Trail,
    SubSport::Track,
    SubSport::Road,
    SubSport::Mountain,
    SubSport::Gravel,
    SubSport::LapSwimming,
    SubSport::OpenWater,
];

impl SubSport {
    /// The storage form (`generic`, `indoor`, `virtual`, `treadmill`, `trail`, `track`,
    /// `road`, `mountain`, `gravel`, `lap_swimming`, `open_water`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Indoor => "indoor",
            Self::Virtual => "virtual",
            Self::Treadmill => "treadmill",
            Self::Trail => "trail",
            Self::Track => "track",
            Self::Road => "road",
            Self::Mountain => "mountain",
            Self::Gravel => "gravel",
            Self::LapSwimming => "lap_swimming",
            Self::OpenWater => "open_water",
        }
    }

    /// Whether the activity happened indoors (no GPS expected).
    #[must_use]
    pub const fn is_indoor(self) -> bool {
        matches!(
            self,
            Self::Indoor | Self::Virtual | Self::Treadmill | Self::LapSwimming
        )
    }

    /// The FIT profile's `sub_sport` enum (1 treadmill, 2 street, 3 trail, 4 track,
    /// 5 spin, 6 indoor cycling, 7 road, 8 mountain, 11 cyclocross, 14 indoor rowing,
    /// 17 lap swimming, 18 open water, 46 gravel cycling, 58 virtual activity, …).
    #[must_use]
    pub const fn from_fit(value: u8) -> Self {
        match value {
            1 => Self::Treadmill,
            3 => Self::Trail,
            4 | 13 => Self::Track,
            2 | 7 => Self::Road,
            5 | 6 | 14 | 15 => Self::Indoor,
            8 | 9 => Self::Mountain,
            11 | 46 => Self::Gravel,
            17 => Self::LapSwimming,
            18 => Self::OpenWater,
            58 => Self::Virtual,
            _ => Self::Generic,
        }
    }
}

impl fmt::Display for SubSport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SubSport {
    type Err = UnknownSport;

    /// Parses the storage form exactly (see [`SubSport::as_str`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_SUB_SPORTS
            .into_iter()
            .find(|sub| sub.as_str() == s)
            .ok_or_else(|| UnknownSport(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_form_round_trips_for_every_sport() {
        for sport in ALL_SPORTS {
            assert_eq!(sport.as_str().parse::<Sport>(), Ok(sport));
        }
        for sub in ALL_SUB_SPORTS {
            assert_eq!(sub.as_str().parse::<SubSport>(), Ok(sub));
        }
        assert!("Running".parse::<Sport>().is_err());
    }

    #[test]
    fn labels_from_apps_are_understood() {
        assert_eq!(Sport::from_label("Biking"), Some(Sport::Cycling));
        assert_eq!(Sport::from_label(" running "), Some(Sport::Running));
        assert_eq!(Sport::from_label("VirtualRide"), Some(Sport::Cycling));
        assert_eq!(Sport::from_label("jkljkl"), None);
    }

    #[test]
    fn fit_enums_map() {
        assert_eq!(Sport::from_fit(2), Sport::Cycling);
        assert_eq!(Sport::from_fit(200), Sport::Other);
        assert_eq!(SubSport::from_fit(6), SubSport::Indoor);
        assert!(SubSport::from_fit(58).is_indoor());
    }
}
