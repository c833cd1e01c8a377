//! ARC-Easy and ARC-Challenge (`tasks/arc/arc_easy.yaml`, `arc_challenge.yaml`), test split.
//!
//! `doc_to_text: "Question: {{question}}\nAnswer:"`, choices `choices.text` (each scored
//! as `" " + text`), gold `choices.label.index(answerKey)`; labels may be letters or
//! digits and items have 3 to 5 choices. Metrics `acc`, `acc_norm`; 0-shot.
//! Reads AI2's original layout (`question.stem`, `question.choices[{text,label}]`), which
//! the HF `allenai/ai2_arc` copy lm-eval loads flattens into `question` and `choices`.

use std::path::Path;

use serde::Deserialize;

use super::{ACC_NORM, Chance, ChoiceDoc, ChoiceMetric, Docs, Load, Prepare, TaskDef, limited};
use crate::data::read_jsonl;
use crate::error::{DataError, EvalError};
use crate::source::{File, Form, Member, Source};

pub(super) const ARC_CHALLENGE: TaskDef = arc("arc_challenge", &challenge);
pub(super) const ARC_EASY: TaskDef = arc("arc_easy", &easy);

/// AI2's release, holding both test splits.
const ARC_ZIP: Source = Source {
    url: "https://ai2-public-datasets.s3.amazonaws.com/arc/ARC-V1-Feb2018.zip",
    form: Form::Zip(&[
        Member {
            name: "ARC-V1-Feb2018-2/ARC-Challenge/ARC-Challenge-Test.jsonl",
            file: File {
                task: "arc_challenge",
                dest: "arc/ARC-Challenge-Test.jsonl",
                sha256: "9fa8ffb3e3a1f88cb302d53dd95aae81e39209ad9bcf974376b319d8fd35717c",
            },
        },
        Member {
            name: "ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Test.jsonl",
            file: File {
                task: "arc_easy",
                dest: "arc/ARC-Easy-Test.jsonl",
                sha256: "ce32a0774b4beb1977d2c6b16dda5dd2b24fdc9c7f506882c452678676bd09be",
            },
        },
    ]),
};

/// Either task: metrics `acc`, `acc_norm`; 0-shot; both files in one zip.
const fn arc(name: &'static str, prepare: &'static Prepare<ChoiceDoc>) -> TaskDef {
    TaskDef {
        name,
        subtasks: &[],
        sources: &[ARC_ZIP],
        chance: Chance::Uniform,
        headline: ACC_NORM,
        default_shots: 0,
        fewshot_pool: false,
        docs: Docs::MultipleChoice {
            metrics: &[ChoiceMetric::Acc, ChoiceMetric::AccNorm],
            prepare,
        },
    }
}

fn challenge(load: &Load) -> Result<Vec<ChoiceDoc>, EvalError> {
    Ok(limited(
        read(load.data_dir, "ARC-Challenge-Test.jsonl")?,
        load.limit,
    ))
}

fn easy(load: &Load) -> Result<Vec<ChoiceDoc>, EvalError> {
    Ok(limited(
        read(load.data_dir, "ARC-Easy-Test.jsonl")?,
        load.limit,
    ))
}

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
fn read(data_dir: &Path, file: &str) -> Result<Vec<ChoiceDoc>, EvalError> {
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
