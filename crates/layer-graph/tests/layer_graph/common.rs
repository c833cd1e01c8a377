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
