//! One variant against the number of affected layers M (paper Figs 4-9 and 17): each
//! benchmark's normalised headline score with its error band, their median as a thick
//! black line, and the full-model (1) and random (0) levels. Benchmarks where the full
//! model is at chance are dashed, without band, and noted as left out of the median.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::Results;
use super::legend::{self, Entry};
use super::lines::{self, Stroke};
use super::series::{self, Benchmark, Point};
use super::style::{self, INK, REFERENCE};
use super::{DrawResult, Figure};

pub(super) struct VariantFigure {
    kind: &'static str,
    times: Option<usize>,
    model: Option<String>,
    benchmarks: Vec<Benchmark>,
    median: Vec<Point>,
    /// The y range shared with other panels.
    shared: Option<(f64, f64)>,
}

pub(super) fn figures(results: &Results) -> Vec<VariantFigure> {
    let variants = series::variants(results.scores.iter().map(|s| (s.kind.as_str(), s.times)));
    let figure = |(kind, times)| {
        let benchmarks = series::benchmarks(&results.scores, kind, times);
        let median = series::median(&results.medians, kind, times);
        let model = results.model.clone();
        (!benchmarks.is_empty()).then_some(VariantFigure {
            kind,
            times,
            model,
            benchmarks,
            median,
            shared: None,
        })
    };
    variants.into_iter().filter_map(figure).collect()
}

/// The y range: every informative point with its band, the median, 0 and 1 (unpadded).
/// Benchmarks at chance can have wild normalised scores; they are clipped instead.
fn y_range(fig: &VariantFigure) -> (f64, f64) {
    let informative = fig
        .benchmarks
        .iter()
        .filter(|b| b.informative)
        .flat_map(|b| &b.points);
    let ends = informative.chain(&fig.median).flat_map(Point::extent);
    ends.fold((0.0f64, 1.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)))
}

impl Figure for VariantFigure {
    fn stem(&self) -> String {
        let k = self.times.map(|k| format!("-k{k}")).unwrap_or_default();
        format!("{}{k}", style::slug(self.kind))
    }

    fn value_range(&self) -> Option<(f64, f64)> {
        Some(y_range(self))
    }

    fn share_value_range(&mut self, range: (f64, f64)) {
        self.shared = Some(range);
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let mut title = style::kind_label(self.kind, self.times);
        if let Some(model) = &self.model {
            title = format!("{title} — {model}");
        }
        let (area, legend_area) = lines::layout(root, &title)?;
        let points = self
            .benchmarks
            .iter()
            .flat_map(|b| &b.points)
            .chain(&self.median);
        let x_max = points.map(|p| p.x).fold(1.0, f64::max);
        let (lo, hi) = self.shared.unwrap_or_else(|| y_range(self));
        let pad = 0.06 * (hi - lo);
        let (lo, hi) = (lo - pad, hi + pad);
        let axes = (
            "number of affected layers M",
            "normalised score (0 = random, 1 = full model)",
        );
        let mut chart = lines::chart(&area, -0.5..x_max + 0.5, lo..hi, axes)?;
        lines::reference(&mut chart, 1.0, INK)?;
        lines::reference(&mut chart, 0.0, REFERENCE)?;
        let mut entries = Vec::new();
        // Excluded benchmarks first, so the informative ones and the median lie on top.
        for b in self
            .benchmarks
            .iter()
            .filter(|b| !b.informative)
            .chain(self.benchmarks.iter().filter(|b| b.informative))
        {
            let colour = style::task_colour(&b.task);
            let colour = if b.informative {
                colour
            } else {
                style::pale(colour)
            };
            let stroke = Stroke {
                colour,
                width: 2,
                dashed: !b.informative,
                band: b.informative,
            };
            lines::curve(&mut chart, &b.points, &stroke)?;
            let (label, mut notes) = style::benchmark_label(&b.task, &b.metric, &b.filter);
            if !b.informative {
                notes.push("(at chance, excluded from median)".into());
            }
            entries.push(Entry {
                label,
                notes,
                colour,
                width: 2,
                dashed: !b.informative,
            });
        }
        entries.sort_by_key(|e| e.dashed);
        let black = Stroke {
            colour: BLACK,
            width: 5,
            dashed: false,
            band: true,
        };
        lines::curve(&mut chart, &self.median, &black)?;
        let mut median = Entry::new("median", BLACK, 5);
        median.notes.push("of the informative benchmarks".into());
        entries.push(median);
        entries.push(Entry::new("full model", INK, 2));
        entries.push(Entry::new("random", REFERENCE, 2));
        legend::draw(&legend_area, &entries, &band_caption(&self.benchmarks))?;
        Ok(())
    }
}

/// What the shaded bands mean: seed spread where points average several seeds.
fn band_caption(benchmarks: &[Benchmark]) -> Vec<String> {
    let seeds = benchmarks
        .iter()
        .flat_map(|b| &b.points)
        .map(|p| p.samples)
        .max()
        .unwrap_or(1);
    match seeds {
        1 => vec!["Bands: ±1 standard error.".into()],
        n => vec![
            format!("Points: mean over {n} seeds;"),
            "bands: ±1 s.d. across seeds.".into(),
        ],
    }
}
