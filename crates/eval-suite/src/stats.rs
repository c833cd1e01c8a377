//! The paper's aggregates over benchmarks, and paired comparisons of two variants scored
//! on the same items.
//!
//! - Normalised score `(score - random) / (full - random)`: 0 is chance, 1 the full
//!   (baseline) model. Chance is the mean of `1 / number of choices` over the items of a
//!   multiple-choice task, the majority-class rate for BoolQ (the paper's "max-class"
//!   guessing), and 0 for GSM8K exact match and LAMBADA accuracy; perplexity has none.
//! - The median across benchmarks (mean of the two middle values for an even count).
//! - A paired bootstrap CI of the mean difference (variant - baseline), deterministic:
//!   with `random.Random(seed)`, each resample is `rnd.choices(diffs, k=n)` and the CI
//!   takes numpy's default (linear) percentiles of the resample means, so Python can
//!   replay it exactly.
//! - McNemar's exact test: two-sided binomial test on the discordant pairs.
//!
//! Only arithmetic on scores already computed; nothing here calls a model.

use layer_plan::PyRandom;

use crate::error::StatsError;
use crate::metrics::{mean, py_choice_index};
use crate::records::{ItemRecord, TaskResult};

/// Tasks whose chance level is the majority-class rate.
const MAX_CLASS_TASKS: [&str; 1] = ["boolq"];

/// The score of guessing on `result`'s items for a mean-aggregated metric; `None` for
/// metrics without one (`perplexity`) or without items.
pub fn chance_level(result: &TaskResult, metric: &str) -> Option<f64> {
    if metric == "perplexity" || result.items.is_empty() {
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
    if choice.is_empty() {
        // Generation (exact match) and LAMBADA accuracy: guessing scores nothing.
        return Some(0.0);
    }
    if MAX_CLASS_TASKS.contains(&result.task.as_str()) {
        let mut counts: Vec<usize> = Vec::new();
        for r in &choice {
            if counts.len() <= r.gold {
                counts.resize(r.gold + 1, 0);
            }
            counts[r.gold] += 1;
        }
        let majority = counts.into_iter().max().unwrap_or(0);
        return Some(majority as f64 / choice.len() as f64);
    }
    let inverse: Vec<f64> = choice
        .iter()
        .map(|r| 1.0 / r.loglikelihoods.len() as f64)
        .collect();
    Some(mean(&inverse))
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
    if baseline.items.len() != variant.items.len() {
        return Err(StatsError::Unpaired {
            a: baseline.items.len(),
            b: variant.items.len(),
        });
    }
    let mut a = Vec::with_capacity(baseline.items.len());
    let mut b = Vec::with_capacity(baseline.items.len());
    for (index, (x, y)) in baseline.items.iter().zip(&variant.items).enumerate() {
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

/// A paired bootstrap confidence interval of `mean(variant - baseline)`.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedBootstrap {
    pub mean_difference: f64,
    pub lower: f64,
    pub upper: f64,
    pub confidence: f64,
    pub resamples: usize,
}

/// Percentile bootstrap of the mean paired difference (see the module docs for the draws).
pub fn paired_bootstrap(
    baseline: &[f64],
    variant: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Result<PairedBootstrap, StatsError> {
    check_pairs(baseline.len(), variant.len())?;
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(StatsError::Confidence(confidence));
    }
    if resamples == 0 {
        return Err(StatsError::NoResamples);
    }
    let diffs: Vec<f64> = variant.iter().zip(baseline).map(|(v, b)| v - b).collect();
    let n = diffs.len();
    let mut rng = PyRandom::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            (0..n)
                .map(|_| diffs[py_choice_index(&mut rng, n)])
                .sum::<f64>()
                / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Ok(PairedBootstrap {
        mean_difference: mean(&diffs),
        lower: percentile(&means, tail),
        upper: percentile(&means, 1.0 - tail),
        confidence,
        resamples,
    })
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
    fn percentile_interpolates_like_numpy() {
        // np.percentile([1, 2, 3, 4], 25) == 1.75; 100 -> 4
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 1.0), 4.0);
        assert_eq!(percentile(&[5.0], 0.5), 5.0);
    }

    #[test]
    fn paired_bootstrap_replays_python() {
        // With seed 0 the first draws over n = 2 are items 1, 1 | 0, 0 (see
        // metrics::bootstrap tests), so with diffs [0, 1] the two resample means are
        // 1.0 and 0.0; the 95% CI is percentiles 2.5 and 97.5 of [0, 1].
        let r = paired_bootstrap(&[1.0, 0.0], &[1.0, 1.0], 2, 0.95, 0).unwrap();
        assert_eq!(r.mean_difference, 0.5);
        assert!((r.lower - 0.025).abs() < 1e-15);
        assert!((r.upper - 0.975).abs() < 1e-15);
        assert_eq!(
            paired_bootstrap(&[1.0], &[1.0], 10, 1.0, 0),
            Err(StatsError::Confidence(1.0))
        );
        assert_eq!(
            paired_bootstrap(&[1.0], &[1.0], 0, 0.9, 0),
            Err(StatsError::NoResamples)
        );
    }
}
