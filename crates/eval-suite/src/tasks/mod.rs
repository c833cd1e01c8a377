//! The benchmarks and their registry. Each file here is one lm-eval task family, a port of
//! its 0.4.13 YAML and `utils.py`: it declares the family's [`TaskDef`] constant(s) (name,
//! official files, scoring, chance level, headline metric, few-shot settings) and the code
//! that reads the canonical file(s) under the data directory, validates every row, and
//! turns the first `limit` docs into backend requests with lm-eval's exact strings.
//! [`REGISTRY`] lists every entry once; everything else that needs to know a task (the
//! evaluator, [`crate::stats`], painters' summaries and `data fetch`) reads it from there.
//!
//! Docs are numbered by their 0-based line (or CSV record) in the source file, like
//! lm-eval's `doc_id`. Scoring lives in [`crate::score`]; tasks only prepare.

mod arc;
mod boolq;
mod gsm8k;
mod hellaswag;
mod lambada;
mod mmlu;
mod openbookqa;
mod piqa;
mod winogrande;
mod yaml;

use std::path::Path;

pub use lambada::passages as lambada_passages;
pub use yaml::{TaskFile, read_task_file, task_file_identity};

use crate::error::EvalError;
use crate::fewshot::TARGET_DELIMITER;
use crate::lm::Sampling;
use crate::pytext::char_len;
use crate::records::{ChoiceContext, ItemRecord};
use crate::source::Source;

/// Every task, each once, in the order `painters data fetch` and error messages list them.
/// Adding a task is its file (declaring a [`TaskDef`]) plus its line here.
static REGISTRY: &[&TaskDef] = &[
    &arc::ARC_CHALLENGE,
    &arc::ARC_EASY,
    &hellaswag::HELLASWAG,
    &gsm8k::GSM8K,
    &winogrande::WINOGRANDE,
    &piqa::PIQA,
    &lambada::LAMBADA_OPENAI,
    &boolq::BOOLQ,
    &mmlu::MMLU,
    &openbookqa::OPENBOOKQA,
];

/// Every built-in task, in registry order.
pub fn registry() -> &'static [&'static TaskDef] {
    REGISTRY
}

/// The registry entry of `name`: a task, or one of its subtasks (`mmlu_anatomy` is MMLU's).
pub fn task(name: &str) -> Option<&'static TaskDef> {
    resolve(name).ok().map(|(def, _)| def)
}

/// `name`'s entry (built in, or from a task file read with [`read_task_file`]) and, for a
/// subtask, which one; the error lists the known names.
pub(crate) fn resolve(name: &str) -> Result<(&'static TaskDef, Option<&'static str>), EvalError> {
    if let Some(def) = yaml::loaded(name) {
        return Ok((def, None));
    }
    let found = REGISTRY.iter().find_map(|&def| {
        if def.name == name {
            return Some((def, None));
        }
        let sub = name.strip_prefix(def.name)?.strip_prefix('_')?;
        def.subtasks
            .iter()
            .find(|&&known| known == sub)
            .map(|&sub| (def, Some(sub)))
    });
    found.ok_or_else(|| EvalError::UnknownTask {
        name: name.to_string(),
        known: known_names(),
    })
}

/// "arc_challenge, …, mmlu, mmlu_<subtask>, …".
fn known_names() -> String {
    let mut names = Vec::new();
    for def in REGISTRY {
        names.push(def.name.to_string());
        if !def.subtasks.is_empty() {
            names.push(format!("{}_<subtask>", def.name));
        }
    }
    names.join(", ")
}

/// One task of the registry: what it is called, where its files come from, how it is
/// scored and judged, and how its docs are built.
pub struct TaskDef {
    /// lm-eval's task name.
    pub name: &'static str,
    /// Parts that also run alone as `<name>_<subtask>` (MMLU's 57 subjects); the task itself
    /// is then their group, scored by lm-eval's size-weighted aggregate. Empty otherwise.
    pub subtasks: &'static [&'static str],
    /// The official downloads holding its files, for `painters data fetch`; empty when
    /// the files it reads are not published as such. A [`Source`] shared by several tasks
    /// (one archive) is declared once and listed by each.
    pub sources: &'static [Source],
    /// What guessing scores, the zero of the normalised score.
    pub chance: Chance,
    /// The `(metric, filter)` normalised scores and medians judge it by.
    pub headline: (&'static str, &'static str),
    /// Few-shot examples when the caller gives no number (the standard setting).
    pub default_shots: usize,
    /// Whether the data directory holds its few-shot pool; without one only 0-shot runs.
    pub fewshot_pool: bool,
    /// Its output type, metrics and docs.
    pub(crate) docs: Docs,
}

