//! What the line figures (one variant, all variants, single layer) share: the layout
//! (title on top, chart left, legend panel right, so the legend never covers data), the
//! axes, drawing a curve with its error band, clipped to the chart's y range, and the
//! whole chart of several median lines against x ([`medians`]).

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::DrawResult;
use super::legend::{self, Entry};
use super::series::Point;
use super::style::{self, INK, REFERENCE, font};

/// A chart whose x axis is linear and y axis linear or logarithmic.
pub(super) type Chart<'a, DB, Y> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>;

const LEGEND_WIDTH: u32 = 350;

/// The chart area and the legend panel.
type Panels<DB> = (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>);

/// Splits the canvas into the chart area and the legend panel, under `title`.
pub(super) fn layout<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<Panels<DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let body = root.margin(12, 0, 0, 0).titled(title, font(style::TITLE))?;
    let width = body.dim_in_pixel().0;
    Ok(body.split_horizontally(width.saturating_sub(LEGEND_WIDTH)))
}

/// A chart over `x` and `y` with labelled axes; x ticks are whole numbers.
pub(super) fn chart<'a, DB: DrawingBackend, Y>(
    area: &'a DrawingArea<DB, Shift>,
    x: Range<f64>,
    y: Y,
    (x_desc, y_desc): (&str, &str),
) -> Result<Chart<'a, DB, Y::CoordDescType>, DrawingAreaErrorKind<DB::ErrorType>>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let ticks = ((x.end - x.start).round() as usize).clamp(2, 16);
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .x_label_area_size(70)
        .y_label_area_size(90)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(font(style::AXIS_DESC))
        .label_style(font(style::TICKS))
        .x_labels(ticks)
        .x_label_formatter(&|x| {
            if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| style::number(*y))
        .bold_line_style(style::GRID)
        .max_light_lines(0)
        .axis_style(style::INK)
        .draw()?;
    Ok(chart)
}

/// How a curve is drawn.
pub(super) struct Stroke {
    pub colour: RGBColor,
    pub width: u32,
    pub dashed: bool,
    /// Shade each point's band around the line.
    pub band: bool,
}

/// Draws `points` as a line with markers (and a band), clipped to the chart's y range.
pub(super) fn curve<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut Chart<DB, Y>,
    points: &[Point],
    stroke: &Stroke,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let Range { start: lo, end: hi } = chart.y_range();
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    if stroke.band && points.iter().any(|p| p.band.is_some()) {
        let edge = |side: usize| {
            points
                .iter()
                .map(move |p| (p.x, p.extent()[side].clamp(lo, hi)))
        };
        let outline: Vec<_> = edge(1).chain(edge(0).rev()).collect();
        chart.draw_series([Polygon::new(outline, stroke.colour.mix(0.15).filled())])?;
    }
    let line = ShapeStyle::from(stroke.colour).stroke_width(stroke.width);
    let xy: Vec<_> = points.iter().map(|p| (p.x, p.y)).collect();
    for run in clip(&xy, lo, hi) {
        if stroke.dashed {
            chart.draw_series(DashedLineSeries::new(run, 9, 6, line))?;
        } else {
            chart.draw_series(LineSeries::new(run, line))?;
        }
    }
    let inside = xy.into_iter().filter(|p| (lo..=hi).contains(&p.1));
    let radius = stroke.width + 1;
    chart.draw_series(inside.map(|p| Circle::new(p, radius, stroke.colour.filled())))?;
    Ok(())
}

/// A labelled line: (legend label, colour, points).
pub(super) type Line = (String, RGBColor, Vec<Point>);

/// The y range of median lines: every point with its band, 0 and 1.
pub(super) fn median_range(lines: &[Line]) -> (f64, f64) {
    let ends = lines.iter().flat_map(|l| &l.2).flat_map(Point::extent);
    ends.fold((0.0f64, 1.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)))
}

/// Median normalised scores against `x_desc`, one banded line per (label, colour,
/// points), with the full-model and random levels, titled `title — model`, `caption`
/// under the legend; the y axis covers `y` (default: [`median_range`]), padded.
pub(super) fn medians<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (title, model): (&str, Option<&str>),
    x_desc: &str,
    (lines, y): (&[Line], Option<(f64, f64)>),
    caption: &[String],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let title = match model {
        Some(model) => format!("{title} — {model}"),
        None => title.to_string(),
    };
    let (area, legend_area) = layout(root, &title)?;
    let points = || lines.iter().flat_map(|l| &l.2);
    let x_max = points().map(|p| p.x).fold(1.0, f64::max);
    let (lo, hi) = y.unwrap_or_else(|| median_range(lines));
    let pad = 0.06 * (hi - lo);
    let axes = (
        x_desc,
        "median normalised score (0 = random, 1 = full model)",
    );
    let mut chart = chart(&area, -0.5..x_max + 0.5, lo - pad..hi + pad, axes)?;
    reference(&mut chart, 1.0, INK)?;
    reference(&mut chart, 0.0, REFERENCE)?;
    let mut entries = Vec::new();
    for (label, colour, points) in lines {
        let stroke = Stroke {
            colour: *colour,
            width: 3,
            dashed: false,
            band: true,
        };
        curve(&mut chart, points, &stroke)?;
        entries.push(Entry::new(label.clone(), *colour, 3));
    }
    entries.push(Entry::new("full model", INK, 2));
    entries.push(Entry::new("random", REFERENCE, 2));
    legend::draw(&legend_area, &entries, caption)?;
    Ok(())
}

/// A horizontal reference line across the whole chart.
pub(super) fn reference<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut Chart<DB, Y>,
    y: f64,
    colour: RGBColor,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let Range { start, end } = chart.x_range();
    chart.draw_series(LineSeries::new(
        [(start, y), (end, y)],
        colour.stroke_width(2),
    ))?;
    Ok(())
}

/// The parts of a polyline inside `lo..=hi` in y, cut where it crosses a bound.
fn clip(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let Some((p, q)) = clip_segment(a, b, lo, hi) else {
            runs.extend((!run.is_empty()).then(|| std::mem::take(&mut run)));
            continue;
        };
        if run.last() != Some(&p) {
            runs.extend((!run.is_empty()).then(|| std::mem::take(&mut run)));
            run.push(p);
        }
        run.push(q);
    }
    runs.extend((!run.is_empty()).then_some(run));
    runs
}

/// The part of segment a-b with y in `lo..=hi`, if any.
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    lo: f64,
    hi: f64,
) -> Option<((f64, f64), (f64, f64))> {
    let dy = b.1 - a.1;
    if dy == 0.0 {
        return (lo..=hi).contains(&a.1).then_some((a, b));
    }
    let (t_lo, t_hi) = ((lo - a.1) / dy, (hi - a.1) / dy);
    let (t0, t1) = (t_lo.min(t_hi).max(0.0), t_lo.max(t_hi).min(1.0));
    let at = |t: f64| {
        if t == 0.0 {
            a
        } else if t == 1.0 {
            b
        } else {
            (a.0 + t * (b.0 - a.0), a.1 + t * dy)
        }
    };
    (t0 <= t1).then(|| (at(t0), at(t1)))
}
