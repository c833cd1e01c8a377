//! Golden parity with Hugging Face transformers (llm.c's test_gpt2 pattern): every family
//! on a tiny random checkpoint, the real SmolLM2-135M and MiniLM; each prints its max diff.

use layer_graph::exec::{Batch, next_token_logprobs};
use tch::{Device, Tensor};

use crate::common::{baseline, fixtures, golden, ids, load, max_abs_diff, models};

/// Every family variant, plus llama as 16 shards and stored in bfloat16 (loaded as f32).
const TINY: [&str; 18] = [
    "llama",
    "llama-sharded",
    "llama-bf16",
    "llama3-rope",
    "qwen2",
    "qwen3",
    "mistral",
    "mistral-window",
    "mixtral",
    "qwen2_moe",
    "gemma2",
    "gemma3",
    "phi3",
    "olmo2",
    "gpt_neox",
    "gpt_neox-sequential",
    "gpt2",
    "bert",
];

/// Max |ours - transformers| over a tiny model's golden sequences, run one at a time and
/// again as one right-padded batch.
fn tiny_max_diff(name: &str) -> (f64, f64) {
    let dir = fixtures().join("tiny").join(name);
    let model = load(&dir);
    let golden = golden(&dir.join("golden.safetensors"));
    let count = golden.len() / 2;
    let seqs: Vec<Vec<i64>> = (0..count)
        .map(|j| ids(&golden[&format!("ids_{j}")]))
        .collect();
    let batched = baseline(&model, &Batch::right_padded(&seqs, Device::Cpu));
    let (mut single_diff, mut batch_diff) = (0f64, 0f64);
    for (j, seq) in seqs.iter().enumerate() {
        let expected = &golden[&format!("out_{j}")];
        let ours = baseline(
            &model,
            &Batch::right_padded(std::slice::from_ref(seq), Device::Cpu),
        )
        .get(0);
        single_diff = single_diff.max(max_abs_diff(&ours, expected));
        let row = batched.get(j as i64).narrow(0, 0, seq.len() as i64);
        batch_diff = batch_diff.max(max_abs_diff(&row, expected));
    }
    (single_diff, batch_diff)
}

