//! Points to draw, aggregated from result rows: each benchmark's headline metric, the
//! baseline as the point M = 0, and shuffle seeds averaged into one point whose error is
//! their spread (the paper plots the mean over seeds).

use std::collections::BTreeMap;

use super::data::{Median, Score};
use super::style;

pub(super) struct Point {
    pub x: f64,
    pub y: f64,
    /// The error band (low, high): ± the standard deviation over seeds where a point
    /// averages several, else ± the row's standard error, or a confidence interval.
    pub band: Option<(f64, f64)>,
    /// How many rows (seeds) the point averages.
    pub samples: usize,
}

impl Point {
    /// The lowest and highest y the point draws (its band, else itself).
    pub fn extent(&self) -> [f64; 2] {
        let (lo, hi) = self.band.unwrap_or((self.y, self.y));
        [lo, hi]
    }
}

/// One benchmark's curve in a variant figure.
pub(super) struct Benchmark {
    pub task: String,
    pub metric: String,
    pub filter: String,
    /// False when the full model is at chance on it: drawn apart, not in the median.
    pub informative: bool,
    pub points: Vec<Point>,
}

/// Whether `s` is its task's headline metric, the one the runner's medians use.
fn is_headline(s: &Score) -> bool {
    (s.metric.as_str(), s.filter.as_str()) == crate::summary::headline(&s.task)
}

/// K is part of a variant's identity only for looped parallel.
pub(super) fn variant_times(kind: &str, times: Option<usize>) -> Option<usize> {
    times.filter(|_| kind == "looped-parallel")
}

/// The (kind, K) variants among `cells` that get figures and overview lines, in legend order.
pub(super) fn variants<'a>(
    cells: impl Iterator<Item = (&'a str, Option<usize>)>,
) -> Vec<(&'static str, Option<usize>)> {
    let ranked = |(kind, times): (&str, Option<usize>)| {
        let (rank, kind) = style::variant_kinds()
            .enumerate()
            .find(|(_, k)| *k == kind)?;
        Some((rank, kind, variant_times(kind, times)))
    };
    let mut out: Vec<_> = cells.filter_map(ranked).collect();
    out.sort_unstable();
    out.dedup();
    out.into_iter()
        .map(|(_, kind, times)| (kind, times))
        .collect()
}

/// Means per x of (x, y, error) samples; non-finite y are dropped.
pub(super) fn aggregate(
    samples: impl IntoIterator<Item = (usize, f64, Option<f64>)>,
) -> Vec<Point> {
    let mut by_x: BTreeMap<usize, Vec<(f64, Option<f64>)>> = BTreeMap::new();
    for (x, y, err) in samples.into_iter().filter(|s| s.1.is_finite()) {
        by_x.entry(x).or_default().push((y, err));
    }
    let point = |(x, ys): (usize, Vec<(f64, Option<f64>)>)| {
        let n = ys.len() as f64;
        let mean = ys.iter().map(|s| s.0).sum::<f64>() / n;
        let err = match ys.as_slice() {
            [(_, err)] => *err,
            _ => Some((ys.iter().map(|s| (s.0 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()),
        };
        Point {
            x: x as f64,
            y: mean,
            band: err.filter(|e| e.is_finite()).map(|e| (mean - e, mean + e)),
            samples: ys.len(),
        }
    };
    by_x.into_iter().map(point).collect()
}

/// Each benchmark's normalised headline score against M for one variant, from M = 0
/// (the baseline) up, in the fixed benchmark order.
pub(super) fn benchmarks(scores: &[Score], kind: &str, times: Option<usize>) -> Vec<Benchmark> {
    let mine = |s: &&Score| s.kind == kind && variant_times(&s.kind, s.times) == times;
    let mut by_task: BTreeMap<_, Vec<&Score>> = BTreeMap::new();
    for s in scores
        .iter()
        .filter(|s| is_headline(s) && s.normalised.is_some())
    {
        if mine(&s) || s.kind == "baseline" {
            by_task
                .entry(style::task_rank(&s.task))
                .or_default()
                .push(s);
        }
    }
    let curve = |rows: Vec<&Score>| {
        let variant: Vec<_> = rows.iter().copied().filter(mine).collect();
        let first = variant.first()?;
        Some(Benchmark {
            task: first.task.clone(),
            metric: first.metric.clone(),
            filter: first.filter.clone(),
            informative: variant.iter().all(|s| s.informative),
            points: aggregate(
                rows.iter()
                    .filter_map(|s| Some((s.affected_layers?, s.normalised?, s.normalised_stderr))),
            ),
        })
    };
    by_task.into_values().filter_map(curve).collect()
}

/// The median normalised score against M for one variant, with the baseline at M = 0.
/// Where seeds were averaged (medians.csv rows with `seeds` > 1) the point is that
/// median of the seed means, with the per-seed medians' spread as its band.
pub(super) fn median(medians: &[Median], kind: &str, times: Option<usize>) -> Vec<Point> {
    let mine = |m: &&Median| {
        m.kind == "baseline" || (m.kind == kind && variant_times(&m.kind, m.times) == times)
    };
    let points = |seed_averaged: bool| {
        aggregate(
            medians
                .iter()
                .filter(mine)
                .filter(|m| (m.seeds > 1) == seed_averaged)
                .filter_map(|m| Some((m.affected_layers?, m.median_normalised?, None))),
        )
    };
    let averaged = points(true);
    let mut per_seed = points(false);
    for point in &mut per_seed {
        if let Some(a) = averaged.iter().find(|a| a.x == point.x) {
            // The spread of the per-seed medians, around the seed-averaged median.
            let shift = a.y - point.y;
            point.band = point.band.map(|(lo, hi)| (lo + shift, hi + shift));
            point.y = a.y;
        }
    }
    per_seed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, affected: usize, median: f64, seeds: usize) -> Median {
        Median {
            variant: String::new(),
            kind: kind.into(),
            start_layer: None,
            affected_layers: Some(affected),
            seed: None,
            times: None,
            layer: None,
            label: None,
            median_normalised: Some(median),
            benchmarks: 1,
            seeds,
        }
    }

    #[test]
    fn median_line_is_the_seed_averaged_row_where_there_is_one() {
        let medians = [
            row("baseline", 0, 1.0, 1),
            row("shuffle", 4, 0.2, 1),
            row("shuffle", 4, 0.4, 1),
            row("shuffle", 4, 0.9, 1),
            row("shuffle", 4, 0.35, 3),
            row("shuffle", 8, 0.1, 1),
            row("skip", 4, 0.7, 1),
        ];
        let points = median(&medians, "shuffle", None);
        let xy: Vec<(f64, f64, usize)> = points.iter().map(|p| (p.x, p.y, p.samples)).collect();
        // M = 4: the seed-averaged 0.35, not the mean 0.5 of the per-seed medians.
        assert_eq!(xy, [(0.0, 1.0, 1), (4.0, 0.35, 3), (8.0, 0.1, 1)]);
        // Its band: the per-seed medians' standard deviation.
        let sd = ((0.09f64 + 0.01 + 0.16) / 2.0).sqrt();
        let (lo, hi) = points[1].band.unwrap();
        assert!((hi - 0.35 - sd).abs() < 1e-12 && (0.35 - lo - sd).abs() < 1e-12);
    }
}
