//! Llama family: Llama-2/3, Mistral, Qwen2 (q/k/v bias), Qwen3 (RMSNorm of each head's
//! queries and keys before the rotary positions) and SmolLM2. Pre-norm blocks
//! with RMSNorm, rotary positions (default, linear or llama3 scaling), grouped-query
//! attention, SwiGLU MLP; tied or separate LM head. Sliding-window attention (Mistral,
//! Qwen2 with `use_sliding_window`) is not implemented: it equals full attention up to
//! the window, so the window is the model's length limit.
//!
//! B batch, T tokens, C hidden, H heads, Hkv kv heads, D head dim, F mlp width, V vocab.

use std::path::Path;

use serde::Deserialize;
use tch::{TchError, Tensor};

use crate::config::{check_positive, invalid, read_config};
use crate::error::Result;
use crate::ops::{Linear, RmsNorm, Rotary, attend, split_heads};
use crate::stack::{Attention, KvSlot, LayerStack, LengthLimit};
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

#[derive(Deserialize, Clone)]
struct RopeParameters {
    rope_theta: Option<f64>,
    #[serde(alias = "type")]
    rope_type: Option<String>,
    factor: Option<f64>,
    low_freq_factor: Option<f64>,
    high_freq_factor: Option<f64>,
    original_max_position_embeddings: Option<f64>,
}

struct Block {
    input_norm: RmsNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    /// Qwen3: RMSNorm over each head's queries and keys (D), before rotary positions.
    qk_norm: Option<(RmsNorm, RmsNorm)>,
    post_norm: RmsNorm,
    gate: Linear,
    up: Linear,
    down: Linear,
}

pub struct Llama {
    embed_tokens: Tensor,
    blocks: Vec<Block>,
    norm: RmsNorm,
    lm_head: Tensor,
    rotary: Rotary,
    heads: i64,
    kv_heads: i64,
    /// The sliding window, if any layer has one.
    limit: Option<LengthLimit>,
}

impl Llama {
    /// The module path of the layer list: layer i's tensors are `model.layers.{i}.*`.
    pub const LAYERS: &str = "model.layers";

