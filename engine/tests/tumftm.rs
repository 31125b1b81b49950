//! Every TUMFTM parameter file in `shared/data/races` reads into a complete, consistent `RaceModel`, checked
//! against the f1db race data beside it and, for Canada 2019, against values copied from the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use boxbox_engine::strategy::model::{Degradation, FcyKind, Fisk, RaceModel};
use boxbox_engine::strategy::tumftm::{McsPars, TumftmPars, read};
use boxbox_engine::wire::Compound;

/// Race folder → laps (the README's table) and the number of fixed FCY phases TUMFTM gives.
const RACES: [(&str, u32, usize); 11] = [
    ("2019_02_bahrain", 57, 1),
    ("2019_03_china", 56, 1),
    ("2019_05_spain", 66, 1),
    ("2019_06_monaco", 78, 1),
    ("2019_07_canada", 70, 0),
    ("2019_09_austria", 71, 0),
    ("2019_10_great_britain", 52, 1),
    ("2019_12_hungary", 70, 0),
    ("2019_14_italy", 53, 2),
    ("2019_16_russia", 53, 3),
    ("2019_21_abu_dhabi", 55, 0),
];

fn races_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/races")
}

fn mcs_ini() -> String {
    std::fs::read_to_string(races_dir().join("_common/tumftm_pars_mcs.ini")).unwrap()
}

