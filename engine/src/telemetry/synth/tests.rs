//! Round trip of a whole simulated race through the game's wire format: states → datagrams → decode → normalize
//! gives back the states, up to what the format quantizes.

use super::*;
use crate::calibration;
use crate::sim::{RaceSim, SimConfig};
use crate::telemetry::{decode, normalize::Normalizer};
use crate::wire::RaceState;

fn capture_header(id: u8) -> PacketHeader {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../../shared/data/captures/gamesdat/2025/packet-{id}.bin"
    ));
    decode(&std::fs::read(path).unwrap()).unwrap().header
}

/// Runs a seeded race sampled every `dt_s`, pushing each frame's datagrams through decode and the normalizer;
/// calls `check` with the simulator's state and the normalizer's after every frame.
fn round_trip(
    seed: u64,
    laps: u32,
    dt_s: f64,
    mut check: impl FnMut(&RaceState, &RaceState, &[Vec<u8>]),
) {
    let mut sim = RaceSim::new(&SimConfig {
        seed,
        total_laps: laps,
    });
    let mut synth = PacketSynth::new(
        0x0b0c_b0c5_eed0_0000 ^ seed,
        calibration::SAKHIR.sector_end_frac,
    );
    let mut normalizer = Normalizer::new();
    let mut t = 0.0;
    loop {
        let want = sim.state();
        let datagrams = synth.frame(&want).unwrap();
        for d in &datagrams {
            normalizer.push(&decode(d).unwrap());
        }
        let got = normalizer.state().expect("a state after the first frame");
        check(&want, &got, &datagrams);
        if sim.is_finished() {
            break;
        }
        t += dt_s;
        sim.advance_to(t);
    }
}

fn close(a: Option<f64>, b: Option<f64>, tol: f64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= tol,
        (None, None) => true,
        _ => false,
    }
}

