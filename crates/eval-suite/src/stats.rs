//! The paper's aggregates over benchmarks, and paired comparisons of two variants scored
//! on the same items.
//!
//! - Normalised score `(score - random) / (full - random)`: 0 is chance, 1 the full
//!   (baseline) model. Chance is the task's registry [`Chance`]: the mean of
//!   `1 / number of choices` over the items of a multiple-choice task, the majority-class
//!   rate for BoolQ (the paper's "max-class" guessing), and 0 for GSM8K exact match and
//!   LAMBADA accuracy; perplexity has none.
//! - The standard error of a normalised score by the delta method, counting the full
//!   model's sampling error as well as the variant's: both are means over the same items,
//!   `v̄` and `f̄`, and with `r = (v̄ - c) / (f̄ - c)` (chance `c` a constant of the item set)
//!   `Var(r) ≈ [Var(v̄) + r² Var(f̄) - 2 r Cov(v̄, f̄)] / (f̄ - c)²`, where `Var(v̄) = s_v² / n`,
//!   `Cov(v̄, f̄) = s_vf / n` with the items' sample (n - 1) variances and covariance. It is
//!   0 for the full model itself.
//! - The median across benchmarks (mean of the two middle values for an even count).
//! - Bootstrap replicates of normalised scores of several cells on several benchmarks,
//!   paired over items: one `random.Random(seed)`; each resample draws, benchmark after
//!   benchmark, `rnd.choices(range(n), k=n)` item indices, and scores the full model and
//!   every cell on those same items (means summed left to right), so Python replays them;
//!   and their central interval by numpy's default (linear) percentiles.
//! - McNemar's exact test: two-sided binomial test on the discordant pairs.
//!
//! Only arithmetic on scores already computed; nothing here calls a model.

use layer_plan::PyRandom;

use crate::error::StatsError;
use crate::metrics::{mean, py_choice_index};
use crate::records::{ItemRecord, TaskResult};
use crate::tasks::{Chance, task};

/// The score of guessing on `result`'s items for a mean-aggregated metric, by its task's
/// [`Chance`]; `None` for metrics without per-item scores (the perplexities), for a task
/// not in the registry, and without items (or, for a multiple-choice chance, without
/// choice items).
pub fn chance_level(result: &TaskResult, metric: &str) -> Option<f64> {
    if !result.items.first()?.reports(metric) {
        return None;
    }
    let choice: Vec<_> = result
        .items
        .iter()
        .filter_map(|item| match item {
            ItemRecord::Choice(r) => Some(r),
            _ => None,
        })
        .collect();
    match task(&result.task)?.chance {
        Chance::Zero => Some(0.0),
        _ if choice.is_empty() => None,
        Chance::MajorityClass => {
            let mut counts: Vec<usize> = Vec::new();
            for r in &choice {
                if counts.len() <= r.gold {
                    counts.resize(r.gold + 1, 0);
                }
                counts[r.gold] += 1;
            }
            let majority = counts.into_iter().max().unwrap_or(0);
            Some(majority as f64 / choice.len() as f64)
        }
        Chance::Uniform => {
            let inverse: Vec<f64> = choice
                .iter()
                .map(|r| 1.0 / r.loglikelihoods.len() as f64)
                .collect();
            Some(mean(&inverse))
        }
    }
}

/// `(score - chance) / (full - chance)`; `None` when the full model is at chance.
pub fn normalised_score(score: f64, chance: f64, full: f64) -> Option<f64> {
    let span = full - chance;
    (span != 0.0).then(|| (score - chance) / span)
}

/// The median; `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Per-item scores of `metric` under `filter` for two results over the same docs (same
/// doc ids in the same order), as (baseline, variant).
pub fn paired_scores(
    baseline: &TaskResult,
    variant: &TaskResult,
    metric: &str,
    filter: &str,
) -> Result<(Vec<f64>, Vec<f64>), StatsError> {
    paired_item_scores(&baseline.items, &variant.items, metric, filter)
}

