//! `summary.csv` and `medians.csv` of an experiment: one row per (cell, task, metric)
//! with the paper's normalised score, and one row per cell with the median over the
//! benchmarks where the full model is significantly above chance. Where a variant ran
//! with several seeds (shuffle) at one window, medians.csv also has a row for the seeds
//! together (`seed` empty, `seeds` their count): per benchmark the mean over seeds of the
//! normalised score, then the median over benchmarks, as the paper's points are "the
//! average of 10 seeds". Both are plain CSV that pandas reads directly.
//!
//! `normalised_stderr` counts the full model's sampling error as well as the variant's:
//! the delta method of [`eval_suite::stats::normalised_stderr`] on the per-item scores of
//! the two, paired on the same items from the store (0 on the baseline's own rows).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use eval_suite::stats::{normalised_score, paired_item_scores};
use layer_plan::VariantSpec;
use serde::{Deserialize, Serialize};

use crate::experiment::Cell;
use crate::store::{Store, StoredResult};
use crate::table::TableError;

/// The metric each benchmark is judged by in normalised scores and medians: its registry
/// entry's [`eval_suite::TaskDef::headline`] (`acc` for a task the registry does not know).
pub fn headline(task: &str) -> (&'static str, &'static str) {
    eval_suite::task(task).map_or(("acc", "none"), |def| def.headline)
}

/// One row of summary.csv.
#[derive(Serialize, Deserialize)]
pub struct Row {
    pub variant: String,
    pub kind: String,
    pub start_layer: Option<usize>,
    pub affected_layers: Option<usize>,
    pub seed: Option<u64>,
    pub times: Option<usize>,
    pub layer: Option<usize>,
    /// An explicit plan's `label` (files from before the column have none).
    #[serde(default)]
    pub label: Option<String>,
    pub plan: String,
    pub plan_hash: String,
    pub task: String,
    /// Where the cell's per-item records are: store/<store_key>.jsonl.
    pub store_key: String,
    pub metric: String,
    pub filter: String,
    pub value: f64,
    pub stderr: Option<f64>,
    pub n: usize,
    pub chance: Option<f64>,
    pub full: Option<f64>,
    pub normalised: Option<f64>,
    pub normalised_stderr: Option<f64>,
    pub informative: bool,
}

/// One row of medians.csv.
#[derive(Serialize, Deserialize)]
pub struct MedianRow {
    pub variant: String,
    pub kind: String,
    pub start_layer: Option<usize>,
    pub affected_layers: Option<usize>,
    pub seed: Option<u64>,
    pub times: Option<usize>,
    pub layer: Option<usize>,
    /// An explicit plan's `label` (files from before the column have none).
    #[serde(default)]
    pub label: Option<String>,
    pub median_normalised: Option<f64>,
    pub benchmarks: usize,
    /// How many seeds' cells the row averages: 1 but for the seed-averaged rows (and in
    /// files from before the column existed).
    #[serde(default = "one")]
    pub seeds: usize,
}

fn one() -> usize {
    1
}

impl MedianRow {
    /// The median of `scores`, one per benchmark, for the cell(s) of `spec`.
    fn new(
        variant: &str,
        spec: &VariantSpec,
        affected_layers: Option<usize>,
        scores: &[f64],
        seeds: usize,
    ) -> Self {
        MedianRow {
            variant: variant.to_string(),
            kind: spec.kind(),
            start_layer: spec.start_layer,
            affected_layers,
            seed: spec.seed,
            times: spec.times,
            layer: spec.layer,
            label: spec.label.clone(),
            median_normalised: eval_suite::stats::median(scores),
            benchmarks: scores.len(),
            seeds,
        }
    }
}

