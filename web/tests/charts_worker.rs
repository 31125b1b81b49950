//! The Charts view's jobs drawn in a dedicated Web Worker, where the app's strategy workers draw them: no `window`,
//! no DOM. (In wasm, plotters measures text with the page's DOM; `boxbox_charts::SvgBackend` does without, and this
//! test fails if a chart ever needs the DOM again.)
// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_arch = "wasm32")]

use boxbox_charts::{Colour, LapTimeChart, Series, Stint, StintChart, StintRow, Tyre};
use boxbox_web::view_model::charts::{Chart, ChartJob};
use boxbox_web::worker_protocol::{Answer, CHART_GENERATION, Job, Request, Response, handle};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

fn draw(chart: Chart) -> String {
    let request = Request {
        id: 1,
        generation: CHART_GENERATION,
        job: Job::Chart(ChartJob {
            width_px: 360,
            height_px: 320,
            chart,
        }),
    };
    let text = handle(&serde_json::to_string(&request).unwrap(), || 0.0);
    let response: Response = serde_json::from_str(&text).unwrap();
    match response.result {
        Ok(Answer::Svg(svg)) => svg,
        other => panic!("no SVG: {other:?}"),
    }
}

#[wasm_bindgen_test]
fn charts_are_drawn_in_a_worker_without_a_dom() {
    assert!(web_sys::window().is_none(), "this runs in a worker");
    let laps = draw(Chart::LapTimes(LapTimeChart {
        title: "Lap times · HAM".to_owned(),
        series: vec![Series {
            label: "HAM".to_owned(),
            colour: Colour::rgb(0, 210, 190),
            dashed: false,
            points: (1..=12).map(|l| (l, 92.0 - 0.1 * f64::from(l))).collect(),
        }],
    }));
    assert!(laps.starts_with("<svg width=\"360\""), "{laps}");
    assert!(
        laps.contains("Lap times · HAM") && laps.contains("<polyline"),
        "{laps}"
    );
    let stints = draw(Chart::Stints(StintChart {
        title: "Tyre stints".to_owned(),
        total_laps: 30,
        rows: vec![
            StintRow {
                label: "VER".to_owned(),
                stints: vec![
                    Stint {
                        first_lap: 1,
                        last_lap: 12,
                        tyre: Tyre::Soft,
                        predicted: false,
                    },
                    Stint {
                        first_lap: 13,
                        last_lap: 30,
                        tyre: Tyre::Hard,
                        predicted: true,
                    },
                ],
                pit_laps: vec![12],
                retired_after_lap: None,
            };
            2
        ],
    }));
    assert!(
        stints.contains("VER") && stints.contains("predicted"),
        "{stints}"
    );
}
