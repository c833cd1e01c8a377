//! The backend's requests and answers against lm-evaluation-harness 0.4.13's own Hugging
//! Face backend (HFLM) on tiny checkpoints (tests/fixtures/tiny/*/lm_eval.json, written
//! by scripts/make_fixtures.py): the token ids of every log-likelihood pair, rolling
//! window and generation prompt, the scores and the generated texts.
//! - llama-bos: a tokenizer that adds a BOS, as Llama-2's does; `add_bos = "tokenizer"`
//!   must match lm-eval's default and `"never"` lm-eval with `add_bos_token=False`;
//! - gpt2-eos: GPT-2 with 64 positions; prompts and pairs longer than it are truncated as
//!   lm-eval truncates them, and nothing runs past its position table.

use eval_suite::{GenerateRequest, LanguageModel, LoglikelihoodRequest, Sampling};
use layer_graph::exec::KvMode;
use layer_graph::scoring::{ScoreOptions, ScoreRequest};
use layer_graph::{LoadOptions, Model};
use layer_plan::Plan;
use painters::backend::{AddBos, PlanBackend};
use serde::Deserialize;

mod common;
use common::fixture;

#[derive(Deserialize)]
struct Answers {
    max_length: usize,
    loglikelihood: Vec<Loglikelihood>,
    rolling: Vec<Rolling>,
    generate: Vec<Generate>,
}

#[derive(Deserialize)]
struct Loglikelihood {
    context: String,
    continuation: String,
    context_ids: Vec<i64>,
    continuation_ids: Vec<i64>,
    logprob: f64,
    is_greedy: bool,
}

#[derive(Deserialize)]
struct Rolling {
    text: String,
    windows: Vec<(Vec<i64>, Vec<i64>)>,
    logprob: f64,
}

#[derive(Deserialize)]
struct Generate {
    context: String,
    until: Vec<String>,
    max_gen_toks: usize,
    prompt_ids: Vec<i64>,
    text: String,
}

fn pair(r: &ScoreRequest) -> (Vec<i64>, Vec<i64>) {
    (r.context.clone(), r.continuation.clone())
}

/// Checks the backend under `add_bos` against lm-eval's `answers` on tiny checkpoint `name`.
fn check(name: &str, add_bos: AddBos, mode: &str) {
    let dir = fixture("tiny").join(name);
    let all: std::collections::HashMap<String, Answers> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("lm_eval.json")).unwrap()).unwrap();
    let theirs = &all[mode];
    let model = Model::load(&dir, LoadOptions::default()).unwrap();
    assert_eq!(model.max_length(), theirs.max_length);
    let mut backend = PlanBackend {
        model: &model,
        plan: Plan::baseline(model.stack().num_layers()).unwrap(),
        scoring: ScoreOptions::new(4),
        kv: KvMode::Exact,
        add_bos,
        followers: Vec::new(),
        progress: indicatif::ProgressBar::hidden(),
    };
    let at = format!("{name}, add_bos {mode}");

    let reqs: Vec<LoglikelihoodRequest> = theirs
        .loglikelihood
        .iter()
        .map(|r| LoglikelihoodRequest {
            context: r.context.clone(),
            continuation: r.continuation.clone(),
        })
        .collect();
    for (ours, r) in backend
        .loglikelihood_requests(&reqs)
        .unwrap()
        .iter()
        .zip(&theirs.loglikelihood)
    {
        assert_eq!(
            pair(ours),
            (r.context_ids.clone(), r.continuation_ids.clone()),
            "{at}: ids of ({:?}, {:?})",
            r.context,
            r.continuation
        );
    }
    let mut worst = 0f64;
    for (ours, r) in backend
        .loglikelihood(&reqs)
        .unwrap()
        .iter()
        .zip(&theirs.loglikelihood)
    {
        worst = worst.max((ours.0 - r.logprob).abs());
        assert_eq!(
            ours.1, r.is_greedy,
            "{at}: is_greedy of ({:?}, {:?})",
            r.context, r.continuation
        );
    }
    println!(
        "{at}: {} log-likelihoods, max |diff| = {worst:.2e}",
        reqs.len()
    );
    assert!(
        worst <= 1e-4,
        "{at}: log-likelihoods differ from lm-eval's by {worst:.2e}"
    );

    let texts: Vec<String> = theirs.rolling.iter().map(|r| r.text.clone()).collect();
    let windows = backend.rolling_requests(&texts).unwrap();
    for (i, r) in theirs.rolling.iter().enumerate() {
        let ours: Vec<_> = windows
            .iter()
            .filter(|(owner, _)| *owner == i)
            .map(|(_, w)| pair(w))
            .collect();
        assert_eq!(ours, r.windows, "{at}: rolling windows of text {i}");
    }
    let mut worst = 0f64;
    for (ours, r) in backend
        .loglikelihood_rolling(&texts)
        .unwrap()
        .iter()
        .zip(&theirs.rolling)
    {
        worst = worst.max((ours - r.logprob).abs());
    }
    println!(
        "{at}: {} rolling log-likelihoods, max |diff| = {worst:.2e}",
        texts.len()
    );
    assert!(
        worst <= 1e-3,
        "{at}: rolling log-likelihoods differ from lm-eval's by {worst:.2e}"
    );

    let reqs: Vec<GenerateRequest> = theirs
        .generate
        .iter()
        .map(|r| GenerateRequest {
            context: r.context.clone(),
            until: r.until.clone(),
            max_tokens: r.max_gen_toks,
            sampling: None,
        })
        .collect();
    for (ours, r) in backend
        .generation_prompts(&reqs)
        .unwrap()
        .iter()
        .zip(&theirs.generate)
    {
        assert_eq!(ours, &r.prompt_ids, "{at}: prompt ids of {:?}", r.context);
    }
    for (ours, r) in backend
        .generate_until(&reqs)
        .unwrap()
        .iter()
        .zip(&theirs.generate)
    {
        assert_eq!(ours, &r.text, "{at}: generation from {:?}", r.context);
    }
    println!("{at}: {} generations identical", reqs.len());
}

