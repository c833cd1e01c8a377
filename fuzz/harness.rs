//! The driver shared by the fuzz targets of `layer-plan` (plan text) and `painters`
//! (experiment files); each crate includes this file with `#[path]`.
//!
//! A target is a proptest property. Under `cargo test` it runs the usual proptest case
//! count (256, or `PROPTEST_CASES`) from a seed fixed by the target's name, so a test run
//! (CI's included) is reproducible; with `FUZZ_SECONDS` set (`make fuzz`) it runs fresh
//! randomly seeded batches until that many seconds have passed. Inputs come from seed
//! corpora, `fuzz/corpus/KIND/*`, mutated by deleting, duplicating, swapping and inserting
//! characters, lines and tokens, and from arbitrary strings. A failing text input found
//! under `make fuzz` is shrunk and saved as `fuzz/corpus/KIND/found-HASH.EXT`, so every
//! later `cargo test` replays it until the bug is fixed; keep it as a regression seed.

#![allow(dead_code)] // each crate uses part of it

use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, RngSeed, TestCaseResult, TestError, TestRunner};

/// Cases per batch under `make fuzz`; the deadline is checked between batches.
const BATCH: u32 = 500;

/// The seed corpus `fuzz/corpus/KIND`: every file's text, in file-name order.
pub fn corpus(kind: &str) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir(kind))
        .unwrap_or_else(|e| panic!("corpus {kind}: {e}"))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn corpus_dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(kind)
}

/// Runs `test` on `strategy`'s inputs; panics with the shrunk failing input.
pub fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> TestCaseResult) {
    if let Err((reason, input)) = search(name, &strategy, test) {
        panic!("{name}: {reason}\nminimal failing input: {input:#?}");
    }
}

/// As [`run`], for text inputs: under `make fuzz` a failing input is also saved to the
/// corpus `kind` with extension `ext`.
pub fn run_text<S>(
    name: &str,
    kind: &str,
    ext: &str,
    strategy: S,
    test: impl Fn(String) -> TestCaseResult,
) where
    S: Strategy<Value = String>,
{
    if let Err((reason, input)) = search(name, &strategy, test) {
        let mut saved = String::new();
        if fuzz_seconds().is_some() {
            let mut hasher = DefaultHasher::new();
            input.hash(&mut hasher);
            let path = corpus_dir(kind).join(format!("found-{:016x}.{ext}", hasher.finish()));
            std::fs::write(&path, &input).expect("saving the failing input");
            saved = format!("\nsaved as {}", path.display());
        }
        panic!("{name}: {reason}\nminimal failing input: {input:?}{saved}");
    }
}

/// `FUZZ_SECONDS`, when set: the time budget of each target.
fn fuzz_seconds() -> Option<u64> {
    let value = std::env::var("FUZZ_SECONDS").ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("FUZZ_SECONDS={value:?} is not a number")),
    )
}

/// One batch, or batches until the deadline; the first failure, shrunk.
fn search<S: Strategy>(
    name: &str,
    strategy: &S,
    test: impl Fn(S::Value) -> TestCaseResult,
) -> Result<(), (String, S::Value)> {
    let start = Instant::now();
    let deadline = fuzz_seconds().map(|s| start + Duration::from_secs(s));
    let mut cases = 0;
    loop {
        let mut config = Config {
            failure_persistence: None,
            ..Config::default()
        };
        if deadline.is_some() {
            config.cases = BATCH;
        } else {
            let mut hasher = DefaultHasher::new();
            name.hash(&mut hasher);
            config.rng_seed = RngSeed::Fixed(hasher.finish());
        }
        cases += config.cases;
        match TestRunner::new(config).run(strategy, &test) {
            Ok(()) => {}
            Err(TestError::Fail(reason, input)) => return Err((reason.to_string(), input)),
            Err(TestError::Abort(reason)) => panic!("{name}: aborted: {reason}"),
        }
        if deadline.is_none_or(|d| Instant::now() >= d) {
            break;
        }
    }
    if deadline.is_some() {
        println!("fuzz {name}: {cases} cases in {:.0?}", start.elapsed());
    }
    Ok(())
}

