//! The twins' backtest: a real race replayed state by state through [`Twins`] as if live, its predictions scored
//! against what happened next.
//!
//! Protocol (also in `README.md`):
//! - **Lap times.** At the end of each lap of each car, the Field Twin predicts the car's next
//!   [`TwinParams::predict_laps`] lap times on its current set. A target lap is scored when it is a clean green-flag
//!   lap ([`crate::twin::laps::is_clean`]: green only, not lap 1, not an in- or out-lap) of the same stint as the
//!   lap the prediction was made at, and the car has a clean lap at or before that lap for the baseline. The
//!   baseline predicts that the car's last clean lap repeats. `laptime_rmse_s` and `laptime_rmse_baseline_s` are
//!   the RMSEs over the same scored laps.
//! - **Pit laps.** For each real stop with in-lap `P` (f1db), except stops in the last 3 laps and stops before lap
//!   4 (no end of lap `P − 3` to predict from), the twin's predicted next in-lap for that car as of the end of lap
//!   `P − 3` is scored: a hit when within ±1 lap; no prediction (the twin expected no further stop) is a miss.
//!   `pit_calls` is how many stops were scored.
//! - **Final order.** At the end of half distance (leader lap `total_laps / 2`, `L`), a race model calibrated from
//!   laps `..=L` only ([`calibrate::from_real_race_until`]) is started from the real state at `L`
//!   ([`calibrate::start_at`]) and run [`FINAL_ORDER_RUNS`] times with random SCs, VSCs and retirements
//!   ([`FINAL_ORDER_SEED`]). The future is not given to it: each car's remaining plan is the rival rule
//!   ([`calibrate::rival_stop`]: no stop, or one to a harder compound when it has not yet run two dry compounds).
//!   The cars scored are those running at `L` that took the flag (later retirements and disqualifications are
//!   left out of both orders); the predicted order ranks them by mean simulated position, the real one by f1db's
//!   classification among them. `final_order_mae` is the mean absolute rank error; `final_order_mae_baseline` is
//!   the same for the order at `L` frozen to the flag. [`final_order_prediction`] gives the same run car by car
//!   (each car's distribution and both ranks), for reports.
//! - **Strategies.** [`RaceBacktest::strategies`] lists the strategy each driver drove. [`strategy_review`] (run by
//!   `boxbox backtest` unless `--strategy-runs 0`) adds, per finisher, the model's best strategy in hindsight
//!   (the whole race calibrated, its real neutralisations and retirements, the rivals on their real plans) and the
//!   places and points it was expected to gain.

use serde::{Deserialize, Serialize};

use crate::race::RealRace;
use crate::strategy::calibrate;
use crate::strategy::lapsim::Prepared;
use crate::strategy::model::Plan;
use crate::strategy::monte_carlo::{self, McConfig};
use crate::strategy::search::{self, SearchConfig};
use crate::twin::laps::{CarLaps, is_clean};
use crate::twin::{TwinParams, Twins};
use crate::wire::{Compound, RaceState};

/// The backtest of one race.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaceBacktest {
    /// The race's folder name or title.
    pub race: String,
    /// Race distance, in laps.
    pub laps: u32,
    /// Target laps scored (one per prediction horizon per lap).
    pub laptime_predictions: u32,
    /// RMSE of the twin's next-lap predictions, in seconds.
    pub laptime_rmse_s: f64,
    /// RMSE of "the last clean lap repeats" on the same laps, in seconds.
    pub laptime_rmse_baseline_s: f64,
    /// How much lower the twin's RMSE is than the baseline's, in percent.
    pub laptime_improvement_pct: f64,
    /// RMSE per horizon (1 to 5 laps ahead), twin then baseline, in seconds.
    pub laptime_rmse_by_horizon_s: Vec<[f64; 2]>,
    /// Real stops scored.
    pub pit_calls: u32,
    /// Of those, predicted within ±1 lap.
    pub pit_hits: u32,
    /// `pit_hits / pit_calls`.
    pub pit_lap_within_1: f64,
    /// Stops for which the twin expected no further stop at `P − 3`.
    pub pit_unpredicted: u32,
    /// Mean absolute error of the predicted in-lap over the stops that had a prediction, in laps.
    pub pit_lap_mae: f64,
    /// Consistency warnings the twins raised on the race's states.
    pub consistency_warnings: u64,
    /// Mean absolute error of the Monte Carlo's finishing ranks from half distance, in places (`None` when the
    /// race could not be simulated from there).
    #[serde(default)]
    pub final_order_mae: Option<f64>,
    /// The same for the order at half distance frozen to the flag, in places.
    #[serde(default)]
    pub final_order_mae_baseline: Option<f64>,
    /// Per driver, in grid order: the strategy driven.
    #[serde(default)]
    pub strategies: Vec<DriverStrategy>,
    /// Sum of squared errors, for pooling races.
    #[serde(skip)]
    sq_twin: f64,
    #[serde(skip)]
    sq_base: f64,
}

