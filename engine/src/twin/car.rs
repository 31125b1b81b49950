//! The first Car Twin: per car, tyre wear rate per corner, fuel burn and fuel to the flag, and a simple pit window.
//!
//! Pure functions over a [`CarState`] and that car's [`LapRecord`]s. Rates are means of lap-to-lap deltas over the
//! last [`TwinParams::window_laps`] clean laps of the current stint: deltas rather than a fit of wear against age,
//! so that a safety-car period in the middle of a stint (slow wear, left out) does not bend the slope. A lap is
//! clean when it was run under green and neither it nor the lap after it touched the pit lane.

use serde::{Deserialize, Serialize};

use crate::wire::{
    CORNER_NAMES, CarState, Compound, Corners, LapRecord, RaceState, SCHEMA_VERSION,
};

/// Tuning of the twin.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinParams {
    /// Wear at which a tyre is considered finished, in percent.
    pub wear_limit_pct: f64,
    /// How many recent clean laps the rates average over.
    pub window_laps: usize,
}

impl TwinParams {
    /// The defaults used by the pit wall: 70 % wear limit (where the simulated and real cliffs start), 8 laps.
    pub const PIT_WALL: TwinParams = TwinParams {
        wear_limit_pct: 70.0,
        window_laps: 8,
    };
}

/// What the Car Twin knows about one car.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CarTwin {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The car.
    pub car_idx: u8,
    /// Session time of the state this was computed from, in seconds.
    pub session_time_s: f64,
    /// The lap the car is on.
    pub lap: u32,
    /// Laps still to run including the rest of this one (fractional).
    pub laps_remaining: f64,
    /// Compound fitted.
    pub compound: Compound,
    /// Age of the set, in laps.
    pub tyre_age_laps: u32,
    /// Wear now, percent.
    pub wear_pct: Corners<f64>,
    /// Wear added per green lap, percent per lap, with its standard error; `None` until two clean laps are known.
    pub wear_rate_pct_per_lap: Corners<Option<Rate>>,
    /// The corner that reaches the wear limit first.
    pub limiting_corner: Option<String>,
    /// Green laps until that corner reaches [`TwinParams::wear_limit_pct`].
    pub laps_to_wear_limit: Option<f64>,
    /// Fuel on board, in kilograms.
    pub fuel_kg: f64,
    /// Fuel burned per green lap, in kilograms, with its standard error.
    pub fuel_burn_kg_per_lap: Option<Rate>,
    /// Green laps the fuel on board lasts at that burn.
    pub fuel_laps_left: Option<f64>,
    /// Fuel left at the flag at that burn (negative: the car must save this much), in kilograms.
    pub fuel_margin_kg: Option<f64>,
    /// When to stop next.
    pub pit_window: PitWindow,
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

/// The next pit window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PitWindow {
    /// Where the car stands against the window.
    pub status: PitWindowStatus,
    /// First lap at the end of which a stop onto the longest-lasting dry compound gets the car to the flag with no
    /// further stop.
    pub earliest_lap: Option<u32>,
    /// Last lap at the end of which the car can stop before its tyres reach the wear limit.
    pub latest_lap: Option<u32>,
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

