//! [`RaceModel`]: everything the Monte Carlo race simulation needs, at the level of detail of TUMFTM's
//! race-simulation (Heilmeier et al., TU Munich): the track and its pit losses, car-to-car interaction, each
//! driver's pace, tyres, fuel, pit crew, start and reliability, the random-event distributions and any events
//! fixed in advance.
//!
//! A model comes from a TUMFTM parameter file ([`super::tumftm`]), from a real race folder or from the live
//! session ([`super::calibrate`]). Times are seconds, masses kilograms, distances laps.

use serde::{Deserialize, Serialize};

use crate::wire::Compound;

/// A whole race's model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaceModel {
    /// Track name, e.g. `Montreal`.
    pub track: String,
    /// Season, when known (selects the random-event statistics).
    pub season: Option<u32>,
    /// Race distance in laps.
    pub total_laps: u32,
    /// Lap times, pit losses and the start.
    pub timing: TrackTiming,
    /// How cars hold each other up, overtake and use DRS.
    pub interaction: Interaction,
    /// The field, in the order of the source (not the grid).
    pub drivers: Vec<DriverModel>,
    /// Distributions of safety cars, virtual safety cars and stop-time variability.
    pub random: RandomEvents,
    /// Events fixed in advance (the real race's, or a what-if's).
    pub fixed: FixedEvents,
    /// Dry compounds the rules allow this race, softest first (the two-compound rule picks among them).
    pub dry_compounds: Vec<Compound>,
}

/// Lap times, pit losses and the start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackTiming {
    /// Lap time of the fastest car on fresh tyres with no fuel: qualifying lap plus race-pace gap.
    pub base_lap_s: f64,
    /// Lap time per kilogram of fuel on board.
    pub fuel_s_per_kg: f64,
    /// Lap-time loss of the in-lap and out-lap, by track status.
    pub pit: PitLosses,
    /// Minimum standstill to change four tyres (each team adds its own).
    pub tyre_change_min_s: f64,
    /// The pit lane is after the line: the in-lap loss falls on the next lap's timing, as TUMFTM books it.
    pub pits_after_line: bool,
    /// Lap-1 time lost per grid slot.
    pub grid_loss_per_slot_s: f64,
    /// Lap-1 time lost by starting from standstill.
    pub standing_start_s: f64,
    /// Lap-time multiplier behind the safety car.
    pub sc_factor: f64,
    /// Lap-time multiplier under a virtual safety car.
    pub vsc_factor: f64,
}

/// In- and out-lap time losses, green / VSC / SC.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PitLosses {
    /// In-lap loss, green.
    pub in_green_s: f64,
    /// Out-lap loss, green (drive through the lane).
    pub out_green_s: f64,
    /// In-lap loss under a VSC.
    pub in_vsc_s: f64,
    /// Out-lap loss under a VSC.
    pub out_vsc_s: f64,
    /// In-lap loss under a SC.
    pub in_sc_s: f64,
    /// Out-lap loss under a SC.
    pub out_sc_s: f64,
}

impl PitLosses {
    /// Total lane loss under green flags, excluding the standstill.
    pub fn green_s(&self) -> f64 {
        self.in_green_s + self.out_green_s
    }
}

/// How cars interact on track.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// Closest a car can follow another across the line, green.
    pub min_gap_s: f64,
    /// Closest a car can follow under the safety car (the bunched train).
    pub min_gap_sc_s: f64,
    /// Time both cars lose in a fight for position.
    pub duel_loss_s: f64,
    /// Extra time the overtaken car loses.
    pub overtaken_loss_s: f64,
    /// Pace advantage a car needs to pass, at the reference top speed.
    pub overtake_threshold_s: f64,
    /// Change of the threshold per km/h of top-speed advantage (negative: a faster car needs less).
    pub overtake_threshold_per_kmh_s: f64,
    /// DRS, where the series uses it.
    pub drs: Option<Drs>,
}

