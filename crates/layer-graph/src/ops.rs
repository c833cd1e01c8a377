//! Building blocks the families share: norms, projections, rotary embeddings and
//! multi-head attention over an optional KV slot. Arithmetic follows the Hugging Face
//! reference implementations (e.g. RMSNorm in float32) so results match to ~1e-5.

use tch::{Kind, TchError, Tensor};

use crate::error::Result;
use crate::stack::{Attention, KvSlot};
use crate::weights::Weights;

/// A dense projection: weight (out, in), optional bias (out).
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    /// `{name}.weight` (out, in) and, with `bias`, `{name}.bias` (out).
    pub fn load(w: &Weights, name: &str, out: i64, inp: i64, bias: bool) -> Result<Self> {
        Ok(Self {
            weight: w.get(&format!("{name}.weight"), &[out, inp])?,
            bias: if bias {
                Some(w.get(&format!("{name}.bias"), &[out])?)
            } else {
                None
            },
        })
    }

    /// (..., in) -> (..., out)
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        xs.f_linear(&self.weight, self.bias.as_ref())
    }
}

/// LayerNorm with weight and bias (C).
pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub eps: f64,
}

impl LayerNorm {
    /// `{name}.weight` and `{name}.bias`, both (C).
    pub fn load(w: &Weights, name: &str, c: i64, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: w.get(&format!("{name}.weight"), &[c])?,
            bias: w.get(&format!("{name}.bias"), &[c])?,
            eps,
        })
    }

    /// (..., C) -> (..., C)
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        let c = self.weight.size();
        xs.f_layer_norm(c, Some(&self.weight), Some(&self.bias), self.eps, false)
    }
}

/// Llama's RMSNorm: normalised in float32, cast back, then scaled.
pub struct RmsNorm {
    pub weight: Tensor,
    pub eps: f64,
}

impl RmsNorm {
    /// (..., C) -> (..., C)
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        let x = xs.f_to_kind(Kind::Float)?;
        let variance = x.f_square()?.f_mean_dim(-1, true, Kind::Float)?;
        let normed = x.f_mul(&variance.f_add_scalar(self.eps)?.f_rsqrt()?)?;
        self.weight.f_mul(&normed.f_to_kind(xs.kind())?)
    }
}

/// Rotary position embedding over the first `dim` channels of each head.
pub struct Rotary {
    /// (dim / 2) float32 inverse frequencies, scaling already applied.
    pub inv_freq: Tensor,
    pub dim: i64,
}

impl Rotary {
    /// 1 / base^(2i / dim), computed in float32 as the reference does.
    pub fn inv_freq(base: f64, dim: i64) -> Tensor {
        let exponents = Tensor::arange_start_step(0, dim, 2, (Kind::Int64, tch::Device::Cpu))
            .to_kind(Kind::Float)
            / dim as f64;
        Tensor::pow_scalar(base, &exponents).reciprocal()
    }

    /// cos and sin (B, 1, T, dim) in `kind` for positions (B, T), memoised per forward.
    fn tables<'a>(
        &self,
        attn: &'a Attention,
        kind: Kind,
    ) -> Result<&'a (Tensor, Tensor), TchError> {
        if let Some(tables) = attn.rotary.get() {
            return Ok(tables);
        }
        let inv_freq = self.inv_freq.f_to_device(attn.positions.device())?;
        let positions = attn.positions.f_to_kind(Kind::Float)?.f_unsqueeze(-1)?;
        let freqs = positions.f_mul(&inv_freq)?; // (B, T, dim/2)
        let emb = Tensor::f_cat(&[&freqs, &freqs], -1)?.f_unsqueeze(1)?; // (B, 1, T, dim)
        let tables = (emb.f_cos()?.f_to_kind(kind)?, emb.f_sin()?.f_to_kind(kind)?);
        Ok(attn.rotary.get_or_init(|| tables))
    }

    /// Rotates q or k (B, heads, T, D) on its first `dim` channels.
    pub fn apply(&self, xs: &Tensor, attn: &Attention) -> Result<Tensor, TchError> {
        let (cos, sin) = self.tables(attn, xs.kind())?;
        let (_, _, _, d) = xs.size4()?;
        let rot = xs.f_narrow(-1, 0, self.dim)?;
        let half = self.dim / 2;
        let rotated = Tensor::f_cat(
            &[
                rot.f_narrow(-1, half, half)?.f_neg()?,
                rot.f_narrow(-1, 0, half)?,
            ],
            -1,
        )?;
        let out = rot.f_mul(cos)?.f_add(&rotated.f_mul(sin)?)?;
        if self.dim == d {
            Ok(out)
        } else {
            Tensor::f_cat(&[out, xs.f_narrow(-1, self.dim, d - self.dim)?], -1)
        }
    }
}

/// Scaled dot-product attention of q (B, H, T, D) over k, v (B, Hkv, T, D) appended to
/// the slot, if any; returns (B, T, H * D).
pub fn attend(
    q: &Tensor,
    k: Tensor,
    v: Tensor,
    attn: &Attention,
    kv: Option<&mut KvSlot>,
) -> Result<Tensor, TchError> {
    let (k, v) = match kv {
        Some(slot) => slot.append(k, v)?,
        None => (k, v),
    };
    let gqa = q.size4()?.1 != k.size4()?.1;
    let causal = attn.mask.is_none();
    let out = Tensor::f_scaled_dot_product_attention(
        q,
        &k,
        &v,
        attn.mask.as_ref(),
        0.0,
        causal,
        None,
        gqa,
    )?;
    let (b, h, t, d) = out.size4()?;
    out.f_transpose(1, 2)?.f_reshape([b, t, h * d])
}

/// (B, T, heads * D) -> (B, heads, T, D)
pub fn split_heads(xs: &Tensor, heads: i64) -> Result<Tensor, TchError> {
    let (b, t, c) = xs.size3()?;
    xs.f_view([b, t, heads, c / heads])?.f_transpose(1, 2)
}
