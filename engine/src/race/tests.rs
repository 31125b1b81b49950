//! Tests of the real-race import against every race in `shared/data/races`: parsing, the replayed states and
//! their invariants, lap-time reconstruction, the classification, pit stops, and the lap records they yield.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::history::LapRecorder;
use crate::wire::{DataSource, PitStatus, RaceState, SessionPhase};

fn races_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/races")
}

/// Every race folder, sorted by name.
fn race_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(races_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("20"))
        .collect();
    names.sort();
    names
}

fn read_files(race: &str) -> [String; 5] {
    FILE_NAMES.map(|f| {
        let path = races_dir().join(race).join(f);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

fn load(race: &str) -> RealRace {
    let files = read_files(race);
    let [a, b, c, d, e] = &files;
    RealRace::parse(&RaceFiles::from_array([a, b, c, d, e]))
        .unwrap_or_else(|e| panic!("{race}: {e}"))
}

/// `SANITY_SUMMARY.csv` as race → column → value.
fn sanity() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(races_dir().join("SANITY_SUMMARY.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let row: BTreeMap<String, String> = headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect();
            (row["race"].clone(), row)
        })
        .collect()
}

/// f1db's classification order (the results file's row order), as driver codes.
fn f1db_order(race: &str) -> Vec<String> {
    let text = std::fs::read_to_string(races_dir().join(race).join(RESULTS_CSV)).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let col = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "driverCode")
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap()[col].to_owned())
        .collect()
}

fn codes(state: &RaceState) -> Vec<String> {
    state.cars.iter().map(|c| c.driver.code.clone()).collect()
}

#[test]
fn every_race_parses_with_its_field_laps_and_pit_stops() {
    let names = race_names();
    assert_eq!(names.len(), 13, "{names:?}");
    let sanity = sanity();
    for name in &names {
        let race = load(name);
        let row = &sanity[name];
        assert_eq!(race.drivers().len(), 20, "{name}");
        assert_eq!(race.total_laps().to_string(), row["laps_f1db"], "{name}");
        assert!(
            race.track_length_m() > 3000.0 && race.track_length_m() < 7100.0,
            "{name}"
        );
        assert_eq!(race.winner().unwrap().code, row["winner"], "{name}");
        assert_eq!(
            race.pit_stops().len().to_string(),
            row["pitstops_f1db"],
            "{name}"
        );
        let with_laps = race.drivers().iter().filter(|d| !d.laps.is_empty()).count();
        assert_eq!(with_laps.to_string(), row["drivers_fastf1"], "{name}");
        for (i, d) in race.drivers().iter().enumerate() {
            assert_eq!(usize::from(d.car_idx), i);
            assert_eq!(usize::from(d.grid_position), i + 1);
            assert_eq!(
                d.laps.len() as u32,
                d.classification.laps,
                "{name} {}",
                d.code
            );
            assert!(
                d.team_colour.starts_with('#') && d.team_colour.len() == 7,
                "{name} {}",
                d.code
            );
            assert_eq!(
                d.is_finisher(),
                d.classification.reason_retired.is_none(),
                "{name} {}",
                d.code
            );
            for (k, l) in d.laps.iter().enumerate() {
                assert_eq!(l.lap as usize, k + 1);
                assert!(
                    l.lap_time_s > 60.0 && l.lap_time_s < 400.0,
                    "{name} {} {l:?}",
                    d.code
                );
            }
        }
        // The race's median clean lap is the README's figure (which also asks for accurate, slick laps).
        let clean: f64 = row["median_clean_lap_s"].parse().unwrap();
        let ours = race.median_clean_lap_s().unwrap();
        assert!(
            (ours - clean).abs() < 0.5,
            "{name}: median clean lap {ours} vs {clean}"
        );
        // Measured on green-flag stops in every race: a plausible loss, below the f1db lane time plus a stop.
        let loss = race.pit_lane_loss_s();
        assert!(
            race.pit_lane_loss_stops() >= 5,
            "{name}: {} green stops",
            race.pit_lane_loss_stops()
        );
        assert!(
            (15.0..=35.0).contains(&loss),
            "{name}: pit-lane loss {loss}"
        );
    }
}

