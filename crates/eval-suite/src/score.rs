//! From backend answers to records and aggregated metrics, per lm-eval output type
//! (`ConfigurableTask.process_results`, then the task's aggregations), and the MMLU group
//! aggregate (`Group.aggregate` with `weight_by_size: True`).
//!
//! The arithmetic itself is in [`crate::metrics`]; GSM8K's filters are in its task file.

use crate::metrics::{
    argmax, argmax_normalised, bootstrap_stderr, f1_binary, matthews_corrcoef, mean, mean_stderr,
    perplexity, pooled_sample_stderr, weighted_mean,
};
use crate::records::{
    ChoiceRecord, ItemRecord, LoglikelihoodRecord, MetricValue, NO_FILTER, RollingRecord,
    TaskResult,
};
use crate::tasks::{ChoiceDoc, ChoiceMetric, LoglikelihoodDoc, RollingDoc};

/// How stderrs are computed: lm-eval's `bootstrap_iters` (0 turns every stderr off).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stderr {
    pub bootstrap_iters: usize,
}

impl Stderr {
    fn of_mean(self, values: &[f64]) -> Option<f64> {
        (self.bootstrap_iters > 0)
            .then(|| mean_stderr(values))
            .flatten()
    }
}

fn mean_metric(name: &str, filter: &str, values: &[f64], stderr: Stderr) -> MetricValue {
    MetricValue {
        name: name.to_string(),
        filter: filter.to_string(),
        value: mean(values),
        stderr: stderr.of_mean(values),
    }
}

/// One record per doc; `results` holds each doc's choices in order, docs in order, each
/// doc's choices given twice when `mutual_info` (after the context, then after none).
pub(crate) fn choice_records(
    docs: &[ChoiceDoc],
    results: &[(f64, bool)],
    mutual_info: bool,
) -> Vec<ChoiceRecord> {
    let mut rest = results;
    docs.iter()
        .map(|doc| {
            let n = doc.continuations.len();
            let (mine, tail) = rest.split_at(if mutual_info { 2 * n } else { n });
            rest = tail;
            let (mine, unconditional) = mine.split_at(n);
            let loglikelihoods: Vec<f64> = mine.iter().map(|r| r.0).collect();
            let pred = argmax(&loglikelihoods);
            let pred_norm = argmax_normalised(&loglikelihoods, &doc.choice_chars);
            let unconditional: Option<Vec<f64>> =
                mutual_info.then(|| unconditional.iter().map(|r| r.0).collect());
            let acc_mutual_info = unconditional.as_ref().map(|u| {
                let informed: Vec<f64> = loglikelihoods.iter().zip(u).map(|(c, u)| c - u).collect();
                correct(argmax(&informed), doc.gold)
            });
            ChoiceRecord {
                doc_id: doc.doc_id,
                subject: doc.subject.map(str::to_string),
                context: doc.context.clone(),
                continuations: doc.continuations.clone(),
                is_greedy: mine.iter().map(|r| r.1).collect(),
                loglikelihoods,
                pred,
                pred_norm,
                gold: doc.gold,
                acc: correct(pred, doc.gold),
                acc_norm: correct(pred_norm, doc.gold),
                unconditional_loglikelihoods: unconditional,
                acc_mutual_info,
            }
        })
        .collect()
}

fn correct(pred: usize, gold: usize) -> f64 {
    f64::from(u8::from(pred == gold))
}

/// `metrics` in order: the accuracies are means with the sample stderr, `f1` and `mcc`
/// corpus-level with a bootstrap stderr, as lm-eval aggregates them.
pub(crate) fn choice_metrics(
    records: &[ChoiceRecord],
    metrics: &[ChoiceMetric],
    stderr: Stderr,
) -> Vec<MetricValue> {
    let pairs: Vec<(usize, usize)> = records.iter().map(|r| (r.gold, r.pred)).collect();
    let corpus = |name: &str, f: fn(&[(usize, usize)]) -> f64| MetricValue {
        name: name.to_string(),
        filter: NO_FILTER.to_string(),
        value: f(&pairs),
        stderr: bootstrap_stderr(f, &pairs, stderr.bootstrap_iters),
    };
    metrics
        .iter()
        .map(|&metric| match metric {
            ChoiceMetric::F1 => corpus(metric.name(), f1_binary),
            ChoiceMetric::Mcc => corpus(metric.name(), matthews_corrcoef),
            _ => {
                let values: Vec<f64> = records
                    .iter()
                    .filter_map(|r| r.accuracy(metric.name()))
                    .collect();
                mean_metric(metric.name(), NO_FILTER, &values, stderr)
            }
        })
        .collect()
}

