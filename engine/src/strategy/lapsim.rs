//! One race, lap by lap, for the whole field: lap time = base + car/driver + fuel mass + tyre degradation + noise
//! (+ start, pit, cold-tyre and DRS terms), then the cars interact at the line (minimum gap, overtaking threshold
//! adjusted for top speed, duel losses), under green, SC (the field bunches behind the safety car) or VSC (everyone
//! slows by the same factor). Random SCs (each caused by an accident), failures (each perhaps followed by a VSC)
//! and pit-stop variability are drawn per run, TUMFTM's procedure.
//!
//! [`Prepared`] flattens a [`RaceModel`] and the plans into arrays once; a [`Runner`] reuses its buffers across
//! runs, so a race allocates nothing. With no random stream the race is deterministic: no noise, mean start
//! performance, no random events, the teams' mean stop times.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::model::{Degradation, FcyKind, FcyPhase, Fisk, Plan, RaceModel};
use super::rng::{NormalTable, Stream};
use crate::wire::Compound;

/// The longest extra standstill drawn from a team's stop-time distribution: its tail is heavy (a Fisk with shape
/// near 1.5), and a wheel-nut failure costs tens of seconds, not minutes.
const MAX_STOP_EXTRA_S: f64 = 30.0;

/// Why a race cannot be simulated.
#[derive(Debug, Error, PartialEq)]
pub enum SimError {
    /// The model has no drivers.
    #[error("the race model has no drivers")]
    NoDrivers,
    /// More drivers than positions can be stored.
    #[error("{0} drivers: at most 255 are supported")]
    TooManyDrivers(usize),
    /// The model's distance is zero.
    #[error("the race has no laps")]
    NoLaps,
    /// Plans and drivers do not match.
    #[error("{plans} plans for {drivers} drivers")]
    PlanCount {
        /// Plans given.
        plans: usize,
        /// Drivers in the model.
        drivers: usize,
    },
    /// A plan uses a compound the driver has no degradation data for.
    #[error("{driver} has no tyre model for {compound:?}")]
    NoTyreModel {
        /// Driver code.
        driver: String,
        /// The compound.
        compound: Compound,
    },
    /// A plan has no start compound.
    #[error("{0}'s plan has no start compound")]
    NoStartCompound(String),
    /// A stop outside the race or out of order.
    #[error("{driver}'s stop on lap {lap} is outside laps 1–{last} or out of order")]
    BadStop {
        /// Driver code.
        driver: String,
        /// The in-lap.
        lap: u32,
        /// The last lap a stop can be on.
        last: u32,
    },
    /// A car index outside the field.
    #[error("no car {0} in the race model")]
    NoSuchCar(usize),
    /// A start state that does not fit the model.
    #[error("the start state: {0}")]
    BadStart(String),
}

/// Where a simulation starts when it is not the grid: the live race after `completed_laps` laps (leader laps).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaceStart {
    /// Laps the leader has completed; the simulation runs the rest.
    pub completed_laps: u32,
    /// Per driver of the model, in the model's order.
    pub cars: Vec<CarStart>,
}

impl RaceStart {
    /// The running cars (indices into `cars`) in race order: laps done, then race time.
    pub fn running_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.cars.len())
            .filter(|&i| !self.cars[i].retired)
            .collect();
        order.sort_by(|&a, &b| {
            let (ca, cb) = (&self.cars[a], &self.cars[b]);
            cb.laps
                .cmp(&ca.laps)
                .then(ca.race_time_s.total_cmp(&cb.race_time_s))
        });
        order
    }
}

/// One car when the simulation starts mid-race.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CarStart {
    /// Race time at the end of its last completed lap, seconds (the leader's clock; lapped cars included).
    pub race_time_s: f64,
    /// Laps it has completed (fewer than the leader's when lapped).
    pub laps: u32,
    /// Tyres fitted.
    pub compound: Compound,
    /// Their age, laps.
    pub tyre_age_laps: f64,
    /// Fuel on board, kilograms.
    pub fuel_kg: f64,
    /// Out of the race.
    pub retired: bool,
}

