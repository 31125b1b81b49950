//! TUMFTM race-simulation parameter files (`pars_<Track>_<season>.ini` and `pars_mcs.ini`), read as is into a
//! [`RaceModel`]: file contents in, no IO.
//!
//! TUMFTM's race simulation (Heilmeier et al., TU Munich, `TUMFTM/race-simulation`) keeps each race's calibrated
//! parameters in an INI file in Python `configparser` style: `[SECTION]` headers, `#` comment lines, and one
//! `name = <JSON>` entry per section whose JSON continues over the following indented lines. The Monte Carlo file
//! holds per-season accident and failure probabilities and the all-season distributions in the same format.
//!
//! Reading happens in two steps, both public:
//! 1. [`TumftmPars::parse`] and [`McsPars::parse`] split the INI text and deserialize each section's JSON into
//!    typed structs that mirror the files key for key. Each field's documentation gives the file's meaning and
//!    the [`RaceModel`] field it becomes (`→`).
//! 2. [`TumftmPars::to_model`] maps them onto a [`RaceModel`]; [`TumftmPars::real_strategies`] and
//!    [`TumftmPars::base_strategies`] turn the VSE strategies into [`Plan`]s.
//!
//! [`read`] does both. Nothing is guessed: a value the model needs that is absent, `null` or inconsistent is an
//! error naming the section, key and driver, and features the model cannot represent (electric cars, refuelling,
//! time-domain events) are reported as unsupported rather than dropped.
//!
//! # Compounds
//! TUMFTM names compounds absolutely: in 2019 `A2`=C1 (hardest), `A3`=C2, `A4`=C3, `A6`=C4, `A7`=C5 (softest);
//! across its seasons a larger `A` number is a softer tyre. `I` is the intermediate and `W` the wet. The model's
//! [`Compound`] is relative to the event, so the race's VSE `param_dry_compounds`, sorted softest first, become
//! [`Compound::Soft`], [`Compound::Medium`], [`Compound::Hard`]: with three, in that order; with two, the softer
//! is Soft and the harder Hard; a single one is Medium. `I` and `W` map to [`Compound::Intermediate`] and
//! [`Compound::Wet`]. A driver's tyre data for any other code (a compound not allowed at this race) is skipped.
//! [`CompoundDeg::label`] keeps TUMFTM's code.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::model::{
    CompoundDeg, Degradation, DriverModel, Drs, FcyKind, FcyPhase, Fisk, FixedEvents, FuelModel,
    Interaction, PitLosses, Plan, PlannedStop, RaceModel, RandomEvents, Retirement, TrackTiming,
    TyreModel,
};
use crate::wire::Compound;

/// Reads a race's parameter file and the Monte Carlo parameter file into a [`RaceModel`].
///
/// `race_ini` is the contents of a `pars_<Track>_<season>.ini`, `mcs_ini` that of `pars_mcs.ini`. This is
/// [`TumftmPars::parse`], [`McsPars::parse`] and [`TumftmPars::to_model`] in one call.
///
/// # Errors
/// Any [`TumftmError`]: a malformed INI line, a missing section or key, JSON that does not parse or lacks a
/// field, a driver or team without the data the model needs, or a feature the model does not support.
pub fn read(race_ini: &str, mcs_ini: &str) -> Result<RaceModel, TumftmError> {
    let pars = TumftmPars::parse(race_ini)?;
    let mcs = McsPars::parse(mcs_ini)?;
    pars.to_model(&mcs)
}

/// Why a TUMFTM file could not be read. Every message names the file section (`[TRACK_PARS]`) and, where there
/// is one, the key, driver or team.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TumftmError {
    /// A line is none of `[SECTION]`, `key = value`, a comment, a blank line or an indented continuation, or it
    /// repeats a section or key.
    #[error("{file} ini, line {line}: {message}")]
    Syntax {
        /// Which file: `race` or `mcs`.
        file: &'static str,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A section the reader needs is absent.
    #[error("missing section [{section}]")]
    MissingSection {
        /// The section's name, e.g. `TRACK_PARS` or `SEASON_2019`.
        section: String,
    },
    /// A section lacks the key that holds its JSON.
    #[error("[{section}]: missing key {key}")]
    MissingKey {
        /// The section.
        section: String,
        /// The key, e.g. `track_pars`.
        key: String,
    },
    /// A key's value is not valid JSON, or it lacks a field or has one of the wrong type.
    #[error("[{section}] {key}: {message} at line {line} column {column}")]
    Json {
        /// The section.
        section: String,
        /// The key.
        key: String,
        /// What is wrong, after the path of the offending value inside the JSON (`HAM.strategy_info[0]`).
        message: String,
        /// 1-based line in the file.
        line: usize,
        /// 1-based column in the file (0 when unknown).
        column: usize,
    },
    /// A driver lacks data the model needs, or a driver's data is inconsistent.
    #[error("[{section}] driver {driver}: {message}")]
    Driver {
        /// The section.
        section: String,
        /// The driver's initials (or full name, for the Monte Carlo tables).
        driver: String,
        /// What is wrong.
        message: String,
    },
    /// A team lacks data the model needs.
    #[error("[{section}] team {team}: {message}")]
    Team {
        /// The section.
        section: String,
        /// The team, e.g. `RedBull`.
        team: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or contradicts another.
    #[error("[{section}]: {message}")]
    Invalid {
        /// The section.
        section: String,
        /// What is wrong.
        message: String,
    },
    /// The file uses a feature [`RaceModel`] cannot represent.
    #[error("[{section}]: {what} is not supported")]
    Unsupported {
        /// The section.
        section: String,
        /// The feature, e.g. `the electric drivetype (team X)`.
        what: String,
    },
}

/// A race's parameter file, section by section, as TUMFTM writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct TumftmPars {
    /// `[RACE_PARS] race_pars`.
    pub race: RacePars,
    /// `[TRACK_PARS] track_pars`.
    pub track: TrackPars,
    /// `[CAR_PARS] car_pars`, by team.
    pub cars: BTreeMap<String, CarPars>,
    /// `[TIRESET_PARS] tireset_pars`, by driver initials.
    pub tiresets: BTreeMap<String, TiresetPars>,
    /// `[DRIVER_PARS] driver_pars`, by driver initials.
    pub drivers: BTreeMap<String, DriverPars>,
    /// `[MONTE_CARLO_PARS] monte_carlo_pars`.
    pub monte_carlo: MonteCarloPars,
    /// `[EVENT_PARS] event_pars`.
    pub events: EventPars,
    /// `[VSE_PARS] vse_pars`.
    pub vse: VsePars,
}

/// `[RACE_PARS]`: the race and how cars interact.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RacePars {
    /// Season of the race (selects the Monte Carlo statistics) → [`RaceModel::season`].
    pub season: u32,
    /// Race distance in laps → [`RaceModel::total_laps`].
    pub tot_no_laps: u32,
    /// Minimum gap to the car in front, s → [`Interaction::min_gap_s`].
    pub min_t_dist: f64,
    /// Minimum gap to the car in front under a SC, s → [`Interaction::min_gap_sc_s`].
    pub min_t_dist_sc: f64,
    /// Time both drivers lose when they fight for position, s → [`Interaction::duel_loss_s`].
    pub t_duel: f64,
    /// Time the loser of an overtake loses, s → [`Interaction::overtaken_loss_s`].
    pub t_overtake_loser: f64,
    /// Whether the series uses DRS; `false` → [`Interaction::drs`] is `None`.
    pub use_drs: bool,
    /// DRS window, s (`null` without DRS) → [`Drs::window_s`].
    pub drs_window: Option<f64>,
    /// DRS is allowed from this lap on (`null` without DRS) → [`Drs::from_lap`].
    pub drs_allow_lap: Option<u32>,
    /// Laps after a SC before DRS is enabled again (`null` without DRS) → [`Drs::after_sc_laps`].
    pub drs_sc_delay: Option<u32>,
    /// Initials of the drivers in the race → [`RaceModel::drivers`], in this order.
    pub participants: Vec<String>,
}

/// `[TRACK_PARS]`: lap time, pit losses, start and overtaking at this track.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TrackPars {
    /// Track name → [`RaceModel::track`].
    pub name: String,
    /// Best qualifying lap, s. `t_q + t_gap_racepace` → [`TrackTiming::base_lap_s`].
    pub t_q: f64,
    /// Gap between the qualifying lap and the best race lap (engine modes etc.), s.
    pub t_gap_racepace: f64,
    /// Lap time per kg of fuel, s/kg → [`TrackTiming::fuel_s_per_kg`].
    pub t_lap_sens_mass: f64,
    /// Minimum standstill to change tyres, s (each team adds its own) → [`TrackTiming::tyre_change_min_s`].
    pub t_pit_tirechange_min: f64,
    /// In-lap loss, green, s → [`PitLosses::in_green_s`].
    pub t_pitdrive_inlap: f64,
    /// Out-lap loss (driving through the lane), green, s → [`PitLosses::out_green_s`].
    pub t_pitdrive_outlap: f64,
    /// In-lap loss under FCY (the VSC in F1), s → [`PitLosses::in_vsc_s`].
    pub t_pitdrive_inlap_fcy: f64,
    /// Out-lap loss under FCY (the VSC in F1), s → [`PitLosses::out_vsc_s`].
    pub t_pitdrive_outlap_fcy: f64,
    /// In-lap loss under a SC, s → [`PitLosses::in_sc_s`].
    pub t_pitdrive_inlap_sc: f64,
    /// Out-lap loss under a SC, s → [`PitLosses::out_sc_s`].
    pub t_pitdrive_outlap_sc: f64,
    /// Whether the pit lane is after the finish line → [`TrackTiming::pits_after_line`].
    pub pits_aft_finishline: bool,
    /// Lap-1 loss per grid position, s → [`TrackTiming::grid_loss_per_slot_s`].
    pub t_loss_pergridpos: f64,
    /// Lap-1 loss of the standing start, s → [`TrackTiming::standing_start_s`].
    pub t_loss_firstlap: f64,
    /// Pace advantage needed to overtake, s → [`Interaction::overtake_threshold_s`].
    pub t_gap_overtake: f64,
    /// Change of that threshold per km/h of top-speed advantage, s/(km/h), negative →
    /// [`Interaction::overtake_threshold_per_kmh_s`].
    pub t_gap_overtake_vel: f64,
    /// Lap-time change with DRS in all zones, s, negative (`null` without DRS) → [`Drs::effect_s`].
    pub t_drseffect: Option<f64>,
    /// Lap-time multiplier behind the SC → [`TrackTiming::sc_factor`].
    pub mult_t_lap_sc: f64,
    /// Lap-time multiplier under FCY (the VSC) → [`TrackTiming::vsc_factor`].
    pub mult_t_lap_fcy: f64,
}

