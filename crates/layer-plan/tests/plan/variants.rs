//! Every variant's exact plan, the spec form, properties and variant errors.

use layer_plan::{Part, Plan, ShuffleRng, Step, Variant, VariantSpec, Window};

use crate::{assert_message, parse};

fn spec(name: &str) -> VariantSpec {
    VariantSpec {
        name: name.to_string(),
        ..VariantSpec::default()
    }
}

/// Compiles `spec` for `num_layers` layers to canonical text.
fn compile(spec: VariantSpec, num_layers: usize) -> String {
    let variant = Variant::try_from(spec.clone()).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    let plan = variant
        .compile(num_layers)
        .unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    plan.to_string()
}

/// Every variant on one window: (spec, expected canonical text).
fn table(window: &VariantSpec, expected: &[(&str, &str)], num_layers: usize) {
    for (name, text) in expected {
        let mut spec = VariantSpec {
            name: name.to_string(),
            ..window.clone()
        };
        match *name {
            "shuffle" => spec.seed = Some(0),
            "looped-parallel" => spec.times = Some(3),
            _ => {}
        }
        assert_eq!(compile(spec, num_layers), *text, "{name} on {window:?}");
    }
}

#[test]
fn every_windowed_variant_t8_start_layer_2() {
    // Window [3, 6): M = 3, centre layer 4.
    let window = VariantSpec {
        start_layer: Some(2),
        ..spec("")
    };
    table(
        &window,
        &[
            ("skip", "0..3 6..8"),
            ("reverse", "0..3 5 4 3 6..8"),
            // python3 -c "import random; random.seed(0); l=list(range(3,6)); random.shuffle(l); print(l)"
            ("shuffle", "0..4 5 4 6..8"),
            ("repeat-middle", "0..3 4x3 6..8"),
            ("double-repeat", "0..3 3x2 4x2 5x2 6..8"),
            ("triple-repeat", "0..3 3x3 4x3 5x3 6..8"),
            ("parallel", "0..3 [3|4|5] 6..8"),
            ("looped-parallel", "0..3 [3|4|5]x3 6..8"),
        ],
        8,
    );
}

#[test]
fn every_windowed_variant_t30_start_layer_10() {
    // Window [11, 20): M = 9, centre layer 15.
    let window = VariantSpec {
        start_layer: Some(10),
        ..spec("")
    };
    table(
        &window,
        &[
            ("skip", "0..11 20..30"),
            ("reverse", "0..11 19 18 17 16 15 14 13 12 11 20..30"),
            // python3 -c "import random; random.seed(0); l=list(range(11,20)); random.shuffle(l); print(l)"
            // [18, 16, 12, 14, 15, 13, 11, 19, 17]
            ("shuffle", "0..11 18 16 12 14..16 13 11 19 17 20..30"),
            ("repeat-middle", "0..11 15x9 20..30"),
            (
                "double-repeat",
                "0..11 11x2 12x2 13x2 14x2 15x2 16x2 17x2 18x2 19x2 20..30",
            ),
            (
                "triple-repeat",
                "0..11 11x3 12x3 13x3 14x3 15x3 16x3 17x3 18x3 19x3 20..30",
            ),
            ("parallel", "0..11 [11|12|13|14|15|16|17|18|19] 20..30"),
            (
                "looped-parallel",
                "0..11 [11|12|13|14|15|16|17|18|19]x3 20..30",
            ),
        ],
        30,
    );
}

#[test]
fn every_windowed_variant_on_a_range_window() {
    let window = VariantSpec {
        range: Some([2, 5]),
        ..spec("")
    };
    table(
        &window,
        &[
            ("skip", "0..2 5..8"),
            ("reverse", "0..2 4 3 2 5..8"),
            // python3 -c "import random; random.seed(0); l=list(range(2,5)); random.shuffle(l); print(l)"
            ("shuffle", "0..3 4 3 5..8"),
            ("repeat-middle", "0..2 3x3 5..8"),
            ("double-repeat", "0..2 2x2 3x2 4x2 5..8"),
            ("triple-repeat", "0..2 2x3 3x3 4x3 5..8"),
            ("parallel", "0..2 [2|3|4] 5..8"),
            ("looped-parallel", "0..2 [2|3|4]x3 5..8"),
        ],
        8,
    );
    let window = VariantSpec {
        range: Some([5, 12]),
        seed: Some(7),
        ..spec("shuffle")
    };
    // python3 -c "import random; random.seed(7); l=list(range(5,12)); random.shuffle(l); print(l)"
    // [10, 11, 9, 5, 8, 6, 7]
    assert_eq!(compile(window, 30), "0..5 10..12 9 5 8 6..8 12..30");
}