/// Every `<race>/tumftm_pars_*.ini`, sorted by race folder: (folder, contents).
fn race_inis() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for race in std::fs::read_dir(races_dir()).unwrap() {
        let race = race.unwrap().path();
        if !race.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&race).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("tumftm_pars_") && name.ends_with(".ini") && !name.contains("mcs") {
                let folder = race.file_name().unwrap().to_string_lossy().into_owned();
                out.push((folder, std::fs::read_to_string(&file).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The `laps` column of the race's `f1db_race.csv`.
fn f1db_laps(folder: &str) -> u32 {
    let path = races_dir().join(folder).join("f1db_race.csv");
    let mut reader = csv::Reader::from_path(path).unwrap();
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "laps")
        .unwrap();
    let row = reader.records().next().unwrap().unwrap();
    row[column].parse().unwrap()
}

fn model(folder: &str) -> RaceModel {
    let (_, ini) = race_inis().into_iter().find(|(f, _)| f == folder).unwrap();
    read(&ini, &mcs_ini()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn every_race_file_reads_into_a_complete_model() {
    let inis = race_inis();
    let folders: Vec<&str> = inis.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(folders, RACES.map(|(f, _, _)| f));
    let mcs = McsPars::parse(&mcs_ini()).unwrap();

    for ((folder, ini), (_, laps, n_fcy)) in inis.iter().zip(RACES) {
        let pars = TumftmPars::parse(ini).unwrap_or_else(|e| panic!("{folder}: {e}"));
        let m = pars
            .to_model(&mcs)
            .unwrap_or_else(|e| panic!("{folder}: {e}"));
        assert_eq!(m.drivers.len(), 20, "{folder}");
        assert_eq!(m.total_laps, laps, "{folder}");
        assert_eq!(m.total_laps, f1db_laps(folder), "{folder}: f1db");
        assert_eq!(m.season, Some(2019), "{folder}");
        assert_eq!(m.dry_compounds, Compound::DRY, "{folder}");
        assert!(m.interaction.drs.is_some(), "{folder}");
        assert_eq!(m.fixed.fcy.as_ref().map_or(0, Vec::len), n_fcy, "{folder}");
        if n_fcy == 0 {
            assert_eq!(m.fixed.fcy, None, "{folder}: [] means random FCYs");
        }

        let retired: Vec<usize> = m
            .fixed
            .retirements
            .iter()
            .flatten()
            .map(|r| r.driver)
            .collect();
        for (i, d) in m.drivers.iter().enumerate() {
            let who = format!("{folder} {}", d.code);
            let compounds = d
                .plan
                .start
                .into_iter()
                .chain(d.plan.stops.iter().map(|s| s.compound));
            for c in compounds {
                assert!(d.tyres.of(c).is_some(), "{who}: no degradation for {c:?}");
            }
            if !retired.contains(&i) {
                assert!(
                    d.plan.uses_two_dry_compounds(),
                    "{who} finished on {}",
                    d.plan.label()
                );
            }
            assert!(
                d.p_accident > 0.0 && d.p_accident < 1.0,
                "{who}: p_accident {}",
                d.p_accident
            );
            assert!(
                d.p_failure > 0.0 && d.p_failure < 1.0,
                "{who}: p_failure {}",
                d.p_failure
            );
            assert!(d.lap_sigma_s > 0.0, "{who}");
            assert!(d.start_sigma_s > 0.0, "{who}");
            assert!(d.pit_variability.is_some(), "{who}");
            assert!((1..=20).contains(&d.grid), "{who}: grid {}", d.grid);
            assert!(
                d.fuel.start_kg > 0.0 && d.fuel.burn_kg_per_lap > 0.0,
                "{who}"
            );
        }

        // The real strategies are the drivers' plans; the base strategies are full, legal races.
        let real = pars.real_strategies().unwrap();
        let plans: Vec<_> = m
            .drivers
            .iter()
            .map(|d| (d.code.clone(), d.plan.clone()))
            .collect();
        assert_eq!(real, plans, "{folder}");
        let base = pars.base_strategies().unwrap();
        assert_eq!(base.len(), 20, "{folder}");
        for (code, plan) in &base {
            assert!(
                plan.uses_two_dry_compounds(),
                "{folder} {code}: base {}",
                plan.label()
            );
        }
    }
}

#[test]
fn canada_2019_values() {
    let m = model("2019_07_canada");
    assert_eq!(m.track, "Montreal");
    assert!(close(m.timing.base_lap_s, 70.24 + 1.983));
    assert_eq!(m.timing.fuel_s_per_kg, 0.022);
    assert_eq!(m.timing.pit.in_green_s, 3.96);
    assert_eq!(m.timing.pit.out_green_s, 12.132);
    assert_eq!(m.timing.pit.out_sc_s, 5.531);
    assert!(m.timing.pits_after_line);
    assert_eq!(m.timing.standing_start_s, 4.657);
    assert_eq!(m.interaction.overtake_threshold_s, 3.75);
    assert_eq!(m.interaction.drs.unwrap().effect_s, -0.133);
    assert_eq!(m.random.min_gap_laps, 1.5);
    assert_eq!(m.random.sc_count, [0.455, 0.413, 0.099, 0.033]);
    assert_eq!(m.fixed.fcy, None);

    let ham = &m.drivers[m.driver("HAM").unwrap()];
    assert_eq!(m.drivers[0].code, "HAM", "participants order");
    assert_eq!(
        (ham.name.as_str(), ham.team.as_str(), ham.car_number),
        ("Lewis Hamilton", "Mercedes", 44)
    );
    assert!(close(ham.pace_offset_s, 0.078));
    assert_eq!((ham.grid, ham.top_speed_kmh), (2, 329.3));
    assert_eq!(ham.fuel.start_kg, 110.0);
    assert_eq!(ham.fuel.burn_kg_per_lap, 1.571);
    assert_eq!(ham.pit_crew_extra_s, 0.434);
    assert_eq!(
        ham.pit_variability,
        Some(Fisk {
            c: 1.563,
            loc: -0.046,
            scale: 0.48
        })
    );
    assert_eq!((ham.p_accident, ham.p_failure), (0.045, 0.041));
    assert_eq!(ham.lap_sigma_s, 0.459);
    assert_eq!((ham.start_mean_s, ham.start_sigma_s), (-0.052, 0.098));

    // A6 (C4) is the medium of A4/A6/A7; HAM started on it, two laps old, and stopped on lap 28 for A4, the hard.
    assert_eq!(ham.plan.label(), "M-28-H");
    assert_eq!(ham.plan.start_age_laps, 2);
    assert_eq!(ham.plan.stops[0].age_laps, 0);
    let hard = ham.tyres.of(Compound::Hard).unwrap();
    assert_eq!(hard.label, "A4");
    assert_eq!(
        hard.deg,
        Degradation::Linear {
            k0: 0.0,
            k1: 0.0133
        }
    );
    assert_eq!(
        ham.tyres.of(Compound::Medium).unwrap().deg,
        Degradation::Linear {
            k0: 0.2122,
            k1: 0.0227
        }
    );

    let kub = &m.drivers[m.driver("KUB").unwrap()];
    assert!(close(kub.pace_offset_s, 2.417 + 0.776));
    assert_eq!(kub.plan.label(), "M-8-H-38-H");

    let retired: Vec<(&str, f64)> = m
        .fixed
        .retirements
        .iter()
        .flatten()
        .map(|r| (m.drivers[r.driver].code.as_str(), r.at))
        .collect();
    assert_eq!(retired, [("NOR", 8.5), ("ALB", 59.5)]);
}

#[test]
fn russia_2019_fixed_fcy_phases() {
    let m = model("2019_16_russia");
    let kinds: Vec<(f64, f64, FcyKind)> = m
        .fixed
        .fcy
        .unwrap()
        .iter()
        .map(|p| (p.start, p.end, p.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (0.431, 2.922, FcyKind::Sc),
            (27.384, 28.457, FcyKind::Vsc),
            (28.807, 31.934, FcyKind::Sc)
        ]
    );
    assert_eq!(m.fixed.retirements.unwrap().len(), 5);
}

/// A car's plans run together (`run_plans`: their races forked from one at each plan's first in-lap) give
/// each plan the races it gets alone (`run_chunk`), bit for bit: on every 2019 race, with the fixed events and with
/// random ones, from the grid and from half distance (a lapped car, a retired one), for a car in the field, the
/// lapped car and the retired one, and plans that start on different compounds, stop on the first lap that may be
/// run or never, once, twice.
#[test]
fn plans_run_together_meet_the_races_each_meets_alone() {
    use boxbox_engine::strategy::lapsim::{CarStart, Prepared, RaceStart};
    use boxbox_engine::strategy::model::{Plan, PlannedStop};
    use boxbox_engine::strategy::monte_carlo::{CHUNK_RUNS, run_chunk, run_plans};

    let mcs = mcs_ini();
    for (folder, ini) in race_inis() {
        let fixed = read(&ini, &mcs).unwrap();
        let mut random = fixed.clone();
        random.fixed = Default::default();
        let rivals: Vec<Plan> = fixed.drivers.iter().map(|d| d.plan.clone()).collect();
        let n = rivals.len();
        let laps = fixed.total_laps;
        let half = laps / 2;
        let mid = RaceStart {
            completed_laps: half,
            cars: (0..n)
                .map(|i| CarStart {
                    race_time_s: f64::from(half) * fixed.timing.base_lap_s + i as f64 * 0.8,
                    laps: if i == n - 1 { half - 1 } else { half },
                    compound: rivals[i].start.unwrap(),
                    tyre_age_laps: 8.0 + i as f64,
                    fuel_kg: 50.0,
                    retired: i == 5,
                })
                .collect(),
        };
        // A car in the field, the lapped one and the one retired at half distance.
        for car in [2, n - 1, 5] {
            let own = rivals[car].start.unwrap();
            let other = if own == Compound::Hard {
                Compound::Medium
            } else {
                Compound::Hard
            };
            let stop = |lap: u32, compound| PlannedStop {
                lap,
                compound,
                age_laps: 0,
            };
            let plan = |start, stops: Vec<PlannedStop>| Plan {
                start: Some(start),
                start_age_laps: 0,
                stops,
            };
            let candidates = [
                rivals[car].clone(),
                plan(own, vec![stop(1, other)]),
                plan(own, vec![stop(half + 1, other)]),
                plan(own, vec![stop(laps / 3, other), stop(2 * laps / 3, own)]),
                plan(own, vec![stop(half + 4, other)]),
                plan(own, vec![]),
                plan(other, vec![stop(half - 3, own)]),
                plan(other, vec![stop(half + 2, own)]),
            ];
            for model in [&fixed, &random] {
                for start in [None, Some(&mid)] {
                    let prepared: Vec<Prepared> = candidates
                        .iter()
                        .filter_map(|c| {
                            let mut plans = rivals.clone();
                            plans[car] = c.clone();
                            Prepared::new(model, &plans, start).ok()
                        })
                        .collect();
                    assert!(
                        prepared.len() >= 6,
                        "{folder}: {} plans prepared",
                        prepared.len()
                    );
                    for (chunk, runs) in [(0, 40), (3, 25)] {
                        let first = chunk * u64::from(CHUNK_RUNS);
                        let together = run_plans(&prepared, car, 9, first..first + u64::from(runs));
                        for (i, p) in prepared.iter().enumerate() {
                            assert_eq!(
                                together[i],
                                run_chunk(p, 9, chunk, runs),
                                "{folder}, car {car}, plan {i}, from lap {:?}",
                                start.map(|s| s.completed_laps)
                            );
                        }
                    }
                }
            }
        }
    }
}
