//! Rotary position embeddings: the inverse frequencies a checkpoint's config asks for
//! (default, linear, llama3 or longrope scaling, as transformers computes them) and their
//! application to queries and keys.
//!
//! B batch, T tokens, D head dim.

use std::path::Path;

use serde::Deserialize;
use tch::{Kind, TchError, Tensor};

use crate::config::invalid;
use crate::error::Result;
use crate::stack::Attention;

/// A config's `rope_parameters` (transformers 5) or `rope_scaling` (before).
#[derive(Deserialize, Clone, Default)]
pub struct RopeParameters {
    pub rope_theta: Option<f64>,
    pub rope_type: Option<String>,
    /// transformers < 4.45's name for `rope_type` (5.x writes both).
    #[serde(rename = "type")]
    pub legacy_type: Option<String>,
    pub factor: Option<f64>,
    pub low_freq_factor: Option<f64>,
    pub high_freq_factor: Option<f64>,
    pub original_max_position_embeddings: Option<f64>,
    pub partial_rotary_factor: Option<f64>,
    pub short_factor: Option<Vec<f64>>,
    pub long_factor: Option<Vec<f64>>,
    pub attention_factor: Option<f64>,
}

/// Rotary position embedding over the first `dim` channels of each head.
pub struct Rotary {
    /// (dim / 2) float32 inverse frequencies, scaling already applied.
    pub inv_freq: Tensor,
    /// longrope: the frequencies for rows whose positions reach beyond the first value
    /// (`original_max_position_embeddings`) tokens.
    pub long: Option<(i64, Tensor)>,
    /// Multiplies cos and sin (longrope's attention factor; 1 otherwise).
    pub scale: f64,
    pub dim: i64,
    /// Which of the forward pass's memoised cos/sin tables this one fills
    /// ([`Attention::rotary`]): families with two bases (Gemma-3) use two.
    pub table: usize,
}

impl Rotary {
    /// Unscaled frequencies from `base` over `dim` channels, in table 0.
    pub fn plain(base: f64, dim: i64) -> Self {
        Self {
            inv_freq: inv_freq(base, dim),
            long: None,
            scale: 1.0,
            dim,
            table: 0,
        }
    }

    /// The rotary a config describes: `base`, rotating `dim` channels, with `rope`'s scaling
    /// (`max_positions` is config.json's `max_position_embeddings`, longrope's default factor
    /// divides it). Errors name the missing key or the unsupported type.
    pub fn scaled(
        dir: &Path,
        base: f64,
        dim: i64,
        rope: Option<&RopeParameters>,
        max_positions: Option<f64>,
    ) -> Result<Self> {
        let mut rotary = Self::plain(base, dim);
        let Some(rope) = rope else {
            return Ok(rotary);
        };
        let rope_type = match rope.rope_type.as_ref().or(rope.legacy_type.as_ref()) {
            Some(name) if name == "su" => "longrope", // Phi-3's first name for it
            Some(name) => name.as_str(),
            None => "default",
        };
        let missing =
            |key: &str| invalid(dir, format!("{rope_type} rope scaling needs key `{key}`"));
        let factor = || rope.factor.ok_or_else(|| missing("factor"));
        let old_len = || {
            rope.original_max_position_embeddings
                .ok_or_else(|| missing("original_max_position_embeddings"))
        };
        match rope_type {
            "default" => {}
            "linear" => rotary.inv_freq /= factor()?,
            "llama3" => {
                let low = rope
                    .low_freq_factor
                    .ok_or_else(|| missing("low_freq_factor"))?;
                let high = rope
                    .high_freq_factor
                    .ok_or_else(|| missing("high_freq_factor"))?;
                rotary.inv_freq = llama3(&rotary.inv_freq, factor()?, low, high, old_len()?);
            }
            "longrope" => {
                let old_len = old_len()?;
                let factors = |key: &str, values: &Option<Vec<f64>>| -> Result<Tensor> {
                    match values {
                        Some(v) if v.len() as i64 == dim / 2 => {
                            Ok(Tensor::from_slice(v).to_kind(Kind::Float))
                        }
                        Some(v) => Err(invalid(
                            dir,
                            format!(
                                "key `{key}` has {} entries, expected one per rotary frequency ({})",
                                v.len(),
                                dim / 2
                            ),
                        )),
                        None => Err(missing(key)),
                    }
                };
                let plain = rotary.inv_freq.shallow_clone();
                rotary.inv_freq = &plain / factors("short_factor", &rope.short_factor)?;
                let long = &plain / factors("long_factor", &rope.long_factor)?;
                rotary.long = Some((old_len as i64, long));
                let factor = match (rope.factor, max_positions) {
                    (Some(f), _) => f,
                    (None, Some(max)) => max / old_len,
                    (None, None) => factor()?,
                };
                rotary.scale = rope.attention_factor.unwrap_or(if factor <= 1.0 {
                    1.0
                } else {
                    (1.0 + factor.ln() / old_len.ln()).sqrt()
                });
            }
            other => {
                return Err(invalid(
                    dir,
                    format!(
                        "key `rope_type` is {other:?}; supported: default, linear, llama3, longrope"
                    ),
                ));
            }
        }
        Ok(rotary)
    }