#[test]
fn repeat_middle_repeats_the_centre_of_its_window() {
    // (T, window, repeated layer): the centre start + (M - 1) / 2, the lower middle layer
    // for an even width M; never T / 2 unless that is the centre.
    let cases = [
        (8, [2, 5], 3),
        (8, [0, 1], 0),
        (8, [7, 8], 7),
        (8, [0, 8], 3),
        (8, [5, 7], 5),
        (30, [5, 12], 8),
        (30, [20, 30], 24),
        (30, [0, 4], 1),
        (31, [1, 31], 15),
    ];
    for (num_layers, [start, end], centre) in cases {
        let repeat = Variant::RepeatMiddle {
            window: Window::Range { start, end },
            layer: None,
        };
        let steps = (0..start)
            .chain(std::iter::repeat_n(centre, end - start))
            .chain(end..num_layers);
        let expected = Plan::new(
            steps
                .map(|i| Step::Layer(layer_plan::LayerId::whole(i)))
                .collect(),
            num_layers,
        )
        .unwrap();
        assert_eq!(
            repeat.compile(num_layers),
            Ok(expected),
            "T = {num_layers}, range {start}..{end}"
        );
    }
    // The same centre as the start_layer form of the same window: T / 2, for odd and even T.
    for num_layers in 1..=40 {
        for s in 0..=(num_layers - 1) / 2 {
            let window = Window::StartLayer(s).resolve(num_layers).unwrap();
            let [by_start, by_range] = [
                Window::StartLayer(s),
                Window::Range {
                    start: window.start,
                    end: window.end,
                },
            ]
            .map(|window| {
                Variant::RepeatMiddle {
                    window,
                    layer: None,
                }
                .compile(num_layers)
            });
            if window.is_empty() {
                continue; // an empty range is an error, an empty start_layer window the baseline
            }
            assert_eq!(by_start, by_range, "T = {num_layers}, s = {s}");
            let middle = by_start.unwrap().steps()[window.start].clone();
            assert_eq!(
                middle,
                Step::Layer(layer_plan::LayerId::whole(num_layers / 2)),
                "T = {num_layers}, s = {s}"
            );
        }
    }
}

#[test]
fn non_windowed_variants() {
    let cases = [
        (spec("baseline"), 8, "0..8"),
        (spec("baseline"), 30, "0..30"),
        (
            VariantSpec {
                layer: Some(3),
                ..spec("skip-one")
            },
            8,
            "0..3 4..8",
        ),
        (
            VariantSpec {
                layer: Some(0),
                ..spec("skip-one")
            },
            30,
            "1..30",
        ),
        (
            VariantSpec {
                layer: Some(3),
                ..spec("swap")
            },
            8,
            "0..3 4 3 5..8",
        ),
        (
            VariantSpec {
                layer: Some(1),
                with: Some(6),
                ..spec("swap")
            },
            8,
            "0 6 2..6 1 7",
        ),
        (
            VariantSpec {
                layer: Some(28),
                ..spec("swap")
            },
            30,
            "0..28 29 28",
        ),
        (
            VariantSpec {
                start_layer: Some(2),
                layer: Some(0),
                ..spec("repeat-middle")
            },
            8,
            "0..3 0x3 6..8",
        ),
        (
            VariantSpec {
                plan: Some("0..4 3..8".into()),
                ..spec("explicit")
            },
            8,
            "0..3 3x2 4..8",
        ),
        (
            VariantSpec {
                slices: Some(vec![[0, 4], [3, 8]]),
                ..spec("explicit")
            },
            8,
            "0..3 3x2 4..8",
        ),
        (
            VariantSpec {
                slices: Some(vec![[0, 20], [10, 30]]),
                ..spec("explicit")
            },
            30,
            "0..20 10..30",
        ),
    ];
    for (spec, num_layers, expected) in cases {
        assert_eq!(compile(spec.clone(), num_layers), expected, "{spec:?}");
    }
}

