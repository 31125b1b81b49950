//! The `/ws` protocol between the relay and browsers: JSON text frames, both directions.
//!
//! On connect a client receives one [`ServerMessage::Snapshot`] (the current state plus the lap history, so its
//! twins start with everything the relay knows), then a [`ServerMessage::Delta`] per published state: only what
//! changed since the previous one ([`diff`]), which [`apply`] turns back into the exact state. Every published
//! state has a sequence number one higher than the last; a delta applies to the state of the number before it,
//! so a client that sees a gap asks for a snapshot ([`ClientMessage::Resync`]) and drops deltas until it has one.
//! [`Replica`] is that client logic. A client may narrow what it receives with [`ClientMessage::Subscribe`]
//! (cars and [`Topic`]s: deltas then carry only those), delay its feed ([`ClientMessage::Delay`]) and ping.
//!
//! Both sides use these types, so the relay and the web app cannot drift apart.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire::{
    CarState, Damage, DataSource, Driver, DriverStatus, LapRecord, PitStatus, RaceState,
    ResultStatus, SessionInfo, Stint, Team, TyreSet,
};

/// The longest delay a client may ask for, in seconds (a TV broadcast runs 5–60 s behind).
pub const MAX_DELAY_S: f64 = 120.0;

/// A message from the relay to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Everything a client needs to start: sent first on every connection, after a delay change, and again when
    /// the client fell behind, asked for one or a new session began.
    Snapshot {
        /// The sequence number of `state`: the next delta is `seq + 1`.
        seq: u64,
        /// The current state (always whole: every car and every topic, whatever the subscription).
        state: RaceState,
        /// Every lap completed so far, in completion order.
        history: Vec<LapRecord>,
    },
    /// What changed between the state numbered `seq - 1` and the state numbered `seq`.
    Delta {
        /// The sequence number of the state this delta makes.
        seq: u64,
        /// The changes (filtered by the client's subscription).
        #[serde(flatten)]
        delta: StateDelta,
    },
    /// A whole state. The relay sends snapshots and deltas; local feeds (the browser's offline replay) use this.
    Update {
        /// The new state.
        state: RaceState,
    },
    /// The subscription in force, in answer to [`ClientMessage::Subscribe`].
    Subscribed {
        /// The subscription now applied to deltas.
        #[serde(flatten)]
        subscription: Subscription,
    },
    /// The delay in force, in answer to [`ClientMessage::Delay`]; a snapshot follows after that delay.
    Delayed {
        /// Seconds every frame is held back.
        seconds: f64,
    },
    /// The answer to [`ClientMessage::Ping`].
    Pong {
        /// The ping's `id`, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// The newest sequence number published by the relay.
        seq: u64,
    },
    /// A client message the relay could not use; the connection carries on.
    Error {
        /// Machine-readable: `invalid_message`, `invalid_delay`.
        code: String,
        /// What was wrong.
        message: String,
    },
}

impl ServerMessage {
    /// The state this message carries whole, if it carries one.
    pub fn state(&self) -> Option<&RaceState> {
        match self {
            ServerMessage::Snapshot { state, .. } | ServerMessage::Update { state } => Some(state),
            _ => None,
        }
    }
}

/// A message from a client to the relay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Receive only these cars and topics in deltas (snapshots stay whole).
    Subscribe {
        /// The subscription.
        #[serde(flatten)]
        subscription: Subscription,
    },
    /// Hold every frame back by `seconds` (`0.0..=`[`MAX_DELAY_S`]), e.g. to match a TV broadcast's delay.
    Delay {
        /// The delay, in seconds.
        seconds: f64,
    },
    /// Asks for a [`ServerMessage::Pong`].
    Ping {
        /// Echoed in the pong.
        #[serde(default)]
        id: Option<u64>,
    },
    /// Asks for a fresh snapshot (after a sequence gap).
    Resync,
}

/// What a client receives in deltas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// `"all"` or a list of `car_idx`.
    #[serde(default)]
    pub cars: Cars,
    /// The car topics; all of them when absent.
    #[serde(default = "Topic::all")]
    pub topics: BTreeSet<Topic>,
}

