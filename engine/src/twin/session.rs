//! [`Twins`]: the twins over a live stream of states: lap history, the teams' pit tendencies learned in-session,
//! the events that make a strategy stale (SC/VSC, a stop, a retirement), and the [`TwinReport`] the pit wall shows.

use serde::{Deserialize, Serialize};

use crate::history::LapRecorder;
use crate::sorting::{sort_by, sort_by_key};
use crate::twin::TwinParams;
use crate::twin::alert::Alert;
use crate::twin::car::{CarTwin, apply_crossover, car_twin};
use crate::twin::consistency::{ConsistencyMonitor, ConsistencyWarning};
use crate::twin::field::{FieldModels, FieldTwin, field_twin_with};
use crate::twin::fingerprint::{DriverFingerprint, Fingerprints};
use crate::twin::laps::CarLaps;
use crate::twin::pit::{TeamTendency, predict_next_pit};
use crate::wire::{
    CarState, LapRecord, PitStatus, RaceState, ResultStatus, SCHEMA_VERSION, TrackStatus,
};

/// Seconds the session time must go back for the twins to take it for a flashback: a state a moment older than
/// the last (a source's jitter) rewinds nothing, so no stop scored in that moment is lost.
const REWIND_MIN_S: f64 = 1.0;

/// How many events, warnings and anomaly alerts the logs keep.
const EVENTS_KEPT: usize = 64;

/// Keeps the newest `EVENTS_KEPT` items.
fn trim<T>(items: &mut Vec<T>) {
    let excess = items.len().saturating_sub(EVENTS_KEPT);
    items.drain(..excess);
}

/// Something that happened in the race that changes the strategy picture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwinEvent {
    /// What happened.
    pub kind: EventKind,
    /// The car, for stops, retirements and penalties.
    pub car_idx: Option<u8>,
    /// The leader's lap (for track events) or the car's lap.
    pub lap: u32,
    /// Session time, in seconds.
    pub session_time_s: f64,
}

/// Kinds of [`TwinEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A safety car was deployed.
    SafetyCar,
    /// A virtual safety car was deployed.
    VirtualSafetyCar,
    /// The SC, VSC or red-flag period ended.
    GreenAgain,
    /// A red flag: the session is suspended (the cars return to the pit lane, tyres may be changed).
    RedFlag,
    /// A car entered the pit lane.
    PitStop,
    /// A car retired.
    Retirement,
    /// A car was given a penalty.
    Penalty {
        /// Seconds of time penalty given; `0` for a drive-through or a stop-go, which the car must serve in the
        /// pit lane.
        seconds: u32,
    },
}

/// Whether the strategy must be re-simulated: each event that changes the picture bumps the generation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StrategyStatus {
    /// Bumped by every stale-making event; a strategy computed at an older generation is stale.
    pub generation: u64,
    /// The event behind the latest bump.
    pub last_reason: Option<TwinEvent>,
}

/// Everything the twins say about the session at one instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwinReport {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Session time of the state it was computed from, in seconds.
    pub session_time_s: f64,
    /// The Car Twin of every car, in running order.
    pub cars: Vec<CarTwin>,
    /// The Field Twin.
    pub field: FieldTwin,
    /// The calls for every car, with evidence and radio lines.
    pub alerts: Vec<Alert>,
    /// Strategy staleness for the strategy simulator.
    pub strategy: StrategyStatus,
    /// The latest events, oldest first.
    pub events: Vec<TwinEvent>,
    /// Every driver's fingerprint: consistency and lap and sector baselines.
    pub fingerprints: Vec<DriverFingerprint>,
    /// The latest laps or sectors out of a driver's character (beyond 2σ of their own baseline), oldest first.
    pub anomalies: Vec<Alert>,
    /// The latest things in the state that do not add up, oldest first (reported, never fixed).
    pub warnings: Vec<ConsistencyWarning>,
}

/// A pit prediction made at the end of a lap, kept to learn the team's tendency.
#[derive(Clone, Copy, Debug)]
struct Made {
    car_idx: u8,
    at_lap: u32,
    predicted_in_lap: u32,
}

/// A stop scored against the prediction made three laps before it: what the team's tendency is learned from.
#[derive(Clone, Debug)]
struct Scored {
    /// When the car entered the pit lane.
    session_time_s: f64,
    team: String,
    offset_laps: f64,
}

/// What was seen of a car in the previous state.
#[derive(Clone, Copy, Debug)]
struct Seen {
    pit_status: PitStatus,
    result_status: ResultStatus,
    penalties_s: u32,
    unserved_penalties: u8,
}