/// The Car Twin of one car, from its state and its lap records (any order; other cars' records are ignored).
pub fn car_twin(
    state: &RaceState,
    car: &CarState,
    records: &[LapRecord],
    params: &TwinParams,
) -> CarTwin {
    let mut own: Vec<&LapRecord> = records
        .iter()
        .filter(|r| r.car_idx == car.car_idx)
        .collect();
    own.sort_by_key(|r| r.lap);
    let stint_start = car.stints.last().map_or(1, |s| s.start_lap);
    let total = f64::from(state.session.total_laps);
    let lap_frac = if state.session.track_length_m > 0.0 {
        car.lap_distance_m / state.session.track_length_m
    } else {
        0.0
    };
    let laps_remaining =
        if car.result_status.is_out() || car.result_status == crate::wire::ResultStatus::Finished {
            0.0
        } else {
            (total - f64::from(car.lap - 1) - lap_frac).max(0.0)
        };

    // Consecutive pairs (previous lap, this lap); the pair's lap is clean if green and away from the pit lane.
    let is_clean = |i: usize| {
        let r = own[i];
        let next_pitted = own
            .get(i + 1)
            .is_some_and(|n| n.lap == r.lap + 1 && n.pit_lane);
        !r.track_status.is_neutralised() && !r.pit_lane && !next_pitted
    };
    let pairs = || (1..own.len()).filter(|&i| own[i].lap == own[i - 1].lap + 1);

    let wear_deltas: Vec<[f64; 4]> = pairs()
        .filter(|&i| own[i].lap > stint_start && own[i - 1].lap >= stint_start && is_clean(i))
        .map(|i| {
            let (a, b) = (own[i - 1].wear_pct.as_array(), own[i].wear_pct.as_array());
            [b[0] - a[0], b[1] - a[1], b[2] - a[2], b[3] - a[3]]
        })
        .collect();
    let recent_wear = &wear_deltas[wear_deltas.len().saturating_sub(params.window_laps)..];
    let wear_rate = Corners::from_array(std::array::from_fn(|k| {
        rate(recent_wear.iter().map(|d| d[k]))
    }));

    let fuel_deltas: Vec<f64> = pairs()
        .filter(|&i| !own[i].track_status.is_neutralised())
        .map(|i| own[i - 1].fuel_kg - own[i].fuel_kg)
        .collect();
    let fuel_burn = rate(
        fuel_deltas[fuel_deltas.len().saturating_sub(params.window_laps)..]
            .iter()
            .copied(),
    );

    // The corner that hits the limit first.
    let wear_now = car.tyres.corners.map(|c| c.wear_pct);
    let mut limiting: Option<(usize, f64)> = None;
    for (k, (w, r)) in wear_now
        .as_array()
        .into_iter()
        .zip(wear_rate.as_array())
        .enumerate()
    {
        let Some(r) = r.filter(|r| r.mean > 1e-6) else {
            continue;
        };
        let laps = ((params.wear_limit_pct - w) / r.mean).max(0.0);
        if limiting.is_none_or(|(_, l)| laps < l) {
            limiting = Some((k, laps));
        }
    }

    let fuel_laps_left = fuel_burn
        .filter(|b| b.mean > 1e-6)
        .map(|b| car.fuel_kg / b.mean);
    let fuel_margin_kg = fuel_burn.map(|b| car.fuel_kg - b.mean * laps_remaining);
    let pit_window = pit_window(state, car, limiting, laps_remaining, params);

    CarTwin {
        schema_version: SCHEMA_VERSION,
        car_idx: car.car_idx,
        session_time_s: state.session_time_s,
        lap: car.lap,
        laps_remaining,
        compound: car.tyres.compound,
        tyre_age_laps: car.tyres.age_laps,
        wear_pct: wear_now,
        wear_rate_pct_per_lap: wear_rate,
        limiting_corner: limiting.map(|(k, _)| CORNER_NAMES[k].to_owned()),
        laps_to_wear_limit: limiting.map(|(_, l)| l),
        fuel_kg: car.fuel_kg,
        fuel_burn_kg_per_lap: fuel_burn,
        fuel_laps_left,
        fuel_margin_kg,
        pit_window,
    }
}

/// The Car Twin of every car in the state, in running order.
pub fn field_twins(state: &RaceState, records: &[LapRecord], params: &TwinParams) -> Vec<CarTwin> {
    state
        .cars
        .iter()
        .map(|car| car_twin(state, car, records, params))
        .collect()
}

