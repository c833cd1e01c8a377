//! BoolQ (`tasks/super_glue/boolq/default.yaml`), validation split.
//!
//! `doc_to_text: "{{passage}}\nQuestion: {{question}}?\nAnswer:"`, choices `no`/`yes`,
//! gold `label`; metric `acc`; 0-shot. lm-eval reads SuperGLUE's copy (`aps/super_glue`,
//! `boolq`), whose `passage` is `title + " -- " + passage` and whose `label` is the
//! answer as 0/1, in the same order as Google's `dev.jsonl`
//! (`boolq/SOURCE.md`): that view is rebuilt here from `question, title, answer, passage`.

use std::path::Path;

use serde::Deserialize;

use super::ChoiceDoc;
use crate::data::read_jsonl;
use crate::error::EvalError;

#[derive(Deserialize)]
struct Raw {
    question: String,
    title: String,
    answer: bool,
    passage: String,
}

/// All docs of `boolq/dev.jsonl`.
pub(super) fn load(data_dir: &Path) -> Result<Vec<ChoiceDoc>, EvalError> {
    let path = data_dir.join("boolq").join("dev.jsonl");
    let choices = ["no".to_string(), "yes".to_string()];
    Ok(read_jsonl::<Raw>(&path)?
        .into_iter()
        .map(|row| {
            let raw = row.value;
            let context = format!(
                "{} -- {}\nQuestion: {}?\nAnswer:",
                raw.title, raw.passage, raw.question
            );
            ChoiceDoc::new(row.line - 1, context, &choices, usize::from(raw.answer))
        })
        .collect())
}
