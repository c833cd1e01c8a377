//! Labelled explicit plans that remove layers (e.g. the plans each pruning criterion
//! chose) on one chart: the median normalised score against the number of layers removed,
//! one line per label, from the full model at 0. The band is the 95% paired-bootstrap
//! interval of the median from paired.csv (its row of the cell against the baseline: the
//! baseline's normalised median is 1 on every resample, so the interval of the difference
//! is the median's own, shifted by 1); without paired.csv the lines have no band.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::Results;
use super::lines;
use super::series::Point;
use super::style;
use super::{DrawResult, Figure};

pub(super) struct Labelled {
    model: Option<String>,
    banded: bool,
    /// (label, colour, median against layers removed)
    lines: Vec<(String, RGBColor, Vec<Point>)>,
    /// The y range shared with other panels.
    shared: Option<(f64, f64)>,
}

/// The figure, when medians.csv has labelled plans that remove layers.
pub(super) fn figure(results: &Results) -> Option<Labelled> {
    let mut labels: Vec<&str> = Vec::new();
    for m in &results.medians {
        if let (Some(label), Some(_)) = (&m.label, m.affected_layers)
            && !labels.contains(&label.as_str())
        {
            labels.push(label);
        }
    }
    let lines: Vec<(String, RGBColor, Vec<Point>)> = labels
        .into_iter()
        .enumerate()
        .map(|(i, label)| {
            let mut points = vec![Point {
                x: 0.0,
                y: 1.0,
                band: None,
                samples: 1,
            }];
            for m in &results.medians {
                if m.label.as_deref() != Some(label) {
                    continue;
                }
                let (Some(removed), Some(y)) = (m.affected_layers, m.median_normalised) else {
                    continue;
                };
                points.push(Point {
                    x: removed as f64,
                    y,
                    band: crate::paired::interval(&results.paired, &m.variant, "median"),
                    samples: 1,
                });
            }
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            (label.to_string(), style::series_colour(i), points)
        })
        .filter(|(_, _, points)| points.len() > 1)
        .collect();
    (!lines.is_empty()).then(|| Labelled {
        model: results.model.clone(),
        banded: lines.iter().flat_map(|l| &l.2).any(|p| p.band.is_some()),
        lines,
        shared: None,
    })
}

impl Figure for Labelled {
    fn stem(&self) -> String {
        "labelled-plans".into()
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
        let caption = if self.banded {
            vec![
                "Bands: 95% paired-bootstrap interval".into(),
                "of the median (paired.csv)".into(),
            ]
        } else {
            Vec::new()
        };
        lines::medians(
            root,
            (
                "Layers removed: median normalised score",
                self.model.as_deref(),
            ),
            "layers removed",
            (&self.lines, self.shared),
            &caption,
        )
    }
}
