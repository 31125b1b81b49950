//! The Field Twin: every car as a rival: its stints, corrected pace, next laps, next stop, rejoin position, and the
//! undercut and overcut chances between neighbours.

use serde::{Deserialize, Serialize};

use crate::twin::TwinParams;
use crate::twin::laps::{CarLaps, FuelModel, by_car};
use crate::twin::pace::{CompoundPace, FieldPace, PaceModel, pace_model, predict_laps};
use crate::twin::pit::{
    PitPrediction, Rejoin, TRAFFIC_GAP_S, TeamTendency, predict_next_pit, rejoin_if_pitting_now,
};
use crate::wire::{
    CarState, Compound, LapRecord, PitStatus, RaceState, ResultStatus, SCHEMA_VERSION, Stint,
};

/// What the pit wall knows about the whole field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldTwin {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Session time of the state it was computed from, in seconds.
    pub session_time_s: f64,
    /// The leader's lap.
    pub leader_lap: u32,
    /// Pit loss used for rejoins and undercuts, in seconds.
    pub pit_lane_loss_s: f64,
    /// Fuel is measured (`true`) or modelled from the race distance (`false`, timing-only sources).
    pub fuel_measured: bool,
    /// What the field has shown about each compound.
    pub compounds: Vec<CompoundPace>,
    /// Every car, in running order.
    pub rivals: Vec<RivalTwin>,
    /// Undercut and overcut chances between each pair of neighbours.
    pub battles: Vec<Battle>,
    /// Teams' stops against the predictions, learned this session.
    pub tendencies: Vec<TeamTendency>,
    /// The laps show the other tyres (slicks or inters) faster now. Absent in older JSON and left out when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crossover: Option<crate::twin::weather::Crossover>,
}

/// One car seen as a rival.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RivalTwin {
    /// The car.
    pub car_idx: u8,
    /// Driver code.
    pub code: String,
    /// Team name.
    pub team: String,
    /// Running position.
    pub position: u8,
    /// Whether it is racing.
    pub result_status: ResultStatus,
    /// Gap to the leader, in seconds.
    pub gap_to_leader_s: Option<f64>,
    /// Gap to the car ahead, in seconds.
    pub interval_s: Option<f64>,
    /// Every stint so far.
    pub stints: Vec<Stint>,
    /// Compound fitted.
    pub compound: Compound,
    /// Age of the set, in laps.
    pub tyre_age_laps: u32,
    /// Its pace on this set, fuel- and tyre-corrected.
    pub pace: Option<PaceModel>,
    /// Predicted times of its next laps with no stop, in seconds.
    pub predicted_laps_s: Vec<f64>,
    /// Its next stop.
    pub next_pit: Option<PitPrediction>,
    /// Where it would rejoin if it pitted now.
    pub rejoin: Option<Rejoin>,
}

/// Strategic chances between a car and the one directly ahead of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Battle {
    /// The car behind.
    pub attacker: u8,
    /// The car ahead.
    pub defender: u8,
    /// Gap between them, in seconds.
    pub gap_s: f64,
    /// The attacker pits this lap and the defender the next.
    pub undercut: Chance,
    /// The defender pits this lap and the attacker stays out one more.
    pub overcut: Chance,
}

/// A pass through the stops.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chance {
    /// Time the attacker gains over the two laps of the stops, in seconds.
    pub gain_s: f64,
    /// Probability that the gain beats the gap.
    pub probability: f64,
}

/// Everything the Field Twin learned from the laps so far, shared with the Car Twin.
#[derive(Clone, Debug)]
pub struct FieldModels {
    /// The field's pace knowledge.
    pub pace: FieldPace,
    /// Per car in running order: its pace model.
    pub models: Vec<Option<PaceModel>>,
}

impl FieldModels {
    /// Learns the field's pace and every car's pace model.
    pub fn learn(state: &RaceState, records: &[LapRecord], params: &TwinParams) -> Self {
        let laps = by_car(state, records);
        Self::from_laps(state, &laps, params)
    }

