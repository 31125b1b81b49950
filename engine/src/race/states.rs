//! A [`RealRace`] replayed as [`RaceState`]s: one state at every event (line crossing, pit entry, pit exit,
//! retirement), in time order, with the event that produced it.
//!
//! Running order at an instant: laps completed (most first), then the time of the last crossing (earliest first),
//! retired cars at the end in the same order. Once a car has taken the flag its f1db time penalty is added to its
//! last crossing, so the final state's order is f1db's classification (e.g. Canada 2019: Vettel crossed first and
//! is second). Gaps compare crossing times of the same lap (penalties included once a car has finished).
//!
//! The track status at an instant is the worst status that every running car's current-lap row agrees on: FastF1
//! gives each lap the statuses seen at any time during it, so a status active now appears in every lap in progress.
//! This dates an SC or a yellow to within the laps that overlap it instead of flagging a whole lap of the leader
//! (`LapRecorder` then flags the laps that saw it). When the rows disagree entirely (no common status), the leader's
//! current lap decides.

use serde::{Deserialize, Serialize};

use super::{RealDriver, RealRace, status_bits, worst_status};
use crate::sorting::sort_by;
use crate::wire::{
    CarState, Corners, Damage, DataSource, Driver, DriverStatus, PitStatus, RaceState,
    ResultStatus, SCHEMA_VERSION, SessionInfo, SessionPhase, SessionType, Stint, Team, TrackStatus,
    TyreSet, Weather,
};

/// What happened at the instant of one state of [`RealRace::states_with_events`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RaceEvent {
    /// The grid at session time 0, before the lights go out (phase `NotStarted`).
    Start,
    /// The car entered the pit lane during `lap`.
    PitIn {
        /// The car.
        car_idx: u8,
        /// The lap it is on (its in-lap).
        lap: u32,
    },
    /// The car crossed the line, completing `lap`.
    LapCompleted {
        /// The car.
        car_idx: u8,
        /// The lap it completed.
        lap: u32,
    },
    /// The car left the pit lane during `lap` (its out-lap, or lap 1 after a pit-lane start).
    PitOut {
        /// The car.
        car_idx: u8,
        /// The lap it is on.
        lap: u32,
    },
    /// The car is out of the race.
    Retired {
        /// The car.
        car_idx: u8,
        /// Laps it completed.
        laps_completed: u32,
    },
}

impl RealRace {
    /// The race as a time-ordered sequence of states, one per event (see [`RealRace::states_with_events`]).
    pub fn states(&self) -> Vec<RaceState> {
        self.states_with_events()
            .into_iter()
            .map(|(_, state)| state)
            .collect()
    }

    /// The race as `(event, state after it)` pairs in time order: first [`RaceEvent::Start`] (the grid, phase
    /// `NotStarted`), then every line crossing, pit entry, pit exit and retirement. Session times never decrease;
    /// events at the same instant come in car order.
    ///
    /// The states are labelled [`DataSource::Replay`] and `timing_only`: wear, fuel, ERS, damage, speed and
    /// temperatures are zero (not measured); weather is `Clear`.
    pub fn states_with_events(&self) -> Vec<(RaceEvent, RaceState)> {
        let events = self.events();
        let mut replay = Replay::new(self);
        let mut out = Vec::with_capacity(events.len() + 1);
        out.push((RaceEvent::Start, replay.state(0.0, true)));
        for (t, event) in events {
            replay.apply(event);
            out.push((event, replay.state(t, false)));
        }
        out
    }

