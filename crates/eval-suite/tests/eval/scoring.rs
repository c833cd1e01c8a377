//! End to end with a mock backend on small hand-made data: request construction, scoring,
//! metrics and stderrs checked against values worked out by hand (or by lm-eval's own
//! `bootstrap_stderr`), progress and chunking, option errors, record format, stats.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use eval_suite::stats::{chance_level, mcnemar_exact, paired_scores};
use eval_suite::{
    BackendError, ChoiceContext, EvalError, EvalOptions, GenerateRequest, ItemRecord,
    LanguageModel, LoglikelihoodRequest, TaskResult, evaluate,
};
use serde_json::Value;
use tempfile::TempDir;

use crate::data_dir;
use crate::mock::MockLm;

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// A mock scoring continuations from a table (unknown ones -100, never greedy).
fn table_lm(table: &[(&str, f64)]) -> MockLm {
    let table: HashMap<String, f64> = table.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    MockLm::new(
        move |r| (*table.get(&r.continuation).unwrap_or(&-100.0), true),
        |_| String::new(),
    )
}

fn run(task: &str, dir: &Path, lm: &mut dyn LanguageModel, options: EvalOptions) -> TaskResult {
    evaluate(task, dir, lm, &options, &mut |_, _| {}).unwrap()
}

fn arc_data() -> TempDir {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "arc/ARC-Easy-Test.jsonl",
        concat!(
            r#"{"id":"a","question":{"stem":"Q1","choices":[{"text":"aa","label":"A"},{"text":"b","label":"B"},{"text":"cccc","label":"C"}]},"answerKey":"C"}"#,
            "\n",
            r#"{"id":"b","question":{"stem":"Q2","choices":[{"text":"x","label":"1"},{"text":"yy","label":"2"}]},"answerKey":"1"}"#,
            "\n",
            r#"{"id":"c","question":{"stem":"Q3","choices":[{"text":"dd","label":"A"},{"text":"e","label":"B"}]},"answerKey":"A"}"#,
            "\n"
        ),
    );
    tmp
}

fn arc_lm() -> MockLm {
    table_lm(&[
        (" aa", -2.0),
        (" b", -1.5),
        (" cccc", -3.0),
        (" x", -1.0),
        (" yy", -3.0),
        (" dd", -4.0),
        (" e", -1.0),
    ])
}

#[test]
fn multiple_choice_acc_and_acc_norm() {
    let tmp = arc_data();
    let mut lm = arc_lm();
    let r = run("arc_easy", tmp.path(), &mut lm, EvalOptions::default());
    assert_eq!(lm.loglikelihood_requests.len(), 7);
    assert_eq!(
        lm.loglikelihood_requests[0].context,
        "Question: Q1\nAnswer:"
    );
    assert_eq!(lm.loglikelihood_requests[2].continuation, " cccc");
    let recs: Vec<_> = r
        .items
        .iter()
        .map(|i| match i {
            ItemRecord::Choice(c) => c.clone(),
            other => panic!("not multiple choice: {other:?}"),
        })
        .collect();
    // doc 0: raw argmax -1.5 (B); per char -2/2, -1.5/1, -3/4 -> C = gold.
    assert_eq!((recs[0].pred, recs[0].pred_norm, recs[0].gold), (1, 2, 2));
    assert_eq!((recs[0].acc, recs[0].acc_norm), (0.0, 1.0));
    assert_eq!(recs[0].loglikelihoods, vec![-2.0, -1.5, -3.0]);
    // doc 1: numeric labels, gold "1" is index 0; -1 vs -3 (norm -1 vs -1.5).
    assert_eq!((recs[1].pred, recs[1].pred_norm, recs[1].gold), (0, 0, 0));
    // doc 2: -4 vs -1 (norm -2 vs -1): both wrong.
    assert_eq!((recs[2].acc, recs[2].acc_norm), (0.0, 0.0));
    // acc [0,1,0]: mean 1/3; SS 2/3, var 1/3, stderr sqrt(1/3)/sqrt(3) = 1/3.
    let acc = r.metric("acc", "none").unwrap();
    assert!(close(acc.value, 1.0 / 3.0) && close(acc.stderr.unwrap(), 1.0 / 3.0));
    // acc_norm [1,1,0]: mean 2/3, stderr 1/3.
    let norm = r.metric("acc_norm", "none").unwrap();
    assert!(close(norm.value, 2.0 / 3.0) && close(norm.stderr.unwrap(), 1.0 / 3.0));
    assert_eq!((r.task.as_str(), r.n, r.num_fewshot), ("arc_easy", 3, 0));
    // 1/num_choices averaged: (1/3 + 1/2 + 1/2) / 3 = 4/9.
    assert!(close(chance_level(&r, "acc").unwrap(), 4.0 / 9.0));
}