    pub fn load(dir: &Path, w: &Weights) -> Result<Self> {
        let cfg: RawConfig = read_config(dir)?;
        check_positive(
            dir,
            &[
                ("vocab_size", cfg.vocab_size),
                ("hidden_size", cfg.hidden_size),
                ("intermediate_size", cfg.intermediate_size),
                ("num_hidden_layers", cfg.num_hidden_layers),
                ("num_attention_heads", cfg.num_attention_heads),
            ],
        )?;
        if cfg.hidden_act != "silu" {
            return Err(invalid(
                dir,
                format!(
                    "key `hidden_act` is {:?}, the llama family supports \"silu\"",
                    cfg.hidden_act
                ),
            ));
        }
        let (c, f, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
        let heads = cfg.num_attention_heads;
        let kv_heads = cfg.num_key_value_heads.unwrap_or(heads);
        if kv_heads <= 0 || heads % kv_heads != 0 {
            return Err(invalid(
                dir,
                format!(
                    "key `num_key_value_heads` is {kv_heads}, expected a divisor of num_attention_heads = {heads}"
                ),
            ));
        }
        let d = cfg.head_dim.unwrap_or(c / heads);
        check_positive(dir, &[("head_dim", d)])?;
        let qkv_bias = cfg.attention_bias.unwrap_or(cfg.model_type == "qwen2");
        let eps = cfg.rms_norm_eps;

        let linear = |name: &str, out, inp, bias| Linear::load(w, name, out, inp, bias);
        let norm_of = |name: &str, width: i64| -> Result<RmsNorm> {
            Ok(RmsNorm {
                weight: w.get(&format!("{name}.weight"), &[width])?,
                eps,
            })
        };
        let norm = |name: &str| norm_of(name, c);
        let qk_norm = cfg.model_type == "qwen3";

        let mut blocks = Vec::with_capacity(cfg.num_hidden_layers as usize);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("{}.{i}", Self::LAYERS);
            let o_bias = cfg.attention_bias.unwrap_or(false);
            blocks.push(Block {
                input_norm: norm(&format!("{p}.input_layernorm"))?,
                q: linear(&format!("{p}.self_attn.q_proj"), heads * d, c, qkv_bias)?,
                k: linear(&format!("{p}.self_attn.k_proj"), kv_heads * d, c, qkv_bias)?,
                v: linear(&format!("{p}.self_attn.v_proj"), kv_heads * d, c, qkv_bias)?,
                o: linear(&format!("{p}.self_attn.o_proj"), c, heads * d, o_bias)?,
                qk_norm: match qk_norm {
                    true => Some((
                        norm_of(&format!("{p}.self_attn.q_norm"), d)?,
                        norm_of(&format!("{p}.self_attn.k_norm"), d)?,
                    )),
                    false => None,
                },
                post_norm: norm(&format!("{p}.post_attention_layernorm"))?,
                gate: linear(&format!("{p}.mlp.gate_proj"), f, c, false)?,
                up: linear(&format!("{p}.mlp.up_proj"), f, c, false)?,
                down: linear(&format!("{p}.mlp.down_proj"), c, f, false)?,
            });
        }
        let embed_tokens = w.get("model.embed_tokens.weight", &[v, c])?;
        let lm_head = if cfg.tie_word_embeddings && !w.contains("lm_head.weight") {
            embed_tokens.shallow_clone()
        } else {
            w.get("lm_head.weight", &[v, c])?
        };
        let rope = cfg.rope_parameters.clone().or(cfg.rope_scaling.clone());
        let theta = cfg
            .rope_theta
            .or(rope.as_ref().and_then(|r| r.rope_theta))
            .unwrap_or(10_000.0);
        let inv_freq = scaled_inv_freq(dir, theta, d, rope.as_ref())?;
        let limit = sliding_window(dir, &cfg)?;
        Ok(Self {
            embed_tokens,
            blocks,
            norm: norm("model.norm")?,
            lm_head,
            rotary: Rotary { inv_freq, dim: d },
            heads,
            kv_heads,
            limit,
        })
    }

    /// Buffers some exports carry that this implementation recomputes.
    pub fn ignorable(name: &str) -> bool {
        name.ends_with("rotary_emb.inv_freq")
    }
}

/// The window of sliding-window attention as transformers reads the config, if any layer
/// attends through one: Mistral's layers all do unless `sliding_window` is null; Qwen2's
/// only with `use_sliding_window`, those `layer_types` calls "sliding_attention" or else
/// those from `max_window_layers` on.
fn sliding_window(dir: &Path, cfg: &RawConfig) -> Result<Option<LengthLimit>> {
    let slides = match cfg.model_type.as_str() {
        "mistral" => true,
        "qwen2" | "qwen3" if cfg.use_sliding_window => match &cfg.layer_types {
            Some(types) => types.iter().any(|t| t == "sliding_attention"),
            None => {
                cfg.max_window_layers.unwrap_or(DEFAULT_MAX_WINDOW_LAYERS) < cfg.num_hidden_layers
            }
        },
        _ => false,
    };
    let Some(window) = cfg
        .sliding_window
        .unwrap_or(Some(DEFAULT_SLIDING_WINDOW))
        .filter(|_| slides)
    else {
        return Ok(None);
    };
    check_positive(dir, &[("sliding_window", window)])?;
    let reason = format!(
        "config.json sliding_window = {window}, beyond which attention slides; painters does not implement that"
    );
    Ok(Some(LengthLimit {
        tokens: window as usize,
        reason,
    }))
}

