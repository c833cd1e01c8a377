//! Gemma-2 and Gemma-3 (text): embeddings scaled by sqrt(C), RMSNorm times (1 + w), a norm
//! before and after both attention and MLP, GeGLU, attention scaled by
//! `query_pre_attn_scalar`^-1/2, sliding-window and global layers alternating as
//! `layer_types` says; Gemma-2 soft-caps attention scores and the final logits, Gemma-3
//! normalises each head's queries and keys and gives local (sliding) and global layers
//! their own rotary base. The forward pass is `decoder.rs`'s.
//!
//! Tensors under `model.layers.{i}`: `input_layernorm`, `self_attn.{q,k,v,o}_proj`
//! (Gemma-3: `self_attn.{q,k}_norm`), `post_attention_layernorm`,
//! `pre_feedforward_layernorm`, `mlp.{gate,up,down}_proj`, `post_feedforward_layernorm`.
//!
//! C hidden, H heads, Hkv kv heads, D head dim, F mlp width, V vocab.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{check_positive, invalid, read_config};
use crate::error::Result;
use crate::families::decoder::{
    Decoder, DecoderLayer, Mlp, QkNorm, SelfAttention, activation, attention_shape, check_sizes,
    lm_head,
};
use crate::ops::{Linear, RmsNorm, RmsStyle, Scores};
use crate::rope::{RopeParameters, Rotary};
use crate::weights::Weights;

#[derive(Deserialize)]
struct RawConfig {
    model_type: String,
    vocab_size: i64,
    hidden_size: i64,
    intermediate_size: i64,
    num_hidden_layers: i64,
    num_attention_heads: i64,
    num_key_value_heads: Option<i64>,
    head_dim: Option<i64>,
    #[serde(default = "default_eps")]
    rms_norm_eps: f64,
    hidden_activation: Option<String>,
    hidden_act: Option<String>,
    #[serde(default = "default_query_scalar")]
    query_pre_attn_scalar: f64,
    sliding_window: Option<i64>,
    layer_types: Option<Vec<String>>,
    /// Gemma-3 configs before `layer_types`: every n-th layer global.
    sliding_window_pattern: Option<i64>,
    final_logit_softcapping: Option<f64>,
    attn_logit_softcapping: Option<f64>,
    #[serde(default = "yes")]
    tie_word_embeddings: bool,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    use_bidirectional_attention: Option<bool>,
    max_position_embeddings: Option<f64>,
    /// transformers < 5: `rope_theta` (global), `rope_local_base_freq` (Gemma-3 local) and
    /// `rope_scaling` (global only); 5.x: `rope_parameters`, per layer type for Gemma-3.
    rope_theta: Option<f64>,
    rope_local_base_freq: Option<f64>,
    rope_scaling: Option<RopeParameters>,
    rope_parameters: Option<GemmaRope>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GemmaRope {
    PerLayerType(HashMap<String, RopeParameters>),
    One(RopeParameters),
}

fn default_eps() -> f64 {
    1e-6
}

fn default_query_scalar() -> f64 {
    256.0
}

fn yes() -> bool {
    true
}

const SLIDING: &str = "sliding_attention";
const FULL: &str = "full_attention";

pub struct Gemma;

impl Gemma {
    /// The module path of the layer list: layer i's tensors are `model.layers.{i}.*`.
    pub const LAYERS: &str = "model.layers";

