//! Strategy search, what-if and undercut chances for one car, by Monte Carlo against the rest of the field.
//!
//! The search enumerates every legal 1-, 2- and 3-stop plan over the race's dry compounds (two different dry
//! compounds over the race), with in-laps on a grid, screens them by their time on a free track (exact sums of the
//! car's lap-time model, microseconds per plan), then runs the best few of each stop count through the full-field
//! Monte Carlo with common random numbers (every plan sees the same seed, so differences are the plans', not the
//! dice's) and ranks them by expected position or points, with the spread of the position as the risk. The pit
//! window is the range of first-stop laps of the best plan's compound sequence whose expectation stays within a
//! tolerance of the best.

use serde::{Deserialize, Serialize};

use super::lapsim::Runner;
use super::lapsim::{MAX_RACE_LAPS, Prepared, RaceStart, SimError};
use super::model::{FcyPhase, Plan, PlannedStop, RaceModel};
use super::monte_carlo::{self, McConfig, McReport};
use super::rng::Stream;
use crate::wire::Compound;

/// What the search ranks by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Lowest expected finishing position.
    #[default]
    Position,
    /// Most expected points.
    Points,
}

/// The search's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// Index of the car in the model.
    pub car: usize,
    /// Monte Carlo runs per evaluated plan.
    pub runs_per_plan: u32,
    /// Races each pit-window lap is run on (at most `runs_per_plan`; 0: all of them): the first ones of every plan,
    /// so that the window compares the laps race by race with the best plan on the same races ([`PlanResult`]'s
    /// `window_*`).
    #[serde(default = "default_window_runs")]
    pub window_runs: u32,
    /// Seed shared by every plan: race `k` is the same race for every plan (common random numbers).
    pub seed: u64,
    /// Most stops a plan may have (1 to 3).
    pub max_stops: u32,
    /// Spacing of candidate in-laps, laps.
    pub lap_step: u32,
    /// Shortest stint, laps.
    pub min_stint_laps: u32,
    /// Plans per stop count that go from the free-track screen to the Monte Carlo.
    pub finalists_per_stop_count: usize,
    /// Rank by.
    pub objective: Objective,
    /// The longest stint each compound may run, laps (its age when fitted included); a compound not listed is
    /// not capped. The degradation models are fitted on the stints a race has shown and extrapolate without a
    /// cliff beyond them: the cap keeps the search to stints the tyres can do. Empty: the longest any of the
    /// shared races saw, as a share of the distance (softs 0.64, mediums 0.86, hards uncapped).
    #[serde(default)]
    pub max_stint_laps: Vec<(Compound, u32)>,
}

impl SearchConfig {
    /// The most stops a plan may have, within 1 to 3 whatever `max_stops` says.
    fn most_stops(&self) -> usize {
        self.max_stops.clamp(1, 3) as usize
    }

    /// Defaults for `car`: 300 runs per plan, the window's laps on up to 500 of them, in-laps every 2 laps, stints
    /// of at least 5 laps, 6 finalists per stop count.
    pub fn for_car(car: usize, seed: u64) -> Self {
        SearchConfig {
            car,
            runs_per_plan: 300,
            window_runs: default_window_runs(),
            seed,
            max_stops: 3,
            lap_step: 2,
            min_stint_laps: 5,
            finalists_per_stop_count: 6,
            objective: Objective::Position,
            max_stint_laps: Vec::new(),
        }
    }

    /// The races a pit-window lap is run on: `window_runs` (0: all), at most `runs_per_plan`.
    pub fn window_races(&self) -> u32 {
        let runs = self.runs_per_plan.max(1);
        match self.window_runs {
            0 => runs,
            n => n.min(runs),
        }
    }

    /// These settings with a window lap's runs per plan.
    pub fn for_window(&self) -> SearchConfig {
        SearchConfig {
            runs_per_plan: self.window_races(),
            ..self.clone()
        }
    }
}

/// 500 races per window lap: paired on the same races, the difference between two in-laps a few laps apart has a
/// standard deviation of 0.9–2.5 positions a race (Canada 2019, HAM; 4.8 for one plan's position alone), so 500
/// races measure it to 0.04–0.11 positions, inside the window's 0.15 tolerance.
fn default_window_runs() -> u32 {
    500
}

/// One evaluated plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanResult {
    /// The plan.
    pub plan: Plan,
    /// `M-27-H`.
    pub label: String,
    /// Stops.
    pub stops: usize,
    /// Race time on a free track (no traffic, no randomness), seconds.
    pub free_track_s: f64,
    /// Expected finishing position.
    pub mean_position: f64,
    /// Standard deviation of the finishing position: the plan's risk.
    pub position_sd: f64,
    /// Chance of winning.
    pub p_win: f64,
    /// Chance of a podium.
    pub p_podium: f64,
    /// Chance of scoring points (classified in the top 10). Absent in older JSON: 0.
    #[serde(default)]
    pub p_points: f64,
    /// Expected points.
    pub expected_points: f64,
    /// Chance of not finishing.
    pub p_dnf: f64,
    /// Finishing-position distribution.
    pub position_probability: Vec<f64>,
    /// Expected finishing position over the first [`SearchConfig::window_races`] races alone.
    pub window_mean_position: f64,
    /// Expected points over the same races.
    pub window_expected_points: f64,
    /// What went wrong in its Monte Carlo without stopping it (races dropped for a non-finite time).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The optimal pit window for the next stop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PitWindow {
    /// Earliest in-lap within tolerance of the best.
    pub earliest_lap: u32,
    /// Latest in-lap within tolerance of the best.
    pub latest_lap: u32,
    /// The best in-lap.
    pub best_lap: u32,
    /// Compound to fit.
    pub compound: Compound,
    /// The tolerance, in the objective's units (positions or points).
    pub tolerance: f64,
    /// The races each lap was compared on, the first of every plan's ([`SearchConfig::window_races`]).
    pub races: u32,
}

