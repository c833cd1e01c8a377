//! `painters prune`: the greedy NLL search against a brute-force reference that scores
//! every candidate alone (tiny Llama, an 8-step plan with repeats); a search killed with
//! SIGKILL mid-step has written the steps it finished and, rerun, ends with the
//! uninterrupted search's prune.csv (real SmolLM2); bad input refused in one line (all of it checked before the model loads).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use layer_graph::scoring::{ScoreOptions, ScoreRequest, score};
use layer_graph::{LoadOptions, Model};
use layer_plan::Plan;

mod common;
use common::{data_dir, eval_acc_norm, fixture, workspace};

fn painters(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_painters"));
    cmd.args(args).env("OMP_NUM_THREADS", "1");
    cmd
}

fn write_texts(path: &Path, texts: &[String]) {
    let lines: Vec<String> = texts
        .iter()
        .map(|t| serde_json::json!({ "text": t }).to_string() + "\n")
        .collect();
    std::fs::write(path, lines.concat()).unwrap();
}

fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path)
        .unwrap()
        .records()
        .map(Result::unwrap)
        .collect()
}

/// The total next-token NLL of `texts` under `plan`, each text scored alone.
fn nll(model: &Model, plan: &Plan, texts: &[Vec<i64>]) -> f64 {
    texts
        .iter()
        .map(|ids| {
            let request = ScoreRequest {
                context: ids[..1].to_vec(),
                continuation: ids[1..].to_vec(),
            };
            let scores = score(
                model,
                plan,
                &[request],
                &mut ScoreOptions::new(1),
                &mut |_| {},
            );
            -scores.unwrap()[0].logprob
        })
        .sum()
}

