//! Tests of the race simulator: invariants, determinism, and realism against the 2019 Bahrain Grand Prix.

use super::*;
use crate::wire::RaceState;

/// Runs a race sampling every `dt_s` and returns every sampled state.
fn sample_race(config: &SimConfig, dt_s: f64) -> Vec<RaceState> {
    let mut sim = RaceSim::new(config);
    let mut out = Vec::new();
    let mut t = 0.0;
    loop {
        sim.advance_to(t);
        out.push(sim.state());
        if sim.is_finished() {
            return out;
        }
        t += dt_s;
    }
}

#[test]
fn every_sample_keeps_the_state_invariants() {
    for seed in [1, 2, 3] {
        let states = sample_race(
            &SimConfig {
                seed,
                total_laps: 20,
            },
            2.0,
        );
        let mut last_lap = [0u32; 20];
        let mut last_fuel = [f64::MAX; 20];
        for state in &states {
            state
                .check_invariants()
                .unwrap_or_else(|e| panic!("seed {seed} t {}: {e}", state.session_time_s));
            assert_eq!(state.cars.len(), 20);
            for car in &state.cars {
                let i = usize::from(car.car_idx);
                assert!(
                    car.lap >= last_lap[i],
                    "lap went back for {}",
                    car.driver.code
                );
                assert!(
                    car.fuel_kg >= 0.0 && car.fuel_kg <= last_fuel[i] + 1e-9,
                    "fuel rose for {}",
                    car.driver.code
                );
                last_lap[i] = car.lap;
                last_fuel[i] = car.fuel_kg;
            }
        }
    }
}

#[test]
fn pedals_and_gears_follow_the_speed_along_a_lap() {
    let states = sample_race(
        &SimConfig {
            seed: 7,
            total_laps: 5,
        },
        0.25,
    );
    let (mut braking, mut slowing, mut flat_out, mut checked) = (0, 0, 0, 0);
    for pair in states.windows(2) {
        for (a, b) in pair[0].cars.iter().zip(&pair[1].cars) {
            if a.speed_kph < 1.0 {
                // On the grid before the start, in the pit box, stopped after the flag: neutral, no pedals.
                assert_eq!((a.gear, a.throttle_pct, a.brake_pct), (0, 0.0, 0.0));
                continue;
            }
            if a.car_idx != b.car_idx || a.lap != b.lap || a.pit_status != PitStatus::None {
                continue;
            }
            checked += 1;
            assert!(
                a.throttle_pct == 0.0 || a.brake_pct == 0.0,
                "{}: throttle and brake both pressed",
                a.driver.code
            );
            assert!(
                (1..=8).contains(&a.gear),
                "{} in gear {}",
                a.driver.code,
                a.gear
            );
            // A hard stop loses speed over the next sample (but at a corner's apex).
            if a.brake_pct > 50.0 {
                braking += 1;
                slowing += usize::from(b.speed_kph < a.speed_kph);
            }
            if a.throttle_pct == 100.0 {
                flat_out += 1;
            }
            let gear_for = |kph: f64| (kph / 45.0).ceil().clamp(1.0, 8.0) as i8;
            assert_eq!(a.gear, gear_for(a.speed_kph));
        }
    }
    assert!(checked > 10_000, "{checked} samples");
    // About half a lap is spent accelerating, a few corners' entries braking.
    assert!(flat_out * 3 > checked, "{flat_out} of {checked} flat out");
    assert!(
        braking * 40 > checked,
        "{braking} of {checked} braking hard"
    );
    assert!(
        slowing * 10 >= braking * 9,
        "{slowing} of {braking} braking samples slowed"
    );
}

#[test]
fn time_penalties_are_rare_and_served_standing_still_at_the_next_stop() {
    let (mut given, mut served, mut retired) = (0, 0, 0);
    for seed in 1..=12 {
        let states = sample_race(&SimConfig::sakhir_2019(seed), 0.5);
        // None is left at the flag, but with a car that retired before its stop.
        let end = states.last().expect("a race");
        for car in end.cars.iter().filter(|c| c.penalties_s > 0) {
            assert!(
                car.result_status.is_out(),
                "seed {seed} {} finished with a penalty",
                car.driver.code
            );
            retired += 1;
        }
        // Per car: the penalty held at pit entry, and the time seen in the box since.
        let mut entry: [Option<u32>; 20] = [None; 20];
        let mut boxed_s = [0.0f64; 20];
        for pair in states.windows(2) {
            for a in &pair[0].cars {
                let Some(b) = pair[1].car(a.car_idx) else {
                    continue;
                };
                let i = usize::from(a.car_idx);
                if b.penalties_s > a.penalties_s {
                    assert_eq!(b.penalties_s - a.penalties_s, PENALTY_S);
                    given += 1;
                }
                if a.pit_status == PitStatus::None && b.pit_status == PitStatus::PitLane {
                    entry[i] = Some(b.penalties_s);
                    boxed_s[i] = 0.0;
                }
                if b.pit_status == PitStatus::PitBox {
                    boxed_s[i] += 0.5;
                }
                // Out of the pit lane after a stop that began with a penalty pending.
                if a.pit_status != PitStatus::None
                    && b.pit_status == PitStatus::None
                    && let Some(pending) = entry[i].take()
                    && pending > 0
                {
                    served += 1;
                    // Standing still for the penalty, then the usual stop (give or take a sample).
                    assert!(
                        boxed_s[i] >= f64::from(pending) + 1.0,
                        "seed {seed} {}: {pending} s penalty, {} s in the box",
                        b.driver.code,
                        boxed_s[i]
                    );
                    assert_eq!(b.penalties_s, 0, "served");
                }
            }
        }
    }
    // About one a race across the field; given to cars with a stop to make, so served there.
    println!("{given} penalties in 12 races: {served} served, {retired} with a car that retired");
    assert!((6..=40).contains(&given), "{given} penalties in 12 races");
    assert_eq!(
        served + retired,
        given,
        "{served} served, {retired} retired, of {given}"
    );
}

