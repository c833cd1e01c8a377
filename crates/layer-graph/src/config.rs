//! Reading a Hugging Face `config.json` into a family's typed config, with errors that
//! name the file and the key path (`rope_parameters.rope_theta: invalid type ...`).

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses `dir/config.json` as `T`.
pub fn read_config<T: DeserializeOwned>(dir: &Path) -> Result<T> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let message = if key == "." {
            e.inner().to_string()
        } else {
            format!("key `{key}`: {}", e.inner())
        };
        Error::Config { path, message }
    })
}

/// Config sizes that must be positive to build tensor shapes from them.
pub fn check_positive(dir: &Path, sizes: &[(&str, i64)]) -> Result<()> {
    match sizes.iter().find(|(_, value)| *value <= 0) {
        None => Ok(()),
        Some((key, value)) => Err(Error::Config {
            path: dir.join("config.json"),
            message: format!("key `{key}` is {value}, expected a positive integer"),
        }),
    }
}

/// A config fact that does not hold, e.g. heads that do not divide the hidden size.
pub fn invalid(dir: &Path, message: String) -> Error {
    Error::Config {
        path: dir.join("config.json"),
        message,
    }
}
