//! `painters lens` on the real SmolLM2: the logit lens against transformers' own hidden
//! states (scripts/make_fixtures.py), and the lens after step k against the plan of the
//! first k steps run as a model of its own, under the baseline and under a paper variant.

mod common;

use common::{fixture, painters, painters_ok, workspace};
use serde_json::Value;

fn lens(args: &[&str]) -> Value {
    let model = workspace().join("models/smollm2-135m");
    let texts = fixture("importance_texts.jsonl");
    let mut all = vec![
        "lens",
        "--model",
        model.to_str().unwrap(),
        "--texts",
        texts.to_str().unwrap(),
        "--json",
    ];
    all.extend_from_slice(args);
    serde_json::from_slice(&painters_ok(&all).stdout).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn smollm2_lens_matches_transformers_hidden_states() {
    let ours = lens(&[]);
    let theirs: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("lens.json")).unwrap()).unwrap();
    assert_eq!(ours["steps"], 30);
    assert_eq!(ours["tokens"], theirs["tokens"]);
    let tokens = theirs["tokens"].as_f64().unwrap();
    for (metric, bound) in [
        ("nll", 1e-3),
        ("kl", 1e-3),
        ("entropy", 1e-3),
        ("top1", 1.5 / tokens),
    ] {
        let (a, b) = (numbers(&ours[metric]), numbers(&theirs[metric]));
        assert_eq!(a.len(), 30, "{metric}");
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        println!(
            "lens {metric:>7}: max |painters - transformers| = {diff:.2e} over 30 layers (bound {bound:.1e})"
        );
        assert!(diff <= bound, "{metric}: {diff:.2e}");
    }
    // The last step is the model itself.
    assert_eq!(numbers(&ours["kl"])[29], 0.0);
    assert_eq!(numbers(&ours["top1"])[29], 1.0);
}

/// Total NLL of the fixture texts under `plan`, each text on its own (`painters logprobs`).
fn nll_of(plan: &str) -> f64 {
    let model = workspace().join("models/smollm2-135m");
    let texts = std::fs::read_to_string(fixture("importance_texts.jsonl")).unwrap();
    texts
        .lines()
        .map(|line| {
            let text: Value = serde_json::from_str(line).unwrap();
            let out = painters_ok(&[
                "logprobs",
                "--model",
                model.to_str().unwrap(),
                "--text",
                text["text"].as_str().unwrap(),
                "--plan",
                plan,
                "--json",
            ]);
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            -v["sum"].as_f64().unwrap()
        })
        .sum()
}

#[test]
fn lens_after_step_k_is_the_plan_of_the_first_k_steps() {
    for variant in [vec![], vec!["--variant", "reverse", "--start-layer", "10"]] {
        let ours = lens(&variant);
        let (plan, nll, tokens) = (
            ours["plan"].as_str().unwrap().to_string(),
            numbers(&ours["nll"]),
            ours["tokens"].as_f64().unwrap(),
        );
        let steps: Vec<String> = ours["step_text"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        for k in [1, 12, 20, 29] {
            let prefix = steps[..k].join(" ");
            let expected = nll_of(&prefix) / tokens;
            let diff = (nll[k - 1] - expected).abs();
            println!(
                "{plan}: lens after step {k} vs `--plan \"{prefix}\"`: |mean NLL diff| = {diff:.2e}"
            );
            assert!(
                diff <= 1e-9,
                "{plan}, step {k}: {} vs {expected}",
                nll[k - 1]
            );
        }
    }
}

#[test]
fn bad_input_is_one_line() {
    let minilm = workspace().join("models/minilm-l6");
    let texts = fixture("importance_texts.jsonl");
    let out = painters(&[
        "lens",
        "--model",
        minilm.to_str().unwrap(),
        "--texts",
        texts.to_str().unwrap(),
    ]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        e.trim().lines().count() == 1 && e.contains("not a causal language model"),
        "{e}"
    );
}

#[test]
fn task_lens_after_step_k_is_painters_eval_of_the_first_k_steps() {
    let model = workspace().join("models/smollm2-135m");
    let data = common::data_dir();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lens");
    let report: Value = serde_json::from_slice(
        &painters_ok(&[
            "lens",
            "--model",
            model.to_str().unwrap(),
            "--tasks",
            "arc_easy,lambada_openai",
            "--limit",
            "12",
            "--variant",
            "skip",
            "--start-layer",
            "12",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    let steps: Vec<&str> = report["step_text"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(steps.len(), 25, "skip from 12 runs 25 of 30 layers");
    for k in [3, 13, 25] {
        let prefix = steps[..k].join(" ");
        let eval = dir.path().join(format!("eval-{k}"));
        painters_ok(&[
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--tasks",
            "arc_easy,lambada_openai",
            "--limit",
            "12",
            "--plan",
            &prefix,
            "--data",
            data.to_str().unwrap(),
            "--out",
            eval.to_str().unwrap(),
        ]);
        for task in ["arc_easy", "lambada_openai"] {
            let ours =
                std::fs::read_to_string(out.join(format!("items/{task}/step-{k}.jsonl"))).unwrap();
            let theirs = std::fs::read_to_string(eval.join(format!("{task}.jsonl"))).unwrap();
            assert_eq!(
                ours, theirs,
                "{task}: lens step {k} vs painters eval --plan {prefix:?}"
            );
            println!(
                "{task}: lens after step {k} = painters eval --plan \"{prefix}\", record for record (12 items)"
            );
        }
        let arc = &report["tasks"][0];
        assert_eq!(arc["task"], "arc_easy");
        let results: Value =
            serde_json::from_str(&std::fs::read_to_string(eval.join("results.json")).unwrap())
                .unwrap();
        let acc = results["results"][0]["metrics"][0]["value"]
            .as_f64()
            .unwrap();
        assert_eq!(arc["metrics"][0]["values"][k - 1].as_f64().unwrap(), acc);
    }
    // A task YAML file (lm-eval's sciq.yaml pointed at the local split) runs as a name does.
    let yaml = workspace().join("crates/eval-suite/tests/eval/tasks/sciq_validation.yaml");
    let sciq: Value = serde_json::from_slice(
        &painters_ok(&[
            "lens",
            "--model",
            model.to_str().unwrap(),
            "--tasks",
            yaml.to_str().unwrap(),
            "--limit",
            "3",
            "--plan",
            "0..4",
            "--data",
            data.to_str().unwrap(),
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(sciq["tasks"][0]["task"], "sciq_validation");
    assert_eq!(
        sciq["tasks"][0]["metrics"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // Generation tasks need their own passes: refused in one line.
    let e = common::painters(&[
        "lens",
        "--model",
        model.to_str().unwrap(),
        "--tasks",
        "gsm8k",
        "--limit",
        "2",
        "--data",
        data.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert!(
        !e.status.success() && stderr.contains("generates"),
        "{stderr}"
    );
}
