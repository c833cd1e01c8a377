//! WinoGrande (`tasks/winogrande/default.yaml` + `preprocess_winogrande.py`), `winogrande_xl`
//! validation split, with partial scoring.
//!
//! For each option the context is the sentence up to the first `_` with the option filled
//! in (`doc_to_choice`); the shared continuation is `" " + sentence[after _].strip()`
//! (`target_delimiter` + `doc_to_target`); gold is `answer` "1"/"2" as 0/1
//! (`doc_to_text`). Metric `acc`; 0-shot. The `acc_norm` a record carries divides by the
//! partial contexts' lengths, as lm-eval computes (but does not report) it.

use serde::Deserialize;

use super::{ACC, Chance, ChoiceDoc, ChoiceMetric, Docs, Load, TaskDef, limited};
use crate::data::read_jsonl;
use crate::error::{DataError, EvalError};
use crate::fewshot::TARGET_DELIMITER;
use crate::pytext::{char_len, strip};
use crate::records::ChoiceContext;
use crate::source::{File, Form, Member, Source};

pub(super) const WINOGRANDE: TaskDef = TaskDef {
    name: "winogrande",
    subtasks: &[],
    sources: &[Source {
        url: "https://storage.googleapis.com/ai2-mosaic/public/winogrande/winogrande_1.1.zip",
        form: Form::Zip(&[
            Member {
                name: "winogrande_1.1/dev.jsonl",
                file: File {
                    task: "winogrande",
                    dest: "winogrande/dev.jsonl",
                    sha256: "1aeac79cf46a3dcbe59a71ca7e5372a1490cde2b4ae2387dc56f00378104d2e8",
                },
            },
            Member {
                name: "winogrande_1.1/dev-labels.lst",
                file: File {
                    task: "winogrande",
                    dest: "winogrande/dev-labels.lst",
                    sha256: "5ae1e30f52a50b880515685dcfae7d57649cce256d375947cdd02f687de7e6ba",
                },
            },
        ]),
    }],
    chance: Chance::Uniform,
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
    sentence: String,
    option1: String,
    option2: String,
    answer: String,
}

/// The first `limit` docs of the official `winogrande/dev.jsonl` (WinoGrande 1.1, with
/// `qID`) when it is there, else of the Hugging Face export
/// `winogrande_xl-validation.jsonl` (same rows and order, without `qID`).
fn prepare(load: &Load) -> Result<Vec<ChoiceDoc>, EvalError> {
    let dir = load.data_dir.join("winogrande");
    let official = dir.join("dev.jsonl");
    let path = if official.exists() {
        official
    } else {
        dir.join("winogrande_xl-validation.jsonl")
    };
    let docs = read_jsonl::<Raw>(&path)?
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
        .collect::<Result<_, EvalError>>()?;
    Ok(limited(docs, load.limit))
}