#[test]
fn portable_shuffle_is_locked_in() {
    // ChaCha8 seed_from_u64 + Fisher–Yates: a change here changes published results.
    let variant = Variant::Shuffle {
        window: Window::StartLayer(10),
        seed: 0,
        rng: ShuffleRng::Portable,
    };
    assert_eq!(variant.compile(30).unwrap().to_string(), PORTABLE_T30_SEED0);
    let other = Variant::Shuffle {
        window: Window::StartLayer(10),
        seed: 1,
        rng: ShuffleRng::Portable,
    };
    assert_ne!(other.compile(30).unwrap(), variant.compile(30).unwrap());
}

const PORTABLE_T30_SEED0: &str = "0..11 14 16 13 19 12 11 15 18 17 20..30";

/// The weight index run at each position, for plans of single layers.
fn permutation(plan: &Plan) -> Vec<usize> {
    let single = |step: &Step| match step {
        Step::Layer(id) => id.0,
        Step::Parallel { .. } => panic!("not a permutation"),
    };
    plan.steps().iter().map(single).collect()
}

#[test]
fn swap_applied_twice_is_the_baseline() {
    for num_layers in 2..12 {
        for a in 0..num_layers {
            for b in (0..num_layers).filter(|&b| b != a) {
                let perm = permutation(&Variant::Swap { a, b }.compile(num_layers).unwrap());
                let twice: Vec<usize> = perm.iter().map(|&i| perm[i]).collect();
                assert_eq!(twice, (0..num_layers).collect::<Vec<_>>(), "swap {a} {b}");
                assert_ne!(perm, twice);
            }
        }
    }
}

#[test]
fn reverse_and_shuffle_are_permutations_of_the_window() {
    for rng in [ShuffleRng::Python, ShuffleRng::Portable] {
        for seed in 0..20 {
            let variant = Variant::Shuffle {
                window: Window::StartLayer(5),
                seed,
                rng,
            };
            let mut perm = permutation(&variant.compile(32).unwrap());
            assert_eq!(perm[..6], [0, 1, 2, 3, 4, 5]);
            assert_eq!(perm[27..], [27, 28, 29, 30, 31]);
            perm.sort_unstable();
            assert_eq!(perm, (0..32).collect::<Vec<_>>());
        }
    }
}

/// Every windowed variant on `window`.
fn windowed(window: Window) -> Vec<Variant> {
    vec![
        Variant::Skip {
            window,
            part: Part::Whole,
        },
        Variant::Reverse { window },
        Variant::Shuffle {
            window,
            seed: 3,
            rng: ShuffleRng::Python,
        },
        Variant::Shuffle {
            window,
            seed: 3,
            rng: ShuffleRng::Portable,
        },
        Variant::RepeatMiddle {
            window,
            layer: None,
        },
        Variant::RepeatMiddle {
            window,
            layer: Some(0),
        },
        Variant::DoubleRepeat { window },
        Variant::TripleRepeat { window },
        Variant::Parallel { window },
        Variant::LoopedParallel { window, times: 3 },
    ]
}

#[test]
fn empty_window_gives_the_baseline() {
    // T = 31, s = 15: M = 31 - 30 - 1 = 0.
    let baseline = Plan::baseline(31).unwrap();
    for variant in windowed(Window::StartLayer(15)) {
        assert_eq!(variant.compile(31).as_ref(), Ok(&baseline), "{variant:?}");
        assert_eq!(variant.affected_layers(31), Ok(Some(0)));
    }
    assert_eq!(Variant::Baseline.compile(31), Ok(baseline));
}

