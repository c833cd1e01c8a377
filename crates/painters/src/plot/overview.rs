//! Every variant's median normalised score against M on one chart (paper Fig 11), one
//! line per kind and per K for looped parallel, with the full-model and random levels.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::Results;
use super::legend::{self, Entry};
use super::lines::{self, Stroke};
use super::series::{self, Point};
use super::style::{self, INK, REFERENCE};
use super::{DrawResult, Figure};

pub(super) struct Overview {
    model: Option<String>,
    /// Whether medians.csv has seed-averaged rows (older files have only per-seed ones).
    seed_averaged: bool,
    /// (legend label, colour, median against M)
    lines: Vec<(String, RGBColor, Vec<Point>)>,
}

/// The overview, when medians.csv has at least one variant beyond the baseline.
pub(super) fn figure(results: &Results) -> Option<Overview> {
    let variants = series::variants(results.medians.iter().map(|m| (m.kind.as_str(), m.times)));
    let loops = variants.iter().filter(|v| v.0 == "looped-parallel").count();
    let mut looped = 0;
    let mut lines = Vec::new();
    for (kind, times) in variants {
        let colour = if kind == "looped-parallel" {
            looped += 1;
            style::k_colour(looped - 1, loops)
        } else {
            style::kind_colour(kind)
        };
        let points = series::median(&results.medians, kind, times);
        lines.push((style::kind_label(kind, times), colour, points));
    }
    (!lines.is_empty()).then(|| Overview {
        model: results.model.clone(),
        seed_averaged: results.medians.iter().any(|m| m.seeds > 1),
        lines,
    })
}

impl Figure for Overview {
    fn stem(&self) -> String {
        "all-variants".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let mut title = "All variants: median normalised score".to_string();
        if let Some(model) = &self.model {
            title = format!("{title} — {model}");
        }
        let (area, legend_area) = lines::layout(root, &title)?;
        let points = || self.lines.iter().flat_map(|l| &l.2);
        let x_max = points().map(|p| p.x).fold(1.0, f64::max);
        let ends = points().flat_map(Point::extent);
        let (lo, hi) = ends.fold((0.0f64, 1.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
        let pad = 0.06 * (hi - lo);
        let axes = (
            "number of affected layers M",
            "median normalised score (0 = random, 1 = full model)",
        );
        let mut chart = lines::chart(&area, -0.5..x_max + 0.5, lo - pad..hi + pad, axes)?;
        lines::reference(&mut chart, 1.0, INK)?;
        lines::reference(&mut chart, 0.0, REFERENCE)?;
        let mut entries = Vec::new();
        for (label, colour, points) in &self.lines {
            lines::curve(
                &mut chart,
                points,
                &Stroke {
                    colour: *colour,
                    width: 3,
                    dashed: false,
                    band: true,
                },
            )?;
            entries.push(Entry::new(label.clone(), *colour, 3));
        }
        entries.push(Entry::new("full model", INK, 2));
        entries.push(Entry::new("random", REFERENCE, 2));
        let seeds = points().map(|p| p.samples).max().unwrap_or(1);
        let caption = match (seeds, self.seed_averaged) {
            (1, _) => Vec::new(),
            (n, true) => vec![
                format!("Variants run with several ({n}) seeds:"),
                "median of the seed-averaged scores,".into(),
                "band ±1 s.d. of the per-seed medians".into(),
            ],
            (n, false) => vec![
                format!("Variants run with several ({n}) seeds:"),
                "mean over seeds, band ±1 s.d.".into(),
            ],
        };
        legend::draw(&legend_area, &entries, &caption)?;
        Ok(())
    }
}
