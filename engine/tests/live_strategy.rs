//! The live session as the strategy simulator's inputs (`strategy::live`): a real race replayed as states through
//! a lap recorder must calibrate like the same race read from its files, and the built-in simulator's session must
//! give inputs the Monte Carlo and the strategy search run on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boxbox_engine::history::LapRecorder;
use boxbox_engine::race::{LiveRaceError, RealRace};
use boxbox_engine::sim::{RaceSim, SimConfig};
use boxbox_engine::strategy::calibrate;
use boxbox_engine::strategy::lapsim::{Prepared, Runner};
use boxbox_engine::strategy::live::{self, LiveError};
use boxbox_engine::strategy::model::PlannedStop;
use boxbox_engine::strategy::search::{self, SearchConfig};
use boxbox_engine::wire::{PitStatus, RaceState};

/// The race replayed as states until the leader completes `lap`; the last state and the recorded laps.
fn replay_until(race: &RealRace, lap: u32) -> (RaceState, LapRecorder) {
    let mut recorder = LapRecorder::new();
    let mut last = None;
    for state in race.states() {
        recorder.observe(&state);
        let leader = state.cars.first().map_or(0, |c| c.lap);
        last = Some(state);
        if leader > lap {
            break;
        }
    }
    (last.unwrap(), recorder)
}

fn canada() -> RealRace {
    common::races()
        .into_iter()
        .find(|(name, _)| name.contains("canada"))
        .map(|(_, race)| race)
        .unwrap()
}

#[test]
fn a_replayed_race_reads_back_like_its_files() {
    let race = canada();
    let lap = 35;
    let (state, recorder) = replay_until(&race, lap);
    let live = RealRace::from_live(&state, recorder.records()).unwrap();
    assert_eq!(live.leader_laps, lap);
    assert_eq!(live.race.total_laps(), race.total_laps());
    for d in live.race.drivers() {
        let file = race.driver(&d.code).unwrap();
        let n = d.laps.len();
        assert!(n <= file.laps.len(), "{}", d.code);
        // Crossings are sums of lap times: within a second of the files' session times after 35 laps.
        if let (Some(live_end), Some(file_end)) = (d.laps.last(), file.crossing_s(n as u32)) {
            assert!(
                (live_end.end_s - file_end).abs() < 1.0,
                "{}: lap {n} ends at {:.2} s live, {file_end:.2} s in the files",
                d.code,
                live_end.end_s
            );
        }
        // The same stops up to the lap (in-laps from the tyre changes the states show).
        let live_stops: Vec<u32> = live
            .race
            .pit_stops()
            .iter()
            .filter(|s| s.driver_code == d.code)
            .map(|s| s.lap)
            .collect();
        let file_stops: Vec<u32> = race
            .pit_stops()
            .iter()
            .filter(|s| s.driver_code == d.code && s.lap < n as u32)
            .map(|s| s.lap)
            .collect();
        assert_eq!(live_stops, file_stops, "{}", d.code);
    }
    // The strategies so far: start compound and age, and each stop with the set fitted (a stop whose new set no
    // record shows yet is not known live).
    let live_plans = calibrate::real_plans(&live.race);
    let file_plans = calibrate::real_plans(&race);
    for (d, plan) in live.race.drivers().iter().zip(&live_plans) {
        let mut file = file_plans[race.driver(&d.code).unwrap().car_idx as usize].clone();
        file.stops.retain(|s| (s.lap as usize) < d.laps.len());
        assert_eq!(plan, &file, "{}", d.code);
    }
}

