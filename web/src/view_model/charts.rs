//! The Charts view as data: the live session's lap history mapped to `boxbox-charts`' inputs (lap times, the race
//! trace, tyre stints, tyre degradation by stint, sector comparison, a lap's telemetry traces, the
//! finishing-position distribution), each chart's size from its container's width, and the job a strategy worker
//! draws ([`ChartJob::draw`], on any plotters backend). Pure, tested natively with the SVG backend
//! ([`ChartJob::render`]).
//!
//! **Invariant:** the page only builds these inputs (plain numbers and labels); the drawing, plotters on an
//! `OffscreenCanvas`, runs in a worker ([`crate::worker_protocol::Job::Chart`]), so none of it is in the app's
//! bundle. The pixels come back as an `ImageBitmap` and the chart's texts as plain strings, which the page puts in
//! the canvas's fallback content as text (never as markup); [`label`] also drops control characters and caps the
//! length of what comes from the feed (driver codes).

use boxbox_charts::plotters::coord::Shift;
use boxbox_charts::plotters::prelude::{DrawingArea, DrawingBackend};
use boxbox_charts::{
    ChartError, Colour, DegradationChart, DegradationStint, LapTimeChart, LapTraceChart, LinearFit,
    PositionChart, PositionRow, RaceTraceChart, SectorChart, SectorLaps, Series, Stint, StintChart,
    StintRow, TraceSeries, Tyre,
};
use boxbox_engine::sorting::{sort_by, sort_by_key};
use boxbox_engine::strategy::monte_carlo::McReport;
use boxbox_engine::twin::laps::CarLaps;
use boxbox_engine::twin::pace::stint_degradation;
use boxbox_engine::twin::{FieldModels, FieldTwin, TwinParams};
use boxbox_engine::wire::{CarState, LapRecord, RaceState};
use serde::{Deserialize, Serialize};

use crate::view_model::traces::LapTraces;

/// One chart to draw, with its data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chart {
    /// Lap times per driver.
    LapTimes(LapTimeChart),
    /// Gap to the leader per lap.
    RaceTrace(RaceTraceChart),
    /// Every car's tyre stints.
    Stints(StintChart),
    /// Finishing-position probabilities from a Monte Carlo.
    Positions(PositionChart),
    /// A car's lap times by tyre age, stint by stint, with the fitted degradation.
    Degradation(DegradationChart),
    /// Sector times of two cars compared lap by lap.
    Sectors(SectorChart),
    /// Speed, throttle, brake and gear along a lap, two cars overlaid.
    LapTrace(LapTraceChart),
}

/// A chart and the size to draw it at: what the page sends a worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChartJob {
    /// Width of the chart, in CSS pixels.
    pub width_px: u32,
    /// Height of the chart, in CSS pixels.
    pub height_px: u32,
    /// What to draw.
    pub chart: Chart,
}

/// The largest side a chart is drawn at, in pixels: a bound on the worker's work whatever the page asks.
pub const MAX_SIDE_PX: u32 = 4096;

/// Longest label drawn, in characters.
pub const MAX_LABEL_CHARS: usize = 12;

/// How much of the way to the background the field's lines are faded in the lap-time chart.
const FAINT: f64 = 0.72;

impl ChartJob {
    /// The size drawn at, in CSS pixels: the job's, within [`MAX_SIDE_PX`].
    fn size(&self) -> (u32, u32) {
        (
            self.width_px.min(MAX_SIDE_PX),
            self.height_px.min(MAX_SIDE_PX),
        )
    }

    /// Draws the chart on `area`, whatever its backend.
    ///
    /// # Errors
    /// The chart's (an area too small to draw in) or the backend's.
    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), ChartError> {
        match &self.chart {
            Chart::LapTimes(c) => boxbox_charts::draw_lap_times(area, c),
            Chart::RaceTrace(c) => boxbox_charts::draw_race_trace(area, c),
            Chart::Stints(c) => boxbox_charts::draw_stints(area, c),
            Chart::Positions(c) => boxbox_charts::draw_position_distribution(area, c),
            Chart::Degradation(c) => boxbox_charts::draw_tyre_degradation(area, c),
            Chart::Sectors(c) => boxbox_charts::draw_sector_comparison(area, c),
            Chart::LapTrace(c) => boxbox_charts::draw_lap_trace(area, c),
        }
    }

    /// Draws the chart as an SVG document (the SVG backend: native tests, and what a report would embed).
    ///
    /// # Errors
    /// The chart's error as text (an area too small to draw in).
    pub fn render(&self) -> Result<String, String> {
        let (w, h) = self.size();
        boxbox_charts::render_svg(w, h, |a| self.draw(a)).map_err(|e| e.to_string())
    }

    /// Draws the chart on an `OffscreenCanvas` `scale` times its size (the device pixel ratio), in a worker: its
    /// pixels and every text drawn.
    ///
    /// # Errors
    /// The chart's or the canvas's error as text.
    #[cfg(target_arch = "wasm32")]
    pub fn render_canvas(
        &self,
        scale: f64,
    ) -> Result<boxbox_charts::canvas::CanvasDrawing, String> {
        let (w, h) = self.size();
        boxbox_charts::canvas::render_canvas(w, h, scale, |a| self.draw(a))
            .map_err(|e| e.to_string())
    }
}

