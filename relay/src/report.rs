//! `boxbox report RACE_DIR -o FILE`: a self-contained post-race HTML report of one real race folder: the
//! classification, the race trace, lap times, tyre stints, pit stops, and the strategy model's finishing order from
//! half distance against the real one.
//!
//! One file, nothing loaded from anywhere: inline CSS, inline SVG charts drawn by `boxbox_charts`, no script. Every
//! text that comes from the data is HTML-escaped (the charts' SVG text is escaped by plotters' SVG backend). The
//! same race, runs and seed give the same bytes. The file is written atomically: a temporary file in the same
//! folder, then a rename over the target.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use boxbox_charts::{
    Colour, LapTimeChart, PositionChart, PositionRow, RaceTraceChart, Series, Stint, StintChart,
    StintRow, Tyre,
};
use boxbox_engine::backtest::{FinalOrderPrediction, final_order_prediction};
use boxbox_engine::race::{RealDriver, RealRace};
use boxbox_engine::strategy::calibrate;

use crate::source::race;

/// Settings of the strategy model's run in the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportOptions {
    /// Monte Carlo races from half distance.
    pub runs: u32,
    /// Seed of the Monte Carlo.
    pub seed: u64,
}

/// What [`run`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The race's official name.
    pub race: String,
    /// Size of the file, in bytes.
    pub bytes: usize,
    /// The strategy model ran from half distance (else the report says why not).
    pub model: bool,
}

/// Loads the race folder `dir`, renders its report and writes it to `output` atomically.
///
/// # Errors
/// When the folder does not load (the message names the folder and the file), a chart cannot be drawn, or the file
/// cannot be written (the message names it).
pub fn run(dir: &Path, output: &Path, options: &ReportOptions) -> anyhow::Result<Written> {
    let race = race::load(dir)?;
    let prediction = final_order_prediction(&race, options.runs, options.seed);
    let html = render(&race, prediction.as_ref())?;
    write_atomically(output, html.as_bytes())?;
    Ok(Written {
        race: race.name().to_owned(),
        bytes: html.len(),
        model: prediction.is_some(),
    })
}

/// The report of `race` as one HTML document; `prediction` is the strategy model's run from half distance
/// (`None`: the report says it could not be run).
///
/// # Errors
/// When a chart cannot be drawn.
pub fn render(
    race: &RealRace,
    prediction: Option<&FinalOrderPrediction>,
) -> anyhow::Result<String> {
    let order = finishing_order(race);
    let mut html = String::with_capacity(400_000);
    let title = format!("{} — race report", race.name());
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    header(&mut html, race);
    html.push_str("<main>\n");
    results(&mut html, race, &order);
    section_chart(
        &mut html,
        "race-trace",
        "Race trace",
        "Each driver's gap to the leader at the end of every lap (a stop shows as a step down; lapped cars drop \
         away).",
        boxbox_charts::render_svg(1100, 520, |area| {
            boxbox_charts::draw_race_trace(area, &race_trace(race, &order))
        })
        .context("cannot draw the race trace")?,
    );
    section_chart(
        &mut html,
        "lap-times",
        "Lap times",
        "Every lap of every driver at racing pace; lap 1, pit in- and out-laps and laps behind a safety car are \
         clipped out of the range and break the lines. Team-mates share a colour; the second is dashed.",
        boxbox_charts::render_svg(1100, 520, |area| {
            boxbox_charts::draw_lap_times(area, &lap_times(&order))
        })
        .context("cannot draw the lap times")?,
    );
    section_chart(
        &mut html,
        "stints",
        "Tyre stints",
        "One bar per driver in finishing order, coloured by compound (FastF1's stints); the dark notches are the \
         in-laps of f1db's pit stops.",
        boxbox_charts::render_svg(1100, 120 + 26 * order.len() as u32, |area| {
            boxbox_charts::draw_stints(area, &stints(race, &order))
        })
        .context("cannot draw the stints")?,
    );
    pit_stops(&mut html, race);
    model(&mut html, race, prediction)?;
    html.push_str("</main>\n");
    footer(&mut html);
    html.push_str("</body>\n</html>\n");
    Ok(html)
}