/// [`paired_scores`] of two results' item records.
pub fn paired_item_scores(
    baseline: &[ItemRecord],
    variant: &[ItemRecord],
    metric: &str,
    filter: &str,
) -> Result<(Vec<f64>, Vec<f64>), StatsError> {
    if baseline.len() != variant.len() {
        return Err(StatsError::Unpaired {
            a: baseline.len(),
            b: variant.len(),
        });
    }
    let mut a = Vec::with_capacity(baseline.len());
    let mut b = Vec::with_capacity(baseline.len());
    for (index, (x, y)) in baseline.iter().zip(variant).enumerate() {
        let same_doc = x.doc_id() == y.doc_id() && subject(x) == subject(y);
        match (same_doc, x.score(metric, filter), y.score(metric, filter)) {
            (true, Some(sx), Some(sy)) => {
                a.push(sx);
                b.push(sy);
            }
            (false, ..) => return Err(StatsError::Mismatch { index }),
            _ => {
                return Err(StatsError::NoScore {
                    metric: format!("{metric},{filter}"),
                });
            }
        }
    }
    Ok((a, b))
}

fn subject(item: &ItemRecord) -> Option<&str> {
    match item {
        ItemRecord::Choice(r) => r.subject.as_deref(),
        _ => None,
    }
}

/// The central `confidence` interval of bootstrap `replicates` by numpy's default (linear)
/// percentiles, leaving out non-finite replicates; `None` if none is finite. Sorts
/// `replicates`.
pub fn percentile_interval(replicates: &mut Vec<f64>, confidence: f64) -> Option<(f64, f64)> {
    replicates.retain(|r| r.is_finite());
    if replicates.is_empty() {
        return None;
    }
    replicates.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Some((
        percentile(replicates, tail),
        percentile(replicates, 1.0 - tail),
    ))
}

/// The delta-method standard error of the normalised score of `variant`'s per-item scores
/// against the full model's `full` on the same items (see the module docs); 0 for the
/// full model itself. `None` under two items or when the full model is at chance.
pub fn normalised_stderr(
    full: &[f64],
    variant: &[f64],
    chance: f64,
) -> Result<Option<f64>, StatsError> {
    check_pairs(full.len(), variant.len())?;
    let n = full.len();
    let (f, v) = (mean(full), mean(variant));
    let span = f - chance;
    if n < 2 || span == 0.0 {
        return Ok(None);
    }
    // Sample covariance of the items, over n for the variance of a mean.
    let covariance_of_means = |x: &[f64], mx: f64, y: &[f64], my: f64| {
        let sum: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        sum / (n - 1) as f64 / n as f64
    };
    let var_v = covariance_of_means(variant, v, variant, v);
    let var_f = covariance_of_means(full, f, full, f);
    let cov = covariance_of_means(variant, v, full, f);
    let r = (v - chance) / span;
    // Rounding can leave the full model's own variance a hair below 0.
    let var_r = ((var_v + r * r * var_f - 2.0 * r * cov) / (span * span)).max(0.0);
    Ok(Some(var_r.sqrt()))
}

/// One benchmark as [`bootstrap_normalised`] resamples it: its chance level, the full
/// model's per-item scores and each compared cell's, all on the same items.
pub struct PairedItems<'a> {
    pub chance: f64,
    pub full: &'a [f64],
    pub cells: Vec<&'a [f64]>,
}

/// `out[r][t][c]`: cell c's normalised score on benchmark t in paired bootstrap resample r
/// (draws as the module docs say), the reference being the full model's mean on the same
/// resampled items; NaN where that mean is at chance.
pub fn bootstrap_normalised(
    benchmarks: &[PairedItems],
    resamples: usize,
    seed: u64,
) -> Result<Vec<Vec<Vec<f64>>>, StatsError> {
    if resamples == 0 {
        return Err(StatsError::NoResamples);
    }
    for b in benchmarks {
        for cell in &b.cells {
            check_pairs(b.full.len(), cell.len())?;
        }
    }
    let mut rng = PyRandom::new(seed);
    let mut drawn = Vec::new();
    let mut out = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let mut scores = Vec::with_capacity(benchmarks.len());
        for b in benchmarks {
            let n = b.full.len();
            drawn.clear();
            drawn.extend((0..n).map(|_| py_choice_index(&mut rng, n)));
            let mean_of = |items: &[f64]| drawn.iter().map(|&i| items[i]).sum::<f64>() / n as f64;
            let full = mean_of(b.full);
            let normalised =
                |cell: &&[f64]| normalised_score(mean_of(cell), b.chance, full).unwrap_or(f64::NAN);
            scores.push(b.cells.iter().map(normalised).collect());
        }
        out.push(scores);
    }
    Ok(out)
}