/// The Charts view's jobs for one moment, in display order.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartJobs {
    /// Lap times, the selected car and its rival highlighted.
    pub lap_times: ChartJob,
    /// Gap to the leader.
    pub race_trace: ChartJob,
    /// Tyre stints, past and predicted.
    pub stints: ChartJob,
    /// The focused car's tyre degradation, stint by stint.
    pub degradation: ChartJob,
    /// The focused car's sectors against its rival's.
    pub sectors: ChartJob,
    /// The finishing-position distribution, when the strategy desk has a Monte Carlo.
    pub positions: Option<ChartJob>,
}

/// A Monte Carlo report the Charts view can show: the strategy desk's latest baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline<'a> {
    /// The report.
    pub report: &'a McReport,
    /// Laps completed when the Monte Carlo started.
    pub from_lap: u32,
}

/// Every chart of the view for a container `width_px` wide.
pub fn chart_jobs(
    state: &RaceState,
    records: &[LapRecord],
    field: Option<&FieldTwin>,
    selected: Option<u8>,
    baseline: Option<Baseline<'_>>,
    width_px: u32,
) -> ChartJobs {
    let sizes = ChartSizes::for_width(width_px, state.cars.len());
    let job = |height_px, chart| ChartJob {
        width_px: sizes.width_px,
        height_px,
        chart,
    };
    ChartJobs {
        lap_times: job(
            sizes.lines_px,
            Chart::LapTimes(lap_time_chart(state, records, selected)),
        ),
        race_trace: job(
            sizes.lines_px,
            Chart::RaceTrace(race_trace_chart(state, records)),
        ),
        stints: job(
            sizes.stints_px,
            Chart::Stints(stint_chart(state, records, field)),
        ),
        degradation: job(
            sizes.lines_px,
            Chart::Degradation(degradation_chart(state, records, selected)),
        ),
        sectors: job(
            sizes.panels_px,
            Chart::Sectors(sector_chart(state, records, selected)),
        ),
        positions: baseline.map(|b| {
            let chart = position_chart(b.report, b.from_lap);
            let rows = chart.rows.len();
            job(grid_height_px(rows), Chart::Positions(chart))
        }),
    }
}

/// The charts' sizes for a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChartSizes {
    /// Width of every chart, in pixels.
    pub width_px: u32,
    /// Height of the line charts (lap times, race trace).
    pub lines_px: u32,
    /// Height of the stint chart.
    pub stints_px: u32,
    /// Height of the charts stacked in panels (sectors, telemetry traces).
    pub panels_px: u32,
}

impl ChartSizes {
    /// Sizes for a container `width_px` wide (a phone's 320 to a 1920 screen) and `n_cars` rows: the width
    /// rounded down to 8 px (so a resize by a pixel or two draws nothing again), at least the charts' minimum; the
    /// line charts about half as high as wide, with room for a legend row per car; the stacked panels taller.
    pub fn for_width(width_px: u32, n_cars: usize) -> Self {
        let width_px = (width_px / 8 * 8).clamp(boxbox_charts::MIN_SIZE.0, MAX_SIDE_PX);
        let lines_px = (width_px / 2).clamp(320, 480);
        ChartSizes {
            width_px,
            lines_px,
            stints_px: grid_height_px(n_cars),
            panels_px: (width_px * 3 / 4).clamp(420, 640),
        }
    }
}

/// Height of a chart with a row per car (stints, positions): title and axis plus 22 px a row.
fn grid_height_px(rows: usize) -> u32 {
    let rows = u32::try_from(rows).unwrap_or(u32::MAX).min(60);
    (90 + 22 * rows).max(boxbox_charts::MIN_SIZE.1 + 40)
}