/// A car's constants.
#[derive(Clone, Debug)]
struct CarConst {
    pace_s: f64,
    fuel_start_kg: f64,
    burn: [f64; 3],
    wear: [f64; 3],
    sigma_s: f64,
    start_mean_s: f64,
    start_sigma_s: f64,
    grid_loss_s: f64,
    stop_min_s: f64,
    crew_mean_s: f64,
    stop_var: Option<Fisk>,
    cold_s: f64,
    top_speed: f64,
    p_accident: f64,
    p_failure: f64,
}

/// A tyre set: its degradation and age when fitted.
#[derive(Clone, Copy, Debug)]
struct TyreSet {
    /// `k0 + a·(k1 + a·(k2 + a·k3))`, or with `log`, `k0 + k1·ln(k2·a + 1)`: every model in one shape, so the
    /// hot loop evaluates it without matching on the model.
    k: [f64; 4],
    log: bool,
    age: f64,
}

/// A planned stop as the simulation uses it.
#[derive(Clone, Copy, Debug)]
struct Stop {
    lap: u32,
    set: TyreSet,
}

const GREEN: u8 = 0;
const SC: u8 = 1;
const VSC: u8 = 2;

/// A model and its plans, flattened for fast runs.
#[derive(Clone, Debug)]
pub struct Prepared {
    total_laps: u32,
    first_lap: u32,
    cars: Vec<CarConst>,
    start_set: Vec<TyreSet>,
    stops: Vec<Vec<Stop>>,
    start_time: Vec<f64>,
    start_laps: Vec<u32>,
    start_fuel: Vec<f64>,
    start_retired: Vec<bool>,
    start_order: Vec<u8>,
    base_lap_s: f64,
    fuel_s_per_kg: f64,
    pit_in: [f64; 3],
    pit_out: [f64; 3],
    pits_after_line: bool,
    standing_start_s: f64,
    sc_factor: f64,
    vsc_factor: f64,
    min_gap: [f64; 3],
    duel_s: f64,
    overtaken_s: f64,
    threshold_s: f64,
    threshold_per_kmh: f64,
    drs: Option<super::model::Drs>,
    fixed_fcy: Option<Vec<(u32, u32, u8)>>,
    fixed_retirements: Option<Vec<(usize, u32)>>,
    sc_count: Vec<f64>,
    sc_start: [f64; 6],
    sc_laps: Vec<f64>,
    vsc_after_failure: f64,
    vsc_laps: Vec<f64>,
    min_gap_laps: u32,
    table: NormalTable,
}

impl TyreSet {
    /// Lap-time loss at the set's age; the same value as [`Degradation::loss_s`] (the linear model's zero terms
    /// add exact zeros).
    #[inline]
    fn loss_s(&self) -> f64 {
        let [k0, k1, k2, k3] = self.k;
        let a = self.age;
        if self.log {
            k0 + k1 * libm::log(k2 * a + 1.0)
        } else {
            k0 + a * (k1 + a * (k2 + a * k3))
        }
    }
}