    /// Every event after the start, sorted by time (ties in car order, then in each car's own order).
    fn events(&self) -> Vec<(f64, RaceEvent)> {
        let mut all = Vec::new();
        for d in &self.drivers {
            let car_idx = d.car_idx;
            // A car's own events stay in causal order: FastF1 may date a pit entry just after the line.
            let mut last = 0.0_f64;
            let mut push = |t: f64, event: RaceEvent| {
                last = t.max(last);
                all.push((last, event));
            };
            let pit_events = |lap: u32,
                              pit_in: Option<f64>,
                              pit_out: Option<f64>,
                              end: f64,
                              push: &mut dyn FnMut(f64, RaceEvent)| {
                let pit_in = pit_in.map(|t| (t.min(end), RaceEvent::PitIn { car_idx, lap }));
                let pit_out = pit_out.map(|t| (t.min(end), RaceEvent::PitOut { car_idx, lap }));
                // An out-lap that ends in the pits again: exit first. A pass through the lane within one lap: entry first.
                let mut pair = [pit_out, pit_in];
                if let [Some((out_t, _)), Some((in_t, _))] = pair
                    && in_t < out_t
                {
                    pair.swap(0, 1);
                }
                for (t, event) in pair.into_iter().flatten() {
                    push(t, event);
                }
            };
            for l in &d.laps {
                pit_events(l.lap, l.pit_in_s, l.pit_out_s, l.end_s, &mut push);
                push(
                    l.end_s,
                    RaceEvent::LapCompleted {
                        car_idx,
                        lap: l.lap,
                    },
                );
            }
            if let Some(r) = &d.retirement {
                let laps_completed = u32::try_from(d.laps.len()).unwrap_or(u32::MAX);
                pit_events(
                    laps_completed.saturating_add(1),
                    r.pit_in_s,
                    r.pit_out_s,
                    f64::INFINITY,
                    &mut push,
                );
                push(
                    r.at_s,
                    RaceEvent::Retired {
                        car_idx,
                        laps_completed,
                    },
                );
            }
        }
        sort_by(&mut all, |a, b| a.0.total_cmp(&b.0));
        all
    }
}

/// A stint as the lap rows give it: consecutive rows with the same `Stint`.
#[derive(Clone, Debug)]
struct StintSpan {
    stint: Stint,
    /// Row indices `first..=last`.
    first: usize,
    last: usize,
}

/// One car during the replay.
#[derive(Debug)]
struct CarReplay<'a> {
    d: &'a RealDriver,
    stints: Vec<StintSpan>,
    completed: usize,
    in_pit: bool,
    /// Entered the pit lane during the current lap.
    entered_this_lap: bool,
    /// A pit entry after the start awaits its exit (a pit-lane start is not a stop).
    stop_pending: bool,
    pit_stops: u32,
    finished: bool,
    retired: bool,
    /// The row whose stint is fitted.
    tyre_row: usize,
}

#[derive(Debug)]
struct Replay<'a> {
    race: &'a RealRace,
    cars: Vec<CarReplay<'a>>,
    /// Lap-distance reference for a car that has no lap yet.
    reference_lap_s: f64,
}

impl<'a> CarReplay<'a> {
    fn new(d: &'a RealDriver) -> Self {
        let mut stints: Vec<StintSpan> = Vec::new();
        for (i, l) in d.laps.iter().enumerate() {
            match stints.last_mut() {
                Some(span) if d.laps.get(span.first).is_some_and(|f| f.stint == l.stint) => {
                    span.last = i;
                }
                _ => stints.push(StintSpan {
                    stint: Stint {
                        compound: l.compound,
                        start_lap: l.lap,
                        laps: 0,
                        start_age_laps: l.tyre_life_laps.saturating_sub(1),
                    },
                    first: i,
                    last: i,
                }),
            }
        }
        CarReplay {
            d,
            stints,
            completed: 0,
            // The grid's pit-lane start, or a lap-1 pit exit after the start.
            in_pit: d.pit_lane_start || d.laps.first().is_some_and(|l| l.pit_out_s.is_some()),
            entered_this_lap: false,
            stop_pending: false,
            pit_stops: 0,
            finished: false,
            retired: false,
            tyre_row: 0,
        }
    }

    fn running(&self) -> bool {
        !self.finished && !self.retired
    }

    /// Crossing time of `lap` (1-based), with the time penalty on a finisher's last lap.
    fn effective_crossing_s(&self, lap: usize) -> Option<f64> {
        let l = self.d.laps.get(lap.checked_sub(1)?)?;
        let penalty = if self.finished && lap == self.d.laps.len() {
            self.d.classification.time_penalty_s
        } else {
            0.0
        };
        Some(l.end_s + penalty)
    }

    /// Pit entry and exit of the lap the car is on (the unfinished lap of a retirement included).
    fn current_pit_times(&self) -> (Option<f64>, Option<f64>) {
        match (self.d.laps.get(self.completed), &self.d.retirement) {
            (Some(l), _) => (l.pit_in_s, l.pit_out_s),
            (None, Some(r)) => (r.pit_in_s, r.pit_out_s),
            (None, None) => (None, None),
        }
    }
}

impl<'a> Replay<'a> {
    fn new(race: &'a RealRace) -> Self {
        Replay {
            race,
            cars: race.drivers.iter().map(CarReplay::new).collect(),
            reference_lap_s: race.median_clean_lap_s().unwrap_or(90.0),
        }
    }