/// Lap times of every car: the selected car and the car ahead of it (its rival) in their team colours, drawn last
/// so they are on top, the rest of the field faint. Laps are the history's, in seconds.
pub fn lap_time_chart(
    state: &RaceState,
    records: &[LapRecord],
    selected: Option<u8>,
) -> LapTimeChart {
    let selected_car = selected.and_then(|idx| state.cars.iter().find(|c| c.car_idx == idx));
    let rival = selected_car.and_then(|car| rival_of(state, car));
    let highlighted = |idx: u8| Some(idx) == selected || Some(idx) == rival;
    let mut series: Vec<Series> = state
        .cars
        .iter()
        .filter(|c| !highlighted(c.car_idx))
        .map(|c| Series {
            label: label(&c.driver.code),
            colour: team_colour(c).mix(boxbox_charts::theme::BACKGROUND, FAINT),
            dashed: false,
            points: lap_times(records, c.car_idx),
        })
        .collect();
    for (idx, dashed) in [(rival, true), (selected, false)] {
        let Some(car) = idx.and_then(|idx| state.cars.iter().find(|c| c.car_idx == idx)) else {
            continue;
        };
        series.push(Series {
            label: label(&car.driver.code),
            colour: team_colour(car),
            dashed,
            points: lap_times(records, car.car_idx),
        });
    }
    let title = match (selected_car, rival.and_then(|r| car(state, r))) {
        (Some(s), Some(r)) => format!(
            "Lap times · {} vs {}",
            label(&s.driver.code),
            label(&r.driver.code)
        ),
        (Some(s), None) => format!("Lap times · {}", label(&s.driver.code)),
        _ => "Lap times".to_owned(),
    };
    LapTimeChart { title, series }
}

/// Each car's gap to the leader at the end of every lap (0 for the leader), in running order, in team colours with a
/// team's second car dashed.
pub fn race_trace_chart(state: &RaceState, records: &[LapRecord]) -> RaceTraceChart {
    let mut teams: Vec<&str> = Vec::new();
    let series = state
        .cars
        .iter()
        .map(|c| {
            let dashed = teams.contains(&c.team.name.as_str());
            teams.push(&c.team.name);
            Series {
                label: label(&c.driver.code),
                colour: team_colour(c),
                dashed,
                points: records
                    .iter()
                    .filter(|r| r.car_idx == c.car_idx)
                    .filter_map(|r| {
                        let gap = match r.gap_to_leader_s {
                            Some(g) => g,
                            None if r.position == 1 => 0.0,
                            None => return None,
                        };
                        Some((r.lap, gap))
                    })
                    .collect(),
            }
        })
        .collect();
    RaceTraceChart {
        title: "Gap to the leader".to_owned(),
        series,
    }
}

/// Every car's stints, in running order: past stints from the lap history (a new stint where the compound changes
/// or the set's age drops), an in-lap notch at the end of each but the last, "out" after a car that retired; and,
/// from the Field Twin, the current set up to the predicted stop, drawn faded.
pub fn stint_chart(
    state: &RaceState,
    records: &[LapRecord],
    field: Option<&FieldTwin>,
) -> StintChart {
    let total_laps = state.session.total_laps;
    let rows = state
        .cars
        .iter()
        .map(|c| {
            let mut stints = past_stints(records, c.car_idx);
            let last_lap = stints.last().map_or(0, |s| s.last_lap);
            let pit_laps = stints
                .iter()
                .rev()
                .skip(1)
                .rev()
                .map(|s| s.last_lap)
                .collect();
            let out = c.result_status.is_out();
            let predicted_stop = field
                .and_then(|f| f.rivals.iter().find(|r| r.car_idx == c.car_idx))
                .and_then(|r| r.next_pit.as_ref())
                .map(|p| p.lap.min(total_laps));
            if let (false, Some(stop)) = (out, predicted_stop)
                && stop > last_lap
            {
                stints.push(Stint {
                    first_lap: last_lap + 1,
                    last_lap: stop,
                    tyre: Tyre::from(c.tyres.compound),
                    predicted: true,
                });
            }
            StintRow {
                label: label(&c.driver.code),
                stints,
                pit_laps,
                retired_after_lap: out.then_some(last_lap),
            }
        })
        .collect();
    StintChart {
        title: "Tyre stints".to_owned(),
        total_laps,
        rows,
    }
}

