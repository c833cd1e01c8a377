//! Errors of loading and running a model: each names the file, key or tensor at fault
//! and what was expected, in one line.

use std::path::PathBuf;

use tch::TchError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("{path}: unsupported model_type {found:?}; supported: {supported}")]
    UnsupportedFamily {
        path: PathBuf,
        found: String,
        supported: String,
    },

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

    #[error("generation: {0}")]
    Generate(String),
    #[error("scoring request {index}: {message}")]
    Request { index: usize, message: String },

    /// libtorch could not allocate memory on the device while doing `during`: scoring
    /// retries such a batch with fewer rows.
    #[error("out of device memory in {during}: {message}")]
    OutOfMemory { during: String, message: String },

    /// Any other libtorch failure while doing `during`.
    #[error("libtorch failed in {during}: {message}")]
    Torch { during: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// libtorch's error `e` while doing `during` (e.g. "layer 12"), an allocation failure
    /// told apart from the rest. Only the message's first line is kept: libtorch appends
    /// a C++ backtrace.
    pub(crate) fn torch(during: impl Into<String>, e: TchError) -> Self {
        let text = match e {
            TchError::Torch(text) => text,
            other => other.to_string(),
        };
        let message = text.lines().next().unwrap_or_default().to_owned();
        let during = during.into();
        if OUT_OF_MEMORY.iter().any(|m| text.contains(m)) {
            Error::OutOfMemory { during, message }
        } else {
            Error::Torch { during, message }
        }
    }
}

/// How libtorch's allocators say they ran out: CUDA's caching allocator ("CUDA out of
/// memory. Tried to allocate ..."; MPS and HIP alike) and the CPU allocator
/// ("DefaultCPUAllocator: can't allocate memory: you tried to allocate ...").
const OUT_OF_MEMORY: [&str; 2] = ["out of memory", "can't allocate memory"];

#[cfg(test)]
mod tests {
    use tch::{Device, Kind, Tensor};

    use super::*;

    #[test]
    fn an_allocation_the_cpu_refuses_is_out_of_memory() {
        let e = Tensor::f_empty([1 << 60], (Kind::Int8, Device::Cpu)).unwrap_err();
        let e = Error::torch("layer 3", e);
        let text = e.to_string();
        assert!(matches!(e, Error::OutOfMemory { .. }), "{text}");
        assert!(
            text.starts_with("out of device memory in layer 3: "),
            "{text}"
        );
        assert!(!text.contains('\n'), "the C++ backtrace is cut: {text}");
    }

    #[test]
    fn cuda_running_out_is_out_of_memory() {
        let message = "CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.15 GiB total \
                       capacity)\nException raised from malloc at CUDACachingAllocator.cpp:1000";
        let e = Error::torch("the head", TchError::Torch(message.into()));
        assert!(
            matches!(&e, Error::OutOfMemory { during, message }
                if during == "the head" && message.ends_with("total capacity)")),
            "{e}"
        );
    }

    #[test]
    fn other_failures_are_not_out_of_memory() {
        let e = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu))
            .f_view([4])
            .unwrap_err();
        let e = Error::torch("the embedding", e);
        let text = e.to_string();
        println!("{text}");
        assert!(matches!(e, Error::Torch { .. }), "{text}");
        assert!(
            text.starts_with("libtorch failed in the embedding: ") && text.contains("[4]"),
            "{text}"
        );
    }
}
