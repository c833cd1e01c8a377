//! GSM8K's few-shot exemplars: lm-eval's sampler is `random.Random(1234)` (set by
//! `task.set_fewshot_seed(1234)`) shared by all test docs, drawing `rnd.sample(train, 5)`
//! per doc in test order (the few-shot split `train` is not the test split, so nothing is
//! removed). The indices below are Python's:
//!
//! ```python
//! import random
//! rnd = random.Random(1234)
//! [rnd.sample(range(7473), 5) for _ in range(3)]
//! # [[6374, 3610, 957, 61, 742], [7462, 6610, 4769, 286, 5501], [5677, 687, 806, 6279, 2905]]
//! ```
//! and lm-eval's own contexts for these docs (golden/gsm8k.jsonl) were checked to start
//! with exactly these exemplars.

use eval_suite::{EvalOptions, evaluate};
use serde_json::Value;

use crate::data_dir;
use crate::mock::MockLm;

const PICKS: [[usize; 5]; 3] = [
    [6374, 3610, 957, 61, 742],
    [7462, 6610, 4769, 286, 5501],
    [5677, 687, 806, 6279, 2905],
];

fn jsonl(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn gsm8k_exemplars_are_pythons_sample() {
    let dir = data_dir().join("gsm8k");
    let train = jsonl(&dir.join("train.jsonl"));
    let test = jsonl(&dir.join("test.jsonl"));
    let mut lm = MockLm::recorder();
    let options = EvalOptions {
        limit: Some(3),
        ..EvalOptions::default()
    };
    let result = evaluate("gsm8k", &data_dir(), &mut lm, &options, &mut |_, _| {}).unwrap();
    assert_eq!(result.num_fewshot, 5);
    for (doc, picks) in PICKS.iter().enumerate() {
        let mut expected: String = picks
            .iter()
            .map(|&i| {
                let ex = &train[i];
                format!(
                    "Question: {}\nAnswer: {}\n\n",
                    ex["question"].as_str().unwrap(),
                    ex["answer"].as_str().unwrap()
                )
            })
            .collect();
        expected += &format!(
            "Question: {}\nAnswer:",
            test[doc]["question"].as_str().unwrap()
        );
        assert_eq!(lm.generate_requests[doc].context, expected, "doc {doc}");
    }
}

#[test]
fn limit_does_not_change_earlier_exemplars() {
    // lm-eval draws per doc in order, so the first docs' exemplars do not depend on --limit.
    let run = |limit| {
        let mut lm = MockLm::recorder();
        let options = EvalOptions {
            limit: Some(limit),
            ..EvalOptions::default()
        };
        evaluate("gsm8k", &data_dir(), &mut lm, &options, &mut |_, _| {}).unwrap();
        lm.generate_requests
    };
    let (short, long) = (run(2), run(4));
    assert_eq!(short[..], long[..2]);
}

/// `offset` skips docs after exemplars are drawn: the docs scored are the same docs, with
/// the same contexts and records, as at those places of a run without it (GSM8K's
/// sampler runs through the skipped docs; MMLU skips per subject).
#[test]
fn offset_scores_what_a_longer_run_scores_there() {
    let run = |task: &str, offset: usize, limit: usize| {
        let mut lm = MockLm::recorder();
        let options = EvalOptions {
            offset,
            limit: Some(limit),
            bootstrap_iters: 0,
            ..EvalOptions::default()
        };
        let result = evaluate(task, &data_dir(), &mut lm, &options, &mut |_, _| {}).unwrap();
        (
            serde_json::to_value(&result.items).unwrap(),
            lm.generate_requests,
        )
    };
    let (items, requests) = run("gsm8k", 0, 5);
    let (later, later_requests) = run("gsm8k", 3, 2);
    assert_eq!(
        later.as_array().unwrap()[..],
        items.as_array().unwrap()[3..]
    );
    assert_eq!(later_requests[..], requests[3..]);
    for task in ["arc_easy", "lambada_openai", "mmlu"] {
        let (items, _) = run(task, 0, 4);
        let (later, _) = run(task, 1, 3);
        let items = items.as_array().unwrap();
        let expected: Vec<&Value> = if task == "mmlu" {
            // Four per subject: keep the last three of each.
            items.chunks(4).flat_map(|s| &s[1..]).collect()
        } else {
            items[1..].iter().collect()
        };
        let later: Vec<&Value> = later.as_array().unwrap().iter().collect();
        assert_eq!(later, expected, "{task}");
    }
}
