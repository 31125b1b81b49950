//! Tests of JSON feed parsing (errors name the path) and normalization (laps, gaps, stints, retirements).

use super::*;

fn frame(t: f64, lap: u32, cars: &str) -> String {
    format!(
        r#"{{"timestamp": {t}, "lap": {lap}, "session_type": "race", "total_laps": 57,
            "track_conditions": {{"temperature": 31.5, "weather": "clear", "track_status": "green"}},
            "cars": [{cars}]}}"#
    )
}

fn car(id: u32, driver: &str, position: u8, compound: &str, age: u32, lap_time: f64) -> String {
    format!(
        r#"{{"car_id": {id}, "team": "Ferrari", "driver": "{driver}", "position": {position}, "speed": 280.5,
            "tire": {{"compound": "{compound}", "age": {age}, "wear_level": 12.5}}, "fuel_level": 40.0,
            "lap_time": {lap_time}, "sector_times": [30.0, 40.0, 26.5]}}"#
    )
}

fn push(n: &mut FeedNormalizer, json: &str) {
    for f in parse(json.as_bytes()).unwrap() {
        n.push(f);
    }
}

#[test]
fn a_frame_becomes_a_valid_state() {
    let json = frame(
        100.0,
        5,
        &[
            car(16, "Charles Leclerc", 2, "soft", 4, 96.5),
            car(44, "Lewis Hamilton", 1, "medium", 4, 96.1),
        ]
        .join(","),
    );
    let mut n = FeedNormalizer::new();
    push(&mut n, &json);
    let s = n.state().unwrap();
    s.check_invariants().unwrap();
    assert_eq!(s.source, DataSource::Live);
    assert_eq!(s.session.session_type, SessionType::Race);
    assert_eq!((s.session.leader_lap, s.session.total_laps), (5, 57));
    assert_eq!(s.cars[0].driver.code, "HAM");
    assert_eq!(s.cars[0].driver.number, 44);
    assert_eq!(s.cars[0].team.colour, "#E8002D");
    assert_eq!(s.cars[1].tyres.compound, Compound::Soft);
    assert_eq!(s.cars[1].tyres.corners.rear_left.wear_pct, 12.5);
    assert_eq!(
        s.cars[1].last_sectors_s,
        [Some(30.0), Some(40.0), Some(26.5)]
    );
    assert_eq!(s.cars[1].fuel_kg, 40.0);
}

#[test]
fn the_optional_telemetry_and_penalty_extensions_reach_the_state() {
    let with = r#"{"car_id": 1, "driver": "Max Verstappen", "position": 1, "speed": 301.5, "lap_distance": 1234.5,
                   "throttle": 87.5, "brake": 0.0, "gear": 7, "penalty_s": 5}"#;
    let without = r#"{"car_id": 2, "driver": "Lando Norris", "position": 2}"#;
    let mut n = FeedNormalizer::new();
    push(&mut n, &frame(10.0, 3, &[with, without].join(",")));
    let s = n.state().unwrap();
    s.check_invariants().unwrap();
    let (a, b) = (&s.cars[0], &s.cars[1]);
    assert_eq!(
        (
            a.lap_distance_m,
            a.throttle_pct,
            a.brake_pct,
            a.gear,
            a.penalties_s
        ),
        (1234.5, 87.5, 0.0, 7, 5)
    );
    assert_eq!(
        (
            b.lap_distance_m,
            b.throttle_pct,
            b.brake_pct,
            b.gear,
            b.penalties_s
        ),
        (0.0, 0.0, 0.0, 0, 0)
    );
    assert_eq!(s.session.track_length_m, 5000.0);
    // Spa is longer than the 5 km a feed is assumed to be: the state's length follows the distances seen.
    let spa = r#"{"car_id": 1, "driver": "Max Verstappen", "position": 1, "lap_distance": 6950.0}"#;
    push(&mut n, &frame(11.0, 3, spa));
    let s = n.state().unwrap();
    s.check_invariants().unwrap();
    assert_eq!(s.session.track_length_m, 6950.0);
}

