//! The seeded full-field race simulator: a TUMFTM-style lap-by-lap race that can be sampled at any instant.
//!
//! Each time a car crosses the line the simulator decides its whole next lap: the lap time from base pace, car,
//! driver, tyre compound, age and wear (with a cliff), fuel mass and noise; pit in- and out-laps with pit-lane
//! losses and a standstill; a fight with the car ahead (held up, or an overtake when the pace advantage beats the
//! track's threshold); DRS; retirements; safety cars and virtual safety cars; now and then a 5 s time penalty,
//! served standing still at the car's next stop. Between crossings a car moves along
//! a piecewise-linear time→distance map of its lap ([`lap::LapPlan`]), so [`RaceSim::state`] can be sampled at any
//! rate without changing the race. Parameters and their sources are in [`crate::calibration`].
//!
//! Determinism: every random draw happens while processing events in a fixed order (time, then car index), and no
//! draw depends on when the state is sampled, so a seed gives the same race at any sampling rate, natively and in
//! wasm.

pub mod lap;
pub mod random;
pub mod strategy;

use crate::calibration::{
    self, CLIFF_S_PER_PCT2, COLD_TYRE_LOSS_S, CORNER_WEAR_SPLIT, DriverParams, TYRE_MULT_SC_VSC,
    TeamParams, TrackParams, compound_params,
};
use crate::wire::{
    CarState, Compound, Corners, Damage, DataSource, Driver, DriverStatus, PitStatus, RaceState,
    ResultStatus, SCHEMA_VERSION, SessionInfo, SessionPhase, SessionType, Stint, Team, TrackStatus,
    TyreCorner, TyreSet, Weather,
};
use lap::{LapKind, LapPlan, LapShape};
use random::SimRng;
use strategy::{PlannedStop, RacePlan};

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Seed of the race: the same seed gives the same race.
    pub seed: u64,
    /// Race distance in laps (57 at Sakhir; fewer for quick tests).
    pub total_laps: u32,
}

impl SimConfig {
    /// The full 2019 Bahrain Grand Prix distance with this seed.
    pub fn sakhir_2019(seed: u64) -> Self {
        SimConfig {
            seed,
            total_laps: calibration::SAKHIR.total_laps,
        }
    }
}

/// A race being simulated. Advance it with [`RaceSim::advance_to`] and read it with [`RaceSim::state`].
#[derive(Debug)]
pub struct RaceSim {
    track: TrackParams,
    rng: SimRng,
    now_s: f64,
    cars: Vec<SimCar>,
    fcy: Option<Fcy>,
    pending_fcy: Option<PendingFcy>,
    /// DRS is enabled from this lap on (moves back after a safety car).
    drs_from_lap: u32,
    chequered: bool,
    n_classified: u32,
    /// Per lap number: relative variation of each sector's share of the lap, the same for every car.
    lap_sector_noise: Vec<[f64; 3]>,
    /// Draws of penalties, a stream of their own so that they change no other draw of a seed's race.
    penalty_rng: SimRng,
}

/// Chance that a car on a green racing lap with a stop still to make is given a time penalty (track limits, an
/// unsafe release, causing a collision): about one a race across the field. An assumption, not calibrated
/// on the shared races (their data has no penalty times).
const PENALTY_PER_LAP: f64 = 0.003;

/// The time penalty the simulator gives, in seconds.
const PENALTY_S: u32 = 5;

/// Mixed into the seed for the penalties' stream.
const PENALTY_STREAM: u64 = 0x7e4a_1f0c_55d2_9b31;

/// A full-course yellow in force.
#[derive(Clone, Copy, Debug)]
struct Fcy {
    status: TrackStatus,
    /// The phase ends when the leader completes this lap.
    until_leader_lap: u32,
}

/// A full-course yellow about to be deployed (a few seconds after the incident).
#[derive(Clone, Copy, Debug)]
struct PendingFcy {
    at_s: f64,
    status: TrackStatus,
    laps: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    Accident,
    Failure,
}

#[derive(Clone, Copy, Debug)]
struct Retirement {
    at_s: f64,
    cause: Cause,
}

/// Tyres, fuel and energy at the start and (planned) end of the current lap; the state interpolates between them.
#[derive(Clone, Copy, Debug)]
struct Consumables {
    wear_pct: [f64; 4],
    surface_c: [f64; 4],
    inner_c: [f64; 4],
    fuel_kg: f64,
}

#[derive(Clone, Debug)]
struct SimCar {
    idx: u8,
    driver: &'static DriverParams,
    team: &'static TeamParams,
    /// Every lap started so far; the last is the current one.
    laps: Vec<LapPlan>,
    status: ResultStatus,
    /// Session time at which the car took the flag or stopped.
    out_at_s: Option<f64>,
    /// Order in which the car took the flag.
    finish_rank: Option<u32>,
    retirement: Option<Retirement>,
    last_lap_s: Option<f64>,
    best_lap_s: Option<f64>,
    last_sectors_s: [Option<f64>; 3],
    best_sectors_s: [Option<f64>; 3],
    stints: Vec<Stint>,
    compound: Compound,
    /// Age of the set at the start of the current lap, in laps.
    tyre_age_laps: u32,
    lap_start: Consumables,
    lap_end: Consumables,
    /// Fuel burn per green lap at full push, in kilograms.
    burn_nominal_kg: f64,
    plan: RacePlan,
    pit_stops: u32,
    /// Compound to fit at the end of the current lap, when it is an in-lap.
    pending_compound: Option<Compound>,
    damage: Damage,
    /// ERS store at the line, percent.
    ers_base_pct: f64,
    /// Duration the current lap would have had with a free track, in seconds.
    free_lap_s: f64,
    /// Time penalties given and not served yet, in seconds.
    penalty_s: u32,
}

