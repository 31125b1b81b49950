//! Consistency checks on what the twins read: does the race state add up, from one state to the next and against
//! the lap records?
//!
//! A [`ConsistencyMonitor`] watches the stream of states and the lap history and reports what does not add up as
//! [`ConsistencyWarning`]s (see [`Check`] for the rules). Reported, never silently fixed: the monitor only reads the
//! state. Each warning is raised once per (check, car, lap), so a 60 Hz stream repeating a bad value does not repeat
//! the warning; a fault that persists is raised again on the car's next lap.
//!
//! Time going backwards (a flashback in the game, a seek in a replay) rewinds the whole session: the monitor then
//! forgets the previous state rather than report every car's lap as going down, and forgets what it reported about
//! the laps that will be driven again.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::sorting::sort_by_key;
use crate::twin::alert::{Alert, AlertKind, Evidence, Severity};
use crate::wire::{CarState, LapRecord, PitStatus, RaceState, Stint};

/// Largest difference between a gap's change over a lap and the lap-time difference that explains it, in seconds.
/// Gaps are measured when the car is first seen across the line, so they carry up to a sample's worth of error.
pub const GAP_TOLERANCE_S: f64 = 0.5;

/// Lap and sector times must lie in `(0, MAX_PLAUSIBLE_LAP_S)` seconds.
pub const MAX_PLAUSIBLE_LAP_S: f64 = 1000.0;

/// The rules the monitor checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Cars are listed with positions exactly `1..=n` in running order, each car index once.
    PositionsPermutation,
    /// A car's lap never goes down from one state to the next, unless session time went back (a rewind).
    LapMonotone,
    /// Over a lap, the change of a car's gap to the leader equals its lap time minus the leader's, within
    /// [`GAP_TOLERANCE_S`]. Checked on the lead lap, between laps that both have a gap, with the same leader on
    /// that lap, the lap before and the lap after, and away from the pit lane (where the gap at the line is
    /// measured at pit-lane speed or standing still). The leader is the car in position 1 at the end of each lap;
    /// since the second car may lead at the instant a gap is measured (a close fight), a gap measured to it is
    /// accepted too. One wrong gap upsets two laps; only the first is reported.
    GapsMatchLapTimes,
    /// Stints agree with pit stops: one more stint than stops (one more or one fewer after a pit-lane start),
    /// start laps strictly increasing and not after the car's lap, the last stint on the fitted compound, and the
    /// stints and stops of the previous state unchanged. Not checked while the car is in the pit lane (the stop and
    /// the new set are not reported at the same instant by every source) or when the source reports no stints.
    StintsMatchPitStops,
    /// Every lap time (and every known sector time) of the lap records is in `(0, MAX_PLAUSIBLE_LAP_S)` seconds.
    LapTimesPlausible,
}

/// Something that does not add up, with the numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsistencyWarning {
    /// The rule that failed.
    pub check: Check,
    /// The car concerned (the first one listed when several are).
    pub car_idx: Option<u8>,
    /// The lap concerned: the car's lap for checks on the state, the record's lap for checks on lap records.
    pub lap: u32,
    /// One line saying what is wrong, fit for the radio (at most 120 characters).
    pub message: String,
    /// The numbers behind it, at most three.
    pub evidence: Vec<Evidence>,
}

/// Watches states and lap records; see the module documentation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsistencyMonitor {
    /// Session time of the previous state.
    session_time_s: Option<f64>,
    /// What each car looked like in the latest state that listed it.
    cars: BTreeMap<u8, Seen>,
    /// Cars seen in the pit lane on lap 1: their first stop may be counted or not.
    pit_lane_starts: BTreeSet<u8>,
    /// (check, car, lap) of every warning raised.
    reported: BTreeSet<(Check, Option<u8>, u32)>,
    /// How many records there were, and the last one, when the records were last checked.
    records_checked: Option<(usize, LapRecord)>,
}

#[derive(Clone, Debug, PartialEq)]
struct Seen {
    lap: u32,
    pit_stops: u32,
    stints: Vec<Stint>,
}

