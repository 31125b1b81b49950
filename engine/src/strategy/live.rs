//! The live session as the strategy simulator's inputs: the race so far read as a [`RealRace`]
//! ([`RealRace::from_live`]), a [`RaceModel`] calibrated on its laps, every car's plan (its stops so far, then the
//! rival rule's next stop) and the state to simulate the rest of the race from.
//!
//! This is the same pipeline the backtest runs on a real race stopped at a lap ([`calibrate::from_real_race_until`]),
//! so what the backtest measures is what the pit wall gets. What only the live state knows replaces the
//! reconstruction: each car's laps completed (a lapped car has done fewer than the leader), the tyres fitted and
//! their age, the fuel on board (when the source reports it), and who is out.

use serde::{Deserialize, Serialize};

use super::calibrate::{self, CalibrateError};
use super::lapsim::RaceStart;
use super::model::{Plan, RaceModel};
use crate::race::{LiveRaceError, RealRace};
use crate::wire::{LapRecord, RaceState, ResultStatus};

/// Why the live session cannot be simulated.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LiveError {
    /// The session cannot be read as a race.
    #[error(transparent)]
    Race(#[from] LiveRaceError),
    /// The race so far cannot be calibrated.
    #[error(transparent)]
    Calibrate(#[from] CalibrateError),
    /// The leader has taken the flag: nothing is left to simulate.
    #[error("the leader has completed all {0} laps")]
    Finished(u32),
}

/// The simulator's inputs for the rest of a live race.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveInputs {
    /// The race calibrated on its laps so far; its drivers are in grid order.
    pub model: RaceModel,
    /// One plan per driver of `model`: the stops made, then at most one more by the rival rule.
    pub plans: Vec<Plan>,
    /// The race now, after the leader's completed laps.
    pub start: RaceStart,
    /// The game's car index of each driver of `model`, in its order.
    pub car_idx: Vec<u8>,
}

impl LiveInputs {
    /// The model's driver index of the game's car `car_idx`.
    pub fn driver_of(&self, car_idx: u8) -> Option<usize> {
        self.car_idx.iter().position(|&c| c == car_idx)
    }
}

/// The inputs to simulate the rest of the race from `state`, with the lap history `records` (e.g.
/// [`crate::history::LapRecorder::records`]).
///
/// # Errors
/// [`LiveError`] when the session has no cars, laps or distance left, or too few clean laps to fit a pace on.
pub fn inputs(state: &RaceState, records: &[LapRecord]) -> Result<LiveInputs, LiveError> {
    let live = RealRace::from_live(state, records)?;
    let race = &live.race;
    let lap = live.leader_laps;
    let flag = state
        .cars
        .iter()
        .any(|c| c.result_status == ResultStatus::Finished);
    if lap >= race.total_laps() || flag {
        return Err(LiveError::Finished(race.total_laps()));
    }
    let model = calibrate::from_real_race_until(race, None, Some(lap))?;
    let mut start = calibrate::start_at(race, &model, lap)?;
    // When the leader completed the lap the simulation starts from, and the one before.
    let leader_crossing = |lap: u32| {
        race.drivers()
            .iter()
            .filter_map(|d| d.crossing_s(lap))
            .min_by(f64::total_cmp)
    };
    let (leader_now, leader_lap_s) =
        match (leader_crossing(lap), leader_crossing(lap.saturating_sub(1))) {
            (Some(now), Some(before)) if lap > 1 => (Some(now), Some(now - before)),
            (now, _) => (now, None),
        };
    for ((car, d), idx) in start.cars.iter_mut().zip(race.drivers()).zip(&live.car_idx) {
        let Some(now) = state.cars.iter().find(|c| c.car_idx == *idx) else {
            continue;
        };
        let own = u32::try_from(d.laps.len()).unwrap_or(u32::MAX).min(lap);
        let last_crossing = d.laps.last().map_or(0.0, |l| l.end_s);
        // A car on the leader's lap that has not crossed the line since the leader did is put at its coming
        // crossing. Left a lap short, it would be simulated as lapped: behind the leader whatever its pace, and a lap
        // short at the flag. A lapped car has completed fewer laps than the leader, and keeps its own. The coming
        // crossing is the leader's plus the car's gap; a car on its out-lap (it stopped at the end of its last lap)
        // crosses a leader's lap after its own last crossing plus the out-lap through the pit lane, which a gap
        // taken at the line does not hold yet.
        let out_lap = race
            .pit_stops()
            .iter()
            .any(|s| s.car_idx == d.car_idx && s.lap == own);
        let on_lead_lap = own + 1 == lap && now.laps_down == 0;
        let coming = match (leader_now, leader_lap_s, now.gap_to_leader_s) {
            (_, Some(lap_s), _) if on_lead_lap && out_lap => Some(
                last_crossing
                    + lap_s
                    + calibrate::out_lap_charge(
                        &model.timing,
                        &model.drivers[usize::from(d.car_idx)],
                    ),
            ),
            (Some(leader), _, Some(gap)) if on_lead_lap && !out_lap => {
                Some((leader + gap).max(last_crossing))
            }
            _ => None,
        };
        car.laps = if coming.is_some() { lap } else { own };
        car.race_time_s = coming.unwrap_or(last_crossing);
        car.retired = now.result_status.is_out();
        if model.drivers[usize::from(d.car_idx)]
            .tyres
            .of(now.tyres.compound)
            .is_some()
        {
            car.compound = now.tyres.compound;
            // At the coming crossing the set has done the lap under way too.
            car.tyre_age_laps =
                f64::from(now.tyres.age_laps) + if coming.is_some() { 1.0 } else { 0.0 };
        }
        if state.measures(now) && now.fuel_kg > 0.0 {
            car.fuel_kg = now.fuel_kg;
        }
    }
    let start = calibrate::with_pending_out_laps(race, &model, start);
    let plans = model.drivers.iter().map(|d| d.plan.clone()).collect();
    Ok(LiveInputs {
        model,
        plans,
        start,
        car_idx: live.car_idx,
    })
}
