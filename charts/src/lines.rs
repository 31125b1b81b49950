//! Line charts by lap: lap times per driver ([`draw_lap_times`]) and the race trace, each driver's gap to the
//! leader ([`draw_race_trace`]).

use plotters::coord::Shift;
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend};
use plotters::style::ShapeStyle;

use crate::{ChartError, Colour, LegendEntry, theme};

/// One driver's line: a value per lap.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Series {
    /// Legend label, e.g. the driver's code.
    pub label: String,
    /// Line colour (the team's).
    pub colour: Colour,
    /// Draw the line dashed: the second driver of a team, who shares the colour.
    pub dashed: bool,
    /// `(lap, value)` points. A missing lap breaks the line; non-finite values are skipped.
    pub points: Vec<(u32, f64)>,
}

/// Lap times per driver.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LapTimeChart {
    /// Title above the chart.
    pub title: String,
    /// One series per driver; values are lap times in seconds.
    pub series: Vec<Series>,
}

/// The race trace: each driver's gap to the leader at the end of every lap.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RaceTraceChart {
    /// Title above the chart.
    pub title: String,
    /// One series per driver; values are gaps to the leader in seconds (`0` for the leader).
    pub series: Vec<Series>,
}

/// Draws lap times per driver. The y range is the racing pace ([`lap_time_range`]): slower laps (pit in- and
/// out-laps, laps behind a safety car, lap 1) are left out and break the line, so a few 30-second-slow laps do not
/// flatten every other lap.
///
/// # Errors
/// [`ChartError::TooSmall`] for an area under [`crate::MIN_SIZE`]; [`ChartError::Draw`] when the backend fails.
pub fn draw_lap_times<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &LapTimeChart,
) -> Result<(), ChartError> {
    crate::prepare(area)?;
    let Some(y_range) = lap_time_range(&chart.series) else {
        return crate::draw_empty(area, &chart.title, "no lap times");
    };
    draw_lines(
        area,
        &Lines {
            title: &chart.title,
            y_desc: "lap time (m:ss)",
            series: &chart.series,
            y_range,
            flip: false,
            y_label: &lap_time_label,
        },
    )
}

/// Draws the race trace: gap to the leader per lap, the leader along the top and the gaps growing downwards.
///
/// # Errors
/// As [`draw_lap_times`].
pub fn draw_race_trace<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &RaceTraceChart,
) -> Result<(), ChartError> {
    crate::prepare(area)?;
    let gaps = finite_values(&chart.series);
    let Some(max_gap) = gaps.iter().copied().reduce(f64::max) else {
        return crate::draw_empty(area, &chart.title, "no gaps to show");
    };
    let max_gap = max_gap.max(1.0);
    // Values are drawn negated so the leader (0) is at the top; the labels show them positive.
    draw_lines(
        area,
        &Lines {
            title: &chart.title,
            y_desc: "gap to the leader (s)",
            series: &chart.series,
            y_range: (-max_gap * 1.03, max_gap * 0.02),
            flip: true,
            y_label: &|y| format!("{:.0}", y.abs()),
        },
    )
}

/// The y range of the lap-time chart: from the fastest lap (but no lower than 93 % of the median) to the slowest
/// lap within Tukey's far fence, the third quartile plus three interquartile ranges (but no higher than 107 % of
/// the median), padded a little; `None` without any finite, positive lap time. The fastest laps and a slow car's
/// steady laps show; pit in- and out-laps, lap 1 and laps behind a safety car (20–60 % slower) fall outside.
pub fn lap_time_range(series: &[Series]) -> Option<(f64, f64)> {
    lap_time_range_of(finite_values(series))
}

/// [`lap_time_range`] of bare lap times in seconds (non-finite and non-positive ones are ignored).
pub(crate) fn lap_time_range_of(laps: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let mut laps: Vec<f64> = laps
        .into_iter()
        .filter(|&t| t.is_finite() && t > 0.0)
        .collect();
    laps.sort_by(f64::total_cmp);
    let (&fastest, median) = (laps.first()?, crate::quantile(&laps, 0.5));
    let lo = fastest.max(median * 0.93);
    let fence = crate::far_fence(&laps).min(median * 1.07);
    let slowest = laps
        .iter()
        .rev()
        .find(|&&t| t <= fence)
        .copied()
        .unwrap_or(median);
    let hi = slowest.max(lo + 0.5);
    let span = hi - lo;
    Some((lo - 0.04 * span, hi + 0.08 * span))
}

