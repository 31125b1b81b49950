//! Real races from files: the FastF1 per-lap timing and the f1db results of one race as a [`RealRace`], and that
//! race replayed as a time-ordered sequence of [`RaceState`](crate::wire::RaceState)s ([`RealRace::states`]), and
//! a live session read as a race so far ([`RealRace::from_live`]).
//!
//! The engine does no IO: [`RaceFiles`] holds the files' contents, read by the caller from a race folder of
//! `shared/data/races` (named by [`FILE_NAMES`]; the folder's `README.txt` describes every column).
//!
//! What the files give and what is reconstructed:
//! - Session times are relative to the race start. FastF1's `Time` counts from the session's start, so the race
//!   start is the winner's end-of-race `Time` minus its official race time from f1db, minus its time penalty (the
//!   official time includes it).
//! - A car's line crossings are its lap-1 `LapTime` plus the `Time` elapsed since; without a lap-1 time, its `Time`
//!   minus the race start. (A car that pitted on lap 1 may have every `Time` shifted by seconds while its lap times
//!   still add up to its official time: Monza 2019, Verstappen.) Pit entry and exit times are minus the race start.
//! - An empty `LapTime` is `Time(n) − Time(n−1)`, lap 1 counting from the race start ([`RealLap::lap_time_reconstructed`]).
//! - A lap row past the laps f1db counts for a driver is the lap the car did not complete; it is not a lap, but its
//!   pit times and its `Time` say when the car stopped ([`Retirement`]).
//! - A lap-1 `PitOutTime` or `PitInTime` before the start is the trip from the garage to the grid and is ignored; a
//!   lap-1 `PitOutTime` after the start is a pit-lane start.
//! - Track status is FastF1's digits: `1` green, `2` yellow, `4` SC, `5` red, `6` VSC, `7` VSC ending; a lap's
//!   [`RealLap::track_status`] is the worst it saw (red over SC over VSC over yellow over green).

mod live;
mod states;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::sorting::sort_by_key;
use crate::wire::{Compound, ResultStatus, TrackStatus};

pub use live::{LiveRace, LiveRaceError};
pub use states::RaceEvent;

/// The FastF1 per-lap timing file of a race folder.
pub const LAPS_CSV: &str = "laps_fastf1_armchair.csv";
/// The f1db race file (name, circuit, length, laps).
pub const RACE_CSV: &str = "f1db_race.csv";
/// The f1db classification file.
pub const RESULTS_CSV: &str = "f1db_race_results.csv";
/// The f1db pit-stop file.
pub const PIT_STOPS_CSV: &str = "f1db_pit_stops.csv";
/// The f1db starting-grid file.
pub const GRID_CSV: &str = "f1db_starting_grid_positions.csv";
/// The five files a race folder must hold, in the order of [`RaceFiles::from_array`].
pub const FILE_NAMES: [&str; 5] = [LAPS_CSV, RACE_CSV, RESULTS_CSV, PIT_STOPS_CSV, GRID_CSV];

/// The contents of the five files of one race folder.
#[derive(Clone, Copy, Debug)]
pub struct RaceFiles<'a> {
    /// [`LAPS_CSV`]: one row per driver per lap.
    pub laps_csv: &'a str,
    /// [`RACE_CSV`]: one row.
    pub race_csv: &'a str,
    /// [`RESULTS_CSV`]: one row per driver.
    pub results_csv: &'a str,
    /// [`PIT_STOPS_CSV`]: one row per stop.
    pub pit_stops_csv: &'a str,
    /// [`GRID_CSV`]: one row per starter.
    pub grid_csv: &'a str,
}

