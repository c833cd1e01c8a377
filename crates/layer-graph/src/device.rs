//! Devices and dtypes: a CUDA device checked to exist, the dtypes as users type them
//! (`f32`, `bf16`, `f16`, `auto`), and making CUDA visible to one binary that serves CPU
//! and GPU boxes alike.

use tch::{Device, Kind};

use crate::error::{Error, Result};

/// CUDA device `index`: loads libtorch's CUDA backend and checks that the device exists.
/// (`cpu`, `cuda` and `cuda:N` are parsed where the user types them, in painters.)
pub fn cuda_device(index: usize) -> Result<Device> {
    let text = format!("cuda:{index}");
    load_cuda_backend();
    let count = tch::Cuda::device_count() as usize;
    if count == 0 {
        return Err(Error::Device(
            text,
            "no CUDA device is visible to libtorch here; use --device cpu".into(),
        ));
    }
    if index >= count {
        return Err(Error::Device(
            text,
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
