//! A faithful port of CPython 3.11's `random.Random` for non-negative integer seeds.
//!
//! Reproduces `random.Random(seed)` (MT19937 seeded by `init_by_array` on the seed's
//! 32-bit little-endian words), `getrandbits`, `_randbelow`, `random`, `shuffle` and the
//! indices `sample` picks, so seeded choices made by Python tools (the paper's
//! `random.shuffle`, lm-evaluation-harness's few-shot `rnd.sample`) can be replayed
//! exactly. It does not cover string/float/bytes seeds or the other distributions.

use rand_mt::Mt;
use thiserror::Error;

/// `random.sample` was asked for more items than the population has.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("sample of {k} items is larger than the population of {n}")]
pub struct SampleTooLarge {
    pub k: usize,
    pub n: usize,
}

/// CPython's `random.Random`, seeded with a non-negative integer.
#[derive(Debug, Clone)]
pub struct PyRandom {
    mt: Mt,
}

impl PyRandom {
    /// `random.Random(seed)`.
    pub fn new(seed: u64) -> Self {
        // CPython keys init_by_array with |seed| as 32-bit little-endian words, at least one.
        let low = seed as u32;
        let high = (seed >> 32) as u32;
        let key = if high == 0 {
            vec![low]
        } else {
            vec![low, high]
        };
        PyRandom {
            mt: Mt::new_with_key(key),
        }
    }

    /// `getrandbits(k)` for `k <= 64`; `None` for larger `k` (see [`Self::getrandbits_words`]).
    pub fn getrandbits(&mut self, k: u32) -> Option<u64> {
        (k <= 64).then(|| self.bits(k))
    }

    /// `getrandbits(k)` for any `k`, as the result's 32-bit words, least significant first.
    pub fn getrandbits_words(&mut self, k: usize) -> Vec<u32> {
        let mut words = Vec::with_capacity(k.div_ceil(32));
        let mut left = k;
        while left > 0 {
            let word = self.mt.next_u32();
            words.push(if left < 32 { word >> (32 - left) } else { word });
            left = left.saturating_sub(32);
        }
        words
    }

    /// `_randbelow(n)`: uniform in `0..n` by rejection on `n.bit_length()` bits.
    /// CPython loops forever on `n = 0`; this returns 0 without drawing.
    pub fn randbelow(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let k = u64::BITS - n.leading_zeros();
        loop {
            let r = self.bits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `random()`: a float in `[0, 1)` with 53 random bits.
    pub fn random(&mut self) -> f64 {
        let a = f64::from(self.mt.next_u32() >> 5);
        let b = f64::from(self.mt.next_u32() >> 6);
        (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `shuffle(items)` in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.randbelow_usize(i + 1);
            items.swap(i, j);
        }
    }

    /// The indices into a population of `n` that `sample(population, k)` picks, in order.
    pub fn sample_indices(&mut self, n: usize, k: usize) -> Result<Vec<usize>, SampleTooLarge> {
        if k > n {
            return Err(SampleTooLarge { k, n });
        }
        let mut setsize: usize = 21;
        if k > 5 {
            let exponent = ((k as f64) * 3.0).ln() / 4f64.ln();
            setsize = setsize.saturating_add(4usize.saturating_pow(exponent.ceil() as u32));
        }
        if n <= setsize {
            let mut pool: Vec<usize> = (0..n).collect();
            Ok((0..k)
                .map(|i| {
                    let j = self.randbelow_usize(n - i);
                    let picked = pool[j];
                    pool[j] = pool[n - i - 1];
                    picked
                })
                .collect())
        } else {
            let mut selected = std::collections::HashSet::with_capacity(k);
            Ok((0..k)
                .map(|_| {
                    loop {
                        let j = self.randbelow_usize(n);
                        if selected.insert(j) {
                            break j;
                        }
                    }
                })
                .collect())
        }
    }

    fn randbelow_usize(&mut self, n: usize) -> usize {
        // usize fits in u64 on every supported target, and the result is below n.
        self.randbelow(n as u64) as usize
    }

    /// `getrandbits(k)` for `k <= 64`: CPython's word order, top word shifted down.
    fn bits(&mut self, k: u32) -> u64 {
        match k {
            0 => 0,
            1..=32 => u64::from(self.mt.next_u32() >> (32 - k)),
            _ => {
                let low = u64::from(self.mt.next_u32());
                let high = u64::from(self.mt.next_u32() >> (64 - k));
                (high << 32) | low
            }
        }
    }
}