#[test]
fn laps_gaps_stints_and_retirements_are_derived() {
    let mut n = FeedNormalizer::new();
    let a = |pos, compound, age, lt| car(1, "Max Verstappen", pos, compound, age, lt);
    let b = |pos, compound, age, lt| car(2, "Lando Norris", pos, compound, age, lt);
    let c = |pos| car(3, "Oscar Piastri", pos, "hard", 10, 97.0);
    push(
        &mut n,
        &frame(
            0.0,
            10,
            &[a(1, "medium", 9, 95.0), b(2, "medium", 9, 95.2), c(3)].join(","),
        ),
    );
    // The leader crosses the line (new lap time), then the second car 1.4 s later.
    push(
        &mut n,
        &frame(
            95.1,
            11,
            &[a(1, "medium", 10, 95.1), b(2, "medium", 9, 95.2), c(3)].join(","),
        ),
    );
    push(
        &mut n,
        &frame(
            96.5,
            11,
            &[a(1, "medium", 10, 95.1), b(2, "medium", 10, 96.0), c(3)].join(","),
        ),
    );
    let s = n.state().unwrap();
    s.check_invariants().unwrap();
    assert_eq!(s.cars[0].lap, 11);
    assert_eq!(s.cars[1].gap_to_leader_s, Some(96.5 - 95.1));
    assert!((s.cars[1].interval_s.unwrap() - 1.4).abs() < 1e-9);
    assert_eq!(s.cars[1].best_lap_s, Some(95.2));
    // Car 2 pits for hards (age back to 0); car 3 drops out of the feed.
    push(
        &mut n,
        &frame(
            200.0,
            12,
            &[a(1, "medium", 11, 95.3), b(2, "hard", 0, 118.0)].join(","),
        ),
    );
    let s = n.state().unwrap();
    s.check_invariants().unwrap();
    let norris = s.cars.iter().find(|c| c.driver.code == "NOR").unwrap();
    assert_eq!(norris.pit_stops, 1);
    assert_eq!(norris.stints.len(), 2);
    assert_eq!(norris.stints[1].compound, Compound::Hard);
    let piastri = s.cars.last().unwrap();
    assert_eq!((piastri.driver.code.as_str(), piastri.position), ("PIA", 3));
    assert_eq!(piastri.result_status, ResultStatus::Retired);
    // A frame from the past (a feed resending after a reconnect) is ignored.
    push(
        &mut n,
        &frame(150.0, 11, &[a(1, "medium", 10, 95.1)].join(",")),
    );
    assert_eq!(n.counts(), (4, 1));
    assert_eq!(n.state().unwrap().session_time_s, 200.0);
}

#[test]
fn batches_and_rfc3339_timestamps_parse() {
    let one = car(7, "Kimi Antonelli", 1, "S", 1, 0.0);
    let json = format!(
        r#"[{}, {{"timestamp": "2025-03-16T04:00:01.500Z", "lap": 1, "cars": [{one}]}}]"#,
        frame(1.0, 1, &one)
    );
    let frames = parse(json.as_bytes()).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].timestamp.0, 1_742_097_601.5);
    assert_eq!(frames[1].cars[0].car_id, CarId::Number(7));
    let text_id = r#"{"timestamp": 1, "lap": 1, "cars": [{"car_id": "VER", "driver": "Max", "position": 1}]}"#;
    assert_eq!(
        parse(text_id.as_bytes()).unwrap()[0].cars[0].car_id,
        CarId::Text("VER".into())
    );
}

