//! The seam every model family exposes: embed -> any sequence of layers on the residual
//! stream -> head over all positions. Plans, scoring and generation are written against
//! this trait alone; the families know nothing of plans.
//!
//! Every tensor operation here and in the families is one of tch's fallible `f_*` ones:
//! a libtorch failure (an out-of-memory above all) comes back as a [`TchError`], and the
//! runners name the step that failed.
//!
//! Dimension legend: B batch, T new tokens, S key positions (cached + new), C hidden size,
//! V vocabulary, H query heads, Hkv key/value heads, D head dim.

use std::cell::OnceCell;

use layer_plan::Part;
use tch::{Kind, TchError, Tensor};

/// Per-forward attention inputs shared by every layer call.
pub struct Attention {
    /// (B, T) int64: absolute position of each new token.
    pub positions: Tensor,
    /// (B, 1, T, S) bool: true where a query may attend to a key; `None` for plain
    /// causal attention over all S = T slots (right-padded batches without a cache:
    /// padding only follows real tokens, so causality alone keeps it out, and the fused
    /// causal kernel is both faster and what the reference implementations run).
    pub mask: Option<Tensor>,
    /// (B, S) int64: the position of every key slot (padding's is meaningless, it is
    /// masked anyway); sliding windows are measured between positions.
    pub key_positions: Tensor,
    /// (B, 1) int64: the position of each row's last real token (longrope picks its
    /// frequencies by the row's length).
    pub last_position: Tensor,
    /// Rotary cos/sin for `positions`, computed once per forward by the family that needs
    /// them; one table per rotary base (Gemma-3 has a local and a global one).
    pub rotary: [OnceCell<(Tensor, Tensor)>; 2],
    /// The mask narrowed to a sliding window, memoised with its width.
    windowed: OnceCell<(i64, Tensor)>,
}

impl Attention {
    /// Inputs for the last `t` of `S` token slots, where `valid` (B, S) bool marks real
    /// tokens (padding may sit on either side). Positions count real tokens only, as
    /// Hugging Face's `cumsum(attention_mask) - 1`. A query sees the real keys that
    /// causality allows (all real keys when `causal` is false) and always itself, so
    /// padded rows stay finite and never leak into real ones.
    pub fn new(valid: &Tensor, t: i64, causal: bool) -> Result<Self, TchError> {
        let (b, s) = valid.size2()?;
        let device = valid.device();
        let key_positions = valid
            .f_cumsum(1, Kind::Int64)?
            .f_sub_scalar(1)?
            .f_clamp_min(0)?; // (B, S)
        let positions = key_positions.f_narrow(1, s - t, t)?; // (B, T)
        let mut mask = valid.f_view([b, 1, 1, s])?.f_expand([b, 1, t, s], true)?;
        let query_at = Tensor::f_arange_start(s - t, s, (Kind::Int64, device))?.f_view([t, 1])?; // (T, 1)
        let key_at = Tensor::f_arange(s, (Kind::Int64, device))?.f_view([1, s])?; // (1, S)
        if causal {
            mask = mask.f_logical_and(&key_at.f_le_tensor(&query_at)?.f_view([1, 1, t, s])?)?;
        }
        let mask = mask.f_logical_or(&key_at.f_eq_tensor(&query_at)?.f_view([1, 1, t, s])?)?;
        Self::with_mask(positions, key_positions, mask)
    }

    /// Attention from explicit parts: query positions (B, T), key positions (B, S), 0 in
    /// padding, and the mask (B, 1, T, S).
    pub fn with_mask(
        positions: Tensor,
        key_positions: Tensor,
        mask: Tensor,
    ) -> Result<Self, TchError> {
        let last_position = key_positions.f_amax(&[1i64][..], true)?;
        Ok(Self::from_parts(
            positions,
            key_positions,
            Some(mask),
            last_position,
        ))
    }

    fn from_parts(
        positions: Tensor,
        key_positions: Tensor,
        mask: Option<Tensor>,
        last_position: Tensor,
    ) -> Self {
        Self {
            positions,
            key_positions,
            last_position,
            mask,
            rotary: Default::default(),
            windowed: OnceCell::new(),
        }
    }

    /// Plain causal attention for a (B, S) batch whose rows hold `lengths` real tokens
    /// followed by padding, with no cache.
    pub fn causal(lengths: &[i64], s: i64, device: tch::Device) -> Result<Self, TchError> {
        let b = lengths.len() as i64;
        let positions = Tensor::f_arange(s, (Kind::Int64, device))?
            .f_unsqueeze(0)?
            .f_expand([b, s], true)?;
        let last = Tensor::f_from_slice(lengths)?
            .f_sub_scalar(1)?
            .f_view([b, 1])?
            .f_to_device(device)?;
        Ok(Self::from_parts(
            positions.shallow_clone(),
            positions,
            None,
            last,
        ))
    }

