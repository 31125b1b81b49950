//! The wire types: the race state model (schema version 1) that every source produces and every consumer reads.
//!
//! These types are a compatibility boundary. The relay persists them and sends them over WebSocket, the browser
//! decodes them, and recordings keep them, so a change here is a schema change: bump [`SCHEMA_VERSION`] and say so
//! in `ARCHITECTURE.md`. Engine internals (the simulator's per-lap plans, the twin's regressions) stay out of here.
//!
//! Conventions:
//! - units are in field names: `_s` seconds, `_m` metres, `_kg` kilograms, `_pct` percent (`0.0..=100.0`),
//!   `_c` degrees Celsius, `_psi` pounds per square inch, `_kph` kilometres per hour;
//! - laps are 1-based: `lap` is the lap a car is currently on, so it has completed `lap - 1` laps;
//! - `Option` means "not known yet" (no lap completed, no car ahead), never a sentinel number;
//! - cars are listed in running order (position 1 first); `car_idx` is the stable identity of a car in a session.

use serde::{Deserialize, Serialize};

/// Version of the JSON schema of [`RaceState`] and [`LapRecord`]. Bumped on every incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole race at one instant: the session and every car in running order.
///
/// Invariants (checked by [`RaceState::check_invariants`]): positions are `1..=cars.len()` in list order,
/// `car_idx` values are unique, fuel and wear are within their ranges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaceState {
    /// Always [`SCHEMA_VERSION`] when produced by this build.
    pub schema_version: u32,
    /// Where the data comes from. Simulated data is always labelled as such.
    pub source: DataSource,
    /// Time since the start of the session, in seconds (the race start is at `0.0`).
    pub session_time_s: f64,
    /// Session-wide facts: track, laps, weather, track status.
    pub session: SessionInfo,
    /// Every car in the session, in running order (position 1 first). Retired cars stay listed at the end.
    pub cars: Vec<CarState>,
}

/// Origin of a [`RaceState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// boxbox's own race simulator: not a real session.
    Simulator,
    /// A live feed: the game's UDP telemetry or a JSON feed.
    Live,
    /// A recording played back.
    Replay,
}

/// Session-wide information.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Track name, e.g. `"Sakhir"`.
    pub track: String,
    /// Length of one lap, in metres.
    pub track_length_m: f64,
    /// Scheduled race distance in laps.
    pub total_laps: u32,
    /// Race, qualifying, practice…
    pub session_type: SessionType,
    /// Whether the race has started, is running or is over.
    pub phase: SessionPhase,
    /// The lap the leader is on (1-based; equals `total_laps` on the last lap).
    pub leader_lap: u32,
    /// Current weather.
    pub weather: Weather,
    /// Air temperature, in °C.
    pub air_temp_c: f64,
    /// Track surface temperature, in °C.
    pub track_temp_c: f64,
    /// The weather forecast for this session, soonest first (the game's Session packet; other sources send none).
    /// Absent in older JSON and left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forecast: Vec<Forecast>,
    /// Flag state of the whole track.
    pub track_status: TrackStatus,
    /// Time lost by a pit stop compared with staying out under green, in seconds (pit-lane drive plus the
    /// typical standstill).
    pub pit_lane_loss_s: f64,
    /// The source gives timing only (positions, laps, sectors, compounds, pit stops), as a real race's timing feed
    /// does: tyre wear, fuel, ERS, damage and temperatures are not measured and read as zero. The twins then model
    /// tyres from lap times and fuel from the calibration. Absent in older JSON: `false`.
    #[serde(default)]
    pub timing_only: bool,
}

/// One sample of the weather forecast.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Minutes from now the sample is for.
    pub in_min: u32,
    /// The weather then.
    pub weather: Weather,
    /// Chance of rain, percent.
    pub rain_pct: u8,
}

