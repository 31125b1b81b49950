//! A benchmark hook: a strategy search timed over the page's worker pool, exactly as the desk spreads it
//! ([`crate::split_search`]), for the end-to-end benchmark and BENCHMARKS.md
//! (`window.wasmBindings.benchmark_strategy_search(...)`).

use boxbox_engine::strategy::search::SearchConfig;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::{JsValue, wasm_bindgen};

use crate::pool::{self, PoolError};
use crate::split_search;
use crate::worker_protocol::{Answer, CHART_GENERATION, Job, Opaque};

/// Times a search for model driver `car` on `inputs` (a `DeskInputs` as JSON) with `runs_per_plan` races per
/// plan, up to `max_stops` stops and `finalists` plans per stop count through the Monte Carlo, on the page's pool
/// (`?workers=K`), then calls `done` with JSON: `elapsed_ms` (from the first job of the search to its report, the
/// inputs' check excluded), `workers`, `plans_screened`, `ranked` (plans) and `report`, one line with each ranked
/// plan's label, mean position and spread (their bits) and the window, so that two runs can be compared; or with
/// `error: ` and the message. (A callback rather than a promise: an exported `async fn` brings its own promise glue
/// into the bundle.)
#[wasm_bindgen]
pub fn benchmark_strategy_search(
    inputs: String,
    car: u32,
    runs_per_plan: u32,
    max_stops: u32,
    finalists: u32,
    done: js_sys::Function,
) {
    spawn_local(async move {
        let answer = match timed_search(inputs, car, runs_per_plan, max_stops, finalists).await {
            Ok(json) => json,
            Err(e) => format!("error: {e}"),
        };
        // Nothing to tell anyone if the page's callback throws.
        let _ = done.call1(&JsValue::NULL, &JsValue::from_str(&answer));
    });
}

async fn timed_search(
    inputs: String,
    car: u32,
    runs_per_plan: u32,
    max_stops: u32,
    finalists: u32,
) -> Result<String, PoolError> {
    let pool = pool::shared()?;
    let workers = pool.size();
    // Not superseded by the desk's runs: the generation chart jobs use.
    let generation = CHART_GENERATION;
    let opaque = Opaque::from_json(&inputs).map_err(PoolError::Job)?;
    let Answer::Inputs(page) = pool.run(generation, &Job::Pinned(opaque)).await?.answer else {
        return Err(PoolError::Job(
            "the inputs job answered something else".into(),
        ));
    };
    let config = SearchConfig {
        runs_per_plan,
        max_stops,
        finalists_per_stop_count: finalists as usize,
        ..SearchConfig::for_car(car as usize, 1)
    };
    let run = pool.runner(generation);
    let t0 = js_sys::Date::now();
    let report = split_search::search(&run, &page, &config, workers).await?;
    let elapsed_ms = js_sys::Date::now() - t0;
    Ok(format!(
        r#"{{"elapsed_ms":{elapsed_ms},"workers":{workers},"plans_screened":{},"ranked":{},"report":"{}"}}"#,
        report.plans_screened,
        report.ranked.len(),
        split_search::summary(&report).replace('"', "'")
    ))
}