/// The search's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchReport {
    /// The car.
    pub car: usize,
    /// Its code.
    pub code: String,
    /// What the plans were ranked by.
    pub objective: Objective,
    /// Runs per plan.
    pub runs_per_plan: u32,
    /// Seed.
    pub seed: u64,
    /// Legal plans enumerated and screened.
    pub plans_screened: usize,
    /// Evaluated plans, best first.
    pub ranked: Vec<PlanResult>,
    /// The next stop's window for the best plan.
    pub window: Option<PitWindow>,
    /// The car's current plan, evaluated the same way, for comparison.
    pub current: Option<PlanResult>,
    /// What went wrong without stopping the search.
    pub warnings: Vec<String>,
}

/// The plans a search runs through the Monte Carlo, from the free-track screen: the first phase of [`search`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shortlist {
    /// Legal plans enumerated and screened.
    pub plans_screened: usize,
    /// The best few of each stop count on a free track, in stop-count order, fastest first.
    pub finalists: Vec<Plan>,
    /// The car's current plan, when it can be timed on a free track.
    pub current: Option<Plan>,
    /// What went wrong without stopping the search.
    pub warnings: Vec<String>,
}

/// Searches the best strategy for `config.car` with the rivals on `plans`, from the grid or from `start`.
///
/// The phases — [`shortlist`], [`evaluate_plans`] for the finalists and the current plan, [`rank`], then a
/// [`WindowScan`] with its laps through [`evaluate_plan`] on [`SearchConfig::for_window`] — are public so that the
/// evaluations can be spread over workers: each plan's result is its own Monte Carlo on the shared seed, whatever
/// plans it was evaluated with, so any split gives this function's report exactly.
pub fn search(
    model: &RaceModel,
    plans: &[Plan],
    start: Option<&RaceStart>,
    config: &SearchConfig,
) -> Result<SearchReport, SimError> {
    let list = shortlist(model, plans, start, config)?;
    let code = model
        .drivers
        .get(config.car)
        .ok_or(SimError::NoSuchCar(config.car))?
        .code
        .clone();
    // The finalists and the current plan in one batch: their races share the laps before each one's first stop.
    let batch: Vec<Plan> = list
        .finalists
        .iter()
        .chain(&list.current)
        .cloned()
        .collect();
    let mut finalists = evaluate_plans(model, plans, start, config, &batch);
    let current = list.current.as_ref().and_then(|_| finalists.pop());
    let mut report = rank(config, &code, list, finalists, current);
    let completed = start.map_or(0, |s| s.completed_laps);
    if let Some(mut scan) = WindowScan::new(config, model.total_laps, completed, &report) {
        loop {
            let pending = scan.pending(1);
            if pending.is_empty() {
                break;
            }
            let window = config.for_window();
            let results: Vec<_> = pending
                .iter()
                .map(|p| evaluate_plan(model, plans, start, &window, &p.plan))
                .collect();
            scan.feed(&pending, results);
        }
        report.window = Some(scan.finish(&mut report.warnings));
    }
    Ok(report)
}

/// The search's first phase: every legal plan screened on a free track, the best few of each stop count kept.
pub fn shortlist(
    model: &RaceModel,
    plans: &[Plan],
    start: Option<&RaceStart>,
    config: &SearchConfig,
) -> Result<Shortlist, SimError> {
    let car = config.car;
    let driver = model.drivers.get(car).ok_or(SimError::NoSuchCar(car))?;
    // Before the plans are listed: their number grows with the cube of the distance.
    if model.total_laps > MAX_RACE_LAPS {
        return Err(SimError::TooManyLaps(model.total_laps));
    }
    let mut warnings = Vec::new();
    let candidates = enumerate(model, plans, start, config);
    let plans_screened = candidates.len();
    if candidates.is_empty() {
        warnings.push(format!(
            "no legal plan for {} with these settings",
            driver.code
        ));
    }
    let mut screened: Vec<(f64, Plan)> = candidates
        .into_iter()
        .filter_map(|p| free_track_s(model, car, &p, start).map(|t| (t, p)))
        .collect();
    screened.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then_with(|| a.1.label().cmp(&b.1.label()))
    });
    let mut finalists = Vec::new();
    for stops in 1..=config.most_stops() {
        finalists.extend(
            screened
                .iter()
                .filter(|(_, p)| p.stops.len() == stops)
                .take(config.finalists_per_stop_count)
                .map(|(_, p)| p.clone()),
        );
    }
    let current = plans
        .get(car)
        .filter(|p| free_track_s(model, car, p, start).is_some())
        .cloned();
    Ok(Shortlist {
        plans_screened,
        finalists,
        current,
        warnings,
    })
}

