//! [`SvgBackend`]: plotters' SVG backend with text measured without a font, so the charts draw the same SVG
//! natively and in a Web Worker.
//!
//! Plotters lays text out (titles, axis label areas) by measuring it: natively without the `ttf` feature with a
//! font-free estimate, and in wasm32 with the page's DOM (a `<span>` appended to `document.body`). A Web Worker
//! has no `window`, so there that measurement panics. This backend answers `estimate_text_size` with the native
//! estimate everywhere and leaves every drawing call to plotters' `SVGBackend`; the SVG it writes names the font
//! and lets the viewer's browser lay the text out, as before.

use plotters::backend::SVGBackend;
use plotters::prelude::DrawingBackend;
use plotters_backend::{BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};

/// plotters' SVG backend, measuring text without a font or a DOM ([`render_svg`](crate::render_svg) draws with it).
pub struct SvgBackend<'a>(SVGBackend<'a>);

impl std::fmt::Debug for SvgBackend<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SvgBackend")
            .field("size", &self.0.get_size())
            .finish_non_exhaustive()
    }
}

impl<'a> SvgBackend<'a> {
    /// An SVG document of `size` (width, height) pixels written into `buf`.
    pub fn with_string(buf: &'a mut String, size: (u32, u32)) -> Self {
        SvgBackend(SVGBackend::with_string(buf, size))
    }
}

type Error<'a> = <SVGBackend<'a> as DrawingBackend>::ErrorType;

impl<'a> DrawingBackend for SvgBackend<'a> {
    type ErrorType = Error<'a>;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: plotters_backend::BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_text(text, style, pos)
    }

    /// Plotters' font-free estimate (its `naive` font, what it uses natively without `ttf`): an em of
    /// `size / 1.24²`, 0.7 em per byte of UTF-8, from one em above the baseline to 0.24 em below.
    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let em = style.size() / 1.24 / 1.24;
        let width = (em * 0.7 * text.len() as f64).round();
        let height = em.round() + (em * 0.24).round();
        // Finite and non-negative for any font size plotters accepts; `as` saturates otherwise.
        Ok((width.max(0.0) as u32, height.max(0.0) as u32))
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use plotters::prelude::IntoDrawingArea;

    use super::*;
    use crate::{Colour, LapTimeChart, Series, draw_lap_times};

    /// Natively plotters measures with the same estimate, so the SVG is byte for byte plotters' own.
    #[test]
    fn draws_what_plotters_svg_backend_draws() {
        let chart = LapTimeChart {
            title: "Lap times · HAM".to_owned(),
            series: vec![Series {
                label: "HAM".to_owned(),
                colour: Colour::rgb(0, 210, 190),
                dashed: false,
                points: (1..=20).map(|l| (l, 90.0 - 0.05 * f64::from(l))).collect(),
            }],
        };
        let ours = crate::render_svg(700, 360, |a| draw_lap_times(a, &chart)).unwrap();
        let mut theirs = String::new();
        {
            let area = SVGBackend::with_string(&mut theirs, (700, 360)).into_drawing_area();
            draw_lap_times(&area, &chart).unwrap();
            area.present().unwrap();
        }
        assert_eq!(ours, theirs);
    }
}