#[test]
fn live_inputs_calibrate_like_the_files() {
    let race = canada();
    let lap = 35;
    let (state, recorder) = replay_until(&race, lap);
    let inputs = live::inputs(&state, recorder.records()).unwrap();
    let file_model = calibrate::from_real_race_until(&race, None, Some(lap)).unwrap();
    let file_start = calibrate::start_at(&race, &file_model, lap).unwrap();
    assert_eq!(inputs.start.completed_laps, lap);
    assert_eq!(inputs.model.drivers.len(), file_model.drivers.len());
    assert!(
        (inputs.model.timing.base_lap_s - file_model.timing.base_lap_s).abs() < 0.3,
        "base lap {} live vs {} from the files",
        inputs.model.timing.base_lap_s,
        file_model.timing.base_lap_s
    );
    let mut offset_error = 0.0;
    for (i, d) in inputs.model.drivers.iter().enumerate() {
        assert_eq!(d.code, file_model.drivers[i].code, "grid order");
        let f = i;
        let fd = &file_model.drivers[f];
        offset_error += (d.pace_offset_s - fd.pace_offset_s).abs();
        // The stops made by the car's own completed laps are the files' (the rival rule's next stop may differ
        // for a car behind the leader, which has not completed the lap yet).
        let own = inputs.start.cars[i].laps;
        let made = |p: &[PlannedStop]| -> Vec<PlannedStop> {
            p.iter().copied().filter(|s| s.lap < own).collect()
        };
        assert_eq!(
            made(&inputs.plans[i].stops),
            made(&fd.plan.stops),
            "{}: plan from the live laps",
            d.code
        );
        let (car, file_car) = (&inputs.start.cars[i], &file_start.cars[f]);
        let now = state
            .cars
            .iter()
            .find(|c| c.car_idx == inputs.car_idx[i])
            .unwrap();
        assert_eq!(now.driver.code, d.code);
        assert_eq!(car.retired, file_car.retired, "{}", d.code);
        // A car in the pit lane now has not shown its new set yet; the files already know it.
        if !car.retired && now.pit_status == PitStatus::None {
            assert_eq!(car.compound, file_car.compound, "{}", d.code);
        }
        // The state is the truth for a lapped car; the files' start puts it on the leader's lap. A car on the
        // leader's lap is on it live too: where it has crossed the line since the leader, at its crossing; where
        // not yet, at the leader's crossing plus its gap (taken at its last crossing in this replay, so off by how
        // much the lap under way moves it: about a second). A car two laps short (GIO here, 75.8 s behind, about
        // to be lapped) keeps its own laps.
        let own = recorder
            .records()
            .iter()
            .filter(|r| r.car_idx == now.car_idx)
            .count() as u32;
        if car.retired {
            continue;
        }
        if own >= lap || (own + 1 == lap && now.laps_down == 0) {
            assert_eq!(car.laps, lap, "{}: on the leader's lap", d.code);
            let within = if own >= lap { 1.0 } else { 2.0 };
            assert!(
                (car.race_time_s - file_car.race_time_s).abs() < within,
                "{}: {:.3} s live, {:.3} s in the files",
                d.code,
                car.race_time_s,
                file_car.race_time_s
            );
        } else {
            assert_eq!(car.laps, own, "{}: lapped, its own laps", d.code);
        }
    }
    // Pace: the live laps are the files' laps, but the live track status flags laps the files call green and the
    // cars behind the leader have not completed lap 35 yet, so the fits differ a little.
    let offset_error = offset_error / inputs.model.drivers.len() as f64;
    eprintln!("mean pace offset difference, live vs files: {offset_error:.3} s");
    assert!(offset_error < 0.25, "{offset_error:.3} s");
    // And the simulator runs from there.
    let prepared = Prepared::new(&inputs.model, &inputs.plans, Some(&inputs.start)).unwrap();
    let outcome = Runner::new(&prepared).run(None).clone();
    assert!(outcome.laps.iter().any(|&l| l == race.total_laps()));
}