pub(crate) fn loglikelihood_records(
    docs: &[LoglikelihoodDoc],
    results: &[(f64, bool)],
) -> Vec<LoglikelihoodRecord> {
    docs.iter()
        .zip(results)
        .map(|(doc, &(loglikelihood, is_greedy))| LoglikelihoodRecord {
            doc_id: doc.doc_id,
            context: doc.context.clone(),
            continuation: doc.continuation.clone(),
            loglikelihood,
            is_greedy,
            acc: f64::from(u8::from(is_greedy)),
        })
        .collect()
}

/// `perplexity` (bootstrap stderr) and `acc`, in the YAML's order.
pub(crate) fn loglikelihood_metrics(
    records: &[LoglikelihoodRecord],
    stderr: Stderr,
) -> Vec<MetricValue> {
    let lls: Vec<f64> = records.iter().map(|r| r.loglikelihood).collect();
    let acc: Vec<f64> = records.iter().map(|r| r.acc).collect();
    vec![
        MetricValue {
            name: "perplexity".to_string(),
            filter: NO_FILTER.to_string(),
            value: perplexity(&lls),
            stderr: bootstrap_stderr(perplexity, &lls, stderr.bootstrap_iters),
        },
        mean_metric("acc", NO_FILTER, &acc, stderr),
    ]
}

/// One record per text, with lm-eval's word and byte counts.
pub(crate) fn rolling_records(docs: &[RollingDoc], results: &[f64]) -> Vec<RollingRecord> {
    // Python's `\s` also matches the information separators U+001C..U+001F.
    let whitespace = regex::Regex::new(r"[\s\x1c-\x1f]+").expect("constant regex");
    docs.iter()
        .zip(results)
        .map(|(doc, &loglikelihood)| RollingRecord {
            doc_id: doc.doc_id,
            text: doc.text.clone(),
            loglikelihood,
            words: whitespace.split(&doc.text).count(),
            bytes: doc.text.len(),
        })
        .collect()
}

/// `word_perplexity` and `byte_perplexity` (`weighted_perplexity`: `exp(-Σll / Σn)`) and
/// `bits_per_byte` (`-Σll / Σbytes / ln 2`), in the task's order; lm-eval reports no
/// stderr for these aggregations.
pub(crate) fn rolling_metrics(records: &[RollingRecord], metrics: &[&str]) -> Vec<MetricValue> {
    let ll: f64 = records.iter().map(|r| r.loglikelihood).sum();
    let words = records.iter().map(|r| r.words).sum::<usize>() as f64;
    let bytes = records.iter().map(|r| r.bytes).sum::<usize>() as f64;
    metrics
        .iter()
        .map(|&name| MetricValue {
            name: name.to_string(),
            filter: NO_FILTER.to_string(),
            value: match name {
                "word_perplexity" => (-ll / words).exp(),
                "byte_perplexity" => (-ll / bytes).exp(),
                _ => -(ll / bytes) / std::f64::consts::LN_2,
            },
            stderr: None,
        })
        .collect()
}

/// `exact_match` under each filter, in the task's order.
pub(crate) fn generation_metrics(
    records: &[ItemRecord],
    filters: &[&str],
    stderr: Stderr,
) -> Vec<MetricValue> {
    filters
        .iter()
        .map(|filter| {
            let values: Vec<f64> = records
                .iter()
                .filter_map(|r| r.score("exact_match", filter))
                .collect();
            mean_metric("exact_match", filter, &values, stderr)
        })
        .collect()
}

/// A group task (MMLU): one `<task>_<subtask>` result per subtask present (records are
/// grouped by subtask, in their `subject`, already), and the group `acc`: the size-weighted
/// mean of subtask accuracies with the pooled stderr ("N/A" if any subtask's is).
pub(crate) fn group(
    task: &str,
    records: &[ChoiceRecord],
    num_fewshot: usize,
    stderr: Stderr,
) -> (Vec<MetricValue>, Vec<TaskResult>) {
    let subtasks: Vec<TaskResult> = records
        .chunk_by(|a, b| a.subject == b.subject)
        .map(|group| TaskResult {
            task: format!("{task}_{}", group[0].subject.as_deref().unwrap_or_default()),
            n: group.len(),
            num_fewshot,
            metrics: choice_metrics(group, &[ChoiceMetric::Acc], stderr),
            items: Vec::new(),
            subtasks: Vec::new(),
        })
        .collect();
    let accs: Vec<&MetricValue> = subtasks.iter().map(|t| &t.metrics[0]).collect();
    let values: Vec<f64> = accs.iter().map(|m| m.value).collect();
    let sizes: Vec<usize> = subtasks.iter().map(|t| t.n).collect();
    let stderrs: Option<Vec<f64>> = accs.iter().map(|m| m.stderr).collect();
    let acc = MetricValue {
        name: "acc".to_string(),
        filter: NO_FILTER.to_string(),
        value: weighted_mean(&values, &sizes),
        stderr: stderrs.map(|s| pooled_sample_stderr(&s, &sizes)),
    };
    (vec![acc], subtasks)
}
