//! `paired.csv` (`painters stats DIR`): the cells of a results directory that affect the
//! same number of layers M > 0 compared two by two on the same items, and each against
//! the baseline. For each benchmark's headline metric, and for the median over the
//! informative benchmarks, a row gives both normalised scores, their difference (a - b)
//! with a 95% paired-bootstrap percentile interval, and for right/wrong metrics McNemar's
//! exact test on the items.
//!
//! The bootstrap ([`eval_suite::stats::bootstrap_normalised`]) resamples the items of
//! each benchmark with replacement and rescores both cells and the full model on the
//! drawn items, so the reference the scores are normalised by is resampled too; the
//! median row resamples every benchmark at once and takes the difference of the medians.
//! [`RESAMPLES`] resamples drawn from `random.Random(`[`SEED`]`)`, the same draws for
//! every M: the file is the same on every run, and Python replays it. A resample where the
//! full model's score falls to chance has no normalised score and is left out.
//!
//! The cells, their store keys, the chance levels and which benchmarks are informative
//! come from summary.csv, the per-item scores from the store.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};
use eval_suite::ItemRecord;
use eval_suite::metrics::mean;
use eval_suite::stats::{
    PairedItems, bootstrap_normalised, mcnemar_exact, median, normalised_score, paired_item_scores,
    percentile_interval,
};
use rayon::prelude::*;
use serde::Serialize;

use crate::store::Store;
use crate::summary::{Row, headline};

pub const RESAMPLES: usize = 10_000;
pub const SEED: u64 = 0;
const CONFIDENCE: f64 = 0.95;

/// A benchmark the full model has a normalised score on, by its headline metric.
struct Benchmark<'a> {
    task: &'a str,
    metric: &'a str,
    filter: &'a str,
    chance: f64,
    /// Whether medians count it (the full model is significantly above chance).
    informative: bool,
}

/// A cell of the grid and where its result on each benchmark is stored.
struct Cell<'a> {
    label: &'a str,
    affected: Option<usize>,
    keys: Vec<&'a str>,
}

#[derive(Serialize)]
struct PairRow<'a> {
    cell_a: &'a str,
    cell_b: &'a str,
    affected_layers: usize,
    /// The benchmark, or `median` for the median over the informative benchmarks.
    task: &'a str,
    metric: &'a str,
    filter: &'a str,
    /// Items (the median row: over its benchmarks).
    n: usize,
    normalised_a: f64,
    normalised_b: f64,
    difference: f64,
    ci_lower: Option<f64>,
    ci_upper: Option<f64>,
    /// Items a got right and b wrong.
    mcnemar_b: Option<usize>,
    /// Items b got right and a wrong.
    mcnemar_c: Option<usize>,
    mcnemar_p: Option<f64>,
    /// The interval excludes 0.
    significant: bool,
}

/// A paired.csv row as the figures, tables and report read it back.
#[derive(serde::Deserialize)]
pub struct PairedRow {
    pub cell_a: String,
    pub cell_b: String,
    pub affected_layers: usize,
    pub task: String,
    pub metric: String,
    pub n: usize,
    pub normalised_a: f64,
    pub normalised_b: f64,
    pub difference: f64,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub mcnemar_p: Option<f64>,
    pub significant: bool,
}

/// The row comparing `a` with `b` on `task` (`median` for the median), in either order.
pub fn find<'a>(rows: &'a [PairedRow], a: &str, b: &str, task: &str) -> Option<&'a PairedRow> {
    rows.iter().find(|r| {
        r.task == task && ((r.cell_a == a && r.cell_b == b) || (r.cell_a == b && r.cell_b == a))
    })
}

/// The 95% interval of `cell`'s normalised score on `task` (`median`: its median): its
/// row against the baseline, shifted by the baseline's 1 (the full model's normalised
/// score is 1 on every resample, so the interval of the difference is the score's own).
pub fn interval(rows: &[PairedRow], cell: &str, task: &str) -> Option<(f64, f64)> {
    let row = rows
        .iter()
        .find(|r| r.task == task && r.cell_a == cell && r.cell_b == "baseline")?;
    Some((1.0 + row.ci_lower?, 1.0 + row.ci_upper?))
}

