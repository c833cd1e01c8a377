//! Golden prompts: the first two docs of every task on the real data files must produce
//! exactly the requests lm-eval 0.4.13 builds. The expected strings in `golden/*.jsonl`
//! were produced by lm-eval's own task code:
//! `python reference_prompts.py "$PAINTERS_DATA" golden 2 1` (see that script).

use eval_suite::{EvalOptions, evaluate};
use serde_json::Value;

use crate::data_dir;
use crate::mock::MockLm;

/// Assert that `lm` was sent exactly the requests in `expected` (reference_prompts.py's
/// JSONL), doc by doc.
pub fn assert_requests(label: &str, expected: &str, lm: &MockLm) {
    let docs: Vec<Value> = expected
        .lines()
        .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
        .collect();
    if docs.first().is_some_and(|d| d.get("until").is_some()) {
        assert_eq!(
            lm.generate_requests.len(),
            docs.len(),
            "{label}: request count"
        );
        for (doc, got) in docs.iter().zip(&lm.generate_requests) {
            assert_eq!(
                got.context,
                doc["context"].as_str().unwrap(),
                "{label}: doc {}",
                doc["doc_id"]
            );
            let until: Vec<&str> = doc["until"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap())
                .collect();
            assert_eq!(got.until, until, "{label}: until");
            // lm-eval's HF backend default unless the task sets one.
            let max_gen_toks = doc
                .get("max_gen_toks")
                .and_then(Value::as_u64)
                .unwrap_or(256);
            assert_eq!(got.max_tokens as u64, max_gen_toks, "{label}: max_gen_toks");
        }
        return;
    }
    if docs
        .first()
        .is_some_and(|d| d["requests"][0].as_array().is_some_and(|r| r.len() == 1))
    {
        // loglikelihood_rolling: one whole text per doc.
        let texts: Vec<&str> = docs
            .iter()
            .map(|d| d["requests"][0][0].as_str().unwrap())
            .collect();
        assert_eq!(lm.rolling_requests, texts, "{label}: rolling texts");
        return;
    }
    let expected: Vec<(&Value, &Value)> = docs
        .iter()
        .flat_map(|d| {
            d["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |r| (&d["doc_id"], r))
        })
        .collect();
    assert_eq!(
        lm.loglikelihood_requests.len(),
        expected.len(),
        "{label}: request count"
    );
    for ((doc_id, want), got) in expected.iter().zip(&lm.loglikelihood_requests) {
        assert_eq!(
            got.context,
            want[0].as_str().unwrap(),
            "{label}: doc {doc_id} context"
        );
        assert_eq!(
            got.continuation,
            want[1].as_str().unwrap(),
            "{label}: doc {doc_id} continuation"
        );
    }
}

fn check(task: &str, num_fewshot: Option<usize>, fixture: &str) {
    let mut lm = MockLm::recorder();
    let options = EvalOptions {
        num_fewshot,
        limit: Some(2),
        ..EvalOptions::default()
    };
    let result = evaluate(task, &data_dir(), &mut lm, &options, &mut |_, _| {}).unwrap();
    assert_eq!(result.n, 2);
    assert_requests(task, fixture, &lm);
}

#[test]
fn arc_challenge() {
    check(
        "arc_challenge",
        None,
        include_str!("golden/arc_challenge.jsonl"),
    );
}

#[test]
fn arc_easy() {
    check("arc_easy", None, include_str!("golden/arc_easy.jsonl"));
}

#[test]
fn hellaswag() {
    check("hellaswag", None, include_str!("golden/hellaswag.jsonl"));
}

#[test]
fn winogrande() {
    check("winogrande", None, include_str!("golden/winogrande.jsonl"));
}

#[test]
fn piqa() {
    check("piqa", None, include_str!("golden/piqa.jsonl"));
}

#[test]
fn lambada_openai() {
    check(
        "lambada_openai",
        None,
        include_str!("golden/lambada_openai.jsonl"),
    );
}

#[test]
fn gsm8k() {
    check("gsm8k", None, include_str!("golden/gsm8k.jsonl"));
}

#[test]
fn boolq() {
    check("boolq", None, include_str!("golden/boolq.jsonl"));
}

#[test]
fn openbookqa() {
    check("openbookqa", None, include_str!("golden/openbookqa.jsonl"));
}

#[test]
fn mmlu_zero_shot() {
    check(
        "mmlu_abstract_algebra",
        Some(0),
        include_str!("golden/mmlu.jsonl"),
    );
}

#[test]
fn mmlu_five_shot() {
    check(
        "mmlu_abstract_algebra",
        Some(5),
        include_str!("golden/mmlu_5shot.jsonl"),
    );
}

#[test]
fn first_arc_item_spelled_out() {
    // The first line of golden/arc_easy.jsonl, for the reader.
    let mut lm = MockLm::recorder();
    let options = EvalOptions {
        limit: Some(1),
        ..EvalOptions::default()
    };
    evaluate("arc_easy", &data_dir(), &mut lm, &options, &mut |_, _| {}).unwrap();
    let r = &lm.loglikelihood_requests[0];
    assert_eq!(
        r.context,
        "Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:"
    );
    assert_eq!(
        r.continuation,
        " Sunlight is the source of energy for nearly all ecosystems."
    );
}
