//! Seeded permutations of a layer window, for the shuffle variant.
//!
//! Two generators: [`ShuffleRng::Python`] replays CPython's `random.seed(seed);
//! random.shuffle(list)` (what the paper's code does), and [`ShuffleRng::Portable`] uses
//! ChaCha8 with a hand-written Fisher–Yates and rejection-sampled bounded integers, so its
//! output depends only on the ChaCha8 stream, never on `rand`'s sampling algorithms.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::PlanError;
use crate::pyrandom::PyRandom;

/// Which generator permutes the window. Its serde form is its name, read as `from_str`
/// reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum ShuffleRng {
    /// ChaCha8 seeded with `seed_from_u64`, Fisher–Yates from the back.
    Portable,
    /// CPython's `random.seed(seed); random.shuffle(list)`, as in the paper's code.
    #[default]
    Python,
}

impl ShuffleRng {
    /// Permutes `items` in place with the given seed.
    pub fn shuffle<T>(self, items: &mut [T], seed: u64) {
        match self {
            ShuffleRng::Python => PyRandom::new(seed).shuffle(items),
            ShuffleRng::Portable => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                for i in (1..items.len()).rev() {
                    // usize fits in u64, and the result is at most i.
                    let j = bounded(&mut rng, i as u64 + 1) as usize;
                    items.swap(i, j);
                }
            }
        }
    }
}

/// Uniform in `0..n` (n >= 1) by rejecting the `2^64 mod n` lowest draws.
fn bounded(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    let threshold = n.wrapping_neg() % n;
    loop {
        let x = rng.next_u64();
        if x >= threshold {
            return x % n;
        }
    }
}

impl fmt::Display for ShuffleRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShuffleRng::Portable => "portable",
            ShuffleRng::Python => "python",
        })
    }
}

impl TryFrom<String> for ShuffleRng {
    type Error = PlanError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        name.parse()
    }
}

impl FromStr for ShuffleRng {
    type Err = PlanError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "portable" => Ok(ShuffleRng::Portable),
            "python" => Ok(ShuffleRng::Python),
            _ => Err(PlanError::UnknownRng {
                name: name.to_string(),
            }),
        }
    }
}
