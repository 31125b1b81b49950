//! Pit-stop predictions: when each car will stop next, with a probability spread, and where it would rejoin if it
//! stopped now.
//!
//! The next stop is the end of the car's expected stint on its current set. The expected stint length blends two
//! estimates: the stints the field has already completed on that compound this session (the car's team-mate counts
//! double), and a plan of the rest of the race that minimises time from the field's degradation, the compound
//! offsets, tyre life and the pit loss. The blend leans on the field as it shows more stints. On top of it: the
//! team's tendency learned in-session (how much earlier or later than predicted it has stopped so far), a safety
//! car or VSC (a stop costs about half as much, so cars in their window come in now), and the two-dry-compound rule.

use serde::{Deserialize, Serialize};

use crate::sorting::sort_by;
use crate::twin::laps::CarLaps;
use crate::twin::pace::{FieldPace, PaceParams};
use crate::wire::{CarState, Compound, PitStatus, RaceState, ResultStatus, TrackStatus};

/// Tuning of the pit predictions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PitParams {
    /// Prior tyre life of each dry compound `[soft, medium, hard]` as a share of the race distance, before the
    /// field has shown any stint (Sakhir 2019's calibrated wear to the cliff: 25, 36 and 52 of 57 laps).
    pub life_share: [f64; 3],
    /// Weight of the plan's stop in the field's survival curve, in stints.
    pub plan_weight_stints: f64,
    /// Stints shorter than this share of the race are not strategy (damage, lap-1 stops) and are not learned from.
    pub min_stint_share: f64,
    /// Under SC/VSC a car stops if it has run at least this share of its expected stint.
    pub neutralised_stop_share: f64,
    /// Floor on the spread of a prediction, in laps.
    pub min_spread_laps: f64,
    /// Shrinkage of a team's learned tendency: its mean offset is weighted `n / (n + this)` after `n` stops.
    pub tendency_prior_stops: f64,
    /// Largest shift a tendency may apply, in laps. 0 by default: on the shared real races applying the learned
    /// tendencies lowered the ±1-lap hit rate (52 % → 40 % with a 2-lap cap), so they are reported, not applied.
    pub tendency_max_laps: f64,
    /// A set that has outlasted every stop seen is expected to stop this many laps on.
    pub overdue_laps: f64,
}

impl PitParams {
    /// Values used by the pit wall (see `BENCHMARKS.md`, "Model fidelity").
    pub const DEFAULT: PitParams = PitParams {
        life_share: [0.33, 0.48, 0.68],
        plan_weight_stints: 2.0,
        min_stint_share: 0.12,
        neutralised_stop_share: 0.4,
        min_spread_laps: 1.0,
        overdue_laps: 2.0,
        tendency_prior_stops: 4.0,
        tendency_max_laps: 0.0,
    };
}

/// A car's next stop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PitPrediction {
    /// The most likely in-lap: the lap at whose end the car enters the pit lane.
    pub lap: u32,
    /// Standard deviation of that lap, in laps.
    pub spread_laps: f64,
    /// Probability of each in-lap around [`PitPrediction::lap`], summing to 1 over the listed laps.
    pub probabilities: Vec<LapProbability>,
    /// Expected length of the current stint, in laps.
    pub expected_stint_laps: f64,
    /// What decided it.
    pub basis: PitBasis,
}

/// The probability of stopping at the end of one lap.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LapProbability {
    /// The in-lap.
    pub lap: u32,
    /// Its probability.
    pub p: f64,
}

/// What a pit prediction rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PitBasis {
    /// The plan (degradation against pit loss) alone: the field has not completed a stint on this compound.
    Plan,
    /// The plan blended with the stints the field has completed on this compound.
    Field,
    /// The track is neutralised and the car is in its window: a cheap stop now.
    Neutralised,
    /// Past its expected stint: any lap now.
    Overdue,
    /// The field's laps call the crossover to the other tyres (slicks or inters): this lap or the next.
    Crossover,
}

/// A team's stops so far against what was predicted three laps before each.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamTendency {
    /// The team.
    pub team: String,
    /// Stops scored.
    pub stops: u32,
    /// Mean of (actual in-lap − predicted in-lap): negative means the team stops earlier than predicted.
    pub mean_offset_laps: f64,
}

