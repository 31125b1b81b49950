//! The strategy desk as data: its inputs, the jobs it sends to the workers, when it re-runs, and what the screen
//! shows of the answers (ranked plans with their finishing-position histograms, the pit window, undercut and cover
//! chances, a what-if against the baseline, the status line).
//!
//! Everything here is pure and tested natively; the desk component (`desk.rs`) only wires it to signals and to the
//! worker pool.

use boxbox_engine::strategy::model::{FcyKind, FcyPhase, Plan, PlannedStop};
use boxbox_engine::strategy::monte_carlo::{self, McConfig, McReport};
use boxbox_engine::strategy::search::{
    Objective, PitWindow, PlanResult, SearchConfig, SearchReport, UndercutReport, WhatIf,
    WhatIfReport,
};
use boxbox_engine::wire::Compound;

use super::{chance, compound_class};
use crate::schedule::Refresh;
pub use crate::worker_protocol::{DeskInputs, PageInputs};
use crate::worker_protocol::{Job, McChunks, Opaque, split_chunks};

/// Seed of every desk job: the same seed on every refresh (common random numbers), so a change in the answer is
/// a change in the race, not in the dice.
pub const SEED: u64 = 1;

/// Races in the baseline Monte Carlo (the current plans), split over the workers.
pub const BASELINE_RUNS: u32 = 2_000;

/// Races per evaluated plan in the search.
pub const SEARCH_RUNS_PER_PLAN: u32 = 300;

/// Races for each side of the undercut and cover duels.
pub const UNDERCUT_RUNS: u32 = 500;

/// Races for the what-if (and its base case on the same seed).
pub const WHAT_IF_RUNS: u32 = 1_000;

/// Shortest time between two automatic runs, milliseconds: a burst of stops or a SC bumps the generation several
/// times in a few seconds, and a run takes about that long.
pub const MIN_RERUN_MS: f64 = 5_000.0;

/// Laps a "SC at lap N" what-if keeps the safety car out (a typical deployment is 3–5 laps).
pub const WHAT_IF_SC_LAPS: f64 = 4.0;

/// The job that turns the live session into [`DeskInputs`] (in a worker).
pub fn inputs_job(
    state: &boxbox_engine::wire::RaceState,
    records: &[boxbox_engine::wire::LapRecord],
) -> Job {
    Job::Inputs {
        state: Box::new(state.clone()),
        records: records.to_vec(),
    }
}

/// The job that reads and checks inputs pinned from outside (a [`DeskInputs`] as JSON), in a worker.
pub fn pinned_job(inputs: Opaque) -> Job {
    Job::Pinned(inputs)
}

/// The baseline Monte Carlo's jobs: [`BASELINE_RUNS`] races of the current plans, in at most `workers` blocks.
pub fn baseline_jobs(inputs: &PageInputs, workers: usize) -> Vec<Job> {
    split_chunks(&monte_carlo::chunks(BASELINE_RUNS), workers)
        .into_iter()
        .map(|chunks| {
            Job::MonteCarlo(McChunks {
                inputs: inputs.inputs.clone(),
                seed: SEED,
                chunks,
            })
        })
        .collect()
}

/// The job that merges the baseline blocks' tallies (in block order) into its report and digest.
pub fn baseline_report_job(inputs: &PageInputs, tallies: Vec<Opaque>) -> Job {
    Job::Report {
        inputs: inputs.inputs.clone(),
        tallies,
        runs: BASELINE_RUNS,
        seed: SEED,
    }
}

/// The strategy search's settings for `driver` (run over the pool by [`crate::split_search::search`]).
pub fn search_config(driver: usize) -> SearchConfig {
    SearchConfig {
        runs_per_plan: SEARCH_RUNS_PER_PLAN,
        ..SearchConfig::for_car(driver, SEED)
    }
}

/// Undercut on the car ahead and cover on the car behind, for `driver`.
pub fn undercut_job(inputs: &PageInputs, driver: usize) -> Job {
    Job::Undercut {
        inputs: inputs.inputs.clone(),
        car: driver,
        config: mc_config(UNDERCUT_RUNS),
    }
}

/// The what-if the controls describe, for `driver`.
pub fn what_if_job(inputs: &PageInputs, driver: usize, controls: &WhatIfControls) -> Job {
    Job::WhatIf {
        inputs: inputs.inputs.clone(),
        what_if: what_if(inputs, driver, controls),
        config: mc_config(WHAT_IF_RUNS),
    }
}