/// Writes `dir/paired.csv`; returns its number of rows.
pub fn write(dir: &Path) -> Result<usize> {
    let rows = crate::summary::read(dir)?;
    let (benchmarks, cells) =
        grid(&rows).with_context(|| dir.join("summary.csv").display().to_string())?;
    let store = Store::open_existing(dir)?;
    let baseline_items = cells[0]
        .keys
        .iter()
        .map(|key| store.items(key))
        .collect::<Result<Vec<_>>>()?;
    let full = item_scores(&store, &benchmarks, &baseline_items, &cells[0])?;
    let mut groups: BTreeMap<usize, Vec<&Cell>> = BTreeMap::new();
    for cell in &cells[1..] {
        if let Some(m) = cell.affected.filter(|&m| m > 0) {
            groups.entry(m).or_default().push(cell);
        }
    }
    if groups.is_empty() {
        bail!(
            "{}: no cell affects any layers: nothing to compare",
            dir.join("summary.csv").display()
        );
    }
    let blocks = groups
        .par_iter()
        .map(|(&m, members)| {
            let mut scores = members
                .iter()
                .map(|cell| item_scores(&store, &benchmarks, &baseline_items, cell))
                .collect::<Result<Vec<_>>>()?;
            scores.push(full.clone());
            let mut compared = members.clone();
            compared.push(&cells[0]);
            compare(&benchmarks, &full, &compared, &scores, m)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    for row in blocks.iter().flatten() {
        csv.serialize(row)?;
    }
    crate::atomic::write(&dir.join("paired.csv"), &csv.into_inner()?)?;
    Ok(blocks.iter().map(Vec::len).sum())
}

/// The benchmarks with a normalised score and the cells, baseline first, from summary.csv's
/// headline rows.
fn grid<'a>(rows: &'a [Row]) -> Result<(Vec<Benchmark<'a>>, Vec<Cell<'a>>)> {
    let mut order: Vec<&'a str> = Vec::new();
    let mut by_cell: HashMap<&'a str, Vec<&'a Row>> = HashMap::new();
    for row in rows
        .iter()
        .filter(|r| (r.metric.as_str(), r.filter.as_str()) == headline(&r.task))
    {
        let entry = by_cell.entry(&row.variant).or_insert_with(|| {
            order.push(&row.variant);
            Vec::new()
        });
        entry.push(row);
    }
    let Some(baseline) = order.first().map(|label| &by_cell[label]) else {
        bail!("no rows")
    };
    if baseline[0].kind != "baseline" {
        bail!(
            "the first cell is {:?}, not the baseline",
            baseline[0].variant
        );
    }
    let benchmarks: Vec<Benchmark> = baseline
        .iter()
        .filter(|r| r.normalised.is_some())
        .filter_map(|r| {
            Some(Benchmark {
                task: &r.task,
                metric: &r.metric,
                filter: &r.filter,
                chance: r.chance?,
                informative: r.informative,
            })
        })
        .collect();
    let cell = |&label: &&'a str| -> Result<Cell<'a>> {
        let rows = &by_cell[label];
        let key = |b: &Benchmark| {
            rows.iter()
                .find(|r| r.task == b.task)
                .map(|r| r.store_key.as_str())
        };
        let keys = benchmarks
            .iter()
            .map(|b| key(b).with_context(|| format!("cell {label:?} has no {} row", b.task)))
            .collect::<Result<_>>()?;
        Ok(Cell {
            label,
            affected: rows[0].affected_layers,
            keys,
        })
    };
    let cells = order.iter().map(cell).collect::<Result<_>>()?;
    Ok((benchmarks, cells))
}

/// `cell`'s per-item scores on each benchmark, checked to be on the baseline's items.
fn item_scores(
    store: &Store,
    benchmarks: &[Benchmark],
    baseline_items: &[Vec<ItemRecord>],
    cell: &Cell,
) -> Result<Vec<Vec<f64>>> {
    let scores = |((b, full), key): ((&Benchmark, &Vec<ItemRecord>), &&str)| -> Result<Vec<f64>> {
        let items = store.items(key)?;
        let (_, scores) =
            paired_item_scores(full, &items, b.metric, b.filter).with_context(|| {
                format!(
                    "cell {:?}, task {}: store/{key}.jsonl against the baseline's items",
                    cell.label, b.task
                )
            })?;
        Ok(scores)
    };
    benchmarks
        .iter()
        .zip(baseline_items)
        .zip(&cell.keys)
        .map(scores)
        .collect()
}

/// The rows of every pair of `cells` (all with M = `m`; the baseline last), whose
/// per-item scores are `scores[cell][benchmark]`; `full` is the baseline's.
fn compare<'a>(
    benchmarks: &[Benchmark<'a>],
    full: &[Vec<f64>],
    cells: &[&Cell<'a>],
    scores: &[Vec<Vec<f64>>],
    m: usize,
) -> Result<Vec<PairRow<'a>>> {
    let paired: Vec<PairedItems> = benchmarks
        .iter()
        .enumerate()
        .map(|(t, b)| PairedItems {
            chance: b.chance,
            full: &full[t],
            cells: scores.iter().map(|s| s[t].as_slice()).collect(),
        })
        .collect();
    // replicates[r][t][c]
    let replicates = bootstrap_normalised(&paired, RESAMPLES, SEED)?;
    let point = |c: usize, t: usize| {
        normalised_score(mean(&scores[c][t]), benchmarks[t].chance, mean(&full[t]))
            .unwrap_or(f64::NAN)
    };
    let informative: Vec<usize> = (0..benchmarks.len())
        .filter(|&t| benchmarks[t].informative)
        .collect();
    // The median over the informative benchmarks; NaN if any score is undefined.
    let median_of = |score: &dyn Fn(usize) -> f64| {
        let values: Vec<f64> = informative.iter().map(|&t| score(t)).collect();
        match values.iter().all(|v| v.is_finite()) {
            true => median(&values).unwrap_or(f64::NAN),
            false => f64::NAN,
        }
    };
    let mut rows = Vec::new();
    for a in 0..cells.len() {
        for b in a + 1..cells.len() {
            let row = |task,
                       metric,
                       filter,
                       n,
                       (normalised_a, normalised_b): (f64, f64),
                       mut diffs: Vec<f64>| {
                let ci = percentile_interval(&mut diffs, CONFIDENCE);
                PairRow {
                    cell_a: cells[a].label,
                    cell_b: cells[b].label,
                    affected_layers: m,
                    task,
                    metric,
                    filter,
                    n,
                    normalised_a,
                    normalised_b,
                    difference: normalised_a - normalised_b,
                    ci_lower: ci.map(|c| c.0),
                    ci_upper: ci.map(|c| c.1),
                    mcnemar_b: None,
                    mcnemar_c: None,
                    mcnemar_p: None,
                    significant: ci.is_some_and(|(lower, upper)| lower > 0.0 || upper < 0.0),
                }
            };
            for (t, bench) in benchmarks.iter().enumerate() {
                let diffs = replicates.iter().map(|r| r[t][a] - r[t][b]).collect();
                let mut pair_row = row(
                    bench.task,
                    bench.metric,
                    bench.filter,
                    full[t].len(),
                    (point(a, t), point(b, t)),
                    diffs,
                );
                let right_or_wrong = |s: &[f64]| s.iter().all(|&x| x == 0.0 || x == 1.0);
                if right_or_wrong(&scores[a][t]) && right_or_wrong(&scores[b][t]) {
                    let test = mcnemar_exact(&scores[a][t], &scores[b][t])?;
                    (pair_row.mcnemar_b, pair_row.mcnemar_c, pair_row.mcnemar_p) = (
                        Some(test.baseline_only),
                        Some(test.variant_only),
                        Some(test.p_value),
                    );
                }
                rows.push(pair_row);
            }
            if !informative.is_empty() {
                let n = informative.iter().map(|&t| full[t].len()).sum();
                let medians = (median_of(&|t| point(a, t)), median_of(&|t| point(b, t)));
                let diffs = replicates
                    .iter()
                    .map(|r| median_of(&|t| r[t][a]) - median_of(&|t| r[t][b]))
                    .collect();
                rows.push(row("median", "", "", n, medians, diffs));
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use crate::testing::{csv_rows, results_dir};

    /// Ten items per task; `full` is the baseline's.
    fn scores(label: &str, task: &str) -> Vec<f64> {
        let items: [u8; 10] = match (label.split(' ').next().unwrap(), task) {
            ("baseline", "arc_easy") => [1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
            ("baseline", _) => [1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
            ("skip", "arc_easy") => [1, 1, 1, 1, 1, 0, 0, 0, 0, 1],
            ("skip", _) => [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
            ("reverse", "arc_easy") => [1, 1, 0, 0, 0, 1, 0, 0, 0, 0],
            (_, _) => [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        };
        items.iter().map(|&x| f64::from(x)).collect()
    }

    #[test]
    fn paired_csv_compares_cells_of_one_m_on_the_same_items() {
        let dir = tempfile::tempdir().unwrap();
        // On 12 layers, skip and reverse at s = 3 both affect M = 5; parallel at s = 4, M = 3.
        let variants = "[[variants]]\nkind = \"skip\"\nstart_layer = 3\n\
                        [[variants]]\nkind = \"reverse\"\nstart_layer = 3\n\
                        [[variants]]\nkind = \"parallel\"\nstart_layer = 4\n";
        results_dir(dir.path(), variants, &["arc_easy", "piqa"], scores);
        assert_eq!(super::write(dir.path()).unwrap(), 12);
        let rows = csv_rows(&dir.path().join("paired.csv"));
        let pairs: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{} | {} | {} | {}",
                    r["affected_layers"], r["cell_a"], r["cell_b"], r["task"]
                )
            })
            .collect();
        let mut expected = Vec::new();
        for (m, a, b) in [
            (3, "parallel s=4", "baseline"),
            (5, "skip s=3", "reverse s=3"),
            (5, "skip s=3", "baseline"),
            (5, "reverse s=3", "baseline"),
        ] {
            for task in ["arc_easy", "piqa", "median"] {
                expected.push(format!("{m} | {a} | {b} | {task}"));
            }
        }
        assert_eq!(pairs, expected);
        let number = |row: usize, column: &str| rows[row][column].parse::<f64>().unwrap();
        let close = |x: f64, y: f64| (x - y).abs() < 1e-12;

        // skip vs reverse on ARC-Easy: normalised (0.6 - 0.25) / 0.55 and (0.3 - 0.25) / 0.55.
        // Items skip gets and reverse misses: 2, 3, 4, 9; the other way: 5. McNemar:
        // 2 * P(X <= 1 | n = 5) = 2 * 6 / 32.
        let arc = 3;
        assert_eq!(
            (rows[arc]["metric"].as_str(), rows[arc]["n"].as_str()),
            ("acc_norm", "10")
        );
        assert!(
            close(number(arc, "normalised_a"), 0.35 / 0.55)
                && close(number(arc, "normalised_b"), 0.05 / 0.55)
        );
        assert!(close(number(arc, "difference"), 0.3 / 0.55));
        assert_eq!(
            (
                rows[arc]["mcnemar_b"].as_str(),
                rows[arc]["mcnemar_c"].as_str()
            ),
            ("4", "1")
        );
        assert_eq!(number(arc, "mcnemar_p"), 0.375);
        // The intervals, replayed in Python (numpy 2; the script's sums run left to right):
        //   import random, numpy as np
        //   full = {"arc_easy": [1,1,1,1,1,1,1,1,0,0], "piqa": [1,1,1,1,1,1,1,0,0,0]}
        //   skip = {"arc_easy": [1,1,1,1,1,0,0,0,0,1], "piqa": [1,1,1,1,0,0,0,0,0,0]}
        //   rev  = {"arc_easy": [1,1,0,0,0,1,0,0,0,0], "piqa": [1,1,1,1,1,1,0,0,0,0]}
        //   def mean(x, idx):
        //       s = 0.0
        //       for i in idx: s += x[i]
        //       return s / len(idx)
        //   rnd, arc, med = random.Random(0), [], []
        //   for r in range(10000):
        //       a, b = [], []
        //       for t in ["arc_easy", "piqa"]:
        //           idx = rnd.choices(range(10), k=10)
        //           f = mean(full[t], idx)
        //           a.append((mean(skip[t], idx) - 0.25) / (f - 0.25))
        //           b.append((mean(rev[t], idx) - 0.25) / (f - 0.25))
        //       arc.append(a[0] - b[0])
        //       med.append((a[0] + a[1]) / 2 - (b[0] + b[1]) / 2)
        //   np.percentile(arc, [2.5, 97.5]), np.percentile(med, [2.5, 97.5])
        // and reverse vs the baseline on ARC-Easy: the same loop with b[0] = 1.
        assert!(
            close(number(arc, "ci_lower"), -0.18181818181818177)
                && close(number(arc, "ci_upper"), 1.7142857142857144)
        );
        assert_eq!(rows[arc]["significant"], "false");
        let median = 5;
        assert_eq!(
            (
                rows[median]["metric"].as_str(),
                rows[median]["n"].as_str(),
                rows[median]["mcnemar_p"].as_str()
            ),
            ("", "20", "")
        );
        // Medians of two benchmarks: their means. piqa: (0.4 - 0.25) / 0.45, (0.6 - 0.25) / 0.45.
        let (a, b) = (
            (0.35 / 0.55 + 0.15 / 0.45) / 2.0,
            (0.05 / 0.55 + 0.35 / 0.45) / 2.0,
        );
        assert!(
            close(number(median, "normalised_a"), a) && close(number(median, "normalised_b"), b)
        );
        assert!(
            close(number(median, "ci_lower"), -0.4666666666666667)
                && close(number(median, "ci_upper"), 0.7142857142857144)
        );
        // reverse vs the baseline on ARC-Easy: the same draws; significant.
        let against_full = 9;
        assert_eq!(number(against_full, "normalised_b"), 1.0);
        assert!(
            close(number(against_full, "ci_lower"), -1.5555555555555556)
                && close(number(against_full, "ci_upper"), -0.4)
        );
        assert_eq!(rows[against_full]["significant"], "true");
        assert_eq!(
            (
                rows[against_full]["mcnemar_b"].as_str(),
                rows[against_full]["mcnemar_c"].as_str()
            ),
            ("0", "5")
        );
    }
}