impl Prepared {
    /// Prepares `model` with `plans` (one per driver, in the model's order) from the grid, or from `start`.
    pub fn new(
        model: &RaceModel,
        plans: &[Plan],
        start: Option<&RaceStart>,
    ) -> Result<Self, SimError> {
        let n = model.drivers.len();
        if n == 0 {
            return Err(SimError::NoDrivers);
        }
        if n > 255 {
            return Err(SimError::TooManyDrivers(n));
        }
        if model.total_laps == 0 {
            return Err(SimError::NoLaps);
        }
        if plans.len() != n {
            return Err(SimError::PlanCount {
                plans: plans.len(),
                drivers: n,
            });
        }
        if let Some(s) = start {
            if s.cars.len() != n {
                return Err(SimError::BadStart(format!(
                    "{} cars for {n} drivers",
                    s.cars.len()
                )));
            }
            if s.completed_laps >= model.total_laps {
                return Err(SimError::BadStart(format!(
                    "{} laps completed of {}",
                    s.completed_laps, model.total_laps
                )));
            }
        }
        let t = &model.timing;
        let completed = start.map_or(0, |s| s.completed_laps);
        let mut cars = Vec::with_capacity(n);
        let mut start_set = Vec::with_capacity(n);
        let mut stops = Vec::with_capacity(n);
        for (d, plan) in model.drivers.iter().zip(plans) {
            let set = |compound: Compound, age: f64| -> Result<TyreSet, SimError> {
                let deg = d.tyres.of(compound).ok_or_else(|| SimError::NoTyreModel {
                    driver: d.code.clone(),
                    compound,
                })?;
                let (k, log) = match deg.deg {
                    Degradation::Linear { k0, k1 } => ([k0, k1, 0.0, 0.0], false),
                    Degradation::Quadratic { k0, k1, k2 } => ([k0, k1, k2, 0.0], false),
                    Degradation::Cubic { k0, k1, k2, k3 } => ([k0, k1, k2, k3], false),
                    Degradation::Logarithmic { k0, k1, k2 } => ([k0, k1, k2, 0.0], true),
                };
                Ok(TyreSet { k, log, age })
            };
            // Stops still to come, in the car's own laps (a lapped car has done fewer than the leader).
            let own_laps = start.map_or(0, |st| st.cars[stops.len()].laps);
            let mut last = 0;
            let mut planned = Vec::new();
            for s in &plan.stops {
                if s.lap <= last || s.lap >= model.total_laps {
                    return Err(SimError::BadStop {
                        driver: d.code.clone(),
                        lap: s.lap,
                        last: model.total_laps - 1,
                    });
                }
                last = s.lap;
                if s.lap > own_laps {
                    planned.push(Stop {
                        lap: s.lap,
                        set: set(s.compound, f64::from(s.age_laps))?,
                    });
                }
            }
            let fitted = match start {
                Some(st) => {
                    let c = &st.cars[stops.len()];
                    set(c.compound, c.tyre_age_laps)?
                }
                None => {
                    let compound = plan
                        .start
                        .ok_or_else(|| SimError::NoStartCompound(d.code.clone()))?;
                    set(compound, f64::from(plan.start_age_laps))?
                }
            };
            start_set.push(fitted);
            stops.push(planned);
            cars.push(CarConst {
                pace_s: t.base_lap_s + d.pace_offset_s + d.team_order_s,
                fuel_start_kg: d.fuel.start_kg,
                burn: [
                    d.fuel.burn_kg_per_lap,
                    d.fuel.burn_kg_per_lap * d.fuel.sc_factor,
                    d.fuel.burn_kg_per_lap * d.fuel.vsc_factor,
                ],
                wear: [1.0, d.tyres.sc_wear_factor, d.tyres.vsc_wear_factor],
                sigma_s: d.lap_sigma_s,
                start_mean_s: d.start_mean_s,
                start_sigma_s: d.start_sigma_s,
                grid_loss_s: t.grid_loss_per_slot_s * f64::from(d.grid.max(1) - 1),
                stop_min_s: t.tyre_change_min_s,
                crew_mean_s: d.pit_crew_extra_s,
                stop_var: d.pit_variability,
                cold_s: d.tyres.cold_tyre_s,
                top_speed: d.top_speed_kmh,
                p_accident: d.p_accident,
                p_failure: d.p_failure,
            });
        }
        let (start_time, start_laps, start_fuel, start_retired, start_order) = match start {
            Some(st) => {
                let mut order: Vec<u8> = (0..n as u8).collect();
                order.sort_by(|&a, &b| {
                    let (ca, cb) = (&st.cars[a as usize], &st.cars[b as usize]);
                    cb.laps
                        .cmp(&ca.laps)
                        .then(ca.race_time_s.total_cmp(&cb.race_time_s))
                });
                (
                    st.cars.iter().map(|c| c.race_time_s).collect(),
                    st.cars.iter().map(|c| c.laps).collect(),
                    st.cars.iter().map(|c| c.fuel_kg).collect(),
                    st.cars.iter().map(|c| c.retired).collect(),
                    order,
                )
            }
            None => {
                let mut order: Vec<u8> = (0..n as u8).collect();
                order.sort_by_key(|&i| model.drivers[i as usize].grid);
                (
                    vec![0.0; n],
                    vec![0; n],
                    cars.iter().map(|c| c.fuel_start_kg).collect(),
                    vec![false; n],
                    order,
                )
            }
        };
        let fixed_fcy = model.fixed.fcy.as_ref().map(|phases| {
            phases
                .iter()
                .map(|p| {
                    let (first, last) = phase_laps(p, model.total_laps);
                    (first, last, if p.kind == FcyKind::Sc { SC } else { VSC })
                })
                .collect()
        });
        let fixed_retirements = model.fixed.retirements.as_ref().map(|r| {
            r.iter()
                .filter(|r| r.driver < n)
                .map(|r| (r.driver, (r.at.floor() as u32 + 1).max(1)))
                .collect()
        });
        let mut sc_start = model.random.sc_start;
        for p in &mut sc_start {
            *p = p.max(0.0);
        }
        Ok(Prepared {
            total_laps: model.total_laps,
            first_lap: completed + 1,
            cars,
            start_set,
            stops,
            start_time,
            start_laps,
            start_fuel,
            start_retired,
            start_order,
            base_lap_s: t.base_lap_s,
            fuel_s_per_kg: t.fuel_s_per_kg,
            pit_in: [t.pit.in_green_s, t.pit.in_sc_s, t.pit.in_vsc_s],
            pit_out: [t.pit.out_green_s, t.pit.out_sc_s, t.pit.out_vsc_s],
            pits_after_line: t.pits_after_line,
            standing_start_s: t.standing_start_s,
            sc_factor: t.sc_factor,
            vsc_factor: t.vsc_factor,
            min_gap: [
                model.interaction.min_gap_s,
                model.interaction.min_gap_sc_s,
                model.interaction.min_gap_s,
            ],
            duel_s: model.interaction.duel_loss_s,
            overtaken_s: model.interaction.overtaken_loss_s,
            threshold_s: model.interaction.overtake_threshold_s,
            threshold_per_kmh: model.interaction.overtake_threshold_per_kmh_s,
            drs: model.interaction.drs,
            fixed_fcy,
            fixed_retirements,
            sc_count: model.random.sc_count.clone(),
            sc_start,
            sc_laps: model.random.sc_laps.clone(),
            vsc_after_failure: model.random.vsc_after_failure,
            vsc_laps: model.random.vsc_laps.clone(),
            min_gap_laps: model.random.min_gap_laps.ceil().max(0.0) as u32,
            table: NormalTable::new(),
        })
    }

