//! One file per model family, each loading a Hugging Face checkpoint by its own tensor
//! names and implementing [`crate::LayerStack`]; the rotary decoders (Llama, Gemma,
//! Phi-3, OLMo-2) share `decoder.rs`'s block and `moe.rs`'s sparse experts.

mod bert;
mod decoder;
mod gemma;
mod gpt2;
mod gpt_neox;
mod llama;
mod moe;
mod olmo2;
mod phi3;

pub use bert::Bert;
pub use gemma::Gemma;
pub use gpt_neox::GptNeoX;
pub use gpt2::Gpt2;
pub use llama::Llama;
pub use olmo2::Olmo2;
pub use phi3::Phi3;