impl<'a> RaceFiles<'a> {
    /// The files' contents in the order of [`FILE_NAMES`].
    pub fn from_array(
        [laps_csv, race_csv, results_csv, pit_stops_csv, grid_csv]: [&'a str; 5],
    ) -> Self {
        RaceFiles {
            laps_csv,
            race_csv,
            results_csv,
            pit_stops_csv,
            grid_csv,
        }
    }
}

/// Why a race folder could not be imported. Every variant names the file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// The file is not well-formed CSV (e.g. a row with a different number of fields than the header).
    #[error("{file}: line {line}: {message}")]
    Csv {
        /// The file's name (one of [`FILE_NAMES`]).
        file: &'static str,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A value is missing or does not parse (a missing column is reported on the first data row).
    #[error("{file}: line {line}, column {column}: {message}")]
    Value {
        /// The file's name (one of [`FILE_NAMES`]).
        file: &'static str,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// The column's header, or `*` when the row as a whole is wrong.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// The files parse but lack something the import needs, or disagree (no winner, a lap count that differs).
    #[error("{file}: {message}")]
    Inconsistent {
        /// The file's name (one of [`FILE_NAMES`]).
        file: &'static str,
        /// What is wrong, naming the driver or lap.
        message: String,
    },
}

/// One real race: the field, every lap of every car, the pit stops and the classification.
///
/// Invariants (established by [`RealRace::parse`]): `drivers()[i].car_idx == i`, in grid order; each driver's laps
/// are numbered `1..=n` with strictly increasing `end_s`; every session time is relative to the race start.
#[derive(Clone, Debug, PartialEq)]
pub struct RealRace {
    name: String,
    circuit_id: String,
    track: String,
    date: String,
    track_length_m: f64,
    total_laps: u32,
    start_session_time_s: f64,
    drivers: Vec<RealDriver>,
    pit_stops: Vec<RealPitStop>,
    pit_lane_loss_s: f64,
    pit_lane_loss_stops: usize,
}

/// One driver's race.
#[derive(Clone, Debug, PartialEq)]
pub struct RealDriver {
    /// Index of the car in the session (`0..n`, grid order): the `car_idx` of its [`crate::wire::CarState`].
    pub car_idx: u8,
    /// Three-letter code, e.g. `"HAM"`.
    pub code: String,
    /// Full name, from f1db's driver id (`"lewis-hamilton"` → `"Lewis Hamilton"`).
    pub name: String,
    /// Race number.
    pub number: u8,
    /// Team name as FastF1 gives it (e.g. `"Red Bull Racing"`); a driver without laps takes a team-mate's.
    pub team: String,
    /// Team colour as `#rrggbb` (the 2019 calibration's colours for 2019 races, the current grid's otherwise).
    pub team_colour: String,
    /// Starting position, 1-based: f1db's grid, pit-lane starters (`PL`) after the last grid slot.
    pub grid_position: u8,
    /// Started from the pit lane.
    pub pit_lane_start: bool,
    /// Where f1db classifies the driver.
    pub classification: Classification,
    /// Every completed lap, lap 1 first.
    pub laps: Vec<RealLap>,
    /// How the race ended for a driver who did not take the flag; `None` for a finisher.
    pub retirement: Option<Retirement>,
}

/// f1db's classification of one driver.
#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    /// Classified position, `None` when not classified (`DNF`, `DSQ`…).
    pub position: Option<u8>,
    /// f1db's `position` text: `"1"`…, `"DNF"`, `"DSQ"`.
    pub position_text: String,
    /// Laps completed.
    pub laps: u32,
    /// Official race time including the penalty, in seconds: f1db gives it for finishers on the lead lap only.
    pub time_s: Option<f64>,
    /// Time penalty added to the race time, in seconds (0 when none).
    pub time_penalty_s: f64,
    /// Why the car stopped (f1db `reasonRetired`), `None` for a finisher.
    pub reason_retired: Option<String>,
}

/// How a driver's race ended early.
#[derive(Clone, Debug, PartialEq)]
pub struct Retirement {
    /// Session time at which the car is out: the `Time` of the lap it did not complete, else the end of its last lap
    /// (0 for a car that completed none), in seconds.
    pub at_s: f64,
    /// Pit exit on the lap it did not complete (after a stop at the end of its last lap), in session seconds.
    pub pit_out_s: Option<f64>,
    /// Pit entry on the lap it did not complete (it retired in the pits), in session seconds.
    pub pit_in_s: Option<f64>,
    /// [`ResultStatus::Dnf`] for accidents and damage, [`ResultStatus::Retired`] for failures and withdrawals,
    /// [`ResultStatus::Disqualified`].
    pub status: ResultStatus,
}

/// One completed lap of one driver.
#[derive(Clone, Debug, PartialEq)]
pub struct RealLap {
    /// Lap number, 1-based.
    pub lap: u32,
    /// Lap time, in seconds.
    pub lap_time_s: f64,
    /// FastF1 had no `LapTime`: it is the difference of the end-of-lap session times.
    pub lap_time_reconstructed: bool,
    /// Session time when the car crossed the line to complete the lap, in seconds since the race start.
    pub end_s: f64,
    /// Position at the end of the lap, as FastF1 gives it.
    pub position: Option<u8>,
    /// Stint number, 1-based.
    pub stint: u32,
    /// Compound of the set used on this lap.
    pub compound: Compound,
    /// Laps on the set at the end of this lap, including laps before the race (FastF1 `TyreLife`).
    pub tyre_life_laps: u32,
    /// Pit-lane entry during this lap (the in-lap), in session seconds. FastF1 may place it just after `end_s`.
    pub pit_in_s: Option<f64>,
    /// Pit-lane exit during this lap (the out-lap), in session seconds.
    pub pit_out_s: Option<f64>,
    /// The worst track status seen during the lap.
    pub track_status: TrackStatus,
    /// FastF1's track-status digits of the lap, e.g. `"24"` (yellow, then SC).
    pub track_status_codes: String,
}

/// One pit stop as f1db lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct RealPitStop {
    /// The car ([`RealDriver::car_idx`]).
    pub car_idx: u8,
    /// Driver code.
    pub driver_code: String,
    /// The driver's stop number, 1-based.
    pub stop: u32,
    /// The in-lap: the lap at whose end the car entered the pits.
    pub lap: u32,
    /// Time in the pit lane, entry to exit, in seconds.
    pub pit_lane_s: f64,
    /// A set was fitted ([`RealDriver::tyres_changed_at`]). False for a drive-through, a stop-go or a repair
    /// without tyres: no strategy stop.
    pub tyres_changed: bool,
}

