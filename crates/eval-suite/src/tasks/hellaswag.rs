//! HellaSwag (`tasks/hellaswag/hellaswag.yaml` + `utils.py`), validation split.
//!
//! Query `preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize())`, choices
//! `preprocess(ending)`, gold `label`; metrics `acc`, `acc_norm`; 0-shot.
//! `preprocess`: strip; `" [title]"` -> `". "`; drop `[...]` tags; `"  "` -> `" "` once.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::ChoiceDoc;
use crate::data::read_jsonl;
use crate::error::{DataError, EvalError};
use crate::pytext::{capitalize, strip};

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

/// All docs of `hellaswag/hellaswag_val.jsonl`.
pub(super) fn load(data_dir: &Path) -> Result<Vec<ChoiceDoc>, EvalError> {
    let path = data_dir.join("hellaswag").join("hellaswag_val.jsonl");
    read_jsonl::<Raw>(&path)?
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
        .collect()
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
