//! BERT family (encoder only; all-MiniLM, bert-large): word + position + token-type
//! embeddings with LayerNorm, post-norm blocks (LN(h + attn), LN(h + mlp)), exact GELU.
//! The "head" is the final hidden state: the checkpoints carry no LM head, and the
//! paper's GLUE protocol trains its own classifier on top.
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
    hidden_size: i64,
    intermediate_size: i64,
    num_hidden_layers: i64,
    num_attention_heads: i64,
    max_position_embeddings: i64,
    #[serde(default = "two")]
    type_vocab_size: i64,
    layer_norm_eps: f64,
    #[serde(default = "gelu")]
    hidden_act: String,
    #[serde(default = "absolute")]
    position_embedding_type: String,
}

fn two() -> i64 {
    2
}
fn gelu() -> String {
    "gelu".into()
}
fn absolute() -> String {
    "absolute".into()
}

struct Block {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    out_norm: LayerNorm,
}

pub struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    embed_norm: LayerNorm,
    blocks: Vec<Block>,
    heads: i64,
    /// The position table's rows.
    limit: LengthLimit,
}

impl Bert {
    /// The module path of the layer list: layer i's tensors are `encoder.layer.{i}.*`,
    /// under `bert.` in checkpoints saved from a task model.
    pub const LAYERS: &str = "encoder.layer";

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
                ("max_position_embeddings", cfg.max_position_embeddings),
                ("type_vocab_size", cfg.type_vocab_size),
            ],
        )?;
        if cfg.hidden_act != "gelu" {
            return Err(invalid(
                dir,
                format!(
                    "key `hidden_act` is {:?}, the bert family supports \"gelu\"",
                    cfg.hidden_act
                ),
            ));
        }
        if cfg.position_embedding_type != "absolute" {
            return Err(invalid(
                dir,
                format!(
                    "key `position_embedding_type` is {:?}, supported: \"absolute\"",
                    cfg.position_embedding_type
                ),
            ));
        }
        let (c, f, heads) = (
            cfg.hidden_size,
            cfg.intermediate_size,
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
        // BertForMaskedLM and friends save under `bert.`, BertModel without.
        let prefix = if w.contains("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let eps = cfg.layer_norm_eps;
        let linear = |name: &str, out, inp| Linear::load(w, name, out, inp, true);
        let norm = |name: &str| LayerNorm::load(w, name, c, eps);
        let mut blocks = Vec::with_capacity(cfg.num_hidden_layers as usize);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("{prefix}{}.{i}", Self::LAYERS);
            blocks.push(Block {
                query: linear(&format!("{p}.attention.self.query"), c, c)?,
                key: linear(&format!("{p}.attention.self.key"), c, c)?,
                value: linear(&format!("{p}.attention.self.value"), c, c)?,
                attn_out: linear(&format!("{p}.attention.output.dense"), c, c)?,
                attn_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate: linear(&format!("{p}.intermediate.dense"), f, c)?,
                output: linear(&format!("{p}.output.dense"), c, f)?,
                out_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let e = format!("{prefix}embeddings");
        Ok(Self {
            word: w.get(&format!("{e}.word_embeddings.weight"), &[cfg.vocab_size, c])?,
            position: w.get(
                &format!("{e}.position_embeddings.weight"),
                &[cfg.max_position_embeddings, c],
            )?,
            token_type: w.get(
                &format!("{e}.token_type_embeddings.weight"),
                &[cfg.type_vocab_size, c],
            )?,
            embed_norm: norm(&format!("{e}.LayerNorm"))?,
            blocks,
            heads,
            limit: LengthLimit {
                tokens: cfg.max_position_embeddings as usize,
                reason: format!(
                    "config.json max_position_embeddings = {}, its position table",
                    cfg.max_position_embeddings
                ),
            },
        })
    }

    /// Position-id buffers, the unused pooler and pre-training heads.
    pub fn ignorable(name: &str) -> bool {
        name.ends_with("embeddings.position_ids")
            || name.contains("pooler.")
            || name.starts_with("cls.")
    }
}

impl Bert {
    /// (B, T, C) -> (B, T, C): `LN1(h + attn(h))`.
    fn attn_half(
        &self,
        b: &Block,
        xs: &Tensor,
        attn: &Attention,
        kv: Option<&mut KvSlot>,
    ) -> Result<Tensor, TchError> {
        let q = split_heads(&b.query.forward(xs)?, self.heads)?; // (B, H, T, D)
        let k = split_heads(&b.key.forward(xs)?, self.heads)?;
        let v = split_heads(&b.value.forward(xs)?, self.heads)?;
        let attended = b.attn_out.forward(&attend(&q, k, v, attn, kv)?)?; // (B, T, C)
        b.attn_norm.forward(&attended.f_add(xs)?)
    }

    /// (B, T, C) -> (B, T, C): `LN2(h + mlp(h))`.
    fn mlp_half(&self, b: &Block, xs: &Tensor) -> Result<Tensor, TchError> {
        let inner = b.intermediate.forward(xs)?.f_gelu("none")?; // (B, T, F)
        b.out_norm.forward(&b.output.forward(&inner)?.f_add(xs)?)
    }
}

impl LayerStack for Bert {
    fn num_layers(&self) -> usize {
        self.blocks.len()
    }

    fn vocab_size(&self) -> i64 {
        self.word.size()[0]
    }

    fn is_causal(&self) -> bool {
        false
    }

    fn length_limit(&self) -> Option<&LengthLimit> {
        Some(&self.limit)
    }

    /// Single-segment input: token type 0 everywhere.
    fn embed(&self, ids: &Tensor, positions: &Tensor) -> Result<Tensor, TchError> {
        let words = Tensor::f_embedding(&self.word, ids, -1, false, false)?;
        let pos = Tensor::f_embedding(&self.position, positions, -1, false, false)?;
        let segment = self.token_type.f_get(0)?; // (C)
        self.embed_norm
            .forward(&words.f_add(&pos)?.f_add(&segment)?) // (B, T, C)
    }

    /// Post-norm halves: `LN1(h + attn(h))` and `LN2(h + mlp(h))`; the whole layer is one
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
        Ok(xs.shallow_clone()) // (B, T, C)
    }
}