/// `[CAR_PARS]`: one team's car (per team, not per manufacturer).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CarPars {
    /// Combustion or electric; electric cars are unsupported.
    pub drivetype: Drivetype,
    /// Manufacturer.
    pub manufacturer: String,
    /// Car's pace deficit per lap, s. `t_car + t_driver` → [`DriverModel::pace_offset_s`].
    pub t_car: f64,
    /// Fuel on board at the start, kg (`null` for electric cars) → [`FuelModel::start_kg`].
    pub m_fuel: Option<f64>,
    /// Fuel burn per green lap, kg/lap (`null` for electric cars) → [`FuelModel::burn_kg_per_lap`].
    pub b_fuel_perlap: Option<f64>,
    /// Energy at the start, kWh (electric cars only; unused).
    pub energy: Option<f64>,
    /// Energy use per lap, kWh/lap (electric cars only; unused).
    pub energy_perlap: Option<f64>,
    /// Consumption multiplier behind the SC → [`FuelModel::sc_factor`].
    pub mult_consumption_sc: f64,
    /// Consumption multiplier under FCY (the VSC) → [`FuelModel::vsc_factor`].
    pub mult_consumption_fcy: f64,
    /// Whether TUMFTM raises consumption after FCY phases so the car runs dry at the flag (unused).
    pub auto_consumption_adjust: Option<bool>,
    /// The team's standstill over the track's minimum, s → [`DriverModel::pit_crew_extra_s`].
    pub t_pit_tirechange_add: f64,
    /// Refuelling time per kg, s/kg (`null` without refuelling; unused).
    pub t_pit_refuel_perkg: Option<f64>,
    /// Recharging time per kWh, s/kWh (electric cars only; unused).
    pub t_pit_charge_perkwh: Option<f64>,
    /// Team colour for plots, `#RRGGBB` (unused).
    pub color: Option<String>,
}

/// A car's drivetype (TUMFTM treats hybrids as combustion).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Drivetype {
    /// Fuel-burning car: the fuel model applies.
    Combustion,
    /// Battery-electric car (Formula E): not supported by [`RaceModel`].
    Electric,
}

/// `[TIRESET_PARS]`: one driver's tyres → [`TyreModel`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TiresetPars {
    /// Which of the coefficient sets applies to every compound → the [`Degradation`] variant.
    pub tire_deg_model: DegModel,
    /// Degradation multiplier behind the SC → [`TyreModel::sc_wear_factor`].
    pub mult_tiredeg_sc: f64,
    /// Degradation multiplier under FCY (the VSC) → [`TyreModel::vsc_wear_factor`].
    pub mult_tiredeg_fcy: f64,
    /// Out-lap loss on cold tyres, s → [`TyreModel::cold_tyre_s`].
    pub t_add_coldtires: f64,
    /// Coefficients by compound code (`A4`, `I`): every other key of the driver's object.
    #[serde(flatten)]
    pub compounds: BTreeMap<String, DegCoeffs>,
}

/// TUMFTM's tyre degradation models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DegModel {
    /// `lin`: `k_0 + k_1_lin·age` → [`Degradation::Linear`].
    Lin,
    /// `quad`: `k_0 + k_1_quad·age + k_2_quad·age²` → [`Degradation::Quadratic`].
    Quad,
    /// `cub`: `k_0 + k_1_cub·age + k_2_cub·age² + k_3_cub·age³` → [`Degradation::Cubic`].
    Cub,
    /// `ln`: `k_0 + k_1_ln·ln(k_2_ln·age + 1)` → [`Degradation::Logarithmic`].
    Ln,
}

/// One compound's degradation coefficients. Files give several models' sets; only the chosen model's must be
/// present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
pub struct DegCoeffs {
    /// Offset of the fresh tyre over the reference compound, s (every model).
    pub k_0: Option<f64>,
    /// Linear model, s/lap.
    pub k_1_lin: Option<f64>,
    /// Quadratic model, s/lap.
    pub k_1_quad: Option<f64>,
    /// Quadratic model, s/lap².
    pub k_2_quad: Option<f64>,
    /// Cubic model, s/lap.
    pub k_1_cub: Option<f64>,
    /// Cubic model, s/lap².
    pub k_2_cub: Option<f64>,
    /// Cubic model, s/lap³.
    pub k_3_cub: Option<f64>,
    /// Logarithmic model, scale, s.
    pub k_1_ln: Option<f64>,
    /// Logarithmic model, age scale, 1/lap.
    pub k_2_ln: Option<f64>,
}

/// `[DRIVER_PARS]`: one driver → [`DriverModel`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DriverPars {
    /// Car number → [`DriverModel::car_number`].
    pub carno: u32,
    /// Full name (keys the Monte Carlo tables) → [`DriverModel::name`].
    pub name: String,
    /// Initials, e.g. `BOT`; must equal the driver's key → [`DriverModel::code`].
    pub initials: String,
    /// Team, a key of `[CAR_PARS]` → [`DriverModel::team`].
    pub team: String,
    /// Driver's pace deficit per lap, s (added to the car's `t_car`).
    pub t_driver: f64,
    /// The strategy driven: the start set, then each stop → [`DriverModel::plan`].
    pub strategy_info: Vec<StintEntry>,
    /// Grid position, 1-based → [`DriverModel::grid`].
    pub p_grid: u32,
    /// Team-order time delta, s → [`DriverModel::team_order_s`].
    pub t_teamorder: f64,
    /// Top speed in qualifying, km/h → [`DriverModel::top_speed_kmh`].
    pub vel_max: f64,
}

/// One entry of a TUMFTM strategy, `[inlap, compound, tire age, refuel]`. The first entry is the start: in-lap
/// 0, the start compound and its age → [`Plan::start`], [`Plan::start_age_laps`]. Each later one is a stop →
/// [`PlannedStop`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "(u32, String, u32, Option<f64>)")]
pub struct StintEntry {
    /// In-lap of the stop (0 for the start) → [`PlannedStop::lap`].
    pub inlap: u32,
    /// Compound code fitted → [`PlannedStop::compound`].
    pub compound: String,
    /// Age of the set fitted, laps → [`PlannedStop::age_laps`].
    pub tire_age: u32,
    /// Fuel (kg) or energy (kWh) added; anything but 0 or `null` is unsupported.
    pub refuel: Option<f64>,
}

/// `[MONTE_CARLO_PARS]`: race-specific Monte Carlo settings (the rest is in the Monte Carlo file).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MonteCarloPars {
    /// Minimum distance in laps before and after a SC phase. The larger of the two →
    /// [`RandomEvents::min_gap_laps`].
    pub min_dist_sc: f64,
    /// Minimum distance in laps before and after a VSC phase.
    pub min_dist_vsc: f64,
    /// Driver whose race time is the reference (the assumed winner; unused).
    pub ref_driver: Option<String>,
}

/// `[EVENT_PARS]`: events fixed in advance → [`FixedEvents`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct EventPars {
    /// Full-course yellows → [`FixedEvents::fcy`].
    pub fcy_data: FcyData,
    /// Retirements → [`FixedEvents::retirements`].
    pub retire_data: RetireData,
}

/// `fcy_data`: SC and VSC phases.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FcyData {
    /// `null`: no FCY at all → `Some(vec![])`. `[]`: random FCYs → `None`. A filled list: these phases → `Some`.
    #[serde(deserialize_with = "nullable")]
    pub phases: Option<Vec<FcyPhaseEntry>>,
    /// Whether starts and ends are race progress (supported) or race time (unsupported).
    pub domain: Domain,
}

/// One FCY phase, `[start, end, type, sc delay, sc duration]` → [`FcyPhase`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "(f64, f64, String, Option<f64>, Option<f64>)")]
pub struct FcyPhaseEntry {
    /// Start, race progress in leader laps → [`FcyPhase::start`].
    pub start: f64,
    /// End, race progress in leader laps → [`FcyPhase::end`].
    pub end: f64,
    /// `SC` or `VSC` → [`FcyPhase::kind`].
    pub kind: String,
    /// Delay between the phase start and the SC, s (time domain only; unused).
    pub sc_delay: Option<f64>,
    /// SC duration in laps (time domain only; unused).
    pub sc_duration: Option<f64>,
}

/// `retire_data`: retirements.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RetireData {
    /// `null`: nobody retires → `Some(vec![])`. `[]`: random retirements → `None`. A filled list: these → `Some`.
    #[serde(deserialize_with = "nullable")]
    pub retirements: Option<Vec<RetirementEntry>>,
    /// Whether the retirement points are race progress (supported) or race time (unsupported).
    pub domain: Domain,
}

/// One retirement, `[initials, at]` → [`Retirement`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "(String, f64)")]
pub struct RetirementEntry {
    /// The driver's initials → [`Retirement::driver`] (its index among the participants).
    pub initials: String,
    /// Race progress in leader laps at which the car stops → [`Retirement::at`].
    pub at: f64,
}

/// The axis of fixed events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Domain {
    /// Race progress in leader laps, `0..=tot_no_laps`.
    Progress,
    /// Race time in seconds (unsupported).
    Time,
}

