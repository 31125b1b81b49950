//! One race, lap by lap, for the whole field: lap time = base + car/driver + fuel mass + tyre degradation + noise
//! (+ start, pit, cold-tyre and DRS terms), then the cars interact at the line (minimum gap, overtaking threshold
//! adjusted for top speed, duel losses), under green, SC (the field bunches behind the safety car) or VSC (everyone
//! slows by the same factor). Random SCs (each caused by an accident), failures (each perhaps followed by a VSC)
//! and pit-stop variability are drawn per run, TUMFTM's procedure.
//!
//! [`Prepared`] flattens a [`RaceModel`] and the plans into arrays once; a [`Runner`] reuses its buffers across
//! runs, so a race allocates nothing. The runner keeps the running cars as records in running order (what the lap
//! loop reads and writes side by side), so each pass over the field walks memory front to back, the car ahead is
//! the previous record, and an overtake swaps two records. A green or VSC lap is one pass: the cars' laps are
//! worked out up to `LOOKAHEAD` places ahead of their meetings at the line (2 natively, 0 on WASM). With no random
//! stream the race is deterministic: no noise, mean start performance, no random events, the teams' mean stop times.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::model::{Degradation, FcyKind, FcyPhase, FiskTable, Plan, RaceModel};
use super::rng::{NormalTable, Stream};
use crate::wire::Compound;

/// The longest race the simulator takes, laps (the longest Grands Prix are under 90).
pub const MAX_RACE_LAPS: u32 = 200;

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
    /// A distance no race has: the simulation's buffers and the strategy search grow with it.
    #[error("{0} laps: at most {MAX_RACE_LAPS} are supported")]
    TooManyLaps(u32),
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
    /// A fixed SC/VSC phase or retirement at a lap that is not a number.
    #[error("the race's events: {0}")]
    BadEvent(String),
    /// Every race of a Monte Carlo was dropped (or none was asked for): there is nothing to rank.
    #[error("no valid run: {0}")]
    NoValidRun(String),
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
    /// The team's stop-time distribution: an index into [`Prepared::stop_tables`].
    stop_table: Option<usize>,
    cold_s: f64,
    top_speed: f64,
    p_accident: f64,
    p_failure: f64,
}

/// A tyre set: its degradation and age when fitted.
#[derive(Clone, Copy, Debug, PartialEq)]
struct TyreSet {
    /// `k0 + a·(k1 + a·(k2 + a·k3))`, or with `log`, `k0 + k1·ln(k2·a + 1)`: every model in one shape, so the
    /// hot loop evaluates it without matching on the model.
    k: [f64; 4],
    log: bool,
    age: f64,
}

/// A planned stop as the simulation uses it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stop {
    lap: u32,
    set: TyreSet,
}

/// A running car as the lap loop sees it. The runner keeps one per running car, in running order: the loop walks
/// the field front to back with no indirection, the car ahead is the previous record, and a pass swaps two records.
/// What the loop reads every lap is copied in from the car's constants; the rest stays in [`CarConst`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct Slot {
    /// Crossing time at the end of the lap being run: the unhindered one, then as the cars' interaction leaves it.
    cand: f64,
    /// Race time at the last crossing.
    time: f64,
    /// Fuel on board, kilograms.
    fuel: f64,
    pace_s: f64,
    sigma_s: f64,
    top_speed: f64,
    /// What the pit lane adds to this lap (set while `pitting`).
    pit_add: f64,
    set: TyreSet,
    /// Laps completed.
    laps: u32,
    /// The in-lap of the next planned stop (`u32::MAX`: none).
    next_stop_lap: u32,
    /// Index of the next planned stop in [`Prepared::stops`].
    next_stop: u32,
    /// The car: its index in the model.
    car: u8,
    /// Driving its out-lap.
    out_lap: bool,
    /// In the pit lane this lap (in- or out-lap).
    pitting: bool,
}

/// How many cars ahead of the meeting at the line [`Runner::race_lap`] works out the laps. Natively 2: the laps
/// already in flight survive a mispredicted meeting (is the car held? 37 % of meetings in a Canada race are, in no
/// pattern), and one pass over the field then costs what separate passes for the laps and the meetings did (with 0,
/// 5 % more). Under V8 the smaller loop body wins: with 0 a race took 0.89–0.95 of the separate passes' time
/// (Node's V8, a Canada race, random on, alternating runs), with 2 about 0.95.
const LOOKAHEAD: usize = if cfg!(target_arch = "wasm32") { 0 } else { 2 };

