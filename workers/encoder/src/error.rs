use std::path::PathBuf;

/// Why an encoder could not be loaded (or distilled). Every variant names the file at fault,
/// so a worker that cannot start says which file to reinstall.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("encoder model file {path} is missing (install the model with `make model` or infra/model.sh)")]
    Missing { path: PathBuf },

    #[error("encoder model file {path} cannot be read: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("encoder model file {path} has sha256 {actual}, expected {expected} (corrupt or a different model; reinstall with infra/model.sh)")]
    WrongHash {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("encoder model file {path} is not what the encoder expects: {reason}")]
    Invalid { path: PathBuf, reason: String },

    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A tensor operation failed on a model that loaded; not expected with the shapes checked.
    #[error("encoder inference failed: {0}")]
    Inference(String),
}

impl EncoderError {
    pub(crate) fn invalid(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        EncoderError::Invalid {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}