/// DRS rules.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drs {
    /// A car within this gap of the car ahead at the line gets DRS.
    pub window_s: f64,
    /// Lap-time change with DRS (negative).
    pub effect_s: f64,
    /// First lap on which DRS is allowed.
    pub from_lap: u32,
    /// Laps after a SC before DRS is enabled again.
    pub after_sc_laps: u32,
}

/// One driver and car.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriverModel {
    /// Three-letter code.
    pub code: String,
    /// Full name (keys the per-driver statistics).
    pub name: String,
    /// Team name (keys the per-team statistics).
    pub team: String,
    /// Car number.
    pub car_number: u32,
    /// Pace deficit to the base lap: car plus driver, seconds per lap.
    pub pace_offset_s: f64,
    /// Team-order time delta per lap (negative lets the car by).
    pub team_order_s: f64,
    /// Top speed in qualifying, km/h (the overtaking threshold depends on it).
    pub top_speed_kmh: f64,
    /// Grid slot, 1-based. A pit-lane start is the last slot.
    pub grid: u32,
    /// Fuel.
    pub fuel: FuelModel,
    /// Tyres.
    pub tyres: TyreModel,
    /// The strategy it runs unless a what-if or the search changes it.
    pub plan: Plan,
    /// Extra standstill of this team's crew over the track's minimum.
    pub pit_crew_extra_s: f64,
    /// Variability of the standstill: a Fisk (log-logistic) distribution, added to it. `None`: no variability.
    pub pit_variability: Option<Fisk>,
    /// Lap-to-lap noise, one standard deviation.
    pub lap_sigma_s: f64,
    /// Lap-1 start performance: mean and standard deviation of the time gained (negative) or lost.
    pub start_mean_s: f64,
    /// See `start_mean_s`.
    pub start_sigma_s: f64,
    /// Probability of an accident (retirement) in the race.
    pub p_accident: f64,
    /// Probability of a technical failure (retirement) in the race.
    pub p_failure: f64,
}

/// Fuel load and burn.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FuelModel {
    /// On board at the start.
    pub start_kg: f64,
    /// Burn per green lap.
    pub burn_kg_per_lap: f64,
    /// Burn multiplier behind the SC.
    pub sc_factor: f64,
    /// Burn multiplier under a VSC.
    pub vsc_factor: f64,
}

/// A driver's tyres: degradation per compound and the neutralised-lap multipliers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TyreModel {
    /// Degradation per compound the driver has data for.
    pub compounds: Vec<CompoundDeg>,
    /// Degradation multiplier behind the SC (a neutralised lap ages a tyre less).
    pub sc_wear_factor: f64,
    /// Degradation multiplier under a VSC.
    pub vsc_wear_factor: f64,
    /// Time lost on an out-lap on cold tyres.
    pub cold_tyre_s: f64,
}

impl TyreModel {
    /// The degradation of `compound`, if the driver has it.
    pub fn of(&self, compound: Compound) -> Option<&CompoundDeg> {
        self.compounds.iter().find(|c| c.compound == compound)
    }
}

/// One compound's degradation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompoundDeg {
    /// The compound, relative to the event.
    pub compound: Compound,
    /// The source's name for it (`A4`, `C3`), for reports.
    pub label: String,
    /// Lap-time change over the fresh tyre as a function of age.
    pub deg: Degradation,
}

/// Lap-time loss of a tyre against its age `a` (laps), TUMFTM's four models.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Degradation {
    /// `k0 + k1·a`.
    Linear {
        /// Offset of the fresh tyre.
        k0: f64,
        /// Seconds per lap of age.
        k1: f64,
    },
    /// `k0 + k1·a + k2·a²`.
    Quadratic {
        /// Offset of the fresh tyre.
        k0: f64,
        /// Linear term.
        k1: f64,
        /// Quadratic term.
        k2: f64,
    },
    /// `k0 + k1·a + k2·a² + k3·a³`.
    Cubic {
        /// Offset of the fresh tyre.
        k0: f64,
        /// Linear term.
        k1: f64,
        /// Quadratic term.
        k2: f64,
        /// Cubic term.
        k3: f64,
    },
    /// `k0 + k1·ln(k2·a + 1)`.
    Logarithmic {
        /// Offset of the fresh tyre.
        k0: f64,
        /// Scale.
        k1: f64,
        /// Age scale.
        k2: f64,
    },
}

