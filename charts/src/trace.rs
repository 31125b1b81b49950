//! Lap telemetry against distance ([`draw_lap_trace`]): speed, throttle, brake and gear in four panels stacked over
//! one distance axis, one series per lap so a second driver's lap lies over the first.

use plotters::coord::Shift;
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend};
use plotters::style::ShapeStyle;

use crate::{ChartError, Colour, LegendEntry, theme};

/// One telemetry sample of a lap.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TraceSample {
    /// Distance from the start line along the lap, in metres. Samples with a non-finite or negative distance, or
    /// one beyond the lap, are skipped.
    pub distance_m: f64,
    /// Speed, in km/h (non-finite: skipped in the speed panel only; the axis ends at 1000 km/h at most).
    pub speed_kph: f64,
    /// Throttle pedal in `0.0..=100.0` percent (values outside are clamped; non-finite ones skipped).
    pub throttle_pct: f64,
    /// Brake pedal in `0.0..=100.0` percent (values outside are clamped; non-finite ones skipped).
    pub brake_pct: f64,
    /// Gear, `1..=8`; `0` is neutral and reverse (`-1`) is drawn as neutral.
    pub gear: i8,
}

/// One lap's telemetry: a driver's line in every panel.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TraceSeries {
    /// Legend label, e.g. the driver's code and lap.
    pub label: String,
    /// Line colour (the team's).
    pub colour: Colour,
    /// Draw the lines dashed: the second driver of a team, who shares the colour.
    pub dashed: bool,
    /// The samples, in any order (they are sorted by distance).
    pub samples: Vec<TraceSample>,
}

/// Telemetry traces of one or more laps of a circuit.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LapTraceChart {
    /// Title above the chart.
    pub title: String,
    /// Length of the lap, in metres: the distance axis runs from 0 to it. When it is not finite and positive, the
    /// axis ends at the farthest sample.
    pub lap_length_m: f64,
    /// One series per lap; overlaid in every panel.
    pub series: Vec<TraceSeries>,
}

/// Where two samples are farther apart than this share of the lap, the telemetry between them is missing: the
/// lines break there rather than bridge it.
const MAX_GAP_SHARE: f64 = 0.04;

/// Draws speed (the tallest panel), throttle, brake and gear against distance, each series in its colour, with the
/// legend on the right. Lines break where consecutive samples are more than 4 % of the lap apart (the telemetry
/// between them is missing, not a straight line); gear is drawn as steps.
///
/// # Errors
/// [`ChartError::TooSmall`] for an area under [`crate::MIN_SIZE`]; [`ChartError::Draw`] when the backend fails.
pub fn draw_lap_trace<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &LapTraceChart,
) -> Result<(), ChartError> {
    crate::prepare(area)?;
    let farthest = chart
        .series
        .iter()
        .flat_map(|s| s.samples.iter().map(|p| p.distance_m))
        .filter(|d| d.is_finite())
        .fold(0.0, f64::max);
    let lap_length_m = if chart.lap_length_m.is_finite() && chart.lap_length_m > 0.0 {
        chart.lap_length_m
    } else {
        farthest
    };
    let laps: Vec<Vec<&TraceSample>> = chart
        .series
        .iter()
        .map(|s| samples_on_lap(&s.samples, lap_length_m))
        .collect();
    if !laps.iter().any(|lap| lap.len() >= 2) {
        return crate::draw_empty(area, &chart.title, "no lap telemetry yet");
    }
    // Every sample may stand at 0 m: give the axis some length.
    let x_max = if lap_length_m > 0.0 {
        lap_length_m
    } else {
        1.0
    };
    let body = crate::titled(area, &chart.title)?;
    let entries: Vec<LegendEntry> = chart
        .series
        .iter()
        .map(|s| LegendEntry::line(&s.label, s.colour, s.dashed))
        .collect();
    let plot = crate::with_legend(&body, &entries)?;
    let top_speed = laps
        .iter()
        .flatten()
        .map(|p| p.speed_kph)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let channels = channels(top_speed);
    let weights: Vec<u32> = channels.iter().map(|c| c.weight).collect();
    let panels = crate::stacked_panels(&plot, &weights);
    // Distances are wide labels: about one per 80 px.
    let x_labels = usize::try_from(plot.dim_in_pixel().0 / 80)
        .unwrap_or(2)
        .max(2);
    let last = channels.len() - 1;
    for (i, (channel, panel)) in channels.iter().zip(&panels).enumerate() {
        let bottom = i == last;
        let (lo, hi) = channel.range;
        let pad = 0.04 * (hi - lo);
        let mut grid = ChartBuilder::on(panel)
            .margin(4)
            .margin_right(8)
            .x_label_area_size(if bottom { crate::X_LABEL_AREA } else { 0 })
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, lo - pad..hi + pad)?;
        let x_label = |x: &f64| format!("{x:.0}");
        let y_label = |y: &f64| format!("{y:.0}");
        let mut mesh = grid.configure_mesh();
        crate::themed_mesh(&mut mesh)
            .y_desc(channel.desc)
            .y_labels(channel.y_labels)
            .x_labels(x_labels)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label);
        if bottom {
            mesh.x_desc("distance (m)");
        }
        mesh.draw()?;
        for (series, lap) in chart.series.iter().zip(&laps) {
            let style = ShapeStyle::from(&theme::rgb(series.colour)).stroke_width(2);
            for run in runs(lap, channel, MAX_GAP_SHARE * x_max) {
                crate::draw_run(&mut grid, run, style, series.dashed)?;
            }
        }
    }
    Ok(())
}