/// Writes `bytes` to `path` atomically ([`crate::persist::replace_file`]), so a reader never sees half a file and
/// a failed write leaves the old file in place.
///
/// # Errors
/// When the folder is not writable or the rename fails; the message names `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("no file name in the output path {}", path.display()))?;
    // Hidden, and unique per process: two reports written at once never share a temporary file.
    let temporary = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    crate::persist::replace_file(path, &temporary, bytes, false)
        .with_context(|| format!("cannot write the report to {}", path.display()))
}

// ---------------------------------------------------------------------------------------------------------------
// Sections.

fn header(html: &mut String, race: &RealRace) {
    let winner = race.winner().map_or_else(
        || "–".to_owned(),
        |w| format!("{} ({}, {})", esc(&w.name), esc(&w.code), esc(&w.team)),
    );
    let _ = write!(
        html,
        "<header>\n<p class=\"brand\"><b>box</b>box race report</p>\n<h1>{}</h1>\n<dl class=\"facts\">\n\
         <div><dt>Track</dt><dd>{}</dd></div>\n<div><dt>Date</dt><dd>{}</dd></div>\n\
         <div><dt>Laps</dt><dd>{}</dd></div>\n<div><dt>Winner</dt><dd>{winner}</dd></div>\n</dl>\n</header>\n",
        esc(race.name()),
        esc(race.track()),
        esc(race.date()),
        race.total_laps(),
    );
}

fn results(html: &mut String, race: &RealRace, order: &[&RealDriver]) {
    let plans = calibrate::real_plans(race);
    let winner = race.winner();
    html.push_str(
        "<section id=\"results\">\n<h2>Results</h2>\n<table>\n<thead><tr><th>Pos</th><th>Driver</th>\
         <th>Team</th><th class=\"num\">Grid</th><th class=\"num\">+/−</th><th class=\"num\">Stops</th>\
         <th>Tyres</th><th class=\"num\">Time / gap</th></tr></thead>\n<tbody>\n",
    );
    for d in order {
        let c = &d.classification;
        let grid = if d.pit_lane_start {
            "PL".to_owned()
        } else {
            d.grid_position.to_string()
        };
        let gained = match c.position {
            Some(p) => {
                let delta = i32::from(d.grid_position) - i32::from(p);
                match delta {
                    0 => "0".to_owned(),
                    x if x > 0 => format!("+{x}"),
                    x => format!("−{}", x.unsigned_abs()),
                }
            }
            _ => "–".to_owned(),
        };
        // Tyre stops, as the tyres column shows them; penalties served in the pit lane apart.
        let (tyre_stops, penalties) = race
            .pit_stops()
            .iter()
            .filter(|s| s.car_idx == d.car_idx)
            .fold((0, 0), |(t, p), s| {
                if s.tyres_changed {
                    (t + 1, p)
                } else {
                    (t, p + 1)
                }
            });
        let stops = match penalties {
            0 => tyre_stops.to_string(),
            n => format!("{tyre_stops} (+{n} penalty)"),
        };
        let tyres = plans
            .get(usize::from(d.car_idx))
            .map_or_else(String::new, |plan| {
                plan.start
                    .into_iter()
                    .chain(plan.stops.iter().map(|s| s.compound))
                    .map(|c| c.letter().to_string())
                    .collect::<Vec<_>>()
                    .join("–")
            });
        let result = result_text(d, winner);
        let _ = writeln!(
            html,
            "<tr><td class=\"pos\">{}</td><td><span class=\"swatch\" style=\"background:{}\"></span><b>{}</b> \
             <span class=\"dim\">{}</span></td><td>{}</td><td class=\"num\">{grid}</td>\
             <td class=\"num\">{gained}</td><td class=\"num\">{stops}</td><td class=\"tyres\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            esc(&c.position_text),
            team_colour(d).to_hex(),
            esc(&d.code),
            esc(&d.name),
            esc(&d.team),
            esc(&tyres),
            esc(&result),
        );
    }
    html.push_str("</tbody>\n</table>\n</section>\n");
}