fn mc_config(runs: u32) -> McConfig {
    McConfig {
        runs,
        seed: SEED,
        deterministic: false,
    }
}

// --- what-if controls ---------------------------------------------------------------------------------------------

/// What the what-if controls say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WhatIfControls {
    /// The next stop's in-lap.
    pub pit_lap: u32,
    /// The compound fitted there.
    pub compound: Compound,
    /// A safety car deployed on this lap, if any.
    pub sc_lap: Option<u32>,
}

/// What the controls can be set to, and where they start.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlRange {
    /// First lap the car can still pit on (the next one).
    pub first_lap: u32,
    /// Last lap a stop makes sense on (one lap before the flag).
    pub last_lap: u32,
    /// The race's dry compounds.
    pub compounds: Vec<Compound>,
    /// Initial setting: the window's best lap and compound, else the plan's next stop, else the first lap.
    pub initial: WhatIfControls,
}

/// The controls' range for `driver`, or `None` when no lap is left to pit on.
pub fn control_range(
    inputs: &PageInputs,
    driver: usize,
    window: Option<&PitWindow>,
) -> Option<ControlRange> {
    let first_lap = inputs.completed_laps + 1;
    let last_lap = inputs.total_laps.checked_sub(1)?;
    if first_lap > last_lap {
        return None;
    }
    let compounds = inputs.dry_compounds.clone();
    let next_stop = inputs.plans.get(driver).and_then(|p| {
        p.stops
            .iter()
            .find(|s| s.lap > inputs.completed_laps)
            .copied()
    });
    let fitted = inputs.fitted.get(driver).copied();
    let (lap, compound) = match (window, next_stop) {
        (Some(w), _) => (w.best_lap, w.compound),
        (None, Some(s)) => (s.lap, s.compound),
        (None, None) => (
            first_lap,
            compounds
                .iter()
                .copied()
                .find(|c| Some(*c) != fitted)
                .or(fitted)
                .unwrap_or(Compound::Medium),
        ),
    };
    Some(ControlRange {
        first_lap,
        last_lap,
        initial: WhatIfControls {
            pit_lap: lap.clamp(first_lap, last_lap),
            compound,
            sc_lap: None,
        },
        compounds,
    })
}

/// `plan` with its next stop (the first after `completed_laps`) moved to `lap` on `compound`: stops already made
/// stay, later planned stops stay if they come after the new one, and a plan with no stop left gets one.
pub fn plan_with_stop(plan: &Plan, completed_laps: u32, lap: u32, compound: Compound) -> Plan {
    let mut out = plan.clone();
    let made: Vec<PlannedStop> = plan
        .stops
        .iter()
        .copied()
        .filter(|s| s.lap <= completed_laps)
        .collect();
    let later = plan
        .stops
        .iter()
        .copied()
        .filter(|s| s.lap > completed_laps)
        .skip(1)
        .filter(|s| s.lap > lap);
    out.stops = made;
    out.stops.push(PlannedStop {
        lap,
        compound,
        age_laps: 0,
    });
    out.stops.extend(later);
    out
}

/// The engine's what-if for the controls: the car's plan with the stop moved, and a SC from the start of lap
/// `sc_lap` for [`WHAT_IF_SC_LAPS`] laps.
pub fn what_if(inputs: &PageInputs, driver: usize, controls: &WhatIfControls) -> WhatIf {
    let plans = inputs
        .plans
        .get(driver)
        .map(|p| {
            (
                driver,
                plan_with_stop(
                    p,
                    inputs.completed_laps,
                    controls.pit_lap,
                    controls.compound,
                ),
            )
        })
        .into_iter()
        .collect();
    let fcy = controls
        .sc_lap
        .map(|lap| {
            let start = f64::from(lap.saturating_sub(1));
            FcyPhase {
                start,
                end: (start + WHAT_IF_SC_LAPS).min(f64::from(inputs.total_laps)),
                kind: FcyKind::Sc,
            }
        })
        .into_iter()
        .collect();
    WhatIf { plans, fcy }
}

/// Reads the "SC at lap" box: empty is no SC; otherwise a lap in `first..=last`.
///
/// # Errors
/// A message for the screen when the text is not a lap in range.
pub fn parse_sc_lap(text: &str, first: u32, last: u32) -> Result<Option<u32>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.trim_start_matches(['L', 'l']).parse::<u32>() {
        Ok(lap) if (first..=last).contains(&lap) => Ok(Some(lap)),
        _ => Err(format!("a lap from {first} to {last}")),
    }
}