/// What guessing scores on a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chance {
    /// Uniform over the choices: the mean of `1 / number of choices` over the items.
    Uniform,
    /// Always the most frequent gold label (the paper's "max-class" guessing).
    MajorityClass,
    /// Nothing (exact match of a generation, LAMBADA's greedy-word accuracy).
    Zero,
}

/// `(metric, filter)` headlines.
pub(crate) const ACC: (&str, &str) = ("acc", crate::records::NO_FILTER);
pub(crate) const ACC_NORM: (&str, &str) = ("acc_norm", crate::records::NO_FILTER);

/// A multiple-choice metric, as lm-eval computes it without a `!function`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChoiceMetric {
    /// Whether the most likely choice is the gold one (mean over items).
    Acc,
    /// The same, log-likelihoods divided by each choice's length in characters.
    AccNorm,
    /// The same, each choice's unconditional log-likelihood subtracted (twice the requests).
    AccMutualInfo,
    /// Binary F1 of the (gold, pred) pairs of all items (scikit-learn's `f1_score`).
    F1,
    /// Matthews correlation of the (gold, pred) pairs of all items.
    Mcc,
}

impl ChoiceMetric {
    pub(crate) const ALL: [ChoiceMetric; 5] = [
        ChoiceMetric::Acc,
        ChoiceMetric::AccNorm,
        ChoiceMetric::AccMutualInfo,
        ChoiceMetric::F1,
        ChoiceMetric::Mcc,
    ];

    /// lm-eval's metric name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ChoiceMetric::Acc => "acc",
            ChoiceMetric::AccNorm => "acc_norm",
            ChoiceMetric::AccMutualInfo => "acc_mutual_info",
            ChoiceMetric::F1 => "f1",
            ChoiceMetric::Mcc => "mcc",
        }
    }

    /// lm-eval's aggregation name for it.
    pub(crate) fn aggregation(self) -> &'static str {
        match self {
            ChoiceMetric::F1 => "f1",
            ChoiceMetric::Mcc => "matthews_corrcoef",
            _ => "mean",
        }
    }

    /// Whether every item has its own score (a mean); F1 and MCC exist only over items.
    pub(crate) fn per_item(self) -> bool {
        !matches!(self, ChoiceMetric::F1 | ChoiceMetric::Mcc)
    }
}

/// A task's lm-eval output type with its metrics, and the function building its docs.
pub(crate) enum Docs {
    /// `multiple_choice`: `metrics` in the order reported.
    MultipleChoice {
        metrics: &'static [ChoiceMetric],
        prepare: &'static Prepare<ChoiceDoc>,
    },
    /// `loglikelihood` of one continuation: metrics `perplexity` and `acc` (greedy).
    Loglikelihood {
        prepare: &'static Prepare<LoglikelihoodDoc>,
    },
    /// `loglikelihood_rolling` of whole texts: `metrics` (`word_perplexity`,
    /// `byte_perplexity`, `bits_per_byte`) in the task's order.
    LoglikelihoodRolling {
        prepare: &'static Prepare<RollingDoc>,
        metrics: &'static [&'static str],
    },
    /// `generate_until`: stop at any of `until` or after `max_gen_toks` tokens; greedy
    /// (`sampling: None`: `repeats` copies of one generation per doc) or `repeats`
    /// samples per doc, each with its own seed; `score` filters a doc's generations and
    /// computes `exact_match` under each of `filters`.
    GenerateUntil {
        prepare: &'static Prepare<GenerateDoc>,
        until: &'static [&'static str],
        max_gen_toks: usize,
        sampling: Option<Sampling>,
        repeats: usize,
        filters: &'static [&'static str],
        score: &'static Score,
    },
}

/// Scores one doc from its generations (cut at the stop strings).
pub(crate) type Score = dyn Fn(&GenerateDoc, &[String]) -> ItemRecord + Sync;

/// Builds a task's docs for one run: at most `limit` per (sub)task, in file order.
pub(crate) type Prepare<D> = dyn Fn(&Load) -> Result<Vec<D>, EvalError> + Sync;

/// What a [`Prepare`] function is asked for.
pub(crate) struct Load<'a> {
    /// The task name as requested, for error messages.
    pub task: &'a str,
    /// The one subtask requested, or `None` for the whole task.
    pub subtask: Option<&'static str>,
    pub data_dir: &'a Path,
    /// Few-shot examples per doc (0 unless the task has a few-shot pool).
    pub shots: usize,
    /// lm-eval's `--limit`: the first N docs (of each subtask).
    pub limit: Option<usize>,
}

