//! A heat map of a matrix (paper Figs 3 and 10): one cell per (column, row) coloured on
//! the perceptual viridis scale, light grey where there is no value, axes labelled with
//! the columns' and rows' own values, and a colour bar beside it.

use std::error::Error;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::style::{self, font};

/// Chart margins; the colour bar uses the same top and bottom so the two line up.
const MARGIN: u32 = 20;
const X_LABELS: u32 = 70;
/// The colour bar's panel: 20 px margin, the bar, its labels and a 10 px margin.
pub(super) const BAR_PANEL: u32 = 20 + 36 + BAR_LABELS + 10;
const BAR_LABELS: u32 = 100;
/// Colour bar resolution.
const STEPS: usize = 200;

pub(super) struct Matrix<'a> {
    pub columns: &'a [usize],
    pub rows: &'a [usize],
    /// Row-major: `values[row * columns.len() + column]`.
    pub values: &'a [Option<f64>],
    /// (x axis, y axis, colour bar) descriptions.
    pub labels: (&'a str, &'a str, &'a str),
    /// The values at the two ends of the colour scale.
    pub scale: (f64, f64),
}

pub(super) type Grid<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

pub(super) fn colour(value: f64, (lo, hi): (f64, f64)) -> RGBColor {
    ViridisRGB::get_color_normalized(value, lo, hi)
}

/// Draws `m` on `area` (cell (c, r) centred on (c, r)) and its colour bar on `bar`.
pub(super) fn draw<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    bar: &DrawingArea<DB, Shift>,
    m: &Matrix,
) -> Result<Grid<'a, DB>, Box<dyn Error + Send + Sync>>
where
    DB::ErrorType: 'static,
{
    let (nc, nr) = (m.columns.len(), m.rows.len());
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5..nc as f64 - 0.5, -0.5..nr as f64 - 0.5)?;
    let label = |values: &[usize], v: f64| match values.get(v as usize) {
        Some(n) if v.fract() == 0.0 && v >= 0.0 => n.to_string(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(m.labels.0)
        .y_desc(m.labels.1)
        .axis_desc_style(font(style::AXIS_DESC))
        .label_style(font(style::TICKS))
        .x_labels(nc.min(16))
        .y_labels(nr.min(16))
        .x_label_formatter(&|v| label(m.columns, *v))
        .y_label_formatter(&|v| label(m.rows, *v))
        .axis_style(style::INK)
        .draw()?;
    let cell = |i: usize| {
        let (c, r) = ((i % nc) as f64, (i / nc) as f64);
        let fill = m.values[i].map_or(style::MISSING, |v| colour(v, m.scale));
        Rectangle::new([(c - 0.5, r - 0.5), (c + 0.5, r + 0.5)], fill.filled())
    };
    chart.draw_series((0..nc * nr).map(cell))?;
    colour_bar(bar, m.scale, m.labels.2)?;
    Ok(chart)
}

/// A vertical bar from `lo` (bottom) to `hi` (top), ticks and description on its right.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (lo, hi): (f64, f64),
    desc: &str,
) -> Result<(), Box<dyn Error + Send + Sync>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .margin_top(MARGIN)
        .margin_bottom(MARGIN + X_LABELS)
        .margin_left(20)
        .margin_right(10)
        .right_y_label_area_size(BAR_LABELS)
        .build_cartesian_2d(0.0..1.0, lo..hi)?;
    chart
        .configure_mesh()
        .disable_x_axis()
        .disable_mesh()
        .y_desc(desc)
        .axis_desc_style(font(style::AXIS_DESC))
        .label_style(font(style::TICKS))
        .y_label_formatter(&|v| style::number(*v))
        .set_tick_mark_size(LabelAreaPosition::Right, 6)
        .axis_style(style::INK)
        .draw()?;
    let at = |i: usize| lo + (hi - lo) * i as f64 / STEPS as f64;
    let band = |i| {
        Rectangle::new(
            [(0.0, at(i)), (1.0, at(i + 1))],
            colour(at(i) + 0.5 * (at(i + 1) - at(i)), (lo, hi)).filled(),
        )
    };
    chart.draw_series((0..STEPS).map(band))?;
    Ok(())
}