/// Kind of session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionType {
    /// Any practice session.
    Practice,
    /// Any qualifying session.
    Qualifying,
    /// Sprint race.
    Sprint,
    /// Grand Prix race.
    Race,
    /// Time trial.
    TimeTrial,
    /// Not known (e.g. not reported yet by the source).
    Unknown,
}

/// Phase of a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPhase {
    /// Before the start.
    #[default]
    NotStarted,
    /// Racing (including under safety car).
    Running,
    /// The chequered flag has been shown to the leader; other cars are finishing their last lap.
    Chequered,
    /// Every car has finished or retired.
    Finished,
}

/// Weather as the games report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weather {
    /// Clear sky.
    Clear,
    /// Light cloud.
    LightCloud,
    /// Overcast.
    Overcast,
    /// Light rain.
    LightRain,
    /// Heavy rain.
    HeavyRain,
    /// Storm.
    Storm,
}

/// Flag state of the whole track.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TrackStatus {
    /// Racing.
    #[default]
    Green,
    /// Local yellow flags somewhere on track.
    Yellow,
    /// Virtual safety car: every car holds a delta time, gaps are frozen.
    VirtualSafetyCar,
    /// Safety car on track: no overtaking, the field bunches up behind it.
    SafetyCar,
    /// Session stopped.
    Red,
}

impl TrackStatus {
    /// True under a safety car or a virtual safety car, when lap times are not representative of pace.
    pub fn is_neutralised(self) -> bool {
        matches!(
            self,
            TrackStatus::SafetyCar | TrackStatus::VirtualSafetyCar | TrackStatus::Red
        )
    }
}

/// One car: timing, tyres, fuel, energy, damage and status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CarState {
    /// Stable index of the car in the session (`0..cars.len()`), e.g. the game's car index.
    pub car_idx: u8,
    /// Running position, 1-based.
    pub position: u8,
    /// Who drives the car.
    pub driver: Driver,
    /// Which team runs it.
    pub team: Team,
    /// Grid position at the start, 1-based.
    pub grid_position: u8,
    /// The lap the car is on, 1-based.
    pub lap: u32,
    /// Distance from the start line along the current lap, in metres (`0.0..track_length_m`).
    pub lap_distance_m: f64,
    /// Current speed, in km/h.
    pub speed_kph: f64,
    /// Throttle pedal, percent (`0..=100`). Absent in older JSON, and `0` where the source has no car telemetry
    /// (timing feeds).
    #[serde(default)]
    pub throttle_pct: f64,
    /// Brake pedal, percent (`0..=100`). Absent in older JSON: `0`.
    #[serde(default)]
    pub brake_pct: f64,
    /// Gear: `-1` reverse, `0` neutral, `1..=8`. Absent in older JSON: `0`.
    #[serde(default)]
    pub gear: i8,
    /// Time of the current lap so far, in seconds.
    pub current_lap_s: f64,
    /// Last completed lap time, in seconds.
    pub last_lap_s: Option<f64>,
    /// Best completed lap time this session, in seconds.
    pub best_lap_s: Option<f64>,
    /// Sector times of the last completed lap, in seconds.
    pub last_sectors_s: [Option<f64>; 3],
    /// Best time of each sector this session, in seconds.
    pub best_sectors_s: [Option<f64>; 3],
    /// Time behind the leader at this point of the track, in seconds; `None` for the leader.
    pub gap_to_leader_s: Option<f64>,
    /// Time behind the car one position ahead, in seconds; `None` for the leader.
    pub interval_s: Option<f64>,
    /// Laps behind the leader (0 on the lead lap).
    pub laps_down: u32,
    /// Whether the car is in the pit lane.
    pub pit_status: PitStatus,
    /// Pit stops made so far.
    pub pit_stops: u32,
    /// Time penalties given and not yet served, in seconds: served by standing still at the next stop, else added
    /// to the race time at the flag (the game's `penalties`). Absent in older JSON, and `0` where the source does
    /// not report penalties: none known.
    #[serde(default)]
    pub penalties_s: u32,
    /// Drive-through and stop-go penalties given and not yet served. Absent in older JSON: `0`.
    #[serde(default)]
    pub unserved_penalties: u8,
    /// Every stint so far, oldest first; the last one is the current stint.
    pub stints: Vec<Stint>,
    /// The tyres fitted now.
    pub tyres: TyreSet,
    /// Fuel on board, in kilograms (never negative).
    pub fuel_kg: f64,
    /// Energy in the ERS store, percent of its 4 MJ capacity.
    pub ers_store_pct: f64,
    /// Damage to the car's parts.
    pub damage: Damage,
    /// What the driver is doing.
    pub driver_status: DriverStatus,
    /// Where the car stands in the classification.
    pub result_status: ResultStatus,
    /// The source hides this car's fuel, ERS, tyre wear and damage, which read as zero: in an online session the
    /// game zeroes them for everyone but the car's own driver when that driver's "Your Telemetry" is restricted
    /// (EA's default), and a JSON feed may carry them for some cars only. Timing, tyre compound and age, speed and
    /// pedals stay measured. The twins then model this car's tyres from its lap times and its fuel from the
    /// calibration, as for a timing-only session. Absent in older JSON, and left out when `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub telemetry_restricted: bool,
}

