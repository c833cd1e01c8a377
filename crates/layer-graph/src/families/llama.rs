//! Llama family: Llama-2/3, Mistral, Qwen2 (q/k/v bias), Qwen3 (RMSNorm of each head's
//! queries and keys before the rotary positions), SmolLM2, and the sparse mixtures of
//! experts built on them, Mixtral and Qwen2-MoE (`moe.rs`). Pre-norm blocks with RMSNorm,
//! rotary positions (default, linear or llama3 scaling), grouped-query attention, SwiGLU
//! MLP; tied or separate LM head; sliding-window attention in the layers the config names.
//! The forward pass is `decoder.rs`'s.
//!
//! Tensors under `model.layers.{i}`: `input_layernorm`, `self_attn.{q,k,v,o}_proj`
//! (Qwen3: `self_attn.{q,k}_norm`), `post_attention_layernorm`, then `mlp.{gate,up,down}_proj`;
//! Mixtral `block_sparse_moe.gate` and `block_sparse_moe.experts.{j}.{w1,w3,w2}`;
//! Qwen2-MoE `mlp.gate`, `mlp.experts.{j}.*_proj`, `mlp.shared_expert.*_proj`,
//! `mlp.shared_expert_gate`.
//!
//! C hidden, H heads, Hkv kv heads, D head dim, F mlp width, E experts, V vocab.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{check_positive, invalid, read_config};
use crate::error::Result;
use crate::families::decoder::{
    Decoder, DecoderLayer, Mlp, QkNorm, SelfAttention, activation, attention_shape, check_sizes,
    lm_head, rope_config,
};
use crate::families::moe::{Expert, SparseMoe};
use crate::ops::{Activation, Linear, RmsNorm, RmsStyle, Scores};
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
    rms_norm_eps: f64,
    #[serde(default)]
    tie_word_embeddings: bool,
    attention_bias: Option<bool>,
    #[serde(default = "silu")]
    hidden_act: String,
    /// transformers < 5 writes `rope_theta` and `rope_scaling`; 5.x writes `rope_parameters`.
    rope_theta: Option<f64>,
    rope_scaling: Option<RopeParameters>,
    rope_parameters: Option<RopeParameters>,
    /// Present (`Some`), the key's value, which may be null (`Some(None)`): transformers'
    /// Mistral and Qwen2 default an absent key to 4096.
    #[serde(default, deserialize_with = "present")]
    sliding_window: Option<Option<i64>>,
    #[serde(default)]
    use_sliding_window: bool,
    max_window_layers: Option<i64>,
    layer_types: Option<Vec<String>>,
    /// Qwen2-MoE's name for the q/k/v bias.
    qkv_bias: Option<bool>,
    max_position_embeddings: Option<f64>,
    /// Mixtral.
    num_local_experts: Option<i64>,
    /// Qwen2-MoE.
    num_experts: Option<i64>,
    num_experts_per_tok: Option<i64>,
    moe_intermediate_size: Option<i64>,
    shared_expert_intermediate_size: Option<i64>,
    #[serde(default)]
    norm_topk_prob: bool,
    decoder_sparse_step: Option<i64>,
    #[serde(default)]
    mlp_only_layers: Vec<i64>,
}