#[test]
fn a_simulated_race_decodes_back_to_the_same_states() {
    let mut frames = 0;
    let mut last = None;
    round_trip(42, 12, 0.5, |want, got, _| {
        frames += 1;
        got.check_invariants().unwrap();
        let (ws, gs) = (&want.session, &got.session);
        assert_eq!(gs.track, ws.track);
        assert_eq!(gs.track_length_m, ws.track_length_m.round());
        assert_eq!(
            (gs.total_laps, gs.leader_lap),
            (ws.total_laps, ws.leader_lap)
        );
        assert_eq!(gs.session_type, ws.session_type);
        assert_eq!(
            gs.track_status, ws.track_status,
            "t = {}",
            want.session_time_s
        );
        assert_eq!(gs.phase, ws.phase, "t = {}", want.session_time_s);
        assert_eq!(gs.track_temp_c, ws.track_temp_c.round());
        assert_eq!(gs.forecast, ws.forecast);
        assert!((got.session_time_s - want.session_time_s).abs() < 1e-3);
        assert_eq!(got.cars.len(), want.cars.len());
        for (w, g) in want.cars.iter().zip(&got.cars) {
            let at = format!(
                "t = {} car {} ({})",
                want.session_time_s, w.car_idx, w.driver.code
            );
            assert_eq!((g.car_idx, g.position), (w.car_idx, w.position), "{at}");
            assert_eq!(
                (&g.driver.name, &g.driver.code, g.driver.number),
                (&w.driver.name, &w.driver.code, w.driver.number),
                "{at}"
            );
            assert_eq!(
                (g.lap, g.grid_position, g.laps_down),
                (w.lap, w.grid_position, w.laps_down),
                "{at}"
            );
            assert_eq!(
                (g.pit_status, g.pit_stops, g.driver_status, g.result_status),
                (w.pit_status, w.pit_stops, w.driver_status, w.result_status),
                "{at}"
            );
            assert!((g.lap_distance_m - w.lap_distance_m).abs() < 0.01, "{at}");
            assert!(
                (g.current_lap_s - w.current_lap_s).abs() <= 0.0005 + 1e-9,
                "{at}"
            );
            assert!(
                close(g.last_lap_s, w.last_lap_s, 0.0005 + 1e-9),
                "{at}: {:?} vs {:?}",
                g.last_lap_s,
                w.last_lap_s
            );
            assert!(close(g.best_lap_s, w.best_lap_s, 0.0005 + 1e-9), "{at}");
            // The leader's gaps are None on both sides; a retired car's are None in the simulator and zero on
            // the wire (the format has no "no gap").
            if !w.result_status.is_out() {
                assert!(
                    close(g.gap_to_leader_s, w.gap_to_leader_s, 0.0005 + 1e-9),
                    "{at}: {:?} vs {:?}",
                    g.gap_to_leader_s,
                    w.gap_to_leader_s
                );
                assert!(close(g.interval_s, w.interval_s, 0.0005 + 1e-9), "{at}");
            }
            assert_eq!(
                (g.tyres.compound, g.tyres.age_laps),
                (w.tyres.compound, w.tyres.age_laps),
                "{at}"
            );
            for (gw, ww) in g
                .tyres
                .corners
                .as_array()
                .iter()
                .zip(w.tyres.corners.as_array())
            {
                assert!((gw.wear_pct - ww.wear_pct).abs() < 1e-4, "{at}");
                assert_eq!(gw.surface_temp_c, ww.surface_temp_c.round(), "{at}");
                assert!((gw.pressure_psi - ww.pressure_psi).abs() < 1e-4, "{at}");
            }
            assert!((g.fuel_kg - w.fuel_kg).abs() < 1e-4, "{at}");
            assert!((g.ers_store_pct - w.ers_store_pct).abs() < 1e-3, "{at}");
            assert_eq!(g.speed_kph, w.speed_kph.round(), "{at}");
            // Pedals travel as f32 fractions; the gear as is.
            assert!((g.throttle_pct - w.throttle_pct).abs() < 1e-3, "{at}");
            assert!((g.brake_pct - w.brake_pct).abs() < 1e-3, "{at}");
            assert_eq!(g.gear, w.gear, "{at}");
            // Team names come back as the game's (Toro Rosso is RB now); the colour follows.
            assert!(!g.team.name.is_empty());
        }
        last = Some((want.clone(), got.clone()));
    });
    assert!(frames > 100, "{frames} frames");
    // At the flag: every stint and every measured sector agrees.
    let (want, got) = last.unwrap();
    assert_eq!(got.session.phase, crate::wire::SessionPhase::Finished);
    for (w, g) in want.cars.iter().zip(&got.cars) {
        let stints = |c: &crate::wire::CarState| {
            c.stints
                .iter()
                .map(|s| (s.compound, s.start_lap))
                .collect::<Vec<_>>()
        };
        assert_eq!(stints(g), stints(w), "car {}", w.car_idx);
        for (gs, ws) in g.best_sectors_s.iter().zip(w.best_sectors_s) {
            // Sector ends are timed from 2 Hz frames, interpolated: within 0.2 s.
            assert!(
                close(*gs, ws, 0.2),
                "car {}: {:?} vs {:?}",
                w.car_idx,
                g.best_sectors_s,
                w.best_sectors_s
            );
        }
    }
}

