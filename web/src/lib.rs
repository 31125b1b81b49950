//! boxbox's pit wall in the browser: a Leptos client-side app fed by the relay's `/ws`, whose Car Twin runs here
//! in WASM on the streamed states.
//!
//! # Layout
//! - [`view_model`]: pure functions from engine types to what the screen shows (formatting, rows, colours). No
//!   Leptos, so it is tested natively.
//! - `live` (wasm only): the WebSocket feed with reconnect and backoff, as signals.
//! - `app` (wasm only): the components: session bar, timing tower, car panel.

pub mod view_model;

// --- browser only ------------------------------------------------------------------------------------------------
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
pub mod live;

#[cfg(target_arch = "wasm32")]
pub use app::{App, PitWall};