    fn from_laps(state: &RaceState, laps: &[CarLaps<'_>], params: &TwinParams) -> Self {
        let fuel = FuelModel::for_state(
            state,
            params.fuel_sensitivity_s_per_kg,
            params.start_fuel_kg,
        );
        let pairs: Vec<(&CarState, CarLaps<'_>)> =
            state.cars.iter().zip(laps.iter().cloned()).collect();
        let pace = FieldPace::learn(&pairs, fuel, &params.pace);
        let models = pairs
            .iter()
            .map(|(car, l)| pace_model(car, l, &pace, &params.pace))
            .collect();
        FieldModels { pace, models }
    }

    /// The pace model of `car_idx`.
    pub fn model(&self, state: &RaceState, car_idx: u8) -> Option<&PaceModel> {
        let i = state.cars.iter().position(|c| c.car_idx == car_idx)?;
        self.models.get(i)?.as_ref()
    }
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 via `libm::erf`).
pub(crate) fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + libm::erf(z / core::f64::consts::SQRT_2))
}

/// The Field Twin of the state.
pub fn field_twin(
    state: &RaceState,
    records: &[LapRecord],
    tendencies: &[TeamTendency],
    params: &TwinParams,
) -> FieldTwin {
    let models = FieldModels::learn(state, records, params);
    field_twin_with(state, records, &models, tendencies, params)
}

/// The Field Twin of the state with the field's models already learned.
pub fn field_twin_with(
    state: &RaceState,
    records: &[LapRecord],
    models: &FieldModels,
    tendencies: &[TeamTendency],
    params: &TwinParams,
) -> FieldTwin {
    let laps = by_car(state, records);
    let crossover = crate::twin::weather::crossover(records);
    let rivals: Vec<RivalTwin> = state
        .cars
        .iter()
        .zip(&laps)
        .zip(&models.models)
        .map(|((car, l), model)| {
            let tendency = tendencies.iter().find(|t| t.team == car.team.name);
            RivalTwin {
                car_idx: car.car_idx,
                code: car.driver.code.clone(),
                team: car.team.name.clone(),
                position: car.position,
                result_status: car.result_status,
                gap_to_leader_s: car.gap_to_leader_s,
                interval_s: car.interval_s,
                stints: car.stints.clone(),
                compound: car.tyres.compound,
                tyre_age_laps: car.tyres.age_laps,
                pace: *model,
                predicted_laps_s: model.as_ref().map_or_else(Vec::new, |m| {
                    predict_laps(car, m, &models.pace, params.predict_laps)
                }),
                next_pit: match &crossover {
                    Some(c) if crate::twin::weather::calls(c, state, car) => {
                        Some(crate::twin::pit::crossover_stop(state, car, &params.pit))
                    }
                    _ => predict_next_pit(
                        state,
                        car,
                        l,
                        &models.pace,
                        tendency,
                        &params.pace,
                        &params.pit,
                    ),
                },
                rejoin: rejoin_if_pitting_now(state, car),
            }
        })
        .collect();
    let battles = battles(state, models, params);
    FieldTwin {
        schema_version: SCHEMA_VERSION,
        session_time_s: state.session_time_s,
        leader_lap: state.session.leader_lap,
        pit_lane_loss_s: state.session.pit_lane_loss_s,
        fuel_measured: models.pace.fuel.measured,
        compounds: models.pace.compounds.clone(),
        rivals,
        battles,
        tendencies: tendencies.to_vec(),
        crossover,
    }
}