/// A lap time as `m:ss.s`.
pub(crate) fn lap_time_label(s: f64) -> String {
    let tenths = (s.max(0.0) * 10.0).round() as u64;
    format!(
        "{}:{:02}.{}",
        tenths / 600,
        (tenths % 600) / 10,
        tenths % 10
    )
}

fn finite_values(series: &[Series]) -> Vec<f64> {
    series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .collect()
}

/// What [`draw_lines`] needs besides the area.
struct Lines<'a> {
    title: &'a str,
    y_desc: &'a str,
    series: &'a [Series],
    /// Values outside it are left out (and break the line).
    y_range: (f64, f64),
    /// Draw `-value` (the labels undo it).
    flip: bool,
    y_label: &'a dyn Fn(f64) -> String,
}

fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &Lines<'_>,
) -> Result<(), ChartError> {
    let body = crate::titled(area, lines.title)?;
    let entries: Vec<LegendEntry> = lines
        .series
        .iter()
        .map(|s| LegendEntry::line(&s.label, s.colour, s.dashed))
        .collect();
    let plot = crate::with_legend(&body, &entries)?;
    let laps = lines
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0));
    let (first, last) = laps.fold((u32::MAX, 0), |(a, b), l| (a.min(l), b.max(l)));
    let (x0, x1) = if first > last {
        (0.0, 1.0)
    } else {
        (f64::from(first), f64::from(last.max(first + 1)))
    };
    let (y0, y1) = lines.y_range;
    let mut chart = ChartBuilder::on(&plot)
        .margin(8)
        .x_label_area_size(crate::X_LABEL_AREA)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let x_label = crate::lap_label;
    let y_label = |y: &f64| (lines.y_label)(*y);
    crate::themed_mesh(&mut chart.configure_mesh())
        .x_desc("lap")
        .y_desc(lines.y_desc)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .draw()?;
    let sign = if lines.flip { -1.0 } else { 1.0 };
    for series in lines.series {
        let style = ShapeStyle::from(&theme::rgb(series.colour)).stroke_width(2);
        for segment in segments(&series.points, sign, (y0, y1)) {
            crate::draw_run(&mut chart, segment, style, series.dashed)?;
        }
    }
    Ok(())
}