/// Runs the Monte Carlo with `plan` for the searched car: one plan's evaluation, independent of every other.
pub fn evaluate_plan(
    model: &RaceModel,
    plans: &[Plan],
    start: Option<&RaceStart>,
    config: &SearchConfig,
    plan: &Plan,
) -> Result<PlanResult, SimError> {
    let mut results = evaluate_plans(model, plans, start, config, std::slice::from_ref(plan));
    // One result per candidate: never empty.
    results.pop().unwrap_or(Err(SimError::NoDrivers))
}

/// [`evaluate_plan`] for each of `candidates`, with the same results, their races run together: every plan meets
/// the same races (one random stream per race), so the laps before a plan's first stop are run once for all the
/// plans that start alike ([`monte_carlo::run_plans`]).
pub fn evaluate_plans(
    model: &RaceModel,
    plans: &[Plan],
    start: Option<&RaceStart>,
    config: &SearchConfig,
    candidates: &[Plan],
) -> Vec<Result<PlanResult, SimError>> {
    let car = config.car;
    if car >= model.drivers.len() {
        return candidates
            .iter()
            .map(|_| Err(SimError::NoSuchCar(car)))
            .collect();
    }
    let prepared: Vec<Result<Prepared, SimError>> = candidates
        .iter()
        .map(|plan| {
            let mut plans = plans.to_vec();
            if let Some(p) = plans.get_mut(car) {
                *p = plan.clone();
            }
            Prepared::new(model, &plans, start)
        })
        .collect();
    let ready: Vec<Prepared> = prepared
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .cloned()
        .collect();
    let mc = McConfig {
        runs: config.runs_per_plan,
        seed: config.seed,
        deterministic: false,
    };
    // The window's races first, the rest after: merged in that order, the tally of all of them is the one the
    // races run in order give.
    let head = u64::from(config.window_races().min(mc.runs));
    let window = monte_carlo::run_plans(&ready, car, mc.seed, 0..head);
    let rest = monte_carlo::run_plans(&ready, car, mc.seed, head..u64::from(mc.runs));
    let mut reports = window.iter().zip(&rest).map(|(window, rest)| {
        let mut all = window.clone();
        all.merge(rest);
        let head = McConfig {
            runs: window.runs,
            ..mc
        };
        (
            monte_carlo::report(model, &all, &mc),
            monte_carlo::report(model, window, &head),
        )
    });
    candidates
        .iter()
        .zip(prepared)
        .map(|(plan, prepared)| {
            prepared?;
            let (all, window) = reports.next().ok_or(SimError::NoDrivers)?;
            // A plan whose every race was dropped would rank first with a mean position of 0.
            if all.runs == 0 {
                let why = if all.warnings.is_empty() {
                    format!("{} runs asked for", config.runs_per_plan)
                } else {
                    all.warnings.join("; ")
                };
                return Err(SimError::NoValidRun(why));
            }
            let free = free_track_s(model, car, plan, start).unwrap_or(f64::NAN);
            // No valid race among the window's: its figures are the whole run's rather than zeros.
            let window = if window.runs == 0 { &all } else { &window };
            Ok(result(plan.clone(), free, car, &all, window))
        })
        .collect()
}

/// The search's report from its evaluations (`finalists` in the shortlist's order) for the car called `code`: the
/// plans ranked by the objective, then by risk, then by label; the window is not scanned yet.
pub fn rank<E: std::fmt::Display>(
    config: &SearchConfig,
    code: &str,
    list: Shortlist,
    finalists: Vec<Result<PlanResult, E>>,
    current: Option<Result<PlanResult, E>>,
) -> SearchReport {
    debug_assert_eq!(
        list.finalists.len(),
        finalists.len(),
        "a result per finalist"
    );
    let mut warnings = list.warnings;
    let mut ranked = Vec::new();
    for (plan, r) in list.finalists.iter().zip(finalists) {
        match r {
            Ok(r) => {
                warnings.extend(r.warnings.iter().map(|w| format!("{}: {w}", r.label)));
                ranked.push(r);
            }
            Err(e) => warnings.push(format!("{}: {e}", plan.label())),
        }
    }
    let current = current.and_then(Result::ok);
    if let Some(r) = &current {
        warnings.extend(
            r.warnings
                .iter()
                .map(|w| format!("current plan {}: {w}", r.label)),
        );
    }
    let key = |r: &PlanResult| score(config.objective, r);
    ranked.sort_by(|a, b| {
        key(a)
            .total_cmp(&key(b))
            .then(a.position_sd.total_cmp(&b.position_sd))
            .then_with(|| a.label.cmp(&b.label))
    });
    SearchReport {
        car: config.car,
        code: code.to_owned(),
        objective: config.objective,
        runs_per_plan: config.runs_per_plan,
        seed: config.seed,
        plans_screened: list.plans_screened,
        ranked,
        window: None,
        current,
        warnings,
    }
}

