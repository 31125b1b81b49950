//! `boxbox montecarlo` and `boxbox strategy`: the engine's Monte Carlo race simulator
//! (`boxbox_engine::strategy`) on a TUMFTM race parameter file, from the command line.
//!
//! `montecarlo` runs the whole field many times over OS threads and prints each driver's distribution;
//! `strategy` searches one driver's best plan against the others' plans from the file. Both print a readable table
//! or, with `--json`, one JSON object: the engine's report plus how long it took.
//!
//! The race is a TUMFTM file read as is, or a real race folder calibrated from its own laps
//! (`strategy::calibrate::from_real_race`) and started from the real state at the end of a lap
//! (`calibrate::start_at`), every driver on the strategy it really drove.
//!
//! Random events: a TUMFTM file fixes the real race's retirements (and sometimes its neutralisations), and a
//! calibrated race fixes all of them; fixed events switch the random ones of their kind off. A simulator of what
//! *could* happen wants them on, so the fixed events are cleared unless `real_events` is asked for; a
//! deterministic race always keeps them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use boxbox_engine::strategy::calibrate;
use boxbox_engine::strategy::lapsim::{Prepared, RaceStart};
use boxbox_engine::strategy::model::{FixedEvents, Plan, RaceModel};
use boxbox_engine::strategy::monte_carlo::{self, McConfig, McReport, Tally};
use boxbox_engine::strategy::search::{self, Objective, PlanResult, SearchConfig, SearchReport};
use boxbox_engine::strategy::tumftm::{self, McsPars};
use serde::Serialize;
use tokio::time::Instant;

/// Where the race comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum RaceSpec {
    /// A TUMFTM race parameter file (`tumftm_pars_<Track>_<season>.ini`) and its Monte Carlo parameter file.
    Params {
        /// The race's parameter file.
        params: PathBuf,
        /// The Monte Carlo parameter file; `None`: [`default_mcs_path`] of `params`.
        mcs: Option<PathBuf>,
    },
    /// A real race folder (as for `serve --race-dir`) calibrated from its laps and simulated from the end of lap
    /// `from_lap`.
    RealRace {
        /// The race folder.
        dir: PathBuf,
        /// Laps the leader has completed when the simulation takes over.
        from_lap: u32,
        /// The Monte Carlo parameter file (the crews' stop-time distributions, the season's SC statistics);
        /// `None`: `<dir>/../_common/tumftm_pars_mcs.ini` if it exists, else the calibration's defaults.
        mcs: Option<PathBuf>,
    },
}

/// A race ready to simulate.
#[derive(Clone, Debug)]
pub struct LoadedRace {
    /// The model.
    pub model: RaceModel,
    /// Every driver's plan, in the model's order.
    pub plans: Vec<Plan>,
    /// Where the simulation starts; `None`: the grid.
    pub start: Option<RaceStart>,
}

/// Settings of `boxbox montecarlo`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MonteCarloOptions {
    /// Races to run (one when deterministic).
    pub runs: u32,
    /// Seed of every random stream.
    pub seed: u64,
    /// OS threads to run the chunks on (at least one; never more than there are chunks).
    pub threads: usize,
    /// One race without randomness, with the file's real events.
    pub deterministic: bool,
}

/// What `boxbox montecarlo --json` prints: the engine's report and the run's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonteCarloRun {
    /// The per-driver distributions.
    #[serde(flatten)]
    pub report: McReport,
    /// Wall time of the simulation (not the file reading), seconds.
    pub elapsed_s: f64,
    /// Races (valid or not) per second of wall time.
    pub races_per_s: f64,
    /// Threads used.
    pub threads: usize,
    /// Track name, e.g. `Montreal`.
    pub track: String,
    /// Race distance in laps.
    pub total_laps: u32,
    /// Laps the leader had completed when the simulation took over (0: from the grid).
    pub from_lap: u32,
}

