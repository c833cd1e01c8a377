//! Integration tests of eval-suite: prompts against lm-eval 0.4.13's own output
//! (`golden`, `reference`), few-shot selection, end-to-end scoring with a mock backend,
//! and malformed-data errors.

mod errors;
mod fewshot;
mod golden;
mod mock;
mod reference;
mod scoring;
mod yaml;

use std::path::PathBuf;

/// The benchmark data: `$PAINTERS_DATA`, else `../shared/data` beside the workspace root.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("PAINTERS_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}
