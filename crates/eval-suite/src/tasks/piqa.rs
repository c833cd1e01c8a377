//! PIQA (`tasks/piqa/piqa.yaml`), validation split.
//!
//! `doc_to_text: "Question: {{goal}}\nAnswer:"`, choices `sol1`, `sol2`, gold `label`;
//! metrics `acc`, `acc_norm`; 0-shot. Labels come from the authors' `valid-labels.lst`
//! (line i labels `valid.jsonl` line i), as the HF copy lm-eval loads joins them.

use serde::Deserialize;

use super::{ACC_NORM, Chance, ChoiceDoc, ChoiceMetric, Docs, Load, TaskDef, limited};
use crate::data::{read_jsonl, read_lines};
use crate::error::{DataError, EvalError};
use crate::source::{File, Form, Source};

pub(super) const PIQA: TaskDef = TaskDef {
    name: "piqa",
    subtasks: &[],
    sources: &[
        Source {
            url: "https://yonatanbisk.com/piqa/data/valid.jsonl",
            form: Form::Plain(File {
                task: "piqa",
                dest: "piqa/valid.jsonl",
                sha256: "93503cc97c679e459b065c3d13e848282e44b2a25213985bed3e5d458abef72d",
            }),
        },
        Source {
            url: "https://yonatanbisk.com/piqa/data/valid-labels.lst",
            form: Form::Plain(File {
                task: "piqa",
                dest: "piqa/valid-labels.lst",
                sha256: "b4192dc3a2a0363d9d60ccf79800cbbe2f32ebb17726efdde6970e0b8131bceb",
            }),
        },
    ],
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
    goal: String,
    sol1: String,
    sol2: String,
}

/// The first `limit` docs of `piqa/valid.jsonl` with `piqa/valid-labels.lst`.
fn prepare(load: &Load) -> Result<Vec<ChoiceDoc>, EvalError> {
    let dir = load.data_dir.join("piqa");
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
    let docs = docs
        .into_iter()
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
        .collect::<Result<_, EvalError>>()?;
    Ok(limited(docs, load.limit))
}
