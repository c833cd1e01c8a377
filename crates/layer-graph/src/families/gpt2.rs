//! GPT-2 family: learned absolute positions, pre-norm LayerNorm blocks, fused q/k/v in
//! Conv1D layout (weight stored (in, out)), tanh-approximated GELU, tied LM head.
//!
//! B batch, T tokens, C hidden, H heads, D head dim, F mlp width, V vocab, P positions.

use std::path::Path;

use layer_plan::Part;
use serde::Deserialize;
use tch::{TchError, Tensor};

use crate::config::{check_positive, invalid, read_config};
use crate::error::Result;
use crate::ops::{LayerNorm, Linear, attend, split_heads};
use crate::stack::{Attention, KvSlot, LayerStack, LengthLimit};
use crate::weights::Weights;

#[derive(Deserialize)]
struct RawConfig {
    vocab_size: i64,
    n_embd: i64,
    n_layer: i64,
    n_head: i64,
    n_positions: i64,
    n_inner: Option<i64>,
    layer_norm_epsilon: f64,
    #[serde(default = "gelu_new")]
    activation_function: String,
    #[serde(default)]
    scale_attn_by_inverse_layer_idx: bool,
}

fn gelu_new() -> String {
    "gelu_new".into()
}

struct Block {
    ln_1: LayerNorm,
    c_attn: Linear,
    c_proj: Linear,
    ln_2: LayerNorm,
    c_fc: Linear,
    mlp_proj: Linear,
}

pub struct Gpt2 {
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    heads: i64,
    /// The position table's rows.
    limit: LengthLimit,
}

impl Gpt2 {
    /// The module path of the layer list: layer i's tensors are `h.{i}.*`, under
    /// `transformer.` in checkpoints saved with their LM head.
    pub const LAYERS: &str = "h";

    pub fn load(dir: &Path, w: &Weights) -> Result<Self> {
        let cfg: RawConfig = read_config(dir)?;
        check_positive(
            dir,
            &[
                ("vocab_size", cfg.vocab_size),
                ("n_embd", cfg.n_embd),
                ("n_layer", cfg.n_layer),
                ("n_head", cfg.n_head),
                ("n_positions", cfg.n_positions),
            ],
        )?;
        if !matches!(
            cfg.activation_function.as_str(),
            "gelu_new" | "gelu_pytorch_tanh"
        ) {
            return Err(invalid(
                dir,
                format!(
                    "key `activation_function` is {:?}, supported: \"gelu_new\"",
                    cfg.activation_function
                ),
            ));
        }
        if cfg.scale_attn_by_inverse_layer_idx {
            return Err(invalid(
                dir,
                "key `scale_attn_by_inverse_layer_idx` = true is not supported".into(),
            ));
        }
        let (c, v, heads) = (cfg.n_embd, cfg.vocab_size, cfg.n_head);
        if c % heads != 0 {
            return Err(invalid(
                dir,
                format!("key `n_head` is {heads}, expected a divisor of n_embd = {c}"),
            ));
        }
        let f = cfg.n_inner.unwrap_or(4 * c);
        // GPT2LMHeadModel saves under `transformer.`, GPT2Model (and the original) without.
        let prefix = if w.contains("transformer.wte.weight") {
            "transformer."
        } else {
            ""
        };
        let eps = cfg.layer_norm_epsilon;
        // Conv1D stores (in, out); a transposed view makes it an ordinary (out, in) linear.
        let conv1d = |name: &str, inp: i64, out: i64| -> Result<Linear> {
            Ok(Linear {
                weight: w.get(&format!("{name}.weight"), &[inp, out])?.tr(),
                bias: Some(w.get(&format!("{name}.bias"), &[out])?),
            })
        };
        let norm = |name: &str| LayerNorm::load(w, name, c, eps);
        let mut blocks = Vec::with_capacity(cfg.n_layer as usize);
        for i in 0..cfg.n_layer {
            let p = format!("{prefix}{}.{i}", Self::LAYERS);
            blocks.push(Block {
                ln_1: norm(&format!("{p}.ln_1"))?,
                c_attn: conv1d(&format!("{p}.attn.c_attn"), c, 3 * c)?,
                c_proj: conv1d(&format!("{p}.attn.c_proj"), c, c)?,
                ln_2: norm(&format!("{p}.ln_2"))?,
                c_fc: conv1d(&format!("{p}.mlp.c_fc"), c, f)?,
                mlp_proj: conv1d(&format!("{p}.mlp.c_proj"), f, c)?,
            });
        }
        Ok(Self {
            wte: w.get(&format!("{prefix}wte.weight"), &[v, c])?,
            wpe: w.get(&format!("{prefix}wpe.weight"), &[cfg.n_positions, c])?,
            blocks,
            ln_f: norm(&format!("{prefix}ln_f"))?,
            heads,
            limit: LengthLimit {
                tokens: cfg.n_positions as usize,
                reason: format!(
                    "config.json n_positions = {}, its position table",
                    cfg.n_positions
                ),
            },
        })
    }

    /// Causal-mask buffers and the tied head that some exports carry.
    pub fn ignorable(name: &str) -> bool {
        name.ends_with(".attn.bias")
            || name.ends_with(".attn.masked_bias")
            || name == "lm_head.weight"
    }
}

impl Gpt2 {
    /// (B, T, C) -> (B, T, C): `h + attn(ln_1(h))`.
    fn attn_half(
        &self,
        b: &Block,
        xs: &Tensor,
        attn: &Attention,
        kv: Option<&mut KvSlot>,
    ) -> Result<Tensor, TchError> {
        let qkv = b.c_attn.forward(&b.ln_1.forward(xs)?)?.f_chunk(3, -1)?; // 3 x (B, T, C)
        let (q, k, v) = (
            split_heads(&qkv[0], self.heads)?,
            split_heads(&qkv[1], self.heads)?,
            split_heads(&qkv[2], self.heads)?,
        );
        xs.f_add(&b.c_proj.forward(&attend(&q, k, v, attn, kv)?)?)
    }

    /// (B, T, C) -> (B, T, C): `h + mlp(ln_2(h))`.
    fn mlp_half(&self, b: &Block, xs: &Tensor) -> Result<Tensor, TchError> {
        let h = b.c_fc.forward(&b.ln_2.forward(xs)?)?.f_gelu("tanh")?; // (B, T, F)
        xs.f_add(&b.mlp_proj.forward(&h)?)
    }
}

impl LayerStack for Gpt2 {
    fn num_layers(&self) -> usize {
        self.blocks.len()
    }

    fn vocab_size(&self) -> i64 {
        self.wte.size()[0]
    }

    fn is_causal(&self) -> bool {
        true
    }

    fn length_limit(&self) -> Option<&LengthLimit> {
        Some(&self.limit)
    }

    fn embed(&self, ids: &Tensor, positions: &Tensor) -> Result<Tensor, TchError> {
        let tokens = Tensor::f_embedding(&self.wte, ids, -1, false, false)?;
        tokens.f_add(&Tensor::f_embedding(
            &self.wpe, positions, -1, false, false,
        )?) // (B, T, C)
    }

    /// The halves are `h + attn(ln_1(h))` and `h + mlp(ln_2(h))`; the whole layer is one
    /// after the other.
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
            Part::Whole => self.mlp_half(b, &self.attn_half(b, xs, attn, kv)?),
            Part::Attn => self.attn_half(b, xs, attn, kv),
            Part::Mlp => self.mlp_half(b, xs),
        }
    }

    fn head(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        self.ln_f.forward(xs)?.f_linear::<Tensor>(&self.wte, None) // (B, T, V)
    }
}
