//! A sequential plan written out as an ordinary Hugging Face checkpoint: the plan's
//! layers renumbered 0..L-1 in execution order (a layer run twice is written twice), the
//! embeddings, final norm and head as they are, `config.json` with the new layer count and
//! its per-layer lists re-indexed, and every other file of the source (tokenizer,
//! generation config, sentence-transformers modules) copied. Safetensors only; sharded
//! like the source when the source is sharded.
//!
//! This module writes files and nothing else: checking that the result computes what the
//! plan computed is the caller's job (`painters export` loads it back and compares).

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde_json::Value;
use tch::{Kind, Tensor};

use crate::config::invalid;
use crate::error::{Error, Result};
use crate::model::family;
use crate::weights::{Weights, float_kind};

/// config.json keys that name the number of layers, as families spell it.
pub const LAYER_COUNT_KEYS: [&str; 2] = ["num_hidden_layers", "n_layer"];

/// config.json lists with one entry per layer, re-indexed to the plan's order.
const PER_LAYER_KEYS: [&str; 2] = ["layer_types", "no_rope_layers"];

/// config.json lists of layer indices (Qwen2-MoE's dense layers), mapped to the plan's
/// positions of those layers.
const LAYER_INDEX_KEYS: [&str; 1] = ["mlp_only_layers"];

/// File extensions of weights in formats other than safetensors: never copied, since they
/// would hold the source's layers.
const OTHER_WEIGHTS: [&str; 8] = ["bin", "pt", "pth", "h5", "msgpack", "gguf", "onnx", "ckpt"];

/// What [`write_checkpoint`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// Safetensors files, in order.
    pub weight_files: Vec<String>,
    pub tensors: usize,
    /// Bytes of tensor data.
    pub bytes: u64,
    /// Other files copied from the source, relative paths.
    pub copied: Vec<PathBuf>,
}

/// The number of layers `dir`'s config.json declares, under either key of
/// [`LAYER_COUNT_KEYS`].
pub fn config_layers(dir: &Path) -> Result<usize> {
    let config = read_json(&dir.join("config.json"))?;
    layer_count(dir, &config).map(|(_, n)| n)
}

/// Writes the checkpoint in `source` with its layers `layers` (source indices, in
/// execution order) into the existing empty directory `out`, tensors in `dtype` (`None`:
/// as stored).
pub fn write_checkpoint(
    source: &Path,
    layers: &[usize],
    out: &Path,
    dtype: Option<Kind>,
) -> Result<Written> {
    let mut config = read_json(&source.join("config.json"))?;
    let model_type = config
        .get("model_type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(source, "no string key `model_type`".into()))?;
    let family = family(source, model_type)?;
    let (count_key, num_layers) = layer_count(source, &config)?;
    if let Some(&bad) = layers.iter().find(|&&l| l >= num_layers) {
        return Err(invalid(
            source,
            format!(
                "the plan runs layer {bad}, but `{count_key}` is {num_layers} (layers 0..{num_layers})"
            ),
        ));
    }
    let weights = Weights::open(source, None, tch::Device::Cpu)?;
    let tensors = renumbered(source, &weights, family.layers, num_layers, layers)?;
    let (weight_files, bytes) = write_tensors(&weights, &tensors, out, dtype)?;
    if let Some(map) = config.as_object_mut() {
        (family.explicit_layers)(source, map)?;
    }
    let config = exported_config(source, config, count_key, layers, dtype)?;
    write_file(
        &out.join("config.json"),
        (serde_json::to_string_pretty(&config).expect("a JSON value serialises") + "\n").as_bytes(),
    )?;
    let copied = copy_other_files(source, out)?;
    Ok(Written {
        weight_files,
        tensors: tensors.len(),
        bytes,
        copied,
    })
}

/// One output tensor: its new name and the source tensor it copies.
struct Renamed<'a> {
    name: String,
    source: &'a str,
}