impl SimCar {
    fn current(&self) -> &LapPlan {
        // `laps` is never empty: the first lap is created with the car.
        &self.laps[self.laps.len() - 1]
    }

    fn current_mut(&mut self) -> &mut LapPlan {
        let last = self.laps.len() - 1;
        &mut self.laps[last]
    }

    fn is_running(&self) -> bool {
        self.status == ResultStatus::Active
    }

    /// False only while the grid is being set up, before the car's first lap is planned.
    fn has_started(&self) -> bool {
        !self.laps.is_empty()
    }

    /// Laps completed plus the fraction of the current lap covered at `t_s`.
    fn progress_at(&self, t_s: f64) -> f64 {
        let cur = self.current();
        if self.status == ResultStatus::Finished {
            return f64::from(cur.lap);
        }
        f64::from(cur.lap - 1) + cur.frac_at(t_s)
    }

    /// Session time at which the car reached `progress` (laps completed plus fraction), clamped to what it drove.
    fn time_at_progress(&self, progress: f64) -> f64 {
        let k = (progress.max(0.0).floor() as usize).min(self.laps.len() - 1);
        let lap = &self.laps[k];
        let frac = (progress - k as f64).clamp(0.0, 1.0);
        lap.start_s + lap.time_at_frac(frac)
    }

    fn used_compounds(&self) -> Vec<Compound> {
        self.stints.iter().map(|s| s.compound).collect()
    }
}

impl RaceSim {
    /// A race on the grid, about to start at session time 0.
    pub fn new(config: &SimConfig) -> Self {
        let mut track = calibration::SAKHIR;
        track.total_laps = config.total_laps.max(1);
        let mut rng = SimRng::new(config.seed);
        let lap_sector_noise = (0..=track.total_laps)
            .map(|_| [0.0; 3].map(|_: f64| rng.normal(0.0, 0.006)))
            .collect();
        let mut cars: Vec<SimCar> = calibration::DRIVERS
            .iter()
            .enumerate()
            .map(|(i, driver)| new_car(&mut rng, &track, i as u8, driver))
            .collect();
        let mut sim = RaceSim {
            track,
            rng,
            now_s: 0.0,
            cars: Vec::new(),
            fcy: None,
            pending_fcy: None,
            drs_from_lap: calibration::SAKHIR.drs_first_lap,
            chequered: false,
            n_classified: 0,
            lap_sector_noise,
            penalty_rng: SimRng::new(config.seed ^ PENALTY_STREAM),
        };
        // Lap 1 is planned in grid order, so each car knows the one starting ahead of it.
        cars.sort_by_key(|c| c.driver.grid);
        sim.cars = cars;
        for i in 0..sim.cars.len() {
            sim.plan_lap(i, 0.0, 1);
        }
        sim.cars.sort_by_key(|c| c.idx);
        sim
    }

    /// Session time the race has been advanced to, in seconds.
    pub fn now_s(&self) -> f64 {
        self.now_s
    }

    /// Race distance in laps.
    pub fn total_laps(&self) -> u32 {
        self.track.total_laps
    }

    /// True once every car has taken the flag or retired.
    pub fn is_finished(&self) -> bool {
        self.cars.iter().all(|c| !c.is_running())
    }

    /// Advances the race to session time `t_s`, processing every line crossing, retirement and safety-car
    /// deployment up to then in time order. Going backwards is a no-op.
    pub fn advance_to(&mut self, t_s: f64) {
        while let Some((at_s, event)) = self.next_event() {
            if at_s > t_s {
                break;
            }
            self.now_s = self.now_s.max(at_s);
            match event {
                Event::Fcy => self.deploy_fcy(),
                Event::Retire(i) => self.retire(i),
                Event::Cross(i) => self.cross_line(i),
            }
        }
        self.now_s = self.now_s.max(t_s);
    }

    /// Runs the race to the end and returns the final state.
    pub fn run_to_end(&mut self) -> RaceState {
        while let Some((at_s, _)) = self.next_event() {
            self.advance_to(at_s);
        }
        self.state()
    }

    fn next_event(&self) -> Option<(f64, Event)> {
        let mut best: Option<(f64, Event)> = self.pending_fcy.map(|p| (p.at_s, Event::Fcy));
        for (i, car) in self.cars.iter().enumerate() {
            if !car.is_running() {
                continue;
            }
            let candidate = match car.retirement {
                Some(r) => (r.at_s, Event::Retire(i)),
                None => (car.current().end_s(), Event::Cross(i)),
            };
            // Strictly earlier wins, so ties go to the pending FCY and then to the lower car index.
            if best.is_none_or(|(t, _)| candidate.0 < t) {
                best = Some(candidate);
            }
        }
        best
    }

    // --- events -----------------------------------------------------------------------------------------------

    fn cross_line(&mut self, i: usize) {
        let now = self.now_s;
        let total_laps = self.track.total_laps;
        let completed = self.cars[i].current().lap;
        self.complete_lap(i);

        if !self.chequered && completed >= total_laps {
            self.chequered = true;
        }
        if self.chequered {
            let car = &mut self.cars[i];
            car.status = ResultStatus::Finished;
            car.out_at_s = Some(now);
            self.n_classified += 1;
            car.finish_rank = Some(self.n_classified);
            return;
        }
        if let Some(fcy) = self.fcy
            && self.leader_index() == Some(i)
            && completed >= fcy.until_leader_lap
        {
            self.fcy = None;
            if fcy.status == TrackStatus::SafetyCar {
                self.drs_from_lap = completed + 1 + self.track.drs_sc_delay_laps;
            }
        }
        self.plan_lap(i, now, completed + 1);
    }