// --- when to run --------------------------------------------------------------------------------------------------

/// What a run is for: the twins' strategy generation, the car, and the inputs pinned from outside (a serial).
pub type RunKey = (u64, u8, u64);

/// When the desk re-runs: at once for a new key (a new strategy generation or another car), but never sooner than
/// [`MIN_RERUN_MS`] after the previous run started, and never while it is still running: in a busy phase of a
/// race (a SC, a round of stops) the generation can change faster than a run takes, and abandoning every run
/// halfway would show nothing at all. While the inputs are not available, a retry at the same pace.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RerunGate {
    /// What the last run was for.
    ran: Option<RunKey>,
    /// A run is under way (poll again after [`RerunGate::finished`]).
    busy: bool,
    /// When the last run (or attempt) started, milliseconds.
    last_ms: Option<f64>,
    /// When the pending timer fires, milliseconds.
    timer_ms: Option<f64>,
}

impl RerunGate {
    /// A gate that has not run yet.
    pub fn new() -> Self {
        RerunGate::default()
    }

    /// Whether to run for `key` at `now_ms`.
    pub fn poll(&mut self, key: RunKey, now_ms: f64) -> Refresh {
        if self.ran == Some(key) || self.busy {
            return Refresh::Wait;
        }
        let due_ms = self.last_ms.map_or(now_ms, |t| t + MIN_RERUN_MS);
        if due_ms <= now_ms + 1.0 {
            self.timer_ms = None;
            return Refresh::Now;
        }
        if self.timer_ms.is_some() {
            return Refresh::Wait;
        }
        self.timer_ms = Some(due_ms);
        Refresh::After {
            delay_ms: due_ms - now_ms,
        }
    }

    /// A timer set after [`Refresh::After`] fired: poll again for the current key.
    pub fn on_timer(&mut self, key: RunKey, now_ms: f64) -> Refresh {
        self.timer_ms = None;
        self.poll(key, now_ms)
    }

    /// A run for `key` started at `now_ms`.
    pub fn started(&mut self, key: RunKey, now_ms: f64) {
        self.ran = Some(key);
        self.last_ms = Some(now_ms);
        self.busy = true;
    }

    /// The run finished (or failed): the next key may run.
    pub fn finished(&mut self) {
        self.busy = false;
    }

    /// There was nothing to run on at `now_ms`: try again after [`MIN_RERUN_MS`].
    pub fn missed(&mut self, now_ms: f64) {
        self.ran = None;
        self.last_ms = Some(now_ms);
    }
}

// --- what the screen shows ----------------------------------------------------------------------------------------

/// Where the desk is.
#[derive(Clone, Debug, PartialEq)]
pub enum DeskStatus {
    /// No live inputs yet (why).
    Waiting(String),
    /// Jobs are with the workers.
    Running {
        /// Workers in the pool.
        workers: usize,
    },
    /// The last run finished.
    Done {
        /// Wall time from queueing to the last answer, milliseconds.
        elapsed_ms: f64,
        /// Workers in the pool.
        workers: usize,
    },
    /// The last run failed.
    Error(String),
}

/// The status line's text and CSS class.
pub fn status_line(status: &DeskStatus) -> (String, &'static str) {
    match status {
        DeskStatus::Waiting(why) => (format!("waiting: {why}"), "desk-status wait"),
        DeskStatus::Running { workers } => (
            format!(
                "running on {workers} worker{}…",
                if *workers == 1 { "" } else { "s" }
            ),
            "desk-status running",
        ),
        DeskStatus::Done {
            elapsed_ms,
            workers,
        } => (
            format!(
                "done in {elapsed_ms:.0} ms on {workers} worker{}",
                if *workers == 1 { "" } else { "s" }
            ),
            "desk-status done",
        ),
        DeskStatus::Error(e) => (format!("error: {e}"), "desk-status error"),
    }
}

/// One bar of a finishing-position histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct HistBar {
    /// The position, 1-based.
    pub position: usize,
    /// Height relative to the tallest bar, `0..=100`.
    pub height_pct: f64,
    /// `P3 · 24 %`.
    pub title: String,
}