    /// Number of drivers.
    pub fn drivers(&self) -> usize {
        self.cars.len()
    }

    /// Race distance, laps.
    pub fn total_laps(&self) -> u32 {
        self.total_laps
    }
}

/// The laps a phase in race progress covers: from the lap during which it starts to the lap during which it ends.
fn phase_laps(p: &FcyPhase, total_laps: u32) -> (u32, u32) {
    let first = (p.start.max(0.0).floor() as u32 + 1).min(total_laps);
    let last = (p.end.max(p.start).ceil() as u32).clamp(first, total_laps);
    (first, last)
}

/// The result of one race.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Finishing position per driver (1-based), retired cars classified behind the running ones by laps done.
    pub position: Vec<u8>,
    /// Race time per driver at its last crossing, seconds.
    pub race_time_s: Vec<f64>,
    /// Laps completed per driver.
    pub laps: Vec<u32>,
    /// Did not finish.
    pub dnf: Vec<bool>,
    /// Laps under a SC.
    pub sc_laps: u32,
    /// Laps under a VSC.
    pub vsc_laps: u32,
    /// Overtakes on track under green after lap 1 (neither car in the pit lane).
    pub passes: u32,
}

/// Runs races of one [`Prepared`] model, reusing buffers.
#[derive(Debug)]
pub struct Runner<'p> {
    p: &'p Prepared,
    status: Vec<u8>,
    retire_lap: Vec<u32>,
    order: Vec<u8>,
    cand: Vec<f64>,
    lap_time: Vec<f64>,
    time: Vec<f64>,
    laps: Vec<u32>,
    fuel: Vec<f64>,
    set: Vec<TyreSet>,
    next_stop: Vec<usize>,
    next_stop_lap: Vec<u32>,
    pit_add: Vec<f64>,
    racing: Vec<u8>,
    out_lap: Vec<bool>,
    pitting: Vec<bool>,
    running: Vec<bool>,
    /// Scratch: the accident weights of a SC's draw.
    weights: Vec<f64>,
    outcome: Outcome,
}

