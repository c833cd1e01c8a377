//! lm-evaluation-harness 0.4.13's metric arithmetic (`lm_eval/api/metrics.py`,
//! `ConfigurableTask.process_results`), with its stderr formulas:
//!
//! - `acc` / `acc_norm`: `np.argmax` of the log-likelihoods, raw or divided by the
//!   character length of each `doc_to_choice` string (the choice text *without* the
//!   leading target delimiter); aggregated by `mean`, stderr `mean_stderr` =
//!   sample stddev / sqrt(n).
//! - `exact_match`: HF-evaluate's exact match after `regexes_to_ignore` and `ignore_case`.
//! - `perplexity`: `exp(-mean(ll))`; its stderr is lm-eval's bootstrap (100,000 resamples
//!   by default, in chunks of 1,000 each drawn with `random.Random(chunk_index).choices`),
//!   replayed draw for draw with the CPython RNG, so it is the number lm-eval prints.
//! - groups (MMLU): size-weighted mean of subtask scores and `pooled_sample_stderr`.
//!
//! Sums run left to right like CPython 3.11's `sum` (3.12+ compensates, which can move the
//! last bit). No task knowledge lives here.

use layer_plan::PyRandom;
use regex::Regex;

/// `mean(arr) = sum(arr) / len(arr)`; NaN for no items.
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// lm-eval's `sample_stddev`: the Bessel-corrected standard deviation.
pub fn sample_stddev(xs: &[f64]) -> f64 {
    let mu = mean(xs);
    (xs.iter().map(|x| (x - mu) * (x - mu)).sum::<f64>() / (xs.len() as f64 - 1.0)).sqrt()
}

/// lm-eval's `mean_stderr`: `sample_stddev / sqrt(n)`; `None` ("N/A") below two items.
pub fn mean_stderr(xs: &[f64]) -> Option<f64> {
    (xs.len() > 1).then(|| sample_stddev(xs) / (xs.len() as f64).sqrt())
}

/// `np.argmax`: the index of the first maximum (0 for an empty slice).
pub fn argmax(xs: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in xs.iter().enumerate() {
        if x > xs[best] {
            best = i;
        }
    }
    best
}

/// The `acc_norm` prediction: `argmax(ll / len(choice))`, lengths in characters.
pub fn argmax_normalised(lls: &[f64], choice_chars: &[usize]) -> usize {
    let normed: Vec<f64> = lls
        .iter()
        .zip(choice_chars)
        .map(|(ll, &len)| ll / len as f64)
        .collect();
    argmax(&normed)
}

/// The `perplexity` aggregation: `exp(-mean(ll))`.
pub fn perplexity(lls: &[f64]) -> f64 {
    (-mean(lls)).exp()
}