/// Settings of `boxbox strategy`.
#[derive(Clone, Debug, PartialEq)]
pub struct StrategyOptions {
    /// The driver's three-letter code (any case).
    pub driver: String,
    /// Monte Carlo runs per evaluated plan.
    pub runs_per_plan: u32,
    /// Races each pit-window lap is run on.
    pub window_runs: u32,
    /// Seed shared by every plan.
    pub seed: u64,
    /// Most stops a plan may have (1 to 3).
    pub max_stops: u32,
    /// Spacing of candidate in-laps.
    pub lap_step: u32,
    /// Rank by.
    pub objective: Objective,
}

/// What `boxbox strategy --json` prints: the engine's search report and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategyRun {
    /// The ranked plans, the window and the current plan.
    #[serde(flatten)]
    pub report: SearchReport,
    /// Wall time of the search, seconds.
    pub elapsed_s: f64,
    /// Laps the leader had completed when the search took over (0: from the grid).
    #[serde(skip)]
    pub completed_laps: u32,
    /// Track name.
    #[serde(skip)]
    pub track: String,
}

/// The Monte Carlo parameter file next to a race's: `<params' folder>/../_common/tumftm_pars_mcs.ini`, where
/// `shared/data/races` keeps it.
pub fn default_mcs_path(params: &Path) -> PathBuf {
    mcs_beside(params.parent().unwrap_or_else(|| Path::new(".")))
}

/// `<race folder>/../_common/tumftm_pars_mcs.ini`.
fn mcs_beside(race_dir: &Path) -> PathBuf {
    race_dir
        .join("..")
        .join("_common")
        .join("tumftm_pars_mcs.ini")
}

/// Reads the race. Unless `real_events`, the fixed retirements and neutralisations are cleared so the random
/// ones are drawn.
///
/// # Errors
/// A file that cannot be read or is not a valid TUMFTM file (the message names the file, section and key), a race
/// folder that does not load or cannot be calibrated, or a start lap outside the race.
pub fn load(spec: &RaceSpec, real_events: bool) -> anyhow::Result<LoadedRace> {
    let mut race = load_with_real_events(spec)?;
    if !real_events {
        race.model.fixed = FixedEvents::default();
    }
    Ok(race)
}

fn load_with_real_events(spec: &RaceSpec) -> anyhow::Result<LoadedRace> {
    match spec {
        RaceSpec::Params { params, mcs } => {
            let race_ini = std::fs::read_to_string(params).with_context(|| {
                format!("cannot read the race parameter file {}", params.display())
            })?;
            let mcs_ini = match mcs {
                Some(mcs) => std::fs::read_to_string(mcs).with_context(|| {
                    format!(
                        "cannot read the Monte Carlo parameter file {}",
                        mcs.display()
                    )
                })?,
                None => {
                    let path = default_mcs_path(params);
                    std::fs::read_to_string(&path).with_context(|| {
                        format!(
                            "no Monte Carlo parameter file given with --mcs, and none at the default \
                             (<race file's folder>/../_common/tumftm_pars_mcs.ini) {}",
                            path.display()
                        )
                    })?
                }
            };
            let model = tumftm::read(&race_ini, &mcs_ini)
                .with_context(|| format!("invalid TUMFTM parameters in {}", params.display()))?;
            let plans = model.drivers.iter().map(|d| d.plan.clone()).collect();
            Ok(LoadedRace {
                model,
                plans,
                start: None,
            })
        }
        RaceSpec::RealRace { dir, from_lap, mcs } => {
            let real = crate::source::race::load(dir)?;
            let mcs_path = match mcs {
                Some(path) => Some(path.clone()),
                None => Some(mcs_beside(dir)).filter(|p| p.is_file()),
            };
            let mcs = match &mcs_path {
                Some(path) => {
                    let text = std::fs::read_to_string(path).with_context(|| {
                        format!(
                            "cannot read the Monte Carlo parameter file {}",
                            path.display()
                        )
                    })?;
                    Some(McsPars::parse(&text).with_context(|| {
                        format!(
                            "invalid TUMFTM Monte Carlo parameters in {}",
                            path.display()
                        )
                    })?)
                }
                None => None,
            };
            let model = calibrate::from_real_race(&real, mcs.as_ref()).with_context(|| {
                format!(
                    "cannot calibrate a race model from the race in {}",
                    dir.display()
                )
            })?;
            let start = calibrate::start_at(&real, &model, *from_lap).with_context(|| {
                format!(
                    "cannot start from lap {from_lap} of the race in {}",
                    dir.display()
                )
            })?;
            let start = calibrate::with_pending_out_laps(&real, &model, start);
            let plans = model.drivers.iter().map(|d| d.plan.clone()).collect();
            Ok(LoadedRace {
                model,
                plans,
                start: Some(start),
            })
        }
    }
}

