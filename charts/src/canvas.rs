//! [`CanvasBackend`]: plotters drawing on an `OffscreenCanvas`, so a Web Worker draws a chart as pixels and hands
//! the page an `ImageBitmap` ([`render_canvas`]); every text drawn is kept, for the page's accessible fallback.
//!
//! Written here because plotters' own canvas backend (`plotters-canvas`) draws only on an `HtmlCanvasElement`, a
//! DOM node a worker does not have. The canvas is `scale` times the chart's size in CSS pixels (the device pixel
//! ratio, for sharp lines on a tablet); the charts draw in CSS pixels and the context scales.

use std::cell::RefCell;
use std::rc::Rc;

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, IntoDrawingArea};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
    FontTransform,
};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{ImageBitmap, OffscreenCanvas, OffscreenCanvasRenderingContext2d};

use crate::ChartError;

/// A canvas call that failed, as text (a `JsValue` cannot cross threads, which plotters' error type needs).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CanvasError(String);

impl CanvasError {
    fn from_js(what: &str, e: &JsValue) -> Self {
        CanvasError(format!(
            "{what}: {}",
            e.as_string().unwrap_or_else(|| format!("{e:?}"))
        ))
    }
}

/// plotters' drawing calls on an `OffscreenCanvas`'s 2D context, in CSS pixels.
#[derive(Debug)]
pub struct CanvasBackend {
    context: OffscreenCanvasRenderingContext2d,
    size: (u32, u32),
    texts: Rc<RefCell<Vec<String>>>,
}

/// A chart drawn by [`render_canvas`].
#[derive(Debug)]
pub struct CanvasDrawing {
    /// The pixels, `scale` times the chart's size.
    pub bitmap: ImageBitmap,
    /// Every text drawn (title, legend, axis labels), in drawing order.
    pub texts: Vec<String>,
}

/// Draws one chart of `width` × `height` CSS pixels on a new `OffscreenCanvas` `scale` times that size (in a page
/// or a Web Worker), and takes its pixels as an `ImageBitmap`.
///
/// # Errors
/// [`ChartError::TooSmall`], or [`ChartError::Draw`] when the canvas cannot be made or drawn on.
pub fn render_canvas(
    width: u32,
    height: u32,
    scale: f64,
    draw: impl FnOnce(&DrawingArea<CanvasBackend, Shift>) -> Result<(), ChartError>,
) -> Result<CanvasDrawing, ChartError> {
    let js =
        |what: &'static str| move |e: JsValue| ChartError::Draw(CanvasError::from_js(what, &e).0);
    // Sharp on any screen, within 1–4 device pixels per CSS pixel and 8,192 device pixels a side (a bound on the
    // memory asked for: at most 8,192² pixels, whatever the page asks).
    let longest = f64::from(width.max(height).max(1));
    let scale = if scale.is_finite() {
        scale
            .clamp(1.0, 4.0)
            .min((MAX_DEVICE_SIDE / longest).max(1.0))
    } else {
        1.0
    };
    let device = |css: u32| (f64::from(css) * scale).round() as u32;
    let canvas = OffscreenCanvas::new(device(width), device(height)).map_err(js("new canvas"))?;
    let context = canvas
        .get_context("2d")
        .map_err(js("2d context"))?
        .and_then(|c| c.dyn_into::<OffscreenCanvasRenderingContext2d>().ok())
        .ok_or_else(|| ChartError::Draw("the canvas has no 2d context".to_owned()))?;
    context.scale(scale, scale).map_err(js("scale"))?;
    // plotters keeps the backend inside the drawing area to the end: the texts are shared with it.
    let texts = Rc::new(RefCell::new(Vec::new()));
    let area = CanvasBackend {
        context,
        size: (width, height),
        texts: Rc::clone(&texts),
    }
    .into_drawing_area();
    draw(&area)?;
    area.present()?;
    drop(area);
    let bitmap = canvas
        .transfer_to_image_bitmap()
        .map_err(js("transfer to a bitmap"))?;
    Ok(CanvasDrawing {
        bitmap,
        texts: texts.take(),
    })
}

/// The longest side of a canvas drawn, in device pixels.
const MAX_DEVICE_SIDE: f64 = 8192.0;

/// `rgba(…)` for a plotters colour.
fn css_colour(c: BackendColor) -> String {
    let (r, g, b) = c.rgb;
    format!("rgba({r},{g},{b},{})", c.alpha)
}

impl CanvasBackend {
    fn stroke<S: BackendStyle>(&self, style: &S) {
        self.context
            .set_stroke_style_str(&css_colour(style.color()));
        self.context.set_line_width(f64::from(style.stroke_width()));
    }

    /// Begins a path through `points`, each moved by `offset` pixels on both axes; false when there are none.
    fn trace(&self, points: impl IntoIterator<Item = BackendCoord>, offset: f64) -> bool {
        let mut points = points
            .into_iter()
            .map(|(x, y)| (f64::from(x) + offset, f64::from(y) + offset));
        let Some((x, y)) = points.next() else {
            return false;
        };
        self.context.begin_path();
        self.context.move_to(x, y);
        for (x, y) in points {
            self.context.line_to(x, y);
        }
        true
    }