/// The backtest over several races.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktestSummary {
    /// Races run.
    pub races: u32,
    /// Target laps scored over all races.
    pub laptime_predictions: u32,
    /// RMSE of the twin's predictions over every scored lap of every race, in seconds.
    pub laptime_rmse_s: f64,
    /// The baseline's RMSE on the same laps, in seconds.
    pub laptime_rmse_baseline_s: f64,
    /// How much lower the twin's RMSE is, in percent.
    pub laptime_improvement_pct: f64,
    /// Real stops scored over all races.
    pub pit_calls: u32,
    /// Share of them predicted within ±1 lap.
    pub pit_lap_within_1: f64,
    /// Mean over the races that have one of [`RaceBacktest::final_order_mae`], in places.
    #[serde(default)]
    pub final_order_mae: Option<f64>,
    /// Mean over the same races of [`RaceBacktest::final_order_mae_baseline`], in places.
    #[serde(default)]
    pub final_order_mae_baseline: Option<f64>,
    /// Drivers whose strategy was reviewed ([`strategy_review`]).
    #[serde(default)]
    pub strategies_reviewed: u32,
    /// Mean over them of [`StrategyReview::expected_gain_places`] (`None` when none was reviewed).
    #[serde(default)]
    pub strategy_gain_places: Option<f64>,
}

/// One driver's strategy in a backtest: the one driven and, after [`strategy_review`], the model's best.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriverStrategy {
    /// Driver code.
    pub code: String,
    /// The strategy driven, as [`Plan::label`] writes it (`M-27-H`).
    pub real: String,
    /// The model's verdict on it, when reviewed (finishers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<StrategyReview>,
}

/// The real strategy against the model's best, in hindsight: the whole race calibrated from its own laps with
/// its real safety cars, VSCs and retirements, every rival on the plan it drove, no stint longer than the longest
/// the race saw on that compound plus a tenth ([`calibrate::longest_stints`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrategyReview {
    /// Expected finishing position with the real strategy.
    pub real_mean_position: f64,
    /// Expected points with it.
    pub real_expected_points: f64,
    /// The model's best strategy (by expected position), as a label.
    pub best: String,
    /// Its expected finishing position.
    pub best_mean_position: f64,
    /// Its expected points.
    pub best_expected_points: f64,
    /// Places the best strategy is expected to gain over the real one (0 when the real one is the best).
    pub expected_gain_places: f64,
    /// Points it is expected to gain (may be negative: the ranking is by position).
    pub expected_gain_points: f64,
}

/// Default Monte Carlo runs per plan of [`strategy_review`].
pub const STRATEGY_REVIEW_RUNS: u32 = 100;

