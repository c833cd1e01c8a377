//! The whole data set against lm-eval 0.4.13 itself, when `LM_EVAL_REFERENCE_DIR` names
//! the output of `reference_prompts.py DATA OUT` (every request of every task) and of
//! `reference_scores.py DATA OUT` (lm-eval's metrics, stderrs and per-doc scores under a
//! deterministic fake model). Ignored by default: the dumps are ~240 MB and take lm-eval
//! minutes to build; `make reference` builds them and runs these tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use eval_suite::{EvalOptions, ItemRecord, TaskResult, evaluate};
use serde_json::Value;

use crate::data_dir;
use crate::golden::assert_requests;
use crate::mock::MockLm;

/// (task to run, reference file stem, num_fewshot)
const RUNS: [(&str, &str, Option<usize>); 11] = [
    ("arc_challenge", "arc_challenge", None),
    ("arc_easy", "arc_easy", None),
    ("hellaswag", "hellaswag", None),
    ("winogrande", "winogrande", None),
    ("piqa", "piqa", None),
    ("lambada_openai", "lambada_openai", None),
    ("gsm8k", "gsm8k", None),
    ("boolq", "boolq", None),
    ("openbookqa", "openbookqa", None),
    ("mmlu", "mmlu", Some(0)),
    ("mmlu", "mmlu_5shot", Some(5)),
];

fn reference_dir() -> PathBuf {
    std::env::var_os("LM_EVAL_REFERENCE_DIR")
        .map(PathBuf::from)
        .expect("set LM_EVAL_REFERENCE_DIR to the dumps of reference_prompts.py and reference_scores.py (`make reference`)")
}

#[test]
#[ignore = "slow: needs lm-eval's dumps of the full data set; run by `make reference`"]
fn all_requests_match_lm_eval() {
    let dir = reference_dir();
    for (task, file, num_fewshot) in RUNS {
        let expected = std::fs::read_to_string(dir.join(format!("{file}.jsonl"))).unwrap();
        let mut lm = MockLm::recorder();
        let options = EvalOptions {
            num_fewshot,
            bootstrap_iters: 0,
            ..EvalOptions::default()
        };
        evaluate(task, &data_dir(), &mut lm, &options, &mut |_, _| {}).unwrap();
        assert_requests(file, &expected, &lm);
        eprintln!("{file}: all requests match");
    }
}

pub fn gsm8k_answers() -> HashMap<String, String> {
    std::fs::read_to_string(data_dir().join("gsm8k/test.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["question"].as_str().unwrap().into(),
                v["answer"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// lm-eval's `"{metric},{filter}"` / `"{metric}_stderr,{filter}"` values from ours.
fn our_metric(result: &TaskResult, key: &str) -> Option<f64> {
    let (name, filter) = key.split_once(',').unwrap();
    match name.strip_suffix("_stderr") {
        Some(name) => result.metric(name, filter)?.stderr,
        None => Some(result.metric(name, filter)?.value),
    }
}

fn our_item(item: &ItemRecord, key: &str) -> Option<f64> {
    let (name, filter) = key.split_once(',').unwrap();
    match (item, name) {
        (ItemRecord::Loglikelihood(r), "perplexity") => Some(r.loglikelihood),
        (ItemRecord::Rolling(r), "loglikelihood") => Some(r.loglikelihood),
        (ItemRecord::Rolling(r), "words") => Some(r.words as f64),
        (ItemRecord::Rolling(r), "bytes") => Some(r.bytes as f64),
        (ItemRecord::Choice(r), "gold") => Some(r.gold as f64),
        (ItemRecord::Choice(r), "pred") => Some(r.pred as f64),
        _ => item.score(name, filter),
    }
}

/// Equal up to serde_json's float parsing, which (without its `float_roundtrip` feature)
/// may land one ulp off the value Python wrote.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 2.0 * f64::EPSILON * b.abs()
}

/// Every metric and every per-doc score of `reference` (one task of scores.json) equals ours.
pub fn assert_scores(label: &str, reference: &Value, result: &TaskResult, items: &[&ItemRecord]) {
    assert_eq!(
        result.n as u64,
        reference["n"].as_u64().unwrap(),
        "{label}: n"
    );
    for (key, want) in reference["metrics"].as_object().unwrap() {
        if want == "N/A" {
            assert_eq!(
                our_metric(result, key),
                None,
                "{label} {key}: lm-eval has none"
            );
            continue;
        }
        let want = want.as_f64().unwrap();
        let got = our_metric(result, key).unwrap_or_else(|| panic!("{label}: no {key}"));
        assert!(same(got, want), "{label} {key}: {got} vs lm-eval {want}");
    }
    let Some(ref_items) = reference.get("items") else {
        return;
    };
    let ref_items = ref_items.as_array().unwrap();
    assert_eq!(items.len(), ref_items.len(), "{label}: items");
    for (ours, theirs) in items.iter().zip(ref_items) {
        assert_eq!(ours.doc_id() as u64, theirs["doc_id"].as_u64().unwrap());
        for (key, want) in theirs.as_object().unwrap() {
            if key == "doc_id" {
                continue;
            }
            let got = our_item(ours, key).unwrap_or_else(|| panic!("{label}: item has no {key}"));
            let want = want.as_f64().unwrap();
            assert!(
                same(got, want),
                "{label} doc {} {key}: {got} vs lm-eval {want}",
                ours.doc_id()
            );
        }
    }
}

#[test]
#[ignore = "slow: needs lm-eval's dumps of the full data set; run by `make reference`"]
fn all_scores_match_lm_eval() {
    let dir = reference_dir();
    let scores: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&dir).join("scores.json")).unwrap(),
    )
    .unwrap();
    let answers = gsm8k_answers();
    for (task, label, num_fewshot) in RUNS {
        let options = EvalOptions {
            num_fewshot,
            bootstrap_iters: 2000,
            ..EvalOptions::default()
        };
        let mut lm = MockLm::fake(answers.clone());
        let result = evaluate(task, &data_dir(), &mut lm, &options, &mut |_, _| {}).unwrap();
        let items: Vec<&ItemRecord> = result.items.iter().collect();
        assert_scores(label, &scores[label], &result, &items);
        for sub in &result.subtasks {
            let subject = sub.task.strip_prefix("mmlu_").unwrap();
            let items: Vec<&ItemRecord> = result
                .items
                .iter()
                .filter(
                    |i| matches!(i, ItemRecord::Choice(c) if c.subject.as_deref() == Some(subject)),
                )
                .collect();
            assert_scores(
                &sub.task,
                &scores[label]["subtasks"][&sub.task],
                sub,
                &items,
            );
        }
        eprintln!("{label}: metrics and per-doc scores match");
    }
}