/// lm-eval's `bootstrap_stderr(f, xs, iters)`: `iters / min(1000, iters)` chunks, chunk `i`
/// drawn with `random.Random(i).choices(xs, k=len(xs))`, then the sample stddev of the
/// replicates. `None` ("N/A") below two items or without a whole chunk. Chunks are
/// independent, so they run on all cores; the replicates keep lm-eval's order.
pub fn bootstrap_stderr<T: Copy + Default + Sync>(
    f: impl Fn(&[T]) -> f64 + Sync,
    xs: &[T],
    iters: usize,
) -> Option<f64> {
    let chunk = iters.min(1000);
    if xs.len() < 2 || chunk == 0 {
        return None;
    }
    let seeds: Vec<u64> = (0..(iters / chunk) as u64).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = seeds.len().div_ceil(threads);
    let replicate_chunk = |seed: u64| {
        let mut rng = PyRandom::new(seed);
        let mut resample = vec![T::default(); xs.len()];
        (0..chunk)
            .map(|_| {
                for slot in resample.iter_mut() {
                    *slot = xs[py_choice_index(&mut rng, xs.len())];
                }
                f(&resample)
            })
            .collect::<Vec<f64>>()
    };
    let replicates: Vec<f64> = std::thread::scope(|scope| {
        let workers: Vec<_> = seeds
            .chunks(per_thread)
            .map(|group| {
                scope.spawn(|| {
                    group
                        .iter()
                        .flat_map(|&s| replicate_chunk(s))
                        .collect::<Vec<f64>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("bootstrap worker does not panic"))
            .collect()
    });
    Some(sample_stddev(&replicates))
}

/// lm-eval's `f1` aggregation, scikit-learn's binary `f1_score(golds, preds)` of the
/// `(gold, pred)` pairs with positive label 1: `2 TP / (2 TP + FP + FN)`, 0 when there is
/// no true positive (scikit-learn's `zero_division` default where nothing is positive).
pub fn f1_binary(pairs: &[(usize, usize)]) -> f64 {
    let count = |want: fn(usize, usize) -> bool| pairs.iter().filter(|&&(g, p)| want(g, p)).count();
    let tp = count(|g, p| g == 1 && p == 1);
    let wrong = count(|g, p| (g == 1) != (p == 1));
    if tp == 0 {
        return 0.0;
    }
    let tp = tp as f64;
    2.0 * tp / (2.0 * tp + wrong as f64)
}

/// lm-eval's `matthews_corrcoef` aggregation, scikit-learn's multiclass Matthews
/// correlation of the `(gold, pred)` pairs: from the confusion matrix's row sums t, column
/// sums p, trace c and size n, `(c n - t.p) / sqrt((n² - t.t)(n² - p.p))`, 0 when either
/// factor is 0.
pub fn matthews_corrcoef(pairs: &[(usize, usize)]) -> f64 {
    let classes = pairs.iter().map(|&(g, p)| g.max(p) + 1).max().unwrap_or(0);
    let (mut golds, mut preds) = (vec![0.0; classes], vec![0.0; classes]);
    let mut correct = 0.0;
    for &(g, p) in pairs {
        golds[g] += 1.0;
        preds[p] += 1.0;
        correct += f64::from(u8::from(g == p));
    }
    let n = pairs.len() as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let cov_gold_pred = correct * n - dot(&golds, &preds);
    let cov_gold = n * n - dot(&golds, &golds);
    let cov_pred = n * n - dot(&preds, &preds);
    if cov_gold * cov_pred == 0.0 {
        return 0.0;
    }
    cov_gold_pred / (cov_gold * cov_pred).sqrt()
}

/// One draw of CPython's `random.choices(population)` over `n` items:
/// `floor(random() * n)`.
pub(crate) fn py_choice_index(rng: &mut PyRandom, n: usize) -> usize {
    (rng.random() * n as f64).floor() as usize
}

/// lm-eval's `exact_match` settings (`exact_match_hf_evaluate`).
#[derive(Debug, Clone, Default)]
pub struct ExactMatch {
    /// Applied in order to prediction and reference alike; each match is replaced by its
    /// replacement string (`""` to delete, `"${1}"` to keep a captured group).
    pub regexes_to_ignore: Vec<(Regex, String)>,
    pub ignore_case: bool,
    /// Removes Python's `string.punctuation` characters.
    pub ignore_punctuation: bool,
    /// Removes the digits 0-9.
    pub ignore_numbers: bool,
}

/// Python's `string.punctuation`.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

impl ExactMatch {
    /// The settings of a task's YAML: `regexes_to_ignore` are Python patterns, each
    /// deleted with `re.sub(pattern, "", text)`. Python's `$` at the end of a pattern also
    /// matches before a final newline, which it keeps: such a pattern becomes
    /// `pattern(\n?)\z` with the newline put back. Errs with the pattern the `regex`
    /// crate cannot compile.
    pub fn new(
        regexes_to_ignore: &[&str],
        ignore_case: bool,
        ignore_punctuation: bool,
        ignore_numbers: bool,
    ) -> Result<Self, String> {
        let regexes_to_ignore = regexes_to_ignore
            .iter()
            .map(|&pattern| {
                let body = pattern
                    .strip_suffix('$')
                    .filter(|b| (b.len() - b.trim_end_matches('\\').len()) % 2 == 0);
                let (pattern, keep) = match body {
                    Some(body) => (format!("{body}(\n?)\\z"), true),
                    None => (pattern.to_string(), false),
                };
                let re = Regex::new(&pattern).map_err(|e| format!("{pattern:?}: {e}"))?;
                let replacement = if keep {
                    format!("${{{}}}", re.captures_len() - 1)
                } else {
                    String::new()
                };
                Ok((re, replacement))
            })
            .collect::<Result<_, String>>()?;
        Ok(ExactMatch {
            regexes_to_ignore,
            ignore_case,
            ignore_punctuation,
            ignore_numbers,
        })
    }

    /// Prediction or reference after `regexes_to_ignore`, lower-casing, and the removal
    /// of punctuation and digits, in lm-eval's order.
    pub fn normalise(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (re, replacement) in &self.regexes_to_ignore {
            text = re.replace_all(&text, replacement.as_str()).into_owned();
        }
        if self.ignore_case {
            text = text.to_lowercase();
        }
        if self.ignore_punctuation {
            text.retain(|c| !PUNCTUATION.contains(c));
        }
        if self.ignore_numbers {
            text.retain(|c| !c.is_ascii_digit());
        }
        text
    }

    /// 1.0 if prediction and reference agree after normalisation, else 0.0.
    pub fn score(&self, prediction: &str, reference: &str) -> f64 {
        f64::from(u8::from(
            self.normalise(prediction) == self.normalise(reference),
        ))
    }
}

/// `aggregate_subtask_metrics(..., weight_by_size=True)`: `sum(m * n) / sum(n)`.
pub fn weighted_mean(values: &[f64], sizes: &[usize]) -> f64 {
    let total: usize = sizes.iter().sum();
    values
        .iter()
        .zip(sizes)
        .map(|(v, &n)| v * n as f64)
        .sum::<f64>()
        / total as f64
}

/// `pooled_sample_stderr`: `sqrt(sum((n-1) * se^2 * n) / (sum(n) - k) / sum(n))`.
pub fn pooled_sample_stderr(stderrs: &[f64], sizes: &[usize]) -> f64 {
    let total = sizes.iter().sum::<usize>() as f64;
    let pooled_var = stderrs
        .iter()
        .zip(sizes)
        .map(|(se, &n)| (n as f64 - 1.0) * se * se * n as f64)
        .sum::<f64>()
        / (total - stderrs.len() as f64);
    (pooled_var / total).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn f1_and_mcc_by_hand() {
        // gold/pred: TP (1,1) x2, FN (1,0), FP (0,1), TN (0,0) -> F1 = 4 / (4 + 2).
        let pairs = [(1, 1), (1, 1), (1, 0), (0, 1), (0, 0)];
        assert!(close(f1_binary(&pairs), 4.0 / 6.0));
        // No positive gold or prediction: scikit-learn's zero_division gives 0.
        assert_eq!(f1_binary(&[(0, 0), (0, 0)]), 0.0);
        // Binary MCC: (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2 - 1) / sqrt(3*3*2*2).
        assert!(close(matthews_corrcoef(&pairs), 1.0 / 6.0));
        // Perfect and constant predictions.
        assert!(close(matthews_corrcoef(&[(0, 0), (1, 1), (2, 2)]), 1.0));
        assert_eq!(matthews_corrcoef(&[(0, 1), (1, 1), (2, 1)]), 0.0);
        // Three classes: c = 3, n = 4, t = (2, 1, 1), p = (1, 2, 1):
        // (3*4 - (2+2+1)) / sqrt((16 - 6)(16 - 6)) = 7 / 10.
        assert!(close(
            matthews_corrcoef(&[(0, 0), (0, 1), (1, 1), (2, 2)]),
            0.7
        ));
    }

    #[test]
    fn mean_and_stderr_by_hand() {
        // [1, 0, 1, 1]: mean 0.75; deviations 0.25,-0.75,0.25,0.25 -> SS 0.75;
        // var 0.75/3 = 0.25; sd 0.5; stderr 0.5/2 = 0.25.
        let xs = [1.0, 0.0, 1.0, 1.0];
        assert_eq!(mean(&xs), 0.75);
        assert_eq!(sample_stddev(&xs), 0.5);
        assert_eq!(mean_stderr(&xs), Some(0.25));
        assert_eq!(mean_stderr(&[1.0]), None);
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[-3.0, -1.0, -1.0, -2.0]), 1);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn acc_norm_divides_by_choice_characters() {
        // raw: -4 > -6 picks 0; per char: -4/2 = -2 < -6/6 = -1 picks 1.
        assert_eq!(argmax(&[-4.0, -6.0]), 0);
        assert_eq!(argmax_normalised(&[-4.0, -6.0], &[2, 6]), 1);
    }

    #[test]
    fn perplexity_by_hand() {
        // mean(-1, -3) = -2 -> e^2.
        assert!(close(perplexity(&[-1.0, -3.0]), 2f64.exp()));
    }

    #[test]
    fn bootstrap_replays_cpython_draws() {
        // random.Random(0).random() = 0.8444218515250481, 0.7579544029403025,
        // 0.420571580830845, 0.25891675029296335: with n = 2 the draws pick items
        // 1, 1 | 0, 0. One chunk of 2 replicates of the mean over [10, 20]:
        // 20 and 10 -> sample stddev sqrt(50).
        let se = bootstrap_stderr(mean, &[10.0, 20.0], 2).unwrap();
        assert!(close(se, 50f64.sqrt()));
        assert_eq!(bootstrap_stderr(mean, &[10.0], 2), None);
        assert_eq!(bootstrap_stderr(mean, &[10.0, 20.0], 0), None);
    }

    #[test]
    fn exact_match_applies_regexes_then_case_punctuation_and_digits() {
        let em = ExactMatch::new(&[",", "\\.$"], true, false, false).unwrap();
        // Python: re.sub(r"\.$", "", "1,000.\n") == "1000\n" (the $ before a final newline).
        assert_eq!(em.normalise("1,000.\n"), "1000\n");
        assert_eq!(em.normalise("a.b."), "a.b");
        assert_eq!(em.score("ABC.", "abc"), 1.0);
        assert_eq!(em.score("abd", "abc"), 0.0);
        // An escaped dollar is a literal.
        assert_eq!(
            ExactMatch::new(&["\\$"], false, false, false)
                .unwrap()
                .normalise("$5$"),
            "5"
        );
        let loose = ExactMatch::new(&[], false, true, true).unwrap();
        assert_eq!(loose.normalise("It's 42, ok!"), "Its  ok");
        assert!(ExactMatch::new(&["(?<=a)b"], false, false, false).is_err());
    }

    #[test]
    fn group_aggregation_by_hand() {
        // 0.5 over 2 items and 1.0 over 6: (1 + 6) / 8.
        assert_eq!(weighted_mean(&[0.5, 1.0], &[2, 6]), 0.875);
        // (1*0.5^2*2 + 5*0.1^2*6) / (8 - 2) = (0.5 + 0.3) / 6; / 8 -> sqrt(0.8/48).
        assert!(close(
            pooled_sample_stderr(&[0.5, 0.1], &[2, 6]),
            (0.8f64 / 48.0).sqrt()
        ));
    }
}
