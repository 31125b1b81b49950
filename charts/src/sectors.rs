//! Two drivers' sector times compared lap by lap ([`draw_sector_comparison`]): a panel per sector, a bar per lap
//! from zero to the difference, coloured by whoever was faster.

use std::collections::BTreeMap;

use plotters::coord::Shift;
use plotters::element::{PathElement, Rectangle};
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend};
use plotters::style::{Color, ShapeStyle};

use crate::{ChartError, Colour, LegendEntry, Marker, theme};

/// One driver's sector times.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SectorLaps {
    /// The driver's name in the legend and the panel captions, e.g. the driver's code.
    pub label: String,
    /// The driver's colour (the team's).
    pub colour: Colour,
    /// `(lap, [S1, S2, S3])`: sector times in seconds per lap, `None` where not timed. Non-finite and non-positive
    /// times count as not timed; for a lap given twice the last entry counts.
    pub laps: Vec<(u32, [Option<f64>; 3])>,
}

/// Driver `a` against driver `b`, sector by sector.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SectorChart {
    /// Title above the chart.
    pub title: String,
    /// The driver whose times the bars start from: a bar below zero is a lap where `a` was faster.
    pub a: SectorLaps,
    /// The driver compared against.
    pub b: SectorLaps,
}

/// Draws three panels, S1 to S3 top to bottom: for every lap both drivers have the sector's time, a bar of
/// `a − b` seconds, in `a`'s colour where `a` was faster and in `b`'s otherwise (outlined when the two share a
/// colour, as team-mates do). Each panel's y range is symmetric around zero and leaves out far outliers (pit laps,
/// laps behind the safety car): their bars stop at the panel's edge. The caption gives the median difference per
/// lap and who it favours.
///
/// # Errors
/// [`ChartError::TooSmall`] for an area under [`crate::MIN_SIZE`]; [`ChartError::Draw`] when the backend fails.
pub fn draw_sector_comparison<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &SectorChart,
) -> Result<(), ChartError> {
    crate::prepare(area)?;
    let sectors = sector_deltas(&chart.a, &chart.b);
    let laps = sectors.iter().flatten().map(|d| d.0);
    let (first, last) = laps.fold((u32::MAX, 0), |(a, b), l| (a.min(l), b.max(l)));
    if first > last {
        return crate::draw_empty(area, &chart.title, "no sector times to compare");
    }
    let body = crate::titled(area, &chart.title)?;
    let (a_fill, b_fill) = (theme::rgb(chart.a.colour), theme::rgb(chart.b.colour));
    let b_style = if chart.a.colour == chart.b.colour {
        ShapeStyle::from(&b_fill).stroke_width(1)
    } else {
        b_fill.filled()
    };
    let entries = [
        LegendEntry {
            label: format!("{} faster", chart.a.label),
            colour: chart.a.colour,
            marker: Marker::Box,
        },
        LegendEntry {
            label: format!("{} faster", chart.b.label),
            colour: chart.b.colour,
            marker: if b_style.filled {
                Marker::Box
            } else {
                Marker::Outline
            },
        },
    ];
    let plot = crate::with_legend(&body, &entries)?;
    let panels = crate::stacked_panels(&plot, &[1, 1, 1]);
    let (x0, x1) = (f64::from(first) - 0.5, f64::from(last) + 0.5);
    let y_desc = format!("{} − {} (s)", chart.a.label, chart.b.label);
    for (i, (deltas, panel)) in sectors.iter().zip(&panels).enumerate() {
        let bottom = i + 1 == panels.len();
        let limit = clip_limit(deltas);
        let mut grid = ChartBuilder::on(panel)
            .margin(4)
            .margin_right(8)
            .caption(caption(i + 1, deltas, chart), theme::caption_style())
            .x_label_area_size(if bottom { crate::X_LABEL_AREA } else { 0 })
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, -limit..limit)?;
        let (decimals, scale) = if limit < 1.0 { (2, 100.0) } else { (1, 10.0) };
        // Round first so a tick a hair below zero reads `0.00`, not `-0.00`.
        let y_label = |y: &f64| format!("{:.decimals$}", (y * scale).round() / scale + 0.0);
        let mut mesh = grid.configure_mesh();
        crate::themed_mesh(&mut mesh)
            .y_desc(y_desc.as_str())
            .y_labels(5)
            .x_label_formatter(&crate::lap_label)
            .y_label_formatter(&y_label);
        if bottom {
            mesh.x_desc("lap");
        }
        mesh.draw()?;
        grid.draw_series(deltas.iter().map(|&(lap, delta)| {
            let x = f64::from(lap);
            let top = delta.clamp(-limit, limit);
            let style = if delta < 0.0 {
                a_fill.filled()
            } else {
                b_style
            };
            Rectangle::new([(x - 0.4, 0.0), (x + 0.4, top)], style)
        }))?;
        grid.draw_series(std::iter::once(PathElement::new(
            vec![(x0, 0.0), (x1, 0.0)],
            theme::axis_style(),
        )))?;
    }
    Ok(())
}