impl<'p> Runner<'p> {
    /// A runner for `p`.
    pub fn new(p: &'p Prepared) -> Self {
        let n = p.drivers();
        Runner {
            p,
            status: vec![GREEN; p.total_laps as usize + 2],
            retire_lap: vec![u32::MAX; n],
            order: Vec::with_capacity(n),
            cand: vec![0.0; n],
            lap_time: vec![0.0; n],
            time: vec![0.0; n],
            laps: vec![0; n],
            fuel: vec![0.0; n],
            set: p.start_set.clone(),
            next_stop: vec![0; n],
            next_stop_lap: vec![u32::MAX; n],
            pit_add: vec![0.0; n],
            racing: Vec::with_capacity(n),
            out_lap: vec![false; n],
            pitting: vec![false; n],
            running: vec![true; n],
            weights: Vec::with_capacity(n),
            outcome: Outcome {
                position: vec![0; n],
                race_time_s: vec![0.0; n],
                laps: vec![0; n],
                dnf: vec![false; n],
                sc_laps: 0,
                vsc_laps: 0,
                passes: 0,
            },
        }
    }

    /// Runs one race: random when `rng` is given, deterministic otherwise.
    pub fn run(&mut self, mut rng: Option<&mut Stream>) -> &Outcome {
        self.reset();
        self.draw_events(rng.as_deref_mut());
        let p = self.p;
        let mut last_neutral = 0u32;
        let mut next_retirement = self.retire_lap.iter().copied().min().unwrap_or(u32::MAX);
        for lap in p.first_lap..=p.total_laps {
            let status = self.status[lap as usize];
            if lap >= next_retirement {
                self.retire(lap);
                next_retirement = self
                    .retire_lap
                    .iter()
                    .zip(&self.running)
                    .filter(|(_, running)| **running)
                    .map(|(l, _)| *l)
                    .min()
                    .unwrap_or(u32::MAX);
            }
            match rng.as_deref_mut() {
                Some(rng) => self.lap_times::<true>(lap, status, last_neutral, rng),
                None => {
                    // Never drawn from: the deterministic instance of the loop compiles the draws away.
                    let mut unused = Stream::for_chunk(0, 0);
                    self.lap_times::<false>(lap, status, last_neutral, &mut unused);
                }
            }
            self.interact(status, lap);
            self.finish_lap(status);
            if status != GREEN {
                last_neutral = lap;
            }
        }
        self.classify();
        &self.outcome
    }

    fn reset(&mut self) {
        let p = self.p;
        self.status.fill(GREEN);
        self.retire_lap.fill(u32::MAX);
        self.order.clear();
        self.order.extend_from_slice(&p.start_order);
        self.time.copy_from_slice(&p.start_time);
        self.laps.copy_from_slice(&p.start_laps);
        self.fuel.copy_from_slice(&p.start_fuel);
        self.set.copy_from_slice(&p.start_set);
        self.next_stop.fill(0);
        for (lap, stops) in self.next_stop_lap.iter_mut().zip(&p.stops) {
            *lap = stops.first().map_or(u32::MAX, |s| s.lap);
        }
        self.out_lap.fill(false);
        for (running, retired) in self.running.iter_mut().zip(&p.start_retired) {
            *running = !retired;
        }
        self.order.retain(|&c| !p.start_retired[c as usize]);
        self.outcome.sc_laps = 0;
        self.outcome.vsc_laps = 0;
        self.outcome.passes = 0;
    }