impl Seen {
    fn of(car: &CarState) -> Self {
        Seen {
            pit_status: car.pit_status,
            result_status: car.result_status,
            penalties_s: car.penalties_s,
            unserved_penalties: car.unserved_penalties,
        }
    }
}

/// The twins over a stream of states.
#[derive(Clone, Debug)]
pub struct Twins {
    params: TwinParams,
    recorder: LapRecorder,
    seen: Vec<Option<Seen>>,
    track_status: TrackStatus,
    /// The latest session time seen: a state more than [`REWIND_MIN_S`] before it rewinds the twins (a flashback).
    session_time_s: Option<f64>,
    /// Every prediction made this session (one per car and lap, 12 bytes each): a flashback may go back to any
    /// lap, and the stops after it are scored again against the predictions made three laps before them.
    made: Vec<Made>,
    /// Every stop scored, in the order they came: the tendencies are their means.
    scored: Vec<Scored>,
    tendencies: Vec<TeamTendency>,
    strategy: StrategyStatus,
    events: Vec<TwinEvent>,
    fingerprints: Fingerprints,
    anomalies: Vec<Alert>,
    consistency: ConsistencyMonitor,
    warnings: Vec<ConsistencyWarning>,
    warnings_total: u64,
}

impl Twins {
    /// Twins with no history.
    pub fn new(params: TwinParams) -> Self {
        Twins {
            params,
            recorder: LapRecorder::new(),
            seen: Vec::new(),
            track_status: TrackStatus::Green,
            session_time_s: None,
            made: Vec::new(),
            scored: Vec::new(),
            tendencies: Vec::new(),
            strategy: StrategyStatus::default(),
            events: Vec::new(),
            fingerprints: Fingerprints::new(),
            anomalies: Vec::new(),
            consistency: ConsistencyMonitor::new(),
            warnings: Vec::new(),
            warnings_total: 0,
        }
    }

    /// Twins that continue from a lap history (e.g. the one sent with a snapshot).
    pub fn with_history(params: TwinParams, records: Vec<LapRecord>) -> Self {
        Twins {
            fingerprints: fingerprints_of(&records),
            recorder: LapRecorder::with_history(records),
            ..Twins::new(params)
        }
    }

    /// How many consistency warnings have been raised in all.
    pub fn warnings_total(&self) -> u64 {
        self.warnings_total
    }

    /// The consistency warnings raised so far (the newest few), oldest first.
    pub fn warnings(&self) -> &[ConsistencyWarning] {
        &self.warnings
    }

    /// The parameters.
    pub fn params(&self) -> &TwinParams {
        &self.params
    }

    /// Every lap record so far.
    pub fn records(&self) -> &[LapRecord] {
        self.recorder.records()
    }

    /// The teams' tendencies learned so far.
    pub fn tendencies(&self) -> &[TeamTendency] {
        &self.tendencies
    }

    /// The strategy's staleness.
    pub fn strategy(&self) -> &StrategyStatus {
        &self.strategy
    }

