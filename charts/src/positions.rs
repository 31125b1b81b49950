//! Finishing-position distributions ([`draw_position_distribution`]): a grid with a row per driver and a column
//! per position, each cell shaded (and labelled in percent) by the chance of finishing there, and the real finish
//! outlined.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::element::{Rectangle, Text};
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend};
use plotters::style::{Color, ShapeStyle};

use crate::{ChartError, Colour, LegendEntry, Marker, theme};

/// One driver's distribution.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PositionRow {
    /// Label on the y axis, e.g. the driver's code.
    pub label: String,
    /// `probabilities[p]`: the chance of finishing in position `p + 1`, in `0..=1` (values outside are clamped,
    /// non-finite ones read 0).
    pub probabilities: Vec<f64>,
    /// The real finishing position, 1-based, outlined when given.
    pub actual: Option<u32>,
}

/// Finishing-position distributions of several drivers.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PositionChart {
    /// Title above the chart.
    pub title: String,
    /// One row per driver, top to bottom.
    pub rows: Vec<PositionRow>,
}

/// Cells below this chance carry no percentage (they are still shaded).
pub const LABEL_MIN_PROBABILITY: f64 = 0.05;

/// Draws the grid: positions along the x axis, drivers top to bottom in the given order.
///
/// # Errors
/// [`ChartError::TooSmall`] for an area under [`crate::MIN_SIZE`]; [`ChartError::Draw`] when the backend fails.
pub fn draw_position_distribution<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &PositionChart,
) -> Result<(), ChartError> {
    crate::prepare(area)?;
    let columns = chart
        .rows
        .iter()
        .map(|r| r.probabilities.len())
        .chain(
            chart
                .rows
                .iter()
                .filter_map(|r| r.actual.and_then(|a| usize::try_from(a).ok())),
        )
        .max()
        .unwrap_or(0);
    if chart.rows.is_empty() || columns == 0 {
        return crate::draw_empty(area, &chart.title, "no finishing positions");
    }
    let body = crate::titled(area, &chart.title)?;
    let entries: Vec<LegendEntry> = [1.0, 0.25, 0.05]
        .iter()
        .map(|&p| LegendEntry {
            label: format!("{:.0} %", 100.0 * p),
            colour: shade(p),
            marker: Marker::Box,
        })
        .chain(std::iter::once(LegendEntry {
            label: "real finish".to_owned(),
            colour: theme::TEXT,
            marker: Marker::Outline,
        }))
        .collect();
    let plot = crate::with_legend(&body, &entries)?;
    let n = i32::try_from(chart.rows.len()).unwrap_or(i32::MAX);
    let columns_i32 = i32::try_from(columns).unwrap_or(i32::MAX);
    let mut grid = ChartBuilder::on(&plot)
        .margin(8)
        .x_label_area_size(crate::X_LABEL_AREA)
        .y_label_area_size(56)
        // plotters' integer ranges include their end: `0..k - 1` is k segments.
        .build_cartesian_2d(
            (0..columns_i32 - 1).into_segmented(),
            (0..n - 1).into_segmented(),
        )?;
    // Row `r` (0 at the top) sits in the segment `n - 1 - r`; column `c` is position `c + 1`.
    let row_label = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => usize::try_from(n - 1 - i)
            .ok()
            .and_then(|r| chart.rows.get(r))
            .map_or_else(String::new, |r| r.label.clone()),
        _ => String::new(),
    };
    let column_label = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(c) => (c + 1).to_string(),
        _ => String::new(),
    };
    grid.configure_mesh()
        .disable_mesh()
        .axis_style(theme::axis_style())
        .label_style(theme::label_style())
        .axis_desc_style(theme::axis_desc_style())
        .x_desc("finishing position")
        .x_labels(columns)
        .y_labels(chart.rows.len())
        .x_label_formatter(&column_label)
        .y_label_formatter(&row_label)
        .draw()?;
    let border = ShapeStyle::from(&theme::rgb(theme::GRID)).stroke_width(1);
    for (r, row) in chart.rows.iter().enumerate() {
        let y = n - 1 - i32::try_from(r).unwrap_or(0);
        for (c, &p) in row.probabilities.iter().enumerate() {
            let p = if p.is_finite() {
                p.clamp(0.0, 1.0)
            } else {
                0.0
            };
            let x = i32::try_from(c).unwrap_or(0);
            let corners = [
                (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
            ];
            if p > 0.0 {
                grid.draw_series(std::iter::once(Rectangle::new(
                    corners.clone(),
                    theme::rgb(shade(p)).filled(),
                )))?;
            }
            grid.draw_series(std::iter::once(Rectangle::new(corners, border)))?;
            if p >= LABEL_MIN_PROBABILITY {
                grid.draw_series(std::iter::once(Text::new(
                    format!("{:.0}", 100.0 * p),
                    (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                    theme::cell_style(theme::TEXT),
                )))?;
            }
        }
        if let Some(x) = row
            .actual
            .and_then(|a| a.checked_sub(1))
            .and_then(|a| i32::try_from(a).ok())
        {
            grid.draw_series(std::iter::once(Rectangle::new(
                [
                    (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                    (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                ],
                ShapeStyle::from(&theme::rgb(theme::TEXT)).stroke_width(2),
            )))?;
        }
    }
    Ok(())
}

/// A cell's colour: the background mixed with the accent by √p, so small chances still show.
fn shade(p: f64) -> Colour {
    theme::BACKGROUND.mix(theme::ACCENT, p.max(0.0).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render_svg;
    use crate::test_util::{count, texts};

    fn chart() -> PositionChart {
        PositionChart {
            title: "Finishing positions".to_owned(),
            rows: vec![
                PositionRow {
                    label: "HAM".to_owned(),
                    probabilities: vec![0.6, 0.3, 0.1],
                    actual: Some(1),
                },
                PositionRow {
                    label: "VET".to_owned(),
                    probabilities: vec![0.4, 0.5, 0.06],
                    actual: Some(2),
                },
                PositionRow {
                    label: "LEC".to_owned(),
                    probabilities: vec![0.0, 0.2, f64::NAN],
                    actual: None,
                },
            ],
        }
    }

    fn svg(chart: &PositionChart) -> String {
        render_svg(900, 300, |a| draw_position_distribution(a, chart)).unwrap()
    }

    #[test]
    fn every_cell_is_drawn_and_the_likely_ones_labelled() {
        let svg = svg(&chart());
        let texts = texts(&svg);
        for label in [
            "Finishing positions",
            "HAM",
            "VET",
            "LEC",
            "finishing position",
            "60",
            "30",
            "10",
            "6",
            "20",
            "real finish",
        ] {
            assert!(texts.contains(&label.to_owned()), "{label}: {texts:?}");
        }
        for column in ["1", "2", "3"] {
            assert!(texts.contains(&column.to_owned()), "{column}: {texts:?}");
        }
        // Nine cell borders; two real finishes (and the legend's) outlined in the text colour.
        let grid = count(&svg, &format!("stroke=\"{}\"", theme::GRID.to_hex()));
        assert!(grid >= 9, "{grid}");
        let outlined = count(&svg, &format!("stroke=\"{}\"", theme::TEXT.to_hex()));
        assert_eq!(outlined, 2 + 1, "{svg}");
    }

    #[test]
    fn the_same_input_gives_the_same_bytes_and_empty_input_an_empty_state() {
        assert_eq!(svg(&chart()), svg(&chart()));
        for rows in [
            Vec::new(),
            vec![PositionRow {
                label: "X".to_owned(),
                probabilities: Vec::new(),
                actual: None,
            }],
        ] {
            let empty = PositionChart {
                title: "t".to_owned(),
                rows,
            };
            assert!(texts(&svg(&empty)).contains(&"no finishing positions".to_owned()));
        }
    }
}