#[test]
fn datagrams_follow_the_real_captures_conventions() {
    let real = capture_header(2);
    let mut ids = std::collections::BTreeSet::new();
    let mut frames = Vec::new();
    let mut events = Vec::new();
    round_trip(7, 3, 1.0, |_, _, datagrams| {
        let mut frame = None;
        for d in datagrams {
            let p = decode(d).unwrap();
            let h = p.header;
            let spec = format::spec(FORMAT).unwrap();
            assert_eq!(
                Some(d.len()),
                spec.sizes[usize::from(h.packet_id)],
                "exact size of id {}",
                h.packet_id
            );
            assert_eq!(
                (
                    h.packet_format,
                    h.game_year,
                    h.game_major_version,
                    h.game_minor_version,
                    h.packet_version
                ),
                (
                    real.packet_format,
                    real.game_year,
                    real.game_major_version,
                    real.game_minor_version,
                    real.packet_version
                )
            );
            assert_eq!(
                (h.player_car_index, h.secondary_player_car_index),
                (255, 255)
            );
            assert_eq!(
                *frame.get_or_insert(h.frame_identifier),
                h.frame_identifier,
                "one frame id per frame"
            );
            ids.insert(h.packet_id);
            if let Body::Event(e) = &p.body {
                events.push(e.event_string_code.clone());
            }
        }
        frames.push(frame.unwrap());
    });
    assert!(
        frames.windows(2).all(|w| w[1] == w[0] + 1),
        "frame ids count up"
    );
    // Motion, Session, LapData, Event, Participants, CarTelemetry, CarStatus, FinalClassification, CarDamage.
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4, 6, 7, 8, 10]
    );
    assert_eq!(events.first().map(String::as_str), Some("SSTA"));
    assert!(events.iter().any(|e| e == "FTLP"));
    assert_eq!(&events[events.len() - 2..], ["CHQF", "SEND"]);
}

#[test]
fn too_many_cars_is_an_error_not_a_panic() {
    let mut state = RaceSim::new(&SimConfig {
        seed: 1,
        total_laps: 3,
    })
    .state();
    state.cars[0].car_idx = 22;
    let err = PacketSynth::new(1, [0.3, 0.7]).frame(&state).unwrap_err();
    assert!(err.to_string().contains("car_idx"), "{err}");
}

#[test]
fn penalties_and_blisters_travel_in_the_packets() {
    let mut sim = RaceSim::new(&SimConfig {
        seed: 2,
        total_laps: 5,
    });
    sim.advance_to(120.0);
    let mut state = sim.state();
    state.cars[3].penalties_s = 10;
    state.cars[3].unserved_penalties = 1;
    state.cars[3].tyres.corners.front_left.blister_pct = Some(12.0);
    let mut synth = PacketSynth::new(7, calibration::SAKHIR.sector_end_frac);
    let mut normalizer = Normalizer::new();
    for d in synth.frame(&state).unwrap() {
        normalizer.push(&decode(&d).unwrap());
    }
    let got = normalizer.state().unwrap();
    for (w, g) in state.cars.iter().zip(&got.cars) {
        assert_eq!(
            (g.car_idx, g.penalties_s, g.unserved_penalties),
            (w.car_idx, w.penalties_s, w.unserved_penalties)
        );
    }
    assert_eq!(got.cars[3].penalties_s, 10);
    // Blisters travel in the 2025 damage packet; a state without them reads as none.
    assert_eq!(got.cars[3].tyres.corners.front_left.blister_pct, Some(12.0));
    assert_eq!(got.cars[3].tyres.corners.rear_right.blister_pct, Some(0.0));
}

