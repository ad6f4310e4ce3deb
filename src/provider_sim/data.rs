//! The simulator's athletes and activities, from the synthetic generator, and their
//! Strava JSON shapes (summary athlete, summary and detailed activity, streams).

#![expect(
    clippy::cast_possible_truncation,
    reason = "whole seconds and rounded sensor values of synthetic data, far inside i64"
)]

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Timelike as _, Utc};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::domain::{Sport, Streams};
use crate::synthetic::{self, AthleteProfile, Pattern, PlannedSession, Workout};

/// Every synthetic activity's offset from UTC (the generator's routes are in Central Europe).
pub const UTC_OFFSET_S: i32 = 3600;
const TIMEZONE: &str = "(GMT+01:00) Europe/Ljubljana";
/// At most this many athletes (activity ids reserve two decimal digits for them).
pub const MAX_ATHLETES: u32 = 100;

const FIRST_NAMES: [&str; 8] = [
    "Ana", "Marko", "Eva", "Luka", "Nina", "Jan", "Sara", "Tilen",
];
const LAST_NAMES: [&str; 8] = [
    "Novak",
    "Horvat",
    "Kovač",
    "Krajnc",
    "Zupan",
    "Potočnik",
    "Mlakar",
    "Vidmar",
];

/// One synthetic Strava athlete.
#[derive(Debug, Clone)]
pub struct SimAthlete {
    /// Strava athlete id.
    pub id: u64,
    /// Given name.
    pub firstname: String,
    /// Family name.
    pub lastname: String,
    /// The physiology behind their data.
    pub profile: AthleteProfile,
}

/// One activity the simulator serves.
#[derive(Debug, Clone)]
pub struct SimActivity {
    /// Strava activity id (increases with the start time, as Strava's do).
    pub id: u64,
    /// Index of the owner in the athlete list.
    pub athlete: usize,
    /// What the generator makes of it (its streams come from this, lazily).
    pub session: PlannedSession,
    /// Title (webhook "update" events change it).
    pub name: String,
}

/// Athletes and activities (by id) of one simulator run.
#[derive(Debug, Clone)]
pub struct World {
    /// The athletes, in the order the consent page lists them.
    pub athletes: Vec<SimAthlete>,
    /// Every activity by id.
    pub activities: BTreeMap<u64, SimActivity>,
}

fn activity_id(start: DateTime<Utc>, athlete: usize) -> u64 {
    let secs = u64::try_from(start.timestamp()).unwrap_or_default();
    secs * 100 + athlete as u64
}

fn title(session: &PlannedSession) -> String {
    let workout = match session.workout {
        Workout::Recovery => "Recovery",
        Workout::Endurance => "Endurance",
        Workout::Long => "Long",
        Workout::Tempo => "Tempo",
        Workout::Intervals => "Intervals",
    };
    let local_hour = (session.start + TimeDelta::seconds(i64::from(UTC_OFFSET_S))).hour();
    let part = match local_hour {
        0..=11 => "morning",
        12..=16 => "afternoon",
        _ => "evening",
    };
    let what = match (session.sport, session.indoor) {
        (Sport::Cycling, true) => "trainer ride",
        (Sport::Cycling, false) => "ride",
        (Sport::Running, _) => "run",
        (Sport::Swimming, _) => "swim",
        _ => "workout",
    };
    format!("{workout} {part} {what}")
}