#[test]
fn grids_put_pit_lane_starters_last_and_keep_drivers_without_laps() {
    let china = load("2019_03_china");
    let alb = china.driver("ALB").unwrap();
    assert!(alb.pit_lane_start);
    assert_eq!(alb.grid_position, 20);
    assert_eq!(china.driver("BOT").unwrap().grid_position, 1);

    // The replay starts him in the pit lane.
    let first = china.states().into_iter().next().unwrap();
    let at_start = first.cars.iter().find(|c| c.driver.code == "ALB").unwrap();
    assert_ne!(
        at_start.pit_status,
        crate::wire::PitStatus::None,
        "{at_start:?}"
    );

    let russia = load("2019_16_russia");
    let gro = russia.driver("GRO").unwrap();
    assert!(gro.laps.is_empty());
    assert_eq!(gro.team, "Haas F1 Team", "a team-mate's team name");
    let retirement = gro.retirement.as_ref().unwrap();
    assert_eq!(
        (retirement.at_s, retirement.status),
        (0.0, ResultStatus::Dnf)
    );
    let last = russia.states().pop().unwrap();
    assert_eq!(last.cars.last().unwrap().driver.code, "GRO");
    assert_eq!(last.cars.last().unwrap().result_status, ResultStatus::Dnf);

    // Names, numbers and a 2019 colour.
    let bahrain = load("2019_02_bahrain");
    let ham = bahrain.driver("HAM").unwrap();
    assert_eq!(
        (ham.name.as_str(), ham.number, ham.team.as_str()),
        ("Lewis Hamilton", 44, "Mercedes")
    );
    assert_eq!(ham.team_colour, "#00D2BE");
    assert_eq!(bahrain.track(), "Bahrain");
    assert_eq!(bahrain.name(), "Formula 1 Gulf Air Bahrain Grand Prix 2019");
}

#[test]
fn reconstructed_lap_times_add_up_to_the_official_race_times() {
    for name in race_names() {
        let race = load(&name);
        let tolerance = if name == "2019_16_russia" { 0.25 } else { 0.05 };
        let mut checked = 0;
        for d in race.drivers() {
            let Some(official) = d.classification.time_s else {
                continue;
            };
            // 2024 Bahrain has no lap-1 times: the winner's lap 1 is built from its own official time, so only the
            // other drivers' sums check anything there.
            if name == "2024_01_bahrain" && d.classification.position == Some(1) {
                continue;
            }
            let sum: f64 = d.laps.iter().map(|l| l.lap_time_s).sum();
            let err = sum + d.classification.time_penalty_s - official;
            assert!(
                err.abs() <= tolerance,
                "{name} {}: laps add up to {sum}, official {official}, error {err}",
                d.code
            );
            checked += 1;
        }
        assert!(checked >= 4, "{name}: {checked} drivers checked");
    }
}

#[test]
fn every_state_is_valid_ordered_in_time_and_free_of_nan() {
    for name in race_names() {
        let race = load(&name);
        let pairs = race.states_with_events();
        assert_eq!(pairs[0].0, RaceEvent::Start);
        assert_eq!(pairs[0].1.session.phase, SessionPhase::NotStarted);
        let mut last_t = 0.0;
        let mut last_phase = SessionPhase::NotStarted;
        for (i, (event, state)) in pairs.iter().enumerate() {
            state
                .check_invariants()
                .unwrap_or_else(|e| panic!("{name} state {i} ({event:?}): {e}"));
            assert_eq!(state.source, DataSource::Replay);
            assert!(state.session.timing_only);
            assert_eq!(state.cars.len(), 20);
            assert!(
                state.session_time_s >= last_t,
                "{name} state {i}: time went back"
            );
            last_t = state.session_time_s;
            assert!(
                state.session.phase as u8 >= last_phase as u8,
                "{name} state {i}: phase went back"
            );
            last_phase = state.session.phase;
            assert_eq!(state.session.leader_lap, state.cars[0].lap);
            assert_eq!(state.session.pit_lane_loss_s, race.pit_lane_loss_s());
            if state.session.phase == SessionPhase::Running {
                assert!(
                    state
                        .cars
                        .iter()
                        .all(|c| c.result_status != ResultStatus::Finished),
                    "{name} state {i}"
                );
            }
            for car in &state.cars {
                assert!(
                    car.lap >= 1 && car.lap <= race.total_laps(),
                    "{name} state {i}: {car:?}"
                );
                let stint_laps: u32 = car.stints.iter().map(|s| s.laps).sum();
                let completed = if car.result_status == ResultStatus::Finished {
                    car.lap
                } else {
                    car.lap - 1
                };
                assert_eq!(
                    stint_laps, completed,
                    "{name} state {i} {}",
                    car.driver.code
                );
                if car.position == 1 || car.result_status.is_out() {
                    assert_eq!((car.gap_to_leader_s, car.interval_s), (None, None));
                }
            }
            // No NaN: NaN serializes as null, which does not come back as the same state.
            let json = serde_json::to_string(state).unwrap();
            let back: RaceState =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name} state {i}: {e}"));
            assert_eq!(&back, state, "{name} state {i}");
        }
        assert_eq!(last_phase, SessionPhase::Finished, "{name}");
    }
}