/// A finishing-position distribution as bars, scaled to its tallest.
pub fn histogram(probability: &[f64]) -> Vec<HistBar> {
    let top = probability.iter().copied().fold(0.0_f64, f64::max);
    probability
        .iter()
        .enumerate()
        .map(|(p, q)| HistBar {
            position: p + 1,
            height_pct: if top > 0.0 { 100.0 * q / top } else { 0.0 },
            title: format!("P{} · {}", p + 1, chance(*q)),
        })
        .collect()
}

/// The 5th and 95th percentile positions of a distribution (nearest rank), e.g. `(2, 7)`.
pub fn position_band(probability: &[f64]) -> Option<(usize, usize)> {
    let total: f64 = probability.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    let at = |q: f64| {
        let mut cum = 0.0;
        for (p, x) in probability.iter().enumerate() {
            cum += x / total;
            if cum >= q - 1e-12 {
                return p + 1;
            }
        }
        probability.len()
    };
    Some((at(0.05), at(0.95)))
}

/// `P3.4`.
pub fn expected_position(mean: f64) -> String {
    if mean.is_finite() && mean > 0.0 {
        format!("P{mean:.1}")
    } else {
        "—".to_owned()
    }
}

/// One ranked plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanRow {
    /// `M-27-H`.
    pub label: String,
    /// `P3.4`.
    pub expected: String,
    /// Chance of winning.
    pub win: String,
    /// Chance of a podium.
    pub podium: String,
    /// Chance of points.
    pub points: String,
    /// The 5–95 % band of the position: `P2–P6`.
    pub risk: String,
    /// To the best plan in the objective's units: `best`, `+0.4 pos`, `−3.1 pts`.
    pub delta: String,
    /// It is the car's current plan.
    pub current: bool,
    /// Its finishing positions.
    pub histogram: Vec<HistBar>,
}

/// The search's plans, best first, as rows (the current plan marked).
pub fn plan_rows(report: &SearchReport) -> Vec<PlanRow> {
    let Some(best) = report.ranked.first() else {
        return Vec::new();
    };
    let current_label = report.current.as_ref().map(|c| c.label.as_str());
    report
        .ranked
        .iter()
        .map(|r| plan_row(r, best, report.objective, current_label == Some(&r.label)))
        .collect()
}

fn plan_row(r: &PlanResult, best: &PlanResult, objective: Objective, current: bool) -> PlanRow {
    let delta = if std::ptr::eq(r, best) {
        "best".to_owned()
    } else {
        match objective {
            Objective::Position => {
                super::signed(Some(r.mean_position - best.mean_position), 1, " pos")
            }
            Objective::Points => {
                super::signed(Some(r.expected_points - best.expected_points), 1, " pts")
            }
        }
    };
    PlanRow {
        label: r.label.clone(),
        expected: expected_position(r.mean_position),
        win: chance(r.p_win),
        podium: chance(r.p_podium),
        points: chance(r.p_points),
        risk: position_band(&r.position_probability)
            .map_or_else(|| "—".to_owned(), |(a, b)| format!("P{a}–P{b}")),
        delta,
        current,
        histogram: histogram(&r.position_probability),
    }
}

/// The pit window and compound recommendation.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowView {
    /// `L23–L27`.
    pub laps: String,
    /// `best L25`.
    pub best: String,
    /// The compound's letter.
    pub compound: char,
    /// The compound's CSS class.
    pub compound_class: &'static str,
    /// The best plan: `M-25-H`.
    pub plan: String,
}

/// The window of the search's best plan, if it has one.
pub fn window_view(report: &SearchReport) -> Option<WindowView> {
    let w = report.window.as_ref()?;
    Some(WindowView {
        laps: if w.earliest_lap == w.latest_lap {
            format!("L{}", w.earliest_lap)
        } else {
            format!("L{}–L{}", w.earliest_lap, w.latest_lap)
        },
        best: format!("best L{}", w.best_lap),
        compound: w.compound.letter(),
        compound_class: compound_class(w.compound),
        plan: report
            .ranked
            .first()
            .map(|r| r.label.clone())
            .unwrap_or_default(),
    })
}

/// An undercut or cover chance.
#[derive(Clone, Debug, PartialEq)]
pub struct DuelView {
    /// `Undercut on VER` or `Cover vs LEC`.
    pub label: String,
    /// Chance if the car pits next lap: `42 %`.
    pub if_pit: String,
    /// Chance if it stays on plan: `stay out 18 %`.
    pub if_stay: String,
    /// `good` when pitting helps by 5 points or more, `bad` when it hurts as much, else empty.
    pub class: &'static str,
}

