//! `painters report` on a copy of the committed demo results: one self-contained page (no
//! external scripts, styles, fonts or images; one inline script) with every figure inline,
//! the tables, the benchmarks, the paired comparisons and the chosen cell's items scored
//! as the store records them; `--compare` adds the comparison figures; a cell that does
//! not exist is one error line. In a real headless browser (Debian's Chromium through
//! selenium, installed by scripts/setup.sh where it can be): no console errors, every
//! figure drawn with a non-zero size, the items filter works, a screenshot is taken.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{painters, painters_ok, workspace};

/// A copy of results/smollm2-demo (without its figures) at `to`.
fn demo_copy(to: &Path) {
    let from = workspace().join("results/smollm2-demo");
    copy_tree(&from, to);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if path.is_dir() {
            if name != "plots" {
                copy_tree(&path, &to.join(name));
            }
        } else {
            std::fs::copy(&path, to.join(name)).unwrap();
        }
    }
}

/// Writes the report of `dir` with `args` into `out`; returns the page.
fn report(dir: &Path, out: &Path, args: &[&str]) -> String {
    let mut all = vec![
        "report",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend(args);
    painters_ok(&all);
    std::fs::read_to_string(out).unwrap()
}

/// The first `n` records of each of the cell's stored tasks: how many it got right by its
/// headline metric.
fn right_answers(dir: &Path, cell: &str, n: usize) -> usize {
    let mut right = 0;
    for row in csv::Reader::from_path(dir.join("summary.csv"))
        .unwrap()
        .records()
    {
        let row = row.unwrap();
        if &row[0] != cell || &row[12] != "acc_norm" {
            continue;
        }
        let items =
            std::fs::read_to_string(dir.join("store").join(format!("{}.jsonl", &row[11]))).unwrap();
        for line in items.lines().take(n) {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            right += (record["acc_norm"].as_f64().unwrap() > 0.0) as usize;
        }
    }
    right
}

#[test]
fn the_page_is_self_contained_and_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    demo_copy(&dir);
    let page = report(
        &dir,
        &tmp.path().join("report.html"),
        &["--cell", "skip s=10", "--items", "5"],
    );
    // Self-contained: no fetched resources, one inline script, links only within the page.
    for outside in ["<link", " src=", "url(", "@import"] {
        assert!(
            !page.contains(outside),
            "the page loads something: {outside}"
        );
    }
    assert_eq!(page.matches("<script").count(), 1);
    assert!(
        page.split("href=\"")
            .skip(1)
            .all(|rest| rest.starts_with('#'))
    );
    // Every figure inline, as `painters plot` drew it into DIR/plots.
    let drawn = std::fs::read_dir(dir.join("plots"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "svg")
        })
        .count();
    assert!(drawn >= 10, "{drawn} figures");
    assert_eq!(page.matches("<svg").count(), drawn);
    for id in [
        "figures",
        "tables",
        "benchmarks",
        "paired",
        "items",
        "experiment",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "no section {id}");
    }
    assert!(!page.contains("id=\"compare\""));
    // The tables are `painters table`'s, the model and identity from resolved.toml.
    let table = painters(&["table", dir.to_str().unwrap()]);
    let table = String::from_utf8(table.stdout).unwrap();
    let first_row = table.lines().nth(2).unwrap();
    let cells: Vec<&str> = first_row
        .trim_matches('|')
        .split(" | ")
        .map(str::trim)
        .collect();
    for cell in &cells {
        assert!(
            page.contains(&format!(">{cell}<")),
            "the page lacks table cell {cell:?}"
        );
    }
    assert!(page.contains("SmolLM2-135M-Instruct") && page.contains("2133a546f61ce552"));
    // The drill-down: 5 items of each of the three tasks, right or wrong as the store says.
    let rows =
        page.matches("<tr class=\"right\"").count() + page.matches("<tr class=\"wrong\"").count();
    assert_eq!(rows, 15);
    assert_eq!(
        page.matches("<tr class=\"right\"").count(),
        right_answers(&dir, "skip s=10", 5)
    );
    assert!(page.contains("Items of skip s=10"));
    // Text from the data is escaped (PIQA contexts have quotes).
    assert!(page.contains("&#x27;") || page.contains("&quot;"));

    let other = tmp.path().join("other");
    demo_copy(&other);
    let compared = report(
        &dir,
        &tmp.path().join("compare.html"),
        &[
            "--compare",
            other.to_str().unwrap(),
            "--labels",
            "here,there",
        ],
    );
    assert!(compared.contains("id=\"compare\"") && compared.contains("Comparison with there"));
    assert!(compared.matches("<svg").count() > drawn);
}

#[test]
fn an_unknown_cell_is_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    demo_copy(&dir);
    let output = painters(&["report", dir.to_str().unwrap(), "--cell", "skip s=99"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--cell \"skip s=99\": no such cell") && stderr.contains("skip s=10"),
        "{stderr}"
    );
    assert!(!dir.join("report.html").exists());
}

/// Why the browser test cannot run here, if it cannot.
fn no_browser(python: &Path) -> Option<String> {
    for tool in ["chromium", "chromedriver"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output();
        if !found.is_ok_and(|o| o.status.success()) {
            return Some(format!(
                "no {tool} on PATH (scripts/setup.sh installs Debian's chromium and chromium-driver where it can)"
            ));
        }
    }
    let selenium = Command::new(python)
        .args(["-c", "import selenium"])
        .output();
    if !selenium.is_ok_and(|o| o.status.success()) {
        return Some(format!(
            "{} has no selenium (scripts/requirements.txt)",
            python.display()
        ));
    }
    None
}

#[test]
fn the_page_renders_in_a_browser() {
    let python = workspace().join(".venv/bin/python");
    if let Some(reason) = no_browser(&python) {
        println!("browser test skipped: {reason}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    demo_copy(&dir);
    let page = tmp.path().join("report.html");
    report(&dir, &page, &["--items", "20"]);
    let screenshot = std::env::var_os("REPORT_SCREENSHOT")
        .map_or_else(|| tmp.path().join("report.png"), PathBuf::from);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/report_browser.py");
    let output = Command::new(python)
        .arg(script)
        .arg(&page)
        .arg(&screenshot)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(result["figures"].as_array().unwrap().len() >= 10);
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
}
