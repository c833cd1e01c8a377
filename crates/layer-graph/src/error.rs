//! Errors of loading and running a model: each names the file, key or tensor at fault
//! and what was expected, in one line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error(
        "{path}: unsupported model_type {found:?}; supported: llama, mistral, qwen2, gpt_neox, gpt2, bert"
    )]
    UnsupportedFamily { path: PathBuf, found: String },

    #[error("{path}: not a valid safetensors file ({reason}); is it truncated or corrupt?")]
    Safetensors { path: PathBuf, reason: String },

    #[error("{path}: tensor {name} has dtype {dtype}, supported: F32, F16, BF16")]
    Dtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },

    #[error("{dir}: missing tensor {name} (looked in {files})")]
    MissingTensor {
        dir: PathBuf,
        name: String,
        files: String,
    },

    #[error("{path}: tensor {name} has shape {found:?}, expected {expected:?}")]
    Shape {
        path: PathBuf,
        name: String,
        expected: Vec<i64>,
        found: Vec<i64>,
    },

    #[error("{dir}: {count} unexpected tensor(s) for this architecture, e.g. {first}")]
    UnexpectedTensors {
        dir: PathBuf,
        count: usize,
        first: String,
    },

    #[error("{path}: {message}")]
    Tokenizer { path: PathBuf, message: String },

    #[error("device {0:?}: {1}")]
    Device(String, String),

    #[error("plan {plan:?} is for {plan_layers} layers, but the model has {model_layers}")]
    PlanMismatch {
        plan: String,
        plan_layers: usize,
        model_layers: usize,
    },

    #[error("{what} is {tokens} tokens, more than this model takes ({reason})")]
    TooLong {
        what: String,
        tokens: usize,
        reason: String,
    },

    #[error("scoring request {index}: {message}")]
    Request { index: usize, message: String },

    #[error("out of device memory even at one row per batch; use a smaller model, dtype or device")]
    OutOfMemory,

    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
