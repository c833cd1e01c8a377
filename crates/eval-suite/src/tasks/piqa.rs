//! PIQA (`tasks/piqa/piqa.yaml`), validation split.
//!
//! `doc_to_text: "Question: {{goal}}\nAnswer:"`, choices `sol1`, `sol2`, gold `label`;
//! metrics `acc`, `acc_norm`; 0-shot. Labels come from the authors' `valid-labels.lst`
//! (line i labels `valid.jsonl` line i), as the HF copy lm-eval loads joins them.

use std::path::Path;

use serde::Deserialize;

use super::ChoiceDoc;
use crate::data::{read_jsonl, read_lines};
use crate::error::{DataError, EvalError};

#[derive(Deserialize)]
struct Raw {
    goal: String,
    sol1: String,
    sol2: String,
}

/// All docs of `piqa/valid.jsonl` with `piqa/valid-labels.lst`.
pub(super) fn load(data_dir: &Path) -> Result<Vec<ChoiceDoc>, EvalError> {
    let dir = data_dir.join("piqa");
    let docs_path = dir.join("valid.jsonl");
    let labels_path = dir.join("valid-labels.lst");
    let docs = read_jsonl::<Raw>(&docs_path)?;
    let labels = read_lines(&labels_path)?;
    if labels.len() != docs.len() {
        let line = labels.len().min(docs.len()) + 1;
        let message = format!(
            "{} labels for the {} lines of {}",
            labels.len(),
            docs.len(),
            docs_path.display()
        );
        return Err(DataError::value(&labels_path, line, message).into());
    }
    docs.into_iter()
        .zip(labels)
        .map(|(row, label)| {
            let gold = match label.value.trim() {
                "0" => 0,
                "1" => 1,
                other => {
                    let message = format!("label {other:?} is not 0 or 1");
                    return Err(DataError::value(&labels_path, label.line, message).into());
                }
            };
            let raw = row.value;
            let context = format!("Question: {}\nAnswer:", raw.goal);
            Ok(ChoiceDoc::new(
                row.line - 1,
                context,
                &[raw.sol1, raw.sol2],
                gold,
            ))
        })
        .collect()
}
