//! `painters similarity` under plans (paper Figs 3 and 15) on real SmolLM2 and LAMBADA
//! passages: each plan's rows sit beside the others' and a rerun replaces only its own;
//! every matrix is a cosine matrix (symmetric, 1 on the diagonal); a plan that shares a
//! prefix of steps with the baseline has the baseline's hidden states, similarities and
//! variances over that prefix.

use std::collections::BTreeMap;
use std::path::Path;

mod common;
use common::{data_dir, painters_ok, workspace};

fn similarity(out: &Path, plan: &[&str]) {
    let model = workspace().join("models/smollm2-135m");
    let data = data_dir();
    let mut args = vec![
        "similarity",
        "--model",
        model.to_str().unwrap(),
        "--limit",
        "3",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(plan);
    painters_ok(&args);
}

/// (plan, mode) -> (i, j) -> cosine, from similarity.csv.
type Maps = BTreeMap<(String, String), BTreeMap<(usize, usize), f64>>;

fn read(out: &Path) -> (Maps, BTreeMap<String, Vec<f64>>) {
    let mut maps = Maps::new();
    for row in csv::Reader::from_path(out.join("similarity.csv"))
        .unwrap()
        .records()
    {
        let row = row.unwrap();
        let key = (row[4].to_string(), row[3].to_string());
        let (i, j) = (row[0].parse().unwrap(), row[1].parse().unwrap());
        maps.entry(key)
            .or_default()
            .insert((i, j), row[2].parse().unwrap());
    }
    let mut variance: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for row in csv::Reader::from_path(out.join("variance.csv"))
        .unwrap()
        .records()
    {
        let row = row.unwrap();
        let list = variance.entry(row[0].to_string()).or_default();
        assert_eq!(row[1].parse::<usize>().unwrap(), list.len());
        list.push(row[2].parse().unwrap());
    }
    (maps, variance)
}

#[test]
fn plans_sit_side_by_side_and_share_their_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    similarity(out, &[]);
    similarity(out, &["--variant", "skip", "--start-layer", "10"]);
    similarity(out, &["--variant", "repeat-middle", "--start-layer", "10"]);
    let (maps, variance) = read(out);
    // A rerun of one plan replaces its rows and keeps the others.
    similarity(out, &["--plan", "0..11 20..30"]);
    let (again, variance_again) = read(out);
    assert_eq!(maps, again);
    assert_eq!(variance, variance_again);

    let (full, skip, repeat) = ("0..30", "0..11 20..30", "0..11 15x9 20..30");
    let sizes: Vec<(&str, usize)> = [full, skip, repeat]
        .iter()
        .map(|p| (*p, variance[*p].len()))
        .collect();
    assert_eq!(sizes, [(full, 31), (skip, 22), (repeat, 31)]);
    for ((plan, mode), map) in &maps {
        let n = variance[plan].len();
        assert_eq!(map.len(), n * n, "{plan} {mode}");
        for i in 0..n {
            assert!(
                (map[&(i, i)] - 1.0).abs() < 1e-5,
                "{plan} {mode} ({i}, {i})"
            );
            for j in 0..n {
                assert_eq!(map[&(i, j)], map[&(j, i)], "{plan} {mode}");
            }
        }
    }
    // Steps 0..11 are the baseline's in every plan: hidden states 0..=11 are the same.
    for plan in [skip, repeat] {
        for i in 0..=11 {
            let (a, b) = (variance[full][i], variance[plan][i]);
            assert!(
                (a - b).abs() <= 1e-9 * a.abs(),
                "{plan}: variance {i}: {a} vs {b}"
            );
            for j in 0..=11 {
                let key = |p: &str| (p.to_string(), "flat".to_string());
                assert_eq!(maps[&key(full)][&(i, j)], maps[&key(plan)][&(i, j)]);
            }
        }
        // ... and they part after it.
        assert!(
            (variance[full][12] - variance[plan][12]).abs() > 1.0,
            "{plan}"
        );
    }
}