/// The compound a car would most likely fit next: among the dry compounds the two-compound rule allows, the
/// quickest over the rest of the race among those whose `life` (in laps) reaches the flag, else the longest-lasting.
pub fn next_compound(
    car: &CarState,
    laps_left: u32,
    field: &FieldPace,
    life: impl Fn(Compound) -> f64,
) -> Compound {
    let rule_met = crate::twin::pit::compound_rule_met(car);
    let candidates: Vec<Compound> = Compound::DRY
        .into_iter()
        .filter(|c| rule_met || *c != car.tyres.compound)
        .collect();
    let n = f64::from(laps_left);
    let cost = |c: Compound| {
        let d = field.compound(c).map_or(0.05, |x| x.deg_s_per_lap.max(0.0));
        n * field.offset(Compound::Soft, c) + d * n * (n + 1.0) / 2.0
    };
    let lasting = candidates
        .iter()
        .copied()
        .filter(|c| life(*c) >= n)
        .min_by(|a, b| cost(*a).total_cmp(&cost(*b)));
    lasting
        .or_else(|| {
            candidates
                .iter()
                .copied()
                .max_by(|a, b| life(*a).total_cmp(&life(*b)))
        })
        .unwrap_or(Compound::Hard)
}

fn battles(state: &RaceState, models: &FieldModels, params: &TwinParams) -> Vec<Battle> {
    let fuel = &models.pace.fuel;
    let cold = params.cold_tyre_loss_s;
    let mut out = Vec::new();
    for (i, pair) in state.cars.windows(2).enumerate() {
        let (ahead, behind) = (&pair[0], &pair[1]);
        let (Some(ma), Some(mb)) = (&models.models[i], &models.models[i + 1]) else {
            continue;
        };
        // Racing each other on track: not under a SC or VSC (the train's compressed intervals are no gaps to
        // undercut), neither in the pit lane already (a stop under way is no longer a choice).
        let (Some(gap), true) = (
            behind.interval_s,
            ahead.result_status == ResultStatus::Active
                && behind.result_status == ResultStatus::Active
                && ahead.laps_down == behind.laps_down
                && !state.session.track_status.is_neutralised()
                && ahead.pit_status == PitStatus::None
                && behind.pit_status == PitStatus::None,
        ) else {
            continue;
        };
        let left = state.session.total_laps.saturating_sub(behind.lap);
        if left < 2 {
            continue;
        }
        let fuel_kg = fuel.modelled_kg(behind.lap);
        let old = |m: &PaceModel, car: &CarState, k: u32| {
            m.lap_time_s(
                f64::from(car.tyres.age_laps.saturating_add(k)),
                fuel_kg,
                fuel,
            )
        };
        let fresh = |m: &PaceModel, car: &CarState, age: u32| {
            let total = state.session.total_laps;
            let to = next_compound(car, left, &models.pace, |c| {
                crate::twin::pit::prior_life(c, total, &params.pit)
            });
            m.base_s
                + models.pace.offset(car.tyres.compound, to)
                + models.pace.deg(to, &params.pace) * f64::from(age)
                + fuel.effect_s(fuel_kg)
        };
        // Traffic a car meets when it rejoins now, as time lost on its out-lap.
        let traffic = |car: &CarState| {
            rejoin_if_pitting_now(state, car)
                .filter(|r| r.traffic)
                .and_then(|r| r.gap_ahead_s)
                .map_or(0.0, |g| (TRAFFIC_GAP_S - g).max(0.0))
        };
        // Undercut: behind stops at the end of this lap, ahead one lap later. Pit-lane time cancels.
        let under = (old(ma, ahead, 1) + fresh(ma, ahead, 1) + cold)
            - (fresh(mb, behind, 1) + cold + traffic(behind) + fresh(mb, behind, 2));
        // Overcut: ahead stops now, behind one lap later.
        let over = (fresh(ma, ahead, 1) + cold + traffic(ahead) + fresh(ma, ahead, 2))
            - (old(mb, behind, 1) + fresh(mb, behind, 1) + cold);
        let sigma = (ma.sigma_s * ma.sigma_s * 2.0
            + mb.sigma_s * mb.sigma_s * 2.0
            + 2.0 * params.pit_stop_sigma_s * params.pit_stop_sigma_s)
            .sqrt();
        let chance = |gain: f64| Chance {
            gain_s: gain,
            probability: normal_cdf((gain - gap - params.min_pass_margin_s) / sigma),
        };
        out.push(Battle {
            attacker: behind.car_idx,
            defender: ahead.car_idx,
            gap_s: gap,
            undercut: chance(under),
            overcut: chance(over),
        });
    }
    out
}
