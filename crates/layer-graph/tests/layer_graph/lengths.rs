//! Nothing runs past a learned position table (GPT-2, BERT): such a sequence fails in one
//! line naming the config key, and every shorter one runs. Sliding windows are no limit:
//! each layer attends through its own, read from the config as transformers reads it.

use layer_graph::exec::{Batch, Decoding, GenerateOptions, KvMode, generate, run_plan};
use layer_graph::scoring::{ScoreOptions, ScoreRequest, score};
use layer_graph::{LengthLimit, Model};
use layer_plan::Plan;
use serde_json::json;
use tch::Device;

use crate::common::{fixtures, load, tiny_with_config};

fn baseline(model: &Model) -> Plan {
    Plan::baseline(model.stack().num_layers()).unwrap()
}

/// The error of running one sequence of `tokens` tokens, or None if it runs.
fn run_error(model: &Model, tokens: usize) -> Option<String> {
    let batch = Batch::right_padded(&[vec![5; tokens]], Device::Cpu);
    run_plan(model, &batch, &baseline(model), false)
        .err()
        .map(|e| e.to_string())
}

fn score_error(model: &Model, context: usize, continuation: usize) -> Option<String> {
    let reqs = [ScoreRequest {
        context: vec![5; context],
        continuation: vec![6; continuation],
    }];
    score(
        model,
        &baseline(model),
        &reqs,
        &mut ScoreOptions::new(4),
        &mut |_| {},
    )
    .err()
    .map(|e| e.to_string())
}

fn generate_error(model: &Model, prompt: usize, max_tokens: usize) -> Option<String> {
    let opts = GenerateOptions {
        max_tokens,
        until: Vec::new(),
        kv: KvMode::Exact,
        decoding: Decoding::Greedy,
    };
    generate(model, &[vec![5; prompt]], &baseline(model), &opts)
        .err()
        .map(|e| e.to_string())
}

fn limit(model: &Model) -> Option<usize> {
    model.stack().length_limit().map(|l: &LengthLimit| l.tokens)
}

#[test]
fn position_tables_end_where_config_says() {
    let gpt2 = load(&fixtures().join("tiny/gpt2"));
    assert_eq!(run_error(&gpt2, 64), None);
    let e = run_error(&gpt2, 65).expect("65 tokens past GPT-2's 64 positions ran");
    println!("gpt2: {e}");
    assert!(
        e.contains("65 tokens") && e.contains("n_positions = 64"),
        "{e}"
    );
    // Generation: the prompt plus every token that may be generated must fit.
    assert_eq!(generate_error(&gpt2, 59, 5), None);
    let e = generate_error(&gpt2, 60, 5).expect("generation past GPT-2's 64 positions ran");
    println!("gpt2: {e}");
    assert!(
        e.contains("prompt 0 (60 tokens) plus up to 5 new tokens is 65 tokens")
            && e.contains("n_positions"),
        "{e}"
    );
    // Scoring cuts a long pair to the model's length, as lm-eval does.
    assert_eq!(score_error(&gpt2, 80, 2), None);

    let bert = load(&fixtures().join("tiny/bert"));
    assert_eq!(run_error(&bert, 64), None);
    let e = run_error(&bert, 65).expect("65 tokens past BERT's 64 positions ran");
    assert!(e.contains("max_position_embeddings = 64"), "{e}");
}

#[test]
fn sliding_windows_are_no_length_limit() {
    let dir = tiny_with_config("mistral", |c| {
        c.insert("sliding_window".into(), json!(4));
    });
    let model = load(dir.path());
    assert_eq!(limit(&model), None);
    assert_eq!(run_error(&model, 40), None);
    assert_eq!(score_error(&model, 30, 5), None);
    assert_eq!(generate_error(&model, 20, 5), None);
}

/// Each layer's sliding window, None where it attends to everything.
fn windows(dir: &std::path::Path) -> Vec<Option<i64>> {
    let model = load(dir);
    let stack = model.stack();
    (0..stack.num_layers())
        .map(|i| stack.attention_window(i))
        .collect()
}

#[test]
fn sliding_windows_follow_transformers_config_defaults() {
    // Mistral: 4096 when the key is absent, none when it is null (the fixture's).
    assert_eq!(windows(&fixtures().join("tiny/mistral")), [None; 3]);
    let absent = tiny_with_config("mistral", |c| {
        c.remove("sliding_window");
    });
    assert_eq!(windows(absent.path()), [Some(4096); 3]);
    // Qwen2: only with use_sliding_window, and only in layers from max_window_layers on
    // (unless layer_types lists them); the tiny model has 3 layers.
    let qwen2 = |settings: serde_json::Value| {
        let dir = tiny_with_config("qwen2", |c| {
            c.remove("layer_types");
            c.remove("max_window_layers");
            c.insert("sliding_window".into(), json!(4));
            c.extend(settings.as_object().unwrap().clone());
        });
        windows(dir.path())
    };
    assert_eq!(
        qwen2(json!({"use_sliding_window": false, "max_window_layers": 0})),
        [None; 3]
    );
    assert_eq!(
        qwen2(json!({"use_sliding_window": true, "max_window_layers": 2})),
        [None, None, Some(4)]
    );
    assert_eq!(
        qwen2(json!({"use_sliding_window": true, "max_window_layers": 3})),
        [None; 3]
    );
    assert_eq!(
        qwen2(json!({"use_sliding_window": true})),
        [None; 3],
        "max_window_layers defaults to 28"
    );
    let listed = json!({"use_sliding_window": true, "max_window_layers": 3, "layer_types": ["sliding_attention", "full_attention", "sliding_attention"]});
    assert_eq!(qwen2(listed), [Some(4), None, Some(4)]);
    assert_eq!(windows(&fixtures().join("tiny/llama")), [None; 3]);
    // Gemma-2 and Gemma-3: layer_types as written (the fixtures: layers 0 and 2 slide),
    // else transformers' defaults: Gemma-2 every other layer, Gemma-3 all but every 6th.
    assert_eq!(
        windows(&fixtures().join("tiny/gemma2")),
        [Some(4), None, Some(4)]
    );
    let gemma3 = |settings: serde_json::Value| {
        let dir = tiny_with_config("gemma3", |c| {
            c.remove("layer_types");
            c.extend(settings.as_object().unwrap().clone());
        });
        windows(dir.path())
    };
    assert_eq!(gemma3(json!({})), [Some(4); 3]);
    assert_eq!(
        gemma3(json!({"sliding_window_pattern": 2})),
        [Some(4), None, Some(4)]
    );
}