#[test]
fn chunks_and_progress() {
    let tmp = arc_data();
    let mut lm = arc_lm();
    let mut seen = Vec::new();
    let options = EvalOptions {
        chunk_size: 4,
        ..EvalOptions::default()
    };
    evaluate(
        "arc_easy",
        tmp.path(),
        &mut lm,
        &options,
        &mut |done, total| seen.push((done, total)),
    )
    .unwrap();
    assert_eq!(lm.calls, vec![4, 3]);
    assert_eq!(seen, vec![(4, 7), (7, 7)]);
}

#[test]
fn limit_takes_the_first_docs() {
    let tmp = arc_data();
    let options = EvalOptions {
        limit: Some(2),
        ..EvalOptions::default()
    };
    let r = run("arc_easy", tmp.path(), &mut arc_lm(), options);
    let ids: Vec<usize> = r.items.iter().map(ItemRecord::doc_id).collect();
    assert_eq!(ids, vec![0, 1]);
}

#[test]
fn winogrande_partial_scoring() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "winogrande/winogrande_xl-validation.jsonl",
        concat!(
            r#"{"sentence": "The cup fell off the shelf because _ was heavy.", "option1": "the cup", "option2": "the shelf", "answer": "1"}"#,
            "\n",
            r#"{"sentence": "Ann thanked Beatrice because _  helped.", "option1": "Ann", "option2": "Beatrice", "answer": "2"}"#,
            "\n"
        ),
    );
    // Shorter context scores higher.
    let mut lm = MockLm::new(|r| (-(r.context.len() as f64), false), |_| String::new());
    let r = run("winogrande", tmp.path(), &mut lm, EvalOptions::default());
    let reqs: Vec<(&str, &str)> = lm
        .loglikelihood_requests
        .iter()
        .map(|r| (r.context.as_str(), r.continuation.as_str()))
        .collect();
    assert_eq!(
        reqs,
        vec![
            ("The cup fell off the shelf because the cup", " was heavy."),
            (
                "The cup fell off the shelf because the shelf",
                " was heavy."
            ),
            ("Ann thanked Beatrice because Ann", " helped."),
            ("Ann thanked Beatrice because Beatrice", " helped."),
        ]
    );
    let ItemRecord::Choice(first) = &r.items[0] else {
        panic!("not multiple choice")
    };
    assert!(matches!(&first.context, ChoiceContext::PerChoice(c) if c.len() == 2));
    // doc 0 right (option1 shorter, gold 0), doc 1 wrong (gold 1): acc 0.5, stderr 0.5.
    let acc = r.metric("acc", "none").unwrap();
    assert_eq!((acc.value, acc.stderr), (0.5, Some(0.5)));
    assert!(r.metric("acc_norm", "none").is_none());
}

#[test]
fn boolq_prompt_and_max_class_chance() {
    let tmp = TempDir::new().unwrap();
    let line = |q: &str, a: bool| {
        format!(
            r#"{{"question": "{q}", "title": "Tea", "answer": {a}, "passage": "Tea is a drink."}}"#
        )
    };
    write(
        tmp.path(),
        "boolq/dev.jsonl",
        &[
            line("is tea a drink", true),
            line("is tea hot", true),
            line("is tea a stone", false),
        ]
        .join("\n"),
    );
    let mut lm = table_lm(&[(" yes", -1.0), (" no", -2.0)]);
    let r = run("boolq", tmp.path(), &mut lm, EvalOptions::default());
    assert_eq!(
        lm.loglikelihood_requests[0].context,
        "Tea -- Tea is a drink.\nQuestion: is tea a drink?\nAnswer:"
    );
    assert_eq!(lm.loglikelihood_requests[0].continuation, " no");
    assert_eq!(lm.loglikelihood_requests[1].continuation, " yes");
    assert!(close(r.metric("acc", "none").unwrap().value, 2.0 / 3.0));
    // 2 of 3 answers are "yes".
    assert!(close(chance_level(&r, "acc").unwrap(), 2.0 / 3.0));
}