/// Reviews every finisher's strategy against the model's best (see [`StrategyReview`]): a strategy search
/// (1–3 stops, every legal compound sequence) per driver with `runs_per_plan` runs per plan from `seed`, common
/// random numbers across plans. Drivers who did not take the flag are listed without a review.
///
/// # Errors
/// When the race cannot be calibrated ([`calibrate::CalibrateError`]); a driver whose search fails is listed
/// without a review.
pub fn strategy_review(
    race: &RealRace,
    runs_per_plan: u32,
    seed: u64,
) -> Result<Vec<DriverStrategy>, calibrate::CalibrateError> {
    let model = calibrate::from_real_race(race, None)?;
    let plans: Vec<Plan> = model.drivers.iter().map(|d| d.plan.clone()).collect();
    // No stint longer than the race showed each compound can do, plus a tenth: the degradation models have no
    // cliff, and the search would otherwise run a soft to the flag.
    let tyre_life: Vec<(Compound, u32)> = calibrate::longest_stints(race)
        .into_iter()
        .map(|(c, laps)| (c, laps + laps.div_ceil(10)))
        .collect();
    Ok(race
        .drivers()
        .iter()
        .zip(&plans)
        .enumerate()
        .map(|(i, (d, plan))| {
            let review = d
                .is_finisher()
                .then(|| {
                    let config = SearchConfig {
                        runs_per_plan,
                        max_stint_laps: tyre_life.clone(),
                        ..SearchConfig::for_car(i, seed)
                    };
                    search::search(&model, &plans, None, &config).ok()
                })
                .flatten()
                .and_then(|report| {
                    let (best, real) = (report.ranked.first()?, report.current?);
                    // The real plan competes too: when it is the best, the gain is zero.
                    let best = if real.mean_position <= best.mean_position {
                        &real
                    } else {
                        best
                    };
                    Some(StrategyReview {
                        real_mean_position: real.mean_position,
                        real_expected_points: real.expected_points,
                        best: best.label.clone(),
                        best_mean_position: best.mean_position,
                        best_expected_points: best.expected_points,
                        expected_gain_places: real.mean_position - best.mean_position,
                        expected_gain_points: best.expected_points - real.expected_points,
                    })
                });
            DriverStrategy {
                code: d.code.clone(),
                real: plan.label(),
                review,
            }
        })
        .collect())
}

/// Monte Carlo runs of the final-order prediction.
pub const FINAL_ORDER_RUNS: u32 = 500;
/// Seed of the final-order prediction: fixed, so the backtest is reproducible.
pub const FINAL_ORDER_SEED: u64 = 2019;

/// Per (car, lap): what the twin predicted at the end of that lap.
#[derive(Clone, Debug, Default)]
struct Made {
    laps_s: Vec<f64>,
    next_in_lap: Option<u32>,
}

/// Runs the twins through `race` as if live and scores them.
pub fn backtest(name: &str, race: &RealRace, params: &TwinParams) -> RaceBacktest {
    let states = race.states();
    let mut twins = Twins::new(params.clone());
    // made[car][lap]
    let mut made: Vec<Vec<Option<Made>>> = vec![Vec::new(); 256];
    for state in &states {
        let before = twins.records().len();
        twins.observe(state);
        let records = twins.records();
        if records.len() <= before {
            continue;
        }
        let completed: Vec<(u8, u32)> = records[before..]
            .iter()
            .map(|r| (r.car_idx, r.lap))
            .collect();
        let (_, field) = twins.field(state);
        for (car_idx, lap) in completed {
            let Some(rival) = field.rivals.iter().find(|r| r.car_idx == car_idx) else {
                continue;
            };
            let slot = &mut made[usize::from(car_idx)];
            let lap_i = lap as usize;
            if slot.len() <= lap_i {
                slot.resize(lap_i + 1, None);
            }
            slot[lap_i] = Some(Made {
                laps_s: rival.predicted_laps_s.clone(),
                next_in_lap: rival.next_pit.as_ref().map(|p| p.lap),
            });
        }
    }
    let last = states.last();
    let mut result = score(name, race, last, twins.records(), &made, params);
    result.consistency_warnings = twins.warnings_total();
    if let Some(order) = final_order(race) {
        result.final_order_mae = Some(order.mae);
        result.final_order_mae_baseline = Some(order.mae_baseline);
    }
    result.strategies = race
        .drivers()
        .iter()
        .zip(calibrate::real_plans(race))
        .map(|(d, plan)| DriverStrategy {
            code: d.code.clone(),
            real: plan.label(),
            review: None,
        })
        .collect();
    result
}

/// The final-order errors of one race.
#[derive(Clone, Copy, Debug)]
struct FinalOrder {
    mae: f64,
    mae_baseline: f64,
}

