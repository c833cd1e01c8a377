//! A loaded checkpoint directory: its family's layer stack, its tokenizer, and the
//! memory maps the weights live in. Dispatches on `config.json`'s `model_type`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tch::{Device, Kind};

use crate::config::read_config;
use crate::error::{LoadError, Result};
use crate::families::{Bert, Gpt2, GptNeoX, Llama};
use crate::stack::LayerStack;
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;

#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    pub device: Device,
    pub kind: Kind,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { device: Device::Cpu, kind: Kind::Float }
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
    options: LoadOptions,
}

#[derive(Deserialize)]
struct ModelType {
    model_type: String,
}

impl Model {
    pub fn load(dir: &Path, options: LoadOptions) -> Result<Self> {
        let ModelType { model_type } = read_config(dir)?;
        let weights = Weights::open(dir, options.kind, options.device)?;
        let (stack, ignorable): (Box<dyn LayerStack>, fn(&str) -> bool) = match model_type.as_str() {
            "llama" | "mistral" | "qwen2" => (Box::new(Llama::load(dir, &weights)?), Llama::ignorable),
            "gpt_neox" => (Box::new(GptNeoX::load(dir, &weights)?), GptNeoX::ignorable),
            "gpt2" => (Box::new(Gpt2::load(dir, &weights)?), Gpt2::ignorable),
            "bert" => (Box::new(Bert::load(dir, &weights)?), Bert::ignorable),
            _ => return Err(LoadError::UnsupportedFamily { path: dir.join("config.json"), found: model_type }),
        };
        weights.check_all_taken(ignorable)?;
        let tokenizer = Tokenizer::from_dir(dir)?;
        let rows = stack.vocab_size();
        if tokenizer.vocab_size() as i64 > rows {
            return Err(LoadError::Tokenizer {
                path: tokenizer.path().to_owned(),
                message: format!("has {} tokens but the model's embedding has {rows} rows: tokenizer and weights do not match", tokenizer.vocab_size()),
            });
        }
        Ok(Self { stack, tokenizer, _weights: weights, dir: dir.to_owned(), model_type, options })
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

    pub fn device(&self) -> Device {
        self.options.device
    }

    pub fn kind(&self) -> Kind {
        self.options.kind
    }
}
