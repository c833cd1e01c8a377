//! Device and dtype choices as users type them (`cpu`, `cuda`, `cuda:1`; `f32`, `bf16`,
//! `f16`, `auto`), and making CUDA visible to one binary that serves CPU and GPU boxes
//! alike.

use tch::{Device, Kind};

use crate::error::{Error, Result};

/// Parses `cpu`, `cuda` or `cuda:N`; for CUDA, loads libtorch's CUDA backend and checks
/// that the device exists.
pub fn parse_device(text: &str) -> Result<Device> {
    let index = match text {
        "cpu" => return Ok(Device::Cpu),
        "cuda" => 0,
        _ => match text
            .strip_prefix("cuda:")
            .and_then(|i| i.parse::<usize>().ok())
        {
            Some(i) => i,
            None => {
                return Err(Error::Device(
                    text.into(),
                    "expected cpu, cuda or cuda:N".into(),
                ));
            }
        },
    };
    load_cuda_backend();
    let count = tch::Cuda::device_count() as usize;
    if count == 0 {
        return Err(Error::Device(
            text.into(),
            "no CUDA device is visible to libtorch here; use --device cpu".into(),
        ));
    }
    if index >= count {
        return Err(Error::Device(
            text.into(),
            format!(
                "this machine has {count} CUDA device(s), valid: cuda:0..=cuda:{}",
                count - 1
            ),
        ));
    }
    Ok(Device::Cuda(index))
}

/// rustc links with `--as-needed`, which drops `libtorch_cuda.so` because no symbol of it
/// is referenced directly (tch-rs #980); load it by hand so its kernels register.
fn load_cuda_backend() {
    use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
    // SAFETY: loading libtorch's own CUDA library runs only its static registrations.
    if let Ok(lib) = unsafe { Library::open(Some("libtorch_cuda.so"), RTLD_NOW | RTLD_GLOBAL) } {
        std::mem::forget(lib); // keep it loaded for the life of the process
    }
}

/// The dtype a model computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComputeDtype {
    Fixed(Kind),
    /// The checkpoint's own, as transformers' `dtype="auto"` (lm-evaluation-harness's
    /// default): config.json's `dtype` (`torch_dtype` before transformers 5), else the
    /// dtype of the first floating-point tensor stored.
    Auto,
}

/// Parses `f32`, `bf16`, `f16` or `auto`.
pub fn parse_dtype(text: &str) -> Result<ComputeDtype> {
    match text {
        "f32" | "float32" => Ok(ComputeDtype::Fixed(Kind::Float)),
        "bf16" | "bfloat16" => Ok(ComputeDtype::Fixed(Kind::BFloat16)),
        "f16" | "float16" => Ok(ComputeDtype::Fixed(Kind::Half)),
        "auto" => Ok(ComputeDtype::Auto),
        _ => Err(Error::Device(
            text.into(),
            "unknown dtype, expected f32, bf16, f16 or auto".into(),
        )),
    }
}