/// A driver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    /// Three-letter code shown on timing screens, e.g. `"HAM"`.
    pub code: String,
    /// Full name.
    pub name: String,
    /// Race number.
    pub number: u8,
}

/// A team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Team name, e.g. `"Mercedes"`.
    pub name: String,
    /// Team colour as `#rrggbb`.
    pub colour: String,
}

/// Pit-lane status of a car.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PitStatus {
    /// On track.
    None,
    /// Driving in the pit lane.
    PitLane,
    /// Stationary in the pit box.
    PitBox,
}

/// What the driver is doing, as the games report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverStatus {
    /// In the garage.
    InGarage,
    /// On a lap that counts.
    FlyingLap,
    /// On the lap into the pits.
    InLap,
    /// On the lap out of the pits.
    OutLap,
    /// On track otherwise (e.g. after the flag).
    OnTrack,
}

/// Classification status of a car.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    /// Racing.
    Active,
    /// Took the chequered flag.
    Finished,
    /// Did not finish (accident).
    Dnf,
    /// Retired (mechanical failure or withdrawn).
    Retired,
    /// Disqualified.
    Disqualified,
}

impl ResultStatus {
    /// True for a car that is out of the race for good.
    pub fn is_out(self) -> bool {
        matches!(
            self,
            ResultStatus::Dnf | ResultStatus::Retired | ResultStatus::Disqualified
        )
    }
}

/// Dry and wet tyre compounds, relative to the event (soft is the softest of the weekend's three).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compound {
    /// Softest dry compound of the event.
    Soft,
    /// Middle dry compound.
    Medium,
    /// Hardest dry compound.
    Hard,
    /// Intermediate (light wet).
    Intermediate,
    /// Full wet.
    Wet,
}

impl Compound {
    /// The dry compounds, softest first.
    pub const DRY: [Compound; 3] = [Compound::Soft, Compound::Medium, Compound::Hard];

    /// True for slick tyres, which count towards the two-dry-compound rule.
    pub fn is_dry(self) -> bool {
        matches!(self, Compound::Soft | Compound::Medium | Compound::Hard)
    }

    /// The compound's name, lowercase, as radio lines say it.
    pub fn name(self) -> &'static str {
        match self {
            Compound::Soft => "soft",
            Compound::Medium => "medium",
            Compound::Hard => "hard",
            Compound::Intermediate => "intermediate",
            Compound::Wet => "wet",
        }
    }

    /// One-letter label used on timing screens.
    pub fn letter(self) -> char {
        match self {
            Compound::Soft => 'S',
            Compound::Medium => 'M',
            Compound::Hard => 'H',
            Compound::Intermediate => 'I',
            Compound::Wet => 'W',
        }
    }
}