#[test]
fn the_final_state_is_the_f1db_classification() {
    for name in race_names() {
        let race = load(&name);
        let last = race.states().pop().unwrap();
        assert_eq!(codes(&last), f1db_order(&name), "{name}");
        for car in &last.cars {
            let d = race.driver(&car.driver.code).unwrap();
            let expected = match &d.retirement {
                None => ResultStatus::Finished,
                Some(r) => r.status,
            };
            assert_eq!(car.result_status, expected, "{name} {}", car.driver.code);
        }
        // The gaps at the flag are f1db's (penalties included) for the lead-lap finishers.
        let winner_time = race.winner().unwrap().classification.time_s.unwrap();
        for car in &last.cars[1..] {
            let d = race.driver(&car.driver.code).unwrap();
            if let (Some(time), Some(gap)) = (d.classification.time_s, car.gap_to_leader_s) {
                let tolerance = if name == "2019_16_russia" { 0.25 } else { 0.06 };
                assert!(
                    (gap - (time - winner_time)).abs() < tolerance,
                    "{name} {}: gap {gap}",
                    car.driver.code
                );
            }
        }
    }
}

#[test]
fn a_time_penalty_reorders_the_finish_canada_2019() {
    let race = load("2019_07_canada");
    let pairs = race.states_with_events();
    let vet = race.driver("VET").unwrap().car_idx;
    // Vettel crossed the line first…
    let (_, at_flag) = pairs
        .iter()
        .find(|(e, _)| {
            *e == RaceEvent::LapCompleted {
                car_idx: vet,
                lap: 70,
            }
        })
        .unwrap();
    assert_eq!(at_flag.session.phase, SessionPhase::Chequered);
    assert_eq!(at_flag.cars[0].driver.code, "VET");
    // …and is second once Hamilton crosses 1.3 s later: 5 s penalty.
    let last = &pairs.last().unwrap().1;
    assert_eq!(codes(last)[..3], ["HAM", "VET", "LEC"]);
    let gap = last.cars[1].gap_to_leader_s.unwrap();
    assert!((gap - 3.658).abs() < 0.01, "gap {gap}");
}

#[test]
fn pit_stops_counted_from_the_states_match_fastf1() {
    let sanity = sanity();
    for name in race_names() {
        let race = load(&name);
        let last = race.states().pop().unwrap();
        let stops: u32 = last.cars.iter().map(|c| c.pit_stops).sum();
        assert_eq!(
            stops.to_string(),
            sanity[&name]["pitstops_fastf1"],
            "{name}"
        );
        // Stints follow the FastF1 stints of every car that ran.
        for car in &last.cars {
            let d = race.driver(&car.driver.code).unwrap();
            let Some(last_lap) = d.laps.last() else {
                continue;
            };
            assert_eq!(
                car.stints.len() as u32,
                last_lap.stint,
                "{name} {}",
                car.driver.code
            );
            assert_eq!(
                car.tyres.age_laps, last_lap.tyre_life_laps,
                "{name} {}",
                car.driver.code
            );
            assert_eq!(car.tyres.compound, car.stints.last().unwrap().compound);
        }
    }
}