/// Lower is better: the expected position, or minus the expected points.
fn score(objective: Objective, r: &PlanResult) -> f64 {
    match objective {
        Objective::Position => r.mean_position,
        Objective::Points => -r.expected_points,
    }
}

/// [`score`] over the window's races ([`SearchConfig::window_races`]).
fn window_score(objective: Objective, r: &PlanResult) -> f64 {
    match objective {
        Objective::Position => r.window_mean_position,
        Objective::Points => -r.window_expected_points,
    }
}

fn result(
    plan: Plan,
    free_track_s: f64,
    car: usize,
    r: &McReport,
    window: &McReport,
) -> PlanResult {
    let d = &r.drivers[car];
    let w = &window.drivers[car];
    let var: f64 = d
        .position_probability
        .iter()
        .enumerate()
        .map(|(p, q)| q * ((p + 1) as f64 - d.mean_position).powi(2))
        .sum();
    PlanResult {
        label: plan.label(),
        stops: plan.stops.len(),
        plan,
        free_track_s,
        mean_position: d.mean_position,
        position_sd: var.sqrt(),
        p_win: d.p_win,
        p_podium: d.p_podium,
        p_points: d.p_points,
        expected_points: d.expected_points,
        p_dnf: d.p_dnf,
        position_probability: d.position_probability.clone(),
        window_mean_position: w.mean_position,
        window_expected_points: w.expected_points,
        warnings: r.warnings.clone(),
    }
}

/// The pit window's scan, the search's last phase: the best plan's next in-lap moved a lap at a time before and
/// after it, each direction kept while the expectation stays within a tolerance of the best (0.15 positions, or
/// 0.5 points) and closed at the first lap that is not. Each lap is run on the first
/// [`SearchConfig::window_races`] races ([`SearchConfig::for_window`]) and compared with the best plan's and the
/// finalists' expectations over the same races.
///
/// [`WindowScan::pending`] lists the next laps to evaluate, as many as there are workers, from both directions
/// while both are open, so that they can be evaluated at once; [`WindowScan::feed`] takes their results in that
/// order and ignores those beyond a direction's close, so the window is the same whatever the batch width. It
/// serializes, so that the scan can be carried between workers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowScan {
    base: Plan,
    /// Index in `base.stops` of the next stop.
    next: usize,
    best_lap: u32,
    compound: Compound,
    /// The laps the scan may reach, inclusive.
    lo: u32,
    hi: u32,
    objective: Objective,
    tolerance: f64,
    /// The races the laps are compared on.
    races: u32,
    best_score: f64,
    /// In-laps whose plan the search has evaluated already (a finalist), with its score over the window's races:
    /// the same plan on the same races gives the same result, so the scan takes it instead of running it again.
    known: Vec<(u32, f64)>,
    /// Before the best lap, then after it.
    dirs: [Direction; 2],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Direction {
    /// The last lap evaluated inside the window (the best lap at first).
    reached: u32,
    open: bool,
    inside: Vec<u32>,
    warning: Option<String>,
}

/// A lap the window scan wants evaluated: the best plan with its next stop on `lap`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowCandidate {
    /// The in-lap tried.
    pub lap: u32,
    /// The plan to evaluate ([`evaluate_plan`] on [`SearchConfig::for_window`]).
    pub plan: Plan,
}

impl WindowScan {
    /// The scan around `report`'s best plan, `None` when it has none or no stop still to come. A race of
    /// `total_laps` with `completed_laps` done.
    pub fn new(
        config: &SearchConfig,
        total_laps: u32,
        completed_laps: u32,
        report: &SearchReport,
    ) -> Option<Self> {
        let best = report.ranked.first()?;
        // The next stop: mid-race, the plan's first stops may be made already.
        let next = best
            .plan
            .stops
            .iter()
            .position(|s| s.lap > completed_laps)?;
        let first = best.plan.stops[next];
        let until = best.plan.stops.get(next + 1).map_or(total_laps, |s| s.lap);
        let tolerance = match config.objective {
            Objective::Position => 0.15,
            Objective::Points => 0.5,
        };
        let direction = Direction {
            reached: first.lap,
            open: true,
            inside: Vec::new(),
            warning: None,
        };
        let known = report
            .ranked
            .iter()
            .filter_map(|r| {
                let lap = r.plan.stops.get(next)?.lap;
                let mut moved = best.plan.clone();
                moved.stops[next].lap = lap;
                (moved == r.plan && lap != first.lap)
                    .then(|| (lap, window_score(config.objective, r)))
            })
            .collect();
        let mut scan = WindowScan {
            base: best.plan.clone(),
            next,
            best_lap: first.lap,
            compound: first.compound,
            lo: (completed_laps + 1).max(1),
            hi: until
                .saturating_sub(config.min_stint_laps.min(3))
                .min(total_laps.saturating_sub(1)),
            objective: config.objective,
            tolerance,
            races: config.window_races(),
            best_score: window_score(config.objective, best),
            known,
            dirs: [direction.clone(), direction],
        };
        scan.take_known();
        Some(scan)
    }