    /// Feeds one state: books completed laps, notices events, and learns from stops. Returns the new events.
    pub fn observe(&mut self, state: &RaceState) -> Vec<TwinEvent> {
        let rewound = self
            .session_time_s
            .is_some_and(|t| state.session_time_s < t - REWIND_MIN_S);
        if rewound || self.session_time_s.is_none_or(|t| state.session_time_s > t) {
            self.session_time_s = Some(state.session_time_s);
        }
        let before = self.recorder.records().len();
        self.recorder.observe(state);
        if rewound {
            // The recorder has forgotten the laps now in the future (so none is fresh); the rest forgets what they
            // taught.
            self.rewind(state);
        }
        let fresh = &self.recorder.records()[before.min(self.recorder.records().len())..];
        let completed: Vec<(u8, u32)> = fresh.iter().map(|r| (r.car_idx, r.lap)).collect();
        for r in fresh {
            let code = state
                .car(r.car_idx)
                .map_or_else(String::new, |c| c.driver.code.clone());
            let at = (r.lap + 1, state.session_time_s);
            self.anomalies
                .extend(self.fingerprints.observe(r, &code, at));
        }
        trim(&mut self.anomalies);
        let warnings = self.consistency.check(state, self.recorder.records());
        self.warnings_total += warnings.len() as u64;
        self.warnings.extend(warnings);
        trim(&mut self.warnings);
        let mut new_events = Vec::new();
        let event = |kind, car_idx, lap| TwinEvent {
            kind,
            car_idx,
            lap,
            session_time_s: state.session_time_s,
        };
        let status = state.session.track_status;
        let was = self.track_status;
        if status != was {
            let kind = match status {
                TrackStatus::SafetyCar => Some(EventKind::SafetyCar),
                TrackStatus::VirtualSafetyCar => Some(EventKind::VirtualSafetyCar),
                TrackStatus::Red => Some(EventKind::RedFlag),
                TrackStatus::Green | TrackStatus::Yellow if was.is_neutralised() => {
                    Some(EventKind::GreenAgain)
                }
                _ => None,
            };
            if let Some(kind) = kind {
                new_events.push(event(kind, None, state.session.leader_lap));
            }
            self.track_status = status;
        }
        let mut stops: Vec<(u8, u32, String)> = Vec::new();
        for car in &state.cars {
            let slot = usize::from(car.car_idx);
            if self.seen.len() <= slot {
                self.seen.resize(slot + 1, None);
            }
            let now = Seen::of(car);
            if let Some(prev) = self.seen[slot] {
                // Not the whole field driving into the pit lane under a red flag: that is no stop.
                if prev.pit_status == PitStatus::None
                    && now.pit_status != PitStatus::None
                    && car.result_status == ResultStatus::Active
                    && state.session.phase == crate::wire::SessionPhase::Running
                    && status != TrackStatus::Red
                {
                    new_events.push(event(EventKind::PitStop, Some(car.car_idx), car.lap));
                    stops.push((car.car_idx, car.lap, car.team.name.clone()));
                }
                if !prev.result_status.is_out() && now.result_status.is_out() {
                    new_events.push(event(EventKind::Retirement, Some(car.car_idx), car.lap));
                }
                if now.penalties_s > prev.penalties_s {
                    let seconds = now.penalties_s - prev.penalties_s;
                    new_events.push(event(
                        EventKind::Penalty { seconds },
                        Some(car.car_idx),
                        car.lap,
                    ));
                }
                if now.unserved_penalties > prev.unserved_penalties {
                    let kind = EventKind::Penalty { seconds: 0 };
                    new_events.push(event(kind, Some(car.car_idx), car.lap));
                }
            }
            self.seen[slot] = Some(now);
        }
        for (car_idx, in_lap, team) in stops {
            self.learn_tendency(car_idx, in_lap, &team, state.session_time_s);
        }
        if !completed.is_empty() {
            self.predict_stops(state, &completed);
        }
        for e in &new_events {
            self.strategy.generation += 1;
            self.strategy.last_reason = Some(e.clone());
        }
        self.events.extend(new_events.iter().cloned());
        trim(&mut self.events);
        new_events
    }

    /// Time went back (a flashback; a replay's seek restarts the twins instead): what the laps and stops now in the
    /// future taught is forgotten — the predictions made at them, the stops scored, the events and alerts raised
    /// after this moment — and the strategy is stale. The rewinding state raises no event: the cars' pit lanes and
    /// the track status are taken as they are now.
    fn rewind(&mut self, state: &RaceState) {
        let now = state.session_time_s;
        let lap_now = |car_idx: u8| state.car(car_idx).map_or(0, |c| c.lap);
        self.made.retain(|m| m.at_lap < lap_now(m.car_idx));
        self.scored.retain(|s| s.session_time_s <= now);
        self.tendencies = tendencies_of(&self.scored);
        self.events.retain(|e| e.session_time_s <= now);
        self.anomalies.retain(|a| a.session_time_s <= now);
        let leader_lap = state.session.leader_lap;
        self.warnings
            .retain(|w| w.lap < w.car_idx.map_or(leader_lap, lap_now));
        self.fingerprints = fingerprints_of(self.recorder.records());
        for car in &state.cars {
            if let Some(seen) = self.seen.get_mut(usize::from(car.car_idx)) {
                *seen = Some(Seen::of(car));
            }
        }
        self.track_status = state.session.track_status;
        self.strategy.generation += 1;
        if self
            .strategy
            .last_reason
            .as_ref()
            .is_some_and(|e| e.session_time_s > now)
        {
            self.strategy.last_reason = None;
        }
    }

    /// Scores the prediction made three laps before this stop against it.
    fn learn_tendency(&mut self, car_idx: u8, in_lap: u32, team: &str, session_time_s: f64) {
        let Some(made) = self
            .made
            .iter()
            .find(|m| m.car_idx == car_idx && m.at_lap + 3 == in_lap)
            .copied()
        else {
            return;
        };
        self.scored.push(Scored {
            session_time_s,
            team: team.to_owned(),
            offset_laps: f64::from(in_lap) - f64::from(made.predicted_in_lap),
        });
        self.tendencies = tendencies_of(&self.scored);
    }

