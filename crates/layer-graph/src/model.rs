//! A loaded checkpoint directory: its family's layer stack, its tokenizer, and the
//! memory maps the weights live in. Dispatches on `config.json`'s `model_type`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tch::{Device, Kind};

use crate::config::{invalid, read_config};
use crate::device::ComputeDtype;
use crate::error::{Error, Result};
use crate::families::{Bert, Gemma, Gpt2, GptNeoX, Llama, Olmo2, Phi3};
use crate::stack::LayerStack;
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;

#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    pub device: Device,
    pub dtype: ComputeDtype,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            dtype: ComputeDtype::Fixed(Kind::Float),
        }
    }
}

pub struct Model {
    // Field order matters: the stack's tensors may point into `weights`' maps, so the
    // stack is dropped first.
    stack: Box<dyn LayerStack>,
    tokenizer: Tokenizer,
    _weights: Weights,
    dir: PathBuf,
    model_type: String,
    eos_token_ids: Vec<i64>,
    max_length: usize,
    device: Device,
    /// The compute dtype, `auto` resolved.
    kind: Kind,
}

/// Says whether an unused checkpoint tensor is a known buffer rather than a mistake.
type IgnorableTensor = fn(&str) -> bool;

/// A model family: the `config.json` `model_type`s it serves, how its layer stack loads,
/// which checkpoint tensors its forward pass leaves unused, and the module path under
/// which layer i's tensors are stored (`{layers}.{i}.*`, maybe under a base-model prefix).
pub(crate) struct Family {
    model_types: &'static [&'static str],
    load: fn(&Path, &Weights) -> Result<Box<dyn LayerStack>>,
    ignorable: IgnorableTensor,
    pub layers: &'static str,
    /// Writes into a config.json object the per-layer attributes it leaves to defaults
    /// (which layers slide, which are sparse), so an export can re-index them.
    pub explicit_layers: ExplicitLayers,
}

type ExplicitLayers = fn(&Path, &mut serde_json::Map<String, serde_json::Value>) -> Result<()>;

/// For families whose layers are all alike.
fn all_alike(_: &Path, _: &mut serde_json::Map<String, serde_json::Value>) -> Result<()> {
    Ok(())
}

/// Every supported family, one line each (`families/` has their code).
const FAMILIES: &[Family] = &[
    Family {
        model_types: &["llama", "mistral", "qwen2", "qwen3", "mixtral", "qwen2_moe"],
        load: |dir, w| Ok(Box::new(Llama::load(dir, w)?)),
        ignorable: Llama::ignorable,
        layers: Llama::LAYERS,
        explicit_layers: Llama::explicit_layers,
    },
    Family {
        model_types: &["gemma2", "gemma3_text"],
        load: |dir, w| Ok(Box::new(Gemma::load(dir, w)?)),
        ignorable: Gemma::ignorable,
        layers: Gemma::LAYERS,
        explicit_layers: Gemma::explicit_layers,
    },
    Family {
        model_types: &["phi3"],
        load: |dir, w| Ok(Box::new(Phi3::load(dir, w)?)),
        ignorable: Phi3::ignorable,
        layers: Phi3::LAYERS,
        explicit_layers: all_alike,
    },
    Family {
        model_types: &["olmo2"],
        load: |dir, w| Ok(Box::new(Olmo2::load(dir, w)?)),
        ignorable: Olmo2::ignorable,
        layers: Olmo2::LAYERS,
        explicit_layers: all_alike,
    },
    Family {
        model_types: &["gpt_neox"],
        load: |dir, w| Ok(Box::new(GptNeoX::load(dir, w)?)),
        ignorable: GptNeoX::ignorable,
        layers: GptNeoX::LAYERS,
        explicit_layers: all_alike,
    },
    Family {
        model_types: &["gpt2"],
        load: |dir, w| Ok(Box::new(Gpt2::load(dir, w)?)),
        ignorable: Gpt2::ignorable,
        layers: Gpt2::LAYERS,
        explicit_layers: all_alike,
    },
    Family {
        model_types: &["bert"],
        load: |dir, w| Ok(Box::new(Bert::load(dir, w)?)),
        ignorable: Bert::ignorable,
        layers: Bert::LAYERS,
        explicit_layers: all_alike,
    },
];

#[derive(Deserialize)]
struct ModelType {
    model_type: String,
    #[serde(default)]
    eos_token_id: Option<OneOrMany>,
    /// The context length, under whichever name the family uses (as lm-eval looks it up).
    n_positions: Option<usize>,
    max_position_embeddings: Option<usize>,
    n_ctx: Option<usize>,
    /// The checkpoint's dtype: `dtype` from transformers 5 on, `torch_dtype` before.
    dtype: Option<String>,
    torch_dtype: Option<String>,
    /// Present on GPTQ, AWQ, bitsandbytes, ... checkpoints, which painters refuses.
    quantization_config: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(i64),
    Many(Vec<i64>),
}

