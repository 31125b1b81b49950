//! Calibrated parameters of the built-in simulator: the 2019 Bahrain Grand Prix field.
//!
//! Where the numbers come from (all files under `shared/data/races/`):
//! - **Track, pit losses, overtaking, fuel, car and driver pace**: TUMFTM's calibrated race-simulation parameters,
//!   `2019_02_bahrain/tumftm_pars_Sakhir_2019.ini` (Heilmeier et al., TU Munich, LGPL-3.0): `t_q` 87.866 s,
//!   `t_gap_racepace` 5.545 s, `t_lap_sens_mass` 0.023 s/kg, 110 kg at 1.93 kg/lap, pit drive losses
//!   3.359 + 17.173 s (green), 0.89 + 10.892 s (VSC), 1.793 + 12.028 s (SC), minimum standstill 1.9 s plus each
//!   team's `t_pit_tirechange_add`, start losses (2.406 s, 0.138 s per grid slot), `t_gap_overtake` 1.38 s
//!   (−0.035 s per km/h of top-speed advantage), DRS −0.532 s, duel loss 0.3 s, VSC lap-time multiplier 1.4,
//!   per-team `t_car`, per-driver `t_driver`, `vel_max` and grid slot.
//! - **Safety-car pace**: 1.4 × the green lap, from the FastF1 laps of the five shared races with full SC laps
//!   (median SC lap / median clean lap: Bahrain 1.35, Spain 1.45, Monaco 1.33, Britain 1.42, Russia 1.30).
//!   TUMFTM's own `mult_t_lap_sc` of 1.6 is slower than any of them.
//! - **Lap-time noise, start performance, accident and failure rates, SC/VSC durations**: TUMFTM's Monte Carlo
//!   parameters, `_common/tumftm_pars_mcs.ini` (`t_lap_var_sigma`, `t_startperf`, 2019 `p_accident` and
//!   `p_failure`, `p_sc_duration`, `p_vsc_duration`, `p_vsc_aft_failure`).
//! - **Tyre degradation**: a least-squares fit over the real race, `2019_02_bahrain/laps_fastf1_armchair.csv`:
//!   fuel-corrected lap time against tyre life over every stint with six or more clean green laps gives a median
//!   slope of 0.106 s/lap on the soft (C3, 23 stints), 0.130 s/lap on the medium (C2, 26 stints) and 0.147 s/lap
//!   on the hard (C1, the only stint run on it). TUMFTM's own fit agrees on the order (median `k_1_lin` 0.116 soft,
//!   0.156 medium): at Sakhir 2019 the harder compounds did not degrade more slowly per lap, they lasted longer.
//!   Stints in the race lasted up to 24 laps on the soft and 33 on the medium; the wear rates below put the 70 %
//!   "cliff" just past those lengths, so the simulated field two-stops as the real one mostly did. The compound offsets (medium +0.55 s,
//!   hard +1.05 s on fresh tyres) are Pirelli's usual gaps between adjacent compounds, not fitted.
//! - **Per-corner wear split**: Bahrain is rear-limited (traction out of slow corners) with more right-hand corners,
//!   so the left rear wears fastest; the split is an assumption, stated as such.
//! - **Median pit-lane time** 25.01 s and median clean lap 97.8 s (`SANITY_SUMMARY.csv`) are what the simulated race
//!   is checked against in the tests.

use crate::wire::Compound;

