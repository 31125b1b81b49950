//! A [`RaceModel`] calibrated from a real race's own laps ([`RealRace`]), and the real state at the end of any lap
//! ([`start_at`]) to simulate the rest of that race from.
//!
//! [`from_real_race`] fits the whole race and fixes its real neutralisations and retirements, so a deterministic
//! run replays it; [`from_real_race_until`] uses only what was known at the end of a lap (no future laps, stops,
//! neutralisations or retirements), for honest predictions of the rest.
//!
//! # Invariant
//! The model's drivers are `race.drivers()` in the same order (grid order, index = `car_idx`): [`start_at`] and the
//! backtest pair them by index, and [`start_at`] checks it.
//!
//! # Where each number comes from
//! - **Fuel** ([`START_FUEL_KG`], [`RACE_BURN_KG`], [`FUEL_S_PER_KG`]): 110 kg at the start, the 2019–2024 limit,
//!   which TUMFTM's 2019 files (`m_fuel`) and Armchair-Strategist's `FuelAdjLapTime` also assume; 105 kg burned
//!   over the distance, so the car keeps about 5 kg for the in-lap and the FIA's 1 kg sample (TUMFTM burns all
//!   110 kg: a 0.15 s difference on the last lap); 0.03 s/kg, Armchair-Strategist's value and TUMFTM's 2019 median
//!   `t_lap_sens_mass` (0.031; 0.019–0.034 across tracks). Under SC and VSC the burn is ×0.25 and ×0.5 and the
//!   tyres age ×0.25 and ×0.5 per lap, TUMFTM's `mult_consumption_*` and `mult_tiredeg_*` in every 2019 file; the
//!   fit uses the same fuel and tyre ages as the simulation.
//! - **Pace**: each clean lap ([`RealLap::is_clean`]) minus its fuel effect is `μ_driver + K_compound +
//!   δ_driver,compound + k1_driver,compound · age`, age being the tyre's age at the start of the lap as the
//!   simulation counts it. Per compound, the field's slope pools every stint's within-stint spread (a driver's pace
//!   level does not leak into it), shrunk towards [`DEFAULT_DEG_S_PER_LAP`] with [`FIELD_SLOPE_PRIOR_LAPS2`]; a
//!   driver's slope on a compound is shrunk towards the field's with [`SLOPE_PRIOR_LAPS2`]. Both are the twins'
//!   tuned prior (`PaceParams::DEFAULT`, 500 lap²): a 10-lap stint's spread of ages is 82.5 lap², a 20-lap stint's
//!   665 lap² and a 30-lap stint's 2,248 lap², so short stints keep mostly the prior and long ones their own.
//!   Driver levels `μ` and compound levels `K` are the weighted least-squares additive fit of each driver ×
//!   compound mean lap taken back to a fresh tyre along the *field's* slope: a driver's own steep or flat slope,
//!   extrapolated to age 0, would otherwise move its level on every compound it has not run. A driver's own line
//!   on a compound has its own slope through its mean lap, that mean shrunk towards the field's line by
//!   `n / (n + `[`OFFSET_PRIOR_LAPS`]`)` for `n` clean laps. The base lap is the fastest driver on the fastest
//!   fresh dry compound; a compound a driver never ran takes the field's level and slope plus the driver's offset,
//!   so any plan is simulable (a compound in a plan without a clean lap takes Pirelli's usual gap from
//!   [`crate::calibration`]). Every clean lap counts (no outlier rejection): the deterministic race must add up to
//!   the real one, traffic included. A model of the race so far ([`from_real_race_until`]) weighs a lap `k` laps
//!   before the last one it may see by [`RECENCY`]`^k`, the twins' recency: what a car does now says more about
//!   the rest of its race than its first laps.
//! - **Lap noise**: per driver, 1.4826 × the median absolute deviation of its clean-lap residuals, clamped to
//!   [`LAP_SIGMA_RANGE_S`].
//! - **Pit losses**: the total is measured as [`RealRace::pit_lane_loss_s`] measures it (median over green-flag
//!   stops of in-lap + out-lap − 2 × the driver's median clean lap), over the laps the model may see. Its split
//!   between in-lap and out-lap is the ratio of the median in-lap and out-lap excesses of the same stops: the
//!   standstill falls on the lap with the larger share (the box is after the line when the out-lap holds more),
//!   with [`DEFAULT_PIT_IN_SHARE`] when no stop qualifies. The standstill is [`TYRE_CHANGE_MIN_S`] plus the crew's
//!   extra ([`DEFAULT_CREW_EXTRA_S`], or the mean of its team's Fisk distribution when `pars_mcs` is given) and the
//!   out-lap carries [`COLD_TYRE_S`]; the drive losses are the rest. Under VSC and SC the drive losses are scaled by
//!   [`PIT_VSC_RATIO`] and [`PIT_SC_RATIO`], the medians over TUMFTM's eleven 2019 files of
//!   `(t_pitdrive_inlap_fcy + t_pitdrive_outlap_fcy) / (t_pitdrive_inlap + t_pitdrive_outlap)` (0.29–0.77) and of
//!   the same ratio for `_sc` (0.18–0.88).
//! - **Start**: [`GRID_LOSS_PER_SLOT_S`] per grid slot (TUMFTM's 2019 median `t_loss_pergridpos`); the standing
//!   start is the median lap-1 excess of the first three on the grid over their model lap, or
//!   [`DEFAULT_STANDING_START_S`] when lap 1 was neutralised or the model may not see it.
//! - **Neutralisations** (lap-based, in leader laps): a leader lap counts as SC (FastF1 status `4` seen) or VSC (`6`
//!   or its ending `7`) when the whole lap was under it (only `4`; only `6`), or when the first car to complete it
//!   without pitting lost more than half of what a full neutralised lap costs against the leaders' median clean lap
//!   so far: the simulation neutralises whole laps, so a phase's first and last laps round to the nearer. Lap 1 and
//!   laps before any clean lap are not judged that way (their partial losses go into the standing start). Only laps
//!   up to the one being judged are used, so a lap's status does not depend on how far the model may see. The SC
//!   lap time is the median of the fully neutralised SC laps seen, or [`DEFAULT_SC_LAP_RATIO`] × the leaders'
//!   median clean lap; the VSC lap likewise with [`DEFAULT_VSC_LAP_RATIO`] (none of the shared races has a fully
//!   VSC lap). Red flags are not modelled.
//! - **Strategies**: the start compound and age from lap 1 (`TyreLife − 1`), and f1db's stops with the compound
//!   and age of the set fitted (the first row of the next stint within two laps, FastF1 sometimes starting a stint
//!   a lap late); see [`real_plans`].
//! - **Unknowns**: top speed [`TOP_SPEED_KMH`] for every car (not in the files; with equal speeds the overtaking
//!   threshold's speed term vanishes); no team orders; interaction as TUMFTM's 2019 files: minimum gap 0.5 s
//!   (0.8 s behind the SC), duel loss 0.3 s, the overtaken car another 0.3 s, DRS within 1.0 s for −0.4 s
//!   from lap 3 and two laps after a neutralisation.
//! - **Overtaking threshold**: fitted so that noisy replays of the laps so far pass on track as often as the race
//!   did (pairs whose order flipped over a green lap neither pitted on); [`DEFAULT_OVERTAKE_THRESHOLD_S`] before
//!   [`MIN_PASS_FIT_LAPS`] green laps after the first.
//! - **Random events and reliability**: from `pars_mcs.ini` when given (accident probability by driver name,
//!   failure probability and pit-stop Fisk by team, start performance by name, SC/VSC distributions), the race's
//!   season or the latest one before it; a driver or team missing from a table takes the season's median (the Fisk
//!   of the team with the median mean stop). Names are matched normalised (lowercase letters and digits, `Jr`/`Jnr`
//!   dropped; teams also without `Racing` and `F1 Team`, plus a few renames: Aston Martin → Racing Point,
//!   Alpine → Renault, RB/AlphaTauri → Toro Rosso, Kick Sauber → Sauber/Alfa Romeo). Without `pars_mcs`:
//!   TUMFTM's all-season distributions and 2019 median probabilities, copied below, no start performance and no
//!   stop variability.

use std::collections::{BTreeMap, BTreeSet};

use super::lapsim::{CarStart, Prepared, RaceStart, Runner};
use super::model::{
    CompoundDeg, Degradation, DriverModel, Drs, FcyKind, FcyPhase, Fisk, FixedEvents, FuelModel,
    Interaction, PitLosses, Plan, PlannedStop, RaceModel, RandomEvents, Retirement, TrackTiming,
    TyreModel,
};
use super::rng::Stream;
use super::tumftm::McsPars;
use crate::race::{RealDriver, RealLap, RealRace};
use crate::twin::pace::{median, robust_sigma};
use crate::wire::Compound;