impl ConsistencyWarning {
    /// The warning as an alert ([`AlertKind::Consistency`], [`Severity::Warning`]) raised on `lap` (the car's lap,
    /// or the leader's for the session) at `session_time_s`.
    pub fn to_alert(&self, lap: u32, session_time_s: f64) -> Alert {
        Alert::new(
            AlertKind::Consistency,
            Severity::Warning,
            self.car_idx,
            (lap, session_time_s),
            &self.message,
            self.evidence.clone(),
        )
    }
}

impl ConsistencyMonitor {
    /// A monitor that has seen nothing yet.
    pub fn new() -> Self {
        ConsistencyMonitor::default()
    }

    /// Checks one state and the lap records so far (any order), and returns the warnings not reported before,
    /// sorted by check, car and lap.
    ///
    /// Records are taken to grow by appending, as [`crate::history::LapRecorder`]'s do: they are checked again only
    /// when their number or the last of them changes.
    pub fn check(&mut self, state: &RaceState, records: &[LapRecord]) -> Vec<ConsistencyWarning> {
        if self
            .session_time_s
            .is_some_and(|t| state.session_time_s < t)
        {
            self.rewind(state);
        }
        self.session_time_s = Some(state.session_time_s);
        for car in &state.cars {
            if car.lap == 1 && car.pit_status != PitStatus::None {
                self.pit_lane_starts.insert(car.car_idx);
            }
        }
        for r in records.iter().filter(|r| r.lap == 1 && r.pit_lane) {
            self.pit_lane_starts.insert(r.car_idx);
        }

        let mut found = Vec::new();
        positions(state, &mut found);
        // A car listed twice is a positions warning; its other checks use its first listing.
        let mut listed = BTreeSet::new();
        let cars: Vec<&CarState> = state
            .cars
            .iter()
            .filter(|c| listed.insert(c.car_idx))
            .collect();
        for &car in &cars {
            let seen = self.cars.get(&car.car_idx);
            lap_monotone(state, car, seen, &mut found);
            let pit_lane_start = self.pit_lane_starts.contains(&car.car_idx);
            if let Some((message, evidence)) = stints(car, seen, pit_lane_start) {
                found.push(warning(
                    Check::StintsMatchPitStops,
                    car,
                    car.lap,
                    message,
                    evidence,
                ));
            }
        }
        let fresh = match (&self.records_checked, records.last()) {
            (Some((n, last)), Some(now)) => *n != records.len() || last != now,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if fresh {
            let codes = Codes(state);
            lap_times(records, &codes, &mut found);
            gaps(records, &codes, &mut found);
            self.records_checked = records.last().map(|r| (records.len(), r.clone()));
        }

        for car in cars {
            self.cars.insert(
                car.car_idx,
                Seen {
                    lap: car.lap,
                    pit_stops: car.pit_stops,
                    stints: car.stints.clone(),
                },
            );
        }
        sort_by_key(&mut found, |w| (w.check, w.car_idx, w.lap));
        found.retain(|w| self.reported.insert((w.check, w.car_idx, w.lap)));
        found
    }

    /// Session time went back: forget the previous state, and what was reported about laps that are now ahead.
    fn rewind(&mut self, state: &RaceState) {
        self.cars.clear();
        self.records_checked = None;
        let lap_now = |car: Option<u8>| match car {
            Some(c) => state.car(c).map(|c| c.lap),
            None => Some(state.session.leader_lap),
        };
        self.reported
            .retain(|&(_, car, lap)| lap_now(car).is_some_and(|now| lap < now));
    }
}

fn warning(
    check: Check,
    car: &CarState,
    lap: u32,
    message: String,
    evidence: Vec<Evidence>,
) -> ConsistencyWarning {
    ConsistencyWarning {
        check,
        car_idx: Some(car.car_idx),
        lap,
        message,
        evidence,
    }
}

fn plausible_s(t: f64) -> bool {
    t > 0.0 && t < MAX_PLAUSIBLE_LAP_S
}

/// Driver codes by car index, from the state; `car N` for a car it does not list.
struct Codes<'a>(&'a RaceState);

