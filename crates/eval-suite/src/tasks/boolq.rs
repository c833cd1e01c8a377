//! BoolQ (`tasks/super_glue/boolq/default.yaml`), validation split.
//!
//! `doc_to_text: "{{passage}}\nQuestion: {{question}}?\nAnswer:"`, choices `no`/`yes`,
//! gold `label`; metric `acc`; 0-shot. lm-eval reads SuperGLUE's copy (`aps/super_glue`,
//! `boolq`), whose `passage` is `title + " -- " + passage` and whose `label` is the
//! answer as 0/1, in the same order as Google's `dev.jsonl`
//! (`boolq/SOURCE.md`): that view is rebuilt here from `question, title, answer, passage`.

use serde::Deserialize;

use super::{ACC, Chance, ChoiceDoc, ChoiceMetric, Docs, Load, TaskDef, limited};
use crate::data::read_jsonl;
use crate::error::EvalError;
use crate::source::{File, Form, Source};

/// Chance is the majority class (most answers are "yes"), the paper's max-class guessing.
pub(super) const BOOLQ: TaskDef = TaskDef {
    name: "boolq",
    subtasks: &[],
    sources: &[Source {
        url: "https://storage.googleapis.com/boolq/dev.jsonl",
        form: Form::Plain(File {
            task: "boolq",
            dest: "boolq/dev.jsonl",
            sha256: "ebc29ea3808c5c611672384b3de56e83349fe38fc1fe876fd29b674d81d0a80a",
        }),
    }],
    chance: Chance::MajorityClass,
    headline: ACC,
    default_shots: 0,
    fewshot_pool: false,
    docs: Docs::MultipleChoice {
        metrics: &[ChoiceMetric::Acc],
        prepare: &prepare,
    },
};

#[derive(Deserialize)]
struct Raw {
    question: String,
    title: String,
    answer: bool,
    passage: String,
}

/// The first `limit` docs of `boolq/dev.jsonl`.
fn prepare(load: &Load) -> Result<Vec<ChoiceDoc>, EvalError> {
    let path = load.data_dir.join("boolq").join("dev.jsonl");
    let choices = ["no".to_string(), "yes".to_string()];
    let docs = read_jsonl::<Raw>(&path)?
        .into_iter()
        .map(|row| {
            let raw = row.value;
            let context = format!(
                "{} -- {}\nQuestion: {}?\nAnswer:",
                raw.title, raw.passage, raw.question
            );
            ChoiceDoc::new(row.line - 1, context, &choices, usize::from(raw.answer))
        })
        .collect();
    Ok(limited(docs, load.limit))
}