/// Fuel on board at the start, kilograms.
pub const START_FUEL_KG: f64 = 110.0;
/// Fuel burned over the race distance under green flags, kilograms.
pub const RACE_BURN_KG: f64 = 105.0;
/// Lap-time cost of fuel, seconds per kilogram.
pub const FUEL_S_PER_KG: f64 = 0.03;
/// Burn and tyre-age multiplier of a lap behind the SC (TUMFTM).
pub const SC_LAP_FACTOR: f64 = 0.25;
/// Burn and tyre-age multiplier of a lap under a VSC (TUMFTM).
pub const VSC_LAP_FACTOR: f64 = 0.5;
/// Strength of the field's slope as a prior on a driver's, in lap² (a spread of tyre ages): the twins' tuned
/// `PaceParams::DEFAULT.slope_prior_strength`.
pub const SLOPE_PRIOR_LAPS2: f64 = 500.0;
/// Strength of [`DEFAULT_DEG_S_PER_LAP`] as a prior on the field's slope of a compound, in lap² (the twins' too).
pub const FIELD_SLOPE_PRIOR_LAPS2: f64 = 500.0;
/// Slope assumed for a compound before the data shows one, s per lap of age (the twins' default).
pub const DEFAULT_DEG_S_PER_LAP: f64 = 0.05;
/// Weight of a lap `k` laps before the last one a model of the race so far may see, `RECENCY^k` (the twins'
/// `PaceParams::DEFAULT.recency`); a replay of the whole race weighs every lap the same.
pub const RECENCY: f64 = 0.9;
/// Clean laps at which half of a driver's own deviation on a compound is kept.
pub const OFFSET_PRIOR_LAPS: f64 = 5.0;
/// Clamp of a driver's lap-time noise, seconds.
pub const LAP_SIGMA_RANGE_S: [f64; 2] = [0.2, 1.5];
/// Share of the pit loss on the in-lap when no green-flag stop measures it: the median over the shared races whose
/// box is after the line (0.03–0.22; TUMFTM's 2019 median `t_pitdrive_inlap` share is 0.16).
pub const DEFAULT_PIT_IN_SHARE: f64 = 0.19;
/// Pit drive loss under a VSC over the green one (TUMFTM 2019 median).
pub const PIT_VSC_RATIO: f64 = 0.57;
/// Pit drive loss behind the SC over the green one (TUMFTM 2019 median).
pub const PIT_SC_RATIO: f64 = 0.49;
/// Minimum standstill to change four tyres, seconds.
pub const TYRE_CHANGE_MIN_S: f64 = 2.0;
/// A crew's extra standstill over the minimum without `pars_mcs`, seconds.
pub const DEFAULT_CREW_EXTRA_S: f64 = 0.5;
/// Time lost on an out-lap on cold tyres, seconds (TUMFTM's `t_add_coldtires` in every 2019 file).
pub const COLD_TYRE_S: f64 = 1.0;
/// Lap-1 time lost per grid slot, seconds (TUMFTM 2019 median `t_loss_pergridpos`; 0.113–0.178).
pub const GRID_LOSS_PER_SLOT_S: f64 = 0.135;
/// Lap-1 time lost by the standing start when the race does not show it, seconds (TUMFTM 2019 median
/// `t_loss_firstlap`; 2.1–5.7).
pub const DEFAULT_STANDING_START_S: f64 = 3.0;
/// A full SC lap over the leaders' median clean lap when the race has not shown one: the median over the shared
/// races with SC laps (leaders' full SC laps over their clean laps: Bahrain 1.52, Spain 1.57, Monaco 1.44,
/// Britain 1.57, Russia 1.65, all 2019).
pub const DEFAULT_SC_LAP_RATIO: f64 = 1.57;
/// A full VSC lap over the leaders' median clean lap when the race has not shown one: TUMFTM's `mult_t_lap_fcy`
/// (1.4 × its base lap, which is about 4 % quicker than a race lap).
pub const DEFAULT_VSC_LAP_RATIO: f64 = 1.35;
/// Top speed of every car, km/h (unknown; only differences matter).
pub const TOP_SPEED_KMH: f64 = 320.0;

/// TUMFTM's all-season SC/VSC statistics (`pars_mcs.ini`, `[ALL_SEASONS] p_fcy_phases`).
/// The overtaking threshold when the race has too few green laps to fit one ([`MIN_PASS_FIT_LAPS`]), seconds.
pub const DEFAULT_OVERTAKE_THRESHOLD_S: f64 = 1.5;

/// The overtaking thresholds [`fit_overtake_threshold`] tries, seconds: `(first, step, count)`, 1.0 to 4.0 in
/// quarter seconds.
const OVERTAKE_THRESHOLD_GRID_S: (f64, f64, usize) = (1.0, 0.25, 13);

/// Noisy replays of the laps so far per threshold [`fit_overtake_threshold`] tries.
const PASS_FIT_RUNS: u64 = 24;

/// The seed of [`fit_overtake_threshold`]'s replays.
const PASS_FIT_SEED: u64 = 0x0c7a_2019;

/// Green laps after the first the race must have shown before a threshold is fitted.
pub const MIN_PASS_FIT_LAPS: u32 = 5;

const DEFAULT_SC_COUNT: [f64; 4] = [0.455, 0.413, 0.099, 0.033];
const DEFAULT_SC_START: [f64; 6] = [0.364, 0.136, 0.136, 0.08, 0.193, 0.091];
const DEFAULT_SC_LAPS: [f64; 10] = [
    0.0, 0.182, 0.25, 0.227, 0.193, 0.057, 0.068, 0.023, 0.0, 0.0,
];
const DEFAULT_VSC_AFTER_FAILURE: f64 = 0.227;
const DEFAULT_VSC_LAPS: [f64; 4] = [0.479, 0.396, 0.021, 0.104];
/// TUMFTM's `min_dist_sc` / `min_dist_vsc` (1.5 laps in every 2019 file).
const MIN_GAP_LAPS: f64 = 1.5;
/// The medians of `pars_mcs.ini`'s 2019 `p_accident` and `p_failure`.
const DEFAULT_P_ACCIDENT: f64 = 0.058;
const DEFAULT_P_FAILURE: f64 = 0.071;
/// `pars_mcs.ini`'s `unknown` lap-1 start performance spread.
const DEFAULT_START_SIGMA_S: f64 = 0.146;
/// The longest extra standstill the simulation draws (its `MAX_STOP_EXTRA_S`).
const MAX_STOP_EXTRA_S: f64 = 30.0;

/// Why a real race cannot be calibrated or started from.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CalibrateError {
    /// The race lists no drivers.
    #[error("the race has no drivers")]
    NoDrivers,
    /// No clean green-flag lap in the laps the model may see.
    #[error("no clean green-flag lap up to lap {until}: nothing to fit the pace on")]
    NoCleanLaps {
        /// The last lap the model may see.
        until: u32,
    },
    /// A start lap outside the race.
    #[error(
        "lap {lap} is outside 1..{total_laps}: a simulation starts after a lap before the last"
    )]
    LapOutOfRange {
        /// The lap asked for.
        lap: u32,
        /// The race distance.
        total_laps: u32,
    },
    /// The model's drivers are not the race's in the race's order.
    #[error(
        "the model's driver {index} is {model:?} but the race's is {race:?}: calibrate the model from this race"
    )]
    DriverMismatch {
        /// Index into both lists.
        index: usize,
        /// The model's driver code there (empty when missing).
        model: String,
        /// The race's driver code there (empty when missing).
        race: String,
    },
    /// `pars_mcs.ini`'s SC start distribution does not have its six bins.
    #[error("pars_mcs [ALL_SEASONS] p_fcy_phases.p_sc_start has {0} values, expected 6")]
    ScStartBins(usize),
}

/// The whole race calibrated from all its laps, with its real strategies, neutralisations and retirements fixed
/// (a deterministic run replays the race). See the module docs for every parameter's source.
///
/// # Errors
/// [`CalibrateError::NoDrivers`], [`CalibrateError::NoCleanLaps`] or a malformed `mcs`
/// ([`CalibrateError::ScStartBins`]).
pub fn from_real_race(race: &RealRace, mcs: Option<&McsPars>) -> Result<RaceModel, CalibrateError> {
    from_real_race_until(race, mcs, None)
}

