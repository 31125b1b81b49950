//! JSON telemetry feeds: frames of a simple per-car JSON shape (from a WebSocket feed or `POST /api/v1/ingest`)
//! parsed with error paths and normalized into the engine's [`RaceState`].
//!
//! A frame looks like this (every car field but `car_id`, `driver` and `position` may be left out):
//!
//! ```json
//! {"timestamp": 5012.4, "lap": 23, "session_type": "race",
//!  "track_conditions": {"temperature": 31.5, "weather": "clear", "track_status": "green"},
//!  "cars": [{"car_id": 1, "team": "Red Bull Racing", "driver": "Max Verstappen", "position": 1, "speed": 287.0,
//!            "tire": {"compound": "medium", "age": 12, "wear_level": 31.0}, "fuel_level": 42.1,
//!            "lap_time": 95.321, "sector_times": [30.1, 38.2, 27.0]}]}
//! ```
//!
//! Units: `timestamp` in seconds (any epoch; an RFC 3339 string is accepted too), `temperature` (track) in °C,
//! `speed` in km/h, `tire.age` in laps, `tire.wear_level` in percent worn (0–100), `fuel_level` in kg, `lap_time`
//! and `sector_times` in seconds for the car's last completed lap. `lap` is the leader's current lap. Optional
//! extensions: `total_laps`, `track` and `track_length` (metres) per frame; per car `lap_distance` (metres along
//! the lap), `throttle` and `brake` (percent), `gear` (-1 to 8) and `penalty_s` (a time penalty still to serve,
//! whole seconds).
//!
//! The feed has no timing loops, so the normalizer derives them: a car completed a lap when its `lap_time`
//! changes, and its gap to the leader is the time between the leader's and its own line crossings of that lap.
//! A new compound or a younger tyre means a pit stop. Another track or session type, or a field of cars none of
//! which the session knows, begins a new session ([`Pushed::NewSession`]).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::sorting::sort_by_key;
use crate::telemetry::normalize::{DEFAULT_PIT_LANE_LOSS_S, driver_code, team_colour};
use crate::wire::{
    CarState, Compound, Corners, Damage, DataSource, Driver, DriverStatus, PitStatus, RaceState,
    ResultStatus, SCHEMA_VERSION, SessionInfo, SessionPhase, SessionType, Stint, Team, TrackStatus,
    TyreCorner, TyreSet, Weather,
};

/// The lap length a feed's state has when the feed says nothing of distances, in metres.
const DEFAULT_TRACK_LENGTH_M: f64 = 5000.0;

/// Most cars a feed may carry (the state model indexes cars with a `u8`).
pub const MAX_CARS: usize = 64;

/// The oldest tyre set a frame may carry, in laps (a whole weekend's running is under 200).
pub const MAX_TYRE_AGE_LAPS: u32 = 400;

/// The longest name a frame may carry (track, session type, car id, driver, team), in characters.
pub const MAX_TEXT_CHARS: usize = 64;

/// One frame of a JSON feed.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FeedFrame {
    /// When the frame was taken, in seconds.
    pub timestamp: Timestamp,
    /// The leader's current lap, from 1.
    pub lap: u32,
    /// Race distance in laps (an optional extension of the shape; the current lap when absent).
    #[serde(default)]
    pub total_laps: Option<u32>,
    /// Track name (an optional extension of the shape).
    #[serde(default)]
    pub track: Option<String>,
    /// Lap length in metres (an optional extension; else the longest `lap_distance` seen, at least 5 km).
    #[serde(default)]
    pub track_length: Option<f64>,
    /// `practice`, `qualifying`, `sprint`, `race`, `time_trial` (free text otherwise: unknown).
    #[serde(default)]
    pub session_type: Option<String>,
    /// Weather and flags.
    #[serde(default)]
    pub track_conditions: Option<TrackConditions>,
    /// Every car.
    pub cars: Vec<FeedCar>,
}

/// A timestamp: seconds as a number, or an RFC 3339 date-time string.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(try_from = "TimestampRepr")]
pub struct Timestamp(pub f64);

#[derive(Deserialize)]
#[serde(untagged)]
enum TimestampRepr {
    Seconds(f64),
    Text(String),
}

impl TryFrom<TimestampRepr> for Timestamp {
    type Error = String;