/// The time column: the winner's race time, a gap, laps down, or why the car stopped.
fn result_text(d: &RealDriver, winner: Option<&RealDriver>) -> String {
    let c = &d.classification;
    let mut text = if d.retirement.is_some() || c.position.is_none() {
        let reason = c
            .reason_retired
            .clone()
            .unwrap_or_else(|| c.position_text.clone());
        format!("{reason} (lap {})", c.laps)
    } else if let (Some(time), Some(w)) = (c.time_s, winner) {
        match w.classification.time_s {
            Some(w_time) if w.car_idx != d.car_idx => format!("+{:.3} s", time - w_time),
            _ => race_time(time),
        }
    } else {
        let down = winner.map_or(0, |w| w.classification.laps.saturating_sub(c.laps));
        match down {
            0 => "–".to_owned(),
            1 => "+1 lap".to_owned(),
            n => format!("+{n} laps"),
        }
    };
    if c.time_penalty_s > 0.0 {
        let _ = write!(text, " (incl. {:.0} s penalty)", c.time_penalty_s);
    }
    text
}

fn pit_stops(html: &mut String, race: &RealRace) {
    html.push_str(
        "<section id=\"pit-stops\">\n<h2>Pit stops</h2>\n<table class=\"narrow\">\n<thead><tr><th>Driver</th>\
         <th class=\"num\">Stop</th><th class=\"num\">Lap</th><th class=\"num\">Pit lane</th></tr></thead>\n\
         <tbody>\n",
    );
    for stop in race.pit_stops() {
        let colour = race
            .drivers()
            .get(usize::from(stop.car_idx))
            .map_or(GREY, team_colour);
        let _ = writeln!(
            html,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span><b>{}</b></td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{:.3} s{}</td></tr>",
            colour.to_hex(),
            esc(&stop.driver_code),
            stop.stop,
            stop.lap,
            stop.pit_lane_s,
            if stop.tyres_changed {
                ""
            } else {
                " · no tyres (penalty)"
            },
        );
    }
    if race.pit_stops().is_empty() {
        html.push_str("<tr><td colspan=\"4\" class=\"dim\">no pit stops</td></tr>\n");
    }
    let _ = write!(
        html,
        "</tbody>\n</table>\n<p class=\"note\">Pit lane: entry to exit (f1db). A stop that fitted no tyres (a \
         drive-through or a stop-go) served a penalty and is no strategy stop. A stop under green costs {:.1} s \
         against staying out ({}).</p>\n</section>\n",
        race.pit_lane_loss_s(),
        match race.pit_lane_loss_stops() {
            0 => "f1db's median pit-lane time: no green-flag stop to measure".to_owned(),
            1 => "measured on 1 green-flag stop".to_owned(),
            n => format!("the median over {n} green-flag stops"),
        }
    );
}