    /// Records the raw (tendency-free) stop prediction of each car that just completed a lap.
    fn predict_stops(&mut self, state: &RaceState, completed: &[(u8, u32)]) {
        let models = FieldModels::learn(state, self.recorder.records(), &self.params);
        for &(car_idx, lap) in completed {
            let Some(car) = state.car(car_idx) else {
                continue;
            };
            let laps = CarLaps::new(car, self.recorder.records());
            let raw = predict_next_pit(
                state,
                car,
                &laps,
                &models.pace,
                None,
                &self.params.pace,
                &self.params.pit,
            );
            if let Some(p) = raw {
                self.made.push(Made {
                    car_idx,
                    at_lap: lap,
                    predicted_in_lap: p.lap,
                });
            }
        }
    }

    /// The Field Twin now, with the tendencies learned so far.
    pub fn field(&self, state: &RaceState) -> (FieldModels, FieldTwin) {
        let models = FieldModels::learn(state, self.recorder.records(), &self.params);
        let field = field_twin_with(
            state,
            self.recorder.records(),
            &models,
            &self.tendencies,
            &self.params,
        );
        (models, field)
    }

    /// The Car Twin of one car against a chosen rival (the car ahead if `None`).
    pub fn car(&self, state: &RaceState, car_idx: u8, rival: Option<u8>) -> Option<CarTwin> {
        let (models, field) = self.field(state);
        let car = state.car(car_idx)?;
        let next_pit = field
            .rivals
            .iter()
            .find(|r| r.car_idx == car_idx)
            .and_then(|r| r.next_pit.as_ref());
        let mut twin = car_twin(
            state,
            car,
            self.recorder.records(),
            &models,
            next_pit,
            rival,
            &self.params,
        );
        apply_crossover(state, car, &mut twin, &field);
        Some(twin)
    }

    /// Everything: every car's twin, the field, the calls, staleness and recent events.
    pub fn report(&self, state: &RaceState) -> TwinReport {
        self.report_with_rivals(state, &[])
    }

    /// The report with chosen rivals: `(car, rival)` pairs give each such car's [`CarTwin::rival`] against that
    /// rival instead of the car ahead on the road.
    pub fn report_with_rivals(&self, state: &RaceState, rivals: &[(u8, u8)]) -> TwinReport {
        let (models, field) = self.field(state);
        let mut cars: Vec<CarTwin> = state
            .cars
            .iter()
            .zip(&field.rivals)
            .map(|(car, rival)| {
                let chosen = rivals
                    .iter()
                    .find(|(c, _)| *c == car.car_idx)
                    .map(|(_, r)| *r);
                car_twin(
                    state,
                    car,
                    self.recorder.records(),
                    &models,
                    rival.next_pit.as_ref(),
                    chosen,
                    &self.params,
                )
            })
            .collect();
        for (car, twin) in state.cars.iter().zip(&mut cars) {
            apply_crossover(state, car, twin, &field);
        }
        let alerts = crate::twin::explain::alerts(state, &cars, &field);
        TwinReport {
            schema_version: SCHEMA_VERSION,
            session_time_s: state.session_time_s,
            cars,
            field,
            alerts,
            strategy: self.strategy.clone(),
            events: self.events.clone(),
            fingerprints: self.fingerprints.fingerprints(),
            anomalies: self.anomalies.clone(),
            warnings: self.warnings.clone(),
        }
    }
}

/// The fingerprints of a lap history, raising no alert (the laps are old news).
fn fingerprints_of(records: &[LapRecord]) -> Fingerprints {
    let mut fingerprints = Fingerprints::new();
    let mut sorted: Vec<&LapRecord> = records.iter().collect();
    sort_by_key(&mut sorted, |r| (r.car_idx, r.lap));
    for r in sorted {
        let _ = fingerprints.observe(r, "", (r.lap, 0.0));
    }
    fingerprints
}

/// The teams' tendencies from the stops scored, by team name; each mean is taken in the order the stops came.
fn tendencies_of(scored: &[Scored]) -> Vec<TeamTendency> {
    let mut tendencies: Vec<TeamTendency> = Vec::new();
    for s in scored {
        let t = match tendencies.iter().position(|t| t.team == s.team) {
            Some(i) => &mut tendencies[i],
            None => {
                tendencies.push(TeamTendency {
                    team: s.team.clone(),
                    ..TeamTendency::default()
                });
                let last = tendencies.len() - 1;
                &mut tendencies[last]
            }
        };
        t.mean_offset_laps =
            (t.mean_offset_laps * f64::from(t.stops) + s.offset_laps) / f64::from(t.stops + 1);
        t.stops += 1;
    }
    sort_by(&mut tendencies, |a, b| a.team.cmp(&b.team));
    tendencies
}

impl Default for Twins {
    fn default() -> Self {
        Twins::new(TwinParams::PIT_WALL)
    }
}