    fn try_from(repr: TimestampRepr) -> Result<Self, String> {
        match repr {
            TimestampRepr::Seconds(s) if s.is_finite() => Ok(Timestamp(s)),
            TimestampRepr::Seconds(s) => Err(format!("timestamp must be finite, got {s}")),
            TimestampRepr::Text(text) => text
                .parse::<jiff::Timestamp>()
                .map(|t| Timestamp(t.as_millisecond() as f64 / 1000.0))
                .map_err(|e| format!("timestamp {text:?} is not seconds or RFC 3339: {e}")),
        }
    }
}

/// Track conditions.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct TrackConditions {
    /// Track temperature, in °C.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// `clear`, `light_cloud`, `overcast`, `light_rain`, `heavy_rain`, `storm` (and a few aliases).
    #[serde(default)]
    pub weather: Option<String>,
    /// `green`, `yellow`, `vsc`, `sc`, `red` (and the long names).
    #[serde(default)]
    pub track_status: Option<String>,
}

/// One car in a frame.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FeedCar {
    /// The feed's identifier for the car: a number or a string, stable over the session.
    pub car_id: CarId,
    /// Team name.
    #[serde(default)]
    pub team: Option<String>,
    /// Driver name.
    pub driver: String,
    /// Running position, from 1.
    pub position: u8,
    /// Speed, in km/h.
    #[serde(default)]
    pub speed: Option<f64>,
    /// Tyres.
    #[serde(default)]
    pub tire: Option<FeedTire>,
    /// Fuel on board, in kg.
    #[serde(default)]
    pub fuel_level: Option<f64>,
    /// Last completed lap, in seconds.
    #[serde(default)]
    pub lap_time: Option<f64>,
    /// Sectors of the last completed lap, in seconds.
    #[serde(default)]
    pub sector_times: Option<Vec<f64>>,
    /// Distance along the current lap, in metres (an optional extension: with the pedals and gear it feeds the
    /// lap telemetry chart).
    #[serde(default)]
    pub lap_distance: Option<f64>,
    /// Throttle pedal, percent (0–100; an optional extension).
    #[serde(default)]
    pub throttle: Option<f64>,
    /// Brake pedal, percent (0–100; an optional extension).
    #[serde(default)]
    pub brake: Option<f64>,
    /// Gear: -1 reverse, 0 neutral, 1–8 (an optional extension).
    #[serde(default)]
    pub gear: Option<i8>,
    /// Time penalty still to serve, in whole seconds (an optional extension).
    #[serde(default)]
    pub penalty_s: Option<u32>,
}

impl FeedCar {
    /// Whether the feed measures this car's fuel or tyre wear.
    fn measured(&self) -> bool {
        self.fuel_level.is_some() || self.tire.as_ref().is_some_and(|t| t.wear_level.is_some())
    }
}

/// A car identifier: feeds use numbers or strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(untagged)]
pub enum CarId {
    /// A number.
    Number(u64),
    /// A string.
    Text(String),
}

/// A car's tyres.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FeedTire {
    /// `soft`, `medium`, `hard`, `intermediate`, `wet` (or `S`/`M`/`H`/`I`/`W`).
    pub compound: String,
    /// Laps on this set; left out, the set is the one the car had (its age counted from the laps since).
    #[serde(default)]
    pub age: Option<u32>,
    /// Percent worn, 0–100 (one figure for the four corners); left out, not measured.
    #[serde(default)]
    pub wear_level: Option<f64>,
}

/// Why a feed message was rejected: where in the JSON and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FeedError {
    /// A readable explanation, with the JSON path of the offending value when there is one.
    pub message: String,
}

impl FeedError {
    fn at(path: impl std::fmt::Display, what: impl std::fmt::Display) -> Self {
        FeedError {
            message: format!("{path}: {what}"),
        }
    }
}

