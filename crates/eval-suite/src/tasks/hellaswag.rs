//! HellaSwag (`tasks/hellaswag/hellaswag.yaml` + `utils.py`), validation split.
//!
//! Query `preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize())`, choices
//! `preprocess(ending)`, gold `label`; metrics `acc`, `acc_norm`; 0-shot.
//! `preprocess`: strip; `" [title]"` -> `". "`; drop `[...]` tags; `"  "` -> `" "` once.

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::{ACC_NORM, Chance, ChoiceDoc, ChoiceMetric, Docs, Load, TaskDef, limited};
use crate::data::read_jsonl;
use crate::error::{DataError, EvalError};
use crate::pytext::{capitalize, strip};
use crate::source::{File, Form, Source};

pub(super) const HELLASWAG: TaskDef = TaskDef {
    name: "hellaswag",
    subtasks: &[],
    sources: &[Source {
        url: "https://raw.githubusercontent.com/rowanz/hellaswag/master/data/hellaswag_val.jsonl",
        form: Form::Plain(File {
            task: "hellaswag",
            dest: "hellaswag/hellaswag_val.jsonl",
            sha256: "0aa3b88843990f3f10a97b9575c94d7b71fb2205240ba04ae4884d9e9c992588",
        }),
    }],
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
    activity_label: String,
    ctx_a: String,
    ctx_b: String,
    label: usize,
    endings: Vec<String>,
}

/// `re.sub("\\[.*?\\]", "", text)`.
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[.*?\]").expect("constant regex"));

/// `utils.preprocess`.
fn preprocess(text: &str) -> String {
    let text = strip(text).replace(" [title]", ". ");
    TAG.replace_all(&text, "").replace("  ", " ")
}

/// The first `limit` docs of `hellaswag/hellaswag_val.jsonl`.
fn prepare(load: &Load) -> Result<Vec<ChoiceDoc>, EvalError> {
    let path = load.data_dir.join("hellaswag").join("hellaswag_val.jsonl");
    let docs = read_jsonl::<Raw>(&path)?
        .into_iter()
        .map(|row| {
            let raw = row.value;
            if raw.label >= raw.endings.len() {
                return Err(DataError::value(
                    &path,
                    row.line,
                    format!(
                        "label {} is out of range for {} endings",
                        raw.label,
                        raw.endings.len()
                    ),
                )
                .into());
            }
            let ctx = format!("{} {}", raw.ctx_a, capitalize(&raw.ctx_b));
            let query = preprocess(&format!("{}: {ctx}", raw.activity_label));
            let choices: Vec<String> = raw.endings.iter().map(|e| preprocess(e)).collect();
            Ok(ChoiceDoc::new(row.line - 1, query, &choices, raw.label))
        })
        .collect::<Result<_, EvalError>>()?;
    Ok(limited(docs, load.limit))
}

#[cfg(test)]
mod tests {
    use super::preprocess;

    #[test]
    fn preprocess_as_utils_py() {
        // utils.preprocess(" Wash hands [title] Rinse [step]  well. ") in Python: the
        // single "  " -> " " pass leaves two of the three spaces around the dropped tag.
        assert_eq!(
            preprocess(" Wash hands [title] Rinse [step]  well. "),
            "Wash hands. Rinse  well."
        );
    }
}
