//! One file per model family, each loading a Hugging Face checkpoint by its own tensor
//! names and implementing [`crate::LayerStack`].

mod bert;
mod gpt2;
mod gpt_neox;
mod llama;

pub use bert::Bert;
pub use gpt_neox::GptNeoX;
pub use gpt2::Gpt2;
pub use llama::Llama;