#[test]
fn same_seed_same_race_different_seed_different_race() {
    let config = SimConfig {
        seed: 42,
        total_laps: 10,
    };
    let a = sample_race(&config, 5.0);
    let b = sample_race(&config, 5.0);
    assert_eq!(a, b);
    let c = sample_race(
        &SimConfig {
            seed: 43,
            total_laps: 10,
        },
        5.0,
    );
    assert_ne!(a.last(), c.last());
}

#[test]
fn the_race_does_not_depend_on_the_sampling_rate() {
    let config = SimConfig {
        seed: 7,
        total_laps: 15,
    };
    let fine = sample_race(&config, 0.1);
    let coarse = sample_race(&config, 37.0);
    let mut one_shot = RaceSim::new(&config);
    let end = one_shot.run_to_end();
    let (Some(fine), Some(coarse)) = (fine.last(), coarse.last()) else {
        panic!("no states")
    };
    // Finished races are identical whatever the sampling; only the time the last sample was taken differs.
    let strip = |s: &RaceState| s.cars.clone();
    assert_eq!(strip(fine), strip(coarse));
    assert_eq!(strip(fine), strip(&end));
}

#[test]
fn race_digest_matches_the_fixture_shared_with_the_wasm_test() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/fixtures/race_digest.json"))
            .expect("fixture is JSON");
    let seed = fixture["seed"].as_u64().expect("seed");
    let laps = fixture["total_laps"].as_u64().expect("total_laps") as u32;
    let every_s = fixture["every_s"].as_f64().expect("every_s");
    let want = fixture["digest"].as_str().expect("digest");
    let got = format!(
        "{:016x}",
        crate::digest::race(
            &SimConfig {
                seed,
                total_laps: laps
            },
            every_s
        )
    );
    assert_eq!(
        got, want,
        "the simulated race changed; if on purpose, update engine/tests/fixtures/race_digest.json (the wasm test reads it too)"
    );
}

/// Aggregates over a batch of full-distance races.
struct Field {
    green_laps: Vec<f64>,
    winner_times: Vec<f64>,
    stops: Vec<u32>,
    pit_lane_s: Vec<f64>,
    finishers: usize,
    starters: usize,
    races_with_fcy: usize,
    position_changes: usize,
}