    /// Books the lap just completed: timing, stint, tyres and fuel at the line, and the pit stop after an in-lap.
    fn complete_lap(&mut self, i: usize) {
        let car = &mut self.cars[i];
        let lap = car.current().clone();
        let lap_s = lap.duration_s();
        let sectors = lap.sector_s();
        car.last_lap_s = Some(lap_s);
        car.best_lap_s = Some(car.best_lap_s.map_or(lap_s, |b| b.min(lap_s)));
        for (k, s) in sectors.into_iter().enumerate() {
            car.last_sectors_s[k] = Some(s);
            car.best_sectors_s[k] = Some(car.best_sectors_s[k].map_or(s, |b| b.min(s)));
        }
        if let Some(stint) = car.stints.last_mut() {
            stint.laps += 1;
        }
        car.tyre_age_laps += 1;
        car.lap_start = car.lap_end;
        car.ers_base_pct = (car.ers_base_pct + self.rng.range(-4.0, 4.0)).clamp(35.0, 90.0);
        car.damage.gearbox_pct = (car.damage.gearbox_pct + 0.35).min(100.0);
        car.damage.engine_pct = (car.damage.engine_pct + 0.25).min(100.0);

        if let Some(compound) = car.pending_compound.take() {
            car.pit_stops += 1;
            car.compound = compound;
            car.tyre_age_laps = 0;
            car.lap_start.wear_pct = [0.0; 4];
            // Tyres come off the blankets at about 75 °C and warm up over the out-lap.
            car.lap_start.surface_c = [75.0; 4];
            car.lap_start.inner_c = [78.0; 4];
            car.stints.push(Stint {
                compound,
                start_lap: lap.lap + 1,
                laps: 0,
                start_age_laps: 0,
            });
            // A damaged front wing is replaced with the tyres.
            car.damage.front_left_wing_pct = 0.0;
            car.damage.front_right_wing_pct = 0.0;
        }
    }

    fn retire(&mut self, i: usize) {
        let now = self.now_s;
        let Some(retirement) = self.cars[i].retirement.take() else {
            return;
        };
        let car = &mut self.cars[i];
        let stop_frac = car.current().frac_at(now);
        car.current_mut().truncate_at(stop_frac);
        car.out_at_s = Some(now);
        match retirement.cause {
            Cause::Accident => {
                car.status = ResultStatus::Dnf;
                car.damage.front_left_wing_pct = 100.0;
                car.damage.front_right_wing_pct = 100.0;
                car.damage.floor_pct = car.damage.floor_pct.max(60.0);
            }
            Cause::Failure => {
                car.status = ResultStatus::Retired;
                if self.rng.chance(0.5) {
                    car.damage.engine_pct = 100.0;
                } else {
                    car.damage.gearbox_pct = 100.0;
                }
            }
        }
        if self.chequered || self.fcy.is_some() || self.pending_fcy.is_some() {
            return;
        }
        let t = &self.track;
        let (p_sc, p_vsc) = match retirement.cause {
            Cause::Accident => (t.p_sc_after_accident, t.p_vsc_after_accident),
            Cause::Failure => (0.0, t.p_vsc_after_failure),
        };
        let roll = self.rng.uniform();
        let (status, delay_s, laps) = if roll < p_sc {
            let laps = self.rng.weighted(&t.p_sc_duration_laps).max(1) as u32;
            (TrackStatus::SafetyCar, 12.0, laps)
        } else if roll < p_sc + p_vsc {
            let laps = self.rng.weighted(&t.p_vsc_duration_laps) as u32 + 1;
            (TrackStatus::VirtualSafetyCar, 6.0, laps)
        } else {
            return;
        };
        self.pending_fcy = Some(PendingFcy {
            at_s: now + delay_s,
            status,
            laps,
        });
    }

    fn deploy_fcy(&mut self) {
        let Some(pending) = self.pending_fcy.take() else {
            return;
        };
        if self.chequered {
            return;
        }
        let now = self.now_s;
        let leader_lap = self
            .leader_index()
            .map_or(1, |l| self.cars[l].current().lap);
        // The phase covers the rest of the leader's current lap plus `laps` full laps.
        self.fcy = Some(Fcy {
            status: pending.status,
            until_leader_lap: leader_lap + pending.laps,
        });
        let mult = self.neutralised_mult(pending.status);
        for car in self.cars.iter_mut().filter(|c| c.is_running()) {
            car.current_mut().stretch_after(now, mult);
        }
    }

    // --- planning a lap ---------------------------------------------------------------------------------------

