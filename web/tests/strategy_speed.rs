//! Browser benchmark (headless Chromium, one thread): Monte Carlo races per second in WASM on the Canada 2019
//! TUMFTM model, and a strategy refresh for one car, printed for BENCHMARKS.md. It asserts only that the work was
//! done: speed is measured here, never asserted (these machines are noisy).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_arch = "wasm32")]

use boxbox_engine::strategy::lapsim::Prepared;
use boxbox_engine::strategy::monte_carlo::{self, McConfig};
use boxbox_engine::strategy::search::{self, SearchConfig};
use boxbox_engine::strategy::tumftm;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn now_ms() -> f64 {
    js_sys::Date::now()
}

#[wasm_bindgen_test]
fn monte_carlo_speed_in_wasm() {
    let mut model = tumftm::read(
        include_str!("../../../shared/data/races/2019_07_canada/tumftm_pars_Montreal_2019.ini"),
        include_str!("../../../shared/data/races/_common/tumftm_pars_mcs.ini"),
    )
    .unwrap();
    model.fixed = Default::default();
    let plans: Vec<_> = model.drivers.iter().map(|d| d.plan.clone()).collect();
    let prepared = Prepared::new(&model, &plans, None).unwrap();
    // V8 compiles the module with its baseline compiler first and optimises hot functions while they run: a warm-up
    // keeps that out of the figure, which is the steady rate a worker runs at during a refresh.
    let warm_up = monte_carlo::run_all(
        &prepared,
        &McConfig {
            runs: 2_000,
            seed: 2,
            deterministic: false,
        },
    );
    assert_eq!(warm_up.runs + warm_up.invalid_runs, 2_000);
    let config = McConfig {
        runs: 20_000,
        seed: 1,
        deterministic: false,
    };
    let t0 = now_ms();
    let tally = monte_carlo::run_all(&prepared, &config);
    let elapsed_s = (now_ms() - t0) / 1000.0;
    assert_eq!(tally.runs + tally.invalid_runs, 20_000);
    console_log!(
        "BENCH wasm monte carlo: {} races in {elapsed_s:.3} s = {:.0} races/s (20 cars, 70 laps, random on; after a \
         2,000-race warm-up)",
        config.runs,
        f64::from(config.runs) / elapsed_s
    );

    let car = model.driver("HAM").unwrap();
    let search_config = SearchConfig {
        runs_per_plan: 2_000,
        max_stops: 2,
        finalists_per_stop_count: 15,
        ..SearchConfig::for_car(car, 1)
    };
    let t0 = now_ms();
    let report = search::search(&model, &plans, None, &search_config).unwrap();
    let elapsed_s = (now_ms() - t0) / 1000.0;
    assert!(!report.ranked.is_empty());
    console_log!(
        "BENCH wasm strategy refresh: {} plans screened, {} evaluated x {} runs (+ window) in {elapsed_s:.2} s",
        report.plans_screened,
        report.ranked.len(),
        search_config.runs_per_plan
    );
}
