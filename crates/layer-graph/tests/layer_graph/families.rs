//! Every rotary decoder family under plans: logits of a reordered plan with a repeat and
//! of a parallel group whose members differ in attention type, against a manual loop over
//! transformers' own decoder layers (scripts/make_fixtures.py), one sequence at a time
//! and as a padded batch; and cached generation against recomputation under each plan.

use layer_graph::exec::{Decoding, GenerateOptions, KvMode, generate};
use layer_plan::Plan;

use crate::common::{fixtures, load, plan_golden_diffs, plan_texts, recompute};

/// The fixtures' PLAN_FAMILIES: the tiny decoders with plan goldens.
const PLAN_FAMILIES: [&str; 9] = [
    "llama",
    "qwen3",
    "mistral-window",
    "gemma2",
    "gemma3",
    "phi3",
    "olmo2",
    "mixtral",
    "qwen2_moe",
];

#[test]
fn families_match_transformers_under_plans() {
    let mut failed = Vec::new();
    for name in PLAN_FAMILIES {
        let dir = fixtures().join("tiny").join(name);
        for (text, single, padded) in
            plan_golden_diffs(&dir, "plans.json", "golden_plans.safetensors")
        {
            println!(
                "{name:>15} {text:<10}: max |logits - transformers| = {single:.2e} (one at a time), {padded:.2e} (padded batch)"
            );
            if single > 1e-4 || padded > 1e-4 {
                failed.push(format!(
                    "{name} under {text}: max diff {single:.2e} / {padded:.2e} > 1e-4"
                ));
            }
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn cached_generation_equals_recomputation_in_every_family() {
    // Prompts of 10 and 12 tokens, left-padded together, 8 new tokens: past every sliding
    // window, and all of phi3's positions beyond its longrope threshold (8), where
    // transformers' cache would mix short and long rotations.
    let prompts: Vec<Vec<i64>> = vec![(3..13).collect(), (40..52).collect()];
    let steps = 8;
    let options = GenerateOptions {
        max_tokens: steps,
        until: vec![],
        kv: KvMode::Exact,
        decoding: Decoding::Greedy,
    };
    for name in PLAN_FAMILIES {
        let model = load(&fixtures().join("tiny").join(name));
        let texts = ["0..3".to_string()].into_iter().chain(plan_texts(
            &fixtures().join("tiny").join(name),
            "plans.json",
        ));
        for text in texts {
            let plan = Plan::parse(&text, 3).unwrap();
            let cached = generate(&model, &prompts, &plan, &options).unwrap();
            for (b, prompt) in prompts.iter().enumerate() {
                let full = recompute(&model, prompt, &plan, steps);
                assert_eq!(
                    cached[b].ids,
                    full[..cached[b].ids.len()],
                    "{name} under {text}: cached generation differs from recomputation"
                );
            }
            println!(
                "{name:>15} {text:<10}: cached = recomputed ({} and {} tokens)",
                cached[0].ids.len(),
                cached[1].ids.len()
            );
        }
    }
}