#[test]
fn greedy_order_matches_scoring_every_candidate_alone() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = fixture("tiny/llama");
    let model = Model::load(&model_dir, LoadOptions::default()).unwrap();
    let texts: Vec<String> = (0..7)
        .map(|t| {
            (0..5 + 3 * t)
                .map(|i| format!("w{}", 3 + (t * 37 + i * 11) % 400))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let path = dir.path().join("texts.jsonl");
    write_texts(&path, &texts);
    let start = "0..3 2 1 0 1 2";
    let output = painters(&[
        "prune",
        "--model",
        model_dir.to_str().unwrap(),
        "--objective",
        "nll",
        "--texts",
        path.to_str().unwrap(),
        "--steps",
        "5",
        "--plan",
        start,
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = csv_rows(&dir.path().join("out/prune.csv"));

    // Brute force: every candidate of every step scored on its own, the best kept, ties
    // to the lower layer (then the earlier step).
    let ids: Vec<Vec<i64>> = texts
        .iter()
        .map(|t| model.tokenizer().encode(t).unwrap())
        .collect();
    let mut current = Plan::parse(start, 3).unwrap();
    let mut expected = vec![(current.to_string(), nll(&model, &current, &ids))];
    for _ in 0..5 {
        let mut best: Option<((usize, usize), Plan, f64)> = None;
        for (i, step) in current.steps().iter().enumerate() {
            let layer = step.layers().iter().map(|l| l.0).min().unwrap();
            let candidate = current.without_steps(i..i + 1).unwrap();
            let value = nll(&model, &candidate, &ids);
            let wins = match &best {
                None => true,
                Some((key, _, v)) => value < *v || (value == *v && (layer, i) < *key),
            };
            if wins {
                best = Some(((layer, i), candidate, value));
            }
        }
        let (_, plan, value) = best.unwrap();
        expected.push((plan.to_string(), value));
        current = plan;
    }
    assert_eq!(rows.len(), expected.len());
    let mut worst = 0.0f64;
    for (row, (plan, value)) in rows.iter().zip(&expected) {
        assert_eq!(&row[2], plan, "step {}", &row[0]);
        let ours: f64 = row[4].parse().unwrap();
        worst = worst.max((ours - value).abs() / value.abs());
    }
    println!("greedy order identical over 5 steps; max relative NLL diff {worst:.2e}");
    assert!(worst < 1e-6);
}

/// Cached NLL chunks written so far (a kill may also leave a temporary file, unread).
fn cached(out: &Path) -> usize {
    std::fs::read_dir(out.join("cache")).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
        .count()
    })
}

#[test]
fn a_killed_search_resumes_to_the_same_order() {
    let dir = tempfile::tempdir().unwrap();
    let model = workspace().join("models/smollm2-135m");
    // 40 short texts: the first dozen words of LAMBADA passages.
    let passages = eval_suite::lambada_passages(&data_dir(), 40).unwrap();
    let texts: Vec<String> = passages
        .iter()
        .map(|p| p.split(' ').take(12).collect::<Vec<_>>().join(" "))
        .collect();
    let path = dir.path().join("texts.jsonl");
    write_texts(&path, &texts);
    // Only layers 22..=28 may go, to keep the search small: 8 plans in step 1 (the start
    // plan and 7 candidates), each in 3 chunks of texts.
    let protected = (0..22)
        .chain([29])
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let search = |out: &Path| {
        painters(&[
            "prune",
            "--model",
            model.to_str().unwrap(),
            "--objective",
            "nll",
            "--texts",
            path.to_str().unwrap(),
            "--steps",
            "2",
            "--protect",
            &protected,
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
    };
    let whole = dir.path().join("whole");
    assert!(search(&whole).wait().unwrap().success());

    let killed = dir.path().join("killed");
    let mut child = search(&killed);
    let started = Instant::now();
    // Kill inside step 2: step 1 scored 8 plans x 3 chunks, step 2 has 2 chunks more.
    while cached(&killed) < 26 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "nothing was cached"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the search ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    println!("killed with {} cached chunks", cached(&killed));
    // prune.csv is written after every step: the killed search has steps 0 and 1.
    let whole_csv = std::fs::read_to_string(whole.join("prune.csv")).unwrap();
    let first_steps: Vec<&str> = whole_csv.lines().take(3).collect();
    let killed_csv = std::fs::read_to_string(killed.join("prune.csv")).unwrap();
    assert_eq!(killed_csv.lines().collect::<Vec<_>>(), first_steps);
    assert!(search(&killed).wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(killed.join("prune.csv")).unwrap(),
        whole_csv
    );
    // What was cached before the kill was used, not scored again under other keys.
    assert_eq!(cached(&killed), cached(&whole));
}

/// A benchmark objective (Moslem et al.'s criterion) reads the metric `painters eval`
/// reports for the same plan on the same items: ARC-Easy items 10..18, only layers 27
/// and 28 removable, one step.
#[test]
fn a_task_objective_scores_each_candidate_as_painters_eval_does() {
    let dir = tempfile::tempdir().unwrap();
    let model = workspace().join("models/smollm2-135m");
    let (model, data) = (model.to_str().unwrap(), data_dir());
    let protected = (0..27)
        .chain([29])
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let out = dir.path().join("prune");
    let output = painters(&[
        "prune",
        "--model",
        model,
        "--objective",
        "task:arc_easy:acc_norm",
        "--limit",
        "8",
        "--offset",
        "10",
        "--steps",
        "1",
        "--protect",
        &protected,
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = csv_rows(&out.join("prune.csv"));
    // painters eval on the first 18 items; the last 8 are the search's.
    let acc_norm = |plan: &str| eval_acc_norm(model, plan, &dir.path().join("eval"));
    let expected: Vec<(String, f64)> = ["0..30", "0..27 28..30", "0..28 29"]
        .iter()
        .map(|p| (p.to_string(), acc_norm(p)))
        .collect();
    assert_eq!(rows[0][4].parse::<f64>().unwrap(), expected[0].1);
    // Step 1 keeps the better candidate (27 on a tie) and reports the other as runner-up.
    let (best, other) = if expected[2].1 > expected[1].1 {
        (2, 1)
    } else {
        (1, 2)
    };
    assert_eq!(&rows[1][2], expected[best].0.as_str());
    assert_eq!(rows[1][4].parse::<f64>().unwrap(), expected[best].1);
    assert_eq!(rows[1][7].parse::<f64>().unwrap(), expected[other].1);
}

#[test]
fn bad_input_is_one_line_before_the_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let model = workspace().join("models/smollm2-135m");
    let texts = dir.path().join("texts.jsonl");
    write_texts(&texts, &["a b c".to_string()]);
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let (m, t, e) = (
        model.to_str().unwrap(),
        texts.to_str().unwrap(),
        empty.to_str().unwrap(),
    );
    let cases: [(&[&str], String); 6] = [
        (&["--objective", "sleb", "--texts", t, "--steps", "2"], "invalid value 'sleb' for '--objective <OBJECTIVE>': expected nll, bi, angular or task:NAME[:METRIC[:FILTER]] (e.g. task:arc_easy:acc_norm)".into()),
        (&["--objective", "nll", "--texts", t, "--steps", "2", "--protect", "0,30"], "--protect 30: the model has 30 layers (0..=29)".into()),
        (&["--objective", "nll", "--texts", t, "--steps", "29", "--protect", "0,29"], "--steps 29: at most 28 steps can be removed (the plan has 30 steps, 2 of them protected, and one must remain)".into()),
        (&["--objective", "nll", "--steps", "2"], "--objective nll: needs --texts FILE".into()),
        (&["--objective", "nll", "--texts", e, "--steps", "2"], format!("{e}: no texts (expected one {{\"text\": ...}} per line)")),
        (&["--objective", "bi", "--texts", t, "--steps", "2", "--min-score", "1.5"], "--min-score 1.5: a fraction of the start plan's score, in (0, 1]".into()),
    ];
    for (i, (args, expected)) in cases.into_iter().enumerate() {
        let output = painters(&["prune", "--model", m])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        let lines: Vec<&str> = stderr.trim().lines().collect();
        assert!(
            lines[0].ends_with(&expected),
            "{stderr}\nexpected: {expected}"
        );
        // clap adds its usage hint to its own errors; ours are one line.
        assert!(i == 0 || lines.len() == 1, "{stderr}");
    }
}
