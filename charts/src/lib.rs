//! boxbox's charts of a race, drawn with plotters on any `DrawingBackend`: SVG for the post-race report, a canvas
//! in the browser.
//!
//! The charts take plain data (series of points with a label and a colour, stints, distributions), never a race
//! or a file, and draw the whole area they are given: a title, the plot with its axes and a legend on the right.
//! Empty data draws an empty-state chart that says so; nothing here panics on odd input (non-finite values are
//! skipped, degenerate ranges widened).
//!
//! # Layout
//! - [`lines`]: [`draw_lap_times`] (lap times per driver, outlier laps clipped out of the y range) and
//!   [`draw_race_trace`] (gap to the leader per lap).
//! - [`stints`]: [`draw_stints`], the tyre stint timeline.
//! - [`degradation`]: [`draw_tyre_degradation`], lap time against tyre age per stint with its fitted line.
//! - [`sectors`]: [`draw_sector_comparison`], two drivers' sector times lap by lap as deltas, a panel per sector.
//! - [`trace`]: [`draw_lap_trace`], speed, throttle, brake and gear against distance with a second lap overlaid.
//! - [`positions`]: [`draw_position_distribution`], each driver's finishing-position probabilities as a grid.
//! - [`theme`]: the dark palette and fonts shared by the charts.
//! - [`svg`]: [`SvgBackend`], plotters' SVG backend measuring text without a font or a DOM (so it also draws in a
//!   Web Worker).
//! - `canvas` (wasm32, feature `canvas`): `CanvasBackend`, plotters on an `OffscreenCanvas`, so a Web Worker draws
//!   a chart as pixels.
//!
//! [`render_svg`] draws one chart into an SVG string (text as SVG `<text>`, no system fonts needed); on wasm32,
//! `render_canvas` draws it into an `ImageBitmap`.

#[cfg(all(target_arch = "wasm32", feature = "canvas"))]
pub mod canvas;
pub mod degradation;
pub mod lines;
pub mod positions;
pub mod sectors;
pub mod stints;
pub mod svg;
pub mod theme;
pub mod trace;

/// plotters itself, so a caller names the drawing area and backend types with the same version the charts use.
pub use plotters;

pub use degradation::{DegradationChart, DegradationStint, LinearFit, draw_tyre_degradation};
pub use lines::{LapTimeChart, RaceTraceChart, Series, draw_lap_times, draw_race_trace};
pub use positions::{PositionChart, PositionRow, draw_position_distribution};
pub use sectors::{SectorChart, SectorLaps, draw_sector_comparison};
pub use stints::{Stint, StintChart, StintRow, Tyre, draw_stints};
pub use svg::SvgBackend;
pub use trace::{LapTraceChart, TraceSample, TraceSeries, draw_lap_trace};

use plotters::chart::{ChartContext, MeshStyle};
use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::{DrawingArea, DrawingAreaErrorKind, DrawingBackend, IntoDrawingArea};
use plotters::style::{RGBColor, ShapeStyle, TRANSPARENT};

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Colour {
    /// Red, `0..=255`.
    pub r: u8,
    /// Green, `0..=255`.
    pub g: u8,
    /// Blue, `0..=255`.
    pub b: u8,
}

impl Colour {
    /// A colour from its components.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Colour {
        Colour { r, g, b }
    }

    /// Parses `#rrggbb` (the `#` is optional); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Colour> {
        let hex = text.strip_prefix('#').unwrap_or(text);
        if hex.len() != 6 || !hex.is_ascii() {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        Some(Colour::rgb(byte(0)?, byte(2)?, byte(4)?))
    }

    /// `#RRGGBB`, uppercase, as plotters' SVG backend writes colours.
    pub fn to_hex(self) -> String {
        format!("#{:02X}{:02X}{:02X}", self.r, self.g, self.b)
    }

    /// The colour `t` of the way from `self` to `other` (`t` clamped to `0..=1`).
    pub fn mix(self, other: Colour, t: f64) -> Colour {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let channel = |a: u8, b: u8| {
            let x = f64::from(a) + (f64::from(b) - f64::from(a)) * t;
            // In 0..=255 by construction.
            x.round().clamp(0.0, 255.0) as u8
        };
        Colour::rgb(
            channel(self.r, other.r),
            channel(self.g, other.g),
            channel(self.b, other.b),
        )
    }

    fn plotters(self) -> RGBColor {
        RGBColor(self.r, self.g, self.b)
    }
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The area is smaller than [`MIN_SIZE`]: no room for the axes and the legend.
    #[error("the chart area of {width}×{height} px is too small (at least {}×{} px)", MIN_SIZE.0, MIN_SIZE.1)]
    TooSmall {
        /// Width of the area, in pixels.
        width: u32,
        /// Height of the area, in pixels.
        height: u32,
    },
    /// The backend failed to draw (e.g. a canvas went away).
    #[error("cannot draw the chart: {0}")]
    Draw(String),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> ChartError {
        ChartError::Draw(e.to_string())
    }
}

