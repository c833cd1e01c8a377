//! The text form: parsing, canonical printing, round-trips, hashing and text errors.

use layer_plan::{LayerId, MAX_LAYER_PASSES, Merge, Part, Plan, Step};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{assert_message, parse};

fn layers(plan: &Plan) -> Vec<Vec<usize>> {
    let ids = |step: &Step| step.layers().iter().map(|id| id.0).collect();
    plan.steps().iter().map(ids).collect()
}

#[test]
fn parses_every_atom_form() {
    let plan = parse("0  1\t[4|2|3]x2\n5..8 0..2x2", 8);
    let expected: Vec<Vec<usize>> = vec![
        vec![0],
        vec![1],
        vec![2, 3, 4],
        vec![2, 3, 4],
        vec![5],
        vec![6],
        vec![7],
        vec![0],
        vec![1],
        vec![0],
        vec![1],
    ];
    assert_eq!(layers(&plan), expected);
    assert_eq!(plan.layer_passes(), 15);
    assert_eq!(plan.num_layers(), 8);
    assert!(matches!(
        &plan.steps()[2],
        Step::Parallel {
            merge: Merge::Mean,
            ..
        }
    ));
}

#[test]
fn halves_of_layers_parse_and_print() {
    let atoms = |text: &str| -> Vec<Vec<LayerId>> {
        parse(text, 8)
            .steps()
            .iter()
            .map(|s| s.layers().to_vec())
            .collect()
    };
    assert_eq!(
        atoms("3.attn 3.mlp 3"),
        vec![
            vec![LayerId(3, Part::Attn)],
            vec![LayerId(3, Part::Mlp)],
            vec![LayerId(3, Part::Whole)]
        ]
    );
    // Ranges of one part, repeats right after the part, groups of halves.
    assert_eq!(parse("5..8.mlp", 8), parse("5.mlp 6.mlp 7.mlp", 8));
    assert_eq!(parse("2.mlpx2", 8), parse("2.mlp 2.mlp", 8));
    assert_eq!(parse("[4.mlp|4.attn]", 8), parse("[4.attn|4.mlp]", 8));
    // Canonical text folds runs of one part only.
    for (text, canonical) in [
        ("0 1 2.mlp 3.mlp 4.mlp 5 6 7", "0..2 2..5.mlp 5..8"),
        ("0.attn 1.attn 2.mlp", "0..2.attn 2.mlp"),
        ("3.attn 3.mlp 4.attn 4.mlp", "3.attn 3.mlp 4.attn 4.mlp"),
        ("1.attn 1.attn", "1.attnx2"),
        ("[2.mlp|1] 0", "[1|2.mlp] 0"),
    ] {
        let plan = parse(text, 8);
        assert_eq!(plan.to_string(), canonical, "{text}");
        assert_eq!(parse(canonical, 8), plan, "{canonical} round-trips");
    }
    // A half is not the whole layer: different plans, different hashes.
    assert_ne!(parse("3.attn 3.mlp", 8).hash(), parse("3", 8).hash());
    // Unknown parts name themselves and what is valid.
    let err = Plan::parse("0 3.ffn", 8).unwrap_err();
    assert_message(&err, &["3.ffn", "\"ffn\"", "attn, mlp"]);
    let err = Plan::parse("3.", 8).unwrap_err();
    assert_message(&err, &[".attn, .mlp"]);
    let err = Plan::parse("9.attn", 8).unwrap_err();
    assert_message(&err, &["9"]);
}

#[test]
fn range_with_repeat_runs_the_range_k_times() {
    assert_eq!(parse("0..3x2", 8), parse("0 1 2 0 1 2", 8));
    assert_eq!(parse("0..3x2", 8).to_string(), "0..3 0..3");
}

#[test]
fn one_member_group_is_the_layer_and_members_are_unordered() {
    assert_eq!(parse("[3]", 8), parse("3", 8));
    assert_eq!(parse("[3]x2", 8), parse("3 3", 8));
    assert_eq!(parse("[5|2]", 8), parse("[2|5]", 8));
    let direct = Plan::new(
        vec![Step::Parallel {
            layers: vec![LayerId::whole(3)],
            merge: Merge::Mean,
        }],
        8,
    );
    assert_eq!(direct, Ok(parse("3", 8)));
}

#[test]
fn canonical_text() {
    let cases = [
        ("0 1 2 3 4 5 6 7", "0..8"),
        ("0 1 2 6 7", "0..3 6..8"),
        ("0 1 2 4 3 5 6 7", "0..3 4 3 5..8"),
        ("5 5 6 7", "5x2 6..8"),
        ("0 1 2 2 3", "0..2 2x2 3"),
        ("[2|1] [1|2] 3 4", "[1|2]x2 3..5"),
        ("7", "7"),
        ("7 6", "7 6"),
        ("[0|1|2]x3 0..3x2", "[0|1|2]x3 0..3 0..3"),
    ];
    for (text, canonical) in cases {
        let plan = parse(text, 8);
        assert_eq!(plan.to_string(), canonical, "{text}");
        assert_eq!(parse(canonical, 8), plan, "{canonical}");
    }
}

#[test]
fn hash_is_stable_and_includes_the_layer_count() {
    // python3 -c "import hashlib; print(hashlib.sha256(b'30:0..11 15x9 20..30').hexdigest()[:16])"
    assert_eq!(parse("0..11 15x9 20..30", 30).hash(), "7bb7dda41974258e");
    assert_eq!(Plan::baseline(8).unwrap().hash(), "9ee4cd9ea08a4061");
    assert_ne!(parse("0..8", 8).hash(), parse("0..8", 9).hash());
    assert_eq!(parse("0 1 2 3 4 5 6 7", 8).hash(), parse("0..8", 8).hash());
}