/// Where a car would rejoin if it entered the pits now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rejoin {
    /// Running position after the stop.
    pub position: u8,
    /// The car it would rejoin behind, and the gap to it, in seconds.
    pub car_ahead: Option<u8>,
    /// Gap to that car, in seconds.
    pub gap_ahead_s: Option<f64>,
    /// The car it would rejoin ahead of.
    pub car_behind: Option<u8>,
    /// Gap to that car, in seconds.
    pub gap_behind_s: Option<f64>,
    /// It rejoins within 1.5 s of a car ahead: its first laps are in traffic.
    pub traffic: bool,
}

/// Gap behind a car ahead within which a rejoining car is held up, in seconds.
pub const TRAFFIC_GAP_S: f64 = 1.5;

/// Expected remaining life, in laps, of a fresh set of `compound` with the field's evidence and `params`' prior.
pub(crate) fn prior_life(compound: Compound, total_laps: u32, params: &PitParams) -> f64 {
    let share = match compound {
        Compound::Soft => params.life_share[0],
        Compound::Medium => params.life_share[1],
        Compound::Hard => params.life_share[2],
        // Wet tyres last until the track changes: plan on a long stint.
        Compound::Intermediate | Compound::Wet => params.life_share[2],
    };
    share * f64::from(total_laps)
}

/// Cost in seconds of running `n` laps on a set of `compound` from `age`, against a fresh soft (field offsets).
fn stint_cost(field: &FieldPace, pace: &PaceParams, compound: Compound, age: f64, n: f64) -> f64 {
    let d = field.deg(compound, pace).max(0.0);
    let o = field.offset(Compound::Soft, compound);
    n * o + d * (age * n + n * (n + 1.0) / 2.0)
}

/// The lap (stint length from its start) at which the time-optimal plan for the rest of the race stops next, or
/// `None` when no further stop is planned.
#[allow(clippy::too_many_arguments)]
fn plan_next_stop(
    car: &CarState,
    field: &FieldPace,
    pace: &PaceParams,
    params: &PitParams,
    total_laps: u32,
    pit_loss_s: f64,
    rule_met: bool,
) -> Option<f64> {
    let stint = car.stints.last()?;
    let start_done = stint.start_lap.saturating_sub(1);
    let remaining = f64::from(total_laps.saturating_sub(start_done));
    let age0 = f64::from(stint.start_age_laps);
    let compound = stint.compound;
    let life_now = prior_life(compound, total_laps, params) - age0;
    let others: Vec<Compound> = Compound::DRY
        .into_iter()
        .filter(|c| rule_met || *c != compound || !compound.is_dry())
        .collect();
    // 0 stops: only if the rule is met and the set lasts.
    let mut best: Option<(f64, Option<f64>)> = None;
    let mut consider = |cost: f64, first: Option<f64>| {
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, first));
        }
    };
    if rule_met && remaining <= life_now {
        consider(stint_cost(field, pace, compound, age0, remaining), None);
    }
    let max_first = life_now.min(remaining - 1.0).floor().max(1.0) as u32;
    for x in 1..=max_first {
        let x = f64::from(x);
        let head = stint_cost(field, pace, compound, age0, x);
        let rest = remaining - x;
        // One more stop.
        for &c in &others {
            if rest <= prior_life(c, total_laps, params) {
                consider(
                    head + pit_loss_s + stint_cost(field, pace, c, 0.0, rest),
                    Some(x),
                );
            }
        }
        // Two more stops: split the rest evenly between two sets (a good approximation with linear degradation).
        for &c1 in &Compound::DRY {
            for &c2 in &Compound::DRY {
                let legal = rule_met || c1 != compound || c2 != compound;
                let half = rest / 2.0;
                if legal
                    && half <= prior_life(c1, total_laps, params)
                    && half <= prior_life(c2, total_laps, params)
                {
                    consider(
                        head + 2.0 * pit_loss_s
                            + stint_cost(field, pace, c1, 0.0, half.floor())
                            + stint_cost(field, pace, c2, 0.0, half.ceil()),
                        Some(x),
                    );
                }
            }
        }
    }
    best.and_then(|(_, first)| first)
}

/// Whether `car` has used two different dry compounds (or any wet tyre, which lifts the rule).
pub fn compound_rule_met(car: &CarState) -> bool {
    let mut dry: Vec<Compound> = car
        .stints
        .iter()
        .map(|s| s.compound)
        .filter(|c| c.is_dry())
        .collect();
    sort_by(&mut dry, Ord::cmp);
    dry.dedup();
    dry.len() >= 2 || car.stints.iter().any(|s| !s.compound.is_dry())
}