/// Parses a feed message: one frame object, or an array of frames (a batch). Every frame is checked (types,
/// enums, ranges, duplicate cars and positions) before any is returned, so a bad batch is rejected whole.
///
/// # Errors
/// A [`FeedError`] naming the JSON path (`[2].cars[5].tire.compound`) and the problem.
pub fn parse(bytes: &[u8]) -> Result<Vec<FeedFrame>, FeedError> {
    // Read straight into frames, never through a `serde_json::Value` (whose tree takes about 16 times the
    // message's bytes: a 16 MiB batch would hold a quarter of a gigabyte).
    let batch = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => true,
        Some(b'{') => false,
        // Not an object nor an array: what it is (small, or not JSON at all).
        _ => {
            let value: serde_json::Value = serde_json::from_slice(bytes).map_err(invalid_json)?;
            return Err(FeedError {
                message: format!(
                    "expected a frame object or an array of frames, got {}",
                    json_kind(&value)
                ),
            });
        }
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let frames = if batch {
        serde_path_to_error::deserialize::<_, Vec<FeedFrame>>(&mut de)
    } else {
        serde_path_to_error::deserialize::<_, FeedFrame>(&mut de).map(|frame| vec![frame])
    }
    .map_err(|e| {
        if e.inner().is_data() {
            // The same paths as `validate`'s below: `lap`, `[1].lap`; the frame itself is `frame` or `[1]`.
            let path = e.path().to_string();
            FeedError::at(if path == "." { "frame" } else { &path }, e.inner())
        } else {
            invalid_json(e.into_inner())
        }
    })?;
    de.end().map_err(invalid_json)?;
    if frames.is_empty() {
        return Err(FeedError {
            message: "empty batch: send at least one frame".to_owned(),
        });
    }
    for (i, frame) in frames.iter().enumerate() {
        validate(frame).map_err(|(path, what)| {
            if batch {
                FeedError::at(format!("[{i}].{path}"), what)
            } else {
                FeedError::at(path, what)
            }
        })?;
    }
    Ok(frames)
}

