//! Every rotary decoder family under plans: logits of a reordered plan with a repeat and
//! of a parallel group whose members differ in attention type, against a manual loop over
//! transformers' own decoder layers (scripts/make_fixtures.py), one sequence at a time
//! and as a padded batch; and cached generation against recomputation under each plan.

use layer_graph::exec::{Batch, Decoding, GenerateOptions, KvMode, generate, run_plan};
use layer_plan::Plan;
use tch::{Device, Kind};

use crate::common::{fixtures, golden, ids, load, max_abs_diff};

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

fn plan_texts(dir: &std::path::Path) -> Vec<String> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("plans.json")).unwrap()).unwrap()
}

#[test]
fn families_match_transformers_under_plans() {
    let mut failed = Vec::new();
    for name in PLAN_FAMILIES {
        let dir = fixtures().join("tiny").join(name);
        let model = load(&dir);
        let inputs = golden(&dir.join("golden.safetensors"));
        let expected = golden(&dir.join("golden_plans.safetensors"));
        let seqs: Vec<Vec<i64>> = (0..inputs.len() / 2)
            .map(|j| ids(&inputs[&format!("ids_{j}")]))
            .collect();
        for (k, text) in plan_texts(&dir).iter().enumerate() {
            let plan = Plan::parse(text, 3).unwrap();
            let run = |batch: &Batch| run_plan(&model, batch, &plan, false).unwrap().output;
            let batched = run(&Batch::right_padded(&seqs, Device::Cpu));
            let (mut single, mut padded) = (0f64, 0f64);
            for (j, seq) in seqs.iter().enumerate() {
                let want = &expected[&format!("out_{k}_{j}")];
                let one = run(&Batch::right_padded(std::slice::from_ref(seq), Device::Cpu));
                single = single.max(max_abs_diff(&one.get(0), want));
                let row = batched.get(j as i64).narrow(0, 0, seq.len() as i64);
                padded = padded.max(max_abs_diff(&row, want));
            }
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

/// Greedy tokens by re-running the whole sequence for every new token (no cache).
fn recompute(model: &layer_graph::Model, prompt: &[i64], plan: &Plan, steps: usize) -> Vec<i64> {
    let mut seq = prompt.to_vec();
    for _ in 0..steps {
        let batch = Batch::right_padded(std::slice::from_ref(&seq), Device::Cpu);
        let out = run_plan(model, &batch, plan, false).unwrap().output;
        let last = out.get(0).get(seq.len() as i64 - 1);
        seq.push(last.argmax(-1, false).to_kind(Kind::Int64).int64_value(&[]));
    }
    seq[prompt.len()..].to_vec()
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
        let texts = ["0..3".to_string()]
            .into_iter()
            .chain(plan_texts(&fixtures().join("tiny").join(name)));
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