/// One stint seen as a survival observation: the set entered the race at `entry` laps of age and left it at
/// `exit` (an `event` when it was taken off at a stop; censored when it is still running or ended otherwise).
#[derive(Clone, Copy, Debug)]
struct Observation {
    entry: f64,
    exit: f64,
    event: bool,
    weight: f64,
}

/// Kaplan–Meier survival of a tyre set against its age, with delayed entry (used sets join the risk set at
/// their age when fitted) and weights. Returns the steps `(age, S(age))`.
///
/// Written here because it is a dozen lines over observations the twin already has; no survival crate is made
/// for `no_std`-style wasm use with weights and delayed entry.
fn survival(observations: &[Observation]) -> Vec<(f64, f64)> {
    let mut ages: Vec<f64> = observations
        .iter()
        .filter(|o| o.event)
        .map(|o| o.exit)
        .collect();
    sort_by(&mut ages, f64::total_cmp);
    ages.dedup();
    let mut s = 1.0;
    let mut steps = Vec::with_capacity(ages.len());
    for t in ages {
        let at_risk: f64 = observations
            .iter()
            .filter(|o| o.entry < t && o.exit >= t)
            .map(|o| o.weight)
            .sum();
        let events: f64 = observations
            .iter()
            .filter(|o| o.event && o.exit == t)
            .map(|o| o.weight)
            .sum();
        if at_risk > 0.0 {
            s *= 1.0 - events / at_risk;
        }
        steps.push((t, s));
    }
    steps
}

fn survival_at(steps: &[(f64, f64)], age: f64) -> f64 {
    steps
        .iter()
        .take_while(|(t, _)| *t <= age)
        .last()
        .map_or(1.0, |(_, s)| *s)
}

/// Every stint of the field on `compound` except `car`'s current one, as survival observations. Stints shorter
/// than [`PitParams::min_stint_share`] of the race ended for another reason (damage, a lap-1 stop) and are
/// censored, as are running stints and those of cars out of the race. Team-mates' stints weigh double.
fn observations(
    state: &RaceState,
    car: &CarState,
    compound: Compound,
    params: &PitParams,
) -> Vec<Observation> {
    let min_laps = params.min_stint_share * f64::from(state.session.total_laps);
    let mut out = Vec::new();
    for other in &state.cars {
        let n = other.stints.len();
        let weight = if other.team.name == car.team.name && other.car_idx != car.car_idx {
            2.0
        } else {
            1.0
        };
        for (k, s) in other.stints.iter().enumerate() {
            if s.compound != compound || (other.car_idx == car.car_idx && k + 1 == n) {
                continue;
            }
            let entry = f64::from(s.start_age_laps);
            let (laps, ended_by_stop) = match other.stints.get(k + 1) {
                Some(next) => (f64::from(next.start_lap.saturating_sub(s.start_lap)), true),
                None => (f64::from(other.lap.saturating_sub(s.start_lap)), false),
            };
            out.push(Observation {
                entry,
                exit: entry + laps,
                event: ended_by_stop && laps >= min_laps,
                weight,
            });
        }
    }
    out
}