    /// The mask of a layer whose queries see only the last `window` positions (keys with
    /// `query - key < window`, transformers' sliding window), memoised per forward for the
    /// first width asked for (a model has one).
    pub fn sliding(&self, window: i64) -> Result<Tensor, TchError> {
        if let Some((w, mask)) = self.windowed.get()
            && *w == window
        {
            return Ok(mask.shallow_clone());
        }
        let (b, t) = self.positions.size2()?;
        let s = self.key_positions.size()[1];
        let query = self.positions.f_view([b, 1, t, 1])?;
        let key = self.key_positions.f_view([b, 1, 1, s])?;
        let near = query.f_sub(&key)?.f_lt(window)?; // (B, 1, T, S)
        let mask = match &self.mask {
            Some(mask) => mask.f_logical_and(&near)?,
            None => {
                let slot = Tensor::f_arange(s, (Kind::Int64, self.positions.device()))?;
                let causal = slot.f_view([1, s])?.f_le_tensor(&slot.f_view([s, 1])?)?;
                near.f_logical_and(&causal)?
            }
        };
        let _ = self.windowed.set((window, mask.shallow_clone()));
        Ok(mask)
    }
}

/// Keys and values one layer *execution* has seen so far, (B, Hkv, S, D) each. Owned by
/// whoever runs the layers and keyed by execution step, never by layer weights, so a
/// repeated layer does not overwrite its own earlier slot.
#[derive(Default)]
pub struct KvSlot {
    pub kv: Option<(Tensor, Tensor)>,
}

impl KvSlot {
    /// Appends this call's keys and values and returns everything seen so far.
    pub fn append(&mut self, k: Tensor, v: Tensor) -> Result<(Tensor, Tensor), TchError> {
        let (k, v) = match self.kv.take() {
            Some((pk, pv)) => (Tensor::f_cat(&[pk, k], 2)?, Tensor::f_cat(&[pv, v], 2)?),
            None => (k, v),
        };
        self.kv = Some((k.shallow_clone(), v.shallow_clone()));
        Ok((k, v))
    }
}

/// The longest sequence a stack computes as its reference implementation does: a learned
/// position table ends there, or attention beyond it would slide, which is not implemented.
#[derive(Clone, Debug)]
pub struct LengthLimit {
    pub tokens: usize,
    /// What sets it, naming the config key: `config.json n_positions = 1024, its position
    /// table`.
    pub reason: String,
}

/// A frozen transformer cut at its residual stream.
pub trait LayerStack: Send {
    /// Number of transformer blocks, T in the paper.
    fn num_layers(&self) -> usize;
    /// Rows of the token embedding.
    fn vocab_size(&self) -> i64;
    /// Whether attention is causal (decoders) or bidirectional (encoders).
    fn is_causal(&self) -> bool;
    /// The most tokens one sequence may have, if the family has a limit (rotary positions
    /// with full attention have none).
    fn length_limit(&self) -> Option<&LengthLimit>;
    /// The sliding window of `layer`'s attention (keys within this many positions of the
    /// query), if it has one; it follows the layer wherever a plan runs it.
    fn attention_window(&self, _layer: usize) -> Option<i64> {
        None
    }
    /// Token ids (B, T) at `positions` (B, T) -> residual stream (B, T, C).
    fn embed(&self, ids: &Tensor, positions: &Tensor) -> Result<Tensor, TchError>;
    /// Block `layer` on the residual stream: (B, T, C) -> (B, T, C), i.e. h + delta(h);
    /// or, by `part`, only its attention or its MLP half, each with its residual add
    /// (each family's module docs say what its halves are). With `kv`, this execution's
    /// keys and values are appended to that slot and attention covers the slot's earlier
    /// keys too; an MLP half leaves the slot alone.
    fn layer(
        &self,
        layer: usize,
        part: Part,
        xs: &Tensor,
        attn: &Attention,
        kv: Option<&mut KvSlot>,
    ) -> Result<Tensor, TchError>;
    /// Residual stream (B, T, C) -> logits (B, T, V) at every position. Encoders without
    /// an LM head return the final hidden states (B, T, C).
    fn head(&self, xs: &Tensor) -> Result<Tensor, TchError>;
}
