//! Model settings typed at the boundary: the device, dtype and KV-cache choices are parsed
//! once, where an experiment file or the command line is read (serde and clap both take
//! them from the types here), and passed inward as these types. A bad value is refused
//! there, naming the file's line and key or the flag, with the valid values.

use std::fmt;
use std::str::FromStr;

use clap::ValueEnum;
use layer_graph::device::ComputeDtype;
use layer_graph::exec::KvMode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a model runs: `cpu`, `cuda` (the first CUDA device) or `cuda:N`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Device {
    #[default]
    Cpu,
    /// `cuda` (None) or `cuda:N`.
    Cuda(Option<usize>),
}

impl Device {
    /// The libtorch device, once its CUDA device is checked to exist.
    pub fn open(self) -> layer_graph::Result<tch::Device> {
        match self {
            Device::Cpu => Ok(tch::Device::Cpu),
            Device::Cuda(index) => layer_graph::device::cuda_device(index.unwrap_or(0)),
        }
    }

    /// A `--devices` entry: a device, or a bare CUDA index `N` for `cuda:N`.
    pub fn parse_worker(text: &str) -> Result<Device, String> {
        let text = text.trim();
        match text.parse::<usize>() {
            Ok(index) => Ok(Device::Cuda(Some(index))),
            Err(_) => text
                .parse()
                .map_err(|_| unknown(text, "cpu, cuda, cuda:N, N for cuda:N")),
        }
    }
}

fn unknown(text: &str, valid: &str) -> String {
    format!("unknown device '{text}' (valid: {valid})")
}

impl FromStr for Device {
    type Err = String;

    fn from_str(text: &str) -> Result<Device, String> {
        let cuda_index = || text.strip_prefix("cuda:")?.parse().ok();
        match text {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(None)),
            _ => cuda_index()
                .map(|index| Device::Cuda(Some(index)))
                .ok_or_else(|| unknown(text, "cpu, cuda, cuda:N")),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(None) => f.write_str("cuda"),
            Device::Cuda(Some(index)) => write!(f, "cuda:{index}"),
        }
    }
}

impl Serialize for Device {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Device {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Device, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The dtype a model computes in. Its name is part of the model's identity, so it keys
/// stored results: `f32` for `float32` too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Dtype {
    #[default]
    #[value(alias = "float32")]
    F32,
    #[value(alias = "bfloat16")]
    Bf16,
    #[value(alias = "float16")]
    F16,
    /// The checkpoint's own: config.json's dtype (`torch_dtype`), as transformers' `auto`.
    Auto,
}

impl From<Dtype> for ComputeDtype {
    fn from(dtype: Dtype) -> ComputeDtype {
        match dtype {
            Dtype::F32 => ComputeDtype::Fixed(tch::Kind::Float),
            Dtype::Bf16 => ComputeDtype::Fixed(tch::Kind::BFloat16),
            Dtype::F16 => ComputeDtype::Fixed(tch::Kind::Half),
            Dtype::Auto => ComputeDtype::Auto,
        }
    }
}

/// How a parallel group keeps its keys and values during generation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Kv {
    /// Every parallel-group member keeps its own keys and values.
    #[default]
    Exact,
    /// A parallel group's keys and values are averaged into one slot (the paper's code).
    Paper,
}

impl From<Kv> for KvMode {
    fn from(kv: Kv) -> KvMode {
        match kv {
            Kv::Exact => KvMode::Exact,
            Kv::Paper => KvMode::Paper,
        }
    }
}

/// A value enum's name, as the command line takes it.
pub fn name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// Serde for [`ValueEnum`] fields, so experiment files take exactly the names the command
/// line does: `#[serde(with = "settings::by_name")]`.
pub mod by_name {
    use super::*;

    pub fn serialize<T: ValueEnum, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&name(value))
    }

    pub fn deserialize<'de, T: ValueEnum, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        T::from_str(&text, false).map_err(|_| {
            let valid: Vec<String> = T::value_variants().iter().map(name).collect();
            serde::de::Error::custom(format!(
                "unknown value '{text}' (valid: {})",
                valid.join(", ")
            ))
        })
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&name(self))
    }
}
