//! MMLU (`tasks/mmlu/default`, `_default_template_yaml`): 57 subject tasks `mmlu_<subject>`
//! on the test split, grouped as `mmlu`.
//!
//! Description `"The following are multiple choice questions (with answers) about
//! {subject with spaces}.\n\n"`; `doc_to_text: "{{question.strip()}}\nA. {{choices[0]}}\n
//! B. ...\nD. {{choices[3]}}\nAnswer:"`; choices `A`..`D` (scored as `" A"`..`" D"`); gold
//! `answer`; metric `acc`. Default 5-shot, the standard MMLU setting (lm-eval's own CLI
//! default is 0-shot: its YAML sets no `num_fewshot`; pass 0 to match that). With
//! `num_fewshot = k` the exemplars are the first k rows of the subject's dev CSV
//! (`fewshot_split: dev`, `sampler: first_n`), so at most 5.
//! The group score is lm-eval's `weight_by_size: True` aggregate, i.e. accuracy over all
//! questions (see [`crate::score`]), not the unweighted mean of subject scores.

use std::path::Path;

use super::{ACC, Chance, ChoiceDoc, ChoiceMetric, Docs, Load, TaskDef, fewshot_error, limited};
use crate::data::read_csv;
use crate::error::{DataError, EvalError};
use crate::fewshot::{self, Exemplar, Sampler};
use crate::pytext::strip;
use crate::source::{Form, Source, Tar};

pub(super) const MMLU: TaskDef = TaskDef {
    name: "mmlu",
    subtasks: &SUBJECTS,
    sources: &[Source {
        url: "https://people.eecs.berkeley.edu/~hendrycks/data.tar",
        form: Form::Tar(Tar {
            task: "mmlu",
            sha256: "bec563ba4bac1d6aaf04141cd7d1605d7a5ca833e38f994051e818489592989b",
            dest: "mmlu",
            keep: &[("data/test/", "_test.csv"), ("data/dev/", "_dev.csv")],
        }),
    }],
    chance: Chance::Uniform,
    headline: ACC,
    default_shots: 5,
    fewshot_pool: true,
    docs: Docs::MultipleChoice {
        metrics: &[ChoiceMetric::Acc],
        prepare: &prepare,
    },
};

/// The 57 subjects, in lm-eval's task names `mmlu_<subject>` (alphabetical).
const SUBJECTS: [&str; 57] = [
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "business_ethics",
    "clinical_knowledge",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_medicine",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "econometrics",
    "electrical_engineering",
    "elementary_mathematics",
    "formal_logic",
    "global_facts",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_european_history",
    "high_school_geography",
    "high_school_government_and_politics",
    "high_school_macroeconomics",
    "high_school_mathematics",
    "high_school_microeconomics",
    "high_school_physics",
    "high_school_psychology",
    "high_school_statistics",
    "high_school_us_history",
    "high_school_world_history",
    "human_aging",
    "human_sexuality",
    "international_law",
    "jurisprudence",
    "logical_fallacies",
    "machine_learning",
    "management",
    "marketing",
    "medical_genetics",
    "miscellaneous",
    "moral_disputes",
    "moral_scenarios",
    "nutrition",
    "philosophy",
    "prehistory",
    "professional_accounting",
    "professional_law",
    "professional_medicine",
    "professional_psychology",
    "public_relations",
    "security_studies",
    "sociology",
    "us_foreign_policy",
    "virology",
    "world_religions",
];

const COLUMNS: [&str; 6] = ["question", "A", "B", "C", "D", "answer"];
const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// One CSV row as lm-eval's doc: `doc_to_text`, the four choices, and the gold index.
struct Row {
    doc_id: usize,
    text: String,
    gold: usize,
}

fn read(path: &Path) -> Result<Vec<Row>, EvalError> {
    read_csv(path, &COLUMNS)?
        .into_iter()
        .enumerate()
        .map(|(doc_id, row)| {
            let f = &row.value;
            let gold = LETTERS.iter().position(|&l| l == f[5]).ok_or_else(|| {
                DataError::value(
                    path,
                    row.line,
                    format!("answer {:?} is not one of A, B, C, D", f[5]),
                )
            })?;
            let text = format!(
                "{}\nA. {}\nB. {}\nC. {}\nD. {}\nAnswer:",
                strip(&f[0]),
                f[1],
                f[2],
                f[3],
                f[4]
            );
            Ok(Row { doc_id, text, gold })
        })
        .collect()
}

/// The first `limit` test docs of each selected subject (all subjects when `None`, in
/// alphabetical order), each with the subject's first `shots` dev rows as exemplars.
fn prepare(load: &Load) -> Result<Vec<ChoiceDoc>, EvalError> {
    let &Load {
        subtask,
        data_dir,
        shots,
        limit,
        ..
    } = load;
    let subjects = match subtask {
        Some(s) => vec![s],
        None => SUBJECTS.to_vec(),
    };
    let dir = data_dir.join("mmlu").join("data");
    let choices = LETTERS.map(String::from);
    let mut docs = Vec::new();
    for subject in subjects {
        let test = limited(
            read(&dir.join("test").join(format!("{subject}_test.csv")))?,
            limit,
        );
        let pool: Vec<Exemplar> = if shots > 0 {
            read(&dir.join("dev").join(format!("{subject}_dev.csv")))?
                .into_iter()
                .map(|r| Exemplar {
                    text: r.text,
                    target: LETTERS[r.gold].to_string(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let description = format!(
            "The following are multiple choice questions (with answers) about {}.\n\n",
            subject.replace('_', " ")
        );
        let texts: Vec<String> = test.iter().map(|r| r.text.clone()).collect();
        let contexts = fewshot::contexts(&description, &pool, &mut Sampler::FirstN, shots, &texts)
            .map_err(|m| fewshot_error(&format!("mmlu_{subject}"), m))?;
        docs.extend(
            test.into_iter()
                .zip(contexts)
                .map(|(row, context)| ChoiceDoc {
                    subject: Some(subject),
                    ..ChoiceDoc::new(row.doc_id, context, &choices, row.gold)
                }),
        );
    }
    Ok(docs)
}