#[test]
fn retirements_and_the_classification_carry_the_specs_result_reasons() {
    let mut sim = RaceSim::new(&SimConfig {
        seed: 3,
        total_laps: 3,
    });
    sim.advance_to(60.0);
    let mut synth = PacketSynth::new(5, calibration::SAKHIR.sector_end_frac);
    let racing = sim.state();
    synth.frame(&racing).unwrap();
    let mut out = racing.clone();
    out.cars[2].result_status = ResultStatus::Dnf;
    out.cars[5].result_status = ResultStatus::Retired;
    let mut reasons = Vec::new();
    for d in synth.frame(&out).unwrap() {
        if let Body::Event(e) = decode(&d).unwrap().body
            && let EventDetails::Retirement {
                vehicle_idx,
                reason,
            } = e.event_details
        {
            reasons.push((vehicle_idx, reason));
        }
    }
    reasons.sort_unstable();
    // §7.6: 3 terminal damage, 8 mechanical failure.
    let (crashed, failed) = (out.cars[2].car_idx, out.cars[5].car_idx);
    let mut want = vec![(crashed, Some(3)), (failed, Some(8))];
    want.sort_unstable();
    assert_eq!(reasons, want);

    let mut finished = out.clone();
    finished.session.phase = SessionPhase::Finished;
    for car in finished
        .cars
        .iter_mut()
        .filter(|c| !c.result_status.is_out())
    {
        car.result_status = ResultStatus::Finished;
    }
    let classification = synth
        .frame(&finished)
        .unwrap()
        .iter()
        .find_map(|d| match decode(d).unwrap().body {
            Body::FinalClassification(c) => Some(c),
            _ => None,
        })
        .expect("a classification once the session is finished");
    for car in &finished.cars {
        let data = &classification.classification_data[usize::from(car.car_idx)];
        let want = match car.result_status {
            ResultStatus::Finished => 2,
            ResultStatus::Dnf => 3,
            _ => 8,
        };
        assert_eq!(data.result_reason, Some(want), "{:?}", car.result_status);
    }
}

#[test]
fn a_restricted_car_travels_as_the_game_sends_it() {
    let mut sim = RaceSim::new(&SimConfig {
        seed: 4,
        total_laps: 5,
    });
    sim.advance_to(150.0);
    let mut state = sim.state();
    let car = &mut state.cars[5];
    car.telemetry_restricted = true;
    car.fuel_kg = 0.0;
    car.ers_store_pct = 0.0;
    let mut synth = PacketSynth::new(9, calibration::SAKHIR.sector_end_frac);
    let mut normalizer = Normalizer::new();
    for d in synth.frame(&state).unwrap() {
        let packet = decode(&d).unwrap();
        if let Body::Participants(p) = &packet.body {
            for c in &state.cars {
                let public = u8::from(!c.telemetry_restricted);
                assert_eq!(
                    p.participants[usize::from(c.car_idx)].your_telemetry,
                    public
                );
            }
        }
        if let Body::CarDamage(d) = &packet.body {
            // The game zeroes a restricted car's damage packet entry, tyre wear included.
            let entry = d.car_damage_data[usize::from(state.cars[5].car_idx)];
            assert_eq!(entry.tyres_wear, [0.0; 4]);
        }
        normalizer.push(&packet);
    }
    let got = normalizer.state().unwrap();
    for (w, g) in state.cars.iter().zip(&got.cars) {
        assert_eq!(
            (g.car_idx, g.telemetry_restricted),
            (w.car_idx, w.telemetry_restricted)
        );
    }
    let hidden = &got.cars[5];
    assert_eq!(hidden.fuel_kg, 0.0);
    assert!(
        hidden
            .tyres
            .corners
            .as_array()
            .iter()
            .all(|c| c.wear_pct == 0.0)
    );
    assert_eq!(hidden.tyres.compound, state.cars[5].tyres.compound);
    assert!(got.cars[4].fuel_kg > 0.0 && got.cars[4].tyres.corners.rear_left.wear_pct > 0.0);
}

#[test]
fn the_forecast_goes_out_as_the_game_sends_it() {
    use crate::wire::{Forecast, Weather};
    let mut state = RaceSim::new(&SimConfig::sakhir_2019(1)).state();
    state.session.forecast = vec![
        Forecast {
            in_min: 0,
            weather: Weather::Overcast,
            rain_pct: 20,
        },
        Forecast {
            in_min: 10,
            weather: Weather::LightRain,
            rain_pct: 70,
        },
    ];
    let mut synth = PacketSynth::new(7, calibration::SAKHIR.sector_end_frac);
    let mut normalizer = Normalizer::new();
    for d in synth.frame(&state).unwrap() {
        normalizer.push(&decode(&d).unwrap());
    }
    let got = normalizer.state().unwrap();
    assert_eq!(got.session.forecast, state.session.forecast);
}
