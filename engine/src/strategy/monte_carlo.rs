//! Monte Carlo over races: race `k` draws from its own stream of the seed, runs are split into fixed chunks (a
//! worker's unit of work), and the chunks' tallies merge into the same [`McReport`] whatever the split over workers
//! or the merge order. [`run_plans`] runs one car's plans on the same races, their shared laps once.
//!
//! Per driver it reports the finishing-position distribution, mean position, win / podium / points chances,
//! expected points, the race time's mean and 5–95 % band (finishers), and the DNF chance.

use serde::{Deserialize, Serialize};

use super::lapsim::{Outcome, Prepared, Runner};
use super::model::RaceModel;
use super::rng::Stream;

/// Runs per chunk: the unit of work of a worker.
pub const CHUNK_RUNS: u32 = 250;

/// Points for P1–P10 (the 2010– system, no fastest-lap point).
pub const POINTS: [f64; 10] = [25.0, 18.0, 15.0, 12.0, 10.0, 8.0, 6.0, 4.0, 2.0, 1.0];

/// How many runs and with which seed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct McConfig {
    /// Races to run (one, whatever is asked, when deterministic).
    pub runs: u32,
    /// Seed of every random stream.
    pub seed: u64,
    /// No randomness: one race with mean values and only the fixed events.
    pub deterministic: bool,
}

/// The chunks `runs` splits into: `(chunk index, runs in it)`.
pub fn chunks(runs: u32) -> Vec<(u64, u32)> {
    let full = runs / CHUNK_RUNS;
    let mut out: Vec<(u64, u32)> = (0..full).map(|k| (u64::from(k), CHUNK_RUNS)).collect();
    if !runs.is_multiple_of(CHUNK_RUNS) {
        out.push((u64::from(full), runs % CHUNK_RUNS));
    }
    out
}

/// Counts from some runs. Merging is commutative: integer counts and sorted samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Drivers.
    pub drivers: usize,
    /// Runs counted.
    pub runs: u32,
    /// Runs dropped because a time came out non-finite (bad parameters).
    pub invalid_runs: u32,
    /// `positions[d * drivers + p]`: runs in which driver `d` finished in position `p + 1`.
    pub positions: Vec<u32>,
    /// Runs in which each driver did not finish.
    pub dnf: Vec<u32>,
    /// `unclassified[d * drivers + p]`: of those runs counted in `positions`, the ones in which driver `d` retired
    /// having covered less than 90 % of the winner's laps (rounded down): not classified, so it scored nothing
    /// there. Absent in older JSON: none.
    #[serde(default)]
    pub unclassified: Vec<u32>,
    /// Race times of each driver's finishes, seconds.
    pub times: Vec<Vec<f64>>,
    /// Runs with at least one SC lap.
    pub sc_runs: u32,
    /// Runs with at least one VSC lap.
    pub vsc_runs: u32,
}

impl Tally {
    /// An empty tally for `drivers`.
    pub fn new(drivers: usize) -> Self {
        Tally {
            drivers,
            positions: vec![0; drivers * drivers],
            dnf: vec![0; drivers],
            unclassified: vec![0; drivers * drivers],
            times: vec![Vec::new(); drivers],
            ..Tally::default()
        }
    }

    /// Counts one race.
    pub fn add(&mut self, o: &Outcome) {
        let running_bad = o
            .race_time_s
            .iter()
            .zip(&o.dnf)
            .any(|(t, dnf)| !dnf && !t.is_finite());
        if running_bad {
            self.invalid_runs += 1;
            return;
        }
        self.runs += 1;
        // A tally read from older JSON has no unclassified counts yet.
        self.unclassified.resize(self.drivers * self.drivers, 0);
        // The FIA's classification: 90 % of the winner's laps, rounded down.
        let winner_laps = (0..self.drivers)
            .find(|&d| o.position[d] == 1)
            .map_or(0, |d| o.laps[d]);
        let classified_laps = winner_laps * 9 / 10;
        for d in 0..self.drivers {
            let p = usize::from(o.position[d].max(1)) - 1;
            self.positions[d * self.drivers + p] += 1;
            if o.dnf[d] {
                self.dnf[d] += 1;
                if o.laps[d] < classified_laps {
                    self.unclassified[d * self.drivers + p] += 1;
                }
            } else {
                self.times[d].push(o.race_time_s[d]);
            }
        }
        self.sc_runs += u32::from(o.sc_laps > 0);
        self.vsc_runs += u32::from(o.vsc_laps > 0);
    }

