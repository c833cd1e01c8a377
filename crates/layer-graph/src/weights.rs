//! Memory-mapped safetensors checkpoints (one file or shards listed in
//! `model.safetensors.index.json`), handed out as tch tensors by Hugging Face name with
//! their shapes checked. On CPU with a matching dtype the tensors borrow the mapping
//! (no copy); otherwise they are converted once. Tracks which names were taken, so
//! leftovers can be reported as unexpected.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors, tensor::TensorInfo};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

struct Shard {
    path: PathBuf,
    map: Mmap,
    data_start: usize,
    tensors: HashMap<String, TensorInfo>,
}

/// One tensor as a safetensors file stores it.
pub struct StoredTensor<'a> {
    pub dtype: Dtype,
    pub shape: &'a [usize],
    pub bytes: &'a [u8],
}

/// All tensors of a checkpoint directory. Keep it alive as long as any tensor it made:
/// on CPU they point into its memory maps.
pub struct Weights {
    dir: PathBuf,
    shards: Vec<Shard>,
    index: HashMap<String, usize>,
    taken: RefCell<BTreeSet<String>>,
    kind: Kind,
    device: Device,
}

impl Weights {
    /// Maps `model.safetensors`, or every shard named by `model.safetensors.index.json`;
    /// tensors are handed out in `kind`, else in the dtype of the first floating-point
    /// tensor stored (by name, in the first file), as transformers' `dtype="auto"` falls
    /// back to.
    pub fn open(dir: &Path, kind: Option<Kind>, device: Device) -> Result<Self> {
        let index_path = dir.join("model.safetensors.index.json");
        let files: Vec<PathBuf> = if index_path.exists() {
            shard_files(&index_path)?
                .into_iter()
                .map(|f| dir.join(f))
                .collect()
        } else {
            vec![dir.join("model.safetensors")]
        };
        let mut shards = Vec::with_capacity(files.len());
        let mut index = HashMap::new();
        for path in files {
            let shard = map_shard(path)?;
            for name in shard.tensors.keys() {
                index.insert(name.clone(), shards.len());
            }
            shards.push(shard);
        }
        let kind = kind.unwrap_or_else(|| shards.first().map_or(Kind::Float, stored_float_kind));
        Ok(Self {
            dir: dir.to_owned(),
            shards,
            index,
            taken: RefCell::default(),
            kind,
            device,
        })
    }

    /// The dtype tensors are handed out in.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The tensor `name`, which must have exactly `shape`, in the model's dtype and device.
    pub fn get(&self, name: &str, shape: &[i64]) -> Result<Tensor> {
        let shard = self
            .index
            .get(name)
            .map(|&i| &self.shards[i])
            .ok_or_else(|| Error::MissingTensor {
                dir: self.dir.clone(),
                name: name.to_owned(),
                files: self.file_names(),
            })?;
        let info = &shard.tensors[name];
        let found: Vec<i64> = info.shape.iter().map(|&d| d as i64).collect();
        if found != shape {
            return Err(Error::Shape {
                path: shard.path.clone(),
                name: name.to_owned(),
                expected: shape.to_vec(),
                found,
            });
        }
        let stored = float_kind(info.dtype).ok_or_else(|| Error::Dtype {
            path: shard.path.clone(),
            name: name.to_owned(),
            dtype: format!("{:?}", info.dtype),
        })?;
        self.taken.borrow_mut().insert(name.to_owned());
        let (start, end) = info.data_offsets;
        let bytes = &shard.map[shard.data_start + start..shard.data_start + end];
        let borrowable = stored == self.kind
            && self.device == Device::Cpu
            && (bytes.as_ptr() as usize).is_multiple_of(stored.elt_size_in_bytes());
        let tensor = if borrowable {
            let strides = contiguous_strides(shape);
            // SAFETY: the bytes stay mapped, read-only, for as long as `self` lives, and
            // the model that owns these tensors owns `self`; weights are never written.
            unsafe { Tensor::f_from_blob(bytes.as_ptr(), shape, &strides, stored, Device::Cpu) }
        } else {
            Tensor::f_from_data_size(bytes, shape, stored)
                .and_then(|t| t.f_to_kind(self.kind))
                .and_then(|t| t.f_to_device(self.device))
        };
        tensor.map_err(|e| Error::torch(format!("loading {name} from {}", shard.path.display()), e))
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.index.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Tensor `name` as stored: dtype, shape and bytes (borrowed from the mapping).
    pub fn stored(&self, name: &str) -> Option<StoredTensor<'_>> {
        let shard = &self.shards[*self.index.get(name)?];
        let info = &shard.tensors[name];
        let (start, end) = info.data_offsets;
        Some(StoredTensor {
            dtype: info.dtype,
            shape: &info.shape,
            bytes: &shard.map[shard.data_start + start..shard.data_start + end],
        })
    }