#[test]
fn paper_facts() {
    // s = 15 on 32 layers touches 1 layer.
    let window = Window::StartLayer(15);
    assert_eq!(window.resolve(32), Ok(16..17));
    assert_eq!(
        Variant::Skip {
            window,
            part: Part::Whole
        }
        .affected_layers(32),
        Ok(Some(1))
    );
    // s = 13 on 32 layers: skip runs 27 layers, skipping 5.
    let skip = Variant::Skip {
        window: Window::StartLayer(13),
        part: Part::Whole,
    };
    assert_eq!(skip.compile(32).unwrap().layer_passes(), 27);
    assert_eq!(skip.affected_layers(32), Ok(Some(5)));
    // The centre layer is 16 for 32 layers.
    let repeat = Variant::RepeatMiddle {
        window: Window::StartLayer(13),
        layer: None,
    };
    assert_eq!(repeat.compile(32).unwrap().to_string(), "0..14 16x5 19..32");
    // s = 0 rewrites T - 1 layers: only layer 0 is kept.
    assert_eq!(Window::StartLayer(0).resolve(32), Ok(1..32));
    // Looped parallel K = 3 over M = 9 runs 11 + 27 + 10 layer passes.
    let looped = Variant::LoopedParallel {
        window: Window::StartLayer(10),
        times: 3,
    };
    assert_eq!(looped.compile(30).unwrap().layer_passes(), 48);
}

#[test]
fn affected_layers() {
    let cases = [
        (Variant::Baseline, Some(0)),
        (
            Variant::SkipOne {
                layer: 4,
                part: Part::Whole,
            },
            Some(1),
        ),
        (Variant::Swap { a: 4, b: 5 }, Some(2)),
        (
            Variant::Parallel {
                window: Window::StartLayer(10),
            },
            Some(9),
        ),
        (
            Variant::Reverse {
                window: Window::Range { start: 3, end: 7 },
            },
            Some(4),
        ),
    ];
    // An explicit plan's M is the number of layers it removes, when removing is all it does.
    let explicit = [
        ("0..30", Some(0)),
        ("0..10 14..30", Some(4)),
        ("1..29", Some(2)),
        ("0..10 12 11 13..30", None),
        ("0..10 9..30", None),
        ("0..10 [10|11] 12..30", None),
        ("0..30 29", None),
    ];
    let cases = cases.into_iter().chain(explicit.map(|(text, m)| {
        let variant = Variant::Explicit { text: text.into() };
        (variant, m)
    }));
    let slices = Variant::Slices {
        slices: vec![[0, 4], [6, 30]],
    };
    let cases = cases.chain([(slices, Some(2))]);
    for (variant, expected) in cases {
        assert_eq!(variant.affected_layers(30), Ok(expected), "{variant:?}");
    }
}

