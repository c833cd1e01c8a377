//! The plan executor on the real SmolLM2-135M: the paper's variants against a manual
//! layer loop over transformers' own layers (scripts/make_fixtures.py), batching, hidden
//! states, and cached generation against full recomputation.

use layer_graph::Model;
use layer_graph::exec::{
    Batch, Decoding, GenerateOptions, KvMode, generate, next_token_logprobs, run_plan,
};
use layer_plan::{Plan, Step, Variant, VariantSpec};
use tch::Device;

use crate::common::{fixtures, load, max_abs_diff, models, recompute};

#[derive(serde::Deserialize)]
struct Record {
    variant: VariantSpec,
    steps: Vec<serde_json::Value>,
    results: Vec<Scored>,
}

#[derive(serde::Deserialize)]
struct Scored {
    text: String,
    ids: Vec<i64>,
    logprobs: Vec<f64>,
}

fn records() -> Vec<Record> {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("smollm2_plans.json")).unwrap())
        .unwrap()
}

fn compile(spec: &VariantSpec, num_layers: usize) -> Plan {
    Variant::try_from(spec.clone())
        .unwrap()
        .compile(num_layers)
        .unwrap()
}

/// A plan as the fixture script writes it: an int per layer, a list per parallel group.
fn steps_json(plan: &Plan) -> Vec<serde_json::Value> {
    plan.steps()
        .iter()
        .map(|step| match step {
            Step::Layer(l) => serde_json::json!(l.0),
            Step::Parallel { layers, .. } => {
                serde_json::json!(layers.iter().map(|l| l.0).collect::<Vec<_>>())
            }
        })
        .collect()
}

fn smollm2() -> Model {
    load(&models().join("smollm2-135m"))
}

#[test]
fn variants_match_a_manual_layer_loop_in_transformers() {
    let model = smollm2();
    let mut worst = 0f64;
    for r in records() {
        let plan = compile(&r.variant, 30);
        assert_eq!(
            steps_json(&plan),
            r.steps,
            "{:?} compiles to {plan}, not the paper's order",
            r.variant
        );
        let seqs: Vec<Vec<i64>> = r
            .results
            .iter()
            .map(|s| model.tokenizer().encode(&s.text).unwrap())
            .collect();
        let batch = Batch::right_padded(&seqs, Device::Cpu);
        let ours = next_token_logprobs(
            &run_plan(&model, &batch, &plan, false).unwrap().output,
            &batch,
        );
        let mut diff = 0f64;
        for (s, lp) in r.results.iter().zip(&ours) {
            assert_eq!(model.tokenizer().encode(&s.text).unwrap(), s.ids);
            diff = s
                .logprobs
                .iter()
                .zip(lp)
                .map(|(a, b)| (a - b).abs())
                .fold(diff, f64::max);
        }
        println!(
            "{:<16} {:<40} max |logprob diff| = {diff:.2e}",
            r.variant.name,
            plan.to_string().chars().take(40).collect::<String>()
        );
        worst = worst.max(diff);
    }
    assert!(
        worst <= 1e-3,
        "plan log-probs differ from transformers by {worst:.2e} > 1e-3"
    );
}

#[test]
fn padded_batches_equal_one_at_a_time() {
    let model = smollm2();
    let texts = [
        "Short one.",
        "A noticeably longer sentence with quite a few more tokens in it.",
        "Middle length text here.",
    ];
    let seqs: Vec<Vec<i64>> = texts
        .iter()
        .map(|t| model.tokenizer().encode(t).unwrap())
        .collect();
    let logprobs = |plan: &Plan, seqs: &[Vec<i64>]| {
        let batch = Batch::right_padded(seqs, Device::Cpu);
        next_token_logprobs(
            &run_plan(&model, &batch, plan, false).unwrap().output,
            &batch,
        )
    };
    for r in records().iter().step_by(2) {
        let plan = compile(&r.variant, 30);
        let together = logprobs(&plan, &seqs);
        let mut diff = 0f64;
        for (seq, batched) in seqs.iter().zip(&together) {
            let alone = logprobs(&plan, std::slice::from_ref(seq)).remove(0);
            diff = alone
                .iter()
                .zip(batched)
                .map(|(a, b)| (a - b).abs())
                .fold(diff, f64::max);
        }
        println!(
            "{:<16} batched vs single: max |logprob diff| = {diff:.2e}",
            r.variant.name
        );
        assert!(
            diff <= 1e-4,
            "{}: batched log-probs differ by {diff:.2e}",
            r.variant.name
        );
    }
}

