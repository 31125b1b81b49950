//! Tests of the twins' models on synthetic stints with known degradation and fuel burn, and of the live [`Twins`]
//! over a simulated race.

use super::*;
use crate::sim::{RaceSim, SimConfig};
use crate::twin::alert::MAX_RADIO_CHARS;
use crate::twin::laps::{CarLaps, FuelModel, by_car};
use crate::twin::pace::{FieldPace, PaceModel, pace_model, predict_laps};
use crate::twin::pit::rejoin_if_pitting_now;
use crate::wire::{
    CarState, Compound, Corners, LapRecord, PitStatus, RaceState, Stint, TrackStatus, Weather,
};
use rand::{RngExt, SeedableRng};

const DEG: f64 = 0.08;
const SENS: f64 = 0.03;
const BURN: f64 = 1.8;

/// A field of `n` cars that have each run `laps` laps of one medium stint: lap time is 90 s, plus 0.3 s per car
/// index, plus DEG per lap of age, plus SENS per kg of fuel, plus noise (σ 0.2 s); fuel is measured and burned at
/// BURN kg per green lap; `sc` laps are 30 s slow and burn a quarter.
fn synthetic_field(n: u8, laps: u32, sc: &[u32], seed: u64) -> (RaceState, Vec<LapRecord>) {
    synthetic_field_with(n, laps, sc, seed, DEG, 0.2)
}

