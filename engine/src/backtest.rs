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

use serde::{Deserialize, Serialize};

use crate::race::RealRace;
use crate::twin::laps::{CarLaps, is_clean};
use crate::twin::{TwinParams, Twins};
use crate::wire::RaceState;

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
}

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
    result
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
                let Some(base) = laps.laps[..=i].iter().rev().find(|x| is_clean(x)) else {
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
    for stop in race.pit_stops() {
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
    }
}