/// Runs the Monte Carlo of `race` over `options.threads` OS threads.
///
/// # Errors
/// If the model and plans cannot be simulated (no drivers, a plan without tyre data…) or a worker panicked.
pub fn monte_carlo(
    race: &LoadedRace,
    options: &MonteCarloOptions,
) -> anyhow::Result<MonteCarloRun> {
    let prepared = Prepared::new(&race.model, &race.plans, race.start.as_ref())
        .context("cannot simulate this race")?;
    let config = McConfig {
        runs: if options.deterministic {
            1
        } else {
            options.runs
        },
        seed: options.seed,
        deterministic: options.deterministic,
    };
    let started = Instant::now();
    let (tally, threads) = if options.deterministic {
        (monte_carlo::run_all(&prepared, &config), 1)
    } else {
        run_threads(&prepared, &config, options.threads)?
    };
    let elapsed_s = started.elapsed().as_secs_f64();
    let races = f64::from(tally.runs + tally.invalid_runs);
    Ok(MonteCarloRun {
        report: monte_carlo::report(&race.model, &tally, &config),
        elapsed_s,
        races_per_s: races / elapsed_s.max(f64::MIN_POSITIVE),
        threads,
        track: race.model.track.clone(),
        total_laps: race.model.total_laps,
        from_lap: race.start.as_ref().map_or(0, |s| s.completed_laps),
    })
}

/// Runs `config`'s chunks round-robin over up to `threads` scoped OS threads and merges their tallies; returns the
/// tally and the threads used. The engine's chunks each have their own random stream and tallies merge
/// commutatively, so the report is the same for any number of threads.
///
/// # Errors
/// If a worker panicked.
pub fn run_threads(
    prepared: &Prepared,
    config: &McConfig,
    threads: usize,
) -> anyhow::Result<(Tally, usize)> {
    let chunks = monte_carlo::chunks(config.runs);
    let threads = threads.clamp(1, chunks.len().max(1));
    let tallies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<(u64, u32)> =
                    chunks.iter().skip(t).step_by(threads).copied().collect();
                scope.spawn(move || {
                    let mut tally = Tally::new(prepared.drivers());
                    for (chunk, runs) in mine {
                        tally.merge(&monte_carlo::run_chunk(prepared, config.seed, chunk, runs));
                    }
                    tally
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join())
            .collect::<Result<Vec<Tally>, _>>()
    })
    .map_err(|_| anyhow::anyhow!("a Monte Carlo worker thread panicked"))?;
    let mut tally = Tally::new(prepared.drivers());
    for t in &tallies {
        tally.merge(t);
    }
    Ok((tally, threads))
}

