//! The seam every model family exposes: embed -> any sequence of layers on the residual
//! stream -> head over all positions. Plans, scoring and generation are written against
//! this trait alone; the families know nothing of plans.
//!
//! Dimension legend: B batch, T new tokens, S key positions (cached + new), C hidden size,
//! V vocabulary, H query heads, Hkv key/value heads, D head dim.

use std::cell::OnceCell;

use tch::{Device, Kind, Tensor};

/// Per-forward attention inputs shared by every layer call.
pub struct Attention {
    /// (B, T) int64: absolute position of each new token.
    pub positions: Tensor,
    /// (B, 1, T, S) bool: true where a query may attend to a key.
    pub mask: Tensor,
    /// Rotary cos/sin for `positions`, computed once per forward by the family that needs it.
    pub rotary: OnceCell<(Tensor, Tensor)>,
}

impl Attention {
    /// A right-padded batch without cache: row b has `lengths[b]` real tokens followed by
    /// padding. Each query sees the real keys allowed by causality (or all real keys when
    /// `causal` is false) and always itself, so padded rows stay finite.
    pub fn right_padded(lengths: &[i64], t: i64, causal: bool, device: Device) -> Self {
        let b = lengths.len() as i64;
        let positions = Tensor::arange(t, (Kind::Int64, device)).unsqueeze(0).expand([b, t], true);
        let lengths = Tensor::from_slice(lengths).to_device(device);
        let keys = Tensor::arange(t, (Kind::Int64, device));
        let key_real = keys.unsqueeze(0).lt_tensor(&lengths.unsqueeze(1)); // (B, S)
        let mut mask = key_real.view([b, 1, 1, t]).expand([b, 1, t, t], true);
        let diagonal = Tensor::eye(t, (Kind::Bool, device)).view([1, 1, t, t]);
        if causal {
            let lower = Tensor::ones([t, t], (Kind::Bool, device)).tril(0).view([1, 1, t, t]);
            mask = mask.logical_and(&lower);
        }
        let mask = mask.logical_or(&diagonal);
        Self { positions, mask, rotary: OnceCell::new() }
    }

    pub fn batch_size(&self) -> i64 {
        self.positions.size()[0]
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
    pub fn append(&mut self, k: Tensor, v: Tensor) -> (Tensor, Tensor) {
        let (k, v) = match self.kv.take() {
            Some((pk, pv)) => (Tensor::cat(&[pk, k], 2), Tensor::cat(&[pv, v], 2)),
            None => (k, v),
        };
        self.kv = Some((k.shallow_clone(), v.shallow_clone()));
        (k, v)
    }
}

/// A frozen transformer cut at its residual stream.
pub trait LayerStack: Send {
    /// Number of transformer blocks, T in the paper.
    fn num_layers(&self) -> usize;
    /// Rows of the token embedding.
    fn vocab_size(&self) -> i64;
    /// Whether attention is causal (decoders) or bidirectional (encoders).
    fn is_causal(&self) -> bool;
    /// Token ids (B, T) at `positions` (B, T) -> residual stream (B, T, C).
    fn embed(&self, ids: &Tensor, positions: &Tensor) -> Tensor;
    /// Block `layer` on the residual stream: (B, T, C) -> (B, T, C), i.e. h + delta(h).
    /// With `kv`, this execution's keys and values are appended to that slot and
    /// attention covers the slot's earlier keys too.
    fn layer(&self, layer: usize, xs: &Tensor, attn: &Attention, kv: Option<&mut KvSlot>) -> Tensor;
    /// Residual stream (B, T, C) -> logits (B, T, V) at every position. Encoders without
    /// an LM head return the final hidden states (B, T, C).
    fn head(&self, xs: &Tensor) -> Tensor;
}
