//! The Car Twin, for every car: per-corner tyre wear and its rate, tyre life to the wear limit and the cliff,
//! lap-time degradation per stint, fuel (SC-aware burn, laps left, margin to the flag), ERS trend, damage, the pit
//! window (earliest, latest and best lap given degradation, pit loss and traffic) and the delta to a rival.
//!
//! Wear, fuel and ERS rates are means of lap-to-lap deltas over the last [`TwinParams::window_laps`] laps that
//! count: an online estimate of the slope that a safety-car period in the middle of a stint does not bend, because
//! neutralised laps and in/out-laps are left out (fuel keeps its own, separate neutralised rate). Each comes with
//! its standard error, and the laps to the wear limit with a band from it. Timing-only sources (a real race's
//! timing) measure no wear or fuel: tyre life then comes from the pit model's expected stint and fuel from the
//! race-distance model, and the twin says so (`wear_measured`, `fuel_measured`).

use serde::{Deserialize, Serialize};

use crate::sorting::sort_by;
use crate::twin::TwinParams;
use crate::twin::field::{FieldModels, next_compound};
use crate::twin::laps::CarLaps;
use crate::twin::pace::PaceModel;
use crate::twin::pit::{PitPrediction, Rejoin, rejoin_if_pitting_now};
use crate::wire::{
    CORNER_NAMES, CarState, Compound, Corners, LapRecord, RaceState, ResultStatus, SCHEMA_VERSION,
    SessionPhase,
};

/// What the Car Twin knows about one car.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CarTwin {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The car.
    pub car_idx: u8,
    /// Session time of the state this was computed from, in seconds: the output's timestamp.
    pub session_time_s: f64,
    /// The lap the car is on.
    pub lap: u32,
    /// Laps still to run including the rest of this one (fractional).
    pub laps_remaining: f64,
    /// Compound fitted.
    pub compound: Compound,
    /// Age of the set, in laps.
    pub tyre_age_laps: u32,
    /// Whether the source measures tyre wear (false for timing-only sources).
    pub wear_measured: bool,
    /// Wear now, percent.
    pub wear_pct: Corners<f64>,
    /// Wear added per green lap, percent per lap, with its standard error; `None` until two clean laps are known.
    pub wear_rate_pct_per_lap: Corners<Option<Rate>>,
    /// The corner that reaches the wear limit first.
    pub limiting_corner: Option<String>,
    /// Green laps until that corner reaches [`TwinParams::wear_limit_pct`].
    pub laps_to_wear_limit: Option<f64>,
    /// The same at the wear rate ± 2 standard errors: `[soonest, latest]`.
    pub laps_to_wear_limit_band: Option<[f64; 2]>,
    /// Green laps until lap times fall off the cliff: the compound's cliff wear when wear is measured, else the end
    /// of the expected stint.
    pub laps_to_cliff: Option<f64>,
    /// Fuel- and tyre-corrected pace on this set, and its degradation.
    pub pace: Option<PaceModel>,
    /// Fuel-corrected lap-time degradation of each stint so far, in s/lap.
    pub degradation: Vec<StintDegradation>,
    /// Whether the source measures fuel (false: modelled from the race distance).
    pub fuel_measured: bool,
    /// Fuel on board, in kilograms.
    pub fuel_kg: f64,
    /// Fuel burned per green lap, in kilograms, with its standard error.
    pub fuel_burn_kg_per_lap: Option<Rate>,
    /// Fuel burned per lap under SC or VSC, in kilograms.
    pub fuel_burn_neutralised_kg_per_lap: Option<Rate>,
    /// Green laps the fuel on board lasts at that burn.
    pub fuel_laps_left: Option<f64>,
    /// Fuel left at the flag at that burn (negative: the car must save this much), in kilograms.
    pub fuel_margin_kg: Option<f64>,
    /// Energy in the ERS store, percent.
    pub ers_store_pct: f64,
    /// Change of the store per lap over recent laps, percent per lap (negative: deploying more than harvesting).
    pub ers_trend_pct_per_lap: Option<Rate>,
    /// Damage at a glance.
    pub damage: DamageSummary,
    /// When to stop next.
    pub pit_window: PitWindow,
    /// Where the car would rejoin if it pitted now.
    pub rejoin: Option<Rejoin>,
    /// Pace and gap against a chosen rival (by default the car ahead).
    pub rival: Option<RivalDelta>,
}