/// The Monte Carlo's finishing-position probabilities, a row per driver from the best expected position down.
pub fn position_chart(report: &McReport, from_lap: u32) -> PositionChart {
    let mut drivers: Vec<_> = report.drivers.iter().collect();
    sort_by(&mut drivers, |a, b| {
        a.mean_position.total_cmp(&b.mean_position)
    });
    PositionChart {
        title: format!("Finishing positions · Monte Carlo from lap {from_lap}"),
        rows: drivers
            .into_iter()
            .map(|d| PositionRow {
                label: label(&d.code),
                probabilities: d.position_probability.clone(),
                actual: None,
            })
            .collect(),
    }
}

/// A label from the feed as the charts draw it: control characters dropped, at most [`MAX_LABEL_CHARS`]
/// characters. (Markup needs no care here: the page puts a chart's texts in as text, and plotters' SVG backend
/// escapes every text.)
pub fn label(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_LABEL_CHARS)
        .collect()
}

/// The car the focused charts (degradation, sectors, telemetry) are about: the selected one, else the leader.
fn focus(state: &RaceState, selected: Option<u8>) -> Option<&CarState> {
    selected
        .and_then(|idx| car(state, idx))
        .or_else(|| state.cars.first())
}

/// The focused car and its rival (the car ahead on the road, or behind for the leader).
fn focus_and_rival(state: &RaceState, selected: Option<u8>) -> [Option<&CarState>; 2] {
    let a = focus(state, selected);
    let b = a
        .and_then(|a| rival_of(state, a))
        .and_then(|idx| car(state, idx));
    [a, b]
}

/// The focused car's clean laps by tyre age, fuel-corrected, stint by stint, with the degradation the twins fit
/// through them (the same fit as their pace models).
pub fn degradation_chart(
    state: &RaceState,
    records: &[LapRecord],
    selected: Option<u8>,
) -> DegradationChart {
    let Some(car) = focus(state, selected) else {
        return DegradationChart {
            title: "Tyre degradation".to_owned(),
            stints: Vec::new(),
        };
    };
    let params = TwinParams::PIT_WALL;
    let field = FieldModels::learn(state, records, &params).pace;
    let laps = CarLaps::new(car, records);
    let stints = (0..car.stints.len())
        .filter_map(|k| {
            let stint = stint_degradation(&laps, k, &field, &params.pace)?;
            let slope = stint
                .fit
                .map_or_else(String::new, |f| format!(" {:+.3} s/lap", f.deg_s_per_lap));
            Some(DegradationStint {
                label: format!("{} {}{slope}", k + 1, stint.compound.letter()),
                tyre: Tyre::from(stint.compound),
                points: stint.points,
                fit: stint.fit.map(|f| LinearFit {
                    intercept_s: f.base_s,
                    slope_s_per_lap: f.deg_s_per_lap,
                }),
            })
        })
        .collect();
    DegradationChart {
        title: format!(
            "Tyre degradation · {} · fuel-corrected lap time by tyre age",
            label(&car.driver.code)
        ),
        stints,
    }
}

/// The focused car's sector times against its rival's (the car ahead, or behind for the leader), lap by lap.
pub fn sector_chart(state: &RaceState, records: &[LapRecord], selected: Option<u8>) -> SectorChart {
    let sector_laps = |car: Option<&CarState>| SectorLaps {
        label: car.map_or_else(String::new, |c| label(&c.driver.code)),
        colour: car.map_or(boxbox_charts::theme::DIM, team_colour),
        laps: car.map_or_else(Vec::new, |c| {
            let mut laps: Vec<(u32, [Option<f64>; 3])> = records
                .iter()
                .filter(|r| r.car_idx == c.car_idx)
                .map(|r| (r.lap, r.sectors_s))
                .collect();
            sort_by_key(&mut laps, |(lap, _)| *lap);
            laps
        }),
    };
    let [a, b] = focus_and_rival(state, selected);
    let (a, b) = (sector_laps(a), sector_laps(b));
    SectorChart {
        title: format!("Sectors · {} vs {}", a.label, b.label),
        a,
        b,
    }
}

/// The last complete lap's telemetry of the focused car and its rival, overlaid (the rival dashed).
pub fn lap_trace_chart(
    state: &RaceState,
    traces: &LapTraces,
    selected: Option<u8>,
) -> LapTraceChart {
    let [a, b] = focus_and_rival(state, selected);
    let mut title = "Lap telemetry".to_owned();
    let mut series = Vec::new();
    for (car, dashed) in [(a, false), (b, true)] {
        let Some(car) = car else { continue };
        let Some(trace) = traces.last_lap(car.car_idx) else {
            continue;
        };
        title.push_str(&format!(
            "{} {} lap {}",
            if dashed { " vs" } else { " ·" },
            label(&car.driver.code),
            trace.lap
        ));
        series.push(TraceSeries {
            label: label(&car.driver.code),
            colour: team_colour(car),
            dashed,
            samples: trace.samples.clone(),
        });
    }
    LapTraceChart {
        title,
        lap_length_m: state.session.track_length_m,
        series,
    }
}

