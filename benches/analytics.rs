//! Analytics benchmarks: PMC over 10 years of daily loads, mean-max curve and NP of a
//! 5-hour 1 Hz ride, 1 Hz resampling of a 5-hour ride.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pierre::analytics::{curves, pmc_default, power, resample};
use pierre::domain::{Segment, Streams};

#[expect(
    clippy::cast_possible_truncation,
    reason = "streams store power as f32"
)]
fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&p| p as f32).collect()
}

/// A 5-hour ride's power: a deterministic mix of steady work, surges and coasting.
fn ride_power(seconds: u32) -> Vec<f64> {
    let mut state: u32 = 0x1234_5678;
    (0..seconds)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (f64::from(state >> 20) / 4096.0).mul_add(60.0, -30.0);
            let x = f64::from(i);
            let base = 120.0f64.mul_add(
                (x / 37.0).sin().max(0.0),
                60.0f64.mul_add((x / 600.0).sin(), 200.0),
            );
            (base + noise).max(0.0)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let five_hours = 5 * 3600;
    let power = ride_power(five_hours);

    // 10 years of daily loads, with rest days.
    let loads: Vec<f64> = (0..3653u32)
        .map(|d| {
            if d % 7 == 0 {
                0.0
            } else {
                f64::from(40 + (d * 37) % 90)
            }
        })
        .collect();
    c.bench_function("pmc_10_years", |b| {
        b.iter(|| pmc_default(black_box(&loads)));
    });

    c.bench_function("mean_max_5h_ladder", |b| {
        b.iter(|| curves::mean_max(black_box(&power), &curves::DURATION_LADDER));
    });

    c.bench_function("normalized_power_5h", |b| {
        b.iter(|| power::normalized_power(black_box(&power)));
    });

    let t: Vec<f64> = (0..five_hours).map(f64::from).collect();
    let streams = Streams {
        power: Some(to_f32(&power)),
        heart_rate: Some(vec![140.0; t.len()]),
        segments: vec![
            Segment {
                start_t: 0.0,
                end_t: 7199.0,
            },
            Segment {
                start_t: 7500.0,
                end_t: f64::from(five_hours - 1),
            },
        ],
        t,
        ..Streams::default()
    };
    c.bench_function("resample_5h_power_hr", |b| {
        b.iter(|| resample::recording(black_box(&streams)));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
