//! What an evaluation returns: one record per evaluated doc (serialisable, for the
//! per-item JSONL) and the aggregated metrics, lm-eval-style.
//!
//! Field names are a stable file format. Writing files is the caller's job.

use serde::{Deserialize, Serialize};

/// The context(s) of a multiple-choice doc: one shared by every choice, or one per choice
/// under partial scoring (WinoGrande). Serialised as a string or a list of strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChoiceContext {
    Shared(String),
    PerChoice(Vec<String>),
}

/// A multiple-choice doc scored by log-likelihood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceRecord {
    /// 0-based index in the source file (MMLU: row in that subject's test CSV).
    pub doc_id: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub context: ChoiceContext,
    /// The continuation scored for each choice, in choice order.
    pub continuations: Vec<String>,
    pub loglikelihoods: Vec<f64>,
    pub is_greedy: Vec<bool>,
    /// argmax of `loglikelihoods`.
    pub pred: usize,
    /// argmax of `loglikelihoods` / choice length in characters.
    pub pred_norm: usize,
    pub gold: usize,
    pub acc: f64,
    pub acc_norm: f64,
    /// With `acc_mutual_info`: each choice's log-likelihood after an empty context (the
    /// model's prefix token), in choice order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconditional_loglikelihoods: Option<Vec<f64>>,
    /// Whether the argmax of `loglikelihoods - unconditional_loglikelihoods` is the gold one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acc_mutual_info: Option<f64>,
}

impl ChoiceRecord {
    /// Its `acc`, `acc_norm` or `acc_mutual_info` (`None` for another metric, or one the
    /// task did not compute).
    pub fn accuracy(&self, metric: &str) -> Option<f64> {
        match metric {
            "acc" => Some(self.acc),
            "acc_norm" => Some(self.acc_norm),
            "acc_mutual_info" => self.acc_mutual_info,
            _ => None,
        }
    }
}

/// A doc scored by the log-likelihood of one continuation (LAMBADA).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoglikelihoodRecord {
    pub doc_id: usize,
    pub context: String,
    pub continuation: String,
    pub loglikelihood: f64,
    pub is_greedy: bool,
    /// 1.0 when greedy decoding reproduces the continuation.
    pub acc: f64,
}

/// A doc scored by generation and answer extraction (GSM8K).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRecord {
    pub doc_id: usize,
    pub context: String,
    /// The model's text, cut at the first stop string.
    pub generation: String,
    /// What the strict-match filter extracted (`[invalid]` if nothing).
    pub answer_strict: String,
    /// What the flexible-extract filter extracted (`[invalid]` if nothing).
    pub answer_flexible: String,
    /// The reference answer after exact_match's normalisation (e.g. `18`).
    pub gold: String,
    pub exact_match_strict: f64,
    pub exact_match_flexible: f64,
}

/// A doc of a `generate_until` task file: its generations and each filter's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilteredRecord {
    pub doc_id: usize,
    pub context: String,
    /// The model's text, cut at the first stop string; one per repeat.
    pub generations: Vec<String>,
    /// `doc_to_target`: the reference, or several of which any counts.
    pub references: Vec<String>,
    /// One per `filter_list` pipeline, in the file's order.
    pub filtered: Vec<FilteredAnswer>,
}

/// What one filter pipeline made of a doc's generations, and its `exact_match`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilteredAnswer {
    pub filter: String,
    pub answer: String,
    pub exact_match: f64,
}

/// A doc of a `loglikelihood_rolling` task file: a whole text's log-likelihood and the
/// words and bytes its perplexities are per.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingRecord {
    pub doc_id: usize,
    pub text: String,
    pub loglikelihood: f64,
    /// `len(re.split(r"\s+", text))`.
    pub words: usize,
    /// UTF-8 bytes.
    pub bytes: usize,
}