impl World {
    /// `athletes` athletes with `per_athlete` activities each, the last of them on
    /// `last_day` or before, all determined by `seed`.
    #[must_use]
    pub fn generate(athletes: u32, per_athlete: u32, seed: u64, last_day: NaiveDate) -> Self {
        let mut world = Self {
            athletes: Vec::new(),
            activities: BTreeMap::new(),
        };
        for i in 0..athletes.min(MAX_ATHLETES) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(i) << 40) ^ 0x57EA);
            let profile = match i % 3 {
                0 => AthleteProfile::cyclist(),
                1 => AthleteProfile::runner(),
                _ => AthleteProfile::triathlete(),
            };
            let athlete = SimAthlete {
                id: 1_000_001 + u64::from(i) * 7919,
                firstname: FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())].to_owned(),
                lastname: LAST_NAMES[rng.random_range(0..LAST_NAMES.len())].to_owned(),
                profile,
            };
            let plan_seed: u64 = rng.random();
            let index = world.athletes.len();
            // Plan backwards from the last day until there are enough sessions.
            let mut days = per_athlete.saturating_mul(2).max(14);
            let sessions = loop {
                let first = last_day - TimeDelta::days(i64::from(days) - 1);
                let sessions = synthetic::plan(
                    &athlete.profile,
                    Pattern::Periodized,
                    first,
                    days,
                    plan_seed,
                );
                if sessions.len() >= per_athlete as usize || days > 20_000 {
                    break sessions;
                }
                days = days.saturating_mul(2);
            };
            let skip = sessions.len().saturating_sub(per_athlete as usize);
            for session in sessions.into_iter().skip(skip) {
                world.insert(index, session);
            }
            world.athletes.push(athlete);
        }
        world
    }

    /// Add an activity for athlete `index` (ids stay unique); returns its id.
    pub fn insert(&mut self, athlete: usize, session: PlannedSession) -> u64 {
        let mut id = activity_id(session.start, athlete);
        while self.activities.contains_key(&id) {
            id += 100;
        }
        self.activities.insert(
            id,
            SimActivity {
                id,
                athlete,
                name: title(&session),
                session,
            },
        );
        id
    }

    /// A new session for athlete `index` that started `duration` before `now`
    /// (what a webhook "create" event announces).
    #[must_use]
    pub fn new_session(&self, athlete: usize, now: DateTime<Utc>, seed: u64) -> PlannedSession {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ now.timestamp().unsigned_abs());
        let duration_s = f64::from(rng.random_range(30..90_u32) * 60);
        let sport = self.athletes.get(athlete).map_or(Sport::Running, |a| {
            if a.profile.sport_mix[0] >= a.profile.sport_mix[1] {
                Sport::Cycling
            } else {
                Sport::Running
            }
        });
        PlannedSession {
            start: now - TimeDelta::seconds(duration_s as i64 + 600),
            sport,
            indoor: false,
            workout: Workout::Endurance,
            duration_s,
            seed: rng.random(),
        }
    }
}

/// `DetailedAthlete`-like JSON (resource state 2 in token answers, 3 from `/athlete`).
#[must_use]
pub fn athlete_json(a: &SimAthlete, detailed: bool) -> Value {
    let mut v = json!({
        "id": a.id,
        "resource_state": if detailed { 3 } else { 2 },
        "username": format!("{}{}", a.firstname.to_lowercase(), a.id % 1000),
        "firstname": a.firstname,
        "lastname": a.lastname,
        "city": "Ljubljana",
        "state": "",
        "country": "Slovenia",
        "sex": null,
        "premium": false,
        "summit": false,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
        "profile_medium": "avatar/athlete/medium.png",
        "profile": "avatar/athlete/large.png",
    });
    if detailed && let Some(map) = v.as_object_mut() {
        map.insert("weight".to_owned(), json!(a.profile.weight_kg));
        map.insert("ftp".to_owned(), json!(a.profile.ftp_w.round()));
        map.insert("measurement_preference".to_owned(), json!("meters"));
    }
    v
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `SummaryActivity` JSON (or `DetailedActivity` when `detailed`). Totals are computed
/// from the plan without generating streams; they match the streams approximately.
#[must_use]
pub fn activity_json(world: &World, act: &SimActivity, detailed: bool) -> Value {
    let Some(athlete) = world.athletes.get(act.athlete) else {
        return Value::Null;
    };
    let s = &act.session;
    let summary = synthetic::summarize(0, &athlete.profile, s);
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0xA11);
    let sport_type = match (s.sport, s.indoor) {
        (Sport::Cycling, true) => "VirtualRide",
        (Sport::Cycling, false) => "Ride",
        (Sport::Running, _) => "Run",
        (Sport::Swimming, _) => "Swim",
        _ => "Workout",
    };
    let moving = s.duration_s.round();
    // Outdoor sessions over an hour stop once (the generator's traffic light).
    let elapsed = if !s.indoor && s.duration_s > 3600.0 && s.sport != Sport::Swimming {
        moving + f64::from(rng.random_range(60..240_u32))
    } else {
        moving
    };
    let climb = if s.indoor {
        0.0
    } else {
        (summary.distance_m / 1000.0 * rng.random_range(4.0..14.0)).round()
    };
    let max_hr = (summary.avg_hr + rng.random_range(12.0..25.0)).min(athlete.profile.max_hr);
    let power = summary.avg_power_w;
    let weighted = power.map(|p| {
        let factor = match s.workout {
            Workout::Intervals => 1.12,
            Workout::Tempo => 1.06,
            _ => 1.03,
        };
        (p * factor).round()
    });
    let local = s.start + TimeDelta::seconds(i64::from(UTC_OFFSET_S));
    let mut v = json!({
        "resource_state": if detailed { 3 } else { 2 },
        "athlete": { "id": athlete.id, "resource_state": 1 },
        "id": act.id,
        "name": act.name,
        "type": sport_type,
        "sport_type": sport_type,
        "start_date": rfc3339(s.start),
        "start_date_local": rfc3339(local),
        "timezone": TIMEZONE,
        "utc_offset": f64::from(UTC_OFFSET_S),
        "elapsed_time": elapsed as i64,
        "moving_time": moving as i64,
        "distance": summary.distance_m,
        "total_elevation_gain": climb,
        "average_speed": if moving > 0.0 { (summary.distance_m / moving * 1000.0).round() / 1000.0 } else { 0.0 },
        "has_heartrate": true,
        "average_heartrate": summary.avg_hr,
        "max_heartrate": max_hr.round(),
        "device_watts": power.is_some(),
        "trainer": s.indoor,
        "commute": false,
        "manual": false,
        "private": false,
        "visibility": "everyone",
        "external_id": format!("pierre-sim-{}.fit", act.id),
        "upload_id": act.id + 7,
    });
    if let Some(map) = v.as_object_mut() {
        if let (Some(p), Some(w)) = (power, weighted) {
            map.insert("average_watts".to_owned(), json!(p));
            map.insert("weighted_average_watts".to_owned(), json!(w));
            map.insert(
                "kilojoules".to_owned(),
                json!((p * moving / 1000.0).round()),
            );
        }
        if detailed {
            map.insert(
                "description".to_owned(),
                json!("Synthetic activity from Pierre's provider simulator."),
            );
            map.insert("device_name".to_owned(), json!("Pierre synthetic"));
        }
    }
    v
}

