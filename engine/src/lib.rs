//! boxbox's domain core: the race state model, the race simulator and the Car Twin, as pure functions of their
//! inputs.
//!
//! **Architecture invariant:** this crate does no IO and never reads the clock; time, seeds and bytes are
//! arguments. It compiles natively and to `wasm32-unknown-unknown` and gives bit-identical results on both.
//!
//! # Layout
//! - [`wire`]: the race state model (schema version 1) that sources produce and consumers read, as JSON.
//! - [`backoff`]: the reconnect policy (exponential backoff with jitter) of the browser and the relay.
//! - [`calibration`]: the simulator's parameters (2019 Bahrain Grand Prix) and where each number comes from.
//! - [`sim`]: the seeded full-field race simulator.
//! - [`history`]: per-lap records extracted from a stream of states, for any source.
//! - [`telemetry`]: EA F1 23/24/25 UDP packet decoding: bytes in, typed packets out.
//! - [`twin`]: the first Car Twin: tyre wear rates, fuel burn and the pit window, per car.
//! - [`digest`]: digests of a seeded race and of its twins, for the native-vs-wasm determinism fixtures.
//! - [`feed`]: JSON telemetry feeds (WebSocket or HTTP ingest): parsing with error paths, normalization.
//! - [`recording`]: session recordings as standard libpcap files (write records, read whole files).
//! - [`protocol`]: the messages the relay sends to browsers over WebSocket.
//! - [`race`]: real races from FastF1 and f1db files (contents in, no IO), replayed as a sequence of states.
//! - [`strategy`]: the Monte Carlo strategy simulator: race model, simulation, strategy search, what-if.
//! - [`sorting`]: stable sorts through one instantiation of the standard sort (the browser app's size).
#![warn(missing_docs)]

pub mod backoff;
pub mod backtest;
pub mod calibration;
pub mod digest;
pub mod feed;
pub mod history;
pub mod protocol;
pub mod race;
pub mod recording;
pub mod sim;
pub mod sorting;
pub mod strategy;
pub mod telemetry;
pub mod twin;
pub mod wire;