/// The race calibrated from its laps up to and including leader lap `until` (all laps when `None`).
///
/// With `Some(until)` nothing after that lap is used: the pace, pit losses and neutralisation lap times come from
/// laps `..=until`; the plans are the real stops up to `until`, then at most one more by the rival rule
/// ([`rival_stop`]); no event is fixed (random SCs, VSCs, accidents and failures; cars out by then are retired
/// in [`start_at`]). With `None`, the real plans and the real neutralisations and retirements are fixed.
///
/// # Errors
/// As [`from_real_race`]; `Some(0)` has no clean lap.
pub fn from_real_race_until(
    race: &RealRace,
    mcs: Option<&McsPars>,
    until: Option<u32>,
) -> Result<RaceModel, CalibrateError> {
    let total = race.total_laps();
    let window = until.map_or(total, |u| u.min(total));
    let drivers = race.drivers();
    if drivers.is_empty() {
        return Err(CalibrateError::NoDrivers);
    }
    let statuses = track_statuses(race, window);
    let burn_per_lap = RACE_BURN_KG / f64::from(total.max(1));
    let equiv = equivalent_laps(&statuses, window);
    let full_plans = real_plans(race);
    let plans: Vec<Plan> = full_plans
        .iter()
        .map(|p| Plan {
            stops: p
                .stops
                .iter()
                .filter(|s| s.lap <= window)
                .copied()
                .collect(),
            ..p.clone()
        })
        .collect();

    let recency = if until.is_some() { RECENCY } else { 1.0 };
    let obs = observations(race, &plans, &equiv, burn_per_lap, window, recency);
    if obs.is_empty() {
        return Err(CalibrateError::NoCleanLaps { until: window });
    }
    let Some(fit) = solve(&obs, drivers.len()) else {
        return Err(CalibrateError::NoCleanLaps { until: window });
    };
    let mut seen = seen_compounds(&plans, &fit);
    // Mid-race, a dry compound nobody has run yet is still on offer (at Pirelli's usual gap): a field that all
    // started on mediums would otherwise have no legal plan, and no rival a second compound to stop for.
    if until.is_some() && seen.iter().all(|c| c.is_dry()) {
        seen.extend(Compound::DRY);
    }
    let pace = Pace::new(&fit, &seen, drivers.len());
    let sigmas = lap_sigmas(&obs, &fit, drivers.len());

    let refs = LeaderLaps::new(race, window);
    let sc_lap_s = refs.full_lap_s(FcyKind::Sc);
    let vsc_lap_s = refs.full_lap_s(FcyKind::Vsc);

    let reliability = Reliability::new(mcs, season(race))?;
    let crews: Vec<Crew> = drivers
        .iter()
        .map(|d| reliability.crew(&d.team, &d.name))
        .collect();
    let mut crew_extras: Vec<f64> = crews.iter().map(|c| c.extra_s).collect();
    let standstill_s = TYRE_CHANGE_MIN_S + median(&mut crew_extras).unwrap_or(DEFAULT_CREW_EXTRA_S);
    let pit = pit_split(race, window);
    let (pit_losses, pits_after_line) = pit.losses(standstill_s);

    let standing_start_s = standing_start(race, &pace, &statuses, &crews, window);

    let dry: Vec<Compound> = seen.iter().copied().filter(|c| c.is_dry()).collect();
    let model_drivers: Vec<DriverModel> = drivers
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut plan = plans[i].clone();
            // Still running at `window` (a live race's car behind the leader has fewer laps, but no retirement).
            if until.is_some()
                && (d.retirement.is_none() || d.laps.len() >= window as usize)
                && let Some(stop) = rival_stop(&plan, window, total, &dry)
            {
                plan.stops.push(stop);
            }
            DriverModel {
                code: d.code.clone(),
                name: d.name.clone(),
                team: d.team.clone(),
                car_number: u32::from(d.number),
                pace_offset_s: pace.offsets[i],
                team_order_s: 0.0,
                top_speed_kmh: TOP_SPEED_KMH,
                grid: u32::from(d.grid_position),
                fuel: FuelModel {
                    start_kg: START_FUEL_KG,
                    burn_kg_per_lap: burn_per_lap,
                    sc_factor: SC_LAP_FACTOR,
                    vsc_factor: VSC_LAP_FACTOR,
                },
                tyres: TyreModel {
                    compounds: pace.compounds_of(i),
                    sc_wear_factor: SC_LAP_FACTOR,
                    vsc_wear_factor: VSC_LAP_FACTOR,
                    cold_tyre_s: COLD_TYRE_S,
                },
                plan,
                pit_crew_extra_s: crews[i].extra_s,
                pit_variability: crews[i].fisk,
                lap_sigma_s: sigmas[i],
                start_mean_s: crews[i].start_mean_s,
                start_sigma_s: crews[i].start_sigma_s,
                p_accident: crews[i].p_accident,
                p_failure: crews[i].p_failure,
            }
        })
        .collect();

    let fixed = match until {
        Some(_) => FixedEvents::default(),
        None => FixedEvents {
            fcy: Some(phases(&statuses)),
            retirements: Some(
                drivers
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.retirement.is_some())
                    .map(|(i, d)| Retirement {
                        driver: i,
                        at: d.laps.len() as f64,
                    })
                    .collect(),
            ),
        },
    };

    let mut model = RaceModel {
        track: race.track().to_owned(),
        season: season(race),
        total_laps: total,
        timing: TrackTiming {
            base_lap_s: pace.base_lap_s,
            fuel_s_per_kg: FUEL_S_PER_KG,
            pit: pit_losses,
            tyre_change_min_s: TYRE_CHANGE_MIN_S,
            pits_after_line,
            grid_loss_per_slot_s: GRID_LOSS_PER_SLOT_S,
            standing_start_s,
            sc_factor: sc_lap_s.unwrap_or(DEFAULT_SC_LAP_RATIO * refs.clean_lap_s())
                / pace.base_lap_s,
            vsc_factor: vsc_lap_s.unwrap_or(DEFAULT_VSC_LAP_RATIO * refs.clean_lap_s())
                / pace.base_lap_s,
        },
        interaction: Interaction {
            min_gap_s: 0.5,
            min_gap_sc_s: 0.8,
            duel_loss_s: 0.3,
            overtaken_loss_s: 0.3,
            overtake_threshold_s: DEFAULT_OVERTAKE_THRESHOLD_S,
            overtake_threshold_per_kmh_s: 0.0,
            drs: Some(Drs {
                window_s: 1.0,
                effect_s: -0.4,
                from_lap: 3,
                after_sc_laps: 2,
            }),
        },
        drivers: model_drivers,
        random: reliability.random.clone(),
        fixed,
        dry_compounds: dry,
    };
    model.interaction.overtake_threshold_s =
        fit_overtake_threshold(race, &model, &plans, &statuses, window);
    Ok(model)
}

/// The overtaking threshold under which noisy replays of laps `..=window` (the real stops, neutralisations and
/// retirements so far) pass on track as often as the race did ([`real_passes`]): the track's and the field's
/// overtaking difficulty, measured rather than assumed. The closest of [`OVERTAKE_THRESHOLD_GRID_S`] on the mean of
/// [`PASS_FIT_RUNS`] replays with a fixed seed; [`DEFAULT_OVERTAKE_THRESHOLD_S`] before [`MIN_PASS_FIT_LAPS`] green
/// laps.
fn fit_overtake_threshold(
    race: &RealRace,
    model: &RaceModel,
    plans: &[Plan],
    statuses: &[Option<FcyKind>],
    window: u32,
) -> f64 {
    let green_laps = statuses.iter().skip(2).filter(|s| s.is_none()).count();
    if green_laps < MIN_PASS_FIT_LAPS as usize {
        return DEFAULT_OVERTAKE_THRESHOLD_S;
    }
    let real = f64::from(real_passes(race, statuses, window));
    let mut replay = model.clone();
    replay.total_laps = window;
    let plans: Vec<Plan> = plans
        .iter()
        .map(|p| Plan {
            stops: p.stops.iter().filter(|s| s.lap < window).copied().collect(),
            ..p.clone()
        })
        .collect();
    replay.fixed = FixedEvents {
        fcy: Some(phases(statuses)),
        retirements: Some(
            race.drivers()
                .iter()
                .enumerate()
                .filter(|(_, d)| d.retirement.is_some() && d.laps.len() < window as usize)
                .map(|(i, d)| Retirement {
                    driver: i,
                    at: d.laps.len() as f64,
                })
                .collect(),
        ),
    };
    let (first, step, count) = OVERTAKE_THRESHOLD_GRID_S;
    let mut best = (f64::INFINITY, DEFAULT_OVERTAKE_THRESHOLD_S);
    for k in 0..count {
        let threshold = first + step * k as f64;
        replay.interaction.overtake_threshold_s = threshold;
        let Ok(prepared) = Prepared::new(&replay, &plans, None) else {
            return DEFAULT_OVERTAKE_THRESHOLD_S;
        };
        let mut runner = Runner::new(&prepared);
        let mut rng = Stream::for_race(PASS_FIT_SEED, 0);
        let passes: u64 = (0..PASS_FIT_RUNS)
            .map(|_| u64::from(runner.run(Some(&mut rng)).passes))
            .sum();
        let miss = (passes as f64 / PASS_FIT_RUNS as f64 - real).abs();
        if miss < best.0 {
            best = (miss, threshold);
        }
    }
    best.1
}

/// Overtakes on track in laps 2..=`window` of `race` as the simulation counts them ([`Outcome::passes`]): pairs of
/// cars whose order flipped over a green lap (the leader's, [`track_statuses`]) on which neither pitted.
///
/// [`Outcome::passes`]: super::lapsim::Outcome::passes
fn real_passes(race: &RealRace, statuses: &[Option<FcyKind>], window: u32) -> u32 {
    fn row(d: &RealDriver, lap: u32) -> Option<&RealLap> {
        let at = d.laps.get(lap as usize - 1).filter(|r| r.lap == lap);
        at.or_else(|| d.laps.iter().find(|r| r.lap == lap))
    }
    let mut passes = 0;
    for lap in 2..=window {
        if statuses.get(lap as usize).copied().flatten().is_some() {
            continue;
        }
        // Each car's position before and after the lap, unless it pitted on it.
        let moves: Vec<(u8, u8)> = race
            .drivers()
            .iter()
            .filter_map(|d| {
                let (before, now) = (row(d, lap - 1)?, row(d, lap)?);
                if now.pit_in_s.is_some() || now.pit_out_s.is_some() {
                    return None;
                }
                Some((before.position?, now.position?))
            })
            .collect();
        for (i, a) in moves.iter().enumerate() {
            for b in &moves[i + 1..] {
                if (a.0 < b.0) != (a.1 < b.1) {
                    passes += 1;
                }
            }
        }
    }
    passes
}