impl RealLap {
    /// Whether `next`, the lap after this one, runs on another set: another compound, or a tyre life that does not
    /// go on from this lap's (a drive-through, a stop-go or a repair stop keeps the set).
    pub fn changes_set_to(&self, next: &RealLap) -> bool {
        next.compound != self.compound
            || self.tyre_life_laps.checked_add(1) != Some(next.tyre_life_laps)
    }

    /// A lap that shows pace: green only (track status `1`), not lap 1, no pit entry or exit, timed by FastF1.
    pub fn is_clean(&self) -> bool {
        self.lap > 1
            && self.track_status_codes == "1"
            && self.pit_in_s.is_none()
            && self.pit_out_s.is_none()
            && !self.lap_time_reconstructed
    }
}

impl RealDriver {
    /// Whether the stop at the end of lap `in_lap` fitted a set: some lap from there up to the next in-lap shows
    /// another compound or a tyre life that does not go on (FastF1 may show a new set a few laps late). A
    /// drive-through, a stop-go or a repair without tyres keeps the set. True where the laps do not say.
    pub fn tyres_changed_at(&self, in_lap: u32) -> bool {
        let Some(start) = self.laps.iter().position(|l| l.lap == in_lap) else {
            return true;
        };
        let mut pairs = self.laps[start..]
            .windows(2)
            .take_while(|w| w[0].lap == in_lap || w[0].pit_in_s.is_none())
            .peekable();
        pairs.peek().is_none() || pairs.any(|w| w[0].changes_set_to(&w[1]))
    }

    /// Took the chequered flag (classified and not retired).
    pub fn is_finisher(&self) -> bool {
        self.retirement.is_none()
    }

    /// Median of the driver's clean laps ([`RealLap::is_clean`]), in seconds.
    pub fn median_clean_lap_s(&self) -> Option<f64> {
        median(
            self.laps
                .iter()
                .filter(|l| l.is_clean())
                .map(|l| l.lap_time_s)
                .collect(),
        )
    }

    /// Session time of the line crossing that completed `lap` (1-based).
    pub fn crossing_s(&self, lap: u32) -> Option<f64> {
        let idx = usize::try_from(lap.checked_sub(1)?).ok()?;
        self.laps.get(idx).map(|l| l.end_s)
    }
}

impl RealRace {
    /// Parses a race folder's files.
    ///
    /// # Errors
    /// [`ImportError`] naming the file, the line and the column of the first problem.
    pub fn parse(files: &RaceFiles<'_>) -> Result<RealRace, ImportError> {
        parse(files)
    }

    /// f1db's official name, e.g. `"Formula 1 Gulf Air Bahrain Grand Prix 2019"`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// f1db's circuit id, e.g. `"bahrain"`, `"yas-marina"`.
    pub fn circuit_id(&self) -> &str {
        &self.circuit_id
    }

    /// The circuit as shown (`"Yas Marina"`): the session's `track`.
    pub fn track(&self) -> &str {
        &self.track
    }

    /// Race date, `YYYY-MM-DD`.
    pub fn date(&self) -> &str {
        &self.date
    }

    /// Length of a lap, in metres (f1db `courseLength`).
    pub fn track_length_m(&self) -> f64 {
        self.track_length_m
    }

    /// Scheduled race distance, in laps.
    pub fn total_laps(&self) -> u32 {
        self.total_laps
    }

    /// The race start in FastF1's session time, in seconds: every other time is relative to it.
    pub fn start_session_time_s(&self) -> f64 {
        self.start_session_time_s
    }

    /// Every driver, in grid order (index = `car_idx`).
    pub fn drivers(&self) -> &[RealDriver] {
        &self.drivers
    }

    /// The driver with this code.
    pub fn driver(&self, code: &str) -> Option<&RealDriver> {
        self.drivers.iter().find(|d| d.code == code)
    }

    /// The winner (classified first).
    pub fn winner(&self) -> Option<&RealDriver> {
        self.drivers
            .iter()
            .find(|d| d.classification.position == Some(1))
    }

    /// f1db's pit stops, sorted by in-lap, then car, then stop number.
    pub fn pit_stops(&self) -> &[RealPitStop] {
        &self.pit_stops
    }

    /// Time a pit stop costs against staying out under green, in seconds: the median over green-flag stops of
    /// in-lap + out-lap − 2 × that driver's median clean lap; f1db's median pit-lane time when no stop qualifies.
    pub fn pit_lane_loss_s(&self) -> f64 {
        self.pit_lane_loss_s
    }

