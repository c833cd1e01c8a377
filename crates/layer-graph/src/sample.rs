//! Sampled decoding: each next token drawn from temperature-scaled, top-k- and
//! top-p-filtered probabilities, filtered as transformers' `generate(do_sample=True)`
//! filters them (its temperature, top-k and top-p warpers, in that order).
//!
//! Every prompt draws from its own ChaCha8 stream seeded by the caller, on the host, so a
//! prompt's continuation depends only on its seed: not on the batch it runs in, the batch
//! size or the device. The draws are not torch's `multinomial`, so a seeded sample is
//! reproducible in painters but not token-identical to transformers'.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// How tokens are sampled (transformers' `temperature`, `top_k`, `top_p`).
#[derive(Clone, Debug, PartialEq)]
pub struct Sampling {
    /// Logits are divided by it; > 0.
    pub temperature: f64,
    /// Keep the `top_k` most likely tokens (ties with the last kept stay); 0 keeps all.
    pub top_k: usize,
    /// Keep the most likely tokens whose probabilities sum to at least `top_p`, in (0, 1].
    pub top_p: f64,
}

impl Sampling {
    fn check(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(Error::Generate(format!(
                "temperature {} must be a number > 0",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::Generate(format!(
                "top_p {} must be in (0, 1]",
                self.top_p
            )));
        }
        Ok(())
    }
}

/// One seeded stream per prompt.
pub(crate) struct Sampler<'a> {
    settings: &'a Sampling,
    streams: Vec<ChaCha8Rng>,
}

impl<'a> Sampler<'a> {
    /// A sampler for `prompts` prompts, prompt `i` seeded with `seeds[i]`.
    pub(crate) fn new(settings: &'a Sampling, seeds: &[u64], prompts: usize) -> Result<Self> {
        settings.check()?;
        if seeds.len() != prompts {
            return Err(Error::Generate(format!(
                "{} seeds for {prompts} prompts; sampling needs one seed per prompt",
                seeds.len()
            )));
        }
        Ok(Sampler {
            settings,
            streams: seeds
                .iter()
                .map(|&s| ChaCha8Rng::seed_from_u64(s))
                .collect(),
        })
    }

    /// One token per row of `logits` (B, 1, V), each row from its own stream.
    pub(crate) fn next_tokens(&mut self, logits: &Tensor) -> Result<Vec<i64>> {
        let rows = logits
            .f_to_kind(Kind::Double)
            .and_then(|l| l.f_to_device(Device::Cpu))
            .and_then(|l| l.f_flatten(0, 1))
            .and_then(|l| Vec::<Vec<f64>>::try_from(&l))
            .map_err(|e| Error::torch("copying logits to the host", e))?;
        Ok(rows
            .iter()
            .zip(&mut self.streams)
            .map(|(row, rng)| draw(row, self.settings, uniform(rng)) as i64)
            .collect())
    }
}