impl Subscription {
    /// Every car, every topic: what a client gets until it subscribes.
    pub fn all() -> Self {
        Subscription {
            cars: Cars::All,
            topics: Topic::all(),
        }
    }

    /// True when nothing is filtered out.
    pub fn is_all(&self) -> bool {
        self.cars == Cars::All && self.topics == Topic::all()
    }
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription::all()
    }
}

/// Which cars a client follows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cars {
    /// Every car (`"all"`).
    #[default]
    All,
    /// These `car_idx` only (`[3, 7]`).
    Only(BTreeSet<u8>),
}

impl Cars {
    /// Whether `car_idx` is followed.
    pub fn contains(&self, car_idx: u8) -> bool {
        match self {
            Cars::All => true,
            Cars::Only(set) => set.contains(&car_idx),
        }
    }
}

impl Serialize for Cars {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cars::All => s.serialize_str("all"),
            Cars::Only(set) => set.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Cars {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            List(BTreeSet<u8>),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) if t == "all" => Ok(Cars::All),
            Raw::Text(t) => Err(serde::de::Error::custom(format!(
                "cars must be \"all\" or a list of car indices (0-255), not {t:?}"
            ))),
            Raw::List(set) => Ok(Cars::Only(set)),
        }
    }
}

/// A group of a car's fields, for [`Subscription::topics`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Position, laps, lap and sector times, gaps, pit status and stops, statuses, driver, team and grid slot.
    Timing,
    /// The tyres fitted and the stints.
    Tyres,
    /// Speed, fuel, ERS and damage.
    Telemetry,
}

impl Topic {
    /// Every topic.
    pub fn all() -> BTreeSet<Topic> {
        [Topic::Timing, Topic::Tyres, Topic::Telemetry].into()
    }
}

/// What changed between two states of the same cars: the session time always, the source and session info when
/// they changed, the running order (as `car_idx`) when it changed, and for each car only the fields that changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StateDelta {
    /// The new session time, in seconds.
    pub session_time_s: f64,
    /// The new source, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DataSource>,
    /// The whole session info, when any of it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionInfo>,
    /// Every `car_idx` in the new running order, when the order changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<u8>>,
    /// The cars with changed fields, in the new running order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cars: Vec<CarDelta>,
}

/// Why a delta does not apply.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum DeltaError {
    /// The delta names a car the base state does not have.
    #[error("the delta names car {0}, which the state does not have")]
    UnknownCar(u8),
    /// The new running order is not a permutation of the state's cars.
    #[error("the delta's running order does not list the state's cars")]
    BadOrder,
    /// A delta arrived whose sequence number does not follow the state's: a snapshot is needed.
    #[error("sequence gap: the state is {have}, the delta is {got}")]
    Gap {
        /// The replica's sequence number.
        have: u64,
        /// The delta's.
        got: u64,
    },
    /// A delta arrived before any snapshot.
    #[error("a delta before any snapshot")]
    NoBase,
}

/// Deserializes a present field as `Some`, even when its value is `null` (for `Option<Option<T>>` fields).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Declares [`CarDelta`] (one optional field per changeable [`CarState`] field, with its topic), and the
/// per-car diff, apply and filter. The diff destructures [`CarState`] without `..`: a new field in the wire
/// model does not compile until it is listed here.
macro_rules! car_delta {
    ($($field:ident: $ty:ty => $topic:ident),* $(,)?) => {
        /// The fields of one car that changed; absent fields did not.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        pub struct CarDelta {
            /// Which car.
            pub car_idx: u8,
            $(
                #[doc = concat!("The new `", stringify!($field), "`, when it changed.")]
                #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
                pub $field: Option<$ty>,
            )*
        }

        impl CarDelta {
            /// The changes from `a` to `b` (the same car), or `None` when nothing changed.
            pub fn between(a: &CarState, b: &CarState) -> Option<CarDelta> {
                let CarState { car_idx, $($field),* } = b;
                let mut delta = CarDelta { car_idx: *car_idx, ..CarDelta::default() };
                let mut changed = false;
                $(
                    if a.$field != *$field {
                        delta.$field = Some($field.clone());
                        changed = true;
                    }
                )*
                changed.then_some(delta)
            }

            /// Writes the changed fields into `car`.
            pub fn apply_to(&self, car: &mut CarState) {
                $(
                    if let Some(v) = &self.$field {
                        car.$field = v.clone();
                    }
                )*
            }

            /// Keeps only the fields of `topics`; `None` when none is left.
            pub fn filtered(&self, topics: &BTreeSet<Topic>) -> Option<CarDelta> {
                let mut out = CarDelta { car_idx: self.car_idx, ..CarDelta::default() };
                let mut any = false;
                $(
                    if self.$field.is_some() && topics.contains(&Topic::$topic) {
                        out.$field = self.$field.clone();
                        any = true;
                    }
                )*
                any.then_some(out)
            }
        }
    };
}