fn rate(values: impl Iterator<Item = f64>) -> Option<Rate> {
    let xs: Vec<f64> = values.collect();
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

fn pit_window(
    state: &RaceState,
    car: &CarState,
    limiting: Option<(usize, f64)>,
    laps_remaining: f64,
    params: &TwinParams,
) -> PitWindow {
    let window = |status, earliest_lap, latest_lap, reason: String| PitWindow {
        status,
        earliest_lap,
        latest_lap,
        reason,
    };
    if laps_remaining <= 0.0 {
        return window(
            PitWindowStatus::Closed,
            None,
            None,
            "no longer racing".to_owned(),
        );
    }
    let Some((corner, laps_to_limit)) = limiting else {
        return window(
            PitWindowStatus::Unknown,
            None,
            None,
            "waiting for two clean laps on this set".to_owned(),
        );
    };
    let total = state.session.total_laps;
    let mut dry: Vec<Compound> = car
        .stints
        .iter()
        .map(|s| s.compound)
        .filter(|c| c.is_dry())
        .collect();
    dry.sort();
    dry.dedup();
    let rule_met = dry.len() >= 2 || !car.tyres.compound.is_dry();
    let corner_name = CORNER_NAMES[corner];
    let limit = params.wear_limit_pct;
    if rule_met && laps_to_limit >= laps_remaining {
        return window(
            PitWindowStatus::NotNeeded,
            None,
            None,
            format!(
                "tyres reach the flag: {corner_name} at {limit:.0} % in {laps_to_limit:.1} laps"
            ),
        );
    }
    // The lap on which the limiting corner crosses the limit; the stop is at the end of the lap before.
    let latest = (car.lap + laps_to_limit.floor() as u32)
        .clamp(car.lap, total.saturating_sub(1).max(car.lap));
    // The next set: this set's measured life, scaled by how much longer each dry compound lasts (the calibration's
    // relative wear rates; a prior until the full twin learns it in-session). The longest-lasting one decides
    // `earliest`: from then on a single stop reaches the flag.
    let wear_rate = (limit - car.tyres.corners.map(|c| c.wear_pct).as_array()[corner])
        / laps_to_limit.max(1e-9);
    let life_now = if wear_rate > 0.0 {
        limit / wear_rate
    } else {
        f64::from(total)
    };
    let prior = |c: Compound| crate::calibration::compound_params(c).wear_pct_per_lap;
    let (next_compound, life) = Compound::DRY
        .into_iter()
        .filter(|c| rule_met || *c != car.tyres.compound)
        .map(|c| (c, life_now * prior(car.tyres.compound) / prior(c)))
        .fold((car.tyres.compound, life_now), |best, x| {
            if x.1 > best.1 { x } else { best }
        });
    let next_name = format!("{next_compound:?}").to_lowercase();
    let earliest = (f64::from(total) - life.floor()).max(f64::from(car.lap)) as u32;
    if !rule_met && laps_to_limit >= laps_remaining {
        return window(
            PitWindowStatus::Open,
            Some(car.lap),
            Some(total.saturating_sub(1).max(car.lap)),
            "tyres last, but a second dry compound is still required".to_owned(),
        );
    }
    let (status, reason) = if laps_to_limit < 0.5 {
        (
            PitWindowStatus::Overdue,
            format!("{corner_name} is at the {limit:.0} % limit: box now"),
        )
    } else if earliest > latest {
        (
            PitWindowStatus::Open,
            format!(
                "two more stops: {corner_name} reaches {limit:.0} % on lap {latest}, a {next_name} lasts {life:.0} laps"
            ),
        )
    } else if car.lap >= earliest {
        (
            PitWindowStatus::Open,
            format!(
                "box by lap {latest} ({corner_name} reaches {limit:.0} %); a {next_name} reaches the flag"
            ),
        )
    } else {
        (
            PitWindowStatus::Upcoming,
            format!(
                "opens lap {earliest} for a {next_name} to the flag; {corner_name} reaches {limit:.0} % on lap {latest}"
            ),
        )
    };
    window(status, Some(earliest.min(latest)), Some(latest), reason)
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

    #[test]
    fn recovers_known_rates_and_ignores_the_sc_lap() {
        let (state, records) = synthetic(12, [1.5, 1.2, 2.0, 1.8], 1.9, Some(6));
        let car = state.car(0).unwrap();
        let twin = car_twin(&state, car, &records, &TwinParams::PIT_WALL);
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
            let twin = car_twin(
                &state,
                state.car(0).unwrap(),
                &records,
                &TwinParams::PIT_WALL,
            );
            assert!(twin.wear_rate_pct_per_lap.front_left.is_none());
            assert_eq!(twin.pit_window.status, PitWindowStatus::Unknown);
            let json = serde_json::to_string(&twin).unwrap();
            assert!(
                !json.contains("NaN") && !json.contains("null,\"std_err\""),
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
