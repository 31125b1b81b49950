//! Tyre degradation ([`draw_tyre_degradation`]): lap time against tyre age, a stint's laps as dots in its compound's
//! colour and its fitted line through them.

use plotters::coord::Shift;
use plotters::element::Circle;
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend};
use plotters::style::{Color, ShapeStyle};

use crate::{ChartError, LegendEntry, Tyre, theme};

/// A straight line through a stint's lap times: `intercept_s + slope_s_per_lap · age`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LinearFit {
    /// The lap time at tyre age 0, in seconds.
    pub intercept_s: f64,
    /// How much slower each lap of tyre age makes a lap, in seconds per lap (negative: faster, e.g. as fuel burns).
    pub slope_s_per_lap: f64,
}

/// One stint's laps on one set of tyres.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DegradationStint {
    /// Legend label, e.g. `"HAM · stint 2"`.
    pub label: String,
    /// The set's compound: the dots' and the line's colour.
    pub tyre: Tyre,
    /// `(tyre age in laps, lap time in seconds)`. Non-finite and non-positive times are skipped.
    pub points: Vec<(u32, f64)>,
    /// The fitted line, drawn over the ages of the stint's points that are drawn; `None`: no line.
    pub fit: Option<LinearFit>,
}

/// Lap time against tyre age for several stints.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DegradationChart {
    /// Title above the chart.
    pub title: String,
    /// The stints, drawn in order (later ones on top).
    pub stints: Vec<DegradationStint>,
}

/// Draws every stint's lap times against tyre age and its fitted line, in the compound's colour. Stints on a
/// compound an earlier stint already used alternate filled dots and a solid line with open dots and a dashed
/// line, and from the third on are drawn darker. The y range is the lap-time chart's
/// ([`lap_time_range`](crate::lines::lap_time_range)): pit laps and laps behind the safety car fall outside and are
/// left out.
///
/// # Errors
/// [`ChartError::TooSmall`] for an area under [`crate::MIN_SIZE`]; [`ChartError::Draw`] when the backend fails.
pub fn draw_tyre_degradation<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &DegradationChart,
) -> Result<(), ChartError> {
    crate::prepare(area)?;
    let y_range = crate::lines::lap_time_range_of(
        chart
            .stints
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1)),
    );
    let Some((y0, y1)) = y_range else {
        return crate::draw_empty(area, &chart.title, "no stints with lap times yet");
    };
    let ages = chart.stints.iter().filter_map(|s| age_range(s, (y0, y1)));
    // The range holds the median lap time, so some lap lies within it.
    let (first_age, last_age) = ages
        .reduce(|(a0, a1), (b0, b1)| (a0.min(b0), a1.max(b1)))
        .unwrap_or((0, 1));
    let body = crate::titled(area, &chart.title)?;
    let looks = looks(&chart.stints);
    let entries: Vec<LegendEntry> = chart
        .stints
        .iter()
        .zip(&looks)
        .map(|(stint, look)| LegendEntry::line(&stint.label, look.colour, look.second))
        .collect();
    let plot = crate::with_legend(&body, &entries)?;
    let (x0, x1) = (f64::from(first_age) - 0.5, f64::from(last_age) + 0.5);
    let mut grid = ChartBuilder::on(&plot)
        .margin(8)
        .x_label_area_size(crate::X_LABEL_AREA)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let y_label = |y: &f64| crate::lines::lap_time_label(*y);
    crate::themed_mesh(&mut grid.configure_mesh())
        .x_desc("tyre age (laps)")
        .y_desc("lap time (m:ss)")
        .x_label_formatter(&crate::lap_label)
        .y_label_formatter(&y_label)
        .draw()?;
    for (stint, look) in chart.stints.iter().zip(&looks) {
        let colour = theme::rgb(look.colour);
        let dot = if look.second {
            ShapeStyle::from(&colour).stroke_width(1)
        } else {
            colour.filled()
        };
        let shown = stint
            .points
            .iter()
            .map(|&(age, time)| (f64::from(age), time))
            .filter(|&(_, time)| (y0..=y1).contains(&time));
        grid.draw_series(shown.map(|p| Circle::new(p, 3, dot)))?;
        let line = stint
            .fit
            .as_ref()
            .zip(age_range(stint, (y0, y1)))
            .and_then(|(fit, ages)| fit_segment(fit, ages, (y0, y1)));
        if let Some(line) = line {
            let style = ShapeStyle::from(&colour).stroke_width(2);
            crate::draw_run(&mut grid, line.to_vec(), style, look.second)?;
        }
    }
    Ok(())
}

