//! Browser tests (headless Chromium through wasm-bindgen-test-runner): the engine gives the same race and the same
//! twins in WASM as natively, and the pit wall renders a live field.
// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_arch = "wasm32")]

use boxbox_engine::protocol::ServerMessage;
use boxbox_engine::sim::{RaceSim, SimConfig};
use boxbox_web::live::LiveFeed;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Reads a digest fixture written by the native tests: `(config, every_s, digest)`.
fn fixture(json: &str) -> (SimConfig, f64, String) {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let config = SimConfig {
        seed: v["seed"].as_u64().unwrap(),
        total_laps: v["total_laps"].as_u64().unwrap() as u32,
    };
    (
        config,
        v["every_s"].as_f64().unwrap(),
        v["digest"].as_str().unwrap().to_owned(),
    )
}

#[wasm_bindgen_test]
fn simulated_race_is_bit_identical_to_native() {
    let (config, every_s, want) =
        fixture(include_str!("../../engine/tests/fixtures/race_digest.json"));
    let got = format!("{:016x}", boxbox_engine::digest::race(&config, every_s));
    assert_eq!(got, want);
}

#[wasm_bindgen_test]
fn twins_are_bit_identical_to_native() {
    let (config, every_s, want) =
        fixture(include_str!("../../engine/tests/fixtures/twin_digest.json"));
    let got = format!("{:016x}", boxbox_engine::digest::twins(&config, every_s));
    assert_eq!(got, want);
}

/// Lets the browser run its event loop (timers, Leptos' effects) for `ms` milliseconds.
async fn sleep_ms(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

#[wasm_bindgen_test]
async fn pit_wall_renders_the_field_and_the_selected_cars_twin() {
    let feed = LiveFeed::new();
    let mut sim = RaceSim::new(&SimConfig {
        seed: 5,
        total_laps: 30,
    });
    let mut first = true;
    // Feed six laps of states, as the relay would: a snapshot, then updates.
    for step in 0..300 {
        sim.advance_to(f64::from(step) * 2.0);
        let state = sim.state();
        let message = if first {
            ServerMessage::Snapshot {
                seq: 0,
                state,
                history: Vec::new(),
            }
        } else {
            ServerMessage::Update { state }
        };
        first = false;
        feed.apply(message);
    }
    leptos::mount::mount_to_body(move || leptos::view! { <boxbox_web::PitWall feed=feed /> });
    sleep_ms(50).await;

    let doc = web_sys::window().unwrap().document().unwrap();
    let rows = doc.query_selector_all("[data-testid=tower-row]").unwrap();
    assert_eq!(rows.length(), 20);
    let leader_code = sim.state().cars[0].driver.code.clone();
    let first_row = rows.item(0).unwrap().text_content().unwrap();
    assert!(
        first_row.contains(&leader_code),
        "{first_row} should show {leader_code}"
    );

    // The twins' report follows the states on a schedule (within 200 ms of a lap, at most a second late): the
    // states above arrived in one burst, so the report with six laps comes from a timer.
    let panel_text = || {
        doc.query_selector("[data-testid=car-panel]")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap()
    };
    let mut panel = panel_text();
    for _ in 0..30 {
        if panel.contains('±') {
            break;
        }
        sleep_ms(100).await;
        panel = panel_text();
    }
    assert!(panel.contains("%/lap"), "{panel}");
    assert!(panel.contains("kg/lap"), "{panel}");
    // After six laps the twin has learned a wear rate, shown with its uncertainty.
    assert!(panel.contains('±'), "{panel}");
    let lap = doc
        .query_selector("[data-testid=lap]")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert!(lap.starts_with("LAP ") && lap.ends_with("/ 30"), "{lap}");
}
