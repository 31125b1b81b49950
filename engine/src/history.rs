//! Lap history from a stream of states: one [`LapRecord`] per car per completed lap, whatever the source.
//!
//! The twins learn from completed laps, but sources send instantaneous states (the simulator at 10 Hz, the game at
//! up to 60 Hz, a JSON feed at whatever rate). [`LapRecorder`] watches consecutive states and books a lap when a
//! car's lap number goes up (or it takes the flag), with the worst track status and any pit-lane visit seen during
//! the lap, so in/out laps and SC/VSC laps can be left out of the fits.

use crate::wire::{LapRecord, PitStatus, RaceState, ResultStatus, TrackStatus};

/// Builds [`LapRecord`]s from a stream of [`RaceState`]s.
#[derive(Clone, Debug, Default)]
pub struct LapRecorder {
    /// Per car index: what has been seen of its current lap.
    cars: Vec<Option<LapWatch>>,
    /// Per car index: what was seen of its completed laps, in lap order, for a flashback back into one of them.
    past: Vec<Vec<LapWatch>>,
    /// Every record so far, in the order the laps were completed.
    records: Vec<LapRecord>,
}

#[derive(Clone, Copy, Debug)]
struct LapWatch {
    lap: u32,
    worst_status: TrackStatus,
    pit_lane: bool,
    finished: bool,
}