#[test]
fn validate_checks_the_model_layer_count() {
    let plan = parse("0..8", 8);
    assert_eq!(plan.validate(8), Ok(()));
    let err = plan.validate(32).unwrap_err();
    assert_message(&err, &["8 layers", "model has 32"]);
}

/// A random plan over `num_layers` layers: singles, runs, repeats and groups, of whole
/// layers and halves.
fn random_plan(rng: &mut ChaCha8Rng, num_layers: usize) -> Plan {
    let below = |rng: &mut ChaCha8Rng, n: usize| (rng.next_u64() % n as u64) as usize;
    let part =
        |rng: &mut ChaCha8Rng| [Part::Whole, Part::Whole, Part::Attn, Part::Mlp][below(rng, 4)];
    let mut steps = Vec::new();
    for _ in 0..1 + below(rng, 12) {
        let step = if below(rng, 4) == 0 {
            let mut group: Vec<usize> = (0..num_layers).filter(|_| below(rng, 2) == 0).collect();
            group.truncate(1 + below(rng, 4));
            group.reverse();
            match group.as_slice() {
                [] => Step::Layer(LayerId::whole(below(rng, num_layers))),
                _ => Step::Parallel {
                    layers: group.into_iter().map(|i| LayerId(i, part(rng))).collect(),
                    merge: Merge::Mean,
                },
            }
        } else {
            Step::Layer(LayerId(below(rng, num_layers), part(rng)))
        };
        // Bias towards repeats and ascending runs, the cases folding must get right.
        for _ in 0..1 + below(rng, 3) {
            steps.push(step.clone());
        }
        if let (Step::Layer(LayerId(i, p)), 0) = (&step, below(rng, 2)) {
            steps.extend((i + 1..num_layers.min(i + 4)).map(|j| Step::Layer(LayerId(j, *p))));
        }
    }
    Plan::new(steps, num_layers).unwrap()
}

#[test]
fn random_plans_round_trip_through_text() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for case in 0..2000 {
        let num_layers = 1 + (case % 12);
        let plan = random_plan(&mut rng, num_layers);
        let text = plan.to_string();
        assert_eq!(Plan::parse(&text, num_layers), Ok(plan.clone()), "{text}");
        assert_eq!(parse(&text, num_layers).to_string(), text);
    }
}

#[test]
fn text_errors_name_token_position_and_range() {
    let too_long = format!("0x{}", MAX_LAYER_PASSES + 1);
    let cases: &[(&str, &[&str])] = &[
        ("", &["empty plan"]),
        (" \t\n", &["empty plan"]),
        ("0 1 40", &["character 5", "'40'", "layer 40", "0..32"]),
        ("[1|40]", &["character 4", "layer 40", "0..32"]),
        ("0..33", &["character 1", "'0..33'", "0..=32"]),
        ("5..5", &["'5..5'", "empty or reversed", "start < end"]),
        ("7..3", &["'7..3'", "empty or reversed"]),
        (
            "3x0",
            &["character 3", "'0'", "repeat count 0", "at least 1"],
        ),
        (
            "[1|2|1]",
            &["character 1", "'[1|2|1]'", "layer 1 more than once"],
        ),
        ("0 [1|1]x2", &["character 3", "'[1|1]'", "more than once"]),
        ("1.5", &["character 3", "'..'", "found '5'"]),
        ("a", &["character 1", "'a'", "a layer index"]),
        ("[]", &["character 2", "found ']'"]),
        ("[1 | 2]", &["'[1'", "'|' or ']'", "the end of the step"]),
        ("3x2x2", &["character 4", "found 'x'"]),
        ("3..", &["'3..'", "a layer index", "the end of the step"]),
        ("-1", &["character 1", "found '-'"]),
        (
            "99999999999999999999999",
            &["character 1", "number 99999999999999999999999 is too large"],
        ),
        (&too_long, &["plan too long", "1048576"]),
    ];
    for (text, parts) in cases {
        let err = Plan::parse(text, 32).unwrap_err();
        assert_message(&err, parts);
    }
    assert_message(&Plan::parse("0", 0).unwrap_err(), &["0 layers"]);
}

#[test]
fn removing_executed_steps() {
    let plan = parse("0..3 [3|4] 5 5 6..8", 8);
    // Steps: 0 1 2 [3|4] 5 5 6 7 — a parallel group and a repeat count as one step each.
    assert_eq!(
        plan.without_steps(3..4).unwrap().to_string(),
        "0..3 5x2 6..8"
    );
    assert_eq!(
        plan.without_steps(4..6).unwrap().to_string(),
        "0..3 [3|4] 6..8"
    );
    assert_eq!(plan.without_steps(0..0).unwrap(), plan);
    let err = plan.without_steps(0..8).unwrap_err();
    assert_message(&err, &["empty"]);
}

#[test]
fn sequential_layers_in_execution_order() {
    let layers = |text: &str| parse(text, 8).sequential_layers("exported");
    assert_eq!(layers("0..3 5 4 4 7").unwrap(), [0, 1, 2, 5, 4, 4, 7]);
    assert_eq!(layers("0..4 3..8").unwrap(), [0, 1, 2, 3, 3, 4, 5, 6, 7]);
    // A one-member group is a plain layer; a looped group is its steps repeated.
    assert_eq!(layers("0 [1] 2").unwrap(), [0, 1, 2]);
    let err = layers("0..2 [2|3]x2 4..8").unwrap_err();
    assert_message(
        &err,
        &["step 2 runs layers 2|3 in parallel", "can be exported"],
    );
    assert_message(&layers("[0|1] 2").unwrap_err(), &["step 0 runs layers 0|1"]);
}
