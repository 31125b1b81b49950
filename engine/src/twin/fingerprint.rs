//! Driver fingerprints: how consistent each driver is, their lap and sector baselines, and alerts when a lap or a
//! sector is out of character for that driver.
//!
//! Only clean laps count (see [`is_clean`]): run entirely under green, not lap 1, away from the pit lane, and not an
//! in-lap. Lap times drift within a stint (fuel burns off, tyres wear), so the spread is measured on residuals from
//! each stint's own trend: a least-squares line of time against tyre age when the stint has at least
//! [`MIN_TREND_LAPS`] clean laps, its mean otherwise. A stint is a run of laps on one set of tyres, recognised from
//! the records (the compound changes or the tyre age does not follow on from the lap before).
//!
//! With `n` clean laps and `p` parameters fitted (2 per line, 1 per mean), the residual standard deviation is
//! `σ = sqrt(Σ residual² / (n − p))`, defined once `n > p`. A driver's consistency is the coefficient of variation
//! `σ / mean clean lap time`.
//!
//! A clean lap is scored against the driver's OWN clean laps before it (at least [`MIN_BASELINE_LAPS`]): the
//! current stint's trend so far predicts the lap, and the residual is divided by `σ` (floored at
//! [`LAP_SIGMA_FLOOR_S`], [`SECTOR_SIGMA_FLOOR_S`] for sectors, so that a metronomic driver does not raise an alert
//! for a twentieth of a second) and by `sqrt(1 + leverage)`, which widens the band while the stint's trend rests on
//! few laps. Beyond [`ANOMALY_SIGMAS`] either way the lap raises an alert. Earlier laps (or sectors) that were
//! beyond [`OUTLIER_SIGMAS`] when they were scored are left out of the prediction and of `σ`; the fingerprint itself
//! keeps every clean lap, since mistakes are part of (in)consistency. The first clean lap of a stint is not scored:
//! nothing predicts it yet. Whether a lap is an in-lap is known only when the next lap is recorded, so a lap
//! is scored when the record of the lap after it arrives.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sorting::{sort_by, sort_by_key};
use crate::twin::alert::{Alert, AlertKind, Evidence, Severity};
use crate::twin::consistency::MAX_PLAUSIBLE_LAP_S;
use crate::wire::{LapRecord, TrackStatus};

/// Clean laps a driver needs before any of their laps is scored.
pub const MIN_BASELINE_LAPS: usize = 5;

/// Clean laps a stint needs before its trend is a line rather than a mean.
pub const MIN_TREND_LAPS: usize = 3;

/// A lap or sector further than this many standard deviations from its prediction raises an alert.
pub const ANOMALY_SIGMAS: f64 = 2.0;

/// A lap or sector further than this many standard deviations from its prediction is left out of the baselines
/// later laps are scored against: one lap lost in traffic must not tilt the stint's trend or widen the spread.
/// Higher than [`ANOMALY_SIGMAS`], or trimming the tails would shrink σ lap after lap.
pub const OUTLIER_SIGMAS: f64 = 3.0;

/// Least lap-time standard deviation used for scoring, in seconds.
pub const LAP_SIGMA_FLOOR_S: f64 = 0.1;

/// Least sector-time standard deviation used for scoring, in seconds.
pub const SECTOR_SIGMA_FLOOR_S: f64 = 0.05;

/// What a driver's clean laps say about them.
///
/// `None` means "not enough clean laps yet": `mean_lap_s` needs one, the baselines and `consistency_cv` need more
/// clean laps than fitted parameters (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriverFingerprint {
    /// The car.
    pub car_idx: u8,
    /// Clean laps known (see [`is_clean`]).
    pub clean_laps: u32,
    /// Mean clean lap time, in seconds.
    pub mean_lap_s: Option<f64>,
    /// Residual standard deviation of the clean laps (each stint's tyre-age trend removed) over their mean lap time:
    /// `0.003` is a spread of about 0.3 s on a 90 s lap.
    pub consistency_cv: Option<f64>,
    /// The same per sector, from the clean laps whose sector time is known.
    pub sector_baselines: [Option<Baseline>; 3],
    /// Mean and residual spread of the clean lap times.
    pub lap_baseline: Option<Baseline>,
}

