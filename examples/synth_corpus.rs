//! Writes a zip of synthetic one-hour 1 Hz activities as GPX files, for the
//! import benchmark (`scripts/load-import`).
//!
//!     cargo run --release --example synth_corpus -- OUT.zip COUNT

use std::io::Write as _;

use chrono::{TimeDelta, TimeZone as _, Utc};
use pierre::domain::Sport;
use pierre::synthetic::{AthleteProfile, PlannedSession, Workout};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: synth_corpus OUT.zip COUNT")?;
    let count: u32 = args
        .next()
        .ok_or("usage: synth_corpus OUT.zip COUNT")?
        .parse()?;
    let profile = AthleteProfile::triathlete();
    let file = std::fs::File::create(&out)?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let first = Utc
        .with_ymd_and_hms(2025, 1, 1, 7, 0, 0)
        .single()
        .ok_or("date")?;
    let mut bytes = 0_usize;
    for day in 0..count {
        let session = PlannedSession {
            start: first + TimeDelta::days(i64::from(day)),
            sport: if day % 2 == 0 {
                Sport::Cycling
            } else {
                Sport::Running
            },
            indoor: false,
            workout: [Workout::Endurance, Workout::Tempo, Workout::Intervals][day as usize % 3],
            duration_s: 3600.0,
            seed: u64::from(day) * 7919 + 1,
        };
        let activity = pierre::synthetic::activity(&profile, &session);
        let gpx = pierre::import::export::to_gpx(&activity);
        bytes += gpx.len();
        zip.start_file(format!("activities/{day:04}.gpx"), options)?;
        zip.write_all(gpx.as_bytes())?;
    }
    let file = zip.finish()?;
    let size = file.metadata()?.len();
    eprintln!("{count} one-hour activities, {bytes} bytes of GPX, {size} bytes zipped -> {out}");
    Ok(())
}