/// Every output tensor in model order: the tensors outside the layers first (embeddings,
/// final norm, head; sorted by name), then layer 0..L-1's, each a copy of the source layer
/// the plan runs at that step.
fn renumbered<'a>(
    source: &Path,
    weights: &'a Weights,
    layer_path: &str,
    num_layers: usize,
    layers: &[usize],
) -> Result<Vec<Renamed<'a>>> {
    let mut outside = Vec::new();
    let mut per_layer: Vec<Vec<(&'a str, &'a str, &'a str)>> = vec![Vec::new(); num_layers];
    for name in weights.names() {
        match split_layer_name(name, layer_path) {
            Some((before, layer, rest)) if layer < num_layers => {
                per_layer[layer].push((before, rest, name))
            }
            Some((_, layer, _)) => {
                return Err(invalid(
                    source,
                    format!(
                        "tensor {name} belongs to layer {layer}, but the config declares {num_layers} layers"
                    ),
                ));
            }
            None => outside.push(Renamed {
                name: name.to_owned(),
                source: name,
            }),
        }
    }
    let mut out = outside;
    for (new_index, &layer) in layers.iter().enumerate() {
        if per_layer[layer].is_empty() {
            return Err(Error::MissingTensor {
                dir: source.to_owned(),
                name: format!("{layer_path}.{layer}.*"),
                files: "the checkpoint".into(),
            });
        }
        for &(before, rest, name) in &per_layer[layer] {
            out.push(Renamed {
                name: format!("{before}{layer_path}.{new_index}.{rest}"),
                source: name,
            });
        }
    }
    Ok(out)
}

/// `name` as `(before, layer, rest)` when it is `{before}{layer_path}.{layer}.{rest}` with
/// `before` empty or a module path ending in a dot (`transformer.h.3.attn.c_attn.weight`
/// under `h` is `("transformer.", 3, "attn.c_attn.weight")`).
fn split_layer_name<'a>(name: &'a str, layer_path: &str) -> Option<(&'a str, usize, &'a str)> {
    let needle = format!("{layer_path}.");
    let mut from = 0;
    while let Some(found) = name[from..].find(&needle) {
        let at = from + found;
        let before = &name[..at];
        let after = &name[at + needle.len()..];
        if (before.is_empty() || before.ends_with('.'))
            && let Some((index, rest)) = after.split_once('.')
            && !index.is_empty()
            && index.bytes().all(|b| b.is_ascii_digit())
        {
            return Some((before, index.parse().ok()?, rest));
        }
        from = at + 1;
    }
    None
}

/// The safetensors dtype of a floating-point tch kind.
fn safetensors_dtype(kind: Kind) -> Dtype {
    match kind {
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        _ => Dtype::F32,
    }
}

/// A tensor's bytes in `dtype`: borrowed when it is stored so (or is not floating-point),
/// else converted by torch (round to nearest even, as `tensor.to(dtype)` does).
fn tensor_bytes<'a>(
    weights: &'a Weights,
    name: &str,
    dtype: Option<Kind>,
) -> Result<(Dtype, Vec<usize>, std::borrow::Cow<'a, [u8]>)> {
    let stored = weights.stored(name).expect("a name the checkpoint lists");
    let shape = stored.shape.to_vec();
    let from = float_kind(stored.dtype);
    let (Some(from), Some(to)) = (from, dtype) else {
        return Ok((stored.dtype, shape, stored.bytes.into()));
    };
    if from == to {
        return Ok((stored.dtype, shape, stored.bytes.into()));
    }
    let numel: usize = shape.iter().product();
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let mut bytes = vec![0u8; numel * to.elt_size_in_bytes()];
    Tensor::f_from_data_size(stored.bytes, &dims, from)
        .and_then(|t| t.f_to_kind(to))
        .and_then(|t| t.f_copy_data_u8(&mut bytes, numel))
        .map_err(|e| Error::torch(format!("converting {name} to {to:?}"), e))?;
    Ok((safetensors_dtype(to), shape, bytes.into()))
}

