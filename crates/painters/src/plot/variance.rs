//! Each hidden state's variance under each plan `painters similarity` ran (paper Fig 15,
//! beside the similarity maps): one line per plan against the hidden-state index (0 =
//! embeddings, k = after step k), on a log scale.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::Results;
use super::legend::{self, Entry};
use super::lines::{self, Stroke};
use super::series::Point;
use super::style;
use super::{DrawResult, Figure};

pub(super) struct VarianceFigure {
    model: Option<String>,
    /// (legend label, colour, variance against the hidden-state index)
    lines: Vec<(String, RGBColor, Vec<Point>)>,
    /// The y range shared with other panels.
    shared: Option<(f64, f64)>,
}

/// The figure, when variance.csv has positive variances.
pub(super) fn figure(results: &Results) -> Option<VarianceFigure> {
    let mut plans: Vec<&str> = Vec::new();
    for row in &results.variance {
        if !plans.contains(&row.plan.as_str()) {
            plans.push(&row.plan);
        }
    }
    let lines: Vec<_> = plans
        .into_iter()
        .enumerate()
        .map(|(n, plan)| {
            let points: Vec<Point> = results
                .variance
                .iter()
                .filter(|r| r.plan == plan && r.variance > 0.0)
                .map(|r| Point {
                    x: r.i as f64,
                    y: r.variance,
                    band: None,
                    samples: 1,
                })
                .collect();
            // The baseline's plan is `0..T`, T + 1 hidden states.
            let label = match *plan == format!("0..{}", points.len().saturating_sub(1)) {
                true => format!("full model ({plan})"),
                false => style::shorten(plan, 36),
            };
            (label, style::series_colour(n), points)
        })
        .filter(|(_, _, points)| !points.is_empty())
        .collect();
    (!lines.is_empty()).then(|| VarianceFigure {
        model: results.model.clone(),
        lines,
        shared: None,
    })
}

impl VarianceFigure {
    /// The smallest and largest variance drawn (all positive).
    fn range(&self) -> (f64, f64) {
        let points = self.lines.iter().flat_map(|l| &l.2);
        points.fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
            (lo.min(p.y), hi.max(p.y))
        })
    }
}

impl Figure for VarianceFigure {
    fn value_range(&self) -> Option<(f64, f64)> {
        Some(self.range())
    }

    fn share_value_range(&mut self, range: (f64, f64)) {
        self.shared = Some(range);
    }

    fn stem(&self) -> String {
        "hidden-variance".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let mut title = "Variance of the hidden states".to_string();
        if let Some(model) = &self.model {
            title = format!("{title} — {model}");
        }
        let (area, legend_area) = lines::layout(root, &title)?;
        let points = || self.lines.iter().flat_map(|l| &l.2);
        let x_max = points().map(|p| p.x).fold(1.0, f64::max);
        let (lo, hi) = self.shared.unwrap_or_else(|| self.range());
        let axes = (
            "hidden state index (0 = embeddings, k = after step k)",
            "variance of the hidden state's entries",
        );
        let y = (lo / 1.5..hi * 1.5).log_scale();
        let mut chart = lines::chart(&area, -0.5..x_max + 0.5, y, axes)?;
        let mut entries = Vec::new();
        for (label, colour, points) in &self.lines {
            let stroke = Stroke {
                colour: *colour,
                width: 3,
                dashed: false,
                band: false,
            };
            lines::curve(&mut chart, points, &stroke)?;
            entries.push(Entry::new(label.clone(), *colour, 3));
        }
        legend::draw(
            &legend_area,
            &entries,
            &[
                "Mean over passages of the".into(),
                "variance over tokens and channels.".into(),
            ],
        )?;
        Ok(())
    }
}