#[test]
fn a_tokenizer_that_adds_bos_is_encoded_as_lm_eval_encodes() {
    check("llama-bos", AddBos::Tokenizer, "tokenizer");
}

#[test]
fn add_bos_never_is_lm_eval_without_special_tokens() {
    check("llama-bos", AddBos::Never, "never");
}

#[test]
fn long_prompts_and_pairs_are_truncated_as_lm_eval_truncates() {
    check("gpt2-eos", AddBos::Tokenizer, "tokenizer");
    check("gpt2-eos", AddBos::Never, "never");
}

#[test]
fn generation_leaves_room_for_its_tokens() {
    let model = Model::load(&fixture("tiny/gpt2-eos"), LoadOptions::default()).unwrap();
    let backend = PlanBackend {
        model: &model,
        plan: Plan::baseline(model.stack().num_layers()).unwrap(),
        scoring: ScoreOptions::new(1),
        kv: KvMode::Exact,
        add_bos: AddBos::Tokenizer,
        followers: Vec::new(),
        progress: indicatif::ProgressBar::hidden(),
    };
    let req = GenerateRequest {
        context: "w5 w6".into(),
        until: Vec::new(),
        max_tokens: 64,
        sampling: None,
    };
    let e = backend.generation_prompts(&[req]).unwrap_err().to_string();
    assert!(
        e.contains("64 new tokens") && e.contains("maximum length 64"),
        "{e}"
    );
}

/// A sampled generation depends on its request alone: the same text whether it runs by
/// itself or in a batch beside others (batch size 1 or 4), another seed draws another
/// text, and a top_k of 1 is greedy decoding.
#[test]
fn sampled_generations_depend_on_their_seed_only() {
    let model = Model::load(&fixture("tiny/gpt2-eos"), LoadOptions::default()).unwrap();
    let backend = |batch_size: usize| PlanBackend {
        model: &model,
        plan: Plan::baseline(model.stack().num_layers()).unwrap(),
        scoring: ScoreOptions::new(batch_size),
        kv: KvMode::Exact,
        add_bos: AddBos::Tokenizer,
        followers: Vec::new(),
        progress: indicatif::ProgressBar::hidden(),
    };
    let request = |context: &str, sampling: Option<Sampling>| GenerateRequest {
        context: context.into(),
        until: Vec::new(),
        max_tokens: 12,
        sampling,
    };
    let sampled = |seed: u64, top_k: usize| {
        Some(Sampling {
            temperature: 1.5,
            top_k,
            top_p: 1.0,
            seed,
        })
    };
    let alone = backend(1)
        .generate_until(&[request("w5 w6", sampled(7, 0))])
        .unwrap();
    let reqs: Vec<GenerateRequest> = (0..6)
        .map(|seed| {
            request(
                if seed % 2 == 0 { "w1 w2 w3" } else { "w5 w6" },
                sampled(seed, 0),
            )
        })
        .chain([request("w5 w6", sampled(7, 0))])
        .collect();
    for batch_size in [1, 4] {
        let texts = backend(batch_size).generate_until(&reqs).unwrap();
        assert_eq!(texts[6], alone[0], "batch size {batch_size}");
        let distinct: std::collections::BTreeSet<&String> = texts.iter().collect();
        assert!(distinct.len() >= 5, "seeds draw different texts: {texts:?}");
    }
    let greedy = backend(1)
        .generate_until(&[request("w5 w6", None)])
        .unwrap();
    let top1 = backend(1)
        .generate_until(&[request("w5 w6", sampled(3, 1))])
        .unwrap();
    assert_eq!(top1, greedy);
}