car_delta! {
    position: u8 => Timing,
    driver: Driver => Timing,
    team: Team => Timing,
    grid_position: u8 => Timing,
    lap: u32 => Timing,
    lap_distance_m: f64 => Timing,
    speed_kph: f64 => Telemetry,
    throttle_pct: f64 => Telemetry,
    brake_pct: f64 => Telemetry,
    gear: i8 => Telemetry,
    current_lap_s: f64 => Timing,
    last_lap_s: Option<f64> => Timing,
    best_lap_s: Option<f64> => Timing,
    last_sectors_s: [Option<f64>; 3] => Timing,
    best_sectors_s: [Option<f64>; 3] => Timing,
    gap_to_leader_s: Option<f64> => Timing,
    interval_s: Option<f64> => Timing,
    laps_down: u32 => Timing,
    pit_status: PitStatus => Timing,
    pit_stops: u32 => Timing,
    penalties_s: u32 => Timing,
    unserved_penalties: u8 => Timing,
    stints: Vec<Stint> => Tyres,
    tyres: TyreSet => Tyres,
    fuel_kg: f64 => Telemetry,
    ers_store_pct: f64 => Telemetry,
    damage: Damage => Telemetry,
    driver_status: DriverStatus => Timing,
    result_status: ResultStatus => Timing,
    telemetry_restricted: bool => Telemetry,
}

/// What changed from `a` to `b`, or `None` when a delta cannot say it (another schema version, or another set
/// of cars: a session began or a car joined), and a snapshot must go out instead.
///
/// Invariant: `apply(&diff(a, b)?, a) == Ok(b)`, exactly (floats are copied, never subtracted).
pub fn diff(a: &RaceState, b: &RaceState) -> Option<StateDelta> {
    if a.schema_version != b.schema_version || a.cars.len() != b.cars.len() {
        return None;
    }
    let mut cars = Vec::new();
    for car in &b.cars {
        let before = a.car(car.car_idx)?;
        cars.extend(CarDelta::between(before, car));
    }
    let same_order = a
        .cars
        .iter()
        .zip(&b.cars)
        .all(|(x, y)| x.car_idx == y.car_idx);
    Some(StateDelta {
        session_time_s: b.session_time_s,
        source: (a.source != b.source).then_some(b.source),
        session: (a.session != b.session).then(|| b.session.clone()),
        order: (!same_order).then(|| b.cars.iter().map(|c| c.car_idx).collect()),
        cars,
    })
}

/// The state `delta` makes from `base`.
///
/// # Errors
/// [`DeltaError::UnknownCar`] or [`DeltaError::BadOrder`] when the delta was not made from a state with `base`'s
/// cars.
pub fn apply(delta: &StateDelta, base: &RaceState) -> Result<RaceState, DeltaError> {
    let mut state = base.clone();
    state.session_time_s = delta.session_time_s;
    if let Some(source) = delta.source {
        state.source = source;
    }
    if let Some(session) = &delta.session {
        state.session = session.clone();
    }
    if let Some(order) = &delta.order {
        if order.len() != base.cars.len() {
            return Err(DeltaError::BadOrder);
        }
        let mut cars = Vec::with_capacity(order.len());
        for &idx in order {
            let car = base.car(idx).ok_or(DeltaError::BadOrder)?;
            if cars.iter().any(|c: &CarState| c.car_idx == idx) {
                return Err(DeltaError::BadOrder);
            }
            cars.push(car.clone());
        }
        state.cars = cars;
    }
    for change in &delta.cars {
        let car = state
            .cars
            .iter_mut()
            .find(|c| c.car_idx == change.car_idx)
            .ok_or(DeltaError::UnknownCar(change.car_idx))?;
        change.apply_to(car);
    }
    Ok(state)
}

