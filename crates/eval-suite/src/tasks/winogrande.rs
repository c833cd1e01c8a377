//! WinoGrande (`tasks/winogrande/default.yaml` + `preprocess_winogrande.py`), `winogrande_xl`
//! validation split, with partial scoring.
//!
//! For each option the context is the sentence up to the first `_` with the option filled
//! in (`doc_to_choice`); the shared continuation is `" " + sentence[after _].strip()`
//! (`target_delimiter` + `doc_to_target`); gold is `answer` "1"/"2" as 0/1
//! (`doc_to_text`). Metric `acc`; 0-shot. The `acc_norm` a record carries divides by the
//! partial contexts' lengths, as lm-eval computes (but does not report) it.

use std::path::Path;

use serde::Deserialize;

use super::ChoiceDoc;
use crate::data::read_jsonl;
use crate::error::{DataError, EvalError};
use crate::fewshot::TARGET_DELIMITER;
use crate::pytext::{char_len, strip};
use crate::records::ChoiceContext;

#[derive(Deserialize)]
struct Raw {
    sentence: String,
    option1: String,
    option2: String,
    answer: String,
}

/// All docs of the official `winogrande/dev.jsonl` (WinoGrande 1.1, with `qID`) when it
/// is there, else of the Hugging Face export `winogrande_xl-validation.jsonl` (same rows
/// and order, without `qID`).
pub(super) fn load(data_dir: &Path) -> Result<Vec<ChoiceDoc>, EvalError> {
    let dir = data_dir.join("winogrande");
    let official = dir.join("dev.jsonl");
    let path = if official.exists() {
        official
    } else {
        dir.join("winogrande_xl-validation.jsonl")
    };
    read_jsonl::<Raw>(&path)?
        .into_iter()
        .map(|row| {
            let raw = row.value;
            let bad = |message: String| DataError::value(&path, row.line, message);
            let blank = raw
                .sentence
                .find('_')
                .ok_or_else(|| bad("sentence has no `_` blank".to_string()))?;
            let gold = match raw.answer.as_str() {
                "1" => 0,
                "2" => 1,
                other => return Err(bad(format!("answer {other:?} is not \"1\" or \"2\"")).into()),
            };
            let prefix = &raw.sentence[..blank];
            let contexts = vec![
                format!("{prefix}{}", raw.option1),
                format!("{prefix}{}", raw.option2),
            ];
            let continuation = format!("{TARGET_DELIMITER}{}", strip(&raw.sentence[blank + 1..]));
            Ok(ChoiceDoc {
                doc_id: row.line - 1,
                subject: None,
                choice_chars: contexts.iter().map(|c| char_len(c)).collect(),
                continuations: vec![continuation.clone(), continuation],
                context: ChoiceContext::PerChoice(contexts),
                gold,
            })
        })
        .collect()
}
