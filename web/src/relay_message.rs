//! Reading the relay's `/ws` messages on the page without serde's buffering: the same [`ServerMessage`] that
//! `serde_json::from_str` gives, for a fraction of the code.
//!
//! [`ServerMessage`] is an internally tagged enum (`"type"` beside the fields) and its delta is flattened, so its
//! derived `Deserialize` reads every message into serde's `Content` buffer first and then every wire type a second
//! time from there: a second copy of the `RaceState` decoder in the app's bundle. [`decode`] reads the tag, then the
//! same text straight into the variant's fields, so the wire types are decoded by one deserializer only.

use boxbox_engine::protocol::{ServerMessage, StateDelta, Subscription};
use boxbox_engine::wire::{LapRecord, RaceState};
use serde::Deserialize;
use serde::de::Error as _;

/// One message from the relay, as [`ServerMessage`]'s own `Deserialize` reads it.
///
/// # Errors
/// serde_json's error: not JSON, an unknown `type`, or fields that do not fit it.
pub fn decode(text: &str) -> Result<ServerMessage, serde_json::Error> {
    let Tag { kind } = serde_json::from_str(text)?;
    Ok(match kind.as_str() {
        "snapshot" => {
            let Snapshot {
                seq,
                state,
                history,
            } = serde_json::from_str(text)?;
            ServerMessage::Snapshot {
                seq,
                state,
                history,
            }
        }
        "delta" => {
            let Seq { seq } = serde_json::from_str(text)?;
            let delta: StateDelta = serde_json::from_str(text)?;
            ServerMessage::Delta { seq, delta }
        }
        "update" => {
            let Update { state } = serde_json::from_str(text)?;
            ServerMessage::Update { state }
        }
        "subscribed" => ServerMessage::Subscribed {
            subscription: serde_json::from_str::<Subscription>(text)?,
        },
        "delayed" => {
            let Delayed { seconds } = serde_json::from_str(text)?;
            ServerMessage::Delayed { seconds }
        }
        "pong" => {
            let Pong { id, seq } = serde_json::from_str(text)?;
            ServerMessage::Pong { id, seq }
        }
        "error" => {
            let Error { code, message } = serde_json::from_str(text)?;
            ServerMessage::Error { code, message }
        }
        other => {
            return Err(serde_json::Error::custom(format!(
                "unknown message type `{other}`"
            )));
        }
    })
}

#[derive(Deserialize)]
struct Tag {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Snapshot {
    seq: u64,
    state: RaceState,
    history: Vec<LapRecord>,
}

#[derive(Deserialize)]
struct Seq {
    seq: u64,
}

#[derive(Deserialize)]
struct Update {
    state: RaceState,
}

#[derive(Deserialize)]
struct Delayed {
    seconds: f64,
}

#[derive(Deserialize)]
struct Pong {
    #[serde(default)]
    id: Option<u64>,
    seq: u64,
}

#[derive(Deserialize)]
struct Error {
    code: String,
    message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::history::LapRecorder;
    use boxbox_engine::protocol::{Cars, Topic, diff};
    use boxbox_engine::sim::{RaceSim, SimConfig};

    /// `decode` gives what the derived `Deserialize` gives, for the text the relay sends.
    fn same(message: &ServerMessage) {
        let text = serde_json::to_string(message).expect("encodes");
        let derived: ServerMessage = serde_json::from_str(&text).expect("the derive reads it");
        assert_eq!(&derived, message);
        assert_eq!(decode(&text).expect("decodes"), derived, "{text}");
    }

    #[test]
    fn every_message_reads_as_the_derive_reads_it() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 5,
            total_laps: 12,
        });
        let mut recorder = LapRecorder::new();
        let mut t = 0.0;
        let mut prev = sim.state();
        let mut deltas = 0;
        while prev.cars.first().map_or(0, |c| c.lap) <= 3 {
            t += 7.0;
            sim.advance_to(t);
            let state = sim.state();
            recorder.observe(&state);
            if let Some(delta) = diff(&prev, &state) {
                same(&ServerMessage::Delta {
                    seq: deltas + 2,
                    delta,
                });
                deltas += 1;
            }
            prev = state;
        }
        assert!(deltas > 5, "{deltas} deltas");
        assert!(!recorder.records().is_empty());
        same(&ServerMessage::Snapshot {
            seq: 1,
            state: prev.clone(),
            history: recorder.records().to_vec(),
        });
        same(&ServerMessage::Update { state: prev });
        same(&ServerMessage::Subscribed {
            subscription: Subscription::all(),
        });
        same(&ServerMessage::Subscribed {
            subscription: Subscription {
                cars: Cars::Only([3, 7].into()),
                topics: [Topic::Timing].into(),
            },
        });
        same(&ServerMessage::Delayed { seconds: 12.5 });
        same(&ServerMessage::Pong {
            id: Some(4),
            seq: 9,
        });
        same(&ServerMessage::Pong { id: None, seq: 9 });
        same(&ServerMessage::Error {
            code: "invalid_delay".into(),
            message: "too long".into(),
        });
    }

    #[test]
    fn what_is_not_a_message_is_an_error() {
        assert!(decode("").is_err());
        assert!(decode("[1]").is_err());
        assert!(decode(r#"{"seq": 1}"#).is_err());
        assert!(decode(r#"{"type": "nonsense"}"#).is_err());
        assert!(decode(r#"{"type": "delta", "seq": 2}"#).is_err());
        assert!(decode(r#"{"type": "pong"}"#).is_err());
    }
}
