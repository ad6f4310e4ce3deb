//! Import throughput (MB/s per format on the real files and on a synthetic one-hour 1 Hz
//! ride written as GPX and TCX), stream encoding, and the synthetic generator's speed.
//! Figures: `docs/PERFORMANCE-IMPORT.md`. Run: `cargo bench --bench import`.

#![expect(
    clippy::expect_used,
    reason = "a benchmark that cannot read its input should stop"
)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pierre::domain::{ParsedActivity, Sport, Streams};
use pierre::import::{self, export};
use pierre::synthetic::{self, AthleteProfile, PlannedSession, Workout};

fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/activities")
        .join(rel);
    std::fs::read(path).expect("fixture")
}

fn one_hour_ride() -> ParsedActivity {
    let session = PlannedSession {
        start: NaiveDate::from_ymd_opt(2025, 6, 1)
            .and_then(|d| d.and_hms_opt(8, 0, 0))
            .expect("date")
            .and_utc(),
        sport: Sport::Cycling,
        indoor: false,
        workout: Workout::Intervals,
        duration_s: 3600.0,
        seed: 1,
    };
    synthetic::activity(&AthleteProfile::cyclist(), &session)
}

fn parse_throughput(c: &mut Criterion) {
    let ride = one_hour_ride();
    let inputs: Vec<(String, Vec<u8>)> = vec![
        (
            "fit/Edge810 ride".to_owned(),
            fixture("fit/Edge810-Vector-2013-08-16-15-35-10.fit"),
        ),
        (
            "fit/fenix2 run".to_owned(),
            fixture("fit/activity-small-fenix2-run.fit"),
        ),
        (
            "fit/indoor trainer".to_owned(),
            fixture("fit/sample-activity-indoor-trainer.fit"),
        ),
        (
            "gpx/korita-zbevnica".to_owned(),
            fixture("gpx/korita-zbevnica.gpx"),
        ),
        (
            "gpx/cerknicko-jezero".to_owned(),
            fixture("gpx/cerknicko-jezero.gpx"),
        ),
        ("tcx/test".to_owned(), fixture("tcx/test.tcx")),
        (
            "gpx/synthetic 1 h 1 Hz".to_owned(),
            export::to_gpx(&ride).into_bytes(),
        ),
        (
            "tcx/synthetic 1 h 1 Hz".to_owned(),
            export::to_tcx(&ride).into_bytes(),
        ),
    ];
    let mut group = c.benchmark_group("parse");
    group.measurement_time(Duration::from_secs(4));
    for (name, bytes) in &inputs {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), bytes, |b, bytes| {
            b.iter(|| import::parse(name, black_box(bytes)).expect("parses"));
        });
    }
    group.finish();
}

fn streams_and_export(c: &mut Criterion) {
    let ride = one_hour_ride();
    let encoded = ride.streams.encode();
    let mut group = c.benchmark_group("streams");
    group.throughput(Throughput::Elements(ride.streams.len() as u64));
    group.bench_function("encode 1 h", |b| {
        b.iter(|| black_box(&ride.streams).encode());
    });
    group.bench_function("decode 1 h", |b| {
        b.iter(|| Streams::decode(black_box(&encoded)).expect("decodes"));
    });
    group.bench_function("to_gpx 1 h", |b| {
        b.iter(|| export::to_gpx(black_box(&ride)));
    });
    group.finish();
}

fn generator(c: &mut Criterion) {
    let mut group = c.benchmark_group("synthetic");
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(3600));
    group.bench_function("one hour ride, 1 Hz samples", |b| b.iter(one_hour_ride));
    let first = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("bulk summaries, 100k", |b| {
        b.iter(|| {
            synthetic::bulk_summaries(400, first, 365, 7)
                .take(100_000)
                .count()
        });
    });
    group.finish();
}

criterion_group!(benches, parse_throughput, streams_and_export, generator);
criterion_main!(benches);
