//! OpenBookQA (`tasks/openbookqa/openbookqa.yaml`), `main` config, validation split.
//!
//! `doc_to_text: question_stem` (the bare stem, no "Question:"), choices `choices.text`
//! (each scored as `" " + text`), gold `choices.label.index(answerKey.lstrip())`; metrics
//! `acc`, `acc_norm`; 0-shot. lm-eval's YAML evaluates the test split; the data directory
//! holds only the validation split (Hugging Face `allenai/openbookqa`, `SOURCE.md`), so that
//! is what runs here, built exactly as lm-eval builds it from the same file.
//! Not fetchable: AI2 publishes the set as a zip in another layout (`question.stem`), not
//! the Hugging Face rows this reads, so no official URL serves these bytes.

use serde::Deserialize;

use super::{ACC_NORM, Chance, ChoiceDoc, ChoiceMetric, Docs, Load, TaskDef, limited};
use crate::data::read_jsonl;
use crate::error::{DataError, EvalError};
use crate::pytext::lstrip;

pub(super) const OPENBOOKQA: TaskDef = TaskDef {
    name: "openbookqa",
    subtasks: &[],
    sources: &[],
    chance: Chance::Uniform,
    headline: ACC_NORM,
    default_shots: 0,
    fewshot_pool: false,
    docs: Docs::MultipleChoice {
        metrics: &[ChoiceMetric::Acc, ChoiceMetric::AccNorm],
        prepare: &prepare,
    },
};

#[derive(Deserialize)]
struct Raw {
    question_stem: String,
    choices: Choices,
    #[serde(rename = "answerKey")]
    answer_key: String,
}

#[derive(Deserialize)]
struct Choices {
    text: Vec<String>,
    label: Vec<String>,
}

/// The first `limit` docs of `openbookqa/validation.jsonl`.
fn prepare(load: &Load) -> Result<Vec<ChoiceDoc>, EvalError> {
    let path = load.data_dir.join("openbookqa").join("validation.jsonl");
    let docs = read_jsonl::<Raw>(&path)?
        .into_iter()
        .map(|row| {
            let Raw {
                question_stem,
                choices,
                answer_key,
            } = row.value;
            let bad = |message: String| DataError::value(&path, row.line, message);
            if choices.text.len() != choices.label.len() {
                let (texts, labels) = (choices.text.len(), choices.label.len());
                return Err(bad(format!("{texts} choice texts but {labels} labels")).into());
            }
            let key = lstrip(&answer_key);
            let gold = choices.label.iter().position(|l| l == key).ok_or_else(|| {
                bad(format!(
                    "answerKey {answer_key:?} is not one of the choice labels {}",
                    choices.label.join(", ")
                ))
            })?;
            Ok(ChoiceDoc::new(
                row.line - 1,
                question_stem,
                &choices.text,
                gold,
            ))
        })
        .collect::<Result<_, EvalError>>()?;
    Ok(limited(docs, load.limit))
}