/// `results[c][t]` is cell c's result on task t, stored under `keys[c][t]` in `store`
/// (which has its items); cell 0 is the baseline.
pub fn write(
    dir: &Path,
    cells: &[Cell],
    tasks: &[String],
    results: &[Vec<StoredResult>],
    keys: &[Vec<String>],
    store: &Store,
) -> Result<()> {
    // Full-model value, chance and whether the full model beats chance, per (task, metric, filter).
    let mut reference = HashMap::new();
    for (t, stored) in results[0].iter().enumerate() {
        for m in &stored.result.metrics {
            let chance = chance_of(stored, &m.name);
            // Significantly above chance: more than 1.96 standard errors.
            let informative = chance.is_some_and(|c| m.value - c > 1.96 * m.stderr.unwrap_or(0.0));
            reference.insert(
                (t, m.name.clone(), m.filter.clone()),
                (m.value, chance, informative),
            );
        }
    }
    let full_items = keys[0]
        .iter()
        .map(|key| store.items(key))
        .collect::<Result<Vec<_>>>()?;
    let mut summary = csv::Writer::from_writer(Vec::new());
    let mut medians = csv::Writer::from_writer(Vec::new());
    // `counted[c][t]`: cell c's normalised headline score on task t where medians count it.
    let mut counted = Vec::new();
    for (c, ((cell, cell_results), cell_keys)) in cells.iter().zip(results).zip(keys).enumerate() {
        let mut cell_counted = Vec::new();
        for (t, stored) in cell_results.iter().enumerate() {
            let own_items = if c == 0 {
                None
            } else {
                Some(store.items(&cell_keys[t])?)
            };
            let items = own_items.as_deref().unwrap_or(&full_items[t]);
            let mut headline_score = None;
            for m in &stored.result.metrics {
                let &(full, chance, informative) =
                    &reference[&(t, m.name.clone(), m.filter.clone())];
                let normalised = chance.and_then(|c| normalised_score(m.value, c, full));
                let normalised_stderr = match chance.filter(|_| normalised.is_some()) {
                    Some(chance) => {
                        let (f, v) = paired_item_scores(&full_items[t], items, &m.name, &m.filter)
                            .with_context(|| {
                                format!(
                                    "store/{}.jsonl against the baseline's store/{}.jsonl",
                                    cell_keys[t], keys[0][t]
                                )
                            })?;
                        eval_suite::stats::normalised_stderr(&f, &v, chance)?
                    }
                    None => None,
                };
                let row = Row {
                    variant: cell.label.clone(),
                    kind: cell.spec.kind(),
                    start_layer: cell.spec.start_layer,
                    affected_layers: cell.affected_layers,
                    seed: cell.spec.seed,
                    times: cell.spec.times,
                    layer: cell.spec.layer,
                    label: cell.spec.label.clone(),
                    plan: cell.plan.to_string(),
                    plan_hash: cell.plan.hash(),
                    task: tasks[t].clone(),
                    store_key: cell_keys[t].clone(),
                    metric: m.name.clone(),
                    filter: m.filter.clone(),
                    value: m.value,
                    stderr: m.stderr,
                    n: stored.result.n,
                    chance,
                    full: Some(full),
                    normalised,
                    normalised_stderr,
                    informative,
                };
                summary.serialize(row)?;
                if (m.name.as_str(), m.filter.as_str()) == headline(&tasks[t]) && informative {
                    headline_score = normalised;
                }
            }
            cell_counted.push(headline_score);
        }
        let scores: Vec<f64> = cell_counted.iter().flatten().copied().collect();
        medians.serialize(MedianRow::new(
            &cell.label,
            &cell.spec,
            cell.affected_layers,
            &scores,
            1,
        ))?;
        counted.push(cell_counted);
    }
    for (spec, members) in seed_groups(cells) {
        // Per task, the mean over seeds where every seed's score counts (they all do or none).
        let means: Vec<f64> = (0..tasks.len())
            .filter_map(|t| {
                members
                    .iter()
                    .map(|&c| counted[c][t])
                    .collect::<Option<Vec<f64>>>()
            })
            .map(|scores| eval_suite::metrics::mean(&scores))
            .collect();
        let label = format!(
            "{} ({} seeds)",
            crate::experiment::label(&spec),
            members.len()
        );
        medians.serialize(MedianRow::new(
            &label,
            &spec,
            cells[members[0]].affected_layers,
            &means,
            members.len(),
        ))?;
    }
    crate::atomic::write(&dir.join("summary.csv"), &summary.into_inner()?)?;
    crate::atomic::write(&dir.join("medians.csv"), &medians.into_inner()?)?;
    Ok(())
}