/// Searches the best plan for `options.driver` against the others' plans.
///
/// # Errors
/// An unknown driver code (the message lists the race's), or a race that cannot be simulated.
pub fn strategy(race: &LoadedRace, options: &StrategyOptions) -> anyhow::Result<StrategyRun> {
    let code = options.driver.trim().to_ascii_uppercase();
    let Some(car) = race.model.driver(&code) else {
        let codes: Vec<&str> = race.model.drivers.iter().map(|d| d.code.as_str()).collect();
        anyhow::bail!(
            "no driver {code} in this race (drivers: {})",
            codes.join(", ")
        );
    };
    let config = SearchConfig {
        runs_per_plan: options.runs_per_plan,
        window_runs: options.window_runs,
        max_stops: options.max_stops,
        lap_step: options.lap_step,
        objective: options.objective,
        ..SearchConfig::for_car(car, options.seed)
    };
    let started = Instant::now();
    let report = search::search(&race.model, &race.plans, race.start.as_ref(), &config)
        .with_context(|| format!("cannot search a strategy for {code}"))?;
    let elapsed_s = started.elapsed().as_secs_f64();
    let completed_laps = race.start.as_ref().map_or(0, |s| s.completed_laps);
    Ok(StrategyRun {
        report,
        elapsed_s,
        completed_laps,
        track: race.model.track.clone(),
    })
}

/// Writes a Monte Carlo run: one JSON object, or a summary line and a table sorted by mean position.
///
/// # Errors
/// If writing fails.
pub fn write_monte_carlo(
    run: &MonteCarloRun,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, run)?;
        writeln!(out)?;
        return Ok(());
    }
    let r = &run.report;
    let race = if run.from_lap == 0 {
        format!("{}, {} laps", run.track, run.total_laps)
    } else {
        format!(
            "{}, laps {}–{}",
            run.track,
            run.from_lap + 1,
            run.total_laps
        )
    };
    if r.deterministic {
        writeln!(
            out,
            "{race}: one deterministic race (mean values, the real events) in {:.3} s",
            run.elapsed_s
        )?;
    } else {
        writeln!(
            out,
            "{race}: {} races (seed {}) in {:.3} s on {} thread{}, {:.0} races/s; SC in {:.1} % of races, \
             VSC in {:.1} %",
            r.runs,
            r.seed,
            run.elapsed_s,
            run.threads,
            if run.threads == 1 { "" } else { "s" },
            run.races_per_s,
            100.0 * r.sc_probability,
            100.0 * r.vsc_probability
        )?;
    }
    writeln!(
        out,
        "{:<6} {:<16} {:>8} {:>6} {:>8} {:>8} {:>6} {:>12} {:>25}",
        "driver",
        "team",
        "mean pos",
        "win %",
        "podium %",
        "points %",
        "DNF %",
        "race time",
        "5–95 % band"
    )?;
    let mut rows: Vec<_> = r.drivers.iter().collect();
    rows.sort_by(|a, b| {
        a.mean_position
            .total_cmp(&b.mean_position)
            .then_with(|| a.code.cmp(&b.code))
    });
    for d in rows {
        let band = match (d.race_time_p5_s, d.race_time_p95_s) {
            (Some(lo), Some(hi)) => format!("{} – {}", clock(lo), clock(hi)),
            _ => "–".to_owned(),
        };
        writeln!(
            out,
            "{:<6} {:<16} {:>8.2} {:>6.1} {:>8.1} {:>8.1} {:>6.1} {:>12} {:>25}",
            d.code,
            d.team,
            d.mean_position,
            100.0 * d.p_win,
            100.0 * d.p_podium,
            100.0 * d.p_points,
            100.0 * d.p_dnf,
            d.race_time_mean_s.map_or_else(|| "–".to_owned(), clock),
            band
        )?;
    }
    for w in &r.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}