/// A multiple-choice doc ready for scoring.
#[derive(Debug, Clone)]
pub(crate) struct ChoiceDoc {
    pub doc_id: usize,
    pub subject: Option<&'static str>,
    pub context: ChoiceContext,
    pub continuations: Vec<String>,
    /// `len(doc_to_choice(doc)[i])`, the `acc_norm` divisor.
    pub choice_chars: Vec<usize>,
    pub gold: usize,
}

impl ChoiceDoc {
    /// The usual layout: one context; each choice scored as `" " + choice`.
    fn new(doc_id: usize, context: String, choices: &[String], gold: usize) -> Self {
        ChoiceDoc {
            doc_id,
            subject: None,
            context: ChoiceContext::Shared(context),
            continuations: choices
                .iter()
                .map(|c| format!("{TARGET_DELIMITER}{c}"))
                .collect(),
            choice_chars: choices.iter().map(|c| char_len(c)).collect(),
            gold,
        }
    }
}

/// A doc scored by one continuation's log-likelihood.
#[derive(Debug, Clone)]
pub(crate) struct LoglikelihoodDoc {
    pub doc_id: usize,
    pub context: String,
    pub continuation: String,
}

/// A doc whose whole text is scored.
#[derive(Debug, Clone)]
pub(crate) struct RollingDoc {
    pub doc_id: usize,
    pub text: String,
}

/// A doc scored by generation.
#[derive(Debug, Clone)]
pub(crate) struct GenerateDoc {
    pub doc_id: usize,
    pub context: String,
    /// `doc_to_target`: the reference answer, or several of which any counts (lm-eval's
    /// multiple targets).
    pub references: Vec<String>,
}

/// A task's docs for one run, with how to send and score them.
pub(crate) enum Prepared {
    Choice {
        docs: Vec<ChoiceDoc>,
        metrics: &'static [ChoiceMetric],
    },
    Loglikelihood(Vec<LoglikelihoodDoc>),
    Rolling {
        docs: Vec<RollingDoc>,
        metrics: &'static [&'static str],
    },
    Generate {
        docs: Vec<GenerateDoc>,
        until: &'static [&'static str],
        max_gen_toks: usize,
        sampling: Option<Sampling>,
        repeats: usize,
        filters: &'static [&'static str],
        score: &'static Score,
    },
}

impl Prepared {
    /// Drops the first `n` docs (of each subject, for a group task).
    pub(crate) fn skip(&mut self, n: usize) {
        fn first<D>(docs: &mut Vec<D>, n: usize) {
            docs.drain(..n.min(docs.len()));
        }
        match self {
            Prepared::Choice { docs, .. } => {
                let mut kept = Vec::with_capacity(docs.len());
                for group in docs.chunk_by(|a, b| a.subject == b.subject) {
                    kept.extend(group.iter().skip(n).cloned());
                }
                *docs = kept;
            }
            Prepared::Loglikelihood(docs) => first(docs, n),
            Prepared::Rolling { docs, .. } => first(docs, n),
            Prepared::Generate { docs, .. } => first(docs, n),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Prepared::Choice { docs, .. } => docs.len(),
            Prepared::Loglikelihood(docs) => docs.len(),
            Prepared::Rolling { docs, .. } => docs.len(),
            Prepared::Generate { docs, .. } => docs.len(),
        }
    }
}

impl TaskDef {
    /// Read and prepare the first `limit` docs (of `subtask`, or of the whole task) with
    /// `shots` exemplars ([`TaskDef::default_shots`] when `None`); `name` is the task name
    /// as requested. Returns the docs and the shot count used.
    pub(crate) fn prepare(
        &self,
        name: &str,
        subtask: Option<&'static str>,
        data_dir: &Path,
        shots: Option<usize>,
        limit: Option<usize>,
    ) -> Result<(Prepared, usize), EvalError> {
        let shots = shots.unwrap_or(self.default_shots);
        if shots > 0 && !self.fewshot_pool {
            return Err(fewshot_error(
                name,
                format!(
                    "{shots}-shot needs lm-eval's few-shot pool (the train split), which the \
                     data directory does not include; only 0-shot is available"
                ),
            ));
        }
        let load = Load {
            task: name,
            subtask,
            data_dir,
            shots,
            limit,
        };
        let prepared = match self.docs {
            Docs::MultipleChoice { metrics, prepare } => Prepared::Choice {
                docs: prepare(&load)?,
                metrics,
            },
            Docs::Loglikelihood { prepare } => Prepared::Loglikelihood(prepare(&load)?),
            Docs::LoglikelihoodRolling { prepare, metrics } => Prepared::Rolling {
                docs: prepare(&load)?,
                metrics,
            },
            Docs::GenerateUntil {
                prepare,
                until,
                max_gen_toks,
                sampling,
                repeats,
                filters,
                score,
            } => Prepared::Generate {
                docs: prepare(&load)?,
                until,
                max_gen_toks,
                sampling,
                repeats,
                filters,
                score,
            },
        };
        Ok((prepared, shots))
    }
}