/// One evaluated doc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ItemRecord {
    Choice(ChoiceRecord),
    Loglikelihood(LoglikelihoodRecord),
    Generation(GenerationRecord),
    Filtered(FilteredRecord),
    Rolling(RollingRecord),
}

impl ItemRecord {
    pub fn doc_id(&self) -> usize {
        match self {
            ItemRecord::Choice(r) => r.doc_id,
            ItemRecord::Loglikelihood(r) => r.doc_id,
            ItemRecord::Generation(r) => r.doc_id,
            ItemRecord::Filtered(r) => r.doc_id,
            ItemRecord::Rolling(r) => r.doc_id,
        }
    }

    /// Whether this item has its own score for `metric` (under some filter): false for
    /// corpus-level metrics such as the perplexities.
    pub fn reports(&self, metric: &str) -> bool {
        match (self, metric) {
            (ItemRecord::Choice(r), metric) => r.accuracy(metric).is_some(),
            (ItemRecord::Loglikelihood(_), "acc") => true,
            (ItemRecord::Generation(_) | ItemRecord::Filtered(_), "exact_match") => true,
            _ => false,
        }
    }

    /// This item's contribution to a mean-aggregated metric (`acc`, `acc_norm`,
    /// `exact_match` under a filter: GSM8K's `strict-match` / `flexible-extract`, a task
    /// file's own), for paired statistics.
    /// `None` for metrics the item does not have (and for `perplexity`, which is not a mean).
    pub fn score(&self, metric: &str, filter: &str) -> Option<f64> {
        match (self, metric, filter) {
            (ItemRecord::Choice(r), metric, "none") => r.accuracy(metric),
            (ItemRecord::Loglikelihood(r), "acc", "none") => Some(r.acc),
            (ItemRecord::Generation(r), "exact_match", STRICT_MATCH) => Some(r.exact_match_strict),
            (ItemRecord::Generation(r), "exact_match", FLEXIBLE_EXTRACT) => {
                Some(r.exact_match_flexible)
            }
            (ItemRecord::Filtered(r), "exact_match", filter) => r
                .filtered
                .iter()
                .find(|a| a.filter == filter)
                .map(|a| a.exact_match),
            _ => None,
        }
    }
}

/// lm-eval's filter name for unfiltered metrics.
pub const NO_FILTER: &str = "none";
/// GSM8K's `#### N` filter.
pub const STRICT_MATCH: &str = "strict-match";
/// GSM8K's last-number filter.
pub const FLEXIBLE_EXTRACT: &str = "flexible-extract";

/// One aggregated metric: lm-eval's `"{name},{filter}"` and `"{name}_stderr,{filter}"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    /// `acc`, `acc_norm`, `perplexity` or `exact_match`.
    pub name: String,
    /// `none`, `strict-match` or `flexible-extract`.
    pub filter: String,
    pub value: f64,
    /// `None` where lm-eval prints "N/A" (one item, or bootstrap disabled).
    pub stderr: Option<f64>,
}

impl MetricValue {
    /// lm-eval's results key, e.g. `exact_match,strict-match`.
    pub fn key(&self) -> String {
        format!("{},{}", self.name, self.filter)
    }
}

/// The result of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// lm-eval's task name (`arc_easy`, `mmlu`, `mmlu_anatomy`, ...).
    pub task: String,
    /// Number of evaluated docs.
    pub n: usize,
    pub num_fewshot: usize,
    pub metrics: Vec<MetricValue>,
    /// One record per doc in source order (MMLU: subjects in alphabetical order).
    pub items: Vec<ItemRecord>,
    /// Per-subject results of a group (MMLU); their `items` are left empty because the
    /// group's own items carry `subject`.
    pub subtasks: Vec<TaskResult>,
}

impl TaskResult {
    /// The metric `name` under `filter`, if reported.
    pub fn metric(&self, name: &str, filter: &str) -> Option<&MetricValue> {
        self.metrics
            .iter()
            .find(|m| m.name == name && m.filter == filter)
    }
}
