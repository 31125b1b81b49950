//! The twins: the Car Twin (every car's tyres, fuel, energy and pit window), the Field Twin (rivals' pace, stops,
//! rejoins and undercut threats), driver fingerprints, consistency checks and the alerts they raise.

pub mod alert;
pub mod car;
pub mod consistency;
pub mod fingerprint;

pub use car::{CarTwin, PitWindow, PitWindowStatus, Rate, TwinParams, car_twin, field_twins};