/// The Monte Carlo from half distance against the real classification (see the module docs); `None` when the
/// race cannot be calibrated or simulated from there, or no car is scored.
fn final_order(race: &RealRace) -> Option<FinalOrder> {
    let prediction = final_order_prediction(race, FINAL_ORDER_RUNS, FINAL_ORDER_SEED)?;
    Some(FinalOrder {
        mae: prediction.mae,
        mae_baseline: prediction.mae_baseline,
    })
}

/// The Monte Carlo's finishing order from half distance, car by car: what [`RaceBacktest::final_order_mae`]
/// scores (the protocol is in the module docs), with each car's distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalOrderPrediction {
    /// Leader laps completed when the simulation took over: `total_laps / 2`.
    pub from_lap: u32,
    /// Monte Carlo runs.
    pub runs: u32,
    /// Seed of the runs.
    pub seed: u64,
    /// The cars running at `from_lap`, in the running order there.
    pub cars: Vec<PredictedFinish>,
    /// Mean absolute rank error of the Monte Carlo's order over the scored cars, in places.
    pub mae: f64,
    /// The same for the order at `from_lap` frozen to the flag, in places.
    pub mae_baseline: f64,
}

/// One car running at half distance in a [`FinalOrderPrediction`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredictedFinish {
    /// The car ([`crate::race::RealDriver::car_idx`]).
    pub car_idx: u8,
    /// Driver code.
    pub code: String,
    /// Place in the running order at `from_lap`, 1-based.
    pub position_at_lap: u32,
    /// Mean simulated finishing position among the whole field (a DNF counts as last).
    pub mean_position: f64,
    /// `position_probability[p]`: the chance of finishing in position `p + 1` of the whole field.
    pub position_probability: Vec<f64>,
    /// Chance of not finishing.
    pub p_dnf: f64,
    /// Rank among the scored cars (running at `from_lap` and classified at the flag) by mean simulated
    /// position, 1-based; `None` for a car that is not scored.
    pub predicted_rank: Option<u32>,
    /// Rank among the scored cars in the real classification, 1-based; `None` for a car that is not scored.
    pub real_rank: Option<u32>,
}

/// Runs the final-order prediction of the module docs with `runs` races from `seed` (the backtest uses
/// [`FINAL_ORDER_RUNS`] and [`FINAL_ORDER_SEED`]). `None` when the race cannot be calibrated or simulated from
/// half distance, or no car running there took the flag.
pub fn final_order_prediction(
    race: &RealRace,
    runs: u32,
    seed: u64,
) -> Option<FinalOrderPrediction> {
    let lap = race.total_laps() / 2;
    let model = calibrate::from_real_race_until(race, None, Some(lap)).ok()?;
    let start = calibrate::start_at(race, &model, lap).ok()?;
    let frozen = start.running_order();
    let rejoined = calibrate::with_pending_out_laps(race, &model, start);
    let plans: Vec<Plan> = model.drivers.iter().map(|d| d.plan.clone()).collect();
    let prepared = Prepared::new(&model, &plans, Some(&rejoined)).ok()?;
    let config = McConfig {
        runs,
        seed,
        deterministic: false,
    };
    let report = monte_carlo::report(&model, &monte_carlo::run_all(&prepared, &config), &config);
    // Running at half distance, and took the flag.
    let scored: Vec<usize> = frozen
        .iter()
        .copied()
        .filter(|&i| {
            race.drivers()
                .get(i)
                .is_some_and(|d| d.retirement.is_none() && d.classification.position.is_some())
        })
        .collect();
    if scored.is_empty() {
        return None;
    }
    let mut real = scored.clone();
    real.sort_by_key(|&i| race.drivers()[i].classification.position);
    let mut predicted = scored.clone();
    // Stable: ties keep the order at half distance.
    predicted.sort_by(|&a, &b| {
        let mean = |i: usize| report.drivers.get(i).map_or(f64::MAX, |d| d.mean_position);
        mean(a).total_cmp(&mean(b))
    });
    let rank_in =
        |order: &[usize], car: usize| order.iter().position(|&c| c == car).map(|r| r as u32 + 1);
    let cars = frozen
        .iter()
        .enumerate()
        .map(|(place, &i)| {
            let outcome = report.drivers.get(i);
            PredictedFinish {
                car_idx: race.drivers().get(i).map_or(0, |d| d.car_idx),
                code: race
                    .drivers()
                    .get(i)
                    .map_or_else(String::new, |d| d.code.clone()),
                position_at_lap: place as u32 + 1,
                mean_position: outcome.map_or(f64::NAN, |d| d.mean_position),
                position_probability: outcome
                    .map_or_else(Vec::new, |d| d.position_probability.clone()),
                p_dnf: outcome.map_or(f64::NAN, |d| d.p_dnf),
                predicted_rank: rank_in(&predicted, i),
                real_rank: rank_in(&real, i),
            }
        })
        .collect();
    Some(FinalOrderPrediction {
        from_lap: lap,
        runs,
        seed,
        cars,
        mae: rank_mae(&predicted, &real),
        mae_baseline: rank_mae(&scored, &real),
    })
}