#[test]
fn tiny_families_match_transformers() {
    let mut failed = Vec::new();
    for name in TINY {
        let (single, batched) = tiny_max_diff(name);
        println!(
            "{name:>20}: max |logits - transformers| = {single:.2e} (one at a time), {batched:.2e} (padded batch)"
        );
        if single > 1e-4 || batched > 1e-4 {
            failed.push(format!(
                "{name}: max diff {single:.2e} / {batched:.2e} > 1e-4"
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn perturbed_weight_is_caught() {
    let (diff, _) = tiny_max_diff("llama-perturbed");
    println!("llama with one weight nudged by 1e-2: max diff = {diff:.2e}");
    assert!(
        diff > 1e-3,
        "a perturbed weight went unnoticed (max diff {diff:.2e})"
    );
}

#[derive(serde::Deserialize)]
struct Golden {
    text: String,
    ids: Vec<i64>,
    logprobs: Vec<f64>,
}

#[test]
fn smollm2_logprobs_match_transformers() {
    let golden: Vec<Golden> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("smollm2.json")).unwrap())
            .unwrap();
    let model = load(&models().join("smollm2-135m"));
    let seqs: Vec<Vec<i64>> = golden
        .iter()
        .map(|g| model.tokenizer().encode(&g.text).unwrap())
        .collect();
    for (g, seq) in golden.iter().zip(&seqs) {
        assert_eq!(
            seq, &g.ids,
            "tokenizer ids differ from transformers for {:?}",
            g.text
        );
    }
    let batch = Batch::right_padded(&seqs, Device::Cpu);
    let ours = next_token_logprobs(&baseline(&model, &batch), &batch);
    let mut worst = 0f64;
    for (g, lp) in golden.iter().zip(&ours) {
        let diff = g
            .logprobs
            .iter()
            .zip(lp)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let sum_diff = (g.logprobs.iter().sum::<f64>() - lp.iter().sum::<f64>()).abs();
        println!(
            "smollm2 {:>3} tokens: max |logprob diff| = {diff:.2e}, |sum diff| = {sum_diff:.2e}",
            g.ids.len()
        );
        worst = worst.max(diff);
    }
    assert!(
        worst <= 1e-3,
        "SmolLM2 per-token log-probs differ from transformers by {worst:.2e} > 1e-3"
    );
}

#[test]
fn minilm_hidden_states_match_transformers() {
    let golden = golden(&fixtures().join("minilm.safetensors"));
    let model = load(&models().join("minilm-l6"));
    let texts = golden.len() / 2;
    let texts_json: Vec<Golden> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("smollm2.json")).unwrap())
            .unwrap();
    let mut worst = 0f64;
    for j in 0..texts {
        let expected_ids = ids(&golden[&format!("ids_{j}")]);
        let text = &texts_json[j].text; // make_fixtures.py uses the same texts, in order
        assert_eq!(
            model.tokenizer().encode(text).unwrap(),
            expected_ids,
            "MiniLM tokenizer ids differ for {text:?}"
        );
        let batch = Batch::right_padded(std::slice::from_ref(&expected_ids), Device::Cpu);
        let hidden: Tensor = baseline(&model, &batch).get(0);
        worst = worst.max(max_abs_diff(&hidden, &golden[&format!("out_{j}")]));
    }
    println!("minilm: max |last hidden state - transformers| = {worst:.2e} over {texts} texts");
    assert!(
        worst <= 1e-4,
        "MiniLM hidden states differ by {worst:.2e} > 1e-4"
    );
}

#[test]
fn smollm2_runs_in_bf16_and_f16() {
    let golden: Vec<Golden> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("smollm2.json")).unwrap())
            .unwrap();
    for (name, kind) in [("bf16", tch::Kind::BFloat16), ("f16", tch::Kind::Half)] {
        let options = layer_graph::LoadOptions {
            device: Device::Cpu,
            dtype: layer_graph::device::ComputeDtype::Fixed(kind),
        };
        let model = layer_graph::Model::load(&models().join("smollm2-135m"), options).unwrap();
        let seqs: Vec<Vec<i64>> = golden.iter().map(|g| g.ids.clone()).collect();
        let batch = Batch::right_padded(&seqs, Device::Cpu);
        let ours = next_token_logprobs(&baseline(&model, &batch), &batch);
        let mean_diff: f64 = golden
            .iter()
            .zip(&ours)
            .map(|(g, lp)| {
                (g.logprobs.iter().sum::<f64>() - lp.iter().sum::<f64>()).abs() / lp.len() as f64
            })
            .sum::<f64>()
            / golden.len() as f64;
        println!(
            "smollm2 in {name}: mean |per-token logprob diff| vs f32 transformers = {mean_diff:.3}"
        );
        assert!(
            mean_diff < 0.25,
            "{name} drifts {mean_diff:.3} nats per token from f32"
        );
    }
}

#[test]
fn dtype_auto_is_the_checkpoints_own() {
    use layer_graph::device::ComputeDtype;
    use layer_graph::{LoadOptions, Model};
    use tch::Kind;

    let auto = LoadOptions {
        device: Device::Cpu,
        dtype: ComputeDtype::Auto,
    };
    let kind = |dir: &std::path::Path| {
        Model::load(dir, auto)
            .map(|m| m.kind())
            .map_err(|e| e.to_string())
    };
    // config.json's dtype (transformers 5) or torch_dtype (before)
    assert_eq!(kind(&fixtures().join("tiny/llama")), Ok(Kind::Float));
    assert_eq!(
        kind(&fixtures().join("tiny/llama-bf16")),
        Ok(Kind::BFloat16)
    );
    let legacy = crate::common::tiny_with_config("llama", |c| {
        c.remove("dtype");
        c.insert("torch_dtype".into(), serde_json::json!("float16"));
    });
    assert_eq!(kind(legacy.path()), Ok(Kind::Half));
    // neither: the stored weights' dtype
    let unnamed = crate::common::tiny_with_config("llama-bf16", |c| {
        c.remove("dtype");
    });
    assert_eq!(kind(unnamed.path()), Ok(Kind::BFloat16));
    let unsupported = crate::common::tiny_with_config("llama", |c| {
        c.insert("dtype".into(), serde_json::json!("float64"));
    });
    let e = kind(unsupported.path()).unwrap_err();
    assert!(
        e.contains("config.json") && e.contains("`dtype`") && e.contains("float64"),
        "{e}"
    );
}
