//! Lap-time models: each car's fuel- and tyre-corrected pace on its current set, the field's degradation per
//! compound, and predictions of the next laps.
//!
//! A lap time is modelled as `base + deg × tyre_age + sensitivity × fuel_kg + noise`. Fuel is measured where the
//! source gives it and modelled otherwise ([`FuelModel`]). Within a stint, the car's own clean laps fix `base` and
//! `deg` by weighted least squares (recent laps weigh more, traffic laps are rejected as outliers), with `deg`
//! shrunk towards the field's pooled slope for that compound, which is what a handful of noisy laps cannot pin
//! down alone. A stint with no clean lap yet takes the car's previous pace plus the field's compound offset.

use serde::{Deserialize, Serialize};

use crate::sorting::{sort_by, sort_by_key};
use crate::twin::laps::{CarLaps, FuelModel};
use crate::wire::{CarState, Compound};

/// Tuning of the lap-time models.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaceParams {
    /// Weight of a lap `k` laps older than the newest, `recency^k`.
    pub recency: f64,
    /// Strength of the field's slope as a prior on a car's own, in lap² (equivalent spread of ages).
    pub slope_prior_strength: f64,
    /// Slope assumed for a compound before the field has shown one, in s/lap.
    pub default_deg_s_per_lap: f64,
    /// Residuals beyond this many robust σ are traffic or errors and are left out.
    pub outlier_sigmas: f64,
    /// Floor on a lap's noise, in seconds.
    pub min_sigma_s: f64,
}

impl PaceParams {
    /// Values tuned on the shared real races (see `BENCHMARKS.md`, "Model fidelity").
    pub const DEFAULT: PaceParams = PaceParams {
        recency: 0.9,
        slope_prior_strength: 500.0,
        default_deg_s_per_lap: 0.05,
        outlier_sigmas: 2.5,
        min_sigma_s: 0.15,
    };
}

/// What the field has shown about each compound this session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompoundPace {
    /// The compound.
    pub compound: Compound,
    /// Fuel-corrected degradation pooled over every stint on it, in s per lap of tyre age.
    pub deg_s_per_lap: f64,
    /// Fuel-corrected pace of a fresh set relative to the field's softest compound seen, in seconds.
    pub offset_s: f64,
    /// Stints it was learned from.
    pub stints: u32,
    /// Clean laps it was learned from.
    pub laps: u32,
}

/// The field's lap-time knowledge: per-compound degradation and offsets, the fuel model, and the lap noise.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldPace {
    /// Per compound seen (dry and wet), softest first.
    pub compounds: Vec<CompoundPace>,
    /// How fuel is known and what it costs.
    pub fuel: FuelModel,
    /// Pooled lap-to-lap noise after the stint trends, in seconds.
    pub sigma_s: f64,
}

/// A car's pace on its current set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaceModel {
    /// Compound of the set.
    pub compound: Compound,
    /// Lap time on this set at age 0 with an empty tank, in seconds: the fuel- and tyre-corrected pace.
    pub base_s: f64,
    /// Degradation, in s per lap of tyre age.
    pub deg_s_per_lap: f64,
    /// Lap-to-lap noise around the model, in seconds.
    pub sigma_s: f64,
    /// Clean laps of this stint behind it (0: carried over from the previous stint or the field).
    pub laps: u32,
}

impl PaceModel {
    /// Predicted lap time at `tyre_age_laps` (age at the end of the lap) with `fuel_kg` on board.
    pub fn lap_time_s(&self, tyre_age_laps: f64, fuel_kg: f64, fuel: &FuelModel) -> f64 {
        self.base_s + self.deg_s_per_lap * tyre_age_laps + fuel.effect_s(fuel_kg)
    }
}

/// A weighted line fit `y = a + b x` with a prior on `b`.
#[derive(Clone, Copy, Debug, Default)]
struct Fit {
    sw: f64,
    swx: f64,
    swy: f64,
    swxx: f64,
    swxy: f64,
}

impl Fit {
    fn add(&mut self, x: f64, y: f64, w: f64) {
        self.sw += w;
        self.swx += w * x;
        self.swy += w * y;
        self.swxx += w * x * x;
        self.swxy += w * x * y;
    }