/// Mean and spread of a driver's clean lap or sector times.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Mean time, in seconds.
    pub mean_s: f64,
    /// Residual standard deviation after removing each stint's tyre-age trend, in seconds (not floored).
    pub std_s: f64,
    /// Clean laps it is based on.
    pub n: u32,
}

/// Fingerprints kept up to date lap by lap, raising anomaly alerts as laps become scoreable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fingerprints {
    /// Per car, its records sorted by lap.
    cars: BTreeMap<u8, Vec<LapRecord>>,
}

/// Whether `record` is a clean lap, given the record of the car's next lap (`None` while it is not known).
///
/// Clean: run entirely under green (a yellow costs time in a sector, so it does not count either), `lap > 1`, not in
/// the pit lane, plausible, and followed by a lap that is not in the pit lane (so not an in-lap). A lap whose next
/// lap is not known yet is not clean, so the last lap of a race never counts.
pub fn is_clean(record: &LapRecord, next: Option<&LapRecord>) -> bool {
    let Some(next) = next.filter(|n| Some(n.lap) == record.lap.checked_add(1)) else {
        return false;
    };
    record.lap > 1
        && record.track_status == TrackStatus::Green
        && !record.pit_lane
        && !next.pit_lane
        && plausible_s(record.lap_time_s)
}

/// The fingerprint of every car in `records` (any order), sorted by car index.
pub fn fingerprints(records: &[LapRecord]) -> Vec<DriverFingerprint> {
    let mut cars: BTreeMap<u8, Vec<&LapRecord>> = BTreeMap::new();
    for r in records {
        cars.entry(r.car_idx).or_default().push(r);
    }
    cars.into_iter()
        .map(|(car_idx, mut own)| {
            sort_by_lap(&mut own);
            fingerprint_of(car_idx, &own)
        })
        .collect()
}

/// The anomaly alerts for lap `lap` of car `car_idx` (at most one), scored against that car's clean laps before it
/// in `records` (any order; the record of lap `lap + 1` must be there to show it was not an in-lap).
///
/// `driver_code` names the driver on the radio line; `at` is the car's lap and the session time the alert is
/// raised at. A lap recorded twice counts once (the first record).
pub fn anomalies(
    records: &[LapRecord],
    car_idx: u8,
    lap: u32,
    driver_code: &str,
    at: (u32, f64),
) -> Vec<Alert> {
    let mut own: Vec<&LapRecord> = records.iter().filter(|r| r.car_idx == car_idx).collect();
    sort_by_lap(&mut own);
    let Some(i) = own.iter().position(|r| r.lap == lap) else {
        return Vec::new();
    };
    score(&own, i, driver_code, at)
}

impl Fingerprints {
    /// No laps yet.
    pub fn new() -> Self {
        Fingerprints::default()
    }

    /// Takes one completed lap and returns the anomaly alerts (at most one) of the lap before it, which this record
    /// shows was or was not an in-lap.
    ///
    /// A record for a lap at or before the car's latest means time went back (a flashback, a replay seek): the laps
    /// from it on are forgotten, as [`crate::history::LapRecorder`] does. `driver_code` and `at` are as in
    /// [`anomalies`].
    pub fn observe(&mut self, record: &LapRecord, driver_code: &str, at: (u32, f64)) -> Vec<Alert> {
        let own = self.cars.entry(record.car_idx).or_default();
        own.retain(|r| r.lap < record.lap);
        own.push(record.clone());
        let refs: Vec<&LapRecord> = own.iter().collect();
        match refs.len().checked_sub(2) {
            Some(i) => score(&refs, i, driver_code, at),
            None => Vec::new(),
        }
    }

    /// The fingerprint of one car, if any of its laps has been seen.
    pub fn fingerprint(&self, car_idx: u8) -> Option<DriverFingerprint> {
        let own: Vec<&LapRecord> = self.cars.get(&car_idx)?.iter().collect();
        Some(fingerprint_of(car_idx, &own))
    }

    /// The fingerprint of every car seen, sorted by car index.
    pub fn fingerprints(&self) -> Vec<DriverFingerprint> {
        self.cars
            .iter()
            .map(|(&car_idx, own)| fingerprint_of(car_idx, &own.iter().collect::<Vec<_>>()))
            .collect()
    }
}

/// One clean lap (or sector) as a point of a series: its stint, tyre age and time.
#[derive(Clone, Copy, Debug)]
struct Point {
    stint: usize,
    age: f64,
    time_s: f64,
}