/// Stream types Strava knows (requests for others are ignored, as Strava does).
pub const STREAM_KEYS: [&str; 8] = [
    "time",
    "latlng",
    "altitude",
    "heartrate",
    "watts",
    "cadence",
    "velocity_smooth",
    "distance",
];

fn rounded(values: &[f32]) -> Value {
    Value::Array(values.iter().map(|v| json!(v.round() as i64)).collect())
}

fn one_stream(streams: &Streams, key: &str) -> Option<Value> {
    let data = match key {
        "time" => Value::Array(streams.t.iter().map(|t| json!(t.round() as i64)).collect()),
        "latlng" => {
            let (lat, lon) = (streams.lat.as_ref()?, streams.lon.as_ref()?);
            Value::Array(
                lat.iter()
                    .zip(lon)
                    .map(|(a, b)| json!([(a * 1e6).round() / 1e6, (b * 1e6).round() / 1e6]))
                    .collect(),
            )
        }
        "altitude" => Value::Array(
            streams
                .altitude
                .as_ref()?
                .iter()
                .map(|a| json!((f64::from(*a) * 10.0).round() / 10.0))
                .collect(),
        ),
        "heartrate" => rounded(streams.heart_rate.as_ref()?),
        "watts" => rounded(streams.power.as_ref()?),
        "cadence" => rounded(streams.cadence.as_ref()?),
        "velocity_smooth" => Value::Array(
            streams
                .speed
                .as_ref()?
                .iter()
                .map(|v| json!((f64::from(*v) * 1000.0).round() / 1000.0))
                .collect(),
        ),
        "distance" => Value::Array(
            streams
                .distance
                .as_ref()?
                .iter()
                .map(|d| json!((d * 10.0).round() / 10.0))
                .collect(),
        ),
        _ => return None,
    };
    Some(json!({
        "data": data,
        "series_type": "distance",
        "original_size": streams.t.len(),
        "resolution": "high",
    }))
}

/// The streams answer: the requested keys that exist for this activity, plus
/// `distance` (the series type) as Strava adds it; keyed by type or as an array.
#[must_use]
pub fn streams_json(streams: &Streams, keys: &[&str], key_by_type: bool) -> Value {
    let mut wanted: Vec<&str> = STREAM_KEYS
        .iter()
        .copied()
        .filter(|k| keys.contains(k))
        .collect();
    if !wanted.contains(&"distance") {
        wanted.push("distance");
    }
    let present: Vec<(&str, Value)> = wanted
        .into_iter()
        .filter_map(|k| one_stream(streams, k).map(|v| (k, v)))
        .collect();
    if key_by_type {
        Value::Object(
            present
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    } else {
        Value::Array(
            present
                .into_iter()
                .map(|(k, mut v)| {
                    if let Some(map) = v.as_object_mut() {
                        map.insert("type".to_owned(), json!(k));
                    }
                    v
                })
                .collect(),
        )
    }
}