    /// Decides lap `lap_no` of car `i`, starting at `start_s`.
    fn plan_lap(&mut self, i: usize, start_s: f64, lap_no: u32) {
        let track = self.track.clone();
        let status = self.track_status();
        let neutral = status.is_neutralised();
        let after_in_lap = self.cars[i]
            .laps
            .last()
            .is_some_and(|l| matches!(l.kind, LapKind::InLap { .. }));
        let is_in_lap = !after_in_lap && self.decide_stop(i, lap_no, status);
        let ahead = self.car_ahead_on_road(i, lap_no, start_s);

        let car = &self.cars[i];
        let cp = compound_params(car.compound);
        let status_idx = match status {
            TrackStatus::VirtualSafetyCar => 1,
            TrackStatus::SafetyCar | TrackStatus::Red => 2,
            _ => 0,
        };
        let tyre_mult = match status_idx {
            1 => TYRE_MULT_SC_VSC[1],
            2 => TYRE_MULT_SC_VSC[0],
            _ => 1.0,
        };

        // Tyre wear over this lap, per corner, with a little lap-to-lap variation.
        let wear_noise = 1.0 + self.rng.normal(0.0, 0.03);
        let mut wear_end = [0.0; 4];
        for (k, w) in wear_end.iter_mut().enumerate() {
            let rate = cp.wear_pct_per_lap * CORNER_WEAR_SPLIT[k] * tyre_mult * wear_noise;
            *w = (car.lap_start.wear_pct[k] + rate).min(100.0);
        }
        let worst_wear_end = wear_end.iter().copied().fold(0.0, f64::max);

        // Fuel: burn at full push unless that would not reach the flag; lift-and-coast costs time.
        let laps_left = f64::from(track.total_laps - lap_no + 1);
        let fuel_mult = match status_idx {
            1 => track.fuel_mult_vsc,
            2 => track.fuel_mult_sc,
            _ => 1.0,
        };
        let push_burn = car.burn_nominal_kg * fuel_mult;
        let affordable = ((car.lap_start.fuel_kg - 0.3) / laps_left).max(0.0);
        let burn = if neutral {
            push_burn
        } else {
            push_burn.min(affordable)
        };
        let fuel_saving_s = if neutral {
            0.0
        } else {
            4.0 * (push_burn - burn)
        };
        let fuel_end = (car.lap_start.fuel_kg - burn).max(0.0);

        // Green-flag lap time.
        let age = f64::from(car.tyre_age_laps);
        let cliff = (worst_wear_end - cp.cliff_wear_pct).max(0.0);
        let damage_s = 0.025 * (car.damage.front_left_wing_pct + car.damage.front_right_wing_pct)
            / 2.0
            + 0.02 * car.damage.floor_pct;
        let mut lap_s = track.base_lap_s
            + car.team.car_s
            + car.driver.driver_s
            + cp.offset_s
            + cp.deg_s_per_lap * age
            + CLIFF_S_PER_PCT2 * cliff * cliff
            + car.lap_start.fuel_kg * track.fuel_sensitivity_s_per_kg
            + fuel_saving_s
            + damage_s
            + self.rng.normal(0.0, car.driver.lap_sigma_s);
        if lap_no == 1 {
            let (mean, sd) = car.driver.start_perf_s;
            lap_s += track.first_lap_loss_s
                + track.grid_slot_loss_s * f64::from(car.driver.grid - 1)
                + self.rng.normal(mean, sd);
        }
        if after_in_lap {
            lap_s += COLD_TYRE_LOSS_S;
        }
        let drs = !neutral
            && lap_no >= self.drs_from_lap.max(track.drs_first_lap)
            && ahead.is_some_and(|a| start_s - self.cars[a].current().start_s < track.drs_window_s);
        if drs {
            lap_s += track.drs_gain_s;
        }
        let green_lap_s = lap_s;

        // Neutralised laps: a VSC slows everyone alike; behind the safety car the leader sets the pace and the
        // others close up to it.
        let is_leader = self.leader_index() == Some(i) || (lap_no == 1 && car.driver.grid == 1);
        lap_s = match status {
            TrackStatus::VirtualSafetyCar => green_lap_s * track.vsc_lap_mult,
            TrackStatus::SafetyCar | TrackStatus::Red if is_leader || ahead.is_none() => {
                green_lap_s * track.sc_lap_mult
            }
            TrackStatus::SafetyCar | TrackStatus::Red => green_lap_s * 1.1,
            _ => lap_s,
        };

        // Sector split: the lap's shared variation (wind, rubber) plus a tiny per-car one. Cars close on the road
        // keep nearly the same time→distance shape, so they cannot swap places mid-lap without a real pass.
        let mut shares = track.sector_time_share;
        let lap_noise =
            self.lap_sector_noise[(lap_no as usize).min(self.lap_sector_noise.len() - 1)];
        for (s, n) in shares.iter_mut().zip(lap_noise) {
            *s *= 1.0 + n + self.rng.normal(0.0, 0.0008);
        }
        let share_sum: f64 = shares.iter().sum();
        let shape = LapShape {
            sector_end_frac: track.sector_end_frac,
            sector_s: shares.map(|s| lap_s * s / share_sum),
        };

        let (kind, pit_loss_s, standstill_s) = if after_in_lap {
            // A penalty is served first: the car stands still for it before the crew may work.
            let standstill = f64::from(car.penalty_s)
                + track.pit_standstill_min_s
                + fisk(&mut self.rng, car.team.pit_fisk).min(12.0);
            (
                LapKind::OutLap {
                    box_frac: track.pit_exit_frac * 0.45,
                    exit_frac: track.pit_exit_frac,
                },
                track.pit_outlap_loss_s[status_idx],
                standstill,
            )
        } else if is_in_lap {
            (
                LapKind::InLap {
                    entry_frac: track.pit_entry_frac,
                },
                track.pit_inlap_loss_s[status_idx],
                0.0,
            )
        } else {
            (LapKind::Normal, 0.0, 0.0)
        };
        let mut plan = LapPlan::new(lap_no, start_s, shape, kind, pit_loss_s, standstill_s);

        // Temperatures at the end of the lap: each compound's working range, hotter when worn, cooler when slow.
        let mut surface_end = [0.0; 4];
        let mut inner_end = [0.0; 4];
        for k in 0..4 {
            let corner_offset = if k < 2 { -2.5 } else { 2.0 };
            let cooling = if neutral { -24.0 } else { 0.0 };
            surface_end[k] = cp.working_temp_c
                + corner_offset
                + 0.1 * wear_end[k]
                + cooling
                + self.rng.normal(0.0, 1.2);
            inner_end[k] = surface_end[k] - 4.0 + self.rng.normal(0.0, 0.6);
        }
        let consumables_end = Consumables {
            wear_pct: wear_end,
            surface_c: surface_end,
            inner_c: inner_end,
            fuel_kg: fuel_end,
        };

        self.cars[i].free_lap_s = plan.duration_s();
        // Fights with the cars ahead on the road (racing laps under green only).
        if status == TrackStatus::Green
            && kind == LapKind::Normal
            && let Some(a) = ahead
        {
            self.fight(i, a, &mut plan);
        }
        // Under a safety car nobody passes and the queue closes up to the minimum gap.
        if status == TrackStatus::SafetyCar
            && let Some(a) = ahead
        {
            let ahead_end = self.cars[a].current().end_s();
            let min_end = ahead_end + track.min_gap_sc_s;
            if plan.end_s() < min_end {
                plan.retime_end(start_s, min_end);
            }
        }

        let retirement = self.draw_retirement(i, lap_no, &plan);
        let penalised = status == TrackStatus::Green
            && kind == LapKind::Normal
            && lap_no > 1
            // A stop still to make before the last lap, where it is served: the simulator's classification
            // has no time added at the flag.
            && self.cars[i]
                .plan
                .stops
                .first()
                .is_some_and(|s| s.in_lap + 1 < track.total_laps)
            && self.penalty_rng.chance(PENALTY_PER_LAP);
        let car = &mut self.cars[i];
        if after_in_lap {
            car.penalty_s = 0;
        }
        if penalised {
            car.penalty_s += PENALTY_S;
        }
        car.lap_end = consumables_end;
        car.retirement = retirement;
        car.laps.push(plan);
    }