/// A stint's trend: a least-squares line of time against tyre age, or a mean (`slope` is `None`).
#[derive(Clone, Copy, Debug)]
struct StintTrend {
    stint: usize,
    n: usize,
    mean_age: f64,
    mean_s: f64,
    sxx: f64,
    slope: Option<f64>,
}

/// A series of clean times with each stint's trend.
#[derive(Clone, Debug)]
struct SeriesFit {
    n: usize,
    mean_s: Option<f64>,
    /// Residual standard deviation, once there are more points than parameters.
    sigma_s: Option<f64>,
    trends: Vec<StintTrend>,
}

/// How far a time is from its prediction.
#[derive(Clone, Copy, Debug)]
struct Deviation {
    expected_s: f64,
    /// Positive: slower than expected.
    deviation_s: f64,
    /// Signed, like `deviation_s`.
    sigmas: f64,
}

impl StintTrend {
    fn predict(&self, age: f64) -> f64 {
        self.mean_s + self.slope.unwrap_or(0.0) * (age - self.mean_age)
    }

    /// How much of a prediction's variance comes from the fit, in units of the residual variance.
    fn leverage(&self, age: f64) -> f64 {
        let n = self.n as f64;
        match self.slope {
            Some(_) => 1.0 / n + (age - self.mean_age) * (age - self.mean_age) / self.sxx,
            None => 1.0 / n,
        }
    }
}

pub(crate) fn plausible_s(t: f64) -> bool {
    t > 0.0 && t < MAX_PLAUSIBLE_LAP_S
}

/// Sorts one car's records by lap and keeps the first record of each lap.
fn sort_by_lap(own: &mut Vec<&LapRecord>) {
    sort_by_key(own, |r| r.lap);
    own.dedup_by_key(|r| r.lap);
}

fn is_clean_at(own: &[&LapRecord], i: usize) -> bool {
    is_clean(own[i], own.get(i + 1).copied())
}

/// A stint number for each of one car's records (sorted by lap): a new stint starts when the compound changes, the
/// tyre age goes down, or it does not follow on from the lap before across a pit-lane visit (a used set).
fn stint_ids(own: &[&LapRecord]) -> Vec<usize> {
    let mut id = 0;
    let mut ids = Vec::with_capacity(own.len());
    for (i, r) in own.iter().enumerate() {
        if let Some(prev) = i.checked_sub(1).map(|j| own[j]) {
            let expected_age = prev
                .tyre_age_laps
                .saturating_add(r.lap.saturating_sub(prev.lap));
            let new_set = r.compound != prev.compound
                || r.tyre_age_laps < prev.tyre_age_laps
                || (r.tyre_age_laps != expected_age && (r.pit_lane || prev.pit_lane));
            if new_set {
                id += 1;
            }
        }
        ids.push(id);
    }
    ids
}

/// Each stint's trend and the residual spread of `points` (in lap order, so stints are contiguous).
fn fit(points: &[Point]) -> SeriesFit {
    let mut trends = Vec::new();
    let (mut residual_ss, mut params) = (0.0, 0);
    let mut rest = points;
    while let Some(first) = rest.first() {
        let len = rest.iter().take_while(|p| p.stint == first.stint).count();
        let (group, tail) = rest.split_at(len);
        rest = tail;
        let n = group.len() as f64;
        let mean_age = group.iter().map(|p| p.age).sum::<f64>() / n;
        let mean_s = group.iter().map(|p| p.time_s).sum::<f64>() / n;
        let sxx: f64 = group.iter().map(|p| (p.age - mean_age).powi(2)).sum();
        let sxy: f64 = group
            .iter()
            .map(|p| (p.age - mean_age) * (p.time_s - mean_s))
            .sum();
        let slope = (group.len() >= MIN_TREND_LAPS && sxx > 0.0).then(|| sxy / sxx);
        let trend = StintTrend {
            stint: first.stint,
            n: group.len(),
            mean_age,
            mean_s,
            sxx,
            slope,
        };
        params += if slope.is_some() { 2 } else { 1 };
        residual_ss += group
            .iter()
            .map(|p| (p.time_s - trend.predict(p.age)).powi(2))
            .sum::<f64>();
        trends.push(trend);
    }
    let n = points.len();
    SeriesFit {
        n,
        mean_s: (n > 0).then(|| points.iter().map(|p| p.time_s).sum::<f64>() / n as f64),
        sigma_s: (n > params).then(|| (residual_ss / (n - params) as f64).sqrt()),
        trends,
    }
}

