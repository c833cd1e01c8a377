//! `PyRandom` against values printed by CPython 3.11.7.
//!
//! The expected values come from `python3 gen.py`, where gen.py is:
//! ```python
//! import random
//! for seed in [0, 1, 42, 1234]:
//!     for n in [9, 13, 29]:
//!         r = random.Random(seed); l = list(range(n)); r.shuffle(l); print("shuffle", seed, n, l)
//! r = random.Random(1234); print("sample7473", [r.sample(range(7473), 5) for _ in range(3)])
//! r = random.Random(1234); print("sample10_5", r.sample(range(10), 5), r.sample(range(10), 5))
//! r = random.Random(99); print("sample50_10", r.sample(range(50), 10))
//! r = random.Random(99); print("sample100_10", r.sample(range(100), 10))
//! for seed in [0, 1234, 2**40 + 5]:
//!     r = random.Random(seed); print("random", seed, [repr(r.random()) for _ in range(3)])
//! r = random.Random(7); print("bits1_32", [r.getrandbits(k) for k in range(1, 33)])
//! r = random.Random(7); print("bits_big", r.getrandbits(40), r.getrandbits(64), r.getrandbits(100))
//! ```

use layer_plan::{PyRandom, SampleTooLarge};

#[test]
fn shuffle_matches_cpython() {
    let cases: &[(u64, &[usize])] = &[
        (0, &[7, 5, 1, 3, 4, 2, 0, 8, 6]),
        (0, &[1, 10, 9, 5, 11, 2, 3, 7, 8, 4, 0, 12, 6]),
        (
            0,
            &[
                3, 10, 17, 22, 5, 0, 7, 25, 23, 14, 19, 26, 20, 2, 18, 4, 6, 11, 21, 9, 28, 15, 16,
                8, 1, 13, 24, 12, 27,
            ],
        ),
        (1, &[5, 6, 7, 4, 3, 0, 8, 1, 2]),
        (1, &[8, 12, 0, 11, 5, 3, 6, 7, 10, 4, 1, 9, 2]),
        (
            1,
            &[
                26, 16, 11, 10, 23, 1, 5, 28, 7, 20, 9, 27, 17, 13, 0, 19, 22, 6, 12, 21, 14, 15,
                3, 8, 2, 24, 25, 18, 4,
            ],
        ),
        (42, &[3, 6, 7, 4, 8, 2, 5, 0, 1]),
        (42, &[7, 6, 2, 9, 12, 5, 11, 8, 3, 4, 0, 1, 10]),
        (
            42,
            &[
                18, 14, 10, 22, 21, 6, 5, 12, 11, 15, 9, 24, 19, 28, 16, 26, 1, 13, 2, 17, 27, 4,
                25, 7, 8, 23, 0, 3, 20,
            ],
        ),
        (1234, &[8, 3, 2, 5, 4, 6, 0, 1, 7]),
        (1234, &[2, 3, 8, 4, 11, 6, 5, 9, 10, 0, 1, 7, 12]),
        (
            1234,
            &[
                19, 27, 8, 4, 6, 22, 13, 20, 23, 17, 9, 10, 5, 15, 12, 16, 25, 7, 11, 26, 28, 21,
                1, 18, 2, 0, 3, 14, 24,
            ],
        ),
    ];
    for (seed, expected) in cases {
        let mut items: Vec<usize> = (0..expected.len()).collect();
        PyRandom::new(*seed).shuffle(&mut items);
        assert_eq!(&items, expected, "seed {seed}, n {}", expected.len());
    }
}

#[test]
fn gsm8k_fewshot_sample_matches_cpython() {
    // Set method (n = 7473 > setsize = 21).
    let mut rng = PyRandom::new(1234);
    let draws: Vec<Vec<usize>> = (0..3)
        .map(|_| rng.sample_indices(7473, 5).unwrap())
        .collect();
    assert_eq!(
        draws,
        [
            vec![6374, 3610, 957, 61, 742],
            vec![7462, 6610, 4769, 286, 5501],
            vec![5677, 687, 806, 6279, 2905],
        ]
    );
}

#[test]
fn sample_pool_and_set_methods_match_cpython() {
    let mut rng = PyRandom::new(1234);
    assert_eq!(rng.sample_indices(10, 5).unwrap(), [7, 1, 0, 9, 4]);
    assert_eq!(rng.sample_indices(10, 5).unwrap(), [0, 1, 8, 6, 2]);
    // k = 10: setsize = 21 + 4^ceil(log4(30)) = 85, so n = 50 pools and n = 100 uses a set.
    let pool = PyRandom::new(99).sample_indices(50, 10).unwrap();
    assert_eq!(pool, [25, 24, 12, 38, 11, 14, 15, 8, 5, 16]);
    let set = PyRandom::new(99).sample_indices(100, 10).unwrap();
    assert_eq!(set, [51, 48, 25, 76, 22, 29, 31, 17, 97, 11]);
    assert_eq!(
        PyRandom::new(0).sample_indices(3, 4),
        Err(SampleTooLarge { k: 4, n: 3 })
    );
}

#[test]
fn random_matches_cpython() {
    let cases: &[(u64, [f64; 3])] = &[
        (
            0,
            [0.8444218515250481, 0.7579544029403025, 0.420571580830845],
        ),
        (
            1234,
            [0.9664535356921388, 0.4407325991753527, 0.007491470058587191],
        ),
        // A seed wider than 32 bits keys init_by_array with two words.
        (
            (1 << 40) + 5,
            [0.5043802970418443, 0.2686044399723282, 0.9257865475671585],
        ),
    ];
    for (seed, expected) in cases {
        let mut rng = PyRandom::new(*seed);
        let got = [rng.random(), rng.random(), rng.random()];
        assert_eq!(&got, expected, "seed {seed}");
    }
}

#[test]
fn getrandbits_matches_cpython() {
    let expected: [u64; 32] = [
        0, 3, 1, 6, 20, 3, 9, 210, 274, 96, 748, 2387, 475, 14904, 16627, 14070, 4914, 22530,
        227355, 438485, 146497, 1009413, 760955, 9245038, 14244500, 3966838, 110978213, 151787820,
        66465668, 1017316375, 479402028, 2708517688,
    ];
    let mut rng = PyRandom::new(7);
    let got: Vec<u64> = (1..=32).map(|k| rng.getrandbits(k).unwrap()).collect();
    assert_eq!(got, expected);

    let mut rng = PyRandom::new(7);
    assert_eq!(rng.getrandbits(40), Some(1_040_772_936_760));
    assert_eq!(rng.getrandbits(64), Some(7_283_207_964_119_141_687));
    let words = rng.getrandbits_words(100);
    let value = words
        .iter()
        .rev()
        .fold(0u128, |acc, &w| (acc << 32) | u128::from(w));
    assert_eq!(value, 1_035_705_106_444_046_403_401_351_930_960);
    assert_eq!(PyRandom::new(7).getrandbits(65), None);
}