/// Splits points into runs of consecutive laps whose value (times `sign`) lies in `range`.
fn segments(points: &[(u32, f64)], sign: f64, range: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let mut sorted: Vec<(u32, f64)> = points.to_vec();
    sorted.sort_by_key(|p| p.0);
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut previous: Option<u32> = None;
    for (lap, value) in sorted {
        let y = sign * value;
        if !y.is_finite() || y < range.0 || y > range.1 {
            previous = None;
            continue;
        }
        let point = (f64::from(lap), y);
        match (previous, out.last_mut()) {
            (Some(p), Some(run)) if lap == p + 1 => run.push(point),
            _ => out.push(vec![point]),
        }
        previous = Some(lap);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render_svg;
    use crate::test_util::{count, polyline_strokes, texts};

    fn series(label: &str, colour: Colour, points: Vec<(u32, f64)>) -> Series {
        Series {
            label: label.to_owned(),
            colour,
            dashed: false,
            points,
        }
    }

    fn field() -> Vec<Series> {
        let mut ham: Vec<(u32, f64)> = (1..=30).map(|l| (l, 78.0 + 0.02 * f64::from(l))).collect();
        ham[0].1 = 86.0; // lap 1
        ham[14].1 = 97.0; // in-lap
        ham[15].1 = 99.0; // out-lap
        let vet: Vec<(u32, f64)> = (1..=30).map(|l| (l, 78.3 + 0.01 * f64::from(l))).collect();
        let lec: Vec<(u32, f64)> = (1..=20).map(|l| (l, 78.6)).collect();
        vec![
            series("HAM", Colour::rgb(0, 210, 190), ham),
            series("VET", Colour::rgb(220, 0, 0), vet),
            series("L<C&", Colour::rgb(30, 65, 255), lec),
        ]
    }

    fn lap_times_svg(series: Vec<Series>) -> String {
        let chart = LapTimeChart {
            title: "Lap times".to_owned(),
            series,
        };
        render_svg(900, 420, |a| draw_lap_times(a, &chart)).unwrap()
    }

    #[test]
    fn lap_times_draw_one_line_per_driver_without_the_slow_laps() {
        let svg = lap_times_svg(field());
        assert_eq!(
            polyline_strokes(&svg).len(),
            3 + 1, // the three drivers and the legend's lines share colours; the axis is the extra stroke
            "{:?}",
            polyline_strokes(&svg)
        );
        let texts = texts(&svg);
        assert!(texts.contains(&"Lap times".to_owned()), "{texts:?}");
        // Escaped by the backend.
        assert!(texts.contains(&"L&lt;C&amp;".to_owned()), "{texts:?}");
        for label in ["HAM", "VET", "lap", "lap time (m:ss)"] {
            assert!(texts.contains(&label.to_owned()), "{label}: {texts:?}");
        }
        // HAM's line breaks around lap 1 and the pit laps: laps 2–14 and 17–30, plus the legend's marker.
        let ham = svg
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains("#00D2BE"))
            .count();
        assert_eq!(ham, 3, "{svg}");
        let (lo, hi) = lap_time_range(&field()).unwrap();
        assert!(lo < 78.02 && hi > 78.6 && hi < 79.0, "{lo} {hi}");
    }

    #[test]
    fn the_same_input_gives_the_same_bytes() {
        assert_eq!(lap_times_svg(field()), lap_times_svg(field()));
    }

    #[test]
    fn empty_or_non_finite_input_draws_an_empty_state() {
        for series in [
            Vec::new(),
            vec![series("X", Colour::rgb(1, 2, 3), Vec::new())],
            vec![series("X", Colour::rgb(1, 2, 3), vec![(1, f64::NAN)])],
        ] {
            let svg = lap_times_svg(series);
            assert!(texts(&svg).contains(&"no lap times".to_owned()), "{svg}");
            assert_eq!(count(&svg, "<polyline"), 0, "{svg}");
        }
        let chart = RaceTraceChart {
            title: "Race trace".to_owned(),
            series: Vec::new(),
        };
        let svg = render_svg(900, 420, |a| draw_race_trace(a, &chart)).unwrap();
        assert!(texts(&svg).contains(&"no gaps to show".to_owned()), "{svg}");
    }

    #[test]
    fn a_single_lap_or_identical_values_do_not_break_the_axes() {
        let one = vec![series("ONE", Colour::rgb(9, 9, 9), vec![(5, 80.0)])];
        let svg = lap_times_svg(one);
        assert_eq!(count(&svg, "<circle"), 1, "{svg}");
    }

    #[test]
    fn the_race_trace_shows_every_gap_with_the_leader_on_top() {
        let leader: Vec<(u32, f64)> = (1..=10).map(|l| (l, 0.0)).collect();
        let second: Vec<(u32, f64)> = (1..=10).map(|l| (l, 0.8 * f64::from(l))).collect();
        let mut mate = series("BOT", Colour::rgb(0, 210, 190), second.clone());
        mate.dashed = true;
        let chart = RaceTraceChart {
            title: "Race trace".to_owned(),
            series: vec![
                series("HAM", Colour::rgb(0, 210, 190), leader),
                mate,
                series("VER", Colour::rgb(30, 65, 255), second),
            ],
        };
        let svg = render_svg(900, 420, |a| draw_race_trace(a, &chart)).unwrap();
        let texts = texts(&svg);
        for label in [
            "Race trace",
            "HAM",
            "BOT",
            "VER",
            "gap to the leader (s)",
            "0",
            "8",
        ] {
            assert!(texts.contains(&label.to_owned()), "{label}: {texts:?}");
        }
        assert!(!texts.iter().any(|t| t.starts_with('-')), "{texts:?}");
        // The dashed line is drawn in many short pieces.
        let teal = svg
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains("#00D2BE"))
            .count();
        assert!(teal > 10, "{teal}");
        let blue = svg
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains("#1E41FF"))
            .count();
        assert_eq!(blue, 2, "the line and its legend marker");
    }

    #[test]
    fn segments_split_at_gaps_and_outliers() {
        let points = [
            (3, 1.0),
            (1, 1.0),
            (2, 9.0),
            (4, 1.0),
            (6, 1.0),
            (7, f64::NAN),
        ];
        let runs = segments(&points, 1.0, (0.0, 5.0));
        assert_eq!(
            runs,
            vec![
                vec![(1.0, 1.0)],
                vec![(3.0, 1.0), (4.0, 1.0)],
                vec![(6.0, 1.0)]
            ]
        );
        assert_eq!(lap_time_label(77.25), "1:17.3");
        assert_eq!(lap_time_label(59.96), "1:00.0");
    }
}
