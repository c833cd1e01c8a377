//! Every decoder family end to end: a paper variant through `painters eval` on each tiny
//! random checkpoint, on two multiple-choice tasks and LAMBADA (GSM8K's 256 new tokens do
//! not fit the tiny models' 64 positions). Random weights give no meaningful accuracy;
//! what is checked is that every item is scored with finite log-likelihoods, under a plan
//! that reorders the layers.

mod common;

use common::{data_dir, fixture, painters_ok};

/// The tiny decoders of the fixtures, one per family variant.
const DECODERS: [&str; 15] = [
    "llama",
    "llama3-rope",
    "mistral",
    "mistral-window",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "gemma2",
    "gemma3",
    "phi3",
    "olmo2",
    "gpt_neox",
    "gpt_neox-sequential",
    "gpt2",
];

#[test]
fn a_paper_variant_runs_through_eval_in_every_family() {
    let data = data_dir();
    let limit = 4;
    for name in DECODERS {
        let out = tempfile::tempdir().unwrap();
        let model = fixture("tiny").join(name);
        painters_ok(&[
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--tasks",
            "arc_easy,lambada_openai,piqa",
            "--limit",
            &limit.to_string(),
            "--variant",
            "reverse",
            "--start-layer",
            "0",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ]);
        let records = |task: &str| -> Vec<serde_json::Value> {
            std::fs::read_to_string(out.path().join(format!("{task}.jsonl")))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let (arc, lambada, piqa) = (
            records("arc_easy"),
            records("lambada_openai"),
            records("piqa"),
        );
        assert_eq!(
            (arc.len(), lambada.len(), piqa.len()),
            (limit, limit, limit),
            "{name}"
        );
        for r in arc.iter().chain(&piqa) {
            let lls = r["loglikelihoods"].as_array().unwrap();
            assert!(
                lls.iter().all(|l| l.as_f64().is_some_and(f64::is_finite)),
                "{name}: {r}"
            );
        }
        assert!(
            lambada
                .iter()
                .all(|r| r["loglikelihood"].as_f64().is_some_and(f64::is_finite)),
            "{name}"
        );
        println!(
            "{name:>20}: reverse from layer 0 (plan 0 2 1): {limit} ARC-Easy, PIQA and LAMBADA items scored"
        );
    }
}
