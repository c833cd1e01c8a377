//! GPT-NeoX family (Pythia): LayerNorm blocks with a parallel residual
//! (h + attn(ln1 h) + mlp(ln2 h)), fused per-head q/k/v, partial rotary, untied head.
//!
//! B batch, T tokens, C hidden, H heads, D head dim, F mlp width, V vocab.

use std::path::Path;

use layer_plan::Part;
use serde::Deserialize;
use tch::{TchError, Tensor};

use crate::config::{check_positive, invalid, read_config};
use crate::error::Result;
use crate::ops::{LayerNorm, Linear, attend};
use crate::rope::Rotary;
use crate::stack::{Attention, KvSlot, LayerStack, LengthLimit};
use crate::weights::Weights;

#[derive(Deserialize)]
struct RawConfig {
    vocab_size: i64,
    hidden_size: i64,
    intermediate_size: i64,
    num_hidden_layers: i64,
    num_attention_heads: i64,
    layer_norm_eps: f64,
    #[serde(default = "yes")]
    use_parallel_residual: bool,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default = "gelu")]
    hidden_act: String,
    #[serde(default = "yes")]
    attention_bias: bool,
    /// transformers < 5: `rotary_pct`, `rotary_emb_base`; 5.x: `partial_rotary_factor`
    /// and `rope_parameters.rope_theta`.
    #[serde(alias = "partial_rotary_factor")]
    rotary_pct: Option<f64>,
    #[serde(alias = "rope_theta")]
    rotary_emb_base: Option<f64>,
    rope_parameters: Option<RopeParameters>,
}

#[derive(Deserialize)]
struct RopeParameters {
    rope_theta: Option<f64>,
    partial_rotary_factor: Option<f64>,
}

fn yes() -> bool {
    true
}
fn gelu() -> String {
    "gelu".into()
}

struct Block {
    input_norm: LayerNorm,
    qkv: Linear,
    dense: Linear,
    post_norm: LayerNorm,
    up: Linear,
    down: Linear,
}

pub struct GptNeoX {
    embed_in: Tensor,
    blocks: Vec<Block>,
    final_norm: LayerNorm,
    embed_out: Tensor,
    rotary: Rotary,
    heads: i64,
    parallel_residual: bool,
}

impl GptNeoX {
    /// The module path of the layer list: layer i's tensors are `gpt_neox.layers.{i}.*`.
    pub const LAYERS: &str = "gpt_neox.layers";

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
        if cfg.hidden_act != "gelu" {
            return Err(invalid(
                dir,
                format!(
                    "key `hidden_act` is {:?}, the gpt_neox family supports \"gelu\"",
                    cfg.hidden_act
                ),
            ));
        }
        let (c, f, v, heads) = (
            cfg.hidden_size,
            cfg.intermediate_size,
            cfg.vocab_size,
            cfg.num_attention_heads,
        );
        if c % heads != 0 {
            return Err(invalid(
                dir,
                format!(
                    "key `num_attention_heads` is {heads}, expected a divisor of hidden_size = {c}"
                ),
            ));
        }
        let d = c / heads;
        let rope = cfg.rope_parameters.as_ref();
        let pct = cfg
            .rotary_pct
            .or(rope.and_then(|r| r.partial_rotary_factor))
            .unwrap_or(0.25);
        let base = cfg
            .rotary_emb_base
            .or(rope.and_then(|r| r.rope_theta))
            .unwrap_or(10_000.0);
        let rot_dim = (d as f64 * pct) as i64;
        let eps = cfg.layer_norm_eps;

