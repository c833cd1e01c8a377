//! `painters importance` against transformers (tests/fixtures/importance.json, from
//! scripts/make_fixtures.py): Block Influence, relative magnitude and angular distance of
//! the real SmolLM2 and MiniLM within 1e-4, SmolLM2's NLL with each layer removed within
//! 1e-3 relative; with `--task`, the benchmark drop of each removal equal to `painters
//! eval`'s; and bad input refused in one line before a model loads.

use serde_json::Value;

mod common;
use common::{data_dir, eval_acc_norm, fixture, painters, workspace};

/// `painters importance --json` on the fixture texts with `model` (under models/).
fn importance(model: &str, max_block: usize) -> Value {
    let model = workspace().join("models").join(model);
    let texts = fixture("importance_texts.jsonl");
    let output = painters(&[
        "importance",
        "--model",
        model.to_str().unwrap(),
        "--texts",
        texts.to_str().unwrap(),
        "--max-block",
        &max_block.to_string(),
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The largest |ours - theirs| over two arrays of the same length.
fn max_diff(label: &str, ours: &Value, theirs: &Value) -> f64 {
    let (a, b) = (numbers(ours), numbers(theirs));
    assert_eq!(a.len(), b.len(), "{label}: lengths");
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn check_proxies(model: &str, ours: &Value, theirs: &Value) {
    let mut worst = 0.0f64;
    for key in ["block_influence", "relative_magnitude"] {
        let d = max_diff(key, &ours[key], &theirs[key]);
        println!("{model} {key}: max |diff| = {d:.2e}");
        worst = worst.max(d);
    }
    for (n, expected) in theirs["angular_distance"].as_object().unwrap() {
        let d = max_diff(n, &ours["angular_distance"][n], expected);
        println!("{model} angular_distance n={n}: max |diff| = {d:.2e}");
        worst = worst.max(d);
    }
    assert!(
        worst < 1e-4,
        "{model}: proxies differ from transformers' by {worst:.2e}"
    );
}

#[test]
fn smollm2_proxies_and_removal_nll_match_transformers() {
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("importance.json")).unwrap())
            .unwrap();
    let max_block = golden["max_block"].as_u64().unwrap() as usize;
    let ours = importance("smollm2-135m", max_block);
    let theirs = &golden["smollm2"];
    assert_eq!(ours["layers"], 30);
    check_proxies("smollm2", &ours, theirs);
    let full = theirs["nll_full"].as_f64().unwrap();
    let relative = |a: f64, b: f64| (a - b).abs() / b.abs();
    let mut worst = relative(ours["nll"]["full"].as_f64().unwrap(), full);
    for (a, b) in numbers(&ours["nll"]["without_step"])
        .iter()
        .zip(numbers(&theirs["nll_without_step"]))
    {
        worst = worst.max(relative(*a, b));
    }
    println!("smollm2 NLL, full and each layer removed: max relative diff = {worst:.2e}");
    assert!(
        worst < 1e-3,
        "NLL differs from transformers' by {worst:.2e}"
    );
    // Every proxy is correlated with the drop, with an interval around it.
    for name in ["block_influence", "relative_magnitude", "angular_distance"] {
        let e = &ours["spearman"][name];
        let (value, ci) = (e["value"].as_f64().unwrap(), numbers(&e["ci"]));
        assert!(ci[0] <= value && value <= ci[1], "{name}: {e}");
    }
}

#[test]
fn bert_proxies_match_transformers_without_an_nll() {
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("importance.json")).unwrap())
            .unwrap();
    let ours = importance("minilm-l6", golden["max_block"].as_u64().unwrap() as usize);
    assert_eq!(ours["layers"], 6);
    check_proxies("minilm", &ours, &golden["minilm"]);
    assert!(ours["nll"].is_null() && ours["spearman"].as_object().unwrap().is_empty());
}

#[test]
fn bad_input_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let texts = fixture("importance_texts.jsonl");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let empty = write("empty.jsonl", "");
    let blank = write("blank.jsonl", "{\"text\": \"a b\"}\n{\"text\": \"\"}\n");
    let untexted = write("untexted.jsonl", "{\"passage\": \"a b\"}\n");
    let missing = dir.path().join("missing.jsonl");
    let smollm2 = workspace().join("models/smollm2-135m");
    let cases = [
        (
            empty.clone(),
            "8",
            format!("{empty}: no texts (expected one {{\"text\": ...}} per line)"),
        ),
        (blank.clone(), "8", format!("{blank}:2: text: empty")),
        (
            untexted.clone(),
            "8",
            format!("{untexted}:1: missing field `text`"),
        ),
        (
            missing.to_str().unwrap().to_string(),
            "8",
            format!(
                "{}: cannot read: No such file or directory (os error 2)",
                missing.display()
            ),
        ),
        (
            texts.to_str().unwrap().to_string(),
            "0",
            "--max-block 0: blocks have at least one step".to_string(),
        ),
        (
            texts.to_str().unwrap().to_string(),
            "30",
            "--max-block 30: at most 29 (the plan has 30 steps, and a block leaves one)"
                .to_string(),
        ),
    ];
    for (texts, max_block, expected) in cases {
        let output = painters(&[
            "importance",
            "--model",
            smollm2.to_str().unwrap(),
            "--texts",
            &texts,
            "--max-block",
            max_block,
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.trim().ends_with(&expected),
            "{stderr}\nexpected: {expected}"
        );
    }
}