/// Degradation of one stint.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StintDegradation {
    /// Index of the stint in the car's stints.
    pub stint: u32,
    /// Its compound.
    pub compound: Compound,
    /// Fuel-corrected lap-time loss per lap of tyre age, in seconds.
    pub deg_s_per_lap: f64,
    /// Clean laps it rests on.
    pub laps: u32,
}

/// A rate estimated from lap-to-lap deltas.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Mean per lap.
    pub mean: f64,
    /// Standard error of the mean (0 with a single delta).
    pub std_err: f64,
    /// Number of laps it is based on.
    pub n_laps: u32,
}

/// Damage at a glance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DamageSummary {
    /// The worst-damaged part, percent.
    pub worst_pct: f64,
    /// Its name, when anything is damaged.
    pub worst_part: Option<String>,
    /// Every part with any damage, worst first: `(part, percent)`.
    pub parts: Vec<(String, f64)>,
}

/// The gap and pace against a rival.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RivalDelta {
    /// The rival.
    pub car_idx: u8,
    /// Its driver code.
    pub code: String,
    /// Time from this car to the rival on the road, in seconds (positive: the rival is ahead).
    pub gap_s: Option<f64>,
    /// This car's predicted next lap minus the rival's, in seconds (negative: this car is faster).
    pub pace_delta_s: Option<f64>,
    /// Laps until this car closes the gap at that pace, if it is behind and faster.
    pub laps_to_catch: Option<f64>,
}

/// The next pit window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PitWindow {
    /// Where the car stands against the window.
    pub status: PitWindowStatus,
    /// First lap at the end of which a stop onto the longest-lasting dry compound gets the car to the flag with no
    /// further stop.
    pub earliest_lap: Option<u32>,
    /// Last lap at the end of which the car can stop before its tyres reach the limit.
    pub latest_lap: Option<u32>,
    /// The lap in the window the plan prefers (least time over the race, moved a lap if the rejoin is in traffic).
    pub best_lap: Option<u32>,
    /// The compound the next set would be.
    pub next_compound: Option<Compound>,
    /// One line a race engineer can read out.
    pub reason: String,
}

/// Where a car stands against its pit window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PitWindowStatus {
    /// Not enough clean laps yet to say.
    Unknown,
    /// The window opens later.
    Upcoming,
    /// Stopping now is within the window.
    Open,
    /// Past the latest lap: the tyres are beyond the limit.
    Overdue,
    /// The tyres reach the flag and the compound rule is met: no stop needed.
    NotNeeded,
    /// The car is out of the race or has finished.
    Closed,
}