/// The key that says the telemetry chart has something new to draw: the focused car, its rival and the laps of
/// their last complete traces.
pub fn lap_trace_key(
    state: &RaceState,
    traces: &LapTraces,
    selected: Option<u8>,
) -> [Option<(u8, u32)>; 2] {
    let [a, b] = focus_and_rival(state, selected);
    [a, b].map(|c| {
        let c = c?;
        Some((c.car_idx, traces.last_lap(c.car_idx).map_or(0, |t| t.lap)))
    })
}

/// A telemetry chart job for a container `width_px` wide.
pub fn lap_trace_job(
    state: &RaceState,
    traces: &LapTraces,
    selected: Option<u8>,
    width_px: u32,
) -> ChartJob {
    let sizes = ChartSizes::for_width(width_px, state.cars.len());
    ChartJob {
        width_px: sizes.width_px,
        height_px: sizes.panels_px,
        chart: Chart::LapTrace(lap_trace_chart(state, traces, selected)),
    }
}

/// The car ahead on the road of `car`, or the one behind for the leader.
fn rival_of(state: &RaceState, car: &CarState) -> Option<u8> {
    let at = state.cars.iter().position(|c| c.car_idx == car.car_idx)?;
    let other = if at == 0 { 1 } else { at - 1 };
    state.cars.get(other).map(|c| c.car_idx)
}

fn car(state: &RaceState, idx: u8) -> Option<&CarState> {
    state.cars.iter().find(|c| c.car_idx == idx)
}

/// The team's colour, grey when the feed's is not `#rrggbb`.
fn team_colour(car: &CarState) -> Colour {
    Colour::from_hex(&car.team.colour).unwrap_or(boxbox_charts::theme::DIM)
}

/// `(lap, lap time)` of a car's completed laps.
fn lap_times(records: &[LapRecord], car_idx: u8) -> Vec<(u32, f64)> {
    records
        .iter()
        .filter(|r| r.car_idx == car_idx)
        .map(|r| (r.lap, r.lap_time_s))
        .collect()
}

/// A car's stints from its lap records, in lap order.
fn past_stints(records: &[LapRecord], car_idx: u8) -> Vec<Stint> {
    let mut laps: Vec<&LapRecord> = records.iter().filter(|r| r.car_idx == car_idx).collect();
    sort_by_key(&mut laps, |r| r.lap);
    let mut stints: Vec<Stint> = Vec::new();
    let mut previous: Option<&LapRecord> = None;
    for r in laps {
        let same_set = previous
            .is_some_and(|p| p.compound == r.compound && r.tyre_age_laps >= p.tyre_age_laps);
        match stints.last_mut() {
            Some(last) if same_set => last.last_lap = r.lap,
            _ => stints.push(Stint {
                first_lap: r.lap,
                last_lap: r.lap,
                tyre: Tyre::from(r.compound),
                predicted: false,
            }),
        }
        previous = Some(r);
    }
    stints
}

#[cfg(test)]
mod tests {
    use super::*;
    use boxbox_engine::sim::{RaceSim, SimConfig};
    use boxbox_engine::twin::{TwinParams, Twins};
    use boxbox_engine::wire::{Compound, Corners, TrackStatus};

    fn record(car_idx: u8, lap: u32, compound: Compound, age: u32) -> LapRecord {
        LapRecord {
            car_idx,
            lap,
            lap_time_s: 90.0 + f64::from(lap) * 0.01,
            position: car_idx + 1,
            compound,
            tyre_age_laps: age,
            wear_pct: Corners::default(),
            fuel_kg: 50.0,
            track_status: TrackStatus::Green,
            pit_lane: false,
            sectors_s: [None; 3],
            ers_store_pct: 50.0,
            gap_to_leader_s: (car_idx > 0).then_some(f64::from(car_idx) * 1.5),
        }
    }

