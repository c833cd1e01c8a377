//! The model's own tokenizer from `tokenizer.json`, with the default special-token
//! settings of `AutoTokenizer(text)`, and padding and truncation turned off (scoring
//! needs every token; some exports pad to 128 by default). Which special tokens `encode`
//! adds (a BOS for Llama-2 and Mistral) is up to tokenizer.json's post-processor, as in
//! transformers 5, which ignores tokenizer_config.json's `add_bos_token` when a
//! tokenizer.json exists; tokenizer_config.json only names the BOS and EOS tokens.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    bos: Option<i64>,
    eos: Option<i64>,
}

/// `tokenizer_config.json` names special tokens as strings or `{"content": ...}` objects.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum SpecialToken {
    Text(String),
    Added { content: String },
}

#[derive(serde::Deserialize, Default)]
struct TokenizerConfig {
    bos_token: Option<SpecialToken>,
    eos_token: Option<SpecialToken>,
}

impl Tokenizer {
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer.json");
        let mut inner = tokenizers::Tokenizer::from_file(&path).map_err(|e| Error::Tokenizer {
            path: path.clone(),
            message: e.to_string(),
        })?;
        inner.with_padding(None);
        inner.with_truncation(None).map_err(|e| Error::Tokenizer {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let config_path = dir.join("tokenizer_config.json");
        let config: TokenizerConfig = match std::fs::read_to_string(&config_path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::Tokenizer {
                path: config_path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => TokenizerConfig::default(),
            Err(source) => {
                return Err(Error::Io {
                    path: config_path,
                    source,
                });
            }
        };
        let id = |t: Option<SpecialToken>| {
            let content = match t? {
                SpecialToken::Text(s) | SpecialToken::Added { content: s } => s,
            };
            inner.token_to_id(&content).map(i64::from)
        };
        let (bos, eos) = (id(config.bos_token), id(config.eos_token));
        Ok(Self {
            inner,
            path,
            bos,
            eos,
        })
    }

    /// The beginning-of-sequence token from `tokenizer_config.json`, if any.
    pub fn bos_token_id(&self) -> Option<i64> {
        self.bos
    }

    /// The end-of-sequence token from `tokenizer_config.json`, if any.
    pub fn eos_token_id(&self) -> Option<i64> {
        self.eos
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
            .map_err(|e| Error::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        Ok(encoding.get_ids().iter().map(|&id| id as i64).collect())
    }

    /// The text of one token id, as `convert_ids_to_tokens` shows it.
    pub fn token(&self, id: i64) -> String {
        u32::try_from(id)
            .ok()
            .and_then(|id| self.inner.id_to_token(id))
            .unwrap_or_else(|| format!("<{id}>"))
    }

    /// Text of `ids`; `skip_special` drops special tokens such as end-of-sequence.
    pub fn decode(&self, ids: &[i64], skip_special: bool) -> Result<String> {
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        self.inner
            .decode(&ids, skip_special)
            .map_err(|e| Error::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })
    }

    /// Size of the vocabulary with added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