#[test]
fn bad_input_says_where_and_what() {
    let cases: &[(&str, &str)] = &[
        ("{not json", "invalid JSON"),
        (
            "42",
            "expected a frame object or an array of frames, got a number",
        ),
        ("[]", "empty batch"),
        (r#"{"lap": 1, "cars": []}"#, "missing field `timestamp`"),
        (
            r#"{"timestamp": "yesterday", "lap": 1, "cars": []}"#,
            "timestamp: timestamp \"yesterday\"",
        ),
        (
            r#"{"timestamp": 1, "lap": "one", "cars": []}"#,
            "lap: invalid type: string",
        ),
        (
            r#"{"timestamp": 1, "lap": 0, "cars": []}"#,
            "lap: laps count from 1",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "cars": []}"#,
            "cars: a frame needs at least one car",
        ),
        (
            r#"{"timestamp": 1, "lap": 4000000000, "cars": [{"car_id": 1, "driver": "A", "position": 1}]}"#,
            "lap: 4000000000: at most 201",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "total_laps": 100000, "cars": [{"car_id": 1, "driver": "A", "position": 1}]}"#,
            "total_laps: at most 200",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "position": 1}]}"#,
            "cars[0].driver: longer than 64 characters",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "track": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "cars": [{"car_id": 1, "driver": "A", "position": 1}]}"#,
            "track: longer than 64 characters",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1, "tire": {"compound": "purple"}}]}"#,
            "cars[0].tire.compound: unknown compound \"purple\"",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1, "tire": {"compound": "soft", "age": -1}}]}"#,
            "cars[0].tire.age: invalid value: integer `-1`",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1, "tire": {"compound": "soft", "age": 4294967295}}]}"#,
            "cars[0].tire.age: 4294967295 laps: at most 400",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 2}]}"#,
            "cars[0].position: 2 is not a position in a field of 1",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1}, {"car_id": 1, "driver": "B", "position": 2}]}"#,
            "cars[1].car_id: same car_id as cars[0]",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "track_conditions": {"track_status": "chequered"}, "cars": [{"car_id": 1, "driver": "A", "position": 1}]}"#,
            "track_conditions.track_status: unknown track status",
        ),
        (
            r#"[{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1}]}, {"timestamp": 2, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1, "speed": -3}]}]"#,
            "[1].cars[0].speed: -3 must be ≥ 0",
        ),
        (
            r#"[{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1}]}, {"timestamp": 2, "lap": "x", "cars": []}]"#,
            "[1].lap: invalid type: string",
        ),
        (
            r#"[{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1}]}, {"timestamp": 2, "lap": 1}]"#,
            "[1]: missing field `cars`",
        ),
        (
            r#"{"timestamp": 2, "lap": 1}"#,
            "frame: missing field `cars`",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1, "throttle": 140}]}"#,
            "cars[0].throttle: 140 is not a percentage (0–100)",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "track_length": 4300, "cars": [{"car_id": 1, "driver": "A", "position": 1, "lap_distance": 4400}]}"#,
            "cars[0].lap_distance: 4400 m is beyond the lap's 4300 m",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "track_length": 12, "cars": [{"car_id": 1, "driver": "A", "position": 1}]}"#,
            "track_length: 12 m is not a lap length",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1, "gear": 9}]}"#,
            "cars[0].gear: 9 is not a gear (-1 to 8)",
        ),
        (
            r#"{"timestamp": 1, "lap": 1, "cars": [{"car_id": 1, "driver": "A", "position": 1, "lap_distance": -1}]}"#,
            "cars[0].lap_distance: -1 must be ≥ 0",
        ),
    ];
    for (json, want) in cases {
        let err = parse(json.as_bytes()).unwrap_err();
        assert!(
            err.message.contains(want),
            "{json}\n  got: {err}\n want: {want}"
        );
    }
}