/// `[VSE_PARS]`: the virtual strategy engineer's inputs.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct VsePars {
    /// Compounds available at this race, dry and wet (unused).
    pub available_compounds: Vec<String>,
    /// Dry compounds with parameters, i.e. the race's three → [`RaceModel::dry_compounds`] (see the module docs).
    pub param_dry_compounds: Vec<String>,
    /// Pirelli tyre-stress category, 1 (high) to 3 (low) (unused).
    pub location_cat: Option<u32>,
    /// The strategy with the least race time on a free track, by driver → [`TumftmPars::base_strategies`].
    pub base_strategy: BTreeMap<String, Vec<StintEntry>>,
    /// The strategy driven in reality, by driver → [`TumftmPars::real_strategies`].
    pub real_strategy: BTreeMap<String, Vec<StintEntry>>,
    /// The kind of VSE each driver uses (unused).
    #[serde(default)]
    pub vse_type: BTreeMap<String, String>,
}

/// The Monte Carlo parameter file (`pars_mcs.ini`), all seasons.
#[derive(Clone, Debug, PartialEq)]
pub struct McsPars {
    /// `[SEASON_<year>]` sections, by year.
    pub seasons: BTreeMap<u32, SeasonPars>,
    /// `[ALL_SEASONS]`.
    pub all_seasons: AllSeasonsPars,
}

/// `[SEASON_<year>]`: one season's retirement probabilities per race.
///
/// A driver or team missing from its table gets the median of the season's table (the mean of the two middle
/// values for an even count), so a newcomer is neither safer nor riskier than the typical entry.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct SeasonPars {
    /// Accident probability by driver's full name → [`DriverModel::p_accident`].
    pub p_accident: BTreeMap<String, f64>,
    /// Technical-failure probability by team → [`DriverModel::p_failure`].
    pub p_failure: BTreeMap<String, f64>,
}

/// `[ALL_SEASONS]`: distributions pooled over the seasons.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct AllSeasonsPars {
    /// SC and VSC statistics → [`RandomEvents`].
    pub p_fcy_phases: FcyStats,
    /// Pit-stop standstill variability by team, scipy Fisk `[c, loc, scale]` → [`DriverModel::pit_variability`]
    /// (`None` for a team missing from the table).
    pub t_pit_var_fisk_pars: BTreeMap<String, [f64; 3]>,
    /// Lap-time noise by driver's full name, s; `unknown` is the fallback → [`DriverModel::lap_sigma_s`].
    pub t_lap_var_sigma: BTreeMap<String, f64>,
    /// Start performance by driver's full name; `unknown` is the fallback → [`DriverModel::start_mean_s`],
    /// [`DriverModel::start_sigma_s`].
    pub t_startperf: BTreeMap<String, StartPerf>,
}

/// `p_fcy_phases`: the SC and VSC distributions.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FcyStats {
    /// Probability of 0, 1, 2, 3 SC phases per race → [`RandomEvents::sc_count`].
    pub p_sc_quant: Vec<f64>,
    /// Probability that a SC starts on lap 1, then in each fifth of the race (6 values) →
    /// [`RandomEvents::sc_start`].
    pub p_sc_start: Vec<f64>,
    /// Probability of a SC lasting 1, 2, 3… laps → [`RandomEvents::sc_laps`].
    pub p_sc_duration: Vec<f64>,
    /// Probability of a VSC after a retirement by failure → [`RandomEvents::vsc_after_failure`].
    pub p_vsc_aft_failure: f64,
    /// Probability of a VSC lasting 1, 2, 3… laps → [`RandomEvents::vsc_laps`].
    pub p_vsc_duration: Vec<f64>,
}

/// A driver's lap-1 start performance, s (negative: time gained).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub struct StartPerf {
    /// Mean → [`DriverModel::start_mean_s`].
    pub mean: f64,
    /// Standard deviation → [`DriverModel::start_sigma_s`].
    pub sigma: f64,
}

impl TumftmPars {
    /// Splits a race's parameter file into sections and deserializes each section's JSON.
    ///
    /// # Errors
    /// [`TumftmError::Syntax`] for a malformed INI line, [`TumftmError::MissingSection`] or
    /// [`TumftmError::MissingKey`] for an absent section or key, [`TumftmError::Json`] for JSON that does not
    /// parse or does not have the expected fields.
    pub fn parse(race_ini: &str) -> Result<Self, TumftmError> {
        let ini = Ini::parse(race_ini, "race")?;
        Ok(TumftmPars {
            race: ini.json("RACE_PARS", "race_pars")?,
            track: ini.json("TRACK_PARS", "track_pars")?,
            cars: ini.json("CAR_PARS", "car_pars")?,
            tiresets: ini.json("TIRESET_PARS", "tireset_pars")?,
            drivers: ini.json("DRIVER_PARS", "driver_pars")?,
            monte_carlo: ini.json("MONTE_CARLO_PARS", "monte_carlo_pars")?,
            events: ini.json("EVENT_PARS", "event_pars")?,
            vse: ini.json("VSE_PARS", "vse_pars")?,
        })
    }

    /// The race's [`RaceModel`], with the Monte Carlo statistics of its season from `mcs`.
    ///
    /// # Errors
    /// A participant without driver, tyre or car data, a team or driver without the values its model needs, a
    /// strategy that does not start at lap 0 or whose stops are not in lap order, a compound without tyre data,
    /// a missing season, probabilities outside `0..=1`, or an unsupported feature (electric cars, refuelling,
    /// time-domain events).
    pub fn to_model(&self, mcs: &McsPars) -> Result<RaceModel, TumftmError> {
        let compounds = CompoundMap::new(&self.vse.param_dry_compounds)?;
        let section = format!("SEASON_{}", self.race.season);
        let Some(pars) = mcs.seasons.get(&self.race.season) else {
            return Err(TumftmError::MissingSection { section });
        };
        let season = Season {
            median_accident: median(pars.p_accident.values().copied()),
            median_failure: median(pars.p_failure.values().copied()),
            section,
            pars,
        };

        let mut drivers: Vec<DriverModel> = Vec::with_capacity(self.race.participants.len());
        for code in &self.race.participants {
            if drivers.iter().any(|d| d.code == *code) {
                return Err(driver_error(
                    "RACE_PARS",
                    code,
                    "listed twice in participants",
                ));
            }
            let driver = self.driver_model(code, &compounds, &season, &mcs.all_seasons)?;
            drivers.push(driver);
        }

        let r = &self.race;
        let t = &self.track;
        let drs = if r.use_drs {
            Some(Drs {
                window_s: required_for_drs(r.drs_window, "RACE_PARS", "drs_window")?,
                effect_s: required_for_drs(t.t_drseffect, "TRACK_PARS", "t_drseffect")?,
                from_lap: required_for_drs(r.drs_allow_lap, "RACE_PARS", "drs_allow_lap")?,
                after_sc_laps: required_for_drs(r.drs_sc_delay, "RACE_PARS", "drs_sc_delay")?,
            })
        } else {
            None
        };
        if r.tot_no_laps == 0 {
            return Err(invalid("RACE_PARS", "tot_no_laps is 0"));
        }
        let most = super::lapsim::MAX_RACE_LAPS;
        if r.tot_no_laps > most {
            return Err(invalid(
                "RACE_PARS",
                &format!("tot_no_laps is {}: at most {most}", r.tot_no_laps),
            ));
        }

        Ok(RaceModel {
            track: t.name.clone(),
            season: Some(r.season),
            total_laps: r.tot_no_laps,
            timing: TrackTiming {
                base_lap_s: t.t_q + t.t_gap_racepace,
                fuel_s_per_kg: t.t_lap_sens_mass,
                pit: PitLosses {
                    in_green_s: t.t_pitdrive_inlap,
                    out_green_s: t.t_pitdrive_outlap,
                    in_vsc_s: t.t_pitdrive_inlap_fcy,
                    out_vsc_s: t.t_pitdrive_outlap_fcy,
                    in_sc_s: t.t_pitdrive_inlap_sc,
                    out_sc_s: t.t_pitdrive_outlap_sc,
                },
                tyre_change_min_s: t.t_pit_tirechange_min,
                pits_after_line: t.pits_aft_finishline,
                grid_loss_per_slot_s: t.t_loss_pergridpos,
                standing_start_s: t.t_loss_firstlap,
                sc_factor: t.mult_t_lap_sc,
                vsc_factor: t.mult_t_lap_fcy,
            },
            interaction: Interaction {
                min_gap_s: r.min_t_dist,
                min_gap_sc_s: r.min_t_dist_sc,
                duel_loss_s: r.t_duel,
                overtaken_loss_s: r.t_overtake_loser,
                overtake_threshold_s: t.t_gap_overtake,
                overtake_threshold_per_kmh_s: t.t_gap_overtake_vel,
                drs,
            },
            random: random_events(&mcs.all_seasons.p_fcy_phases, &self.monte_carlo)?,
            fixed: self.fixed_events(&drivers)?,
            drivers,
            dry_compounds: compounds.dry.iter().map(|(_, c)| *c).collect(),
        })
    }

    /// The strategies driven in reality (`[VSE_PARS] real_strategy`), by driver initials, in the order of the
    /// participants. A retired driver's plan may have a single stint.
    ///
    /// # Errors
    /// A participant without an entry, or an entry that is not a valid strategy (see [`TumftmPars::to_model`]).
    pub fn real_strategies(&self) -> Result<Vec<(String, Plan)>, TumftmError> {
        self.vse_strategies("real_strategy", &self.vse.real_strategy)
    }

    /// The free-track optimum strategies (`[VSE_PARS] base_strategy`), by driver initials, in the order of the
    /// participants.
    ///
    /// # Errors
    /// A participant without an entry, or an entry that is not a valid strategy (see [`TumftmPars::to_model`]).
    pub fn base_strategies(&self) -> Result<Vec<(String, Plan)>, TumftmError> {
        self.vse_strategies("base_strategy", &self.vse.base_strategy)
    }

    fn vse_strategies(
        &self,
        key: &str,
        by_driver: &BTreeMap<String, Vec<StintEntry>>,
    ) -> Result<Vec<(String, Plan)>, TumftmError> {
        let compounds = CompoundMap::new(&self.vse.param_dry_compounds)?;
        self.race
            .participants
            .iter()
            .map(|code| {
                let Some(entries) = by_driver.get(code) else {
                    return Err(driver_error("VSE_PARS", code, &format!("no {key} entry")));
                };
                Ok((
                    code.clone(),
                    plan("VSE_PARS", key, code, entries, &compounds)?,
                ))
            })
            .collect()
    }