impl Degradation {
    /// The lap-time loss at age `age_laps`.
    pub fn loss_s(&self, age_laps: f64) -> f64 {
        let a = age_laps;
        match *self {
            Degradation::Linear { k0, k1 } => k0 + k1 * a,
            Degradation::Quadratic { k0, k1, k2 } => k0 + a * (k1 + a * k2),
            Degradation::Cubic { k0, k1, k2, k3 } => k0 + a * (k1 + a * (k2 + a * k3)),
            // libm, not std: the same bits natively and in WASM.
            Degradation::Logarithmic { k0, k1, k2 } => k0 + k1 * libm::log(k2 * a + 1.0),
        }
    }
}

/// A race strategy: the start tyre and the stops.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Compound fitted at the start.
    pub start: Option<Compound>,
    /// Age of the start set, laps.
    pub start_age_laps: u32,
    /// The stops, in lap order.
    pub stops: Vec<PlannedStop>,
}

/// One planned stop.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedStop {
    /// The in-lap.
    pub lap: u32,
    /// Compound fitted.
    pub compound: Compound,
    /// Age of the set fitted, laps.
    pub age_laps: u32,
}

impl Plan {
    /// Whether the plan uses two different dry compounds (the rule when the race stays dry).
    pub fn uses_two_dry_compounds(&self) -> bool {
        let mut dry = self
            .start
            .into_iter()
            .chain(self.stops.iter().map(|s| s.compound))
            .filter(|c| c.is_dry());
        match dry.next() {
            Some(first) => dry.any(|c| c != first),
            None => false,
        }
    }

    /// Whether the plan meets the compound rule: two different dry compounds, or any intermediate or wet set (a
    /// race that was wet lifts the rule).
    pub fn meets_compound_rule(&self) -> bool {
        let wet = self
            .start
            .into_iter()
            .chain(self.stops.iter().map(|s| s.compound))
            .any(|c| !c.is_dry());
        wet || self.uses_two_dry_compounds()
    }

    /// Each stint to the end of lap `last_lap`: its compound and its length in laps, the set's age when fitted
    /// included. Stops from `last_lap` on are not made; empty when the start compound is unknown.
    pub fn stints(&self, last_lap: u32) -> impl Iterator<Item = (Compound, u32)> + '_ {
        let made = self
            .stops
            .iter()
            .take_while(move |s| self.start.is_some() && s.lap < last_lap);
        let fits = self
            .start
            .map(|c| (0, c, self.start_age_laps))
            .into_iter()
            .chain(made.clone().map(|s| (s.lap, s.compound, s.age_laps)));
        let ends = made.map(|s| s.lap).chain(std::iter::once(last_lap));
        fits.zip(ends).map(|((from, compound, age), to)| {
            (compound, (to.saturating_sub(from)).saturating_add(age))
        })
    }

    /// `M-27-H`: the start compound, then each stop's lap and compound.
    pub fn label(&self) -> String {
        let mut s = self
            .start
            .map_or_else(|| "?".to_owned(), |c| c.letter().to_string());
        for stop in &self.stops {
            s.push_str(&format!("-{}-{}", stop.lap, stop.compound.letter()));
        }
        s
    }
}

/// A Fisk (log-logistic) distribution as scipy parameterises it: shape `c`, location, scale.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fisk {
    /// Shape.
    pub c: f64,
    /// Location.
    pub loc: f64,
    /// Scale.
    pub scale: f64,
}

impl Fisk {
    /// The value at quantile `u` in (0, 1).
    pub fn quantile(&self, u: f64) -> f64 {
        self.loc + self.scale * libm::pow(u / (1.0 - u), 1.0 / self.c)
    }
}