/// One panel: a value of the samples and how to draw it.
struct Channel {
    /// The y axis' description.
    desc: &'static str,
    /// The value's range; values outside are clamped into it.
    range: (f64, f64),
    /// How many y labels at most.
    y_labels: usize,
    /// The panel's share of the height.
    weight: u32,
    value: fn(&TraceSample) -> f64,
    /// Hold each value until the next sample (a step line) rather than interpolate.
    step: bool,
}

/// The speed axis' top at most: faster samples (bad data) are drawn at the top.
const MAX_SPEED_KPH: f64 = 1000.0;

/// The four panels, top to bottom: speed takes 40 % of the height, up to `top_speed` km/h.
fn channels(top_speed: f64) -> [Channel; 4] {
    [
        Channel {
            desc: "km/h",
            range: (0.0, (top_speed * 1.02).clamp(10.0, MAX_SPEED_KPH)),
            y_labels: 6,
            weight: 2,
            value: |p| p.speed_kph,
            step: false,
        },
        Channel {
            desc: "throttle %",
            range: (0.0, 100.0),
            y_labels: 3,
            weight: 1,
            value: |p| p.throttle_pct,
            step: false,
        },
        Channel {
            desc: "brake %",
            range: (0.0, 100.0),
            y_labels: 3,
            weight: 1,
            value: |p| p.brake_pct,
            step: false,
        },
        Channel {
            desc: "gear",
            range: (0.0, 8.0),
            y_labels: 5,
            weight: 1,
            value: |p| f64::from(p.gear),
            step: true,
        },
    ]
}

/// The samples within the lap (`0..=lap_length_m`), sorted by distance.
fn samples_on_lap(samples: &[TraceSample], lap_length_m: f64) -> Vec<&TraceSample> {
    let mut on_lap: Vec<&TraceSample> = samples
        .iter()
        .filter(|p| p.distance_m.is_finite() && (0.0..=lap_length_m).contains(&p.distance_m))
        .collect();
    on_lap.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    on_lap
}

