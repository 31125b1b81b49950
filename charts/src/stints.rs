//! The tyre stint timeline ([`draw_stints`]): one bar per driver across the race, a segment per stint coloured by
//! compound (faded for a predicted one), a dark notch at every in-lap and "out" after a car that retired.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::element::{PathElement, Rectangle, Text};
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend};
use plotters::style::Color;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{ChartError, Colour, LegendEntry, Marker, theme};

/// A tyre compound as the charts colour it (Pirelli's sidewall colours).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Tyre {
    /// Soft (red).
    Soft,
    /// Medium (yellow).
    Medium,
    /// Hard (white).
    Hard,
    /// Intermediate (green).
    Intermediate,
    /// Full wet (blue).
    Wet,
    /// Not known (grey).
    Unknown,
}

#[cfg(feature = "engine")]
impl From<boxbox_engine::wire::Compound> for Tyre {
    fn from(compound: boxbox_engine::wire::Compound) -> Self {
        use boxbox_engine::wire::Compound;
        match compound {
            Compound::Soft => Tyre::Soft,
            Compound::Medium => Tyre::Medium,
            Compound::Hard => Tyre::Hard,
            Compound::Intermediate => Tyre::Intermediate,
            Compound::Wet => Tyre::Wet,
        }
    }
}

impl Tyre {
    /// The compound's colour.
    pub fn colour(self) -> Colour {
        match self {
            Tyre::Soft => Colour::rgb(0xef, 0x44, 0x44),
            Tyre::Medium => Colour::rgb(0xfa, 0xcc, 0x15),
            Tyre::Hard => Colour::rgb(0xe5, 0xe7, 0xeb),
            Tyre::Intermediate => Colour::rgb(0x22, 0xc5, 0x5e),
            Tyre::Wet => Colour::rgb(0x3b, 0x82, 0xf6),
            Tyre::Unknown => Colour::rgb(0x6b, 0x72, 0x80),
        }
    }

    /// The compound's name, lowercase.
    pub fn name(self) -> &'static str {
        match self {
            Tyre::Soft => "soft",
            Tyre::Medium => "medium",
            Tyre::Hard => "hard",
            Tyre::Intermediate => "intermediate",
            Tyre::Wet => "wet",
            Tyre::Unknown => "unknown",
        }
    }
}

/// One stint: laps `first_lap..=last_lap` on one set.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stint {
    /// First lap of the stint, 1-based.
    pub first_lap: u32,
    /// Last lap of the stint (the in-lap, or the car's last lap).
    pub last_lap: u32,
    /// The set's compound.
    pub tyre: Tyre,
    /// A forecast (e.g. the current set up to the predicted stop), not laps run: drawn faded.
    #[cfg_attr(feature = "serde", serde(default))]
    pub predicted: bool,
}

/// One driver's bar.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StintRow {
    /// Label on the y axis, e.g. the driver's code.
    pub label: String,
    /// The stints, in order.
    pub stints: Vec<Stint>,
    /// In-laps: the laps at whose end the car entered the pits.
    pub pit_laps: Vec<u32>,
    /// The car retired after this many laps (`None`: it took the flag).
    pub retired_after_lap: Option<u32>,
}

/// The stint timeline of a race.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StintChart {
    /// Title above the chart.
    pub title: String,
    /// Race distance, in laps (the x axis; stints beyond it widen it).
    pub total_laps: u32,
    /// One row per driver, top to bottom.
    pub rows: Vec<StintRow>,
}