    /// Whether lap `lap_no` is an in-lap for car `i`; if so, sets the compound to fit at its end.
    fn decide_stop(&mut self, i: usize, lap_no: u32, status: TrackStatus) -> bool {
        let total = self.track.total_laps;
        let car = &mut self.cars[i];
        if lap_no >= total {
            car.plan.stops.retain(|s| s.in_lap < total);
            return false;
        }
        let laps_after = total - lap_no;
        let cp = compound_params(car.compound);
        let projected_wear =
            car.lap_start.wear_pct.iter().copied().fold(0.0, f64::max) + cp.wear_pct_per_lap;
        let worn_out = projected_wear > cp.cliff_wear_pct + 6.0 && laps_after >= 2;
        let planned_now = car.plan.stops.first().is_some_and(|s| s.in_lap <= lap_no);
        let cheap_stop = status.is_neutralised()
            && laps_after >= 3
            && car.tyre_age_laps >= 5
            && car
                .plan
                .stops
                .first()
                .is_some_and(|s| s.in_lap <= lap_no + 10);
        if !(planned_now || worn_out || cheap_stop) {
            return false;
        }
        let stop = if car.plan.stops.is_empty() {
            PlannedStop {
                in_lap: lap_no,
                compound: strategy::compound_for_final_stint(laps_after, &car.used_compounds()),
            }
        } else {
            car.plan.stops.remove(0)
        };
        let used = car.used_compounds();
        let compound = if car.plan.stops.is_empty() {
            let lasts =
                strategy::cliff_laps(compound_params(stop.compound)) >= f64::from(laps_after) + 1.0;
            if lasts {
                strategy::compound_for_stop(stop.compound, &used, true)
            } else {
                strategy::compound_for_final_stint(laps_after, &used)
            }
        } else {
            stop.compound
        };
        car.pending_compound = Some(compound);
        true
    }

    /// Car `i` catches the car ahead on this lap: it is held up behind it, or passes it and then meets the next
    /// one. Pace is compared on unimpeded lap times, so a car stuck in a train does not look slow.
    fn fight(&mut self, i: usize, first_ahead: usize, plan: &mut LapPlan) {
        let now = plan.start_s;
        let lap_no = plan.lap;
        let my_free_s = self.cars[i].free_lap_s;
        let mut ahead = Some(first_ahead);
        while let Some(a) = ahead {
            let t = &self.track;
            let ahead_plan = self.cars[a].current();
            if ahead_plan.lap != lap_no || ahead_plan.kind != LapKind::Normal {
                return;
            }
            let ahead_end = ahead_plan.end_s();
            if plan.end_s() >= ahead_end + t.min_gap_s {
                return;
            }
            let pace_advantage_s = self.cars[a].free_lap_s - my_free_s;
            let vmax_advantage = self.cars[i].driver.vmax_kph - self.cars[a].driver.vmax_kph;
            let required_s =
                t.overtake_threshold_s + t.overtake_threshold_per_kph_s * vmax_advantage;
            // A logistic step around the threshold rather than a hard edge: some moves work with less, some fail.
            let p_pass = 1.0 / (1.0 + libm::exp(-(pace_advantage_s - required_s) / 0.25));
            let (min_gap, duel) = (t.min_gap_s, t.duel_loss_s);
            if !self.rng.chance(p_pass) {
                plan.retime_end(now, ahead_end + min_gap);
                return;
            }
            let my_end = plan.end_s() + duel;
            plan.retime_end(now, my_end);
            let pushed = (ahead_end + duel).max(my_end + min_gap);
            self.cars[a].current_mut().retime_end(now, pushed);
            if self.rng.chance(0.03) {
                let victim = if self.rng.chance(0.5) { i } else { a };
                self.contact_damage(victim);
            }
            ahead = self.car_ahead_at_line(a, ahead_end);
        }
    }

