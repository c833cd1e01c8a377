//! A sparse mixture-of-experts MLP as Mixtral and Qwen2-MoE run it: a linear router, a
//! softmax over experts in float32, the top k per token (re-normalised to sum to one where
//! the model does), each token through its k experts' gated MLPs, weighted and summed;
//! Qwen2-MoE adds a shared expert gated by a sigmoid. An MoE layer is still one plan layer.
//!
//! N tokens (B * T), C hidden, E experts, K experts per token, F expert width.

use tch::{Kind, TchError, Tensor};

use crate::ops::{Activation, Linear};

/// One expert, or the shared one: `down(act(gate(x)) * up(x))`.
pub struct Expert {
    pub gate: Linear,
    pub up: Linear,
    pub down: Linear,
}

impl Expert {
    fn forward(&self, xs: &Tensor, act: Activation) -> Result<Tensor, TchError> {
        let gated = act
            .forward(&self.gate.forward(xs)?)?
            .f_mul(&self.up.forward(xs)?)?;
        self.down.forward(&gated)
    }
}

pub struct SparseMoe {
    /// (E, C) router weights.
    pub router: Tensor,
    pub experts: Vec<Expert>,
    pub top_k: i64,
    /// Divide the top-k probabilities by their sum (Mixtral always; Qwen2-MoE with
    /// `norm_topk_prob`).
    pub renormalise: bool,
    /// Qwen2-MoE: an expert every token takes, scaled by sigmoid(gate (1, C) . x).
    pub shared: Option<(Expert, Tensor)>,
    pub act: Activation,
}

impl SparseMoe {
    /// (B, T, C) -> (B, T, C)
    pub fn forward(&self, h: &Tensor) -> Result<Tensor, TchError> {
        let (b, t, c) = h.size3()?;
        let xs = h.f_reshape([b * t, c])?; // (N, C)
        let probs = xs
            .f_linear::<Tensor>(&self.router, None)?
            .f_softmax(-1, Kind::Float)?; // (N, E)
        let (mut weights, chosen) = probs.f_topk(self.top_k, -1, true, true)?; // (N, K)
        if self.renormalise {
            weights = weights.f_div(&weights.f_sum_dim_intlist(-1, true, Kind::Float)?)?;
        }
        let mut out = xs.f_zeros_like()?;
        for (e, expert) in self.experts.iter().enumerate() {
            let hits = chosen.f_eq(e as i64)?.f_nonzero()?; // (M, 2): token, rank
            if hits.size()[0] == 0 {
                continue;
            }
            let (tokens, ranks) = (hits.f_select(1, 0)?, hits.f_select(1, 1)?);
            let weight = weights
                .f_index(&[Some(&tokens), Some(&ranks)])?
                .f_unsqueeze(-1)?; // (M, 1)
            let y = expert.forward(&xs.f_index_select(0, &tokens)?, self.act)?; // (M, C)
            let y = y.f_mul(&weight)?.f_to_kind(xs.kind())?;
            out = out.f_index_add(0, &tokens, &y)?;
        }
        if let Some((expert, gate)) = &self.shared {
            let scale = xs.f_linear::<Tensor>(gate, None)?.f_sigmoid()?; // (N, 1)
            out = out.f_add(&expert.forward(&xs, self.act)?.f_mul(&scale)?)?;
        }
        out.f_view([b, t, c])
    }
}