/// `--task`: the benchmark drop of removing each step is `painters eval`'s metric under
/// the plan minus under the plan without that step, on the chosen items; each proxy's
/// Spearman correlation is taken against those drops. A 4-step plan of SmolLM2 keeps it
/// small: ARC-Easy items 10..18.
#[test]
fn task_drop_is_painters_eval_with_each_step_removed() {
    let dir = tempfile::tempdir().unwrap();
    let model = workspace().join("models/smollm2-135m");
    let model = model.to_str().unwrap();
    let texts = fixture("importance_texts.jsonl");
    let out = dir.path().join("importance");
    let data = data_dir();
    let output = painters(&[
        "importance",
        "--model",
        model,
        "--texts",
        texts.to_str().unwrap(),
        "--plan",
        "0..4",
        "--max-block",
        "2",
        "--task",
        "arc_easy:acc_norm",
        "--task-limit",
        "8",
        "--task-offset",
        "10",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let task = &report["task"];
    assert_eq!(task["metric"], "arc_easy:acc_norm");
    assert_eq!(task["items"], 8);
    let full = eval_acc_norm(model, "0..4", &dir.path().join("eval"));
    assert_eq!(task["full"].as_f64().unwrap(), full);
    let without = numbers(&task["without_step"]);
    let drop = numbers(&task["drop"]);
    for (i, plan) in ["1..4", "0 2 3", "0 1 3", "0..3"].iter().enumerate() {
        let expected = eval_acc_norm(model, plan, &dir.path().join(format!("eval{i}")));
        println!(
            "without step {i} ({plan}): {} (painters eval {expected})",
            without[i]
        );
        assert_eq!(without[i], expected, "without step {i}");
        assert_eq!(drop[i], full - expected);
    }
    for proxy in ["block_influence", "relative_magnitude", "angular_distance"] {
        let values = match proxy {
            "angular_distance" => numbers(&report["angular_distance"]["1"]),
            _ => numbers(&report[proxy]),
        };
        let expected = painters::importance::spearman(&values, &drop);
        let estimate = &task["spearman"][proxy];
        assert_eq!(estimate["value"].as_f64(), expected, "{proxy}");
        let ci = numbers(&estimate["ci"]);
        assert!(ci[0] <= ci[1], "{proxy}: {ci:?}");
    }
    // The best block of 2 steps carries its own metric.
    let block = &report["best_blocks"][1];
    let start = block["start"].as_u64().unwrap() as usize;
    let kept: Vec<String> = (0..4)
        .filter(|l| !(start..start + 2).contains(l))
        .map(|l| l.to_string())
        .collect();
    let expected = eval_acc_norm(model, &kept.join(" "), &dir.path().join("eval-block"));
    assert_eq!(block["task"].as_f64().unwrap(), expected);
    let csv = std::fs::read_to_string(out.join("importance.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",task_without,task_drop")
    );
}

#[test]
fn task_flags_are_checked_in_one_line() {
    let texts = fixture("importance_texts.jsonl");
    let smollm2 = workspace().join("models/smollm2-135m");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--task", "arc_easy"],
            "--task arc_easy:acc_norm: needs --out DIR (its cells are stored in DIR/store)",
        ),
        (
            &["--task-limit", "5"],
            "--task-limit and --task-offset need --task",
        ),
        (&["--task", "no_such_task", "--out", "x"], "unknown task"),
        (
            &["--task", "arc_easy:"],
            "\"arc_easy:\": expected NAME[:METRIC[:FILTER]], e.g. arc_easy or arc_easy:acc_norm",
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec![
            "importance",
            "--model",
            smollm2.to_str().unwrap(),
            "--texts",
            texts.to_str().unwrap(),
        ];
        args.extend(flags);
        let output = painters(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        // clap's own errors add a usage hint on further lines.
        let clap = flags == ["--task", "arc_easy:"];
        assert!(clap || stderr.trim().lines().count() == 1, "{stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains(expected), "{stderr}\nexpected: {expected}");
    }
}