/// The Car Twin of one car.
///
/// `records` may hold every car's laps (others are ignored); `models` is the field's pace learned from them;
/// `next_pit` the Field Twin's prediction for this car; `rival` the car to compare with (the car ahead if `None`).
pub fn car_twin(
    state: &RaceState,
    car: &CarState,
    records: &[LapRecord],
    models: &FieldModels,
    next_pit: Option<&PitPrediction>,
    rival: Option<u8>,
    params: &TwinParams,
) -> CarTwin {
    let laps = CarLaps::new(car, records);
    let own = &laps.laps;
    let stint_start = car.stints.last().map_or(1, |s| s.start_lap);
    let total = f64::from(state.session.total_laps);
    let laps_remaining = laps_remaining(state, car);
    let wear_measured = state.measures(car);
    let fuel_measured = models.pace.fuel.measures(car.car_idx);

    // Consecutive pairs (previous lap, this lap) that count: green, away from the pit lane.
    let pairs = || (1..own.len()).filter(|&i| own[i].lap == own[i - 1].lap + 1);
    let counts = |i: usize| {
        !own[i].track_status.is_neutralised() && !own[i].pit_lane && !own[i - 1].pit_lane
    };
    let window = |xs: Vec<f64>| {
        let from = xs.len().saturating_sub(params.window_laps);
        rate(xs[from..].iter().copied())
    };

    let wear_deltas: Vec<[f64; 4]> = pairs()
        .filter(|&i| own[i].lap > stint_start && own[i - 1].lap >= stint_start && counts(i))
        .map(|i| {
            let (a, b) = (own[i - 1].wear_pct.as_array(), own[i].wear_pct.as_array());
            [b[0] - a[0], b[1] - a[1], b[2] - a[2], b[3] - a[3]]
        })
        .collect();
    let wear_rate = if wear_measured {
        Corners::from_array(std::array::from_fn(|k| {
            window(wear_deltas.iter().map(|d| d[k]).collect())
        }))
    } else {
        Corners::default()
    };

    let fuel_delta = |i: usize| own[i - 1].fuel_kg - own[i].fuel_kg;
    let (fuel_burn, fuel_burn_neutralised) = if fuel_measured {
        (
            window(pairs().filter(|&i| counts(i)).map(fuel_delta).collect()),
            window(
                pairs()
                    .filter(|&i| own[i].track_status.is_neutralised() && !own[i].pit_lane)
                    .map(fuel_delta)
                    .collect(),
            ),
        )
    } else {
        let burn = models.pace.fuel.start_kg / total.max(1.0);
        (
            Some(Rate {
                mean: burn,
                std_err: 0.0,
                n_laps: 0,
            }),
            None,
        )
    };
    let fuel_kg = if fuel_measured {
        car.fuel_kg
    } else {
        models.pace.fuel.modelled_kg(car.lap.saturating_sub(1))
    };
    let ers_trend = window(
        pairs()
            .filter(|&i| counts(i))
            .map(|i| own[i].ers_store_pct - own[i - 1].ers_store_pct)
            .collect(),
    )
    .filter(|_| wear_measured);

    // The corner that hits the limit first, with a band from the rate's standard error.
    let wear_now = car.tyres.corners.map(|c| c.wear_pct);
    let mut limiting: Option<(usize, f64, [f64; 2])> = None;
    for (k, (w, r)) in wear_now
        .as_array()
        .into_iter()
        .zip(wear_rate.as_array())
        .enumerate()
    {
        let Some(r) = r.filter(|r| r.mean > 1e-6) else {
            continue;
        };
        let to_limit = |rate: f64| ((params.wear_limit_pct - w) / rate).max(0.0);
        let laps = to_limit(r.mean);
        let fast = r.mean + 2.0 * r.std_err;
        let slow = r.mean - 2.0 * r.std_err;
        let band = [
            to_limit(fast),
            if slow > 1e-6 {
                to_limit(slow)
            } else {
                f64::INFINITY
            },
        ];
        if limiting.is_none_or(|(_, l, _)| laps < l) {
            limiting = Some((k, laps, band));
        }
    }
    let laps_in_stint = f64::from(car.lap.saturating_sub(stint_start));
    let laps_to_cliff = if wear_measured {
        limiting.and_then(|(k, _, _)| {
            let rate = wear_rate.as_array()[k]?.mean;
            let cliff = crate::calibration::compound_params(car.tyres.compound).cliff_wear_pct;
            Some(((cliff - wear_now.as_array()[k]) / rate).max(0.0))
        })
    } else {
        next_pit.map(|p| (p.expected_stint_laps - laps_in_stint).max(0.0))
    };

    let fuel_laps_left = fuel_burn
        .filter(|b| b.mean > 1e-6)
        .map(|b| fuel_kg / b.mean);
    let fuel_margin_kg = fuel_burn.map(|b| fuel_kg - b.mean * laps_remaining);
    let rejoin = rejoin_if_pitting_now(state, car);
    let life = if wear_measured {
        limiting.map(|(k, l, _)| Life {
            corner: Some(k),
            laps_left: l,
            rate_per_lap: wear_rate.as_array()[k].map_or(0.0, |r| r.mean),
        })
    } else {
        next_pit.map(|p| Life {
            corner: None,
            laps_left: (p.expected_stint_laps - laps_in_stint).max(0.0),
            rate_per_lap: 0.0,
        })
    };
    let pit_window = pit_window(
        state,
        car,
        Inputs {
            life,
            no_stop_expected: !wear_measured && next_pit.is_none() && !laps.laps.is_empty(),
            next_pit,
            rejoin: rejoin.as_ref(),
            models,
        },
        laps_remaining,
        params,
    );
    let degradation = stint_degradation(car, &laps, models, params);
    let pace = models.model(state, car.car_idx).copied();
    let rival = rival_delta(state, car, rival, models);

    CarTwin {
        schema_version: SCHEMA_VERSION,
        car_idx: car.car_idx,
        session_time_s: state.session_time_s,
        lap: car.lap,
        laps_remaining,
        compound: car.tyres.compound,
        tyre_age_laps: car.tyres.age_laps,
        wear_measured,
        wear_pct: wear_now,
        wear_rate_pct_per_lap: wear_rate,
        limiting_corner: limiting.map(|(k, _, _)| CORNER_NAMES[k].to_owned()),
        laps_to_wear_limit: limiting.map(|(_, l, _)| l),
        laps_to_wear_limit_band: limiting.map(|(_, _, b)| b).filter(|b| b[1].is_finite()),
        laps_to_cliff,
        pace,
        degradation,
        fuel_measured,
        fuel_kg,
        fuel_burn_kg_per_lap: fuel_burn,
        fuel_burn_neutralised_kg_per_lap: fuel_burn_neutralised,
        fuel_laps_left,
        fuel_margin_kg,
        ers_store_pct: car.ers_store_pct,
        ers_trend_pct_per_lap: ers_trend,
        damage: damage_summary(car),
        pit_window,
        rejoin,
        rival,
    }
}