/// `point` against the trend of its stint in `earlier` (the same series' clean points before it).
fn deviation(earlier: &[Point], point: Point, sigma_floor_s: f64) -> Option<Deviation> {
    if earlier.len() < MIN_BASELINE_LAPS {
        return None;
    }
    let fit = fit(earlier);
    let sigma = fit.sigma_s?.max(sigma_floor_s);
    let trend = fit.trends.iter().find(|t| t.stint == point.stint)?;
    let expected_s = trend.predict(point.age);
    let deviation_s = point.time_s - expected_s;
    Some(Deviation {
        expected_s,
        deviation_s,
        sigmas: deviation_s / (sigma * (1.0 + trend.leverage(point.age)).sqrt()),
    })
}

/// The points of a series that later points are scored against: all but the outliers, each point judged against
/// the points kept before it.
fn kept(points: &[Point], sigma_floor_s: f64) -> Vec<Point> {
    let mut kept = Vec::with_capacity(points.len());
    for &p in points {
        let outlier =
            deviation(&kept, p, sigma_floor_s).is_some_and(|d| d.sigmas.abs() > OUTLIER_SIGMAS);
        if !outlier {
            kept.push(p);
        }
    }
    kept
}

/// The points of one series: `time` picks the lap or a sector time of a record (`None`: skipped).
fn points(
    own: &[&LapRecord],
    stints: &[usize],
    clean: &[usize],
    time: impl Fn(&LapRecord) -> Option<f64>,
) -> Vec<Point> {
    clean
        .iter()
        .filter_map(|&j| {
            Some(Point {
                stint: stints[j],
                age: f64::from(own[j].tyre_age_laps),
                time_s: time(own[j]).filter(|t| plausible_s(*t))?,
            })
        })
        .collect()
}

fn sector_time(k: usize) -> impl Fn(&LapRecord) -> Option<f64> {
    move |r: &LapRecord| r.sectors_s[k]
}

fn fingerprint_of(car_idx: u8, own: &[&LapRecord]) -> DriverFingerprint {
    let stints = stint_ids(own);
    let clean: Vec<usize> = (0..own.len()).filter(|&j| is_clean_at(own, j)).collect();
    let baseline = |fit: &SeriesFit| {
        Some(Baseline {
            mean_s: fit.mean_s?,
            std_s: fit.sigma_s?,
            n: fit.n as u32,
        })
    };
    let laps = fit(&points(own, &stints, &clean, |r| Some(r.lap_time_s)));
    DriverFingerprint {
        car_idx,
        clean_laps: laps.n as u32,
        mean_lap_s: laps.mean_s,
        consistency_cv: laps.sigma_s.zip(laps.mean_s).map(|(s, m)| s / m),
        sector_baselines: std::array::from_fn(|k| {
            baseline(&fit(&points(own, &stints, &clean, sector_time(k))))
        }),
        lap_baseline: baseline(&laps),
    }
}