#[test]
fn lambada_perplexity_and_acc() {
    let tmp = TempDir::new().unwrap();
    write(
        tmp.path(),
        "lambada/lambada_test.jsonl",
        "{\"text\": \"a b c\"}\n{\"text\": \"hello\\n\\nworld\"}\n{\"text\": \"x y z w\"}\n",
    );
    let mut lm = MockLm::new(
        |r| match r.continuation.as_str() {
            " c" => (-1.0, true),
            " hello\n\nworld" => (-2.0, false),
            _ => (-3.0, true),
        },
        |_| String::new(),
    );
    let options = EvalOptions {
        bootstrap_iters: 1000,
        ..EvalOptions::default()
    };
    let r = run("lambada_openai", tmp.path(), &mut lm, options);
    let reqs: Vec<(&str, &str)> = lm
        .loglikelihood_requests
        .iter()
        .map(|r| (r.context.as_str(), r.continuation.as_str()))
        .collect();
    assert_eq!(
        reqs,
        vec![("a b", " c"), ("", " hello\n\nworld"), ("x y z", " w")]
    );
    // exp(-mean(-1, -2, -3)) = e^2.
    let ppl = r.metric("perplexity", "none").unwrap();
    assert!(close(ppl.value, 2f64.exp()));
    // lm-eval: bootstrap_stderr(perplexity, [-1.0, -2.0, -3.0], 1000) == 3.8995878971948685
    assert!(close(ppl.stderr.unwrap(), 3.8995878971948685));
    // acc [1, 0, 1]: 2/3, stderr 1/3.
    let acc = r.metric("acc", "none").unwrap();
    assert!(close(acc.value, 2.0 / 3.0) && close(acc.stderr.unwrap(), 1.0 / 3.0));
    assert_eq!(chance_level(&r, "acc"), Some(0.0));
    assert_eq!(chance_level(&r, "perplexity"), None);

    let off = EvalOptions {
        bootstrap_iters: 0,
        ..EvalOptions::default()
    };
    let r = run("lambada_openai", tmp.path(), &mut MockLm::recorder(), off);
    assert!(r.metrics.iter().all(|m| m.stderr.is_none()));
}

fn gsm8k_data() -> TempDir {
    let tmp = TempDir::new().unwrap();
    let line = |q: &str, a: &str| format!("{{\"question\": \"{q}\", \"answer\": \"{a}\"}}\n");
    let train: String = (0..5)
        .map(|i| line(&format!("T{i}?"), &format!("{i}+0={i}\\n#### {i}")))
        .collect();
    write(tmp.path(), "gsm8k/train.jsonl", &train);
    write(
        tmp.path(),
        "gsm8k/test.jsonl",
        &(line("What is 2+2?", "2+2=<<2+2=4>>4\\n#### 4") + &line("Big?", "#### 1,000")),
    );
    tmp
}

