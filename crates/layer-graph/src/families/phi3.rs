//! Phi-3 (and Phi-4-mini): the Llama block with fused projections — one `qkv_proj` whose
//! rows are the queries, keys and values, one `gate_up_proj` whose first half is the gate
//! — split into views at load; longrope scaling where the config has it, partial rotary,
//! and a sliding window over every layer when `sliding_window` is set. The forward pass
//! is `decoder.rs`'s.
//!
//! Tensors under `model.layers.{i}`: `input_layernorm`, `self_attn.qkv_proj` ((H + 2 Hkv) D,
//! C), `self_attn.o_proj`, `post_attention_layernorm`, `mlp.gate_up_proj` (2F, C),
//! `mlp.down_proj`.
//!
//! C hidden, H heads, Hkv kv heads, D head dim, F mlp width, V vocab.

use std::path::Path;

use serde::Deserialize;

use crate::config::{check_positive, read_config};
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
    hidden_act: Option<String>,
    max_position_embeddings: Option<f64>,
    /// transformers < 5 keeps it at the top level, 5.x inside `rope_parameters`.
    original_max_position_embeddings: Option<f64>,
    partial_rotary_factor: Option<f64>,
    rope_theta: Option<f64>,
    rope_scaling: Option<RopeParameters>,
    rope_parameters: Option<RopeParameters>,
    sliding_window: Option<i64>,
}

pub struct Phi3;

impl Phi3 {
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
        if let Some(window) = cfg.sliding_window {
            check_positive(dir, &[("sliding_window", window)])?;
        }
        let eps = cfg.rms_norm_eps;
        let norm = |name: &str| RmsNorm::load(w, name, c, eps, RmsStyle::Llama);
        // Rows [at, at + n) of a fused projection, as a projection of its own.
        let rows = |fused: &tch::Tensor, at: i64, n: i64| Linear {
            weight: fused.narrow(0, at, n),
            bias: None,
        };
        let (q_rows, kv_rows) = (heads * d, kv_heads * d);
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers as usize);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("{}.{i}", Self::LAYERS);
            let qkv = w.get(
                &format!("{p}.self_attn.qkv_proj.weight"),
                &[q_rows + 2 * kv_rows, c],
            )?;
            let gate_up = w.get(&format!("{p}.mlp.gate_up_proj.weight"), &[2 * f, c])?;
            layers.push(DecoderLayer {
                attn_in_norm: Some(norm(&format!("{p}.input_layernorm"))?),
                attn: SelfAttention {
                    q: rows(&qkv, 0, q_rows),
                    k: rows(&qkv, q_rows, kv_rows),
                    v: rows(&qkv, q_rows + kv_rows, kv_rows),
                    o: Linear::load(w, &format!("{p}.self_attn.o_proj"), c, q_rows, false)?,
                    qk_norm: QkNorm::None,
                    heads,
                    kv_heads,
                    rotary: 0,
                    scores: Scores {
                        window: cfg.sliding_window,
                        ..Scores::default()
                    },
                },
                attn_out_norm: None,
                mlp_in_norm: Some(norm(&format!("{p}.post_attention_layernorm"))?),
                mlp: Mlp::Gated {
                    gate: rows(&gate_up, 0, f),
                    up: rows(&gate_up, f, f),
                    down: Linear::load(w, &format!("{p}.mlp.down_proj"), c, f, false)?,
                    act,
                },
                mlp_out_norm: None,
            });
        }
        let (theta, mut rope) = rope_config(cfg.rope_theta, cfg.rope_scaling, cfg.rope_parameters);
        if let Some(rope) = &mut rope {
            rope.original_max_position_embeddings = rope
                .original_max_position_embeddings
                .or(cfg.original_max_position_embeddings);
        }
        let factor = rope
            .as_ref()
            .and_then(|r| r.partial_rotary_factor)
            .or(cfg.partial_rotary_factor)
            .unwrap_or(1.0);
        let dim = (d as f64 * factor) as i64;
        let rotary = Rotary::scaled(dir, theta, dim, rope.as_ref(), cfg.max_position_embeddings)?;
        let embed_tokens = w.get("model.embed_tokens.weight", &[v, c])?;
        Ok(Decoder {
            lm_head: lm_head(w, cfg.tie_word_embeddings, &embed_tokens, "lm_head.weight")?,
            embed_tokens,
            embed_scale: None,
            layers,
            norm: norm("model.norm")?,
            final_softcap: None,
            rotaries: vec![rotary],
        })
    }

    /// Buffers some exports carry that this implementation recomputes.
    pub fn ignorable(name: &str) -> bool {
        name.ends_with("inv_freq")
    }
}