fn stint_degradation(
    car: &CarState,
    laps: &CarLaps<'_>,
    models: &FieldModels,
    params: &TwinParams,
) -> Vec<StintDegradation> {
    car.stints
        .iter()
        .enumerate()
        .filter_map(|(k, stint)| {
            let (deg, n) = crate::twin::pace::stint_slope(laps, k, &models.pace, &params.pace)?;
            Some(StintDegradation {
                stint: k as u32,
                compound: stint.compound,
                deg_s_per_lap: deg,
                laps: n,
            })
        })
        .collect()
}

fn damage_summary(car: &CarState) -> DamageSummary {
    let d = &car.damage;
    let mut parts: Vec<(String, f64)> = [
        ("front-left wing", d.front_left_wing_pct),
        ("front-right wing", d.front_right_wing_pct),
        ("rear wing", d.rear_wing_pct),
        ("floor", d.floor_pct),
        ("gearbox", d.gearbox_pct),
        ("engine", d.engine_pct),
    ]
    .into_iter()
    .filter(|(_, v)| *v > 0.0)
    .map(|(n, v)| (n.to_owned(), v))
    .collect();
    sort_by(&mut parts, |a, b| {
        b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0))
    });
    DamageSummary {
        worst_pct: d.worst_pct(),
        worst_part: parts.first().map(|p| p.0.clone()),
        parts,
    }
}