    /// `(a, b)` with the slope shrunk towards `prior` with `strength` (in units of `Σw(x − x̄)²`).
    fn solve(&self, prior: f64, strength: f64) -> Option<(f64, f64)> {
        if self.sw <= 0.0 {
            return None;
        }
        let mx = self.swx / self.sw;
        let my = self.swy / self.sw;
        let sxx = self.swxx - self.sw * mx * mx;
        let sxy = self.swxy - self.sw * mx * my;
        let b = (sxy + strength * prior) / (sxx.max(0.0) + strength);
        Some((my - b * mx, b))
    }

    /// Centred sums `(Sxx, Sxy)`, for pooling slopes across stints.
    fn centred(&self) -> (f64, f64) {
        if self.sw <= 0.0 {
            return (0.0, 0.0);
        }
        let mx = self.swx / self.sw;
        let my = self.swy / self.sw;
        (
            (self.swxx - self.sw * mx * mx).max(0.0),
            self.swxy - self.sw * mx * my,
        )
    }
}

/// One clean lap as the pace models see it: tyre age and fuel-corrected time.
#[derive(Clone, Copy, Debug)]
struct Point {
    lap: u32,
    age: f64,
    corrected_s: f64,
}

fn stint_points(car: &CarLaps<'_>, stint: usize, fuel: &FuelModel) -> Vec<Point> {
    car.clean_in_stint(stint)
        .map(|i| {
            let r = car.laps[i];
            Point {
                lap: r.lap,
                age: f64::from(r.tyre_age_laps),
                corrected_s: r.lap_time_s - fuel.effect_s(fuel.fuel_at_end_of(r)),
            }
        })
        .collect()
}

/// Median of `xs` (sorted in place); `None` when empty.
pub(crate) fn median(xs: &mut [f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    sort_by(xs, f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        0.5 * (xs[n / 2 - 1] + xs[n / 2])
    })
}

/// Robust σ of residuals: 1.4826 × the median absolute deviation.
pub(crate) fn robust_sigma(residuals: &[f64]) -> Option<f64> {
    let mut r: Vec<f64> = residuals.to_vec();
    let m = median(&mut r)?;
    let mut dev: Vec<f64> = r.iter().map(|x| (x - m).abs()).collect();
    median(&mut dev).map(|mad| 1.4826 * mad)
}

/// Fits a stint: recency-weighted, slope shrunk to `prior`, one pass of outlier rejection. Returns the model's
/// `(base, deg, sigma, laps used)`.
fn fit_stint(points: &[Point], prior: f64, params: &PaceParams) -> Option<(f64, f64, f64, u32)> {
    let newest = points.iter().map(|p| p.lap).max()?;
    let weight = |p: &Point| libm::pow(params.recency, f64::from(newest - p.lap));
    let fit_of = |keep: &dyn Fn(&Point) -> bool| {
        let mut fit = Fit::default();
        for p in points.iter().filter(|p| keep(p)) {
            fit.add(p.age, p.corrected_s, weight(p));
        }
        fit
    };
    let (a, b) = fit_of(&|_| true).solve(prior, params.slope_prior_strength)?;
    let residuals: Vec<f64> = points
        .iter()
        .map(|p| p.corrected_s - a - b * p.age)
        .collect();
    let sigma = robust_sigma(&residuals)
        .unwrap_or(params.min_sigma_s)
        .max(params.min_sigma_s);
    let limit = params.outlier_sigmas * sigma;
    let keep = |p: &Point| (p.corrected_s - a - b * p.age).abs() <= limit;
    let kept = points.iter().filter(|p| keep(p)).count() as u32;
    let (a, b) = fit_of(&keep).solve(prior, params.slope_prior_strength)?;
    Some((a, b, sigma, kept))
}

