//! layer-graph: frozen transformers in tch whose forward pass can be rewritten.
//!
//! A checkpoint directory (config.json, safetensors, tokenizer.json) loads into a
//! [`Model`] whose family implements the [`LayerStack`] seam: embed, run any layer on
//! the residual stream, head over all positions. Everything that reorders, skips,
//! repeats or parallelises layers is written against that seam.

mod config;
pub mod device;
mod error;
pub mod exec;
pub mod export;
mod families;
mod model;
mod ops;
mod rope;
pub mod sample;
pub mod scoring;
mod stack;
mod tokenizer;
mod weights;

pub use error::{Error, Result};
pub use model::{LoadOptions, Model};
pub use stack::{Attention, KvSlot, LayerStack, LengthLimit};
pub use tokenizer::Tokenizer;