    /// The next lap of direction `d` (0: earlier, 1: later) `k` laps beyond its last lap inside, if the scan may
    /// reach it.
    fn lap(&self, d: usize, k: u32) -> Option<u32> {
        let reached = self.dirs[d].reached;
        let lap = if d == 0 {
            reached.checked_sub(k)
        } else {
            reached.checked_add(k)
        };
        lap.filter(|l| (self.lo..=self.hi).contains(l))
    }

    /// Moves each open direction over the laps already known, then closes those that cannot go further.
    fn take_known(&mut self) {
        for d in 0..2 {
            while self.dirs[d].open {
                let Some(lap) = self.lap(d, 1) else {
                    self.dirs[d].open = false;
                    break;
                };
                let Some(&(_, score)) = self.known.iter().find(|(l, _)| *l == lap) else {
                    break;
                };
                let inside = score <= self.best_score + self.tolerance;
                let dir = &mut self.dirs[d];
                if inside {
                    dir.inside.push(lap);
                    dir.reached = lap;
                } else {
                    dir.open = false;
                }
            }
        }
    }

    /// The next laps to evaluate, at most `width` (at least one): beyond the last lap inside the window, nearest
    /// first, taken in turn from each open direction (earlier laps' first), so that a closed direction leaves the
    /// whole width to the other. Empty when the scan is over.
    pub fn pending(&self, width: usize) -> Vec<WindowCandidate> {
        let mut out = Vec::new();
        let mut next = [1u32; 2];
        loop {
            let before = out.len();
            for (d, k) in next.iter_mut().enumerate() {
                if !self.dirs[d].open || out.len() >= width.max(1) {
                    continue;
                }
                // Known laps are not evaluated again: `feed` takes them on the way. One outside the tolerance
                // closes the direction there: nothing beyond it is asked for.
                while let Some(lap) = self.lap(d, *k) {
                    *k += 1;
                    match self.known.iter().find(|(l, _)| *l == lap) {
                        None => {
                            let mut plan = self.base.clone();
                            plan.stops[self.next].lap = lap;
                            out.push(WindowCandidate { lap, plan });
                            break;
                        }
                        Some(&(_, score)) if score > self.best_score + self.tolerance => {
                            *k = u32::MAX;
                            break;
                        }
                        Some(_) => {}
                    }
                }
            }
            if out.len() == before {
                break;
            }
        }
        out
    }

    /// Takes the results of `pending`'s candidates, in its order.
    pub fn feed<E: std::fmt::Display>(
        &mut self,
        pending: &[WindowCandidate],
        results: Vec<Result<PlanResult, E>>,
    ) {
        for (candidate, result) in pending.iter().zip(results) {
            let lap = candidate.lap;
            let d = usize::from(lap > self.best_lap);
            // Past a direction's close, or not the next lap of it (a stale batch): not part of the window.
            if !self.dirs[d].open || self.lap(d, 1) != Some(lap) {
                continue;
            }
            let dir = &mut self.dirs[d];
            match result {
                Ok(r) => {
                    if let Some(w) = r.warnings.first()
                        && dir.warning.is_none()
                    {
                        dir.warning = Some(format!("window at lap {lap}: {w}"));
                    }
                    if window_score(self.objective, &r) <= self.best_score + self.tolerance {
                        dir.inside.push(lap);
                        dir.reached = lap;
                    } else {
                        dir.open = false;
                    }
                }
                Err(e) => {
                    dir.warning = Some(format!("window at lap {lap}: {e}"));
                    dir.open = false;
                }
            }
            self.take_known();
        }
        self.take_known();
    }

    /// The window; the scan's warnings (earlier laps' direction first) go to `warnings`.
    pub fn finish(self, warnings: &mut Vec<String>) -> PitWindow {
        let laps = || self.dirs.iter().flat_map(|d| d.inside.iter().copied());
        warnings.extend(self.dirs.iter().filter_map(|d| d.warning.clone()));
        PitWindow {
            earliest_lap: laps().min().unwrap_or(self.best_lap).min(self.best_lap),
            latest_lap: laps().max().unwrap_or(self.best_lap).max(self.best_lap),
            best_lap: self.best_lap,
            compound: self.compound,
            tolerance: self.tolerance,
            races: self.races,
        }
    }
}