/// Track-wide parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackParams {
    /// Track name.
    pub name: &'static str,
    /// Lap length, in metres.
    pub length_m: f64,
    /// Race distance, in laps.
    pub total_laps: u32,
    /// Lap time of the fastest car on fresh softs with no fuel, in seconds (`t_q + t_gap_racepace`).
    pub base_lap_s: f64,
    /// Lap time per kilogram of fuel, in s/kg.
    pub fuel_sensitivity_s_per_kg: f64,
    /// Fuel at the start, in kilograms.
    pub start_fuel_kg: f64,
    /// Fuel burned per green lap, in kilograms.
    pub fuel_per_lap_kg: f64,
    /// Fuel burn multiplier under SC and VSC.
    pub fuel_mult_sc: f64,
    /// Fuel burn multiplier under VSC.
    pub fuel_mult_vsc: f64,
    /// Extra time on the in-lap when pitting under green / VSC / SC, in seconds.
    pub pit_inlap_loss_s: [f64; 3],
    /// Extra time on the out-lap (pit-lane drive) under green / VSC / SC, in seconds; the standstill comes on top.
    pub pit_outlap_loss_s: [f64; 3],
    /// Shortest possible standstill, in seconds.
    pub pit_standstill_min_s: f64,
    /// Fraction of the lap at which the pit entry lies (the lane then crosses the line: pits after the finish line).
    pub pit_entry_frac: f64,
    /// Fraction of the lap at which the pit exit lies.
    pub pit_exit_frac: f64,
    /// Time lost on lap 1 by the standing start, in seconds.
    pub first_lap_loss_s: f64,
    /// Time lost per grid slot on lap 1, in seconds.
    pub grid_slot_loss_s: f64,
    /// Minimum time gap to the car ahead under green, in seconds.
    pub min_gap_s: f64,
    /// Minimum time gap to the car ahead under SC, in seconds.
    pub min_gap_sc_s: f64,
    /// Pace advantage needed to overtake, in s/lap.
    pub overtake_threshold_s: f64,
    /// Change of that threshold per km/h of top-speed advantage, in s/(km/h) (negative: faster cars pass easier).
    pub overtake_threshold_per_kph_s: f64,
    /// Time lost by both cars in a fight for position, in seconds.
    pub duel_loss_s: f64,
    /// Lap-time gain from DRS, in seconds (negative).
    pub drs_gain_s: f64,
    /// DRS is allowed when within this gap at the detection point, in seconds.
    pub drs_window_s: f64,
    /// First lap on which DRS may be used.
    pub drs_first_lap: u32,
    /// Laps after a safety-car restart before DRS is enabled again.
    pub drs_sc_delay_laps: u32,
    /// Lap-time multiplier of the safety car's pace.
    pub sc_lap_mult: f64,
    /// Lap-time multiplier under a VSC.
    pub vsc_lap_mult: f64,
    /// Cumulative distance fractions at the ends of sectors 1 and 2.
    pub sector_end_frac: [f64; 2],
    /// Share of the lap time spent in sectors 1, 2 and 3 (sums to 1).
    pub sector_time_share: [f64; 3],
    /// Air temperature at the start, in °C.
    pub air_temp_c: f64,
    /// Track temperature at the start, in °C.
    pub track_temp_c: f64,
    /// Probability that an accident brings out the safety car (otherwise a VSC with [`Self::p_vsc_after_accident`]).
    pub p_sc_after_accident: f64,
    /// Probability that an accident brings out a VSC.
    pub p_vsc_after_accident: f64,
    /// Probability that a mechanical failure brings out a VSC.
    pub p_vsc_after_failure: f64,
    /// Distribution of safety-car durations: index `i` is the probability of `i` laps.
    pub p_sc_duration_laps: [f64; 10],
    /// Distribution of VSC durations: index `i` is the probability of `i + 1` laps.
    pub p_vsc_duration_laps: [f64; 4],
}

/// Tyre compound behaviour on this track.
#[derive(Clone, Debug, PartialEq)]
pub struct CompoundParams {
    /// Which compound.
    pub compound: Compound,
    /// Lap-time offset of a fresh set against a fresh soft, in seconds.
    pub offset_s: f64,
    /// Linear degradation, in s per lap of tyre age.
    pub deg_s_per_lap: f64,
    /// Tread wear of the reference (left-rear) tyre per green lap, in percent.
    pub wear_pct_per_lap: f64,
    /// Wear above which the lap time falls off the cliff, in percent.
    pub cliff_wear_pct: f64,
    /// Surface temperature in its working range, in °C.
    pub working_temp_c: f64,
}