    pub fn load(dir: &Path, w: &Weights) -> Result<Decoder> {
        let cfg: RawConfig = read_config(dir)?;
        let gemma3 = cfg.model_type == "gemma3_text";
        check_sizes(
            dir,
            cfg.vocab_size,
            cfg.hidden_size,
            cfg.intermediate_size,
            cfg.num_hidden_layers,
        )?;
        if cfg.use_bidirectional_attention == Some(true) {
            return Err(invalid(
                dir,
                "key `use_bidirectional_attention` is true; painters runs Gemma causally only"
                    .into(),
            ));
        }
        let act_name = cfg
            .hidden_activation
            .clone()
            .or(cfg.hidden_act.clone())
            .unwrap_or_else(|| "gelu_pytorch_tanh".into());
        let act = activation(dir, "hidden_activation", &act_name)?;
        let (c, f, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
        let (heads, kv_heads, d) = attention_shape(
            dir,
            c,
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
            cfg.head_dim,
        )?;
        let types = layer_types(dir, &cfg, gemma3)?;
        let window = match cfg.sliding_window {
            Some(window) => {
                check_positive(dir, &[("sliding_window", window)])?;
                Some(window)
            }
            None => None,
        };
        let rotaries = rotaries(dir, &cfg, gemma3, d)?;
        let eps = cfg.rms_norm_eps;
        let norm = |name: &str, width| RmsNorm::load(w, name, width, eps, RmsStyle::OnePlusWeight);
        let linear = |name: &str, out, inp, bias| Linear::load(w, name, out, inp, bias);
        let bias = cfg.attention_bias;
        let mut layers = Vec::with_capacity(types.len());
        for (i, kind) in types.iter().enumerate() {
            let p = format!("{}.{i}", Self::LAYERS);
            let sliding = kind == SLIDING;
            layers.push(DecoderLayer {
                attn_in_norm: Some(norm(&format!("{p}.input_layernorm"), c)?),
                attn: SelfAttention {
                    q: linear(&format!("{p}.self_attn.q_proj"), heads * d, c, bias)?,
                    k: linear(&format!("{p}.self_attn.k_proj"), kv_heads * d, c, bias)?,
                    v: linear(&format!("{p}.self_attn.v_proj"), kv_heads * d, c, bias)?,
                    o: linear(&format!("{p}.self_attn.o_proj"), c, heads * d, bias)?,
                    qk_norm: match gemma3 {
                        true => QkNorm::PerHead(
                            norm(&format!("{p}.self_attn.q_norm"), d)?,
                            norm(&format!("{p}.self_attn.k_norm"), d)?,
                        ),
                        false => QkNorm::None,
                    },
                    heads,
                    kv_heads,
                    // Gemma-3's local base in table 1; Gemma-2 has one.
                    rotary: usize::from(gemma3 && sliding),
                    scores: Scores {
                        scale: Some(cfg.query_pre_attn_scalar.powf(-0.5)),
                        softcap: cfg.attn_logit_softcapping,
                        window: window.filter(|_| sliding),
                    },
                },
                attn_out_norm: Some(norm(&format!("{p}.post_attention_layernorm"), c)?),
                mlp_in_norm: Some(norm(&format!("{p}.pre_feedforward_layernorm"), c)?),
                mlp: Mlp::Gated {
                    gate: linear(&format!("{p}.mlp.gate_proj"), f, c, false)?,
                    up: linear(&format!("{p}.mlp.up_proj"), f, c, false)?,
                    down: linear(&format!("{p}.mlp.down_proj"), c, f, false)?,
                    act,
                },
                mlp_out_norm: Some(norm(&format!("{p}.post_feedforward_layernorm"), c)?),
            });
        }
        let embed_tokens = w.get("model.embed_tokens.weight", &[v, c])?;
        Ok(Decoder {
            lm_head: lm_head(w, cfg.tie_word_embeddings, &embed_tokens, "lm_head.weight")?,
            embed_tokens,
            embed_scale: Some((c as f64).sqrt()),
            layers,
            norm: norm("model.norm", c)?,
            final_softcap: cfg.final_logit_softcapping,
            rotaries,
        })
    }

    /// Buffers some exports carry that this implementation recomputes.
    pub fn ignorable(name: &str) -> bool {
        name.ends_with("inv_freq")
    }

    /// Spells out `layer_types` in `config` where it is left to transformers' default, so
    /// an export can re-index it to a plan.
    pub fn explicit_layers(dir: &Path, config: &mut Map<String, Value>) -> Result<()> {
        let cfg: RawConfig = serde_json::from_value(Value::Object(config.clone()))
            .map_err(|e| invalid(dir, e.to_string()))?;
        let types = layer_types(dir, &cfg, cfg.model_type == "gemma3_text")?;
        config.insert("layer_types".into(), types.into());
        Ok(())
    }
}

/// Each layer's attention type: config.json's `layer_types`, else transformers' default
/// (Gemma-2: even layers slide; Gemma-3: all but every `sliding_window_pattern`-th, 6).
fn layer_types(dir: &Path, cfg: &RawConfig, gemma3: bool) -> Result<Vec<String>> {
    let layers = cfg.num_hidden_layers as usize;
    let Some(types) = &cfg.layer_types else {
        let every = if gemma3 {
            cfg.sliding_window_pattern.unwrap_or(6)
        } else {
            2
        };
        check_positive(dir, &[("sliding_window_pattern", every)])?;
        return Ok((0..layers as i64)
            .map(|i| if (i + 1) % every == 0 { FULL } else { SLIDING }.to_string())
            .collect());
    };
    if types.len() != layers {
        return Err(invalid(
            dir,
            format!(
                "key `layer_types` has {} entries, expected one per layer ({layers})",
                types.len()
            ),
        ));
    }
    match types.iter().find(|t| *t != SLIDING && *t != FULL) {
        Some(other) => Err(invalid(
            dir,
            format!("key `layer_types` has {other:?}; supported: {SLIDING:?}, {FULL:?}"),
        )),
        None => Ok(types.clone()),
    }
}

/// Table 0: the global layers' rotary; Gemma-3 also table 1, the local (sliding) layers'.
fn rotaries(dir: &Path, cfg: &RawConfig, gemma3: bool, d: i64) -> Result<Vec<Rotary>> {
    let max = cfg.max_position_embeddings;
    let (global, local) = match &cfg.rope_parameters {
        Some(GemmaRope::PerLayerType(per_type)) => {
            (per_type.get(FULL).cloned(), per_type.get(SLIDING).cloned())
        }
        Some(GemmaRope::One(one)) => (Some(one.clone()), None),
        None => (cfg.rope_scaling.clone(), None),
    };
    let base = |rope: &Option<RopeParameters>, legacy: Option<f64>, default: f64| {
        rope.as_ref()
            .and_then(|r| r.rope_theta)
            .or(legacy)
            .unwrap_or(default)
    };
    let global_base = base(&global, cfg.rope_theta, if gemma3 { 1e6 } else { 1e4 });
    let mut tables = vec![Rotary::scaled(dir, global_base, d, global.as_ref(), max)?];
    if gemma3 {
        let local_base = base(&local, cfg.rope_local_base_freq, 1e4);
        tables.push(Rotary::scaled(dir, local_base, d, local.as_ref(), max)?.in_table(1));
    }
    Ok(tables)
}