/// numpy's default `percentile` (linear interpolation) of sorted, non-empty values;
/// `q` in [0, 1].
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

/// McNemar's exact test on paired right/wrong outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct McNemar {
    /// Items the baseline got right and the variant wrong.
    pub baseline_only: usize,
    /// Items the variant got right and the baseline wrong.
    pub variant_only: usize,
    /// Two-sided exact p-value.
    pub p_value: f64,
}

/// McNemar's exact test; items count as right when their score is 1.
pub fn mcnemar_exact(baseline: &[f64], variant: &[f64]) -> Result<McNemar, StatsError> {
    check_pairs(baseline.len(), variant.len())?;
    let (mut b, mut c) = (0, 0);
    for (&x, &y) in baseline.iter().zip(variant) {
        match (x == 1.0, y == 1.0) {
            (true, false) => b += 1,
            (false, true) => c += 1,
            _ => {}
        }
    }
    Ok(McNemar {
        baseline_only: b,
        variant_only: c,
        p_value: mcnemar_p_value(b, c),
    })
}

/// `min(1, 2 * P(X <= min(b, c)))` for `X ~ Binomial(b + c, 1/2)`; 1 when there are no
/// discordant pairs. Summed in log space so large counts neither overflow nor underflow.
pub fn mcnemar_p_value(b: usize, c: usize) -> f64 {
    let n = b + c;
    let k = b.min(c);
    // ln C(n, i) for i = 0..=k, built incrementally.
    let mut ln_choose = Vec::with_capacity(k + 1);
    let mut current = 0.0f64;
    for i in 0..=k {
        ln_choose.push(current);
        current += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    // The largest term is the last (k <= n / 2).
    let top = ln_choose[k];
    let scaled: f64 = ln_choose.iter().map(|l| (l - top).exp()).sum();
    let ln_tail = top + scaled.ln() - n as f64 * std::f64::consts::LN_2;
    (2.0 * ln_tail.exp()).min(1.0)
}

fn check_pairs(a: usize, b: usize) -> Result<(), StatsError> {
    match (a, b) {
        _ if a != b => Err(StatsError::Unpaired { a, b }),
        (0, _) => Err(StatsError::Empty),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_by_hand() {
        // n = 10, k = 1: 2 * (1 + 10) / 1024.
        assert!((mcnemar_p_value(1, 9) - 0.021484375).abs() < 1e-15);
        assert!((mcnemar_p_value(9, 1) - 0.021484375).abs() < 1e-15);
        // n = 4, k = 2: 2 * (1 + 4 + 6) / 16 > 1 -> 1.
        assert_eq!(mcnemar_p_value(2, 2), 1.0);
        assert_eq!(mcnemar_p_value(0, 0), 1.0);
        // n = 5, k = 0: 2 / 32.
        assert!((mcnemar_p_value(0, 5) - 0.0625).abs() < 1e-15);
        // Large counts stay finite: 2 * P(X <= 4000 | n = 10000) is astronomically small.
        let p = mcnemar_p_value(4000, 6000);
        assert!(p > 0.0 && p < 1e-80);
    }

    #[test]
    fn mcnemar_counts_discordant_pairs() {
        let base = [1.0, 1.0, 0.0, 0.0, 1.0];
        let var = [1.0, 0.0, 1.0, 1.0, 0.0];
        let m = mcnemar_exact(&base, &var).unwrap();
        assert_eq!((m.baseline_only, m.variant_only), (2, 2));
        assert_eq!(
            mcnemar_exact(&[1.0], &[]),
            Err(StatsError::Unpaired { a: 1, b: 0 })
        );
        assert_eq!(mcnemar_exact(&[], &[]), Err(StatsError::Empty));
    }

    #[test]
    fn normalised_and_median_by_hand() {
        // (0.5 - 0.25) / (0.75 - 0.25) = 0.5
        assert_eq!(normalised_score(0.5, 0.25, 0.75), Some(0.5));
        assert_eq!(normalised_score(0.5, 0.25, 0.25), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn normalised_stderr_by_the_delta_method() {
        // f = [1,1,1,0,1], v = [1,0,1,0,0], c = 0.25: f̄ = 0.8, v̄ = 0.4, r = 0.15 / 0.55;
        // Var(v̄) = 0.3 / 5 = 0.06, Var(f̄) = 0.2 / 5 = 0.04, Cov = 0.1 / 5 = 0.02;
        // sqrt((0.06 + r² 0.04 - 2 r 0.02) / 0.55²) = 0.41487274043012007 (numpy:
        // C = np.cov(v, f, ddof=1) / 5; np.sqrt((C[0,0] + r*r*C[1,1] - 2*r*C[0,1]) / 0.55**2)).
        let full = [1.0, 1.0, 1.0, 0.0, 1.0];
        let se = normalised_stderr(&full, &[1.0, 0.0, 1.0, 0.0, 0.0], 0.25)
            .unwrap()
            .unwrap();
        assert!((se - 0.41487274043012007).abs() < 1e-15, "{se}");
        // The full model against itself: exactly 0.
        assert_eq!(normalised_stderr(&full, &full, 0.25), Ok(Some(0.0)));
        // A variant that loses one item the full model gets: r = 0.6 with 0.387; the
        // variant's stderr alone over (f̄ - c) would say sqrt(0.3 / 6) / 0.41667 = 0.537.
        let full = [1.0, 1.0, 1.0, 0.0, 0.0, 1.0];
        let variant = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        let se = normalised_stderr(&full, &variant, 0.25).unwrap().unwrap();
        assert!((se - 0.38698837191833063).abs() < 1e-15, "{se}");
        assert_eq!(normalised_stderr(&[1.0], &[0.0], 0.25), Ok(None));
        assert_eq!(normalised_stderr(&[1.0, 0.0], &[0.0, 0.0], 0.5), Ok(None));
        assert_eq!(
            normalised_stderr(&[1.0, 0.0], &[0.0], 0.5),
            Err(StatsError::Unpaired { a: 2, b: 1 })
        );
    }

    #[test]
    fn bootstrap_normalised_replays_python() {
        // random.Random(0); per resample, per benchmark: idx = rnd.choices(range(n), k=n).
        // Seed 0 draws (over n = 2) 1, 1 | 0, 0 (see metrics::bootstrap tests); with one
        // benchmark of n = 2: resample 0 is items [1, 1], resample 1 items [0, 0].
        let full = [1.0, 0.5];
        let cell = [0.5, 0.25];
        let b = PairedItems {
            chance: 0.0,
            full: &full,
            cells: vec![&cell, &full],
        };
        let reps = bootstrap_normalised(&[b], 2, 0).unwrap();
        assert_eq!(reps, vec![vec![vec![0.5, 1.0]], vec![vec![0.5, 1.0]]]);
        // At chance in a resample: NaN, which the interval leaves out.
        let b = PairedItems {
            chance: 0.5,
            full: &full,
            cells: vec![&cell],
        };
        let reps = bootstrap_normalised(&[b], 2, 0).unwrap();
        assert!(reps[0][0][0].is_nan() && reps[1][0][0] == 0.0);
        let mut values = vec![f64::NAN, 2.0, 1.0];
        assert_eq!(percentile_interval(&mut values, 0.5), Some((1.25, 1.75)));
        assert_eq!(percentile_interval(&mut vec![f64::NAN], 0.5), None);
        let b = PairedItems {
            chance: 0.0,
            full: &full,
            cells: vec![&cell[..1]],
        };
        assert_eq!(
            bootstrap_normalised(&[b], 2, 0),
            Err(StatsError::Unpaired { a: 2, b: 1 })
        );
    }

    #[test]
    fn percentile_interpolates_like_numpy() {
        // np.percentile([1, 2, 3, 4], 25) == 1.75; 100 -> 4
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 1.0), 4.0);
        assert_eq!(percentile(&[5.0], 0.5), 5.0);
    }
}
