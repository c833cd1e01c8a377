//! Which layers matter: proxies read off the residual stream, beside the real drop of
//! removing layers, with the definitions the papers use so numbers compare:
//!
//! - h_0 = token embeddings, h_k = the stream after the k-th executed step, always
//!   before the final norm;
//! - Block Influence (ShortGPT) `BI_i = 1 - mean over every token of every text of
//!   cos(h_i, h_{i+1})`;
//! - relative magnitude `mean over every token of ||h_{i+1} - h_i|| / ||h_{i+1}||`;
//! - angular distance (Gromov et al.) `d(l, n) = mean over texts of
//!   arccos(cos(h_l, h_{l+n}) at the text's last token) / pi`, l = 0..T-n;
//! - the NLL objective: total next-token negative log-likelihood over every predicted
//!   token of every text.
//!
//! Statistics are kept per text ([`TextStats`]), so a bootstrap over texts can put an
//! interval on each proxy's Spearman correlation with the real drop.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

/// What one text contributes to the proxies of a plan with T steps.
#[derive(Clone, Debug)]
pub struct TextStats {
    pub tokens: usize,
    /// Σ over tokens of cos(h_i, h_{i+1}), i = 0..T.
    pub cos_sum: Vec<f64>,
    /// Σ over tokens of ||h_{i+1} - h_i|| / ||h_{i+1}||, i = 0..T.
    pub relative_sum: Vec<f64>,
    /// cos(h_a, h_b) at the last token, (T+1) x (T+1) row-major.
    pub last_cos: Vec<f64>,
}

/// Euclidean norm over the last dimension, at least 1e-12 (a zero vector has cosine 0).
fn norm(xs: &Tensor) -> Tensor {
    xs.square()
        .sum_dim_intlist(-1, false, Kind::Double)
        .sqrt()
        .clamp_min(1e-12)
}

fn values(t: &Tensor) -> Result<Vec<f64>, tch::TchError> {
    Vec::<f64>::try_from(&t.f_flatten(0, -1)?)
}

impl TextStats {
    /// From one text's residual streams h_0..h_T, each (1, S, C).
    pub fn from_hidden(hidden: &[Tensor]) -> Result<Self, tch::TchError> {
        let h = Tensor::f_stack(hidden, 0)?
            .f_squeeze_dim(1)?
            .f_to_kind(Kind::Double)?
            .f_to_device(Device::Cpu)?; // (T+1, S, C)
        let (steps, tokens) = (h.size()[0] - 1, h.size()[1]);
        let norms = norm(&h); // (T+1, S)
        let (before, after) = (h.f_narrow(0, 0, steps)?, h.f_narrow(0, 1, steps)?);
        let (n_before, n_after) = (norms.f_narrow(0, 0, steps)?, norms.f_narrow(0, 1, steps)?);
        let cos =
            (&before * &after).f_sum_dim_intlist(-1, false, Kind::Double)? / (&n_before * &n_after); // (T, S)
        let relative = norm(&(&after - &before)) / &n_after; // (T, S)
        let last = h.f_select(1, tokens - 1)?; // (T+1, C)
        let unit = &last / norm(&last).f_unsqueeze(-1)?;
        Ok(TextStats {
            tokens: tokens as usize,
            cos_sum: values(&cos.f_sum_dim_intlist(-1, false, Kind::Double)?)?,
            relative_sum: values(&relative.f_sum_dim_intlist(-1, false, Kind::Double)?)?,
            last_cos: values(&unit.f_matmul(&unit.f_tr()?)?)?,
        })
    }

    fn steps(&self) -> usize {
        self.cos_sum.len()
    }
}

/// The proxies over a set of texts.
#[derive(Clone, Debug, PartialEq)]
pub struct Proxies {
    /// BI_i, i = 0..T.
    pub block_influence: Vec<f64>,
    /// i = 0..T.
    pub relative_magnitude: Vec<f64>,
    /// `angular[n - 1][l]` = d(l, n), n = 1..=max_block, l = 0..=T-n.
    pub angular: Vec<Vec<f64>>,
}