    /// A simulated race run to the end of lap `laps` with its twins (lap history and report).
    fn race(laps: u32) -> (RaceState, Twins) {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 11,
            total_laps: 30,
        });
        let mut twins = Twins::new(TwinParams::PIT_WALL);
        let mut state = sim.state();
        let mut t = 0.0;
        while state.session.leader_lap <= laps {
            t += 0.5;
            sim.advance_to(t);
            state = sim.state();
            twins.observe(&state);
        }
        (state, twins)
    }

    #[test]
    fn stints_split_where_the_compound_changes_or_the_set_is_new() {
        use Compound::{Hard, Medium};
        let mut records = Vec::new();
        // Car 0: laps 1–4 on mediums, a new set of mediums for 5–7, hards from 8.
        for lap in 1..=4 {
            records.push(record(0, lap, Medium, lap));
        }
        for lap in 5..=7 {
            records.push(record(0, lap, Medium, lap - 4));
        }
        for lap in (8..=9).rev() {
            records.push(record(0, lap, Hard, lap - 7));
        }
        let stints = past_stints(&records, 0);
        let spans: Vec<(u32, u32, Tyre)> = stints
            .iter()
            .map(|s| (s.first_lap, s.last_lap, s.tyre))
            .collect();
        assert_eq!(
            spans,
            vec![
                (1, 4, Tyre::Medium),
                (5, 7, Tyre::Medium),
                (8, 9, Tyre::Hard)
            ]
        );
        assert!(stints.iter().all(|s| !s.predicted));
        assert!(past_stints(&records, 3).is_empty());
    }

    #[test]
    fn a_live_race_maps_to_every_chart() {
        let (state, twins) = race(12);
        let report = twins.report(&state);
        let records = twins.records();
        let n = state.cars.len();
        let picked = state.cars[4].car_idx;
        let ahead = &state.cars[3];

        let laps = lap_time_chart(&state, records, Some(picked));
        assert_eq!(laps.series.len(), n);
        let codes: Vec<&str> = laps.series.iter().map(|s| s.label.as_str()).collect();
        // The selected car last (on top), its rival before it, dashed; the field faint.
        assert_eq!(codes[n - 1], state.cars[4].driver.code);
        assert_eq!(codes[n - 2], ahead.driver.code);
        assert!(laps.series[n - 2].dashed && !laps.series[n - 1].dashed);
        assert_eq!(
            laps.series[n - 1].colour,
            Colour::from_hex(&state.cars[4].team.colour).unwrap()
        );
        assert_ne!(
            laps.series[0].colour,
            Colour::from_hex(&state.cars[0].team.colour).unwrap(),
            "faint"
        );
        assert_eq!(
            laps.title,
            format!(
                "Lap times · {} vs {}",
                state.cars[4].driver.code, ahead.driver.code
            )
        );
        // Every completed lap of every car is a point.
        let points: usize = laps.series.iter().map(|s| s.points.len()).sum();
        assert_eq!(points, records.len());
        assert!(laps.series.iter().all(|s| s.points.len() >= 11));

        let trace = race_trace_chart(&state, records);
        assert_eq!(trace.series.len(), n);
        assert_eq!(trace.series[0].label, state.cars[0].driver.code);
        let leader_at_12 = records
            .iter()
            .find(|r| r.lap == 12 && r.position == 1)
            .unwrap()
            .car_idx;
        let leader = state.cars.iter().position(|c| c.car_idx == leader_at_12);
        assert!(
            trace.series[leader.unwrap()].points.contains(&(12, 0.0)),
            "the leader's gap is 0"
        );
        assert!(
            trace
                .series
                .iter()
                .flat_map(|s| &s.points)
                .all(|p| p.1 >= 0.0 && p.1.is_finite())
        );
        // Teams share a colour; the second car of each is dashed.
        assert_eq!(trace.series.iter().filter(|s| s.dashed).count(), n / 2);

        let stints = stint_chart(&state, records, Some(&report.field));
        assert_eq!((stints.rows.len(), stints.total_laps), (n, 30));
        for (row, car) in stints.rows.iter().zip(&state.cars) {
            assert_eq!(row.label, car.driver.code);
            let past: Vec<&Stint> = row.stints.iter().filter(|s| !s.predicted).collect();
            assert_eq!(past.first().map(|s| s.first_lap), Some(1), "{row:?}");
            assert_eq!(row.pit_laps.len(), past.len() - 1, "{row:?}");
            // Predicted stints continue the last one with the fitted compound.
            if let Some(p) = row.stints.iter().find(|s| s.predicted) {
                assert_eq!(p.first_lap, past.last().unwrap().last_lap + 1);
                assert_eq!(p.tyre, Tyre::from(car.tyres.compound));
                assert!(p.last_lap <= 30);
            }
        }
        assert!(
            stints
                .rows
                .iter()
                .any(|r| r.stints.iter().any(|s| s.predicted)),
            "the Field Twin predicts some stops by lap 12"
        );
        assert!(
            stint_chart(&state, records, None)
                .rows
                .iter()
                .all(|r| r.stints.iter().all(|s| !s.predicted))
        );

        // Jobs at a phone's and a desktop's width; they draw.
        for width in [360, 1400] {
            let jobs = chart_jobs(
                &state,
                records,
                Some(&report.field),
                Some(picked),
                None,
                width,
            );
            assert!(jobs.positions.is_none());
            for job in [
                &jobs.lap_times,
                &jobs.race_trace,
                &jobs.stints,
                &jobs.degradation,
                &jobs.sectors,
            ] {
                let svg = job.render().unwrap();
                assert!(svg.starts_with("<svg"), "{svg}");
                assert!(svg.contains(&format!("width=\"{}\"", job.width_px)));
                assert!(svg.contains(&state.cars[4].driver.code));
            }
        }
    }

    #[test]
    fn degradation_and_sectors_follow_the_focused_car() {
        let (state, twins) = race(14);
        let records = twins.records();
        let picked = &state.cars[5];
        let ahead = &state.cars[4];

        let deg = degradation_chart(&state, records, Some(picked.car_idx));
        assert!(deg.title.contains(&picked.driver.code), "{}", deg.title);
        assert!(!deg.stints.is_empty());
        let first = &deg.stints[0];
        // Clean laps only: not lap 1, fuel taken off (lighter than any raw lap of the car).
        let raw_min = records
            .iter()
            .filter(|r| r.car_idx == picked.car_idx)
            .map(|r| r.lap_time_s)
            .fold(f64::INFINITY, f64::min);
        assert!(
            first.points.len() >= 3 && first.points.len() < 14,
            "{first:?}"
        );
        assert!(first.points.iter().all(|(_, t)| *t < raw_min), "{first:?}");
        let fit = first
            .fit
            .as_ref()
            .expect("a fit through three laps or more");
        // Simulated tyres wear: the slope is positive and small, and the label says it.
        assert!(
            fit.slope_s_per_lap > 0.0 && fit.slope_s_per_lap < 0.5,
            "{fit:?}"
        );
        assert!(
            first.label.starts_with("1 ") && first.label.ends_with("s/lap"),
            "{}",
            first.label
        );
        // With nobody selected, the leader's.
        let leader = degradation_chart(&state, records, None);
        assert!(leader.title.contains(&state.cars[0].driver.code));

        let sectors = sector_chart(&state, records, Some(picked.car_idx));
        assert_eq!(
            sectors.title,
            format!("Sectors · {} vs {}", picked.driver.code, ahead.driver.code)
        );
        let laps_done = records
            .iter()
            .filter(|r| r.car_idx == picked.car_idx)
            .count();
        assert!(laps_done >= 13);
        assert_eq!(sectors.a.laps.len(), laps_done);
        assert!(sectors.a.laps.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(
            sectors
                .b
                .laps
                .iter()
                .all(|(_, s)| s.iter().all(Option::is_some)),
            "the simulator times every sector"
        );
        assert_eq!(
            sectors.b.colour,
            Colour::from_hex(&ahead.team.colour).unwrap()
        );
    }

    #[test]
    fn the_telemetry_chart_overlays_the_last_laps_of_two_cars() {
        let mut sim = RaceSim::new(&SimConfig {
            seed: 11,
            total_laps: 30,
        });
        let mut traces = LapTraces::new();
        let mut state = sim.state();
        let mut t = 0.0;
        let mut keys = Vec::new();
        while state.session.leader_lap <= 3 {
            t += 0.1;
            sim.advance_to(t);
            state = sim.state();
            traces.observe(&state);
            let key = lap_trace_key(&state, &traces, Some(state.cars[2].car_idx));
            if keys.last() != Some(&key) {
                keys.push(key);
            }
        }
        let picked = &state.cars[2];
        let chart = lap_trace_chart(&state, &traces, Some(picked.car_idx));
        assert_eq!(chart.series.len(), 2);
        assert_eq!(chart.series[0].label, picked.driver.code);
        assert_eq!(chart.series[1].label, state.cars[1].driver.code);
        assert!(!chart.series[0].dashed && chart.series[1].dashed);
        assert!(chart.series.iter().all(|s| s.samples.len() > 500));
        assert!(
            chart.title.starts_with(&format!(
                "Lap telemetry · {} lap 2 vs {} lap",
                picked.driver.code, state.cars[1].driver.code
            )),
            "{}",
            chart.title
        );
        assert_eq!(chart.lap_length_m, state.session.track_length_m);
        // The key moves when a lap completes (not every sample): a handful of changes over three laps.
        assert!(keys.len() >= 3 && keys.len() < 20, "{keys:?}");

        let job = lap_trace_job(&state, &traces, Some(picked.car_idx), 1000);
        let svg = job.render().unwrap();
        assert!(
            svg.contains(&picked.driver.code) && svg.contains("km/h"),
            "{svg}"
        );
        // Before any lap is whole: the empty state.
        let empty = lap_trace_job(&state, &LapTraces::new(), None, 1000);
        assert!(empty.render().unwrap().contains("no lap telemetry yet"));
    }

    #[test]
    fn no_laps_yet_draws_empty_states() {
        let (state, _) = race(0);
        let jobs = chart_jobs(&state, &[], None, None, None, 800);
        assert!(jobs.lap_times.render().unwrap().contains("no lap times"));
        assert!(
            jobs.race_trace
                .render()
                .unwrap()
                .contains("no gaps to show")
        );
        assert!(jobs.stints.render().unwrap().contains("<svg"));
    }

    #[test]
    fn the_monte_carlo_shows_from_the_best_expected_position() {
        use boxbox_engine::strategy::monte_carlo::DriverOutcome;
        let outcome = |code: &str, mean: f64, p: Vec<f64>| DriverOutcome {
            code: code.to_owned(),
            team: "T".to_owned(),
            position_probability: p,
            mean_position: mean,
            p_win: 0.0,
            p_podium: 0.0,
            p_points: 0.0,
            expected_points: 0.0,
            p_dnf: 0.0,
            race_time_mean_s: None,
            race_time_p5_s: None,
            race_time_p95_s: None,
        };
        let report = McReport {
            runs: 100,
            seed: 1,
            deterministic: false,
            sc_probability: 0.0,
            vsc_probability: 0.0,
            drivers: vec![
                outcome("BBB", 1.8, vec![0.2, 0.8]),
                outcome("AAA", 1.2, vec![0.8, 0.2]),
            ],
            warnings: Vec::new(),
        };
        let chart = position_chart(&report, 14);
        assert_eq!(chart.title, "Finishing positions · Monte Carlo from lap 14");
        let labels: Vec<&str> = chart.rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["AAA", "BBB"]);
        assert_eq!(chart.rows[0].probabilities, vec![0.8, 0.2]);
        let (state, _) = race(0);
        let jobs = chart_jobs(
            &state,
            &[],
            None,
            None,
            Some(Baseline {
                report: &report,
                from_lap: 14,
            }),
            800,
        );
        let svg = jobs.positions.unwrap().render().unwrap();
        assert!(svg.contains("AAA") && svg.contains("80"), "{svg}");
    }

    #[test]
    fn labels_from_the_feed_are_escaped_in_the_svg() {
        assert_eq!(label("HAM"), "HAM");
        assert_eq!(label("A\u{0}B\nC\u{7f}"), "ABC");
        assert_eq!(label("ABCDEFGHIJKLMNOP").chars().count(), MAX_LABEL_CHARS);
        let (mut state, twins) = race(3);
        state.cars[0].driver.code = "<img src=x onerror=alert(1)>".to_owned();
        state.cars[1].driver.code = "\"'&".to_owned();
        let picked = state.cars[0].car_idx;
        let jobs = chart_jobs(&state, twins.records(), None, Some(picked), None, 900);
        for job in [&jobs.lap_times, &jobs.race_trace, &jobs.stints] {
            let svg = job.render().unwrap();
            assert!(!svg.contains("<img"), "{svg}");
            assert!(svg.contains("&lt;img src=x o"), "{svg}");
            assert!(svg.contains("&quot;&apos;&amp;"), "{svg}");
        }
    }

    #[test]
    fn sizes_follow_the_container() {
        let phone = ChartSizes::for_width(327, 20);
        assert_eq!(phone.width_px, 320);
        assert_eq!(phone.lines_px, 320);
        assert_eq!(phone.stints_px, 90 + 22 * 20);
        let desk = ChartSizes::for_width(1404, 20);
        assert_eq!((desk.width_px, desk.lines_px), (1400, 480));
        assert_eq!(
            ChartSizes::for_width(0, 0).width_px,
            boxbox_charts::MIN_SIZE.0
        );
        assert!(ChartSizes::for_width(0, 0).stints_px >= boxbox_charts::MIN_SIZE.1);
        assert_eq!(ChartSizes::for_width(100_000, 1).width_px, MAX_SIDE_PX);
    }
}