fn invalid_json(e: serde_json::Error) -> FeedError {
    FeedError {
        message: format!("invalid JSON: {e}"),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Checks what serde cannot: enum spellings, ranges and uniqueness. Returns the path and the problem.
fn validate(frame: &FeedFrame) -> Result<(), (String, String)> {
    if frame.lap == 0 {
        return Err(("lap".into(), "laps count from 1".into()));
    }
    // The history keeps a record per lap: a lap count no race has would grow it without bound.
    let most = crate::strategy::lapsim::MAX_RACE_LAPS;
    if frame.lap > most + 1 {
        return Err(("lap".into(), format!("{}: at most {}", frame.lap, most + 1)));
    }
    if frame.total_laps.is_some_and(|t| t > most) {
        return Err(("total_laps".into(), format!("at most {most}")));
    }
    if frame.cars.is_empty() {
        return Err(("cars".into(), "a frame needs at least one car".into()));
    }
    if frame.cars.len() > MAX_CARS {
        return Err((
            "cars".into(),
            format!("{} cars; at most {MAX_CARS}", frame.cars.len()),
        ));
    }
    if let Some(length) = frame.track_length
        && !(length.is_finite() && (500.0..=30_000.0).contains(&length))
    {
        return Err((
            "track_length".into(),
            format!("{length} m is not a lap length (500–30,000 m)"),
        ));
    }
    if let Some(tc) = &frame.track_conditions {
        if let Some(w) = &tc.weather {
            parse_weather(w).map_err(|e| ("track_conditions.weather".into(), e))?;
        }
        if let Some(s) = &tc.track_status {
            parse_track_status(s).map_err(|e| ("track_conditions.track_status".into(), e))?;
        }
        if let Some(t) = tc.temperature
            && !(-30.0..=80.0).contains(&t)
        {
            return Err((
                "track_conditions.temperature".into(),
                format!("{t} °C is not a track temperature"),
            ));
        }
    }
    // Names go into every state the relay keeps and sends: a bound on each.
    let long = |text: &str| text.chars().count() > MAX_TEXT_CHARS;
    for (field, text) in [
        ("track", frame.track.as_deref()),
        ("session_type", frame.session_type.as_deref()),
    ] {
        if text.is_some_and(long) {
            return Err((
                field.into(),
                format!("longer than {MAX_TEXT_CHARS} characters"),
            ));
        }
    }
    let mut ids = BTreeMap::new();
    let mut positions = BTreeMap::new();
    for (i, car) in frame.cars.iter().enumerate() {
        let at = |field: &str| format!("cars[{i}].{field}");
        let id = match &car.car_id {
            CarId::Text(id) => Some(id.as_str()),
            CarId::Number(_) => None,
        };
        for (field, text) in [
            ("car_id", id),
            ("driver", Some(car.driver.as_str())),
            ("team", car.team.as_deref()),
        ] {
            if text.is_some_and(long) {
                return Err((
                    at(field),
                    format!("longer than {MAX_TEXT_CHARS} characters"),
                ));
            }
        }
        if let Some(j) = ids.insert(&car.car_id, i) {
            return Err((at("car_id"), format!("same car_id as cars[{j}]")));
        }
        if car.position == 0 || usize::from(car.position) > frame.cars.len() {
            return Err((
                at("position"),
                format!(
                    "{} is not a position in a field of {}",
                    car.position,
                    frame.cars.len()
                ),
            ));
        }
        if let Some(j) = positions.insert(car.position, i) {
            return Err((at("position"), format!("same position as cars[{j}]")));
        }
        if let Some(tire) = &car.tire {
            parse_compound(&tire.compound).map_err(|e| (at("tire.compound"), e))?;
            if let Some(wear) = tire.wear_level
                && !(0.0..=100.0).contains(&wear)
            {
                return Err((
                    at("tire.wear_level"),
                    format!("{wear} is not a percentage (0–100)"),
                ));
            }
            // A set older than any weekend runs it is a sentinel (a -1 sent unsigned), not an age.
            if let Some(age) = tire.age
                && age > MAX_TYRE_AGE_LAPS
            {
                return Err((
                    at("tire.age"),
                    format!("{age} laps: at most {MAX_TYRE_AGE_LAPS}"),
                ));
            }
        }
        let non_negative = |x: Option<f64>, field: &str| match x {
            Some(v) if !(v.is_finite() && v >= 0.0) => Err((at(field), format!("{v} must be ≥ 0"))),
            _ => Ok(()),
        };
        non_negative(car.speed, "speed")?;
        non_negative(car.fuel_level, "fuel_level")?;
        if let Some(fuel) = car.fuel_level
            && fuel > 200.0
        {
            return Err((
                at("fuel_level"),
                format!("{fuel} kg is more than a car carries"),
            ));
        }
        non_negative(car.lap_time, "lap_time")?;
        non_negative(car.lap_distance, "lap_distance")?;
        if let (Some(d), Some(length)) = (car.lap_distance, frame.track_length)
            && d > length
        {
            return Err((
                at("lap_distance"),
                format!("{d} m is beyond the lap's {length} m"),
            ));
        }
        for (pedal, field) in [(car.throttle, "throttle"), (car.brake, "brake")] {
            if let Some(v) = pedal
                && !(0.0..=100.0).contains(&v)
            {
                return Err((at(field), format!("{v} is not a percentage (0–100)")));
            }
        }
        if let Some(gear) = car.gear
            && !(-1..=8).contains(&gear)
        {
            return Err((at("gear"), format!("{gear} is not a gear (-1 to 8)")));
        }
        if let Some(sectors) = &car.sector_times {
            if sectors.len() > 3 {
                return Err((
                    at("sector_times"),
                    format!("{} sectors; at most 3", sectors.len()),
                ));
            }
            for (k, s) in sectors.iter().enumerate() {
                non_negative(Some(*s), &format!("sector_times[{k}]"))?;
            }
        }
    }
    Ok(())
}

fn key(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

fn parse_compound(s: &str) -> Result<Compound, String> {
    Ok(match key(s).as_str() {
        "soft" | "s" | "c4" | "c5" | "c6" => Compound::Soft,
        "medium" | "m" | "c3" => Compound::Medium,
        "hard" | "h" | "c1" | "c2" => Compound::Hard,
        "intermediate" | "inter" | "i" => Compound::Intermediate,
        "wet" | "w" | "full_wet" => Compound::Wet,
        _ => {
            return Err(format!(
                "unknown compound {s:?}; expected soft, medium, hard, intermediate or wet"
            ));
        }
    })
}

fn parse_weather(s: &str) -> Result<Weather, String> {
    Ok(match key(s).as_str() {
        "clear" | "dry" | "sunny" => Weather::Clear,
        "light_cloud" | "cloudy" => Weather::LightCloud,
        "overcast" => Weather::Overcast,
        "light_rain" | "rain" | "damp" => Weather::LightRain,
        "heavy_rain" | "wet" => Weather::HeavyRain,
        "storm" => Weather::Storm,
        _ => {
            return Err(format!(
                "unknown weather {s:?}; expected clear, light_cloud, overcast, light_rain, heavy_rain or storm"
            ));
        }
    })
}

fn parse_track_status(s: &str) -> Result<TrackStatus, String> {
    Ok(match key(s).as_str() {
        "green" | "clear" => TrackStatus::Green,
        "yellow" => TrackStatus::Yellow,
        "vsc" | "virtual_safety_car" => TrackStatus::VirtualSafetyCar,
        "sc" | "safety_car" => TrackStatus::SafetyCar,
        "red" => TrackStatus::Red,
        _ => {
            return Err(format!(
                "unknown track status {s:?}; expected green, yellow, vsc, sc or red"
            ));
        }
    })
}

fn parse_session_type(s: &str) -> SessionType {
    match key(s).as_str() {
        "practice" | "fp1" | "fp2" | "fp3" | "p" => SessionType::Practice,
        "qualifying" | "q" | "q1" | "q2" | "q3" | "sprint_qualifying" | "sprint_shootout" => {
            SessionType::Qualifying
        }
        "sprint" => SessionType::Sprint,
        "race" | "r" | "grand_prix" => SessionType::Race,
        "time_trial" => SessionType::TimeTrial,
        _ => SessionType::Unknown,
    }
}

/// Turns validated [`FeedFrame`]s into [`RaceState`]s, keeping what the feed does not repeat: laps completed,
/// line-crossing times for gaps, best laps and sectors, and stints.
#[derive(Clone, Debug, Default)]
pub struct FeedNormalizer {
    first_timestamp: Option<f64>,
    last_timestamp: f64,
    frame: Option<FeedFrame>,
    /// Cars by feed id, in order of first appearance (their `car_idx`).
    cars: Vec<FeedSlot>,
    index: BTreeMap<CarId, usize>,
    /// When the first car crossed the line to complete each lap, in feed seconds.
    leader_crossings: BTreeMap<u32, f64>,
    frames: u64,
    stale_frames: u64,
    /// Car entries ignored because the session had used [`MAX_CARS`] ids already.
    refused_cars: u64,
    /// The session before this one: its late frames are stale.
    ended: Option<SessionMark>,
    /// The longest distance along a lap seen, in metres (at least 5 km).
    longest_lap_m: f64,
}

/// What tells one session of a feed from another: its track and session type (when frames name them) and its cars.
#[derive(Clone, Debug)]
struct SessionMark {
    track: Option<String>,
    session_type: Option<String>,
    cars: std::collections::BTreeSet<CarId>,
}

impl SessionMark {
    /// Whether `frame` belongs to this session: no other track or session type (where both name one), and a car
    /// of it.
    fn holds(&self, frame: &FeedFrame) -> bool {
        same_session(
            &self.track,
            &self.session_type,
            |id| self.cars.contains(id),
            frame,
        )
    }
}

/// Whether `frame` belongs to the session with this track and session type whose cars `knows`: no other track or
/// session type (where both name one), and a car it knows.
fn same_session(
    track: &Option<String>,
    session_type: &Option<String>,
    knows: impl Fn(&CarId) -> bool,
    frame: &FeedFrame,
) -> bool {
    let differs =
        |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(a), Some(b)) if a != b);
    !differs(track, &frame.track)
        && !differs(session_type, &frame.session_type)
        && frame.cars.iter().any(|c| knows(&c.car_id))
}

/// What [`FeedNormalizer::push`] did with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Applied to the session under way.
    Applied,
    /// The frame begins another session (see [`FeedNormalizer::push`]): the normalizer forgot the last one and
    /// started over from this frame.
    NewSession,
    /// Older than the last frame: ignored.
    Stale,
}