    /// Fixed events, then (with a stream) random SCs with their accidents, failures and the VSCs they bring.
    fn draw_events(&mut self, rng: Option<&mut Stream>) {
        let p = self.p;
        let total = p.total_laps;
        if let Some(fixed) = &p.fixed_fcy {
            for &(first, last, kind) in fixed {
                for lap in first..=last {
                    self.status[lap as usize] = kind;
                }
            }
        }
        if let Some(fixed) = &p.fixed_retirements {
            for &(driver, lap) in fixed {
                self.retire_lap[driver] = self.retire_lap[driver].min(lap);
            }
        }
        let Some(rng) = rng else {
            return;
        };
        let first = p.first_lap;
        if p.fixed_fcy.is_none() {
            let count = rng.weighted(&p.sc_count).unwrap_or(0);
            for _ in 0..count {
                let bin = rng.weighted(&p.sc_start).unwrap_or(0);
                let start = if bin == 0 {
                    1
                } else {
                    let fifth = f64::from(total) / 5.0;
                    let progress = fifth * ((bin - 1) as f64 + rng.uniform());
                    (progress.floor() as u32 + 1).clamp(2, total)
                };
                let laps = rng.weighted(&p.sc_laps).map_or(1, |i| i as u32 + 1);
                if start < first || !self.free(start, laps) {
                    continue;
                }
                self.neutralise(start, laps, SC);
                // TUMFTM: every SC is caused by an accident; its driver is drawn by accident probability.
                if p.fixed_retirements.is_none() {
                    let weights = &mut self.weights;
                    weights.clear();
                    weights.extend(p.cars.iter().enumerate().map(|(i, c)| {
                        if self.running[i] && self.retire_lap[i] == u32::MAX {
                            c.p_accident
                        } else {
                            0.0
                        }
                    }));
                    if let Some(i) = rng.weighted(weights) {
                        self.retire_lap[i] = start;
                    }
                }
            }
        }
        if p.fixed_retirements.is_none() {
            for i in 0..p.cars.len() {
                if !rng.chance(p.cars[i].p_failure) {
                    continue;
                }
                let lap = rng.below(total) + 1;
                if lap < first || !self.running[i] || self.retire_lap[i] <= lap {
                    continue;
                }
                self.retire_lap[i] = lap;
                // TUMFTM: a failure brings out a VSC or nothing.
                if p.fixed_fcy.is_none() && rng.chance(p.vsc_after_failure) {
                    let laps = rng.weighted(&p.vsc_laps).map_or(1, |i| i as u32 + 1);
                    if lap < total && self.free(lap + 1, laps) {
                        self.neutralise(lap + 1, laps, VSC);
                    }
                }
            }
        }
    }

    /// No neutralisation within the minimum distance of laps `start..start + laps`.
    fn free(&self, start: u32, laps: u32) -> bool {
        let lo = start.saturating_sub(self.p.min_gap_laps).max(1) as usize;
        let hi =
            ((start + laps - 1 + self.p.min_gap_laps) as usize).min(self.p.total_laps as usize);
        self.status[lo..=hi].iter().all(|s| *s == GREEN)
    }

    fn neutralise(&mut self, start: u32, laps: u32, kind: u8) {
        let last = (start + laps - 1).min(self.p.total_laps);
        for lap in start..=last {
            self.status[lap as usize] = kind;
        }
    }

    /// Cars whose retirement lap has come stop before completing it.
    fn retire(&mut self, lap: u32) {
        let (retire_lap, running) = (&self.retire_lap, &mut self.running);
        self.order.retain(|&c| {
            let out = retire_lap[c as usize] <= lap;
            if out {
                running[c as usize] = false;
            }
            !out
        });
    }

