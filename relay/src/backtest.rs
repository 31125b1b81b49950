//! `boxbox backtest RACE_DIR...`: the twins replayed through real races as if live and scored against what
//! happened next, the strategy Monte Carlo's final order from half distance, and each finisher's strategy against
//! the model's best in hindsight (`boxbox_engine::backtest`), one race per folder of `shared/data/races`.
//!
//! Prints a row per race as it finishes (a table, or a JSON object per line with `--json`), then the pooled
//! summary. A folder that does not load is reported on `err`, naming the folder and the file, and the others still
//! run; the caller turns "any failed" into the exit code.

use std::io::Write;
use std::path::Path;

use boxbox_engine::backtest::{
    BacktestSummary, DriverStrategy, FINAL_ORDER_SEED, RaceBacktest, backtest, strategy_review,
    summarize,
};
use boxbox_engine::twin::TwinParams;

use crate::source::race;

/// The outcome of a backtest run.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// One result per race folder that loaded, in the order given.
    pub races: Vec<RaceBacktest>,
    /// The races pooled.
    pub summary: BacktestSummary,
    /// How many folders failed to load.
    pub failed: usize,
}

/// Backtests the twins ([`TwinParams::PIT_WALL`]) on every race folder in `dirs`, reviewing the strategies with
/// `strategy_runs` Monte Carlo runs per plan (0: not reviewed), writing results to `out` and load errors to `err`.
///
/// # Errors
/// Only when writing to `out` or `err` fails; a race that does not load is counted in [`Outcome::failed`].
pub fn run(
    dirs: &[impl AsRef<Path>],
    json: bool,
    strategy_runs: u32,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<Outcome> {
    let mut races = Vec::with_capacity(dirs.len());
    let mut failed = 0;
    if !json {
        writeln!(out, "{}", header())?;
    }
    for dir in dirs {
        let dir = dir.as_ref();
        let real = match race::load(dir) {
            Ok(real) => real,
            Err(e) => {
                writeln!(err, "boxbox backtest: {e:#}")?;
                failed += 1;
                continue;
            }
        };
        let mut result = backtest(&race_name(dir), &real, &TwinParams::PIT_WALL);
        if strategy_runs > 0 {
            match strategy_review(&real, strategy_runs, FINAL_ORDER_SEED) {
                Ok(strategies) => result.strategies = strategies,
                Err(e) => writeln!(err, "boxbox backtest: {}: strategies: {e}", dir.display())?,
            }
        }
        if json {
            serde_json::to_writer(&mut *out, &result)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", row(&result))?;
            for s in &result.strategies {
                if let Some(line) = strategy_line(s) {
                    writeln!(out, "{line}")?;
                }
            }
        }
        out.flush()?;
        races.push(result);
    }
    let summary = summarize(&races);
    if json {
        // Through a struct, not `json!`, so the fields keep their order.
        #[derive(serde::Serialize)]
        struct Line<'a> {
            summary: &'a BacktestSummary,
        }
        serde_json::to_writer(&mut *out, &Line { summary: &summary })?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", summary_line(&summary))?;
        if let Some(gain) = summary.strategy_gain_places {
            writeln!(
                out,
                "strategies: {} finishers reviewed, the model's best expected to gain {gain:.2} places on average",
                summary.strategies_reviewed
            )?;
        }
    }
    out.flush()?;
    Ok(Outcome {
        races,
        summary,
        failed,
    })
}

/// A race's name: its folder's name (`2019_07_canada`), or the path as given when it has none (`.`).
fn race_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

const NAME_WIDTH: usize = 24;

/// A reviewed driver's line under the race's row: `  HAM  M-27-H  P3.21  best M-30-H  P2.98  +0.23 pl  +0.6 pts`.
fn strategy_line(s: &DriverStrategy) -> Option<String> {
    let r = s.review.as_ref()?;
    Some(format!(
        "  {:<4} {:<16} P{:<6.2} best {:<16} P{:<6.2} {:+.2} pl {:+.1} pts",
        s.code,
        s.real,
        r.real_mean_position,
        r.best,
        r.best_mean_position,
        r.expected_gain_places,
        r.expected_gain_points
    ))
}

fn header() -> String {
    format!(
        "{:<NAME_WIDTH$} {:>11} {:>10} {:>10} {:>12} {:>9} {:>10} {:>10} {:>10}",
        "race",
        "laps scored",
        "RMSE twin",
        "RMSE base",
        "improvement",
        "pit calls",
        "within ±1",
        "order MC",
        "order base"
    )
}

fn row(r: &RaceBacktest) -> String {
    cells(&Cells {
        name: &r.race,
        scored: r.laptime_predictions,
        rmse: r.laptime_rmse_s,
        baseline: r.laptime_rmse_baseline_s,
        improvement_pct: r.laptime_improvement_pct,
        pit_calls: r.pit_calls,
        within_1: r.pit_lap_within_1,
        order_mae: [r.final_order_mae, r.final_order_mae_baseline],
    })
}

fn summary_line(s: &BacktestSummary) -> String {
    let name = format!(
        "all {} race{}",
        s.races,
        if s.races == 1 { "" } else { "s" }
    );
    cells(&Cells {
        name: &name,
        scored: s.laptime_predictions,
        rmse: s.laptime_rmse_s,
        baseline: s.laptime_rmse_baseline_s,
        improvement_pct: s.laptime_improvement_pct,
        pit_calls: s.pit_calls,
        within_1: s.pit_lap_within_1,
        order_mae: [s.final_order_mae, s.final_order_mae_baseline],
    })
}

/// One line of the table.
struct Cells<'a> {
    name: &'a str,
    scored: u32,
    rmse: f64,
    baseline: f64,
    improvement_pct: f64,
    pit_calls: u32,
    within_1: f64,
    /// Final-order MAE of the Monte Carlo and of the frozen order, in places.
    order_mae: [Option<f64>; 2],
}

fn cells(c: &Cells<'_>) -> String {
    let places = |x: Option<f64>| x.map_or_else(|| "–".to_owned(), |x| format!("{x:.2} pl"));
    format!(
        "{:<NAME_WIDTH$} {:>11} {:>10} {:>10} {:>12} {:>9} {:>10} {:>10} {:>10}",
        c.name,
        c.scored,
        format!("{:.3} s", c.rmse),
        format!("{:.3} s", c.baseline),
        format!("{:+.1} %", c.improvement_pct),
        c.pit_calls,
        format!("{:.1} %", 100.0 * c.within_1),
        places(c.order_mae[0]),
        places(c.order_mae[1]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_columns_line_up() {
        assert_eq!(
            race_name(Path::new("../shared/data/races/2019_07_canada/")),
            "2019_07_canada"
        );
        assert_eq!(race_name(Path::new("..")), "..");
        let summary = summarize(&[]);
        let line = summary_line(&summary);
        assert!(line.starts_with("all 0 races"), "{line}");
        assert_eq!(
            line.chars().count(),
            header().chars().count(),
            "{line}\n{}",
            header()
        );
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_it_and_the_summary_still_prints() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let outcome = run(
            &["/nonexistent/1950_01_silverstone"],
            true,
            0,
            &mut out,
            &mut err,
        )
        .unwrap();
        assert_eq!(outcome.failed, 1);
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("1950_01_silverstone"), "{err}");
        let out = String::from_utf8(out).unwrap();
        let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(summary["summary"]["races"], 0);
    }
}