fn run_field(seeds: std::ops::Range<u64>) -> Field {
    let mut f = Field {
        green_laps: Vec::new(),
        winner_times: Vec::new(),
        stops: Vec::new(),
        pit_lane_s: Vec::new(),
        finishers: 0,
        starters: 0,
        races_with_fcy: 0,
        position_changes: 0,
    };
    for seed in seeds {
        let mut sim = RaceSim::new(&SimConfig::sakhir_2019(seed));
        let mut had_fcy = false;
        let mut t = 0.0;
        let mut prev_order: Vec<u8> = Vec::new();
        let mut pit_entry: [Option<f64>; 20] = [None; 20];
        while !sim.is_finished() {
            t += 1.0;
            sim.advance_to(t);
            let s = sim.state();
            had_fcy |= s.session.track_status.is_neutralised();
            let order: Vec<u8> = s.cars.iter().map(|c| c.car_idx).collect();
            if !prev_order.is_empty() && s.session.leader_lap > 2 {
                f.position_changes += order
                    .iter()
                    .zip(&prev_order)
                    .filter(|(a, b)| a != b)
                    .count();
            }
            prev_order = order;
            for c in &s.cars {
                let i = usize::from(c.car_idx);
                match (c.pit_status != PitStatus::None, pit_entry[i]) {
                    (true, None) => pit_entry[i] = Some(t),
                    (false, Some(t0)) => {
                        if s.session.track_status == TrackStatus::Green {
                            f.pit_lane_s.push(t - t0);
                        }
                        pit_entry[i] = None;
                    }
                    _ => {}
                }
            }
        }
        let s = sim.state();
        f.races_with_fcy += usize::from(had_fcy);
        for (i, car) in sim.cars.iter().enumerate() {
            f.starters += 1;
            let state_car = s.car(i as u8).expect("car listed");
            if state_car.result_status == ResultStatus::Finished {
                f.finishers += 1;
                f.stops.push(state_car.pit_stops);
                let mut dry: Vec<Compound> = state_car.stints.iter().map(|s| s.compound).collect();
                dry.sort();
                dry.dedup();
                assert!(
                    dry.len() >= 2,
                    "seed {seed}: {} broke the two-compound rule: {:?}",
                    car.driver.code,
                    state_car.stints
                );
            }
            for lap in car
                .laps
                .iter()
                .filter(|l| l.lap > 1 && l.kind == LapKind::Normal)
            {
                f.green_laps.push(lap.duration_s());
            }
            if state_car.position == 1 {
                f.winner_times.push(car.out_at_s.expect("winner finished"));
            }
        }
    }
    f
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The simulated race against the real 2019 Bahrain Grand Prix (`shared/data/races/2019_02_bahrain`): median clean
/// lap 97.8 s, winner 1:34:21.295 (5661.3 s, finished under SC), 40 stops for 20 cars, median pit lane 25.0 s.
#[test]
fn a_strategist_would_recognise_the_race() {
    let mut f = run_field(0..12);
    // Every racing lap, including held-up laps and those under SC (which are slower): the median sits near the real
    // median clean lap.
    let lap = median(&mut f.green_laps);
    assert!((96.0..=100.5).contains(&lap), "median lap {lap}");
    let win = median(&mut f.winner_times);
    assert!((5500.0..=5900.0).contains(&win), "median winner time {win}");
    let mean_stops = f.stops.iter().sum::<u32>() as f64 / f.stops.len() as f64;
    assert!((1.5..=2.6).contains(&mean_stops), "mean stops {mean_stops}");
    let lane = median(&mut f.pit_lane_s);
    assert!((20.0..=32.0).contains(&lane), "median pit lane {lane}");
    let finish_rate = f.finishers as f64 / f.starters as f64;
    assert!(
        (0.75..=0.97).contains(&finish_rate),
        "finish rate {finish_rate}"
    );
    assert!(
        f.races_with_fcy >= 2 && f.races_with_fcy <= 11,
        "races with SC/VSC: {}",
        f.races_with_fcy
    );
    assert!(
        f.position_changes > 100,
        "position changes: {}",
        f.position_changes
    );
}

#[test]
fn a_safety_car_bunches_the_field() {
    // Find a seed whose race has a safety car, then check the gap from first to last running car shrinks.
    for seed in 0..40 {
        let mut sim = RaceSim::new(&SimConfig::sakhir_2019(seed));
        let mut t = 0.0;
        let mut spread_at_deploy = None;
        while !sim.is_finished() {
            t += 1.0;
            sim.advance_to(t);
            let s = sim.state();
            let spread = s
                .cars
                .iter()
                .filter(|c| c.laps_down == 0 && !c.result_status.is_out())
                .filter_map(|c| c.gap_to_leader_s)
                .fold(0.0, f64::max);
            match (s.session.track_status, spread_at_deploy) {
                (TrackStatus::SafetyCar, None) => spread_at_deploy = Some((spread, spread, t)),
                (TrackStatus::SafetyCar, Some((at_deploy, _, t0))) => {
                    spread_at_deploy = Some((at_deploy, spread, t0));
                }
                (_, Some((at_deploy, at_end, t0))) if t - t0 > 400.0 => {
                    // Three laps behind the safety car close the field up to well under half its spread.
                    assert!(
                        at_end < 0.5 * at_deploy,
                        "seed {seed}: spread {at_end} at the restart vs {at_deploy} at deploy"
                    );
                    return;
                }
                (_, Some(_)) => spread_at_deploy = None,
                _ => {}
            }
        }
    }
    panic!("no seed in 0..40 had a safety car lasting 300 s");
}

// Property tests run natively only (proptest seeds from the OS).
#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// For any seed, race length and sampling step: every sampled state keeps its invariants (positions a
        /// permutation, fuel and wear in range), laps never go back, fuel never rises, and at the end every car has
        /// finished or retired, with the finishers classified ahead of the retirements.
        #[test]
        fn any_race_keeps_its_invariants(seed in any::<u64>(), laps in 1u32..10, dt_s in 0.5f64..40.0) {
            let states = sample_race(&SimConfig { seed, total_laps: laps }, dt_s);
            let mut last_lap = [0u32; 20];
            let mut last_fuel = [f64::MAX; 20];
            for state in &states {
                prop_assert!(state.check_invariants().is_ok(), "{:?}", state.check_invariants());
                for car in &state.cars {
                    let i = usize::from(car.car_idx);
                    prop_assert!(car.lap >= last_lap[i]);
                    prop_assert!(car.fuel_kg <= last_fuel[i] + 1e-9);
                    last_lap[i] = car.lap;
                    last_fuel[i] = car.fuel_kg;
                }
            }
            let last = states.last().expect("at least one state");
            prop_assert_eq!(last.session.phase, crate::wire::SessionPhase::Finished);
            let out_from = last.cars.iter().position(|c| c.result_status.is_out()).unwrap_or(last.cars.len());
            prop_assert!(last.cars[..out_from].iter().all(|c| c.result_status == ResultStatus::Finished));
            prop_assert!(last.cars[out_from..].iter().all(|c| c.result_status.is_out()));
        }
    }
}