/// The first `limit` items (lm-eval's `--limit`).
fn limited<T>(mut items: Vec<T>, limit: Option<usize>) -> Vec<T> {
    if let Some(n) = limit {
        items.truncate(n);
    }
    items
}

pub(crate) fn fewshot_error(task: &str, message: String) -> EvalError {
    EvalError::Fewshot {
        task: task.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{FLEXIBLE_EXTRACT, NO_FILTER};

    #[test]
    fn every_name_resolves_to_its_entry() {
        for (i, def) in REGISTRY.iter().enumerate() {
            assert!(
                REGISTRY[..i].iter().all(|d| d.name != def.name),
                "{} twice",
                def.name
            );
            let (found, subtask) = resolve(def.name).unwrap();
            assert!(std::ptr::eq(found, *def) && subtask.is_none());
        }
        let (mmlu, subtask) = resolve("mmlu_anatomy").unwrap();
        assert_eq!((mmlu.name, subtask), ("mmlu", Some("anatomy")));
        assert_eq!(mmlu.subtasks.len(), 57);
        for unknown in ["mmlu_", "mmlu_anatomyy", "arc", "arc_easy_x", "_mmlu"] {
            assert!(task(unknown).is_none(), "{unknown}");
        }
        let err = resolve("arc_hard").err().unwrap().to_string();
        assert!(
            err.starts_with(
                "unknown task \"arc_hard\"; known: arc_challenge, arc_easy, hellaswag, gsm8k, \
                 winogrande, piqa, lambada_openai, boolq, mmlu, mmlu_<subtask>"
            ),
            "{err}"
        );
    }

    #[test]
    fn every_headline_is_a_reported_metric() {
        for def in REGISTRY {
            let h = def.headline;
            let reported = match def.docs {
                Docs::MultipleChoice { metrics, .. } => {
                    h.1 == NO_FILTER && metrics.iter().any(|m| m.per_item() && m.name() == h.0)
                }
                Docs::Loglikelihood { .. } => h == ACC,
                Docs::LoglikelihoodRolling { metrics, .. } => metrics.contains(&h.0),
                Docs::GenerateUntil { .. } => h.0 == "exact_match",
            };
            assert!(reported, "{}: {h:?}", def.name);
        }
    }

    #[test]
    fn headline_chance_and_shots_as_the_paper_runs_them() {
        let acc = ("acc", "none");
        let acc_norm = ("acc_norm", "none");
        let table = [
            ("arc_challenge", acc_norm, Chance::Uniform, 0),
            ("arc_easy", acc_norm, Chance::Uniform, 0),
            ("hellaswag", acc_norm, Chance::Uniform, 0),
            ("gsm8k", ("exact_match", FLEXIBLE_EXTRACT), Chance::Zero, 5),
            ("winogrande", acc, Chance::Uniform, 0),
            ("piqa", acc_norm, Chance::Uniform, 0),
            ("lambada_openai", acc, Chance::Zero, 0),
            ("boolq", acc, Chance::MajorityClass, 0),
            ("mmlu", acc, Chance::Uniform, 5),
            ("mmlu_world_religions", acc, Chance::Uniform, 5),
        ];
        for (name, headline, chance, shots) in table {
            let def = task(name).unwrap();
            assert_eq!(
                (def.headline, def.chance, def.default_shots),
                (headline, chance, shots),
                "{name}"
            );
        }
    }

    #[test]
    fn sources_name_registered_tasks_and_are_declared_once() {
        let mut seen: Vec<&Source> = Vec::new();
        for def in REGISTRY {
            let named: Vec<&str> = def.sources.iter().flat_map(|s| s.tasks()).collect();
            assert!(
                def.sources.is_empty() || named.contains(&def.name),
                "{}'s sources hold none of its files",
                def.name
            );
            for name in named {
                assert!(task(name).is_some(), "{name} is not registered");
            }
            for source in def.sources {
                // Tasks share an archive by listing the same declaration (fetch downloads
                // each URL once).
                if let Some(other) = seen.iter().find(|s| s.url == source.url) {
                    assert_eq!(*other, source, "two declarations of {}", source.url);
                }
                seen.push(source);
            }
        }
    }
}