/// The alert (if any) for `own[i]`, one car's records sorted by lap.
fn score(own: &[&LapRecord], i: usize, driver_code: &str, at: (u32, f64)) -> Vec<Alert> {
    if !is_clean_at(own, i) {
        return Vec::new();
    }
    let stints = stint_ids(own);
    let earlier: Vec<usize> = (0..i).filter(|&j| is_clean_at(own, j)).collect();
    let r = own[i];
    let score_series = |time: &dyn Fn(&LapRecord) -> Option<f64>, floor_s: f64| {
        let point = Point {
            stint: stints[i],
            age: f64::from(r.tyre_age_laps),
            time_s: time(r).filter(|t| plausible_s(*t))?,
        };
        deviation(
            &kept(&points(own, &stints, &earlier, time), floor_s),
            point,
            floor_s,
        )
    };
    let lap = score_series(&|r| Some(r.lap_time_s), LAP_SIGMA_FLOOR_S);
    let sectors: Vec<(usize, Deviation)> = (0..3)
        .filter_map(|k| Some((k, score_series(&sector_time(k), SECTOR_SIGMA_FLOOR_S)?)))
        .collect();
    let at_car = Some(r.car_idx);

    if let Some(d) = lap.filter(|d| d.sigmas.abs() > ANOMALY_SIGMAS) {
        let mut radio = format!(
            "{driver_code} lap {} {} s {} than baseline ({:.1}σ)",
            r.lap,
            fmt_s(d.deviation_s.abs()),
            slower_or_faster(d.deviation_s),
            d.sigmas.abs()
        );
        // Where the time went (or came from): the sector furthest off in the same direction.
        let worst = sectors
            .iter()
            .filter(|(_, s)| s.deviation_s * d.deviation_s > 0.0)
            .max_by(|a, b| a.1.deviation_s.abs().total_cmp(&b.1.deviation_s.abs()));
        if let Some((k, s)) = worst {
            radio.push_str(&format!(
                ", sector {} {}",
                k + 1,
                fmt_signed_s(s.deviation_s)
            ));
        }
        let evidence = vec![
            Evidence::new(format!("lap {} vs baseline", r.lap), d.deviation_s, "s"),
            Evidence::new("deviation", d.sigmas, "σ"),
            Evidence::new("baseline lap", d.expected_s, "s"),
        ];
        return vec![Alert::new(
            AlertKind::LapAnomaly,
            Severity::Info,
            at_car,
            at,
            &radio,
            evidence,
        )];
    }

    let mut odd: Vec<&(usize, Deviation)> = sectors
        .iter()
        .filter(|(_, s)| s.sigmas.abs() > ANOMALY_SIGMAS)
        .collect();
    sort_by(&mut odd, |a, b| {
        b.1.sigmas.abs().total_cmp(&a.1.sigmas.abs())
    });
    let Some(&&(k, d)) = odd.first() else {
        return Vec::new();
    };
    let mut radio = format!(
        "{driver_code} lap {} sector {} {} s {} than baseline ({:.1}σ)",
        r.lap,
        k + 1,
        fmt_s(d.deviation_s.abs()),
        slower_or_faster(d.deviation_s),
        d.sigmas.abs()
    );
    for (k, s) in odd.iter().skip(1) {
        radio.push_str(&format!(
            ", sector {} {}",
            k + 1,
            fmt_signed_s(s.deviation_s)
        ));
    }
    let evidence = vec![
        Evidence::new(format!("sector {} vs baseline", k + 1), d.deviation_s, "s"),
        Evidence::new("deviation", d.sigmas, "σ"),
        Evidence::new(format!("baseline sector {}", k + 1), d.expected_s, "s"),
    ];
    vec![Alert::new(
        AlertKind::SectorAnomaly,
        Severity::Info,
        at_car,
        at,
        &radio,
        evidence,
    )]
}

fn slower_or_faster(deviation_s: f64) -> &'static str {
    if deviation_s > 0.0 {
        "slower"
    } else {
        "faster"
    }
}

/// Seconds for a radio line: hundredths below a second, tenths above.
fn fmt_s(t: f64) -> String {
    if t < 1.0 {
        format!("{t:.2}")
    } else {
        format!("{t:.1}")
    }
}

