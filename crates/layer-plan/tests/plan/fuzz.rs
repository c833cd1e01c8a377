//! Fuzz targets for the plan text parser (`make fuzz` runs each for `FUZZ_SECONDS`).
//!
//! Any text, for any layer count, parses or returns an error without panicking; a plan
//! that parses prints a canonical text that parses back to the same plan; and generated
//! plans, written in any of the grammar's forms, parse to exactly the plan they spell.

#[path = "../../../../fuzz/harness.rs"]
mod harness;

use layer_plan::{LayerId, MAX_LAYER_PASSES, Merge, Plan, Step};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::TestCaseResult;

/// Every text is parsed for each of these layer counts, from none to absurdly many.
const LAYER_COUNTS: [usize; 9] = [0, 1, 2, 6, 8, 30, 32, 1 << 40, usize::MAX];

/// Pieces of the grammar and near misses, for the mutators.
#[rustfmt::skip]
const DICTIONARY: &[&str] = &[
    "[", "]", "|", "..", ".", "x", "x0", "x1", "x3", "0", "1", "11", "29", "30", "31", "32",
    " ", "\n", "\t", "\u{a0}", "\u{3000}", "0..0", "5..3", "[]", "||", "X", "-1", "+1", "é",
    "\u{663}", "1048576", "1048577", "x1048576", "18446744073709551615",
    "18446744073709551616",
];

/// Whitespace between generated steps.
const SEPARATORS: &[&str] = &[" ", "  ", "\t", "\n", "\r\n", " \u{3000} "];

/// Parses `text` for every layer count in [`LAYER_COUNTS`] and checks what comes back.
fn check_text(text: String) -> TestCaseResult {
    for n in LAYER_COUNTS {
        match Plan::parse(&text, n) {
            Ok(plan) => {
                prop_assert_eq!(plan.num_layers(), n);
                prop_assert!(!plan.steps().is_empty() && plan.layer_passes() <= MAX_LAYER_PASSES);
                let printed = plan.to_string();
                prop_assert_eq!(
                    Plan::parse(&printed, n),
                    Ok(plan),
                    "{:?} printed as {:?}",
                    text,
                    printed
                );
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
    Ok(())
}

#[test]
fn corpus_seeds() {
    let seeds = harness::corpus("plan");
    assert!(seeds.len() >= 10, "{} seeds", seeds.len());
    let parsing = seeds.iter().filter(|s| Plan::parse(s, 32).is_ok()).count();
    assert!(parsing >= 10, "only {parsing} seeds parse for 32 layers");
    for seed in seeds {
        check_text(seed.clone()).unwrap_or_else(|e| panic!("{seed:?}: {e}"));
    }
}

#[test]
fn mutated_seeds() {
    let seeds = harness::mutated(harness::corpus("plan"), DICTIONARY);
    harness::run_text("mutated plan seeds", "plan", "txt", seeds, check_text);
}

#[test]
fn arbitrary_text() {
    let text = prop_oneof![
        any::<String>(),
        "[0-9\\[\\]|x. \n]{0,40}",
        harness::word_salad(DICTIONARY),
    ];
    harness::run_text("arbitrary plan text", "plan", "txt", text, check_text);
}

/// One generated step as written: an atom, its repeat count and whether `x1` is spelt out.
#[derive(Debug, Clone)]
struct Written {
    atom: Atom,
    times: usize,
    spell_once: bool,
}

#[derive(Debug, Clone)]
enum Atom {
    Layer(usize),
    Range(usize, usize),
    /// Members in any order; one member is allowed.
    Group(Vec<usize>),
}

fn atom(n: usize) -> impl Strategy<Value = Atom> {
    prop_oneof![
        (0..n).prop_map(Atom::Layer),
        (0..n)
            .prop_flat_map(move |a| (Just(a), a + 1..=n))
            .prop_map(|(a, b)| Atom::Range(a, b)),
        subsequence((0..n).collect::<Vec<_>>(), 1..=n.min(6))
            .prop_shuffle()
            .prop_map(Atom::Group),
    ]
}

/// A layer count, the written steps, and the whitespace before, between and after them.
fn source() -> impl Strategy<Value = (usize, Vec<Written>, Vec<&'static str>, bool)> {
    (1usize..=40).prop_flat_map(|n| {
        let written =
            (atom(n), 1usize..=4, any::<bool>()).prop_map(|(atom, times, spell_once)| Written {
                atom,
                times,
                spell_once,
            });
        (
            Just(n),
            vec(written, 1..30),
            vec(select(SEPARATORS), 31),
            any::<bool>(),
        )
    })
}

fn render(w: &Written) -> String {
    let atom = match &w.atom {
        Atom::Layer(i) => i.to_string(),
        Atom::Range(a, b) => format!("{a}..{b}"),
        Atom::Group(members) => {
            let members: Vec<String> = members.iter().map(usize::to_string).collect();
            format!("[{}]", members.join("|"))
        }
    };
    if w.times > 1 || w.spell_once {
        format!("{atom}x{}", w.times)
    } else {
        atom
    }
}

/// The steps a written step stands for, before the plan normalises them.
fn steps(w: &Written) -> Vec<Step> {
    let once: Vec<Step> = match &w.atom {
        Atom::Layer(i) => vec![Step::Layer(LayerId(*i))],
        Atom::Range(a, b) => (*a..*b).map(|i| Step::Layer(LayerId(i))).collect(),
        Atom::Group(members) => vec![Step::Parallel {
            layers: members.iter().copied().map(LayerId).collect(),
            merge: Merge::Mean,
        }],
    };
    std::iter::repeat_n(once, w.times).flatten().collect()
}

#[test]
fn generated_plans_parse_to_what_they_spell() {
    harness::run(
        "generated plans",
        source(),
        |(n, written, separators, edges)| {
            let mut text = String::from(if edges { separators[30] } else { "" });
            for (i, w) in written.iter().enumerate() {
                if i > 0 {
                    text.push_str(separators[i]);
                }
                text.push_str(&render(w));
            }
            text.push_str(if edges { separators[0] } else { "" });
            let expected = Plan::new(written.iter().flat_map(steps).collect(), n).unwrap();
            prop_assert_eq!(Plan::parse(&text, n), Ok(expected.clone()), "{:?}", text);
            let printed = expected.to_string();
            prop_assert_eq!(Plan::parse(&printed, n), Ok(expected), "{:?}", printed);
            Ok(())
        },
    );
}