    fn driver_model(
        &self,
        code: &str,
        compounds: &CompoundMap,
        season: &Season<'_>,
        all: &AllSeasonsPars,
    ) -> Result<DriverModel, TumftmError> {
        let Some(d) = self.drivers.get(code) else {
            return Err(driver_error(
                "DRIVER_PARS",
                code,
                "listed in participants but has no entry",
            ));
        };
        if d.initials != code {
            let message = format!("initials {} differ from the key", d.initials);
            return Err(driver_error("DRIVER_PARS", code, &message));
        }
        let Some(car) = self.cars.get(&d.team) else {
            return Err(team_error(
                "CAR_PARS",
                &d.team,
                &format!("has no entry (driver {code})"),
            ));
        };
        if car.drivetype == Drivetype::Electric {
            return Err(TumftmError::Unsupported {
                section: "CAR_PARS".to_owned(),
                what: format!("the electric drivetype (team {})", d.team),
            });
        }
        let Some(tireset) = self.tiresets.get(code) else {
            return Err(driver_error(
                "TIRESET_PARS",
                code,
                "listed in participants but has no entry",
            ));
        };
        let tyres = tyre_model(code, tireset, compounds)?;
        let plan = plan(
            "DRIVER_PARS",
            "strategy_info",
            code,
            &d.strategy_info,
            compounds,
        )?;
        let plan_compounds = plan
            .start
            .into_iter()
            .chain(plan.stops.iter().map(|s| s.compound));
        for compound in plan_compounds {
            if tyres.of(compound).is_none() {
                let message =
                    format!("strategy_info uses {compound:?}, which has no degradation data");
                return Err(driver_error("TIRESET_PARS", code, &message));
            }
        }

        let p_accident = season
            .pars
            .p_accident
            .get(&d.name)
            .copied()
            .or(season.median_accident);
        let Some(p_accident) = p_accident else {
            return Err(driver_error(
                &season.section,
                &d.name,
                "no p_accident and the table is empty",
            ));
        };
        let p_failure = season
            .pars
            .p_failure
            .get(&d.team)
            .copied()
            .or(season.median_failure);
        let Some(p_failure) = p_failure else {
            return Err(team_error(
                &season.section,
                &d.team,
                "no p_failure and the table is empty",
            ));
        };
        for (p, what) in [(p_accident, "p_accident"), (p_failure, "p_failure")] {
            if !(0.0..=1.0).contains(&p) {
                let message = format!("{what} of driver {code} is {p}, outside 0..=1");
                return Err(invalid(&season.section, &message));
            }
        }
        let lap_sigma = all
            .t_lap_var_sigma
            .get(&d.name)
            .or_else(|| all.t_lap_var_sigma.get(UNKNOWN));
        let Some(&lap_sigma_s) = lap_sigma else {
            return Err(driver_error(
                "ALL_SEASONS",
                &d.name,
                "no t_lap_var_sigma and no \"unknown\" fallback",
            ));
        };
        let start = all
            .t_startperf
            .get(&d.name)
            .or_else(|| all.t_startperf.get(UNKNOWN));
        let Some(start) = start else {
            return Err(driver_error(
                "ALL_SEASONS",
                &d.name,
                "no t_startperf and no \"unknown\" fallback",
            ));
        };
        let pit_variability = all
            .t_pit_var_fisk_pars
            .get(&d.team)
            .map(|&[c, loc, scale]| Fisk { c, loc, scale });

        Ok(DriverModel {
            code: code.to_owned(),
            name: d.name.clone(),
            team: d.team.clone(),
            car_number: d.carno,
            pace_offset_s: car.t_car + d.t_driver,
            team_order_s: d.t_teamorder,
            top_speed_kmh: d.vel_max,
            grid: d.p_grid,
            fuel: FuelModel {
                start_kg: required_team(car.m_fuel, &d.team, "m_fuel")?,
                burn_kg_per_lap: required_team(car.b_fuel_perlap, &d.team, "b_fuel_perlap")?,
                sc_factor: car.mult_consumption_sc,
                vsc_factor: car.mult_consumption_fcy,
            },
            tyres,
            plan,
            pit_crew_extra_s: car.t_pit_tirechange_add,
            pit_variability,
            lap_sigma_s,
            start_mean_s: start.mean,
            start_sigma_s: start.sigma,
            p_accident,
            p_failure,
        })
    }

    fn fixed_events(&self, drivers: &[DriverModel]) -> Result<FixedEvents, TumftmError> {
        let total = f64::from(self.race.tot_no_laps);
        let fcy_data = &self.events.fcy_data;
        let fcy = match &fcy_data.phases {
            None => Some(Vec::new()),
            Some(phases) if phases.is_empty() => None,
            Some(phases) => {
                if fcy_data.domain == Domain::Time {
                    return Err(TumftmError::Unsupported {
                        section: "EVENT_PARS".to_owned(),
                        what: "time-domain FCY phases".to_owned(),
                    });
                }
                let mut out = Vec::with_capacity(phases.len());
                for p in phases {
                    let kind = match p.kind.as_str() {
                        "SC" => FcyKind::Sc,
                        "VSC" => FcyKind::Vsc,
                        other => {
                            let message =
                                format!("FCY phase type {other:?} is neither \"SC\" nor \"VSC\"");
                            return Err(invalid("EVENT_PARS", &message));
                        }
                    };
                    if !(0.0 <= p.start && p.start < p.end && p.end <= total) {
                        let message =
                            format!("FCY phase {}..{} is not within 0..={total}", p.start, p.end);
                        return Err(invalid("EVENT_PARS", &message));
                    }
                    out.push(FcyPhase {
                        start: p.start,
                        end: p.end,
                        kind,
                    });
                }
                Some(out)
            }
        };

        let retire_data = &self.events.retire_data;
        let retirements = match &retire_data.retirements {
            None => Some(Vec::new()),
            Some(list) if list.is_empty() => None,
            Some(list) => {
                if retire_data.domain == Domain::Time {
                    return Err(TumftmError::Unsupported {
                        section: "EVENT_PARS".to_owned(),
                        what: "time-domain retirements".to_owned(),
                    });
                }
                let mut out = Vec::with_capacity(list.len());
                for r in list {
                    let Some(driver) = drivers.iter().position(|d| d.code == r.initials) else {
                        return Err(driver_error(
                            "EVENT_PARS",
                            &r.initials,
                            "retires but is not a participant",
                        ));
                    };
                    if !(0.0..=total).contains(&r.at) {
                        let message = format!("retires at {}, not within 0..={total}", r.at);
                        return Err(driver_error("EVENT_PARS", &r.initials, &message));
                    }
                    out.push(Retirement { driver, at: r.at });
                }
                Some(out)
            }
        };
        Ok(FixedEvents { fcy, retirements })
    }
}

impl McsPars {
    /// Splits the Monte Carlo parameter file and deserializes every `[SEASON_<year>]` section and
    /// `[ALL_SEASONS]`. Other sections are ignored.
    ///
    /// # Errors
    /// [`TumftmError::Syntax`] for a malformed INI line, a `SEASON_` section whose suffix is not a year,
    /// [`TumftmError::MissingSection`] or [`TumftmError::MissingKey`] for an absent section or key,
    /// [`TumftmError::Json`] for JSON that does not parse or does not have the expected fields.
    pub fn parse(mcs_ini: &str) -> Result<Self, TumftmError> {
        let ini = Ini::parse(mcs_ini, "mcs")?;
        let mut seasons = BTreeMap::new();
        for section in &ini.sections {
            let Some(year) = section.name.strip_prefix("SEASON_") else {
                continue;
            };
            let Ok(year) = year.parse::<u32>() else {
                return Err(invalid(
                    &section.name,
                    "the section name's suffix is not a year",
                ));
            };
            let season = SeasonPars {
                p_accident: ini.json(&section.name, "p_accident")?,
                p_failure: ini.json(&section.name, "p_failure")?,
            };
            seasons.insert(year, season);
        }
        let all_seasons = AllSeasonsPars {
            p_fcy_phases: ini.json("ALL_SEASONS", "p_fcy_phases")?,
            t_pit_var_fisk_pars: ini.json("ALL_SEASONS", "t_pit_var_fisk_pars")?,
            t_lap_var_sigma: ini.json("ALL_SEASONS", "t_lap_var_sigma")?,
            t_startperf: ini.json("ALL_SEASONS", "t_startperf")?,
        };
        Ok(McsPars {
            seasons,
            all_seasons,
        })
    }
}

impl From<(u32, String, u32, Option<f64>)> for StintEntry {
    fn from((inlap, compound, tire_age, refuel): (u32, String, u32, Option<f64>)) -> Self {
        StintEntry {
            inlap,
            compound,
            tire_age,
            refuel,
        }
    }
}

impl From<(f64, f64, String, Option<f64>, Option<f64>)> for FcyPhaseEntry {
    fn from(
        (start, end, kind, sc_delay, sc_duration): (f64, f64, String, Option<f64>, Option<f64>),
    ) -> Self {
        FcyPhaseEntry {
            start,
            end,
            kind,
            sc_delay,
            sc_duration,
        }
    }
}

impl From<(String, f64)> for RetirementEntry {
    fn from((initials, at): (String, f64)) -> Self {
        RetirementEntry { initials, at }
    }
}

/// A season's Monte Carlo table, with the medians that stand in for drivers and teams it lacks.
#[derive(Debug)]
struct Season<'a> {
    /// `SEASON_<year>`, for error messages.
    section: String,
    pars: &'a SeasonPars,
    median_accident: Option<f64>,
    median_failure: Option<f64>,
}

/// The key of the fallback entry in the per-driver Monte Carlo tables.
const UNKNOWN: &str = "unknown";

/// A present-but-possibly-`null` JSON field: unlike a plain `Option` field, a missing key is an error, because
/// for TUMFTM's event lists `null` and "absent" must not be confused with `[]`.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// TUMFTM compound codes to the event-relative [`Compound`]s (see the module docs).
#[derive(Debug)]
struct CompoundMap {
    /// The race's dry compounds, softest first.
    dry: Vec<(String, Compound)>,
}