/// Extra lap time past the cliff, in s per (percent of wear above the cliff)², so 10 % past it costs 2.5 s.
pub const CLIFF_S_PER_PCT2: f64 = 0.025;

/// Per-corner wear relative to the left rear: `[front_left, front_right, rear_left, rear_right]`.
pub const CORNER_WEAR_SPLIT: [f64; 4] = [0.86, 0.78, 1.0, 0.93];

/// Lap-time loss on the out-lap from cold tyres, in seconds (`t_add_coldtires`).
pub const COLD_TYRE_LOSS_S: f64 = 1.0;

/// Tyre wear and degradation multiplier under SC and VSC (`mult_tiredeg_sc` 0.25, `mult_tiredeg_fcy` 0.5).
pub const TYRE_MULT_SC_VSC: [f64; 2] = [0.25, 0.5];

/// A team.
#[derive(Clone, Debug, PartialEq)]
pub struct TeamParams {
    /// Team name as shown.
    pub name: &'static str,
    /// Colour, `#rrggbb`.
    pub colour: &'static str,
    /// Car pace deficit against the fastest car, in s/lap (`t_car`).
    pub car_s: f64,
    /// Extra standstill time on top of the minimum, in seconds (`t_pit_tirechange_add`).
    pub pit_add_s: f64,
    /// Fisk parameters `[a, b, c]` of the standstill variability (`t_pit_var_fisk_pars`).
    pub pit_fisk: [f64; 3],
    /// Probability of a mechanical failure per car and race (`p_failure`, 2019).
    pub p_failure: f64,
}

/// A driver and the car they race.
#[derive(Clone, Debug, PartialEq)]
pub struct DriverParams {
    /// Three-letter code.
    pub code: &'static str,
    /// Full name.
    pub name: &'static str,
    /// Race number.
    pub number: u8,
    /// Index into [`TEAMS`].
    pub team: usize,
    /// Driver pace deficit in the team, in s/lap (`t_driver`).
    pub driver_s: f64,
    /// Grid slot, 1-based (`p_grid`).
    pub grid: u8,
    /// Top speed in qualifying, in km/h (`vel_max`).
    pub vmax_kph: f64,
    /// Lap-time standard deviation, in seconds (`t_lap_var_sigma`).
    pub lap_sigma_s: f64,
    /// Start performance mean and standard deviation, in seconds (`t_startperf`).
    pub start_perf_s: (f64, f64),
    /// Probability of an accident per race (`p_accident`, 2019).
    pub p_accident: f64,
}

/// The track.
pub const SAKHIR: TrackParams = TrackParams {
    name: "Sakhir",
    length_m: 5412.0,
    total_laps: 57,
    base_lap_s: 87.866 + 5.545,
    fuel_sensitivity_s_per_kg: 0.023,
    start_fuel_kg: 110.0,
    fuel_per_lap_kg: 1.93,
    fuel_mult_sc: 0.25,
    fuel_mult_vsc: 0.5,
    pit_inlap_loss_s: [3.359, 0.89, 1.793],
    pit_outlap_loss_s: [17.173, 10.892, 12.028],
    pit_standstill_min_s: 1.9,
    pit_entry_frac: 0.975,
    pit_exit_frac: 0.045,
    first_lap_loss_s: 2.406,
    grid_slot_loss_s: 0.138,
    min_gap_s: 0.5,
    min_gap_sc_s: 0.8,
    overtake_threshold_s: 1.38,
    overtake_threshold_per_kph_s: -0.035,
    duel_loss_s: 0.3,
    drs_gain_s: -0.532,
    drs_window_s: 1.0,
    drs_first_lap: 3,
    drs_sc_delay_laps: 2,
    sc_lap_mult: 1.4,
    vsc_lap_mult: 1.4,
    sector_end_frac: [0.31, 0.71],
    sector_time_share: [0.305, 0.405, 0.29],
    air_temp_c: 27.0,
    track_temp_c: 34.0,
    p_sc_after_accident: 0.55,
    p_vsc_after_accident: 0.3,
    p_vsc_after_failure: 0.227,
    p_sc_duration_laps: [
        0.0, 0.182, 0.25, 0.227, 0.193, 0.057, 0.068, 0.023, 0.0, 0.0,
    ],
    p_vsc_duration_laps: [0.479, 0.396, 0.021, 0.104],
};