/// Mean absolute difference of each car's rank in `predicted` and in `real` (the same cars in two orders).
fn rank_mae(predicted: &[usize], real: &[usize]) -> f64 {
    if real.is_empty() {
        return 0.0;
    }
    let total: usize = predicted
        .iter()
        .enumerate()
        .map(|(rank, car)| {
            real.iter()
                .position(|c| c == car)
                .map_or(0, |r| r.abs_diff(rank))
        })
        .sum();
    total as f64 / real.len() as f64
}

fn score(
    name: &str,
    race: &RealRace,
    last: Option<&RaceState>,
    records: &[crate::wire::LapRecord],
    made: &[Vec<Option<Made>>],
    params: &TwinParams,
) -> RaceBacktest {
    let horizons = params.predict_laps as usize;
    let mut by_h = vec![(0.0, 0.0, 0u32); horizons];
    let (mut sq_twin, mut sq_base, mut n) = (0.0, 0.0, 0u32);
    if let Some(state) = last {
        for car in &state.cars {
            let laps = CarLaps::new(car, records);
            for (i, r) in laps.laps.iter().enumerate() {
                let Some(Some(m)) = made[usize::from(car.car_idx)].get(r.lap as usize) else {
                    continue;
                };
                // The baseline's lap is on the same set as the targets (a prediction made on an out-lap has no
                // baseline until the new set has a clean lap: the old set's last lap is no forecast of it).
                let Some(base) = (0..=i)
                    .rev()
                    .take_while(|&k| laps.stint[k] == laps.stint[i])
                    .map(|k| laps.laps[k])
                    .find(|x| is_clean(x))
                else {
                    continue;
                };
                for (h, predicted) in m.laps_s.iter().enumerate().take(horizons) {
                    let target_lap = r.lap + h as u32 + 1;
                    let Some(j) = laps.laps.iter().position(|x| x.lap == target_lap) else {
                        continue;
                    };
                    let target = laps.laps[j];
                    if !is_clean(target) || laps.stint[j] != laps.stint[i] {
                        continue;
                    }
                    let e_twin = predicted - target.lap_time_s;
                    let e_base = base.lap_time_s - target.lap_time_s;
                    sq_twin += e_twin * e_twin;
                    sq_base += e_base * e_base;
                    n += 1;
                    by_h[h].0 += e_twin * e_twin;
                    by_h[h].1 += e_base * e_base;
                    by_h[h].2 += 1;
                }
            }
        }
    }
    let total = race.total_laps();
    let (mut calls, mut hits, mut unpredicted, mut abs_err, mut predicted) = (0, 0, 0, 0.0, 0);
    // Calls are tyre stops: a penalty served in the pit lane is no strategy the twins could foresee.
    for stop in race.pit_stops().iter().filter(|s| s.tyres_changed) {
        let p = stop.lap;
        if p + 3 > total || p < 4 {
            continue;
        }
        calls += 1;
        let prediction = made[usize::from(stop.car_idx)]
            .get((p - 3) as usize)
            .and_then(|m| m.as_ref())
            .and_then(|m| m.next_in_lap);
        match prediction {
            Some(lap) => {
                predicted += 1;
                abs_err += (f64::from(lap) - f64::from(p)).abs();
                if lap.abs_diff(p) <= 1 {
                    hits += 1;
                }
            }
            None => unpredicted += 1,
        }
    }
    let rmse = |sq: f64, n: u32| {
        if n > 0 {
            (sq / f64::from(n)).sqrt()
        } else {
            0.0
        }
    };
    let (rt, rb) = (rmse(sq_twin, n), rmse(sq_base, n));
    RaceBacktest {
        race: name.to_owned(),
        laps: total,
        laptime_predictions: n,
        laptime_rmse_s: rt,
        laptime_rmse_baseline_s: rb,
        laptime_improvement_pct: improvement(rt, rb),
        laptime_rmse_by_horizon_s: by_h
            .iter()
            .map(|&(t, b, k)| [rmse(t, k), rmse(b, k)])
            .collect(),
        pit_calls: calls,
        pit_hits: hits,
        pit_lap_within_1: if calls > 0 {
            f64::from(hits) / f64::from(calls)
        } else {
            0.0
        },
        pit_unpredicted: unpredicted,
        pit_lap_mae: if predicted > 0 {
            abs_err / f64::from(predicted)
        } else {
            0.0
        },
        consistency_warnings: 0,
        final_order_mae: None,
        final_order_mae_baseline: None,
        strategies: Vec::new(),
        sq_twin,
        sq_base,
    }
}