const GREEN: u8 = 0;
const SC: u8 = 1;
const VSC: u8 = 2;

/// A model and its plans, flattened for fast runs.
#[derive(Clone, Debug)]
pub struct Prepared {
    total_laps: u32,
    first_lap: u32,
    cars: Vec<CarConst>,
    stops: Vec<Vec<Stop>>,
    /// The running cars at the start, in running order.
    start_field: Vec<Slot>,
    start_time: Vec<f64>,
    start_laps: Vec<u32>,
    start_retired: Vec<bool>,
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
    /// The teams' stop-time distributions, one per distinct distribution.
    stop_tables: Vec<FiskTable>,
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
        if model.total_laps > MAX_RACE_LAPS {
            return Err(SimError::TooManyLaps(model.total_laps));
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
        let mut stop_tables = Vec::new();
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
                stop_table: d.pit_variability.map(|f| {
                    match stop_tables.iter().position(|t: &FiskTable| t.fisk() == f) {
                        Some(i) => i,
                        None => {
                            stop_tables.push(FiskTable::new(f));
                            stop_tables.len() - 1
                        }
                    }
                }),
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
                    st.cars.iter().map(|c| c.fuel_kg).collect::<Vec<_>>(),
                    st.cars.iter().map(|c| c.retired).collect::<Vec<_>>(),
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
        // Not a number of laps: refused. Beyond the flag is fine: a retirement there never happens (a car
        // disqualified after running the distance is one), a phase there is held on the last lap.
        if let Some(p) = model
            .fixed
            .fcy
            .iter()
            .flatten()
            .find(|p| !(p.start.is_finite() && p.end.is_finite()))
        {
            return Err(SimError::BadEvent(format!(
                "a {:?} phase from {} to {} laps",
                p.kind, p.start, p.end
            )));
        }
        if let Some(r) = model
            .fixed
            .retirements
            .iter()
            .flatten()
            .find(|r| !r.at.is_finite())
        {
            return Err(SimError::BadEvent(format!("a retirement at {} laps", r.at)));
        }
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
                .map(|r| (r.driver, (r.at.floor() as u32).saturating_add(1).max(1)))
                .collect()
        });
        let mut sc_start = model.random.sc_start;
        for p in &mut sc_start {
            *p = p.max(0.0);
        }
        let start_field = start_order
            .iter()
            .map(|&c| usize::from(c))
            .filter(|&c| !start_retired[c])
            .map(|c| Slot {
                cand: start_time[c],
                time: start_time[c],
                fuel: start_fuel[c],
                pace_s: cars[c].pace_s,
                sigma_s: cars[c].sigma_s,
                top_speed: cars[c].top_speed,
                pit_add: 0.0,
                set: start_set[c],
                laps: start_laps[c],
                next_stop_lap: stops[c].first().map_or(u32::MAX, |s| s.lap),
                next_stop: 0,
                car: c as u8,
                out_lap: false,
                pitting: false,
            })
            .collect();
        Ok(Prepared {
            total_laps: model.total_laps,
            first_lap: completed + 1,
            cars,
            stops,
            start_field,
            start_time,
            start_laps,
            start_retired,
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
            stop_tables,
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

    /// The in-lap of `car`'s first stop still to come, in its own laps.
    pub fn first_stop_lap(&self, car: usize) -> Option<u32> {
        self.stops.get(car)?.first().map(|s| s.lap)
    }

    /// The race lap (the leader's count, [`Runner::run_to`]'s) in which `car` drives the in-lap of its first stop
    /// still to come, if it runs that long: it runs a lap every race lap, from its own count at the start (a lapped
    /// car's in-lap comes later in the race's count).
    pub fn first_stop_race_lap(&self, car: usize) -> Option<u32> {
        // The stops still to come are after the car's own laps at the start (`Prepared::new`).
        let to_go = self
            .first_stop_lap(car)?
            .saturating_sub(self.start_laps[car]);
        (self.first_lap - 1).checked_add(to_go)
    }

    /// The same race with no stop still to come for `car`: the shared start of its plans' races ([`Runner::fork`]).
    pub fn without_stops(&self, car: usize) -> Prepared {
        let mut p = self.clone();
        if let Some(stops) = p.stops.get_mut(car) {
            stops.clear();
        }
        for slot in p
            .start_field
            .iter_mut()
            .filter(|s| usize::from(s.car) == car)
        {
            slot.next_stop_lap = u32::MAX;
        }
        p
    }

    /// Whether the race starts the same way here as in `other` but for `car`'s stops: the same field in the same
    /// places (`car` on the same tyres, as old), the rivals on the same stops. When both are prepared from the same
    /// model, the races differ only from `car`'s first stop in either, and [`Runner::fork`] may start one from the
    /// other's shared part.
    pub fn same_start(&self, other: &Prepared, car: usize) -> bool {
        let field = |s: &Slot| {
            let mut s = *s;
            if usize::from(s.car) == car {
                s.next_stop_lap = u32::MAX;
            }
            s
        };
        self.first_lap == other.first_lap
            && self.total_laps == other.total_laps
            && self.start_field.len() == other.start_field.len()
            && self.stops.len() == other.stops.len()
            && self
                .start_field
                .iter()
                .map(field)
                .eq(other.start_field.iter().map(field))
            && (0..self.stops.len()).all(|c| c == car || self.stops[c] == other.stops[c])
    }
}

/// The laps a phase in race progress covers: from the lap during which it starts to the lap during which it ends.
fn phase_laps(p: &FcyPhase, total_laps: u32) -> (u32, u32) {
    let first = (p.start.max(0.0).floor() as u32)
        .saturating_add(1)
        .min(total_laps);
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
    /// The running cars in running order.
    field: Vec<Slot>,
    /// Per car: the lap it retires on (`u32::MAX`: none).
    retire_lap: Vec<u32>,
    /// Per car: still running.
    running: Vec<bool>,
    /// Per car: race time and laps where its race ended: at its retirement (or the start's, for a car already
    /// out), and for the running cars at the flag, once classified.
    final_time: Vec<f64>,
    final_laps: Vec<u32>,
    /// Scratch: the lap's noise, one standard normal deviate per running car in running order.
    noise: Vec<f64>,
    /// Scratch: the accident weights of a SC's draw.
    weights: Vec<f64>,
    /// Scratch: the classification order.
    classified: Vec<u8>,
    /// The next lap to run.
    next_lap: u32,
    /// The last lap under a SC or VSC (0: none yet).
    last_neutral: u32,
    /// The earliest retirement lap of a running car.
    next_retirement: u32,
    outcome: Outcome,
}

impl<'p> Runner<'p> {
    /// A runner for `p`.
    pub fn new(p: &'p Prepared) -> Self {
        let n = p.drivers();
        Runner {
            p,
            status: vec![GREEN; p.total_laps as usize + 2],
            field: Vec::with_capacity(n),
            retire_lap: vec![u32::MAX; n],
            running: vec![true; n],
            final_time: vec![0.0; n],
            final_laps: vec![0; n],
            noise: vec![0.0; n],
            weights: Vec::with_capacity(n),
            classified: Vec::with_capacity(n),
            next_lap: p.first_lap,
            last_neutral: 0,
            next_retirement: u32::MAX,
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
    pub fn run(&mut self, rng: Option<&mut Stream>) -> &Outcome {
        self.run_ahead::<LOOKAHEAD>(rng)
    }

    /// [`Runner::run`] with the laps worked out `AHEAD` places ahead of the meetings (see [`LOOKAHEAD`]): the same
    /// race for any `AHEAD`, which the tests check for the value the other target uses.
    pub(crate) fn run_ahead<const AHEAD: usize>(
        &mut self,
        mut rng: Option<&mut Stream>,
    ) -> &Outcome {
        self.start(rng.as_deref_mut());
        self.advance::<AHEAD>(u32::MAX, rng);
        self.finish()
    }

    /// Starts a random race: its events drawn from `rng`, no lap run yet. [`Runner::run_to`] runs its laps and
    /// [`Runner::finish`] classifies it; with the same `rng` the three give [`Runner::run`]'s race.
    pub fn begin(&mut self, rng: &mut Stream) {
        self.start(Some(rng));
    }

    /// Runs the race's laps before lap `before` (all of them with `u32::MAX`).
    pub fn run_to(&mut self, before: u32, rng: &mut Stream) {
        self.advance::<LOOKAHEAD>(before, Some(rng));
    }

    /// Classifies the race once its laps are run.
    pub fn finish(&mut self) -> &Outcome {
        self.classify();
        &self.outcome
    }

    /// Takes over `base`'s race where it stands, `car` with its next stop from this runner's plan. `base` runs the
    /// same model, start and rivals' plans, with no stop for `car` ([`Prepared::without_stops`]), and has not run
    /// this plan's first in-lap yet ([`Prepared::first_stop_race_lap`]): until then the two races are the same,
    /// draw for draw, so the rest of the race here (on a copy of `base`'s stream) is the one [`Runner::run`] gives.
    pub fn fork(&mut self, base: &Runner<'_>, car: usize) {
        self.status.copy_from_slice(&base.status);
        self.field.clear();
        self.field.extend_from_slice(&base.field);
        self.retire_lap.copy_from_slice(&base.retire_lap);
        self.running.copy_from_slice(&base.running);
        self.final_time.copy_from_slice(&base.final_time);
        self.final_laps.copy_from_slice(&base.final_laps);
        self.next_lap = base.next_lap;
        self.last_neutral = base.last_neutral;
        self.next_retirement = base.next_retirement;
        self.outcome.sc_laps = base.outcome.sc_laps;
        self.outcome.vsc_laps = base.outcome.vsc_laps;
        self.outcome.passes = base.outcome.passes;
        if let Some(slot) = self.field.iter_mut().find(|s| usize::from(s.car) == car) {
            slot.next_stop = 0;
            slot.next_stop_lap = self.p.first_stop_lap(car).unwrap_or(u32::MAX);
        }
    }

    /// Resets the runner and draws the race's events.
    fn start(&mut self, rng: Option<&mut Stream>) {
        self.reset();
        self.draw_events(rng);
        self.next_lap = self.p.first_lap;
        self.last_neutral = 0;
        self.next_retirement = self.retire_lap.iter().copied().min().unwrap_or(u32::MAX);
    }

    /// Runs the laps from the next one up to, not including, `before` (or the flag).
    fn advance<const AHEAD: usize>(&mut self, before: u32, mut rng: Option<&mut Stream>) {
        let p = self.p;
        let last = p.total_laps.min(before.saturating_sub(1));
        while self.next_lap <= last {
            let lap = self.next_lap;
            let status = self.status[lap as usize];
            if lap >= self.next_retirement {
                self.retire(lap);
                self.next_retirement = self
                    .retire_lap
                    .iter()
                    .zip(&self.running)
                    .filter(|(_, running)| **running)
                    .map(|(l, _)| *l)
                    .min()
                    .unwrap_or(u32::MAX);
            }
            let last_neutral = self.last_neutral;
            match (rng.as_deref_mut(), status) {
                (Some(rng), SC) => self.sc_lap::<true>(lap, rng),
                (Some(rng), _) => self.race_lap::<true, AHEAD>(lap, status, last_neutral, rng),
                (None, _) => {
                    // Never drawn from: the deterministic instance of the loop compiles the draws away.
                    let mut unused = Stream::for_race(0, 0);
                    if status == SC {
                        self.sc_lap::<false>(lap, &mut unused);
                    } else {
                        self.race_lap::<false, AHEAD>(lap, status, last_neutral, &mut unused);
                    }
                }
            }
            self.finish_lap(status);
            if status != GREEN {
                self.last_neutral = lap;
            }
            self.next_lap = lap + 1;
        }
    }

    // On WASM each phase of a lap is its own function: V8 optimises the race inlined into one function so poorly
    // that the split runs a race in 0.63x the time (Node's V8, a Canada race, random on); natively the inlined
    // race is 3-10 % faster.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn reset(&mut self) {
        let p = self.p;
        self.status.fill(GREEN);
        self.retire_lap.fill(u32::MAX);
        self.field.clear();
        self.field.extend_from_slice(&p.start_field);
        for (running, retired) in self.running.iter_mut().zip(&p.start_retired) {
            *running = !retired;
        }
        self.final_time.copy_from_slice(&p.start_time);
        self.final_laps.copy_from_slice(&p.start_laps);
        self.outcome.sc_laps = 0;
        self.outcome.vsc_laps = 0;
        self.outcome.passes = 0;
    }

    /// Fixed events, then (with a stream) random SCs with their accidents, failures and the VSCs they bring.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
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
                    // A one-lap race has no lap 2: its SC can only start on lap 1.
                    (progress.floor() as u32 + 1).clamp(2.min(total), total)
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
        let hi = (start
            .saturating_add(laps - 1)
            .saturating_add(self.p.min_gap_laps) as usize)
            .min(self.p.total_laps as usize);
        self.status[lo..=hi].iter().all(|s| *s == GREEN)
    }

    fn neutralise(&mut self, start: u32, laps: u32, kind: u8) {
        let last = start.saturating_add(laps - 1).min(self.p.total_laps);
        for lap in start..=last {
            self.status[lap as usize] = kind;
        }
    }

    /// Cars whose retirement lap has come stop before completing it.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn retire(&mut self, lap: u32) {
        let (retire_lap, running) = (&self.retire_lap, &mut self.running);
        let (final_time, final_laps) = (&mut self.final_time, &mut self.final_laps);
        self.field.retain(|s| {
            let c = usize::from(s.car);
            let out = retire_lap[c] <= lap;
            if out {
                running[c] = false;
                final_time[c] = s.time;
                final_laps[c] = s.laps;
            }
            !out
        });
    }

    /// A SC lap: every running car's unhindered lap, then the safety car's pace for the first car on track, then
    /// the train (see [`Runner::interact_sc`]).
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn sc_lap<const RANDOM: bool>(&mut self, lap: u32, rng: &mut Stream) {
        let p = self.p;
        let noise = &mut self.noise[..self.field.len()];
        if RANDOM {
            rng.fill_normal(&p.table, noise);
        }
        // No DRS behind the safety car, so no car ahead to measure to.
        let rules = LapRules {
            lap,
            status: SC,
            drs: None,
        };
        for (k, slot) in self.field.iter_mut().enumerate() {
            unhindered::<RANDOM>(p, rules, slot, noise[k], None, rng);
        }
        // The safety car, a SC lap after the leader's last crossing, sets the pace of the first car on track: the
        // leader, or the car behind it when the leader is in the pit lane (which `interact_sc` rejoins behind the
        // train).
        if let Some(leader_time) = self.field.first().map(|s| s.time) {
            let floor = leader_time + p.base_lap_s * p.sc_factor;
            if let Some(head) = self.field.iter_mut().find(|s| !s.pitting)
                && head.cand < floor
            {
                head.cand = floor;
            }
        }
        self.interact_sc();
    }

    /// Behind the safety car the train is the cars on track: the car behind a pitting one closes up to the car
    /// ahead of it, and nobody passes. A car pitting behind the safety car cannot lap faster than the train: it
    /// rejoins where its slot in the train was, plus what the pit lane costs it.
    fn interact_sc(&mut self) {
        let p = self.p;
        let min_gap = p.min_gap[SC as usize];
        let field = &mut self.field[..];
        let mut ahead: Option<(f64, u32)> = None;
        for slot in field.iter_mut() {
            if slot.pitting {
                continue;
            }
            if let Some((cand_a, _)) = ahead.filter(|a| a.1 == slot.laps)
                && held(slot.cand - cand_a, min_gap)
            {
                slot.cand = cand_a + min_gap;
            }
            ahead = Some((slot.cand, slot.laps));
        }
        if !field.iter().any(|s| s.pitting) {
            return;
        }
        let mut train: Option<f64> = None;
        for slot in field.iter_mut() {
            if slot.pitting {
                let t = train.map_or(slot.time + p.base_lap_s * p.sc_factor, |t| t + min_gap);
                slot.cand = slot.cand.max(t + slot.pit_add);
            } else {
                train = Some(slot.cand);
            }
        }
        sort_pitting(field);
    }

    /// A green or VSC lap in one pass front to back: each car's unhindered lap, then its meeting at the line with
    /// the car ahead, whose crossing is already settled. It is held behind within the minimum gap unless far enough
    /// ahead to pass (green only: a pass swaps the two and the overtaker then meets the car ahead of it); a pitting
    /// car neither holds up nor is held up by its neighbours. The laps are worked out `AHEAD` places ahead of the
    /// meetings ([`LOOKAHEAD`]), in the running order at the start of the lap (a pass changes only places already
    /// worked out), so the draws come in that order and the DRS window is measured to the car that was ahead then.
    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn race_lap<const RANDOM: bool, const AHEAD: usize>(
        &mut self,
        lap: u32,
        status: u8,
        last_neutral: u32,
        rng: &mut Stream,
    ) {
        let p = self.p;
        let drs_on = p.drs.filter(|d| {
            status == GREEN
                && lap >= d.from_lap
                && (last_neutral == 0 || lap > last_neutral.saturating_add(d.after_sc_laps))
        });
        let min_gap = p.min_gap[status as usize];
        let field = &mut self.field[..];
        let n = field.len();
        let noise = &mut self.noise[..n];
        if RANDOM {
            rng.fill_normal(&p.table, noise);
        }
        let Some(first) = field.first_mut() else {
            return;
        };
        let rules = LapRules {
            lap,
            status,
            drs: drs_on,
        };
        unhindered::<RANDOM>(p, rules, first, noise[0], None, rng);
        // The last car whose lap is worked out: its crossing time and laps at the start of the lap (the car ahead
        // of the next one then; the DRS window is measured there).
        let mut ahead = (first.time, first.laps);
        let mut done = 1;
        let mut any_pitting = first.pitting;
        let mut k = 1;
        while k < n {
            while done <= (k + AHEAD).min(n - 1) {
                let slot = &mut field[done];
                unhindered::<RANDOM>(p, rules, slot, noise[done], Some(ahead), rng);
                ahead = (slot.time, slot.laps);
                any_pitting |= slot.pitting;
                done += 1;
            }
            let (a, c) = (&field[k - 1], &field[k]);
            if c.pitting || a.pitting || c.laps != a.laps {
                k += 1;
                continue;
            }
            // A pass is rare and a branch. Whether a car is held is left to the compiler, which branches: a
            // forced select (`select_unpredictable`) measured 8 % slower, as it chains every car's crossing time
            // to the one ahead where the branch lets the CPU run on.
            let gap = c.cand - a.cand;
            let held = held(gap, min_gap);
            let threshold = p.threshold_s + p.threshold_per_kmh * (c.top_speed - a.top_speed);
            if held & (status == GREEN) & (-gap > threshold) {
                field[k].cand += p.duel_s;
                field[k - 1].cand += p.duel_s + p.overtaken_s;
                field.swap(k - 1, k);
                self.outcome.passes += u32::from(lap > 1);
                k = if k > 1 { k - 1 } else { k + 1 };
            } else {
                let behind = a.cand + min_gap;
                field[k].cand = if held { behind } else { c.cand };
                k += 1;
            }
        }
        if any_pitting {
            sort_pitting(field);
        }
    }

    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn finish_lap(&mut self, status: u8) {
        let p = self.p;
        let s = status as usize;
        for slot in &mut self.field {
            let c = usize::from(slot.car);
            let car = &p.cars[c];
            slot.time = slot.cand;
            slot.laps += 1;
            // `max(0.0)` as a comparison: the same value (a NaN gives 0.0 either way), but on WASM `f64::max` is a
            // call to `fmax` (the instruction's NaN rule differs from Rust's): the comparison runs a race there in
            // 0.73x the time (Node's V8, a Canada race, random on).
            let left = slot.fuel - car.burn[s];
            slot.fuel = if left > 0.0 { left } else { 0.0 };
            slot.out_lap = false;
            if slot.next_stop_lap == slot.laps {
                let stops = &p.stops[c];
                let next = slot.next_stop as usize;
                if let Some(stop) = stops.get(next) {
                    slot.set = stop.set;
                }
                slot.next_stop = next as u32 + 1;
                slot.next_stop_lap = stops.get(next + 1).map_or(u32::MAX, |s| s.lap);
                slot.out_lap = true;
            } else {
                slot.set.age += car.wear[s];
            }
        }
        match status {
            SC => self.outcome.sc_laps += 1,
            VSC => self.outcome.vsc_laps += 1,
            _ => {}
        }
    }

    #[cfg_attr(target_arch = "wasm32", inline(never))]
    fn classify(&mut self) {
        let n = self.p.drivers();
        for slot in &self.field {
            let c = usize::from(slot.car);
            self.final_time[c] = slot.time;
            self.final_laps[c] = slot.laps;
        }
        // The running cars in order, then the retired ones by laps done and time, in the reused buffer.
        let all = &mut self.classified;
        all.clear();
        all.extend(self.field.iter().map(|s| s.car));
        let running = all.len();
        all.extend((0..n as u8).filter(|&c| !self.running[c as usize]));
        let (laps, time) = (&self.final_laps, &self.final_time);
        all[running..].sort_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            laps[b].cmp(&laps[a]).then(time[a].total_cmp(&time[b]))
        });
        for (pos, &c) in self.classified.iter().enumerate() {
            let c = c as usize;
            self.outcome.position[c] = pos as u8 + 1;
            self.outcome.race_time_s[c] = self.final_time[c];
            self.outcome.laps[c] = self.final_laps[c];
            self.outcome.dnf[c] = !self.running[c];
        }
    }
}

