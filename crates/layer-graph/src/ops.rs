//! Building blocks the families share: norms, projections, activations and multi-head
//! attention over an optional KV slot (rotary positions are in `rope`). Arithmetic follows the Hugging Face
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

/// RMSNorm, normalised in float32; where the weight is applied differs by family.
pub struct RmsNorm {
    pub weight: Tensor,
    pub eps: f64,
    pub style: RmsStyle,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RmsStyle {
    /// Llama: cast back to the input's dtype, then times the weight.
    Llama,
    /// OLMo-2: times the weight in float32, then cast back.
    WeightInF32,
    /// Gemma: times (1 + weight) in float32, then cast back.
    OnePlusWeight,
}

impl RmsNorm {
    /// `{name}.weight` (width).
    pub fn load(w: &Weights, name: &str, width: i64, eps: f64, style: RmsStyle) -> Result<Self> {
        Ok(Self {
            weight: w.get(&format!("{name}.weight"), &[width])?,
            eps,
            style,
        })
    }

    /// (..., C) -> (..., C)
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        let x = xs.f_to_kind(Kind::Float)?;
        let variance = x.f_square()?.f_mean_dim(-1, true, Kind::Float)?;
        let normed = x.f_mul(&variance.f_add_scalar(self.eps)?.f_rsqrt()?)?;
        match self.style {
            RmsStyle::Llama => self.weight.f_mul(&normed.f_to_kind(xs.kind())?),
            RmsStyle::WeightInF32 => normed
                .f_mul(&self.weight.f_to_kind(Kind::Float)?)?
                .f_to_kind(xs.kind()),
            RmsStyle::OnePlusWeight => normed
                .f_mul(&self.weight.f_to_kind(Kind::Float)?.f_add_scalar(1.0)?)?
                .f_to_kind(xs.kind()),
        }
    }
}

/// The gate activation of a gated MLP, by config.json's `hidden_act` / `hidden_activation`.
#[derive(Clone, Copy)]
pub enum Activation {
    Silu,
    /// GELU with the tanh approximation (`gelu_pytorch_tanh`, Gemma's GeGLU).
    GeluTanh,
    Gelu,
}

impl Activation {
    /// The activation named `name`, or the supported names.
    pub fn named(name: &str) -> Result<Self, &'static str> {
        match name {
            "silu" | "swish" => Ok(Self::Silu),
            "gelu_pytorch_tanh" | "gelu_new" | "gelu_fast" => Ok(Self::GeluTanh),
            "gelu" => Ok(Self::Gelu),
            _ => Err("silu, gelu, gelu_pytorch_tanh"),
        }
    }

    pub fn forward(self, xs: &Tensor) -> Result<Tensor, TchError> {
        match self {
            Self::Silu => xs.f_silu(),
            Self::GeluTanh => xs.f_gelu("tanh"),
            Self::Gelu => xs.f_gelu("none"),
        }
    }
}

/// How attention scores are formed beyond softmax(q k^T / sqrt(D)) under the forward's
/// mask: another scale (Gemma's `query_pre_attn_scalar`), tanh soft-capping of the
/// scores, a sliding window.
#[derive(Clone, Copy, Default)]
pub struct Scores {
    pub scale: Option<f64>,
    pub softcap: Option<f64>,
    pub window: Option<i64>,
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
    attend_scored(q, k, v, attn, kv, Scores::default())
}

/// [`attend`] with the scores formed as `scores` says. Soft-capping runs the attention
/// by hand (softmax in float32, as transformers' eager path); everything else takes
/// libtorch's fused kernel.
pub fn attend_scored(
    q: &Tensor,
    k: Tensor,
    v: Tensor,
    attn: &Attention,
    kv: Option<&mut KvSlot>,
    scores: Scores,
) -> Result<Tensor, TchError> {
    let (k, v) = match kv {
        Some(slot) => slot.append(k, v)?,
        None => (k, v),
    };
    let (heads, kv_heads) = (q.size4()?.1, k.size4()?.1);
    let mask = match scores.window {
        Some(window) => Some(attn.sliding(window)?),
        None => attn.mask.as_ref().map(Tensor::shallow_clone),
    };
    let out = match scores.softcap {
        None => Tensor::f_scaled_dot_product_attention(
            q,
            &k,
            &v,
            mask.as_ref(),
            0.0,
            mask.is_none(),
            scores.scale,
            heads != kv_heads,
        )?,
        Some(cap) => {
            let (k, v) = if heads == kv_heads {
                (k, v)
            } else {
                let groups = heads / kv_heads;
                (
                    k.f_repeat_interleave_self_int(groups, 1, None)?,
                    v.f_repeat_interleave_self_int(groups, 1, None)?,
                )
            };
            let d = q.size4()?.3;
            let scale = scores.scale.unwrap_or(1.0 / (d as f64).sqrt());
            let logits = q.f_matmul(&k.f_transpose(2, 3)?)?.f_mul_scalar(scale)?; // (B, H, T, S)
            let logits = logits.f_div_scalar(cap)?.f_tanh()?.f_mul_scalar(cap)?;
            let allowed = match mask {
                Some(mask) => mask,
                None => {
                    let (t, s) = (logits.size4()?.2, logits.size4()?.3);
                    let slot = Tensor::f_arange(s, (Kind::Int64, q.device()))?;
                    let query = slot.f_narrow(0, s - t, t)?.f_view([t, 1])?;
                    slot.f_view([1, s])?.f_le_tensor(&query)?
                }
            };
            let logits = logits.f_masked_fill(&allowed.f_logical_not()?, f64::NEG_INFINITY)?;
            let weights = logits.f_softmax(-1, Kind::Float)?.f_to_kind(q.kind())?;
            weights.f_matmul(&v)?
        }
    };
    let (b, h, t, d) = out.size4()?;
    out.f_transpose(1, 2)?.f_reshape([b, t, h * d])
}

/// (B, T, heads * D) -> (B, heads, T, D)
pub fn split_heads(xs: &Tensor, heads: i64) -> Result<Tensor, TchError> {
    let (b, t, c) = xs.size3()?;
    xs.f_view([b, t, heads, c / heads])?.f_transpose(1, 2)
}