/// The next stop of `car`, or `None` when it is not expected to stop again (or is out of the race).
///
/// The set's age at the stop is the median of its remaining life given that it has lasted until now, from the
/// field's survival curve for the compound (Kaplan–Meier, see `survival`), in which the plan's stop counts as
/// [`PitParams::plan_weight_stints`] pseudo-stints (the prior before the field has shown anything).
#[allow(clippy::too_many_arguments)]
pub fn predict_next_pit(
    state: &RaceState,
    car: &CarState,
    _laps: &CarLaps<'_>,
    field: &FieldPace,
    tendency: Option<&TeamTendency>,
    pace: &PaceParams,
    params: &PitParams,
) -> Option<PitPrediction> {
    if car.result_status != ResultStatus::Active {
        return None;
    }
    // The car's own distance: a lapped car takes the flag that many laps short.
    let total = state.session.total_laps.saturating_sub(car.laps_down);
    let stint = car.stints.last()?;
    let rule_met = compound_rule_met(car);
    let loss = state.session.pit_lane_loss_s;
    let plan = plan_next_stop(car, field, pace, params, total, loss, rule_met);
    let mut obs = observations(state, car, stint.compound, params);
    let field_stints = obs.iter().filter(|o| o.event).count();
    let entry = f64::from(stint.start_age_laps);
    if let Some(p) = plan {
        obs.push(Observation {
            entry,
            exit: entry + p,
            event: true,
            weight: params.plan_weight_stints,
        });
    }
    let steps = survival(&obs);
    // Age of the set at the end of the last completed lap, and the lap the car is on.
    let completed = car.lap.saturating_sub(1);
    let age_now = entry + f64::from(completed.saturating_sub(stint.start_lap.saturating_sub(1)));
    let s_now = survival_at(&steps, age_now);
    let last_useful = total.saturating_sub(1).max(car.lap);
    let in_lap_of = |age: f64| f64::from(completed) + (age - age_now);
    // Conditional probability of stopping at the end of each lap from now on.
    let mut probabilities: Vec<LapProbability> = Vec::new();
    let mut previous = 1.0;
    for (t, s) in steps.iter().filter(|(t, _)| *t > age_now) {
        let cond = if s_now > 0.0 { s / s_now } else { 0.0 };
        let lap = libm::round(in_lap_of(*t)).max(f64::from(car.lap)) as u32;
        if lap <= last_useful && previous - cond > 0.0 {
            probabilities.push(LapProbability {
                lap,
                p: previous - cond,
            });
        }
        previous = cond;
    }
    let mass: f64 = probabilities.iter().map(|p| p.p).sum();
    let median_age = steps
        .iter()
        .find(|(t, s)| *t > age_now && s_now > 0.0 && s / s_now <= 0.5)
        .map(|(t, _)| *t);
    let (age, basis) = match median_age {
        Some(a) => (
            a,
            if field_stints > 0 {
                PitBasis::Field
            } else {
                PitBasis::Plan
            },
        ),
        // No stop planned and the field's sets last past here: no further stop, if the rule allows.
        None if rule_met && plan.is_none() => return None,
        // Past every stop seen: it could come any lap now.
        None => (age_now + params.overdue_laps, PitBasis::Overdue),
    };
    let shift = tendency.map_or(0.0, |t| {
        let n = f64::from(t.stops);
        (t.mean_offset_laps * n / (n + params.tendency_prior_stops))
            .clamp(-params.tendency_max_laps, params.tendency_max_laps)
    });
    let laps_in_stint = age_now - entry;
    let expected = age - entry;
    // A cheap stop under a SC or VSC (not a red flag: the field is in the pit lane, tyres change for free).
    let cheap_stop_now = matches!(
        state.session.track_status,
        TrackStatus::SafetyCar | TrackStatus::VirtualSafetyCar
    ) && car.pit_status == PitStatus::None
        && laps_in_stint >= params.neutralised_stop_share * expected
        && total.saturating_sub(car.lap) > 3;
    // Otherwise, a car that would reach the flag on this set before the field's sets give out, and needs no other
    // compound, makes no stop (a stop after the flag, or on its last lap, is none).
    if !cheap_stop_now
        && rule_met
        && plan.is_none()
        && in_lap_of(age) + shift > f64::from(last_useful)
    {
        return None;
    }
    let (centre, basis) = if cheap_stop_now {
        (f64::from(car.lap), PitBasis::Neutralised)
    } else {
        ((in_lap_of(age) + shift).max(f64::from(car.lap)), basis)
    };
    let lap = (libm::round(centre) as u32).clamp(car.lap, last_useful);
    // Spread: the conditional distribution's quartiles, or the floor.
    let quartile = |q: f64| {
        let mut acc = 0.0;
        probabilities.iter().find_map(|p| {
            acc += p.p;
            (acc >= q * mass).then_some(f64::from(p.lap))
        })
    };
    let spread = match (quartile(0.25), quartile(0.75)) {
        (Some(a), Some(b)) if mass > 0.0 => (b - a) / 1.349,
        _ => 0.0,
    }
    .max(params.min_spread_laps);
    if probabilities.is_empty() || basis == PitBasis::Neutralised || basis == PitBasis::Overdue {
        probabilities = spread_over_laps(centre, spread, car.lap, last_useful);
    } else if mass > 0.0 {
        for p in &mut probabilities {
            p.p /= mass;
        }
    }
    Some(PitPrediction {
        lap,
        spread_laps: spread,
        probabilities,
        expected_stint_laps: expected,
        basis,
    })
}