/// How a stint is drawn, telling apart stints on the same compound.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Look {
    colour: crate::Colour,
    /// Open dots and a dashed line: every second stint on a compound.
    second: bool,
}

/// The stints' looks: the compound's colour, alternating solid and dashed between the stints on one compound, and
/// darker for each further pair.
fn looks(stints: &[DegradationStint]) -> Vec<Look> {
    stints
        .iter()
        .enumerate()
        .map(|(i, stint)| {
            let earlier = stints
                .iter()
                .take(i)
                .filter(|s| s.tyre == stint.tyre)
                .count();
            let darker = (0.3 * (earlier / 2) as f64).min(0.6);
            Look {
                colour: stint.tyre.colour().mix(theme::BACKGROUND, darker),
                second: earlier % 2 == 1,
            }
        })
        .collect()
}

/// The youngest and oldest tyre age with a lap time within `y_range` (the laps drawn); `None` without one.
fn age_range(stint: &DegradationStint, y_range: (f64, f64)) -> Option<(u32, u32)> {
    stint
        .points
        .iter()
        .filter(|p| (y_range.0..=y_range.1).contains(&p.1))
        .map(|p| (p.0, p.0))
        .reduce(|(a0, a1), (b0, b1)| (a0.min(b0), a1.max(b1)))
}