fn fmt_signed_s(t: f64) -> String {
    let sign = if t < 0.0 { '−' } else { '+' };
    format!("{sign}{} s", fmt_s(t.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::random::SimRng;
    use crate::wire::{Compound, Corners};

    /// Sector times of a lap on fresh tyres at lap 0 with no fuel effect, in seconds.
    const BASE_SECTORS_S: [f64; 3] = [28.0, 38.0, 26.0];

    /// A synthetic race of one car: three stints (soft, medium, hard) with a known pace, fuel effect and
    /// degradation, and independent normal noise per sector. Lap 1 is a slow start; the in-laps (18, 38) are slow
    /// but not in the pit lane themselves (pit entry after the line); the out-laps are in the pit lane; lap 30 is
    /// behind the safety car and lap 45 under a local yellow.
    fn race(noise_s: [f64; 3], seed: u64) -> Vec<LapRecord> {
        let mut rng = SimRng::new(seed);
        let mut records = Vec::new();
        let (mut compound, mut age) = (Compound::Soft, 0);
        for lap in 1..=57 {
            if lap == 19 || lap == 39 {
                compound = if lap == 19 {
                    Compound::Medium
                } else {
                    Compound::Hard
                };
                age = 0;
            }
            age += 1;
            let (offset, deg) = match compound {
                Compound::Soft => (0.0, 0.09),
                Compound::Medium => (0.4, 0.06),
                _ => (0.8, 0.04),
            };
            // Pace: the compound's offset and degradation, 0.06 s a lap faster as fuel burns off.
            let pace = offset + deg * f64::from(age) - 0.06 * f64::from(lap);
            let mut sectors: [f64; 3] = std::array::from_fn(|k| {
                BASE_SECTORS_S[k] + pace * BASE_SECTORS_S[k] / 92.0 + rng.normal(0.0, noise_s[k])
            });
            let mut status = TrackStatus::Green;
            let mut pit_lane = false;
            match lap {
                1 => sectors[0] += 5.0,
                18 | 38 => sectors[2] += 4.0,
                19 | 39 => {
                    sectors[2] += 20.0;
                    pit_lane = true;
                }
                30 => {
                    sectors[1] += 25.0;
                    status = TrackStatus::SafetyCar;
                }
                45 => {
                    sectors[1] += 1.0;
                    status = TrackStatus::Yellow;
                }
                _ => {}
            }
            records.push(LapRecord {
                car_idx: 7,
                lap,
                lap_time_s: sectors.iter().sum(),
                position: 3,
                compound,
                tyre_age_laps: age,
                wear_pct: Corners::default(),
                fuel_kg: 100.0 - 1.7 * f64::from(lap),
                track_status: status,
                pit_lane,
                sectors_s: sectors.map(Some),
                ers_store_pct: 50.0,
                gap_to_leader_s: Some(5.0),
            });
        }
        records
    }

    /// Noise well under the σ floors: a metronomic driver.
    const METRONOME: [f64; 3] = [0.01, 0.015, 0.01];

    fn observe_all(records: &[LapRecord]) -> (Fingerprints, Vec<Alert>) {
        let mut fp = Fingerprints::new();
        let mut alerts = Vec::new();
        for r in records {
            alerts.extend(fp.observe(r, "HAM", (r.lap + 1, f64::from(r.lap) * 95.0)));
        }
        (fp, alerts)
    }

    fn plant(records: &mut [LapRecord], lap: u32, sector: usize, delta_s: f64) {
        let r = &mut records[lap as usize - 1];
        if let Some(s) = r.sectors_s[sector].as_mut() {
            *s += delta_s;
        }
        r.lap_time_s += delta_s;
    }

    #[test]
    fn recovers_the_known_spread_after_removing_each_stints_trend() {
        let noise = [0.15, 0.2, 0.15];
        let lap_sigma = noise.iter().map(|s| s * s).sum::<f64>().sqrt();
        let records = race(noise, 11);
        let all = fingerprints(&records);
        assert_eq!(all.len(), 1);
        let fp = &all[0];
        assert_eq!(fp.car_idx, 7);
        // 57 laps minus lap 1, two in-laps, two out-laps, the SC lap, the yellow lap and the last lap.
        assert_eq!(fp.clean_laps, 49);
        let mean = fp.mean_lap_s.unwrap();
        let cv = fp.consistency_cv.unwrap();
        let want = lap_sigma / mean;
        assert!((cv - want).abs() < 0.2 * want, "cv {cv} vs {want}");
        let lap = fp.lap_baseline.unwrap();
        assert_eq!((lap.n, lap.mean_s), (49, mean));
        assert!((lap.std_s - lap_sigma).abs() < 0.2 * lap_sigma, "{lap:?}");
        for (k, b) in fp.sector_baselines.iter().enumerate() {
            let b = b.unwrap();
            assert_eq!(b.n, 49);
            assert!(
                (b.std_s - noise[k]).abs() < 0.25 * noise[k],
                "sector {k}: {b:?}"
            );
            assert!(
                (b.mean_s - BASE_SECTORS_S[k]).abs() < 1.0,
                "sector {k}: {b:?}"
            );
        }
        // Without the trends (fuel, degradation, compounds), the spread would be several times larger.
        let clean: Vec<f64> = records
            .iter()
            .zip(records.iter().skip(1))
            .filter(|(r, n)| is_clean(r, Some(n)))
            .map(|(r, _)| r.lap_time_s)
            .collect();
        let raw_sd = (clean.iter().map(|t| (t - mean).powi(2)).sum::<f64>()
            / (clean.len() - 1) as f64)
            .sqrt();
        assert!(raw_sd > 2.5 * lap_sigma, "raw {raw_sd} vs {lap_sigma}");
    }

    #[test]
    fn a_planted_slow_lap_raises_exactly_one_lap_anomaly() {
        let mut records = race(METRONOME, 3);
        let expected = records[24].lap_time_s;
        plant(&mut records, 25, 1, 3.0);
        let (_, alerts) = observe_all(&records);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        let a = &alerts[0];
        assert_eq!(
            (a.kind, a.severity, a.car_idx, a.lap),
            (AlertKind::LapAnomaly, Severity::Info, Some(7), 27)
        );
        // Raised when lap 26 arrives, showing lap 25 was not an in-lap.
        assert_eq!(a.session_time_s, 26.0 * 95.0);
        assert!(
            a.radio
                .starts_with("HAM lap 25 3.0 s slower than baseline ("),
            "{}",
            a.radio
        );
        assert!(a.radio.ends_with("σ), sector 2 +3.0 s"), "{}", a.radio);
        let [dev, sigmas, baseline] = [&a.evidence[0], &a.evidence[1], &a.evidence[2]];
        assert_eq!(
            (dev.label.as_str(), dev.unit.as_str()),
            ("lap 25 vs baseline", "s")
        );
        assert!((dev.value - 3.0).abs() < 0.1, "{dev:?}");
        // σ is floored at 0.1 s; the medium stint's trend rests on laps 20-24 (tyre ages 2-6) and predicts age 7,
        // so the band widens by sqrt(1 + 1/5 + 3²/10).
        assert_eq!(sigmas.unit, "σ");
        let want = dev.value / (0.1 * 2.1_f64.sqrt());
        assert!((sigmas.value - want).abs() < 1e-9, "{sigmas:?} vs {want}");
        assert!((baseline.value - expected).abs() < 0.1, "{baseline:?}");

        // The batch function agrees, and the laps either side of it are normal.
        let at = (27, 26.0 * 95.0);
        assert_eq!(anomalies(&records, 7, 25, "HAM", at), alerts);
        assert!(anomalies(&records, 7, 24, "HAM", at).is_empty());
        assert!(anomalies(&records, 7, 26, "HAM", at).is_empty());
    }

    #[test]
    fn fast_laps_and_sectors_are_anomalies_too() {
        let mut records = race(METRONOME, 4);
        plant(&mut records, 50, 0, -0.8);
        // Half a second lost in sector 2 and found in sector 3: the lap is normal, the sectors are not.
        plant(&mut records, 35, 1, 0.5);
        plant(&mut records, 35, 2, -0.5);
        let (_, alerts) = observe_all(&records);
        assert_eq!(alerts.len(), 2, "{alerts:#?}");
        let sector = &alerts[0];
        assert_eq!(sector.kind, AlertKind::SectorAnomaly);
        // Both sectors are named, the one furthest off in σ first, with its evidence.
        assert!(
            sector.radio.starts_with("HAM lap 35 sector ")
                && sector.radio.contains("sector 2")
                && sector.radio.contains("sector 3"),
            "{}",
            sector.radio
        );
        assert!(sector.evidence[0].label.ends_with(" vs baseline"));
        assert!((sector.evidence[0].value.abs() - 0.5).abs() < 0.05);
        assert!(sector.evidence[1].value.abs() > ANOMALY_SIGMAS);
        let lap = &alerts[1];
        assert_eq!(lap.kind, AlertKind::LapAnomaly);
        assert!(
            lap.radio.starts_with("HAM lap 50 0.8")
                && lap.radio.contains(" s faster than baseline ("),
            "{}",
            lap.radio
        );
        assert!(lap.radio.contains("σ), sector 1 −0.8"), "{}", lap.radio);
        assert!(lap.evidence[0].value < -0.7 && lap.evidence[1].value < -2.0);
    }

    #[test]
    fn safety_car_yellow_pit_and_in_laps_are_never_scored() {
        let records = race(METRONOME, 5);
        let (_, alerts) = observe_all(&records);
        // Lap 1 is 5 s slow, the in-laps 4 s, the out-laps 20 s, the SC lap 25 s, the yellow lap 1 s.
        assert!(alerts.is_empty(), "{alerts:#?}");
        for lap in [1, 18, 19, 30, 38, 39, 45, 57] {
            assert!(anomalies(&records, 7, lap, "HAM", (lap, 0.0)).is_empty());
        }
        // The SC and yellow laps, were they green, would be anomalies.
        for lap in [30, 45] {
            let mut green = records.clone();
            green[lap as usize - 1].track_status = TrackStatus::Green;
            let alerts = anomalies(&green, 7, lap, "HAM", (lap, 0.0));
            assert_eq!(alerts.len(), 1, "lap {lap}");
            assert_eq!(alerts[0].kind, AlertKind::LapAnomaly);
        }
    }

    #[test]
    fn too_few_laps_give_no_nan_and_nulls_only_where_documented() {
        let records = race(METRONOME, 6);
        assert_eq!(serde_json::to_string(&fingerprints(&[])).unwrap(), "[]");
        for n in 1..=12 {
            let (incremental, alerts) = observe_all(&records[..n]);
            assert!(alerts.is_empty());
            let all = fingerprints(&records[..n]);
            assert_eq!(incremental.fingerprints(), all);
            let json = serde_json::to_value(&all).unwrap();
            assert!(!json.to_string().contains("NaN"));
            let fp = &json[0];
            // Nulls are the documented "not enough laps yet"; a baseline, when present, is all numbers.
            for key in ["mean_lap_s", "consistency_cv", "lap_baseline"] {
                assert!(fp[key].is_null() || fp[key].is_number() || fp[key].is_object());
            }
            let mut baselines = vec![&fp["lap_baseline"]];
            baselines.extend(fp["sector_baselines"].as_array().unwrap());
            for b in baselines.into_iter().filter(|b| !b.is_null()) {
                for key in ["mean_s", "std_s", "n"] {
                    assert!(b[key].is_number(), "{n} laps: {b}");
                }
            }
            // Laps 2..n-1 are clean (lap n has no next lap yet); a baseline needs more laps than parameters.
            let clean = n.saturating_sub(2);
            assert_eq!(fp["clean_laps"], clean, "{n} laps");
            assert_eq!(fp["mean_lap_s"].is_null(), clean == 0, "{n} laps");
            let params = if clean >= MIN_TREND_LAPS { 2 } else { 1 };
            assert_eq!(fp["consistency_cv"].is_null(), clean <= params, "{n} laps");
            assert_eq!(fp["lap_baseline"].is_null(), clean <= params, "{n} laps");
        }
    }

    #[test]
    fn a_flashback_redoes_the_laps_after_it() {
        let mut records = race(METRONOME, 8);
        plant(&mut records, 25, 1, 3.0);
        let (mut fp, _) = observe_all(&records[..26]);
        // Back to lap 24: the planted lap is driven again, normally this time.
        let clean = race(METRONOME, 8);
        let mut alerts = Vec::new();
        for r in &clean[23..] {
            alerts.extend(fp.observe(r, "HAM", (r.lap + 1, 0.0)));
        }
        assert!(alerts.is_empty(), "{alerts:#?}");
        assert_eq!(fp.fingerprints(), fingerprints(&clean));
        assert_eq!(fp.fingerprint(7), fingerprints(&clean).pop());
        assert_eq!(fp.fingerprint(8), None);
    }

    #[test]
    fn a_simulated_race_gives_plausible_fingerprints_for_every_car() {
        use crate::history::LapRecorder;
        use crate::sim::{RaceSim, SimConfig};
        let mut sim = RaceSim::new(&SimConfig {
            seed: 9,
            total_laps: 30,
        });
        let mut rec = LapRecorder::new();
        let mut t = 0.0;
        while !sim.is_finished() {
            t += 1.0;
            sim.advance_to(t);
            rec.observe(&sim.state());
        }
        let all = fingerprints(rec.records());
        assert_eq!(all.len(), sim.state().cars.len());
        let mut incremental = Fingerprints::new();
        for r in rec.records() {
            incremental.observe(r, "SIM", (r.lap, 0.0));
        }
        assert_eq!(incremental.fingerprints(), all);
        for fp in &all {
            let Some(cv) = fp.consistency_cv else {
                continue;
            };
            assert!(cv > 0.0005 && cv < 0.02, "{fp:?}");
        }
        assert!(all.iter().filter(|fp| fp.clean_laps >= 15).count() >= 10);
    }
}
