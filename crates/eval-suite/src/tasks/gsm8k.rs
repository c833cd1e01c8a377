//! GSM8K (`tasks/gsm8k/gsm8k.yaml`, version 3), test split; 5-shot from the train split.
//!
//! `doc_to_text: "Question: {{question}}\nAnswer:"`, `doc_to_target: "{{answer}}"` (the
//! full worked solution, also the exemplars' answers); greedy `generate_until` with
//! `until: ["Question:", "</s>", "<|im_end|>"]` and lm-eval's default `max_gen_toks` 256.
//! Exemplars: the seeded default sampler, `rnd.sample(train, 5)` per test doc in order.
//! Two filter pipelines, each `regex` then `take_first`, then `exact_match` with
//! `ignore_case`, `regexes_to_ignore: [",", "\\$", "(?s).*#### ", "\\.$"]`:
//! - `strict-match`: first match of `#### (\-?[0-9\.\,]+)`, group 1;
//! - `flexible-extract`: last match of `(-?[$0-9.,]{2,})|(-?[0-9]+)`, its first non-empty
//!   group. No match gives `[invalid]`.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::{Chance, Docs, GenerateDoc, Load, TaskDef, fewshot_error, limited};
use crate::data::read_jsonl;
use crate::error::EvalError;
use crate::fewshot::{self, Exemplar, Sampler};
use crate::filters::{INVALID, RegexFilter, cut_at_stops};
use crate::metrics::ExactMatch;
use crate::records::{FLEXIBLE_EXTRACT, GenerationRecord, ItemRecord, STRICT_MATCH};
use crate::source::{File, Form, Source};

pub(super) const GSM8K: TaskDef = TaskDef {
    name: "gsm8k",
    subtasks: &[],
    sources: &[
        Source {
            url: "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl",
            form: Form::Plain(File {
                task: "gsm8k",
                dest: "gsm8k/test.jsonl",
                sha256: "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
            }),
        },
        Source {
            url: "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/train.jsonl",
            form: Form::Plain(File {
                task: "gsm8k",
                dest: "gsm8k/train.jsonl",
                sha256: "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465",
            }),
        },
    ],
    chance: Chance::Zero,
    headline: ("exact_match", FLEXIBLE_EXTRACT),
    default_shots: 5,
    fewshot_pool: true,
    docs: Docs::GenerateUntil {
        prepare: &prepare,
        until: &UNTIL,
        // lm-eval's default; the YAML sets none.
        max_gen_toks: 256,
        sampling: None,
        repeats: 1,
        filters: &[STRICT_MATCH, FLEXIBLE_EXTRACT],
        score: &|doc, generations| ItemRecord::Generation(score(doc, &generations[0])),
    },
};

/// `generation_kwargs.until`.
const UNTIL: [&str; 3] = ["Question:", "</s>", "<|im_end|>"];
/// The two filters, each then `take_first`.
static STRICT: LazyLock<RegexFilter> = LazyLock::new(|| regex_filter(r"#### (\-?[0-9\.\,]+)", 0));
static FLEXIBLE: LazyLock<RegexFilter> =
    LazyLock::new(|| regex_filter(r"(-?[$0-9.,]{2,})|(-?[0-9]+)", -1));

fn regex_filter(pattern: &str, group_select: i64) -> RegexFilter {
    RegexFilter {
        regex: Regex::new(pattern).expect("constant regex"),
        group_select,
        fallback: INVALID.to_string(),
    }
}

/// The YAML's `exact_match` settings.
static EXACT_MATCH: LazyLock<ExactMatch> = LazyLock::new(|| {
    ExactMatch::new(&[",", "\\$", "(?s).*#### ", "\\.$"], true, false, false)
        .expect("constant patterns")
});

#[derive(Deserialize)]
struct Raw {
    question: String,
    answer: String,
}

fn read(path: &Path) -> Result<Vec<Exemplar>, EvalError> {
    Ok(read_jsonl::<Raw>(path)?
        .into_iter()
        .map(|row| Exemplar {
            text: format!("Question: {}\nAnswer:", row.value.question),
            target: row.value.answer,
        })
        .collect())
}

