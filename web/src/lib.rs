//! boxbox's pit wall in the browser: a Leptos client-side app fed by the relay's `/ws`, whose Car Twin runs here
//! in WASM on the streamed states.
//!
//! # Layout
//! - [`view_model`]: pure functions from engine types to what the screen shows (formatting, tower rows, the car
//!   panel and the Field panel). No Leptos, so it is tested natively.
//! - [`schedule`]: when the browser recomputes the twins' report (a lap or an event, else once a second). Pure.
//! - [`timeline`]: an offline replay's timeline: a pcap recording decoded once, played and sought by recording
//!   time (normalizer checkpoints, the lap history so far). Pure.
//! - [`worker_protocol`]: the strategy workers' requests and responses (JSON text), and the worker's side of it.
//!   Pure; the worker binary (`web/worker`) is a thin shell around [`worker_protocol::handle`].
//! - [`split_search`]: a strategy search spread over the workers (screen, finalists, the window's scan in
//!   batches), generic over how a job runs; the same report as one thread's. Pure.
//! - [`nats_protocol`]: the NATS client protocol the page speaks to a NATS server's WebSocket listener. Pure.
//! - [`relay_message`]: the relay's `/ws` messages read without serde's buffering (a smaller bundle). Pure.
//! - [`replay_protocol`]: the offline replay's worker protocol: commands in, a header and a relay message (snapshot
//!   or delta) out; [`replay_protocol::ReplaySession`] is the worker's side, playing a [`timeline`]. Pure.
//! - `live` (wasm only): the WebSocket feed with reconnect and backoff, as signals.
//! - `live` also runs the twins on the stream and recomputes their report on [`schedule`]'s cue.
//! - `nats_feed` (wasm only): the same feed through NATS WebSocket (`?nats=`), from a relay run with `--nats`.
//! - `pool` (wasm only): the pool of strategy Web Workers: a queue, futures for answers, a Monte Carlo split by
//!   chunk over the workers and merged, obsolete generations dropped.
//! - `render_timing` (wasm only): how long each state takes to render, and when the first was on screen, for
//!   `window.wasmBindings.render_timings()`.
//! - `replay` (wasm only): the offline replay: a recording or a race folder, from disk or `?replay=`/`?race=`,
//!   decoded and played in the replay worker (`replay_worker`, [`replay_protocol`]) into the live view's feed, with
//!   its controls; the relay's WebSocket stays closed.
//! - `replay_worker` (wasm only): the page's handle on the replay worker: one command at a time.
//! - `race_control` (wasm only): the race control feed (SC/VSC, stops, retirements, fastest laps) from
//!   [`view_model::race_control`], built only while it is open.
//! - `bench` (wasm only): a strategy search timed over the pool, for the end-to-end benchmark.
//! - `desk` (wasm only): the strategy desk component, fed by the pool.
//! - `locks` (wasm only): the desk's strategy locks (the car's lock, Lock and Unlock where the relay permits) from
//!   [`view_model::locks`].
//! - `charts` (wasm only): the Charts view: lap times, race trace, stints and finishing positions, drawn on an
//!   `OffscreenCanvas` by the pool's workers from [`view_model::charts`]' inputs and painted on the page's
//!   canvases (plotters is not in the app's bundle).
//! - `share` (wasm only): the page's token on every relay call, what the relay lets the page do
//!   (`GET /api/v1/whoami`), and the Share button.
//! - `wake_lock` (wasm only): the screen kept on while the feed is live.
//! - `app` (wasm only): the components: session bar, timing tower, car panel, Field panel, the tabs.

pub mod nats_protocol;
pub mod relay_message;
pub mod replay_protocol;
pub mod schedule;
pub mod split_search;
pub mod timeline;
pub mod view_model;
pub mod worker_protocol;

// --- browser only ------------------------------------------------------------------------------------------------
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod bench;
#[cfg(target_arch = "wasm32")]
mod charts;
#[cfg(target_arch = "wasm32")]
mod desk;
#[cfg(target_arch = "wasm32")]
pub mod live;
#[cfg(target_arch = "wasm32")]
mod locks;
#[cfg(target_arch = "wasm32")]
mod nats_feed;
#[cfg(target_arch = "wasm32")]
pub mod pool;
#[cfg(target_arch = "wasm32")]
mod race_control;
#[cfg(target_arch = "wasm32")]
mod render_timing;
#[cfg(target_arch = "wasm32")]
pub mod replay;
#[cfg(target_arch = "wasm32")]
mod replay_worker;
#[cfg(target_arch = "wasm32")]
pub mod share;
#[cfg(target_arch = "wasm32")]
mod wake_lock;

#[cfg(target_arch = "wasm32")]
pub use app::{App, PitWall};
#[cfg(target_arch = "wasm32")]
pub use bench::benchmark_strategy_search;
#[cfg(target_arch = "wasm32")]
pub use desk::pin_strategy_inputs;
#[cfg(target_arch = "wasm32")]
pub use render_timing::render_timings;