/// A [`Fisk`]'s quantiles on a grid, for draws in a hot loop: `pow` was 8 % of a random race's time. Between
/// `u` = 1/16 and 15/16 linear interpolation between quantiles 1/512 apart is within 1 ms of the exact value for
/// TUMFTM's teams' distributions (shape `c` 1.6–5.8, scale 0.5–2.3; the error grows with the scale and as the
/// shape falls); below and above, towards the pole at 1 and the unbounded slope at 0, the quantile is computed
/// exactly (one draw in 8 pays for a `pow`).
#[derive(Clone, Debug)]
pub struct FiskTable {
    fisk: Fisk,
    q: Box<[f64]>,
}

impl FiskTable {
    /// Slices of (0, 1).
    const SLICES: usize = 512;
    /// The slices interpolated: `FIRST..LAST`.
    const FIRST: usize = Self::SLICES / 16;
    const LAST: usize = Self::SLICES - Self::SLICES / 16;

    /// The table of `fisk`.
    pub fn new(fisk: Fisk) -> Self {
        let n = Self::SLICES as f64;
        // Entries below `FIRST` are never read; keeping them makes `q[i]` the quantile at slice `i`'s start.
        let q = (0..=Self::LAST)
            .map(|i| fisk.quantile(i as f64 / n))
            .collect();
        FiskTable { fisk, q }
    }

    /// The distribution.
    pub fn fisk(&self) -> Fisk {
        self.fisk
    }

    /// The value at quantile `u` in (0, 1).
    #[inline]
    pub fn quantile(&self, u: f64) -> f64 {
        let x = u * Self::SLICES as f64;
        // `as` saturates: a NaN gives slice 0, computed exactly.
        let i = x as usize;
        if !(Self::FIRST..Self::LAST).contains(&i) {
            return self.fisk.quantile(u);
        }
        let (a, b) = (self.q[i], self.q[i + 1]);
        a + (b - a) * (x - i as f64)
    }
}

/// Distributions of the random events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomEvents {
    /// Probability of 0, 1, 2, 3… safety-car phases in a race.
    pub sc_count: Vec<f64>,
    /// Probability that a SC phase starts on lap 1, then in each fifth of the race.
    pub sc_start: [f64; 6],
    /// Probability of a SC lasting 1, 2, 3… laps.
    pub sc_laps: Vec<f64>,
    /// Probability that a failure brings out a VSC.
    pub vsc_after_failure: f64,
    /// Probability of a VSC lasting 1, 2, 3… laps.
    pub vsc_laps: Vec<f64>,
    /// Minimum distance in laps between two neutralisations.
    pub min_gap_laps: f64,
}

/// Events fixed in advance. When `fcy` or `retirements` is `Some`, the random ones of that kind are off.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FixedEvents {
    /// Neutralisations.
    pub fcy: Option<Vec<FcyPhase>>,
    /// Retirements: driver index and race progress (laps) at which the car stops.
    pub retirements: Option<Vec<Retirement>>,
}

/// A SC or VSC phase in race progress (leader laps, fractional).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FcyPhase {
    /// Start, in leader laps.
    pub start: f64,
    /// End, in leader laps.
    pub end: f64,
    /// SC or VSC.
    pub kind: FcyKind,
}

/// Kind of full-course yellow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FcyKind {
    /// Safety car: the field bunches up behind it.
    Sc,
    /// Virtual safety car: everyone slows by the same factor, gaps hold.
    Vsc,
}

/// A retirement fixed in advance.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Retirement {
    /// Index into [`RaceModel::drivers`].
    pub driver: usize,
    /// Race progress (laps) at which the car stops.
    pub at: f64,
}

impl RaceModel {
    /// The index of the driver with this code.
    pub fn driver(&self, code: &str) -> Option<usize> {
        self.drivers.iter().position(|d| d.code == code)
    }
}