/// The proxies over `texts[pick]` (a text may be picked more than once, as a bootstrap
/// resample picks them), blocks up to `max_block` steps.
pub fn proxies(texts: &[TextStats], pick: &[usize], max_block: usize) -> Proxies {
    let steps = texts[0].steps();
    let tokens: f64 = pick.iter().map(|&t| texts[t].tokens as f64).sum();
    let per_step = |field: fn(&TextStats) -> &Vec<f64>| -> Vec<f64> {
        (0..steps)
            .map(|i| pick.iter().map(|&t| field(&texts[t])[i]).sum::<f64>() / tokens)
            .collect()
    };
    let block_influence = per_step(|s| &s.cos_sum).iter().map(|c| 1.0 - c).collect();
    let relative_magnitude = per_step(|s| &s.relative_sum);
    let angular = (1..=max_block.min(steps))
        .map(|n| {
            (0..=steps - n)
                .map(|l| {
                    let at = l * (steps + 1) + l + n;
                    let sum: f64 = pick
                        .iter()
                        .map(|&t| texts[t].last_cos[at].clamp(-1.0, 1.0).acos())
                        .sum();
                    sum / pick.len() as f64 / std::f64::consts::PI
                })
                .collect()
        })
        .collect();
    Proxies {
        block_influence,
        relative_magnitude,
        angular,
    }
}

/// The start of the block of `n` steps with the least angular distance (the lower start
/// on a tie), and that distance.
pub fn best_block(angular: &[f64]) -> (usize, f64) {
    angular
        .iter()
        .copied()
        .enumerate()
        .fold(
            (0, f64::INFINITY),
            |best, (l, d)| if d < best.1 { (l, d) } else { best },
        )
}

/// Ranks from 1, ties sharing their mean rank.
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut ranks = vec![0.0; xs.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && xs[order[end]] == xs[order[start]] {
            end += 1;
        }
        let mean = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = mean;
        }
        start = end;
    }
    ranks
}

/// Spearman's rank correlation (the Pearson correlation of the ranks); `None` when either
/// side is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    let (rx, ry) = (ranks(x), ranks(y));
    let n = x.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// A statistic and its 95% percentile bootstrap interval.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub value: Option<f64>,
    /// [2.5%, 97.5%] over the resamples where the statistic exists.
    pub ci: Option<[f64; 2]>,
}

/// `statistic` over all `n` texts, and its percentile interval over `resamples`
/// resamples of the texts with replacement (ChaCha8 seeded 0, so reruns agree).
pub fn bootstrap(
    n: usize,
    resamples: usize,
    statistic: impl Fn(&[usize]) -> Option<f64>,
) -> Estimate {
    let all: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut draws: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            let pick: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            statistic(&pick)
        })
        .collect();
    draws.sort_by(f64::total_cmp);
    let at = |q: f64| draws[((draws.len() - 1) as f64 * q).round() as usize];
    Estimate {
        value: statistic(&all),
        ci: (!draws.is_empty()).then(|| [at(0.025), at(0.975)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_by_hand() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[3.0, 2.0, 1.0]), None);
        // Ties share ranks: x ranks (1.5, 1.5, 3), y ranks (1, 2, 3) -> r = 0.866...
        let r = spearman(&[5.0, 5.0, 9.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((r - 0.75f64.sqrt()).abs() < 1e-12, "{r}");
    }

    /// Streams built so every proxy is known: h_1 = 2 h_0 (cos 1, relative 1/2), h_2
    /// orthogonal to h_1 with the same norm (cos 0, relative sqrt(2)).
    #[test]
    fn proxies_by_hand() {
        let h0 = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0]).view([1, 2, 2]);
        let h1 = &h0 * 2.0;
        let h2 = Tensor::from_slice(&[0.0f32, 2.0, -2.0, 0.0]).view([1, 2, 2]);
        let stats = TextStats::from_hidden(&[h0, h1, h2]).unwrap();
        let p = proxies(&[stats], &[0], 2);
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(&p.block_influence, &[0.0, 1.0]), "{p:?}");
        assert!(close(&p.relative_magnitude, &[0.5, 2f64.sqrt()]), "{p:?}");
        // Last token: h_0 = (0, 1), h_1 = (0, 2), h_2 = (-2, 0): angles 0, 90 and 90 degrees.
        assert!(close(&p.angular[0], &[0.0, 0.5]), "{p:?}");
        assert!(close(&p.angular[1], &[0.5]), "{p:?}");
        assert_eq!(best_block(&p.angular[0]), (0, 0.0));
    }

    #[test]
    fn bootstrap_brackets_the_statistic() {
        let xs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let mean =
            |pick: &[usize]| Some(pick.iter().map(|&i| xs[i]).sum::<f64>() / pick.len() as f64);
        let e = bootstrap(xs.len(), 1000, mean);
        let [lo, hi] = e.ci.unwrap();
        assert_eq!(e.value, Some(4.5));
        assert!(lo < 4.5 && 4.5 < hi && lo > 1.0 && hi < 8.0, "{e:?}");
        assert_eq!(bootstrap(xs.len(), 1000, mean), e, "seeded");
    }
}