/// The undercut on the car ahead and the cover on the car behind.
pub fn duels(report: &UndercutReport) -> Vec<DuelView> {
    let view = |label: String, d: &boxbox_engine::strategy::search::Duel| {
        let diff = d.p_ahead_if_pit - d.p_ahead_if_stay;
        DuelView {
            label,
            if_pit: chance(d.p_ahead_if_pit),
            if_stay: format!("stay out {}", chance(d.p_ahead_if_stay)),
            class: if diff >= 0.05 {
                "good"
            } else if diff <= -0.05 {
                "bad"
            } else {
                ""
            },
        }
    };
    report
        .ahead
        .iter()
        .map(|d| view(format!("Undercut on {} (pit L{})", d.code, report.lap), d))
        .chain(
            report
                .behind
                .iter()
                .map(|d| view(format!("Cover vs {} (pit L{})", d.code, report.lap), d)),
        )
        .collect()
}

/// The baseline of the current plans for one car, from the split Monte Carlo.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineView {
    /// `P4.2`.
    pub expected: String,
    /// `P2–P7`.
    pub risk: String,
    /// Points chance.
    pub points: String,
    /// Its finishing positions.
    pub histogram: Vec<HistBar>,
}

/// The car's line of the baseline report.
pub fn baseline_view(report: &McReport, driver: usize) -> Option<BaselineView> {
    let d = report.drivers.get(driver)?;
    Some(BaselineView {
        expected: expected_position(d.mean_position),
        risk: position_band(&d.position_probability)
            .map_or_else(|| "—".to_owned(), |(a, b)| format!("P{a}–P{b}")),
        points: chance(d.p_points),
        histogram: histogram(&d.position_probability),
    })
}

/// A what-if against its base case, for one car.
#[derive(Clone, Debug, PartialEq)]
pub struct WhatIfView {
    /// `P4.2 → P3.8`.
    pub expected: String,
    /// `−0.4 pos`.
    pub delta: String,
    /// `points 61 % → 70 %`.
    pub points: String,
    /// Base case and what-if bars on one scale: `(position, base %, what-if %)` heights.
    pub bars: Vec<(usize, f64, f64)>,
    /// The what-if is better (lower expected position).
    pub better: bool,
}