impl CompoundMap {
    fn new(param_dry_compounds: &[String]) -> Result<Self, TumftmError> {
        let mut codes: Vec<(u32, &String)> = Vec::with_capacity(param_dry_compounds.len());
        for code in param_dry_compounds {
            let Some(softness) = code.strip_prefix('A').and_then(|n| n.parse::<u32>().ok()) else {
                let message =
                    format!("param_dry_compounds: {code:?} is not a dry compound code (A<n>)");
                return Err(invalid("VSE_PARS", &message));
            };
            if codes.iter().any(|(s, _)| *s == softness) {
                return Err(invalid(
                    "VSE_PARS",
                    &format!("param_dry_compounds: {code} is listed twice"),
                ));
            }
            codes.push((softness, code));
        }
        codes.sort_by_key(|(softness, _)| std::cmp::Reverse(*softness));
        let relative: &[Compound] = match codes.len() {
            0 => &[],
            1 => &[Compound::Medium],
            2 => &[Compound::Soft, Compound::Hard],
            3 => &Compound::DRY,
            n => {
                let message =
                    format!("param_dry_compounds: {n} dry compounds, but a race has at most three");
                return Err(invalid("VSE_PARS", &message));
            }
        };
        let dry = codes
            .into_iter()
            .zip(relative)
            .map(|((_, code), c)| (code.clone(), *c))
            .collect();
        Ok(CompoundMap { dry })
    }

    /// The relative compound of a code, or `None` for a dry compound not allowed at this race.
    fn get(&self, code: &str) -> Option<Compound> {
        match code {
            "I" => Some(Compound::Intermediate),
            "W" => Some(Compound::Wet),
            _ => self
                .dry
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, compound)| *compound),
        }
    }
}

fn tyre_model(
    code: &str,
    tireset: &TiresetPars,
    compounds: &CompoundMap,
) -> Result<TyreModel, TumftmError> {
    let mut degs = Vec::new();
    for (label, coeffs) in &tireset.compounds {
        let Some(compound) = compounds.get(label) else {
            continue;
        };
        let deg = degradation(tireset.tire_deg_model, coeffs).map_err(|missing| {
            let message = format!(
                "compound {label}: tire_deg_model {:?} needs {missing}",
                tireset.tire_deg_model
            );
            driver_error("TIRESET_PARS", code, &message)
        })?;
        degs.push(CompoundDeg {
            compound,
            label: label.clone(),
            deg,
        });
    }
    degs.sort_by_key(|d| d.compound);
    Ok(TyreModel {
        compounds: degs,
        sc_wear_factor: tireset.mult_tiredeg_sc,
        vsc_wear_factor: tireset.mult_tiredeg_fcy,
        cold_tyre_s: tireset.t_add_coldtires,
    })
}

/// The chosen model's [`Degradation`], or the name of the first coefficient it needs that is missing.
fn degradation(model: DegModel, k: &DegCoeffs) -> Result<Degradation, &'static str> {
    fn need(value: Option<f64>, name: &'static str) -> Result<f64, &'static str> {
        value.ok_or(name)
    }
    let k0 = need(k.k_0, "k_0")?;
    Ok(match model {
        DegModel::Lin => Degradation::Linear {
            k0,
            k1: need(k.k_1_lin, "k_1_lin")?,
        },
        DegModel::Quad => Degradation::Quadratic {
            k0,
            k1: need(k.k_1_quad, "k_1_quad")?,
            k2: need(k.k_2_quad, "k_2_quad")?,
        },
        DegModel::Cub => Degradation::Cubic {
            k0,
            k1: need(k.k_1_cub, "k_1_cub")?,
            k2: need(k.k_2_cub, "k_2_cub")?,
            k3: need(k.k_3_cub, "k_3_cub")?,
        },
        DegModel::Ln => Degradation::Logarithmic {
            k0,
            k1: need(k.k_1_ln, "k_1_ln")?,
            k2: need(k.k_2_ln, "k_2_ln")?,
        },
    })
}

/// A TUMFTM strategy as a [`Plan`]: the first entry is the start, the rest are stops in strictly increasing
/// in-lap order.
fn plan(
    section: &str,
    key: &str,
    code: &str,
    entries: &[StintEntry],
    compounds: &CompoundMap,
) -> Result<Plan, TumftmError> {
    let fail = |message: String| driver_error(section, code, &format!("{key}: {message}"));
    let compound = |e: &StintEntry| {
        compounds
            .get(&e.compound)
            .ok_or_else(|| fail(format!("compound {} is not one of this race's", e.compound)))
    };
    for e in entries {
        if e.refuel.is_some_and(|r| r != 0.0) {
            return Err(TumftmError::Unsupported {
                section: section.to_owned(),
                what: format!("refuelling (driver {code}, {key}, lap {})", e.inlap),
            });
        }
    }
    let Some((first, stops)) = entries.split_first() else {
        return Err(fail("empty strategy".to_owned()));
    };
    if first.inlap != 0 {
        return Err(fail(format!(
            "the first entry must be the start (in-lap 0), not lap {}",
            first.inlap
        )));
    }
    let mut plan = Plan {
        start: Some(compound(first)?),
        start_age_laps: first.tire_age,
        stops: Vec::new(),
    };
    let mut previous = 0;
    for e in stops {
        if e.inlap <= previous {
            return Err(fail(format!(
                "stop on lap {} is not after lap {previous}",
                e.inlap
            )));
        }
        previous = e.inlap;
        plan.stops.push(PlannedStop {
            lap: e.inlap,
            compound: compound(e)?,
            age_laps: e.tire_age,
        });
    }
    Ok(plan)
}

fn random_events(stats: &FcyStats, mc: &MonteCarloPars) -> Result<RandomEvents, TumftmError> {
    let Ok(sc_start) = <[f64; 6]>::try_from(stats.p_sc_start.as_slice()) else {
        let message = format!(
            "p_fcy_phases: p_sc_start has {} values, expected 6",
            stats.p_sc_start.len()
        );
        return Err(invalid("ALL_SEASONS", &message));
    };
    Ok(RandomEvents {
        sc_count: stats.p_sc_quant.clone(),
        sc_start,
        sc_laps: stats.p_sc_duration.clone(),
        vsc_after_failure: stats.p_vsc_aft_failure,
        vsc_laps: stats.p_vsc_duration.clone(),
        min_gap_laps: mc.min_dist_sc.max(mc.min_dist_vsc),
    })
}

/// The median, or `None` for no values.
fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    crate::twin::pace::median(&mut values.collect::<Vec<f64>>())
}

fn required_for_drs<T>(value: Option<T>, section: &str, key: &str) -> Result<T, TumftmError> {
    value.ok_or_else(|| {
        invalid(
            section,
            &format!("{key} is null or missing but use_drs is true"),
        )
    })
}

fn required_team(value: Option<f64>, team: &str, key: &str) -> Result<f64, TumftmError> {
    value.ok_or_else(|| {
        team_error(
            "CAR_PARS",
            team,
            &format!("{key} is null or missing for a combustion car"),
        )
    })
}

fn driver_error(section: &str, driver: &str, message: &str) -> TumftmError {
    TumftmError::Driver {
        section: section.to_owned(),
        driver: driver.to_owned(),
        message: message.to_owned(),
    }
}

fn team_error(section: &str, team: &str, message: &str) -> TumftmError {
    TumftmError::Team {
        section: section.to_owned(),
        team: team.to_owned(),
        message: message.to_owned(),
    }
}

fn invalid(section: &str, message: &str) -> TumftmError {
    TumftmError::Invalid {
        section: section.to_owned(),
        message: message.to_owned(),
    }
}

/// An INI file split the way Python's `configparser` (TUMFTM's reader) splits it, restricted to what TUMFTM
/// writes: `[SECTION]` headers; `key = value` (or `key: value`) at the start of a line; lines indented further
/// continue the value; blank lines and lines whose first non-blank character is `#` or `;` are skipped, also
/// inside a value; `#` elsewhere is not a comment (team colours are `"#00D2BE"`). Keys keep their case.
///
/// Hand-written because no well-kept Rust INI crate handles configparser's multi-line values; the subset is
/// small enough to check line by line.
#[derive(Debug)]
struct Ini {
    sections: Vec<IniSection>,
}

#[derive(Debug)]
struct IniSection {
    name: String,
    entries: Vec<IniEntry>,
}

#[derive(Debug)]
struct IniEntry {
    key: String,
    /// 1-based line of `key = ...`.
    line: usize,
    /// The value with one text line per file line from `line` on, and the `key =` part blanked out, so that
    /// a JSON error's line and column map back onto the file.
    value: String,
}