impl Codes<'_> {
    fn get(&self, car_idx: u8) -> String {
        self.0
            .car(car_idx)
            .map_or_else(|| format!("car {car_idx}"), |c| c.driver.code.clone())
    }
}

fn positions(state: &RaceState, found: &mut Vec<ConsistencyWarning>) {
    let mut listed = BTreeSet::new();
    let mut offenders: Vec<(&CarState, String, Evidence)> = Vec::new();
    for (row, car) in (1..).zip(&state.cars) {
        let code = &car.driver.code;
        if !listed.insert(car.car_idx) {
            offenders.push((
                car,
                format!("car {} listed again in row {row}", car.car_idx),
                Evidence::new(format!("car {} row", car.car_idx), f64::from(row), ""),
            ));
        } else if u32::from(car.position) != row {
            offenders.push((
                car,
                format!("{code} in row {row} shows P{}", car.position),
                Evidence::new(
                    format!("{code} position, row {row}"),
                    f64::from(car.position),
                    "",
                ),
            ));
        }
    }
    let Some(&(first, _, _)) = offenders.first() else {
        return;
    };
    let what: Vec<&str> = offenders.iter().map(|(_, m, _)| m.as_str()).collect();
    found.push(warning(
        Check::PositionsPermutation,
        first,
        first.lap,
        format!(
            "positions are not 1 to {} in running order: {}",
            state.cars.len(),
            what.join(", ")
        ),
        offenders.into_iter().take(3).map(|(_, _, e)| e).collect(),
    ));
}

fn lap_monotone(
    state: &RaceState,
    car: &CarState,
    seen: Option<&Seen>,
    found: &mut Vec<ConsistencyWarning>,
) {
    let Some(seen) = seen.filter(|s| car.lap < s.lap) else {
        return;
    };
    found.push(warning(
        Check::LapMonotone,
        car,
        car.lap,
        format!(
            "{} lap went back from {} to {} while session time did not",
            car.driver.code, seen.lap, car.lap
        ),
        vec![
            Evidence::new("lap before", f64::from(seen.lap), "laps"),
            Evidence::new("lap now", f64::from(car.lap), "laps"),
            Evidence::new("session time", state.session_time_s, "s"),
        ],
    ));
}

/// The first way the car's stints disagree with its pit stops (or with the previous state), if any.
fn stints(
    car: &CarState,
    seen: Option<&Seen>,
    pit_lane_start: bool,
) -> Option<(String, Vec<Evidence>)> {
    let last = car.stints.last()?;
    if car.pit_status != PitStatus::None {
        return None;
    }
    let code = &car.driver.code;
    let n = car.stints.len() as u64;
    let want = u64::from(car.pit_stops) + 1;
    let slack = u64::from(pit_lane_start);
    if n.abs_diff(want) > slack {
        return Some((
            format!("{code} has {n} stints after {} pit stops", car.pit_stops),
            vec![
                Evidence::new("stints", n as f64, ""),
                Evidence::new("pit stops", f64::from(car.pit_stops), ""),
            ],
        ));
    }
    for (i, pair) in car.stints.windows(2).enumerate() {
        if pair[1].start_lap <= pair[0].start_lap {
            return Some((
                format!(
                    "{code} stint {} starts on lap {}, not after stint {} (lap {})",
                    i + 2,
                    pair[1].start_lap,
                    i + 1,
                    pair[0].start_lap
                ),
                vec![
                    Evidence::new(
                        format!("stint {} start", i + 1),
                        f64::from(pair[0].start_lap),
                        "lap",
                    ),
                    Evidence::new(
                        format!("stint {} start", i + 2),
                        f64::from(pair[1].start_lap),
                        "lap",
                    ),
                ],
            ));
        }
    }
    if last.start_lap > car.lap {
        return Some((
            format!(
                "{code} current stint starts on lap {}, after the car's lap {}",
                last.start_lap, car.lap
            ),
            vec![
                Evidence::new("stint start", f64::from(last.start_lap), "lap"),
                Evidence::new("car lap", f64::from(car.lap), "lap"),
            ],
        ));
    }
    if last.compound != car.tyres.compound {
        return Some((
            format!(
                "{code} current stint is on {:?} tyres but {:?} are fitted",
                last.compound, car.tyres.compound
            ),
            vec![Evidence::new("stints", n as f64, "")],
        ));
    }
    let seen = seen?;
    if car.pit_stops < seen.pit_stops {
        return Some((
            format!(
                "{code} pit stops went down from {} to {}",
                seen.pit_stops, car.pit_stops
            ),
            vec![
                Evidence::new("pit stops before", f64::from(seen.pit_stops), ""),
                Evidence::new("pit stops now", f64::from(car.pit_stops), ""),
            ],
        ));
    }
    let before = seen.stints.len();
    let changed = car.stints.iter().zip(&seen.stints).position(|(a, b)| {
        (a.compound, a.start_lap, a.start_age_laps) != (b.compound, b.start_lap, b.start_age_laps)
    });
    if car.stints.len() < before || changed.is_some() {
        let what = match changed {
            Some(i) => format!("stint {} changed", i + 1),
            None => format!("stints went down from {before} to {n}"),
        };
        return Some((
            format!("{code} {what} since the previous state"),
            vec![
                Evidence::new("stints before", before as f64, ""),
                Evidence::new("stints now", n as f64, ""),
            ],
        ));
    }
    None
}

