//! The model directory's files and how they are read: every read names its file on failure.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::EncoderError;

/// Environment variable naming the model directory (`infra/env.sh` sets it).
pub const MODEL_DIR_ENV: &str = "HANDOFF_MODEL_DIR";

/// The model, as it appears in encoder ids.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// sha256 of the upstream sentence-transformers/all-MiniLM-L6-v2 `model.safetensors`.
pub const WEIGHTS_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

pub(crate) const WEIGHTS_FILE: &str = "model.safetensors";
pub(crate) const TOKENIZER_FILE: &str = "tokenizer.json";
pub(crate) const VOCAB_FILE: &str = "vocab.txt";
pub(crate) const CONFIG_FILE: &str = "config.json";

/// The first 8 hex digits of the weights' hash: enough to tell weights apart in ids and names.
pub(crate) fn weights_tag() -> &'static str {
    &WEIGHTS_SHA256[..8]
}

/// File name of the static embeddings distilled from these weights, e.g.
/// `static-53aa5117.safetensors`.
pub fn static_file_name() -> String {
    format!("static-{}.safetensors", weights_tag())
}

/// The model directory from `HANDOFF_MODEL_DIR`, if set and non-empty.
pub fn model_dir_from_env() -> Option<PathBuf> {
    std::env::var_os(MODEL_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The whole file, or an error that says whether it is missing or unreadable.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, EncoderError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => EncoderError::Missing {
            path: path.to_path_buf(),
        },
        _ => EncoderError::Unreadable {
            path: path.to_path_buf(),
            source,
        },
    })
}

pub(crate) fn read_text(path: &Path) -> Result<String, EncoderError> {
    String::from_utf8(read(path)?).map_err(|e| EncoderError::invalid(path, e))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The weights file's bytes, refused unless they are the upstream file.
pub(crate) fn read_weights(dir: &Path) -> Result<Vec<u8>, EncoderError> {
    let path = dir.join(WEIGHTS_FILE);
    let bytes = read(&path)?;
    let actual = sha256_hex(&bytes);
    if actual != WEIGHTS_SHA256 {
        return Err(EncoderError::WrongHash {
            path,
            expected: WEIGHTS_SHA256.to_string(),
            actual,
        });
    }
    Ok(bytes)
}