fn model(
    html: &mut String,
    race: &RealRace,
    prediction: Option<&FinalOrderPrediction>,
) -> anyhow::Result<()> {
    html.push_str("<section id=\"model\">\n<h2>The strategy model</h2>\n");
    let Some(p) = prediction else {
        let _ = writeln!(
            html,
            "<p>The strategy model could not be run from half distance (lap {}): the race could not be \
             calibrated from its first half, or no car running there took the flag.</p>\n</section>",
            race.total_laps() / 2
        );
        return Ok(());
    };
    let scored = p.cars.iter().filter(|c| c.real_rank.is_some()).count();
    let verdict = if p.mae < p.mae_baseline {
        "better than"
    } else if p.mae > p.mae_baseline {
        "worse than"
    } else {
        "as good as"
    };
    let _ = write!(
        html,
        "<p><span class=\"badge\">SIMULATION</span> At the end of lap {lap} (half distance) the Monte Carlo takes \
         over: a race model calibrated from laps 1–{lap} only, started from the real state there (race times, \
         tyres and their age), {runs} simulated finishes (seed {seed}) with random safety cars and retirements. \
         It is not told the second half: each car makes at most one more stop, to a harder compound when it still \
         owes the two-compound rule.</p>\n\
         <p class=\"score\">Final order of the {scored} cars running at lap {lap} that took the flag: the model's \
         expected order is off by <b>{mae:.2}</b> places per car on average, {verdict} the order at lap {lap} \
         frozen to the flag (<b>{base:.2}</b> places).</p>\n",
        lap = p.from_lap,
        runs = p.runs,
        seed = p.seed,
        mae = p.mae,
        base = p.mae_baseline,
    );
    html.push_str(
        "<table class=\"narrow\">\n<thead><tr><th>Driver</th><th class=\"num\">At lap</th>\
         <th class=\"num\">Expected position</th><th class=\"num\">DNF</th><th class=\"num\">Model rank</th>\
         <th class=\"num\">Real rank</th><th class=\"num\">Error</th><th class=\"num\">Classified</th></tr>\
         </thead>\n<tbody>\n",
    );
    for car in &p.cars {
        let driver = race.drivers().get(usize::from(car.car_idx));
        let rank = |r: Option<u32>| r.map_or_else(|| "–".to_owned(), |r| r.to_string());
        let error = match (car.predicted_rank, car.real_rank) {
            (Some(a), Some(b)) => a.abs_diff(b).to_string(),
            _ => "–".to_owned(),
        };
        let _ = writeln!(
            html,
            "<tr><td><span class=\"swatch\" style=\"background:{}\"></span><b>{}</b></td>\
             <td class=\"num\">P{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.0} %</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{error}</td>\
             <td class=\"num\">{}</td></tr>",
            driver.map_or(GREY, team_colour).to_hex(),
            esc(&car.code),
            car.position_at_lap,
            car.mean_position,
            100.0 * car.p_dnf,
            rank(car.predicted_rank),
            rank(car.real_rank),
            esc(&driver.map_or_else(String::new, |d| d.classification.position_text.clone())),
        );
    }
    html.push_str(
        "</tbody>\n</table>\n<p class=\"note\">Ranks are among the scored cars only; a car that retired after \
         half distance is not scored. Expected position counts a simulated retirement as last.</p>\n",
    );
    let chart = PositionChart {
        title: format!("Finishing positions from lap {} (Monte Carlo)", p.from_lap),
        rows: p
            .cars
            .iter()
            .map(|car| PositionRow {
                label: car.code.clone(),
                probabilities: car.position_probability.clone(),
                actual: race
                    .drivers()
                    .get(usize::from(car.car_idx))
                    .and_then(|d| d.classification.position)
                    .map(u32::from),
            })
            .collect(),
    };
    let svg = boxbox_charts::render_svg(1100, 120 + 26 * p.cars.len() as u32, |area| {
        boxbox_charts::draw_position_distribution(area, &chart)
    })
    .context("cannot draw the finishing-position distribution")?;
    let _ = write!(
        html,
        "<figure class=\"chart\">\n{svg}<figcaption>The chance of each finishing position (percent in the cell) \
         for every car running at lap {}, in the order there; the real classification is outlined.\
         </figcaption>\n</figure>\n</section>\n",
        p.from_lap
    );
    Ok(())
}

