//! Plans of layer halves (`i.attn`, `i.mlp`) against transformers' own attention and MLP
//! modules (scripts/make_fixtures.py): SmolLM2 with attention or MLP dropped in a band of
//! layers, every layer written as its two halves, halves reordered and repeated; the tiny
//! llama, GPT-NeoX (parallel and sequential residual), GPT-2 and BERT under the same kinds
//! of plans; and cached generation, which keeps no keys for an MLP half.

use layer_graph::exec::{
    Batch, Decoding, GenerateOptions, KvMode, generate, next_token_logprobs, run_plan,
};
use layer_plan::Plan;
use tch::Device;

use crate::common::{
    baseline, fixtures, load, max_abs_diff, models, plan_golden_diffs, plan_texts, recompute,
};

/// The fixtures' HALF_FAMILIES.
const HALF_FAMILIES: [&str; 5] = ["llama", "gpt_neox", "gpt_neox-sequential", "gpt2", "bert"];

#[test]
fn tiny_families_match_transformers_modules_under_halves() {
    let mut failed = Vec::new();
    for name in HALF_FAMILIES {
        let dir = fixtures().join("tiny").join(name);
        for (text, single, padded) in
            plan_golden_diffs(&dir, "halves.json", "golden_halves.safetensors")
        {
            println!(
                "{name:>20} {text:<34}: max |out - transformers' modules| = {single:.2e} (one at a time), {padded:.2e} (padded batch)"
            );
            if single > 1e-4 || padded > 1e-4 {
                failed.push(format!("{name} under {text}: {single:.2e} / {padded:.2e}"));
            }
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn halves_one_after_the_other_are_the_layer_in_sequential_blocks() {
    let halves = Plan::parse("0.attn 0.mlp 1.attn 1.mlp 2.attn 2.mlp", 3).unwrap();
    let seq: Vec<i64> = (3..12).collect();
    let batch = Batch::right_padded(std::slice::from_ref(&seq), Device::Cpu);
    for name in HALF_FAMILIES {
        let model = load(&fixtures().join("tiny").join(name));
        let diff = max_abs_diff(
            &run_plan(&model, &batch, &halves, false).unwrap().output,
            &baseline(&model, &batch),
        );
        println!("{name:>20}: max |halves in order - whole layers| = {diff:.2e}");
        if name == "gpt_neox" {
            // The parallel residual adds attn(ln1 h) and mlp(ln2 h) of the same h.
            assert!(
                diff > 1e-2,
                "{name}: halves equal the parallel block ({diff:.2e})"
            );
        } else {
            assert!(diff <= 1e-5, "{name}: {diff:.2e}");
        }
    }
}

#[derive(serde::Deserialize)]
struct Record {
    plan: String,
    results: Vec<Scored>,
}

#[derive(serde::Deserialize)]
struct Scored {
    ids: Vec<i64>,
    logprobs: Vec<f64>,
}

#[test]
fn smollm2_halves_match_transformers_modules() {
    let records: Vec<Record> = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("smollm2_halves.json")).unwrap(),
    )
    .unwrap();
    let model = load(&models().join("smollm2-135m"));
    let seqs: Vec<Vec<i64>> = records[0].results.iter().map(|r| r.ids.clone()).collect();
    let batch = Batch::right_padded(&seqs, Device::Cpu);
    let logprobs = |plan: &Plan| {
        next_token_logprobs(
            &run_plan(&model, &batch, plan, false).unwrap().output,
            &batch,
        )
    };
    let full = logprobs(&Plan::baseline(30).unwrap());
    let mut worst = 0f64;
    for r in &records {
        let plan = Plan::parse(&r.plan, 30).unwrap();
        let ours = logprobs(&plan);
        let diff = r
            .results
            .iter()
            .zip(&ours)
            .flat_map(|(g, lp)| g.logprobs.iter().zip(lp).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        println!("smollm2 {plan}: max |logprob - transformers' modules| = {diff:.2e}");
        worst = worst.max(diff);
        if r.plan.starts_with("0.attn 0.mlp 1.attn") {
            let same = ours
                .iter()
                .zip(&full)
                .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
                .fold(0.0, f64::max);
            println!("smollm2 every layer as two halves: max |logprob - baseline| = {same:.2e}");
            assert!(
                same <= 1e-5,
                "every layer as halves differs from the baseline by {same:.2e}"
            );
        }
    }
    assert!(worst <= 1e-4, "max diff {worst:.2e} > 1e-4");
}

#[test]
fn cached_generation_with_halves_equals_recomputation() {
    let prompts: Vec<Vec<i64>> = vec![(3..10).collect(), (40..44).collect()];
    let steps = 6;
    for name in ["llama", "gpt_neox", "gpt2"] {
        let dir = fixtures().join("tiny").join(name);
        let model = load(&dir);
        for text in plan_texts(&dir, "halves.json") {
            let plan = Plan::parse(&text, 3).unwrap();
            for kv in [KvMode::Exact, KvMode::Paper] {
                let options = GenerateOptions {
                    max_tokens: steps,
                    until: vec![],
                    kv,
                    decoding: Decoding::Greedy,
                };
                let cached = generate(&model, &prompts, &plan, &options).unwrap();
                let grouped = text.contains('[');
                for (b, prompt) in prompts.iter().enumerate() {
                    let full = recompute(&model, prompt, &plan, steps);
                    // Paper K/V averaging changes what later tokens of a group see.
                    if matches!(kv, KvMode::Exact) || !grouped {
                        assert_eq!(
                            cached[b].ids,
                            full[..cached[b].ids.len()],
                            "{name} under {text} ({kv:?})"
                        );
                    } else {
                        assert_eq!(cached[b].ids[0], full[0], "{name} under {text} ({kv:?})");
                    }
                }
            }
            println!("{name:>10} {text:<34}: cached = recomputed");
        }
    }
}