/// Every legal plan for `config.car`: from the grid, any start compound; mid-race, the fitted set with the stops
/// still to come. Two different dry compounds over the whole race (counting the sets already used).
fn enumerate(
    model: &RaceModel,
    plans: &[Plan],
    start: Option<&RaceStart>,
    config: &SearchConfig,
) -> Vec<Plan> {
    let car = config.car;
    let Some(driver) = model.drivers.get(car) else {
        return Vec::new();
    };
    let compounds: Vec<Compound> = model
        .dry_compounds
        .iter()
        .copied()
        .filter(|c| driver.tyres.of(*c).is_some())
        .collect();
    let completed = start.map_or(0, |s| s.completed_laps);
    let current = plans.get(car).cloned().unwrap_or_default();
    // Stops already made stay; the compounds used so far count for the rule.
    let done: Vec<PlannedStop> = current
        .stops
        .iter()
        .filter(|s| s.lap <= completed)
        .copied()
        .collect();
    let starts: Vec<(Compound, u32)> = match start {
        Some(st) => st
            .cars
            .get(car)
            .map(|c| vec![(current.start.unwrap_or(c.compound), current.start_age_laps)])
            .unwrap_or_default(),
        None => compounds
            .iter()
            .map(|c| (*c, driver.plan.start_age_laps))
            .collect(),
    };
    let fitted = start.and_then(|st| st.cars.get(car)).map(|c| c.compound);
    let caps = tyre_caps(model.total_laps, config, &current, completed);
    let first_lap = completed.max(config.min_stint_laps.saturating_sub(1)) + 1;
    let last_lap = model.total_laps.saturating_sub(config.min_stint_laps);
    let step = config.lap_step.max(1);
    let grid: Vec<u32> = (first_lap..=last_lap).step_by(step as usize).collect();
    let mut out = Vec::new();
    let max_new = config.most_stops();
    for (start_compound, start_age) in starts {
        let used: Vec<Compound> = std::iter::once(start_compound)
            .chain(done.iter().map(|s| s.compound))
            .chain(fitted)
            .collect();
        let wet_used = used.iter().any(|c| !c.is_dry());
        for new in 0..=max_new {
            let total_stops = done.len() + new;
            if total_stops == 0 || total_stops > max_new {
                continue;
            }
            let mut laps = Vec::with_capacity(new);
            let mut seqs = Vec::with_capacity(new);
            lap_combinations(
                &grid,
                new,
                config.min_stint_laps,
                completed,
                &mut laps,
                &mut |laps| {
                    compound_sequences(&compounds, new, &mut seqs, &mut |seq| {
                        let all_dry: Vec<Compound> = used
                            .iter()
                            .chain(seq.iter())
                            .copied()
                            .filter(|c| c.is_dry())
                            .collect();
                        // Two dry compounds, unless the car has run on intermediates or wets (the rule is lifted).
                        if !wet_used && !all_dry.iter().any(|c| *c != all_dry[0]) {
                            return;
                        }
                        let mut stops = done.clone();
                        stops.extend(laps.iter().zip(seq).map(|(&lap, &compound)| PlannedStop {
                            lap,
                            compound,
                            age_laps: 0,
                        }));
                        let plan = Plan {
                            start: Some(start_compound),
                            start_age_laps: start_age,
                            stops,
                        };
                        if within_tyre_life(&plan, model.total_laps, &caps) {
                            out.push(plan);
                        }
                    });
                },
            );
        }
    }
    out
}

/// The longest stint, as a share of the distance, that any of the 13 races in `shared/data/races` saw on a soft
/// (Monaco 2019: 0.64) and on a medium (Monaco 2019: 0.86); hards have run whole races (Silverstone 2019).
const DEFAULT_MAX_STINT_SHARE: [(Compound, f64); 2] =
    [(Compound::Soft, 0.64), (Compound::Medium, 0.86)];

/// The stint caps a search keeps to: the config's, else the defaults of [`DEFAULT_MAX_STINT_SHARE`]. The
/// degradation fits have no cliff, and a live fit on a few short stints can make a set look good for the whole race:
/// without a cap the search would run a soft to the flag. A default cap is never below what the car has run on the
/// compound already, plus a stint, so a car past it can still stop.
fn tyre_caps(
    total_laps: u32,
    config: &SearchConfig,
    current: &Plan,
    completed: u32,
) -> Vec<(Compound, u32)> {
    if !config.max_stint_laps.is_empty() {
        return config.max_stint_laps.clone();
    }
    DEFAULT_MAX_STINT_SHARE
        .iter()
        .map(|&(compound, share)| {
            let run = current
                .stints(completed)
                .filter(|(c, _)| *c == compound)
                .map(|(_, laps)| laps)
                .max()
                .unwrap_or(0);
            let cap = libm::ceil(share * f64::from(total_laps)) as u32;
            let reachable = run
                .saturating_add(config.min_stint_laps)
                .saturating_add(config.lap_step.max(1));
            (compound, cap.max(reachable))
        })
        .collect()
}

/// Every stint of `plan` (to the flag at `total_laps`) is within its compound's cap in `caps`.
fn within_tyre_life(plan: &Plan, total_laps: u32, caps: &[(Compound, u32)]) -> bool {
    plan.stints(total_laps).all(|(compound, laps)| {
        caps.iter()
            .find(|(c, _)| *c == compound)
            .is_none_or(|&(_, cap)| laps <= cap)
    })
}