impl LapRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        LapRecorder::default()
    }

    /// A recorder that continues from `records` (e.g. the history sent with a snapshot).
    pub fn with_history(records: Vec<LapRecord>) -> Self {
        LapRecorder {
            cars: Vec::new(),
            past: Vec::new(),
            records,
        }
    }

    /// Every record so far, in completion order.
    pub fn records(&self) -> &[LapRecord] {
        &self.records
    }

    /// The records of one car, oldest first.
    pub fn car_records(&self, car_idx: u8) -> Vec<LapRecord> {
        self.records
            .iter()
            .filter(|r| r.car_idx == car_idx)
            .cloned()
            .collect()
    }

    /// Feeds one state; returns how many laps it completed.
    pub fn observe(&mut self, state: &RaceState) -> usize {
        let mut added = 0;
        let status = state.session.track_status;
        for car in &state.cars {
            let slot = usize::from(car.car_idx);
            if self.cars.len() <= slot {
                self.cars.resize(slot + 1, None);
                self.past.resize(slot + 1, Vec::new());
            }
            let in_pit = car.pit_status != PitStatus::None;
            let fresh = LapWatch {
                lap: car.lap,
                worst_status: status,
                pit_lane: in_pit,
                finished: car.result_status == ResultStatus::Finished,
            };
            let Some(watch) = self.cars[slot].as_mut() else {
                self.cars[slot] = Some(fresh);
                continue;
            };
            let took_flag = car.result_status == ResultStatus::Finished && !watch.finished;
            if car.lap > watch.lap || took_flag {
                // The lap just completed; with sparse sampling several may have passed, but only the last one's
                // time is known.
                let lap = if took_flag && car.lap == watch.lap {
                    car.lap
                } else {
                    car.lap - 1
                };
                let already = self
                    .records
                    .iter()
                    .any(|r| r.car_idx == car.car_idx && r.lap == lap);
                if let (Some(lap_time_s), false) = (car.last_lap_s, already) {
                    self.records.push(LapRecord {
                        car_idx: car.car_idx,
                        lap,
                        lap_time_s,
                        position: car.position,
                        compound: car.tyres.compound,
                        tyre_age_laps: car.tyres.age_laps,
                        wear_pct: car.tyres.corners.map(|c| c.wear_pct),
                        fuel_kg: car.fuel_kg,
                        track_status: watch.worst_status.max(status),
                        pit_lane: watch.pit_lane,
                        sectors_s: car.last_sectors_s,
                        ers_store_pct: car.ers_store_pct,
                        gap_to_leader_s: car.gap_to_leader_s,
                    });
                    added += 1;
                }
                self.past[slot].push(*watch);
                *watch = fresh;
                // The sample that shows the new lap may already be in the pit lane on an out-lap; that belongs to the
                // new lap, which `fresh` has recorded.
            } else if car.lap < watch.lap {
                // Time went backwards (a flashback or a replay seek): forget the laps that are now in the future.
                self.records
                    .retain(|r| r.car_idx != car.car_idx || r.lap < car.lap);
                // Back into a lap already watched: what was seen of it before this moment (a pit-lane visit, a SC)
                // is not seen again, so it is kept (with what came after this moment in it, which may not happen
                // again: an out-lap booked as clean would spoil the fits, a clean lap left out loses one lap).
                let past = &mut self.past[slot];
                let earlier = past.iter().rev().find(|w| w.lap == car.lap).copied();
                past.retain(|w| w.lap < car.lap);
                *watch = match earlier {
                    Some(w) => LapWatch {
                        worst_status: w.worst_status.max(status),
                        pit_lane: w.pit_lane || in_pit,
                        ..fresh
                    },
                    None => fresh,
                };
            } else {
                watch.worst_status = watch.worst_status.max(status);
                watch.pit_lane |= in_pit;
            }
        }
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{RaceSim, SimConfig};

    #[test]
    fn records_every_lap_of_every_car_once() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 5,
            total_laps: 12,
        });
        let mut rec = LapRecorder::new();
        let mut t = 0.0;
        while !sim.is_finished() {
            t += 1.0;
            sim.advance_to(t);
            rec.observe(&sim.state());
        }
        let last = sim.state();
        for car in &last.cars {
            let laps: Vec<u32> = rec.car_records(car.car_idx).iter().map(|r| r.lap).collect();
            let driven = if car.result_status == ResultStatus::Finished {
                car.lap
            } else {
                car.lap - 1
            };
            assert_eq!(
                laps,
                (1..=driven).collect::<Vec<_>>(),
                "{}",
                car.driver.code
            );
            for r in rec.car_records(car.car_idx) {
                assert!(r.lap_time_s > 80.0 && r.lap_time_s < 200.0, "{r:?}");
            }
        }
    }

    #[test]
    fn pit_laps_and_sc_laps_are_flagged() {
        let mut found_pit = false;
        let mut rec = LapRecorder::new();
        let mut sim = RaceSim::new(&SimConfig::sakhir_2019(1));
        let mut t = 0.0;
        while !sim.is_finished() {
            t += 1.0;
            sim.advance_to(t);
            rec.observe(&sim.state());
        }
        let state = sim.state();
        for car in &state.cars {
            let records = rec.car_records(car.car_idx);
            for stint in car.stints.iter().skip(1) {
                // The out-lap of every stint after the first is in the pit lane.
                let out_lap = records.iter().find(|r| r.lap == stint.start_lap);
                if let Some(r) = out_lap {
                    assert!(r.pit_lane, "{} lap {}", car.driver.code, r.lap);
                    found_pit = true;
                }
            }
        }
        assert!(found_pit);
    }

    #[test]
    fn a_lap_flashed_back_into_keeps_the_pit_lane_seen_before() {
        // One car: lap 4 with a pit-lane visit, lap 5 begun; then a flashback to the middle of lap 4, after the
        // pit lane, and lap 4 completed again on track.
        let mut state = RaceSim::new(&SimConfig::sakhir_2019(1)).state();
        state.cars.truncate(1);
        let mut rec = LapRecorder::new();
        let mut at = |lap: u32, pit: PitStatus, last_lap_s: f64, rec: &mut LapRecorder| {
            state.cars[0].lap = lap;
            state.cars[0].pit_status = pit;
            state.cars[0].last_lap_s = Some(last_lap_s);
            rec.observe(&state);
        };
        at(4, PitStatus::None, 95.0, &mut rec);
        at(4, PitStatus::PitLane, 95.0, &mut rec);
        at(4, PitStatus::None, 95.0, &mut rec);
        at(5, PitStatus::None, 118.0, &mut rec);
        assert!(rec.records()[0].pit_lane);
        at(4, PitStatus::None, 95.0, &mut rec);
        assert!(rec.records().is_empty(), "lap 4 is not complete any more");
        at(5, PitStatus::None, 117.5, &mut rec);
        assert_eq!(rec.records().len(), 1);
        assert!(
            rec.records()[0].pit_lane,
            "the pit lane seen before the flashback is still in lap 4"
        );
    }

    #[test]
    fn going_back_in_time_forgets_future_laps() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 2,
            total_laps: 6,
        });
        let mut rec = LapRecorder::new();
        let mut early = None;
        let mut t = 0.0;
        while !sim.is_finished() {
            t += 2.0;
            sim.advance_to(t);
            let s = sim.state();
            if early.is_none() && s.cars[0].lap == 3 {
                early = Some(s.clone());
            }
            rec.observe(&s);
        }
        let early = early.expect("lap 3 was reached");
        rec.observe(&early);
        for r in rec.records() {
            let car_lap = early.car(r.car_idx).map(|c| c.lap).unwrap_or(0);
            assert!(r.lap < car_lap, "{r:?}");
        }
    }
}