fn rival_delta(
    state: &RaceState,
    car: &CarState,
    rival: Option<u8>,
    models: &FieldModels,
) -> Option<RivalDelta> {
    let other = match rival {
        Some(idx) => state.car(idx)?,
        None => state.cars.get(usize::from(car.position).checked_sub(2)?)?,
    };
    // No delta to itself, nor to a car out of the race (parked: no gap, no pace).
    if other.car_idx == car.car_idx || other.result_status.is_out() {
        return None;
    }
    // The leader's gap is `None`, i.e. zero; another car's is a gap not known yet (before its first crossing).
    let gap_of = |c: &CarState| {
        if c.position == 1 {
            Some(c.gap_to_leader_s.unwrap_or(0.0))
        } else {
            c.gap_to_leader_s
        }
    };
    let gap_s = gap_of(car).zip(gap_of(other)).map(|(a, b)| a - b);
    let next = |c: &CarState| {
        let m = models.model(state, c.car_idx)?;
        Some(m.lap_time_s(
            f64::from(c.tyres.age_laps.saturating_add(1)),
            models.pace.fuel.modelled_kg(c.lap),
            &models.pace.fuel,
        ))
    };
    let pace_delta_s = next(car).zip(next(other)).map(|(a, b)| a - b);
    let laps_to_catch = match (gap_s, pace_delta_s) {
        (Some(g), Some(d)) if g > 0.0 && d < -1e-3 => Some(g / -d),
        _ => None,
    };
    Some(RivalDelta {
        car_idx: other.car_idx,
        code: other.driver.code.clone(),
        gap_s,
        pace_delta_s,
        laps_to_catch,
    })
}

/// The Car Twin of every car in the state, in running order, with the field's models learned once.
pub fn field_twins(state: &RaceState, records: &[LapRecord], params: &TwinParams) -> Vec<CarTwin> {
    let models = FieldModels::learn(state, records, params);
    let field = crate::twin::field::field_twin_with(state, records, &models, &[], params);
    state
        .cars
        .iter()
        .zip(&field.rivals)
        .map(|(car, rival)| {
            let mut twin = car_twin(
                state,
                car,
                records,
                &models,
                rival.next_pit.as_ref(),
                None,
                params,
            );
            apply_crossover(state, car, &mut twin, &field);
            twin
        })
        .collect()
}

fn rate(values: impl Iterator<Item = f64>) -> Option<Rate> {
    let xs: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if xs.is_empty() {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let std_err = if xs.len() > 1 {
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
        (var / n).sqrt()
    } else {
        0.0
    };
    Some(Rate {
        mean,
        std_err,
        n_laps: xs.len() as u32,
    })
}

/// How long the current set has left.
#[derive(Clone, Copy, Debug)]
struct Life {
    /// The limiting corner when wear is measured.
    corner: Option<usize>,
    /// Green laps left.
    laps_left: f64,
    /// Wear per lap of the limiting corner (0 when not measured).
    rate_per_lap: f64,
}

struct Inputs<'a> {
    life: Option<Life>,
    no_stop_expected: bool,
    next_pit: Option<&'a PitPrediction>,
    rejoin: Option<&'a Rejoin>,
    models: &'a FieldModels,
}

/// Laps `car` has left to the flag, the one it is on counted by the distance still to drive (0 once it is out).
pub(crate) fn laps_remaining(state: &RaceState, car: &CarState) -> f64 {
    if car.result_status != ResultStatus::Active {
        return 0.0;
    }
    let lap_frac = if state.session.track_length_m > 0.0 {
        car.lap_distance_m / state.session.track_length_m
    } else {
        0.0
    };
    // A lapped car takes the flag that many laps short of the distance; once the leader has, every car finishes
    // the lap it is on.
    let to_go = f64::from(state.session.total_laps)
        - f64::from(car.laps_down)
        - f64::from(car.lap.saturating_sub(1))
        - lap_frac;
    let to_go = if state.session.phase == SessionPhase::Chequered {
        to_go.min(1.0 - lap_frac)
    } else {
        to_go
    };
    to_go.max(0.0)
}