impl Pushed {
    /// Whether the frame was applied (to the session under way or to a new one).
    pub fn applied(self) -> bool {
        self != Pushed::Stale
    }
}

#[derive(Clone, Debug)]
struct FeedSlot {
    id: CarId,
    laps_completed: u32,
    last_crossing: Option<f64>,
    last_lap_s: Option<f64>,
    best_lap_s: Option<f64>,
    last_sectors_s: [Option<f64>; 3],
    best_sectors_s: [Option<f64>; 3],
    gap_to_leader_s: Option<f64>,
    stints: Vec<Stint>,
    /// The leader's lap (the frame's `lap`) when the car's last stop began its stint (none before a stop).
    stint_began_on: Option<u32>,
    pit_stops: u32,
    grid_position: u8,
    /// Whether the latest frame has the car; a car that drops out of the feed is listed as retired.
    seen: bool,
    /// The car as the feed last showed it.
    last: FeedCar,
}

impl FeedNormalizer {
    /// An empty normalizer.
    pub fn new() -> Self {
        FeedNormalizer {
            longest_lap_m: DEFAULT_TRACK_LENGTH_M,
            ..FeedNormalizer::default()
        }
    }

    /// Frames accepted, and frames ignored because their timestamp went back.
    pub fn counts(&self) -> (u64, u64) {
        (self.frames, self.stale_frames)
    }

