//! Looped parallel's median normalised score over the number of parallelised layers M
//! (x) and the iteration count K (y) (paper Fig 10), the best K of each M boxed.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::Results;
use super::matrix::{self, Matrix};
use super::series;
use super::style::{self, font};
use super::{DrawResult, Figure};

pub(super) struct LoopedHeatmap {
    model: Option<String>,
    ms: Vec<usize>,
    ks: Vec<usize>,
    /// Row-major over (K, M): the mean median over the cell's rows.
    values: Vec<Option<f64>>,
    /// The colour scale shared with other panels.
    shared: Option<(f64, f64)>,
}

/// The heat map, when medians.csv has looped parallel at two or more K.
pub(super) fn figure(results: &Results) -> Option<LoopedHeatmap> {
    let looped: Vec<_> = results
        .medians
        .iter()
        .filter(|m| m.kind == "looped-parallel")
        .collect();
    let mut ks: Vec<usize> = looped.iter().filter_map(|m| m.times).collect();
    let mut ms: Vec<usize> = looped.iter().filter_map(|m| m.affected_layers).collect();
    for v in [&mut ks, &mut ms] {
        v.sort_unstable();
        v.dedup();
    }
    let value = |(k, m): (usize, usize)| {
        let rows = looped
            .iter()
            .filter(|r| r.times == Some(k) && r.affected_layers == Some(m));
        let point = series::aggregate(rows.filter_map(|r| Some((m, r.median_normalised?, None))));
        point.first().map(|p| p.y)
    };
    let values = ks
        .iter()
        .flat_map(|&k| ms.iter().map(move |&m| (k, m)))
        .map(value)
        .collect();
    (ks.len() > 1).then(|| LoopedHeatmap {
        model: results.model.clone(),
        ms,
        ks,
        values,
        shared: None,
    })
}

impl LoopedHeatmap {
    /// The colour scale: every value, 0 and 1.
    fn scale(&self) -> (f64, f64) {
        let values = self.values.iter().flatten();
        values.fold((0.0f64, 1.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    }
}

impl Figure for LoopedHeatmap {
    fn value_range(&self) -> Option<(f64, f64)> {
        Some(self.scale())
    }

    fn share_value_range(&mut self, range: (f64, f64)) {
        self.shared = Some(range);
    }

    fn stem(&self) -> String {
        "looped-parallel-heatmap".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let mut title = "Looped parallel: median normalised score by M and K".to_string();
        if let Some(model) = &self.model {
            title = format!("{title} — {model}");
        }
        let body = root
            .margin(12, 0, 0, 0)
            .titled(&title, font(style::TITLE))?;
        let width = body.dim_in_pixel().0;
        let (area, bar) = body.split_horizontally(width.saturating_sub(matrix::BAR_PANEL + 20));
        let scale = self.shared.unwrap_or_else(|| self.scale());
        let m = Matrix {
            columns: &self.ms,
            rows: &self.ks,
            values: &self.values,
            labels: (
                "number of parallelised layers M",
                "iterations K",
                "median normalised score",
            ),
            scale,
        };
        let chart = matrix::draw(&area, &bar, &m)?;
        // Box the best K of each column: a black and a white frame show on any colour.
        for c in 0..self.ms.len() {
            let column =
                (0..self.ks.len()).filter_map(|r| Some((r, self.values[r * self.ms.len() + c]?)));
            let Some((r, _)) = column.max_by(|a, b| a.1.total_cmp(&b.1)) else {
                continue;
            };
            let (x, y) = (c as f64, r as f64);
            let top_left = chart.backend_coord(&(x - 0.5, y + 0.5));
            let bottom_right = chart.backend_coord(&(x + 0.5, y - 0.5));
            frame(root, top_left, bottom_right, (0, 3), BLACK)?;
            frame(root, top_left, bottom_right, (3, 2), WHITE)?;
        }
        let note = font(style::NOTE).color(&style::REFERENCE);
        bar.draw(&Text::new(
            "Boxes: best K per M",
            (10, root.dim_in_pixel().1 as i32 - 110),
            note,
        ))?;
        Ok(())
    }
}

/// A rectangular frame `inset` pixels inside (a, b), `width` pixels wide, in filled
/// rectangles (the SVG backend draws outlines one pixel wide whatever their width).
fn frame<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    a: (i32, i32),
    b: (i32, i32),
    (inset, width): (i32, i32),
    colour: RGBColor,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let ((x0, y0), (x1, y1)) = ((a.0 + inset, a.1 + inset), (b.0 - inset, b.1 - inset));
    let sides = [
        [(x0, y0), (x1, y0 + width)],
        [(x0, y1 - width), (x1, y1)],
        [(x0, y0), (x0 + width, y1)],
        [(x1 - width, y0), (x1, y1)],
    ];
    for side in sides {
        area.draw(&Rectangle::new(side, colour.filled()))?;
    }
    Ok(())
}