fn silu() -> String {
    "silu".into()
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// transformers' `sliding_window` when config.json has none (Mistral and Qwen2 alike).
const DEFAULT_SLIDING_WINDOW: i64 = 4096;
/// transformers' Qwen2 `max_window_layers` when config.json has none.
const DEFAULT_MAX_WINDOW_LAYERS: i64 = 28;

pub struct Llama;

impl Llama {
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
        let act = activation(dir, "hidden_act", &cfg.hidden_act)?;
        let (c, v) = (cfg.hidden_size, cfg.vocab_size);
        let (heads, kv_heads, d) = attention_shape(
            dir,
            c,
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
            cfg.head_dim,
        )?;
        let qwen = cfg.model_type.starts_with("qwen2");
        let qkv_bias = cfg.qkv_bias.or(cfg.attention_bias).unwrap_or(qwen);
        let o_bias = cfg.attention_bias.unwrap_or(false);
        let eps = cfg.rms_norm_eps;
        let norm = |name: &str, width| RmsNorm::load(w, name, width, eps, RmsStyle::Llama);
        let linear = |name: &str, out, inp, bias| Linear::load(w, name, out, inp, bias);
        let windows = sliding_windows(dir, &cfg)?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers as usize);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("{}.{i}", Self::LAYERS);
            let qk_norm = match cfg.model_type.as_str() {
                "qwen3" => QkNorm::PerHead(
                    norm(&format!("{p}.self_attn.q_norm"), d)?,
                    norm(&format!("{p}.self_attn.k_norm"), d)?,
                ),
                _ => QkNorm::None,
            };
            layers.push(DecoderLayer {
                attn_in_norm: Some(norm(&format!("{p}.input_layernorm"), c)?),
                attn: SelfAttention {
                    q: linear(&format!("{p}.self_attn.q_proj"), heads * d, c, qkv_bias)?,
                    k: linear(&format!("{p}.self_attn.k_proj"), kv_heads * d, c, qkv_bias)?,
                    v: linear(&format!("{p}.self_attn.v_proj"), kv_heads * d, c, qkv_bias)?,
                    o: linear(&format!("{p}.self_attn.o_proj"), c, heads * d, o_bias)?,
                    qk_norm,
                    heads,
                    kv_heads,
                    rotary: 0,
                    scores: Scores {
                        window: windows[i as usize],
                        ..Scores::default()
                    },
                },
                attn_out_norm: None,
                mlp_in_norm: Some(norm(&format!("{p}.post_attention_layernorm"), c)?),
                mlp: mlp(dir, w, &cfg, &p, i, act)?,
                mlp_out_norm: None,
            });
        }
        let embed_tokens = w.get("model.embed_tokens.weight", &[v, c])?;
        let (theta, rope) = rope_config(cfg.rope_theta, cfg.rope_scaling, cfg.rope_parameters);
        let dim = match rope.as_ref().and_then(|r| r.partial_rotary_factor) {
            Some(f) => (d as f64 * f) as i64,
            None => d,
        };
        let rotary = Rotary::scaled(dir, theta, dim, rope.as_ref(), cfg.max_position_embeddings)?;
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
        name.ends_with("rotary_emb.inv_freq")
    }

    /// Spells out in `config` what each layer is, so an export can re-index it to a plan:
    /// `layer_types` where a Qwen config derives its windows from `max_window_layers`, and
    /// a Qwen2-MoE's dense layers as `mlp_only_layers` with `decoder_sparse_step` 1.
    pub fn explicit_layers(dir: &Path, config: &mut Map<String, Value>) -> Result<()> {
        let cfg: RawConfig = serde_json::from_value(Value::Object(config.clone()))
            .map_err(|e| invalid(dir, e.to_string()))?;
        if cfg.model_type.starts_with("qwen") && cfg.use_sliding_window && cfg.layer_types.is_none()
        {
            let types: Vec<&str> = sliding_windows(dir, &cfg)?
                .iter()
                .map(|w| match w {
                    Some(_) => "sliding_attention",
                    None => "full_attention",
                })
                .collect();
            config.insert("layer_types".into(), types.into());
        }
        if cfg.model_type == "qwen2_moe" {
            let dense: Vec<i64> = (0..cfg.num_hidden_layers)
                .filter(|&i| !sparse(&cfg, i))
                .collect();
            config.insert("mlp_only_layers".into(), dense.into());
            config.insert("decoder_sparse_step".into(), 1.into());
        }
        Ok(())
    }
}

/// Whether layer `i` of a Qwen2-MoE runs sparse experts, as transformers decides.
fn sparse(cfg: &RawConfig, i: i64) -> bool {
    !cfg.mlp_only_layers.contains(&i) && (i + 1) % cfg.decoder_sparse_step.unwrap_or(1).max(1) == 0
}

