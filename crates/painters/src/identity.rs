//! What a checkpoint is, from its full contents: the digest that keys every stored result
//! of a model. Two checkpoints share an identity only if every file that changes a score
//! is byte-identical: the weights (every `*.safetensors` file, hashed whole), the config,
//! the tokenizer (`tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`)
//! and the generation settings (`generation_config.json`); plus the compute dtype and
//! any model setting the caller passes in (e.g. how a BOS token is added). A fine-tune, a
//! healed or re-quantised model, or a chat model with its base model's shapes therefore
//! never reuses the other's cells.
//!
//! Weights are hashed with BLAKE3 (memory-mapped, in parallel over rayon). A file's
//! digest is cached in `<cache>/digests/` under a key of its canonical path, size and
//! modification time, so a 14 GB checkpoint is read once; any change to the file moves
//! its size or mtime and so misses the cache.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};

/// Small files that change scores or generations, hashed when present.
const SETTINGS_FILES: [&str; 5] = [
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
];
/// Files a checkpoint cannot be scored without.
const REQUIRED_FILES: [&str; 2] = ["config.json", "tokenizer.json"];

/// The painters cache root: `$PAINTERS_CACHE`, else `$XDG_CACHE_HOME/painters`, else
/// `~/.cache/painters` (the same root `scripts/setup.sh` uses); `None` without a home.
pub fn cache_root() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("PAINTERS_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("painters")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/painters")))
}

/// The identity of the checkpoint in `dir` computed in `dtype` with `settings` (model
/// settings that change scores, in a fixed text form), as 16 hex digits. Weight digests
/// are cached under `cache` when given.
pub fn model_identity(
    dir: &Path,
    dtype: &str,
    settings: &str,
    cache: Option<&Path>,
) -> Result<String> {
    let mut h = blake3::Hasher::new();
    let mut field = |name: &str, value: &[u8]| {
        h.update(&(name.len() as u64).to_le_bytes())
            .update(name.as_bytes());
        h.update(&(value.len() as u64).to_le_bytes()).update(value);
    };
    field("dtype", dtype.as_bytes());
    field("settings", settings.as_bytes());
    for name in SETTINGS_FILES {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => field(name, &bytes),
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && !REQUIRED_FILES.contains(&name) => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    let mut weights: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading model dir {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    anyhow::ensure!(
        !weights.is_empty(),
        "{}: no *.safetensors weight files",
        dir.display()
    );
    weights.sort();
    for file in &weights {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        field(&name, file_digest(file, cache)?.as_bytes());
    }
    Ok(h.finalize().to_hex()[..16].to_string())
}

/// BLAKE3 of `file`'s whole contents (hex), from the cache when its path, size and mtime
/// are unchanged since it was hashed.
fn file_digest(file: &Path, cache: Option<&Path>) -> Result<String> {
    let context = || format!("hashing {}", file.display());
    let path = file.canonicalize().with_context(context)?;
    let meta = std::fs::metadata(&path).with_context(context)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let key =
        blake3::hash(format!("{}\n{}\n{mtime}", path.display(), meta.len()).as_bytes()).to_hex();
    let entry = cache.map(|c| c.join("digests").join(key.as_str()));
    if let Some(cached) = entry
        .as_ref()
        .and_then(|e| std::fs::read_to_string(e).ok())
        .filter(|d| d.len() == 64)
    {
        return Ok(cached);
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap_rayon(&path).with_context(context)?;
    let digest = hasher.finalize().to_hex().to_string();
    if let Some(entry) = entry {
        // A cache that cannot be written only costs a rehash next time.
        let _ = entry
            .parent()
            .map(std::fs::create_dir_all)
            .transpose()
            .ok()
            .and_then(|_| crate::atomic::write(&entry, digest.as_bytes()).ok());
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake checkpoint: config, tokenizer and one weight file of `weights` bytes.
    fn checkpoint(dir: &Path, weights: &[u8]) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("config.json"), b"{\"model_type\": \"llama\"}").unwrap();
        std::fs::write(dir.join("tokenizer.json"), b"{}").unwrap();
        std::fs::write(dir.join("model.safetensors"), weights).unwrap();
    }

    #[test]
    fn one_changed_weight_byte_changes_the_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let mut weights = vec![7u8; 3 << 20];
        checkpoint(&tmp.path().join("a"), &weights);
        weights[2 << 20] ^= 1;
        checkpoint(&tmp.path().join("b"), &weights);
        let id = |m: &str| model_identity(&tmp.path().join(m), "f32", "", None).unwrap();
        assert_ne!(id("a"), id("b"));
        assert_eq!(
            id("a"),
            model_identity(&tmp.path().join("a"), "f32", "", None).unwrap()
        );
        assert_ne!(
            id("a"),
            model_identity(&tmp.path().join("a"), "bf16", "", None).unwrap()
        );
        assert_ne!(
            id("a"),
            model_identity(&tmp.path().join("a"), "f32", "add_bos=never", None).unwrap()
        );
    }

    #[test]
    fn tokenizer_and_generation_settings_are_part_of_the_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m");
        checkpoint(&dir, b"weights");
        let before = model_identity(&dir, "f32", "", None).unwrap();
        std::fs::write(
            dir.join("tokenizer_config.json"),
            b"{\"add_bos_token\": true}",
        )
        .unwrap();
        let with_config = model_identity(&dir, "f32", "", None).unwrap();
        std::fs::write(dir.join("generation_config.json"), b"{\"eos_token_id\": 2}").unwrap();
        let with_generation = model_identity(&dir, "f32", "", None).unwrap();
        assert!(before != with_config && with_config != with_generation);
    }

    #[test]
    fn digests_are_cached_by_path_size_and_mtime() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, cache) = (tmp.path().join("m"), tmp.path().join("cache"));
        checkpoint(&dir, b"weights one");
        let first = model_identity(&dir, "f32", "", Some(&cache)).unwrap();
        let entries: Vec<_> = std::fs::read_dir(cache.join("digests")).unwrap().collect();
        assert_eq!(entries.len(), 1);
        // A cached digest is used as it is (poison it to see that it is read) ...
        let entry = entries[0].as_ref().unwrap().path();
        std::fs::write(&entry, "0".repeat(64)).unwrap();
        assert_ne!(
            model_identity(&dir, "f32", "", Some(&cache)).unwrap(),
            first
        );
        // ... and a rewritten file (new mtime) is hashed again.
        std::fs::write(dir.join("model.safetensors"), b"weights one").unwrap();
        let file = std::fs::File::options()
            .write(true)
            .open(dir.join("model.safetensors"))
            .unwrap();
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        assert_eq!(
            model_identity(&dir, "f32", "", Some(&cache)).unwrap(),
            first
        );
    }

    #[test]
    fn a_missing_tokenizer_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        checkpoint(tmp.path(), b"w");
        std::fs::remove_file(tmp.path().join("tokenizer.json")).unwrap();
        let e = format!(
            "{:#}",
            model_identity(tmp.path(), "f32", "", None).unwrap_err()
        );
        assert!(e.contains("tokenizer.json"), "{e}");
    }
}