    fn apply(&mut self, event: RaceEvent) {
        let car_idx = match event {
            RaceEvent::Start => return,
            RaceEvent::PitIn { car_idx, .. }
            | RaceEvent::LapCompleted { car_idx, .. }
            | RaceEvent::PitOut { car_idx, .. }
            | RaceEvent::Retired { car_idx, .. } => car_idx,
        };
        let Some(car) = self.cars.get_mut(usize::from(car_idx)) else {
            return;
        };
        match event {
            RaceEvent::Start => {}
            RaceEvent::PitIn { .. } => {
                car.in_pit = true;
                car.entered_this_lap = true;
                car.stop_pending = true;
            }
            RaceEvent::PitOut { .. } => {
                car.in_pit = false;
                if std::mem::take(&mut car.stop_pending) {
                    car.pit_stops += 1;
                }
                // New tyres are on from the pit exit.
                if car.completed < car.d.laps.len() {
                    car.tyre_row = car.completed;
                }
            }
            RaceEvent::LapCompleted { .. } => {
                car.completed = (car.completed + 1).min(car.d.laps.len());
                car.entered_this_lap = false;
                if car.completed == car.d.laps.len() && car.d.is_finisher() {
                    car.finished = true;
                    car.in_pit = false;
                }
                // The lap was driven on the set its row names (FastF1 may start a stint a lap after the pit exit);
                // the next lap's set goes on at its pit exit, or shows when that lap is completed.
                car.tyre_row = car.completed.saturating_sub(1);
            }
            RaceEvent::Retired { .. } => {
                car.retired = true;
                car.in_pit = false;
            }
        }
    }

