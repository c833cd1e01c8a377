//! The model's own tokenizer from `tokenizer.json`, with the default special-token
//! settings of `AutoTokenizer(text)`, and padding and truncation turned off (scoring
//! needs every token; some exports pad to 128 by default).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
}

impl Tokenizer {
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        let mut inner = tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| Error::Tokenizer { path: path.clone(), message: e.to_string() })?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer { path: path.clone(), message: e.to_string() })?;
        Ok(Self { inner, path })
    }

    /// Token ids of `text`, special tokens added as the tokenizer's post-processor says.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        self.encode_with(text, true)
    }

    /// Token ids of `text` without special tokens (continuations, few-shot pieces).
    pub fn encode_plain(&self, text: &str) -> Result<Vec<i64>> {
        self.encode_with(text, false)
    }

    fn encode_with(&self, text: &str, special: bool) -> Result<Vec<i64>> {
        let encoding = self
            .inner
            .encode(text, special)
            .map_err(|e| Error::Tokenizer { path: self.path.clone(), message: e.to_string() })?;
        Ok(encoding.get_ids().iter().map(|&id| id as i64).collect())
    }

    /// The text of one token id, as `convert_ids_to_tokens` shows it.
    pub fn token(&self, id: i64) -> String {
        u32::try_from(id).ok().and_then(|id| self.inner.id_to_token(id)).unwrap_or_else(|| format!("<{id}>"))
    }

    pub fn decode(&self, ids: &[i64]) -> Result<String> {
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        self.inner.decode(&ids, false).map_err(|e| Error::Tokenizer { path: self.path.clone(), message: e.to_string() })
    }

    /// Size of the vocabulary with added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