/// Per sector, `(lap, a − b)` for the laps both drivers have that sector's time, sorted by lap.
fn sector_deltas(a: &SectorLaps, b: &SectorLaps) -> [Vec<(u32, f64)>; 3] {
    let timed = |laps: &SectorLaps| -> BTreeMap<u32, [Option<f64>; 3]> {
        laps.laps
            .iter()
            .map(|&(lap, times)| (lap, times.map(|t| t.filter(|t| t.is_finite() && *t > 0.0))))
            .collect()
    };
    let (a, b) = (timed(a), timed(b));
    std::array::from_fn(|s| {
        a.iter()
            .filter_map(|(lap, times)| {
                let (ta, tb) = (times[s]?, b.get(lap)?[s]?);
                Some((*lap, ta - tb)).filter(|d| d.1.is_finite())
            })
            .collect()
    })
}

/// Half the height of a panel, in seconds: the largest difference that is not a far outlier (beyond Tukey's far
/// fence of the sizes of the differences), or the 90th percentile of the sizes if that is larger, padded a little
/// (at least 0.055 s).
fn clip_limit(deltas: &[(u32, f64)]) -> f64 {
    let mut sizes: Vec<f64> = deltas.iter().map(|d| d.1.abs()).collect();
    sizes.sort_by(f64::total_cmp);
    let fence = crate::far_fence(&sizes);
    let within = sizes.iter().rev().find(|&&s| s <= fence).copied();
    // `f64::max` ignores the NaN quantile of no laps. The cap keeps absurd times from overflowing the axis.
    let limit = within
        .unwrap_or(0.0)
        .max(crate::quantile(&sizes, 0.9))
        .clamp(0.05, 1e9);
    limit * 1.1
}

