//! The Monte Carlo strategy simulator: a lap-by-lap full-field race model at TUMFTM's level of detail, run
//! thousands of times per second with seeded per-chunk random streams, a strategy search and what-ifs.
//!
//! # Layout
//! - [`model`]: [`model::RaceModel`], every parameter of a race.
//! - [`lapsim`]: one race, lap by lap, for the whole field; deterministic or with a random stream.
//! - [`monte_carlo`]: chunked, seeded Monte Carlo over races and its per-driver report.
//! - [`search`]: strategy search (1–3 stops), pit window, what-if and undercut chances for one car.
//! - [`rng`]: per-chunk random streams and normal deviates, the same bits on every target.
//! - [`calibrate`]: a [`model::RaceModel`] fitted to a real race's own laps, and its real state at any lap.
//! - [`live`]: the live session (state and lap history) as the simulator's inputs, by the same calibration.
//! - [`tumftm`]: TUMFTM race-simulation parameter files (contents in), read as is into a [`model::RaceModel`].

pub mod calibrate;
pub mod lapsim;
pub mod live;
pub mod model;
pub mod monte_carlo;
pub mod rng;
pub mod search;
pub mod tumftm;

#[cfg(test)]
mod tests;
