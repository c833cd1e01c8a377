//! `painters export` against Hugging Face transformers: checkpoints exported from real
//! SmolLM2-135M (a removed block, a reversed window, a shuffled window, a repeated layer),
//! real MiniLM and every tiny family checkpoint load in transformers (the test virtualenv,
//! through hf_outputs.py) and give the logits, or an encoder's last hidden state, that
//! painters computes on the source under the plan. Also: what the directory holds
//! (renumbered tensors, config, shards, dtype, mergekit recipe, manifest), a prune step
//! exported by `--from-prune`, plans that cannot be exported and bad input refused in one
//! line with nothing left behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use layer_graph::exec::{Batch, run_plan};
use layer_graph::{LoadOptions, Model};
use layer_plan::Plan;
use serde_json::Value;
use tch::{Device, Tensor};

mod common;
use common::{fixture, painters, painters_ok, workspace};

/// Exports `source` under the plan flags `plan` into `out`, which must succeed.
fn export(source: &Path, plan: &[&str], out: &Path) -> Value {
    let mut args = vec![
        "export",
        "--model",
        source.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(plan);
    let output = painters_ok(&args);
    print!("{}", String::from_utf8_lossy(&output.stdout));
    read_json(&out.join("painters-export.json"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Token ids of a few texts under `model`'s tokenizer.
fn texts(model: &Model) -> Vec<Vec<i64>> {
    [
        "Layers are painters: each adds its stroke to a shared canvas.",
        "12 + 30 = 42, and (a, b) = (b, a) swaps them.",
    ]
    .iter()
    .map(|t| model.tokenizer().encode(t).unwrap())
    .collect()
}

/// One export compared with transformers: its directory, painters' outputs on the source
/// under the plan, and the bound on their difference.
struct Case {
    name: String,
    dir: PathBuf,
    ids: Vec<Vec<i64>>,
    ours: Vec<Tensor>,
    bound: f64,
}

fn case(name: &str, source: &Path, plan_flags: &[&str], root: &Path, bound: f64) -> Case {
    let dir = root.join(name);
    let manifest = export(source, plan_flags, &dir);
    let model = Model::load(source, LoadOptions::default()).unwrap();
    let plan = Plan::parse(
        manifest["plan"].as_str().unwrap(),
        model.stack().num_layers(),
    )
    .unwrap();
    let ids = texts(&model);
    let ours = ids
        .iter()
        .map(|seq| {
            let batch = Batch::right_padded(std::slice::from_ref(seq), Device::Cpu);
            run_plan(&model, &batch, &plan, false)
                .unwrap()
                .output
                .get(0)
        })
        .collect();
    Case {
        name: name.into(),
        dir,
        ids,
        ours,
        bound,
    }
}

/// transformers' outputs for every case, run by hf_outputs.py in the test virtualenv.
fn transformers_outputs(cases: &[Case], root: &Path) -> Vec<Vec<Tensor>> {
    let runs: Vec<Value> = cases
        .iter()
        .map(|c| serde_json::json!({"dir": c.dir, "ids": c.ids}))
        .collect();
    let request = root.join("request.json");
    std::fs::write(&request, serde_json::json!({ "runs": runs }).to_string()).unwrap();
    let out = root.join("hf.safetensors");
    let python = workspace().join(".venv/bin/python");
    assert!(
        python.exists(),
        "no test virtualenv at {}: run `make test`",
        python.display()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hf_outputs.py");
    let status = Command::new(python)
        .arg(script)
        .arg(&request)
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "hf_outputs.py failed");
    let tensors: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&out)
        .unwrap()
        .into_iter()
        .collect();
    cases
        .iter()
        .enumerate()
        .map(|(r, c)| {
            (0..c.ids.len())
                .map(|s| tensors[&format!("{r}.{s}")].shallow_clone())
                .collect()
        })
        .collect()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

#[test]
fn exports_load_in_transformers_and_compute_the_plan() {
    let root = tempfile::tempdir().unwrap();
    let smollm2 = workspace().join("models/smollm2-135m");
    let minilm = workspace().join("models/minilm-l6");
    let mut cases = vec![
        case(
            "smollm2-skip",
            &smollm2,
            &["--plan", "0..10 14..30"],
            root.path(),
            1e-4,
        ),
        case(
            "smollm2-reverse",
            &smollm2,
            &["--variant", "reverse", "--start-layer", "9"],
            root.path(),
            1e-4,
        ),
        case(
            "smollm2-shuffle",
            &smollm2,
            &["--variant", "shuffle", "--start-layer", "9", "--seed", "3"],
            root.path(),
            1e-4,
        ),
        case(
            "smollm2-repeat",
            &smollm2,
            &["--plan", "0..16 15 16..30"],
            root.path(),
            1e-4,
        ),
        case(
            "minilm-skip",
            &minilm,
            &["--plan", "0..2 4..6"],
            root.path(),
            1e-5,
        ),
    ];
    for family in [
        "llama",
        "llama-sharded",
        "llama-bf16",
        "llama3-rope",
        "mistral",
        "qwen2",
        "qwen3",
        "mistral-window",
        "mixtral",
        "qwen2_moe",
        "gemma2",
        "gemma3",
        "phi3",
        "olmo2",
        "gpt_neox",
        "gpt2",
        "bert",
    ] {
        let source = fixture("tiny").join(family);
        cases.push(case(
            family,
            &source,
            &["--plan", "2 0 1 1"],
            root.path(),
            1e-5,
        ));
    }
    let theirs = transformers_outputs(&cases, root.path());
    let mut failed = Vec::new();
    for (c, theirs) in cases.iter().zip(&theirs) {
        let diff = c
            .ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| max_abs_diff(a, b))
            .fold(0.0, f64::max);
        println!(
            "{:>16}: max |painters under the plan - transformers on the export| = {diff:.2e} (bound {:.0e})",
            c.name, c.bound
        );
        if diff > c.bound {
            failed.push(c.name.clone());
        }
    }
    assert!(
        failed.is_empty(),
        "exports differ from the plan: {failed:?}"
    );
}

#[test]
fn the_directory_holds_the_plan_renumbered() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("sharded");
    let manifest = export(
        &fixture("tiny/llama-sharded"),
        &["--plan", "2 0 0", "--dtype", "bf16"],
        &out,
    );
    assert_eq!(manifest["layers"], serde_json::json!([2, 0, 0]));
    assert_eq!(manifest["source_layers"], 3);
    assert!(manifest["check"]["max_abs_diff"].as_f64().unwrap() <= 1e-4);
    let config = read_json(&out.join("config.json"));
    assert_eq!(config["num_hidden_layers"], 3);
    // transformers 5 writes `dtype` (the source's key), earlier versions `torch_dtype`.
    assert_eq!(config["dtype"], "bfloat16");
    // Sharded like the source: several files and an index naming every tensor.
    let index = read_json(&out.join("model.safetensors.index.json"));
    let files: std::collections::BTreeSet<&str> = index["weight_map"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(files.len() > 1, "{files:?}");
    // Layer 0 of the export is source layer 2, layers 1 and 2 both source layer 0.
    let source = layer_graph_tensors(&fixture("tiny/llama-sharded"));
    let exported = layer_graph_tensors(&out);
    let name = |i: usize| format!("model.layers.{i}.mlp.up_proj.weight");
    for (new, old) in [(0, 2), (1, 0), (2, 0)] {
        let want = source[&name(old)].to_kind(tch::Kind::BFloat16);
        assert_eq!(exported[&name(new)].kind(), tch::Kind::BFloat16);
        assert!(exported[&name(new)].equal(&want), "layer {new}");
    }
    assert!(!exported.contains_key(&name(3)));
    let recipe = std::fs::read_to_string(out.join("mergekit.yml")).unwrap();
    assert!(
        recipe.contains("layer_range: [2, 3]") && recipe.contains("layer_range: [0, 1]"),
        "{recipe}"
    );
    assert_eq!(recipe.matches("layer_range: [0, 1]").count(), 2, "{recipe}");
    assert!(recipe.contains("merge_method: passthrough") && recipe.contains("dtype: bfloat16"));
}

#[test]
fn a_pruned_step_exports_by_name() {
    let root = tempfile::tempdir().unwrap();
    let prune = root.path().join("prune");
    std::fs::create_dir(&prune).unwrap();
    std::fs::write(
        prune.join("prune.json"),
        r#"{"num_layers": 3, "steps": [{"step": 0, "plan": "0..3"}, {"step": 1, "plan": "0 2"}]}"#,
    )
    .unwrap();
    let out = root.path().join("pruned");
    let manifest = export(
        &fixture("tiny/qwen2"),
        &["--from-prune", prune.to_str().unwrap(), "--step", "1"],
        &out,
    );
    assert_eq!(manifest["plan"], "0 2");
    assert_eq!(manifest["layers"], serde_json::json!([0, 2]));
    assert_eq!(manifest["from_prune"]["step"], 1);
    assert_eq!(read_json(&out.join("config.json"))["num_hidden_layers"], 2);
}

/// Every tensor of a checkpoint directory by name.
fn layer_graph_tensors(dir: &Path) -> std::collections::HashMap<String, Tensor> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .flat_map(|p| Tensor::read_safetensors(p).unwrap())
        .collect()
}

#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let llama = fixture("tiny/llama");
    let no_tokenizer = root.path().join("no-tokenizer");
    std::fs::create_dir(&no_tokenizer).unwrap();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(llama.join(file), no_tokenizer.join(file)).unwrap();
    }
    let full = root.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), "").unwrap();
    let prune = root.path().join("prune");
    std::fs::create_dir(&prune).unwrap();
    std::fs::write(
        prune.join("prune.json"),
        r#"{"num_layers": 30, "steps": [{"step": 0, "plan": "0..30"}, {"step": 1, "plan": "0..2"}]}"#,
    )
    .unwrap();
    let out = root.path().join("out");
    let (llama, no_tokenizer, full, prune, out) = (
        llama.to_str().unwrap(),
        no_tokenizer.to_str().unwrap(),
        full.to_str().unwrap(),
        prune.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["--model", llama, "--plan", "0 [1|2]", "--out", out],
            &["step 1 runs layers 1|2 in parallel", "can be exported"],
        ),
        (
            vec![
                "--model",
                llama,
                "--variant",
                "looped-parallel",
                "--start-layer",
                "0",
                "--times",
                "2",
                "--out",
                out,
            ],
            &["runs layers", "in parallel"],
        ),
        (
            vec!["--model", llama, "--plan", "0..30", "--out", out],
            &["--plan \"0..30\"", "out of range"],
        ),
        (
            vec!["--model", llama, "--plan", "0 1", "--out", full],
            &["exists and is not empty"],
        ),
        (
            vec!["--model", no_tokenizer, "--plan", "0 1", "--out", out],
            &["no tokenizer.json"],
        ),
        (
            vec![
                "--model",
                llama,
                "--from-prune",
                prune,
                "--step",
                "1",
                "--out",
                out,
            ],
            &["the search ran on a model of 30 layers", "has 3"],
        ),
    ];
    for (args, parts) in cases {
        let output = painters(&[&["export"], args.as_slice()].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        for part in parts {
            assert!(stderr.contains(part), "{args:?}: {stderr:?} lacks {part:?}");
        }
    }
    // Nothing half-written: no output directory, no temporary one.
    let left: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(left, ["full", "no-tokenizer", "prune"]);
}