#[test]
fn the_built_in_simulators_session_runs_the_strategy_search() {
    let mut sim = RaceSim::new(&SimConfig {
        seed: 11,
        total_laps: 30,
    });
    let mut recorder = LapRecorder::new();
    let mut t = 0.0;
    let mut state = sim.state();
    assert_eq!(
        live::inputs(&state, recorder.records()).unwrap_err(),
        LiveError::Race(LiveRaceError::NoLaps)
    );
    while state.cars.first().map_or(0, |c| c.lap) <= 12 {
        t += 0.5;
        sim.advance_to(t);
        state = sim.state();
        recorder.observe(&state);
    }
    let inputs = live::inputs(&state, recorder.records()).unwrap();
    assert_eq!(inputs.start.completed_laps, 12);
    assert_eq!(inputs.model.total_laps, 30);
    for (i, car) in inputs.start.cars.iter().enumerate() {
        let now = &state.cars[state
            .cars
            .iter()
            .position(|c| c.car_idx == inputs.car_idx[i])
            .unwrap()];
        assert_eq!(inputs.driver_of(now.car_idx), Some(i));
        assert_eq!(car.retired, now.result_status.is_out());
        if !car.retired {
            // On the leader's lap unless lapped (then its own laps completed).
            let laps = if now.laps_down == 0 { 12 } else { now.lap - 1 };
            assert_eq!(car.laps, laps, "{}", now.driver.code);
            assert_eq!(car.compound, now.tyres.compound, "{}", now.driver.code);
            assert!((car.fuel_kg - now.fuel_kg).abs() < 1e-9);
        }
    }
    let leader = state.cars[0].car_idx;
    let car = inputs.driver_of(leader).unwrap();
    let config = SearchConfig {
        runs_per_plan: 60,
        max_stops: 2,
        finalists_per_stop_count: 4,
        ..SearchConfig::for_car(car, 3)
    };
    let report =
        search::search(&inputs.model, &inputs.plans, Some(&inputs.start), &config).unwrap();
    assert!(!report.ranked.is_empty());
    // Every plan keeps the stops already made and plans the rest of the race.
    let made: Vec<_> = inputs.plans[car]
        .stops
        .iter()
        .filter(|s| s.lap <= 12)
        .collect();
    for plan in &report.ranked {
        let (past, future): (Vec<&PlannedStop>, Vec<&PlannedStop>) =
            plan.plan.stops.iter().partition(|s| s.lap <= 12);
        assert_eq!(past, made, "{}", plan.label);
        assert!(future.iter().all(|s| s.lap < 30), "{}", plan.label);
    }

    // Run to the flag: nothing is left to simulate.
    let last = sim.run_to_end();
    recorder.observe(&last);
    assert_eq!(
        live::inputs(&last, recorder.records()).unwrap_err(),
        LiveError::Finished(30)
    );
}

#[test]
fn a_car_on_its_out_lap_is_charged_for_it() {
    let race = canada();
    // Moments when a car on the leader's lap stopped at the end of its last lap and has not crossed since the
    // leader did: it is on its out-lap.
    let mut seen = 0;
    for lap in 10..60 {
        let (state, recorder) = replay_until(&race, lap);
        let Ok(inputs) = live::inputs(&state, recorder.records()) else {
            continue;
        };
        let file_model = calibrate::from_real_race_until(&race, None, Some(lap)).unwrap();
        let file_start = calibrate::start_at(&race, &file_model, lap).unwrap();
        for (i, d) in inputs.model.drivers.iter().enumerate() {
            let now = state
                .cars
                .iter()
                .find(|c| c.car_idx == inputs.car_idx[i])
                .unwrap();
            let own = recorder
                .records()
                .iter()
                .filter(|r| r.car_idx == now.car_idx)
                .count() as u32;
            let stopped = race
                .pit_stops()
                .iter()
                .any(|s| s.driver_code == d.code && s.lap == own);
            if own + 1 != lap || now.laps_down != 0 || !stopped || inputs.start.cars[i].retired {
                continue;
            }
            seen += 1;
            let (car, file_car) = (&inputs.start.cars[i], &file_start.cars[i]);
            assert_eq!(car.laps, lap, "{} at lap {lap}", d.code);
            // Its real crossing of the lap, out-lap included, within a few seconds: its own last crossing, the
            // leader's last lap and the model's green out-lap charge (2.1 s at Montreal, a fitted average). The
            // eleven moments in this race land 0.7–5.7 s early.
            assert!(
                (car.race_time_s - file_car.race_time_s).abs() < 6.0,
                "{} at lap {lap}: {:.2} s live, {:.2} s in the files",
                d.code,
                car.race_time_s,
                file_car.race_time_s
            );
        }
    }
    assert!(seen > 0, "no car on its out-lap at any leader lap");
}