/// Draws the stint timeline: rows top to bottom in the given order, one segment per stint, the compounds that occur
/// in the legend.
///
/// # Errors
/// [`ChartError::TooSmall`] for an area under [`crate::MIN_SIZE`]; [`ChartError::Draw`] when the backend fails.
pub fn draw_stints<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &StintChart,
) -> Result<(), ChartError> {
    crate::prepare(area)?;
    if chart.rows.is_empty() {
        return crate::draw_empty(area, &chart.title, "no stints");
    }
    let body = crate::titled(area, &chart.title)?;
    let mut tyres: Vec<Tyre> = chart
        .rows
        .iter()
        .flat_map(|r| r.stints.iter().map(|s| s.tyre))
        .collect();
    tyres.sort_unstable();
    tyres.dedup();
    let mut entries: Vec<LegendEntry> = tyres
        .iter()
        .map(|t| LegendEntry {
            label: t.name().to_owned(),
            colour: t.colour(),
            marker: Marker::Box,
        })
        .collect();
    entries.push(LegendEntry {
        label: "pit stop".to_owned(),
        colour: theme::DIM,
        marker: Marker::Outline,
    });
    if chart
        .rows
        .iter()
        .any(|r| r.stints.iter().any(|s| s.predicted))
    {
        entries.push(LegendEntry {
            label: "predicted".to_owned(),
            colour: faded(theme::DIM),
            marker: Marker::Box,
        });
    }
    let plot = crate::with_legend(&body, &entries)?;
    let last_lap = chart
        .rows
        .iter()
        .flat_map(|r| r.stints.iter().map(|s| s.last_lap))
        .fold(chart.total_laps, u32::max)
        .max(1);
    let n = chart.rows.len();
    let n_i32 = i32::try_from(n).unwrap_or(i32::MAX);
    let mut builder = ChartBuilder::on(&plot);
    builder
        .margin(8)
        .x_label_area_size(crate::X_LABEL_AREA)
        .y_label_area_size(56);
    // Row `r` (0 at the top) sits in the segment `n - 1 - r`.
    let mut grid =
        // plotters' integer ranges include their end: `0..n - 1` is n segments.
        builder.build_cartesian_2d(0.0..f64::from(last_lap) + 1.5, (0..n_i32 - 1).into_segmented())?;
    let label_of = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => usize::try_from(n_i32 - 1 - i)
            .ok()
            .and_then(|r| chart.rows.get(r))
            .map_or_else(String::new, |r| r.label.clone()),
        _ => String::new(),
    };
    let x_label = crate::lap_label;
    crate::themed_mesh(&mut grid.configure_mesh())
        .disable_y_mesh()
        .x_desc("lap")
        .y_labels(n)
        .y_label_formatter(&label_of)
        .x_label_formatter(&x_label)
        .draw()?;
    let notch = theme::rgb(theme::BACKGROUND);
    let out_style = theme::label_style().pos(Pos::new(HPos::Left, VPos::Center));
    for (r, row) in chart.rows.iter().enumerate() {
        let seg = n_i32 - 1 - i32::try_from(r).unwrap_or(0);
        let (bottom, top) = (SegmentValue::Exact(seg), SegmentValue::Exact(seg + 1));
        for stint in &row.stints {
            let x0 = f64::from(stint.first_lap.saturating_sub(1));
            let x1 = f64::from(stint.last_lap.max(stint.first_lap));
            let colour = if stint.predicted {
                faded(stint.tyre.colour())
            } else {
                stint.tyre.colour()
            };
            grid.draw_series(std::iter::once(Rectangle::new(
                [(x0, bottom.clone()), (x1, top.clone())],
                theme::rgb(colour).filled(),
            )))?;
        }
        for &lap in &row.pit_laps {
            let x = f64::from(lap);
            grid.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.25, bottom.clone()), (x + 0.25, top.clone())],
                notch.filled(),
            )))?;
        }
        if let Some(lap) = row.retired_after_lap {
            grid.draw_series(std::iter::once(Text::new(
                "out",
                (f64::from(lap) + 0.4, SegmentValue::CenterOf(seg)),
                out_style.clone(),
            )))?;
        }
    }
    // Thin gaps between the bars, drawn over them so the rows stay apart at any height.
    for seg in 1..n_i32 {
        grid.draw_series(std::iter::once(PathElement::new(
            vec![
                (0.0, SegmentValue::Exact(seg)),
                (f64::from(last_lap), SegmentValue::Exact(seg)),
            ],
            notch.stroke_width(4),
        )))?;
    }
    Ok(())
}

