//! Scoring on the real SmolLM2-135M: requests packed with a shared context, and a grid of
//! plans run as one trie, both against plain one-request-per-row, one-plan-at-a-time
//! scoring; plans far longer than a thread's stack could recurse over, and a libtorch
//! failure as an error, on a tiny model.

use layer_graph::exec::{Batch, next_token_logprobs, run_plan};
use layer_graph::scoring::{Score, ScoreOptions, ScoreRequest, score, score_plans};
use layer_plan::Plan;

use crate::common::{fixtures, load, models};

/// Multiple-choice-like requests: contexts with several continuations of different
/// lengths (some one token long), and contexts asked once.
fn requests(model: &layer_graph::Model) -> Vec<ScoreRequest> {
    let enc = |s: &str| model.tokenizer().encode_plain(s).unwrap();
    let items: [(&str, &[&str]); 5] = [
        (
            "Question: What do cows drink?\nAnswer:",
            &[
                " milk",
                " water from a trough in the field",
                " tea",
                " nothing at all, they are plants",
            ],
        ),
        (
            "The capital of France is",
            &[" Paris", " a city on the Seine", " Berlin"],
        ),
        (
            "A man is sitting on a roof. He",
            &[
                " is using wrap to wrap a pair of skis.",
                " starts pulling up roofing on a roof.",
                " is ripping level tiles off.",
                " holds a rubik's cube.",
            ],
        ),
        (
            "Passage: Water boils at 100 degrees.\nQuestion: does water boil at 100 degrees?\nAnswer:",
            &[" no", " yes"],
        ),
        (
            "Once upon a time",
            &[" there was a princess who lived in a tall tower"],
        ),
    ];
    let mut reqs = Vec::new();
    for (context, continuations) in items {
        for c in continuations {
            reqs.push(ScoreRequest {
                context: enc(context),
                continuation: enc(c),
            });
        }
    }
    reqs
}

fn max_diff(a: &[Score], b: &[Score]) -> f64 {
    assert_eq!(
        a.iter().map(|s| s.is_greedy).collect::<Vec<_>>(),
        b.iter().map(|s| s.is_greedy).collect::<Vec<_>>()
    );
    a.iter()
        .zip(b)
        .map(|(x, y)| (x.logprob - y.logprob).abs())
        .fold(0.0, f64::max)
}

#[test]
fn shared_context_rows_score_as_separate_rows() {
    let model = load(&models().join("smollm2-135m"));
    let reqs = requests(&model);
    let baseline = Plan::baseline(30).unwrap();
    let unshared = ScoreOptions {
        share_contexts: false,
        ..ScoreOptions::new(4)
    };
    let alone = score(&model, &baseline, &reqs, &mut unshared.clone(), &mut |_| {}).unwrap();
    for batch_size in [1, 3, 16] {
        let shared = score(
            &model,
            &baseline,
            &reqs,
            &mut ScoreOptions::new(batch_size),
            &mut |_| {},
        )
        .unwrap();
        let diff = max_diff(&alone, &shared);
        println!(
            "shared contexts, batch {batch_size}: max |logprob diff| {diff:.2e} over {} requests",
            reqs.len()
        );
        assert!(diff < 1e-4, "shared-context scoring drifts by {diff}");
    }
}

#[test]
fn a_grid_as_one_trie_scores_as_each_plan_alone() {
    let model = load(&models().join("smollm2-135m"));
    let reqs = requests(&model);
    let texts = [
        "0..30",
        "0..10 14..30",                 // skip
        "0..10 13 12 11 10 14..30",     // reverse
        "0..10 [10|11|12|13] 14..30",   // parallel
        "0..10 [10|11|12|13]x2 14..30", // looped, K = 2
        "0..10 [10|11|12|13]x3 14..30", // looped, K = 3
        "0..12 12 12 12 12 14..30",     // repeat-middle
    ];
    let plans: Vec<Plan> = texts.iter().map(|t| Plan::parse(t, 30).unwrap()).collect();
    let options = ScoreOptions::new(8);
    let alone: Vec<Vec<Score>> = plans
        .iter()
        .map(|plan| score(&model, plan, &reqs, &mut options.clone(), &mut |_| {}).unwrap())
        .collect();
    for max_kept in [1, 16] {
        let together = score_plans(
            &model,
            &plans,
            &reqs,
            &mut ScoreOptions {
                max_kept,
                ..options
            },
            &mut |_| {},
        )
        .unwrap();
        for ((plan, scores), alone) in plans.iter().zip(&together).zip(&alone) {
            let diff = max_diff(alone, scores);
            println!(
                "trie (kept <= {max_kept}) vs alone, plan {plan}: max |logprob diff| {diff:.2e}"
            );
            assert!(diff < 1e-4, "plan {plan} drifts by {diff} in the trie");
        }
    }
}