/// Rotary inverse frequencies with the checkpoint's scaling applied.
fn scaled_inv_freq(
    dir: &Path,
    theta: f64,
    d: i64,
    rope: Option<&RopeParameters>,
) -> Result<Tensor> {
    let inv_freq = Rotary::inv_freq(theta, d);
    let Some(rope) = rope else {
        return Ok(inv_freq);
    };
    let factor = || {
        rope.factor
            .ok_or_else(|| invalid(dir, "rope scaling needs key `factor`".into()))
    };
    match rope.rope_type.as_deref().unwrap_or("default") {
        "default" => Ok(inv_freq),
        "linear" => Ok(inv_freq / factor()?),
        "llama3" => {
            let factor = factor()?;
            let missing =
                |key: &str| invalid(dir, format!("llama3 rope scaling needs key `{key}`"));
            let low = rope
                .low_freq_factor
                .ok_or_else(|| missing("low_freq_factor"))?;
            let high = rope
                .high_freq_factor
                .ok_or_else(|| missing("high_freq_factor"))?;
            let old_len = rope
                .original_max_position_embeddings
                .ok_or_else(|| missing("original_max_position_embeddings"))?;
            let (low_wavelen, high_wavelen) = (old_len / low, old_len / high);
            let wavelen = inv_freq.reciprocal() * (2.0 * std::f64::consts::PI);
            let long = wavelen.gt(low_wavelen);
            let scaled = inv_freq.where_self(&long.logical_not(), &(&inv_freq / factor));
            let smooth = (wavelen.reciprocal() * old_len - low) / (high - low);
            let smoothed: Tensor = (-&smooth + 1.0) * &scaled / factor + &smooth * &scaled;
            let medium = wavelen
                .lt(high_wavelen)
                .logical_not()
                .logical_and(&long.logical_not());
            Ok(smoothed.where_self(&medium, &scaled))
        }
        other => Err(invalid(
            dir,
            format!("rope type {other:?} is not supported; supported: default, linear, llama3"),
        )),
    }
}

impl LayerStack for Llama {
    fn num_layers(&self) -> usize {
        self.blocks.len()
    }

    fn vocab_size(&self) -> i64 {
        self.embed_tokens.size()[0]
    }

    fn is_causal(&self) -> bool {
        true
    }

    fn length_limit(&self) -> Option<&LengthLimit> {
        self.limit.as_ref()
    }

    fn embed(&self, ids: &Tensor, _positions: &Tensor) -> Result<Tensor, TchError> {
        Tensor::f_embedding(&self.embed_tokens, ids, -1, false, false) // (B, T, C)
    }

    fn layer(
        &self,
        layer: usize,
        xs: &Tensor,
        attn: &Attention,
        kv: Option<&mut KvSlot>,
    ) -> Result<Tensor, TchError> {
        let b = &self.blocks[layer];
        let h = b.input_norm.forward(xs)?;
        let q = split_heads(&b.q.forward(&h)?, self.heads)?; // (B, H, T, D)
        let k = split_heads(&b.k.forward(&h)?, self.kv_heads)?; // (B, Hkv, T, D)
        let v = split_heads(&b.v.forward(&h)?, self.kv_heads)?;
        let (q, k) = match &b.qk_norm {
            Some((q_norm, k_norm)) => (q_norm.forward(&q)?, k_norm.forward(&k)?),
            None => (q, k),
        };
        let (q, k) = (self.rotary.apply(&q, attn)?, self.rotary.apply(&k, attn)?);
        let xs = xs.f_add(&b.o.forward(&attend(&q, k, v, attn, kv)?)?)?; // (B, T, C)
        let h = b.post_norm.forward(&xs)?;
        let gated = b.gate.forward(&h)?.f_silu()?.f_mul(&b.up.forward(&h)?)?; // (B, T, F)
        xs.f_add(&b.down.forward(&gated)?)
    }

    fn head(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        self.norm
            .forward(xs)?
            .f_linear::<Tensor>(&self.lm_head, None) // (B, T, V)
    }
}
