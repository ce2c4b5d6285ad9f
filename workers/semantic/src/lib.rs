//! The learned detectors' loading path, shared by the detector worker, `handoff replay`,
//! `handoff eval` and `handoff train`, so they all score with the same encoder and heads.
//!
//! - The encoder: the static token embeddings distilled from all-MiniLM-L6-v2, from
//!   `HANDOFF_MODEL_DIR` (installed by `infra/model.sh`; by default the repository's
//!   `.run/models/all-minilm-l6-v2`). It runs on every contact turn (microseconds).
//! - The heads: `HANDOFF_HEADS` when set, else the `models/heads.json` compiled into the binary
//!   (written by `handoff train`), like the built-in policy.
//!
//! `HANDOFF_SEMANTIC=off` leaves the learned rules inert (the lexicon rules still run); anything
//! else that is wrong (no model, an unreadable or mismatched heads file, a head a rule needs
//! missing) fails at start, naming the file.

use handoff_core::semantic::{Heads, HeadsError, TextEncoder, DIM};
use handoff_core::Policy;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use handoff_encoder::{StaticEncoder, TransformerEncoder};

/// The heads `handoff train` wrote, compiled in.
pub const BUILTIN_HEADS: &str = include_str!("../../../models/heads.json");
/// Environment variable naming a heads file to use instead of the built-in one.
pub const HEADS_ENV: &str = "HANDOFF_HEADS";
/// Environment variable that switches the learned rules off (`off`).
pub const SEMANTIC_ENV: &str = "HANDOFF_SEMANTIC";

#[derive(Debug, thiserror::Error)]
pub enum SemanticError {
    #[error("sentence encoder: {0} (install it with `make model` / infra/model.sh, or set HANDOFF_SEMANTIC=off)")]
    Encoder(#[from] handoff_encoder::EncoderError),
    #[error(transparent)]
    Heads(#[from] HeadsError),
    #[error(transparent)]
    Policy(#[from] handoff_core::policy::PolicyError),
}

/// The model directory: `HANDOFF_MODEL_DIR`, else this repository's `.run/models/...`.
pub fn model_dir() -> PathBuf {
    handoff_encoder::model_dir_from_env().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.run/models/all-minilm-l6-v2")
    })
}

/// The static encoder the detector runs.
pub fn load_encoder() -> Result<Arc<StaticEncoder>, SemanticError> {
    Ok(Arc::new(StaticEncoder::load(&model_dir())?))
}

/// The heads: `HANDOFF_HEADS`, else the built-in ones; checked against the encoder.
pub fn load_heads(encoder: &dyn TextEncoder) -> Result<(Heads, String), SemanticError> {
    match std::env::var_os(HEADS_ENV).filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            let heads = Heads::load(&path, encoder.id(), DIM)?;
            Ok((heads, path.display().to_string()))
        }
        None => {
            let origin = "built-in models/heads.json";
            let heads = Heads::from_json(BUILTIN_HEADS, origin)?;
            if heads.encoder_id != encoder.id() {
                return Err(HeadsError::EncoderMismatch {
                    path: origin.into(),
                    trained_on: heads.encoder_id,
                    loaded: encoder.id().to_string(),
                }
                .into());
            }
            Ok((heads, origin.to_string()))
        }
    }
}

/// Whether the environment switched the learned rules off.
pub fn switched_off() -> bool {
    std::env::var(SEMANTIC_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("off"))
}

/// The policy with its learned rules on: the one call every command makes after loading it.
pub fn with_learned_detectors(policy: Policy) -> Result<Policy, SemanticError> {
    if switched_off() {
        return Ok(policy);
    }
    let encoder = load_encoder()?;
    let (heads, origin) = load_heads(encoder.as_ref())?;
    Ok(policy.with_semantic(encoder, heads, &origin)?)
}