/// Cars on track and pitting cars in the order their crossing times put them: insertion sort, the order is nearly
/// sorted.
fn sort_pitting(field: &mut [Slot]) {
    for i in 1..field.len() {
        let mut j = i;
        while j > 0 && ahead_of(&field[j], &field[j - 1]) {
            field.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// What a lap's unhindered times depend on besides the car.
#[derive(Clone, Copy, Debug)]
struct LapRules {
    lap: u32,
    status: u8,
    /// DRS, when it is enabled this lap.
    drs: Option<super::model::Drs>,
}

/// A car's unhindered lap with `z`, its standard normal noise, and its candidate crossing time (`slot.cand`);
/// whether it is in the pit lane this lap and what the lane adds. `ahead`: the car ahead's crossing time and laps
/// at the start of the lap.
#[inline(always)]
fn unhindered<const RANDOM: bool>(
    p: &Prepared,
    rules: LapRules,
    slot: &mut Slot,
    z: f64,
    ahead: Option<(f64, u32)>,
    rng: &mut Stream,
) {
    let LapRules {
        lap,
        status,
        drs: drs_on,
    } = rules;
    let s = status as usize;
    let mut drive = slot.pace_s + slot.fuel * p.fuel_s_per_kg + slot.set.loss_s();
    if RANDOM {
        drive += slot.sigma_s * z;
    }
    if lap == 1 {
        let car = &p.cars[usize::from(slot.car)];
        drive += p.standing_start_s + car.grid_loss_s + car.start_mean_s;
        if RANDOM {
            drive += car.start_sigma_s * rng.normal(&p.table);
        }
    }
    drive = match status {
        // Behind the SC a car closes up to the train (see `interact_sc`) faster than the delta, slower than
        // racing: halfway between its green lap and the VSC lap.
        SC => drive * (1.0 + p.vsc_factor) / 2.0,
        VSC => drive.max(p.base_lap_s * p.vsc_factor),
        _ => drive,
    };
    if let (Some(drs), Some((time_ahead, laps_ahead))) = (drs_on, ahead) {
        // Adding 0.0 to a positive lap time leaves it unchanged, bit for bit.
        let within = (slot.time - time_ahead <= drs.window_s) & (slot.laps == laps_ahead);
        drive += if within { drs.effect_s } else { 0.0 };
    }
    let mut t = drive;
    // The in-lap is the lap the car is driving, in its own count (a lapped car is behind the leader's).
    let in_lap = slot.next_stop_lap == slot.laps + 1;
    slot.pitting = slot.out_lap | in_lap;
    if slot.pitting {
        let car = &p.cars[usize::from(slot.car)];
        if slot.out_lap {
            t += p.pit_out[s] + car.cold_s;
            if p.pits_after_line {
                t += standstill(p, car, RANDOM.then_some(&mut *rng));
            }
        }
        if in_lap {
            t += p.pit_in[s];
            if !p.pits_after_line {
                t += standstill(p, car, RANDOM.then_some(&mut *rng));
            }
        }
        slot.pit_add = t - drive;
    }
    slot.cand = slot.time + t;
}

/// Whether a car `gap` seconds behind the car ahead at the line is held up. Not `gap < min_gap`: a NaN gap (a
/// broken model's times) is held, as it always was.
#[inline]
fn held(gap: f64, min_gap: f64) -> bool {
    !matches!(
        gap.partial_cmp(&min_gap),
        Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
    )
}

/// Whether `c` is ahead of `a` after this lap.
#[inline]
fn ahead_of(c: &Slot, a: &Slot) -> bool {
    c.laps > a.laps || (c.laps == a.laps && c.cand < a.cand)
}

/// The standstill: the track's minimum plus the crew's time, the team's mean in a deterministic race and a draw
/// from its distribution in a random one.
fn standstill(p: &Prepared, car: &CarConst, rng: Option<&mut Stream>) -> f64 {
    let crew = match (rng, car.stop_table) {
        (Some(rng), Some(table)) => p.stop_tables[table]
            .quantile(rng.open_uniform())
            .clamp(0.0, MAX_STOP_EXTRA_S),
        _ => car.crew_mean_s,
    };
    car.stop_min_s + crew
}
