//! Training analytics: every metric of `docs/ANALYTICS.md` (shared docs) as pure functions.
//!
//! No I/O, no database, no web: slices and numbers in, numbers out. Conventions chosen
//! where published definitions differ are documented in each module and collected in
//! `docs/ANALYTICS-IMPL.md`.
//!
//! - [`resample`]: streams → 1 Hz recording clock (pauses removed) and elapsed clock.
//! - [`power`]: NP, IF, VI, power TSS, efficiency factor, aerobic decoupling.
//! - [`heart`]: Banister TRIMP, hrTSS, heart-rate zones.
//! - [`pace`]: Minetti grade cost, grade-adjusted speed, rTSS, sTSS, running best efforts.
//! - [`curves`]: mean-max curves, critical power and W′, W′bal.
//! - [`load`]: the day's load priority rule and the performance management chart.
//! - [`zones`]: Coggan power zones and time in zones.
//! - [`summary`]: [`summary::analyze`], every per-activity metric at once.
//! - [`suggest`]: threshold suggestions (FTP from 20 min power, Riegel threshold pace, max HR).

pub mod curves;
pub mod heart;
pub mod load;
pub mod pace;
pub mod power;
pub mod resample;
pub mod suggest;
pub mod summary;
pub mod zones;

#[cfg(test)]
mod real_files;

/// The performance management chart with the default constants (42 / 7 days, from 0):
/// shorthand for [`load::pmc`] with [`load::PmcParams::default`].
#[must_use]
pub fn pmc_default(daily: &[f64]) -> Vec<load::PmcDay> {
    load::pmc(daily, load::PmcParams::default())
}