/// The smallest area a chart draws in, in pixels (width, height).
pub const MIN_SIZE: (u32, u32) = (240, 160);

/// Draws one chart into an SVG document of `width` × `height` pixels, natively or in wasm32 (a page or a Web
/// Worker: [`SvgBackend`] needs no DOM).
///
/// ```
/// use boxbox_charts::{Colour, LapTimeChart, Series, draw_lap_times, render_svg};
/// let chart = LapTimeChart {
///     title: "Lap times".to_owned(),
///     series: vec![Series {
///         label: "HAM".to_owned(),
///         colour: Colour::rgb(0, 210, 190),
///         dashed: false,
///         points: vec![(1, 80.1), (2, 78.4), (3, 78.2)],
///     }],
/// };
/// let svg = render_svg(900, 400, |area| draw_lap_times(area, &chart))?;
/// assert!(svg.starts_with("<svg") && svg.contains("HAM"));
/// # Ok::<(), boxbox_charts::ChartError>(())
/// ```
///
/// # Errors
/// What `draw` returns.
pub fn render_svg(
    width: u32,
    height: u32,
    draw: impl for<'a> FnOnce(&DrawingArea<SvgBackend<'a>, Shift>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let area = SvgBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw(&area)?;
        area.present()?;
    }
    Ok(svg)
}

/// A lap axis' tick label: the lap number, and nothing between laps (with a few laps, plotters puts ticks at
/// halves, which rounded would read `1 2 2 3`).
fn lap_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

/// Checks the area's size and fills it with the background.
fn prepare<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
    let (width, height) = area.dim_in_pixel();
    if width < MIN_SIZE.0 || height < MIN_SIZE.1 {
        return Err(ChartError::TooSmall { width, height });
    }
    area.fill(&theme::BACKGROUND.plotters())?;
    Ok(())
}

/// Draws the title at the top and returns the area below it.
fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, ChartError> {
    Ok(area.titled(title, theme::title_style())?)
}

/// An empty-state chart: the title and, in the middle, why there is nothing to show.
fn draw_empty<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    message: &str,
) -> Result<(), ChartError> {
    let body = titled(area, title)?;
    let (width, height) = body.dim_in_pixel();
    let centre = (
        i32::try_from(width / 2).unwrap_or(0),
        i32::try_from(height / 2).unwrap_or(0),
    );
    body.draw_text(message, &theme::empty_style(), centre)?;
    Ok(())
}

/// Height of the label area under a plot (the x axis' tick labels and its description), in pixels.
const X_LABEL_AREA: u32 = 40;

/// A chart with numbers on both axes.
type XyChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The mesh in the charts' style: grid lines at the labelled ticks only, dim axes and labels. Callers add the axis
/// descriptions and label formats, then draw it.
fn themed_mesh<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
    DB: DrawingBackend,
{
    mesh.bold_line_style(theme::grid_style())
        .light_line_style(TRANSPARENT)
        .axis_style(theme::axis_style())
        .label_style(theme::label_style())
        .axis_desc_style(theme::axis_desc_style())
}