/// A panel's caption: the sector and the median difference per lap, named by the driver it favours.
fn caption(sector: usize, deltas: &[(u32, f64)], chart: &SectorChart) -> String {
    let mut sorted: Vec<f64> = deltas.iter().map(|d| d.1).collect();
    if sorted.is_empty() {
        return format!("S{sector} · no laps to compare");
    }
    sorted.sort_by(f64::total_cmp);
    let median = crate::quantile(&sorted, 0.5);
    let faster = if median < 0.0 { &chart.a } else { &chart.b };
    if median.abs() < 0.0005 {
        format!("S{sector} · level (median)")
    } else {
        format!(
            "S{sector} · {} −{:.3} s/lap (median)",
            faster.label,
            median.abs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render_svg;
    use crate::test_util::{count, texts};

    const TEAL: Colour = Colour::rgb(0, 210, 190);
    const BLUE: Colour = Colour::rgb(30, 65, 255);

    /// HAM 0.142 s faster in S1 (0.242 s every fifth lap), VER 0.2 s faster in S2 and 0 to 0.02 s in S3; lap 10
    /// is HAM's in-lap (S3 25 s slower) and VER has no S2 on lap 5.
    fn chart() -> SectorChart {
        let ham = (1..=20)
            .map(|lap| {
                let wobble = 0.01 * f64::from(lap % 3);
                let s3 = if lap == 10 { 55.0 } else { 30.0 + wobble };
                (lap, [Some(25.0), Some(30.2), Some(s3)])
            })
            .collect();
        let ver = (1..=20)
            .map(|lap| {
                let s2 = if lap == 5 { None } else { Some(30.0) };
                let s1 = if lap % 5 == 0 { 25.242 } else { 25.142 };
                (lap, [Some(s1), s2, Some(30.0)])
            })
            .collect();
        SectorChart {
            title: "Sectors · HAM v VER".to_owned(),
            a: SectorLaps {
                label: "HAM".to_owned(),
                colour: TEAL,
                laps: ham,
            },
            b: SectorLaps {
                label: "VER".to_owned(),
                colour: BLUE,
                laps: ver,
            },
        }
    }

    fn svg(chart: &SectorChart) -> String {
        render_svg(900, 600, |a| draw_sector_comparison(a, chart)).unwrap()
    }

    fn fills(svg: &str, colour: Colour) -> usize {
        count(svg, &format!("fill=\"{}\"", colour.to_hex()))
    }

    #[test]
    fn three_panels_with_captions_legend_and_lap_labels() {
        let svg = svg(&chart());
        let texts = texts(&svg);
        for label in [
            "Sectors · HAM v VER",
            "HAM faster",
            "VER faster",
            "S1 · HAM −0.142 s/lap (median)",
            "S2 · VER −0.200 s/lap (median)",
            "HAM − VER (s)",
            "lap",
            "2",
            "20",
            "0.00",
        ] {
            assert!(texts.contains(&label.to_owned()), "{label}: {texts:?}");
        }
        assert!(
            texts.contains(&"S3 · VER −0.010 s/lap (median)".to_owned()),
            "{texts:?}"
        );
        assert_eq!(
            texts.iter().filter(|t| *t == "lap").count(),
            1,
            "bottom panel only"
        );
        assert!(
            !texts
                .iter()
                .any(|t| t.starts_with("-0.00") || t.ends_with(".5")),
            "{texts:?}"
        );
    }

    #[test]
    fn bars_take_the_faster_drivers_colour() {
        let svg = svg(&chart());
        // Level laps (S3 every third lap) take VER's colour.
        let sectors = sector_deltas(&chart().a, &chart().b);
        let ham_faster = sectors.iter().flatten().filter(|d| d.1 < 0.0).count();
        let ver_faster = sectors.iter().flatten().filter(|d| d.1 >= 0.0).count();
        assert_eq!(sectors[0].len(), 20);
        assert_eq!(sectors[1].len(), 19, "VER has no S2 on lap 5");
        assert!(sectors[0].iter().all(|d| d.1 < 0.0));
        assert!(sectors[1].iter().all(|d| d.1 > 0.0));
        assert!(sectors[2].iter().all(|d| d.1 >= 0.0));
        // Plus one legend box each.
        assert_eq!(fills(&svg, TEAL), ham_faster + 1, "{svg}");
        assert_eq!(fills(&svg, BLUE), ver_faster + 1, "{svg}");
        assert_eq!(ham_faster, 20);
        assert_eq!(ver_faster, 19 + 20, "the in-lap is a bar too");
    }

    #[test]
    fn an_outlier_lap_is_clipped_not_flattening_the_rest() {
        let svg = svg(&chart());
        let values: Vec<f64> = texts(&svg)
            .iter()
            .filter(|t| t.contains('.'))
            .filter_map(|t| t.parse().ok())
            .collect();
        // The y labels of the three panels: S3's 25 s in-lap would otherwise stretch its axis to ±25.
        assert!(values.len() >= 9, "{values:?}");
        assert!(values.iter().all(|v: &f64| v.abs() < 1.0), "{values:?}");
        let limit = clip_limit(&sector_deltas(&chart().a, &chart().b)[2]);
        assert!(limit < 0.1, "{limit}");
    }

    #[test]
    fn team_mates_sharing_a_colour_are_told_apart_by_outlines() {
        let mut chart = chart();
        chart.b.colour = TEAL;
        let svg = svg(&chart);
        let outlined = svg
            .lines()
            .filter(|l| l.starts_with("<rect") && l.contains("fill=\"none\""))
            .filter(|l| l.contains(&format!("stroke=\"{}\"", TEAL.to_hex())))
            .count();
        let ver_faster = sector_deltas(&chart.a, &chart.b)
            .iter()
            .flatten()
            .filter(|d| d.1 >= 0.0)
            .count();
        assert_eq!(outlined, ver_faster + 1, "{svg}");
    }

    #[test]
    fn nothing_to_compare_is_an_empty_state() {
        let mut disjoint = chart();
        disjoint.b.laps = vec![
            (21, [Some(1.0); 3]),
            (1, [None, Some(f64::NAN), Some(-1.0)]),
        ];
        let mut no_laps = chart();
        no_laps.a.laps.clear();
        for chart in [disjoint, no_laps] {
            let svg = svg(&chart);
            assert!(
                texts(&svg).contains(&"no sector times to compare".to_owned()),
                "{svg}"
            );
            assert_eq!(count(&svg, "<rect"), 1, "the background only: {svg}");
        }
    }

    #[test]
    fn one_lap_one_sector_or_odd_times_draw_without_panicking() {
        let mut one = chart();
        one.a.laps = vec![(7, [None, Some(f64::INFINITY), Some(30.0)])];
        let svg = svg(&one);
        let texts = texts(&svg);
        assert!(
            texts.contains(&"S1 · no laps to compare".to_owned()),
            "{texts:?}"
        );
        assert!(
            texts.contains(&"S3 · level (median)".to_owned()),
            "{texts:?}"
        );
        assert!(texts.contains(&"7".to_owned()), "{texts:?}");
        let mut huge = chart();
        huge.a.laps[0].1 = [Some(1e300), Some(f64::MAX), Some(f64::MIN_POSITIVE)];
        self::svg(&huge);
        let min = crate::MIN_SIZE;
        render_svg(min.0, min.1, |a| draw_sector_comparison(a, &chart())).unwrap();
        let err = render_svg(239, 600, |a| draw_sector_comparison(a, &chart())).unwrap_err();
        assert!(
            matches!(err, ChartError::TooSmall { width: 239, .. }),
            "{err}"
        );
    }
}
