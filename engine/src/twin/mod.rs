//! The twins: the Car Twin (every car's tyres, fuel, energy and pit window), the Field Twin (rivals' pace, stops,
//! rejoins and undercut threats), driver fingerprints, consistency checks and the alerts they raise.
//!
//! The models are pure functions of a [`RaceState`](crate::wire::RaceState) and the lap history
//! ([`LapRecord`](crate::wire::LapRecord)s). [`Twins`] wraps them for a live stream: it books laps, learns the
//! teams' pit tendencies, notices the events that make a strategy stale, and assembles a [`TwinReport`].

pub mod alert;
pub mod car;
pub mod consistency;
pub mod explain;
pub mod field;
pub mod fingerprint;
pub mod laps;
pub mod pace;
pub mod pit;
pub mod session;
pub mod weather;

pub use car::{CarTwin, PitWindow, PitWindowStatus, Rate, car_twin, field_twins};
pub use field::{FieldModels, FieldTwin, RivalTwin, field_twin};
pub use session::{TwinReport, Twins};

use pace::PaceParams;
use pit::PitParams;

/// Tuning of the twins.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinParams {
    /// Wear at which a tyre is considered finished, in percent.
    pub wear_limit_pct: f64,
    /// How many recent laps the wear, fuel and ERS rates average over.
    pub window_laps: usize,
    /// Lap-time cost of fuel, in s per kg.
    pub fuel_sensitivity_s_per_kg: f64,
    /// Fuel at the start when the source does not measure it, in kg.
    pub start_fuel_kg: f64,
    /// How many laps ahead lap times are predicted.
    pub predict_laps: u32,
    /// Lap-time loss on an out-lap from cold tyres, in seconds.
    pub cold_tyre_loss_s: f64,
    /// Standard deviation of a pit stop's standstill, in seconds.
    pub pit_stop_sigma_s: f64,
    /// Margin a pass through the stops needs on top of the gap, in seconds.
    pub min_pass_margin_s: f64,
    /// The lap-time models.
    pub pace: PaceParams,
    /// The pit predictions.
    pub pit: PitParams,
}

impl TwinParams {
    /// The defaults used by the pit wall: 70 % wear limit (where the simulated and real cliffs start), 8-lap
    /// windows, 0.03 s/kg and 110 kg of fuel (TUMFTM's 2019 range and the regulation limit), 1 s cold-tyre loss
    /// (`t_add_coldtires`).
    pub const PIT_WALL: TwinParams = TwinParams {
        wear_limit_pct: 70.0,
        window_laps: 8,
        fuel_sensitivity_s_per_kg: 0.03,
        start_fuel_kg: 110.0,
        predict_laps: 5,
        cold_tyre_loss_s: 1.0,
        pit_stop_sigma_s: 0.8,
        min_pass_margin_s: 0.3,
        pace: PaceParams::DEFAULT,
        pit: PitParams::DEFAULT,
    };
}

#[cfg(test)]
mod tests;