#[test]
fn lap_records_flag_pit_laps_and_the_bahrain_safety_car() {
    for name in race_names() {
        let race = load(&name);
        let mut recorder = LapRecorder::new();
        let mut in_pit_seen = false;
        for state in race.states() {
            recorder.observe(&state);
            in_pit_seen |= state
                .cars
                .iter()
                .any(|c| c.pit_status == PitStatus::PitLane);
        }
        assert!(in_pit_seen, "{name}");
        for d in race.drivers() {
            let records = recorder.car_records(d.car_idx);
            let laps: Vec<u32> = records.iter().map(|r| r.lap).collect();
            assert_eq!(
                laps,
                (1..=d.laps.len() as u32).collect::<Vec<_>>(),
                "{name} {}",
                d.code
            );
            for (r, l) in records.iter().zip(&d.laps) {
                assert_eq!(
                    r.lap_time_s, l.lap_time_s,
                    "{name} {} lap {}",
                    d.code, l.lap
                );
                assert_eq!(r.compound, l.compound, "{name} {} lap {}", d.code, l.lap);
                // The set the lap was driven on: the in-lap keeps the old set.
                assert_eq!(
                    r.tyre_age_laps, l.tyre_life_laps,
                    "{name} {} lap {}",
                    d.code, l.lap
                );
                let pit_lap = l.pit_in_s.is_some() || l.pit_out_s.is_some();
                assert_eq!(r.pit_lane, pit_lap, "{name} {} lap {}", d.code, l.lap);
                assert!(
                    r.track_status >= l.track_status || l.track_status_codes.contains('2'),
                    "{name} {} lap {}: recorded {:?}, FastF1 {}",
                    d.code,
                    l.lap,
                    r.track_status,
                    l.track_status_codes
                );
            }
        }
        if name == "2019_02_bahrain" {
            let rec = recorder.records();
            for lap in 54..=57 {
                assert!(
                    rec.iter()
                        .any(|r| r.lap == lap && r.track_status == TrackStatus::SafetyCar),
                    "Bahrain lap {lap}: no record under SC"
                );
            }
            let ham = recorder.car_records(race.driver("HAM").unwrap().car_idx);
            assert!(
                ham[55..57]
                    .iter()
                    .all(|r| r.track_status == TrackStatus::SafetyCar),
                "{:?}",
                &ham[53..]
            );
            assert!(
                rec.iter()
                    .filter(|r| r.lap <= 52)
                    .all(|r| r.track_status != TrackStatus::SafetyCar)
            );
            // Green laps stay green: most laps before the SC are recorded green.
            let green = rec
                .iter()
                .filter(|r| r.lap <= 50 && r.track_status == TrackStatus::Green)
                .count();
            let early = rec.iter().filter(|r| r.lap <= 50).count();
            assert!(green * 10 >= early * 7, "{green} of {early} green");
        }
    }
}

#[test]
fn running_order_at_the_line_matches_fastf1_positions() {
    for name in race_names() {
        let race = load(&name);
        let (mut same, mut total) = (0, 0);
        for (event, state) in race.states_with_events() {
            let RaceEvent::LapCompleted { car_idx, lap } = event else {
                continue;
            };
            let Some(fastf1) = race.drivers()[usize::from(car_idx)].laps[lap as usize - 1].position
            else {
                continue;
            };
            total += 1;
            same += usize::from(state.car(car_idx).unwrap().position == fastf1);
        }
        // Monza 2019 (88 %): FastF1's positions follow Verstappen's `Time`s, shifted 4.1 s by his lap-1 stop; the
        // crossings here follow his lap times, which give f1db's result (Perez ahead).
        assert!(
            same * 100 >= total * 85,
            "{name}: {same} of {total} positions as FastF1"
        );
    }
}