/// The real state at the end of leader lap `lap`, in the model's driver order: each car's race time is the end of
/// its lap `lap` (a lapped car's too: the simulation does not lap cars), with the tyres on the car after that lap
/// (a stop at the end of it has fitted the new set), their age counted as the simulation counts it, and the fuel of
/// the model's fuel model. A car that did not complete lap `lap` is retired, at its last completed lap.
///
/// A car whose in-lap is `lap` still has its out-lap to drive, but [`CarStart`] cannot say so: the simulation will
/// not charge that out-lap's loss (callers may add it to the car's race time; the backtest does).
///
/// # Errors
/// [`CalibrateError::LapOutOfRange`] unless `1 <= lap < total laps`, [`CalibrateError::DriverMismatch`] when the
/// model's drivers are not the race's in order.
pub fn start_at(race: &RealRace, model: &RaceModel, lap: u32) -> Result<RaceStart, CalibrateError> {
    let total = race.total_laps().min(model.total_laps);
    if lap == 0 || lap >= total {
        return Err(CalibrateError::LapOutOfRange {
            lap,
            total_laps: total,
        });
    }
    let drivers = race.drivers();
    for index in 0..drivers.len().max(model.drivers.len()) {
        let race_code = drivers.get(index).map(|d| d.code.as_str());
        let model_code = model.drivers.get(index).map(|d| d.code.as_str());
        if race_code != model_code {
            return Err(CalibrateError::DriverMismatch {
                index,
                model: model_code.unwrap_or_default().to_owned(),
                race: race_code.unwrap_or_default().to_owned(),
            });
        }
    }
    let statuses = track_statuses(race, lap);
    let plans = real_plans(race);
    let cars = drivers
        .iter()
        .zip(&model.drivers)
        .zip(&plans)
        .map(|((d, m), plan)| {
            let completed = u32::try_from(d.laps.len()).unwrap_or(u32::MAX);
            let retired = completed < lap;
            let laps = completed.min(lap);
            let burn = equivalent_laps_with(&statuses, lap, m.fuel.sc_factor, m.fuel.vsc_factor);
            let wear = equivalent_laps_with(
                &statuses,
                lap,
                m.tyres.sc_wear_factor,
                m.tyres.vsc_wear_factor,
            );
            let (compound, tyre_age_laps) = set_after(plan, laps, &wear);
            CarStart {
                race_time_s: d.crossing_s(laps).unwrap_or(0.0),
                laps,
                compound,
                tyre_age_laps,
                fuel_kg: (m.fuel.start_kg - m.fuel.burn_kg_per_lap * at(&burn, laps)).max(0.0),
                retired,
            }
        })
        .collect();
    Ok(RaceStart {
        completed_laps: lap,
        cars,
    })
}

/// What the out-lap through the pit lane adds to a lap under green: the lane's exit, cold tyres, and the standstill
/// where the pit box is after the line.
pub fn out_lap_charge(t: &super::model::TrackTiming, m: &DriverModel) -> f64 {
    let standstill = if t.pits_after_line {
        t.tyre_change_min_s + m.pit_crew_extra_s
    } else {
        0.0
    };
    t.pit.out_green_s + m.tyres.cold_tyre_s + standstill
}

/// Charges a car whose in-lap is the last lap it completed the out-lap it still has to drive through the pit lane
/// (green losses), which a [`RaceStart`] cannot express: without it the car would rejoin as if it had not stopped.
/// The car's own laps, not the leader's: a lapped car's in-lap is its own lap count.
pub fn with_pending_out_laps(
    race: &RealRace,
    model: &RaceModel,
    mut start: RaceStart,
) -> RaceStart {
    let t = &model.timing;
    for (car, (d, m)) in start
        .cars
        .iter_mut()
        .zip(race.drivers().iter().zip(&model.drivers))
    {
        let stopped = race
            .pit_stops()
            .iter()
            .any(|s| s.car_idx == d.car_idx && s.lap == car.laps);
        if stopped && !car.retired {
            car.race_time_s += out_lap_charge(t, m);
        }
    }
    start
}

/// The strategies driven, per driver of `race.drivers()` in order: the start compound and its age from lap 1
/// (`TyreLife − 1`), and each f1db stop before the last lap with the set fitted (the compound and age of the first
/// row of the next stint within two laps of the in-lap, else of the out-lap). A driver without laps starts on the
/// field's most common start compound.
pub fn real_plans(race: &RealRace) -> Vec<Plan> {
    let mut counts: BTreeMap<Compound, usize> = BTreeMap::new();
    for d in race.drivers() {
        if let Some(l) = d.laps.first() {
            *counts.entry(l.compound).or_default() += 1;
        }
    }
    let fallback = counts
        .iter()
        .max_by_key(|&(c, n)| (*n, std::cmp::Reverse(*c)))
        .map_or(Compound::Medium, |(c, _)| *c);
    race.drivers()
        .iter()
        .map(|d| real_plan(race, d, fallback))
        .collect()
}

/// The longest stint each compound ran in `race` (its age when fitted included), laps, over every driver's real
/// strategy ([`real_plans`]) up to the laps the driver completed. A search capped at these (with a margin) keeps to
/// stints the tyres have been seen to do.
pub fn longest_stints(race: &RealRace) -> Vec<(Compound, u32)> {
    let mut longest: BTreeMap<Compound, u32> = BTreeMap::new();
    for (d, plan) in race.drivers().iter().zip(real_plans(race)) {
        let done = u32::try_from(d.laps.len()).unwrap_or(u32::MAX);
        for (compound, laps) in plan.stints(done) {
            let entry = longest.entry(compound).or_default();
            *entry = (*entry).max(laps);
        }
    }
    longest.into_iter().collect()
}