impl Model {
    pub fn load(dir: &Path, options: LoadOptions) -> Result<Self> {
        let ModelType {
            model_type,
            eos_token_id,
            n_positions,
            max_position_embeddings,
            n_ctx,
            dtype,
            torch_dtype,
            quantization_config,
        } = read_config(dir)?;
        if let Some(quantization) = quantization_config {
            let method = quantization
                .get("quant_method")
                .and_then(|m| m.as_str())
                .unwrap_or("unnamed");
            return Err(invalid(
                dir,
                format!(
                    "key `quantization_config` says the weights are quantised ({method}); painters loads float checkpoints (float32, bfloat16, float16)"
                ),
            ));
        }
        let max_length = n_positions
            .or(max_position_embeddings)
            .or(n_ctx)
            .unwrap_or(2048);
        let eos_token_ids = match eos_token_id {
            None => Vec::new(),
            Some(OneOrMany::One(id)) => vec![id],
            Some(OneOrMany::Many(ids)) => ids,
        };
        let kind = match options.dtype {
            ComputeDtype::Fixed(kind) => Some(kind),
            ComputeDtype::Auto => checkpoint_kind(dir, dtype, torch_dtype)?,
        };
        let family = family(dir, &model_type)?;
        let weights = Weights::open(dir, kind, options.device)?;
        let kind = weights.kind();
        let stack = (family.load)(dir, &weights)?;
        weights.check_all_taken(family.ignorable)?;
        let tokenizer = Tokenizer::from_dir(dir)?;
        let rows = stack.vocab_size();
        if tokenizer.vocab_size() as i64 > rows {
            return Err(Error::Tokenizer {
                path: tokenizer.path().to_owned(),
                message: format!(
                    "has {} tokens but the model's embedding has {rows} rows: tokenizer and weights do not match",
                    tokenizer.vocab_size()
                ),
            });
        }
        Ok(Self {
            stack,
            tokenizer,
            _weights: weights,
            dir: dir.to_owned(),
            model_type,
            eos_token_ids,
            max_length,
            device: options.device,
            kind,
        })
    }

    pub fn stack(&self) -> &dyn LayerStack {
        self.stack.as_ref()
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `config.json`'s `model_type`, e.g. "llama".
    pub fn model_type(&self) -> &str {
        &self.model_type
    }

    /// `config.json`'s `eos_token_id`(s): generation stops there.
    pub fn eos_token_ids(&self) -> &[i64] {
        &self.eos_token_ids
    }

    /// Longest sequence the model takes: config.json's `n_positions`,
    /// `max_position_embeddings` or `n_ctx`, else 2048 (lm-evaluation-harness's default).
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// The dtype the model computes in (`auto` resolved).
    pub fn kind(&self) -> Kind {
        self.kind
    }
}

/// The family serving `model_type` (read from `dir`'s config.json, named in the error).
pub(crate) fn family(dir: &Path, model_type: &str) -> Result<&'static Family> {
    FAMILIES
        .iter()
        .find(|f| f.model_types.contains(&model_type))
        .ok_or_else(|| {
            let supported: Vec<&str> = FAMILIES
                .iter()
                .flat_map(|f| f.model_types)
                .copied()
                .collect();
            Error::UnsupportedFamily {
                path: dir.join("config.json"),
                found: model_type.to_owned(),
                supported: supported.join(", "),
            }
        })
}

/// config.json's dtype for `auto`, if it names one (else the weights' own is used).
fn checkpoint_kind(
    dir: &Path,
    dtype: Option<String>,
    torch_dtype: Option<String>,
) -> Result<Option<Kind>> {
    let (key, name) = match (dtype, torch_dtype) {
        (Some(name), _) => ("dtype", name),
        (None, Some(name)) => ("torch_dtype", name),
        (None, None) => return Ok(None),
    };
    match name.as_str() {
        "float32" => Ok(Some(Kind::Float)),
        "bfloat16" => Ok(Some(Kind::BFloat16)),
        "float16" => Ok(Some(Kind::Half)),
        _ => Err(invalid(
            dir,
            format!("key `{key}` is {name:?}; dtype auto supports float32, bfloat16 and float16"),
        )),
    }
}

#[cfg(test)]
impl Model {
    /// The same model with its stack wrapped by `wrap` (tests inject failures so).
    pub(crate) fn wrap_stack(
        mut self,
        wrap: impl FnOnce(Box<dyn LayerStack>) -> Box<dyn LayerStack>,
    ) -> Self {
        self.stack = wrap(self.stack);
        self
    }
}