/// A feed that changes a car's lap time every frame (jitter) counts no more laps than the leader is on; one that
/// leaves the tyre age out now and then adds no stop; one that sends a younger set back and forth adds one stop
/// and then corrects it (no car stops twice in a lap): what it keeps per car stays bounded.
#[test]
fn a_jittery_feed_neither_counts_a_lap_nor_a_stop_per_frame() {
    let mut n = FeedNormalizer::new();
    for i in 0..500u32 {
        let lap_time = 90.0 + f64::from(i) * 0.001;
        let mut json = frame(
            100.0 + f64::from(i) * 0.1,
            3,
            &car(16, "Charles Leclerc", 1, "soft", 12, lap_time),
        );
        if i % 2 == 1 {
            json = json.replace(r#""age": 12, "#, "");
        }
        push(&mut n, &json);
    }
    let s = n.state().unwrap();
    let c = &s.cars[0];
    assert!(c.lap <= 3, "{} laps counted on lap 3", c.lap);
    assert_eq!(
        c.pit_stops, 0,
        "no stop: the feed only left the tyre age out"
    );
    assert_eq!(c.stints.len(), 1, "{:?}", c.stints);
    // Left out, the age is the stint's: 12 when it began, a lap since.
    assert_eq!(c.tyres.age_laps, 13);
    // Ages that go back and forth on one lap: one stop, corrected after.
    for i in 0..100u32 {
        let age = if i % 2 == 0 { 0 } else { 12 };
        push(
            &mut n,
            &frame(
                200.0 + f64::from(i) * 0.1,
                4,
                &car(16, "Charles Leclerc", 1, "soft", age, 91.0),
            ),
        );
    }
    let s = n.state().unwrap();
    assert_eq!((s.cars[0].pit_stops, s.cars[0].stints.len()), (1, 2));
    // A real stop on a later lap is one more.
    push(
        &mut n,
        &frame(300.0, 5, &car(16, "Charles Leclerc", 1, "hard", 0, 92.0)),
    );
    let s = n.state().unwrap();
    assert_eq!((s.cars[0].pit_stops, s.cars[0].stints.len()), (2, 3));
}

/// Pushes every frame of `json`; what the last one did.
fn push_one(n: &mut FeedNormalizer, json: &str) -> Pushed {
    let mut last = None;
    for f in parse(json.as_bytes()).unwrap() {
        last = Some(n.push(f));
    }
    last.unwrap()
}

fn at_track(track: &str, json: String) -> String {
    json.replacen(r#""lap""#, &format!(r#""track": "{track}", "lap""#), 1)
}

#[test]
fn another_track_session_type_or_field_begins_a_new_session() {
    let mut n = FeedNormalizer::new();
    let field = |lap: u32, lap_time: f64| {
        [
            car(16, "Charles Leclerc", 1, "soft", lap, lap_time),
            car(
                44,
                "Lewis Hamilton",
                2,
                "soft",
                lap,
                if lap_time > 0.0 { lap_time + 0.4 } else { 0.0 },
            ),
        ]
        .join(",")
    };
    for (t, lap, lap_time) in [(100.0, 1, 0.0), (190.0, 2, 90.0), (281.0, 3, 91.0)] {
        let pushed = push_one(
            &mut n,
            &at_track("Monza", frame(t, lap, &field(lap, lap_time))),
        );
        assert_eq!(pushed, Pushed::Applied);
    }
    let monza = n.state().unwrap();
    assert_eq!(
        (monza.session.track.as_str(), monza.cars[0].lap),
        ("Monza", 3)
    );
    // The same track with an earlier clock is a resend, not a session: ignored.
    let resent = at_track("Monza", frame(150.0, 2, &field(2, 90.0)));
    assert_eq!(push_one(&mut n, &resent), Pushed::Stale);

    // The next race: another track, the clock back near zero, the same car ids.
    let spa =
        |t: f64, lap: u32, lap_time: f64| at_track("Spa", frame(t, lap, &field(lap, lap_time)));
    assert_eq!(push_one(&mut n, &spa(5.0, 1, 0.0)), Pushed::NewSession);
    let s = n.state().unwrap();
    s.check_invariants().unwrap();
    assert_eq!(s.session.track, "Spa");
    assert_eq!(
        s.session_time_s, 0.0,
        "the new session's clock starts at its first frame"
    );
    assert_eq!(s.cars.len(), 2);
    assert!(
        s.cars
            .iter()
            .all(|c| c.lap == 1 && c.pit_stops == 0 && c.stints.len() == 1)
    );
    assert!(
        s.cars.iter().all(|c| c.best_lap_s.is_none()),
        "Monza's laps are forgotten"
    );
    // A late Monza frame (a batch retried after the next race began): stale, not Monza again.
    let late = at_track("Monza", frame(290.0, 3, &field(3, 91.0)));
    assert_eq!(push_one(&mut n, &late), Pushed::Stale);
    assert_eq!(n.state().unwrap().session.track, "Spa");
    // Its own clock goes on from there, and goes back as before.
    assert_eq!(push_one(&mut n, &spa(110.0, 2, 105.0)), Pushed::Applied);
    assert_eq!(push_one(&mut n, &spa(100.0, 2, 105.0)), Pushed::Stale);
    assert_eq!(n.state().unwrap().cars[0].lap, 2);

    // Another session type at the same track.
    let qualifying = spa(120.0, 1, 0.0).replace(r#""race""#, r#""qualifying""#);
    assert_eq!(push_one(&mut n, &qualifying), Pushed::NewSession);
    assert_eq!(
        n.state().unwrap().session.session_type,
        SessionType::Qualifying
    );

    // A frame none of whose cars the session knows: another field (a feed that renumbered every car).
    let others = [
        car(1, "Max Verstappen", 1, "medium", 1, 0.0),
        car(4, "Lando Norris", 2, "medium", 1, 0.0),
    ]
    .join(",");
    let renumbered =
        at_track("Spa", frame(130.0, 1, &others)).replace(r#""race""#, r#""qualifying""#);
    assert_eq!(push_one(&mut n, &renumbered), Pushed::NewSession);
    let s = n.state().unwrap();
    let codes: Vec<&str> = s.cars.iter().map(|c| c.driver.code.as_str()).collect();
    assert_eq!(
        codes,
        ["VER", "NOR"],
        "no car of the last field listed as retired"
    );
    assert_eq!(n.counts(), (7, 3));
}

#[test]
fn cars_beyond_the_sessions_ids_are_counted_not_lost_silently() {
    let mut n = FeedNormalizer::new();
    let cars = |ids: &[u32]| {
        ids.iter()
            .enumerate()
            .map(|(k, &id)| car(id, &format!("Driver {id}"), k as u8 + 1, "soft", 1, 0.0))
            .collect::<Vec<_>>()
            .join(",")
    };
    let all: Vec<u32> = (1..=MAX_CARS as u32).collect();
    assert_eq!(
        push_one(&mut n, &frame(0.0, 1, &cars(&all))),
        Pushed::Applied
    );
    assert_eq!(n.refused_cars(), 0);
    // The last car renumbered: its new id has no slot left.
    let mut renumbered = all.clone();
    renumbered[MAX_CARS - 1] = 1000;
    assert_eq!(
        push_one(&mut n, &frame(1.0, 1, &cars(&renumbered))),
        Pushed::Applied
    );
    assert_eq!(n.refused_cars(), 1);
    let s = n.state().unwrap();
    s.check_invariants().unwrap();
    assert_eq!(s.cars.len(), MAX_CARS);
    assert_eq!(s.cars.last().unwrap().result_status, ResultStatus::Retired);
}

#[test]
fn a_feed_without_wear_or_fuel_is_timing_only() {
    let timing = r#"{"timestamp": 1, "lap": 3, "cars": [
        {"car_id": 1, "driver": "Max Verstappen", "position": 1, "tire": {"compound": "soft", "age": 2}, "lap_time": 90.1},
        {"car_id": 4, "driver": "Lando Norris", "position": 2, "lap_time": 90.4}]}"#;
    let mut n = FeedNormalizer::new();
    push(&mut n, timing);
    let s = n.state().unwrap();
    assert!(s.session.timing_only, "neither wear nor fuel measured");
    s.check_invariants().unwrap();
    // One car with a fuel reading: the feed measures.
    let measured = timing.replace(
        r#""lap_time": 90.4"#,
        r#""lap_time": 90.4, "fuel_level": 30.5"#,
    );
    let mut n = FeedNormalizer::new();
    push(&mut n, &measured);
    let s = n.state().unwrap();
    assert!(!s.session.timing_only);
    // The car given neither has its telemetry hidden: its zeros are not read as an empty tank and new tyres.
    let by_code = |code: &str| s.cars.iter().find(|c| c.driver.code == code).unwrap();
    assert!(by_code("VER").telemetry_restricted && !s.measures(by_code("VER")));
    assert!(!by_code("NOR").telemetry_restricted && s.measures(by_code("NOR")));
    // And the full example frame measures both.
    let mut n = FeedNormalizer::new();
    push(
        &mut n,
        &frame(100.0, 5, &car(16, "Charles Leclerc", 1, "soft", 4, 96.5)),
    );
    assert!(!n.state().unwrap().session.timing_only);
}
