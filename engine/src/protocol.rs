//! The messages the relay sends to browsers over `/ws`, as JSON text frames.
//!
//! On connect a client receives one [`ServerMessage::Snapshot`] (the current state plus the lap history, so its
//! twins start with everything the relay knows), then a [`ServerMessage::Update`] per tick. Both sides use these
//! types, so the relay and the web app cannot drift apart.

use serde::{Deserialize, Serialize};

use crate::wire::{LapRecord, RaceState};

/// A message from the relay to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Everything a client needs to start: sent first on every connection.
    Snapshot {
        /// The current state.
        state: RaceState,
        /// Every lap completed so far, in completion order.
        history: Vec<LapRecord>,
    },
    /// The state at a later instant.
    Update {
        /// The new state.
        state: RaceState,
    },
}

impl ServerMessage {
    /// The state this message carries.
    pub fn state(&self) -> &RaceState {
        match self {
            ServerMessage::Snapshot { state, .. } | ServerMessage::Update { state } => state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{RaceSim, SimConfig};

    #[test]
    fn messages_round_trip_through_json_with_their_type_tag() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 9,
            total_laps: 3,
        });
        sim.advance_to(150.0);
        let msg = ServerMessage::Update { state: sim.state() };
        let json = serde_json::to_string(&msg).unwrap();
        assert!(
            json.starts_with(r#"{"type":"update","state":{"schema_version":1,"#),
            "{}",
            &json[..80]
        );
        let back: ServerMessage = serde_json::from_str(&json).unwrap();
        assert_eq!(back, msg);
    }
}