#[test]
fn gsm8k_generation_filters_and_exact_match() {
    let tmp = gsm8k_data();
    let mut lm = MockLm::new(
        |_| (0.0, false),
        |r: &GenerateRequest| {
            if r.context.ends_with("What is 2+2?\nAnswer:") {
                " 2+2=4\n#### 4\n\nQuestion: What is 3+3?\nAnswer: 6".to_string()
            } else {
                " The total is $1,000.".to_string()
            }
        },
    );
    let r = run("gsm8k", tmp.path(), &mut lm, EvalOptions::default());
    let req = &lm.generate_requests[0];
    assert_eq!(req.until, vec!["Question:", "</s>", "<|im_end|>"]);
    assert_eq!(req.max_tokens, 256);
    // random.Random(1234).sample(range(5), 5) == [3, 0, 4, 2, 1]
    let exemplars: String = [3, 0, 4, 2, 1]
        .iter()
        .map(|i| format!("Question: T{i}?\nAnswer: {i}+0={i}\n#### {i}\n\n"))
        .collect();
    assert_eq!(req.context, exemplars + "Question: What is 2+2?\nAnswer:");
    let recs: Vec<_> = r
        .items
        .iter()
        .map(|i| match i {
            ItemRecord::Generation(g) => g.clone(),
            other => panic!("not generation: {other:?}"),
        })
        .collect();
    assert_eq!(recs[0].generation, " 2+2=4\n#### 4\n\n");
    assert_eq!(
        (
            recs[0].answer_strict.as_str(),
            recs[0].answer_flexible.as_str()
        ),
        ("4", "4")
    );
    assert_eq!(
        (
            recs[1].answer_strict.as_str(),
            recs[1].answer_flexible.as_str()
        ),
        ("[invalid]", "$1,000.")
    );
    assert_eq!(
        (recs[0].gold.as_str(), recs[1].gold.as_str()),
        ("4", "1000")
    );
    // strict [1, 0]: 0.5 +- 0.5; flexible [1, 1]: 1 +- 0.
    let strict = r.metric("exact_match", "strict-match").unwrap();
    assert_eq!((strict.value, strict.stderr), (0.5, Some(0.5)));
    let flexible = r.metric("exact_match", "flexible-extract").unwrap();
    assert_eq!((flexible.value, flexible.stderr), (1.0, Some(0.0)));
    assert_eq!(r.num_fewshot, 5);
    assert_eq!(chance_level(&r, "exact_match"), Some(0.0));

    let zero = EvalOptions {
        num_fewshot: Some(0),
        ..EvalOptions::default()
    };
    let mut lm = MockLm::recorder();
    run("gsm8k", tmp.path(), &mut lm, zero);
    assert_eq!(
        lm.generate_requests[0].context,
        "Question: What is 2+2?\nAnswer:"
    );
}

#[test]
fn mmlu_group_is_accuracy_over_all_questions() {
    // Always answer " A": a subject's accuracy is its share of A answers.
    let mut lm = MockLm::new(
        |r| (if r.continuation == " A" { -1.0 } else { -2.0 }, false),
        |_| String::new(),
    );
    let options = EvalOptions {
        limit: Some(2),
        ..EvalOptions::default()
    };
    let r = run("mmlu", &data_dir(), &mut lm, options);
    assert_eq!((r.n, r.subtasks.len()), (114, 57));
    assert_eq!(r.subtasks[0].task, "mmlu_abstract_algebra");
    assert!(r.subtasks.iter().all(|s| s.n == 2 && s.items.is_empty()));
    let all: Vec<f64> = r
        .items
        .iter()
        .map(|i| i.score("acc", "none").unwrap())
        .collect();
    let acc = r.metric("acc", "none").unwrap();
    assert!(close(acc.value, all.iter().sum::<f64>() / 114.0));
    assert!(acc.stderr.is_some());
    assert!(r.metric("acc_norm", "none").is_none());
    assert_eq!(chance_level(&r, "acc"), Some(0.25));
    let ItemRecord::Choice(first) = &r.items[0] else {
        panic!("not multiple choice")
    };
    assert_eq!(first.subject.as_deref(), Some("abstract_algebra"));

    // One doc per subject: stderr is "N/A" per subject, so for the group too.
    let one = EvalOptions {
        limit: Some(1),
        ..EvalOptions::default()
    };
    let r = run("mmlu", &data_dir(), &mut MockLm::recorder(), one);
    assert_eq!(r.metric("acc", "none").unwrap().stderr, None);
}