    /// Adds another tally of the same field.
    pub fn merge(&mut self, other: &Tally) {
        if self.drivers == 0 {
            *self = Tally::new(other.drivers);
        }
        self.runs += other.runs;
        self.invalid_runs += other.invalid_runs;
        for (a, b) in self.positions.iter_mut().zip(&other.positions) {
            *a += b;
        }
        for (a, b) in self.dnf.iter_mut().zip(&other.dnf) {
            *a += b;
        }
        self.unclassified.resize(self.drivers * self.drivers, 0);
        for (a, b) in self.unclassified.iter_mut().zip(&other.unclassified) {
            *a += b;
        }
        for (a, b) in self.times.iter_mut().zip(&other.times) {
            a.extend_from_slice(b);
        }
        self.sc_runs += other.sc_runs;
        self.vsc_runs += other.vsc_runs;
    }
}

/// The races chunk `chunk` holds: `runs` of them from its first.
fn races(chunk: u64, runs: u32) -> std::ops::Range<u64> {
    let first = chunk * u64::from(CHUNK_RUNS);
    first..first + u64::from(runs)
}

/// Runs chunk `chunk` (`runs` races) of `seed`.
pub fn run_chunk(prepared: &Prepared, seed: u64, chunk: u64, runs: u32) -> Tally {
    let mut tally = Tally::new(prepared.drivers());
    let mut runner = Runner::new(prepared);
    for race in races(chunk, runs) {
        tally.add(runner.run(Some(&mut Stream::for_race(seed, race))));
    }
    tally
}

/// Runs races `races` of `seed` for each of `prepared`, the same model, start and rivals' plans with different
/// plans for `car`: for each, the tally [`run_chunk`] gives over those races, bit for bit. Plans that start `car`
/// alike ([`Prepared::same_start`]) share their races up to each one's first in-lap: each race is run once with no
/// stop for `car` and forked ([`Runner::fork`]) at every plan's first in-lap, in lap order, so a plan's race costs
/// only the laps from its first stop on (eight plans of one car together: 0.65 of the time one by one).
pub fn run_plans(
    prepared: &[Prepared],
    car: usize,
    seed: u64,
    races: std::ops::Range<u64>,
) -> Vec<Tally> {
    let mut tallies: Vec<Tally> = prepared.iter().map(|p| Tally::new(p.drivers())).collect();
    if races.is_empty() {
        return tallies;
    }
    let mut grouped = vec![false; prepared.len()];
    for lead in 0..prepared.len() {
        if grouped[lead] {
            continue;
        }
        // The plans that start like `lead`'s, by first in-lap (none: last).
        let mut group: Vec<usize> = (lead..prepared.len())
            .filter(|&i| !grouped[i] && prepared[i].same_start(&prepared[lead], car))
            .collect();
        for &i in &group {
            grouped[i] = true;
        }
        let first_stop = |i: usize| prepared[i].first_stop_race_lap(car).unwrap_or(u32::MAX);
        group.sort_by_key(|&i| first_stop(i));
        let shared = prepared[lead].without_stops(car);
        let mut base = Runner::new(&shared);
        let mut runners: Vec<Runner> = group.iter().map(|&i| Runner::new(&prepared[i])).collect();
        for race in races.clone() {
            let mut rng = Stream::for_race(seed, race);
            base.begin(&mut rng);
            for (runner, &i) in runners.iter_mut().zip(&group) {
                base.run_to(first_stop(i), &mut rng);
                runner.fork(&base, car);
                let mut rest = rng.clone();
                runner.run_to(u32::MAX, &mut rest);
                tallies[i].add(runner.finish());
            }
        }
    }
    tallies
}

/// Runs every chunk of `config` on this thread.
pub fn run_all(prepared: &Prepared, config: &McConfig) -> Tally {
    if config.deterministic {
        let mut tally = Tally::new(prepared.drivers());
        tally.add(Runner::new(prepared).run(None));
        return tally;
    }
    let mut tally = Tally::new(prepared.drivers());
    for (chunk, runs) in chunks(config.runs) {
        tally.merge(&run_chunk(prepared, config.seed, chunk, runs));
    }
    tally
}

