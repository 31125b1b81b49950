//! Browser test (headless Chromium): the twins over a real race (a timing-only source, Canada 2019 from
//! `shared/data/races`) give the same report bits in WASM as natively.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_arch = "wasm32")]

use boxbox_engine::race::{RaceFiles, RealRace};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn real_race_twins_are_bit_identical_to_native() {
    let fixture: serde_json::Value = serde_json::from_str(include_str!(
        "../../engine/tests/fixtures/real_race_twin_digest.json"
    ))
    .unwrap();
    assert_eq!(
        fixture["race"], "2019_07_canada",
        "the files below are that race's"
    );
    let race = RealRace::parse(&RaceFiles::from_array([
        include_str!("../../../shared/data/races/2019_07_canada/laps_fastf1_armchair.csv"),
        include_str!("../../../shared/data/races/2019_07_canada/f1db_race.csv"),
        include_str!("../../../shared/data/races/2019_07_canada/f1db_race_results.csv"),
        include_str!("../../../shared/data/races/2019_07_canada/f1db_pit_stops.csv"),
        include_str!("../../../shared/data/races/2019_07_canada/f1db_starting_grid_positions.csv"),
    ]))
    .unwrap();
    let got = format!("{:016x}", boxbox_engine::digest::real_race_twins(&race));
    assert_eq!(got, fixture["digest"].as_str().unwrap());
}