/// Splits a lap's sorted samples into runs of `(distance, value)` points no more than `max_gap_m` apart, skipping
/// non-finite values and clamping the rest into the channel's range.
fn runs(lap: &[&TraceSample], channel: &Channel, max_gap_m: f64) -> Vec<Vec<(f64, f64)>> {
    let (lo, hi) = channel.range;
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut previous: Option<(f64, f64)> = None;
    for sample in lap {
        let value = (channel.value)(sample);
        if !value.is_finite() {
            continue;
        }
        let point = (sample.distance_m, value.clamp(lo, hi));
        match (previous, out.last_mut()) {
            (Some((x, y)), Some(run)) if point.0 - x <= max_gap_m => {
                if channel.step && y != point.1 {
                    run.push((point.0, y));
                }
                run.push(point);
            }
            _ => out.push(vec![point]),
        }
        previous = Some(point);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render_svg;
    use crate::test_util::{count, texts};

    const TEAL: Colour = Colour::rgb(0, 210, 190);
    const BLUE: Colour = Colour::rgb(30, 65, 255);

    fn sample(distance_m: f64) -> TraceSample {
        let phase = distance_m / 400.0;
        TraceSample {
            distance_m,
            speed_kph: 200.0 + 100.0 * phase.sin(),
            throttle_pct: if phase.sin() > 0.0 { 100.0 } else { 20.0 },
            brake_pct: if phase.sin() < -0.8 { 80.0 } else { 0.0 },
            gear: (5.0 + 3.0 * phase.sin()).round() as i8,
        }
    }

    fn series(label: &str, colour: Colour, distances: impl Iterator<Item = f64>) -> TraceSeries {
        TraceSeries {
            label: label.to_owned(),
            colour,
            dashed: false,
            samples: distances.map(sample).collect(),
        }
    }

    fn every_10_m(from: u32, to: u32) -> impl Iterator<Item = f64> {
        (from / 10..=to / 10).map(|i| f64::from(i) * 10.0)
    }

    fn svg(chart: &LapTraceChart) -> String {
        render_svg(900, 600, |a| draw_lap_trace(a, chart)).unwrap()
    }

    /// The `<polyline>`s in `colour`: the series' lines and its legend marker.
    fn polylines(svg: &str, colour: Colour) -> usize {
        svg.lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(&colour.to_hex()))
            .count()
    }

    fn chart(series: Vec<TraceSeries>) -> LapTraceChart {
        LapTraceChart {
            title: "Lap 12 · HAM v VER".to_owned(),
            lap_length_m: 5000.0,
            series,
        }
    }

    #[test]
    fn four_panels_with_both_drivers_and_the_legend() {
        let mut ver = series("VER", BLUE, every_10_m(0, 5000));
        ver.dashed = true;
        let svg = svg(&chart(vec![series("HAM", TEAL, every_10_m(0, 5000)), ver]));
        let texts = texts(&svg);
        for label in [
            "Lap 12 · HAM v VER",
            "HAM",
            "VER",
            "km/h",
            "throttle %",
            "brake %",
            "gear",
            "distance (m)",
            "5000",
        ] {
            assert!(texts.contains(&label.to_owned()), "{label}: {texts:?}");
        }
        assert_eq!(count(&svg, "distance (m)"), 1, "bottom panel only");
        // One unbroken line per panel, and the legend's marker.
        assert_eq!(polylines(&svg, TEAL), 4 + 1, "{svg}");
        // The dashed one is drawn in many short pieces.
        assert!(polylines(&svg, BLUE) > 100, "{}", polylines(&svg, BLUE));
    }

    #[test]
    fn missing_telemetry_breaks_every_line() {
        // Nothing between 2000 m and 3000 m (a fifth of the lap), and a single sample at 4000 m between two gaps.
        let distances = every_10_m(0, 2000)
            .chain(every_10_m(3000, 3600))
            .chain(std::iter::once(4000.0));
        let svg = svg(&chart(vec![series("HAM", TEAL, distances)]));
        assert_eq!(polylines(&svg, TEAL), 2 * 4 + 1, "{svg}");
        // The lone sample is a dot in each panel.
        assert_eq!(count(&svg, "<circle"), 4, "{svg}");
        // Samples 4 % of the lap apart are still joined.
        let sparse = (0..=25).map(|i| f64::from(i) * 200.0);
        let svg = self::svg(&chart(vec![series("HAM", TEAL, sparse)]));
        assert_eq!(polylines(&svg, TEAL), 4 + 1, "{svg}");
    }

    #[test]
    fn unsorted_samples_draw_as_sorted_ones() {
        let sorted = chart(vec![series("HAM", TEAL, every_10_m(0, 5000))]);
        let mut shuffled = sorted.clone();
        shuffled.series[0].samples.reverse();
        shuffled.series[0].samples.swap(3, 300);
        assert_eq!(svg(&sorted), svg(&shuffled));
    }

    #[test]
    fn gear_is_a_step_line() {
        let at = |distance_m: f64, gear: i8| TraceSample {
            gear,
            ..sample(distance_m)
        };
        let lap = [at(0.0, 3), at(10.0, 3), at(20.0, 4), at(30.0, 9)];
        let lap: Vec<&TraceSample> = lap.iter().collect();
        let [_, _, _, gear] = channels(300.0);
        assert_eq!(
            runs(&lap, &gear, 200.0),
            [vec![
                (0.0, 3.0),
                (10.0, 3.0),
                (20.0, 3.0),
                (20.0, 4.0),
                (30.0, 4.0),
                (30.0, 8.0)
            ]]
        );
    }

    #[test]
    fn odd_input_draws_without_panicking() {
        let mut odd = series("ODD", TEAL, every_10_m(0, 1000));
        odd.samples[5].distance_m = f64::NAN;
        odd.samples[6].speed_kph = f64::INFINITY;
        odd.samples[7].throttle_pct = 250.0;
        odd.samples[8].brake_pct = -5.0;
        odd.samples[9].gear = -1;
        odd.samples[10].distance_m = -20.0;
        let svg = svg(&LapTraceChart {
            lap_length_m: f64::NAN,
            ..chart(vec![odd])
        });
        let texts = texts(&svg);
        assert!(texts.contains(&"1000".to_owned()), "{texts:?}");
        assert!(!texts.iter().any(|t| t.starts_with('-')), "{texts:?}");
        // Absurd values.
        let mut huge = series("HUGE", TEAL, every_10_m(0, 1000));
        huge.samples[3].speed_kph = f64::MAX;
        huge.samples[4].distance_m = 1e300;
        let svg = self::svg(&LapTraceChart {
            lap_length_m: f64::MAX,
            ..chart(vec![huge])
        });
        assert!(
            crate::test_util::texts(&svg).contains(&"1000".to_owned()),
            "{svg}"
        );
        // Every sample at 0 m, with no lap length.
        let at_start = series("A", TEAL, [0.0, 0.0].into_iter());
        let svg = self::svg(&LapTraceChart {
            lap_length_m: 0.0,
            ..chart(vec![at_start])
        });
        assert!(svg.contains("km/h"), "{svg}");
        // The smallest area.
        let min = crate::MIN_SIZE;
        let full = chart(vec![series("HAM", TEAL, every_10_m(0, 5000))]);
        render_svg(min.0, min.1, |a| draw_lap_trace(a, &full)).unwrap();
    }

    #[test]
    fn no_usable_samples_is_an_empty_state() {
        let one = series("ONE", TEAL, std::iter::once(100.0));
        let nan = series("NAN", BLUE, [f64::NAN, f64::NAN, 9000.0].into_iter());
        for series in [Vec::new(), vec![one, nan]] {
            let svg = svg(&chart(series));
            assert!(
                texts(&svg).contains(&"no lap telemetry yet".to_owned()),
                "{svg}"
            );
            assert_eq!(count(&svg, "<polyline"), 0, "{svg}");
        }
    }

    #[test]
    fn a_tiny_area_is_an_error() {
        let chart = chart(vec![series("HAM", TEAL, every_10_m(0, 5000))]);
        let err = render_svg(200, 100, |a| draw_lap_trace(a, &chart)).unwrap_err();
        assert!(
            matches!(
                err,
                ChartError::TooSmall {
                    width: 200,
                    height: 100
                }
            ),
            "{err}"
        );
    }
}