    /// Every running car's unhindered lap time, and its candidate crossing time.
    fn lap_times<const RANDOM: bool>(
        &mut self,
        lap: u32,
        status: u8,
        last_neutral: u32,
        rng: &mut Stream,
    ) {
        let p = self.p;
        let s = status as usize;
        let drs_on = p.drs.filter(|d| {
            status == GREEN
                && lap >= d.from_lap
                && (last_neutral == 0 || lap > last_neutral + d.after_sc_laps)
        });
        for k in 0..self.order.len() {
            let c = self.order[k] as usize;
            let car = &p.cars[c];
            let set = self.set[c];
            let mut drive = car.pace_s + self.fuel[c] * p.fuel_s_per_kg + set.loss_s();
            if RANDOM {
                drive += car.sigma_s * rng.normal(&p.table);
            }
            if lap == 1 {
                drive += p.standing_start_s + car.grid_loss_s + car.start_mean_s;
                if RANDOM {
                    drive += car.start_sigma_s * rng.normal(&p.table);
                }
            }
            drive = match status {
                // Behind the SC a car closes up to the train (see `interact`) faster than the delta, slower
                // than racing: halfway between its green lap and the VSC lap.
                SC => drive * (1.0 + p.vsc_factor) / 2.0,
                VSC => drive.max(p.base_lap_s * p.vsc_factor),
                _ => drive,
            };
            if let (Some(drs), true) = (drs_on, k > 0) {
                let ahead = self.order[k - 1] as usize;
                // A select, not a branch: whether a car is within the window is a coin toss the branch predictor
                // loses. Adding 0.0 to a positive lap time leaves it unchanged, bit for bit.
                let within = (self.time[c] - self.time[ahead] <= drs.window_s)
                    & (self.laps[c] == self.laps[ahead]);
                drive += if within { drs.effect_s } else { 0.0 };
            }
            let mut t = drive;
            let mut pitting = false;
            if self.out_lap[c] {
                t += p.pit_out[s] + car.cold_s;
                if p.pits_after_line {
                    t += self.standstill(c, RANDOM.then_some(&mut *rng));
                }
                pitting = true;
            }
            if self.stops_now(c) {
                t += p.pit_in[s];
                if !p.pits_after_line {
                    t += self.standstill(c, RANDOM.then_some(&mut *rng));
                }
                pitting = true;
            }
            self.pitting[c] = pitting;
            self.pit_add[c] = t - drive;
            self.lap_time[c] = t;
            self.cand[c] = self.time[c] + t;
        }
        if status == SC {
            // The safety car, a SC lap after the leader's last crossing, sets the pace of the first car on track:
            // the leader, or the car behind it when the leader is in the pit lane (which `interact` rejoins behind
            // the train).
            if let (Some(&leader), Some(&head)) = (
                self.order.first(),
                self.order.iter().find(|&&c| !self.pitting[c as usize]),
            ) {
                let head = head as usize;
                let floor = self.time[leader as usize] + p.base_lap_s * p.sc_factor;
                if self.cand[head] < floor {
                    self.lap_time[head] += floor - self.cand[head];
                    self.cand[head] = floor;
                }
            }
        }
    }

    /// The car's in-lap is the lap it is driving (its own count: a lapped car is behind the leader's).
    #[inline]
    fn stops_now(&self, c: usize) -> bool {
        self.next_stop_lap[c] == self.laps[c] + 1
    }

    /// The standstill: the track's minimum plus the crew's time, the team's mean in a deterministic race and a
    /// draw from its distribution in a random one.
    fn standstill(&self, c: usize, rng: Option<&mut Stream>) -> f64 {
        let car = &self.p.cars[c];
        let crew = match (rng, car.stop_var) {
            (Some(rng), Some(fisk)) => fisk
                .quantile(rng.open_uniform())
                .clamp(0.0, MAX_STOP_EXTRA_S),
            _ => car.crew_mean_s,
        };
        car.stop_min_s + crew
    }

