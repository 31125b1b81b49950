//! How long the page takes to put a state on screen: from [`crate::live::LiveFeed`] setting it to the end of the
//! render effects it triggered (a task queued behind them on wasm-bindgen's executor, which runs Leptos' effects in
//! order), and when the first state was on screen (milliseconds since navigation, `performance.now()`). This is
//! the page's own work (view models, DOM updates), not the browser's layout and paint that follow. The twins'
//! report, recomputed in a task of its own after a state's render (at most once a second, or after a lap or an
//! event), is timed apart the same way: its computation and the renders it causes. Read from JavaScript by the
//! end-to-end test: `window.wasmBindings.render_timings()`.

use std::cell::RefCell;
use std::collections::VecDeque;

use wasm_bindgen::prelude::wasm_bindgen;

/// Updates kept, the newest.
const KEPT: usize = 2_000;

#[derive(Default)]
struct Timings {
    first_render_ms: Option<f64>,
    updates_ms: VecDeque<f64>,
    reports_ms: VecDeque<f64>,
}

thread_local! {
    static TIMINGS: RefCell<Timings> = RefCell::default();
}

fn now_ms() -> Option<f64> {
    Some(web_sys::window()?.performance()?.now())
}

/// Runs `set` (a state into the feed's signal) and times the rendering it causes.
pub fn timed(set: impl FnOnce()) {
    time(set, |t, ms| {
        t.first_render_ms.get_or_insert(ms.1);
        push(&mut t.updates_ms, ms.1 - ms.0);
    });
}

/// Runs `recompute` (the twins' report into the feed's signal) and times it with the rendering it causes.
pub fn timed_report(recompute: impl FnOnce()) {
    time(recompute, |t, ms| push(&mut t.reports_ms, ms.1 - ms.0));
}

/// Runs `f`, then `record`s `(start, end)`: end is when the effects `f` queued have run.
fn time(f: impl FnOnce(), record: impl FnOnce(&mut Timings, (f64, f64)) + 'static) {
    let Some(start) = now_ms() else {
        f();
        return;
    };
    f();
    // wasm-bindgen's executor itself, which Leptos' effects run on once the app is mounted: this task is queued
    // behind them. (Leptos' `spawn_local` refuses to run before an app initialised its executor, as in a test that
    // feeds a `LiveFeed` before mounting.)
    wasm_bindgen_futures::spawn_local(async move {
        let Some(end) = now_ms() else { return };
        TIMINGS.with_borrow_mut(|t| record(t, (start, end)));
    });
}

fn push(kept: &mut VecDeque<f64>, ms: f64) {
    if kept.len() == KEPT {
        kept.pop_front();
    }
    kept.push_back(ms);
}

/// `{"first_render_ms": …, "updates_ms": [...], "reports_ms": [...]}` as JSON: when the first state was on
/// screen, how long each of the last 2,000 states took to render, and each of the last 2,000 twin reports to
/// compute and render.
#[wasm_bindgen]
pub fn render_timings() -> String {
    /// A struct rather than `json!`: `serde_json::Value` stays out of the app's bundle.
    #[derive(serde::Serialize)]
    struct Out<'a> {
        first_render_ms: Option<f64>,
        updates_ms: &'a VecDeque<f64>,
        reports_ms: &'a VecDeque<f64>,
    }
    TIMINGS.with_borrow(|t| {
        serde_json::to_string(&Out {
            first_render_ms: t.first_render_ms,
            updates_ms: &t.updates_ms,
            reports_ms: &t.reports_ms,
        })
        .unwrap_or_default()
    })
}
