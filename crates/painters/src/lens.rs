//! The logit lens: what the model would predict if it stopped after executed step k,
//! `head(final_norm(h_k))` (the family's head, its final norm included), for k = 1..S.
//! Per step, over every predicted token of every text: the mean next-token NLL, the KL
//! divergence from the final step's distribution `KL(p_S || p_k)`, the share of tokens
//! whose top-1 agrees with the final prediction, and the entropy of `p_k`.
//!
//! B = 1 text, T tokens, V vocab, S steps.

use tch::{Kind, TchError, Tensor};

/// Sums of one text's per-token lens statistics, one entry per step.
#[derive(Clone, Debug, Default)]
pub struct LensSums {
    /// Predicted tokens (T - 1).
    pub tokens: usize,
    pub nll: Vec<f64>,
    pub kl: Vec<f64>,
    pub top1: Vec<f64>,
    pub entropy: Vec<f64>,
}

impl LensSums {
    /// From one text's ids (T) and the head's outputs after each step, each (T, V): the
    /// last entry is the plan's own output.
    pub fn from_logits(ids: &[i64], logits: &[Tensor]) -> Result<Self, TchError> {
        let t = ids.len() as i64;
        let targets = Tensor::f_from_slice(&ids[1..])?
            .f_to_device(logits[0].device())?
            .f_unsqueeze(-1)?; // (T-1, 1)
        // log-softmax in float32 as scoring computes it, so step k's NLL is the first-k-steps
        // plan's to the last bit; sums in float64.
        let logp = |l: &Tensor| {
            l.f_narrow(0, 0, t - 1)?
                .f_log_softmax(-1, Kind::Float)?
                .f_to_kind(Kind::Double)
        }; // (T-1, V)
        let last = logits.last().expect("a plan has a step");
        let final_logp = logp(last)?;
        let final_p = final_logp.f_exp()?;
        let final_top = final_logp.f_argmax(-1, false)?;
        let sum = |x: Tensor| x.f_sum(Kind::Double).map(|s| s.double_value(&[]));
        let mut sums = LensSums {
            tokens: (t - 1) as usize,
            ..LensSums::default()
        };
        for l in logits {
            let lp = logp(l)?;
            let p = lp.f_exp()?;
            sums.nll.push(-sum(lp.f_gather(-1, &targets, false)?)?);
            sums.kl.push(sum(final_p.f_mul(&final_logp.f_sub(&lp)?)?)?);
            sums.top1
                .push(sum(lp.f_argmax(-1, false)?.f_eq_tensor(&final_top)?)?);
            sums.entropy.push(-sum(p.f_mul(&lp)?)?);
        }
        Ok(sums)
    }
}

/// The lens over texts: per step, the means over every predicted token.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Lens {
    pub tokens: usize,
    pub nll: Vec<f64>,
    pub kl: Vec<f64>,
    pub top1: Vec<f64>,
    pub entropy: Vec<f64>,
}

impl Lens {
    pub fn from_texts(texts: &[LensSums]) -> Self {
        let tokens: usize = texts.iter().map(|t| t.tokens).sum();
        let mean = |field: fn(&LensSums) -> &Vec<f64>| -> Vec<f64> {
            let steps = texts.first().map_or(0, |t| field(t).len());
            (0..steps)
                .map(|k| texts.iter().map(|t| field(t)[k]).sum::<f64>() / tokens as f64)
                .collect()
        };
        Lens {
            tokens,
            nll: mean(|t| &t.nll),
            kl: mean(|t| &t.kl),
            top1: mean(|t| &t.top1),
            entropy: mean(|t| &t.entropy),
        }
    }
}
