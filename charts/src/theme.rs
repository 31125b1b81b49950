//! The charts' dark palette (the pit wall's, `static/boxbox.css`) and their text styles.

use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{IntoFont, RGBColor, ShapeStyle, TextStyle};

use crate::Colour;

/// Behind everything.
pub const BACKGROUND: Colour = Colour::rgb(0x12, 0x19, 0x22);
/// Grid lines and cell borders.
pub const GRID: Colour = Colour::rgb(0x23, 0x30, 0x40);
/// Titles and values.
pub const TEXT: Colour = Colour::rgb(0xe8, 0xed, 0xf3);
/// Axis labels and secondary text.
pub const DIM: Colour = Colour::rgb(0x8a, 0x97, 0xa8);
/// The one strong colour: high probabilities, highlights.
pub const ACCENT: Colour = Colour::rgb(0xe1, 0x06, 0x00);

/// The font family of every text: the viewer's sans-serif (no font file is read).
pub const FONT: &str = "sans-serif";

pub(crate) fn rgb(c: Colour) -> RGBColor {
    c.plotters()
}

pub(crate) fn title_style() -> TextStyle<'static> {
    (FONT, 20).into_font().color(&rgb(TEXT))
}

pub(crate) fn empty_style() -> TextStyle<'static> {
    (FONT, 16)
        .into_font()
        .color(&rgb(DIM))
        .pos(Pos::new(HPos::Center, VPos::Center))
}

pub(crate) fn caption_style() -> TextStyle<'static> {
    (FONT, 14).into_font().color(&rgb(TEXT))
}

pub(crate) fn legend_style() -> TextStyle<'static> {
    (FONT, 13)
        .into_font()
        .color(&rgb(TEXT))
        .pos(Pos::new(HPos::Left, VPos::Center))
}

pub(crate) fn label_style() -> TextStyle<'static> {
    (FONT, 13).into_font().color(&rgb(DIM))
}

pub(crate) fn axis_desc_style() -> TextStyle<'static> {
    (FONT, 14).into_font().color(&rgb(DIM))
}

pub(crate) fn cell_style(colour: Colour) -> TextStyle<'static> {
    (FONT, 11)
        .into_font()
        .color(&rgb(colour))
        .pos(Pos::new(HPos::Center, VPos::Center))
}

pub(crate) fn grid_style() -> ShapeStyle {
    ShapeStyle::from(&rgb(GRID)).stroke_width(1)
}

pub(crate) fn axis_style() -> ShapeStyle {
    ShapeStyle::from(&rgb(DIM)).stroke_width(1)
}
