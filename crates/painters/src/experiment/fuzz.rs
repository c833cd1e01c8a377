//! Fuzz targets for experiment files (`make fuzz` runs each for `FUZZ_SECONDS`).
//!
//! Any text parses or fails with an error that names the file, without panicking; a file
//! that parses expands into cells (the baseline first, labels unique, every plan for the
//! asked layer count) or fails the same way, for a range of layer counts and for the
//! file's own `model.layers`; the cells' plans build the trie `painters plan` and scoring
//! build. Layer counts past 4096 are checked while the grid stays cheap to list.

#[path = "../../../../fuzz/harness.rs"]
mod harness;

use std::collections::HashSet;
use std::path::Path;

use layer_plan::{MAX_LAYER_PASSES, PlanTrie};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

use super::{ExperimentFile, expand};

const PATH: &str = "fuzz.toml";

/// Layer counts every parsed file is expanded for, besides its own `model.layers`.
const LAYER_COUNTS: [usize; 7] = [0, 1, 6, 30, 32, 4097, MAX_LAYER_PASSES];

/// Every cell lists about as many steps as the model has layers: a layer count past 4096
/// is checked only while cells x layers stays within this, so that a case stays cheap.
const MAX_LISTED_STEPS: usize = 1 << 21;

/// Keys, values and TOML syntax, for the mutators.
#[rustfmt::skip]
const DICTIONARY: &[&str] = &[
    "[model]", "[data]", "[[tasks]]", "[[variants]]", "dir", "layers", "device", "dtype",
    "batch_size", "kv", "add_bos", "\"never\"", "\"auto\"", "name", "limit", "num_fewshot", "kind",
    "start_layer", "layer", "seed", "times", "range", "with", "rng", "plan", "slices", "from", "to",
    " = ", "=", "\"", "'",
    "'''", "{", "}", "[", "]", ",", ".", "#", "\n", " ", "\"baseline\"", "\"skip\"",
    "\"skip-one\"", "\"swap\"", "\"reverse\"", "\"shuffle\"", "\"repeat-middle\"",
    "\"double-repeat\"", "\"parallel\"", "\"looped-parallel\"", "\"explicit\"", "\"arc_easy\"",
    "\"mmlu_anatomy\"", "\"lambada_openai\"", "\"python\"", "\"portable\"", "\"0..30\"",
    "\"[1|2]x3\"", "[0, 16]", "[[0, 8], [4, 12]]", "{ from = 0, to = 9 }", "[1, 2, 3]", "-1",
    "1e3", "inf", "nan", "true", "0x10", "1979-05-27", "4294967296", "4097", "1048576", "1048577",
    "9223372036854775808", "18446744073709551615",
];

/// Parses `text`, expands the file's cells and checks what comes back.
fn check(text: String) -> TestCaseResult {
    let file = match ExperimentFile::parse(Path::new(PATH), &text) {
        Ok(file) => file,
        Err(e) => {
            prop_assert!(e.to_string().starts_with(PATH), "{e}");
            return Ok(());
        }
    };
    let cells: usize = 1 + file
        .experiment
        .variants
        .iter()
        .map(|grid| expand(grid).map_or(0, |specs| specs.len()))
        .sum::<usize>();
    let cheap = |n: usize| n <= 4096 || n > MAX_LAYER_PASSES || cells * n <= MAX_LISTED_STEPS;
    let own = file.experiment.model.layers;
    for n in LAYER_COUNTS.into_iter().chain(own).filter(|&n| cheap(n)) {
        match file.cells(n) {
            Ok(cells) => {
                prop_assert_eq!(cells[0].label.as_str(), "baseline");
                let labels: HashSet<&str> = cells.iter().map(|c| c.label.as_str()).collect();
                prop_assert_eq!(labels.len(), cells.len());
                prop_assert!(cells.iter().all(|c| c.plan.num_layers() == n));
                let plans: Vec<_> = cells.into_iter().map(|c| c.plan).collect();
                let trie = PlanTrie::new(&plans);
                let passes: usize = plans.iter().map(|p| p.layer_passes()).sum();
                prop_assert!(trie.layer_passes() <= passes && trie.peak_kept() >= 1);
            }
            Err(e) => prop_assert!(e.to_string().starts_with(PATH), "{e}"),
        }
    }
    Ok(())
}

#[test]
fn corpus_seeds() {
    let seeds = harness::corpus("experiment");
    assert!(seeds.len() >= 10, "{} seeds", seeds.len());
    let parsing = seeds
        .iter()
        .filter(|s| ExperimentFile::parse(Path::new(PATH), s).is_ok())
        .count();
    assert!(parsing >= 10, "only {parsing} seeds parse");
    for seed in seeds {
        check(seed.clone()).unwrap_or_else(|e| panic!("{seed}\n{e}"));
    }
}

#[test]
fn mutated_seeds() {
    let seeds = harness::mutated(harness::corpus("experiment"), DICTIONARY);
    harness::run_text(
        "mutated experiment seeds",
        "experiment",
        "toml",
        seeds,
        check,
    );
}

#[test]
fn arbitrary_text() {
    let text = prop_oneof![any::<String>(), harness::word_salad(DICTIONARY)];
    harness::run_text(
        "arbitrary experiment text",
        "experiment",
        "toml",
        text,
        check,
    );
}