    /// Cars meet at the line: held behind within the minimum gap unless far enough ahead to pass; under a SC they
    /// close up into a train; pitting cars are in the lane and pass or are passed freely.
    fn interact(&mut self, status: u8, lap: u32) {
        let p = self.p;
        let min_gap = p.min_gap[status as usize];
        // The cars that meet at the line, in order. Behind the safety car that is the train, without the cars in
        // the pit lane (the car behind a pitting one closes up to the car ahead of it). Otherwise every car, and a
        // pitting car neither holds up nor is held up by its neighbours.
        self.racing.clear();
        if status == SC {
            let pitting = &self.pitting;
            self.racing
                .extend(self.order.iter().copied().filter(|&c| !pitting[c as usize]));
        } else {
            self.racing.extend_from_slice(&self.order);
        }
        let n = self.racing.len();
        let mut k = 1;
        // The crossing time just written for a held car, which is the next pair's car ahead: carried in a register
        // rather than read back from memory at the head of the train's dependency chain.
        let mut carried = (usize::MAX, 0.0);
        while k < n {
            let c = self.racing[k] as usize;
            let a = self.racing[k - 1] as usize;
            if self.pitting[c] || self.pitting[a] || self.laps[c] != self.laps[a] {
                k += 1;
                continue;
            }
            let cand_a = if carried.0 == a {
                carried.1
            } else {
                self.cand[a]
            };
            // Whether a car is held up is a coin toss the branch predictor loses, so it is a select; a pass is
            // rare and stays a branch.
            let gap = self.cand[c] - cand_a;
            // Not `gap < min_gap`: a NaN gap (a broken model's times) is held, as it always was.
            let held = !matches!(
                gap.partial_cmp(&min_gap),
                Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
            );
            let threshold =
                p.threshold_s + p.threshold_per_kmh * (p.cars[c].top_speed - p.cars[a].top_speed);
            if held & (status == GREEN) & (-gap > threshold) {
                self.cand[c] += p.duel_s;
                self.cand[a] += p.duel_s + p.overtaken_s;
                self.racing.swap(k - 1, k);
                self.outcome.passes += u32::from(lap > 1);
                // Both times moved: nothing carried is current any more.
                carried.0 = usize::MAX;
                k = if k > 1 { k - 1 } else { k + 1 };
            } else {
                let behind = cand_a + min_gap;
                let cand_c = if held { behind } else { self.cand[c] };
                self.cand[c] = cand_c;
                carried = (c, cand_c);
                k += 1;
            }
        }
        if !self.order.iter().any(|&c| self.pitting[c as usize]) {
            // The pass left the order sorted.
            std::mem::swap(&mut self.order, &mut self.racing);
            return;
        }
        if status == SC {
            // A car pitting behind the safety car cannot lap faster than the train: it rejoins where its slot in
            // the train was, plus what the pit lane costs it.
            let mut slot = None;
            for k in 0..self.order.len() {
                let c = self.order[k] as usize;
                if self.pitting[c] {
                    let train = slot.map_or(self.time[c] + p.base_lap_s * p.sc_factor, |t: f64| {
                        t + min_gap
                    });
                    self.cand[c] = self.cand[c].max(train + self.pit_add[c]);
                } else {
                    slot = Some(self.cand[c]);
                }
            }
        }
        // Cars on track in their new order, pitting cars where their times put them: insertion sort, the order
        // is nearly sorted.
        if n == self.order.len() {
            std::mem::swap(&mut self.order, &mut self.racing);
        } else {
            let mut r = 0;
            for k in 0..self.order.len() {
                if !self.pitting[self.order[k] as usize] {
                    self.order[k] = self.racing[r];
                    r += 1;
                }
            }
        }
        for i in 1..self.order.len() {
            let mut j = i;
            while j > 0 && self.ahead(self.order[j] as usize, self.order[j - 1] as usize) {
                self.order.swap(j, j - 1);
                j -= 1;
            }
        }
    }

    /// Whether `c` is ahead of `a` after this lap.
    fn ahead(&self, c: usize, a: usize) -> bool {
        let (lc, la) = (self.laps[c] + 1, self.laps[a] + 1);
        lc > la || (lc == la && self.cand[c] < self.cand[a])
    }

    fn finish_lap(&mut self, status: u8) {
        let p = self.p;
        let s = status as usize;
        for k in 0..self.order.len() {
            let c = self.order[k] as usize;
            self.time[c] = self.cand[c];
            self.laps[c] += 1;
            self.fuel[c] = (self.fuel[c] - p.cars[c].burn[s]).max(0.0);
            self.out_lap[c] = false;
            if self.next_stop_lap[c] == self.laps[c] {
                let next = self.next_stop[c];
                if let Some(stop) = p.stops[c].get(next) {
                    self.set[c] = stop.set;
                }
                self.next_stop[c] = next + 1;
                self.next_stop_lap[c] = p.stops[c].get(next + 1).map_or(u32::MAX, |s| s.lap);
                self.out_lap[c] = true;
            } else {
                self.set[c].age += p.cars[c].wear[s];
            }
        }
        match status {
            SC => self.outcome.sc_laps += 1,
            VSC => self.outcome.vsc_laps += 1,
            _ => {}
        }
    }

    fn classify(&mut self) {
        let n = self.p.drivers();
        // The running cars in order, then the retired ones by laps done and time, in the reused buffer.
        let all = &mut self.racing;
        all.clear();
        all.extend_from_slice(&self.order);
        let running = all.len();
        all.extend((0..n as u8).filter(|&c| !self.running[c as usize]));
        let (laps, time) = (&self.laps, &self.time);
        all[running..].sort_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            laps[b].cmp(&laps[a]).then(time[a].total_cmp(&time[b]))
        });
        for (pos, &c) in self.racing.iter().enumerate() {
            let c = c as usize;
            self.outcome.position[c] = pos as u8 + 1;
            self.outcome.race_time_s[c] = self.time[c];
            self.outcome.laps[c] = self.laps[c];
            self.outcome.dnf[c] = !self.running[c];
        }
    }
}