    /// Car entries ignored because the session had used [`MAX_CARS`] car ids already (a feed that renumbers its
    /// cars within a session).
    pub fn refused_cars(&self) -> u64 {
        self.refused_cars
    }

    /// Feeds one validated frame (from [`parse`]).
    ///
    /// A frame older than the last one is ignored and counted ([`Pushed::Stale`]), so a feed that resends after a
    /// reconnect does not rewind the race. A frame that names another track or session type than the last one, or
    /// whose cars are all unknown to the session, begins a new session ([`Pushed::NewSession`], whatever its
    /// timestamp): the feed moved on to the next session or race, and its laps, stints and cars must not be added
    /// to the last one's. A late frame of the session before that is stale.
    pub fn push(&mut self, frame: FeedFrame) -> Pushed {
        let t = frame.timestamp.0;
        let new_session = self.begins_new_session(&frame);
        // A late frame of the session before (a batch retried, a resend after a reconnect) is stale, not the start
        // of yet another session: the race would flip between the two.
        if new_session && self.ended.as_ref().is_some_and(|mark| mark.holds(&frame)) {
            self.stale_frames += 1;
            return Pushed::Stale;
        }
        if new_session {
            *self = FeedNormalizer {
                frames: self.frames,
                stale_frames: self.stale_frames,
                refused_cars: self.refused_cars,
                ended: self.session_mark(),
                ..FeedNormalizer::new()
            };
        } else if self.first_timestamp.is_some() && t < self.last_timestamp {
            self.stale_frames += 1;
            return Pushed::Stale;
        }
        self.frames += 1;
        self.first_timestamp.get_or_insert(t);
        self.last_timestamp = t;
        for d in frame.cars.iter().filter_map(|c| c.lap_distance) {
            self.longest_lap_m = self.longest_lap_m.max(d);
        }
        for slot in &mut self.cars {
            slot.seen = false;
        }
        let mut sorted: Vec<&FeedCar> = frame.cars.iter().collect();
        sort_by_key(&mut sorted, |c| c.position);
        for car in sorted {
            let idx = match self.index.get(&car.car_id) {
                Some(&i) => i,
                None => {
                    if self.cars.len() >= MAX_CARS {
                        self.refused_cars += 1;
                        continue;
                    }
                    self.index.insert(car.car_id.clone(), self.cars.len());
                    self.cars.push(FeedSlot {
                        id: car.car_id.clone(),
                        // A feed joined mid-race: every car is assumed to be on the leader's lap.
                        laps_completed: frame.lap.saturating_sub(1),
                        last_crossing: None,
                        last_lap_s: car.lap_time.filter(|x| *x > 0.0),
                        best_lap_s: car.lap_time.filter(|x| *x > 0.0),
                        last_sectors_s: sectors(car),
                        best_sectors_s: sectors(car),
                        gap_to_leader_s: None,
                        stints: Vec::new(),
                        stint_began_on: None,
                        pit_stops: 0,
                        grid_position: if frame.lap <= 1 { car.position } else { 0 },
                        seen: false,
                        last: car.clone(),
                    });
                    self.cars.len() - 1
                }
            };
            let slot = &mut self.cars[idx];
            slot.seen = true;
            slot.last = car.clone();
            let new_lap = car.lap_time.filter(|x| *x > 0.0);
            // No car completes more laps than the leader is on: a feed whose lap times change every frame does
            // not count a lap per frame (nor grow the crossings without bound).
            if new_lap.is_some() && new_lap != slot.last_lap_s && slot.laps_completed < frame.lap {
                slot.laps_completed += 1;
                slot.last_crossing = Some(t);
                slot.last_lap_s = new_lap;
                slot.best_lap_s = min_opt(slot.best_lap_s, new_lap);
                slot.last_sectors_s = sectors(car);
                for k in 0..3 {
                    slot.best_sectors_s[k] =
                        min_opt(slot.best_sectors_s[k], slot.last_sectors_s[k]);
                }
                let lap = slot.laps_completed;
                let leader_t = *self.leader_crossings.entry(lap).or_insert(t);
                slot.gap_to_leader_s = Some(t - leader_t);
            }
            if let Some(tire) = &car.tire
                && let Ok(compound) = parse_compound(&tire.compound)
            {
                let lap_now = slot.laps_completed + 1;
                match slot.stints.last_mut() {
                    // Same compound and not a younger set (an age left out is the same set).
                    Some(stint)
                        if stint.compound == compound
                            && tire.age.is_none_or(|age| age >= stint.start_age_laps) =>
                    {
                        stint.laps = lap_now.saturating_sub(stint.start_lap);
                    }
                    // No car stops twice in a lap: another change on the lap of a stop corrects that stop's tyres
                    // (a feed fixing a frame) instead of adding a stop, so a feed cannot grow the stints per frame.
                    Some(stint) if slot.stint_began_on == Some(frame.lap) => {
                        stint.compound = compound;
                        stint.start_age_laps = tire.age.unwrap_or(stint.start_age_laps);
                    }
                    last => {
                        let stop = last.is_some();
                        if stop {
                            slot.pit_stops += 1;
                        }
                        slot.stint_began_on = stop.then_some(frame.lap);
                        slot.stints.push(Stint {
                            compound,
                            start_lap: lap_now,
                            laps: 0,
                            start_age_laps: tire.age.unwrap_or(0),
                        });
                    }
                }
            }
        }
        self.frame = Some(frame);
        if new_session {
            Pushed::NewSession
        } else {
            Pushed::Applied
        }
    }

