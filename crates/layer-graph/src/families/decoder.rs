//! The rotary decoder block that Llama, Mistral, Qwen, Mixtral, Gemma, Phi-3 and OLMo-2
//! share, with the options that tell them apart; the family files read their configs and
//! tensor names into it, and the forward pass is written once, here.
//!
//! A layer is `h + out_norm(attn(in_norm(h)))`, then `h + out_norm(mlp(in_norm(h)))`, each
//! norm optional: Llama has the input norms only, OLMo-2 the output norms only, Gemma all
//! four. Per-layer attributes (sliding window, rotary base, dense or sparse MLP) live in
//! the layer, so they follow it wherever a plan moves it.
//!
//! B batch, T tokens, C hidden, H heads, Hkv kv heads, D head dim, F mlp width, V vocab.

use std::path::Path;

use layer_plan::Part;
use tch::{TchError, Tensor};

use crate::config::{check_positive, invalid};
use crate::error::Result;
use crate::families::moe::SparseMoe;
use crate::ops::{Activation, Linear, RmsNorm, Scores, attend_scored, split_heads};
use crate::rope::{RopeParameters, Rotary};
use crate::stack::{Attention, KvSlot, LayerStack, LengthLimit};
use crate::weights::Weights;

/// Normalisation of queries and keys before the rotary positions.
pub enum QkNorm {
    None,
    /// Over each head's D channels (Qwen3, Gemma-3).
    PerHead(RmsNorm, RmsNorm),
    /// Over all H * D (resp. Hkv * D) channels of the projection (OLMo-2).
    Whole(RmsNorm, RmsNorm),
}

pub struct SelfAttention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    pub qk_norm: QkNorm,
    pub heads: i64,
    pub kv_heads: i64,
    /// Index into [`Decoder::rotaries`].
    pub rotary: usize,
    pub scores: Scores,
}

pub enum Mlp {
    /// `down(act(gate(h)) * up(h))`
    Gated {
        gate: Linear,
        up: Linear,
        down: Linear,
        act: Activation,
    },
    Sparse(SparseMoe),
}

impl Mlp {
    /// (B, T, C) -> (B, T, C)
    pub fn forward(&self, h: &Tensor) -> Result<Tensor, TchError> {
        match self {
            Self::Gated {
                gate,
                up,
                down,
                act,
            } => {
                let gated = act.forward(&gate.forward(h)?)?.f_mul(&up.forward(h)?)?; // (B, T, F)
                down.forward(&gated)
            }
            Self::Sparse(moe) => moe.forward(h),
        }
    }
}

pub struct DecoderLayer {
    pub attn_in_norm: Option<RmsNorm>,
    pub attn: SelfAttention,
    pub attn_out_norm: Option<RmsNorm>,
    pub mlp_in_norm: Option<RmsNorm>,
    pub mlp: Mlp,
    pub mlp_out_norm: Option<RmsNorm>,
}

pub struct Decoder {
    pub embed_tokens: Tensor,
    /// Gemma multiplies the embeddings by sqrt(C), rounded to the weights' dtype.
    pub embed_scale: Option<f64>,
    pub layers: Vec<DecoderLayer>,
    pub norm: RmsNorm,
    pub lm_head: Tensor,
    /// Gemma-2: logits = cap * tanh(logits / cap).
    pub final_softcap: Option<f64>,
    /// The rotary tables the layers index (Gemma-3: local and global bases).
    pub rotaries: Vec<Rotary>,
}

impl Decoder {
    /// (B, T, C) -> (B, T, C): `h + out_norm(attn(in_norm(h)))`.
    fn attn_half(
        &self,
        l: &DecoderLayer,
        xs: &Tensor,
        attn: &Attention,
        kv: Option<&mut KvSlot>,
    ) -> Result<Tensor, TchError> {
        let h = maybe(&l.attn_in_norm, xs)?;
        let attended = l
            .attn
            .forward(&h, &self.rotaries[l.attn.rotary], attn, kv)?;
        xs.f_add(&maybe(&l.attn_out_norm, &attended)?)
    }
}

impl DecoderLayer {
    /// (B, T, C) -> (B, T, C): `h + out_norm(mlp(in_norm(h)))`.
    fn mlp_half(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        let out = self.mlp.forward(&maybe(&self.mlp_in_norm, xs)?)?;
        xs.f_add(&maybe(&self.mlp_out_norm, &out)?)
    }
}

/// `norm(xs)`, or `xs` itself without one.
fn maybe(norm: &Option<RmsNorm>, xs: &Tensor) -> Result<Tensor, TchError> {
    match norm {
        Some(norm) => norm.forward(xs),
        None => Ok(xs.shallow_clone()),
    }
}

impl SelfAttention {
    /// (B, T, C) -> (B, T, C), before any output norm.
    fn forward(
        &self,
        h: &Tensor,
        rotary: &Rotary,
        attn: &Attention,
        kv: Option<&mut KvSlot>,
    ) -> Result<Tensor, TchError> {
        let (q, k) = (self.q.forward(h)?, self.k.forward(h)?); // (B, T, H*D), (B, T, Hkv*D)
        let (q, k) = match &self.qk_norm {
            QkNorm::Whole(q_norm, k_norm) => (q_norm.forward(&q)?, k_norm.forward(&k)?),
            _ => (q, k),
        };
        let q = split_heads(&q, self.heads)?; // (B, H, T, D)
        let k = split_heads(&k, self.kv_heads)?; // (B, Hkv, T, D)
        let v = split_heads(&self.v.forward(h)?, self.kv_heads)?;
        let (q, k) = match &self.qk_norm {
            QkNorm::PerHead(q_norm, k_norm) => (q_norm.forward(&q)?, k_norm.forward(&k)?),
            _ => (q, k),
        };
        let (q, k) = (rotary.apply(&q, attn)?, rotary.apply(&k, attn)?);
        self.o
            .forward(&attend_scored(&q, k, v, attn, kv, self.scores)?)
    }
}