/// Splits `area` into panels stacked top to bottom over its whole width, for charts whose panels share the x
/// axis: heights in proportion to `weights`, after [`X_LABEL_AREA`] is set aside for the bottom panel, the only
/// one that labels the x axis (so every panel's plot gets its share).
fn stacked_panels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    weights: &[u32],
) -> Vec<DrawingArea<DB, Shift>> {
    let (_, height) = area.dim_in_pixel();
    let shared = u64::from(height.saturating_sub(X_LABEL_AREA));
    let total = weights.iter().map(|&w| u64::from(w)).sum::<u64>().max(1);
    let mut above = 0;
    let breaks: Vec<u32> = weights
        .iter()
        .take(weights.len().saturating_sub(1))
        .map(|&w| {
            above += u64::from(w);
            u32::try_from(shared * above / total).unwrap_or(u32::MAX)
        })
        .collect();
    area.split_by_breakpoints::<u32, u32, _, _>([], breaks)
}

/// Draws one run of points: a line (dashed when asked), or a dot when the run is a single point.
fn draw_run<DB: DrawingBackend>(
    chart: &mut XyChart<'_, DB>,
    run: Vec<(f64, f64)>,
    style: ShapeStyle,
    dashed: bool,
) -> Result<(), ChartError> {
    use plotters::element::Circle;
    use plotters::prelude::{DashedLineSeries, LineSeries};

    match run.as_slice() {
        [] => {}
        [only] => {
            chart.draw_series(std::iter::once(Circle::new(*only, 2, style.filled())))?;
        }
        _ if dashed => {
            chart.draw_series(DashedLineSeries::new(run, 6, 4, style))?;
        }
        _ => {
            chart.draw_series(LineSeries::new(run, style))?;
        }
    }
    Ok(())
}

/// The `q` quantile of sorted `xs` (nearest rank); NaN when `xs` is empty.
fn quantile(xs: &[f64], q: f64) -> f64 {
    let rank = (q * xs.len() as f64).ceil() as usize;
    let last = xs.len().saturating_sub(1);
    xs.get(rank.saturating_sub(1).min(last))
        .copied()
        .unwrap_or(f64::NAN)
}

/// Tukey's far fence of sorted `xs`: the third quartile plus three interquartile ranges. Values beyond it
/// are far outliers (a pit lap among racing laps).
fn far_fence(xs: &[f64]) -> f64 {
    let (q1, q3) = (quantile(xs, 0.25), quantile(xs, 0.75));
    q3 + 3.0 * (q3 - q1)
}

/// One legend entry: a marker and a label.
#[derive(Clone, Debug)]
struct LegendEntry {
    label: String,
    colour: Colour,
    marker: Marker,
}

impl LegendEntry {
    /// The entry of a line series: a solid or dashed stroke in its colour.
    fn line(label: &str, colour: Colour, dashed: bool) -> LegendEntry {
        LegendEntry {
            label: label.to_owned(),
            colour,
            marker: if dashed {
                Marker::DashedLine
            } else {
                Marker::Line
            },
        }
    }
}

/// How a legend entry shows its series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    Line,
    DashedLine,
    Box,
    Outline,
}

/// Width of the legend column on the right, in pixels.
const LEGEND_WIDTH: u32 = 118;