/// The first `limit` docs of `gsm8k/test.jsonl`, each with `shots` exemplars from
/// `gsm8k/train.jsonl` (read only when `shots > 0`).
fn prepare(load: &Load) -> Result<Vec<GenerateDoc>, EvalError> {
    let &Load {
        task,
        data_dir,
        shots,
        limit,
        ..
    } = load;
    let dir = data_dir.join("gsm8k");
    let docs = limited(read(&dir.join("test.jsonl"))?, limit);
    let pool = if shots > 0 {
        read(&dir.join("train.jsonl"))?
    } else {
        Vec::new()
    };
    let texts: Vec<String> = docs.iter().map(|d| d.text.clone()).collect();
    let contexts = fewshot::contexts("", &pool, &mut Sampler::seeded(), shots, &texts)
        .map_err(|m| fewshot_error(task, m))?;
    Ok(docs
        .into_iter()
        .zip(contexts)
        .enumerate()
        .map(|(doc_id, (doc, context))| GenerateDoc {
            doc_id,
            context,
            references: vec![doc.target],
        })
        .collect())
}

/// `strict-match`: the first `#### N`.
fn strict_match(generation: &str) -> String {
    STRICT.extract(generation)
}

/// `flexible-extract`: the last number.
fn flexible_extract(generation: &str) -> String {
    FLEXIBLE.extract(generation)
}

/// Filter and score one generation.
fn score(doc: &GenerateDoc, generation: &str) -> GenerationRecord {
    let reference = &doc.references[0];
    let generation = cut_at_stops(generation, &UNTIL);
    let answer_strict = strict_match(generation);
    let answer_flexible = flexible_extract(generation);
    GenerationRecord {
        doc_id: doc.doc_id,
        context: doc.context.clone(),
        generation: generation.to_string(),
        exact_match_strict: EXACT_MATCH.score(&answer_strict, reference),
        exact_match_flexible: EXACT_MATCH.score(&answer_flexible, reference),
        gold: EXACT_MATCH.normalise(reference),
        answer_strict,
        answer_flexible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(reference: &str) -> GenerateDoc {
        GenerateDoc {
            doc_id: 0,
            context: String::new(),
            references: vec![reference.to_string()],
        }
    }

    #[test]
    fn strict_takes_the_first_hash_answer() {
        assert_eq!(strict_match("so #### 1,234. then #### 7"), "1,234.");
        assert_eq!(strict_match("The answer is 7"), INVALID);
    }

    #[test]
    fn flexible_takes_the_last_number() {
        assert_eq!(flexible_extract("3 apples cost $12.50 so 7"), "7");
        assert_eq!(flexible_extract("pay $1,000."), "$1,000.");
        assert_eq!(flexible_extract("no digits"), INVALID);
        // A lone "$." matches group 1 with no digit: still taken, as in Python.
        assert_eq!(flexible_extract("costs $."), "$.");
    }

    #[test]
    fn stops_cut_the_generation() {
        assert_eq!(
            cut_at_stops("x = 2\n#### 2\n\nQuestion: next", &UNTIL),
            "x = 2\n#### 2\n\n"
        );
        assert_eq!(cut_at_stops("a</s>b<|im_end|>c", &UNTIL), "a");
    }

    #[test]
    fn exact_match_both_filters() {
        let gold = "Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 1,072";
        let r = score(
            &doc(gold),
            " She sold 1072 clips.\n#### 1,072.\n\nQuestion: x",
        );
        assert_eq!(r.gold, "1072");
        assert_eq!(r.answer_strict, "1,072.");
        assert_eq!(r.answer_flexible, "1,072.");
        assert_eq!((r.exact_match_strict, r.exact_match_flexible), (1.0, 1.0));
        let r = score(&doc(gold), "It is 1072 in total, not 5");
        assert_eq!(
            (r.answer_strict.as_str(), r.answer_flexible.as_str()),
            (INVALID, "5")
        );
        assert_eq!((r.exact_match_strict, r.exact_match_flexible), (0.0, 0.0));
    }
}