fn lap_times(records: &[LapRecord], codes: &Codes<'_>, found: &mut Vec<ConsistencyWarning>) {
    for r in records {
        let bad = if plausible_s(r.lap_time_s) {
            r.sectors_s.iter().enumerate().find_map(|(k, s)| {
                s.filter(|s| !plausible_s(*s))
                    .map(|s| (format!("sector {}", k + 1), s))
            })
        } else {
            Some(("lap".to_owned(), r.lap_time_s))
        };
        let Some((what, t)) = bad else {
            continue;
        };
        // A NaN or infinite time is named in the message only: evidence must stay a number in JSON.
        let mut evidence = vec![Evidence::new("lap", f64::from(r.lap), "")];
        if t.is_finite() {
            evidence.insert(0, Evidence::new(format!("{what} time"), t, "s"));
        }
        found.push(ConsistencyWarning {
            check: Check::LapTimesPlausible,
            car_idx: Some(r.car_idx),
            lap: r.lap,
            message: if t.is_finite() {
                format!(
                    "{} lap {} {what} time of {t:.3} s is not plausible",
                    codes.get(r.car_idx),
                    r.lap
                )
            } else {
                format!(
                    "{} lap {} {what} time is not a finite number",
                    codes.get(r.car_idx),
                    r.lap
                )
            },
            evidence,
        });
    }
}

/// The records indexed by car and lap, and the first two cars of each lap.
struct Laps<'a> {
    by_car: BTreeMap<(u8, u32), &'a LapRecord>,
    /// The car with position 1 or 2 at the end of each lap, keyed by (lap, position); `None` when several records
    /// claim the position.
    front: BTreeMap<(u32, u8), Option<u8>>,
}

/// A car's gap change over some laps, and what the lap times say it should be.
#[derive(Clone, Copy, Debug)]
struct GapChange {
    gap_change_s: f64,
    lap_time_delta_s: f64,
    /// The second car's gap to the leader at the two ends, where known: when the first two cars are close, the
    /// second one can lead at the instant the gap is measured, and the gap is then measured to it.
    runner_up_gap_s: [Option<f64>; 2],
}

impl GapChange {
    fn mismatch_s(&self) -> f64 {
        self.gap_change_s - self.lap_time_delta_s
    }

    /// Whether the lap times explain the gap change, with either of the first two cars as the reference at each
    /// end.
    fn is_consistent(&self) -> bool {
        let [from, to] = self.runner_up_gap_s.map(|g| [Some(0.0), g]);
        from.iter().flatten().any(|f| {
            to.iter()
                .flatten()
                .any(|t| (self.mismatch_s() + t - f).abs() <= GAP_TOLERANCE_S)
        })
    }
}