/// One edit of a seed; positions are taken modulo the length at the time of the edit.
#[derive(Debug, Clone)]
enum Edit {
    DeleteChars { at: Index, len: usize },
    DuplicateChars { from: Index, len: usize, to: Index },
    InsertText { at: Index, text: String },
    ReplaceToken { token: Index, text: String },
    DeleteLine(Index),
    DuplicateLine { line: Index, to: Index },
    SwapLines(Index, Index),
}

/// Seeds from `seeds` with one to four edits each; inserted text is a `dictionary`
/// word, a number or a random character.
pub fn mutated(
    seeds: Vec<String>,
    dictionary: &'static [&'static str],
) -> impl Strategy<Value = String> {
    let text = prop_oneof![
        3 => select(dictionary).prop_map(String::from),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => (0u32..70).prop_map(|n| n.to_string()),
        1 => any::<char>().prop_map(String::from),
    ];
    let edit = prop_oneof![
        (any::<Index>(), 1usize..8).prop_map(|(at, len)| Edit::DeleteChars { at, len }),
        (any::<Index>(), 1usize..16, any::<Index>())
            .prop_map(|(from, len, to)| Edit::DuplicateChars { from, len, to }),
        (any::<Index>(), text.clone()).prop_map(|(at, text)| Edit::InsertText { at, text }),
        (any::<Index>(), text).prop_map(|(token, text)| Edit::ReplaceToken { token, text }),
        any::<Index>().prop_map(Edit::DeleteLine),
        (any::<Index>(), any::<Index>()).prop_map(|(line, to)| Edit::DuplicateLine { line, to }),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ];
    (select(seeds), proptest::collection::vec(edit, 1..5))
        .prop_map(|(seed, edits)| edits.iter().fold(seed, |text, edit| apply(edit, &text)))
}

/// Strings of 0 to 40 `dictionary` words and random characters, run together or
/// separated by whitespace.
pub fn word_salad(dictionary: &'static [&'static str]) -> impl Strategy<Value = String> {
    let word = prop_oneof![
        4 => select(dictionary).prop_map(String::from),
        1 => (0u32..40).prop_map(|n| n.to_string()),
        1 => any::<char>().prop_map(String::from),
        2 => select(&[" ", "\n", "\t", ""][..]).prop_map(String::from),
    ];
    proptest::collection::vec(word, 0..40).prop_map(|words| words.concat())
}

fn apply(edit: &Edit, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<&str> = text.split('\n').collect();
    match edit {
        Edit::DeleteChars { at, len } => {
            let at = pick(at, chars.len());
            chars.drain(at..(at + len).min(chars.len()));
        }
        Edit::DuplicateChars { from, len, to } => {
            let from = pick(from, chars.len());
            let copy = chars[from..(from + len).min(chars.len())].to_vec();
            let to = pick(to, chars.len() + 1);
            chars.splice(to..to, copy);
        }
        Edit::InsertText { at, text } => {
            let at = pick(at, chars.len() + 1);
            chars.splice(at..at, text.chars());
        }
        Edit::ReplaceToken { token, text } => {
            let tokens = tokens(&chars);
            if !tokens.is_empty() {
                let (start, end) = tokens[pick(token, tokens.len())];
                chars.splice(start..end, text.chars());
            }
        }
        Edit::DeleteLine(line) => {
            lines.remove(pick(line, lines.len()));
            return lines.join("\n");
        }
        Edit::DuplicateLine { line, to } => {
            let copy = lines[pick(line, lines.len())];
            lines.insert(pick(to, lines.len() + 1), copy);
            return lines.join("\n");
        }
        Edit::SwapLines(a, b) => {
            let (a, b) = (pick(a, lines.len()), pick(b, lines.len()));
            lines.swap(a, b);
            return lines.join("\n");
        }
    }
    chars.into_iter().collect()
}

/// `index` as a position in `0..len` (0 when `len` is 0).
fn pick(index: &Index, len: usize) -> usize {
    if len == 0 { 0 } else { index.index(len) }
}

/// The character spans of the words (runs of alphanumerics, `_` and `-`) in `chars`.
fn tokens(chars: &[char]) -> Vec<(usize, usize)> {
    let is_word = |c: &char| c.is_alphanumeric() || *c == '_' || *c == '-';
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in chars.iter().enumerate() {
        match (is_word(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    spans.extend(start.map(|s| (s, chars.len())));
    spans
}
