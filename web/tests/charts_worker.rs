//! The Charts view's jobs drawn in a dedicated Web Worker, where the app's strategy workers draw them: no `window`,
//! no DOM, plotters on an `OffscreenCanvas` (`boxbox_charts::canvas`). Checks the answer's texts, the bitmap's size
//! (the device pixel ratio times the chart's) and its pixels (the series' colour is on it), and that a chart too
//! small to draw answers an error and no pixels.
// Test helpers outside #[test] functions may panic too: a panic is a test failure here.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_arch = "wasm32")]

use boxbox_charts::{Colour, LapTimeChart, Series, Stint, StintChart, StintRow, Tyre};
use boxbox_web::view_model::charts::{Chart, ChartJob};
use boxbox_web::worker_protocol::{Answer, CHART_GENERATION, Job, Request, Response, handle};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{ImageBitmap, OffscreenCanvas, OffscreenCanvasRenderingContext2d};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// The chart drawn `width_px` × 320 CSS pixels at twice as many device pixels: its texts and pixels, or the error.
fn draw_at(chart: Chart, width_px: u32) -> Result<(Vec<String>, ImageBitmap), String> {
    let request = Request {
        id: 1,
        generation: CHART_GENERATION,
        job: Job::Chart {
            chart: ChartJob {
                width_px,
                height_px: 320,
                chart,
            },
            scale: 2.0,
        },
    };
    let (text, pixels) = handle(&serde_json::to_string(&request).unwrap(), || 0.0);
    let response: Response = serde_json::from_str(&text).unwrap();
    match (response.result, pixels) {
        (Ok(Answer::Chart { texts }), Some(pixels)) => Ok((texts, pixels)),
        (Err(e), None) => Err(e),
        (other, pixels) => panic!("{other:?} with pixels: {}", pixels.is_some()),
    }
}

fn draw(chart: Chart) -> (Vec<String>, ImageBitmap) {
    draw_at(chart, 360).unwrap()
}

/// The bitmap's RGBA bytes.
fn rgba(pixels: &ImageBitmap) -> Vec<u8> {
    let canvas = OffscreenCanvas::new(pixels.width(), pixels.height()).unwrap();
    let context: OffscreenCanvasRenderingContext2d = canvas
        .get_context("2d")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    context
        .draw_image_with_image_bitmap(pixels, 0.0, 0.0)
        .unwrap();
    context
        .get_image_data(
            0.0,
            0.0,
            f64::from(pixels.width()),
            f64::from(pixels.height()),
        )
        .unwrap()
        .data()
        .0
}

#[wasm_bindgen_test]
fn charts_are_drawn_on_a_canvas_in_a_worker_without_a_dom() {
    assert!(web_sys::window().is_none(), "this runs in a worker");
    let (laps, pixels) = draw(Chart::LapTimes(LapTimeChart {
        title: "Lap times · HAM".to_owned(),
        series: vec![Series {
            label: "HAM".to_owned(),
            colour: Colour::rgb(0, 210, 190),
            dashed: false,
            points: (1..=12).map(|l| (l, 92.0 - 0.1 * f64::from(l))).collect(),
        }],
    }));
    assert!(laps.iter().any(|t| t == "Lap times · HAM"), "{laps:?}");
    assert!(laps.iter().any(|t| t == "HAM"), "the legend: {laps:?}");
    assert_eq!((pixels.width(), pixels.height()), (720, 640));
    // The series' line is drawn in its colour: some pixels are exactly it.
    let bytes = rgba(&pixels);
    let line = bytes
        .chunks_exact(4)
        .filter(|p| p[..3] == [0, 210, 190])
        .count();
    assert!(line > 50, "{line} pixels of the series' colour");
    let (stints, _) = draw(Chart::Stints(StintChart {
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
        stints.iter().any(|t| t == "VER") && stints.iter().any(|t| t.contains("predicted")),
        "{stints:?}"
    );
    let tiny = draw_at(
        Chart::LapTimes(LapTimeChart {
            title: "Lap times".to_owned(),
            series: Vec::new(),
        }),
        10,
    );
    assert!(
        matches!(&tiny, Err(e) if e.contains("too small")),
        "{tiny:?}"
    );
}