impl<'a> Laps<'a> {
    fn new(records: &'a [LapRecord]) -> Self {
        let mut by_car = BTreeMap::new();
        let mut front = BTreeMap::new();
        for r in records {
            by_car.entry((r.car_idx, r.lap)).or_insert(r);
            if r.position == 1 || r.position == 2 {
                front
                    .entry((r.lap, r.position))
                    .and_modify(|l: &mut Option<u8>| {
                        if *l != Some(r.car_idx) {
                            *l = None;
                        }
                    })
                    .or_insert(Some(r.car_idx));
            }
        }
        Laps { by_car, front }
    }

    fn get(&self, car_idx: u8, lap: u32) -> Option<&'a LapRecord> {
        self.by_car.get(&(car_idx, lap)).copied()
    }

    fn leader(&self, lap: u32) -> Option<u8> {
        self.front.get(&(lap, 1)).copied().flatten()
    }

    /// The second car's gap to the leader at the end of `lap`, unless that car is `car_idx`.
    fn runner_up_gap(&self, car_idx: u8, lap: u32) -> Option<f64> {
        let second = self.front.get(&(lap, 2)).copied().flatten()?;
        if second == car_idx {
            return None;
        }
        self.get(second, lap)?
            .gap_to_leader_s
            .filter(|g| g.is_finite())
    }

    /// How `car_idx`'s gap changed from the end of lap `from` to the end of lap `to`, when every condition of
    /// [`Check::GapsMatchLapTimes`] holds.
    fn gap_change(&self, car_idx: u8, from: u32, to: u32) -> Option<GapChange> {
        let leader = self.leader(from).filter(|&l| l != car_idx)?;
        if (from..=to.checked_add(1)?).any(|l| self.leader(l) != Some(leader)) {
            return None;
        }
        if self
            .get(car_idx, to + 1)
            .is_some_and(|r| r.pit_lane || r.track_status.is_neutralised())
        {
            return None;
        }
        let mut lap_time_delta_s = 0.0;
        let mut gaps = Vec::new();
        for lap in from..=to {
            let (car, lead) = (self.get(car_idx, lap)?, self.get(leader, lap)?);
            let next_lead = self.get(leader, lap + 1)?;
            let usable = |r: &LapRecord| {
                !r.pit_lane && !r.track_status.is_neutralised() && plausible_s(r.lap_time_s)
            };
            if !usable(car) || !usable(lead) || !usable(next_lead) {
                return None;
            }
            if lap > from {
                lap_time_delta_s += car.lap_time_s - lead.lap_time_s;
            }
            if lap == from || lap == to {
                // On the lead lap: the car crossed the line before the leader completed the next lap.
                let gap = car
                    .gap_to_leader_s
                    .filter(|g| (0.0..next_lead.lap_time_s).contains(g))?;
                gaps.push(gap);
            }
        }
        let (&first, &last) = (gaps.first()?, gaps.last()?);
        Some(GapChange {
            gap_change_s: last - first,
            lap_time_delta_s,
            runner_up_gap_s: [
                self.runner_up_gap(car_idx, from),
                self.runner_up_gap(car_idx, to),
            ],
        })
    }
}

