//! The benchmarks, one file per lm-eval task family, each a port of its 0.4.13 YAML and
//! `utils.py`: read the canonical file(s) under the data directory, validate every row,
//! and turn the first `limit` docs into backend requests with lm-eval's exact strings.
//!
//! Docs are numbered by their 0-based line (or CSV record) in the source file, like
//! lm-eval's `doc_id`. Scoring lives in [`crate::score`]; tasks only prepare.

mod arc;
mod boolq;
mod gsm8k;
mod hellaswag;
mod lambada;
mod mmlu;
mod piqa;
mod winogrande;

use std::path::Path;

pub(crate) use gsm8k::{
    MAX_GEN_TOKS as GSM8K_MAX_GEN_TOKS, UNTIL as GSM8K_UNTIL, score as score_gsm8k,
};
pub use lambada::passages as lambada_passages;
pub use mmlu::SUBJECTS as MMLU_SUBJECTS;

use crate::error::EvalError;
use crate::fewshot::TARGET_DELIMITER;
use crate::pytext::char_len;
use crate::records::ChoiceContext;

/// Task names, as lm-eval spells them. `mmlu_<subject>` names one MMLU subject.
pub const TASKS: [&str; 9] = [
    "arc_challenge",
    "arc_easy",
    "hellaswag",
    "winogrande",
    "piqa",
    "lambada_openai",
    "gsm8k",
    "boolq",
    "mmlu",
];

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

/// A doc scored by generation.
#[derive(Debug, Clone)]
pub(crate) struct GenerateDoc {
    pub doc_id: usize,
    pub context: String,
    /// `doc_to_target`: the full reference solution.
    pub reference: String,
}

/// A task's docs, by output type.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// `multiple_choice`; `acc_norm` says whether the YAML reports it.
    Choice {
        docs: Vec<ChoiceDoc>,
        acc_norm: bool,
    },
    Loglikelihood(Vec<LoglikelihoodDoc>),
    Generate(Vec<GenerateDoc>),
}

impl Prepared {
    pub(crate) fn len(&self) -> usize {
        match self {
            Prepared::Choice { docs, .. } => docs.len(),
            Prepared::Loglikelihood(docs) => docs.len(),
            Prepared::Generate(docs) => docs.len(),
        }
    }
}

/// A task name resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskId {
    ArcChallenge,
    ArcEasy,
    Hellaswag,
    Winogrande,
    Piqa,
    LambadaOpenai,
    Gsm8k,
    Boolq,
    /// All subjects, or one.
    Mmlu(Option<&'static str>),
}

impl TaskId {
    pub(crate) fn parse(name: &str) -> Result<Self, EvalError> {
        Ok(match name {
            "arc_challenge" => TaskId::ArcChallenge,
            "arc_easy" => TaskId::ArcEasy,
            "hellaswag" => TaskId::Hellaswag,
            "winogrande" => TaskId::Winogrande,
            "piqa" => TaskId::Piqa,
            "lambada_openai" => TaskId::LambadaOpenai,
            "gsm8k" => TaskId::Gsm8k,
            "boolq" => TaskId::Boolq,
            "mmlu" => TaskId::Mmlu(None),
            _ => match name
                .strip_prefix("mmlu_")
                .and_then(|s| MMLU_SUBJECTS.iter().find(|&&known| known == s))
            {
                Some(subject) => TaskId::Mmlu(Some(subject)),
                None => {
                    return Err(EvalError::UnknownTask {
                        name: name.to_string(),
                        known: format!("{}, mmlu_<subject>", TASKS.join(", ")),
                    });
                }
            },
        })
    }

    /// Read and prepare the first `limit` docs with `shots` exemplars (the task's lm-eval
    /// default when `None`); returns the docs and the shot count used.
    pub(crate) fn prepare(
        self,
        name: &str,
        data_dir: &Path,
        shots: Option<usize>,
        limit: Option<usize>,
    ) -> Result<(Prepared, usize), EvalError> {
        let shots = shots.unwrap_or(match self {
            TaskId::Gsm8k => gsm8k::DEFAULT_SHOTS,
            TaskId::Mmlu(_) => mmlu::DEFAULT_SHOTS,
            _ => 0,
        });
        let has_fewshot_pool = matches!(
            self,
            TaskId::LambadaOpenai | TaskId::Gsm8k | TaskId::Mmlu(_)
        );
        if !has_fewshot_pool {
            no_fewshot_pool(name, shots)?;
        }
        let zero_shot = |docs: Vec<ChoiceDoc>, acc_norm: bool| Prepared::Choice {
            docs: limited(docs, limit),
            acc_norm,
        };
        let prepared = match self {
            TaskId::ArcChallenge => {
                zero_shot(arc::load(data_dir, "ARC-Challenge-Test.jsonl")?, true)
            }
            TaskId::ArcEasy => zero_shot(arc::load(data_dir, "ARC-Easy-Test.jsonl")?, true),
            TaskId::Hellaswag => zero_shot(hellaswag::load(data_dir)?, true),
            TaskId::Winogrande => zero_shot(winogrande::load(data_dir)?, false),
            TaskId::Piqa => zero_shot(piqa::load(data_dir)?, true),
            TaskId::Boolq => zero_shot(boolq::load(data_dir)?, false),
            TaskId::LambadaOpenai => {
                Prepared::Loglikelihood(lambada::prepare(name, data_dir, shots, limit)?)
            }
            TaskId::Gsm8k => Prepared::Generate(gsm8k::prepare(name, data_dir, shots, limit)?),
            TaskId::Mmlu(subject) => Prepared::Choice {
                docs: mmlu::prepare(data_dir, subject, shots, limit)?,
                acc_norm: false,
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

/// Tasks whose lm-eval few-shot pool is a train split the data layout does not include.
fn no_fewshot_pool(task: &str, shots: usize) -> Result<(), EvalError> {
    if shots == 0 {
        return Ok(());
    }
    Err(fewshot_error(
        task,
        format!(
            "{shots}-shot needs lm-eval's few-shot pool (the train split), which the data \
             directory does not include; only 0-shot is available"
        ),
    ))
}

pub(crate) fn fewshot_error(task: &str, message: String) -> EvalError {
    EvalError::Fewshot {
        task: task.to_string(),
        message,
    }
}