#[test]
fn errors_name_the_file_line_and_column() {
    let files = read_files("2019_02_bahrain");
    let parse_with = |i: usize, text: &str| {
        let mut f = files.clone();
        f[i] = text.to_owned();
        let [a, b, c, d, e] = &f;
        RealRace::parse(&RaceFiles::from_array([a, b, c, d, e])).map(|r| r.name().to_owned())
    };
    // A bad session time on line 5 of the laps file.
    let mut lines: Vec<&str> = files[0].lines().collect();
    let bad = lines[4].replacen("0 days", "zero days", 1);
    lines[4] = &bad;
    let err = parse_with(0, &lines.join("\n")).unwrap_err();
    assert!(
        matches!(&err, ImportError::Value { file: LAPS_CSV, line: 5, column, .. } if column == "Time"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("laps_fastf1_armchair.csv: line 5, column Time"),
        "{err}"
    );
    // A compound nobody knows.
    let err = parse_with(0, &files[0].replacen(",SOFT,", ",PURPLE,", 1)).unwrap_err();
    assert!(
        matches!(&err, ImportError::Value { column, .. } if column == "Compound"),
        "{err:?}"
    );
    // A number that is not one.
    let err = parse_with(
        2,
        &files[2].replacen(",57,1:34:21.295", ",fifty,1:34:21.295", 1),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ImportError::Value { file: RESULTS_CSV, line: 2, column, .. } if column == "laps"),
        "{err:?}"
    );
    // A missing column, and a ragged row.
    let err = parse_with(1, &files[1].replace("courseLength", "length")).unwrap_err();
    assert!(err.to_string().contains("courseLength"), "{err}");
    let err = parse_with(3, &format!("{}1,2\n", files[3])).unwrap_err();
    assert!(
        matches!(
            &err,
            ImportError::Csv {
                file: PIT_STOPS_CSV,
                ..
            }
        ),
        "{err:?}"
    );
    // No winner.
    let err = parse_with(2, &files[2].replacen("\n1,44,", "\nDSQ,44,", 1)).unwrap_err();
    assert!(
        matches!(
            &err,
            ImportError::Inconsistent {
                file: RESULTS_CSV,
                ..
            }
        ),
        "{err:?}"
    );
    // A race time no clock holds, a time penalty that is not one, a driver listed twice (or in a grid twice).
    let err = parse_with(2, &files[2].replacen(",57,1:34:21.295", ",57,1e308:0:0", 1)).unwrap_err();
    assert!(
        matches!(&err, ImportError::Value { file: RESULTS_CSV, column, .. } if column == "time"),
        "{err:?}"
    );
    let err = parse_with(
        2,
        &files[2].replacen(",57,1:34:21.295,,", ",57,1:34:21.295,NaN,", 1),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ImportError::Value { file: RESULTS_CSV, line: 2, column, .. } if column == "timePenalty"),
        "{err:?}"
    );
    let second_row = files[4].lines().nth(1).unwrap();
    let err = parse_with(4, &format!("{}\n{second_row}\n", files[4].trim_end())).unwrap_err();
    assert!(
        matches!(&err, ImportError::Value { file: GRID_CSV, column, .. } if column == "driverCode"),
        "{err:?}"
    );
    assert!(err.to_string().contains("listed twice"), "{err}");
    // Empty files are errors, not panics (an empty pit-stop file is a race without stops).
    for i in [0, 1, 2, 4] {
        assert!(parse_with(i, "").is_err(), "file {i}");
    }
    assert!(parse_with(3, "").is_ok());
}

#[test]
fn penalty_stops_fit_no_tyres_and_are_no_strategy_stops() {
    // Over the 13 races, six f1db stops kept the set: Kvyat's drive-through in China 2019 (lap-1 collision),
    // Magnussen's in Austria 2019, at Monza 2019 Vettel's stop-go (lap 12), Stroll's drive-through (lap 15) and
    // Räikkönen's stop-go for starting on the wrong tyres (lap 19), and Räikkönen's drive-through for his jump start
    // in Russia 2019. Stops whose new set FastF1 shows a few laps late (Bottas, Bahrain 2019 lap 37; Hamilton,
    // Hungary 2019 lap 48; Leclerc, Russia 2019 lap 30, …) fitted one.
    let mut kept = Vec::new();
    let mut stops = 0;
    for name in race_names() {
        let race = load(&name);
        stops += race.pit_stops().len();
        kept.extend(
            race.pit_stops()
                .iter()
                .filter(|s| !s.tyres_changed)
                .map(|s| format!("{name} {} {}", s.driver_code, s.lap)),
        );
    }
    assert_eq!(
        kept,
        [
            "2019_03_china KVY 7",
            "2019_09_austria MAG 13",
            "2019_14_italy VET 12",
            "2019_14_italy STR 15",
            "2019_14_italy RAI 19",
            "2019_16_russia RAI 9",
        ]
    );
    assert_eq!(stops, 388);
    // The real strategies leave them out: Vettel's plan stops on laps 6 and 41, not at his stop-go on lap 12.
    let race = load("2019_14_italy");
    let vet = race.drivers().iter().position(|d| d.code == "VET").unwrap();
    let plan = &crate::strategy::calibrate::real_plans(&race)[vet];
    let laps: Vec<u32> = plan.stops.iter().map(|s| s.lap).collect();
    assert_eq!(laps, [6, 41]);
}