    /// The size in bytes of the largest file, when the checkpoint is sharded (`None`
    /// for one `model.safetensors`).
    pub fn largest_shard(&self) -> Option<u64> {
        match self.shards.len() {
            0 | 1 => None,
            _ => self.shards.iter().map(|s| s.map.len() as u64).max(),
        }
    }

    /// Fails with the first tensor that no `get` took and that `ignorable` does not excuse
    /// (buffers such as rotary caches or attention-bias masks that some exports carry).
    pub fn check_all_taken(&self, ignorable: impl Fn(&str) -> bool) -> Result<()> {
        let taken = self.taken.borrow();
        let mut left: Vec<&String> = self
            .index
            .keys()
            .filter(|n| !taken.contains(*n) && !ignorable(n))
            .collect();
        left.sort();
        match left.first() {
            None => Ok(()),
            Some(first) => Err(Error::UnexpectedTensors {
                dir: self.dir.clone(),
                count: left.len(),
                first: (*first).clone(),
            }),
        }
    }

    fn file_names(&self) -> String {
        let names: Vec<String> = self
            .shards
            .iter()
            .map(|s| {
                s.path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.join(", ")
    }
}

/// The tch kind of a supported stored dtype.
pub(crate) fn float_kind(dtype: Dtype) -> Option<Kind> {
    match dtype {
        Dtype::F32 => Some(Kind::Float),
        Dtype::F16 => Some(Kind::Half),
        Dtype::BF16 => Some(Kind::BFloat16),
        _ => None,
    }
}

/// The dtype of the first (by name) floating-point tensor of `shard`; float32 if none.
fn stored_float_kind(shard: &Shard) -> Kind {
    let mut names: Vec<&String> = shard.tensors.keys().collect();
    names.sort();
    names
        .into_iter()
        .find_map(|name| float_kind(shard.tensors[name].dtype))
        .unwrap_or(Kind::Float)
}

fn contiguous_strides(shape: &[i64]) -> Vec<i64> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

fn map_shard(path: PathBuf) -> Result<Shard> {
    let file = std::fs::File::open(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    // SAFETY: checkpoints are not modified while a model is loaded (documented limit).
    let map = unsafe { Mmap::map(&file) }.map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let (header_len, metadata) =
        SafeTensors::read_metadata(&map).map_err(|e| Error::Safetensors {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    let tensors = metadata
        .tensors()
        .into_iter()
        .map(|(name, info)| (name, info.clone()))
        .collect();
    Ok(Shard {
        path,
        map,
        data_start: 8 + header_len,
        tensors,
    })
}

fn shard_files(index_path: &Path) -> Result<BTreeSet<String>> {
    #[derive(serde::Deserialize)]
    struct Index {
        weight_map: HashMap<String, String>,
    }
    let text = std::fs::read_to_string(index_path).map_err(|source| Error::Io {
        path: index_path.to_owned(),
        source,
    })?;
    let index: Index = serde_json::from_str(&text).map_err(|e| Error::Config {
        path: index_path.to_owned(),
        message: format!("not a safetensors index: {e}"),
    })?;
    Ok(index.weight_map.into_values().collect())
}