fn footer(html: &mut String) {
    let _ = write!(
        html,
        "<footer>\n<h2>Data and attributions</h2>\n<ul>\n\
         <li>Lap timing (lap times, stints, compounds, pit in/out, track status): FastF1, the official Formula 1 \
         live-timing feed, via Casper-Guo/Armchair-Strategist (Apache-2.0). The underlying timing data is \
         Formula One's.</li>\n\
         <li>Classification, starting grid and pit stops: F1DB (github.com/f1db/f1db), CC BY 4.0.</li>\n\
         <li>The strategy model: boxbox's Monte Carlo at the level of detail of TUMFTM's race-simulation \
         (Heilmeier et al., TU Munich, LGPL-3.0), calibrated here from the race's own laps.</li>\n\
         </ul>\n<p class=\"dim\">Made by boxbox {} (<code>boxbox report</code>). The strategy section is \
         simulated; everything else is the real race.</p>\n</footer>\n",
        esc(env!("CARGO_PKG_VERSION"))
    );
}

fn section_chart(html: &mut String, id: &str, heading: &str, caption: &str, svg: String) {
    let _ = write!(
        html,
        "<section id=\"{id}\">\n<h2>{heading}</h2>\n<figure class=\"chart\">\n{svg}<figcaption>{caption}\
         </figcaption>\n</figure>\n</section>\n",
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Chart data.

fn race_trace(race: &RealRace, order: &[&RealDriver]) -> RaceTraceChart {
    let laps = race
        .drivers()
        .iter()
        .map(|d| d.laps.len())
        .max()
        .unwrap_or(0);
    // The leader's crossing of each lap: the first car across the line.
    let leader_s: Vec<Option<f64>> = (1..=laps as u32)
        .map(|lap| {
            race.drivers()
                .iter()
                .filter_map(|d| d.crossing_s(lap))
                .reduce(f64::min)
        })
        .collect();
    let series = with_team_styles(order, |d| {
        d.laps
            .iter()
            .filter_map(|l| {
                let leader = leader_s.get(l.lap.checked_sub(1)? as usize).copied()??;
                Some((l.lap, l.end_s - leader))
            })
            .collect()
    });
    RaceTraceChart {
        title: "Gap to the leader".to_owned(),
        series,
    }
}

fn lap_times(order: &[&RealDriver]) -> LapTimeChart {
    LapTimeChart {
        title: "Lap times".to_owned(),
        series: with_team_styles(order, |d| {
            d.laps.iter().map(|l| (l.lap, l.lap_time_s)).collect()
        }),
    }
}

fn stints(race: &RealRace, order: &[&RealDriver]) -> StintChart {
    let rows = order
        .iter()
        .map(|d| {
            let mut stints: Vec<Stint> = Vec::new();
            let mut current: Option<u32> = None;
            for lap in &d.laps {
                match stints.last_mut() {
                    Some(last) if current == Some(lap.stint) => last.last_lap = lap.lap,
                    _ => stints.push(Stint {
                        first_lap: lap.lap,
                        last_lap: lap.lap,
                        tyre: Tyre::from(lap.compound),
                        predicted: false,
                    }),
                }
                current = Some(lap.stint);
            }
            StintRow {
                label: d.code.clone(),
                stints,
                pit_laps: race
                    .pit_stops()
                    .iter()
                    .filter(|s| s.car_idx == d.car_idx)
                    .map(|s| s.lap)
                    .collect(),
                retired_after_lap: d.retirement.as_ref().map(|_| d.laps.len() as u32),
            }
        })
        .collect();
    StintChart {
        title: "Tyre stints".to_owned(),
        total_laps: race.total_laps(),
        rows,
    }
}

/// One series per driver in `order`, in the team's colour; a team's second driver is dashed.
fn with_team_styles(
    order: &[&RealDriver],
    points: impl Fn(&RealDriver) -> Vec<(u32, f64)>,
) -> Vec<Series> {
    let mut teams: Vec<&str> = Vec::new();
    order
        .iter()
        .map(|d| {
            let dashed = teams.contains(&d.team.as_str());
            teams.push(&d.team);
            Series {
                label: d.code.clone(),
                colour: team_colour(d),
                dashed,
                points: points(d),
            }
        })
        .collect()
}

/// The classification: classified cars by position, then the others by laps completed (most first), then grid.
fn finishing_order(race: &RealRace) -> Vec<&RealDriver> {
    let mut order: Vec<&RealDriver> = race.drivers().iter().collect();
    order.sort_by_key(|d| {
        (
            d.classification.position.is_none(),
            d.classification.position,
            std::cmp::Reverse(d.classification.laps),
            d.grid_position,
        )
    });
    order
}

const GREY: Colour = Colour::rgb(0x8a, 0x97, 0xa8);

fn team_colour(d: &RealDriver) -> Colour {
    Colour::from_hex(&d.team_colour).unwrap_or(GREY)
}

/// A race time as `h:mm:ss.sss`.
fn race_time(s: f64) -> String {
    let ms = (s.max(0.0) * 1000.0).round() as u64;
    format!(
        "{}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// `text` escaped for HTML text and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The report's style sheet: the pit wall's dark theme (`static/boxbox.css`), for print too.
const CSS: &str = r#":root {
  --bg: #0b0f14; --panel: #121922; --line: #233040; --text: #e8edf3; --dim: #8a97a8; --accent: #e10600;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  --mono: ui-monospace, "SF Mono", "Roboto Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font-family: var(--sans); line-height: 1.45; }
header, main, footer { max-width: 1160px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; border-bottom: 1px solid var(--line); }
.brand { color: var(--dim); margin: 0; letter-spacing: 0.5px; }
.brand b { color: var(--accent); }
h1 { margin: 4px 0 12px; font-size: 28px; }
h2 { margin: 32px 0 12px; font-size: 20px; border-left: 3px solid var(--accent); padding-left: 10px; }
.facts { display: flex; flex-wrap: wrap; gap: 12px 32px; margin: 0 0 20px; }
.facts dt { color: var(--dim); font-size: 12px; text-transform: uppercase; letter-spacing: 1px; }
.facts dd { margin: 0; font-weight: 600; }
table { border-collapse: collapse; width: 100%; background: var(--panel); border: 1px solid var(--line);
  border-radius: 8px; font-size: 14px; }
table.narrow { width: auto; min-width: 50%; }
th, td { padding: 6px 10px; text-align: left; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--dim); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: 0.5px; }
.num { text-align: right; font-family: var(--mono); font-variant-numeric: tabular-nums; }
.pos { font-family: var(--mono); font-weight: 700; text-align: center; }
.tyres { font-family: var(--mono); }
.dim { color: var(--dim); }
.swatch { display: inline-block; width: 4px; height: 14px; margin-right: 8px; vertical-align: -2px;
  border-radius: 2px; }
.chart { margin: 0; }
.chart svg { display: block; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 8px; }
figcaption, .note { color: var(--dim); font-size: 13px; margin: 8px 0 0; }
.score { font-size: 16px; }
.badge { font-size: 11px; font-weight: 800; letter-spacing: 1.5px; padding: 3px 7px; border: 1px dashed #6b7280;
  color: #cbd5e1; border-radius: 4px; margin-right: 6px; }
footer { margin-top: 40px; padding-bottom: 40px; border-top: 1px solid var(--line); font-size: 14px; }
footer li { margin: 4px 0; }
code { font-family: var(--mono); }
@media print { body { background: #fff; color: #000; } table { background: #fff; } }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_times_formatted() {
        assert_eq!(
            esc("<b>\"R&D\"</b> 'x'"),
            "&lt;b&gt;&quot;R&amp;D&quot;&lt;/b&gt; &#39;x&#39;"
        );
        assert_eq!(race_time(5227.084), "1:27:07.084");
        assert_eq!(race_time(59.9996), "0:01:00.000");
    }

    #[test]
    fn the_file_is_replaced_whole_and_a_bad_path_is_named() {
        let dir = std::env::temp_dir().join(format!("boxbox-report-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.html");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left");
        let missing = dir.join("no/such/folder/r.html");
        let err = write_atomically(&missing, b"x").unwrap_err();
        assert!(
            format!("{err:#}").contains("no/such/folder/r.html"),
            "{err:#}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