impl Ini {
    fn parse(text: &str, file: &'static str) -> Result<Ini, TumftmError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut sections: Vec<IniSection> = Vec::new();
        // Whether the last entry of the last section can still take continuation lines.
        let mut in_value = false;
        for (idx, line) in text.lines().enumerate() {
            let line_no = idx + 1;
            let syntax = |message: String| TumftmError::Syntax {
                file,
                line: line_no,
                message,
            };
            let current = if in_value {
                sections.last_mut().and_then(|s| s.entries.last_mut())
            } else {
                None
            };
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                if let Some(entry) = current {
                    entry.value.push('\n');
                }
                continue;
            }
            if line.starts_with(char::is_whitespace) {
                let Some(entry) = current else {
                    return Err(syntax("indented line outside a value".to_owned()));
                };
                entry.value.push('\n');
                entry.value.push_str(line);
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    return Err(syntax("section header without a closing `]`".to_owned()));
                };
                let name = name.trim();
                if sections.iter().any(|s| s.name == name) {
                    return Err(syntax(format!("duplicate section [{name}]")));
                }
                sections.push(IniSection {
                    name: name.to_owned(),
                    entries: Vec::new(),
                });
                in_value = false;
                continue;
            }
            let Some(delimiter) = line.find(['=', ':']) else {
                return Err(syntax(
                    "expected `[SECTION]`, `key = value`, a comment or an indented line".to_owned(),
                ));
            };
            let key = line[..delimiter].trim();
            if key.is_empty() {
                return Err(syntax("empty key".to_owned()));
            }
            let Some(section) = sections.last_mut() else {
                return Err(syntax(format!("key {key} before the first section")));
            };
            if section.entries.iter().any(|e| e.key == key) {
                return Err(syntax(format!("duplicate key {key} in [{}]", section.name)));
            }
            let value = format!("{}{}", " ".repeat(delimiter + 1), &line[delimiter + 1..]);
            section.entries.push(IniEntry {
                key: key.to_owned(),
                line: line_no,
                value,
            });
            in_value = true;
        }
        Ok(Ini { sections })
    }

    fn entry(&self, section: &str, key: &str) -> Result<&IniEntry, TumftmError> {
        let Some(s) = self.sections.iter().find(|s| s.name == section) else {
            return Err(TumftmError::MissingSection {
                section: section.to_owned(),
            });
        };
        s.entries
            .iter()
            .find(|e| e.key == key)
            .ok_or_else(|| TumftmError::MissingKey {
                section: section.to_owned(),
                key: key.to_owned(),
            })
    }

    /// Deserializes the JSON value of `key` in `section`.
    fn json<T: DeserializeOwned>(&self, section: &str, key: &str) -> Result<T, TumftmError> {
        let entry = self.entry(section, key)?;
        let error = |path: String, e: serde_json::Error| {
            // serde_json appends " at line L column C" relative to the value; the value's lines are the file's
            // from the key's line on, so the position maps back directly.
            let (line, column) = if e.line() == 0 {
                (entry.line, 0)
            } else {
                (entry.line + e.line() - 1, e.column())
            };
            let text = e.to_string();
            let text = if e.line() == 0 {
                text.as_str()
            } else {
                text.rsplit_once(" at line ")
                    .map_or(text.as_str(), |(m, _)| m)
            };
            let message = if path == "." {
                text.to_owned()
            } else {
                format!("{path}: {text}")
            };
            TumftmError::Json {
                section: section.to_owned(),
                key: key.to_owned(),
                message,
                line,
                column,
            }
        };
        let mut de = serde_json::Deserializer::from_str(&entry.value);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            error(path, e.into_inner())
        })?;
        de.end().map_err(|e| error(".".to_owned(), e))?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complete two-driver race file: BBB (TeamB) is listed first and has no Monte Carlo data; AAA (TeamA)
    /// retires. The dry compounds are listed out of order, and AAA has data for A3, not allowed here.
    const RACE: &str = r##"# encoding UTF-8

[RACE_PARS]
# season:                   [-] season of the race
# participants:             [-] list of participants
race_pars = {"season": 2019,
    "tot_no_laps": 50,
    "min_t_dist": 0.5,
    "min_t_dist_sc": 0.8,
    "t_duel": 0.3,
    "t_overtake_loser": 0.4,
    "use_drs": true,
    "drs_window": 1.0,
    "drs_allow_lap": 3,
    "drs_sc_delay": 2,
    "participants": ["BBB", "AAA"]}

[TRACK_PARS]
track_pars = {"name": "Testring",
    "t_q": 80.0, "t_gap_racepace": 2.5, "t_lap_sens_mass": 0.03, "t_pit_tirechange_min": 2.0,
    "t_pitdrive_inlap": 4.0, "t_pitdrive_outlap": 14.0,
    "t_pitdrive_inlap_fcy": 2.5, "t_pitdrive_outlap_fcy": 7.0,
    "t_pitdrive_inlap_sc": 2.0, "t_pitdrive_outlap_sc": 6.0,
    "pits_aft_finishline": false, "t_loss_pergridpos": 0.1, "t_loss_firstlap": 4.5,
    "t_gap_overtake": 1.5, "t_gap_overtake_vel": -0.01, "t_drseffect": -0.4,
    "mult_t_lap_sc": 1.6, "mult_t_lap_fcy": 1.4}

[CAR_PARS]
# HINT: parameters are per team
car_pars = {"TeamA": {"drivetype": "combustion", "manufacturer": "TeamA", "t_car": 0.2,
        "m_fuel": 105.0, "b_fuel_perlap": 1.8, "energy": null, "energy_perlap": null,
        "mult_consumption_sc": 0.25, "mult_consumption_fcy": 0.5, "auto_consumption_adjust": true,
        "t_pit_tirechange_add": 0.5, "t_pit_refuel_perkg": null, "t_pit_charge_perkwh": null,
        "color": "#00D2BE"},
    "TeamB": {"drivetype": "combustion", "manufacturer": "TeamB", "t_car": 0.6,
        "m_fuel": 110.0, "b_fuel_perlap": 1.6, "energy": null, "energy_perlap": null,
        "mult_consumption_sc": 0.3, "mult_consumption_fcy": 0.6, "auto_consumption_adjust": true,
        "t_pit_tirechange_add": 1.0, "t_pit_refuel_perkg": null, "t_pit_charge_perkwh": null,
        "color": "#FFF500"}}

[TIRESET_PARS]
tireset_pars = {"AAA": {"tire_deg_model": "lin",
        "mult_tiredeg_sc": 0.25,
        "mult_tiredeg_fcy": 0.5,
        "t_add_coldtires": 1.0,
        "A4": {"k_0": 0.0, "k_1_lin": 0.02, "k_1_quad": 0.01, "k_2_quad": 0.0001},
        "A6": {"k_0": 0.3, "k_1_lin": 0.04, "k_1_quad": 0.02, "k_2_quad": 0.0002},
        "A7": {"k_0": 0.5, "k_1_lin": 0.08, "k_1_quad": 0.04, "k_2_quad": 0.0004},
        "A3": {"k_0": 1.0, "k_1_lin": 0.01}},
    "BBB": {"tire_deg_model": "lin",
        "mult_tiredeg_sc": 0.2,
        "mult_tiredeg_fcy": 0.4,
        "t_add_coldtires": 0.8,
        "A4": {"k_0": 0.0, "k_1_lin": 0.03, "k_1_quad": 0.01, "k_2_quad": 0.0001},
        "A6": {"k_0": 0.2, "k_1_lin": 0.05, "k_1_quad": 0.02, "k_2_quad": 0.0002},
        "A7": {"k_0": 0.4, "k_1_lin": 0.09, "k_1_quad": 0.04, "k_2_quad": 0.0004}}}

[DRIVER_PARS]
driver_pars = {"AAA": {"carno": 1, "name": "Alpha Driver", "initials": "AAA", "team": "TeamA",
        "t_driver": 0.1,
        "strategy_info": [[0, "A6", 2, 0.0], [20, "A4", 0, 0.0]],
        "p_grid": 2, "t_teamorder": 0.0, "vel_max": 320.0},
    "BBB": {"carno": 2, "name": "Beta Driver", "initials": "BBB", "team": "TeamB",
        "t_driver": 0.0,
        "strategy_info": [[0, "A7", 0, 0.0], [15, "A6", 0, 0.0], [33, "A4", 3, 0.0]],
        "p_grid": 1, "t_teamorder": -0.5, "vel_max": 325.5}}

[MONTE_CARLO_PARS]
monte_carlo_pars = {"min_dist_sc": 1.5,
    "min_dist_vsc": 2.0,
    "ref_driver": "AAA"}

[EVENT_PARS]
event_pars = {"fcy_data": {"phases": [],
        "domain": "progress"},
    "retire_data": {"retirements": [["AAA", 30.5]],
        "domain": "progress"}}

[VSE_PARS]
vse_pars = {"available_compounds": ["A4", "A6", "A7", "I", "W"],
    "param_dry_compounds": ["A7", "A4", "A6"],
    "location_cat": 3,
    "base_strategy": {"AAA": [[0, "A6", 2, 0.0], [25, "A7", 0, 0.0]],
        "BBB": [[0, "A7", 0, 0.0], [20, "A4", 0, 0.0]]},
    "real_strategy": {"AAA": [[0, "A6", 2, 0.0], [20, "A4", 0, 0.0]],
        "BBB": [[0, "A7", 0, 0.0], [15, "A6", 0, 0.0], [33, "A4", 3, 0.0]]},
    "vse_type": {"AAA": "supervised", "BBB": "supervised"}}
"##;

    const MCS: &str = r#"# p_accident: [-] driver- and season-specific accident probabilities per race

[SEASON_2018]
p_accident = {"Alpha Driver": 0.5}
p_failure = {"TeamA": 0.5}

[SEASON_2019]
p_accident = {"Alpha Driver": 0.05, "Other One": 0.07, "Other Two": 0.02}
p_failure = {"TeamA": 0.04, "Other": 0.10}