/// The car's base case and what-if side by side.
pub fn what_if_view(report: &WhatIfReport, driver: usize) -> Option<WhatIfView> {
    let base = report.base.drivers.get(driver)?;
    let changed = report.what_if.drivers.get(driver)?;
    let top = base
        .position_probability
        .iter()
        .chain(&changed.position_probability)
        .copied()
        .fold(0.0_f64, f64::max);
    let scale = |q: f64| if top > 0.0 { 100.0 * q / top } else { 0.0 };
    let delta = changed.mean_position - base.mean_position;
    Some(WhatIfView {
        expected: format!(
            "{} → {}",
            expected_position(base.mean_position),
            expected_position(changed.mean_position)
        ),
        delta: super::signed(Some(delta), 1, " pos"),
        points: format!(
            "points {} → {}",
            chance(base.p_points),
            chance(changed.p_points)
        ),
        bars: base
            .position_probability
            .iter()
            .zip(&changed.position_probability)
            .enumerate()
            .map(|(p, (a, b))| (p + 1, scale(*a), scale(*b)))
            .collect(),
        better: delta < 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::strategy::lapsim::{CarStart, RaceStart};
    use boxbox_engine::strategy::monte_carlo::DriverOutcome;
    use boxbox_engine::strategy::search::Duel;

    fn stop(lap: u32, compound: Compound) -> PlannedStop {
        PlannedStop {
            lap,
            compound,
            age_laps: 0,
        }
    }

    fn plan(stops: &[(u32, Compound)]) -> Plan {
        Plan {
            start: Some(Compound::Medium),
            start_age_laps: 0,
            stops: stops.iter().map(|(l, c)| stop(*l, *c)).collect(),
        }
    }

    fn desk_inputs() -> DeskInputs {
        let mut model = boxbox_engine::strategy::tumftm::read(
            include_str!(
                "../../../../shared/data/races/2019_07_canada/tumftm_pars_Montreal_2019.ini"
            ),
            include_str!("../../../../shared/data/races/_common/tumftm_pars_mcs.ini"),
        )
        .expect("reads");
        model.fixed = Default::default();
        let plans = model.drivers.iter().map(|d| d.plan.clone()).collect();
        let start = RaceStart {
            completed_laps: 12,
            cars: model
                .drivers
                .iter()
                .enumerate()
                .map(|(i, d)| CarStart {
                    race_time_s: 12.0 * 76.0 + i as f64,
                    laps: 12,
                    compound: d.plan.start.unwrap_or(Compound::Medium),
                    tyre_age_laps: 12.0,
                    fuel_kg: 70.0,
                    retired: false,
                })
                .collect(),
        };
        let car_idx = (0..model.drivers.len() as u8).rev().collect();
        DeskInputs {
            model,
            plans,
            start,
            car_idx,
        }
    }

    fn inputs() -> PageInputs {
        PageInputs::new(&desk_inputs()).expect("encodes")
    }

    #[test]
    fn inputs_map_cars_to_drivers() {
        let i = inputs();
        assert_eq!(i.driver_of(19), Some(0));
        assert_eq!(i.driver_of(0), Some(19));
        assert_eq!(i.driver_of(40), None);
    }

    #[test]
    fn the_baseline_is_split_into_at_most_one_job_per_worker() {
        let i = inputs();
        for workers in [1, 2, 4] {
            let jobs = baseline_jobs(&i, workers);
            assert_eq!(jobs.len(), workers.min(8));
            let chunks: Vec<(u64, u32)> = jobs
                .iter()
                .flat_map(|j| match j {
                    Job::MonteCarlo(mc) => mc.chunks.clone(),
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(chunks, monte_carlo::chunks(BASELINE_RUNS));
        }
        assert!(matches!(
            baseline_report_job(&i, Vec::new()),
            Job::Report {
                runs: BASELINE_RUNS,
                seed: SEED,
                ..
            }
        ));
    }

    #[test]
    fn moving_the_next_stop_keeps_made_stops_and_later_ones() {
        let p = plan(&[
            (8, Compound::Hard),
            (30, Compound::Medium),
            (50, Compound::Soft),
        ]);
        let moved = plan_with_stop(&p, 12, 34, Compound::Soft);
        assert_eq!(moved.label(), "M-8-H-34-S-50-S");
        // A later stop before the new one goes: it would be out of order.
        let moved = plan_with_stop(&p, 12, 55, Compound::Hard);
        assert_eq!(moved.label(), "M-8-H-55-H");
        // No stop left: one is added.
        let moved = plan_with_stop(&plan(&[(8, Compound::Hard)]), 12, 40, Compound::Soft);
        assert_eq!(moved.label(), "M-8-H-40-S");
    }

    #[test]
    fn what_if_moves_the_stop_and_injects_the_sc() {
        let i = inputs();
        let controls = WhatIfControls {
            pit_lap: 30,
            compound: Compound::Hard,
            sc_lap: Some(25),
        };
        let w = what_if(&i, 3, &controls);
        assert_eq!(w.plans.len(), 1);
        assert_eq!(w.plans[0].0, 3);
        assert!(w.plans[0].1.stops.iter().any(|s| s.lap == 30));
        assert_eq!(
            w.fcy,
            vec![FcyPhase {
                start: 24.0,
                end: 28.0,
                kind: FcyKind::Sc
            }]
        );
        let none = what_if(
            &i,
            3,
            &WhatIfControls {
                sc_lap: None,
                ..controls
            },
        );
        assert!(none.fcy.is_empty());
        assert!(matches!(what_if_job(&i, 3, &controls), Job::WhatIf { .. }));
    }

    #[test]
    fn control_range_starts_at_the_next_lap() {
        let i = inputs();
        let r = control_range(&i, 0, None).expect("laps left");
        assert_eq!((r.first_lap, r.last_lap), (13, i.total_laps - 1));
        assert!((r.first_lap..=r.last_lap).contains(&r.initial.pit_lap));
        assert_eq!(r.compounds, i.dry_compounds);
        let w = PitWindow {
            earliest_lap: 20,
            latest_lap: 26,
            best_lap: 23,
            compound: Compound::Hard,
            tolerance: 0.1,
            races: 500,
        };
        let r = control_range(&i, 0, Some(&w)).expect("laps left");
        assert_eq!(
            (r.initial.pit_lap, r.initial.compound),
            (23, Compound::Hard)
        );
        let mut late = i.clone();
        late.completed_laps = late.total_laps - 1;
        assert_eq!(control_range(&late, 0, None), None);
    }

    #[test]
    fn sc_lap_text() {
        assert_eq!(parse_sc_lap("", 13, 69), Ok(None));
        assert_eq!(parse_sc_lap(" 20 ", 13, 69), Ok(Some(20)));
        assert_eq!(parse_sc_lap("L21", 13, 69), Ok(Some(21)));
        assert_eq!(
            parse_sc_lap("5", 13, 69),
            Err("a lap from 13 to 69".to_owned())
        );
        assert!(parse_sc_lap("soon", 13, 69).is_err());
    }

    #[test]
    fn the_gate_runs_new_keys_at_most_every_few_seconds() {
        let mut g = RerunGate::new();
        assert_eq!(g.poll((0, 1, 0), 0.0), Refresh::Now);
        g.started((0, 1, 0), 0.0);
        assert_eq!(g.poll((0, 1, 0), 100.0), Refresh::Wait);
        // Still running: a new key waits for the end, however long it takes.
        assert_eq!(g.poll((1, 1, 0), 900.0), Refresh::Wait);
        g.finished();
        // A new generation one second later waits for the rest of the interval, with one timer.
        assert_eq!(
            g.poll((1, 1, 0), 1_000.0),
            Refresh::After { delay_ms: 4_000.0 }
        );
        assert_eq!(g.poll((2, 1, 0), 2_000.0), Refresh::Wait);
        assert_eq!(g.on_timer((2, 1, 0), 5_000.0), Refresh::Now);
        g.started((2, 1, 0), 5_000.0);
        g.finished();
        // Another car is another key.
        assert_eq!(
            g.poll((2, 7, 0), 5_500.0),
            Refresh::After { delay_ms: 4_500.0 }
        );
        // No inputs: retry at the same pace.
        let mut g = RerunGate::new();
        assert_eq!(g.poll((0, 1, 0), 0.0), Refresh::Now);
        g.missed(0.0);
        assert_eq!(
            g.poll((0, 1, 0), 1_000.0),
            Refresh::After { delay_ms: 4_000.0 }
        );
        assert_eq!(g.on_timer((0, 1, 0), 5_000.0), Refresh::Now);
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            status_line(&DeskStatus::Running { workers: 1 }).0,
            "running on 1 worker…"
        );
        assert_eq!(
            status_line(&DeskStatus::Done {
                elapsed_ms: 1234.4,
                workers: 2
            })
            .0,
            "done in 1234 ms on 2 workers"
        );
        assert_eq!(
            status_line(&DeskStatus::Error("boom".into())),
            ("error: boom".to_owned(), "desk-status error")
        );
        assert!(
            status_line(&DeskStatus::Waiting("no laps".into()))
                .0
                .contains("no laps")
        );
    }

    #[test]
    fn histograms_and_bands() {
        let probs = [0.1, 0.4, 0.2, 0.2, 0.05, 0.05];
        let bars = histogram(&probs);
        assert_eq!(bars.len(), 6);
        assert_eq!(bars[1].height_pct, 100.0);
        assert_eq!(bars[0].height_pct, 25.0);
        assert_eq!(bars[1].title, "P2 · 40 %");
        assert_eq!(position_band(&probs), Some((1, 5)));
        assert_eq!(position_band(&[0.0, 1.0, 0.0]), Some((2, 2)));
        assert_eq!(position_band(&[]), None);
        assert!(histogram(&[0.0, 0.0]).iter().all(|b| b.height_pct == 0.0));
        assert_eq!(expected_position(3.44), "P3.4");
        assert_eq!(expected_position(f64::NAN), "—");
    }

    fn result(label: &str, mean: f64, probs: Vec<f64>) -> PlanResult {
        PlanResult {
            plan: Plan::default(),
            label: label.to_owned(),
            stops: 1,
            free_track_s: 5_000.0,
            mean_position: mean,
            position_sd: 1.0,
            p_win: probs[0],
            p_podium: probs.iter().take(3).sum(),
            p_points: probs.iter().take(10).sum(),
            expected_points: 10.0,
            p_dnf: 0.0,
            position_probability: probs,
            window_mean_position: mean,
            window_expected_points: 10.0,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn ranked_rows_show_the_delta_to_the_best_and_the_current_plan() {
        let report = SearchReport {
            car: 0,
            code: "HAM".into(),
            objective: Objective::Position,
            runs_per_plan: 300,
            seed: 1,
            plans_screened: 100,
            ranked: vec![
                result("M-30-H", 2.0, vec![0.3, 0.5, 0.2]),
                result("M-20-H-45-S", 2.4, vec![0.2, 0.3, 0.5]),
            ],
            window: Some(PitWindow {
                earliest_lap: 28,
                latest_lap: 33,
                best_lap: 30,
                compound: Compound::Hard,
                tolerance: 0.1,
                races: 500,
            }),
            current: Some(result("M-20-H-45-S", 2.4, vec![0.2, 0.3, 0.5])),
            warnings: Vec::new(),
        };
        let rows = plan_rows(&report);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].delta, "best");
        assert_eq!(rows[1].delta, "+0.4 pos");
        assert_eq!(rows[0].expected, "P2.0");
        assert_eq!(rows[0].win, "30 %");
        assert_eq!(rows[0].points, ">99 %");
        assert_eq!(rows[0].risk, "P1–P3");
        assert!(!rows[0].current && rows[1].current);
        assert_eq!(rows[0].histogram.len(), 3);
        let w = window_view(&report).expect("a window");
        assert_eq!(
            (w.laps.as_str(), w.best.as_str(), w.compound),
            ("L28–L33", "best L30", 'H')
        );
        assert_eq!(w.plan, "M-30-H");
        assert!(
            plan_rows(&SearchReport {
                ranked: Vec::new(),
                ..report
            })
            .is_empty()
        );
    }

    #[test]
    fn duel_lines() {
        let r = UndercutReport {
            car: 2,
            lap: 21,
            ahead: Some(Duel {
                rival: 1,
                code: "VER".into(),
                p_ahead_if_pit: 0.42,
                p_ahead_if_stay: 0.18,
            }),
            behind: Some(Duel {
                rival: 3,
                code: "LEC".into(),
                p_ahead_if_pit: 0.70,
                p_ahead_if_stay: 0.72,
            }),
        };
        let d = duels(&r);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].label, "Undercut on VER (pit L21)");
        assert_eq!((d[0].if_pit.as_str(), d[0].class), ("42 %", "good"));
        assert_eq!(d[0].if_stay, "stay out 18 %");
        assert_eq!(
            (d[1].label.as_str(), d[1].class),
            ("Cover vs LEC (pit L21)", "")
        );
    }

    fn outcome(mean: f64, probs: Vec<f64>) -> DriverOutcome {
        DriverOutcome {
            code: "HAM".into(),
            team: "Mercedes".into(),
            mean_position: mean,
            p_win: probs[0],
            p_podium: probs.iter().take(3).sum(),
            p_points: probs.iter().take(10).sum(),
            expected_points: 0.0,
            p_dnf: 0.0,
            race_time_mean_s: None,
            race_time_p5_s: None,
            race_time_p95_s: None,
            position_probability: probs,
        }
    }

    fn mc(d: DriverOutcome) -> McReport {
        McReport {
            runs: 100,
            seed: 1,
            deterministic: false,
            sc_probability: 0.0,
            vsc_probability: 0.0,
            drivers: vec![d],
            warnings: Vec::new(),
        }
    }

    #[test]
    fn what_if_against_the_base_case_on_one_scale() {
        let r = WhatIfReport {
            base: mc(outcome(2.0, vec![0.2, 0.6, 0.2])),
            what_if: mc(outcome(1.6, vec![0.5, 0.4, 0.1])),
            mean_position_delta: vec![-0.4],
            expected_points_delta: vec![2.0],
        };
        let v = what_if_view(&r, 0).expect("car 0");
        assert_eq!(v.expected, "P2.0 → P1.6");
        assert_eq!(v.delta, "−0.4 pos");
        assert!(v.better);
        assert_eq!((v.bars[1].0, v.bars[1].1), (2, 100.0));
        assert!((v.bars[1].2 - 66.667).abs() < 0.01, "{:?}", v.bars[1]);
        assert_eq!(v.points, "points >99 % → >99 %");
        assert_eq!(what_if_view(&r, 1), None);
        let b = baseline_view(&r.base, 0).expect("car 0");
        assert_eq!((b.expected.as_str(), b.risk.as_str()), ("P2.0", "P1–P3"));
    }
}