    /// How many green-flag stops [`RealRace::pit_lane_loss_s`] was measured on (0: it is f1db's median lane time).
    pub fn pit_lane_loss_stops(&self) -> usize {
        self.pit_lane_loss_stops
    }

    /// Median of every driver's clean laps ([`RealLap::is_clean`]), in seconds.
    pub fn median_clean_lap_s(&self) -> Option<f64> {
        median(
            self.drivers
                .iter()
                .flat_map(|d| d.laps.iter())
                .filter(|l| l.is_clean())
                .map(|l| l.lap_time_s)
                .collect(),
        )
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Rows as in the files.

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LapRow {
    time: String,
    driver: String,
    driver_number: String,
    lap_time: Option<f64>,
    lap_number: f64,
    stint: Option<f64>,
    pit_out_time: Option<String>,
    pit_in_time: Option<String>,
    compound: Option<String>,
    tyre_life: Option<f64>,
    team: String,
    track_status: Option<String>,
    position: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RaceRow {
    date: String,
    official_name: String,
    circuit_id: String,
    course_length: f64,
    laps: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultRow {
    position: String,
    driver_number: u8,
    driver_id: String,
    driver_code: String,
    constructor_id: String,
    laps: u32,
    time: Option<String>,
    time_penalty: Option<f64>,
    reason_retired: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PitStopRow {
    driver_code: String,
    stop: u32,
    lap: u32,
    time: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GridRow {
    position: String,
    driver_code: String,
}

/// A deserialized row and its line number.
struct Line<T> {
    line: u64,
    row: T,
}

fn read_csv<T: DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<Vec<Line<T>>, ImportError> {
    let csv_error = |e: &csv::Error| ImportError::Csv {
        file,
        line: e.position().map_or(0, csv::Position::line),
        message: e.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| csv_error(&e))?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e))?;
        let line = record.position().map_or(0, csv::Position::line);
        let row = record.deserialize::<T>(Some(&headers)).map_err(|e| {
            let (column, message) = match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => (
                    err.field()
                        .and_then(|i| headers.get(usize::try_from(i).ok()?))
                        .unwrap_or("*")
                        .to_owned(),
                    err.kind().to_string(),
                ),
                _ => ("*".to_owned(), e.to_string()),
            };
            ImportError::Value {
                file,
                line,
                column,
                message,
            }
        })?;
        rows.push(Line { line, row });
    }
    Ok(rows)
}

fn value_error(
    file: &'static str,
    line: u64,
    column: &str,
    message: impl Into<String>,
) -> ImportError {
    ImportError::Value {
        file,
        line,
        column: column.to_owned(),
        message: message.into(),
    }
}

fn inconsistent(file: &'static str, message: impl Into<String>) -> ImportError {
    ImportError::Inconsistent {
        file,
        message: message.into(),
    }
}

/// A pandas timedelta as FastF1 writes it, `"0 days 01:23:45.678000"`, or plain `h:mm:ss.sss`, in seconds.
fn parse_timedelta(text: &str) -> Option<f64> {
    let text = text.trim();
    let (days, clock) = match text.split_once(" days ") {
        Some((days, clock)) => (days.trim().parse::<u32>().ok()?, clock),
        None => (0, text),
    };
    Some(f64::from(days) * 86_400.0 + parse_clock(clock)?)
}

/// `h:mm:ss.sss`, `m:ss.sss` or `ss.sss`, in seconds.
fn parse_clock(text: &str) -> Option<f64> {
    let mut seconds = 0.0;
    for (i, part) in text.trim().split(':').enumerate() {
        if i > 2 {
            return None;
        }
        let x: f64 = part.parse().ok()?;
        if !x.is_finite() || x < 0.0 {
            return None;
        }
        seconds = seconds * 60.0 + x;
    }
    // Each part finite is not enough: `1e308:0:0` is not.
    seconds.is_finite().then_some(seconds)
}

/// FastF1's relative compound names.
fn parse_compound(text: &str) -> Option<Compound> {
    match text.trim().to_ascii_uppercase().as_str() {
        "SOFT" => Some(Compound::Soft),
        "MEDIUM" => Some(Compound::Medium),
        "HARD" => Some(Compound::Hard),
        "INTERMEDIATE" => Some(Compound::Intermediate),
        "WET" => Some(Compound::Wet),
        _ => None,
    }
}

/// The statuses named by FastF1's digits, as a bit set indexed by [`TrackStatus`] order. Unknown digits (`0`) are
/// ignored.
fn status_bits(codes: &str) -> u8 {
    codes
        .chars()
        .filter_map(|c| match c {
            '1' => Some(TrackStatus::Green),
            '2' => Some(TrackStatus::Yellow),
            '4' => Some(TrackStatus::SafetyCar),
            '5' => Some(TrackStatus::Red),
            '6' | '7' => Some(TrackStatus::VirtualSafetyCar),
            _ => None,
        })
        .fold(0, |bits, s| bits | status_bit(s))
}

fn status_bit(status: TrackStatus) -> u8 {
    1 << (status as u8)
}

/// The worst status in a bit set of [`status_bits`]; green when empty.
fn worst_status(bits: u8) -> TrackStatus {
    [
        TrackStatus::Red,
        TrackStatus::SafetyCar,
        TrackStatus::VirtualSafetyCar,
        TrackStatus::Yellow,
    ]
    .into_iter()
    .find(|&s| bits & status_bit(s) != 0)
    .unwrap_or(TrackStatus::Green)
}

/// Accidents and damage are a DNF, everything else (failures, withdrawals) a retirement.
fn retirement_status(position_text: &str, reason: Option<&str>) -> ResultStatus {
    if position_text.eq_ignore_ascii_case("DSQ") {
        return ResultStatus::Disqualified;
    }
    let reason = reason.unwrap_or("").to_ascii_lowercase();
    let accident = [
        "collision",
        "accident",
        "crash",
        "spun",
        "puncture",
        "damage",
    ];
    if accident.iter().any(|w| reason.contains(w)) {
        ResultStatus::Dnf
    } else {
        ResultStatus::Retired
    }
}

/// `"carlos-sainz-jr"` → `"Carlos Sainz Jr"`.
fn title_case(id: &str) -> String {
    id.split(['-', '_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or_else(String::new, |c| {
                std::iter::once(c.to_ascii_uppercase())
                    .chain(chars)
                    .collect::<String>()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The median (the mean of the middle two for an even count); `None` when empty.
fn median(mut xs: Vec<f64>) -> Option<f64> {
    crate::twin::pace::median(&mut xs)
}

/// A team's colour: the 2019 calibration's for 2019 and earlier, the current grid's otherwise.
fn team_colour(team: &str, year: u32) -> String {
    let lower = team.to_ascii_lowercase();
    if year <= 2019
        && let Some(t) = crate::calibration::TEAMS
            .iter()
            .find(|t| lower.contains(&t.name.to_ascii_lowercase()))
    {
        return t.colour.to_owned();
    }
    crate::telemetry::normalize::team_colour(team).to_owned()
}

// ---------------------------------------------------------------------------------------------------------------
// Assembly.

/// One driver's lap rows, checked and converted, before the race start is known.
struct RawLap {
    line: u64,
    lap: u32,
    time_s: f64,
    lap_time_s: Option<f64>,
    position: Option<u8>,
    stint: u32,
    compound: Compound,
    tyre_life_laps: u32,
    pit_in_s: Option<f64>,
    pit_out_s: Option<f64>,
    track_status_codes: String,
}

fn raw_lap(line: u64, row: &LapRow) -> Result<RawLap, ImportError> {
    let err = |column: &str, message: String| value_error(LAPS_CSV, line, column, message);
    let whole = |column: &str, x: f64| -> Result<u32, ImportError> {
        if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX) {
            Ok(x as u32)
        } else {
            Err(err(column, format!("{x}: not a whole number")))
        }
    };
    let time = |column: &str, text: &str| {
        parse_timedelta(text).ok_or_else(|| err(column, format!("{text:?}: not a time")))
    };
    let optional_time = |column: &str, text: &Option<String>| match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => time(column, t).map(Some),
    };
    let lap = whole("LapNumber", row.lap_number)?;
    if lap == 0 {
        return Err(err("LapNumber", "0: laps are 1-based".into()));
    }
    if let Some(t) = row.lap_time
        && !(t.is_finite() && t > 0.0)
    {
        return Err(err(
            "LapTime",
            format!("{t}: must be a positive number of seconds"),
        ));
    }
    let stint = row
        .stint
        .ok_or_else(|| err("Stint", "missing".into()))
        .and_then(|s| whole("Stint", s))?;
    let compound_text = row.compound.as_deref().unwrap_or("");
    let compound = parse_compound(compound_text).ok_or_else(|| {
        err(
            "Compound",
            format!("{compound_text:?}: not SOFT, MEDIUM, HARD, INTERMEDIATE or WET"),
        )
    })?;
    let tyre_life_laps = row
        .tyre_life
        .ok_or_else(|| err("TyreLife", "missing".into()))
        .and_then(|x| whole("TyreLife", x))?;
    let position = match row.position {
        None => None,
        Some(p) => Some(
            u8::try_from(whole("Position", p)?)
                .map_err(|_| err("Position", format!("{p}: out of range")))?,
        ),
    };
    Ok(RawLap {
        line,
        lap,
        time_s: time("Time", &row.time)?,
        lap_time_s: row.lap_time,
        position,
        stint,
        compound,
        tyre_life_laps,
        pit_in_s: optional_time("PitInTime", &row.pit_in_time)?,
        pit_out_s: optional_time("PitOutTime", &row.pit_out_time)?,
        track_status_codes: row
            .track_status
            .clone()
            .unwrap_or_default()
            .trim()
            .to_owned(),
    })
}

fn parse(files: &RaceFiles<'_>) -> Result<RealRace, ImportError> {
    let race_rows: Vec<Line<RaceRow>> = read_csv(RACE_CSV, files.race_csv)?;
    let Some(Line { line, row: race }) = race_rows.into_iter().next() else {
        return Err(inconsistent(RACE_CSV, "no race row"));
    };
    if !(race.course_length.is_finite() && race.course_length > 0.0) {
        return Err(value_error(
            RACE_CSV,
            line,
            "courseLength",
            format!("{}: must be > 0 km", race.course_length),
        ));
    }
    if race.laps == 0 {
        return Err(value_error(RACE_CSV, line, "laps", "0: a race has laps"));
    }
    let most = crate::strategy::lapsim::MAX_RACE_LAPS;
    if race.laps > most {
        return Err(value_error(
            RACE_CSV,
            line,
            "laps",
            format!("{}: at most {most}", race.laps),
        ));
    }
    let year: u32 = race.date.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);

    let results: Vec<Line<ResultRow>> = read_csv(RESULTS_CSV, files.results_csv)?;
    if results.is_empty() {
        return Err(inconsistent(RESULTS_CSV, "no classification rows"));
    }
    let grid: Vec<Line<GridRow>> = read_csv(GRID_CSV, files.grid_csv)?;
    if grid.is_empty() {
        return Err(inconsistent(GRID_CSV, "no grid rows"));
    }
    for Line { line, row } in &results {
        if let Some(p) = row.time_penalty
            && !(p.is_finite() && p >= 0.0)
        {
            return Err(value_error(
                RESULTS_CSV,
                *line,
                "timePenalty",
                format!("{p}: must be seconds ≥ 0"),
            ));
        }
    }
    // A driver listed twice would be two cars.
    for (file, codes) in [
        (
            RESULTS_CSV,
            results
                .iter()
                .map(|r| (r.line, &r.row.driver_code))
                .collect::<Vec<_>>(),
        ),
        (
            GRID_CSV,
            grid.iter().map(|g| (g.line, &g.row.driver_code)).collect(),
        ),
    ] {
        let mut seen = std::collections::BTreeSet::new();
        if let Some((line, code)) = codes.into_iter().find(|(_, code)| !seen.insert(*code)) {
            return Err(value_error(
                file,
                line,
                "driverCode",
                format!("{code:?} is listed twice"),
            ));
        }
    }
    let lap_rows: Vec<Line<LapRow>> = read_csv(LAPS_CSV, files.laps_csv)?;
    let stop_rows: Vec<Line<PitStopRow>> = read_csv(PIT_STOPS_CSV, files.pit_stops_csv)?;

    // Lap rows per driver code, in lap order.
    let mut raw: BTreeMap<String, Vec<RawLap>> = BTreeMap::new();
    let mut teams: BTreeMap<String, String> = BTreeMap::new();
    for Line { line, row } in &lap_rows {
        let lap = raw_lap(*line, row)?;
        if !results.iter().any(|r| r.row.driver_code == row.driver) {
            return Err(value_error(
                LAPS_CSV,
                *line,
                "Driver",
                format!("{:?} is not in {RESULTS_CSV}", row.driver),
            ));
        }
        if let Some(r) = results.iter().find(|r| r.row.driver_code == row.driver)
            && row.driver_number.trim().parse::<u8>().ok() != Some(r.row.driver_number)
        {
            return Err(value_error(
                LAPS_CSV,
                *line,
                "DriverNumber",
                format!(
                    "{:?} for {}, but {RESULTS_CSV} says {}",
                    row.driver_number, row.driver, r.row.driver_number
                ),
            ));
        }
        teams
            .entry(row.driver.clone())
            .or_insert_with(|| row.team.clone());
        raw.entry(row.driver.clone()).or_default().push(lap);
    }
    for laps in raw.values_mut() {
        sort_by_key(laps, |l| l.lap);
    }

    // The race start, from the winner's official time.
    let Some(winner) = results.iter().find(|r| r.row.position.trim() == "1") else {
        return Err(inconsistent(RESULTS_CSV, "no driver classified first"));
    };
    let official_s = match winner.row.time.as_deref() {
        Some(t) => parse_clock(t).ok_or_else(|| {
            value_error(
                RESULTS_CSV,
                winner.line,
                "time",
                format!("{t:?}: not h:mm:ss.sss"),
            )
        })?,
        None => {
            return Err(value_error(
                RESULTS_CSV,
                winner.line,
                "time",
                "the winner has no race time",
            ));
        }
    };
    let winner_penalty_s = winner.row.time_penalty.unwrap_or(0.0);
    let winner_end = raw
        .get(&winner.row.driver_code)
        .and_then(|laps| laps.iter().find(|l| l.lap == winner.row.laps))
        .ok_or_else(|| {
            inconsistent(
                LAPS_CSV,
                format!(
                    "the winner {} has no lap {}",
                    winner.row.driver_code, winner.row.laps
                ),
            )
        })?;
    let start = winner_end.time_s - (official_s - winner_penalty_s);

    // Grid order: numbered slots, then pit-lane starters in file order, then drivers missing from the grid.
    let mut order: Vec<(&str, bool)> = Vec::new();
    let mut slots: Vec<(u32, &str)> = Vec::new();
    let mut pit_lane: Vec<&str> = Vec::new();
    for Line { line, row } in &grid {
        match row.position.trim() {
            "PL" => pit_lane.push(&row.driver_code),
            p => slots.push((
                p.parse().map_err(|_| {
                    value_error(
                        GRID_CSV,
                        *line,
                        "position",
                        format!("{p:?}: not a grid slot or PL"),
                    )
                })?,
                &row.driver_code,
            )),
        }
    }
    sort_by_key(&mut slots, |&(p, _)| p);
    order.extend(slots.iter().map(|&(_, code)| (code, false)));
    order.extend(pit_lane.iter().map(|&code| (code, true)));
    for r in &results {
        if !order.iter().any(|&(code, _)| code == r.row.driver_code) {
            order.push((&r.row.driver_code, false));
        }
    }
    if order.len() > usize::from(u8::MAX) {
        return Err(inconsistent(
            GRID_CSV,
            format!("{} drivers: at most 255", order.len()),
        ));
    }

    let mut drivers = Vec::with_capacity(order.len());
    for (idx, &(code, pit_lane_start)) in order.iter().enumerate() {
        let Some(result) = results.iter().find(|r| r.row.driver_code == code) else {
            return Err(inconsistent(
                GRID_CSV,
                format!("{code} is on the grid but not in {RESULTS_CSV}"),
            ));
        };
        let car_idx = u8::try_from(idx).map_err(|_| inconsistent(GRID_CSV, "too many drivers"))?;
        drivers.push(build_driver(
            car_idx,
            pit_lane_start,
            result,
            raw.get(code).map_or(&[][..], Vec::as_slice),
            start,
        )?);
    }
    // A driver without lap rows takes a team-mate's FastF1 team name.
    for d in &mut drivers {
        if let Some(name) = teams.get(&d.code) {
            d.team.clone_from(name);
        } else {
            let constructor = results
                .iter()
                .find(|r| r.row.driver_code == d.code)
                .map(|r| r.row.constructor_id.as_str())
                .unwrap_or_default();
            let mate = results
                .iter()
                .filter(|r| r.row.constructor_id == constructor && r.row.driver_code != d.code)
                .find_map(|r| teams.get(&r.row.driver_code));
            d.team = mate.cloned().unwrap_or_else(|| title_case(constructor));
        }
        d.team_colour = team_colour(&d.team, year);
    }

    let mut pit_stops = Vec::with_capacity(stop_rows.len());
    for Line { line, row } in &stop_rows {
        let Some(d) = drivers.iter().find(|d| d.code == row.driver_code) else {
            return Err(value_error(
                PIT_STOPS_CSV,
                *line,
                "driverCode",
                format!("{:?} is not in {RESULTS_CSV}", row.driver_code),
            ));
        };
        let pit_lane_s = parse_clock(&row.time).ok_or_else(|| {
            value_error(
                PIT_STOPS_CSV,
                *line,
                "time",
                format!("{:?}: not m:ss.sss", row.time),
            )
        })?;
        pit_stops.push(RealPitStop {
            car_idx: d.car_idx,
            driver_code: d.code.clone(),
            stop: row.stop,
            lap: row.lap,
            pit_lane_s,
            tyres_changed: d.tyres_changed_at(row.lap),
        });
    }
    sort_by_key(&mut pit_stops, |s| (s.lap, s.car_idx, s.stop));

    let (pit_lane_loss_s, pit_lane_loss_stops) = pit_lane_loss(&drivers, &pit_stops);
    Ok(RealRace {
        name: race.official_name,
        track: title_case(&race.circuit_id),
        circuit_id: race.circuit_id,
        date: race.date,
        track_length_m: race.course_length * 1000.0,
        total_laps: race.laps,
        start_session_time_s: start,
        drivers,
        pit_stops,
        pit_lane_loss_s,
        pit_lane_loss_stops,
    })
}

fn build_driver(
    car_idx: u8,
    pit_lane_start: bool,
    result: &Line<ResultRow>,
    raw: &[RawLap],
    start: f64,
) -> Result<RealDriver, ImportError> {
    let r = &result.row;
    let n = usize::try_from(r.laps).unwrap_or(usize::MAX);
    if raw.len() < n {
        return Err(inconsistent(
            LAPS_CSV,
            format!(
                "{} has {} lap rows, but {RESULTS_CSV} counts {} laps",
                r.driver_code,
                raw.len(),
                r.laps
            ),
        ));
    }
    // Session times relative to the start; a pit time before the start is the drive to the grid.
    let rel = |t: Option<f64>| t.map(|t| t - start).filter(|&t| t >= 0.0);
    // The car's line crossings count from its own lap-1 time where FastF1 has one: a car that pitted on lap 1 can
    // have every `Time` shifted by seconds (Monza 2019 VER: 4.1 s), while its lap times add up to its official time.
    let origin = raw
        .first()
        .filter(|l| l.lap == 1)
        .and_then(|l| l.lap_time_s.map(|t| l.time_s - t))
        .unwrap_or(start);
    let mut laps: Vec<RealLap> = Vec::with_capacity(n);
    let mut prev_end = 0.0;
    for (i, raw_lap) in raw.iter().take(n).enumerate() {
        let want = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if raw_lap.lap != want {
            return Err(value_error(
                LAPS_CSV,
                raw_lap.line,
                "LapNumber",
                format!(
                    "{} lap {} where lap {want} was due",
                    r.driver_code, raw_lap.lap
                ),
            ));
        }
        let end_s = raw_lap.time_s - origin;
        if end_s <= prev_end || end_s.is_nan() {
            return Err(value_error(
                LAPS_CSV,
                raw_lap.line,
                "Time",
                format!(
                    "{} lap {}: the lap ends at {end_s:.3} s, not after {prev_end:.3} s",
                    r.driver_code, raw_lap.lap
                ),
            ));
        }
        let (lap_time_s, lap_time_reconstructed) = match raw_lap.lap_time_s {
            Some(t) => (t, false),
            None => (end_s - prev_end, true),
        };
        let bits = status_bits(&raw_lap.track_status_codes);
        laps.push(RealLap {
            lap: raw_lap.lap,
            lap_time_s,
            lap_time_reconstructed,
            end_s,
            position: raw_lap.position,
            stint: raw_lap.stint,
            compound: raw_lap.compound,
            tyre_life_laps: raw_lap.tyre_life_laps,
            pit_in_s: rel(raw_lap.pit_in_s),
            pit_out_s: rel(raw_lap.pit_out_s),
            track_status: worst_status(bits),
            track_status_codes: raw_lap.track_status_codes.clone(),
        });
        prev_end = end_s;
    }
    let time_s = match r.time.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(t) => Some(parse_clock(t).ok_or_else(|| {
            value_error(
                RESULTS_CSV,
                result.line,
                "time",
                format!("{t:?}: not h:mm:ss.sss"),
            )
        })?),
    };
    let reason_retired = r.reason_retired.clone().filter(|s| !s.trim().is_empty());
    let position_text = r.position.trim().to_owned();
    let position = position_text.parse::<u8>().ok();
    let retirement = (reason_retired.is_some() || position.is_none()).then(|| {
        let unfinished = raw.get(n);
        Retirement {
            at_s: unfinished
                .map_or(prev_end, |l| l.time_s - start)
                .max(prev_end),
            pit_out_s: unfinished.and_then(|l| rel(l.pit_out_s)),
            pit_in_s: unfinished.and_then(|l| rel(l.pit_in_s)),
            status: retirement_status(&position_text, reason_retired.as_deref()),
        }
    });
    Ok(RealDriver {
        car_idx,
        code: r.driver_code.clone(),
        name: title_case(&r.driver_id),
        number: r.driver_number,
        team: String::new(),
        team_colour: String::new(),
        grid_position: car_idx.saturating_add(1),
        pit_lane_start,
        classification: Classification {
            position,
            position_text,
            laps: r.laps,
            time_s,
            time_penalty_s: r.time_penalty.unwrap_or(0.0),
            reason_retired,
        },
        laps,
        retirement,
    })
}

/// The green-flag pit-lane loss and the number of stops it was measured on (see [`RealRace::pit_lane_loss_s`]): tyre
/// stops only.
fn pit_lane_loss(drivers: &[RealDriver], pit_stops: &[RealPitStop]) -> (f64, usize) {
    let mut losses = Vec::new();
    for d in drivers {
        let Some(clean) = d.median_clean_lap_s() else {
            continue;
        };
        for pair in d.laps.windows(2) {
            let [in_lap, out_lap] = pair else { continue };
            if in_lap.lap > 1
                && in_lap.pit_in_s.is_some()
                && out_lap.pit_out_s.is_some()
                && d.tyres_changed_at(in_lap.lap)
                && in_lap.track_status_codes == "1"
                && out_lap.track_status_codes == "1"
            {
                losses.push(in_lap.lap_time_s + out_lap.lap_time_s - 2.0 * clean);
            }
        }
    }
    let n = losses.len();
    match median(losses) {
        Some(loss) => (loss, n),
        None => (
            median(
                pit_stops
                    .iter()
                    .filter(|s| s.tyres_changed)
                    .map(|s| s.pit_lane_s)
                    .collect(),
            )
            .unwrap_or(crate::telemetry::normalize::DEFAULT_PIT_LANE_LOSS_S),
            0,
        ),
    }
}

#[cfg(test)]
mod tests;