[ALL_SEASONS]
p_fcy_phases = {"p_sc_quant": [0.5, 0.4, 0.1], "p_sc_start": [0.3, 0.1, 0.1, 0.1, 0.2, 0.2], "p_sc_duration": [0.0, 0.5, 0.5], "p_vsc_aft_failure": 0.2, "p_vsc_duration": [0.5, 0.5]}
t_pit_var_fisk_pars = {"TeamA": [2.0, -0.1, 0.5]}
t_lap_var_sigma = {"Alpha Driver": 0.4, "unknown": 0.6}
t_startperf = {"Alpha Driver": {"mean": -0.05, "sigma": 0.1}, "unknown": {"mean": 0.0, "sigma": 0.15}}
"#;

    fn model() -> RaceModel {
        read(RACE, MCS).unwrap()
    }

    fn read_err(race: &str) -> TumftmError {
        read(race, MCS).unwrap_err()
    }

    #[test]
    fn splits_multi_line_values_and_skips_comments() {
        let text = "# header\n; also a comment\n[A]\n# about x\nx = {\"a\": 1,\n    # inside\n\n    \"b\": \"#c\"}\ny: [1,\n  2]\n[B]\nz = 3\n";
        let ini = Ini::parse(text, "race").unwrap();
        let names: Vec<&str> = ini.sections.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        let x = ini.entry("A", "x").unwrap();
        assert_eq!(x.line, 5);
        assert_eq!(
            x.value.lines().count(),
            4,
            "one value line per file line: {:?}",
            x.value
        );
        let x: serde_json::Value = ini.json("A", "x").unwrap();
        assert_eq!(x, serde_json::json!({"a": 1, "b": "#c"}));
        let y: Vec<u32> = ini.json("A", "y").unwrap();
        assert_eq!(y, [1, 2]);
        let z: u32 = ini.json("B", "z").unwrap();
        assert_eq!(z, 3);
    }

    #[test]
    fn splitter_rejects_malformed_lines() {
        let cases = [
            ("x = 1\n", 1, "before the first section"),
            ("[A]\n  indented\n", 2, "indented line outside a value"),
            ("[A\n", 1, "closing"),
            ("[A]\nx = 1\nx = 2\n", 3, "duplicate key x"),
            ("[A]\n[A]\n", 2, "duplicate section"),
            ("[A]\njust words\n", 2, "expected"),
            ("[A]\n= 1\n", 2, "empty key"),
        ];
        for (text, line, needle) in cases {
            let err = Ini::parse(text, "race").unwrap_err();
            let TumftmError::Syntax {
                line: got,
                ref message,
                ..
            } = err
            else {
                panic!("{text:?}: {err}");
            };
            assert_eq!(got, line, "{text:?}");
            assert!(message.contains(needle), "{text:?}: {message}");
        }
    }

    #[test]
    fn maps_every_parameter() {
        let m = model();
        assert_eq!(m.track, "Testring");
        assert_eq!(m.season, Some(2019));
        assert_eq!(m.total_laps, 50);
        assert_eq!(m.timing.base_lap_s, 80.0 + 2.5);
        assert_eq!(m.timing.fuel_s_per_kg, 0.03);
        assert_eq!(m.timing.pit.green_s(), 18.0);
        assert_eq!((m.timing.pit.in_vsc_s, m.timing.pit.out_vsc_s), (2.5, 7.0));
        assert_eq!((m.timing.pit.in_sc_s, m.timing.pit.out_sc_s), (2.0, 6.0));
        assert!(!m.timing.pits_after_line);
        assert_eq!((m.timing.sc_factor, m.timing.vsc_factor), (1.6, 1.4));
        assert_eq!(m.interaction.overtaken_loss_s, 0.4);
        assert_eq!(m.interaction.overtake_threshold_per_kmh_s, -0.01);
        assert_eq!(
            m.interaction.drs,
            Some(Drs {
                window_s: 1.0,
                effect_s: -0.4,
                from_lap: 3,
                after_sc_laps: 2
            })
        );
        assert_eq!(
            m.random.min_gap_laps, 2.0,
            "the larger of min_dist_sc and min_dist_vsc"
        );
        assert_eq!(m.random.sc_start, [0.3, 0.1, 0.1, 0.1, 0.2, 0.2]);
        assert_eq!(m.fixed.fcy, None, "[] means random FCYs");
        assert_eq!(
            m.fixed.retirements,
            Some(vec![Retirement {
                driver: 1,
                at: 30.5
            }])
        );

        let codes: Vec<&str> = m.drivers.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["BBB", "AAA"], "participants order");
        let a = &m.drivers[1];
        assert!((a.pace_offset_s - 0.3).abs() < 1e-12);
        assert_eq!(
            a.fuel,
            FuelModel {
                start_kg: 105.0,
                burn_kg_per_lap: 1.8,
                sc_factor: 0.25,
                vsc_factor: 0.5
            }
        );
        assert_eq!(a.pit_crew_extra_s, 0.5);
        assert_eq!(
            a.pit_variability,
            Some(Fisk {
                c: 2.0,
                loc: -0.1,
                scale: 0.5
            })
        );
        assert_eq!(
            (a.lap_sigma_s, a.start_mean_s, a.start_sigma_s),
            (0.4, -0.05, 0.1)
        );
        assert_eq!((a.p_accident, a.p_failure), (0.05, 0.04));
        assert_eq!(a.plan.label(), "M-20-H");
        assert_eq!(a.plan.start_age_laps, 2);

        // BBB has no Monte Carlo data: the season's medians and the "unknown" entries.
        let b = &m.drivers[0];
        assert_eq!(b.p_accident, 0.05);
        assert!((b.p_failure - 0.07).abs() < 1e-12);
        assert_eq!(b.pit_variability, None);
        assert_eq!(
            (b.lap_sigma_s, b.start_mean_s, b.start_sigma_s),
            (0.6, 0.0, 0.15)
        );
        assert_eq!(
            (b.grid, b.car_number, b.team_order_s, b.top_speed_kmh),
            (1, 2, -0.5, 325.5)
        );
        assert_eq!(b.plan.label(), "S-15-M-33-H");
        assert_eq!(b.plan.stops[1].age_laps, 3);
        assert_eq!(b.tyres.cold_tyre_s, 0.8);
        assert_eq!(
            (b.tyres.sc_wear_factor, b.tyres.vsc_wear_factor),
            (0.2, 0.4)
        );
    }

    #[test]
    fn maps_compounds_softest_first() {
        let m = model();
        assert_eq!(m.dry_compounds, Compound::DRY);
        let a = &m.drivers[1].tyres;
        let got: Vec<(Compound, &str)> = a
            .compounds
            .iter()
            .map(|c| (c.compound, c.label.as_str()))
            .collect();
        // A3 is not one of this race's compounds: skipped.
        assert_eq!(
            got,
            [
                (Compound::Soft, "A7"),
                (Compound::Medium, "A6"),
                (Compound::Hard, "A4")
            ]
        );
        assert_eq!(
            a.of(Compound::Hard).unwrap().deg,
            Degradation::Linear { k0: 0.0, k1: 0.02 }
        );

        let codes = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let two = CompoundMap::new(&codes(&["A2", "A4"])).unwrap();
        assert_eq!(
            (two.get("A4"), two.get("A2")),
            (Some(Compound::Soft), Some(Compound::Hard))
        );
        let one = CompoundMap::new(&codes(&["A4"])).unwrap();
        assert_eq!(one.get("A4"), Some(Compound::Medium));
        let three = CompoundMap::new(&codes(&["A3", "A2", "A4"])).unwrap();
        assert_eq!(three.get("A2"), Some(Compound::Hard));
        assert_eq!(three.get("A3"), Some(Compound::Medium));
        assert_eq!(three.get("I"), Some(Compound::Intermediate));
        assert_eq!(three.get("W"), Some(Compound::Wet));
        assert_eq!(three.get("A7"), None);
        assert!(CompoundMap::new(&codes(&["C3"])).is_err());
        assert!(CompoundMap::new(&codes(&["A4", "A4"])).is_err());
        assert!(CompoundMap::new(&codes(&["A2", "A3", "A4", "A6"])).is_err());
    }

    #[test]
    fn wet_tyres_with_data_are_kept() {
        let race = RACE.replace(
            r#""A3": {"k_0": 1.0, "k_1_lin": 0.01}"#,
            r#""I": {"k_0": 5.0, "k_1_lin": 0.01}, "W": {"k_0": 9.0, "k_1_lin": 0.0}"#,
        );
        let m = read(&race, MCS).unwrap();
        let a = &m.drivers[1].tyres;
        assert_eq!(a.compounds.len(), 5);
        assert_eq!(a.of(Compound::Wet).unwrap().label, "W");
        assert_eq!(
            a.of(Compound::Intermediate).unwrap().deg,
            Degradation::Linear { k0: 5.0, k1: 0.01 }
        );
    }

    #[test]
    fn builds_each_degradation_model() {
        let k = DegCoeffs {
            k_0: Some(0.1),
            k_1_lin: Some(0.02),
            k_1_quad: Some(0.01),
            k_2_quad: Some(0.001),
            k_1_cub: Some(0.03),
            k_2_cub: Some(-0.002),
            k_3_cub: Some(0.0001),
            k_1_ln: Some(0.5),
            k_2_ln: Some(0.2),
        };
        assert_eq!(
            degradation(DegModel::Lin, &k),
            Ok(Degradation::Linear { k0: 0.1, k1: 0.02 })
        );
        assert_eq!(
            degradation(DegModel::Quad, &k),
            Ok(Degradation::Quadratic {
                k0: 0.1,
                k1: 0.01,
                k2: 0.001
            })
        );
        assert_eq!(
            degradation(DegModel::Cub, &k),
            Ok(Degradation::Cubic {
                k0: 0.1,
                k1: 0.03,
                k2: -0.002,
                k3: 0.0001
            })
        );
        assert_eq!(
            degradation(DegModel::Ln, &k),
            Ok(Degradation::Logarithmic {
                k0: 0.1,
                k1: 0.5,
                k2: 0.2
            })
        );

        let lin_only = DegCoeffs {
            k_0: Some(0.0),
            k_1_lin: Some(0.02),
            ..DegCoeffs::default()
        };
        assert_eq!(degradation(DegModel::Quad, &lin_only), Err("k_1_quad"));
        assert_eq!(degradation(DegModel::Cub, &lin_only), Err("k_1_cub"));
        assert_eq!(degradation(DegModel::Ln, &lin_only), Err("k_1_ln"));
        assert_eq!(
            degradation(DegModel::Lin, &DegCoeffs::default()),
            Err("k_0")
        );
    }

    #[test]
    fn tire_deg_model_selects_the_coefficients() {
        let race = RACE.replacen(
            r#""tire_deg_model": "lin""#,
            r#""tire_deg_model": "quad""#,
            1,
        );
        let m = read(&race, MCS).unwrap();
        let a = &m.drivers[1].tyres;
        assert_eq!(
            a.of(Compound::Hard).unwrap().deg,
            Degradation::Quadratic {
                k0: 0.0,
                k1: 0.01,
                k2: 0.0001
            }
        );

        // The allowed compounds have quadratic coefficients, A3 does not, but A3 is skipped.
        let race = RACE.replacen(
            r#""tire_deg_model": "lin""#,
            r#""tire_deg_model": "cub""#,
            1,
        );
        let err = read_err(&race);
        assert_eq!(
            err.to_string(),
            "[TIRESET_PARS] driver AAA: compound A4: tire_deg_model Cub needs k_1_cub"
        );
    }

    #[test]
    fn strategies_in_participants_order() {
        let pars = TumftmPars::parse(RACE).unwrap();
        let real = pars.real_strategies().unwrap();
        let m = pars.to_model(&McsPars::parse(MCS).unwrap()).unwrap();
        let from_model: Vec<(String, Plan)> = m
            .drivers
            .iter()
            .map(|d| (d.code.clone(), d.plan.clone()))
            .collect();
        assert_eq!(real, from_model);
        let base = pars.base_strategies().unwrap();
        let labels: Vec<(&str, String)> =
            base.iter().map(|(c, p)| (c.as_str(), p.label())).collect();
        assert_eq!(
            labels,
            [("BBB", "S-20-H".to_owned()), ("AAA", "M-25-S".to_owned())]
        );
    }

    #[test]
    fn fcy_null_empty_and_filled() {
        let with = |phases: &str| {
            let race = RACE.replace(r#""phases": [],"#, &format!(r#""phases": {phases},"#));
            read(&race, MCS)
        };
        assert_eq!(with("null").unwrap().fixed.fcy, Some(vec![]));
        assert_eq!(with("[]").unwrap().fixed.fcy, None);
        let filled =
            with(r#"[[10.3, 13.9, "SC", null, null], [30.1, 30.8, "VSC", null, null]]"#).unwrap();
        assert_eq!(
            filled.fixed.fcy,
            Some(vec![
                FcyPhase {
                    start: 10.3,
                    end: 13.9,
                    kind: FcyKind::Sc
                },
                FcyPhase {
                    start: 30.1,
                    end: 30.8,
                    kind: FcyKind::Vsc
                },
            ])
        );
        let err = with(r#"[[10.3, 13.9, "RED", null, null]]"#).unwrap_err();
        assert!(err.to_string().contains("\"RED\""), "{err}");
        let err = with(r#"[[10.3, 63.9, "SC", null, null]]"#).unwrap_err();
        assert!(err.to_string().starts_with("[EVENT_PARS]"), "{err}");

        let time = RACE.replace(
            r#""phases": [],
        "domain": "progress""#,
            r#""phases": [[600.0, 700.0, "SC", 5.0, 3]],
        "domain": "time""#,
        );
        assert_eq!(
            read_err(&time).to_string(),
            "[EVENT_PARS]: time-domain FCY phases is not supported"
        );
    }

    #[test]
    fn retirements_null_empty_and_unknown() {
        let with = |list: &str| {
            let race = RACE.replace(
                r#""retirements": [["AAA", 30.5]],"#,
                &format!(r#""retirements": {list},"#),
            );
            read(&race, MCS)
        };
        assert_eq!(with("null").unwrap().fixed.retirements, Some(vec![]));
        assert_eq!(with("[]").unwrap().fixed.retirements, None);
        let err = with(r#"[["ZZZ", 3.5]]"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "[EVENT_PARS] driver ZZZ: retires but is not a participant"
        );
        // A missing key is not the same as null.
        let err = read_err(&RACE.replace(r#""retirements": [["AAA", 30.5]],"#, ""));
        assert!(
            err.to_string().contains("missing field `retirements`"),
            "{err}"
        );
    }

    #[test]
    fn missing_section_and_key() {
        let race = RACE.replace("[MONTE_CARLO_PARS]", "[MONTE_CARLO]");
        assert_eq!(
            read_err(&race),
            TumftmError::MissingSection {
                section: "MONTE_CARLO_PARS".to_owned()
            }
        );
        let race = RACE.replace("track_pars = ", "trackpars = ");
        assert_eq!(
            read_err(&race).to_string(),
            "[TRACK_PARS]: missing key track_pars"
        );
        let mcs = MCS.replace("[SEASON_2019]", "[SEASON_2017]");
        assert_eq!(
            read(RACE, &mcs).unwrap_err().to_string(),
            "missing section [SEASON_2019]"
        );
    }

    #[test]
    fn unknown_participant_is_named() {
        let race = RACE.replace(r#"["BBB", "AAA"]"#, r#"["BBB", "XYZ"]"#);
        assert_eq!(
            read_err(&race).to_string(),
            "[DRIVER_PARS] driver XYZ: listed in participants but has no entry"
        );
        let race = RACE.replace(r#"["BBB", "AAA"]"#, r#"["BBB", "BBB"]"#);
        assert_eq!(
            read_err(&race).to_string(),
            "[RACE_PARS] driver BBB: listed twice in participants"
        );
    }

    #[test]
    fn a_distance_no_race_has_is_refused() {
        for (laps, why) in [
            ("0", "tot_no_laps is 0"),
            ("100000", "tot_no_laps is 100000: at most 200"),
        ] {
            let race = RACE.replace(
                r#""tot_no_laps": 50,"#,
                &format!(r#""tot_no_laps": {laps},"#),
            );
            assert!(read_err(&race).to_string().contains(why), "{laps}");
        }
    }

    #[test]
    fn bad_json_names_section_and_file_line() {
        let t_q_line = RACE.lines().position(|l| l.contains("\"t_q\"")).unwrap() + 1;
        let race = RACE.replace(r#""t_q": 80.0"#, r#""t_q": "fast""#);
        let err = read_err(&race);
        let TumftmError::Json {
            ref section,
            ref key,
            line,
            column,
            ..
        } = err
        else {
            panic!("{err}")
        };
        assert_eq!(
            (section.as_str(), key.as_str(), line),
            ("TRACK_PARS", "track_pars", t_q_line)
        );
        assert!(column > 0);
        assert!(
            err.to_string()
                .starts_with("[TRACK_PARS] track_pars: t_q: invalid type"),
            "{err}"
        );

        let race = RACE.replace(r#""t_q": 80.0,"#, r#""t_q": 80.0"#);
        let err = read_err(&race);
        assert!(
            matches!(err, TumftmError::Json { line, .. } if line == t_q_line),
            "{err}"
        );

        let race = RACE.replace(
            r#"[[0, "A6", 2, 0.0], [20, "A4", 0, 0.0]],
        "p_grid""#,
            r#"[[0, "A6", 2.5, 0.0]],
        "p_grid""#,
        );
        let err = read_err(&race);
        assert!(err.to_string().contains("AAA.strategy_info[0]"), "{err}");
    }

    #[test]
    fn bad_strategies() {
        let with = |strategy: &str| {
            let race = RACE.replace(
                r#"[[0, "A6", 2, 0.0], [20, "A4", 0, 0.0]],
        "p_grid""#,
                &format!("{strategy},\n        \"p_grid\""),
            );
            read_err(&race).to_string()
        };
        assert_eq!(
            with("[]"),
            "[DRIVER_PARS] driver AAA: strategy_info: empty strategy"
        );
        assert!(with(r#"[[3, "A6", 2, 0.0]]"#).contains("in-lap 0"));
        assert!(
            with(r#"[[0, "A6", 2, 0.0], [20, "A4", 0, 0.0], [20, "A7", 0, 0.0]]"#)
                .contains("not after lap 20")
        );
        assert!(with(r#"[[0, "A2", 2, 0.0]]"#).contains("compound A2 is not one of this race's"));
        assert_eq!(
            with(r#"[[0, "A6", 2, 0.0], [20, "A4", 0, 30.0]]"#),
            "[DRIVER_PARS]: refuelling (driver AAA, strategy_info, lap 20) is not supported"
        );
        // An allowed compound without tyre data.
        assert_eq!(
            with(r#"[[0, "I", 0, 0.0], [20, "A4", 0, 0.0]]"#),
            "[TIRESET_PARS] driver AAA: strategy_info uses Intermediate, which has no degradation data"
        );
    }

    #[test]
    fn unsupported_and_missing_car_data() {
        let race = RACE.replacen(
            r#""drivetype": "combustion""#,
            r#""drivetype": "electric""#,
            1,
        );
        assert_eq!(
            read_err(&race).to_string(),
            "[CAR_PARS]: the electric drivetype (team TeamA) is not supported"
        );
        let race = RACE.replacen(r#""m_fuel": 105.0"#, r#""m_fuel": null"#, 1);
        assert_eq!(
            read_err(&race).to_string(),
            "[CAR_PARS] team TeamA: m_fuel is null or missing for a combustion car"
        );
        let race = RACE.replace(r#""team": "TeamB""#, r#""team": "TeamC""#);
        assert_eq!(
            read_err(&race).to_string(),
            "[CAR_PARS] team TeamC: has no entry (driver BBB)"
        );
        let race = RACE.replace(r#""drs_window": 1.0"#, r#""drs_window": null"#);
        assert!(read_err(&race).to_string().contains("drs_window"));
        let race = RACE.replace(r#""use_drs": true"#, r#""use_drs": false"#);
        assert_eq!(read(&race, MCS).unwrap().interaction.drs, None);
    }

    #[test]
    fn mcs_errors() {
        let mcs = MCS.replace("0.2, 0.2], \"p_sc_duration\"", "0.2], \"p_sc_duration\"");
        let err = read(RACE, &mcs).unwrap_err();
        assert_eq!(
            err.to_string(),
            "[ALL_SEASONS]: p_fcy_phases: p_sc_start has 5 values, expected 6"
        );
        let mcs = MCS.replace("\"Alpha Driver\": 0.05", "\"Alpha Driver\": 1.5");
        assert!(
            read(RACE, &mcs)
                .unwrap_err()
                .to_string()
                .starts_with("[SEASON_2019]: p_accident")
        );
        let mcs = MCS.replace(", \"unknown\": 0.6", "");
        assert_eq!(
            read(RACE, &mcs).unwrap_err().to_string(),
            "[ALL_SEASONS] driver Beta Driver: no t_lap_var_sigma and no \"unknown\" fallback"
        );
        let mcs = MCS.replace("[SEASON_2018]", "[SEASON_x]");
        assert!(McsPars::parse(&mcs).is_err());
        let pars = McsPars::parse(MCS).unwrap();
        assert_eq!(
            pars.seasons.keys().copied().collect::<Vec<_>>(),
            [2018, 2019]
        );
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), Some(2.5));
        assert_eq!(median(std::iter::empty()), None);
    }
}
