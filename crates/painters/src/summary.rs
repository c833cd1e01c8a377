//! `summary.csv` and `medians.csv` of an experiment: one row per (cell, task, metric)
//! with the paper's normalised score, and one row per cell with the median over the
//! benchmarks where the full model is significantly above chance. Both are plain CSV
//! that pandas reads directly.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::experiment::Cell;
use crate::store::StoredResult;

/// The metric each benchmark is judged by in normalised scores and medians.
pub fn headline(task: &str) -> (&'static str, &'static str) {
    match task {
        "arc_easy" | "arc_challenge" | "hellaswag" | "piqa" => ("acc_norm", "none"),
        "gsm8k" => ("exact_match", "flexible-extract"),
        _ => ("acc", "none"),
    }
}

#[derive(Serialize)]
struct Row<'a> {
    variant: &'a str,
    kind: &'a str,
    start_layer: Option<usize>,
    affected_layers: Option<usize>,
    seed: Option<u64>,
    times: Option<usize>,
    layer: Option<usize>,
    plan: String,
    plan_hash: String,
    task: &'a str,
    /// Where the cell's per-item records are: store/<store_key>.jsonl.
    store_key: &'a str,
    metric: &'a str,
    filter: &'a str,
    value: f64,
    stderr: Option<f64>,
    n: usize,
    chance: Option<f64>,
    full: Option<f64>,
    normalised: Option<f64>,
    normalised_stderr: Option<f64>,
    informative: bool,
}

#[derive(Serialize)]
struct MedianRow<'a> {
    variant: &'a str,
    kind: &'a str,
    start_layer: Option<usize>,
    affected_layers: Option<usize>,
    seed: Option<u64>,
    times: Option<usize>,
    layer: Option<usize>,
    median_normalised: Option<f64>,
    benchmarks: usize,
}

/// `results[c][t]` is cell c's result on task t, stored under `keys[c][t]`; cell 0 is
/// the baseline.
pub fn write(dir: &Path, cells: &[Cell], tasks: &[String], results: &[Vec<StoredResult>], keys: &[Vec<String>]) -> Result<()> {
    // Full-model value, chance and whether the full model beats chance, per (task, metric, filter).
    let mut reference = HashMap::new();
    for (t, stored) in results[0].iter().enumerate() {
        for m in &stored.result.metrics {
            let chance = chance_of(stored, &m.name);
            // Significantly above chance: more than 1.96 standard errors.
            let informative = chance.is_some_and(|c| m.value - c > 1.96 * m.stderr.unwrap_or(0.0));
            reference.insert((t, m.name.clone(), m.filter.clone()), (m.value, chance, informative));
        }
    }
    let mut summary = csv::Writer::from_writer(Vec::new());
    let mut medians = csv::Writer::from_writer(Vec::new());
    for ((cell, cell_results), keys) in cells.iter().zip(results).zip(keys) {
        let mut headline_scores = Vec::new();
        for (t, stored) in cell_results.iter().enumerate() {
            for m in &stored.result.metrics {
                let &(full, chance, informative) = &reference[&(t, m.name.clone(), m.filter.clone())];
                let span = chance.map(|c| full - c).filter(|s| *s != 0.0);
                let normalised = chance.zip(span).map(|(c, s)| (m.value - c) / s);
                let row = Row {
                    variant: &cell.label,
                    kind: &cell.spec.name,
                    start_layer: cell.spec.start_layer,
                    affected_layers: cell.affected_layers,
                    seed: cell.spec.seed,
                    times: cell.spec.times,
                    layer: cell.spec.layer,
                    plan: cell.plan.to_string(),
                    plan_hash: cell.plan.hash(),
                    task: &tasks[t],
                    store_key: &keys[t],
                    metric: &m.name,
                    filter: &m.filter,
                    value: m.value,
                    stderr: m.stderr,
                    n: stored.result.n,
                    chance,
                    full: Some(full),
                    normalised,
                    normalised_stderr: m.stderr.zip(span).map(|(e, s)| e / s.abs()),
                    informative,
                };
                summary.serialize(row)?;
                if (m.name.as_str(), m.filter.as_str()) == headline(&tasks[t]) && informative {
                    headline_scores.extend(normalised);
                }
            }
        }
        medians.serialize(MedianRow {
            variant: &cell.label,
            kind: &cell.spec.name,
            start_layer: cell.spec.start_layer,
            affected_layers: cell.affected_layers,
            seed: cell.spec.seed,
            times: cell.spec.times,
            layer: cell.spec.layer,
            median_normalised: eval_suite::stats::median(&headline_scores),
            benchmarks: headline_scores.len(),
        })?;
    }
    crate::atomic::write(&dir.join("summary.csv"), &summary.into_inner()?)?;
    crate::atomic::write(&dir.join("medians.csv"), &medians.into_inner()?)?;
    Ok(())
}

fn chance_of(stored: &StoredResult, metric: &str) -> Option<f64> {
    stored.chance.iter().find(|(m, _)| m == metric).and_then(|(_, c)| *c)
}