#[test]
fn hidden_states_follow_every_step() {
    let model = smollm2();
    let plan = Plan::parse("0..11 [11|12|13]x2 14..30", 30).unwrap();
    let seqs = vec![model.tokenizer().encode("Layers as painters").unwrap()];
    let batch = Batch::right_padded(&seqs, Device::Cpu);
    let forward = run_plan(&model, &batch, &plan, true).unwrap();
    assert_eq!(
        forward.hidden.len(),
        plan.steps().len() + 1,
        "embedding plus one residual stream per step"
    );
    let again = tch::no_grad(|| model.stack().head(forward.hidden.last().unwrap())).unwrap();
    assert_eq!(max_abs_diff(&again, &forward.output), 0.0);
}

#[test]
fn plan_for_another_model_size_is_refused() {
    let model = smollm2();
    let plan = Plan::baseline(32).unwrap();
    let batch = Batch::right_padded(&[vec![1, 2, 3]], Device::Cpu);
    let e = run_plan(&model, &batch, &plan, false)
        .err()
        .expect("a 32-layer plan on a 30-layer model must fail")
        .to_string();
    assert!(e.contains("32 layers") && e.contains("30"), "{e}");
}

#[test]
fn cached_generation_equals_recomputation() {
    let model = smollm2();
    let prompts: Vec<Vec<i64>> = [
        "The capital of France is",
        "Question: What is 2 + 3?\nAnswer:",
    ]
    .iter()
    .map(|t| model.tokenizer().encode(t).unwrap())
    .collect();
    let steps = 6;
    let exact = GenerateOptions {
        max_tokens: steps,
        until: vec![],
        kv: KvMode::Exact,
        decoding: Decoding::Greedy,
    };
    let paper = GenerateOptions {
        kv: KvMode::Paper,
        ..exact.clone()
    };
    for r in records() {
        let plan = compile(&r.variant, 30);
        let cached = generate(&model, &prompts, &plan, &exact).unwrap(); // batched, left-padded
        let paper_kv = generate(&model, &prompts, &plan, &paper).unwrap();
        let has_group = plan
            .steps()
            .iter()
            .any(|s| matches!(s, Step::Parallel { .. }));
        for (b, prompt) in prompts.iter().enumerate() {
            let full = recompute(&model, prompt, &plan, steps);
            assert_eq!(
                cached[b].ids,
                full[..cached[b].ids.len()],
                "{}: cached generation differs from recomputation",
                r.variant.name
            );
            if has_group {
                // Paper K/V averaging only changes what later tokens attend to.
                assert_eq!(
                    paper_kv[b].ids[0], full[0],
                    "{}: first token must not depend on the cache",
                    r.variant.name
                );
            } else {
                assert_eq!(
                    paper_kv[b].ids, cached[b].ids,
                    "{}: without parallel groups the KV modes agree",
                    r.variant.name
                );
            }
        }
        println!(
            "{:<16} cached = recomputed: {:?}",
            r.variant.name,
            cached.iter().map(|g| g.text.clone()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn stop_strings_cut_the_continuation() {
    let model = smollm2();
    let prompt = model
        .tokenizer()
        .encode("The capital of France is")
        .unwrap();
    let plan = Plan::baseline(30).unwrap();
    let opts = GenerateOptions {
        max_tokens: 20,
        until: vec![".".into()],
        kv: KvMode::Exact,
        decoding: Decoding::Greedy,
    };
    let g = generate(&model, &[prompt], &plan, &opts).unwrap().remove(0);
    assert_eq!(g.text, " Paris");
    assert!(
        g.ids.len() <= 3,
        "generation went on after the stop string: {:?}",
        g.ids
    );
}
