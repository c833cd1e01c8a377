//! Text in PNGs. plotters' own ab_glyph renderer drops each glyph's side bearing and
//! rounds every advance to a whole pixel, which spaces letters visibly unevenly; this
//! backend wraps the bitmap backend and lays text out with ab_glyph itself (fractional
//! advances, bearings, kerning, anti-aliased coverage). Everything else is passed
//! through. SVG text is left to the viewer.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, Glyph, PxScale, ScaleFont, point};
use plotters::prelude::BitMapBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

use super::style::FONT;

type Error<'a> = DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>;

pub(super) struct Bitmap<'a>(pub BitMapBackend<'a>);

fn font<'a>() -> Result<&'static FontRef<'static>, Error<'a>> {
    static PARSED: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| FontRef::try_from_slice(FONT).ok());
    parsed
        .as_ref()
        .ok_or_else(|| DrawingErrorKind::FontError("the bundled font is invalid".into()))
}

/// Glyphs positioned with the top of the line box at y = 0, and the box's size.
fn layout(font: &FontRef, size: f64, text: &str) -> (Vec<Glyph>, (f32, f32)) {
    // plotters' text size is 1.24 em (its SVG backend writes font-size = size / 1.24).
    let em = size as f32 / 1.24;
    let units = font.units_per_em().unwrap_or(1000.0);
    let scaled = font.as_scaled(PxScale::from(em * font.height_unscaled() / units));
    let (mut caret, mut previous) = (0.0, None);
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scaled.scale(), point(caret, scaled.ascent())));
        caret += scaled.h_advance(id);
        previous = Some(id);
    }
    (glyphs, (caret, scaled.ascent() - scaled.descent()))
}

impl<'a> DrawingBackend for Bitmap<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), Error<'a>> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), Error<'a>> {
        self.0.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Error<'a>> {
        self.0.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Error<'a>> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        a: BackendCoord,
        b: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Error<'a>> {
        self.0.draw_rect(a, b, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Error<'a>> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Error<'a>> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Error<'a>> {
        self.0.fill_polygon(vert, style)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), Error<'a>> {
        let (_, (w, h)) = layout(font()?, style.size(), text);
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), Error<'a>> {
        let colour = style.color();
        let font = font()?;
        let (glyphs, (w, h)) = layout(font, style.size(), text);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -w / 2.0,
            HPos::Right => -w,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -h / 2.0,
            VPos::Bottom => -h,
        };
        let transform = style.transform();
        let mut pixels = Vec::new();
        for outline in glyphs.into_iter().filter_map(|g| font.outline_glyph(g)) {
            let bounds = outline.px_bounds();
            outline.draw(|x, y, coverage| {
                let x = (bounds.min.x + dx).round() as i32 + x as i32;
                let y = (bounds.min.y + dy).round() as i32 + y as i32;
                pixels.push((transform.transform(x, y), coverage.min(1.0)));
            });
        }
        for ((x, y), coverage) in pixels.into_iter().filter(|p| p.1 > 0.0) {
            let color = BackendColor {
                alpha: colour.alpha * f64::from(coverage),
                rgb: colour.rgb,
            };
            self.0.draw_pixel((pos.0 + x, pos.1 + y), color)?;
        }
        Ok(())
    }
}
