//! boxbox's pit wall in the browser: a Leptos client-side app fed by the relay's `/ws`, whose Car Twin runs here
//! in WASM on the streamed states.
//!
//! # Layout
//! - [`view_model`]: pure functions from engine types to what the screen shows (formatting, tower rows, the car
//!   panel and the Field panel). No Leptos, so it is tested natively.
//! - [`schedule`]: when the browser recomputes the twins' report (a lap or an event, else once a second). Pure.
//! - `live` (wasm only): the WebSocket feed with reconnect and backoff, as signals.
//! - `live` also runs the twins on the stream and recomputes their report on [`schedule`]'s cue.
//! - `app` (wasm only): the components: session bar, timing tower, car panel, Field panel.

pub mod schedule;
pub mod view_model;

// --- browser only ------------------------------------------------------------------------------------------------
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
pub mod live;

#[cfg(target_arch = "wasm32")]
pub use app::{App, PitWall};