/// Splits off the legend column on the right and draws `entries` in it, one per row (rows shrink to fit; what
/// still does not fit is summed up as "+N more"). Returns the area left of it.
fn with_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<DrawingArea<DB, Shift>, ChartError> {
    use plotters::element::{DashedPathElement, PathElement, Rectangle, Text};
    use plotters::style::{Color, ShapeStyle};

    let (width, height) = area.dim_in_pixel();
    let (plot, legend) = area.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
    let height = i32::try_from(height).unwrap_or(i32::MAX);
    let top = 12;
    let row = if entries.is_empty() {
        16
    } else {
        ((height - 2 * top) / i32::try_from(entries.len()).unwrap_or(i32::MAX)).clamp(10, 18)
    };
    let fits = usize::try_from((height - 2 * top) / row).unwrap_or(0);
    let shown = if entries.len() > fits {
        fits.saturating_sub(1)
    } else {
        entries.len()
    };
    let label_style = theme::legend_style();
    for (i, entry) in entries.iter().take(shown).enumerate() {
        let y = top + row * i32::try_from(i).unwrap_or(0) + row / 2;
        let colour = entry.colour.plotters();
        match entry.marker {
            Marker::Line => {
                legend.draw(&PathElement::new(
                    vec![(8, y), (30, y)],
                    ShapeStyle::from(&colour).stroke_width(2),
                ))?;
            }
            Marker::DashedLine => {
                legend.draw(&DashedPathElement::new(
                    vec![(8, y), (30, y)],
                    4,
                    3,
                    ShapeStyle::from(&colour).stroke_width(2),
                ))?;
            }
            Marker::Box => {
                legend.draw(&Rectangle::new([(10, y - 5), (28, y + 5)], colour.filled()))?;
            }
            Marker::Outline => {
                legend.draw(&Rectangle::new(
                    [(10, y - 5), (28, y + 5)],
                    ShapeStyle::from(&colour).stroke_width(2),
                ))?;
            }
        }
        legend.draw(&Text::new(
            entry.label.clone(),
            (36, y),
            label_style.clone(),
        ))?;
    }
    if shown < entries.len() {
        let y = top + row * i32::try_from(shown).unwrap_or(0) + row / 2;
        let more = format!("+{} more", entries.len() - shown);
        legend.draw(&Text::new(more, (8, y), label_style))?;
    }
    Ok(plot)
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Helpers for the charts' tests: count SVG elements and attributes.

    /// How many times `needle` occurs in `svg`.
    pub fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    /// The distinct `stroke` colours of the `<polyline>` elements.
    pub fn polyline_strokes(svg: &str) -> std::collections::BTreeSet<String> {
        svg.lines()
            .filter(|l| l.starts_with("<polyline"))
            .filter_map(|l| {
                let at = l.find("stroke=\"")? + "stroke=\"".len();
                Some(l.get(at..at + 7)?.to_owned())
            })
            .collect()
    }

    /// The text of every `<text>` element.
    pub fn texts(svg: &str) -> Vec<String> {
        let lines: Vec<&str> = svg.lines().collect();
        lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.starts_with("<text"))
            .filter_map(|(i, _)| lines.get(i + 1).map(|t| (*t).to_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_print_and_mix() {
        assert_eq!(Colour::from_hex("#00d2be"), Some(Colour::rgb(0, 210, 190)));
        assert_eq!(Colour::from_hex("FF8700"), Some(Colour::rgb(255, 135, 0)));
        for bad in ["", "#12345", "#1234567", "#gg0000", "#éé0000"] {
            assert_eq!(Colour::from_hex(bad), None, "{bad}");
        }
        assert_eq!(Colour::rgb(0, 210, 190).to_hex(), "#00D2BE");
        let (a, b) = (Colour::rgb(0, 0, 0), Colour::rgb(200, 100, 50));
        assert_eq!(a.mix(b, 0.5), Colour::rgb(100, 50, 25));
        assert_eq!(a.mix(b, 2.0), b);
        assert_eq!(a.mix(b, f64::NAN), a);
    }

    #[test]
    fn lap_ticks_between_laps_have_no_label() {
        assert_eq!(lap_label(&3.0), "3");
        assert_eq!(lap_label(&2.5), "");
        let chart = LapTimeChart {
            title: "t".to_owned(),
            series: vec![Series {
                label: "A".to_owned(),
                colour: Colour::rgb(1, 2, 3),
                dashed: false,
                points: vec![(1, 90.0), (2, 89.0), (3, 89.5)],
            }],
        };
        let svg = render_svg(600, 300, |a| draw_lap_times(a, &chart)).unwrap();
        let texts = test_util::texts(&svg);
        for lap in ["1", "2", "3"] {
            assert_eq!(
                texts.iter().filter(|t| *t == lap).count(),
                1,
                "{lap}: {texts:?}"
            );
        }
    }

    #[test]
    fn a_tiny_area_is_an_error_not_a_panic() {
        let chart = LapTimeChart {
            title: "t".to_owned(),
            series: Vec::new(),
        };
        let err = render_svg(100, 50, |area| draw_lap_times(area, &chart)).unwrap_err();
        assert!(
            matches!(
                err,
                ChartError::TooSmall {
                    width: 100,
                    height: 50
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("too small"), "{err}");
    }
}