/// The laps' crossover for `car` ([`crate::twin::weather::calls`]), unless its window is closed.
pub fn crossover_for<'f>(
    state: &RaceState,
    car: &CarState,
    twin: &CarTwin,
    field: &'f crate::twin::FieldTwin,
) -> Option<&'f crate::twin::weather::Crossover> {
    field.crossover.as_ref().filter(|c| {
        twin.pit_window.status != PitWindowStatus::Closed
            && crate::twin::weather::calls(c, state, car)
    })
}

/// The laps' crossover outranks a window read from the wear of tyres the weather has made the wrong ones: where it
/// holds for `car` ([`crossover_for`]), the window says box now.
pub fn apply_crossover(
    state: &RaceState,
    car: &CarState,
    twin: &mut CarTwin,
    field: &crate::twin::FieldTwin,
) {
    if let Some(c) = crossover_for(state, car, twin, field) {
        twin.pit_window = crossover_window(car, c);
    }
}

/// The window when the laps call the crossover to the other tyres: box now, for what the car that gained most fitted.
fn crossover_window(car: &CarState, c: &crate::twin::weather::Crossover) -> PitWindow {
    PitWindow {
        status: PitWindowStatus::Overdue,
        earliest_lap: Some(car.lap),
        latest_lap: Some(car.lap),
        best_lap: Some(car.lap),
        next_compound: Some(c.compound),
        reason: format!(
            "{} are {:.1} s a lap faster: box now for a {}",
            c.to.words(),
            c.gain_s,
            c.compound.name()
        ),
    }
}

