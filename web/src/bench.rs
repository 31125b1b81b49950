//! A benchmark hook: a strategy search timed over the page's worker pool, exactly as the desk spreads it
//! ([`crate::split_search`]), for the end-to-end benchmark and BENCHMARKS.md
//! (`window.wasmBindings.benchmark_strategy_search(...)`).

use boxbox_engine::strategy::search::SearchConfig;
use wasm_bindgen::prelude::{JsValue, wasm_bindgen};

use crate::pool::{self, PoolError};
use crate::split_search;
use crate::worker_protocol::{Answer, CHART_GENERATION, Job, Opaque};

/// Times a search for model driver `car` on `inputs` (a `DeskInputs` as JSON) with `runs_per_plan` races per
/// plan, up to `max_stops` stops and `finalists` plans per stop count through the Monte Carlo, on the page's pool
/// (`?workers=K`). Resolves with JSON: `elapsed_ms` (from posting the first job to the report, the inputs' check
/// excluded), `workers`, `plans_screened`, `ranked` (plans) and `report`, a line per ranked plan and the window, so that
/// two runs can be compared.
///
/// # Errors
/// The pool's or the engine's message, as a JS string.
#[wasm_bindgen]
pub async fn benchmark_strategy_search(
    inputs: String,
    car: u32,
    runs_per_plan: u32,
    max_stops: u32,
    finalists: u32,
) -> Result<JsValue, JsValue> {
    let error = |e: PoolError| JsValue::from_str(&e.to_string());
    let pool = pool::shared().map_err(error)?;
    let workers = pool.size();
    // Not superseded by the desk's runs: the generation chart jobs use.
    let generation = CHART_GENERATION;
    let opaque = Opaque::from_json(&inputs).map_err(|e| JsValue::from_str(&e))?;
    let page = match pool.run(generation, &Job::Pinned(opaque)).await {
        Ok(done) => match done.answer {
            Answer::Inputs(page) => *page,
            _ => return Err(JsValue::from_str("the inputs job answered something else")),
        },
        Err(e) => return Err(error(e)),
    };
    let config = SearchConfig {
        runs_per_plan,
        max_stops,
        finalists_per_stop_count: finalists as usize,
        ..SearchConfig::for_car(car as usize, 1)
    };
    let run = |job| {
        let done = pool.run(generation, &job);
        async move { done.await.map(|d| d.answer) }
    };
    let t0 = js_sys::Date::now();
    let report = split_search::search(run, &page, &config, workers)
        .await
        .map_err(error)?;
    let elapsed_ms = js_sys::Date::now() - t0;
    let summary = split_search::summary(&report);
    let json = format!(
        r#"{{"elapsed_ms":{elapsed_ms},"workers":{workers},"plans_screened":{},"ranked":{},"report":"{}"}}"#,
        report.plans_screened,
        report.ranked.len(),
        summary.replace('"', "'")
    );
    Ok(JsValue::from_str(&json))
}
