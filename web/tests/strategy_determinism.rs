//! Browser test (headless Chromium): the Monte Carlo and the strategy search on a TUMFTM model (Canada 2019 from
//! `shared/data/races`) give the same report bits in WASM as natively.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn monte_carlo_and_search_are_bit_identical_to_native() {
    let fixture: serde_json::Value = serde_json::from_str(include_str!(
        "../../engine/tests/fixtures/monte_carlo_digest.json"
    ))
    .unwrap();
    assert_eq!(
        fixture["race_ini"], "2019_07_canada/tumftm_pars_Montreal_2019.ini",
        "the file below is that race's"
    );
    let reports = boxbox_engine::digest::monte_carlo(
        include_str!("../../../shared/data/races/2019_07_canada/tumftm_pars_Montreal_2019.ini"),
        include_str!("../../../shared/data/races/_common/tumftm_pars_mcs.ini"),
        fixture["runs"].as_u64().unwrap() as u32,
        fixture["seed"].as_u64().unwrap(),
        fixture["driver"].as_str().unwrap(),
    )
    .unwrap();
    let got = format!(
        "{:016x}",
        boxbox_engine::digest::monte_carlo_digest(&reports)
    );
    assert_eq!(got, fixture["digest"].as_str().unwrap());
}