        // `attention_bias` covers the attention projections; the MLP always has biases.
        let linear = |name: &str, out, inp| {
            Linear::load(
                w,
                name,
                out,
                inp,
                cfg.attention_bias || !name.contains("attention"),
            )
        };
        let norm = |name: &str| LayerNorm::load(w, name, c, eps);
        let mut blocks = Vec::with_capacity(cfg.num_hidden_layers as usize);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("{}.{i}", Self::LAYERS);
            blocks.push(Block {
                input_norm: norm(&format!("{p}.input_layernorm"))?,
                qkv: linear(&format!("{p}.attention.query_key_value"), 3 * c, c)?,
                dense: linear(&format!("{p}.attention.dense"), c, c)?,
                post_norm: norm(&format!("{p}.post_attention_layernorm"))?,
                up: linear(&format!("{p}.mlp.dense_h_to_4h"), f, c)?,
                down: linear(&format!("{p}.mlp.dense_4h_to_h"), c, f)?,
            });
        }
        let embed_in = w.get("gpt_neox.embed_in.weight", &[v, c])?;
        let embed_out = if cfg.tie_word_embeddings && !w.contains("embed_out.weight") {
            embed_in.shallow_clone()
        } else {
            w.get("embed_out.weight", &[v, c])?
        };
        Ok(Self {
            embed_in,
            blocks,
            final_norm: norm("gpt_neox.final_layer_norm")?,
            embed_out,
            rotary: Rotary::plain(base, rot_dim),
            heads,
            parallel_residual: cfg.use_parallel_residual,
        })
    }

    /// Causal-mask and rotary buffers that older exports carry.
    pub fn ignorable(name: &str) -> bool {
        name.ends_with(".attention.bias")
            || name.ends_with(".attention.masked_bias")
            || name.ends_with("rotary_emb.inv_freq")
    }
}

impl GptNeoX {
    /// (B, T, C) -> (B, T, C): `attn(ln1(h))`, before the residual add.
    fn attn_delta(
        &self,
        b: &Block,
        xs: &Tensor,
        attn: &Attention,
        kv: Option<&mut KvSlot>,
    ) -> Result<Tensor, TchError> {
        let (bsz, t, c) = xs.size3()?;
        let d = c / self.heads;
        // Fused projection laid out per head as [q | k | v]: (B, H, T, 3D).
        let qkv = b
            .qkv
            .forward(&b.input_norm.forward(xs)?)?
            .f_view([bsz, t, self.heads, 3 * d])?
            .f_transpose(1, 2)?;
        let parts = qkv.f_chunk(3, -1)?;
        let q = self.rotary.apply(&parts[0], attn)?;
        let k = self.rotary.apply(&parts[1], attn)?;
        let attended = attend(&q, k, parts[2].shallow_clone(), attn, kv)?;
        b.dense.forward(&attended) // (B, T, C)
    }
}

/// (B, T, C) -> (B, T, C): `mlp(ln2(h))`, before the residual add.
fn mlp_delta(b: &Block, h: &Tensor) -> Result<Tensor, TchError> {
    let inner = b.up.forward(&b.post_norm.forward(h)?)?.f_gelu("none")?; // (B, T, F)
    b.down.forward(&inner)
}

impl LayerStack for GptNeoX {
    fn num_layers(&self) -> usize {
        self.blocks.len()
    }

    fn vocab_size(&self) -> i64 {
        self.embed_in.size()[0]
    }

    fn is_causal(&self) -> bool {
        true
    }

    /// Rotary positions, computed for any position, and full attention: no limit.
    fn length_limit(&self) -> Option<&LengthLimit> {
        None
    }

    fn embed(&self, ids: &Tensor, _positions: &Tensor) -> Result<Tensor, TchError> {
        Tensor::f_embedding(&self.embed_in, ids, -1, false, false) // (B, T, C)
    }

    /// The halves are `h + attn(ln1(h))` and `h + mlp(ln2(h))`. Sequentially the whole
    /// layer is one after the other; with the parallel residual it is
    /// `h + attn(ln1(h)) + mlp(ln2(h))`, both reading h, which the halves one after the
    /// other are not (there `i.mlp` reads `i.attn`'s output).
    fn layer(
        &self,
        layer: usize,
        part: Part,
        xs: &Tensor,
        attn: &Attention,
        kv: Option<&mut KvSlot>,
    ) -> Result<Tensor, TchError> {
        let b = &self.blocks[layer];
        match part {
            Part::Whole if self.parallel_residual => xs
                .f_add(&self.attn_delta(b, xs, attn, kv)?)?
                .f_add(&mlp_delta(b, xs)?),
            Part::Whole => {
                let xs = xs.f_add(&self.attn_delta(b, xs, attn, kv)?)?;
                xs.f_add(&mlp_delta(b, &xs)?)
            }
            Part::Attn => xs.f_add(&self.attn_delta(b, xs, attn, kv)?),
            Part::Mlp => xs.f_add(&mlp_delta(b, xs)?),
        }
    }

    fn head(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        let h = self.final_norm.forward(xs)?;
        h.f_linear::<Tensor>(&self.embed_out, None) // (B, T, V)
    }
}