#[test]
fn option_errors() {
    let tmp = arc_data();
    let mut lm = MockLm::recorder();
    let fail = |task: &str, options: EvalOptions, lm: &mut MockLm| {
        evaluate(task, tmp.path(), lm, &options, &mut |_, _| {}).unwrap_err()
    };
    let shot = |n| EvalOptions {
        num_fewshot: Some(n),
        ..EvalOptions::default()
    };
    let err = fail("arc_easy", shot(1), &mut lm);
    assert!(matches!(err, EvalError::Fewshot { .. }), "{err}");
    assert!(
        err.to_string().starts_with("arc_easy: 1-shot needs"),
        "{err}"
    );
    // MMLU's pool is the subject's 5 dev rows (first_n sampler).
    let err = evaluate(
        "mmlu_anatomy",
        &data_dir(),
        &mut lm,
        &shot(6),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mmlu_anatomy: 6 few-shot examples requested but only 5 are available"
    );
    let err = fail("arc_hard", EvalOptions::default(), &mut lm);
    assert!(
        err.to_string()
            .starts_with("unknown task \"arc_hard\"; known: arc_challenge"),
        "{err}"
    );
    let none = EvalOptions {
        limit: Some(0),
        ..EvalOptions::default()
    };
    assert_eq!(
        fail("arc_easy", none, &mut lm).to_string(),
        "arc_easy: no documents to evaluate"
    );
}

/// A backend that loses answers.
struct Lossy;

impl LanguageModel for Lossy {
    fn loglikelihood(
        &mut self,
        reqs: &[LoglikelihoodRequest],
    ) -> Result<Vec<(f64, bool)>, BackendError> {
        Ok(vec![(0.0, false); reqs.len() - 1])
    }
    fn loglikelihood_rolling(&mut self, _: &[String]) -> Result<Vec<f64>, BackendError> {
        Err(BackendError::new("unused"))
    }
    fn generate_until(&mut self, _: &[GenerateRequest]) -> Result<Vec<String>, BackendError> {
        Err(BackendError::new("out of memory"))
    }
}

#[test]
fn backend_failures_surface() {
    let tmp = arc_data();
    let err = evaluate(
        "arc_easy",
        tmp.path(),
        &mut Lossy,
        &EvalOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "backend returned 6 results for 7 loglikelihood requests"
    );
    let tmp = gsm8k_data();
    let err = evaluate(
        "gsm8k",
        tmp.path(),
        &mut Lossy,
        &EvalOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "backend: out of memory");
}

/// A JSON object's keys, sorted.
fn keys(json: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn record_field_names_and_round_trip() {
    let tmp = arc_data();
    let r = run(
        "arc_easy",
        tmp.path(),
        &mut arc_lm(),
        EvalOptions::default(),
    );
    let json = serde_json::to_value(&r.items[0]).unwrap();
    assert_eq!(
        keys(&json),
        [
            "acc",
            "acc_norm",
            "context",
            "continuations",
            "doc_id",
            "gold",
            "is_greedy",
            "loglikelihoods",
            "pred",
            "pred_norm"
        ]
    );
    assert_eq!(json["context"], Value::from("Question: Q1\nAnswer:"));
    let back: TaskResult = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);

    let tmp = gsm8k_data();
    let r = run(
        "gsm8k",
        tmp.path(),
        &mut MockLm::recorder(),
        EvalOptions::default(),
    );
    let json = serde_json::to_value(&r.items[0]).unwrap();
    assert_eq!(
        keys(&json),
        [
            "answer_flexible",
            "answer_strict",
            "context",
            "doc_id",
            "exact_match_flexible",
            "exact_match_strict",
            "generation",
            "gold"
        ]
    );
    let back: TaskResult = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn paired_comparison_of_two_runs() {
    let tmp = arc_data();
    let base = run(
        "arc_easy",
        tmp.path(),
        &mut arc_lm(),
        EvalOptions::default(),
    );
    // A variant that always picks the first choice: right on docs 1 and 2.
    let variant = run(
        "arc_easy",
        tmp.path(),
        &mut table_lm(&[(" aa", 0.0), (" x", 0.0), (" dd", 0.0)]),
        EvalOptions::default(),
    );
    let (a, b) = paired_scores(&base, &variant, "acc", "none").unwrap();
    assert_eq!((a, b.clone()), (vec![0.0, 1.0, 0.0], vec![0.0, 1.0, 1.0]));
    let m = mcnemar_exact(&[0.0, 1.0, 0.0], &b).unwrap();
    assert_eq!((m.baseline_only, m.variant_only, m.p_value), (0, 1, 1.0));
}
