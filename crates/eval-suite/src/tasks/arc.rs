//! ARC-Easy and ARC-Challenge (`tasks/arc/arc_easy.yaml`, `arc_challenge.yaml`), test split.
//!
//! `doc_to_text: "Question: {{question}}\nAnswer:"`, choices `choices.text` (each scored
//! as `" " + text`), gold `choices.label.index(answerKey)`; labels may be letters or
//! digits and items have 3 to 5 choices. Metrics `acc`, `acc_norm`; 0-shot.
//! Reads AI2's original layout (`question.stem`, `question.choices[{text,label}]`), which
//! the HF `allenai/ai2_arc` copy lm-eval loads flattens into `question` and `choices`.

use std::path::Path;

use serde::Deserialize;

use super::ChoiceDoc;
use crate::data::read_jsonl;
use crate::error::{DataError, EvalError};

#[derive(Deserialize)]
struct Raw {
    question: Question,
    #[serde(rename = "answerKey")]
    answer_key: String,
}

#[derive(Deserialize)]
struct Question {
    stem: String,
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    text: String,
    label: String,
}

/// All docs of `arc/<file>`.
pub(super) fn load(data_dir: &Path, file: &str) -> Result<Vec<ChoiceDoc>, EvalError> {
    let path = data_dir.join("arc").join(file);
    read_jsonl::<Raw>(&path)?
        .into_iter()
        .map(|row| {
            let Raw {
                question,
                answer_key,
            } = row.value;
            let labels: Vec<&str> = question.choices.iter().map(|c| c.label.as_str()).collect();
            let gold = labels
                .iter()
                .position(|&l| l == answer_key)
                .ok_or_else(|| {
                    DataError::value(
                        &path,
                        row.line,
                        format!(
                            "answerKey {answer_key:?} is not one of the choice labels {}",
                            labels.join(", ")
                        ),
                    )
                })?;
            let texts: Vec<String> = question.choices.into_iter().map(|c| c.text).collect();
            let context = format!("Question: {}\nAnswer:", question.stem);
            Ok(ChoiceDoc::new(row.line - 1, context, &texts, gold))
        })
        .collect()
}