    /// Font, colour, anchor and rotation for `text` at `pos`, then the text (inside the caller's save/restore).
    fn place_text<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), CanvasError> {
        let js = |what: &'static str| move |e: JsValue| CanvasError::from_js(what, &e);
        let c = &self.context;
        c.set_font(&Self::font(style));
        c.set_fill_style_str(&css_colour(style.color()));
        let anchor = style.anchor();
        c.set_text_align(match anchor.h_pos {
            HPos::Left => "left",
            HPos::Right => "right",
            HPos::Center => "center",
        });
        c.set_text_baseline(match anchor.v_pos {
            VPos::Top => "top",
            VPos::Center => "middle",
            VPos::Bottom => "bottom",
        });
        c.translate(f64::from(pos.0), f64::from(pos.1))
            .map_err(js("translate"))?;
        let quarter = std::f64::consts::FRAC_PI_2;
        let angle = match style.transform() {
            FontTransform::Rotate90 => quarter,
            FontTransform::Rotate180 => 2.0 * quarter,
            FontTransform::Rotate270 => 3.0 * quarter,
            _ => 0.0,
        };
        if angle != 0.0 {
            c.rotate(angle).map_err(js("rotate"))?;
        }
        c.fill_text(text, 0.0, 0.0).map_err(js("fill text"))
    }

    fn fill<S: BackendStyle>(&self, style: &S) {
        self.context.set_fill_style_str(&css_colour(style.color()));
    }

    /// The CSS font of a plotters text style (plotters' sizes are 1.24 times the CSS size, as its SVG backend has
    /// it).
    fn font<S: BackendTextStyle>(style: &S) -> String {
        let weight = match style.style() {
            FontStyle::Bold => "bold ",
            FontStyle::Italic => "italic ",
            FontStyle::Oblique => "oblique ",
            FontStyle::Normal => "",
        };
        format!(
            "{weight}{:.2}px {}",
            style.size() / 1.24,
            style.family().as_str()
        )
    }
}

/// Where a line of `width` pixels through pixel coordinates is drawn sharp: an odd width on pixel centres (on the
/// integer coordinates it would straddle two pixels and blur), an even width on the pixels' edges.
fn line_offset(width: u32) -> f64 {
    if width % 2 == 1 { 0.5 } else { 0.0 }
}

impl DrawingBackend for CanvasBackend {
    type ErrorType = CanvasError;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<CanvasError>> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<CanvasError>> {
        Ok(())
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if color.alpha == 0.0 {
            return Ok(());
        }
        self.context.set_fill_style_str(&css_colour(color));
        self.context
            .fill_rect(f64::from(point.0), f64::from(point.1), 1.0, 1.0);
        Ok(())
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        self.draw_path([from, to], style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        let (x0, y0) = (f64::from(upper_left.0), f64::from(upper_left.1));
        let (x1, y1) = (f64::from(bottom_right.0), f64::from(bottom_right.1));
        if fill {
            self.fill(style);
            // plotters' rectangles include their last row and column.
            self.context.fill_rect(x0, y0, x1 - x0 + 1.0, y1 - y0 + 1.0);
        } else {
            self.stroke(style);
            self.context
                .stroke_rect(x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0);
        }
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        self.stroke(style);
        self.context.set_line_join("round");
        if self.trace(path, line_offset(style.stroke_width())) {
            self.context.stroke();
        }
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        let (x, y) = (f64::from(center.0) + 0.5, f64::from(center.1) + 0.5);
        self.context.begin_path();
        self.context
            .arc(x, y, f64::from(radius), 0.0, std::f64::consts::TAU)
            .map_err(|e| DrawingErrorKind::DrawingError(CanvasError::from_js("arc", &e)))?;
        if fill {
            self.fill(style);
            self.context.fill();
        } else {
            self.stroke(style);
            self.context.stroke();
        }
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        if style.color().alpha == 0.0 {
            return Ok(());
        }
        self.fill(style);
        // A filled shape covers the pixels between its vertices.
        if self.trace(vert, 0.0) {
            self.context.close_path();
            self.context.fill();
        }
        Ok(())
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        // Not the empty labels plotters draws between ticks: the fallback reads as the chart's words.
        if !text.trim().is_empty() {
            self.texts.borrow_mut().push(text.to_owned());
        }
        let c = &self.context;
        c.save();
        // Whatever fails below, the context's state is restored.
        let drawn = self.place_text(text, style, pos);
        c.restore();
        drawn.map_err(DrawingErrorKind::DrawingError)
    }

    /// The canvas's own measure of the width (the font it draws with); the height one em above the baseline and
    /// 0.24 em below (the em the CSS font size, so taller than the SVG backend's font-free estimate).
    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<CanvasError>> {
        self.context.set_font(&Self::font(style));
        let width = self
            .context
            .measure_text(text)
            .map_err(|e| DrawingErrorKind::DrawingError(CanvasError::from_js("measure text", &e)))?
            .width();
        let em = style.size() / 1.24;
        let height = em.round() + (em * 0.24).round();
        // Finite and non-negative for any font size plotters accepts; `as` saturates otherwise.
        Ok((width.ceil().max(0.0) as u32, height.max(0.0) as u32))
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        (w, h): (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<CanvasError>> {
        // The charts draw no bitmaps; one drawn anyway goes pixel by pixel (RGB, as plotters passes it).
        for (i, px) in src.chunks_exact(3).take((w * h) as usize).enumerate() {
            let (x, y) = (i as u32 % w, i as u32 / w);
            let colour = BackendColor {
                alpha: 1.0,
                rgb: (px[0], px[1], px[2]),
            };
            self.draw_pixel((pos.0 + x as i32, pos.1 + y as i32), colour)?;
        }
        Ok(())
    }
}