fn gaps(records: &[LapRecord], codes: &Codes<'_>, found: &mut Vec<ConsistencyWarning>) {
    let laps = Laps::new(records);
    for (&(car_idx, lap), _) in laps.by_car.iter().filter(|((_, lap), _)| *lap >= 2) {
        let Some(change) = laps.gap_change(car_idx, lap - 1, lap) else {
            continue;
        };
        if change.is_consistent() {
            continue;
        }
        // A single wrong gap on the lap before spoils two laps; the second is its echo, not a new fault, when the
        // gap two laps back and this one agree.
        let echo = lap >= 3
            && laps
                .gap_change(car_idx, lap - 2, lap - 1)
                .is_some_and(|c| !c.is_consistent())
            && laps
                .gap_change(car_idx, lap - 2, lap)
                .is_some_and(|c| c.is_consistent());
        if echo {
            continue;
        }
        found.push(ConsistencyWarning {
            check: Check::GapsMatchLapTimes,
            car_idx: Some(car_idx),
            lap,
            message: format!(
                "{} gap to the leader changed {:+.1} s on lap {lap}, lap times say {:+.1} s",
                codes.get(car_idx),
                change.gap_change_s,
                change.lap_time_delta_s
            ),
            evidence: vec![
                Evidence::new(
                    "gap change minus lap-time difference",
                    change.mismatch_s(),
                    "s",
                ),
                Evidence::new("gap change", change.gap_change_s, "s"),
                Evidence::new("lap time minus leader's", change.lap_time_delta_s, "s"),
            ],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::LapRecorder;
    use crate::sim::{RaceSim, SimConfig};
    use crate::wire::ResultStatus;

    /// Runs a seeded race sampled every `dt_s` seconds through a recorder and a monitor; returns every warning.
    fn clean_race(config: &SimConfig, dt_s: f64) -> Vec<ConsistencyWarning> {
        let mut sim = RaceSim::new(config);
        let mut rec = LapRecorder::new();
        let mut monitor = ConsistencyMonitor::new();
        let mut warnings = Vec::new();
        let mut t = 0.0;
        while !sim.is_finished() {
            t += dt_s;
            sim.advance_to(t);
            let state = sim.state();
            rec.observe(&state);
            warnings.extend(monitor.check(&state, rec.records()));
        }
        warnings
    }

    #[test]
    fn a_clean_simulated_race_raises_nothing() {
        for seed in [1, 2] {
            let warnings = clean_race(&SimConfig::sakhir_2019(seed), 1.0);
            assert!(warnings.is_empty(), "seed {seed}: {warnings:#?}");
        }
    }

    /// A race halfway: the monitor, the recorder and the state after every second up to lap 20, and the state at
    /// lap 5.
    fn halfway() -> (ConsistencyMonitor, LapRecorder, RaceState, RaceState) {
        let mut sim = RaceSim::new(&SimConfig::sakhir_2019(4));
        let (mut rec, mut monitor) = (LapRecorder::new(), ConsistencyMonitor::new());
        let mut early = None;
        let mut t = 0.0;
        loop {
            t += 1.0;
            sim.advance_to(t);
            let state = sim.state();
            rec.observe(&state);
            assert!(monitor.check(&state, rec.records()).is_empty());
            if early.is_none() && state.session.leader_lap == 5 {
                early = Some(state.clone());
            }
            if state.session.leader_lap == 20 {
                return (monitor, rec, state, early.unwrap());
            }
        }
    }

    /// A car that is racing on track, mid-stint.
    fn mid_stint(state: &RaceState) -> usize {
        state
            .cars
            .iter()
            .position(|c| {
                c.result_status == ResultStatus::Active
                    && c.pit_status == PitStatus::None
                    && c.stints.last().is_some_and(|s| s.start_lap + 2 < c.lap)
                    && c.position > 2
            })
            .unwrap()
    }

    /// Checks `corrupt` with a copy of `monitor`: exactly one warning, then nothing when the same state repeats.
    fn one_warning(
        monitor: &ConsistencyMonitor,
        corrupt: &RaceState,
        records: &[LapRecord],
    ) -> ConsistencyWarning {
        let mut monitor = monitor.clone();
        let mut warnings = monitor.check(corrupt, records);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(monitor.check(corrupt, records).is_empty());
        let w = warnings.remove(0);
        assert!(!w.evidence.is_empty() && w.evidence.len() <= 3, "{w:?}");
        assert!(w.message.chars().count() <= 120, "{}", w.message);
        w
    }

    #[test]
    fn swapped_positions_are_reported_once() {
        let (monitor, rec, state, _) = halfway();
        let mut corrupt = state.clone();
        corrupt.cars[3].position = 5;
        corrupt.cars[4].position = 4;
        let w = one_warning(&monitor, &corrupt, rec.records());
        assert_eq!(w.check, Check::PositionsPermutation);
        assert_eq!(
            (w.car_idx, w.lap),
            (Some(state.cars[3].car_idx), state.cars[3].lap)
        );
        assert!(w.message.contains("row 4 shows P5"), "{}", w.message);
        assert_eq!(w.evidence.len(), 2);
        assert_eq!(w.evidence[0].value, 5.0);

        let mut twice = state.clone();
        twice.cars[6].car_idx = twice.cars[2].car_idx;
        let w = one_warning(&monitor, &twice, rec.records());
        assert_eq!(w.check, Check::PositionsPermutation);
        assert!(w.message.contains("listed again in row 7"), "{}", w.message);
    }

    #[test]
    fn a_lap_going_down_is_reported_once() {
        let (monitor, rec, state, _) = halfway();
        let i = mid_stint(&state);
        let mut corrupt = state.clone();
        corrupt.session_time_s += 0.5;
        corrupt.cars[i].lap -= 1;
        let w = one_warning(&monitor, &corrupt, rec.records());
        assert_eq!(w.check, Check::LapMonotone);
        assert_eq!(
            (w.car_idx, w.lap),
            (Some(state.cars[i].car_idx), state.cars[i].lap - 1)
        );
        assert_eq!(w.evidence[0].value, f64::from(state.cars[i].lap));
        assert_eq!(w.evidence[1].value, f64::from(state.cars[i].lap - 1));
    }

    #[test]
    fn a_stint_without_a_pit_stop_is_reported_once() {
        let (monitor, rec, state, _) = halfway();
        let i = mid_stint(&state);
        let mut corrupt = state.clone();
        let car = &mut corrupt.cars[i];
        car.stints.push(Stint {
            compound: car.tyres.compound,
            start_lap: car.lap,
            laps: 0,
            start_age_laps: 0,
        });
        let w = one_warning(&monitor, &corrupt, rec.records());
        assert_eq!(w.check, Check::StintsMatchPitStops);
        assert_eq!(w.car_idx, Some(state.cars[i].car_idx));
        assert_eq!(
            (w.evidence[0].value, w.evidence[1].value),
            (
                state.cars[i].stints.len() as f64 + 1.0,
                f64::from(state.cars[i].pit_stops)
            )
        );

        // The last stint on another compound than the one fitted.
        let mut corrupt = state.clone();
        let car = &mut corrupt.cars[i];
        car.tyres.compound = if car.tyres.compound == crate::wire::Compound::Hard {
            crate::wire::Compound::Soft
        } else {
            crate::wire::Compound::Hard
        };
        let w = one_warning(&monitor, &corrupt, rec.records());
        assert_eq!(w.check, Check::StintsMatchPitStops);
        assert!(w.message.contains("fitted"), "{}", w.message);
    }

    #[test]
    fn a_gap_that_lap_times_do_not_explain_is_reported_once() {
        let (_, rec, state, _) = halfway();
        let mut records = rec.records().to_vec();
        let laps = Laps::new(&records);
        // A lap whose gap can be checked against the lap before and the lap after.
        let (car_idx, lap) = laps
            .by_car
            .keys()
            .copied()
            .find(|&(car, lap)| {
                lap >= 2
                    && laps.gap_change(car, lap - 1, lap).is_some()
                    && laps.gap_change(car, lap, lap + 1).is_some()
                    && laps.gap_change(car, lap - 1, lap + 1).is_some()
            })
            .unwrap();
        for r in records
            .iter_mut()
            .filter(|r| (r.car_idx, r.lap) == (car_idx, lap))
        {
            *r.gap_to_leader_s.as_mut().unwrap() += 3.0;
        }
        let w = one_warning(&ConsistencyMonitor::new(), &state, &records);
        assert_eq!(w.check, Check::GapsMatchLapTimes);
        assert_eq!((w.car_idx, w.lap), (Some(car_idx), lap));
        // The next lap's check sees the same bad gap from the other side (-3 s): that echo is not reported.
        assert!((w.evidence[0].value - 3.0).abs() < GAP_TOLERANCE_S, "{w:?}");
    }

    #[test]
    fn implausible_lap_and_sector_times_are_reported_once_without_nan() {
        let (_, rec, state, _) = halfway();
        let mut records = rec.records().to_vec();
        records[30].lap_time_s = f64::NAN;
        records[40].lap_time_s = 1500.0;
        records[50].sectors_s[1] = Some(-2.0);
        let mut monitor = ConsistencyMonitor::new();
        let warnings = monitor.check(&state, &records);
        let bad: Vec<(Option<u8>, u32)> = [30, 40, 50]
            .map(|i| (Some(records[i].car_idx), records[i].lap))
            .to_vec();
        let mut got: Vec<(Option<u8>, u32)> = warnings
            .iter()
            .filter(|w| w.check == Check::LapTimesPlausible)
            .map(|w| (w.car_idx, w.lap))
            .collect();
        got.sort();
        let mut want = bad.clone();
        want.sort();
        assert_eq!(got, want, "{warnings:#?}");
        let json = serde_json::to_string(&warnings).unwrap();
        assert!(!json.contains("NaN") && !json.contains("null"), "{json}");
        assert!(monitor.check(&state, &records).is_empty());
    }

    #[test]
    fn a_rewind_resets_instead_of_reporting_laps_going_down() {
        let (mut monitor, mut rec, state, early) = halfway();
        rec.observe(&early);
        assert!(monitor.check(&early, rec.records()).is_empty());
        // Racing on from the rewound point raises nothing either...
        let mut sim = RaceSim::new(&SimConfig::sakhir_2019(4));
        let mut t = early.session_time_s;
        sim.advance_to(t);
        while t < state.session_time_s {
            t += 1.0;
            sim.advance_to(t);
            let s = sim.state();
            rec.observe(&s);
            assert!(monitor.check(&s, rec.records()).is_empty());
        }
        // ... and the monitor still works: a lap going down without a rewind is reported.
        let mut corrupt = sim.state();
        let i = mid_stint(&corrupt);
        corrupt.session_time_s += 0.5;
        corrupt.cars[i].lap -= 1;
        let w = one_warning(&monitor, &corrupt, rec.records());
        assert_eq!(w.check, Check::LapMonotone);
    }

    #[test]
    fn a_pit_lane_start_may_count_as_a_stop() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 3,
            total_laps: 5,
        });
        sim.advance_to(1.0);
        let mut start = sim.state();
        let car = start.cars.len() - 1;
        start.cars[car].pit_status = PitStatus::PitLane;
        sim.advance_to(200.0);
        let mut later = sim.state();
        let i = later
            .cars
            .iter()
            .position(|c| c.car_idx == start.cars[car].car_idx)
            .unwrap();
        later.cars[i].pit_stops += 1;
        let mut monitor = ConsistencyMonitor::new();
        assert!(monitor.check(&start, &[]).is_empty());
        assert!(monitor.check(&later, &[]).is_empty());
        // The same count without a pit-lane start is a warning.
        let w = one_warning(&ConsistencyMonitor::new(), &later, &[]);
        assert_eq!(w.check, Check::StintsMatchPitStops);
    }

    #[test]
    fn warnings_become_consistency_alerts() {
        let w = ConsistencyWarning {
            check: Check::LapMonotone,
            car_idx: Some(4),
            lap: 11,
            message: "VER lap went back from 12 to 11 while session time did not".to_owned(),
            evidence: vec![Evidence::new("lap before", 12.0, "laps")],
        };
        let alert = w.to_alert(12, 1234.5);
        assert_eq!(
            (alert.kind, alert.severity, alert.car_idx, alert.lap),
            (AlertKind::Consistency, Severity::Warning, Some(4), 12)
        );
        assert_eq!(alert.session_time_s, 1234.5);
        assert_eq!(
            (alert.radio.as_str(), &alert.evidence),
            (w.message.as_str(), &w.evidence)
        );
        assert_eq!(
            serde_json::to_value(Check::GapsMatchLapTimes).unwrap(),
            "gaps_match_lap_times"
        );
    }
}