/// A uniform draw in [0, 1) from the top 53 bits of one `u64` (stable across `rand`
/// versions).
fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The token that the uniform draw `u` picks from `logits` under `settings`.
fn draw(logits: &[f64], settings: &Sampling, u: f64) -> usize {
    // Most likely first; equal logits keep vocabulary order.
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    let scaled: Vec<f64> = order
        .iter()
        .map(|&i| logits[i] / settings.temperature)
        .collect();
    // top-k: drop what is below the k-th largest.
    let mut kept = scaled.len();
    if settings.top_k > 0 && settings.top_k < kept {
        let kth = scaled[settings.top_k - 1];
        kept = scaled.iter().take_while(|&&s| s >= kth).count();
    }
    let max = scaled[0];
    let mut probs: Vec<f64> = scaled[..kept].iter().map(|s| (s - max).exp()).collect();
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    // top-p: drop the least likely tokens while their total stays <= 1 - top_p, always
    // keeping the most likely one.
    if settings.top_p < 1.0 {
        let mut tail = 0.0;
        while kept > 1 && tail + probs[kept - 1] <= 1.0 - settings.top_p {
            tail += probs[kept - 1];
            kept -= 1;
        }
    }
    let total: f64 = probs[..kept].iter().sum();
    let mut target = u * total;
    for (rank, p) in probs[..kept].iter().enumerate() {
        if target < *p {
            return order[rank];
        }
        target -= p;
    }
    order[kept - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(temperature: f64, top_k: usize, top_p: f64) -> Sampling {
        Sampling {
            temperature,
            top_k,
            top_p,
        }
    }

    /// How often each token is drawn over a grid of `n` evenly spaced uniforms.
    fn frequencies(logits: &[f64], s: &Sampling, n: usize) -> Vec<f64> {
        let mut counts = vec![0.0; logits.len()];
        for i in 0..n {
            counts[draw(logits, s, (i as f64 + 0.5) / n as f64)] += 1.0 / n as f64;
        }
        counts
    }

    #[test]
    fn draws_follow_the_filtered_softmax() {
        let logits = [0.0, 2f64.ln(), 3f64.ln(), 4f64.ln()]; // probabilities 1:2:3:4
        let close =
            |got: &[f64], want: &[f64]| got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-3);
        let plain = frequencies(&logits, &settings(1.0, 0, 1.0), 10_000);
        assert!(close(&plain, &[0.1, 0.2, 0.3, 0.4]), "{plain:?}");
        // Temperature 0.5 squares the odds: 1:4:9:16.
        let hot = frequencies(&logits, &settings(0.5, 0, 1.0), 10_000);
        assert!(
            close(&hot, &[1.0 / 30.0, 4.0 / 30.0, 9.0 / 30.0, 16.0 / 30.0]),
            "{hot:?}"
        );
        // top_k 2 keeps 3:4.
        let top2 = frequencies(&logits, &settings(1.0, 2, 1.0), 10_000);
        assert!(close(&top2, &[0.0, 0.0, 3.0 / 7.0, 4.0 / 7.0]), "{top2:?}");
        // top_p 0.6: the tail 0.1 + 0.2 + 0.3 = 0.6 > 0.4 stops at 0.3, so 2:3:4 stay
        // (transformers: cumulative ascending 0.1, 0.3 <= 0.4 removed, 0.6 kept).
        let nucleus = frequencies(&logits, &settings(1.0, 0, 0.6), 10_000);
        assert!(
            close(&nucleus, &[0.0, 0.0, 3.0 / 7.0, 4.0 / 7.0]),
            "{nucleus:?}"
        );
        let nucleus = frequencies(&logits, &settings(1.0, 0, 0.75), 10_000);
        assert!(
            close(&nucleus, &[0.0, 2.0 / 9.0, 3.0 / 9.0, 4.0 / 9.0]),
            "{nucleus:?}"
        );
        // A tiny top_p keeps the most likely token only.
        let top = frequencies(&logits, &settings(1.0, 0, 1e-9), 100);
        assert!(close(&top, &[0.0, 0.0, 0.0, 1.0]), "{top:?}");
        // Ties with the k-th largest stay.
        let tied = frequencies(&[1.0, 1.0, 0.0], &settings(1.0, 1, 1.0), 1000);
        assert!(close(&tied, &[0.5, 0.5, 0.0]), "{tied:?}");
    }

    #[test]
    fn seeded_streams_repeat_and_differ() {
        let s = settings(1.0, 0, 1.0);
        let logits = Tensor::from_slice(&[0.0f32; 64]).view([2, 1, 32]);
        let tokens = |seeds: &[u64]| {
            let mut sampler = Sampler::new(&s, seeds, 2).unwrap();
            (0..8)
                .flat_map(|_| sampler.next_tokens(&logits).unwrap())
                .collect::<Vec<i64>>()
        };
        assert_eq!(tokens(&[1, 2]), tokens(&[1, 2]));
        assert_ne!(tokens(&[1, 2]), tokens(&[1, 3]));
        // A row's draws depend on its own seed only.
        let (a, b) = (tokens(&[1, 2]), tokens(&[1, 3]));
        let first_row = |t: &[i64]| t.iter().step_by(2).copied().collect::<Vec<i64>>();
        assert_eq!(first_row(&a), first_row(&b));
    }

    #[test]
    fn bad_settings_are_refused() {
        let seeds = [0];
        for (s, message) in [
            (settings(0.0, 0, 1.0), "temperature 0 must be a number > 0"),
            (settings(1.0, 0, 1.5), "top_p 1.5 must be in (0, 1]"),
        ] {
            let err = Sampler::new(&s, &seeds, 1).err().unwrap().to_string();
            assert!(err.ends_with(message), "{err}");
        }
        let err = Sampler::new(&settings(1.0, 0, 1.0), &seeds, 2)
            .err()
            .unwrap()
            .to_string();
        assert!(err.ends_with("1 seeds for 2 prompts; sampling needs one seed per prompt"));
    }
}