    /// Wing damage from contact in a fight.
    fn contact_damage(&mut self, victim: usize) {
        let hit = self.rng.range(5.0, 30.0);
        let left = self.rng.chance(0.5);
        let d = &mut self.cars[victim].damage;
        let wing = if left {
            &mut d.front_left_wing_pct
        } else {
            &mut d.front_right_wing_pct
        };
        *wing = (*wing + hit).min(100.0);
    }

    /// The running car on the same lap as car `a` that is due at the line last before `end_s`.
    fn car_ahead_at_line(&self, a: usize, end_s: f64) -> Option<usize> {
        self.running_on_lap(a, self.cars[a].current().lap)
            .filter(|(_, c)| c.current().end_s() < end_s)
            .max_by(|(_, x), (_, y)| x.current().end_s().total_cmp(&y.current().end_s()))
            .map(|(j, _)| j)
    }

    /// The running cars other than car `i` that are on lap `lap`, with their indices.
    fn running_on_lap(&self, i: usize, lap: u32) -> impl Iterator<Item = (usize, &SimCar)> {
        self.cars.iter().enumerate().filter(move |(j, c)| {
            *j != i && c.is_running() && c.has_started() && c.current().lap == lap
        })
    }

    fn draw_retirement(&mut self, i: usize, lap_no: u32, plan: &LapPlan) -> Option<Retirement> {
        let total = f64::from(self.track.total_laps.max(1));
        let car = &self.cars[i];
        let first_lap_factor = if lap_no == 1 { 4.0 } else { 1.0 };
        let p_accident = car.driver.p_accident / total * first_lap_factor;
        let p_failure = car.team.p_failure / total;
        let cause = if self.rng.chance(p_accident) {
            Cause::Accident
        } else if self.rng.chance(p_failure) {
            Cause::Failure
        } else {
            return None;
        };
        let frac = self.rng.range(0.05, 0.95);
        Some(Retirement {
            at_s: plan.start_s + plan.time_at_frac(frac),
            cause,
        })
    }

    // --- queries ----------------------------------------------------------------------------------------------

    fn track_status(&self) -> TrackStatus {
        self.fcy.map_or(TrackStatus::Green, |f| f.status)
    }

    fn neutralised_mult(&self, status: TrackStatus) -> f64 {
        match status {
            TrackStatus::VirtualSafetyCar => self.track.vsc_lap_mult,
            _ => self.track.sc_lap_mult,
        }
    }