/// [`synthetic_field`] with a chosen degradation (s/lap) and noise σ (s).
fn synthetic_field_with(
    n: u8,
    laps: u32,
    sc: &[u32],
    seed: u64,
    deg: f64,
    sigma: f64,
) -> (RaceState, Vec<LapRecord>) {
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let mut sim = RaceSim::new(&SimConfig {
        seed: 1,
        total_laps: 50,
    });
    sim.advance_to(1.0);
    let mut state = sim.state();
    state.cars.truncate(usize::from(n));
    let mut records = Vec::new();
    for (i, car) in state.cars.iter_mut().enumerate() {
        let mut fuel = 100.0;
        for lap in 1..=laps {
            let neutral = sc.contains(&lap);
            fuel -= if neutral { BURN / 4.0 } else { BURN };
            let noise: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
            let lap_time_s = 90.0
                + 0.3 * i as f64
                + deg * f64::from(lap)
                + SENS * fuel
                + sigma * noise
                + if neutral { 30.0 } else { 0.0 };
            records.push(LapRecord {
                car_idx: car.car_idx,
                lap,
                lap_time_s,
                position: car.position,
                compound: Compound::Medium,
                tyre_age_laps: lap,
                wear_pct: Corners::from_array([f64::from(lap); 4]),
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
        car.lap = laps + 1;
        car.lap_distance_m = 0.0;
        car.fuel_kg = fuel;
        car.stints = vec![Stint {
            compound: Compound::Medium,
            start_lap: 1,
            laps,
            start_age_laps: 0,
        }];
        car.tyres.compound = Compound::Medium;
        car.tyres.age_laps = laps;
        car.pit_status = PitStatus::None;
    }
    (state, records)
}

/// The report through JSON and back (see the proptest for why this proves every number finite).
fn round_trip(report: &TwinReport) -> TwinReport {
    serde_json::from_str(&serde_json::to_string(report).unwrap()).unwrap()
}

fn field_pace(state: &RaceState, records: &[LapRecord]) -> FieldPace {
    let laps = by_car(state, records);
    let pairs: Vec<(&CarState, CarLaps<'_>)> = state.cars.iter().zip(laps).collect();
    FieldPace::learn(
        &pairs,
        FuelModel::for_state(state, SENS, 110.0),
        &TwinParams::PIT_WALL.pace,
    )
}

#[test]
fn the_field_recovers_the_true_degradation_and_leaves_out_sc_laps() {
    let (state, records) = synthetic_field(10, 20, &[8, 9], 7);
    let pace = field_pace(&state, &records);
    let medium = pace.compound(Compound::Medium).unwrap();
    // 10 stints of 16 clean laps with σ 0.2 s: the pooled slope is within 0.01 s/lap of the truth.
    assert!(
        (medium.deg_s_per_lap - DEG).abs() < 0.01,
        "{}",
        medium.deg_s_per_lap
    );
    assert_eq!(medium.stints, 10);
    assert_eq!(
        medium.laps,
        10 * 17,
        "laps 1, 8 and 9 and none else are left out"
    );
    assert!((pace.sigma_s - 0.2).abs() < 0.08, "{}", pace.sigma_s);
}

#[test]
fn a_car_model_predicts_its_next_laps_from_the_true_law() {
    let (state, records) = synthetic_field(10, 20, &[], 11);
    let pace = field_pace(&state, &records);
    let car = &state.cars[3];
    let laps = CarLaps::new(car, &records);
    let model = pace_model(car, &laps, &pace, &TwinParams::PIT_WALL.pace).unwrap();
    // The fuel-corrected base is 90 + 3 × 0.3 = 90.9 s.
    assert!((model.base_s - 90.9).abs() < 0.3, "{model:?}");
    let predicted = predict_laps(car, &model, &pace, 5);
    assert_eq!(predicted.len(), 5);
    for (k, p) in predicted.iter().enumerate() {
        let lap = 21 + k as u32;
        let fuel = car.fuel_kg - 110.0 / 50.0 * (k as f64 + 1.0);
        let truth = 90.9 + DEG * f64::from(lap) + SENS * fuel;
        assert!((p - truth).abs() < 0.25, "lap {lap}: {p} vs {truth}");
    }
}

#[test]
fn empty_and_one_lap_stints_give_no_model_and_no_nan() {
    for laps in [0, 1, 2] {
        let (state, mut records) = synthetic_field(4, laps.max(1), &[], 3);
        if laps == 0 {
            records.clear();
        }
        let report = Twins::with_history(TwinParams::PIT_WALL, records.clone()).report(&state);
        assert_eq!(round_trip(&report), report);
        let pace = field_pace(&state, &records);
        let car = &state.cars[0];
        let model = pace_model(
            car,
            &CarLaps::new(car, &records),
            &pace,
            &TwinParams::PIT_WALL.pace,
        );
        // Lap 1 never counts: two laps give a one-lap model, fewer give none.
        match laps {
            2 => assert_eq!(model.map(|m| m.laps), Some(1), "{model:?}"),
            _ => assert!(model.is_none(), "{laps} laps: {model:?}"),
        }
    }
}

fn with_gaps(gaps: &[f64]) -> RaceState {
    let (mut state, _) = synthetic_field(gaps.len() as u8, 10, &[], 1);
    for (car, gap) in state.cars.iter_mut().zip(gaps) {
        car.gap_to_leader_s = (*gap > 0.0).then_some(*gap);
    }
    state.session.pit_lane_loss_s = 22.0;
    state
}

#[test]
fn rejoin_counts_the_cars_within_the_pit_loss_and_those_in_the_pit_lane() {
    let mut state = with_gaps(&[0.0, 5.0, 12.0, 30.0, 33.0, 40.0]);
    // Car at 12 s + 22 s = 34 s: behind the cars at 30 and 33, ahead of 40.
    let r = rejoin_if_pitting_now(&state, &state.cars[2]).unwrap();
    assert_eq!(r.position, 5);
    assert_eq!(r.car_ahead, Some(state.cars[4].car_idx));
    assert!((r.gap_ahead_s.unwrap() - 1.0).abs() < 1e-9);
    assert!(r.traffic, "1 s behind a car is traffic");
    assert!((r.gap_behind_s.unwrap() - 6.0).abs() < 1e-9);
    // The car at 30 s is in the pit lane with half its loss to come: it rejoins at 41 s, behind us.
    state.cars[3].pit_status = PitStatus::PitLane;
    let r = rejoin_if_pitting_now(&state, &state.cars[2]).unwrap();
    assert_eq!(r.position, 4);
}

#[test]
fn an_older_defender_is_more_exposed_to_the_undercut() {
    let (mut state, mut records) = synthetic_field(2, 20, &[], 5);
    state.session.pit_lane_loss_s = 22.0;
    state.cars[1].interval_s = Some(1.0);
    state.cars[1].gap_to_leader_s = Some(1.0);
    let p = |state: &RaceState, records: &[LapRecord]| {
        let f = field_twin(state, records, &[], &TwinParams::PIT_WALL);
        f.battles[0].undercut.probability
    };
    let young = p(&state, &records);
    // The leader's set is 15 laps older (same degradation law): its in-lap is slower, the undercut stronger.
    state.cars[0].tyres.age_laps += 15;
    for r in records
        .iter_mut()
        .filter(|r| r.car_idx == state.cars[0].car_idx)
    {
        r.tyre_age_laps += 15;
        r.lap_time_s += DEG * 15.0;
    }
    let old = p(&state, &records);
    assert!(old > young + 0.1, "{young} → {old}");
}

/// A whole simulated race through [`Twins`], sampled every second.
fn simulated_race(seed: u64) -> (Twins, Vec<session::TwinEvent>, RaceState) {
    let mut sim = RaceSim::new(&SimConfig::sakhir_2019(seed));
    let mut twins = Twins::default();
    let mut events = Vec::new();
    let mut t = 0.0;
    while !sim.is_finished() {
        t += 1.0;
        sim.advance_to(t);
        events.extend(twins.observe(&sim.state()));
    }
    (twins, events, sim.state())
}

#[test]
fn live_twins_notice_stops_and_learn_tendencies_over_a_simulated_race() {
    let (twins, events, state) = simulated_race(4);
    let stops = events
        .iter()
        .filter(|e| e.kind == session::EventKind::PitStop)
        .count() as u32;
    let real: u32 = state.cars.iter().map(|c| c.pit_stops).sum();
    assert_eq!(stops, real, "every stop is an event");
    assert!(twins.strategy().generation >= u64::from(real));
    assert!(!twins.tendencies().is_empty());
    let scored: u32 = twins.tendencies().iter().map(|t| t.stops).sum();
    assert!(scored > real / 2, "{scored} of {real} stops scored");
}

#[test]
fn a_penalty_is_an_event_that_makes_the_strategy_stale() {
    let mut sim = RaceSim::new(&SimConfig::sakhir_2019(3));
    let mut twins = Twins::default();
    sim.advance_to(300.0);
    let mut state = sim.state();
    assert!(twins.observe(&state).is_empty());
    let generation = twins.strategy().generation;
    let car = state.cars[4].car_idx;
    // Five seconds for track limits, then a drive-through on top, then nothing new.
    state.cars[4].penalties_s = 5;
    let five = twins.observe(&state);
    state.cars[4].unserved_penalties = 1;
    let drive_through = twins.observe(&state);
    let again = twins.observe(&state);
    assert_eq!(
        five.iter().map(|e| (e.kind, e.car_idx)).collect::<Vec<_>>(),
        [(session::EventKind::Penalty { seconds: 5 }, Some(car))]
    );
    assert_eq!(
        drive_through.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [session::EventKind::Penalty { seconds: 0 }]
    );
    assert!(again.is_empty());
    assert_eq!(twins.strategy().generation, generation + 2);
    // Served: the count going down is no event.
    state.cars[4].unserved_penalties = 0;
    assert!(twins.observe(&state).is_empty());
    // The event's JSON names it.
    let json = serde_json::to_string(&five[0]).unwrap();
    assert!(
        json.contains(r#""kind":{"penalty":{"seconds":5}}"#),
        "{json}"
    );
}

#[test]
fn a_report_compares_a_car_with_its_chosen_rival() {
    let mut sim = RaceSim::new(&SimConfig::sakhir_2019(6));
    let mut twins = Twins::default();
    let mut t = 0.0;
    while t < 900.0 {
        t += 2.0;
        sim.advance_to(t);
        twins.observe(&sim.state());
    }
    let state = sim.state();
    let (car, ahead, leader) = (&state.cars[6], &state.cars[5], &state.cars[0]);
    let rival_of = |report: &session::TwinReport, idx: u8| {
        report
            .cars
            .iter()
            .find(|c| c.car_idx == idx)
            .and_then(|c| c.rival.clone())
    };
    let default = rival_of(&twins.report(&state), car.car_idx).unwrap();
    assert_eq!(default.car_idx, ahead.car_idx);
    let chosen = twins.report_with_rivals(&state, &[(car.car_idx, leader.car_idx)]);
    let rival = rival_of(&chosen, car.car_idx).unwrap();
    assert_eq!(
        (rival.car_idx, rival.code.as_str()),
        (leader.car_idx, leader.driver.code.as_str())
    );
    let gap = rival.gap_s.unwrap();
    assert!((gap - car.gap_to_leader_s.unwrap()).abs() < 1e-9, "{gap}");
    // The other cars keep the car ahead.
    assert_eq!(
        rival_of(&chosen, ahead.car_idx),
        rival_of(&twins.report(&state), ahead.car_idx)
    );
}

#[test]
fn reports_along_a_race_are_finite_and_speak_in_short_radio_lines() {
    let mut sim = RaceSim::new(&SimConfig::sakhir_2019(9));
    let mut twins = Twins::default();
    let mut t = 0.0;
    let mut alerts = 0;
    while !sim.is_finished() {
        t += 5.0;
        sim.advance_to(t);
        let state = sim.state();
        twins.observe(&state);
        if (t as u64).is_multiple_of(120) {
            let report = twins.report(&state);
            assert_eq!(round_trip(&report), report);
            for a in &report.alerts {
                assert!(a.radio.chars().count() <= MAX_RADIO_CHARS, "{}", a.radio);
                assert!(!a.evidence.is_empty() && a.evidence.len() <= 3, "{a:?}");
                assert!(a.evidence.iter().all(|e| e.value.is_finite()), "{a:?}");
            }
            alerts += report.alerts.len();
            for twin in &report.cars {
                if let Some(p) = &twin.pace {
                    assert!(p.base_s > 60.0 && p.base_s < 120.0, "{p:?}");
                }
            }
        }
    }
    assert!(alerts > 0, "a whole race raises some calls");
}

#[cfg(not(target_arch = "wasm32"))]
proptest::proptest! {
    // A fixed seed: the same 24 cases every run (a statistical bound checked on fresh random cases each run fails
    // now and then by design); the saved regressions are run first.
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 24,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_206),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Any stint length, degradation, noise and SC laps: the report is finite, and with enough clean laps the field
    /// recovers the degradation within a tolerance that scales with the noise.
    #[test]
    fn the_models_recover_any_degradation_and_never_give_nan(
        laps in 0u32..30,
        deg in 0.0f64..0.2,
        sigma in 0.05f64..0.5,
        sc_start in 2u32..30,
        seed in 0u64..1000,
    ) {
        let sc: Vec<u32> = (sc_start..sc_start + 3).collect();
        let (state, records) = synthetic_field_with(8, laps.max(1), &sc, seed, deg, sigma);
        let records = if laps == 0 { Vec::new() } else { records };
        let report = Twins::with_history(TwinParams::PIT_WALL, records.clone()).report(&state);
        // serde_json writes a non-finite float as `null`, which does not read back into an `f64` (or reads back as
        // `None`): a round trip that gives back the same report proves every number finite.
        proptest::prop_assert_eq!(&round_trip(&report), &report);
        let clean = laps.saturating_sub(1 + sc.iter().filter(|l| **l <= laps).count() as u32);
        if clean >= 15 {
            let pace = field_pace(&state, &records);
            let got = pace.compound(Compound::Medium).unwrap().deg_s_per_lap;
            // 8 stints of ≥ 15 clean laps: Σ(x − x̄)² ≥ 8 × 15 (15² − 1) / 12 = 2,240 lap², so the pooled slope's
            // standard error is at most σ / 47.3. Allow 4 of them (3 failed 1 case in a few hundred: laps 16, σ 0.39,
            // off by 3.1) and the prior's pull (strength 500 lap² towards 0.05 against ≥ 2,240 lap² of data).
            let tolerance = 4.0 * sigma / 2240f64.sqrt() + 0.25 * (deg - 0.05).abs() + 0.005;
            proptest::prop_assert!((got - deg).abs() < tolerance, "deg {deg} got {got} tol {tolerance}");
        }
    }
}

/// Cars 1.. ran a 12-lap medium stint and stopped for hards; car 0 ran hards first and is on mediums now, 8 laps
/// old, at lap 21 of a race of `total_laps`.
fn last_stint_field(total_laps: u32) -> (RaceState, Vec<LapRecord>) {
    let (mut state, records) = synthetic_field(6, 20, &[], 3);
    state.session.total_laps = total_laps;
    for (i, car) in state.cars.iter_mut().enumerate() {
        let stint = |compound, start_lap, laps| Stint {
            compound,
            start_lap,
            laps,
            start_age_laps: 0,
        };
        if i == 0 {
            car.stints = vec![stint(Compound::Hard, 1, 12), stint(Compound::Medium, 13, 8)];
            car.tyres.age_laps = 8;
        } else {
            car.stints = vec![stint(Compound::Medium, 1, 12), stint(Compound::Hard, 13, 8)];
            car.tyres.compound = Compound::Hard;
            car.tyres.age_laps = 8;
            car.pit_stops = 1;
        }
    }
    state.cars[0].pit_stops = 1;
    (state, records)
}

#[test]
fn a_car_that_reaches_the_flag_on_its_set_is_predicted_no_stop() {
    let next_pit = |state: &RaceState, records: &[LapRecord]| {
        field_twin(state, records, &[], &TwinParams::PIT_WALL).rivals[0]
            .next_pit
            .clone()
    };
    // The field's mediums gave out after 12 laps: with the race going on, car 0 stops soon.
    let (state, records) = last_stint_field(50);
    let p = next_pit(&state, &records).expect("a stop while the race goes on");
    assert!((21..=30).contains(&p.lap), "{p:?}");
    // Two laps from the flag, the field's median age is only reached after it: both compounds used, and the set
    // lasts (a medium is good for 48 % of the distance), so no stop.
    let (state, records) = last_stint_field(22);
    assert_eq!(next_pit(&state, &records), None);
    // Without its second compound the car must still stop, within the race.
    let (mut state, records) = last_stint_field(22);
    state.cars[0].stints.remove(0);
    let p = next_pit(&state, &records).expect("the compound rule makes it stop");
    assert!(p.lap <= 21, "{p:?}");
    assert!(p.probabilities.iter().all(|x| x.lap <= 21), "{p:?}");
}

#[test]
fn no_undercut_is_counted_under_a_safety_car_or_with_a_car_in_the_pit_lane() {
    let (mut state, records) = synthetic_field(3, 20, &[], 5);
    state.session.pit_lane_loss_s = 22.0;
    for (car, gap) in state.cars.iter_mut().zip([0.0, 1.0, 2.0]) {
        car.interval_s = (gap > 0.0).then_some(1.0);
        car.gap_to_leader_s = (gap > 0.0).then_some(gap);
    }
    let battles =
        |state: &RaceState| field_twin(state, &records, &[], &TwinParams::PIT_WALL).battles;
    assert_eq!(battles(&state).len(), 2);
    let mut sc = state.clone();
    sc.session.track_status = TrackStatus::SafetyCar;
    assert!(
        battles(&sc).is_empty(),
        "the SC train's intervals are no gaps"
    );
    let mut pitting = state.clone();
    pitting.cars[1].pit_status = PitStatus::PitLane;
    assert!(battles(&pitting).is_empty(), "{:?}", battles(&pitting));
}

#[test]
fn under_a_safety_car_a_stop_costs_half_the_pit_loss() {
    let mut state = with_gaps(&[0.0, 5.0, 12.0, 30.0, 33.0, 40.0]);
    state.session.track_status = TrackStatus::SafetyCar;
    // 12 s + 11 s = 23 s: behind the car at 5 s, ahead of the one at 30 s.
    let r = rejoin_if_pitting_now(&state, &state.cars[2]).unwrap();
    assert_eq!(r.position, 3);
    assert!((r.gap_behind_s.unwrap() - 7.0).abs() < 1e-9);
}

#[test]
fn a_lapped_car_has_fewer_laps_to_go_and_none_after_the_flag() {
    let (mut state, records) = synthetic_field(3, 20, &[], 7);
    state.session.total_laps = 22;
    let remaining = |state: &RaceState| {
        let twins = field_twins(state, &records, &TwinParams::PIT_WALL);
        twins[2].laps_remaining
    };
    let on_the_lead_lap = remaining(&state);
    assert!((on_the_lead_lap - 2.0).abs() < 1e-9, "{on_the_lead_lap}");
    state.cars[2].laps_down = 1;
    assert!((remaining(&state) - 1.0).abs() < 1e-9);
    state.session.phase = crate::wire::SessionPhase::Chequered;
    state.cars[2].laps_down = 0;
    assert!(
        remaining(&state) <= 1.0,
        "only the lap it is on after the flag"
    );
}

#[test]
fn a_rival_out_of_the_race_or_with_no_gap_yet_gives_no_delta() {
    let (mut state, records) = synthetic_field(3, 20, &[], 9);
    for (car, gap) in state.cars.iter_mut().zip([None, Some(1.5), Some(3.0)]) {
        car.gap_to_leader_s = gap;
    }
    let delta = |state: &RaceState| {
        let twins = field_twins(state, &records, &TwinParams::PIT_WALL);
        twins[2].rival.clone()
    };
    let d = delta(&state).expect("the car ahead");
    assert!((d.gap_s.unwrap() - 1.5).abs() < 1e-9, "{d:?}");
    state.cars[1].gap_to_leader_s = None;
    assert_eq!(
        delta(&state).and_then(|d| d.gap_s),
        None,
        "no gap yet is not the leader's zero"
    );
    state.cars[1].result_status = crate::wire::ResultStatus::Retired;
    assert_eq!(delta(&state), None);
}

#[test]
fn measured_fuel_is_burned_over_the_laps_to_go_in_predictions() {
    // A 14-lap race (a 25 % game race) with 28 kg on board at the start of lap 1: 2 kg a lap, not 110 kg / 14.
    let (mut state, records) = synthetic_field(2, 0, &[], 1);
    state.session.total_laps = 14;
    state.session.timing_only = false;
    let mut field = field_pace(&state, &records);
    field.fuel.total_laps = 14;
    field.fuel.measured = true;
    let car = &mut state.cars[0];
    car.lap = 1;
    car.fuel_kg = 28.0;
    car.tyres.age_laps = 0;
    let model = PaceModel {
        compound: Compound::Medium,
        base_s: 90.0,
        deg_s_per_lap: 0.0,
        sigma_s: 0.2,
        laps: 5,
    };
    let laps = predict_laps(car, &model, &field, 5);
    for pair in laps.windows(2) {
        let per_lap = pair[0] - pair[1];
        assert!((per_lap - 2.0 * SENS).abs() < 1e-9, "{laps:?}");
    }
}

#[test]
fn a_running_car_reading_an_empty_tank_has_its_fuel_modelled() {
    // A JSON feed that sends one car's tyre wear but not its fuel (read as 0 kg), and a car id past 64.
    let mut state = RaceSim::new(&SimConfig::sakhir_2019(5)).state();
    state.cars[3].fuel_kg = 0.0;
    state.cars[4].car_idx = 200;
    state.cars[4].fuel_kg = 0.0;
    let fuel = FuelModel::for_state(&state, 0.03, 110.0);
    let (empty, far) = (state.cars[3].car_idx, state.cars[4].car_idx);
    assert!(!fuel.measures(empty) && !fuel.measures(far));
    assert!(fuel.measures(200 - 64) && fuel.measures(state.cars[0].car_idx));
    // Out of the race, an empty tank is what it reads.
    state.cars[3].result_status = crate::wire::ResultStatus::Retired;
    assert!(FuelModel::for_state(&state, 0.03, 110.0).measures(empty));
}

#[test]
fn a_car_with_restricted_telemetry_is_modelled_while_the_others_stay_measured() {
    // An online race in which one rival hides its telemetry: the game sends its fuel, ERS, wear and damage as
    // zeros. Read as measurements they would be new tyres and an empty tank all race.
    let hidden_idx = 3;
    let hide = |state: &mut RaceState| {
        let car = state
            .cars
            .iter_mut()
            .find(|c| c.car_idx == hidden_idx)
            .unwrap();
        car.telemetry_restricted = true;
        car.fuel_kg = 0.0;
        car.ers_store_pct = 0.0;
        car.damage = crate::wire::Damage::default();
        for corner in [
            &mut car.tyres.corners.front_left,
            &mut car.tyres.corners.front_right,
            &mut car.tyres.corners.rear_left,
            &mut car.tyres.corners.rear_right,
        ] {
            corner.wear_pct = 0.0;
        }
    };
    let mut sim = RaceSim::new(&SimConfig::sakhir_2019(5));
    let mut twins = Twins::default();
    let mut state = sim.state();
    let mut t = 0.0;
    while state.session.leader_lap < state.session.total_laps / 2 {
        t += 1.0;
        sim.advance_to(t);
        state = sim.state();
        hide(&mut state);
        twins.observe(&state);
    }
    let report = twins.report(&state);
    let twin = |idx: u8| report.cars.iter().find(|c| c.car_idx == idx).unwrap();
    let hidden = twin(hidden_idx);
    assert!(!hidden.wear_measured && !hidden.fuel_measured);
    assert!(
        hidden
            .wear_rate_pct_per_lap
            .as_array()
            .iter()
            .all(Option::is_none)
    );
    // Its fuel is the race-distance model's, burned from a full tank, not the zero the game sent.
    assert!(hidden.fuel_kg > 20.0, "{}", hidden.fuel_kg);
    assert!(hidden.ers_trend_pct_per_lap.is_none());
    for other in report.cars.iter().filter(|c| c.car_idx != hidden_idx) {
        let car = state.car(other.car_idx).unwrap();
        assert!(
            other.wear_measured && other.fuel_measured,
            "car {}",
            other.car_idx
        );
        assert_eq!(other.fuel_kg, car.fuel_kg);
    }
    assert!(
        report
            .cars
            .iter()
            .filter(|c| c.car_idx != hidden_idx)
            .any(|c| c
                .wear_rate_pct_per_lap
                .front_left
                .is_some_and(|r| r.mean > 0.0))
    );
}

#[test]
fn a_flashback_forgets_what_the_rewound_laps_taught() {
    // One race watched straight through, and the same race with a flashback: after 2,500 s the player goes back
    // to 1,500 s and the thousand seconds between are run again, the same way.
    let mut sim = RaceSim::new(&SimConfig::sakhir_2019(4));
    let (mut straight, mut flashed) = (Twins::default(), Twins::default());
    let mut rewound_part = Vec::new();
    let mut stops_in_part = 0;
    let mut t = 0.0;
    while !sim.is_finished() {
        t += 1.0;
        sim.advance_to(t);
        let state = sim.state();
        stops_in_part += straight
            .observe(&state)
            .iter()
            .filter(|e| (1500.0..2500.0).contains(&t) && e.kind == session::EventKind::PitStop)
            .count();
        flashed.observe(&state);
        if (1500.0..2500.0).contains(&t) {
            rewound_part.push(state);
        } else if t == 2500.0 {
            let generation = flashed.strategy().generation;
            for state in &rewound_part {
                flashed.observe(state);
            }
            assert!(
                flashed.strategy().generation > generation,
                "a flashback makes the strategy stale"
            );
            flashed.observe(&state);
        }
    }
    assert!(
        stops_in_part >= 3,
        "{stops_in_part} stops in the rewound part"
    );
    let sorted = |twins: &Twins| {
        let mut records = twins.records().to_vec();
        records.sort_by_key(|r| (r.car_idx, r.lap));
        records
    };
    assert!(
        sorted(&flashed) == sorted(&straight),
        "the same laps, booked once"
    );
    assert_eq!(
        flashed.tendencies(),
        straight.tendencies(),
        "each stop is scored once"
    );
    let end = sim.state();
    let stops = |twins: &Twins| {
        let mut stops: Vec<(Option<u8>, u32)> = twins
            .report(&end)
            .events
            .iter()
            .filter(|e| {
                e.kind == session::EventKind::PitStop
                    && (1500.0..2500.0).contains(&e.session_time_s)
            })
            .map(|e| (e.car_idx, e.lap))
            .collect();
        stops.sort_unstable();
        stops
    };
    assert_eq!(
        stops(&straight).len(),
        stops_in_part,
        "the log still holds the rewound part"
    );
    assert_eq!(stops(&flashed), stops(&straight), "each stop is one event");
}

#[test]
fn the_crossover_and_the_forecast_reach_the_pit_window_and_the_calls() {
    let mut sim = RaceSim::new(&SimConfig::sakhir_2019(1));
    sim.advance_to(1500.0);
    let mut state = sim.state();
    let ids: Vec<u8> = state.cars.iter().take(3).map(|c| c.car_idx).collect();
    // A drying track (0.5 s a lap for everybody); the first car stopped for mediums at the end of lap 8 and laps
    // 2.5 s faster than the inters would.
    let records = weather::tests::drying_for(&ids, 12, 8, 2.5);
    for car in &mut state.cars {
        car.lap = 13;
        car.pit_status = PitStatus::None;
        car.tyres.compound = if car.car_idx == ids[0] {
            Compound::Medium
        } else {
            Compound::Intermediate
        };
    }
    state.session.weather = Weather::Overcast;
    state.session.forecast = vec![crate::wire::Forecast {
        in_min: 10,
        weather: Weather::Overcast,
        rain_pct: 10,
    }];
    let twins = Twins::with_history(TwinParams::PIT_WALL, records);
    let report = twins.report(&state);
    let crossover = report
        .field
        .crossover
        .as_ref()
        .expect("the laps call the crossover");
    assert_eq!(
        (crossover.to, crossover.compound),
        (weather::TyreClass::Dry, Compound::Medium)
    );
    let twin_of = |idx: u8| report.cars.iter().find(|c| c.car_idx == idx).unwrap();
    let calls_of = |idx: u8| {
        report
            .alerts
            .iter()
            .filter(move |a| a.car_idx == Some(idx))
            .map(|a| a.kind)
            .collect::<Vec<_>>()
    };
    // The cars still on inters: box now for mediums, and no plain box call or dry-spell note beside it.
    let on_inters = twin_of(ids[1]);
    assert_eq!(on_inters.pit_window.status, PitWindowStatus::Overdue);
    assert_eq!(on_inters.pit_window.next_compound, Some(Compound::Medium));
    assert!(
        on_inters.pit_window.reason.contains("slicks"),
        "{}",
        on_inters.pit_window.reason
    );
    assert_eq!(
        calls_of(ids[1])
            .iter()
            .filter(|k| **k == alert::AlertKind::Crossover)
            .count(),
        1
    );
    assert!(
        !calls_of(ids[1])
            .iter()
            .any(|k| matches!(k, alert::AlertKind::BoxNow | alert::AlertKind::Weather))
    );
    // The car already on slicks: no crossover call.
    assert!(!calls_of(ids[0]).contains(&alert::AlertKind::Crossover));
    // The Field Twin expects the cars on inters in now, the car on slicks not.
    let stop_of = |report: &session::TwinReport, idx: u8| {
        report
            .field
            .rivals
            .iter()
            .find(|r| r.car_idx == idx)
            .unwrap()
            .next_pit
            .clone()
    };
    let called = stop_of(&report, ids[1]).expect("a stop");
    assert_eq!((called.lap, called.basis), (13, pit::PitBasis::Crossover));
    assert!((called.probabilities.iter().map(|p| p.p).sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(stop_of(&report, ids[0]).is_none_or(|p| p.basis != pit::PitBasis::Crossover));
    // Two laps from the flag the gain no longer pays for a stop: the window is the wear's again.
    let mut late = state.clone();
    for car in &mut late.cars {
        car.lap = late.session.total_laps - 1;
    }
    let report = twins.report(&late);
    assert_ne!(
        report
            .cars
            .iter()
            .find(|c| c.car_idx == ids[1])
            .unwrap()
            .pit_window
            .status,
        PitWindowStatus::Overdue
    );
    assert!(
        !report
            .alerts
            .iter()
            .any(|a| a.kind == alert::AlertKind::Crossover)
    );
    assert!(stop_of(&report, ids[1]).is_none_or(|p| p.basis != pit::PitBasis::Crossover));
    // The per-car twin agrees with the report.
    let alone = twins.car(&state, ids[1], None).unwrap();
    assert_eq!(alone.pit_window, twin_of(ids[1]).pit_window);

    // Rain forecast in 5 minutes: the car on slicks hears it, the cars on inters do not.
    state.session.forecast = vec![crate::wire::Forecast {
        in_min: 5,
        weather: Weather::LightRain,
        rain_pct: 80,
    }];
    let report = twins.report(&state);
    let rain: Vec<&alert::Alert> = report
        .alerts
        .iter()
        .filter(|a| a.kind == alert::AlertKind::Weather)
        .collect();
    assert_eq!(rain.len(), 1, "{rain:?}");
    assert_eq!(
        (rain[0].car_idx, rain[0].severity),
        (Some(ids[0]), alert::Severity::Warning)
    );
    assert!(rain[0].radio.contains("80 %"), "{}", rain[0].radio);
}