impl StateDelta {
    /// The delta as a client with `subscription` receives it: its cars, its topics (the session time, source,
    /// session info and running order always).
    pub fn filtered(&self, subscription: &Subscription) -> StateDelta {
        StateDelta {
            session_time_s: self.session_time_s,
            source: self.source,
            session: self.session.clone(),
            order: self.order.clone(),
            cars: self
                .cars
                .iter()
                .filter(|c| subscription.cars.contains(c.car_idx))
                .filter_map(|c| c.filtered(&subscription.topics))
                .collect(),
        }
    }
}

/// A client's copy of the relay's state, rebuilt from snapshots and deltas.
#[derive(Clone, Debug, Default)]
pub struct Replica {
    latest: Option<(u64, RaceState)>,
}

impl Replica {
    /// A replica with no state: it waits for a snapshot.
    pub fn new() -> Self {
        Replica::default()
    }

    /// The sequence number and state, once a snapshot arrived.
    pub fn latest(&self) -> Option<(u64, &RaceState)> {
        self.latest.as_ref().map(|(seq, state)| (*seq, state))
    }

    /// Takes a message: a snapshot or a whole state replaces the state, a delta that follows it applies, a delta at
    /// or before the state's sequence number is already in it and changes nothing; other messages change nothing.
    /// Returns the new state, if the message made one.
    ///
    /// # Errors
    /// [`DeltaError`] for a delta that does not follow (a gap, or before any snapshot) or does not apply; the
    /// replica then drops deltas until a snapshot arrives, so the client should ask for one.
    pub fn receive(&mut self, message: &ServerMessage) -> Result<Option<&RaceState>, DeltaError> {
        match message {
            ServerMessage::Snapshot { seq, state, .. } => {
                self.latest = Some((*seq, state.clone()));
            }
            ServerMessage::Update { state } => {
                let seq = self.latest.as_ref().map_or(0, |(s, _)| *s);
                self.latest = Some((seq, state.clone()));
            }
            ServerMessage::Delta { seq, delta } => {
                let Some((have, base)) = &self.latest else {
                    return Err(DeltaError::NoBase);
                };
                // Already in the state: a snapshot overtook it (NATS publishes a snapshot for late subscribers while
                // the deltas it holds are still on their way).
                if *seq <= *have {
                    return Ok(None);
                }
                if *seq != have + 1 {
                    let have = *have;
                    self.latest = None;
                    return Err(DeltaError::Gap { have, got: *seq });
                }
                match apply(delta, base) {
                    Ok(state) => self.latest = Some((*seq, state)),
                    Err(e) => {
                        self.latest = None;
                        return Err(e);
                    }
                }
            }
            _ => return Ok(None),
        }
        Ok(self.latest.as_ref().map(|(_, s)| s))
    }
}

#[cfg(test)]
mod tests {
    #[cfg(not(target_arch = "wasm32"))]
    use proptest::prelude::*;

    use super::*;
    use crate::sim::{RaceSim, SimConfig};

    fn state_at(seed: u64, t_s: f64) -> RaceState {
        let mut sim = RaceSim::new(&SimConfig {
            seed,
            total_laps: 5,
        });
        sim.advance_to(t_s);
        sim.state()
    }