    /// This rotary in memo table `table` of the forward pass.
    pub fn in_table(self, table: usize) -> Self {
        Self { table, ..self }
    }

    /// cos and sin (B, 1, T, dim) in `kind` for positions (B, T), memoised per forward.
    /// longrope picks the long frequencies for a row longer than the original length, as
    /// transformers does for a batch of one (it decides by the longest row of a batch; in
    /// generation, by the current length, so cached keys keep the rotation they had).
    fn tables<'a>(
        &self,
        attn: &'a Attention,
        kind: Kind,
    ) -> Result<&'a (Tensor, Tensor), TchError> {
        let memo = &attn.rotary[self.table];
        if let Some(tables) = memo.get() {
            return Ok(tables);
        }
        let device = attn.positions.device();
        let positions = attn.positions.f_to_kind(Kind::Float)?.f_unsqueeze(-1)?; // (B, T, 1)
        let mut freqs = positions.f_mul(&self.inv_freq.f_to_device(device)?)?; // (B, T, dim/2)
        if let Some((old_len, long)) = &self.long {
            let beyond = attn.last_position.f_ge(*old_len)?.f_unsqueeze(-1)?; // (B, 1, 1): length > old_len
            let long = positions.f_mul(&long.f_to_device(device)?)?;
            freqs = long.f_where_self(&beyond, &freqs)?;
        }
        let emb = Tensor::f_cat(&[&freqs, &freqs], -1)?.f_unsqueeze(1)?; // (B, 1, T, dim)
        let (cos, sin) = (emb.f_cos()?, emb.f_sin()?);
        let (cos, sin) = match self.scale {
            1.0 => (cos, sin),
            s => (cos.f_mul_scalar(s)?, sin.f_mul_scalar(s)?),
        };
        let tables = (cos.f_to_kind(kind)?, sin.f_to_kind(kind)?);
        Ok(memo.get_or_init(|| tables))
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

/// 1 / base^(2i / dim), computed in float32 as the reference does.
fn inv_freq(base: f64, dim: i64) -> Tensor {
    let exponents = Tensor::arange_start_step(0, dim, 2, (Kind::Int64, tch::Device::Cpu))
        .to_kind(Kind::Float)
        / dim as f64;
    Tensor::pow_scalar(base, &exponents).reciprocal()
}

/// Llama 3.1's scaling: long wavelengths divided by `factor`, short ones kept, a smooth
/// blend between.
fn llama3(inv_freq: &Tensor, factor: f64, low: f64, high: f64, old_len: f64) -> Tensor {
    let (low_wavelen, high_wavelen) = (old_len / low, old_len / high);
    let wavelen = inv_freq.reciprocal() * (2.0 * std::f64::consts::PI);
    let long = wavelen.gt(low_wavelen);
    let scaled = inv_freq.where_self(&long.logical_not(), &(inv_freq / factor));
    let smooth = (wavelen.reciprocal() * old_len - low) / (high - low);
    let smoothed: Tensor = (-&smooth + 1.0) * &scaled / factor + &smooth * &scaled;
    let medium = wavelen
        .lt(high_wavelen)
        .logical_not()
        .logical_and(&long.logical_not());
    smoothed.where_self(&medium, &scaled)
}