impl FieldPace {
    /// Learns the field's compound slopes and offsets from every car's clean laps.
    pub fn learn(cars: &[(&CarState, CarLaps<'_>)], fuel: FuelModel, params: &PaceParams) -> Self {
        // Per compound: pooled centred sums over stints (each stint keeps its own level).
        let mut pooled: Vec<(Compound, f64, f64, u32, u32)> = Vec::new();
        let mut residual_sigmas: Vec<f64> = Vec::new();
        for (car, laps) in cars {
            for (k, stint) in car.stints.iter().enumerate() {
                let points = stint_points(laps, k, &fuel);
                if points.len() < 3 {
                    continue;
                }
                let mut fit = Fit::default();
                for p in &points {
                    fit.add(p.age, p.corrected_s, 1.0);
                }
                let (sxx, sxy) = fit.centred();
                let slot = match pooled.iter().position(|e| e.0 == stint.compound) {
                    Some(i) => i,
                    None => {
                        pooled.push((stint.compound, 0.0, 0.0, 0, 0));
                        pooled.len() - 1
                    }
                };
                pooled[slot].1 += sxx;
                pooled[slot].2 += sxy;
                pooled[slot].3 += 1;
                pooled[slot].4 += points.len() as u32;
                if let Some((a, b)) = fit.solve(params.default_deg_s_per_lap, 0.0) {
                    let r: Vec<f64> = points
                        .iter()
                        .map(|p| p.corrected_s - a - b * p.age)
                        .collect();
                    if let Some(s) = robust_sigma(&r) {
                        residual_sigmas.push(s);
                    }
                }
            }
        }
        sort_by_key(&mut pooled, |e| e.0);
        let mut compounds: Vec<CompoundPace> = pooled
            .iter()
            .map(|&(compound, sxx, sxy, stints, laps)| CompoundPace {
                compound,
                deg_s_per_lap: (sxy + params.slope_prior_strength * params.default_deg_s_per_lap)
                    / (sxx + params.slope_prior_strength),
                offset_s: 0.0,
                stints,
                laps,
            })
            .collect();
        // Offsets: for cars that ran two compounds, the difference of their fitted bases.
        let mut diffs: Vec<(Compound, Compound, f64)> = Vec::new();
        for (car, laps) in cars {
            let mut bases: Vec<(Compound, f64)> = Vec::new();
            for (k, stint) in car.stints.iter().enumerate() {
                let deg = compounds
                    .iter()
                    .find(|c| c.compound == stint.compound)
                    .map_or(params.default_deg_s_per_lap, |c| c.deg_s_per_lap);
                let points = stint_points(laps, k, &fuel);
                if points.len() < 3 {
                    continue;
                }
                let mut base: Vec<f64> =
                    points.iter().map(|p| p.corrected_s - deg * p.age).collect();
                if let Some(m) = median(&mut base) {
                    bases.push((stint.compound, m));
                }
            }
            for (i, a) in bases.iter().enumerate() {
                for b in &bases[i + 1..] {
                    if a.0 != b.0 {
                        diffs.push((a.0, b.0, b.1 - a.1));
                    }
                }
            }
        }
        if let Some(reference) = compounds.first().map(|c| c.compound) {
            for c in compounds.iter_mut().skip(1) {
                let mut d: Vec<f64> = diffs
                    .iter()
                    .filter_map(|&(x, y, v)| {
                        if x == reference && y == c.compound {
                            Some(v)
                        } else if y == reference && x == c.compound {
                            Some(-v)
                        } else {
                            None
                        }
                    })
                    .collect();
                c.offset_s = median(&mut d).unwrap_or_else(|| {
                    crate::calibration::compound_params(c.compound).offset_s
                        - crate::calibration::compound_params(reference).offset_s
                });
            }
        }
        let sigma_s = median(&mut residual_sigmas)
            .unwrap_or(0.5)
            .max(params.min_sigma_s);
        FieldPace {
            compounds,
            fuel,
            sigma_s,
        }
    }

    /// The field's slope for `compound`, or the default.
    pub fn deg(&self, compound: Compound, params: &PaceParams) -> f64 {
        self.compound(compound)
            .map_or(params.default_deg_s_per_lap, |c| c.deg_s_per_lap)
    }

    /// What the field knows of `compound`.
    pub fn compound(&self, compound: Compound) -> Option<&CompoundPace> {
        self.compounds.iter().find(|c| c.compound == compound)
    }

    /// Offset of a fresh `to` set against a fresh `from` set, in seconds (the calibration's gap when the field has
    /// not run both).
    pub fn offset(&self, from: Compound, to: Compound) -> f64 {
        match (self.compound(from), self.compound(to)) {
            (Some(a), Some(b)) if a.stints > 0 && b.stints > 0 => b.offset_s - a.offset_s,
            _ => {
                crate::calibration::compound_params(to).offset_s
                    - crate::calibration::compound_params(from).offset_s
            }
        }
    }
}

/// The pace of `car` on its current set, or `None` before it has run a clean lap.
pub fn pace_model(
    car: &CarState,
    laps: &CarLaps<'_>,
    field: &FieldPace,
    params: &PaceParams,
) -> Option<PaceModel> {
    let current = car.stints.len().saturating_sub(1);
    let compound = car.tyres.compound;
    let prior = field.deg(compound, params);
    let points = stint_points(laps, current, &field.fuel);
    if let Some((base, deg, sigma, used)) = fit_stint(&points, prior, params) {
        return Some(PaceModel {
            compound,
            base_s: base,
            deg_s_per_lap: deg,
            sigma_s: sigma.max(field.sigma_s.min(sigma * 2.0)),
            laps: used,
        });
    }
    // No clean lap on this set yet: the newest earlier stint with one, moved by the compound offset.
    (0..current).rev().find_map(|k| {
        let previous = car.stints.get(k)?;
        let points = stint_points(laps, k, &field.fuel);
        let (base, _, sigma, _) = fit_stint(&points, field.deg(previous.compound, params), params)?;
        Some(PaceModel {
            compound,
            base_s: base + field.offset(previous.compound, compound),
            deg_s_per_lap: prior,
            sigma_s: sigma.max(field.sigma_s),
            laps: 0,
        })
    })
}

/// Predicted times of the next `n` laps of `car` on its current set (no stop assumed), from the end of its last
/// completed lap.
pub fn predict_laps(car: &CarState, model: &PaceModel, field: &FieldPace, n: u32) -> Vec<f64> {
    let completed = car.lap.saturating_sub(1);
    let age = car.tyres.age_laps;
    (1..=n)
        .map(|k| {
            let lap = completed + k;
            let fuel_kg = if field.fuel.measures(car.car_idx) {
                // Measured fuel now, burned evenly over the laps to go (a car carries fuel for the distance: a
                // 14-lap race starts with far less than the 110 kg a full race does).
                let to_go = field.fuel.total_laps.saturating_sub(completed).max(1);
                let burn = car.fuel_kg / f64::from(to_go);
                (car.fuel_kg - burn * f64::from(k)).max(0.0)
            } else {
                field.fuel.modelled_kg(lap)
            };
            model.lap_time_s(f64::from(age.saturating_add(k)), fuel_kg, &field.fuel)
        })
        .collect()
}

/// Fuel-corrected degradation of stint `stint` of a car and the clean laps behind it (its own slope, shrunk
/// towards the field's like every fit), or `None` with fewer than three clean laps.
pub fn stint_slope(
    laps: &CarLaps<'_>,
    stint: usize,
    field: &FieldPace,
    params: &PaceParams,
) -> Option<(f64, u32)> {
    let fit = stint_degradation(laps, stint, field, params)?.fit?;
    Some((fit.deg_s_per_lap, fit.laps))
}

/// One stint's clean laps as the degradation chart shows them, with the line the pace models fit through them.
#[derive(Clone, Debug, PartialEq)]
pub struct StintDegradation {
    /// The compound of the stint.
    pub compound: Compound,
    /// `(tyre age at the end of the lap, fuel-corrected lap time in s)` of every clean lap, oldest first.
    pub points: Vec<(u32, f64)>,
    /// The fit, with three clean laps or more.
    pub fit: Option<StintFit>,
}

/// A stint's lap-time line: `base_s + deg_s_per_lap × tyre age`, fuel-corrected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StintFit {
    /// Fuel-corrected lap time at tyre age 0, in seconds.
    pub base_s: f64,
    /// Degradation, in s per lap of tyre age.
    pub deg_s_per_lap: f64,
    /// Clean laps the fit kept (outliers left out).
    pub laps: u32,
}

/// The clean laps of stint `stint` of a car and their fit (the fit [`stint_slope`] and the pace models use: own
/// slope shrunk towards the field's, traffic laps rejected); `None` when the stint has no clean lap.
pub fn stint_degradation(
    laps: &CarLaps<'_>,
    stint: usize,
    field: &FieldPace,
    params: &PaceParams,
) -> Option<StintDegradation> {
    let compound = laps.laps.get(laps.clean_in_stint(stint).next()?)?.compound;
    let points = stint_points(laps, stint, &field.fuel);
    let fit = if points.len() < 3 {
        None
    } else {
        fit_stint(&points, field.deg(compound, params), params).map(|(base, deg, _, used)| {
            StintFit {
                base_s: base,
                deg_s_per_lap: deg,
                laps: used,
            }
        })
    };
    Some(StintDegradation {
        compound,
        points: points
            .iter()
            .map(|p| (p.age as u32, p.corrected_s))
            .collect(),
        fit,
    })
}
