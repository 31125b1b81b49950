//! The Charts view: lap times (the selected car and its rival over a faint field), the race trace, every car's tyre
//! stints (past and predicted), the selected car's tyre degradation by stint, its sectors and its last lap's
//! telemetry (speed, throttle, brake, gear) against its rival's, and the strategy desk's latest finishing-position
//! distribution, drawn by plotters on an `OffscreenCanvas` in the strategy workers ([`crate::pool`]) and painted
//! onto the page's canvases as `ImageBitmap`s; each chart's texts are its canvas's fallback content.
//!
//! The page maps the twins' lap history to the charts' inputs ([`crate::view_model::charts`]) and never draws
//! itself: plotters runs in a worker, so it is not in the app's bundle. The charts are redrawn when the leader
//! completes a lap, another car is picked, the container's width changes or the desk has a new Monte Carlo (the
//! telemetry chart: when the selected car or its rival completes a lap); never on every state. Each chart has at
//! most one job in flight: what changes meanwhile waits, and only its latest version is drawn. The view is built
//! only while its tab is shown, so a hidden Charts view asks the workers for nothing.

use std::sync::Arc;

use boxbox_engine::strategy::monte_carlo::McReport;
use leptos::html::{Canvas, Div};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageBitmap};

use crate::live::LiveFeed;
use crate::pool::{self, Done, PoolError, close_pixels};
use crate::view_model::charts::{self as vm, Baseline, ChartJob};
use crate::worker_protocol::{Answer, CHART_GENERATION, Job};

/// The strategy desk's latest baseline Monte Carlo, the laps completed when it started and the feed's session it
/// was run for ([`LiveFeed::session`]), shared with the Charts view (provided by the pit wall as context; the desk
/// sets it).
#[derive(Clone, Copy, Debug)]
pub struct LatestBaseline(pub RwSignal<Option<(Arc<McReport>, u32, u64)>>);

impl LatestBaseline {
    /// No Monte Carlo yet.
    pub fn new() -> Self {
        LatestBaseline(RwSignal::new(None))
    }
}

impl Default for LatestBaseline {
    fn default() -> Self {
        LatestBaseline::new()
    }
}

/// A chart as a worker drew it (its pixels wait in [`Slot::pixels`] until painted).
#[derive(Clone, Debug, PartialEq)]
struct Drawn {
    /// Its width in CSS pixels.
    width_px: u32,
    /// Every text it drew, for the canvas's fallback content.
    texts: Vec<String>,
}

/// One chart on the page: its drawing (or why there is none) and the job that is drawing it.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// The latest drawing, or the error.
    drawn: RwSignal<Option<Result<Drawn, String>>>,
    /// The latest drawing's pixels until they are painted, then closed: a bitmap is the chart's size times the
    /// pixel ratio squared, and the canvas keeps its own copy. Local: an `ImageBitmap` stays on the page's thread.
    pixels: StoredValue<Option<ImageBitmap>, LocalStorage>,
    /// The job last sent: an equal job is not sent again.
    sent: StoredValue<Option<ChartJob>>,
    /// A job is in a worker.
    busy: StoredValue<bool>,
    /// The job to send when the one in flight is done (only the latest is kept).
    next: StoredValue<Option<ChartJob>>,
}

impl Slot {
    fn new() -> Self {
        Slot {
            drawn: RwSignal::new(None),
            pixels: StoredValue::new_local(None),
            sent: StoredValue::new(None),
            busy: StoredValue::new(false),
            next: StoredValue::new(None),
        }
    }

    /// Asks for `job` to be drawn, unless it is what was last sent.
    fn submit(self, job: ChartJob) {
        if self
            .sent
            .try_with_value(|sent| sent.as_ref() == Some(&job))
            .unwrap_or(true)
        {
            return;
        }
        if self.busy.try_get_value().unwrap_or(true) {
            self.next.set_value(Some(job));
            return;
        }
        self.send(job);
    }

