//! OLMo-2: the Llama block with its norms moved after the sublayers — `h + norm(attn(h))`,
//! `h + norm(mlp(h))`, no input norms — and RMSNorm over the whole query and key
//! projections (H * D, Hkv * D channels) before the heads split; RMSNorm applies its
//! weight in float32. The forward pass is `decoder.rs`'s.
//!
//! Tensors under `model.layers.{i}`: `self_attn.{q,k,v,o}_proj`, `self_attn.{q,k}_norm`,
//! `post_attention_layernorm`, `mlp.{gate,up,down}_proj`, `post_feedforward_layernorm`.
//!
//! C hidden, H heads, Hkv kv heads, D head dim, F mlp width, V vocab.

use std::path::Path;

use serde::Deserialize;

use crate::config::read_config;
use crate::error::Result;
use crate::families::decoder::{
    Decoder, DecoderLayer, Mlp, QkNorm, SelfAttention, activation, attention_shape, check_sizes,
    lm_head, rope_config,
};
use crate::ops::{Linear, RmsNorm, RmsStyle, Scores};
use crate::rope::{RopeParameters, Rotary};
use crate::weights::Weights;

#[derive(Deserialize)]
struct RawConfig {
    vocab_size: i64,
    hidden_size: i64,
    intermediate_size: i64,
    num_hidden_layers: i64,
    num_attention_heads: i64,
    num_key_value_heads: Option<i64>,
    head_dim: Option<i64>,
    rms_norm_eps: f64,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default)]
    attention_bias: bool,
    hidden_act: Option<String>,
    max_position_embeddings: Option<f64>,
    rope_theta: Option<f64>,
    rope_scaling: Option<RopeParameters>,
    rope_parameters: Option<RopeParameters>,
}

pub struct Olmo2;

impl Olmo2 {
    /// The module path of the layer list: layer i's tensors are `model.layers.{i}.*`.
    pub const LAYERS: &str = "model.layers";

    pub fn load(dir: &Path, w: &Weights) -> Result<Decoder> {
        let cfg: RawConfig = read_config(dir)?;
        check_sizes(
            dir,
            cfg.vocab_size,
            cfg.hidden_size,
            cfg.intermediate_size,
            cfg.num_hidden_layers,
        )?;
        let act = activation(
            dir,
            "hidden_act",
            cfg.hidden_act.as_deref().unwrap_or("silu"),
        )?;
        let (c, f, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
        let (heads, kv_heads, d) = attention_shape(
            dir,
            c,
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
            cfg.head_dim,
        )?;
        let eps = cfg.rms_norm_eps;
        let norm = |name: &str, width| RmsNorm::load(w, name, width, eps, RmsStyle::WeightInF32);
        let linear = |name: &str, out, inp, bias| Linear::load(w, name, out, inp, bias);
        let bias = cfg.attention_bias;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers as usize);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("{}.{i}", Self::LAYERS);
            layers.push(DecoderLayer {
                attn_in_norm: None,
                attn: SelfAttention {
                    q: linear(&format!("{p}.self_attn.q_proj"), heads * d, c, bias)?,
                    k: linear(&format!("{p}.self_attn.k_proj"), kv_heads * d, c, bias)?,
                    v: linear(&format!("{p}.self_attn.v_proj"), kv_heads * d, c, bias)?,
                    o: linear(&format!("{p}.self_attn.o_proj"), c, heads * d, bias)?,
                    qk_norm: QkNorm::Whole(
                        norm(&format!("{p}.self_attn.q_norm"), heads * d)?,
                        norm(&format!("{p}.self_attn.k_norm"), kv_heads * d)?,
                    ),
                    heads,
                    kv_heads,
                    rotary: 0,
                    scores: Scores::default(),
                },
                attn_out_norm: Some(norm(&format!("{p}.post_attention_layernorm"), c)?),
                mlp_in_norm: None,
                mlp: Mlp::Gated {
                    gate: linear(&format!("{p}.mlp.gate_proj"), f, c, false)?,
                    up: linear(&format!("{p}.mlp.up_proj"), f, c, false)?,
                    down: linear(&format!("{p}.mlp.down_proj"), c, f, false)?,
                    act,
                },
                mlp_out_norm: Some(norm(&format!("{p}.post_feedforward_layernorm"), c)?),
            });
        }
        let (theta, rope) = rope_config(cfg.rope_theta, cfg.rope_scaling, cfg.rope_parameters);
        let rotary = Rotary::scaled(dir, theta, d, rope.as_ref(), cfg.max_position_embeddings)?;
        let embed_tokens = w.get("model.embed_tokens.weight", &[v, c])?;
        Ok(Decoder {
            lm_head: lm_head(w, cfg.tie_word_embeddings, &embed_tokens, "lm_head.weight")?,
            embed_tokens,
            embed_scale: None,
            layers,
            norm: norm("model.norm", c)?,
            final_softcap: None,
            rotaries: vec![rotary],
        })
    }

    /// Buffers some exports carry that this implementation recomputes.
    pub fn ignorable(name: &str) -> bool {
        name.ends_with("inv_freq")
    }
}