/// The cells that differ only in their seed, in groups of two or more: each group's spec
/// without a seed and its cells' indices, in grid order.
fn seed_groups(cells: &[Cell]) -> Vec<(VariantSpec, Vec<usize>)> {
    let mut groups: Vec<(VariantSpec, Vec<usize>)> = Vec::new();
    for (c, cell) in cells
        .iter()
        .enumerate()
        .filter(|(_, cell)| cell.spec.seed.is_some())
    {
        let spec = VariantSpec {
            seed: None,
            ..cell.spec.clone()
        };
        match groups.iter_mut().find(|(s, _)| *s == spec) {
            Some((_, members)) => members.push(c),
            None => groups.push((spec, vec![c])),
        }
    }
    groups.retain(|(_, members)| members.len() > 1);
    groups
}

/// summary.csv of results directory `dir`, as [`write`] wrote it.
pub fn read(dir: &Path) -> Result<Vec<Row>, TableError> {
    crate::table::read(&dir.join("summary.csv"))
}

fn chance_of(stored: &StoredResult, metric: &str) -> Option<f64> {
    stored
        .chance
        .iter()
        .find(|(m, _)| m == metric)
        .and_then(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use crate::testing::{csv_rows, results_dir};

    #[test]
    fn normalised_stderr_counts_the_full_models_sampling_error() {
        let dir = tempfile::tempdir().unwrap();
        let scores = |label: &str, _: &str| match label {
            "baseline" => vec![1.0, 1.0, 1.0, 0.0, 0.0, 1.0],
            _ => vec![1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
        };
        results_dir(
            dir.path(),
            "[[variants]]\nkind = \"skip\"\nstart_layer = 3\n",
            &["arc_easy"],
            scores,
        );
        let rows = csv_rows(&dir.path().join("summary.csv"));
        let se = |variant: &str| {
            let row = rows
                .iter()
                .find(|r| r["variant"] == variant && r["metric"] == "acc_norm")
                .unwrap();
            row["normalised_stderr"].parse::<f64>().unwrap()
        };
        // The delta method's 0.38698837191833063 (derived in eval_suite::stats' tests);
        // the variant's stderr alone over (f - c) would be 0.5367. The baseline: 0.
        assert!(
            (se("skip s=3") - 0.38698837191833063).abs() < 1e-15,
            "{}",
            se("skip s=3")
        );
        assert_eq!(se("baseline"), 0.0);
    }

    #[test]
    fn seeds_of_one_window_get_a_seed_averaged_median() {
        let dir = tempfile::tempdir().unwrap();
        // Eight items, the full model right on all: normalised = (k / 8 - 1/4) / (3/4).
        // Seed s is right on every item of task s only (normalised 1 there, 0 elsewhere):
        // each seed's median is 0, the seed means are 1/3 on every task, their median 1/3.
        let tasks = ["arc_easy", "hellaswag", "piqa"];
        let scores = |label: &str, task: &str| {
            let right = match label.split_once("seed=") {
                Some((_, seed)) => tasks[seed.parse::<usize>().unwrap()] == task,
                None => true,
            };
            let k = if right { 8 } else { 2 };
            (0..8).map(|i| if i < k { 1.0 } else { 0.0 }).collect()
        };
        let variants = "[[variants]]\nkind = \"shuffle\"\nstart_layer = 3\nseed = { from = 0, to = 2 }\n\
                        [[variants]]\nkind = \"shuffle\"\nstart_layer = 4\nseed = 0\n";
        results_dir(dir.path(), variants, &tasks, scores);
        let rows = csv_rows(&dir.path().join("medians.csv"));
        let columns = [
            "variant",
            "start_layer",
            "affected_layers",
            "seed",
            "median_normalised",
            "benchmarks",
            "seeds",
        ];
        let table: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| columns.iter().map(|c| r[*c].as_str()).collect())
            .collect();
        assert_eq!(
            table,
            [
                ["baseline", "", "0", "", "1.0", "3", "1"],
                ["shuffle s=3 seed=0", "3", "5", "0", "0.0", "3", "1"],
                ["shuffle s=3 seed=1", "3", "5", "1", "0.0", "3", "1"],
                ["shuffle s=3 seed=2", "3", "5", "2", "0.0", "3", "1"],
                ["shuffle s=4 seed=0", "4", "3", "0", "0.0", "3", "1"],
                [
                    "shuffle s=3 (3 seeds)",
                    "3",
                    "5",
                    "",
                    "0.3333333333333333",
                    "3",
                    "3"
                ],
            ]
        );
    }
}