    fn send(self, job: ChartJob) {
        let pool = match pool::shared() {
            Ok(pool) => pool,
            Err(e) => {
                self.drawn.set(Some(Err(e.to_string())));
                return;
            }
        };
        self.sent.set_value(Some(job.clone()));
        self.busy.set_value(true);
        let width_px = job.width_px.min(vm::MAX_SIDE_PX);
        // Sharp on a tablet's screen: the canvas has as many pixels as the display gives the chart.
        let scale = window().device_pixel_ratio();
        spawn_local(async move {
            let result = pool
                .run(CHART_GENERATION, &Job::Chart { chart: job, scale })
                .await;
            let (drawn, pixels) = match result {
                Ok(Done {
                    answer: Answer::Chart { texts },
                    pixels: Some(pixels),
                    ..
                }) => (Ok(Drawn { width_px, texts }), Some(pixels)),
                Ok(done) => {
                    close_pixels(done.pixels);
                    (Err("the worker answered something else".to_owned()), None)
                }
                Err(PoolError::Obsolete) => (Err(PoolError::Obsolete.to_string()), None),
                Err(e) => (Err(e.to_string()), None),
            };
            if drawn.is_err() {
                // Let the same job be asked for again.
                let _ = self.sent.try_set_value(None);
            }
            // The view may be gone (its tab closed): then nothing is left to paint, update or send.
            let kept = pixels.clone();
            let Some(unpainted) = self.pixels.try_update_value(|p| std::mem::replace(p, kept))
            else {
                close_pixels(pixels);
                return;
            };
            // A bitmap never painted goes now, not when the garbage collector comes by.
            close_pixels(unpainted);
            if self.drawn.try_set(Some(drawn)).is_some() {
                return;
            }
            let _ = self.busy.try_set_value(false);
            if let Some(Some(next)) = self.next.try_update_value(Option::take) {
                self.submit(next);
            }
        });
    }
}