    #[test]
    fn messages_round_trip_through_json_with_their_type_tag() {
        let state = state_at(9, 150.0);
        let msg = ServerMessage::Update {
            state: state.clone(),
        };
        let json = serde_json::to_string(&msg).unwrap();
        assert!(
            json.starts_with(r#"{"type":"update","state":{"schema_version":1,"#),
            "{}",
            &json[..80]
        );
        assert_eq!(serde_json::from_str::<ServerMessage>(&json).unwrap(), msg);
        let later = state_at(9, 151.0);
        let delta = ServerMessage::Delta {
            seq: 8,
            delta: diff(&state, &later).unwrap(),
        };
        let json = serde_json::to_string(&delta).unwrap();
        assert!(
            json.starts_with(r#"{"type":"delta","seq":8,"session_time_s":151.0,"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<ServerMessage>(&json).unwrap(), delta);
        // A delta is a fraction of the state it makes (the tyres' 16 numbers per car change every tick and are
        // most of it); the timing topic alone is a small one.
        let whole = serde_json::to_string(&later).unwrap().len();
        assert!(
            json.len() * 3 < whole * 2,
            "{} vs {whole} bytes",
            json.len()
        );
        let timing = Subscription {
            cars: Cars::All,
            topics: [Topic::Timing].into(),
        };
        let ServerMessage::Delta { delta, .. } = delta else {
            unreachable!()
        };
        let timing = serde_json::to_string(&delta.filtered(&timing)).unwrap();
        assert!(
            timing.len() * 5 < whole,
            "{} vs {whole} bytes",
            timing.len()
        );
    }

    #[test]
    fn a_null_that_changed_is_sent_and_applied() {
        let a = state_at(2, 200.0);
        let mut b = a.clone();
        b.cars[3].last_lap_s = None;
        b.cars[3].gap_to_leader_s = Some(1.5);
        let delta = diff(&a, &b).unwrap();
        let json = serde_json::to_string(&delta).unwrap();
        assert!(json.contains(r#""last_lap_s":null"#), "{json}");
        let back: StateDelta = serde_json::from_str(&json).unwrap();
        assert_eq!(apply(&back, &a).unwrap(), b);
    }

    #[test]
    fn client_messages_parse_and_bad_ones_are_errors() {
        let sub: ClientMessage =
            serde_json::from_str(r#"{"type":"subscribe","cars":[3,7],"topics":["timing"]}"#)
                .unwrap();
        assert_eq!(
            sub,
            ClientMessage::Subscribe {
                subscription: Subscription {
                    cars: Cars::Only([3, 7].into()),
                    topics: [Topic::Timing].into()
                }
            }
        );
        let all: ClientMessage =
            serde_json::from_str(r#"{"type":"subscribe","cars":"all"}"#).unwrap();
        assert_eq!(
            all,
            ClientMessage::Subscribe {
                subscription: Subscription::all()
            }
        );
        for bad in [
            r#"{"type":"subscribe","cars":"some"}"#,
            r#"{"type":"subscribe","cars":[300]}"#,
            r#"{"type":"subscribe","topics":["weather"]}"#,
            r#"{"type":"delay"}"#,
            r#"{"type":"dance"}"#,
            r#"not json"#,
        ] {
            assert!(serde_json::from_str::<ClientMessage>(bad).is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::from_str::<ClientMessage>(r#"{"type":"ping","id":4}"#).unwrap(),
            ClientMessage::Ping { id: Some(4) }
        );
    }

    #[test]
    fn a_filtered_delta_keeps_only_the_subscribed_cars_and_topics() {
        let a = state_at(4, 300.0);
        let b = state_at(4, 301.0);
        let delta = diff(&a, &b).unwrap();
        assert!(delta.cars.len() >= 15, "{} cars moved", delta.cars.len());
        let sub = Subscription {
            cars: Cars::Only([a.cars[0].car_idx, 200].into()),
            topics: [Topic::Timing].into(),
        };
        let f = delta.filtered(&sub);
        assert_eq!(f.cars.len(), 1);
        let car = &f.cars[0];
        assert!(car.lap_distance_m.is_some() && car.speed_kph.is_none() && car.tyres.is_none());
        assert_eq!(delta.filtered(&Subscription::all()), delta);
    }

    #[test]
    fn another_set_of_cars_needs_a_snapshot_and_bad_orders_are_refused() {
        let a = state_at(5, 100.0);
        let mut b = a.clone();
        b.cars.pop();
        assert!(diff(&a, &b).is_none());
        let mut bad = diff(&a, &a).unwrap();
        bad.order = Some(vec![a.cars[0].car_idx; a.cars.len()]);
        assert_eq!(apply(&bad, &a), Err(DeltaError::BadOrder));
        let mut bad = diff(&a, &a).unwrap();
        bad.cars.push(CarDelta {
            car_idx: 99,
            ..CarDelta::default()
        });
        assert_eq!(apply(&bad, &a), Err(DeltaError::UnknownCar(99)));
    }

    #[test]
    fn a_replica_follows_deltas_skips_stale_ones_and_drops_them_after_a_gap() {
        let states: Vec<RaceState> = (0..5).map(|i| state_at(6, 100.0 + f64::from(i))).collect();
        let mut replica = Replica::new();
        let delta = |seq: u64, i: usize| ServerMessage::Delta {
            seq,
            delta: diff(&states[i - 1], &states[i]).unwrap(),
        };
        assert_eq!(replica.receive(&delta(1, 1)), Err(DeltaError::NoBase));
        replica
            .receive(&ServerMessage::Snapshot {
                seq: 10,
                state: states[0].clone(),
                history: vec![],
            })
            .unwrap();
        assert_eq!(replica.receive(&delta(11, 1)).unwrap(), Some(&states[1]));
        // A delta the state already holds (a snapshot overtook it) changes nothing.
        assert_eq!(replica.receive(&delta(11, 1)), Ok(None));
        assert_eq!(replica.receive(&delta(9, 1)), Ok(None));
        assert_eq!(replica.latest(), Some((11, &states[1])));
        assert_eq!(replica.receive(&delta(12, 2)).unwrap(), Some(&states[2]));
        assert_eq!(
            replica.receive(&delta(14, 4)),
            Err(DeltaError::Gap { have: 12, got: 14 })
        );
        assert_eq!(replica.receive(&delta(15, 4)), Err(DeltaError::NoBase));
        let pong = ServerMessage::Pong { id: None, seq: 3 };
        assert_eq!(replica.receive(&pong), Ok(None));
    }

    /// A state `b` made from `a` by arbitrary edits: cars reordered, fields of random cars changed or nulled.
    #[cfg(not(target_arch = "wasm32"))]
    fn edited(mut b: RaceState, edits: &[(usize, u8, f64)], rotate: usize) -> RaceState {
        let n = b.cars.len();
        b.cars.rotate_left(rotate % n);
        for &(car, field, x) in edits {
            let c = &mut b.cars[car % n];
            match field % 8 {
                0 => c.last_lap_s = (x > 0.0).then_some(x),
                1 => c.gap_to_leader_s = None,
                2 => c.tyres.corners.front_left.wear_pct = x.abs(),
                3 => c.position = (x.abs() as u8).max(1),
                4 => c.pit_status = PitStatus::PitBox,
                5 => c.stints.push(Stint {
                    compound: crate::wire::Compound::Hard,
                    start_lap: 3,
                    laps: 0,
                    start_age_laps: 0,
                }),
                6 => b.session.track_temp_c = x,
                _ => c.last_sectors_s[1] = None,
            }
        }
        b
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn apply_of_diff_gives_the_new_state_exactly(
            seed in 0u64..50,
            t_a in 0.0f64..500.0,
            dt in 0.0f64..200.0,
            edits in proptest::collection::vec((0usize..20, any::<u8>(), -1e3f64..1e3), 0..10),
            rotate in 0usize..20,
        ) {
            let a = state_at(seed, t_a);
            let b = edited(state_at(seed, t_a + dt), &edits, rotate);
            let delta = diff(&a, &b).unwrap();
            prop_assert_eq!(&apply(&delta, &a).unwrap(), &b);
            // And through JSON, as the browser gets it.
            let json = serde_json::to_string(&ServerMessage::Delta { seq: 1, delta }).unwrap();
            let ServerMessage::Delta { delta, .. } = serde_json::from_str(&json).unwrap() else {
                panic!("a delta")
            };
            prop_assert_eq!(apply(&delta, &a).unwrap(), b);
        }
    }
}