fn pit_window(
    state: &RaceState,
    car: &CarState,
    inputs: Inputs<'_>,
    laps_remaining: f64,
    params: &TwinParams,
) -> PitWindow {
    let window =
        |status, earliest_lap, latest_lap, best_lap, next_compound, reason: String| PitWindow {
            status,
            earliest_lap,
            latest_lap,
            best_lap,
            next_compound,
            reason,
        };
    if laps_remaining <= 0.0 {
        return window(
            PitWindowStatus::Closed,
            None,
            None,
            None,
            None,
            "no longer racing".to_owned(),
        );
    }
    let total = state.session.total_laps;
    let rule_met = crate::twin::pit::compound_rule_met(car);
    let Some(life) = inputs.life else {
        if inputs.no_stop_expected && rule_met {
            return window(
                PitWindowStatus::NotNeeded,
                None,
                None,
                None,
                None,
                "the field's stints say this set reaches the flag".to_owned(),
            );
        }
        return window(
            PitWindowStatus::Unknown,
            None,
            None,
            None,
            None,
            "waiting for two clean laps on this set".to_owned(),
        );
    };
    let what = match life.corner {
        Some(k) => format!("{} at {:.0} %", CORNER_NAMES[k], params.wear_limit_pct),
        None => "the set's expected life".to_owned(),
    };
    if rule_met && life.laps_left >= laps_remaining {
        return window(
            PitWindowStatus::NotNeeded,
            None,
            None,
            None,
            None,
            format!("tyres reach the flag: {what} in {:.1} laps", life.laps_left),
        );
    }
    let last_stop_lap = total.saturating_sub(1).max(car.lap);
    let latest = (car.lap + life.laps_left.floor() as u32).clamp(car.lap, last_stop_lap);
    let laps_left_race = total.saturating_sub(car.lap);
    // A set's life: measured wear scaled by the calibration's relative wear rates, or the pit model's prior.
    let life_of = |c: Compound| {
        if life.corner.is_some() {
            let life_now = if life.rate_per_lap > 0.0 {
                params.wear_limit_pct / life.rate_per_lap
            } else {
                f64::from(total)
            };
            let prior = |c: Compound| crate::calibration::compound_params(c).wear_pct_per_lap;
            life_now * prior(car.tyres.compound) / prior(c)
        } else {
            crate::twin::pit::prior_life(c, total, &params.pit)
        }
    };
    let next = next_compound(car, laps_left_race, &inputs.models.pace, life_of);
    let next_life = life_of(next);
    let next_name = next.name();
    let earliest = (f64::from(total) - next_life.floor()).max(f64::from(car.lap)) as u32;
    if !rule_met && life.laps_left >= laps_remaining {
        return window(
            PitWindowStatus::Open,
            Some(car.lap),
            Some(last_stop_lap),
            inputs.next_pit.map(|p| p.lap.clamp(car.lap, last_stop_lap)),
            Some(next),
            "tyres last, but a second dry compound is still required".to_owned(),
        );
    }
    let lo = earliest.min(latest);
    // Best lap: the plan's stop, inside the window, a lap later if stopping now rejoins in traffic.
    let mut best = inputs.next_pit.map_or(lo, |p| p.lap).clamp(lo, latest);
    if best == car.lap && inputs.rejoin.is_some_and(|r| r.traffic) && best < latest {
        best += 1;
    }
    let (status, reason) = if life.laps_left < 0.5 {
        (PitWindowStatus::Overdue, format!("{what} reached: box now"))
    } else if earliest > latest {
        (
            PitWindowStatus::Open,
            format!(
                "two more stops: {what} by lap {latest}, a {next_name} lasts {next_life:.0} laps"
            ),
        )
    } else if car.lap >= earliest {
        (
            PitWindowStatus::Open,
            format!(
                "box by lap {latest} ({what}); a {next_name} reaches the flag; best lap {best}"
            ),
        )
    } else {
        (
            PitWindowStatus::Upcoming,
            format!("opens lap {earliest} for a {next_name} to the flag; {what} by lap {latest}"),
        )
    };
    window(
        status,
        Some(lo),
        Some(latest),
        Some(best),
        Some(next),
        reason,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::LapRecorder;
    use crate::sim::{RaceSim, SimConfig};
    use crate::wire::TrackStatus;

    /// A synthetic stint: known wear per lap per corner and known burn, with an SC lap in the middle.
    fn synthetic(
        n: u32,
        wear: [f64; 4],
        burn: f64,
        sc_lap: Option<u32>,
    ) -> (RaceState, Vec<LapRecord>) {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 1,
            total_laps: 50,
        });
        sim.advance_to(1.0);
        let mut state = sim.state();
        let mut records = Vec::new();
        let (mut w, mut fuel) = ([0.0; 4], 100.0);
        for lap in 1..=n {
            let neutral = sc_lap == Some(lap);
            let mult = if neutral { 0.25 } else { 1.0 };
            for k in 0..4 {
                w[k] += wear[k] * mult;
            }
            fuel -= burn * mult;
            records.push(LapRecord {
                car_idx: 0,
                lap,
                lap_time_s: 95.0,
                position: 1,
                compound: Compound::Medium,
                tyre_age_laps: lap,
                wear_pct: Corners::from_array(w),
                fuel_kg: fuel,
                track_status: if neutral {
                    TrackStatus::SafetyCar
                } else {
                    TrackStatus::Green
                },
                pit_lane: false,
                sectors_s: [None; 3],
                ers_store_pct: 50.0,
                gap_to_leader_s: None,
            });
        }
        let car = state.cars.iter_mut().find(|c| c.car_idx == 0).unwrap();
        car.lap = n + 1;
        car.lap_distance_m = 0.0;
        car.stints = vec![crate::wire::Stint {
            compound: Compound::Medium,
            start_lap: 1,
            laps: n,
            start_age_laps: 0,
        }];
        car.tyres.compound = Compound::Medium;
        car.tyres.age_laps = n;
        car.tyres.corners = Corners::from_array(w.map(|wear_pct| crate::wire::TyreCorner {
            wear_pct,
            ..Default::default()
        }));
        car.fuel_kg = fuel;
        (state, records)
    }

    fn twin_of(state: &RaceState, records: &[LapRecord], car_idx: u8) -> CarTwin {
        field_twins(state, records, &TwinParams::PIT_WALL)
            .into_iter()
            .find(|t| t.car_idx == car_idx)
            .unwrap()
    }

    #[test]
    fn recovers_known_rates_and_ignores_the_sc_lap() {
        let (state, records) = synthetic(12, [1.5, 1.2, 2.0, 1.8], 1.9, Some(6));
        let twin = twin_of(&state, &records, 0);
        let rates = twin
            .wear_rate_pct_per_lap
            .map(|r| r.unwrap().mean)
            .as_array();
        for (got, want) in rates.iter().zip([1.5, 1.2, 2.0, 1.8]) {
            assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
        assert!((twin.fuel_burn_kg_per_lap.unwrap().mean - 1.9).abs() < 1e-9);
        assert_eq!(twin.limiting_corner.as_deref(), Some("rear-left"));
        let rl = twin.wear_pct.rear_left;
        assert!((twin.laps_to_wear_limit.unwrap() - (70.0 - rl) / 2.0).abs() < 1e-9);
        // 50 laps, on lap 13: 38 to go; the fuel on board at 1.9 kg/lap.
        assert!((twin.fuel_margin_kg.unwrap() - (twin.fuel_kg - 1.9 * 38.0)).abs() < 1e-9);
        assert_eq!(
            twin.pit_window.latest_lap,
            Some(13 + twin.laps_to_wear_limit.unwrap().floor() as u32)
        );
        // Only mediums used so far: the next set must be another compound, and a hard (which lasts 1.95/1.35 times
        // as long as a medium in the calibration) reaches the flag from now on.
        assert_eq!(
            twin.pit_window.status,
            PitWindowStatus::Open,
            "{:?}",
            twin.pit_window
        );
        assert_eq!(twin.pit_window.earliest_lap, Some(13));
        assert!(
            twin.pit_window.reason.contains("hard reaches the flag"),
            "{}",
            twin.pit_window.reason
        );
    }

    #[test]
    fn empty_and_one_lap_stints_give_no_nan() {
        for n in [0, 1] {
            let (state, records) = synthetic(n.max(1), [1.0; 4], 1.9, None);
            let records = if n == 0 { Vec::new() } else { records };
            let twin = twin_of(&state, &records, 0);
            assert!(twin.wear_rate_pct_per_lap.front_left.is_none());
            assert_eq!(twin.pit_window.status, PitWindowStatus::Unknown);
            // A non-finite float is written as `null` and does not read back the same: the round trip proves every
            // number finite.
            let json = serde_json::to_string(&twin).unwrap();
            assert_eq!(
                serde_json::from_str::<CarTwin>(&json).unwrap(),
                twin,
                "{json}"
            );
        }
    }

    #[test]
    fn simulated_race_rates_match_the_calibration() {
        let mut sim = RaceSim::new(&SimConfig::sakhir_2019(3));
        let mut rec = LapRecorder::new();
        let mut t = 0.0;
        while sim.state().session.leader_lap < 12 {
            t += 1.0;
            sim.advance_to(t);
            rec.observe(&sim.state());
        }
        let state = sim.state();
        let twins = field_twins(&state, rec.records(), &TwinParams::PIT_WALL);
        let mut checked = 0;
        for (twin, car) in twins.iter().zip(&state.cars) {
            let (Some(rl), Some(fuel)) = (
                twin.wear_rate_pct_per_lap.rear_left,
                twin.fuel_burn_kg_per_lap,
            ) else {
                continue;
            };
            if car.tyres.compound != Compound::Soft || car.result_status.is_out() {
                continue;
            }
            // Left-rear soft wear is 2.75 %/lap in the calibration, ±3 % lap-to-lap noise.
            assert!((rl.mean - 2.75).abs() < 0.2, "{} {rl:?}", car.driver.code);
            assert!(fuel.mean > 1.6 && fuel.mean < 2.0, "{fuel:?}");
            checked += 1;
        }
        assert!(checked >= 5, "only {checked} cars checked");
    }
}