    /// Whether `frame` belongs to another session than the last frame: another track or session type (where both
    /// frames name one), or no car the session knows.
    fn begins_new_session(&self, frame: &FeedFrame) -> bool {
        // Every frame asks: read the session in place, the mark (a copy) is taken only when it ends.
        self.frame.as_ref().is_some_and(|last| {
            !same_session(
                &last.track,
                &last.session_type,
                |id| self.index.contains_key(id),
                frame,
            )
        })
    }

    /// What tells the session under way from another, kept when it ends.
    fn session_mark(&self) -> Option<SessionMark> {
        let last = self.frame.as_ref()?;
        Some(SessionMark {
            track: last.track.clone(),
            session_type: last.session_type.clone(),
            cars: self.index.keys().cloned().collect(),
        })
    }

    /// The race as a [`RaceState`], once a frame arrived. Times are seconds since the first frame.
    pub fn state(&self) -> Option<RaceState> {
        let frame = self.frame.as_ref()?;
        let first = self.first_timestamp?;
        let tc = frame.track_conditions.clone().unwrap_or_default();
        let track_status = tc
            .track_status
            .as_deref()
            .and_then(|s| parse_track_status(s).ok())
            .unwrap_or_default();
        let weather = tc
            .weather
            .as_deref()
            .and_then(|s| parse_weather(s).ok())
            .unwrap_or(Weather::Clear);
        // Cars in the frame in the feed's order, then cars that dropped out of the feed (retired) behind them.
        let mut order: Vec<usize> = (0..self.cars.len()).collect();
        sort_by_key(&mut order, |&i| {
            (!self.cars[i].seen, self.cars[i].last.position, i)
        });
        // A feed that measures neither tyre wear nor fuel is a timing feed: the twins then model both from the lap
        // times (zeros read as measurements would be an empty tank and new tyres all race). In a feed that does, a
        // car given neither has its telemetry hidden.
        let timing_only = !frame.cars.iter().any(FeedCar::measured);
        let mut cars: Vec<CarState> = order
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let mut car = self.car_state(i, k as u8 + 1, frame);
                car.telemetry_restricted = !timing_only && !self.cars[i].last.measured();
                car
            })
            .collect();
        // The interval is the gap difference to the car ahead (the leader's gap is zero).
        for k in 1..cars.len() {
            let ahead = if k == 1 {
                Some(0.0)
            } else {
                cars[k - 1].gap_to_leader_s
            };
            cars[k].interval_s = match (cars[k].gap_to_leader_s, ahead) {
                (Some(a), Some(b)) => Some((a - b).max(0.0)),
                _ => None,
            };
        }
        Some(RaceState {
            schema_version: SCHEMA_VERSION,
            source: DataSource::Live,
            session_time_s: self.last_timestamp - first,
            session: SessionInfo {
                track: frame.track.clone().unwrap_or_else(|| "Unknown".to_owned()),
                // The frame's, else the longest distance along a lap seen so far (at least 5 km): the state's
                // distances must lie within it.
                track_length_m: frame.track_length.unwrap_or(self.longest_lap_m),
                total_laps: frame.total_laps.unwrap_or(frame.lap).max(frame.lap),
                session_type: frame
                    .session_type
                    .as_deref()
                    .map_or(SessionType::Unknown, parse_session_type),
                phase: SessionPhase::Running,
                leader_lap: frame.lap,
                weather,
                air_temp_c: tc.temperature.unwrap_or(0.0),
                track_temp_c: tc.temperature.unwrap_or(0.0),
                forecast: Vec::new(),
                track_status,
                pit_lane_loss_s: DEFAULT_PIT_LANE_LOSS_S,
                timing_only,
            },
            cars,
        })
    }

    fn car_state(&self, idx: usize, position: u8, frame: &FeedFrame) -> CarState {
        let slot = &self.cars[idx];
        let car = &slot.last;
        let tyres = car.tire.as_ref().map_or(
            TyreSet {
                compound: Compound::Medium,
                age_laps: 0,
                corners: Corners::default(),
            },
            |tire| TyreSet {
                compound: parse_compound(&tire.compound).unwrap_or(Compound::Medium),
                age_laps: tire.age.unwrap_or_else(|| {
                    slot.stints
                        .last()
                        .map_or(0, |s| s.start_age_laps.saturating_add(s.laps))
                }),
                corners: Corners::from_array(
                    [TyreCorner {
                        wear_pct: tire.wear_level.unwrap_or(0.0),
                        ..TyreCorner::default()
                    }; 4],
                ),
            },
        );
        let team = car.team.clone().unwrap_or_else(|| "Unknown".to_owned());
        let is_leader = position == 1;
        let lap = (slot.laps_completed + 1).min(frame.lap.max(1));
        CarState {
            car_idx: idx as u8,
            position,
            driver: Driver {
                code: driver_code(&car.driver),
                name: car.driver.clone(),
                number: match &slot.id {
                    CarId::Number(n) => u8::try_from(*n).unwrap_or(0),
                    CarId::Text(_) => 0,
                },
            },
            team: Team {
                colour: team_colour(&team).to_owned(),
                name: team,
            },
            grid_position: slot.grid_position,
            lap,
            lap_distance_m: car.lap_distance.unwrap_or(0.0),
            speed_kph: car.speed.unwrap_or(0.0),
            // Zero when the feed leaves the extensions out, as a timing feed has none.
            throttle_pct: car.throttle.unwrap_or(0.0),
            brake_pct: car.brake.unwrap_or(0.0),
            gear: car.gear.unwrap_or(0),
            current_lap_s: slot
                .last_crossing
                .map_or(0.0, |c| (self.last_timestamp - c).max(0.0)),
            last_lap_s: slot.last_lap_s,
            best_lap_s: slot.best_lap_s,
            last_sectors_s: slot.last_sectors_s,
            best_sectors_s: slot.best_sectors_s,
            gap_to_leader_s: if is_leader {
                None
            } else {
                slot.gap_to_leader_s
            },
            interval_s: None,
            laps_down: frame.lap.saturating_sub(lap),
            pit_status: PitStatus::None,
            pit_stops: slot.pit_stops,
            penalties_s: car.penalty_s.unwrap_or(0),
            unserved_penalties: 0,
            stints: slot.stints.clone(),
            tyres,
            fuel_kg: car.fuel_level.unwrap_or(0.0),
            ers_store_pct: 0.0,
            damage: Damage::default(),
            driver_status: DriverStatus::OnTrack,
            result_status: if slot.seen {
                ResultStatus::Active
            } else {
                ResultStatus::Retired
            },
            telemetry_restricted: false,
        }
    }
}

fn sectors(car: &FeedCar) -> [Option<f64>; 3] {
    let mut out = [None; 3];
    for (slot, s) in out.iter_mut().zip(car.sector_times.iter().flatten()) {
        *slot = (*s > 0.0).then_some(*s);
    }
    out
}

fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests;
