//! Every variant's median normalised score against M on one chart (paper Fig 11), one
//! line per kind and per K for looped parallel, with the full-model and random levels.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::Results;
use super::lines;
use super::series::{self, Point};
use super::style;
use super::{DrawResult, Figure};

pub(super) struct Overview {
    model: Option<String>,
    /// Whether medians.csv has seed-averaged rows (older files have only per-seed ones).
    seed_averaged: bool,
    /// (legend label, colour, median against M)
    lines: Vec<(String, RGBColor, Vec<Point>)>,
    /// The y range shared with other panels.
    shared: Option<(f64, f64)>,
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
        shared: None,
    })
}

impl Figure for Overview {
    fn stem(&self) -> String {
        "all-variants".into()
    }

    fn value_range(&self) -> Option<(f64, f64)> {
        Some(lines::median_range(&self.lines))
    }

    fn share_value_range(&mut self, range: (f64, f64)) {
        self.shared = Some(range);
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let points = || self.lines.iter().flat_map(|l| &l.2);
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
        lines::medians(
            root,
            (
                "All variants: median normalised score",
                self.model.as_deref(),
            ),
            "number of affected layers M",
            (&self.lines, self.shared),
            &caption,
        )
    }
}