/// One stint: a set of tyres from the lap it was fitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stint {
    /// Compound of the set.
    pub compound: Compound,
    /// The lap on which the stint began (1 for the start).
    pub start_lap: u32,
    /// Laps completed on this set in this stint.
    pub laps: u32,
    /// Age of the set when fitted, in laps (used sets from qualifying are not new).
    pub start_age_laps: u32,
}

/// Values for each of the four tyres.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Corners<T> {
    /// Front left.
    pub front_left: T,
    /// Front right.
    pub front_right: T,
    /// Rear left.
    pub rear_left: T,
    /// Rear right.
    pub rear_right: T,
}

/// The four corners, in the order [`Corners::as_array`] uses.
pub const CORNER_NAMES: [&str; 4] = ["front-left", "front-right", "rear-left", "rear-right"];

impl<T: Copy> Corners<T> {
    /// Builds corners from `[front_left, front_right, rear_left, rear_right]`.
    pub fn from_array([front_left, front_right, rear_left, rear_right]: [T; 4]) -> Self {
        Corners {
            front_left,
            front_right,
            rear_left,
            rear_right,
        }
    }

    /// `[front_left, front_right, rear_left, rear_right]`.
    pub fn as_array(&self) -> [T; 4] {
        [
            self.front_left,
            self.front_right,
            self.rear_left,
            self.rear_right,
        ]
    }

    /// Applies `f` to each corner.
    pub fn map<U: Copy>(&self, mut f: impl FnMut(T) -> U) -> Corners<U> {
        let [a, b, c, d] = self.as_array();
        Corners::from_array([f(a), f(b), f(c), f(d)])
    }
}

/// The tyre set fitted to a car.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TyreSet {
    /// Compound.
    pub compound: Compound,
    /// Laps on this set, including laps before this stint.
    pub age_laps: u32,
    /// Per-corner condition.
    pub corners: Corners<TyreCorner>,
}

/// Condition of one tyre.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TyreCorner {
    /// Tread wear, percent (`0.0` new, `100.0` worn through).
    pub wear_pct: f64,
    /// Surface temperature, in °C.
    pub surface_temp_c: f64,
    /// Carcass (inner) temperature, in °C.
    pub inner_temp_c: f64,
    /// Pressure, in psi.
    pub pressure_psi: f64,
    /// Blistering, percent, where the source measures it (the F1 25 game on); `None` otherwise (older games, the
    /// simulator, timing feeds). Absent in older JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blister_pct: Option<f64>,
}

/// Damage to a car, each part in percent (`0.0` intact, `100.0` destroyed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Damage {
    /// Front wing, left side.
    pub front_left_wing_pct: f64,
    /// Front wing, right side.
    pub front_right_wing_pct: f64,
    /// Rear wing.
    pub rear_wing_pct: f64,
    /// Floor.
    pub floor_pct: f64,
    /// Gearbox wear.
    pub gearbox_pct: f64,
    /// Engine wear.
    pub engine_pct: f64,
}

impl Damage {
    /// The worst-damaged part, in percent.
    pub fn worst_pct(&self) -> f64 {
        [
            self.front_left_wing_pct,
            self.front_right_wing_pct,
            self.rear_wing_pct,
            self.floor_pct,
            self.gearbox_pct,
            self.engine_pct,
        ]
        .into_iter()
        .fold(0.0, f64::max)
    }
}