fn improvement(twin: f64, baseline: f64) -> f64 {
    if baseline > 0.0 {
        100.0 * (1.0 - twin / baseline)
    } else {
        0.0
    }
}

/// Pools the races: RMSEs over every scored lap, the pit share over every scored stop.
pub fn summarize(results: &[RaceBacktest]) -> BacktestSummary {
    let n: u32 = results.iter().map(|r| r.laptime_predictions).sum();
    let sq_twin: f64 = results.iter().map(|r| r.sq_twin).sum();
    let sq_base: f64 = results.iter().map(|r| r.sq_base).sum();
    let rmse = |sq: f64| {
        if n > 0 {
            (sq / f64::from(n)).sqrt()
        } else {
            0.0
        }
    };
    let calls: u32 = results.iter().map(|r| r.pit_calls).sum();
    let hits: u32 = results.iter().map(|r| r.pit_hits).sum();
    let orders: Vec<(f64, f64)> = results
        .iter()
        .filter_map(|r| r.final_order_mae.zip(r.final_order_mae_baseline))
        .collect();
    let mean = |f: fn(&(f64, f64)) -> f64| {
        (!orders.is_empty()).then(|| orders.iter().map(f).sum::<f64>() / orders.len() as f64)
    };
    let gains: Vec<f64> = results
        .iter()
        .flat_map(|r| &r.strategies)
        .filter_map(|s| s.review.as_ref().map(|r| r.expected_gain_places))
        .collect();
    BacktestSummary {
        races: results.len() as u32,
        laptime_predictions: n,
        laptime_rmse_s: rmse(sq_twin),
        laptime_rmse_baseline_s: rmse(sq_base),
        laptime_improvement_pct: improvement(rmse(sq_twin), rmse(sq_base)),
        pit_calls: calls,
        pit_lap_within_1: if calls > 0 {
            f64::from(hits) / f64::from(calls)
        } else {
            0.0
        },
        final_order_mae: mean(|o| o.0),
        final_order_mae_baseline: mean(|o| o.1),
        strategies_reviewed: gains.len() as u32,
        strategy_gain_places: (!gains.is_empty())
            .then(|| gains.iter().sum::<f64>() / gains.len() as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rank_error_counts_places() {
        assert_eq!(rank_mae(&[0, 1, 2], &[0, 1, 2]), 0.0);
        // 2 ↔ 0 swapped: two cars off by two places, one right.
        assert!((rank_mae(&[2, 1, 0], &[0, 1, 2]) - 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(rank_mae(&[], &[]), 0.0);
    }
}