/// The fitted line over `ages`, cut to where it lies within `y_range`; `None` if it never does (or is not finite).
fn fit_segment(fit: &LinearFit, ages: (u32, u32), y_range: (f64, f64)) -> Option<[(f64, f64); 2]> {
    let at = |age: f64| fit.intercept_s + fit.slope_s_per_lap * age;
    let (mut a0, mut a1) = (f64::from(ages.0), f64::from(ages.1));
    let slope = fit.slope_s_per_lap;
    if !(at(a0).is_finite() && at(a1).is_finite()) {
        return None;
    }
    if slope != 0.0 {
        // The ages at which the line crosses the range's edges, in increasing order.
        let (e0, e1) = (
            (y_range.0 - fit.intercept_s) / slope,
            (y_range.1 - fit.intercept_s) / slope,
        );
        let (lo, hi) = if e0 <= e1 { (e0, e1) } else { (e1, e0) };
        (a0, a1) = (a0.max(lo), a1.min(hi));
    }
    let inside = |y: f64| (y_range.0 - 1e-9..=y_range.1 + 1e-9).contains(&y);
    (a0 <= a1 && inside(at(a0)) && inside(at(a1))).then(|| [(a0, at(a0)), (a1, at(a1))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render_svg;
    use crate::test_util::{count, polyline_strokes, texts};

    fn stint(
        label: &str,
        tyre: Tyre,
        base: f64,
        slope: f64,
        ages: std::ops::RangeInclusive<u32>,
    ) -> DegradationStint {
        DegradationStint {
            label: label.to_owned(),
            tyre,
            points: ages
                .map(|age| {
                    (
                        age,
                        base + slope * f64::from(age) + 0.05 * f64::from(age % 2),
                    )
                })
                .collect(),
            fit: Some(LinearFit {
                intercept_s: base,
                slope_s_per_lap: slope,
            }),
        }
    }

    fn chart() -> DegradationChart {
        DegradationChart {
            title: "Tyre degradation · HAM".to_owned(),
            stints: vec![
                stint("HAM · stint 1", Tyre::Medium, 80.0, 0.06, 1..=20),
                stint("HAM · stint 2", Tyre::Hard, 79.6, 0.03, 1..=30),
            ],
        }
    }

    fn svg(chart: &DegradationChart) -> String {
        render_svg(900, 420, |a| draw_tyre_degradation(a, chart)).unwrap()
    }

    fn hex(tyre: Tyre) -> String {
        tyre.colour().to_hex()
    }

    #[test]
    fn every_lap_is_a_dot_and_every_fit_a_line_in_the_compounds_colour() {
        let svg = svg(&chart());
        let texts = texts(&svg);
        for label in [
            "Tyre degradation · HAM",
            "HAM · stint 1",
            "HAM · stint 2",
            "tyre age (laps)",
            "lap time (m:ss)",
            "1:20.0",
        ] {
            assert!(texts.contains(&label.to_owned()), "{label}: {texts:?}");
        }
        let dots = |tyre: Tyre| {
            svg.lines()
                .filter(|l| {
                    l.starts_with("<circle") && l.contains(&format!("fill=\"{}\"", hex(tyre)))
                })
                .count()
        };
        assert_eq!(dots(Tyre::Medium), 20, "{svg}");
        assert_eq!(dots(Tyre::Hard), 30, "{svg}");
        // A fit line and a legend marker per stint.
        let lines = |tyre: Tyre| {
            count(
                &svg,
                &format!(
                    "<polyline fill=\"none\" opacity=\"1\" stroke=\"{}\"",
                    hex(tyre)
                ),
            )
        };
        assert_eq!(lines(Tyre::Medium), 2, "{svg}");
        assert_eq!(lines(Tyre::Hard), 2, "{svg}");
        assert!(polyline_strokes(&svg).contains(&hex(Tyre::Hard)));
    }

    #[test]
    fn stints_on_one_compound_are_told_apart() {
        let mut chart = chart();
        chart
            .stints
            .push(stint("VER · stint 1", Tyre::Medium, 80.2, 0.05, 1..=15));
        chart
            .stints
            .push(stint("VER · stint 2", Tyre::Medium, 80.1, 0.04, 1..=10));
        let looks = looks(&chart.stints);
        assert_eq!(looks[0].colour, Tyre::Medium.colour());
        assert!(!looks[0].second && looks[2].second && !looks[3].second);
        assert_ne!(looks[3].colour, looks[0].colour, "the third is darker");
        let svg = svg(&chart);
        let medium = format!("stroke=\"{}\"", hex(Tyre::Medium));
        // VER's first stint: open dots and a dashed line (many short pieces).
        let open = svg
            .lines()
            .filter(|l| {
                l.starts_with("<circle") && l.contains("fill=\"none\"") && l.contains(&medium)
            })
            .count();
        assert_eq!(open, 15, "{svg}");
        let pieces = svg
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(&medium))
            .count();
        assert!(pieces > 10, "{pieces}");
    }

    #[test]
    fn a_pit_lap_does_not_stretch_the_y_axis() {
        let mut chart = chart();
        chart.stints[0].points.push((21, 101.5));
        chart.stints[1].points.push((0, f64::NAN));
        chart.stints[1].points.push((31, -3.0));
        let svg = svg(&chart);
        let texts = texts(&svg);
        let times: Vec<&String> = texts.iter().filter(|t| t.starts_with("1:")).collect();
        assert!(times.len() >= 3, "{texts:?}");
        assert!(times.iter().all(|t| t.as_str() < "1:24"), "{times:?}");
        // The pit lap is left out: still 20 medium dots.
        let medium = format!("fill=\"{}\"", hex(Tyre::Medium));
        let dots = svg
            .lines()
            .filter(|l| l.starts_with("<circle") && l.contains(&medium))
            .count();
        assert_eq!(dots, 20, "{svg}");
        // Nor does it lengthen the fitted line (drawn after the legend's marker): it ends at the last dot, age 20.
        let medium_line = svg
            .lines()
            .rfind(|l| {
                l.starts_with("<polyline")
                    && l.contains(&format!("stroke=\"{}\"", hex(Tyre::Medium)))
            })
            .unwrap();
        let points = medium_line.split("points=\"").nth(1).unwrap();
        let end = points.split(' ').rfind(|p| p.contains(',')).unwrap();
        let end_x: i32 = end.split(',').next().unwrap().parse().unwrap();
        let last_dot_x = svg
            .lines()
            .filter(|l| l.starts_with("<circle") && l.contains(&medium))
            .filter_map(|l| {
                l.split("cx=\"")
                    .nth(1)?
                    .split('"')
                    .next()?
                    .parse::<i32>()
                    .ok()
            })
            .max()
            .unwrap();
        assert_eq!(end_x, last_dot_x, "{svg}");
    }

    #[test]
    fn a_fit_leaving_the_range_is_cut_at_its_edge() {
        let fit = LinearFit {
            intercept_s: 80.0,
            slope_s_per_lap: 1.0,
        };
        assert_eq!(
            fit_segment(&fit, (0, 20), (79.0, 85.0)),
            Some([(0.0, 80.0), (5.0, 85.0)])
        );
        assert_eq!(fit_segment(&fit, (10, 20), (79.0, 85.0)), None);
        let flat = LinearFit {
            intercept_s: 80.0,
            slope_s_per_lap: 0.0,
        };
        assert_eq!(
            fit_segment(&flat, (3, 3), (79.0, 85.0)),
            Some([(3.0, 80.0), (3.0, 80.0)])
        );
        let nan = LinearFit {
            intercept_s: f64::NAN,
            slope_s_per_lap: 0.1,
        };
        assert_eq!(fit_segment(&nan, (0, 20), (79.0, 85.0)), None);
    }

    #[test]
    fn odd_input_draws_without_panicking() {
        let one = DegradationStint {
            label: "ONE".to_owned(),
            tyre: Tyre::Soft,
            points: vec![(0, 90.0)],
            fit: Some(LinearFit {
                intercept_s: f64::INFINITY,
                slope_s_per_lap: f64::NAN,
            }),
        };
        let no_fit = DegradationStint {
            fit: None,
            ..stint("NOFIT", Tyre::Wet, 1e300, 1e290, 0..=3)
        };
        let svg = svg(&DegradationChart {
            title: "odd".to_owned(),
            stints: vec![one.clone(), no_fit],
        });
        assert!(texts(&svg).contains(&"ONE".to_owned()), "{svg}");
        let svg = self::svg(&DegradationChart {
            title: "one".to_owned(),
            stints: vec![one],
        });
        assert_eq!(count(&svg, "<circle"), 1, "{svg}");
        let min = crate::MIN_SIZE;
        render_svg(min.0, min.1, |a| draw_tyre_degradation(a, &chart())).unwrap();
    }

    #[test]
    fn no_lap_times_is_an_empty_state_and_a_tiny_area_an_error() {
        let without_times = DegradationStint {
            points: vec![(1, f64::NAN), (2, 0.0)],
            ..stint("X", Tyre::Soft, 80.0, 0.1, 1..=1)
        };
        for stints in [Vec::new(), vec![without_times]] {
            let svg = svg(&DegradationChart {
                title: "t".to_owned(),
                stints,
            });
            assert!(
                texts(&svg).contains(&"no stints with lap times yet".to_owned()),
                "{svg}"
            );
            assert_eq!(count(&svg, "<polyline"), 0, "{svg}");
        }
        let err = render_svg(300, 150, |a| draw_tyre_degradation(a, &chart())).unwrap_err();
        assert!(
            matches!(err, ChartError::TooSmall { height: 150, .. }),
            "{err}"
        );
    }
}