/// The rival rule for a car's unknown future at the end of lap `now`: no further stop unless the plan so far has
/// used fewer than two dry compounds and no wet tyre, in which case one stop for a new set of the next harder dry compound of
/// `dry` (softest first; the next softer when on the hardest), on the lap that splits the laps from the current
/// set's fitting to the flag into two equal stints (the next lap if that is past). `None` when no stop is needed or
/// possible (no other dry compound, on wet tyres, or no lap left to stop on).
pub fn rival_stop(plan: &Plan, now: u32, total_laps: u32, dry: &[Compound]) -> Option<PlannedStop> {
    if plan.meets_compound_rule() {
        return None;
    }
    let (fitted_lap, current) = plan
        .stops
        .iter()
        .filter(|s| s.lap <= now)
        .map(|s| (s.lap, s.compound))
        .next_back()
        .or_else(|| plan.start.map(|c| (0, c)))?;
    if !current.is_dry() {
        return None;
    }
    let idx = dry.iter().position(|c| *c == current);
    let next = match idx {
        Some(i) => dry
            .get(i + 1)
            .or_else(|| i.checked_sub(1).and_then(|j| dry.get(j))),
        None => dry.iter().find(|c| **c > current).or_else(|| dry.last()),
    }
    .copied()
    .filter(|c| *c != current)?;
    let lap = (fitted_lap + total_laps.saturating_sub(fitted_lap).div_ceil(2)).max(now + 1);
    (lap < total_laps).then_some(PlannedStop {
        lap,
        compound: next,
        age_laps: 0,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Track status.

/// Per lap `0..=window` (index 0 unused): the neutralisation the simulation applies on that leader lap.
fn track_statuses(race: &RealRace, window: u32) -> Vec<Option<FcyKind>> {
    let refs = LeaderLaps::new(race, window);
    let mut out = vec![None; window as usize + 1];
    for (l, slot) in out.iter_mut().enumerate().skip(1) {
        *slot = refs.status(l);
    }
    out
}

/// The leaders' laps of a race up to `window`: per lap, the first car to complete it without pitting.
#[derive(Debug)]
struct LeaderLaps<'a> {
    /// Index `l - 1`: the leader's row of lap `l`.
    rows: Vec<Option<&'a RealLap>>,
}

impl<'a> LeaderLaps<'a> {
    fn new(race: &'a RealRace, window: u32) -> Self {
        let rows = (1..=window)
            .map(|l| {
                race.drivers()
                    .iter()
                    .filter_map(|d| d.laps.get(l as usize - 1))
                    .filter(|r| r.pit_in_s.is_none() && r.pit_out_s.is_none())
                    .min_by(|a, b| a.end_s.total_cmp(&b.end_s))
            })
            .collect();
        LeaderLaps { rows }
    }

    /// The kind a lap's codes name (SC over VSC) and whether the whole lap was under it.
    fn kind(row: &RealLap) -> Option<(FcyKind, bool)> {
        let codes = &row.track_status_codes;
        if codes.contains('4') {
            Some((FcyKind::Sc, codes.chars().all(|c| c == '4')))
        } else if codes.contains(['6', '7']) {
            // `7` is the VSC ending: the lap went green again before its end.
            Some((FcyKind::Vsc, codes.chars().all(|c| c == '6')))
        } else {
            None
        }
    }

    /// Median lap time of the leaders' fully neutralised laps of `kind` among laps `..=last` (all when `None`).
    fn full_lap_before(&self, kind: FcyKind, last: usize) -> Option<f64> {
        let mut times: Vec<f64> = self
            .rows
            .iter()
            .take(last)
            .flatten()
            .filter(|r| Self::kind(r) == Some((kind, true)))
            .map(|r| r.lap_time_s)
            .collect();
        median(&mut times)
    }

    fn full_lap_s(&self, kind: FcyKind) -> Option<f64> {
        self.full_lap_before(kind, self.rows.len())
    }

    /// Median of the leaders' clean laps among laps `..=last`.
    fn clean_lap_before(&self, last: usize) -> Option<f64> {
        let mut times: Vec<f64> = self
            .rows
            .iter()
            .take(last)
            .flatten()
            .filter(|r| r.is_clean())
            .map(|r| r.lap_time_s)
            .collect();
        median(&mut times)
    }

    /// Median of the leaders' clean laps (a neutral 90 s when there is none, only to keep factors finite).
    fn clean_lap_s(&self) -> f64 {
        self.clean_lap_before(self.rows.len()).unwrap_or(90.0)
    }

    /// Status of lap `l` (1-based), judged from laps `..=l` only (see the module docs).
    fn status(&self, l: usize) -> Option<FcyKind> {
        let row = self.rows.get(l.checked_sub(1)?).copied().flatten()?;
        let (kind, whole) = Self::kind(row)?;
        if whole {
            return Some(kind);
        }
        if l == 1 {
            return None;
        }
        let clean = self.clean_lap_before(l - 1)?;
        let ratio = match kind {
            FcyKind::Sc => DEFAULT_SC_LAP_RATIO,
            FcyKind::Vsc => DEFAULT_VSC_LAP_RATIO,
        };
        let full = self.full_lap_before(kind, l - 1).unwrap_or(ratio * clean);
        (row.lap_time_s - clean > 0.5 * (full - clean)).then_some(kind)
    }
}

/// Neutralised laps merged into phases of whole leader laps.
fn phases(statuses: &[Option<FcyKind>]) -> Vec<FcyPhase> {
    let mut out: Vec<FcyPhase> = Vec::new();
    for (l, status) in statuses.iter().enumerate().skip(1) {
        let Some(kind) = *status else { continue };
        let lap = l as f64;
        match out.last_mut() {
            Some(p) if p.kind == kind && p.end == lap - 1.0 => p.end = lap,
            _ => out.push(FcyPhase {
                start: lap - 1.0,
                end: lap,
                kind,
            }),
        }
    }
    out
}

/// Green-equivalent laps completed before each lap: index `j` is the sum of the factors of laps `1..=j`, with
/// TUMFTM's SC and VSC factors; laps past `window` count as green.
fn equivalent_laps(statuses: &[Option<FcyKind>], window: u32) -> Vec<f64> {
    equivalent_laps_with(statuses, window, SC_LAP_FACTOR, VSC_LAP_FACTOR)
}

fn equivalent_laps_with(
    statuses: &[Option<FcyKind>],
    window: u32,
    sc_factor: f64,
    vsc_factor: f64,
) -> Vec<f64> {
    let mut out = vec![0.0; window as usize + 1];
    for j in 1..out.len() {
        let factor = match statuses.get(j).copied().flatten() {
            Some(FcyKind::Sc) => sc_factor,
            Some(FcyKind::Vsc) => vsc_factor,
            None => 1.0,
        };
        out[j] = out[j - 1] + factor;
    }
    out
}

/// `prefix[j]`, or past its end the last value plus one green lap per lap.
fn at(prefix: &[f64], j: u32) -> f64 {
    let j = j as usize;
    match prefix.get(j) {
        Some(x) => *x,
        None => prefix.last().copied().unwrap_or(0.0) + (j + 1).saturating_sub(prefix.len()) as f64,
    }
}

/// The set on the car after lap `laps` and its age as the simulation counts it.
fn set_after(plan: &Plan, laps: u32, wear: &[f64]) -> (Compound, f64) {
    let (first_lap, compound, age) = plan
        .stops
        .iter()
        .filter(|s| s.lap <= laps)
        .map(|s| (s.lap, s.compound, s.age_laps))
        .next_back()
        .unwrap_or((
            0,
            plan.start.unwrap_or(Compound::Medium),
            plan.start_age_laps,
        ));
    (
        compound,
        f64::from(age) + at(wear, laps) - at(wear, first_lap),
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Strategies.

fn real_plan(race: &RealRace, d: &RealDriver, fallback: Compound) -> Plan {
    let Some(first) = d.laps.first() else {
        return Plan {
            start: Some(fallback),
            start_age_laps: 0,
            stops: Vec::new(),
        };
    };
    let mut stops: Vec<PlannedStop> = Vec::new();
    // Tyre stops only: a drive-through or a stop-go is a penalty served, not a strategy.
    let own: Vec<u32> = race
        .pit_stops()
        .iter()
        .filter(|s| s.car_idx == d.car_idx && s.tyres_changed)
        .map(|s| s.lap)
        .collect();
    for (k, &lap) in own.iter().enumerate() {
        if lap == 0 || lap >= race.total_laps() || stops.last().is_some_and(|p| p.lap >= lap) {
            continue;
        }
        let next = own.get(k + 1).copied().unwrap_or(u32::MAX);
        let (compound, age_laps) = fitted_after(d, lap, next);
        stops.push(PlannedStop {
            lap,
            compound,
            age_laps,
        });
    }
    Plan {
        start: Some(first.compound),
        start_age_laps: first.tyre_life_laps.saturating_sub(1),
        stops,
    }
}

/// The set fitted at the end of in-lap `p`: the first row of a new stint up to the driver's next stop (`next`,
/// its in-lap), else the out-lap's row (a stop that changed no tyres: a penalty served); its age at fitting is its
/// `TyreLife` less the laps driven on it since. FastF1 sometimes starts the new stint laps late: Bottas, Bahrain
/// 2019, stopped on lap 37 and his rows say the old mediums (`TyreLife` 26, 27) until lap 40's softs.
fn fitted_after(d: &RealDriver, p: u32, next: u32) -> (Compound, u32) {
    let in_lap = p.checked_sub(1).and_then(|i| d.laps.get(i as usize));
    let stint = in_lap.map(|l| l.stint);
    let row = d
        .laps
        .iter()
        .skip(p as usize)
        .take_while(|l| l.lap <= next)
        .find(|l| Some(l.stint) != stint)
        .or_else(|| d.laps.get(p as usize));
    match row {
        Some(l) => (
            l.compound,
            l.tyre_life_laps.saturating_sub(l.lap.saturating_sub(p)),
        ),
        None => (
            in_lap
                .or(d.laps.last())
                .map_or(Compound::Medium, |l| l.compound),
            0,
        ),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Pace.

/// One clean lap as the fit sees it.
#[derive(Clone, Copy, Debug)]
struct Obs {
    driver: usize,
    /// Index of the set in the driver's plan (0: the start set).
    set: usize,
    compound: Compound,
    /// Tyre age at the start of the lap, as the simulation counts it.
    age: f64,
    /// Lap time minus the fuel effect.
    y: f64,
    /// Weight in the fit.
    w: f64,
}

fn observations(
    race: &RealRace,
    plans: &[Plan],
    equiv: &[f64],
    burn_per_lap: f64,
    window: u32,
    recency: f64,
) -> Vec<Obs> {
    let mut out = Vec::new();
    for (i, (d, plan)) in race.drivers().iter().zip(plans).enumerate() {
        for l in d.laps.iter().filter(|l| l.lap <= window && l.is_clean()) {
            let done = l.lap - 1;
            let (compound, age) = set_after(plan, done, equiv);
            let set = plan.stops.iter().filter(|s| s.lap <= done).count();
            let fuel = (START_FUEL_KG - burn_per_lap * at(equiv, done)).max(0.0);
            out.push(Obs {
                driver: i,
                set,
                compound,
                age,
                y: l.lap_time_s - FUEL_S_PER_KG * fuel,
                w: libm::pow(recency, f64::from(window - l.lap)),
            });
        }
    }
    out
}

/// Sums of a line fit.
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    sxy: f64,
}

impl Sums {
    fn add(&mut self, x: f64, y: f64, w: f64) {
        self.n += w;
        self.sx += w * x;
        self.sy += w * y;
        self.sxx += w * x * x;
        self.sxy += w * x * y;
    }

    /// Centred `(Sxx, Sxy)`.
    fn centred(&self) -> (f64, f64) {
        if self.n <= 0.0 {
            return (0.0, 0.0);
        }
        (
            (self.sxx - self.sx * self.sx / self.n).max(0.0),
            self.sxy - self.sx * self.sy / self.n,
        )
    }
}

/// The additive fit: driver levels, compound levels and slopes, driver × compound slopes and deviations.
#[derive(Debug)]
struct Fit {
    /// Per driver; `None` without a clean lap.
    level: Vec<Option<f64>>,
    /// Per compound with clean laps: level `K` and the field's slope.
    compound: BTreeMap<Compound, (f64, f64)>,
    /// Per driver and compound run: slope and shrunk deviation.
    group: BTreeMap<(usize, Compound), (f64, f64)>,
}

impl Fit {
    fn predict(&self, o: &Obs) -> f64 {
        let level = self.level.get(o.driver).copied().flatten().unwrap_or(0.0);
        let (k, field_slope) = self
            .compound
            .get(&o.compound)
            .copied()
            .unwrap_or((0.0, 0.0));
        let (slope, delta) = self
            .group
            .get(&(o.driver, o.compound))
            .copied()
            .unwrap_or((field_slope, 0.0));
        level + k + delta + slope * o.age
    }
}

/// One driver on one compound, as the level fit sees it.
#[derive(Clone, Copy, Debug)]
struct Cell {
    driver: usize,
    compound: Compound,
    /// Its mean lap taken back to a fresh tyre along the field's slope.
    fresh: f64,
    /// Clean laps behind it (weighted).
    laps: f64,
    /// Their mean tyre age.
    age: f64,
    /// The driver's own slope on the compound, shrunk towards the field's.
    own_slope: f64,
}

/// Fits the pace (see the module docs); `None` without an observation.
fn solve(obs: &[Obs], n_drivers: usize) -> Option<Fit> {
    // Slopes: within-stint spread pooled per compound, then per driver and compound.
    let mut stints: BTreeMap<(usize, usize), (Compound, Sums)> = BTreeMap::new();
    for o in obs {
        stints
            .entry((o.driver, o.set))
            .or_insert((o.compound, Sums::default()))
            .1
            .add(o.age, o.y, o.w);
    }
    let mut pooled: BTreeMap<Compound, (f64, f64)> = BTreeMap::new();
    let mut pooled_driver: BTreeMap<(usize, Compound), (f64, f64)> = BTreeMap::new();
    for (&(driver, _), (compound, sums)) in &stints {
        let (sxx, sxy) = sums.centred();
        let e = pooled.entry(*compound).or_default();
        e.0 += sxx;
        e.1 += sxy;
        let e = pooled_driver.entry((driver, *compound)).or_default();
        e.0 += sxx;
        e.1 += sxy;
    }
    let field_slope: BTreeMap<Compound, f64> = pooled
        .iter()
        .map(|(&c, &(sxx, sxy))| {
            let b = (sxy + FIELD_SLOPE_PRIOR_LAPS2 * DEFAULT_DEG_S_PER_LAP)
                / (sxx + FIELD_SLOPE_PRIOR_LAPS2);
            (c, b)
        })
        .collect();
    // Per driver and compound run: its slope, mean age and mean time, and its intercept on the field's slope.
    // Levels are compared on the field's slopes: a driver's own steep or flat slope, extrapolated to a fresh tyre,
    // would otherwise move its level on every other compound.
    let mut means: BTreeMap<(usize, Compound), (f64, f64, f64)> = BTreeMap::new(); // Σx, Σy, n
    for o in obs {
        let e = means.entry((o.driver, o.compound)).or_default();
        e.0 += o.w * o.age;
        e.1 += o.w * o.y;
        e.2 += o.w;
    }
    let slope_of = |c: &Compound| field_slope.get(c).copied().unwrap_or(DEFAULT_DEG_S_PER_LAP);
    let cells: Vec<Cell> = means
        .iter()
        .filter(|(_, m)| m.2 > 0.0)
        .map(|(&(driver, compound), &(sx, sy, n))| {
            let (age, y) = (sx / n, sy / n);
            let field = slope_of(&compound);
            let own_slope = pooled_driver
                .get(&(driver, compound))
                .map_or(field, |&(sxx, sxy)| {
                    (sxy + SLOPE_PRIOR_LAPS2 * field) / (sxx + SLOPE_PRIOR_LAPS2)
                });
            Cell {
                driver,
                compound,
                fresh: y - field * age,
                laps: n,
                age,
                own_slope,
            }
        })
        .collect();
    if cells.is_empty() {
        return None;
    }
    // Driver and compound levels: weighted least squares of the cell intercepts, by alternating means.
    let mut level = vec![0.0; n_drivers];
    let mut k: BTreeMap<Compound, f64> = BTreeMap::new();
    for _ in 0..500 {
        let mut num: BTreeMap<Compound, (f64, f64)> = BTreeMap::new();
        for cell in &cells {
            let e = num.entry(cell.compound).or_default();
            e.0 += cell.laps * (cell.fresh - level.get(cell.driver).copied().unwrap_or(0.0));
            e.1 += cell.laps;
        }
        let mut change: f64 = 0.0;
        for (c, (s, w)) in num {
            let new = s / w;
            change = change.max((new - k.get(&c).copied().unwrap_or(new)).abs());
            k.insert(c, new);
        }
        let mut sums = vec![(0.0, 0.0); n_drivers];
        for cell in &cells {
            if let Some(e) = sums.get_mut(cell.driver) {
                e.0 += cell.laps * (cell.fresh - k.get(&cell.compound).copied().unwrap_or(0.0));
                e.1 += cell.laps;
            }
        }
        for (l, (s, w)) in level.iter_mut().zip(&sums) {
            if *w > 0.0 {
                let new = s / w;
                change = change.max((new - *l).abs());
                *l = new;
            }
        }
        if change < 1e-9 {
            break;
        }
    }
    let mut has_laps = vec![false; n_drivers];
    for cell in &cells {
        if let Some(h) = has_laps.get_mut(cell.driver) {
            *h = true;
        }
    }
    // A driver's own line on a compound: its own slope through its mean lap, that mean shrunk towards the field's
    // line (its level plus the compound's, on the field's slope) by `n / (n + OFFSET_PRIOR_LAPS)`.
    let group = cells
        .iter()
        .map(|cell| {
            let field = level.get(cell.driver).copied().unwrap_or(0.0)
                + k.get(&cell.compound).copied().unwrap_or(0.0);
            let shrunk = field + (cell.fresh - field) * cell.laps / (cell.laps + OFFSET_PRIOR_LAPS);
            let delta = shrunk + (slope_of(&cell.compound) - cell.own_slope) * cell.age - field;
            ((cell.driver, cell.compound), (cell.own_slope, delta))
        })
        .collect();
    Some(Fit {
        level: level
            .iter()
            .zip(&has_laps)
            .map(|(&l, &h)| h.then_some(l))
            .collect(),
        compound: k
            .iter()
            .map(|(&c, &kc)| {
                (
                    c,
                    (
                        kc,
                        field_slope
                            .get(&c)
                            .copied()
                            .unwrap_or(DEFAULT_DEG_S_PER_LAP),
                    ),
                )
            })
            .collect(),
        group,
    })
}

/// Every compound the plans fit (up to the window) or the clean laps ran on.
fn seen_compounds(plans: &[Plan], fit: &Fit) -> BTreeSet<Compound> {
    let mut seen: BTreeSet<Compound> = fit.compound.keys().copied().collect();
    for p in plans {
        seen.extend(p.start);
        seen.extend(p.stops.iter().map(|s| s.compound));
    }
    seen
}

/// The fit as the model's parameters.
#[derive(Debug)]
struct Pace<'a> {
    fit: &'a Fit,
    base_lap_s: f64,
    /// Per driver, over the fastest.
    offsets: Vec<f64>,
    /// Per compound seen: `k0` over the base lap (before the driver's deviation) and the field's slope.
    compounds: BTreeMap<Compound, (f64, f64)>,
}

impl<'a> Pace<'a> {
    fn new(fit: &'a Fit, seen: &BTreeSet<Compound>, n_drivers: usize) -> Self {
        let mut levels: Vec<f64> = fit.level.iter().flatten().copied().collect();
        let min_level = levels.iter().copied().fold(f64::INFINITY, f64::min);
        let median_level = median(&mut levels).unwrap_or(0.0);
        // Levels of compounds without a clean lap: Pirelli's usual gap to the best-known compound.
        let mut k: BTreeMap<Compound, (f64, f64)> = fit.compound.clone();
        if let Some((&reference, &(k_ref, _))) = fit.compound.iter().next() {
            let gap = |c: Compound| crate::calibration::compound_params(c).offset_s;
            for &c in seen {
                k.entry(c)
                    .or_insert((k_ref + gap(c) - gap(reference), DEFAULT_DEG_S_PER_LAP));
            }
        }
        // The fastest fresh dry compound sets the base lap (any compound in a race run only on wet tyres).
        let fastest = |dry_only: bool| {
            k.iter()
                .filter(|(c, _)| !dry_only || c.is_dry())
                .map(|(_, &(kc, _))| kc)
                .fold(f64::INFINITY, f64::min)
        };
        let k_min = [fastest(true), fastest(false), 0.0]
            .into_iter()
            .find(|x| x.is_finite())
            .unwrap_or(0.0);
        let min_level = if min_level.is_finite() {
            min_level
        } else {
            0.0
        };
        let offsets = (0..n_drivers)
            .map(|d| fit.level.get(d).copied().flatten().unwrap_or(median_level) - min_level)
            .collect();
        Pace {
            fit,
            base_lap_s: min_level + k_min,
            offsets,
            compounds: k
                .into_iter()
                .map(|(c, (kc, slope))| (c, (kc - k_min, slope)))
                .collect(),
        }
    }

    /// A driver's degradation per compound seen.
    fn compounds_of(&self, driver: usize) -> Vec<CompoundDeg> {
        self.compounds
            .iter()
            .map(|(&c, &(k0, field_slope))| {
                let (k1, delta) = self
                    .fit
                    .group
                    .get(&(driver, c))
                    .copied()
                    .unwrap_or((field_slope, 0.0));
                CompoundDeg {
                    compound: c,
                    label: format!("{c:?}"),
                    deg: Degradation::Linear { k0: k0 + delta, k1 },
                }
            })
            .collect()
    }

    /// The model's lap time of `driver` on `compound` at `age` with `fuel_kg`, before start and traffic terms.
    fn lap_s(&self, driver: usize, compound: Compound, age: f64, fuel_kg: f64) -> f64 {
        let deg = self
            .compounds_of(driver)
            .into_iter()
            .find(|c| c.compound == compound)
            .map_or(0.0, |c| c.deg.loss_s(age));
        self.base_lap_s
            + self.offsets.get(driver).copied().unwrap_or(0.0)
            + deg
            + FUEL_S_PER_KG * fuel_kg
    }
}

fn lap_sigmas(obs: &[Obs], fit: &Fit, n_drivers: usize) -> Vec<f64> {
    let mut residuals = vec![Vec::new(); n_drivers];
    for o in obs {
        if let Some(r) = residuals.get_mut(o.driver) {
            r.push(o.y - fit.predict(o));
        }
    }
    let [lo, hi] = LAP_SIGMA_RANGE_S;
    let own: Vec<Option<f64>> = residuals
        .iter()
        .map(|r| robust_sigma(r).map(|s| s.clamp(lo, hi)))
        .collect();
    let mut known: Vec<f64> = own.iter().flatten().copied().collect();
    let fallback = median(&mut known).unwrap_or(0.625);
    own.into_iter().map(|s| s.unwrap_or(fallback)).collect()
}

/// Lap-1 excess of the first three on the grid over their model lap, less grid slot and start performance.
fn standing_start(
    race: &RealRace,
    pace: &Pace<'_>,
    statuses: &[Option<FcyKind>],
    crews: &[Crew],
    window: u32,
) -> f64 {
    if window == 0 || statuses.get(1).copied().flatten().is_some() {
        return DEFAULT_STANDING_START_S;
    }
    let mut excess: Vec<f64> = race
        .drivers()
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.pit_lane_start)
        .take(3)
        .filter_map(|(i, d)| {
            let lap = d.laps.first()?;
            let age = f64::from(lap.tyre_life_laps.saturating_sub(1));
            let model = pace.lap_s(i, lap.compound, age, START_FUEL_KG)
                + GRID_LOSS_PER_SLOT_S * f64::from(d.grid_position.max(1) - 1)
                + crews.get(i).map_or(0.0, |c| c.start_mean_s);
            Some(lap.lap_time_s - model)
        })
        .collect();
    median(&mut excess).unwrap_or(DEFAULT_STANDING_START_S)
}

// ---------------------------------------------------------------------------------------------------------------
// Pit losses.

/// The green-flag pit loss measured over laps `..=window`.
#[derive(Clone, Copy, Debug)]
struct PitSplit {
    /// In-lap + out-lap over two clean laps, seconds.
    total_s: f64,
    /// Share of it on the in-lap.
    in_share: f64,
}

fn pit_split(race: &RealRace, window: u32) -> PitSplit {
    let (mut totals, mut ins, mut outs) = (Vec::new(), Vec::new(), Vec::new());
    for d in race.drivers() {
        let mut clean: Vec<f64> = d
            .laps
            .iter()
            .filter(|l| l.lap <= window && l.is_clean())
            .map(|l| l.lap_time_s)
            .collect();
        let Some(clean) = median(&mut clean) else {
            continue;
        };
        for pair in d.laps.windows(2) {
            let [in_lap, out_lap] = pair else { continue };
            if out_lap.lap <= window
                && in_lap.lap > 1
                && in_lap.pit_in_s.is_some()
                && out_lap.pit_out_s.is_some()
                && d.tyres_changed_at(in_lap.lap)
                && in_lap.track_status_codes == "1"
                && out_lap.track_status_codes == "1"
            {
                let (i, o) = (in_lap.lap_time_s - clean, out_lap.lap_time_s - clean);
                totals.push(i + o);
                ins.push(i);
                outs.push(o);
            }
        }
    }
    match (median(&mut totals), median(&mut ins), median(&mut outs)) {
        (Some(total_s), Some(i), Some(o)) if i + o > 0.0 => PitSplit {
            total_s,
            in_share: (i / (i + o)).clamp(0.0, 1.0),
        },
        _ => {
            let mut lane: Vec<f64> = race
                .pit_stops()
                .iter()
                .filter(|s| s.lap < window && s.tyres_changed)
                .map(|s| s.pit_lane_s)
                .collect();
            PitSplit {
                total_s: median(&mut lane)
                    .unwrap_or(crate::telemetry::normalize::DEFAULT_PIT_LANE_LOSS_S),
                in_share: DEFAULT_PIT_IN_SHARE,
            }
        }
    }
}

impl PitSplit {
    /// The model's losses for a standstill of `standstill_s`, and whether the box is after the line.
    fn losses(&self, standstill_s: f64) -> (PitLosses, bool) {
        let after_line = self.in_share < 0.5;
        let (mut in_s, mut out_s) = (
            self.in_share * self.total_s,
            (1.0 - self.in_share) * self.total_s - COLD_TYRE_S,
        );
        if after_line {
            out_s -= standstill_s;
        } else {
            in_s -= standstill_s;
        }
        (
            PitLosses {
                in_green_s: in_s,
                out_green_s: out_s,
                in_vsc_s: in_s * PIT_VSC_RATIO,
                out_vsc_s: out_s * PIT_VSC_RATIO,
                in_sc_s: in_s * PIT_SC_RATIO,
                out_sc_s: out_s * PIT_SC_RATIO,
            },
            after_line,
        )
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Reliability, start performance, crews, random events.

fn season(race: &RealRace) -> Option<u32> {
    race.date().get(..4).and_then(|y| y.parse().ok())
}

/// One driver's crew, start and reliability figures.
#[derive(Clone, Copy, Debug)]
struct Crew {
    extra_s: f64,
    fisk: Option<Fisk>,
    start_mean_s: f64,
    start_sigma_s: f64,
    p_accident: f64,
    p_failure: f64,
}

/// The `pars_mcs.ini` tables for one season, or the defaults.
#[derive(Debug)]
struct Reliability<'a> {
    mcs: Option<&'a McsPars>,
    season: Option<&'a super::tumftm::SeasonPars>,
    random: RandomEvents,
    median_fisk: Option<Fisk>,
}

impl<'a> Reliability<'a> {
    fn new(mcs: Option<&'a McsPars>, year: Option<u32>) -> Result<Self, CalibrateError> {
        let Some(m) = mcs else {
            return Ok(Reliability {
                mcs: None,
                season: None,
                random: RandomEvents {
                    sc_count: DEFAULT_SC_COUNT.to_vec(),
                    sc_start: DEFAULT_SC_START,
                    sc_laps: DEFAULT_SC_LAPS.to_vec(),
                    vsc_after_failure: DEFAULT_VSC_AFTER_FAILURE,
                    vsc_laps: DEFAULT_VSC_LAPS.to_vec(),
                    min_gap_laps: MIN_GAP_LAPS,
                },
                median_fisk: None,
            });
        };
        let season = match year {
            Some(y) => m.seasons.range(..=y).next_back(),
            None => None,
        }
        .or_else(|| m.seasons.iter().next_back())
        .map(|(_, s)| s);
        let stats = &m.all_seasons.p_fcy_phases;
        let Ok(sc_start) = <[f64; 6]>::try_from(stats.p_sc_start.as_slice()) else {
            return Err(CalibrateError::ScStartBins(stats.p_sc_start.len()));
        };
        let mut fisks: Vec<(f64, Fisk)> = m
            .all_seasons
            .t_pit_var_fisk_pars
            .values()
            .map(|&[c, loc, scale]| {
                let f = Fisk { c, loc, scale };
                (fisk_mean(&f), f)
            })
            .collect();
        fisks.sort_by(|a, b| a.0.total_cmp(&b.0));
        let median_fisk = fisks.get(fisks.len().saturating_sub(1) / 2).map(|f| f.1);
        Ok(Reliability {
            mcs: Some(m),
            season,
            random: RandomEvents {
                sc_count: stats.p_sc_quant.clone(),
                sc_start,
                sc_laps: stats.p_sc_duration.clone(),
                vsc_after_failure: stats.p_vsc_aft_failure,
                vsc_laps: stats.p_vsc_duration.clone(),
                min_gap_laps: MIN_GAP_LAPS,
            },
            median_fisk,
        })
    }

    fn crew(&self, team: &str, name: &str) -> Crew {
        let Some(m) = self.mcs else {
            return Crew {
                extra_s: DEFAULT_CREW_EXTRA_S,
                fisk: None,
                start_mean_s: 0.0,
                start_sigma_s: DEFAULT_START_SIGMA_S,
                p_accident: DEFAULT_P_ACCIDENT,
                p_failure: DEFAULT_P_FAILURE,
            };
        };
        let fisk = lookup_team(&m.all_seasons.t_pit_var_fisk_pars, team)
            .map(|&[c, loc, scale]| Fisk { c, loc, scale })
            .or(self.median_fisk);
        let start = lookup_name(&m.all_seasons.t_startperf, name)
            .or_else(|| m.all_seasons.t_startperf.get("unknown"));
        let table_or_median =
            |table: Option<&BTreeMap<String, f64>>, found: Option<&f64>, default| {
                found.copied().unwrap_or_else(|| {
                    let mut all: Vec<f64> = table
                        .map(|t| t.values().copied().collect())
                        .unwrap_or_default();
                    median(&mut all).unwrap_or(default)
                })
            };
        let accidents = self.season.map(|s| &s.p_accident);
        let failures = self.season.map(|s| &s.p_failure);
        Crew {
            extra_s: fisk.map_or(DEFAULT_CREW_EXTRA_S, |f| fisk_mean(&f)),
            fisk,
            start_mean_s: start.map_or(0.0, |s| s.mean),
            start_sigma_s: start.map_or(DEFAULT_START_SIGMA_S, |s| s.sigma),
            p_accident: table_or_median(
                accidents,
                accidents.and_then(|t| lookup_name(t, name)),
                DEFAULT_P_ACCIDENT,
            )
            .clamp(0.0, 1.0),
            p_failure: table_or_median(
                failures,
                failures.and_then(|t| lookup_team(t, team)),
                DEFAULT_P_FAILURE,
            )
            .clamp(0.0, 1.0),
        }
    }
}

/// The mean standstill extra the simulation draws from `f` (its quantile clamped to `0..=30` s), by the midpoint
/// rule over 2,000 quantiles: the deterministic race uses the same mean stop as the random ones.
fn fisk_mean(f: &Fisk) -> f64 {
    const N: u32 = 2000;
    let sum: f64 = (0..N)
        .map(|i| {
            f.quantile((f64::from(i) + 0.5) / f64::from(N))
                .clamp(0.0, MAX_STOP_EXTRA_S)
        })
        .sum();
    sum / f64::from(N)
}

/// `"Carlos Sainz Jnr"`, `"carlos-sainz-jr"` → `"carlossainz"`; `"Kimi RÄIKKÖNEN"` → `"kimiraikkonen"`. Accents
/// are folded, so a source that spells a name without them matches, and the cases are ASCII's (the browser's WASM
/// does without Unicode's case tables).
fn normalise_name(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .map(fold_lower)
        .filter(|w| !w.is_empty() && !matches!(w.as_str(), "jr" | "jnr" | "junior"))
        .collect()
}

/// `word` with its accents folded and in lower case.
fn fold_lower(word: &str) -> String {
    word.chars()
        .map(|c| crate::telemetry::normalize::fold_accent(c).to_ascii_lowercase())
        .collect()
}

/// `"Red Bull Racing"`, `"RedBull"` → `"redbull"`; `"Haas F1 Team"`, `"HaasF1Team"` → `"haas"`.
fn normalise_team(team: &str) -> String {
    let s: String = team.chars().filter(|c| c.is_alphanumeric()).collect();
    let s = fold_lower(&s);
    s.replace("racing", "").replace("f1team", "")
}

/// Renamed teams: normalised current name → normalised names it had in TUMFTM's tables.
const TEAM_ALIASES: [(&str, &[&str]); 8] = [
    ("astonmartin", &["point", "forceindia"]),
    ("point", &["forceindia"]),
    ("alpine", &["renault", "lotusf1"]),
    ("rb", &["alphatauri", "tororosso"]),
    ("visacashapprb", &["alphatauri", "tororosso"]),
    ("alphatauri", &["tororosso"]),
    ("kicksauber", &["sauber", "alfaromeo"]),
    ("sauber", &["alfaromeo"]),
];

fn lookup_name<'t, T>(table: &'t BTreeMap<String, T>, name: &str) -> Option<&'t T> {
    let want = normalise_name(name);
    table
        .iter()
        .find(|(k, _)| normalise_name(k) == want)
        .map(|(_, v)| v)
}

fn lookup_team<'t, T>(table: &'t BTreeMap<String, T>, team: &str) -> Option<&'t T> {
    let want = normalise_team(team);
    let aliases = TEAM_ALIASES
        .iter()
        .filter(|(from, _)| *from == want)
        .flat_map(|(_, to)| to.iter().map(|s| (*s).to_owned()));
    std::iter::once(want.clone())
        .chain(aliases)
        .find_map(|candidate| {
            table
                .iter()
                .find(|(k, _)| normalise_team(k) == candidate)
                .map(|(_, v)| v)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_teams_match_across_sources() {
        assert_eq!(
            normalise_name("Carlos Sainz Jnr"),
            normalise_name("Carlos Sainz Jr")
        );
        assert_eq!(normalise_name("Kimi Raikkonen"), "kimiraikkonen");
        assert_eq!(normalise_name("Kimi RÄIKKÖNEN"), "kimiraikkonen");
        assert_eq!(normalise_name("Sergio Pérez"), "sergioperez");
        for (fastf1, tumftm) in [
            ("Red Bull Racing", "RedBull"),
            ("Haas F1 Team", "HaasF1Team"),
            ("Alfa Romeo Racing", "AlfaRomeo"),
            ("Racing Point", "RacingPoint"),
            ("Toro Rosso", "ToroRosso"),
            ("Williams Racing", "Williams"),
        ] {
            assert_eq!(normalise_team(fastf1), normalise_team(tumftm), "{fastf1}");
        }
        let mut table = BTreeMap::new();
        table.insert("RacingPoint".to_owned(), 1);
        table.insert("ToroRosso".to_owned(), 2);
        table.insert("AlfaRomeo".to_owned(), 3);
        assert_eq!(lookup_team(&table, "Aston Martin"), Some(&1));
        assert_eq!(lookup_team(&table, "RB"), Some(&2));
        assert_eq!(lookup_team(&table, "Kick Sauber"), Some(&3));
        assert_eq!(lookup_team(&table, "Cadillac"), None);
    }

    #[test]
    fn the_fisk_mean_is_the_simulations_mean_stop_extra() {
        // Mercedes in pars_mcs.ini: c 1.563, loc −0.046, scale 0.48. Its unclamped mean is
        // loc + scale · (π/c) / sin(π/c) = 1.02 s; the 30 s clamp trims the heavy tail a little.
        let f = Fisk {
            c: 1.563,
            loc: -0.046,
            scale: 0.48,
        };
        let m = fisk_mean(&f);
        assert!((0.9..1.03).contains(&m), "{m}");
    }

    #[test]
    fn the_rival_rule_adds_one_stop_to_a_car_on_one_compound() {
        let dry = [Compound::Soft, Compound::Medium, Compound::Hard];
        let one = Plan {
            start: Some(Compound::Medium),
            start_age_laps: 2,
            stops: vec![],
        };
        // Equal stints from the start: 35 + 35 of 70.
        assert_eq!(
            rival_stop(&one, 20, 70, &dry),
            Some(PlannedStop {
                lap: 35,
                compound: Compound::Hard,
                age_laps: 0
            })
        );
        // Past the middle: the next lap.
        assert_eq!(rival_stop(&one, 40, 70, &dry).map(|s| s.lap), Some(41));
        // On the hardest: the next softer.
        let hard = Plan {
            start: Some(Compound::Hard),
            ..one.clone()
        };
        assert_eq!(
            rival_stop(&hard, 20, 70, &dry).map(|s| s.compound),
            Some(Compound::Medium)
        );
        // After an M → M stop at 20, the remaining 50 laps split 25 + 25.
        let mm = Plan {
            stops: vec![PlannedStop {
                lap: 20,
                compound: Compound::Medium,
                age_laps: 0,
            }],
            ..one.clone()
        };
        assert_eq!(rival_stop(&mm, 30, 70, &dry).map(|s| s.lap), Some(45));
        // Two compounds used, one compound known, or no lap left: no stop.
        let mh = Plan {
            stops: vec![PlannedStop {
                lap: 20,
                compound: Compound::Hard,
                age_laps: 0,
            }],
            ..one.clone()
        };
        assert_eq!(rival_stop(&mh, 30, 70, &dry), None);
        assert_eq!(rival_stop(&one, 30, 70, &[Compound::Medium]), None);
        assert_eq!(rival_stop(&one, 69, 70, &dry), None);
        // Intermediates, then one slick: the race was wet, the rule is lifted.
        let inter_then_slick = Plan {
            start: Some(Compound::Intermediate),
            stops: vec![PlannedStop {
                lap: 15,
                compound: Compound::Medium,
                age_laps: 0,
            }],
            ..one.clone()
        };
        assert_eq!(rival_stop(&inter_then_slick, 30, 70, &dry), None);
    }

    #[test]
    fn neutralised_laps_merge_into_whole_lap_phases() {
        let s = [
            None,
            None,
            Some(FcyKind::Sc),
            Some(FcyKind::Sc),
            None,
            Some(FcyKind::Vsc),
            Some(FcyKind::Sc),
        ];
        assert_eq!(
            phases(&s),
            vec![
                FcyPhase {
                    start: 1.0,
                    end: 3.0,
                    kind: FcyKind::Sc
                },
                FcyPhase {
                    start: 4.0,
                    end: 5.0,
                    kind: FcyKind::Vsc
                },
                FcyPhase {
                    start: 5.0,
                    end: 6.0,
                    kind: FcyKind::Sc
                },
            ]
        );
    }

    #[test]
    fn equivalent_laps_count_neutralised_laps_at_their_factor() {
        let s = [None, None, Some(FcyKind::Sc), Some(FcyKind::Vsc)];
        let e = equivalent_laps(&s, 3);
        assert_eq!(e, vec![0.0, 1.0, 1.25, 1.75]);
        assert_eq!(at(&e, 5), 3.75);
        let plan = Plan {
            start: Some(Compound::Soft),
            start_age_laps: 2,
            stops: vec![PlannedStop {
                lap: 2,
                compound: Compound::Hard,
                age_laps: 0,
            }],
        };
        assert_eq!(set_after(&plan, 1, &e), (Compound::Soft, 3.0));
        assert_eq!(set_after(&plan, 2, &e), (Compound::Hard, 0.0));
        assert_eq!(set_after(&plan, 3, &e), (Compound::Hard, 0.5));
    }
}