/// The stop of a car the laps' crossover calls in ([`crate::twin::weather::calls`]): most likely at the end of this
/// lap, spread over the next few (teams wait a lap to see another car's times, or for the pit lane to clear).
pub(crate) fn crossover_stop(
    state: &RaceState,
    car: &CarState,
    params: &PitParams,
) -> PitPrediction {
    let last_useful = state.session.total_laps.saturating_sub(1).max(car.lap);
    let stint = car
        .stints
        .last()
        .map_or(0, |s| car.lap.saturating_sub(s.start_lap));
    PitPrediction {
        lap: car.lap.min(last_useful),
        spread_laps: params.min_spread_laps,
        probabilities: spread_over_laps(
            f64::from(car.lap),
            params.min_spread_laps,
            car.lap,
            last_useful,
        ),
        expected_stint_laps: f64::from(stint),
        basis: PitBasis::Crossover,
    }
}

/// A normal distribution around `centre` with `sigma`, discretised on the laps `first..=last` within ±2σ and
/// normalised.
fn spread_over_laps(centre: f64, sigma: f64, first: u32, last: u32) -> Vec<LapProbability> {
    // Within `first..=last` even when the centre is outside it (the nearest lap then).
    let last = last.max(first);
    let lo = (libm::floor(centre - 2.0 * sigma).clamp(f64::from(first), f64::from(last))) as u32;
    let hi = (libm::ceil(centre + 2.0 * sigma).clamp(f64::from(lo), f64::from(last))) as u32;
    let mut out: Vec<LapProbability> = (lo..=hi.max(lo))
        .map(|lap| {
            let z = (f64::from(lap) - centre) / sigma;
            LapProbability {
                lap,
                p: libm::exp(-0.5 * z * z),
            }
        })
        .collect();
    let total: f64 = out.iter().map(|x| x.p).sum();
    if total > 0.0 {
        for x in &mut out {
            x.p /= total;
        }
    }
    out
}

/// What a stop costs now against the cars on track: the pit lane's loss, about half of it under a SC or VSC (the
/// field is slow while the car is in the lane), nothing under a red flag (tyres are changed while the session is
/// suspended).
pub fn pit_loss_now(state: &RaceState) -> f64 {
    match state.session.track_status {
        TrackStatus::Red => 0.0,
        status if status.is_neutralised() => state.session.pit_lane_loss_s * 0.5,
        _ => state.session.pit_lane_loss_s,
    }
}

/// Where `car` would rejoin if it entered the pits now: its gap to the leader grows by the pit loss (a car in the
/// pit lane already has, on average, half its loss still to come).
pub fn rejoin_if_pitting_now(state: &RaceState, car: &CarState) -> Option<Rejoin> {
    if car.result_status != ResultStatus::Active {
        return None;
    }
    let loss = pit_loss_now(state);
    let effective = |c: &CarState| {
        let gap = c.gap_to_leader_s.unwrap_or(0.0);
        match c.pit_status {
            PitStatus::None => gap,
            PitStatus::PitLane | PitStatus::PitBox => gap + loss / 2.0,
        }
    };
    let own = car.gap_to_leader_s.unwrap_or(0.0)
        + if car.pit_status == PitStatus::None {
            loss
        } else {
            loss / 2.0
        };
    let mut others: Vec<(f64, u8)> = state
        .cars
        .iter()
        .filter(|c| c.car_idx != car.car_idx && c.result_status == ResultStatus::Active)
        .map(|c| (effective(c), c.car_idx))
        .collect();
    sort_by(&mut others, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let ahead = others.iter().rev().find(|(g, _)| *g <= own).copied();
    let behind = others.iter().find(|(g, _)| *g > own).copied();
    let position = 1 + others.iter().filter(|(g, _)| *g <= own).count();
    Some(Rejoin {
        position: u8::try_from(position).unwrap_or(u8::MAX),
        car_ahead: ahead.map(|a| a.1),
        gap_ahead_s: ahead.map(|a| own - a.0),
        car_behind: behind.map(|b| b.1),
        gap_behind_s: behind.map(|b| b.0 - own),
        traffic: ahead.is_some_and(|a| own - a.0 < TRAFFIC_GAP_S),
    })
}
