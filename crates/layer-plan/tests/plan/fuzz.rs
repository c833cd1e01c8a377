//! Fuzz targets for the plan text parser (`make fuzz` runs each for `FUZZ_SECONDS`).
//!
//! Any text, for any layer count, parses or returns an error without panicking; a plan
//! that parses prints a canonical text that parses back to the same plan; generated
//! plans, written in any of the grammar's forms, parse to exactly the plan they spell;
//! and grids of generated plans sharing prefixes build tries that walk, count and split
//! as an executor needs. Layer counts run from 1 to past [`MAX_LAYER_PASSES`]; cases
//! stay cheap by keeping generated ranges short.

#[path = "../../../../fuzz/harness.rs"]
mod harness;

use std::collections::{HashMap, HashSet};

use layer_plan::{LayerId, MAX_LAYER_PASSES, Merge, Plan, PlanTrie, Step};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseResult;

use crate::trie::{check_walk, extend};

/// Every text is parsed for each of these layer counts, from none to absurdly many.
const LAYER_COUNTS: [usize; 11] = [
    0,
    1,
    2,
    6,
    8,
    30,
    32,
    4097,
    MAX_LAYER_PASSES,
    1 << 40,
    usize::MAX,
];

/// The longest range a generated step spells, so that a case stays cheap at any layer count.
const MAX_RANGE: usize = 64;

/// Pieces of the grammar and near misses, for the mutators.
#[rustfmt::skip]
const DICTIONARY: &[&str] = &[
    "[", "]", "|", "..", ".", "x", "x0", "x1", "x3", "0", "1", "11", "29", "30", "31", "32",
    " ", "\n", "\t", "\u{a0}", "\u{3000}", "0..0", "5..3", "[]", "||", "X", "-1", "+1", "é",
    "\u{663}", "4096", "4097", "1048575", "1048576", "1048577", "x1048576", "18446744073709551615",
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
            .prop_flat_map(move |a| (Just(a), a + 1..=n.min(a + MAX_RANGE)))
            .prop_map(|(a, b)| Atom::Range(a, b)),
        // Distinct members, in the order drawn.
        vec(0..n, 1..=6).prop_map(|mut members| {
            let mut seen = HashSet::new();
            members.retain(|&m| seen.insert(m));
            Atom::Group(members)
        }),
    ]
}

/// Small layer counts, and counts from past 4096 to [`MAX_LAYER_PASSES`].
fn layer_count() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..=40, 4097..=MAX_LAYER_PASSES]
}

fn written(n: usize) -> impl Strategy<Value = Written> {
    (atom(n), 1usize..=4, any::<bool>()).prop_map(|(atom, times, spell_once)| Written {
        atom,
        times,
        spell_once,
    })
}

/// A layer count, the written steps, and the whitespace before, between and after them.
fn source() -> impl Strategy<Value = (usize, Vec<Written>, Vec<&'static str>, bool)> {
    layer_count().prop_flat_map(|n| {
        (
            Just(n),
            vec(written(n), 1..30),
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
        Atom::Layer(i) => vec![Step::Layer(LayerId::whole(*i))],
        Atom::Range(a, b) => (*a..*b).map(|i| Step::Layer(LayerId::whole(i))).collect(),
        Atom::Group(members) => vec![Step::Parallel {
            layers: members.iter().copied().map(LayerId::whole).collect(),
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

/// A grid over one layer count: each plan a prefix of a shared base plan (cut anywhere)
/// followed by its own steps, so that plans share prefixes of every length.
fn grid() -> impl Strategy<Value = Vec<Plan>> {
    layer_count().prop_flat_map(|n| {
        let branch = (any::<Index>(), vec(written(n), 0..4));
        (vec(written(n), 1..30), vec(branch, 1..10)).prop_map(move |(base, branches)| {
            let base: Vec<Step> = base.iter().flat_map(steps).collect();
            let plan = |(cut, tail): (Index, Vec<Written>)| {
                let mut plan = base[..cut.index(base.len() + 1)].to_vec();
                plan.extend(tail.iter().flat_map(steps));
                if plan.is_empty() {
                    plan.push(base[0].clone());
                }
                Plan::new(plan, n).unwrap()
            };
            branches.into_iter().map(plan).collect()
        })
    })
}

#[test]
fn generated_grids_build_tries() {
    harness::run("generated grids as tries", grid(), |plans| {
        // The walk: every plan read off its own stream, within peak_kept streams.
        let trie = check_walk(&plans);
        // Layer passes: those of every distinct prefix, once.
        let mut prefixes = HashMap::new();
        for plan in &plans {
            let mut path = 0;
            for step in plan.steps() {
                path = extend(path, step);
                prefixes.insert(path, step.layers().len());
            }
        }
        prop_assert_eq!(trie.layer_passes(), prefixes.values().sum::<usize>());
        // Groups: every plan in one, each within the bound unless alone.
        let peak = trie.peak_kept();
        let reversed: Vec<Plan> = plans.iter().rev().cloned().collect();
        prop_assert_eq!(PlanTrie::new(&reversed).peak_kept(), peak, "reversed order");
        for bound in [1, 2, peak] {
            let groups = PlanTrie::groups(&plans, bound);
            let mut all: Vec<usize> = groups.iter().flatten().copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..plans.len()).collect::<Vec<_>>());
            for g in &groups {
                let members: Vec<Plan> = g.iter().map(|&i| plans[i].clone()).collect();
                prop_assert!(g.len() == 1 || PlanTrie::new(&members).peak_kept() <= bound);
            }
            prop_assert!(bound < peak || groups.len() == 1);
        }
        Ok(())
    });
}