#[test]
fn bad_requests_are_refused_with_their_index() {
    let model = load(&models().join("smollm2-135m"));
    let plan = Plan::baseline(30).unwrap();
    let reqs = [
        ScoreRequest {
            context: vec![1, 2],
            continuation: vec![3],
        },
        ScoreRequest {
            context: vec![1],
            continuation: vec![],
        },
    ];
    let e = score(&model, &plan, &reqs, &mut ScoreOptions::new(2), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("scoring request 1: continuation has 0 tokens"),
        "{e}"
    );
}

#[test]
fn plans_deeper_than_a_small_stack_could_recurse_score_as_the_plain_forward_pass() {
    // 2000 steps on a 256 KiB stack: a walk recursing once per step would overflow it.
    let run = || {
        let model = load(&fixtures().join("tiny/llama"));
        let plans: Vec<Plan> = ["0 1x2000 2", "0 1x1000 2"]
            .iter()
            .map(|t| Plan::parse(t, 3).unwrap())
            .collect();
        let request = ScoreRequest {
            context: vec![1, 5, 9],
            continuation: vec![7, 4],
        };
        let scores = score_plans(
            &model,
            &plans,
            std::slice::from_ref(&request),
            &mut ScoreOptions::new(1),
            &mut |_| {},
        )
        .unwrap();
        let tokens: Vec<i64> = request
            .context
            .iter()
            .chain(&request.continuation)
            .copied()
            .collect();
        let batch = Batch::right_padded(std::slice::from_ref(&tokens), model.device());
        for (plan, scores) in plans.iter().zip(&scores) {
            let logprobs = next_token_logprobs(
                &run_plan(&model, &batch, plan, false).unwrap().output,
                &batch,
            )
            .remove(0);
            let expected: f64 = logprobs[request.context.len() - 1..].iter().sum();
            let diff = (scores[0].logprob - expected).abs();
            println!(
                "{} steps: logprob {:.4}, plain forward {expected:.4}",
                plan.steps().len(),
                scores[0].logprob
            );
            assert!(
                diff < 1e-3 * expected.abs().max(1.0),
                "{} steps: {} vs {expected}",
                plan.steps().len(),
                scores[0].logprob
            );
        }
    };
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_libtorch_failure_is_an_error_naming_where_it_happened() {
    use layer_graph::exec::{Decoding, GenerateOptions, KvMode, generate};
    let model = load(&fixtures().join("tiny/llama"));
    let plan = Plan::baseline(3).unwrap();
    let outside = model.stack().vocab_size(); // no such token
    let reqs = [ScoreRequest {
        context: vec![1, outside],
        continuation: vec![3],
    }];
    let e = score(&model, &plan, &reqs, &mut ScoreOptions::new(1), &mut |_| {})
        .unwrap_err()
        .to_string();
    println!("scoring: {e}");
    assert!(
        e.starts_with("libtorch failed in the embedding: index out of range"),
        "{e}"
    );
    let opts = GenerateOptions {
        max_tokens: 2,
        until: Vec::new(),
        kv: KvMode::Exact,
        decoding: Decoding::Greedy,
    };
    let e = generate(&model, &[vec![1, outside]], &plan, &opts)
        .unwrap_err()
        .to_string();
    println!("generation: {e}");
    assert!(
        e.starts_with("libtorch failed in the embedding: index out of range"),
        "{e}"
    );
}
