//! A live session as a [`RealRace`]: the lap history a relay or the browser recorded ([`LapRecord`]s) and the
//! latest [`RaceState`], shaped like a race read from files, so the strategy calibration that fits a model to a
//! real race's laps ([`crate::strategy::calibrate`]) fits one to the session in progress as well.
//!
//! What the live data gives and what is reconstructed:
//! - The field is the state's cars, in grid order; [`RealDriver::car_idx`] is the index in that order (the
//!   [`RealRace`] invariant), and [`LiveRace::car_idx`] maps it back to the game's car index.
//! - A line crossing is the sum of the car's lap times (lap 1 counts from the start, as the games time it).
//! - A lap the recorder missed (sparse sampling) takes the time of the next recorded lap and is marked
//!   [`RealLap::lap_time_reconstructed`], so no pace is fitted on it.
//! - A pit stop is a change of tyre set (another compound, or a younger set); its in-lap is the last lap before the
//!   change, or the first pit-lane lap of the run of pit-lane laps around it. The in-lap gets a pit entry and the
//!   lap after it a pit exit, both at the in-lap's crossing (only their presence is used). The stop's time in the
//!   lane is the session's pit-lane loss (the games do not report it).
//! - Laps on a new set that the records still show as the old one (a source may update the tyres laps late) take
//!   the new set's compound, aged back from the first record that shows it.
//! - A pit-lane lap that is neither (a drive-through, or a stop whose new set is not seen yet) is marked with a pit
//!   exit so no pace is fitted on it, but is not a stop.
//! - A lap's track status is the worst the recorder saw during it; FastF1's digits are written for it.
//! - A car out of the race ([`ResultStatus::is_out`]) retires at its last crossing. Nobody is classified yet:
//!   positions are the current ones and race times are unknown.

use std::collections::BTreeMap;

use crate::sorting::sort_by_key;
use crate::wire::{LapRecord, RaceState, TrackStatus};

use super::{
    Classification, RealDriver, RealLap, RealPitStop, RealRace, Retirement, pit_lane_loss,
};

/// Why a live session cannot be read as a race.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LiveRaceError {
    /// The state has no cars.
    #[error("the session has no cars")]
    NoCars,
    /// The session has no race distance.
    #[error("the session has no race distance (total laps 0)")]
    NoDistance,
    /// No lap has been completed yet.
    #[error("no lap has been completed yet")]
    NoLaps,
}

/// A live session read as a [`RealRace`].
#[derive(Clone, Debug, PartialEq)]
pub struct LiveRace {
    /// The race so far.
    pub race: RealRace,
    /// The game's car index of each driver of [`LiveRace::race`], in its order.
    pub car_idx: Vec<u8>,
    /// Laps the leader has completed.
    pub leader_laps: u32,
}

impl RealRace {
    /// Reads a live session: the latest `state` and the lap history `records` (any order; one record per car and
    /// lap, as [`crate::history::LapRecorder`] keeps them). See the module docs for what is reconstructed.
    ///
    /// # Errors
    /// [`LiveRaceError`] when the session has no cars, no distance or no completed lap.
    pub fn from_live(state: &RaceState, records: &[LapRecord]) -> Result<LiveRace, LiveRaceError> {
        if state.cars.is_empty() {
            return Err(LiveRaceError::NoCars);
        }
        let total_laps = state.session.total_laps;
        if total_laps == 0 {
            return Err(LiveRaceError::NoDistance);
        }
        let mut by_car: BTreeMap<u8, Vec<&LapRecord>> = BTreeMap::new();
        for r in records.iter().filter(|r| r.lap >= 1 && r.lap <= total_laps) {
            by_car.entry(r.car_idx).or_default().push(r);
        }
        let mut cars: Vec<_> = state.cars.iter().collect();
        sort_by_key(&mut cars, |c| (c.grid_position.max(1), c.car_idx));
        let lane_s = state.session.pit_lane_loss_s;
        let mut drivers = Vec::with_capacity(cars.len());
        let mut pit_stops = Vec::new();
        for (i, car) in cars.iter().enumerate() {
            let index = u8::try_from(i).unwrap_or(u8::MAX);
            let mut own = by_car.remove(&car.car_idx).unwrap_or_default();
            sort_by_key(&mut own, |r| r.lap);
            own.dedup_by_key(|r| r.lap);
            let laps = car_laps(&own);
            for (stop, in_lap) in (1..).zip(laps.iter().filter(|l| l.pit_in_s.is_some())) {
                pit_stops.push(RealPitStop {
                    car_idx: index,
                    driver_code: car.driver.code.clone(),
                    stop,
                    lap: in_lap.lap,
                    pit_lane_s: lane_s,
                    // An in-lap here is a change of set (`car_laps`); a drive-through is no stop.
                    tyres_changed: true,
                });
            }
            let last_end = laps.last().map_or(0.0, |l| l.end_s);
            let out = car.result_status.is_out();
            drivers.push(RealDriver {
                car_idx: index,
                code: car.driver.code.clone(),
                name: car.driver.name.clone(),
                number: car.driver.number,
                team: car.team.name.clone(),
                team_colour: car.team.colour.clone(),
                grid_position: car.grid_position.max(1),
                pit_lane_start: false,
                classification: Classification {
                    position: Some(car.position),
                    position_text: if out {
                        format!("{:?}", car.result_status).to_ascii_uppercase()
                    } else {
                        car.position.to_string()
                    },
                    laps: u32::try_from(laps.len()).unwrap_or(u32::MAX),
                    time_s: None,
                    time_penalty_s: 0.0,
                    reason_retired: out.then(|| format!("{:?}", car.result_status)),
                },
                laps,
                retirement: out.then_some(Retirement {
                    at_s: last_end,
                    pit_out_s: None,
                    pit_in_s: None,
                    status: car.result_status,
                }),
            });
        }
        let leader_laps = drivers
            .iter()
            .map(|d| u32::try_from(d.laps.len()).unwrap_or(u32::MAX))
            .max()
            .unwrap_or(0);
        if leader_laps == 0 {
            return Err(LiveRaceError::NoLaps);
        }
        sort_by_key(&mut pit_stops, |s| (s.lap, s.car_idx, s.stop));
        let (pit_lane_loss_s, pit_lane_loss_stops) = pit_lane_loss(&drivers, &pit_stops);
        let car_idx = cars.iter().map(|c| c.car_idx).collect();
        Ok(LiveRace {
            race: RealRace {
                name: format!("{} (live)", state.session.track),
                circuit_id: state.session.track.to_ascii_lowercase().replace(' ', "_"),
                track: state.session.track.clone(),
                date: String::new(),
                track_length_m: state.session.track_length_m,
                total_laps,
                start_session_time_s: 0.0,
                drivers,
                pit_stops,
                pit_lane_loss_s,
                pit_lane_loss_stops,
            },
            car_idx,
            leader_laps,
        })
    }
}