/// The Charts view for the selected car.
#[component]
pub fn ChartsView(
    /// Where the data comes from.
    feed: LiveFeed,
    /// The selected car (highlighted in the lap-time chart, with the car ahead of it).
    car: Memo<Option<u8>>,
) -> impl IntoView {
    let baseline = use_context::<LatestBaseline>();
    let body = NodeRef::<Div>::new();
    let width = RwSignal::new(0u32);
    let measure = move || {
        if let Some(el) = body.get_untracked() {
            width.set(u32::try_from(el.client_width()).unwrap_or(0));
        }
    };
    // Reaching outside the graph: the container's width, once mounted and on every window resize.
    Effect::new(move |_| {
        if body.get().is_some() {
            measure();
        }
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());

    // Once per lap of the leader (or a restart of the twins), not per state: read when the twins' report changes,
    // which is queued just after the state that completed the lap, so the charts use the report of that lap.
    let lap = Memo::new(move |_| {
        feed.report.track();
        let lap = feed
            .state
            .with_untracked(|s| s.as_ref().map(|s| s.session.leader_lap));
        (feed.epoch(), lap)
    });
    let [
        laps,
        trace,
        stints,
        degradation,
        sectors,
        telemetry,
        positions,
    ] = [(); 7].map(|()| Slot::new());
    Effect::new(move |_| {
        lap.track();
        let car = car.get();
        let width = width.get();
        // Another session's Monte Carlo (a source switch, a replay opened) is not this race's.
        let session = feed.session();
        let mc = baseline
            .and_then(|b| b.0.get())
            .filter(|(_, _, of)| *of == session);
        if width == 0 {
            return;
        }
        let jobs = feed.state.with_untracked(|state| {
            let state = state.as_ref()?;
            feed.report.with_untracked(|report| {
                feed.with_records(|records| {
                    vm::chart_jobs(
                        state,
                        records,
                        report.as_deref().map(|r| &r.field),
                        car,
                        mc.as_ref().map(|(report, from_lap, _)| Baseline {
                            report,
                            from_lap: *from_lap,
                        }),
                        width,
                    )
                })
            })
        });
        let Some(jobs) = jobs else {
            return;
        };
        laps.submit(jobs.lap_times);
        trace.submit(jobs.race_trace);
        stints.submit(jobs.stints);
        degradation.submit(jobs.degradation);
        sectors.submit(jobs.sectors);
        if let Some(job) = jobs.positions {
            positions.submit(job);
        }
    });
    // The telemetry chart: when the selected car or its rival has a new complete lap.
    let traced = Memo::new(move |_| {
        let car = car.get();
        feed.state.with(|state| {
            let state = state.as_ref()?;
            feed.with_traces(|traces| vm::lap_trace_key(state, traces, car))
        })
    });
    Effect::new(move |_| {
        traced.track();
        let (car, width) = (car.get(), width.get());
        if width == 0 {
            return;
        }
        let job = feed.state.with_untracked(|state| {
            let state = state.as_ref()?;
            feed.with_traces(|traces| vm::lap_trace_job(state, traces, car, width))
        });
        if let Some(job) = job {
            telemetry.submit(job);
        }
    });
    let has_baseline = move || baseline.is_some_and(|b| b.0.with(Option::is_some));

    view! {
        <section class="charts-panel" aria-label="Charts" data-testid="charts-panel">
            <div class="twin-note">"Drawn in a Web Worker from this session's laps · redrawn once a lap"</div>
            <div class="charts-body" node_ref=body>
                {chart_figure(laps, "chart-lap-times", "Lap times per driver")}
                {chart_figure(trace, "chart-race-trace", "Gap to the leader per lap")}
                {chart_figure(stints, "chart-stints", "Tyre stints of every car, past and predicted")}
                {chart_figure(
                    degradation,
                    "chart-degradation",
                    "Tyre degradation by stint of the selected car",
                )}
                {chart_figure(sectors, "chart-sectors", "Sector times of the selected car against its rival")}
                {chart_figure(
                    telemetry,
                    "chart-telemetry",
                    "Speed, throttle, brake and gear over the last lap, selected car and rival",
                )}
                <Show
                    when=has_baseline
                    fallback=|| view! {
                        <p class="waiting" data-testid="chart-positions-waiting">
                            "Finishing positions: the Strategy tab's Monte Carlo shows here once it has run."
                        </p>
                    }
                >
                    {chart_figure(positions, "chart-positions", "Finishing-position distribution")}
                </Show>
            </div>
        </section>
    }
}

/// A chart's figure: the worker's drawing on a canvas (its texts as the canvas's fallback content), or a line
/// saying it is on its way or why it is missing.
fn chart_figure(slot: Slot, test_id: &'static str, label: &'static str) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    // Reaching outside the graph: the new pixels go onto the canvas once both are there, then are closed.
    Effect::new(move |_| {
        slot.drawn.track();
        let Some(canvas) = canvas.get() else {
            return;
        };
        if let Some(Some(pixels)) = slot.pixels.try_update_value(Option::take) {
            paint(&canvas, &pixels);
            close_pixels(Some(pixels));
        }
    });
    on_cleanup(move || close_pixels(slot.pixels.try_update_value(Option::take).flatten()));
    // CSS pixels wide, at most the container's; the height follows the bitmap's proportions.
    let style = move || {
        slot.drawn.with(|d| match d {
            Some(Ok(d)) => format!("width: {}px", d.width_px),
            _ => "display: none".to_owned(),
        })
    };
    // The texts the chart drew, as text: what a screen reader (and the tests) read.
    let texts = move || {
        slot.drawn.with(|d| match d {
            Some(Ok(d)) => d.texts.join(" · "),
            _ => String::new(),
        })
    };
    let note = move || {
        slot.drawn.with(|s| match s {
            None => Some("drawing…".to_owned()),
            Some(Err(e)) => Some(format!("cannot draw this chart: {e}")),
            Some(Ok(_)) => None,
        })
    };
    view! {
        // A figure, not `role="img"`: the canvas's fallback texts stay readable to a screen reader.
        <figure class="chart" data-testid=test_id aria-label=label>
            // Its size is the bitmap's, set when painted (`paint`).
            <canvas class="chart-canvas" node_ref=canvas style=style>
                {texts}
            </canvas>
            <figcaption class="dim">{note}</figcaption>
        </figure>
    }
}

/// Puts `pixels` on `canvas`, sized to them (which also clears it).
fn paint(canvas: &HtmlCanvasElement, pixels: &ImageBitmap) {
    let context = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok());
    let Some(context) = context else {
        leptos::logging::warn!("the chart's canvas has no 2d context");
        return;
    };
    canvas.set_width(pixels.width());
    canvas.set_height(pixels.height());
    if let Err(e) = context.draw_image_with_image_bitmap(pixels, 0.0, 0.0) {
        leptos::logging::warn!("cannot paint a chart: {e:?}");
    }
}