/// The outcome of a Monte Carlo for the whole field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct McReport {
    /// Races counted.
    pub runs: u32,
    /// The seed.
    pub seed: u64,
    /// No randomness was used.
    pub deterministic: bool,
    /// Share of races with a SC.
    pub sc_probability: f64,
    /// Share of races with a VSC.
    pub vsc_probability: f64,
    /// Per driver, in the model's order.
    pub drivers: Vec<DriverOutcome>,
    /// What went wrong without stopping the run.
    pub warnings: Vec<String>,
}

/// One driver's distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriverOutcome {
    /// Code.
    pub code: String,
    /// Team.
    pub team: String,
    /// `position_probability[p]`: chance of finishing in position `p + 1` (DNFs are classified last).
    pub position_probability: Vec<f64>,
    /// Mean classified position.
    pub mean_position: f64,
    /// Chance of winning.
    pub p_win: f64,
    /// Chance of a podium.
    pub p_podium: f64,
    /// Chance of scoring points (classified in the top 10).
    pub p_points: f64,
    /// Expected points.
    pub expected_points: f64,
    /// Chance of not finishing.
    pub p_dnf: f64,
    /// Mean race time of the finishes, seconds.
    pub race_time_mean_s: Option<f64>,
    /// 5th percentile of the race time.
    pub race_time_p5_s: Option<f64>,
    /// 95th percentile of the race time.
    pub race_time_p95_s: Option<f64>,
}

/// Summarises `tally` for `model`'s drivers.
pub fn report(model: &RaceModel, tally: &Tally, config: &McConfig) -> McReport {
    let n = tally.drivers;
    let runs = f64::from(tally.runs.max(1));
    let mut warnings = Vec::new();
    if tally.invalid_runs > 0 {
        warnings.push(format!(
            "{} of {} runs dropped: a race time came out non-finite (check the parameters)",
            tally.invalid_runs,
            tally.runs + tally.invalid_runs
        ));
    }
    if tally.runs == 0 {
        warnings.push("no valid run".to_owned());
    }
    let drivers = (0..n)
        .map(|d| {
            let counts = &tally.positions[d * n..(d + 1) * n];
            let prob: Vec<f64> = counts.iter().map(|c| f64::from(*c) / runs).collect();
            let mean_position = prob
                .iter()
                .enumerate()
                .map(|(p, q)| (p + 1) as f64 * q)
                .sum();
            // Wins, podiums and points go to classified cars only: in a small field a retired car can be placed in
            // the top ten without scoring.
            let scoring: Vec<f64> = counts
                .iter()
                .enumerate()
                .map(|(p, c)| {
                    let out = tally.unclassified.get(d * n + p).copied().unwrap_or(0);
                    f64::from(c.saturating_sub(out)) / runs
                })
                .collect();
            let top = |k: usize| scoring.iter().take(k).sum::<f64>();
            let expected_points = scoring.iter().zip(POINTS).map(|(q, pts)| q * pts).sum();
            let mut times = tally.times[d].clone();
            times.sort_by(f64::total_cmp);
            let (code, team) = model
                .drivers
                .get(d)
                .map_or_else(Default::default, |m| (m.code.clone(), m.team.clone()));
            DriverOutcome {
                code,
                team,
                mean_position,
                p_win: top(1),
                p_podium: top(3),
                p_points: top(10),
                expected_points,
                p_dnf: f64::from(tally.dnf[d]) / runs,
                race_time_mean_s: (!times.is_empty())
                    .then(|| times.iter().sum::<f64>() / times.len() as f64),
                race_time_p5_s: quantile(&times, 0.05),
                race_time_p95_s: quantile(&times, 0.95),
                position_probability: prob,
            }
        })
        .collect();
    McReport {
        runs: tally.runs,
        seed: config.seed,
        deterministic: config.deterministic,
        sc_probability: f64::from(tally.sc_runs) / runs,
        vsc_probability: f64::from(tally.vsc_runs) / runs,
        drivers,
        warnings,
    }
}

/// The `q` quantile of sorted `xs` (nearest rank); `None` when empty.
fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    Some(xs[rank - 1])
}