/// A predicted stint's colour: the compound's, most of the way to the background.
fn faded(colour: Colour) -> Colour {
    colour.mix(theme::BACKGROUND, 0.6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render_svg;
    use crate::test_util::{count, texts};

    fn chart() -> StintChart {
        let row = |label: &str, stints: Vec<Stint>, retired: Option<u32>| StintRow {
            label: label.to_owned(),
            pit_laps: stints
                .iter()
                .rev()
                .skip(1)
                .map(|s| s.last_lap)
                .rev()
                .collect(),
            stints,
            retired_after_lap: retired,
        };
        let stint = |first_lap, last_lap, tyre| Stint {
            first_lap,
            last_lap,
            tyre,
            predicted: false,
        };
        StintChart {
            title: "Tyre stints".to_owned(),
            total_laps: 70,
            rows: vec![
                row(
                    "HAM",
                    vec![stint(1, 28, Tyre::Medium), stint(29, 70, Tyre::Hard)],
                    None,
                ),
                row(
                    "VER",
                    vec![
                        stint(1, 20, Tyre::Soft),
                        stint(21, 45, Tyre::Hard),
                        stint(46, 70, Tyre::Soft),
                    ],
                    None,
                ),
                row("GAS", vec![stint(1, 12, Tyre::Soft)], Some(12)),
            ],
        }
    }

    fn svg(chart: &StintChart) -> String {
        render_svg(900, 360, |a| draw_stints(a, chart)).unwrap()
    }

    #[test]
    fn every_stint_is_a_bar_and_every_stop_a_notch() {
        let svg = svg(&chart());
        let texts = texts(&svg);
        for label in [
            "Tyre stints",
            "HAM",
            "VER",
            "GAS",
            "soft",
            "medium",
            "hard",
            "pit stop",
            "out",
            "lap",
        ] {
            assert!(texts.contains(&label.to_owned()), "{label}: {texts:?}");
        }
        assert!(
            !texts.contains(&"wet".to_owned()),
            "only the compounds used"
        );
        // Stints by compound colour (and one legend box each).
        let fill = |c: Tyre| count(&svg, &format!("fill=\"{}\"", c.colour().to_hex()));
        assert_eq!(fill(Tyre::Soft), 3 + 1);
        assert_eq!(fill(Tyre::Medium), 1 + 1);
        assert_eq!(fill(Tyre::Hard), 2 + 1);
    }

    #[test]
    fn one_row_draws_without_its_label() {
        let mut one = chart();
        one.rows.truncate(1);
        let svg = svg(&one);
        assert!(svg.contains(&format!("fill=\"{}\"", Tyre::Medium.colour().to_hex())));
        // FIXME(charts): plotters gives the one-segment axis `0..0` no key point, so a lone row has no label.
        assert!(!texts(&svg).contains(&"HAM".to_owned()), "{svg}");
    }

    #[test]
    fn a_predicted_stint_is_drawn_faded_with_its_legend_entry() {
        let mut chart = chart();
        chart.rows[0].stints[1].last_lap = 40;
        chart.rows[0].stints.push(Stint {
            first_lap: 41,
            last_lap: 52,
            tyre: Tyre::Hard,
            predicted: true,
        });
        let svg = svg(&chart);
        assert!(texts(&svg).contains(&"predicted".to_owned()), "{svg}");
        let faded_hard = format!("fill=\"{}\"", faded(Tyre::Hard.colour()).to_hex());
        assert_eq!(count(&svg, &faded_hard), 1, "{svg}");
        assert!(!texts(&self::svg(&self::chart())).contains(&"predicted".to_owned()));
    }

    #[test]
    fn the_same_input_gives_the_same_bytes_and_empty_input_an_empty_state() {
        assert_eq!(svg(&chart()), svg(&chart()));
        let empty = StintChart {
            rows: Vec::new(),
            ..chart()
        };
        assert!(texts(&svg(&empty)).contains(&"no stints".to_owned()));
        // A row without stints, a zero-lap race and a stint beyond the distance draw too.
        let odd = StintChart {
            title: "odd".to_owned(),
            total_laps: 0,
            rows: vec![
                StintRow {
                    label: "A".to_owned(),
                    stints: Vec::new(),
                    pit_laps: vec![3],
                    retired_after_lap: Some(0),
                },
                StintRow {
                    label: "B".to_owned(),
                    stints: vec![Stint {
                        first_lap: 5,
                        last_lap: 2,
                        tyre: Tyre::Unknown,
                        predicted: false,
                    }],
                    pit_laps: Vec::new(),
                    retired_after_lap: None,
                },
            ],
        };
        let svg = svg(&odd);
        assert!(texts(&svg).contains(&"unknown".to_owned()), "{svg}");
    }
}