impl LayerStack for Decoder {
    fn num_layers(&self) -> usize {
        self.layers.len()
    }

    fn vocab_size(&self) -> i64 {
        self.embed_tokens.size()[0]
    }

    fn is_causal(&self) -> bool {
        true
    }

    /// Rotary positions and (sliding) attention work at any length.
    fn length_limit(&self) -> Option<&LengthLimit> {
        None
    }

    fn attention_window(&self, layer: usize) -> Option<i64> {
        self.layers[layer].attn.scores.window
    }

    fn embed(&self, ids: &Tensor, _positions: &Tensor) -> Result<Tensor, TchError> {
        let xs = Tensor::f_embedding(&self.embed_tokens, ids, -1, false, false)?; // (B, T, C)
        match self.embed_scale {
            None => Ok(xs),
            Some(scale) => {
                let scale = Tensor::f_from_slice(&[scale])?.f_to_kind(xs.kind())?;
                xs.f_mul(&scale.f_to_device(xs.device())?)
            }
        }
    }

    /// The halves are `h + out_norm(attn(in_norm(h)))` and `h + out_norm(mlp(in_norm(h)))`;
    /// the whole layer is one after the other.
    fn layer(
        &self,
        layer: usize,
        part: Part,
        xs: &Tensor,
        attn: &Attention,
        kv: Option<&mut KvSlot>,
    ) -> Result<Tensor, TchError> {
        let l = &self.layers[layer];
        match part {
            Part::Whole => l.mlp_half(&self.attn_half(l, xs, attn, kv)?),
            Part::Attn => self.attn_half(l, xs, attn, kv),
            Part::Mlp => l.mlp_half(xs),
        }
    }

    fn head(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        let logits = self
            .norm
            .forward(xs)?
            .f_linear::<Tensor>(&self.lm_head, None)?; // (B, T, V)
        match self.final_softcap {
            None => Ok(logits),
            Some(cap) => logits.f_div_scalar(cap)?.f_tanh()?.f_mul_scalar(cap),
        }
    }
}

/// Checks the sizes every rotary decoder's config.json gives: `vocab_size`,
/// `hidden_size`, `intermediate_size` and `num_hidden_layers` positive.
pub fn check_sizes(
    dir: &Path,
    vocab: i64,
    hidden: i64,
    intermediate: i64,
    layers: i64,
) -> Result<()> {
    check_positive(
        dir,
        &[
            ("vocab_size", vocab),
            ("hidden_size", hidden),
            ("intermediate_size", intermediate),
            ("num_hidden_layers", layers),
        ],
    )
}

/// The MLP activation config.json names under `key`, or an error naming the key and the
/// supported names.
pub fn activation(dir: &Path, key: &str, name: &str) -> Result<Activation> {
    Activation::named(name).map_err(|supported| {
        invalid(
            dir,
            format!("key `{key}` is {name:?}; supported: {supported}"),
        )
    })
}

/// (H, Hkv, D) from a config's heads, kv heads and head dim, checked: H and Hkv positive,
/// Hkv divides H, D defaults to C / H.
pub fn attention_shape(
    dir: &Path,
    hidden: i64,
    heads: i64,
    kv_heads: Option<i64>,
    head_dim: Option<i64>,
) -> Result<(i64, i64, i64)> {
    check_positive(dir, &[("num_attention_heads", heads)])?;
    let kv_heads = kv_heads.unwrap_or(heads);
    if kv_heads <= 0 || heads % kv_heads != 0 {
        return Err(invalid(
            dir,
            format!(
                "key `num_key_value_heads` is {kv_heads}, expected a divisor of num_attention_heads = {heads}"
            ),
        ));
    }
    let d = head_dim.unwrap_or(hidden / heads);
    check_positive(dir, &[("head_dim", d)])?;
    Ok((heads, kv_heads, d))
}

/// The output embedding `name` (V, C), or the input embedding when tied and the
/// checkpoint stores no separate one.
pub fn lm_head(w: &Weights, tied: bool, embed_tokens: &Tensor, name: &str) -> Result<Tensor> {
    if tied && !w.contains(name) {
        Ok(embed_tokens.shallow_clone())
    } else {
        w.get(name, &embed_tokens.size())
    }
}

/// The rotary base and scaling of a config: transformers < 5 writes `rope_theta` and
/// `rope_scaling`, 5.x `rope_parameters` (with the base inside); 10000 when none says.
pub fn rope_config(
    rope_theta: Option<f64>,
    rope_scaling: Option<RopeParameters>,
    rope_parameters: Option<RopeParameters>,
) -> (f64, Option<RopeParameters>) {
    let rope = rope_parameters.or(rope_scaling);
    let theta = rope_theta
        .or(rope.as_ref().and_then(|r| r.rope_theta))
        .unwrap_or(10_000.0);
    (theta, rope)
}