/// The three dry compounds at Sakhir 2019 (C1 hard, C2 medium, C3 soft).
pub const COMPOUNDS: [CompoundParams; 3] = [
    CompoundParams {
        compound: Compound::Soft,
        offset_s: 0.0,
        deg_s_per_lap: 0.106,
        wear_pct_per_lap: 2.75,
        cliff_wear_pct: 70.0,
        working_temp_c: 102.0,
    },
    CompoundParams {
        compound: Compound::Medium,
        offset_s: 0.55,
        deg_s_per_lap: 0.130,
        wear_pct_per_lap: 1.95,
        cliff_wear_pct: 70.0,
        working_temp_c: 98.0,
    },
    CompoundParams {
        compound: Compound::Hard,
        offset_s: 1.05,
        deg_s_per_lap: 0.147,
        wear_pct_per_lap: 1.35,
        cliff_wear_pct: 70.0,
        working_temp_c: 94.0,
    },
];

/// The parameters of a dry compound.
pub fn compound_params(compound: Compound) -> &'static CompoundParams {
    match compound {
        Compound::Soft => &COMPOUNDS[0],
        Compound::Medium => &COMPOUNDS[1],
        _ => &COMPOUNDS[2],
    }
}

/// The ten teams of 2019.
pub const TEAMS: [TeamParams; 10] = [
    team(
        "Ferrari",
        "#DC0000",
        0.0,
        0.584,
        [2.414, -0.153, 0.737],
        0.086,
    ),
    team(
        "Mercedes",
        "#00D2BE",
        0.541,
        0.434,
        [1.563, -0.046, 0.48],
        0.041,
    ),
    team(
        "Red Bull",
        "#1E41FF",
        1.011,
        0.486,
        [2.012, -0.091, 0.577],
        0.071,
    ),
    team(
        "Haas",
        "#B6BABD",
        0.966,
        1.199,
        [5.324, -0.667, 1.866],
        0.101,
    ),
    team(
        "McLaren",
        "#FF8700",
        0.947,
        0.745,
        [2.639, -0.235, 0.98],
        0.117,
    ),
    team(
        "Alfa Romeo",
        "#9B0000",
        1.348,
        1.374,
        [5.827, -0.953, 2.327],
        0.056,
    ),
    team(
        "Renault",
        "#FFF500",
        1.403,
        1.014,
        [3.876, -0.419, 1.433],
        0.086,
    ),
    team(
        "Toro Rosso",
        "#469BFF",
        1.243,
        1.054,
        [4.094, -0.459, 1.513],
        0.071,
    ),
    team(
        "Racing Point",
        "#F596C8",
        1.554,
        0.939,
        [3.498, -0.249, 1.188],
        0.056,
    ),
    team(
        "Williams",
        "#6C9EE8",
        3.264,
        0.726,
        [2.562, -0.24, 0.966],
        0.071,
    ),
];

const fn team(
    name: &'static str,
    colour: &'static str,
    car_s: f64,
    pit_add_s: f64,
    pit_fisk: [f64; 3],
    p_failure: f64,
) -> TeamParams {
    TeamParams {
        name,
        colour,
        car_s,
        pit_add_s,
        pit_fisk,
        p_failure,
    }
}