    /// Running order: indices into `cars`.
    fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.cars.len()).collect();
        sort_by(&mut order, |&a, &b| {
            let (ca, cb) = (&self.cars[a], &self.cars[b]);
            let last = |c: &CarReplay<'_>| c.effective_crossing_s(c.completed).unwrap_or(0.0);
            ca.retired
                .cmp(&cb.retired)
                .then(cb.completed.cmp(&ca.completed))
                .then(last(ca).total_cmp(&last(cb)))
                .then(ca.d.grid_position.cmp(&cb.d.grid_position))
        });
        order
    }

    fn track_status(&self, leader: Option<&CarReplay<'_>>) -> TrackStatus {
        let mut common = u8::MAX;
        let mut any = false;
        for car in self.cars.iter().filter(|c| c.running()) {
            let Some(l) = car.d.laps.get(car.completed) else {
                continue;
            };
            let bits = status_bits(&l.track_status_codes);
            if bits != 0 {
                common &= bits;
                any = true;
            }
        }
        if any && common != 0 {
            return worst_status(common);
        }
        leader
            .and_then(|c| {
                c.d.laps
                    .get(c.completed)
                    .or_else(|| c.d.laps.last())
                    .map(|l| l.track_status)
            })
            .unwrap_or_default()
    }

    fn state(&self, t: f64, before_start: bool) -> RaceState {
        let race = self.race;
        let order = self.order();
        let leader = order.first().and_then(|&i| self.cars.get(i));
        let phase = if before_start {
            SessionPhase::NotStarted
        } else if self.cars.iter().all(|c| !c.running()) {
            SessionPhase::Finished
        } else if self.cars.iter().any(|c| c.finished) {
            SessionPhase::Chequered
        } else {
            SessionPhase::Running
        };
        let track_status = if before_start {
            TrackStatus::Green
        } else {
            self.track_status(leader)
        };
        let mut cars = Vec::with_capacity(order.len());
        for (pos, &i) in order.iter().enumerate() {
            let car = &self.cars[i];
            let ahead = pos
                .checked_sub(1)
                .and_then(|p| order.get(p))
                .and_then(|&j| self.cars.get(j));
            cars.push(self.car_state(t, car, pos, leader, ahead));
        }
        RaceState {
            schema_version: SCHEMA_VERSION,
            source: DataSource::Replay,
            session_time_s: t,
            session: SessionInfo {
                track: race.track.clone(),
                track_length_m: race.track_length_m,
                total_laps: race.total_laps,
                session_type: SessionType::Race,
                phase,
                leader_lap: cars.first().map_or(1, |c: &CarState| c.lap),
                weather: Weather::Clear,
                air_temp_c: 0.0,
                track_temp_c: 0.0,
                forecast: Vec::new(),
                track_status,
                pit_lane_loss_s: race.pit_lane_loss_s,
                timing_only: true,
            },
            cars,
        }
    }

    fn car_state(
        &self,
        t: f64,
        car: &CarReplay<'_>,
        pos: usize,
        leader: Option<&CarReplay<'_>>,
        ahead: Option<&CarReplay<'_>>,
    ) -> CarState {
        let race = self.race;
        let d = car.d;
        let k = car.completed;
        let done = &d.laps[..k.min(d.laps.len())];
        let running = car.running();
        let to_u32 = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);

        let gap_to = |other: Option<&CarReplay<'_>>| -> Option<f64> {
            let other = other?;
            if pos == 0 || car.retired || other.retired || k == 0 {
                return None;
            }
            Some((car.effective_crossing_s(k)? - other.effective_crossing_s(k)?).max(0.0))
        };
        let laps_down = match (leader, done.last()) {
            (Some(l), Some(mine)) if !car.retired => {
                let led = l.d.laps[..l.completed.min(l.d.laps.len())]
                    .partition_point(|x| x.end_s <= mine.end_s);
                to_u32(led.saturating_sub(k))
            }
            _ => 0,
        };

        let last_end = done.last().map_or(0.0, |l| l.end_s);
        let current_lap_s = if running {
            (t - last_end).max(0.0)
        } else {
            0.0
        };
        let reference = done.last().map_or(self.reference_lap_s, |l| l.lap_time_s);
        let length = race.track_length_m;
        let lap_distance_m = if running && reference > 0.0 {
            ((current_lap_s / reference).clamp(0.0, 1.0) * length)
                .min(length - 0.01)
                .max(0.0)
        } else {
            0.0
        };

        let (pit_in, pit_out) = car.current_pit_times();
        let driver_status = if car.finished {
            DriverStatus::OnTrack
        } else if car.retired {
            DriverStatus::InGarage
        } else if car.in_pit {
            if car.entered_this_lap {
                DriverStatus::InLap
            } else {
                DriverStatus::OutLap
            }
        } else if pit_in.is_some() && !car.entered_this_lap {
            DriverStatus::InLap
        } else if pit_out.is_some() {
            DriverStatus::OutLap
        } else {
            DriverStatus::FlyingLap
        };
        let result_status = if car.finished {
            ResultStatus::Finished
        } else if car.retired {
            d.retirement
                .as_ref()
                .map_or(ResultStatus::Retired, |r| r.status)
        } else {
            ResultStatus::Active
        };

        // Stints up to the one fitted, each with the laps completed on it.
        let fitted = car
            .stints
            .iter()
            .position(|s| (s.first..=s.last).contains(&car.tyre_row))
            .unwrap_or(0);
        let stints: Vec<Stint> = car
            .stints
            .iter()
            .take(fitted + 1)
            .map(|s| Stint {
                laps: to_u32((s.last + 1).min(k).saturating_sub(s.first)),
                ..s.stint.clone()
            })
            .collect();
        let tyres = stints.last().map_or(
            TyreSet {
                compound: crate::wire::Compound::Medium,
                age_laps: 0,
                corners: Corners::default(),
            },
            |s| TyreSet {
                compound: s.compound,
                age_laps: s.start_age_laps.saturating_add(s.laps),
                corners: Corners::default(),
            },
        );

        CarState {
            car_idx: d.car_idx,
            position: u8::try_from(pos + 1).unwrap_or(u8::MAX),
            driver: Driver {
                code: d.code.clone(),
                name: d.name.clone(),
                number: d.number,
            },
            team: Team {
                name: d.team.clone(),
                colour: d.team_colour.clone(),
            },
            grid_position: d.grid_position,
            lap: if car.finished {
                to_u32(k)
            } else {
                to_u32(k + 1).min(race.total_laps)
            },
            lap_distance_m,
            speed_kph: 0.0,
            throttle_pct: 0.0,
            brake_pct: 0.0,
            gear: 0,
            current_lap_s,
            last_lap_s: done.last().map(|l| l.lap_time_s),
            best_lap_s: done.iter().map(|l| l.lap_time_s).min_by(f64::total_cmp),
            last_sectors_s: [None; 3],
            best_sectors_s: [None; 3],
            gap_to_leader_s: gap_to(leader),
            interval_s: gap_to(ahead),
            laps_down,
            pit_status: if car.in_pit && running {
                PitStatus::PitLane
            } else {
                PitStatus::None
            },
            pit_stops: car.pit_stops,
            // f1db gives a race's time penalties only as classified, not when they were given.
            penalties_s: 0,
            unserved_penalties: 0,
            stints,
            tyres,
            fuel_kg: 0.0,
            ers_store_pct: 0.0,
            damage: Damage::default(),
            driver_status,
            result_status,
            telemetry_restricted: false,
        }
    }
}
