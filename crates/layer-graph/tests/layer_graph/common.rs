//! Where the fixtures and real models are, and small comparison helpers.

use std::path::PathBuf;

use layer_graph::exec::{Batch, run_plan};
use layer_graph::{LoadOptions, Model};
use layer_plan::Plan;
use tch::Tensor;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `PAINTERS_FIXTURES`, else `tests/fixtures` in the workspace (made by `make test`).
pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("PAINTERS_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("tests/fixtures"));
    assert!(
        dir.join("smollm2.json").exists(),
        "no golden fixtures in {}: run `make test` (it runs scripts/make_fixtures.py)",
        dir.display()
    );
    dir
}

/// `PAINTERS_MODELS`, else `models/` in the workspace (made by scripts/setup.sh).
pub fn models() -> PathBuf {
    let dir = std::env::var_os("PAINTERS_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models"));
    assert!(
        dir.join("smollm2-135m/config.json").exists(),
        "no real models in {}: run `make setup`",
        dir.display()
    );
    dir
}

pub fn load(dir: &std::path::Path) -> Model {
    Model::load(dir, LoadOptions::default())
        .unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()))
}

/// Named tensors of a golden safetensors file.
pub fn golden(path: &std::path::Path) -> std::collections::HashMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .collect()
}

pub fn ids(t: &Tensor) -> Vec<i64> {
    Vec::<i64>::try_from(t).expect("ids are a 1-d int64 tensor")
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a.to_kind(tch::Kind::Double) - b.to_kind(tch::Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

/// Head outputs (B, S, V) of the plain forward pass.
pub fn baseline(model: &Model, batch: &Batch) -> Tensor {
    let plan = Plan::baseline(model.stack().num_layers()).unwrap();
    run_plan(model, batch, &plan, false).unwrap().output
}

/// A copy of tiny checkpoint `name` whose config.json `edit` changed.
pub fn tiny_with_config(
    name: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> tempfile::TempDir {
    let src = fixtures().join("tiny").join(name);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let path = dir.path().join("config.json");
    let mut config: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    dir
}

/// Greedy tokens by re-running the whole sequence for every new token (no cache): what
/// cached generation must equal.
pub fn recompute(model: &Model, prompt: &[i64], plan: &Plan, steps: usize) -> Vec<i64> {
    let mut seq = prompt.to_vec();
    for _ in 0..steps {
        let batch = Batch::right_padded(std::slice::from_ref(&seq), tch::Device::Cpu);
        let out = run_plan(model, &batch, plan, false).unwrap().output;
        let last = out.get(0).get(seq.len() as i64 - 1);
        seq.push(
            last.argmax(-1, false)
                .to_kind(tch::Kind::Int64)
                .int64_value(&[]),
        );
    }
    seq[prompt.len()..].to_vec()
}

/// The plan texts a tiny checkpoint's `plans_file` lists (plans.json, halves.json).
pub fn plan_texts(dir: &std::path::Path, plans_file: &str) -> Vec<String> {
    serde_json::from_str(&std::fs::read_to_string(dir.join(plans_file)).unwrap()).unwrap()
}

/// For each plan of tiny checkpoint `dir`'s `plans_file`, max |ours - golden| over its
/// golden sequences (`golden.safetensors`' ids_<j>), whose reference outputs are
/// `out_<k>_<j>` in `golden_file`: (plan text, one at a time, as one padded batch).
pub fn plan_golden_diffs(
    dir: &std::path::Path,
    plans_file: &str,
    golden_file: &str,
) -> Vec<(String, f64, f64)> {
    let model = load(dir);
    let inputs = golden(&dir.join("golden.safetensors"));
    let expected = golden(&dir.join(golden_file));
    let seqs: Vec<Vec<i64>> = (0..inputs.len() / 2)
        .map(|j| ids(&inputs[&format!("ids_{j}")]))
        .collect();
    let layers = model.stack().num_layers();
    plan_texts(dir, plans_file)
        .into_iter()
        .enumerate()
        .map(|(k, text)| {
            let plan = Plan::parse(&text, layers).unwrap();
            let run = |batch: &Batch| run_plan(&model, batch, &plan, false).unwrap().output;
            let batched = run(&Batch::right_padded(&seqs, tch::Device::Cpu));
            let (mut single, mut padded) = (0f64, 0f64);
            for (j, seq) in seqs.iter().enumerate() {
                let want = &expected[&format!("out_{k}_{j}")];
                let one = run(&Batch::right_padded(
                    std::slice::from_ref(seq),
                    tch::Device::Cpu,
                ));
                single = single.max(max_abs_diff(&one.get(0), want));
                let row = batched.get(j as i64).narrow(0, 0, seq.len() as i64);
                padded = padded.max(max_abs_diff(&row, want));
            }
            (text, single, padded)
        })
        .collect()
}