/// The twenty drivers, in grid order.
pub const DRIVERS: [DriverParams; 20] = [
    driver(
        "LEC",
        "Charles Leclerc",
        16,
        0,
        0.0,
        1,
        329.2,
        0.533,
        (-0.042, 0.125),
        0.058,
    ),
    driver(
        "VET",
        "Sebastian Vettel",
        5,
        0,
        0.281,
        2,
        331.5,
        0.458,
        (-0.05, 0.115),
        0.045,
    ),
    driver(
        "HAM",
        "Lewis Hamilton",
        44,
        1,
        0.0,
        3,
        330.3,
        0.459,
        (-0.052, 0.098),
        0.045,
    ),
    driver(
        "BOT",
        "Valtteri Bottas",
        77,
        1,
        0.185,
        4,
        325.0,
        0.482,
        (-0.028, 0.135),
        0.058,
    ),
    driver(
        "VER",
        "Max Verstappen",
        33,
        2,
        0.0,
        5,
        316.2,
        0.473,
        (-0.001, 0.171),
        0.058,
    ),
    driver(
        "MAG",
        "Kevin Magnussen",
        20,
        3,
        0.0,
        6,
        318.7,
        0.608,
        (-0.014, 0.171),
        0.058,
    ),
    driver(
        "SAI",
        "Carlos Sainz",
        55,
        4,
        0.0,
        7,
        331.7,
        0.606,
        (-0.097, 0.126),
        0.045,
    ),
    driver(
        "RAI",
        "Kimi Räikkönen",
        7,
        5,
        0.0,
        8,
        332.3,
        0.499,
        (0.088, 0.245),
        0.058,
    ),
    driver(
        "NOR",
        "Lando Norris",
        4,
        4,
        0.095,
        9,
        331.5,
        0.603,
        (0.003, 0.142),
        0.058,
    ),
    driver(
        "RIC",
        "Daniel Ricciardo",
        3,
        6,
        0.0,
        10,
        332.5,
        0.517,
        (-0.047, 0.112),
        0.058,
    ),
    driver(
        "GRO",
        "Romain Grosjean",
        8,
        3,
        0.215,
        11,
        325.673,
        0.612,
        (0.102, 0.156),
        0.072,
    ),
    driver(
        "ALB",
        "Alexander Albon",
        23,
        7,
        0.0,
        12,
        340.4,
        0.628,
        (0.05, 0.168),
        0.045,
    ),
    driver(
        "GAS",
        "Pierre Gasly",
        10,
        2,
        0.369,
        13,
        329.9,
        0.591,
        (0.044, 0.154),
        0.045,
    ),
    driver(
        "PER",
        "Sergio Pérez",
        11,
        8,
        0.0,
        14,
        338.9,
        0.55,
        (-0.009, 0.152),
        0.058,
    ),
    driver(
        "KVY",
        "Daniil Kvyat",
        26,
        7,
        0.352,
        15,
        330.0,
        0.586,
        (0.027, 0.146),
        0.058,
    ),
    driver(
        "GIO",
        "Antonio Giovinazzi",
        99,
        5,
        0.067,
        16,
        325.2,
        0.737,
        (0.006, 0.148),
        0.058,
    ),
    driver(
        "HUL",
        "Nico Hülkenberg",
        27,
        6,
        0.175,
        17,
        333.0,
        0.548,
        (-0.027, 0.115),
        0.058,
    ),
    driver(
        "STR",
        "Lance Stroll",
        18,
        8,
        0.324,
        18,
        333.2,
        0.642,
        (-0.095, 0.135),
        0.058,
    ),
    driver(
        "RUS",
        "George Russell",
        63,
        9,
        0.0,
        19,
        327.0,
        0.759,
        (0.044, 0.174),
        0.072,
    ),
    driver(
        "KUB",
        "Robert Kubica",
        88,
        9,
        0.04,
        20,
        324.8,
        0.841,
        (0.029, 0.128),
        0.045,
    ),
];

#[allow(clippy::too_many_arguments)]
const fn driver(
    code: &'static str,
    name: &'static str,
    number: u8,
    team: usize,
    driver_s: f64,
    grid: u8,
    vmax_kph: f64,
    lap_sigma_s: f64,
    start_perf_s: (f64, f64),
    p_accident: f64,
) -> DriverParams {
    DriverParams {
        code,
        name,
        number,
        team,
        driver_s,
        grid,
        vmax_kph,
        lap_sigma_s,
        start_perf_s,
        p_accident,
    }
}
