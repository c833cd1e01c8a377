//! Single-layer changes against the layer index N (paper Fig 2): skipping layer N and
//! switching layers N and N+1, on the raw metric (not normalised), with the full model's
//! value and, where defined, the random-guess level. One figure per task and metric;
//! perplexity is drawn on a logarithmic axis.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::data::{Results, Score};
use super::legend::{self, Entry};
use super::lines::{self, Stroke};
use super::series::{self, Point};
use super::style::{self, INK, REFERENCE};
use super::{DrawResult, Figure};

const KINDS: [&str; 2] = ["skip-one", "swap"];

pub(super) struct SingleLayer {
    model: Option<String>,
    task: String,
    metric: String,
    filter: String,
    full: Option<f64>,
    chance: Option<f64>,
    lines: Vec<(&'static str, Vec<Point>)>,
    /// The y range shared with other panels.
    shared: Option<(f64, f64)>,
}

pub(super) fn figures(results: &Results) -> Vec<SingleLayer> {
    let rows: Vec<&Score> = results
        .scores
        .iter()
        .filter(|s| KINDS.contains(&s.kind.as_str()) && s.layer.is_some())
        .collect();
    let mut metrics: Vec<_> = rows
        .iter()
        .map(|s| (style::task_rank(&s.task), &s.metric, &s.filter))
        .collect();
    metrics.sort();
    metrics.dedup();
    let figure = |((_, task), metric, filter): ((usize, String), &String, &String)| {
        let mine: Vec<_> = rows
            .iter()
            .filter(|s| s.task == task && &s.metric == metric && &s.filter == filter)
            .collect();
        let lines: Vec<_> = KINDS
            .iter()
            .map(|&kind| {
                (
                    kind,
                    series::aggregate(
                        mine.iter()
                            .filter(|s| s.kind == kind)
                            .filter_map(|s| Some((s.layer?, s.value, s.stderr))),
                    ),
                )
            })
            .filter(|l| !l.1.is_empty())
            .collect();
        (!lines.is_empty()).then(|| SingleLayer {
            model: results.model.clone(),
            full: mine[0].full,
            chance: mine[0].chance,
            task,
            metric: metric.clone(),
            filter: filter.clone(),
            lines,
            shared: None,
        })
    };
    metrics.into_iter().filter_map(figure).collect()
}

fn metric_name(metric: &str) -> &str {
    match metric {
        "acc" => "accuracy",
        "acc_norm" => "accuracy (length-normalised)",
        "exact_match" => "exact match",
        "perplexity" => "perplexity (log scale)",
        other => other,
    }
}

impl SingleLayer {
    /// The y range of every line, band and level (a width of 1 around a single value).
    fn range(&self) -> (f64, f64) {
        let (lo, hi) = self
            .levels()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        match (lo, hi) {
            (lo, hi) if lo < hi => (lo, hi),
            (v, _) if v.is_finite() => (v - 0.5, v + 0.5),
            _ => (0.0, 1.0),
        }
    }

    fn levels(&self) -> impl Iterator<Item = f64> + '_ {
        let ends = self.lines.iter().flat_map(|l| &l.1).flat_map(Point::extent);
        ends.chain(self.full)
            .chain(self.chance)
            .filter(|v| v.is_finite())
    }

    /// Builds the chart on `y` and draws the lines, levels and legend.
    fn finish<DB: DrawingBackend, Y>(
        &self,
        area: &DrawingArea<DB, Shift>,
        legend_area: &DrawingArea<DB, Shift>,
        y: Y,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let x_max = self
            .lines
            .iter()
            .flat_map(|l| &l.1)
            .map(|p| p.x)
            .fold(1.0, f64::max);
        let axes = ("layer index N", metric_name(&self.metric));
        let mut chart = lines::chart(area, -0.5..x_max + 0.5, y, axes)?;
        let mut levels = Vec::new();
        if let Some(full) = self.full {
            lines::reference(&mut chart, full, INK)?;
            levels.push(Entry::new(
                format!("full model ({})", style::number(full)),
                INK,
                2,
            ));
        }
        if let Some(chance) = self.chance {
            lines::reference(&mut chart, chance, REFERENCE)?;
            levels.push(Entry::new(
                format!("random ({})", style::number(chance)),
                REFERENCE,
                2,
            ));
        }
        let mut entries = Vec::new();
        for (kind, points) in &self.lines {
            let colour = style::kind_colour(kind);
            lines::curve(
                &mut chart,
                points,
                &Stroke {
                    colour,
                    width: 3,
                    dashed: false,
                    band: true,
                },
            )?;
            entries.push(Entry::new(style::kind_label(kind, None), colour, 3));
        }
        entries.extend(levels);
        legend::draw(legend_area, &entries, &["Bands: ±1 standard error.".into()])?;
        Ok(())
    }
}

impl Figure for SingleLayer {
    fn value_range(&self) -> Option<(f64, f64)> {
        Some(self.range())
    }

    fn share_value_range(&mut self, range: (f64, f64)) {
        self.shared = Some(range);
    }

    fn stem(&self) -> String {
        let filter = match self.filter.as_str() {
            "" | "none" => String::new(),
            f => format!("-{f}"),
        };
        style::slug(&format!(
            "single-layer-{}-{}{filter}",
            self.task, self.metric
        ))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (label, _) = style::benchmark_label(&self.task, &self.metric, &self.filter);
        let mut title = format!("{label}: one layer skipped or switched");
        if let Some(model) = &self.model {
            title = format!("{title} — {model}");
        }
        let (area, legend_area) = lines::layout(root, &title)?;
        let (lo, hi) = self.shared.unwrap_or_else(|| self.range());
        if self.metric == "perplexity" && lo > 0.0 {
            self.finish(&area, &legend_area, (lo / 1.3..hi * 1.3).log_scale())
        } else {
            let pad = 0.06 * (hi - lo);
            let lo = if lo >= 0.0 {
                (lo - pad).max(0.0)
            } else {
                lo - pad
            };
            self.finish(&area, &legend_area, lo..hi + pad)
        }
    }
}