/// Calls `f` with every increasing choice of `k` laps from `grid`, stints at least `min_stint` laps apart, the
/// first at least `min_stint` laps after `completed` when the race is under way (else any grid lap).
fn lap_combinations(
    grid: &[u32],
    k: usize,
    min_stint: u32,
    completed: u32,
    acc: &mut Vec<u32>,
    f: &mut dyn FnMut(&[u32]),
) {
    if acc.len() == k {
        f(acc);
        return;
    }
    let after = acc.last().map_or(completed, |l| l + min_stint - 1);
    for &lap in grid {
        if lap <= after || (acc.is_empty() && lap <= completed) {
            continue;
        }
        acc.push(lap);
        lap_combinations(grid, k, min_stint, completed, acc, f);
        acc.pop();
    }
}

fn compound_sequences(
    compounds: &[Compound],
    k: usize,
    acc: &mut Vec<Compound>,
    f: &mut dyn FnMut(&[Compound]),
) {
    if acc.len() == k {
        f(acc);
        return;
    }
    for &c in compounds {
        acc.push(c);
        compound_sequences(compounds, k, acc, f);
        acc.pop();
    }
}

/// Race time of `plan` for `car` alone on the track, with no randomness (the rest of the race from `start`).
pub fn free_track_s(
    model: &RaceModel,
    car: usize,
    plan: &Plan,
    start: Option<&RaceStart>,
) -> Option<f64> {
    let d = model.drivers.get(car)?;
    let t = &model.timing;
    let completed = start.map_or(0, |s| s.completed_laps);
    let (mut deg, mut age, mut fuel) = match start.and_then(|s| s.cars.get(car)) {
        Some(c) => (d.tyres.of(c.compound)?.deg, c.tyre_age_laps, c.fuel_kg),
        None => (
            d.tyres.of(plan.start?)?.deg,
            f64::from(plan.start_age_laps),
            d.fuel.start_kg,
        ),
    };
    let mut total = 0.0;
    let mut stops = plan.stops.iter().filter(|s| s.lap > completed).peekable();
    let pit = t.pit.green_s() + t.tyre_change_min_s + d.pit_crew_extra_s + d.tyres.cold_tyre_s;
    for lap in completed + 1..=model.total_laps {
        total += t.base_lap_s + d.pace_offset_s + fuel * t.fuel_s_per_kg + deg.loss_s(age);
        fuel = (fuel - d.fuel.burn_kg_per_lap).max(0.0);
        age += 1.0;
        if let Some(stop) = stops.next_if(|s| s.lap == lap) {
            total += pit;
            deg = d.tyres.of(stop.compound)?.deg;
            age = f64::from(stop.age_laps);
        }
    }
    Some(total)
}

/// A what-if: force plans and inject neutralisations, then compare with the base case on the same seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WhatIf {
    /// Plans forced on cars: `(car index, plan)`.
    pub plans: Vec<(usize, Plan)>,
    /// SC/VSC phases assumed to happen (random neutralisations are then off: the injected ones are the story).
    pub fcy: Vec<FcyPhase>,
}

/// Base case and what-if, on the same seed, and per-driver deltas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhatIfReport {
    /// The base case.
    pub base: McReport,
    /// With the what-if applied.
    pub what_if: McReport,
    /// Per driver: change of the mean position (negative = better).
    pub mean_position_delta: Vec<f64>,
    /// Per driver: change of expected points.
    pub expected_points_delta: Vec<f64>,
}

/// Runs the base case and `what_if` with the same seed.
pub fn what_if(
    model: &RaceModel,
    plans: &[Plan],
    start: Option<&RaceStart>,
    what_if: &WhatIf,
    config: &McConfig,
) -> Result<WhatIfReport, SimError> {
    // Fixed SC/VSC phases replace the random ones (and the accidents behind them). With a phase injected, the base
    // case runs on the fixed phases too (none, if the model has none), so that the two differ by the phase alone:
    // not also by every random SC the base case drew, and on the same draws.
    let mut base_model = model.clone();
    let mut changed_model = model.clone();
    if !what_if.fcy.is_empty() {
        let fixed = model.fixed.fcy.clone().unwrap_or_default();
        base_model.fixed.fcy = Some(fixed.clone());
        let mut fcy = fixed;
        fcy.extend(what_if.fcy.iter().copied());
        changed_model.fixed.fcy = Some(fcy);
    }
    let base = monte_carlo::report(
        &base_model,
        &monte_carlo::run_all(&Prepared::new(&base_model, plans, start)?, config),
        config,
    );
    let mut changed_plans = plans.to_vec();
    for (car, plan) in &what_if.plans {
        if let Some(p) = changed_plans.get_mut(*car) {
            *p = plan.clone();
        }
    }
    let prepared = Prepared::new(&changed_model, &changed_plans, start)?;
    let changed = monte_carlo::report(
        &changed_model,
        &monte_carlo::run_all(&prepared, config),
        config,
    );
    let mean_position_delta = base
        .drivers
        .iter()
        .zip(&changed.drivers)
        .map(|(a, b)| b.mean_position - a.mean_position)
        .collect();
    let expected_points_delta = base
        .drivers
        .iter()
        .zip(&changed.drivers)
        .map(|(a, b)| b.expected_points - a.expected_points)
        .collect();
    Ok(WhatIfReport {
        base,
        what_if: changed,
        mean_position_delta,
        expected_points_delta,
    })
}