/// One completed lap of one car, as seen at the line: what the twins learn from.
///
/// Produced from a stream of [`RaceState`]s by [`crate::history::LapRecorder`], so that every source yields the same
/// history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LapRecord {
    /// The car.
    pub car_idx: u8,
    /// The lap number that was completed.
    pub lap: u32,
    /// Lap time, in seconds.
    pub lap_time_s: f64,
    /// Position at the end of the lap.
    pub position: u8,
    /// Compound used on this lap (the set fitted when the lap ended).
    pub compound: Compound,
    /// Age of that set at the end of the lap, in laps.
    pub tyre_age_laps: u32,
    /// Tyre wear at the end of the lap, percent.
    pub wear_pct: Corners<f64>,
    /// Fuel on board at the end of the lap, in kilograms.
    pub fuel_kg: f64,
    /// The most restrictive track status seen during the lap.
    pub track_status: TrackStatus,
    /// The car was in the pit lane at some point of this lap.
    pub pit_lane: bool,
    /// Sector times of the lap, in seconds, where the source reports them. Absent in older JSON: unknown.
    #[serde(default)]
    pub sectors_s: [Option<f64>; 3],
    /// Energy in the ERS store at the end of the lap, percent. Absent in older JSON: `0.0`.
    #[serde(default)]
    pub ers_store_pct: f64,
    /// Time behind the leader at the line, in seconds (`None` for the leader). Absent in older JSON: unknown.
    #[serde(default)]
    pub gap_to_leader_s: Option<f64>,
}

/// A violated invariant of a [`RaceState`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StateError {
    /// Positions must be `1..=n` in list order.
    #[error("car {car_idx} is listed at index {index} with position {position}")]
    Position {
        /// The car.
        car_idx: u8,
        /// Its index in `cars`.
        index: usize,
        /// Its reported position.
        position: u8,
    },
    /// Each car appears once.
    #[error("car index {0} appears more than once")]
    DuplicateCar(u8),
    /// A value is out of its documented range.
    #[error("car {car_idx}: {field} = {value} is out of range")]
    OutOfRange {
        /// The car.
        car_idx: u8,
        /// The field's name.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
}

impl RaceState {
    /// Checks the invariants documented on [`RaceState`].
    ///
    /// # Errors
    /// The first violated invariant.
    pub fn check_invariants(&self) -> Result<(), StateError> {
        let mut seen = [false; 256];
        for (index, car) in self.cars.iter().enumerate() {
            if usize::from(car.position) != index + 1 {
                return Err(StateError::Position {
                    car_idx: car.car_idx,
                    index,
                    position: car.position,
                });
            }
            if std::mem::replace(&mut seen[usize::from(car.car_idx)], true) {
                return Err(StateError::DuplicateCar(car.car_idx));
            }
            let range = |field: &'static str, value: f64, lo: f64, hi: f64| {
                if (lo..=hi).contains(&value) {
                    Ok(())
                } else {
                    Err(StateError::OutOfRange {
                        car_idx: car.car_idx,
                        field,
                        value,
                    })
                }
            };
            range("fuel_kg", car.fuel_kg, 0.0, 200.0)?;
            range("ers_store_pct", car.ers_store_pct, 0.0, 100.0)?;
            range("throttle_pct", car.throttle_pct, 0.0, 100.0)?;
            range("brake_pct", car.brake_pct, 0.0, 100.0)?;
            range(
                "lap_distance_m",
                car.lap_distance_m,
                0.0,
                self.session.track_length_m,
            )?;
            for corner in car.tyres.corners.as_array() {
                range("wear_pct", corner.wear_pct, 0.0, 100.0)?;
                if let Some(blister) = corner.blister_pct {
                    range("blister_pct", blister, 0.0, 100.0)?;
                }
            }
        }
        Ok(())
    }

    /// The car with this index, if present.
    pub fn car(&self, car_idx: u8) -> Option<&CarState> {
        self.cars.iter().find(|c| c.car_idx == car_idx)
    }

    /// Whether the source measures `car`'s fuel, ERS, tyre wear and damage: not in a timing-only session, nor for
    /// a car whose telemetry is restricted.
    pub fn measures(&self, car: &CarState) -> bool {
        !self.session.timing_only && !car.telemetry_restricted
    }
}
