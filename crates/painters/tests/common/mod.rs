//! What the painters integration tests share: running the painters binary, where the
//! workspace, the fixtures and the benchmark data are, and `painters eval`'s metric as the
//! reference a benchmark objective must equal. Each test crate uses some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `painters ARGS`, run to its end.
pub fn painters(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_painters"))
        .args(args)
        .output()
        .unwrap()
}

/// `painters ARGS`, which must succeed (its stderr shown when it does not).
pub fn painters_ok(args: &[&str]) -> Output {
    let output = painters(args);
    assert!(
        output.status.success(),
        "painters {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `name` in the fixtures directory (`$PAINTERS_FIXTURES`, else `tests/fixtures`, made by
/// `make fixtures`), which must exist.
pub fn fixture(name: &str) -> PathBuf {
    let dir = std::env::var_os("PAINTERS_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("tests/fixtures"));
    let path = dir.join(name);
    assert!(
        path.exists(),
        "no fixture {}: run `make fixtures`",
        path.display()
    );
    path
}

/// `$PAINTERS_DATA`, else the shared data beside the workspace.
pub fn data_dir() -> PathBuf {
    std::env::var_os("PAINTERS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/data"))
}

/// `painters eval`'s ARC-Easy acc_norm of `model` under `plan` on items 10..18, its
/// outputs in `out`.
pub fn eval_acc_norm(model: &str, plan: &str, out: &Path) -> f64 {
    let data = data_dir();
    painters_ok(&[
        "eval",
        "--model",
        model,
        "--tasks",
        "arc_easy",
        "--limit",
        "18",
        "--plan",
        plan,
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let items = std::fs::read_to_string(out.join("arc_easy.jsonl")).unwrap();
    let scores: Vec<f64> = items
        .lines()
        .skip(10)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["acc_norm"]
                .as_f64()
                .unwrap()
        })
        .collect();
    scores.iter().sum::<f64>() / scores.len() as f64
}