/// The chance that pitting on the next lap beats the car ahead, and that it covers the car behind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UndercutReport {
    /// The car.
    pub car: usize,
    /// The in-lap tested (the next lap).
    pub lap: u32,
    /// Against the car ahead: chance to finish ahead of it when pitting now, and when staying on plan.
    pub ahead: Option<Duel>,
    /// Against the car behind, which pits now: chance to stay ahead when covering (pitting now too), and when
    /// staying on plan.
    pub behind: Option<Duel>,
}

/// One pairing's chances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Duel {
    /// The other car.
    pub rival: usize,
    /// Its code.
    pub code: String,
    /// Chance of finishing ahead of it if the car pits now.
    pub p_ahead_if_pit: f64,
    /// Chance of finishing ahead of it on the current plan.
    pub p_ahead_if_stay: f64,
}

/// `plan` with its next stop brought forward to `lap` (with `compound`), after `completed` laps: the stops made
/// stay, and so do the planned ones after `lap` (a two-stopper pitting early still makes its second stop).
pub(crate) fn pitting_on(plan: &Plan, completed: u32, lap: u32, compound: Compound) -> Plan {
    let made = plan.stops.iter().filter(|s| s.lap <= completed);
    let later = plan
        .stops
        .iter()
        .filter(|s| s.lap > completed)
        .skip(1)
        .filter(|s| s.lap > lap);
    let now = PlannedStop {
        lap,
        compound,
        age_laps: 0,
    };
    Plan {
        stops: made
            .copied()
            .chain(std::iter::once(now))
            .chain(later.copied())
            .collect(),
        ..plan.clone()
    }
}

/// Undercut and cover chances for `car` from the live `start` (at least one lap must remain after the next).
pub fn undercut(
    model: &RaceModel,
    plans: &[Plan],
    start: &RaceStart,
    car: usize,
    config: &McConfig,
) -> Result<UndercutReport, SimError> {
    let n = model.drivers.len();
    if car >= n {
        return Err(SimError::NoSuchCar(car));
    }
    if plans.len() != n {
        return Err(SimError::PlanCount {
            plans: plans.len(),
            drivers: n,
        });
    }
    if start.cars.len() != n {
        return Err(SimError::BadStart(format!(
            "{} cars for {n} drivers",
            start.cars.len()
        )));
    }
    let lap = start.completed_laps + 1;
    let order = start.running_order();
    let pos = order.iter().position(|&c| c == car);
    let ahead = pos.and_then(|p| p.checked_sub(1)).map(|p| order[p]);
    let behind = pos.and_then(|p| order.get(p + 1).copied());
    let pit_now =
        |plan: &Plan, compound: Compound| pitting_on(plan, start.completed_laps, lap, compound);
    // The compound after the stop: the plan's next one, or a different dry compound than the fitted set.
    let next_compound = |c: usize| -> Compound {
        let fitted = start.cars[c].compound;
        plans[c]
            .stops
            .iter()
            .find(|s| s.lap > start.completed_laps)
            .map(|s| s.compound)
            .or_else(|| {
                model
                    .dry_compounds
                    .iter()
                    .copied()
                    .rev()
                    .find(|x| *x != fitted)
            })
            .unwrap_or(fitted)
    };
    let share_ahead = |plans: &[Plan], rival: usize| -> Result<f64, SimError> {
        // Finishing ahead needs both cars' positions in the same run, which a tally does not keep.
        let prepared = Prepared::new(model, plans, Some(start))?;
        Ok(pairwise_ahead(&prepared, config, car, rival))
    };
    let duel = |rival: usize, rival_pits: bool| -> Result<Duel, SimError> {
        let mut base = plans.to_vec();
        if rival_pits {
            base[rival] = pit_now(&plans[rival], next_compound(rival));
        }
        let mut pit = base.clone();
        pit[car] = pit_now(&plans[car], next_compound(car));
        Ok(Duel {
            rival,
            code: model.drivers[rival].code.clone(),
            p_ahead_if_pit: share_ahead(&pit, rival)?,
            p_ahead_if_stay: share_ahead(&base, rival)?,
        })
    };
    if lap >= model.total_laps {
        return Err(SimError::BadStart("no lap left to pit on".to_owned()));
    }
    Ok(UndercutReport {
        car,
        lap,
        ahead: ahead.map(|a| duel(a, false)).transpose()?,
        behind: behind.map(|b| duel(b, true)).transpose()?,
    })
}

/// Share of runs in which `car` finishes ahead of `rival`.
fn pairwise_ahead(prepared: &Prepared, config: &McConfig, car: usize, rival: usize) -> f64 {
    let mut runner = Runner::new(prepared);
    let (mut ahead, mut runs) = (0u32, 0u32);
    if config.deterministic {
        let o = runner.run(None);
        return f64::from(u8::from(o.position[car] < o.position[rival]));
    }
    for race in 0..u64::from(config.runs) {
        let o = runner.run(Some(&mut Stream::for_race(config.seed, race)));
        runs += 1;
        ahead += u32::from(o.position[car] < o.position[rival]);
    }
    f64::from(ahead) / f64::from(runs.max(1))
}