    /// Index of the running car furthest round, if any.
    fn leader_index(&self) -> Option<usize> {
        let now = self.now_s;
        self.cars
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_running() && c.has_started())
            .max_by(|(_, a), (_, b)| a.progress_at(now).total_cmp(&b.progress_at(now)))
            .map(|(i, _)| i)
    }

    /// The running car directly ahead of car `i` on the road that is on the same lap `lap_no`.
    fn car_ahead_on_road(&self, i: usize, lap_no: u32, now: f64) -> Option<usize> {
        if lap_no == 1 {
            // Everyone is on the line at the start: the car ahead is the one a grid slot ahead.
            let grid = self.cars[i].driver.grid;
            return self
                .cars
                .iter()
                .position(|c| c.driver.grid + 1 == grid && c.has_started());
        }
        let mine = f64::from(lap_no - 1);
        self.running_on_lap(i, lap_no)
            .filter(|(_, c)| c.progress_at(now) >= mine)
            .min_by(|(_, a), (_, b)| a.progress_at(now).total_cmp(&b.progress_at(now)))
            .map(|(j, _)| j)
    }

    /// The race as a [`RaceState`] at the current time.
    pub fn state(&self) -> RaceState {
        let now = self.now_s;
        let t = &self.track;
        let order = self.running_order();
        let leader = &self.cars[order[0]];
        let leader_progress = leader.progress_at(now);
        let leader_lap = if leader.status == ResultStatus::Finished {
            t.total_laps
        } else {
            leader.current().lap.min(t.total_laps)
        };
        let cars = order
            .iter()
            .enumerate()
            .map(|(pos, &ci)| {
                let ahead = pos.checked_sub(1).map(|p| &self.cars[order[p]]);
                self.car_state(
                    &self.cars[ci],
                    pos as u8 + 1,
                    leader,
                    leader_progress,
                    ahead,
                )
            })
            .collect();
        let race_frac = (leader_progress / f64::from(t.total_laps)).clamp(0.0, 1.0);
        let phase = if self.is_finished() {
            SessionPhase::Finished
        } else if self.chequered {
            SessionPhase::Chequered
        } else {
            SessionPhase::Running
        };
        RaceState {
            schema_version: SCHEMA_VERSION,
            source: DataSource::Simulator,
            session_time_s: now,
            session: SessionInfo {
                track: t.name.to_owned(),
                track_length_m: t.length_m,
                total_laps: t.total_laps,
                session_type: SessionType::Race,
                phase,
                leader_lap,
                weather: Weather::Clear,
                // A dusk race: the track cools as the sun sets.
                air_temp_c: t.air_temp_c - 2.0 * race_frac,
                track_temp_c: t.track_temp_c - 7.0 * race_frac,
                forecast: Vec::new(),
                track_status: self.track_status(),
                pit_lane_loss_s: t.pit_inlap_loss_s[0]
                    + t.pit_outlap_loss_s[0]
                    + t.pit_standstill_min_s
                    + 0.7,
                timing_only: false,
            },
            cars,
        }
    }

    /// Car indices in running order: finished and running cars by distance covered (finishers by flag order),
    /// then retired cars by distance covered.
    fn running_order(&self) -> Vec<usize> {
        let now = self.now_s;
        let mut order: Vec<usize> = (0..self.cars.len()).collect();
        order.sort_by(|&a, &b| {
            let (ca, cb) = (&self.cars[a], &self.cars[b]);
            ca.status
                .is_out()
                .cmp(&cb.status.is_out())
                .then(cb.progress_at(now).total_cmp(&ca.progress_at(now)))
                .then(
                    ca.finish_rank
                        .unwrap_or(u32::MAX)
                        .cmp(&cb.finish_rank.unwrap_or(u32::MAX)),
                )
                .then(
                    ca.out_at_s
                        .unwrap_or(f64::MAX)
                        .total_cmp(&cb.out_at_s.unwrap_or(f64::MAX)),
                )
                .then(ca.driver.grid.cmp(&cb.driver.grid))
        });
        order
    }

    fn car_state(
        &self,
        car: &SimCar,
        position: u8,
        leader: &SimCar,
        leader_progress: f64,
        ahead: Option<&SimCar>,
    ) -> CarState {
        let now = self.now_s;
        let t = &self.track;
        let cur = car.current();
        let progress = car.progress_at(now);
        let frac = if car.status == ResultStatus::Finished {
            1.0
        } else {
            cur.frac_at(now)
        };
        let at_s = car.out_at_s.unwrap_or(now);
        let gap_to = |other: &SimCar| -> Option<f64> {
            if std::ptr::eq(other, car) || car.status.is_out() || other.status.is_out() {
                return None;
            }
            Some((at_s - other.time_at_progress(progress)).max(0.0))
        };
        let gap_to_leader_s = gap_to(leader);
        let interval_s = ahead.and_then(gap_to);
        let laps_down = if car.status.is_out() {
            0
        } else {
            (leader_progress - progress).max(0.0).floor() as u32
        };

        let running = car.is_running();
        let (pit_status, driver_status) = match cur.kind {
            _ if !running => (
                PitStatus::None,
                if car.status == ResultStatus::Finished {
                    DriverStatus::OnTrack
                } else {
                    DriverStatus::InGarage
                },
            ),
            LapKind::OutLap { exit_frac, .. } if frac < exit_frac => (
                if cur.is_stationary(now) {
                    PitStatus::PitBox
                } else {
                    PitStatus::PitLane
                },
                DriverStatus::OutLap,
            ),
            LapKind::OutLap { .. } => (PitStatus::None, DriverStatus::OutLap),
            LapKind::InLap { entry_frac } if frac >= entry_frac => {
                (PitStatus::PitLane, DriverStatus::InLap)
            }
            LapKind::InLap { .. } => (PitStatus::None, DriverStatus::InLap),
            LapKind::Normal => (PitStatus::None, DriverStatus::FlyingLap),
        };
        let speed_kph = if running {
            cur.segment_speed_mps(now, t.length_m) * 3.6 * speed_shape(frac)
        } else {
            0.0
        };
        let (throttle_pct, brake_pct) = match pit_status {
            _ if speed_kph < 1.0 => (0.0, 0.0),
            // Holding the pit-lane speed limit.
            PitStatus::PitLane | PitStatus::PitBox => (35.0, 0.0),
            PitStatus::None => pedals(frac),
        };

        // Consumables move linearly over the lap from their values at the line to the planned end values.
        let (s, e) = (&car.lap_start, &car.lap_end);
        let lerp = |a: f64, b: f64| a + (b - a) * frac;
        let corner = |k: usize| {
            let inner = lerp(s.inner_c[k], e.inner_c[k]);
            TyreCorner {
                wear_pct: lerp(s.wear_pct[k], e.wear_pct[k]),
                surface_temp_c: lerp(s.surface_c[k], e.surface_c[k]),
                inner_temp_c: inner,
                // Hot pressures rise about 0.05 psi per °C from the cold set-up (fronts 22.5, rears 20.5 psi at 90 °C).
                pressure_psi: if k < 2 { 22.5 } else { 20.5 } + 0.05 * (inner - 90.0),
                // Not modelled.
                blister_pct: None,
            }
        };
        let neutral = self.track_status().is_neutralised();
        let ers_store_pct = if neutral {
            (car.ers_base_pct + 40.0 * frac).min(100.0)
        } else {
            (car.ers_base_pct + ers_shape(frac)).clamp(0.0, 100.0)
        };

        CarState {
            car_idx: car.idx,
            position,
            driver: Driver {
                code: car.driver.code.to_owned(),
                name: car.driver.name.to_owned(),
                number: car.driver.number,
            },
            team: Team {
                name: car.team.name.to_owned(),
                colour: car.team.colour.to_owned(),
            },
            grid_position: car.driver.grid,
            lap: cur.lap.min(t.total_laps),
            lap_distance_m: (frac * t.length_m).clamp(0.0, t.length_m),
            speed_kph,
            throttle_pct,
            brake_pct,
            gear: gear_for(speed_kph),
            current_lap_s: if running { now - cur.start_s } else { 0.0 },
            last_lap_s: car.last_lap_s,
            best_lap_s: car.best_lap_s,
            last_sectors_s: car.last_sectors_s,
            best_sectors_s: car.best_sectors_s,
            gap_to_leader_s,
            interval_s,
            laps_down,
            pit_status,
            pit_stops: car.pit_stops,
            penalties_s: car.penalty_s,
            unserved_penalties: 0,
            stints: car.stints.clone(),
            tyres: TyreSet {
                compound: car.compound,
                age_laps: car.tyre_age_laps,
                corners: Corners::from_array([corner(0), corner(1), corner(2), corner(3)]),
            },
            fuel_kg: lerp(s.fuel_kg, e.fuel_kg).max(0.0),
            ers_store_pct,
            damage: car.damage,
            driver_status,
            result_status: car.status,
            telemetry_restricted: false,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Fcy,
    Retire(usize),
    Cross(usize),
}

fn new_car(
    rng: &mut SimRng,
    track: &TrackParams,
    idx: u8,
    driver: &'static DriverParams,
) -> SimCar {
    let team = &calibration::TEAMS[driver.team];
    // 2019 rules: the top ten start on the tyres they set their Q2 time on (used softs, two laps old).
    let top_ten = driver.grid <= 10;
    let plan = strategy::draw_plan(rng, track.total_laps, top_ten);
    let start_age = if top_ten && plan.start == Compound::Soft {
        2
    } else {
        0
    };
    let cp = compound_params(plan.start);
    let wear0 = f64::from(start_age) * cp.wear_pct_per_lap;
    let start = Consumables {
        wear_pct: CORNER_WEAR_SPLIT.map(|s| wear0 * s),
        surface_c: [cp.working_temp_c - 15.0; 4],
        inner_c: [cp.working_temp_c - 18.0; 4],
        fuel_kg: track.start_fuel_kg,
    };
    SimCar {
        idx,
        driver,
        team,
        laps: Vec::with_capacity(track.total_laps as usize + 1),
        status: ResultStatus::Active,
        out_at_s: None,
        finish_rank: None,
        retirement: None,
        last_lap_s: None,
        best_lap_s: None,
        last_sectors_s: [None; 3],
        best_sectors_s: [None; 3],
        stints: vec![Stint {
            compound: plan.start,
            start_lap: 1,
            laps: 0,
            start_age_laps: start_age,
        }],
        compound: plan.start,
        tyre_age_laps: start_age,
        lap_start: start,
        lap_end: start,
        burn_nominal_kg: track.fuel_per_lap_kg * rng.range(0.975, 1.005),
        plan,
        pit_stops: 0,
        pending_compound: None,
        damage: Damage::default(),
        ers_base_pct: rng.range(55.0, 75.0),
        free_lap_s: 0.0,
        penalty_s: 0,
    }
}

/// A draw from a Fisk (log-logistic) distribution with TUMFTM's `[c, loc, scale]` parameters.
fn fisk(rng: &mut SimRng, [c, loc, scale]: [f64; 3]) -> f64 {
    let u = rng.range(1e-9, 1.0 - 1e-9);
    (loc + scale * libm::pow(u / (1.0 - u), 1.0 / c)).max(0.0)
}

/// Relative speed along a lap of Sakhir (1.0 = the lap's mean): long straights into slow corners. Illustrative,
/// so that the speed channel moves like a real one; lap and sector times never depend on it.
fn speed_shape(frac: f64) -> f64 {
    const SHAPE: [f64; 16] = [
        1.45, 1.5, 0.45, 0.8, 1.05, 0.9, 0.75, 1.2, 0.55, 0.85, 1.3, 1.35, 0.6, 0.9, 1.25, 1.4,
    ];
    let x = frac.clamp(0.0, 1.0) * SHAPE.len() as f64;
    let i = (x.floor() as usize).min(SHAPE.len() - 1);
    let j = (i + 1) % SHAPE.len();
    SHAPE[i] + (SHAPE[j] - SHAPE[i]) * (x - i as f64)
}

/// Throttle and brake, percent, at `frac` of a lap on track: they follow [`speed_shape`]'s slope. Flat out where
/// the speed rises, braking in proportion to the drop where it falls hard (a corner's entry), part throttle where
/// it eases off (a fast sweep).
fn pedals(frac: f64) -> (f64, f64) {
    let step = 1e-3;
    let slope =
        (speed_shape((frac + step).min(1.0)) - speed_shape((frac - step).max(0.0))) / (2.0 * step);
    // `slope` is in shape units per lap: the hardest stop of the shape (1.5 → 0.45 in 1/16 lap) is about -17.
    if slope < -4.0 {
        (0.0, (slope.abs() * 6.0).min(100.0))
    } else if slope < 0.0 {
        (40.0, 0.0)
    } else {
        (100.0, 0.0)
    }
}

/// The gear a car runs at `speed_kph`: neutral when stopped, then a gear per 45 km/h up to eighth.
fn gear_for(speed_kph: f64) -> i8 {
    if speed_kph < 1.0 {
        0
    } else {
        // In 1..=8 by the clamp.
        (speed_kph / 45.0).ceil().clamp(1.0, 8.0) as i8
    }
}

/// ERS store relative to its value at the line over a lap: deploy on the straights, harvest under braking.
fn ers_shape(frac: f64) -> f64 {
    const KNOTS: [(f64, f64); 5] = [
        (0.0, 0.0),
        (0.31, -22.0),
        (0.52, 12.0),
        (0.71, -4.0),
        (1.0, 0.0),
    ];
    for w in KNOTS.windows(2) {
        let ((f0, v0), (f1, v1)) = (w[0], w[1]);
        if frac <= f1 {
            return v0 + (v1 - v0) * (frac - f0) / (f1 - f0);
        }
    }
    0.0
}

#[cfg(test)]
mod tests;
