//! LAMBADA, OpenAI's version (`tasks/lambada/lambada_openai.yaml`), test split.
//!
//! `doc_to_text: "{{text.split(' ')[:-1]|join(' ')}}"` (everything before the last space),
//! `doc_to_target: "{{' '+text.split(' ')[-1]}}"`; output type `loglikelihood`, metrics
//! `perplexity` and `acc` (= is_greedy); 0-shot by default. lm-eval has no other split,
//! so any few-shot pool is the test split itself, drawn with the seeded sampler and
//! without removing the evaluated doc (its `fewshot_split` is unset, not `test`).

use std::path::Path;

use serde::Deserialize;

use super::{ACC, Chance, Docs, Load, LoglikelihoodDoc, TaskDef, fewshot_error, limited};
use crate::data::read_jsonl;
use crate::error::EvalError;
use crate::fewshot::{self, Exemplar, Sampler};
use crate::source::{File, Form, Source};

/// Guessing the last word scores nothing; perplexity has no chance level.
pub(super) const LAMBADA_OPENAI: TaskDef = TaskDef {
    name: "lambada_openai",
    subtasks: &[],
    sources: &[Source {
        url: "https://openaipublic.blob.core.windows.net/gpt-2/data/lambada_test.jsonl",
        form: Form::Plain(File {
            task: "lambada_openai",
            dest: "lambada/lambada_test.jsonl",
            sha256: "4aa8d02cd17c719165fc8a7887fddd641f43fcafa4b1c806ca8abc31fabdb226",
        }),
    }],
    chance: Chance::Zero,
    headline: ACC,
    default_shots: 0,
    fewshot_pool: true,
    docs: Docs::Loglikelihood { prepare: &prepare },
};

#[derive(Deserialize)]
struct Raw {
    text: String,
}

/// (context, target) for one passage.
fn split_last_word(text: &str) -> (String, String) {
    match text.rfind(' ') {
        Some(i) => (text[..i].to_string(), format!(" {}", &text[i + 1..])),
        None => (String::new(), format!(" {text}")),
    }
}

fn test_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("lambada").join("lambada_test.jsonl")
}

/// The first `limit` whole passages of `lambada/lambada_test.jsonl` (for analyses that
/// read text rather than score it, e.g. hidden-state similarity).
pub fn passages(data_dir: &Path, limit: usize) -> Result<Vec<String>, EvalError> {
    let rows = read_jsonl::<Raw>(&test_file(data_dir))?;
    Ok(rows
        .into_iter()
        .take(limit)
        .map(|row| row.value.text)
        .collect())
}

/// The first `limit` docs of `lambada/lambada_test.jsonl` with `shots` exemplars.
fn prepare(load: &Load) -> Result<Vec<LoglikelihoodDoc>, EvalError> {
    let &Load {
        task,
        data_dir,
        shots,
        limit,
        ..
    } = load;
    let all: Vec<Exemplar> = read_jsonl::<Raw>(&test_file(data_dir))?
        .into_iter()
        .map(|row| {
            let (text, target) = split_last_word(&row.value.text);
            Exemplar { text, target }
        })
        .collect();
    let pool = if shots > 0 { all.clone() } else { Vec::new() };
    let docs = limited(all, limit);
    let texts: Vec<String> = docs.iter().map(|d| d.text.clone()).collect();
    let contexts = fewshot::contexts("", &pool, &mut Sampler::seeded(), shots, &texts)
        .map_err(|m| fewshot_error(task, m))?;
    Ok(docs
        .into_iter()
        .zip(contexts)
        .enumerate()
        .map(|(doc_id, (doc, context))| LoglikelihoodDoc {
            doc_id,
            context,
            continuation: doc.target,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::split_last_word;

    #[test]
    fn splits_at_the_last_space() {
        assert_eq!(
            split_last_word("a b\n\nc d"),
            ("a b\n\nc".to_string(), " d".to_string())
        );
        assert_eq!(
            split_last_word("word"),
            (String::new(), " word".to_string())
        );
    }
}