/// One car's records (sorted by lap, one per lap) as laps `1..=last`, with stints and pit flags.
fn car_laps(records: &[&LapRecord]) -> Vec<RealLap> {
    let Some(last) = records.last().map(|r| r.lap) else {
        return Vec::new();
    };
    // Lap n's record, or the next recorded one for a lap the recorder missed.
    let mut filled: Vec<(&LapRecord, bool)> = Vec::with_capacity(last as usize);
    let mut next = records.iter().peekable();
    for lap in 1..=last {
        while next.peek().is_some_and(|r| r.lap < lap) {
            next.next();
        }
        let Some(&&r) = next.peek() else { break };
        filled.push((r, r.lap != lap));
    }
    // In-laps: a change of set between two laps stops the car at the end of the earlier one, or at the start of the
    // run of pit-lane laps that ends there (the record may already show the new set on the in-lap). `new_set[i]` is
    // the index of the first record that shows the set fitted at in-lap `i` (a source may show it laps late).
    let mut new_set: Vec<Option<usize>> = vec![None; filled.len()];
    for k in 1..filled.len() {
        let (prev, cur) = (filled[k - 1].0, filled[k].0);
        if cur.compound != prev.compound || cur.tyre_age_laps < prev.tyre_age_laps {
            let mut first = k - 1;
            while first > 0 && filled[first].0.pit_lane && filled[first - 1].0.pit_lane {
                first -= 1;
            }
            if !filled[first].0.pit_lane && cur.pit_lane {
                // The change shows on a pit-lane lap after a lap on track: that lap is the in-lap.
                first = k;
            }
            new_set[first] = Some(k);
        }
    }
    let mut laps = Vec::with_capacity(filled.len());
    let mut end_s = 0.0;
    let mut stint = 1;
    // The record that shows the set of the current stint, while the records still show the old one.
    let mut fitted: Option<usize> = None;
    for (k, &(r, reconstructed)) in filled.iter().enumerate() {
        end_s += r.lap_time_s;
        let lap = u32::try_from(k + 1).unwrap_or(u32::MAX);
        let in_lap = new_set[k].is_some();
        let out_lap = k > 0 && new_set[k - 1].is_some();
        if out_lap {
            stint += 1;
            fitted = new_set[k - 1].filter(|&shown| shown > k);
        }
        if fitted.is_some_and(|shown| shown <= k) {
            fitted = None;
        }
        let (compound, tyre_life_laps) = match fitted {
            // Laps on the new set before a record shows it: its compound, its age counted back.
            Some(shown) => {
                let s = filled[shown].0;
                let back = u32::try_from(shown - k).unwrap_or(u32::MAX);
                (s.compound, s.tyre_age_laps.saturating_sub(back))
            }
            // An in-lap driven on the old set whose record already shows the new one keeps the old set.
            None if in_lap && k > 0 && new_set[k] == Some(k) => {
                let prev = filled[k - 1].0;
                (prev.compound, prev.tyre_age_laps + 1)
            }
            None => (r.compound, r.tyre_age_laps),
        };
        let previous_end = end_s - r.lap_time_s;
        // A lap in the pit lane that is neither an in-lap nor an out-lap (a drive-through, or a stop whose new set
        // no record shows yet) is marked as a pit exit, so it is not taken for pace, but is not a stop.
        let lane_only = r.pit_lane && !in_lap && !out_lap;
        laps.push(RealLap {
            lap,
            lap_time_s: r.lap_time_s,
            lap_time_reconstructed: reconstructed,
            end_s,
            position: Some(r.position),
            stint,
            compound,
            tyre_life_laps,
            pit_in_s: in_lap.then_some(end_s),
            pit_out_s: (out_lap || lane_only).then_some(previous_end),
            track_status: r.track_status,
            track_status_codes: status_digits(r.track_status).to_owned(),
        });
    }
    laps
}

/// FastF1's digit for a status (see the parent module's `status_bits`).
fn status_digits(status: TrackStatus) -> &'static str {
    match status {
        TrackStatus::Green => "1",
        TrackStatus::Yellow => "2",
        TrackStatus::SafetyCar => "4",
        TrackStatus::Red => "5",
        TrackStatus::VirtualSafetyCar => "6",
    }
}