/// Writes a strategy search: one JSON object, or the ranked plans, the pit window, the recommendation and the
/// current plan with the best plan's expected gain.
///
/// # Errors
/// If writing fails.
pub fn write_strategy(run: &StrategyRun, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, run)?;
        writeln!(out)?;
        return Ok(());
    }
    let r = &run.report;
    let by = match r.objective {
        Objective::Position => "expected position",
        Objective::Points => "expected points",
    };
    let from = if run.completed_laps == 0 {
        "from the grid".to_owned()
    } else {
        format!(
            "after lap {} (free-track times are of the laps left)",
            run.completed_laps
        )
    };
    writeln!(
        out,
        "{} at {}, {from}, ranked by {by}: {} legal plans screened, {} run through {} races each (seed {}) in \
         {:.1} s",
        r.code,
        run.track,
        r.plans_screened,
        r.ranked.len(),
        r.runs_per_plan,
        r.seed,
        run.elapsed_s
    )?;
    writeln!(
        out,
        "{:>4}  {:<22} {:>5} {:>13} {:>6} {:>8} {:>7} {:>12}",
        "rank", "plan", "stops", "mean pos ± sd", "win %", "podium %", "points", "free track"
    )?;
    for (i, p) in r.ranked.iter().enumerate() {
        writeln!(out, "{:>4}  {}", i + 1, plan_cells(p))?;
    }
    let next = r.ranked.first().and_then(|best| {
        best.plan
            .stops
            .iter()
            .find(|s| s.lap > run.completed_laps)
            .copied()
    });
    let unit = match r.objective {
        Objective::Position => "positions",
        Objective::Points => "points",
    };
    match (&r.window, next) {
        (Some(w), Some(stop)) => {
            writeln!(
                out,
                "pit window: in-lap {}–{} (best {}), fit {:?} (within {} {unit} of the best on the first {} races)",
                w.earliest_lap, w.latest_lap, w.best_lap, w.compound, w.tolerance, w.races
            )?;
            writeln!(
                out,
                "recommendation: next stop at the end of lap {} (window {}–{}), fit {:?}",
                stop.lap, w.earliest_lap, w.latest_lap, stop.compound
            )?;
        }
        (None, Some(stop)) => {
            writeln!(out, "pit window: not computed (see the warnings)")?;
            writeln!(
                out,
                "recommendation: next stop at the end of lap {}, fit {:?}",
                stop.lap, stop.compound
            )?;
        }
        (_, None) => {
            writeln!(out, "pit window: none")?;
            writeln!(out, "recommendation: no further stop")?;
        }
    }
    match (&r.current, r.ranked.first()) {
        (Some(current), best) => {
            writeln!(out, "current  {}", plan_cells(current))?;
            if let Some(best) = best {
                writeln!(
                    out,
                    "expected gain of {} over the current plan: {:+.2} positions, {:+.2} points",
                    best.label,
                    current.mean_position - best.mean_position,
                    best.expected_points - current.expected_points
                )?;
            }
        }
        (None, _) => writeln!(out, "current plan: none that can be simulated")?,
    }
    for w in &r.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}

fn plan_cells(p: &PlanResult) -> String {
    format!(
        "{:<22} {:>5} {:>13} {:>6.1} {:>8.1} {:>7.2} {:>12}",
        p.label,
        p.stops,
        format!("{:.2} ± {:.2}", p.mean_position, p.position_sd),
        100.0 * p.p_win,
        100.0 * p.p_podium,
        p.expected_points,
        clock(p.free_track_s)
    )
}

/// `h:mm:ss.sss`.
fn clock(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return format!("{s}");
    }
    let ms = (s * 1000.0).round() as u64;
    format!(
        "{}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_default_mcs_path() {
        assert_eq!(clock(5347.084), "1:29:07.084");
        assert_eq!(clock(59.9995), "0:01:00.000");
        assert_eq!(
            default_mcs_path(Path::new("races/2019_07_canada/x.ini")),
            Path::new("races/2019_07_canada/../_common/tumftm_pars_mcs.ini")
        );
    }

    #[test]
    fn a_missing_mcs_file_names_the_default_and_the_flag() {
        let dir = std::env::temp_dir().join(format!("boxbox-strategy-mcs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("race")).unwrap();
        let params = dir.join("race/p.ini");
        std::fs::write(&params, "").unwrap();
        let e = load(&RaceSpec::Params { params, mcs: None }, false).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        let e = format!("{e:#}");
        assert!(
            e.contains("--mcs") && e.contains("_common/tumftm_pars_mcs.ini"),
            "{e}"
        );
    }
}