/// Writes the tensors into one `model.safetensors`, or, when the source is sharded, into
/// `model-0000i-of-0000n.safetensors` files no larger than its largest shard (a tensor
/// larger than that gets a file of its own) with `model.safetensors.index.json`. Returns
/// the file names and the bytes of tensor data.
fn write_tensors(
    weights: &Weights,
    tensors: &[Renamed],
    out: &Path,
    dtype: Option<Kind>,
) -> Result<(Vec<String>, u64)> {
    let size = |t: &Renamed| -> u64 {
        let stored = weights
            .stored(t.source)
            .expect("a name the checkpoint lists");
        let numel: usize = stored.shape.iter().product();
        match (float_kind(stored.dtype), dtype) {
            (Some(_), Some(to)) => (numel * to.elt_size_in_bytes()) as u64,
            _ => stored.bytes.len() as u64,
        }
    };
    let total: u64 = tensors.iter().map(size).sum();
    let mut shards: Vec<Vec<&Renamed>> = vec![Vec::new()];
    if let Some(limit) = weights.largest_shard() {
        let mut filled = 0;
        for t in tensors {
            let bytes = size(t);
            if filled > 0 && filled + bytes > limit {
                shards.push(Vec::new());
                filled = 0;
            }
            shards.last_mut().expect("one shard at least").push(t);
            filled += bytes;
        }
    } else {
        shards[0].extend(tensors);
    }
    let names: Vec<String> = match shards.len() {
        1 => vec!["model.safetensors".into()],
        n => (1..=n)
            .map(|i| format!("model-{i:05}-of-{n:05}.safetensors"))
            .collect(),
    };
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let mut weight_map = BTreeMap::new();
    for (shard, file) in shards.iter().zip(&names) {
        let data = shard
            .iter()
            .map(|t| tensor_bytes(weights, t.source, dtype).map(|d| (t.name.as_str(), d)))
            .collect::<Result<Vec<_>>>()?;
        let views = data
            .iter()
            .map(|(name, (dt, shape, bytes))| {
                TensorView::new(*dt, shape.clone(), bytes).map(|v| (*name, v))
            })
            .collect::<std::result::Result<Vec<_>, _>>();
        let path = out.join(file);
        views
            .and_then(|views| safetensors::serialize_to_file(views, Some(metadata.clone()), &path))
            .map_err(|e| Error::Safetensors {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        // safetensors writes through a private temporary file; a checkpoint is shared.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).map_err(
            |source| Error::Io {
                path: path.clone(),
                source,
            },
        )?;
        for t in shard {
            weight_map.insert(t.name.clone(), file.clone());
        }
    }
    if names.len() > 1 {
        let index = serde_json::json!({
            "metadata": {"total_size": total},
            "weight_map": weight_map,
        });
        write_file(
            &out.join("model.safetensors.index.json"),
            serde_json::to_string_pretty(&index)
                .expect("a JSON value serialises")
                .as_bytes(),
        )?;
    }
    Ok((names, total))
}

/// The source config (its per-layer attributes made explicit by the family first) with the
/// plan's layer count, its per-layer lists re-indexed to the plan, its lists of layer
/// indices mapped to the plan's positions and, with `dtype`, the dtype key set to it.
fn exported_config(
    source: &Path,
    mut config: Value,
    count_key: &str,
    layers: &[usize],
    dtype: Option<Kind>,
) -> Result<Value> {
    let map = config
        .as_object_mut()
        .ok_or_else(|| invalid(source, "not a JSON object".into()))?;
    let num_layers = map[count_key].as_u64().unwrap_or_default() as usize;
    for key in LAYER_INDEX_KEYS {
        let Some(Value::Array(list)) = map.get(key) else {
            continue;
        };
        let listed: Vec<u64> = list.iter().filter_map(Value::as_u64).collect();
        let positions: Vec<usize> = (0..layers.len())
            .filter(|&k| listed.contains(&(layers[k] as u64)))
            .collect();
        map.insert(key.into(), positions.into());
    }
    for key in PER_LAYER_KEYS {
        let Some(Value::Array(list)) = map.get(key) else {
            continue;
        };
        if list.len() != num_layers {
            return Err(invalid(
                source,
                format!(
                    "key `{key}` has {} entries, expected one per layer ({num_layers})",
                    list.len()
                ),
            ));
        }
        let reindexed: Vec<Value> = layers.iter().map(|&l| list[l].clone()).collect();
        map.insert(key.into(), reindexed.into());
    }
    map.insert(count_key.into(), layers.len().into());
    if let Some(kind) = dtype {
        let name = match kind {
            Kind::Half => "float16",
            Kind::BFloat16 => "bfloat16",
            _ => "float32",
        };
        // transformers 5 reads `dtype`, earlier versions `torch_dtype`: set whichever the
        // source has, else both.
        let keys: Vec<&str> = ["dtype", "torch_dtype"]
            .into_iter()
            .filter(|k| map.contains_key(*k))
            .collect();
        for key in if keys.is_empty() {
            vec!["dtype", "torch_dtype"]
        } else {
            keys
        } {
            map.insert(key.into(), name.into());
        }
    }
    Ok(config)
}

/// Copies every file of `source` except config.json and weights (safetensors, their
/// index, other weight formats) into `out`, subdirectories included; returns their
/// relative paths.
fn copy_other_files(source: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let mut copied = Vec::new();
    copy_tree(source, out, Path::new(""), &mut copied)?;
    Ok(copied)
}

fn copy_tree(source: &Path, out: &Path, rel: &Path, copied: &mut Vec<PathBuf>) -> Result<()> {
    let dir = source.join(rel);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io(&dir))?
        .collect::<std::io::Result<_>>()
        .map_err(io(&dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let rel = rel.join(&name);
        let path = entry.path();
        if path.is_dir() {
            std::fs::create_dir_all(out.join(&rel)).map_err(io(&out.join(&rel)))?;
            copy_tree(source, out, &rel, copied)?;
            continue;
        }
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let skip = rel == Path::new("config.json")
            || extension == "safetensors"
            || name == "model.safetensors.index.json"
            || OTHER_WEIGHTS.contains(&extension);
        if !skip {
            std::fs::copy(&path, out.join(&rel)).map_err(io(&path))?;
            copied.push(rel);
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::Config {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// The layer-count key `config` uses and its value.
fn layer_count(dir: &Path, config: &Value) -> Result<(&'static str, usize)> {
    LAYER_COUNT_KEYS
        .into_iter()
        .find_map(|key| Some((key, config.get(key)?.as_u64()? as usize)))
        .ok_or_else(|| {
            invalid(
                dir,
                format!(
                    "no layer count: expected key `{}` or `{}`",
                    LAYER_COUNT_KEYS[0], LAYER_COUNT_KEYS[1]
                ),
            )
        })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_split_at_the_layer_list() {
        assert_eq!(
            split_layer_name("model.layers.12.self_attn.q_proj.weight", "model.layers"),
            Some(("", 12, "self_attn.q_proj.weight"))
        );
        assert_eq!(
            split_layer_name("transformer.h.3.attn.c_attn.weight", "h"),
            Some(("transformer.", 3, "attn.c_attn.weight"))
        );
        assert_eq!(
            split_layer_name("bert.encoder.layer.0.output.dense.bias", "encoder.layer"),
            Some(("bert.", 0, "output.dense.bias"))
        );
        // Not a layer tensor: no index, a name that only ends like the list, the head.
        assert_eq!(
            split_layer_name("model.layers.norm.weight", "model.layers"),
            None
        );
        assert_eq!(split_layer_name("transformer.wh.3.x", "h"), None);
        assert_eq!(split_layer_name("lm_head.weight", "h"), None);
        assert_eq!(split_layer_name("model.norm.weight", "model.layers"), None);
    }

    #[test]
    fn per_layer_lists_follow_the_plan() {
        let config = serde_json::json!({
            "num_hidden_layers": 4,
            "layer_types": ["a0", "a1", "a2", "a3"],
            "torch_dtype": "float32",
        });
        let out = exported_config(
            Path::new("m"),
            config,
            "num_hidden_layers",
            &[0, 2, 2, 1, 3],
            Some(Kind::BFloat16),
        )
        .unwrap();
        assert_eq!(out["num_hidden_layers"], 5);
        assert_eq!(
            out["layer_types"],
            serde_json::json!(["a0", "a2", "a2", "a1", "a3"])
        );
        assert_eq!(out["torch_dtype"], "bfloat16");
        assert!(out.get("dtype").is_none());
        // Qwen2's window from max_window_layers on, made explicit before re-indexing; a
        // Qwen2-MoE's dense layers listed by index, mapped to the plan's positions.
        let mut qwen = serde_json::json!({
            "model_type": "qwen2_moe", "vocab_size": 8, "hidden_size": 4,
            "intermediate_size": 8, "num_hidden_layers": 3, "num_attention_heads": 1,
            "rms_norm_eps": 1e-6, "use_sliding_window": true, "max_window_layers": 2,
            "decoder_sparse_step": 2,
        });
        crate::families::Llama::explicit_layers(Path::new("m"), qwen.as_object_mut().unwrap())
            .unwrap();
        let out =
            exported_config(Path::new("m"), qwen, "num_hidden_layers", &[2, 0, 1], None).unwrap();
        assert_eq!(
            out["layer_types"],
            serde_json::json!(["sliding_attention", "full_attention", "full_attention"])
        );
        assert_eq!(out["mlp_only_layers"], serde_json::json!([0, 1]));
        assert_eq!(out["decoder_sparse_step"], 1);
        let bad = serde_json::json!({"num_hidden_layers": 3, "layer_types": ["a"]});
        let err =
            exported_config(Path::new("m"), bad, "num_hidden_layers", &[0], None).unwrap_err();
        assert!(
            err.to_string()
                .contains("key `layer_types` has 1 entries, expected one per layer (3)"),
            "{err}"
        );
    }
}