/// A spec of every variant in its serde form, as experiment grids, fixtures and stored
/// results hold it: these bytes must not change, or results directories stop resuming.
const SERIALIZED: &[(&str, &str)] = &[
    ("baseline", r#"{"name":"baseline"}"#),
    ("skip", r#"{"name":"skip","start-layer":3}"#),
    ("skip-one", r#"{"name":"skip-one","layer":4}"#),
    ("swap", r#"{"name":"swap","layer":1,"with":6}"#),
    ("reverse", r#"{"name":"reverse","range":[3,9]}"#),
    (
        "shuffle",
        r#"{"name":"shuffle","start-layer":2,"seed":3,"rng":"portable"}"#,
    ),
    (
        "repeat-middle",
        r#"{"name":"repeat-middle","range":[3,9],"layer":2}"#,
    ),
    (
        "double-repeat",
        r#"{"name":"double-repeat","start-layer":2}"#,
    ),
    (
        "triple-repeat",
        r#"{"name":"triple-repeat","start-layer":2}"#,
    ),
    ("parallel", r#"{"name":"parallel","start-layer":2}"#),
    (
        "looped-parallel",
        r#"{"name":"looped-parallel","start-layer":2,"times":3}"#,
    ),
    (
        "explicit",
        r#"{"name":"explicit","plan":"0..3 [3|4]x2 5..8"}"#,
    ),
    ("explicit", r#"{"name":"explicit","slices":[[0,4],[3,8]]}"#),
    (
        "explicit",
        r#"{"name":"explicit","plan":"0..3 5..8","label":"greedy NLL"}"#,
    ),
];

#[test]
fn every_variant_round_trips_its_serde_form_byte_for_byte() {
    let mut names: Vec<&str> = SERIALIZED.iter().map(|(name, _)| *name).collect();
    names.dedup();
    assert_eq!(names, layer_plan::variant_names().collect::<Vec<_>>());
    for (_, json) in SERIALIZED {
        let spec: VariantSpec = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&spec).unwrap(), *json);
        let toml_text = toml::to_string(&spec).unwrap();
        assert_eq!(
            toml::from_str::<VariantSpec>(&toml_text).as_ref(),
            Ok(&spec)
        );
        let variant = Variant::try_from(spec.clone()).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(
            toml::from_str::<Variant>(&toml_text),
            Ok(variant),
            "{toml_text}"
        );
    }
}

#[test]
fn spec_defaults_and_file_form() {
    let from_file: Variant =
        toml::from_str("name = \"shuffle\"\nstart-layer = 10\nseed = 4\nrng = \"portable\"")
            .unwrap();
    let window = Window::StartLayer(10);
    assert_eq!(
        from_file,
        Variant::Shuffle {
            window,
            seed: 4,
            rng: ShuffleRng::Portable
        }
    );
    let defaults: Variant =
        toml::from_str("name = \"shuffle\"\nrange = [11, 20]\nseed = 4").unwrap();
    let window = Window::Range { start: 11, end: 20 };
    assert_eq!(
        defaults,
        Variant::Shuffle {
            window,
            seed: 4,
            rng: ShuffleRng::Python
        }
    );
    let swap: Variant = toml::from_str("name = \"swap\"\nlayer = 4").unwrap();
    assert_eq!(swap, Variant::Swap { a: 4, b: 5 });
    let typo = toml::from_str::<Variant>("name = \"skip\"\nstart_layer = 3").unwrap_err();
    assert!(typo.to_string().contains("start_layer"), "{typo}");
    assert_eq!("portable".parse(), Ok(ShuffleRng::Portable));
    assert_eq!(ShuffleRng::Python.to_string(), "python");
}

#[test]
fn spec_errors_name_the_argument() {
    let cases: &[(VariantSpec, &[&str])] = &[
        (
            spec("foo"),
            &[
                "unknown variant 'foo'",
                "(valid: baseline, skip,",
                "looped-parallel",
            ],
        ),
        (spec("skip"), &["skip needs start-layer or range"]),
        (spec("swap"), &["swap needs layer"]),
        (
            VariantSpec {
                start_layer: Some(3),
                ..spec("shuffle")
            },
            &["shuffle needs seed"],
        ),
        (
            VariantSpec {
                start_layer: Some(3),
                ..spec("looped-parallel")
            },
            &["needs times"],
        ),
        (spec("explicit"), &["explicit needs plan or slices"]),
        (
            VariantSpec {
                plan: Some("0".into()),
                slices: Some(vec![]),
                ..spec("explicit")
            },
            &["explicit takes plan or slices, not both"],
        ),
        (
            VariantSpec {
                start_layer: Some(3),
                range: Some([1, 4]),
                ..spec("skip")
            },
            &["skip takes start-layer or range, not both"],
        ),
        (
            VariantSpec {
                start_layer: Some(3),
                seed: Some(1),
                ..spec("skip")
            },
            &["skip does not take seed (valid: start-layer, range, part)"],
        ),
        (
            VariantSpec {
                times: Some(2),
                ..spec("baseline")
            },
            &["baseline does not take times (valid: none)"],
        ),
        (
            VariantSpec {
                layer: Some(3),
                rng: Some(ShuffleRng::Python),
                ..spec("swap")
            },
            &["swap does not take rng (valid: layer, with)"],
        ),
        (
            VariantSpec {
                start_layer: Some(3),
                times: Some(2),
                ..spec("reverse")
            },
            &["reverse does not take times (valid: start-layer, range)"],
        ),
        (
            VariantSpec {
                start_layer: Some(3),
                seed: Some(1),
                times: Some(2),
                ..spec("shuffle")
            },
            &["shuffle does not take times (valid: start-layer, range, seed, rng)"],
        ),
        (
            VariantSpec {
                plan: Some("0".into()),
                seed: Some(1),
                ..spec("explicit")
            },
            &["explicit does not take seed (valid: plan, slices, label)"],
        ),
        (
            VariantSpec {
                start_layer: Some(3),
                label: Some("greedy".into()),
                ..spec("skip")
            },
            &["skip does not take label (valid: start-layer, range, part)"],
        ),
    ];
    for (spec, parts) in cases {
        assert_message(&Variant::try_from(spec.clone()).unwrap_err(), parts);
    }
    assert_message(
        &"numpy".parse::<ShuffleRng>().unwrap_err(),
        &["unknown shuffle rng 'numpy' (valid: portable, python)"],
    );
}

#[test]
fn compile_errors_name_the_value_and_range() {
    let window = Window::StartLayer(3);
    let cases: &[(Variant, usize, &[&str])] = &[
        (
            Variant::Skip {
                window: Window::StartLayer(16),
                part: Part::Whole,
            },
            32,
            &["start layer 16", "32 layers", "0..=15"],
        ),
        (
            Variant::Skip {
                window: Window::StartLayer(4),
                part: Part::Whole,
            },
            8,
            &["start layer 4", "0..=3"],
        ),
        (
            Variant::Skip {
                window: Window::Range { start: 5, end: 5 },
                part: Part::Whole,
            },
            32,
            &["layer window 5..5", "empty"],
        ),
        (
            Variant::Skip {
                window: Window::Range { start: 9, end: 4 },
                part: Part::Whole,
            },
            32,
            &["layer window 9..4"],
        ),
        (
            Variant::Skip {
                window: Window::Range { start: 10, end: 40 },
                part: Part::Whole,
            },
            32,
            &["10..40", "0..=32"],
        ),
        (
            Variant::Skip {
                window: Window::Range { start: 0, end: 8 },
                part: Part::Whole,
            },
            8,
            &["empty plan"],
        ),
        (
            Variant::SkipOne {
                layer: 32,
                part: Part::Whole,
            },
            32,
            &["skipped layer 32", "0..32"],
        ),
        (
            Variant::SkipOne {
                layer: 0,
                part: Part::Whole,
            },
            1,
            &["empty plan"],
        ),
        (
            Variant::Swap { a: 31, b: 32 },
            32,
            &["swapped layer 32", "0..32"],
        ),
        (Variant::Swap { a: 3, b: 3 }, 32, &["layer 3 twice"]),
        (
            Variant::RepeatMiddle {
                window,
                layer: Some(40),
            },
            32,
            &["repeated layer 40", "0..32"],
        ),
        (
            Variant::LoopedParallel { window, times: 0 },
            32,
            &["repeat count 0", "at least 1"],
        ),
        (
            Variant::LoopedParallel {
                window,
                times: usize::MAX,
            },
            32,
            &["plan too long"],
        ),
        (
            Variant::Explicit {
                text: "0 1 99".into(),
            },
            32,
            &["character 5", "layer 99", "0..32"],
        ),
        (
            Variant::Slices {
                slices: vec![[0, 4], [6, 3]],
            },
            32,
            &["slice 6..3", "empty or reversed"],
        ),
        (
            Variant::Slices {
                slices: vec![[0, 40]],
            },
            32,
            &["slice 0..40", "0..=32"],
        ),
        (Variant::Slices { slices: vec![] }, 32, &["empty plan"]),
        (Variant::Baseline, 0, &["0 layers"]),
        (
            Variant::Skip {
                window,
                part: Part::Whole,
            },
            0,
            &["0 layers"],
        ),
    ];
    for (variant, num_layers, parts) in cases {
        assert_message(&variant.compile(*num_layers).unwrap_err(), parts);
    }
    let err = Variant::Skip {
        window: Window::StartLayer(16),
        part: Part::Whole,
    }
    .affected_layers(32)
    .unwrap_err();
    assert_message(&err, &["start layer 16", "0..=15"]);
}

#[test]
fn explicit_variant_matches_parse() {
    let text = "0..11 [11|12|13|14|15|16|17|18|19]x3 20..30";
    let variant = Variant::Explicit { text: text.into() };
    assert_eq!(variant.compile(30), Ok(parse(text, 30)));
    let looped = Variant::LoopedParallel {
        window: Window::StartLayer(10),
        times: 3,
    };
    assert_eq!(looped.compile(30), Ok(parse(text, 30)));
}