/// Layer `i`'s MLP: dense SwiGLU, or Mixtral's / Qwen2-MoE's sparse experts.
fn mlp(dir: &Path, w: &Weights, cfg: &RawConfig, p: &str, i: i64, act: Activation) -> Result<Mlp> {
    let c = cfg.hidden_size;
    let linear = |name: String, out, inp| Linear::load(w, &name, out, inp, false);
    let expert = |prefix: String, f: i64, [gate, up, down]: [&str; 3]| -> Result<Expert> {
        Ok(Expert {
            gate: linear(format!("{prefix}.{gate}"), f, c)?,
            up: linear(format!("{prefix}.{up}"), f, c)?,
            down: linear(format!("{prefix}.{down}"), c, f)?,
        })
    };
    const PROJ: [&str; 3] = ["gate_proj", "up_proj", "down_proj"];
    let top_k = || -> Result<i64> {
        let k = cfg.num_experts_per_tok.unwrap_or(2);
        check_positive(dir, &[("num_experts_per_tok", k)])?;
        Ok(k)
    };
    let experts = |count: Option<i64>, key: &str| -> Result<i64> {
        let count = count.ok_or_else(|| invalid(dir, format!("key `{key}` is missing")))?;
        check_positive(dir, &[(key, count)])?;
        Ok(count)
    };
    match cfg.model_type.as_str() {
        "mixtral" => {
            let e = experts(cfg.num_local_experts, "num_local_experts")?;
            let f = cfg.intermediate_size;
            let moe = format!("{p}.block_sparse_moe");
            Ok(Mlp::Sparse(SparseMoe {
                router: w.get(&format!("{moe}.gate.weight"), &[e, c])?,
                experts: (0..e)
                    .map(|j| expert(format!("{moe}.experts.{j}"), f, ["w1", "w3", "w2"]))
                    .collect::<Result<_>>()?,
                top_k: top_k()?,
                renormalise: true,
                shared: None,
                act,
            }))
        }
        "qwen2_moe" if sparse(cfg, i) => {
            let e = experts(cfg.num_experts, "num_experts")?;
            let f = experts(cfg.moe_intermediate_size, "moe_intermediate_size")?;
            let shared_f = experts(
                cfg.shared_expert_intermediate_size,
                "shared_expert_intermediate_size",
            )?;
            Ok(Mlp::Sparse(SparseMoe {
                router: w.get(&format!("{p}.mlp.gate.weight"), &[e, c])?,
                experts: (0..e)
                    .map(|j| expert(format!("{p}.mlp.experts.{j}"), f, PROJ))
                    .collect::<Result<_>>()?,
                top_k: top_k()?,
                renormalise: cfg.norm_topk_prob,
                shared: Some((
                    expert(format!("{p}.mlp.shared_expert"), shared_f, PROJ)?,
                    w.get(&format!("{p}.mlp.shared_expert_gate.weight"), &[1, c])?,
                )),
                act,
            }))
        }
        _ => {
            let Expert { gate, up, down } =
                expert(format!("{p}.mlp"), cfg.intermediate_size, PROJ)?;
            Ok(Mlp::Gated {
                gate,
                up,
                down,
                act,
            })
        }
    }
}

/// Each layer's sliding window as transformers reads the config: Mistral's and Mixtral's
/// layers all slide unless `sliding_window` is null; Qwen's only with
/// `use_sliding_window`, those `layer_types` calls "sliding_attention" or else those from
/// `max_window_layers` on.
fn sliding_windows(dir: &Path, cfg: &RawConfig) -> Result<Vec<Option<i64>>> {
    let layers = cfg.num_hidden_layers;
    if let Some(types) = &cfg.layer_types
        && types.len() as i64 != layers
    {
        return Err(invalid(
            dir,
            format!(
                "key `layer_types` has {} entries, expected one per layer ({layers})",
                types.len()
            ),
        ));
    }
    let slides = |i: i64| match cfg.model_type.as_str() {
        "mistral" | "mixtral" => true,
        _ if cfg.use_sliding_window => match &cfg.layer_types {
            Some(types) => types[i as usize] == "sliding_attention",
            None => i >= cfg.max_window_layers.unwrap_or(DEFAULT_MAX_WINDOW_LAYERS),
        },
        _ => false,
    };
    let window = cfg.sliding_window.unwrap_or(Some(DEFAULT_SLIDING_WINDOW));
    if let Some(window) = window
        && (0..layers).any(slides)
    {
        check_positive(dir, &[("sliding_window", window)])?;
    }
    Ok((0..layers).map(|i| window.filter(|_| slides(i))).collect())
}
